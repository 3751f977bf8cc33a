/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Notifications over mlx5 through the real engine, on the software device
 * model (doc/notify.md, doc/mlx5.md "Initiator side: notify_post"): node 1
 * exports a segment through its handshake listener on 127.0.0.1, node 0's
 * engine imports it (the handshake over TCP makes node 0's QPs, with their
 * RQs for statuses, and node 1's target QPs, with their RQs for
 * notifications), then notified WRITE batches go tern_submit -> worker
 * lcores -> RDMA WRITEs -> (every slice completed) SEND -> node 1's receive
 * side -> node 1's queue -> status SEND -> node 0's future. Both nodes live
 * in this process (one driver, the model's device thread): node 1's queue is
 * the one the engine's clients poll. Only ever the model: no hardware.
 *
 * - the guarantee: a writer fills the region with a fresh pattern and
 *   notifies; the target's client checks every byte the moment it sees the
 *   notification (tests/common/test_notify_rounds: 100 000 rounds;
 *   TERN_NOTIFY_ROUNDS overrides);
 * - a failed batch (a slice's error, its deadline) sends no notification;
 * - a full queue: the sender's future fails -ENOBUFS at its deadline while
 *   other batches go on; notifications alone (tern_notify_send) too;
 * - what is counted per peer (tern_engine_notify_stats, /tern/notify).
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
#include <rte_log.h>
#include <rte_memory.h>

#include <tern_engine.h>
#include <tern_notify.h>
#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_connect.h"
#include "mlx5_model.h"
#include "mlx5_notify.h"
#include "tern_mlx5.h"
#include "tern_mlx5_internal.h"
#include "test_common.h"
#include "test_notify_rounds.h"

#define REGION	  (64u << 10) /* 4 slices of 16 KiB, shared by the two lcores */
#define NODE1_MEM (1u << 20)
#define LOCAL_MEM (1u << 20)
#define PEER_TAG  1 /* the accounting tag node 1's segment is registered with */
#define NODE_NAME "prefill-0"
#define HS_MS	  2000
#define WAIT_NS	  (10ull * 1000000000ull)

struct nfx {
	struct test_env env;
	struct mlx5_model *m;
	const struct tern_transport_ops *ops;
	struct tern_notify_queue *q; /* node 1's (and the engine's) */
	struct tern_client *client;
	uint8_t *local;
	uint8_t *mem1; /* node 1's memory */
	uint32_t local_h;
	uint32_t node1_h;
	struct tern_segment imported;
};

static void
listener_is_node_1(void *arg)
{
	(void)arg;
	mlx5_model_set_thread_node(1);
}

static int
setup_depth(void **state, uint32_t depth)
{
	struct nfx *f = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(struct nfx), 64));
	/* A status is answered within microseconds on the model; the timeout
	 * only guards against a lost one, so a loaded machine never meets it. */
	struct tern_mlx5_tuning t = {
		.sq_wqebbs = 128, .sig_every = 16, .max_inline = 64, .notify_timeout_ms = 60000
	};
	struct tern_engine_conf conf = { .slice_bytes = 16 << 10, .share_bytes = 32 << 10 };
	struct tern_segment exported;
	struct tern_segment_conf sc = { 0 };
	uint8_t blob[TERN_MLX5_DESC_LEN], d[TERN_MLX5_DESC_LEN];
	char name[16];

	assert_non_null(f);
	memset(f, 0, sizeof(*f));
	f->m = mlx5_model_create();
	assert_int_equal(mlx5_test_set_queue_provider(&mlx5_model_provider, f->m), 0);
	mlx5_set_tuning(&t);
	f->ops = tern_transport_get(tern_transport_id("mlx5"));
	assert_non_null(f->ops);
	mlx5_model_start(f->m);
	/* As on hardware: QPs to node 1 exist only through the handshake. */
	mlx5_model_wire_peers(f->m, 0);
	mlx5_test_set_listener_init(listener_is_node_1, NULL);
	assert_int_equal(tern_mlx5_configure(&(struct tern_mlx5_conf){
				 .listen_addr = "127.0.0.1", .handshake_timeout_ms = HS_MS }),
			 0);
	snprintf(name, sizeof(name), "m5en%u", (unsigned int)getpid() % 100000);
	f->q = tern_notify_queue_create(&(struct tern_notify_queue_conf){
		.name = name, .node = NODE_NAME, .depth = depth, .socket_id = SOCKET_ID_ANY });
	assert_non_null(f->q);
	/* What configure() does with tern_transport_env.notify: node 1's target
	 * QPs (made from now on) take notifications into this queue. */
	mlx5_notify_node_set_queue(f->q);
	conf.notify = f->q;
	test_env_create(&f->env, "m5en", &conf);
	f->local_h = test_segment_local(&f->env, "local", LOCAL_MEM, (void **)&f->local);
	/* The local segment as one memory region up front. */
	assert_int_equal(f->ops->segment_export(
				 &f->env.segments->slots[tern_segment_handle_slot(f->local_h)], d,
				 sizeof(d)),
			 (int)sizeof(d));
	/* Node 1 exports its memory through its listener. */
	f->mem1 = aligned_alloc(4096, NODE1_MEM);
	assert_non_null(f->mem1);
	memset(f->mem1, 0, NODE1_MEM);
	mlx5_model_set_thread_node(1);
	memset(&exported, 0, sizeof(exported));
	exported.kind = TERN_SEGMENT_LOCAL;
	exported.base = f->mem1;
	exported.length = NODE1_MEM;
	assert_int_equal(f->ops->segment_export(&exported, blob, sizeof(blob)), TERN_MLX5_DESC_LEN);
	mlx5_model_set_thread_node(-1);
	/* Node 0 imports it as lib/peer does: the handshake runs over TCP. */
	f->imported.length = NODE1_MEM;
	assert_int_equal(f->ops->segment_import(&f->imported, blob, sizeof(blob)), 0);
	sc.name = "node1_kv";
	sc.addr = f->mem1;
	sc.length = NODE1_MEM;
	sc.kind = TERN_SEGMENT_REMOTE;
	sc.transport = "mlx5";
	sc.socket_id = SOCKET_ID_ANY;
	sc.priv = f->imported.priv;
	sc.priv_len = sizeof(struct tern_mlx5_desc);
	sc.peer = PEER_TAG;
	assert_int_equal(tern_segment_register(f->env.segments, &sc, &f->node1_h), 0);
	f->client = tern_client_create(f->env.engine,
				       &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	assert_non_null(f->client);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_depth(state, 1024);
}

static int
setup_depth_4(void **state)
{
	return setup_depth(state, 4);
}

static int
teardown(void **state)
{
	struct nfx *f = *state;
	const char *first;
	unsigned int v;

	assert_int_equal(tern_client_destroy(f->client), 0);
	assert_int_equal(tern_mlx5_configure(NULL), 0);
	mlx5_test_set_listener_init(NULL, NULL);
	test_env_destroy(&f->env); /* unregisters the segments, closes the endpoints */
	f->ops->segment_release(&f->imported);
	mlx5_notify_node_set_queue(NULL);
	mlx5_model_stop(f->m);
	v = mlx5_model_violations(f->m, &first);
	if (v != 0)
		fail_msg("%u model violations, first: %s", v, first);
	assert_int_equal(mlx5_test_set_queue_provider(NULL, NULL), 0);
	mlx5_set_tuning(NULL);
	mlx5_model_destroy(f->m);
	assert_int_equal(tern_notify_queue_free(f->q), 0);
	free(f->mem1);
	free(f->local);
	free(f);
	return 0;
}

/* A notified WRITE of @len bytes from local offset 0 to node 1 at @off. */
static struct tern_future *
write_notified(struct nfx *f, uint64_t off, uint64_t len, uint64_t tag, uint64_t deadline_ns)
{
	struct tern_request q = test_req(TERN_OP_WRITE, f->node1_h, off, f->local, len);
	struct tern_notify n = { .tag = tag, .msg = &tag, .msg_len = 8 };
	struct tern_future *fut;

	fut = tern_submit(f->client, &q, 1,
			  &(struct tern_submit_opts){ .notify = &n, .deadline_ns = deadline_ns });
	assert_non_null(fut);
	return fut;
}

/* The guarantee, over mlx5 on the model (tests/common/test_notify_rounds). */
static void
notified_bytes_are_all_there_mlx5(void **state)
{
	struct nfx *f = *state;
	struct tern_notify_sender_stats rows[4];
	struct tern_notify_send_stats ps;
	struct mlx5_notify_stats ns;
	struct mlx5_model_stats ms;
	uint64_t rounds;

	/* The receiving client is a client of the same engine: node 1's queue
	 * is the engine's (both nodes in one process). */
	rounds = test_notify_rounds_run(&(struct test_notify_rounds){
		.label = "mlx5 (device model)",
		.receiver = f->env.engine,
		.dst = f->mem1,
		.initiator = f->client,
		.target = f->node1_h,
		.src = f->local,
		.len = REGION,
		.sender = NODE_NAME,
	});
	mlx5_model_stats(f->m, &ms);
	print_message("model: %" PRIu64 " WQEs, %" PRIu64 " RNR NAKs\n", ms.wqes, ms.rnr_naks);
	/* Counted per peer by the engine, from the driver's completions. */
	assert_int_equal(tern_engine_notify_stats(f->env.engine, PEER_TAG, &ps), 0);
	assert_int_equal(ps.delivered, rounds);
	assert_int_equal(ps.failed, 0);
	assert_true(ps.posted >= rounds);
	/* Node 1's target side delivered each, and its queue counted them for
	 * their sender (the /tern/notify sender rows). */
	assert_true(mlx5_notify_node_stats(&ns) >= 1);
	assert_int_equal(ns.delivered, rounds);
	assert_int_equal(ns.refused, 0);
	assert_int_equal(tern_notify_queue_senders(f->q, rows, RTE_DIM(rows)), 1);
	assert_string_equal(rows[0].node, NODE_NAME);
	assert_int_equal(rows[0].delivered, rounds);
	assert_int_equal(rows[0].refused, 0);
}

/* No notification arrives for @ms milliseconds. */
static void
no_notification_for(struct nfx *f, unsigned int ms)
{
	struct tern_notification got;

	assert_int_equal(tern_notify_wait(f->client, &got, 1, (uint64_t)ms * 1000000ull), 0);
}

/* A batch that fails sends no notification: by its deadline (the device
 * holds its WRITE), by a slice's error (REMOTE_ACCESS). Then, once the
 * failed QPs are connected again, notified batches go through again. */
static void
failed_batch_sends_no_notification_mlx5(void **state)
{
	struct nfx *f = *state;
	struct tern_notify_send_stats ps;
	struct tern_notification got;
	struct tern_future *fut;
	unsigned int i;
	int rc = -1;

	/* Both node 0 QPs are in use (model QPs 0 and 1; node 1's are 2, 3). */
	assert_int_equal(test_wait_release(write_notified(f, 0, REGION, 1, 0)), 0);
	assert_int_equal(tern_notify_wait(f->client, &got, 1, WAIT_NS), 1);
	assert_int_equal(got.tag, 1);
	for (i = 0; i < 2; i++)
		mlx5_model_qp_hold(mlx5_model_qp(f->m, i), 1);
	fut = write_notified(f, 0, 4096, 2, 50000000);
	assert_int_equal(test_wait_release(fut), -ETIMEDOUT);
	for (i = 0; i < 2; i++)
		mlx5_model_qp_hold(mlx5_model_qp(f->m, i), 0);
	no_notification_for(f, 300);
	for (i = 0; i < 2; i++)
		mlx5_model_qp_fail(mlx5_model_qp(f->m, i), 0, MODEL_SYND_REMOTE_ACCESS);
	assert_int_equal(test_wait_release(write_notified(f, 0, 4096, 3, 0)), -EACCES);
	for (i = 0; i < 2; i++)
		mlx5_model_qp_fail(mlx5_model_qp(f->m, i), 0, 0);
	no_notification_for(f, 300);
	/* The failed QP goes dead, the reviver handshakes it again: a notified
	 * batch goes through once it has (bounded). */
	for (i = 0; i < 100 && rc != 0; i++) {
		rc = test_wait_release(write_notified(f, 0, 4096, 4, 0));
		if (rc != 0)
			usleep(50000);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(tern_notify_wait(f->client, &got, 1, WAIT_NS), 1);
	assert_int_equal(got.tag, 4);
	no_notification_for(f, 100);
	assert_int_equal(tern_engine_notify_stats(f->env.engine, PEER_TAG, &ps), 0);
	assert_int_equal(ps.delivered, 2);
}

/* A queue of 4 nobody polls: four notified WRITEs are accepted, the fifth
 * fails with -ENOBUFS at its deadline while other batches go on; once the
 * queue is polled, a notification alone (tern_notify_send) is accepted. */
static void
full_queue_gives_enobufs_at_the_deadline_mlx5(void **state)
{
	struct nfx *f = *state;
	struct tern_notification got[8];
	struct tern_notify_send_stats ps;
	struct tern_notify_queue_stats qs;
	struct tern_future *slow, *fut;
	struct tern_request w;
	uint64_t t0, plain_ns;
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(test_wait_release(write_notified(f, 0, 4096, (uint64_t)i, 0)), 0);
	t0 = test_now_ns();
	slow = write_notified(f, 0, 4096, 99, 200000000);
	/* Other work goes on meanwhile, on the same lcores and QPs. */
	w = test_req(TERN_OP_WRITE, f->node1_h, 65536, f->local + 65536, 4096);
	for (i = 0; i < 50; i++) {
		fut = tern_submit(f->client, &w, 1, NULL);
		assert_non_null(fut);
		assert_int_equal(test_wait_release(fut), 0);
	}
	plain_ns = test_now_ns() - t0;
	if (plain_ns < 180000000ull)
		assert_int_equal(tern_future_test(slow), -EINPROGRESS);
	assert_int_equal(test_wait_release(slow), -ENOBUFS);
	assert_true(test_now_ns() - t0 >= 200000000ull);
	assert_true(test_now_ns() - t0 < 5000000000ull);
	print_message("50 plain WRITEs in %.1f ms while the refused notification waited; "
		      "-ENOBUFS after %.1f ms (deadline 200 ms)\n",
		      (double)plain_ns / 1e6, (double)(test_now_ns() - t0) / 1e6);
	/* A post made before the deadline may still be on its way: once it is
	 * answered (-ENOBUFS: nobody polled), the batch is done with. */
	TEST_WAIT_UNTIL(tern_engine_notify_stats(f->env.engine, PEER_TAG, &ps) == 0 &&
				ps.failed == 1,
			10000);
	assert_int_equal(tern_notify_queue_stats(f->q, &qs), 0);
	assert_int_equal(qs.queued, 4);
	assert_true(qs.refused >= 2); /* posted again after each pause */
	assert_int_equal(tern_notify_poll(f->client, got, 8), 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(got[i].tag, (uint64_t)i);
		assert_string_equal(got[i].sender, NODE_NAME);
	}
	fut = tern_notify_send(f->client, f->node1_h, &(struct tern_notify){ .tag = 5 }, NULL);
	assert_non_null(fut);
	assert_int_equal(test_wait_release(fut), 0);
	assert_int_equal(tern_notify_wait(f->client, got, 8, WAIT_NS), 1);
	assert_int_equal(got[0].tag, 5);
	assert_int_equal(got[0].msg_len, 0);
	assert_int_equal(tern_engine_notify_stats(f->env.engine, PEER_TAG, &ps), 0);
	assert_int_equal(ps.delivered, 5);
	assert_int_equal(ps.failed, 1);
	assert_true(ps.refused >= 2);
	assert_int_equal(ps.refused, qs.refused);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(notified_bytes_are_all_there_mlx5, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_batch_sends_no_notification_mlx5, setup,
						teardown),
		cmocka_unit_test_setup_teardown(full_queue_gives_enobufs_at_the_deadline_mlx5,
						setup_depth_4, teardown),
	};

	(void)argc;
	(void)argv;
	test_eal_init("mlx5_engine_notify", "(0-2)@(0-1)", 256);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
