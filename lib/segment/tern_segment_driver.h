/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_SEGMENT_DRIVER_H
#define TERN_SEGMENT_DRIVER_H

/**
 * @file
 * Segments, the driver SDK side: the slot and table layout and the
 * lock-free fast path (lookup, acquire, release) that the engine and the
 * transports use on every slice. Not installed: applications see
 * tern_segment.h only, where both structs are opaque.
 */

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_memory.h>

#include <tern_segment.h>

#ifdef __cplusplus
extern "C" {
#endif

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
	/**
	 * Last resort (tern_segment_set_fallback()): slot + 1 of the REMOTE
	 * segment of another transport that the engine posts this one's new
	 * slices to while this one's transport has no live rail to it
	 * (tern_transport_ops.rail_live); 0: none.
	 */
	uint16_t fallback;
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

/** A table of segments (opaque layout lives in the memzone). */
struct tern_segment_table {
	char name[32];
	uint32_t capacity; /**< slots */
	uint32_t nb_active;
	const void *memzone;
	struct tern_segment slots[];
};

/** @return whether @p seg is a LOCAL segment offered to peers (see tern_segment_export()). */
static inline int
tern_segment_exported(const struct tern_segment *seg)
{
	return seg->kind == TERN_SEGMENT_LOCAL &&
	       (__atomic_load_n(&seg->flags, __ATOMIC_ACQUIRE) & TERN_SEGMENT_F_EXPORTED) != 0;
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

#endif /* TERN_SEGMENT_DRIVER_H */
