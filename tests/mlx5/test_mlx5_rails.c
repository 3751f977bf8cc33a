/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mlx5 rails on the device model (issue 15; doc/peers.md, "mlx5 rails"):
 * node 1 serves one segment on two devices (two ports, two GIDs, a key per
 * device), imported from a version 3 descriptor as two rails; the model's
 * wire to each device can be cut. Through the transport's ops table:
 * spreading by what is in flight, each rail's own key, a wire cut in the
 * middle of a stream (every slice completes, every byte right), both cut
 * (every slice fails with the rails' error, at once), both mended (new work
 * succeeds). No RDMA hardware: what this shows is the driver's logic
 * against the model's rules, not a fabric's behaviour.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_lcore.h>

#include <tern_time.h>

#include <tern_segment.h>
#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_ctl.h"
#include "mlx5_desc3.h"
#include "mlx5_model.h"
#include "mlx5_rails.h"
#include "tern_mlx5_internal.h"

#define LOCAL_BYTES  (16u << 20)
#define REMOTE_BYTES (16u << 20)
#define SLICE_BYTES  (16u << 10)
#define BURST	     16u
#define SPINS_MAX    200000u

#define HANDLE(gen, slot) ((uint32_t)(gen) << 16 | (slot))

struct fx {
	struct mlx5_model *m;
	const struct tern_transport_ops *ops;
	struct tern_endpoint *ep;
	uint8_t *local;
	uint8_t *remote;
	uint32_t rkey[2];
	struct tern_segment rseg __rte_aligned(64);
	struct tern_segment lbuf __rte_aligned(64);
	uint64_t next_cookie;
};

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131u + seed * 7u + (i >> 8)) ^ seed);
}

/* The version 3 descriptor node 1 would export for its memory on two
 * devices (handshake listeners unused: the model wires the QPs). */
static void
desc2ports(struct fx *f, struct tern_mlx5_desc3 *d)
{
	unsigned int i;

	memset(d, 0, sizeof(*d));
	d->version = TERN_MLX5_DESC3_VERSION;
	d->nports = 2;
	d->addr = (uintptr_t)f->remote;
	d->length = REMOTE_BYTES;
	d->epoch = 1;
	for (i = 0; i < 2; i++) {
		mlx5_model_dev_gid(1, (int)i, d->ports[i].gid);
		d->ports[i].hs_addr[10] = 0xff;
		d->ports[i].hs_addr[11] = 0xff;
		d->ports[i].hs_addr[12] = 127;
		d->ports[i].hs_addr[15] = 1;
		d->ports[i].hs_port = 1;
		d->ports[i].rkey = f->rkey[i];
	}
}

static int
setup(void **state)
{
	struct fx *f = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(struct fx), 64));
	struct tern_mlx5_tuning t = { .sq_wqebbs = 64, .sig_every = 16, .max_inline = 64 };
	struct tern_endpoint_conf conf = { .lcore_id = rte_lcore_id(),
					   .socket_id = SOCKET_ID_ANY,
					   .max_slices = 1024 };
	struct tern_mlx5_desc3 d;
	uint8_t blob[TERN_MLX5_DESC_LEN];

	assert_non_null(f);
	memset(f, 0, sizeof(*f));
	f->m = mlx5_model_create();
	assert_int_equal(mlx5_test_set_queue_provider(&mlx5_model_provider, f->m), 0);
	mlx5_set_tuning(&t);
	f->ops = tern_transport_get(tern_transport_id("mlx5"));
	assert_non_null(f->ops);
	assert_int_equal(f->ops->probe(), 0);
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1" }), 0);
	f->ep = f->ops->endpoint_open(&conf);
	assert_non_null(f->ep);
	f->local = aligned_alloc(4096, LOCAL_BYTES);
	f->remote = aligned_alloc(4096, REMOTE_BYTES);
	assert_non_null(f->local);
	assert_non_null(f->remote);
	memset(f->remote, 0, REMOTE_BYTES);
	/* The same memory on node 1's two devices: a key each. */
	f->rkey[0] = mlx5_model_mr_add_dev(f->m, 1, 0, f->remote, REMOTE_BYTES, MODEL_ACCESS_ALL);
	f->rkey[1] = mlx5_model_mr_add_dev(f->m, 1, 1, f->remote, REMOTE_BYTES, MODEL_ACCESS_ALL);
	assert_int_not_equal(f->rkey[0], f->rkey[1]);
	memset(&f->lbuf, 0, sizeof(f->lbuf));
	f->lbuf.kind = TERN_SEGMENT_LOCAL;
	f->lbuf.handle = HANDLE(1, 1);
	f->lbuf.base = f->local;
	f->lbuf.length = LOCAL_BYTES;
	assert_int_equal(f->ops->segment_export(&f->lbuf, blob, sizeof(blob)), (int)sizeof(blob));
	memset(&f->rseg, 0, sizeof(f->rseg));
	f->rseg.kind = TERN_SEGMENT_REMOTE;
	f->rseg.base = f->remote;
	f->rseg.length = REMOTE_BYTES;
	desc2ports(f, &d);
	assert_int_equal(mlx5_rails_import(&f->rseg, &d, 1), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	const char *first;
	unsigned int n = mlx5_model_violations(f->m, &first);

	if (n != 0)
		fail_msg("%u model violations, first: %s", n, first);
	f->ops->segment_release(&f->rseg);
	assert_int_equal(tern_mlx5_configure(NULL), 0);
	f->ops->endpoint_close(f->ep);
	assert_int_equal(mlx5_test_set_queue_provider(NULL, NULL), 0);
	mlx5_set_tuning(NULL);
	mlx5_model_destroy(f->m);
	free(f->local);
	free(f->remote);
	free(f);
	return 0;
}

static struct tern_slice
slice(struct fx *f, uint8_t op, uint64_t local_off, uint64_t off, uint32_t len)
{
	struct tern_slice s = { 0 };

	s.cookie = ++f->next_cookie;
	s.local = f->local + local_off;
	s.local_seg = &f->lbuf;
	s.target = &f->rseg;
	s.offset = off;
	s.length = len;
	s.op = op;
	return s;
}

/* The model's QP wired to node 1's device @dev (NULL before its first use). */
static struct mlx5_model_qp *
qp_of_dev(struct fx *f, int dev)
{
	struct mlx5_model_qp *qp;
	unsigned int i;

	for (i = 0; (qp = mlx5_model_qp(f->m, i)) != NULL; i++)
		if (mlx5_model_qp_remote_dev(qp) == dev && mlx5_model_qp_executed(qp) > 0)
			return qp;
	return NULL;
}

/*
 * Post @p nb slices, two bursts between model steps (so a second run finds
 * the first in flight), calling @p mid once after @p cut_after completions;
 * poll until every slice completed once. Statuses by cookie - base.
 */
static void
run(struct fx *f, const struct tern_slice *s, unsigned int nb, int32_t *status,
    unsigned int cut_after, void (*mid)(struct fx *f))
{
	struct tern_completion cpl[64];
	uint64_t base = s[0].cookie;
	unsigned int posted = 0, done = 0, spins = 0, i, b;
	uint8_t *seen = calloc(nb, 1);

	assert_non_null(seen);
	while (done < nb) {
		uint16_t n;

		/* The synchronous model takes one doorbell per QP and step. */
		for (b = 0; b < 2 && posted < nb; b++) {
			posted += f->ops->post_burst(f->ep, s + posted,
						     (uint16_t)RTE_MIN(nb - posted, BURST));
			mlx5_model_step(f->m);
		}
		n = f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		mlx5_model_step(f->m); /* what poll() posted again */
		for (i = 0; i < n; i++) {
			uint64_t k = cpl[i].cookie - base;

			assert_true(k < nb);
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
			status[k] = cpl[i].status;
		}
		done += n;
		if (mid != NULL && done >= cut_after) {
			mid(f);
			mid = NULL;
		}
		if (++spins > SPINS_MAX)
			fail_msg("no progress: %u/%u posted, %u completed", posted, nb, done);
	}
	free(seen);
}

/* WRITE @p nb slices of a fresh pattern, then READ them back elsewhere:
 * all succeed and the bytes are right. */
static void
write_read_verified(struct fx *f, unsigned int nb, uint32_t seed, unsigned int cut_after,
		    void (*mid)(struct fx *f))
{
	struct tern_slice *s = calloc(nb, sizeof(*s));
	int32_t *st = calloc(nb, sizeof(*st));
	unsigned int i;

	assert_true(nb * SLICE_BYTES * 2 <= LOCAL_BYTES && nb * SLICE_BYTES <= REMOTE_BYTES);
	fill(f->local, (size_t)nb * SLICE_BYTES, seed);
	for (i = 0; i < nb; i++)
		s[i] = slice(f, TERN_OP_WRITE, (uint64_t)i * SLICE_BYTES, (uint64_t)i * SLICE_BYTES,
			     SLICE_BYTES);
	run(f, s, nb, st, cut_after, mid);
	for (i = 0; i < nb; i++)
		assert_int_equal(st[i], 0);
	assert_memory_equal(f->remote, f->local, (size_t)nb * SLICE_BYTES);
	memset(f->local + LOCAL_BYTES / 2, 0, (size_t)nb * SLICE_BYTES);
	for (i = 0; i < nb; i++)
		s[i] = slice(f, TERN_OP_READ, LOCAL_BYTES / 2 + (uint64_t)i * SLICE_BYTES,
			     (uint64_t)i * SLICE_BYTES, SLICE_BYTES);
	run(f, s, nb, st, cut_after, mid);
	for (i = 0; i < nb; i++)
		assert_int_equal(st[i], 0);
	assert_memory_equal(f->local + LOCAL_BYTES / 2, f->local, (size_t)nb * SLICE_BYTES);
	free(s);
	free(st);
}

/* Both rails carry work, each with its own device's key (a WQE with the
 * other device's key would end in REMOTE_ACCESS), and the import counts as
 * two rails in what /tern/peers shows. */
static void
two_rails_share_the_work(void **state)
{
	struct fx *f = *state;
	struct tern_transport_rail rails[4];
	struct tern_mlx5_desc3 d;
	uint8_t blob[TERN_MLX5_DESC3_MAX];
	uint64_t e0, e1;
	int len;

	write_read_verified(f, 512, 1, 0, NULL);
	assert_non_null(qp_of_dev(f, 0));
	assert_non_null(qp_of_dev(f, 1));
	e0 = mlx5_model_qp_executed(qp_of_dev(f, 0));
	e1 = mlx5_model_qp_executed(qp_of_dev(f, 1));
	print_message("rail 0: %" PRIu64 " WQEs, rail 1: %" PRIu64 "\n", e0, e1);
	assert_int_equal(e0 + e1, 1024);
	/* Alternate runs: each rail takes between a third and two thirds. */
	assert_true(e0 > 1024 / 3 && e1 > 1024 / 3);
	desc2ports(f, &d);
	len = mlx5_desc3_encode(&d, blob, sizeof(blob));
	assert_int_equal(len, (int)TERN_MLX5_DESC3_LEN(2));
	assert_int_equal(f->ops->rails(blob, (size_t)len, rails, RTE_DIM(rails)), 2);
	assert_int_equal(rails[0].state, TERN_TRANSPORT_RAIL_UP);
	assert_int_equal(rails[1].state, TERN_TRANSPORT_RAIL_UP);
	print_message("rails: \"%s\", \"%s\"\n", rails[0].name, rails[1].name);
	assert_memory_equal(rails[0].name, "port 0 lcore ", 13);
	assert_memory_equal(rails[1].name, "port 1 lcore ", 13);
	assert_non_null(strstr(rails[1].name, " rts"));
	/* max 1: one written, both counted. */
	assert_int_equal(f->ops->rails(blob, (size_t)len, rails, 1), 2);
}

/* A rail that delivers less takes less: rail 0's device executes 2 WQEs per
 * step, rail 1's any number; the fewest-in-flight rule hands rail 1 more. */
static void
the_faster_rail_takes_more(void **state)
{
	struct fx *f = *state;
	uint64_t e0, e1;

	write_read_verified(f, 64, 2, 0, NULL); /* opens both QPs */
	e0 = mlx5_model_qp_executed(qp_of_dev(f, 0));
	e1 = mlx5_model_qp_executed(qp_of_dev(f, 1));
	mlx5_model_qp_budget(qp_of_dev(f, 0), 2);
	write_read_verified(f, 512, 3, 0, NULL);
	e0 = mlx5_model_qp_executed(qp_of_dev(f, 0)) - e0;
	e1 = mlx5_model_qp_executed(qp_of_dev(f, 1)) - e1;
	print_message("slow rail 0: %" PRIu64 " WQEs, rail 1: %" PRIu64 "\n", e0, e1);
	assert_int_equal(e0 + e1, 1024);
	assert_true(e1 > 2 * e0);
}

static void
cut_rail0(struct fx *f)
{
	mlx5_model_wire_set(f->m, 1, 0, 0);
}

/* Rail 0's wire cut in the middle of a stream of WRITEs and of READs: every
 * slice completes with success and every byte is right; the WQEs the cut
 * failed went again on rail 1. Mended, rail 0 takes work again once its
 * pause is over. */
static void
a_rail_cut_mid_stream_loses_nothing(void **state)
{
	struct fx *f = *state;
	struct tern_transport_rail rails[4];
	uint8_t blob[TERN_MLX5_DESC3_MAX];
	struct mlx5_rails_stats st;
	struct tern_mlx5_desc3 d;
	uint64_t e0, t0;
	int len;

	write_read_verified(f, 512, 4, 100, cut_rail0);
	assert_int_equal(mlx5_rails_stats(f->ep, &st), 0);
	print_message("moved %" PRIu64 ", reposted %" PRIu64 ", failed %" PRIu64 ", pauses %" PRIu64
		      "\n",
		      st.moved, st.reposted, st.failed, st.pauses);
	assert_true(st.moved > 0);
	assert_int_equal(st.reposted, st.moved);
	assert_int_equal(st.failed, 0);
	assert_true(st.pauses >= 1);
	/* /tern/peers: rail 0's QP (port 0) counts what went elsewhere, and its
	 * pause; while the pause lasts it shows paused, not up. */
	desc2ports(f, &d);
	len = mlx5_desc3_encode(&d, blob, sizeof(blob));
	assert_int_equal(f->ops->rails(blob, (size_t)len, rails, RTE_DIM(rails)), 2);
	print_message("port 0 rail: %s, state %u, backoff %u ms, reposted %" PRIu64
		      ", failures %" PRIu64 "\n",
		      rails[0].name, rails[0].state, rails[0].backoff_ms, rails[0].reposted,
		      rails[0].failures);
	assert_int_equal(rails[0].reposted, st.moved);
	assert_true(rails[0].failures >= 1);
	assert_true(rails[0].state != TERN_TRANSPORT_RAIL_PAUSED || rails[0].backoff_ms > 0);
	assert_int_equal(rails[1].reposted, 0);
	assert_int_equal(rails[1].state, TERN_TRANSPORT_RAIL_UP);
	/* Mended: after the pause (at most 2 s), rail 0 carries work again. */
	mlx5_model_wire_set(f->m, 1, 0, 1);
	e0 = mlx5_model_qp_executed(qp_of_dev(f, 0));
	t0 = tern_clock_ms();
	while (mlx5_model_qp_executed(qp_of_dev(f, 0)) - e0 < 64) {
		write_read_verified(f, 64, 5, 0, NULL);
		assert_true(tern_clock_ms() - t0 < 10000);
	}
}

static void
cut_both(struct fx *f)
{
	mlx5_model_wire_set(f->m, 1, 0, 0);
	mlx5_model_wire_set(f->m, 1, 1, 0);
}

/* Both wires cut: every slice fails with the rails' error (-ETIMEDOUT, what
 * RETRY_EXC means), none waits for a deadline; both mended: new work
 * succeeds, nothing restarted. */
static void
both_rails_cut_fail_fast_then_recover(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[256];
	int32_t st[256];
	uint64_t t0;
	unsigned int i, failed = 0;

	write_read_verified(f, 64, 6, 0, NULL);
	cut_both(f);
	fill(f->local, sizeof(s) / sizeof(s[0]) * SLICE_BYTES, 7);
	for (i = 0; i < RTE_DIM(s); i++)
		s[i] = slice(f, i % 2 ? TERN_OP_READ : TERN_OP_WRITE, (uint64_t)i * SLICE_BYTES,
			     (uint64_t)i * SLICE_BYTES, SLICE_BYTES);
	t0 = tern_clock_ms();
	run(f, s, RTE_DIM(s), st, 0, NULL);
	for (i = 0; i < RTE_DIM(s); i++) {
		assert_true(st[i] == -ETIMEDOUT || st[i] == -ECONNABORTED);
		failed += st[i] == -ETIMEDOUT;
	}
	print_message("both cut: %u slices failed in %" PRIu64 " ms (%u with -ETIMEDOUT)\n",
		      (unsigned int)RTE_DIM(s), tern_clock_ms() - t0, failed);
	assert_true(failed > 0);
	assert_true(tern_clock_ms() - t0 < 1000);
	mlx5_model_wire_set(f->m, 1, 0, 1);
	mlx5_model_wire_set(f->m, 1, 1, 1);
	write_read_verified(f, 256, 8, 0, NULL);
}

/* cancel() with WQEs taken off a failed rail and waiting (WRITEs wait for
 * the failed QP to leave ERR; here its device holds the flushes): they come
 * back -ECANCELED, each once, and nothing else of them comes later. */
static void
cancel_returns_waiting_work(void **state)
{
	struct fx *f = *state;
	struct tern_completion cpl[64];
	struct mlx5_rails_stats st;
	struct tern_slice s[16];
	struct mlx5_model_qp *qp0;
	unsigned int i, spins = 0, done = 0, cancelled = 0;
	uint8_t seen[16] = { 0 };
	uint64_t base;

	/* The fence only once the failed QP left ERR (no clock in the test). */
	mlx5_set_tuning(&(struct tern_mlx5_tuning){ .sq_wqebbs = 64,
						    .sig_every = 16,
						    .max_inline = 64,
						    .write_fence_us = TERN_MLX5_FENCE_QP });
	write_read_verified(f, 64, 9, 0, NULL);
	qp0 = qp_of_dev(f, 0);
	mlx5_model_qp_hold_after_error(qp0, 1);
	cut_rail0(f);
	for (i = 0; i < RTE_DIM(s); i++)
		s[i] = slice(f, TERN_OP_WRITE, (uint64_t)i * SLICE_BYTES, (uint64_t)i * SLICE_BYTES,
			     SLICE_BYTES);
	base = s[0].cookie;
	/* Rail 0 takes them (nothing in flight anywhere: the first rail). */
	assert_int_equal(f->ops->post_burst(f->ep, s, RTE_DIM(s)), RTE_DIM(s));
	mlx5_model_step(f->m);
	assert_int_equal(f->ops->poll(f->ep, cpl, RTE_DIM(cpl)), 0);
	assert_int_equal(mlx5_rails_stats(f->ep, &st), 0);
	assert_int_equal(st.moved, RTE_DIM(s));
	assert_int_equal(st.reposted, 0); /* WRITEs wait for rail 0's QP */
	f->ops->cancel(f->ep);
	while (done < RTE_DIM(s) || spins < 100) {
		uint16_t n;

		if (spins == 50)
			mlx5_model_qp_hold(qp0, 0); /* the device flushes at last */
		mlx5_model_step(f->m);
		n = f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		for (i = 0; i < n; i++) {
			uint64_t k = cpl[i].cookie - base;

			assert_true(k < RTE_DIM(s));
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
			cancelled += cpl[i].status == -ECANCELED;
		}
		done += n;
		assert_true(++spins < SPINS_MAX);
	}
	assert_int_equal(cancelled, RTE_DIM(s));
	mlx5_model_qp_hold_after_error(qp0, 0);
	mlx5_model_wire_set(f->m, 1, 0, 1);
	write_read_verified(f, 64, 10, 0, NULL);
}

/*
 * Post @p nb slices of @p s and poll until every one either completed or was
 * handed back (give_back op) once. @p how[k]: 1 completed, 2 handed back;
 * @p st[k] the status (handed back: the one given with it). Checks that a
 * slice handed back is the slice as posted.
 */
static void
run_give_back(struct fx *f, const struct tern_slice *s, unsigned int nb, uint8_t *how, int32_t *st)
{
	struct tern_completion cpl[64];
	struct tern_slice out[8];
	int32_t ost[8];
	uint64_t base = s[0].cookie;
	unsigned int posted = 0, done = 0, spins = 0, i;

	memset(how, 0, nb);
	while (done < nb) {
		uint16_t n;

		if (posted < nb)
			posted += f->ops->post_burst(f->ep, s + posted,
						     (uint16_t)RTE_MIN(nb - posted, BURST));
		mlx5_model_step(f->m);
		n = f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		for (i = 0; i < n; i++) {
			uint64_t k = cpl[i].cookie - base;

			assert_true(k < nb);
			assert_int_equal(how[k], 0);
			how[k] = 1;
			st[k] = cpl[i].status;
		}
		done += n;
		/* As the engine: only while the endpoint says so, a few at a time. */
		while (f->ep->give_back != 0) {
			uint32_t before = f->ep->give_back;

			n = f->ops->give_back(f->ep, out, ost, RTE_DIM(out));
			assert_true(n > 0 && n <= RTE_DIM(out));
			assert_int_equal(f->ep->give_back, before - n);
			for (i = 0; i < n; i++) {
				uint64_t k = out[i].cookie - base;

				assert_true(k < nb);
				assert_int_equal(how[k], 0);
				how[k] = 2;
				st[k] = ost[i];
				assert_ptr_equal(out[i].target, s[k].target);
				assert_ptr_equal(out[i].local, s[k].local);
				assert_int_equal(out[i].offset, s[k].offset);
				assert_int_equal(out[i].length, s[k].length);
				assert_int_equal(out[i].op, s[k].op);
			}
			done += n;
		}
		assert_true(++spins < SPINS_MAX);
	}
	assert_int_equal(f->ops->give_back(f->ep, out, ost, RTE_DIM(out)), 0);
}

/* @p seg has a last resort and every rail to it is cut: the slices in
 * flight come back through give_back (status the rail's error), none
 * completes with an error; cut rail by rail as @p cut says. */
static void
hand_back_case(struct fx *f, struct tern_segment *seg, unsigned int cut_mask, uint32_t seed)
{
	enum { NB = 64 };
	struct tern_slice s[NB];
	struct mlx5_rails_stats st0, st1;
	int32_t st[NB];
	uint8_t how[NB];
	unsigned int i, back = 0;

	for (i = 0; i < 4; i++)
		if (cut_mask & (1u << i))
			mlx5_model_wire_set(f->m, 1, (int)i, 0);
	fill(f->local, NB * SLICE_BYTES, seed);
	for (i = 0; i < NB; i++) {
		s[i] = slice(f, i % 2 ? TERN_OP_READ : TERN_OP_WRITE, (uint64_t)i * SLICE_BYTES,
			     (uint64_t)i * SLICE_BYTES, SLICE_BYTES);
		s[i].target = seg;
	}
	assert_int_equal(mlx5_rails_stats(f->ep, &st0), 0);
	run_give_back(f, s, NB, how, st);
	assert_int_equal(mlx5_rails_stats(f->ep, &st1), 0);
	for (i = 0; i < NB; i++) {
		if (how[i] == 2) {
			back++;
			assert_int_equal(st[i], -ETIMEDOUT);
		} else {
			/* Completed on mlx5 before the cut reached it: only successes. */
			assert_int_equal(st[i], 0);
		}
	}
	print_message("cut 0x%x: %u of %u slices handed back, %" PRIu64 " failed\n", cut_mask, back,
		      (unsigned int)NB, st1.failed - st0.failed);
	assert_true(back > 0);
	assert_int_equal(st1.given_back - st0.given_back, back);
	assert_int_equal(st1.failed, st0.failed);
	for (i = 0; i < 4; i++)
		if (cut_mask & (1u << i))
			mlx5_model_wire_set(f->m, 1, (int)i, 1);
}

/* A segment with a last resort: with every rail cut its slices in flight
 * go back to the engine (give_back) instead of failing; a one-port
 * segment too; cancel() completes what is still held for hand-back. */
static void
hand_back_with_a_last_resort(void **state)
{
	struct fx *f = *state;
	struct tern_segment one __rte_aligned(64);
	struct tern_completion cpl[64];
	struct tern_slice s[16];
	unsigned int i, spins = 0, done = 0;

	mlx5_set_tuning(&(struct tern_mlx5_tuning){ .sq_wqebbs = 64,
						    .sig_every = 16,
						    .max_inline = 64,
						    .rail_pause_ms = 60000,
						    .write_fence_us = TERN_MLX5_FENCE_NOW });
	write_read_verified(f, 64, 11, 0, NULL);
	f->rseg.fallback = 1; /* any slot: the driver only asks whether there is one */
	hand_back_case(f, &f->rseg, 3, 12);
	assert_false(f->ops->rail_live(f->ep, &f->rseg)); /* paused: 60 s */

	/* One port (version 2), device 0, with a last resort. */
	memset(&one, 0, sizeof(one));
	one.kind = TERN_SEGMENT_REMOTE;
	one.base = f->remote;
	one.length = REMOTE_BYTES;
	one.fallback = 1;
	mlx5_model_import_wired(&one, 1, f->remote, REMOTE_BYTES, f->rkey[0]);
	mlx5_rails_forget_marks(-1);
	/* Rail 0 is paused on this endpoint (above): rail_live reads the
	 * endpoint's pause for a one-port segment too, not only the QP. */
	assert_false(f->ops->rail_live(f->ep, &one));

	/* cancel() with slices held for hand-back: -ECANCELED, each once. */
	for (i = 0; i < RTE_DIM(s); i++)
		s[i] = slice(f, TERN_OP_READ, (uint64_t)i * SLICE_BYTES, (uint64_t)i * SLICE_BYTES,
			     SLICE_BYTES);
	mlx5_model_wire_set(f->m, 1, 0, 0);
	mlx5_model_wire_set(f->m, 1, 1, 0);
	/* Both rails are paused: rail 0's pause ends first, and takes them. */
	assert_int_equal(f->ops->post_burst(f->ep, s, RTE_DIM(s)), RTE_DIM(s));
	while (f->ep->give_back == 0) {
		mlx5_model_step(f->m);
		done += f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		assert_true(++spins < SPINS_MAX);
	}
	assert_int_equal(done, 0);
	f->ops->cancel(f->ep);
	assert_int_equal(f->ep->give_back, 0);
	while (done < RTE_DIM(s)) {
		uint16_t n;

		mlx5_model_step(f->m);
		n = f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		for (i = 0; i < n; i++)
			assert_int_equal(cpl[i].status, -ECANCELED);
		done += n;
		assert_true(++spins < SPINS_MAX);
	}
	assert_int_equal(done, RTE_DIM(s));
	f->ops->segment_release(&one);
}

/* A one-port segment with a last resort, on an endpoint whose rail to it
 * has not failed yet: its WQEs in flight at the cut are handed back. */
static void
hand_back_one_port(void **state)
{
	struct fx *f = *state;
	struct tern_segment one __rte_aligned(64);

	mlx5_set_tuning(&(struct tern_mlx5_tuning){ .sq_wqebbs = 64,
						    .sig_every = 16,
						    .max_inline = 64,
						    .rail_pause_ms = 60000,
						    .write_fence_us = TERN_MLX5_FENCE_NOW });
	memset(&one, 0, sizeof(one));
	one.kind = TERN_SEGMENT_REMOTE;
	one.base = f->remote;
	one.length = REMOTE_BYTES;
	one.fallback = 1;
	mlx5_model_import_wired(&one, 1, f->remote, REMOTE_BYTES, f->rkey[0]);
	assert_true(f->ops->rail_live(f->ep, &one));
	hand_back_case(f, &one, 1, 13);
	assert_false(f->ops->rail_live(f->ep, &one)); /* paused */
	f->ops->segment_release(&one);
}

/* The real import of a version 3 blob runs a handshake per port: with
 * nobody listening it fails with the socket's error (not -EINVAL), and a
 * malformed blob is -EINVAL. */
static void
import_v3_blob(void **state)
{
	struct fx *f = *state;
	struct tern_segment seg __rte_aligned(64);
	struct tern_mlx5_desc3 d;
	uint8_t blob[TERN_MLX5_DESC3_MAX];
	int len, rc;

	desc2ports(f, &d);
	len = mlx5_desc3_encode(&d, blob, sizeof(blob));
	memset(&seg, 0, sizeof(seg));
	seg.kind = TERN_SEGMENT_REMOTE;
	rc = f->ops->segment_import(&seg, blob, (size_t)len);
	assert_true(rc < 0 && rc != -EINVAL);
	blob[9] = 1; /* reserved */
	assert_int_equal(f->ops->segment_import(&seg, blob, (size_t)len), -EINVAL);
	assert_int_equal(f->ops->segment_import(&seg, blob, (size_t)len - 1), -EINVAL);
}

/* Post @p nb WRITEs (cookies from @p base's counter) until the endpoint
 * takes no more: every rail's send queue full. @return how many. */
static unsigned int
fill_queues(struct fx *f, struct tern_slice *w, unsigned int nb)
{
	unsigned int n = 0;
	uint16_t k;

	while (n < nb) {
		w[n] = slice(f, TERN_OP_WRITE, (uint64_t)n * SLICE_BYTES, (uint64_t)n * SLICE_BYTES,
			     SLICE_BYTES);
		k = f->ops->post_burst(f->ep, &w[n], 1);
		if (k == 0)
			break;
		n++;
	}
	f->next_cookie--; /* the one not taken */
	return n;
}

/*
 * expire() of a batch with READs held for failover (taken off a failed QP,
 * no room on the other rail yet): they complete -ETIMEDOUT through poll(),
 * are never posted again once room comes and the wire is mended, and their
 * local buffer keeps every byte. expire() is called on @p other (another
 * endpoint, as the engine does on the owner lcore) or on the endpoint that
 * holds them (NULL).
 */
static void
expire_held_reads(struct fx *f, struct tern_endpoint *other)
{
	enum { NR = 8, NW = 256 };
	struct tern_slice r[NR], *w = calloc(NW, sizeof(*w));
	struct tern_completion cpl[64];
	struct mlx5_rails_stats st0, st1;
	struct mlx5_model_qp *qp0, *qp1;
	uint8_t *dst = f->local + (12u << 20);
	const uint64_t src = 8u << 20, cookie = 0xe0000001ull;
	unsigned int i, nw, spins = 0, reads = 0, writes = 0, timedout = 0;

	assert_non_null(w);
	write_read_verified(f, 64, 31, 0, NULL);
	qp0 = qp_of_dev(f, 0);
	qp1 = qp_of_dev(f, 1);
	assert_non_null(qp0);
	assert_non_null(qp1);
	fill(f->remote + src, NR * SLICE_BYTES, 32);
	memset(dst, 0xaa, NR * SLICE_BYTES);
	/* The READs on rail 0 (nothing in flight anywhere: the first rail),
	 * held by its device; then both queues full of WRITEs, rail 1's held. */
	mlx5_model_qp_hold(qp0, 1);
	mlx5_model_qp_hold(qp1, 1);
	for (i = 0; i < NR; i++) {
		r[i] = slice(f, TERN_OP_READ, (12u << 20) + (uint64_t)i * SLICE_BYTES,
			     src + (uint64_t)i * SLICE_BYTES, SLICE_BYTES);
		r[i].cookie = cookie; /* one batch: one cookie */
		r[i].batch = 77;
	}
	assert_int_equal(f->ops->post_burst(f->ep, r, NR), NR);
	nw = fill_queues(f, w, NW);
	assert_true(nw > 0 && nw < NW);
	assert_int_equal(mlx5_rails_stats(f->ep, &st0), 0);
	/* Rail 0's wire cut: its READs fail, come off its QP and wait for room. */
	mlx5_model_wire_set(f->m, 1, 0, 0);
	mlx5_model_qp_hold(qp0, 0);
	do {
		uint16_t n;

		mlx5_model_step(f->m);
		n = f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		for (i = 0; i < n; i++) {
			assert_int_not_equal(cpl[i].cookie, cookie);
			writes++;
		}
		assert_int_equal(mlx5_rails_stats(f->ep, &st1), 0);
		assert_true(++spins < SPINS_MAX);
	} while (st1.moved - st0.moved < NR);
	assert_int_equal(st1.reposted, st0.reposted); /* rail 1 has no room */
	/* The deadline. */
	f->ops->expire(other != NULL ? other : f->ep, cookie, 77);
	/* Room on rail 1, rail 0 mended: the READs still never go. */
	mlx5_model_qp_hold(qp1, 0);
	mlx5_model_wire_set(f->m, 1, 0, 1);
	for (spins = 0; writes < nw || reads < NR || spins < 200; spins++) {
		uint16_t n;

		mlx5_model_step(f->m);
		n = f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		for (i = 0; i < n; i++) {
			if (cpl[i].cookie == cookie) {
				reads++;
				timedout += cpl[i].status == -ETIMEDOUT;
			} else {
				assert_int_equal(cpl[i].status, 0);
				writes++;
			}
		}
		assert_true(spins < SPINS_MAX);
	}
	assert_int_equal(mlx5_rails_stats(f->ep, &st1), 0);
	print_message("expired held READs: %u of %u -ETIMEDOUT, %" PRIu64 " expired, %u WRITEs\n",
		      timedout, (unsigned int)NR, st1.expired - st0.expired, writes);
	assert_int_equal(reads, NR);
	assert_int_equal(timedout, NR);
	assert_int_equal(writes, nw);
	assert_int_equal(st1.expired - st0.expired, NR);
	for (i = 0; i < NR * SLICE_BYTES; i++)
		if (dst[i] != 0xaa)
			fail_msg("byte %u of the expired READs' buffer changed", i);
	assert_int_equal(mlx5_ep(f->ep)->rails_pending, 0);
	free(w);
	write_read_verified(f, 64, 33, 0, NULL);
}

static void
expire_held_read_here(void **state)
{
	expire_held_reads(*state, NULL);
}

/* expire() on another endpoint (another lcore's): the endpoint holding the
 * READs finds the batch in the process-wide ring before it posts them. */
static void
expire_held_read_elsewhere(void **state)
{
	struct fx *f = *state;
	struct tern_endpoint_conf conf = { .lcore_id = rte_lcore_id(),
					   .socket_id = SOCKET_ID_ANY,
					   .max_slices = 64 };
	struct tern_endpoint *other = f->ops->endpoint_open(&conf);

	assert_non_null(other);
	expire_held_reads(f, other);
	f->ops->endpoint_close(other);
}

/* expire() of a batch whose READs wait to be handed back (every rail cut,
 * a last resort): they complete -ETIMEDOUT through poll() and are never
 * handed back. */
static void
expire_given_back_reads(void **state)
{
	enum { NR = 8 };
	struct fx *f = *state;
	struct tern_completion cpl[64];
	struct tern_slice s[NR], out[NR];
	struct mlx5_rails_stats st0, st1;
	int32_t ost[NR];
	const uint64_t cookie = 0xe0000002ull;
	unsigned int i, spins = 0, done = 0;
	uint8_t *dst = f->local + (12u << 20);
	uint16_t n;

	mlx5_set_tuning(&(struct tern_mlx5_tuning){
		.sq_wqebbs = 64, .sig_every = 16, .max_inline = 64, .rail_pause_ms = 60000 });
	write_read_verified(f, 64, 34, 0, NULL);
	f->rseg.fallback = 1;
	fill(f->remote, NR * SLICE_BYTES, 35);
	memset(dst, 0xaa, NR * SLICE_BYTES);
	for (i = 0; i < NR; i++) {
		s[i] = slice(f, TERN_OP_READ, (12u << 20) + (uint64_t)i * SLICE_BYTES,
			     (uint64_t)i * SLICE_BYTES, SLICE_BYTES);
		s[i].cookie = cookie;
		s[i].batch = 78;
	}
	assert_int_equal(mlx5_rails_stats(f->ep, &st0), 0);
	cut_both(f);
	assert_int_equal(f->ops->post_burst(f->ep, s, NR), NR);
	while (f->ep->give_back < NR) {
		mlx5_model_step(f->m);
		assert_int_equal(f->ops->poll(f->ep, cpl, RTE_DIM(cpl)), 0);
		assert_true(++spins < SPINS_MAX);
	}
	f->ops->expire(f->ep, cookie, 78);
	assert_int_equal(f->ep->give_back, 0);
	assert_int_equal(f->ops->give_back(f->ep, out, ost, NR), 0);
	while (done < NR) {
		n = f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		for (i = 0; i < n; i++) {
			assert_int_equal(cpl[i].cookie, cookie);
			assert_int_equal(cpl[i].status, -ETIMEDOUT);
		}
		done += n;
		assert_true(++spins < SPINS_MAX);
	}
	assert_int_equal(mlx5_rails_stats(f->ep, &st1), 0);
	assert_int_equal(st1.expired - st0.expired, NR);
	assert_int_equal(st1.given_back, st0.given_back);
	for (i = 0; i < 100; i++) {
		mlx5_model_step(f->m);
		assert_int_equal(f->ops->poll(f->ep, cpl, RTE_DIM(cpl)), 0);
	}
	for (i = 0; i < NR * SLICE_BYTES; i++)
		if (dst[i] != 0xaa)
			fail_msg("byte %u of the expired READs' buffer changed", i);
	mlx5_model_wire_set(f->m, 1, 0, 1);
	mlx5_model_wire_set(f->m, 1, 1, 1);
	f->rseg.fallback = 0;
}

/* Both wires cut, rails paused for 1 ms only: a READ bounces from rail to
 * rail, each time posted again, and fails with the rail's error after 8
 * re-posts (tcp's cap) instead of bouncing until its deadline. */
static void
reposts_are_capped(void **state)
{
	struct fx *f = *state;
	struct tern_completion cpl[8];
	struct mlx5_rails_stats st0, st1;
	struct tern_slice s;
	unsigned int spins, done = 0;
	int32_t status = 0;

	mlx5_set_tuning(&(struct tern_mlx5_tuning){
		.sq_wqebbs = 64, .sig_every = 16, .max_inline = 64, .rail_pause_ms = 1 });
	write_read_verified(f, 64, 36, 0, NULL);
	assert_int_equal(mlx5_rails_stats(f->ep, &st0), 0);
	cut_both(f);
	s = slice(f, TERN_OP_READ, LOCAL_BYTES / 2, 0, SLICE_BYTES);
	assert_int_equal(f->ops->post_burst(f->ep, &s, 1), 1);
	for (spins = 0; done == 0 && spins < 500; spins++) {
		uint16_t n, i;

		usleep(3000); /* the last pause is over */
		mlx5_model_step(f->m);
		n = f->ops->poll(f->ep, cpl, RTE_DIM(cpl));
		for (i = 0; i < n; i++) {
			assert_int_equal(cpl[i].cookie, s.cookie);
			status = cpl[i].status;
		}
		done += n;
	}
	assert_int_equal(mlx5_rails_stats(f->ep, &st1), 0);
	print_message("capped: done %u after %u polls, status %d, %" PRIu64 " re-posts, %" PRIu64
		      " capped, %" PRIu64 " pauses\n",
		      done, spins, status, st1.reposted - st0.reposted, st1.capped - st0.capped,
		      st1.pauses - st0.pauses);
	assert_int_equal(done, 1);
	assert_int_equal(status, -ETIMEDOUT);
	assert_int_equal(st1.reposted - st0.reposted, 8);
	assert_int_equal(st1.capped - st0.capped, 1);
	mlx5_model_wire_set(f->m, 1, 0, 1);
	mlx5_model_wire_set(f->m, 1, 1, 1);
	usleep(3000);
	write_read_verified(f, 64, 37, 0, NULL);
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
			"tern_mlx5_rails",
			"--log-level",
			"lib.eal:error" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(two_rails_share_the_work, setup, teardown),
		cmocka_unit_test_setup_teardown(the_faster_rail_takes_more, setup, teardown),
		cmocka_unit_test_setup_teardown(a_rail_cut_mid_stream_loses_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(both_rails_cut_fail_fast_then_recover, setup,
						teardown),
		cmocka_unit_test_setup_teardown(cancel_returns_waiting_work, setup, teardown),
		cmocka_unit_test_setup_teardown(hand_back_with_a_last_resort, setup, teardown),
		cmocka_unit_test_setup_teardown(hand_back_one_port, setup, teardown),
		cmocka_unit_test_setup_teardown(import_v3_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(expire_held_read_here, setup, teardown),
		cmocka_unit_test_setup_teardown(expire_held_read_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(expire_given_back_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(reposts_are_capped, setup, teardown),
	};

	(void)argc;
	if (rte_eal_init(RTE_DIM(eal), eal) < 0)
		return 1;
	return cmocka_run_group_tests_name("mlx5_rails", tests, NULL, NULL);
}
