/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_SEGMENT_H
#define TERN_SEGMENT_H

/**
 * @file
 * Segments: registered memory ranges that transfers read and write.
 *
 * A segment table lives in a DPDK memzone so that secondary processes see it
 * at the same address. Each segment gets a small integer handle (slot index
 * plus a generation, so a stale handle never reaches a reused slot). Handle
 * lookup is O(1) and lock-free; register and unregister are control-path
 * calls serialised by the caller (one control thread per table).
 *
 * A segment is either LOCAL (memory mapped in this engine's processes: the
 * local side of a request must lie inside one, and it can be a target) or
 * REMOTE (imported from a peer: a target only, reached through a transport).
 *
 * Work in flight holds a reference on every segment it touches;
 * tern_segment_unregister() refuses with -EBUSY while any reference is held,
 * so a segment never disappears under a transfer.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest segment name, including the terminating NUL. */
#define TERN_SEGMENT_NAME_MAX 48
/** Size of the transport-private area of a segment. */
#define TERN_SEGMENT_PRIV_SIZE 128
/** Largest number of segments a table can hold. */
#define TERN_SEGMENT_MAX 4096
/** A handle value no segment ever has. */
#define TERN_SEGMENT_INVALID 0u
/** Peer accounting tags are 1..TERN_SEGMENT_PEER_MAX - 1 (0: not a peer's segment). */
#define TERN_SEGMENT_PEER_MAX 64

/** Where a segment's memory is. */
enum tern_segment_kind {
	TERN_SEGMENT_LOCAL = 1,	 /**< mapped here: a request's local side or a target */
	TERN_SEGMENT_REMOTE = 2, /**< a peer's memory: a target, through a transport */
};

/** Segment states (tern_segment_info() reports ACTIVE or RETIRED). */
enum tern_segment_state {
	TERN_SEGMENT_FREE = 0,
	TERN_SEGMENT_ACTIVE = 1,
	TERN_SEGMENT_DRAINING = 2,
	TERN_SEGMENT_RETIRED = 3, /**< no new references; unregister when the last goes */
};

/** A registered memory range (its layout is the driver SDK's: tern_segment_driver.h). */
struct tern_segment;
/** A table of segments, in a memzone (layout: tern_segment_driver.h). */
struct tern_segment_table;

/** What tern_segment_register() needs for a caller-provided range. */
struct tern_segment_conf {
	const char *name;      /**< unique in the table, [A-Za-z0-9_.:-], 1..47 chars */
	void *addr;	       /**< LOCAL: first byte; must be reachable by the lcores */
	uint64_t length;       /**< bytes, > 0 */
	uint16_t kind;	       /**< enum tern_segment_kind; 0 means LOCAL */
	const char *transport; /**< transport name; NULL means "memcpy" for LOCAL */
	int socket_id;	       /**< NUMA socket of the memory, or SOCKET_ID_ANY */
	const void *priv;      /**< REMOTE: transport-private bytes copied into the slot */
	uint32_t priv_len;     /**< at most TERN_SEGMENT_PRIV_SIZE */
	uint16_t peer;	       /**< REMOTE: accounting tag, < TERN_SEGMENT_PEER_MAX; 0 none */
};

/**
 * Create a segment table in a memzone named "tern_seg_<name>".
 *
 * @param name      1..23 characters, [A-Za-z0-9_]
 * @param capacity  slots, 1..TERN_SEGMENT_MAX
 * @param socket_id NUMA socket for the table, or SOCKET_ID_ANY
 * @return the table, or NULL with rte_errno set: EINVAL (bad argument),
 *         EEXIST (a table of that name exists), ENOMEM.
 */
struct tern_segment_table *tern_segment_table_create(const char *name, uint32_t capacity,
						     int socket_id);

/**
 * Find a table created by this or another process of the same DPDK instance.
 *
 * @return the table, or NULL with rte_errno set: EINVAL, ENOENT.
 */
struct tern_segment_table *tern_segment_table_lookup(const char *name);

/**
 * Free a table. Refused while segments are registered.
 *
 * @return 0, -EINVAL (NULL), -EBUSY (segments still registered).
 */
int tern_segment_table_free(struct tern_segment_table *tbl);

/**
 * Register a caller-provided range (LOCAL) or an imported peer segment (REMOTE).
 *
 * @param[out] handle the new segment's handle
 * @return 0; -EINVAL (NULL, bad name, zero length, range wrapping the address
 *         space, unknown kind, priv too long), -EEXIST (name taken, or a LOCAL
 *         range overlapping a registered one), -ENOENT (unknown transport),
 *         -ENOSPC (table full).
 */
int tern_segment_register(struct tern_segment_table *tbl, const struct tern_segment_conf *conf,
			  uint32_t *handle);

/**
 * Allocate hugepage memory (a memzone, so secondary processes can map it)
 * on @p socket_id and register it as a LOCAL segment.
 *
 * @return 0; -EINVAL, -EEXIST, -ENOSPC as tern_segment_register(); -ENOMEM.
 */
int tern_segment_alloc(struct tern_segment_table *tbl, const char *name, uint64_t length,
		       int socket_id, uint32_t *handle);

/**
 * Allocate @p length bytes backed by a sealed memfd (hugetlbfs pages when the
 * kernel has free ones, ordinary shared pages otherwise), map it in this
 * process and register it as a LOCAL segment. Unlike tern_segment_alloc(),
 * the memory is not visible to DPDK secondary processes; instead another
 * process on this host that receives the file descriptor (@c seg->fd, e.g.
 * over a Unix socket with SCM_RIGHTS) can map it: this is what the shm
 * transport exports. The file is sealed against shrinking and growing, so a
 * process that mapped it can never take SIGBUS from it.
 *
 * @return 0; -EINVAL, -EEXIST, -ENOSPC as tern_segment_register(); -ENOMEM
 *         (no memory, or the memfd could not be created or sealed).
 */
int tern_segment_alloc_file(struct tern_segment_table *tbl, const char *name, uint64_t length,
			    int socket_id, uint32_t *handle);

/**
 * Unregister a segment (and free its memory if tern_segment_alloc() or
 * tern_segment_alloc_file() made it). The slot's fields, @c priv included,
 * are left as they were until a later register reuses the slot, so the
 * control thread that unregistered a REMOTE segment can still hand a copy
 * to its transport's segment_release().
 *
 * Active and retired segments can be unregistered.
 *
 * @return 0; -EINVAL (NULL table); -ENOENT (no such handle, or stale);
 *         -EBUSY (work in flight references it: retry after it completes).
 */
int tern_segment_unregister(struct tern_segment_table *tbl, uint32_t handle);

/**
 * Give a REMOTE segment a last resort: while the transport of @p handle has
 * no live rail to it (every mlx5 rail paused or failed, say), the engine
 * posts its new slices to @p fallback instead, a REMOTE segment of another
 * transport naming the same remote memory (same length). Slices already
 * posted are not moved. The engine holds no reference on @p fallback: the
 * link must be cleared (@p fallback TERN_SEGMENT_INVALID) before @p fallback
 * is unregistered, which refuses with -EBUSY while a segment links to it.
 *
 * @return 0; -EINVAL (NULL table, a segment linking to itself, a LOCAL one,
 *         the same transport, another length, or a fallback that has one
 *         itself); -ENOENT (no such active segment).
 */
int tern_segment_set_fallback(struct tern_segment_table *tbl, uint32_t handle, uint32_t fallback);

/**
 * Offer a LOCAL segment to peers (TERN_SEGMENT_F_EXPORTED). Without it, no
 * transport serves the segment to the network or another process, whatever
 * handle a peer sends. A client's buffers (tern_client_shm_alloc()) are never
 * exported; a dataplane exports its --segment segments. There is no
 * un-export: unregister the segment.
 *
 * @return 0; -EINVAL (NULL table); -ENOENT (no such active segment);
 *         -EPERM (a REMOTE segment).
 */
int tern_segment_export(struct tern_segment_table *tbl, uint32_t handle);

/**
 * Retire a segment: from now on tern_segment_acquire() refuses it (so new
 * requests on it fail), while work already holding references finishes.
 * Unregister it once its references are gone. This is how a peer's segment
 * whose descriptor turned stale is taken out of service.
 *
 * @return 0; -EINVAL (NULL table); -ENOENT (no such active segment).
 */
int tern_segment_retire(struct tern_segment_table *tbl, uint32_t handle);

/**
 * Is @p handle a segment that tern_segment_retire() took out of service?
 * (For error reporting: a request on it fails as stale, not as unknown.)
 *
 * @return 1 if retired and not yet unregistered, else 0.
 */
int tern_segment_is_retired(const struct tern_segment_table *tbl, uint32_t handle);

/**
 * Find a segment's handle by name.
 *
 * @return 0; -EINVAL; -ENOENT.
 */
int tern_segment_find(const struct tern_segment_table *tbl, const char *name, uint32_t *handle);

/** A consistent copy of a segment's public fields. */
struct tern_segment_info {
	char name[TERN_SEGMENT_NAME_MAX]; /**< its name in the table */
	void *addr;			  /**< first byte (LOCAL); the peer's address (REMOTE) */
	uint64_t length;		  /**< bytes */
	uint16_t kind;			  /**< enum tern_segment_kind */
	uint16_t transport;		  /**< id of the transport that reaches it */
	int32_t socket_id;		  /**< NUMA socket of the memory, or SOCKET_ID_ANY */
	uint64_t refs;			  /**< references held by work in flight, now */
	uint32_t state;			  /**< TERN_SEGMENT_ACTIVE or TERN_SEGMENT_RETIRED */
	uint16_t peer;			  /**< accounting tag */
};

/**
 * Describe a segment (active or retired).
 *
 * @return 0; -EINVAL; -ENOENT.
 */
int tern_segment_info(const struct tern_segment_table *tbl, uint32_t handle,
		      struct tern_segment_info *info);

/** What tern_segment_table_info() reports. */
struct tern_segment_table_info {
	char name[32];	    /**< the table's name */
	uint32_t capacity;  /**< slots */
	uint32_t nb_active; /**< segments registered now (active or retired) */
};

/**
 * Describe a table.
 * @return 0; -EINVAL (NULL argument).
 */
int tern_segment_table_info(const struct tern_segment_table *tbl,
			    struct tern_segment_table_info *info);

/**
 * Iterate: the first handle of an active (or retired, not yet unregistered)
 * segment at a slot >= @p from_slot.
 * @return the handle, or TERN_SEGMENT_INVALID when there is none.
 */
uint32_t tern_segment_next(const struct tern_segment_table *tbl, uint32_t from_slot);

/** Slot index of a handle. */
static inline uint32_t
tern_segment_handle_slot(uint32_t handle)
{
	return handle & 0xffffu;
}

#ifdef __cplusplus
}
#endif

#endif /* TERN_SEGMENT_H */
