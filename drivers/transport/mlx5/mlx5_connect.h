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

#endif /* MLX5_CONNECT_H */
