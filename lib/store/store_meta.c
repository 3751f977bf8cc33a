/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The embedded metadata: a fixed array of records, an open-addressing hash
 * (linear probing, backward-shift deletion, at most half full) from the
 * key to the record's index (LIVE records only), and an LRU list of LIVE
 * records threaded through the array. Everything is sized at creation and
 * private to the process (not rte_hash: its tables live in the shared
 * hugepage memory of every process of the dataplane, and a client process
 * that dies would leave its table there). Nothing allocates afterwards.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_jhash.h>

#include "store_private.h"

static uint32_t
key_slot(const struct store_meta *m, const char *key)
{
	return rte_jhash(key, (uint32_t)strnlen(key, TERN_STORE_KEY_MAX), 0x7465726e) & m->mask;
}

int
store_meta_init(struct store_meta *m, uint32_t max)
{
	uint32_t i;

	memset(m, 0, sizeof(*m));
	if (max == 0 || max > (1u << 30))
		return -EINVAL;
	m->mask = (uint32_t)rte_align64pow2(2ull * max) - 1;
	m->rec = calloc(max, sizeof(*m->rec));
	m->slots = malloc(((size_t)m->mask + 1) * sizeof(*m->slots));
	if (m->rec == NULL || m->slots == NULL) {
		free(m->rec);
		free(m->slots);
		memset(m, 0, sizeof(*m));
		return -ENOMEM;
	}
	for (i = 0; i <= m->mask; i++)
		m->slots[i] = STORE_REC_NONE;
	m->max = max;
	for (i = 0; i < max; i++)
		m->rec[i].next = i + 1 < max ? i + 1 : STORE_REC_NONE;
	m->free_head = 0;
	m->lru_head = m->lru_tail = STORE_REC_NONE;
	return 0;
}

void
store_meta_fini(struct store_meta *m)
{
	free(m->slots);
	free(m->rec);
	memset(m, 0, sizeof(*m));
}

uint32_t
store_meta_take(struct store_meta *m, const char *key)
{
	uint32_t idx = m->free_head;
	struct store_record *r;

	if (idx == STORE_REC_NONE)
		return idx;
	r = &m->rec[idx];
	m->free_head = r->next;
	memset(r, 0, sizeof(*r));
	strncpy(r->key, key, sizeof(r->key) - 1);
	r->state = STORE_REC_RESERVED;
	r->prev = r->next = STORE_REC_NONE;
	return idx;
}

void
store_meta_drop(struct store_meta *m, uint32_t idx)
{
	struct store_record *r = &m->rec[idx];

	r->state = STORE_REC_FREE;
	r->next = m->free_head;
	m->free_head = idx;
}

uint32_t
store_meta_lookup(const struct store_meta *m, const char *padded_key)
{
	uint32_t i = key_slot(m, padded_key);

	while (m->slots[i] != STORE_REC_NONE) {
		if (strcmp(m->rec[m->slots[i]].key, padded_key) == 0)
			return m->slots[i];
		i = (i + 1) & m->mask;
	}
	return STORE_REC_NONE;
}

/* Take @idx out of the hash: backward-shift the entries after it whose
 * home slot lies at or before the hole, so probes never meet a gap. */
static void
hash_del(struct store_meta *m, uint32_t idx)
{
	uint32_t i = key_slot(m, m->rec[idx].key), j, k;

	while (m->slots[i] != idx) {
		if (m->slots[i] == STORE_REC_NONE)
			return;
		i = (i + 1) & m->mask;
	}
	for (j = (i + 1) & m->mask; m->slots[j] != STORE_REC_NONE; j = (j + 1) & m->mask) {
		k = key_slot(m, m->rec[m->slots[j]].key);
		/* Movable when k is not cyclically in (i, j]. */
		if (((j - k) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i] = STORE_REC_NONE;
}

static void
hash_add(struct store_meta *m, uint32_t idx)
{
	uint32_t i = key_slot(m, m->rec[idx].key);

	while (m->slots[i] != STORE_REC_NONE)
		i = (i + 1) & m->mask;
	m->slots[i] = idx;
}

static void
lru_remove(struct store_meta *m, uint32_t idx)
{
	struct store_record *r = &m->rec[idx];

	if (r->prev != STORE_REC_NONE)
		m->rec[r->prev].next = r->next;
	else
		m->lru_head = r->next;
	if (r->next != STORE_REC_NONE)
		m->rec[r->next].prev = r->prev;
	else
		m->lru_tail = r->prev;
	r->prev = r->next = STORE_REC_NONE;
}

static void
lru_append(struct store_meta *m, uint32_t idx)
{
	struct store_record *r = &m->rec[idx];

	r->prev = m->lru_tail;
	r->next = STORE_REC_NONE;
	if (m->lru_tail != STORE_REC_NONE)
		m->rec[m->lru_tail].next = idx;
	else
		m->lru_head = idx;
	m->lru_tail = idx;
}

void
store_meta_unlink(struct store_meta *m, uint32_t idx)
{
	struct store_record *r = &m->rec[idx];

	hash_del(m, idx);
	lru_remove(m, idx);
	r->state = STORE_REC_DEAD;
	m->nb_live--;
}

int
store_meta_commit(struct store_meta *m, uint32_t idx, bool replace, uint32_t *old)
{
	struct store_record *r = &m->rec[idx];
	uint32_t prev = store_meta_lookup(m, r->key);

	*old = STORE_REC_NONE;
	if (prev != STORE_REC_NONE) {
		if (!replace)
			return -EEXIST;
		store_meta_unlink(m, prev);
		*old = prev;
	}
	/* Cannot fail for want of room: twice as many slots as records. */
	hash_add(m, idx);
	r->state = STORE_REC_LIVE;
	r->version = ++m->version;
	r->owned = false;
	lru_append(m, idx);
	m->nb_live++;
	return 0;
}

void
store_meta_touch(struct store_meta *m, uint32_t idx)
{
	lru_remove(m, idx);
	lru_append(m, idx);
}

uint32_t
store_meta_next(const struct store_meta *m, uint32_t *iter)
{
	while (*iter <= m->mask) {
		uint32_t idx = m->slots[(*iter)++];

		if (idx != STORE_REC_NONE)
			return idx;
	}
	return STORE_REC_NONE;
}
