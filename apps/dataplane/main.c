/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-dataplane: one per host. Owns the hugepage segments it exports and the
 * EAL's worker lcores, hosts clients (in DPDK secondary processes attached
 * with tern_client_attach()), answers telemetry, and runs until SIGINT or
 * SIGTERM, when it drains work in flight within --drain-ms and exits 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include <tern_build_config.h>
#include <tern_engine.h>
#include <tern_segment.h>
#ifdef TERN_HAVE_TELEMETRY
#include <tern_telemetry.h>
#endif

#include "dataplane_args.h"

#define DEFAULT_DRAIN_MS 2000

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	static const char msg[] = "tern-dataplane: second signal, exiting now\n";

	(void)sig;
	if (stop_requested) {
		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			_exit(1);
		_exit(1);
	}
	stop_requested = 1;
}

/* Finds the application's arguments (after "--") without touching the EAL's. */
static int
app_args_start(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return argc;
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
die(const char *fmt, ...)
{
	va_list ap;

	fputs("tern-dataplane: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int
main(int argc, char **argv)
{
	struct dp_args args = { 0 };
	struct tern_engine_conf ec = { 0 };
	struct tern_segment_table *tbl = NULL;
	struct tern_engine *engine = NULL;
	struct sigaction sa;
	char err[256], node[DP_NAME_MAX];
	int sep, ret, rc = 1;
	unsigned int i;
	uint32_t h;

	/* Application options first: a bad one never starts the EAL. */
	sep = app_args_start(argc, argv);
	ret = dp_args_parse(sep < argc ? argc - sep : 1, sep < argc ? argv + sep : argv, &args, err,
			    sizeof(err));
	if (ret != 0)
		return die("%s (see --help)", err);
	if (args.help) {
		dp_args_usage(argv[0]);
		return 0;
	}
	if (args.config[0] != '\0' && dp_args_load_config(args.config, &args, err, sizeof(err)))
		return die("%s", err);
	if (args.nb_segments == 0)
		return die("no --segment given: export at least one (e.g. --segment kv:64M)");
	if (args.node[0] == '\0') {
		if (gethostname(node, sizeof(node)) != 0)
			snprintf(node, sizeof(node), "node");
		node[sizeof(node) - 1] = '\0';
		snprintf(args.node, sizeof(args.node), "%s", node);
	}
	if (args.engine[0] == '\0')
		snprintf(args.engine, sizeof(args.engine), "tern");

	ret = rte_eal_init(sep, argv);
	if (ret < 0)
		return die("EAL initialisation failed: %s", rte_strerror(rte_errno));
	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		rc = die("must run as the DPDK primary process (drop --proc-type)");
		goto out;
	}
	if (rte_lcore_count() < 2) {
		rc = die("no worker lcore: give the EAL at least two lcores (e.g. -l 0-1)");
		goto out;
	}
	if (args.log_level != 0)
		rte_log_set_level_pattern("tern.*", (uint32_t)args.log_level);

	tbl = tern_segment_table_create(args.engine, 256, SOCKET_ID_ANY);
	if (tbl == NULL) {
		rc = die("segment table: %s", rte_strerror(rte_errno));
		goto out;
	}
	for (i = 0; i < args.nb_segments; i++) {
		ret = tern_segment_alloc(tbl, args.segments[i].name, args.segments[i].size,
					 SOCKET_ID_ANY, &h);
		if (ret != 0) {
			rc = die("segment %s: cannot allocate %" PRIu64
				 " bytes of hugepage memory: %s",
				 args.segments[i].name, args.segments[i].size, strerror(-ret));
			goto out;
		}
	}

	ec.name = args.engine;
	ec.segments = tbl;
	ec.slice_bytes = args.slice_bytes;
	ec.deadline_ns = args.deadline_ms * 1000000ull;
	ec.max_clients = (uint32_t)args.max_clients;
	ec.drain_ns = (args.drain_ms != 0 ? args.drain_ms : DEFAULT_DRAIN_MS) * 1000000ull;
	engine = tern_engine_create(&ec);
	if (engine == NULL) {
		rc = die("engine: %s", rte_strerror(rte_errno));
		goto out;
	}
#ifdef TERN_HAVE_TELEMETRY
	ret = tern_telemetry_register(&(struct tern_telemetry_conf){
		.engine = engine, .segments = tbl, .node = args.node, .version = TERN_VERSION });
	if (ret != 0) {
		rc = die("telemetry: %s", strerror(-ret));
		goto out;
	}
#endif

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	printf("tern-dataplane: ready: engine %s, node %s, %u worker lcores, %u segments, runtime "
	       "dir %s\n",
	       args.engine, args.node, rte_lcore_count() - 1, args.nb_segments,
	       rte_eal_get_runtime_dir());
	fflush(stdout);
	while (!stop_requested)
		usleep(50 * 1000);

	printf("tern-dataplane: stopping: draining work in flight (at most %" PRIu64 " ms)\n",
	       ec.drain_ns / 1000000);
	fflush(stdout);
	rc = 0;
out:
#ifdef TERN_HAVE_TELEMETRY
	tern_telemetry_unregister();
#endif
	if (engine != NULL && tern_engine_destroy(engine) != 0)
		rc = 1;
	if (tbl != NULL) {
		while ((h = tern_segment_next(tbl, 0)) != TERN_SEGMENT_INVALID)
			if (tern_segment_unregister(tbl, h) != 0)
				break;
		tern_segment_table_free(tbl);
	}
	rte_eal_cleanup();
	if (rc == 0)
		printf("tern-dataplane: stopped\n");
	return rc;
}
