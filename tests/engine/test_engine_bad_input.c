/* SPDX-License-Identifier: BSD-3-Clause */
/* Every entry point refuses bad input with its documented error, and the
 * engine keeps serving afterwards. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_errno.h>
#include <rte_lcore.h>

#include "test_common.h"

#define SEG_BYTES (1u << 20)

struct fixture {
	struct test_env env;
	struct tern_client *client;
	uint8_t *local, *target;
	uint32_t local_h, target_h;
};

static struct fixture fx;

static int
setup(void **state)
{
	RTE_SET_USED(state);
	test_env_create(&fx.env, "bad", &(struct tern_engine_conf){ .max_batch = 8 });
	fx.local_h = test_segment_local(&fx.env, "local", SEG_BYTES, (void **)&fx.local);
	fx.target_h = test_segment_local(&fx.env, "target", SEG_BYTES, (void **)&fx.target);
	fx.client = tern_client_create(fx.env.engine, NULL);
	assert_non_null(fx.client);
	return 0;
}

static struct tern_request
good(void)
{
	struct tern_request r = { .op = TERN_OP_WRITE,
				  .segment = fx.target_h,
				  .offset = 0,
				  .local = fx.local,
				  .length = 4096 };
	return r;
}

/* Submits one bad request; checks EINVAL and that a good one still works. */
static void
expect_einval(struct tern_request bad)
{
	struct tern_request r = good();

	assert_null(tern_submit(fx.client, &bad, 1, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_int_equal(test_wait_release(tern_submit(fx.client, &r, 1, NULL)), 0);
}

static void
submit_rejects_bad_batches(void **state)
{
	struct tern_request r[9];
	unsigned int i;

	RTE_SET_USED(state);
	for (i = 0; i < 9; i++)
		r[i] = good();
	assert_null(tern_submit(NULL, r, 1, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_submit((struct tern_client *)(uintptr_t)fx.local, r, 1, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_submit(fx.client, NULL, 1, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_submit(fx.client, r, 0, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_submit(fx.client, r, 9, NULL)); /* max_batch is 8 */
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_submit(fx.client, r, 1,
				&(struct tern_submit_opts){ .deadline_ns = UINT64_MAX }));
	assert_int_equal(rte_errno, EINVAL);
	assert_int_equal(test_wait_release(tern_submit(fx.client, r, 8, NULL)), 0);
}

static void
submit_rejects_bad_requests(void **state)
{
	struct tern_request r;

	RTE_SET_USED(state);
	r = good(), r.op = 0, expect_einval(r);
	r = good(), r.op = 3, expect_einval(r);
	r = good(), r.length = 0, expect_einval(r);
	r = good(), r.segment = TERN_SEGMENT_INVALID, expect_einval(r);
	r = good(), r.segment = 0x12345678, expect_einval(r);
	r = good(), r.segment = fx.target_h + 0x10000, expect_einval(r); /* stale generation */
	r = good(), r.offset = SEG_BYTES - 4095, expect_einval(r);	 /* past the end */
	r = good(), r.offset = UINT64_MAX - 10, expect_einval(r);	 /* overflow */
	r = good(), r.length = UINT64_MAX, expect_einval(r);
	r = good(), r.local = NULL, expect_einval(r);
	r = good(), r.local = &r, expect_einval(r);			    /* not registered */
	r = good(), r.local = fx.local + SEG_BYTES - 100, expect_einval(r); /* straddles end */
	r = good(), r.local = (void *)(UINTPTR_MAX - 100), expect_einval(r);
}

static void
bad_request_in_the_middle_takes_no_reference(void **state)
{
	struct tern_request r[3] = { good(), good(), good() };
	struct tern_segment_info info;

	RTE_SET_USED(state);
	r[2].length = 0;
	assert_null(tern_submit(fx.client, r, 3, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_int_equal(tern_segment_info(fx.env.segments, fx.target_h, &info), 0);
	assert_int_equal(info.refs, 0);
	assert_int_equal(tern_segment_info(fx.env.segments, fx.local_h, &info), 0);
	assert_int_equal(info.refs, 0);
}

/* A retired segment (its peer's lease expired) is refused with ESTALE, as
 * documented, so that a client knows to resolve the name again. */
static void
retired_target_gives_estale(void **state)
{
	struct tern_request r = good();
	uint8_t *mem;
	uint32_t h;

	RTE_SET_USED(state);
	h = test_segment_local(&fx.env, "retiring", 1 << 16, (void **)&mem);
	r.segment = h;
	assert_int_equal(test_wait_release(tern_submit(fx.client, &r, 1, NULL)), 0);
	assert_int_equal(tern_segment_retire(fx.env.segments, h), 0);
	assert_null(tern_submit(fx.client, &r, 1, NULL));
	assert_int_equal(rte_errno, ESTALE);
	/* Also from the middle of a batch. */
	{
		struct tern_request two[2] = { good(), r };

		assert_null(tern_submit(fx.client, two, 2, NULL));
		assert_int_equal(rte_errno, ESTALE);
	}
	assert_int_equal(tern_segment_unregister(fx.env.segments, h), 0);
	assert_null(tern_submit(fx.client, &r, 1, NULL));
	assert_int_equal(rte_errno, EINVAL); /* gone altogether */
	free(mem);
}

static void
remote_segment_is_not_a_local_buffer(void **state)
{
	struct tern_request r = good();
	uint32_t h;

	RTE_SET_USED(state);
	assert_int_equal(
		tern_segment_register(fx.env.segments,
				      &(struct tern_segment_conf){ .name = "far",
								   .kind = TERN_SEGMENT_REMOTE,
								   .addr = fx.local,
								   .transport = "memcpy",
								   .length = SEG_BYTES },
				      &h),
		0);
	r.segment = fx.target_h;
	r.local = fx.local; /* inside "local" (LOCAL): fine */
	assert_int_equal(test_wait_release(tern_submit(fx.client, &r, 1, NULL)), 0);
	assert_int_equal(tern_segment_unregister(fx.env.segments, fx.local_h), 0);
	/* Now only the REMOTE segment covers the buffer: refused. */
	assert_null(tern_submit(fx.client, &r, 1, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_int_equal(tern_segment_unregister(fx.env.segments, h), 0);
	assert_int_equal(tern_segment_register(fx.env.segments,
					       &(struct tern_segment_conf){ .name = "local",
									    .addr = fx.local,
									    .length = SEG_BYTES },
					       &fx.local_h),
			 0);
}

static void
future_calls_reject_bad_handles(void **state)
{
	struct tern_future *got[2];

	RTE_SET_USED(state);
	assert_int_equal(tern_future_test(NULL), -EINVAL);
	assert_int_equal(tern_future_wait(NULL, 0), -EINVAL);
	assert_int_equal(tern_future_cancel(NULL), -EINVAL);
	assert_int_equal(tern_future_release(NULL), -EINVAL);
	assert_int_equal(tern_future_user_data(NULL), 0);
	assert_int_equal(tern_future_release((struct tern_future *)(uintptr_t)fx.local), -EINVAL);
	assert_int_equal(tern_client_reap(NULL, got, 2), -EINVAL);
	assert_int_equal(tern_client_reap(fx.client, NULL, 2), -EINVAL);
	assert_int_equal(tern_client_destroy(NULL), -EINVAL);
}

static void
engine_and_client_create_reject_bad_configuration(void **state)
{
	unsigned int main_lcore = rte_get_main_lcore(), twice[2] = { 1, 1 }, absent = 100;
	struct tern_engine_conf c = { .name = "x", .segments = fx.env.segments };

	RTE_SET_USED(state);
	assert_null(tern_engine_create(NULL));
	assert_int_equal(rte_errno, EINVAL);
	c.segments = NULL;
	assert_null(tern_engine_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	c.segments = fx.env.segments;
	c.name = "bad name";
	assert_null(tern_engine_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	c.name = "x";
	c.slice_bytes = 100;
	assert_null(tern_engine_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	c.slice_bytes = 0;
	c.max_batch = TERN_BATCH_MAX + 1;
	assert_null(tern_engine_create(&c));
	c.max_batch = 0;
	c.flags = 1u << 30;
	assert_null(tern_engine_create(&c));
	c.flags = 0;
	c.lcores = &main_lcore, c.nb_lcores = 1;
	assert_null(tern_engine_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	c.lcores = twice, c.nb_lcores = 2;
	assert_null(tern_engine_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	c.lcores = &absent, c.nb_lcores = 1;
	assert_null(tern_engine_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	/* The fixture's engine owns every worker lcore: they are busy. */
	c.lcores = NULL, c.nb_lcores = 0;
	assert_null(tern_engine_create(&c));
	assert_int_equal(rte_errno, EBUSY);

	assert_null(tern_client_create(NULL, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_client_create(fx.env.engine,
				       &(struct tern_client_conf){ .max_inflight = 1u << 20 }));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_client_create(fx.env.engine, &(struct tern_client_conf){ .flags = 8 }));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_client_create(
		fx.env.engine, &(struct tern_client_conf){ .flags = TERN_CLIENT_F_HOME_LCORE,
							   .home_lcore = main_lcore }));
	assert_int_equal(rte_errno, EINVAL);
}

static void
max_clients_is_enforced(void **state)
{
	struct test_env env;
	struct tern_client *c[3];

	RTE_SET_USED(state);
	/* A second engine needs lcores: take the fixture's down first. */
	assert_int_equal(tern_client_destroy(fx.client), 0);
	assert_int_equal(tern_engine_destroy(fx.env.engine), 0);
	test_env_create(&env, "maxc", &(struct tern_engine_conf){ .max_clients = 2 });
	assert_non_null(c[0] = tern_client_create(env.engine, NULL));
	assert_non_null(c[1] = tern_client_create(env.engine, NULL));
	assert_null(c[2] = tern_client_create(env.engine, NULL));
	assert_int_equal(rte_errno, ENOSPC);
	assert_int_equal(tern_client_destroy(c[1]), 0);
	assert_int_equal(tern_client_destroy(c[1]), -EINVAL); /* destroyed twice */
	assert_non_null(c[1] = tern_client_create(env.engine, NULL));
	test_env_destroy(&env);
	fx.env.engine = tern_engine_create(&(struct tern_engine_conf){
		.name = "bad2", .segments = fx.env.segments, .flags = TERN_ENGINE_F_IDLE_YIELD });
	assert_non_null(fx.env.engine);
	fx.client = tern_client_create(fx.env.engine, NULL);
	assert_non_null(fx.client);
}

static void
calls_after_destroy_fail_cleanly(void **state)
{
	struct tern_request r = good();
	struct tern_engine *e = fx.env.engine;
	struct tern_future *got[1];
	struct tern_lcore_stats st;
	struct tern_pool_stats ps;

	RTE_SET_USED(state);
	assert_int_equal(tern_engine_destroy(e), 0);
	fx.env.engine = NULL;
	assert_int_equal(tern_engine_destroy(e), -ESHUTDOWN);
	assert_null(tern_submit(fx.client, &r, 1, NULL));
	assert_int_equal(rte_errno, ESHUTDOWN);
	assert_null(tern_client_create(e, NULL));
	assert_int_equal(rte_errno, ESHUTDOWN);
	assert_int_equal(tern_client_reap(fx.client, got, 1), -ESHUTDOWN);
	assert_int_equal(tern_client_destroy(fx.client), -ESHUTDOWN);
	assert_int_equal(tern_engine_lcore_stats(e, 1, &st), -ESHUTDOWN);
	assert_int_equal(tern_engine_pool_stats(e, &ps), -ESHUTDOWN);
	assert_int_equal(tern_engine_lcores(e, NULL, 0), -ESHUTDOWN);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(submit_rejects_bad_batches),
		cmocka_unit_test(submit_rejects_bad_requests),
		cmocka_unit_test(bad_request_in_the_middle_takes_no_reference),
		cmocka_unit_test(retired_target_gives_estale),
		cmocka_unit_test(remote_segment_is_not_a_local_buffer),
		cmocka_unit_test(future_calls_reject_bad_handles),
		cmocka_unit_test(engine_and_client_create_reject_bad_configuration),
		cmocka_unit_test(max_clients_is_enforced),
		cmocka_unit_test(calls_after_destroy_fail_cleanly),
	};
	int ret;

	RTE_SET_USED(argc);
	RTE_SET_USED(argv);
	test_eal_init("test_engine_bad_input", "0@(0-1),1@0,2@1", 256);
	setup(NULL);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	test_env_destroy(&fx.env);
	free(fx.local);
	free(fx.target);
	return ret;
}
