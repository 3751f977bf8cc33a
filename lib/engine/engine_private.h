/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_ENGINE_PRIVATE_H
#define TERN_ENGINE_PRIVATE_H

/*
 * Internal layout of the engine. Three kinds of memory:
 * - shared (memzone and mempool in hugepage memory, same address in every
 *   process of the DPDK instance): struct engine_shared, the futures, the
 *   rings. Plain data only, no function pointers.
 *
 * Crash isolation: a client may live in another process and die at any
 * instruction. Nothing it writes is shared with another client or with the
 * engine's own structures: its submission queue (filled by the client alone,
 * read by its home lcore), its futures (a fixed set taken from the
 * pool for its slot, never returned to the pool by the client) and the
 * client-side words of those futures. It writes no segment reference (the
 * owner lcore takes them at accept) and no mempool. What a dead client leaves
 * half-written is discarded with its slot (see doc/architecture.md).
 * - process-local handles: struct tern_engine, struct tern_client. They
 *   live in static tables and are never freed, so a call on a destroyed
 *   handle fails cleanly (-ESHUTDOWN) instead of touching freed memory.
 * - lcore-private: struct worker, touched by its lcore alone.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <rte_common.h>
#include <rte_log.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <tern_cli.h>
#include <tern_notify_driver.h>
#include <tern_time.h>
#include <tern_transport_driver.h>

#include "tern_engine.h"

extern int tern_engine_logtype;
#define ENGINE_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, tern_engine_logtype, "tern_engine: " fmt "\n", ##__VA_ARGS__)

/* Layout version of the shared structures: a process built against another
 * one must not attach (checked by clients in secondary processes). */
#define ENGINE_LAYOUT_VERSION 4

#define ENGINE_NAME_MAX	    16
#define PROCESS_ENGINES_MAX 8
#define PROCESS_CLIENTS_MAX 1024

#define ENGINE_MAGIC 0x74656e67u /* "teng" */
#define CLIENT_MAGIC 0x74636c69u /* "tcli" */
#define FUTURE_LIVE  0x7466756cu /* "tful": handed to a client */
#define FUTURE_FREE  0x74666672u /* "tffr": in the pool */

#define CLIENT_DEFAULT_INFLIGHT 256
#define CLIENT_MAX_INFLIGHT	65536

/*
 * tern_future.engine: whether the engine has the batch, in one word so that
 * a reclaim reads it in one load. The client sets QUEUED before publishing;
 * the owner lcore sets OWNED(its index) at accept and 0 once every slice is
 * accounted. A dead client's future that reads QUEUED after its ring was
 * drained never reached an lcore.
 */
#define ENGINE_DONE	0u
#define ENGINE_QUEUED	1u
#define ENGINE_OWNED(i) (2u + (i))

/* Largest deadline accepted (an hour): keeps TSC arithmetic far from overflow. */
#define DEADLINE_MAX_NS (3600ull * 1000000000ull)

/* Slices the lcore stages per transport before posting them. */
#define STAGE_SLICES 64
/* Most slices claimed from a batch at once; the rest stay for other lcores. */
#define CLAIM_SLICES 32
/* Bytes an lcore aims to claim at once from a batch (bounds head-of-line delay). */
#define CLAIM_BYTES (1u << 20)
/* Batches dequeued from a ring per loop iteration. */
#define DEQUEUE_BURST 32
/* Submission entries dequeued from one client's ring per loop iteration. */
#define ACCEPT_BURST 8
/* Completions polled per transport per iteration. */
#define POLL_BURST 64

/* Timer wheel: 4096 slots of 2^shift TSC cycles (about a quarter millisecond). */
#define WHEEL_SLOTS 4096u
/* timer_slot of a batch past its deadline whose slices are still out. */
#define EXPIRED_SLOT 0xffffu

/* Future state word (the futex word). */
enum future_state {
	FUT_PENDING = 0,
	FUT_PENDING_WAITER = 1, /* a thread sleeps on the futex */
	FUT_DONE = 2,
};

/* tern_future.notify */
#define NT_NONE	  0u /* a plain batch */
#define NT_WANTED 1u /* send the notification once every slice completed with 0 */
#define NT_POSTED 2u /* posted to a transport: its completion (cookie | NT_COOKIE) follows */
#define NT_RETRY                                                                 \
	3u /* the target's queue was full (or the transport had no room): on the \
	      retry list */
/* Low bit of a notification's cookie (futures are cache aligned; slices' cookies never have it). */
#define NT_COOKIE 1u
/* Pause between two posts of a notification the target's queue refused. */
#define NT_RETRY_NS 50000ull

/* What a client holds on a future (client thread only). */
#define HOLD_USER (1u << 0)
#define HOLD_CQ	  (1u << 1)
/* Not a hold: the client let go while the engine still had it; the client
 * puts it back on its free list once the engine's references are gone. */
#define HOLD_LINGER (1u << 7)

/* Messages between lcores. */
#define XQ_HELP 1u /* claim slices of batch @gen of this future */
#define XQ_DONE 2u /* every slice of this batch you own is accounted */

/*
 * A batch's claim word: its generation in the high bits, the next slice to
 * claim in the low bits. The client gives every use of a future a new
 * generation, so an lcore holding an entry for an earlier one (a helper that
 * was starved while the batch finished and the future was reused) fails its
 * compare-and-swap and drops the entry: claim entries hold no reference.
 * Futures are type-stable (never freed while the engine lives), so reading a
 * stale one is harmless.
 */
#define CLAIM_GEN_SHIFT	  44
#define CLAIM_CURSOR_MASK ((1ull << CLAIM_GEN_SHIFT) - 1)
#define CLAIM_GEN_MASK	  ((1ull << (64 - CLAIM_GEN_SHIFT)) - 1)

/* A batch an lcore may claim slices of: the future and its generation. */
struct claim_ref {
	struct tern_future *f;
	uint64_t gen;
};

/* One message on an inter-lcore ring: the future's pointer tagged with XQ_*
 * in its low bits (futures are cache aligned), and the generation (XQ_HELP). */
struct xq_msg {
	uintptr_t tagged;
	uint64_t gen;
};
#define XQ_TAG_MASK 3u

/* A request as the engine keeps it, target resolved to its segment. */
struct batch_req {
	uint64_t first_slice; /* index of its first slice in the batch */
	uint8_t *local;
	struct tern_segment *local_seg;
	struct tern_segment *target;
	uint64_t offset;
	uint64_t length;
	uint8_t op;
	uint8_t slice_flags;
};

/*
 * A future is the batch. Line 0: what the client writes at submit and the
 * waiter spins on (the lcore writes it once, at resolution). Lines 1-2: the
 * engine's, written by the owner lcore at accept from the submission entry
 * (a client never writes them, so a stale claim entry can trust nb_slices of
 * the generation it read). Then the requests and segment handles: written by
 * the owner lcore for a one-request batch (the request rides in the entry),
 * by the client for larger ones.
 */
struct tern_future {
	uint32_t state;	      /* enum future_state: atomic, futex word */
	int32_t status;	      /* valid once state == FUT_DONE */
	uint32_t magic;	      /* FUTURE_LIVE / FUTURE_FREE */
	uint32_t engine;      /* atomic: ENGINE_*; the client's holds are in @holds */
	uint16_t resolved;    /* atomic: 1 once a resolver won */
	uint16_t client_slot; /* index in engine_shared.clients */
	uint8_t holds;	      /* HOLD_*: the client's thread only */
	uint8_t has_cq;	      /* delivered to the client's completion queue */
	uint8_t notify;	      /* NT_*: the client sets NT_WANTED or NT_NONE at submit */
	uint64_t user_data;
	uint64_t submit_tsc;
	struct engine_shared *sh;
	struct tern_client *client; /* the submitting process's handle */

	uint64_t claim __rte_cache_aligned; /* atomic: generation << 44 | next slice */
	uint16_t owner; /* the owner lcore's index (valid while engine is OWNED) */
	uint8_t timer_linked;
	uint16_t timer_slot;
	uint32_t nb_reqs;
	uint32_t nb_segrefs;   /* distinct segments the batch names (handles in the tail) */
	uint32_t nb_segs_held; /* of which the owner lcore took references on, in order */
	int32_t first_error;   /* atomic: first failing slice's status */
	uint64_t pending;      /* atomic: slices not yet accounted */
	uint64_t nb_slices;
	uint64_t slice_bytes;
	uint64_t total_bytes;
	uint64_t deadline_tsc;
	uint64_t batch_id; /* never repeats: owner index << 48 | its count (tern_slice.batch) */
	TAILQ_ENTRY(tern_future) timer;

	/* The notification (f->notify != NT_NONE): written by the client at
	 * submit, then the owner lcore's. */
	struct {
		uint64_t tag;
		uint32_t msg_len;
		int32_t last;		       /* status of the last attempt */
		uint64_t retry_tsc;	       /* NT_RETRY: post again then */
		TAILQ_ENTRY(tern_future) link; /* the owner's retry list */
		/* tern_notify_post.wire: the sender, NUL-padded, then the message */
		char sender[TERN_NOTIFY_NODE_MAX];
		uint8_t msg[TERN_NOTIFY_MSG_MAX];
	} nt __rte_cache_aligned;

	/* max_batch requests, then 2 * max_batch segment handles. */
	uint8_t tail[] __rte_aligned(RTE_CACHE_LINE_SIZE);
};

/*
 * One submission: 64 bytes, the only line a client writes into shared
 * memory for a one-request batch besides the future's line 0.
 *
 * A client's submission queue is an array of these (a power of two larger
 * than its set of futures) with no shared head or tail: the client fills the
 * entry at its position p and publishes it by storing seq = p + 1 last; the
 * home lcore accepts the entry at its position c once seq reads c + 1. The
 * client never needs the lcore's position: at most one entry per future of
 * the slot can be unaccepted, so the entry it overwrites was accepted long
 * ago. Per batch, one line crosses from the client to the lcore (rte_ring
 * moved three more: the producer's and the consumer's indexes both ways).
 * A client killed while filling an entry never published it: its seq is
 * stale and the lcore never reads it.
 */
struct sq_entry {
	struct tern_future *f;
	uint64_t deadline_tsc;
	uint32_t nb_reqs; /* 1: the request is below; more: in the future's tail */
	uint8_t op;	  /* nb_reqs == 1 from here on */
	uint8_t slice_flags;
	uint16_t nb_segrefs; /* nb_reqs > 1: segment handles in the future's tail */
	uint32_t target;     /* handles the client validated */
	uint32_t local_seg;
	uint64_t offset;
	uint8_t *local;
	uint64_t length; /* nb_reqs > 1: the slice size the client cut the batch with */
	uint32_t seq;	 /* atomic, stored last: position + 1 once the entry is complete */
} __rte_aligned(RTE_CACHE_LINE_SIZE);

TAILQ_HEAD(future_list, tern_future);

/* Traffic of one lcore to one peer (segments tagged with its accounting tag). */
struct peer_counters {
	uint64_t slices;
	uint64_t bytes;
	uint64_t failed;   /* requests of batches that failed with a transport error */
	uint64_t fallback; /* slices posted to a segment's last resort */
};

/* Notifications an lcore sent as the owner of their batches. */
struct notify_counters {
	uint64_t posted;    /* posts (to a transport, or into this node's queue) */
	uint64_t delivered; /* accepted by the target's queue */
	uint64_t refused;   /* posts the target's full queue refused (-ENOBUFS) */
	uint64_t failed;    /* notified batches that resolved with an error after their data */
};

/* Counters of one lcore on their own cache line. */
struct lcore_counters {
	struct tern_lcore_stats stats;
	uint64_t owned_inflight; /* batches accepted and not yet finished */
	uint64_t posted;	 /* slices posted and not yet completed */
	uint64_t latency[TERN_LATENCY_BUCKETS] __rte_cache_aligned; /* log2(ns) buckets */
	struct peer_counters peers[TERN_SEGMENT_PEER_MAX] __rte_cache_aligned;
	struct notify_counters notify;
	struct notify_counters peer_notify[TERN_SEGMENT_PEER_MAX];
} __rte_cache_aligned;

enum client_slot_state {
	CLIENT_SLOT_FREE = 0,
	CLIENT_SLOT_RESERVED = 1, /* being set up */
	CLIENT_SLOT_ACTIVE = 2,
	CLIENT_SLOT_DEAD = 3,	 /* its process died: the engine reclaims it */
	CLIENT_SLOT_CLOSING = 4, /* its client left: the engine reclaims it */
};

/* A client as every process of the engine sees it. Line 0: written by the
 * engine's process (and @sq_drained by the home lcore), read by everyone;
 * line 1: written by the client alone. */
struct client_slot {
	uint32_t state; /* enum client_slot_state, atomic */
	int32_t pid;
	uint32_t flags;
	uint32_t max_inflight;
	uint16_t home;	    /* index of the lcore that accepts from @sq */
	uint8_t sq_drained; /* atomic: the home lcore accepted all and stopped polling */
	uint64_t attach_tsc;
	struct sq_entry *sq;	      /* submission queue (see struct sq_entry) */
	uint32_t sq_mask;	      /* entries - 1 */
	struct rte_ring *cq;	      /* completion queue: MP (lcores), SC (the client) */
	struct tern_future **futures; /* the slot's nb_futures futures */
	uint32_t nb_futures;	      /* slot_futures(max_inflight) */
	uint32_t nb_segments;	      /* segments allocated for it (tern_shm_alloc) */
	uint32_t segments[16];

	uint64_t submitted __rte_cache_aligned; /* batches, written by the client */

	/* Line 2: written by the home lcore alone. */
	uint64_t accepted __rte_cache_aligned; /* batches taken from @sq */
	uint32_t sq_cons;		       /* position of the next entry to accept */
} __rte_cache_aligned;

enum engine_phase {
	PHASE_RUN = 0,
	PHASE_DRAIN = 1,  /* no new submissions; work in flight finishes */
	PHASE_CANCEL = 2, /* everything left is failed; lcores exit when idle */
};

/* The engine's shared state, in a memzone named "tern_eng_<name>". */
struct engine_shared {
	uint32_t layout_version;
	uint32_t phase; /* enum engine_phase, atomic */
	char name[ENGINE_NAME_MAX];
	uint32_t nb_workers;
	uint32_t max_batch;
	uint32_t max_clients;
	uint32_t future_size;
	uint64_t slice_bytes; /* atomic: may change live */
	uint64_t deadline_ns; /* atomic: may change live */
	uint64_t share_bytes;
	uint64_t stream_bytes;
	uint64_t drain_tsc; /* destroy: how long to wait, for work then for transports */
	uint64_t tsc_hz;
	uint64_t ns_to_tsc; /* tern_scale_make(tsc_hz, 1e9): hot-path conversions */
	uint64_t tsc_to_ns; /* tern_scale_make(1e9, tsc_hz) */
	uint64_t start_tsc;
	uint32_t transport_mask;	  /* transports usable here (bit = transport id) */
	struct tern_notify_queue *notify; /* this node's queue: what clients poll */
	uint32_t slots_gen;	  /* atomic: bumped when a slot becomes ACTIVE, DEAD or CLOSING */
	struct rte_mempool *pool; /* futures; only the engine's process takes and returns them */
	struct tern_segment_table *segments;
	unsigned int lcore_ids[TERN_ENGINE_MAX_LCORES];
	struct rte_ring *xq[TERN_ENGINE_MAX_LCORES];
	struct lcore_counters counters[TERN_ENGINE_MAX_LCORES];
	struct client_slot clients[];
};

/* Lcore-private state of one worker. */
struct worker {
	struct engine_shared *sh;
	struct lcore_counters *ctr;
	struct rte_ring *xq;
	unsigned int idx;
	unsigned int lcore_id;
	uint32_t flags;
	int nb_transports;
	bool cancelled_endpoints;
	uint64_t give_up_tsc; /* cancel phase: stop waiting for transports then */
	uint64_t nb_accepted; /* batches this lcore accepted (their batch_id) */

	/* Submission queues of the client slots whose home this lcore is. */
	uint32_t slots_gen; /* engine_shared.slots_gen when @polled was built */
	uint32_t nb_polled;
	uint32_t next_polled; /* where the next round starts (fairness) */
	uint16_t *polled;     /* slot indexes */

	/* Batches with slices left to claim; each entry holds a reference. */
	struct claim_ref *active;
	uint32_t active_head;
	uint32_t active_tail;
	uint32_t active_mask;
	uint32_t helper_room; /* helpers' entries are taken while fewer are listed */

	struct {
		const struct tern_transport_ops *ops;
		struct tern_endpoint *ep;
		uint16_t nb_stage;
		struct tern_slice stage[STAGE_SLICES];
	} tp[TERN_TRANSPORT_MAX];

	uint64_t wheel_tick;
	unsigned int tick_shift;
	struct future_list wheel[WHEEL_SLOTS];
	struct future_list expired;  /* past their deadline, slices still out */
	struct future_list nt_retry; /* notifications to post again (NT_RETRY) */
};

/* Life of a process-local handle. Only FREE and DEAD handles are reused. */
enum handle_state {
	HANDLE_FREE = 0,
	HANDLE_RESERVED = 1, /* being created */
	HANDLE_LIVE = 2,
	HANDLE_DEAD = 3, /* destroyed */
};

static inline bool
handle_reusable(uint32_t state)
{
	return state == HANDLE_FREE || state == HANDLE_DEAD;
}

/* The process-local engine handle. */
struct tern_engine {
	uint32_t magic;
	uint32_t state; /* enum handle_state */
	char name[ENGINE_NAME_MAX];
	struct tern_engine_conf conf;
	unsigned int lcores[TERN_ENGINE_MAX_LCORES];
	struct engine_shared *sh;
	const void *memzone;
	struct worker *workers[TERN_ENGINE_MAX_LCORES];
	bool own_notify;  /* the engine created sh->notify and frees it */
	bool keeps_pages; /* engine_pages_keep() succeeded for it */
};

/* The process-local client handle. */
struct tern_client {
	uint32_t magic;
	uint32_t state; /* enum handle_state */
	struct tern_engine *engine;
	struct engine_shared *sh;
	struct sq_entry *sq;
	uint32_t sq_mask;
	uint32_t sq_prod; /* position of the next entry to fill */
	struct rte_ring *cq;
	uint16_t slot;
	uint32_t flags;
	uint32_t max_inflight;
	uint32_t outstanding;	   /* futures not both released and reaped */
	uint32_t user_held;	   /* futures not released */
	uint32_t local_hint;	   /* last LOCAL segment a request's local side hit */
	uint32_t nb_futures;	   /* the slot's */
	uint32_t nb_free;	   /* futures on @free */
	uint32_t nb_linger;	   /* futures let go while the engine still held them */
	struct tern_future **free; /* process-local stack of the slot's idle futures */
	/* An attached client (engine == NULL) hands its slot back to the
	 * primary through this (attach.c's IPC), set where it attached: the
	 * client code never calls into attach.c. */
	void (*detach)(struct engine_shared *sh, uint32_t slot);
};

static inline struct batch_req *
future_reqs(const struct tern_future *f)
{
	return (struct batch_req *)(uintptr_t)f->tail;
}

static inline uint32_t *
future_segrefs(const struct tern_future *f, uint32_t max_batch)
{
	return (uint32_t *)(uintptr_t)(f->tail + max_batch * sizeof(struct batch_req));
}

static inline size_t
future_size(uint32_t max_batch)
{
	return sizeof(struct tern_future) + max_batch * sizeof(struct batch_req) +
	       2 * max_batch * sizeof(uint32_t);
}

/*
 * Futures a slot takes from the pool for a client of @max_inflight: a quarter
 * more, so that futures the client released while an lcore has not yet let
 * go of them (a helper's claim entry on a starved CPU, a timed-out batch
 * whose slices a transport holds) do not turn into EAGAIN at once.
 */
static inline uint32_t
slot_futures(uint32_t max_inflight)
{
	return max_inflight + max_inflight / 4 + 4;
}

/* Counter update by the owning lcore: a plain read-modify-write whose store
 * cannot tear for readers on other threads. */
#define COUNTER_ADD(ctr, field, n)                                                              \
	__atomic_store_n(&(ctr)->field, __atomic_load_n(&(ctr)->field, __ATOMIC_RELAXED) + (n), \
			 __ATOMIC_RELAXED)

/*
 * Under AddressSanitizer a future the engine let go of is poisoned from its
 * requests on (lines 0 to 2 stay readable: reclaim scans read the engine
 * word, stale claim entries the claim word and slice count), so an lcore touching a
 * batch's requests after the engine is done with it is reported at the access.
 * Shadow memory is per process: whoever fills or takes a future unpoisons it
 * (the client at submit; the owner lcore at accept, for clients in other
 * processes), and the pool is unpoisoned before it is freed.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define FUTURE_SHADOW(f, op) \
	op((f)->tail, (f)->sh->future_size - offsetof(struct tern_future, tail))
#define future_poison(f)   FUTURE_SHADOW(f, ASAN_POISON_MEMORY_REGION)
#define future_unpoison(f) FUTURE_SHADOW(f, ASAN_UNPOISON_MEMORY_REGION)
#else
#define future_poison(f)   RTE_SET_USED(f)
#define future_unpoison(f) RTE_SET_USED(f)
#endif

/* future.c */
bool engine_future_resolve(struct tern_future *f, int32_t status);
void engine_future_engine_done(struct tern_future *f);
int engine_future_take_segrefs(struct tern_future *f);
void engine_future_release_segrefs(struct tern_future *f);

/* worker.c */
int engine_worker_main(void *arg);
struct worker *engine_worker_create(struct engine_shared *sh, unsigned int idx,
				    unsigned int lcore_id, uint32_t flags);
void engine_worker_free(struct worker *w);

/* client.c */
void engine_client_teardown(struct tern_client *c);
void engine_client_teardown_engine(struct tern_engine *engine);
void engine_client_drop_cq_entry(struct tern_client *c, struct tern_future *f);
int engine_client_conf_check(const struct engine_shared *sh, const struct tern_client_conf *conf,
			     uint32_t *max_inflight, uint32_t *home);
struct tern_client *engine_client_handle_open(struct engine_shared *sh, struct tern_engine *engine,
					      uint32_t slot, const struct tern_client_conf *conf,
					      uint32_t max_inflight);

/* slot.c: client slots, in the engine's process only */
int engine_slot_alloc(struct engine_shared *sh, int32_t pid, uint32_t max_inflight, uint32_t flags,
		      uint32_t home, uint32_t *slot);
void engine_slot_close(struct engine_shared *sh, uint32_t slot, uint32_t state);
bool engine_slot_reclaim(struct engine_shared *sh, uint32_t slot, bool lcores_stopped);
void engine_slot_reclaim_wait(struct engine_shared *sh, uint32_t slot);
void engine_slot_free_segments(struct engine_shared *sh, struct client_slot *cs);
uint32_t engine_slot_engine_held(const struct engine_shared *sh, uint32_t slot);

/* attach.c */
int engine_attach_init(struct tern_engine *engine);
void engine_attach_fini(struct tern_engine *engine);

/* pages.c: from the first engine_pages_keep() on, the process never unmaps
 * a hugepage (0 or a negative errno); the last release stops marking new ones. */
int engine_pages_keep(void);
void engine_pages_release(void);

/* engine.c */
struct tern_engine *engine_handle_check(const struct tern_engine *engine, int *err);

#endif /* TERN_ENGINE_PRIVATE_H */
