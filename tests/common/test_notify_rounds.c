/* SPDX-License-Identifier: BSD-3-Clause */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_common.h"
#include "test_notify_rounds.h"

struct receiver {
	const struct test_notify_rounds *t;
	uint64_t rounds;
	uint64_t seen;	/* atomic: rounds checked */
	uint64_t stale; /* rounds with a stale byte */
	uint64_t wrong; /* notifications with another tag, sender or message */
	int failed;	/* atomic: the receiver stopped early */
};

uint64_t
test_notify_rounds_wanted(void)
{
	const char *s = getenv("TERN_NOTIFY_ROUNDS");

	return s != NULL ? strtoull(s, NULL, 10) : 100000;
}

static void *
receiver_main(void *p)
{
	struct receiver *r = p;
	struct tern_client *c = tern_client_create(r->t->receiver, NULL);
	struct tern_notification n;
	uint64_t round;

	if (c == NULL) {
		__atomic_store_n(&r->failed, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	for (round = 1; round <= r->rounds; round++) {
		int k = tern_notify_wait(c, &n, 1, 10ull * 1000000000ull);

		if (k != 1) {
			struct tern_notify_queue_stats st = { 0 };

			/* Lost, or never delivered? The queue's own count says. */
			tern_notify_queue_stats(tern_engine_notify_queue(r->t->receiver), &st);
			print_message(
				"%s round %" PRIu64 ": no notification (%d); queue: %u queued, "
				"%" PRIu64 " delivered, %" PRIu64 " polled, %" PRIu64 " refused\n",
				r->t->label, round, k, st.queued, st.delivered, st.polled,
				st.refused);
			__atomic_store_n(&r->failed, 1, __ATOMIC_RELEASE);
			break;
		}
		/* The promise: every byte of this round is there now. */
		if (test_pattern_check(r->t->dst, r->t->len, n.tag, 0) != SIZE_MAX)
			r->stale++;
		if (n.tag != round || strcmp(n.sender, r->t->sender) != 0 || n.msg_len != 8 ||
		    memcmp(n.msg, &round, 8) != 0)
			r->wrong++;
		__atomic_store_n(&r->seen, round, __ATOMIC_RELEASE);
	}
	tern_client_destroy(c);
	return NULL;
}

uint64_t
test_notify_rounds_run(const struct test_notify_rounds *t)
{
	struct receiver r = { .t = t };
	uint64_t round, t0;
	pthread_t th;

	r.rounds = t->rounds != 0 ? t->rounds : test_notify_rounds_wanted();
	assert_int_equal(pthread_create(&th, NULL, receiver_main, &r), 0);
	t0 = test_now_ns();
	for (round = 1; round <= r.rounds && !__atomic_load_n(&r.failed, __ATOMIC_ACQUIRE);
	     round++) {
		struct tern_request w = test_req(TERN_OP_WRITE, t->target, 0, t->src, t->len);
		struct tern_notify n = { .tag = round, .msg = &round, .msg_len = 8 };

		test_pattern_fill(t->src, t->len, round, 0); /* fresh for every round */
		assert_int_equal(
			test_wait_release(tern_submit(t->initiator, &w, 1,
						      &(struct tern_submit_opts){ .notify = &n })),
			0);
		/* The next round overwrites the target: wait until this one was checked. */
		TEST_WAIT_UNTIL(__atomic_load_n(&r.seen, __ATOMIC_ACQUIRE) >= round ||
					__atomic_load_n(&r.failed, __ATOMIC_ACQUIRE),
				10000);
	}
	pthread_join(th, NULL);
	print_message("%s: %" PRIu64 " rounds of %zu bytes in %.1f s, %" PRIu64
		      " with a stale byte, %" PRIu64 " wrong notifications\n",
		      t->label, r.seen, t->len, (double)(test_now_ns() - t0) / 1e9, r.stale,
		      r.wrong);
	assert_int_equal(r.failed, 0);
	assert_int_equal(r.seen, r.rounds);
	assert_int_equal(r.stale, 0);
	assert_int_equal(r.wrong, 0);
	return r.rounds;
}
