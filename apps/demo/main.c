/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-demo: the engine in one page. Allocates two hugepage segments, writes
 * a pattern from one to the other in one batch, reads it back, verifies every
 * byte and prints what each worker lcore did.
 *
 *   tern-demo [EAL args] -- [--size BYTES[K|M|G]] [--requests N]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include <tern_cli.h>
#include <tern_engine.h>
#include <tern_segment.h>

static void
usage(const char *prog)
{
	printf("usage: %s [EAL args] -- [--size BYTES[K|M|G]] [--requests N]\n"
	       "  --size      bytes moved each way (default 64M)\n"
	       "  --requests  requests the batch is cut into, 1..64 (default 8)\n",
	       prog);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = { { "size", required_argument, NULL, 's' },
					      { "requests", required_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct tern_request reqs[64];
	struct tern_segment_info src, dst;
	struct tern_segment_table *tbl;
	struct tern_engine *engine;
	struct tern_client *client;
	struct tern_future *f;
	unsigned int lcores[TERN_ENGINE_MAX_LCORES];
	uint64_t size = 64ull << 20, nreq = 8, t0, t1, per, i;
	uint32_t hs, hd;
	int ret, opt, n;
	char *end;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "tern-demo: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (tern_cli_parse_size(optarg, UINT64_MAX, &size) != 0) {
				fprintf(stderr, "tern-demo: bad --size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			errno = 0;
			nreq = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || nreq == 0 || nreq > 64) {
				fprintf(stderr, "tern-demo: bad --requests '%s' (1..64)\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(argv[0]);
			return 0;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tern-demo: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (size < nreq) {
		fprintf(stderr, "tern-demo: --size must be at least --requests bytes\n");
		return 2;
	}

	tbl = tern_segment_table_create("demo", 16, SOCKET_ID_ANY);
	if (tbl == NULL || tern_segment_alloc(tbl, "src", size, SOCKET_ID_ANY, &hs) != 0 ||
	    tern_segment_alloc(tbl, "dst", size, SOCKET_ID_ANY, &hd) != 0) {
		fprintf(stderr,
			"tern-demo: cannot allocate 2 x %" PRIu64 " bytes of hugepage memory\n",
			size);
		return 1;
	}
	engine = tern_engine_create(&(struct tern_engine_conf){ .segments = tbl });
	if (engine == NULL) {
		fprintf(stderr,
			"tern-demo: engine: %s (needs at least one worker lcore, e.g. -l 0-1)\n",
			rte_strerror(rte_errno));
		return 1;
	}
	client = tern_client_create(engine, NULL);
	tern_segment_info(tbl, hs, &src);
	tern_segment_info(tbl, hd, &dst);
	for (i = 0; i < size; i++)
		((uint8_t *)src.addr)[i] = (uint8_t)(i * 131 + (i >> 12));
	memset(dst.addr, 0, size);

	/* WRITE src -> dst, cut into nreq requests of one batch. */
	per = size / nreq;
	for (i = 0; i < nreq; i++)
		reqs[i] = (struct tern_request){ .op = TERN_OP_WRITE,
						 .segment = hd,
						 .offset = i * per,
						 .local = (uint8_t *)src.addr + i * per,
						 .length = i + 1 == nreq ? size - i * per : per };
	t0 = rte_rdtsc();
	f = tern_submit(client, reqs, (uint32_t)nreq, NULL);
	ret = f == NULL ? -rte_errno : tern_future_wait(f, UINT64_MAX);
	t1 = rte_rdtsc();
	tern_future_release(f);
	if (ret != 0 || memcmp(src.addr, dst.addr, size) != 0) {
		fprintf(stderr, "tern-demo: write failed: %s\n", strerror(-ret));
		return 1;
	}
	printf("WRITE %" PRIu64 " bytes in %u requests: %.3f ms, %.2f GB/s, verified\n", size,
	       (unsigned int)nreq, (double)(t1 - t0) * 1e3 / (double)rte_get_tsc_hz(),
	       (double)size / ((double)(t1 - t0) / (double)rte_get_tsc_hz()) / 1e9);

	/* READ it back over a cleared source. */
	memset(src.addr, 0, size);
	for (i = 0; i < nreq; i++)
		reqs[i].op = TERN_OP_READ;
	t0 = rte_rdtsc();
	f = tern_submit(client, reqs, (uint32_t)nreq, NULL);
	ret = f == NULL ? -rte_errno : tern_future_wait(f, UINT64_MAX);
	t1 = rte_rdtsc();
	tern_future_release(f);
	for (i = 0; ret == 0 && i < size; i++)
		if (((uint8_t *)src.addr)[i] != (uint8_t)(i * 131 + (i >> 12)))
			ret = -EIO;
	if (ret != 0) {
		fprintf(stderr, "tern-demo: read back failed: %s\n", strerror(-ret));
		return 1;
	}
	printf("READ  %" PRIu64 " bytes in %u requests: %.3f ms, %.2f GB/s, verified\n", size,
	       (unsigned int)nreq, (double)(t1 - t0) * 1e3 / (double)rte_get_tsc_hz(),
	       (double)size / ((double)(t1 - t0) / (double)rte_get_tsc_hz()) / 1e9);

	n = tern_engine_lcores(engine, lcores, TERN_ENGINE_MAX_LCORES);
	for (i = 0; i < (uint64_t)n; i++) {
		struct tern_lcore_stats st;

		tern_engine_lcore_stats(engine, lcores[i], &st);
		printf("lcore %u: %" PRIu64 " batches owned, %" PRIu64 " slices, %" PRIu64
		       " bytes, %" PRIu64 " errors\n",
		       lcores[i], st.batches, st.slices, st.bytes, st.errors);
	}
	tern_client_destroy(client);
	tern_engine_destroy(engine);
	tern_segment_unregister(tbl, hs);
	tern_segment_unregister(tbl, hd);
	tern_segment_table_free(tbl);
	rte_eal_cleanup();
	return 0;
}
