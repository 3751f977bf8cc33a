/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A node's notification queue: a memzone holding the queue's header, its
 * per-sender counters and depth notification slots, and two MP/MC rings of
 * slot indexes: free and ready. A delivery takes a free slot, fills it and
 * puts it on the ready ring; a poll takes ready slots, copies them out and
 * gives them back. No lock, no allocation, never blocks: the transports'
 * receive threads, the engine's lcores and clients in secondary processes
 * all call in concurrently. A client killed between taking and giving back
 * a slot loses that slot (the queue is one shorter until it is recreated).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_memzone.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include <tern_cli.h>

#include "tern_notify_driver.h"

RTE_LOG_REGISTER(notify_logtype, tern.notify, INFO);
#define NOTIFY_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, notify_logtype, "tern_notify: " fmt "\n", ##__VA_ARGS__)

#define NOTIFY_MAGIC 0x746e7466u /* "tntf" */
#define NAME_MAX_LEN 16
#define MZ_PREFIX    "tern_ntf_"
/* Spin before sleeping: a delivery a few microseconds away is caught awake. */
#define WAIT_SPIN_NS 20000ull
#define BURST	     32u

struct sender_row {
	uint32_t state; /* 0 free, 1 being written, 2 published (atomic) */
	char node[TERN_NOTIFY_NODE_MAX];
	uint64_t delivered;
	uint64_t refused;
};

struct tern_notify_queue {
	uint32_t magic;
	uint32_t depth;
	char name[NAME_MAX_LEN];
	char node[TERN_NOTIFY_NODE_MAX];
	struct rte_ring *free_ring;
	struct rte_ring *ready_ring;
	const struct rte_memzone *mz;
	uint32_t seq __rte_cache_aligned; /* futex word: bumped by every delivery */
	uint32_t sleepers;		  /* atomic: waiters asleep on @seq */
	/* atomic: 1 once a deliverer made the FUTEX_WAKE for the sleepers there
	 * are; a waiter clears it before it sleeps. Deliveries until then make
	 * no syscall: the woken waiter polls everything when it runs. */
	uint32_t wake_sent;
	uint64_t delivered __rte_cache_aligned;
	uint64_t polled;
	uint64_t refused;
	uint64_t malformed;
	uint64_t last_log_tsc; /* malformed input is logged at most once a second */
	struct sender_row senders[TERN_NOTIFY_SENDERS_MAX];
	struct tern_notification slots[] __rte_cache_aligned;
};

static void
ring_name(char *buf, size_t len, const char *kind, const char *name)
{
	snprintf(buf, len, "tntf%s_%s", kind, name);
}

struct tern_notify_queue *
tern_notify_queue_create(const struct tern_notify_queue_conf *conf)
{
	char mzname[RTE_MEMZONE_NAMESIZE], rname[RTE_RING_NAMESIZE];
	const struct rte_memzone *mz;
	struct tern_notify_queue *q;
	uint32_t depth, i;

	if (conf == NULL || tern_cli_check_name(conf->name, NAME_MAX_LEN) != 0 ||
	    tern_cli_check_name_chars(conf->node, TERN_NOTIFY_NODE_MAX, TERN_CLI_NAME_SEGMENT) !=
		    0 ||
	    conf->depth > TERN_NOTIFY_DEPTH_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		rte_errno = EINVAL;
		return NULL;
	}
	depth = conf->depth == 0 ? TERN_NOTIFY_DEPTH_DEFAULT : conf->depth;
	snprintf(mzname, sizeof(mzname), MZ_PREFIX "%s", conf->name);
	if (rte_memzone_lookup(mzname) != NULL) {
		rte_errno = EEXIST;
		return NULL;
	}
	mz = rte_memzone_reserve_aligned(
		mzname, sizeof(*q) + (size_t)depth * sizeof(struct tern_notification),
		conf->socket_id, 0, RTE_CACHE_LINE_SIZE);
	if (mz == NULL) {
		rte_errno = rte_errno == EEXIST ? EEXIST : ENOMEM;
		return NULL;
	}
	q = mz->addr;
	memset(q, 0, sizeof(*q));
	q->depth = depth;
	q->mz = mz;
	snprintf(q->name, sizeof(q->name), "%s", conf->name);
	snprintf(q->node, sizeof(q->node), "%s", conf->node);
	ring_name(rname, sizeof(rname), "f", conf->name);
	q->free_ring = rte_ring_create(rname, depth, conf->socket_id, RING_F_EXACT_SZ);
	ring_name(rname, sizeof(rname), "r", conf->name);
	q->ready_ring = rte_ring_create(rname, depth, conf->socket_id, RING_F_EXACT_SZ);
	if (q->free_ring == NULL || q->ready_ring == NULL) {
		rte_ring_free(q->free_ring);
		rte_ring_free(q->ready_ring);
		rte_memzone_free(mz);
		rte_errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < depth; i++)
		rte_ring_enqueue(q->free_ring, (void *)(uintptr_t)i);
	__atomic_store_n(&q->magic, NOTIFY_MAGIC, __ATOMIC_RELEASE);
	return q;
}

struct tern_notify_queue *
tern_notify_queue_lookup(const char *name)
{
	char mzname[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;
	struct tern_notify_queue *q;

	if (tern_cli_check_name(name, NAME_MAX_LEN) != 0) {
		rte_errno = EINVAL;
		return NULL;
	}
	snprintf(mzname, sizeof(mzname), MZ_PREFIX "%s", name);
	mz = rte_memzone_lookup(mzname);
	if (mz == NULL) {
		rte_errno = ENOENT;
		return NULL;
	}
	q = mz->addr;
	if (__atomic_load_n(&q->magic, __ATOMIC_ACQUIRE) != NOTIFY_MAGIC) {
		rte_errno = ENOENT;
		return NULL;
	}
	return q;
}

static inline bool
queue_ok(const struct tern_notify_queue *q)
{
	return q != NULL && __atomic_load_n(&q->magic, __ATOMIC_ACQUIRE) == NOTIFY_MAGIC;
}

int
tern_notify_queue_free(struct tern_notify_queue *q)
{
	if (!queue_ok(q))
		return -EINVAL;
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return -EPERM;
	__atomic_store_n(&q->magic, 0, __ATOMIC_RELEASE);
	rte_ring_free(q->free_ring);
	rte_ring_free(q->ready_ring);
	rte_memzone_free(q->mz);
	return 0;
}

const char *
tern_notify_queue_node(const struct tern_notify_queue *q)
{
	static const char none[TERN_NOTIFY_NODE_MAX];

	return queue_ok(q) ? q->node : none;
}

/* The row of @sender, added if there is room; the last row is everyone else's. */
static struct sender_row *
sender_row(struct tern_notify_queue *q, const char *sender)
{
	unsigned int i, spins;

	for (i = 0; i < TERN_NOTIFY_SENDERS_MAX - 1; i++) {
		struct sender_row *r = &q->senders[i];
		uint32_t st = __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);

		if (st == 0) {
			uint32_t zero = 0;

			if (__atomic_compare_exchange_n(&r->state, &zero, 1, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				snprintf(r->node, sizeof(r->node), "%s", sender);
				__atomic_store_n(&r->state, 2, __ATOMIC_RELEASE);
				return r;
			}
			st = zero;
		}
		/* Another deliverer is writing the name: a few hundred cycles. Bounded,
		 * so that one killed midway costs its row, never a hang. */
		for (spins = 0; st == 1 && spins < 4096; spins++) {
			rte_pause();
			st = __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);
		}
		if (st == 2 && strcmp(r->node, sender) == 0)
			return r;
	}
	return &q->senders[TERN_NOTIFY_SENDERS_MAX - 1];
}

static void
malformed(struct tern_notify_queue *q, const char *why)
{
	uint64_t now = rte_get_tsc_cycles(), last;

	__atomic_fetch_add(&q->malformed, 1, __ATOMIC_RELAXED);
	last = __atomic_load_n(&q->last_log_tsc, __ATOMIC_RELAXED);
	if (now - last >= rte_get_tsc_hz() &&
	    __atomic_compare_exchange_n(&q->last_log_tsc, &last, now, false, __ATOMIC_RELAXED,
					__ATOMIC_RELAXED))
		NOTIFY_LOG(WARNING, "queue %s: notification refused: %s (%" PRIu64 " so far)",
			   q->name, why, __atomic_load_n(&q->malformed, __ATOMIC_RELAXED));
}

int
tern_notify_deliver(struct tern_notify_queue *q, const char *sender, uint64_t tag, const void *msg,
		    uint32_t msg_len)
{
	struct tern_notification *n;
	struct sender_row *row;
	void *idx;

	if (!queue_ok(q))
		return -EINVAL;
	if (sender == NULL ||
	    tern_cli_check_name_chars(sender, TERN_NOTIFY_NODE_MAX, TERN_CLI_NAME_SEGMENT) != 0) {
		malformed(q, "bad sender name");
		return -EINVAL;
	}
	if (msg_len > TERN_NOTIFY_MSG_MAX || (msg == NULL && msg_len != 0)) {
		malformed(q, "message over 256 bytes");
		return -EINVAL;
	}
	row = sender_row(q, sender);
	if (rte_ring_mc_dequeue(q->free_ring, &idx) != 0) {
		__atomic_fetch_add(&q->refused, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&row->refused, 1, __ATOMIC_RELAXED);
		return -ENOBUFS;
	}
	n = &q->slots[(uintptr_t)idx];
	snprintf(n->sender, sizeof(n->sender), "%s", sender);
	n->tag = tag;
	n->msg_len = msg_len;
	n->reserved = 0;
	if (msg_len != 0)
		memcpy(n->msg, msg, msg_len);
	/* The ring's enqueue publishes the slot with release order. */
	rte_ring_mp_enqueue(q->ready_ring, idx);
	__atomic_fetch_add(&q->delivered, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&row->delivered, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&q->seq, 1, __ATOMIC_SEQ_CST);
	/* One wake per sleep: a woken waiter may take a while to get a CPU, and
	 * every delivery meanwhile would make the syscall again (issue 13). */
	if (__atomic_load_n(&q->sleepers, __ATOMIC_SEQ_CST) != 0 &&
	    __atomic_load_n(&q->wake_sent, __ATOMIC_SEQ_CST) == 0 &&
	    __atomic_exchange_n(&q->wake_sent, 1, __ATOMIC_SEQ_CST) == 0)
		syscall(SYS_futex, &q->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	return 0;
}

int
tern_notify_queue_poll(struct tern_notify_queue *q, struct tern_notification *out, unsigned int max)
{
	void *idx[BURST];
	unsigned int n, i, total = 0;

	if (!queue_ok(q) || (out == NULL && max != 0))
		return -EINVAL;
	while (total < max) {
		n = rte_ring_mc_dequeue_burst(q->ready_ring, idx, RTE_MIN(max - total, BURST),
					      NULL);
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			out[total + i] = q->slots[(uintptr_t)idx[i]];
		rte_ring_mp_enqueue_bulk(q->free_ring, idx, n, NULL);
		total += n;
	}
	if (total != 0)
		__atomic_fetch_add(&q->polled, total, __ATOMIC_RELAXED);
	return (int)total;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
tern_notify_queue_wait(struct tern_notify_queue *q, struct tern_notification *out, unsigned int max,
		       uint64_t timeout_ns)
{
	uint64_t start = now_ns(), now = start, left;
	int n;

	if (!queue_ok(q) || out == NULL || max == 0)
		return -EINVAL;
	for (;;) {
		uint32_t seq = __atomic_load_n(&q->seq, __ATOMIC_SEQ_CST);
		struct timespec ts;

		n = tern_notify_queue_poll(q, out, max);
		if (n != 0)
			return n;
		if (now - start >= timeout_ns)
			return 0;
		if (now - start < WAIT_SPIN_NS) {
			rte_pause();
			now = now_ns();
			continue;
		}
		left = timeout_ns - (now - start);
		if (left > 100000000ull)
			left = 100000000ull; /* re-check now and then: a lost wake-up costs this */
		ts.tv_sec = (time_t)(left / 1000000000ull);
		ts.tv_nsec = (long)(left % 1000000000ull);
		/* Sleepers first, then wake_sent: a delivery after this either
		 * changed @seq before the kernel compares it (no sleep) or sees this
		 * sleeper with wake_sent 0, or one whose xchg came later woke it. */
		__atomic_fetch_add(&q->sleepers, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&q->wake_sent, 0, __ATOMIC_SEQ_CST);
		if (rte_ring_empty(q->ready_ring))
			syscall(SYS_futex, &q->seq, FUTEX_WAIT, seq, &ts, NULL, 0);
		__atomic_fetch_sub(&q->sleepers, 1, __ATOMIC_SEQ_CST);
		now = now_ns();
	}
}

int
tern_notify_queue_stats(const struct tern_notify_queue *q, struct tern_notify_queue_stats *stats)
{
	if (!queue_ok(q) || stats == NULL)
		return -EINVAL;
	stats->depth = q->depth;
	stats->queued = rte_ring_count(q->ready_ring);
	stats->delivered = __atomic_load_n(&q->delivered, __ATOMIC_RELAXED);
	stats->polled = __atomic_load_n(&q->polled, __ATOMIC_RELAXED);
	stats->refused = __atomic_load_n(&q->refused, __ATOMIC_RELAXED);
	stats->malformed = __atomic_load_n(&q->malformed, __ATOMIC_RELAXED);
	return 0;
}

int
tern_notify_queue_senders(const struct tern_notify_queue *q, struct tern_notify_sender_stats *out,
			  unsigned int max)
{
	unsigned int i, n = 0;

	if (!queue_ok(q) || (out == NULL && max != 0))
		return -EINVAL;
	for (i = 0; i < TERN_NOTIFY_SENDERS_MAX; i++) {
		const struct sender_row *r = &q->senders[i];
		bool last = i == TERN_NOTIFY_SENDERS_MAX - 1;

		if (!last && __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != 2)
			continue;
		if (last && r->delivered == 0 && r->refused == 0)
			continue;
		if (n < max) {
			snprintf(out[n].node, sizeof(out[n].node), "%s", last ? "*" : r->node);
			out[n].delivered = __atomic_load_n(&r->delivered, __ATOMIC_RELAXED);
			out[n].refused = __atomic_load_n(&r->refused, __ATOMIC_RELAXED);
		}
		n++;
	}
	return (int)n;
}
