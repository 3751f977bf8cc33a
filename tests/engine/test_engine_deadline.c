/* SPDX-License-Identifier: BSD-3-Clause */
/* Deadlines: a transport that never completes still cannot hang a future. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>

#include "test_common.h"
#include "test_transport_hold.h"

#define MS (1000ull * 1000ull)

struct fixture {
	struct test_env env;
	struct tern_client *client;
	uint8_t *mem;
	uint32_t hole;
};

/* Counters are bumped just after the future resolves: give them a moment. */
static uint64_t
timeouts_reach(struct tern_engine *e, uint64_t expected)
{
	uint64_t end = test_now_ns() + 1000 * MS, v;

	while ((v = TEST_SUM_STAT(e, timeouts)) < expected && test_now_ns() < end)
		;
	return v;
}

static int
setup(void **state)
{
	static int n;
	struct fixture *fx = calloc(1, sizeof(*fx));
	char tag[16];

	hold_register();
	hold_release(0, 0);
	snprintf(tag, sizeof(tag), "dl%d", n++);
	test_env_create(&fx->env, tag, &(struct tern_engine_conf){ .deadline_ns = 40 * MS });
	test_segment_local(&fx->env, "mem", 1 << 20, (void **)&fx->mem);
	fx->hole = hold_segment(fx->env.segments, "hole", 64 << 20);
	fx->client = tern_client_create(fx->env.engine, NULL);
	assert_non_null(fx->client);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	test_env_destroy(&fx->env);
	free(fx->mem);
	free(fx);
	return 0;
}

static struct tern_future *
submit_hole(struct fixture *fx, uint64_t deadline_ns, uint64_t len)
{
	struct tern_request r = {
		.op = TERN_OP_WRITE, .segment = fx->hole, .local = fx->mem, .length = len
	};
	struct tern_future *f = tern_submit(
		fx->client, &r, 1, &(struct tern_submit_opts){ .deadline_ns = deadline_ns });

	assert_non_null(f);
	return f;
}

static void
stuck_batch_times_out_at_its_deadline(void **state)
{
	struct fixture *fx = *state;
	uint64_t t0 = test_now_ns(), elapsed;
	struct tern_future *f = submit_hole(fx, 100 * MS, 4096);

	assert_int_equal(tern_future_wait(f, UINT64_MAX), -ETIMEDOUT);
	elapsed = test_now_ns() - t0;
	print_message("deadline 100 ms, resolved after %.2f ms\n", (double)elapsed / MS);
	assert_true(elapsed >= 100 * MS);
	/* Tick granularity is a quarter millisecond; allow for a loaded machine. */
	assert_true(elapsed < 100 * MS + 400 * MS);
	assert_int_equal(timeouts_reach(fx->env.engine, 1), 1);
	assert_int_equal(tern_future_release(f), 0);
}

/*
 * Deadlines of 10 s, 100 s, the maximum (an hour), and 0.5 s past the point
 * where ns * hz passes 2^64 on this machine's clock, are all still pending
 * after 1.5 s while 1 s has fired. When the conversion was done in 64 bits,
 * the last one fired at about 0.5 s on any machine (and at 2 GHz, 10 s fired
 * at 1.2 s). The engine's uptime keeps counting past 1.5 s.
 */
static void
long_deadlines_fire_neither_early_nor_wrapped(void **state)
{
	struct fixture *fx = *state;
	uint64_t deadlines_ns[4] = { 10000 * MS, 100000 * MS, 3600000 * MS };
	struct tern_engine_info info;
	struct tern_future *f[4], *one;
	uint64_t t0 = test_now_ns(), up0, t;
	unsigned int i;

	/* 2^64 / hz nanoseconds: where the old product wrapped. */
	deadlines_ns[3] = (uint64_t)(((unsigned __int128)1 << 64) / rte_get_tsc_hz()) + 500 * MS;
	assert_true(deadlines_ns[3] < 3600000 * MS);
	assert_int_equal(tern_engine_info(fx->env.engine, &info), 0);
	up0 = info.uptime_ns;
	one = submit_hole(fx, 1000 * MS, 4096);
	for (i = 0; i < 4; i++)
		f[i] = submit_hole(fx, deadlines_ns[i], 4096);
	/* A wait shorter than the deadline ends with -EINPROGRESS, on time. */
	assert_int_equal(tern_future_wait(f[0], 200 * MS), -EINPROGRESS);
	assert_true(test_now_ns() - t0 >= 200 * MS);
	assert_int_equal(tern_future_wait(one, UINT64_MAX), -ETIMEDOUT);
	t = test_now_ns() - t0;
	assert_true(t >= 1000 * MS && t < 1400 * MS);
	while (test_now_ns() - t0 < 1500 * MS)
		usleep(10000);
	for (i = 0; i < 4; i++) {
		print_message("deadline %.1f s: %s after 1.5 s\n", (double)deadlines_ns[i] / 1e9,
			      tern_future_test(f[i]) == -EINPROGRESS ? "pending" : "resolved");
		assert_int_equal(tern_future_test(f[i]), -EINPROGRESS);
		assert_int_equal(tern_future_cancel(f[i]), 0);
		assert_int_equal(tern_future_wait(f[i], UINT64_MAX), -ECANCELED);
		assert_int_equal(tern_future_release(f[i]), 0);
	}
	assert_int_equal(tern_future_release(one), 0);
	assert_int_equal(tern_engine_info(fx->env.engine, &info), 0);
	assert_true(info.uptime_ns - up0 >= 1500 * MS);
	assert_true(info.uptime_ns - up0 < 5000 * MS);
	/* The maximum is an hour: one nanosecond more is refused. */
	assert_null(tern_submit(
		fx->client,
		&(struct tern_request){
			.op = TERN_OP_WRITE, .segment = fx->hole, .local = fx->mem, .length = 64 },
		1, &(struct tern_submit_opts){ .deadline_ns = 3600000 * MS + 1 }));
	assert_int_equal(rte_errno, EINVAL);
	hold_release(0, 0);
}

static void
engine_default_deadline_applies(void **state)
{
	struct fixture *fx = *state;
	uint64_t t0 = test_now_ns();
	struct tern_future *f = submit_hole(fx, 0, 4096); /* engine default: 40 ms */

	assert_int_equal(tern_future_wait(f, UINT64_MAX), -ETIMEDOUT);
	assert_true(test_now_ns() - t0 >= 40 * MS);
	assert_int_equal(tern_future_release(f), 0);
}

static void
timed_out_batch_memory_waits_for_late_slices(void **state)
{
	struct fixture *fx = *state;
	struct tern_pool_stats ps;
	struct tern_future *f = submit_hole(fx, 10 * MS, 1 << 20); /* 4 slices */
	struct tern_future *got[4];
	int n = 0;

	assert_int_equal(tern_future_wait(f, UINT64_MAX), -ETIMEDOUT);
	assert_int_equal(tern_future_release(f), 0);
	/* Released before reaping: the queue's entry is dropped, not handed back. */
	n = tern_client_reap(fx->client, got, 4);
	assert_int_equal(n, 0);
	/* Slices are still held by the transport: nothing is reused. */
	assert_int_equal(tern_engine_pool_stats(fx->env.engine, &ps), 0);
	assert_true(ps.available < ps.total);
	assert_int_equal(tern_segment_unregister(fx->env.segments, fx->hole), -EBUSY);
	/* The late completions arrive; the batch memory returns. */
	hold_release(0, 0);
	TEST_WAIT_UNTIL(hold_count() == 0, 10000);
	assert_int_equal(tern_client_destroy(fx->client), 0);
	fx->client = NULL;
	TEST_WAIT_UNTIL(tern_engine_pool_stats(fx->env.engine, &ps) == 0 &&
				ps.available == ps.total,
			10000);
	TEST_WAIT_UNTIL(tern_segment_unregister(fx->env.segments, fx->hole) != -EBUSY, 10000);
}

static void
deadlines_beyond_the_wheel_horizon_fire_in_order(void **state)
{
	struct fixture *fx = *state;
	uint64_t deadlines_ms[] = { 1500, 30, 1100, 600 };
	unsigned int by_deadline[] = { 1, 3, 2, 0 };
	struct tern_future *f[4];
	uint64_t t0 = test_now_ns(), t;
	unsigned int i, k;

	for (i = 0; i < 4; i++)
		f[i] = submit_hole(fx, deadlines_ms[i] * MS, 4096);
	for (k = 0; k < 4; k++) {
		i = by_deadline[k];
		assert_int_equal(tern_future_wait(f[i], UINT64_MAX), -ETIMEDOUT);
		t = test_now_ns() - t0;
		print_message("deadline %" PRIu64 " ms: resolved at %.1f ms\n", deadlines_ms[i],
			      (double)t / MS);
		assert_true(t >= deadlines_ms[i] * MS);
		assert_true(t < (deadlines_ms[i] + 400) * MS);
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(tern_future_release(f[i]), 0);
	assert_int_equal(timeouts_reach(fx->env.engine, 4), 4);
}

static void
cancel_of_a_stuck_batch_and_destroy_with_work_in_flight(void **state)
{
	struct fixture *fx = *state;
	struct tern_future *a = submit_hole(fx, 60000 * MS, 4096);
	struct tern_future *b = submit_hole(fx, 60000 * MS, 1 << 20);

	TEST_WAIT_UNTIL(hold_count() >= 5, 10000);
	assert_int_equal(tern_future_cancel(a), 0);
	assert_int_equal(tern_future_wait(a, UINT64_MAX), -ECANCELED);
	assert_int_equal(tern_future_release(a), 0);
	assert_int_equal(tern_future_release(b), 0); /* detached, still in flight */
	/* Destroy drains for drain_ns, then cancels the hold transport's endpoints. */
	assert_int_equal(tern_engine_destroy(fx->env.engine), 0);
	fx->env.engine = NULL;
	assert_int_equal(hold_count(), 0);
}

static void
destroy_is_bounded_when_a_transport_never_gives_slices_back(void **state)
{
	struct fixture *fx = *state;
	struct tern_engine_conf conf;
	struct tern_future *expired;
	uint64_t t0;

	submit_hole(fx, 60000 * MS, 4096);
	/* And one past its deadline whose slice the transport still holds. */
	expired = submit_hole(fx, 20 * MS, 4096);
	assert_int_equal(tern_future_wait(expired, UINT64_MAX), -ETIMEDOUT);
	TEST_WAIT_UNTIL(hold_count() >= 2, 10000);
	hold_ignore_cancel(1);
	assert_int_equal(tern_engine_get_conf(fx->env.engine, &conf), 0);
	t0 = test_now_ns();
	/* Drain for drain_ns, cancel, wait drain_ns more for the transport, then
	 * abandon its slices (and the batch) instead of hanging. */
	assert_int_equal(tern_engine_destroy(fx->env.engine), 0);
	print_message("destroy returned after %.1f ms (drain %.1f ms)\n",
		      (double)(test_now_ns() - t0) / MS, (double)conf.drain_ns / MS);
	assert_true(test_now_ns() - t0 < 2 * conf.drain_ns + 2000 * MS);
	fx->env.engine = NULL;
	hold_ignore_cancel(0);
	hold_release(0, 0); /* forget what the stopped "device" held */
}

static void
peer_traffic_counts_slices_bytes_and_failed_requests(void **state)
{
	struct fixture *fx = *state;
	struct tern_peer_traffic t;
	struct tern_future *f;
	struct tern_request r;
	uint64_t end = test_now_ns() + 2000 * MS,
		 base = hold_count(); /* an earlier test's leftovers */
	uint32_t peer_seg;

	assert_int_equal(
		tern_segment_register(fx->env.segments,
				      &(struct tern_segment_conf){ .name = "peer7",
								   .kind = TERN_SEGMENT_REMOTE,
								   .transport = "hold",
								   .length = 64 << 20,
								   .peer = 7 },
				      &peer_seg),
		0);
	r = (struct tern_request){
		.op = TERN_OP_WRITE, .segment = peer_seg, .local = fx->mem, .length = 1 << 20
	};
	/* Two requests on the peer, one on the untagged hole: only the peer's count. */
	f = tern_submit(fx->client,
			(struct tern_request[]){ r,
						 r,
						 { .op = TERN_OP_WRITE,
						   .segment = fx->hole,
						   .local = fx->mem,
						   .length = 4096 } },
			3, &(struct tern_submit_opts){ .deadline_ns = 5000 * MS });
	assert_non_null(f);
	while (hold_count() < base + 9 && test_now_ns() < end)
		;
	assert_int_equal(hold_count(), base + 9);
	hold_release(-EIO, 0);
	assert_int_equal(tern_future_wait(f, UINT64_MAX), -EIO);
	assert_int_equal(tern_engine_peer_traffic(fx->env.engine, 7, &t), 0);
	assert_int_equal(t.slices, 8);
	assert_int_equal(t.bytes, 2 << 20);
	assert_int_equal(t.failed_requests, 2);
	assert_int_equal(tern_engine_peer_traffic(fx->env.engine, 8, &t), 0);
	assert_int_equal(t.slices + t.bytes + t.failed_requests, 0);
	assert_int_equal(tern_engine_peer_traffic(fx->env.engine, 0, &t), -EINVAL);
	assert_int_equal(tern_engine_peer_traffic(fx->env.engine, TERN_SEGMENT_PEER_MAX, &t),
			 -EINVAL);
	assert_int_equal(tern_engine_peer_traffic(fx->env.engine, 7, NULL), -EINVAL);
	assert_int_equal(tern_engine_peer_traffic(NULL, 7, &t), -EINVAL);
	assert_int_equal(tern_future_release(f), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(stuck_batch_times_out_at_its_deadline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(engine_default_deadline_applies, setup, teardown),
		cmocka_unit_test_setup_teardown(long_deadlines_fire_neither_early_nor_wrapped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(timed_out_batch_memory_waits_for_late_slices, setup,
						teardown),
		cmocka_unit_test_setup_teardown(deadlines_beyond_the_wheel_horizon_fire_in_order,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			cancel_of_a_stuck_batch_and_destroy_with_work_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(
			destroy_is_bounded_when_a_transport_never_gives_slices_back, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			peer_traffic_counts_slices_bytes_and_failed_requests, setup, teardown),
	};

	RTE_SET_USED(argc);
	RTE_SET_USED(argv);
	test_eal_init("test_engine_deadline", "0@(0-1),1@0,2@1", 256);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
