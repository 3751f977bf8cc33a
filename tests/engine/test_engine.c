/* SPDX-License-Identifier: BSD-3-Clause */
/* The engine end to end over the memcpy transport (and the hold transport
 * for errors): submit, wait, test, reap, cancel, backpressure, sharing. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "test_common.h"
#include "test_transport_hold.h"

#define SEG_BYTES (8u << 20)

struct fixture {
	struct test_env env;
	uint8_t *src, *dst;
	uint32_t src_h, dst_h;
};

static int
setup(void **state)
{
	static int n;
	struct fixture *fx = calloc(1, sizeof(*fx));
	char tag[16];

	snprintf(tag, sizeof(tag), "eng%d", n++);
	test_env_create(&fx->env, tag, NULL);
	fx->src_h = test_segment_local(&fx->env, "src", SEG_BYTES, (void **)&fx->src);
	fx->dst_h = test_segment_local(&fx->env, "dst", SEG_BYTES, (void **)&fx->dst);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	test_env_destroy(&fx->env);
	free(fx->src);
	free(fx->dst);
	free(fx);
	return 0;
}

static void
write_then_read_back_moves_every_byte(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	struct tern_request r;

	assert_non_null(c);
	test_pattern_fill(fx->src, SEG_BYTES, 1, 0);
	r = test_req(TERN_OP_WRITE, fx->dst_h, 0, fx->src, SEG_BYTES);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(fx->dst, SEG_BYTES, 1, 0), SIZE_MAX);

	memset(fx->src, 0, SEG_BYTES);
	r = test_req(TERN_OP_READ, fx->dst_h, 0, fx->src, SEG_BYTES);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(fx->src, SEG_BYTES, 1, 0), SIZE_MAX);
	assert_int_equal(tern_client_destroy(c), 0);
}

static void
batch_of_many_requests_completes_once(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	struct tern_request r[64];
	struct tern_future *f, *got[4];
	unsigned int i;

	test_pattern_fill(fx->src, SEG_BYTES, 2, 0);
	memset(fx->dst, 0, SEG_BYTES);
	for (i = 0; i < 64; i++)
		r[i] = test_req(TERN_OP_WRITE, fx->dst_h, i * 4096 + 3, fx->src + i * 4096 + 3,
				4000);
	f = tern_submit(c, r, 64, &(struct tern_submit_opts){ .user_data = 77 });
	assert_non_null(f);
	assert_int_equal(tern_future_wait(f, UINT64_MAX), 0);
	assert_int_equal(tern_future_user_data(f), 77);
	for (i = 0; i < 64; i++)
		assert_int_equal(test_pattern_check(fx->dst + i * 4096 + 3, 4000, 2, i * 4096 + 3),
				 SIZE_MAX);
	/* Delivered exactly once to the completion queue. */
	assert_int_equal(tern_client_reap(c, got, 4), 1);
	assert_ptr_equal(got[0], f);
	assert_int_equal(tern_client_reap(c, got, 4), 0);
	assert_int_equal(tern_future_release(f), 0);
	assert_int_equal(tern_client_destroy(c), 0);
}

static void
reap_collects_many_futures_in_bulk(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	struct tern_future *f[100], *got[100];
	struct tern_request r;
	unsigned int i, n = 0;
	int ret;

	for (i = 0; i < 100; i++) {
		r = test_req(TERN_OP_WRITE, fx->dst_h, i * 1024, fx->src + i * 1024, 1024);
		f[i] = tern_submit(c, &r, 1, &(struct tern_submit_opts){ .user_data = i });
		assert_non_null(f[i]);
	}
	TEST_WAIT_UNTIL((ret = tern_client_reap(c, got + n, 100 - n)) < 0 ||
				(n += (unsigned int)ret) == 100,
			10000);
	assert_true(ret >= 0);
	for (i = 0; i < 100; i++) {
		assert_int_equal(tern_future_test(got[i]), 0);
		assert_int_equal(tern_future_release(got[i]), 0);
	}
	assert_int_equal(tern_client_destroy(c), 0);
}

static void
test_reports_in_progress_then_status(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(
		fx->env.engine, &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	struct tern_request r = test_req(TERN_OP_WRITE, fx->dst_h, 0, fx->src, 4096);
	struct tern_future *f = tern_submit(c, &r, 1, NULL);
	int ret;

	assert_non_null(f);
	TEST_WAIT_UNTIL((ret = tern_future_test(f)) != -EINPROGRESS, 10000);
	assert_int_equal(ret, 0);
	assert_int_equal(tern_future_release(f), 0);
	assert_int_equal(tern_future_release(f), -EINVAL);     /* double release */
	assert_int_equal(tern_client_reap(c, &f, 1), -EINVAL); /* no completion queue */
	assert_int_equal(tern_client_destroy(c), 0);
}

static void
large_request_is_shared_by_every_lcore(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	unsigned int lcores[8];
	struct tern_lcore_stats before[8], after;
	struct tern_request r;
	uint64_t len = 64ull << 20;
	uint8_t *big_src, *big_dst;
	unsigned int attempt;
	bool shared = false;
	uint32_t hs, hd;
	int n, i;

	hs = test_segment_local(&fx->env, "big_src", len, (void **)&big_src);
	hd = test_segment_local(&fx->env, "big_dst", len, (void **)&big_dst);
	test_pattern_fill(big_src, len, 3, 0);
	n = tern_engine_lcores(fx->env.engine, lcores, 8);
	assert_true(n >= 2);
	/* An lcore thread that the OS does not schedule cannot help (the test
	 * machine has two CPUs for everything, and other tests or builds may
	 * hold them: 10 attempts in a row once saw lcore 2 idle under load
	 * 4): allow attempts, each one single 64 MiB request, 20 ms apart so a
	 * starved thread gets its turn, and require one where every lcore
	 * worked. Sharing that never happens still fails. */
	for (attempt = 0; attempt < 40 && !shared; attempt++) {
		if (attempt != 0)
			usleep(20000);
		for (i = 0; i < n; i++)
			assert_int_equal(
				tern_engine_lcore_stats(fx->env.engine, lcores[i], &before[i]), 0);
		memset(big_dst, 0, len);
		r = test_req(TERN_OP_WRITE, hd, 0, big_src, len);
		assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
		assert_int_equal(test_pattern_check(big_dst, len, 3, 0), SIZE_MAX);
		shared = true;
		for (i = 0; i < n; i++) {
			assert_int_equal(tern_engine_lcore_stats(fx->env.engine, lcores[i], &after),
					 0);
			print_message("attempt %u, lcore %u: %" PRIu64 " slices, %" PRIu64
				      " bytes\n",
				      attempt, lcores[i], after.slices - before[i].slices,
				      after.bytes - before[i].bytes);
			if (after.slices == before[i].slices || after.bytes == before[i].bytes)
				shared = false;
		}
	}
	assert_true(shared);
	assert_int_equal(tern_client_destroy(c), 0);
	assert_int_equal(tern_segment_unregister(fx->env.segments, hs), 0);
	assert_int_equal(tern_segment_unregister(fx->env.segments, hd), 0);
	free(big_src);
	free(big_dst);
}

static void
max_inflight_gives_eagain_until_released_and_reaped(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c =
		tern_client_create(fx->env.engine, &(struct tern_client_conf){ .max_inflight = 4 });
	struct tern_request r = test_req(TERN_OP_WRITE, fx->dst_h, 0, fx->src, 64);
	struct tern_future *f[5], *got[4];
	unsigned int i, n = 0;

	for (i = 0; i < 4; i++)
		assert_non_null(f[i] = tern_submit(c, &r, 1, NULL));
	assert_null(tern_submit(c, &r, 1, NULL));
	assert_int_equal(rte_errno, EAGAIN);
	for (i = 0; i < 4; i++)
		assert_int_equal(tern_future_wait(f[i], UINT64_MAX), 0);
	/* Released but not reaped: still counted. */
	assert_int_equal(tern_future_release(f[0]), 0);
	assert_null(tern_submit(c, &r, 1, NULL));
	assert_int_equal(rte_errno, EAGAIN);
	/* f[0] is skipped */
	TEST_WAIT_UNTIL((n += (unsigned int)tern_client_reap(c, got, 4)) >= 3, 10000);
	assert_non_null(f[4] = tern_submit(c, &r, 1, NULL));
	assert_int_equal(tern_client_destroy(c), -EBUSY); /* futures still held */
	for (i = 1; i < 5; i++)
		assert_int_equal(tern_future_release(f[i]), 0);
	assert_int_equal(tern_client_destroy(c), 0); /* drains the last queue entry */
}

static void
pool_exhaustion_gives_eagain(void **state)
{
	struct test_env env;
	struct tern_client *c;
	struct tern_future *f[40];
	struct tern_request r;
	uint8_t *mem;
	uint32_t h;
	unsigned int i, got = 0;

	RTE_SET_USED(state);
	hold_register();
	test_env_create(&env, "pool", &(struct tern_engine_conf){ .nb_futures = 64 });
	h = test_segment_local(&env, "mem", 4096, (void **)&mem);
	h = hold_segment(env.segments, "hole", 1 << 20);
	/* Each client takes its futures from the pool when created (max_inflight
	 * and a quarter more: 44 for 32). */
	assert_null(tern_client_create(env.engine, NULL)); /* 256 > 64 */
	assert_int_equal(rte_errno, ENOSPC);
	c = tern_client_create(env.engine, &(struct tern_client_conf){ .max_inflight = 32 });
	assert_non_null(c);
	assert_null(
		tern_client_create(env.engine, &(struct tern_client_conf){ .max_inflight = 32 }));
	assert_int_equal(rte_errno, ENOSPC);
	r = test_req(TERN_OP_WRITE, h, 0, mem, 64);
	for (i = 0; i < 40; i++) {
		f[got] = tern_submit(c, &r, 1, NULL);
		if (f[got] == NULL) {
			assert_int_equal(rte_errno, EAGAIN);
			break;
		}
		got++;
	}
	assert_int_equal(got, 32);
	hold_release(0, 1);
	for (i = 0; i < got; i++)
		assert_int_equal(test_wait_release(f[i]), 0);
	assert_int_equal(tern_client_destroy(c), 0);
	/* Its futures are back: another client can have them. */
	c = tern_client_create(env.engine, &(struct tern_client_conf){ .max_inflight = 32 });
	assert_non_null(c);
	assert_int_equal(tern_client_destroy(c), 0);
	hold_release(0, 0);
	test_env_destroy(&env);
	free(mem);
}

static void
transport_error_fails_the_batch(void **state)
{
	struct test_env env;
	struct tern_client *c;
	struct tern_request r[2];
	struct tern_future *f;
	uint8_t *mem;
	uint32_t local, hole;

	RTE_SET_USED(state);
	hold_register();
	test_env_create(&env, "err", NULL);
	local = test_segment_local(&env, "mem", 1 << 20, (void **)&mem);
	hole = hold_segment(env.segments, "hole", 1 << 20);
	c = tern_client_create(env.engine, NULL);
	/* A batch mixing a local copy and a failing remote write. */
	r[0] = test_req(TERN_OP_WRITE, local, 4096, mem, 4096);
	r[1] = test_req(TERN_OP_WRITE, hole, 0, mem, 4096);
	f = tern_submit(c, r, 2, NULL);
	assert_non_null(f);
	assert_int_equal(tern_future_wait(f, 1000000),
			 -EINPROGRESS); /* held by the hold transport */
	hold_release(-EIO, 0);
	assert_int_equal(tern_future_wait(f, UINT64_MAX), -EIO);
	assert_int_equal(tern_future_release(f), 0);
	assert_true(TEST_SUM_STAT(env.engine, errors) >= 1);
	/* The engine keeps serving. */
	r[0] = test_req(TERN_OP_WRITE, local, 8192, mem, 4096);
	assert_int_equal(test_wait_release(tern_submit(c, r, 1, NULL)), 0);
	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&env);
	free(mem);
}

static void
cancel_resolves_now_and_memory_waits_for_slices(void **state)
{
	struct test_env env;
	struct tern_pool_stats ps;
	struct tern_client *c;
	struct tern_request r;
	struct tern_future *f;
	uint8_t *mem;
	uint32_t hole;

	RTE_SET_USED(state);
	hold_register();
	test_env_create(&env, "cancel", NULL);
	test_segment_local(&env, "mem", 1 << 20, (void **)&mem);
	hole = hold_segment(env.segments, "hole", 1 << 20);
	c = tern_client_create(env.engine, NULL);
	r = test_req(TERN_OP_WRITE, hole, 0, mem, 4096);
	f = tern_submit(c, &r, 1, NULL);
	assert_non_null(f);
	TEST_WAIT_UNTIL(hold_count() != 0, 10000);
	assert_int_equal(tern_future_cancel(f), 0);
	assert_int_equal(tern_future_cancel(f), -EALREADY);
	assert_int_equal(tern_future_wait(f, 0), -ECANCELED);
	assert_int_equal(tern_future_release(f), 0);
	/* The slice is still held by the transport: the segment is busy and
	 * the future's memory is not back in the pool. */
	assert_int_equal(tern_segment_unregister(env.segments, hole), -EBUSY);
	assert_int_equal(tern_engine_pool_stats(env.engine, &ps), 0);
	assert_true(ps.available < ps.total);
	hold_release(0, 0);
	TEST_WAIT_UNTIL(hold_count() == 0, 10000);
	assert_int_equal(tern_client_destroy(c), 0); /* reaps the cancelled entry */
	TEST_WAIT_UNTIL(tern_segment_unregister(env.segments, hole) != -EBUSY, 10000);
	test_env_destroy(&env);
	free(mem);
}

static void
wait_sleeps_on_futex_and_wakes(void **state)
{
	struct test_env env;
	struct tern_client *c;
	struct tern_request r;
	struct tern_future *f;
	uint8_t *mem;
	uint32_t hole;

	RTE_SET_USED(state);
	hold_register();
	test_env_create(&env, "futex", NULL);
	test_segment_local(&env, "mem", 1 << 20, (void **)&mem);
	hole = hold_segment(env.segments, "hole", 1 << 20);
	c = tern_client_create(env.engine, NULL);
	r = test_req(TERN_OP_WRITE, hole, 0, mem, 4096);
	f = tern_submit(c, &r, 1, NULL);
	/* Past the spin phase: the waiter sleeps on the futex and times out. */
	assert_int_equal(tern_future_wait(f, 50 * 1000 * 1000), -EINPROGRESS);
	hold_release(-EPIPE, 0);
	assert_int_equal(tern_future_wait(f, 10ull * 1000 * 1000 * 1000), -EPIPE);
	assert_int_equal(tern_future_release(f), 0);
	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&env);
	free(mem);
}

static void
pool_is_full_after_clients_are_gone(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c[3];
	struct tern_pool_stats ps;
	struct tern_request r = test_req(TERN_OP_READ, fx->dst_h, 0, fx->src, 1 << 20);
	unsigned int i, k;

	for (i = 0; i < 3; i++)
		c[i] = tern_client_create(fx->env.engine, NULL);
	for (k = 0; k < 50; k++)
		for (i = 0; i < 3; i++)
			assert_int_equal(test_wait_release(tern_submit(c[i], &r, 1, NULL)), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(tern_client_destroy(c[i]), 0);
	/* The lcore drops its own reference just after resolving: poll briefly. */
	for (k = 0; k < 1000000; k++) {
		assert_int_equal(tern_engine_pool_stats(fx->env.engine, &ps), 0);
		if (ps.available == ps.total)
			break;
	}
	assert_int_equal(ps.available, ps.total);
}

static void
observation_and_live_settings(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	uint64_t lat[TERN_LATENCY_BUCKETS], total = 0;
	struct tern_engine_info info;
	struct tern_client_info ci;
	struct tern_lcore_load load;
	struct tern_engine_conf conf;
	struct tern_request r = test_req(TERN_OP_WRITE, fx->dst_h, 0, fx->src, 1 << 20);
	unsigned int i, lcores[4];
	uint32_t slot, found = 0;

	assert_int_equal(tern_engine_info(fx->env.engine, &info), 0);
	assert_int_equal(info.nb_lcores, 2);
	assert_int_equal(info.nb_clients, 1);
	assert_true(info.transports_usable & (1u << tern_transport_id("memcpy")));
	assert_int_equal(tern_engine_info(fx->env.engine, NULL), -EINVAL);

	assert_int_equal(tern_engine_set_slice_bytes(fx->env.engine, 4095), -EINVAL);
	assert_int_equal(tern_engine_set_slice_bytes(fx->env.engine, (1ull << 30) + 1), -EINVAL);
	assert_int_equal(tern_engine_set_slice_bytes(fx->env.engine, 64 << 10), 0);
	assert_int_equal(tern_engine_set_deadline_ns(fx->env.engine, 0), -EINVAL);
	assert_int_equal(tern_engine_set_deadline_ns(fx->env.engine, 7ull * 1000000000), 0);
	assert_int_equal(tern_engine_get_conf(fx->env.engine, &conf), 0);
	assert_int_equal(conf.slice_bytes, 64 << 10);
	assert_int_equal(conf.deadline_ns, 7ull * 1000000000);

	for (i = 0; i < 10; i++)
		assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	/* 1 MiB in 64 KiB slices: 16 per batch, and the new size was used. */
	assert_int_equal(TEST_SUM_STAT(fx->env.engine, slices), 160);
	/* The lcore records the latency just after resolving: poll up to a second. */
	for (i = 0; i < 1000 && total < 10; i++) {
		if (i != 0)
			usleep(1000);
		assert_int_equal(tern_engine_latency(fx->env.engine, lat), 0);
		total = 0;
		for (slot = 0; slot < TERN_LATENCY_BUCKETS; slot++)
			total += lat[slot];
	}
	assert_int_equal(total, 10);

	assert_int_equal(tern_engine_lcores(fx->env.engine, lcores, 4), 2);
	assert_int_equal(tern_engine_lcore_load(fx->env.engine, lcores[0], &load), 0);
	assert_int_equal(tern_engine_lcore_load(fx->env.engine, 0, &load), -ENOENT);
	for (slot = 0; slot < info.max_clients; slot++) {
		int ret = tern_engine_client_info(fx->env.engine, slot, &ci);

		if (ret == -ENOENT)
			continue;
		assert_int_equal(ret, 0);
		assert_int_equal(ci.pid, getpid());
		assert_int_equal(ci.submitted, 10);
		found++;
	}
	assert_int_equal(found, 1);
	assert_int_equal(tern_engine_client_info(fx->env.engine, info.max_clients, &ci), -EINVAL);
	/* Drain the completion queue before destroying. */
	assert_int_equal(tern_client_destroy(c), 0);
}

/*
 * The owner lcore of a shared batch keeps it on its claim list while helpers
 * claim the rest. When the helpers account the last slices (here: a cancel makes
 * a helper skip every unposted slice) and the client has already let go, the
 * batch must stay alive until the owner has dropped it from that list: under
 * ASan a pooled future is poisoned, so an owner claiming a batch that went back
 * to the pool is reported at the access. Without ASan a batch reused while still
 * on a claim list corrupts the deadline wheel, and the final wait hangs.
 */
static void
released_shared_batches_outlive_every_claim(void **state)
{
	struct tern_engine_conf conf = { .slice_bytes = 4096,
					 .share_bytes = 8192,
					 .nb_futures = 256 };
	struct tern_client_conf cc = { .flags = TERN_CLIENT_F_NO_CQ, .max_inflight = 128 };
	struct tern_pool_stats ps;
	struct test_env env;
	struct tern_client *c;
	struct tern_request r;
	struct tern_future *f;
	uint8_t *src, *dst;
	uint32_t dst_h;
	unsigned int i;

	RTE_SET_USED(state);
	test_env_create(&env, "shared", &conf);
	test_segment_local(&env, "src", 1 << 20, (void **)&src);
	dst_h = test_segment_local(&env, "dst", 1 << 20, (void **)&dst);
	c = tern_client_create(env.engine, &cc);
	assert_non_null(c);
	/* 64 slices: the owner claims 32 per visit, a helper the other 32. */
	r = test_req(TERN_OP_WRITE, dst_h, 0, src, 256 << 10);
	for (i = 0; i < 20000; i++) {
		f = tern_submit(c, &r, 1, NULL);
		if (f == NULL) {
			assert_int_equal(rte_errno, EAGAIN);
			continue;
		}
		if (i % 2 == 0)
			tern_future_cancel(f);
		assert_int_equal(tern_future_release(f), 0);
		if (i % 8 == 7)
			usleep(100); /* leave both cores to the lcores now and then */
	}
	/* The wheel still works: a last batch resolves by itself. */
	TEST_WAIT_UNTIL((f = tern_submit(c, &r, 1, NULL)) != NULL || rte_errno != EAGAIN, 10000);
	assert_non_null(f);
	assert_int_equal(tern_future_wait(f, 10ull * 1000000000ull), 0);
	assert_int_equal(tern_future_release(f), 0);
	assert_int_equal(tern_client_destroy(c), 0);
	/* Every batch goes back to the pool once its last slice is accounted. */
	for (i = 0; i < 5000; i++) {
		assert_int_equal(tern_engine_pool_stats(env.engine, &ps), 0);
		if (ps.available == ps.total)
			break;
		usleep(1000);
	}
	assert_int_equal(ps.available, ps.total);
	test_env_destroy(&env);
	free(src);
	free(dst);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(write_then_read_back_moves_every_byte, setup,
						teardown),
		cmocka_unit_test_setup_teardown(batch_of_many_requests_completes_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(reap_collects_many_futures_in_bulk, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reports_in_progress_then_status, setup,
						teardown),
		cmocka_unit_test_setup_teardown(large_request_is_shared_by_every_lcore, setup,
						teardown),
		cmocka_unit_test_setup_teardown(max_inflight_gives_eagain_until_released_and_reaped,
						setup, teardown),
		cmocka_unit_test(pool_exhaustion_gives_eagain),
		cmocka_unit_test(transport_error_fails_the_batch),
		cmocka_unit_test(cancel_resolves_now_and_memory_waits_for_slices),
		cmocka_unit_test(wait_sleeps_on_futex_and_wakes),
		cmocka_unit_test_setup_teardown(pool_is_full_after_clients_are_gone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(observation_and_live_settings, setup, teardown),
		cmocka_unit_test(released_shared_batches_outlive_every_claim),
	};

	RTE_SET_USED(argc);
	test_eal_init(argv[0] + (strrchr(argv[0], '/') ? strrchr(argv[0], '/') - argv[0] + 1 : 0),
		      "0@(0-1),1@0,2@1", 768);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
