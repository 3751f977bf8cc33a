/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client process of a running tern-dataplane (DPDK secondary) that runs
 * the store with the dataplane's segment "kv" as its capacity.
 *
 *   store_client EAL-ARGS -- basic
 *       put/get/exists/remove/list, every byte verified; then the whole kv
 *       segment filled 4 times over with 1 MiB objects: no put fails, the
 *       oldest are evicted, the counters add up.
 *   store_client EAL-ARGS -- hang KEY METADATA
 *       reserve and WRITE KEY (32 MiB) but never commit: prints "reserved",
 *       then sleeps until killed (the putter that dies mid-put).
 *   store_client EAL-ARGS -- absent KEY METADATA
 *       KEY is not visible in the metadata; a new put of it succeeds.
 *   store_client EAL-ARGS -- shared NAME METADATA
 *       a store named NAME over the dataplane's segment "st", which the
 *       dataplane owns (--store-capacity st): put 8 x 1 MiB, wait 1 s (the
 *       other client puts too), read them all back, remove them.
 *   store_client EAL-ARGS -- fallback PEER1,PEER2 GOFILE
 *       three nodes: PEER1's segment kv (a peer dataplane's, node 0), PEER2's
 *       kv and this dataplane's kv; 8 objects with replicas = 2 and one
 *       ("solo") with one replica, on PEER1; prints "stored", waits (at most
 *       60 s) for GOFILE (PEER1 is killed meanwhile), then gets all: the 8
 *       with no error (fallen back to their other replica), "solo" with an
 *       error.
 *   store_client EAL-ARGS -- remote PORTB,PORTC,REDISPORT GOFILE
 *       three nodes: peer b's segment st and peer c's st, each owned by
 *       that peer dataplane (--store-capacity st) and asked over its p2p
 *       channel (127.0.0.1:PORTB, PORTC), and this dataplane's kv; records
 *       in Redis. 8 objects with replicas = 2 (node 0, b, first); a second
 *       store ("reader", nodes b:st and c:st) reads them all (objects
 *       another store placed: under read references at the owners); prints
 *       "stored", waits for GOFILE (the script reads b's and c's
 *       /tern/store_owner), gets all, removes half: the reader gets
 *       -ENOENT for those and the others still; removes all, destroys.
 *   store_client EAL-ARGS -- rread PORTB,REDISPORT present|absent
 *       a client of another dataplane (c): a store over b's owned st reads
 *       the remote mode's 8 objects (every byte checked), or finds none.
 *   store_client EAL-ARGS -- racew PORTB,REDISPORT SECONDS
 *       the placer of the race: a store ("racer") over peer b's owned st
 *       (asked over b's p2p channel at 127.0.0.1:PORTB), records in Redis;
 *       puts r/0..r/3 (2 MiB each), prints "ready", then for SECONDS
 *       removes and puts again r/i (a new generation) and puts filler
 *       objects until b's capacity is full, so that the store evicts its
 *       least recently used objects: freed extents are reused at once.
 *       Prints its counters; removes everything.
 *   store_client EAL-ARGS -- racer PORTB,REDISPORT SECONDS
 *       the reader of the race (a client of another dataplane): a store
 *       over b's st gets r/0..r/3 in a loop for SECONDS, under read
 *       references at b; every object it gets must be one whole generation
 *       of that key (header and every byte), else it fails; -ENOENT
 *       (removed or evicted meanwhile) is counted.
 *   store_client EAL-ARGS -- keys N GOFILE
 *       a store ("lister") over the owned segment st puts N objects
 *       "k/NNN" (size 1000 + i) and serves its keys to the dataplane
 *       (tern_store_telemetry_keys_register()); prints "listing pid PID", waits
 *       for GOFILE (the script lists them through the dataplane's
 *       /tern/client_store_keys), then destroys the store.
 *   store_client EAL-ARGS -- ownhang KEY METADATA
 *       as hang, on the owned segment "st", with a 5 s lease.
 *   store_client EAL-ARGS -- ownarena KEY METADATA
 *       on the owned segment "st" (placed in an arena of the dataplane's),
 *       5 s lease: puts KEY/0..3 (1 MiB each, committed), then WRITEs
 *       KEY/4 and KEY/5 without committing them, prints "reserved" and
 *       sleeps until killed.
 *
 * Exit status: 0 passed, 1 failed (a line on stderr says why), 2 usage,
 * 3 attach refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include <tern_engine.h>
#include <tern_segment.h>
#include <tern_peer.h>
#include <tern_store.h>

#define MiB	(1ull << 20)
#define BUF_LEN (48 * MiB)

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "store_client: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

static uint8_t *buf;

static void
fill(uint8_t *p, uint64_t n, uint64_t seed)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 2654435761u) >> 7 ^ seed * 131 ^ i >> 12);
}

static int
same(const uint8_t *p, uint64_t n, uint64_t seed)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (uint8_t)((i * 2654435761u) >> 7 ^ seed * 131 ^ i >> 12))
			return 0;
	return 1;
}

static int
put1(struct tern_store *s, const char *key, void *b, uint64_t size)
{
	struct tern_store_future *f = tern_store_put(s, &key, &b, &size, 1, NULL);
	int ret;

	CHECK(f != NULL);
	ret = tern_store_future_wait(f, UINT64_MAX);
	tern_store_future_release(f);
	return ret;
}

static int
get1(struct tern_store *s, const char *key, void *b, uint64_t room, uint64_t *size)
{
	struct tern_store_future *f = tern_store_get(s, &key, &b, &room, 1);
	int ret;

	CHECK(f != NULL);
	ret = tern_store_future_wait(f, UINT64_MAX);
	CHECK(tern_store_future_result(f, 0, size) == ret);
	tern_store_future_release(f);
	return ret;
}

static int
count_cb(void *arg, const char *key, uint64_t size, unsigned int nb_replicas)
{
	(void)key;
	(void)size;
	(void)nb_replicas;
	++*(unsigned int *)arg;
	return 0;
}

static void
run_basic(struct tern_store *s)
{
	struct tern_store_stats st;
	uint64_t size;
	unsigned int i, n = 0;
	char key[32];
	int r;

	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "b/%02u", i);
		size = 1 + (uint64_t)i * 7919;
		fill(buf + i * 512 * 1024, size, i);
		CHECK(put1(s, key, buf + i * 512 * 1024, size) == 0);
	}
	CHECK(put1(s, "b/00", buf, 10) == -EEXIST);
	CHECK(put1(s, "zero", NULL, 0) == 0);
	memset(buf + 40 * MiB, 0, 8 * MiB);
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "b/%02u", i);
		CHECK(get1(s, key, buf + 40 * MiB, 1 * MiB, &size) == 0);
		CHECK(size == 1 + (uint64_t)i * 7919);
		CHECK(same(buf + 40 * MiB, size, i));
	}
	CHECK(get1(s, "b/63", buf + 40 * MiB, 100, &size) == -ENOSPC && size == 1 + 63 * 7919);
	CHECK(get1(s, "zero", NULL, 0, &size) == 0 && size == 0);
	CHECK(tern_store_list(s, "b/", count_cb, &n) == 64 && n == 64);
	{
		const char *k[2] = { "b/00", "nope" };
		int res[2];

		CHECK(tern_store_remove(s, k, 2, res) == 1 && res[1] == -ENOENT);
		CHECK(tern_store_exists(s, k, 2, res) == 0);
	}
	/* The kv segment (64 MiB) filled 4 times over: no put fails. */
	for (i = 0; i < 256; i++) {
		snprintf(key, sizeof(key), "ev/%03u", i);
		fill(buf, 1 * MiB, 1000 + i);
		r = put1(s, key, buf, 1 * MiB);
		if (r != 0) {
			fprintf(stderr, "store_client: put %s: %s\n", key, strerror(-r));
			exit(1);
		}
	}
	CHECK(tern_store_stats(s, &st) == 0);
	printf("objects %" PRIu64 " evictions %" PRIu64 " used %" PRIu64 " capacity %" PRIu64 "\n",
	       st.objects, st.evictions, st.used, st.capacity);
	CHECK(st.put_errors == 1); /* the EEXIST above */
	CHECK(st.puts == 64 + 1 + 256);
	CHECK(st.objects + st.evictions + st.removes == st.puts);
	CHECK(st.used <= st.capacity * 90 / 100);
	CHECK(get1(s, "ev/255", buf + 40 * MiB, 1 * MiB, &size) == 0 &&
	      same(buf + 40 * MiB, size, 1255));
	CHECK(get1(s, "ev/000", buf + 40 * MiB, 1 * MiB, &size) == -ENOENT);
}

/* With STORE_CLIENT_BARRIER=DIR: mark step @step of @name done in DIR and
 * wait (30 s at most) until both clients have (the two-client race starts
 * and ends together, whatever the scheduler did to either until then). */
static void
barrier(const char *name, const char *step)
{
	const char *dir = getenv("STORE_CLIENT_BARRIER");
	char path[512];
	FILE *fp;
	int i, n;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.%s", dir, step, name);
	fp = fopen(path, "w");
	CHECK(fp != NULL);
	fclose(fp);
	for (i = 0; i < 3000; i++) {
		n = 0;
		snprintf(path, sizeof(path), "%s/%s.A", dir, step);
		n += access(path, F_OK) == 0;
		snprintf(path, sizeof(path), "%s/%s.B", dir, step);
		n += access(path, F_OK) == 0;
		if (n == 2)
			return;
		usleep(10000);
	}
	CHECK(!"the other client never reached the barrier");
}

static void
run_shared(struct tern_store *s, const char *name)
{
	struct tern_store_stats st;
	uint64_t size, seed = (uint64_t)name[0] * 1000;
	unsigned int i;
	char key[64];

	char names[8][64];
	const char *keys[8];
	void *bufs[8];
	uint64_t sizes[8];
	struct tern_store_future *f;

	/* One batch: its extents reserved, then committed, in one message each. */
	for (i = 0; i < 8; i++) {
		snprintf(names[i], sizeof(names[i]), "%s/%u", name, i);
		keys[i] = names[i];
		bufs[i] = buf + i * MiB;
		sizes[i] = 1 * MiB;
		fill(buf + i * MiB, 1 * MiB, seed + i);
	}
	f = tern_store_put(s, keys, bufs, sizes, 8, NULL);
	CHECK(f != NULL);
	CHECK(tern_store_future_wait(f, UINT64_MAX) == 0);
	tern_store_future_release(f);
	sleep(1);
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "%s/%u", name, i);
		memset(buf + 16 * MiB, 0, 1 * MiB);
		CHECK(get1(s, key, buf + 16 * MiB, 1 * MiB, &size) == 0);
		CHECK(size == 1 * MiB && same(buf + 16 * MiB, size, seed + i));
	}
	CHECK(tern_store_stats(s, &st) == 0 && st.used == 8 * MiB);
	for (i = 0; i < 8; i++) {
		const char *k = key;
		int r;

		snprintf(key, sizeof(key), "%s/%u", name, i);
		CHECK(tern_store_remove(s, &k, 1, &r) == 1);
	}
	CHECK(tern_store_stats(s, &st) == 0 && st.used == 0);
	/* Both clients put one key at about the same time: the metadata's
	 * atomic create lets exactly one commit (the script counts). */
	{
		int r;

		barrier(name, "race");
		r = put1(s, "race", buf, 1 * MiB);
		CHECK(r == 0 || r == -EEXIST);
		printf("race: %s\n", r == 0 ? "won" : "lost");
		if (r == 0) {
			sleep(1); /* the other one is refused while it exists */
			CHECK(get1(s, "race", buf + 16 * MiB, 1 * MiB, &size) == 0);
		}
		barrier(name, "raced"); /* the winner's record stays until both tried */
	}
}

static int
run_fallback(struct tern_client *c, struct tern_segment_table *tbl, const char *peers,
	     const char *gofile)
{
	struct tern_store_node_conf nodes[3] = { 0 };
	char peer[2][32];
	const char *comma = strchr(peers, ',');
	struct tern_segment_info info;
	struct tern_store_stats st;
	struct tern_store *s;
	uint64_t size = 512 * 1024, got;
	unsigned int i;
	char key[32];
	int r;

	CHECK(comma != NULL && comma - peers < 32 && strlen(comma + 1) < 32);
	snprintf(peer[0], sizeof(peer[0]), "%.*s", (int)(comma - peers), peers);
	snprintf(peer[1], sizeof(peer[1]), "%s", comma + 1);
	for (i = 0; i < 2; i++)
		CHECK(tern_peers_ipc_resolve(peer[i], "kv", 10000, &nodes[i].segment) == 0);
	CHECK(tern_segment_find(tbl, "kv", &nodes[2].segment) == 0);
	for (i = 0; i < 3; i++) {
		CHECK(tern_segment_info(tbl, nodes[i].segment, &info) == 0);
		nodes[i].length = info.length;
	}
	s = tern_store_create(&(struct tern_store_conf){
		.name = "fallback",
		.client = c,
		.segments = tbl,
		.nodes = nodes,
		.nb_nodes = 3,
		.replicas = 2,
		.max_inflight = 16,
		.deadline_ns = 2000000000ull,
	});
	CHECK(s != NULL);
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "r/%u", i);
		fill(buf + i * size, size, 50 + i);
		CHECK(put1(s, key, buf + i * size, size) == 0);
	}
	{
		struct tern_store_put_opts o = { .replicas = 1 };
		const char *k = "solo";
		void *b = buf;
		struct tern_store_future *f = tern_store_put(s, &k, &b, &size, 1, &o);

		CHECK(f != NULL && tern_store_future_wait(f, UINT64_MAX) == 0);
		tern_store_future_release(f);
	}
	printf("stored\n");
	fflush(stdout);
	for (i = 0; i < 600 && access(gofile, F_OK) != 0; i++)
		usleep(100000);
	CHECK(access(gofile, F_OK) == 0);
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "r/%u", i);
		memset(buf + 16 * MiB, 0, size);
		r = get1(s, key, buf + 16 * MiB, size, &got);
		if (r != 0) {
			fprintf(stderr, "store_client: get %s: %s\n", key, strerror(-r));
			return 1;
		}
		CHECK(same(buf + 16 * MiB, size, 50 + i));
	}
	r = get1(s, "solo", buf + 16 * MiB, size, &got);
	printf("solo: %s\n", strerror(-r));
	CHECK(r < 0);
	CHECK(tern_store_stats(s, &st) == 0);
	printf("fallbacks %" PRIu64 " get_errors %" PRIu64 "\n", st.fallbacks, st.get_errors);
	CHECK(st.fallbacks == 8 && st.get_errors == 1);
	CHECK(tern_store_destroy(s) == 0);
	printf("store_client: fallback ok\n");
	return 0;
}

/* A store of another node (a client of dataplane c) reads what the remote
 * mode's store placed on b's owned st: all 8 objects (expect "present"),
 * or none (expect "absent": removed meanwhile, -ENOENT). */
static int
run_remote_reader(struct tern_client *c, struct tern_segment_table *tbl, const char *ports,
		  const char *expect)
{
	struct tern_store_node_conf node = { 0 };
	struct tern_segment_info info;
	struct tern_store *s;
	unsigned int port[2], i;
	uint64_t size = 512 * 1024, got;
	char uri[64], meta[64], key[32];
	int r;

	CHECK(sscanf(ports, "%u,%u", &port[0], &port[1]) == 2);
	CHECK(strcmp(expect, "present") == 0 || strcmp(expect, "absent") == 0);
	snprintf(uri, sizeof(uri), "p2p://127.0.0.1:%u", port[0]);
	snprintf(meta, sizeof(meta), "redis://127.0.0.1:%u/ro", port[1]);
	CHECK(tern_peers_ipc_resolve("b", "st", 10000, &node.segment) == 0);
	CHECK(tern_segment_info(tbl, node.segment, &info) == 0);
	node.length = info.length;
	node.flags = TERN_STORE_NODE_F_OWNED;
	node.owner = uri;
	node.owner_node = "b";
	node.owner_segment = "st";
	s = tern_store_create(&(struct tern_store_conf){
		.name = "creader",
		.client = c,
		.segments = tbl,
		.nodes = &node,
		.nb_nodes = 1,
		.max_inflight = 8,
		.deadline_ns = 2000000000ull,
		.metadata = meta,
	});
	CHECK(s != NULL);
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "o/%u", i);
		memset(buf, 0, size);
		r = get1(s, key, buf, size, &got);
		if (expect[0] == 'p') {
			if (r != 0)
				fprintf(stderr, "store_client: get %s: %s\n", key, strerror(-r));
			CHECK(r == 0 && got == size && same(buf, size, 70 + i));
		} else {
			CHECK(r == -ENOENT);
		}
	}
	CHECK(tern_store_destroy(s) == 0);
	printf("store_client: rread %s ok\n", expect);
	return 0;
}

static int
run_remote(struct tern_client *c, struct tern_segment_table *tbl, const char *ports,
	   const char *gofile)
{
	struct tern_store_node_conf nodes[3] = { 0 };
	static const char *const peer[2] = { "b", "c" };
	char uri[2][64], meta[64];
	unsigned int port[3], i;
	struct tern_segment_info info;
	struct tern_store_stats st;
	struct tern_store *s, *rd;
	uint64_t size = 512 * 1024, got;
	char key[32];
	int r[8];

	CHECK(sscanf(ports, "%u,%u,%u", &port[0], &port[1], &port[2]) == 3);
	snprintf(meta, sizeof(meta), "redis://127.0.0.1:%u/ro", port[2]);
	for (i = 0; i < 2; i++) {
		CHECK(tern_peers_ipc_resolve(peer[i], "st", 10000, &nodes[i].segment) == 0);
		snprintf(uri[i], sizeof(uri[i]), "p2p://127.0.0.1:%u", port[i]);
		nodes[i].flags = TERN_STORE_NODE_F_OWNED;
		nodes[i].owner = uri[i];
		nodes[i].owner_node = peer[i];
		nodes[i].owner_segment = "st";
	}
	/* The reader names the same owned nodes: b's and c's st. */
	CHECK(tern_segment_find(tbl, "kv", &nodes[2].segment) == 0);
	for (i = 0; i < 3; i++) {
		CHECK(tern_segment_info(tbl, nodes[i].segment, &info) == 0);
		nodes[i].length = info.length;
	}
	s = tern_store_create(&(struct tern_store_conf){
		.name = "remote",
		.client = c,
		.segments = tbl,
		.nodes = nodes,
		.nb_nodes = 3,
		.replicas = 2,
		.max_inflight = 8,
		.deadline_ns = 2000000000ull,
		.metadata = meta,
	});
	rd = tern_store_create(&(struct tern_store_conf){
		.name = "reader",
		.client = c,
		.segments = tbl,
		.nodes = nodes,
		.nb_nodes = 2,
		.max_inflight = 8,
		.deadline_ns = 2000000000ull,
		.metadata = meta,
	});
	if (s == NULL || rd == NULL) {
		fprintf(stderr, "store_client: store: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "o/%u", i);
		fill(buf + i * size, size, 70 + i);
		CHECK(put1(s, key, buf + i * size, size) == 0);
	}
	CHECK(tern_store_stats(s, &st) == 0);
	CHECK(st.objects == 8 && st.reserved == 0);
	/* Objects another store placed, read under the owners' references. */
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "o/%u", i);
		memset(buf + 16 * MiB, 0, size);
		got = 0;
		r[0] = get1(rd, key, buf + 16 * MiB, size, &got);
		if (r[0] != 0)
			fprintf(stderr, "store_client: reader get %s: %s\n", key, strerror(-r[0]));
		CHECK(r[0] == 0 && got == size);
		CHECK(same(buf + 16 * MiB, size, 70 + i));
	}
	CHECK(get1(rd, "o/0", buf + 16 * MiB, size - 1, &got) == -ENOSPC && got == size);
	CHECK(tern_store_stats(rd, &st) == 0);
	CHECK(st.gets == 8 && st.objects == 0 && st.used == 0);
	printf("reader ok\n");
	printf("stored\n");
	fflush(stdout);
	for (i = 0; i < 600 && access(gofile, F_OK) != 0; i++)
		usleep(100000);
	CHECK(access(gofile, F_OK) == 0);
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "o/%u", i);
		memset(buf + 16 * MiB, 0, size);
		CHECK(get1(s, key, buf + 16 * MiB, size, &got) == 0 && got == size);
		CHECK(same(buf + 16 * MiB, size, 70 + i));
	}
	{
		const char *keys[8];
		char names[8][32];

		for (i = 0; i < 8; i++) {
			snprintf(names[i], sizeof(names[i]), "o/%u", i);
			keys[i] = names[i];
		}
		CHECK(tern_store_remove(s, keys, 4, r) == 4);
		for (i = 0; i < 8; i++) {
			memset(buf + 16 * MiB, 0, size);
			r[0] = get1(rd, names[i], buf + 16 * MiB, size, &got);
			CHECK(i < 4 ? r[0] == -ENOENT
				    : r[0] == 0 && same(buf + 16 * MiB, size, 70 + i));
		}
		CHECK(tern_store_remove(s, keys + 4, 4, r) == 4);
		CHECK(get1(rd, names[7], buf + 16 * MiB, size, &got) == -ENOENT);
	}
	CHECK(tern_store_destroy(rd) == 0);
	CHECK(tern_store_stats(s, &st) == 0);
	CHECK(st.objects == 0 && st.used == 0);
	CHECK(tern_store_destroy(s) == 0);
	printf("store_client: remote ok\n");
	return 0;
}

/* ---- remove and eviction racing remote reads ---- */

#define RACE_SIZE (2 * MiB)
#define RACE_KEYS 4

/* An object of the race: a 16-byte header (kind 'R' or 'F', key, generation),
 * then bytes that depend on all three. */
static void
race_fill(uint8_t *p, char kind, uint32_t key, uint64_t gen)
{
	memset(p, 0, 16);
	p[0] = (uint8_t)kind;
	memcpy(p + 4, &key, sizeof(key));
	memcpy(p + 8, &gen, sizeof(gen));
	fill(p + 16, RACE_SIZE - 16, (uint64_t)key * 1000003u + gen * 7 + (uint64_t)kind);
}

static int
race_same(const uint8_t *p, uint32_t key)
{
	uint32_t k;
	uint64_t gen;

	memcpy(&k, p + 4, sizeof(k));
	memcpy(&gen, p + 8, sizeof(gen));
	return p[0] == 'R' && k == key &&
	       same(p + 16, RACE_SIZE - 16, (uint64_t)key * 1000003u + gen * 7 + 'R');
}

static struct tern_store *
race_store(struct tern_client *c, struct tern_segment_table *tbl, const char *name,
	   const char *ports, struct tern_store_node_conf *node, char *uri, char *meta)
{
	struct tern_segment_info info;
	unsigned int port[2];
	struct tern_store *s;

	CHECK(sscanf(ports, "%u,%u", &port[0], &port[1]) == 2);
	snprintf(uri, 64, "p2p://127.0.0.1:%u", port[0]);
	snprintf(meta, 64, "redis://127.0.0.1:%u/race", port[1]);
	CHECK(tern_peers_ipc_resolve("b", "st", 10000, &node->segment) == 0);
	CHECK(tern_segment_info(tbl, node->segment, &info) == 0);
	node->length = info.length;
	node->flags = TERN_STORE_NODE_F_OWNED;
	node->owner = uri;
	node->owner_node = "b";
	node->owner_segment = "st";
	s = tern_store_create(&(struct tern_store_conf){
		.name = name,
		.client = c,
		.segments = tbl,
		.nodes = node,
		.nb_nodes = 1,
		.max_inflight = 8,
		.deadline_ns = 2000000000ull,
		.metadata = meta,
	});
	if (s == NULL)
		fprintf(stderr, "store_client: store: %s\n", rte_strerror(rte_errno));
	CHECK(s != NULL);
	return s;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
run_race_placer(struct tern_client *c, struct tern_segment_table *tbl, const char *ports,
		const char *seconds)
{
	struct tern_store_node_conf node = { 0 };
	char uri[64], meta[64], key[32];
	struct tern_store_stats st;
	struct tern_store *s;
	uint64_t gen = 1, fillers = 0, removes = 0;
	double end, t = atof(seconds);
	uint32_t i;
	int r;

	CHECK(t > 0 && t <= 60);
	s = race_store(c, tbl, "racer", ports, &node, uri, meta);
	for (i = 0; i < RACE_KEYS; i++) {
		snprintf(key, sizeof(key), "r/%u", i);
		race_fill(buf, 'R', i, gen);
		CHECK(put1(s, key, buf, RACE_SIZE) == 0);
	}
	printf("ready\n");
	fflush(stdout);
	end = now_s() + t;
	while (now_s() < end) {
		const char *k = key;

		i = (uint32_t)(gen % RACE_KEYS);
		gen++;
		snprintf(key, sizeof(key), "r/%u", i);
		r = 0;
		CHECK(tern_store_remove(s, &k, 1, &r) >= 0);
		CHECK(r == 0 || r == -ENOENT); /* -ENOENT: evicted before */
		removes += r == 0;
		/* A filler first: it takes the extent just freed when no reader
		 * holds it (the allocator gives back the lowest fit). */
		snprintf(key, sizeof(key), "f/%" PRIu64, fillers++);
		race_fill(buf, 'F', 0, gen);
		CHECK(put1(s, key, buf, RACE_SIZE) == 0);
		snprintf(key, sizeof(key), "r/%u", i);
		race_fill(buf, 'R', i, gen);
		CHECK(put1(s, key, buf, RACE_SIZE) == 0);
	}
	CHECK(tern_store_stats(s, &st) == 0);
	printf("store_client: racew generations %" PRIu64 " removes %" PRIu64 " fillers %" PRIu64
	       " evictions %" PRIu64 " objects %" PRIu64 "\n",
	       gen, removes, fillers, st.evictions, st.objects);
	CHECK(st.evictions > 0 && st.put_errors == 0);
	CHECK(tern_store_destroy(s) == 0); /* withdraws and frees everything */
	printf("store_client: racew ok\n");
	return 0;
}

static int
run_race_reader(struct tern_client *c, struct tern_segment_table *tbl, const char *ports,
		const char *seconds)
{
	struct tern_store_node_conf node = { 0 };
	char uri[64], meta[64], key[32];
	uint64_t ok = 0, gone = 0, got = 0, n = 0;
	struct tern_store *s;
	double end, t = atof(seconds);
	int r;

	CHECK(t > 0 && t <= 60);
	s = race_store(c, tbl, "rracer", ports, &node, uri, meta);
	end = now_s() + t;
	while (now_s() < end) {
		uint32_t i = (uint32_t)(n++ % RACE_KEYS);

		snprintf(key, sizeof(key), "r/%u", i);
		memset(buf, 0xee, 64);
		r = get1(s, key, buf, RACE_SIZE, &got);
		if (r == -ENOENT) {
			gone++;
			continue;
		}
		if (r != 0)
			fprintf(stderr, "store_client: racer get %s: %s\n", key, strerror(-r));
		CHECK(r == 0 && got == RACE_SIZE);
		if (!race_same(buf, i)) {
			fprintf(stderr,
				"store_client: racer %s: not one whole generation (kind %c)\n", key,
				buf[0]);
			exit(1);
		}
		ok++;
	}
	printf("store_client: racer gets %" PRIu64 " verified, %" PRIu64 " -ENOENT\n", ok, gone);
	CHECK(ok > 0);
	CHECK(tern_store_destroy(s) == 0);
	printf("store_client: racer ok\n");
	return 0;
}

static int
run_keys(struct tern_client *c, struct tern_segment_table *tbl, struct tern_store_node_conf *node,
	 const char *count, const char *gofile)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	unsigned int n = (unsigned int)atoi(count), i;
	struct tern_store *s;
	char key[32];

	CHECK(n >= 1 && n <= 1000);
	s = tern_store_create(&(struct tern_store_conf){
		.name = "lister",
		.client = c,
		.segments = tbl,
		.nodes = node,
		.nb_nodes = 1,
		.max_inflight = 8,
	});
	CHECK(s != NULL);
	pthread_mutex_lock(&lock);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k/%03u", i);
		fill(buf, 1000 + i, i);
		CHECK(put1(s, key, buf, 1000 + i) == 0);
	}
	CHECK(tern_store_telemetry_keys_register(s, &lock) == 0);
	pthread_mutex_unlock(&lock);
	printf("listing pid %d\n", (int)getpid());
	fflush(stdout);
	for (i = 0; i < 1500 && access(gofile, F_OK) != 0; i++)
		usleep(100000);
	CHECK(access(gofile, F_OK) == 0);
	pthread_mutex_lock(&lock);
	CHECK(tern_store_destroy(s) == 0);
	pthread_mutex_unlock(&lock);
	printf("store_client: keys ok\n");
	return 0;
}

int
main(int argc, char **argv)
{
	struct tern_store_node_conf node = { 0 };
	struct tern_segment_table *tbl;
	struct tern_segment_info info;
	struct tern_store *s;
	struct tern_client *c;
	const char *mode, *key = NULL, *meta = NULL, *name = "sclient";
	bool owned;
	char bufname[32];
	uint32_t hbuf;
	int n;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "store_client: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	argc -= n;
	argv += n;
	if (argc < 2)
		return 2;
	mode = argv[1];
	owned = strcmp(mode, "shared") == 0 || strcmp(mode, "ownhang") == 0 ||
		strcmp(mode, "ownarena") == 0 || strcmp(mode, "keys") == 0;
	if (strcmp(mode, "basic") != 0) {
		if (argc != 4)
			return 2;
		key = argv[2];
		meta = argv[3];
		if (strcmp(mode, "shared") == 0)
			name = key;
	}
	c = tern_client_attach("tern", &(struct tern_client_conf){ .max_inflight = 32,
								   .flags = TERN_CLIENT_F_NO_CQ });
	if (c == NULL) {
		fprintf(stderr, "store_client: attach: %s\n", rte_strerror(rte_errno));
		return 3;
	}
	tbl = tern_segment_table_lookup("tern");
	CHECK(tbl != NULL);
	CHECK(tern_segment_find(tbl, owned ? "st" : "kv", &node.segment) == 0);
	node.flags = owned ? TERN_STORE_NODE_F_OWNED : 0;
	CHECK(tern_segment_info(tbl, node.segment, &info) == 0);
	node.length = info.length;
	snprintf(bufname, sizeof(bufname), "sc_buf_%d", (int)getpid());
	buf = tern_client_shm_alloc(c, bufname, BUF_LEN, &hbuf);
	CHECK(buf != NULL);
	if (strcmp(mode, "fallback") == 0)
		return run_fallback(c, tbl, key, meta); /* PEER GOFILE */
	if (strcmp(mode, "remote") == 0)
		return run_remote(c, tbl, key, meta); /* PORTB,PORTC,REDISPORT GOFILE */
	if (strcmp(mode, "keys") == 0)
		return run_keys(c, tbl, &node, key, meta); /* N GOFILE */
	if (strcmp(mode, "racew") == 0)
		return run_race_placer(c, tbl, key, meta); /* PORTB,REDISPORT SECONDS */
	if (strcmp(mode, "racer") == 0)
		return run_race_reader(c, tbl, key, meta); /* PORTB,REDISPORT SECONDS */
	if (strcmp(mode, "rread") == 0)
		return run_remote_reader(c, tbl, key, meta); /* PORTB,REDISPORT present|absent */
	s = tern_store_create(&(struct tern_store_conf){
		.name = name,
		.client = c,
		.segments = tbl,
		.nodes = &node,
		.nb_nodes = 1,
		.metadata = meta,
		.max_inflight = 16,
		.metadata_timeout_ms = 1000,
		.deadline_ns = owned ? 1000000000ull : 0,
		.lease_ns = owned ? 5000000000ull : 0,
	});
	if (s == NULL) {
		fprintf(stderr, "store_client: store: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (strcmp(mode, "basic") == 0) {
		run_basic(s);
	} else if (strcmp(mode, "shared") == 0) {
		run_shared(s, key);
	} else if (strcmp(mode, "hang") == 0 || strcmp(mode, "ownhang") == 0) {
		uint64_t size = 32 * MiB;
		void *b = buf;
		struct tern_store_future *f;

		fill(buf, size, 7);
		f = tern_store_put(s, &key, &b, &size, 1, NULL);
		CHECK(f != NULL);
		printf("reserved\n");
		fflush(stdout);
		for (n = 0; n < 600; n++) /* killed long before */
			sleep(1);
		return 1;
	} else if (strcmp(mode, "ownarena") == 0) {
		char names[6][64];
		const char *keys[6];
		void *bufs[6];
		uint64_t sizes[6];
		struct tern_store_future *f;

		for (n = 0; n < 6; n++) {
			snprintf(names[n], sizeof(names[n]), "%s/%d", key, n);
			keys[n] = names[n];
			bufs[n] = buf + (uint64_t)n * MiB;
			sizes[n] = 1 * MiB;
			fill(bufs[n], MiB, 40 + (uint64_t)n);
		}
		f = tern_store_put(s, keys, bufs, sizes, 4, NULL);
		CHECK(f != NULL && tern_store_future_wait(f, UINT64_MAX) == 0);
		tern_store_future_release(f);
		f = tern_store_put(s, keys + 4, bufs + 4, sizes + 4, 2, NULL);
		CHECK(f != NULL);
		printf("reserved\n");
		fflush(stdout);
		for (n = 0; n < 600; n++) /* killed long before */
			sleep(1);
		return 1;
	} else if (strcmp(mode, "absent") == 0) {
		unsigned int listed = 0;
		uint64_t size;
		int r = 0;

		CHECK(tern_store_exists(s, &key, 1, &r) == 0 && r == 0);
		CHECK(tern_store_list(s, "", count_cb, &listed) == 0);
		CHECK(get1(s, key, buf, BUF_LEN, &size) == -ENOENT);
		fill(buf, 16 * MiB, 9);
		CHECK(put1(s, key, buf, 16 * MiB) == 0);
		CHECK(get1(s, key, buf + 16 * MiB, 16 * MiB, &size) == 0 &&
		      same(buf + 16 * MiB, size, 9));
	} else {
		return 2;
	}
	CHECK(tern_store_destroy(s) == 0);
	printf("store_client: %s ok\n", mode);
	tern_client_shm_free(c, hbuf);
	tern_client_destroy(c);
	return 0;
}
