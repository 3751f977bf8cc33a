/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-perf --store N: the object store (doc/store.md) against raw tern
 * WRITE/READ of the same bytes between the same segments, in one run.
 *
 * Per block size S and round: put N keys of S bytes (--batch keys per
 * future, one future in flight), get them back, compare every byte
 * (untimed), remove them (untimed); then WRITE and READ the same N x S
 * bytes with --batch requests per future. The capacity is the target
 * segment, large enough that nothing is evicted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_errno.h>

#include <tern_engine.h>
#include <tern_store.h>

#include "perf.h"

#define PROG "tern-perf"

struct store_times {
	double put_s, get_s, write_s, read_s;
	uint64_t mismatches;
	int error;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
word(uint64_t seed, uint64_t i)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull ^ (i * 0xbf58476d1ce4e5b9ull);

	return x ^ (x >> 31);
}

static void
fill(uint8_t *p, uint64_t n, uint64_t seed)
{
	uint64_t i, w;

	for (i = 0; i + 8 <= n; i += 8) {
		w = word(seed, i / 8);
		memcpy(p + i, &w, 8);
	}
	for (w = word(seed, i / 8); i < n; i++, w >>= 8)
		p[i] = (uint8_t)w;
}

static bool
check(const uint8_t *p, uint64_t n, uint64_t seed)
{
	uint64_t i, w;

	for (i = 0; i + 8 <= n; i += 8) {
		w = word(seed, i / 8);
		if (memcmp(p + i, &w, 8) != 0)
			return false;
	}
	for (w = word(seed, i / 8); i < n; i++, w >>= 8)
		if (p[i] != (uint8_t)w)
			return false;
	return true;
}

/* One store batch: put (sizes = S) or get (sizes = room). */
static int
store_batch(struct tern_store *st, bool put, const char *const *keys, void *const *bufs,
	    const uint64_t *sizes, uint32_t nb)
{
	struct tern_store_future *f = put ? tern_store_put(st, keys, bufs, sizes, nb, NULL)
					  : tern_store_get(st, keys, bufs, sizes, nb);
	int ret;

	if (f == NULL)
		return -rte_errno;
	ret = tern_store_future_wait(f, UINT64_MAX);
	tern_store_future_release(f);
	return ret;
}

static int
raw_batch(struct tern_client *c, struct tern_request *r, uint32_t nb)
{
	struct tern_future *f = tern_submit(c, r, nb, NULL);
	int ret;

	if (f == NULL)
		return -rte_errno;
	ret = tern_future_wait(f, UINT64_MAX);
	tern_future_release(f);
	return ret;
}

static int
run_round(const struct perf_args *a, const struct perf_store_env *env, struct tern_store *st,
	  struct tern_client *raw, char (*names)[16], uint64_t size, unsigned int round,
	  struct store_times *t)
{
	uint32_t n = a->store_keys, b = a->batch, i, j;
	const char *keys[TERN_STORE_BATCH_MAX];
	void *bufs[TERN_STORE_BATCH_MAX];
	uint64_t sizes[TERN_STORE_BATCH_MAX];
	struct tern_request reqs[TERN_STORE_BATCH_MAX];
	double t0;
	int ret = 0, r;

	for (i = 0; i < n; i++)
		fill(env->local_base + i * size, size, (uint64_t)round * n + i);
	for (int phase = 0; phase < 2; phase++) {
		t0 = now_s();
		for (i = 0; i < n && ret == 0; i += b) {
			uint32_t nb = RTE_MIN(b, n - i);

			for (j = 0; j < nb; j++) {
				keys[j] = names[i + j];
				bufs[j] = env->local_base + (i + j) * size;
				sizes[j] = size;
			}
			ret = store_batch(st, phase == 0, keys, bufs, sizes, nb);
		}
		if (phase == 0) {
			t->put_s += now_s() - t0;
			memset(env->local_base, 0, (uint64_t)n * size);
		} else {
			t->get_s += now_s() - t0;
		}
	}
	for (i = 0; i < n && ret == 0; i++)
		if (!check(env->local_base + i * size, size, (uint64_t)round * n + i))
			t->mismatches++;
	for (i = 0; i < n; i += b) {
		uint32_t nb = RTE_MIN(b, n - i);

		for (j = 0; j < nb; j++)
			keys[j] = names[i + j];
		r = tern_store_remove(st, keys, nb, NULL);
		if (r != (int)nb && ret == 0)
			ret = r < 0 ? r : -EIO;
	}
	/* Raw tern: the same bytes, the same batches, the same segments. */
	for (int phase = 0; phase < 2 && ret == 0; phase++) {
		t0 = now_s();
		for (i = 0; i < n && ret == 0; i += b) {
			uint32_t nb = RTE_MIN(b, n - i);

			for (j = 0; j < nb; j++)
				reqs[j] = (struct tern_request){
					.op = phase == 0 ? TERN_OP_WRITE : TERN_OP_READ,
					.segment = env->target_handle,
					.offset = (uint64_t)(i + j) * size,
					.local = env->local_base + (i + j) * size,
					.length = size,
				};
			ret = raw_batch(raw, reqs, nb);
		}
		if (phase == 0)
			t->write_s += now_s() - t0;
		else
			t->read_s += now_s() - t0;
	}
	return ret;
}

int
perf_store_run(const struct perf_args *a, const struct perf_store_env *env)
{
	struct tern_store_node_conf node = { .segment = env->target_handle,
					     .length = env->target_bytes };
	unsigned int rounds = a->iterations != 0 ? (unsigned int)a->iterations : 3, s, k;
	char(*names)[16] = calloc(a->store_keys, sizeof(*names));
	struct tern_client *raw = NULL, *sc = NULL;
	struct tern_segment_info info;
	struct tern_store *st = NULL;
	char cores[128];
	int ret = 0;

	if (names == NULL)
		return -ENOMEM;
	for (k = 0; k < a->store_keys; k++)
		snprintf(names[k], sizeof(names[k]), "perf/%08u", k);
	if (env->engine == NULL) {
		/* A dataplane's client: the dataplane owns the whole target segment. */
		node.flags = TERN_STORE_NODE_F_OWNED;
		if (tern_segment_info(env->tbl, env->target_handle, &info) == 0)
			node.length = info.length;
		sc = tern_client_attach(env->engine_name,
					&(struct tern_client_conf){ .max_inflight = 8,
								    .flags = TERN_CLIENT_F_NO_CQ });
		raw = tern_client_attach(env->engine_name,
					 &(struct tern_client_conf){
						 .max_inflight = 2, .flags = TERN_CLIENT_F_NO_CQ });
		if (sc == NULL || raw == NULL) {
			ret = -rte_errno;
			fprintf(stderr, PROG ": --store: attach: %s\n", rte_strerror(-ret));
			goto out;
		}
	}
	st = tern_store_create(&(struct tern_store_conf){
		.name = "perf",
		.engine = env->engine,
		.client = sc,
		.segments = env->tbl,
		.nodes = &node,
		.nb_nodes = 1,
		.max_objects = a->store_keys,
		.metadata = a->store_metadata[0] != '\0' ? a->store_metadata : NULL,
		.max_inflight = 2,
		.high_watermark_pct = 100,
	});
	if (raw == NULL)
		raw = tern_client_create(
			env->engine, &(struct tern_client_conf){ .max_inflight = 2,
								 .flags = TERN_CLIENT_F_NO_CQ });
	if (st == NULL || raw == NULL) {
		ret = -rte_errno;
		fprintf(stderr, PROG ": --store: %s\n", rte_strerror(-ret));
		goto out;
	}
	if (env->engine == NULL)
		printf("store: %u keys, batch %u, %u rounds, metadata %s, 1 node owned by the "
		       "dataplane (engine %s, capacity %" PRIu64 " bytes)\n",
		       a->store_keys, a->batch, rounds,
		       a->store_metadata[0] != '\0' ? a->store_metadata : "embedded",
		       env->engine_name, node.length);
	else
		printf("store: %u keys, batch %u, %u rounds, metadata %s, 1 node (capacity %" PRIu64
		       " bytes), worker lcores %s\n",
		       a->store_keys, a->batch, rounds,
		       a->store_metadata[0] != '\0' ? a->store_metadata : "embedded",
		       env->target_bytes, perf_cpu_list(env->worker_mask, cores, sizeof(cores)));
	printf("%10s %6s %12s %9s %12s %9s %7s %9s\n", "size", "op", "objects/s", "GB/s",
	       "raw obj/s", "raw GB/s", "ratio", "verified");
	for (s = 0; s < a->nb_block_sizes && ret == 0; s++) {
		uint64_t size = a->block_sizes[s], bytes;
		struct store_times t = { 0 };

		for (k = 0; k < rounds && ret == 0; k++)
			ret = run_round(a, env, st, raw, names, size, k, &t);
		if (ret != 0) {
			fprintf(stderr, PROG ": --store: size %" PRIu64 ": %s\n", size,
				strerror(-ret));
			break;
		}
		bytes = (uint64_t)a->store_keys * size * rounds;
		printf("%10" PRIu64 " %6s %12.0f %9.2f %12.0f %9.2f %7.2f %9s\n", size, "put",
		       a->store_keys * rounds / t.put_s, bytes / t.put_s / 1e9,
		       a->store_keys * rounds / t.write_s, bytes / t.write_s / 1e9,
		       t.write_s / t.put_s, t.mismatches == 0 ? "yes" : "NO");
		printf("%10" PRIu64 " %6s %12.0f %9.2f %12.0f %9.2f %7.2f %9s\n", size, "get",
		       a->store_keys * rounds / t.get_s, bytes / t.get_s / 1e9,
		       a->store_keys * rounds / t.read_s, bytes / t.read_s / 1e9,
		       t.read_s / t.get_s, t.mismatches == 0 ? "yes" : "NO");
		if (t.mismatches != 0) {
			fprintf(stderr, PROG ": --store: %" PRIu64 " objects read back wrong\n",
				t.mismatches);
			ret = -EIO;
		}
	}
out:
	if (raw != NULL)
		tern_client_destroy(raw);
	tern_store_destroy(st);
	if (sc != NULL)
		tern_client_destroy(sc);
	free(names);
	return ret;
}
