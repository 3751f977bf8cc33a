/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TCP_H
#define TERN_TCP_H

/**
 * @file
 * The tcp transport: one-sided READ/WRITE emulated over TCP (wire format in
 * doc/protocol.md).
 *
 * Initiator side: a REMOTE segment registered with .transport = "tcp" holds
 * in its priv a 40-byte descriptor (tern_tcp_remote_conf(), or the peer's
 * segment_export() blob through segment_import()): the peer's address and
 * port, its segment handle and length. Each worker lcore opens its own
 * connections to a peer on first use and stripes slices across them.
 *
 * Target side (opt-in): after tern_tcp_configure() with a listen address,
 * the worker lcores accept connections and serve READ/WRITE frames against
 * the LOCAL segments the node exported (tern_segment_export()). Without
 * @c auth_file, anyone who can connect can read and write them: listen on a
 * trusted network only.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of a one-address segment descriptor (segment_export() output, REMOTE priv). */
#define TERN_TCP_DESC_LEN 40
/** Bytes of the longest descriptor: one that advertises TERN_TCP_RAILS_MAX addresses. */
#define TERN_TCP_DESC_MAX_LEN 100
/** Addresses a node may listen on and advertise; a peer opens one rail to each. */
#define TERN_TCP_RAILS_MAX 4
/** Largest number of connections per (lcore, peer, rail). */
#define TERN_TCP_CONNS_MAX 16

struct tern_notify_queue;

/** Process-wide settings; zero fields take the defaults. */
struct tern_tcp_conf {
	/** Numeric IPv4/IPv6 address to listen on; NULL: no target side. */
	const char *listen_addr;
	/** Port to listen on; 0: an ephemeral port (see tern_tcp_listen_port()). */
	uint16_t listen_port;
	/** Address segment_export() advertises; NULL: listen_addr (not a wildcard). */
	const char *advertise_addr;
	/** SO_SNDBUF / SO_RCVBUF; 0 leaves the kernel's autotuning (usually larger). */
	uint32_t sndbuf_bytes;
	uint32_t rcvbuf_bytes;
	/** Connections per (lcore, peer) that slices are striped over; 2, max TERN_TCP_CONNS_MAX.
	 */
	uint32_t conns_per_peer;
	/** A connection not established by then fails its slices (-EHOSTUNREACH); 3000. */
	uint32_t connect_timeout_ms;
	/** TCP_USER_TIMEOUT: unacknowledged data fails the connection after; 10000. */
	uint32_t user_timeout_ms;
	/** Target: an accepted connection without a byte received or sent for
	 *  this long is closed (idle, or owing replies it does not read); 60000. */
	uint32_t idle_timeout_ms;
	/**
	 * File holding a secret shared by the nodes that may talk (16 to 4096
	 * bytes; one trailing newline is not part of it); NULL: none. With one,
	 * this node's target side refuses connections that cannot prove they
	 * have it, and its initiator side proves it to targets that ask
	 * (doc/protocol.md, "Handshake"). The secret never crosses the wire.
	 */
	const char *auth_file;
	/**
	 * Further addresses to listen on (numeric, not wildcards: each is
	 * advertised as it is), up to TERN_TCP_RAILS_MAX - 1; NULL ends the
	 * list. A descriptor then carries every address, and a peer opens one
	 * rail to each (doc/peers.md, "Rails").
	 */
	const char *extra_listen_addr[TERN_TCP_RAILS_MAX - 1];
	/** Their ports; 0: an ephemeral port each. */
	uint16_t extra_listen_port[TERN_TCP_RAILS_MAX - 1];
	/** A rail with slices in flight that receives nothing for this long fails
	 *  (its slices go to the other rails); 1000. */
	uint32_t stall_timeout_ms;
	/** This node's notification queue: where NOTIFY frames are delivered
	 *  (doc/notify.md); NULL: they are answered -ENOTSUP. */
	struct tern_notify_queue *notify;
	/** Slices in flight per (lcore, peer, rail), at most; 64. */
	uint32_t rail_inflight;
	/**
	 * Bytes in flight per (lcore, peer, rail): each rail's bound is twice
	 * its measured rate times its RTT, at least this (0: 4 MiB) and at most
	 * @c rail_bytes_max (0: 64 MiB); 64 KiB to 1 GiB each, min <= max
	 * (doc/peers.md, "Bytes in flight per rail").
	 */
	uint32_t rail_bytes_min;
	/** The ceiling of that bound; see @c rail_bytes_min. */
	uint32_t rail_bytes_max;
};

/**
 * Configure the transport. Control path, before tern_engine_create() (or
 * after every engine using tcp is destroyed). Binds and listens at once, so
 * an address in use is reported here. NULL restores the defaults and closes
 * the listener.
 *
 * @return 0; -EINVAL (unparsable address, bad value, a secret shorter than
 *         16 or longer than 4096 bytes), -EBUSY (endpoints are open), the
 *         negative errno of opening or reading @c auth_file, or the socket
 *         call's (-EADDRINUSE...).
 */
int tern_tcp_configure(const struct tern_tcp_conf *conf);

/** @return the port the target side listens on, or -ENOTCONN (no listener). */
int tern_tcp_listen_port(void);

/**
 * Build a REMOTE segment's priv (a descriptor) from a peer's address, port,
 * segment handle and length.
 *
 * @param addr numeric IPv4 or IPv6 address
 * @param priv at least TERN_TCP_DESC_LEN bytes
 * @return TERN_TCP_DESC_LEN, or -EINVAL (bad address, port 0, handle 0,
 *         length 0), -ENOSPC (@p priv_len too small).
 */
int tern_tcp_remote_conf(const char *addr, uint16_t port, uint32_t handle, uint64_t length,
			 void *priv, size_t priv_len);

/** Process-wide counters of rare events (relaxed reads). */
struct tern_tcp_stats {
	uint64_t connected;	  /**< initiator connections established */
	uint64_t accepted;	  /**< target connections accepted */
	uint64_t closed;	  /**< connections closed, for any reason */
	uint64_t protocol_errors; /**< connections closed for a malformed frame */
	uint64_t error_replies;	  /**< well-formed requests answered with an error */
	uint64_t failed_slices;	  /**< initiator slices failed by a broken connection */
	uint64_t refused;	  /**< target: connections refused for a missing or wrong secret */
	uint64_t expired_resets;  /**< initiator connections reset: a batch on them expired */
	uint64_t reposted_slices; /**< initiator slices posted again on another rail */
	uint64_t rail_failures;	  /**< rails paused after a failure */
	uint64_t rail_rejoins;	  /**< paused rails back in service after a probe */
};

/** State of a rail (tern_tcp_rail_info.state). */
enum tern_tcp_rail_state {
	TERN_TCP_RAIL_UP = 0,	   /**< in service */
	TERN_TCP_RAIL_PAUSED = 1,  /**< failed; probed again after its backoff */
	TERN_TCP_RAIL_PROBING = 2, /**< a probe connection is on its way */
};

/** One rail (a remote address) as the process sees it, summed over lcores. */
struct tern_tcp_rail_info {
	char addr[48];		  /**< "ADDR:PORT" or "[ADDR]:PORT" */
	uint32_t state;		  /**< enum tern_tcp_rail_state */
	uint64_t bytes;		  /**< bytes of slices completed on it */
	uint64_t slices;	  /**< slices completed on it */
	uint64_t errors;	  /**< slices that failed on it (failed for good or posted again) */
	uint64_t reposted;	  /**< slices that left it for another rail */
	uint64_t failures;	  /**< times it was paused */
	int32_t last_error;	  /**< negative errno of its last failure, 0: none */
	uint64_t last_failure_ms; /**< ms since its last failure, UINT64_MAX: none */
	uint32_t backoff_ms;	  /**< its pause now (0 when up) */
};

/**
 * The rails to the node a descriptor names: one per address it advertises,
 * in its order (rails nobody used yet show up with zero counters).
 *
 * @param desc a tcp descriptor (segment_export() blob)
 * @param out room for @p max entries
 * @return the number of rails (may exceed @p max; only @p max are written),
 *         or -EINVAL (a malformed descriptor).
 */
int tern_tcp_rails(const void *desc, size_t desc_len, struct tern_tcp_rail_info *out,
		   unsigned int max);

/** Read the counters. */
void tern_tcp_stats(struct tern_tcp_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* TERN_TCP_H */
