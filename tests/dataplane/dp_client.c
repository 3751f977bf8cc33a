/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client process for the dataplane integration tests: a DPDK secondary
 * process that attaches to a running tern-dataplane, allocates shared
 * buffers, and writes then reads back its own region of an exported segment,
 * verifying every byte.
 *
 *   dp_client [EAL args: --proc-type=secondary --file-prefix P] --
 *       --engine NAME --segment NAME --offset BYTES --bytes BYTES
 *       [--mix NAME] [--iterations N | --forever] [--claim-layout V]
 *
 * A segment NAME may be NODE/NAME: a peer's segment, which the dataplane
 * resolves and imports. With --mix, every batch is two requests, the first
 * half of the buffer on --segment and the second half on the --mix segment
 * (e.g. one local, one remote).
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
#include <tern_peer.h>

extern uint32_t tern_attach_claimed_layout_version;

static uint8_t
pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed;

	return (uint8_t)(x ^ (x >> 29));
}

/* NAME: the dataplane's own segment; NODE/NAME: a peer's, resolved by it. */
static int
lookup_target(struct tern_segment_table *tbl, const char *name, uint32_t *handle)
{
	char node[TERN_PEER_NAME_MAX], seg[TERN_SEGMENT_NAME_MAX];

	if (strchr(name, '/') != NULL)
		return tern_peers_split_name(name, node, seg) != 0
			       ? -EINVAL
			       : tern_peers_ipc_resolve(node, seg, 10000, handle);
	return tern_segment_find(tbl, name, handle);
}

/* One batch: all of [local, local + len) on @seg, or split in two halves
 * over @seg and @mix when @mix is not TERN_SEGMENT_INVALID. */
static int
transfer(struct tern_client *c, uint8_t op, uint32_t seg, uint32_t mix, uint64_t off,
	 uint8_t *local, uint64_t len)
{
	uint64_t half = mix != TERN_SEGMENT_INVALID && len > 1 ? len / 2 : len;
	struct tern_request r[2] = {
		{ .op = op, .segment = seg, .offset = off, .local = local, .length = half },
		{ .op = op,
		  .segment = mix,
		  .offset = off + half,
		  .local = local + half,
		  .length = len - half },
	};
	struct tern_future *f;
	int ret;

	while ((f = tern_submit(c, r, half == len ? 1 : 2, NULL)) == NULL)
		if (rte_errno != EAGAIN)
			return -rte_errno;
	ret = tern_future_wait(f, UINT64_MAX);
	tern_future_release(f);
	return ret;
}

int
main(int argc, char **argv)
{
	const char *engine = "tern", *segment = "kv", *mix_name = NULL;
	uint64_t offset = 0, bytes = 1 << 20, iterations = 10, it, i, v;
	struct tern_segment_table *tbl;
	struct tern_client *c;
	uint32_t target, mix = TERN_SEGMENT_INVALID, hsrc, hdst;
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
		else if (strcmp(opt, "--mix") == 0)
			mix_name = val;
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
	if (tbl == NULL)
		return 1;
	ret = lookup_target(tbl, segment, &target);
	if (ret == 0 && mix_name != NULL) {
		ret = lookup_target(tbl, mix_name, &mix);
		segment = mix_name;
	}
	if (ret != 0) {
		fprintf(stderr, "dp_client: no segment %s: %s\n", segment, strerror(-ret));
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
		ret = transfer(c, TERN_OP_WRITE, target, mix, offset, src, bytes);
		if (ret == 0)
			ret = transfer(c, TERN_OP_READ, target, mix, offset, dst, bytes);
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
	/* No rte_eal_cleanup() in a secondary: see apps/perf/main.c. */
	return 0;
}
