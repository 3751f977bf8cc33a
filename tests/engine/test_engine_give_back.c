/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's side of the give_back op (issue 15): slices a transport
 * accepted and hands back go to their target's last resort within the
 * batch's deadline, are counted there (fallback_slices, no completion from
 * the first transport), fail with the status given when there is no last
 * resort, and count as cancelled once their batch is resolved. The engine
 * never asks for more than its stages can take. Two fake transports: "gba"
 * holds what it takes until the test says give back (or complete), "gbb"
 * (the last resort) completes what it takes at its next poll.
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
#include <rte_errno.h>
#include <rte_malloc.h>

#include <tern_engine.h>
#include <tern_segment.h>
#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "engine_private.h"
#include "test_common.h"

#define SLICE_BYTES (64u << 10)
#define BATCH_BYTES (1u << 20) /* 16 slices */
#define BATCHES	    32u
#define REMOTE_LEN  ((uint64_t)BATCHES * BATCH_BYTES)
#define GIVE_STATUS (-ENETDOWN)
#define PEER	    3

/* What "gba" does with what it holds: keep it, hand it back, complete it. */
enum { GBA_HOLD, GBA_GIVE, GBA_COMPLETE };

struct fake_ep {
	struct tern_endpoint base; /* first */
	uint32_t nb;
	uint32_t cap;
	struct tern_slice held[];
};

static int gba_mode;
static uint64_t gba_given;    /* slices handed back */
static uint64_t gba_held;     /* slices held, every endpoint */
static uint32_t gba_max_seen; /* largest max the engine asked for */
static uint64_t gbb_done;     /* slices the last resort completed */
static uint64_t gbb_wrong;    /* of those, not what was handed back */

static struct fake_ep *
fep(struct tern_endpoint *base)
{
	return container_of(base, struct fake_ep, base);
}

static struct tern_endpoint *
fake_open(const struct tern_endpoint_conf *conf)
{
	struct fake_ep *ep =
		rte_zmalloc("gb_ep", sizeof(*ep) + conf->max_slices * sizeof(ep->held[0]), 0);

	if (ep == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ep->cap = conf->max_slices;
	ep->base.lcore_id = conf->lcore_id;
	return &ep->base;
}

static void
fake_close(struct tern_endpoint *base)
{
	rte_free(fep(base));
}

static uint16_t
fake_post(struct tern_endpoint *base, const struct tern_slice *s, uint16_t nb)
{
	struct fake_ep *ep = fep(base);
	uint16_t i;

	for (i = 0; i < nb && ep->nb < ep->cap; i++)
		ep->held[ep->nb++] = s[i];
	return i;
}

/* Completes what it holds with @status. */
static uint16_t
fake_complete(struct fake_ep *ep, struct tern_completion *cpl, uint16_t max, int32_t status)
{
	uint16_t n = 0;

	while (n < max && ep->nb != 0) {
		const struct tern_slice *s = &ep->held[--ep->nb];

		cpl[n++] = (struct tern_completion){ .cookie = s->cookie,
						     .status = status,
						     .length = status == 0 ? s->length : 0 };
	}
	return n;
}

static uint16_t
gba_post(struct tern_endpoint *base, const struct tern_slice *s, uint16_t nb)
{
	uint16_t n = fake_post(base, s, nb);

	__atomic_fetch_add(&gba_held, n, __ATOMIC_RELAXED);
	return n;
}

static uint16_t
gba_poll(struct tern_endpoint *base, struct tern_completion *cpl, uint16_t max)
{
	struct fake_ep *ep = fep(base);
	uint16_t n;

	switch (__atomic_load_n(&gba_mode, __ATOMIC_ACQUIRE)) {
	case GBA_GIVE:
		ep->base.give_back = ep->nb;
		return 0;
	case GBA_COMPLETE:
		n = fake_complete(ep, cpl, max, 0);
		__atomic_fetch_sub(&gba_held, n, __ATOMIC_RELAXED);
		return n;
	default:
		return 0;
	}
}

static uint16_t
gba_give_back(struct tern_endpoint *base, struct tern_slice *out, int32_t *status, uint16_t max)
{
	struct fake_ep *ep = fep(base);
	uint32_t seen = __atomic_load_n(&gba_max_seen, __ATOMIC_RELAXED);
	uint16_t n = 0;

	while (max > seen && !__atomic_compare_exchange_n(&gba_max_seen, &seen, max, false,
							  __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	while (n < max && ep->nb != 0 && ep->base.give_back != 0) {
		const struct tern_slice *s = &ep->held[--ep->nb];

		/* What the contract asks for, and nothing more. */
		out[n] = (struct tern_slice){ .cookie = s->cookie,
					      .local = s->local,
					      .target = s->target,
					      .offset = s->offset,
					      .length = s->length,
					      .op = s->op };
		status[n++] = GIVE_STATUS;
		ep->base.give_back--;
	}
	__atomic_fetch_add(&gba_given, n, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&gba_held, n, __ATOMIC_RELAXED);
	return n;
}

static void
gba_cancel(struct tern_endpoint *base)
{
	__atomic_store_n(&gba_mode, GBA_COMPLETE, __ATOMIC_RELEASE);
	fep(base)->base.give_back = 0;
}

static uint16_t
gbb_poll(struct tern_endpoint *base, struct tern_completion *cpl, uint16_t max)
{
	struct fake_ep *ep = fep(base);
	uint16_t i, n;

	for (i = 0; i < ep->nb && i < max; i++) {
		const struct tern_slice *s = &ep->held[ep->nb - 1 - i];

		/* The engine filled in what give_back left out. */
		if (s->local_seg == NULL || strcmp(s->target->name, "b") != 0 ||
		    s->length != SLICE_BYTES || s->op != TERN_OP_WRITE)
			__atomic_fetch_add(&gbb_wrong, 1, __ATOMIC_RELAXED);
	}
	n = fake_complete(ep, cpl, max, 0);
	__atomic_fetch_add(&gbb_done, n, __ATOMIC_RELAXED);
	return n;
}

static void
gbb_cancel(struct tern_endpoint *base)
{
	(void)base;
}

static const struct tern_transport_ops gba_ops = {
	.name = "gba",
	.rank = 101,
	.endpoint_open = fake_open,
	.post_burst = gba_post,
	.poll = gba_poll,
	.cancel = gba_cancel,
	.endpoint_close = fake_close,
	.give_back = gba_give_back,
};

static const struct tern_transport_ops gbb_ops = {
	.name = "gbb",
	.rank = 102,
	.endpoint_open = fake_open,
	.post_burst = fake_post,
	.poll = gbb_poll,
	.cancel = gbb_cancel,
	.endpoint_close = fake_close,
};

struct gfx {
	struct test_env env;
	struct tern_client *client;
	uint8_t *local;
	uint32_t local_h;
	uint32_t a_h; /* gba, its last resort b_h */
	uint32_t b_h; /* gbb */
	uint32_t c_h; /* gba, no last resort */
};

static uint32_t
remote_segment(struct gfx *f, const char *name, const char *transport)
{
	uint32_t h = TERN_SEGMENT_INVALID;

	assert_int_equal(tern_segment_register(f->env.segments,
					       &(struct tern_segment_conf){
						       .name = name,
						       .kind = TERN_SEGMENT_REMOTE,
						       .transport = transport,
						       .length = REMOTE_LEN,
						       .peer = PEER,
					       },
					       &h),
			 0);
	return h;
}

static int
setup(void **state)
{
	struct gfx *f = calloc(1, sizeof(*f));
	struct tern_engine_conf conf = { .slice_bytes = SLICE_BYTES,
					 .deadline_ns = 5ull * 1000 * 1000 * 1000 };

	assert_non_null(f);
	__atomic_store_n(&gba_mode, GBA_HOLD, __ATOMIC_RELEASE);
	gba_given = gba_held = gbb_done = gbb_wrong = 0;
	gba_max_seen = 0;
	test_env_create(&f->env, "gback", &conf);
	f->local_h = test_segment_local(&f->env, "local", REMOTE_LEN, (void **)&f->local);
	f->a_h = remote_segment(f, "a", "gba");
	f->b_h = remote_segment(f, "b", "gbb");
	f->c_h = remote_segment(f, "c", "gba");
	assert_int_equal(tern_segment_set_fallback(f->env.segments, f->a_h, f->b_h), 0);
	f->client = tern_client_create(f->env.engine,
				       &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	assert_non_null(f->client);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct gfx *f = *state;

	assert_int_equal(tern_client_destroy(f->client), 0);
	assert_int_equal(tern_segment_set_fallback(f->env.segments, f->a_h, TERN_SEGMENT_INVALID),
			 0);
	test_env_destroy(&f->env);
	free(f->local);
	free(f);
	return 0;
}

/* Submits @p nb WRITE batches of BATCH_BYTES to @p target, deadline @p ns (0:
 * the engine's); waits until gba holds @p held slices. */
static void
submit(struct gfx *f, uint32_t target, unsigned int nb, uint64_t ns, uint64_t held,
       struct tern_future **fut)
{
	struct tern_submit_opts o = { .deadline_ns = ns };
	unsigned int i;

	for (i = 0; i < nb; i++) {
		struct tern_request r = test_req(TERN_OP_WRITE, target, (uint64_t)i * BATCH_BYTES,
						 f->local + (uint64_t)i * BATCH_BYTES, BATCH_BYTES);

		fut[i] = tern_submit(f->client, &r, 1, &o);
		assert_non_null(fut[i]);
	}
	TEST_WAIT_UNTIL(__atomic_load_n(&gba_held, __ATOMIC_RELAXED) == held, 5000);
}

/* Slices the engine's lcores count as posted and not completed. */
static uint64_t
posted(struct gfx *f)
{
	const struct engine_shared *sh = f->env.engine->sh;
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < sh->nb_workers; i++)
		n += __atomic_load_n(&sh->counters[i].posted, __ATOMIC_RELAXED);
	return n;
}

static uint64_t
fallback_slices(struct gfx *f)
{
	struct tern_peer_traffic tr;

	assert_int_equal(tern_engine_peer_traffic(f->env.engine, PEER, &tr), 0);
	return tr.fallback_slices;
}

/* Every slice of 32 batches held, then handed back: all go to the last
 * resort, every batch succeeds, the counts add up, and the engine asked for
 * no more than one claim's worth at a time. */
static void
handed_back_slices_go_to_the_last_resort(void **state)
{
	struct gfx *f = *state;
	struct tern_future *fut[BATCHES];
	uint64_t total = (uint64_t)BATCHES * (BATCH_BYTES / SLICE_BYTES);
	unsigned int i;

	submit(f, f->a_h, BATCHES, 0, total, fut);
	assert_int_equal(fallback_slices(f), 0);
	__atomic_store_n(&gba_mode, GBA_GIVE, __ATOMIC_RELEASE);
	for (i = 0; i < BATCHES; i++)
		assert_int_equal(test_wait_release(fut[i]), 0);
	print_message("%" PRIu64 " slices handed back, %" PRIu64
		      " completed by the last resort, largest ask %u\n",
		      gba_given, gbb_done, gba_max_seen);
	assert_int_equal(gba_given, total);
	assert_int_equal(gbb_done, total);
	assert_int_equal(gbb_wrong, 0);
	assert_int_equal(fallback_slices(f), total);
	assert_true(gba_max_seen > 0 && gba_max_seen <= 32);
	assert_int_equal(TEST_SUM_STAT(f->env.engine, errors), 0);
	assert_int_equal(posted(f), 0);
}

/* No last resort: the slices complete with the status given with them, the
 * batches fail with it, long before their deadline. */
static void
no_last_resort_fails_with_the_given_status(void **state)
{
	struct gfx *f = *state;
	struct tern_future *fut[4];
	uint64_t t0;
	unsigned int i;

	submit(f, f->c_h, 4, 0, 4 * (BATCH_BYTES / SLICE_BYTES), fut);
	t0 = test_now_ns();
	__atomic_store_n(&gba_mode, GBA_GIVE, __ATOMIC_RELEASE);
	for (i = 0; i < 4; i++)
		assert_int_equal(test_wait_release(fut[i]), GIVE_STATUS);
	assert_true(test_now_ns() - t0 < 1000ull * 1000 * 1000);
	assert_int_equal(gbb_done, 0);
	assert_int_equal(fallback_slices(f), 0);
	assert_int_equal(TEST_SUM_STAT(f->env.engine, errors), 4 * (BATCH_BYTES / SLICE_BYTES));
	assert_int_equal(posted(f), 0);
}

/* Handed back after the batch's deadline: not posted again, counted as
 * cancelled; the future has its -ETIMEDOUT and the engine holds nothing. */
static void
after_the_deadline_counts_as_cancelled(void **state)
{
	struct gfx *f = *state;
	struct tern_future *fut[2];
	uint64_t slices = 2 * (BATCH_BYTES / SLICE_BYTES), cancels0;

	submit(f, f->a_h, 2, 20ull * 1000 * 1000, slices, fut);
	TEST_WAIT_UNTIL(tern_future_wait(fut[0], 0) != -EINPROGRESS &&
				tern_future_wait(fut[1], 0) != -EINPROGRESS,
			5000);
	cancels0 = TEST_SUM_STAT(f->env.engine, cancels);
	__atomic_store_n(&gba_mode, GBA_GIVE, __ATOMIC_RELEASE);
	assert_int_equal(test_wait_release(fut[0]), -ETIMEDOUT);
	assert_int_equal(test_wait_release(fut[1]), -ETIMEDOUT);
	TEST_WAIT_UNTIL(__atomic_load_n(&gba_given, __ATOMIC_RELAXED) == slices, 5000);
	TEST_WAIT_UNTIL(TEST_SUM_STAT(f->env.engine, cancels) - cancels0 == slices, 5000);
	assert_int_equal(gbb_done, 0);
	assert_int_equal(fallback_slices(f), 0);
	assert_int_equal(posted(f), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(handed_back_slices_go_to_the_last_resort, setup,
						teardown),
		cmocka_unit_test_setup_teardown(no_last_resort_fails_with_the_given_status, setup,
						teardown),
		cmocka_unit_test_setup_teardown(after_the_deadline_counts_as_cancelled, setup,
						teardown),
	};

	(void)argc;
	(void)argv;
	if (tern_transport_register(&gba_ops) < 0 || tern_transport_register(&gbb_ops) < 0)
		return 1;
	test_eal_init("engine_give_back", "(0-2)@(0-1)", 256);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
