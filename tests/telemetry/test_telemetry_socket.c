/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The /tern/ commands through DPDK's real telemetry socket: an engine moves
 * data while check_telemetry.py queries every command with Debian's
 * dpdk-telemetry.py, checks the JSON, changes settings and runs tern-top.
 *
 * usage: test_telemetry_socket <file-prefix> <python3> <check_telemetry.py>
 *        <dpdk-telemetry.py> <tern-top>
 * (run_socket_test.sh picks the prefix and removes its runtime directory.)
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

#include <tern_engine.h>
#include <tern_segment.h>
#include <tern_telemetry.h>

#include "test_common.h"

#define BUF_BYTES  (8u << 20)
#define NB_PADDING 70 /* more than one page of /tern/segments */
#define PAD_BYTES  4096u
#define NODE	   "telnode"

static struct {
	const char *prefix, *python, *check, *client, *top;
	struct tern_segment_table *tbl;
	struct tern_engine *engine;
	uint8_t *src, *dst, *pad;
	uint32_t src_h, dst_h;
	volatile bool stop;
	pthread_t traffic;
} g;

static uint32_t
register_local(const char *name, void *addr, uint64_t length)
{
	struct tern_segment_conf conf = { 0 };
	uint32_t h;

	conf.name = name;
	conf.addr = addr;
	conf.length = length;
	conf.socket_id = SOCKET_ID_ANY;
	assert_int_equal(tern_segment_register(g.tbl, &conf, &h), 0);
	return h;
}

static int
setup(void **state)
{
	struct tern_engine_conf conf = { 0 };
	char name[TERN_SEGMENT_NAME_MAX];
	unsigned int i;

	(void)state;
	g.tbl = tern_segment_table_create("t_tel", 256, SOCKET_ID_ANY);
	assert_non_null(g.tbl);
	g.src = aligned_alloc(4096, BUF_BYTES);
	g.dst = aligned_alloc(4096, BUF_BYTES);
	g.pad = aligned_alloc(4096, NB_PADDING * PAD_BYTES);
	assert_non_null(g.src);
	assert_non_null(g.dst);
	assert_non_null(g.pad);
	g.src_h = register_local("src", g.src, BUF_BYTES);
	g.dst_h = register_local("dst", g.dst, BUF_BYTES);
	/* Long names: the widest rows a page of /tern/segments can have. */
	for (i = 0; i < NB_PADDING; i++) {
		snprintf(name, sizeof(name), "telemetry_pagination_segment_long_name_%02u", i);
		register_local(name, g.pad + (size_t)i * PAD_BYTES, PAD_BYTES);
	}
	conf.name = "e_tel";
	conf.segments = g.tbl;
	conf.flags = TERN_ENGINE_F_IDLE_YIELD;
	g.engine = tern_engine_create(&conf);
	if (g.engine == NULL)
		fprintf(stderr, "tern_engine_create: %s\n", rte_strerror(rte_errno));
	assert_non_null(g.engine);
	return 0;
}

static int
teardown(void **state)
{
	uint32_t h;

	(void)state;
	tern_telemetry_unregister();
	if (g.engine != NULL)
		assert_int_equal(tern_engine_destroy(g.engine), 0);
	while ((h = tern_segment_next(g.tbl, 0)) != TERN_SEGMENT_INVALID)
		assert_int_equal(tern_segment_unregister(g.tbl, h), 0);
	assert_int_equal(tern_segment_table_free(g.tbl), 0);
	free(g.src);
	free(g.dst);
	free(g.pad);
	return 0;
}

/* Copies src to dst over and over so that tern-top sees rates. */
static void *
traffic(void *arg)
{
	struct tern_client_conf cc = { .flags = TERN_CLIENT_F_NO_CQ };
	struct tern_request r = { .op = TERN_OP_WRITE, .segment = 0, .length = 1u << 20 };
	struct tern_client *c = tern_client_create(g.engine, &cc);
	struct tern_notify n = { .tag = 1 };
	struct tern_notification got[4];
	struct tern_future *f;

	(void)arg;
	if (c == NULL)
		return (void *)1;
	r.segment = g.dst_h;
	r.local = g.src;
	while (!g.stop) {
		/* Every batch notifies this node; /tern/notify counts them. */
		f = tern_submit(c, &r, 1, &(struct tern_submit_opts){ .notify = &n });
		if (f == NULL) {
			usleep(1000);
			continue;
		}
		tern_future_wait(f, UINT64_MAX);
		tern_future_release(f);
		tern_notify_poll(c, got, RTE_DIM(got));
		usleep(200);
	}
	tern_client_destroy(c);
	return NULL;
}

/* Run check_telemetry.py in @p mode; return its exit status. */
static int
run_check(const char *mode, const char *extra)
{
	char pid[16];
	int status;
	pid_t child;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	fflush(NULL);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		execl(g.python, g.python, g.check, "--mode", mode, "--prefix", g.prefix, "--client",
		      g.client, "--top", g.top, "--pid", pid, "--node", NODE, "--segments", extra,
		      (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void
register_refuses_bad_configuration(void **state)
{
	struct tern_telemetry_conf conf = { .engine = g.engine, .segments = g.tbl };
	char longname[80];

	(void)state;
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(tern_telemetry_register(NULL), -EINVAL);
	conf.engine = NULL;
	assert_int_equal(tern_telemetry_register(&conf), -EINVAL);
	conf.engine = g.engine;
	conf.node = longname;
	assert_int_equal(tern_telemetry_register(&conf), -EINVAL);
	conf.node = NULL;
	conf.version = longname;
	assert_int_equal(tern_telemetry_register(&conf), -EINVAL);
	/* Unregistering when not registered is harmless. */
	tern_telemetry_unregister();
}

static void
every_command_answers_through_dpdk_telemetry(void **state)
{
	struct tern_telemetry_conf conf = { .engine = g.engine, .segments = g.tbl, .node = NODE };
	struct tern_client_conf cc = { .flags = TERN_CLIENT_F_NO_CQ };
	struct tern_client *c = tern_client_create(g.engine, &cc);
	struct tern_future *f;
	struct tern_engine_conf ec;
	struct tern_request r;
	char nsegs[16];
	int i, ret, log_type;
	void *tret;

	(void)state;
	assert_int_equal(tern_telemetry_register(&conf), 0);
	assert_int_equal(tern_telemetry_register(&conf), -EEXIST);

	/* Move some data first, and check it arrived. */
	assert_non_null(c);
	test_pattern_fill(g.src, BUF_BYTES, 7, 0);
	for (i = 0; i < 4; i++) {
		r = (struct tern_request){
			.op = TERN_OP_WRITE, .segment = g.dst_h, .local = g.src, .length = BUF_BYTES
		};
		f = tern_submit(c, &r, 1, NULL);
		assert_int_equal(test_wait_release(f), 0);
	}
	assert_int_equal(test_pattern_check(g.dst, BUF_BYTES, 7, 0), SIZE_MAX);

	g.stop = false;
	assert_int_equal(pthread_create(&g.traffic, NULL, traffic, NULL), 0);
	snprintf(nsegs, sizeof(nsegs), "%u", NB_PADDING + 2);
	ret = run_check("attached", nsegs);
	g.stop = true;
	assert_int_equal(pthread_join(g.traffic, &tret), 0);
	assert_null(tret);
	assert_int_equal(tern_client_destroy(c), 0);
	assert_int_equal(ret, 0);

	/* What the script set over the socket is what the engine now runs with. */
	assert_int_equal(tern_engine_get_conf(g.engine, &ec), 0);
	assert_int_equal(ec.slice_bytes, 1u << 20);
	assert_int_equal(ec.deadline_ns, 250ull * 1000000);
	log_type = rte_log_register("tern.engine");
	assert_true(log_type >= 0);
	assert_int_equal(rte_log_get_level((uint32_t)log_type), RTE_LOG_NOTICE);
	assert_int_equal(rte_log_get_level((uint32_t)rte_log_register("tern.segment")),
			 RTE_LOG_NOTICE);
}

static void
commands_answer_an_error_once_unregistered(void **state)
{
	struct tern_telemetry_conf conf = { .engine = g.engine, .segments = g.tbl, .node = NODE };

	(void)state;
	tern_telemetry_unregister();
	assert_int_equal(run_check("detached", "0"), 0);
	/* And they can be pointed at an engine again. */
	assert_int_equal(tern_telemetry_register(&conf), 0);
	tern_telemetry_unregister();
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(register_refuses_bad_configuration),
		cmocka_unit_test(every_command_answers_through_dpdk_telemetry),
		cmocka_unit_test(commands_answer_an_error_once_unregistered),
	};
	char *eal[] = { argv[0],       "--no-huge",	"-m",		"512",
			"--no-pci",    "--file-prefix", NULL,		"--lcores",
			"(0-2)@(0-1)", "--log-level",	"lib.eal:error" };
	int ret;

	if (argc != 6) {
		fprintf(stderr,
			"usage: %s <file-prefix> <python3> <check_telemetry.py> "
			"<dpdk-telemetry.py> <tern-top>\n",
			argv[0]);
		return 2;
	}
	g.prefix = argv[1];
	g.python = argv[2];
	g.check = argv[3];
	g.client = argv[4];
	g.top = argv[5];
	eal[6] = argv[1];
	/* Telemetry stays on (no --no-telemetry): the socket is what is tested. */
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	ret = cmocka_run_group_tests(tests, setup, teardown);
	rte_eal_cleanup();
	return ret;
}
