/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crash isolation in one process: a client "dies" at the worst points of
 * tern_submit() (a future taken and half filled; a slot of its submission
 * ring reserved and never published; segments validated), exactly as a
 * SIGKILLed secondary process leaves them, and its slot is then closed the
 * way the liveness alarm closes a dead process's slot. Nobody else may
 * notice: another client on the same home lcore keeps moving data, the dead
 * client's published batches still resolve, and its slot, futures and
 * segment references all come back. The multi-process version (real
 * SIGKILLs) is tests/chaos.
 */
#include <errno.h>
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
#include <rte_errno.h>
#include <rte_ring.h>
#include <rte_ring_peek.h>

#include "engine_private.h"
#include "test_common.h"
#include "test_transport_hold.h"

#define MS (1000ull * 1000ull)

/* The client's process is gone: its handle is never used again. */
static void
client_vanishes(struct tern_client *c)
{
	free(c->free);
	c->free = NULL;
	c->state = HANDLE_DEAD;
}

/* What a SIGKILL inside tern_submit() leaves: a future taken from the free
 * stack and marked queued, and its submission entry filled but for the
 * sequence number that would have published it. */
static void
die_inside_submit(struct tern_client *c)
{
	struct tern_future *half = c->free[--c->nb_free];
	struct sq_entry *e = &c->sq[c->sq_prod & c->sq_mask];

	__atomic_store_n(&half->engine, ENGINE_QUEUED, __ATOMIC_RELEASE);
	e->f = half;
	e->nb_reqs = 1;
	e->length = 4096;
	client_vanishes(c);
}

/* Waits up to @ms for the engine to let go of every batch (it drops its
 * reference just after resolving the last one). */
static uint32_t
engine_held_settles(struct tern_engine *e, unsigned int ms)
{
	struct tern_pool_stats ps;
	uint64_t end = test_now_ns() + ms * MS;

	do {
		assert_int_equal(tern_engine_pool_stats(e, &ps), 0);
		if (ps.engine_held == 0)
			break;
		usleep(1000);
	} while (test_now_ns() < end);
	return ps.engine_held;
}

/* Waits up to @ms for the slot to be free again. */
static bool
slot_freed(struct tern_engine *e, uint32_t slot, unsigned int ms)
{
	struct tern_client_info ci;
	uint64_t end = test_now_ns() + ms * MS;

	while (test_now_ns() < end) {
		if (tern_engine_client_info(e, slot, &ci) == -ENOENT)
			return true;
		usleep(1000);
	}
	return false;
}

static void
client_dead_inside_submit_stops_nobody(void **state)
{
	struct tern_client_conf same_home = {
		.flags = TERN_CLIENT_F_HOME_LCORE | TERN_CLIENT_F_NO_CQ, .home_lcore = 1
	};
	struct tern_segment_info info;
	struct tern_pool_stats ps0, ps;
	struct test_env env;
	struct tern_client *dead, *live, *next;
	struct tern_future *published, *f;
	struct tern_request r;
	uint8_t *src, *dst;
	uint32_t dst_h, src_h, slot;
	unsigned int i;

	RTE_SET_USED(state);
	test_env_create(&env, "crash", NULL);
	src_h = test_segment_local(&env, "src", 1 << 20, (void **)&src);
	dst_h = test_segment_local(&env, "dst", 1 << 20, (void **)&dst);
	assert_int_equal(tern_engine_pool_stats(env.engine, &ps0), 0);
	dead = tern_client_create(env.engine, &same_home);
	live = tern_client_create(env.engine, &same_home);
	assert_non_null(dead);
	assert_non_null(live);
	slot = dead->slot;

	r = test_req(TERN_OP_WRITE, dst_h, 0, src, 64 << 10);
	published = tern_submit(dead, &r, 1, NULL);
	assert_non_null(published);
	die_inside_submit(dead);
	engine_slot_close(env.engine->sh, slot, CLIENT_SLOT_DEAD);

	/* The live client shares the home lcore and never waits on the dead one. */
	for (i = 0; i < 2000; i++) {
		test_pattern_fill(src + 4096, 4096, i, 0);
		r = test_req(i & 1 ? TERN_OP_READ : TERN_OP_WRITE, dst_h, 8192,
			     src + (i & 1 ? 65536 : 4096), 4096);
		f = tern_submit(live, &r, 1, NULL);
		if (f == NULL)
			print_message("batch %u: %s\n", i, rte_strerror(rte_errno));
		assert_non_null(f);
		assert_int_equal(tern_future_wait(f, 1000 * MS), 0);
		assert_int_equal(tern_future_release(f), 0);
	}
	assert_int_equal(test_pattern_check(src + 65536, 4096, 1999 - 1, 0), SIZE_MAX);

	/* Its published batch ran; the slot, its futures and every segment
	 * reference come back. */
	assert_int_equal(__atomic_load_n(&published->state, __ATOMIC_ACQUIRE), FUT_DONE);
	assert_int_equal(published->status, 0);
	assert_true(slot_freed(env.engine, slot, 2000));
	assert_int_equal(engine_held_settles(env.engine, 1000), 0);
	assert_int_equal(tern_engine_pool_stats(env.engine, &ps), 0);
	assert_int_equal(ps.available, ps0.available - slot_futures(CLIENT_DEFAULT_INFLIGHT));
	assert_int_equal(tern_segment_info(env.segments, src_h, &info), 0);
	assert_int_equal(info.refs, 0);
	assert_int_equal(tern_segment_info(env.segments, dst_h, &info), 0);
	assert_int_equal(info.refs, 0);

	/* A new client gets a slot and works. */
	next = tern_client_create(env.engine, &same_home);
	assert_non_null(next);
	r = test_req(TERN_OP_WRITE, dst_h, 0, src, 4096);
	assert_int_equal(test_wait_release(tern_submit(next, &r, 1, NULL)), 0);
	assert_int_equal(tern_client_destroy(next), 0);
	assert_int_equal(tern_client_destroy(live), 0);
	assert_int_equal(tern_engine_pool_stats(env.engine, &ps), 0);
	assert_int_equal(ps.available, ps.total);
	test_env_destroy(&env);
	free(src);
	free(dst);
}

/* A dead client's batch that a transport still holds keeps its slot (and
 * the segment) until the slices come back; then everything returns. */
static void
dead_client_batch_in_flight_resolves_then_slot_returns(void **state)
{
	struct tern_pool_stats ps;
	struct test_env env;
	struct tern_client *dead;
	struct tern_future *f;
	struct tern_request r;
	uint8_t *mem;
	uint32_t hole, slot;

	RTE_SET_USED(state);
	hold_register();
	hold_release(0, 0);
	test_env_create(&env, "crash2", &(struct tern_engine_conf){ .deadline_ns = 50 * MS });
	test_segment_local(&env, "mem", 1 << 20, (void **)&mem);
	hole = hold_segment(env.segments, "hole", 1 << 20);
	dead = tern_client_create(env.engine, NULL);
	assert_non_null(dead);
	slot = dead->slot;
	r = test_req(TERN_OP_WRITE, hole, 0, mem, 4096);
	f = tern_submit(dead, &r, 1, NULL);
	assert_non_null(f);
	TEST_WAIT_UNTIL(hold_count() != 0, 10000);
	client_vanishes(dead);
	engine_slot_close(env.engine->sh, slot, CLIENT_SLOT_DEAD);

	/* Past its deadline the batch has resolved, but the transport still has
	 * its slice: the slot, the future and the segment stay. */
	usleep(300 * 1000);
	assert_int_equal(__atomic_load_n(&f->state, __ATOMIC_ACQUIRE), FUT_DONE);
	assert_int_equal(f->status, -ETIMEDOUT);
	assert_false(slot_freed(env.engine, slot, 200));
	assert_int_equal(tern_engine_pool_stats(env.engine, &ps), 0);
	assert_int_equal(ps.engine_held, 1);
	assert_int_equal(tern_segment_unregister(env.segments, hole), -EBUSY);

	hold_release(0, 0);
	assert_true(slot_freed(env.engine, slot, 2000));
	assert_int_equal(engine_held_settles(env.engine, 1000), 0);
	assert_int_equal(tern_engine_pool_stats(env.engine, &ps), 0);
	assert_int_equal(ps.available, ps.total);
	assert_int_equal(tern_segment_unregister(env.segments, hole), 0);
	test_env_destroy(&env);
	free(mem);
}

/* A segment unregistered between submit and accept: the lcore's reference
 * fails and the batch resolves with -ESTALE (it never touches the memory). */
static void
segment_gone_before_accept_fails_the_batch_with_estale(void **state)
{
	struct tern_segment_info info;
	struct test_env env;
	struct tern_client *c;
	struct tern_future *f;
	struct tern_request r;
	struct sq_entry *sq, *standin, e;
	uint32_t pos;
	uint8_t *src, *dst;
	uint32_t dst_h, src_h;

	RTE_SET_USED(state);
	test_env_create(&env, "crash3", NULL);
	src_h = test_segment_local(&env, "src", 1 << 20, (void **)&src);
	dst_h = test_segment_local(&env, "dst", 1 << 20, (void **)&dst);
	c = tern_client_create(env.engine, NULL);
	assert_non_null(c);
	/* Hold the lcore off the client's queue: publish into a stand-in that
	 * nobody reads, unregister, then hand the entry over. */
	sq = c->sq;
	standin = aligned_alloc(64, (c->sq_mask + 1ull) * sizeof(*standin));
	assert_non_null(standin);
	memset(standin, 0, (c->sq_mask + 1ull) * sizeof(*standin));
	c->sq = standin;
	pos = c->sq_prod & c->sq_mask;
	r = test_req(TERN_OP_WRITE, dst_h, 0, src, 4096);
	f = tern_submit(c, &r, 1, NULL);
	assert_non_null(f);
	assert_int_equal(tern_segment_info(env.segments, dst_h, &info), 0);
	assert_int_equal(info.refs, 0); /* the client took none */
	assert_int_equal(tern_segment_unregister(env.segments, dst_h), 0);
	e = standin[pos];
	assert_ptr_equal(e.f, f);
	assert_int_equal(e.seq, c->sq_prod);
	c->sq = sq;
	free(standin);
	sq[pos] = e;
	sq[pos].seq = 0;
	__atomic_store_n(&sq[pos].seq, e.seq, __ATOMIC_RELEASE);
	assert_int_equal(tern_future_wait(f, 1000 * MS), -ESTALE);
	assert_int_equal(tern_future_release(f), 0);
	assert_int_equal(tern_segment_info(env.segments, src_h, &info), 0);
	assert_int_equal(info.refs, 0);
	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&env);
	free(src);
	free(dst);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(client_dead_inside_submit_stops_nobody),
		cmocka_unit_test(dead_client_batch_in_flight_resolves_then_slot_returns),
		cmocka_unit_test(segment_gone_before_accept_fails_the_batch_with_estale),
	};

	RTE_SET_USED(argc);
	RTE_SET_USED(argv);
	test_eal_init("test_engine_crash", "0@(0-1),1@0,2@1", 256);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
