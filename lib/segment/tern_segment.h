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

#include <rte_branch_prediction.h>
#include <rte_common.h>
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

/** Where a segment's memory is. */
enum tern_segment_kind {
	TERN_SEGMENT_LOCAL = 1,	 /**< mapped here: a request's local side or a target */
	TERN_SEGMENT_REMOTE = 2, /**< a peer's memory: a target, through a transport */
};

/** Segment slot states (internal; exposed for the inline fast path). */
enum tern_segment_state {
	TERN_SEGMENT_FREE = 0,
	TERN_SEGMENT_ACTIVE = 1,
	TERN_SEGMENT_DRAINING = 2,
	TERN_SEGMENT_RETIRED = 3, /**< no new references; unregister when the last goes */
};

/**
 * One segment slot. Fields other than @c state and @c refs are written only
 * while the slot is not ACTIVE, then published by a release store of @c state.
 */
struct tern_segment {
	uint32_t state;	     /**< enum tern_segment_state, atomic */
	uint32_t generation; /**< bumped on every register; part of the handle */
	uint8_t *base;	     /**< first byte (LOCAL); peer's address (REMOTE) */
	uint64_t length;     /**< bytes */
	uint16_t kind;	     /**< enum tern_segment_kind */
	uint16_t transport;  /**< transport id that reaches it (tern_transport.h) */
	int32_t socket_id;   /**< NUMA socket of the memory, or SOCKET_ID_ANY */
	uint32_t handle;     /**< this segment's handle */
	uint32_t flags;	     /**< TERN_SEGMENT_F_* */
	int32_t fd;	     /**< TERN_SEGMENT_F_FILE: the memfd (in the allocating process) */
	uint16_t peer;	     /**< accounting tag: the peer a REMOTE segment belongs to, 0 none */
	uint16_t reserved;
	const void *memzone; /**< the memzone when the engine allocated it */
	char name[TERN_SEGMENT_NAME_MAX];
	/** Transport-private data (peer id, remote key, file identity...). */
	uint8_t priv[TERN_SEGMENT_PRIV_SIZE] __rte_aligned(8);
	/**
	 * References held by work in flight, atomic. Away from the first line,
	 * which submitting clients read on every request: the lcores' updates
	 * would otherwise take that line from them twice per batch.
	 */
	uint64_t refs;
} __rte_cache_aligned;

/** The segment's memory was allocated by tern_segment_alloc(). */
#define TERN_SEGMENT_F_ALLOCATED (1u << 0)
/** The segment's memory is a sealed memfd from tern_segment_alloc_file() (see @c fd). */
#define TERN_SEGMENT_F_FILE (1u << 1)
/**
 * A LOCAL segment the node offers to peers: transports' target sides serve
 * only these, and segment_export() describes only these. Set by
 * tern_segment_export() (atomically, once: the one flag that changes while the
 * slot is ACTIVE); cleared when the slot is unregistered.
 */
#define TERN_SEGMENT_F_EXPORTED (1u << 2)
/** Peer accounting tags are 1..TERN_SEGMENT_PEER_MAX - 1 (0: not a peer's segment). */
#define TERN_SEGMENT_PEER_MAX 64

/** A table of segments (opaque layout lives in the memzone). */
struct tern_segment_table {
	char name[32];
	uint32_t capacity; /**< slots */
	uint32_t nb_active;
	const void *memzone;
	struct tern_segment slots[];
};

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

/** @return whether @p seg is a LOCAL segment offered to peers (see tern_segment_export()). */
static inline int
tern_segment_exported(const struct tern_segment *seg)
{
	return seg->kind == TERN_SEGMENT_LOCAL &&
	       (__atomic_load_n(&seg->flags, __ATOMIC_ACQUIRE) & TERN_SEGMENT_F_EXPORTED) != 0;
}

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
	char name[TERN_SEGMENT_NAME_MAX];
	void *addr;
	uint64_t length;
	uint16_t kind;
	uint16_t transport;
	int32_t socket_id;
	uint64_t refs;
	uint32_t state; /**< TERN_SEGMENT_ACTIVE or TERN_SEGMENT_RETIRED */
	uint16_t peer;	/**< accounting tag */
};

/**
 * Describe a segment (active or retired).
 *
 * @return 0; -EINVAL; -ENOENT.
 */
int tern_segment_info(const struct tern_segment_table *tbl, uint32_t handle,
		      struct tern_segment_info *info);

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

/**
 * Take @p count references on the segment named by @p handle if it is active
 * and [offset, offset + length) lies inside it. O(1), lock-free.
 *
 * @return the segment, or NULL (stale or unknown handle, not active, range
 *         outside the segment or overflowing); no reference is then held.
 */
static inline struct tern_segment *
tern_segment_acquire(struct tern_segment_table *tbl, uint32_t handle, uint64_t offset,
		     uint64_t length, uint32_t count)
{
	uint32_t slot = tern_segment_handle_slot(handle);
	struct tern_segment *seg;

	if (unlikely(slot >= tbl->capacity))
		return NULL;
	seg = &tbl->slots[slot];
	/* Reference first, then check: pairs with unregister's state change
	 * followed by its reference check (both sequentially consistent). */
	__atomic_fetch_add(&seg->refs, count, __ATOMIC_SEQ_CST);
	if (unlikely(__atomic_load_n(&seg->state, __ATOMIC_SEQ_CST) != TERN_SEGMENT_ACTIVE ||
		     seg->handle != handle || offset > seg->length ||
		     length > seg->length - offset)) {
		__atomic_fetch_sub(&seg->refs, count, __ATOMIC_RELEASE);
		return NULL;
	}
	return seg;
}

/** Drop references taken by tern_segment_acquire(). */
static inline void
tern_segment_release(struct tern_segment *seg, uint32_t count)
{
	__atomic_fetch_sub(&seg->refs, count, __ATOMIC_RELEASE);
}

/**
 * Look up the segment named by @p handle without taking a reference: it is
 * active and [offset, offset + length) lies inside it at the time of the
 * call. The answer may be stale by the time the caller acts on it; take a
 * reference with tern_segment_acquire() before touching the memory. O(1).
 *
 * @return the segment, or NULL (stale or unknown handle, not active, range
 *         outside the segment or overflowing).
 */
static inline struct tern_segment *
tern_segment_lookup(struct tern_segment_table *tbl, uint32_t handle, uint64_t offset,
		    uint64_t length)
{
	uint32_t slot = tern_segment_handle_slot(handle);
	struct tern_segment *seg;

	if (unlikely(slot >= tbl->capacity))
		return NULL;
	seg = &tbl->slots[slot];
	if (unlikely(__atomic_load_n(&seg->state, __ATOMIC_ACQUIRE) != TERN_SEGMENT_ACTIVE ||
		     seg->handle != handle || offset > seg->length ||
		     length > seg->length - offset))
		return NULL;
	return seg;
}

/**
 * Find the LOCAL segment containing [addr, addr + length) without taking a
 * reference (see tern_segment_lookup()). @p hint, if not
 * TERN_SEGMENT_INVALID, is tried first (a caller's last hit), so the common
 * case is O(1); otherwise the table is scanned.
 *
 * @return the segment, or NULL (no active LOCAL segment contains the whole range).
 */
struct tern_segment *tern_segment_lookup_local(struct tern_segment_table *tbl, const void *addr,
					       uint64_t length, uint32_t hint);

#ifdef __cplusplus
}
#endif

#endif /* TERN_SEGMENT_H */
