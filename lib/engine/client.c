/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_pause.h>
#include <rte_spinlock.h>

#include "engine_private.h"

/* Client handles of this process; never freed (see engine_private.h). */
static struct tern_client client_handles[PROCESS_CLIENTS_MAX];
static rte_spinlock_t client_handles_lock = RTE_SPINLOCK_INITIALIZER;

/* Validates a client handle; sets *err to the negative errno on failure. */
static struct tern_client *
client_check(struct tern_client *c, int *err)
{
	if (c == NULL || c->magic != CLIENT_MAGIC) {
		*err = -EINVAL;
		return NULL;
	}
	if (c->state != HANDLE_LIVE) {
		*err = c->engine != NULL && c->engine->state != HANDLE_LIVE ? -ESHUTDOWN : -EINVAL;
		return NULL;
	}
	if (__atomic_load_n(&c->sh->phase, __ATOMIC_ACQUIRE) != PHASE_RUN) {
		*err = -ESHUTDOWN;
		return NULL;
	}
	return c;
}

/* ---- client slots (the engine's process only) ---- */

static rte_spinlock_t slots_lock = RTE_SPINLOCK_INITIALIZER;

int
slot_alloc(struct engine_shared *sh, int32_t pid, uint32_t max_inflight, uint32_t flags,
	   uint32_t *slot_out)
{
	char ring_name[RTE_RING_NAMESIZE];
	struct client_slot *cs;
	uint32_t slot;

	rte_spinlock_lock(&slots_lock);
	for (slot = 0; slot < sh->max_clients; slot++)
		if (__atomic_load_n(&sh->clients[slot].state, __ATOMIC_ACQUIRE) == CLIENT_SLOT_FREE)
			break;
	if (slot == sh->max_clients) {
		rte_spinlock_unlock(&slots_lock);
		return -ENOSPC;
	}
	cs = &sh->clients[slot];
	memset(cs, 0, sizeof(*cs));
	cs->state = CLIENT_SLOT_RESERVED;
	rte_spinlock_unlock(&slots_lock);

	if (!(flags & TERN_CLIENT_F_NO_CQ)) {
		snprintf(ring_name, sizeof(ring_name), "tcq_%.15s_%hu", sh->name, (uint16_t)slot);
		cs->cq = rte_ring_create(ring_name, rte_align32pow2(max_inflight + 1),
					 sh->pool->socket_id, RING_F_SC_DEQ);
		if (cs->cq == NULL) {
			__atomic_store_n(&cs->state, CLIENT_SLOT_FREE, __ATOMIC_RELEASE);
			return -ENOMEM;
		}
	}
	cs->pid = pid;
	cs->flags = flags;
	cs->max_inflight = max_inflight;
	cs->attach_tsc = rte_get_tsc_cycles();
	__atomic_store_n(&cs->state, CLIENT_SLOT_ACTIVE, __ATOMIC_RELEASE);
	*slot_out = slot;
	return 0;
}

void
slot_release(struct engine_shared *sh, uint32_t slot)
{
	struct client_slot *cs = &sh->clients[slot];

	rte_ring_free(cs->cq);
	cs->cq = NULL;
	cs->cache = NULL;
	cs->pid = 0;
	__atomic_store_n(&cs->state, CLIENT_SLOT_FREE, __ATOMIC_RELEASE);
}

/* ---- client handles (any process) ---- */

int
client_conf_check(const struct engine_shared *sh, const struct tern_client_conf *conf,
		  uint32_t *max_inflight, uint32_t *cache_size, uint32_t *home)
{
	uint32_t h = 0;

	*max_inflight = conf->max_inflight == 0 ? CLIENT_DEFAULT_INFLIGHT : conf->max_inflight;
	*cache_size = conf->cache_size == 0 ? CLIENT_DEFAULT_CACHE : conf->cache_size;
	if (*max_inflight > CLIENT_MAX_INFLIGHT || *cache_size > RTE_MEMPOOL_CACHE_MAX_SIZE ||
	    (conf->flags & ~(TERN_CLIENT_F_NO_CQ | TERN_CLIENT_F_HOME_LCORE)) != 0)
		return -EINVAL;
	if (conf->flags & TERN_CLIENT_F_HOME_LCORE) {
		for (h = 0; h < sh->nb_workers; h++)
			if (sh->lcore_ids[h] == conf->home_lcore)
				break;
		if (h == sh->nb_workers)
			return -EINVAL;
	}
	*home = h;
	return 0;
}

/* Takes a free handle of this process and fills it for @slot. */
struct tern_client *
client_handle_open(struct engine_shared *sh, struct tern_engine *engine, uint32_t slot,
		   const struct tern_client_conf *conf, uint32_t max_inflight, uint32_t cache_size,
		   uint32_t home)
{
	struct tern_client *c = NULL;
	unsigned int i;

	rte_spinlock_lock(&client_handles_lock);
	for (i = 0; i < PROCESS_CLIENTS_MAX; i++)
		if (handle_reusable(client_handles[i].state)) {
			c = &client_handles[i];
			break;
		}
	if (c == NULL) {
		rte_spinlock_unlock(&client_handles_lock);
		rte_errno = ENOSPC;
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->state = HANDLE_RESERVED;
	c->magic = CLIENT_MAGIC;
	rte_spinlock_unlock(&client_handles_lock);

	c->engine = engine;
	c->sh = sh;
	c->slot = (uint16_t)slot;
	c->home = (uint16_t)(conf->flags & TERN_CLIENT_F_HOME_LCORE ? home : slot % sh->nb_workers);
	c->flags = conf->flags;
	c->max_inflight = max_inflight;
	c->cq = sh->clients[slot].cq;
	c->cache = rte_mempool_cache_create(cache_size, sh->pool->socket_id);
	if (c->cache == NULL) {
		c->state = HANDLE_FREE;
		rte_errno = ENOMEM;
		return NULL;
	}
	/* Recorded so that the engine can flush it if this process dies. */
	sh->clients[slot].cache = c->cache;
	__atomic_store_n(&c->state, HANDLE_LIVE, __ATOMIC_RELEASE);
	return c;
}

struct tern_client *
tern_client_create(struct tern_engine *engine, const struct tern_client_conf *conf)
{
	static const struct tern_client_conf defaults;
	uint32_t max_inflight, cache_size, home, slot;
	struct tern_client *c;
	int err;

	if (engine_handle_check(engine, &err) == NULL) {
		rte_errno = -err;
		return NULL;
	}
	if (conf == NULL)
		conf = &defaults;
	err = client_conf_check(engine->sh, conf, &max_inflight, &cache_size, &home);
	if (err == 0)
		err = slot_alloc(engine->sh, getpid(), max_inflight, conf->flags, &slot);
	if (err != 0) {
		rte_errno = -err;
		return NULL;
	}
	c = client_handle_open(engine->sh, engine, slot, conf, max_inflight, cache_size, home);
	if (c == NULL)
		slot_release(engine->sh, slot);
	return c;
}

/* Frees a client's resources; the slot goes back to the engine. */
void
client_teardown(struct tern_client *c)
{
	rte_spinlock_lock(&client_handles_lock);
	if (c->cache != NULL) {
		rte_mempool_cache_flush(c->cache, c->sh->pool);
		rte_mempool_cache_free(c->cache);
		c->sh->clients[c->slot].cache = NULL;
	}
	c->cache = NULL;
	c->cq = NULL;
	if (c->engine != NULL)
		slot_release(c->sh, c->slot);
	else
		client_detach_slot(c->sh, c->slot);
	__atomic_store_n(&c->state, HANDLE_DEAD, __ATOMIC_RELEASE);
	rte_spinlock_unlock(&client_handles_lock);
}

/* Tears down the clients an engine still has when it is destroyed. */
void
client_teardown_engine(struct tern_engine *engine)
{
	unsigned int i;

	for (i = 0; i < PROCESS_CLIENTS_MAX; i++) {
		struct tern_client *c = &client_handles[i];

		if (c->magic == CLIENT_MAGIC && c->state == HANDLE_LIVE && c->engine == engine)
			client_teardown(c);
	}
}

void
client_drop_cq_entry(struct tern_client *c, struct tern_future *f)
{
	f->holds &= (uint8_t)~HOLD_CQ;
	if (f->holds == 0)
		c->outstanding--;
	future_put(f, 1, c->cache);
}

int
tern_client_destroy(struct tern_client *c)
{
	struct tern_future *f;
	int err;

	if (client_check(c, &err) == NULL)
		return err;
	if (c->user_held != 0)
		return -EBUSY;
	/* Released futures still owe a completion-queue entry; each resolves
	 * by its deadline, so this wait is bounded. */
	while (c->outstanding != 0) {
		if (c->cq != NULL && rte_ring_sc_dequeue(c->cq, (void **)&f) == 0)
			client_drop_cq_entry(c, f);
		else
			rte_delay_us_sleep(10);
	}
	client_teardown(c);
	return 0;
}

/* Segments the previous requests of a batch resolved to. */
struct submit_ctx {
	struct tern_segment *target;
	struct tern_segment *local;
};

static inline bool
local_contains(const struct tern_segment *s, const uint8_t *p, uint64_t length)
{
	return s != NULL && p >= s->base && length <= s->length &&
	       (uint64_t)(p - s->base) <= s->length - length;
}

/* Validates one request and takes the segment references it needs; a request
 * naming the same segments as the previous one takes none. */
static int
fill_request(struct tern_client *c, struct tern_future *f, struct submit_ctx *ctx,
	     const struct tern_request *r, struct batch_req *br, struct batch_segref *refs)
{
	struct tern_segment_table *tbl = c->sh->segments;
	struct tern_segment *seg;
	uint8_t *local = r->local;

	if (unlikely((r->op != TERN_OP_READ && r->op != TERN_OP_WRITE) || r->length == 0 ||
		     local == NULL))
		return -EINVAL;
	if (ctx->target != NULL && ctx->target->handle == r->segment) {
		if (r->offset > ctx->target->length || r->length > ctx->target->length - r->offset)
			return -EINVAL;
	} else {
		seg = tern_segment_acquire(tbl, r->segment, r->offset, r->length, 1);
		if (seg == NULL)
			return tern_segment_is_retired(tbl, r->segment) ? -ESTALE : -EINVAL;
		refs[f->nb_segrefs++].seg = seg;
		ctx->target = seg;
	}
	if (!local_contains(ctx->local, local, r->length)) {
		seg = tern_segment_acquire_local(tbl, local, r->length, c->local_hint, 1);
		if (seg == NULL)
			return -EINVAL;
		refs[f->nb_segrefs++].seg = seg;
		ctx->local = seg;
		c->local_hint = seg->handle;
	}
	br->local = local;
	br->local_seg = ctx->local;
	br->target = ctx->target;
	br->offset = r->offset;
	br->length = r->length;
	br->op = r->op;
	br->slice_flags = r->length >= c->sh->stream_bytes ? TERN_SLICE_F_STREAM : 0;
	return 0;
}

struct tern_future *
tern_submit(struct tern_client *client, const struct tern_request *reqs, uint32_t nb,
	    const struct tern_submit_opts *opts)
{
	struct tern_client *c;
	struct engine_shared *sh;
	struct tern_future *f;
	struct batch_req *br;
	struct batch_segref *refs;
	struct submit_ctx ctx = { NULL, NULL };
	uint64_t slices = 0, bytes = 0, slice_bytes, deadline_ns;
	uint32_t i;
	int err;

	c = client_check(client, &err);
	if (unlikely(c == NULL)) {
		rte_errno = -err;
		return NULL;
	}
	sh = c->sh;
	if (unlikely(reqs == NULL || nb == 0 || nb > sh->max_batch)) {
		rte_errno = EINVAL;
		return NULL;
	}
	deadline_ns = opts != NULL && opts->deadline_ns != 0
			      ? opts->deadline_ns
			      : __atomic_load_n(&sh->deadline_ns, __ATOMIC_RELAXED);
	if (unlikely(deadline_ns > DEADLINE_MAX_NS)) {
		rte_errno = EINVAL;
		return NULL;
	}
	if (unlikely(c->outstanding >= c->max_inflight)) {
		rte_errno = EAGAIN;
		return NULL;
	}
	if (unlikely(rte_mempool_generic_get(sh->pool, (void **)&f, 1, c->cache) != 0)) {
		rte_errno = EAGAIN;
		return NULL;
	}
	future_unpoison(f);

	br = future_reqs(f);
	refs = future_segrefs(f, sh->max_batch);
	slice_bytes = __atomic_load_n(&sh->slice_bytes, __ATOMIC_RELAXED);
	f->nb_segrefs = 0;
	f->sh = sh;
	for (i = 0; i < nb; i++) {
		if (unlikely(fill_request(c, f, &ctx, &reqs[i], &br[i], refs) != 0))
			goto invalid;
		br[i].first_slice = slices;
		slices += (reqs[i].length + slice_bytes - 1) / slice_bytes;
		bytes += reqs[i].length;
	}

	f->state = FUT_PENDING;
	f->status = -EINPROGRESS;
	f->resolved = 0;
	f->client_slot = c->slot;
	f->client = c;
	f->has_cq = c->cq != NULL;
	f->holds = (uint8_t)(HOLD_USER | (f->has_cq ? HOLD_CQ : 0));
	/* User, completion queue, engine (until every slice is accounted), the
	 * owner lcore's claim list entry (until it stops claiming). */
	f->refcnt = 3u + f->has_cq;
	f->user_data = opts != NULL ? opts->user_data : 0;
	f->sh = sh;
	f->next_slice = 0;
	f->pending = slices;
	f->first_error = 0;
	f->nb_slices = slices;
	f->slice_bytes = slice_bytes;
	f->total_bytes = bytes;
	f->nb_reqs = nb;
	f->timer_linked = 0;
	f->submit_tsc = rte_rdtsc();
	f->deadline_tsc = f->submit_tsc + deadline_ns * sh->tsc_hz / 1000000000ull;
	f->magic = FUTURE_LIVE;

	/* The home ring first; under backpressure, any other. */
	for (i = 0; i < sh->nb_workers; i++) {
		uint32_t w = (c->home + i) % sh->nb_workers;

		if (rte_ring_mp_enqueue(sh->sq[w], f) == 0) {
			c->outstanding++;
			c->user_held++;
			COUNTER_ADD(&sh->clients[c->slot], submitted, 1);
			return f;
		}
	}
	f->magic = FUTURE_FREE;
	rte_errno = EAGAIN;
	goto unused;

invalid:
	rte_errno = EINVAL;
unused:
	future_release_segrefs(f);
	future_poison(f);
	rte_mempool_generic_put(sh->pool, (void **)&f, 1, c->cache);
	return NULL;
}

int
tern_client_reap(struct tern_client *client, struct tern_future **futures, unsigned int max)
{
	struct tern_future *batch[64];
	struct tern_client *c;
	unsigned int n, i, out = 0;
	int err;

	c = client_check(client, &err);
	if (c == NULL)
		return err;
	if (futures == NULL || c->cq == NULL)
		return -EINVAL;
	while (out < max) {
		n = rte_ring_sc_dequeue_burst(c->cq, (void **)batch, RTE_MIN(max - out, 64u), NULL);
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			struct tern_future *f = batch[i];

			/* Queued just before it is published: a few instructions. */
			while (__atomic_load_n(&f->state, __ATOMIC_ACQUIRE) != FUT_DONE)
				rte_pause();
			if (f->holds & HOLD_USER)
				futures[out++] = f;
			client_drop_cq_entry(c, f);
		}
	}
	return (int)out;
}

int
tern_future_release(struct tern_future *f)
{
	struct tern_client *c;

	if (f == NULL || f->magic != FUTURE_LIVE || !(f->holds & HOLD_USER))
		return -EINVAL;
	c = f->client;
	f->holds &= (uint8_t)~HOLD_USER;
	c->user_held--;
	if (f->holds == 0)
		c->outstanding--;
	future_put(f, 1, c->state == HANDLE_LIVE ? c->cache : NULL);
	return 0;
}
