/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/store with the embedded metadata: one engine, capacity nodes in its
 * segment table, every byte verified (doc/store.md). */
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

#include "store_private.h"
#include "test_common.h"
#include "tern_store.h"

#define MiB (1ull << 20)
#define KiB (1ull << 10)

struct fixture {
	struct test_env env;
	uint32_t seg[3]; /* capacity segments: nodes */
	struct tern_store_node_conf nodes[3];
	uint32_t local; /* the caller's buffers */
	uint8_t *buf;	/* LOCAL_LEN bytes */
	void *mem[4];	/* what test_segment_local() allocated: freed by fixture_down() */
	struct tern_store *store;
};

#define LOCAL_LEN (24 * MiB)

static void
fixture_up(struct fixture *fx, const char *tag, unsigned int nb_nodes, uint64_t node_len,
	   struct tern_store_conf *conf)
{
	char name[32];
	unsigned int i;
	void *mem;

	memset(fx, 0, sizeof(*fx));
	test_env_create(&fx->env, tag, NULL);
	for (i = 0; i < nb_nodes; i++) {
		snprintf(name, sizeof(name), "%s_n%u", tag, i);
		fx->seg[i] = test_segment_local(&fx->env, name, node_len, &mem);
		fx->mem[i] = mem;
		fx->nodes[i] =
			(struct tern_store_node_conf){ .segment = fx->seg[i], .length = node_len };
	}
	snprintf(name, sizeof(name), "%s_buf", tag);
	fx->local = test_segment_local(&fx->env, name, LOCAL_LEN, &mem);
	fx->buf = mem;
	fx->mem[3] = mem;
	conf->name = tag;
	conf->engine = fx->env.engine;
	conf->segments = fx->env.segments;
	conf->nodes = fx->nodes;
	conf->nb_nodes = nb_nodes;
	fx->store = tern_store_create(conf);
	if (fx->store == NULL)
		fail_msg("tern_store_create: %s", rte_strerror(rte_errno));
}

static void
fixture_down(struct fixture *fx)
{
	unsigned int i;

	assert_int_equal(tern_store_destroy(fx->store), 0);
	test_env_destroy(&fx->env);
	for (i = 0; i < RTE_DIM(fx->mem); i++)
		free(fx->mem[i]);
}

/* Put one key (size bytes of pattern seed from buf + at), return its status. */
static int
put1(struct tern_store *s, const char *key, void *buf, uint64_t size, uint32_t flags)
{
	struct tern_store_put_opts o = { .flags = flags };
	struct tern_store_future *f = tern_store_put(s, &key, &buf, &size, 1, &o);
	int ret;

	assert_non_null(f);
	ret = tern_store_future_wait(f, UINT64_MAX);
	assert_int_equal(tern_store_future_result(f, 0, NULL), ret);
	assert_int_equal(tern_store_future_release(f), 0);
	return ret;
}

static int
get1(struct tern_store *s, const char *key, void *buf, uint64_t room, uint64_t *size)
{
	struct tern_store_future *f = tern_store_get(s, &key, &buf, &room, 1);
	int ret;

	assert_non_null(f);
	ret = tern_store_future_wait(f, UINT64_MAX);
	assert_int_equal(tern_store_future_result(f, 0, size), ret);
	assert_int_equal(tern_store_future_release(f), 0);
	return ret;
}

static int
exists1(struct tern_store *s, const char *key)
{
	int r;

	assert_true(tern_store_exists(s, &key, 1, &r) >= 0);
	return r;
}

/* ---- the allocator alone ---- */

static void
test_alloc_first_fit_coalesce(void **state)
{
	struct store_alloc a;
	uint64_t off[8], o;
	unsigned int i;

	(void)state;
	assert_int_equal(store_alloc_init(&a, 0, 4), -EINVAL);
	assert_int_equal(store_alloc_init(&a, 8 * 64, 8), 0);
	for (i = 0; i < 8; i++) {
		assert_int_equal(store_alloc_get(&a, 1 + i % 64, &off[i]), 0);
		assert_int_equal(off[i], i * 64);
	}
	assert_int_equal(store_alloc_get(&a, 1, &o), -ENOSPC);
	assert_int_equal(store_alloc_get(&a, 0, &o), -EINVAL);
	/* Free 1, 3, 2: one extent of 3 * 64 at 64. */
	assert_int_equal(store_alloc_put(&a, off[1], 2), 0);
	assert_int_equal(store_alloc_put(&a, off[3], 4), 0);
	assert_int_equal(a.nb_free, 2);
	assert_int_equal(store_alloc_put(&a, off[2], 3), 0);
	assert_int_equal(a.nb_free, 1);
	assert_int_equal(store_alloc_largest(&a), 192);
	/* Double free, misaligned, out of range: refused, nothing changes. */
	assert_int_equal(store_alloc_put(&a, off[2], 3), -EINVAL);
	assert_int_equal(store_alloc_put(&a, 65, 3), -EINVAL);
	assert_int_equal(store_alloc_put(&a, 8 * 64, 1), -EINVAL);
	assert_int_equal(store_alloc_put(&a, 0, 0), -EINVAL);
	assert_int_equal(a.used, 5 * 64);
	assert_int_equal(store_alloc_get(&a, 150, &o), 0);
	assert_int_equal(o, 64);
	for (i = 0; i < 8; i++)
		if (i < 1 || i > 3)
			assert_int_equal(store_alloc_put(&a, off[i], 1), 0);
	assert_int_equal(store_alloc_put(&a, 64, 150), 0);
	assert_int_equal(a.used, 0);
	assert_int_equal(a.nb_free, 1);
	/* Taking a given free range (an owner's arena ending): the middle
	 * splits the extent, the ends shrink it; not all free: refused. */
	assert_int_equal(store_alloc_take(&a, 128, 64), 0);
	assert_int_equal(a.nb_free, 2);
	assert_int_equal(store_alloc_take(&a, 128, 1), -EINVAL);
	assert_int_equal(store_alloc_take(&a, 64, 128), -EINVAL);
	assert_int_equal(store_alloc_take(&a, 65, 1), -EINVAL);
	assert_int_equal(store_alloc_take(&a, 0, 0), -EINVAL);
	assert_int_equal(store_alloc_take(&a, 7 * 64, 128), -EINVAL);
	assert_int_equal(store_alloc_take(&a, 0, 64), 0);
	assert_int_equal(store_alloc_take(&a, 7 * 64, 64), 0);
	assert_int_equal(a.used, 3 * 64);
	assert_int_equal(store_alloc_get(&a, 64, &o), 0);
	assert_int_equal(o, 64);
	assert_int_equal(store_alloc_put(&a, 0, 192), 0);
	assert_int_equal(store_alloc_put(&a, 7 * 64, 64), 0);
	assert_int_equal(a.used, 0);
	assert_int_equal(a.nb_free, 1);
	store_alloc_fini(&a);
}

/* ---- the record text of etcd/Redis metadata: strict ---- */

static void
test_ext_record_strict(void **state)
{
	struct store_ext_rec r = { .owner = "own_1",
				   .size = 4096,
				   .version = 7,
				   .nb_rep = 2,
				   .node = { 0, 3 },
				   .offset = { 64, 1ull << 40 } };
	struct store_ext_rec back;
	const char *bad[] = {
		"",
		"tern1",
		"tern2 own 1 1 1 0:0",
		"tern1  own 1 1 1 0:0",	    /* two spaces */
		"tern1 own 1 1 1 0:0 ",	    /* trailing space */
		"tern1 ow-n 1 1 1 0:0",	    /* owner charset */
		"tern1 own 01 1 1 0:0",	    /* leading zero */
		"tern1 own +1 1 1 0:0",	    /* sign */
		"tern1 own 1 1 2 0:0",	    /* fewer replicas than said */
		"tern1 own 1 1 1 0:0 1:64", /* more */
		"tern1 own 1 1 5 0:0 1:0 2:0 3:0 4:0",
		"tern1 own 1 1 1 8:0",			  /* node out of range */
		"tern1 own 1 1 1 0:65",			  /* misaligned offset */
		"tern1 own 1 1 1 0",			  /* no offset */
		"tern1 own 0 1 1 0:0",			  /* zero size with a replica */
		"tern1 own 5 1 0",			  /* a size without replica */
		"tern1 own 18446744073709551616 1 1 0:0", /* overflow */
		"tern1 own16charslong12 1 1 1 0:0",	  /* owner too long */
		"tern1 own 1 1 1 0:0\n",
	};
	char text[STORE_EXT_TEXT_MAX];
	unsigned int i;
	int n;

	(void)state;
	n = store_ext_encode(&r, text, sizeof(text));
	assert_true(n > 0);
	assert_string_equal(text, "tern1 own_1 4096 7 2 0:64 3:1099511627776");
	assert_int_equal(store_ext_decode(text, (size_t)n, &back), 0);
	assert_memory_equal(&back, &r, sizeof(r));
	assert_int_equal(store_ext_encode(&r, text, 10), -ENOSPC);
	assert_int_equal(store_ext_decode("tern1 a 0 0 0", 13, &back), 0);
	assert_int_equal(store_ext_decode("tern1 a 18446744073709551615 1 1 0:0", 36, &back), 0);
	for (i = 0; i < RTE_DIM(bad); i++)
		if (store_ext_decode(bad[i], strlen(bad[i]), &back) != -EPROTO)
			fail_msg("accepted: '%s'", bad[i]);
	assert_int_equal(store_ext_decode(NULL, 0, &back), -EPROTO);
}

/* ---- the owners' channel on the wire: strict ---- */

static void
test_wire_strict(void **state)
{
	struct store_wire_req q = {
		.op = STORE_WIRE_RESERVE, .segment = 3, .pid = 42, .length = 4096, .lease_ms = 2000
	};
	struct store_wire_rep r = { .status = -ENOSPC, .offset = 128, .used = 10, .capacity = 20 };
	struct store_wire_req q2;
	struct store_wire_rep r2;
	uint8_t b[STORE_WIRE_REQ_LEN], c[STORE_WIRE_REQ_LEN];
	unsigned int i;

	(void)state;
	store_wire_req_encode(&q, b);
	assert_int_equal(store_wire_req_decode(b, sizeof(b), &q2), 0);
	assert_int_equal(q2.op, q.op);
	assert_int_equal(q2.segment, 3);
	assert_int_equal(q2.pid, 42);
	assert_int_equal(q2.length, 4096);
	assert_int_equal(q2.lease_ms, 2000);
	assert_int_equal(store_wire_req_decode(b, sizeof(b) - 1, &q2), -EPROTO);
	assert_int_equal(store_wire_req_decode(NULL, sizeof(b), &q2), -EPROTO);
	/* Every single-byte change of magic, version and reserved bytes: refused. */
	for (i = 0; i < 6; i++) {
		memcpy(c, b, sizeof(b));
		c[i] ^= 0x40;
		assert_int_equal(store_wire_req_decode(c, sizeof(c), &q2), -EPROTO);
	}
	for (i = 36; i < 40; i++) {
		memcpy(c, b, sizeof(b));
		c[i] = 1;
		assert_int_equal(store_wire_req_decode(c, sizeof(c), &q2), -EPROTO);
	}
	/* Fields out of range for their op. */
	{
		struct store_wire_req bad[] = {
			{ .op = 0, .length = 1, .lease_ms = 1, .pid = 1 },
			{ .op = 11, .length = 1, .lease_ms = 1, .pid = 1 },
			{ .op = STORE_WIRE_RESERVE, .length = 0, .lease_ms = 1, .pid = 1 },
			{ .op = STORE_WIRE_RESERVE, .length = 1, .lease_ms = 0, .pid = 1 },
			{ .op = STORE_WIRE_RESERVE, .length = 1, .lease_ms = 1, .pid = 0 },
			{ .op = STORE_WIRE_RESERVE,
			  .length = 1,
			  .lease_ms = 1,
			  .pid = 1,
			  .offset = 64 },
			{ .op = STORE_WIRE_RESERVE,
			  .length = (1ull << 40) + 1,
			  .lease_ms = 1,
			  .pid = 1 },
			{ .op = STORE_WIRE_RESERVE, .length = 1, .lease_ms = 3600001, .pid = 1 },
			{ .op = STORE_WIRE_COMMIT, .length = 1, .offset = 65 },
			{ .op = STORE_WIRE_COMMIT, .length = 0, .offset = 64 },
			{ .op = STORE_WIRE_FREE, .length = 1, .offset = 64, .lease_ms = 5 },
			{ .op = STORE_WIRE_STATS, .length = 1 },
			/* ARENA: as RESERVE. */
			{ .op = STORE_WIRE_ARENA, .length = 0, .lease_ms = 1, .pid = 1 },
			{ .op = STORE_WIRE_ARENA, .length = 64, .lease_ms = 0, .pid = 1 },
			{ .op = STORE_WIRE_ARENA, .length = 64, .lease_ms = 1, .pid = 0 },
			{ .op = STORE_WIRE_ARENA,
			  .length = 64,
			  .lease_ms = 1,
			  .pid = 1,
			  .offset = 64 },
			{ .op = STORE_WIRE_ARENA, .length = 64, .lease_ms = 3600001, .pid = 1 },
			{ .op = STORE_WIRE_ARENA,
			  .length = (1ull << 40) + 1,
			  .lease_ms = 1,
			  .pid = 1 },
			/* ARENA_END: offset, length and the arena's pid, no lease. */
			{ .op = STORE_WIRE_ARENA_END, .length = 64, .offset = 64, .pid = 0 },
			{ .op = STORE_WIRE_ARENA_END, .length = 0, .offset = 64, .pid = 1 },
			{ .op = STORE_WIRE_ARENA_END, .length = 64, .offset = 65, .pid = 1 },
			{ .op = STORE_WIRE_ARENA_END,
			  .length = 64,
			  .offset = 64,
			  .pid = 1,
			  .lease_ms = 1 },
			{ .op = STORE_WIRE_ARENA_END,
			  .length = (1ull << 40) + 1,
			  .offset = 64,
			  .pid = 1 },
		};

		for (i = 0; i < RTE_DIM(bad); i++) {
			store_wire_req_encode(&bad[i], c);
			if (store_wire_req_decode(c, sizeof(c), &q2) != -EPROTO)
				fail_msg("accepted request %u", i);
		}
	}
	/* The arena's two requests, accepted. */
	q = (struct store_wire_req){
		.op = STORE_WIRE_ARENA, .segment = 3, .pid = 42, .length = 1 << 20, .lease_ms = 9
	};
	store_wire_req_encode(&q, b);
	assert_int_equal(store_wire_req_decode(b, sizeof(b), &q2), 0);
	assert_int_equal(q2.op, STORE_WIRE_ARENA);
	assert_int_equal(q2.length, 1 << 20);
	q = (struct store_wire_req){ .op = STORE_WIRE_ARENA_END,
				     .segment = 3,
				     .pid = 42,
				     .length = 1 << 20,
				     .offset = 128 };
	store_wire_req_encode(&q, b);
	assert_int_equal(store_wire_req_decode(b, sizeof(b), &q2), 0);
	assert_int_equal(q2.op, STORE_WIRE_ARENA_END);
	assert_int_equal(q2.offset, 128);
	assert_int_equal(q2.pid, 42);
	store_wire_rep_encode(&r, b);
	assert_int_equal(store_wire_rep_decode(b, STORE_WIRE_REP_LEN, &r2), 0);
	assert_int_equal(r2.status, -ENOSPC);
	assert_int_equal(r2.offset, 128);
	assert_int_equal(r2.used, 10);
	assert_int_equal(r2.capacity, 20);
	r.status = 5; /* not an errno */
	store_wire_rep_encode(&r, b);
	assert_int_equal(store_wire_rep_decode(b, STORE_WIRE_REP_LEN, &r2), -EPROTO);
	r.status = 0;
	r.used = 30; /* over the capacity */
	store_wire_rep_encode(&r, b);
	assert_int_equal(store_wire_rep_decode(b, STORE_WIRE_REP_LEN, &r2), -EPROTO);
}

/* The many-extents messages of a put batch: strict too. */
static void
test_wire_n_strict(void **state)
{
	struct store_wire_reqn q = { .op = STORE_WIRE_RESERVE_N,
				     .segment = 1,
				     .pid = 7,
				     .lease_ms = 100,
				     .count = 3,
				     .length = { 1, 4096, 1 << 20 } };
	struct store_wire_repn r = { .status = -ENOENT,
				     .fail_mask = 0x2,
				     .count = 3,
				     .used = 5,
				     .capacity = 9,
				     .offset = { 0, 64, 128 } };
	struct store_wire_reqn q2;
	struct store_wire_repn r2;
	uint8_t b[STORE_WIRE_MSG_MAX], c[STORE_WIRE_MSG_MAX];
	size_t n;
	unsigned int i;

	(void)state;
	n = store_wire_reqn_encode(&q, b);
	assert_int_equal(n, 24 + 3 * 16);
	assert_int_equal(store_wire_reqn_decode(b, n, &q2), 0);
	assert_int_equal(q2.count, 3);
	assert_int_equal(q2.length[2], 1 << 20);
	assert_int_equal(store_wire_reqn_decode(b, n - 1, &q2), -EPROTO);
	assert_int_equal(store_wire_reqn_decode(b, n + 16, &q2), -EPROTO);
	for (i = 0; i < 6; i++) { /* magic, version */
		memcpy(c, b, sizeof(b));
		c[i] ^= 0x10;
		assert_int_equal(store_wire_reqn_decode(c, n, &q2), -EPROTO);
	}
	memcpy(c, b, sizeof(b));
	c[22] = 1; /* reserved */
	assert_int_equal(store_wire_reqn_decode(c, n, &q2), -EPROTO);
	{
		struct store_wire_reqn bad[] = {
			{ .op = STORE_WIRE_RESERVE,
			  .pid = 1,
			  .lease_ms = 1,
			  .count = 1,
			  .length = { 1 } },
			{ .op = STORE_WIRE_RESERVE_N, .pid = 1, .lease_ms = 1, .count = 0 },
			{ .op = STORE_WIRE_RESERVE_N,
			  .pid = 0,
			  .lease_ms = 1,
			  .count = 1,
			  .length = { 1 } },
			{ .op = STORE_WIRE_RESERVE_N,
			  .pid = 1,
			  .lease_ms = 0,
			  .count = 1,
			  .length = { 1 } },
			{ .op = STORE_WIRE_RESERVE_N,
			  .pid = 1,
			  .lease_ms = 1,
			  .count = 1,
			  .length = { 1 },
			  .offset = { 64 } },
			{ .op = STORE_WIRE_RESERVE_N,
			  .pid = 1,
			  .lease_ms = 1,
			  .count = 1,
			  .length = { 0 } },
			{ .op = STORE_WIRE_COMMIT_N, .lease_ms = 1, .count = 1, .length = { 1 } },
			{ .op = STORE_WIRE_COMMIT_N,
			  .count = 1,
			  .length = { 1 },
			  .offset = { 65 } },
		};

		for (i = 0; i < RTE_DIM(bad); i++) {
			n = store_wire_reqn_encode(&bad[i], c);
			if (store_wire_reqn_decode(c, n, &q2) != -EPROTO)
				fail_msg("accepted request %u", i);
		}
	}
	/* A count above the maximum, claimed in the header. */
	n = store_wire_reqn_encode(&q, c);
	c[20] = STORE_WIRE_N_MAX + 1;
	assert_int_equal(store_wire_reqn_decode(c, 24 + 16 * (STORE_WIRE_N_MAX + 1), &q2), -EPROTO);
	n = store_wire_repn_encode(&r, b);
	assert_int_equal(n, 32 + 3 * 8);
	assert_int_equal(store_wire_repn_decode(b, n, &r2), 0);
	assert_int_equal(r2.fail_mask, 0x2);
	assert_int_equal(r2.offset[2], 128);
	r.fail_mask = 0x8; /* beyond count */
	n = store_wire_repn_encode(&r, b);
	assert_int_equal(store_wire_repn_decode(b, n, &r2), -EPROTO);
	r.fail_mask = 0x1;
	r.status = 0; /* a refusal without an error */
	n = store_wire_repn_encode(&r, b);
	assert_int_equal(store_wire_repn_decode(b, n, &r2), -EPROTO);
	r.fail_mask = 0;
	r.offset[1] = 65;
	n = store_wire_repn_encode(&r, b);
	assert_int_equal(store_wire_repn_decode(b, n, &r2), -EPROTO);
}

/* ---- the API ---- */

static void
test_bad_conf(void **state)
{
	struct tern_store_conf c = { 0 };
	struct fixture fx;

	(void)state;
	assert_null(tern_store_create(NULL));
	assert_int_equal(rte_errno, EINVAL);
	fixture_up(&fx, "sconf", 1, 1 * MiB, &c);
	c.name = "sconf2";
	c.metadata = "p2p://127.0.0.1:2379";
	assert_null(tern_store_create(&c));
	assert_int_equal(rte_errno, ENOTSUP);
	c.metadata = "etcd://127.0.0.1:99999/tern"; /* port out of range */
	assert_null(tern_store_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	c.metadata = "redis://127.0.0.1:1"; /* no prefix */
	assert_null(tern_store_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	c.metadata = "bogus";
	assert_null(tern_store_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	c.metadata = NULL;
	c.engine = NULL; /* neither engine nor client */
	assert_null(tern_store_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	c.engine = fx.env.engine;
	c.name = "bad name";
	assert_null(tern_store_create(&c));
	assert_int_equal(rte_errno, EINVAL);
	fixture_down(&fx);
}

static void
test_keys_rules(void **state)
{
	struct tern_store_conf c = { 0 };
	char longest[TERN_STORE_KEY_MAX], too_long[TERN_STORE_KEY_MAX + 1];
	const char *keys[6];
	void *bufs[6];
	uint64_t sizes[6];
	struct tern_store_future *f;
	struct fixture fx;
	unsigned int i;

	(void)state;
	fixture_up(&fx, "skeys", 1, 4 * MiB, &c);
	memset(longest, 'k', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memset(too_long, 'k', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	keys[0] = "";
	keys[1] = too_long;
	keys[2] = "with space";
	keys[3] = "bin\x80";
	keys[4] = longest;
	keys[5] = "ctl\x01";
	for (i = 0; i < 6; i++) {
		bufs[i] = fx.buf;
		sizes[i] = 100;
	}
	f = tern_store_put(fx.store, keys, bufs, sizes, 6, NULL);
	assert_non_null(f);
	assert_int_equal(tern_store_future_wait(f, UINT64_MAX), -EINVAL);
	for (i = 0; i < 6; i++)
		assert_int_equal(tern_store_future_result(f, i, NULL), i == 4 ? 0 : -EINVAL);
	assert_int_equal(tern_store_future_result(f, 6, NULL), -EINVAL);
	assert_int_equal(tern_store_future_release(f), 0);
	assert_int_equal(tern_store_future_release(f), -EINVAL);
	assert_int_equal(exists1(fx.store, longest), 1);
	/* Batch-level refusals. */
	assert_null(tern_store_put(fx.store, keys, bufs, sizes, 0, NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_store_put(fx.store, keys, bufs, sizes, 1,
				   &(struct tern_store_put_opts){ .replicas = 2 }));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_store_put(fx.store, keys, bufs, sizes, 1,
				   &(struct tern_store_put_opts){ .flags = 1u << 7 }));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_store_get(NULL, keys, bufs, sizes, 1));
	assert_int_equal(tern_store_remove(fx.store, NULL, 1, NULL), -EINVAL);
	assert_int_equal(tern_store_exists(fx.store, keys, 1, NULL), -EINVAL);
	assert_int_equal(tern_store_future_wait(NULL, 0), -EINVAL);
	fixture_down(&fx);
}

static void
test_put_get_remove(void **state)
{
	struct tern_store_conf c = { 0 };
	struct tern_store_stats st;
	struct fixture fx;
	uint8_t *src, *dst;
	uint64_t size;
	int r[3];
	const char *k3[3] = { "a/1", "a/2", "b/1" };

	(void)state;
	fixture_up(&fx, "sbasic", 1, 8 * MiB, &c);
	src = fx.buf;
	dst = fx.buf + 4 * MiB;
	test_pattern_fill(src, 1 * MiB, 7, 0);
	assert_int_equal(put1(fx.store, "a/1", src, 1 * MiB, 0), 0);
	assert_int_equal(put1(fx.store, "a/1", src, 10, 0), -EEXIST);
	memset(dst, 0, 1 * MiB);
	assert_int_equal(get1(fx.store, "a/1", dst, 1 * MiB, &size), 0);
	assert_int_equal(size, 1 * MiB);
	assert_int_equal(test_pattern_check(dst, 1 * MiB, 7, 0), SIZE_MAX);
	/* Too small a buffer: -ENOSPC and the size needed. */
	assert_int_equal(get1(fx.store, "a/1", dst, 1 * MiB - 1, &size), -ENOSPC);
	assert_int_equal(size, 1 * MiB);
	/* Zero-size object: any buffer, even NULL. */
	assert_int_equal(put1(fx.store, "a/2", NULL, 0, 0), 0);
	assert_int_equal(get1(fx.store, "a/2", NULL, 0, &size), 0);
	assert_int_equal(size, 0);
	/* Replace. */
	test_pattern_fill(src, 5000, 9, 0);
	assert_int_equal(put1(fx.store, "a/1", src, 5000, TERN_STORE_F_REPLACE), 0);
	assert_int_equal(get1(fx.store, "a/1", dst, 1 * MiB, &size), 0);
	assert_int_equal(size, 5000);
	assert_int_equal(test_pattern_check(dst, 5000, 9, 0), SIZE_MAX);
	assert_int_equal(get1(fx.store, "b/1", dst, 1 * MiB, &size), -ENOENT);
	/* exists, remove, list. */
	assert_int_equal(tern_store_exists(fx.store, k3, 3, r), 2);
	assert_int_equal(r[0], 1);
	assert_int_equal(r[2], 0);
	assert_int_equal(tern_store_remove(fx.store, k3, 3, r), 2);
	assert_int_equal(r[2], -ENOENT);
	assert_int_equal(tern_store_exists(fx.store, k3, 3, r), 0);
	assert_int_equal(tern_store_stats(fx.store, &st), 0);
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.puts, 3);
	assert_int_equal(st.put_errors, 1);
	assert_int_equal(st.removes, 2);
	fixture_down(&fx);
}

static int
count_cb(void *arg, const char *key, uint64_t size, unsigned int nb_replicas)
{
	(void)key;
	(void)nb_replicas;
	*(uint64_t *)arg += size;
	return 0;
}

static void
test_batch_and_list(void **state)
{
	struct tern_store_conf c = { 0 };
	const char *keys[64];
	char names[64][16];
	void *bufs[64];
	uint64_t sizes[64], total = 0, got, sz;
	struct tern_store_future *f;
	struct fixture fx;
	unsigned int i;

	(void)state;
	fixture_up(&fx, "sbatch", 1, 8 * MiB, &c);
	for (i = 0; i < 64; i++) {
		snprintf(names[i], sizeof(names[i]), "%s/%02u", i % 2 ? "odd" : "even", i);
		keys[i] = names[i];
		bufs[i] = fx.buf + i * 64 * KiB;
		sizes[i] = 1 + i * 1000;
		test_pattern_fill(bufs[i], sizes[i], i, 0);
		if (i % 2)
			total += sizes[i];
	}
	f = tern_store_put(fx.store, keys, bufs, sizes, 64, NULL);
	assert_non_null(f);
	assert_int_equal(tern_store_future_wait(f, UINT64_MAX), 0);
	assert_int_equal(tern_store_future_release(f), 0);
	got = 0;
	assert_int_equal(tern_store_list(fx.store, "odd/", count_cb, &got), 32);
	assert_int_equal(got, total);
	assert_int_equal(tern_store_list(fx.store, "", count_cb, &got), 64);
	assert_int_equal(tern_store_list(fx.store, "bad prefix", count_cb, &got), -EINVAL);
	for (i = 0; i < 64; i++) {
		bufs[i] = fx.buf + 8 * MiB + i * 64 * KiB;
		memset(bufs[i], 0, 64 * KiB);
		sizes[i] = 64 * KiB;
	}
	f = tern_store_get(fx.store, keys, bufs, sizes, 64);
	assert_non_null(f);
	assert_int_equal(tern_store_future_wait(f, UINT64_MAX), 0);
	for (i = 0; i < 64; i++) {
		assert_int_equal(tern_store_future_result(f, i, &sz), 0);
		assert_int_equal(sz, 1 + i * 1000);
		assert_int_equal(test_pattern_check(bufs[i], sz, i, 0), SIZE_MAX);
	}
	assert_int_equal(tern_store_future_release(f), 0);
	fixture_down(&fx);
}

/* /tern/store serves one store per process. */
static void
test_telemetry_register(void **state)
{
	struct tern_store_conf c = { 0 }, c2;
	struct fixture fx;
	struct tern_store *other;

	(void)state;
	fixture_up(&fx, "stel", 2, 1 * MiB, &c);
	c2 = c;
	c2.name = "stel2";
	c2.nodes = &fx.nodes[1];
	c2.nb_nodes = 1;
	other = tern_store_create(&c2);
	assert_non_null(other);
	assert_int_equal(tern_store_telemetry_register(fx.store), 0);
	assert_int_equal(tern_store_telemetry_register(fx.store), 0);
	assert_int_equal(tern_store_telemetry_register(other), -EEXIST);
	assert_int_equal(tern_store_telemetry_register(NULL), 0);
	assert_int_equal(tern_store_telemetry_register(other), 0);
	assert_int_equal(tern_store_destroy(other), 0); /* withdraws it */
	assert_int_equal(tern_store_telemetry_register(fx.store), 0);
	assert_int_equal(tern_store_telemetry_register(NULL), 0);
	fixture_down(&fx);
}

/* Two puts of one key in flight at once: exactly one commits. */
static void
test_concurrent_put_one_wins(void **state)
{
	struct tern_store_conf c = { 0 };
	struct tern_store_future *f[2];
	struct tern_store_stats st;
	const char *key = "same";
	struct fixture fx;
	uint64_t size = 2 * MiB, got;
	void *b[2];
	int r[2];

	(void)state;
	fixture_up(&fx, "srace", 1, 8 * MiB, &c);
	b[0] = fx.buf;
	b[1] = fx.buf + 2 * MiB;
	test_pattern_fill(b[0], size, 1, 0);
	test_pattern_fill(b[1], size, 2, 0);
	f[0] = tern_store_put(fx.store, &key, &b[0], &size, 1, NULL);
	f[1] = tern_store_put(fx.store, &key, &b[1], &size, 1, NULL);
	assert_non_null(f[0]);
	assert_non_null(f[1]);
	r[1] = tern_store_future_wait(f[1], UINT64_MAX);
	r[0] = tern_store_future_wait(f[0], UINT64_MAX);
	assert_true((r[0] == 0 && r[1] == -EEXIST) || (r[1] == 0 && r[0] == -EEXIST));
	tern_store_future_release(f[0]);
	tern_store_future_release(f[1]);
	assert_int_equal(get1(fx.store, key, fx.buf + 4 * MiB, 4 * MiB, &got), 0);
	assert_int_equal(test_pattern_check(fx.buf + 4 * MiB, size, r[0] == 0 ? 1 : 2, 0),
			 SIZE_MAX);
	assert_int_equal(tern_store_stats(fx.store, &st), 0);
	assert_int_equal(st.used, size); /* the loser's extent is freed */
	assert_int_equal(st.reserved, 0);
	fixture_down(&fx);
}

/* A putter that gives up before its WRITE resolved: nothing visible, the
 * reservation freed once its lease expires. */
static void
test_abandoned_put_lease(void **state)
{
	struct tern_store_conf c = { .deadline_ns = 20000000, .lease_ns = 100000000 };
	struct tern_store_future *f;
	struct tern_store_stats st;
	const char *key = "orphan";
	uint64_t size = 4 * MiB;
	struct fixture fx;
	void *b;

	(void)state;
	fixture_up(&fx, "slease", 1, 8 * MiB, &c);
	b = fx.buf;
	f = tern_store_put(fx.store, &key, &b, &size, 1, NULL);
	assert_non_null(f);
	assert_int_equal(tern_store_future_release(f), 0);
	assert_int_equal(exists1(fx.store, key), 0);
	assert_int_equal(tern_store_stats(fx.store, &st), 0);
	assert_int_equal(st.reserved, 1);
	assert_int_equal(st.used, size);
	assert_int_equal(tern_store_poll(fx.store), 0); /* lease not expired yet */
	TEST_WAIT_UNTIL(tern_store_poll(fx.store) == 1, 5000);
	assert_int_equal(tern_store_stats(fx.store, &st), 0);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.lease_expired, 1);
	assert_int_equal(exists1(fx.store, key), 0);
	/* The key is free for a new put. */
	assert_int_equal(put1(fx.store, key, b, 100, 0), 0);
	fixture_down(&fx);
}

/* Three nodes, replicas = 2: distinct nodes, node 0 first; a node taken out
 * of service: gets fall back; with one replica there, a clear error. */
static void
test_replicas_fallback(void **state)
{
	struct tern_store_conf c = { .replicas = 2 };
	struct tern_store_stats st;
	struct fixture fx;
	char key[32];
	uint64_t size = 256 * KiB, got;
	unsigned int i;

	(void)state;
	fixture_up(&fx, "srep", 3, 4 * MiB, &c);
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "r%u", i);
		test_pattern_fill(fx.buf + i * size, size, 100 + i, 0);
		assert_int_equal(put1(fx.store, key, fx.buf + i * size, size, 0), 0);
	}
	assert_int_equal(tern_store_stats(fx.store, &st), 0);
	assert_int_equal(st.used, 8 * 2 * size);
	/* One replica only: on node 0 (local first). */
	test_pattern_fill(fx.buf + 8 * size, size, 999, 0);
	{
		struct tern_store_put_opts o = { .replicas = 1 };
		const char *k = "one";
		void *b = fx.buf + 8 * size;
		struct tern_store_future *f = tern_store_put(fx.store, &k, &b, &size, 1, &o);

		assert_int_equal(tern_store_future_wait(f, UINT64_MAX), 0);
		tern_store_future_release(f);
	}
	/* Node 0's segment retired: READs there fail (-ESTALE). */
	assert_int_equal(tern_segment_retire(fx.env.segments, fx.seg[0]), 0);
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "r%u", i);
		memset(fx.buf + 12 * MiB, 0, size);
		assert_int_equal(get1(fx.store, key, fx.buf + 12 * MiB, size, &got), 0);
		assert_int_equal(test_pattern_check(fx.buf + 12 * MiB, size, 100 + i, 0), SIZE_MAX);
	}
	assert_int_equal(get1(fx.store, "one", fx.buf + 12 * MiB, size, &got), -ESTALE);
	assert_int_equal(tern_store_stats(fx.store, &st), 0);
	assert_int_equal(st.fallbacks, 8);
	assert_int_equal(st.get_errors, 1);
	fixture_down(&fx);
}

/* 64 MiB of capacity, 256 MiB of puts: no put fails, the oldest go. */
static void
test_eviction_lru(void **state)
{
	struct tern_store_conf c = { 0 };
	struct tern_store_stats st;
	struct fixture fx;
	char key[32];
	uint64_t size = 1 * MiB, got;
	unsigned int i;

	(void)state;
	fixture_up(&fx, "sevict", 1, 64 * MiB, &c);
	for (i = 0; i < 256; i++) {
		snprintf(key, sizeof(key), "e%03u", i);
		test_pattern_fill(fx.buf, size, i, 0);
		assert_int_equal(put1(fx.store, key, fx.buf, size, 0), 0);
		if (i == 100) /* a read makes e050 recent: it survives the next round */
			assert_int_equal(get1(fx.store, "e050", fx.buf + 2 * MiB, size, &got), 0);
	}
	assert_int_equal(tern_store_stats(fx.store, &st), 0);
	assert_int_equal(st.puts, 256);
	assert_int_equal(st.put_errors, 0);
	assert_int_equal(st.objects + st.evictions, 256);
	assert_true(st.used <= 64 * MiB * 90 / 100);
	assert_true(st.objects >= 40);
	assert_int_equal(st.bytes, st.objects * size);
	assert_int_equal(exists1(fx.store, "e000"), 0);
	assert_int_equal(exists1(fx.store, "e255"), 1);
	/* The newest objects are intact. */
	assert_int_equal(get1(fx.store, "e255", fx.buf + 2 * MiB, size, &got), 0);
	assert_int_equal(test_pattern_check(fx.buf + 2 * MiB, size, 255, 0), SIZE_MAX);
	/* Every survivor is a suffix of the order of use. */
	for (i = 256 - (unsigned int)st.objects; i < 256; i++) {
		snprintf(key, sizeof(key), "e%03u", i);
		assert_int_equal(exists1(fx.store, key), 1);
	}
	fixture_down(&fx);
}

/* An object being read is not freed by remove: the reader's bytes are the
 * object's, and the extent goes back when the read resolves. */
static void
test_remove_under_reader(void **state)
{
	struct tern_store_conf c = { 0 };
	struct tern_store_future *f;
	struct tern_store_stats st;
	const char *key = "held";
	uint64_t size = 8 * MiB, room = 8 * MiB;
	struct fixture fx;
	void *dst;

	(void)state;
	fixture_up(&fx, "sref", 1, 16 * MiB, &c);
	test_pattern_fill(fx.buf, size, 42, 0);
	assert_int_equal(put1(fx.store, key, fx.buf, size, 0), 0);
	dst = fx.buf + 8 * MiB;
	memset(dst, 0, size);
	f = tern_store_get(fx.store, &key, &dst, &room, 1);
	assert_non_null(f);
	assert_int_equal(tern_store_remove(fx.store, &key, 1, NULL), 1);
	assert_int_equal(exists1(fx.store, key), 0);
	assert_int_equal(tern_store_stats(fx.store, &st), 0);
	if (tern_store_future_test(f) == -EINPROGRESS)
		assert_int_equal(st.used, size); /* still held by the reader */
	assert_int_equal(tern_store_future_wait(f, UINT64_MAX), 0);
	assert_int_equal(test_pattern_check(dst, size, 42, 0), SIZE_MAX);
	tern_store_future_release(f);
	assert_int_equal(tern_store_stats(fx.store, &st), 0);
	assert_int_equal(st.used, 0);
	fixture_down(&fx);
}

/* ---- randomized, against a reference model ---- */

#define RND_KEYS  512
#define RND_OPS	  100000
#define RND_MAXSZ (12 * KiB)

struct model {
	bool present;
	uint64_t size;
	uint64_t seed;
};

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
test_randomized_vs_model(void **state)
{
	static struct model m[RND_KEYS];
	struct tern_store_conf c = { .max_objects = 1024 };
	struct tern_store_stats st;
	uint64_t s = 0x9e3779b97f4a7c15ull, seed_next = 1, ops = 0, t0 = test_now_ns();
	char names[RND_KEYS][16];
	struct fixture fx;
	unsigned int i;

	(void)state;
	memset(m, 0, sizeof(m));
	fixture_up(&fx, "srnd", 1, 16 * MiB, &c);
	for (i = 0; i < RND_KEYS; i++)
		snprintf(names[i], sizeof(names[i]), "k%u", i);
	while (ops < RND_OPS) {
		unsigned int op = (unsigned int)(rnd(&s) % 4), nb = 1 + (unsigned int)(rnd(&s) % 8);
		unsigned int idx[8], j;
		const char *keys[8];
		void *bufs[8];
		uint64_t sizes[8], seeds[8];
		int res[8];

		/* Distinct keys in one batch. */
		for (j = 0; j < nb; j++) {
			unsigned int k, x;

			do {
				x = (unsigned int)(rnd(&s) % RND_KEYS);
				for (k = 0; k < j && idx[k] != x; k++)
					;
			} while (k < j);
			idx[j] = x;
			keys[j] = names[x];
			bufs[j] = fx.buf + j * 16 * KiB;
		}
		if (op == 0) { /* put, sometimes replace */
			uint32_t flags = rnd(&s) % 2 ? TERN_STORE_F_REPLACE : 0;
			struct tern_store_put_opts o = { .flags = flags };
			struct tern_store_future *f;

			for (j = 0; j < nb; j++) {
				sizes[j] = rnd(&s) % 8 == 0 ? 0 : 1 + rnd(&s) % RND_MAXSZ;
				seeds[j] = seed_next++;
				test_pattern_fill(bufs[j], sizes[j], seeds[j], 0);
			}
			f = tern_store_put(fx.store, keys, bufs, sizes, nb, &o);
			assert_non_null(f);
			tern_store_future_wait(f, UINT64_MAX);
			for (j = 0; j < nb; j++) {
				struct model *e = &m[idx[j]];
				int want = e->present && !flags ? -EEXIST : 0;

				assert_int_equal(tern_store_future_result(f, j, NULL), want);
				if (want == 0)
					*e = (struct model){ true, sizes[j], seeds[j] };
			}
			tern_store_future_release(f);
		} else if (op == 1) { /* get; sometimes a buffer too small */
			struct tern_store_future *f;

			for (j = 0; j < nb; j++) {
				sizes[j] = rnd(&s) % 16 == 0 ? rnd(&s) % RND_MAXSZ : 16 * KiB;
				memset(bufs[j], 0xa5, 16 * KiB);
			}
			f = tern_store_get(fx.store, keys, bufs, sizes, nb);
			assert_non_null(f);
			tern_store_future_wait(f, UINT64_MAX);
			for (j = 0; j < nb; j++) {
				const struct model *e = &m[idx[j]];
				uint64_t got = UINT64_MAX;
				int r = tern_store_future_result(f, j, &got);

				if (!e->present) {
					assert_int_equal(r, -ENOENT);
					continue;
				}
				assert_int_equal(got, e->size);
				if (e->size > sizes[j]) {
					assert_int_equal(r, -ENOSPC);
					continue;
				}
				assert_int_equal(r, 0);
				assert_int_equal(test_pattern_check(bufs[j], e->size, e->seed, 0),
						 SIZE_MAX);
			}
			tern_store_future_release(f);
		} else if (op == 2) { /* remove */
			assert_true(tern_store_remove(fx.store, keys, nb, res) >= 0);
			for (j = 0; j < nb; j++) {
				assert_int_equal(res[j], m[idx[j]].present ? 0 : -ENOENT);
				m[idx[j]].present = false;
			}
		} else { /* exists */
			assert_true(tern_store_exists(fx.store, keys, nb, res) >= 0);
			for (j = 0; j < nb; j++)
				assert_int_equal(res[j], m[idx[j]].present);
		}
		ops += nb;
		if (test_now_ns() - t0 > 50ull * 1000000000ull)
			fail_msg("only %" PRIu64 " operations in 50 s", ops);
	}
	assert_int_equal(tern_store_stats(fx.store, &st), 0);
	{
		uint64_t n = 0, bytes = 0;

		for (i = 0; i < RND_KEYS; i++)
			if (m[i].present) {
				n++;
				bytes += m[i].size;
			}
		assert_int_equal(st.objects, n);
		assert_int_equal(st.bytes, bytes);
		assert_int_equal(st.evictions, 0);
		assert_int_equal(st.reserved, 0);
	}
	print_message("%" PRIu64 " operations in %.2f s\n", ops, (test_now_ns() - t0) / 1e9);
	fixture_down(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_first_fit_coalesce),
		cmocka_unit_test(test_ext_record_strict),
		cmocka_unit_test(test_wire_strict),
		cmocka_unit_test(test_wire_n_strict),
		cmocka_unit_test(test_bad_conf),
		cmocka_unit_test(test_keys_rules),
		cmocka_unit_test(test_put_get_remove),
		cmocka_unit_test(test_batch_and_list),
		cmocka_unit_test(test_telemetry_register),
		cmocka_unit_test(test_concurrent_put_one_wins),
		cmocka_unit_test(test_abandoned_put_lease),
		cmocka_unit_test(test_replicas_fallback),
		cmocka_unit_test(test_eviction_lru),
		cmocka_unit_test(test_remove_under_reader),
		cmocka_unit_test(test_randomized_vs_model),
	};

	test_eal_init("test_store", "0@(0-1),1@(0-1)", 512);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
