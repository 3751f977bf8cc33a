/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TRANSPORT_H
#define TERN_TRANSPORT_H

/**
 * @file
 * Transports as an application sees them: ids and names, and the two
 * operations. The engine picks a transport per target segment (the cheapest
 * that reaches it); an application names one only to pin a peer to it or to
 * report what was used. Writing a transport is the driver SDK's business:
 * tern_transport_driver.h.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest number of transports one process can register. */
#define TERN_TRANSPORT_MAX 8
/** Longest transport name, including the NUL. */
#define TERN_TRANSPORT_NAME_MAX 16

/** Operation of a request or slice. */
enum tern_op {
	TERN_OP_READ = 1,  /**< copy target segment -> local memory */
	TERN_OP_WRITE = 2, /**< copy local memory -> target segment */
};

/**
 * Transport flag: its target side serves a LOCAL segment only when the
 * segment is backed by a file other processes can map
 * (tern_segment_alloc_file()); a host that configures it allocates its
 * segments that way.
 */
#define TERN_TRANSPORT_F_FILE_SEGMENTS (1u << 0)

struct tern_segment_table;
struct tern_notify_queue;

/** State of a rail (struct tern_transport_rail). */
enum tern_transport_rail_state {
	TERN_TRANSPORT_RAIL_UP = 0,	 /**< in service */
	TERN_TRANSPORT_RAIL_PAUSED = 1,	 /**< failed; probed again after its backoff */
	TERN_TRANSPORT_RAIL_PROBING = 2, /**< a probe is on its way */
};

/**
 * One rail (path) to a peer as a transport sees it: for tcp a remote
 * address, for an RDMA transport a device and port (doc/peers.md, "Rails").
 */
struct tern_transport_rail {
	char name[48];		  /**< e.g. "10.0.0.2:7000" */
	uint32_t state;		  /**< enum tern_transport_rail_state */
	uint32_t backoff_ms;	  /**< its pause now, 0 when up */
	uint64_t bytes;		  /**< bytes of slices completed on it */
	uint64_t slices;	  /**< slices completed on it */
	uint64_t errors;	  /**< slices that failed on it (for good, or posted again) */
	uint64_t reposted;	  /**< slices it lost that went again on another path */
	uint64_t failures;	  /**< times it was paused */
	int32_t last_error;	  /**< negative errno of its last failure; 0 none */
	uint64_t last_failure_ms; /**< ms since then; UINT64_MAX none */
};

/** What a transport's configuration may use of the process that hosts it. */
struct tern_transport_env {
	/** The table whose exported segments the transport serves to peers. */
	struct tern_segment_table *segments;
	/** A directory private to this process for sockets and files; NULL: the EAL's runtime dir.
	 */
	const char *runtime_dir;
	/** This node's notification queue (tern_notify.h): where the transport's
	 *  receive side delivers notifications; NULL: it refuses them (-ENOTSUP). */
	struct tern_notify_queue *notify;
};

/** @return the id of the transport named @p name, or -ENOENT / -EINVAL. */
int tern_transport_id(const char *name);

/** @return how many transports are registered (ids are 0..count-1). */
int tern_transport_count(void);

/**
 * @return the name of transport @p id ("memcpy", "shm", "tcp", "mlx5"...), or
 *         NULL if there is none.
 */
const char *tern_transport_name(int id);

/**
 * @return the options transport @p id takes in tern_transport_configure(),
 *         as "key=<value> ..." for help text ("" when it takes none), or
 *         NULL if there is no such transport.
 */
const char *tern_transport_params(int id);

/** @return TERN_TRANSPORT_F_* of transport @p id (0 if there is none). */
uint32_t tern_transport_flags(int id);

/**
 * Configure a transport before any engine is created: start its target
 * side (a listener, a socket server), set its limits and secrets. @p args
 * is "key=value,key=value" (DPDK kvargs syntax; NULL or "" for the
 * defaults); the keys are the transport's own (tern_transport_params(),
 * doc/operations.md). A transport that is never configured still works as
 * an initiator with its defaults.
 *
 * @return 0; -EINVAL (no name, unknown key, bad value, or @p env without the
 *         segment table a serving transport needs); -ENOENT (no such
 *         transport); -EALREADY (configured already: stop it first);
 *         -ENOTSUP (it takes no options and @p args has some); or the
 *         transport's own error (e.g. -ENODEV: no device; -EADDRINUSE).
 */
int tern_transport_configure(const char *name, const char *args,
			     const struct tern_transport_env *env);

/** @return whether transport @p id has been configured (1) or not (0). */
int tern_transport_configured(int id);

/**
 * Describe what configured transport @p id offers to the outside, for an
 * operator's log ("listening on 127.0.0.1 port 40123"), into @p buf.
 * @return the length written (0: it offers nothing), -EINVAL, -ENOENT
 *         (no such transport or not configured).
 */
int tern_transport_describe(int id, char *buf, size_t len);

/**
 * Stop every configured transport, the last configured first: close
 * listeners and servers, forget secrets. Call it once no engine uses them
 * (after tern_engine_destroy()) and while the segment table still exists.
 */
void tern_transport_stop_all(void);

#ifdef __cplusplus
}
#endif

#endif /* TERN_TRANSPORT_H */
