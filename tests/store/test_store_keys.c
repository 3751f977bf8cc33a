/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The parameters of /tern/store_keys (lib/store/store_keys.c): what is
 * accepted, and every malformed form refused with a reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
