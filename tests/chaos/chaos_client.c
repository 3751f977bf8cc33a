/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The chaos suite's client process: a DPDK secondary process that attaches
 * to a tern-dataplane through the public API only, moves verified data, and
 * reports what it saw as JSON lines the driver (chaos.py) reads.
 *
 *   chaos_client [EAL args: --proc-type=secondary --file-prefix P] --
 *       --mode steady|flood|attach|peer [options]
 *
 * Every mode first attaches, allocates its buffers and moves one verified
 * write/read round trip, then prints {"event":"ready",...}: a fresh client
 * that reaches "ready" proves the dataplane still attaches clients and moves
 * data. Then:
 *   steady  write, read back, verify, forever (or --iterations): the other
 *           clients' throughput the driver watches across every kill
 *   flood   keep --inflight batches of --batch WRITEs of --bytes in flight,
 *           resubmitting as each resolves: with 64 B, batch 1, inflight 32 it
 *           lives inside tern_submit(); with large batches it always has
 *           batches in flight (a victim, killed at a random point)
 *   attach  detach and attach again in a loop, one verified round trip on
 *           each attachment (a victim)
 *   peer    --ranges ranges of --range-bytes on a (peer's) segment, each
 *           round a WRITE of a new generation to every range then a READ of
 *           every range into a fresh slot filled with a guard pattern, all
 *           with --deadline-ms; a failed READ's slot is quarantined and never
 *           reused. At the end (--duration-ms) a final generation is written,
 *           --settle-ms pass, then: a quarantined slot that changed since its
 *           future failed was written afterwards (late write; landing in
 *           part before the failure is allowed, doc/api.md); a range
 *           that does not read back as the final generation was overwritten
 *           by an older, failed WRITE (stale data). --paused waits for
 *           SIGUSR2 before the first round; SIGUSR1 stops the writes (the
 *           rounds then only read and verify, and {"event":"read-only"} is
 *           printed once): the driver sequences two writers with them.
 * Every future's submit-to-resolve time is measured; one that resolves later
 * than its deadline plus 1 s counts as "late_resolves".
 *
 * A reporter thread prints {"event":"tick",...counters} every --report-ms;
 * SIGTERM ends the loop, the client detaches and prints {"event":"exit",...}.
 * Exit status: 0 clean, 1 a check failed (data, late write, stale data, late
 * resolve, transfer error where none is allowed), 2 usage, 3 attach refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include <tern_cli.h>
#include <tern_engine.h>
#include <tern_segment.h>
#include <tern_peer.h>

#define GUARD_BYTE     0xa5
#define LATE_SLACK_NS  1000000000ull
#define RESOLVE_MS     10000
#define MAX_INFLIGHT   256
#define MAX_RANGES     64
#define MAX_READ_SLOTS 1024

enum mode { MODE_STEADY, MODE_FLOOD, MODE_ATTACH, MODE_PEER };
static const char *const mode_names[] = { "steady", "flood", "attach", "peer" };

struct options {
	enum mode mode;
	const char *engine;
	const char *segment;
	uint64_t offset;
	uint64_t bytes;
	uint64_t batch;
	uint64_t inflight;
	uint64_t iterations; /* 0: until SIGTERM or --duration-ms */
	uint64_t duration_ms;
	uint64_t deadline_ms;
	uint64_t report_ms;
	uint64_t ranges;
	uint64_t range_bytes;
	uint64_t read_slots;
	uint64_t settle_ms;
	bool allow_errors; /* transfer errors are expected (peer killed) */
	bool paused;	   /* peer: wait for SIGUSR2 before the first round */
	bool final_round;  /* peer: write a final generation and check it */
};

/* Written by the main thread, read by the reporter: relaxed atomics. */
struct counters {
	uint64_t batches; /* futures resolved */
	uint64_t errors;  /* futures resolved with an error */
	uint64_t bytes_verified;
	uint64_t mismatches;	/* round trips that read back other bytes */
	uint64_t late_resolves; /* resolved after deadline + 1 s */
	uint64_t attaches;
	uint64_t write_failed;
	uint64_t read_failed;
	uint64_t read_partial; /* failed READs that had landed in part */
	uint64_t late_writes;  /* quarantined slots touched after failure */
	uint64_t stale;	       /* ranges holding an older generation */
};

static struct counters cnt;
static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t go_requested;	  /* SIGUSR2: start the rounds */
static volatile sig_atomic_t read_only_requested; /* SIGUSR1: stop writing */
static uint64_t t0_ns;
static struct options opt = {
	.mode = MODE_STEADY,
	.engine = "tern",
	.segment = "kv",
	.bytes = 1 << 20,
	.batch = 1,
	.inflight = 1,
	.deadline_ms = 0,
	.report_ms = 1000,
	.ranges = 8,
	.range_bytes = 64 << 10,
	.read_slots = 128,
	.settle_ms = 1500,
	.final_round = true,
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static uint64_t
get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static void
report(const char *event)
{
	printf("{\"chaos_client\":\"%s\",\"event\":\"%s\",\"pid\":%d,\"t_ms\":%" PRIu64
	       ",\"batches\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"bytes_verified\":%" PRIu64
	       ",\"mismatches\":%" PRIu64 ",\"late_resolves\":%" PRIu64 ",\"attaches\":%" PRIu64
	       ",\"write_failed\":%" PRIu64 ",\"read_failed\":%" PRIu64 ",\"read_partial\":%" PRIu64
	       ",\"late_writes\":%" PRIu64 ",\"stale\":%" PRIu64 "}\n",
	       mode_names[opt.mode], event, (int)getpid(), (now_ns() - t0_ns) / 1000000,
	       get(&cnt.batches), get(&cnt.errors), get(&cnt.bytes_verified), get(&cnt.mismatches),
	       get(&cnt.late_resolves), get(&cnt.attaches), get(&cnt.write_failed),
	       get(&cnt.read_failed), get(&cnt.read_partial), get(&cnt.late_writes),
	       get(&cnt.stale));
	fflush(stdout);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
note(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "chaos_client[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *
reporter(void *arg)
{
	struct timespec ts = { .tv_sec = (time_t)(opt.report_ms / 1000),
			       .tv_nsec = (long)(opt.report_ms % 1000) * 1000000 };

	(void)arg;
	for (;;) {
		nanosleep(&ts, NULL);
		report("tick");
	}
	return NULL;
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		read_only_requested = 1;
	else if (sig == SIGUSR2)
		go_requested = 1;
	else
		stop_requested = 1;
}

static bool
should_stop(uint64_t it)
{
	if (stop_requested)
		return true;
	if (opt.iterations != 0 && it >= opt.iterations)
		return true;
	return opt.duration_ms != 0 && now_ns() - t0_ns >= opt.duration_ms * 1000000ull;
}

/* Deterministic bytes of generation @seed: 8 at a time. */
static void
fill(uint8_t *buf, uint64_t len, uint64_t seed)
{
	uint64_t i, x = 0;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0) {
			x = (i / 8 + 1) * 0x9e3779b97f4a7c15ull ^ seed;
			x ^= x >> 29;
		}
		buf[i] = (uint8_t)(x >> (8 * (i % 8)));
	}
}

/* 0 when @buf holds generation @seed; @scratch is as large. */
static bool
holds(const uint8_t *buf, uint8_t *scratch, uint64_t len, uint64_t seed)
{
	fill(scratch, len, seed);
	return memcmp(buf, scratch, len) == 0;
}

static struct tern_submit_opts *
submit_opts(struct tern_submit_opts *o, uint64_t deadline_ms)
{
	*o = (struct tern_submit_opts){ .deadline_ns = deadline_ms * 1000000ull };
	return o;
}

/* Submit, retrying EAGAIN for at most RESOLVE_MS. */
static struct tern_future *
submit(struct tern_client *c, const struct tern_request *r, uint32_t nb, uint64_t deadline_ms,
       uint64_t *t_submit)
{
	struct tern_submit_opts o;
	uint64_t give_up = now_ns() + RESOLVE_MS * 1000000ull;
	struct tern_future *f;

	while ((f = tern_submit(c, r, nb, submit_opts(&o, deadline_ms))) == NULL) {
		if (rte_errno != EAGAIN || now_ns() > give_up)
			return NULL;
		usleep(100);
	}
	*t_submit = now_ns();
	return f;
}

/* Wait and release; counts the future and a late resolve. */
static int
finish(struct tern_future *f, uint64_t t_submit, uint64_t deadline_ms)
{
	uint64_t limit = (deadline_ms != 0 ? deadline_ms : 5000) * 1000000ull + LATE_SLACK_NS;
	int ret = tern_future_wait(f, limit + LATE_SLACK_NS);

	if (ret == -EINPROGRESS) {
		/* Never resolved: count it, and leave it (releasing a pending
		 * future is allowed, it resolves on its own). */
		note("a future did not resolve within %" PRIu64 " ms",
		     (uint64_t)((limit + LATE_SLACK_NS) / 1000000));
		add(&cnt.late_resolves, 1);
		tern_future_release(f);
		add(&cnt.errors, 1);
		return -ETIMEDOUT;
	}
	if (now_ns() - t_submit > limit)
		add(&cnt.late_resolves, 1);
	tern_future_release(f);
	add(&cnt.batches, 1);
	if (ret != 0)
		add(&cnt.errors, 1);
	return ret;
}

static int
transfer(struct tern_client *c, uint8_t op, uint32_t seg, uint64_t off, uint8_t *local,
	 uint64_t len, uint64_t deadline_ms)
{
	struct tern_request r = {
		.op = op, .segment = seg, .offset = off, .local = local, .length = len
	};
	struct tern_future *f;
	uint64_t t;

	f = submit(c, &r, 1, deadline_ms, &t);
	if (f == NULL)
		return -rte_errno;
	return finish(f, t, deadline_ms);
}

/* Write generation @gen, read it back, verify. */
static int
round_trip(struct tern_client *c, uint32_t seg, uint8_t *src, uint8_t *dst, uint64_t gen)
{
	uint64_t seed = (uint64_t)getpid() << 32 ^ gen;
	int ret;

	fill(src, opt.bytes, seed);
	memset(dst, 0, opt.bytes);
	ret = transfer(c, TERN_OP_WRITE, seg, opt.offset, src, opt.bytes, opt.deadline_ms);
	if (ret == 0)
		ret = transfer(c, TERN_OP_READ, seg, opt.offset, dst, opt.bytes, opt.deadline_ms);
	if (ret != 0)
		return ret;
	if (memcmp(src, dst, opt.bytes) != 0) {
		add(&cnt.mismatches, 1);
		note("generation %" PRIu64 ": read back other bytes than written", gen);
		return -EILSEQ;
	}
	add(&cnt.bytes_verified, opt.bytes);
	return 0;
}

/* NAME: the dataplane's own segment; NODE/NAME: a peer's, resolved by it. */
static int
lookup_target(const char *name, uint32_t *handle)
{
	struct tern_segment_table *tbl = tern_segment_table_lookup(opt.engine);

	if (tbl == NULL)
		return -ENOENT;
	char node[TERN_PEER_NAME_MAX], seg[TERN_SEGMENT_NAME_MAX];

	if (strchr(name, '/') != NULL)
		return tern_peers_split_name(name, node, seg) != 0
			       ? -EINVAL
			       : tern_peers_ipc_resolve(node, seg, RESOLVE_MS, handle);
	return tern_segment_find(tbl, name, handle);
}

static struct tern_client *
attach(uint32_t max_inflight)
{
	struct tern_client *c = tern_client_attach(
		opt.engine, &(struct tern_client_conf){ .max_inflight = max_inflight,
							.flags = TERN_CLIENT_F_NO_CQ });

	if (c != NULL)
		add(&cnt.attaches, 1);
	return c;
}

static void *
buffer(struct tern_client *c, const char *what, uint64_t len, uint32_t *handle)
{
	static unsigned int n;
	char name[TERN_SEGMENT_NAME_MAX];

	snprintf(name, sizeof(name), "chaos%d_%s%u", (int)getpid(), what, n++);
	return tern_client_shm_alloc(c, name, len, handle);
}

static int
run_steady(struct tern_client *c, uint32_t seg, uint8_t *src, uint8_t *dst)
{
	uint64_t it;
	int ret, failures = 0;

	for (it = 1; !should_stop(it); it++) {
		ret = round_trip(c, seg, src, dst, it);
		if (ret != 0 && !opt.allow_errors) {
			note("round trip %" PRIu64 ": %s", it, strerror(-ret));
			failures++;
		}
	}
	return failures;
}

static int
run_flood(struct tern_client *c, uint32_t seg, uint8_t *src)
{
	struct tern_future *futs[MAX_INFLIGHT] = { NULL };
	struct tern_request reqs[TERN_BATCH_MAX];
	uint64_t t_sub[MAX_INFLIGHT], i, j, it = 0;
	struct tern_submit_opts o;
	int ret;

	while (!should_stop(it)) {
		for (i = 0; i < opt.inflight; i++) {
			if (futs[i] != NULL) {
				ret = tern_future_test(futs[i]);
				if (ret == -EINPROGRESS)
					continue;
				finish(futs[i], t_sub[i], opt.deadline_ms);
				futs[i] = NULL;
			}
			for (j = 0; j < opt.batch; j++) {
				uint64_t k = i * opt.batch + j;

				reqs[j] =
					(struct tern_request){ .op = TERN_OP_WRITE,
							       .segment = seg,
							       .offset = opt.offset + k * opt.bytes,
							       .local = src + k * opt.bytes,
							       .length = opt.bytes };
			}
			futs[i] = tern_submit(c, reqs, (uint32_t)opt.batch,
					      submit_opts(&o, opt.deadline_ms));
			t_sub[i] = now_ns();
			it++;
		}
	}
	for (i = 0; i < opt.inflight; i++)
		if (futs[i] != NULL)
			finish(futs[i], t_sub[i], opt.deadline_ms);
	return 0;
}

/* Detach and attach again in a loop; *@cp is the current attachment. */
static int
run_attach(struct tern_client **cp, uint32_t seg, uint32_t hsrc, uint32_t hdst)
{
	struct tern_client *c = *cp;
	uint64_t it;
	uint8_t *src, *dst;
	int ret;

	for (it = 1; !should_stop(it); it++) {
		if (tern_client_shm_free(c, hsrc) != 0 || tern_client_shm_free(c, hdst) != 0 ||
		    tern_client_destroy(c) != 0) {
			note("detach %" PRIu64 " failed", it);
			return 1;
		}
		c = attach(1);
		*cp = c;
		if (c == NULL) {
			note("attach %" PRIu64 " refused: %s", it, rte_strerror(rte_errno));
			return 1;
		}
		src = buffer(c, "s", opt.bytes, &hsrc);
		dst = buffer(c, "d", opt.bytes, &hdst);
		if (src == NULL || dst == NULL) {
			note("shm alloc: %s", rte_strerror(rte_errno));
			return 1;
		}
		ret = round_trip(c, seg, src, dst, it);
		if (ret != 0) {
			note("attachment %" PRIu64 ": %s", it, strerror(-ret));
			return 1;
		}
	}
	return 0;
}

/* ---- peer mode: guard patterns and generations ---- */

struct peer_state {
	struct tern_client *c;
	uint32_t seg;
	uint8_t *src;	     /* ranges * range_bytes */
	uint8_t *slots;	     /* read_slots * range_bytes */
	uint8_t *scratch;    /* range_bytes, private memory */
	bool *quarantined;   /* read slot failed: never reused, checked at the end */
	uint8_t *at_failure; /* read_slots * range_bytes, private: each quarantined
			      * slot as it was when its future failed */
	uint64_t next_slot;
	uint64_t gen[MAX_RANGES]; /* last generation written successfully */
	bool clean[MAX_RANGES];	  /* the last WRITE of the range succeeded */
	bool stale[MAX_RANGES];	  /* counted once per range */
};

/* Generation @gen of range @r, written by this process (two writers never
 * write the same bytes). */
static uint64_t
range_seed(uint64_t gen, uint64_t r)
{
	return gen << 16 ^ r ^ (uint64_t)getpid() << 40;
}

/* One WRITE per range, all in flight at once. @return failed writes. */
static uint64_t
peer_write(struct peer_state *ps, uint64_t gen, uint64_t deadline_ms)
{
	struct tern_future *f[MAX_RANGES];
	uint64_t t[MAX_RANGES], r, failed = 0, len = opt.range_bytes;
	int ret;

	for (r = 0; r < opt.ranges; r++) {
		struct tern_request req = { .op = TERN_OP_WRITE,
					    .segment = ps->seg,
					    .offset = opt.offset + r * len,
					    .local = ps->src + r * len,
					    .length = len };

		fill(ps->src + r * len, len, range_seed(gen, r));
		f[r] = submit(ps->c, &req, 1, deadline_ms, &t[r]);
	}
	for (r = 0; r < opt.ranges; r++) {
		ret = f[r] == NULL ? -rte_errno : finish(f[r], t[r], deadline_ms);
		if (ret == 0) {
			ps->gen[r] = gen;
			ps->clean[r] = true;
		} else {
			ps->clean[r] = false;
			failed++;
		}
	}
	add(&cnt.write_failed, failed);
	return failed;
}

/* One READ per range into fresh guard-filled slots; verifies clean ranges. */
static uint64_t
peer_read(struct peer_state *ps, uint64_t deadline_ms, bool final)
{
	struct tern_future *f[MAX_RANGES];
	uint64_t t[MAX_RANGES], slot[MAX_RANGES], r, i, failed = 0, len = opt.range_bytes;
	int ret;

	if (ps->next_slot + opt.ranges > opt.read_slots)
		ps->next_slot = 0; /* wrap; quarantined slots are skipped */
	for (r = 0; r < opt.ranges; r++) {
		struct tern_request req = { .op = TERN_OP_READ,
					    .segment = ps->seg,
					    .offset = opt.offset + r * len,
					    .length = len };

		while (ps->next_slot < opt.read_slots && ps->quarantined[ps->next_slot])
			ps->next_slot++;
		slot[r] = ps->next_slot++;
		if (slot[r] >= opt.read_slots) {
			f[r] = NULL; /* out of slots: no READ this round */
			continue;
		}
		req.local = ps->slots + slot[r] * len;
		memset(req.local, GUARD_BYTE, len);
		f[r] = submit(ps->c, &req, 1, deadline_ms, &t[r]);
		if (f[r] == NULL)
			slot[r] = opt.read_slots;
	}
	for (r = 0; r < opt.ranges; r++) {
		uint8_t *buf = ps->slots + slot[r] * len;

		if (slot[r] >= opt.read_slots)
			continue;
		ret = finish(f[r], t[r], deadline_ms);
		if (ret != 0) {
			/* It may have landed in part before it failed; from now
			 * on nothing may change it. */
			ps->quarantined[slot[r]] = true;
			memcpy(ps->at_failure + slot[r] * len, buf, len);
			for (i = 0; i < len && buf[i] == GUARD_BYTE; i++)
				;
			if (i != len)
				add(&cnt.read_partial, 1);
			failed++;
			continue;
		}
		if (!ps->clean[r])
			continue; /* a failed WRITE may have left it partly written */
		if (!holds(buf, ps->scratch, len, range_seed(ps->gen[r], r))) {
			if (!ps->stale[r]) {
				add(&cnt.stale, 1);
				note("%s read of range %" PRIu64
				     " does not hold generation %" PRIu64
				     ", its last successful WRITE (stale data)",
				     final ? "final" : "a", r, ps->gen[r]);
			}
			ps->stale[r] = true;
		} else {
			add(&cnt.bytes_verified, len);
		}
	}
	add(&cnt.read_failed, failed);
	return failed;
}

static int
run_peer(struct tern_client *c, uint32_t seg)
{
	struct peer_state ps = { .c = c, .seg = seg };
	uint32_t h1, h2;
	uint64_t gen, s, i, touched = 0;
	int failures = 0;

	if (opt.ranges > MAX_RANGES || opt.read_slots > MAX_READ_SLOTS ||
	    opt.read_slots < opt.ranges) {
		note("--ranges at most %d, --read-slots %d and at least --ranges", MAX_RANGES,
		     MAX_READ_SLOTS);
		return 1;
	}
	ps.src = buffer(c, "w", opt.ranges * opt.range_bytes, &h1);
	ps.slots = buffer(c, "r", opt.read_slots * opt.range_bytes, &h2);
	ps.scratch = malloc(opt.range_bytes);
	ps.quarantined = calloc(opt.read_slots, sizeof(bool));
	ps.at_failure = malloc(opt.read_slots * opt.range_bytes);
	if (ps.src == NULL || ps.slots == NULL || ps.scratch == NULL || ps.quarantined == NULL ||
	    ps.at_failure == NULL) {
		note("buffers: %s", rte_strerror(rte_errno));
		return 1;
	}
	while (opt.paused && !go_requested && !should_stop(0))
		usleep(10000);
	for (gen = 1; !should_stop(gen); gen++) {
		if (read_only_requested) {
			/* Only verify from now on: what changes a range now is
			 * not this client. */
			if (read_only_requested == 1) {
				read_only_requested = 2;
				report("read-only");
			}
			peer_read(&ps, opt.deadline_ms, false);
			usleep(20000);
			continue;
		}
		peer_write(&ps, gen, opt.deadline_ms);
		peer_read(&ps, opt.deadline_ms, false);
	}
	if (opt.final_round) {
		/* The peer is back: this generation must land everywhere. */
		if (peer_write(&ps, gen, RESOLVE_MS) != 0) {
			note("final WRITE round failed: the peer did not recover");
			failures++;
		}
	}
	usleep((useconds_t)opt.settle_ms * 1000);
	for (s = 0; s < opt.read_slots; s++) {
		if (!ps.quarantined[s])
			continue;
		const uint8_t *now = ps.slots + s * opt.range_bytes;
		const uint8_t *then = ps.at_failure + s * opt.range_bytes;

		if (memcmp(now, then, opt.range_bytes) != 0) {
			add(&cnt.late_writes, 1);
			for (i = 0; i < opt.range_bytes; i++)
				touched += now[i] != then[i];
		}
	}
	if (get(&cnt.late_writes) != 0)
		note("%" PRIu64 " READ buffers of failed futures were written afterwards (%" PRIu64
		     " bytes changed): late writes",
		     get(&cnt.late_writes), touched);
	if (opt.final_round && peer_read(&ps, RESOLVE_MS, true) != 0) {
		note("final READ round failed");
		failures++;
	}
	free(ps.scratch);
	free(ps.quarantined);
	free(ps.at_failure);
	return failures;
}

static int
parse_args(int argc, char **argv)
{
	static const struct {
		const char *name;
		uint64_t *val;
		uint64_t min, max;
		bool size;
	} nums[] = {
		{ "--offset", &opt.offset, 0, UINT64_MAX, true },
		{ "--bytes", &opt.bytes, 1, 1ull << 30, true },
		{ "--batch", &opt.batch, 1, 64, false },
		{ "--inflight", &opt.inflight, 1, MAX_INFLIGHT, false },
		{ "--iterations", &opt.iterations, 1, UINT64_MAX, false },
		{ "--duration-ms", &opt.duration_ms, 1, 3600000, false },
		{ "--deadline-ms", &opt.deadline_ms, 1, 3600000, false },
		{ "--report-ms", &opt.report_ms, 10, 60000, false },
		{ "--ranges", &opt.ranges, 1, MAX_RANGES, false },
		{ "--range-bytes", &opt.range_bytes, 1, 1ull << 30, true },
		{ "--read-slots", &opt.read_slots, 1, MAX_READ_SLOTS, false },
		{ "--settle-ms", &opt.settle_ms, 0, 600000, false },
	};
	unsigned int k, m;
	int a;

	for (a = 0; a < argc; a++) {
		const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(o, "--allow-errors") == 0) {
			opt.allow_errors = true;
			continue;
		}
		if (strcmp(o, "--no-final") == 0) {
			opt.final_round = false;
			continue;
		}
		if (strcmp(o, "--paused") == 0) {
			opt.paused = true;
			continue;
		}
		if (v == NULL)
			goto bad;
		a++;
		if (strcmp(o, "--mode") == 0) {
			for (m = 0; m < RTE_DIM(mode_names); m++)
				if (strcmp(v, mode_names[m]) == 0)
					break;
			if (m == RTE_DIM(mode_names))
				goto bad;
			opt.mode = (enum mode)m;
			continue;
		}
		if (strcmp(o, "--engine") == 0) {
			opt.engine = v;
			continue;
		}
		if (strcmp(o, "--segment") == 0) {
			opt.segment = v;
			continue;
		}
		for (k = 0; k < RTE_DIM(nums); k++)
			if (strcmp(o, nums[k].name) == 0)
				break;
		if (k == RTE_DIM(nums))
			goto bad;
		if ((nums[k].size
			     ? tern_cli_parse_size(v, nums[k].max, nums[k].val)
			     : tern_cli_parse_u64(v, nums[k].min, nums[k].max, nums[k].val)) != 0 ||
		    *nums[k].val < nums[k].min)
			goto bad;
		continue;
	bad:
		note("bad option %s %s", o, v != NULL ? v : "");
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct tern_client *c;
	uint32_t seg, hsrc, hdst;
	uint8_t *src, *dst;
	pthread_t thr;
	struct sigaction sa;
	uint64_t buf_len;
	int ret, failures;

	t0_ns = now_ns();
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		note("EAL: %s", rte_strerror(rte_errno));
		return 2;
	}
	if (parse_args(argc - ret - 1, argv + ret + 1) != 0)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);

	c = attach(opt.mode == MODE_FLOOD ? (uint32_t)opt.inflight : 2 * MAX_RANGES);
	if (c == NULL) {
		note("attach to %s refused: %s", opt.engine, rte_strerror(rte_errno));
		return 3;
	}
	ret = lookup_target(opt.segment, &seg);
	if (ret != 0) {
		note("no segment %s: %s", opt.segment, strerror(-ret));
		return 1;
	}
	buf_len = opt.mode == MODE_FLOOD ? opt.bytes * opt.batch * opt.inflight : opt.bytes;
	if (buf_len < opt.bytes)
		buf_len = opt.bytes;
	src = buffer(c, "s", buf_len, &hsrc);
	dst = buffer(c, "d", opt.bytes, &hdst);
	if (src == NULL || dst == NULL) {
		note("shm alloc: %s", rte_strerror(rte_errno));
		return 1;
	}
	/* The fresh-client check: attached, and one verified round trip. */
	ret = round_trip(c, seg, src, dst, 0);
	if (ret != 0) {
		note("first round trip: %s", strerror(-ret));
		report("exit");
		return 1;
	}
	report("ready");
	if (pthread_create(&thr, NULL, reporter, NULL) != 0)
		return 1;

	switch (opt.mode) {
	case MODE_STEADY:
		failures = run_steady(c, seg, src, dst);
		break;
	case MODE_FLOOD:
		failures = run_flood(c, seg, src);
		break;
	case MODE_ATTACH:
		failures = run_attach(&c, seg, hsrc, hdst);
		break;
	default:
		failures = run_peer(c, seg);
		break;
	}
	if (c != NULL && tern_client_destroy(c) != 0) {
		note("detach failed");
		failures++;
	}
	if (get(&cnt.mismatches) != 0 || get(&cnt.late_resolves) != 0 ||
	    get(&cnt.late_writes) != 0 || get(&cnt.stale) != 0)
		failures++;
	report("exit");
	/* No rte_eal_cleanup() in a secondary: see apps/perf/main.c. */
	return failures != 0 ? 1 : 0;
}
