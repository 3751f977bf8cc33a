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

/** The ops table's cancel(): every WQE in flight completes with -ECANCELED. */
void mlx5_cancel(struct tern_endpoint *base);

#endif /* MLX5_EP_H */
