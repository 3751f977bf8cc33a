/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_pause.h>

#include "engine_private.h"

/* Here, in the lowest file of the engine: every other one logs. */
RTE_LOG_REGISTER(tern_engine_logtype, tern.engine, INFO);

/* Spin this long before sleeping on the futex: long enough to cover the gap
 * between completions of a pipeline of MiB-sized batches (a 1 MiB copy takes
 * about 17 us; a futex sleep and wake-up on a busy CPU costs more than that),
 * short enough not to burn a core waiting for a large one. 20 us was too
 * short: a client waiting on 4 batches of 1 MiB in flight over shm slept on
 * most of them and kept the worker lcore from 20 % of its bandwidth. 60 us
 * became too short with per-client submission queues (one worker lcore,
 * 1 MiB, inflight 4, --completion wait: 41.2-42.8 GB/s against 46.6-52.8 for
 * 09d39e1 in alternating runs); at 200 us the same runs give 46.4-53.4
 * against 42.8-54.5 (doc/performance.md). */
#define WAIT_SPIN_NS 200000ull

/* Shared (not FUTEX_PRIVATE) futexes: waiters may be in secondary processes. */
static void
futex_wake_all(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void
futex_wait_ns(uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ns / 1000000000ull),
		.tv_nsec = (long)(timeout_ns % 1000000000ull),
	};

	syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, NULL, 0);
}

bool
engine_future_resolve(struct tern_future *f, int32_t status)
{
	uint16_t expected = 0;
	uint32_t old;

	if (!__atomic_compare_exchange_n(&f->resolved, &expected, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return false;
	f->status = status;
	/* Queue first, then publish: whoever saw the future resolved finds it
	 * in the completion queue. The queue is sized for every future the
	 * client can hold, so the enqueue cannot fail. */
	if (f->has_cq)
		rte_ring_mp_enqueue(f->sh->clients[f->client_slot].cq, f);
	old = __atomic_exchange_n(&f->state, FUT_DONE, __ATOMIC_RELEASE);
	if (old == FUT_PENDING_WAITER)
		futex_wake_all(&f->state);
	return true;
}

/*
 * The owner lcore takes the segment references of a batch it accepts: the
 * client validated the handles without taking any, so a client that dies in
 * tern_submit() leaves no reference behind. A segment unregistered between
 * submit and accept fails the batch with -ESTALE.
 */
int
engine_future_take_segrefs(struct tern_future *f)
{
	const uint32_t *refs = future_segrefs(f, f->sh->max_batch);

	for (; f->nb_segs_held < f->nb_segrefs; f->nb_segs_held++)
		if (unlikely(tern_segment_acquire(f->sh->segments, refs[f->nb_segs_held], 0, 0,
						  1) == NULL))
			return -ESTALE; /* the references taken so far go with the batch */
	return 0;
}

void
engine_future_release_segrefs(struct tern_future *f)
{
	struct tern_segment_table *tbl = f->sh->segments;
	const uint32_t *refs = future_segrefs(f, f->sh->max_batch);
	uint32_t i;

	for (i = 0; i < f->nb_segs_held; i++)
		tern_segment_release(&tbl->slots[tern_segment_handle_slot(refs[i])], 1);
	f->nb_segs_held = 0;
}

/*
 * Every slice is accounted: the engine lets go, and the client may reuse the
 * future (see client_recycle()). Poisoned first: the client's reuse cannot
 * race the poisoning.
 */
void
engine_future_engine_done(struct tern_future *f)
{
	future_poison(f);
	__atomic_store_n(&f->engine, ENGINE_DONE, __ATOMIC_RELEASE);
}

static bool
future_valid(const struct tern_future *f)
{
	return f != NULL && f->magic == FUTURE_LIVE && (f->holds & HOLD_USER);
}

int
tern_future_test(const struct tern_future *f)
{
	if (!future_valid(f))
		return -EINVAL;
	if (__atomic_load_n(&f->state, __ATOMIC_ACQUIRE) != FUT_DONE)
		return -EINPROGRESS;
	return f->status;
}

int
tern_future_wait(struct tern_future *f, uint64_t timeout_ns)
{
	uint64_t hz, start = rte_rdtsc();
	uint64_t spin_end, end;
	uint32_t s;

	if (!future_valid(f))
		return -EINVAL;
	hz = f->sh->tsc_hz;
	spin_end = start + tern_scale_apply(RTE_MIN(timeout_ns, WAIT_SPIN_NS), f->sh->ns_to_tsc);
	end = tern_add_sat(start, tern_scale_apply(timeout_ns, f->sh->ns_to_tsc));
	while (__atomic_load_n(&f->state, __ATOMIC_ACQUIRE) != FUT_DONE) {
		if (rte_rdtsc() >= spin_end)
			goto sleep;
		rte_pause();
	}
	return f->status;

sleep:
	for (;;) {
		uint64_t now;

		s = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
		if (s == FUT_DONE)
			return f->status;
		if (s == FUT_PENDING &&
		    !__atomic_compare_exchange_n(&f->state, &s, FUT_PENDING_WAITER, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		now = rte_rdtsc();
		if (now >= end)
			return -EINPROGRESS;
		/* At most a second per sleep: "for ever" is UINT64_MAX cycles away. */
		futex_wait_ns(&f->state, FUT_PENDING_WAITER,
			      RTE_MIN(tern_tsc_to_ns(end - now, hz), TERN_NS_PER_S));
	}
}

int
tern_future_cancel(struct tern_future *f)
{
	if (!future_valid(f))
		return -EINVAL;
	return engine_future_resolve(f, -ECANCELED) ? 0 : -EALREADY;
}

uint64_t
tern_future_user_data(const struct tern_future *f)
{
	return f == NULL ? 0 : f->user_data;
}
