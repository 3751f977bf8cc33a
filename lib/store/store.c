/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The store's public calls (doc/store.md). A put: validate, reserve at the
 * owners (placement, eviction), one engine batch of WRITEs, commit at
 * resolution. A get: look up, take a read reference, one engine batch of
 * READs, fall back replica by replica on failure, drop the references.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_telemetry.h>

#include <tern_directory.h>
#include <tern_time.h>

#include "store_private.h"

static int store_logtype = RTE_LOGTYPE_USER1;

RTE_INIT(store_log_init)
{
	int t = rte_log_register_type_and_pick_level("tern.store", RTE_LOG_NOTICE);

	if (t >= 0)
		store_logtype = t;
}

#define STORE_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, store_logtype, "tern_store: " fmt "\n", ##__VA_ARGS__)

#define STORE_MAGIC		 0x53544f5245u /* "STORE" */
#define DEF_MAX_OBJECTS		 65536u
#define DEF_MAX_INFLIGHT	 16u
#define DEF_HIGH_PCT		 90u
#define DEF_LEASE_NS		 (30ull * 1000000000ull)
#define STORE_NAME_MAX		 16
#define STORE_METADATA_MAX	 512
#define OWNER_TIMEOUT_MS	 5000u
#define PENDING_RETRY_NS	 (1000ull * 1000000ull) /* an ambiguous commit read back again */
#define SETTLE_TRIES		 3u
#define DEF_ATTACHED_DEADLINE_NS (5ull * 1000000000ull)
#define DEF_ATTACHED_MAX_BATCH	 64u
/* Arenas (doc/store.md, *Arenas*): a node's capacity / ARENA_DIV, at most
 * ARENA_MAX, none under ARENA_MIN; objects up to a quarter of it. */
#define ARENA_SLOTS    4u
#define ARENA_DIV      4u
#define ARENA_MAX      (64ull << 20)
#define ARENA_MIN      (64ull << 10)
#define ARENA_RETRY_NS (100ull * 1000000ull) /* after the owner refused one */
/* No commit into an arena with less lease left (the owner may end it). */
#define ARENA_MARGIN_NS (1000ull * 1000000ull)

enum future_kind { F_FREE = 0, F_PUT, F_GET };

struct tern_store_future {
	struct tern_store *store;
	uint8_t kind;
	bool resolved;
	uint32_t nb;
	uint32_t flags;
	struct tern_future *ef; /* the engine batch, or NULL (nothing to move) */
	int status;		/* first failure in batch order, once resolved */
	int res[TERN_STORE_BATCH_MAX];
	uint64_t size[TERN_STORE_BATCH_MAX];
	uint32_t rec[TERN_STORE_BATCH_MAX];  /* reserved (put) or referenced (get) record */
	uint8_t tried[TERN_STORE_BATCH_MAX]; /* get: the replica read first */
	void *buf[TERN_STORE_BATCH_MAX];     /* get: destination */
};

enum arena_state {
	A_NONE = 0,
	A_OPEN,	  /* objects are placed in it */
	A_CLOSED, /* no more: ended (ARENA_END) once nothing in it is outstanding */
	A_DEAD,	  /* its lease is over (the owner took it back): the slot waits for
		   * its outstanding objects to resolve */
};

/* A range of an owned node the owner granted this store (ARENA): its
 * objects are placed here with no request, and committed one-way. */
struct store_arena {
	uint8_t state;
	uint32_t outstanding;  /* objects placed in it, neither committed nor freed */
	uint64_t base, length; /* in the node */
	uint64_t place_end_ns; /* placements until then (half the lease) */
	uint64_t lease_end_ns; /* the owner's lease ends after this */
	struct store_alloc alloc;
};

struct store_node {
	struct tern_store_node_conf conf;
	struct store_alloc alloc;
	/* Owned through this process's dataplane: arenas of arena_len bytes
	 * (0: none), the one objects go to (cur, or -1). */
	uint64_t arena_len;
	uint64_t arena_retry_ns;
	int arena_cur;
	struct store_arena arena[ARENA_SLOTS];
	/* Owned nodes: where the owner answers (dir: a peer's p2p handle). */
	struct store_owner_addr owner;
	char owner_node[TERN_DESCRIPTOR_NAME_MAX];
	char owner_segment[TERN_DESCRIPTOR_NAME_MAX];
};

struct tern_store {
	uint64_t magic;
	char name[STORE_NAME_MAX];
	struct tern_store_conf conf; /* defaults filled in; nodes points below */
	struct tern_engine *engine;
	struct tern_client *client;
	bool own_client;    /* created here (else the caller's attached client) */
	uint32_t max_batch; /* the engine's */
	struct store_node node[TERN_STORE_NODES_MAX];
	struct tern_store_node_conf node_conf[TERN_STORE_NODES_MAX];
	struct store_meta meta;
	struct tern_directory *dir; /* etcd or Redis metadata; NULL: embedded */
	char metadata[STORE_METADATA_MAX];
	struct tern_store_future *futures;
	struct tern_store_stats stats; /* written by the store's thread, read by any */
	struct tern_request reqs[TERN_BATCH_MAX];
	/* A put batch's extents on owned node 0, reserved in bulk
	 * (prereserve()): pre_cur is the key being placed, or -1. */
	uint64_t pre_off[TERN_STORE_BATCH_MAX][TERN_STORE_NODES_MAX];
	bool pre_ok[TERN_STORE_BATCH_MAX][TERN_STORE_NODES_MAX];
	/* The nodes prereserve() planned for each key (place() tries them first). */
	uint8_t pre_plan[TERN_STORE_BATCH_MAX][TERN_STORE_REPLICAS_MAX];
	uint8_t pre_nb_plan[TERN_STORE_BATCH_MAX];
	int pre_cur;
	int commit_err[TERN_STORE_BATCH_MAX]; /* resolve_put(): COMMIT_N per key */
	uint32_t nb_pending;		      /* records after an ambiguous commit */
	int ext_res[TERN_STORE_BATCH_MAX];    /* resolve_put(): each key's metadata commit */
	char ext_text[TERN_STORE_BATCH_MAX][STORE_EXT_TEXT_MAX]; /* the records sent or read */
	size_t ext_len[TERN_STORE_BATCH_MAX];  /* tern_store_get(): each record's length */
	size_t ext_lens[TERN_STORE_BATCH_MAX]; /* ext_read_batch(): as the directory gives them */
};

#define STAT_ADD(s, field, n) \
	__atomic_store_n(&(s)->stats.field, (s)->stats.field + (n), __ATOMIC_RELAXED)
#define STAT_SUB(s, field, n) \
	__atomic_store_n(&(s)->stats.field, (s)->stats.field - (n), __ATOMIC_RELAXED)

/* ---- keys ---- */

/* Copy @key zero-padded into @out; the key's length or -EINVAL. */
static int
key_pad(const char *key, char out[TERN_STORE_KEY_MAX], bool allow_empty)
{
	size_t n;

	if (key == NULL)
		return -EINVAL;
	memset(out, 0, TERN_STORE_KEY_MAX);
	for (n = 0; n < TERN_STORE_KEY_MAX && key[n] != '\0'; n++) {
		if ((unsigned char)key[n] < 0x21 || (unsigned char)key[n] > 0x7e)
			return -EINVAL;
		out[n] = key[n];
	}
	if (n == TERN_STORE_KEY_MAX || (n == 0 && !allow_empty))
		return -EINVAL;
	return (int)n;
}

/* ---- memory of records ---- */

/* A request about one extent of an owned node to its owner. */
static int
owner_request(struct tern_store *s, unsigned int n, uint16_t op, uint64_t size, uint64_t *offset)
{
	struct store_wire_req q = {
		.op = op,
		.segment = s->node[n].conf.segment,
		.pid = (uint32_t)getpid(),
		.length = size,
		.offset = op == STORE_WIRE_RESERVE || op == STORE_WIRE_ARENA ? 0 : *offset,
		.lease_ms = op == STORE_WIRE_RESERVE || op == STORE_WIRE_ARENA
				    ? (uint32_t)RTE_MIN(s->conf.lease_ns / 1000000,
							STORE_WIRE_LEASE_MS_MAX)
				    : 0,
	};
	struct store_wire_rep r;
	int ret = store_owner_call(&s->node[n].owner, &q, &r, OWNER_TIMEOUT_MS);

	if (ret == 0 && (op == STORE_WIRE_RESERVE || op == STORE_WIRE_ARENA))
		*offset = r.offset;
	return ret;
}

/* ---- arenas (doc/store.md, *Arenas*) ---- */

/* Give arena @k of node @n back to the owner: one-way, or waiting for the
 * answer (@sync: the store goes away). */
static void
arena_end(struct tern_store *s, unsigned int n, unsigned int k, bool sync)
{
	struct store_arena *ar = &s->node[n].arena[k];
	struct store_wire_req q = {
		.op = STORE_WIRE_ARENA_END,
		.segment = s->node[n].conf.segment,
		.pid = (uint32_t)getpid(),
		.length = ar->length,
		.offset = ar->base,
	};
	uint8_t msg[STORE_WIRE_REQ_LEN];
	struct store_wire_rep r;
	int ret;

	store_wire_req_encode(&q, msg);
	ret = sync ? store_owner_call(&s->node[n].owner, &q, &r, OWNER_TIMEOUT_MS)
		   : store_owner_send(msg, sizeof(msg));
	if (ret != 0)
		STORE_LOG(WARNING, "%s: end of the arena %" PRIu64 "+%" PRIu64 " at node %u: %s",
			  s->name, ar->base, ar->length, n, strerror(-ret));
	store_alloc_fini(&ar->alloc);
	ar->state = A_NONE;
	if (s->node[n].arena_cur == (int)k)
		s->node[n].arena_cur = -1;
}

/* Arena housekeeping: close those past their placement time, end closed
 * ones with nothing outstanding, forget dead ones once resolved. */
static void
arena_poll(struct tern_store *s, unsigned int n, uint64_t now)
{
	struct store_node *nd = &s->node[n];
	unsigned int k;

	for (k = 0; k < ARENA_SLOTS; k++) {
		struct store_arena *ar = &nd->arena[k];

		if (ar->state == A_NONE)
			continue;
		if (ar->state != A_DEAD && now >= ar->lease_end_ns)
			ar->state = A_DEAD;
		if (ar->state == A_OPEN && now >= ar->place_end_ns)
			ar->state = A_CLOSED;
		if (ar->state != A_OPEN && nd->arena_cur == (int)k)
			nd->arena_cur = -1;
		if (ar->outstanding > 0)
			continue;
		if (ar->state == A_CLOSED) {
			arena_end(s, n, k, false);
		} else if (ar->state == A_DEAD) {
			store_alloc_fini(&ar->alloc);
			ar->state = A_NONE;
		}
	}
}

/* A new arena at node @n's owner: 0 (arena_cur set), or an error (the
 * caller reserves at the owner on its own). */
static int
arena_grant(struct tern_store *s, unsigned int n, uint64_t now)
{
	struct store_node *nd = &s->node[n];
	struct store_arena *ar = NULL;
	uint64_t off = 0;
	unsigned int k;
	int ret;

	if (now < nd->arena_retry_ns)
		return -EAGAIN;
	for (k = 0; k < ARENA_SLOTS && ar == NULL; k++)
		if (nd->arena[k].state == A_NONE)
			ar = &nd->arena[k];
	if (ar == NULL)
		return -EAGAIN;
	k = (unsigned int)(ar - nd->arena);
	ret = store_alloc_init(
		&ar->alloc, nd->arena_len,
		(uint32_t)RTE_MIN(s->conf.max_objects, nd->arena_len / ARENA_MIN * 16));
	if (ret != 0)
		return ret;
	ret = owner_request(s, n, STORE_WIRE_ARENA, nd->arena_len, &off);
	if (ret != 0) {
		store_alloc_fini(&ar->alloc);
		if (ret == -EPROTO) /* an owner without arenas */
			nd->arena_len = 0;
		nd->arena_retry_ns = now + ARENA_RETRY_NS;
		return ret;
	}
	/* The lease runs from before the request: this side ends it first. */
	ar->state = A_OPEN;
	ar->outstanding = 0;
	ar->base = off;
	ar->length = nd->arena_len;
	ar->place_end_ns = now + s->conf.lease_ns / 2;
	ar->lease_end_ns = now + s->conf.lease_ns;
	nd->arena_cur = (int)k;
	return 0;
}

/* Place @size bytes in node @n's open arena (a new one when it is full):
 * 0 with *offset and *slot (1 + the arena), or an error (the caller
 * reserves at the owner on its own). */
static int
arena_place(struct tern_store *s, unsigned int n, uint64_t size, uint64_t *offset, uint8_t *slot)
{
	struct store_node *nd = &s->node[n];
	uint64_t now = tern_clock_ns(), sub;
	struct store_arena *ar;
	unsigned int tries;

	if (nd->arena_len == 0 || store_alloc_size(size) > nd->arena_len / 4)
		return -EAGAIN;
	for (tries = 0; tries < 2; tries++) {
		if (nd->arena_cur < 0) {
			arena_poll(s, n, now);
			if (arena_grant(s, n, now) != 0)
				return -EAGAIN;
		}
		ar = &nd->arena[nd->arena_cur];
		if (ar->state == A_OPEN && now < ar->place_end_ns &&
		    store_alloc_get(&ar->alloc, size, &sub) == 0) {
			ar->outstanding++;
			*offset = ar->base + sub;
			*slot = (uint8_t)(nd->arena_cur + 1);
			return 0;
		}
		/* Full (or past its time): no more placements there. */
		if (ar->state == A_OPEN)
			ar->state = A_CLOSED;
		nd->arena_cur = -1;
	}
	return -EAGAIN;
}

/* An object placed in arena @slot - 1 of node @n is done with it: committed
 * (the owner has the range now), or given back to the arena (never
 * committed: its WRITE has resolved, the range is reused). */
static void
arena_done(struct tern_store *s, unsigned int n, uint8_t slot, uint64_t offset, uint64_t size,
	   bool committed)
{
	struct store_arena *ar = &s->node[n].arena[slot - 1];

	if (!committed && ar->state != A_DEAD)
		store_alloc_put(&ar->alloc, offset - ar->base, size);
	if (ar->outstanding > 0)
		ar->outstanding--;
	if (ar->outstanding == 0 && ar->state != A_OPEN)
		arena_poll(s, n, tern_clock_ns());
}

static void
node_free(struct tern_store *s, unsigned int n, uint64_t offset, uint64_t size)
{
	struct store_alloc *a = &s->node[n].alloc;
	int ret;

	if (s->node[n].conf.flags & TERN_STORE_NODE_F_OWNED) {
		ret = owner_request(s, n, STORE_WIRE_FREE, size, &offset);
		a->used -= store_alloc_size(size); /* ours no more, whatever the owner said */
	} else {
		ret = store_alloc_put(a, offset, size);
	}
	if (ret != 0)
		STORE_LOG(ERR, "%s: free of %" PRIu64 "+%" PRIu64 " at node %u: %s", s->name,
			  offset, size, n, strerror(-ret));
}

static void
record_free_extents(struct tern_store *s, struct store_record *r)
{
	unsigned int i;

	if (r->size == 0)
		return;
	for (i = 0; i < r->nb_rep; i++) {
		if (r->arena[i] != 0) {
			/* Never committed: back to its arena, no request. */
			arena_done(s, r->node[i], r->arena[i], r->offset[i], r->size, false);
			s->node[r->node[i]].alloc.used -= store_alloc_size(r->size);
			r->arena[i] = 0;
			continue;
		}
		node_free(s, r->node[i], r->offset[i], r->size);
	}
}

/* Free a RESERVED or DEAD record and its extents. */
static void
record_release(struct tern_store *s, uint32_t idx)
{
	struct store_record *r = &s->meta.rec[idx];

	if (r->state == STORE_REC_RESERVED)
		STAT_SUB(s, reserved, 1);
	free(r->expect);
	r->expect = NULL;
	record_free_extents(s, r);
	store_meta_drop(&s->meta, idx);
}

/* Unlink a LIVE record (the record first), free its memory unless read. */
static void
record_forget(struct tern_store *s, uint32_t idx)
{
	struct store_record *r = &s->meta.rec[idx];

	store_meta_unlink(&s->meta, idx);
	STAT_SUB(s, objects, 1);
	STAT_SUB(s, bytes, r->size);
	if (r->refs == 0)
		record_release(s, idx);
}

/* Remove a LIVE record: from the external metadata first (unless @external
 * is false: it is gone there already), then here. */
static int
record_remove(struct tern_store *s, uint32_t idx, bool external)
{
	int ret;

	if (s->dir != NULL && external) {
		ret = tern_directory_kv_del(s->dir, s->meta.rec[idx].key);
		if (ret < 0 && ret != -ENOENT)
			return ret;
	}
	record_forget(s, idx);
	return 0;
}

static void
record_unref(struct tern_store *s, uint32_t idx)
{
	struct store_record *r = &s->meta.rec[idx];

	if (--r->refs == 0 && r->state == STORE_REC_DEAD)
		record_release(s, idx);
}

static void
stats_used(struct tern_store *s)
{
	uint64_t used = 0;
	unsigned int i;

	for (i = 0; i < s->conf.nb_nodes; i++)
		used += s->node[i].alloc.used;
	__atomic_store_n(&s->stats.used, used, __ATOMIC_RELAXED);
}

/* ---- external metadata (etcd, Redis) ---- */

static int
ext_encode(const struct tern_store *s, const struct store_record *r, char *buf, size_t len)
{
	struct store_ext_rec e = { .size = r->size, .version = r->version, .nb_rep = r->nb_rep };
	unsigned int i;

	memcpy(e.owner, s->name, sizeof(e.owner));
	for (i = 0; i < r->nb_rep; i++) {
		const struct store_node *n = &s->node[r->node[i]];

		e.node[i] = r->node[i];
		e.offset[i] = r->offset[i];
		if (n->owner_node[0] != '\0') {
			memcpy(e.onode[i], n->owner_node, sizeof(e.onode[i]));
			memcpy(e.oseg[i], n->owner_segment, sizeof(e.oseg[i]));
		}
	}
	return store_ext_encode(&e, buf, len);
}

/* A record read's answer (@ret, @len bytes of @text) decoded into @e. */
static int
ext_answer(int ret, const char *text, size_t len, struct store_ext_rec *e)
{
	if (ret == -ENOSPC)
		ret = -EPROTO;
	if (ret == 0)
		ret = store_ext_decode(text, len, e);
	return ret;
}

/* The external record of @key: 0, -ENOENT, -EPROTO (not a record), backend errors. */
static int
ext_get(struct tern_store *s, const char *key, struct store_ext_rec *e)
{
	char text[STORE_EXT_TEXT_MAX];
	size_t len = 0;
	int ret;

	ret = tern_directory_kv_get(s->dir, key, text, sizeof(text), &len);
	return ext_answer(ret, text, len, e);
}

static void pending_settle(struct tern_store *s, const char *key, bool force);

/* ---- eviction and leases ---- */

/* Evict the least-recently-used unread object with a replica on @node
 * (any node when @node < 0). Returns false when there is none. */
static bool
evict_one(struct tern_store *s, int node)
{
	uint32_t idx = s->meta.lru_head;

	while (idx != STORE_REC_NONE) {
		struct store_record *r = &s->meta.rec[idx];
		bool on_node = node < 0;
		unsigned int i;

		for (i = 0; i < r->nb_rep && !on_node; i++)
			on_node = r->node[i] == node;
		if (r->refs == 0 && on_node && (node < 0 || r->size > 0)) {
			/* The metadata unreachable: nothing can be evicted. */
			if (record_remove(s, idx, true) != 0)
				return false;
			STAT_ADD(s, evictions, 1);
			return true;
		}
		idx = r->next;
	}
	return false;
}

int
tern_store_poll(struct tern_store *s)
{
	uint64_t now = tern_clock_ns();
	int freed = 0;
	uint32_t i;

	if (s == NULL || s->magic != STORE_MAGIC)
		return -EINVAL;
	if (s->nb_pending > 0)
		pending_settle(s, NULL, false);
	for (i = 0; i < s->conf.nb_nodes; i++)
		if (s->node[i].arena_len > 0)
			arena_poll(s, i, now);
	if (s->stats.reserved == 0)
		return 0;
	for (i = 0; i < s->meta.max; i++) {
		struct store_record *r = &s->meta.rec[i];

		if (r->state == STORE_REC_RESERVED && !r->owned && now >= r->lease_end_ns) {
			record_release(s, i);
			STAT_ADD(s, lease_expired, 1);
			freed++;
		}
	}
	if (freed > 0)
		stats_used(s);
	return freed;
}

/* Reserve @size bytes at node @n, evicting above the watermark or when it
 * does not fit. */
static int
node_reserve(struct tern_store *s, unsigned int n, uint64_t size, uint64_t *offset, uint8_t *slot)
{
	struct store_alloc *a = &s->node[n].alloc;
	uint64_t need = store_alloc_size(size);
	uint64_t high = a->capacity / 100 * s->conf.high_watermark_pct +
			a->capacity % 100 * s->conf.high_watermark_pct / 100;
	uint64_t low = high > a->capacity / 10 ? high - a->capacity / 10 : 0;

	if (need > a->capacity)
		return -ENOSPC;
	if (s->node[n].conf.flags & TERN_STORE_NODE_F_OWNED) {
		/* The owner says when it is full; then this store evicts its own
		 * least recently used objects there. */
		int ret;

		*slot = 0;
		if (arena_place(s, n, size, offset, slot) == 0) {
			a->used += need;
			return 0;
		}
		if (s->pre_cur >= 0 && s->pre_ok[s->pre_cur][n]) {
			*offset = s->pre_off[s->pre_cur][n];
			s->pre_ok[s->pre_cur][n] = false;
			a->used += need;
			return 0;
		}
		while ((ret = owner_request(s, n, STORE_WIRE_RESERVE, size, offset)) == -ENOSPC)
			if (!evict_one(s, (int)n))
				return -ENOSPC;
		if (ret == 0)
			a->used += need;
		return ret;
	}
	if (a->used + need > high)
		while (a->used + need > low && evict_one(s, (int)n))
			;
	while (store_alloc_get(a, size, offset) != 0)
		if (!evict_one(s, (int)n))
			return -ENOSPC;
	return 0;
}

/* Choose and reserve @nb_rep distinct nodes for record @idx: node 0 first,
 * then the others by free bytes. */
static int
place(struct tern_store *s, uint32_t idx, unsigned int nb_rep)
{
	struct store_record *r = &s->meta.rec[idx];
	unsigned int order[TERN_STORE_NODES_MAX], nb = 0, i, j;
	int ret = -ENOSPC;

	if (r->size == 0) { /* nothing to place: no replica */
		r->nb_rep = 0;
		return 0;
	}
	for (i = 0; i < s->conf.nb_nodes; i++)
		order[i] = i;
	if (s->pre_cur >= 0 && s->pre_nb_plan[s->pre_cur] > 0) {
		/* prereserve()'s plan first (its extents are reserved), then the
		 * others in index order. */
		const uint8_t *plan = s->pre_plan[s->pre_cur];

		nb = 0;
		for (i = 0; i < s->pre_nb_plan[s->pre_cur]; i++)
			order[nb++] = plan[i];
		for (i = 0; i < s->conf.nb_nodes; i++)
			if (memchr(plan, (int)i, s->pre_nb_plan[s->pre_cur]) == NULL)
				order[nb++] = i;
		nb = 0;
	} else {
		for (i = 2; i < s->conf.nb_nodes; i++) /* insertion sort of 1.., most free first */
			for (j = i; j > 1; j--) {
				const struct store_alloc *x = &s->node[order[j - 1]].alloc;
				const struct store_alloc *y = &s->node[order[j]].alloc;
				unsigned int t;

				if (x->capacity - x->used >= y->capacity - y->used)
					break;
				t = order[j];
				order[j] = order[j - 1];
				order[j - 1] = t;
			}
	}
	for (i = 0; i < s->conf.nb_nodes && nb < nb_rep && nb < TERN_STORE_REPLICAS_MAX; i++) {
		uint64_t off = 0;
		uint8_t slot = 0;

		ret = node_reserve(s, order[i], r->size, &off, &slot);
		if (ret != 0)
			continue;
		r->arena[nb] = slot;
		r->node[nb] = (uint8_t)order[i];
		r->offset[nb] = off;
		nb++;
		r->nb_rep = (uint8_t)nb;
	}
	if (nb < nb_rep) {
		record_free_extents(s, r);
		r->nb_rep = 0;
		return -ENOSPC;
	}
	return 0;
}

/* ---- futures ---- */

static struct tern_store_future *
future_get(struct tern_store *s, uint8_t kind, uint32_t nb)
{
	uint32_t i;

	for (i = 0; i < s->conf.max_inflight; i++) {
		struct tern_store_future *f = &s->futures[i];

		if (f->kind != F_FREE)
			continue;
		f->store = s;
		f->kind = kind;
		f->resolved = false;
		f->nb = nb;
		f->flags = 0;
		f->ef = NULL;
		f->status = 0;
		return f;
	}
	rte_errno = EAGAIN;
	return NULL;
}

static bool
future_valid(const struct tern_store_future *f)
{
	return f != NULL && f->store != NULL && f->kind != F_FREE && f >= f->store->futures &&
	       f < f->store->futures + f->store->conf.max_inflight;
}

static int
submit(struct tern_store *s, struct tern_store_future *f, uint32_t nb_reqs)
{
	struct tern_submit_opts opts = { .deadline_ns = s->conf.deadline_ns };

	if (nb_reqs == 0)
		return 0;
	f->ef = tern_submit(s->client, s->reqs, nb_reqs, &opts);
	return f->ef == NULL ? -rte_errno : 0;
}

/* Read one key alone from replica @rep; the READ's status. */
static int
get_one(struct tern_store *s, struct tern_store_future *f, uint32_t i, unsigned int rep)
{
	const struct store_record *r = &s->meta.rec[f->rec[i]];
	const struct store_node *n = &s->node[r->node[rep]];
	struct tern_submit_opts opts = { .deadline_ns = s->conf.deadline_ns };
	struct tern_request q = {
		.op = TERN_OP_READ,
		.segment = n->conf.segment,
		.offset = n->conf.offset + r->offset[rep],
		.local = f->buf[i],
		.length = r->size,
	};
	struct tern_future *ef = tern_submit(s->client, &q, 1, &opts);
	int ret;

	if (ef == NULL)
		return -rte_errno;
	ret = tern_future_wait(ef, UINT64_MAX);
	tern_future_release(ef);
	return ret;
}

/* A commit's error after which the request may still have been applied. */
static bool ext_ambiguous(int ret);

#define REPLACE_TRIES 4

/* The record text of @key as the metadata holds it (up to the kv space's
 * largest value): 0, -ENOENT, or an error. */
static int
ext_get_raw(struct tern_store *s, const char *key, char *buf, size_t max, size_t *len)
{
	int ret = tern_directory_kv_get(s->dir, key, buf, max - 1, len);

	if (ret == 0)
		buf[*len] = '\0';
	return ret;
}

/*
 * Commit RESERVED @idx (its record @text, @len bytes) in place of whatever
 * record its key holds, conditionally: read the current record X, then
 * write only if the key still holds X (tern_directory_kv_swap()), or
 * create it if absent. A replace whose answer is lost can then land only
 * while the key still holds X: once it holds anything else, it never
 * applies (doc/store.md, *An ambiguous commit*). Returns 0, -EBUSY (the key
 * changed under every try: nothing written), or the error of the last
 * request; after a lost swap r->expect keeps X for ext_settle().
 */
static int
ext_replace(struct tern_store *s, uint32_t idx, const char *text, size_t len)
{
	struct store_record *r = &s->meta.rec[idx];
	char cur[TERN_DIRECTORY_KV_VALUE_MAX + 1];
	struct store_ext_rec e;
	size_t clen = 0;
	unsigned int t;
	int ret;

	for (t = 0; t < REPLACE_TRIES; t++) {
		ret = ext_get_raw(s, r->key, cur, sizeof(cur), &clen);
		if (ret == -ENOENT) {
			ret = tern_directory_kv_put(s->dir, r->key, text, len,
						    TERN_DIRECTORY_KV_CREATE);
			if (ret == -EEXIST)
				continue; /* created meanwhile (or by a retry of ours: read) */
			return ret;
		}
		if (ret != 0)
			return ret;
		/* Ours already: a request sent again by the backend's client. */
		if (store_ext_decode(cur, clen, &e) == 0 && strcmp(e.owner, s->name) == 0 &&
		    e.version == r->version)
			return 0;
		/* X kept before the swap is sent: a lost answer needs it. */
		free(r->expect);
		r->expect = strdup(cur);
		if (r->expect == NULL)
			return -ENOMEM; /* nothing sent */
		ret = tern_directory_kv_swap(s->dir, r->key, cur, clen, text, len);
		if (!ext_ambiguous(ret)) {
			free(r->expect);
			r->expect = NULL;
		}
		if (ret == -ESTALE)
			continue;
		return ret;
	}
	return -EBUSY;
}

/*
 * Settle a lost conditional replace of @idx from r->expect (X): ours in the
 * metadata: applied; X still there: the same swap sent again (whichever
 * lands first wins, the other changes nothing); anything else, or absent:
 * the lost swap can never apply (a record's text names one commit, never
 * written twice), -EEXIST. -EAGAIN: unknown.
 */
static int
ext_settle_swap(struct tern_store *s, uint32_t idx)
{
	const struct store_record *r = &s->meta.rec[idx];
	char cur[TERN_DIRECTORY_KV_VALUE_MAX + 1], text[STORE_EXT_TEXT_MAX];
	struct store_ext_rec e;
	size_t clen = 0;
	unsigned int t;
	int ret, n;

	for (t = 0; t < REPLACE_TRIES; t++) {
		ret = ext_get_raw(s, r->key, cur, sizeof(cur), &clen);
		if (ret == -ENOENT || ret == -ENOSPC)
			return -EEXIST;
		if (ret != 0)
			return -EAGAIN;
		if (store_ext_decode(cur, clen, &e) == 0 && strcmp(e.owner, s->name) == 0 &&
		    e.version == r->version)
			return 0;
		if (strcmp(cur, r->expect) != 0)
			return -EEXIST;
		n = ext_encode(s, r, text, sizeof(text));
		if (n < 0)
			return n;
		ret = tern_directory_kv_swap(s->dir, r->key, r->expect, strlen(r->expect), text,
					     (size_t)n);
		if (ret == 0)
			return 0;
		if (ret != -ESTALE && !ext_ambiguous(ret))
			return -EAGAIN;
		/* Moved meanwhile, or unknown again: read it back. */
	}
	return -EAGAIN;
}

/*
 * Commit the records of a put batch's keys (those whose owners committed:
 * s->commit_err[i] == 0) in the external metadata, in as few requests as
 * the backend allows (tern_directory_kv_put_n(): Redis pipelined, etcd one
 * transaction per 64 creates); atomically created unless @replace. Each
 * key's result in s->ext_res[i]. Each record's version is taken here (and
 * never given again).
 */
static void
ext_commit_batch(struct tern_store *s, struct tern_store_future *f, bool replace)
{
	const char *keys[TERN_STORE_BATCH_MAX];
	const void *vals[TERN_STORE_BATCH_MAX];
	size_t lens[TERN_STORE_BATCH_MAX];
	uint32_t map[TERN_STORE_BATCH_MAX], i, n = 0;
	int res[TERN_STORE_BATCH_MAX], ret, len;

	for (i = 0; i < f->nb; i++) {
		struct store_record *r;

		s->ext_res[i] = 0;
		if (f->rec[i] == STORE_REC_NONE || s->commit_err[i] != 0)
			continue;
		r = &s->meta.rec[f->rec[i]];
		r->version = ++s->meta.version;
		len = ext_encode(s, r, s->ext_text[n], sizeof(s->ext_text[n]));
		if (len < 0) {
			s->ext_res[i] = len;
			continue;
		}
		keys[n] = r->key;
		vals[n] = s->ext_text[n];
		lens[n] = (size_t)len;
		map[n++] = i;
	}
	if (n == 0)
		return;
	if (replace) {
		/* Conditional, key by key (ext_replace()). */
		for (i = 0; i < n; i++)
			s->ext_res[map[i]] =
				ext_replace(s, f->rec[map[i]], s->ext_text[i], lens[i]);
		return;
	}
	ret = tern_directory_kv_put_n(s->dir, n, keys, vals, lens, TERN_DIRECTORY_KV_CREATE, res);
	for (i = 0; i < n; i++)
		s->ext_res[map[i]] = ret < 0 ? ret : res[i];
}

/* A commit's error after which the request may still have been applied. */
static bool
ext_ambiguous(int ret)
{
	return ret == -ETIMEDOUT || ret == -ECONNRESET || ret == -EIO || ret == -EPROTO ||
	       ret == -EPIPE;
}

/*
 * Decide a commit of RESERVED @idx whose answer was lost: read the record
 * back. Ours (this store, this version): applied, 0. Another writer's:
 * -EEXIST. Absent: not applied (yet): create it again (also after a
 * replace), since the lost request may still land and must then find the
 * key naming these extents, not freed ones; that answer decides. Returns 0,
 * -EEXIST, or -EAGAIN (unknown: the metadata does not answer).
 */
static int
ext_settle(struct tern_store *s, uint32_t idx)
{
	const struct store_record *r = &s->meta.rec[idx];
	struct store_ext_rec e;
	char text[STORE_EXT_TEXT_MAX];
	unsigned int t;
	int ret, n;

	if (r->expect != NULL)
		return ext_settle_swap(s, idx);
	for (t = 0; t < SETTLE_TRIES; t++) {
		ret = ext_get(s, r->key, &e);
		if (ret == 0)
			return strcmp(e.owner, s->name) == 0 && e.version == r->version ? 0
											: -EEXIST;
		if (ret == -EPROTO)
			return -EEXIST; /* not ours: ours is well formed */
		if (ret != -ENOENT)
			return -EAGAIN;
		n = ext_encode(s, r, text, sizeof(text));
		if (n < 0)
			return n;
		ret = tern_directory_kv_put(s->dir, r->key, text, (size_t)n,
					    TERN_DIRECTORY_KV_CREATE);
		if (ret == 0)
			return 0;
		if (ret != -EEXIST && !ext_ambiguous(ret))
			return -EAGAIN;
		/* Taken meanwhile, or unknown again: read it back. */
	}
	return -EAGAIN;
}

/* The record of RESERVED @idx is committed in the metadata: make it LIVE
 * here (a replace of any local one). */
static void
commit_local(struct tern_store *s, uint32_t idx)
{
	uint64_t version = s->meta.rec[idx].version; /* the metadata's */
	uint32_t old = STORE_REC_NONE;

	store_meta_commit(&s->meta, idx, true, &old);
	s->meta.rec[idx].version = version;
	if (s->meta.version < version)
		s->meta.version = version;
	STAT_SUB(s, reserved, 1);
	STAT_ADD(s, objects, 1);
	STAT_ADD(s, bytes, s->meta.rec[idx].size);
	if (old != STORE_REC_NONE) {
		struct store_record *o = &s->meta.rec[old];

		STAT_SUB(s, objects, 1);
		STAT_SUB(s, bytes, o->size);
		if (o->refs == 0)
			record_release(s, old);
	}
}

/*
 * Settle the records of ambiguous commits (of @key only, unless NULL):
 * those whose next try is due, or all with @force. Applied: LIVE. Not ours
 * or absent: freed. Unknown: kept, tried again PENDING_RETRY_NS later.
 */
static void
pending_settle(struct tern_store *s, const char *key, bool force)
{
	uint64_t now = tern_clock_ns();
	uint32_t i;
	int ret;

	for (i = 0; i < s->meta.max && s->nb_pending > 0; i++) {
		struct store_record *r = &s->meta.rec[i];

		if (!r->pending || (key != NULL && strcmp(r->key, key) != 0) ||
		    (!force && now < r->lease_end_ns))
			continue;
		ret = ext_settle(s, i);
		if (ret == -EAGAIN) {
			r->lease_end_ns = now + PENDING_RETRY_NS;
			continue;
		}
		r->pending = false;
		r->owned = false;
		free(r->expect);
		r->expect = NULL;
		s->nb_pending--;
		STORE_LOG(NOTICE, "%s: the ambiguous commit of %s: %s", s->name, r->key,
			  ret == 0 ? "applied" : "not applied");
		if (ret == 0)
			commit_local(s, i);
		else
			record_release(s, i);
	}
	stats_used(s);
}

/* Send one COMMIT_N to node @n's owner; the refused ones fail their key.
 * The extents of an arena that the owner took become the owner's. */
static void
owners_commit_send(struct tern_store *s, struct tern_store_future *f, unsigned int n,
		   struct store_wire_reqn *q, const uint32_t *key_of, const uint8_t *rep_of)
{
	struct store_wire_repn r;
	unsigned int k;
	int ret;

	memset(&r, 0, sizeof(r));
	ret = store_owner_calln(&s->node[n].owner, q, &r, OWNER_TIMEOUT_MS);
	for (k = 0; k < q->count; k++) {
		struct store_record *rec = &s->meta.rec[f->rec[key_of[k]]];
		bool refused = ret != 0 && (r.count == 0 || (r.fail_mask & (1u << k)));
		uint8_t j = rep_of[k];

		if (refused && s->commit_err[key_of[k]] == 0)
			s->commit_err[key_of[k]] = ret;
		if (rec->arena[j] != 0 && !refused) {
			/* The owner has the range now: freed with FREE from here on. */
			arena_done(s, n, rec->arena[j], rec->offset[j], rec->size, true);
			rec->arena[j] = 0;
		}
	}
	q->count = 0;
}

/*
 * The lease of every owned replica ends before the record is committed: a
 * record never names an extent its owner may still free. One COMMIT_N
 * message per owned node and 13 extents, waited for (doc/store.md,
 * *Arenas*: why not one-way); s->commit_err[i] says how key i fared.
 */
static void
owners_commit(struct tern_store *s, struct tern_store_future *f)
{
	struct store_wire_reqn q = { .op = STORE_WIRE_COMMIT_N };
	uint32_t key_of[STORE_WIRE_N_MAX], i;
	uint8_t rep_of[STORE_WIRE_N_MAX];
	uint64_t now = tern_clock_ns(), margin = RTE_MIN(s->conf.lease_ns / 4, ARENA_MARGIN_NS);
	unsigned int n, j;

	for (i = 0; i < f->nb; i++)
		s->commit_err[i] = 0;
	for (n = 0; n < s->conf.nb_nodes; n++) {
		if (!(s->node[n].conf.flags & TERN_STORE_NODE_F_OWNED))
			continue;
		q.segment = s->node[n].conf.segment;
		q.pid = (uint32_t)getpid();
		q.count = 0;
		for (i = 0; i < f->nb; i++) {
			const struct store_record *r;

			if (f->rec[i] == STORE_REC_NONE)
				continue;
			r = &s->meta.rec[f->rec[i]];
			for (j = 0; j < r->nb_rep && r->size > 0; j++) {
				if (r->node[j] != n)
					continue;
				if (r->arena[j] != 0 &&
				    now + margin >=
					    s->node[n].arena[r->arena[j] - 1].lease_end_ns) {
					/* Its arena's lease ends: the owner may take the
					 * range back (even give it to this process again). */
					if (s->commit_err[i] == 0)
						s->commit_err[i] = -ETIMEDOUT;
					continue;
				}
				key_of[q.count] = i;
				rep_of[q.count] = (uint8_t)j;
				q.length[q.count] = r->size;
				q.offset[q.count++] = r->offset[j];
				if (q.count == STORE_WIRE_N_MAX)
					owners_commit_send(s, f, n, &q, key_of, rep_of);
			}
		}
		if (q.count > 0)
			owners_commit_send(s, f, n, &q, key_of, rep_of);
	}
}

static void
resolve_put(struct tern_store *s, struct tern_store_future *f, int status)
{
	uint32_t i, old;

	if (status == 0)
		owners_commit(s, f);
	if (status == 0 && s->dir != NULL)
		ext_commit_batch(s, f, (f->flags & TERN_STORE_F_REPLACE) != 0);
	for (i = 0; i < f->nb; i++) {
		uint32_t idx = f->rec[i];

		int status_i = 0;

		old = STORE_REC_NONE;
		if (idx == STORE_REC_NONE)
			continue;
		if (status == 0)
			status_i = s->commit_err[i];
		if (status == 0 && status_i != 0) {
			f->res[i] = status_i;
		} else if (status == 0 && s->dir != NULL) {
			/* The external metadata decides; here, a replace. */
			bool replace = (f->flags & TERN_STORE_F_REPLACE) != 0;
			int ret = s->ext_res[i];

			if (ret == -EEXIST && s->nb_pending > 0)
				/* Perhaps an earlier put of ours, applied. */
				pending_settle(s, s->meta.rec[idx].key, true);
			/* -EEXIST too: the backend's client may have sent the
			 * create again after a lost answer (hiredis reconnects
			 * once), and found its own first try applied. */
			if (ext_ambiguous(ret) || (ret == -EEXIST && !replace)) {
				int st = ext_settle(s, idx);

				if (st != -EAGAIN) {
					free(s->meta.rec[idx].expect);
					s->meta.rec[idx].expect = NULL;
				}
				if (st == -EAGAIN) {
					/* Unknown: keep the extents until read back
					 * (the version is this record's alone). */
					struct store_record *r = &s->meta.rec[idx];

					r->pending = true;
					r->owned = true;
					r->lease_end_ns = tern_clock_ns() + PENDING_RETRY_NS;
					s->nb_pending++;
					f->res[i] = ret;
					STORE_LOG(WARNING,
						  "%s: the commit of %s is ambiguous (%s): "
						  "extents kept until the metadata answers",
						  s->name, r->key, strerror(-ret));
					continue;
				}
				if (st == 0)
					ret = 0;
				else if (st == -EEXIST && !replace)
					ret = -EEXIST;
			}
			f->res[i] = ret;
			if (f->res[i] == 0) {
				/* The version is the one in the metadata's record. */
				uint64_t version = s->meta.rec[idx].version;

				f->res[i] = store_meta_commit(&s->meta, idx, true, &old);
				s->meta.rec[idx].version = version;
				if (s->meta.version < version)
					s->meta.version = version;
			}
		} else if (status == 0) {
			f->res[i] = store_meta_commit(&s->meta, idx,
						      (f->flags & TERN_STORE_F_REPLACE) != 0, &old);
		}
		if (status == 0 && status_i == 0) {
			if (f->res[i] == 0) {
				STAT_SUB(s, reserved, 1);
				STAT_ADD(s, objects, 1);
				STAT_ADD(s, bytes, s->meta.rec[idx].size);
				if (old != STORE_REC_NONE) {
					struct store_record *o = &s->meta.rec[old];

					STAT_SUB(s, objects, 1);
					STAT_SUB(s, bytes, o->size);
					if (o->refs == 0)
						record_release(s, old);
				}
				continue;
			}
		} else {
			f->res[i] = status;
		}
		record_release(s, idx);
	}
	for (i = 0; i < f->nb; i++)
		if (f->res[i] == 0)
			STAT_ADD(s, puts, 1);
		else
			STAT_ADD(s, put_errors, 1);
	stats_used(s);
}

static void
resolve_get(struct tern_store *s, struct tern_store_future *f, int status)
{
	uint32_t i;

	for (i = 0; i < f->nb; i++) {
		uint32_t idx = f->rec[i];
		const struct store_record *r;
		unsigned int k;

		if (idx == STORE_REC_NONE)
			continue;
		r = &s->meta.rec[idx];
		f->res[i] = status;
		/* Fall back: the other replicas, then the first again. */
		for (k = 1; status != 0 && k <= r->nb_rep && f->res[i] != 0; k++) {
			f->res[i] = get_one(s, f, i, (f->tried[i] + k) % r->nb_rep);
			if (f->res[i] == 0 && k < r->nb_rep)
				STAT_ADD(s, fallbacks, 1);
		}
		record_unref(s, idx);
	}
	for (i = 0; i < f->nb; i++)
		if (f->res[i] == 0)
			STAT_ADD(s, gets, 1);
		else
			STAT_ADD(s, get_errors, 1);
	stats_used(s);
}

static int
future_finish(struct tern_store_future *f, uint64_t timeout_ns)
{
	struct tern_store *s = f->store;
	int status = 0;
	uint32_t i;

	if (f->resolved)
		return f->status;
	if (f->ef != NULL) {
		status = tern_future_wait(f->ef, timeout_ns);
		if (status == -EINPROGRESS)
			return status;
		tern_future_release(f->ef);
		f->ef = NULL;
	}
	if (f->kind == F_PUT)
		resolve_put(s, f, status);
	else
		resolve_get(s, f, status);
	f->resolved = true;
	f->status = 0;
	for (i = 0; i < f->nb && f->status == 0; i++)
		f->status = f->res[i];
	return f->status;
}

int
tern_store_future_wait(struct tern_store_future *f, uint64_t timeout_ns)
{
	if (!future_valid(f))
		return -EINVAL;
	return future_finish(f, timeout_ns);
}

int
tern_store_future_test(struct tern_store_future *f)
{
	if (!future_valid(f))
		return -EINVAL;
	if (f->ef != NULL && tern_future_test(f->ef) == -EINPROGRESS)
		return -EINPROGRESS;
	return future_finish(f, 0);
}

int
tern_store_future_result(const struct tern_store_future *f, uint32_t i, uint64_t *size)
{
	if (!future_valid(f) || i >= f->nb)
		return -EINVAL;
	if (!f->resolved)
		return -EINPROGRESS;
	if (size != NULL)
		*size = f->size[i];
	return f->res[i];
}

int
tern_store_future_release(struct tern_store_future *f)
{
	struct tern_store *s;
	uint32_t i;

	if (!future_valid(f))
		return -EINVAL;
	s = f->store;
	if (!f->resolved) {
		/* Give up: a put's reservations wait for their lease (the engine
		 * batch may still write into them until its deadline); a get's
		 * references go at once, and with them nothing is freed that
		 * the pending READ could still read into the caller's buffer. */
		for (i = 0; i < f->nb; i++) {
			if (f->rec[i] == STORE_REC_NONE)
				continue;
			if (f->kind == F_PUT)
				s->meta.rec[f->rec[i]].owned = false;
			else if (f->ef == NULL)
				record_unref(s, f->rec[i]);
		}
		if (f->kind == F_GET && f->ef != NULL) {
			/* Wait out the READs before dropping the references. */
			tern_future_wait(f->ef, UINT64_MAX);
			for (i = 0; i < f->nb; i++)
				if (f->rec[i] != STORE_REC_NONE)
					record_unref(s, f->rec[i]);
		}
		if (f->ef != NULL)
			tern_future_release(f->ef);
		stats_used(s);
	}
	f->ef = NULL;
	f->kind = F_FREE;
	return 0;
}

/* ---- put, get ---- */

/*
 * A put batch's extents on owned nodes without an arena (a peer's owner
 * over p2p, or an owner that refused an arena): the batch's placement is
 * planned first (as place() would: node 0 first, then the others by free
 * bytes, only nodes with room without eviction), then reserved per owner
 * in RESERVE_N messages (13 extents a message) rather than one round trip
 * per extent. A key with no plan, or whose message the owner refused,
 * takes the one-by-one path (which evicts); what no key takes is freed at
 * the end of the put.
 */
static void
prereserve(struct tern_store *s, const char *const *keys, void *const *bufs, const uint64_t *sizes,
	   uint32_t nb, unsigned int replicas)
{
	char key[TERN_STORE_KEY_MAX];
	uint64_t room[TERN_STORE_NODES_MAX];
	struct store_wire_reqn q = {
		.op = STORE_WIRE_RESERVE_N,
		.pid = (uint32_t)getpid(),
		.lease_ms = (uint32_t)RTE_MIN(s->conf.lease_ns / 1000000, STORE_WIRE_LEASE_MS_MAX),
	};
	struct store_wire_repn r;
	uint32_t idx[STORE_WIRE_N_MAX], i, k;
	unsigned int n, j, nb_nodes = s->conf.nb_nodes;

	for (n = 0; n < nb_nodes; n++)
		room[n] = s->node[n].alloc.capacity - s->node[n].alloc.used;
	for (i = 0; i < nb; i++) {
		bool taken[TERN_STORE_NODES_MAX] = { false };
		uint64_t need = store_alloc_size(sizes[i]);

		memset(s->pre_ok[i], 0, sizeof(s->pre_ok[i]));
		s->pre_nb_plan[i] = 0;
		if (sizes[i] == 0 || bufs[i] == NULL || key_pad(keys[i], key, false) < 0 ||
		    room[0] < need)
			continue;
		/* node 0, then the most free with room */
		s->pre_plan[i][0] = 0;
		taken[0] = true;
		for (j = 1; j < replicas; j++) {
			int best = -1;

			for (n = 1; n < nb_nodes; n++)
				if (!taken[n] && room[n] >= need &&
				    (best < 0 || room[n] > room[best]))
					best = (int)n;
			if (best < 0)
				break;
			s->pre_plan[i][j] = (uint8_t)best;
			taken[best] = true;
		}
		if (j < replicas)
			continue;
		s->pre_nb_plan[i] = (uint8_t)replicas;
		for (j = 0; j < replicas; j++)
			room[s->pre_plan[i][j]] -= need;
	}
	for (n = 0; n < nb_nodes; n++) {
		if (!(s->node[n].conf.flags & TERN_STORE_NODE_F_OWNED) || s->node[n].arena_len > 0)
			continue;
		q.segment = s->node[n].conf.segment;
		for (i = 0; i < nb;) {
			q.count = 0;
			for (; i < nb && q.count < STORE_WIRE_N_MAX; i++)
				for (j = 0; j < s->pre_nb_plan[i]; j++)
					if (s->pre_plan[i][j] == n) {
						idx[q.count] = i;
						q.length[q.count] = sizes[i];
						q.offset[q.count++] = 0;
					}
			if (q.count < 2) /* one extent: the one-by-one path is as fast */
				continue;
			memset(&r, 0, sizeof(r));
			if (store_owner_calln(&s->node[n].owner, &q, &r, OWNER_TIMEOUT_MS) != 0 ||
			    r.count != q.count)
				continue;
			for (k = 0; k < q.count; k++) {
				s->pre_off[idx[k]][n] = r.offset[k];
				s->pre_ok[idx[k]][n] = true;
			}
		}
	}
}

/* Free what prereserve() took and no key used. */
static void
prereserve_drop(struct tern_store *s, const uint64_t *sizes, uint32_t nb)
{
	unsigned int n;
	uint32_t i;

	for (i = 0; i < nb; i++) {
		for (n = 0; n < s->conf.nb_nodes; n++)
			if (s->pre_ok[i][n]) {
				/* node_free() takes it back */
				s->node[n].alloc.used += store_alloc_size(sizes[i]);
				node_free(s, n, s->pre_off[i][n], sizes[i]);
				s->pre_ok[i][n] = false;
			}
		s->pre_nb_plan[i] = 0;
	}
	s->pre_cur = -1;
}

struct tern_store_future *
tern_store_put(struct tern_store *s, const char *const *keys, void *const *bufs,
	       const uint64_t *sizes, uint32_t nb, const struct tern_store_put_opts *opts)
{
	uint32_t replicas, flags, nb_reqs = 0, i, j;
	uint64_t lease_end = tern_clock_ns();
	struct tern_store_future *f;
	char key[TERN_STORE_KEY_MAX];
	int ret;

	if (s == NULL || s->magic != STORE_MAGIC || keys == NULL || bufs == NULL || sizes == NULL ||
	    nb == 0 || nb > TERN_STORE_BATCH_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	replicas = opts != NULL && opts->replicas != 0 ? opts->replicas : s->conf.replicas;
	flags = opts != NULL ? opts->flags : 0;
	if (replicas > s->conf.nb_nodes || replicas > TERN_STORE_REPLICAS_MAX ||
	    (flags & ~TERN_STORE_F_REPLACE) != 0 || (uint64_t)nb * replicas > s->max_batch) {
		rte_errno = EINVAL;
		return NULL;
	}
	tern_store_poll(s);
	f = future_get(s, F_PUT, nb);
	if (f == NULL)
		return NULL;
	f->flags = flags;
	lease_end += s->conf.lease_ns;
	s->pre_cur = -1;
	if (nb > 1) {
		for (i = 0; i < s->conf.nb_nodes; i++)
			if ((s->node[i].conf.flags & TERN_STORE_NODE_F_OWNED) &&
			    s->node[i].arena_len == 0)
				break;
		if (i < s->conf.nb_nodes)
			prereserve(s, keys, bufs, sizes, nb, replicas);
	}
	for (i = 0; i < nb; i++) {
		struct store_record *r;
		uint32_t idx;

		s->pre_cur = (int)i;
		f->rec[i] = STORE_REC_NONE;
		f->size[i] = sizes[i];
		f->res[i] = 0;
		if (key_pad(keys[i], key, false) < 0 || (sizes[i] > 0 && bufs[i] == NULL)) {
			f->res[i] = -EINVAL;
			continue;
		}
		for (j = 0; j < i; j++)
			if (f->rec[j] != STORE_REC_NONE &&
			    memcmp(s->meta.rec[f->rec[j]].key, key, sizeof(key)) == 0)
				break;
		if (j < i) {
			f->res[i] = -EINVAL; /* the same key twice in a batch */
			continue;
		}
		/* With external metadata the commit alone can tell (another
		 * store may have removed or written the key). */
		if (!(flags & TERN_STORE_F_REPLACE) && s->dir == NULL &&
		    store_meta_lookup(&s->meta, key) != STORE_REC_NONE) {
			f->res[i] = -EEXIST;
			continue;
		}
		idx = store_meta_take(&s->meta, key);
		if (idx == STORE_REC_NONE && evict_one(s, -1))
			idx = store_meta_take(&s->meta, key);
		if (idx == STORE_REC_NONE) {
			f->res[i] = -ENOSPC;
			continue;
		}
		r = &s->meta.rec[idx];
		r->size = sizes[i];
		r->owned = true;
		r->lease_end_ns = lease_end;
		STAT_ADD(s, reserved, 1);
		ret = place(s, idx, replicas);
		s->pre_cur = -1;
		if (ret != 0) {
			record_release(s, idx);
			f->res[i] = ret;
			continue;
		}
		f->rec[i] = idx;
		for (j = 0; j < r->nb_rep && r->size > 0; j++) {
			const struct store_node *n = &s->node[r->node[j]];

			s->reqs[nb_reqs++] = (struct tern_request){
				.op = TERN_OP_WRITE,
				.segment = n->conf.segment,
				.offset = n->conf.offset + r->offset[j],
				.local = bufs[i],
				.length = r->size,
			};
		}
	}
	prereserve_drop(s, sizes, nb);
	stats_used(s);
	ret = submit(s, f, nb_reqs);
	if (ret != 0) {
		resolve_put(s, f, ret);
		f->resolved = true;
		f->status = ret;
	}
	return f;
}

/*
 * The external record of @key (read: @ret, @ep) checked against the local one (*idx, may be
 * STORE_REC_NONE). A local record the metadata no longer holds is stale:
 * forgotten here (its memory freed once unread). Returns 0 (*idx is the
 * current local record), -ENOENT, -EREMOTE (another store placed it: *size
 * is its size; reading it needs the owners' channel, not built), or a
 * backend error.
 */
static int
ext_lookup(struct tern_store *s, const char *key, int ret, const struct store_ext_rec *ep,
	   uint32_t *idx, uint64_t *size, struct store_ext_rec *out)
{
	const struct store_ext_rec e = *ep;

	if (ret < 0 && ret != -ENOENT && ret != -EPROTO)
		return ret;
	if (*idx != STORE_REC_NONE &&
	    (ret != 0 || strcmp(e.owner, s->name) != 0 || e.version != s->meta.rec[*idx].version)) {
		record_forget(s, *idx);
		*idx = STORE_REC_NONE;
	}
	if (ret == -EPROTO) {
		STORE_LOG(WARNING, "%s: the metadata's record of %s is malformed", s->name, key);
		return -EPROTO;
	}
	if (ret == -ENOENT)
		return ret;
	if (*idx == STORE_REC_NONE) {
		*size = e.size;
		if (out != NULL)
			*out = e;
		return strcmp(e.owner, s->name) == 0 ? -ENOENT : -EREMOTE;
	}
	return 0;
}

/* This store's node that names owner @onode / @oseg, or -1. */
static int
node_of_owner(const struct tern_store *s, const char *onode, const char *oseg)
{
	unsigned int n;

	if (onode[0] == '\0')
		return -1;
	for (n = 0; n < s->conf.nb_nodes; n++)
		if (strcmp(s->node[n].owner_node, onode) == 0 &&
		    strcmp(s->node[n].owner_segment, oseg) == 0)
			return (int)n;
	return -1;
}

/*
 * Read an object another store placed (record @e of @key): from a replica
 * on an owned node this store names too, under a read reference at its
 * owner. The reference is taken first, then the record read again: if it
 * still names this commit (owner, version), the extent was not freed
 * before the reference (the placing store removes the record before it
 * frees), and the reference keeps it until the READ is done, whatever a
 * remove or an eviction does meanwhile. 0, -ENOENT (removed or replaced
 * meanwhile), -EREMOTE (no replica on a node this store can reach), or the
 * READ's / the owner's error.
 */
static int
get_foreign(struct tern_store *s, const char *key, const struct store_ext_rec *e, void *buf)
{
	uint64_t lease_ms64 = 2 * s->conf.deadline_ns / 1000000;
	uint32_t lease_ms;
	struct store_ext_rec now;
	int ret = -EREMOTE, r2;
	unsigned int k;

	if (lease_ms64 < 1000)
		lease_ms64 = 1000;
	if (lease_ms64 > STORE_WIRE_LEASE_MS_MAX)
		lease_ms64 = STORE_WIRE_LEASE_MS_MAX;
	lease_ms = (uint32_t)lease_ms64;
	for (k = 0; k < e->nb_rep; k++) {
		int n = node_of_owner(s, e->onode[k], e->oseg[k]);
		const struct store_node *nd;
		struct store_wire_req q = {
			.op = STORE_WIRE_READ_REF,
			.pid = (uint32_t)getpid(),
			.length = e->size,
			.offset = e->offset[k],
			.lease_ms = lease_ms,
		};
		struct store_wire_rep rr;

		if (n < 0)
			continue;
		nd = &s->node[n];
		q.segment = nd->conf.segment;
		ret = store_owner_call(&nd->owner, &q, &rr, OWNER_TIMEOUT_MS);
		if (ret != 0)
			continue; /* -ENOENT: freed meanwhile; the next replica or the end */
		r2 = ext_get(s, key, &now);
		if (r2 == 0 && (strcmp(now.owner, e->owner) != 0 || now.version != e->version))
			r2 = -ENOENT;
		if (r2 == 0) {
			struct tern_submit_opts opts = { .deadline_ns = s->conf.deadline_ns };
			struct tern_request rq = {
				.op = TERN_OP_READ,
				.segment = nd->conf.segment,
				.offset = nd->conf.offset + e->offset[k],
				.local = buf,
				.length = e->size,
			};
			struct tern_future *ef = tern_submit(s->client, &rq, 1, &opts);

			r2 = ef == NULL ? -rte_errno : tern_future_wait(ef, UINT64_MAX);
			tern_future_release(ef);
		}
		q.op = STORE_WIRE_READ_UNREF;
		q.lease_ms = 0;
		(void)store_owner_call(&nd->owner, &q, &rr, OWNER_TIMEOUT_MS);
		if (r2 == 0 || r2 == -ENOENT)
			return r2;
		ret = r2; /* the READ failed: the next replica */
		STAT_ADD(s, fallbacks, 1);
	}
	return ret;
}

/*
 * The external records of a get batch's @keys in as few requests as the
 * backend allows (tern_directory_kv_get_n(): one Redis MGET, one etcd
 * transaction per 64 keys): key i's answer in s->ext_res[i], its text in
 * s->ext_text[i] (s->ext_len[i] bytes). A key with a refused byte gets
 * -EINVAL (the get fails it before looking).
 */
static void
ext_read_batch(struct tern_store *s, const char *const *keys, uint32_t nb)
{
	const char *k[TERN_STORE_BATCH_MAX];
	void *v[TERN_STORE_BATCH_MAX];
	uint32_t map[TERN_STORE_BATCH_MAX], i, n = 0;
	int res[TERN_STORE_BATCH_MAX], ret;
	char key[TERN_STORE_KEY_MAX];

	for (i = 0; i < nb; i++) {
		s->ext_res[i] = -EINVAL;
		s->ext_len[i] = 0;
		if (key_pad(keys[i], key, false) < 0)
			continue;
		k[n] = keys[i];
		v[n] = s->ext_text[i];
		map[n++] = i;
	}
	if (n == 0)
		return;
	ret = tern_directory_kv_get_n(s->dir, n, k, v, STORE_EXT_TEXT_MAX, s->ext_lens, res);
	for (i = 0; i < n; i++) {
		s->ext_res[map[i]] = ret < 0 ? ret : res[i];
		s->ext_len[map[i]] = ret < 0 ? 0 : s->ext_lens[i];
	}
}

struct tern_store_future *
tern_store_get(struct tern_store *s, const char *const *keys, void *const *bufs,
	       const uint64_t *buf_sizes, uint32_t nb)
{
	char key[TERN_STORE_KEY_MAX];
	struct tern_store_future *f;
	uint32_t nb_reqs = 0, i;
	int ret;

	if (s == NULL || s->magic != STORE_MAGIC || keys == NULL || bufs == NULL ||
	    buf_sizes == NULL || nb == 0 || nb > TERN_STORE_BATCH_MAX || nb > s->max_batch) {
		rte_errno = EINVAL;
		return NULL;
	}
	f = future_get(s, F_GET, nb);
	if (f == NULL)
		return NULL;
	if (s->dir != NULL)
		ext_read_batch(s, keys, nb);
	for (i = 0; i < nb; i++) {
		struct store_record *r;
		const struct store_node *n;
		uint32_t idx;
		unsigned int rep = 0, k;

		f->rec[i] = STORE_REC_NONE;
		f->size[i] = 0;
		f->res[i] = 0;
		f->buf[i] = bufs[i];
		if (key_pad(keys[i], key, false) < 0) {
			f->res[i] = -EINVAL;
			continue;
		}
		idx = store_meta_lookup(&s->meta, key);
		if (s->dir != NULL) {
			struct store_ext_rec e, got;

			ret = ext_answer(s->ext_res[i], s->ext_text[i], s->ext_len[i], &got);
			ret = ext_lookup(s, key, ret, &got, &idx, &f->size[i], &e);
			if (ret == -EREMOTE && f->size[i] > buf_sizes[i])
				ret = -ENOSPC;
			else if (ret == -EREMOTE && f->size[i] > 0 && bufs[i] == NULL)
				ret = -EINVAL;
			else if (ret == -EREMOTE && f->size[i] > 0)
				ret = get_foreign(s, key, &e, bufs[i]);
			else if (ret == -EREMOTE)
				ret = 0; /* zero-size: nothing to read */
			if (ret != 0 || idx == STORE_REC_NONE) {
				f->res[i] = ret;
				continue;
			}
		}
		if (idx == STORE_REC_NONE) {
			f->res[i] = -ENOENT;
			continue;
		}
		r = &s->meta.rec[idx];
		f->size[i] = r->size;
		if (r->size > buf_sizes[i]) {
			f->res[i] = -ENOSPC;
			continue;
		}
		store_meta_touch(&s->meta, idx);
		if (r->size == 0)
			continue;
		if (bufs[i] == NULL) {
			f->res[i] = -EINVAL;
			continue;
		}
		for (k = 0; k < r->nb_rep; k++)
			if (r->node[k] == 0)
				rep = k;
		r->refs++;
		f->rec[i] = idx;
		f->tried[i] = (uint8_t)rep;
		n = &s->node[r->node[rep]];
		s->reqs[nb_reqs++] = (struct tern_request){
			.op = TERN_OP_READ,
			.segment = n->conf.segment,
			.offset = n->conf.offset + r->offset[rep],
			.local = bufs[i],
			.length = r->size,
		};
	}
	ret = submit(s, f, nb_reqs);
	if (ret != 0) {
		/* Nothing was submitted: each key is tried alone, replica by
		 * replica, and keeps the error of its last attempt. */
		resolve_get(s, f, ret);
		f->resolved = true;
		f->status = 0;
		for (i = 0; i < nb && f->status == 0; i++)
			f->status = f->res[i];
	}
	return f;
}

/* ---- remove, exists, list ---- */

int
tern_store_remove(struct tern_store *s, const char *const *keys, uint32_t nb, int *results)
{
	char key[TERN_STORE_KEY_MAX];
	int removed = 0;
	uint32_t i;

	if (s == NULL || s->magic != STORE_MAGIC || keys == NULL || nb == 0 ||
	    nb > TERN_STORE_BATCH_MAX)
		return -EINVAL;
	for (i = 0; i < nb; i++) {
		uint32_t idx;
		int ret = 0;

		if (key_pad(keys[i], key, false) < 0) {
			ret = -EINVAL;
		} else if (s->dir != NULL) {
			/* The record first, wherever its object is; memory here
			 * only if it is ours (another owner's: not reclaimed, see
			 * doc/store.md). */
			ret = tern_directory_kv_del(s->dir, key);
			idx = store_meta_lookup(&s->meta, key);
			if ((ret == 0 || ret == -ENOENT) && idx != STORE_REC_NONE)
				record_forget(s, idx);
		} else if ((idx = store_meta_lookup(&s->meta, key)) == STORE_REC_NONE) {
			ret = -ENOENT;
		} else {
			record_forget(s, idx);
		}
		if (ret == 0) {
			STAT_ADD(s, removes, 1);
			removed++;
		}
		if (results != NULL)
			results[i] = ret;
	}
	stats_used(s);
	return removed;
}

int
tern_store_exists(struct tern_store *s, const char *const *keys, uint32_t nb, int *results)
{
	char key[TERN_STORE_KEY_MAX];
	int found = 0;
	uint32_t i;

	if (s == NULL || s->magic != STORE_MAGIC || keys == NULL || results == NULL || nb == 0 ||
	    nb > TERN_STORE_BATCH_MAX)
		return -EINVAL;
	for (i = 0; i < nb; i++) {
		if (key_pad(keys[i], key, false) < 0) {
			results[i] = -EINVAL;
		} else if (s->dir != NULL) {
			struct store_ext_rec e;
			int ret = ext_get(s, key, &e);

			results[i] = ret == 0 || ret == -EPROTO ? 1 : ret == -ENOENT ? 0 : ret;
		} else {
			results[i] = store_meta_lookup(&s->meta, key) != STORE_REC_NONE;
		}
		found += results[i] == 1;
	}
	return found;
}

struct ext_list_state {
	tern_store_list_cb cb;
	void *arg;
};

static int
ext_list_one(void *arg, const char *key, const void *value, size_t len)
{
	struct ext_list_state *ls = arg;
	struct store_ext_rec e;

	if (store_ext_decode(value, len, &e) != 0)
		return 0; /* not a record: skipped */
	return ls->cb(ls->arg, key, e.size, e.nb_rep);
}

int
tern_store_list(struct tern_store *s, const char *prefix, tern_store_list_cb cb, void *arg)
{
	char pfx[TERN_STORE_KEY_MAX];
	uint32_t iter = 0, idx;
	int len, n = 0, ret;

	if (s == NULL || s->magic != STORE_MAGIC || cb == NULL)
		return -EINVAL;
	len = key_pad(prefix, pfx, true);
	if (len < 0)
		return len;
	if (s->dir != NULL) {
		struct ext_list_state ls = { .cb = cb, .arg = arg };

		return tern_directory_kv_list(s->dir, pfx, ext_list_one, &ls);
	}
	while ((idx = store_meta_next(&s->meta, &iter)) != STORE_REC_NONE) {
		const struct store_record *r = &s->meta.rec[idx];

		if (memcmp(r->key, pfx, (size_t)len) != 0)
			continue;
		ret = cb(arg, r->key, r->size, r->nb_rep);
		if (ret != 0)
			return ret;
		n++;
	}
	return n;
}

/* ---- create, destroy, stats ---- */

static int
check_conf(struct tern_store *s, const struct tern_store_conf *c)
{
	unsigned int i, j;
	size_t len;

	if (c->name == NULL || (c->engine == NULL) == (c->client == NULL) || c->segments == NULL ||
	    c->nodes == NULL || c->nb_nodes == 0 || c->nb_nodes > TERN_STORE_NODES_MAX)
		return -EINVAL;
	len = strnlen(c->name, STORE_NAME_MAX);
	if (len == 0 || len >= STORE_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!(c->name[i] == '_' || (c->name[i] >= '0' && c->name[i] <= '9') ||
		      (c->name[i] >= 'a' && c->name[i] <= 'z') ||
		      (c->name[i] >= 'A' && c->name[i] <= 'Z')))
			return -EINVAL;
	if (c->metadata != NULL && strcmp(c->metadata, "embedded") != 0 &&
	    strncmp(c->metadata, "etcd://", 7) != 0 && strncmp(c->metadata, "redis://", 8) != 0)
		return strstr(c->metadata, "://") != NULL ? -ENOTSUP : -EINVAL;
	if (c->metadata != NULL && strlen(c->metadata) >= STORE_METADATA_MAX)
		return -EINVAL;
	s->conf = *c;
	if (s->conf.max_objects == 0)
		s->conf.max_objects = DEF_MAX_OBJECTS;
	if (s->conf.max_inflight == 0)
		s->conf.max_inflight = DEF_MAX_INFLIGHT;
	if (s->conf.replicas == 0)
		s->conf.replicas = 1;
	if (s->conf.high_watermark_pct == 0)
		s->conf.high_watermark_pct = DEF_HIGH_PCT;
	if (s->conf.max_objects > (1u << 24) || s->conf.max_inflight > 1024 ||
	    s->conf.replicas > RTE_MIN(c->nb_nodes, (unsigned int)TERN_STORE_REPLICAS_MAX) ||
	    s->conf.high_watermark_pct < 10 || s->conf.high_watermark_pct > 100)
		return -EINVAL;
	for (i = 0; i < c->nb_nodes; i++) {
		const struct tern_store_node_conf *n = &c->nodes[i];
		struct tern_segment_info info;

		bool peer_owned = n->owner != NULL;
		bool has_id = n->owner_node != NULL || n->owner_segment != NULL;

		/* Owned by this process's dataplane: a LOCAL segment seen from a
		 * client (rte_mp). Owned by a peer dataplane: a REMOTE segment,
		 * its owner asked over the peer's p2p channel. */
		if ((n->flags & ~TERN_STORE_NODE_F_OWNED) != 0 ||
		    ((n->flags & TERN_STORE_NODE_F_OWNED) && !peer_owned &&
		     rte_eal_process_type() != RTE_PROC_SECONDARY) ||
		    (peer_owned && strncmp(n->owner, "p2p://", 6) != 0) ||
		    ((peer_owned || has_id) && (!(n->flags & TERN_STORE_NODE_F_OWNED) ||
						!tern_descriptor_name_valid(n->owner_node) ||
						!tern_descriptor_name_valid(n->owner_segment))))
			return -EINVAL;
		if (tern_segment_info(c->segments, n->segment, &info) != 0 ||
		    (info.kind != TERN_SEGMENT_LOCAL &&
		     (info.kind != TERN_SEGMENT_REMOTE ||
		      ((n->flags & TERN_STORE_NODE_F_OWNED) && !peer_owned))) ||
		    (peer_owned && info.kind != TERN_SEGMENT_REMOTE) ||
		    info.state != TERN_SEGMENT_ACTIVE || n->length < 4096 ||
		    n->offset > info.length || n->length > info.length - n->offset)
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (c->nodes[j].segment == n->segment &&
			    n->offset < c->nodes[j].offset + c->nodes[j].length &&
			    c->nodes[j].offset < n->offset + n->length)
				return -EINVAL;
		s->node_conf[i] = *n;
		s->node[i].conf = *n;
		if (has_id) {
			snprintf(s->node[i].owner_node, sizeof(s->node[i].owner_node), "%s",
				 n->owner_node);
			snprintf(s->node[i].owner_segment, sizeof(s->node[i].owner_segment), "%s",
				 n->owner_segment);
			s->node[i].owner.node = s->node[i].owner_node;
			s->node[i].owner.segment = s->node[i].owner_segment;
		}
		/* Not kept: the caller's strings (the handle below has the URI). */
		s->node_conf[i].owner = s->node_conf[i].owner_node = NULL;
		s->node_conf[i].owner_segment = NULL;
		s->node[i].conf.owner = s->node[i].conf.owner_node = NULL;
		s->node[i].conf.owner_segment = NULL;
	}
	s->conf.nodes = s->node_conf;
	s->conf.name = s->name;
	snprintf(s->metadata, sizeof(s->metadata), "%s",
		 c->metadata != NULL ? c->metadata : "embedded");
	s->conf.metadata = s->metadata;
	memcpy(s->name, c->name, len + 1);
	return 0;
}

struct tern_store *
tern_store_create(const struct tern_store_conf *conf)
{
	struct tern_engine_conf ec;
	struct tern_store *s;
	unsigned int i;
	int ret;

	if (conf == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ret = check_conf(s, conf);
	if (ret == 0 && conf->engine != NULL) {
		ret = tern_engine_get_conf(conf->engine, &ec);
	} else if (ret == 0) {
		/* An attached client: the engine's defaults (tern_engine.h). */
		ec.deadline_ns = DEF_ATTACHED_DEADLINE_NS;
		ec.max_batch = DEF_ATTACHED_MAX_BATCH;
	}
	if (ret == 0) {
		if (s->conf.deadline_ns == 0)
			s->conf.deadline_ns = ec.deadline_ns;
		s->max_batch = ec.max_batch;
		if (s->conf.lease_ns == 0)
			s->conf.lease_ns = RTE_MAX(DEF_LEASE_NS, 2 * s->conf.deadline_ns);
		if (s->conf.lease_ns < 2 * s->conf.deadline_ns)
			ret = -EINVAL;
	}
	if (ret != 0)
		goto fail;
	for (i = 0; i < s->conf.nb_nodes && ret == 0; i++)
		ret = store_alloc_init(&s->node[i].alloc, s->node[i].conf.length,
				       s->conf.max_objects);
	if (ret != 0)
		goto fail;
	ret = store_meta_init(&s->meta, s->conf.max_objects);
	if (ret != 0)
		goto fail;
	for (i = 0; i < s->conf.nb_nodes; i++) {
		if (conf->nodes[i].owner == NULL)
			continue;
		s->node[i].owner.dir = tern_directory_open(conf->nodes[i].owner,
							   &(struct tern_directory_conf){
								   .timeout_ms = OWNER_TIMEOUT_MS,
							   });
		if (s->node[i].owner.dir == NULL) {
			ret = -EINVAL;
			goto fail_meta;
		}
	}
	if (strcmp(s->metadata, "embedded") != 0) {
		s->dir = tern_directory_open(s->metadata,
					     &(struct tern_directory_conf){
						     .timeout_ms = s->conf.metadata_timeout_ms,
					     });
		if (s->dir == NULL) {
			ret = rte_errno == ENOTSUP ? -ENOTSUP : -EINVAL;
			goto fail_meta;
		}
	}
	s->futures = calloc(s->conf.max_inflight, sizeof(*s->futures));
	if (s->futures == NULL) {
		ret = -ENOMEM;
		goto fail_meta;
	}
	s->client = conf->client;
	if (s->client == NULL)
		s->client = tern_client_create(
			conf->engine,
			&(struct tern_client_conf){
				.max_inflight = s->conf.max_inflight + 1, /* + a fall-back READ */
				.flags = TERN_CLIENT_F_NO_CQ,
			});
	if (s->client == NULL) {
		ret = -rte_errno;
		goto fail_futures;
	}
	s->engine = conf->engine;
	s->own_client = conf->client == NULL;
	for (i = 0; i < s->conf.nb_nodes; i++) {
		struct store_node *nd = &s->node[i];

		s->stats.capacity += nd->alloc.capacity;
		nd->arena_cur = -1;
		/* Arenas at this process's dataplane (one-way messages reach it
		 * in order; a peer's p2p channel is a connection per call). */
		if ((nd->conf.flags & TERN_STORE_NODE_F_OWNED) && nd->owner.dir == NULL)
			nd->arena_len = RTE_MIN(nd->alloc.capacity / ARENA_DIV, ARENA_MAX) /
					STORE_ALLOC_ALIGN * STORE_ALLOC_ALIGN;
		if (nd->arena_len < ARENA_MIN)
			nd->arena_len = 0;
	}
	s->pre_cur = -1;
	s->magic = STORE_MAGIC;
	return s;

fail_futures:
	free(s->futures);
fail_meta:
	tern_directory_close(s->dir);
	store_meta_fini(&s->meta);
fail:
	for (i = 0; i < TERN_STORE_NODES_MAX; i++) {
		store_alloc_fini(&s->node[i].alloc);
		tern_directory_close(s->node[i].owner.dir);
	}
	free(s);
	rte_errno = -ret;
	return NULL;
}

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tern_store *tel_store;
static bool tel_registered;
static pthread_mutex_t *tel_keys_lock;

int
tern_store_destroy(struct tern_store *s)
{
	unsigned int i, j;

	if (s == NULL)
		return 0;
	if (s->magic != STORE_MAGIC)
		return -EINVAL;
	for (i = 0; i < s->conf.max_inflight; i++)
		if (s->futures[i].kind != F_FREE)
			return -EBUSY;
	pthread_mutex_lock(&tel_lock);
	if (tel_store == s) {
		tel_store = NULL;
		tel_keys_lock = NULL;
	}
	pthread_mutex_unlock(&tel_lock);
	s->magic = 0;
	if (s->dir != NULL) {
		/* Withdraw our records: their memory goes with us (best effort;
		 * an unreachable metadata store keeps them, and gets of them
		 * then fail with -EREMOTE, see doc/store.md). */
		uint32_t iter = 0, idx;
		int ret = 0;

		/* Ambiguous commits decided first (those still unknown keep
		 * their extents: a record may name them). */
		if (s->nb_pending > 0)
			pending_settle(s, NULL, true);
		while (ret == 0 && (idx = store_meta_next(&s->meta, &iter)) != STORE_REC_NONE) {
			ret = tern_directory_kv_del(s->dir, s->meta.rec[idx].key);
			if (ret == -ENOENT)
				ret = 0;
		}
		tern_directory_close(s->dir);
	}
	/* Give back to the owning dataplanes what this store's objects hold
	 * there. Reservations of abandoned puts are left to the owner's lease:
	 * their WRITE may still be landing. */
	for (i = 0; i < s->meta.max; i++)
		if (s->meta.rec[i].state == STORE_REC_LIVE ||
		    s->meta.rec[i].state == STORE_REC_DEAD)
			for (j = 0; j < s->meta.rec[i].nb_rep && s->meta.rec[i].size > 0; j++)
				if (s->node[s->meta.rec[i].node[j]].conf.flags &
				    TERN_STORE_NODE_F_OWNED)
					node_free(s, s->meta.rec[i].node[j],
						  s->meta.rec[i].offset[j], s->meta.rec[i].size);
	/* Arenas: given back (what no commit took; committed objects were
	 * freed above), unless an abandoned put still has an object there. */
	for (i = 0; i < s->conf.nb_nodes; i++)
		for (j = 0; j < ARENA_SLOTS; j++)
			if ((s->node[i].arena[j].state == A_OPEN ||
			     s->node[i].arena[j].state == A_CLOSED) &&
			    s->node[i].arena[j].outstanding == 0)
				arena_end(s, i, j, true);
			else /* an abandoned put's WRITE may land there: the lease */
				store_alloc_fini(&s->node[i].arena[j].alloc);
	if (s->own_client)
		tern_client_destroy(s->client);
	store_meta_fini(&s->meta);
	for (i = 0; i < TERN_STORE_NODES_MAX; i++) {
		store_alloc_fini(&s->node[i].alloc);
		tern_directory_close(s->node[i].owner.dir);
	}
	free(s->futures);
	free(s);
	return 0;
}

int
tern_store_stats(const struct tern_store *s, struct tern_store_stats *out)
{
	const uint64_t *from;
	uint64_t *to;
	size_t i;

	if (s == NULL || out == NULL || s->magic != STORE_MAGIC)
		return -EINVAL;
	from = (const uint64_t *)&s->stats;
	to = (uint64_t *)out;
	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
	return 0;
}

static int
tel_cb(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	struct tern_store_stats st;
	int ret = -ENOENT;

	if (params != NULL && params[0] != '\0')
		return -EINVAL;
	pthread_mutex_lock(&tel_lock);
	if (tel_store != NULL)
		ret = tern_store_stats(tel_store, &st);
	if (ret == 0) {
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_string(d, "name", tel_store->name);
		rte_tel_data_add_dict_string(d, "metadata",
					     tel_store->dir != NULL ? "external" : "embedded");
		rte_tel_data_add_dict_u64(d, "nodes", tel_store->conf.nb_nodes);
		rte_tel_data_add_dict_u64(d, "objects", st.objects);
		rte_tel_data_add_dict_u64(d, "bytes", st.bytes);
		rte_tel_data_add_dict_u64(d, "capacity", st.capacity);
		rte_tel_data_add_dict_u64(d, "used", st.used);
		rte_tel_data_add_dict_u64(d, "reserved", st.reserved);
		rte_tel_data_add_dict_u64(d, "evictions", st.evictions);
		rte_tel_data_add_dict_u64(d, "puts", st.puts);
		rte_tel_data_add_dict_u64(d, "gets", st.gets);
		rte_tel_data_add_dict_u64(d, "removes", st.removes);
		rte_tel_data_add_dict_u64(d, "put_errors", st.put_errors);
		rte_tel_data_add_dict_u64(d, "get_errors", st.get_errors);
		rte_tel_data_add_dict_u64(d, "lease_expired", st.lease_expired);
		rte_tel_data_add_dict_u64(d, "fallbacks", st.fallbacks);
	}
	pthread_mutex_unlock(&tel_lock);
	return ret;
}

int
tern_store_telemetry_register(struct tern_store *s)
{
	int ret = 0;

	if (s != NULL && s->magic != STORE_MAGIC)
		return -EINVAL;
	pthread_mutex_lock(&tel_lock);
	if (s != NULL && tel_store != NULL && tel_store != s)
		ret = -EEXIST;
	else if (s != NULL && !tel_registered) {
		/* DPDK 22.11 cannot unregister a command: register once, serve
		 * whichever store is set (none: -ENOENT). */
		if (rte_telemetry_register_cmd("/tern/store", tel_cb,
					       "The object store's counters. No parameters") != 0)
			ret = -ENOTSUP;
		else
			tel_registered = true;
	}
	if (ret == 0 && tel_store != s)
		tel_keys_lock = NULL; /* /tern/store_keys: tern_store_telemetry_keys_register() */
	if (ret == 0)
		tel_store = s;
	pthread_mutex_unlock(&tel_lock);
	return ret;
}

/* ---- /tern/store_keys: the keys this store placed (doc/telemetry.md) ---- */

#define TEL_KEYS_LOCK_WAIT_NS (200ull * 1000 * 1000)

static int
tel_keys_error(struct rte_tel_data *d, const char *msg)
{
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "error", msg);
	return 0;
}

/* Arrays of one answer (freed by the telemetry library once added to it). */
struct tel_keys_cols {
	struct rte_tel_data *key, *size, *version, *replicas, *nodes;
};

/* One record's row; its key shortened to fit a telemetry string. */
static void
tel_keys_row(const struct tern_store *s, const struct store_record *r, struct tel_keys_cols *c,
	     uint64_t *truncated)
{
	char shown[RTE_TEL_MAX_STRING_LEN], reps[RTE_TEL_MAX_STRING_LEN];
	size_t len = strnlen(r->key, TERN_STORE_KEY_MAX), off = 0;
	unsigned int i;

	if (len < sizeof(shown)) {
		memcpy(shown, r->key, len + 1);
	} else {
		memcpy(shown, r->key, sizeof(shown) - 4);
		memcpy(shown + sizeof(shown) - 4, "...", 4);
		++*truncated;
	}
	reps[0] = '\0';
	for (i = 0; i < r->nb_rep && off < sizeof(reps); i++)
		off += (size_t)snprintf(reps + off, sizeof(reps) - off, "%s%u:%" PRIu64,
					i ? " " : "", r->node[i], r->offset[i]);
	(void)s;
	rte_tel_data_add_array_string(c->key, shown);
	rte_tel_data_add_array_u64(c->size, r->size);
	rte_tel_data_add_array_u64(c->version, r->version);
	rte_tel_data_add_array_string(c->replicas, reps);
}

static int
tel_keys_cb(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	struct tel_keys_cols c = { 0 };
	struct store_keys_query q;
	struct timespec until;
	struct tern_store *s;
	uint64_t truncated = 0;
	uint32_t iter, idx, n = 0;
	size_t plen;
	char err[160];
	bool more = false;
	unsigned int i;
	int ret;

	if (store_keys_parse(params, &q, err, sizeof(err)) != 0)
		return tel_keys_error(d, err);
	pthread_mutex_lock(&tel_lock);
	s = tel_store;
	if (s == NULL || tel_keys_lock == NULL) {
		pthread_mutex_unlock(&tel_lock);
		return tel_keys_error(d, "no store serves its keys in this process");
	}
	if (q.cursor > s->meta.mask + 1) {
		pthread_mutex_unlock(&tel_lock);
		snprintf(err, sizeof(err), "cursor %u is past this store's end (%u)", q.cursor,
			 s->meta.mask + 1);
		return tel_keys_error(d, err);
	}
	/* The store is used by one thread at a time: walk it under that thread's lock. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)TEL_KEYS_LOCK_WAIT_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	ret = pthread_mutex_timedlock(tel_keys_lock, &until);
	if (ret != 0) {
		pthread_mutex_unlock(&tel_lock);
		return tel_keys_error(d, "the store is busy (a call holds it): try again");
	}
	c.key = rte_tel_data_alloc();
	c.size = rte_tel_data_alloc();
	c.version = rte_tel_data_alloc();
	c.replicas = rte_tel_data_alloc();
	c.nodes = rte_tel_data_alloc();
	if (c.key == NULL || c.size == NULL || c.version == NULL || c.replicas == NULL ||
	    c.nodes == NULL) {
		pthread_mutex_unlock(tel_keys_lock);
		pthread_mutex_unlock(&tel_lock);
		rte_tel_data_free(c.key);
		rte_tel_data_free(c.size);
		rte_tel_data_free(c.version);
		rte_tel_data_free(c.replicas);
		rte_tel_data_free(c.nodes);
		return -ENOMEM;
	}
	rte_tel_data_start_array(c.key, RTE_TEL_STRING_VAL);
	rte_tel_data_start_array(c.size, RTE_TEL_U64_VAL);
	rte_tel_data_start_array(c.version, RTE_TEL_U64_VAL);
	rte_tel_data_start_array(c.replicas, RTE_TEL_STRING_VAL);
	rte_tel_data_start_array(c.nodes, RTE_TEL_STRING_VAL);
	plen = strlen(q.prefix);
	iter = q.cursor;
	while ((idx = store_meta_next(&s->meta, &iter)) != STORE_REC_NONE) {
		const struct store_record *r = &s->meta.rec[idx];

		if (memcmp(r->key, q.prefix, plen) != 0)
			continue;
		if (n == q.count) {
			iter--; /* this slot starts the next page */
			more = true;
			break;
		}
		tel_keys_row(s, r, &c, &truncated);
		n++;
	}
	pthread_mutex_unlock(tel_keys_lock);
	for (i = 0; i < s->conf.nb_nodes; i++) {
		struct tern_segment_info info;

		rte_tel_data_add_array_string(
			c.nodes,
			tern_segment_info(s->conf.segments, s->node[i].conf.segment, &info) == 0
				? info.name
				: "?");
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", s->name);
	rte_tel_data_add_dict_string(d, "metadata", s->dir != NULL ? "external" : "embedded");
	pthread_mutex_unlock(&tel_lock);
	rte_tel_data_add_dict_u64(d, "count", n);
	rte_tel_data_add_dict_int(d, "next", more ? (int)iter : -1);
	rte_tel_data_add_dict_u64(d, "truncated", truncated);
	rte_tel_data_add_dict_container(d, "key", c.key, 0);
	rte_tel_data_add_dict_container(d, "size", c.size, 0);
	rte_tel_data_add_dict_container(d, "version", c.version, 0);
	rte_tel_data_add_dict_container(d, "replicas", c.replicas, 0);
	rte_tel_data_add_dict_container(d, "nodes", c.nodes, 0);
	return 0;
}

/* ---- this client's keys, listed by its dataplane (store_private.h) ---- */

/* A page's text: written by the rte_mp thread only (one request at a time). */
static char keys_mp_text[STORE_KEYS_TEXT_MAX];

/* The page asked by @q of @s, under the store's lock, as text in a memfd
 * (*fd; -1 when empty). 0 or a negative errno (r->status). */
static int
keys_mp_page(struct tern_store *s, const struct store_keys_req *q, struct store_keys_rep *r,
	     int *fd)
{
	struct store_keys_query kq;
	struct timespec until;
	uint32_t iter, idx;
	size_t plen, off = 0;
	char err[160];
	int n;

	r->next = -1; /* the end, unless the page is full */
	if (store_keys_parse(q->params, &kq, err, sizeof(err)) != 0)
		return -EINVAL;
	if (kq.cursor > s->meta.mask + 1)
		return -ERANGE;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)TEL_KEYS_LOCK_WAIT_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_timedlock(tel_keys_lock, &until) != 0)
		return -EBUSY;
	plen = strlen(kq.prefix);
	iter = kq.cursor;
	while ((idx = store_meta_next(&s->meta, &iter)) != STORE_REC_NONE) {
		const struct store_record *rec = &s->meta.rec[idx];
		struct store_keys_row row = { .size = rec->size, .version = rec->version };
		size_t ro = 0;
		unsigned int i;

		if (memcmp(rec->key, kq.prefix, plen) != 0)
			continue;
		if (r->count == kq.count) {
			iter--; /* this slot starts the next page */
			r->next = (int32_t)iter;
			break;
		}
		memcpy(row.key, rec->key, sizeof(row.key));
		for (i = 0; i < rec->nb_rep && ro < sizeof(row.replicas); i++)
			ro += (size_t)snprintf(row.replicas + ro, sizeof(row.replicas) - ro,
					       "%s%u:%" PRIu64, i ? " " : "", rec->node[i],
					       rec->offset[i]);
		n = store_keys_row_format(&row, keys_mp_text + off, sizeof(keys_mp_text) - off);
		if (n < 0) {
			pthread_mutex_unlock(tel_keys_lock);
			return n == -ENOSPC ? -EMSGSIZE : -EIO;
		}
		off += (size_t)n;
		r->count++;
	}
	pthread_mutex_unlock(tel_keys_lock);
	r->text_len = (uint32_t)off;
	if (off == 0)
		return 0;
	*fd = memfd_create("tern_store_keys", MFD_CLOEXEC);
	if (*fd < 0)
		return -errno;
	if (write(*fd, keys_mp_text, off) != (ssize_t)off || lseek(*fd, 0, SEEK_SET) != 0) {
		close(*fd);
		*fd = -1;
		return -EIO;
	}
	return 0;
}

/* The dataplane's request (rte_mp, its thread): every request gets an
 * answer, a refusal included, so that the dataplane never waits for one. */
static int
keys_mp_action(const struct rte_mp_msg *msg, const void *peer)
{
	struct store_keys_rep r = { .op = STORE_KEYS_OP_PAGE, .pid = (uint32_t)getpid() };
	struct rte_mp_msg m = { 0 };
	struct store_keys_req q;
	struct tern_store *s;
	int fd = -1, ret, n;

	ret = msg->len_param < 0 ? -EPROTO
				 : store_keys_req_decode(msg->param, (size_t)msg->len_param, &q);
	if (ret == 0)
		r.op = q.op;
	pthread_mutex_lock(&tel_lock);
	s = tel_store;
	if (ret == 0 && (s == NULL || tel_keys_lock == NULL))
		ret = -ENOENT;
	if (s != NULL)
		memcpy(r.name, s->name, strnlen(s->name, sizeof(r.name) - 1));
	if (ret == 0 && q.op == STORE_KEYS_OP_PAGE)
		ret = q.pid != r.pid ? -ESRCH : keys_mp_page(s, &q, &r, &fd);
	pthread_mutex_unlock(&tel_lock);
	r.status = ret;
	if (ret != 0 || r.op == STORE_KEYS_OP_HELLO) {
		r.count = r.truncated = r.text_len = 0;
		r.next = ret != 0 ? -1 : 0;
	}
	snprintf(m.name, sizeof(m.name), "%s", STORE_KEYS_MP_NAME);
	n = store_keys_rep_encode(&r, m.param, sizeof(m.param));
	if (n < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	m.len_param = n;
	if (fd >= 0) {
		m.fds[0] = fd;
		m.num_fds = 1;
	}
	ret = rte_mp_reply(&m, peer);
	if (fd >= 0)
		close(fd);
	return ret;
}

int
tern_store_telemetry_keys_register(struct tern_store *s, pthread_mutex_t *lock)
{
	static bool keys_registered, mp_registered;
	int ret;

	if (s == NULL || s->magic != STORE_MAGIC || lock == NULL)
		return -EINVAL;
	ret = tern_store_telemetry_register(s);
	if (ret != 0)
		return ret;
	pthread_mutex_lock(&tel_lock);
	if (!keys_registered) {
		if (rte_telemetry_register_cmd("/tern/store_keys", tel_keys_cb,
					       "Keys the store placed: [CURSOR[,COUNT[,PREFIX]]] "
					       "-> key, size, version, "
					       "replicas; next (-1 at the end)") != 0)
			ret = -ENOTSUP;
		else
			keys_registered = true;
	}
	/* A client of a dataplane (a DPDK secondary, no telemetry socket):
	 * its dataplane lists these keys (/tern/client_store_keys). */
	if (ret == 0 && !mp_registered && rte_eal_process_type() == RTE_PROC_SECONDARY) {
		if (rte_mp_action_register(STORE_KEYS_MP_NAME, keys_mp_action) != 0 &&
		    rte_errno != EEXIST)
			ret = -ENOTSUP;
		else
			mp_registered = true;
	}
	if (ret == 0)
		tel_keys_lock = lock;
	pthread_mutex_unlock(&tel_lock);
	return ret;
}
