/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_SHM_H
#define TERN_SHM_H

/**
 * @file
 * The shm transport: one-sided READ/WRITE between tern engines on one host
 * (separate DPDK instances), by mapping the peer's segment (doc/shm.md).
 *
 * Target side (opt-in): tern_shm_configure() binds a Unix socket (mode
 * 0600) and starts a DPDK control thread, "tern-shm", that hands out the
 * file descriptors of the configured table's file-backed segments
 * (tern_segment_alloc_file()) to peers presenting the right token. The
 * transport's segment_export() writes a blob naming this host, the socket,
 * the segment and that token; a directory carries it to peers.
 *
 * Initiator side: segment_import() of such a blob connects to the socket
 * (one connection per peer socket, shared by every import from it), receives
 * the segment's memfd, checks it is sealed against shrinking and maps it;
 * the REMOTE segment's priv then holds the mapping. Worker lcores copy into
 * and out of it directly (streaming stores for TERN_SLICE_F_STREAM slices,
 * like the memcpy transport): no syscall, no lock, no allocation per slice.
 * segment_release() unmaps it and drops the connection's reference.
 *
 * Liveness: the connection to a peer is the liveness link. The control
 * thread watches it; when the peer closes it (exit, crash, SIGKILL, or
 * tern_shm_configure(NULL) on its side) every slice on that peer's segments
 * completes with -ECONNRESET without touching the memory. The mapping stays
 * valid until segment_release() (the file is sealed, so no SIGBUS).
 *
 * Threads: every function here, and the transport's segment_export(),
 * segment_import() and segment_release(), may be called from any thread
 * (a process-wide mutex serialises them; an import waits for its reply
 * without holding it). They need the EAL to be initialised.
 */

#include <stdint.h>

#include <tern_segment_driver.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest blob segment_export() writes (header and a 107-character socket path). */
#define TERN_SHM_BLOB_MAX 156

struct tern_notify_queue;

/** Process-wide settings; zero fields take the defaults. */
struct tern_shm_conf {
	/**
	 * Absolute path of the Unix socket to serve on, shorter than 108 bytes;
	 * NULL: do not serve (only set the initiator's @c request_timeout_ms).
	 */
	const char *socket_path;
	/** The table whose LOCAL file segments are served; required with @c socket_path. */
	struct tern_segment_table *segments;
	/** How long segment_import() waits for a peer's connection and reply; 2000 ms. */
	uint32_t request_timeout_ms;
	/** The node's queue that notifications from peers go to (doc/notify.md);
	 *  NULL: they are answered -ENOTSUP. */
	struct tern_notify_queue *notify;
};

/**
 * Start serving (target side), or stop. Serving binds @c socket_path (a
 * stale socket file there, one nobody answers on, is replaced), sets its
 * mode to 0600, listens, and starts the control thread if it is not running.
 *
 * NULL stops serving: closes the listener and every accepted connection (the
 * peers see this process's segments as gone) and unlinks the socket file if
 * it is still this process's. The control thread keeps running while this
 * process has imports of its own (it watches their peers), and stops after.
 * Call it before freeing the served table.
 *
 * @return 0; -EINVAL (relative or too long path, path without a table),
 *         -EBUSY (already serving: stop first), -EADDRINUSE (a live server
 *         answers at the path), -EEXIST (the path exists and is not a
 *         socket), -ENOTSUP (this host's boot_id cannot be read), or the
 *         socket or thread call's negative errno.
 */
int tern_shm_configure(const struct tern_shm_conf *conf);

/** Process-wide counters (relaxed reads) and gauges. */
struct tern_shm_stats {
	/* target side */
	uint64_t accepted;	    /**< connections accepted */
	uint64_t refused;	    /**< connections closed at once: too many open */
	uint64_t requests_served;   /**< requests answered with a file descriptor (as sent) */
	uint64_t requests_rejected; /**< well-formed requests answered with an error (as sent) */
	uint64_t malformed;	    /**< connections closed for a malformed request */
	uint64_t notifications;	    /**< notifications answered (any status) */
	uint32_t serving_conns;	    /**< accepted connections open now */
	/* initiator side */
	uint32_t peers;		  /**< connections to peers open now */
	uint64_t peers_connected; /**< connections to peers opened */
	uint64_t peers_lost;	  /**< connections to peers that the peer closed */
	uint64_t imports;	  /**< successful segment_import() calls */
	uint64_t import_errors; /**< failed segment_import() calls past the blob and host checks */
	uint64_t releases;	/**< segment_release() calls */
	uint64_t failed_slices; /**< slices failed with -ECONNRESET: their peer was gone */
};

/**
 * Read the counters.
 * @return 0, or -EINVAL (NULL).
 */
int tern_shm_stats(struct tern_shm_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* TERN_SHM_H */
