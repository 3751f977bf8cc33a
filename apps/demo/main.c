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
#include <stdbool.h>
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

/* Requests per batch at most (--requests). */
#define DEMO_REQUESTS_MAX 64
/* parse_opts(): the options are good, go on. */
#define DEMO_RUN (-1)

struct demo {
	uint64_t size; /* bytes moved each way */
	uint64_t nreq; /* requests the batch is cut into */
	struct tern_segment_table *tbl;
	struct tern_engine *engine;
	struct tern_client *client;
	uint32_t hs, hd; /* source and destination segments */
	struct tern_segment_info src, dst;
	struct tern_request reqs[DEMO_REQUESTS_MAX];
};

/* The byte at offset @p i of the source: position-dependent, so a misplaced slice shows. */
static inline uint8_t
pattern_byte(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 12));
}

/* The arguments after EAL's. @return DEMO_RUN, or the exit status. */
static int
parse_opts(int argc, char **argv, struct demo *d)
{
	static const struct option opts[] = { { "size", required_argument, NULL, 's' },
					      { "requests", required_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (tern_cli_parse_size(optarg, UINT64_MAX, &d->size) != 0) {
				fprintf(stderr, "tern-demo: bad --size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			errno = 0;
			d->nreq = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || d->nreq == 0 ||
			    d->nreq > DEMO_REQUESTS_MAX) {
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
	if (d->size < d->nreq) {
		fprintf(stderr, "tern-demo: --size must be at least --requests bytes\n");
		return 2;
	}
	return DEMO_RUN;
}

/*
 * Two segments, the engine and a client; the source holds the pattern, the
 * destination zeros. The process exits on failure: nothing is torn down.
 * @return 0 or -1.
 */
static int
setup(struct demo *d)
{
	uint64_t i;

	d->tbl = tern_segment_table_create("demo", 16, SOCKET_ID_ANY);
	if (d->tbl == NULL ||
	    tern_segment_alloc(d->tbl, "src", d->size, SOCKET_ID_ANY, &d->hs) != 0 ||
	    tern_segment_alloc(d->tbl, "dst", d->size, SOCKET_ID_ANY, &d->hd) != 0) {
		fprintf(stderr,
			"tern-demo: cannot allocate 2 x %" PRIu64 " bytes of hugepage memory\n",
			d->size);
		return -1;
	}
	d->engine = tern_engine_create(&(struct tern_engine_conf){ .segments = d->tbl });
	if (d->engine == NULL) {
		fprintf(stderr,
			"tern-demo: engine: %s (needs at least one worker lcore, e.g. -l 0-1)\n",
			rte_strerror(rte_errno));
		return -1;
	}
	d->client = tern_client_create(d->engine, NULL);
	tern_segment_info(d->tbl, d->hs, &d->src);
	tern_segment_info(d->tbl, d->hd, &d->dst);
	for (i = 0; i < d->size; i++)
		((uint8_t *)d->src.addr)[i] = pattern_byte(i);
	memset(d->dst.addr, 0, d->size);
	return 0;
}

/* The batch: nreq requests over the segments, the last one taking the remainder. */
static void
build_batch(struct demo *d)
{
	uint64_t per = d->size / d->nreq, i;

	for (i = 0; i < d->nreq; i++)
		d->reqs[i] = (struct tern_request){ .op = TERN_OP_WRITE,
						    .segment = d->hd,
						    .offset = i * per,
						    .local = (uint8_t *)d->src.addr + i * per,
						    .length = i + 1 == d->nreq ? d->size - i * per
									       : per };
}

/* Did the data arrive? A WRITE lands in dst, a READ brings the pattern back to src. */
static bool
arrived(const struct demo *d, enum tern_op op)
{
	uint64_t i;

	if (op == TERN_OP_WRITE)
		return memcmp(d->src.addr, d->dst.addr, d->size) == 0;
	for (i = 0; i < d->size; i++)
		if (((uint8_t *)d->src.addr)[i] != pattern_byte(i))
			return false;
	return true;
}

/*
 * One transfer: the batch as @p op in one submit, timed, then checked.
 * @p label heads the result line, @p what names the phase in the error.
 * @return 0 or -1.
 */
static int
transfer(struct demo *d, enum tern_op op, const char *label, const char *what)
{
	struct tern_future *f;
	uint64_t t0, t1, i;
	bool ok;
	int ret;

	for (i = 0; i < d->nreq; i++)
		d->reqs[i].op = op;
	t0 = rte_rdtsc();
	f = tern_submit(d->client, d->reqs, (uint32_t)d->nreq, NULL);
	ret = f == NULL ? -rte_errno : tern_future_wait(f, UINT64_MAX);
	t1 = rte_rdtsc();
	tern_future_release(f);
	ok = ret == 0 && arrived(d, op);
	/* Bytes that did not arrive intact are an I/O error, either way. */
	if (!ok && ret == 0)
		ret = -EIO;
	if (!ok) {
		fprintf(stderr, "tern-demo: %s failed: %s\n", what, strerror(-ret));
		return -1;
	}
	printf("%s %" PRIu64 " bytes in %u requests: %.3f ms, %.2f GB/s, verified\n", label,
	       d->size, (unsigned int)d->nreq, (double)(t1 - t0) * 1e3 / (double)rte_get_tsc_hz(),
	       (double)d->size / ((double)(t1 - t0) / (double)rte_get_tsc_hz()) / 1e9);
	return 0;
}

/* What each worker lcore did over both transfers. */
static void
print_lcores(const struct demo *d)
{
	unsigned int lcores[TERN_ENGINE_MAX_LCORES];
	int i, n;

	n = tern_engine_lcores(d->engine, lcores, TERN_ENGINE_MAX_LCORES);
	for (i = 0; i < n; i++) {
		struct tern_lcore_stats st;

		tern_engine_lcore_stats(d->engine, lcores[i], &st);
		printf("lcore %u: %" PRIu64 " batches owned, %" PRIu64 " slices, %" PRIu64
		       " bytes, %" PRIu64 " errors\n",
		       lcores[i], st.batches, st.slices, st.bytes, st.errors);
	}
}

static void
teardown(struct demo *d)
{
	tern_client_destroy(d->client);
	tern_engine_destroy(d->engine);
	tern_segment_unregister(d->tbl, d->hs);
	tern_segment_unregister(d->tbl, d->hd);
	tern_segment_table_free(d->tbl);
	rte_eal_cleanup();
}

int
main(int argc, char **argv)
{
	struct demo d = { .size = 64ull << 20, .nreq = 8 };
	int ret;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "tern-demo: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	ret = parse_opts(argc - ret, argv + ret, &d);
	if (ret != DEMO_RUN)
		return ret;
	if (setup(&d) != 0)
		return 1;
	build_batch(&d);
	/* WRITE src -> dst, then READ it back over a cleared source. */
	if (transfer(&d, TERN_OP_WRITE, "WRITE", "write") != 0)
		return 1;
	memset(d.src.addr, 0, d.size);
	if (transfer(&d, TERN_OP_READ, "READ ", "read back") != 0)
		return 1;
	print_lcores(&d);
	teardown(&d);
	return 0;
}
