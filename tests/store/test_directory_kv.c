/* SPDX-License-Identifier: BSD-3-Clause */
/* The directory's key-value space (the store's records) on a real etcd or
 * Redis started by tests/directory/with_server.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_errno.h>

#include <tern_directory.h>

static const char *backend, *endpoint;

static struct tern_directory *
open_dir(const char *sub)
{
	struct tern_directory_conf conf = { .timeout_ms = 1000 };
	struct tern_directory *dir;
	char uri[256];

	snprintf(uri, sizeof(uri), "%s://%s/kvtest%d/%s", backend, endpoint, (int)getpid(), sub);
	dir = tern_directory_open(uri, &conf);
	if (dir == NULL)
		fail_msg("open %s: %d", uri, rte_errno);
	return dir;
}

static void
test_put_get_del(void **state)
{
	struct tern_directory *dir = open_dir("a");
	char buf[64];
	size_t len = 0;

	(void)state;
	assert_int_equal(tern_directory_kv_get(dir, "k/1", buf, sizeof(buf), &len), -ENOENT);
	assert_int_equal(tern_directory_kv_put(dir, "k/1", "one", 3, TERN_DIRECTORY_KV_CREATE), 0);
	assert_int_equal(tern_directory_kv_put(dir, "k/1", "uno", 3, TERN_DIRECTORY_KV_CREATE),
			 -EEXIST);
	assert_int_equal(tern_directory_kv_get(dir, "k/1", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(tern_directory_kv_put(dir, "k/1", "eins!", 5, 0), 0);
	assert_int_equal(tern_directory_kv_get(dir, "k/1", buf, 2, &len), -ENOSPC);
	assert_int_equal(len, 5);
	assert_int_equal(tern_directory_kv_get(dir, "k/1", buf, sizeof(buf), &len), 0);
	assert_memory_equal(buf, "eins!", 5);
	assert_int_equal(tern_directory_kv_del(dir, "k/1"), 0);
	assert_int_equal(tern_directory_kv_del(dir, "k/1"), -ENOENT);
	assert_int_equal(tern_directory_kv_put(dir, "k/1", "again", 5, TERN_DIRECTORY_KV_CREATE),
			 0);
	tern_directory_close(dir);
}

static void
test_bad_input(void **state)
{
	struct tern_directory *dir = open_dir("b");
	char longkey[TERN_DIRECTORY_KV_KEY_MAX + 1], buf[8];
	size_t len;

	(void)state;
	memset(longkey, 'x', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_int_equal(tern_directory_kv_put(dir, "", "v", 1, 0), -EINVAL);
	assert_int_equal(tern_directory_kv_put(dir, longkey, "v", 1, 0), -EINVAL);
	assert_int_equal(tern_directory_kv_put(dir, "a b", "v", 1, 0), -EINVAL);
	assert_int_equal(tern_directory_kv_put(dir, "a\x80", "v", 1, 0), -EINVAL);
	assert_int_equal(tern_directory_kv_put(dir, "k", "v\0w", 3, 0), -EINVAL);
	assert_int_equal(tern_directory_kv_put(dir, "k", "v", 0, 0), -EINVAL);
	assert_int_equal(tern_directory_kv_put(dir, "k", "v", TERN_DIRECTORY_KV_VALUE_MAX + 1, 0),
			 -EINVAL);
	assert_int_equal(tern_directory_kv_put(dir, "k", "v", 1, 1u << 5), -EINVAL);
	assert_int_equal(tern_directory_kv_put(NULL, "k", "v", 1, 0), -EINVAL);
	assert_int_equal(tern_directory_kv_get(dir, "k", NULL, 0, NULL), -EINVAL);
	assert_int_equal(tern_directory_kv_get(dir, "k\n", buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(tern_directory_kv_del(dir, ""), -EINVAL);
	assert_int_equal(tern_directory_kv_list(dir, "a b", NULL, NULL), -EINVAL);
	tern_directory_close(dir);
}

struct seen {
	unsigned int n;
	size_t bytes;
};

static int
seen_cb(void *arg, const char *key, const void *value, size_t len)
{
	struct seen *s = arg;

	(void)value;
	if (strncmp(key, "p*[x]/", 6) != 0 && strncmp(key, "q/", 2) != 0)
		return -EBADMSG; /* a key outside the prefix asked for */
	s->n++;
	s->bytes += len;
	return 0;
}

static int
stop_cb(void *arg, const char *key, const void *value, size_t len)
{
	(void)key;
	(void)value;
	(void)len;
	return ++*(int *)arg == 2 ? 7 : 0;
}

/* Glob characters in keys are literal in a prefix (Redis SCAN MATCH). */
static void
test_list_prefix(void **state)
{
	struct tern_directory *dir = open_dir("c");
	struct seen s = { 0 };
	char key[32];
	unsigned int i;
	int calls = 0;

	(void)state;
	for (i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "p*[x]/%u", i);
		assert_int_equal(tern_directory_kv_put(dir, key, "0123456789", 1 + i % 10, 0), 0);
	}
	assert_int_equal(tern_directory_kv_put(dir, "pa/1", "no", 2, 0), 0);
	assert_int_equal(tern_directory_kv_put(dir, "q/1", "q", 1, 0), 0);
	assert_int_equal(tern_directory_kv_list(dir, "p*[x]/", seen_cb, &s), 30);
	assert_int_equal(s.n, 30);
	assert_int_equal(s.bytes, 3 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10));
	assert_int_equal(tern_directory_kv_list(dir, "zzz", seen_cb, &s), 0);
	assert_int_equal(tern_directory_kv_list(dir, "", stop_cb, &calls), 7);
	assert_int_equal(calls, 2);
	tern_directory_close(dir);
}

/* Two handles racing to create one key: exactly one wins, each time. */
static void
test_create_race(void **state)
{
	struct tern_directory *a = open_dir("d"), *b = open_dir("d");
	char key[32];
	unsigned int i;

	(void)state;
	for (i = 0; i < 50; i++) {
		int ra, rb;

		snprintf(key, sizeof(key), "race/%u", i);
		if (i % 2) {
			ra = tern_directory_kv_put(a, key, "a", 1, TERN_DIRECTORY_KV_CREATE);
			rb = tern_directory_kv_put(b, key, "b", 1, TERN_DIRECTORY_KV_CREATE);
		} else {
			rb = tern_directory_kv_put(b, key, "b", 1, TERN_DIRECTORY_KV_CREATE);
			ra = tern_directory_kv_put(a, key, "a", 1, TERN_DIRECTORY_KV_CREATE);
		}
		assert_true((ra == 0) != (rb == 0));
		assert_true(ra == -EEXIST || rb == -EEXIST);
	}
	tern_directory_close(a);
	tern_directory_close(b);
}

/* p2p has no key-value space. */
/* Batches: 200 creates (several etcd transactions, one Redis pipeline),
 * some keys already there: exact per-key results, nothing overwritten. */
static void
test_put_n(void **state)
{
	struct tern_directory *dir = open_dir("e");
	const char *keys[200];
	const void *vals[200];
	size_t lens[200], len = 0;
	char names[200][16], text[200][16], buf[64];
	int res[200];
	unsigned int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "n/%u", i);
		snprintf(text[i], sizeof(text[i]), "v%u", i);
		keys[i] = names[i];
		vals[i] = text[i];
		lens[i] = strlen(text[i]);
	}
	/* Every 7th key exists already, with another value. */
	for (i = 0; i < 200; i += 7)
		assert_int_equal(tern_directory_kv_put(dir, keys[i], "old", 3, 0), 0);
	assert_int_equal(
		tern_directory_kv_put_n(dir, 200, keys, vals, lens, TERN_DIRECTORY_KV_CREATE, res),
		0);
	for (i = 0; i < 200; i++) {
		assert_int_equal(res[i], i % 7 == 0 ? -EEXIST : 0);
		assert_int_equal(tern_directory_kv_get(dir, keys[i], buf, sizeof(buf), &len), 0);
		if (i % 7 == 0)
			assert_true(len == 3 && memcmp(buf, "old", 3) == 0);
		else
			assert_true(len == lens[i] && memcmp(buf, text[i], len) == 0);
	}
	/* All new: one transaction per 64 (etcd), all created. */
	for (i = 0; i < 200; i++)
		snprintf(names[i], sizeof(names[i]), "m/%u", i);
	assert_int_equal(
		tern_directory_kv_put_n(dir, 200, keys, vals, lens, TERN_DIRECTORY_KV_CREATE, res),
		0);
	for (i = 0; i < 200; i++)
		assert_int_equal(res[i], 0);
	/* Replace: plain writes. */
	assert_int_equal(tern_directory_kv_put_n(dir, 3, keys, vals + 10, lens + 10, 0, res), 0);
	assert_int_equal(res[0] | res[1] | res[2], 0);
	assert_int_equal(tern_directory_kv_get(dir, "m/2", buf, sizeof(buf), &len), 0);
	assert_true(len == lens[12] && memcmp(buf, text[12], len) == 0);
	/* Bad input: nothing sent. */
	assert_int_equal(tern_directory_kv_put_n(dir, 0, keys, vals, lens, 0, res), -EINVAL);
	assert_int_equal(tern_directory_kv_put_n(dir, 257, keys, vals, lens, 0, res), -EINVAL);
	assert_int_equal(tern_directory_kv_put_n(dir, 2, keys, vals, lens, 0x10, res), -EINVAL);
	assert_int_equal(tern_directory_kv_put_n(NULL, 2, keys, vals, lens, 0, res), -EINVAL);
	assert_int_equal(tern_directory_kv_put_n(dir, 2, keys, vals, lens, 0, NULL), -EINVAL);
	snprintf(names[1], sizeof(names[1]), "bad key");
	assert_int_equal(
		tern_directory_kv_put_n(dir, 2, keys, vals, lens, TERN_DIRECTORY_KV_CREATE, res),
		-EINVAL);
	assert_int_equal(tern_directory_kv_get(dir, "m/0", buf, sizeof(buf), &len), 0);
	tern_directory_close(dir);
}

static void
test_p2p_not_supported(void **state)
{
	struct tern_directory *dir = tern_directory_open("p2p://127.0.0.1:1", NULL);
	size_t len;

	(void)state;
	assert_non_null(dir);
	assert_int_equal(tern_directory_kv_put(dir, "k", "v", 1, 0), -ENOTSUP);
	assert_int_equal(tern_directory_kv_get(dir, "k", NULL, 0, &len), -ENOTSUP);
	assert_int_equal(tern_directory_kv_del(dir, "k"), -ENOTSUP);
	{
		const char *k = "k";
		const void *v = "v";
		size_t l = 1;
		int r;

		assert_int_equal(tern_directory_kv_put_n(dir, 1, &k, &v, &l, 0, &r), -ENOTSUP);
	}
	tern_directory_close(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),	  cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_list_prefix),	  cmocka_unit_test(test_create_race),
		cmocka_unit_test(test_p2p_not_supported), cmocka_unit_test(test_put_n),
	};

	backend = getenv("TERN_TEST_BACKEND");
	endpoint = getenv("TERN_TEST_ENDPOINT");
	if (backend == NULL || endpoint == NULL) {
		fprintf(stderr, "run through tests/directory/with_server.sh etcd|redis\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
