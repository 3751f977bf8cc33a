/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verbs queue provider: the control path on a real ConnectX through
 * rdma-core (libibverbs + mlx5dv). It opens the first mlx5 device with an
 * active port, creates per-lcore CQs and RC QPs on a parent domain with a
 * thread domain (a private BlueFlame register, no lock), moves QPs through
 * RESET -> INIT -> RTR -> RTS, registers memory, and hands the data path the
 * queue views from mlx5dv_init_obj().
 *
 * Loopback QPs (TERN_MLX5_PEER_SELF) connect to themselves when opened. A QP
 * to another node is created in INIT (qp_create) and connected once the
 * handshake (mlx5_connect.c) has told each end the other's QPN, PSN, GID or
 * LID and MTU; target-side QPs, which never post, sit on a control CQ.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/mlx5dv.h>
#include <infiniband/verbs.h>

#include <rte_common.h>
#include <rte_memory.h>
#include <rte_random.h>

#include "tern_mlx5_internal.h"

struct verbs_dev {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *ctl_cq; /* target-side QPs' CQ: they never post */
	struct ibv_port_attr port_attr;
	union ibv_gid gid;
	int gid_index;
	uint8_t port;
	uint8_t max_rd_atomic;	    /* initiator depth: max_qp_init_rd_atom, at most 16 */
	uint8_t max_dest_rd_atomic; /* responder depth: max_qp_rd_atom, at most 16 */
};

struct verbs_cq {
	struct ibv_td *td;
	struct ibv_pd *ppd; /* parent domain: the lcore's private BlueFlame register */
	struct ibv_cq_ex *cq;
};

struct verbs_qp {
	struct ibv_qp *qp;
	struct tern_mlx5_conn_params local;
	struct tern_mlx5_conn_params remote;
	int handshake; /* connected to another node: recovery needs the peer */
};

static struct verbs_dev dev;
static struct tern_mlx5_path path = TERN_MLX5_PATH_DEFAULT;

int
mlx5_verbs_set_path(const struct tern_mlx5_path *p)
{
	if (p == NULL) {
		path = TERN_MLX5_PATH_DEFAULT;
		return 0;
	}
	if (p->gid_index < -1 || p->gid_index > 255 || p->sl > 15 || p->timeout < 1 ||
	    p->timeout > 31 || p->retry_cnt > 7 || p->rnr_retry > 7)
		return -EINVAL;
	path = *p;
	return 0;
}

void
mlx5_verbs_get_path(struct tern_mlx5_path *p)
{
	*p = path;
}

/* How good a RoCE v2 GID is as this node's source address: 0 IPv4-mapped
 * (::ffff:a.b.c.d, routed like IPv4), 1 global IPv6, 2 link-local (fe80::/10:
 * not routed across L3, often a VLAN netdev's), 3 unusable (empty). */
static int
gid_rank(const uint8_t *g)
{
	static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t zero[16];

	if (memcmp(g, zero, sizeof(zero)) == 0)
		return 3;
	if (memcmp(g, v4_mapped, sizeof(v4_mapped)) == 0)
		return 0;
	if (g[0] == 0xfe && (g[1] & 0xc0) == 0x80)
		return 2;
	return 1;
}

static const char *
gid_kind(const struct ibv_gid_entry *e)
{
	static const char *const kinds[] = { "RoCE v2 IPv4-mapped", "RoCE v2 global IPv6",
					     "RoCE v2 link-local", "empty" };

	if (e->gid_type == IBV_GID_TYPE_IB)
		return "IB";
	if (e->gid_type == IBV_GID_TYPE_ROCE_V1)
		return "RoCE v1";
	return kinds[gid_rank(e->gid.raw)];
}

/*
 * This port's GID: on InfiniBand index 0 (or path.gid_index); on RoCE the
 * best RoCE v2 entry by gid_rank(), lowest index first (UCX's
 * uct_ib_device_select_gid() prefers the same), or path.gid_index, which
 * must be a RoCE v2 entry.
 */
static int
verbs_pick_gid(struct ibv_context *ctx, uint8_t port, const struct ibv_port_attr *pa,
	       union ibv_gid *gid, int *gid_index)
{
	struct ibv_gid_entry entry, best;
	int i, best_rank = 3;

	if (pa->link_layer != IBV_LINK_LAYER_ETHERNET) {
		*gid_index = path.gid_index >= 0 ? path.gid_index : 0;
		return ibv_query_gid(ctx, port, *gid_index, gid) == 0 ? 0 : -EIO;
	}
	if (path.gid_index >= 0) {
		if (path.gid_index >= pa->gid_tbl_len ||
		    ibv_query_gid_ex(ctx, port, (uint32_t)path.gid_index, &entry, 0) != 0 ||
		    entry.gid_type != IBV_GID_TYPE_ROCE_V2 || gid_rank(entry.gid.raw) == 3) {
			TERN_MLX5_LOG(ERR,
				      "port %u: gid_index %d is not a RoCE v2 GID of the port's "
				      "table (%d entries; see show_gids)",
				      port, path.gid_index, pa->gid_tbl_len);
			return -EINVAL;
		}
		best = entry;
		best_rank = gid_rank(entry.gid.raw);
		*gid_index = path.gid_index;
	} else {
		for (i = 0; i < pa->gid_tbl_len && best_rank > 0; i++) {
			if (ibv_query_gid_ex(ctx, port, (uint32_t)i, &entry, 0) != 0 ||
			    entry.gid_type != IBV_GID_TYPE_ROCE_V2 ||
			    gid_rank(entry.gid.raw) >= best_rank)
				continue;
			best = entry;
			best_rank = gid_rank(entry.gid.raw);
			*gid_index = i;
		}
		if (best_rank == 3)
			return -ENOENT;
	}
	memcpy(gid->raw, best.gid.raw, sizeof(gid->raw));
	TERN_MLX5_LOG(INFO, "port %u: GID index %d (%s%s)", port, *gid_index, gid_kind(&best),
		      path.gid_index >= 0 ? ", gid_index option" : "");
	return 0;
}

/* A read depth the device grants (a cap of ibv_query_device()), 16 at most. */
static uint8_t
read_depth(int cap)
{
	return (uint8_t)(cap < 0 ? 0 : cap > 16 ? 16 : cap);
}

static int
verbs_open(struct ibv_device *d)
{
	struct ibv_context *ctx = ibv_open_device(d);
	struct ibv_device_attr attr;
	uint8_t port;

	if (ctx == NULL)
		return -errno;
	if (ibv_query_device(ctx, &attr) != 0)
		goto fail;
	for (port = 1; port <= attr.phys_port_cnt; port++) {
		if (ibv_query_port(ctx, port, &dev.port_attr) != 0 ||
		    dev.port_attr.state != IBV_PORT_ACTIVE)
			continue;
		if (verbs_pick_gid(ctx, port, &dev.port_attr, &dev.gid, &dev.gid_index) != 0)
			continue;
		dev.pd = ibv_alloc_pd(ctx);
		if (dev.pd == NULL)
			goto fail;
		dev.ctx = ctx;
		dev.port = port;
		/* The kernel refuses (EINVAL) more than the device grants: VFs and
		 * SFs may have fewer than a PF. */
		dev.max_rd_atomic = read_depth(attr.max_qp_init_rd_atom);
		dev.max_dest_rd_atomic = read_depth(attr.max_qp_rd_atom);
		TERN_MLX5_LOG(INFO,
			      "port %u: max_qp_init_rd_atom %d, max_qp_rd_atom %d: READs in flight "
			      "%u per QP, %u answered",
			      port, attr.max_qp_init_rd_atom, attr.max_qp_rd_atom,
			      dev.max_rd_atomic, dev.max_dest_rd_atomic);
		return 0;
	}
fail:
	ibv_close_device(ctx);
	return -ENODEV;
}

static int
verbs_probe(void *arg)
{
	struct ibv_device **list;
	int i, n = 0, nb_mlx5 = 0;

	RTE_SET_USED(arg);
	if (dev.ctx != NULL)
		return 0;
	list = ibv_get_device_list(&n);
	for (i = 0; list != NULL && i < n; i++) {
		if (!mlx5dv_is_supported(list[i]))
			continue;
		nb_mlx5++;
		if (verbs_open(list[i]) == 0) {
			TERN_MLX5_LOG(INFO, "using %s port %u (%s, GID index %d)",
				      ibv_get_device_name(list[i]), dev.port,
				      dev.port_attr.link_layer == IBV_LINK_LAYER_ETHERNET
					      ? "RoCE v2"
					      : "InfiniBand",
				      dev.gid_index);
			break;
		}
	}
	if (list != NULL)
		ibv_free_device_list(list);
	if (dev.ctx == NULL) {
		TERN_MLX5_LOG(
			INFO,
			"no usable mlx5 device (%d RDMA devices, %d mlx5, none with an active "
			"port): transport unavailable",
			n, nb_mlx5);
		return -ENODEV;
	}
	return 0;
}

static void
verbs_shutdown(void *arg)
{
	RTE_SET_USED(arg);
	if (dev.ctl_cq != NULL)
		ibv_destroy_cq(dev.ctl_cq);
	if (dev.pd != NULL)
		ibv_dealloc_pd(dev.pd);
	if (dev.ctx != NULL)
		ibv_close_device(dev.ctx);
	memset(&dev, 0, sizeof(dev));
}

static void
verbs_cq_close(void *arg, void *handle)
{
	struct verbs_cq *c = handle;

	RTE_SET_USED(arg);
	if (c == NULL)
		return;
	if (c->cq != NULL)
		ibv_destroy_cq(ibv_cq_ex_to_cq(c->cq));
	if (c->ppd != NULL)
		ibv_dealloc_pd(c->ppd);
	if (c->td != NULL)
		ibv_dealloc_td(c->td);
	free(c);
}

static int
verbs_cq_open(void *arg, unsigned int lcore_id, uint32_t cqe_cnt, struct tern_mlx5_cq_view *view,
	      void **handle)
{
	struct ibv_td_init_attr td_attr = { 0 };
	struct ibv_parent_domain_init_attr pd_attr = { 0 };
	struct ibv_cq_init_attr_ex cq_attr = { 0 };
	struct mlx5dv_cq_init_attr dv_attr = { 0 };
	struct mlx5dv_obj obj;
	struct mlx5dv_cq dvcq;
	struct verbs_cq *c;

	RTE_SET_USED(arg);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->td = ibv_alloc_td(dev.ctx, &td_attr);
	if (c->td == NULL)
		goto fail;
	pd_attr.pd = dev.pd;
	pd_attr.td = c->td;
	c->ppd = ibv_alloc_parent_domain(dev.ctx, &pd_attr);
	if (c->ppd == NULL)
		goto fail;
	cq_attr.cqe = cqe_cnt;
	cq_attr.comp_mask = IBV_CQ_INIT_ATTR_MASK_PD;
	cq_attr.parent_domain = c->ppd;
	/* Fixed 64-byte CQEs, no compression (the data path parses neither
	 * 128-byte mini-CQE arrays nor compressed sessions). */
	dv_attr.comp_mask = MLX5DV_CQ_INIT_ATTR_MASK_CQE_SIZE;
	dv_attr.cqe_size = 64;
	c->cq = mlx5dv_create_cq(dev.ctx, &cq_attr, &dv_attr);
	if (c->cq == NULL)
		goto fail;
	memset(&obj, 0, sizeof(obj));
	memset(&dvcq, 0, sizeof(dvcq));
	obj.cq.in = ibv_cq_ex_to_cq(c->cq);
	obj.cq.out = &dvcq;
	if (mlx5dv_init_obj(&obj, MLX5DV_OBJ_CQ) != 0)
		goto fail;
	view->buf = dvcq.buf;
	view->cqe_cnt = dvcq.cqe_cnt;
	view->cqe_size = dvcq.cqe_size;
	view->dbrec = (volatile uint32_t *)&dvcq.dbrec[0];
	TERN_MLX5_LOG(INFO, "lcore %u: CQ of %u CQEs (asked %u), cqe_size %u", lcore_id,
		      view->cqe_cnt, cqe_cnt, view->cqe_size);
	*handle = c;
	return 0;
fail:
	verbs_cq_close(NULL, c);
	return errno != 0 ? -errno : -EIO;
}

/* Any state -> RESET -> INIT, remote READ and WRITE allowed. */
static int
qp_to_init(struct ibv_qp *qp, uint8_t port)
{
	struct ibv_qp_attr attr;
	int rc;

	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_RESET;
	rc = ibv_modify_qp(qp, &attr, IBV_QP_STATE);
	if (rc != 0)
		return -rc;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_INIT;
	attr.pkey_index = 0;
	attr.port_num = port;
	attr.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	return -ibv_modify_qp(qp, &attr,
			      IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

/* INIT -> RTR (towards @p remote) -> RTS. */
static int
qp_to_rts(struct ibv_qp *qp, uint8_t port, int gid_index, const struct tern_mlx5_conn_params *local,
	  const struct tern_mlx5_conn_params *remote)
{
	struct ibv_qp_attr attr;
	int rc;

	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_RTR;
	attr.path_mtu = (enum ibv_mtu)RTE_MIN(local->mtu, remote->mtu);
	attr.dest_qp_num = remote->qpn;
	attr.rq_psn = remote->psn;
	attr.max_dest_rd_atomic = dev.max_dest_rd_atomic;
	attr.min_rnr_timer = 12;
	attr.ah_attr.port_num = port;
	attr.ah_attr.sl = path.sl;
	if (remote->lid != 0) {
		attr.ah_attr.dlid = remote->lid;
	} else {
		attr.ah_attr.is_global = 1;
		memcpy(attr.ah_attr.grh.dgid.raw, remote->gid, 16);
		attr.ah_attr.grh.sgid_index = (uint8_t)gid_index;
		attr.ah_attr.grh.hop_limit = 64;
		attr.ah_attr.grh.traffic_class = path.traffic_class;
	}
	rc = ibv_modify_qp(qp, &attr,
			   IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
				   IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
				   IBV_QP_MIN_RNR_TIMER);
	if (rc != 0)
		return -rc;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_RTS;
	attr.sq_psn = local->psn;
	attr.timeout = path.timeout;
	attr.retry_cnt = path.retry_cnt;
	attr.rnr_retry = path.rnr_retry;
	attr.max_rd_atomic = dev.max_rd_atomic;
	rc = ibv_modify_qp(qp, &attr,
			   IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
				   IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC);
	return -rc;
}

static void
verbs_qp_close(void *arg, void *handle)
{
	struct verbs_qp *q = handle;

	RTE_SET_USED(arg);
	if (q == NULL)
		return;
	if (q->qp != NULL)
		ibv_destroy_qp(q->qp);
	free(q);
}

static void
verbs_port_params(struct tern_mlx5_conn_params *p)
{
	memset(p, 0, sizeof(*p));
	p->lid = dev.port_attr.lid;
	p->mtu = (uint8_t)dev.port_attr.active_mtu;
	p->port = dev.port;
	memcpy(p->gid, dev.gid.raw, 16);
	p->gid_index = (uint8_t)dev.gid_index;
}

static int
verbs_port_info(void *arg, struct tern_mlx5_conn_params *port)
{
	RTE_SET_USED(arg);
	if (dev.ctx == NULL)
		return -ENODEV;
	verbs_port_params(port);
	return 0;
}

void
mlx5_verbs_sq_attr(uint32_t wqe_cnt, uint32_t max_inline, struct ibv_qp_init_attr_ex *attr)
{
	uint32_t wr = wqe_cnt / mlx5_inline_wqebbs(max_inline);

	/* WRs sized so the ring is wqe_cnt WQEBBs when every WR is a
	 * largest-inline WRITE; rdma-core may round it up further (the data
	 * path accepts any power of two >= wqe_cnt). */
	attr->cap.max_send_wr = RTE_MAX(wr, 1u);
	attr->cap.max_send_sge = 1;
	attr->cap.max_inline_data = max_inline;
	/* Without this, rdma-core sizes every WQE for bind-MW/local-invalidate
	 * (192 bytes of overhead: 320-byte slots, 1024 WQEBBs for 256). */
	attr->comp_mask |= IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
	attr->send_ops_flags = IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_READ;
}

/* What a QP that takes notifications asks for besides (qp_create_rq). */
struct verbs_rq_req {
	struct verbs_cq *rcq;		/* receive CQ */
	uint32_t cnt;			/* max_recv_wr */
	struct tern_mlx5_rq_view *view; /* out */
};

/* An RC QP in INIT: an initiator's on an lcore's CQ and parent domain, with
 * its SQ view, or (@p c NULL) a target's on the control CQ; with @p rq, a
 * receive queue on rq->rcq as well. */
static int
verbs_qp_new(struct verbs_cq *c, uint32_t wqe_cnt, struct tern_mlx5_sq_view *view,
	     const struct verbs_rq_req *rq, struct verbs_qp **out)
{
	struct ibv_qp_init_attr_ex attr;
	struct mlx5dv_qp_init_attr dv_attr;
	struct mlx5dv_obj obj;
	struct mlx5dv_qp dvqp;
	struct verbs_qp *q;
	int rc;

	if (c == NULL && dev.ctl_cq == NULL) {
		dev.ctl_cq = ibv_create_cq(dev.ctx, 1, NULL, NULL, 0);
		if (dev.ctl_cq == NULL)
			return errno != 0 ? -errno : -EIO;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	memset(&attr, 0, sizeof(attr));
	attr.qp_type = IBV_QPT_RC;
	attr.comp_mask = IBV_QP_INIT_ATTR_PD;
	if (c != NULL) {
		attr.send_cq = ibv_cq_ex_to_cq(c->cq);
		attr.recv_cq = ibv_cq_ex_to_cq(c->cq);
		mlx5_verbs_sq_attr(wqe_cnt, view->max_inline, &attr);
		attr.pd = c->ppd;
	} else {
		attr.send_cq = dev.ctl_cq;
		attr.recv_cq = dev.ctl_cq;
		attr.cap.max_send_wr = 1;
		attr.cap.max_send_sge = 1;
		attr.pd = dev.pd;
	}
	if (rq != NULL) {
		/* RECVs of one scatter entry (a notification frame's buffer). */
		attr.recv_cq = ibv_cq_ex_to_cq(rq->rcq->cq);
		attr.cap.max_recv_wr = rq->cnt;
		attr.cap.max_recv_sge = 1;
	}
	memset(&dv_attr, 0, sizeof(dv_attr));
	dv_attr.comp_mask = MLX5DV_QP_INIT_ATTR_MASK_QP_CREATE_FLAGS;
	dv_attr.create_flags = MLX5DV_QP_CREATE_DISABLE_SCATTER_TO_CQE;
	q->qp = mlx5dv_create_qp(dev.ctx, &attr, &dv_attr);
	if (q->qp == NULL) {
		rc = errno != 0 ? -errno : -EIO;
		goto fail;
	}
	verbs_port_params(&q->local);
	q->local.qpn = q->qp->qp_num;
	q->local.psn = rte_rand() & 0xffffff;
	rc = qp_to_init(q->qp, dev.port);
	if (rc != 0 || c == NULL)
		goto done;
	memset(&obj, 0, sizeof(obj));
	memset(&dvqp, 0, sizeof(dvqp));
	obj.qp.in = q->qp;
	obj.qp.out = &dvqp;
	rc = -mlx5dv_init_obj(&obj, MLX5DV_OBJ_QP);
	if (rc != 0)
		goto fail;
	view->buf = dvqp.sq.buf;
	view->wqe_cnt = dvqp.sq.wqe_cnt;
	view->stride = dvqp.sq.stride;
	view->qpn = q->qp->qp_num;
	view->dbrec = (volatile uint32_t *)&dvqp.dbrec[MLX5_SND_DBR];
	view->bf_reg = dvqp.bf.reg;
	view->bf_size = dvqp.bf.size;
	/* rdma-core answers with what the WQE size it chose holds. */
	view->max_inline = RTE_MIN(view->max_inline, attr.cap.max_inline_data);
	if (rq != NULL) {
		rq->view->buf = dvqp.rq.buf;
		rq->view->wqe_cnt = dvqp.rq.wqe_cnt;
		rq->view->stride = dvqp.rq.stride;
		rq->view->dbrec = (volatile uint32_t *)&dvqp.dbrec[MLX5_RCV_DBR];
	}
	TERN_MLX5_LOG(INFO,
		      "QP 0x%x: sq.wqe_cnt %u (asked %u WQEBBs, max_send_wr %u), stride %u, "
		      "bf.size %u, max_inline %u",
		      view->qpn, view->wqe_cnt, wqe_cnt, attr.cap.max_send_wr, view->stride,
		      view->bf_size, view->max_inline);
done:
	if (rc != 0)
		goto fail;
	*out = q;
	return 0;
fail:
	verbs_qp_close(NULL, q);
	return rc;
}

static int
verbs_qp_open(void *arg, void *cq_handle, unsigned int lcore_id, uint16_t peer,
	      const uint8_t *peer_gid, uint32_t wqe_cnt, struct tern_mlx5_sq_view *view,
	      void **handle)
{
	struct verbs_qp *q;
	int rc;

	RTE_SET_USED(arg);
	RTE_SET_USED(lcore_id);
	RTE_SET_USED(peer_gid);
	if (peer != TERN_MLX5_PEER_SELF)
		return -ENOTCONN; /* another node: the handshake connects it */
	rc = verbs_qp_new(cq_handle, wqe_cnt, view, NULL, &q);
	if (rc != 0)
		return rc;
	q->remote = q->local; /* loopback */
	rc = qp_to_rts(q->qp, dev.port, dev.gid_index, &q->local, &q->remote);
	if (rc != 0) {
		verbs_qp_close(NULL, q);
		return rc;
	}
	*handle = q;
	return 0;
}

static int
verbs_qp_create(void *arg, void *cq_handle, uint32_t wqe_cnt, struct tern_mlx5_sq_view *view,
		struct tern_mlx5_conn_params *local, void **handle)
{
	struct verbs_qp *q;
	int rc;

	RTE_SET_USED(arg);
	rc = verbs_qp_new(cq_handle, wqe_cnt, view, NULL, &q);
	if (rc != 0)
		return rc;
	*local = q->local;
	*handle = q;
	return 0;
}

static int
verbs_qp_create_rq(void *arg, void *cq_handle, void *rcq_handle, uint32_t wqe_cnt,
		   struct tern_mlx5_sq_view *view, uint32_t rq_cnt, struct tern_mlx5_rq_view *rq,
		   struct tern_mlx5_conn_params *local, void **handle)
{
	struct verbs_rq_req req = { .rcq = rcq_handle, .cnt = rq_cnt, .view = rq };
	struct verbs_qp *q;
	int rc;

	RTE_SET_USED(arg);
	/* The target answers on its SQ: an SQ-less QP takes no notifications. */
	if (cq_handle == NULL || rcq_handle == NULL || rq == NULL || rq_cnt == 0)
		return -EINVAL;
	rc = verbs_qp_new(cq_handle, wqe_cnt, view, &req, &q);
	if (rc != 0)
		return rc;
	*local = q->local;
	*handle = q;
	return 0;
}

static int
verbs_qp_connect(void *arg, void *handle, const struct tern_mlx5_conn_params *remote)
{
	struct verbs_qp *q = handle;

	RTE_SET_USED(arg);
	q->remote = *remote;
	q->handshake = 1;
	return qp_to_rts(q->qp, dev.port, dev.gid_index, &q->local, &q->remote);
}

static int
verbs_qp_reset(void *arg, void *handle, struct tern_mlx5_conn_params *local)
{
	struct verbs_qp *q = handle;

	RTE_SET_USED(arg);
	q->local.psn = rte_rand() & 0xffffff;
	*local = q->local;
	return qp_to_init(q->qp, dev.port);
}

static int
verbs_qp_flush(void *arg, void *handle)
{
	struct verbs_qp *q = handle;
	struct ibv_qp_attr attr;

	RTE_SET_USED(arg);
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_ERR;
	return -ibv_modify_qp(q->qp, &attr, IBV_QP_STATE);
}

static int
verbs_qp_recover(void *arg, void *handle)
{
	struct verbs_qp *q = handle;
	int rc;

	RTE_SET_USED(arg);
	/* The peer of another node must learn the new PSN, and reset its own
	 * end: that is a new handshake, not a recovery. */
	if (q->handshake)
		return -ENOTCONN;
	/* A new PSN: the old one may be half consumed. */
	q->local.psn = rte_rand() & 0xffffff;
	if (q->remote.qpn == q->local.qpn)
		q->remote.psn = q->local.psn;
	rc = qp_to_init(q->qp, dev.port);
	return rc != 0 ? rc : qp_to_rts(q->qp, dev.port, dev.gid_index, &q->local, &q->remote);
}

static int
verbs_mr_register(void *arg, void *addr, uint64_t len, uint64_t *start, uint64_t *end,
		  uint32_t *lkey, uint32_t *rkey, void **handle)
{
	const struct rte_memseg_list *msl = rte_mem_virt2memseg_list(addr);
	uint64_t page = msl != NULL ? msl->page_sz : (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t first = RTE_ALIGN_FLOOR((uintptr_t)addr, page);
	uint64_t last = RTE_ALIGN_CEIL((uintptr_t)addr + len, page);
	struct ibv_mr *mr;

	RTE_SET_USED(arg);
	mr = ibv_reg_mr(dev.pd, (void *)(uintptr_t)first, last - first,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	if (mr == NULL)
		return -errno;
	*start = first;
	*end = last;
	*lkey = mr->lkey;
	*rkey = mr->rkey;
	*handle = mr;
	return 0;
}

static void
verbs_mr_deregister(void *arg, void *handle)
{
	RTE_SET_USED(arg);
	ibv_dereg_mr(handle);
}

const struct tern_mlx5_provider mlx5_verbs_provider = {
	.probe = verbs_probe,
	.shutdown = verbs_shutdown,
	.cq_open = verbs_cq_open,
	.cq_close = verbs_cq_close,
	.qp_open = verbs_qp_open,
	.qp_create = verbs_qp_create,
	.qp_create_rq = verbs_qp_create_rq,
	.qp_connect = verbs_qp_connect,
	.qp_reset = verbs_qp_reset,
	.qp_flush = verbs_qp_flush,
	.qp_recover = verbs_qp_recover,
	.qp_close = verbs_qp_close,
	.mr_register = verbs_mr_register,
	.mr_deregister = verbs_mr_deregister,
	.port_info = verbs_port_info,
};
