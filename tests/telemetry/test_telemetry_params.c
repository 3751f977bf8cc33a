/* SPDX-License-Identifier: BSD-3-Clause */
/* The strict parsers behind the telemetry commands, and the latency estimate. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_log.h>
#include <rte_telemetry.h>

#include "telemetry_parse.h"

static int
parse_set(const char *params, struct tern_tel_setting *set)
{
	char err[RTE_TEL_MAX_STRING_LEN];
	int ret;

	memset(err, 0, sizeof(err));
	ret = tern_tel_parse_set(params, set, err, sizeof(err));
	if (ret != 0) {
		/* Every refusal says why, within one telemetry string. */
		assert_true(err[0] != '\0');
		assert_true(strlen(err) < RTE_TEL_MAX_STRING_LEN - 1);
		assert_null(strchr(err, '"'));
		assert_null(strchr(err, '\\'));
	}
	return ret;
}

static void
set_accepts_each_key(void **state)
{
	struct tern_tel_setting s;

	(void)state;
	assert_int_equal(parse_set("slice_size=4K", &s), 0);
	assert_int_equal(s.key, TERN_TEL_KEY_SLICE_SIZE);
	assert_int_equal(s.value, 4096);
	assert_int_equal(parse_set("slice_size=1M", &s), 0);
	assert_int_equal(s.value, 1u << 20);
	assert_int_equal(parse_set("slice_size=1g", &s), 0);
	assert_int_equal(s.value, 1u << 30);
	assert_int_equal(parse_set("slice_size=2MB", &s), 0);
	assert_int_equal(s.value, 2u << 20);
	assert_int_equal(parse_set("slice_size=65536", &s), 0);
	assert_int_equal(s.value, 65536);
	assert_int_equal(parse_set("deadline_ms=250", &s), 0);
	assert_int_equal(s.key, TERN_TEL_KEY_DEADLINE_MS);
	assert_int_equal(s.value, 250);
	assert_int_equal(parse_set("deadline_ms=3600000", &s), 0);
	assert_int_equal(parse_set("log_level=debug", &s), 0);
	assert_int_equal(s.key, TERN_TEL_KEY_LOG_LEVEL);
	assert_int_equal(s.value, RTE_LOG_DEBUG);
	assert_int_equal(parse_set("log_level=WARNING", &s), 0);
	assert_int_equal(s.value, RTE_LOG_WARNING);
	assert_int_equal(parse_set("log_level=error", &s), 0);
	assert_int_equal(s.value, RTE_LOG_ERR);
	assert_int_equal(parse_set("log_level=1", &s), 0);
	assert_int_equal(s.value, RTE_LOG_EMERG);
	assert_int_equal(parse_set("log_level=8", &s), 0);
	assert_int_equal(s.value, RTE_LOG_DEBUG);
}

static void
set_rejects_malformed_input(void **state)
{
	static const char *const bad[] = {
		"",			       /* empty */
		"slice_size",		       /* missing '=' */
		"slice_size=",		       /* missing value */
		"=4K",			       /* missing key */
		"=",			       /* nothing */
		"bogus=1",		       /* unknown key */
		"SLICE_SIZE=4K",	       /* keys are case-sensitive */
		"slice_size=4K,deadline_ms=5", /* two keys */
		"slice_size=4K,",	       /* trailing separator */
		"slice_size=1M=2",	       /* two '=' */
		"slice_size=4Kx",	       /* trailing garbage */
		"slice_size=4X",	       /* bad suffix */
		"slice_size=4KK",	       /* double suffix */
		"slice_size=K",		       /* suffix without digits */
		"slice_size=-4K",	       /* sign */
		"slice_size=+4K",	       /* sign */
		"slice_size= 4K",	       /* space */
		"slice_size=4K ",	       /* trailing space */
		" slice_size=4K",	       /* leading space */
		"slice_size=0x1000",	       /* not decimal */
		"slice_size=4.5K",	       /* not an integer */
		"deadline_ms=abc",	       /* not a number */
		"deadline_ms=5ms",	       /* unit */
		"deadline_ms=1K",	       /* no suffixes for ms */
		"log_level=loud",	       /* unknown level */
		"log_level=9",		       /* above debug */
		"log_level=0",		       /* below emerg */
		"log_level=info,debug",	       /* two values */
		"log_level=-1",		       /* sign */
	};
	struct tern_tel_setting s;
	unsigned int i;

	(void)state;
	for (i = 0; i < RTE_DIM(bad); i++) {
		if (parse_set(bad[i], &s) == 0)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(parse_set(NULL, &s), -EINVAL);
}

static void
set_rejects_out_of_range_values(void **state)
{
	static const char *const bad[] = {
		"slice_size=0",			      /* zero */
		"slice_size=0K",		      /* zero with a suffix */
		"slice_size=4095",		      /* below 4 KiB */
		"slice_size=2G",		      /* above 1 GiB */
		"slice_size=1T",		      /* far above */
		"slice_size=18446744073709551616",    /* 2^64: overflow */
		"slice_size=99999999999999999999999", /* overflow */
		"slice_size=17179869184G",	      /* overflow through the suffix */
		"deadline_ms=0",		      /* zero */
		"deadline_ms=3600001",		      /* over an hour */
		"deadline_ms=18446744073709551616",   /* overflow */
	};
	struct tern_tel_setting s;
	unsigned int i;

	(void)state;
	for (i = 0; i < RTE_DIM(bad); i++) {
		if (parse_set(bad[i], &s) != -ERANGE)
			fail_msg("'%s' not refused with -ERANGE", bad[i]);
	}
}

static void
numbers_are_parsed_whole(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(tern_tel_parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(tern_tel_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(tern_tel_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(tern_tel_parse_u64("", 0, 10, &v), -EINVAL);
	assert_int_equal(tern_tel_parse_u64("1 ", 0, 10, &v), -EINVAL);
	assert_int_equal(tern_tel_parse_u64("1,2", 0, 10, &v), -EINVAL);
	assert_int_equal(tern_tel_parse_u64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(tern_tel_parse_u64(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(tern_tel_parse_size("16T", 1, UINT64_MAX, &v), 0);
	assert_true(v == 16ull << 40);
	assert_int_equal(tern_tel_parse_size("16777216T", 1, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(tern_tel_parse_size("4kb", 1, UINT64_MAX, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(tern_tel_parse_size("4B", 1, UINT64_MAX, &v), -EINVAL);
}

static void
log_level_names_round_trip(void **state)
{
	uint32_t level, l;

	(void)state;
	for (l = RTE_LOG_EMERG; l <= RTE_LOG_DEBUG; l++) {
		assert_int_equal(tern_tel_parse_log_level(tern_tel_log_level_name(l), &level), 0);
		assert_int_equal(level, l);
	}
	assert_string_equal(tern_tel_log_level_name(0), "unknown");
	assert_string_equal(tern_tel_log_level_name(9), "unknown");
	assert_int_equal(tern_tel_parse_log_level("", &level), -EINVAL);
	assert_int_equal(tern_tel_parse_log_level("infox", &level), -EINVAL);
}

static void
echoed_input_is_made_safe(void **state)
{
	char out[16];

	(void)state;
	tern_tel_sanitize("a\"b\\c\nd", out, sizeof(out));
	assert_string_equal(out, "a?b?c?d");
	tern_tel_sanitize("slice_size=4K", out, sizeof(out));
	assert_string_equal(out, "slice_size=4K");
	tern_tel_sanitize("0123456789abcdefghijklmnop", out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_string_equal(out + sizeof(out) - 4, "...");
	tern_tel_sanitize(NULL, out, sizeof(out));
	assert_string_equal(out, "");
}

static void
latency_percentiles_come_from_the_buckets(void **state)
{
	uint64_t b[48] = { 0 }, p50, p90, p99, max;

	(void)state;
	assert_int_equal(tern_tel_latency_percentile(b, 48, 50.0), 0);
	assert_int_equal(tern_tel_latency_max(b, 48), 0);
	/* 90 batches in [1024, 2048) ns, 9 in [8192, 16384), 1 in [2^20, 2^21). */
	b[10] = 90;
	b[13] = 9;
	b[20] = 1;
	p50 = tern_tel_latency_percentile(b, 48, 50.0);
	p90 = tern_tel_latency_percentile(b, 48, 90.0);
	p99 = tern_tel_latency_percentile(b, 48, 99.0);
	max = tern_tel_latency_max(b, 48);
	assert_true(p50 >= 1024 && p50 < 2048);
	assert_true(p90 >= 1024 && p90 < 2048);
	assert_true(p99 >= 8192 && p99 < 16384);
	assert_int_equal(max, (1u << 21) - 1);
	assert_true(p50 <= p90 && p90 <= p99 && p99 <= max);
	assert_int_equal(tern_tel_latency_percentile(b, 48, 100.0), max);
	/* Everything in bucket 0 (0 or 1 ns). */
	memset(b, 0, sizeof(b));
	b[0] = 5;
	assert_true(tern_tel_latency_percentile(b, 48, 50.0) <= 1);
	assert_int_equal(tern_tel_latency_max(b, 48), 1);
	/* The last bucket. */
	memset(b, 0, sizeof(b));
	b[47] = 1;
	assert_true(tern_tel_latency_percentile(b, 48, 99.0) >= 1ull << 47);
}

static void
peer_set_takes_node_and_transport_only(void **state)
{
	static const char *const bad[] = {
		NULL,
		"",
		"=",
		"node",
		"node=",
		"=tcp",
		"no de=tcp",
		"node=TCP",
		"node=tcp,x",
		"node=tc p",
		"node=tcp=tcp",
		"node/x=tcp",
		"node=averyveryverylongname",
		"a123456789012345678901234567890123456789012345678=tcp",
	};
	char node[48], transport[16], err[128];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(tern_tel_parse_peer_set(bad[i], node, transport, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "NODE=TRANSPORT"));
	}
	assert_int_equal(tern_tel_parse_peer_set("b-2.x:y=tcp", node, transport, err, sizeof(err)),
			 0);
	assert_string_equal(node, "b-2.x:y");
	assert_string_equal(transport, "tcp");
	assert_int_equal(tern_tel_parse_peer_set("b=auto", node, transport, err, sizeof(err)), 0);
	assert_string_equal(node, "b");
	assert_string_equal(transport, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_accepts_each_key),
		cmocka_unit_test(set_rejects_malformed_input),
		cmocka_unit_test(set_rejects_out_of_range_values),
		cmocka_unit_test(numbers_are_parsed_whole),
		cmocka_unit_test(log_level_names_round_trip),
		cmocka_unit_test(echoed_input_is_made_safe),
		cmocka_unit_test(latency_percentiles_come_from_the_buckets),
		cmocka_unit_test(peer_set_takes_node_and_transport_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
