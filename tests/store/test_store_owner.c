/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The owner's read references (doc/store.md, *Owners*): a reader's
 * reference on a committed extent keeps it allocated through a FREE
 * (remove or eviction by the store that placed it) until the reader drops
 * it or its lease expires. Requests go through tern_store_owner_serve(),
 * the entry point of the p2p channel, parsed as strictly as over rte_mp.
 */
#include <errno.h>
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

#include "store_private.h"
#include "test_common.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)

static struct test_env env;
static struct tern_store_owner *owner;

/* One request of client @pid: its status, *offset from the answer. */
static int
req_pid(uint32_t pid, uint16_t op, uint64_t length, uint64_t offset, uint32_t lease_ms,
	uint64_t *out)
{
	struct store_wire_req q = {
		.op = op,
		.segment = 12345, /* ignored: the channel named the segment */
		.pid = pid,
		.length = length,
		.offset = offset,
		.lease_ms = lease_ms,
	};
	uint8_t in[STORE_WIRE_REQ_LEN], rep[TERN_STORE_OWNER_MSG_MAX];
	struct store_wire_rep r;

	store_wire_req_encode(&q, in);
	assert_int_equal(tern_store_owner_serve(owner, in, sizeof(in), rep), STORE_WIRE_REP_LEN);
	assert_int_equal(store_wire_rep_decode(rep, STORE_WIRE_REP_LEN, &r), 0);
	if (out != NULL)
		*out = r.offset;
	return r.status;
}

/* One request of client 7. */
static int
req(uint16_t op, uint64_t length, uint64_t offset, uint32_t lease_ms, uint64_t *out)
{
	return req_pid(7, op, length, offset, lease_ms, out);
}

static struct tern_store_owner_stats
stats(void)
{
	struct tern_store_owner_stats st;

	assert_int_equal(tern_store_owner_stats(owner, &st), 0);
	return st;
}

static void
test_read_ref_defers_free(void **state)
{
	uint64_t off = 0, off2 = 0;

	(void)state;
	assert_int_equal(req(STORE_WIRE_RESERVE, 64 * KiB, 0, 5000, &off), 0);
	/* Not committed yet: no reference. */
	assert_int_equal(req(STORE_WIRE_READ_REF, 64 * KiB, off, 5000, NULL), -ENOENT);
	assert_int_equal(req(STORE_WIRE_COMMIT, 64 * KiB, off, 0, NULL), 0);
	/* Two readers. */
	assert_int_equal(req(STORE_WIRE_READ_REF, 64 * KiB, off, 5000, NULL), 0);
	assert_int_equal(req(STORE_WIRE_READ_REF, 64 * KiB, off, 5000, NULL), 0);
	/* The placing store removes it: the FREE is answered, the memory kept. */
	assert_int_equal(stats().frees_deferred, 0);
	assert_int_equal(req(STORE_WIRE_FREE, 64 * KiB, off, 0, NULL), 0);
	assert_int_equal(stats().used, 64 * KiB);
	assert_int_equal(stats().frees_deferred, 1);
	/* Gone for new readers and for a second FREE. */
	assert_int_equal(req(STORE_WIRE_READ_REF, 64 * KiB, off, 5000, NULL), -ENOENT);
	assert_int_equal(req(STORE_WIRE_FREE, 64 * KiB, off, 0, NULL), -ENOENT);
	/* The whole capacity cannot be reserved: the extent is still there. */
	assert_int_equal(req(STORE_WIRE_RESERVE, 1 * MiB, 0, 5000, NULL), -ENOSPC);
	assert_int_equal(req(STORE_WIRE_READ_UNREF, 64 * KiB, off, 0, NULL), 0);
	assert_int_equal(stats().used, 64 * KiB);
	assert_int_equal(req(STORE_WIRE_READ_UNREF, 64 * KiB, off, 0, NULL), 0);
	assert_int_equal(stats().used, 0);
	assert_int_equal(stats().committed, 0);
	assert_int_equal(req(STORE_WIRE_READ_UNREF, 64 * KiB, off, 0, NULL), -ENOENT);
	assert_int_equal(stats().frees_deferred, 1);
	/* Now the capacity is all free. */
	assert_int_equal(req(STORE_WIRE_RESERVE, 1 * MiB, 0, 5000, &off2), 0);
	assert_int_equal(req(STORE_WIRE_FREE, 1 * MiB, off2, 0, NULL), 0);
	assert_int_equal(stats().used, 0);
	/* Without readers a FREE gives the memory back at once. */
	assert_int_equal(req(STORE_WIRE_RESERVE, 64 * KiB, 0, 5000, &off), 0);
	assert_int_equal(req(STORE_WIRE_COMMIT, 64 * KiB, off, 0, NULL), 0);
	assert_int_equal(req(STORE_WIRE_READ_REF, 64 * KiB, off, 5000, NULL), 0);
	assert_int_equal(req(STORE_WIRE_READ_UNREF, 64 * KiB, off, 0, NULL), 0);
	assert_int_equal(req(STORE_WIRE_FREE, 64 * KiB, off, 0, NULL), 0);
	assert_int_equal(stats().used, 0);
}

static void
test_read_ref_lease_expires(void **state)
{
	struct tern_store_owner_stats st;
	uint64_t off = 0;
	int i;

	(void)state;
	assert_int_equal(req(STORE_WIRE_RESERVE, 4 * KiB, 0, 5000, &off), 0);
	assert_int_equal(req(STORE_WIRE_COMMIT, 4 * KiB, off, 0, NULL), 0);
	/* A reader that dies holding its reference. */
	assert_int_equal(req(STORE_WIRE_READ_REF, 4 * KiB, off, 100, NULL), 0);
	assert_int_equal(req(STORE_WIRE_FREE, 4 * KiB, off, 0, NULL), 0);
	assert_int_equal(stats().used, 4 * KiB);
	for (i = 0; i < 100 && stats().used != 0; i++) {
		usleep(20000);
		assert_true(tern_store_owner_poll(owner) >= 0);
	}
	st = stats();
	assert_int_equal(st.used, 0);
	assert_int_equal(st.read_refs_expired, 1);
	/* Its late UNREF finds nothing. */
	assert_int_equal(req(STORE_WIRE_READ_UNREF, 4 * KiB, off, 0, NULL), -ENOENT);
	/* An expired reference of an extent not freed: the extent stays. */
	assert_int_equal(req(STORE_WIRE_RESERVE, 4 * KiB, 0, 5000, &off), 0);
	assert_int_equal(req(STORE_WIRE_COMMIT, 4 * KiB, off, 0, NULL), 0);
	assert_int_equal(req(STORE_WIRE_READ_REF, 4 * KiB, off, 50, NULL), 0);
	usleep(80000);
	assert_true(tern_store_owner_poll(owner) >= 0);
	assert_int_equal(stats().used, 4 * KiB);
	assert_int_equal(req(STORE_WIRE_FREE, 4 * KiB, off, 0, NULL), 0);
	assert_int_equal(stats().used, 0);
}

static void
test_read_ref_malformed(void **state)
{
	static const struct store_wire_req bad[] = {
		{ .op = STORE_WIRE_READ_REF, .pid = 7, .length = 64, .offset = 0 }, /* no lease */
		{ .op = STORE_WIRE_READ_REF, .pid = 7, .length = 0, .lease_ms = 5 },
		{ .op = STORE_WIRE_READ_REF, .pid = 7, .length = 64, .offset = 3, .lease_ms = 5 },
		{ .op = STORE_WIRE_READ_REF, .pid = 0, .length = 64, .lease_ms = 5 },
		{ .op = STORE_WIRE_READ_REF, .pid = 7, .length = 64, .lease_ms = 3600001 },
		{ .op = STORE_WIRE_READ_UNREF, .pid = 7, .length = 64, .lease_ms = 5 },
		{ .op = STORE_WIRE_READ_UNREF, .pid = 7, .length = 0 },
		{ .op = 11, .pid = 7, .length = 64, .lease_ms = 5 },
		{ .op = STORE_WIRE_ARENA, .pid = 7, .length = 64 }, /* no lease */
		{ .op = STORE_WIRE_ARENA, .pid = 0, .length = 64, .lease_ms = 5 },
		{ .op = STORE_WIRE_ARENA, .pid = 7, .length = 64, .offset = 64, .lease_ms = 5 },
		{ .op = STORE_WIRE_ARENA_END, .pid = 0, .length = 64 },
		{ .op = STORE_WIRE_ARENA_END, .pid = 7, .length = 64, .lease_ms = 5 },
		{ .op = STORE_WIRE_ARENA_END, .pid = 7, .length = 64, .offset = 3 },
	};
	uint8_t in[STORE_WIRE_REQ_LEN], rep[TERN_STORE_OWNER_MSG_MAX];
	struct store_wire_req q;
	struct store_wire_rep r;
	uint64_t before = stats().requests;
	unsigned int i;

	(void)state;
	for (i = 0; i < RTE_DIM(bad); i++) {
		store_wire_req_encode(&bad[i], in);
		assert_int_equal(store_wire_req_decode(in, sizeof(in), &q), -EPROTO);
		assert_int_equal(tern_store_owner_serve(owner, in, sizeof(in), rep),
				 STORE_WIRE_REP_LEN);
		assert_int_equal(store_wire_rep_decode(rep, STORE_WIRE_REP_LEN, &r), 0);
		assert_int_equal(r.status, -EPROTO);
	}
	/* Short, long, garbage: -EPROTO too, nothing served. */
	memset(in, 0xa5, sizeof(in));
	assert_int_equal(tern_store_owner_serve(owner, in, 1, rep), STORE_WIRE_REP_LEN);
	assert_int_equal(store_wire_rep_decode(rep, STORE_WIRE_REP_LEN, &r), 0);
	assert_int_equal(r.status, -EPROTO);
	assert_int_equal(tern_store_owner_serve(owner, in, sizeof(in), rep), STORE_WIRE_REP_LEN);
	assert_int_equal(store_wire_rep_decode(rep, STORE_WIRE_REP_LEN, &r), 0);
	assert_int_equal(r.status, -EPROTO);
	assert_int_equal(stats().requests, before);
	assert_int_equal(tern_store_owner_serve(NULL, in, sizeof(in), rep), -EINVAL);
	assert_int_equal(tern_store_owner_serve(owner, NULL, sizeof(in), rep), -EINVAL);
	assert_int_equal(tern_store_owner_serve(owner, in, sizeof(in), NULL), -EINVAL);
}

/*
 * A client's arena (doc/store.md, *Arenas*): the client places objects in
 * it and commits them; a commit outside it, over a piece committed before,
 * or by another process is refused; the end gives back all but the
 * committed pieces, which then live and are freed on their own.
 */
static void
test_arena(void **state)
{
	struct tern_store_owner_stats st;
	uint64_t a = 0, b = 0, off = 0;

	(void)state;
	assert_int_equal(req(STORE_WIRE_ARENA, 256 * KiB, 0, 5000, &a), 0);
	st = stats();
	assert_int_equal(st.reserved, 1);
	assert_int_equal(st.used, 256 * KiB);
	/* Not a piece yet: no reader, no FREE. */
	assert_int_equal(req(STORE_WIRE_READ_REF, 64 * KiB, a, 5000, NULL), -ENOENT);
	assert_int_equal(req(STORE_WIRE_FREE, 64 * KiB, a, 0, NULL), -ENOENT);
	assert_int_equal(req(STORE_WIRE_COMMIT, 64 * KiB, a, 0, NULL), 0);
	assert_int_equal(req(STORE_WIRE_COMMIT, 64 * KiB, a, 0, NULL), -EALREADY);
	assert_int_equal(req(STORE_WIRE_COMMIT, 64 * KiB, a + 32 * KiB, 0, NULL), -EALREADY);
	assert_int_equal(req(STORE_WIRE_COMMIT, 1, a + 64 * KiB - 64, 0, NULL), -EALREADY);
	/* Another process's commit, or past the end: not in its arena. */
	assert_int_equal(req_pid(8, STORE_WIRE_COMMIT, 4 * KiB, a + 64 * KiB, 0, NULL), -ENOENT);
	assert_int_equal(req(STORE_WIRE_COMMIT, 4 * KiB, a + 254 * KiB, 0, NULL), -ENOENT);
	assert_int_equal(req(STORE_WIRE_COMMIT, 4 * KiB, a + 256 * KiB, 0, NULL), -ENOENT);
	assert_int_equal(req(STORE_WIRE_COMMIT, 4 * KiB, a + 64 * KiB, 0, NULL), 0);
	assert_int_equal(stats().committed, 2);
	/* A reader on the first piece, which its store then frees; the second
	 * freed with no reader: its range stays the arena's until the end. */
	assert_int_equal(req(STORE_WIRE_READ_REF, 64 * KiB, a, 5000, NULL), 0);
	assert_int_equal(req(STORE_WIRE_FREE, 64 * KiB, a, 0, NULL), 0);
	assert_int_equal(req(STORE_WIRE_FREE, 4 * KiB, a + 64 * KiB, 0, NULL), 0);
	assert_int_equal(req(STORE_WIRE_FREE, 4 * KiB, a + 64 * KiB, 0, NULL), -ENOENT);
	assert_int_equal(stats().used, 256 * KiB);
	/* The end: a wrong name or process is refused. */
	assert_int_equal(req_pid(8, STORE_WIRE_ARENA_END, 256 * KiB, a, 0, NULL), -ENOENT);
	assert_int_equal(req(STORE_WIRE_ARENA_END, 128 * KiB, a, 0, NULL), -ENOENT);
	assert_int_equal(req(STORE_WIRE_ARENA_END, 256 * KiB, a, 0, NULL), 0);
	assert_int_equal(req(STORE_WIRE_ARENA_END, 256 * KiB, a, 0, NULL), -ENOENT);
	st = stats();
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.committed, 1);   /* the read piece, being freed */
	assert_int_equal(st.used, 64 * KiB); /* the rest went back */
	/* The rest is reusable: 1 MiB - 64 KiB is free. */
	assert_int_equal(req(STORE_WIRE_RESERVE, 960 * KiB, 0, 5000, &b), 0);
	assert_int_equal(req(STORE_WIRE_FREE, 960 * KiB, b, 0, NULL), 0);
	assert_int_equal(req(STORE_WIRE_READ_UNREF, 64 * KiB, a, 0, NULL), 0);
	st = stats();
	assert_int_equal(st.used, 0);
	assert_int_equal(st.committed, 0);

	/* A putter that dies: its arena's lease ends, its committed pieces
	 * stay (a record names them), the rest is given back. */
	assert_int_equal(req(STORE_WIRE_ARENA, 128 * KiB, 0, 100, &a), 0);
	assert_int_equal(req(STORE_WIRE_COMMIT, 4 * KiB, a + 8 * KiB, 0, NULL), 0);
	for (int i = 0; i < 100 && stats().reserved != 0; i++) {
		usleep(20000);
		assert_true(tern_store_owner_poll(owner) >= 0);
	}
	st = stats();
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.committed, 1);
	assert_int_equal(st.used, 4 * KiB);
	assert_int_equal(req(STORE_WIRE_COMMIT, 4 * KiB, a + 16 * KiB, 0, NULL), -ENOENT);
	assert_int_equal(req(STORE_WIRE_READ_REF, 4 * KiB, a + 8 * KiB, 5000, NULL), 0);
	assert_int_equal(req(STORE_WIRE_READ_UNREF, 4 * KiB, a + 8 * KiB, 0, NULL), 0);
	assert_int_equal(req(STORE_WIRE_FREE, 4 * KiB, a + 8 * KiB, 0, NULL), 0);
	assert_int_equal(stats().used, 0);
	/* Many pieces, committed in one COMMIT_N, the arena ended between. */
	{
		struct store_wire_reqn q = { .op = STORE_WIRE_COMMIT_N, .pid = 7, .count = 13 };
		struct store_wire_repn r;
		uint8_t in[STORE_WIRE_MSG_MAX], rep[TERN_STORE_OWNER_MSG_MAX];
		unsigned int i;
		int n;

		assert_int_equal(req(STORE_WIRE_ARENA, 512 * KiB, 0, 5000, &a), 0);
		for (i = 0; i < 13; i++) {
			q.length[i] = 4 * KiB + 1;
			q.offset[i] = a + i * 16 * KiB;
		}
		n = tern_store_owner_serve(owner, in, store_wire_reqn_encode(&q, in), rep);
		assert_int_equal(store_wire_repn_decode(rep, (size_t)n, &r), 0);
		assert_int_equal(r.status, 0);
		assert_int_equal(stats().committed, 13);
		assert_int_equal(req(STORE_WIRE_ARENA_END, 512 * KiB, a, 0, NULL), 0);
		assert_int_equal(stats().used, 13 * (4 * KiB + 64));
		for (i = 0; i < 13; i++)
			assert_int_equal(
				req(STORE_WIRE_FREE, 4 * KiB + 1, a + i * 16 * KiB, 0, &off), 0);
		assert_int_equal(stats().used, 0);
	}
}

/* The record names each owned replica's owner: other stores read it there. */
static void
test_record_owner_names(void **state)
{
	static const char *const bad[] = {
		"tern1 w 64 1 1 0:0@",
		"tern1 w 64 1 1 0:0@b",
		"tern1 w 64 1 1 0:0@b/",
		"tern1 w 64 1 1 0:0@/st",
		"tern1 w 64 1 1 0:0@b/st/x",
		"tern1 w 64 1 1 0:0@b c/st",
		"tern1 w 64 1 1 0:0@b/st@c/d",
		"tern1 w 64 1 1 0:0@b/s\x01",
		"tern1 w 64 1 1 0:0@b/st ",
		"tern1 w 64 1 1 0:0@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/st",
		"tern1 w 64 2 2 0:0@b/st1:64",
	};
	struct store_ext_rec r, back;
	char text[STORE_EXT_TEXT_MAX];
	unsigned int i;
	int n;

	(void)state;
	memset(&r, 0, sizeof(r));
	memcpy(r.owner, "w", 2);
	r.size = 64;
	r.version = 3;
	r.nb_rep = 2;
	r.node[0] = 0;
	r.offset[0] = 128;
	snprintf(r.onode[0], sizeof(r.onode[0]), "b");
	snprintf(r.oseg[0], sizeof(r.oseg[0]), "st.0:x-y_z");
	r.node[1] = 2;
	r.offset[1] = 64; /* not owned: no name */
	n = store_ext_encode(&r, text, sizeof(text));
	assert_true(n > 0);
	assert_string_equal(text, "tern1 w 64 3 2 0:128@b/st.0:x-y_z 2:64");
	assert_int_equal(store_ext_decode(text, (size_t)n, &back), 0);
	assert_memory_equal(&back, &r, sizeof(r));
	assert_int_equal(store_ext_decode("tern1 w 64 1 1 0:0@b/st", 23, &back), 0);
	assert_string_equal(back.onode[0], "b");
	assert_string_equal(back.oseg[0], "st");
	for (i = 0; i < RTE_DIM(bad); i++)
		if (store_ext_decode(bad[i], strlen(bad[i]), &back) != -EPROTO)
			fail_msg("accepted: %s", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_ref_defers_free),
		cmocka_unit_test(test_read_ref_lease_expires),
		cmocka_unit_test(test_read_ref_malformed),
		cmocka_unit_test(test_record_owner_names),
		cmocka_unit_test(test_arena),
	};
	uint32_t seg;
	void *mem;
	int ret;

	test_eal_init("test_store_owner", "0@(0-1),1@(0-1)", 256);
	test_env_create(&env, "sown", NULL);
	seg = test_segment_local(&env, "owncap", 1 * MiB, &mem);
	owner = tern_store_owner_create(&(struct tern_store_owner_conf){
		.segments = env.segments,
		.segment = seg,
		.length = 1 * MiB,
	});
	if (owner == NULL) {
		fprintf(stderr, "tern_store_owner_create: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	tern_store_owner_destroy(owner);
	test_env_destroy(&env);
	free(mem);
	return ret;
}
