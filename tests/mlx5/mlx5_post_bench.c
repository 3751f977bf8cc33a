/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Instructions per posted WQE: bursts of 32 RDMA WRITEs through the mlx5
 * transport's post_burst into the software device model. Run under
 *   valgrind --tool=callgrind --toggle-collect=mlx5_post_burst \
 *            build/tests/mlx5/mlx5_post_bench
 * so that only the driver's posting code is counted (the model, which
 * stands in for the NIC, runs outside the collected function), then divide
 * the collected Ir by the WQE count this program prints. The same with
 * --toggle-collect=mlx5_poll gives instructions per completion.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_memory.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_desc3.h"
#include "mlx5_model.h"
#include "mlx5_rails.h"
#include "tern_mlx5_internal.h"

#define BURST	 32
#define ROUNDS	 20000
#define LEN	 256 /* above the inline limit: pointer WQEs */
#define MEMBYTES (BURST * 4096)

int
main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = { argv[0],	  "--no-huge",	   "-m",   "64",	  "--no-pci",
			"--no-telemetry", "--file-prefix", prefix, "--log-level", "lib.eal:error" };
	struct tern_endpoint_conf conf = { .socket_id = SOCKET_ID_ANY, .max_slices = 1024 };
	struct tern_completion cpl[BURST];
	struct tern_slice s[BURST];
	const struct tern_transport_ops *ops;
	struct tern_segment lseg, rseg;
	struct tern_endpoint *ep;
	uint8_t d[TERN_MLX5_DESC_LEN];
	struct mlx5_model *m;
	uint8_t *local, *remote;
	uint64_t posted = 0, completed = 0, post_cycles = 0, t;
	unsigned int round, i, violations, rails = 1;

	/* --rails N (2..4): the target is served on N devices of node 1, as a
	 * version 3 descriptor imports it (mlx5_rails.c): the cost of the pick. */
	if (argc == 3 && strcmp(argv[1], "--rails") == 0)
		rails = (unsigned int)atoi(argv[2]);
	if (rails < 1 || rails > TERN_MLX5_RAIL_MAX) {
		fprintf(stderr, "usage: %s [--rails 1..%d]\n", argv[0], TERN_MLX5_RAIL_MAX);
		return 2;
	}
	snprintf(prefix, sizeof(prefix), "tern_mlx5_bench_%d", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0)
		return 1;
	m = mlx5_model_create();
	if (mlx5_test_set_queue_provider(&mlx5_model_provider, m) != 0)
		return 1;
	ops = tern_transport_get(tern_transport_id("mlx5"));
	if (ops == NULL || ops->probe() != 0)
		return 1;
	conf.lcore_id = rte_lcore_id();
	ep = ops->endpoint_open(&conf);
	local = aligned_alloc(4096, MEMBYTES);
	remote = aligned_alloc(4096, MEMBYTES);
	if (ep == NULL || local == NULL || remote == NULL)
		return 1;
	memset(local, 1, MEMBYTES);
	memset(&lseg, 0, sizeof(lseg));
	lseg.kind = TERN_SEGMENT_LOCAL;
	lseg.handle = 1u << 16 | 1; /* generation 1, slot 1 */
	lseg.base = local;
	lseg.length = MEMBYTES;
	/* Exporting registers the local buffer up front; it needs a listener. */
	if (tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1" }) != 0 ||
	    ops->segment_export(&lseg, d, sizeof(d)) != (int)sizeof(d))
		return 1;
	tern_mlx5_configure(NULL);
	memset(&rseg, 0, sizeof(rseg));
	rseg.kind = TERN_SEGMENT_REMOTE;
	rseg.length = MEMBYTES;
	/* Node 1 is wired by the model: no handshake. */
	if (rails == 1) {
		mlx5_model_import_wired(
			&rseg, 1, remote, MEMBYTES,
			mlx5_model_mr_add(m, 1, remote, MEMBYTES, MODEL_ACCESS_ALL));
	} else {
		struct tern_mlx5_desc3 d3 = { .version = TERN_MLX5_DESC3_VERSION,
					      .nports = (uint8_t)rails,
					      .addr = (uintptr_t)remote,
					      .length = MEMBYTES,
					      .epoch = 1 };

		for (i = 0; i < rails; i++) {
			mlx5_model_dev_gid(1, (int)i, d3.ports[i].gid);
			d3.ports[i].hs_addr[10] = d3.ports[i].hs_addr[11] = 0xff;
			d3.ports[i].hs_addr[12] = 127;
			d3.ports[i].hs_addr[15] = 1;
			d3.ports[i].hs_port = 1;
			d3.ports[i].rkey = mlx5_model_mr_add_dev(m, 1, (int)i, remote, MEMBYTES,
								 MODEL_ACCESS_ALL);
		}
		if (mlx5_rails_import(&rseg, &d3, 1) != 0)
			return 1;
	}
	for (round = 0; round < ROUNDS; round++) {
		uint16_t n = 0;

		for (i = 0; i < BURST; i++) {
			memset(&s[i], 0, sizeof(s[i]));
			s[i].cookie = (uint64_t)round * BURST + i;
			s[i].local = local + i * 4096u;
			s[i].local_seg = &lseg;
			s[i].target = &rseg;
			s[i].offset = i * 4096u;
			s[i].length = LEN;
			s[i].op = TERN_OP_WRITE;
		}
		t = rte_rdtsc();
		while (n < BURST)
			n += ops->post_burst(ep, s + n, BURST - n);
		post_cycles += rte_rdtsc() - t;
		posted += n;
		mlx5_model_step(m);
		while (completed < posted)
			completed += ops->poll(ep, cpl, BURST);
	}
	printf("posted %" PRIu64 " WRITE WQEs in bursts of %d, %" PRIu64 " completions, "
	       "%u model violations\n",
	       posted, BURST, completed, mlx5_model_violations(m, NULL));
	printf("rails %u: post_burst %.2f ns per WQE (TSC %.0f MHz)\n", rails,
	       (double)post_cycles * 1e9 / (double)rte_get_tsc_hz() / (double)posted,
	       (double)rte_get_tsc_hz() / 1e6);
	violations = mlx5_model_violations(m, NULL);
	ops->endpoint_close(ep);
	mlx5_test_set_queue_provider(NULL, NULL);
	mlx5_model_destroy(m);
	free(local);
	free(remote);
	return violations != 0;
}
