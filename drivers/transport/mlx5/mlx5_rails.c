/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mlx5 rails (mlx5_rails.h, doc/peers.md "mlx5 rails"): the rail set of an
 * imported segment, the choice of a rail per run of slices, and failover of
 * the WQEs of a QP that failed with RETRY_EXC onto another rail. Everything
 * here runs on the error path or once per run; the one-rail post path only
 * pays ep_resolve()'s test of the rail count.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_spinlock.h>

#include <tern_time.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_ctl.h"
#include "mlx5_handshake.h"
#include "mlx5_queue.h"
#include "mlx5_rails.h"
#include "mlx5_wqe.h"
#include "tern_mlx5_internal.h"

/* Rail sets an endpoint remembers (to find the other rails of a failed WQE
 * by its peer slot and rkey), WQEs waiting to go again, pause bounds (as
 * tcp's: 100 ms doubling to 2 s). */
#define RAIL_SETS	  16u
#define RAIL_HELD	  512u
#define RAIL_PAUSE_MS	  100u
#define RAIL_PAUSE_MAX	  2000u
#define RAIL_OPCODE_READ  0x10
#define RAIL_OPCODE_WRITE 0x08
/* Expired batches every endpoint remembers (as tcp's: the last 64, for a
 * second), endpoints an expire() waits for, and how long at most. */
#define RAIL_DEAD	  64u
#define RAIL_DEAD_KEEP_MS 1000u
#define RAIL_EP_MAX	  256u
#define RAIL_QUIESCE_MS	  10u
/* Times one slice is posted again across rails before it fails (or goes to
 * the last resort), as tcp's 8. */
#define RAIL_REPOST_MAX 8u

/*
 * A rail that failed on one lcore failed for every lcore: the same link.
 * Each lcore still pauses its own QP only when it sees that QP fail (as
 * before); this process-wide mark, per peer slot, is read by
 * mlx5_rail_live() alone, so that an lcore whose QPs have not failed yet
 * sends a segment with a last resort there instead of finding out with
 * slices. Atomic; the latest pause end wins.
 */
static uint64_t rails_down_until_ms[TERN_MLX5_PEER_MAX];

/*
 * Batches whose deadline passed (expire(), mlx5_rails_expire()): the owner
 * lcore publishes (cookie, batch) here; every endpoint reads what is new
 * before it posts a held WQE again or hands one back (mlx5_rails_poll(),
 * mlx5_give_back(): the failover path only) and fails the held WQEs of
 * those cookies instead. A cookie alone names the batch: a WQE taken off a
 * failed QP is a slice not completed yet, and the engine reuses a cookie
 * only after every slice of its batch completed, so while any WQE with
 * that cookie is held or still in a QP, the cookie belongs to the batch
 * that expired. (Keeping the batch per WQE would cost a store per WQE on
 * the post path.) What is left: a later batch that reuses the cookie
 * within the second an endpoint remembers it, and has a slice taken off a
 * failed QP meanwhile, sees that slice fail -ETIMEDOUT (doc/mlx5.md).
 */
struct rail_dead {
	uint64_t cookie;
	uint64_t batch;
	uint64_t until_tsc; /* an endpoint's copy: forgotten then */
};

static struct {
	rte_spinlock_t lock;
	uint64_t gen; /* entries ever published */
	struct rail_dead ring[RAIL_DEAD];
} rails_expired = { .lock = RTE_SPINLOCK_INITIALIZER };

/* Per endpoint slot: odd while that endpoint may post a held WQE again or
 * hand one back; expire() waits for those to leave. 0 in rails_ep_used:
 * slot free. */
static uint64_t rails_qseq[RAIL_EP_MAX];
static uint8_t rails_ep_used[RAIL_EP_MAX];

/* The WRITE fence (tern_mlx5_tuning.write_fence_us, configure key
 * write_fence_us): 0 until set, one local ACK timeout then. */
static uint32_t rails_write_fence_us;

/* A WQE taken off a failed QP, to post again (or hand back to the engine). */
struct rail_held {
	uint64_t cookie;
	uint64_t raddr;
	uint64_t laddr;
	uint64_t fence_tsc; /* a WRITE: not elsewhere before (UINT64_MAX: the QP's recovery) */
	const struct tern_segment *seg; /* the target it was posted to */
	struct mlx5_rail_set rs;	/* its rails (one, for a one-rail segment) */
	uint32_t len;
	uint32_t lkey;
	int32_t error; /* the failed rail's error, if it must fail after all */
	uint16_t from; /* peer slot it failed on */
	uint8_t opcode;
	uint8_t expired;  /* its batch expired: complete -ETIMEDOUT, never post */
	uint32_t reposts; /* times posted again already (the slot's count) */
};

/* A segment whose WQEs can be taken off a failed QP: one with several
 * rails, or one rail and a last resort. */
struct rail_seg {
	const struct tern_segment *seg;
	uint64_t raddr; /* the peer's address of its byte 0 */
	uint64_t len;
	struct mlx5_rail_set rs;
};

struct mlx5_ep_rails {
	uint64_t pause_until_ms[TERN_MLX5_PEER_MAX];
	uint32_t backoff_ms[TERN_MLX5_PEER_MAX];
	uint64_t failed_ms[TERN_MLX5_PEER_MAX];	 /* tern_clock_ms() of the last pause */
	uint64_t moved_from[TERN_MLX5_PEER_MAX]; /* WQEs taken off each rail */
	uint64_t pauses[TERN_MLX5_PEER_MAX];
	struct rail_seg sets[RAIL_SETS];
	uint32_t nb_sets;
	uint32_t next_set;
	const struct tern_segment *last_target; /* the set of the last pick is remembered */
	uint64_t moved_out;			/* MLX5_RAIL_MOVED completions still due */
	uint32_t held_head;
	uint32_t held_tail;
	struct rail_held held[RAIL_HELD];
	uint32_t give_head; /* handed back to the engine (give_back op) */
	uint32_t give_tail;
	struct rail_held give[RAIL_HELD];
	/* Expired batches this endpoint knows (rails_expired up to seen_gen). */
	struct rail_dead dead[RAIL_DEAD];
	uint32_t dead_head;
	uint32_t nb_dead;
	uint64_t seen_gen;
	uint32_t slot; /* in rails_qseq */
	struct mlx5_rails_stats st;
};

/* ---- import ---- */

int
mlx5_rails_import(struct tern_segment *seg, const struct tern_mlx5_desc3 *d, int wired)
{
	struct mlx5_rail_set rs;
	struct tern_mlx5_desc p0, pi;
	unsigned int i;
	int peer, rc = 0;

	RTE_BUILD_BUG_ON(sizeof(struct tern_mlx5_desc) + sizeof(struct mlx5_rail_set) >
			 TERN_SEGMENT_PRIV_SIZE);
	if (seg == NULL || d == NULL || d->nports < 2 || d->nports > TERN_MLX5_RAIL_MAX ||
	    mlx5_desc3_port(d, 0, &p0) != 0)
		return -EINVAL;
	memset(&rs, 0, sizeof(rs));
	for (i = 0; i < d->nports; i++) {
		mlx5_desc3_port(d, i, &pi);
		peer = mlx5_peer_get(pi.gid, 1);
		if (peer < 0) {
			rc = peer;
			break;
		}
		rs.peer[i] = (uint16_t)peer;
		rs.rkey[i] = pi.rkey;
		rs.nrails = (uint8_t)(i + 1);
		if (peer == TERN_MLX5_PEER_SELF || wired)
			continue;
		rc = mlx5_handshake_run((uint16_t)peer, &pi);
		if (rc != 0)
			break;
		mlx5_ctl_lock();
		mlx5_peer_set_desc_locked((uint16_t)peer, &pi);
		mlx5_ctl_unlock();
		mlx5_reviver_rearm((uint16_t)peer);
		mlx5_reviver_start();
	}
	if (rc != 0) {
		for (i = 0; i < rs.nrails; i++)
			mlx5_peer_put(rs.peer[i]);
		return rc;
	}
	p0.peer = rs.peer[0];
	p0.reserved = rs.nrails;
	memcpy(seg->priv, &p0, sizeof(p0));
	memcpy(seg->priv + sizeof(p0), &rs, sizeof(rs));
	return 0;
}

void
mlx5_rails_release(struct tern_segment *seg)
{
	const struct mlx5_rail_set *rs = mlx5_rail_set_of(seg);
	unsigned int i;

	for (i = 0; i < rs->nrails && i < TERN_MLX5_RAIL_MAX; i++)
		mlx5_peer_put(rs->peer[i]);
}

/* ---- endpoint state ---- */

int
mlx5_rails_ep_open(struct mlx5_endpoint *ep, int socket_id)
{
	uint32_t i;

	ep->rails = rte_zmalloc_socket("tern_mlx5_rails", sizeof(*ep->rails), RTE_CACHE_LINE_SIZE,
				       socket_id);
	if (ep->rails == NULL)
		return -ENOMEM;
	for (i = 0; i < RAIL_EP_MAX; i++) {
		uint8_t free_ = 0;

		if (__atomic_compare_exchange_n(&rails_ep_used[i], &free_, 1, false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			break;
	}
	if (i == RAIL_EP_MAX) {
		rte_free(ep->rails);
		ep->rails = NULL;
		return -ENOSPC;
	}
	ep->rails->slot = i;
	/* Batches that expired before it opened hold nothing of it. */
	ep->rails->seen_gen = __atomic_load_n(&rails_expired.gen, __ATOMIC_SEQ_CST);
	return 0;
}

void
mlx5_rails_ep_close(struct mlx5_endpoint *ep)
{
	if (ep->rails != NULL)
		__atomic_store_n(&rails_ep_used[ep->rails->slot], 0, __ATOMIC_RELEASE);
	rte_free(ep->rails);
	ep->rails = NULL;
}

/* ---- choosing a rail ---- */

/* Remember segment @p t and its rails @p rs so a failed WQE finds its
 * other rails, or its last resort. */
static void
rails_remember(struct mlx5_ep_rails *r, const struct tern_segment *t,
	       const struct mlx5_rail_set *rs)
{
	const struct tern_mlx5_desc *d = (const struct tern_mlx5_desc *)t->priv;
	struct rail_seg e;
	uint32_t i;

	memset(&e, 0, sizeof(e));
	e.seg = t;
	e.raddr = d->addr;
	e.len = t->length;
	e.rs = *rs;
	for (i = 0; i < r->nb_sets; i++)
		if (memcmp(&r->sets[i], &e, sizeof(e)) == 0)
			return;
	if (r->nb_sets < RAIL_SETS) {
		r->sets[r->nb_sets++] = e;
		return;
	}
	r->sets[r->next_set] = e;
	r->next_set = (r->next_set + 1) % RAIL_SETS;
}

void
mlx5_rails_note(struct mlx5_endpoint *ep, const struct tern_segment *t)
{
	const struct tern_mlx5_desc *d = (const struct tern_mlx5_desc *)t->priv;
	struct mlx5_rail_set rs;

	if (ep->rails == NULL || ep->rails->last_target == t)
		return;
	memset(&rs, 0, sizeof(rs));
	rs.nrails = 1;
	rs.peer[0] = d->peer;
	rs.rkey[0] = d->rkey;
	rails_remember(ep->rails, t, &rs);
	ep->rails->last_target = t;
}

/* Is the rail of peer slot @p peer in service on @p ep? With @p load set to
 * its WQEBBs in flight. The clock is read (into *@p now, 0: not yet) only
 * for a rail that was paused. */
static bool
rail_usable(struct mlx5_endpoint *ep, uint16_t peer, uint64_t *now, uint32_t *load)
{
	struct mlx5_sq *sq = __atomic_load_n(&ep->qps[peer], __ATOMIC_ACQUIRE);
	uint64_t pause = ep->rails->pause_until_ms[peer];

	if (unlikely(pause != 0)) {
		if (*now == 0)
			*now = tern_clock_ms();
		if (pause > *now)
			return false;
		ep->rails->pause_until_ms[peer] = 0; /* over */
	}
	if (sq == NULL) {
		*load = 0;
		return true;
	}
	if (__atomic_load_n(&sq->dead, __ATOMIC_ACQUIRE) || sq->error)
		return false;
	*load = (uint16_t)(sq->pi - sq->rep);
	return true;
}

/* One rail, no rail set: its QP not dead and not in ERR (or not opened),
 * and the rail not paused (after it failed with slices that went to the
 * last resort, mlx5_rails_on_error()). */
static bool
rail_usable_one(struct mlx5_endpoint *ep, uint16_t peer)
{
	struct mlx5_sq *sq = __atomic_load_n(&ep->qps[peer], __ATOMIC_ACQUIRE);
	uint64_t down = __atomic_load_n(&rails_down_until_ms[peer], __ATOMIC_RELAXED);
	uint64_t pause = ep->rails->pause_until_ms[peer];

	if (unlikely((pause | down) != 0) && RTE_MAX(pause, down) > tern_clock_ms())
		return false;
	return sq == NULL || (!__atomic_load_n(&sq->dead, __ATOMIC_ACQUIRE) && !sq->error);
}

/* The rail of @p rs for new work: fewest WQEBBs in flight among those in
 * service, else the one whose pause ends first. @return its index. */
static unsigned int
rails_choose(struct mlx5_endpoint *ep, const struct mlx5_rail_set *rs, int exclude)
{
	struct mlx5_ep_rails *r = ep->rails;
	uint32_t load, best_load = UINT32_MAX;
	uint64_t now = 0, soonest = UINT64_MAX;
	unsigned int i, best = 0, wake = 0;
	int found = 0;

	for (i = 0; i < rs->nrails; i++) {
		if ((int)i == exclude)
			continue;
		if (rail_usable(ep, rs->peer[i], &now, &load)) {
			if (load < best_load) {
				best_load = load;
				best = i;
				found = 1;
			}
		} else if (r->pause_until_ms[rs->peer[i]] < soonest) {
			soonest = r->pause_until_ms[rs->peer[i]];
			wake = i;
		}
	}
	return found ? best : (exclude >= 0 ? RAIL_SETS : wake);
}

uint16_t
mlx5_rail_pick(struct mlx5_endpoint *ep, const struct tern_segment *t, uint32_t *rkey)
{
	const struct mlx5_rail_set *rs = mlx5_rail_set_of(t);
	unsigned int i;

	if (unlikely(ep->rails == NULL || rs->nrails < 2 || rs->nrails > TERN_MLX5_RAIL_MAX)) {
		const struct tern_mlx5_desc *d = (const struct tern_mlx5_desc *)t->priv;

		*rkey = d->rkey;
		return d->peer;
	}
	if (ep->rails->last_target != t) {
		rails_remember(ep->rails, t, rs);
		ep->rails->last_target = t;
	}
	i = rails_choose(ep, rs, -1);
	*rkey = rs->rkey[i];
	return rs->peer[i];
}

bool
mlx5_rail_live(struct tern_endpoint *base, const struct tern_segment *t)
{
	struct mlx5_endpoint *ep = mlx5_ep(base);
	const struct mlx5_rail_set *rs = mlx5_rail_set_of(t);
	uint64_t now = 0;
	uint32_t load;
	unsigned int i;

	if (ep->rails == NULL)
		return true;
	if (rs->nrails < 2 || rs->nrails > TERN_MLX5_RAIL_MAX)
		return rail_usable_one(ep, ((const struct tern_mlx5_desc *)t->priv)->peer);
	for (i = 0; i < rs->nrails; i++) {
		uint64_t down =
			__atomic_load_n(&rails_down_until_ms[rs->peer[i]], __ATOMIC_RELAXED);

		if (!rail_usable(ep, rs->peer[i], &now, &load))
			continue;
		if (down != 0) {
			if (now == 0)
				now = tern_clock_ms();
			if (down > now)
				continue; /* paused by another lcore's failure */
		}
		return true;
	}
	return false;
}

/* ---- failover ---- */

/* The remembered segment a WQE to peer slot @p peer with @p rkey at remote
 * address @p raddr was posted to: one with a rail of that slot and key, the
 * address inside it, and the same remote address in its priv still (a slot
 * reused by another import fails that or the key).
 * @return its index, or -1. */
static int
rails_find(const struct mlx5_ep_rails *r, uint16_t peer, uint32_t rkey, uint64_t raddr)
{
	uint32_t s;
	unsigned int i;

	for (s = 0; s < r->nb_sets; s++) {
		const struct rail_seg *e = &r->sets[s];
		const struct tern_mlx5_desc *d = (const struct tern_mlx5_desc *)e->seg->priv;

		if (raddr < e->raddr || raddr - e->raddr >= e->len || d->addr != e->raddr)
			continue;
		for (i = 0; i < e->rs.nrails; i++)
			if (e->rs.peer[i] == peer && e->rs.rkey[i] == rkey)
				return (int)s;
	}
	return -1;
}

/* TSC cycles a WRITE taken off a failed QP waits before it goes elsewhere
 * (doc/mlx5.md, "Failover of a WRITE"): the configured fence, by default
 * one local ACK timeout of the QPs (4.096 us << timeout). */
static uint64_t
rails_fence_tsc(void)
{
	uint32_t us = mlx5_tuning()->write_fence_us;
	struct tern_mlx5_path path;

	if (us == 0)
		us = __atomic_load_n(&rails_write_fence_us, __ATOMIC_RELAXED);
	if (us == TERN_MLX5_FENCE_QP)
		return UINT64_MAX;
	if (us == 0) {
		mlx5_verbs_get_path(&path);
		/* 4.096 us << timeout, rounded up to whole microseconds. */
		uint64_t ack_us = (4096ull << (path.timeout & 31u)) / 1000 + 1;

		us = (uint32_t)RTE_MIN(ack_us, (uint64_t)TERN_MLX5_FENCE_NOW - 1);
	} else if (us == TERN_MLX5_FENCE_NOW) {
		return 0;
	}
	return (uint64_t)us * (rte_get_tsc_hz() / 1000000);
}

void
mlx5_rails_set_write_fence(uint32_t us)
{
	__atomic_store_n(&rails_write_fence_us, us, __ATOMIC_RELAXED);
}

uint32_t
mlx5_rails_write_fence(void)
{
	return __atomic_load_n(&rails_write_fence_us, __ATOMIC_RELAXED);
}

void
mlx5_rails_forget_marks(int peer)
{
	unsigned int i;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++)
		if (peer < 0 || (unsigned int)peer == i)
			__atomic_store_n(&rails_down_until_ms[i], 0, __ATOMIC_RELAXED);
}

static void
rail_mark_down(uint16_t peer, uint64_t until)
{
	uint64_t cur = __atomic_load_n(&rails_down_until_ms[peer], __ATOMIC_RELAXED);

	while (cur < until &&
	       !__atomic_compare_exchange_n(&rails_down_until_ms[peer], &cur, until, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void
rail_pause(struct mlx5_ep_rails *r, uint16_t peer)
{
	uint64_t now = tern_clock_ms();
	uint32_t b = r->backoff_ms[peer];

	/* Doubling while it keeps failing; a rail that served for twice the
	 * longest pause since its last failure starts again at the shortest. */
	if (mlx5_tuning()->rail_pause_ms != 0)
		b = mlx5_tuning()->rail_pause_ms;
	else if (b == 0 || now - r->failed_ms[peer] > 2 * RAIL_PAUSE_MAX + b)
		b = RAIL_PAUSE_MS;
	else
		b = RTE_MIN(b * 2, RAIL_PAUSE_MAX);
	r->backoff_ms[peer] = b;
	r->failed_ms[peer] = now;
	r->pause_until_ms[peer] = now + b;
	rail_mark_down(peer, now + b);
	r->pauses[peer]++;
	r->st.pauses++;
}

/* ---- expired batches ---- */

/* Complete @p h locally with @p status. @return 0, or -ENOSPC (ring full). */
static int
rails_complete_sw(struct mlx5_endpoint *ep, const struct rail_held *h, int32_t status)
{
	if (ep->sw_tail - ep->sw_head > ep->sw_mask)
		return -ENOSPC;
	ep->sw[ep->sw_tail & ep->sw_mask].cookie = h->cookie;
	ep->sw[ep->sw_tail & ep->sw_mask].status = status;
	ep->sw[ep->sw_tail & ep->sw_mask].length = 0;
	ep->sw_tail++;
	return 0;
}

/* Was @p cookie's batch expired lately, as far as @p r knows? Forgets the
 * old ones (@p now: TSC). */
static bool
rails_dead(struct mlx5_ep_rails *r, uint64_t cookie, uint64_t now)
{
	uint32_t i;

	while (r->nb_dead != 0 &&
	       r->dead[(r->dead_head + RAIL_DEAD - r->nb_dead) % RAIL_DEAD].until_tsc < now)
		r->nb_dead--;
	for (i = 1; i <= r->nb_dead; i++)
		if (r->dead[(r->dead_head + RAIL_DEAD - i) % RAIL_DEAD].cookie == cookie)
			return true;
	return false;
}

/*
 * The held and handed-back WQEs of @p cookie (@p all: every one) will never
 * be posted: completed -ETIMEDOUT through poll() (the software ring; a held
 * one that finds it full is marked and completed by mlx5_rails_poll(), a
 * handed-back one by mlx5_give_back()).
 */
static void
rails_expire_held(struct mlx5_endpoint *ep, uint64_t cookie, bool all)
{
	struct mlx5_ep_rails *r = ep->rails;
	uint32_t j, kept;

	kept = r->held_head;
	for (j = r->held_head; j != r->held_tail; j++) {
		struct rail_held h = r->held[j % RAIL_HELD];

		if (all || h.cookie == cookie) {
			h.expired = 1;
			if (rails_complete_sw(ep, &h, -ETIMEDOUT) == 0) {
				ep->rails_pending--;
				r->st.expired++;
				continue;
			}
		}
		r->held[kept++ % RAIL_HELD] = h;
	}
	r->held_tail = kept;
	kept = r->give_head;
	for (j = r->give_head; j != r->give_tail; j++) {
		struct rail_held h = r->give[j % RAIL_HELD];

		if (all || h.cookie == cookie) {
			h.expired = 1;
			if (rails_complete_sw(ep, &h, -ETIMEDOUT) == 0) {
				ep->base.give_back--;
				r->st.expired++;
				continue;
			}
		}
		r->give[kept++ % RAIL_HELD] = h;
	}
	r->give_tail = kept;
}

/* Take in the batches expired since this endpoint last looked: remember
 * them (a WQE of theirs may be taken off a QP later) and expire what it
 * holds of them. Fell behind by more than it can remember: everything it
 * holds counts as expired (as tcp does). */
static void
rails_catch_up(struct mlx5_endpoint *ep)
{
	struct mlx5_ep_rails *r = ep->rails;
	struct rail_dead got[RAIL_DEAD];
	uint64_t gen, first, until;
	uint32_t n = 0, k;
	bool all = false;

	if (__atomic_load_n(&rails_expired.gen, __ATOMIC_SEQ_CST) == r->seen_gen)
		return;
	rte_spinlock_lock(&rails_expired.lock);
	gen = rails_expired.gen;
	first = r->seen_gen;
	if (gen - first > RAIL_DEAD) {
		all = true;
		first = gen - RAIL_DEAD;
	}
	for (; first + n < gen; n++)
		got[n] = rails_expired.ring[(first + n) % RAIL_DEAD];
	rte_spinlock_unlock(&rails_expired.lock);
	r->seen_gen = gen;
	until = rte_rdtsc() + rte_get_tsc_hz() / 1000 * RAIL_DEAD_KEEP_MS;
	for (k = 0; k < n; k++) {
		r->dead[r->dead_head] = got[k];
		r->dead[r->dead_head].until_tsc = until;
		r->dead_head = (r->dead_head + 1) % RAIL_DEAD;
		r->nb_dead = RTE_MIN(r->nb_dead + 1, RAIL_DEAD);
		if (!all && (r->held_head != r->held_tail || r->give_head != r->give_tail))
			rails_expire_held(ep, got[k].cookie, false);
	}
	if (all)
		rails_expire_held(ep, 0, true);
}

/* The endpoint may post held WQEs again or hand them back until
 * rails_leave(); an expire() waits for it to leave. */
static inline void
rails_enter(struct mlx5_ep_rails *r)
{
	__atomic_fetch_add(&rails_qseq[r->slot], 1, __ATOMIC_SEQ_CST);
}

static inline void
rails_leave(struct mlx5_ep_rails *r)
{
	__atomic_fetch_add(&rails_qseq[r->slot], 1, __ATOMIC_RELEASE);
}

void
mlx5_rails_expire(struct tern_endpoint *base, uint64_t cookie, uint64_t batch)
{
	struct mlx5_endpoint *ep = mlx5_ep(base);
	uint64_t end, seq;
	uint32_t i;

	rte_spinlock_lock(&rails_expired.lock);
	rails_expired.ring[rails_expired.gen % RAIL_DEAD] =
		(struct rail_dead){ .cookie = cookie, .batch = batch };
	__atomic_store_n(&rails_expired.gen, rails_expired.gen + 1, __ATOMIC_SEQ_CST);
	rte_spinlock_unlock(&rails_expired.lock);
	/* This endpoint's own held WQEs: now. */
	if (ep->rails != NULL)
		rails_catch_up(ep);
	/* Another endpoint that is posting held WQEs again may not have seen
	 * it: wait until it left (bounded: a lost lcore must not stop this
	 * one); the next time it enters, it catches up first. */
	end = rte_rdtsc() + rte_get_tsc_hz() / 1000 * RAIL_QUIESCE_MS;
	for (i = 0; i < RAIL_EP_MAX; i++) {
		if ((ep->rails != NULL && i == ep->rails->slot) ||
		    !__atomic_load_n(&rails_ep_used[i], __ATOMIC_ACQUIRE))
			continue;
		seq = __atomic_load_n(&rails_qseq[i], __ATOMIC_SEQ_CST);
		while ((seq & 1) != 0 && __atomic_load_n(&rails_qseq[i], __ATOMIC_SEQ_CST) == seq &&
		       rte_rdtsc() < end)
			rte_pause();
	}
}

void
mlx5_rails_on_error(struct mlx5_endpoint *ep, struct mlx5_sq *sq, uint16_t wqe, int err)
{
	struct mlx5_ep_rails *r = ep->rails;
	uint64_t fence = 0, now_tsc = 0;
	uint16_t i;
	int paused = 0;

	if (r == NULL || err != -ETIMEDOUT)
		return;
	for (i = wqe; i != sq->pi;) {
		const uint8_t *w = sq->buf + (size_t)(i & sq->mask) * TERN_MLX5_WQEBB;
		const uint64_t *q = (const uint64_t *)w;
		uint8_t opcode = w[3], ds = w[7] & 0x3f;
		uint32_t rkey = rte_be_to_cpu_32((uint32_t)q[3]);
		uint64_t raddr = rte_be_to_cpu_64(q[2]);
		const struct rail_seg *e;
		struct rail_held *h;
		int set;

		i += (uint16_t)((ds + 3) / 4);
		if (ds != MLX5_WQE_RDMA_DS ||
		    (opcode != RAIL_OPCODE_WRITE && opcode != RAIL_OPCODE_READ))
			continue; /* inline WRITEs and the like fail as before */
		set = rails_find(r, sq->peer, rkey, raddr);
		if (set < 0 || r->held_tail - r->held_head >= RAIL_HELD)
			continue;
		e = &r->sets[set];
		/* One rail and no last resort: nowhere else to go, fails as before. */
		if (e->rs.nrails < 2 && __atomic_load_n(&e->seg->fallback, __ATOMIC_ACQUIRE) == 0)
			continue;
		if (!paused) {
			rail_pause(r, sq->peer);
			/* No packet of the QP can land later than this (doc/mlx5.md). */
			fence = rails_fence_tsc();
			fence = fence == UINT64_MAX ? fence : rte_rdtsc() + fence;
			paused = 1;
		}
		h = &r->held[r->held_tail++ % RAIL_HELD];
		h->cookie = sq->slots[(uint16_t)(i - (ds + 3) / 4) & sq->mask].cookie;
		h->reposts = sq->slots[(uint16_t)(i - (ds + 3) / 4) & sq->mask].reposts;
		h->raddr = raddr;
		h->fence_tsc = fence;
		h->seg = e->seg;
		h->rs = e->rs;
		h->len = rte_be_to_cpu_32((uint32_t)q[4]);
		h->lkey = rte_be_to_cpu_32((uint32_t)(q[4] >> 32));
		h->laddr = rte_be_to_cpu_64(q[5]);
		h->error = err;
		h->from = sq->peer;
		h->opcode = opcode;
		/* Of a batch that expired already: never posted again. */
		if (r->nb_dead != 0 && now_tsc == 0)
			now_tsc = rte_rdtsc();
		h->expired = r->nb_dead != 0 && rails_dead(r, h->cookie, now_tsc);
		sq->slots[(uint16_t)(i - (ds + 3) / 4) & sq->mask].cookie = MLX5_RAIL_MOVED;
		r->moved_out++;
		r->moved_from[sq->peer]++;
		ep->rails_pending += 2; /* a completion to drop, a WQE to post */
		r->st.moved++;
	}
}

/* A WRITE may go again elsewhere once the QP it failed on can no longer
 * deliver it: its fence passed (one local ACK timeout after the error CQE,
 * doc/mlx5.md "Failover of a WRITE"), or the QP is out of ERR, by a recovery
 * (the device flushed it) or a revival handshake (which reset the target's
 * end first). */
static bool
rail_fenced(struct mlx5_endpoint *ep, const struct rail_held *h, uint64_t *now_tsc)
{
	struct mlx5_sq *sq;

	if (h->opcode != RAIL_OPCODE_WRITE)
		return true;
	if (h->fence_tsc != UINT64_MAX) {
		if (*now_tsc == 0)
			*now_tsc = rte_rdtsc();
		if (*now_tsc >= h->fence_tsc)
			return true;
	}
	sq = __atomic_load_n(&ep->qps[h->from], __ATOMIC_ACQUIRE);
	return sq != NULL && !__atomic_load_n(&sq->dead, __ATOMIC_ACQUIRE) && !sq->error;
}

/* Post @p h on rail @p rail of its set. @return 1 posted, 0 no room. */
static int
rail_post(struct mlx5_endpoint *ep, const struct rail_held *h, const struct mlx5_rail_set *rs,
	  unsigned int rail, uint32_t *touched)
{
	uint16_t peer = rs->peer[rail];
	struct mlx5_sq *sq = __atomic_load_n(&ep->qps[peer], __ATOMIC_ACQUIRE);

	if (sq == NULL)
		sq = mlx5_ep_qp_open(ep, peer);
	if (sq == NULL || __atomic_load_n(&sq->dead, __ATOMIC_ACQUIRE) || sq->error ||
	    mlx5_sq_room(sq) == 0)
		return 0;
	mlx5_post_rdma(sq, h->opcode, h->laddr, h->lkey, h->len, h->raddr, rs->rkey[rail],
		       mlx5_sq_signal(sq, 1, h->opcode == RAIL_OPCODE_READ), h->cookie);
	sq->slots[(uint16_t)(sq->pi - 1) & sq->mask].reposts = h->reposts + 1;
	*touched |= 1u << peer;
	ep->stats.posted++;
	return 1;
}

uint16_t
mlx5_rails_poll(struct mlx5_endpoint *ep, struct tern_completion *cpl, uint16_t n, uint16_t max)
{
	struct mlx5_ep_rails *r = ep->rails;
	uint32_t touched = 0, kept = r->held_head, j;
	uint64_t now_tsc = 0;
	uint16_t i, out = 0;

	/* Drop what was taken off failed QPs: it completes where it goes next. */
	for (i = 0; i < n; i++) {
		if (cpl[i].cookie == MLX5_RAIL_MOVED && r->moved_out != 0) {
			r->moved_out--;
			ep->rails_pending--;
			continue;
		}
		cpl[out++] = cpl[i];
	}
	/* Post again what may go, in order; keep the rest. Nothing of a batch
	 * that expired: what is new is taken in first, inside the section an
	 * expire() waits for. */
	rails_enter(r);
	rails_catch_up(ep);
	kept = r->held_head;
	for (j = r->held_head; j != r->held_tail; j++) {
		struct rail_held h = r->held[j % RAIL_HELD];
		const struct mlx5_rail_set *rs = &h.rs;
		unsigned int from = 0, k, rail;
		int done = 0;

		if (h.expired) {
			if (out < max) {
				cpl[out].cookie = h.cookie;
				cpl[out].status = -ETIMEDOUT;
				cpl[out].length = 0;
				out++;
				r->st.expired++;
				ep->rails_pending--;
			} else {
				r->held[kept++ % RAIL_HELD] = h;
			}
			continue;
		}
		for (k = 0; k < rs->nrails; k++)
			if (rs->peer[k] == h.from)
				from = k;
		/* Posted again RAIL_REPOST_MAX times already: as with no rail. */
		rail = h.reposts >= RAIL_REPOST_MAX ? RAIL_SETS : rails_choose(ep, rs, (int)from);
		if (rail >= rs->nrails && h.reposts < RAIL_REPOST_MAX) {
			/* No other rail in service: the failed one, if it is back. */
			uint64_t now = 0;
			uint32_t load;

			if (rail_usable(ep, h.from, &now, &load))
				rail = from;
		}
		if (rail < rs->nrails) {
			if (rail != from && !rail_fenced(ep, &h, &now_tsc))
				done = 0; /* wait for the fence */
			else
				done = rail_post(ep, &h, rs, rail, &touched);
			if (done)
				r->st.reposted++;
		} else if (__atomic_load_n(&h.seg->fallback, __ATOMIC_ACQUIRE) != 0) {
			/* No rail left, a last resort: back to the engine, which
			 * posts it there (give_back op), once fenced. */
			if (rail_fenced(ep, &h, &now_tsc) &&
			    r->give_tail - r->give_head < RAIL_HELD) {
				r->give[r->give_tail++ % RAIL_HELD] = h;
				ep->base.give_back++;
				done = 1;
			}
		} else if (out < max) {
			/* No rail left: the last rail's error, before the deadline. */
			cpl[out].cookie = h.cookie;
			cpl[out].status = h.error;
			cpl[out].length = 0;
			out++;
			r->st.failed++;
			done = 1;
		}
		if (done) {
			ep->rails_pending--;
			r->st.capped += h.reposts >= RAIL_REPOST_MAX;
		} else {
			r->held[kept++ % RAIL_HELD] = h;
		}
	}
	r->held_tail = kept;
	while (touched != 0) {
		struct mlx5_sq *sq = ep->qps[rte_bsf32(touched)];

		touched &= touched - 1;
		if (sq->pi == sq->db_pi)
			continue;
		((uint8_t *)sq->last_ctrl)[11] |= MLX5_WQE_CTRL_CQ_UPDATE;
		mlx5_sq_doorbell(sq);
		ep->stats.doorbells++;
	}
	/* Left once rung: a WQE posted inside is on the wire when it leaves. */
	rails_leave(r);
	return out;
}

uint16_t
mlx5_give_back(struct tern_endpoint *base, struct tern_slice *out, int32_t *status, uint16_t max)
{
	struct mlx5_endpoint *ep = mlx5_ep(base);
	struct mlx5_ep_rails *r = ep->rails;
	uint16_t n = 0;

	if (r == NULL)
		return 0;
	/* Nothing of a batch that expired goes back (see mlx5_rails_poll()). */
	rails_enter(r);
	rails_catch_up(ep);
	while (n < max && r->give_head != r->give_tail) {
		const struct rail_held *h = &r->give[r->give_head % RAIL_HELD];
		const struct tern_mlx5_desc *d = (const struct tern_mlx5_desc *)h->seg->priv;

		if (h->expired) {
			/* Its completion waited for room in the software ring. */
			if (rails_complete_sw(ep, h, -ETIMEDOUT) != 0)
				break;
			r->give_head++;
			ep->base.give_back--;
			r->st.expired++;
			continue;
		}
		r->give_head++;

		out[n] = (struct tern_slice){
			.cookie = h->cookie,
			.local = (uint8_t *)(uintptr_t)h->laddr,
			.target = h->seg,
			.offset = h->raddr - d->addr,
			.length = h->len,
			.op = h->opcode == RAIL_OPCODE_READ ? TERN_OP_READ : TERN_OP_WRITE,
		};
		status[n++] = h->error;
	}
	rails_leave(r);
	ep->base.give_back -= n;
	r->st.given_back += n;
	return n;
}

/* Complete @p h locally with -ECANCELED. @return 0, or -ENOSPC (ring full). */
static int
rails_cancel_one(struct mlx5_endpoint *ep, const struct rail_held *h)
{
	return rails_complete_sw(ep, h, -ECANCELED);
}

void
mlx5_rails_cancel(struct mlx5_endpoint *ep)
{
	struct mlx5_ep_rails *r = ep->rails;

	if (r == NULL)
		return;
	while (r->held_head != r->held_tail &&
	       rails_cancel_one(ep, &r->held[r->held_head % RAIL_HELD]) == 0) {
		r->held_head++;
		ep->rails_pending--;
	}
	/* Not handed back yet: they complete here instead. */
	while (r->give_head != r->give_tail &&
	       rails_cancel_one(ep, &r->give[r->give_head % RAIL_HELD]) == 0) {
		r->give_head++;
		ep->base.give_back--;
	}
}

void
mlx5_rails_rail_state(const struct mlx5_endpoint *ep, uint16_t peer, uint64_t now,
		      uint32_t *pause_left_ms, uint64_t *moved, uint64_t *pauses)
{
	const struct mlx5_ep_rails *r = ep->rails;
	uint64_t until;

	*pause_left_ms = 0;
	*moved = 0;
	*pauses = 0;
	if (r == NULL || peer >= TERN_MLX5_PEER_MAX)
		return;
	/* Written by the lcore: a snapshot for display. */
	until = __atomic_load_n(&r->pause_until_ms[peer], __ATOMIC_RELAXED);
	if (until > now)
		*pause_left_ms = (uint32_t)RTE_MIN(until - now, UINT32_MAX);
	*moved = __atomic_load_n(&r->moved_from[peer], __ATOMIC_RELAXED);
	*pauses = __atomic_load_n(&r->pauses[peer], __ATOMIC_RELAXED);
}

int
mlx5_rails_stats(const struct tern_endpoint *base, struct mlx5_rails_stats *st)
{
	const struct mlx5_endpoint *ep = mlx5_ep_const(base);

	if (base == NULL || st == NULL || ep->rails == NULL)
		return -EINVAL;
	*st = ep->rails->st;
	return 0;
}
