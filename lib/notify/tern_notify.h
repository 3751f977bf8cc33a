/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_NOTIFY_H
#define TERN_NOTIFY_H

/**
 * @file
 * Notifications: a node learns that a batch has landed in its memory
 * (doc/notify.md).
 *
 * A notification is a sender node name, a 64-bit tag and a message of at
 * most TERN_NOTIFY_MSG_MAX bytes. A batch may carry one
 * (tern_submit_opts.notify): it is delivered to the node that owns the
 * batch's first target segment only after every byte the batch wrote is
 * visible there, and never when the batch fails. tern_notify_send() sends one
 * with no data.
 *
 * Every node has one bounded notification queue (struct tern_notify_queue),
 * in hugepage memory shared with the DPDK secondaries of its process. The
 * transports' receive sides put what arrives into it; any client of an
 * engine using it takes notifications out (tern_notify_poll(),
 * tern_notify_wait() in tern_engine.h). Each notification is taken by
 * exactly one poller. A full queue refuses: the initiator's future then
 * fails with -ENOBUFS once its deadline passes and the queue stayed full.
 *
 * Threading: tern_notify_queue_create()/free(): the control thread.
 * tern_notify_queue_poll()/wait()/stats(): any thread of any process of the
 * DPDK instance, concurrently.
 */

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest message a notification carries, in bytes. */
#define TERN_NOTIFY_MSG_MAX 256
/** Longest node name (a sender), including the NUL. */
#define TERN_NOTIFY_NODE_MAX 64
/** Default depth of a node's queue (tern_notify_queue_conf.depth). */
#define TERN_NOTIFY_DEPTH_DEFAULT 1024
/** Largest depth of a queue. */
#define TERN_NOTIFY_DEPTH_MAX (1u << 20)

/** A notification a sender attaches to a batch, or sends alone. */
struct tern_notify {
	uint64_t tag;	  /**< the application's; delivered as is */
	const void *msg;  /**< @c msg_len bytes (copied at submit); NULL when 0 */
	uint32_t msg_len; /**< 0..TERN_NOTIFY_MSG_MAX */
};

/** A notification as the target receives it. */
struct tern_notification {
	char sender[TERN_NOTIFY_NODE_MAX]; /**< the sending node's name, NUL-terminated */
	uint64_t tag;			   /**< the sender's tag */
	uint32_t msg_len;		   /**< bytes of @c msg */
	uint32_t reserved;		   /**< zero */
	uint8_t msg[TERN_NOTIFY_MSG_MAX];  /**< the message */
};

struct tern_notify_queue;

/** Configuration of a node's queue. */
struct tern_notify_queue_conf {
	const char *name; /**< [A-Za-z0-9_] 1..15: the queue's memzone is "tern_ntf_<name>" */
	const char *node; /**< this node's name, the sender of what its engines send,
			       [A-Za-z0-9_.:-], < TERN_NOTIFY_NODE_MAX */
	uint32_t depth;	  /**< notifications held at most; 0: TERN_NOTIFY_DEPTH_DEFAULT */
	int socket_id;	  /**< NUMA socket; SOCKET_ID_ANY */
};

/**
 * Create a node's notification queue (the primary process). Pass it to
 * tern_transport_configure() (tern_transport_env.notify) and to the engine
 * (tern_engine_conf.notify).
 *
 * @return the queue, or NULL with rte_errno: EINVAL (bad name, node or
 *         depth), EEXIST (name in use), ENOMEM.
 */
struct tern_notify_queue *tern_notify_queue_create(const struct tern_notify_queue_conf *conf);

/**
 * Find queue @p name created by this process or its primary.
 * @return the queue, or NULL with rte_errno EINVAL / ENOENT.
 */
struct tern_notify_queue *tern_notify_queue_lookup(const char *name);

/**
 * Free a queue no engine and no configured transport uses any more.
 * @return 0, -EINVAL (NULL or not a queue), -EPERM (not the primary).
 */
int tern_notify_queue_free(struct tern_notify_queue *q);

/** @return the node name the queue was created with, NUL-padded to
 *  TERN_NOTIFY_NODE_MAX bytes ("" for NULL). */
const char *tern_notify_queue_node(const struct tern_notify_queue *q);

/**
 * Take up to @p max notifications, oldest first. Never blocks.
 * @return how many were written to @p out (0..max), or -EINVAL.
 */
int tern_notify_queue_poll(struct tern_notify_queue *q, struct tern_notification *out,
			   unsigned int max);

/**
 * tern_notify_queue_poll(), waiting until at least one notification is there
 * or @p timeout_ns passed: spins briefly, then sleeps on a futex that a
 * delivery wakes (only the first delivery after a waiter went to sleep makes
 * the syscall).
 * @return how many were written (1..max), 0 when the wait timed out, -EINVAL.
 */
int tern_notify_queue_wait(struct tern_notify_queue *q, struct tern_notification *out,
			   unsigned int max, uint64_t timeout_ns);

/** Counters of a queue, and of each sender it has seen. */
struct tern_notify_queue_stats {
	uint32_t depth;	    /**< capacity */
	uint32_t queued;    /**< held now, not yet polled */
	uint64_t delivered; /**< accepted into the queue */
	uint64_t polled;    /**< taken out by clients */
	uint64_t refused;   /**< refused because the queue was full (-ENOBUFS) */
	uint64_t malformed; /**< refused as invalid (bad sender name, oversize message) */
};

/** @return 0, -EINVAL. */
int tern_notify_queue_stats(const struct tern_notify_queue *q,
			    struct tern_notify_queue_stats *stats);

/** Largest number of senders a queue counts apart (the rest share the last row). */
#define TERN_NOTIFY_SENDERS_MAX 64

/** Counters of one sender as a queue saw it. */
struct tern_notify_sender_stats {
	char node[TERN_NOTIFY_NODE_MAX]; /**< the sender ("*" for the shared overflow row) */
	uint64_t delivered;		 /**< accepted from it */
	uint64_t refused;		 /**< refused because the queue was full */
};

/**
 * Read the per-sender rows of a queue.
 * @return how many rows there are (at most @p max written), -EINVAL.
 */
int tern_notify_queue_senders(const struct tern_notify_queue *q,
			      struct tern_notify_sender_stats *out, unsigned int max);

#ifdef __cplusplus
}
#endif

#endif /* TERN_NOTIFY_H */
