/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-perf: bandwidth, rate and latency of the engine against block size,
 * with glibc memcpy and streaming-store baselines measured in the same run
 * on the same worker cores.
 *
 *   tern-perf [EAL args] -- [options]     (tern-perf -- --help)
 *
 * One run per block size:
 *   1. baselines: every worker lcore copies its share of the working set in
 *      a loop (glibc memcpy, then tern_copy_stream), before the engine owns
 *      the lcores;
 *   2. the engine is created on the same lcores; each client thread (a
 *      plain pthread, on the main lcore's CPUs unless the user moved it)
 *      keeps --inflight batches of --batch requests outstanding; latency is
 *      submit -> completion seen by the client, per batch, in a histogram;
 *   3. with --verify, an untimed pass moves every block of every client with
 *      a fresh position-dependent pattern and compares every byte.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>

#include <tern_copy.h>
#include <tern_engine.h>
#include <tern_histogram.h>
#include <tern_segment.h>
#include <tern_peer.h>
#include <tern_store.h>
#include <tern_transport.h>

#include "perf.h"
#include "perf_args.h"

#define PROG "tern-perf"
/* Exit codes: 0 ok, 1 run-time failure (engine error, verify mismatch), 2 bad usage. */
#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
/* Baselines run at least this long, also in --iterations mode. */
#define BASELINE_MIN_NS 500000000ull
#define REAP_BURST	64
/* Empty completion polls before an oversubscribed client yields its CPU. */
#define IDLE_POLLS_YIELD 256

enum phase {
	PHASE_WARMUP = 0,
	PHASE_MEASURE = 1,
	PHASE_DRAIN = 2,
};

struct perf_ctx {
	struct perf_args args;
	struct tern_segment_table *tbl;
	struct tern_engine *engine;
	struct tern_client *admin; /* --target dataplane: owns the shared buffers */
	uint32_t local_handle;	   /* the local buffers: requests' local side */
	uint32_t target_handle;	   /* the target segment */
	uint8_t *local_base;
	uint8_t *target_base;
	uint64_t region_bytes; /* per client, in each segment */
	uint64_t tsc_hz;
	unsigned int workers[PERF_MAX_WORKERS];
	unsigned int nb_workers;
	bool client_yield; /* more client threads than CPUs for them */
	/* Current run. */
	uint64_t block;
	uint64_t nblocks;
	int phase; /* enum phase, atomic */
	uint32_t ready;
	uint32_t done;
	/* --notify: what the receiving client saw (submit TSC -> seen), this block. */
	struct tern_histogram *notify_hist;
	uint64_t notify_seen;
};

struct client_state {
	struct perf_ctx *ctx;
	unsigned int idx;
	pthread_t thread;
	struct tern_histogram *hist;	    /* submit -> completion */
	struct tern_histogram *hist_submit; /* time inside tern_submit() */
	uint64_t *slot_tsc;
	struct tern_future **slot_future;
	uint32_t *free_slots; /* stack of unused slots */
	uint32_t *fifo;	      /* --completion wait: slots in submission order */
	struct tern_request *reqs;
	/* Results, written by the thread; bytes is read live by the progress line. */
	uint64_t requests;
	uint64_t batches;
	uint64_t bytes;
	uint64_t errors;
	int first_error;
	int ret; /* setup or submit failure */
	uint64_t cpu_ns;
	uint64_t cpu_mask;
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of the whole process; @p nivcsw: times a thread was preempted. */
static double
process_cpu_s(uint64_t *nivcsw)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*nivcsw = (uint64_t)ru.ru_nivcsw;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static uint64_t
cpuset_mask(const rte_cpuset_t *set)
{
	uint64_t mask = 0;
	unsigned int cpu;

	for (cpu = 0; cpu < 64; cpu++)
		if (CPU_ISSET(cpu, set))
			mask |= 1ull << cpu;
	return mask;
}

static void
sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !interrupted)
		;
}

static bool
progress_enabled(const struct perf_ctx *ctx)
{
	return !ctx->args.quiet && isatty(STDERR_FILENO);
}

static void
progress(const struct perf_ctx *ctx, const struct client_state *cs, uint64_t t0, const char *what)
{
	uint64_t bytes = 0, el = clock_ns(CLOCK_MONOTONIC) - t0;
	unsigned int i;

	if (!progress_enabled(ctx))
		return;
	for (i = 0; cs != NULL && i < ctx->args.clients; i++)
		bytes += __atomic_load_n(&cs[i].bytes, __ATOMIC_RELAXED);
	fprintf(stderr, "\r" PROG ": %-8s block %-10" PRIu64 " %6.2f s %8.2f GB/s   ", what,
		ctx->block, (double)el * 1e-9, el > 0 ? (double)bytes / (double)el : 0.0);
	fflush(stderr);
}

static void
progress_clear(const struct perf_ctx *ctx)
{
	if (progress_enabled(ctx)) {
		fprintf(stderr, "\r%72s\r", "");
		fflush(stderr);
	}
}

/* ---- baselines ---- */

struct baseline_job {
	bool stream;
	const uint8_t *src;
	uint8_t *dst;
	uint64_t span;
	uint64_t unit;
	uint64_t warmup_tsc;
	uint64_t measure_tsc;
	/* out */
	uint64_t copies;
	uint64_t tsc;
};

/* A client of the in-process engine, or of the dataplane this process attached to. */
static struct tern_client *
perf_client_open(const struct perf_ctx *ctx, const struct tern_client_conf *conf)
{
	if (ctx->args.target == PERF_TARGET_DATAPLANE)
		return tern_client_attach(ctx->args.engine, conf);
	return tern_client_create(ctx->engine, conf);
}

static int
baseline_lcore(void *arg)
{
	struct baseline_job *job = arg;
	uint64_t nunits = job->span / job->unit, i = 0, copies = 0, start, now, end;

	start = rte_rdtsc();
	end = start + job->warmup_tsc;
	for (;;) {
		uint64_t off = (i++ % nunits) * job->unit;

		if (job->stream)
			tern_copy_stream(job->dst + off, job->src + off, job->unit);
		else
			memcpy(job->dst + off, job->src + off, job->unit);
		now = rte_rdtsc();
		if (now >= end)
			break;
	}
	start = now;
	end = start + job->measure_tsc;
	do {
		uint64_t off = (i++ % nunits) * job->unit;

		if (job->stream)
			tern_copy_stream(job->dst + off, job->src + off, job->unit);
		else
			memcpy(job->dst + off, job->src + off, job->unit);
		copies++;
		now = rte_rdtsc();
	} while (now < end);
	job->copies = copies;
	job->tsc = now - start;
	return 0;
}

/*
 * Every worker lcore copies its own stripe of the run's whole working set
 * (all clients' regions), whole blocks when the stripe holds at least one,
 * otherwise its share of one block: the same bytes the engine moves, on the
 * same cores.
 */
static int
run_baseline(struct perf_ctx *ctx, bool stream, struct perf_baseline *out)
{
	struct baseline_job jobs[PERF_MAX_WORKERS];
	uint64_t total = ctx->args.clients * ctx->nblocks * ctx->block, stripe, unit, measure_ns;
	const uint8_t *from;
	uint8_t *to;
	double bytes = 0.0, copies = 0.0, secs = 0.0;
	unsigned int i, n = ctx->nb_workers;
	int ret = 0;

	stripe = total / n;
	unit = ctx->block <= stripe ? ctx->block : stripe;
	if (unit == 0) {
		unit = total; /* a block smaller than the number of lcores: one lcore */
		n = 1;
		stripe = total;
	}
	stripe = stripe / unit * unit;
	from = ctx->args.op == PERF_OP_WRITE ? ctx->local_base : ctx->target_base;
	to = ctx->args.op == PERF_OP_WRITE ? ctx->target_base : ctx->local_base;
	measure_ns =
		ctx->args.duration_ns > BASELINE_MIN_NS ? ctx->args.duration_ns : BASELINE_MIN_NS;
	for (i = 0; i < n; i++) {
		jobs[i] = (struct baseline_job){
			.stream = stream,
			.src = from + i * stripe,
			.dst = to + i * stripe,
			.span = stripe,
			.unit = unit,
			.warmup_tsc = ctx->args.warmup_ns * ctx->tsc_hz / 1000000000ull,
			.measure_tsc = measure_ns * ctx->tsc_hz / 1000000000ull,
		};
		ret = rte_eal_remote_launch(baseline_lcore, &jobs[i], ctx->workers[i]);
		if (ret != 0) {
			fprintf(stderr, PROG ": cannot launch lcore %u: %s\n", ctx->workers[i],
				strerror(-ret));
			n = i;
			break;
		}
	}
	for (i = 0; i < n; i++) {
		rte_eal_wait_lcore(ctx->workers[i]);
		bytes += (double)(jobs[i].copies * unit);
		copies += (double)jobs[i].copies;
		if ((double)jobs[i].tsc / (double)ctx->tsc_hz > secs)
			secs = (double)jobs[i].tsc / (double)ctx->tsc_hz;
	}
	if (ret != 0 || secs <= 0.0)
		return -EIO;
	*out = (struct perf_baseline){ .measured = true,
				       .gbps = bytes / secs / 1e9,
				       .copies_per_s = copies / secs,
				       .unit_bytes = unit,
				       .span_bytes = stripe,
				       .nb_lcores = n };
	return 0;
}

/* ---- clients ---- */

/* Requests of the next batch: consecutive blocks of this client's region. */
static void
fill_batch(struct client_state *c, uint64_t *cursor)
{
	const struct perf_ctx *ctx = c->ctx;
	uint64_t base = (uint64_t)c->idx * ctx->region_bytes, off;
	uint32_t i;

	for (i = 0; i < ctx->args.batch; i++) {
		off = base + (*cursor % ctx->nblocks) * ctx->block;
		(*cursor)++;
		c->reqs[i].offset = off;
		c->reqs[i].local = ctx->local_base + off;
	}
}

/* A resolved future: count it, record its latency, release it. @return its slot. */
static uint32_t
account(struct client_state *c, struct tern_future *f, uint64_t now, bool measuring)
{
	const struct perf_ctx *ctx = c->ctx;
	uint32_t slot = (uint32_t)tern_future_user_data(f);
	int status = tern_future_test(f);

	if (status != 0) {
		c->errors++;
		if (c->first_error == 0)
			c->first_error = status;
	} else if (measuring) {
		tern_histogram_record(c->hist, now - c->slot_tsc[slot]);
		c->requests += ctx->args.batch;
		c->batches++;
		__atomic_store_n(&c->bytes, c->bytes + ctx->args.batch * ctx->block,
				 __ATOMIC_RELAXED);
	}
	tern_future_release(f);
	c->slot_future[slot] = NULL;
	return slot;
}

/*
 * --completion wait: wait for the oldest future, then take the ones after it
 * that are already resolved. @return how many were written to @p done.
 */
static int
collect_wait(struct client_state *c, uint64_t *head, uint64_t tail, struct tern_future **done)
{
	uint32_t inflight = c->ctx->args.inflight, slot;
	struct tern_future *f;
	int n = 0;

	while (*head != tail && n < REAP_BURST) {
		slot = c->fifo[*head % inflight];
		f = c->slot_future[slot];
		if (n == 0) {
			if (tern_future_wait(f, 100000000ull) == -EINPROGRESS)
				break;
		} else if (tern_future_test(f) == -EINPROGRESS) {
			break;
		}
		done[n++] = f;
		(*head)++;
	}
	return n;
}

/* One client thread's loop state; client_main() owns it, the helpers step it. */
struct client_loop {
	struct tern_client *client;
	uint64_t cursor;    /* next block of the region (fill_batch) */
	uint64_t submitted; /* batches submitted while measuring */
	uint64_t cpu0;	    /* thread CPU time when the measurement began */
	uint64_t head;	    /* --completion wait: oldest slot in the fifo */
	uint64_t tail;	    /* --completion wait: next free place in the fifo */
	uint32_t nfree;	    /* unused slots on c->free_slots */
	uint32_t idle;	    /* empty polls since the last yield */
	uint32_t loops;
	bool measuring;
	bool measured;
	bool stop; /* submit no more; leave once every slot is back */
};

/* --iterations mode: this client has submitted its share of the measurement. */
static bool
quota_reached(const struct client_state *c, const struct client_loop *l)
{
	const struct perf_args *a = &c->ctx->args;

	return l->measuring && a->iterations != 0 && l->submitted >= a->iterations;
}

/* Follow the main thread's phase: start and end the measured window. */
static void
client_follow_phase(struct client_state *c, struct client_loop *l)
{
	const struct perf_args *a = &c->ctx->args;
	int phase = __atomic_load_n(&c->ctx->phase, __ATOMIC_ACQUIRE);
	int cpu;

	if (phase == PHASE_MEASURE && !l->measuring && !l->measured) {
		l->measuring = true;
		l->cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	}
	if (phase == PHASE_DRAIN) {
		l->stop = true;
		/* Duration mode: what completes after the window is not counted. */
		if (l->measuring && a->iterations == 0) {
			c->cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - l->cpu0;
			l->measuring = false;
			l->measured = true;
		}
	}
	if (quota_reached(c, l))
		l->stop = true;
	if ((l->loops++ & 255) == 0 && (cpu = sched_getcpu()) >= 0 && cpu < 64)
		c->cpu_mask |= 1ull << cpu;
}

/* Keep --inflight batches outstanding. */
static void
client_submit(struct client_state *c, struct client_loop *l)
{
	const struct perf_args *a = &c->ctx->args;
	struct tern_submit_opts opts = { 0 };
	struct tern_notify n = { 0 };
	struct tern_future *f;
	uint64_t now;
	uint32_t slot;

	if (a->notify != PERF_NOTIFY_NONE)
		opts.notify = &n;
	while (!l->stop && l->nfree > 0 && !quota_reached(c, l)) {
		slot = c->free_slots[l->nfree - 1];
		fill_batch(c, &l->cursor);
		opts.user_data = slot;
		now = rte_rdtsc();
		n.tag = now; /* the receiver's latency starts here */
		if (a->notify == PERF_NOTIFY_EMPTY)
			f = tern_notify_send(l->client, c->ctx->target_handle, &n, &opts);
		else
			f = tern_submit(l->client, c->reqs, a->batch, &opts);
		if (f == NULL) {
			if (rte_errno == EAGAIN)
				break;
			c->ret = -rte_errno;
			l->stop = true;
			break;
		}
		l->nfree--;
		if (l->measuring)
			tern_histogram_record(c->hist_submit, rte_rdtsc() - now);
		c->slot_tsc[slot] = now;
		c->slot_future[slot] = f;
		if (a->completion == PERF_COMPLETION_WAIT)
			c->fifo[l->tail++ % a->inflight] = slot;
		if (l->measuring)
			l->submitted++;
	}
}

/* Collect what resolved and free its slots. @return 0, or the reap error. */
static int
client_collect(struct client_state *c, struct client_loop *l)
{
	struct tern_future *done[REAP_BURST];
	uint64_t now;
	int n, i;

	if (c->ctx->args.completion == PERF_COMPLETION_REAP) {
		n = tern_client_reap(l->client, done, REAP_BURST);
		if (n < 0)
			return n;
	} else {
		n = collect_wait(c, &l->head, l->tail, done);
	}
	now = rte_rdtsc();
	for (i = 0; i < n; i++)
		c->free_slots[l->nfree++] = account(c, done[i], now, l->measuring);
	if (n == 0) {
		rte_pause();
		if (c->ctx->client_yield && ++l->idle >= IDLE_POLLS_YIELD) {
			l->idle = 0;
			sched_yield();
		}
	}
	return 0;
}

static void *
client_main(void *arg)
{
	struct client_state *c = arg;
	struct perf_ctx *ctx = c->ctx;
	const struct perf_args *a = &ctx->args;
	struct tern_client_conf conf = {
		.max_inflight = a->inflight,
		.flags = a->completion == PERF_COMPLETION_WAIT ? TERN_CLIENT_F_NO_CQ : 0,
	};
	struct client_loop l = { .nfree = a->inflight };
	uint32_t i;
	int ret;

	for (i = 0; i < a->inflight; i++)
		c->free_slots[i] = i;
	l.client = perf_client_open(ctx, &conf);
	if (l.client == NULL)
		c->ret = -rte_errno;
	__atomic_add_fetch(&ctx->ready, 1, __ATOMIC_RELEASE);
	if (l.client == NULL)
		goto out;

	for (;;) {
		client_follow_phase(c, &l);
		client_submit(c, &l);
		if (l.stop && l.nfree == a->inflight)
			break;
		ret = client_collect(c, &l);
		if (ret != 0) {
			c->ret = ret;
			break;
		}
	}
	if (l.measuring)
		c->cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - l.cpu0;
	tern_client_destroy(l.client);
out:
	if (a->iterations != 0)
		__atomic_add_fetch(&ctx->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ---- notifications: the receiving side ---- */

/* --notify: a client of the target node takes the notifications and records
 * submit (the tag) -> seen, while the clients measure; then drains. */
static void *
notify_receiver(void *arg)
{
	struct perf_ctx *ctx = arg;
	struct tern_notification n[32];
	struct tern_client *c =
		perf_client_open(ctx, &(struct tern_client_conf){ .max_inflight = 1 });
	uint64_t quiet = 0;
	int k, i;

	if (c == NULL) {
		fprintf(stderr, PROG ": notification receiver: %s\n", rte_strerror(rte_errno));
		return NULL;
	}
	for (;;) {
		int phase = __atomic_load_n(&ctx->phase, __ATOMIC_ACQUIRE);

		k = tern_notify_wait(c, n, RTE_DIM(n), 10000000ull);
		if (k <= 0) {
			if (phase == PHASE_DRAIN && ++quiet >= 10)
				break;
			continue;
		}
		quiet = 0;
		for (i = 0; i < k; i++) {
			uint64_t now = rte_rdtsc();

			if (phase == PHASE_MEASURE && n[i].tag <= now) {
				tern_histogram_record(ctx->notify_hist, now - n[i].tag);
				ctx->notify_seen++;
			}
		}
	}
	tern_client_destroy(c);
	return NULL;
}

/* Whether this process has a client on the node the notifications go to. */
static bool
notify_receiver_here(const struct perf_ctx *ctx)
{
	return ctx->args.notify != PERF_NOTIFY_NONE && strchr(ctx->args.segment, '/') == NULL;
}

static void
notify_report(const struct perf_ctx *ctx, double seconds)
{
	double us = 1e6 / (double)ctx->tsc_hz;

	if (ctx->notify_seen == 0) {
		printf("notify: none seen here%s\n",
		       notify_receiver_here(ctx) ? ""
						 : " (the target is another node: run tern-perf "
						   "--notify listen attached to it)");
		return;
	}
	printf("notify: %" PRIu64 " seen by a client of the target, %.3f M/s; submit -> seen "
	       "p50 %.2f us, p90 %.2f us, p99 %.2f us\n",
	       ctx->notify_seen, seconds > 0 ? (double)ctx->notify_seen / seconds / 1e6 : 0.0,
	       (double)tern_histogram_percentile(ctx->notify_hist, 50.0) * us,
	       (double)tern_histogram_percentile(ctx->notify_hist, 90.0) * us,
	       (double)tern_histogram_percentile(ctx->notify_hist, 99.0) * us);
}

/* --notify listen: receive for --duration, report. @return the exit status. */
static int
notify_listen(struct perf_ctx *ctx)
{
	struct tern_histogram *h = malloc(sizeof(*h));
	pthread_t th;
	uint64_t t0;

	if (h == NULL)
		return EXIT_RUNTIME;
	tern_histogram_reset(h);
	ctx->notify_hist = h;
	ctx->notify_seen = 0;
	__atomic_store_n(&ctx->phase, PHASE_MEASURE, __ATOMIC_RELEASE);
	if (pthread_create(&th, NULL, notify_receiver, ctx) != 0) {
		free(h);
		return EXIT_RUNTIME;
	}
	t0 = clock_ns(CLOCK_MONOTONIC);
	while (!interrupted && clock_ns(CLOCK_MONOTONIC) - t0 < ctx->args.duration_ns)
		sleep_ns(10000000ull);
	__atomic_store_n(&ctx->phase, PHASE_DRAIN, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	notify_report(ctx, (double)(clock_ns(CLOCK_MONOTONIC) - t0) * 1e-9);
	free(h);
	return 0;
}

/* ---- one measurement ---- */

static void
engine_counters(const struct perf_ctx *ctx, uint64_t *slices, uint64_t *busy, uint64_t *idle)
{
	struct tern_lcore_stats st;
	unsigned int i;

	*slices = *busy = *idle = 0;
	for (i = 0; ctx->engine != NULL && i < ctx->nb_workers; i++) {
		if (tern_engine_lcore_stats(ctx->engine, ctx->workers[i], &st) != 0)
			continue;
		*slices += st.slices;
		*busy += st.busy_polls;
		*idle += st.idle_polls;
	}
}

static void
clients_free(struct client_state *cs, unsigned int n)
{
	unsigned int i;

	for (i = 0; cs != NULL && i < n; i++) {
		free(cs[i].hist);
		free(cs[i].hist_submit);
		free(cs[i].slot_tsc);
		free(cs[i].slot_future);
		free(cs[i].free_slots);
		free(cs[i].fifo);
		free(cs[i].reqs);
	}
	free(cs);
}

static struct client_state *
clients_alloc(struct perf_ctx *ctx)
{
	const struct perf_args *a = &ctx->args;
	struct client_state *cs = calloc(a->clients, sizeof(*cs));
	unsigned int i, j;

	if (cs == NULL)
		return NULL;
	for (i = 0; i < a->clients; i++) {
		struct client_state *c = &cs[i];

		c->ctx = ctx;
		c->idx = i;
		c->hist = malloc(sizeof(*c->hist));
		c->hist_submit = malloc(sizeof(*c->hist_submit));
		c->slot_tsc = calloc(a->inflight, sizeof(*c->slot_tsc));
		c->slot_future = calloc(a->inflight, sizeof(*c->slot_future));
		c->free_slots = calloc(a->inflight, sizeof(*c->free_slots));
		c->fifo = calloc(a->inflight, sizeof(*c->fifo));
		c->reqs = calloc(a->batch, sizeof(*c->reqs));
		if (c->hist == NULL || c->hist_submit == NULL || c->slot_tsc == NULL ||
		    c->slot_future == NULL || c->free_slots == NULL || c->fifo == NULL ||
		    c->reqs == NULL) {
			clients_free(cs, a->clients);
			return NULL;
		}
		tern_histogram_reset(c->hist);
		tern_histogram_reset(c->hist_submit);
		for (j = 0; j < a->batch; j++)
			c->reqs[j] = (struct tern_request){
				.op = a->op == PERF_OP_READ ? TERN_OP_READ : TERN_OP_WRITE,
				.segment = ctx->target_handle,
				.length = ctx->block,
			};
	}
	return cs;
}

/*
 * Add what the @p started client threads counted to @p res. @return @p ret,
 * or when that is 0 the first client's failure (reported here).
 */
static int
merge_clients(struct perf_result *res, const struct client_state *cs, unsigned int started, int ret)
{
	unsigned int i;

	for (i = 0; i < started; i++) {
		const struct client_state *c = &cs[i];

		tern_histogram_merge(res->latency, c->hist);
		tern_histogram_merge(res->submit_call, c->hist_submit);
		res->requests += c->requests;
		res->batches += c->batches;
		res->bytes += c->bytes;
		res->errors += c->errors;
		res->client_cpu_s += (double)c->cpu_ns * 1e-9;
		res->client_cpu_mask |= c->cpu_mask;
		if (res->first_error == 0)
			res->first_error = c->first_error;
		if (c->ret != 0 && ret == 0) {
			ret = c->ret;
			fprintf(stderr, PROG ": client %u: %s\n", i, strerror(-c->ret));
		}
	}
	return ret;
}

static int
run_engine(struct perf_ctx *ctx, struct perf_result *res)
{
	const struct perf_args *a = &ctx->args;
	uint64_t s0, b0, i0, s1, b1, i1, t0, t1, next;
	struct client_state *cs;
	unsigned int i, started = 0;
	uint64_t preempt0, preempt1;
	double cpu0, cpu1;
	pthread_t receiver;
	bool receiving = false;
	int ret = 0;

	cs = clients_alloc(ctx);
	if (cs == NULL)
		return -ENOMEM;
	__atomic_store_n(&ctx->phase, PHASE_WARMUP, __ATOMIC_RELEASE);
	ctx->ready = 0;
	ctx->done = 0;
	ctx->notify_seen = 0;
	if (ctx->notify_hist != NULL)
		tern_histogram_reset(ctx->notify_hist);
	if (ctx->notify_hist != NULL && notify_receiver_here(ctx))
		receiving = pthread_create(&receiver, NULL, notify_receiver, ctx) == 0;
	for (i = 0; i < a->clients; i++) {
		ret = -pthread_create(&cs[i].thread, NULL, client_main, &cs[i]);
		if (ret != 0)
			break;
		started++;
	}
	while (__atomic_load_n(&ctx->ready, __ATOMIC_ACQUIRE) < started)
		sleep_ns(1000000);
	t0 = clock_ns(CLOCK_MONOTONIC);
	while (ret == 0 && !interrupted && clock_ns(CLOCK_MONOTONIC) - t0 < a->warmup_ns) {
		sleep_ns(RTE_MIN(a->warmup_ns, 100000000ull));
		progress(ctx, NULL, t0, "warm-up");
	}

	engine_counters(ctx, &s0, &b0, &i0);
	cpu0 = process_cpu_s(&preempt0);
	t0 = clock_ns(CLOCK_MONOTONIC);
	__atomic_store_n(&ctx->phase, PHASE_MEASURE, __ATOMIC_RELEASE);
	next = t0;
	while (ret == 0 && !interrupted) {
		t1 = clock_ns(CLOCK_MONOTONIC);
		if (a->iterations == 0 && t1 - t0 >= a->duration_ns)
			break;
		if (a->iterations != 0 && __atomic_load_n(&ctx->done, __ATOMIC_ACQUIRE) >= started)
			break;
		if (t1 >= next) {
			progress(ctx, cs, t0, "measure");
			next = t1 + 250000000ull;
		}
		if (a->iterations == 0)
			sleep_ns(RTE_MIN(a->duration_ns - (t1 - t0), 10000000ull));
		else
			sleep_ns(200000);
	}
	t1 = clock_ns(CLOCK_MONOTONIC);
	cpu1 = process_cpu_s(&preempt1);
	engine_counters(ctx, &s1, &b1, &i1);
	__atomic_store_n(&ctx->phase, PHASE_DRAIN, __ATOMIC_RELEASE);
	for (i = 0; i < started; i++)
		pthread_join(cs[i].thread, NULL);
	if (receiving)
		pthread_join(receiver, NULL);
	progress_clear(ctx);

	res->seconds = (double)(t1 - t0) * 1e-9;
	res->slices = s1 - s0;
	res->worker_busy = (b1 - b0) + (i1 - i0) > 0
				   ? (double)(b1 - b0) / (double)((b1 - b0) + (i1 - i0))
				   : 0.0;
	res->process_cpu_s = cpu1 - cpu0;
	res->preemptions = preempt1 - preempt0;
	ret = merge_clients(res, cs, started, ret);
	clients_free(cs, a->clients);
	if (ret == 0 && res->errors != 0) {
		fprintf(stderr, PROG ": %" PRIu64 " batches failed, first with %s\n", res->errors,
			strerror(-res->first_error));
		ret = -EIO;
	}
	return ret;
}

/* ---- verification ---- */

static inline uint64_t
pattern_word(uint64_t seed, uint64_t word_index)
{
	uint64_t z = seed + word_index * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Fill [base + off, base + off + n) with a pattern of the byte offset: any misplaced byte shows. */
static void
pattern_fill(uint8_t *base, uint64_t off, uint64_t n, uint64_t seed)
{
	uint64_t end = off + n;

	for (; off < end && (off & 7) != 0; off++)
		base[off] = (uint8_t)(pattern_word(seed, off >> 3) >> ((off & 7) * 8));
	for (; off + 8 <= end; off += 8)
		*(uint64_t *)(base + off) = pattern_word(seed, off >> 3);
	for (; off < end; off++)
		base[off] = (uint8_t)(pattern_word(seed, off >> 3) >> ((off & 7) * 8));
}

static bool
pattern_matches(const uint8_t *base, uint64_t off, uint64_t len, uint64_t seed)
{
	uint64_t end = off + len;

	for (; off < end && (off & 7) != 0; off++)
		if (base[off] != (uint8_t)(pattern_word(seed, off >> 3) >> ((off & 7) * 8)))
			return false;
	for (; off + 8 <= end; off += 8)
		if (*(const uint64_t *)(base + off) != pattern_word(seed, off >> 3))
			return false;
	for (; off < end; off++)
		if (base[off] != (uint8_t)(pattern_word(seed, off >> 3) >> ((off & 7) * 8)))
			return false;
	return true;
}

/* Move client @c's whole region with @op, batch by batch. */
static int
verify_pass(struct perf_ctx *ctx, struct tern_client *client, struct tern_request *reqs,
	    unsigned int c, uint8_t op)
{
	uint64_t cursor, off;
	struct tern_future *f;
	uint32_t nb;
	int ret = 0;

	for (cursor = 0; cursor < ctx->nblocks && ret == 0;) {
		for (nb = 0; nb < ctx->args.batch && cursor < ctx->nblocks; nb++, cursor++) {
			off = c * ctx->region_bytes + cursor * ctx->block;
			reqs[nb] = (struct tern_request){
				.op = op,
				.segment = ctx->target_handle,
				.offset = off,
				.local = ctx->local_base + off,
				.length = ctx->block,
			};
		}
		f = tern_submit(client, reqs, nb, NULL);
		ret = f == NULL ? -rte_errno : tern_future_wait(f, UINT64_MAX);
		if (f != NULL)
			tern_future_release(f);
	}
	return ret;
}

static int
verify_block(struct perf_ctx *ctx, uint64_t seed)
{
	const struct perf_args *a = &ctx->args;
	struct tern_client_conf conf = { .max_inflight = 1, .flags = TERN_CLIENT_F_NO_CQ };
	uint64_t used = ctx->nblocks * ctx->block;
	struct tern_request *reqs;
	struct tern_client *client;
	uint8_t *from, *to;
	unsigned int c;
	int ret = 0;

	reqs = calloc(a->batch, sizeof(*reqs));
	client = perf_client_open(ctx, &conf);
	if (reqs == NULL || client == NULL) {
		free(reqs);
		if (client != NULL)
			tern_client_destroy(client);
		return -ENOMEM;
	}
	if (ctx->target_base == NULL) {
		/* The target is not mapped here: WRITE a pattern, overwrite the
		 * local copy, READ it back and compare. */
		for (c = 0; c < a->clients && ret == 0; c++) {
			pattern_fill(ctx->local_base, c * ctx->region_bytes, used, seed);
			ret = verify_pass(ctx, client, reqs, c, TERN_OP_WRITE);
			pattern_fill(ctx->local_base, c * ctx->region_bytes, used, ~seed);
			if (ret == 0)
				ret = verify_pass(ctx, client, reqs, c, TERN_OP_READ);
			if (ret == 0 &&
			    !pattern_matches(ctx->local_base, c * ctx->region_bytes, used, seed))
				ret = -EILSEQ;
		}
		goto out;
	}
	from = a->op == PERF_OP_WRITE ? ctx->local_base : ctx->target_base;
	to = a->op == PERF_OP_WRITE ? ctx->target_base : ctx->local_base;
	for (c = 0; c < a->clients; c++) {
		pattern_fill(from, c * ctx->region_bytes, used, seed);
		pattern_fill(to, c * ctx->region_bytes, used, ~seed);
	}
	for (c = 0; c < a->clients && ret == 0; c++) {
		ret = verify_pass(ctx, client, reqs, c,
				  a->op == PERF_OP_READ ? TERN_OP_READ : TERN_OP_WRITE);
		if (ret == 0 &&
		    memcmp(from + c * ctx->region_bytes, to + c * ctx->region_bytes, used) != 0)
			ret = -EILSEQ;
	}
out:
	tern_client_destroy(client);
	free(reqs);
	return ret;
}

/* ---- set-up ---- */

static void
set_block(struct perf_ctx *ctx, uint64_t block)
{
	ctx->block = block;
	ctx->nblocks = ctx->args.working_set > block ? ctx->args.working_set / block : 1;
}

static int
check_transport(const struct perf_args *a)
{
	char names[128] = "";
	int i, n = tern_transport_count();

	for (i = 0; i < n; i++) {
		const char *name = tern_transport_name(i);

		if (name == NULL)
			continue;
		if (names[0] != '\0')
			strncat(names, ", ", sizeof(names) - strlen(names) - 1);
		strncat(names, name, sizeof(names) - strlen(names) - 1);
	}
	if (a->target != PERF_TARGET_LOOPBACK && a->target != PERF_TARGET_DATAPLANE) {
		fprintf(stderr,
			PROG ": --target %s is not available in this build "
			     "(available: loopback, segments in this process)\n",
			perf_target_name(a->target));
		return -ENOTSUP;
	}
	if (tern_transport_id(a->transport) < 0) {
		fprintf(stderr,
			PROG ": --transport %s is not available in this build (built: %s)\n",
			a->transport, names);
		return -ENOTSUP;
	}
	if (strcmp(a->transport, "memcpy") != 0 && a->target == PERF_TARGET_LOOPBACK) {
		fprintf(stderr,
			PROG ": --transport %s with --target loopback is not available in this "
			     "build (in-process segments are reached through memcpy)\n",
			a->transport);
		return -ENOTSUP;
	}
	return 0;
}

/* NODE/NAME: the dataplane resolves it (and imports it) for us. */
static int
resolve_remote(const char *name, uint32_t *handle)
{
	char node[TERN_PEER_NAME_MAX], segment[TERN_SEGMENT_NAME_MAX];
	int ret = tern_peers_split_name(name, node, segment);

	if (ret != 0)
		return ret;
	/* Bounded by the dataplane's directory and import timeouts (2 s each). */
	return tern_peers_ipc_resolve(node, segment, 10000, handle);
}

/*
 * --target dataplane: the target is a segment the dataplane exports; the
 * local buffers are shared hugepage memory the dataplane allocates for us.
 */
static int
attach_segments(struct perf_ctx *ctx, uint64_t total)
{
	const struct perf_args *a = &ctx->args;
	struct tern_client_conf conf = { .max_inflight = 1, .flags = TERN_CLIENT_F_NO_CQ };
	struct tern_segment_info info;
	char name[TERN_SEGMENT_NAME_MAX];

	ctx->admin = tern_client_attach(a->engine, &conf);
	if (ctx->admin == NULL) {
		fprintf(stderr, PROG ": cannot attach to engine %s: %s\n", a->engine,
			rte_strerror(rte_errno));
		return -rte_errno;
	}
	ctx->tbl = tern_segment_table_lookup(a->engine);
	if (ctx->tbl == NULL)
		return -ENOENT;
	if (strchr(a->segment, '/') != NULL) {
		int ret = resolve_remote(a->segment, &ctx->target_handle);

		if (ret != 0) {
			fprintf(stderr, PROG ": the dataplane cannot reach %s: %s\n", a->segment,
				strerror(-ret));
			return ret;
		}
	} else if (tern_segment_find(ctx->tbl, a->segment, &ctx->target_handle) != 0) {
		fprintf(stderr, PROG ": the dataplane exports no segment %s\n", a->segment);
		return -ENOENT;
	}
	if (tern_segment_info(ctx->tbl, ctx->target_handle, &info) != 0)
		return -ENOENT;
	if (info.length < total) {
		fprintf(stderr,
			PROG ": segment %s has %" PRIu64 " bytes; this run needs %" PRIu64
			     " (lower --working-set, --clients or --block-size)\n",
			a->segment, info.length, total);
		return -ENOSPC;
	}
	/* The dataplane's segments are mapped in its process only (or are a
	 * peer's): this process reaches them through the engine alone. */
	ctx->target_base = NULL;
	snprintf(name, sizeof(name), "perf_%d", (int)getpid());
	ctx->local_base = tern_client_shm_alloc(ctx->admin, name, total, &ctx->local_handle);
	if (ctx->local_base == NULL) {
		fprintf(stderr, PROG ": cannot get %" PRIu64 " bytes of shared memory: %s\n", total,
			rte_strerror(rte_errno));
		return -rte_errno;
	}
	memset(ctx->local_base, 0x11, total);
	return 0;
}

static int
alloc_segments(struct perf_ctx *ctx)
{
	const struct perf_args *a = &ctx->args;
	struct tern_segment_info info;
	uint64_t max_block = 0, total;
	unsigned int i;
	int ret;

	for (i = 0; i < a->nb_block_sizes; i++)
		max_block = RTE_MAX(max_block, a->block_sizes[i]);
	ctx->region_bytes = RTE_ALIGN_CEIL(RTE_MAX(max_block, a->working_set), 4096ull);
	total = ctx->region_bytes * a->clients;
	if (a->target == PERF_TARGET_DATAPLANE)
		return attach_segments(ctx, total);
	ctx->tbl = tern_segment_table_create("perf", 8, SOCKET_ID_ANY);
	if (ctx->tbl == NULL) {
		fprintf(stderr, PROG ": segment table: %s\n", rte_strerror(rte_errno));
		return -rte_errno;
	}
	ret = tern_segment_alloc(ctx->tbl, "perf_local", total, SOCKET_ID_ANY, &ctx->local_handle);
	if (ret == 0)
		ret = tern_segment_alloc(ctx->tbl, "perf_target", total, SOCKET_ID_ANY,
					 &ctx->target_handle);
	if (ret != 0) {
		fprintf(stderr,
			PROG ": cannot allocate 2 x %" PRIu64 " bytes of hugepage memory: %s "
			     "(reserve more, e.g. dpdk-hugepages.py -p 2M --setup 2G, or lower "
			     "--working-set, --clients or the largest --block-size)\n",
			total, strerror(-ret));
		return ret;
	}
	tern_segment_info(ctx->tbl, ctx->local_handle, &info);
	ctx->local_base = info.addr;
	tern_segment_info(ctx->tbl, ctx->target_handle, &info);
	ctx->target_base = info.addr;
	/* Fault every page in now, not in the first measurement. */
	memset(ctx->local_base, 0x11, total);
	memset(ctx->target_base, 0x22, total);
	return 0;
}

static void
free_segments(struct perf_ctx *ctx)
{
	if (ctx->admin != NULL) {
		if (ctx->local_base != NULL)
			tern_client_shm_free(ctx->admin, ctx->local_handle);
		tern_client_destroy(ctx->admin);
		return;
	}
	if (ctx->tbl == NULL)
		return;
	if (ctx->local_handle != TERN_SEGMENT_INVALID)
		tern_segment_unregister(ctx->tbl, ctx->local_handle);
	if (ctx->target_handle != TERN_SEGMENT_INVALID)
		tern_segment_unregister(ctx->tbl, ctx->target_handle);
	tern_segment_table_free(ctx->tbl);
}

static int
pick_workers(struct perf_ctx *ctx, struct perf_report *rep)
{
	unsigned int id, avail = 0;
	rte_cpuset_t set;

	if (ctx->args.target == PERF_TARGET_DATAPLANE) {
		/* The dataplane's lcores do the work; this process only submits. */
		rep->nb_workers = 0;
		rep->main_lcore = rte_get_main_lcore();
		set = rte_lcore_cpuset(rep->main_lcore);
		rep->main_cpu_mask = cpuset_mask(&set);
		ctx->client_yield =
			ctx->args.clients > (unsigned int)__builtin_popcountll(rep->main_cpu_mask);
		return 0;
	}

	RTE_LCORE_FOREACH_WORKER (id) {
		avail++;
		if (ctx->nb_workers < PERF_MAX_WORKERS &&
		    (ctx->args.workers == 0 || ctx->nb_workers < ctx->args.workers))
			ctx->workers[ctx->nb_workers++] = id;
	}
	if (ctx->nb_workers == 0) {
		fprintf(stderr, PROG ": needs at least one EAL worker lcore (e.g. -l 0-1)\n");
		return -EINVAL;
	}
	if (ctx->args.workers > ctx->nb_workers) {
		fprintf(stderr, PROG ": --workers %u but only %u EAL worker lcores (use -l)\n",
			ctx->args.workers, avail);
		return -EINVAL;
	}
	rep->nb_workers = ctx->nb_workers;
	for (id = 0; id < ctx->nb_workers; id++) {
		rep->worker_lcores[id] = ctx->workers[id];
		set = rte_lcore_cpuset(ctx->workers[id]);
		rep->worker_cpu_mask[id] = cpuset_mask(&set);
	}
	rep->main_lcore = rte_get_main_lcore();
	set = rte_lcore_cpuset(rep->main_lcore);
	rep->main_cpu_mask = cpuset_mask(&set);
	/* Client threads inherit the main thread's CPUs: yield when they outnumber them. */
	ctx->client_yield =
		ctx->args.clients > (unsigned int)__builtin_popcountll(rep->main_cpu_mask);
	return 0;
}

static int
create_engine(struct perf_ctx *ctx, struct perf_report *rep)
{
	const struct perf_args *a = &ctx->args;
	struct tern_engine_conf conf = {
		.name = "perf",
		.lcores = ctx->workers,
		.nb_lcores = ctx->nb_workers,
		.segments = ctx->tbl,
		.nb_futures = RTE_MAX(8192u, a->clients * (a->inflight + 64) + 2048),
		.max_batch = RTE_MAX(64u, a->batch),
		.max_clients = RTE_MAX(64u, a->clients + 1),
		.slice_bytes = a->slice_bytes,
		.stream_bytes = a->stream_bytes,
		.share_bytes = a->share_bytes,
		.deadline_ns = 60ull * 1000000000ull,
	};

	if (a->target == PERF_TARGET_DATAPLANE)
		return 0; /* the dataplane's engine does the work */
	ctx->engine = tern_engine_create(&conf);
	if (ctx->engine == NULL) {
		fprintf(stderr, PROG ": engine: %s\n", rte_strerror(rte_errno));
		return -rte_errno;
	}
	tern_engine_get_conf(ctx->engine, &conf);
	rep->slice_bytes = conf.slice_bytes;
	rep->stream_bytes = conf.stream_bytes;
	rep->share_bytes = conf.share_bytes;
	return 0;
}

/* ---- the run ---- */

/*
 * The app's own arguments follow "--": parse them before EAL takes
 * hugepages. @p eal_argc is set to the count of EAL arguments before "--".
 * @return 0, or the exit status.
 */
static int
parse_app_args(int argc, char **argv, struct perf_args *args, int *eal_argc)
{
	char err[256], **app_argv;
	int app_argc, i, ret;

	for (*eal_argc = 0; *eal_argc < argc && strcmp(argv[*eal_argc], "--") != 0; (*eal_argc)++)
		;
	app_argc = *eal_argc < argc ? argc - *eal_argc : 1;
	app_argv = calloc((size_t)app_argc + 1, sizeof(*app_argv));
	if (app_argv == NULL)
		return EXIT_RUNTIME;
	app_argv[0] = argv[0];
	for (i = 1; i < app_argc; i++)
		app_argv[i] = argv[*eal_argc + i];
	ret = perf_args_parse(app_argc, app_argv, args, err, sizeof(err));
	free(app_argv);
	if (ret != 0) {
		fprintf(stderr, PROG ": %s\n" PROG ": usage: " PROG " [EAL args] -- --help\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* What this build cannot run is a usage error; @return 0, or the exit status. */
static int
check_args(struct perf_args *a)
{
	if (check_transport(a) != 0)
		return EXIT_USAGE;
	if ((a->notify == PERF_NOTIFY_BATCH && a->op != PERF_OP_WRITE) ||
	    (a->notify != PERF_NOTIFY_NONE && a->store_keys != 0) ||
	    (a->notify == PERF_NOTIFY_LISTEN && a->target != PERF_TARGET_DATAPLANE)) {
		fprintf(stderr, PROG ": --notify: batch with --op write; listen with --target "
				     "dataplane; not with --store\n");
		return EXIT_USAGE;
	}
	if (a->notify == PERF_NOTIFY_EMPTY)
		a->baseline = false;
	if (a->store_keys != 0) {
		uint64_t max_block = 0;
		unsigned int i;

		for (i = 0; i < a->nb_block_sizes; i++)
			max_block = RTE_MAX(max_block, a->block_sizes[i]);
		if (a->target == PERF_TARGET_PEER || a->clients != 1 ||
		    a->batch > TERN_STORE_BATCH_MAX || max_block % 64 != 0 ||
		    max_block > PERF_WORKING_SET_MAX / a->store_keys) {
			fprintf(stderr,
				PROG ": --store: loopback or dataplane, one client, --batch <= %u, "
				     "block sizes multiples of 64, keys x largest block "
				     "<= %llu bytes\n",
				TERN_STORE_BATCH_MAX, PERF_WORKING_SET_MAX);
			return EXIT_USAGE;
		}
		a->working_set = a->store_keys * max_block;
		a->baseline = false; /* the baseline is raw WRITE/READ, in the same run */
	}
	if (a->target == PERF_TARGET_DATAPLANE && a->baseline) {
		/* Baselines need idle lcores of their own: compare with an
		 * in-process run on the same cores instead (bench/, README). */
		if (!a->quiet)
			fprintf(stderr, PROG ": --target dataplane: no baseline in this mode "
					     "(run tern-perf in-process for it)\n");
		a->baseline = false;
	}
	return 0;
}

/* @return 0, or the exit status. */
static int
init_eal(struct perf_ctx *ctx, int eal_argc, char **argv)
{
	int ret = rte_eal_init(eal_argc, argv);

	if (ret < 0) {
		fprintf(stderr,
			PROG ": EAL initialisation failed: %s (EAL args before --, tern-perf's "
			     "after)\n",
			rte_strerror(rte_errno));
		return EXIT_RUNTIME;
	}
	if (ctx->args.target == PERF_TARGET_DATAPLANE &&
	    rte_eal_process_type() != RTE_PROC_SECONDARY) {
		fprintf(stderr, PROG ": --target dataplane runs as a DPDK secondary process: add "
				     "--proc-type=secondary --file-prefix <the dataplane's>\n");
		rte_eal_cleanup();
		return EXIT_USAGE;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ctx->tsc_hz = rte_get_tsc_hz();
	return 0;
}

/* What the report says about the machine, before anything is measured. */
static void
report_init(const struct perf_ctx *ctx, struct perf_report *rep)
{
	rep->args = &ctx->args;
	rep->tsc_hz = ctx->tsc_hz;
	rep->cpus_online = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
	rep->copy_isa = tern_copy_isa_name(tern_copy_stream_isa());
}

/* An empty result per block size. @return 0 or -ENOMEM. */
static int
results_init(const struct perf_ctx *ctx, struct perf_result *results)
{
	unsigned int b;

	for (b = 0; b < ctx->args.nb_block_sizes; b++) {
		results[b].latency = malloc(sizeof(*results[b].latency));
		results[b].submit_call = malloc(sizeof(*results[b].submit_call));
		if (results[b].latency == NULL || results[b].submit_call == NULL)
			return -ENOMEM;
		tern_histogram_reset(results[b].latency);
		tern_histogram_reset(results[b].submit_call);
		results[b].block_size = ctx->args.block_sizes[b];
		results[b].verified = -1;
	}
	return 0;
}

/*
 * Worker lcores, the results and the segments. @p results is set even on
 * failure, for teardown(). @return 0, or the exit status.
 */
static int
prepare_run(struct perf_ctx *ctx, struct perf_report *rep, struct perf_result **results)
{
	if (pick_workers(ctx, rep) != 0)
		return EXIT_USAGE;
	*results = calloc(ctx->args.nb_block_sizes, sizeof(**results));
	if (*results == NULL || alloc_segments(ctx) != 0)
		return EXIT_RUNTIME;
	if (results_init(ctx, *results) != 0)
		return EXIT_RUNTIME;
	return 0;
}

/* --verify: the untimed pass after block size @p b. @return 0, or the exit status. */
static int
verify_result(struct perf_ctx *ctx, struct perf_result *res, unsigned int b)
{
	int ret = verify_block(ctx, 0x7465726e00000000ull + b);

	res->verified = ret == 0;
	if (ret != 0) {
		fprintf(stderr, PROG ": block size %" PRIu64 ": verify failed: %s\n", ctx->block,
			ret == -EILSEQ ? "bytes differ" : strerror(-ret));
		return EXIT_RUNTIME;
	}
	return 0;
}

/*
 * Block size @p b: the baselines on the idle worker lcores, then the engine
 * on the same lcores, one right after the other, so both see the same
 * machine (other load, frequency, memory state). @return 0, or the exit status.
 */
static int
measure_block(struct perf_ctx *ctx, struct perf_report *rep, struct perf_result *res,
	      unsigned int b)
{
	int ret;

	set_block(ctx, ctx->args.block_sizes[b]);
	if (ctx->args.baseline && (run_baseline(ctx, false, &res->memcpy_base) != 0 ||
				   run_baseline(ctx, true, &res->stream_base) != 0))
		return EXIT_RUNTIME;
	if (create_engine(ctx, rep) != 0)
		return EXIT_RUNTIME;
	res->blocks_per_client = ctx->nblocks;
	ret = run_engine(ctx, res);
	rep->nb_results = b + 1;
	if (ret == 0 && ctx->args.notify != PERF_NOTIFY_NONE && !ctx->args.json) {
		printf("block %" PRIu64 ": ", ctx->block);
		notify_report(ctx, res->seconds);
	}
	if (ret != 0) {
		fprintf(stderr, PROG ": block size %" PRIu64 ": %s\n", ctx->block, strerror(-ret));
		return EXIT_RUNTIME;
	}
	if (ctx->args.verify && verify_result(ctx, res, b) != 0)
		return EXIT_RUNTIME;
	if (ctx->engine != NULL)
		tern_engine_destroy(ctx->engine);
	ctx->engine = NULL;
	return 0;
}

/* Every block size, until one fails or a signal comes. @return the exit status. */
static int
measure_all(struct perf_ctx *ctx, struct perf_report *rep, struct perf_result *results)
{
	int status = 0;
	unsigned int b;

	for (b = 0; b < ctx->args.nb_block_sizes && !interrupted; b++) {
		status = measure_block(ctx, rep, &results[b], b);
		if (status != 0)
			break;
	}
	if (interrupted) {
		fprintf(stderr, PROG ": interrupted\n");
		status = EXIT_RUNTIME;
	}
	return status;
}

/* What a measurement left behind, also after a failed set-up. */
static void
teardown(struct perf_ctx *ctx, struct perf_result *results)
{
	unsigned int b;

	if (ctx->engine != NULL)
		tern_engine_destroy(ctx->engine);
	free_segments(ctx);
	for (b = 0; results != NULL && b < ctx->args.nb_block_sizes; b++) {
		free(results[b].latency);
		free(results[b].submit_call);
	}
	free(results);
	/* A secondary process leaves without rte_eal_cleanup(): in DPDK 22.11
	 * its memory detach can deadlock with the primary freeing hugepage
	 * memory at that moment (each waits on a lock the other holds; seen in
	 * tests/peers). Exiting releases everything the kernel tracks, and the
	 * dataplane reclaims anything of the client it had not detached. */
	if (rte_eal_process_type() == RTE_PROC_PRIMARY)
		rte_eal_cleanup();
}

int
main(int argc, char **argv)
{
	static struct perf_ctx ctx;
	struct perf_report rep = { .prog = PROG };
	struct perf_result *results = NULL;
	int eal_argc, status;

	status = parse_app_args(argc, argv, &ctx.args, &eal_argc);
	if (status != 0)
		return status;
	if (ctx.args.help) {
		perf_args_usage(stdout, PROG);
		return 0;
	}
	status = check_args(&ctx.args);
	if (status == 0)
		status = init_eal(&ctx, eal_argc, argv);
	if (status != 0)
		return status;
	report_init(&ctx, &rep);
	if (ctx.args.notify == PERF_NOTIFY_LISTEN)
		return notify_listen(&ctx);
	if (ctx.args.notify != PERF_NOTIFY_NONE) {
		ctx.notify_hist = malloc(sizeof(*ctx.notify_hist));
		if (ctx.notify_hist == NULL)
			return EXIT_RUNTIME;
		tern_histogram_reset(ctx.notify_hist);
	}

	status = prepare_run(&ctx, &rep, &results);
	if (status == 0 && ctx.args.store_keys != 0) {
		struct perf_store_env env;
		unsigned int w;

		if (create_engine(&ctx, &rep) != 0) {
			teardown(&ctx, results);
			return EXIT_RUNTIME;
		}
		env = (struct perf_store_env){
			.engine = ctx.engine,
			.tbl = ctx.tbl,
			.target_handle = ctx.target_handle,
			.target_bytes = ctx.region_bytes,
			.local_base = ctx.local_base,
			.engine_name = ctx.args.engine,
		};

		for (w = 0; w < rep.nb_workers; w++)
			env.worker_mask |= rep.worker_cpu_mask[w];
		status = perf_store_run(&ctx.args, &env) == 0 ? 0 : EXIT_RUNTIME;
	} else if (status == 0) {
		status = measure_all(&ctx, &rep, results);
		/* Also after a failure: what was measured until then. */
		rep.results = results;
		if (ctx.args.json)
			perf_report_json(&rep);
		else
			perf_report_table(&rep);
	}
	teardown(&ctx, results);
	return status;
}
