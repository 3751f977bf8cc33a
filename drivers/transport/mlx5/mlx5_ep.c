/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 transport's data path (mlx5_ep.h): post_burst(), poll() and
 * cancel() of an endpoint, run by its lcore. Slices become RDMA WRITE / READ
 * WQEs (mlx5_wqe.h); a burst rings each touched QP's doorbell once; CQEs
 * complete WQEs in order (mlx5_queue.h). It depends only downward: on the
 * queue primitives and on the control state (mlx5_ctl.h) for its slow paths
 * (a segment's first slice, a QP's first use, recovery).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_spinlock.h>

#include <tern_time.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_connect.h"
#include "mlx5_ctl.h"
#include "mlx5_ep.h"
#include "mlx5_notify.h"
#include "mlx5_queue.h"
#include "mlx5_rails.h"
#include "mlx5_wqe.h"
#include "tern_mlx5_internal.h"

/*
 * The keys of LOCAL segment @p seg: the endpoint's entry, or on a miss (the
 * segment's first slice on this endpoint) the memory region covering the
 * whole segment, registered if there is none yet.
 * @return the entry, or NULL (-EFAULT: the memory cannot be registered).
 */
static const struct mlx5_seg_keys *
ep_seg_keys(struct mlx5_endpoint *ep, const struct tern_segment *seg)
{
	struct mlx5_seg_keys *k = &ep->keys[seg->handle & (MLX5_SEG_KEYS - 1)];
	const struct mlx5_mr *mr;

	RTE_BUILD_BUG_ON(!RTE_IS_POWER_OF_2(MLX5_SEG_KEYS));
	if (likely(k->handle == seg->handle))
		return k;
	mr = mlx5_mr_get((uintptr_t)seg->base, seg->length);
	if (mr == NULL)
		return NULL;
	k->handle = seg->handle;
	k->lkey = mr->lkey;
	k->rkey = mr->rkey;
	return k;
}

/* Complete a slice locally (no WQE). @return 0, or -ENOSPC when the local
 * completion ring is full (the slice is then not taken). */
static __rte_noinline int
ep_reject(struct mlx5_endpoint *ep, const struct tern_slice *s, int status)
{
	if (ep->sw_tail - ep->sw_head > ep->sw_mask)
		return -ENOSPC;
	ep->sw[ep->sw_tail & ep->sw_mask].cookie = s->cookie;
	ep->sw[ep->sw_tail & ep->sw_mask].status = status;
	ep->sw[ep->sw_tail & ep->sw_mask].length = 0;
	ep->sw_tail++;
	ep->stats.rejected++;
	return 0;
}

/* Ring every QP posted to in this burst; the burst's last WQE on each asks
 * for a CQE so nothing posted waits for a later post to be completed. */
static __rte_always_inline void
ep_ring(struct mlx5_endpoint *ep, uint32_t touched)
{
	while (touched != 0) {
		struct mlx5_sq *sq = ep->qps[rte_bsf32(touched)];

		touched &= touched - 1;
		if (sq->pi == sq->db_pi)
			continue;
		((uint8_t *)sq->last_ctrl)[11] |= MLX5_WQE_CTRL_CQ_UPDATE;
		mlx5_sq_doorbell(sq);
		ep->stats.doorbells++;
	}
}

/* ---- notifications this endpoint sends (doc/mlx5.md, "Initiator side") ---- */

/* A SEND's slot cookie: the entry's token, odd (a slice's cookie never is). */
#define NT_SLOT_COOKIE(token) ((token) << 1 | 1u)

static void
ep_nt_free(struct mlx5_endpoint *ep, struct mlx5_ep_nt *e)
{
	e->token = 0;
	ep->nt_free |= 1u << (e - ep->nt);
	ep->nt_out--;
}

/* Give notification @p e's completion (it is waiting): into the software
 * ring, which endpoint_open() sized for every entry besides the slices. */
static void
ep_nt_complete(struct mlx5_endpoint *ep, struct mlx5_ep_nt *e, int32_t status)
{
	struct tern_completion *c = &ep->sw[ep->sw_tail++ & ep->sw_mask];

	c->cookie = e->cookie;
	c->status = status;
	c->length = 0;
	e->waiting = 0;
	if (!e->wqe_out)
		ep_nt_free(ep, e);
}

/* Complete with @p status every notification of @p sq (NULL: of any QP)
 * still waiting for its status; with @p now_tsc, only those due by then. */
static __rte_noinline void
ep_nt_fail(struct mlx5_endpoint *ep, const struct mlx5_sq *sq, int32_t status, uint64_t now_tsc)
{
	unsigned int i;

	for (i = 0; i < MLX5_EP_NT_MAX; i++) {
		struct mlx5_ep_nt *e = &ep->nt[i];

		if (e->token == 0 || !e->waiting || (sq != NULL && e->sq != sq) ||
		    (now_tsc != 0 && e->due_tsc > now_tsc))
			continue;
		if (sq != NULL && e->wqe_out) {
			/* Its SEND's report (maybe in the completions poll() is
			 * filtering now) ends it: with the SEND's error, or this. */
			e->lost = status;
			continue;
		}
		ep->stats.notify_failed++;
		if (status == -ETIMEDOUT)
			ep->stats.notify_timeouts++;
		ep_nt_complete(ep, e, status);
	}
}

void
mlx5_ep_notify_status(void *arg, uint32_t qpn, uint64_t token, int32_t status)
{
	struct mlx5_endpoint *ep = arg;
	struct mlx5_ep_nt *e = &ep->nt[token & (MLX5_EP_NT_MAX - 1)];

	/* Only the answer to a notification in flight, from the QP it went out
	 * on: a late one (cancelled, timed out) or a made-up one is dropped. */
	if (e->token != token || token == 0 || !e->waiting || e->sq->qpn != qpn) {
		ep->stats.notify_unknown++;
		return;
	}
	ep->stats.notify_answered++;
	ep_nt_complete(ep, e, status);
}

int
mlx5_notify_post(struct tern_endpoint *base, const struct tern_notify_post *n)
{
	struct mlx5_endpoint *ep = mlx5_ep(base);
	const struct tern_mlx5_desc *d;
	struct mlx5_ep_nt *e;
	struct mlx5_sq *sq;
	unsigned int i;
	uint64_t token;
	uint8_t *frame;
	uint16_t peer;
	int len;

	if (n == NULL || n->target == NULL || n->target->kind != TERN_SEGMENT_REMOTE ||
	    n->sender == NULL || n->msg_len > MLX5_NOTIFY_MSG_MAX ||
	    (n->msg == NULL && n->msg_len != 0))
		return -EINVAL;
	d = (const struct tern_mlx5_desc *)n->target->priv;
	if (d->magic != TERN_MLX5_DESC_MAGIC || d->peer >= TERN_MLX5_PEER_MAX)
		return -EINVAL;
	if (ep->rx == NULL || d->peer == TERN_MLX5_PEER_SELF)
		return -ENOTSUP; /* no receive side for statuses; loopback QPs have no RQ */
	peer = d->peer;
	if (unlikely(d->reserved > 1)) {
		/* Several rails (ports) of the node: the one a run would take. */
		uint32_t rkey;

		peer = mlx5_rail_pick(ep, n->target, &rkey);
	}
	sq = __atomic_load_n(&ep->qps[peer], __ATOMIC_ACQUIRE);
	if (sq == NULL)
		return -ENOTCONN;
	if (__atomic_load_n(&sq->dead, __ATOMIC_ACQUIRE)) {
		if (!sq->revivable)
			mlx5_peer_want_revive(sq->peer);
		return -ENOTCONN;
	}
	if (sq->rq == NULL)
		return -ENOTSUP; /* a QP made without an RQ: no status can come back */
	if (sq->error || mlx5_sq_room(sq) < 1 || ep->nt_free == 0)
		return -EAGAIN;
	if (ep->nt_out >= MLX5_EP_NT_PER_QP) {
		unsigned int busy = 0;

		for (i = 0; i < MLX5_EP_NT_MAX; i++)
			busy += ep->nt[i].token != 0 && ep->nt[i].waiting && ep->nt[i].sq == sq;
		if (busy >= MLX5_EP_NT_PER_QP)
			return -EAGAIN; /* its RECVs would run out: RNR at the target */
	}
	i = (unsigned int)rte_bsf32(ep->nt_free);
	e = &ep->nt[i];
	frame = ep->nt_bufs + (size_t)i * MLX5_NOTIFY_BUF;
	token = (++ep->nt_gen) << 6 | i;
	RTE_BUILD_BUG_ON(MLX5_EP_NT_MAX > 64);
	len = mlx5_notify_encode(frame, MLX5_NOTIFY_BUF, n->sender, n->tag, token, n->msg,
				 n->msg_len);
	if (len < 0)
		return len; /* a sender name the frame cannot carry */
	e->token = token;
	e->cookie = n->cookie;
	e->sq = sq;
	e->wqe_out = 1;
	e->waiting = 1;
	e->lost = 0;
	e->due_tsc = rte_rdtsc() + ep->nt_timeout_tsc;
	ep->nt_free &= ~(1u << i);
	ep->nt_out++;
	/* Signalled: the entry's frame is free once the WQE is reported. */
	mlx5_post_send(sq, frame, (uint32_t)len, ep->rx_lkey, 1, NT_SLOT_COOKIE(token));
	mlx5_sq_doorbell(sq);
	ep->stats.doorbells++;
	ep->stats.notify_posted++;
	return 0;
}

/* Notifications outstanding: their statuses (the lcore only tries the lock
 * the control path changes the receive side under: it looks again on the
 * next poll), then those whose time is up. */
static __rte_noinline void
ep_nt_poll(struct mlx5_endpoint *ep)
{
	uint64_t now;

	if (ep->rx != NULL && rte_spinlock_trylock(&ep->rx_lock)) {
		mlx5_notify_rx_poll(ep->rx, MLX5_NOTIFY_RX_BURST);
		rte_spinlock_unlock(&ep->rx_lock);
	}
	now = rte_rdtsc();
	if (now >= ep->nt_check_tsc) {
		ep->nt_check_tsc = now + rte_get_tsc_hz() / 1000;
		ep_nt_fail(ep, NULL, -ETIMEDOUT, now);
	}
}

/*
 * Completions [from, n) came from the SQs' reports: take out those of
 * notification SENDs (odd cookies). A SEND that succeeded only frees its
 * frame (the status frame completes the notification); one that failed
 * completes its notification with the error, if it still waits.
 * @return the completions left.
 */
static __rte_noinline uint16_t
ep_nt_filter(struct mlx5_endpoint *ep, struct tern_completion *cpl, uint16_t from, uint16_t n)
{
	uint16_t i, k = from;

	for (i = from; i < n; i++) {
		uint64_t token = cpl[i].cookie >> 1;
		struct mlx5_ep_nt *e;

		if (likely((cpl[i].cookie & 1) == 0)) {
			cpl[k++] = cpl[i];
			continue;
		}
		e = &ep->nt[token & (MLX5_EP_NT_MAX - 1)];
		if (e->token != token || !e->wqe_out)
			continue; /* cannot be: every SEND has its entry until reported */
		e->wqe_out = 0;
		if ((cpl[i].status != 0 || e->lost != 0) && e->waiting) {
			ep->stats.notify_failed++;
			e->waiting = 0;
			cpl[k].cookie = e->cookie;
			cpl[k].status = cpl[i].status != 0 ? cpl[i].status : e->lost;
			cpl[k].length = 0;
			k++;
		}
		if (!e->waiting)
			ep_nt_free(ep, e);
	}
	return k;
}

/*
 * What the WQEs of a run of slices share: the QP, the target's remote address
 * and key, the local segment's key. The run ends at a slice with another
 * target or local segment, an inline WRITE, an unknown op, or a full SQ.
 */
struct post_run {
	const struct tern_segment *target;
	const struct tern_segment *local_seg;
	struct mlx5_sq *sq;
	uint64_t rbase;	  /* remote address of the target's byte 0 */
	uint64_t rkey_be; /* raddr segment's second word: rkey, reserved 0 */
	uint64_t lkey_be; /* data segment's first word, upper half: lkey */
	/* ctrl segment's first word but the WQE index, by op & 1 (READ = 1,
	 * WRITE = 2): opmod 0, opcode, qpn, ds 3 */
	uint64_t ctrl[2];
};

/*
 * A dead QP the lcore owns (sq->revivable: no handshake made it) is tried
 * again on its next use: RESET..RTS, at most ep->revive_tries times, each
 * after a wait that doubles from ep->revive_ms (1 s at most). Until then, and
 * once given up, its slices fail with -ENOTCONN. A dead QP to another node
 * asks the reviver for a handshake (mlx5_handshake.c), which gives it back.
 * @return 0 (back in RTS), or -ENOTCONN.
 */
static __rte_noinline int
ep_revive(struct mlx5_endpoint *ep, struct mlx5_sq *sq)
{
	uint64_t now = tern_clock_ms(), wait;
	unsigned int shift;
	int rc;

	if (!sq->revivable) {
		/* Another node's: only a handshake brings it back (the reviver). */
		mlx5_peer_want_revive(sq->peer);
		return -ENOTCONN;
	}
	if (sq->revive_tries >= ep->revive_tries || now < sq->revive_at_ms)
		return -ENOTCONN;
	rc = mlx5_prov()->qp_recover(mlx5_prov_ctx(), sq->handle);
	if (rc == 0) {
		mlx5_sq_reset(sq);
		mlx5_ep_sq_rq_restart(sq);
		sq->revive_tries = 0;
		sq->revive_at_ms = 0;
		ep->stats.revivals++;
		__atomic_store_n(&sq->dead, 0, __ATOMIC_RELEASE);
		TERN_MLX5_LOG(INFO, "lcore %u: dead QP 0x%x to peer %u revived", ep->lcore_id,
			      sq->qpn, sq->peer);
		return 0;
	}
	sq->revive_tries++;
	sq->last_error = rc;
	sq->last_failure_ms = now;
	ep->stats.revive_failures++;
	shift = sq->revive_tries - 1u < 16u ? sq->revive_tries - 1u : 16u;
	wait = RTE_MIN((uint64_t)ep->revive_ms << shift, 1000u);
	sq->revive_at_ms = now + wait;
	if (sq->revive_tries >= ep->revive_tries)
		TERN_MLX5_LOG(
			ERR, "lcore %u: QP 0x%x to peer %u: revival failed %u times (%s), given up",
			ep->lcore_id, sq->qpn, sq->peer, sq->revive_tries, strerror(-rc));
	else
		TERN_MLX5_LOG(
			WARNING,
			"lcore %u: QP 0x%x to peer %u: revival %u failed (%s), next in %" PRIu64
			" ms",
			ep->lcore_id, sq->qpn, sq->peer, sq->revive_tries, strerror(-rc), wait);
	return -ENOTCONN;
}

/*
 * Resolve what a slice's run needs that the current run does not have: the
 * target's remote key and address and the QP to its peer (opened on first
 * use), the local segment's key.
 * @return 0; 1 when the QP is in ERR (the slice is offered again after
 *         recovery); a negative errno to complete the slice with.
 */
static __rte_noinline int
ep_resolve(struct mlx5_endpoint *ep, const struct tern_slice *s, struct post_run *run,
	   uint32_t *touched)
{
	const struct tern_segment *t = s->target;
	const struct mlx5_seg_keys *k;
	struct mlx5_sq *sq;
	uint16_t peer;
	int rc;

	if (s->local_seg != run->local_seg || s->local_seg == NULL) {
		k = s->local_seg != NULL ? ep_seg_keys(ep, s->local_seg) : NULL;
		if (k == NULL) {
			rc = s->local_seg == NULL ? -EINVAL : -EFAULT;
			goto fail;
		}
		run->lkey_be = mlx5_wqe_lkey(k->lkey);
		run->local_seg = s->local_seg;
	}
	if (t == run->target)
		return 0;
	if (t->kind == TERN_SEGMENT_REMOTE) {
		const struct tern_mlx5_desc *d = (const struct tern_mlx5_desc *)t->priv;

		rc = -EINVAL;
		if (d->magic != TERN_MLX5_DESC_MAGIC || d->peer >= TERN_MLX5_PEER_MAX)
			goto fail;
		peer = d->peer;
		run->rkey_be = mlx5_wqe_rkey(d->rkey);
		run->rbase = d->addr;
		if (unlikely(d->reserved > 1)) {
			/* Several rails (mlx5_rails.c): the one with the least in flight. */
			uint32_t rkey;

			peer = mlx5_rail_pick(ep, t, &rkey);
			run->rkey_be = mlx5_wqe_rkey(rkey);
		} else if (unlikely(t->fallback != 0)) {
			/* One rail and a last resort: its WQEs may be handed back. */
			mlx5_rails_note(ep, t);
		}
	} else {
		/* Loopback: the target segment is a memory region of this node. */
		rc = -EFAULT;
		k = ep_seg_keys(ep, t);
		if (k == NULL)
			goto fail;
		peer = TERN_MLX5_PEER_SELF;
		run->rkey_be = mlx5_wqe_rkey(k->rkey);
		run->rbase = (uintptr_t)t->base;
	}
	sq = __atomic_load_n(&ep->qps[peer], __ATOMIC_ACQUIRE);
	if (sq == NULL)
		sq = mlx5_ep_qp_open(ep, peer);
	rc = -ENOTCONN;
	if (sq == NULL || (__atomic_load_n(&sq->dead, __ATOMIC_ACQUIRE) && ep_revive(ep, sq) != 0))
		goto fail;
	rc = 1;
	if (sq->error)
		goto fail;
	run->sq = sq;
	RTE_BUILD_BUG_ON(TERN_OP_READ != 1 || TERN_OP_WRITE != 2);
	run->ctrl[TERN_OP_WRITE & 1] =
		mlx5_wqe_ctrl(sq->qpn_ds, MLX5_OPCODE_RDMA_WRITE, MLX5_WQE_RDMA_DS);
	run->ctrl[TERN_OP_READ & 1] =
		mlx5_wqe_ctrl(sq->qpn_ds, MLX5_OPCODE_RDMA_READ, MLX5_WQE_RDMA_DS);
	run->target = t;
	*touched |= 1u << peer;
	return 0;
fail:
	/* No run: the next slice resolves again. */
	run->target = NULL;
	run->local_seg = NULL;
	return rc;
}

/*
 * Post up to @p nb slices of a run into one contiguous stretch of the ring,
 * from WQEBB @p pi on (WQEs of one WQEBB: ctrl, raddr, one data segment, as
 * mlx5_wqe_rdma() writes them), stopping at the first slice that leaves
 * the run or is not a plain WRITE or READ.
 * @return slices posted.
 */
static __rte_always_inline uint16_t
run_post_stretch(const struct post_run *run, const struct tern_slice *slices, uint16_t nb,
		 uint16_t pi, uint64_t *wqe, struct mlx5_slot *slot)
{
	const struct tern_segment *target = run->target, *local_seg = run->local_seg;
	const uint64_t rbase = run->rbase, rkey_be = run->rkey_be, lkey_be = run->lkey_be;
	const struct tern_slice *s = slices, *end = slices + nb;
	const uint16_t sig_mask = run->sq->sig_mask;
	const uint32_t max_inline = run->sq->max_inline;

	for (; s != end; s++, wqe += TERN_MLX5_WQEBB / 8, slot++, pi++) {
		uint32_t len = s->length;
		uint8_t op = s->op;

		if (unlikely(s->target != target || s->local_seg != local_seg))
			break;
		if (likely(op == TERN_OP_WRITE) ? unlikely(len <= max_inline)
						: unlikely(op != TERN_OP_READ))
			break;
		/* A READ always asks for a CQE; a WRITE when its index has every
		 * sig_mask bit set (mlx5_sq_signal() for one WQEBB). */
		mlx5_wqe_rdma(wqe, run->ctrl[op & 1], pi,
			      /* mlx5_wqe_flags(MLX5_WQE_CTRL_CQ_UPDATE or 0), folded */
			      (uint64_t)(((~pi & sig_mask) == 0) | (op & 1)) << 27,
			      rbase + s->offset, rkey_be, len, lkey_be, (uintptr_t)s->local);
		slot->cookie = s->cookie;
	}
	return (uint16_t)(s - slices);
}

/*
 * Post slices of a run until one leaves it or the SQ is full: a stretch to the
 * ring's end, then one from its start.
 * @return slices posted.
 */
static __rte_always_inline uint16_t
run_post(const struct post_run *run, const struct tern_slice *slices, uint16_t nb)
{
	struct mlx5_sq *sq = run->sq;
	uint16_t take = RTE_MIN(nb, mlx5_sq_room(sq));
	uint16_t posted = 0;

	while (posted < take) {
		uint16_t idx = sq->pi & sq->mask;
		uint16_t stretch = RTE_MIN(take - posted, sq->mask + 1 - idx);
		uint16_t n = run_post_stretch(run, slices + posted, stretch, sq->pi,
					      (uint64_t *)(sq->buf + (size_t)idx * TERN_MLX5_WQEBB),
					      &sq->slots[idx]);

		if (n == 0)
			break;
		sq->pi += n;
		sq->last_ctrl =
			(uint64_t *)(sq->buf + (size_t)((sq->pi - 1) & sq->mask) * TERN_MLX5_WQEBB);
		posted += n;
		if (n < stretch)
			break;
	}
	return posted;
}

/* An inline WRITE, or an unknown op. @return 1 posted, 0 no room, < 0 reject
 * (-EINVAL: anything but a WRITE; the inline WQE is always an RDMA WRITE). */
static __rte_noinline int
run_post_other(const struct post_run *run, const struct tern_slice *s)
{
	struct mlx5_sq *sq = run->sq;
	uint16_t wqebbs;

	if (s->op != TERN_OP_WRITE)
		return -EINVAL;
	wqebbs = mlx5_inline_wqebbs(s->length);
	if (mlx5_sq_room(sq) < wqebbs)
		return 0;
	mlx5_post_inline(sq, s->local, s->length, run->rbase + s->offset,
			 rte_be_to_cpu_32((uint32_t)run->rkey_be), mlx5_sq_signal(sq, wqebbs, 0),
			 s->cookie);
	return 1;
}

uint16_t
mlx5_post_burst(struct tern_endpoint *base, const struct tern_slice *slices, uint16_t nb)
{
	struct mlx5_endpoint *ep = mlx5_ep(base);
	struct post_run run = { .target = NULL };
	uint32_t touched = 0;
	uint16_t i = 0;
	int rc;

	while (i < nb) {
		const struct tern_slice *s = &slices[i];

		if (unlikely(s->target != run.target || s->local_seg != run.local_seg)) {
			rc = ep_resolve(ep, s, &run, &touched);
			if (rc > 0)
				break;
			if (rc < 0)
				goto reject;
		}
		i += run_post(&run, s, nb - i);
		if (i == nb)
			break;
		s = &slices[i];
		if (s->target != run.target || s->local_seg != run.local_seg)
			continue;
		if (mlx5_sq_room(run.sq) == 0)
			break;
		/* Inline WRITE or unknown op. */
		rc = run_post_other(&run, s);
		if (rc == 0)
			break;
		if (rc > 0) {
			i++;
			continue;
		}
	reject:
		if (ep_reject(ep, s, rc) != 0)
			break;
		i++;
	}
	ep->stats.posted += i;
	if (likely(touched != 0))
		ep_ring(ep, touched);
	return i;
}

static struct mlx5_sq *
ep_sq_by_qpn(struct mlx5_endpoint *ep, uint32_t qpn)
{
	struct mlx5_sq *sq;
	uint16_t i;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		sq = mlx5_ep_live_sq(ep, i);
		if (sq != NULL && sq->qpn == qpn) {
			ep->last_sq = sq;
			return sq;
		}
	}
	TERN_MLX5_LOG(ERR, "lcore %u: CQE for unknown QP 0x%x dropped", ep->lcore_id, qpn);
	return NULL;
}

/* Give a QP to the control path: the lcore no longer touches it, and its
 * slices complete with -ENOTCONN until a handshake hands it back. */
static void
ep_sq_hand_over(struct mlx5_endpoint *ep, struct mlx5_sq *sq)
{
	/* No status comes back on it any more. */
	if (ep->nt_out != 0)
		ep_nt_fail(ep, sq, -ENOTCONN, 0);
	sq->error = 0;
	sq->revive_tries = 0;
	sq->revive_at_ms = tern_clock_ms() + ep->revive_ms;
	if (ep->last_sq == sq)
		ep->last_sq = NULL;
	__atomic_store_n(&sq->dead, 1, __ATOMIC_RELEASE);
}

/* Hand a QP the control path asked for (mlx5_peer_reclaim_locked()). */
static void
ep_sq_give_back(struct mlx5_endpoint *ep, struct mlx5_sq *sq)
{
	TERN_MLX5_LOG(INFO, "lcore %u: QP 0x%x to peer %u handed back for a new handshake",
		      ep->lcore_id, sq->qpn, sq->peer);
	ep_sq_hand_over(ep, sq);
}

/*
 * QPs in ERR come back once every WQE they held has been reported. One that
 * cannot goes dead: its slices fail with -ENOTCONN, and the control path may
 * take it (a QP to another node needs a new handshake, tern_mlx5.h).
 */
static __rte_noinline void
ep_recover(struct mlx5_endpoint *ep)
{
	uint16_t i;
	int rc;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		struct mlx5_sq *sq = mlx5_ep_live_sq(ep, i);

		if (sq == NULL || !sq->error || !mlx5_sq_quiet(sq))
			continue;
		if (__atomic_load_n(&sq->reclaim, __ATOMIC_ACQUIRE)) {
			ep_sq_give_back(ep, sq); /* its peer restarted: a new handshake */
			continue;
		}
		rc = mlx5_prov()->qp_recover(mlx5_prov_ctx(), sq->handle);
		if (rc == 0) {
			/* Its RQ was flushed: statuses still due are lost. */
			if (ep->nt_out != 0)
				ep_nt_fail(ep, sq, -ECONNABORTED, 0);
			mlx5_sq_reset(sq);
			mlx5_ep_sq_rq_restart(sq);
			ep->stats.recoveries++;
			TERN_MLX5_LOG(INFO, "lcore %u: QP 0x%x back in RTS", ep->lcore_id, sq->qpn);
			continue;
		}
		if (rc == -ENOTCONN)
			TERN_MLX5_LOG(WARNING,
				      "lcore %u: QP 0x%x to peer %u needs a new connection "
				      "(handshake)",
				      ep->lcore_id, sq->qpn, sq->peer);
		else
			TERN_MLX5_LOG(ERR,
				      "lcore %u: QP 0x%x cannot recover (%s): peer %u unreachable",
				      ep->lcore_id, sq->qpn, strerror(-rc), sq->peer);
		ep_sq_hand_over(ep, sq);
	}
}

/*
 * Move a QP with WQEs no CQE has covered to ERR and complete those WQEs here
 * with @p status: a QP in ERR moves no more data. The device's own CQEs for
 * them are absorbed when they come, and the QP is recovered (or handed over)
 * after the last one.
 * @return 0, or -EIO when the QP could not be moved to ERR (its CQEs then
 *         complete the work as usual).
 */
static int
ep_sq_cancel(struct mlx5_endpoint *ep, struct mlx5_sq *sq, int status)
{
	if (mlx5_prov()->qp_flush(mlx5_prov_ctx(), sq->handle) != 0) {
		TERN_MLX5_LOG(ERR, "lcore %u: cannot flush QP 0x%x", ep->lcore_id, sq->qpn);
		return -EIO;
	}
	if (!sq->error)
		ep->nb_err++;
	mlx5_sq_cancel(sq, status);
	return 0;
}

/*
 * The control path wants the QPs to some peers back (ep->reclaim, and the
 * QP's own flag): the peer is a new incarnation, they reach QPs that are
 * gone. A quiet QP is handed over at once. One with work in flight is
 * cancelled (its slices fail with -ECONNABORTED) and handed over by recovery
 * once the device's CQEs for that work are in, as is one already in ERR.
 */
static __rte_noinline void
ep_reclaim(struct mlx5_endpoint *ep)
{
	uint32_t mask = __atomic_exchange_n(&ep->reclaim, 0, __ATOMIC_ACQUIRE), again = 0;

	while (mask != 0) {
		uint16_t peer = (uint16_t)rte_bsf32(mask);
		struct mlx5_sq *sq = mlx5_ep_live_sq(ep, peer);

		mask &= mask - 1;
		if (sq == NULL || !__atomic_load_n(&sq->reclaim, __ATOMIC_ACQUIRE) || sq->error)
			continue;
		if (mlx5_sq_quiet(sq)) {
			ep_sq_give_back(ep, sq);
		} else if (sq->done == sq->pi) {
			again |= 1u << peer; /* done, not all reported yet: next poll */
		} else if (ep_sq_cancel(ep, sq, -ECONNABORTED) != 0) {
			/* Still in RTS: the next import asks again. */
			__atomic_store_n(&sq->reclaim, 0, __ATOMIC_RELAXED);
		}
	}
	if (again != 0)
		__atomic_fetch_or(&ep->reclaim, again, __ATOMIC_RELAXED);
}

static __rte_noinline void
ep_cqe_error(struct mlx5_endpoint *ep, struct mlx5_sq *sq, const struct mlx5_cqe64 *cqe)
{
	uint8_t was = sq->error;
	int err = mlx5_cqe_error(sq, (const struct mlx5_err_cqe *)cqe);

	if (!was && sq->error) {
		ep->nb_err++;
		/* Another rail may take its work (mlx5_rails.c). */
		mlx5_rails_on_error(ep, sq, rte_be_to_cpu_16(cqe->wqe_counter), err);
	}
}

/* poll() but notifications: the software ring, the SQs' reports, the CQ,
 * then the slow paths (reclaim, the node's receive side, recovery). */
static __rte_always_inline uint16_t
ep_poll(struct mlx5_endpoint *ep, struct tern_completion *cpl, uint16_t max)
{
	const struct mlx5_cqe64 *cqe;
	uint32_t ci = ep->cq.ci;
	uint16_t n = 0;
	struct mlx5_sq *sq;
	uint16_t i;

	while (ep->sw_head != ep->sw_tail && n < max)
		cpl[n++] = ep->sw[ep->sw_head++ & ep->sw_mask];
	/* Completions proven by CQEs that an earlier call had no room for. */
	for (i = 0; i < TERN_MLX5_PEER_MAX && n < max; i++) {
		sq = mlx5_ep_live_sq(ep, i);
		if (sq != NULL)
			n += mlx5_sq_report(sq, cpl + n, max - n);
	}
	while (n < max && (cqe = mlx5_cq_next(&ep->cq)) != NULL) {
		uint32_t qpn = rte_be_to_cpu_32(cqe->sop_drop_qpn) & 0xffffff;
		uint16_t wqe;

		sq = ep->last_sq;
		ep->cq.ci++;
		if (unlikely(sq == NULL || sq->qpn != qpn)) {
			sq = ep_sq_by_qpn(ep, qpn);
			if (sq == NULL)
				continue;
		}
		wqe = rte_be_to_cpu_16(cqe->wqe_counter);
		if (likely((cqe->op_own >> 4) == MLX5_CQE_REQ &&
			   (uint16_t)(wqe - sq->done) < (uint16_t)(sq->pi - sq->done)))
			sq->done = wqe + mlx5_wqe_wqebbs(sq, wqe);
		else
			ep_cqe_error(ep, sq, cqe);
		n += mlx5_sq_report(sq, cpl + n, max - n);
	}
	if (ci != ep->cq.ci) {
		mlx5_cq_update_ci(&ep->cq);
		ep->stats.cqes += ep->cq.ci - ci;
	}
	if (unlikely(__atomic_load_n(&ep->reclaim, __ATOMIC_RELAXED) != 0))
		ep_reclaim(ep);
	if (unlikely(__atomic_load_n(&ep->notify_rx, __ATOMIC_RELAXED) != 0))
		mlx5_notify_node_poll(MLX5_NOTIFY_RX_BURST);
	if (unlikely(ep->nb_err != 0)) {
		ep_recover(ep);
		ep->nb_err = 0;
		for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
			sq = mlx5_ep_live_sq(ep, i);
			if (sq != NULL && sq->error)
				ep->nb_err++;
		}
	}
	if (unlikely(ep->rails_pending != 0))
		n = mlx5_rails_poll(ep, cpl, n, max);
	return n;
}

/*
 * poll() while notifications are outstanding: their statuses and timeouts
 * first (into the software ring), that ring, then the rest, whose SQ
 * reports may hold notification SENDs to filter out. Apart, so that a
 * poll() with none outstanding pays one load and branch for them.
 */
static __rte_noinline uint16_t
ep_poll_nt(struct mlx5_endpoint *ep, struct tern_completion *cpl, uint16_t max)
{
	uint16_t n = 0;

	ep_nt_poll(ep);
	while (ep->sw_head != ep->sw_tail && n < max)
		cpl[n++] = ep->sw[ep->sw_head++ & ep->sw_mask];
	return ep_nt_filter(ep, cpl, n, n + ep_poll(ep, cpl + n, max - n));
}

uint16_t
mlx5_poll(struct tern_endpoint *base, struct tern_completion *cpl, uint16_t max)
{
	struct mlx5_endpoint *ep = mlx5_ep(base);

	/* No SEND of a notification is in a ring while none is outstanding. */
	if (unlikely(ep->nt_out != 0))
		return ep_poll_nt(ep, cpl, max);
	return ep_poll(ep, cpl, max);
}

/*
 * Every QP with WQEs no CQE has covered yet goes to ERR, including one whose
 * error CQE already came: that CQE proves nothing about when the device will
 * flush the rest, and the contract wants them back by the next poll(). A QP
 * in ERR moves no more data, so the driver completes them itself
 * (-ECANCELED); the device's own CQEs for them are absorbed when they come,
 * and the QP is recovered after the last one.
 */
void
mlx5_cancel(struct tern_endpoint *base)
{
	struct mlx5_endpoint *ep = mlx5_ep(base);
	uint16_t i;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		struct mlx5_sq *sq = mlx5_ep_live_sq(ep, i);

		/* A QP that cannot be flushed is still in RTS (or so the device
		 * says): its CQEs complete the work. */
		if (sq != NULL && sq->done != sq->pi)
			ep_sq_cancel(ep, sq, -ECANCELED);
	}
	mlx5_rails_cancel(ep);
	/* Notifications waiting for their status complete now too; a SEND
	 * still in a ring only frees its entry when reported, and a status
	 * that comes later finds no notification (counted, dropped). */
	if (ep->nt_out != 0)
		ep_nt_fail(ep, NULL, -ECANCELED, 0);
}

int
mlx5_ep_stats(const struct tern_endpoint *base, struct tern_mlx5_ep_stats *stats)
{
	const struct mlx5_endpoint *ep = mlx5_ep_const(base);
	unsigned int i;

	if (ep == NULL || stats == NULL)
		return -EINVAL;
	*stats = ep->stats;
	stats->errors = 0;
	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		const struct mlx5_sq *sq = __atomic_load_n(&ep->qps[i], __ATOMIC_ACQUIRE);

		if (sq != NULL)
			stats->errors += sq->errors;
	}
	return 0;
}
