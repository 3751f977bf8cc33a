/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client slots, in the engine's process only. A slot is everything one
 * client owns in shared memory: its submission queue, its completion ring and
 * a fixed set of futures taken from the engine's pool when the slot is
 * granted. The client writes only these; when it leaves or dies the slot is
 * closed, its home lcore accepts whatever the client had published and stops
 * polling its ring, the batches the engine still works on finish (their
 * deadlines bound the wait), and only then do the futures go back to the pool
 * and the rings away. Whatever the client left half-written (a ring entry
 * reserved but not published, a future being filled) is discarded with it.
 *
 *   FREE -> RESERVED -> ACTIVE -> CLOSING (left) or DEAD (died) -> FREE
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_spinlock.h>

#include "engine_private.h"

/* Serialises slot allocation and reclaim (IPC/alarm thread, application threads). */
static rte_spinlock_t slots_lock = RTE_SPINLOCK_INITIALIZER;

static void
slot_free_resources(struct engine_shared *sh, struct client_slot *cs)
{
	uint32_t i;

	if (cs->futures != NULL) {
		for (i = 0; i < cs->nb_futures; i++) {
			future_unpoison(cs->futures[i]);
			cs->futures[i]->magic = FUTURE_FREE;
		}
		rte_mempool_put_bulk(sh->pool, (void **)cs->futures, cs->nb_futures);
		rte_free(cs->futures);
		cs->futures = NULL;
	}
	rte_free(cs->sq);
	rte_ring_free(cs->cq);
	cs->sq = NULL;
	cs->cq = NULL;
}

static int
slot_setup(struct engine_shared *sh, struct client_slot *cs, uint32_t slot, uint32_t max_inflight,
	   uint32_t flags)
{
	uint32_t i, n = slot_futures(max_inflight);
	char name[RTE_RING_NAMESIZE];
	int socket = sh->pool->socket_id;

	cs->futures = rte_zmalloc_socket("tern_slot_futures", n * sizeof(*cs->futures),
					 RTE_CACHE_LINE_SIZE, socket);
	if (cs->futures == NULL)
		return -ENOMEM;
	if (rte_mempool_get_bulk(sh->pool, (void **)cs->futures, n) != 0) {
		rte_free(cs->futures);
		cs->futures = NULL;
		return -ENOSPC; /* the pool has fewer futures left than the slot takes */
	}
	cs->max_inflight = max_inflight;
	cs->nb_futures = n;
	for (i = 0; i < n; i++) {
		struct tern_future *f = cs->futures[i];

		f->magic = FUTURE_FREE;
		f->sh = sh;
		f->client_slot = (uint16_t)slot;
		f->engine = ENGINE_DONE;
		f->holds = 0;
	}
	/* Both queues hold every future of the slot at once: nothing can overflow. */
	cs->sq_mask = rte_align32pow2(n + 1) - 1;
	cs->sq = rte_zmalloc_socket("tern_sq", (cs->sq_mask + 1ull) * sizeof(*cs->sq),
				    RTE_CACHE_LINE_SIZE, socket);
	if (cs->sq == NULL)
		return -ENOMEM;
	if (!(flags & TERN_CLIENT_F_NO_CQ)) {
		snprintf(name, sizeof(name), "tcq_%.15s_%u", sh->name, slot);
		cs->cq = rte_ring_create(name, rte_align32pow2(n + 1), socket, RING_F_SC_DEQ);
		if (cs->cq == NULL)
			return -ENOMEM;
	}
	return 0;
}

int
engine_slot_alloc(struct engine_shared *sh, int32_t pid, uint32_t max_inflight, uint32_t flags,
		  uint32_t home, uint32_t *slot_out)
{
	struct client_slot *cs;
	uint32_t slot;
	int ret;

	rte_spinlock_lock(&slots_lock);
	for (slot = 0; slot < sh->max_clients; slot++)
		if (__atomic_load_n(&sh->clients[slot].state, __ATOMIC_ACQUIRE) == CLIENT_SLOT_FREE)
			break;
	if (slot == sh->max_clients) {
		rte_spinlock_unlock(&slots_lock);
		return -ENOSPC;
	}
	cs = &sh->clients[slot];
	memset(cs, 0, sizeof(*cs));
	cs->state = CLIENT_SLOT_RESERVED;
	rte_spinlock_unlock(&slots_lock);

	ret = slot_setup(sh, cs, slot, max_inflight, flags);
	if (ret != 0) {
		slot_free_resources(sh, cs);
		__atomic_store_n(&cs->state, CLIENT_SLOT_FREE, __ATOMIC_RELEASE);
		return ret;
	}
	cs->pid = pid;
	cs->flags = flags;
	cs->home = (uint16_t)(home < sh->nb_workers ? home : slot % sh->nb_workers);
	cs->attach_tsc = rte_get_tsc_cycles();
	__atomic_store_n(&cs->state, CLIENT_SLOT_ACTIVE, __ATOMIC_RELEASE);
	/* The lcores rebuild their lists of rings to poll. */
	__atomic_fetch_add(&sh->slots_gen, 1, __ATOMIC_RELEASE);
	*slot_out = slot;
	return 0;
}

void
engine_slot_close(struct engine_shared *sh, uint32_t slot, uint32_t state)
{
	uint32_t expected = CLIENT_SLOT_ACTIVE;

	if (__atomic_compare_exchange_n(&sh->clients[slot].state, &expected, state, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		__atomic_fetch_add(&sh->slots_gen, 1, __ATOMIC_RELEASE);
}

void
engine_slot_free_segments(struct engine_shared *sh, struct client_slot *cs)
{
	uint32_t i, kept = 0;

	for (i = 0; i < cs->nb_segments; i++)
		if (tern_segment_unregister(sh->segments, cs->segments[i]) == -EBUSY)
			cs->segments[kept++] = cs->segments[i];
	cs->nb_segments = kept;
}

/*
 * Futures of @slot the engine still works on: from the moment their owner
 * lcore accepted them until every slice is accounted. A future the client
 * was filling or had queued when it died (QUEUED once the ring is drained)
 * never reached an lcore.
 */
uint32_t
engine_slot_engine_held(const struct engine_shared *sh, uint32_t slot)
{
	const struct client_slot *cs = &sh->clients[slot];
	uint32_t i, n = 0;

	if (cs->futures == NULL)
		return 0;
	for (i = 0; i < cs->nb_futures; i++) {
		const struct tern_future *f = cs->futures[i];

		if (__atomic_load_n(&f->engine, __ATOMIC_ACQUIRE) >= ENGINE_OWNED(0))
			n++;
	}
	return n;
}

/*
 * One step of reclaiming a closed slot; true once it is free. With
 * @lcores_stopped (engine destroyed) nothing can touch the slot any more and
 * it is freed at once.
 */
bool
engine_slot_reclaim(struct engine_shared *sh, uint32_t slot, bool lcores_stopped)
{
	struct client_slot *cs = &sh->clients[slot];
	uint32_t state, held = 0;
	bool done = false;

	rte_spinlock_lock(&slots_lock);
	state = __atomic_load_n(&cs->state, __ATOMIC_ACQUIRE);
	if (state == CLIENT_SLOT_FREE) {
		done = true;
		goto out;
	}
	if (state != CLIENT_SLOT_DEAD && state != CLIENT_SLOT_CLOSING && !lcores_stopped)
		goto out;
	/* The home lcore has accepted everything published and stopped polling. */
	if (!lcores_stopped && !__atomic_load_n(&cs->sq_drained, __ATOMIC_ACQUIRE))
		goto out;
	held = engine_slot_engine_held(sh, slot);
	if (held != 0 && !lcores_stopped)
		goto out; /* their deadlines bound the wait */
	engine_slot_free_segments(sh, cs);
	if (cs->nb_segments != 0 && !lcores_stopped)
		goto out;
	if (state == CLIENT_SLOT_DEAD)
		ENGINE_LOG(NOTICE, "client slot %u of dead pid %d reclaimed", slot, (int)cs->pid);
	slot_free_resources(sh, cs);
	cs->pid = 0;
	__atomic_store_n(&cs->state, CLIENT_SLOT_FREE, __ATOMIC_RELEASE);
	done = true;
out:
	rte_spinlock_unlock(&slots_lock);
	return done;
}

/* How long an in-process client's destroy waits for its slot to be free
 * before leaving the rest to the liveness alarm (a batch whose slices a
 * transport still holds past its deadline). */
#define RECLAIM_WAIT_US 100000u

void
engine_slot_reclaim_wait(struct engine_shared *sh, uint32_t slot)
{
	unsigned int us;

	for (us = 0; us < RECLAIM_WAIT_US; us += 10) {
		if (__atomic_load_n(&sh->phase, __ATOMIC_ACQUIRE) == PHASE_CANCEL) {
			/* The lcores are leaving: the engine's destroy frees the slot. */
			return;
		}
		if (engine_slot_reclaim(sh, slot, false))
			return;
		rte_delay_us_sleep(10);
	}
}
