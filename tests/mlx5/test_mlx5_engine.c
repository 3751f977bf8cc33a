/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The real engine over the mlx5 transport over the software device model:
 * tern_submit -> worker lcore -> mlx5 post_burst -> model (device thread)
 * -> CQE -> mlx5 poll -> future. Two worker lcores, each with its own CQ
 * and QP.
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

#include <cmocka.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_log.h>
#include <rte_memory.h>

#include <tern_engine.h>
#include <tern_segment.h>
#include <tern_transport.h>

#include "mlx5_model.h"
#include "tern_mlx5.h"
#include "tern_mlx5_internal.h"
#include "test_common.h"

#define REMOTE_BYTES (40u << 20)
#define LOCAL_BYTES  (80u << 20)
#define DRAIN_NS     (500ull * 1000 * 1000)

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

static uint32_t
register_remote(struct efx *f, const char *name, uint8_t *mem, uint64_t len, uint32_t rkey)
{
	struct tern_mlx5_desc d;
	struct tern_segment tmp;
	struct tern_segment_conf conf = { 0 };
	uint32_t h;

	memset(&d, 0, sizeof(d));
	d.magic = TERN_MLX5_DESC_MAGIC;
	d.version = TERN_MLX5_DESC_VERSION;
	d.rkey = rkey;
	d.addr = (uintptr_t)mem;
	d.length = len;
	mlx5_model_gid(1, d.gid);
	memset(&tmp, 0, sizeof(tmp));
	tmp.length = len;
	/* What the directory will do with a peer's blob. */
	assert_int_equal(f->ops->segment_import(&tmp, &d, sizeof(d)), 0);
	conf.name = name;
	conf.addr = mem;
	conf.length = len;
	conf.kind = TERN_SEGMENT_REMOTE;
	conf.transport = "mlx5";
	conf.socket_id = SOCKET_ID_ANY;
	conf.priv = tmp.priv;
	conf.priv_len = sizeof(d);
	assert_int_equal(tern_segment_register(f->env.segments, &conf, &h), 0);
	return h;
}

static int
setup_drain(void **state, uint64_t drain_ns)
{
	struct efx *f = calloc(1, sizeof(*f));
	struct tern_mlx5_tuning t = { .sq_wqebbs = 128, .sig_every = 16, .max_inline = 64 };
	struct tern_engine_conf conf = { .drain_ns = drain_ns };
	struct tern_mlx5_desc d;

	assert_non_null(f);
	f->m = mlx5_model_create();
	assert_int_equal(tern_mlx5_test_set_queue_provider(&mlx5_model_provider, f->m), 0);
	tern_mlx5_set_tuning(&t);
	f->ops = tern_transport_get(tern_transport_id("mlx5"));
	assert_non_null(f->ops);
	mlx5_model_start(f->m);
	conf.slice_bytes = 256 << 10;
	test_env_create(&f->env, "mlx5", &conf);
	f->remote = aligned_alloc(4096, REMOTE_BYTES);
	assert_non_null(f->remote);
	memset(f->remote, 0, REMOTE_BYTES);
	f->remote_h = register_remote(
		f, "peer_mem", f->remote, REMOTE_BYTES,
		mlx5_model_mr_add(f->m, 1, f->remote, REMOTE_BYTES, MODEL_ACCESS_ALL));
	f->local_h = test_segment_local(&f->env, "local_mem", LOCAL_BYTES, (void **)&f->local);
	/* Register the local segment as one memory region up front. */
	assert_int_equal(f->ops->segment_export(
				 &f->env.segments->slots[tern_segment_handle_slot(f->local_h)], &d,
				 sizeof(d)),
			 (int)sizeof(d));
	f->client = tern_client_create(f->env.engine,
				       &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	assert_non_null(f->client);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_drain(state, 0);
}

static int
setup_short_drain(void **state)
{
	return setup_drain(state, DRAIN_NS);
}

static int
teardown(void **state)
{
	struct efx *f = *state;
	const char *first;
	unsigned int v;

	if (f->client != NULL)
		assert_int_equal(tern_client_destroy(f->client), 0);
	test_env_destroy(&f->env);
	mlx5_model_stop(f->m);
	v = mlx5_model_violations(f->m, &first);
	if (v != 0)
		fail_msg("%u model violations, first: %s", v, first);
	assert_int_equal(tern_mlx5_test_set_queue_provider(NULL, NULL), 0);
	tern_mlx5_set_tuning(NULL);
	mlx5_model_destroy(f->m);
	free(f->remote);
	free(f->local); /* test_segment_local's memory is the caller's */
	free(f);
	return 0;
}

static int
xfer(struct efx *f, uint8_t op, uint32_t seg, uint64_t off, void *local, uint64_t len)
{
	struct tern_request r = { 0 };

	r.op = op;
	r.segment = seg;
	r.offset = off;
	r.local = local;
	r.length = len;
	return test_wait_release(tern_submit(f->client, &r, 1, NULL));
}

static void
write_and_read_1_byte_to_32_mib(void **state)
{
	static const uint64_t sizes[] = { 1, 17, 64, 65, 4096, 100000, 1u << 20, 32u << 20 };
	struct efx *f = *state;
	unsigned int i;

	for (i = 0; i < RTE_DIM(sizes); i++) {
		uint64_t len = sizes[i], roff = i * 513;

		test_pattern_fill(f->local, len, i, 0);
		assert_int_equal(xfer(f, TERN_OP_WRITE, f->remote_h, roff, f->local, len), 0);
		assert_int_equal(test_pattern_check(f->remote + roff, len, i, 0), SIZE_MAX);
		memset(f->local + (40u << 20), 0, len);
		assert_int_equal(
			xfer(f, TERN_OP_READ, f->remote_h, roff, f->local + (40u << 20), len), 0);
		assert_int_equal(test_pattern_check(f->local + (40u << 20), len, i, 0), SIZE_MAX);
	}
}

static void
batches_of_small_writes_wrap_the_queues(void **state)
{
	struct efx *f = *state;
	struct tern_request r[64];
	struct mlx5_model_stats st;
	unsigned int round, i;

	test_pattern_fill(f->local, 1u << 20, 42, 0);
	for (round = 0; round < 100; round++) {
		for (i = 0; i < 64; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].op = TERN_OP_WRITE;
			r[i].segment = f->remote_h;
			r[i].offset = ((round * 64 + i) % 4096) * 256;
			r[i].local = f->local + r[i].offset % (1u << 20);
			r[i].length = 1 + (round * 64 + i) % 200;
		}
		assert_int_equal(test_wait_release(tern_submit(f->client, r, 64, NULL)), 0);
		for (i = 0; i < 64; i++)
			assert_memory_equal(f->remote + r[i].offset, r[i].local, r[i].length);
	}
	mlx5_model_stats(f->m, &st);
	print_message("model: %" PRIu64 " WQEs (%" PRIu64 " inline), %" PRIu64
		      " CQEs, SQ wraps %" PRIu64 ", CQ wraps %" PRIu64 "\n",
		      st.wqes, st.inline_wqes, st.cqes, st.sq_wraps, st.cq_wraps);
	assert_true(st.sq_wraps >= 20);
	assert_true(st.inline_wqes > 1000);
}

static void
two_lcores_each_post_on_their_own_qp(void **state)
{
	struct efx *f = *state;
	unsigned int lcores[2], i;
	struct tern_client *c[2];
	struct tern_future *fut[2];
	struct tern_request r[2];

	assert_int_equal(tern_engine_lcores(f->env.engine, lcores, 2), 2);
	test_pattern_fill(f->local, 16u << 20, 7, 0);
	for (i = 0; i < 2; i++) {
		c[i] = tern_client_create(
			f->env.engine, &(struct tern_client_conf){ .home_lcore = lcores[i],
								   .flags = TERN_CLIENT_F_NO_CQ });
		assert_non_null(c[i]);
		memset(&r[i], 0, sizeof(r[i]));
		r[i].op = TERN_OP_WRITE;
		r[i].segment = f->remote_h;
		r[i].offset = i * (8u << 20);
		r[i].local = f->local + i * (8u << 20);
		r[i].length = 256u << 10; /* below share_bytes: stays on the home lcore */
	}
	for (i = 0; i < 2; i++)
		fut[i] = tern_submit(c[i], &r[i], 1, NULL);
	for (i = 0; i < 2; i++) {
		assert_int_equal(test_wait_release(fut[i]), 0);
		assert_memory_equal(f->remote + r[i].offset, r[i].local, r[i].length);
		assert_int_equal(tern_client_destroy(c[i]), 0);
	}
	/* One QP per worker lcore, each on its own CQ. */
	assert_non_null(mlx5_model_qp(f->m, 0));
	assert_non_null(mlx5_model_qp(f->m, 1));
	assert_null(mlx5_model_qp(f->m, 2));
}

static void
remote_access_error_fails_the_future_then_recovers(void **state)
{
	struct efx *f = *state;
	uint8_t *ro = aligned_alloc(4096, 1u << 20);
	uint32_t h;

	assert_non_null(ro);
	/* The peer registered this region for WRITE only. */
	h = register_remote(f, "peer_ro", ro, 1u << 20,
			    mlx5_model_mr_add(f->m, 1, ro, 1u << 20, MODEL_ACCESS_REMOTE_WRITE));
	assert_int_equal(xfer(f, TERN_OP_WRITE, h, 0, f->local, 4096), 0);
	assert_int_equal(xfer(f, TERN_OP_READ, h, 0, f->local, 4096), -EACCES);
	/* The QP came back: the next transfers work. */
	test_pattern_fill(f->local, 65536, 3, 0);
	assert_int_equal(xfer(f, TERN_OP_WRITE, f->remote_h, 0, f->local, 65536), 0);
	assert_int_equal(test_pattern_check(f->remote, 65536, 3, 0), SIZE_MAX);
	assert_int_equal(tern_segment_unregister(f->env.segments, h), 0);
	free(ro);
}

static void
retry_exceeded_fails_exactly_its_future(void **state)
{
	struct efx *f = *state;
	struct tern_request r = { 0 };
	struct tern_future *bad, *good;
	unsigned int i;

	/* Warm both QPs up so the knob has QPs to act on. */
	assert_int_equal(xfer(f, TERN_OP_WRITE, f->remote_h, 0, f->local, 4u << 20), 0);
	for (i = 0; mlx5_model_qp(f->m, i) != NULL; i++)
		mlx5_model_qp_fail(mlx5_model_qp(f->m, i), 0, MODEL_SYND_RETRY_EXC);
	r.op = TERN_OP_WRITE;
	r.segment = f->remote_h;
	r.local = f->local;
	r.length = 4096;
	bad = tern_submit(f->client, &r, 1, NULL);
	assert_int_equal(test_wait_release(bad), -ETIMEDOUT);
	/* Disarm whatever QP did not get that WQE. */
	for (i = 0; mlx5_model_qp(f->m, i) != NULL; i++)
		mlx5_model_qp_fail(mlx5_model_qp(f->m, i), 0, 0);
	good = tern_submit(f->client, &r, 1, NULL);
	assert_int_equal(test_wait_release(good), 0);
}

/*
 * Two model nodes connect through the handshake messages, then the engine
 * moves data between them: node 1 exports a segment, node 0 imports it,
 * builds the request, node 1 serves it, node 0 completes it; both worker
 * lcores then post over their handshake QPs (the model checks, per WQE,
 * that each QP and its target QP name each other with agreeing PSNs and
 * MTU, and takes the rkey from node 1's regions).
 */
static void
handshake_then_engine_writes_and_reads_node_1(void **state)
{
	static const uint64_t sizes[] = { 1, 63, 4096, 300000, 1u << 20, 8u << 20 };
	struct efx *f = *state;
	uint8_t req[TERN_MLX5_CONNECT_MSG_MAX], rep[TERN_MLX5_CONNECT_MSG_MAX];
	uint8_t *mem1 = aligned_alloc(4096, 16u << 20);
	struct tern_segment_conf conf = { 0 };
	struct tern_segment exported, imported;
	struct tern_mlx5_desc d;
	int req_len, rep_len;
	unsigned int i, lcores[2];
	uint32_t h;

	assert_non_null(mem1);
	memset(mem1, 0, 16u << 20);
	/* Node 1: export. No lcore registers memory meanwhile (idle engine). */
	mlx5_model_set_node(f->m, 1);
	mlx5_model_set_mtu(f->m, 1, 4); /* IBV_MTU_2048 */
	memset(&exported, 0, sizeof(exported));
	exported.kind = TERN_SEGMENT_LOCAL;
	exported.base = mem1;
	exported.length = 16u << 20;
	assert_int_equal(f->ops->segment_export(&exported, &d, sizeof(d)), (int)sizeof(d));
	mlx5_model_set_node(f->m, 0);
	/* Node 0: import and register, as the dataplane does with a descriptor. */
	memset(&imported, 0, sizeof(imported));
	imported.length = 16u << 20;
	assert_int_equal(f->ops->segment_import(&imported, &d, sizeof(d)), 0);
	conf.name = "node1_mem";
	conf.addr = mem1;
	conf.length = 16u << 20;
	conf.kind = TERN_SEGMENT_REMOTE;
	conf.transport = "mlx5";
	conf.socket_id = SOCKET_ID_ANY;
	conf.priv = imported.priv;
	conf.priv_len = sizeof(d);
	assert_int_equal(tern_segment_register(f->env.segments, &conf, &h), 0);
	/* The handshake; the bytes could travel any way. */
	req_len = tern_mlx5_connect_request_build(d.gid, req, sizeof(req));
	assert_int_equal(req_len, 40 + 2 * 8); /* one QP per worker lcore */
	mlx5_model_set_node(f->m, 1);
	rep_len = tern_mlx5_connect_serve(req, (size_t)req_len, rep, sizeof(rep));
	mlx5_model_set_node(f->m, 0);
	assert_int_equal(rep_len, 40 + 2 * 12);
	assert_int_equal(tern_mlx5_connect_complete(rep, (size_t)rep_len), 0);
	assert_int_equal(tern_mlx5_connect_request_build(d.gid, req, sizeof(req)), -EALREADY);
	/* Through the engine, both ways, every size; the large ones are shared
	 * by both lcores. */
	for (i = 0; i < RTE_DIM(sizes); i++) {
		uint64_t len = sizes[i], roff = i * 4099;

		test_pattern_fill(f->local, len, i + 40, 0);
		assert_int_equal(xfer(f, TERN_OP_WRITE, h, roff, f->local, len), 0);
		assert_int_equal(test_pattern_check(mem1 + roff, len, i + 40, 0), SIZE_MAX);
		memset(f->local + (40u << 20), 0, len);
		assert_int_equal(xfer(f, TERN_OP_READ, h, roff, f->local + (40u << 20), len), 0);
		assert_int_equal(test_pattern_check(f->local + (40u << 20), len, i + 40, 0),
				 SIZE_MAX);
	}
	/* Each lcore used its handshake QP (model QPs 0, 1; node 1's are 2, 3):
	 * none was opened any other way. */
	assert_int_equal(tern_engine_lcores(f->env.engine, lcores, 2), 2);
	assert_non_null(mlx5_model_qp(f->m, 3));
	assert_null(mlx5_model_qp(f->m, 4));
	assert_int_equal(tern_segment_unregister(f->env.segments, h), 0);
	f->ops->segment_release(&f->env.segments->slots[tern_segment_handle_slot(h)]);
	free(mem1);
}

/*
 * Shutdown with a QP in ERR whose later WQEs the device never flushes: the
 * engine's cancel() must get every slice back, so destroy takes the drain
 * wait for work in flight and no second one, and abandons nothing.
 */
static void
shutdown_completes_slices_of_a_qp_in_err(void **state)
{
	struct efx *f = *state;
	struct tern_request r[8];
	struct tern_future *fut;
	struct tern_client *c;
	struct mlx5_model_qp *qp;
	unsigned int lcores[2], i;
	char *log = NULL;
	size_t log_len = 0;
	FILE *log_stream;
	uint64_t start, elapsed_ns;

	assert_int_equal(tern_engine_lcores(f->env.engine, lcores, 2), 2);
	c = tern_client_create(f->env.engine,
			       &(struct tern_client_conf){ .home_lcore = lcores[0],
							   .flags = TERN_CLIENT_F_NO_CQ });
	assert_non_null(c);
	/* Open the lcore's QP, then make its third WQE fail and the device stall. */
	memset(r, 0, sizeof(r));
	r[0].op = TERN_OP_WRITE;
	r[0].segment = f->remote_h;
	r[0].local = f->local;
	r[0].length = 4096;
	assert_int_equal(test_wait_release(tern_submit(c, r, 1, NULL)), 0);
	qp = mlx5_model_qp(f->m, 0);
	assert_non_null(qp);
	assert_null(mlx5_model_qp(f->m, 1));
	mlx5_model_qp_hold_after_error(qp, 1);
	mlx5_model_qp_fail(qp, 2, MODEL_SYND_RETRY_EXC);
	for (i = 0; i < 8; i++) {
		r[i] = r[0];
		r[i].offset = i * 4096u;
		r[i].local = f->local + i * 4096u;
	}
	fut = tern_submit(c, r, 8, NULL);
	assert_non_null(fut);
	/* Wait until the lcore took the error CQE: the driver has the QP in ERR. */
	for (i = 0; TEST_SUM_STAT(f->env.engine, errors) == 0; i++) {
		assert_true(i < 5000);
		rte_delay_us_sleep(1000);
	}
	assert_int_equal(tern_future_cancel(fut), 0);
	assert_int_equal(tern_future_release(fut), 0);

	log_stream = open_memstream(&log, &log_len);
	assert_non_null(log_stream);
	assert_int_equal(rte_openlog_stream(log_stream), 0);
	start = rte_get_timer_cycles();
	assert_int_equal(tern_engine_destroy(f->env.engine), 0);
	elapsed_ns = (rte_get_timer_cycles() - start) * 1000000000ull / rte_get_timer_hz();
	rte_openlog_stream(NULL);
	fclose(log_stream);
	f->env.engine = NULL;
	f->client = NULL; /* the engine freed its clients */
	print_message("destroy took %" PRIu64 " ms (drain %llu ms)\n", elapsed_ns / 1000000,
		      DRAIN_NS / 1000000);
	if (strstr(log, "abandoned") != NULL)
		fail_msg("slices abandoned at shutdown:\n%s", log);
	/* One drain wait (for the batch in flight), not a second for the transport. */
	assert_true(elapsed_ns < 2 * DRAIN_NS - DRAIN_NS / 4);
	free(log);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(write_and_read_1_byte_to_32_mib, setup, teardown),
		cmocka_unit_test_setup_teardown(batches_of_small_writes_wrap_the_queues, setup,
						teardown),
		cmocka_unit_test_setup_teardown(two_lcores_each_post_on_their_own_qp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(remote_access_error_fails_the_future_then_recovers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(retry_exceeded_fails_exactly_its_future, setup,
						teardown),
		cmocka_unit_test_setup_teardown(handshake_then_engine_writes_and_reads_node_1,
						setup, teardown),
		cmocka_unit_test_setup_teardown(shutdown_completes_slices_of_a_qp_in_err,
						setup_short_drain, teardown),
	};

	(void)argc;
	test_eal_init("mlx5_engine", "(0-2)@(0-1)", 256);
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
