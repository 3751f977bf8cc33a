/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Throughput of the tcp transport between two engines on loopback (one
 * worker lcore each): starts tcp_target as the peer and moves <total> MiB in
 * requests of <request> MiB, <depth> at a time. Not a test: a measurement to
 * set beside `iperf3 -l 1M` (see the command in tests/tcp/meson.build).
 *
 * usage: tcp_bench <tcp_target> <write|read> <total MiB> <request MiB> <depth>
 *        [slice KiB] [conns per peer]
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>

#include <tern_transport_driver.h>
#include <tern_tcp.h>

#include "test_common.h"

#define REMOTE_MIB 64u

int
main(int argc, char **argv)
{
	const struct tern_transport_ops *ops;
	struct tern_tcp_conf tc = { 0 };
	struct tern_engine_conf ec = { 0 };
	struct tern_segment_conf sc = { 0 };
	struct tern_segment imported = { 0 };
	struct tern_future *f[64];
	uint64_t total, request, done = 0, t0, t1;
	uint8_t desc[TERN_TCP_DESC_LEN], *local;
	int to_child[2], from_child[2], status;
	unsigned int depth, i, v, head = 0, inflight = 0;
	struct tern_client *c;
	struct test_env env;
	char line[256], mib[16];
	uint32_t rh;
	uint8_t op;
	pid_t pid;

	if (argc < 6)
		return 2;
	op = strcmp(argv[2], "read") == 0 ? TERN_OP_READ : TERN_OP_WRITE;
	total = strtoull(argv[3], NULL, 0) << 20;
	request = strtoull(argv[4], NULL, 0) << 20;
	depth = (unsigned int)strtoul(argv[5], NULL, 0);
	if (request == 0 || request > (uint64_t)REMOTE_MIB << 20 || depth == 0 || depth > 64)
		return 2;
	ec.slice_bytes = argc > 6 ? strtoull(argv[6], NULL, 0) << 10 : 0;
	tc.conns_per_peer = argc > 7 ? (uint32_t)strtoul(argv[7], NULL, 0) : 0;

	snprintf(mib, sizeof(mib), "%u", REMOTE_MIB << 20);
	if (pipe(to_child) != 0 || pipe(from_child) != 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		close(to_child[1]);
		close(from_child[0]);
		execl(argv[1], argv[1], mib, "1", (char *)NULL);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	if (read(from_child[0], line, 2 * TERN_TCP_DESC_LEN + 1) != 2 * TERN_TCP_DESC_LEN + 1)
		return 1;
	for (i = 0; i < TERN_TCP_DESC_LEN; i++) {
		if (sscanf(line + 2 * i, "%2x", &v) != 1)
			return 1;
		desc[i] = (uint8_t)v;
	}

	test_eal_init("tcp_bench", "0@(0-1),1@(0-1)", 512);
	if (tern_tcp_configure(&tc) != 0)
		return 1;
	test_env_create(&env, "bench", &ec);
	test_segment_local(&env, "local", request * depth, (void **)&local);
	memset(local, 1, request * depth);
	ops = tern_transport_get(tern_transport_id("tcp"));
	imported.length = (uint64_t)REMOTE_MIB << 20;
	if (ops->segment_import(&imported, desc, sizeof(desc)) != 0)
		return 1;
	sc.name = "remote";
	sc.length = imported.length;
	sc.kind = TERN_SEGMENT_REMOTE;
	sc.transport = "tcp";
	sc.socket_id = SOCKET_ID_ANY;
	sc.priv = imported.priv;
	sc.priv_len = TERN_TCP_DESC_LEN;
	if (tern_segment_register(env.segments, &sc, &rh) != 0)
		return 1;
	c = tern_client_create(env.engine,
			       &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });

	t0 = rte_get_timer_cycles();
	while (done < total) {
		while (inflight < depth && done + (uint64_t)inflight * request < total) {
			unsigned int k = (head + inflight) % depth;
			struct tern_request r = { .op = op,
						  .segment = rh,
						  .offset = (k * request) % imported.length,
						  .local = local + k * request,
						  .length = request };

			if (r.offset + request > imported.length)
				r.offset = 0;
			f[k] = tern_submit(c, &r, 1, NULL);
			if (f[k] == NULL)
				return 1;
			inflight++;
		}
		if (test_wait_release(f[head]) != 0) {
			fprintf(stderr, "transfer failed\n");
			return 1;
		}
		head = (head + 1) % depth;
		inflight--;
		done += request;
	}
	t1 = rte_get_timer_cycles();
	printf("tcp %s: %" PRIu64 " MiB in %" PRIu64 " MiB requests, depth %u, slice %" PRIu64
	       " KiB, conns %u: %.2f Gbit/s (%.2f GB/s)\n",
	       argv[2], total >> 20, request >> 20, depth,
	       (ec.slice_bytes != 0 ? ec.slice_bytes : 262144) >> 10,
	       tc.conns_per_peer != 0 ? tc.conns_per_peer : 2,
	       (double)total * 8 / 1e9 / ((double)(t1 - t0) / rte_get_timer_hz()),
	       (double)total / 1e9 / ((double)(t1 - t0) / rte_get_timer_hz()));
	tern_client_destroy(c);
	test_env_destroy(&env);
	close(to_child[1]);
	waitpid(pid, &status, 0);
	return 0;
}
