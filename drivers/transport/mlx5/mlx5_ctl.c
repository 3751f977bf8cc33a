/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 transport's control state (mlx5_ctl.h): the queue provider, the
 * control-path lock, the open endpoints, the peer slots and the registry of
 * memory regions. Written by the control path under the lock (the registry
 * under its own spinlock, since an lcore registers a segment on its first
 * slice), read by lcores after publication. Everything else in the driver
 * reaches this state through the functions here; nothing here calls back
 * into connection set-up, the handshake or the data path.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_malloc.h>
#include <rte_spinlock.h>

#include <tern_time.h>

#include "mlx5_ctl.h"
#include "mlx5_notify.h"
#include "mlx5_queue.h"
#include "tern_mlx5_internal.h"

#define MR_MAX 256

/* A peer node: its GID, the imported segments that name it, whether a
 * handshake with it is under way, the incarnation its QPs were connected to. */
struct mlx5_peer {
	uint8_t gid[16];
	uint32_t refs;
	uint8_t in_use;
	uint8_t handshake;
	uint8_t has_desc;
	uint64_t epoch;
	struct tern_mlx5_desc desc; /* of the last import that ran the handshake */
};

static const struct tern_mlx5_provider *prov = &mlx5_verbs_provider;
static void *prov_ctx;
static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mlx5_endpoint *eps[TERN_MLX5_EP_MAX];
static unsigned int nb_eps;
static int probed;
static int notify_rx_wanted; /* the node has a notification receive side */
static struct tern_mlx5_tuning tuning;

static struct mlx5_mr mrs[MR_MAX];
static uint32_t nb_mrs;
static rte_spinlock_t mr_lock = RTE_SPINLOCK_INITIALIZER;

static struct mlx5_peer peers[TERN_MLX5_PEER_MAX];
/* Peers whose dead QPs an lcore wants revived (mlx5_peer_want_revive()). */
static uint32_t revive_mask;

/* ---- the lock and the provider ---- */

void
mlx5_ctl_lock(void)
{
	pthread_mutex_lock(&ctl_lock);
}

void
mlx5_ctl_unlock(void)
{
	pthread_mutex_unlock(&ctl_lock);
}

const struct tern_mlx5_provider *
mlx5_prov(void)
{
	return prov;
}

void *
mlx5_prov_ctx(void)
{
	return prov_ctx;
}

void
mlx5_prov_set_locked(const struct tern_mlx5_provider *p, void *ctx)
{
	prov = p != NULL ? p : &mlx5_verbs_provider;
	prov_ctx = p != NULL ? ctx : NULL;
	__atomic_store_n(&probed, 0, __ATOMIC_RELEASE);
	memset(peers, 0, sizeof(peers));
	__atomic_store_n(&revive_mask, 0, __ATOMIC_RELAXED);
}

int
mlx5_probe(void)
{
	int rc = prov->probe(prov_ctx);

	__atomic_store_n(&probed, rc == 0, __ATOMIC_RELEASE);
	return rc;
}

void
mlx5_set_tuning(const struct tern_mlx5_tuning *t)
{
	if (t == NULL)
		memset(&tuning, 0, sizeof(tuning));
	else
		tuning = *t;
}

const struct tern_mlx5_tuning *
mlx5_tuning(void)
{
	return &tuning;
}

int
mlx5_probed(void)
{
	return __atomic_load_n(&probed, __ATOMIC_ACQUIRE);
}

/* ---- endpoints ---- */

/* The first open endpoint serves the node's notification receive side
 * while one is wanted (its lcore calls mlx5_notify_node_poll()). */
static void
notify_rx_assign_locked(void)
{
	unsigned int i;

	for (i = 0; i < nb_eps; i++)
		__atomic_store_n(&eps[i]->notify_rx, (uint8_t)(i == 0 && notify_rx_wanted),
				 __ATOMIC_RELAXED);
}

void
mlx5_ctl_notify_rx_locked(int on)
{
	notify_rx_wanted = on != 0;
	notify_rx_assign_locked();
}

int
mlx5_ep_add_locked(struct mlx5_endpoint *ep)
{
	if (nb_eps >= TERN_MLX5_EP_MAX)
		return -ENOSPC;
	eps[nb_eps++] = ep;
	notify_rx_assign_locked();
	return 0;
}

unsigned int
mlx5_ep_remove_locked(struct mlx5_endpoint *ep)
{
	unsigned int i;

	for (i = 0; i < nb_eps; i++)
		if (eps[i] == ep)
			eps[i] = eps[--nb_eps];
	__atomic_store_n(&ep->notify_rx, 0, __ATOMIC_RELAXED);
	notify_rx_assign_locked();
	return nb_eps;
}

unsigned int
mlx5_ep_count_locked(void)
{
	return nb_eps;
}

struct mlx5_endpoint *
mlx5_ep_at_locked(unsigned int i)
{
	return eps[i];
}

/*
 * SQ state over a new QP's view, its slots sized by the ring the device
 * granted (rdma-core rounds up: any power of two >= what was asked for is
 * fine, at most ep->sq_wqebbs WQEBBs are kept in flight, what the CQ is
 * sized for). @return the SQ, or NULL (QP closed).
 */
static struct mlx5_sq *
sq_setup(const struct mlx5_endpoint *ep, const struct tern_mlx5_sq_view *view, void *handle,
	 uint16_t peer)
{
	struct mlx5_sq *sq = rte_zmalloc("tern_mlx5_sq", sizeof(*sq), RTE_CACHE_LINE_SIZE);
	struct mlx5_slot *slots = NULL;

	if (sq != NULL && view->wqe_cnt >= ep->sq_wqebbs && view->wqe_cnt <= 32768)
		slots = rte_zmalloc("tern_mlx5_slots", sizeof(*slots) * view->wqe_cnt,
				    RTE_CACHE_LINE_SIZE);
	if (sq == NULL || slots == NULL ||
	    mlx5_sq_init(sq, view, slots, ep->sig_every, ep->sq_wqebbs) != 0) {
		TERN_MLX5_LOG(ERR,
			      "lcore %u: QP to peer %u has an unusable queue view (wqe_cnt %u, "
			      "wanted >= %u, stride %u, bf_size %u)%s",
			      ep->lcore_id, peer, view->wqe_cnt, ep->sq_wqebbs, view->stride,
			      view->bf_size, sq == NULL ? ": out of memory" : "");
		prov->qp_close(prov_ctx, handle);
		rte_free(slots);
		rte_free(sq);
		return NULL;
	}
	sq->handle = handle;
	sq->peer = peer;
	return sq;
}

/*
 * Statuses of notifications (initiator side). Each QP the handshake makes
 * gets an RQ of EP_RQ_CNT RECVs on the endpoint's receive CQ; its buffers are
 * one of EP_RX_SLOTS slots of EP_RQ_MAX buffers (the device may round the
 * RQ up). A status is 20 bytes and one notification is answered once, so a
 * few RECVs per QP are enough.
 */
#define EP_RQ_CNT   MLX5_EP_NT_PER_QP
#define EP_RQ_MAX   8
#define EP_RX_SLOTS MLX5_NOTIFY_QP_MAX
#define EP_RCQ_CNT  (EP_RX_SLOTS * EP_RQ_MAX)
/* Receive buffers, then the frames of the notifications the endpoint sends. */
#define EP_RX_BYTES ((size_t)EP_RX_SLOTS * EP_RQ_MAX * MLX5_NOTIFY_BUF)
#define EP_NT_BYTES ((size_t)MLX5_EP_NT_MAX * MLX5_NOTIFY_BUF)

/* One QP's RQ, what it needs to restart, and where it is served. */
struct mlx5_ep_rq {
	struct mlx5_rq rq;
	struct tern_mlx5_rq_view view;
	struct mlx5_endpoint *ep;
	unsigned int slot;
};

/* A QP made for statuses receives no notification: refused, unanswered. */
static int
ep_rx_refuse(void *arg, const char *sender, uint64_t tag, const void *msg, uint32_t msg_len)
{
	RTE_SET_USED(arg);
	RTE_SET_USED(sender);
	RTE_SET_USED(tag);
	RTE_SET_USED(msg);
	RTE_SET_USED(msg_len);
	return -EPERM;
}

void
mlx5_ep_rx_open(struct mlx5_endpoint *ep,
		void (*on_status)(void *arg, uint32_t qpn, uint64_t token, int32_t status))
{
	struct tern_mlx5_cq_view view;
	int rc;

	rte_spinlock_init(&ep->rx_lock);
	if (prov->qp_create_rq == NULL)
		return; /* a provider without receive queues: no statuses */
	ep->rx = rte_zmalloc("tern_mlx5_ep_rx", sizeof(*ep->rx), RTE_CACHE_LINE_SIZE);
	ep->rx_bufs = rte_zmalloc("tern_mlx5_ep_rxbuf", EP_RX_BYTES + EP_NT_BYTES, 4096);
	rc = ep->rx == NULL || ep->rx_bufs == NULL ? -ENOMEM : 0;
	if (rc == 0) {
		memset(&view, 0, sizeof(view));
		rc = prov->cq_open(prov_ctx, ep->lcore_id, EP_RCQ_CNT, &view, &ep->rcq_handle);
		if (rc == 0)
			rc = mlx5_notify_rx_init(ep->rx, &view, ep_rx_refuse, on_status, ep);
	}
	if (rc == 0) {
		ep->nt_bufs = ep->rx_bufs + EP_RX_BYTES;
		return; /* the buffers are registered with the first RQ */
	}
	TERN_MLX5_LOG(WARNING,
		      "lcore %u: no receive side for notification statuses (%s): its QPs "
		      "take none",
		      ep->lcore_id, strerror(-rc));
	mlx5_ep_rx_close(ep);
}

void
mlx5_ep_rx_close(struct mlx5_endpoint *ep)
{
	if (ep->rcq_handle != NULL)
		prov->cq_close(prov_ctx, ep->rcq_handle);
	ep->rcq_handle = NULL;
	rte_free(ep->rx);
	ep->rx = NULL;
	rte_free(ep->rx_bufs);
	ep->rx_bufs = NULL;
	ep->nt_bufs = NULL;
	ep->rx_used = 0;
	ep->rx_reg = 0;
}

/* Give @p sq (made with @p view's RQ) its buffers and serve its RQ. */
static int
ep_rq_add(struct mlx5_endpoint *ep, struct mlx5_sq *sq, const struct tern_mlx5_rq_view *view)
{
	unsigned int slot = (unsigned int)__builtin_ctz(~(uint32_t)ep->rx_used);
	struct mlx5_ep_rq *r;
	int rc;

	if (slot >= EP_RX_SLOTS)
		return -ENOSPC;
	if (view->wqe_cnt > EP_RQ_MAX)
		return -EINVAL; /* more RECVs than buffers */
	if (!ep->rx_reg) {
		/* Registered here, not at open: an endpoint that never makes a
		 * QP by handshake pins nothing more. */
		const struct mlx5_mr *mr =
			mlx5_mr_get((uintptr_t)ep->rx_bufs, EP_RX_BYTES + EP_NT_BYTES);

		if (mr == NULL)
			return -ENOMEM;
		ep->rx_lkey = mr->lkey;
		ep->rx_reg = 1;
	}
	r = rte_zmalloc("tern_mlx5_ep_rq", sizeof(*r), RTE_CACHE_LINE_SIZE);
	if (r == NULL)
		return -ENOMEM;
	r->view = *view;
	r->ep = ep;
	r->slot = slot;
	rc = mlx5_rq_init(&r->rq, view, sq->qpn,
			  ep->rx_bufs + (size_t)slot * EP_RQ_MAX * MLX5_NOTIFY_BUF, ep->rx_lkey);
	if (rc == 0) {
		/* The lcore polls rx meanwhile (its other QPs' statuses). */
		rte_spinlock_lock(&ep->rx_lock);
		rc = mlx5_notify_rx_add(ep->rx, &r->rq, NULL);
		rte_spinlock_unlock(&ep->rx_lock);
	}
	if (rc != 0) {
		rte_free(r);
		return rc;
	}
	ep->rx_used |= (uint16_t)(1u << slot);
	sq->rq = r;
	return 0;
}

void
mlx5_ep_sq_rq_restart(struct mlx5_sq *sq)
{
	struct mlx5_ep_rq *r = sq->rq;

	if (r != NULL)
		(void)mlx5_rq_init(&r->rq, &r->view, r->rq.qpn, r->rq.bufs, r->rq.lkey);
}

void
mlx5_ep_sq_free(struct mlx5_sq *sq)
{
	struct mlx5_ep_rq *r = sq->rq;

	if (r != NULL) {
		rte_spinlock_lock(&r->ep->rx_lock);
		mlx5_notify_rx_remove(r->ep->rx, &r->rq);
		rte_spinlock_unlock(&r->ep->rx_lock);
		r->ep->rx_used &= (uint16_t) ~(1u << r->slot);
		rte_free(r);
	}
	prov->qp_close(prov_ctx, sq->handle);
	rte_free(sq->slots);
	rte_free(sq);
}

struct mlx5_sq *
mlx5_ep_sq_create(struct mlx5_endpoint *ep, uint16_t peer, struct tern_mlx5_conn_params *local,
		  int *rc)
{
	struct tern_mlx5_sq_view view;
	struct mlx5_sq *sq;
	void *handle;

	if (ep->rx != NULL && ep->rx_used != (uint16_t)((1u << EP_RX_SLOTS) - 1)) {
		struct tern_mlx5_rq_view rqv;

		memset(&view, 0, sizeof(view));
		memset(&rqv, 0, sizeof(rqv));
		view.max_inline = ep->max_inline;
		*rc = prov->qp_create_rq(prov_ctx, ep->cq_handle, ep->rcq_handle, ep->sq_wqebbs,
					 &view, EP_RQ_CNT, &rqv, local, &handle);
		if (*rc != 0)
			return NULL;
		sq = sq_setup(ep, &view, handle, peer);
		if (sq == NULL) {
			*rc = -EINVAL;
			return NULL;
		}
		*rc = ep_rq_add(ep, sq, &rqv);
		if (*rc == 0)
			return sq;
		TERN_MLX5_LOG(WARNING,
			      "lcore %u: QP to peer %u cannot take notification statuses (%s): "
			      "made without them",
			      ep->lcore_id, peer, strerror(-*rc));
		mlx5_ep_sq_free(sq);
	}
	memset(&view, 0, sizeof(view));
	view.max_inline = ep->max_inline;
	*rc = prov->qp_create(prov_ctx, ep->cq_handle, ep->sq_wqebbs, &view, local, &handle);
	if (*rc != 0)
		return NULL;
	sq = sq_setup(ep, &view, handle, peer);
	if (sq == NULL)
		*rc = -EINVAL;
	return sq;
}

int
mlx5_ep_sq_attach(struct mlx5_endpoint *ep, struct mlx5_sq *sq)
{
	struct mlx5_sq *none = NULL;

	if (__atomic_load_n(&ep->qps[sq->peer], __ATOMIC_ACQUIRE) == sq) {
		/* A dead QP back from its handshake: the lcore left it alone
		 * since it went dead, and takes it again from this store. */
		mlx5_sq_reset(sq);
		/* Its RQ stayed on the endpoint's receive side, which the lcore
		 * polls: restarted under the lock. */
		rte_spinlock_lock(&ep->rx_lock);
		mlx5_ep_sq_rq_restart(sq);
		rte_spinlock_unlock(&ep->rx_lock);
		__atomic_store_n(&sq->reclaim, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&sq->dead, 0, __ATOMIC_RELEASE);
		return 0;
	}
	if (!__atomic_compare_exchange_n(&ep->qps[sq->peer], &none, sq, false, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED))
		return -EEXIST;
	return 0;
}

struct mlx5_sq *
mlx5_ep_qp_open(struct mlx5_endpoint *ep, uint16_t peer)
{
	struct tern_mlx5_sq_view view;
	struct mlx5_sq *sq, *none = NULL;
	void *handle;
	int rc;

	memset(&view, 0, sizeof(view));
	view.max_inline = ep->max_inline;
	rc = prov->qp_open(prov_ctx, ep->cq_handle, ep->lcore_id, peer, mlx5_peer_gid(peer),
			   ep->sq_wqebbs, &view, &handle);
	if (rc != 0) {
		if (rc == -ENOTCONN)
			TERN_MLX5_LOG(DEBUG, "lcore %u: peer %u is not connected (handshake)",
				      ep->lcore_id, peer);
		else
			TERN_MLX5_LOG(ERR, "lcore %u: cannot open QP to peer %u: %s", ep->lcore_id,
				      peer, strerror(-rc));
		return NULL;
	}
	sq = sq_setup(ep, &view, handle, peer);
	if (sq == NULL)
		return NULL;
	/* No handshake made it, none will take it back: dead, it stays the
	 * lcore's to revive (mlx5_ep.c). Loopback only: a wired peer of the
	 * device model may still be handshaken. */
	sq->revivable = peer == TERN_MLX5_PEER_SELF;
	if (!__atomic_compare_exchange_n(&ep->qps[peer], &none, sq, false, __ATOMIC_RELEASE,
					 __ATOMIC_ACQUIRE)) {
		/* A handshake gave the endpoint one meanwhile. */
		mlx5_ep_sq_free(sq);
		sq = none;
	}
	return sq;
}

static const char *
sq_state_name(const struct mlx5_endpoint *ep, const struct mlx5_sq *sq)
{
	if (__atomic_load_n(&sq->dead, __ATOMIC_ACQUIRE)) {
		if (!sq->revivable)
			return "disconnected";
		return sq->revive_tries >= ep->revive_tries ? "failed" : "reviving";
	}
	if (__atomic_load_n(&sq->reclaim, __ATOMIC_RELAXED))
		return "reclaiming";
	if (sq->cancelled)
		return "cancelled";
	return sq->error ? "err" : "rts";
}

int
mlx5_qp_list(struct tern_mlx5_qp_info *out, unsigned int max)
{
	unsigned int i, n = 0;
	uint16_t p;

	pthread_mutex_lock(&ctl_lock);
	for (i = 0; i < nb_eps; i++)
		for (p = 0; p < TERN_MLX5_PEER_MAX; p++) {
			const struct mlx5_sq *sq =
				__atomic_load_n(&eps[i]->qps[p], __ATOMIC_ACQUIRE);
			struct tern_mlx5_qp_info *q = &out[n];

			if (sq == NULL)
				continue;
			if (n < max) {
				memset(q, 0, sizeof(*q));
				q->lcore = eps[i]->lcore_id;
				q->peer = p;
				memcpy(q->gid, peers[p].gid, 16);
				if (p == TERN_MLX5_PEER_SELF) {
					struct tern_mlx5_conn_params self;

					if (prov->port_info(prov_ctx, &self) == 0)
						memcpy(q->gid, self.gid, 16);
				}
				q->qpn = sq->qpn;
				q->state = sq_state_name(eps[i], sq);
				q->wqe_cnt = (uint32_t)sq->mask + 1;
				q->limit = sq->limit;
				q->in_flight =
					(uint16_t)(__atomic_load_n(&sq->pi, __ATOMIC_RELAXED) -
						   __atomic_load_n(&sq->rep, __ATOMIC_RELAXED));
				q->errors = sq->errors;
				q->recoveries = sq->recoveries;
				q->revive_tries = sq->revive_tries;
			}
			n++;
		}
	pthread_mutex_unlock(&ctl_lock);
	return (int)n;
}

/* The slot of the node with GID @p gid without assigning one; -ENOENT. */
static int
peer_find_locked(const uint8_t gid[16])
{
	struct tern_mlx5_conn_params self;
	int i;

	if (prov->port_info(prov_ctx, &self) == 0 && memcmp(self.gid, gid, 16) == 0)
		return TERN_MLX5_PEER_SELF;
	for (i = 1; i < TERN_MLX5_PEER_MAX; i++)
		if (peers[i].in_use && memcmp(peers[i].gid, gid, 16) == 0)
			return i;
	return -ENOENT;
}

static void
sq_rail(const struct mlx5_endpoint *ep, const struct mlx5_sq *sq, uint64_t now,
	struct tern_transport_rail *r)
{
	const char *state = sq_state_name(ep, sq);
	uint64_t at = sq->revive_at_ms, failed_at = sq->last_failure_ms;
	int32_t err = sq->last_error;

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "lcore %u qp 0x%06x %s", ep->lcore_id, sq->qpn, state);
	if (strcmp(state, "rts") == 0) {
		r->state = TERN_TRANSPORT_RAIL_UP;
	} else if (strcmp(state, "reviving") == 0) {
		r->state = TERN_TRANSPORT_RAIL_PROBING;
		r->backoff_ms = at > now ? (uint32_t)RTE_MIN(at - now, UINT32_MAX) : 0;
	} else {
		r->state = TERN_TRANSPORT_RAIL_PAUSED;
	}
	/* The driver counts no bytes or slices per QP, only the failed WQEs. */
	r->errors = sq->errors;
	/* Each recovery followed a failure; one more while it is out of RTS. */
	r->failures = sq->recoveries + (r->state != TERN_TRANSPORT_RAIL_UP);
	r->last_error = err;
	r->last_failure_ms = err == 0 ? UINT64_MAX : now > failed_at ? now - failed_at : 0;
}

int
mlx5_peer_rails(const uint8_t gid[16], struct tern_transport_rail *out, unsigned int max)
{
	uint64_t now = tern_clock_ms();
	unsigned int i, n = 0;
	int peer;

	pthread_mutex_lock(&ctl_lock);
	peer = peer_find_locked(gid);
	for (i = 0; peer >= 0 && i < nb_eps; i++) {
		const struct mlx5_sq *sq = __atomic_load_n(&eps[i]->qps[peer], __ATOMIC_ACQUIRE);

		if (sq == NULL)
			continue;
		if (n < max)
			sq_rail(eps[i], sq, now, &out[n]);
		n++;
	}
	pthread_mutex_unlock(&ctl_lock);
	return (int)n;
}

/* ---- peer slots ---- */

const uint8_t *
mlx5_peer_gid(uint16_t peer)
{
	return peers[peer].gid;
}

uint64_t
mlx5_peer_epoch_locked(uint16_t peer)
{
	return peers[peer].epoch;
}

void
mlx5_peer_set_epoch_locked(uint16_t peer, uint64_t epoch)
{
	peers[peer].epoch = epoch;
}

void
mlx5_peer_reclaim_locked(uint16_t peer)
{
	unsigned int i;

	for (i = 0; i < nb_eps; i++) {
		struct mlx5_sq *sq = mlx5_ep_live_sq(eps[i], peer);

		/* The QP's flag says which QP is wanted (a QP revived meanwhile
		 * has it cleared); the endpoint's bit tells poll() to look. */
		if (sq == NULL)
			continue;
		__atomic_store_n(&sq->reclaim, 1, __ATOMIC_RELEASE);
		__atomic_fetch_or(&eps[i]->reclaim, 1u << peer, __ATOMIC_RELEASE);
	}
}

void
mlx5_peer_set_desc_locked(uint16_t peer, const struct tern_mlx5_desc *d)
{
	peers[peer].desc = *d;
	peers[peer].has_desc = 1;
}

int
mlx5_peer_desc_locked(uint16_t peer, struct tern_mlx5_desc *d)
{
	if (peer >= TERN_MLX5_PEER_MAX || !peers[peer].in_use || !peers[peer].has_desc)
		return -ENOENT;
	*d = peers[peer].desc;
	return 0;
}

void
mlx5_peer_want_revive(uint16_t peer)
{
	uint32_t bit = 1u << peer;

	if ((__atomic_load_n(&revive_mask, __ATOMIC_RELAXED) & bit) == 0)
		__atomic_fetch_or(&revive_mask, bit, __ATOMIC_RELEASE);
}

uint32_t
mlx5_peer_take_revive(void)
{
	return __atomic_exchange_n(&revive_mask, 0, __ATOMIC_ACQUIRE);
}

int
mlx5_peer_has_live_qp_locked(uint16_t peer)
{
	unsigned int i;

	for (i = 0; i < nb_eps; i++)
		if (mlx5_ep_live_sq(eps[i], peer) != NULL)
			return 1;
	return 0;
}

int
mlx5_peer_get_locked(const uint8_t gid[16], int take_ref)
{
	struct tern_mlx5_conn_params self;
	int slot = -ENOSPC, i;

	if (prov->port_info(prov_ctx, &self) == 0 && memcmp(self.gid, gid, 16) == 0)
		return TERN_MLX5_PEER_SELF;
	for (i = 1; i < TERN_MLX5_PEER_MAX && slot < 0; i++)
		if (peers[i].in_use && memcmp(peers[i].gid, gid, 16) == 0)
			slot = i;
	for (i = 1; i < TERN_MLX5_PEER_MAX && slot < 0; i++)
		if (!peers[i].in_use) {
			memcpy(peers[i].gid, gid, 16);
			peers[i].in_use = 1;
			slot = i;
		}
	if (slot > 0 && take_ref)
		peers[slot].refs++;
	return slot;
}

int
mlx5_peer_get(const uint8_t gid[16], int take_ref)
{
	int slot;

	pthread_mutex_lock(&ctl_lock);
	slot = mlx5_peer_get_locked(gid, take_ref);
	pthread_mutex_unlock(&ctl_lock);
	return slot;
}

void
mlx5_peer_set_handshake_locked(uint16_t peer, int on)
{
	peers[peer].handshake = on != 0;
}

void
mlx5_peer_trim_locked(uint16_t peer)
{
	unsigned int i;

	/* Kept while segments name it, a handshake is under way, or QPs reach
	 * it (kept for the peer's next segments). No lcore opens a QP to it
	 * meanwhile: no segment of it is left to post to. */
	if (peer == TERN_MLX5_PEER_SELF || peer >= TERN_MLX5_PEER_MAX || peers[peer].refs != 0 ||
	    peers[peer].handshake)
		return;
	for (i = 0; i < nb_eps; i++)
		if (__atomic_load_n(&eps[i]->qps[peer], __ATOMIC_ACQUIRE) != NULL)
			return;
	memset(&peers[peer], 0, sizeof(peers[peer]));
}

int
mlx5_peer_find_locked(const uint8_t gid[16])
{
	return peer_find_locked(gid);
}

void
mlx5_peer_put(uint16_t peer)
{
	if (peer == TERN_MLX5_PEER_SELF || peer >= TERN_MLX5_PEER_MAX)
		return;
	pthread_mutex_lock(&ctl_lock);
	if (peers[peer].in_use && peers[peer].refs != 0 && --peers[peer].refs == 0)
		mlx5_peer_trim_locked(peer);
	pthread_mutex_unlock(&ctl_lock);
}

/* ---- memory regions ---- */

static const struct mlx5_mr *
mr_find(uint64_t addr, uint64_t len)
{
	uint32_t n = __atomic_load_n(&nb_mrs, __ATOMIC_ACQUIRE);
	uint32_t i;

	for (i = 0; i < n; i++)
		if (addr >= mrs[i].start && addr + len <= mrs[i].end)
			return &mrs[i];
	return NULL;
}

const struct mlx5_mr *
mlx5_mr_get(uint64_t addr, uint64_t len)
{
	const struct mlx5_mr *mr = mr_find(addr, len);
	struct mlx5_mr *slot;
	int rc;

	if (likely(mr != NULL))
		return mr;
	rte_spinlock_lock(&mr_lock);
	mr = mr_find(addr, len);
	if (mr == NULL && nb_mrs < MR_MAX) {
		slot = &mrs[nb_mrs];
		rc = prov->mr_register(prov_ctx, (void *)(uintptr_t)addr, len, &slot->start,
				       &slot->end, &slot->lkey, &slot->rkey, &slot->handle);
		if (rc == 0) {
			mr = slot;
			__atomic_store_n(&nb_mrs, nb_mrs + 1, __ATOMIC_RELEASE);
		} else {
			TERN_MLX5_LOG(ERR, "cannot register [%#" PRIx64 ", +%" PRIu64 "): %s", addr,
				      len, strerror(-rc));
		}
	} else if (mr == NULL) {
		TERN_MLX5_LOG(ERR, "memory region table full (%d)", MR_MAX);
	}
	rte_spinlock_unlock(&mr_lock);
	return mr;
}

static void
mr_release_all(void)
{
	uint32_t i;

	rte_spinlock_lock(&mr_lock);
	for (i = 0; i < nb_mrs; i++)
		prov->mr_deregister(prov_ctx, mrs[i].handle);
	__atomic_store_n(&nb_mrs, 0, __ATOMIC_RELEASE);
	rte_spinlock_unlock(&mr_lock);
}

void
mlx5_ctl_shutdown_locked(void)
{
	mr_release_all();
	if (prov->shutdown != NULL)
		prov->shutdown(prov_ctx);
	__atomic_store_n(&probed, 0, __ATOMIC_RELEASE);
}
