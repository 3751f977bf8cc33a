/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mlx5 rails through the real engine (issue 15): tern_submit -> worker
 * lcores -> mlx5 post_burst over two rails (node 1's two model devices, a
 * version 3 import) -> the model on its own thread -> poll -> futures.
 * One rail's wire cut with every batch in flight: every future succeeds,
 * every byte right. Both cut: every future fails, long before its deadline.
 * Mended: new batches succeed. On the device model, not hardware.
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

#include <rte_common.h>
#include <rte_lcore.h>

#include <tern_engine.h>
#include <tern_segment.h>
#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_desc3.h"
#include "mlx5_model.h"
#include "mlx5_rails_fixture.h"
#include "mlx5_rails.h"
#include "tern_mlx5_internal.h"
#include "test_common.h"

#define REMOTE_BYTES (32u << 20)
#define LOCAL_BYTES  (64u << 20)
#define BATCH_BYTES  (1u << 20)
#define BATCHES	     32u
#define DEADLINE_NS  (5ull * 1000 * 1000 * 1000)

struct efx {
	struct test_env env;
	struct mlx5_model *m;
	const struct tern_transport_ops *ops;
	struct tern_client *client;
	uint8_t *remote;
	uint8_t *local;
	uint32_t remote_h;
	uint32_t local_h;
};

static int
setup(void **state)
{
	struct efx *f = calloc(1, sizeof(*f));
	struct tern_mlx5_tuning t = { .sq_wqebbs = 128, .sig_every = 16, .max_inline = 64 };
	struct tern_engine_conf conf = { .deadline_ns = DEADLINE_NS };
	uint8_t d[TERN_MLX5_DESC_LEN];

	assert_non_null(f);
	f->m = mlx5_model_create();
	assert_int_equal(mlx5_test_set_queue_provider(&mlx5_model_provider, f->m), 0);
	mlx5_set_tuning(&t);
	f->ops = tern_transport_get(tern_transport_id("mlx5"));
	assert_non_null(f->ops);
	mlx5_model_start(f->m);
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1" }), 0);
	conf.slice_bytes = 256 << 10;
	test_env_create(&f->env, "mlx5", &conf);
	f->remote = aligned_alloc(4096, REMOTE_BYTES);
	assert_non_null(f->remote);
	memset(f->remote, 0, REMOTE_BYTES);
	f->remote_h = mlx5_rails_fixture_import(f->m, &f->env, f->remote, REMOTE_BYTES, 0);
	f->local_h = test_segment_local(&f->env, "local_mem", LOCAL_BYTES, (void **)&f->local);
	assert_int_equal(f->ops->segment_export(
				 &f->env.segments->slots[tern_segment_handle_slot(f->local_h)], d,
				 sizeof(d)),
			 (int)sizeof(d));
	f->client = tern_client_create(f->env.engine,
				       &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	assert_non_null(f->client);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct efx *f = *state;
	const char *first;
	unsigned int v;

	assert_int_equal(tern_client_destroy(f->client), 0);
	assert_int_equal(tern_mlx5_configure(NULL), 0);
	test_env_destroy(&f->env);
	mlx5_model_stop(f->m);
	v = mlx5_model_violations(f->m, &first);
	if (v != 0)
		fail_msg("%u model violations, first: %s", v, first);
	assert_int_equal(mlx5_test_set_queue_provider(NULL, NULL), 0);
	mlx5_set_tuning(NULL);
	mlx5_model_destroy(f->m);
	free(f->remote);
	free(f->local);
	free(f);
	return 0;
}

static void
every_batch_survives_a_rail_cut(void **state)
{
	struct efx *f = *state;
	uint8_t *back = f->local + REMOTE_BYTES;
	int32_t st[BATCHES];
	unsigned int i, pending;

	test_pattern_fill(f->local, REMOTE_BYTES, 11, 0);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE, f->local,
				   0, st, NULL); /* opens the QPs */
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	test_pattern_fill(f->local, REMOTE_BYTES, 12, 0);
	pending = mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE,
					     f->local, 1, st, NULL);
	print_message("WRITE: %u of %u batches in flight at the cut of rail 0\n", pending, BATCHES);
	assert_true(pending > 0);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	assert_int_equal(test_pattern_check(f->remote, REMOTE_BYTES, 12, 0), SIZE_MAX);
	/* READ it back with rail 0 mended and rail 1 cut in flight, once rail 0's
	 * pause (100 ms after one failure, 2 s at most) is over: a WQE taken off
	 * rail 1 while rail 0 is paused would find no rail in service and fail,
	 * as tcp's slices do. */
	mlx5_model_wire_set(f->m, 1, 0, 1);
	usleep(2100 * 1000);
	memset(back, 0, REMOTE_BYTES);
	pending = mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_READ,
					     back, 2, st, NULL);
	print_message("READ: %u of %u batches in flight at the cut of rail 1\n", pending, BATCHES);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	assert_int_equal(test_pattern_check(back, REMOTE_BYTES, 12, 0), SIZE_MAX);
}

static void
both_cut_fail_before_the_deadline_then_work_again(void **state)
{
	struct efx *f = *state;
	int32_t st[BATCHES];
	uint64_t ms;
	unsigned int i;

	test_pattern_fill(f->local, REMOTE_BYTES, 13, 0);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE, f->local,
				   0, st, NULL);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE, f->local,
				   3, st, &ms);
	print_message("both rails cut: %u batches resolved in %" PRIu64 " ms (deadline %llu ms)\n",
		      BATCHES, ms, DEADLINE_NS / 1000000);
	for (i = 0; i < BATCHES; i++)
		assert_true(st[i] < 0 && st[i] != -ECANCELED);
	assert_true(ms < DEADLINE_NS / 1000000 / 2);
	mlx5_model_wire_set(f->m, 1, 0, 1);
	mlx5_model_wire_set(f->m, 1, 1, 1);
	test_pattern_fill(f->local, REMOTE_BYTES, 14, 0);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE, f->local,
				   0, st, NULL);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	assert_int_equal(test_pattern_check(f->remote, REMOTE_BYTES, 14, 0), SIZE_MAX);
}

/* Hold (or release) the model's QPs to node 1's device @p dev. */
static void
hold_dev(struct mlx5_model *m, int dev, int hold)
{
	struct mlx5_model_qp *qp;
	unsigned int i;

	for (i = 0; (qp = mlx5_model_qp(m, i)) != NULL; i++)
		if (mlx5_model_qp_remote_dev(qp) == dev)
			mlx5_model_qp_hold(qp, hold);
}

/*
 * A READ batch whose slices wait in the driver for failover when its
 * deadline passes (rail 0's wire cut under them, rail 1's queues full of
 * WRITEs its device holds, rails paused for a minute): its future resolves
 * -ETIMEDOUT at the deadline, its slices complete -ETIMEDOUT (the engine's
 * expire() reached the driver), and once rail 1 has room and rail 0 is
 * mended, no byte of its buffer changes.
 */
static void
expired_read_never_lands(void **state)
{
	enum { FILL = 96 };
	struct efx *f = *state;
	struct tern_mlx5_tuning t = {
		.sq_wqebbs = 64, .sig_every = 16, .max_inline = 64, .rail_pause_ms = 60000
	};
	struct tern_future *fill[FILL], *rf;
	struct mlx5_rails_stats st0, st1;
	uint8_t *dst = f->local + (48u << 20);
	const uint64_t src = 28u << 20;
	struct tern_request r = test_req(TERN_OP_READ, f->remote_h, src, dst, BATCH_BYTES);
	struct tern_submit_opts o = { .deadline_ns = 400ull * 1000 * 1000 };
	int32_t st[BATCHES];
	uint64_t t0, ms;
	unsigned int i;
	size_t k;
	int rc;

	mlx5_set_tuning(&t);
	/* Opens the QPs; READs, so that every one is reported (nothing in
	 * flight anywhere after: the next run goes to rail 0). */
	test_pattern_fill(f->remote, REMOTE_BYTES, 41, 0);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_READ, f->local, 0,
				   st, NULL);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	memset(dst, 0xaa, BATCH_BYTES);
	mlx5_rails_fixture_stats(&st0);
	hold_dev(f->m, 0, 1);
	hold_dev(f->m, 1, 1);
	mlx5_model_wire_set(f->m, 1, 0, 0);
	t0 = test_now_ns();
	rf = tern_submit(f->client, &r, 1, &o);
	assert_non_null(rf);
	usleep(20 * 1000);
	for (i = 0; i < FILL; i++) {
		struct tern_request w =
			test_req(TERN_OP_WRITE, f->remote_h, ((uint64_t)i % 24) << 20,
				 f->local + (((uint64_t)i % 24) << 20), BATCH_BYTES);

		fill[i] = tern_submit(f->client, &w, 1, NULL);
		assert_non_null(fill[i]);
	}
	usleep(50 * 1000);
	hold_dev(f->m, 0, 0); /* rail 0 fails under the READ */
	rc = test_wait_release(rf);
	ms = (test_now_ns() - t0) / 1000000;
	print_message("expired READ: %d after %" PRIu64 " ms (deadline 400 ms)\n", rc, ms);
	assert_int_equal(rc, -ETIMEDOUT);
	/* Room on rail 1, rail 0 mended: the fillers complete, the READ never. */
	mlx5_model_wire_set(f->m, 1, 0, 1);
	hold_dev(f->m, 1, 0);
	for (i = 0; i < FILL; i++)
		assert_int_equal(test_wait_release(fill[i]), 0);
	usleep(100 * 1000);
	mlx5_rails_fixture_stats(&st1);
	print_message("expired READ: %" PRIu64 " slices expired in the driver, %" PRIu64
		      " moved, %" PRIu64 " re-posted\n",
		      st1.expired - st0.expired, st1.moved - st0.moved,
		      st1.reposted - st0.reposted);
	for (k = 0; k < BATCH_BYTES; k++)
		if (dst[k] != 0xaa)
			fail_msg("byte %zu of the expired READ's buffer changed", k);
	assert_int_equal(st1.expired - st0.expired, BATCH_BYTES / (256u << 10));
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_batch_survives_a_rail_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(both_cut_fail_before_the_deadline_then_work_again,
						setup, teardown),
		cmocka_unit_test_setup_teardown(expired_read_never_lands, setup, teardown),
	};

	(void)argc;
	(void)argv;
	test_eal_init("mlx5_rails_engine", "(0-2)@(0-1)", 256);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
