/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_NOTIFY_DRIVER_H
#define TERN_NOTIFY_DRIVER_H

/**
 * @file
 * Driver SDK: the receive side of notifications. A transport's target side
 * (a tcp connection's reader, the shm control thread, an RDMA receive queue's
 * poller) hands every notification it receives to tern_notify_deliver() on
 * the queue its configuration was given (tern_transport_env.notify), and
 * answers the initiator with the result: 0 (accepted) or -ENOBUFS (full: the
 * initiator's engine sends it again until the batch's deadline). Not
 * installed; doc/notify.md, "Extending: a transport".
 */

#include <stdint.h>

#include "tern_notify.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Put one notification into a node's queue. Multi-producer, lock-free, never
 * blocks, no allocation: any thread of any process of the DPDK instance may
 * call it, concurrently. Wakes a client sleeping in tern_notify_queue_wait().
 *
 * The caller must already have made every byte of the data the notification
 * announces visible at this node (doc/notify.md, "The promise").
 *
 * @param sender the sending node's name: [A-Za-z0-9_.:-], 1 ..
 *        TERN_NOTIFY_NODE_MAX - 1 bytes, NUL-terminated
 * @param msg @p msg_len bytes (NULL when 0)
 * @return 0 (queued); -ENOBUFS (the queue is full: refused, counted per
 *         sender); -EINVAL (NULL queue, bad sender name, @p msg_len >
 *         TERN_NOTIFY_MSG_MAX, NULL @p msg with a length: counted as
 *         malformed, logged at most once a second).
 */
int tern_notify_deliver(struct tern_notify_queue *q, const char *sender, uint64_t tag,
			const void *msg, uint32_t msg_len);

#ifdef __cplusplus
}
#endif

#endif /* TERN_NOTIFY_DRIVER_H */
