/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_PEER_H
#define TERN_PEER_H

/**
 * @file
 * Peers: turning "node/segment" into a segment handle the engine can target.
 *
 * A resolve looks the segment's descriptor up in the directory, picks the
 * cheapest transport that reaches it (the strategy: of the transports both
 * the descriptor and this engine have, the lowest rank whose import works,
 * so memcpy for this node's own segments, then shm on the same host, then
 * mlx5, then tcp; a per-peer override pins one), imports it and registers it
 * as a REMOTE segment tagged with the peer's accounting tag. The handle is
 * cached: resolving again is a table lookup, and nothing here is on the data
 * path.
 *
 * tern_peers_poll(), called from the control thread, revalidates every
 * import against the directory (bypassing its cache) every check_ms. A
 * descriptor that vanished or changed (the peer withdrew the segment, its
 * lease expired, or nobody answers at its p2p control port any more) retires
 * the import: requests on it fail with ESTALE at submit instead of reaching
 * memory that is gone, work in flight finishes or fails in its transport, and
 * the REMOTE segment is unregistered once nothing references it and
 * retired_ms has passed (until then its handle says ESTALE rather than
 * "unknown segment"). Resolving
 * the name again imports the segment afresh if it exists again.
 *
 * Threading: every function may be called from any thread (calls are
 * serialised inside; a resolve may wait on the network for the directory's
 * and the transport's timeouts).
 */

#include <stdint.h>

#include <tern_directory.h>
#include <tern_segment.h>
#include <tern_transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest node name, including the NUL. */
#define TERN_PEER_NAME_MAX TERN_DESCRIPTOR_NAME_MAX
/** Most peers one process tracks (accounting tags 1..TERN_SEGMENT_PEER_MAX - 1). */
#define TERN_PEER_MAX (TERN_SEGMENT_PEER_MAX - 1)
/** Rails of a peer tern_peers_list() shows. */
#define TERN_PEER_RAILS_MAX 4
/** Descriptor field holding a transport's segment_export() blob (hex). */
#define TERN_PEER_DESC_FIELD "desc"

struct tern_peers;

/** What a peer set works with; zero fields take the defaults. */
struct tern_peers_conf {
	const char *node; /**< this node's name: its segments resolve locally; required */
	struct tern_segment_table *segments; /**< the engine's table (imports go here); required */
	/** Directory asked about every node not given its own by tern_peers_add(); may be NULL. */
	struct tern_directory *directory;
	uint32_t usable_transports; /**< bit i: transport id i works here; 0 = all registered */
	uint32_t check_ms;	    /**< revalidate each import this often; 1000 */
	uint32_t retired_ms; /**< a retired import's handle answers ESTALE this long; 30000 */
};

/**
 * Create a peer set.
 *
 * @return the set, or NULL with rte_errno: EINVAL (missing or invalid
 *         node, no table), ENOMEM.
 */
struct tern_peers *tern_peers_create(const struct tern_peers_conf *conf);

/**
 * Destroy a peer set: stop answering IPC, unregister and release every
 * import. Call it after the engine that used the imports is destroyed (an
 * import still referenced is left registered, with a warning). Closes the
 * directories tern_peers_add() opened, not conf.directory. NULL is ignored.
 */
void tern_peers_destroy(struct tern_peers *peers);

/**
 * Give @p node its own directory, e.g. "p2p://192.0.2.7:7100" (its
 * dataplane's control port). Replaces an earlier one for that node.
 *
 * @return 0; -EINVAL (bad node name or URI); -ENOTSUP (unknown scheme);
 *         -ENOSPC (TERN_PEER_MAX peers); -ENOMEM.
 */
int tern_peers_add(struct tern_peers *peers, const char *node, const char *uri);

/**
 * Pin @p node to one transport, or give it back to the strategy. The
 * node's current imports are retired, so its segments must be resolved
 * again (the next resolve uses the new choice).
 *
 * @param transport a registered transport's name, or NULL / "" for automatic
 * @return 0; -EINVAL (bad node name, @p node is this node); -ENOENT (no such
 *         transport); -ENOSPC (TERN_PEER_MAX peers).
 */
int tern_peers_set_transport(struct tern_peers *peers, const char *node, const char *transport);

/**
 * Resolve @p node / @p segment to a segment handle.
 *
 * @param[out] handle a LOCAL segment's handle if @p node is this node,
 *             otherwise the REMOTE import's
 * @return 0; -EINVAL (bad names, or the two names do not fit a segment
 *         name "node:segment"); -ENOENT (no such segment); -EHOSTUNREACH
 *         (no directory knows @p node, or no transport both sides have could
 *         import it); -ENOSPC (TERN_PEER_MAX peers that have resolved, been
 *         added or pinned: a node that never resolved gives its place up to a
 *         new one; or the segment table is full); the directory's errors
 *         (-ECONNREFUSED, -ETIMEDOUT, -EIO, -EPROTO). Why each transport could
 *         not import is logged.
 */
int tern_peers_resolve(struct tern_peers *peers, const char *node, const char *segment,
		       uint32_t *handle);

/**
 * Split "node/segment" into its two names (the form tern-perf and the
 * dataplane's clients use).
 *
 * @param node    at least TERN_PEER_NAME_MAX bytes
 * @param segment at least TERN_SEGMENT_NAME_MAX bytes
 * @return 0; -EINVAL (no '/', an empty or invalid name, more than one '/').
 */
int tern_peers_split_name(const char *name, char *node, char *segment);

/**
 * Control-thread upkeep: revalidate imports that are due, retire the stale
 * ones, unregister retired imports whose time is up and that nothing
 * references any more, and answer
 * resolve requests queued by secondary processes (tern_peers_ipc_serve()).
 *
 * @return how many imports were retired or released; -EINVAL.
 */
int tern_peers_poll(struct tern_peers *peers);

/** State of a peer. */
enum tern_peer_state {
	TERN_PEER_IDLE = 0,	   /**< known, nothing imported */
	TERN_PEER_UP = 1,	   /**< imports in service, last check passed */
	TERN_PEER_STALE = 2,	   /**< its last check found a descriptor gone or changed */
	TERN_PEER_UNREACHABLE = 3, /**< its last lookup or check could not reach the directory */
};

/** One peer as the peer set sees it. */
struct tern_peer_info {
	char node[TERN_PEER_NAME_MAX];		 /**< its node name */
	char transport[TERN_TRANSPORT_NAME_MAX]; /**< of its newest import; "" none */
	char pinned[TERN_TRANSPORT_NAME_MAX];	 /**< tern_peers_set_transport(); "" automatic */
	uint16_t tag;				 /**< accounting tag (tern_engine_peer_traffic()) */
	uint16_t state;				 /**< enum tern_peer_state */
	uint32_t segments;			 /**< imports in service */
	uint32_t retired;			 /**< imports retired, not yet released */
	uint64_t inflight;  /**< references work in flight holds on its imports */
	uint64_t resolves;  /**< successful resolves that imported */
	uint64_t errors;    /**< failed resolves and checks */
	uint64_t stale;	    /**< imports retired as stale */
	int32_t last_error; /**< of the last failed resolve or check; 0 */
	/** Rails of its newest import's transport (tern_transport_ops.rails); 0: one path. */
	uint32_t nb_rails;
	/** The first min(nb_rails, TERN_PEER_RAILS_MAX) of them. */
	struct tern_transport_rail rails[TERN_PEER_RAILS_MAX];
	/** Transport of its newest import's last resort (mlx5 -> tcp); "" none. */
	char last_resort[TERN_TRANSPORT_NAME_MAX];
	/**
	 * The transport its new slices take now: @c transport, or @c last_resort
	 * when that import has rails and none is up (all paused or failed).
	 */
	char path[TERN_TRANSPORT_NAME_MAX];
};

/** @return the name of a peer state ("idle", "up", "stale", "unreachable"). */
const char *tern_peer_state_name(uint16_t state);

/**
 * Describe the peers.
 *
 * @return how many peers there are (the first min(count, max) are written);
 *         -EINVAL.
 */
int tern_peers_list(struct tern_peers *peers, struct tern_peer_info *out, unsigned int max);

/**
 * Publish this node's segments to @p dir: one descriptor per segment offered
 * to peers (tern_segment_export()), carrying the blob of every usable
 * transport that can describe it (a transport without a listener cannot). A
 * segment no usable transport can describe is skipped with a warning in the
 * log. Call it again to refresh the descriptors (e.g. as a keepalive).
 *
 * @param usable_transports bit i: transport id i works here; 0 = all registered
 * @return how many segments were published (>= 0); -EINVAL (NULL or invalid
 *         argument); or the error of tern_descriptor_init() /
 *         tern_directory_publish().
 */
int tern_peers_publish(struct tern_directory *dir, struct tern_segment_table *tbl, const char *node,
		       uint32_t usable_transports);

/**
 * Answer resolve requests from DPDK secondary processes of this primary
 * (tern_peers_ipc_resolve()). The requests are queued by DPDK's IPC thread
 * and answered by tern_peers_poll(). One peer set per process can serve.
 *
 * @return 0; -EINVAL; -EALREADY (another peer set serves); -ENOTSUP (not
 *         the primary process); or rte_mp_action_register()'s error.
 */
int tern_peers_ipc_serve(struct tern_peers *peers);

/**
 * From a secondary process: ask the primary's peer set to resolve @p node /
 * @p segment (the import then lives in the primary, where the engine's
 * lcores are).
 *
 * @return 0 and @p handle; -EINVAL; -ENOTSUP (not a secondary); -ETIMEDOUT
 *         (no answer within @p timeout_ms, e.g. no peer set serves);
 *         -EPROTO (an answer of the wrong size or with a status that is no
 *         errno: not this version's primary); or the primary's
 *         tern_peers_resolve() error.
 */
int tern_peers_ipc_resolve(const char *node, const char *segment, uint32_t timeout_ms,
			   uint32_t *handle);

#ifdef __cplusplus
}
#endif

#endif /* TERN_PEER_H */
