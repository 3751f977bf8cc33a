/* SPDX-License-Identifier: BSD-3-Clause */
/* Data integrity: several client threads, many batches of random sizes
 * (1 byte to several MiB) at unaligned addresses, every byte verified. */
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

#include "test_common.h"

#define CLIENTS	 4
#define REGION	 (8u << 20) /* per client, in each segment */
#define BATCHES	 60
#define MAX_REQS 16

struct worker_arg {
	struct tern_engine *engine;
	uint8_t *local;	      /* this client's region of the local segment */
	uint8_t *remote;      /* this client's region of the target segment */
	uint32_t target;      /* target segment handle */
	uint64_t remote_base; /* offset of the region in the target */
	unsigned int id;
	int failures;
	uint64_t bytes;
};

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A random length, mostly small, sometimes several MiB. */
static uint64_t
rnd_len(uint64_t *s, uint64_t max)
{
	uint64_t len;

	switch (rnd(s) % 4) {
	case 0:
		len = 1 + rnd(s) % 64;
		break;
	case 1:
		len = 1 + rnd(s) % 65536;
		break;
	case 2:
		len = 1 + rnd(s) % (1 << 20);
		break;
	default:
		len = 1 + rnd(s) % (3u << 20);
		break;
	}
	return RTE_MIN(len, max);
}

static void
submit_and_wait(struct tern_client *c, struct tern_request *r, uint32_t n, int *failures)
{
	uint64_t give_up = test_now_ns() + 10ull * 1000000000ull;
	struct tern_future *f;
	int ret;

	while ((f = tern_submit(c, r, n, NULL)) == NULL) {
		if (rte_errno != EAGAIN || test_now_ns() > give_up) {
			print_message("submit failed: %s\n", rte_strerror(rte_errno));
			(*failures)++;
			return;
		}
		rte_pause();
	}
	ret = tern_future_wait(f, UINT64_MAX);
	if (ret != 0) {
		print_message("batch of %u failed: %d\n", n, ret);
		(*failures)++;
	}
	if (tern_future_release(f) != 0) {
		print_message("release failed\n");
		(*failures)++;
	}
}

static void *
client_thread(void *p)
{
	struct worker_arg *a = p;
	struct tern_client *c = tern_client_create(
		a->engine, &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	uint64_t seed = 0x1234567ull + a->id * 7919, s = seed;
	struct tern_request r[MAX_REQS];
	unsigned int b, i, n;

	if (c == NULL) {
		print_message("client create failed: %s\n", rte_strerror(rte_errno));
		a->failures++;
		return NULL;
	}
	for (b = 0; b < BATCHES; b++) {
		uint64_t pos = rnd(&s) % 4096, lpos = rnd(&s) % 4096;
		uint64_t batch_seed = seed * 1000 + b;

		n = 1 + (unsigned int)(rnd(&s) % MAX_REQS);
		/* Lay the requests out back to back (with gaps) in the region. */
		for (i = 0; i < n; i++) {
			uint64_t room = REGION - RTE_MAX(pos, lpos);
			uint64_t len;

			if (room < 2)
				break;
			len = rnd_len(&s, room / 2);
			test_pattern_fill(a->local + lpos, len, batch_seed, i << 24);
			r[i] = (struct tern_request){ .op = TERN_OP_WRITE,
						      .segment = a->target,
						      .offset = a->remote_base + pos,
						      .local = a->local + lpos,
						      .length = len };
			pos += len + rnd(&s) % 97;
			lpos += len + rnd(&s) % 89;
			a->bytes += len;
		}
		n = i;
		if (n == 0)
			continue;
		submit_and_wait(c, r, n, &a->failures);
		for (i = 0; i < n; i++)
			if (test_pattern_check(a->remote + (r[i].offset - a->remote_base),
					       r[i].length, batch_seed,
					       (uint64_t)i << 24) != SIZE_MAX)
				a->failures++;
		/* Read everything back into zeroed local memory. */
		for (i = 0; i < n; i++) {
			memset(r[i].local, 0, r[i].length);
			r[i].op = TERN_OP_READ;
		}
		submit_and_wait(c, r, n, &a->failures);
		for (i = 0; i < n; i++)
			if (test_pattern_check(r[i].local, r[i].length, batch_seed,
					       (uint64_t)i << 24) != SIZE_MAX)
				a->failures++;
	}
	if (tern_client_destroy(c) != 0) {
		print_message("client destroy failed\n");
		a->failures++;
	}
	return NULL;
}

static void
many_clients_random_batches_every_byte_verified(void **state)
{
	struct worker_arg args[CLIENTS];
	pthread_t th[CLIENTS];
	struct tern_pool_stats ps;
	struct test_env env;
	uint8_t *local, *remote;
	uint32_t target;
	uint64_t bytes = 0;
	unsigned int i;

	RTE_SET_USED(state);
	/* Small slices so that requests are cut in many pieces. The test checks
	 * bytes, not time: a deadline of 60 s, not the default 5 s, which a
	 * batch of 15 missed on a host at load average 10. */
	test_env_create(&env, "integ",
			&(struct tern_engine_conf){ .slice_bytes = 64 << 10,
						    .max_batch = MAX_REQS,
						    .share_bytes = 128 << 10,
						    .deadline_ns = 60ull * 1000000000ull });
	test_segment_local(&env, "local", CLIENTS * (uint64_t)REGION, (void **)&local);
	target = test_segment_local(&env, "remote", CLIENTS * (uint64_t)REGION, (void **)&remote);
	memset(remote, 0, CLIENTS * (size_t)REGION);
	for (i = 0; i < CLIENTS; i++) {
		args[i] = (struct worker_arg){ .engine = env.engine,
					       .local = local + i * (size_t)REGION,
					       .remote = remote + i * (size_t)REGION,
					       .target = target,
					       .remote_base = i * (uint64_t)REGION,
					       .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, client_thread, &args[i]), 0);
	}
	for (i = 0; i < CLIENTS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
		bytes += args[i].bytes;
	}
	print_message("%u clients moved and verified %" PRIu64 " MiB each way\n", CLIENTS,
		      bytes >> 20);
	assert_int_equal(TEST_SUM_STAT(env.engine, errors), 0);
	for (i = 0; i < 2000; i++) { /* lcores drop their references just after */
		assert_int_equal(tern_engine_pool_stats(env.engine, &ps), 0);
		if (ps.available == ps.total)
			break;
		usleep(1000);
	}
	print_message("pool: %u of %u available after %u ms\n", ps.available, ps.total, i);
	assert_int_equal(ps.available, ps.total);
	test_env_destroy(&env);
	free(local);
	free(remote);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(many_clients_random_batches_every_byte_verified),
	};

	RTE_SET_USED(argc);
	RTE_SET_USED(argv);
	test_eal_init("test_engine_integrity", "0@(0-1),1@0,2@1", 256);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
