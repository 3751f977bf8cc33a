/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The steps of doc/mlx5.md's hardware checklist that need the driver's own
 * hands on one device (loopback QP), for usertools/tern-mlx5-check:
 *
 *   mlx5_hw_probe info     the queue sizes, GID and caps the driver got
 *   mlx5_hw_probe flush    32 WRITEs in one burst, the 3rd with a bad rkey:
 *                          how many CQEs the device writes (one flush CQE per
 *                          WQE after the error, or fewer covering several)
 *   mlx5_hw_probe cancel   large READs cancelled at once: no byte lands in
 *                          their buffers after cancel() completed them
 *   mlx5_hw_probe dereg    a run of WRITEs whose target goes invalid mid-run
 *                          (a bad rkey, as a deregistered region answers):
 *                          -EACCES, the rest flushed, the QP recovers and
 *                          the next transfers succeed
 *
 * Each prints "STEP <name>: PASS|FAIL <detail>" lines and exits 0 only if
 * every step passed. Built twice: against rdma-core (a real ConnectX), and
 * with -DTERN_MLX5_PROBE_FAKE against the verbs fake and the device model
 * run as a thread, so CI exercises the steps (tests/mlx5/meson.build).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>

#include <tern_segment_driver.h>
#include <tern_time.h>
#include <tern_transport_driver.h>

#include "mlx5_wire.h"
#include "tern_mlx5_internal.h"

#ifdef TERN_MLX5_PROBE_FAKE
#include "fake_verbs.h"
#include "mlx5_model.h"
#endif

#define MEM_BYTES  (64u << 20)
#define WAIT_MS	   5000u
#define BIG_READ   (2u << 20)
#define NB_READS   16u
#define GUARD_BYTE 0x77

struct probe {
	const struct tern_transport_ops *ops;
	struct tern_endpoint *ep;
	uint8_t *mem;
	struct tern_segment lbuf; /* first half: sources, READ destinations */
	struct tern_segment lseg; /* second half: exported, the loopback target */
	struct tern_segment good; /* lseg imported through its descriptor */
	struct tern_segment bad;  /* the same with a wrong rkey */
	uint64_t cookie;
	int failed;
};

static void step(struct probe *p, const char *name, int pass, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
step(struct probe *p, const char *name, int pass, const char *fmt, ...)
{
	va_list ap;

	printf("STEP %s: %s ", name, pass ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!pass)
		p->failed = 1;
}

static struct tern_slice
mk(struct probe *p, uint8_t op, const struct tern_segment *t, uint64_t loff, uint64_t roff,
   uint32_t len)
{
	struct tern_slice s = { 0 };

	s.cookie = p->cookie++;
	s.local = p->mem + loff;
	s.local_seg = &p->lbuf;
	s.target = t;
	s.offset = roff;
	s.length = len;
	s.op = op;
	return s;
}

/* Wait for @nb completions (by cookie - @base), at most WAIT_MS. @return done. */
static unsigned int
collect(struct probe *p, uint64_t base, unsigned int nb, struct tern_completion *out)
{
	uint64_t end = tern_clock_ms() + WAIT_MS;
	unsigned int done = 0;

	while (done < nb && tern_clock_ms() < end) {
		struct tern_completion c[64];
		uint16_t n = p->ops->poll(p->ep, c, 64), i;

		for (i = 0; i < n; i++)
			if (c[i].cookie - base < nb)
				out[c[i].cookie - base] = c[i];
		done += n;
	}
	return done;
}

/* Post all of @s (retrying while the SQ is full), then collect. */
static unsigned int
post_all(struct probe *p, const struct tern_slice *s, unsigned int nb, struct tern_completion *out)
{
	uint64_t end = tern_clock_ms() + WAIT_MS;
	unsigned int posted = 0, done = 0;

	while (done < nb && tern_clock_ms() < end) {
		struct tern_completion c[64];
		uint16_t n, i;

		if (posted < nb)
			posted += p->ops->post_burst(p->ep, s + posted, (uint16_t)(nb - posted));
		n = p->ops->poll(p->ep, c, 64);
		for (i = 0; i < n; i++)
			if (c[i].cookie - s[0].cookie < nb)
				out[c[i].cookie - s[0].cookie] = c[i];
		done += n;
	}
	return done;
}

static int
import(struct probe *p, struct tern_segment *seg, const uint8_t *blob, size_t len)
{
	memset(seg, 0, sizeof(*seg));
	seg->kind = TERN_SEGMENT_REMOTE;
	seg->length = p->lseg.length;
	return p->ops->segment_import(seg, blob, len);
}

static int
probe_open(struct probe *p)
{
	struct tern_endpoint_conf conf = { .lcore_id = rte_lcore_id(),
					   .socket_id = SOCKET_ID_ANY,
					   .max_slices = 1024 };
	uint8_t blob[TERN_MLX5_DESC_LEN];
	struct tern_mlx5_desc d;
	int rc;

	p->ops = tern_transport_get(tern_transport_id("mlx5"));
	if (p->ops == NULL || (rc = p->ops->probe()) != 0) {
		printf("STEP open: FAIL no usable mlx5 device\n");
		return -ENODEV;
	}
	p->ep = p->ops->endpoint_open(&conf);
	p->mem = aligned_alloc(4096, MEM_BYTES);
	if (p->ep == NULL || p->mem == NULL)
		return -ENOMEM;
	memset(p->mem, 0, MEM_BYTES);
	p->lbuf.kind = TERN_SEGMENT_LOCAL;
	p->lbuf.handle = 1u << 16 | 1;
	p->lbuf.base = p->mem;
	p->lbuf.length = MEM_BYTES / 2;
	p->lseg = p->lbuf;
	p->lseg.handle = 1u << 16 | 2;
	p->lseg.base = p->mem + MEM_BYTES / 2;
	/* Export needs a handshake listener; the import of our own descriptor
	 * is loopback (our GID), no handshake. */
	rc = tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1" });
	if (rc == 0)
		rc = p->ops->segment_export(&p->lseg, blob, sizeof(blob));
	if (rc != (int)sizeof(blob) || mlx5_desc_decode(blob, sizeof(blob), &d) != 0)
		return rc < 0 ? rc : -EIO;
	rc = import(p, &p->good, blob, sizeof(blob));
	d.rkey ^= 0x00ffff00; /* a key no region of ours has */
	if (rc == 0 && mlx5_desc_encode(&d, blob, sizeof(blob)) == (int)sizeof(blob))
		rc = import(p, &p->bad, blob, sizeof(blob));
	return rc;
}

static void
probe_close(struct probe *p)
{
	if (p->ops == NULL)
		return;
	if (p->good.kind == TERN_SEGMENT_REMOTE)
		p->ops->segment_release(&p->good);
	if (p->bad.kind == TERN_SEGMENT_REMOTE)
		p->ops->segment_release(&p->bad);
	tern_mlx5_configure(NULL);
	if (p->ep != NULL)
		p->ops->endpoint_close(p->ep);
	free(p->mem);
}

static void
run_info(struct probe *p)
{
	struct tern_mlx5_qp_info q[4];
	struct tern_mlx5_path path;
	struct tern_slice s = mk(p, TERN_OP_WRITE, &p->good, 0, 0, 4096);
	struct tern_completion c = { .status = -EIO };
	int n;

	post_all(p, &s, 1, &c);
	n = mlx5_qp_list(q, 4);
	mlx5_verbs_get_path(&path);
	step(p, "info", c.status == 0 && n >= 1 && q[0].wqe_cnt >= q[0].limit,
	     "write %d; sq.wqe_cnt %u, in flight at most %u, state %s; path: gid_index %d "
	     "(-1 chosen), traffic_class %u, sl %u, timeout %u (%.1f ms per attempt), "
	     "retry_cnt %u",
	     c.status, n >= 1 ? q[0].wqe_cnt : 0, n >= 1 ? q[0].limit : 0,
	     n >= 1 ? q[0].state : "none", path.gid_index, path.traffic_class, path.sl,
	     path.timeout, 4.096e-3 * (double)(1u << path.timeout), path.retry_cnt);
}

static void
run_flush(struct probe *p)
{
	struct tern_slice s[32];
	struct tern_completion out[32];
	struct tern_mlx5_ep_stats a, b;
	unsigned int i, done, ok = 1;

	for (i = 0; i < 32; i++)
		s[i] = mk(p, TERN_OP_WRITE, i == 2 ? &p->bad : &p->good, (uint64_t)i * 4096,
			  (uint64_t)i * 4096, 4096);
	memset(out, 0, sizeof(out));
	mlx5_ep_stats(p->ep, &a);
	done = post_all(p, s, 32, out);
	mlx5_ep_stats(p->ep, &b);
	ok = done == 32 && out[0].status == 0 && out[1].status == 0 && out[2].status == -EACCES;
	for (i = 3; i < 32; i++)
		ok &= out[i].status == -ECONNABORTED;
	step(p, "flush", ok, "%u of 32 completed; WQE 3: %s; %" PRIu64 " CQEs for 32 WQEs (%s)",
	     done, strerror(-out[2].status), b.cqes - a.cqes,
	     b.cqes - a.cqes >= 30 ? "a flush CQE per WQE after the error"
				   : "flush CQEs cover several WQEs");
}

static void
run_cancel(struct probe *p)
{
	struct tern_slice s[NB_READS];
	struct tern_completion out[NB_READS];
	unsigned int i, j, done, cancelled = 0, landed = 0;
	uint8_t *dst = p->mem;

	memset(p->lseg.base, 0x3c, NB_READS * BIG_READ);
	memset(dst, 0xa5, NB_READS * BIG_READ);
	for (i = 0; i < NB_READS; i++)
		s[i] = mk(p, TERN_OP_READ, &p->good, (uint64_t)i * BIG_READ, (uint64_t)i * BIG_READ,
			  BIG_READ);
	memset(out, 0, sizeof(out));
	i = p->ops->post_burst(p->ep, s, NB_READS);
	p->ops->cancel(p->ep);
	done = collect(p, s[0].cookie, i, out);
	/* Guard every buffer cancel() handed back, then look again later. */
	for (j = 0; j < i; j++)
		if (out[j].status == -ECANCELED) {
			memset(dst + (size_t)j * BIG_READ, GUARD_BYTE, BIG_READ);
			cancelled++;
		}
	{
		uint64_t end = tern_clock_ms() + 300;
		struct tern_completion c[8];

		while (tern_clock_ms() < end)
			p->ops->poll(p->ep, c, 8); /* the device's late CQEs, absorbed */
	}
	for (j = 0; j < i; j++) {
		const uint8_t *b = dst + (size_t)j * BIG_READ;
		size_t k;

		if (out[j].status != -ECANCELED)
			continue;
		for (k = 0; k < BIG_READ; k++)
			if (b[k] != GUARD_BYTE) {
				landed++;
				break;
			}
	}
	step(p, "cancel", done == i && landed == 0,
	     "%u READs of %u KiB posted, %u completed, %u cancelled, %u buffers written after "
	     "cancel",
	     i, BIG_READ >> 10, done, cancelled, landed);
}

static void
run_dereg(struct probe *p)
{
	enum { N = 256 };
	struct tern_slice *s = calloc(N, sizeof(*s));
	struct tern_completion *out = calloc(N, sizeof(*out));
	unsigned int i, done, ok_before = 0, aborted = 0, ok_after = 0;
	struct tern_slice t[8];
	struct tern_completion tout[8];

	if (s == NULL || out == NULL) {
		step(p, "dereg", 0, "out of memory");
		free(s);
		free(out);
		return;
	}
	for (i = 0; i < N; i++)
		s[i] = mk(p, TERN_OP_WRITE, i == N / 2 ? &p->bad : &p->good, (uint64_t)i * 4096,
			  (uint64_t)i * 4096, 4096);
	done = post_all(p, s, N, out);
	for (i = 0; i < N; i++) {
		ok_before += i < N / 2 && out[i].status == 0;
		aborted += i > N / 2 && out[i].status == -ECONNABORTED;
	}
	/* The loopback QP recovers: transfers after it succeed. */
	for (i = 0; i < 8; i++)
		t[i] = mk(p, TERN_OP_WRITE, &p->good, (uint64_t)i * 4096, (uint64_t)i * 4096, 4096);
	memset(tout, 0, sizeof(tout));
	post_all(p, t, 8, tout);
	for (i = 0; i < 8; i++)
		ok_after += tout[i].status == 0;
	step(p, "dereg", done == N && out[N / 2].status == -EACCES && ok_after == 8,
	     "%u of %u completed: %u ok before the invalid target, it %s, %u flushed after; "
	     "%u of 8 later WRITEs ok",
	     done, N, ok_before, strerror(-out[N / 2].status), aborted, ok_after);
	free(s);
	free(out);
}

int
main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = { argv[0],	  "--no-huge",	   "-m",   "128",	  "--no-pci",
			"--no-telemetry", "--file-prefix", prefix, "--log-level", "lib.eal:error" };
	struct probe p;
	int i, rc;
#ifdef TERN_MLX5_PROBE_FAKE
	struct mlx5_model *m = mlx5_model_create();
#endif

	if (argc < 2) {
		fprintf(stderr, "usage: %s info|flush|cancel|dereg|all...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "info") != 0 && strcmp(argv[i], "flush") != 0 &&
		    strcmp(argv[i], "cancel") != 0 && strcmp(argv[i], "dereg") != 0 &&
		    strcmp(argv[i], "all") != 0) {
			fprintf(stderr, "%s: unknown step '%s' (info, flush, cancel, dereg, all)\n",
				argv[0], argv[i]);
			return 2;
		}
	snprintf(prefix, sizeof(prefix), "tern_mlx5_probe_%d", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0)
		return 1;
#ifdef TERN_MLX5_PROBE_FAKE
	fake_verbs_reset(NULL, 0, m);
	fake_verbs_set_cap_ipc_lock(1);
	mlx5_model_start(m); /* the device runs on its own, as hardware does */
#endif
	memset(&p, 0, sizeof(p));
	rc = probe_open(&p);
	if (rc != 0) {
		printf("STEP open: FAIL %s\n", strerror(-rc));
		p.failed = 1;
	}
	for (i = 1; i < argc && rc == 0; i++) {
		int all = strcmp(argv[i], "all") == 0;

		if (all || strcmp(argv[i], "info") == 0)
			run_info(&p);
		if (all || strcmp(argv[i], "flush") == 0)
			run_flush(&p);
		if (all || strcmp(argv[i], "cancel") == 0)
			run_cancel(&p);
		if (all || strcmp(argv[i], "dereg") == 0)
			run_dereg(&p);
	}
	probe_close(&p);
#ifdef TERN_MLX5_PROBE_FAKE
	mlx5_model_stop(m);
	if (mlx5_model_violations(m, NULL) != 0) {
		printf("STEP model: FAIL %u violations\n", mlx5_model_violations(m, NULL));
		p.failed = 1;
	}
	mlx5_model_destroy(m);
#endif
	return p.failed ? 1 : 0;
}
