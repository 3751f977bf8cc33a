/* SPDX-License-Identifier: BSD-3-Clause */
/* The directory's key-value space (the store's records) on a real etcd or
 * Redis started by tests/directory/with_server.sh. */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

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

/* Batched gets: 200 keys (one Redis MGET, four etcd transactions), some
 * absent, one too long for the buffer; results and values per key. */
static void
test_get_n(void **state)
{
	struct tern_directory *dir = open_dir("g");
	const char *keys[200];
	void *bufs[200];
	size_t lens[200];
	char names[200][16], text[200][16], out[200][8];
	int res[200];
	unsigned int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "g/%u", i);
		snprintf(text[i], sizeof(text[i]), "v%u", i);
		keys[i] = names[i];
		bufs[i] = out[i];
		if (i % 5 != 0)
			assert_int_equal(
				tern_directory_kv_put(dir, keys[i], text[i], strlen(text[i]), 0),
				0);
	}
	assert_int_equal(tern_directory_kv_put(dir, "g/7", "0123456789", 10, 0), 0);
	assert_int_equal(tern_directory_kv_get_n(dir, 200, keys, bufs, sizeof(out[0]), lens, res),
			 0);
	for (i = 0; i < 200; i++) {
		if (i % 5 == 0) {
			assert_int_equal(res[i], -ENOENT);
		} else if (i == 7) {
			assert_int_equal(res[i], -ENOSPC);
			assert_int_equal(lens[i], 10);
		} else {
			assert_int_equal(res[i], 0);
			assert_int_equal(lens[i], strlen(text[i]));
			assert_memory_equal(out[i], text[i], lens[i]);
		}
	}
	/* One key; a key given twice. */
	keys[1] = keys[2];
	assert_int_equal(tern_directory_kv_get_n(dir, 2, keys + 1, bufs, sizeof(out[0]), lens, res),
			 0);
	assert_true(res[0] == 0 && res[1] == 0 && lens[0] == 2 && lens[1] == 2);
	assert_memory_equal(out[0], "v2", 2);
	assert_memory_equal(out[1], "v2", 2);
	/* Bad input: nothing sent. */
	assert_int_equal(tern_directory_kv_get_n(dir, 0, keys, bufs, 8, lens, res), -EINVAL);
	assert_int_equal(tern_directory_kv_get_n(dir, 257, keys, bufs, 8, lens, res), -EINVAL);
	assert_int_equal(tern_directory_kv_get_n(NULL, 2, keys, bufs, 8, lens, res), -EINVAL);
	assert_int_equal(tern_directory_kv_get_n(dir, 2, NULL, bufs, 8, lens, res), -EINVAL);
	assert_int_equal(tern_directory_kv_get_n(dir, 2, keys, NULL, 8, lens, res), -EINVAL);
	assert_int_equal(tern_directory_kv_get_n(dir, 2, keys, bufs, 8, NULL, res), -EINVAL);
	assert_int_equal(tern_directory_kv_get_n(dir, 2, keys, bufs, 8, lens, NULL), -EINVAL);
	bufs[1] = NULL;
	assert_int_equal(tern_directory_kv_get_n(dir, 2, keys, bufs, 8, lens, res), -EINVAL);
	bufs[1] = out[1];
	snprintf(names[3], sizeof(names[3]), "bad key");
	keys[1] = names[3];
	assert_int_equal(tern_directory_kv_get_n(dir, 2, keys, bufs, 8, lens, res), -EINVAL);
	/* max 0: lengths only (-ENOSPC), no buffer needed. */
	keys[1] = names[1];
	bufs[0] = bufs[1] = NULL;
	assert_int_equal(tern_directory_kv_get_n(dir, 2, keys, bufs, 0, lens, res), 0);
	assert_true(res[0] == -ENOENT && res[1] == -ENOSPC && lens[1] == 2);
	tern_directory_close(dir);
}

/* A conditional replace: only from the value expected; absent never matches. */
static void
test_swap(void **state)
{
	struct tern_directory *dir = open_dir("s");
	char buf[64];
	size_t len = 0;

	(void)state;
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", "a", 1, "b", 1), -ESTALE);
	assert_int_equal(tern_directory_kv_get(dir, "s/1", buf, sizeof(buf), &len), -ENOENT);
	assert_int_equal(tern_directory_kv_put(dir, "s/1", "one", 3, 0), 0);
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", "on", 2, "two", 3), -ESTALE);
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", "one!", 4, "two", 3), -ESTALE);
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", "one", 3, "two", 3), 0);
	assert_int_equal(tern_directory_kv_get(dir, "s/1", buf, sizeof(buf), &len), 0);
	assert_true(len == 3 && memcmp(buf, "two", 3) == 0);
	/* Sent again late: the value moved on, nothing changes. */
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", "one", 3, "two", 3), -ESTALE);
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", "two", 3, "three", 5), 0);
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", "one", 3, "two", 3), -ESTALE);
	assert_int_equal(tern_directory_kv_get(dir, "s/1", buf, sizeof(buf), &len), 0);
	assert_true(len == 5 && memcmp(buf, "three", 5) == 0);
	/* Bad input. */
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", "", 0, "x", 1), -EINVAL);
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", NULL, 1, "x", 1), -EINVAL);
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", "a\0b", 3, "x", 1), -EINVAL);
	assert_int_equal(tern_directory_kv_swap(dir, "s/1", "a", 1, "x\0", 2), -EINVAL);
	assert_int_equal(tern_directory_kv_swap(dir, "s 1", "a", 1, "x", 1), -EINVAL);
	assert_int_equal(tern_directory_kv_swap(NULL, "s/1", "a", 1, "x", 1), -EINVAL);
	tern_directory_close(dir);
}

/* ---- a fake server answering every connection with one canned answer ---- */

struct fake {
	int lfd;
	unsigned int port;
	const char *answer; /* NULL: read and never answer */
	size_t answer_len;
	bool http; /* read the whole request (headers and Content-Length) first */
	volatile bool stop;
	unsigned int conns;
	pthread_t th;
};

static void
fake_read_request(int fd, bool http)
{
	char buf[65536];
	size_t have = 0;
	unsigned int rounds;

	for (rounds = 0; rounds < 100 && have < sizeof(buf) - 1; rounds++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const char *eoh, *cl;
		ssize_t r;

		if (poll(&p, 1, 50) <= 0)
			return;
		r = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (r <= 0)
			return;
		have += (size_t)r;
		buf[have] = '\0';
		if (!http)
			return; /* hiredis writes one command in one go */
		eoh = strstr(buf, "\r\n\r\n");
		cl = strstr(buf, "Content-Length: ");
		if (eoh != NULL && cl != NULL &&
		    have >= (size_t)(eoh + 4 - buf) + strtoul(cl + 16, NULL, 10))
			return;
	}
}

static void *
fake_main(void *arg)
{
	struct fake *fk = arg;

	while (!fk->stop) {
		struct pollfd p = { .fd = fk->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(fk->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		fk->conns++;
		fake_read_request(fd, fk->http);
		if (fk->answer != NULL) {
			if (send(fd, fk->answer, fk->answer_len, MSG_NOSIGNAL) < 0)
				fprintf(stderr, "fake: send failed\n");
		} else {
			/* Silence until the client gives up. */
			unsigned int t;

			for (t = 0; t < 60 && !fk->stop; t++) {
				struct pollfd q = { .fd = fd, .events = POLLIN };
				char c[256];

				if (poll(&q, 1, 50) > 0 && recv(fd, c, sizeof(c), 0) <= 0)
					break;
			}
		}
		close(fd);
	}
	return NULL;
}

static void
fake_start(struct fake *fk, const char *answer, size_t len, bool http)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	memset(fk, 0, sizeof(*fk));
	fk->answer = answer;
	fk->answer_len = len;
	fk->http = http;
	fk->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fk->lfd >= 0);
	assert_int_equal(bind(fk->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fk->lfd, 8), 0);
	assert_int_equal(getsockname(fk->lfd, (struct sockaddr *)&a, &al), 0);
	fk->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&fk->th, NULL, fake_main, fk), 0);
}

static void
fake_stop(struct fake *fk)
{
	fk->stop = true;
	pthread_join(fk->th, NULL);
	close(fk->lfd);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* kv_get_n of "k0", "k1" against a fake server answering @answer: each
 * key's result in @res (values of 0 results in @out). */
static void
fake_get2(const char *scheme, const char *answer, size_t len, bool http, int res[2],
	  char out[2][16], size_t lens[2])
{
	struct tern_directory_conf conf = { .timeout_ms = 500 };
	const char *keys[2] = { "k0", "k1" };
	void *bufs[2] = { out[0], out[1] };
	struct tern_directory *dir;
	struct fake fk;
	char uri[128];
	uint64_t t0;

	fake_start(&fk, answer, len, http);
	snprintf(uri, sizeof(uri), "%s://127.0.0.1:%u/fk", scheme, fk.port);
	dir = tern_directory_open(uri, &conf);
	assert_non_null(dir);
	memset(out, 0, 32);
	t0 = now_ms();
	assert_int_equal(tern_directory_kv_get_n(dir, 2, keys, bufs, 16, lens, res), 0);
	/* Bounded: two tries of at most the timeout each, and some slack. */
	assert_true(now_ms() - t0 < 3000);
	tern_directory_close(dir);
	fake_stop(&fk);
}

#define FAKE_REDIS(lit, r0, r1)                                                                  \
	do {                                                                                     \
		fake_get2("redis", lit, sizeof(lit) - 1, false, res, out, lens);                 \
		if (res[0] != (r0) || res[1] != (r1))                                            \
			fail_msg("redis answer %s: %d %d, expected %d %d", #lit, res[0], res[1], \
				 r0, r1);                                                        \
	} while (0)

/* Malformed MGET answers fail both keys with -EPROTO (an error reply -EIO,
 * silence -ETIMEDOUT); nothing is taken from them. */
static void
test_get_n_redis_answers(void **state)
{
	char out[2][16], big[4200 + 64];
	size_t lens[2];
	int res[2];

	(void)state;
	FAKE_REDIS("*2\r\n$-1\r\n$3\r\nabc\r\n", -ENOENT, 0);
	assert_int_equal(lens[1], 3);
	assert_memory_equal(out[1], "abc", 3);
	FAKE_REDIS("*2\r\n$2\r\nxy\r\n*-1\r\n", 0, -ENOENT); /* a nil array is a nil */
	FAKE_REDIS("*1\r\n$3\r\nabc\r\n", -EPROTO, -EPROTO);
	FAKE_REDIS("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", -EPROTO, -EPROTO);
	FAKE_REDIS(":2\r\n", -EPROTO, -EPROTO);
	FAKE_REDIS("+OK\r\n", -EPROTO, -EPROTO);
	FAKE_REDIS("$3\r\nabc\r\n", -EPROTO, -EPROTO);
	FAKE_REDIS("*2\r\n$3\r\nabc\r\n:1\r\n", -EPROTO, -EPROTO);
	FAKE_REDIS("*2\r\n$0\r\n\r\n$3\r\nabc\r\n", -EPROTO, -EPROTO);
	FAKE_REDIS("*2\r\n*1\r\n$1\r\na\r\n$3\r\nabc\r\n", -EPROTO, -EPROTO);
	FAKE_REDIS("-ERR wrong\r\n", -EIO, -EIO);
	FAKE_REDIS("hello\r\n", -EIO, -EIO);	  /* not RESP: hiredis's protocol error */
	FAKE_REDIS("*2\r\n$3\r\nab", -EIO, -EIO); /* cut short, then closed */
	/* Too large a value. */
	{
		int n = snprintf(big, sizeof(big), "*2\r\n$-1\r\n$4097\r\n");

		memset(big + n, 'x', 4097);
		memcpy(big + n + 4097, "\r\n", 2);
		fake_get2("redis", big, (size_t)n + 4099, false, res, out, lens);
		assert_true(res[0] == -EPROTO && res[1] == -EPROTO);
	}
	/* Silence: a timeout, bounded. */
	fake_get2("redis", NULL, 0, false, res, out, lens);
	assert_true(res[0] == -ETIMEDOUT && res[1] == -ETIMEDOUT);
}

/* "/fk/~kv/k0" and "/fk/~kv/k1" in base64. */
#define B64_K0 "L2ZrL35rdi9rMA=="
#define B64_K1 "L2ZrL35rdi9rMQ=="

static void
etcd_answer(const char *body, int r0, int r1, char out[2][16], size_t lens[2])
{
	char http[8192];
	int res[2], n;

	n = snprintf(http, sizeof(http),
		     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
		     "%zu\r\nConnection: close\r\n\r\n%s",
		     strlen(body), body);
	fake_get2("etcd", http, (size_t)n, true, res, out, lens);
	if (res[0] != r0 || res[1] != r1)
		fail_msg("etcd answer %s: %d %d, expected %d %d", body, res[0], res[1], r0, r1);
}

/* Malformed transaction answers fail both keys with -EPROTO. */
static void
test_get_n_etcd_answers(void **state)
{
	char out[2][16];
	size_t lens[2];

	(void)state;
	/* Well formed: k0 absent, k1 "abc" ("YWJj"). */
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":{}},"
		    "{\"response_range\":{\"kvs\":[{\"key\":\"" B64_K1
		    "\",\"value\":\"YWJj\"}]}}]}",
		    -ENOENT, 0, out, lens);
	assert_int_equal(lens[1], 3);
	assert_memory_equal(out[1], "abc", 3);
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":{\"kvs\":[]}},"
		    "{\"response_range\":{}}]}",
		    -ENOENT, -ENOENT, out, lens);
	/* Not succeeded, no responses, one too few or many, not objects. */
	etcd_answer("{\"responses\":[{\"response_range\":{}},{\"response_range\":{}}]}", -EPROTO,
		    -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":\"yes\",\"responses\":[{\"response_range\":{}},"
		    "{\"response_range\":{}}]}",
		    -EPROTO, -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true}", -EPROTO, -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":{}}]}", -EPROTO,
		    -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":{}},"
		    "{\"response_range\":{}},{\"response_range\":{}}]}",
		    -EPROTO, -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true,\"responses\":{}}", -EPROTO, -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true,\"responses\":[1,2]}", -EPROTO, -EPROTO, out, lens);
	/* Another kind of response, or one with two members. */
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_put\":{}},"
		    "{\"response_range\":{}}]}",
		    -EPROTO, -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":{},\"x\":1},"
		    "{\"response_range\":{}}]}",
		    -EPROTO, -EPROTO, out, lens);
	/* Another key, two keys, a key without value, bad base64, not arrays. */
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":{}},"
		    "{\"response_range\":{\"kvs\":[{\"key\":\"" B64_K0
		    "\",\"value\":\"YWJj\"}]}}]}",
		    -EPROTO, -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":{}},"
		    "{\"response_range\":{\"kvs\":[{\"key\":\"" B64_K1 "\",\"value\":\"YWJj\"},"
		    "{\"key\":\"" B64_K1 "\",\"value\":\"YWJj\"}]}}]}",
		    -EPROTO, -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":{}},"
		    "{\"response_range\":{\"kvs\":[{\"key\":\"" B64_K1 "\"}]}}]}",
		    -EPROTO, -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":{}},"
		    "{\"response_range\":{\"kvs\":[{\"key\":\"" B64_K1
		    "\",\"value\":\"YW!j\"}]}}]}",
		    -EPROTO, -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":{}},"
		    "{\"response_range\":{\"kvs\":{\"key\":\"" B64_K1 "\"}}}]}",
		    -EPROTO, -EPROTO, out, lens);
	etcd_answer("{\"succeeded\":true,\"responses\":[{\"response_range\":[]},"
		    "{\"response_range\":{}}]}",
		    -EPROTO, -EPROTO, out, lens);
	etcd_answer("[1]", -EPROTO, -EPROTO, out, lens);
	etcd_answer("not json", -EPROTO, -EPROTO, out, lens);
	/* A gateway error. */
	{
		static const char e500[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: "
					   "2\r\nConnection: close\r\n\r\n{}";
		int res[2];

		fake_get2("etcd", e500, sizeof(e500) - 1, true, res, out, lens);
		assert_true(res[0] == -EIO && res[1] == -EIO);
		fake_get2("etcd", NULL, 0, true, res, out, lens);
		assert_true(res[0] == -ETIMEDOUT && res[1] == -ETIMEDOUT);
	}
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
		assert_int_equal(tern_directory_kv_get_n(dir, 1, &k, NULL, 0, &l, &r), -EINVAL);
		{
			void *b = NULL;

			assert_int_equal(tern_directory_kv_get_n(dir, 1, &k, &b, 0, &l, &r),
					 -ENOTSUP);
		}
	}
	tern_directory_close(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_list_prefix),
		cmocka_unit_test(test_create_race),
		cmocka_unit_test(test_p2p_not_supported),
		cmocka_unit_test(test_put_n),
		cmocka_unit_test(test_get_n),
		cmocka_unit_test(test_swap),
	};
	/* Malformed answers from a fake server of the backend under test. */
	const struct CMUnitTest redis_fake[] = { cmocka_unit_test(test_get_n_redis_answers) };
	const struct CMUnitTest etcd_fake[] = { cmocka_unit_test(test_get_n_etcd_answers) };
	int rc;

	backend = getenv("TERN_TEST_BACKEND");
	endpoint = getenv("TERN_TEST_ENDPOINT");
	if (backend == NULL || endpoint == NULL) {
		fprintf(stderr, "run through tests/directory/with_server.sh etcd|redis\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (strcmp(backend, "redis") == 0)
		rc |= cmocka_run_group_tests(redis_fake, NULL, NULL);
	else
		rc |= cmocka_run_group_tests(etcd_fake, NULL, NULL);
	return rc;
}
