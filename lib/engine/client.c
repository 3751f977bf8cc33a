/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_pause.h>
#include <rte_spinlock.h>

#include "engine_private.h"

/* Client handles of this process; never freed (see engine_private.h). */
/* A live engine handle of this process, or NULL with *err (-EINVAL, -ESHUTDOWN). */
struct tern_engine *
engine_handle_check(const struct tern_engine *engine, int *err)
{
	if (engine == NULL || engine->magic != ENGINE_MAGIC) {
		*err = -EINVAL;
		return NULL;
	}
	if (engine->state != HANDLE_LIVE ||
	    __atomic_load_n(&engine->sh->phase, __ATOMIC_ACQUIRE) != PHASE_RUN) {
		*err = -ESHUTDOWN;
		return NULL;
	}
	return (struct tern_engine *)(uintptr_t)engine;
}

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

/* ---- client handles (any process) ---- */

/* Checks @conf; *home is the home lcore's index, or UINT32_MAX for the slot's default. */
int
engine_client_conf_check(const struct engine_shared *sh, const struct tern_client_conf *conf,
			 uint32_t *max_inflight, uint32_t *home)
{
	uint32_t h = UINT32_MAX;

	*max_inflight = conf->max_inflight == 0 ? CLIENT_DEFAULT_INFLIGHT : conf->max_inflight;
	if (*max_inflight > CLIENT_MAX_INFLIGHT ||
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
engine_client_handle_open(struct engine_shared *sh, struct tern_engine *engine, uint32_t slot,
			  const struct tern_client_conf *conf, uint32_t max_inflight)
{
	struct client_slot *cs = &sh->clients[slot];
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
	c->flags = conf->flags;
	c->max_inflight = max_inflight;
	c->sq = cs->sq;
	c->sq_mask = cs->sq_mask;
	c->sq_prod = 0;
	c->cq = cs->cq;
	c->local_hint = TERN_SEGMENT_INVALID;
	/* Process-local: nothing another process reads, so nothing a death leaves half-done. */
	c->free = malloc(cs->nb_futures * sizeof(*c->free));
	if (c->free == NULL) {
		c->state = HANDLE_FREE;
		rte_errno = ENOMEM;
		return NULL;
	}
	c->nb_futures = cs->nb_futures;
	for (i = 0; i < c->nb_futures; i++)
		c->free[i] = cs->futures[c->nb_futures - 1 - i];
	c->nb_free = c->nb_futures;
	__atomic_store_n(&c->state, HANDLE_LIVE, __ATOMIC_RELEASE);
	return c;
}

struct tern_client *
tern_client_create(struct tern_engine *engine, const struct tern_client_conf *conf)
{
	static const struct tern_client_conf defaults;
	uint32_t max_inflight, home, slot;
	struct tern_client *c;
	int err;

	if (engine_handle_check(engine, &err) == NULL) {
		rte_errno = -err;
		return NULL;
	}
	if (conf == NULL)
		conf = &defaults;
	err = engine_client_conf_check(engine->sh, conf, &max_inflight, &home);
	if (err == 0)
		err = engine_slot_alloc(engine->sh, getpid(), max_inflight, conf->flags, home,
					&slot);
	if (err != 0) {
		rte_errno = -err;
		return NULL;
	}
	c = engine_client_handle_open(engine->sh, engine, slot, conf, max_inflight);
	if (c == NULL) {
		engine_slot_close(engine->sh, slot, CLIENT_SLOT_CLOSING);
		engine_slot_reclaim_wait(engine->sh, slot);
	}
	return c;
}

/* Lets go of a client's slot: the engine reclaims it once nothing of it is in flight. */
void
engine_client_teardown(struct tern_client *c)
{
	rte_spinlock_lock(&client_handles_lock);
	if (c->engine == NULL) {
		c->detach(c->sh, c->slot);
	} else {
		engine_slot_close(c->sh, c->slot, CLIENT_SLOT_CLOSING);
		if (c->engine->state == HANDLE_DEAD)
			engine_slot_reclaim(c->sh, c->slot, true); /* the lcores are gone */
		else
			engine_slot_reclaim_wait(c->sh, c->slot);
	}
	free(c->free);
	c->free = NULL;
	c->sq = NULL;
	c->cq = NULL;
	__atomic_store_n(&c->state, HANDLE_DEAD, __ATOMIC_RELEASE);
	rte_spinlock_unlock(&client_handles_lock);
}

/* Tears down the clients an engine still has when it is destroyed. */
void
engine_client_teardown_engine(struct tern_engine *engine)
{
	unsigned int i;

	for (i = 0; i < PROCESS_CLIENTS_MAX; i++) {
		struct tern_client *c = &client_handles[i];

		if (c->magic == CLIENT_MAGIC && c->state == HANDLE_LIVE && c->engine == engine)
			engine_client_teardown(c);
	}
}

/*
 * The client let go of @f: it goes back on the free stack, or, while the
 * engine still holds it (a timed-out batch whose slices a transport still
 * has), it lingers until client_take() finds it free.
 */
static void
client_recycle(struct tern_client *c, struct tern_future *f)
{
	c->outstanding--;
	if (__atomic_load_n(&f->engine, __ATOMIC_ACQUIRE) == ENGINE_DONE) {
		f->magic = FUTURE_FREE;
		c->free[c->nb_free++] = f;
	} else {
		f->holds = HOLD_LINGER;
		c->nb_linger++;
	}
}

/* A free future of the client's, or NULL when every one is in use. */
static inline struct tern_future *
client_take(struct tern_client *c)
{
	struct tern_future **futures;
	uint32_t i;

	if (likely(c->nb_free != 0))
		return c->free[--c->nb_free];
	if (c->nb_linger == 0)
		return NULL;
	futures = c->sh->clients[c->slot].futures;
	for (i = 0; i < c->nb_futures; i++) {
		struct tern_future *f = futures[i];

		if (f->holds == HOLD_LINGER &&
		    __atomic_load_n(&f->engine, __ATOMIC_ACQUIRE) == ENGINE_DONE) {
			f->holds = 0;
			f->magic = FUTURE_FREE;
			c->free[c->nb_free++] = f;
			c->nb_linger--;
		}
	}
	return c->nb_free != 0 ? c->free[--c->nb_free] : NULL;
}

void
engine_client_drop_cq_entry(struct tern_client *c, struct tern_future *f)
{
	f->holds &= (uint8_t)~HOLD_CQ;
	if (f->holds == 0)
		client_recycle(c, f);
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
			engine_client_drop_cq_entry(c, f);
		else
			rte_delay_us_sleep(10);
	}
	engine_client_teardown(c);
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

/* Validates one request of a larger batch and records the segments it
 * names for the owner lcore to take references on; a request naming the same
 * segments as the previous one records none. Takes no reference itself: a
 * client that dies here leaves nothing behind. */
static int
fill_request(struct tern_client *c, struct submit_ctx *ctx, const struct tern_request *r,
	     struct batch_req *br, uint32_t *refs, uint32_t *nb_refs)
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
		seg = tern_segment_lookup(tbl, r->segment, r->offset, r->length);
		if (seg == NULL)
			return tern_segment_is_retired(tbl, r->segment) ? -ESTALE : -EINVAL;
		refs[(*nb_refs)++] = seg->handle;
		ctx->target = seg;
	}
	if (!local_contains(ctx->local, local, r->length)) {
		seg = tern_segment_lookup_local(tbl, local, r->length, c->local_hint);
		if (seg == NULL)
			return -EINVAL;
		refs[(*nb_refs)++] = seg->handle;
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

/* The one request of a batch, validated, into the submission entry. */
static inline int
fill_entry(struct tern_client *c, const struct tern_request *r, struct sq_entry *e)
{
	struct tern_segment_table *tbl = c->sh->segments;
	struct tern_segment *target, *local;

	if (unlikely((r->op != TERN_OP_READ && r->op != TERN_OP_WRITE) || r->length == 0 ||
		     r->local == NULL))
		return -EINVAL;
	target = tern_segment_lookup(tbl, r->segment, r->offset, r->length);
	if (unlikely(target == NULL))
		return tern_segment_is_retired(tbl, r->segment) ? -ESTALE : -EINVAL;
	local = tern_segment_lookup_local(tbl, r->local, r->length, c->local_hint);
	if (unlikely(local == NULL))
		return -EINVAL;
	c->local_hint = local->handle;
	e->nb_reqs = 1;
	e->op = r->op;
	e->slice_flags = r->length >= c->sh->stream_bytes ? TERN_SLICE_F_STREAM : 0;
	e->target = target->handle;
	e->local_seg = local->handle;
	e->offset = r->offset;
	e->local = r->local;
	e->length = r->length;
	return 0;
}

/* Requests of a larger batch, validated, into the future's tail. */
static int
fill_tail(struct tern_client *c, struct tern_future *f, const struct tern_request *reqs,
	  uint32_t nb, struct sq_entry *e)
{
	uint64_t slices = 0, slice_bytes = __atomic_load_n(&c->sh->slice_bytes, __ATOMIC_RELAXED);
	struct batch_req *br = future_reqs(f);
	uint32_t *refs = future_segrefs(f, c->sh->max_batch);
	struct submit_ctx ctx = { NULL, NULL };
	uint32_t i, nb_refs = 0;
	int err;

	for (i = 0; i < nb; i++) {
		err = fill_request(c, &ctx, &reqs[i], &br[i], refs, &nb_refs);
		if (unlikely(err != 0))
			return err;
		br[i].first_slice = slices;
		slices += (reqs[i].length + slice_bytes - 1) / slice_bytes;
	}
	e->nb_reqs = nb;
	e->nb_segrefs = (uint16_t)nb_refs;
	e->length = slice_bytes;
	return 0;
}

/* Copies the notification a batch carries into its future. */
static int
notify_fill(struct tern_future *f, const struct tern_notify *n)
{
	if (unlikely(n->msg_len > TERN_NOTIFY_MSG_MAX || (n->msg == NULL && n->msg_len != 0)))
		return -EINVAL;
	f->nt.tag = n->tag;
	f->nt.msg_len = n->msg_len;
	f->nt.last = 0;
	if (n->msg_len != 0)
		memcpy(f->nt.msg, n->msg, n->msg_len);
	f->notify = NT_WANTED;
	return 0;
}

/* The rest of a submission once its entry is filled: the future's first
 * line, then the entry is published. */
static inline struct tern_future *
submit_publish(struct tern_client *c, struct tern_future *f, struct sq_entry *e,
	       uint64_t deadline_ns, const struct tern_submit_opts *opts)
{
	struct engine_shared *sh = c->sh;

	f->state = FUT_PENDING;
	f->status = -EINPROGRESS;
	f->resolved = 0;
	f->client = c;
	f->has_cq = c->cq != NULL;
	f->holds = (uint8_t)(HOLD_USER | (f->has_cq ? HOLD_CQ : 0));
	f->user_data = opts != NULL ? opts->user_data : 0;
	f->submit_tsc = rte_rdtsc();
	f->magic = FUTURE_LIVE;
	/* The engine's until every slice is accounted (see engine_slot_engine_held()). */
	__atomic_store_n(&f->engine, ENGINE_QUEUED, __ATOMIC_RELAXED);
	e->f = f;
	e->deadline_tsc = tern_add_sat(f->submit_tsc, tern_scale_apply(deadline_ns, sh->ns_to_tsc));
	/* Publish: everything above is visible to the lcore that reads this. */
	__atomic_store_n(&e->seq, c->sq_prod + 1, __ATOMIC_RELEASE);
	c->sq_prod++;
	c->outstanding++;
	c->user_held++;
	COUNTER_ADD(&sh->clients[c->slot], submitted, 1);
	return f;
}

/* Checks the client and the deadline and takes a future; NULL with rte_errno. */
static inline struct tern_future *
submit_begin(struct tern_client *client, const struct tern_submit_opts *opts,
	     struct tern_client **cp, uint64_t *deadline_ns)
{
	struct tern_client *c;
	struct tern_future *f;
	int err;

	c = client_check(client, &err);
	if (unlikely(c == NULL)) {
		rte_errno = -err;
		return NULL;
	}
	*deadline_ns = opts != NULL && opts->deadline_ns != 0
			       ? opts->deadline_ns
			       : __atomic_load_n(&c->sh->deadline_ns, __ATOMIC_RELAXED);
	if (unlikely(*deadline_ns > DEADLINE_MAX_NS)) {
		rte_errno = EINVAL;
		return NULL;
	}
	f = likely(c->outstanding < c->max_inflight) ? client_take(c) : NULL;
	if (unlikely(f == NULL)) {
		rte_errno = EAGAIN;
		return NULL;
	}
	*cp = c;
	return f;
}

struct tern_future *
tern_submit(struct tern_client *client, const struct tern_request *reqs, uint32_t nb,
	    const struct tern_submit_opts *opts)
{
	struct tern_client *c = NULL;
	struct tern_future *f;
	struct sq_entry *e;
	uint64_t deadline_ns;
	int err;

	if (unlikely(reqs == NULL || nb == 0)) {
		rte_errno = client_check(client, &err) == NULL ? -err : EINVAL;
		return NULL;
	}
	f = submit_begin(client, opts, &c, &deadline_ns);
	if (unlikely(f == NULL))
		return NULL;
	if (unlikely(nb > c->sh->max_batch)) {
		c->free[c->nb_free++] = f;
		rte_errno = EINVAL;
		return NULL;
	}
	/* Filled in place; nothing reads it before its seq is published. */
	e = &c->sq[c->sq_prod & c->sq_mask];
	if (likely(nb == 1)) {
		err = fill_entry(c, reqs, e);
	} else {
		future_unpoison(f);
		err = fill_tail(c, f, reqs, nb, e);
	}
	f->notify = NT_NONE;
	if (unlikely(opts != NULL && opts->notify != NULL) && err == 0)
		err = notify_fill(f, opts->notify);
	if (unlikely(err != 0)) {
		c->free[c->nb_free++] = f;
		rte_errno = -err;
		return NULL;
	}
	return submit_publish(c, f, e, deadline_ns, opts);
}

struct tern_future *
tern_notify_send(struct tern_client *client, uint32_t segment, const struct tern_notify *n,
		 const struct tern_submit_opts *opts)
{
	struct tern_client *c = NULL;
	struct tern_segment *target;
	struct tern_future *f;
	struct sq_entry *e;
	uint64_t deadline_ns;
	int err;

	f = submit_begin(client, opts, &c, &deadline_ns);
	if (f == NULL)
		return NULL;
	target = n == NULL ? NULL : tern_segment_lookup(c->sh->segments, segment, 0, 0);
	if (target == NULL) {
		c->free[c->nb_free++] = f;
		rte_errno = n != NULL && tern_segment_is_retired(c->sh->segments, segment) ? ESTALE
											   : EINVAL;
		return NULL;
	}
	err = notify_fill(f, n);
	if (err != 0) {
		c->free[c->nb_free++] = f;
		rte_errno = -err;
		return NULL;
	}
	/* A one-request batch of no slice: the owner lcore sends the
	 * notification at accept. */
	e = &c->sq[c->sq_prod & c->sq_mask];
	e->nb_reqs = 1;
	e->op = TERN_OP_WRITE;
	e->slice_flags = 0;
	e->target = target->handle;
	e->local_seg = target->handle;
	e->offset = 0;
	e->local = NULL;
	e->length = 0;
	return submit_publish(c, f, e, deadline_ns, opts);
}

int
tern_notify_poll(struct tern_client *client, struct tern_notification *out, unsigned int max)
{
	struct tern_client *c;
	int err;

	c = client_check(client, &err);
	if (c == NULL)
		return err;
	return tern_notify_queue_poll(c->sh->notify, out, max);
}

int
tern_notify_wait(struct tern_client *client, struct tern_notification *out, unsigned int max,
		 uint64_t timeout_ns)
{
	struct tern_client *c;
	int err;

	c = client_check(client, &err);
	if (c == NULL)
		return err;
	return tern_notify_queue_wait(c->sh->notify, out, max, timeout_ns);
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
			engine_client_drop_cq_entry(c, f);
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
	if (f->holds == 0 && c->state == HANDLE_LIVE)
		client_recycle(c, f);
	return 0;
}
