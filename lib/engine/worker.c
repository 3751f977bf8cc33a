/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker lcore: a run-to-completion loop over
 *   new batches (the submission queues of the clients whose home it is)
 *                               -> accept: own it, take its segment references,
 *                                  arm its deadline, share it
 *   messages from other lcores (HELP: claim slices of a shared batch;
 *                               DONE: a batch you own is fully accounted)
 *   claim slices from active batches -> stage per transport -> post_burst
 *   poll completions -> account slices -> finish batches
 *   expire deadlines (timer wheel, O(1) per batch)
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "engine_private.h"

static inline void
active_push(struct worker *w, struct tern_future *f, uint64_t gen)
{
	w->active[w->active_tail++ & w->active_mask] = (struct claim_ref){ f, gen };
}

static inline uint32_t
active_count(const struct worker *w)
{
	return w->active_tail - w->active_head;
}

static inline struct claim_ref
active_pop(struct worker *w)
{
	return w->active[w->active_head++ & w->active_mask];
}

static inline void
xq_send(struct worker *w, unsigned int lcore_idx, struct tern_future *f, uint32_t type,
	uint64_t gen)
{
	struct xq_msg m = { .tagged = (uintptr_t)f | type, .gen = gen };

	/* DONE always finds room: the ring holds one per batch in flight, and
	 * HELP is sent only while more than that is free (see accept_batch()). */
	while (rte_ring_mp_enqueue_elem(w->sh->xq[lcore_idx], &m, sizeof(m)) != 0)
		rte_pause();
}

static void
timer_link(struct worker *w, struct tern_future *f)
{
	uint64_t tick = f->deadline_tsc >> w->tick_shift;

	if (tick < w->wheel_tick)
		tick = w->wheel_tick;
	f->timer_slot = (uint16_t)(tick & (WHEEL_SLOTS - 1));
	TAILQ_INSERT_TAIL(&w->wheel[f->timer_slot], f, timer);
	f->timer_linked = 1;
}

static void
timer_unlink(struct worker *w, struct tern_future *f)
{
	TAILQ_REMOVE(f->timer_slot == EXPIRED_SLOT ? &w->expired : &w->wheel[f->timer_slot], f,
		     timer);
	f->timer_linked = 0;
}

static void
record_latency(struct worker *w, const struct tern_future *f)
{
	uint64_t ns = tern_scale_apply(rte_rdtsc() - f->submit_tsc, w->sh->tsc_to_ns);
	unsigned int b = ns == 0 ? 0 : 63 - (unsigned int)__builtin_clzll(ns);

	if (b >= TERN_LATENCY_BUCKETS)
		b = TERN_LATENCY_BUCKETS - 1;
	COUNTER_ADD(w->ctr, latency[b], 1);
}

/* A batch failed: charge its requests to the peers they targeted. */
static void
count_peer_failures(struct worker *w, const struct tern_future *f)
{
	const struct batch_req *reqs = future_reqs(f);
	uint32_t i;

	for (i = 0; i < f->nb_reqs; i++)
		if (reqs[i].target->peer != 0)
			COUNTER_ADD(w->ctr, peers[reqs[i].target->peer].failed, 1);
}

/* @f is done with (slices accounted, notification answered): resolve and let go. */
static void
batch_end(struct worker *w, struct tern_future *f, int32_t status)
{
	if (f->timer_linked)
		timer_unlink(w, f);
	if (unlikely(__atomic_load_n(&f->first_error, __ATOMIC_RELAXED) != 0))
		count_peer_failures(w, f);
	/* Segments first: once a waiter sees the result it may unregister them. */
	engine_future_release_segrefs(f);
	if (engine_future_resolve(f, status))
		record_latency(w, f);
	COUNTER_ADD(w->ctr, stats.batches, 1);
	COUNTER_ADD(w->ctr, owned_inflight, -1);
	engine_future_engine_done(f);
}

static inline struct notify_counters *
notify_peer(struct worker *w, const struct tern_future *f)
{
	uint16_t peer = future_reqs(f)[0].target->peer;

	return peer != 0 ? &w->ctr->peer_notify[peer] : NULL;
}

/* The answer to a post of @f's notification: done, or post it again later. */
static void
notify_answered(struct worker *w, struct tern_future *f, int32_t status)
{
	struct notify_counters *pc = notify_peer(w, f);

	f->nt.last = status;
	if (status == 0) {
		COUNTER_ADD(w->ctr, notify.delivered, 1);
		if (pc != NULL)
			COUNTER_ADD(pc, delivered, 1);
	} else if (status == -ENOBUFS) {
		COUNTER_ADD(w->ctr, notify.refused, 1);
		if (pc != NULL)
			COUNTER_ADD(pc, refused, 1);
	}
	if ((status == -ENOBUFS || status == -EAGAIN) &&
	    !__atomic_load_n(&f->resolved, __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&w->sh->phase, __ATOMIC_RELAXED) != PHASE_CANCEL) {
		f->notify = NT_RETRY;
		f->nt.retry_tsc = rte_rdtsc() + tern_scale_apply(NT_RETRY_NS, w->sh->ns_to_tsc);
		TAILQ_INSERT_TAIL(&w->nt_retry, f, nt.link);
		return;
	}
	if (status == -EAGAIN)
		status = -ENOBUFS;
	if (status != 0) {
		COUNTER_ADD(w->ctr, notify.failed, 1);
		if (pc != NULL)
			COUNTER_ADD(pc, failed, 1);
	}
	batch_end(w, f, status);
}

/* @p target's last resort if it has one this lcore can post to now (an
 * ACTIVE REMOTE segment of a transport with an endpoint here), else NULL. */
static const struct tern_segment *
fallback_of(const struct worker *w, const struct tern_segment *target)
{
	uint16_t slot = __atomic_load_n(&target->fallback, __ATOMIC_ACQUIRE);
	const struct tern_segment *fb;

	if (slot == 0 || (uint32_t)slot - 1 >= w->sh->segments->capacity)
		return NULL;
	fb = &w->sh->segments->slots[slot - 1];
	if (__atomic_load_n(&fb->state, __ATOMIC_ACQUIRE) != TERN_SEGMENT_ACTIVE ||
	    fb->kind != TERN_SEGMENT_REMOTE || fb->transport >= w->nb_transports ||
	    w->tp[fb->transport].ops == NULL)
		return NULL;
	return fb;
}

/*
 * @p target has a last resort (tern_segment_set_fallback()): while its own
 * transport has no live rail to it, slices and notifications go to the
 * fallback segment (another transport, the same remote memory).
 * @return the segment to post to. Out of line: callers keep only their one
 * branch on tern_segment.fallback.
 */
static __rte_noinline const struct tern_segment *
last_resort_of(struct worker *w, const struct tern_segment *target)
{
	const struct tern_segment *fb;
	uint16_t t = target->transport;

	if (t >= w->nb_transports || w->tp[t].ops == NULL || w->tp[t].ops->rail_live == NULL ||
	    w->tp[t].ops->rail_live(w->tp[t].ep, target))
		return target;
	fb = fallback_of(w, target);
	return fb != NULL ? fb : target;
}

/*
 * Every slice of @f completed with 0 (the promise: the bytes are at the
 * target, doc/notify.md): send the notification to the node owning its
 * first target. This node's own segments take it straight into its queue.
 */
static void
notify_post(struct worker *w, struct tern_future *f)
{
	const struct tern_segment *target = future_reqs(f)[0].target;
	const struct tern_transport_ops *ops;
	struct tern_notify_post p;
	struct notify_counters *pc = notify_peer(w, f);
	uint16_t t;
	int rc;

	COUNTER_ADD(w->ctr, notify.posted, 1);
	if (pc != NULL)
		COUNTER_ADD(pc, posted, 1);
	if (target->kind == TERN_SEGMENT_LOCAL) {
		notify_answered(w, f,
				tern_notify_deliver(w->sh->notify,
						    tern_notify_queue_node(w->sh->notify),
						    f->nt.tag, f->nt.msg, f->nt.msg_len));
		return;
	}
	/* No rail of the target's own transport in service: the notification
	 * goes the way the batch's slices went, its last resort. (One already
	 * posted is never sent again elsewhere: it may have arrived.) */
	if (unlikely(target->fallback != 0))
		target = last_resort_of(w, target);
	t = target->transport;
	ops = t < w->nb_transports ? w->tp[t].ops : NULL;
	if (ops == NULL || ops->notify_post == NULL) {
		notify_answered(w, f, ops == NULL ? -ENODEV : -ENOTSUP);
		return;
	}
	RTE_BUILD_BUG_ON(offsetof(struct tern_future, nt.msg) !=
			 offsetof(struct tern_future, nt.sender) + TERN_NOTIFY_NODE_MAX);
	/* The queue keeps its node name NUL-padded to TERN_NOTIFY_NODE_MAX. */
	memcpy(f->nt.sender, tern_notify_queue_node(w->sh->notify), sizeof(f->nt.sender));
	p = (struct tern_notify_post){
		.cookie = (uintptr_t)f | NT_COOKIE,
		.batch = f->batch_id,
		.target = target,
		.sender = tern_notify_queue_node(w->sh->notify),
		.tag = f->nt.tag,
		.msg = f->nt.msg,
		.msg_len = f->nt.msg_len,
		.wire = (const uint8_t *)f->nt.sender,
	};
	rc = ops->notify_post(w->tp[t].ep, &p);
	if (rc == 0) {
		f->notify = NT_POSTED;
		COUNTER_ADD(w->ctr, posted, 1);
		return;
	}
	notify_answered(w, f, rc);
}

/* Every slice of @f is accounted and @w owns it: notify, or resolve and let go. */
static void
batch_finish(struct worker *w, struct tern_future *f)
{
	int32_t status = __atomic_load_n(&f->first_error, __ATOMIC_RELAXED);

	/* A failed, timed-out or cancelled batch sends nothing. */
	if (unlikely(f->notify == NT_WANTED) && status == 0 &&
	    !__atomic_load_n(&f->resolved, __ATOMIC_ACQUIRE)) {
		notify_post(w, f);
		return;
	}
	batch_end(w, f, status);
}

/* Notifications whose pause has passed go again; at shutdown or past their
 * deadline (already resolved), their batches end. */
static unsigned int
notify_retry(struct worker *w, uint32_t phase)
{
	uint64_t now = rte_rdtsc();
	struct tern_future *f, *next;
	unsigned int n = 0;

	for (f = TAILQ_FIRST(&w->nt_retry); f != NULL; f = next) {
		next = TAILQ_NEXT(f, nt.link);
		if (phase != PHASE_CANCEL && f->nt.retry_tsc > now &&
		    !__atomic_load_n(&f->resolved, __ATOMIC_ACQUIRE))
			continue;
		TAILQ_REMOVE(&w->nt_retry, f, nt.link);
		n++;
		if (phase == PHASE_CANCEL || __atomic_load_n(&f->resolved, __ATOMIC_ACQUIRE)) {
			struct notify_counters *pc = notify_peer(w, f);

			COUNTER_ADD(w->ctr, notify.failed, 1);
			if (pc != NULL)
				COUNTER_ADD(pc, failed, 1);
			batch_end(w, f, phase == PHASE_CANCEL ? -ECANCELED : f->nt.last);
			continue;
		}
		f->notify = NT_WANTED;
		notify_post(w, f);
	}
	return n;
}

static void
slices_accounted(struct worker *w, struct tern_future *f, uint64_t n)
{
	if (__atomic_sub_fetch(&f->pending, n, __ATOMIC_ACQ_REL) != 0)
		return;
	if (f->owner == w->idx) {
		batch_finish(w, f);
		return;
	}
	xq_send(w, f->owner, f, XQ_DONE, 0);
}

/*
 * The owner lcore makes the batch out of its submission entry. A new
 * generation, closed to claims, comes first: a claim entry of an earlier use
 * of this future (a helper that was starved) sees it and stays off, whatever
 * the fields below say meanwhile. Then the request (one rides in the entry;
 * more are in the tail, written by the client), the slice count, and the
 * generation opens.
 */
static void
batch_build(struct worker *w, struct tern_future *f, const struct sq_entry *e, uint64_t gen)
{
	struct tern_segment_table *tbl = w->sh->segments;
	struct batch_req *reqs = future_reqs(f);
	uint32_t *refs = future_segrefs(f, w->sh->max_batch);
	uint64_t slice_bytes, slices, bytes = 0;
	uint32_t i;

	__atomic_store_n(&f->claim, gen << CLAIM_GEN_SHIFT | CLAIM_CURSOR_MASK, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	future_unpoison(f); /* its requests: see future_poison() */
	if (likely(e->nb_reqs == 1)) {
		slice_bytes = __atomic_load_n(&w->sh->slice_bytes, __ATOMIC_RELAXED);
		reqs[0] = (struct batch_req){
			.first_slice = 0,
			.local = e->local,
			.local_seg = &tbl->slots[tern_segment_handle_slot(e->local_seg)],
			.target = &tbl->slots[tern_segment_handle_slot(e->target)],
			.offset = e->offset,
			.length = e->length,
			.op = e->op,
			.slice_flags = e->slice_flags,
		};
		refs[0] = e->target;
		refs[1] = e->local_seg;
		f->nb_segrefs = e->target == e->local_seg ? 1 : 2;
		slices = (e->length + slice_bytes - 1) / slice_bytes;
		bytes = e->length;
	} else {
		slice_bytes = e->length;
		for (i = 0; i < e->nb_reqs; i++)
			bytes += reqs[i].length;
		i = e->nb_reqs - 1;
		slices = reqs[i].first_slice + (reqs[i].length + slice_bytes - 1) / slice_bytes;
		f->nb_segrefs = e->nb_segrefs;
	}
	f->nb_reqs = e->nb_reqs;
	f->nb_segs_held = 0;
	f->first_error = 0;
	f->pending = slices;
	f->nb_slices = slices;
	f->slice_bytes = slice_bytes;
	f->total_bytes = bytes;
	f->deadline_tsc = e->deadline_tsc;
	f->batch_id = (uint64_t)w->idx << 48 | (w->nb_accepted++ & ((1ull << 48) - 1));
	f->timer_linked = 0;
	f->owner = (uint16_t)w->idx;
	__atomic_store_n(&f->claim, gen << CLAIM_GEN_SHIFT, __ATOMIC_RELEASE);
}

static void
accept_batch(struct worker *w, const struct sq_entry *e, uint32_t phase)
{
	struct engine_shared *sh = w->sh;
	struct tern_future *f = e->f;
	uint32_t helpers = 0, i;
	uint64_t gen;
	int err;

	__atomic_store_n(&f->engine, ENGINE_OWNED(w->idx), __ATOMIC_RELAXED);
	gen = ((__atomic_load_n(&f->claim, __ATOMIC_RELAXED) >> CLAIM_GEN_SHIFT) + 1) &
	      CLAIM_GEN_MASK;
	batch_build(w, f, e, gen);
	COUNTER_ADD(w->ctr, owned_inflight, 1);
	err = engine_future_take_segrefs(f);
	if (unlikely(err != 0)) {
		COUNTER_ADD(w->ctr, stats.errors, 1);
		engine_future_resolve(f, err); /* claim() skips every slice */
		phase = PHASE_CANCEL;	       /* not shared, no deadline */
	} else if (phase == PHASE_CANCEL) {
		engine_future_resolve(f, -ECANCELED);
	}
	if (phase != PHASE_CANCEL)
		timer_link(w, f);
	if (unlikely(f->nb_slices == 0)) { /* a notification alone */
		batch_finish(w, f);
		return;
	}

	if (phase != PHASE_CANCEL && sh->nb_workers > 1 && f->nb_slices > 1 &&
	    f->total_bytes >= sh->share_bytes)
		helpers = (uint32_t)RTE_MIN((uint64_t)sh->nb_workers - 1, f->nb_slices - 1);
	for (i = 1; i <= helpers; i++) {
		uint32_t other = (w->idx + i) % sh->nb_workers;

		/* Stale HELPs of a starved lcore may pile up; keep room for every
		 * DONE. Without help the owner claims every slice itself. */
		if (rte_ring_free_count(sh->xq[other]) > sh->pool->size + sh->nb_workers)
			xq_send(w, other, f, XQ_HELP, gen);
	}
	active_push(w, f, gen);
}

/* Whether the client of @cs published the entry at the lcore's position. */
static inline const struct sq_entry *
sq_next(const struct client_slot *cs)
{
	const struct sq_entry *e = &cs->sq[cs->sq_cons & cs->sq_mask];

	return __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) == cs->sq_cons + 1 ? e : NULL;
}

/* Accepts up to ACCEPT_BURST published entries of @cs, in place (the client
 * cannot reuse an entry before its batch was accepted: see struct sq_entry). */
static unsigned int
accept_from(struct worker *w, struct client_slot *cs, uint32_t phase)
{
	const struct sq_entry *e;
	unsigned int n = 0;

	while (n < ACCEPT_BURST && (e = sq_next(cs)) != NULL) {
		accept_batch(w, e, phase);
		cs->sq_cons++;
		n++;
	}
	if (n != 0)
		COUNTER_ADD(cs, accepted, n);
	return n;
}

/*
 * The slots changed: poll the rings of the active clients whose home this
 * lcore is. A closed slot's ring is drained of everything its client
 * published (those batches still run and resolve), then let go: the slot
 * may be freed once sq_drained is seen. Whatever a dead client reserved in
 * its ring and never published is never seen.
 */
static void
polled_rebuild(struct worker *w, uint32_t gen, uint32_t phase)
{
	struct engine_shared *sh = w->sh;
	uint32_t slot;

	w->nb_polled = 0;
	for (slot = 0; slot < sh->max_clients; slot++) {
		struct client_slot *cs = &sh->clients[slot];
		uint32_t state = __atomic_load_n(&cs->state, __ATOMIC_ACQUIRE);

		if ((state != CLIENT_SLOT_ACTIVE && state != CLIENT_SLOT_DEAD &&
		     state != CLIENT_SLOT_CLOSING) ||
		    cs->home != w->idx)
			continue;
		if (state == CLIENT_SLOT_ACTIVE) {
			w->polled[w->nb_polled++] = (uint16_t)slot;
			continue;
		}
		if (__atomic_load_n(&cs->sq_drained, __ATOMIC_ACQUIRE))
			continue;
		while (accept_from(w, cs, phase) != 0)
			;
		__atomic_store_n(&cs->sq_drained, 1, __ATOMIC_RELEASE);
	}
	w->slots_gen = gen;
}

static unsigned int
accept_new(struct worker *w, uint32_t phase)
{
	uint32_t gen = __atomic_load_n(&w->sh->slots_gen, __ATOMIC_ACQUIRE);
	unsigned int n = 0, i;

	if (unlikely(gen != w->slots_gen))
		polled_rebuild(w, gen, phase);
	for (i = 0; i < w->nb_polled; i++)
		n += accept_from(w, &w->sh->clients[w->polled[i]], phase);
	return n;
}

static unsigned int
drain_messages(struct worker *w)
{
	struct xq_msg msg[DEQUEUE_BURST];
	unsigned int n, i;

	n = rte_ring_sc_dequeue_burst_elem(w->xq, msg, sizeof(msg[0]), DEQUEUE_BURST, NULL);
	for (i = 0; i < n; i++) {
		struct tern_future *f =
			(struct tern_future *)(msg[i].tagged & ~(uintptr_t)XQ_TAG_MASK);

		if (!(msg[i].tagged & XQ_HELP))
			batch_finish(w, f);
		else if (active_count(w) < w->helper_room)
			active_push(w, f, msg[i].gen);
		/* else: help is optional (the owner claims what nobody else does);
		 * the room left is for the owner entries of the batches in flight. */
	}
	return n;
}

/* Index of the request holding slice @s: the last i with first_slice <= s. */
static inline uint32_t
request_of_slice(const struct batch_req *reqs, uint32_t nb_reqs, uint64_t s)
{
	uint32_t lo = 0, hi = nb_reqs - 1;

	while (lo < hi) {
		uint32_t mid = (lo + hi + 1) / 2;

		if (reqs[mid].first_slice <= s)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* A slice for @p target: last_resort_of(), counted per peer when it goes there. */
static __rte_noinline const struct tern_segment *
last_resort(struct worker *w, const struct tern_segment *target)
{
	const struct tern_segment *to = last_resort_of(w, target);

	if (to != target && target->peer != 0)
		COUNTER_ADD(w->ctr, peers[target->peer].fallback, 1);
	return to;
}

static bool
stages_have_room(const struct worker *w)
{
	int t;

	for (t = 0; t < w->nb_transports; t++)
		if (w->tp[t].nb_stage > STAGE_SLICES - CLAIM_SLICES)
			return false;
	return true;
}

/*
 * Takes slices [*s, *end) of batch @ref if it is still that generation and has
 * slices left: at most @want (all that remain if @want is 0). A stale entry
 * (the batch finished, the future went on to another batch) takes nothing.
 */
static bool
claim_slices(struct claim_ref ref, uint64_t want, uint64_t *s, uint64_t *end)
{
	struct tern_future *f = ref.f;
	uint64_t c = __atomic_load_n(&f->claim, __ATOMIC_ACQUIRE);

	for (;;) {
		uint64_t nb = f->nb_slices, cur = c & CLAIM_CURSOR_MASK;

		if ((c >> CLAIM_GEN_SHIFT) != ref.gen || cur >= nb)
			return false;
		*s = cur;
		*end = want == 0 ? nb : RTE_MIN(cur + want, nb);
		/* Fails if the generation changed meanwhile: @nb may then be another batch's. */
		if (__atomic_compare_exchange_n(&f->claim, &c, c + (*end - cur), false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return true;
	}
}

/* Claims a chunk of a batch's slices and stages them. Returns true if slices remain. */
static bool
claim(struct worker *w, struct claim_ref ref, uint32_t phase)
{
	struct tern_future *f = ref.f;
	const struct batch_req *reqs = future_reqs(f);
	uint64_t nb, s, end, j, avg, k;
	uint32_t i;

	if (phase == PHASE_CANCEL &&
	    (__atomic_load_n(&f->claim, __ATOMIC_ACQUIRE) >> CLAIM_GEN_SHIFT) == ref.gen)
		engine_future_resolve(f, -ECANCELED);
	if (__atomic_load_n(&f->resolved, __ATOMIC_ACQUIRE)) {
		/* Resolved (cancelled, timed out): skip everything not yet posted. */
		if (claim_slices(ref, 0, &s, &end)) {
			COUNTER_ADD(w->ctr, stats.cancels, end - s);
			slices_accounted(w, f, end - s);
		}
		return false;
	}

	nb = f->nb_slices;
	avg = f->total_bytes / (nb == 0 ? 1 : nb);
	k = avg >= CLAIM_BYTES ? 1 : CLAIM_BYTES / (avg == 0 ? 1 : avg);
	if (k > CLAIM_SLICES)
		k = CLAIM_SLICES;
	if (!claim_slices(ref, k, &s, &end))
		return false;

	i = request_of_slice(reqs, f->nb_reqs, s);
	for (j = s; j < end; j++) {
		const struct tern_segment *target;
		const struct batch_req *r;
		struct tern_slice *sl;
		uint64_t off;
		uint16_t t;

		while (i + 1 < f->nb_reqs && j >= reqs[i + 1].first_slice)
			i++;
		r = &reqs[i];
		off = (j - reqs[i].first_slice) * f->slice_bytes;
		target = r->target;
		/* The one branch segments without a last resort pay. */
		if (unlikely(target->fallback != 0))
			target = last_resort(w, target);
		t = target->transport;
		if (unlikely(t >= w->nb_transports || w->tp[t].ops == NULL)) {
			/* No usable transport reaches the target here. */
			__atomic_compare_exchange_n(&f->first_error, &(int32_t){ 0 }, -ENODEV,
						    false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
			COUNTER_ADD(w->ctr, stats.errors, 1);
			slices_accounted(w, f, 1);
			continue;
		}
		sl = &w->tp[t].stage[w->tp[t].nb_stage++];
		sl->cookie = (uintptr_t)f;
		sl->batch = f->batch_id; /* (cookie, batch) never repeats: see expire() */
		sl->local = r->local + off;
		sl->local_seg = r->local_seg;
		sl->target = target;
		sl->offset = r->offset + off;
		sl->length = (uint32_t)RTE_MIN(f->slice_bytes, r->length - off);
		sl->op = r->op;
		sl->flags = r->slice_flags;
		if (r->target->peer != 0) {
			COUNTER_ADD(w->ctr, peers[r->target->peer].slices, 1);
			COUNTER_ADD(w->ctr, peers[r->target->peer].bytes, sl->length);
		}
	}
	return end < nb;
}

static void
post_staged(struct worker *w, uint32_t phase)
{
	int t;

	for (t = 0; t < w->nb_transports; t++) {
		uint16_t nb = w->tp[t].nb_stage, n, i;

		if (nb == 0)
			continue;
		n = w->tp[t].ops->post_burst(w->tp[t].ep, w->tp[t].stage, nb);
		COUNTER_ADD(w->ctr, stats.slices, n);
		COUNTER_ADD(w->ctr, posted, n);
		if (n < nb && phase == PHASE_CANCEL) {
			/* Shutting down: what the transport will not take now never goes. */
			for (i = n; i < nb; i++) {
				COUNTER_ADD(w->ctr, stats.cancels, 1);
				slices_accounted(w, (struct tern_future *)w->tp[t].stage[i].cookie,
						 1);
			}
			n = nb;
		}
		if (n < nb)
			memmove(&w->tp[t].stage[0], &w->tp[t].stage[n],
				(size_t)(nb - n) * sizeof(struct tern_slice));
		w->tp[t].nb_stage = (uint16_t)(nb - n);
	}
}

static unsigned int
claim_and_post(struct worker *w, uint32_t phase)
{
	uint32_t visits = active_count(w);
	unsigned int work = visits;

	post_staged(w, phase);
	while (visits-- != 0 && stages_have_room(w)) {
		struct claim_ref ref = active_pop(w);

		/* Done claiming: drop the entry. The batch itself may have finished
		 * already, the last slices accounted by another lcore. */
		if (claim(w, ref, phase))
			active_push(w, ref.f, ref.gen);
	}
	post_staged(w, phase);
	return work;
}

/*
 * Slice @p sl, handed back by its transport (give_back op) with @p status,
 * goes to its target's last resort: staged there (take_back() asked for no
 * more than every stage has room for), or accounted with @p status when
 * that cannot be, or as cancelled when its batch is resolved or the engine
 * shuts down.
 */
static void
repost_slice(struct worker *w, const struct tern_slice *sl, int32_t status, uint32_t phase)
{
	struct tern_future *f = (struct tern_future *)sl->cookie;
	const struct batch_req *reqs = future_reqs(f);
	const struct tern_segment *target = sl->target, *fb;
	const struct batch_req *r = NULL;
	struct tern_slice *out;
	uint32_t i;

	if (phase == PHASE_CANCEL || __atomic_load_n(&f->resolved, __ATOMIC_ACQUIRE)) {
		COUNTER_ADD(w->ctr, stats.cancels, 1);
		slices_accounted(w, f, 1);
		return;
	}
	/* The request it came from: the same target, its bytes inside, at the
	 * same place on both sides (a slice the transport got wrong goes
	 * nowhere: it fails). */
	for (i = 0; i < f->nb_reqs; i++)
		if (reqs[i].target == target && sl->local >= reqs[i].local &&
		    (uint64_t)(sl->local - reqs[i].local) + sl->length <= reqs[i].length &&
		    sl->offset == reqs[i].offset + (uint64_t)(sl->local - reqs[i].local)) {
			r = &reqs[i];
			break;
		}
	fb = fallback_of(w, target);
	if (r == NULL || fb == NULL || w->tp[fb->transport].nb_stage >= STAGE_SLICES) {
		__atomic_compare_exchange_n(&f->first_error, &(int32_t){ 0 },
					    status != 0 ? status : -EIO, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
		COUNTER_ADD(w->ctr, stats.errors, 1);
		slices_accounted(w, f, 1);
		return;
	}
	out = &w->tp[fb->transport].stage[w->tp[fb->transport].nb_stage++];
	*out = (struct tern_slice){
		.cookie = sl->cookie,
		.local = sl->local,
		.local_seg = r->local_seg,
		.target = fb,
		.offset = sl->offset,
		.length = sl->length,
		.op = r->op,
		.flags = r->slice_flags,
		.batch = f->batch_id,
	};
	if (target->peer != 0)
		COUNTER_ADD(w->ctr, peers[target->peer].fallback, 1);
}

/*
 * Transport @p t holds slices to hand back (tern_endpoint.give_back): take
 * as many as every other transport's stage has room for, and post them on
 * their targets' last resort with the next post_staged(). Out of line: the
 * poll loop pays one load and branch for it.
 */
static __rte_noinline unsigned int
take_back(struct worker *w, int t, uint32_t phase)
{
	struct tern_slice back[CLAIM_SLICES];
	int32_t status[CLAIM_SLICES];
	uint16_t room = CLAIM_SLICES, n, i;
	int u;

	if (w->tp[t].ops->give_back == NULL)
		return 0;
	/* A last resort is always another transport than the target's. */
	for (u = 0; u < w->nb_transports; u++)
		if (u != t && STAGE_SLICES - w->tp[u].nb_stage < room)
			room = (uint16_t)(STAGE_SLICES - w->tp[u].nb_stage);
	if (room == 0)
		return 0;
	n = w->tp[t].ops->give_back(w->tp[t].ep, back, status, room);
	if (n == 0)
		return 0;
	/* No completion follows for them: they left the transport. */
	COUNTER_ADD(w->ctr, posted, -(uint64_t)n);
	for (i = 0; i < n; i++)
		repost_slice(w, &back[i], status[i], phase);
	return n;
}

static unsigned int
poll_completions(struct worker *w, uint32_t phase)
{
	struct tern_completion cpl[POLL_BURST];
	unsigned int total = 0;
	int t;

	for (t = 0; t < w->nb_transports; t++) {
		struct tern_endpoint *ep = w->tp[t].ep;
		uint16_t n, i = 0;

		if (w->tp[t].ops == NULL)
			continue;
		n = w->tp[t].ops->poll(ep, cpl, POLL_BURST);
		/* The one load and branch a transport that hands nothing back costs. */
		if (unlikely(ep->give_back != 0))
			total += take_back(w, t, phase);
		if (n == 0)
			continue;
		total += n;
		COUNTER_ADD(w->ctr, posted, -(uint64_t)n);
		/* Consecutive completions of one batch cost one atomic. */
		while (i < n) {
			struct tern_future *f = (struct tern_future *)cpl[i].cookie;
			uint64_t count = 0, bytes = 0, errors = 0;

			if (unlikely(cpl[i].cookie & NT_COOKIE)) {
				f = (struct tern_future *)(cpl[i].cookie & ~(uint64_t)NT_COOKIE);
				notify_answered(w, f, cpl[i].status);
				i++;
				continue;
			}

			for (; i < n && cpl[i].cookie == (uintptr_t)f; i++) {
				count++;
				bytes += cpl[i].length;
				if (unlikely(cpl[i].status != 0)) {
					int32_t zero = 0;

					errors++;
					__atomic_compare_exchange_n(
						&f->first_error, &zero, cpl[i].status, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED);
				}
			}
			COUNTER_ADD(w->ctr, stats.bytes, bytes);
			if (errors != 0)
				COUNTER_ADD(w->ctr, stats.errors, errors);
			slices_accounted(w, f, count);
		}
	}
	return total;
}

static void
expire_slot(struct worker *w, struct future_list *list, uint64_t now)
{
	struct tern_future *f, *next;
	int t;

	for (f = TAILQ_FIRST(list); f != NULL; f = next) {
		next = TAILQ_NEXT(f, timer);
		if (f->deadline_tsc > now)
			continue; /* a later turn of the wheel */
		/* Kept on the expired list until its slices come back, so that a
		 * shutdown can still find it (see abandon()). */
		TAILQ_REMOVE(list, f, timer);
		TAILQ_INSERT_TAIL(&w->expired, f, timer);
		f->timer_slot = EXPIRED_SLOT;
		/* Transports stop touching the batch's memory before it resolves. */
		for (t = 0; t < w->nb_transports; t++)
			if (w->tp[t].ops != NULL && w->tp[t].ops->expire != NULL)
				w->tp[t].ops->expire(w->tp[t].ep, (uintptr_t)f, f->batch_id);
		/* A full queue refused its notification: -ENOBUFS, also when a
		 * post after the pause is on its way at the deadline. */
		if (engine_future_resolve(f, (f->notify == NT_RETRY || f->notify == NT_POSTED) &&
							     f->nt.last == -ENOBUFS
						     ? -ENOBUFS
						     : -ETIMEDOUT)) {
			COUNTER_ADD(w->ctr, stats.timeouts, 1);
			record_latency(w, f);
		}
	}
}

static void
expire_deadlines(struct worker *w)
{
	uint64_t now = rte_rdtsc();
	uint64_t tick = now >> w->tick_shift;
	uint64_t turns;

	/* Only slots whose whole tick has passed: every deadline in them is due. */
	if (tick <= w->wheel_tick)
		return;
	turns = RTE_MIN(tick - w->wheel_tick, (uint64_t)WHEEL_SLOTS);
	while (turns-- != 0)
		expire_slot(w, &w->wheel[w->wheel_tick++ & (WHEEL_SLOTS - 1)], now);
	w->wheel_tick = tick;
}

static bool
worker_quiescent(const struct worker *w)
{
	uint32_t i;
	int t;

	for (t = 0; t < w->nb_transports; t++)
		if (w->tp[t].nb_stage != 0)
			return false;
	for (i = 0; i < w->nb_polled; i++)
		if (sq_next(&w->sh->clients[w->polled[i]]) != NULL)
			return false;
	return rte_ring_empty(w->xq) && active_count(w) == 0 && TAILQ_EMPTY(&w->nt_retry) &&
	       __atomic_load_n(&w->ctr->posted, __ATOMIC_RELAXED) == 0 &&
	       __atomic_load_n(&w->ctr->owned_inflight, __ATOMIC_RELAXED) == 0;
}

/*
 * Shutdown when a transport does not return what it holds after cancel()
 * (a device that stopped): every batch this lcore owns and has not finished
 * is on its timer wheel or, past its deadline, on its expired list; resolve them so no waiter
 * hangs, drop their segment references so the segments can be unregistered, and leave. The
 * endpoints are closed next, so no late completion can reach them.
 */
static void
abandon(struct worker *w)
{
	struct tern_future *f, *next;
	unsigned int slot, n = 0;

	for (slot = 0; slot <= WHEEL_SLOTS; slot++) {
		struct future_list *list = slot < WHEEL_SLOTS ? &w->wheel[slot] : &w->expired;

		for (f = TAILQ_FIRST(list); f != NULL; f = next) {
			next = TAILQ_NEXT(f, timer);
			TAILQ_REMOVE(list, f, timer);
			f->timer_linked = 0;
			engine_future_resolve(f, -ECANCELED);
			/* Nothing will touch its segments again: let them go. */
			engine_future_release_segrefs(f);
			n++;
		}
	}
	ENGINE_LOG(WARNING,
		   "lcore %u: %" PRIu64 " slices still held by transports after cancel; "
		   "%u batches abandoned",
		   w->lcore_id, __atomic_load_n(&w->ctr->posted, __ATOMIC_RELAXED), n);
}

int
engine_worker_main(void *arg)
{
	struct worker *w = arg;
	int t;

	w->wheel_tick = rte_rdtsc() >> w->tick_shift;
	for (;;) {
		uint32_t phase = __atomic_load_n(&w->sh->phase, __ATOMIC_ACQUIRE);
		unsigned int work;

		work = accept_new(w, phase);
		work += drain_messages(w);
		work += claim_and_post(w, phase);
		work += poll_completions(w, phase);
		if (unlikely(!TAILQ_EMPTY(&w->nt_retry)))
			work += notify_retry(w, phase);
		expire_deadlines(w);

		if (phase == PHASE_CANCEL) {
			if (!w->cancelled_endpoints) {
				for (t = 0; t < w->nb_transports; t++)
					if (w->tp[t].ops != NULL)
						w->tp[t].ops->cancel(w->tp[t].ep);
				w->cancelled_endpoints = true;
				w->give_up_tsc = rte_rdtsc() + w->sh->drain_tsc;
			}
			if (worker_quiescent(w))
				break;
			if (rte_rdtsc() > w->give_up_tsc) {
				abandon(w);
				break;
			}
		}
		if (work != 0) {
			COUNTER_ADD(w->ctr, stats.busy_polls, 1);
		} else {
			COUNTER_ADD(w->ctr, stats.idle_polls, 1);
			if (w->flags & TERN_ENGINE_F_IDLE_YIELD)
				sched_yield();
		}
	}
	return 0;
}

struct worker *
engine_worker_create(struct engine_shared *sh, unsigned int idx, unsigned int lcore_id,
		     uint32_t flags)
{
	int socket = (int)rte_lcore_to_socket_id(lcore_id);
	struct tern_endpoint_conf epc;
	uint32_t active_size;
	struct worker *w;
	uint64_t hz = sh->tsc_hz;
	int t;

	w = rte_zmalloc_socket("tern_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	if (w == NULL)
		return NULL;
	/* Owner entries (one per batch it accepted) and what its ring may hold. */
	active_size = rte_align32pow2(rte_ring_get_capacity(sh->xq[idx]) + sh->pool->size + 1);
	w->active = rte_zmalloc_socket("tern_active", active_size * sizeof(*w->active),
				       RTE_CACHE_LINE_SIZE, socket);
	if (w->active == NULL)
		goto fail;
	w->active_mask = active_size - 1;
	w->helper_room = active_size - sh->pool->size - 1;
	w->polled = rte_zmalloc_socket("tern_polled", sh->max_clients * sizeof(*w->polled),
				       RTE_CACHE_LINE_SIZE, socket);
	if (w->polled == NULL)
		goto fail;
	w->slots_gen = __atomic_load_n(&sh->slots_gen, __ATOMIC_ACQUIRE) - 1; /* build at start */
	w->sh = sh;
	w->ctr = &sh->counters[idx];
	w->xq = sh->xq[idx];
	w->idx = idx;
	w->lcore_id = lcore_id;
	w->flags = flags;
	for (w->tick_shift = 0; (hz >> (w->tick_shift + 1)) >= 4000; w->tick_shift++)
		;
	for (t = 0; t < (int)WHEEL_SLOTS; t++)
		TAILQ_INIT(&w->wheel[t]);
	TAILQ_INIT(&w->expired);
	TAILQ_INIT(&w->nt_retry);

	epc = (struct tern_endpoint_conf){
		.lcore_id = lcore_id,
		.socket_id = socket,
		.max_slices = (uint32_t)RTE_MIN(sh->pool->size * 4ull, 1u << 20),
		.stream_bytes = sh->stream_bytes,
		.segments = sh->segments,
	};
	w->nb_transports = tern_transport_count();
	for (t = 0; t < w->nb_transports; t++) {
		const struct tern_transport_ops *ops = tern_transport_get(t);

		if (!(sh->transport_mask & (1u << t)))
			continue;
		w->tp[t].ep = ops->endpoint_open(&epc);
		if (w->tp[t].ep == NULL) {
			ENGINE_LOG(ERR, "lcore %u: cannot open %s endpoint", lcore_id, ops->name);
			goto fail;
		}
		w->tp[t].ops = ops;
	}
	return w;

fail:
	engine_worker_free(w);
	return NULL;
}

void
engine_worker_free(struct worker *w)
{
	int t;

	if (w == NULL)
		return;
	for (t = 0; t < w->nb_transports; t++)
		if (w->tp[t].ops != NULL)
			w->tp[t].ops->endpoint_close(w->tp[t].ep);
	rte_free(w->polled);
	rte_free(w->active);
	rte_free(w);
}
