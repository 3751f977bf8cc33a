/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The last resort across transports (issue 15), through the real engine:
 * a peer's memory imported over mlx5 (two rails: node 1's two model
 * devices) and over tcp (loopback, this process's own target side serving
 * the same bytes), the tcp import the mlx5 one's fallback
 * (tern_segment_set_fallback()). Every mlx5 rail cut: the slices in flight
 * on mlx5 are handed back to the engine (give_back) and go over tcp, new
 * batches go over tcp, every batch succeeds, every byte right; rails mended:
 * traffic returns to mlx5. The same for a one-rail segment with a tcp last
 * resort; without one, batches fail with the rail's error before their
 * deadline. A WRITE moves to the other rail while the failed QP never leaves
 * ERR (the write fence, not its revival). On the device model, not hardware.
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
#include <tern_notify.h>
#include <tern_segment.h>
#include <tern_segment_driver.h>
#include <tern_tcp.h>
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
#define FB_BATCHES   8u	   /* over tcp, within the rails' pause */
#define PAUSE_MS     1500u /* every rail pause (tuning): the outage the test sees */
#define DEADLINE_NS  (5ull * 1000 * 1000 * 1000)
#define PEER	     1

/* This node's notification queue: the engine's, and what the tcp target
 * delivers into (the last resort's notifications land here). */
static struct tern_notify_queue *node_q;

struct efx {
	struct test_env env;
	struct mlx5_model *m;
	const struct tern_transport_ops *ops;
	struct tern_client *client;
	uint8_t *remote;
	uint8_t *local;
	uint32_t remote_h; /* mlx5 */
	uint32_t tcp_h;	   /* its last resort */
	uint32_t served_h; /* LOCAL over the same bytes, exported: tcp's target */
	uint32_t local_h;
	uint32_t one_h; /* a one-rail import of the same bytes (0: none) */
};

static int
setup(void **state)
{
	struct efx *f = calloc(1, sizeof(*f));
	struct tern_mlx5_tuning t = {
		.sq_wqebbs = 128, .sig_every = 16, .max_inline = 64, .rail_pause_ms = PAUSE_MS
	};
	struct tern_engine_conf conf = { .deadline_ns = DEADLINE_NS };
	struct tern_segment_conf sc = { 0 };
	uint8_t d[TERN_MLX5_DESC_LEN];
	uint8_t tcpd[TERN_TCP_DESC_LEN];

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
	conf.notify = node_q;
	test_env_create(&f->env, "mlx5lr", &conf);
	f->remote = aligned_alloc(4096, REMOTE_BYTES);
	assert_non_null(f->remote);
	memset(f->remote, 0, REMOTE_BYTES);
	f->remote_h = mlx5_rails_fixture_import(f->m, &f->env, f->remote, REMOTE_BYTES, PEER);
	/* The same bytes served over tcp by this process, imported as tcp. */
	memset(&sc, 0, sizeof(sc));
	sc.name = "peer_mem_served";
	sc.addr = f->remote;
	sc.length = REMOTE_BYTES;
	sc.kind = TERN_SEGMENT_LOCAL;
	sc.socket_id = SOCKET_ID_ANY;
	assert_int_equal(tern_segment_register(f->env.segments, &sc, &f->served_h), 0);
	assert_int_equal(tern_segment_export(f->env.segments, f->served_h), 0);
	assert_int_equal(tern_tcp_remote_conf("127.0.0.1", (uint16_t)tern_tcp_listen_port(),
					      f->served_h, REMOTE_BYTES, tcpd, sizeof(tcpd)),
			 TERN_TCP_DESC_LEN);
	memset(&sc, 0, sizeof(sc));
	sc.name = "peer_mem_tcp";
	sc.length = REMOTE_BYTES;
	sc.kind = TERN_SEGMENT_REMOTE;
	sc.transport = "tcp";
	sc.socket_id = SOCKET_ID_ANY;
	sc.priv = tcpd;
	sc.priv_len = sizeof(tcpd);
	sc.peer = PEER;
	assert_int_equal(tern_segment_register(f->env.segments, &sc, &f->tcp_h), 0);
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
	if (f->one_h != 0)
		assert_int_equal(
			tern_segment_set_fallback(f->env.segments, f->one_h, TERN_SEGMENT_INVALID),
			0);
	/* A fallback cannot go while a segment links to it. */
	if (f->env.segments->slots[tern_segment_handle_slot(f->remote_h)].fallback != 0)
		assert_int_equal(tern_segment_unregister(f->env.segments, f->tcp_h), -EBUSY);
	assert_int_equal(
		tern_segment_set_fallback(f->env.segments, f->remote_h, TERN_SEGMENT_INVALID), 0);
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

/* WQEs the model executed, every QP. */
static uint64_t
executed(struct efx *f)
{
	struct mlx5_model_qp *qp;
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; (qp = mlx5_model_qp(f->m, i)) != NULL; i++)
		n += mlx5_model_qp_executed(qp);
	return n;
}

static uint64_t
fallback_slices(struct efx *f)
{
	struct tern_peer_traffic tr;

	assert_int_equal(tern_engine_peer_traffic(f->env.engine, PEER, &tr), 0);
	return tr.fallback_slices;
}

/*
 * BATCHES batches of @p op on segment @p h from f->local, the wires of
 * device mask @p cut cut while every one is in flight
 * (mlx5_rails_fixture_batches()): every batch succeeds, what was on mlx5
 * is handed back to the last resort and none fails in the driver. Prints
 * the counts under @p label.
 */
static void
cut_in_flight_all_succeed(struct efx *f, uint32_t h, uint8_t op, unsigned int cut,
			  const char *label)
{
	struct mlx5_rails_stats rs0, rs1;
	int32_t st[BATCHES];
	unsigned int i, pending, failed = 0;
	uint64_t ms, fb0;

	mlx5_rails_fixture_stats(&rs0);
	fb0 = fallback_slices(f);
	pending =
		mlx5_rails_fixture_batches(f->m, f->client, h, BATCHES, op, f->local, cut, st, &ms);
	mlx5_rails_fixture_stats(&rs1);
	for (i = 0; i < BATCHES; i++)
		failed += st[i] != 0;
	print_message("%s: %u of %u batches in flight, %u failed, in %" PRIu64
		      " ms; WQEs taken off %" PRIu64 ", handed back %" PRIu64 ", failed %" PRIu64
		      "; slices over tcp %" PRIu64 "\n",
		      label, pending, BATCHES, failed, ms, rs1.moved - rs0.moved,
		      rs1.given_back - rs0.given_back, rs1.failed - rs0.failed,
		      fallback_slices(f) - fb0);
	assert_true(pending > 0);
	assert_int_equal(failed, 0);
	assert_true(rs1.given_back > rs0.given_back);
	assert_int_equal(rs1.failed, rs0.failed);
}

static void
set_fallback_is_strict(void **state)
{
	struct efx *f = *state;
	struct tern_segment_table *t = f->env.segments;

	assert_int_equal(tern_segment_set_fallback(NULL, f->remote_h, f->tcp_h), -EINVAL);
	assert_int_equal(tern_segment_set_fallback(t, f->remote_h, f->remote_h), -EINVAL);
	assert_int_equal(tern_segment_set_fallback(t, f->local_h, f->tcp_h), -EINVAL);
	assert_int_equal(tern_segment_set_fallback(t, f->remote_h, f->served_h), -EINVAL);
	assert_int_equal(tern_segment_set_fallback(t, f->remote_h, f->tcp_h + 0x10000), -ENOENT);
	assert_int_equal(tern_segment_set_fallback(t, TERN_SEGMENT_INVALID, f->tcp_h), -ENOENT);
	assert_int_equal(tern_segment_set_fallback(t, f->remote_h, f->tcp_h), 0);
	/* A fallback with a fallback of its own: refused. */
	assert_int_equal(tern_segment_set_fallback(t, f->tcp_h, f->remote_h), -EINVAL);
}

static void
all_rails_cut_new_batches_go_over_tcp_then_back(void **state)
{
	struct efx *f = *state;
	int32_t st[BATCHES];
	uint64_t ms, fb0, fb1, ex0, ex1, t0;
	unsigned int i;

	assert_int_equal(tern_segment_set_fallback(f->env.segments, f->remote_h, f->tcp_h), 0);
	/* Rails in service: everything over mlx5. */
	test_pattern_fill(f->local, REMOTE_BYTES, 21, 0);
	ex0 = executed(f);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE, f->local,
				   0, st, NULL);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	assert_int_equal(test_pattern_check(f->remote, REMOTE_BYTES, 21, 0), SIZE_MAX);
	assert_int_equal(fallback_slices(f), 0);
	assert_true(executed(f) - ex0 >= BATCHES * (BATCH_BYTES / (256u << 10)));

	/* Every rail cut with every batch in flight: what was on mlx5 is
	 * handed back (give_back) and goes over tcp; every batch succeeds. */
	test_pattern_fill(f->local, REMOTE_BYTES, 22, 0);
	test_pattern_fill(f->local + REMOTE_BYTES, FB_BATCHES * BATCH_BYTES, 23, 0);
	t0 = test_now_ns();
	cut_in_flight_all_succeed(f, f->remote_h, TERN_OP_WRITE, 3, "all rails cut, WRITE");
	assert_int_equal(test_pattern_check(f->remote, REMOTE_BYTES, 22, 0), SIZE_MAX);

	/* Now new batches: over tcp, every one, every byte (a rail paused for
	 * PAUSE_MS on each lcore that saw it fail, and process-wide for
	 * rail_live; a pause that ends while the link is down sends slices to
	 * mlx5 again, where they fail: doc/peers.md). */
	fb0 = fallback_slices(f);
	ex0 = executed(f);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, FB_BATCHES, TERN_OP_WRITE,
				   f->local + REMOTE_BYTES, 0, st, &ms);
	fb1 = fallback_slices(f);
	ex1 = executed(f);
	print_message("rails down: %u WRITE batches in %" PRIu64 " ms, %" PRIu64
		      " slices over tcp, %" PRIu64 " WQEs on mlx5\n",
		      FB_BATCHES, ms, fb1 - fb0, ex1 - ex0);
	for (i = 0; i < FB_BATCHES; i++)
		assert_int_equal(st[i], 0);
	assert_int_equal(test_pattern_check(f->remote, FB_BATCHES * BATCH_BYTES, 23, 0), SIZE_MAX);
	assert_int_equal(fb1 - fb0, FB_BATCHES * (BATCH_BYTES / (256u << 10)));
	assert_int_equal(ex1, ex0);
	memset(f->local, 0, FB_BATCHES * BATCH_BYTES);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, FB_BATCHES, TERN_OP_READ, f->local,
				   0, st, NULL);
	for (i = 0; i < FB_BATCHES; i++)
		assert_int_equal(st[i], 0);
	print_message("rails down: WRITE and READ done %" PRIu64
		      " ms after the cut (pause %u ms)\n",
		      (test_now_ns() - t0) / 1000000, PAUSE_MS);
	/* Within the pause, or the last step proves nothing about it. */
	assert_true((test_now_ns() - t0) / 1000000 < PAUSE_MS);
	assert_int_equal(test_pattern_check(f->local, FB_BATCHES * BATCH_BYTES, 23, 0), SIZE_MAX);

	/* Mended, once the pauses are over: back on mlx5. */
	mlx5_model_wire_set(f->m, 1, 0, 1);
	mlx5_model_wire_set(f->m, 1, 1, 1);
	usleep((PAUSE_MS + 100) * 1000);
	test_pattern_fill(f->local, REMOTE_BYTES, 24, 0);
	fb0 = fallback_slices(f);
	ex0 = executed(f);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE, f->local,
				   0, st, NULL);
	fb1 = fallback_slices(f);
	ex1 = executed(f);
	print_message("mended: %" PRIu64 " slices over tcp, %" PRIu64 " WQEs on mlx5\n", fb1 - fb0,
		      ex1 - ex0);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	assert_int_equal(test_pattern_check(f->remote, REMOTE_BYTES, 24, 0), SIZE_MAX);
	assert_int_equal(fb1, fb0);
	assert_true(ex1 - ex0 >= BATCHES * (BATCH_BYTES / (256u << 10)));
}

static void
all_rails_cut_in_flight_reads_go_over_tcp(void **state)
{
	struct efx *f = *state;
	int32_t st[BATCHES];
	unsigned int i;

	assert_int_equal(tern_segment_set_fallback(f->env.segments, f->remote_h, f->tcp_h), 0);
	test_pattern_fill(f->local, REMOTE_BYTES, 31, 0);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE, f->local,
				   0, st, NULL);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	memset(f->local, 0, REMOTE_BYTES);
	cut_in_flight_all_succeed(f, f->remote_h, TERN_OP_READ, 3, "all rails cut, READ");
	assert_int_equal(test_pattern_check(f->local, REMOTE_BYTES, 31, 0), SIZE_MAX);
}

static void
one_rail_with_tcp_last_resort_survives_its_cut(void **state)
{
	struct efx *f = *state;
	int32_t st[BATCHES];
	unsigned int i;

	f->one_h = mlx5_rails_fixture_import_one(f->m, &f->env, f->remote, REMOTE_BYTES, PEER,
						 "peer_mem_one");
	assert_int_equal(tern_segment_set_fallback(f->env.segments, f->one_h, f->tcp_h), 0);
	test_pattern_fill(f->local, REMOTE_BYTES, 41, 0);
	mlx5_rails_fixture_batches(f->m, f->client, f->one_h, BATCHES, TERN_OP_WRITE, f->local, 0,
				   st, NULL);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	assert_int_equal(fallback_slices(f), 0);
	assert_int_equal(test_pattern_check(f->remote, REMOTE_BYTES, 41, 0), SIZE_MAX);

	/* Its one wire cut with every batch in flight. */
	test_pattern_fill(f->local, REMOTE_BYTES, 42, 0);
	cut_in_flight_all_succeed(f, f->one_h, TERN_OP_WRITE, 1, "one rail cut, WRITE");
	assert_int_equal(test_pattern_check(f->remote, REMOTE_BYTES, 42, 0), SIZE_MAX);
	/* Read back while the wire is down: over tcp (the rail is paused). */
	memset(f->local, 0, REMOTE_BYTES);
	mlx5_rails_fixture_batches(f->m, f->client, f->one_h, BATCHES, TERN_OP_READ, f->local, 0,
				   st, NULL);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	assert_int_equal(test_pattern_check(f->local, REMOTE_BYTES, 42, 0), SIZE_MAX);
}

/* Every batch failed with the rail's error: RETRY_EXC (-ETIMEDOUT) or the
 * flushes after it (-ECONNABORTED); none cancelled or timed out. */
static void
assert_rail_failures(const int32_t *st, unsigned int nb)
{
	unsigned int i;

	for (i = 0; i < nb; i++)
		assert_true(st[i] == -ETIMEDOUT || st[i] == -ECONNABORTED);
}

static void
no_last_resort_in_flight_fail_before_the_deadline(void **state)
{
	struct efx *f = *state;
	struct mlx5_rails_stats rs0, rs1;
	int32_t st[BATCHES];
	uint64_t ms;
	unsigned int i, pending;

	/* One rail, no last resort. */
	f->one_h = mlx5_rails_fixture_import_one(f->m, &f->env, f->remote, REMOTE_BYTES, PEER,
						 "peer_mem_one");
	test_pattern_fill(f->local, REMOTE_BYTES, 51, 0);
	mlx5_rails_fixture_batches(f->m, f->client, f->one_h, BATCHES, TERN_OP_WRITE, f->local, 0,
				   st, NULL);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	mlx5_rails_fixture_stats(&rs0);
	pending = mlx5_rails_fixture_batches(f->m, f->client, f->one_h, BATCHES, TERN_OP_WRITE,
					     f->local, 1, st, &ms);
	mlx5_rails_fixture_stats(&rs1);
	print_message("one rail cut, no last resort: %u of %u in flight, failed in %" PRIu64
		      " ms (deadline %llu ms), %" PRIu64 " handed back\n",
		      pending, BATCHES, ms, DEADLINE_NS / 1000000, rs1.given_back - rs0.given_back);
	assert_true(pending > 0);
	assert_rail_failures(st, BATCHES);
	assert_true(ms < DEADLINE_NS / 1000000 / 2);
	assert_int_equal(rs1.given_back, rs0.given_back);
	assert_int_equal(fallback_slices(f), 0);

	/* Two rails, no last resort, both cut (rail 0's wire is already). */
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE, f->local,
				   2, st, &ms);
	print_message("two rails cut, no last resort: failed in %" PRIu64 " ms\n", ms);
	assert_rail_failures(st, BATCHES);
	assert_true(ms < DEADLINE_NS / 1000000 / 2);
	assert_int_equal(fallback_slices(f), 0);
}

static void
write_moves_to_the_other_rail_without_revival(void **state)
{
	struct efx *f = *state;
	struct mlx5_rails_stats rs0, rs1;
	int32_t st[BATCHES];
	uint64_t ms;
	unsigned int i, pending;

	test_pattern_fill(f->local, REMOTE_BYTES, 61, 0);
	mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE, f->local,
				   0, st, NULL); /* opens the QPs */
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	/* Rail 0's QPs never leave ERR: no recovery, no revival (as a revival
	 * handshake to a port that is down would). */
	mlx5_rails_fixture_fail_recovery(f->m, 0, 1);
	test_pattern_fill(f->local, REMOTE_BYTES, 62, 0);
	mlx5_rails_fixture_stats(&rs0);
	pending = mlx5_rails_fixture_batches(f->m, f->client, f->remote_h, BATCHES, TERN_OP_WRITE,
					     f->local, 1, st, &ms);
	mlx5_rails_fixture_stats(&rs1);
	print_message("rail 0 cut, its QPs stuck in ERR: %u of %u WRITE batches in flight, done "
		      "in %" PRIu64 " ms (deadline %llu ms), %" PRIu64
		      " WQEs re-posted on rail 1\n",
		      pending, BATCHES, ms, DEADLINE_NS / 1000000, rs1.reposted - rs0.reposted);
	assert_true(pending > 0);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(st[i], 0);
	assert_true(rs1.reposted > rs0.reposted);
	assert_true(ms < DEADLINE_NS / 1000000 / 2);
	assert_int_equal(test_pattern_check(f->remote, REMOTE_BYTES, 62, 0), SIZE_MAX);
	assert_int_equal(fallback_slices(f), 0);
	mlx5_rails_fixture_fail_recovery(f->m, 0, 0);
}

/* A notified batch whose slices went to the last resort sends its
 * notification there too (issue 15): every rail cut before the batch, its
 * slices handed back to tcp, then the notification over tcp (mlx5 has no
 * rail to carry it). Delivered once, after the bytes. */
static void
notification_follows_the_data_to_the_last_resort(void **state)
{
	struct efx *f = *state;
	const uint64_t tag = 0x15f0a11bacull;
	struct tern_request q = test_req(TERN_OP_WRITE, f->remote_h, 0, f->local, BATCH_BYTES);
	struct tern_notify n = { .tag = tag, .msg = &tag, .msg_len = 8 };
	struct tern_notify_send_stats ps0, ps1;
	struct tern_notification got;
	struct tern_future *fut;
	uint64_t fb0;

	assert_int_equal(tern_segment_set_fallback(f->env.segments, f->remote_h, f->tcp_h), 0);
	mlx5_model_wire_set(f->m, 1, 0, 0);
	mlx5_model_wire_set(f->m, 1, 1, 0);
	test_pattern_fill(f->local, BATCH_BYTES, 31, 0);
	fb0 = fallback_slices(f);
	assert_int_equal(tern_engine_notify_stats(f->env.engine, PEER, &ps0), 0);
	fut = tern_submit(f->client, &q, 1,
			  &(struct tern_submit_opts){ .notify = &n, .deadline_ns = DEADLINE_NS });
	assert_non_null(fut);
	assert_int_equal(tern_future_wait(fut, 2 * DEADLINE_NS), 0);
	assert_int_equal(tern_future_release(fut), 0);
	assert_int_equal(tern_engine_notify_stats(f->env.engine, PEER, &ps1), 0);
	print_message("rails cut: notified WRITE over the last resort, %" PRIu64
		      " slices over tcp, notifications delivered %" PRIu64 ", failed %" PRIu64 "\n",
		      fallback_slices(f) - fb0, ps1.delivered - ps0.delivered,
		      ps1.failed - ps0.failed);
	assert_true(fallback_slices(f) - fb0 >= BATCH_BYTES / (256u << 10));
	assert_int_equal(test_pattern_check(f->remote, BATCH_BYTES, 31, 0), SIZE_MAX);
	assert_int_equal(tern_notify_wait(f->client, &got, 1, DEADLINE_NS), 1);
	assert_int_equal(got.tag, tag);
	assert_string_equal(got.sender, "mlx5lrnode");
	assert_int_equal(got.msg_len, 8);
	assert_memory_equal(got.msg, &tag, 8);
	assert_int_equal(ps1.delivered - ps0.delivered, 1);
	/* Once only. */
	assert_int_equal(tern_notify_poll(f->client, &got, 1), 0);
	mlx5_model_wire_set(f->m, 1, 0, 1);
	mlx5_model_wire_set(f->m, 1, 1, 1);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(set_fallback_is_strict, setup, teardown),
		cmocka_unit_test_setup_teardown(all_rails_cut_new_batches_go_over_tcp_then_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(all_rails_cut_in_flight_reads_go_over_tcp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(one_rail_with_tcp_last_resort_survives_its_cut,
						setup, teardown),
		cmocka_unit_test_setup_teardown(no_last_resort_in_flight_fail_before_the_deadline,
						setup, teardown),
		cmocka_unit_test_setup_teardown(write_moves_to_the_other_rail_without_revival,
						setup, teardown),
		cmocka_unit_test_setup_teardown(notification_follows_the_data_to_the_last_resort,
						setup, teardown),
	};

	int rc;

	(void)argc;
	(void)argv;
	test_eal_init("mlx5_last_resort", "(0-2)@(0-1)", 256);
	node_q = tern_notify_queue_create(
		&(struct tern_notify_queue_conf){ .name = "q_mlx5lr",
						  .node = "mlx5lrnode",
						  .depth = 64,
						  .socket_id = SOCKET_ID_ANY });
	if (node_q == NULL || tern_tcp_configure(&(struct tern_tcp_conf){
				      .listen_addr = "127.0.0.1", .notify = node_q }) != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	tern_tcp_configure(NULL);
	tern_notify_queue_free(node_q);
	return rc;
}
