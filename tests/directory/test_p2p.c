/* SPDX-License-Identifier: BSD-3-Clause */
/* Directory URIs, and the p2p backend over loopback: serve, resolve, staleness, garbage. */
#include <arpa/inet.h>
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
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_errno.h>
#include <rte_log.h>

#include <tern_directory.h>

static void
uri_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"p2p",
		"p2p:/127.0.0.1:1",
		"p2p://",
		"p2p://127.0.0.1",
		"p2p://127.0.0.1:",
		"p2p://127.0.0.1:65536",
		"p2p://127.0.0.1:99999999999",
		"p2p://127.0.0.1:01",
		"p2p://127.0.0.1:+1",
		"p2p://127.0.0.1:1/prefix",
		"p2p://127.0.0.1:1,127.0.0.1:2",
		"p2p://user@127.0.0.1:1",
		"p2p://127.0.0.1:1?x=1",
		"p2p://127.0.0.1:1#f",
		"p2p://127.0.0.1:1 ",
		"p2p://-host:1",
		"p2p://[::1:1",
		"p2p://[]:1",
		"p2p://[::1]1",
		"P2P://127.0.0.1:1",
		"etcd://127.0.0.1:2379",
		"etcd://127.0.0.1:2379/",
		"etcd://127.0.0.1:2379//x",
		"etcd://127.0.0.1:2379/x/",
		"etcd://127.0.0.1:2379/a/../b",
		"etcd://127.0.0.1:2379/a/./b",
		"etcd://127.0.0.1:2379/a b",
		"etcd://127.0.0.1:2379/a*",
		"etcd://127.0.0.1:0/x",
		"etcd://127.0.0.1:2379,/x",
		"etcd://,127.0.0.1:2379/x",
		"etcd://a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9/x",
		"redis://127.0.0.1:6379",
		"redis://127.0.0.1:6379,127.0.0.1:6380/x",
		"redis://127.0.0.1/x",
		"redis://:6379/x",
		"://127.0.0.1:1",
		"http*://x:1",
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rte_errno = 0;
		if (tern_directory_open(bad[i], NULL) != NULL || rte_errno != EINVAL)
			fail_msg("URI \"%s\" accepted or wrong errno %d", bad[i], rte_errno);
	}
	assert_null(tern_directory_open(NULL, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_directory_open("zk://127.0.0.1:2181/x", NULL));
	assert_int_equal(rte_errno, ENOTSUP);
}

static void
uri_accepts_wellformed(void **state)
{
	static const char *const good[] = {
		"p2p://127.0.0.1:7000",
		"p2p://localhost:1",
		"p2p://[::1]:65535",
		"p2p://0.0.0.0:0",
		"etcd://127.0.0.1:2379/tern",
		"etcd://a:1,b.example:2,[::1]:3/tern/cluster-1/x_y.z",
		"redis://127.0.0.1:6379/tern",
	};
	struct tern_directory_conf conf = { .ttl_s = 100000 };
	struct tern_directory *dir;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		dir = tern_directory_open(good[i], NULL);
		if (dir == NULL)
			fail_msg("URI \"%s\" refused: %d", good[i], rte_errno);
		tern_directory_close(dir);
	}
	assert_null(tern_directory_open(good[0], &conf));
	assert_int_equal(rte_errno, EINVAL);
}

static void
unreachable_backends_fail_cleanly(void **state)
{
	struct tern_directory_conf conf = { .timeout_ms = 500 };
	static const char *const uris[] = { "p2p://127.0.0.1:1", "etcd://127.0.0.1:1/x",
					    "redis://127.0.0.1:1/x" };
	struct tern_descriptor d, out;
	struct tern_directory *dir;
	unsigned int i;
	int rc;

	(void)state;
	assert_int_equal(tern_descriptor_init(&d, "n", "s", 1), 0);
	for (i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		dir = tern_directory_open(uris[i], &conf);
		assert_non_null(dir);
		rc = tern_directory_lookup(dir, "n", "s", &out);
		if (rc != -ECONNREFUSED)
			fail_msg("%s: lookup gave %d", uris[i], rc);
		if (i > 0) {
			rc = tern_directory_publish(dir, &d);
			if (rc != -ECONNREFUSED)
				fail_msg("%s: publish gave %d", uris[i], rc);
		}
		tern_directory_close(dir);
	}
	tern_descriptor_fini(&d);
}

/* Every wait below has a deadline on this clock, so that a server that stops
 * answering fails the test instead of hanging it. */
#define POLLER_LIFE_MS	60000 /* far beyond any test that uses a poller */
#define GARBAGE_WAIT_MS 10000 /* for the server to answer or hang up */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A p2p server in poll mode, driven by a thread of the test's own. */
struct poller {
	struct tern_directory *dir;
	pthread_t thread;
	volatile int stop;
};

static void *
poller_main(void *arg)
{
	struct poller *p = arg;
	uint64_t deadline = now_ms() + POLLER_LIFE_MS;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE) && now_ms() < deadline)
		assert_true(tern_directory_p2p_poll(p->dir, 20) >= 0);
	return NULL;
}

static struct tern_directory *
client_for(const struct tern_directory *server, uint32_t cache_ms)
{
	struct tern_directory_conf conf = { .cache_ms = cache_ms, .timeout_ms = 2000 };
	char uri[64];

	snprintf(uri, sizeof(uri), "p2p://127.0.0.1:%d", tern_directory_p2p_port(server));
	return tern_directory_open(uri, &conf);
}

static void
publish_tcp(struct tern_directory *dir, const char *node, const char *segment, uint64_t id)
{
	struct tern_descriptor d;

	assert_int_equal(tern_descriptor_init(&d, node, segment, 4096), 0);
	assert_int_equal(tern_descriptor_set_str(&d, "tcp", "addr", "127.0.0.1"), 0);
	assert_int_equal(tern_descriptor_set_u64(&d, "tcp", "port", 7001), 0);
	assert_int_equal(tern_descriptor_set_u64(&d, "tcp", "id", id), 0);
	assert_int_equal(tern_directory_publish(dir, &d), 0);
	tern_descriptor_fini(&d);
}

static void
sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void
p2p_serves_lookup_and_list(void **state)
{
	struct tern_directory *server, *client;
	struct tern_descriptor d, all[4];
	struct poller p = { 0 };
	uint64_t id;
	int i, n;

	(void)state;
	server = tern_directory_open("p2p://127.0.0.1:0", NULL);
	assert_non_null(server);
	assert_int_equal(tern_directory_p2p_port(server), -EINVAL);
	assert_int_equal(tern_directory_p2p_serve(server, 0), 0);
	assert_int_equal(tern_directory_p2p_serve(server, 0), -EALREADY);
	assert_true(tern_directory_p2p_port(server) > 0);
	p.dir = server;
	assert_int_equal(pthread_create(&p.thread, NULL, poller_main, &p), 0);
	publish_tcp(server, "alpha", "seg0", 1);
	publish_tcp(server, "alpha", "seg1", 2);
	publish_tcp(server, "alpha", "seg2", 3);
	publish_tcp(server, "beta", "seg0", 4);

	client = client_for(server, 1000);
	assert_non_null(client);
	assert_int_equal(tern_directory_lookup(client, "alpha", "seg1", &d), 0);
	assert_string_equal(d.node, "alpha");
	assert_string_equal(d.segment, "seg1");
	assert_int_equal(d.length, 4096);
	assert_int_equal(tern_descriptor_get_u64(&d, "tcp", "id", &id), 0);
	assert_int_equal(id, 2);
	assert_int_equal(tern_directory_check(client, &d), 0);
	tern_descriptor_fini(&d);
	assert_int_equal(tern_directory_lookup(client, "alpha", "nope", &d), -ENOENT);
	assert_int_equal(tern_directory_lookup(client, "al/pha", "seg1", &d), -EINVAL);

	n = tern_directory_list(client, "alpha", all, 4);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_string_equal(all[i].node, "alpha");
		tern_descriptor_fini(&all[i]);
	}
	assert_int_equal(tern_directory_list(client, "alpha", all, 1), 3); /* count, 1 filled */
	tern_descriptor_fini(&all[0]);
	assert_int_equal(tern_directory_list(client, "gamma", all, 4), 0);
	assert_int_equal(tern_directory_keepalive(client), 0);

	tern_directory_close(client);
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	pthread_join(p.thread, NULL);
	tern_directory_close(server);
}

static void
p2p_stale_cached_descriptor_fails_cleanly(void **state)
{
	struct tern_directory *server, *client;
	struct tern_descriptor d, again;
	uint64_t deadline;
	int rc;

	(void)state;
	server = tern_directory_open("p2p://127.0.0.1:0", NULL);
	assert_non_null(server);
	assert_int_equal(tern_directory_p2p_serve(server, TERN_DIRECTORY_P2P_THREAD), 0);
	assert_int_equal(tern_directory_p2p_poll(server, 0), -EINVAL); /* the thread serves */
	publish_tcp(server, "alpha", "seg0", 1);
	client = client_for(server, 200);
	assert_non_null(client);

	assert_int_equal(tern_directory_lookup(client, "alpha", "seg0", &d), 0);
	/* Replaced: an old copy is stale, a fresh lookup sees the new one. */
	publish_tcp(server, "alpha", "seg0", 2);
	assert_int_equal(tern_directory_check(client, &d), -ESTALE);
	assert_int_equal(tern_directory_lookup(client, "alpha", "seg0", &again), 0);
	assert_int_equal(tern_directory_check(client, &again), 0);
	tern_descriptor_fini(&d);

	/* Withdrawn: within the staleness bound the cache may still answer;
	 * once past it the lookup fails with -ESTALE, then -ENOENT. */
	assert_int_equal(tern_directory_unpublish(server, "alpha", "seg0"), 0);
	assert_int_equal(tern_directory_unpublish(server, "alpha", "seg0"), -ENOENT);
	assert_int_equal(tern_directory_check(client, &again), -ESTALE);
	assert_int_equal(tern_directory_lookup(client, "alpha", "seg0", &d), -ENOENT);
	tern_descriptor_fini(&again);

	publish_tcp(server, "alpha", "seg1", 3);
	assert_int_equal(tern_directory_lookup(client, "alpha", "seg1", &d), 0);
	tern_descriptor_fini(&d);
	assert_int_equal(tern_directory_unpublish(server, "alpha", "seg1"), 0);
	for (deadline = now_ms() + 10000, rc = 0; rc == 0 && now_ms() < deadline;) {
		rc = tern_directory_lookup(client, "alpha", "seg1", &d);
		if (rc == 0)
			tern_descriptor_fini(&d);
		sleep_ms(50);
	}
	assert_int_equal(rc, -ESTALE);
	assert_int_equal(tern_directory_lookup(client, "alpha", "seg1", &d), -ENOENT);

	/* The peer goes away entirely: lookups fail, they do not hang. */
	publish_tcp(server, "alpha", "seg2", 4);
	assert_int_equal(tern_directory_lookup(client, "alpha", "seg2", &d), 0);
	tern_directory_close(server);
	assert_int_equal(tern_directory_check(client, &d), -ECONNREFUSED);
	tern_descriptor_fini(&d);
	tern_directory_close(client);
}

static int
raw_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 5 };
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Send raw bytes; return 1 if the server closed the connection (EOF, maybe
 * after an error answer), 0 if it answered and kept it open. */
static int
send_garbage(int port, const void *buf, size_t len)
{
	char reply[256];
	uint64_t deadline;
	ssize_t n;
	int fd, closed = 0;

	fd = raw_connect(port);
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
	for (deadline = now_ms() + GARBAGE_WAIT_MS;;) {
		if (now_ms() >= deadline)
			fail_msg("the server neither stopped answering nor hung up");
		n = recv(fd, reply, sizeof(reply), 0);
		if (n <= 0) {
			closed = n == 0 || errno == ECONNRESET;
			break;
		}
	}
	close(fd);
	return closed;
}

static void
frame(uint8_t *buf, uint32_t len, const char *payload)
{
	uint32_t be = htonl(len);

	memcpy(buf, &be, 4);
	if (payload != NULL)
		memcpy(buf + 4, payload, strlen(payload));
}

static void
p2p_server_survives_garbage(void **state)
{
	static const char *const payloads[] = {
		"not json",
		"[]",
		"{}",
		"{\"v\":1,\"op\":\"get\",\"node\":\"alpha\"}",
		"{\"v\":1,\"op\":\"list\",\"node\":\"alpha\",\"segment\":\"x\"}",
		"{\"v\":1,\"op\":\"drop\",\"node\":\"alpha\"}",
		"{\"v\":1,\"op\":\"get\",\"node\":\"../etc\",\"segment\":\"x\"}",
		"{\"v\":1,\"op\":\"get\",\"node\":\"alpha\",\"segment\":\"seg0\",\"x\":1}",
		"{\"v\":1,\"op\":\"get\",\"node\":\"alpha\",\"segment\":\"seg0\"}trailing",
		"{\"v\":4294967297,\"op\":\"get\",\"node\":\"alpha\",\"segment\":\"seg0\"}",
		"{\"v\":1,\"v\":1,\"op\":\"get\",\"node\":\"alpha\",\"segment\":\"seg0\"}",
		/* calls: msg only with op call, lower-case hex, 1..256 bytes */
		"{\"v\":1,\"op\":\"call\",\"node\":\"alpha\",\"segment\":\"seg0\"}",
		"{\"v\":1,\"op\":\"call\",\"node\":\"alpha\",\"msg\":\"00\"}",
		"{\"v\":1,\"op\":\"get\",\"node\":\"alpha\",\"segment\":\"seg0\",\"msg\":\"00\"}",
		"{\"v\":1,\"op\":\"list\",\"node\":\"alpha\",\"msg\":\"00\"}",
		"{\"v\":1,\"op\":\"call\",\"node\":\"alpha\",\"segment\":\"seg0\",\"msg\":\"\"}",
		"{\"v\":1,\"op\":\"call\",\"node\":\"alpha\",\"segment\":\"seg0\",\"msg\":\"0\"}",
		"{\"v\":1,\"op\":\"call\",\"node\":\"alpha\",\"segment\":\"seg0\",\"msg\":\"AB\"}",
		"{\"v\":1,\"op\":\"call\",\"node\":\"alpha\",\"segment\":\"seg0\",\"msg\":\"0g\"}",
		"{\"v\":1,\"op\":\"call\",\"node\":\"alpha\",\"segment\":\"seg0\",\"msg\":1}",
		"{\"v\":1,\"op\":\"call\",\"node\":\"alpha\",\"segment\":\"s/0\",\"msg\":\"00\"}",
	};
	struct tern_directory *server, *client;
	struct tern_descriptor d;
	uint8_t buf[4 + 2048];
	int port, fds[40];
	unsigned int i;

	(void)state;
	server = tern_directory_open("p2p://127.0.0.1:0", NULL);
	assert_non_null(server);
	assert_int_equal(tern_directory_p2p_serve(server, TERN_DIRECTORY_P2P_THREAD), 0);
	port = tern_directory_p2p_port(server);
	publish_tcp(server, "alpha", "seg0", 1);
	client = client_for(server, 1);
	assert_non_null(client);

	/* Bad lengths: zero, huge, just over the limit. */
	frame(buf, 0, NULL);
	assert_true(send_garbage(port, buf, 4));
	frame(buf, 0xffffffffu, NULL);
	assert_true(send_garbage(port, buf, 4));
	frame(buf, 1025, NULL);
	memset(buf + 4, '{', 1025);
	assert_true(send_garbage(port, buf, 4 + 1025));
	/* Well-framed nonsense: an error answer, then the connection closes. */
	for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		frame(buf, (uint32_t)strlen(payloads[i]), payloads[i]);
		if (!send_garbage(port, buf, 4 + strlen(payloads[i])))
			fail_msg("payload %u kept the connection open", i);
	}
	/* Binary junk, and a truncated frame left hanging then dropped. */
	for (i = 0; i < 64; i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	frame(buf, 20, NULL);
	assert_true(send_garbage(port, buf, 24));
	frame(buf, 100, "{\"v\":1");
	fds[0] = raw_connect(port);
	assert_int_equal(send(fds[0], buf, 10, MSG_NOSIGNAL), 10);
	close(fds[0]);
	/* More idle connections than the server holds: the idlest make room for
	 * newcomers, so a lookup gets through while they are all still open. */
	for (i = 0; i < 40; i++)
		fds[i] = raw_connect(port);
	assert_int_equal(tern_directory_lookup(client, "alpha", "seg0", &d), 0);
	tern_descriptor_fini(&d);
	for (i = 0; i < 40; i++)
		close(fds[i]);

	/* Still serving, and a well-formed request on a raw socket still works. */
	assert_int_equal(tern_directory_lookup(client, "alpha", "seg0", &d), 0);
	tern_descriptor_fini(&d);
	{
		static const char req[] =
			"{\"v\":1,\"op\":\"get\",\"node\":\"alpha\",\"segment\":\"seg0\"}";
		uint8_t reply[4 + 1024];
		uint64_t deadline;
		uint32_t be;
		size_t got = 0;
		ssize_t n;
		int fd;

		frame(buf, (uint32_t)strlen(req), req);
		fd = raw_connect(port);
		assert_int_equal(send(fd, buf, 4 + strlen(req), MSG_NOSIGNAL),
				 (ssize_t)(4 + strlen(req)));
		deadline = now_ms() + GARBAGE_WAIT_MS;
		while (got < 4 || got < 4 + ntohl(be)) {
			assert_true(now_ms() < deadline);
			n = recv(fd, reply + got, sizeof(reply) - got, 0);
			assert_true(n > 0);
			got += (size_t)n;
			if (got >= 4)
				memcpy(&be, reply, 4);
		}
		assert_non_null(memmem(reply, got, "\"status\":0", 10));
		close(fd);
	}
	tern_directory_close(client);
	tern_directory_close(server);
}

/* A foreign peer: accepts one connection and answers whatever it is asked
 * with one canned frame. */
struct fake_peer {
	int lfd;
	int port;
	char answer[128];
	pthread_t thread;
};

static void *
fake_peer_main(void *arg)
{
	struct fake_peer *fp = arg;
	struct pollfd pfd = { .fd = fp->lfd, .events = POLLIN };
	struct timeval tv = { .tv_sec = 5 };
	uint8_t buf[4 + 1024];
	size_t len = strlen(fp->answer);
	int fd;

	if (poll(&pfd, 1, GARBAGE_WAIT_MS) != 1)
		return NULL;
	fd = accept(fp->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* The request comes in one send on loopback; its content does not matter. */
	if (recv(fd, buf, sizeof(buf), 0) > 0) {
		frame(buf, (uint32_t)len, fp->answer);
		if (send(fd, buf, 4 + len, MSG_NOSIGNAL) < 0)
			fprintf(stderr, "fake peer: send: %s\n", strerror(errno));
	}
	close(fd);
	return NULL;
}

static void
fake_peer_start(struct fake_peer *fp)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fp->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fp->lfd >= 0);
	assert_int_equal(bind(fp->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fp->lfd, 4), 0);
	assert_int_equal(getsockname(fp->lfd, (struct sockaddr *)&sa, &sl), 0);
	fp->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&fp->thread, NULL, fake_peer_main, fp), 0);
}

static void
p2p_foreign_status_becomes_eproto(void **state)
{
	/* A status passes only if this server version could have sent it to a
	 * well-formed request; the peer's errno is never returned as ours. */
	static const struct {
		int v;
		int status;
		int want;
	} cases[] = {
		{ 1, -ENOENT, -ENOENT }, { 1, -EMSGSIZE, -EMSGSIZE }, { 1, -ENOMEM, -ENOMEM },
		{ 1, -EINVAL, -EPROTO }, { 1, -EACCES, -EPROTO },     { 1, -4095, -EPROTO },
		{ 1, 1, -EPROTO },	 { 2, -ENOENT, -EPROTO },
	};
	struct tern_directory_conf conf = { .timeout_ms = 2000 };
	struct tern_directory *client;
	struct tern_descriptor d;
	struct fake_peer fp;
	char uri[64];
	unsigned int i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&fp, 0, sizeof(fp));
		snprintf(fp.answer, sizeof(fp.answer), "{\"v\":%d,\"status\":%d}", cases[i].v,
			 cases[i].status);
		fake_peer_start(&fp);
		snprintf(uri, sizeof(uri), "p2p://127.0.0.1:%d", fp.port);
		client = tern_directory_open(uri, &conf);
		assert_non_null(client);
		rc = tern_directory_lookup(client, "alpha", "seg0", &d);
		if (rc == 0)
			tern_descriptor_fini(&d);
		tern_directory_close(client);
		pthread_join(fp.thread, NULL);
		close(fp.lfd);
		if (rc != cases[i].want)
			fail_msg("answer %s: got %d, want %d", fp.answer, rc, cases[i].want);
	}
}

/* A call handler: answers "seg0" calls with the request reversed. */
static int
reverse_handler(void *arg, const char *node, const char *segment, const uint8_t *req, size_t len,
		uint8_t *rep)
{
	size_t i;

	(*(unsigned int *)arg)++;
	if (strcmp(node, "alpha") != 0 || strcmp(segment, "seg0") != 0)
		return -ENOENT;
	for (i = 0; i < len; i++)
		rep[i] = req[len - 1 - i];
	return (int)len;
}

/* This process's sockets connected to 127.0.0.1:@port: how many, and the
 * local port of the last one. */
static unsigned int
client_sockets(int port, int *local_port)
{
	struct sockaddr_in a;
	socklen_t al;
	unsigned int n = 0;
	int fd;

	for (fd = 0; fd < 1024; fd++) {
		al = sizeof(a);
		if (getpeername(fd, (struct sockaddr *)&a, &al) != 0 || a.sin_family != AF_INET ||
		    ntohs(a.sin_port) != port)
			continue;
		n++;
		al = sizeof(a);
		if (getsockname(fd, (struct sockaddr *)&a, &al) == 0)
			*local_port = ntohs(a.sin_port);
	}
	return n;
}

/* A handle's calls share one connection, kept between calls; one the
 * server closed (it went away, or closed it as idle) is replaced on the
 * next call, which the handler then sees exactly once. */
static void
p2p_call_keeps_its_connection(void **state)
{
	uint8_t req[4] = { 1, 2, 3, 4 }, rep[TERN_DIRECTORY_P2P_MSG_MAX];
	struct tern_directory *server, *client;
	unsigned int calls = 0, i;
	int port, first = -1, now = -1;
	char uri[64];
	size_t len = 0;

	(void)state;
	server = tern_directory_open("p2p://127.0.0.1:0", NULL);
	assert_non_null(server);
	assert_int_equal(tern_directory_p2p_serve(server, TERN_DIRECTORY_P2P_THREAD), 0);
	assert_int_equal(tern_directory_p2p_set_handler(server, reverse_handler, &calls), 0);
	port = tern_directory_p2p_port(server);
	client = client_for(server, 1);
	assert_non_null(client);
	assert_int_equal(client_sockets(port, &first), 0);
	assert_int_equal(tern_directory_p2p_call(client, "alpha", "seg0", req, 4, rep, &len), 0);
	assert_int_equal(client_sockets(port, &first), 1);
	for (i = 0; i < 20; i++) {
		assert_int_equal(
			tern_directory_p2p_call(client, "alpha", "seg0", req, 4, rep, &len), 0);
		assert_int_equal(rep[0], 4);
	}
	assert_int_equal(client_sockets(port, &now), 1);
	assert_int_equal(now, first);
	assert_int_equal(calls, 21);
	/* The server goes away and comes back on the same port. */
	tern_directory_close(server);
	snprintf(uri, sizeof(uri), "p2p://127.0.0.1:%d", port);
	server = tern_directory_open(uri, NULL);
	assert_non_null(server);
	assert_int_equal(tern_directory_p2p_serve(server, TERN_DIRECTORY_P2P_THREAD), 0);
	assert_int_equal(tern_directory_p2p_set_handler(server, reverse_handler, &calls), 0);
	usleep(100000); /* the old connection's close has reached this side */
	assert_int_equal(tern_directory_p2p_call(client, "alpha", "seg0", req, 4, rep, &len), 0);
	assert_int_equal(calls, 22);
	assert_int_equal(client_sockets(port, &now), 1);
	assert_int_not_equal(now, first);
	/* The handle's close closes it. */
	tern_directory_close(client);
	assert_int_equal(client_sockets(port, &now), 0);
	tern_directory_close(server);
}

static void
p2p_call_reaches_the_handler(void **state)
{
	uint8_t req[TERN_DIRECTORY_P2P_MSG_MAX + 1], rep[TERN_DIRECTORY_P2P_MSG_MAX];
	struct tern_directory *server, *client, *e;
	unsigned int calls = 0, i;
	size_t len = 0;
	char long_msg[2 * TERN_DIRECTORY_P2P_MSG_MAX + 3];
	uint8_t buf[4 + 1024];
	int port;

	(void)state;
	server = tern_directory_open("p2p://127.0.0.1:0", NULL);
	assert_non_null(server);
	assert_int_equal(tern_directory_p2p_serve(server, TERN_DIRECTORY_P2P_THREAD), 0);
	port = tern_directory_p2p_port(server);
	client = client_for(server, 1);
	assert_non_null(client);
	for (i = 0; i < sizeof(req); i++)
		req[i] = (uint8_t)(i * 7 + 1);
	/* No handler yet: -ENOENT. */
	assert_int_equal(tern_directory_p2p_call(client, "alpha", "seg0", req, 4, rep, &len),
			 -ENOENT);
	assert_int_equal(tern_directory_p2p_set_handler(server, reverse_handler, &calls), 0);
	/* Every byte value and both length bounds cross intact. */
	for (i = 0; i < 256; i++)
		req[i] = (uint8_t)i;
	assert_int_equal(tern_directory_p2p_call(client, "alpha", "seg0", req, 256, rep, &len), 0);
	assert_int_equal(len, 256);
	for (i = 0; i < 256; i++)
		assert_int_equal(rep[i], 255 - i);
	assert_int_equal(tern_directory_p2p_call(client, "alpha", "seg0", req, 1, rep, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(rep[0], 0);
	/* The handler's refusal. */
	assert_int_equal(tern_directory_p2p_call(client, "alpha", "seg9", req, 1, rep, &len),
			 -ENOENT);
	assert_int_equal(calls, 3);
	/* Bad arguments, refused before the wire. */
	assert_int_equal(tern_directory_p2p_call(client, "alpha", "seg0", req, 0, rep, &len),
			 -EINVAL);
	assert_int_equal(tern_directory_p2p_call(client, "alpha", "seg0", req, 257, rep, &len),
			 -EINVAL);
	assert_int_equal(tern_directory_p2p_call(client, "al pha", "seg0", req, 1, rep, &len),
			 -EINVAL);
	assert_int_equal(tern_directory_p2p_call(client, "alpha", "seg0", NULL, 1, rep, &len),
			 -EINVAL);
	assert_int_equal(tern_directory_p2p_call(client, "alpha", "seg0", req, 1, NULL, &len),
			 -EINVAL);
	assert_int_equal(tern_directory_p2p_call(NULL, "alpha", "seg0", req, 1, rep, &len),
			 -EINVAL);
	e = tern_directory_open("etcd://127.0.0.1:1/x", NULL);
	assert_non_null(e);
	assert_int_equal(tern_directory_p2p_call(e, "alpha", "seg0", req, 1, rep, &len), -EINVAL);
	assert_int_equal(tern_directory_p2p_set_handler(e, reverse_handler, &calls), -EINVAL);
	tern_directory_close(e);
	/* A message over 256 bytes on a raw socket: closed, handler not run. */
	memset(long_msg, '0', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	{
		char payload[1024];

		snprintf(payload, sizeof(payload),
			 "{\"v\":1,\"op\":\"call\",\"node\":\"alpha\",\"segment\":\"seg0\","
			 "\"msg\":\"%s\"}",
			 long_msg);
		frame(buf, (uint32_t)strlen(payload), payload);
		assert_true(send_garbage(port, buf, 4 + strlen(payload)));
	}
	assert_int_equal(calls, 3);
	tern_directory_close(client);
	tern_directory_close(server);
}

/* A peer's answer to a call, parsed strictly. */
static void
p2p_call_answer_strict(void **state)
{
	static const struct {
		const char *answer;
		int want;
	} cases[] = {
		{ "{\"v\":1,\"status\":0,\"msg\":\"0a0b\"}", 0 },
		{ "{\"v\":1,\"status\":-2}", -ENOENT },
		{ "{\"v\":1,\"status\":0}", -EPROTO },
		{ "{\"v\":1,\"status\":0,\"msg\":\"\"}", -EPROTO },
		{ "{\"v\":1,\"status\":0,\"msg\":\"0A0B\"}", -EPROTO },
		{ "{\"v\":1,\"status\":0,\"msg\":\"abc\"}", -EPROTO },
		{ "{\"v\":1,\"status\":0,\"msg\":\"zz\"}", -EPROTO },
		{ "{\"v\":1,\"status\":0,\"msg\":7}", -EPROTO },
		{ "{\"v\":1,\"status\":0,\"msg\":\"00\",\"x\":1}", -EPROTO },
		{ "{\"v\":1,\"status\":-22}", -EPROTO },
	};
	struct tern_directory_conf conf = { .timeout_ms = 2000 };
	uint8_t req[2] = { 1, 2 }, rep[TERN_DIRECTORY_P2P_MSG_MAX];
	struct tern_directory *client;
	struct fake_peer fp;
	size_t len = 0;
	char uri[64];
	unsigned int i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&fp, 0, sizeof(fp));
		snprintf(fp.answer, sizeof(fp.answer), "%s", cases[i].answer);
		fake_peer_start(&fp);
		snprintf(uri, sizeof(uri), "p2p://127.0.0.1:%d", fp.port);
		client = tern_directory_open(uri, &conf);
		assert_non_null(client);
		rc = tern_directory_p2p_call(client, "alpha", "seg0", req, 2, rep, &len);
		tern_directory_close(client);
		pthread_join(fp.thread, NULL);
		close(fp.lfd);
		if (rc != cases[i].want)
			fail_msg("answer %s: got %d, want %d", cases[i].answer, rc, cases[i].want);
		if (rc == 0)
			assert_true(len == 2 && rep[0] == 10 && rep[1] == 11);
	}
}

static void
p2p_serve_needs_p2p_and_a_free_port(void **state)
{
	struct tern_directory *a, *b, *e;
	char uri[64];

	(void)state;
	e = tern_directory_open("etcd://127.0.0.1:1/x", NULL);
	assert_non_null(e);
	assert_int_equal(tern_directory_p2p_serve(e, 0), -EINVAL);
	tern_directory_close(e);
	a = tern_directory_open("p2p://127.0.0.1:0", NULL);
	assert_non_null(a);
	assert_int_equal(tern_directory_p2p_serve(a, 0), 0);
	snprintf(uri, sizeof(uri), "p2p://127.0.0.1:%d", tern_directory_p2p_port(a));
	b = tern_directory_open(uri, NULL);
	assert_non_null(b);
	assert_int_equal(tern_directory_p2p_serve(b, 0), -EADDRINUSE);
	assert_int_equal(tern_directory_p2p_serve(b, 0x80), -EINVAL);
	tern_directory_close(b);
	tern_directory_close(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uri_rejects_malformed),
		cmocka_unit_test(uri_accepts_wellformed),
		cmocka_unit_test(unreachable_backends_fail_cleanly),
		cmocka_unit_test(p2p_serves_lookup_and_list),
		cmocka_unit_test(p2p_stale_cached_descriptor_fails_cleanly),
		cmocka_unit_test(p2p_server_survives_garbage),
		cmocka_unit_test(p2p_serve_needs_p2p_and_a_free_port),
		cmocka_unit_test(p2p_foreign_status_becomes_eproto),
		cmocka_unit_test(p2p_call_reaches_the_handler),
		cmocka_unit_test(p2p_call_keeps_its_connection),
		cmocka_unit_test(p2p_call_answer_strict),
	};

	rte_log_set_level_pattern("tern.directory", RTE_LOG_WARNING);
	rte_log_set_level_pattern("tern.descriptor", RTE_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
