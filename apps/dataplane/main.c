/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-dataplane: one per host. Owns the hugepage segments it exports and the
 * EAL's worker lcores, hosts clients (in DPDK secondary processes attached
 * with tern_client_attach()), answers telemetry, and runs until SIGINT or
 * SIGTERM, when it drains work in flight within --drain-ms and exits 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
#ifdef TERN_HAVE_PEER
#include <tern_directory.h>
#include <tern_peer.h>
#endif
#ifdef TERN_HAVE_TCP
#include <tern_tcp.h>
#endif
#ifdef TERN_HAVE_SHM
#include <tern_shm.h>
#endif
#ifdef TERN_HAVE_MLX5
#include <tern_mlx5.h>
#endif

#include "dataplane_args.h"

#define DEFAULT_DRAIN_MS 2000
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

static uint64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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
	struct dp_args args = { 0 };
	struct tern_engine_conf ec = { 0 };
	struct tern_segment_table *tbl = NULL;
	struct tern_engine *engine = NULL;
	struct tern_engine_info info;
#ifdef TERN_HAVE_PEER
	struct tern_directory *dir = NULL;
	struct tern_peers *peers = NULL;
	uint64_t keepalive_ms = 0;
	bool p2p = false;
#endif
#ifdef TERN_HAVE_SHM
	char shm_path[PATH_MAX];
	bool shm_on = false;
#endif
#ifdef TERN_HAVE_TCP
	bool tcp_on = false;
#endif
#ifdef TERN_HAVE_MLX5
	bool mlx5_on = false;
#endif
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
#ifdef TERN_HAVE_TCP
	if (args.listen_addr[0] != '\0' || args.auth_file[0] != '\0') {
		ret = tern_tcp_configure(&(struct tern_tcp_conf){
			.listen_addr = args.listen_addr[0] != '\0' ? args.listen_addr : NULL,
			.listen_port = args.listen_port,
			.auth_file = args.auth_file[0] != '\0' ? args.auth_file : NULL });
		if (ret != 0) {
			rc = die("--listen %s:%u / --auth-file %s: %s", args.listen_addr,
				 args.listen_port, args.auth_file, strerror(-ret));
			goto out;
		}
		tcp_on = args.listen_addr[0] != '\0';
	}
#else
	if (args.listen_addr[0] != '\0') {
		rc = die("--listen: this build has no tcp transport");
		goto out;
	}
#endif
#ifdef TERN_HAVE_SHM
	if (!args.shm_off) {
		snprintf(shm_path, sizeof(shm_path), "%s/tern_shm.sock", rte_eal_get_runtime_dir());
		ret = tern_shm_configure(
			&(struct tern_shm_conf){ .socket_path = shm_path, .segments = tbl });
		if (ret != 0) {
			rc = die("shm transport on %s: %s", shm_path, strerror(-ret));
			goto out;
		}
		shm_on = true;
	}
#endif
	/* mlx5 handshakes: only where the transport is usable; a host without
	 * a device runs without it. */
	if (args.rdma_listen_addr[0] != '\0') {
#ifdef TERN_HAVE_MLX5
		ret = tern_mlx5_configure(
			&(struct tern_mlx5_conf){ .listen_addr = args.rdma_listen_addr,
						  .listen_port = args.rdma_listen_port });
		if (ret == -ENODEV) {
			printf("tern-dataplane: mlx5 unavailable (no usable RDMA device): "
			       "--rdma-listen ignored\n");
		} else if (ret != 0) {
			rc = die("--rdma-listen %s:%u: %s", args.rdma_listen_addr,
				 args.rdma_listen_port, strerror(-ret));
			goto out;
		} else {
			mlx5_on = true;
		}
#else
		printf("tern-dataplane: mlx5 unavailable (this build has no mlx5 transport): "
		       "--rdma-listen ignored\n");
#endif
	}
	for (i = 0; i < args.nb_segments; i++) {
#ifdef TERN_HAVE_SHM
		/* Backed by a file other processes can map: what shm exports. */
		if (shm_on)
			ret = tern_segment_alloc_file(tbl, args.segments[i].name,
						      args.segments[i].size, SOCKET_ID_ANY, &h);
		else
#endif
			ret = tern_segment_alloc(tbl, args.segments[i].name, args.segments[i].size,
						 SOCKET_ID_ANY, &h);
		if (ret != 0) {
			rc = die("segment %s: cannot allocate %" PRIu64 " bytes of %s: %s",
				 args.segments[i].name, args.segments[i].size,
				 args.shm_off ? "hugepage memory" : "memory for a shareable memfd",
				 strerror(-ret));
			goto out;
		}
		/* The only segments peers may reach (tcp, shm). */
		ret = tern_segment_export(tbl, h);
		if (ret != 0) {
			rc = die("segment %s: cannot export: %s", args.segments[i].name,
				 strerror(-ret));
			goto out;
		}
	}

	ec.name = args.engine;
	ec.segments = tbl;
	ec.slice_bytes = args.slice_bytes;
	ec.deadline_ns = args.deadline_ms * 1000000ull;
	ec.max_clients = (uint32_t)args.max_clients;
	ec.nb_futures = (uint32_t)args.nb_futures;
	ec.flags = args.idle_yield ? TERN_ENGINE_F_IDLE_YIELD : 0;
	ec.drain_ns = (args.drain_ms != 0 ? args.drain_ms : DEFAULT_DRAIN_MS) * 1000000ull;
	engine = tern_engine_create(&ec);
	if (engine == NULL) {
		rc = die("engine: %s", rte_strerror(rte_errno));
		goto out;
	}
	tern_engine_info(engine, &info);
#ifdef TERN_HAVE_PEER
	if (args.directory[0] != '\0') {
		dir = tern_directory_open(args.directory, NULL);
		if (dir == NULL) {
			rc = die("--directory %s: %s", args.directory, rte_strerror(rte_errno));
			goto out;
		}
		p2p = strncmp(args.directory, "p2p://", 6) == 0;
		if (p2p) {
			ret = tern_directory_p2p_serve(dir, TERN_DIRECTORY_P2P_THREAD);
			if (ret != 0) {
				rc = die("--directory %s: cannot serve: %s", args.directory,
					 strerror(-ret));
				goto out;
			}
		}
		ret = tern_peers_publish(dir, tbl, args.node, info.transports_usable);
		if (ret < 0) {
			rc = die("--directory %s: cannot publish: %s", args.directory,
				 strerror(-ret));
			goto out;
		}
		keepalive_ms = monotonic_ms() + 1000;
	}
	if (args.directory[0] != '\0' || args.nb_peers != 0) {
		/* A p2p handle serves this node; peers are reached through theirs. */
		peers = tern_peers_create(
			&(struct tern_peers_conf){ .node = args.node,
						   .segments = tbl,
						   .directory = p2p ? NULL : dir,
						   .usable_transports = info.transports_usable });
		if (peers == NULL) {
			rc = die("peers: %s", rte_strerror(rte_errno));
			goto out;
		}
		for (i = 0; i < args.nb_peers; i++) {
			ret = tern_peers_add(peers, args.peers[i].node, args.peers[i].uri);
			if (ret != 0) {
				rc = die("--peer %s=%s: %s", args.peers[i].node, args.peers[i].uri,
					 strerror(-ret));
				goto out;
			}
		}
		for (i = 0; i < args.nb_pins; i++) {
			ret = tern_peers_set_transport(peers, args.pins[i].node,
						       args.pins[i].transport);
			if (ret != 0) {
				rc = die("--peer-transport %s=%s: %s", args.pins[i].node,
					 args.pins[i].transport,
					 ret == -ENOENT ? "no such transport in this build"
							: strerror(-ret));
				goto out;
			}
		}
		ret = tern_peers_ipc_serve(peers);
		if (ret != 0) {
			rc = die("peers: cannot answer clients: %s", strerror(-ret));
			goto out;
		}
	}
#else
	if (args.directory[0] != '\0' || args.nb_peers != 0 || args.nb_pins != 0) {
		rc = die("--directory/--peer: this build has no lib/peer (needs jansson, libcurl, "
			 "hiredis)");
		goto out;
	}
#endif
#ifdef TERN_HAVE_TELEMETRY
	ret = tern_telemetry_register(&(struct tern_telemetry_conf){ .engine = engine,
								     .segments = tbl,
#ifdef TERN_HAVE_PEER
								     .peers = peers,
#endif
								     .node = args.node,
								     .version = TERN_VERSION });
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
#ifdef TERN_HAVE_TCP
	if (tcp_on)
		printf("tern-dataplane: tcp: listening on %s port %d\n", args.listen_addr,
		       tern_tcp_listen_port());
#endif
#ifdef TERN_HAVE_SHM
	if (shm_on)
		printf("tern-dataplane: shm: serving on %s\n", shm_path);
#endif
#ifdef TERN_HAVE_MLX5
	if (mlx5_on)
		printf("tern-dataplane: mlx5: answering handshakes on %s port %d\n",
		       args.rdma_listen_addr, tern_mlx5_listen_port());
#endif
#ifdef TERN_HAVE_PEER
	if (dir != NULL && p2p)
		printf("tern-dataplane: directory: serving descriptors on p2p port %d\n",
		       tern_directory_p2p_port(dir));
	else if (dir != NULL)
		printf("tern-dataplane: directory: published to %s\n", args.directory);
#endif
	fflush(stdout);
	while (!stop_requested) {
#ifdef TERN_HAVE_PEER
		if (peers != NULL)
			tern_peers_poll(peers);
		if (dir != NULL && !p2p && monotonic_ms() >= keepalive_ms) {
			/* Well inside the entries' default 10 s life. */
			ret = tern_directory_keepalive(dir);
			if (ret != 0)
				fprintf(stderr, "tern-dataplane: directory keepalive: %s\n",
					strerror(-ret));
			keepalive_ms = monotonic_ms() + 2000;
		}
#endif
		usleep(CONTROL_PERIOD_US);
	}

	printf("tern-dataplane: stopping: draining work in flight (at most %" PRIu64 " ms)\n",
	       ec.drain_ns / 1000000);
	fflush(stdout);
	rc = 0;
out:
#ifdef TERN_HAVE_TELEMETRY
	tern_telemetry_unregister();
#endif
#ifdef TERN_HAVE_PEER
	/* Withdraw this node's descriptors first: peers stop coming. */
	tern_directory_close(dir);
#endif
#ifdef TERN_HAVE_MLX5
	if (mlx5_on) /* no new target QPs while the engine goes */
		tern_mlx5_configure(NULL);
#endif
	if (engine != NULL && tern_engine_destroy(engine) != 0)
		rc = 1;
#ifdef TERN_HAVE_PEER
	tern_peers_destroy(peers);
#endif
#ifdef TERN_HAVE_SHM
	if (shm_on)
		tern_shm_configure(NULL);
#endif
#ifdef TERN_HAVE_TCP
	if (tcp_on || args.auth_file[0] != '\0')
		tern_tcp_configure(NULL); /* closes the listener, forgets the secret */
#endif
	if (tbl != NULL) {
		while ((h = tern_segment_next(tbl, 0)) != TERN_SEGMENT_INVALID)
			if (tern_segment_unregister(tbl, h) != 0)
				break;
		tern_segment_table_free(tbl);
	}
	eal_cleanup_bounded();
	if (rc == 0)
		printf("tern-dataplane: stopped\n");
	return rc;
}
