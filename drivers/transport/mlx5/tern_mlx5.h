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
 * can move to RTR and RTS. That exchange is the handshake:
 *
 *     initiator                                 target
 *     tern_mlx5_connect_request_build(gid) --->  tern_mlx5_connect_serve()
 *     tern_mlx5_connect_complete()        <---  (the reply)
 *
 * The transport carries it itself over TCP. A target opts in with
 * tern_mlx5_configure(): a control thread then answers handshakes on a
 * listening socket, and segment_export() writes that socket's address into
 * the descriptor. An initiator's segment_import() connects to the address
 * the descriptor names and runs the handshake, unless its QPs to that node
 * are connected already. doc/mlx5.md describes the messages and their
 * framing byte by byte.
 *
 * The three message functions stay public for callers that carry the bytes
 * some other way. The request covers every open endpoint (engine lcore) that
 * has no usable QP to the target: a new one, or one that an error left
 * disconnected. After complete(), the lcores post to the target over their
 * QPs.
 *
 * Control path: any thread, serialised inside the transport. Until the
 * engine (or tern_mlx5_configure()) has probed the transport and found a
 * device, and on a machine without one, every function returns -ENODEV.
 *
 * Anyone who can reach the listener can make this node create target QPs
 * and, with a descriptor's keys, read and write its exported segments: listen
 * on a trusted network only.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most handshake connections the listener serves at once. */
#define TERN_MLX5_LISTEN_CONNS_MAX 256

/** Connection set-up over TCP: process-wide settings; zero fields take the defaults. */
struct tern_mlx5_conf {
	/** Numeric IPv4/IPv6 address to answer handshakes on; NULL: no listener. */
	const char *listen_addr;
	/** Port to listen on; 0: an ephemeral port (see tern_mlx5_listen_port()). */
	uint16_t listen_port;
	/** Address segment_export() advertises; NULL: listen_addr (not a wildcard). */
	const char *advertise_addr;
	/** Handshake connections served at once (more are closed at accept); 16. */
	uint32_t max_conns;
	/** A connection that has not sent a whole request within this long (since
	 * it was accepted or last answered) is closed; 5000. */
	uint32_t idle_timeout_ms;
	/** Initiator: bound on one import's handshake (connect, send, receive); 2000. */
	uint32_t handshake_timeout_ms;
};

/**
 * Configure connection set-up over TCP. Control path; may be called at any
 * time (an import under way finishes with the settings it started with).
 * With a listen address, probes the device, binds and listens at once (an
 * address in use is reported here) and starts a DPDK control thread that
 * answers handshakes; a listener already running is replaced. NULL stops the
 * listener and restores the defaults.
 *
 * @return 0; -ENODEV (no usable mlx5 device: nothing started); -EINVAL
 *         (unparsable address, advertise_addr without listen_addr or a
 *         wildcard or multicast one, max_conns above
 *         TERN_MLX5_LISTEN_CONNS_MAX, a timeout above 600000 ms); or the
 *         negative errno of the socket or thread call (-EADDRINUSE...).
 */
int tern_mlx5_configure(const struct tern_mlx5_conf *conf);

/** @return the port the handshake listener listens on, or -ENOTCONN (none). */
int tern_mlx5_listen_port(void);

/** Process-wide counters of connection set-up over TCP (relaxed reads). */
struct tern_mlx5_handshake_stats {
	uint64_t accepted;	  /**< listener: connections accepted */
	uint64_t refused_conns;	  /**< listener: connections closed at once, max_conns reached */
	uint64_t bad_frames;	  /**< listener: connections closed for a malformed frame */
	uint64_t idle_closed;	  /**< listener: connections closed by the idle timeout */
	uint64_t served;	  /**< listener: requests answered with a reply */
	uint64_t serve_errors;	  /**< listener: requests answered with an error status */
	uint64_t initiated;	  /**< initiator: handshakes completed */
	uint64_t initiate_errors; /**< initiator: handshakes that failed */
};

/** Read the counters. */
void tern_mlx5_handshake_stats(struct tern_mlx5_handshake_stats *stats);

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
