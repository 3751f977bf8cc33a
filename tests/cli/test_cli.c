/* SPDX-License-Identifier: BSD-3-Clause */
/* The strict number and size parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <tern_cli.h>

static void
u64_accepts_exact_decimals_only(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(tern_cli_parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(tern_cli_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(tern_cli_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(tern_cli_parse_u64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(tern_cli_parse_u64("0", 1, 10, &v), -ERANGE);
	assert_int_equal(tern_cli_parse_u64("", 0, 10, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_u64(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_u64("1 ", 0, 10, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_u64("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_u64("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_u64("0x10", 0, 100, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_u64("1e3", 0, 10000, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_u64(NULL, 0, 10, &v), -EINVAL);
}

static void
sizes_take_binary_suffixes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(tern_cli_parse_size("4096", UINT64_MAX, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(tern_cli_parse_size("64K", UINT64_MAX, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(tern_cli_parse_size("1m", UINT64_MAX, &v), 0);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(tern_cli_parse_size("4G", UINT64_MAX, &v), 0);
	assert_int_equal(v, 4ull << 30);
	assert_int_equal(tern_cli_parse_size("2MB", UINT64_MAX, &v), 0);
	assert_int_equal(v, 2 << 20);
	assert_int_equal(tern_cli_parse_size("1T", UINT64_MAX, &v), 0);
	assert_int_equal(tern_cli_parse_size("0", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(tern_cli_parse_size("0K", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(tern_cli_parse_size("2G", 1ull << 30, &v), -ERANGE);
	assert_int_equal(tern_cli_parse_size("99999999999999T", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(tern_cli_parse_size("4X", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("4KK", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("4 K", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("K", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("4B", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("1.5G", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("-4K", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("+4K", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size(" 4K", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("4K ", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("0x10", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size(NULL, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(tern_cli_parse_size("18446744073709551615", UINT64_MAX, &v), 0);
	assert_int_equal(tern_cli_parse_size("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(tern_cli_parse_size("17179869184G", UINT64_MAX, &v), -ERANGE);
}

/* The building block of lists: stops after the size, leaves the rest. */
static void
scan_size_stops_after_the_size(void **state)
{
	const char *p = "4KB-1M,7", *q = "x", *z = "0,";
	uint64_t v;

	(void)state;
	assert_int_equal(tern_cli_scan_size(&p, &v), 0);
	assert_int_equal(v, 4096);
	assert_string_equal(p, "-1M,7");
	p++;
	assert_int_equal(tern_cli_scan_size(&p, &v), 0);
	assert_int_equal(v, 1ull << 20);
	assert_string_equal(p, ",7");
	assert_int_equal(tern_cli_scan_size(&q, &v), -EINVAL);
	assert_string_equal(q, "x");
	assert_int_equal(tern_cli_scan_size(&z, &v), 0); /* zero scans; callers decide */
	assert_int_equal(v, 0);
	p = "16777216T";
	assert_int_equal(tern_cli_scan_size(&p, &v), -ERANGE);
	assert_int_equal(tern_cli_scan_size(NULL, &v), -EINVAL);
}

/* The three name sets, the length bound (the NUL must fit) and bad input. */
static void
names_are_checked_against_their_set(void **state)
{
	(void)state;
	assert_int_equal(tern_cli_check_name_chars("kv_0", 8, TERN_CLI_NAME_LOWER), 0);
	assert_int_equal(tern_cli_check_name_chars("Kv", 8, TERN_CLI_NAME_LOWER), -EINVAL);
	assert_int_equal(tern_cli_check_name_chars("Kv_0", 8, TERN_CLI_NAME_WORD), 0);
	assert_int_equal(tern_cli_check_name_chars("kv.0", 8, TERN_CLI_NAME_WORD), -EINVAL);
	assert_int_equal(tern_cli_check_name_chars("kv.0:a-b", 9, TERN_CLI_NAME_SEGMENT), 0);
	assert_int_equal(tern_cli_check_name_chars("kv.0:a-b", 8, TERN_CLI_NAME_SEGMENT), -EINVAL);
	assert_int_equal(tern_cli_check_name_chars("kv/0", 8, TERN_CLI_NAME_SEGMENT), -EINVAL);
	assert_int_equal(tern_cli_check_name_chars("", 8, TERN_CLI_NAME_WORD), -EINVAL);
	assert_int_equal(tern_cli_check_name_chars(NULL, 8, TERN_CLI_NAME_WORD), -EINVAL);
	assert_int_equal(tern_cli_check_name_chars("a", 0, TERN_CLI_NAME_WORD), -EINVAL);
	assert_int_equal(tern_cli_check_name_chars("a", 8, (enum tern_cli_name_chars)7), -EINVAL);
}

static void
names_are_checked(void **state)
{
	(void)state;
	assert_int_equal(tern_cli_check_name("tern_1", 16), 0);
	assert_int_equal(tern_cli_check_name("", 16), -EINVAL);
	assert_int_equal(tern_cli_check_name("a-b", 16), -EINVAL);
	assert_int_equal(tern_cli_check_name("0123456789abcdef", 16), -EINVAL);
	assert_int_equal(tern_cli_check_name(NULL, 16), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(u64_accepts_exact_decimals_only),
		cmocka_unit_test(sizes_take_binary_suffixes),
		cmocka_unit_test(scan_size_stops_after_the_size),
		cmocka_unit_test(names_are_checked_against_their_set),
		cmocka_unit_test(names_are_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
