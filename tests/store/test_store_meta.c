/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/store with its records in a real etcd or Redis (started by
 * tests/directory/with_server.sh; the metadata-down test starts and kills
 * its own server on a port of its own). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_errno.h>

#include "test_common.h"
#include "tern_store.h"

#define MiB (1ull << 20)
#define KiB (1ull << 10)

static const char *backend, *endpoint;
static struct test_env env;
static uint8_t *buf; /* 32 MiB, LOCAL */
static unsigned int nb_stores;
static void *mems[16]; /* test_segment_local()'s memory, freed at the end */

static struct tern_store *
store_open(const char *name, uint64_t capacity, const char *uri, uint32_t timeout_ms)
{
	struct tern_store_node_conf node = { .length = capacity };
	char seg[32], meta[256];
	struct tern_store *s;
	void *mem;

	snprintf(seg, sizeof(seg), "cap%u", nb_stores++);
	node.segment = test_segment_local(&env, seg, capacity, &mem);
	assert_true(nb_stores <= RTE_DIM(mems));
	mems[nb_stores - 1] = mem;
	if (uri == NULL) {
		snprintf(meta, sizeof(meta), "%s://%s/storetest%d", backend, endpoint,
			 (int)getpid());
		uri = meta;
	}
	s = tern_store_create(&(struct tern_store_conf){
		.name = name,
		.engine = env.engine,
		.segments = env.segments,
		.nodes = &node,
		.nb_nodes = 1,
		.metadata = uri,
		.metadata_timeout_ms = timeout_ms,
	});
	if (s == NULL)
		fail_msg("tern_store_create %s: %s", name, rte_strerror(rte_errno));
	return s;
}

static int
put1(struct tern_store *s, const char *key, void *b, uint64_t size, uint32_t flags)
{
	struct tern_store_put_opts o = { .flags = flags };
	struct tern_store_future *f = tern_store_put(s, &key, &b, &size, 1, &o);
	int ret;

	assert_non_null(f);
	ret = tern_store_future_wait(f, UINT64_MAX);
	tern_store_future_release(f);
	return ret;
}

static int
get1(struct tern_store *s, const char *key, void *b, uint64_t room, uint64_t *size)
{
	struct tern_store_future *f = tern_store_get(s, &key, &b, &room, 1);
	int ret;

	assert_non_null(f);
	ret = tern_store_future_wait(f, UINT64_MAX);
	assert_int_equal(tern_store_future_result(f, 0, size), ret);
	tern_store_future_release(f);
	return ret;
}

static int
exists1(struct tern_store *s, const char *key)
{
	int r = -1;

	assert_true(tern_store_exists(s, &key, 1, &r) >= 0 || r < 0);
	return r;
}

static int
count_cb(void *arg, const char *key, uint64_t size, unsigned int nb_replicas)
{
	(void)key;
	(void)nb_replicas;
	*(uint64_t *)arg += size;
	return 0;
}

static void
test_basic(void **state)
{
	struct tern_store *s = store_open("mbasic", 8 * MiB, NULL, 0);
	struct tern_store_stats st;
	uint64_t size, total = 0;
	const char *keys[2] = { "m/a", "m/b" };
	int r[2];

	(void)state;
	test_pattern_fill(buf, 300 * KiB, 5, 0);
	assert_int_equal(put1(s, "m/a", buf, 300 * KiB, 0), 0);
	assert_int_equal(put1(s, "m/a", buf, 10, 0), -EEXIST);
	assert_int_equal(put1(s, "m/b", NULL, 0, 0), 0);
	memset(buf + 1 * MiB, 0, 300 * KiB);
	assert_int_equal(get1(s, "m/a", buf + 1 * MiB, 1 * MiB, &size), 0);
	assert_int_equal(size, 300 * KiB);
	assert_int_equal(test_pattern_check(buf + 1 * MiB, size, 5, 0), SIZE_MAX);
	assert_int_equal(get1(s, "m/a", buf + 1 * MiB, 1000, &size), -ENOSPC);
	assert_int_equal(size, 300 * KiB);
	assert_int_equal(get1(s, "m/b", NULL, 0, &size), 0);
	assert_int_equal(get1(s, "m/c", buf, 10, &size), -ENOENT);
	assert_int_equal(tern_store_list(s, "m/", count_cb, &total), 2);
	assert_int_equal(total, 300 * KiB);
	/* Replace: the new bytes, the old extent freed. */
	test_pattern_fill(buf, 100, 6, 0);
	assert_int_equal(put1(s, "m/a", buf, 100, TERN_STORE_F_REPLACE), 0);
	assert_int_equal(get1(s, "m/a", buf + 1 * MiB, 1 * MiB, &size), 0);
	assert_int_equal(test_pattern_check(buf + 1 * MiB, 100, 6, 0), SIZE_MAX);
	assert_int_equal(tern_store_exists(s, keys, 2, r), 2);
	assert_int_equal(tern_store_remove(s, keys, 2, r), 2);
	assert_int_equal(tern_store_exists(s, keys, 2, r), 0);
	assert_int_equal(tern_store_stats(s, &st), 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.objects, 0);
	assert_int_equal(tern_store_destroy(s), 0);
}

/* Two stores (two owners, one metadata) putting the same keys at once:
 * exactly one commits each key; the other's extent is freed. */
static void
test_two_stores_one_wins(void **state)
{
	struct tern_store *a = store_open("mA", 8 * MiB, NULL, 0);
	struct tern_store *b = store_open("mB", 8 * MiB, NULL, 0);
	struct tern_store_stats sa, sb;
	unsigned int i, wins_a = 0;
	uint64_t size = 64 * KiB, got;
	char key[32];

	(void)state;
	test_pattern_fill(buf, size, 1, 0);
	test_pattern_fill(buf + size, size, 2, 0);
	for (i = 0; i < 40; i++) {
		const char *k = key;
		void *ba = buf, *bb = buf + size;
		struct tern_store_future *fa, *fb;
		int ra, rb;

		snprintf(key, sizeof(key), "race/%u", i);
		fa = tern_store_put(a, &k, &ba, &size, 1, NULL);
		fb = tern_store_put(b, &k, &bb, &size, 1, NULL);
		assert_non_null(fa);
		assert_non_null(fb);
		if (i % 2) {
			ra = tern_store_future_wait(fa, UINT64_MAX);
			rb = tern_store_future_wait(fb, UINT64_MAX);
		} else {
			rb = tern_store_future_wait(fb, UINT64_MAX);
			ra = tern_store_future_wait(fa, UINT64_MAX);
		}
		tern_store_future_release(fa);
		tern_store_future_release(fb);
		assert_true((ra == 0 && rb == -EEXIST) || (rb == 0 && ra == -EEXIST));
		wins_a += ra == 0;
		/* The winner reads its bytes; the loser is told where it is not. */
		assert_int_equal(get1(ra == 0 ? a : b, key, buf + 1 * MiB, size, &got), 0);
		assert_int_equal(test_pattern_check(buf + 1 * MiB, size, ra == 0 ? 1 : 2, 0),
				 SIZE_MAX);
		assert_int_equal(get1(ra == 0 ? b : a, key, buf + 1 * MiB, size, &got), -EREMOTE);
		assert_int_equal(got, size);
	}
	assert_int_equal(tern_store_stats(a, &sa), 0);
	assert_int_equal(tern_store_stats(b, &sb), 0);
	assert_int_equal(sa.used, wins_a * size);
	assert_int_equal(sb.used, (40 - wins_a) * size);
	assert_int_equal(sa.reserved + sb.reserved, 0);
	/* A removes one of B's keys: B's next get says -ENOENT and frees it. */
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "race/%u", i);
		if (exists1(a, key) == 1 && get1(b, key, buf + 1 * MiB, size, &got) == 0)
			break;
	}
	assert_true(i < 40);
	{
		const char *k = key;
		int r;

		assert_int_equal(tern_store_remove(a, &k, 1, &r), 1);
	}
	assert_int_equal(get1(b, key, buf + 1 * MiB, size, &got), -ENOENT);
	assert_int_equal(tern_store_stats(b, &sb), 0);
	assert_int_equal(sb.used, (40 - wins_a - 1) * size);
	assert_int_equal(tern_store_destroy(a), 0);
	assert_int_equal(tern_store_destroy(b), 0);
}

/*
 * No get returns a record's old bytes after another store replaced or
 * removed it (doc/store.md, *Record cache*: nothing is served from the
 * placing store's copy without reading the metadata). B puts and reads two
 * keys (as a cache would be filled); A replaces one with an object of
 * another size: B's next get batch says -EREMOTE with the new size for it
 * (A's object is on A's own range), leaves its buffer untouched, frees the
 * old extent, and still reads the other key's bytes; after A removes the
 * key, B's get says -ENOENT.
 */
static void
test_other_store_replace(void **state)
{
	struct tern_store *a = store_open("mRa", 8 * MiB, NULL, 0);
	struct tern_store *b = store_open("mRb", 8 * MiB, NULL, 0);
	const uint64_t size = 64 * KiB, nsize = 40 * KiB;
	const char *keys[2] = { "rep/x", "rep/y" };
	void *bufs[2] = { buf + 1 * MiB, buf + 2 * MiB };
	uint64_t rooms[2] = { 1 * MiB, 1 * MiB }, got;
	struct tern_store_future *f;
	struct tern_store_stats sb;
	unsigned int round;
	int r;

	(void)state;
	test_pattern_fill(buf, size, 11, 0);
	assert_int_equal(put1(b, keys[0], buf, size, 0), 0);
	test_pattern_fill(buf, size, 12, 0);
	assert_int_equal(put1(b, keys[1], buf, size, 0), 0);
	for (round = 0; round < 3; round++) {
		f = tern_store_get(b, keys, bufs, rooms, 2);
		assert_non_null(f);
		assert_int_equal(tern_store_future_wait(f, UINT64_MAX), 0);
		tern_store_future_release(f);
		assert_int_equal(test_pattern_check(bufs[0], size, 11, 0), SIZE_MAX);
		assert_int_equal(test_pattern_check(bufs[1], size, 12, 0), SIZE_MAX);
	}
	test_pattern_fill(buf, nsize, 13, 0);
	assert_int_equal(put1(a, keys[0], buf, nsize, TERN_STORE_F_REPLACE), 0);
	memset(bufs[0], 0, size);
	memset(bufs[1], 0, size);
	f = tern_store_get(b, keys, bufs, rooms, 2);
	assert_non_null(f);
	(void)tern_store_future_wait(f, UINT64_MAX);
	assert_int_equal(tern_store_future_result(f, 0, &got), -EREMOTE);
	assert_int_equal(got, nsize);
	assert_int_equal(tern_store_future_result(f, 1, &got), 0);
	assert_int_equal(got, size);
	tern_store_future_release(f);
	for (got = 0; got < size && ((uint8_t *)bufs[0])[got] == 0; got++)
		;
	assert_int_equal(got, size); /* no old (or any) bytes read */
	assert_int_equal(test_pattern_check(bufs[1], size, 12, 0), SIZE_MAX);
	assert_int_equal(tern_store_stats(b, &sb), 0);
	assert_int_equal(sb.used, size); /* the replaced object's extent freed */
	/* A's own get reads A's bytes. */
	assert_int_equal(get1(a, keys[0], bufs[0], 1 * MiB, &got), 0);
	assert_int_equal(test_pattern_check(bufs[0], nsize, 13, 0), SIZE_MAX);
	assert_int_equal(tern_store_remove(a, keys, 1, &r), 1);
	assert_int_equal(get1(b, keys[0], bufs[0], 1 * MiB, &got), -ENOENT);
	assert_int_equal(get1(a, keys[0], bufs[0], 1 * MiB, &got), -ENOENT);
	/* And a remove by A of B's untouched key, after B's reads of it. */
	assert_int_equal(tern_store_remove(a, &keys[1], 1, &r), 1);
	assert_int_equal(get1(b, keys[1], bufs[1], 1 * MiB, &got), -ENOENT);
	assert_int_equal(tern_store_stats(b, &sb), 0);
	assert_int_equal(sb.used, 0);
	assert_int_equal(tern_store_destroy(a), 0);
	assert_int_equal(tern_store_destroy(b), 0);
}

/* Eviction removes the record from the metadata first: another store no
 * longer sees the evicted keys. */
static void
test_eviction_external(void **state)
{
	struct tern_store *s = store_open("mEvict", 8 * MiB, NULL, 0);
	struct tern_store *o = store_open("mObs", 1 * MiB, NULL, 0);
	struct tern_store_stats st;
	char key[32];
	unsigned int i;

	(void)state;
	for (i = 0; i < 32; i++) {
		snprintf(key, sizeof(key), "ev/%02u", i);
		assert_int_equal(put1(s, key, buf, 1 * MiB, 0), 0);
	}
	assert_int_equal(tern_store_stats(s, &st), 0);
	assert_int_equal(st.put_errors, 0);
	assert_int_equal(st.objects + st.evictions, 32);
	assert_true(st.evictions >= 24);
	assert_int_equal(exists1(o, "ev/00"), 0);
	assert_int_equal(exists1(o, "ev/31"), 1);
	assert_int_equal(tern_store_destroy(s), 0);
	/* Destroy withdrew the owner's records. */
	assert_int_equal(exists1(o, "ev/31"), 0);
	assert_int_equal(tern_store_destroy(o), 0);
}

/* ---- the metadata store down, then back ---- */

static uint16_t
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static char datadir[64];
/* The metadata-down test's own server: killed, and its data directory
 * removed, by down_teardown() also when an assertion fails mid-test. */
static pid_t down_pid = -1;

static pid_t
server_start(uint16_t port, uint16_t peer_port)
{
	char p[16], url[64], purl[64], cluster[96];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	/* Dies with the test also when teardown cannot run (a crash, the
	 * harness's timeout). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
		_exit(127);
	snprintf(p, sizeof(p), "%u", port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%u", peer_port);
	snprintf(cluster, sizeof(cluster), "down=%s", purl);
	{
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (strcmp(backend, "redis") == 0)
		execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", p, "--save",
		       "", "--appendonly", "no", "--dir", datadir, (char *)NULL);
	else
		execlp("etcd", "etcd", "--name", "down", "--data-dir", datadir,
		       "--listen-client-urls", url, "--advertise-client-urls", url,
		       "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
		       "--initial-cluster", cluster, "--log-level", "error", (char *)NULL);
	_exit(127);
}

static void
server_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (pid == down_pid)
		down_pid = -1;
}

static int
down_teardown(void **state)
{
	char cmd[96];

	(void)state;
	if (down_pid > 0)
		server_kill(down_pid);
	if (datadir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", datadir);
		if (system(cmd) != 0)
			fprintf(stderr, "test_store_meta: cannot remove %s\n", datadir);
		datadir[0] = '\0';
	}
	return 0;
}

static void
test_metadata_down(void **state)
{
	uint16_t port = free_port(), peer = free_port();
	struct tern_store_stats st;
	struct tern_store *s;
	char uri[128];
	uint64_t t0, size;
	pid_t pid;
	int r, tries;

	(void)state;
	snprintf(datadir, sizeof(datadir), "/tmp/tern-store-down.XXXXXX");
	assert_non_null(mkdtemp(datadir));
	snprintf(uri, sizeof(uri), "%s://127.0.0.1:%u/down", backend, port);
	s = store_open("mDown", 4 * MiB, uri, 500);
	/* Down: every call fails with the backend's error, none hangs. */
	t0 = test_now_ns();
	r = put1(s, "d/1", buf, 64 * KiB, 0);
	assert_true(r == -ECONNREFUSED || r == -ETIMEDOUT);
	assert_int_equal(get1(s, "d/1", buf + 1 * MiB, 1 * MiB, &size), r);
	assert_int_equal(exists1(s, "d/1"), r);
	assert_true(test_now_ns() - t0 < 5ull * 1000000000ull);
	assert_int_equal(tern_store_stats(s, &st), 0);
	assert_int_equal(st.used, 0); /* the failed put's reservation is freed */
	assert_int_equal(st.reserved, 0);
	/* Back: the same store works again. */
	pid = server_start(port, peer);
	down_pid = pid;
	test_pattern_fill(buf, 64 * KiB, 76, 0);
	for (tries = 0; tries < 150; tries++) {
		r = put1(s, "d/1", buf, 64 * KiB, 0);
		/* -EEXIST only if an earlier try's commit reached the server
		 * starting up and its answer timed out (an ambiguous commit,
		 * doc/store.md): that earlier put is then ours, applied. */
		if (r == 0 || r == -EEXIST)
			break;
		usleep(100000);
	}
	assert_true(r == 0 || r == -EEXIST);
	/* The real outcome either way: d/1 is one committed object of ours
	 * with its bytes, and no extent is left reserved (every ambiguous
	 * try was read back: applied, or freed). */
	for (tries = 0; tries < 100; tries++) {
		assert_true(tern_store_poll(s) >= 0);
		assert_int_equal(tern_store_stats(s, &st), 0);
		if (st.reserved == 0)
			break;
		usleep(50000);
	}
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.objects, 1);
	assert_int_equal(st.used, 64 * KiB);
	memset(buf + 1 * MiB, 0, 64 * KiB);
	assert_int_equal(get1(s, "d/1", buf + 1 * MiB, 1 * MiB, &size), 0);
	assert_int_equal(size, 64 * KiB);
	assert_int_equal(test_pattern_check(buf + 1 * MiB, size, 76, 0), SIZE_MAX);
	test_pattern_fill(buf, 64 * KiB, 77, 0);
	assert_int_equal(put1(s, "d/2", buf, 64 * KiB, 0), 0);
	assert_int_equal(get1(s, "d/2", buf + 1 * MiB, 1 * MiB, &size), 0);
	assert_int_equal(test_pattern_check(buf + 1 * MiB, size, 77, 0), SIZE_MAX);
	/* Down again, mid-life: bounded errors, the local memory intact. */
	server_kill(pid);
	t0 = test_now_ns();
	r = get1(s, "d/2", buf + 1 * MiB, 1 * MiB, &size);
	assert_true(r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EIO || r == -ECONNRESET);
	r = put1(s, "d/3", buf, 64 * KiB, 0);
	assert_true(r < 0);
	assert_true(test_now_ns() - t0 < 5ull * 1000000000ull);
	assert_int_equal(tern_store_stats(s, &st), 0);
	assert_int_equal(st.used, 2 * 64 * KiB);
	assert_int_equal(tern_store_destroy(s), 0); /* bounded too */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_two_stores_one_wins),
		cmocka_unit_test(test_other_store_replace),
		cmocka_unit_test(test_eviction_external),
		cmocka_unit_test_teardown(test_metadata_down, down_teardown),
	};
	void *mem;
	int ret;

	backend = getenv("TERN_TEST_BACKEND");
	endpoint = getenv("TERN_TEST_ENDPOINT");
	if (backend == NULL || endpoint == NULL) {
		fprintf(stderr, "run through tests/directory/with_server.sh etcd|redis\n");
		return 1;
	}
	test_eal_init("test_store_meta", "0@(0-1),1@(0-1)", 256);
	test_env_create(&env, "smeta", NULL);
	test_segment_local(&env, "mbuf", 32 * MiB, &mem);
	buf = mem;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	test_env_destroy(&env);
	free(mem);
	for (unsigned int i = 0; i < RTE_DIM(mems); i++)
		free(mems[i]);
	return ret;
}
