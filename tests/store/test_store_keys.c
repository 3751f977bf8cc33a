/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The parameters of /tern/store_keys (lib/store/store_keys.c): what is
 * accepted, and every malformed form refused with a reason; the messages
 * and page text of a dataplane listing its clients' keys.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store_private.h"

static void
test_accepted(void **state)
{
	struct store_keys_query q;
	char err[160], key[TERN_STORE_KEY_MAX];

	(void)state;
	assert_int_equal(store_keys_parse(NULL, &q, err, sizeof(err)), 0);
	assert_int_equal(q.cursor, 0);
	assert_int_equal(q.count, STORE_KEYS_COUNT_DEF);
	assert_string_equal(q.prefix, "");
	assert_int_equal(store_keys_parse("", &q, err, sizeof(err)), 0);
	assert_int_equal(q.count, STORE_KEYS_COUNT_DEF);
	assert_int_equal(store_keys_parse("17", &q, err, sizeof(err)), 0);
	assert_int_equal(q.cursor, 17);
	assert_int_equal(q.count, STORE_KEYS_COUNT_DEF);
	assert_int_equal(store_keys_parse("0,1", &q, err, sizeof(err)), 0);
	assert_int_equal(q.cursor, 0);
	assert_int_equal(q.count, 1);
	assert_int_equal(store_keys_parse("33554432,64,a/b", &q, err, sizeof(err)), 0);
	assert_int_equal(q.cursor, STORE_KEYS_CURSOR_MAX);
	assert_int_equal(q.count, STORE_KEYS_COUNT_MAX);
	assert_string_equal(q.prefix, "a/b");
	/* The prefix is the rest: a key may hold commas. */
	assert_int_equal(store_keys_parse("5,2,x,y,,z", &q, err, sizeof(err)), 0);
	assert_string_equal(q.prefix, "x,y,,z");
	/* The longest prefix is the longest key. */
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	{
		char p[300];

		snprintf(p, sizeof(p), "0,3,%s", key);
		assert_int_equal(store_keys_parse(p, &q, err, sizeof(err)), 0);
		assert_string_equal(q.prefix, key);
	}
}

static void
expect_refused(const char *params, const char *reason)
{
	struct store_keys_query q;
	char err[160] = "";

	if (store_keys_parse(params, &q, err, sizeof(err)) != -EINVAL)
		fail_msg("accepted \"%s\"", params);
	if (strstr(err, reason) == NULL)
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", params, err, reason);
}

static void
test_refused(void **state)
{
	char p[300];

	(void)state;
	expect_refused(",", "bad cursor");
	expect_refused(",5", "bad cursor");
	expect_refused("-1", "bad cursor");
	expect_refused("+1", "bad cursor");
	expect_refused(" 1", "bad cursor");
	expect_refused("1 ", "bad cursor");
	expect_refused("01", "bad cursor");
	expect_refused("0x10", "bad cursor");
	expect_refused("33554433", "bad cursor");
	expect_refused("99999999999999999999", "bad cursor");
	expect_refused("abc", "bad cursor");
	expect_refused("0,", "bad count");
	expect_refused("0,0", "bad count");
	expect_refused("0,65", "bad count");
	expect_refused("0,-3", "bad count");
	expect_refused("0,064", "bad count");
	expect_refused("0,1x", "bad count");
	expect_refused("0,4294967297", "bad count");
	expect_refused("0,1,", "bad prefix");
	expect_refused("0,1,a b", "bad prefix");
	expect_refused("0,1,tab\t", "bad prefix");
	expect_refused("0,1,\x7f", "bad prefix");
	expect_refused("0,1,caf\xc3\xa9", "bad prefix");
	memset(p, 'k', sizeof(p) - 1);
	p[sizeof(p) - 1] = '\0';
	memcpy(p, "0,1,", 4);
	expect_refused(p, "bad prefix");
}

/* ---- the client listing's messages ---- */

static void
test_req_wire(void **state)
{
	struct store_keys_req q = { .op = STORE_KEYS_OP_PAGE, .pid = 4242 }, out;
	uint8_t buf[STORE_KEYS_MSG_MAX], bad[STORE_KEYS_MSG_MAX];
	int n, i;

	(void)state;
	snprintf(q.params, sizeof(q.params), "0,64,k/");
	n = store_keys_req_encode(&q, buf, sizeof(buf));
	assert_int_equal(n, STORE_KEYS_REQ_HDR + 7);
	assert_int_equal(store_keys_req_decode(buf, (size_t)n, &out), 0);
	assert_int_equal(out.op, STORE_KEYS_OP_PAGE);
	assert_int_equal(out.pid, 4242);
	assert_string_equal(out.params, "0,64,k/");
	/* Every single-byte change of the header is refused but the pid's. */
	for (i = 0; i < (int)STORE_KEYS_REQ_HDR; i++) {
		if (i >= 8 && i < 12)
			continue;
		memcpy(bad, buf, (size_t)n);
		bad[i] ^= 0x40;
		assert_int_equal(store_keys_req_decode(bad, (size_t)n, &out), -EPROTO);
	}
	/* Lengths: short, long, a params byte refused, pid 0. */
	assert_int_equal(store_keys_req_decode(buf, (size_t)n - 1, &out), -EPROTO);
	assert_int_equal(store_keys_req_decode(buf, (size_t)n + 1, &out), -EPROTO);
	assert_int_equal(store_keys_req_decode(buf, 3, &out), -EPROTO);
	assert_int_equal(store_keys_req_decode(NULL, 16, &out), -EPROTO);
	memcpy(bad, buf, (size_t)n);
	bad[STORE_KEYS_REQ_HDR + 1] = ' ';
	assert_int_equal(store_keys_req_decode(bad, (size_t)n, &out), -EPROTO);
	memcpy(bad, buf, (size_t)n);
	memset(bad + 8, 0, 4);
	assert_int_equal(store_keys_req_decode(bad, (size_t)n, &out), -EPROTO);
	/* A HELLO has no pid and no params. */
	q = (struct store_keys_req){ .op = STORE_KEYS_OP_HELLO };
	n = store_keys_req_encode(&q, buf, sizeof(buf));
	assert_int_equal(n, STORE_KEYS_REQ_HDR);
	assert_int_equal(store_keys_req_decode(buf, (size_t)n, &out), 0);
	assert_int_equal(out.op, STORE_KEYS_OP_HELLO);
	q.pid = 7;
	assert_int_equal(store_keys_req_encode(&q, buf, sizeof(buf)), -EINVAL);
	q = (struct store_keys_req){ .op = 3, .pid = 7 };
	assert_int_equal(store_keys_req_encode(&q, buf, sizeof(buf)), -EINVAL);
	/* The longest params fit one rte_mp message. */
	q = (struct store_keys_req){ .op = STORE_KEYS_OP_PAGE, .pid = 1 };
	memset(q.params, 'a', STORE_KEYS_PARAMS_MAX);
	n = store_keys_req_encode(&q, buf, sizeof(buf));
	assert_int_equal(n, STORE_KEYS_MSG_MAX - 1);
	assert_int_equal(store_keys_req_decode(buf, (size_t)n, &out), 0);
}

static void
test_rep_wire(void **state)
{
	struct store_keys_rep r = { .op = STORE_KEYS_OP_PAGE,
				    .pid = 99,
				    .count = 3,
				    .next = 17,
				    .text_len = 40,
				    .name = "lister" },
			      out;
	uint8_t buf[STORE_KEYS_REP_LEN + 1], bad[STORE_KEYS_REP_LEN];
	int i;

	(void)state;
	assert_int_equal(store_keys_rep_encode(&r, buf, sizeof(buf)), STORE_KEYS_REP_LEN);
	assert_int_equal(store_keys_rep_decode(buf, STORE_KEYS_REP_LEN, &out), 0);
	assert_int_equal(out.pid, 99);
	assert_int_equal(out.count, 3);
	assert_int_equal(out.next, 17);
	assert_int_equal(out.text_len, 40);
	assert_string_equal(out.name, "lister");
	assert_int_equal(store_keys_rep_decode(buf, STORE_KEYS_REP_LEN + 1, &out), -EPROTO);
	assert_int_equal(store_keys_rep_decode(buf, STORE_KEYS_REP_LEN - 1, &out), -EPROTO);
	/* Each field out of range, one at a time. */
	for (i = 0; i < 11; i++) {
		struct store_keys_rep b = r;

		switch (i) {
		case 0:
			b.op = 9;
			break;
		case 1:
			b.pid = 0;
			break;
		case 2:
			b.status = 5;
			break;
		case 3:
			b.count = STORE_KEYS_COUNT_MAX + 1;
			break;
		case 4:
			b.next = -2;
			break;
		case 5:
			b.next = (int32_t)STORE_KEYS_CURSOR_MAX + 1;
			break;
		case 6:
			b.truncated = 4;
			break;
		case 7:
			b.text_len = STORE_KEYS_TEXT_MAX + 1;
			break;
		case 8:
			b.text_len = 0;
			break;
		case 9:
			b.name[2] = '-';
			break;
		case 10:
			b.status = -ENOENT;
			break; /* a refusal with rows */
		}
		assert_int_equal(store_keys_rep_encode(&b, buf, sizeof(buf)), -EINVAL);
	}
	/* Bytes of the wire: magic, version, reserved, a name not zero-padded. */
	assert_int_equal(store_keys_rep_encode(&r, buf, sizeof(buf)), STORE_KEYS_REP_LEN);
	for (i = 0; i < 8; i++) {
		if (i == 5)
			continue; /* the op: 2 -> 66 is refused below anyway */
		memcpy(bad, buf, sizeof(bad));
		bad[i] ^= 0x10;
		assert_int_equal(store_keys_rep_decode(bad, sizeof(bad), &out), -EPROTO);
	}
	memcpy(bad, buf, sizeof(bad));
	bad[32 + 10] = 'x'; /* after the name's NUL */
	assert_int_equal(store_keys_rep_decode(bad, sizeof(bad), &out), -EPROTO);
	memcpy(bad, buf, sizeof(bad));
	memset(bad + 32, 'a', 16); /* no NUL */
	assert_int_equal(store_keys_rep_decode(bad, sizeof(bad), &out), -EPROTO);
	/* A refusal and a HELLO. */
	r = (struct store_keys_rep){
		.op = STORE_KEYS_OP_PAGE, .pid = 5, .status = -ESRCH, .next = -1
	};
	assert_int_equal(store_keys_rep_encode(&r, buf, sizeof(buf)), STORE_KEYS_REP_LEN);
	assert_int_equal(store_keys_rep_decode(buf, STORE_KEYS_REP_LEN, &out), 0);
	assert_int_equal(out.status, -ESRCH);
	r = (struct store_keys_rep){ .op = STORE_KEYS_OP_HELLO, .pid = 5, .name = "s1" };
	assert_int_equal(store_keys_rep_encode(&r, buf, sizeof(buf)), STORE_KEYS_REP_LEN);
	assert_int_equal(store_keys_rep_decode(buf, STORE_KEYS_REP_LEN, &out), 0);
	r.count = 1;
	assert_int_equal(store_keys_rep_encode(&r, buf, sizeof(buf)), -EINVAL);
}

static void
test_rows(void **state)
{
	struct store_keys_row row = { .key = "a/1",
				      .size = 4096,
				      .version = 7,
				      .replicas = "0:128 2:4096" },
			      out;
	static const char *const bad[] = {
		"a/1\t4096\t7\n",		    /* three fields */
		"a/1\t4096\t7\t0:1\t\n",	    /* five */
		"\t4096\t7\t\n",		    /* empty key */
		"a b\t4096\t7\t\n",		    /* a space in the key */
		"a/1\t04096\t7\t\n",		    /* leading zero */
		"a/1\t-1\t7\t\n",		    /* sign */
		"a/1\t\t7\t\n",			    /* empty size */
		"a/1\t18446744073709551616\t7\t\n", /* 2^64 */
		"a/1\t1\t7\t0:1  1:2\n",	    /* two spaces */
		"a/1\t1\t7\t 0:1\n",		    /* leading space */
		"a/1\t1\t7\t0:1 \n",		    /* trailing space */
		"a/1\t1\t7\t8:1\n",		    /* node 8 */
		"a/1\t1\t7\t0:\n",		    /* no offset */
		"a/1\t1\t7\t:5\n",		    /* no node */
		"a/1\t1\t7\t0-5\n",		    /* no colon */
		"a/1\t1\t7\t0:1 1:1 2:1 3:1 4:1\n", /* five replicas */
		"a/1\t1\t7\t0:1",		    /* no newline */
	};
	char buf[512];
	size_t off = 0;
	unsigned int i;
	int n, m;

	(void)state;
	n = store_keys_row_format(&row, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen("a/1\t4096\t7\t0:128 2:4096\n"));
	assert_string_equal(buf, "a/1\t4096\t7\t0:128 2:4096\n");
	row = (struct store_keys_row){ .key = "z", .size = 0, .version = 1 }; /* zero-size */
	m = store_keys_row_format(&row, buf + n, sizeof(buf) - (size_t)n);
	assert_true(m > 0);
	assert_int_equal(store_keys_row_parse(buf, (size_t)(n + m), &off, &out), 0);
	assert_string_equal(out.key, "a/1");
	assert_int_equal(out.size, 4096);
	assert_int_equal(out.version, 7);
	assert_string_equal(out.replicas, "0:128 2:4096");
	assert_int_equal(store_keys_row_parse(buf, (size_t)(n + m), &off, &out), 0);
	assert_string_equal(out.key, "z");
	assert_string_equal(out.replicas, "");
	assert_int_equal(store_keys_row_parse(buf, (size_t)(n + m), &off, &out), 1);
	assert_int_equal(store_keys_row_format(&row, buf, 4), -ENOSPC);
	row.key[0] = '\0';
	assert_int_equal(store_keys_row_format(&row, buf, sizeof(buf)), -EINVAL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		off = 0;
		if (store_keys_row_parse(bad[i], strlen(bad[i]), &off, &out) != -EPROTO)
			fail_msg("row accepted: %s", bad[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted), cmocka_unit_test(test_refused),
		cmocka_unit_test(test_req_wire), cmocka_unit_test(test_rep_wire),
		cmocka_unit_test(test_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
