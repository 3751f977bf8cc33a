/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perf_args.h"

#define ARGV(...)     ((char *const[]){ "tern-perf", __VA_ARGS__, NULL })
#define ARGC(...)     ((int)(sizeof((const char *[]){ "tern-perf", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(a, ...) perf_args_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (a), err, sizeof(err))

static char err[256];

/* Parse one option with one value; expect failure with a message. */
static void
assert_rejected(const char *opt, const char *val)
{
	struct perf_args a;
	char *const argv[] = { "tern-perf", (char *)opt, (char *)val, NULL };

	err[0] = '\0';
	assert_int_equal(perf_args_parse(val == NULL ? 2 : 3, argv, &a, err, sizeof(err)), -EINVAL);
	assert_true(strlen(err) > 0);
}

static void
test_defaults(void **state)
{
	struct perf_args a;
	char *const argv[] = { "tern-perf", NULL };

	(void)state;
	assert_int_equal(perf_args_parse(1, argv, &a, err, sizeof(err)), 0);
	assert_int_equal(a.op, PERF_OP_WRITE);
	assert_int_equal(a.nb_block_sizes, 4);
	assert_int_equal(a.block_sizes[0], 4096);
	assert_int_equal(a.block_sizes[3], 64ull << 20);
	assert_int_equal(a.batch, 1);
	assert_int_equal(a.clients, 1);
	assert_true(a.duration_ns > 0);
	assert_int_equal(a.iterations, 0);
	assert_string_equal(a.transport, "memcpy");
	assert_int_equal(a.target, PERF_TARGET_LOOPBACK);
	assert_false(a.verify);
	assert_false(a.json);
	assert_true(a.baseline);
	assert_int_equal(a.store_keys, 0);
	assert_int_equal(PARSE(&a, "--store", "1048576"), 0);
	assert_int_equal(a.store_keys, 1048576);
	assert_int_equal(PARSE(&a, "--store-metadata", "redis://127.0.0.1:6379/t"), 0);
	assert_string_equal(a.store_metadata, "redis://127.0.0.1:6379/t");
}

static void
test_full_command_line(void **state)
{
	struct perf_args a;

	(void)state;
	assert_int_equal(PARSE(&a, "--op", "read", "--block-size=4K,64K,1M,64M", "--batch", "32",
			       "--inflight", "8", "--clients", "2", "--workers", "1", "--duration",
			       "1.5", "--warmup", "250ms", "--transport", "memcpy", "--target",
			       "loopback", "--verify", "--json", "--quiet", "--working-set", "1G",
			       "--slice-size", "64K", "--completion", "wait", "--stream-threshold",
			       "4M", "--share-threshold=1M", "--no-baseline"),
			 0);
	assert_int_equal(a.op, PERF_OP_READ);
	assert_int_equal(a.nb_block_sizes, 4);
	assert_int_equal(a.block_sizes[1], 65536);
	assert_int_equal(a.batch, 32);
	assert_int_equal(a.inflight, 8);
	assert_int_equal(a.clients, 2);
	assert_int_equal(a.workers, 1);
	assert_int_equal(a.duration_ns, 1500000000ull);
	assert_int_equal(a.warmup_ns, 250000000ull);
	assert_int_equal(a.working_set, 1ull << 30);
	assert_int_equal(a.slice_bytes, 65536);
	assert_int_equal(a.stream_bytes, 4ull << 20);
	assert_int_equal(a.share_bytes, 1ull << 20);
	assert_int_equal(a.completion, PERF_COMPLETION_WAIT);
	assert_true(a.verify && a.json && a.quiet);
	assert_false(a.baseline);
}

static void
test_block_size_range_doubles(void **state)
{
	uint64_t sizes[PERF_MAX_BLOCK_SIZES];
	unsigned int nb = 0;

	(void)state;
	assert_int_equal(perf_parse_size_list("4K-64M", sizes, PERF_MAX_BLOCK_SIZES, &nb), 0);
	assert_int_equal(nb, 15);
	assert_int_equal(sizes[0], 4096);
	assert_int_equal(sizes[1], 8192);
	assert_int_equal(sizes[14], 64ull << 20);
	/* The upper end is included even off the doubling sequence; ranges and lists mix. */
	assert_int_equal(perf_parse_size_list("3K-10K,64", sizes, PERF_MAX_BLOCK_SIZES, &nb), 0);
	assert_int_equal(nb, 4);
	assert_int_equal(sizes[2], 10240);
	assert_int_equal(sizes[3], 64);
	assert_int_equal(perf_parse_size_list("1M-1M", sizes, PERF_MAX_BLOCK_SIZES, &nb), 0);
	assert_int_equal(nb, 1);
	/* Too many sizes. */
	assert_int_equal(perf_parse_size_list("1-1G", sizes, 8, &nb), -E2BIG);
}

static void
test_durations(void **state)
{
	uint64_t ns;

	(void)state;
	assert_int_equal(perf_parse_duration("2", &ns), 0);
	assert_int_equal(ns, 2000000000ull);
	assert_int_equal(perf_parse_duration("0.5s", &ns), 0);
	assert_int_equal(ns, 500000000ull);
	assert_int_equal(perf_parse_duration("100ms", &ns), 0);
	assert_int_equal(ns, 100000000ull);
	assert_int_equal(perf_parse_duration("1.5ms", &ns), 0);
	assert_int_equal(ns, 1500000ull);
	assert_int_equal(perf_parse_duration("250us", &ns), 0);
	assert_int_equal(ns, 250000ull);
	assert_int_equal(perf_parse_duration("0", &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(perf_parse_duration("86400", &ns), 0);
	assert_int_equal(perf_parse_duration("86401", &ns), -ERANGE);
	assert_int_equal(perf_parse_duration("99999999999999999999", &ns), -ERANGE);
	assert_int_equal(perf_parse_duration("1.", &ns), -EINVAL);
	assert_int_equal(perf_parse_duration(".5", &ns), -EINVAL);
	assert_int_equal(perf_parse_duration("1e3", &ns), -EINVAL);
	assert_int_equal(perf_parse_duration("inf", &ns), -EINVAL);
	assert_int_equal(perf_parse_duration("nan", &ns), -EINVAL);
	assert_int_equal(perf_parse_duration("-1", &ns), -EINVAL);
	assert_int_equal(perf_parse_duration("1h", &ns), -EINVAL);
	assert_int_equal(perf_parse_duration("1 s", &ns), -EINVAL);
	assert_int_equal(perf_parse_duration("0.1234567891", &ns), -EINVAL);
}

static void
test_integers(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(perf_parse_uint("32", 1, 1024, &v), 0);
	assert_int_equal(v, 32);
	assert_int_equal(perf_parse_uint("0", 1, 1024, &v), -ERANGE);
	assert_int_equal(perf_parse_uint("1025", 1, 1024, &v), -ERANGE);
	assert_int_equal(perf_parse_uint("99999999999999999999999", 1, 1024, &v), -ERANGE);
	assert_int_equal(perf_parse_uint("32x", 1, 1024, &v), -EINVAL);
	assert_int_equal(perf_parse_uint("3 2", 1, 1024, &v), -EINVAL);
	assert_int_equal(perf_parse_uint("-1", 1, 1024, &v), -EINVAL);
	assert_int_equal(perf_parse_uint("", 1, 1024, &v), -EINVAL);
	assert_int_equal(perf_parse_uint("4K", 1, 1024, &v), -EINVAL);
}

static void
test_malformed_options_rejected(void **state)
{
	(void)state;
	assert_rejected("--op", "copy");
	assert_rejected("--op", "");
	assert_rejected("--block-size", "");
	assert_rejected("--block-size", "4K,");
	assert_rejected("--block-size", ",4K");
	assert_rejected("--block-size", "4K,,64K");
	assert_rejected("--block-size", "64M-4K");
	assert_rejected("--block-size", "4K-");
	assert_rejected("--block-size", "4K-64M-1G");
	assert_rejected("--block-size", "2G");
	assert_rejected("--block-size", "4KiB");
	assert_rejected("--block-size", "0");
	assert_rejected("--batch", "0");
	assert_rejected("--batch", "1025");
	assert_rejected("--batch", "32abc");
	assert_rejected("--batch", "-1");
	assert_rejected("--inflight", "0");
	assert_rejected("--inflight", "18446744073709551616");
	assert_rejected("--clients", "0");
	assert_rejected("--clients", "257");
	assert_rejected("--workers", "0");
	assert_rejected("--duration", "0");
	assert_rejected("--duration", "abc");
	assert_rejected("--duration", "2 s");
	assert_rejected("--warmup", "-1");
	assert_rejected("--iterations", "0");
	assert_rejected("--iterations", "1e6");
	assert_rejected("--transport", "rdma");
	assert_rejected("--transport", "MEMCPY");
	assert_rejected("--target", "remote");
	assert_rejected("--completion", "poll");
	assert_rejected("--working-set", "0");
	assert_rejected("--working-set", "65G");
	assert_rejected("--working-set", "1P");
	assert_rejected("--slice-size", "2G");
	assert_rejected("--slice-size", "1K");
	/* Missing values, unknown options, stray words, values on flags. */
	assert_rejected("--batch", NULL);
	assert_rejected("--bogus", NULL);
	assert_rejected("--", NULL);
	assert_rejected("-x", NULL);
	assert_rejected("batch", NULL);
	assert_rejected("--verify=yes", NULL);
	assert_rejected("--json", "extra");
	assert_rejected("--bat", "1");
	/* --store N: a key count in 1..PERF_STORE_KEYS_MAX. */
	assert_rejected("--store", "0");
	assert_rejected("--store", "1048577");
	assert_rejected("--store", "-1");
	assert_rejected("--store", "12k");
	assert_rejected("--store", NULL);
	assert_rejected("--store-metadata", "");
	assert_rejected("--store-metadata", "redis://a b");
	assert_rejected("--store-metadata", NULL);
}

static void
test_exclusive_and_combined_limits(void **state)
{
	struct perf_args a;

	(void)state;
	assert_int_equal(PARSE(&a, "--duration", "1", "--iterations", "10"), -EINVAL);
	assert_int_equal(PARSE(&a, "--iterations", "10", "--duration", "1"), -EINVAL);
	assert_int_equal(PARSE(&a, "--iterations", "10"), 0);
	assert_int_equal(a.iterations, 10);
	assert_int_equal(a.duration_ns, 0);
	assert_int_equal(PARSE(&a, "--working-set", "64G", "--clients", "2"), -EINVAL);
	/* The last of a repeated option wins. */
	assert_int_equal(PARSE(&a, "--batch", "2", "--batch", "3"), 0);
	assert_int_equal(a.batch, 3);
}

static void
test_help(void **state)
{
	struct perf_args a;

	(void)state;
	assert_int_equal(PARSE(&a, "--help"), 0);
	assert_true(a.help);
	assert_int_equal(PARSE(&a, "-h"), 0);
	assert_true(a.help);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(perf_op_name(PERF_OP_READ), "read");
	assert_string_equal(perf_op_name(PERF_OP_WRITE), "write");
	assert_string_equal(perf_target_name(PERF_TARGET_LOOPBACK), "loopback");
	assert_string_equal(perf_target_name(PERF_TARGET_DATAPLANE), "dataplane");
	assert_string_equal(perf_target_name((enum perf_target)42), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_command_line),
		cmocka_unit_test(test_block_size_range_doubles),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_malformed_options_rejected),
		cmocka_unit_test(test_exclusive_and_combined_limits),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
