/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 transport's data path against the software device model, through
 * the transport's ops table (post_burst / poll / cancel), one endpoint per
 * test. The model runs synchronously (mlx5_model_step) except in the
 * two-lcore test, where it is a device thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <infiniband/verbs.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_memory.h>

#include <tern_directory.h>
#include <tern_peer.h>
#include <tern_segment.h>
#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_model.h"
#include "mlx5_queue.h"
#include "tern_mlx5_internal.h"

#define LOCAL_BYTES  (48u << 20)
#define REMOTE_BYTES (24u << 20)
#define SQ_WQEBBS    64u
/* Polling rounds after which a loop waiting for completions fails (the model
 * answers within a few; this bounds a hang to about a second). */
#define SPINS_MAX 1000000u

/* Handles of the segments a test makes up: generation << 16 | slot. */
#define HANDLE(gen, slot) ((uint32_t)(gen) << 16 | (slot))

struct fx {
	struct mlx5_model *m;
	const struct tern_transport_ops *ops;
	struct tern_endpoint *ep;
	uint8_t *local;
	uint8_t *remote;
	uint32_t rkey;
	struct tern_segment rseg; /* REMOTE target on the peer node */
	struct tern_segment lbuf; /* LOCAL segment holding every local buffer */
	struct tern_segment lseg; /* LOCAL target (loopback), inside lbuf's memory */
	uint64_t next_cookie;
};

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131u + seed * 7u + (i >> 8)) ^ seed);
}

static void
make_local(struct tern_segment *seg, uint32_t handle, void *addr, uint64_t len)
{
	memset(seg, 0, sizeof(*seg));
	seg->kind = TERN_SEGMENT_LOCAL;
	seg->handle = handle;
	seg->base = addr;
	seg->length = len;
}

/* Node 1's memory as a REMOTE segment; the model wires QPs to node 1, so
 * these tests need no handshake (test_mlx5_handshake.c and
 * test_mlx5_engine.c import through it). */
static void
make_remote(struct tern_segment *seg, uint8_t *addr, uint64_t len, uint32_t rkey)
{
	memset(seg, 0, sizeof(*seg));
	seg->kind = TERN_SEGMENT_REMOTE;
	seg->base = addr;
	seg->length = len;
	mlx5_model_import_wired(seg, 1, addr, len, rkey);
}

/* Revival tuning of the next fx_open() (0: the driver's defaults). */
static uint16_t fx_revive_ms, fx_revive_tries;

static int
fx_open(void **state, uint32_t sq_wqebbs, uint16_t sig_every, uint16_t max_inline)
{
	/* aligned: the struct tern_segment inside is cache-line aligned */
	struct fx *f = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(*f), 64));
	struct tern_mlx5_tuning t = { .sq_wqebbs = sq_wqebbs,
				      .sig_every = sig_every,
				      .max_inline = max_inline,
				      .revive_ms = fx_revive_ms,
				      .revive_tries = fx_revive_tries };
	struct tern_endpoint_conf conf = { .lcore_id = rte_lcore_id(),
					   .socket_id = SOCKET_ID_ANY,
					   .max_slices = 1024 };
	uint8_t d[TERN_MLX5_DESC_LEN];

	assert_non_null(f);
	memset(f, 0, sizeof(*f));
	f->m = mlx5_model_create();
	assert_int_equal(mlx5_test_set_queue_provider(&mlx5_model_provider, f->m), 0);
	mlx5_set_tuning(&t);
	f->ops = tern_transport_get(tern_transport_id("mlx5"));
	assert_non_null(f->ops);
	assert_int_equal(f->ops->probe(), 0);
	/* Exporting needs a handshake listener. */
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1" }), 0);
	f->ep = f->ops->endpoint_open(&conf);
	assert_non_null(f->ep);
	f->local = aligned_alloc(4096, LOCAL_BYTES);
	f->remote = aligned_alloc(4096, REMOTE_BYTES);
	assert_non_null(f->local);
	assert_non_null(f->remote);
	memset(f->remote, 0, REMOTE_BYTES);
	f->rkey = mlx5_model_mr_add(f->m, 1, f->remote, REMOTE_BYTES, MODEL_ACCESS_ALL);
	make_remote(&f->rseg, f->remote, REMOTE_BYTES, f->rkey);
	make_local(&f->lbuf, HANDLE(1, 1), f->local, LOCAL_BYTES);
	/* Exporting registers the whole buffer once. */
	assert_int_equal(f->ops->segment_export(&f->lbuf, d, sizeof(d)), (int)sizeof(d));
	make_local(&f->lseg, HANDLE(1, 2), f->local + LOCAL_BYTES / 2, LOCAL_BYTES / 2);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return fx_open(state, SQ_WQEBBS, 16, 64);
}

static void
assert_model_clean(struct fx *f)
{
	const char *first;
	unsigned int n = mlx5_model_violations(f->m, &first);

	if (n != 0)
		fail_msg("%u model violations, first: %s", n, first);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	assert_model_clean(f);
	assert_int_equal(tern_mlx5_configure(NULL), 0);
	f->ops->endpoint_close(f->ep);
	/* The last endpoint closed: the provider was shut down. */
	assert_int_equal(mlx5_model_shutdowns(f->m), 1);
	assert_int_equal(mlx5_test_set_queue_provider(NULL, NULL), 0);
	mlx5_set_tuning(NULL);
	mlx5_model_destroy(f->m);
	free(f->local);
	free(f->remote);
	free(f);
	return 0;
}

static struct tern_slice
slice(struct fx *f, uint8_t op, const struct tern_segment *t, uint64_t local_off, uint64_t off,
      uint32_t len)
{
	struct tern_slice s = { 0 };

	s.cookie = f->next_cookie++;
	s.local = f->local + local_off;
	s.local_seg = &f->lbuf;
	s.target = t;
	s.offset = off;
	s.length = len;
	s.op = op;
	return s;
}

/* Post everything, stepping the model and polling until every slice has
 * completed exactly once. Completions are stored by cookie - base. */
static void
run(struct fx *f, const struct tern_slice *s, unsigned int nb, struct tern_completion *out)
{
	struct tern_completion cpl[64];
	uint64_t base = s[0].cookie;
	unsigned int posted = 0, done = 0, spins = 0, i;
	uint8_t *seen = calloc(nb, 1);

	assert_non_null(seen);
	while (done < nb) {
		uint16_t want = (uint16_t)RTE_MIN(nb - posted, 512u);
		uint16_t n;

		if (posted < nb)
			posted += f->ops->post_burst(f->ep, s + posted, want);
		mlx5_model_step(f->m);
		n = f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		for (i = 0; i < n; i++) {
			uint64_t k = cpl[i].cookie - base;

			assert_true(k < nb);
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
			out[k] = cpl[i];
		}
		done += n;
		if (++spins > SPINS_MAX)
			fail_msg("no progress: %u/%u posted, %u completed", posted, nb, done);
	}
	free(seen);
	assert_model_clean(f);
}

static void
run_expect_ok(struct fx *f, const struct tern_slice *s, unsigned int nb)
{
	struct tern_completion *out = calloc(nb, sizeof(*out));
	unsigned int i;

	assert_non_null(out);
	run(f, s, nb, out);
	for (i = 0; i < nb; i++) {
		assert_int_equal(out[i].status, 0);
		assert_int_equal(out[i].length, s[i].length);
	}
	free(out);
}

static void
probe_without_device_is_enodev(void **state)
{
	struct mlx5_model *m = mlx5_model_create();
	const struct tern_transport_ops *ops = tern_transport_get(tern_transport_id("mlx5"));

	(void)state;
	assert_non_null(ops);
	/* Rank 10: preferred to tcp (30) where both reach a target. */
	assert_int_equal(ops->rank, 10);
	if (tern_transport_id("tcp") >= 0)
		assert_true(ops->rank < tern_transport_get(tern_transport_id("tcp"))->rank);
	/* This machine has no RDMA device: the real provider says so. */
	assert_int_equal(ops->probe(), -ENODEV);
	assert_null(ops->endpoint_open(&(struct tern_endpoint_conf){ .max_slices = 8 }));
	assert_int_equal(rte_errno, ENODEV);
	/* Nothing to listen for either, and nothing to import. */
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1" }),
		-ENODEV);
	assert_int_equal(tern_mlx5_listen_port(), -ENOTCONN);
	assert_int_equal(tern_mlx5_configure(NULL), 0);
	/* A model that is "absent" too. */
	assert_int_equal(mlx5_test_set_queue_provider(&mlx5_model_provider, m), 0);
	mlx5_model_set_present(m, 0);
	assert_int_equal(ops->probe(), -ENODEV);
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1" }),
		-ENODEV);
	assert_int_equal(mlx5_test_set_queue_provider(NULL, NULL), 0);
	mlx5_model_destroy(m);
}

static void
write_and_read_1_byte_to_16_mib(void **state)
{
	static const uint32_t sizes[] = {
		1, 7, 63, 64, 65, 100, 4095, 4096, 65537, 1u << 20, (16u << 20) - 3
	};
	struct fx *f = *state;
	unsigned int i;

	for (i = 0; i < RTE_DIM(sizes); i++) {
		uint32_t len = sizes[i];
		uint64_t roff = (i * 4099u) % 4096;
		struct tern_slice s;

		fill(f->local, len, i + 1);
		s = slice(f, TERN_OP_WRITE, &f->rseg, 0, roff, len);
		run_expect_ok(f, &s, 1);
		assert_memory_equal(f->remote + roff, f->local, len);
		/* READ back into another place of local memory. */
		memset(f->local + (LOCAL_BYTES / 2), 0, len);
		s = slice(f, TERN_OP_READ, &f->rseg, LOCAL_BYTES / 2, roff, len);
		run_expect_ok(f, &s, 1);
		assert_memory_equal(f->local + LOCAL_BYTES / 2, f->local, len);
	}
}

static void
inline_writes_wrap_the_ring(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[300];
	struct mlx5_model_stats st;
	unsigned int i;

	/* Lengths 1..64 are inline (2 WQEBBs above 28 bytes), mixed with
	 * 1-WQEBB WRITEs so inline WQEs start at odd slots and straddle the
	 * end of the 64-WQEBB ring. */
	fill(f->local, 64 * 300, 9);
	for (i = 0; i < RTE_DIM(s); i++) {
		uint32_t len = i % 3 == 0 ? 4096 : 1 + (i * 37u) % 64;

		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, (uint64_t)i * 64, (uint64_t)i * 8192, len);
	}
	for (i = 0; i < RTE_DIM(s); i += 7)
		run_expect_ok(f, s + i, RTE_MIN(7u, RTE_DIM(s) - i));
	for (i = 0; i < RTE_DIM(s); i++)
		assert_memory_equal(f->remote + (uint64_t)i * 8192, f->local + (uint64_t)i * 64,
				    s[i].length);
	mlx5_model_stats(f->m, &st);
	assert_true(st.inline_wqes >= 190);
	assert_true(st.sq_wraps >= 5);
}

static void
sq_and_cq_wrap_many_times(void **state)
{
	struct fx *f = *state;
	enum { N = 20000 };
	struct tern_slice *s = calloc(N, sizeof(*s));
	struct mlx5_model_stats st;
	unsigned int i;

	assert_non_null(s);
	fill(f->local, 1 << 20, 3);
	for (i = 0; i < N; i++)
		s[i] = slice(f, i % 5 == 4 ? TERN_OP_READ : TERN_OP_WRITE, &f->rseg,
			     (i % 5 == 4 ? (2u << 20) : 0) + (uint64_t)(i % 1024) * 1024,
			     (uint64_t)(i % 1024) * 1024, 128 + i % 512);
	/* Bursts of 1..31 so signalled and unsignalled WQEs mix. */
	for (i = 0; i < N;) {
		unsigned int b = RTE_MIN(1 + i % 31, N - i);

		run_expect_ok(f, s + i, b);
		i += b;
	}
	mlx5_model_stats(f->m, &st);
	print_message("SQ wraps %" PRIu64 ", CQ wraps %" PRIu64 ", CQEs %" PRIu64 "\n", st.sq_wraps,
		      st.cq_wraps, st.cqes);
	assert_true(st.sq_wraps >= 300);
	assert_true(st.cq_wraps >= 3);
	assert_int_equal(st.wqes, N);
	free(s);
}

static void
burst_larger_than_sq_backpressures(void **state)
{
	struct fx *f = *state;
	enum { N = 2000 };
	struct tern_slice *s = calloc(N, sizeof(*s));
	struct tern_completion cpl[8];
	unsigned int i, n;

	assert_non_null(s);
	fill(f->local, 1 << 20, 4);
	for (i = 0; i < N; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, (uint64_t)i * 256, (uint64_t)i * 256, 256);
	/* The SQ holds 64 WQEBBs: one call takes at most that. */
	n = f->ops->post_burst(f->ep, s, N);
	assert_int_equal(n, SQ_WQEBBS);
	assert_int_equal(f->ops->post_burst(f->ep, s + n, N - n), 0);
	/* Nothing completes before the device runs. */
	assert_int_equal(f->ops->poll(f->ep, cpl, RTE_DIM(cpl)), 0);
	mlx5_model_step(f->m);
	/* Completions come out a few at a time when the caller's array is small. */
	assert_int_equal(f->ops->poll(f->ep, cpl, RTE_DIM(cpl)), RTE_DIM(cpl));
	for (i = 0; i < RTE_DIM(cpl); i++)
		assert_int_equal(cpl[i].cookie, s[i].cookie);
	f->next_cookie = s[0].cookie; /* run() matches cookies from s[0] */
	{
		struct tern_completion *out = calloc(N, sizeof(*out));

		assert_non_null(out);
		/* Drain the rest, then run everything not yet posted. */
		for (i = RTE_DIM(cpl); i < n;)
			i += f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		run(f, s + n, N - n, out + n);
		for (i = n; i < N; i++)
			assert_int_equal(out[i].status, 0);
		free(out);
	}
	assert_memory_equal(f->remote, f->local, (size_t)N * 256);
	free(s);
}

static void
selective_signalling_one_cqe_per_16_and_every_read(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[32];
	struct mlx5_model_stats a, b;
	unsigned int i;

	fill(f->local, 32 * 4096, 5);
	for (i = 0; i < 32; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, i * 4096u, i * 4096u, 4096);
	mlx5_model_stats(f->m, &a);
	run_expect_ok(f, s, 32);
	mlx5_model_stats(f->m, &b);
	/* sig_every 16: CQEs after WQE 16 and 32 only. */
	assert_int_equal(b.cqes - a.cqes, 2);
	/* A burst of 5 that ends unsignalled still gets a CQE on its last WQE. */
	for (i = 0; i < 5; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, i * 4096u, i * 4096u, 4096);
	run_expect_ok(f, s, 5);
	mlx5_model_stats(f->m, &a);
	assert_int_equal(a.cqes - b.cqes, 1);
	/* Every READ asks for a CQE. */
	for (i = 0; i < 8; i++)
		s[i] = slice(f, TERN_OP_READ, &f->rseg, (1u << 20) + i * 4096u, i * 4096u, 4096);
	run_expect_ok(f, s, 8);
	mlx5_model_stats(f->m, &b);
	assert_int_equal(b.cqes - a.cqes, 8);
	assert_memory_equal(f->local + (1u << 20), f->remote, 8 * 4096);
}

static uint8_t *sabotage_local;
static const struct tern_segment *sabotage_seg;

/* Post 8 WRITEs with the 3rd failing: 2 succeed, the 3rd carries the
 * syndrome's errno, the other 5 are flushed; the QP then recovers. */
static void
expect_failure(struct fx *f, uint8_t syndrome, int err, int sabotage)
{
	struct tern_slice s[8];
	struct tern_completion out[8];
	struct tern_mlx5_ep_stats st;
	struct mlx5_model_qp *qp;
	unsigned int i;

	/* Open the QP first (one clean WRITE) so the knobs have a QP to act on. */
	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	qp = mlx5_model_qp(f->m, 0);
	assert_non_null(qp);
	for (i = 0; i < 8; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, i * 4096u, i * 4096u, 4096);
	if (sabotage == 0) {
		mlx5_model_qp_fail(qp, 2, syndrome);
	} else if (sabotage == 1) {
		/* A WRITE beyond the peer's region: the device refuses it. */
		s[2].offset = REMOTE_BYTES;
		s[2].target = &f->rseg;
		f->rseg.length = REMOTE_BYTES + 8192;
	} else if (sabotage == 2) {
		/* A local buffer the MR does not cover (the provider claimed more). */
		s[2].local = sabotage_local;
		s[2].local_seg = sabotage_seg;
	}
	if (sabotage == 3) {
		/* An opcode the device does not know: corrupt WQE 2 before the
		 * doorbell reaches the model (the doorbell names WQE 7). */
		assert_int_equal(f->ops->post_burst(f->ep, s, 8), 8);
		for (i = 0; i < SQ_WQEBBS; i++) {
			uint8_t *w = mlx5_model_qp_ring(qp) + i * 64;
			uint32_t idx = (rte_be_to_cpu_32(*(uint32_t *)w) >> 8) & 0xffff;

			if (w[3] == 0x08 && idx == (uint32_t)(1 + 2))
				w[3] = 0x0a;
		}
		memset(out, 0, sizeof(out));
		for (i = 0; i < 8;) {
			struct tern_completion c[8];
			uint16_t n, k;

			mlx5_model_step(f->m);
			n = f->ops->poll(f->ep, c, 8);
			for (k = 0; k < n; k++)
				out[c[k].cookie - s[0].cookie] = c[k];
			i += n;
		}
	} else {
		run(f, s, 8, out);
	}
	assert_int_equal(out[0].status, 0);
	assert_int_equal(out[1].status, 0);
	assert_int_equal(out[2].status, err);
	assert_int_equal(out[2].length, 0);
	for (i = 3; i < 8; i++)
		assert_int_equal(out[i].status, -ECONNABORTED);
	assert_int_equal(mlx5_ep_stats(f->ep, &st), 0);
	assert_int_equal(st.recoveries, 1);
	assert_int_equal(st.errors, 6);
	/* Back in RTS: the same WRITEs now succeed. */
	f->rseg.length = REMOTE_BYTES;
	for (i = 0; i < 8; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, i * 4096u, i * 4096u, 4096);
	run_expect_ok(f, s, 8);
}

static void
retry_exceeded_is_etimedout(void **state)
{
	expect_failure(*state, MODEL_SYND_RETRY_EXC, -ETIMEDOUT, 0);
}

static void
rnr_retry_exceeded_is_ebusy(void **state)
{
	expect_failure(*state, MODEL_SYND_RNR_RETRY_EXC, -EBUSY, 0);
}

static void
remote_op_error_is_eremoteio(void **state)
{
	expect_failure(*state, MODEL_SYND_REMOTE_OP, -EREMOTEIO, 0);
}

static void
remote_bounds_is_eacces(void **state)
{
	expect_failure(*state, 0, -EACCES, 1);
}

static void
bad_local_key_is_efault(void **state)
{
	struct fx *f = *state;
	uint8_t *extra = aligned_alloc(4096, 1u << 20);
	struct tern_segment page, all;
	struct tern_slice s;

	assert_non_null(extra);
	/* A one-page segment: the provider registers that page but claims
	 * 1 MiB more, and a 1 MiB segment over the same memory then finds that
	 * region as covering it. */
	mlx5_model_set_mr_slack(f->m, 1u << 20);
	make_local(&page, HANDLE(1, 3), extra, 4096);
	make_local(&all, HANDLE(1, 4), extra, 1u << 20);
	s = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	s.local = extra;
	s.local_seg = &page;
	run_expect_ok(f, &s, 1);
	sabotage_local = extra + 65536;
	sabotage_seg = &all;
	expect_failure(f, 0, -EFAULT, 2);
	free(extra);
}

static void
unknown_opcode_is_eproto(void **state)
{
	expect_failure(*state, 0, -EPROTO, 3);
}

static void
read_without_remote_read_access_is_eacces(void **state)
{
	struct fx *f = *state;
	uint8_t *ro = aligned_alloc(4096, 65536);
	struct tern_segment seg;
	struct tern_slice s[2];
	struct tern_completion out[2];

	assert_non_null(ro);
	make_remote(&seg, ro, 65536,
		    mlx5_model_mr_add(f->m, 1, ro, 65536, MODEL_ACCESS_REMOTE_WRITE));
	s[0] = slice(f, TERN_OP_WRITE, &seg, 0, 0, 4096);
	s[1] = slice(f, TERN_OP_READ, &seg, 8192, 0, 4096);
	run(f, s, 2, out);
	assert_int_equal(out[0].status, 0);
	assert_int_equal(out[1].status, -EACCES);
	free(ro);
}

static void
recovery_failure_fails_later_slices(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[4];
	struct tern_completion out[4];
	unsigned int i;

	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	mlx5_model_qp_fail_recovery(mlx5_model_qp(f->m, 0), 1);
	mlx5_model_qp_fail(mlx5_model_qp(f->m, 0), 0, MODEL_SYND_RETRY_EXC);
	for (i = 0; i < 4; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run(f, s, 4, out);
	assert_int_equal(out[0].status, -ETIMEDOUT);
	/* The QP is dead: new slices complete at once with -ENOTCONN. */
	for (i = 0; i < 4; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run(f, s, 4, out);
	for (i = 0; i < 4; i++)
		assert_int_equal(out[i].status, -ENOTCONN);
}

static void
partial_and_delayed_processing(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[200];
	struct tern_completion cpl[256];
	unsigned int i, n = 0, posted = 0, spins;

	fill(f->local, 200 * 1024, 6);
	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 1024);
	run_expect_ok(f, s, 1);
	mlx5_model_qp_hold(mlx5_model_qp(f->m, 0), 1);
	for (i = 0; i < 200; i++)
		s[i] = slice(f, i % 2 ? TERN_OP_READ : TERN_OP_WRITE, &f->rseg,
			     (i % 2 ? 1u << 20 : 0) + i * 1024u, i * 1024u, 1024);
	posted = f->ops->post_burst(f->ep, s, 200);
	mlx5_model_step(f->m);
	assert_int_equal(f->ops->poll(f->ep, cpl, 256), 0);
	mlx5_model_qp_hold(mlx5_model_qp(f->m, 0), 0);
	mlx5_model_qp_budget(mlx5_model_qp(f->m, 0), 3);
	for (spins = 0; n < 200; spins++) {
		if (spins > SPINS_MAX)
			fail_msg("no progress: %u/200 completed", (unsigned int)n);
		if (posted < 200)
			posted += f->ops->post_burst(f->ep, s + posted, 200 - posted);
		mlx5_model_step(f->m);
		n += f->ops->poll(f->ep, cpl, 256);
	}
	assert_model_clean(f);
	for (i = 0; i < 200; i += 2)
		assert_memory_equal(f->remote + i * 1024u, f->local + i * 1024u, 1024);
	for (i = 1; i < 200; i += 2)
		assert_memory_equal(f->local + (1u << 20) + i * 1024u, f->remote + i * 1024u, 1024);
}

static void
cancel_flushes_everything_posted(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[10];
	struct tern_completion out[10];
	unsigned int i, n = 0, spins;

	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	mlx5_model_qp_hold(mlx5_model_qp(f->m, 0), 1);
	for (i = 0; i < 10; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	assert_int_equal(f->ops->post_burst(f->ep, s, 10), 10);
	mlx5_model_step(f->m);
	f->ops->cancel(f->ep);
	/* A QP in ERR takes nothing until it is back. */
	assert_int_equal(f->ops->post_burst(f->ep, s, 1), 0);
	mlx5_model_qp_hold(mlx5_model_qp(f->m, 0), 0);
	for (spins = 0; n < 10; spins++) {
		struct tern_completion c[4];
		uint16_t k, got;

		if (spins > SPINS_MAX)
			fail_msg("no progress: %u/10 flushed", (unsigned int)n);
		mlx5_model_step(f->m);
		got = f->ops->poll(f->ep, c, 4);
		for (k = 0; k < got; k++)
			out[c[k].cookie - s[0].cookie] = c[k];
		n += got;
	}
	for (i = 0; i < 10; i++)
		assert_int_equal(out[i].status, -ECANCELED);
	for (i = 0; i < 3; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run_expect_ok(f, s, 3);
}

/* Poll (stepping the model first when @step) until @want completions came or
 * @rounds passed; each lands in @out by cookie - @base, at most once. */
static unsigned int
collect(struct fx *f, uint64_t base, unsigned int nb, struct tern_completion *out, uint8_t *seen,
	unsigned int want, unsigned int rounds, int step)
{
	struct tern_completion c[16];
	unsigned int n = 0, r, k;

	for (r = 0; r < rounds && n < want; r++) {
		uint16_t got;

		if (step)
			mlx5_model_step(f->m);
		got = f->ops->poll(f->ep, c, RTE_DIM(c));
		for (k = 0; k < got; k++) {
			uint64_t i = c[k].cookie - base;

			assert_true(i < nb);
			assert_int_equal(seen[i], 0);
			seen[i] = 1;
			out[i] = c[k];
		}
		n += got;
	}
	return n;
}

/*
 * A QP already in ERR (its error CQE came) whose later WQEs the device has
 * not flushed: cancel() still completes every one by the next poll(), and the
 * QP is not reset before the device has reported them.
 */
static void
cancel_completes_a_qp_already_in_err(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[8];
	struct tern_completion out[8];
	struct tern_mlx5_ep_stats st;
	struct mlx5_model_stats ms;
	struct mlx5_model_qp *qp;
	uint8_t seen[8] = { 0 };
	unsigned int i;

	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	qp = mlx5_model_qp(f->m, 0);
	mlx5_model_qp_fail(qp, 2, MODEL_SYND_RETRY_EXC);
	mlx5_model_qp_hold_after_error(qp, 1);
	for (i = 0; i < 8; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, i * 4096u, i * 4096u, 4096);
	assert_int_equal(f->ops->post_burst(f->ep, s, 8), 8);
	/* WQEs 0 and 1 done, 2 failed: the QP is in ERR, 3..7 not flushed. */
	assert_int_equal(collect(f, s[0].cookie, 8, out, seen, 8, 50, 1), 3);
	assert_int_equal(out[0].status, 0);
	assert_int_equal(out[1].status, 0);
	assert_int_equal(out[2].status, -ETIMEDOUT);
	f->ops->cancel(f->ep);
	/* No device step needed: the next poll has them all. */
	assert_int_equal(collect(f, s[0].cookie, 8, out, seen, 8, 1, 0), 5);
	for (i = 3; i < 8; i++) {
		assert_int_equal(out[i].status, -ECANCELED);
		assert_int_equal(out[i].length, 0);
	}
	/* The device still owes their CQEs: no reset, no new work yet. */
	assert_int_equal(f->ops->post_burst(f->ep, s, 1), 0);
	assert_int_equal(mlx5_ep_stats(f->ep, &st), 0);
	assert_int_equal(st.recoveries, 0);
	/* The device flushes them late: absorbed (no second completion), then
	 * the QP is reset and takes work again. */
	mlx5_model_qp_hold_after_error(qp, 0);
	mlx5_model_qp_hold(qp, 0);
	assert_int_equal(collect(f, s[0].cookie, 8, out, seen, 1, 20, 1), 0);
	mlx5_model_stats(f->m, &ms);
	assert_int_equal(ms.flush_cqes, 5);
	assert_int_equal(mlx5_ep_stats(f->ep, &st), 0);
	assert_int_equal(st.recoveries, 1);
	for (i = 0; i < 3; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run_expect_ok(f, s, 3);
}

static void
loopback_to_a_local_segment(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[2];

	fill(f->local, 65536, 8);
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 4096, 65536);
	s[1] = slice(f, TERN_OP_READ, &f->lseg, 1u << 20, 4096, 65536);
	run_expect_ok(f, s, 2);
	assert_memory_equal(f->lseg.base + 4096, f->local, 65536);
	assert_memory_equal(f->local + (1u << 20), f->local, 65536);
	/* Two QPs now: the peer's (none yet) and loopback's. */
	assert_non_null(mlx5_model_qp(f->m, 0));
}

/* The local key comes from the slice's local segment: runs switch segments,
 * a segment's slot reused by another segment gets that segment's key, and a
 * slice without a local segment is refused. */
static void
local_keys_follow_the_segment(void **state)
{
	struct fx *f = *state;
	uint8_t *a = aligned_alloc(4096, 65536), *b = aligned_alloc(4096, 65536);
	struct tern_segment sa, sb;
	struct tern_slice s[9];
	struct tern_completion out[9];
	unsigned int i;

	assert_non_null(a);
	assert_non_null(b);
	fill(a, 65536, 21);
	fill(b, 65536, 22);
	make_local(&sa, HANDLE(1, 7), a, 65536);
	make_local(&sb, HANDLE(1, 8), b, 65536);
	/* Alternating segments: every slice starts a run. */
	for (i = 0; i < 8; i++) {
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, 0, i * 8192u, 8192);
		s[i].local = (i % 2 ? b : a) + i * 8192u;
		s[i].local_seg = i % 2 ? &sb : &sa;
	}
	run_expect_ok(f, s, 8);
	for (i = 0; i < 8; i++)
		assert_memory_equal(f->remote + i * 8192u, (i % 2 ? b : a) + i * 8192u, 8192);
	/* Slot 8 again, generation 2, other memory: a new key, not sb's. */
	make_local(&sb, HANDLE(2, 8), f->local, 65536);
	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	s[0].local_seg = &sb;
	s[1] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 4096, 4096);
	s[1].local_seg = NULL;
	s[2] = slice(f, TERN_OP_READ, &f->rseg, 65536, 0, 4096);
	run(f, s, 3, out);
	assert_int_equal(out[0].status, 0);
	assert_int_equal(out[1].status, -EINVAL);
	assert_int_equal(out[2].status, 0);
	assert_memory_equal(f->local + 65536, f->local, 4096);
	free(a);
	free(b);
}

static void
bad_targets_complete_with_errors(void **state)
{
	struct fx *f = *state;
	struct tern_segment junk = f->rseg;
	struct tern_slice s[3];
	struct tern_completion out[3];

	junk.priv[0] ^= 0xff; /* magic broken */
	s[0] = slice(f, TERN_OP_WRITE, &junk, 0, 0, 4096);
	s[1] = slice(f, 7, &f->rseg, 0, 0, 4096);
	s[2] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run(f, s, 3, out);
	assert_int_equal(out[0].status, -EINVAL);
	assert_int_equal(out[1].status, -EINVAL);
	assert_int_equal(out[2].status, 0);
}

/* The descriptor blob, byte by byte as doc/mlx5.md gives it, and its strict
 * decoder: one bad field at a time is refused. */
static void
descriptors_are_parsed_strictly(void **state)
{
	static const struct {
		const char *what;
		size_t off;
		uint8_t value;
	} bad[] = {
		{ "magic", 0, 'X' },
		{ "version 1", 4, 1 },
		{ "version 3", 4, 3 },
		{ "version high byte", 5, 1 },
		{ "reserved 6", 6, 1 },
		{ "reserved 7", 7, 0x80 },
		{ "handshake port 0", 12, 0 }, /* both bytes */
		{ "reserved 14", 14, 1 },
		{ "reserved 15", 15, 1 },
		{ "addr + length wraps", 23, 0xff },
		{ "length 0", 24, 0 }, /* all 8 bytes */
		{ "multicast GID", 32, 0xff },
		{ "zero GID", 33, 0 }, /* all 16 bytes */
		{ "unspecified handshake address", 60, 0 },
		{ "multicast IPv4 handshake address", 60, 224 },
		{ "multicast IPv6 handshake address", 48, 0xff },
		{ "epoch 0", 64, 0 }, /* all 8 bytes */
	};
	struct fx *f = *state;
	struct tern_segment seg, lseg;
	struct tern_mlx5_desc d, back;
	const struct tern_mlx5_desc *priv;
	uint8_t blob[TERN_MLX5_DESC_LEN + 8], good[TERN_MLX5_DESC_LEN];
	unsigned int i;

	mlx5_model_desc(&d, 1, (void *)(uintptr_t)0x123456789000ull, 0x10000, 0xabcdef, 7000);
	d.epoch = 0x0102030405060708ull;
	assert_int_equal(mlx5_desc_encode(&d, good, sizeof(good) - 1), -ENOSPC);
	assert_int_equal(mlx5_desc_encode(&d, good, sizeof(good)), TERN_MLX5_DESC_LEN);
	/* Little-endian, at the documented offsets. */
	assert_memory_equal(good, "5XMT\x02\x00\x00\x00\xef\xcd\xab\x00\x58\x1b\x00\x00", 16);
	assert_memory_equal(good + 16, "\x00\x90\x78\x56\x34\x12\x00\x00\x00\x00\x01\x00", 12);
	assert_memory_equal(good + 32, d.gid, 16);
	assert_memory_equal(good + 48, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\x01", 16);
	assert_memory_equal(good + 64, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
	assert_int_equal(mlx5_desc_decode(good, sizeof(good), &back), 0);
	assert_memory_equal(&back, &d, sizeof(d));
	for (i = 0; i < RTE_DIM(bad); i++) {
		memcpy(blob, good, sizeof(good));
		blob[bad[i].off] = bad[i].value;
		if (strstr(bad[i].what, "port 0") != NULL)
			memset(blob + 12, 0, 2);
		if (strstr(bad[i].what, "wraps") != NULL)
			memset(blob + 16, 0xff, 8);
		if (strstr(bad[i].what, "length 0") != NULL)
			memset(blob + 24, 0, 8);
		if (strstr(bad[i].what, "zero GID") != NULL)
			memset(blob + 32, 0, 16);
		if (strstr(bad[i].what, "unspecified") != NULL)
			memset(blob + 60, 0, 4);
		if (strstr(bad[i].what, "epoch 0") != NULL)
			memset(blob + 64, 0, 8);
		if (mlx5_desc_decode(blob, sizeof(good), &back) != -EINVAL)
			fail_msg("%s: accepted", bad[i].what);
		memset(&seg, 0, sizeof(seg));
		assert_int_equal(f->ops->segment_import(&seg, blob, sizeof(good)), -EINVAL);
	}
	/* An IPv6 handshake address is fine. */
	memcpy(blob, good, sizeof(good));
	memset(blob + 48, 0, 16);
	blob[48] = 0x20;
	blob[49] = 0x01;
	blob[63] = 1;
	assert_int_equal(mlx5_desc_decode(blob, sizeof(good), &back), 0);
	/* Every length but the right one, and a version 1 descriptor (48 bytes). */
	for (i = 0; i < sizeof(blob); i++)
		if (i != TERN_MLX5_DESC_LEN)
			assert_int_equal(mlx5_desc_decode(good, i, &back), -EINVAL);
	assert_int_equal(mlx5_desc_decode(NULL, TERN_MLX5_DESC_LEN, &back), -EINVAL);
	/* The segment must fit the descriptor's length. */
	memset(&seg, 0, sizeof(seg));
	seg.length = 0x10001;
	assert_int_equal(f->ops->segment_import(&seg, good, sizeof(good)), -EINVAL);
	/* Export of a local segment names this node: importing it is loopback,
	 * with no handshake. */
	memset(&lseg, 0, sizeof(lseg));
	lseg.kind = TERN_SEGMENT_LOCAL;
	lseg.base = f->local;
	lseg.length = 8192;
	assert_int_equal(f->ops->segment_export(&lseg, blob, TERN_MLX5_DESC_LEN - 1), -ENOSPC);
	assert_int_equal(f->ops->segment_export(&f->rseg, blob, sizeof(blob)), -EINVAL);
	assert_int_equal(f->ops->segment_export(&lseg, blob, sizeof(blob)), TERN_MLX5_DESC_LEN);
	assert_int_equal(mlx5_desc_decode(blob, TERN_MLX5_DESC_LEN, &back), 0);
	assert_int_equal(back.hs_port, tern_mlx5_listen_port());
	memset(&seg, 0, sizeof(seg));
	assert_int_equal(f->ops->segment_import(&seg, blob, TERN_MLX5_DESC_LEN), 0);
	priv = (const struct tern_mlx5_desc *)seg.priv;
	assert_int_equal(priv->peer, TERN_MLX5_PEER_SELF);
	assert_int_equal(priv->rkey, back.rkey);
	assert_int_equal(priv->addr, (uintptr_t)f->local);
	f->ops->segment_release(&seg);
}

/* rdma-core's SQ sizing as the model and the verbs fake apply it, on the
 * request the verbs provider makes (mlx5_verbs_sq_attr()). */
static void
sq_sizing_follows_rdma_core(void **state)
{
	struct ibv_qp_init_attr_ex a;
	uint32_t cnt, inl;

	(void)state;
	/* No send_ops_flags (what the driver asked before issue 11): every RC
	 * op, bind-MW included, 192 bytes of overhead, 320-byte WQEs, 128 WRs
	 * -> 1024 WQEBBs where 256 were wanted. */
	memset(&a, 0, sizeof(a));
	a.qp_type = IBV_QPT_RC;
	a.cap.max_send_wr = 128;
	a.cap.max_send_sge = 1;
	a.cap.max_inline_data = 64;
	assert_int_equal(mlx5_model_sq_overhead(&a), 192);
	assert_int_equal(mlx5_model_sq_size(&a, 512, 32768, &cnt, &inl), 0);
	assert_int_equal(cnt, 1024);
	assert_int_equal(inl, 320 - 192 - 4);
	/* The driver's request: WRITE | READ only, 32 bytes of overhead,
	 * 128-byte WQEs: 256 WQEBBs, 92 bytes inline. */
	memset(&a, 0, sizeof(a));
	a.qp_type = IBV_QPT_RC;
	mlx5_verbs_sq_attr(256, 64, &a);
	assert_true(a.comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS);
	assert_int_equal(a.send_ops_flags, IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_READ);
	assert_int_equal(mlx5_model_sq_overhead(&a), 32);
	assert_int_equal(mlx5_model_sq_size(&a, 512, 32768, &cnt, &inl), 0);
	assert_int_equal(cnt, 256);
	assert_int_equal(inl, 92);
	/* Atomics: 48 bytes. */
	a.send_ops_flags |= IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD;
	assert_int_equal(mlx5_model_sq_overhead(&a), 48);
	/* A 4-WQEBB inline WRITE and a ring of 4: one WR, never zero. */
	memset(&a, 0, sizeof(a));
	a.qp_type = IBV_QPT_RC;
	mlx5_verbs_sq_attr(4, 200, &a);
	assert_int_equal(a.cap.max_send_wr, 1);
	assert_int_equal(mlx5_model_sq_size(&a, 512, 32768, &cnt, &inl), 0);
	assert_int_equal(cnt, 4);
	/* What rdma-core refuses: a WQE above the largest descriptor, too many
	 * SGEs, a ring above the device's largest, another QP type. */
	a.cap.max_inline_data = 600;
	assert_int_equal(mlx5_model_sq_size(&a, 512, 32768, &cnt, &inl), -EINVAL);
	a.cap.max_inline_data = 0;
	a.cap.max_send_sge = 40;
	assert_int_equal(mlx5_model_sq_size(&a, 512, 32768, &cnt, &inl), -EINVAL);
	a.cap.max_send_sge = 1;
	a.cap.max_send_wr = 4096;
	assert_int_equal(mlx5_model_sq_size(&a, 512, 1024, &cnt, &inl), -EINVAL);
	a.cap.max_send_wr = 0;
	assert_int_equal(mlx5_model_sq_size(&a, 512, 1024, &cnt, &inl), 0);
	assert_int_equal(cnt, 0);
	a.qp_type = IBV_QPT_UD;
	assert_int_equal(mlx5_model_sq_size(&a, 512, 1024, &cnt, &inl), -EINVAL);
}

/* The default endpoint (256 WQEBBs, 64 bytes inline) against a model that
 * sizes SQs as rdma-core does: the QP is usable and moves data. Before issue
 * 11 the ring came back 1024 WQEBBs and the QP was refused. */
static void
default_sizing_qp_moves_data(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[3];

	fill(f->local, 8192, 11);
	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	s[1] = slice(f, TERN_OP_WRITE, &f->rseg, 4096, 4096, 40); /* inline */
	s[2] = slice(f, TERN_OP_READ, &f->rseg, 1u << 20, 0, 4096);
	run_expect_ok(f, s, 3);
	assert_memory_equal(f->remote, f->local, 4096);
	assert_memory_equal(f->remote + 4096, f->local + 4096, 40);
	assert_memory_equal(f->local + (1u << 20), f->local, 4096);
	assert_non_null(mlx5_model_qp(f->m, 0));
	assert_int_equal(mlx5_model_qp_wqe_cnt(mlx5_model_qp(f->m, 0)), 256);
}

static int
setup_defaults(void **state)
{
	return fx_open(state, 0, 0, 0);
}

/* A ring 16 times larger than wanted (1024 WQEBBs for 64): at most 64 WQEBBs
 * go in flight, so when the first fails and the device flushes the rest,
 * their CQEs fit the CQ (sized for 64 per QP); an overrun would move the QP
 * to ERR on hardware and is a violation in the model. */
static void
larger_ring_keeps_the_cq_safe(void **state)
{
	struct fx *f = *state;
	enum { N = 1000 };
	struct tern_slice *s = calloc(N, sizeof(*s));
	struct tern_completion *out = calloc(N, sizeof(*out));
	struct mlx5_model_qp *qp;
	unsigned int i, n, got = 0, spins = 0;

	assert_non_null(s);
	assert_non_null(out);
	mlx5_model_set_sq_limits(f->m, 512, 32768, 16);
	fill(f->local, 1 << 20, 12);
	for (i = 0; i < N; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, (uint64_t)i * 512, (uint64_t)i * 512, 512);
	n = f->ops->post_burst(f->ep, s, 1);
	assert_int_equal(n, 1);
	qp = mlx5_model_qp(f->m, 0);
	assert_non_null(qp);
	assert_int_equal(mlx5_model_qp_wqe_cnt(qp), 1024);
	mlx5_model_qp_hold(qp, 1);
	mlx5_model_qp_fail(qp, 0, MODEL_SYND_RETRY_EXC);
	n += f->ops->post_burst(f->ep, s + 1, N - 1);
	assert_int_equal(n, SQ_WQEBBS);
	mlx5_model_qp_hold(qp, 0);
	while (got < n) {
		struct tern_completion c[16];
		uint16_t k, j;

		mlx5_model_step(f->m);
		k = f->ops->poll(f->ep, c, RTE_DIM(c));
		for (j = 0; j < k; j++)
			out[c[j].cookie - s[0].cookie] = c[j];
		got += k;
		assert_true(++spins < SPINS_MAX);
	}
	assert_int_equal(out[0].status, -ETIMEDOUT);
	for (i = 1; i < n; i++)
		assert_int_equal(out[i].status, -ECONNABORTED);
	assert_model_clean(f);
	/* Recovered: the rest wraps the big ring with the same limit. */
	f->next_cookie = s[n].cookie;
	run_expect_ok(f, s + n, N - n);
	assert_memory_equal(f->remote + (size_t)n * 512, f->local + (size_t)n * 512,
			    (size_t)(N - n) * 512);
	free(out);
	free(s);
}

/* A ring rdma-core would refuse (larger than the device's largest SQ): the
 * QP is not opened, slices fail with -ENOTCONN, nothing crashes. */
static void
refused_sq_fails_slices(void **state)
{
	struct fx *f = *state;
	struct tern_slice s = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	struct tern_completion c[2];
	unsigned int spins = 0;
	uint16_t n = 0;

	mlx5_model_set_sq_limits(f->m, 512, 32, 1);
	assert_int_equal(f->ops->post_burst(f->ep, &s, 1), 1);
	while (n == 0 && ++spins < 1000)
		n = f->ops->poll(f->ep, c, RTE_DIM(c));
	assert_int_equal(n, 1);
	assert_int_equal(c[0].status, -ENOTCONN);
	assert_null(mlx5_model_qp(f->m, 0));
}

/* The state /tern/mlx5/qps shows for the endpoint's QP to @peer. */
static const char *
qp_state_of(uint16_t peer)
{
	struct tern_mlx5_qp_info q[8];
	int n = mlx5_qp_list(q, 8), i;

	for (i = 0; i < n && i < 8; i++)
		if (q[i].peer == peer) {
			assert_int_equal(q[i].wqe_cnt, SQ_WQEBBS);
			assert_int_equal(q[i].limit, SQ_WQEBBS);
			return q[i].state;
		}
	return "none";
}

/* A dead loopback QP (its recovery failed) is tried again on a later use,
 * after a backoff, a bounded number of times. */
static void
dead_qp_revived_with_backoff_and_a_bound(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[2];
	struct tern_completion out[2];
	struct tern_mlx5_ep_stats st;
	struct mlx5_model_qp *qp;
	unsigned int i;

	fill(f->local, 4096, 13);
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	qp = mlx5_model_qp(f->m, 0);
	assert_non_null(qp);
	mlx5_model_qp_fail_recovery(qp, 1);
	mlx5_model_qp_fail(qp, 0, MODEL_SYND_RETRY_EXC);
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run(f, s, 1, out);
	assert_int_equal(out[0].status, -ETIMEDOUT);
	assert_string_equal(qp_state_of(0), "reviving");
	/* Dead; within the backoff (50 ms) nothing is tried. */
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run(f, s, 1, out);
	assert_int_equal(out[0].status, -ENOTCONN);
	assert_int_equal(mlx5_ep_stats(f->ep, &st), 0);
	assert_int_equal(st.revive_failures, 0);
	/* After it: one attempt, which fails (the device still refuses). */
	usleep(60 * 1000);
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run(f, s, 1, out);
	assert_int_equal(out[0].status, -ENOTCONN);
	assert_int_equal(mlx5_ep_stats(f->ep, &st), 0);
	assert_int_equal(st.revive_failures, 1);
	/* The device recovers: the next attempt (100 ms later) revives it. */
	mlx5_model_qp_fail_recovery(qp, 0);
	usleep(110 * 1000);
	memset(f->local + LOCAL_BYTES / 2, 0, 4096);
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	assert_memory_equal(f->local + LOCAL_BYTES / 2, f->local, 4096);
	assert_int_equal(mlx5_ep_stats(f->ep, &st), 0);
	assert_int_equal(st.revivals, 1);
	assert_string_equal(qp_state_of(0), "rts");
	/* A device that never recovers: 3 attempts, then given up for good. */
	mlx5_model_qp_fail_recovery(qp, 1);
	mlx5_model_qp_fail(qp, 0, MODEL_SYND_RETRY_EXC);
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run(f, s, 1, out);
	assert_int_equal(out[0].status, -ETIMEDOUT);
	for (i = 0; i < 4; i++) {
		usleep(210 * 1000); /* past the longest backoff: 50 << 2 ms */
		s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
		run(f, s, 1, out);
		assert_int_equal(out[0].status, -ENOTCONN);
	}
	assert_int_equal(mlx5_ep_stats(f->ep, &st), 0);
	assert_int_equal(st.revive_failures, 1 + 3);
	assert_int_equal(st.revivals, 1);
	assert_string_equal(qp_state_of(0), "failed");
}

/* The QP of rail @p r is the one /tern/mlx5/qps lists for @p lcore. */
static void
assert_rail_names_qp(const struct tern_transport_rail *r, unsigned int lcore, uint16_t peer,
		     const char *state)
{
	struct tern_mlx5_qp_info q[8];
	char want[sizeof(r->name)];
	int n = mlx5_qp_list(q, 8), i;

	for (i = 0; i < n && i < 8; i++)
		if (q[i].lcore == lcore && q[i].peer == peer) {
			assert_string_equal(q[i].state, state);
			snprintf(want, sizeof(want), "lcore %u qp 0x%06x %s", lcore, q[i].qpn,
				 state);
			assert_string_equal(r->name, want);
			return;
		}
	fail_msg("no QP of lcore %u to peer %u", lcore, peer);
}

/* /tern/peers' rails of a node (the transport's rails op): one per QP this
 * process has to it, its state and last error; max bounds what is written. */
static void
peers_rails_show_each_qp_state(void **state)
{
	struct fx *f = *state;
	struct tern_endpoint_conf conf = { .lcore_id = 1,
					   .socket_id = SOCKET_ID_ANY,
					   .max_slices = 1024 };
	struct tern_transport_rail r[3];
	struct tern_completion out[1];
	struct tern_endpoint *ep0 = f->ep, *ep1;
	struct tern_slice s[1];
	uint8_t blob[TERN_MLX5_DESC_LEN];
	unsigned int i, up = 0, probing = 0;

	assert_non_null(f->ops->rails);
	assert_int_equal(f->ops->segment_export(&f->lbuf, blob, sizeof(blob)), (int)sizeof(blob));
	/* No QP to this node yet. */
	assert_int_equal(f->ops->rails(blob, sizeof(blob), r, RTE_DIM(r)), 0);
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	assert_int_equal(f->ops->rails(blob, sizeof(blob), r, RTE_DIM(r)), 1);
	assert_rail_names_qp(&r[0], rte_lcore_id(), 0, "rts");
	assert_int_equal(r[0].state, TERN_TRANSPORT_RAIL_UP);
	assert_int_equal(r[0].backoff_ms, 0);
	assert_int_equal(r[0].errors, 0);
	assert_int_equal(r[0].failures, 0);
	assert_int_equal(r[0].last_error, 0);
	assert_true(r[0].last_failure_ms == UINT64_MAX);
	/* The QP fails and its recovery too: dead, revived on a later use. */
	mlx5_model_qp_fail_recovery(mlx5_model_qp(f->m, 0), 1);
	mlx5_model_qp_fail(mlx5_model_qp(f->m, 0), 0, MODEL_SYND_RETRY_EXC);
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run(f, s, 1, out);
	assert_int_equal(out[0].status, -ETIMEDOUT);
	assert_int_equal(f->ops->rails(blob, sizeof(blob), r, RTE_DIM(r)), 1);
	assert_rail_names_qp(&r[0], rte_lcore_id(), 0, "reviving");
	assert_int_equal(r[0].state, TERN_TRANSPORT_RAIL_PROBING);
	assert_true(r[0].backoff_ms >= 1 && r[0].backoff_ms <= 50);
	assert_true(r[0].errors >= 1);
	assert_int_equal(r[0].failures, 1);
	assert_int_equal(r[0].last_error, -ETIMEDOUT);
	assert_true(r[0].last_failure_ms < 1000);
	/* A second lcore's QP to the same node: two rails. */
	ep1 = f->ops->endpoint_open(&conf);
	assert_non_null(ep1);
	f->ep = ep1;
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	f->ep = ep0;
	memset(r, 0, sizeof(r));
	for (i = 0; i < RTE_DIM(r); i++)
		r[i].name[0] = 'x';
	assert_int_equal(f->ops->rails(blob, sizeof(blob), r, RTE_DIM(r)), 2);
	for (i = 0; i < 2; i++) {
		if (r[i].state == TERN_TRANSPORT_RAIL_UP) {
			assert_rail_names_qp(&r[i], 1, 0, "rts");
			up++;
		} else {
			assert_rail_names_qp(&r[i], rte_lcore_id(), 0, "reviving");
			assert_int_equal(r[i].state, TERN_TRANSPORT_RAIL_PROBING);
			probing++;
		}
	}
	assert_int_equal(up, 1);
	assert_int_equal(probing, 1);
	assert_int_equal(r[2].name[0], 'x');
	/* max smaller than the count: the count, only max written. */
	memset(r, 0, sizeof(r));
	for (i = 0; i < RTE_DIM(r); i++)
		r[i].name[0] = 'x';
	assert_int_equal(f->ops->rails(blob, sizeof(blob), r, 1), 2);
	assert_int_not_equal(r[0].name[0], 'x');
	assert_int_equal(r[1].name[0], 'x');
	assert_int_equal(f->ops->rails(blob, sizeof(blob), NULL, 0), 2);
	f->ops->endpoint_close(ep1);
	assert_int_equal(f->ops->rails(blob, sizeof(blob), r, RTE_DIM(r)), 1);
}

/* A dead QP to another node waits for a handshake: paused, with its error.
 * Malformed blobs are refused; a node with no QP has no rail. */
static void
peers_rails_of_a_dead_remote_qp(void **state)
{
	struct fx *f = *state;
	struct tern_transport_rail r[2];
	struct tern_completion out[1];
	struct tern_slice s[1];
	struct tern_mlx5_desc d;
	uint8_t blob[TERN_MLX5_DESC_LEN + 1], other[TERN_MLX5_DESC_LEN];

	mlx5_model_desc(&d, 1, f->remote, REMOTE_BYTES, f->rkey, 1);
	assert_int_equal(mlx5_desc_encode(&d, blob, sizeof(blob)), TERN_MLX5_DESC_LEN);
	mlx5_model_desc(&d, 2, f->remote, REMOTE_BYTES, f->rkey, 1);
	assert_int_equal(mlx5_desc_encode(&d, other, sizeof(other)), TERN_MLX5_DESC_LEN);
	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	assert_int_equal(f->ops->rails(blob, TERN_MLX5_DESC_LEN, r, RTE_DIM(r)), 1);
	assert_rail_names_qp(&r[0], rte_lcore_id(), 1, "rts");
	assert_int_equal(r[0].state, TERN_TRANSPORT_RAIL_UP);
	mlx5_model_qp_fail_recovery(mlx5_model_qp(f->m, 0), 1);
	mlx5_model_qp_fail(mlx5_model_qp(f->m, 0), 0, MODEL_SYND_REMOTE_OP);
	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run(f, s, 1, out);
	assert_int_equal(out[0].status, -EREMOTEIO);
	assert_int_equal(f->ops->rails(blob, TERN_MLX5_DESC_LEN, r, RTE_DIM(r)), 1);
	assert_rail_names_qp(&r[0], rte_lcore_id(), 1, "disconnected");
	assert_int_equal(r[0].state, TERN_TRANSPORT_RAIL_PAUSED);
	assert_int_equal(r[0].backoff_ms, 0);
	assert_int_equal(r[0].last_error, -EREMOTEIO);
	assert_true(r[0].last_failure_ms < 1000);
	/* Another node, and malformed blobs. */
	assert_int_equal(f->ops->rails(other, sizeof(other), r, RTE_DIM(r)), 0);
	assert_int_equal(f->ops->rails(blob, TERN_MLX5_DESC_LEN + 1, r, RTE_DIM(r)), -EINVAL);
	assert_int_equal(f->ops->rails(blob, TERN_MLX5_DESC_LEN - 1, r, RTE_DIM(r)), -EINVAL);
	assert_int_equal(f->ops->rails(NULL, TERN_MLX5_DESC_LEN, r, RTE_DIM(r)), -EINVAL);
	assert_int_equal(f->ops->rails(blob, TERN_MLX5_DESC_LEN, NULL, 1), -EINVAL);
	blob[0] ^= 0xff; /* the magic */
	assert_int_equal(f->ops->rails(blob, TERN_MLX5_DESC_LEN, r, RTE_DIM(r)), -EINVAL);
}

/* Through lib/peer: node "b" publishes this node's mlx5 blob (its GID is
 * ours: the loopback QP), "a" resolves it over mlx5, and the peer list
 * (what /tern/peers shows) carries the QP as b's rail. */
static void
peer_list_shows_the_qp_as_a_rail(void **state)
{
	struct fx *f = *state;
	uint8_t blob[TERN_MLX5_DESC_LEN];
	struct tern_segment_table *tbl;
	struct tern_directory *server;
	struct tern_peers *peers;
	struct tern_descriptor d;
	struct tern_peer_info pi;
	struct tern_slice s[1];
	char uri[64];
	uint32_t handle;
	int id = tern_transport_id("mlx5");

	assert_true(id >= 0);
	assert_int_equal(f->ops->segment_export(&f->lbuf, blob, sizeof(blob)), (int)sizeof(blob));
	tbl = tern_segment_table_create("mlx5_rails", 16, SOCKET_ID_ANY);
	assert_non_null(tbl);
	server = tern_directory_open("p2p://127.0.0.1:0", NULL);
	assert_non_null(server);
	assert_int_equal(tern_directory_p2p_serve(server, TERN_DIRECTORY_P2P_THREAD), 0);
	snprintf(uri, sizeof(uri), "p2p://127.0.0.1:%d", tern_directory_p2p_port(server));
	assert_int_equal(tern_descriptor_init(&d, "b", "kv", LOCAL_BYTES), 0);
	assert_int_equal(
		tern_descriptor_set_bytes(&d, "mlx5", TERN_PEER_DESC_FIELD, blob, sizeof(blob)), 0);
	assert_int_equal(tern_directory_publish(server, &d), 0);
	tern_descriptor_fini(&d);
	peers = tern_peers_create(&(struct tern_peers_conf){
		.node = "a", .segments = tbl, .usable_transports = 1u << id });
	assert_non_null(peers);
	assert_int_equal(tern_peers_add(peers, "b", uri), 0);
	assert_int_equal(tern_peers_resolve(peers, "b", "kv", &handle), 0);
	/* Imported, no QP yet: one path, no rail. */
	assert_int_equal(tern_peers_list(peers, &pi, 1), 1);
	assert_string_equal(pi.node, "b");
	assert_string_equal(pi.transport, "mlx5");
	assert_int_equal(pi.nb_rails, 0);
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	assert_int_equal(tern_peers_list(peers, &pi, 1), 1);
	assert_int_equal(pi.nb_rails, 1);
	assert_rail_names_qp(&pi.rails[0], rte_lcore_id(), 0, "rts");
	assert_int_equal(pi.rails[0].state, TERN_TRANSPORT_RAIL_UP);
	tern_peers_destroy(peers);
	tern_directory_close(server);
	assert_int_equal(tern_segment_table_free(tbl), 0);
}

static int
setup_revive(void **state)
{
	fx_revive_ms = 50;
	fx_revive_tries = 3;
	return fx_open(state, SQ_WQEBBS, 16, 64);
}

static int
teardown_revive(void **state)
{
	fx_revive_ms = 0;
	fx_revive_tries = 0;
	return teardown(state);
}

static void
views_are_checked(void **state)
{
	struct mlx5_sq sq;
	struct mlx5_cq cq;
	struct mlx5_slot slots[8];
	uint32_t rec[2];
	uint8_t buf[8 * 64], bf[512];
	struct tern_mlx5_sq_view v = { .buf = buf,
				       .wqe_cnt = 8,
				       .stride = 64,
				       .qpn = 1,
				       .dbrec = rec,
				       .bf_reg = bf,
				       .bf_size = 256 };
	struct tern_mlx5_cq_view c = { .buf = buf, .cqe_cnt = 4, .cqe_size = 128, .dbrec = rec };
	unsigned int s;

	(void)state;
	assert_int_equal(mlx5_sq_init(&sq, &v, slots, 0, 0), 0);
	assert_int_equal(sq.sig_mask, 3);
	v.stride = 128;
	assert_int_equal(mlx5_sq_init(&sq, &v, slots, 0, 0), -EINVAL);
	v.stride = 64;
	v.wqe_cnt = 12;
	assert_int_equal(mlx5_sq_init(&sq, &v, slots, 0, 0), -EINVAL);
	v.wqe_cnt = 8;
	v.bf_size = 128;
	assert_int_equal(mlx5_sq_init(&sq, &v, slots, 0, 0), -EINVAL);
	v.bf_size = 256;
	/* A ring larger than wanted: the in-flight limit, and the CQE request
	 * interval under half of it. */
	assert_int_equal(mlx5_sq_init(&sq, &v, slots, 0, 4), 0);
	assert_int_equal(sq.limit, 4);
	assert_int_equal(mlx5_sq_room(&sq), 4);
	assert_int_equal(sq.sig_mask, 1);
	assert_int_equal(mlx5_sq_init(&sq, &v, slots, 0, 2), -EINVAL);
	assert_int_equal(mlx5_sq_init(&sq, &v, slots, 0, 64), 0);
	assert_int_equal(sq.limit, 8);
	assert_int_equal(mlx5_cq_init(&cq, &c), 0);
	assert_int_equal(cq.cqe_offset, 64);
	c.cqe_size = 32;
	assert_int_equal(mlx5_cq_init(&cq, &c), -EINVAL);
	for (s = 0; s < 256; s++) {
		assert_non_null(mlx5_syndrome_name((uint8_t)s));
		assert_true(mlx5_syndrome_errno((uint8_t)s) < 0);
	}
	assert_string_equal(mlx5_syndrome_name(0x13), "REMOTE_ACCESS");
}

static void
control_path_failures_are_reported(void **state)
{
	struct fx *f = *state;
	struct tern_endpoint_conf conf = { .lcore_id = 2,
					   .socket_id = SOCKET_ID_ANY,
					   .max_slices = 64 };
	struct tern_slice s[2];
	struct tern_completion out[2];
	struct tern_segment useg;
	uint8_t *unreg = aligned_alloc(4096, 8192);

	assert_non_null(unreg);
	assert_null(f->ops->endpoint_open(NULL));
	assert_int_equal(rte_errno, EINVAL);
	mlx5_model_fail_ops(f->m, MODEL_FAIL_CQ_OPEN);
	assert_null(f->ops->endpoint_open(&conf));
	assert_int_equal(rte_errno, ENOMEM);
	mlx5_model_fail_ops(f->m, MODEL_BAD_CQ_VIEW);
	assert_null(f->ops->endpoint_open(&conf));
	assert_int_equal(rte_errno, EINVAL);
	/* No QP can be opened: slices to the peer complete with -ENOTCONN. */
	mlx5_model_fail_ops(f->m, MODEL_FAIL_QP_OPEN);
	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run(f, s, 1, out);
	assert_int_equal(out[0].status, -ENOTCONN);
	mlx5_model_fail_ops(f->m, MODEL_BAD_QP_VIEW);
	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run(f, s, 1, out);
	assert_int_equal(out[0].status, -ENOTCONN);
	/* Memory that cannot be registered: -EFAULT, on both sides. */
	mlx5_model_fail_ops(f->m, MODEL_FAIL_MR_REG);
	make_local(&useg, HANDLE(1, 3), unreg, 8192);
	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	s[0].local = unreg;
	s[0].local_seg = &useg;
	s[1] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run(f, s, 2, out);
	assert_int_equal(out[0].status, -EFAULT);
	assert_int_equal(out[1].status, 0);
	make_local(&f->lseg, HANDLE(2, 2), unreg, 8192);
	s[0] = slice(f, TERN_OP_WRITE, &f->lseg, 0, 0, 4096);
	run(f, s, 1, out);
	assert_int_equal(out[0].status, -EFAULT);
	mlx5_model_fail_ops(f->m, 0);
	free(unreg);
}

static void
stray_cqe_and_failed_flush(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[4];
	struct tern_completion out[4];
	unsigned int i;

	s[0] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	run_expect_ok(f, s, 1);
	/* A CQE for a QP the endpoint does not own is dropped. */
	mlx5_model_inject_cqe(mlx5_model_qp(f->m, 0), 0xabcde);
	assert_int_equal(f->ops->poll(f->ep, out, 4), 0);
	/* cancel() with a QP that refuses ERR: the work completes normally. */
	mlx5_model_qp_hold(mlx5_model_qp(f->m, 0), 1);
	for (i = 0; i < 4; i++)
		s[i] = slice(f, TERN_OP_WRITE, &f->rseg, 0, 0, 4096);
	assert_int_equal(f->ops->post_burst(f->ep, s, 4), 4);
	mlx5_model_fail_ops(f->m, MODEL_FAIL_FLUSH);
	f->ops->cancel(f->ep);
	mlx5_model_fail_ops(f->m, 0);
	mlx5_model_qp_hold(mlx5_model_qp(f->m, 0), 0);
	for (i = 0; i < 4;) {
		mlx5_model_step(f->m);
		i += f->ops->poll(f->ep, out + i, 4 - i);
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(out[i].status, 0);
}

/* Error CQEs fed straight into the SQ state (no model): the cases a real
 * device can produce that the model does not. */
static void
error_cqes_decoded(void **state)
{
	static uint8_t ring[16 * 64] __rte_aligned(64);
	uint64_t bf[64];
	uint32_t rec[2] = { 0, 0 };
	struct mlx5_slot slots[16];
	struct tern_mlx5_sq_view v = { .buf = ring,
				       .wqe_cnt = 16,
				       .stride = 64,
				       .qpn = 0x42,
				       .dbrec = &rec[1],
				       .bf_reg = bf,
				       .bf_size = 256,
				       .max_inline = 64 };
	struct tern_completion cpl[16];
	struct mlx5_err_cqe e;
	struct mlx5_sq sq;
	unsigned int i;

	(void)state;
	assert_int_equal(mlx5_sq_init(&sq, &v, slots, 4, 0), 0);
	for (i = 0; i < 6; i++)
		mlx5_post_rdma(&sq, MLX5_OPCODE_RDMA_WRITE, 0x1000, 1, 100 + i, 0x2000, 2, 0, i);
	memset(&e, 0, sizeof(e));
	/* Outside the outstanding range: ignored. */
	e.op_own = MLX5_CQE_REQ_ERR << 4;
	e.syndrome = MLX5_CQE_SYNDROME_REMOTE_ACCESS_ERR;
	e.wqe_counter = rte_cpu_to_be_16(9);
	assert_int_equal(mlx5_cqe_error(&sq, &e), -EIO);
	assert_int_equal(sq.done, 0);
	/* A flush CQE for WQE 1: WQEs 0 and 1 were flushed (no earlier error). */
	e.syndrome = MLX5_CQE_SYNDROME_WR_FLUSH_ERR;
	e.wqe_counter = rte_cpu_to_be_16(1);
	assert_int_equal(mlx5_cqe_error(&sq, &e), -ECONNABORTED);
	/* Then a real error for WQE 3 while in ERR: WQE 2 was flushed. */
	e.syndrome = MLX5_CQE_SYNDROME_LOCAL_LENGTH_ERR;
	e.wqe_counter = rte_cpu_to_be_16(3);
	assert_int_equal(mlx5_cqe_error(&sq, &e), -EMSGSIZE);
	/* A CQE with an opcode nobody asked for (compressed, say): -EIO. */
	e.op_own = 0xf << 4 | 1;
	e.wqe_counter = rte_cpu_to_be_16(5);
	assert_int_equal(mlx5_cqe_error(&sq, &e), -EIO);
	assert_int_equal(mlx5_sq_report(&sq, cpl, 16), 6);
	assert_int_equal(cpl[0].status, -ECONNABORTED);
	assert_int_equal(cpl[1].status, -ECONNABORTED);
	assert_int_equal(cpl[2].status, -ECONNABORTED);
	assert_int_equal(cpl[3].status, -EMSGSIZE);
	assert_int_equal(cpl[4].status, -ECONNABORTED);
	assert_int_equal(cpl[5].status, -EIO);
	for (i = 0; i < 6; i++)
		assert_int_equal(cpl[i].cookie, i);
	assert_int_equal(sq.errors, 6);
	assert_true(mlx5_sq_idle(&sq));
	mlx5_sq_reset(&sq);
	assert_int_equal(sq.pi, 0);
	assert_int_equal(sq.recoveries, 1);
}

struct worker_arg {
	struct fx *f;
	struct tern_endpoint *ep;
	unsigned int id;
	int ok;
};

static void *
worker(void *p)
{
	struct worker_arg *a = p;
	struct fx *f = a->f;
	struct tern_completion cpl[64];
	struct tern_slice s[64];
	unsigned int round, i, posted, done, spins;
	size_t base = (size_t)a->id * (4u << 20);

	a->ok = 1;
	for (round = 0; round < 200; round++) {
		for (i = 0; i < 64; i++) {
			memset(&s[i], 0, sizeof(s[i]));
			s[i].cookie = round * 64 + i;
			s[i].local = f->local + base + i * 4096u;
			s[i].local_seg = &f->lbuf;
			s[i].target = &f->rseg;
			s[i].offset = base + i * 4096u + (round % 7);
			s[i].length = 100 + (round * 64 + i) % 3000;
			s[i].op = TERN_OP_WRITE;
		}
		posted = 0;
		done = 0;
		for (spins = 0; done < 64; spins++) {
			if (spins > SPINS_MAX) {
				a->ok = 0; /* no cmocka assert off the test's thread */
				return NULL;
			}
			if (posted < 64)
				posted += f->ops->post_burst(a->ep, s + posted, 64 - posted);
			done += f->ops->poll(a->ep, cpl, 64);
		}
		for (i = 0; i < 64; i++)
			if (memcmp(f->remote + s[i].offset, s[i].local, s[i].length) != 0)
				a->ok = 0;
	}
	return NULL;
}

static void
two_lcores_each_on_its_own_qp(void **state)
{
	struct fx *f = *state;
	struct tern_endpoint_conf conf = { .lcore_id = 1,
					   .socket_id = SOCKET_ID_ANY,
					   .max_slices = 1024 };
	struct worker_arg a[2];
	pthread_t t[2];
	struct tern_mlx5_ep_stats st;
	unsigned int i;

	fill(f->local, 8u << 20, 11);
	a[0] = (struct worker_arg){ .f = f, .ep = f->ep, .id = 0 };
	a[1] = (struct worker_arg){ .f = f, .ep = f->ops->endpoint_open(&conf), .id = 1 };
	assert_non_null(a[1].ep);
	mlx5_model_start(f->m);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	mlx5_model_stop(f->m);
	for (i = 0; i < 2; i++) {
		assert_true(a[i].ok);
		assert_int_equal(mlx5_ep_stats(a[i].ep, &st), 0);
		assert_int_equal(st.posted, 200 * 64);
		assert_int_equal(st.errors, 0);
	}
	assert_non_null(mlx5_model_qp(f->m, 1));
	f->ops->endpoint_close(a[1].ep);
}

int
main(int argc, char **argv)
{
	char *eal[] = { argv[0],
			"--no-huge",
			"-m",
			"64",
			"--no-pci",
			"--no-telemetry",
			"--file-prefix",
			"tern_mlx5_unit",
			"--log-level",
			"lib.eal:error" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(probe_without_device_is_enodev),
		cmocka_unit_test(views_are_checked),
		cmocka_unit_test(sq_sizing_follows_rdma_core),
		cmocka_unit_test_setup_teardown(default_sizing_qp_moves_data, setup_defaults,
						teardown),
		cmocka_unit_test_setup_teardown(larger_ring_keeps_the_cq_safe, setup, teardown),
		cmocka_unit_test_setup_teardown(refused_sq_fails_slices, setup, teardown),
		cmocka_unit_test_setup_teardown(dead_qp_revived_with_backoff_and_a_bound,
						setup_revive, teardown_revive),
		cmocka_unit_test_setup_teardown(peers_rails_show_each_qp_state, setup_revive,
						teardown_revive),
		cmocka_unit_test_setup_teardown(peers_rails_of_a_dead_remote_qp, setup, teardown),
		cmocka_unit_test_setup_teardown(peer_list_shows_the_qp_as_a_rail, setup, teardown),
		cmocka_unit_test_setup_teardown(write_and_read_1_byte_to_16_mib, setup, teardown),
		cmocka_unit_test_setup_teardown(inline_writes_wrap_the_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(sq_and_cq_wrap_many_times, setup, teardown),
		cmocka_unit_test_setup_teardown(burst_larger_than_sq_backpressures, setup,
						teardown),
		cmocka_unit_test_setup_teardown(selective_signalling_one_cqe_per_16_and_every_read,
						setup, teardown),
		cmocka_unit_test_setup_teardown(retry_exceeded_is_etimedout, setup, teardown),
		cmocka_unit_test_setup_teardown(rnr_retry_exceeded_is_ebusy, setup, teardown),
		cmocka_unit_test_setup_teardown(remote_op_error_is_eremoteio, setup, teardown),
		cmocka_unit_test_setup_teardown(remote_bounds_is_eacces, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_local_key_is_efault, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_opcode_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(read_without_remote_read_access_is_eacces, setup,
						teardown),
		cmocka_unit_test_setup_teardown(recovery_failure_fails_later_slices, setup,
						teardown),
		cmocka_unit_test_setup_teardown(partial_and_delayed_processing, setup, teardown),
		cmocka_unit_test_setup_teardown(cancel_flushes_everything_posted, setup, teardown),
		cmocka_unit_test_setup_teardown(cancel_completes_a_qp_already_in_err, setup,
						teardown),
		cmocka_unit_test_setup_teardown(loopback_to_a_local_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(local_keys_follow_the_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_targets_complete_with_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(descriptors_are_parsed_strictly, setup, teardown),
		cmocka_unit_test_setup_teardown(two_lcores_each_on_its_own_qp, setup, teardown),
		cmocka_unit_test_setup_teardown(control_path_failures_are_reported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(stray_cqe_and_failed_flush, setup, teardown),
		cmocka_unit_test(error_cqes_decoded),
	};
	char prefix[64];

	(void)argc;
	snprintf(prefix, sizeof(prefix), "tern_mlx5_unit_%d", (int)getpid());
	eal[7] = prefix;
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
