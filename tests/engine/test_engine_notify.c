/* SPDX-License-Identifier: BSD-3-Clause */
/* Notifications in one process (doc/notify.md): the promise over memcpy
 * (every byte checked the moment the notification is seen, 100 000 rounds;
 * TERN_NOTIFY_ROUNDS overrides), a failed batch sends none, a full queue
 * fails the sender with -ENOBUFS at its deadline without holding up other
 * work, bad input. */
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

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_pause.h>

#include <tern_notify_driver.h>

#include "test_common.h"
#include "test_notify_rounds.h"
#include "test_transport_hold.h"

#define REGION (16u << 10) /* 4 slices of 4 KiB, shared between the lcores */

static void
notified_bytes_are_all_there_memcpy(void **state)
{
	struct test_env env;
	struct tern_client *c;
	uint8_t *local, *remote;
	uint32_t target;

	RTE_SET_USED(state);
	test_env_create(
		&env, "ntfg",
		&(struct tern_engine_conf){ .slice_bytes = 4 << 10, .share_bytes = 8 << 10 });
	test_segment_local(&env, "local", REGION, (void **)&local);
	target = test_segment_local(&env, "remote", REGION, (void **)&remote);
	memset(remote, 0, REGION);
	c = tern_client_create(env.engine,
			       &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	assert_non_null(c);
	test_notify_rounds_run(&(struct test_notify_rounds){
		.label = "memcpy",
		.receiver = env.engine,
		.dst = remote,
		.initiator = c,
		.target = target,
		.src = local,
		.len = REGION,
		.sender = "e_ntfg",
	});
	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&env);
	free(local);
	free(remote);
}

/* A batch that fails, by a slice's error or by its deadline, sends nothing;
 * one that succeeds through the same transport does. */
static void
failed_batch_sends_no_notification(void **state)
{
	struct tern_notify n = { .tag = 7 };
	struct tern_notification got[4];
	struct test_env env;
	struct tern_client *c;
	struct tern_future *f;
	struct tern_request q;
	uint32_t hole;
	void *local;

	RTE_SET_USED(state);
	hold_register();
	test_env_create(&env, "ntff", NULL);
	test_segment_local(&env, "local", 1 << 20, &local);
	hole = hold_segment(env.segments, "hole", 1 << 20);
	c = tern_client_create(env.engine,
			       &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	assert_non_null(c);
	hold_notify_queue(tern_notify_queue_lookup("e_ntff"));
	q = test_req(TERN_OP_WRITE, hole, 0, local, 1 << 20);

	f = tern_submit(c, &q, 1, &(struct tern_submit_opts){ .notify = &n });
	assert_non_null(f);
	TEST_WAIT_UNTIL(hold_count() != 0, 5000);
	hold_release(-EIO, 0);
	assert_int_equal(test_wait_release(f), -EIO);

	f = tern_submit(c, &q, 1,
			&(struct tern_submit_opts){ .notify = &n, .deadline_ns = 20000000 });
	assert_non_null(f);
	assert_int_equal(test_wait_release(f), -ETIMEDOUT);
	hold_release(0, 0); /* the timed-out batch's slices come back: still nothing */
	TEST_WAIT_UNTIL(hold_count() == 0, 5000);
	usleep(20000);
	assert_int_equal(tern_notify_poll(c, got, 4), 0);

	n.tag = 8;
	f = tern_submit(c, &q, 1, &(struct tern_submit_opts){ .notify = &n });
	assert_non_null(f);
	TEST_WAIT_UNTIL(hold_count() != 0, 5000);
	hold_release(0, 0);
	assert_int_equal(test_wait_release(f), 0);
	assert_int_equal(tern_notify_poll(c, got, 4), 1);
	assert_int_equal(got[0].tag, 8);

	hold_notify_queue(NULL); /* the target takes none: -ENOTSUP */
	f = tern_submit(c, &q, 1, &(struct tern_submit_opts){ .notify = &n });
	assert_non_null(f);
	TEST_WAIT_UNTIL(hold_count() != 0, 5000);
	hold_release(0, 0);
	assert_int_equal(test_wait_release(f), -ENOTSUP);

	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&env);
	free(local);
}

/* A full queue: the sender's future fails with -ENOBUFS at its deadline,
 * meanwhile the same lcores keep moving other batches; once polled, the
 * queue takes notifications again. */
static void
full_queue_refuses_until_deadline_without_stalling(void **state)
{
	struct tern_notify_queue_stats st;
	struct tern_notification got[8];
	struct tern_notify_queue *q;
	struct test_env env;
	struct tern_client *c;
	struct tern_future *f, *slow;
	struct tern_request w;
	uint32_t seg;
	uint64_t t0;
	void *local;
	int i;

	RTE_SET_USED(state);
	q = tern_notify_queue_create(
		&(struct tern_notify_queue_conf){ .name = "q_ntfq", .node = "nodeq", .depth = 4 });
	assert_non_null(q);
	test_env_create(&env, "ntfq", &(struct tern_engine_conf){ .notify = q });
	seg = test_segment_local(&env, "local", 1 << 20, &local);
	c = tern_client_create(env.engine,
			       &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	assert_non_null(c);
	for (i = 0; i < 4; i++) {
		f = tern_notify_send(c, seg, &(struct tern_notify){ .tag = (uint64_t)i }, NULL);
		assert_non_null(f);
		assert_int_equal(test_wait_release(f), 0);
	}
	t0 = test_now_ns();
	slow = tern_notify_send(c, seg, &(struct tern_notify){ .tag = 99 },
				&(struct tern_submit_opts){ .deadline_ns = 200000000 });
	assert_non_null(slow);
	/* Other work goes on while the refused notification waits. */
	w = test_req(TERN_OP_WRITE, seg, 4096, (uint8_t *)local + 65536, 4096);
	for (i = 0; i < 100; i++) {
		f = tern_submit(c, &w, 1, NULL);
		assert_non_null(f);
		assert_int_equal(test_wait_release(f), 0);
	}
	assert_true(test_now_ns() - t0 < 150000000ull);
	assert_int_equal(tern_future_test(slow), -EINPROGRESS);
	assert_int_equal(test_wait_release(slow), -ENOBUFS);
	assert_true(test_now_ns() - t0 >= 200000000ull);
	assert_true(test_now_ns() - t0 < 1000000000ull);
	assert_int_equal(tern_notify_queue_stats(q, &st), 0);
	assert_int_equal(st.queued, 4);
	assert_true(st.refused >= 2); /* posted again after each pause */
	assert_int_equal(tern_notify_poll(c, got, 8), 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(got[i].tag, (uint64_t)i);
		assert_string_equal(got[i].sender, "nodeq");
	}
	f = tern_notify_send(c, seg, &(struct tern_notify){ .tag = 5 }, NULL);
	assert_non_null(f);
	assert_int_equal(test_wait_release(f), 0);
	assert_int_equal(tern_notify_wait(c, got, 8, 1000000000ull), 1);
	assert_int_equal(got[0].tag, 5);
	assert_int_equal(tern_notify_wait(c, got, 8, 1000000), 0); /* times out, empty */
	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&env);
	assert_int_equal(tern_notify_queue_free(q), 0);
	free(local);
}

static void
bad_notifications_are_refused(void **state)
{
	uint8_t big[TERN_NOTIFY_MSG_MAX + 1] = { 0 };
	struct tern_notify_queue_stats st;
	struct tern_notify_queue *q;
	struct tern_notification got;
	struct test_env env;
	struct tern_client *c;
	struct tern_request w;
	uint32_t seg;
	void *local;

	RTE_SET_USED(state);
	test_env_create(&env, "ntfb", NULL);
	seg = test_segment_local(&env, "local", 1 << 20, &local);
	c = tern_client_create(env.engine, NULL);
	assert_non_null(c);
	assert_null(tern_notify_send(c, seg, &(struct tern_notify){ .msg = big, .msg_len = 257 },
				     NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_notify_send(c, seg, &(struct tern_notify){ .msg_len = 3 }, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_notify_send(c, seg, NULL, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_notify_send(c, seg + 1000, &(struct tern_notify){ 0 }, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_notify_send(NULL, seg, &(struct tern_notify){ 0 }, NULL));
	assert_int_equal(rte_errno, EINVAL);
	w = test_req(TERN_OP_WRITE, seg, 0, (uint8_t *)local + 4096, 16);
	assert_null(
		tern_submit(c, &w, 1,
			    &(struct tern_submit_opts){ .notify = &(struct tern_notify){
								.msg = big, .msg_len = 300 } }));
	assert_int_equal(rte_errno, EINVAL);
	/* The receive side's checks (what a transport hands it from the wire). */
	q = tern_notify_queue_lookup("e_ntfb");
	assert_non_null(q);
	assert_int_equal(tern_notify_deliver(q, "", 1, NULL, 0), -EINVAL);
	assert_int_equal(tern_notify_deliver(q, "bad name", 1, NULL, 0), -EINVAL);
	assert_int_equal(tern_notify_deliver(q, NULL, 1, NULL, 0), -EINVAL);
	assert_int_equal(tern_notify_deliver(q, "n1", 1, big, 257), -EINVAL);
	assert_int_equal(tern_notify_deliver(q, "n1", 1, NULL, 4), -EINVAL);
	assert_int_equal(tern_notify_deliver(NULL, "n1", 1, NULL, 0), -EINVAL);
	assert_int_equal(tern_notify_queue_stats(q, &st), 0);
	assert_int_equal(st.malformed, 5);
	assert_int_equal(st.delivered, 0);
	assert_int_equal(tern_notify_deliver(q, "n1", 1, big, 256), 0);
	assert_int_equal(tern_notify_poll(c, &got, 1), 1);
	assert_int_equal(got.msg_len, 256);
	assert_int_equal(tern_notify_poll(NULL, &got, 1), -EINVAL);
	assert_int_equal(tern_notify_queue_poll(NULL, &got, 1), -EINVAL);
	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&env);
	free(local);
}

/* Sleeping waiters and the one-wake-per-sleep rule (issue 13): a delivery makes
 * the FUTEX_WAKE only when nobody made it since a waiter went to sleep. Two
 * waiters sleep, 1 to 3 notifications arrive back to back, every one must be
 * taken within far less than the 100 ms a lost wake-up costs (the waiters
 * re-check that often). */
struct sleeper {
	struct tern_notify_queue *q;
	uint64_t taken;	 /* atomic */
	uint64_t stop;	 /* atomic */
	uint32_t exited; /* atomic */
	int failures;
};

static void *
sleeper_main(void *p)
{
	struct sleeper *s = p;
	struct tern_notification got[4];

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		int k = tern_notify_queue_wait(s->q, got, RTE_DIM(got), 10000000000ull);

		if (k < 0) {
			s->failures++;
			break;
		}
		__atomic_fetch_add(&s->taken, (uint64_t)k, __ATOMIC_RELEASE);
	}
	__atomic_fetch_add(&s->exited, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void
sleeping_waiters_are_woken_once_per_sleep(void **state)
{
	struct sleeper s = { 0 };
	struct test_env env;
	pthread_t th[2];
	uint64_t sent = 0, slow = 0, worst = 0, measured;
	unsigned int round, i;

	RTE_SET_USED(state);
	test_env_create(&env, "ntfs", NULL);
	s.q = tern_notify_queue_lookup("e_ntfs");
	assert_non_null(s.q);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, sleeper_main, &s), 0);
	for (round = 0; round < 200 && slow <= 5; round++) {
		uint64_t t0, dt;

		usleep(1000); /* past the waiters' spin: they sleep */
		t0 = test_now_ns();
		for (i = 0; i <= round % 3; i++, sent++)
			assert_int_equal(tern_notify_deliver(s.q, "w", sent, NULL, 0), 0);
		while (__atomic_load_n(&s.taken, __ATOMIC_ACQUIRE) < sent &&
		       test_now_ns() - t0 < 1000000000ull)
			usleep(20);
		dt = test_now_ns() - t0;
		worst = RTE_MAX(worst, dt);
		if (dt >= 50000000ull) /* a lost wake-up, or a CPU starved that long */
			slow++;
	}
	measured = __atomic_load_n(&s.taken, __ATOMIC_ACQUIRE);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	/* Wake them until both saw stop (a waiter returns only with one). */
	for (i = 0; __atomic_load_n(&s.exited, __ATOMIC_ACQUIRE) < 2 && i < 2000; i++) {
		(void)tern_notify_deliver(s.q, "w", sent, NULL, 0);
		usleep(1000);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	print_message("%u rounds, %" PRIu64 " notifications, worst %.2f ms, %" PRIu64
		      " over 50 ms\n",
		      round, sent, (double)worst * 1e-6, slow);
	assert_int_equal(s.failures, 0);
	assert_int_equal(measured, sent);
	assert_true(slow <= 5);
	test_env_destroy(&env);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_notifications_are_refused),
		cmocka_unit_test(failed_batch_sends_no_notification),
		cmocka_unit_test(full_queue_refuses_until_deadline_without_stalling),
		cmocka_unit_test(notified_bytes_are_all_there_memcpy),
		cmocka_unit_test(sleeping_waiters_are_woken_once_per_sleep),
	};

	RTE_SET_USED(argc);
	RTE_SET_USED(argv);
	test_eal_init("test_engine_notify", "0@(0-1),1@0,2@1", 256);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
