/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MLX5_CONNECT_H
#define MLX5_CONNECT_H

/**
 * @file
 * Connection set-up state (mlx5_connect.c, driver-private), besides the
 * public request_build()/serve()/complete() of tern_mlx5.h: what the
 * handshake (mlx5_handshake.c) and the ops table (mlx5_transport.c) call.
 * Connection set-up sits on the control state (mlx5_ctl.h) and calls
 * nothing above it.
 */

#include <stdint.h>

struct mlx5_endpoint;

/** Drop the pending handshake QPs of an endpoint that closes (caller holds the lock). */
void mlx5_connect_forget_ep(struct mlx5_endpoint *ep);

/** Release every target-side QP and pending handshake (caller holds the lock). */
void mlx5_connect_shutdown(void);

/** Drop the request to peer @p peer that waits for its reply (caller holds the lock). */
void mlx5_connect_abandon(uint16_t peer);

/**
 * This node's incarnation as a target: a random non-zero value that changes
 * whenever its target-side QPs are released. Export writes it into the
 * descriptor, so an importer learns that QPs it connected before reach
 * nothing any more. Takes the control-path lock.
 */
uint64_t mlx5_connect_epoch(void);

struct mlx5_notify_stats;

/** Receive CQEs the serving lcore takes per poll() (mlx5_notify_node_poll()). */
#define MLX5_NOTIFY_RX_BURST 16u

/**
 * The node's notification queue (a struct tern_notify_queue, NULL: none).
 * Target QPs the handshake makes from now on take notifications (an SQ for
 * the answers and an RQ, on the node's CQ pair) while there is one and the
 * provider has qp_create_rq; frames they receive are delivered into it.
 * Takes the control-path lock.
 */
void mlx5_notify_node_set_queue(void *queue);

/**
 * Serve the receive side of the node's target QPs: take up to @p max receive
 * CQEs (mlx5_notify_rx_poll(): deliver, answer, repost) and the answers'
 * send CQEs. One caller at a time: another concurrent caller, or a control
 * path resetting a target QP, makes it return 0 at once. Never blocks.
 * @return receive CQEs taken.
 */
unsigned int mlx5_notify_node_poll(unsigned int max);

/** The target side's counters into @p st. @return target QPs taking notifications. */
int mlx5_notify_node_stats(struct mlx5_notify_stats *st);

#endif /* MLX5_CONNECT_H */
