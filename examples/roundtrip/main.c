/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * roundtrip: the smallest application of the installed SDK. It attaches to a
 * running tern-dataplane (as a DPDK secondary process), writes a pattern into
 * one of the dataplane's segments, reads it back into a second buffer and
 * checks every byte.
 *
 *   roundtrip --proc-type=secondary --file-prefix P [EAL args] -- \
 *           [--engine NAME] [--segment NAME] [--bytes SIZE]
 *
 * Built out of tree: PKG_CONFIG_PATH=<prefix>/lib/<arch>/pkgconfig make
 * (see Makefile and doc/sdk.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include <tern_cli.h>
#include <tern_engine.h>
#include <tern_segment.h>
#include <tern_transport.h>

/* Submit one request and wait for it: 0 or the future's negative errno. */
static int
move(struct tern_client *c, uint8_t op, uint32_t segment, void *local, uint64_t length)
{
	const struct tern_request req = {
		.op = op, .segment = segment, .offset = 0, .local = local, .length = length
	};
	struct tern_future *f;
	int ret;

	f = tern_submit(c, &req, 1, NULL);
	if (f == NULL)
		return -rte_errno;
	ret = tern_future_wait(f, 10ull * 1000 * 1000 * 1000);
	tern_future_release(f);
	return ret;
}

int
main(int argc, char **argv)
{
	const char *engine = "tern", *segment = "kv";
	uint64_t bytes = 1 << 20, i;
	struct tern_segment_table *tbl;
	struct tern_client *c;
	uint32_t target, h_out, h_in;
	uint8_t *out, *in;
	int ret, a;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "roundtrip: EAL: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	for (a = ret + 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--engine") == 0)
			engine = argv[a + 1];
		else if (strcmp(argv[a], "--segment") == 0)
			segment = argv[a + 1];
		else if (strcmp(argv[a], "--bytes") != 0 ||
			 tern_cli_parse_size(argv[a + 1], 1ull << 30, &bytes) != 0)
			break;
	}
	if (a < argc) {
		fprintf(stderr, "roundtrip: bad option %s\n", argv[a]);
		return 2;
	}

	c = tern_client_attach(engine, &(struct tern_client_conf){ .flags = 0 });
	if (c == NULL) {
		fprintf(stderr, "roundtrip: attach to %s: %s\n", engine, rte_strerror(rte_errno));
		return 3;
	}
	tbl = tern_segment_table_lookup(engine);
	ret = tbl == NULL ? -rte_errno : tern_segment_find(tbl, segment, &target);
	if (ret != 0) {
		fprintf(stderr, "roundtrip: segment %s: %s\n", segment, strerror(-ret));
		return 1;
	}
	out = tern_client_shm_alloc(c, "roundtrip_out", bytes, &h_out);
	in = tern_client_shm_alloc(c, "roundtrip_in", bytes, &h_in);
	if (out == NULL || in == NULL) {
		fprintf(stderr, "roundtrip: buffers: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	for (i = 0; i < bytes; i++)
		out[i] = (uint8_t)(i * 131 + (uint64_t)getpid());
	memset(in, 0, bytes);
	ret = move(c, TERN_OP_WRITE, target, out, bytes);
	if (ret == 0)
		ret = move(c, TERN_OP_READ, target, in, bytes);
	if (ret != 0) {
		fprintf(stderr, "roundtrip: transfer: %s\n", strerror(-ret));
		return 1;
	}
	if (memcmp(in, out, bytes) != 0) {
		fprintf(stderr, "roundtrip: the bytes read back differ\n");
		return 1;
	}
	printf("roundtrip: %" PRIu64 " bytes written to %s/%s and read back intact\n", bytes,
	       engine, segment);
	printf("roundtrip: transports in this build:");
	for (a = 0; a < tern_transport_count(); a++)
		printf(" %s", tern_transport_name(a));
	printf("\n");
	if (tern_client_shm_free(c, h_out) != 0 || tern_client_shm_free(c, h_in) != 0 ||
	    tern_client_destroy(c) != 0)
		return 1;
	return 0;
}
