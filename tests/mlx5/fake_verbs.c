/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A verbs-level fake of libibverbs + libmlx5 (fake_verbs.h): the functions
 * mlx5_verbs.c calls, behaving as rdma-core v44 and the kernel do as far as
 * that file can tell, over the device model's queues. Written from the
 * documented behaviour (man pages, the kernel's ib_modify_qp_is_ok() table,
 * rdma-core's mlx5 provider rules), not from their code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <infiniband/mlx5dv.h>
#include <infiniband/verbs.h>

#include "fake_verbs.h"
#include "mlx5_model.h"

/* The inline wrappers of verbs.h turn these names into macros. */
#undef ibv_query_port
#undef ibv_reg_mr
#undef ibv_reg_mr_iova

/* What rdma-core's mlx5 provider and the kernel report for a device. */
struct fake_profile_caps {
	const char *name;
	uint32_t vendor_part_id;
	int mlx5;
	int max_qp_wr;
	int max_sge;
	int max_cqe;
	int max_qp_rd_atom;
	int max_qp_init_rd_atom;
	uint32_t max_sq_desc_sz; /* rdma-core's ctx->max_sq_desc_sz */
	uint32_t max_send_wqebb; /* rdma-core's ctx->max_send_wqebb */
};

static const struct fake_profile_caps profiles[FAKE_PROFILES] = {
	[FAKE_CX5_PF] = { "mlx5_0", 4119, 1, 32768, 30, 4194303, 16, 16, 512, 32768 },
	[FAKE_CX6DX_VF] = { "mlx5_1", 4126, 1, 32768, 30, 4194303, 4, 4, 512, 32768 },
	[FAKE_CX7] = { "mlx5_2", 4129, 1, 32768, 30, 4194303, 16, 16, 512, 32768 },
	[FAKE_RXE] = { "rxe0", 0, 0, 16384, 32, 32767, 128, 128, 0, 0 },
};

#define GID_V4(last)                                                       \
	{                                                                  \
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, (last) \
	}
#define GID_LL                                                                \
	{                                                                     \
		0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0xff, 0xfe, 0, 0, 1 \
	}
#define GID_G6                                                             \
	{                                                                  \
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 \
	}

const struct fake_gid fake_default_gids[7] = {
	{ GID_LL, IBV_GID_TYPE_ROCE_V1 },    { GID_LL, IBV_GID_TYPE_ROCE_V2 },
	{ GID_V4(1), IBV_GID_TYPE_ROCE_V1 }, { GID_V4(1), IBV_GID_TYPE_ROCE_V2 },
	{ GID_G6, IBV_GID_TYPE_ROCE_V1 },    { GID_G6, IBV_GID_TYPE_ROCE_V2 },
	{ { 0 }, IBV_GID_TYPE_ROCE_V2 },
};

#define MAX_DEVS 4
#define MAX_OBJ	 1024

enum obj_kind { OBJ_CTX = 1, OBJ_PD, OBJ_PARENT, OBJ_TD, OBJ_CQ, OBJ_QP, OBJ_MR, OBJ_LIST };

struct fake_dev {
	struct ibv_device dev;
	struct fake_dev_conf conf;
};

struct fake_ctx {
	struct fake_dev *fd;
	struct verbs_context vctx; /* its context last, as rdma-core lays it out */
};

struct fake_pd {
	struct ibv_pd pd;
	struct ibv_td *td; /* parent domain's */
	struct ibv_pd *parent_of;
};

struct fake_cq {
	struct ibv_cq_ex ex; /* starts as a struct ibv_cq */
	void *model_cq;	     /* NULL: a plain CQ (no rings the driver reads) */
	struct tern_mlx5_cq_view view;
};

struct fake_qp {
	struct ibv_qp qp;
	void *model_qp;
	struct fake_cq *scq, *rcq;
	int has_sq;
	struct tern_mlx5_sq_view view;
	int has_rq; /* max_recv_wr > 0 on a CQ with rings: the model's RQ */
	struct tern_mlx5_rq_view rq;
};

struct fake_mr {
	struct ibv_mr mr;
	uint64_t pinned;
};

static struct {
	struct fake_dev devs[MAX_DEVS];
	unsigned int nb_devs;
	struct mlx5_model *model;
	int fail[FAKE_CALLS];
	int cap_ipc_lock;
	uint64_t pinned;
	struct {
		void *p;
		int kind;
		int refs;
	} obj[MAX_OBJ];
	struct ibv_qp_attr last[IBV_QPS_ERR + 1];
	int last_mask[IBV_QPS_ERR + 1];
	int last_valid[IBV_QPS_ERR + 1];
	struct ibv_qp_init_attr_ex last_create;
	uint32_t last_wqe_cnt;
} fv = { .cap_ipc_lock = -1 };

/* ---- bookkeeping ---- */

static void
obj_add(void *p, int kind)
{
	unsigned int i;

	for (i = 0; i < MAX_OBJ; i++)
		if (fv.obj[i].p == NULL) {
			fv.obj[i].p = p;
			fv.obj[i].kind = kind;
			fv.obj[i].refs = 0;
			return;
		}
	abort();
}

static int
obj_find(const void *p, int kind)
{
	unsigned int i;

	if (p == NULL)
		return -1;
	for (i = 0; i < MAX_OBJ; i++)
		if (fv.obj[i].p == p && (kind == 0 || fv.obj[i].kind == kind))
			return (int)i;
	return -1;
}

static void
obj_ref(const void *p, int delta)
{
	int i = obj_find(p, 0);

	if (i >= 0)
		fv.obj[i].refs += delta;
}

/* Release @p of @kind: EINVAL if unknown, EBUSY while something uses it. */
static int
obj_del(void *p, int kind)
{
	int i = obj_find(p, kind);

	if (i < 0)
		return EINVAL;
	if (fv.obj[i].refs != 0)
		return EBUSY;
	fv.obj[i].p = NULL;
	return 0;
}

static int
failing(enum fake_call c)
{
	int err = fv.fail[c];

	fv.fail[c] = 0;
	if (err != 0)
		errno = err;
	return err;
}

void
fake_verbs_fail(enum fake_call call, int err)
{
	fv.fail[call] = err;
}

void
fake_verbs_set_cap_ipc_lock(int has)
{
	fv.cap_ipc_lock = has;
}

unsigned int
fake_verbs_live(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < MAX_OBJ; i++)
		n += fv.obj[i].p != NULL;
	return n;
}

uint64_t
fake_verbs_pinned(void)
{
	return fv.pinned;
}

int
fake_verbs_last_modify(enum ibv_qp_state state, struct ibv_qp_attr *attr, int *mask)
{
	if ((unsigned int)state > IBV_QPS_ERR || !fv.last_valid[state])
		return -ENOENT;
	*attr = fv.last[state];
	*mask = fv.last_mask[state];
	return 0;
}

void
fake_verbs_last_create(struct ibv_qp_init_attr_ex *attr, uint32_t *sq_wqe_cnt)
{
	*attr = fv.last_create;
	*sq_wqe_cnt = fv.last_wqe_cnt;
}

int
fake_verbs_qp_state(const struct ibv_qp *qp)
{
	return obj_find(qp, OBJ_QP) < 0 ? -1 : (int)qp->state;
}

void
fake_verbs_reset(const struct fake_dev_conf *devs, unsigned int nb, struct mlx5_model *model)
{
	static const struct fake_dev_conf one = { .profile = FAKE_CX5_PF,
						  .port_active = 1,
						  .link_layer = IBV_LINK_LAYER_ETHERNET };
	unsigned int i;

	memset(fv.devs, 0, sizeof(fv.devs));
	memset(fv.fail, 0, sizeof(fv.fail));
	memset(fv.obj, 0, sizeof(fv.obj));
	memset(fv.last_valid, 0, sizeof(fv.last_valid));
	fv.pinned = 0;
	fv.cap_ipc_lock = -1;
	fv.model = model;
	if (devs == NULL) {
		devs = &one;
		nb = 1;
	}
	fv.nb_devs = nb < MAX_DEVS ? nb : MAX_DEVS;
	for (i = 0; i < fv.nb_devs; i++) {
		struct fake_dev *d = &fv.devs[i];

		d->conf = devs[i];
		if (d->conf.gids == NULL) {
			d->conf.gids = fake_default_gids;
			d->conf.nb_gids = 7;
		}
		snprintf(d->dev.name, sizeof(d->dev.name), "%s", profiles[d->conf.profile].name);
		snprintf(d->dev.dev_name, sizeof(d->dev.dev_name), "uverbs%u", i);
		d->dev.node_type = IBV_NODE_CA;
		d->dev.transport_type = IBV_TRANSPORT_IB;
	}
	if (model != NULL)
		mlx5_model_set_sq_exact(model, 1);
}

static struct fake_ctx *
ctx_of(struct ibv_context *c)
{
	if (c == NULL)
		return NULL;
	return (struct fake_ctx *)((uint8_t *)c - offsetof(struct fake_ctx, vctx.context));
}

static const struct fake_profile_caps *
caps_of(struct ibv_context *c)
{
	return &profiles[ctx_of(c)->fd->conf.profile];
}

/* ---- devices ---- */

struct ibv_device **
ibv_get_device_list(int *num_devices)
{
	struct ibv_device **list;
	unsigned int i;

	if (failing(FAKE_GET_DEVICE_LIST))
		return NULL;
	list = calloc(fv.nb_devs + 1, sizeof(*list));
	if (list == NULL)
		return NULL;
	for (i = 0; i < fv.nb_devs; i++)
		list[i] = &fv.devs[i].dev;
	if (num_devices != NULL)
		*num_devices = (int)fv.nb_devs;
	obj_add(list, OBJ_LIST);
	return list;
}

void
ibv_free_device_list(struct ibv_device **list)
{
	obj_del(list, OBJ_LIST);
	free(list);
}

const char *
ibv_get_device_name(struct ibv_device *device)
{
	return device->name;
}

bool
mlx5dv_is_supported(struct ibv_device *device)
{
	return profiles[((struct fake_dev *)device)->conf.profile].mlx5;
}

static int fake_query_port(struct ibv_context *context, uint8_t port_num,
			   struct ibv_port_attr *port_attr, size_t port_attr_len);
static struct ibv_td *fake_alloc_td(struct ibv_context *context,
				    struct ibv_td_init_attr *init_attr);
static int fake_dealloc_td(struct ibv_td *td);
static struct ibv_pd *fake_alloc_parent_domain(struct ibv_context *context,
					       struct ibv_parent_domain_init_attr *attr);

struct ibv_context *
ibv_open_device(struct ibv_device *device)
{
	struct fake_ctx *c;

	if (failing(FAKE_OPEN_DEVICE))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->fd = (struct fake_dev *)device;
	c->vctx.sz = sizeof(c->vctx);
	c->vctx.query_port = fake_query_port;
	c->vctx.alloc_td = fake_alloc_td;
	c->vctx.dealloc_td = fake_dealloc_td;
	c->vctx.alloc_parent_domain = fake_alloc_parent_domain;
	c->vctx.context.device = device;
	c->vctx.context.abi_compat = __VERBS_ABI_IS_EXTENDED;
	obj_add(&c->vctx.context, OBJ_CTX);
	return &c->vctx.context;
}

int
ibv_close_device(struct ibv_context *context)
{
	int rc = obj_del(context, OBJ_CTX);

	if (rc != 0)
		return -1;
	free(ctx_of(context));
	return 0;
}

int
ibv_query_device(struct ibv_context *context, struct ibv_device_attr *a)
{
	const struct fake_profile_caps *p;

	if (obj_find(context, OBJ_CTX) < 0)
		return EINVAL;
	if (failing(FAKE_QUERY_DEVICE))
		return errno;
	p = caps_of(context);
	memset(a, 0, sizeof(*a));
	snprintf(a->fw_ver, sizeof(a->fw_ver), "16.35.2000");
	a->vendor_id = 0x02c9;
	a->vendor_part_id = p->vendor_part_id;
	a->max_mr_size = UINT64_MAX;
	a->max_qp = 1 << 18;
	a->max_qp_wr = p->max_qp_wr;
	a->max_sge = p->max_sge;
	a->max_cq = 1 << 24;
	a->max_cqe = p->max_cqe;
	a->max_mr = 1 << 24;
	a->max_pd = 1 << 24;
	a->max_qp_rd_atom = p->max_qp_rd_atom;
	a->max_qp_init_rd_atom = p->max_qp_init_rd_atom;
	a->max_res_rd_atom = p->max_qp_rd_atom << 16;
	a->phys_port_cnt = 1;
	return 0;
}

static int
fake_query_port(struct ibv_context *context, uint8_t port_num, struct ibv_port_attr *pa, size_t len)
{
	const struct fake_dev *d = ctx_of(context)->fd;

	if (failing(FAKE_QUERY_PORT))
		return errno;
	if (port_num != 1)
		return EINVAL;
	memset(pa, 0, len < sizeof(*pa) ? len : sizeof(*pa));
	pa->state = d->conf.port_active ? IBV_PORT_ACTIVE : IBV_PORT_DOWN;
	pa->max_mtu = IBV_MTU_4096;
	pa->active_mtu =
		d->conf.link_layer == IBV_LINK_LAYER_ETHERNET ? IBV_MTU_1024 : IBV_MTU_4096;
	pa->gid_tbl_len = (int)d->conf.nb_gids;
	pa->pkey_tbl_len = 128;
	pa->link_layer = d->conf.link_layer;
	pa->lid = d->conf.link_layer == IBV_LINK_LAYER_INFINIBAND ? 7 : 0;
	pa->port_cap_flags = 0;
	return 0;
}

int
ibv_query_port(struct ibv_context *context, uint8_t port_num, struct _compat_ibv_port_attr *pa)
{
	return fake_query_port(context, port_num, (struct ibv_port_attr *)pa,
			       sizeof(struct ibv_port_attr));
}

static const struct fake_gid *
gid_at(struct ibv_context *context, uint32_t port, uint32_t index)
{
	static const uint8_t zero[16];
	const struct fake_dev *d = ctx_of(context)->fd;

	if (port != 1 || index >= d->conf.nb_gids || memcmp(d->conf.gids[index].raw, zero, 16) == 0)
		return NULL;
	return &d->conf.gids[index];
}

int
_ibv_query_gid_ex(struct ibv_context *context, uint32_t port_num, uint32_t gid_index,
		  struct ibv_gid_entry *entry, uint32_t flags, size_t entry_size)
{
	const struct fake_gid *g;

	if (flags != 0 || entry_size < sizeof(*entry))
		return EINVAL;
	if (failing(FAKE_QUERY_GID))
		return errno;
	g = gid_at(context, port_num, gid_index);
	if (g == NULL)
		return ENODATA; /* an empty entry, as the kernel says */
	memset(entry, 0, sizeof(*entry));
	memcpy(entry->gid.raw, g->raw, 16);
	entry->gid_index = gid_index;
	entry->port_num = port_num;
	entry->gid_type = ctx_of(context)->fd->conf.link_layer == IBV_LINK_LAYER_INFINIBAND
				  ? IBV_GID_TYPE_IB
				  : g->gid_type;
	entry->ndev_ifindex = 3;
	return 0;
}

int
ibv_query_gid(struct ibv_context *context, uint8_t port_num, int index, union ibv_gid *gid)
{
	const struct fake_gid *g;

	if (failing(FAKE_QUERY_GID))
		return -1;
	g = index < 0 ? NULL : gid_at(context, port_num, (uint32_t)index);
	if (g == NULL) {
		memset(gid, 0, sizeof(*gid));
		return index < 0 || index >= (int)ctx_of(context)->fd->conf.nb_gids ? -1 : 0;
	}
	memcpy(gid->raw, g->raw, 16);
	return 0;
}

/* ---- protection and thread domains ---- */

struct ibv_pd *
ibv_alloc_pd(struct ibv_context *context)
{
	struct fake_pd *p;

	if (failing(FAKE_ALLOC_PD))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->pd.context = context;
	p->pd.handle = 1;
	obj_add(p, OBJ_PD);
	obj_ref(context, 1);
	return &p->pd;
}

int
ibv_dealloc_pd(struct ibv_pd *pd)
{
	struct fake_pd *p = (struct fake_pd *)pd;
	int kind = obj_find(pd, OBJ_PARENT) >= 0 ? OBJ_PARENT : OBJ_PD;
	int rc = obj_del(pd, kind);

	if (rc != 0)
		return rc;
	if (kind == OBJ_PARENT) {
		obj_ref(p->parent_of, -1);
		if (p->td != NULL)
			obj_ref(p->td, -1);
	} else {
		obj_ref(pd->context, -1);
	}
	free(p);
	return 0;
}

static struct ibv_td *
fake_alloc_td(struct ibv_context *context, struct ibv_td_init_attr *init_attr)
{
	struct ibv_td *td;

	if (init_attr == NULL || init_attr->comp_mask != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (failing(FAKE_ALLOC_TD))
		return NULL;
	td = calloc(1, sizeof(*td));
	if (td == NULL)
		return NULL;
	td->context = context;
	obj_add(td, OBJ_TD);
	obj_ref(context, 1);
	return td;
}

static int
fake_dealloc_td(struct ibv_td *td)
{
	int rc = obj_del(td, OBJ_TD);

	if (rc != 0)
		return rc;
	obj_ref(td->context, -1);
	free(td);
	return 0;
}

static struct ibv_pd *
fake_alloc_parent_domain(struct ibv_context *context, struct ibv_parent_domain_init_attr *attr)
{
	struct fake_pd *p;

	if (attr == NULL || obj_find(attr->pd, OBJ_PD) < 0 ||
	    (attr->td != NULL && obj_find(attr->td, OBJ_TD) < 0) ||
	    (attr->comp_mask & ~(uint32_t)(IBV_PARENT_DOMAIN_INIT_ATTR_ALLOCATORS |
					   IBV_PARENT_DOMAIN_INIT_ATTR_PD_CONTEXT)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (failing(FAKE_ALLOC_PARENT_DOMAIN))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->pd.context = context;
	p->td = attr->td;
	p->parent_of = attr->pd;
	obj_add(p, OBJ_PARENT);
	obj_ref(attr->pd, 1);
	if (attr->td != NULL)
		obj_ref(attr->td, 1);
	return &p->pd;
}

/* ---- completion queues ---- */

static uint32_t
pow2_up(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

struct ibv_cq *
ibv_create_cq(struct ibv_context *context, int cqe, void *cq_context,
	      struct ibv_comp_channel *channel, int comp_vector)
{
	struct fake_cq *c;

	(void)channel;
	(void)comp_vector;
	if (cqe < 1 || cqe > caps_of(context)->max_cqe) {
		errno = EINVAL;
		return NULL;
	}
	if (failing(FAKE_CREATE_CQ))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->ex.context = context;
	c->ex.cq_context = cq_context;
	c->ex.cqe = (int)pow2_up((uint32_t)cqe + 1) - 1;
	obj_add(c, OBJ_CQ);
	obj_ref(context, 1);
	return (struct ibv_cq *)&c->ex;
}

struct ibv_cq_ex *
mlx5dv_create_cq(struct ibv_context *context, struct ibv_cq_init_attr_ex *cq_attr,
		 struct mlx5dv_cq_init_attr *mlx5_cq_attr)
{
	struct fake_cq *c;
	uint32_t ncqe;
	int rc;

	if (cq_attr == NULL || cq_attr->cqe < 1 || (int)cq_attr->cqe > caps_of(context)->max_cqe ||
	    (cq_attr->comp_mask &
	     ~(uint32_t)(IBV_CQ_INIT_ATTR_MASK_FLAGS | IBV_CQ_INIT_ATTR_MASK_PD)) != 0 ||
	    ((cq_attr->comp_mask & IBV_CQ_INIT_ATTR_MASK_PD) &&
	     obj_find(cq_attr->parent_domain, OBJ_PARENT) < 0)) {
		errno = EINVAL;
		return NULL;
	}
	if (mlx5_cq_attr != NULL &&
	    ((mlx5_cq_attr->comp_mask &
	      ~(uint64_t)(MLX5DV_CQ_INIT_ATTR_MASK_COMPRESSED_CQE | MLX5DV_CQ_INIT_ATTR_MASK_FLAGS |
			  MLX5DV_CQ_INIT_ATTR_MASK_CQE_SIZE)) != 0 ||
	     ((mlx5_cq_attr->comp_mask & MLX5DV_CQ_INIT_ATTR_MASK_CQE_SIZE) &&
	      mlx5_cq_attr->cqe_size != 64 && mlx5_cq_attr->cqe_size != 128))) {
		errno = EINVAL;
		return NULL;
	}
	if (mlx5_cq_attr != NULL && (mlx5_cq_attr->comp_mask & MLX5DV_CQ_INIT_ATTR_MASK_CQE_SIZE) &&
	    mlx5_cq_attr->cqe_size == 128) {
		errno = EOPNOTSUPP; /* the model writes 64-byte CQEs only */
		return NULL;
	}
	if (failing(FAKE_DV_CREATE_CQ))
		return NULL;
	if (fv.model == NULL) {
		errno = ENODEV;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	/* rdma-core: one more than asked, rounded up to a power of two. */
	ncqe = pow2_up(cq_attr->cqe + 1);
	rc = mlx5_model_provider.cq_open(fv.model, 0, ncqe, &c->view, &c->model_cq);
	if (rc != 0) {
		free(c);
		errno = -rc;
		return NULL;
	}
	c->ex.context = context;
	c->ex.cqe = (int)ncqe - 1;
	obj_add(c, OBJ_CQ);
	obj_ref(context, 1);
	if (cq_attr->comp_mask & IBV_CQ_INIT_ATTR_MASK_PD)
		obj_ref(cq_attr->parent_domain, 1);
	c->ex.cq_context =
		(cq_attr->comp_mask & IBV_CQ_INIT_ATTR_MASK_PD) ? cq_attr->parent_domain : NULL;
	return &c->ex;
}

int
ibv_destroy_cq(struct ibv_cq *cq)
{
	struct fake_cq *c = (struct fake_cq *)cq;
	int rc = obj_del(c, OBJ_CQ);

	if (rc != 0)
		return rc;
	if (c->model_cq != NULL)
		mlx5_model_provider.cq_close(fv.model, c->model_cq);
	if (c->model_cq != NULL && c->ex.cq_context != NULL)
		obj_ref(c->ex.cq_context, -1);
	obj_ref(cq->context, -1);
	free(c);
	return 0;
}

/* ---- queue pairs ---- */

#define RC_SEND_OPS                                                                             \
	(IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM | IBV_QP_EX_WITH_SEND | \
	 IBV_QP_EX_WITH_SEND_WITH_IMM | IBV_QP_EX_WITH_RDMA_READ |                              \
	 IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP | IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD |              \
	 IBV_QP_EX_WITH_LOCAL_INV | IBV_QP_EX_WITH_BIND_MW | IBV_QP_EX_WITH_SEND_WITH_INV)

struct ibv_qp *
mlx5dv_create_qp(struct ibv_context *context, struct ibv_qp_init_attr_ex *attr,
		 struct mlx5dv_qp_init_attr *dv)
{
	const struct fake_profile_caps *p = caps_of(context);
	struct tern_mlx5_conn_params local;
	struct fake_qp *q;
	struct fake_cq *scq, *rcq;
	uint32_t wqe_cnt = 0, inl = 0;
	int rc;

	errno = EINVAL;
	if (attr == NULL || !(attr->comp_mask & IBV_QP_INIT_ATTR_PD) ||
	    (attr->comp_mask & ~(uint32_t)(IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS |
					   IBV_QP_INIT_ATTR_CREATE_FLAGS)) != 0)
		return NULL;
	if (obj_find(attr->pd, OBJ_PD) < 0 && obj_find(attr->pd, OBJ_PARENT) < 0)
		return NULL;
	scq = (struct fake_cq *)attr->send_cq;
	rcq = (struct fake_cq *)attr->recv_cq;
	if (obj_find(scq, OBJ_CQ) < 0 || obj_find(rcq, OBJ_CQ) < 0 || attr->srq != NULL)
		return NULL;
	if (attr->cap.max_send_wr > (uint32_t)p->max_qp_wr ||
	    attr->cap.max_recv_wr > (uint32_t)p->max_qp_wr ||
	    attr->cap.max_send_sge > (uint32_t)p->max_sge ||
	    attr->cap.max_recv_sge > (uint32_t)p->max_sge)
		return NULL;
	if (dv != NULL &&
	    ((dv->comp_mask & ~(uint64_t)MLX5DV_QP_INIT_ATTR_MASK_QP_CREATE_FLAGS) != 0 ||
	     (dv->create_flags & ~(uint32_t)(MLX5DV_QP_CREATE_DISABLE_SCATTER_TO_CQE |
					     MLX5DV_QP_CREATE_ALLOW_SCATTER_TO_CQE)) != 0))
		return NULL;
	if (attr->qp_type != IBV_QPT_RC) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if ((attr->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS) &&
	    (attr->send_ops_flags & ~(uint64_t)RC_SEND_OPS) != 0) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	rc = mlx5_model_sq_size(attr, p->max_sq_desc_sz, p->max_send_wqebb, &wqe_cnt, &inl);
	if (rc != 0)
		return NULL; /* errno EINVAL, as rdma-core */
	if (failing(FAKE_DV_CREATE_QP))
		return NULL;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->has_sq = scq->model_cq != NULL && wqe_cnt != 0;
	q->view.max_inline = inl;
	/* rdma-core makes an RQ of max_recv_wr rounded up to a power of two,
	 * 16 bytes per scatter entry; a QP on the model receives only on a CQ
	 * with rings. */
	q->has_rq = attr->cap.max_recv_wr != 0 && rcq->model_cq != NULL;
	if (q->has_rq)
		rc = mlx5_model_provider.qp_create_rq(
			fv.model, q->has_sq ? scq->model_cq : NULL, rcq->model_cq, wqe_cnt,
			&q->view, attr->cap.max_recv_wr, &q->rq, &local, &q->model_qp);
	else
		rc = mlx5_model_provider.qp_create(fv.model, q->has_sq ? scq->model_cq : NULL,
						   wqe_cnt, &q->view, &local, &q->model_qp);
	if (rc != 0) {
		free(q);
		errno = -rc;
		return NULL;
	}
	/* rdma-core writes back what the WQE size holds, and the RQ it made. */
	attr->cap.max_inline_data = inl;
	if (q->has_rq)
		attr->cap.max_recv_wr = q->rq.wqe_cnt;
	q->scq = scq;
	q->rcq = rcq;
	q->qp.context = context;
	q->qp.pd = attr->pd;
	q->qp.send_cq = attr->send_cq;
	q->qp.recv_cq = attr->recv_cq;
	q->qp.qp_num = local.qpn;
	q->qp.qp_type = IBV_QPT_RC;
	q->qp.state = IBV_QPS_RESET;
	obj_add(q, OBJ_QP);
	obj_ref(attr->pd, 1);
	obj_ref(scq, 1);
	obj_ref(rcq, 1);
	fv.last_create = *attr;
	fv.last_wqe_cnt = wqe_cnt;
	return &q->qp;
}

int
ibv_destroy_qp(struct ibv_qp *qp)
{
	struct fake_qp *q = (struct fake_qp *)qp;
	int rc = obj_del(q, OBJ_QP);

	if (rc != 0)
		return rc;
	mlx5_model_provider.qp_close(fv.model, q->model_qp);
	obj_ref(qp->pd, -1);
	obj_ref(q->scq, -1);
	obj_ref(q->rcq, -1);
	free(q);
	return 0;
}

/* The kernel's table (ib_modify_qp_is_ok(), RC): what a transition needs and
 * what it may carry besides. */
struct transition {
	enum ibv_qp_state from, to;
	int required, optional;
	enum fake_call call;
};

#define ANY_STATE ((enum ibv_qp_state) - 1)

static const struct transition transitions[] = {
	{ ANY_STATE, IBV_QPS_RESET, IBV_QP_STATE, 0, FAKE_MODIFY_QP_RESET },
	{ ANY_STATE, IBV_QPS_ERR, IBV_QP_STATE, 0, FAKE_MODIFY_QP_ERR },
	{ IBV_QPS_RESET, IBV_QPS_INIT,
	  IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS, 0,
	  FAKE_MODIFY_QP_INIT },
	{ IBV_QPS_INIT, IBV_QPS_INIT, IBV_QP_STATE,
	  IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS, FAKE_MODIFY_QP_INIT },
	{ IBV_QPS_INIT, IBV_QPS_RTR,
	  IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
		  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER,
	  IBV_QP_ALT_PATH | IBV_QP_ACCESS_FLAGS | IBV_QP_PKEY_INDEX, FAKE_MODIFY_QP_RTR },
	{ IBV_QPS_RTR, IBV_QPS_RTS,
	  IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
		  IBV_QP_MAX_QP_RD_ATOMIC,
	  IBV_QP_CUR_STATE | IBV_QP_ALT_PATH | IBV_QP_ACCESS_FLAGS | IBV_QP_MIN_RNR_TIMER |
		  IBV_QP_PATH_MIG_STATE,
	  FAKE_MODIFY_QP_RTS },
};

/* The values a transition carries, against the device and port. */
static int
check_values(struct fake_qp *q, const struct ibv_qp_attr *a, int mask)
{
	const struct fake_profile_caps *p = caps_of(q->qp.context);
	const struct fake_dev *d = ctx_of(q->qp.context)->fd;

	if ((mask & IBV_QP_PORT) && a->port_num != 1)
		return EINVAL;
	if ((mask & IBV_QP_PKEY_INDEX) && a->pkey_index >= 128)
		return EINVAL;
	if ((mask & IBV_QP_ACCESS_FLAGS) &&
	    (a->qp_access_flags & ~(unsigned int)(IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
						  IBV_ACCESS_REMOTE_ATOMIC)) != 0)
		return EINVAL;
	if ((mask & IBV_QP_PATH_MTU) && (a->path_mtu < IBV_MTU_256 || a->path_mtu > IBV_MTU_4096))
		return EINVAL;
	if ((mask & IBV_QP_DEST_QPN) && a->dest_qp_num > 0xffffff)
		return EINVAL;
	if ((mask & IBV_QP_RQ_PSN) && a->rq_psn > 0xffffff)
		return EINVAL;
	if ((mask & IBV_QP_SQ_PSN) && a->sq_psn > 0xffffff)
		return EINVAL;
	if ((mask & IBV_QP_MAX_DEST_RD_ATOMIC) && a->max_dest_rd_atomic > p->max_qp_rd_atom)
		return EINVAL;
	if ((mask & IBV_QP_MAX_QP_RD_ATOMIC) && a->max_rd_atomic > p->max_qp_init_rd_atom)
		return EINVAL;
	if ((mask & IBV_QP_TIMEOUT) && a->timeout > 31)
		return EINVAL;
	if ((mask & IBV_QP_RETRY_CNT) && a->retry_cnt > 7)
		return EINVAL;
	if ((mask & IBV_QP_RNR_RETRY) && a->rnr_retry > 7)
		return EINVAL;
	if ((mask & IBV_QP_MIN_RNR_TIMER) && a->min_rnr_timer > 31)
		return EINVAL;
	if (mask & IBV_QP_AV) {
		const struct ibv_ah_attr *ah = &a->ah_attr;

		if (ah->port_num != 1 || ah->sl > 15)
			return EINVAL;
		if (d->conf.link_layer == IBV_LINK_LAYER_ETHERNET) {
			/* RoCE: every packet carries a GRH from a valid source GID. */
			if (!ah->is_global || gid_at(q->qp.context, 1, ah->grh.sgid_index) == NULL)
				return EINVAL;
		} else if (ah->dlid == 0) {
			return EINVAL;
		}
	}
	return 0;
}

/* Drive the model QP as the transition would drive the device. */
static int
model_transition(struct fake_qp *q, enum ibv_qp_state to, const struct ibv_qp_attr *a)
{
	struct tern_mlx5_conn_params p;
	unsigned int i;

	switch (to) {
	case IBV_QPS_RESET:
		return -mlx5_model_provider.qp_reset(fv.model, q->model_qp, &p);
	case IBV_QPS_RTR:
		memset(&p, 0, sizeof(p));
		p.qpn = a->dest_qp_num;
		p.psn = a->rq_psn;
		p.mtu = (uint8_t)a->path_mtu;
		p.lid = a->ah_attr.is_global ? 0 : a->ah_attr.dlid;
		memcpy(p.gid, a->ah_attr.grh.dgid.raw, 16);
		/* Every GID of this port is this node: the model's node 0. */
		for (i = 0; i < ctx_of(q->qp.context)->fd->conf.nb_gids; i++)
			if (gid_at(q->qp.context, 1, i) != NULL &&
			    memcmp(gid_at(q->qp.context, 1, i)->raw, p.gid, 16) == 0)
				mlx5_model_gid(0, p.gid);
		return -mlx5_model_provider.qp_connect(fv.model, q->model_qp, &p);
	case IBV_QPS_RTS:
		mlx5_model_qp_set_sq_psn(q->model_qp, a->sq_psn);
		return 0;
	case IBV_QPS_ERR:
		return -mlx5_model_provider.qp_flush(fv.model, q->model_qp);
	default:
		return 0;
	}
}

int
ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int attr_mask)
{
	struct fake_qp *q = (struct fake_qp *)qp;
	const struct transition *t = NULL;
	enum ibv_qp_state to;
	unsigned int i;
	int rc;

	if (obj_find(q, OBJ_QP) < 0 || attr == NULL || !(attr_mask & IBV_QP_STATE))
		return EINVAL;
	to = attr->qp_state;
	for (i = 0; i < sizeof(transitions) / sizeof(transitions[0]) && t == NULL; i++)
		if (transitions[i].to == to &&
		    (transitions[i].from == ANY_STATE || transitions[i].from == qp->state))
			t = &transitions[i];
	if (t == NULL)
		return EINVAL; /* no such transition (RESET -> RTR, ...) */
	if ((attr_mask & t->required) != t->required ||
	    (attr_mask & ~(t->required | t->optional)) != 0)
		return EINVAL; /* a required attribute missing, or one not allowed */
	rc = check_values(q, attr, attr_mask);
	if (rc != 0)
		return rc;
	if (failing(t->call))
		return errno;
	rc = model_transition(q, to, attr);
	if (rc != 0)
		return rc;
	qp->state = to;
	fv.last[to] = *attr;
	fv.last_mask[to] = attr_mask;
	fv.last_valid[to] = 1;
	return 0;
}

/* ---- direct access ---- */

int
mlx5dv_init_obj(struct mlx5dv_obj *obj, uint64_t obj_type)
{
	if (obj == NULL || (obj_type & ~(uint64_t)(MLX5DV_OBJ_CQ | MLX5DV_OBJ_QP)) != 0)
		return EINVAL;
	if (obj_type & MLX5DV_OBJ_CQ) {
		struct fake_cq *c = (struct fake_cq *)obj->cq.in;

		if (obj_find(c, OBJ_CQ) < 0 || c->model_cq == NULL)
			return EINVAL;
		if (failing(FAKE_INIT_OBJ_CQ))
			return errno;
		memset(obj->cq.out, 0, sizeof(*obj->cq.out));
		obj->cq.out->buf = c->view.buf;
		obj->cq.out->dbrec = (__be32 *)(uintptr_t)c->view.dbrec;
		obj->cq.out->cqe_cnt = c->view.cqe_cnt;
		obj->cq.out->cqe_size = c->view.cqe_size;
	}
	if (obj_type & MLX5DV_OBJ_QP) {
		struct fake_qp *q = (struct fake_qp *)obj->qp.in;

		if (obj_find(q, OBJ_QP) < 0)
			return EINVAL;
		if (failing(FAKE_INIT_OBJ_QP))
			return errno;
		memset(obj->qp.out, 0, sizeof(*obj->qp.out));
		if (q->has_sq) {
			/* The model hands the send record, [1] of the pair. */
			obj->qp.out->dbrec = (__be32 *)(uintptr_t)(q->view.dbrec - 1);
			obj->qp.out->sq.buf = q->view.buf;
			obj->qp.out->sq.wqe_cnt = q->view.wqe_cnt;
			obj->qp.out->sq.stride = q->view.stride;
			obj->qp.out->bf.reg = q->view.bf_reg;
			obj->qp.out->bf.size = q->view.bf_size;
		}
		if (q->has_rq) {
			/* The receive record is [0] of the pair. */
			obj->qp.out->dbrec = (__be32 *)(uintptr_t)q->rq.dbrec;
			obj->qp.out->rq.buf = q->rq.buf;
			obj->qp.out->rq.wqe_cnt = q->rq.wqe_cnt;
			obj->qp.out->rq.stride = q->rq.stride;
		}
	}
	return 0;
}

/* ---- memory regions ---- */

static int
has_cap_ipc_lock(void)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f;

	if (fv.cap_ipc_lock >= 0)
		return fv.cap_ipc_lock;
	f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> 14) & 1; /* CAP_IPC_LOCK */
}

struct ibv_mr *
ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
	const int known = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			  IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC |
			  IBV_ACCESS_RELAXED_ORDERING;
	struct rlimit rl;
	struct fake_mr *m;
	uint32_t maccess = 0, key;

	errno = EINVAL;
	if (obj_find(pd, OBJ_PD) < 0 || length == 0 || (access & ~known) != 0)
		return NULL;
	/* The kernel: remote write or atomic access needs local write. */
	if ((access & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC)) &&
	    !(access & IBV_ACCESS_LOCAL_WRITE))
		return NULL;
	if (failing(FAKE_REG_MR))
		return NULL;
	/* Pinned pages count against RLIMIT_MEMLOCK unless CAP_IPC_LOCK. */
	if (!has_cap_ipc_lock() && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && fv.pinned + length > rl.rlim_cur) {
		errno = ENOMEM;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	if (access & IBV_ACCESS_LOCAL_WRITE)
		maccess |= MODEL_ACCESS_LOCAL_WRITE;
	if (access & IBV_ACCESS_REMOTE_WRITE)
		maccess |= MODEL_ACCESS_REMOTE_WRITE;
	if (access & IBV_ACCESS_REMOTE_READ)
		maccess |= MODEL_ACCESS_REMOTE_READ;
	key = mlx5_model_mr_add(fv.model, 0, addr, length, maccess);
	m->mr.context = pd->context;
	m->mr.pd = pd;
	m->mr.addr = addr;
	m->mr.length = length;
	m->mr.lkey = key;
	m->mr.rkey = key;
	m->pinned = length;
	fv.pinned += length;
	obj_add(m, OBJ_MR);
	obj_ref(pd, 1);
	return &m->mr;
}

struct ibv_mr *
ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova, unsigned int access)
{
	if (iova != (uintptr_t)addr) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	return ibv_reg_mr(pd, addr, length, (int)access);
}

int
ibv_dereg_mr(struct ibv_mr *mr)
{
	struct fake_mr *m = (struct fake_mr *)mr;
	int rc = obj_del(m, OBJ_MR);

	if (rc != 0)
		return rc;
	fv.pinned -= m->pinned;
	obj_ref(mr->pd, -1);
	free(m);
	return 0;
}
