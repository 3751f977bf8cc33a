/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MLX5_EP_H
#define MLX5_EP_H

/**
 * @file
 * The mlx5 transport's data path (mlx5_ep.c, driver-private): what the ops
 * table (mlx5_transport.c) plugs in as post_burst(), poll() and cancel().
 * Each runs on the endpoint's lcore only.
 */

#include <stdint.h>

#include <tern_transport_driver.h>

/** The ops table's post_burst(): slices to WQEs, one doorbell per QP. */
uint16_t mlx5_post_burst(struct tern_endpoint *base, const struct tern_slice *slices, uint16_t nb);

/** The ops table's poll(): completions in order, recovery and reclaim. */
uint16_t mlx5_poll(struct tern_endpoint *base, struct tern_completion *cpl, uint16_t max);

/** The ops table's cancel(): every WQE in flight completes with -ECANCELED,
 *  and every notification waiting for its status. */
void mlx5_cancel(struct tern_endpoint *base);

/**
 * The ops table's notify_post(): a SEND of the notification's frame on the
 * endpoint's QP to the target's node, completed by the target's status frame.
 * @return 0, -EAGAIN (no room: SQ, or MLX5_EP_NT_MAX in flight), -EINVAL
 *         (bad post or target), -ENOTSUP (the QP takes no statuses: loopback,
 *         no RQ), -ENOTCONN (no live QP to the node).
 */
int mlx5_notify_post(struct tern_endpoint *base, const struct tern_notify_post *n);

/** The endpoint's receive side hands each status frame here (arg: the endpoint). */
void mlx5_ep_notify_status(void *arg, uint32_t qpn, uint64_t token, int32_t status);

#endif /* MLX5_EP_H */
