/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker lcore: a run-to-completion loop over
 *   new batches (submission ring) -> accept: own it, arm its deadline, share it
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
active_push(struct worker *w, struct tern_future *f)
{
	w->active[w->active_tail++ & w->active_mask] = f;
}

static inline uint32_t
active_count(const struct worker *w)
{
	return w->active_tail - w->active_head;
}

static inline struct tern_future *
active_pop(struct worker *w)
{
	return w->active[w->active_head++ & w->active_mask];
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
	uint64_t hz = w->sh->tsc_hz, dt = rte_rdtsc() - f->submit_tsc;
	/* Split so that deadlines of up to an hour cannot overflow. */
	uint64_t ns = dt / hz * 1000000000ull + dt % hz * 1000000000ull / hz;
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

/* Every slice of @f is accounted and @w owns it: resolve and let go. */
static void
batch_finish(struct worker *w, struct tern_future *f)
{
	if (f->timer_linked)
		timer_unlink(w, f);
	if (unlikely(__atomic_load_n(&f->first_error, __ATOMIC_RELAXED) != 0))
		count_peer_failures(w, f);
	/* Segments first: once a waiter sees the result it may unregister them. */
	future_release_segrefs(f);
	if (future_resolve(f, __atomic_load_n(&f->first_error, __ATOMIC_RELAXED)))
		record_latency(w, f);
	COUNTER_ADD(w->ctr, stats.batches, 1);
	COUNTER_ADD(w->ctr, owned_inflight, -1);
	future_put(f, 1, w->cache);
}

static void
slices_accounted(struct worker *w, struct tern_future *f, uint64_t n)
{
	uintptr_t msg;

	if (__atomic_sub_fetch(&f->pending, n, __ATOMIC_ACQ_REL) != 0)
		return;
	if (f->owner == w->idx) {
		batch_finish(w, f);
		return;
	}
	/* Sized for every batch at once: the enqueue can only fail transiently. */
	msg = (uintptr_t)f | XQ_DONE;
	while (rte_ring_mp_enqueue(w->sh->xq[f->owner], (void *)msg) != 0)
		rte_pause();
}

static void
accept_batch(struct worker *w, struct tern_future *f, uint32_t phase)
{
	struct engine_shared *sh = w->sh;
	uint32_t helpers = 0, i;

	future_unpoison(f); /* submitted from another process: see future_poison() */
	f->owner = (uint16_t)w->idx;
	COUNTER_ADD(w->ctr, owned_inflight, 1);
	if (phase == PHASE_CANCEL)
		future_resolve(f, -ECANCELED);
	else
		timer_link(w, f);

	if (phase != PHASE_CANCEL && sh->nb_workers > 1 && f->nb_slices > 1 &&
	    f->total_bytes >= sh->share_bytes)
		helpers = (uint32_t)RTE_MIN((uint64_t)sh->nb_workers - 1, f->nb_slices - 1);
	if (helpers != 0) {
		__atomic_fetch_add(&f->refcnt, helpers, __ATOMIC_RELAXED);
		for (i = 1; i <= helpers; i++) {
			uint32_t other = (w->idx + i) % sh->nb_workers;

			if (rte_ring_mp_enqueue(sh->xq[other], (void *)((uintptr_t)f | XQ_HELP)) !=
			    0)
				future_put(f, 1, w->cache);
		}
	}
	active_push(w, f); /* with the reference the client gave for it */
}

static unsigned int
accept_new(struct worker *w, uint32_t phase)
{
	struct tern_future *batch[DEQUEUE_BURST];
	unsigned int n, i;

	n = rte_ring_sc_dequeue_burst(w->sq, (void **)batch, DEQUEUE_BURST, NULL);
	for (i = 0; i < n; i++)
		accept_batch(w, batch[i], phase);
	return n;
}

static unsigned int
drain_messages(struct worker *w)
{
	uintptr_t msg[DEQUEUE_BURST];
	unsigned int n, i;

	n = rte_ring_sc_dequeue_burst(w->xq, (void **)msg, DEQUEUE_BURST, NULL);
	for (i = 0; i < n; i++) {
		struct tern_future *f = (struct tern_future *)(msg[i] & ~(uintptr_t)XQ_TAG_MASK);

		if (msg[i] & XQ_HELP)
			active_push(w, f); /* with the reference the owner gave for it */
		else
			batch_finish(w, f);
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

static bool
stages_have_room(const struct worker *w)
{
	int t;

	for (t = 0; t < w->nb_transports; t++)
		if (w->tp[t].nb_stage > STAGE_SLICES - CLAIM_SLICES)
			return false;
	return true;
}

/* Claims a chunk of @f's slices and stages them. Returns true if slices remain. */
static bool
claim(struct worker *w, struct tern_future *f, uint32_t phase)
{
	const struct batch_req *reqs = future_reqs(f);
	uint64_t nb = f->nb_slices, s, end, j, avg, k;
	uint32_t i;

	if (phase == PHASE_CANCEL)
		future_resolve(f, -ECANCELED);
	if (__atomic_load_n(&f->resolved, __ATOMIC_ACQUIRE)) {
		/* Resolved (cancelled, timed out): skip everything not yet posted. */
		s = __atomic_fetch_add(&f->next_slice, nb, __ATOMIC_RELAXED);
		if (s < nb) {
			COUNTER_ADD(w->ctr, stats.cancels, nb - s);
			slices_accounted(w, f, nb - s);
		}
		return false;
	}

	avg = f->total_bytes / nb;
	k = avg >= CLAIM_BYTES ? 1 : CLAIM_BYTES / (avg == 0 ? 1 : avg);
	if (k > CLAIM_SLICES)
		k = CLAIM_SLICES;
	s = __atomic_fetch_add(&f->next_slice, k, __ATOMIC_RELAXED);
	if (s >= nb)
		return false;
	end = RTE_MIN(s + k, nb);

	i = request_of_slice(reqs, f->nb_reqs, s);
	for (j = s; j < end; j++) {
		const struct batch_req *r;
		struct tern_slice *sl;
		uint64_t off;
		uint16_t t;

		while (i + 1 < f->nb_reqs && j >= reqs[i + 1].first_slice)
			i++;
		r = &reqs[i];
		off = (j - reqs[i].first_slice) * f->slice_bytes;
		t = r->target->transport;
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
		sl->batch = f->submit_tsc; /* unique per submission: see expire() */
		sl->local = r->local + off;
		sl->local_seg = r->local_seg;
		sl->target = r->target;
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
		struct tern_future *f = active_pop(w);

		/* Done claiming: drop the entry's reference. The batch itself may
		 * have finished already, the last slices accounted by another lcore. */
		if (claim(w, f, phase))
			active_push(w, f);
		else
			future_put(f, 1, w->cache);
	}
	post_staged(w, phase);
	return work;
}

static unsigned int
poll_completions(struct worker *w)
{
	struct tern_completion cpl[POLL_BURST];
	unsigned int total = 0;
	int t;

	for (t = 0; t < w->nb_transports; t++) {
		uint16_t n, i = 0;

		if (w->tp[t].ops == NULL)
			continue;
		n = w->tp[t].ops->poll(w->tp[t].ep, cpl, POLL_BURST);
		if (n == 0)
			continue;
		total += n;
		COUNTER_ADD(w->ctr, posted, -(uint64_t)n);
		/* Consecutive completions of one batch cost one atomic. */
		while (i < n) {
			struct tern_future *f = (struct tern_future *)cpl[i].cookie;
			uint64_t count = 0, bytes = 0, errors = 0;

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
				w->tp[t].ops->expire(w->tp[t].ep, (uintptr_t)f, f->submit_tsc);
		if (future_resolve(f, -ETIMEDOUT)) {
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
	int t;

	for (t = 0; t < w->nb_transports; t++)
		if (w->tp[t].nb_stage != 0)
			return false;
	return rte_ring_empty(w->sq) && rte_ring_empty(w->xq) && active_count(w) == 0 &&
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
			future_resolve(f, -ECANCELED);
			/* Nothing will touch its segments again: let them go. */
			future_release_segrefs(f);
			n++;
		}
	}
	ENGINE_LOG(WARNING,
		   "lcore %u: %" PRIu64 " slices still held by transports after cancel; "
		   "%u batches abandoned",
		   w->lcore_id, __atomic_load_n(&w->ctr->posted, __ATOMIC_RELAXED), n);
}

int
worker_main(void *arg)
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
		work += poll_completions(w);
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
worker_create(struct engine_shared *sh, unsigned int idx, unsigned int lcore_id, uint32_t flags)
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
	active_size = rte_align32pow2(2 * sh->pool->size + 1);
	w->active = rte_zmalloc_socket("tern_active", active_size * sizeof(*w->active),
				       RTE_CACHE_LINE_SIZE, socket);
	if (w->active == NULL)
		goto fail;
	w->active_mask = active_size - 1;
	w->sh = sh;
	w->ctr = &sh->counters[idx];
	w->cache = rte_mempool_default_cache(sh->pool, lcore_id);
	w->sq = sh->sq[idx];
	w->xq = sh->xq[idx];
	w->idx = idx;
	w->lcore_id = lcore_id;
	w->flags = flags;
	for (w->tick_shift = 0; (hz >> (w->tick_shift + 1)) >= 4000; w->tick_shift++)
		;
	for (t = 0; t < (int)WHEEL_SLOTS; t++)
		TAILQ_INIT(&w->wheel[t]);
	TAILQ_INIT(&w->expired);

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
	worker_free(w);
	return NULL;
}

void
worker_free(struct worker *w)
{
	int t;

	if (w == NULL)
		return;
	for (t = 0; t < w->nb_transports; t++)
		if (w->tp[t].ops != NULL)
			w->tp[t].ops->endpoint_close(w->tp[t].ep);
	rte_free(w->active);
	rte_free(w);
}
