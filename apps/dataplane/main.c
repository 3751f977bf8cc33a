/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-dataplane: one per host. Owns the hugepage segments it exports and the
 * EAL's worker lcores, hosts clients (in DPDK secondary processes attached
 * with tern_client_attach()), answers telemetry, and runs until SIGINT or
 * SIGTERM, when it drains work in flight within --drain-ms and exits 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include <tern_build_config.h>
#include <tern_directory.h>
#include <tern_engine.h>
#include <tern_peer.h>
#include <tern_segment.h>
#include <tern_store.h>
#include <tern_telemetry.h>
#include <tern_transport.h>

#include "dataplane_args.h"

#define DEFAULT_DRAIN_MS 2000
/* Directory entries are refreshed well inside their default 10 s life. */
#define KEEPALIVE_FIRST_MS 1000
#define KEEPALIVE_MS	   2000
/* The control loop's period: peers' upkeep and IPC resolves run at this pace. */
#define CONTROL_PERIOD_US 10000

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

/* Everything the dataplane runs, in the order it is started. */
struct dataplane {
	struct dp_args args;
	struct tern_segment_table *tbl;
	struct tern_engine *engine;
	struct tern_engine_conf ec;
	struct tern_directory *dir;
	struct tern_peers *peers;
	struct tern_store_owner *owner;	  /* --store-capacity */
	struct tern_notify_queue *notify; /* this node's notifications (doc/notify.md) */
	bool p2p;			  /* dir serves descriptors itself (p2p://) */
	uint64_t keepalive_tsc;		  /* next directory keepalive (etcd, Redis) */
};

/* The options, the config file and the defaults; 0, or the exit status. */
static int
options(struct dataplane *dp, int argc, char **argv, int *eal_argc)
{
	struct dp_args *a = &dp->args;
	char err[256];
	int sep;

	/* Application options first: a bad one never starts the EAL. */
	sep = app_args_start(argc, argv);
	*eal_argc = sep;
	if (dp_args_parse(sep < argc ? argc - sep : 1, sep < argc ? argv + sep : argv, a, err,
			  sizeof(err)) != 0)
		return die("%s (see --help)", err);
	if (a->help) {
		dp_args_usage(argv[0]);
		return -1;
	}
	if (a->config[0] != '\0' && dp_args_load_config(a->config, a, err, sizeof(err)))
		return die("%s", err);
	if (a->nb_segments == 0)
		return die("no --segment given: export at least one (e.g. --segment kv:64M)");
	if (a->node[0] == '\0') {
		if (gethostname(a->node, sizeof(a->node)) != 0)
			snprintf(a->node, sizeof(a->node), "node");
		a->node[sizeof(a->node) - 1] = '\0';
	}
	if (a->engine[0] == '\0')
		snprintf(a->engine, sizeof(a->engine), "tern");
	return 0;
}

/* The EAL, as the primary process with a worker lcore. */
static int
start_eal(struct dataplane *dp, int argc, char **argv)
{
	if (rte_eal_init(argc, argv) < 0)
		return die("EAL initialisation failed: %s", rte_strerror(rte_errno));
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return die("must run as the DPDK primary process (drop --proc-type)");
	if (rte_lcore_count() < 2)
		return die("no worker lcore: give the EAL at least two lcores (e.g. -l 0-1)");
	if (dp->args.log_level != 0)
		rte_log_set_level_pattern("tern.*", (uint32_t)dp->args.log_level);
	dp->tbl = tern_segment_table_create(dp->args.engine, 256, SOCKET_ID_ANY);
	if (dp->tbl == NULL)
		return die("segment table: %s", rte_strerror(rte_errno));
	/* One queue for the node: the transports deliver into it, its clients poll it. */
	dp->notify = tern_notify_queue_create(&(struct tern_notify_queue_conf){
		.name = dp->args.engine, .node = dp->args.node, .socket_id = SOCKET_ID_ANY });
	if (dp->notify == NULL)
		return die("notification queue for node '%s': %s", dp->args.node,
			   rte_strerror(rte_errno));
	return 0;
}

/*
 * Every transport the options name, through the registry: a transport
 * without its device (-ENODEV) is skipped with a note, anything else wrong
 * stops the dataplane.
 */
static int
configure_transports(struct dataplane *dp)
{
	const struct tern_transport_env env = { .segments = dp->tbl, .notify = dp->notify };
	struct dp_transport_opt t[DP_MAX_TRANSPORTS];
	int n, i, ret;

	n = dp_args_transports(&dp->args, t, DP_MAX_TRANSPORTS);
	if (n < 0)
		return die("transport options: %s", strerror(-n));
	for (i = 0; i < n; i++) {
		ret = tern_transport_configure(t[i].name, t[i].args, &env);
		if (ret == -ENODEV) {
			printf("tern-dataplane: %s unavailable (no usable device): its options are "
			       "ignored\n",
			       t[i].name);
		} else if (ret == -ENOENT) {
			return die("transport %s: not in this build (see --help)", t[i].name);
		} else if (ret != 0) {
			return die("transport %s '%s': %s (its options: %s)", t[i].name, t[i].args,
				   strerror(-ret),
				   tern_transport_params(tern_transport_id(t[i].name)));
		}
	}
	return 0;
}

/* A configured transport that serves segments only from files wants them so. */
static bool
segments_in_files(void)
{
	int id;

	for (id = 0; id < tern_transport_count(); id++)
		if (tern_transport_configured(id) &&
		    (tern_transport_flags(id) & TERN_TRANSPORT_F_FILE_SEGMENTS))
			return true;
	return false;
}

/* The --segment memory, exported: the only segments peers may reach. */
static int
create_segments(struct dataplane *dp)
{
	const struct dp_args *a = &dp->args;
	bool files = segments_in_files();
	unsigned int i;
	uint32_t h;
	int ret;

	for (i = 0; i < a->nb_segments; i++) {
		const struct dp_segment_opt *s = &a->segments[i];

		ret = files ? tern_segment_alloc_file(dp->tbl, s->name, s->size, SOCKET_ID_ANY, &h)
			    : tern_segment_alloc(dp->tbl, s->name, s->size, SOCKET_ID_ANY, &h);
		if (ret != 0)
			return die("segment %s: cannot allocate %" PRIu64 " bytes of %s: %s",
				   s->name, s->size,
				   files ? "memory for a shareable memfd" : "hugepage memory",
				   strerror(-ret));
		ret = tern_segment_export(dp->tbl, h);
		if (ret != 0)
			return die("segment %s: cannot export: %s", s->name, strerror(-ret));
	}
	return 0;
}

/* --store-capacity: this node owns a segment's allocator for the store. */
static int
create_store_owner(struct dataplane *dp)
{
	struct tern_segment_info info;
	uint32_t h;

	if (dp->args.store[0] == '\0')
		return 0;
	if (tern_segment_find(dp->tbl, dp->args.store, &h) != 0)
		return die("--store-capacity %s: no such --segment", dp->args.store);
	tern_segment_info(dp->tbl, h, &info);
	dp->owner = tern_store_owner_create(&(struct tern_store_owner_conf){
		.segments = dp->tbl,
		.segment = h,
		.length = info.length,
	});
	if (dp->owner == NULL)
		return die("--store-capacity %s: %s", dp->args.store, rte_strerror(rte_errno));
	return 0;
}

static int
create_engine(struct dataplane *dp)
{
	const struct dp_args *a = &dp->args;

	dp->ec.name = a->engine;
	dp->ec.segments = dp->tbl;
	dp->ec.notify = dp->notify;
	dp->ec.slice_bytes = a->slice_bytes;
	dp->ec.deadline_ns = a->deadline_ms * 1000000ull;
	dp->ec.max_clients = (uint32_t)a->max_clients;
	dp->ec.nb_futures = (uint32_t)a->nb_futures;
	dp->ec.flags = a->idle_yield ? TERN_ENGINE_F_IDLE_YIELD : 0;
	dp->ec.drain_ns = (a->drain_ms != 0 ? a->drain_ms : DEFAULT_DRAIN_MS) * 1000000ull;
	dp->engine = tern_engine_create(&dp->ec);
	if (dp->engine == NULL)
		return die("engine: %s", rte_strerror(rte_errno));
	return 0;
}

/* A peer's store asks this node's owner (--store-capacity) over the p2p
 * channel: a call naming this node and the owned segment. */
static int
store_call(void *arg, const char *node, const char *segment, const uint8_t *req, size_t len,
	   uint8_t *rep)
{
	struct dataplane *dp = arg;

	if (strcmp(node, dp->args.node) != 0 || strcmp(segment, dp->args.store) != 0)
		return -ENOENT;
	return tern_store_owner_serve(dp->owner, req, len, rep);
}

/* --directory: open it, serve it (p2p), publish this node's segments. */
static int
open_directory(struct dataplane *dp, uint32_t usable)
{
	const struct dp_args *a = &dp->args;
	int ret;

	if (a->directory[0] == '\0')
		return 0;
	dp->dir = tern_directory_open(a->directory, NULL);
	if (dp->dir == NULL)
		return die("--directory %s: %s", a->directory, rte_strerror(rte_errno));
	dp->p2p = strncmp(a->directory, "p2p://", 6) == 0;
	if (dp->p2p) {
		if (dp->owner != NULL)
			tern_directory_p2p_set_handler(dp->dir, store_call, dp);
		ret = tern_directory_p2p_serve(dp->dir, TERN_DIRECTORY_P2P_THREAD);
		if (ret != 0)
			return die("--directory %s: cannot serve: %s", a->directory,
				   strerror(-ret));
	}
	ret = tern_peers_publish(dp->dir, dp->tbl, a->node, usable);
	if (ret < 0)
		return die("--directory %s: cannot publish: %s", a->directory, strerror(-ret));
	dp->keepalive_tsc = rte_get_timer_cycles() + rte_get_timer_hz() / 1000 * KEEPALIVE_FIRST_MS;
	return 0;
}

/* --peer and --peer-transport: the peer set clients resolve through. */
static int
open_peers(struct dataplane *dp, uint32_t usable)
{
	const struct dp_args *a = &dp->args;
	unsigned int i;
	int ret;

	if (a->directory[0] == '\0' && a->nb_peers == 0)
		return 0;
	/* A p2p handle serves this node; peers are reached through theirs. */
	dp->peers =
		tern_peers_create(&(struct tern_peers_conf){ .node = a->node,
							     .segments = dp->tbl,
							     .directory = dp->p2p ? NULL : dp->dir,
							     .usable_transports = usable });
	if (dp->peers == NULL)
		return die("peers: %s", rte_strerror(rte_errno));
	for (i = 0; i < a->nb_peers; i++) {
		ret = tern_peers_add(dp->peers, a->peers[i].node, a->peers[i].uri);
		if (ret != 0)
			return die("--peer %s=%s: %s", a->peers[i].node, a->peers[i].uri,
				   strerror(-ret));
	}
	for (i = 0; i < a->nb_pins; i++) {
		ret = tern_peers_set_transport(dp->peers, a->pins[i].node, a->pins[i].transport);
		if (ret != 0)
			return die("--peer-transport %s=%s: %s", a->pins[i].node,
				   a->pins[i].transport,
				   ret == -ENOENT ? "no such transport in this build"
						  : strerror(-ret));
	}
	ret = tern_peers_ipc_serve(dp->peers);
	if (ret != 0)
		return die("peers: cannot answer clients: %s", strerror(-ret));
	return 0;
}

static int
register_telemetry(struct dataplane *dp)
{
	int ret = tern_telemetry_register(&(struct tern_telemetry_conf){ .engine = dp->engine,
									 .segments = dp->tbl,
									 .peers = dp->peers,
									 .node = dp->args.node,
									 .version = TERN_VERSION });

	if (ret != 0)
		return die("telemetry: %s", strerror(-ret));
	/* The keys of the clients' stores (doc/store.md, "Listing keys"). */
	ret = tern_store_clients_telemetry_register();
	return ret != 0 ? die("telemetry: /tern/client_store_keys: %s", strerror(-ret)) : 0;
}

/* The lines operators and scripts read: ready, then what each part offers. */
static void
print_ready(const struct dataplane *dp)
{
	char what[256];
	int id;

	printf("tern-dataplane: ready: engine %s, node %s, %u worker lcores, %u segments, runtime "
	       "dir %s\n",
	       dp->args.engine, dp->args.node, rte_lcore_count() - 1, dp->args.nb_segments,
	       rte_eal_get_runtime_dir());
	for (id = 0; id < tern_transport_count(); id++)
		if (tern_transport_describe(id, what, sizeof(what)) > 0)
			printf("tern-dataplane: %s: %s\n", tern_transport_name(id), what);
	if (dp->owner != NULL)
		printf("tern-dataplane: store: segment %s is store capacity (/tern/store_owner)\n",
		       dp->args.store);
	if (dp->dir != NULL && dp->p2p)
		printf("tern-dataplane: directory: serving descriptors on p2p port %d\n",
		       tern_directory_p2p_port(dp->dir));
	else if (dp->dir != NULL)
		printf("tern-dataplane: directory: published to %s\n", dp->args.directory);
	fflush(stdout);
}

/* Until SIGINT or SIGTERM: peers' upkeep, IPC resolves, directory keepalives. */
static void
control_loop(struct dataplane *dp)
{
	struct sigaction sa;
	int ret;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	print_ready(dp);
	while (!stop_requested) {
		if (dp->peers != NULL)
			tern_peers_poll(dp->peers);
		if (dp->owner != NULL)
			tern_store_owner_poll(dp->owner);
		if (dp->dir != NULL && !dp->p2p && rte_get_timer_cycles() >= dp->keepalive_tsc) {
			ret = tern_directory_keepalive(dp->dir);
			if (ret != 0)
				fprintf(stderr, "tern-dataplane: directory keepalive: %s\n",
					strerror(-ret));
			dp->keepalive_tsc =
				rte_get_timer_cycles() + rte_get_timer_hz() / 1000 * KEEPALIVE_MS;
		}
		usleep(CONTROL_PERIOD_US);
	}
	printf("tern-dataplane: stopping: draining work in flight (at most %" PRIu64 " ms)\n",
	       dp->ec.drain_ns / 1000000);
	fflush(stdout);
}

/* Everything that was started, in reverse; 0, or 1 if the engine did not stop cleanly. */
static int
stop_all(struct dataplane *dp)
{
	uint32_t h;
	int rc = 0;

	tern_telemetry_unregister();
	/* No call reaches the owner once this returns (calls run under the
	 * lock it takes). */
	if (dp->dir != NULL && dp->p2p)
		tern_directory_p2p_set_handler(dp->dir, NULL, NULL);
	tern_store_owner_destroy(dp->owner);
	/* Withdraw this node's descriptors first: peers stop coming. */
	tern_directory_close(dp->dir);
	if (dp->engine != NULL && tern_engine_destroy(dp->engine) != 0)
		rc = 1;
	tern_peers_destroy(dp->peers);
	/* Listeners closed, secrets forgotten; the table still exists. */
	tern_transport_stop_all();
	if (dp->notify != NULL)
		tern_notify_queue_free(dp->notify);
	if (dp->tbl != NULL) {
		while ((h = tern_segment_next(dp->tbl, 0)) != TERN_SEGMENT_INVALID)
			if (tern_segment_unregister(dp->tbl, h) != 0)
				break;
		tern_segment_table_free(dp->tbl);
	}
	return rc;
}

/* How long the dataplane waits for DPDK's own cleanup before leaving without it. */
#define EAL_CLEANUP_WAIT_S 5

static void *
eal_cleanup_thread(void *arg)
{
	RTE_SET_USED(arg);
	rte_eal_cleanup();
	return NULL;
}

/*
 * rte_eal_cleanup(), but bounded. DPDK keeps its memory-hotplug lock in
 * shared memory; a client process killed while holding it (inside its EAL
 * start-up, say) leaves it held for ever, and the cleanup would then wait
 * for ever. tern's own state is already gone by now: say so and leave (the
 * hugepage files of this --file-prefix stay until the next run with it, or
 * dpdk-hugepages.py --clear).
 */
static void
eal_cleanup_bounded(void)
{
	struct timespec until;
	pthread_t t;

	if (pthread_create(&t, NULL, eal_cleanup_thread, NULL) != 0) {
		rte_eal_cleanup();
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += EAL_CLEANUP_WAIT_S;
	if (pthread_timedjoin_np(t, NULL, &until) != 0)
		fprintf(stderr,
			"tern-dataplane: DPDK's cleanup is blocked (a client process died holding "
			"DPDK's shared memory lock); leaving without it\n");
}

int
main(int argc, char **argv)
{
	static struct dataplane dp;
	struct tern_engine_info info;
	int eal_argc, rc;

	rc = options(&dp, argc, argv, &eal_argc);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	rc = start_eal(&dp, eal_argc, argv);
	if (rc == 0)
		rc = configure_transports(&dp);
	if (rc == 0)
		rc = create_segments(&dp);
	if (rc == 0)
		rc = create_engine(&dp);
	if (rc == 0)
		rc = create_store_owner(&dp);
	if (rc == 0) {
		tern_engine_info(dp.engine, &info);
		rc = open_directory(&dp, info.transports_usable);
	}
	if (rc == 0)
		rc = open_peers(&dp, info.transports_usable);
	if (rc == 0)
		rc = register_telemetry(&dp);
	if (rc == 0)
		control_loop(&dp);
	if (stop_all(&dp) != 0)
		rc = 1;
	eal_cleanup_bounded();
	if (rc == 0)
		printf("tern-dataplane: stopped\n");
	return rc;
}
