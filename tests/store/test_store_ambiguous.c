/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ambiguous commit (doc/store.md): a commit whose answer is lost may
 * have been applied. The store's Redis metadata is a fake Redis server in
 * a thread of this test that applies a SET and then, on demand, loses its
 * answer or stops answering altogether, so that each outcome is certain:
 * applied (the put succeeds), another writer's (-EEXIST, extents freed),
 * unknown (extents kept until the record is read back).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_errno.h>

#include "test_common.h"
#include "tern_store.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)

/* ---- the fake Redis: GET, MGET, SET [NX], DEL on a few keys ---- */

#define FAKE_KEYS    16
#define FAKE_STR_MAX 512
#define FAKE_ARGS    8 /* a command's words: MGET and up to 7 keys */

struct fake_redis {
	pthread_mutex_t lock;
	int lfd;
	uint16_t port;
	volatile bool stop;
	/* What the next commands do (under lock). */
	unsigned int lose_set_answers; /* SETs applied, their answer never sent */
	bool silent;		       /* nothing answered, nothing applied */
	bool silent_after_lost;	       /* silent from the next lost answer on */
	unsigned int sets, gets, swaps;
	/* Writes (SET, EVAL) held: neither applied nor answered until
	 * fake_land() (a request that lands late). */
	unsigned int defer_writes;
	bool has_deferred, landing;
	char deferred[FAKE_ARGS][FAKE_STR_MAX];
	int deferred_argc;
	char key[FAKE_KEYS][FAKE_STR_MAX];
	char val[FAKE_KEYS][FAKE_STR_MAX];
	bool used[FAKE_KEYS];
	pthread_t thread;
};

static struct fake_redis fake;

static int
fake_find(const char *k)
{
	for (int i = 0; i < FAKE_KEYS; i++)
		if (fake.used[i] && strcmp(fake.key[i], k) == 0)
			return i;
	return -1;
}

/* One RESP array of bulk strings from @b (NUL-terminated args in @argv):
 * the bytes it took, 0 if incomplete, -1 if malformed. */
static int
resp_parse(const char *b, size_t n, char argv[FAKE_ARGS][FAKE_STR_MAX], int *argc)
{
	const char *p = b, *end = b + n, *nl;
	long cnt, len;
	int i;

	if (n == 0)
		return 0;
	if (*p != '*')
		return -1;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL)
		return 0;
	cnt = strtol(p + 1, NULL, 10);
	if (cnt < 1 || cnt > FAKE_ARGS)
		return -1;
	p = nl + 1;
	for (i = 0; i < cnt; i++) {
		if (p >= end)
			return 0;
		if (*p != '$')
			return -1;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return 0;
		len = strtol(p + 1, NULL, 10);
		if (len < 0 || len >= FAKE_STR_MAX)
			return -1;
		p = nl + 1;
		if (end - p < len + 2)
			return 0;
		memcpy(argv[i], p, (size_t)len);
		argv[i][len] = '\0';
		p += len + 2;
	}
	*argc = (int)cnt;
	return (int)(p - b);
}

/* The answer to one command in @out ("" when none is sent). */
static void
fake_serve(char argv[FAKE_ARGS][FAKE_STR_MAX], int argc, char *out, size_t outlen)
{
	int k;

	out[0] = '\0';
	pthread_mutex_lock(&fake.lock);
	if (fake.silent && !fake.landing) {
		pthread_mutex_unlock(&fake.lock);
		return;
	}
	if (!fake.landing && fake.defer_writes > 0 &&
	    (strcmp(argv[0], "SET") == 0 || strcmp(argv[0], "EVAL") == 0)) {
		fake.defer_writes--;
		memcpy(fake.deferred, argv, sizeof(fake.deferred));
		fake.deferred_argc = argc;
		fake.has_deferred = true;
		if (fake.silent_after_lost)
			fake.silent = true;
		pthread_mutex_unlock(&fake.lock);
		return;
	}
	if (strcmp(argv[0], "GET") == 0 && argc == 2) {
		fake.gets++;
		k = fake_find(argv[1]);
		if (k < 0)
			snprintf(out, outlen, "$-1\r\n");
		else
			snprintf(out, outlen, "$%zu\r\n%.*s\r\n", strlen(fake.val[k]),
				 FAKE_STR_MAX - 1, fake.val[k]);
	} else if (strcmp(argv[0], "MGET") == 0 && argc >= 2) {
		/* A get batch's record reads (tern_directory_kv_get_n()). */
		size_t o = (size_t)snprintf(out, outlen, "*%d\r\n", argc - 1);

		fake.gets++;
		for (int i = 1; i < argc && o < outlen; i++) {
			k = fake_find(argv[i]);
			if (k < 0)
				o += (size_t)snprintf(out + o, outlen - o, "$-1\r\n");
			else
				o += (size_t)snprintf(out + o, outlen - o, "$%zu\r\n%.*s\r\n",
						      strlen(fake.val[k]), FAKE_STR_MAX - 1,
						      fake.val[k]);
		}
	} else if (strcmp(argv[0], "SET") == 0 && (argc == 3 || argc == 4)) {
		bool nx = argc == 4 && strcmp(argv[3], "NX") == 0;

		fake.sets++;
		k = fake_find(argv[1]);
		if (k >= 0 && nx) {
			snprintf(out, outlen, "$-1\r\n");
		} else {
			for (int i = 0; k < 0 && i < FAKE_KEYS; i++)
				if (!fake.used[i])
					k = i;
			if (k < 0) {
				snprintf(out, outlen, "-ERR full\r\n");
			} else {
				fake.used[k] = true;
				snprintf(fake.key[k], FAKE_STR_MAX, "%s", argv[1]);
				snprintf(fake.val[k], FAKE_STR_MAX, "%s", argv[2]);
				snprintf(out, outlen, "+OK\r\n");
			}
		}
		if (fake.lose_set_answers > 0) {
			fake.lose_set_answers--;
			out[0] = '\0';
			if (fake.silent_after_lost)
				fake.silent = true;
		}
	} else if (strcmp(argv[0], "EVAL") == 0 && argc == 6 && strcmp(argv[2], "1") == 0 &&
		   strstr(argv[1], "redis.call('GET', KEYS[1]) == ARGV[1]") != NULL) {
		/* tern_directory_kv_swap()'s script: SET only from ARGV[1]. */
		fake.swaps++;
		k = fake_find(argv[3]);
		if (k >= 0 && strcmp(fake.val[k], argv[4]) == 0) {
			snprintf(fake.val[k], FAKE_STR_MAX, "%s", argv[5]);
			snprintf(out, outlen, ":1\r\n");
		} else {
			snprintf(out, outlen, ":0\r\n");
		}
	} else if (strcmp(argv[0], "DEL") == 0 && argc == 2) {
		k = fake_find(argv[1]);
		if (k >= 0)
			fake.used[k] = false;
		snprintf(out, outlen, ":%d\r\n", k >= 0);
	} else {
		snprintf(out, outlen, "-ERR unknown\r\n");
	}
	pthread_mutex_unlock(&fake.lock);
}

/* The write held by defer_writes lands now (its answer is never sent). */
static void
fake_land(void)
{
	char argv[FAKE_ARGS][FAKE_STR_MAX], out[FAKE_ARGS * (FAKE_STR_MAX + 32)];
	int argc;

	pthread_mutex_lock(&fake.lock);
	assert_true(fake.has_deferred);
	memcpy(argv, fake.deferred, sizeof(argv));
	argc = fake.deferred_argc;
	fake.has_deferred = false;
	fake.landing = true;
	pthread_mutex_unlock(&fake.lock);
	fake_serve(argv, argc, out, sizeof(out));
	pthread_mutex_lock(&fake.lock);
	fake.landing = false;
	pthread_mutex_unlock(&fake.lock);
}

/* The value of @key (the full Redis key) in the fake, "" if absent. */
static void
fake_value(const char *key, char *out, size_t len)
{
	int k;

	pthread_mutex_lock(&fake.lock);
	k = fake_find(key);
	snprintf(out, len, "%s", k >= 0 ? fake.val[k] : "");
	pthread_mutex_unlock(&fake.lock);
}

static void *
fake_thread(void *arg)
{
	(void)arg;
	while (!fake.stop) {
		struct pollfd pl = { .fd = fake.lfd, .events = POLLIN };
		char in[4096], out[FAKE_ARGS * (FAKE_STR_MAX + 32)], argv[FAKE_ARGS][FAKE_STR_MAX];
		size_t have = 0;
		int fd, argc, used;

		if (poll(&pl, 1, 50) <= 0)
			continue;
		fd = accept(fake.lfd, NULL, NULL);
		if (fd < 0)
			continue;
		/* One connection at a time, until the client closes it. */
		while (!fake.stop) {
			struct pollfd pc = { .fd = fd, .events = POLLIN };
			ssize_t r;

			if (poll(&pc, 1, 50) <= 0)
				continue;
			r = read(fd, in + have, sizeof(in) - have);
			if (r <= 0)
				break;
			have += (size_t)r;
			while ((used = resp_parse(in, have, argv, &argc)) > 0) {
				fake_serve(argv, argc, out, sizeof(out));
				if (out[0] != '\0' && write(fd, out, strlen(out)) < 0)
					break;
				memmove(in, in + used, have - (size_t)used);
				have -= (size_t)used;
			}
			if (used < 0 || have == sizeof(in))
				break;
		}
		close(fd);
	}
	return NULL;
}

static void
fake_start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int one = 1;

	memset(&fake, 0, sizeof(fake));
	pthread_mutex_init(&fake.lock, NULL);
	fake.lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fake.lfd >= 0);
	assert_int_equal(setsockopt(fake.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(fake.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fake.lfd, (struct sockaddr *)&a, &len), 0);
	assert_int_equal(listen(fake.lfd, 8), 0);
	fake.port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&fake.thread, NULL, fake_thread, NULL), 0);
}

static void
fake_stop(void)
{
	fake.stop = true;
	pthread_join(fake.thread, NULL);
	close(fake.lfd);
}

/* ---- the store over it ---- */

static struct test_env env;
static uint8_t *buf; /* 4 MiB, LOCAL */
static void *cap_mem;

static struct tern_store *
store_open(const char *name)
{
	struct tern_store_node_conf node = { .length = 4 * MiB };
	char meta[128];
	struct tern_store *s;

	static uint32_t cap_seg;

	if (cap_mem == NULL) /* one capacity segment for every store of the run */
		cap_seg = test_segment_local(&env, "ambcap", 4 * MiB, &cap_mem);
	node.segment = cap_seg;
	snprintf(meta, sizeof(meta), "redis://127.0.0.1:%u/amb", fake.port);
	s = tern_store_create(&(struct tern_store_conf){
		.name = name,
		.engine = env.engine,
		.segments = env.segments,
		.nodes = &node,
		.nb_nodes = 1,
		.metadata = meta,
		.metadata_timeout_ms = 300,
	});
	if (s == NULL)
		fail_msg("tern_store_create %s: %s", name, rte_strerror(rte_errno));
	return s;
}

static int
put1(struct tern_store *s, const char *key, void *b, uint64_t size)
{
	struct tern_store_future *f = tern_store_put(s, &key, &b, &size, 1, NULL);
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

static struct tern_store_stats
stats(struct tern_store *s)
{
	struct tern_store_stats st;

	assert_int_equal(tern_store_stats(s, &st), 0);
	return st;
}

static void
test_ambiguous_commit(void **state)
{
	struct tern_store *s;
	struct tern_store_stats st;
	uint64_t size = 0;
	int tries;

	(void)state;
	fake_start();
	s = store_open("amb");

	/* Applied, its answer lost: the commit (pipelined, never sent again)
	 * times out; read back: ours, so the put succeeds. */
	test_pattern_fill(buf, 64 * KiB, 1, 0);
	fake.lose_set_answers = 1;
	assert_int_equal(put1(s, "a/1", buf, 64 * KiB), 0);
	assert_int_equal(fake.sets, 1);
	assert_true(fake.gets >= 1);
	st = stats(s);
	assert_int_equal(st.objects, 1);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.used, 64 * KiB);
	memset(buf + 1 * MiB, 0, 64 * KiB);
	assert_int_equal(get1(s, "a/1", buf + 1 * MiB, 1 * MiB, &size), 0);
	assert_int_equal(size, 64 * KiB);
	assert_int_equal(test_pattern_check(buf + 1 * MiB, size, 1, 0), SIZE_MAX);

	/* Another writer's record under the key: -EEXIST, extents freed, and
	 * that record left alone. */
	pthread_mutex_lock(&fake.lock);
	fake.used[FAKE_KEYS - 1] = true;
	snprintf(fake.key[FAKE_KEYS - 1], FAKE_STR_MAX, "amb/~kv/a/2");
	snprintf(fake.val[FAKE_KEYS - 1], FAKE_STR_MAX, "tern1 other 64 7 1 0:0");
	pthread_mutex_unlock(&fake.lock);
	assert_int_equal(put1(s, "a/2", buf, 64 * KiB), -EEXIST);
	st = stats(s);
	assert_int_equal(st.objects, 1);
	assert_int_equal(st.used, 64 * KiB);
	assert_string_equal(fake.val[FAKE_KEYS - 1], "tern1 other 64 7 1 0:0");

	/* Unknown: the SET is applied, then the server stops answering (the
	 * retry and the read-back time out). The put fails with the timeout,
	 * its extent stays reserved (a record names it); once the server
	 * answers again, a poll reads the record back: ours, so the object
	 * is committed and readable. */
	test_pattern_fill(buf, 64 * KiB, 3, 0);
	pthread_mutex_lock(&fake.lock);
	fake.lose_set_answers = 1;
	fake.silent_after_lost = true;
	pthread_mutex_unlock(&fake.lock);
	assert_int_equal(put1(s, "a/3", buf, 64 * KiB), -ETIMEDOUT);
	st = stats(s);
	assert_int_equal(st.objects, 1);
	assert_int_equal(st.reserved, 1); /* kept: a record may name it */
	assert_int_equal(st.used, 2 * 64 * KiB);
	assert_int_equal(tern_store_poll(s), 0); /* still unknown: nothing freed */
	assert_int_equal(stats(s).reserved, 1);
	pthread_mutex_lock(&fake.lock);
	fake.silent = false;
	fake.silent_after_lost = false;
	pthread_mutex_unlock(&fake.lock);
	for (tries = 0; tries < 100; tries++) {
		assert_true(tern_store_poll(s) >= 0);
		if (stats(s).reserved == 0)
			break;
		usleep(50000);
	}
	st = stats(s);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.objects, 2);
	assert_int_equal(st.used, 2 * 64 * KiB);
	memset(buf + 1 * MiB, 0, 64 * KiB);
	assert_int_equal(get1(s, "a/3", buf + 1 * MiB, 1 * MiB, &size), 0);
	assert_int_equal(test_pattern_check(buf + 1 * MiB, size, 3, 0), SIZE_MAX);

	/* Unknown and not applied: the server silent from the start. The
	 * read-back later finds no record and creates it (the lost request
	 * may still land): the object ends committed, never half-freed. */
	pthread_mutex_lock(&fake.lock);
	fake.silent = true;
	pthread_mutex_unlock(&fake.lock);
	test_pattern_fill(buf, 64 * KiB, 4, 0);
	assert_int_equal(put1(s, "a/4", buf, 64 * KiB), -ETIMEDOUT);
	assert_int_equal(stats(s).reserved, 1);
	pthread_mutex_lock(&fake.lock);
	fake.silent = false;
	pthread_mutex_unlock(&fake.lock);
	for (tries = 0; tries < 100; tries++) {
		assert_true(tern_store_poll(s) >= 0);
		if (stats(s).reserved == 0)
			break;
		usleep(50000);
	}
	st = stats(s);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.objects, 3);
	assert_int_equal(get1(s, "a/4", buf + 1 * MiB, 1 * MiB, &size), 0);
	assert_int_equal(test_pattern_check(buf + 1 * MiB, size, 4, 0), SIZE_MAX);

	assert_int_equal(tern_store_destroy(s), 0);
	/* Destroy withdrew our three records; the other writer's stays. */
	pthread_mutex_lock(&fake.lock);
	for (int i = 0; i < FAKE_KEYS - 1; i++)
		assert_false(fake.used[i]);
	assert_true(fake.used[FAKE_KEYS - 1]);
	pthread_mutex_unlock(&fake.lock);
	fake_stop();
}

/* A get batch reads its records in one request (one MGET): present,
 * absent and malformed records each get their own result. */
static void
test_get_batch_one_request(void **state)
{
	const char *keys[5] = { "g/1", "g/2", "g/none", "g/bad", "g/3" };
	void *bufs[5] = { buf + 1 * MiB, buf + 1 * MiB + 64 * KiB, buf + 2 * MiB,
			  buf + 2 * MiB + 64 * KiB, buf + 3 * MiB };
	uint64_t rooms[5] = { 64 * KiB, 64 * KiB, 64 * KiB, 64 * KiB, 64 * KiB }, size = 0;
	struct tern_store_future *f;
	unsigned int i, gets;
	struct tern_store *s;

	(void)state;
	fake_start();
	s = store_open("gb");
	for (i = 0; i < 3; i++) {
		test_pattern_fill(buf, 4 * KiB * (i + 1), 10 + i, 0);
		assert_int_equal(put1(s, keys[i == 2 ? 4 : i], buf, 4 * KiB * (i + 1)), 0);
	}
	pthread_mutex_lock(&fake.lock);
	for (i = 0; i < FAKE_KEYS && fake.used[i]; i++)
		;
	assert_true(i < FAKE_KEYS);
	fake.used[i] = true;
	snprintf(fake.key[i], FAKE_STR_MAX, "amb/~kv/g/bad");
	snprintf(fake.val[i], FAKE_STR_MAX, "tern1 gb 4096 99 1 0:1");
	gets = fake.gets;
	pthread_mutex_unlock(&fake.lock);
	f = tern_store_get(s, keys, bufs, rooms, 5);
	assert_non_null(f);
	(void)tern_store_future_wait(f, UINT64_MAX);
	assert_int_equal(fake.gets - gets, 1);
	for (i = 0; i < 5; i++) {
		int ret = tern_store_future_result(f, i, &size);

		if (i == 2) {
			assert_int_equal(ret, -ENOENT);
		} else if (i == 3) {
			assert_int_equal(ret, -EPROTO);
		} else {
			unsigned int n = i == 4 ? 2 : i;

			assert_int_equal(ret, 0);
			assert_int_equal(size, 4 * KiB * (n + 1));
			assert_int_equal(test_pattern_check(bufs[i], size, 10 + n, 0), SIZE_MAX);
		}
	}
	tern_store_future_release(f);
	/* The server silent: every key of the batch fails with the timeout. */
	pthread_mutex_lock(&fake.lock);
	fake.silent = true;
	pthread_mutex_unlock(&fake.lock);
	f = tern_store_get(s, keys, bufs, rooms, 2);
	assert_non_null(f);
	assert_int_equal(tern_store_future_wait(f, UINT64_MAX), -ETIMEDOUT);
	assert_int_equal(tern_store_future_result(f, 0, &size), -ETIMEDOUT);
	assert_int_equal(tern_store_future_result(f, 1, &size), -ETIMEDOUT);
	tern_store_future_release(f);
	pthread_mutex_lock(&fake.lock);
	fake.silent = false;
	pthread_mutex_unlock(&fake.lock);
	assert_int_equal(tern_store_destroy(s), 0);
	fake_stop();
}

static int
replace1(struct tern_store *s, const char *key, void *b, uint64_t size)
{
	struct tern_store_future *f =
		tern_store_put(s, &key, &b, &size, 1,
			       &(struct tern_store_put_opts){ .flags = TERN_STORE_F_REPLACE });
	int ret;

	assert_non_null(f);
	ret = tern_store_future_wait(f, UINT64_MAX);
	tern_store_future_release(f);
	return ret;
}

/*
 * A replace whose request is lost and lands late: conditional on the
 * record it replaces, so it never overwrites a record written meanwhile
 * (whose extents it would name after this store freed them), and a lost
 * one is sent again while the key still holds what it replaces.
 */
static void
test_lost_replace_lands_late(void **state)
{
	char other[] = "tern1 zz 4096 9 1 0:1048576", v[FAKE_STR_MAX], x[FAKE_STR_MAX];
	uint64_t size = 0;
	struct tern_store *s;
	int tries;

	(void)state;
	fake_start();
	s = store_open("rp");
	test_pattern_fill(buf, 64 * KiB, 20, 0);
	assert_int_equal(put1(s, "r/1", buf, 64 * KiB), 0);
	fake_value("amb/~kv/r/1", x, sizeof(x));
	assert_true(strncmp(x, "tern1 rp ", 9) == 0);

	/* 1. Lost, then the server silent: unknown, extents kept. Another
	 * writer's record lands; the read-back sees it: the lost replace can
	 * never apply, its extents are freed; it lands late and changes nothing. */
	pthread_mutex_lock(&fake.lock);
	fake.defer_writes = 1;
	fake.silent_after_lost = true;
	pthread_mutex_unlock(&fake.lock);
	test_pattern_fill(buf, 64 * KiB, 21, 0);
	assert_int_equal(replace1(s, "r/1", buf, 64 * KiB), -ETIMEDOUT);
	assert_int_equal(stats(s).reserved, 1);
	pthread_mutex_lock(&fake.lock);
	snprintf(fake.val[fake_find("amb/~kv/r/1")], FAKE_STR_MAX, "%s", other);
	fake.silent = false;
	fake.silent_after_lost = false;
	pthread_mutex_unlock(&fake.lock);
	for (tries = 0; tries < 100 && stats(s).reserved != 0; tries++) {
		assert_true(tern_store_poll(s) >= 0);
		usleep(50000);
	}
	assert_int_equal(stats(s).reserved, 0);
	fake_land();
	fake_value("amb/~kv/r/1", v, sizeof(v));
	assert_string_equal(v, other); /* a plain SET would have overwritten it */

	/* 2. Lost while the key still holds what it replaces: sent again at
	 * the read-back, applied once; the late one changes nothing. */
	pthread_mutex_lock(&fake.lock);
	snprintf(fake.val[fake_find("amb/~kv/r/1")], FAKE_STR_MAX, "%s", x);
	fake.defer_writes = 1;
	pthread_mutex_unlock(&fake.lock);
	test_pattern_fill(buf, 64 * KiB, 22, 0);
	assert_int_equal(replace1(s, "r/1", buf, 64 * KiB), 0);
	fake_value("amb/~kv/r/1", v, sizeof(v));
	assert_true(strncmp(v, "tern1 rp ", 9) == 0 && strcmp(v, x) != 0);
	fake_land();
	fake_value("amb/~kv/r/1", x, sizeof(x));
	assert_string_equal(x, v);
	memset(buf + 1 * MiB, 0, 64 * KiB);
	assert_int_equal(get1(s, "r/1", buf + 1 * MiB, 1 * MiB, &size), 0);
	assert_int_equal(test_pattern_check(buf + 1 * MiB, size, 22, 0), SIZE_MAX);
	assert_int_equal(stats(s).reserved, 0);
	assert_int_equal(tern_store_destroy(s), 0);
	fake_stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ambiguous_commit),
		cmocka_unit_test(test_get_batch_one_request),
		cmocka_unit_test(test_lost_replace_lands_late),
	};
	void *mem;
	int ret;

	test_eal_init("test_store_amb", "0@(0-1),1@(0-1)", 256);
	test_env_create(&env, "samb", NULL);
	test_segment_local(&env, "ambbuf", 4 * MiB, &mem);
	buf = mem;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	test_env_destroy(&env);
	free(mem);
	free(cap_mem);
	return ret;
}
