/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection set-up of the mlx5 transport with another node (tern_mlx5.h):
 * the handshake messages (wire format in doc/mlx5.md), the QPs this node
 * made as a target for initiators' QPs, and the initiator's QPs waiting for
 * their reply. Control path only, under the control-path lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_malloc.h>
#include <rte_random.h>
#include <rte_spinlock.h>

#include "mlx5_connect.h"
#include "mlx5_ctl.h"
#include "mlx5_notify.h"
#include "mlx5_wire.h"
#include "tern_mlx5.h"
#include "tern_mlx5_internal.h"

/* Initiator QPs this node answers as a target at once. */
#define TARGET_QP_MAX 512

/* A QP this node made for one initiator QP. */
struct target_qp {
	uint8_t gid[16];   /* the initiator's node */
	uint32_t peer_qpn; /* the initiator's QP */
	void *qp;
	int nq; /* its index in the notify node's QPs, -1: takes no notifications */
};

/*
 * The target side of notifications (doc/mlx5.md, "Notifications"): target
 * QPs made while the node has a notification queue get an SQ (the status
 * answers) and an RQ, on the node's CQ pair; one lcore at a time serves them
 * (mlx5_notify_node_poll()). The lock keeps the control path (adding a QP,
 * resetting one for a new handshake) and that lcore apart; the lcore only
 * tries it.
 */
#define NODE_SQ_CNT  64u
#define NODE_RQ_CNT  64u
#define NODE_SCQ_CNT 256u
#define NODE_RCQ_CNT (MLX5_NOTIFY_QP_MAX * NODE_RQ_CNT)

struct notify_node {
	rte_spinlock_t lock;
	void *scq_h, *rcq_h;
	struct mlx5_cq scq;
	struct mlx5_notify_rx rx;
	unsigned int nb;
	void *qp[MLX5_NOTIFY_QP_MAX];
	struct mlx5_sq sq[MLX5_NOTIFY_QP_MAX];
	struct mlx5_rq rq[MLX5_NOTIFY_QP_MAX];
	struct tern_mlx5_rq_view rqv[MLX5_NOTIFY_QP_MAX];
	struct mlx5_slot slots[MLX5_NOTIFY_QP_MAX][NODE_SQ_CNT];
	uint8_t *bufs; /* MLX5_NOTIFY_QP_MAX x NODE_RQ_CNT buffers */
	uint32_t lkey;
};

/* A request waiting for its reply; one per peer slot, nonce 0 when none. */
struct pending {
	uint64_t nonce;
	uint16_t count;
	struct {
		struct mlx5_endpoint *ep;
		struct mlx5_sq *sq;
		uint32_t qpn;
		uint8_t revive; /* the endpoint's dead QP, reset for this handshake */
	} qp[TERN_MLX5_CONNECT_QP_MAX];
};

static struct target_qp targets[TARGET_QP_MAX];
static unsigned int nb_targets;
static struct notify_node *nnode; /* published with a release store */
static void *node_queue;	  /* struct tern_notify_queue, set by configure() */
static struct pending pending[TERN_MLX5_PEER_MAX];
/* This node's incarnation as a target (mlx5_connect_epoch()); 0: not drawn yet. */
static uint64_t epoch;

/* Refuse a message that decodes but does not fit: log why. */
static int
reject(const char *why)
{
	TERN_MLX5_LOG(NOTICE, "connect: message refused: %s", why);
	return -EINVAL;
}

/* Decode a handshake message, logging why one is refused. */
static int
connect_decode(const void *buf, size_t len, uint8_t type, struct tern_mlx5_connect_msg *m)
{
	const char *why = NULL;
	int rc = mlx5_connect_decode(buf, len, type, m, &why);

	if (rc == -EPROTO)
		TERN_MLX5_LOG(NOTICE, "connect: message refused: version %u, not %u",
			      ((const uint8_t *)buf)[4], TERN_MLX5_CONNECT_VERSION);
	else if (rc != 0 && why != NULL)
		TERN_MLX5_LOG(NOTICE, "connect: message refused: %s", why);
	return rc;
}

/* ---- initiator ---- */

/* Forget a request: its new QPs are destroyed, the dead QPs it was to revive
 * stay dead with their endpoints. */
static void
pending_drop(struct pending *pd)
{
	uint16_t i;

	for (i = 0; i < pd->count; i++)
		if (!pd->qp[i].revive)
			mlx5_ep_sq_free(pd->qp[i].sq);
	pd->nonce = 0;
	pd->count = 0;
	mlx5_peer_set_handshake_locked((uint16_t)(pd - pending), 0);
}

static uint64_t
nonce_new(void)
{
	uint64_t n;
	unsigned int p;
	bool taken;

	do {
		n = rte_rand();
		for (p = 0, taken = n == 0; p < RTE_DIM(pending) && !taken; p++)
			taken = pending[p].nonce == n;
	} while (taken);
	return n;
}

/* Does @p ep need a handshake for a QP to @p peer? *sq is then its dead QP
 * to revive, or NULL for a new one. */
static bool
ep_needs_qp(const struct mlx5_endpoint *ep, uint16_t peer, struct mlx5_sq **sq)
{
	*sq = __atomic_load_n(&ep->qps[peer], __ATOMIC_ACQUIRE);
	return *sq == NULL || __atomic_load_n(&(*sq)->dead, __ATOMIC_ACQUIRE);
}

int
tern_mlx5_connect_request_build(const uint8_t peer_gid[16], void *req, size_t req_len)
{
	struct tern_mlx5_connect_msg m;
	struct tern_mlx5_conn_params port, local;
	struct pending *pd;
	struct mlx5_sq *sq;
	unsigned int i, need = 0;
	int peer = -1, rc = 0;

	if (peer_gid == NULL || req == NULL)
		return -EINVAL;
	if (!mlx5_probed())
		return -ENODEV;
	if (!mlx5_gid_unicast(peer_gid))
		return -EINVAL;
	mlx5_ctl_lock();
	/* Probed again under the lock: the last endpoint may have closed the device. */
	if (!mlx5_probed() || mlx5_prov()->port_info(mlx5_prov_ctx(), &port) != 0) {
		rc = -ENODEV;
		goto out;
	}
	peer = mlx5_peer_get_locked(peer_gid, 0);
	if (peer <= TERN_MLX5_PEER_SELF) {
		rc = peer < 0 ? peer : -EINVAL; /* this node: loopback needs none */
		goto out;
	}
	pd = &pending[peer];
	pending_drop(pd);
	for (i = 0; i < mlx5_ep_count_locked(); i++)
		need += ep_needs_qp(mlx5_ep_at_locked(i), (uint16_t)peer, &sq);
	need = RTE_MIN(need, (unsigned int)TERN_MLX5_CONNECT_QP_MAX);
	if (need == 0) {
		rc = -EALREADY;
		goto out;
	}
	if (req_len < TERN_MLX5_CONNECT_HDR + (size_t)need * TERN_MLX5_CONNECT_REQ_ENTRY) {
		rc = -ENOSPC;
		goto out;
	}
	memset(&m, 0, sizeof(m));
	for (i = 0; i < mlx5_ep_count_locked() && pd->count < need; i++) {
		struct mlx5_endpoint *ep = mlx5_ep_at_locked(i);
		bool revive;

		if (!ep_needs_qp(ep, (uint16_t)peer, &sq))
			continue;
		revive = sq != NULL;
		if (revive)
			rc = mlx5_prov()->qp_reset(mlx5_prov_ctx(), sq->handle, &local);
		else
			sq = mlx5_ep_sq_create(ep, (uint16_t)peer, &local, &rc);
		if (rc != 0) {
			TERN_MLX5_LOG(ERR, "connect: lcore %u: no QP to peer %d: %s", ep->lcore_id,
				      peer, strerror(-rc));
			pending_drop(pd);
			goto out;
		}
		pd->qp[pd->count].ep = ep;
		pd->qp[pd->count].sq = sq;
		pd->qp[pd->count].qpn = local.qpn;
		pd->qp[pd->count].revive = revive;
		m.qp[pd->count].qpn = local.qpn;
		m.qp[pd->count].psn = local.psn;
		pd->count++;
	}
	pd->nonce = nonce_new();
	mlx5_peer_set_handshake_locked((uint16_t)peer, 1);
	m.type = TERN_MLX5_CONNECT_REQUEST;
	m.count = pd->count;
	m.nonce = pd->nonce;
	memcpy(m.gid, port.gid, 16);
	m.lid = port.lid;
	m.mtu = port.mtu;
	rc = mlx5_connect_encode(&m, req, req_len);
	TERN_MLX5_LOG(INFO, "connect: request to peer %d for %u QPs", peer, pd->count);
out:
	if (rc < 0 && peer > TERN_MLX5_PEER_SELF)
		mlx5_peer_trim_locked((uint16_t)peer); /* a new peer that got nothing */
	mlx5_ctl_unlock();
	return rc;
}

int
tern_mlx5_connect_complete(const void *reply, size_t reply_len)
{
	struct tern_mlx5_connect_msg m;
	struct tern_mlx5_conn_params remote;
	struct pending *pd = NULL;
	uint16_t peer, i;
	int rc, first = 0;

	if (reply == NULL)
		return -EINVAL;
	if (!mlx5_probed())
		return -ENODEV;
	rc = connect_decode(reply, reply_len, TERN_MLX5_CONNECT_REPLY, &m);
	if (rc != 0)
		return rc;
	mlx5_ctl_lock();
	if (!mlx5_probed()) {
		rc = -ENODEV;
		goto out;
	}
	for (peer = 1; peer < TERN_MLX5_PEER_MAX; peer++)
		if (pending[peer].nonce == m.nonce) {
			pd = &pending[peer];
			break;
		}
	if (pd == NULL) {
		rc = -ENOENT;
		goto out;
	}
	/* The answer to this request: from its node, for its QPs, in order. */
	rc = memcmp(m.gid, mlx5_peer_gid(peer), 16) != 0 || m.count != pd->count
		     ? reject("reply from another node, or for other QPs")
		     : 0;
	for (i = 0; i < m.count && rc == 0; i++)
		if (m.qp[i].peer_qpn != pd->qp[i].qpn)
			rc = reject("reply for other QPs");
	if (rc != 0)
		goto out; /* the request still waits for its own reply */
	memset(&remote, 0, sizeof(remote));
	memcpy(remote.gid, m.gid, 16);
	remote.lid = m.lid;
	remote.mtu = m.mtu;
	for (i = 0; i < m.count; i++) {
		struct mlx5_sq *sq = pd->qp[i].sq;

		remote.qpn = m.qp[i].qpn;
		remote.psn = m.qp[i].psn;
		rc = mlx5_prov()->qp_connect(mlx5_prov_ctx(), sq->handle, &remote);
		if (rc == 0)
			rc = mlx5_ep_sq_attach(pd->qp[i].ep, sq);
		if (rc == -EEXIST) {
			/* The endpoint opened one by itself meanwhile (a provider
			 * that wires this peer): keep that one. */
			mlx5_ep_sq_free(sq);
			rc = 0;
		}
		if (rc != 0) {
			TERN_MLX5_LOG(ERR, "connect: lcore %u: QP 0x%x to peer %u: %s",
				      pd->qp[i].ep->lcore_id, sq->qpn, peer, strerror(-rc));
			if (!pd->qp[i].revive)
				mlx5_ep_sq_free(sq);
			if (first == 0)
				first = rc;
		}
	}
	TERN_MLX5_LOG(INFO, "connect: %u QPs to peer %u connected", pd->count, peer);
	pd->nonce = 0;
	pd->count = 0;
	mlx5_peer_set_handshake_locked(peer, 0);
	rc = first;
out:
	mlx5_ctl_unlock();
	return rc;
}

/* ---- target: notifications ---- */

static int
node_deliver(void *queue, const char *sender, uint64_t tag, const void *msg, uint32_t msg_len)
{
	if (queue == NULL)
		return -ENOTSUP;
	return mlx5_notify_deliver_queue(queue, sender, tag, msg, msg_len);
}

static void
node_free(struct notify_node *nn)
{
	const struct tern_mlx5_provider *p = mlx5_prov();

	if (nn->scq_h != NULL)
		p->cq_close(mlx5_prov_ctx(), nn->scq_h);
	if (nn->rcq_h != NULL)
		p->cq_close(mlx5_prov_ctx(), nn->rcq_h);
	rte_free(nn->bufs);
	rte_free(nn);
}

/* The node's CQ pair and receive buffers, made by the first target QP that
 * takes notifications (caller holds the lock). */
static struct notify_node *
node_get(int *rc)
{
	const struct tern_mlx5_provider *p = mlx5_prov();
	struct tern_mlx5_cq_view scqv, rcqv;
	const struct mlx5_mr *mr;
	struct notify_node *nn = nnode;
	size_t len = (size_t)MLX5_NOTIFY_QP_MAX * NODE_RQ_CNT * MLX5_NOTIFY_BUF;

	if (nn != NULL)
		return nn;
	nn = rte_zmalloc("tern_mlx5_notify", sizeof(*nn), RTE_CACHE_LINE_SIZE);
	if (nn == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	rte_spinlock_init(&nn->lock);
	nn->bufs = rte_zmalloc("tern_mlx5_notify_bufs", len, 4096);
	*rc = nn->bufs == NULL ? -ENOMEM : 0;
	if (*rc == 0)
		*rc = p->cq_open(mlx5_prov_ctx(), 0, NODE_SCQ_CNT, &scqv, &nn->scq_h);
	if (*rc == 0)
		*rc = p->cq_open(mlx5_prov_ctx(), 0, NODE_RCQ_CNT, &rcqv, &nn->rcq_h);
	if (*rc == 0)
		*rc = mlx5_cq_init(&nn->scq, &scqv);
	if (*rc == 0)
		*rc = mlx5_notify_rx_init(&nn->rx, &rcqv, node_deliver, NULL, node_queue);
	if (*rc == 0) {
		mr = mlx5_mr_get((uintptr_t)nn->bufs, len);
		*rc = mr == NULL ? -ENOMEM : 0;
		if (mr != NULL)
			nn->lkey = mr->lkey;
	}
	if (*rc != 0) {
		TERN_MLX5_LOG(ERR, "notify: cannot set up the target side: %s", strerror(-*rc));
		node_free(nn);
		return NULL;
	}
	__atomic_store_n(&nnode, nn, __ATOMIC_RELEASE);
	mlx5_ctl_notify_rx_locked(1);
	return nn;
}

/* A target QP with an SQ and an RQ served by the node's receive side, in
 * INIT (caller holds the lock). Also while the node has no queue: a
 * notification is then answered -ENOTSUP, where a QP without an RQ would
 * fail the initiator's SEND and put its QP in ERR (the initiator cannot tell
 * which kind it reached). @return its index there, -ENOTSUP (the provider
 * cannot), -ENOSPC (the node serves MLX5_NOTIFY_QP_MAX), or another
 * negative errno. */
static int
node_qp_create(struct tern_mlx5_conn_params *local, void **qp)
{
	const struct tern_mlx5_provider *p = mlx5_prov();
	struct tern_mlx5_sq_view sqv;
	struct notify_node *nn;
	unsigned int i;
	int rc;

	if (p->qp_create_rq == NULL)
		return -ENOTSUP;
	nn = node_get(&rc);
	if (nn == NULL)
		return rc;
	i = nn->nb;
	if (i == MLX5_NOTIFY_QP_MAX)
		return -ENOSPC;
	memset(&sqv, 0, sizeof(sqv));
	sqv.max_inline = 64;
	rc = p->qp_create_rq(mlx5_prov_ctx(), nn->scq_h, nn->rcq_h, NODE_SQ_CNT, &sqv, NODE_RQ_CNT,
			     &nn->rqv[i], local, qp);
	if (rc != 0)
		return rc;
	rte_spinlock_lock(&nn->lock);
	rc = mlx5_sq_init(&nn->sq[i], &sqv, nn->slots[i], 8, 0);
	if (rc == 0 && nn->rqv[i].wqe_cnt > NODE_RQ_CNT)
		rc = -EINVAL; /* more RECVs than buffers */
	if (rc == 0)
		rc = mlx5_rq_init(&nn->rq[i], &nn->rqv[i], sqv.qpn,
				  nn->bufs + (size_t)i * NODE_RQ_CNT * MLX5_NOTIFY_BUF, nn->lkey);
	if (rc == 0)
		rc = mlx5_notify_rx_add(&nn->rx, &nn->rq[i], &nn->sq[i]);
	if (rc == 0) {
		nn->qp[i] = *qp;
		nn->nb++;
	}
	rte_spinlock_unlock(&nn->lock);
	if (rc != 0) {
		p->qp_close(mlx5_prov_ctx(), *qp);
		*qp = NULL;
		return rc == -ENOSPC ? -EINVAL : rc;
	}
	return (int)i;
}

/* Reset notify target QP @p i for a new handshake: its SQ and RQ restart. */
static int
node_qp_reset(int i, struct tern_mlx5_conn_params *local)
{
	struct notify_node *nn = nnode;
	int rc;

	rte_spinlock_lock(&nn->lock);
	rc = mlx5_prov()->qp_reset(mlx5_prov_ctx(), nn->qp[i], local);
	if (rc == 0) {
		mlx5_sq_reset(&nn->sq[i]);
		rc = mlx5_rq_init(&nn->rq[i], &nn->rqv[i], nn->rq[i].qpn, nn->rq[i].bufs, nn->lkey);
	}
	rte_spinlock_unlock(&nn->lock);
	return rc;
}

/* Take the answers' CQEs off the node's send CQ (caller holds nn->lock). */
static void
node_reap(struct notify_node *nn)
{
	struct tern_completion cpl[NODE_SQ_CNT];
	const struct mlx5_cqe64 *cqe;
	unsigned int i, n = 0;

	while (n < NODE_SCQ_CNT && (cqe = mlx5_cq_next(&nn->scq)) != NULL) {
		uint32_t qpn = rte_be_to_cpu_32(cqe->sop_drop_qpn) & 0xffffff;
		uint16_t wc = rte_be_to_cpu_16(cqe->wqe_counter);
		struct mlx5_sq *sq = NULL;

		nn->scq.ci++;
		n++;
		for (i = 0; i < nn->nb; i++)
			if (nn->sq[i].qpn == qpn)
				sq = &nn->sq[i];
		if (sq == NULL)
			continue;
		if ((cqe->op_own >> 4) == MLX5_CQE_REQ)
			sq->done = (uint16_t)(wc + mlx5_wqe_wqebbs(sq, wc));
		else
			(void)mlx5_cqe_error(sq, (const struct mlx5_err_cqe *)cqe);
		mlx5_sq_report(sq, cpl, RTE_DIM(cpl));
	}
	if (n != 0)
		mlx5_cq_update_ci(&nn->scq);
}

unsigned int
mlx5_notify_node_poll(unsigned int max)
{
	struct notify_node *nn = __atomic_load_n(&nnode, __ATOMIC_ACQUIRE);
	unsigned int n;

	if (nn == NULL || !rte_spinlock_trylock(&nn->lock))
		return 0;
	node_reap(nn);
	n = mlx5_notify_rx_poll(&nn->rx, max);
	rte_spinlock_unlock(&nn->lock);
	return n;
}

void
mlx5_notify_node_set_queue(void *queue)
{
	mlx5_ctl_lock();
	node_queue = queue;
	if (nnode != NULL) {
		rte_spinlock_lock(&nnode->lock);
		nnode->rx.arg = queue;
		rte_spinlock_unlock(&nnode->lock);
	}
	mlx5_ctl_unlock();
}

int
mlx5_notify_node_stats(struct mlx5_notify_stats *st)
{
	struct notify_node *nn = __atomic_load_n(&nnode, __ATOMIC_ACQUIRE);

	memset(st, 0, sizeof(*st));
	if (nn == NULL)
		return 0;
	rte_spinlock_lock(&nn->lock);
	*st = nn->rx.st;
	rte_spinlock_unlock(&nn->lock);
	return (int)nn->nb;
}

/* ---- target ---- */

static struct target_qp *
target_find(const uint8_t gid[16], uint32_t peer_qpn)
{
	unsigned int i;

	for (i = 0; i < nb_targets; i++)
		if (targets[i].peer_qpn == peer_qpn && memcmp(targets[i].gid, gid, 16) == 0)
			return &targets[i];
	return NULL;
}

/* Make (or reset) the QP answering initiator QP @p peer_qpn of node @p gid,
 * in INIT; @p local gets its QPN and PSN. */
static int
target_prepare(const uint8_t gid[16], uint32_t peer_qpn, struct tern_mlx5_conn_params *local,
	       void **qp)
{
	struct target_qp *t = target_find(gid, peer_qpn);
	int rc;

	if (t != NULL) {
		/* The initiator connects that QP again (it reset it): so do we. */
		*qp = t->qp;
		if (t->nq < 0)
			return mlx5_prov()->qp_reset(mlx5_prov_ctx(), t->qp, local);
		return node_qp_reset(t->nq, local);
	}
	if (nb_targets == TARGET_QP_MAX)
		return -ENOSPC;
	rc = node_qp_create(local, qp);
	if (rc >= 0) {
		t = &targets[nb_targets++];
		t->nq = rc;
	} else {
		/* No notifications for it: a QP that only answers RDMA (the
		 * handshake does not fail for want of notifications). */
		if (rc != -ENOTSUP)
			TERN_MLX5_LOG(WARNING,
				      "notify: target QP for initiator QP 0x%x takes no "
				      "notifications: %s",
				      peer_qpn, strerror(-rc));
		rc = mlx5_prov()->qp_create(mlx5_prov_ctx(), NULL, 0, NULL, local, qp);
		if (rc != 0)
			return rc;
		t = &targets[nb_targets++];
		t->nq = -1;
	}
	memcpy(t->gid, gid, 16);
	t->peer_qpn = peer_qpn;
	t->qp = *qp;
	return 0;
}

int
tern_mlx5_connect_serve(const void *req, size_t req_len, void *reply, size_t reply_len)
{
	struct tern_mlx5_connect_msg in, out;
	struct tern_mlx5_conn_params port, local, remote;
	uint16_t i;
	void *qp;
	int rc;

	if (req == NULL || reply == NULL)
		return -EINVAL;
	if (!mlx5_probed())
		return -ENODEV;
	rc = connect_decode(req, req_len, TERN_MLX5_CONNECT_REQUEST, &in);
	if (rc != 0)
		return rc;
	if (reply_len < TERN_MLX5_CONNECT_HDR + (size_t)in.count * TERN_MLX5_CONNECT_REP_ENTRY)
		return -ENOSPC;
	mlx5_ctl_lock();
	if (!mlx5_probed() || mlx5_prov()->port_info(mlx5_prov_ctx(), &port) != 0) {
		rc = -ENODEV;
		goto out;
	}
	if (memcmp(in.gid, port.gid, 16) == 0) {
		rc = reject("a request from this node itself");
		goto out;
	}
	memset(&out, 0, sizeof(out));
	memset(&remote, 0, sizeof(remote));
	memcpy(remote.gid, in.gid, 16);
	remote.lid = in.lid;
	remote.mtu = in.mtu;
	for (i = 0; i < in.count && rc == 0; i++) {
		remote.qpn = in.qp[i].qpn;
		remote.psn = in.qp[i].psn;
		rc = target_prepare(in.gid, in.qp[i].qpn, &local, &qp);
		if (rc == 0)
			rc = mlx5_prov()->qp_connect(mlx5_prov_ctx(), qp, &remote);
		out.qp[i].peer_qpn = in.qp[i].qpn;
		out.qp[i].qpn = local.qpn;
		out.qp[i].psn = local.psn;
	}
	if (rc != 0) {
		TERN_MLX5_LOG(ERR, "connect: cannot answer initiator QP 0x%x: %s", remote.qpn,
			      strerror(-rc));
		goto out;
	}
	out.type = TERN_MLX5_CONNECT_REPLY;
	out.count = in.count;
	out.nonce = in.nonce;
	memcpy(out.gid, port.gid, 16);
	out.lid = port.lid;
	out.mtu = port.mtu;
	rc = mlx5_connect_encode(&out, reply, reply_len);
	TERN_MLX5_LOG(INFO, "connect: answered %u initiator QPs", in.count);
out:
	mlx5_ctl_unlock();
	return rc;
}

/* ---- the transport's hooks ---- */

void
mlx5_connect_forget_ep(struct mlx5_endpoint *ep)
{
	unsigned int p;
	uint16_t i;

	for (p = 0; p < RTE_DIM(pending); p++)
		for (i = 0; i < pending[p].count; i++)
			if (pending[p].qp[i].ep == ep) {
				pending_drop(&pending[p]);
				break;
			}
}

void
mlx5_connect_shutdown(void)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(pending); i++)
		pending_drop(&pending[i]);
	for (i = 0; i < nb_targets; i++)
		mlx5_prov()->qp_close(mlx5_prov_ctx(), targets[i].qp);
	nb_targets = 0;
	/* No endpoint is open: no lcore polls the node's receive side. */
	if (nnode != NULL) {
		mlx5_ctl_notify_rx_locked(0);
		node_free(nnode);
		__atomic_store_n(&nnode, NULL, __ATOMIC_RELEASE);
	}
	/* QPs initiators connected to are gone: a new incarnation. */
	epoch = 0;
}

void
mlx5_connect_abandon(uint16_t peer)
{
	if (peer < RTE_DIM(pending))
		pending_drop(&pending[peer]);
}

uint64_t
mlx5_connect_epoch(void)
{
	uint64_t e;

	mlx5_ctl_lock();
	while (epoch == 0)
		epoch = rte_rand();
	e = epoch;
	mlx5_ctl_unlock();
	return e;
}
