/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The etcd and redis backends against a real server (started by
 * with_server.sh): publish, resolve, expiry when the publisher dies or stops
 * refreshing, stale descriptors, what etcdctl / redis-cli see, bad entries.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_log.h>

#include <tern_directory.h>

#define TTL_S	      2
#define GONE_BOUND_MS 20000 /* generous: an entry must vanish within this */
#define CHILD_LIFE_MS 60000 /* a killed publisher is killed long before this */
#define CLI_TIMEOUT_S 30    /* one etcdctl / redis-cli command line */

static const char *backend;  /* "etcd" or "redis" */
static const char *endpoint; /* host:port */
static char prefix[64];	     /* unique per run */

static void
sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Waits are bounded on this clock: a lookup itself may take up to its
 * timeout, so counting sleeps alone would not bound them. */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct tern_directory *
open_dir(const char *sub, uint32_t cache_ms)
{
	struct tern_directory_conf conf = { .ttl_s = TTL_S, .cache_ms = cache_ms };
	struct tern_directory *dir;
	char uri[256];

	snprintf(uri, sizeof(uri), "%s://%s/%s/%s", backend, endpoint, prefix, sub);
	dir = tern_directory_open(uri, &conf);
	if (dir == NULL)
		fail_msg("open %s: %d", uri, rte_errno);
	return dir;
}

static void
make(struct tern_descriptor *d, const char *node, const char *segment, uint64_t id)
{
	assert_int_equal(tern_descriptor_init(d, node, segment, 1 << 16), 0);
	assert_int_equal(tern_descriptor_set_str(d, "tcp", "addr", "127.0.0.1"), 0);
	assert_int_equal(tern_descriptor_set_u64(d, "tcp", "port", 7001), 0);
	assert_int_equal(tern_descriptor_set_u64(d, "tcp", "id", id), 0);
	assert_int_equal(tern_descriptor_set_str(d, "shm", "path", "/dev/hugepages/x"), 0);
}

static void
publish(struct tern_directory *dir, const char *node, const char *segment, uint64_t id)
{
	struct tern_descriptor d;

	make(&d, node, segment, id);
	assert_int_equal(tern_directory_publish(dir, &d), 0);
	tern_descriptor_fini(&d);
}

/* Poll until the lookup fails; return its error (0 if it never did). */
static int
wait_gone(struct tern_directory *dir, const char *node, const char *segment)
{
	uint64_t deadline = now_ms() + GONE_BOUND_MS;
	struct tern_descriptor d;
	int rc;

	while (now_ms() < deadline) {
		rc = tern_directory_lookup(dir, node, segment, &d);
		if (rc != 0)
			return rc;
		tern_descriptor_fini(&d);
		sleep_ms(100);
	}
	return 0;
}

/* Run a shell command line, killed after CLI_TIMEOUT_S; its output (trimmed)
 * in @p out. The line goes through the environment so that its quotes need
 * no second layer of escaping. */
static int run(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
run(char *out, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	size_t n = 0;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(setenv("TERN_TEST_CMD", cmd, 1), 0);
	f = popen("timeout " RTE_STR(CLI_TIMEOUT_S) " sh -c \"$TERN_TEST_CMD\"", "r");
	assert_non_null(f);
	while (n + 1 < len && fgets(out + n, (int)(len - n), f) != NULL)
		n = strlen(out);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return pclose(f);
}

static void
host_port(char *host, size_t len, int *port)
{
	const char *colon = strrchr(endpoint, ':');

	snprintf(host, len, "%.*s", (int)(colon - endpoint), endpoint);
	*port = atoi(colon + 1);
}

static void
publish_then_resolve(void **state)
{
	struct tern_directory *pub, *cli;
	struct tern_descriptor d, all[8];
	uint64_t id;
	int i, n;

	(void)state;
	pub = open_dir("resolve", 0);
	cli = open_dir("resolve", 1); /* 1 ms: every lookup sees the latest */
	publish(pub, "dp1", "seg0", 10);
	publish(pub, "dp1", "seg1", 11);
	publish(pub, "dp1", "seg2", 12);
	publish(pub, "dp10", "seg0", 13); /* a node whose name extends dp1's */
	assert_int_equal(tern_directory_keepalive(pub), 0);

	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg1", &d), 0);
	assert_string_equal(d.segment, "seg1");
	assert_int_equal(tern_descriptor_get_u64(&d, "tcp", "id", &id), 0);
	assert_int_equal(id, 11);
	assert_int_equal(tern_directory_check(cli, &d), 0);
	tern_descriptor_fini(&d);
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg9", &d), -ENOENT);
	assert_int_equal(tern_directory_lookup(cli, "dp2", "seg0", &d), -ENOENT);

	n = tern_directory_list(cli, "dp1", all, 8);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_string_equal(all[i].node, "dp1");
		tern_descriptor_fini(&all[i]);
	}
	assert_int_equal(tern_directory_list(cli, "dp10", all, 8), 1);
	tern_descriptor_fini(&all[0]);

	/* Replacing keeps one entry and changes what is resolved. */
	publish(pub, "dp1", "seg1", 21);
	sleep_ms(10); /* past the 1 ms staleness bound */
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg1", &d), 0);
	assert_int_equal(tern_descriptor_get_u64(&d, "tcp", "id", &id), 0);
	assert_int_equal(id, 21);
	tern_descriptor_fini(&d);
	assert_int_equal(tern_directory_list(cli, "dp1", NULL, 0), 3);

	/* Closing the publisher withdraws everything it published. */
	tern_directory_close(pub);
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg0", &d), -ENOENT);
	assert_int_equal(tern_directory_list(cli, "dp1", NULL, 0), 0);
	tern_directory_close(cli);
}

static void
cli_tools_read_what_tern_wrote(void **state)
{
	char want[TERN_DESCRIPTOR_WIRE_MAX + 1], out[8192], host[64];
	struct tern_descriptor d, back;
	struct tern_directory *pub;
	int port, ttl;

	(void)state;
	pub = open_dir("cli", 0);
	make(&d, "dp1", "seg0", 42);
	assert_int_equal(tern_directory_publish(pub, &d), 0);
	assert_true(tern_descriptor_encode(&d, want, sizeof(want)) > 0);
	host_port(host, sizeof(host), &port);
	if (strcmp(backend, "etcd") == 0) {
		assert_int_equal(run(out, sizeof(out),
				     "ETCDCTL_API=3 etcdctl --endpoints %s get --prefix /%s/cli/ "
				     "--print-value-only",
				     endpoint, prefix),
				 0);
		assert_string_equal(out, want);
		/* Attached to a lease (that is what makes it vanish). */
		assert_int_equal(run(out, sizeof(out),
				     "ETCDCTL_API=3 etcdctl --endpoints %s get /%s/cli/dp1/seg0 "
				     "-w fields | grep '\"Lease\"'",
				     endpoint, prefix),
				 0);
		assert_null(strstr(out, ": 0"));
	} else {
		assert_int_equal(run(out, sizeof(out),
				     "redis-cli -h %s -p %d --raw GET %s/cli/dp1/seg0", host, port,
				     prefix),
				 0);
		assert_string_equal(out, want);
		assert_int_equal(run(out, sizeof(out), "redis-cli -h %s -p %d TTL %s/cli/dp1/seg0",
				     host, port, prefix),
				 0);
		ttl = atoi(out);
		assert_true(ttl >= 1 && ttl <= TTL_S);
	}
	/* And what the tools print decodes back to the same descriptor. */
	assert_int_equal(tern_descriptor_decode(&back, want, strlen(want)), 0);
	assert_true(tern_descriptor_equal(&d, &back));
	tern_descriptor_fini(&back);
	tern_descriptor_fini(&d);
	tern_directory_close(pub);
}

static void
entries_vanish_when_the_publisher_is_killed(void **state)
{
	struct tern_directory *pub, *cli;
	struct tern_descriptor d;
	int ready[2], status, rc;
	uint64_t deadline;
	char c = 0;
	pid_t child;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* The "dataplane": publish, then keep alive until killed. */
		close(ready[0]);
		pub = open_dir("kill", 0);
		make(&d, "dp1", "seg0", 1);
		c = tern_directory_publish(pub, &d) == 0 ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		/* Bounded, so that it cannot outlive a parent that failed. */
		for (deadline = now_ms() + CHILD_LIFE_MS; now_ms() < deadline;) {
			tern_directory_keepalive(pub);
			sleep_ms(300);
		}
		_exit(1);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	cli = open_dir("kill", 100);
	if (c != 'y') {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		fail_msg("the child could not publish");
	}
	/* Kept alive: still there well past the TTL. */
	sleep_ms(TTL_S * 1000 + 1500);
	rc = tern_directory_lookup(cli, "dp1", "seg0", &d);
	if (rc == 0)
		tern_descriptor_fini(&d);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	assert_int_equal(rc, 0);
	/* Killed: nobody renews, the entry expires and the cached copy goes stale. */
	rc = wait_gone(cli, "dp1", "seg0");
	assert_true(rc == -ESTALE || rc == -ENOENT);
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg0", &d), -ENOENT);
	tern_directory_close(cli);
}

static void
keepalive_restores_expired_entries(void **state)
{
	struct tern_directory *pub, *cli;
	struct tern_descriptor d;
	int rc;

	(void)state;
	pub = open_dir("restore", 0);
	cli = open_dir("restore", 100);
	publish(pub, "dp1", "seg0", 1);
	publish(pub, "dp1", "seg1", 2);
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg0", &d), 0);
	tern_descriptor_fini(&d);
	/* A publisher that paused too long loses its entries... */
	rc = wait_gone(cli, "dp1", "seg0");
	assert_true(rc == -ESTALE || rc == -ENOENT);
	/* ...and its next keepalive writes them all again. */
	assert_int_equal(tern_directory_keepalive(pub), 0);
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg0", &d), 0);
	tern_descriptor_fini(&d);
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg1", &d), 0);
	tern_descriptor_fini(&d);
	/* Publishing after the loss works too. */
	publish(pub, "dp1", "seg2", 3);
	assert_int_equal(tern_directory_list(cli, "dp1", NULL, 0), 3);
	tern_directory_close(pub);
	tern_directory_close(cli);
}

static void
stale_cached_descriptor_fails_cleanly(void **state)
{
	struct tern_directory *pub, *cli, *slow;
	struct tern_descriptor d, held;
	int rc;

	(void)state;
	pub = open_dir("stale", 0);
	cli = open_dir("stale", 300);
	slow = open_dir("stale", 3600000);
	publish(pub, "dp1", "seg0", 1);
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg0", &held), 0);
	assert_int_equal(tern_directory_lookup(slow, "dp1", "seg0", &d), 0);
	tern_descriptor_fini(&d);

	assert_int_equal(tern_directory_unpublish(pub, "dp1", "seg0"), 0);
	/* Revalidation notices at once, whatever the cache says. */
	assert_int_equal(tern_directory_check(slow, &held), -ESTALE);
	assert_int_equal(tern_directory_lookup(slow, "dp1", "seg0", &d), -ENOENT);
	/* A plain lookup notices within the staleness bound, with -ESTALE. */
	rc = wait_gone(cli, "dp1", "seg0");
	assert_int_equal(rc, -ESTALE);
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg0", &d), -ENOENT);

	/* Republished with other contents: the held copy is stale too. */
	publish(pub, "dp1", "seg0", 2);
	assert_int_equal(tern_directory_check(cli, &held), -ESTALE);
	tern_descriptor_fini(&held);
	tern_directory_close(pub);
	tern_directory_close(cli);
	tern_directory_close(slow);
}

static void
malformed_entries_are_rejected(void **state)
{
	static const char bad[] = "{\"v\":1,\"node\":\"dp1\",\"segment\":\"seg0\"}";
	static const char other[] = "{\"v\":1,\"node\":\"dp1\",\"segment\":\"elsewhere\","
				    "\"length\":1,\"transports\":{}}";
	static const char future[] = "{\"v\":9}";
	struct tern_directory *pub, *cli;
	struct tern_descriptor d, all[4];
	char out[256], host[64];
	int port;

	(void)state;
	pub = open_dir("bad", 0);
	cli = open_dir("bad", 0);
	publish(pub, "dp1", "good", 1);
	host_port(host, sizeof(host), &port);
	if (strcmp(backend, "etcd") == 0) {
		assert_int_equal(
			run(out, sizeof(out),
			    "ETCDCTL_API=3 etcdctl --endpoints %s put /%s/bad/dp1/seg0 '%s'"
			    " && ETCDCTL_API=3 etcdctl --endpoints %s put /%s/bad/dp1/seg1 '%s'"
			    " && ETCDCTL_API=3 etcdctl --endpoints %s put /%s/bad/dp1/seg2 '%s'",
			    endpoint, prefix, bad, endpoint, prefix, other, endpoint, prefix,
			    future),
			0);
	} else {
		assert_int_equal(
			run(out, sizeof(out),
			    "redis-cli -h %s -p %d SET %s/bad/dp1/seg0 '%s' >/dev/null"
			    " && redis-cli -h %s -p %d SET %s/bad/dp1/seg1 '%s' >/dev/null"
			    " && redis-cli -h %s -p %d SET %s/bad/dp1/seg2 '%s' >/dev/null",
			    host, port, prefix, bad, host, port, prefix, other, host, port, prefix,
			    future),
			0);
	}
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg0", &d), -EPROTO);
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg1", &d), -EPROTO);
	assert_int_equal(tern_directory_lookup(cli, "dp1", "seg2", &d), -EPROTO);
	/* A listing skips them and still returns the good one. */
	assert_int_equal(tern_directory_list(cli, "dp1", all, 4), 1);
	assert_string_equal(all[0].segment, "good");
	tern_descriptor_fini(&all[0]);
	tern_directory_close(pub);
	tern_directory_close(cli);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(publish_then_resolve),
		cmocka_unit_test(cli_tools_read_what_tern_wrote),
		cmocka_unit_test(stale_cached_descriptor_fails_cleanly),
		cmocka_unit_test(malformed_entries_are_rejected),
		cmocka_unit_test(entries_vanish_when_the_publisher_is_killed),
		cmocka_unit_test(keepalive_restores_expired_entries),
	};

	backend = getenv("TERN_TEST_BACKEND");
	endpoint = getenv("TERN_TEST_ENDPOINT");
	if (backend == NULL || endpoint == NULL || strrchr(endpoint, ':') == NULL) {
		fprintf(stderr, "run through tests/directory/with_server.sh etcd|redis\n");
		return 1;
	}
	snprintf(prefix, sizeof(prefix), "tern-test-%d", (int)getpid());
	rte_log_set_level_pattern("tern.directory", RTE_LOG_WARNING);
	rte_log_set_level_pattern("tern.descriptor", RTE_LOG_WARNING);
	return cmocka_run_group_tests_name(backend, tests, NULL, NULL);
}
