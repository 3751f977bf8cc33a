/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The owner side of a capacity segment (doc/store.md "Owners"): the
 * dataplane that holds the segment runs the allocator and answers its
 * attached clients' reserve, commit and free requests over rte_mp (message
 * STORE_WIRE_MP_NAME). A reservation carries a lease: if its client never
 * commits or frees it (it died mid-put), the owner frees it when the lease
 * expires (swept at every request and by tern_store_owner_poll()).
 * One owner per process (one rte_mp action).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_telemetry.h>

#include <tern_directory.h>
#include <tern_time.h>

#include "store_private.h"

#define OWNER_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, RTE_LOGTYPE_USER1, "tern_store_owner: " fmt "\n", ##__VA_ARGS__)

#define OWNER_DEF_EXTENTS 65536u

/*
 * EXT_ARENA: a client's arena (doc/store.md, *Arenas*), with the lease of a
 * reservation. A COMMIT of a range inside it makes that range an
 * EXT_COMMITTED extent with `parent` (1 + the arena's slot); a piece freed
 * while its arena lives becomes EXT_GONE: its range goes back with the
 * arena's. When the arena ends (ARENA_END or its lease) its whole range is
 * given back but for its committed pieces, which stay as extents of their
 * own.
 */
enum { EXT_FREE = 0, EXT_RESERVED, EXT_COMMITTED, EXT_ARENA, EXT_GONE };

struct owner_extent {
	uint64_t offset;
	uint64_t length;
	uint64_t lease_end_ns; /* RESERVED: freed after this */
	uint64_t ref_end_ns;   /* refs > 0: the references expire after this */
	uint32_t refs;	       /* readers' references (COMMITTED) */
	uint32_t pid;
	uint32_t parent; /* a piece of the arena in slot parent - 1, or 0 */
	uint8_t state;
	bool freeing; /* freed while referenced: given back when refs drop */
};

struct tern_store_owner {
	pthread_mutex_t lock;
	struct tern_store_owner_conf conf;
	struct store_alloc alloc;
	struct owner_extent *ext;
	uint32_t nb_hw; /* slots ever used: scans stop here */
	struct tern_store_owner_stats stats;
};

static pthread_mutex_t owner_global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tern_store_owner *owner_current; /* the rte_mp action's owner */
static bool owner_action_registered, owner_tel_registered;

/* A reserved or committed extent, not being freed. */
static struct owner_extent *
ext_find(struct tern_store_owner *o, uint64_t offset, uint64_t length)
{
	uint32_t i;

	for (i = 0; i < o->nb_hw; i++)
		if ((o->ext[i].state == EXT_RESERVED || o->ext[i].state == EXT_COMMITTED) &&
		    !o->ext[i].freeing && o->ext[i].offset == offset && o->ext[i].length == length)
			return &o->ext[i];
	return NULL;
}

/* Any extent at @offset of @length, also one being freed. */
static struct owner_extent *
ext_find_any(struct tern_store_owner *o, uint64_t offset, uint64_t length)
{
	uint32_t i;

	for (i = 0; i < o->nb_hw; i++)
		if ((o->ext[i].state == EXT_RESERVED || o->ext[i].state == EXT_COMMITTED) &&
		    o->ext[i].offset == offset && o->ext[i].length == length)
			return &o->ext[i];
	return NULL;
}

static struct owner_extent *
ext_slot(struct tern_store_owner *o)
{
	uint32_t i;

	for (i = 0; i < o->nb_hw; i++)
		if (o->ext[i].state == EXT_FREE)
			return &o->ext[i];
	return o->nb_hw < o->conf.max_extents ? &o->ext[o->nb_hw++] : NULL;
}

static void
ext_release(struct tern_store_owner *o, struct owner_extent *e)
{
	if (e->state == EXT_RESERVED)
		o->stats.reserved--;
	else
		o->stats.committed--;
	/* A piece of a live arena: its range goes back with the arena's. */
	if (e->parent == 0)
		store_alloc_put(&o->alloc, e->offset, e->length);
	e->state = e->parent == 0 ? EXT_FREE : EXT_GONE;
	e->freeing = false;
	e->refs = 0;
	o->stats.used = o->alloc.used;
}

/* The arena @a ends: its range is given back but for its committed pieces
 * (being freed under a reader included), which stay extents of their own. */
static void
arena_release(struct tern_store_owner *o, struct owner_extent *a)
{
	uint32_t id = (uint32_t)(a - o->ext) + 1, i;
	int ret;

	ret = store_alloc_put(&o->alloc, a->offset, a->length);
	for (i = 0; i < o->nb_hw; i++) {
		struct owner_extent *e = &o->ext[i];

		if (e->parent != id)
			continue;
		e->parent = 0;
		if (e->state == EXT_GONE) {
			e->state = EXT_FREE;
		} else if (ret == 0 && store_alloc_take(&o->alloc, e->offset, e->length) != 0) {
			/* Cannot happen: the pieces lie in the arena, apart. */
			OWNER_LOG(ERR, "arena at %" PRIu64 ": piece %" PRIu64 "+%" PRIu64 " lost",
				  a->offset, e->offset, e->length);
		}
	}
	if (ret != 0)
		OWNER_LOG(ERR, "arena %" PRIu64 "+%" PRIu64 ": %s", a->offset, a->length,
			  strerror(-ret));
	a->state = EXT_FREE;
	o->stats.reserved--;
	o->stats.used = o->alloc.used;
}

/* Commit the range @q names inside an arena of q->pid: a piece of it. */
static int
arena_commit(struct tern_store_owner *o, const struct store_wire_req *q)
{
	uint64_t len = store_alloc_size(q->length);
	struct owner_extent *a = NULL, *e;
	uint32_t id, i;

	for (i = 0; i < o->nb_hw && a == NULL; i++)
		if (o->ext[i].state == EXT_ARENA && o->ext[i].pid == q->pid &&
		    o->ext[i].offset <= q->offset &&
		    q->offset - o->ext[i].offset <= o->ext[i].length &&
		    len <= o->ext[i].length - (q->offset - o->ext[i].offset))
			a = &o->ext[i];
	if (a == NULL)
		return -ENOENT;
	id = (uint32_t)(a - o->ext) + 1;
	for (i = 0; i < o->nb_hw; i++)
		if (o->ext[i].parent == id && o->ext[i].state != EXT_FREE &&
		    o->ext[i].offset < q->offset + len &&
		    q->offset < o->ext[i].offset + store_alloc_size(o->ext[i].length))
			return -EALREADY; /* overlaps a piece committed before */
	e = ext_slot(o);
	if (e == NULL)
		return -ENOSPC;
	*e = (struct owner_extent){
		.offset = q->offset,
		.length = q->length,
		.pid = q->pid,
		.parent = id,
		.state = EXT_COMMITTED,
	};
	o->stats.committed++;
	return 0;
}

static int
sweep(struct tern_store_owner *o)
{
	uint64_t now = tern_clock_ns();
	int freed = 0;
	uint32_t i;

	for (i = 0; i < o->nb_hw; i++)
		if (o->ext[i].refs > 0 && now >= o->ext[i].ref_end_ns) {
			/* Its readers died or forgot it: the references go. */
			OWNER_LOG(NOTICE, "read references on %" PRIu64 " at %" PRIu64 " expired",
				  o->ext[i].length, o->ext[i].offset);
			o->ext[i].refs = 0;
			o->stats.read_refs_expired++;
			if (o->ext[i].freeing)
				ext_release(o, &o->ext[i]);
		}
	for (i = 0; i < o->nb_hw; i++)
		if ((o->ext[i].state == EXT_RESERVED || o->ext[i].state == EXT_ARENA) &&
		    now >= o->ext[i].lease_end_ns) {
			OWNER_LOG(NOTICE,
				  "lease of %s%" PRIu64 " bytes at %" PRIu64 " (pid %u) expired",
				  o->ext[i].state == EXT_ARENA ? "the arena of " : "",
				  o->ext[i].length, o->ext[i].offset, o->ext[i].pid);
			if (o->ext[i].state == EXT_ARENA)
				arena_release(o, &o->ext[i]);
			else
				ext_release(o, &o->ext[i]);
			o->stats.lease_expired++;
			freed++;
		}
	return freed;
}

/* One request, under the lock. */
static void
owner_serve(struct tern_store_owner *o, const struct store_wire_req *q, struct store_wire_rep *r)
{
	struct owner_extent *e;

	sweep(o);
	o->stats.requests++;
	r->status = 0;
	r->offset = 0; /* RESERVE and ARENA alone answer one */
	if (q->segment != o->conf.segment) {
		r->status = -ENOENT;
	} else if (q->op == STORE_WIRE_RESERVE || q->op == STORE_WIRE_ARENA) {
		e = ext_slot(o);
		if (e == NULL)
			r->status = -ENOSPC;
		else
			r->status = store_alloc_get(&o->alloc, q->length, &r->offset);
		if (r->status == 0) {
			*e = (struct owner_extent){
				.offset = r->offset,
				.length = q->length,
				.lease_end_ns =
					tern_clock_ns() + (uint64_t)q->lease_ms * 1000000ull,
				.pid = q->pid,
				.state = q->op == STORE_WIRE_ARENA ? EXT_ARENA : EXT_RESERVED,
			};
			o->stats.reserved++;
		}
	} else if (q->op == STORE_WIRE_ARENA_END) {
		uint32_t i;

		r->status = -ENOENT;
		for (i = 0; i < o->nb_hw && r->status != 0; i++)
			if (o->ext[i].state == EXT_ARENA && o->ext[i].offset == q->offset &&
			    o->ext[i].length == q->length && o->ext[i].pid == q->pid) {
				arena_release(o, &o->ext[i]);
				r->status = 0;
			}
	} else if (q->op == STORE_WIRE_COMMIT) {
		e = ext_find(o, q->offset, q->length);
		if (e == NULL) {
			r->status = arena_commit(o, q);
		} else if (e->state != EXT_RESERVED) {
			r->status = -EALREADY;
		} else {
			e->state = EXT_COMMITTED;
			o->stats.reserved--;
			o->stats.committed++;
		}
	} else if (q->op == STORE_WIRE_FREE) {
		e = ext_find(o, q->offset, q->length);
		if (e == NULL)
			r->status = -ENOENT;
		else if (e->refs > 0) {	   /* ext_find() skips an extent already freeing */
			e->freeing = true; /* given back when its last reader is done */
			o->stats.frees_deferred++;
		} else
			ext_release(o, e);
	} else if (q->op == STORE_WIRE_READ_REF) {
		uint64_t end = tern_clock_ns() + (uint64_t)q->lease_ms * 1000000ull;

		e = ext_find(o, q->offset, q->length);
		if (e == NULL || e->state != EXT_COMMITTED) {
			r->status = -ENOENT;
		} else {
			if (e->refs == 0 || end > e->ref_end_ns)
				e->ref_end_ns = end;
			e->refs++;
			o->stats.read_refs++;
		}
	} else if (q->op == STORE_WIRE_READ_UNREF) {
		e = ext_find_any(o, q->offset, q->length);
		if (e == NULL || e->refs == 0) {
			r->status = -ENOENT; /* expired meanwhile, or never taken */
		} else if (--e->refs == 0 && e->freeing) {
			ext_release(o, e);
		}
	}
	if (r->status != 0)
		o->stats.refused++;
	o->stats.used = o->alloc.used;
	r->used = o->alloc.used;
	r->capacity = o->alloc.capacity;
}

/* A request for many extents (a put batch), under the lock. RESERVE_N is
 * all or nothing; COMMIT_N says which it refused. */
static void
owner_serve_n(struct tern_store_owner *o, const struct store_wire_reqn *q,
	      struct store_wire_repn *r)
{
	struct store_wire_req one = { .segment = q->segment,
				      .pid = q->pid,
				      .lease_ms = q->lease_ms };
	struct store_wire_rep rr;
	unsigned int i, j;

	r->count = q->count;
	for (i = 0; i < q->count; i++) {
		one.op = q->op == STORE_WIRE_RESERVE_N ? STORE_WIRE_RESERVE : STORE_WIRE_COMMIT;
		one.length = q->length[i];
		one.offset = q->offset[i];
		owner_serve(o, &one, &rr);
		r->offset[i] = rr.status == 0 ? rr.offset : 0;
		if (rr.status == 0)
			continue;
		if (r->status == 0)
			r->status = rr.status;
		r->fail_mask |= (uint16_t)(1u << i);
		if (q->op == STORE_WIRE_RESERVE_N) {
			/* Give back what this request took: all or none. */
			for (j = 0; j < i; j++) {
				one.op = STORE_WIRE_FREE;
				one.offset = r->offset[j];
				one.length = q->length[j];
				owner_serve(o, &one, &rr);
				r->offset[j] = 0;
			}
			r->fail_mask = (uint16_t)((1u << q->count) - 1);
			memset(r->offset, 0, sizeof(r->offset));
			break;
		}
	}
	r->used = o->alloc.used;
	r->capacity = o->alloc.capacity;
}

static int
owner_mp_action_n(const struct rte_mp_msg *msg, const void *peer)
{
	struct store_wire_reqn q;
	struct store_wire_repn r = { 0 };
	struct rte_mp_msg reply;

	memset(&reply, 0, sizeof(reply));
	strcpy(reply.name, STORE_WIRE_MP_NAME);
	if (msg->num_fds != 0 ||
	    store_wire_reqn_decode(msg->param, (size_t)msg->len_param, &q) != 0) {
		r.status = -EPROTO; /* refused as a whole: count 0 */
	} else {
		pthread_mutex_lock(&owner_global_lock);
		if (owner_current == NULL) {
			r.status = -ENODEV;
		} else {
			pthread_mutex_lock(&owner_current->lock);
			owner_serve_n(owner_current, &q, &r);
			pthread_mutex_unlock(&owner_current->lock);
		}
		pthread_mutex_unlock(&owner_global_lock);
	}
	reply.len_param = (int)store_wire_repn_encode(&r, reply.param);
	return rte_mp_reply(&reply, peer);
}

static int
owner_mp_action(const struct rte_mp_msg *msg, const void *peer)
{
	struct store_wire_req q;
	struct store_wire_rep r = { 0 };
	struct rte_mp_msg reply;

	/* The op is at bytes 6..7 in both kinds of request. */
	if (msg->len_param >= 8 && msg->param[7] == 0 &&
	    (msg->param[6] == STORE_WIRE_RESERVE_N || msg->param[6] == STORE_WIRE_COMMIT_N))
		return owner_mp_action_n(msg, peer);
	memset(&reply, 0, sizeof(reply));
	strcpy(reply.name, STORE_WIRE_MP_NAME);
	reply.len_param = STORE_WIRE_REP_LEN;
	if (msg->num_fds != 0 ||
	    store_wire_req_decode(msg->param, (size_t)msg->len_param, &q) != 0) {
		r.status = -EPROTO;
	} else {
		pthread_mutex_lock(&owner_global_lock);
		if (owner_current == NULL) {
			r.status = -ENODEV;
		} else {
			pthread_mutex_lock(&owner_current->lock);
			owner_serve(owner_current, &q, &r);
			pthread_mutex_unlock(&owner_current->lock);
		}
		pthread_mutex_unlock(&owner_global_lock);
	}
	store_wire_rep_encode(&r, reply.param);
	return rte_mp_reply(&reply, peer);
}

/*
 * A one-way message (STORE_WIRE_MP_NAME_1W): an ARENA_END the client does
 * not wait for. Never answered: what is refused is logged and counted
 * (`refused`).
 */
static int
owner_mp_oneway(const struct rte_mp_msg *msg, const void *peer __rte_unused)
{
	struct store_wire_req q;
	struct store_wire_rep r = { 0 };
	int ret;

	ret = msg->num_fds != 0 ? -EPROTO
				: store_wire_req_decode(msg->param, (size_t)msg->len_param, &q);
	if (ret == 0 && q.op != STORE_WIRE_ARENA_END)
		ret = -EPROTO;
	pthread_mutex_lock(&owner_global_lock);
	if (owner_current == NULL) {
		ret = ret == 0 ? -ENODEV : ret;
	} else {
		pthread_mutex_lock(&owner_current->lock);
		if (ret != 0)
			owner_current->stats.refused++;
		else
			owner_serve(owner_current, &q, &r);
		pthread_mutex_unlock(&owner_current->lock);
		if (ret == 0)
			ret = r.status;
	}
	pthread_mutex_unlock(&owner_global_lock);
	if (ret != 0)
		OWNER_LOG(WARNING, "a one-way request (%u bytes) refused: %s",
			  (unsigned int)msg->len_param, strerror(-ret));
	return 0;
}

int
tern_store_owner_serve(struct tern_store_owner *o, const uint8_t *req, size_t len, uint8_t *rep)
{
	if (o == NULL || req == NULL || rep == NULL)
		return -EINVAL;
	/* The op is at bytes 6..7 in both kinds of request. */
	if (len >= 8 && req[7] == 0 &&
	    (req[6] == STORE_WIRE_RESERVE_N || req[6] == STORE_WIRE_COMMIT_N)) {
		struct store_wire_reqn q;
		struct store_wire_repn r = { 0 };

		if (store_wire_reqn_decode(req, len, &q) != 0) {
			r.status = -EPROTO; /* refused as a whole: count 0 */
		} else {
			q.segment = o->conf.segment;
			pthread_mutex_lock(&o->lock);
			owner_serve_n(o, &q, &r);
			pthread_mutex_unlock(&o->lock);
		}
		return (int)store_wire_repn_encode(&r, rep);
	} else {
		struct store_wire_req q;
		struct store_wire_rep r = { 0 };

		if (store_wire_req_decode(req, len, &q) != 0) {
			r.status = -EPROTO;
		} else {
			q.segment = o->conf.segment;
			pthread_mutex_lock(&o->lock);
			owner_serve(o, &q, &r);
			pthread_mutex_unlock(&o->lock);
		}
		store_wire_rep_encode(&r, rep);
		return STORE_WIRE_REP_LEN;
	}
}

static int
owner_tel(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	struct tern_store_owner_stats st;
	int ret = -ENOENT;

	if (params != NULL && params[0] != '\0')
		return -EINVAL;
	pthread_mutex_lock(&owner_global_lock);
	if (owner_current != NULL)
		ret = tern_store_owner_stats(owner_current, &st);
	pthread_mutex_unlock(&owner_global_lock);
	if (ret != 0)
		return ret;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "capacity", st.capacity);
	rte_tel_data_add_dict_u64(d, "used", st.used);
	rte_tel_data_add_dict_u64(d, "reserved", st.reserved);
	rte_tel_data_add_dict_u64(d, "committed", st.committed);
	rte_tel_data_add_dict_u64(d, "lease_expired", st.lease_expired);
	rte_tel_data_add_dict_u64(d, "requests", st.requests);
	rte_tel_data_add_dict_u64(d, "refused", st.refused);
	rte_tel_data_add_dict_u64(d, "read_refs", st.read_refs);
	rte_tel_data_add_dict_u64(d, "read_refs_expired", st.read_refs_expired);
	rte_tel_data_add_dict_u64(d, "frees_deferred", st.frees_deferred);
	return 0;
}

struct tern_store_owner *
tern_store_owner_create(const struct tern_store_owner_conf *conf)
{
	struct tern_segment_info info;
	struct tern_store_owner *o;
	int ret;

	if (conf == NULL || conf->segments == NULL ||
	    tern_segment_info(conf->segments, conf->segment, &info) != 0 ||
	    info.kind != TERN_SEGMENT_LOCAL || conf->length < 4096 || conf->offset > info.length ||
	    conf->length > info.length - conf->offset || conf->max_extents > (1u << 24) ||
	    rte_eal_process_type() != RTE_PROC_PRIMARY) {
		rte_errno = EINVAL;
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	o->conf = *conf;
	if (o->conf.max_extents == 0)
		o->conf.max_extents = OWNER_DEF_EXTENTS;
	o->ext = calloc(o->conf.max_extents, sizeof(*o->ext));
	ret = o->ext == NULL ? -ENOMEM
			     : store_alloc_init(&o->alloc, conf->length, o->conf.max_extents);
	if (ret != 0) {
		free(o->ext);
		free(o);
		rte_errno = -ret;
		return NULL;
	}
	pthread_mutex_init(&o->lock, NULL);
	o->stats.capacity = o->alloc.capacity;
	pthread_mutex_lock(&owner_global_lock);
	if (owner_current != NULL) {
		ret = -EEXIST;
	} else if (!owner_action_registered) {
		/* rte_mp actions outlive owners: registered once, they answer
		 * -ENODEV while there is none. */
		ret = rte_mp_action_register(STORE_WIRE_MP_NAME, owner_mp_action);
		if (ret == 0 &&
		    rte_mp_action_register(STORE_WIRE_MP_NAME_1W, owner_mp_oneway) != 0) {
			ret = -1;
			rte_mp_action_unregister(STORE_WIRE_MP_NAME);
		}
		if (ret == 0)
			owner_action_registered = true;
		else
			ret = -rte_errno;
	}
	if (ret == 0 && !owner_tel_registered &&
	    rte_telemetry_register_cmd("/tern/store_owner", owner_tel,
				       "The store capacity this dataplane owns. No parameters") ==
		    0)
		owner_tel_registered = true;
	if (ret == 0)
		owner_current = o;
	pthread_mutex_unlock(&owner_global_lock);
	if (ret != 0) {
		store_alloc_fini(&o->alloc);
		free(o->ext);
		free(o);
		rte_errno = -ret;
		return NULL;
	}
	return o;
}

int
tern_store_owner_destroy(struct tern_store_owner *o)
{
	if (o == NULL)
		return 0;
	pthread_mutex_lock(&owner_global_lock);
	if (owner_current != o) {
		pthread_mutex_unlock(&owner_global_lock);
		return -EINVAL;
	}
	owner_current = NULL;
	pthread_mutex_unlock(&owner_global_lock);
	store_alloc_fini(&o->alloc);
	free(o->ext);
	pthread_mutex_destroy(&o->lock);
	free(o);
	return 0;
}

int
tern_store_owner_poll(struct tern_store_owner *o)
{
	int freed;

	if (o == NULL)
		return -EINVAL;
	pthread_mutex_lock(&o->lock);
	freed = sweep(o);
	pthread_mutex_unlock(&o->lock);
	return freed;
}

int
tern_store_owner_stats(struct tern_store_owner *o, struct tern_store_owner_stats *stats)
{
	if (o == NULL || stats == NULL)
		return -EINVAL;
	pthread_mutex_lock(&o->lock);
	*stats = o->stats;
	pthread_mutex_unlock(&o->lock);
	return 0;
}

/* ---- the client side: a store's node that a dataplane owns ---- */

/* A request to a peer dataplane's owner over its p2p channel: the answer's
 * bytes in @rep (TERN_STORE_OWNER_MSG_MAX), its length or a negative errno. */
static int
owner_p2p(const struct store_owner_addr *to, const uint8_t *req, size_t len, uint8_t *rep)
{
	size_t rep_len = 0;
	int ret;

	RTE_BUILD_BUG_ON(TERN_STORE_OWNER_MSG_MAX != TERN_DIRECTORY_P2P_MSG_MAX);
	RTE_BUILD_BUG_ON(STORE_WIRE_MSG_MAX != TERN_DIRECTORY_P2P_MSG_MAX);
	ret = tern_directory_p2p_call(to->dir, to->node, to->segment, req, len, rep, &rep_len);
	if (ret == -ENOENT)
		ret = -ENODEV; /* no owner of that segment there */
	return ret < 0 ? ret : (int)rep_len;
}

int
store_owner_calln(const struct store_owner_addr *to, const struct store_wire_reqn *q,
		  struct store_wire_repn *r, uint32_t timeout_ms)
{
	struct rte_mp_msg msg;
	struct rte_mp_reply reply;
	struct timespec ts = { .tv_sec = timeout_ms / 1000,
			       .tv_nsec = (long)(timeout_ms % 1000) * 1000000 };
	int ret;

	if (to != NULL && to->dir != NULL) {
		uint8_t req[STORE_WIRE_MSG_MAX], rep[STORE_WIRE_MSG_MAX];
		size_t len = store_wire_reqn_encode(q, req);

		ret = owner_p2p(to, req, len, rep);
		if (ret < 0)
			return ret;
		ret = store_wire_repn_decode(rep, (size_t)ret, r);
		return ret == 0 ? r->status : ret;
	}
	memset(&msg, 0, sizeof(msg));
	strcpy(msg.name, STORE_WIRE_MP_NAME);
	msg.len_param = (int)store_wire_reqn_encode(q, msg.param);
	memset(&reply, 0, sizeof(reply));
	if (rte_mp_request_sync(&msg, &reply, &ts) != 0 || reply.nb_received != 1) {
		ret = reply.nb_sent == 0 ? -ENODEV : -ETIMEDOUT;
	} else {
		ret = store_wire_repn_decode(reply.msgs[0].param, (size_t)reply.msgs[0].len_param,
					     r);
		if (ret == 0)
			ret = r->status;
	}
	free(reply.msgs);
	return ret;
}

int
store_owner_send(const uint8_t *req, size_t len)
{
	struct rte_mp_msg msg;

	if (len > sizeof(msg.param))
		return -EINVAL;
	memset(&msg, 0, sizeof(msg));
	strcpy(msg.name, STORE_WIRE_MP_NAME_1W);
	memcpy(msg.param, req, len);
	msg.len_param = (int)len;
	return rte_mp_sendmsg(&msg) == 0 ? 0 : -rte_errno;
}

int
store_owner_call(const struct store_owner_addr *to, struct store_wire_req *q,
		 struct store_wire_rep *r, uint32_t timeout_ms)
{
	struct rte_mp_msg msg;
	struct rte_mp_reply reply;
	struct timespec ts = { .tv_sec = timeout_ms / 1000,
			       .tv_nsec = (long)(timeout_ms % 1000) * 1000000 };
	int ret;

	if (to != NULL && to->dir != NULL) {
		uint8_t req[STORE_WIRE_REQ_LEN], rep[STORE_WIRE_MSG_MAX];

		store_wire_req_encode(q, req);
		ret = owner_p2p(to, req, sizeof(req), rep);
		if (ret < 0)
			return ret;
		ret = store_wire_rep_decode(rep, (size_t)ret, r);
		return ret == 0 ? r->status : ret;
	}
	memset(&msg, 0, sizeof(msg));
	strcpy(msg.name, STORE_WIRE_MP_NAME);
	msg.len_param = STORE_WIRE_REQ_LEN;
	store_wire_req_encode(q, msg.param);
	memset(&reply, 0, sizeof(reply));
	if (rte_mp_request_sync(&msg, &reply, &ts) != 0 || reply.nb_received != 1) {
		ret = reply.nb_sent == 0 ? -ENODEV : -ETIMEDOUT;
	} else {
		ret = store_wire_rep_decode(reply.msgs[0].param, (size_t)reply.msgs[0].len_param,
					    r);
		if (ret == 0)
			ret = r->status;
	}
	free(reply.msgs);
	return ret;
}
