/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The embedded metadata: a fixed array of records, an rte_hash from the
 * zero-padded key to the record's index (LIVE records only), and an LRU
 * list of LIVE records threaded through the array. Everything is sized at
 * creation; nothing allocates afterwards.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>

#include "store_private.h"

int
store_meta_init(struct store_meta *m, const char *name, uint32_t max)
{
	char hname[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters p = {
		.name = hname,
		.entries = max,
		.key_len = TERN_STORE_KEY_MAX,
		.hash_func = rte_jhash,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	uint32_t i;

	memset(m, 0, sizeof(*m));
	if (max == 0 || max >= STORE_REC_NONE)
		return -EINVAL;
	snprintf(hname, sizeof(hname), "tstore_%s", name);
	if (rte_hash_find_existing(hname) != NULL)
		return -EEXIST;
	m->rec = calloc(max, sizeof(*m->rec));
	if (m->rec == NULL)
		return -ENOMEM;
	m->hash = rte_hash_create(&p);
	if (m->hash == NULL) {
		free(m->rec);
		m->rec = NULL;
		return -ENOMEM;
	}
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
	rte_hash_free(m->hash);
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
	void *data;

	if (rte_hash_lookup_data(m->hash, padded_key, &data) < 0)
		return STORE_REC_NONE;
	return (uint32_t)(uintptr_t)data;
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

	rte_hash_del_key(m->hash, r->key);
	lru_remove(m, idx);
	r->state = STORE_REC_DEAD;
	m->nb_live--;
}

int
store_meta_commit(struct store_meta *m, uint32_t idx, bool replace, uint32_t *old)
{
	struct store_record *r = &m->rec[idx];
	uint32_t prev = store_meta_lookup(m, r->key);
	int ret;

	*old = STORE_REC_NONE;
	if (prev != STORE_REC_NONE) {
		if (!replace)
			return -EEXIST;
		store_meta_unlink(m, prev);
		*old = prev;
	}
	/* Cannot fail for want of room: the hash holds as many keys as there
	 * are records, and the extendable table takes collisions. */
	ret = rte_hash_add_key_data(m->hash, r->key, (void *)(uintptr_t)idx);
	if (ret < 0)
		return ret;
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
	const void *key;
	void *data;

	if (rte_hash_iterate(m->hash, &key, &data, iter) < 0)
		return STORE_REC_NONE;
	return (uint32_t)(uintptr_t)data;
}
