/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TEST_COMMON_H
#define TERN_TEST_COMMON_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#include <tern_engine.h>
#include <tern_segment_driver.h>

/*
 * rte_eal_init() for a test program: no hugepages, no PCI, a file prefix of
 * its own, and @lcores as the lcore map (e.g. "(0-2)@(0-1)": three lcores
 * floating on the machine's two CPUs). Returns 0 or fails the test.
 */
int test_eal_init(const char *prog, const char *lcores, unsigned int mem_mb);

/* An engine over a fresh segment table, worker lcores = every EAL worker. */
struct test_env {
	struct tern_segment_table *segments;
	struct tern_engine *engine;
};

/* Creates the table "t_<tag>" and an engine "e_<tag>" with @conf (may be NULL;
 * its segments and name are filled in). IDLE_YIELD is always set: tests share
 * two CPUs between the lcores and the test thread. */
void test_env_create(struct test_env *env, const char *tag, const struct tern_engine_conf *conf);
/* Destroys the engine, unregisters every segment and frees the table. */
void test_env_destroy(struct test_env *env);

/* Registers a LOCAL segment on caller memory (aligned_alloc), returns its handle. */
uint32_t test_segment_local(struct test_env *env, const char *name, uint64_t length, void **mem);

/* Fills @p with a pattern derived from @seed and @offset (byte-exact checks). */
void test_pattern_fill(void *p, size_t n, uint64_t seed, uint64_t offset);
/* Returns the first offset that differs from the pattern, or SIZE_MAX. */
size_t test_pattern_check(const void *p, size_t n, uint64_t seed, uint64_t offset);

/* A new file in /tmp holding @content (a secret, a config); its path goes
 * to @path (@len bytes). The test removes it. Fails the test on error. */
void test_file_holding(char *path, size_t len, const char *content);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t test_now_ns(void);

/*
 * Every wait in a test is bounded: wait until @cond holds, yielding the CPU,
 * and fail the test naming the condition when @ms milliseconds pass first.
 * (cmocka's fail_msg: use it on the test's own thread.)
 */
#define TEST_WAIT_UNTIL(cond, ms)                                               \
	do {                                                                    \
		uint64_t test_end_ = test_now_ns() + (uint64_t)(ms)*1000000ull; \
		while (!(cond)) {                                               \
			if (test_now_ns() > test_end_)                          \
				fail_msg("%s: still false after %u ms", #cond,  \
					 (unsigned int)(ms));                   \
			sched_yield();                                          \
		}                                                               \
	} while (0)

/* Waits for the future, returns its status, releases it. */
int test_wait_release(struct tern_future *f);

/* One request, in the order its fields are usually read. */
struct tern_request test_req(uint8_t op, uint32_t seg, uint64_t off, void *local, uint64_t len);

/* Sums one counter over the engine's lcores. */
uint64_t test_sum_stat(struct tern_engine *engine, size_t field_offset);
#define TEST_SUM_STAT(engine, field) test_sum_stat(engine, offsetof(struct tern_lcore_stats, field))

#endif
