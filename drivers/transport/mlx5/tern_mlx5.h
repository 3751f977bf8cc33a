/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_MLX5_H
#define TERN_MLX5_H

/**
 * @file
 * Connection set-up of the mlx5 transport with another node.
 *
 * RC queue pairs are 1:1: each worker lcore of an initiator needs its own QP
 * to a target node, connected to a QP of the target's made for it. Both ends
 * must learn the other's QPN, first PSN, LID or GID and MTU before the QPs
 * can move to RTR and RTS. These functions build and consume the messages of
 * that exchange; carrying the bytes is the caller's business (the
 * dataplane's control connection to the peer, for instance):
 *
 *     initiator                                 target
 *     tern_mlx5_connect_request_build(gid) --->  tern_mlx5_connect_serve()
 *     tern_mlx5_connect_complete()        <---  (the reply)
 *
 * The request covers every open endpoint (engine lcore) that has no usable
 * QP to the target: a new one, or one that an error left disconnected. After
 * complete(), the lcores post to the target over their QPs. The wire format
 * is little-endian and versioned; doc/mlx5.md describes it byte by byte.
 *
 * Control path: any thread, serialised inside the transport. Until the
 * engine has probed the transport and found a device, and on a machine
 * without one, every function returns -ENODEV.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** QPs one handshake connects at most (endpoints beyond need another round). */
#define TERN_MLX5_CONNECT_QP_MAX 64
/** Largest handshake message: header and TERN_MLX5_CONNECT_QP_MAX reply entries. */
#define TERN_MLX5_CONNECT_MSG_MAX (40 + 12 * TERN_MLX5_CONNECT_QP_MAX)

/**
 * Initiator: prepare QPs to the node whose port GID is @p peer_gid (the
 * @c gid of its segment descriptors) for every open endpoint that has no
 * usable one (at most TERN_MLX5_CONNECT_QP_MAX; call again after complete()
 * until -EALREADY), and write the request for that node. A request to the
 * same node still waiting for its reply is replaced (its reply is then
 * refused with -ENOENT).
 *
 * @return bytes written to @p req (at most TERN_MLX5_CONNECT_MSG_MAX);
 *         -ENODEV (no device); -EINVAL (NULL argument, @p peer_gid not a
 *         unicast GID, or this node's own); -EALREADY (every open endpoint
 *         already has a QP to that node, or none is open); -ENOSPC
 *         (@p req_len too small, or too many peers); -ENOMEM, -EIO or
 *         another negative errno from creating a QP.
 */
int tern_mlx5_connect_request_build(const uint8_t peer_gid[16], void *req, size_t req_len);

/**
 * Target: answer a request. For each initiator QP named in it, create a QP
 * here (or reuse the one made for that initiator QP before, after a reset),
 * bring it to RTR and RTS towards the initiator's QP, and write the reply.
 *
 * @return bytes written to @p reply; -ENODEV (no device); -EINVAL (NULL
 *         argument, malformed request, or one from this node itself);
 *         -EPROTO (a request of another wire version); -ENOSPC
 *         (@p reply_len too small, or the table of target QPs is full);
 *         another negative errno from creating or connecting a QP.
 */
int tern_mlx5_connect_serve(const void *req, size_t req_len, void *reply, size_t reply_len);

/**
 * Initiator: take the target's reply. Each prepared QP moves to RTR and RTS
 * towards its target QP and is handed to its endpoint's lcore.
 *
 * @return 0 (every QP connected); -ENODEV (no device); -EINVAL (NULL,
 *         malformed reply, or one that does not answer the request: another
 *         node, other QPs); -EPROTO (another wire version); -ENOENT (no
 *         request waits for this reply: never sent, replaced, or completed);
 *         or the first error from connecting a QP (the QPs that connected
 *         are in use; the others are dropped and the next request covers
 *         them).
 */
int tern_mlx5_connect_complete(const void *reply, size_t reply_len);

#ifdef __cplusplus
}
#endif

#endif /* TERN_MLX5_H */
