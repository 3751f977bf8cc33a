/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The real engine over the mlx5 transport over the software device model:
 * tern_submit -> worker lcore -> mlx5 post_burst -> model (device thread)
 * -> CQE -> mlx5 poll -> future. Two worker lcores, each with its own CQ
 * and QP.
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

#include <cmocka.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_log.h>
#include <rte_memory.h>

#include <tern_engine.h>
#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_model.h"
#include "tern_mlx5.h"
#include "tern_mlx5_internal.h"
#include "test_common.h"

#define REMOTE_BYTES (40u << 20)
#define LOCAL_BYTES  (80u << 20)
#define DRAIN_NS     (500ull * 1000 * 1000)
#define HS_MS	     1000

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

/* Register what an import left in @p tmp's priv as a REMOTE segment, as
 * lib/peer does with its scratch segment. */
static uint32_t
register_import(struct efx *f, const char *name, uint8_t *mem, uint64_t len,
		const struct tern_segment *tmp)
{
	struct tern_segment_conf conf = { 0 };
	uint32_t h;

	conf.name = name;
	conf.addr = mem;
	conf.length = len;
	conf.kind = TERN_SEGMENT_REMOTE;
	conf.transport = "mlx5";
	conf.socket_id = SOCKET_ID_ANY;
	conf.priv = tmp->priv;
	conf.priv_len = sizeof(struct tern_mlx5_desc);
	assert_int_equal(tern_segment_register(f->env.segments, &conf, &h), 0);
	return h;
}

/* Node 1's memory, its QPs wired by the model (no handshake). */
static uint32_t
register_remote(struct efx *f, const char *name, uint8_t *mem, uint64_t len, uint32_t rkey)
{
	struct tern_segment tmp;

	memset(&tmp, 0, sizeof(tmp));
	mlx5_model_import_wired(&tmp, 1, mem, len, rkey);
	return register_import(f, name, mem, len, &tmp);
}

/* The handshake listener's thread serves as node 1. */
static void
listener_is_node_1(void *arg)
{
	(void)arg;
	mlx5_model_set_thread_node(1);
}

static int
setup_drain(void **state, uint64_t drain_ns)
{
	struct efx *f = calloc(1, sizeof(*f));
	struct tern_mlx5_tuning t = { .sq_wqebbs = 128, .sig_every = 16, .max_inline = 64 };
	struct tern_engine_conf conf = { .drain_ns = drain_ns };
	uint8_t d[TERN_MLX5_DESC_LEN];

	assert_non_null(f);
	f->m = mlx5_model_create();
	assert_int_equal(mlx5_test_set_queue_provider(&mlx5_model_provider, f->m), 0);
	mlx5_set_tuning(&t);
	f->ops = tern_transport_get(tern_transport_id("mlx5"));
	assert_non_null(f->ops);
	mlx5_model_start(f->m);
	/* One process plays both nodes: node 1 answers handshakes on 127.0.0.1. */
	mlx5_test_set_listener_init(listener_is_node_1, NULL);
	assert_int_equal(tern_mlx5_configure(&(struct tern_mlx5_conf){
				 .listen_addr = "127.0.0.1", .handshake_timeout_ms = HS_MS }),
			 0);
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
	assert_int_equal(tern_mlx5_configure(NULL), 0);
	mlx5_test_set_listener_init(NULL, NULL);
	test_env_destroy(&f->env);
	mlx5_model_stop(f->m);
	v = mlx5_model_violations(f->m, &first);
	if (v != 0)
		fail_msg("%u model violations, first: %s", v, first);
	assert_int_equal(mlx5_test_set_queue_provider(NULL, NULL), 0);
	mlx5_set_tuning(NULL);
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

/* Node 1 exports @p len bytes at @p mem (at a 2048-byte MTU) through its
 * handshake listener: the blob lib/peer would find in the directory. */
static void
node_1_exports(struct efx *f, uint8_t *mem, uint64_t len, uint8_t *blob)
{
	struct tern_segment exported;

	mlx5_model_set_thread_node(1);
	mlx5_model_set_mtu(f->m, 1, 4); /* IBV_MTU_2048 */
	memset(&exported, 0, sizeof(exported));
	exported.kind = TERN_SEGMENT_LOCAL;
	exported.base = mem;
	exported.length = len;
	assert_int_equal(f->ops->segment_export(&exported, blob, TERN_MLX5_DESC_LEN),
			 TERN_MLX5_DESC_LEN);
	mlx5_model_set_thread_node(-1);
}

/* WRITE then READ back through the engine at a few offsets, 1 byte to 8 MiB;
 * the large ones are shared by both lcores. */
static void
write_read_node_1(struct efx *f, uint32_t h, uint8_t *mem1, unsigned int seed)
{
	static const uint64_t sizes[] = { 1, 63, 4096, 300000, 1u << 20, 8u << 20 };
	unsigned int i;

	for (i = 0; i < RTE_DIM(sizes); i++) {
		uint64_t len = sizes[i], roff = i * 4099;

		test_pattern_fill(f->local, len, seed + i, 0);
		assert_int_equal(xfer(f, TERN_OP_WRITE, h, roff, f->local, len), 0);
		assert_int_equal(test_pattern_check(mem1 + roff, len, seed + i, 0), SIZE_MAX);
		memset(f->local + (40u << 20), 0, len);
		assert_int_equal(xfer(f, TERN_OP_READ, h, roff, f->local + (40u << 20), len), 0);
		assert_int_equal(test_pattern_check(f->local + (40u << 20), len, seed + i, 0),
				 SIZE_MAX);
	}
}

/*
 * The handshake over a real socket: node 1 exports a segment through its
 * listener on 127.0.0.1; node 0 imports the blob as lib/peer does, and the
 * import connects to that listener, sends the request, node 1's control
 * thread serves it, the reply completes node 0's QPs. Both worker lcores
 * then write and read node 1's memory over those QPs (the model checks, per
 * WQE, that each QP and its target QP name each other with agreeing PSNs and
 * MTU, and takes the rkey from node 1's regions). A second import of the
 * node reuses the QPs.
 */
static void
import_runs_the_handshake_over_tcp_then_the_engine_moves_data(void **state)
{
	struct efx *f = *state;
	uint8_t *mem1 = aligned_alloc(4096, 16u << 20);
	uint8_t blob[TERN_MLX5_DESC_LEN];
	struct tern_mlx5_handshake_stats st0, st1;
	struct tern_segment imported, again;
	uint32_t h;

	assert_non_null(mem1);
	memset(mem1, 0, 16u << 20);
	/* As on hardware: QPs to node 1 exist only through the handshake. */
	mlx5_model_wire_peers(f->m, 0);
	node_1_exports(f, mem1, 16u << 20, blob);
	tern_mlx5_handshake_stats(&st0);
	memset(&imported, 0, sizeof(imported));
	imported.length = 16u << 20;
	assert_int_equal(f->ops->segment_import(&imported, blob, sizeof(blob)), 0);
	tern_mlx5_handshake_stats(&st1);
	assert_int_equal(st1.initiated - st0.initiated, 1);
	assert_int_equal(st1.served - st0.served, 1);
	assert_int_equal(st1.accepted - st0.accepted, 1);
	/* One QP per worker lcore on node 0 (model QPs 0, 1), one target QP each
	 * on node 1 (2, 3). */
	assert_non_null(mlx5_model_qp(f->m, 3));
	assert_null(mlx5_model_qp(f->m, 4));
	h = register_import(f, "node1_mem", mem1, 16u << 20, &imported);
	/* Another segment of the node: its QPs are connected, no handshake. */
	memset(&again, 0, sizeof(again));
	assert_int_equal(f->ops->segment_import(&again, blob, sizeof(blob)), 0);
	f->ops->segment_release(&again);
	tern_mlx5_handshake_stats(&st0);
	assert_int_equal(st0.initiated, st1.initiated);
	assert_int_equal(st0.accepted, st1.accepted);
	write_read_node_1(f, h, mem1, 40);
	/* Each lcore used its handshake QP: none was opened any other way. */
	assert_null(mlx5_model_qp(f->m, 4));
	assert_int_equal(tern_segment_unregister(f->env.segments, h), 0);
	f->ops->segment_release(&f->env.segments->slots[tern_segment_handle_slot(h)]);
	free(mem1);
}

/* A write in flight on lcore 0's QP to node 1, which the device holds. */
static struct tern_future *
write_held(struct efx *f, uint32_t h, struct tern_client **c)
{
	struct tern_request r = { 0 };
	struct mlx5_model_stats ms;
	struct tern_future *fut;
	unsigned int lcores[2], i;
	uint64_t doorbells;

	assert_int_equal(tern_engine_lcores(f->env.engine, lcores, 2), 2);
	*c = tern_client_create(f->env.engine,
				&(struct tern_client_conf){ .home_lcore = lcores[0],
							    .flags = TERN_CLIENT_F_NO_CQ });
	assert_non_null(*c);
	for (i = 0; i < 4; i++)
		mlx5_model_qp_hold(mlx5_model_qp(f->m, i), 1);
	mlx5_model_stats(f->m, &ms);
	doorbells = ms.doorbells;
	r.op = TERN_OP_WRITE;
	r.segment = h;
	r.local = f->local;
	r.length = 4096;
	fut = tern_submit(*c, &r, 1, NULL);
	assert_non_null(fut);
	for (i = 0; ms.doorbells == doorbells; i++) {
		assert_true(i < 5000);
		rte_delay_us_sleep(1000);
		mlx5_model_stats(f->m, &ms);
	}
	return fut;
}

struct release_arg {
	struct mlx5_model *m;
	unsigned int ms;
};

static void *
release_holds_later(void *p)
{
	struct release_arg *a = p;
	unsigned int i;

	rte_delay_us_sleep(a->ms * 1000u);
	for (i = 0; mlx5_model_qp(a->m, i) != NULL; i++)
		mlx5_model_qp_hold(mlx5_model_qp(a->m, i), 0);
	return NULL;
}

/*
 * The peer restarted: its new descriptor carries another epoch, and the QPs
 * node 0 holds reach QPs of the earlier incarnation. The next import takes
 * them back from the lcores (the quiet one at once; the one with a write in
 * flight after cancelling it, -ECONNABORTED) and handshakes again; the target
 * resets its QPs for the same initiator QPs, nothing new is created, and the
 * engine moves data over them.
 */
static void
a_new_incarnation_of_the_peer_is_handshaken_again(void **state)
{
	struct efx *f = *state;
	uint8_t *mem1 = aligned_alloc(4096, 16u << 20);
	struct release_arg ra = { .m = f->m, .ms = 300 };
	struct tern_mlx5_handshake_stats st0, st1;
	struct tern_segment imported;
	uint8_t blob[TERN_MLX5_DESC_LEN];
	struct tern_future *fut;
	struct tern_client *c;
	pthread_t t;
	uint32_t h;

	assert_non_null(mem1);
	memset(mem1, 0, 16u << 20);
	mlx5_model_wire_peers(f->m, 0);
	node_1_exports(f, mem1, 16u << 20, blob);
	memset(&imported, 0, sizeof(imported));
	assert_int_equal(f->ops->segment_import(&imported, blob, sizeof(blob)), 0);
	h = register_import(f, "node1_mem", mem1, 16u << 20, &imported);
	write_read_node_1(f, h, mem1, 50);
	/* A write in flight on one lcore's QP: the device holds it. */
	fut = write_held(f, h, &c);
	/* The restarted peer's descriptor; the device lets the cancelled write's
	 * flush through a little later. */
	blob[64] ^= 0x5a;
	assert_int_equal(pthread_create(&t, NULL, release_holds_later, &ra), 0);
	tern_mlx5_handshake_stats(&st0);
	memset(&imported, 0, sizeof(imported));
	assert_int_equal(f->ops->segment_import(&imported, blob, sizeof(blob)), 0);
	tern_mlx5_handshake_stats(&st1);
	pthread_join(t, NULL);
	assert_int_equal(st1.initiated - st0.initiated, 1);
	assert_int_equal(test_wait_release(fut), -ECONNABORTED);
	assert_int_equal(tern_client_destroy(c), 0);
	/* Both QPs revived on both nodes; none created. */
	assert_null(mlx5_model_qp(f->m, 4));
	/* lib/peer would retire the old import and register the new one. */
	assert_int_equal(tern_segment_unregister(f->env.segments, h), 0);
	f->ops->segment_release(&f->env.segments->slots[tern_segment_handle_slot(h)]);
	h = register_import(f, "node1_mem2", mem1, 16u << 20, &imported);
	write_read_node_1(f, h, mem1, 60);
	assert_int_equal(tern_segment_unregister(f->env.segments, h), 0);
	f->ops->segment_release(&f->env.segments->slots[tern_segment_handle_slot(h)]);
	free(mem1);
}

/*
 * The peer restarted, but the device will not move a QP with work in flight
 * to ERR: that lcore keeps its QP, the import gives up after the handshake
 * timeout (lib/peer then uses tcp), and the write completes as the device
 * does it. The next import takes the QP, quiet by then, and connects.
 */
static void
a_qp_that_cannot_be_flushed_times_the_import_out(void **state)
{
	struct efx *f = *state;
	uint8_t *mem1 = aligned_alloc(4096, 16u << 20);
	uint8_t blob[TERN_MLX5_DESC_LEN];
	struct tern_segment imported;
	struct tern_future *fut;
	struct tern_client *c;
	uint64_t start, ms;
	unsigned int i;
	uint32_t h;

	assert_non_null(mem1);
	memset(mem1, 0, 16u << 20);
	mlx5_model_wire_peers(f->m, 0);
	node_1_exports(f, mem1, 16u << 20, blob);
	memset(&imported, 0, sizeof(imported));
	assert_int_equal(f->ops->segment_import(&imported, blob, sizeof(blob)), 0);
	h = register_import(f, "node1_mem", mem1, 16u << 20, &imported);
	fut = write_held(f, h, &c);
	mlx5_model_fail_ops(f->m, MODEL_FAIL_FLUSH);
	blob[64] ^= 0x5a;
	start = rte_get_timer_cycles();
	memset(&imported, 0, sizeof(imported));
	assert_int_equal(f->ops->segment_import(&imported, blob, sizeof(blob)), -ETIMEDOUT);
	ms = (rte_get_timer_cycles() - start) * 1000 / rte_get_timer_hz();
	assert_true(ms >= HS_MS - 10 && ms < HS_MS + 1000);
	mlx5_model_fail_ops(f->m, 0);
	for (i = 0; i < 4; i++)
		mlx5_model_qp_hold(mlx5_model_qp(f->m, i), 0);
	assert_int_equal(test_wait_release(fut), 0);
	assert_int_equal(tern_client_destroy(c), 0);
	assert_int_equal(f->ops->segment_import(&imported, blob, sizeof(blob)), 0);
	assert_null(mlx5_model_qp(f->m, 4));
	assert_int_equal(tern_segment_unregister(f->env.segments, h), 0);
	f->ops->segment_release(&f->env.segments->slots[tern_segment_handle_slot(h)]);
	h = register_import(f, "node1_mem2", mem1, 16u << 20, &imported);
	write_read_node_1(f, h, mem1, 70);
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
		cmocka_unit_test_setup_teardown(
			import_runs_the_handshake_over_tcp_then_the_engine_moves_data, setup,
			teardown),
		cmocka_unit_test_setup_teardown(a_new_incarnation_of_the_peer_is_handshaken_again,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_qp_that_cannot_be_flushed_times_the_import_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(shutdown_completes_slices_of_a_qp_in_err,
						setup_short_drain, teardown),
	};

	(void)argc;
	test_eal_init("mlx5_engine", "(0-2)@(0-1)", 256);
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
