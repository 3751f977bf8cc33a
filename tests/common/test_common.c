/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_memory.h>
#include <rte_errno.h>

#include "test_common.h"

int
test_eal_init(const char *prog, const char *lcores, unsigned int mem_mb)
{
	char prefix[64], mem[16];
	char *argv[] = { (char *)(uintptr_t)prog,
			 "--no-huge",
			 "-m",
			 mem,
			 "--no-pci",
			 "--file-prefix",
			 prefix,
			 "--lcores",
			 (char *)(uintptr_t)lcores,
			 "--log-level",
			 "lib.eal:error",
			 "--no-telemetry" };
	int ret;

	snprintf(prefix, sizeof(prefix), "tern_%s_%d", prog, (int)getpid());
	snprintf(mem, sizeof(mem), "%u", mem_mb);
	ret = rte_eal_init((int)RTE_DIM(argv), argv);
	if (ret < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	return 0;
}

void
test_env_create(struct test_env *env, const char *tag, const struct tern_engine_conf *conf)
{
	struct tern_engine_conf c = { 0 };
	char name[32];

	if (conf != NULL)
		c = *conf;
	snprintf(name, sizeof(name), "t_%s", tag);
	env->segments = tern_segment_table_create(name, 64, SOCKET_ID_ANY);
	assert_non_null(env->segments);
	snprintf(name, sizeof(name), "e_%s", tag);
	c.name = name;
	c.segments = env->segments;
	c.flags |= TERN_ENGINE_F_IDLE_YIELD;
	env->engine = tern_engine_create(&c);
	if (env->engine == NULL)
		fprintf(stderr, "tern_engine_create: %s\n", rte_strerror(rte_errno));
	assert_non_null(env->engine);
}

void
test_env_destroy(struct test_env *env)
{
	uint32_t h;

	if (env->engine != NULL)
		assert_int_equal(tern_engine_destroy(env->engine), 0);
	while ((h = tern_segment_next(env->segments, 0)) != TERN_SEGMENT_INVALID)
		assert_int_equal(tern_segment_unregister(env->segments, h), 0);
	assert_int_equal(tern_segment_table_free(env->segments), 0);
	env->engine = NULL;
	env->segments = NULL;
}

uint32_t
test_segment_local(struct test_env *env, const char *name, uint64_t length, void **mem)
{
	struct tern_segment_conf conf = { 0 };
	uint32_t handle;
	void *p = aligned_alloc(4096, (length + 4095) & ~4095ull);

	assert_non_null(p);
	conf.name = name;
	conf.addr = p;
	conf.length = length;
	conf.socket_id = SOCKET_ID_ANY;
	assert_int_equal(tern_segment_register(env->segments, &conf, &handle), 0);
	*mem = p;
	return handle;
}

static inline uint8_t
pattern_byte(uint64_t seed, uint64_t pos)
{
	uint64_t x = (pos + 1) * 0x9e3779b97f4a7c15ull ^ seed;

	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 17));
}

void
test_pattern_fill(void *p, size_t n, uint64_t seed, uint64_t offset)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = pattern_byte(seed, offset + i);
}

size_t
test_pattern_check(const void *p, size_t n, uint64_t seed, uint64_t offset)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != pattern_byte(seed, offset + i))
			return i;
	return SIZE_MAX;
}

struct tern_request
test_req(uint8_t op, uint32_t seg, uint64_t off, void *local, uint64_t len)
{
	struct tern_request r = {
		.op = op, .segment = seg, .offset = off, .local = local, .length = len
	};
	return r;
}

int
test_wait_release(struct tern_future *f)
{
	int status;

	assert_non_null(f);
	status = tern_future_wait(f, UINT64_MAX);
	assert_int_equal(tern_future_release(f), 0);
	return status;
}

uint64_t
test_sum_stat(struct tern_engine *engine, size_t field_offset)
{
	unsigned int lcores[TERN_ENGINE_MAX_LCORES];
	struct tern_lcore_stats st;
	uint64_t sum = 0;
	int n, i;

	n = tern_engine_lcores(engine, lcores, TERN_ENGINE_MAX_LCORES);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(tern_engine_lcore_stats(engine, lcores[i], &st), 0);
		sum += *(const uint64_t *)((const uint8_t *)&st + field_offset);
	}
	return sum;
}

uint64_t
test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
test_file_holding(char *path, size_t len, const char *content)
{
	int fd;

	snprintf(path, len, "/tmp/tern_test_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}
