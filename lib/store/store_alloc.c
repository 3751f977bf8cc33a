/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A node's extent allocator: first fit over a sorted array of free extents,
 * coalesced on free. The owner of the node is the only caller (doc/store.md:
 * remote putters ask the owner). Bounded: at most max_allocs + 1 free
 * extents exist, so the array never grows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

uint64_t
store_alloc_size(uint64_t length)
{
	return (length + STORE_ALLOC_ALIGN - 1) & ~(uint64_t)(STORE_ALLOC_ALIGN - 1);
}

int
store_alloc_init(struct store_alloc *a, uint64_t capacity, uint32_t max_allocs)
{
	capacity &= ~(uint64_t)(STORE_ALLOC_ALIGN - 1);
	if (a == NULL || capacity == 0 || max_allocs == 0 || max_allocs == UINT32_MAX)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->max_free = max_allocs + 1;
	a->free = calloc(a->max_free, sizeof(*a->free));
	if (a->free == NULL)
		return -ENOMEM;
	a->capacity = capacity;
	a->free[0].offset = 0;
	a->free[0].length = capacity;
	a->nb_free = 1;
	return 0;
}

void
store_alloc_fini(struct store_alloc *a)
{
	if (a == NULL)
		return;
	free(a->free);
	memset(a, 0, sizeof(*a));
}

int
store_alloc_get(struct store_alloc *a, uint64_t length, uint64_t *offset)
{
	uint64_t need = store_alloc_size(length);
	uint32_t i;

	if (length == 0 || need < length)
		return -EINVAL;
	for (i = 0; i < a->nb_free; i++) {
		struct store_extent *e = &a->free[i];

		if (e->length < need)
			continue;
		*offset = e->offset;
		e->offset += need;
		e->length -= need;
		if (e->length == 0) {
			memmove(e, e + 1, (a->nb_free - i - 1) * sizeof(*e));
			a->nb_free--;
		}
		a->used += need;
		return 0;
	}
	return -ENOSPC;
}

int
store_alloc_put(struct store_alloc *a, uint64_t offset, uint64_t length)
{
	uint64_t len = store_alloc_size(length);
	uint32_t lo = 0, hi, i;
	bool join_prev, join_next;

	if (length == 0 || offset % STORE_ALLOC_ALIGN != 0 || offset >= a->capacity ||
	    len > a->capacity - offset)
		return -EINVAL;
	/* i: the first free extent after offset. */
	hi = a->nb_free;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (a->free[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	i = lo;
	if (i < a->nb_free && a->free[i].offset < offset + len)
		return -EINVAL;
	if (i > 0 && a->free[i - 1].offset + a->free[i - 1].length > offset)
		return -EINVAL;
	join_prev = i > 0 && a->free[i - 1].offset + a->free[i - 1].length == offset;
	join_next = i < a->nb_free && a->free[i].offset == offset + len;
	if (join_prev && join_next) {
		a->free[i - 1].length += len + a->free[i].length;
		memmove(&a->free[i], &a->free[i + 1], (a->nb_free - i - 1) * sizeof(a->free[0]));
		a->nb_free--;
	} else if (join_prev) {
		a->free[i - 1].length += len;
	} else if (join_next) {
		a->free[i].offset = offset;
		a->free[i].length += len;
	} else {
		if (a->nb_free == a->max_free)
			return -EINVAL; /* more frees than allocations: not ours */
		memmove(&a->free[i + 1], &a->free[i], (a->nb_free - i) * sizeof(a->free[0]));
		a->free[i].offset = offset;
		a->free[i].length = len;
		a->nb_free++;
	}
	a->used -= len;
	return 0;
}

int
store_alloc_take(struct store_alloc *a, uint64_t offset, uint64_t length)
{
	uint64_t len = store_alloc_size(length);
	uint32_t lo = 0, hi = a->nb_free, i;
	struct store_extent *e;

	if (length == 0 || offset % STORE_ALLOC_ALIGN != 0 || offset >= a->capacity ||
	    len > a->capacity - offset)
		return -EINVAL;
	/* i: the last free extent starting at or before offset. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (a->free[mid].offset <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -EINVAL;
	i = lo - 1;
	e = &a->free[i];
	if (e->offset + e->length < offset + len)
		return -EINVAL;
	if (e->offset == offset) {
		e->offset += len;
		e->length -= len;
		if (e->length == 0) {
			memmove(e, e + 1, (a->nb_free - i - 1) * sizeof(*e));
			a->nb_free--;
		}
	} else if (e->offset + e->length == offset + len) {
		e->length -= len;
	} else {
		if (a->nb_free == a->max_free)
			return -ENOSPC;
		memmove(e + 1, e, (a->nb_free - i) * sizeof(*e));
		a->nb_free++;
		e[1].offset = offset + len;
		e[1].length = e->offset + e->length - (offset + len);
		e->length = offset - e->offset;
	}
	a->used += len;
	return 0;
}

uint64_t
store_alloc_largest(const struct store_alloc *a)
{
	uint64_t best = 0;
	uint32_t i;

	for (i = 0; i < a->nb_free; i++)
		if (a->free[i].length > best)
			best = a->free[i].length;
	return best;
}
