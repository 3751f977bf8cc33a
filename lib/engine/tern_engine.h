/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_ENGINE_H
#define TERN_ENGINE_H

/**
 * @file
 * The engine: worker lcores that move batches of READ/WRITE requests, the
 * clients that submit them, and the futures that say how they ended.
 *
 * Threading rules
 * - tern_engine_create() / tern_engine_destroy(): the application's control
 *   thread, after rte_eal_init(). The engine owns the worker lcores it is given.
 * - A client is one application thread's submission context: tern_submit(),
 *   tern_client_reap() and every tern_future_*() call on its futures come from
 *   one thread at a time (any thread, EAL or not). Use one client per thread.
 * - Engine-wide queries (tern_engine_lcore_stats(), tern_engine_pool_stats())
 *   may be called from any thread.
 *
 * Ownership of a future
 * - tern_submit() returns a future the caller owns until tern_future_release().
 * - Unless the client was created with TERN_CLIENT_F_NO_CQ, every future is
 *   also delivered once to the client's completion queue when it resolves;
 *   tern_client_reap() hands back the ones the caller has not yet released.
 *   Reaping does not transfer ownership: release each future once, whether it
 *   was reaped, waited for, or neither.
 * - Releasing a pending future detaches it; it still resolves, and its memory
 *   returns to the pool only when no slice of it can complete any more and
 *   the completion queue no longer holds it.
 * - A client counts futures it has not both released and (with a completion
 *   queue) reaped; at max_inflight, tern_submit() fails with EAGAIN.
 *
 * Every future resolves: 0 (all bytes moved), a transport error (negative
 * errno), -ECANCELED (tern_future_cancel() or engine shutdown), or
 * -ETIMEDOUT (its deadline passed).
 */

#include <stdint.h>

#include <rte_common.h>

#include <tern_notify.h>
#include <tern_segment.h>
#include <tern_transport.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tern_engine;
struct tern_client;
struct tern_future;

/** Largest number of worker lcores an engine can use. */
#define TERN_ENGINE_MAX_LCORES 64
/** Largest number of requests in one batch. */
#define TERN_BATCH_MAX 1024
/** Smallest slice size an engine takes (tern_engine_conf.slice_bytes). */
#define TERN_SLICE_BYTES_MIN (4ull << 10)
/** Largest slice size an engine takes. */
#define TERN_SLICE_BYTES_MAX (1ull << 30)

/** Engine flag: idle worker lcores yield their CPU (for oversubscribed test machines). */
#define TERN_ENGINE_F_IDLE_YIELD (1u << 0)

/** Engine configuration; zero fields take the documented defaults. */
struct tern_engine_conf {
	const char *name;	    /**< prefix of shared objects, [A-Za-z0-9_] 1..15; "tern" */
	const unsigned int *lcores; /**< worker lcore ids; NULL = every EAL worker lcore */
	unsigned int nb_lcores;	    /**< entries in @c lcores */
	struct tern_segment_table *segments; /**< required: the segment table to serve */
	uint32_t nb_futures;   /**< futures in the pool; every client takes max_inflight; 16384 */
	uint32_t max_batch;    /**< requests per submit, <= TERN_BATCH_MAX; 64 */
	uint32_t max_clients;  /**< clients at once; 64 */
	uint64_t slice_bytes;  /**< TERN_SLICE_BYTES_MIN..TERN_SLICE_BYTES_MAX; 256 KiB */
	uint64_t deadline_ns;  /**< default deadline of a batch; 5 s */
	uint64_t share_bytes;  /**< batches this large are shared by all lcores; 512 KiB */
	uint64_t stream_bytes; /**< requests this large are copied with streaming stores; 8 MiB */
	uint64_t drain_ns;     /**< destroy waits this long for work in flight; 1 s */
	int socket_id;	       /**< NUMA socket for pools and rings; SOCKET_ID_ANY */
	uint32_t flags;	       /**< TERN_ENGINE_F_* */
	/** This node's notification queue (tern_notify.h): what its clients
	 *  poll, and the sender name of what they send; NULL: the engine
	 *  creates one named after it, node name = engine name. */
	struct tern_notify_queue *notify;
};

/**
 * Create an engine and launch its worker lcores (rte_eal_remote_launch).
 * Everything the data path needs is allocated here.
 *
 * @return the engine, or NULL with rte_errno: EINVAL (bad configuration, an
 *         lcore that is not an idle EAL worker), EEXIST (name in use),
 *         ENODEV (no usable transport), ENOMEM, EBUSY (lcore busy), ENOSPC
 *         (this process has 8 engines already).
 */
struct tern_engine *tern_engine_create(const struct tern_engine_conf *conf);

/**
 * Stop taking work, let work in flight finish for up to drain_ns, fail the
 * rest (-ECANCELED; a transport gets another drain_ns to give back what it
 * holds, then its slices are abandoned with a warning), stop the lcores and
 * free everything, including clients
 * not yet destroyed. Futures are invalid afterwards. Later calls on the
 * engine or its clients fail with -ESHUTDOWN (or NULL / rte_errno ESHUTDOWN).
 *
 * @return 0, -EINVAL (NULL or not an engine), -ESHUTDOWN (already destroyed).
 */
int tern_engine_destroy(struct tern_engine *engine);

/** The engine's configuration with defaults filled in. @return 0, -EINVAL, -ESHUTDOWN. */
int tern_engine_get_conf(const struct tern_engine *engine, struct tern_engine_conf *conf);

/** Per-lcore counters. Written by the lcore alone; read without tearing. */
struct tern_lcore_stats {
	uint64_t batches;    /**< batches this lcore owned and finished */
	uint64_t slices;     /**< slices posted by this lcore */
	uint64_t bytes;	     /**< bytes completed by this lcore */
	uint64_t errors;     /**< slices completed with an error */
	uint64_t timeouts;   /**< batches that hit their deadline on this lcore */
	uint64_t cancels;    /**< slices skipped because their batch was resolved */
	uint64_t busy_polls; /**< loop iterations that did work */
	uint64_t idle_polls; /**< loop iterations that found nothing */
};

/**
 * Read the engine's worker lcore ids.
 * @return the number of worker lcores (ids written: at most @p max), or -EINVAL / -ESHUTDOWN.
 */
int tern_engine_lcores(const struct tern_engine *engine, unsigned int *lcores, unsigned int max);

/**
 * Read one worker lcore's counters.
 * @return 0, -EINVAL (NULL), -ENOENT (not one of the engine's lcores), -ESHUTDOWN.
 */
int tern_engine_lcore_stats(const struct tern_engine *engine, unsigned int lcore_id,
			    struct tern_lcore_stats *stats);

/** Traffic to one peer: segments registered with its accounting tag (tern_segment_conf.peer). */
struct tern_peer_traffic {
	uint64_t slices;	  /**< slices posted to its segments */
	uint64_t bytes;		  /**< bytes of those slices */
	uint64_t failed_requests; /**< requests on its segments in batches that failed in a
				     transport */
	uint64_t fallback_slices; /**< of @c slices, those posted to a segment's last resort
				     (tern_segment_set_fallback()): no live rail of its own */
};

/**
 * Sum the worker lcores' counters of peer accounting tag @p peer.
 * @return 0, -EINVAL (NULL, tag 0 or >= TERN_SEGMENT_PEER_MAX), -ESHUTDOWN.
 */
int tern_engine_peer_traffic(const struct tern_engine *engine, uint16_t peer,
			     struct tern_peer_traffic *traffic);

/** Notifications this node sent (the owner lcores' counters, doc/notify.md). */
struct tern_notify_send_stats {
	uint64_t posted;    /**< posts of a notification (each retry counts) */
	uint64_t delivered; /**< accepted by the target's queue */
	uint64_t refused;   /**< posts the target's full queue refused (-ENOBUFS) */
	uint64_t failed;    /**< notified batches that failed after their data had landed */
};

/**
 * Sum the notification counters of the worker lcores: of every target
 * (@p peer 0) or of peer accounting tag @p peer.
 * @return 0, -EINVAL (NULL, @p peer >= TERN_SEGMENT_PEER_MAX), -ESHUTDOWN.
 */
int tern_engine_notify_stats(const struct tern_engine *engine, uint16_t peer,
			     struct tern_notify_send_stats *stats);

/** @return the engine's notification queue (what its clients poll), or NULL. */
struct tern_notify_queue *tern_engine_notify_queue(const struct tern_engine *engine);

/** Future pool occupancy. */
struct tern_pool_stats {
	uint32_t total;	      /**< futures in the pool */
	uint32_t available;   /**< not given to any client (each client holds max_inflight) */
	uint32_t engine_held; /**< accepted batches whose slices the engine still accounts */
};

/** @return 0, -EINVAL, -ESHUTDOWN. */
int tern_engine_pool_stats(const struct tern_engine *engine, struct tern_pool_stats *stats);

/** Engine-wide facts, for control and observation. */
struct tern_engine_info {
	char name[16];		    /**< the engine's name */
	unsigned int nb_lcores;	    /**< worker lcores */
	uint64_t uptime_ns;	    /**< since tern_engine_create() */
	uint32_t max_clients;	    /**< client slots */
	uint32_t nb_clients;	    /**< slots in use (any process) */
	uint32_t transports_usable; /**< bit i: transport id i probed usable here */
	uint32_t max_batch;	    /**< requests per submit */
};

/** @return 0, -EINVAL, -ESHUTDOWN. */
int tern_engine_info(const struct tern_engine *engine, struct tern_engine_info *info);

/** Instantaneous load of one worker lcore (gauges, not counters). */
struct tern_lcore_load {
	uint32_t sq_depth;	 /**< batches waiting in the submission queues it polls */
	uint32_t xq_depth;	 /**< messages waiting from other lcores */
	uint64_t owned_inflight; /**< batches it owns that are not finished */
	uint64_t posted;	 /**< slices posted to transports, not yet completed */
};

/** @return 0, -EINVAL, -ENOENT (not one of the engine's lcores), -ESHUTDOWN. */
int tern_engine_lcore_load(const struct tern_engine *engine, unsigned int lcore_id,
			   struct tern_lcore_load *load);

/** One client slot as the engine sees it. */
struct tern_client_info {
	int32_t pid;	/**< process that owns it */
	uint32_t state; /**< 1 active, 2 dead (being reclaimed), 3 closed (being reclaimed) */
	uint32_t max_inflight; /**< batches it may have in flight (its conf) */
	uint32_t cq_depth;     /**< resolved futures waiting to be reaped */
	uint64_t submitted;    /**< batches submitted */
	uint64_t age_ns;       /**< since it attached */
	uint32_t nb_buffers;   /**< shm buffers allocated for it */
};

/**
 * Describe client slot @p slot (0 .. max_clients - 1).
 * @return 0, -EINVAL, -ENOENT (slot free), -ESHUTDOWN.
 */
int tern_engine_client_info(const struct tern_engine *engine, uint32_t slot,
			    struct tern_client_info *info);

/**
 * Change the slice size live (applies to batches submitted afterwards).
 * @return 0, -EINVAL (outside 4 KiB .. 1 GiB), -ESHUTDOWN.
 */
int tern_engine_set_slice_bytes(struct tern_engine *engine, uint64_t slice_bytes);

/**
 * Change the default deadline live (applies to batches submitted afterwards).
 * @return 0, -EINVAL (0 or over an hour), -ESHUTDOWN.
 */
int tern_engine_set_deadline_ns(struct tern_engine *engine, uint64_t deadline_ns);

/** Buckets of the submit-to-resolve latency histogram (log2 of nanoseconds). */
#define TERN_LATENCY_BUCKETS 48

/**
 * Submit-to-resolve latency of the batches the engine resolved, summed over
 * its lcores: @p buckets[i] counts batches whose latency was in
 * [2^i, 2^(i+1)) ns (bucket 0 also holds 0 ns; the last bucket everything
 * above). Batches cancelled by their client are not counted.
 *
 * @return 0, -EINVAL, -ESHUTDOWN.
 */
int tern_engine_latency(const struct tern_engine *engine, uint64_t buckets[TERN_LATENCY_BUCKETS]);

/* ---- clients ---- */

/** Client flag: do not deliver futures to a completion queue (wait/test only). */
#define TERN_CLIENT_F_NO_CQ (1u << 0)
/** Client flag: @c home_lcore polls this client's submission queue (else clients are spread). */
#define TERN_CLIENT_F_HOME_LCORE (1u << 1)

/** Client configuration; zero fields take the defaults. */
struct tern_client_conf {
	uint32_t max_inflight;	 /**< futures held at once (see ownership), taken from the engine's
				  *   pool for this client; 256, <= 65536 */
	unsigned int home_lcore; /**< with TERN_CLIENT_F_HOME_LCORE: a worker lcore id */
	uint32_t flags;		 /**< TERN_CLIENT_F_* */
};

/**
 * Create a client for the calling thread.
 *
 * @return the client, or NULL with rte_errno: EINVAL, ESHUTDOWN, ENOSPC
 *         (max_clients reached, or the pool has fewer than max_inflight
 *         futures left), ENOMEM.
 */
struct tern_client *tern_client_create(struct tern_engine *engine,
				       const struct tern_client_conf *conf);

/**
 * Attach this process to an engine running in another process: the calling
 * process is a DPDK secondary process of the engine's primary
 * (rte_eal_init with --proc-type=secondary --file-prefix=<the engine's>).
 * The engine grants a client slot and a completion queue over rte_mp IPC.
 * The returned client is used exactly like one from tern_client_create();
 * its local buffers must be in memory the engine's lcores can reach: use
 * tern_client_shm_alloc(). If this process dies, the engine reclaims the
 * client once its batches in flight have resolved.
 *
 * @return the client, or NULL with rte_errno: EINVAL, ENOTSUP (not a
 *         secondary process), ENOENT (no engine of that name), EPROTO (the
 *         engine's shared layout differs from this build's), ESHUTDOWN,
 *         ENOSPC (no client slot, or the pool has fewer than max_inflight
 *         futures left), ENOMEM, or the IPC's error.
 */
struct tern_client *tern_client_attach(const char *engine_name,
				       const struct tern_client_conf *conf);

/**
 * Allocate @p length bytes of hugepage memory that every process of the
 * engine maps at the same address, registered as a LOCAL segment named
 * @p name: a buffer this client can use as the local side of requests (and
 * that other clients can target). It is freed with tern_client_shm_free(),
 * when the client detaches, or when its process dies. Memory it frees stays
 * mapped in the engine's heap for later buffers (doc/operations.md). When it
 * needs new hugepages while some process of the engine does not answer
 * DPDK's memory-map broadcast (stopped, starting up), it fails with ENOMEM
 * after up to 20 s.
 *
 * @param[out] handle the segment's handle
 * @return the buffer, or NULL with rte_errno: EINVAL, EEXIST (name taken),
 *         ENOSPC (16 buffers per client, or the table is full), ENOMEM, or
 *         the IPC's error (an attached client).
 */
void *tern_client_shm_alloc(struct tern_client *client, const char *name, uint64_t length,
			    uint32_t *handle);

/**
 * Free a buffer from tern_client_shm_alloc().
 * @return 0, -EINVAL, -ENOENT (not this client's), -EBUSY (work in flight uses it).
 */
int tern_client_shm_free(struct tern_client *client, uint32_t handle);

/**
 * Destroy a client. Its futures must all be released; pending ones are
 * detached and finish on their own. Its slot is free again once no batch of
 * it is in flight: at once in the common case, else (a transport still holds
 * slices of a timed-out batch) within the engine's liveness period after
 * those slices return.
 *
 * @return 0, -EINVAL (NULL, not a client, destroyed twice), -EBUSY (a future
 *         is not released), -ESHUTDOWN.
 */
int tern_client_destroy(struct tern_client *client);

/** One request of a batch. */
struct tern_request {
	uint8_t op;	     /**< enum tern_op */
	uint8_t reserved[3]; /**< zero */
	uint32_t segment;    /**< target segment handle */
	uint64_t offset;     /**< byte offset in the target */
	void *local;	     /**< local buffer, inside a registered LOCAL segment */
	uint64_t length;     /**< bytes, > 0 */
};

/** Per-submit options. */
struct tern_submit_opts {
	uint64_t deadline_ns; /**< relative deadline; 0 = the engine's default */
	uint64_t user_data;   /**< returned by tern_future_user_data() */
	/**
	 * NULL, or a notification for the node that owns the first request's
	 * target segment, delivered only after every byte of the batch is
	 * visible there and never if the batch fails (doc/notify.md). The
	 * future then resolves when the target's queue accepted it: 0, the
	 * batch's error, -ENOBUFS (the target's queue stayed full until the
	 * deadline), -ENOTSUP (its transport carries no notification).
	 */
	const struct tern_notify *notify;
};

/**
 * Submit a batch. The requests are validated and copied; @p reqs may be
 * reused as soon as the call returns.
 *
 * @param opts NULL for the defaults
 * @return a future, or NULL with rte_errno:
 *         EINVAL (NULL argument, nb == 0 or > max_batch, unknown op, zero
 *         length, unknown/stale target segment, offset + length outside the
 *         target, local range not inside a LOCAL segment, deadline too far),
 *         EAGAIN (max_inflight held, or every future of the client still in
 *         use: retry after reaping or releasing), ESTALE (a target segment was retired:
 *         a peer's segment whose descriptor turned stale; resolve it again),
 *         ESHUTDOWN (engine destroyed).
 */
struct tern_future *tern_submit(struct tern_client *client, const struct tern_request *reqs,
				uint32_t nb, const struct tern_submit_opts *opts);

/**
 * Collect resolved futures from the client's completion queue (io_uring style).
 *
 * @return how many futures were written to @p futures (0..max), or -EINVAL
 *         (NULL, client without completion queue), -ESHUTDOWN.
 */
int tern_client_reap(struct tern_client *client, struct tern_future **futures, unsigned int max);

/* ---- notifications (doc/notify.md) ---- */

/**
 * Send a notification with no data to the node that owns segment @p segment
 * (any segment of it: a peer's REMOTE segment, or a LOCAL one for this
 * node). The returned future is used like tern_submit()'s and resolves when
 * the target's queue accepted the notification.
 *
 * @param opts NULL for the defaults; its @c notify is ignored
 * @return a future, or NULL with rte_errno: EINVAL (NULL argument, unknown
 *         or stale segment, @p n->msg_len > TERN_NOTIFY_MSG_MAX, NULL
 *         message with a length), EAGAIN, ESTALE, ESHUTDOWN (as tern_submit()).
 */
struct tern_future *tern_notify_send(struct tern_client *client, uint32_t segment,
				     const struct tern_notify *n,
				     const struct tern_submit_opts *opts);

/**
 * Take up to @p max notifications delivered to this client's node (its
 * engine's queue). Never blocks. Any client of the node may take any
 * notification; each is taken once.
 *
 * @return how many were written to @p out (0..max), -EINVAL, -ESHUTDOWN.
 */
int tern_notify_poll(struct tern_client *client, struct tern_notification *out, unsigned int max);

/**
 * tern_notify_poll(), waiting up to @p timeout_ns for the first one: spins
 * briefly, then sleeps on a futex (as tern_future_wait()).
 *
 * @return how many were written (1..max), 0 when the wait timed out,
 *         -EINVAL, -ESHUTDOWN.
 */
int tern_notify_wait(struct tern_client *client, struct tern_notification *out, unsigned int max,
		     uint64_t timeout_ns);

/* ---- futures ---- */

/**
 * Has the future resolved? Never blocks.
 *
 * @return its status (0 or a negative errno) if resolved, -EINPROGRESS if
 *         not yet, -EINVAL for NULL or a released future.
 */
int tern_future_test(const struct tern_future *future);

/**
 * Wait until the future resolves or @p timeout_ns passes. Spins with
 * rte_pause() for up to 60 us, then sleeps on a futex; the lcore makes the
 * wake-up syscall only when a waiter is asleep.
 *
 * @param timeout_ns UINT64_MAX waits for ever (the future's own deadline
 *        still bounds it)
 * @return the future's status, -EINPROGRESS if the wait timed out first,
 *         -EINVAL for NULL or a released future.
 */
int tern_future_wait(struct tern_future *future, uint64_t timeout_ns);

/**
 * Cancel a future: if it has not resolved it resolves now with -ECANCELED.
 * Slices not yet posted are skipped; slices already posted may still move
 * their bytes (a cancelled transfer leaves the target partly written).
 *
 * @return 0 (it was cancelled), -EALREADY (it had already resolved), -EINVAL.
 */
int tern_future_cancel(struct tern_future *future);

/**
 * Give the future back. Afterwards the pointer must not be used.
 *
 * @return 0, -EINVAL (NULL, not a future, released twice).
 */
int tern_future_release(struct tern_future *future);

/** @return the user_data given at submit, or 0 for NULL. */
uint64_t tern_future_user_data(const struct tern_future *future);

#ifdef __cplusplus
}
#endif

#endif /* TERN_ENGINE_H */
