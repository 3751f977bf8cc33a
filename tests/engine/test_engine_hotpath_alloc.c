/* SPDX-License-Identifier: BSD-3-Clause */
/* No allocation on the hot path: in steady state, submit / wait / reap /
 * release call neither malloc and friends (interposed with --wrap) nor
 * rte_malloc (its per-heap counters). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "test_common.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static uint64_t heap_calls;

void *
__wrap_malloc(size_t n)
{
	__atomic_fetch_add(&heap_calls, 1, __ATOMIC_RELAXED);
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
	__atomic_fetch_add(&heap_calls, 1, __ATOMIC_RELAXED);
	return __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
	__atomic_fetch_add(&heap_calls, 1, __ATOMIC_RELAXED);
	return __real_realloc(p, n);
}

void
__wrap_free(void *p)
{
	__atomic_fetch_add(&heap_calls, 1, __ATOMIC_RELAXED);
	__real_free(p);
}

static uint64_t
rte_malloc_allocs(void)
{
	struct rte_malloc_socket_stats st;
	uint64_t sum = 0;
	int s;

	for (s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (rte_malloc_get_socket_stats(s, &st) == 0)
			sum += st.alloc_count;
	return sum;
}

static void
steady_state_makes_no_allocation(void **state)
{
	struct tern_request r[8];
	struct tern_future *f[16], *got[16];
	struct test_env env;
	struct tern_client *c;
	uint64_t heap0, rte0;
	uint8_t *src, *dst;
	uint32_t h;
	unsigned int i, k, n;

	RTE_SET_USED(state);
	/* The interposition works: a malloc here is counted. */
	heap0 = __atomic_load_n(&heap_calls, __ATOMIC_RELAXED);
	{
		void *volatile p = malloc(16);

		free(p);
	}
	assert_int_equal(__atomic_load_n(&heap_calls, __ATOMIC_RELAXED) - heap0, 2);
	test_env_create(&env, "alloc", NULL);
	test_segment_local(&env, "src", 4 << 20, (void **)&src);
	h = test_segment_local(&env, "dst", 4 << 20, (void **)&dst);
	c = tern_client_create(env.engine, NULL);
	assert_non_null(c);
	for (i = 0; i < 8; i++)
		r[i] = (struct tern_request){ .op = (uint8_t)(i & 1 ? TERN_OP_READ : TERN_OP_WRITE),
					      .segment = h,
					      .offset = i * (256u << 10),
					      .local = src + i * (512u << 10),
					      .length = 100000 + i };

	/* Warm up, then count. */
	for (k = 0; k < 2; k++) {
		heap0 = __atomic_load_n(&heap_calls, __ATOMIC_RELAXED);
		rte0 = rte_malloc_allocs();
		for (i = 0; i < 2000; i++) {
			for (n = 0; n < 16; n++) {
				f[n] = tern_submit(c, r, 1 + n % 8, NULL);
				if (f[n] == NULL)
					print_message("submit %u: %s\n", i,
						      rte_strerror(rte_errno));
				assert_non_null(f[n]);
			}
			assert_int_equal(tern_future_wait(f[15], UINT64_MAX), 0);
			for (n = 0; n < 16;) {
				int got_n = tern_client_reap(c, got, 16);

				assert_true(got_n >= 0);
				n += (unsigned int)got_n;
			}
			for (n = 0; n < 16; n++)
				assert_int_equal(tern_future_release(f[n]), 0);
		}
	}
	assert_int_equal(__atomic_load_n(&heap_calls, __ATOMIC_RELAXED) - heap0, 0);
	assert_int_equal(rte_malloc_allocs() - rte0, 0);
	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&env);
	free(src);
	free(dst);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(steady_state_makes_no_allocation),
	};

	RTE_SET_USED(argc);
	RTE_SET_USED(argv);
	test_eal_init("test_engine_hotpath_alloc", "0@(0-1),1@0,2@1", 256);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
