/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memzone.h>
#include <rte_spinlock.h>

#include "engine_private.h"

#define DEFAULT_NAME "tern"
/* Every slot of the default 64 can take the default 256 futures. */
#define DEFAULT_NB_FUTURES   16384
#define DEFAULT_MAX_BATCH    64
#define DEFAULT_MAX_CLIENTS  64
#define DEFAULT_SLICE_BYTES  (256u << 10)
#define DEFAULT_DEADLINE_NS  (5ull * 1000000000ull)
#define DEFAULT_SHARE_BYTES  (512u << 10)
#define DEFAULT_STREAM_BYTES (8u << 20)
#define DEFAULT_DRAIN_NS     (1000000000ull)

static struct tern_engine engine_handles[PROCESS_ENGINES_MAX];
static rte_spinlock_t engine_handles_lock = RTE_SPINLOCK_INITIALIZER;

static int
engine_name_valid(const char *name)
{
	return tern_cli_check_name(name, ENGINE_NAME_MAX) == 0;
}

#define DEFAULT_IF_ZERO(field, value)      \
	do {                               \
		if ((field) == 0)          \
			(field) = (value); \
	} while (0)

/* Fills defaults into @c and the lcore list into @lcores; 0 or -EINVAL. */
static int
conf_complete(struct tern_engine_conf *c, unsigned int *lcores)
{
	unsigned int i, j, id;

	if (c->name == NULL)
		c->name = DEFAULT_NAME;
	DEFAULT_IF_ZERO(c->nb_futures, DEFAULT_NB_FUTURES);
	DEFAULT_IF_ZERO(c->max_batch, DEFAULT_MAX_BATCH);
	DEFAULT_IF_ZERO(c->max_clients, DEFAULT_MAX_CLIENTS);
	DEFAULT_IF_ZERO(c->slice_bytes, DEFAULT_SLICE_BYTES);
	DEFAULT_IF_ZERO(c->deadline_ns, DEFAULT_DEADLINE_NS);
	DEFAULT_IF_ZERO(c->share_bytes, DEFAULT_SHARE_BYTES);
	DEFAULT_IF_ZERO(c->stream_bytes, DEFAULT_STREAM_BYTES);
	DEFAULT_IF_ZERO(c->drain_ns, DEFAULT_DRAIN_NS);
	if (c->socket_id == 0)
		c->socket_id = SOCKET_ID_ANY;

	if (c->segments == NULL || !engine_name_valid(c->name) || c->nb_futures > (1u << 22) ||
	    c->max_batch > TERN_BATCH_MAX || c->max_clients > 4096 ||
	    c->slice_bytes < TERN_SLICE_BYTES_MIN || c->slice_bytes > TERN_SLICE_BYTES_MAX ||
	    c->deadline_ns > DEADLINE_MAX_NS || (c->flags & ~TERN_ENGINE_F_IDLE_YIELD) != 0)
		return -EINVAL;

	if (c->lcores == NULL) {
		c->nb_lcores = 0;
		RTE_LCORE_FOREACH_WORKER (id) {
			if (c->nb_lcores == TERN_ENGINE_MAX_LCORES)
				break;
			lcores[c->nb_lcores++] = id;
		}
	} else {
		if (c->nb_lcores > TERN_ENGINE_MAX_LCORES)
			return -EINVAL;
		memcpy(lcores, c->lcores, c->nb_lcores * sizeof(*lcores));
	}
	if (c->nb_lcores == 0)
		return -EINVAL;
	for (i = 0; i < c->nb_lcores; i++) {
		id = lcores[i];
		if (id >= RTE_MAX_LCORE || !rte_lcore_is_enabled(id) || id == rte_get_main_lcore())
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (lcores[j] == id)
				return -EINVAL;
	}
	c->lcores = lcores;
	return 0;
}

static void
future_obj_init(struct rte_mempool *mp, void *arg, void *obj, unsigned int idx)
{
	struct tern_future *f = obj;

	RTE_SET_USED(mp);
	RTE_SET_USED(idx);
	f->magic = FUTURE_FREE;
	f->sh = arg;
}

/* The pool's memory goes back to the heap: nothing of it may stay poisoned. */
static void
future_obj_unpoison(struct rte_mempool *mp, void *arg, void *obj, unsigned int idx)
{
	struct tern_future *f = obj;

	RTE_SET_USED(mp);
	RTE_SET_USED(arg);
	RTE_SET_USED(idx);
	future_unpoison(f);
}

/*
 * The TSC's frequency, measured against CLOCK_MONOTONIC_RAW over 10 ms.
 * rte_get_tsc_hz() is rounded to 10 MHz where the CPU does not report it (a
 * 2694.873 MHz TSC reads as 2700 MHz), which makes every deadline fire 0.2 %
 * early; the measurement is good to about 1e-5.
 */
static uint64_t
tsc_hz_measure(void)
{
	struct timespec a, b, pause = { .tv_nsec = 10 * 1000 * 1000 };
	uint64_t t0, t1, ns;

	clock_gettime(CLOCK_MONOTONIC_RAW, &a);
	t0 = rte_rdtsc();
	nanosleep(&pause, NULL);
	clock_gettime(CLOCK_MONOTONIC_RAW, &b);
	t1 = rte_rdtsc();
	ns = (uint64_t)(b.tv_sec - a.tv_sec) * TERN_NS_PER_S + (uint64_t)b.tv_nsec -
	     (uint64_t)a.tv_nsec;
	if (ns == 0 || t1 <= t0)
		return rte_get_tsc_hz();
	return (uint64_t)((unsigned __int128)(t1 - t0) * TERN_NS_PER_S / ns);
}

static uint32_t
probe_transports(void)
{
	uint32_t mask = 0;
	int t;

	for (t = 0; t < tern_transport_count(); t++) {
		const struct tern_transport_ops *ops = tern_transport_get(t);
		int ret = ops->probe == NULL ? 0 : ops->probe();

		if (ret == 0)
			mask |= 1u << t;
		else
			ENGINE_LOG(DEBUG, "transport %s unavailable: %s", ops->name,
				   rte_strerror(-ret));
	}
	return mask;
}

static void
engine_free_resources(struct tern_engine *e)
{
	struct engine_shared *sh = e->sh;
	unsigned int i;

	for (i = 0; i < e->conf.nb_lcores; i++) {
		engine_worker_free(e->workers[i]);
		e->workers[i] = NULL;
	}
	if (sh == NULL)
		return;
	/* The lcores are stopped: whatever slots remain go now. */
	for (i = 0; i < sh->max_clients; i++)
		engine_slot_reclaim(sh, i, true);
	for (i = 0; i < e->conf.nb_lcores; i++)
		rte_ring_free(sh->xq[i]);
	if (sh->pool != NULL)
		rte_mempool_obj_iter(sh->pool, future_obj_unpoison, NULL);
	rte_mempool_free(sh->pool);
	if (e->own_notify)
		tern_notify_queue_free(sh->notify);
	e->own_notify = false;
	rte_memzone_free(e->memzone);
	e->sh = NULL;
}

static int
engine_alloc_resources(struct tern_engine *e)
{
	const struct tern_engine_conf *c = &e->conf;
	char name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;
	struct engine_shared *sh;
	unsigned int i;
	size_t size;

	snprintf(name, sizeof(name), "tern_eng_%s", c->name);
	if (rte_memzone_lookup(name) != NULL)
		return -EEXIST;
	size = sizeof(*sh) + c->max_clients * sizeof(struct client_slot);
	mz = rte_memzone_reserve_aligned(name, size, c->socket_id, 0, RTE_CACHE_LINE_SIZE);
	if (mz == NULL)
		return -ENOMEM;
	sh = mz->addr;
	memset(sh, 0, size);
	e->sh = sh;
	e->memzone = mz;
	sh->layout_version = ENGINE_LAYOUT_VERSION;
	sh->phase = PHASE_RUN;
	snprintf(sh->name, sizeof(sh->name), "%s", c->name);
	sh->nb_workers = c->nb_lcores;
	sh->max_batch = c->max_batch;
	sh->max_clients = c->max_clients;
	sh->future_size = (uint32_t)future_size(c->max_batch);
	sh->slice_bytes = c->slice_bytes;
	sh->deadline_ns = c->deadline_ns;
	sh->share_bytes = c->share_bytes;
	sh->stream_bytes = c->stream_bytes;
	sh->tsc_hz = tsc_hz_measure();
	sh->ns_to_tsc = tern_scale_make(sh->tsc_hz, TERN_NS_PER_S);
	sh->tsc_to_ns = tern_scale_make(TERN_NS_PER_S, sh->tsc_hz);
	sh->drain_tsc = tern_ns_to_tsc(c->drain_ns, sh->tsc_hz);
	sh->start_tsc = rte_rdtsc();
	sh->segments = c->segments;
	sh->transport_mask = probe_transports();
	if (sh->transport_mask == 0)
		return -ENODEV;
	sh->notify = c->notify;
	if (sh->notify == NULL) {
		sh->notify = tern_notify_queue_create(&(struct tern_notify_queue_conf){
			.name = c->name, .node = c->name, .socket_id = c->socket_id });
		if (sh->notify == NULL)
			return -rte_errno;
		e->own_notify = true;
	}

	snprintf(name, sizeof(name), "tfut_%s", c->name);
	sh->pool = rte_mempool_create(name, c->nb_futures, sh->future_size,
				      0 /* no cache: only the control path takes futures */, 0,
				      NULL, NULL, future_obj_init, sh, c->socket_id, 0);
	if (sh->pool == NULL)
		return -ENOMEM;
	for (i = 0; i < c->nb_lcores; i++) {
		sh->lcore_ids[i] = c->lcores[i];
		snprintf(name, sizeof(name), "txq_%s_%u", c->name, i);
		/* A DONE for every batch at once, and as many HELPs again. */
		sh->xq[i] = rte_ring_create_elem(name, sizeof(struct xq_msg),
						 2 * c->nb_futures + 2 * TERN_ENGINE_MAX_LCORES,
						 c->socket_id, RING_F_SC_DEQ | RING_F_EXACT_SZ);
		if (sh->xq[i] == NULL)
			return -ENOMEM;
	}
	for (i = 0; i < c->nb_lcores; i++) {
		e->workers[i] = engine_worker_create(sh, i, c->lcores[i], c->flags);
		if (e->workers[i] == NULL)
			return -ENOMEM;
	}
	return 0;
}

struct tern_engine *
tern_engine_create(const struct tern_engine_conf *conf)
{
	struct tern_engine *e = NULL;
	unsigned int i;
	int ret;

	if (conf == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	rte_spinlock_lock(&engine_handles_lock);
	for (i = 0; i < PROCESS_ENGINES_MAX; i++)
		if (handle_reusable(engine_handles[i].state)) {
			e = &engine_handles[i];
			break;
		}
	if (e == NULL) {
		rte_spinlock_unlock(&engine_handles_lock);
		rte_errno = ENOSPC;
		return NULL;
	}
	memset(e, 0, sizeof(*e));
	e->magic = ENGINE_MAGIC;
	e->state = HANDLE_RESERVED;
	rte_spinlock_unlock(&engine_handles_lock);

	e->conf = *conf;
	ret = conf_complete(&e->conf, e->lcores);
	if (ret == 0) {
		snprintf(e->name, sizeof(e->name), "%s", e->conf.name);
		e->conf.name = e->name;
	}
	if (ret == 0)
		for (i = 0; i < e->conf.nb_lcores; i++)
			if (rte_eal_get_lcore_state(e->lcores[i]) != WAIT)
				ret = -EBUSY;
	if (ret == 0)
		ret = engine_alloc_resources(e);
	if (ret != 0) {
		engine_free_resources(e);
		e->state = HANDLE_FREE;
		rte_errno = -ret;
		return NULL;
	}
	for (i = 0; i < e->conf.nb_lcores; i++) {
		ret = rte_eal_remote_launch(engine_worker_main, e->workers[i], e->lcores[i]);
		if (ret != 0) {
			/* Stop the ones already running, then undo everything. */
			__atomic_store_n(&e->sh->phase, PHASE_CANCEL, __ATOMIC_RELEASE);
			while (i-- != 0)
				rte_eal_wait_lcore(e->lcores[i]);
			engine_free_resources(e);
			e->state = HANDLE_FREE;
			rte_errno = EBUSY;
			return NULL;
		}
	}
	/* Before a client can map a page (pages.c). */
	ret = engine_pages_keep();
	if (ret != 0)
		ENGINE_LOG(WARNING,
			   "engine %s: hugepages may be given back while clients use them: %s",
			   e->conf.name, rte_strerror(-ret));
	e->keeps_pages = ret == 0;
	ret = engine_attach_init(e);
	if (ret != 0)
		ENGINE_LOG(WARNING, "engine %s: no IPC for secondary clients: %s", e->conf.name,
			   rte_strerror(-ret));
	ENGINE_LOG(INFO, "engine %s: %u worker lcores, slice %" PRIu64 " bytes, %u futures",
		   e->conf.name, e->conf.nb_lcores, e->conf.slice_bytes, e->conf.nb_futures);
	__atomic_store_n(&e->state, HANDLE_LIVE, __ATOMIC_RELEASE);
	return e;
}

static bool
engine_drained(const struct engine_shared *sh)
{
	unsigned int i;

	for (i = 0; i < sh->max_clients; i++)
		if (__atomic_load_n(&sh->clients[i].state, __ATOMIC_ACQUIRE) ==
			    CLIENT_SLOT_ACTIVE &&
		    __atomic_load_n(&sh->clients[i].submitted, __ATOMIC_RELAXED) !=
			    __atomic_load_n(&sh->clients[i].accepted, __ATOMIC_RELAXED))
			return false;
	for (i = 0; i < sh->nb_workers; i++)
		if (__atomic_load_n(&sh->counters[i].owned_inflight, __ATOMIC_RELAXED) != 0)
			return false;
	return true;
}

int
tern_engine_destroy(struct tern_engine *e)
{
	struct engine_shared *sh;
	uint64_t end;
	unsigned int i;

	if (e == NULL || e->magic != ENGINE_MAGIC)
		return -EINVAL;
	if (e->state != HANDLE_LIVE)
		return -ESHUTDOWN;
	sh = e->sh;
	__atomic_store_n(&sh->phase, PHASE_DRAIN, __ATOMIC_RELEASE);
	engine_attach_fini(e);
	if (e->keeps_pages)
		engine_pages_release();
	e->keeps_pages = false;
	end = tern_add_sat(rte_get_timer_cycles(),
			   tern_ns_to_tsc(e->conf.drain_ns, rte_get_timer_hz()));
	while (!engine_drained(sh) && rte_get_timer_cycles() < end)
		rte_delay_us_sleep(100);
	__atomic_store_n(&sh->phase, PHASE_CANCEL, __ATOMIC_RELEASE);
	for (i = 0; i < e->conf.nb_lcores; i++)
		rte_eal_wait_lcore(e->lcores[i]);
	engine_client_teardown_engine(e);
	__atomic_store_n(&e->state, HANDLE_DEAD, __ATOMIC_RELEASE);
	engine_free_resources(e);
	ENGINE_LOG(INFO, "engine %s destroyed", e->conf.name);
	return 0;
}

int
tern_engine_get_conf(const struct tern_engine *engine, struct tern_engine_conf *conf)
{
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (conf == NULL)
		return -EINVAL;
	*conf = engine->conf;
	conf->slice_bytes = __atomic_load_n(&engine->sh->slice_bytes, __ATOMIC_RELAXED);
	conf->deadline_ns = __atomic_load_n(&engine->sh->deadline_ns, __ATOMIC_RELAXED);
	return 0;
}

int
tern_engine_lcores(const struct tern_engine *engine, unsigned int *lcores, unsigned int max)
{
	unsigned int i;
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (lcores == NULL && max != 0)
		return -EINVAL;
	for (i = 0; i < engine->conf.nb_lcores && i < max; i++)
		lcores[i] = engine->lcores[i];
	return (int)engine->conf.nb_lcores;
}

static int
lcore_index(const struct tern_engine *engine, unsigned int lcore_id)
{
	unsigned int i;

	for (i = 0; i < engine->conf.nb_lcores; i++)
		if (engine->lcores[i] == lcore_id)
			return (int)i;
	return -ENOENT;
}

int
tern_engine_lcore_stats(const struct tern_engine *engine, unsigned int lcore_id,
			struct tern_lcore_stats *stats)
{
	const struct tern_lcore_stats *s;
	unsigned int i;
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (stats == NULL)
		return -EINVAL;
	i = (unsigned int)lcore_index(engine, lcore_id);
	if (i >= engine->conf.nb_lcores)
		return -ENOENT;
	s = &engine->sh->counters[i].stats;
	stats->batches = __atomic_load_n(&s->batches, __ATOMIC_RELAXED);
	stats->slices = __atomic_load_n(&s->slices, __ATOMIC_RELAXED);
	stats->bytes = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
	stats->errors = __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
	stats->timeouts = __atomic_load_n(&s->timeouts, __ATOMIC_RELAXED);
	stats->cancels = __atomic_load_n(&s->cancels, __ATOMIC_RELAXED);
	stats->busy_polls = __atomic_load_n(&s->busy_polls, __ATOMIC_RELAXED);
	stats->idle_polls = __atomic_load_n(&s->idle_polls, __ATOMIC_RELAXED);
	return 0;
}

int
tern_engine_notify_stats(const struct tern_engine *engine, uint16_t peer,
			 struct tern_notify_send_stats *stats)
{
	unsigned int i;
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (stats == NULL || peer >= TERN_SEGMENT_PEER_MAX)
		return -EINVAL;
	memset(stats, 0, sizeof(*stats));
	for (i = 0; i < engine->conf.nb_lcores; i++) {
		const struct notify_counters *nc =
			peer == 0 ? &engine->sh->counters[i].notify
				  : &engine->sh->counters[i].peer_notify[peer];

		stats->posted += __atomic_load_n(&nc->posted, __ATOMIC_RELAXED);
		stats->delivered += __atomic_load_n(&nc->delivered, __ATOMIC_RELAXED);
		stats->refused += __atomic_load_n(&nc->refused, __ATOMIC_RELAXED);
		stats->failed += __atomic_load_n(&nc->failed, __ATOMIC_RELAXED);
	}
	return 0;
}

struct tern_notify_queue *
tern_engine_notify_queue(const struct tern_engine *engine)
{
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return NULL;
	return engine->sh->notify;
}

int
tern_engine_peer_traffic(const struct tern_engine *engine, uint16_t peer,
			 struct tern_peer_traffic *traffic)
{
	unsigned int i;
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (traffic == NULL || peer == 0 || peer >= TERN_SEGMENT_PEER_MAX)
		return -EINVAL;
	memset(traffic, 0, sizeof(*traffic));
	for (i = 0; i < engine->conf.nb_lcores; i++) {
		const struct peer_counters *pc = &engine->sh->counters[i].peers[peer];

		traffic->slices += __atomic_load_n(&pc->slices, __ATOMIC_RELAXED);
		traffic->bytes += __atomic_load_n(&pc->bytes, __ATOMIC_RELAXED);
		traffic->failed_requests += __atomic_load_n(&pc->failed, __ATOMIC_RELAXED);
		traffic->fallback_slices += __atomic_load_n(&pc->fallback, __ATOMIC_RELAXED);
	}
	return 0;
}

int
tern_engine_pool_stats(const struct tern_engine *engine, struct tern_pool_stats *stats)
{
	uint32_t i;
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (stats == NULL)
		return -EINVAL;
	stats->total = engine->sh->pool->size;
	stats->available = rte_mempool_avail_count(engine->sh->pool);
	stats->engine_held = 0;
	for (i = 0; i < engine->sh->max_clients; i++)
		if (__atomic_load_n(&engine->sh->clients[i].state, __ATOMIC_ACQUIRE) !=
		    CLIENT_SLOT_FREE)
			stats->engine_held += engine_slot_engine_held(engine->sh, i);
	return 0;
}

int
tern_engine_info(const struct tern_engine *engine, struct tern_engine_info *info)
{
	const struct engine_shared *sh;
	uint32_t i;
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (info == NULL)
		return -EINVAL;
	sh = engine->sh;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", sh->name);
	info->nb_lcores = sh->nb_workers;
	info->uptime_ns = tern_tsc_to_ns(rte_rdtsc() - sh->start_tsc, sh->tsc_hz);
	info->max_clients = sh->max_clients;
	for (i = 0; i < sh->max_clients; i++)
		if (__atomic_load_n(&sh->clients[i].state, __ATOMIC_ACQUIRE) != CLIENT_SLOT_FREE)
			info->nb_clients++;
	info->transports_usable = sh->transport_mask;
	info->max_batch = sh->max_batch;
	return 0;
}

int
tern_engine_lcore_load(const struct tern_engine *engine, unsigned int lcore_id,
		       struct tern_lcore_load *load)
{
	const struct engine_shared *sh;
	uint32_t slot;
	int err, i;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (load == NULL)
		return -EINVAL;
	i = lcore_index(engine, lcore_id);
	if (i < 0)
		return i;
	sh = engine->sh;
	load->sq_depth = 0;
	for (slot = 0; slot < sh->max_clients; slot++)
		if (__atomic_load_n(&sh->clients[slot].state, __ATOMIC_ACQUIRE) ==
			    CLIENT_SLOT_ACTIVE &&
		    sh->clients[slot].home == (unsigned int)i)
			load->sq_depth += (uint32_t)(__atomic_load_n(&sh->clients[slot].submitted,
								     __ATOMIC_RELAXED) -
						     __atomic_load_n(&sh->clients[slot].accepted,
								     __ATOMIC_RELAXED));
	load->xq_depth = rte_ring_count(sh->xq[i]);
	load->owned_inflight = __atomic_load_n(&sh->counters[i].owned_inflight, __ATOMIC_RELAXED);
	load->posted = __atomic_load_n(&sh->counters[i].posted, __ATOMIC_RELAXED);
	return 0;
}

int
tern_engine_client_info(const struct tern_engine *engine, uint32_t slot,
			struct tern_client_info *info)
{
	const struct client_slot *cs;
	uint32_t state;
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (info == NULL || slot >= engine->sh->max_clients)
		return -EINVAL;
	cs = &engine->sh->clients[slot];
	state = __atomic_load_n(&cs->state, __ATOMIC_ACQUIRE);
	if (state != CLIENT_SLOT_ACTIVE && state != CLIENT_SLOT_DEAD &&
	    state != CLIENT_SLOT_CLOSING)
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	info->pid = cs->pid;
	info->state = state == CLIENT_SLOT_ACTIVE ? 1 : state == CLIENT_SLOT_DEAD ? 2 : 3;
	info->max_inflight = cs->max_inflight;
	info->cq_depth = cs->cq == NULL ? 0 : rte_ring_count(cs->cq);
	info->submitted = __atomic_load_n(&cs->submitted, __ATOMIC_RELAXED);
	info->age_ns = tern_tsc_to_ns(rte_rdtsc() - cs->attach_tsc, engine->sh->tsc_hz);
	info->nb_buffers = cs->nb_segments;
	return 0;
}

int
tern_engine_set_slice_bytes(struct tern_engine *engine, uint64_t slice_bytes)
{
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (slice_bytes < TERN_SLICE_BYTES_MIN || slice_bytes > TERN_SLICE_BYTES_MAX)
		return -EINVAL;
	__atomic_store_n(&engine->sh->slice_bytes, slice_bytes, __ATOMIC_RELAXED);
	return 0;
}

int
tern_engine_set_deadline_ns(struct tern_engine *engine, uint64_t deadline_ns)
{
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (deadline_ns == 0 || deadline_ns > DEADLINE_MAX_NS)
		return -EINVAL;
	__atomic_store_n(&engine->sh->deadline_ns, deadline_ns, __ATOMIC_RELAXED);
	return 0;
}

int
tern_engine_latency(const struct tern_engine *engine, uint64_t buckets[TERN_LATENCY_BUCKETS])
{
	unsigned int i, b;
	int err;

	if (engine_handle_check(engine, &err) == NULL)
		return err;
	if (buckets == NULL)
		return -EINVAL;
	memset(buckets, 0, TERN_LATENCY_BUCKETS * sizeof(buckets[0]));
	for (i = 0; i < engine->conf.nb_lcores; i++)
		for (b = 0; b < TERN_LATENCY_BUCKETS; b++)
			buckets[b] += __atomic_load_n(&engine->sh->counters[i].latency[b],
						      __ATOMIC_RELAXED);
	return 0;
}
