/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client process for the dataplane integration tests: a DPDK secondary
 * process that attaches to a running tern-dataplane, allocates shared
 * buffers, and writes then reads back its own region of an exported segment,
 * verifying every byte.
 *
 *   dp_client [EAL args: --proc-type=secondary --file-prefix P] --
 *       --engine NAME --segment NAME --offset BYTES --bytes BYTES
 *       [--iterations N | --forever] [--claim-layout V]
 * Exit status: 0 verified, 1 data or transfer error, 2 usage, 3 attach refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include <tern_cli.h>
#include <tern_engine.h>
#include <tern_segment.h>

extern uint32_t tern_attach_claimed_layout_version;

static uint8_t
pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed;

	return (uint8_t)(x ^ (x >> 29));
}

static int
transfer(struct tern_client *c, uint8_t op, uint32_t seg, uint64_t off, void *local, uint64_t len)
{
	struct tern_request r = {
		.op = op, .segment = seg, .offset = off, .local = local, .length = len
	};
	struct tern_future *f;
	int ret;

	while ((f = tern_submit(c, &r, 1, NULL)) == NULL)
		if (rte_errno != EAGAIN)
			return -rte_errno;
	ret = tern_future_wait(f, UINT64_MAX);
	tern_future_release(f);
	return ret;
}

int
main(int argc, char **argv)
{
	const char *engine = "tern", *segment = "kv";
	uint64_t offset = 0, bytes = 1 << 20, iterations = 10, it, i, v;
	struct tern_segment_table *tbl;
	struct tern_client *c;
	uint32_t target, hsrc, hdst;
	uint8_t *src, *dst;
	char name[48];
	int ret, forever = 0, a;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "dp_client: EAL: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	for (a = ret + 1; a < argc; a++) {
		const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(opt, "--forever") == 0) {
			forever = 1;
			continue;
		}
		if (val == NULL) {
			fprintf(stderr, "dp_client: %s needs a value\n", opt);
			return 2;
		}
		a++;
		if (strcmp(opt, "--engine") == 0)
			engine = val;
		else if (strcmp(opt, "--segment") == 0)
			segment = val;
		else if (strcmp(opt, "--offset") == 0 &&
			 tern_cli_parse_u64(val, 0, UINT64_MAX, &offset) == 0)
			;
		else if (strcmp(opt, "--bytes") == 0 &&
			 tern_cli_parse_size(val, 1ull << 30, &bytes) == 0)
			;
		else if (strcmp(opt, "--iterations") == 0 &&
			 tern_cli_parse_u64(val, 1, UINT64_MAX, &iterations) == 0)
			;
		else if (strcmp(opt, "--claim-layout") == 0 &&
			 tern_cli_parse_u64(val, 1, 1u << 30, &v) == 0)
			tern_attach_claimed_layout_version = (uint32_t)v;
		else {
			fprintf(stderr, "dp_client: bad option %s %s\n", opt, val);
			return 2;
		}
	}

	c = tern_client_attach(engine, &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	if (c == NULL) {
		fprintf(stderr, "dp_client: attach to %s refused: %s\n", engine,
			rte_strerror(rte_errno));
		return 3;
	}
	tbl = tern_segment_table_lookup(engine);
	if (tbl == NULL || tern_segment_find(tbl, segment, &target) != 0) {
		fprintf(stderr, "dp_client: no segment %s\n", segment);
		return 1;
	}
	snprintf(name, sizeof(name), "c%d_src", (int)getpid());
	src = tern_client_shm_alloc(c, name, bytes, &hsrc);
	snprintf(name, sizeof(name), "c%d_dst", (int)getpid());
	dst = tern_client_shm_alloc(c, name, bytes, &hdst);
	if (src == NULL || dst == NULL) {
		fprintf(stderr, "dp_client: shm alloc: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	for (it = 0; forever || it < iterations; it++) {
		uint64_t seed = (uint64_t)getpid() << 32 | it;

		for (i = 0; i < bytes; i++)
			src[i] = pattern(seed, i);
		memset(dst, 0, bytes);
		ret = transfer(c, TERN_OP_WRITE, target, offset, src, bytes);
		if (ret == 0)
			ret = transfer(c, TERN_OP_READ, target, offset, dst, bytes);
		if (ret != 0) {
			fprintf(stderr, "dp_client: iteration %" PRIu64 ": %s\n", it,
				strerror(-ret));
			return 1;
		}
		for (i = 0; i < bytes; i++)
			if (dst[i] != pattern(seed, i)) {
				fprintf(stderr,
					"dp_client: iteration %" PRIu64 ": byte %" PRIu64
					" differs\n",
					it, i);
				return 1;
			}
		if (forever && it == 0) {
			printf("dp_client: transferring\n");
			fflush(stdout);
		}
	}
	if (tern_client_shm_free(c, hsrc) != 0 || tern_client_shm_free(c, hdst) != 0 ||
	    tern_client_destroy(c) != 0) {
		fprintf(stderr, "dp_client: detach failed\n");
		return 1;
	}
	printf("dp_client: %" PRIu64 " iterations of %" PRIu64 " bytes verified\n", iterations,
	       bytes);
	rte_eal_cleanup();
	return 0;
}
