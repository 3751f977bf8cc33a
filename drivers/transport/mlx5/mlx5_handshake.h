/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MLX5_HANDSHAKE_H
#define MLX5_HANDSHAKE_H

/**
 * @file
 * The handshake carried over TCP (mlx5_handshake.c, driver-private), besides
 * the public tern_mlx5_configure() and its counters: what the ops table
 * (mlx5_transport.c) calls from segment_export() and segment_import(). It
 * sits on connection set-up (mlx5_connect.h) and the control state.
 */

#include <stdint.h>

#include "mlx5_wire.h"

/**
 * Initiator: connect every open endpoint's QP to the node of descriptor @p d
 * (peer slot @p peer) through the handshake listener it names, unless they
 * are connected to that incarnation already. Control path; blocks at most
 * the handshake timeout.
 * @return 0; -ENOTCONN (no endpoint open); -ETIMEDOUT; -ECONNREFUSED or
 *         another connect() error; -EPROTO (malformed or unexpected reply, or
 *         the peer refused the request as malformed); -EREMOTEIO (the peer
 *         could not answer); or an error from preparing or connecting a QP.
 */
int mlx5_handshake_run(uint16_t peer, const struct tern_mlx5_desc *d);

/**
 * The address and port segment_export() advertises (IPv6, IPv4 mapped).
 * @return 0; -ENOTCONN (no listener); -EDESTADDRREQ (listening on a
 *         wildcard with no advertise_addr).
 */
int mlx5_handshake_address(uint8_t addr[16], uint16_t *port);

/**
 * Start the reviver, a control thread that runs the handshake again for
 * peers whose QPs went dead (mlx5_peer_want_revive()), with the descriptor
 * of their last import: every 10 ms it looks; a peer is tried after a wait
 * that doubles from 10 ms (1 s at most), 8 times, then given up until its
 * next import (mlx5_reviver_rearm()). Idempotent. @return 0 or a negative
 * errno (thread creation).
 */
int mlx5_reviver_start(void);

/** A new import of @p peer succeeded: forget its failed revivals. */
void mlx5_reviver_rearm(uint16_t peer);

/** Stop the reviver (waits for a handshake it runs). Not under the control lock. */
void mlx5_reviver_stop(void);

#endif /* MLX5_HANDSHAKE_H */
