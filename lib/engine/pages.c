/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's process never gives a hugepage back while it hosts clients.
 *
 * DPDK tells secondary processes about each page the primary maps or unmaps
 * with one broadcast (mp_malloc_sync); a secondary then applies the
 * difference between the primary's page table and its own. A broadcast stops
 * at the first secondary that does not answer within 5 s (one starting up
 * waits for the primary, one exiting is deaf), and an unmap goes ahead
 * anyway: the secondaries after it in the runtime directory keep the old
 * page mapped. When the primary later maps a new page at the same address,
 * their difference shows nothing to do and they go on using the old page:
 * an attached client reads zeros where the engine wrote its data, or waits
 * forever on a future the engine resolved in the new page. (Seen in
 * tests/python: four clients attaching and exiting at once, the reader's new
 * buffer read back as zeros about once in ten runs.)
 *
 * So every page of the heap is marked RTE_MEMSEG_FLAG_DO_NOT_FREE, which
 * DPDK's heap honours: the pages present when the first engine starts, and
 * each page the heap grows by afterwards (DPDK's memory event callback, run
 * in this process for allocations of every process). Freed memory goes back
 * to DPDK's heap and serves the next allocation without any broadcast; the
 * heap's size is its high-water mark. A growth whose broadcast failed is
 * rolled back by DPDK; its pages stay mapped too (a secondary that mapped
 * them may miss the rollback's broadcast for the same reason) and are
 * counted, since nothing reuses them.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>

#include <rte_eal_memconfig.h>
#include <rte_errno.h>
#include <rte_memory.h>

#include "engine_private.h"

#define KEEP_CALLBACK "tern_keep_pages"

static pthread_mutex_t keep_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int keep_users;
static uint64_t kept_after_rollback; /* bytes; under DPDK's hotplug lock */

/* Marks (or, for a rollback, counts) the pages of [addr, addr + len). */
static void
keep_range(const void *addr, size_t len, bool rolled_back)
{
	const struct rte_memseg_list *msl = rte_mem_virt2memseg_list(addr);
	const uint8_t *p = addr, *end = p + len;
	uint64_t kept = 0;

	if (msl == NULL || msl->external)
		return;
	for (; p < end; p += msl->page_sz) {
		struct rte_memseg *ms = rte_mem_virt2memseg(p, msl);

		if (ms == NULL)
			continue;
		if (rolled_back && (ms->flags & RTE_MEMSEG_FLAG_DO_NOT_FREE) != 0)
			kept += ms->len;
		ms->flags |= RTE_MEMSEG_FLAG_DO_NOT_FREE;
	}
	if (kept != 0) {
		kept_after_rollback += kept;
		ENGINE_LOG(WARNING,
			   "a page allocation was rolled back (a process did not answer DPDK's "
			   "memory sync): its %" PRIu64 " KiB stay mapped, %" PRIu64 " KiB so far",
			   kept >> 10, kept_after_rollback >> 10);
	}
}

/* Runs with DPDK's hotplug lock held: only the lock-free lookups. The heap
 * refuses to free a marked page and announces no FREE for it, except when
 * it rolls a growth back. */
static void
keep_event(enum rte_mem_event type, const void *addr, size_t len, void *arg)
{
	RTE_SET_USED(arg);
	keep_range(addr, len, type == RTE_MEM_EVENT_FREE);
}

static int
keep_present(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *arg)
{
	RTE_SET_USED(arg);
	if (!msl->external)
		keep_range(ms->addr, ms->len, false);
	return 0;
}

int
engine_pages_keep(void)
{
	int ret = 0;

	pthread_mutex_lock(&keep_lock);
	if (keep_users == 0) {
		if (rte_mem_event_callback_register(KEEP_CALLBACK, keep_event, NULL) != 0) {
			/* Legacy or no-hugepage memory: no page is mapped at run time. */
			ret = rte_errno == ENOTSUP ? 0 : -rte_errno;
			if (ret == 0)
				keep_users++;
			pthread_mutex_unlock(&keep_lock);
			return ret;
		}
		rte_mcfg_mem_write_lock();
		rte_memseg_walk_thread_unsafe(keep_present, NULL);
		rte_mcfg_mem_write_unlock();
	}
	keep_users++;
	pthread_mutex_unlock(&keep_lock);
	return ret;
}

void
engine_pages_release(void)
{
	pthread_mutex_lock(&keep_lock);
	if (keep_users != 0 && --keep_users == 0)
		rte_mem_event_callback_unregister(KEEP_CALLBACK, NULL);
	pthread_mutex_unlock(&keep_lock);
}
