/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software model of a ConnectX SQ/CQ, tests only. Format as rdma-core's
 * providers/mlx5 writes WQEs (qp.c: _mlx5_post_send, set_raddr_seg,
 * set_data_ptr_seg, set_data_inl_seg) and reads CQEs (cq.c: get_sw_cqe,
 * mlx5_parse_cqe), with byte offsets of its own below.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include <tern_transport_driver.h>
#include "mlx5_model.h"

/* WQE byte layout (64-byte basic blocks, big-endian fields). */
#define WQEBB		  64u
#define CTRL_OPMOD_IDX_OP 0 /* opmod:8 | wqe_index:16 | opcode:8 */
#define CTRL_QPN_DS	  4 /* qpn:24 | ds:6 (2 bits reserved) */
#define CTRL_SIGNATURE	  8
#define CTRL_STREAM	  9  /* 2 bytes, zero for RC */
#define CTRL_FM_CE_SE	  11 /* fence 7:5, CE 3:2, SE 1 */
#define CTRL_IMM	  12
#define RADDR_OFF	  16 /* raddr:64, rkey:32, reserved:32 */
#define DATA_OFF	  32
#define INLINE_BIT	  0x80000000u
#define OP_RDMA_WRITE	  0x08
#define OP_RDMA_READ	  0x10
#define OP_RDMA_WRITE_IMM 0x09
#define OP_SEND		  0x0a
#define OP_SEND_IMM	  0x0b
#define CE_ALWAYS	  0x08

/* CQE byte layout (the 64-byte cqe64). */
#define CQE_FLAGS_RQPN	24
#define CQE_IMM		36
#define CQE_BYTE_CNT	44
#define CQE_VENDOR_SYND 54
#define CQE_SYNDROME	55
#define CQE_SOP_QPN	56
#define CQE_WQE_COUNTER 60
#define CQE_SIGNATURE	62
#define CQE_OP_OWN	63
#define CQE_OP_REQ	0x0
#define CQE_OP_REQ_ERR	0xd
#define CQE_OP_RESP_ERR 0xe
/* Responder CQE opcodes (rdma-core mlx5dv.h MLX5_CQE_RESP_*). */
#define CQE_OP_RESP_WR_IMM   0x1
#define CQE_OP_RESP_SEND     0x2
#define CQE_OP_RESP_SEND_IMM 0x3
/* A receive WQE's scatter list ends early at a segment with this lkey. */
#define INVALID_LKEY   0x100u
#define CQE_OP_INVALID 0xf

#define QP_INIT 1
#define QP_RTS	3

#define POISON 0xa5a5a5a5a5a5a5a5ull
#define MAX_MR 256
#define MAX_Q  32

struct model_mr {
	int node;
	int dev; /* the node's device (port) the region is registered on */
	uint64_t addr;
	uint64_t len;
	uint32_t key;
	uint32_t access;
};

struct model_map {
	uint8_t *base; /* mapping including the guard pages */
	size_t len;
};

struct model_cq {
	struct model_map map;
	uint8_t *buf;
	uint32_t cqe_cnt;
	uint32_t cqe_size;
	uint32_t *dbrec; /* [0] consumer index */
	struct model_map dbmap;
	uint32_t pi;
};

struct mlx5_model_qp {
	struct mlx5_model *m;
	struct model_cq *cq;
	struct model_map map;
	uint8_t *sq;
	uint32_t wqe_cnt;
	uint32_t *dbrec; /* [0] receive, [1] send */
	struct model_map dbmap;
	struct model_map bfmap;
	uint8_t *bf;
	uint32_t bf_size;
	uint32_t bf_half; /* half the next doorbell must land in */
	uint32_t qpn;
	int err;	 /* QP in ERR */
	uint16_t ci;	 /* next WQEBB to execute */
	uint16_t target; /* WQEBBs before this are doorbelled */
	int local_node;	 /* the node the QP is on (its lkeys) */
	int remote_node; /* wired QPs (qp_open): the node they reach */
	int remote_dev;	 /* wired QPs: the device (port) of remote_node they reach */
	/* Connected by a handshake (qp_create, qp_connect): the other end is
	 * the QP dest_qpn of the node with dest_gid, checked per WQE. */
	int handshake;
	int state; /* QP_INIT or QP_RTS */
	uint32_t dest_qpn;
	uint8_t dest_gid[16];
	uint16_t dest_lid;
	uint32_t sq_psn;
	uint32_t rq_psn;
	uint8_t path_mtu;
	uint32_t budget;
	int hold;
	int hold_after_error;
	int fail_armed;
	uint64_t fail_at;
	uint8_t fail_synd;
	int fail_recovery;
	uint64_t executed;
	int closed;
	/* Receive queue (qp_create_rq): RECV WQEs of rq_stride bytes, each a
	 * scatter list of data segments; dbrec[0] counts the RECVs posted. */
	struct model_cq *rcq;
	struct model_map rqmap;
	uint8_t *rq;
	uint32_t rq_cnt;
	uint32_t rq_stride;
	uint16_t rq_ci;	    /* next RECV to consume */
	uint8_t rnr_retry;  /* requester: RNR retries before RNR_RETRY_EXC (7: forever) */
	uint8_t rnr_tries;  /* RNR NAKs taken for the WQE at ci */
	int stalled;	    /* the WQE at ci waits for the responder (RNR, retried) */
	uint32_t resp_fail; /* responder: fail the next receive with this syndrome */
};

struct mlx5_model {
	pthread_mutex_t lock;
	int present;
	struct model_mr mrs[MAX_MR];
	unsigned int nb_mrs;
	uint32_t next_key;
	uint32_t next_qpn;
	struct mlx5_model_qp *qps[MAX_Q];
	unsigned int nb_qps;
	struct model_cq *cqs[MAX_Q];
	unsigned int nb_cqs;
	struct mlx5_model_stats st;
	unsigned int violations;
	char first[256];
	pthread_t thread;
	volatile int running;
	int threaded;
	uint64_t mr_slack;
	uint32_t fail_ops;
	unsigned int shutdowns;
	int node;	/* the node control-path calls act for */
	int unwired;	/* qp_open refuses peers: they need a handshake */
	uint8_t mtu[2]; /* each node's port MTU (enum ibv_mtu) */
	/* The wire from this node's port to node n's device d is cut: WQEs of
	 * wired QPs over it end in RETRY_EXC, as a link down would. */
	int wire_down[2][MODEL_DEVS];
	uint32_t psn_seed;
	uint32_t max_sq_desc_sz; /* rdma-core's SQ sizing limits (mlx5_rdma_sizing.c) */
	uint32_t max_send_wqebb;
	uint32_t sq_grow;
	int sq_exact;
};

static void violation(struct mlx5_model *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
violation(struct mlx5_model *m, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m->violations++ == 0)
		snprintf(m->first, sizeof(m->first), "%s", msg);
	fprintf(stderr, "mlx5 model violation: %s\n", msg);
}

static uint32_t
rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static uint64_t
rd64(const uint8_t *p)
{
	return ((uint64_t)rd32(p) << 32) | rd32(p + 4);
}

static void
wr32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static void
wr16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

/* Map @len bytes between two PROT_NONE guard pages; the usable area ends
 * exactly at the upper guard so any overrun faults. */
static uint8_t *
guarded_map(struct model_map *map, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t inner = (len + page - 1) / page * page;

	map->len = inner + 2 * page;
	map->base = mmap(NULL, map->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map->base == MAP_FAILED)
		abort();
	if (mprotect(map->base + page, inner, PROT_READ | PROT_WRITE) != 0)
		abort();
	return map->base + page + (inner - len);
}

static void
guarded_unmap(struct model_map *map)
{
	if (map->base != NULL)
		munmap(map->base, map->len);
	map->base = NULL;
}

struct mlx5_model *
mlx5_model_create(void)
{
	struct mlx5_model *m = calloc(1, sizeof(*m));

	if (m == NULL)
		abort();
	pthread_mutex_init(&m->lock, NULL);
	m->present = 1;
	m->next_key = 0x1000;
	m->next_qpn = 0x100;
	m->mtu[0] = 5; /* IBV_MTU_4096 */
	m->mtu[1] = 5;
	m->psn_seed = 0x2545f491;
	m->max_sq_desc_sz = 512;
	m->max_send_wqebb = 32768;
	m->sq_grow = 1;
	return m;
}

void
mlx5_model_set_sq_limits(struct mlx5_model *m, uint32_t max_sq_desc_sz, uint32_t max_send_wqebb,
			 uint32_t grow)
{
	m->max_sq_desc_sz = max_sq_desc_sz;
	m->max_send_wqebb = max_send_wqebb;
	m->sq_grow = grow != 0 ? grow : 1;
}

void
mlx5_model_set_sq_exact(struct mlx5_model *m, int exact)
{
	m->sq_exact = exact;
}

void
mlx5_model_qp_set_sq_psn(struct mlx5_model_qp *qp, uint32_t psn)
{
	pthread_mutex_lock(&qp->m->lock);
	qp->sq_psn = psn & 0xffffff;
	pthread_mutex_unlock(&qp->m->lock);
}

uint32_t
mlx5_model_qp_wqe_cnt(struct mlx5_model_qp *qp)
{
	return qp->wqe_cnt;
}

static void
cq_free(struct model_cq *cq)
{
	guarded_unmap(&cq->map);
	guarded_unmap(&cq->dbmap);
	free(cq);
}

static void
qp_free(struct mlx5_model_qp *qp)
{
	guarded_unmap(&qp->map);
	guarded_unmap(&qp->dbmap);
	guarded_unmap(&qp->bfmap);
	guarded_unmap(&qp->rqmap);
	free(qp);
}

void
mlx5_model_destroy(struct mlx5_model *m)
{
	unsigned int i;

	mlx5_model_stop(m);
	for (i = 0; i < m->nb_qps; i++)
		qp_free(m->qps[i]);
	for (i = 0; i < m->nb_cqs; i++)
		if (m->cqs[i] != NULL)
			cq_free(m->cqs[i]);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void
mlx5_model_set_present(struct mlx5_model *m, int present)
{
	m->present = present;
}

/* The node this thread's control-path calls act for; -1: the model's. */
static __thread int thread_node = -1;

void
mlx5_model_set_node(struct mlx5_model *m, int node)
{
	m->node = node;
}

void
mlx5_model_set_thread_node(int node)
{
	thread_node = node;
}

static int
cur_node(const struct mlx5_model *m)
{
	return thread_node >= 0 ? thread_node : m->node;
}

void
mlx5_model_desc(struct tern_mlx5_desc *d, int node, void *addr, uint64_t len, uint32_t rkey,
		uint16_t hs_port)
{
	memset(d, 0, sizeof(*d));
	d->magic = TERN_MLX5_DESC_MAGIC;
	d->version = TERN_MLX5_DESC_VERSION;
	d->rkey = rkey;
	d->addr = (uintptr_t)addr;
	d->length = len;
	mlx5_model_gid(node, d->gid);
	d->hs_addr[10] = 0xff;
	d->hs_addr[11] = 0xff;
	d->hs_addr[12] = 127;
	d->hs_addr[15] = 1;
	d->hs_port = hs_port;
	d->epoch = 1;
}

void
mlx5_model_import_wired(struct tern_segment *seg, int node, void *addr, uint64_t len, uint32_t rkey)
{
	struct tern_mlx5_desc d;
	int peer;

	mlx5_model_desc(&d, node, addr, len, rkey, 1);
	peer = mlx5_peer_get(d.gid, 1);
	if (peer < 0)
		abort();
	d.peer = (uint16_t)peer;
	memcpy(seg->priv, &d, sizeof(d));
}

void
mlx5_model_wire_peers(struct mlx5_model *m, int wired)
{
	m->unwired = !wired;
}

void
mlx5_model_set_mtu(struct mlx5_model *m, int node, uint8_t mtu)
{
	m->mtu[node] = mtu;
}

uint32_t
mlx5_model_mr_add(struct mlx5_model *m, int node, void *addr, uint64_t len, uint32_t access)
{
	return mlx5_model_mr_add_dev(m, node, 0, addr, len, access);
}

uint32_t
mlx5_model_mr_add_dev(struct mlx5_model *m, int node, int dev, void *addr, uint64_t len,
		      uint32_t access)
{
	struct model_mr *mr;
	uint32_t key;

	pthread_mutex_lock(&m->lock);
	if (m->nb_mrs == MAX_MR)
		abort();
	mr = &m->mrs[m->nb_mrs++];
	mr->node = node;
	mr->dev = dev;
	mr->addr = (uintptr_t)addr;
	mr->len = len;
	mr->access = access;
	key = m->next_key;
	m->next_key += 0x101;
	mr->key = key;
	pthread_mutex_unlock(&m->lock);
	return key;
}

void
mlx5_model_gid(int node, uint8_t gid[16])
{
	mlx5_model_dev_gid(node, 0, gid);
}

void
mlx5_model_dev_gid(int node, int dev, uint8_t gid[16])
{
	memset(gid, 0, 16);
	gid[10] = 0xff;
	gid[11] = 0xff;
	gid[12] = 10;
	gid[13] = (uint8_t)dev;
	gid[15] = (uint8_t)(node + 1);
}

void
mlx5_model_wire_set(struct mlx5_model *m, int node, int dev, int up)
{
	__atomic_store_n(&m->wire_down[node][dev], !up, __ATOMIC_RELEASE);
}

uint64_t
mlx5_model_qp_executed(struct mlx5_model_qp *qp)
{
	return __atomic_load_n(&qp->executed, __ATOMIC_ACQUIRE);
}

int
mlx5_model_qp_remote_dev(struct mlx5_model_qp *qp)
{
	return qp->remote_dev;
}

struct mlx5_model_qp *
mlx5_model_qp(struct mlx5_model *m, unsigned int index)
{
	return index < m->nb_qps ? m->qps[index] : NULL;
}

void
mlx5_model_qp_budget(struct mlx5_model_qp *qp, uint32_t wqes)
{
	__atomic_store_n(&qp->budget, wqes, __ATOMIC_RELEASE);
}

void
mlx5_model_qp_hold(struct mlx5_model_qp *qp, int hold)
{
	__atomic_store_n(&qp->hold, hold, __ATOMIC_RELEASE);
}

void
mlx5_model_qp_hold_after_error(struct mlx5_model_qp *qp, int hold)
{
	__atomic_store_n(&qp->hold_after_error, hold, __ATOMIC_RELEASE);
}

void
mlx5_model_qp_fail(struct mlx5_model_qp *qp, uint64_t nth, uint8_t syndrome)
{
	pthread_mutex_lock(&qp->m->lock);
	qp->fail_at = qp->executed + nth;
	qp->fail_synd = syndrome;
	qp->fail_armed = 1;
	pthread_mutex_unlock(&qp->m->lock);
}

void
mlx5_model_qp_fail_recovery(struct mlx5_model_qp *qp, int fail)
{
	qp->fail_recovery = fail;
}

uint8_t *
mlx5_model_qp_ring(struct mlx5_model_qp *qp)
{
	return qp->sq;
}

void
mlx5_model_set_mr_slack(struct mlx5_model *m, uint64_t bytes)
{
	m->mr_slack = bytes;
}

void
mlx5_model_stats(struct mlx5_model *m, struct mlx5_model_stats *st)
{
	pthread_mutex_lock(&m->lock);
	*st = m->st;
	pthread_mutex_unlock(&m->lock);
}

unsigned int
mlx5_model_violations(struct mlx5_model *m, const char **first)
{
	if (first != NULL)
		*first = m->first;
	return m->violations;
}

void
mlx5_model_fail_ops(struct mlx5_model *m, uint32_t flags)
{
	m->fail_ops = flags;
}

unsigned int
mlx5_model_shutdowns(struct mlx5_model *m)
{
	return m->shutdowns;
}

static void cqe_write(struct mlx5_model_qp *qp, uint8_t opcode, uint8_t wqe_opcode,
		      uint16_t wqe_idx, uint32_t byte_cnt, uint8_t syndrome);

void
mlx5_model_inject_cqe(struct mlx5_model_qp *qp, uint32_t qpn)
{
	uint32_t real;

	pthread_mutex_lock(&qp->m->lock);
	real = qp->qpn;
	qp->qpn = qpn;
	cqe_write(qp, CQE_OP_REQ, OP_RDMA_WRITE, 0, 0, 0);
	qp->qpn = real;
	pthread_mutex_unlock(&qp->m->lock);
}

/* ---- CQE production ---- */

static void
cqe_write(struct mlx5_model_qp *qp, uint8_t opcode, uint8_t wqe_opcode, uint16_t wqe_idx,
	  uint32_t byte_cnt, uint8_t syndrome)
{
	struct model_cq *cq = qp->cq;
	uint32_t ci = rd32((const uint8_t *)&cq->dbrec[0]) & 0xffffff;
	uint8_t *cqe;

	/* The driver must have consumed (and told us) before we lap it. */
	if (((cq->pi - ci) & 0xffffff) >= cq->cqe_cnt) {
		violation(qp->m, "CQ overrun: producer %u, consumer record %u, %u entries", cq->pi,
			  ci, cq->cqe_cnt);
		return;
	}
	cqe = cq->buf + (size_t)(cq->pi & (cq->cqe_cnt - 1)) * cq->cqe_size + cq->cqe_size - 64;
	/* Fields first... */
	memset(cqe, 0, 63);
	wr32(cqe + CQE_BYTE_CNT, byte_cnt);
	cqe[CQE_VENDOR_SYND] = syndrome != 0 ? 0x81 : 0;
	cqe[CQE_SYNDROME] = syndrome;
	wr32(cqe + CQE_SOP_QPN, ((uint32_t)wqe_opcode << 24) | qp->qpn);
	wr16(cqe + CQE_WQE_COUNTER, wqe_idx);
	cqe[CQE_SIGNATURE] = 0;
	/* ...then opcode and owner, with release order. */
	__atomic_store_n(&cqe[CQE_OP_OWN], (uint8_t)((opcode << 4) | ((cq->pi / cq->cqe_cnt) & 1)),
			 __ATOMIC_RELEASE);
	cq->pi++;
	if ((cq->pi & (cq->cqe_cnt - 1)) == 0)
		qp->m->st.cq_wraps++;
	qp->m->st.cqes++;
	if (syndrome == MODEL_SYND_WR_FLUSH)
		qp->m->st.flush_cqes++;
	else if (syndrome != 0)
		qp->m->st.err_cqes++;
}

static const struct model_mr *mr_check(struct mlx5_model *m, int node, int dev, uint32_t key,
				       uint64_t addr, uint64_t len, uint32_t access);

/* A responder CQE in QP @r's receive CQ (cq.c: handle_responder() reads
 * byte_cnt, imm_inval_pkey, flags_rqpn; the RQ's tail counts RECVs taken). */
static void
rcqe_write(struct mlx5_model_qp *r, uint8_t opcode, uint16_t rq_idx, uint32_t byte_cnt,
	   const uint8_t imm[4], uint32_t rqpn, uint8_t syndrome)
{
	struct model_cq *cq = r->rcq;
	uint32_t ci = rd32((const uint8_t *)&cq->dbrec[0]) & 0xffffff;
	uint8_t *cqe;

	if (((cq->pi - ci) & 0xffffff) >= cq->cqe_cnt) {
		violation(r->m, "receive CQ overrun: producer %u, consumer record %u, %u entries",
			  cq->pi, ci, cq->cqe_cnt);
		return;
	}
	cqe = cq->buf + (size_t)(cq->pi & (cq->cqe_cnt - 1)) * cq->cqe_size + cq->cqe_size - 64;
	memset(cqe, 0, 63);
	wr32(cqe + CQE_FLAGS_RQPN, rqpn & 0xffffff);
	if (imm != NULL)
		memcpy(cqe + CQE_IMM, imm, 4);
	wr32(cqe + CQE_BYTE_CNT, byte_cnt);
	cqe[CQE_VENDOR_SYND] = syndrome != 0 ? 0x81 : 0;
	cqe[CQE_SYNDROME] = syndrome;
	wr32(cqe + CQE_SOP_QPN, r->qpn);
	wr16(cqe + CQE_WQE_COUNTER, rq_idx);
	__atomic_store_n(&cqe[CQE_OP_OWN], (uint8_t)((opcode << 4) | ((cq->pi / cq->cqe_cnt) & 1)),
			 __ATOMIC_RELEASE);
	cq->pi++;
	r->m->st.cqes++;
	r->m->st.recv_cqes++;
	if (syndrome != 0)
		r->m->st.err_cqes++;
}

#define RESP_RNR 0xff

/* Can responder @r take a message? 0, RESP_RNR (no RECV posted), or the
 * requester's syndrome. */
static uint8_t
resp_ready(struct mlx5_model_qp *r)
{
	uint16_t posted;

	if (r->rq == NULL || r->rcq == NULL || r->err)
		return MODEL_SYND_REMOTE_INVAL;
	posted = (uint16_t)rd32((const uint8_t *)&r->dbrec[0]);
	if ((uint16_t)(posted - r->rq_ci) > r->rq_cnt) {
		violation(r->m,
			  "QP 0x%x: receive doorbell record %u overruns the RQ (%u taken, %u)",
			  r->qpn, posted, r->rq_ci, r->rq_cnt);
		return MODEL_SYND_REMOTE_INVAL;
	}
	return posted == r->rq_ci ? RESP_RNR : 0;
}

/* Consume responder @r's next RECV for a message of @len bytes (@data: a
 * SEND's payload, scattered; NULL for WRITE with immediate, which scatters
 * nothing) and write its CQE. @return 0 or the requester's syndrome. */
static uint8_t
resp_consume(struct mlx5_model_qp *r, const struct mlx5_model_qp *req, uint8_t opcode,
	     const uint8_t *data, uint32_t len, const uint8_t imm[4])
{
	struct mlx5_model *m = r->m;
	uint16_t idx = r->rq_ci;
	const uint8_t *wqe = r->rq + (size_t)(idx & (r->rq_cnt - 1)) * r->rq_stride;
	uint32_t u, off = 0, room = 0;
	uint8_t rsynd = 0, synd = 0, cqe_op;

	for (u = 0; u < r->rq_stride / 16 && data != NULL; u++) {
		const uint8_t *seg = wqe + (size_t)u * 16;
		uint32_t seg_len = rd32(seg), lkey = rd32(seg + 4);
		uint64_t addr = rd64(seg + 8);
		uint32_t n;

		if (lkey == INVALID_LKEY)
			break;
		if (mr_check(m, r->local_node, 0, lkey, addr, seg_len, MODEL_ACCESS_LOCAL_WRITE) ==
		    NULL) {
			rsynd = MODEL_SYND_LOCAL_PROT;
			synd = MODEL_SYND_REMOTE_OP;
			break;
		}
		room += seg_len;
		n = len - off < seg_len ? len - off : seg_len;
		memcpy((void *)(uintptr_t)addr, data + off, n);
		off += n;
	}
	if (rsynd == 0 && data != NULL && off < len) {
		rsynd = MODEL_SYND_LOCAL_LENGTH;
		synd = MODEL_SYND_REMOTE_INVAL;
	}
	(void)room;
	r->rq_ci++;
	if (rsynd != 0) {
		r->err = 1;
		rcqe_write(r, CQE_OP_RESP_ERR, idx, 0, NULL, req->qpn, rsynd);
		return synd;
	}
	cqe_op = opcode == OP_RDMA_WRITE_IMM ? CQE_OP_RESP_WR_IMM
		 : opcode == OP_SEND_IMM     ? CQE_OP_RESP_SEND_IMM
					     : CQE_OP_RESP_SEND;
	rcqe_write(r, cqe_op, idx, len, opcode == OP_SEND ? NULL : imm, req->qpn, 0);
	m->st.recvs++;
	return 0;
}

/* ---- WQE execution ---- */

/* Copy @len bytes of the ring starting at WQEBB-relative byte @off, wrapping. */
static void
sq_read(const struct mlx5_model_qp *qp, size_t off, void *dst, size_t len)
{
	size_t ring = (size_t)qp->wqe_cnt * WQEBB;
	size_t first;

	off %= ring;
	first = len < ring - off ? len : ring - off;
	memcpy(dst, qp->sq + off, first);
	memcpy((uint8_t *)dst + first, qp->sq, len - first);
}

static const struct model_mr *
mr_check(struct mlx5_model *m, int node, int dev, uint32_t key, uint64_t addr, uint64_t len,
	 uint32_t access)
{
	unsigned int i;

	for (i = 0; i < m->nb_mrs; i++) {
		const struct model_mr *mr = &m->mrs[i];

		if (mr->node != node || mr->dev != dev || mr->key != key)
			continue;
		if (addr < mr->addr || addr + len > mr->addr + mr->len || addr + len < addr)
			return NULL;
		if ((mr->access & access) != access)
			return NULL;
		return mr;
	}
	return NULL;
}

static struct mlx5_model_qp *
qp_by_qpn(struct mlx5_model *m, uint32_t qpn)
{
	unsigned int i;

	for (i = 0; i < m->nb_qps; i++)
		if (m->qps[i]->qpn == qpn && !m->qps[i]->closed)
			return m->qps[i];
	return NULL;
}

/* The other end of a handshake QP's connection if both ends agree on it, as
 * a fabric would need: each names the other (QPN, and the GID of the other's
 * node), each sends from the PSN the other expects, with one path MTU. A
 * disagreement is the driver's (or the handshake's) fault: a violation. */
static const struct mlx5_model_qp *
qp_peer(struct mlx5_model_qp *qp)
{
	struct mlx5_model *m = qp->m;
	const struct mlx5_model_qp *r = qp_by_qpn(m, qp->dest_qpn);
	uint8_t gid[16], own[16];

	mlx5_model_gid(qp->local_node, own);
	if (r != NULL)
		mlx5_model_gid(r->local_node, gid);
	if (r == NULL || qp->dest_lid != 0 || memcmp(gid, qp->dest_gid, 16) != 0)
		violation(m, "QP 0x%x: no QP 0x%x on the node it names", qp->qpn, qp->dest_qpn);
	else if (r->state != QP_RTS || !r->handshake || r->dest_qpn != qp->qpn ||
		 memcmp(r->dest_gid, own, 16) != 0)
		violation(m, "QP 0x%x: QP 0x%x is not connected back to it", qp->qpn, r->qpn);
	else if (qp->sq_psn != r->rq_psn || r->sq_psn != qp->rq_psn)
		violation(m, "QP 0x%x <-> 0x%x: PSNs disagree (sq %06x rq %06x, sq %06x rq %06x)",
			  qp->qpn, r->qpn, qp->sq_psn, r->rq_psn, r->sq_psn, qp->rq_psn);
	else if (qp->path_mtu != r->path_mtu)
		violation(m, "QP 0x%x <-> 0x%x: path MTUs disagree (%u, %u)", qp->qpn, r->qpn,
			  qp->path_mtu, r->path_mtu);
	else
		return r;
	return NULL;
}

struct wqe_seg {
	int is_inline;
	uint32_t len;
	uint32_t lkey;
	uint64_t addr;
	size_t inline_off; /* ring byte offset of inline payload */
};

#define MAX_SEGS 64

/* Parse and execute the WQE at qp->ci. @return WQEBBs consumed, 0 to stop. */
static uint16_t
wqe_execute(struct mlx5_model_qp *qp)
{
	struct mlx5_model *m = qp->m;
	struct wqe_seg segs[MAX_SEGS];
	uint8_t hdr[32], unit[16];
	size_t base = (size_t)(qp->ci & (qp->wqe_cnt - 1)) * WQEBB;
	uint32_t w0, w1, ds, qpn, nsegs = 0, u, total = 0, i, rkey;
	uint8_t opmod, opcode, ce, synd = 0, imm[4];
	int remote_node, remote_dev, send_layout, needs_recv;
	uint32_t hdr_units;
	struct mlx5_model_qp *resp = NULL;
	uint8_t *payload = NULL;
	uint16_t idx, wqebbs;
	uint64_t raddr = 0;

	sq_read(qp, base, hdr, sizeof(hdr));
	w0 = rd32(hdr + CTRL_OPMOD_IDX_OP);
	w1 = rd32(hdr + CTRL_QPN_DS);
	opmod = (uint8_t)(w0 >> 24);
	idx = (uint16_t)(w0 >> 8);
	opcode = (uint8_t)w0;
	qpn = w1 >> 8;
	ds = w1 & 0x3f;
	ce = hdr[CTRL_FM_CE_SE];
	/* SEND and SEND with immediate: ctrl, then data (rdma-core qp.c); the
	 * RDMA opcodes put the raddr segment between. A wired QP (no responder
	 * QP) is parsed as RDMA and refuses them below. */
	send_layout = (opcode == OP_SEND || opcode == OP_SEND_IMM) && qp->handshake;
	needs_recv = opcode == OP_SEND || opcode == OP_SEND_IMM || opcode == OP_RDMA_WRITE_IMM;
	hdr_units = send_layout ? 1 : 2;
	memcpy(imm, hdr + CTRL_IMM, 4);
	if (idx != qp->ci)
		violation(m, "QP 0x%x: WQE at %u carries index %u", qp->qpn, qp->ci, idx);
	if (qp->state != QP_RTS)
		violation(m, "QP 0x%x: WQE %u posted before the QP is in RTS", qp->qpn, qp->ci);
	if (qpn != qp->qpn)
		violation(m, "QP 0x%x: WQE %u carries QPN 0x%x", qp->qpn, qp->ci, qpn);
	if (opmod != 0 || (w1 & 0xc0) != 0)
		violation(m, "QP 0x%x: WQE %u opmod/reserved ds bits set", qp->qpn, qp->ci);
	if (hdr[CTRL_SIGNATURE] != 0 || hdr[CTRL_STREAM] != 0 || hdr[CTRL_STREAM + 1] != 0)
		violation(m, "QP 0x%x: WQE %u dword 2 not zeroed (%02x %02x %02x)", qp->qpn, qp->ci,
			  hdr[8], hdr[9], hdr[10]);
	if ((ce & ~CE_ALWAYS) != 0)
		violation(m, "QP 0x%x: WQE %u fm_ce_se 0x%02x (fence/SE/CE mode unexpected)",
			  qp->qpn, qp->ci, ce);
	if (rd32(hdr + CTRL_IMM) != 0 && opcode != OP_SEND_IMM && opcode != OP_RDMA_WRITE_IMM)
		violation(m, "QP 0x%x: WQE %u immediate set on a non-IMM op", qp->qpn, qp->ci);
	if (ds < hdr_units + 1 || ds > 63) {
		violation(m, "QP 0x%x: WQE %u ds %u out of bounds", qp->qpn, qp->ci, ds);
		return 0;
	}
	wqebbs = (uint16_t)((ds * 16 + WQEBB - 1) / WQEBB);
	if ((uint16_t)(qp->target - qp->ci) < wqebbs) {
		violation(m, "QP 0x%x: WQE %u (%u WQEBBs) runs past the doorbell record %u",
			  qp->qpn, qp->ci, wqebbs, qp->target);
		return 0;
	}
	rkey = 0;
	if (!send_layout) {
		raddr = rd64(hdr + RADDR_OFF);
		rkey = rd32(hdr + RADDR_OFF + 8);
		if (rd32(hdr + RADDR_OFF + 12) != 0)
			violation(m, "QP 0x%x: WQE %u raddr reserved word not zero", qp->qpn,
				  qp->ci);
	}
	for (u = 0; u < ds - hdr_units;) {
		struct wqe_seg *s = &segs[nsegs];
		size_t at = base + (size_t)hdr_units * 16 + (size_t)u * 16;

		sq_read(qp, at, unit, sizeof(unit));
		w0 = rd32(unit);
		if (w0 & INLINE_BIT) {
			s->is_inline = 1;
			s->len = w0 & ~INLINE_BIT;
			s->inline_off = at + 4;
			if (opcode == OP_RDMA_READ)
				violation(m, "QP 0x%x: WQE %u inline data on opcode 0x%x", qp->qpn,
					  qp->ci, opcode);
			u += (4 + s->len + 15) / 16;
			if (u > ds - hdr_units) {
				violation(m, "QP 0x%x: WQE %u inline %u bytes overruns ds %u",
					  qp->qpn, qp->ci, s->len, ds);
				return 0;
			}
		} else {
			s->is_inline = 0;
			s->len = w0;
			s->lkey = rd32(unit + 4);
			s->addr = rd64(unit + 8);
			if (s->len == 0)
				violation(m, "QP 0x%x: WQE %u zero-length data segment", qp->qpn,
					  qp->ci);
			u++;
		}
		total += s->len;
		nsegs++;
	}
	if (qp->err) {
		cqe_write(qp, CQE_OP_REQ_ERR, opcode, idx, 0, MODEL_SYND_WR_FLUSH);
		return wqebbs;
	}
	remote_node = qp->remote_node;
	remote_dev = qp->handshake ? 0 : qp->remote_dev;
	/* A cut wire answers nothing: the requester retries until it gives up. */
	if (!qp->handshake && remote_node != qp->local_node &&
	    __atomic_load_n(&m->wire_down[remote_node][remote_dev], __ATOMIC_ACQUIRE))
		synd = MODEL_SYND_RETRY_EXC;
	if (qp->handshake) {
		const struct mlx5_model_qp *peer = qp_peer(qp);

		/* No answer from a QP that is not this one's other end: the
		 * requester retries until it gives up. */
		if (peer == NULL)
			synd = MODEL_SYND_RETRY_EXC;
		else
			remote_node = peer->local_node;
	}
	if (synd == 0 && opcode != OP_RDMA_WRITE && opcode != OP_RDMA_READ &&
	    !(needs_recv && qp->handshake))
		synd = MODEL_SYND_LOCAL_QP_OP;
	if (synd == 0 && qp->fail_armed && qp->executed == qp->fail_at)
		synd = qp->fail_synd;
	for (i = 0; i < nsegs && synd == 0; i++) {
		const struct wqe_seg *s = &segs[i];

		if (!s->is_inline &&
		    mr_check(m, qp->local_node, 0, s->lkey, s->addr, s->len,
			     opcode == OP_RDMA_READ ? MODEL_ACCESS_LOCAL_WRITE : 0) == NULL)
			synd = MODEL_SYND_LOCAL_PROT;
	}
	if (synd == 0 && !send_layout &&
	    mr_check(m, remote_node, remote_dev, rkey, raddr, total,
		     opcode == OP_RDMA_READ ? MODEL_ACCESS_REMOTE_READ
					    : MODEL_ACCESS_REMOTE_WRITE) == NULL)
		synd = MODEL_SYND_REMOTE_ACCESS;
	if (synd == 0 && needs_recv) {
		/* The responder needs a RECV: without one it answers RNR NAK and the
		 * requester retries the WQE (one model step is the RNR timer), up
		 * to rnr_retry times (7: forever), then fails it RNR_RETRY_EXC. */
		resp = (struct mlx5_model_qp *)qp_peer(qp);
		synd = resp != NULL ? resp_ready(resp) : MODEL_SYND_RETRY_EXC;
		if (synd == RESP_RNR) {
			m->st.rnr_naks++;
			if (qp->rnr_retry == 7 || qp->rnr_tries < qp->rnr_retry) {
				qp->rnr_tries++;
				qp->stalled = 1;
				return 0;
			}
			synd = MODEL_SYND_RNR_RETRY_EXC;
		}
	}
	qp->stalled = 0;
	qp->rnr_tries = 0;
	if (synd == 0 && send_layout) {
		/* Gather the SEND's payload for the responder's scatter list. */
		uint32_t off = 0;

		payload = malloc(total + 1);
		if (payload == NULL)
			abort();
		for (i = 0; i < nsegs; i++) {
			const struct wqe_seg *s = &segs[i];

			if (s->is_inline)
				sq_read(qp, s->inline_off, payload + off, s->len);
			else
				memcpy(payload + off, (void *)(uintptr_t)s->addr, s->len);
			off += s->len;
		}
		synd = resp_consume(resp, qp, opcode, payload, total, imm);
		free(payload);
	}
	if (synd != 0) {
		if (qp->fail_armed && qp->executed == qp->fail_at)
			qp->fail_armed = 0;
		qp->executed++;
		qp->err = 1;
		cqe_write(qp, CQE_OP_REQ_ERR, opcode, idx, 0, synd);
		if (__atomic_load_n(&qp->hold_after_error, __ATOMIC_ACQUIRE))
			__atomic_store_n(&qp->hold, 1, __ATOMIC_RELEASE);
		return wqebbs;
	}
	for (i = 0; i < nsegs && !send_layout; i++) {
		const struct wqe_seg *s = &segs[i];
		uint8_t *remote = (uint8_t *)(uintptr_t)raddr;

		if (s->is_inline) {
			sq_read(qp, s->inline_off, remote, s->len);
			m->st.inline_wqes++;
		} else if (opcode == OP_RDMA_WRITE || opcode == OP_RDMA_WRITE_IMM) {
			memmove(remote, (void *)(uintptr_t)s->addr, s->len);
		} else {
			memmove((void *)(uintptr_t)s->addr, remote, s->len);
		}
		raddr += s->len;
	}
	if (opcode == OP_RDMA_WRITE_IMM) {
		/* The data has landed; the immediate consumes a RECV. */
		synd = resp_consume(resp, qp, opcode, NULL, total, imm);
		if (synd != 0) {
			qp->executed++;
			qp->err = 1;
			cqe_write(qp, CQE_OP_REQ_ERR, opcode, idx, 0, synd);
			return wqebbs;
		}
	}
	m->st.bytes += total;
	m->st.wqes++;
	qp->executed++;
	if (ce & CE_ALWAYS)
		cqe_write(qp, CQE_OP_REQ, opcode, idx, opcode == OP_RDMA_READ ? total : 0, 0);
	return wqebbs;
}

/* Take the doorbells rung since the last look: one BlueFlame half at a time,
 * in toggle order. */
static int
qp_doorbells(struct mlx5_model_qp *qp)
{
	struct mlx5_model *m = qp->m;
	int taken = 0;

	for (;;) {
		uint64_t *half = (uint64_t *)(qp->bf + qp->bf_half);
		uint64_t *other = (uint64_t *)(qp->bf + (qp->bf_half ^ qp->bf_size));
		uint64_t v = __atomic_exchange_n(half, POISON, __ATOMIC_ACQ_REL);
		uint8_t bytes[8], wqe[8];
		uint16_t rec, idx, wqebbs;
		uint32_t ds;

		if (v == POISON) {
			if (qp->bf_size == 0 || __atomic_load_n(other, __ATOMIC_ACQUIRE) == POISON)
				break;
			if (!m->threaded) {
				violation(
					m,
					"QP 0x%x: doorbell written to BlueFlame half %u, expected "
					"%u (toggle)",
					qp->qpn, qp->bf_half ^ qp->bf_size, qp->bf_half);
				break;
			}
			/* A device thread descheduled while the driver rang three
			 * doorbells finds a half written twice: hardware takes every
			 * write, this mailbox kept the last. The record still covers
			 * the work; follow the toggle to the half that holds one. */
			qp->bf_half ^= qp->bf_size;
			continue;
		}
		taken++;
		m->st.doorbells++;
		memcpy(bytes, &v, 8);
		idx = (uint16_t)(rd32(bytes) >> 8);
		ds = rd32(bytes + 4) & 0x3f;
		wqebbs = (uint16_t)((ds * 16 + WQEBB - 1) / WQEBB);
		rec = (uint16_t)rd32((const uint8_t *)&qp->dbrec[1]);
		sq_read(qp, (size_t)(idx & (qp->wqe_cnt - 1)) * WQEBB, wqe, 8);
		if (memcmp(wqe, bytes, 8) != 0)
			violation(m, "QP 0x%x: doorbell bytes differ from WQE %u's first 8 bytes",
				  qp->qpn, idx);
		/* The record must already cover the WQE the doorbell names. */
		if ((uint16_t)(rec - qp->ci) < (uint16_t)(idx + wqebbs - qp->ci) ||
		    (uint16_t)(rec - qp->ci) > qp->wqe_cnt)
			violation(m,
				  "QP 0x%x: doorbell for WQE %u but doorbell record is %u "
				  "(record not written first)",
				  qp->qpn, idx, rec);
		else if ((uint16_t)(rec - qp->ci) > (uint16_t)(qp->target - qp->ci))
			qp->target = rec;
		qp->bf_half ^= qp->bf_size;
	}
	if (!m->threaded && (uint16_t)rd32((const uint8_t *)&qp->dbrec[1]) != qp->target)
		violation(m, "QP 0x%x: doorbell record %u advanced without a doorbell (%u)",
			  qp->qpn, (uint16_t)rd32((const uint8_t *)&qp->dbrec[1]), qp->target);
	return taken;
}

static int
qp_step(struct mlx5_model_qp *qp)
{
	uint32_t budget = __atomic_load_n(&qp->budget, __ATOMIC_ACQUIRE);
	uint32_t n = 0;
	int work;

	if (qp->closed || qp->sq == NULL)
		return 0;
	work = qp_doorbells(qp);
	while (qp->ci != qp->target && (budget == 0 || n < budget) &&
	       !__atomic_load_n(&qp->hold, __ATOMIC_ACQUIRE)) {
		uint16_t used = wqe_execute(qp);
		uint16_t before = qp->ci;

		if (used == 0 && qp->stalled)
			break; /* RNR: retried on the next step */
		if (used == 0) {
			/* Unparseable: the device would stop; so do we. */
			qp->ci = qp->target;
			break;
		}
		qp->ci += used;
		if ((uint16_t)(before & ~(qp->wqe_cnt - 1)) !=
		    (uint16_t)(qp->ci & ~(qp->wqe_cnt - 1)))
			qp->m->st.sq_wraps++;
		n++;
		work = 1;
	}
	return work;
}

void
mlx5_model_step(struct mlx5_model *m)
{
	unsigned int i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nb_qps; i++)
		qp_step(m->qps[i]);
	pthread_mutex_unlock(&m->lock);
}

static void *
model_thread(void *arg)
{
	struct mlx5_model *m = arg;
	unsigned int i;
	int work;

	while (m->running) {
		work = 0;
		pthread_mutex_lock(&m->lock);
		for (i = 0; i < m->nb_qps; i++)
			work |= qp_step(m->qps[i]);
		pthread_mutex_unlock(&m->lock);
		if (!work)
			sched_yield();
	}
	return NULL;
}

void
mlx5_model_start(struct mlx5_model *m)
{
	if (m->running)
		return;
	m->threaded = 1;
	m->running = 1;
	if (pthread_create(&m->thread, NULL, model_thread, m) != 0)
		abort();
}

void
mlx5_model_stop(struct mlx5_model *m)
{
	if (!m->running)
		return;
	m->running = 0;
	pthread_join(m->thread, NULL);
	m->threaded = 0;
}

/* ---- the provider: the model under the driver ---- */

static void
prov_shutdown(void *ctx)
{
	struct mlx5_model *m = ctx;

	m->shutdowns++;
}

static int
prov_probe(void *ctx)
{
	struct mlx5_model *m = ctx;

	return m->present ? 0 : -ENODEV;
}

static int
prov_cq_open(void *ctx, unsigned int lcore_id, uint32_t cqe_cnt, struct tern_mlx5_cq_view *view,
	     void **handle)
{
	struct mlx5_model *m = ctx;
	struct model_cq *cq = calloc(1, sizeof(*cq));
	uint32_t n = 2, i;

	(void)lcore_id;
	if (m->fail_ops & MODEL_FAIL_CQ_OPEN) {
		free(cq);
		return -ENOMEM;
	}
	if (cq == NULL)
		return -ENOMEM;
	while (n < cqe_cnt)
		n <<= 1;
	cq->cqe_cnt = n;
	cq->cqe_size = 64;
	cq->buf = guarded_map(&cq->map, (size_t)n * cq->cqe_size);
	/* As the provider does: every CQE INVALID, owner 0. */
	for (i = 0; i < n; i++)
		cq->buf[(size_t)i * cq->cqe_size + cq->cqe_size - 1] = CQE_OP_INVALID << 4;
	cq->dbrec = (uint32_t *)guarded_map(&cq->dbmap, 8);
	pthread_mutex_lock(&m->lock);
	if (m->nb_cqs == MAX_Q)
		abort();
	m->cqs[m->nb_cqs++] = cq;
	pthread_mutex_unlock(&m->lock);
	view->buf = cq->buf;
	view->cqe_cnt = n;
	view->cqe_size = m->fail_ops & MODEL_BAD_CQ_VIEW ? 32 : cq->cqe_size;
	view->dbrec = cq->dbrec;
	*handle = cq;
	return 0;
}

static void
prov_cq_close(void *ctx, void *handle)
{
	struct mlx5_model *m = ctx;
	unsigned int i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nb_cqs; i++)
		if (m->cqs[i] == handle) {
			cq_free(handle);
			m->cqs[i] = NULL;
		}
	pthread_mutex_unlock(&m->lock);
}

static uint32_t
psn_next(struct mlx5_model *m)
{
	m->psn_seed = m->psn_seed * 1103515245u + 12345u;
	return (m->psn_seed >> 4) & 0xffffff;
}

/*
 * The SQ rdma-core would make for what the verbs provider asks when the
 * data path wants @wanted WQEBBs with @max_inline bytes inline: the driver's
 * own request (mlx5_verbs_sq_attr()) through rdma-core's formulas, grown by
 * the model's factor. The model grants that, not what was asked, so a driver
 * that only works when granted exactly its wish fails here as on hardware.
 * @return 0 or -EINVAL (rdma-core would refuse the QP).
 */
static int
sq_granted(struct mlx5_model *m, uint32_t wanted, uint32_t *wqe_cnt, uint32_t *max_inline)
{
	struct ibv_qp_init_attr_ex attr;
	int rc;

	if (m->sq_exact) {
		*wqe_cnt = wanted;
		return wanted >= 4 && (wanted & (wanted - 1)) == 0 ? 0 : -EINVAL;
	}
	memset(&attr, 0, sizeof(attr));
	attr.qp_type = IBV_QPT_RC;
	attr.comp_mask = IBV_QP_INIT_ATTR_PD;
	mlx5_verbs_sq_attr(wanted, *max_inline, &attr);
	rc = mlx5_model_sq_size(&attr, m->max_sq_desc_sz, m->max_send_wqebb, wqe_cnt, max_inline);
	if (rc != 0 || *wqe_cnt == 0 || (uint64_t)*wqe_cnt * m->sq_grow > m->max_send_wqebb)
		return -EINVAL;
	*wqe_cnt *= m->sq_grow;
	return 0;
}

/* A QP on the current node: with an SQ ring when @cq is given (an initiator's),
 * sized the way rdma-core sizes it (sq_granted()), without (a target's, which
 * only answers). NULL: rdma-core would refuse the QP. */
static struct mlx5_model_qp *
qp_new(struct mlx5_model *m, void *cq, uint32_t wanted, struct tern_mlx5_sq_view *view)
{
	struct mlx5_model_qp *qp;
	uint32_t wqe_cnt = 0, max_inline = 0;

	if (cq != NULL) {
		max_inline = view->max_inline;
		if (sq_granted(m, wanted, &wqe_cnt, &max_inline) != 0)
			return NULL;
	}
	qp = calloc(1, sizeof(*qp));
	if (qp == NULL)
		abort();
	qp->m = m;
	qp->cq = cq;
	qp->local_node = cur_node(m);
	qp->remote_node = qp->local_node;
	qp->rnr_retry = 7;
	if (cq != NULL) {
		qp->wqe_cnt = wqe_cnt;
		qp->sq = guarded_map(&qp->map, (size_t)wqe_cnt * WQEBB);
		/* stale garbage, as a reused ring */
		memset(qp->sq, 0xee, (size_t)wqe_cnt * WQEBB);
		qp->dbrec = (uint32_t *)guarded_map(&qp->dbmap, 8);
		qp->bf = guarded_map(&qp->bfmap, 4096);
		memset(qp->bf, 0xa5, 4096);
		qp->bf_size = 256;
	}
	pthread_mutex_lock(&m->lock);
	if (m->nb_qps == MAX_Q)
		abort();
	qp->qpn = m->next_qpn++;
	m->qps[m->nb_qps++] = qp;
	pthread_mutex_unlock(&m->lock);
	if (cq != NULL) {
		view->buf = qp->sq;
		view->wqe_cnt = wqe_cnt;
		view->stride = m->fail_ops & MODEL_BAD_QP_VIEW ? 128 : WQEBB;
		view->qpn = qp->qpn;
		view->dbrec = &qp->dbrec[1];
		view->bf_reg = qp->bf;
		view->bf_size = qp->bf_size;
		if (max_inline < view->max_inline)
			view->max_inline = max_inline;
	}
	return qp;
}

static int
prov_qp_open(void *ctx, void *cq, unsigned int lcore_id, uint16_t peer, const uint8_t *peer_gid,
	     uint32_t wqe_cnt, struct tern_mlx5_sq_view *view, void **handle)
{
	struct mlx5_model *m = ctx;
	struct mlx5_model_qp *qp;

	(void)lcore_id;
	if (m->fail_ops & MODEL_FAIL_QP_OPEN)
		return -EIO;
	if (peer != TERN_MLX5_PEER_SELF && m->unwired)
		return -ENOTCONN;
	/* Node 1 is wired to this node without a handshake. */
	qp = qp_new(m, cq, wqe_cnt, view);
	if (qp == NULL)
		return -EINVAL;
	qp->remote_node = peer == TERN_MLX5_PEER_SELF ? qp->local_node : 1;
	/* The device of node 1 its GID names (mlx5_model_dev_gid()). */
	if (peer != TERN_MLX5_PEER_SELF && peer_gid != NULL && peer_gid[13] < MODEL_DEVS)
		qp->remote_dev = peer_gid[13];
	qp->state = QP_RTS;
	*handle = qp;
	return 0;
}

static void
port_params(struct mlx5_model *m, int node, struct tern_mlx5_conn_params *p)
{
	memset(p, 0, sizeof(*p));
	mlx5_model_gid(node, p->gid);
	p->mtu = m->mtu[node];
	p->port = 1;
	p->gid_index = 3;
}

static int
prov_port_info(void *ctx, struct tern_mlx5_conn_params *port)
{
	struct mlx5_model *m = ctx;

	port_params(m, cur_node(m), port);
	return 0;
}

static int
prov_qp_create(void *ctx, void *cq, uint32_t wqe_cnt, struct tern_mlx5_sq_view *view,
	       struct tern_mlx5_conn_params *local, void **handle)
{
	struct mlx5_model *m = ctx;
	struct mlx5_model_qp *qp;

	if (m->fail_ops & MODEL_FAIL_QP_OPEN)
		return -EIO;
	qp = qp_new(m, cq, wqe_cnt, view);
	if (qp == NULL)
		return -EINVAL;
	qp->handshake = 1;
	qp->state = QP_INIT;
	pthread_mutex_lock(&m->lock);
	qp->sq_psn = psn_next(m);
	pthread_mutex_unlock(&m->lock);
	port_params(m, qp->local_node, local);
	local->qpn = qp->qpn;
	local->psn = qp->sq_psn;
	*handle = qp;
	return 0;
}

/* qp_create() with a receive queue on @recv_cq: @rq_cnt RECV WQEs (rounded
 * up to a power of two, and to at least 64 bytes of ring, as rdma-core's
 * mlx5_calc_rq_size() does) of one scatter entry, 16 bytes each (max_recv_sge
 * 1, no signature). */
static int
prov_qp_create_rq(void *ctx, void *cq, void *recv_cq, uint32_t wqe_cnt,
		  struct tern_mlx5_sq_view *view, uint32_t rq_cnt, struct tern_mlx5_rq_view *rq,
		  struct tern_mlx5_conn_params *local, void **handle)
{
	struct mlx5_model *m = ctx;
	struct mlx5_model_qp *qp;
	uint32_t n = 1;
	int rc;

	if (recv_cq == NULL || rq == NULL || rq_cnt == 0 || rq_cnt > 32768)
		return -EINVAL;
	while (n < rq_cnt)
		n <<= 1;
	if (n < WQEBB / 16)
		n = WQEBB / 16; /* the ring is at least one WQEBB */
	rc = prov_qp_create(ctx, cq, wqe_cnt, view, local, handle);
	if (rc != 0)
		return rc;
	qp = *handle;
	pthread_mutex_lock(&m->lock);
	qp->rcq = recv_cq;
	qp->rq_cnt = n;
	qp->rq_stride = 16;
	qp->rq = guarded_map(&qp->rqmap, (size_t)n * qp->rq_stride);
	memset(qp->rq, 0xee, (size_t)n * qp->rq_stride);
	if (qp->dbrec == NULL)
		qp->dbrec = (uint32_t *)guarded_map(&qp->dbmap, 8);
	pthread_mutex_unlock(&m->lock);
	rq->buf = qp->rq;
	rq->wqe_cnt = n;
	rq->stride = qp->rq_stride;
	rq->dbrec = &qp->dbrec[0];
	return 0;
}

void
mlx5_model_qp_rnr_retry(struct mlx5_model_qp *qp, uint8_t retry)
{
	__atomic_store_n(&qp->rnr_retry, retry, __ATOMIC_RELEASE);
}

uint32_t
mlx5_model_qp_qpn(struct mlx5_model_qp *qp)
{
	return qp->qpn;
}

static int
prov_qp_connect(void *ctx, void *handle, const struct tern_mlx5_conn_params *remote)
{
	struct mlx5_model *m = ctx;
	struct mlx5_model_qp *qp = handle;
	int rc = 0;

	if (m->fail_ops & MODEL_FAIL_QP_CONNECT)
		return -EIO;
	pthread_mutex_lock(&m->lock);
	if (qp->state != QP_INIT || !qp->handshake) {
		/* ibv_modify_qp() refuses INIT->RTR from any other state. */
		rc = -EINVAL;
	} else if (remote->mtu < 1 || remote->mtu > 5 || remote->qpn > 0xffffff ||
		   remote->psn > 0xffffff) {
		violation(m, "QP 0x%x: connected with qpn 0x%x psn 0x%x mtu %u", qp->qpn,
			  remote->qpn, remote->psn, remote->mtu);
		rc = -EINVAL;
	} else {
		qp->dest_qpn = remote->qpn;
		memcpy(qp->dest_gid, remote->gid, 16);
		qp->dest_lid = remote->lid;
		qp->rq_psn = remote->psn;
		qp->path_mtu =
			remote->mtu < m->mtu[qp->local_node] ? remote->mtu : m->mtu[qp->local_node];
		qp->state = QP_RTS;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int
prov_qp_reset(void *ctx, void *handle, struct tern_mlx5_conn_params *local)
{
	struct mlx5_model *m = ctx;
	struct mlx5_model_qp *qp = handle;

	pthread_mutex_lock(&m->lock);
	if (qp->ci != qp->target)
		violation(m, "QP 0x%x: reset with WQEs %u..%u not completed", qp->qpn, qp->ci,
			  qp->target);
	/* RESET, then INIT: indices restart at 0, a fresh PSN. */
	qp->err = 0;
	qp->ci = 0;
	qp->target = 0;
	if (qp->dbrec != NULL)
		qp->dbrec[1] = 0;
	/* The RQ too (rdma-core's mlx5_modify_qp() to RESET clears both
	 * records and the RQ indices): the driver posts its RECVs again. */
	qp->rq_ci = 0;
	if (qp->rq != NULL)
		qp->dbrec[0] = 0;
	qp->state = QP_INIT;
	qp->dest_qpn = 0;
	qp->sq_psn = psn_next(m);
	port_params(m, qp->local_node, local);
	local->qpn = qp->qpn;
	local->psn = qp->sq_psn;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int
prov_qp_flush(void *ctx, void *handle)
{
	struct mlx5_model *m = ctx;
	struct mlx5_model_qp *qp = handle;

	if (m->fail_ops & MODEL_FAIL_FLUSH)
		return -EIO;
	pthread_mutex_lock(&m->lock);
	qp->err = 1;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int
prov_qp_recover(void *ctx, void *handle)
{
	struct mlx5_model *m = ctx;
	struct mlx5_model_qp *qp = handle;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	if (qp->handshake) {
		rc = -ENOTCONN; /* as the verbs provider: the peer must take part */
	} else if (qp->fail_recovery) {
		rc = -ETIMEDOUT;
	} else {
		if (qp->ci != qp->target)
			violation(m, "QP 0x%x: reset with WQEs %u..%u not completed", qp->qpn,
				  qp->ci, qp->target);
		/* RESET: indices restart at 0, the provider clears the record. */
		qp->err = 0;
		qp->ci = 0;
		qp->target = 0;
		qp->dbrec[1] = 0;
		qp->rq_ci = 0;
		if (qp->rq != NULL)
			qp->dbrec[0] = 0;
		m->st.resets++;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static void
prov_qp_close(void *ctx, void *handle)
{
	struct mlx5_model *m = ctx;
	struct mlx5_model_qp *qp = handle;

	pthread_mutex_lock(&m->lock);
	/* Kept mapped until the model goes: a late device access must not fault. */
	qp->closed = 1;
	pthread_mutex_unlock(&m->lock);
}

static int
prov_mr_register(void *ctx, void *addr, uint64_t len, uint64_t *start, uint64_t *end,
		 uint32_t *lkey, uint32_t *rkey, void **handle)
{
	struct mlx5_model *m = ctx;
	/* Whole pages, as the verbs provider registers ordinary memory. */
	uint64_t first = (uintptr_t)addr & ~4095ull;
	uint64_t last = ((uintptr_t)addr + len + 4095) & ~4095ull;
	uint32_t key;

	if (m->fail_ops & MODEL_FAIL_MR_REG)
		return -ENOMEM;
	key = mlx5_model_mr_add(m, cur_node(m), (void *)(uintptr_t)first, last - first,
				MODEL_ACCESS_ALL);
	*start = first;
	*end = last + m->mr_slack;
	*lkey = key;
	*rkey = key;
	*handle = NULL;
	return 0;
}

static void
prov_mr_deregister(void *ctx, void *handle)
{
	(void)ctx;
	(void)handle;
}

const struct tern_mlx5_provider mlx5_model_provider = {
	.probe = prov_probe,
	.shutdown = prov_shutdown,
	.cq_open = prov_cq_open,
	.cq_close = prov_cq_close,
	.qp_open = prov_qp_open,
	.qp_create = prov_qp_create,
	.qp_create_rq = prov_qp_create_rq,
	.qp_connect = prov_qp_connect,
	.qp_reset = prov_qp_reset,
	.qp_flush = prov_qp_flush,
	.qp_recover = prov_qp_recover,
	.qp_close = prov_qp_close,
	.mr_register = prov_mr_register,
	.mr_deregister = prov_mr_deregister,
	.port_info = prov_port_info,
};
