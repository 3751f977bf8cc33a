/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ns <-> TSC conversions (lib/util/tern_time.h) at 1 s, 10 s, 100 s, an hour
 * and UINT64_MAX, for clocks of 1, 2, 2.694873 and 5 GHz: the clock here is a
 * number, so spans too long to wait for are checked exactly. `ns * hz / 1e9`
 * in 64 bits wrapped past about 9.2 s at 2 GHz (10 s became 0.78 s).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tern_time.h"

static const uint64_t clocks_hz[] = { 1000000000ull, 2000000000ull, 2694873000ull, 5000000000ull };

static void
spans_convert_exactly_without_wrapping(void **state)
{
	static const uint64_t spans_s[] = { 1, 10, 100, 3600, 86400 * 365 };
	unsigned int i, j;

	(void)state;
	for (i = 0; i < sizeof(clocks_hz) / sizeof(clocks_hz[0]); i++)
		for (j = 0; j < sizeof(spans_s) / sizeof(spans_s[0]); j++) {
			uint64_t hz = clocks_hz[i], ns = spans_s[j] * TERN_NS_PER_S;
			uint64_t cycles = tern_ns_to_tsc(ns, hz);

			assert_int_equal(cycles, spans_s[j] * hz);
			assert_int_equal(tern_tsc_to_ns(cycles, hz), ns);
		}
}

static void
fractions_round_down(void **state)
{
	(void)state;
	/* 1 ns at 2.694873 GHz is 2.694873 cycles. */
	assert_int_equal(tern_ns_to_tsc(1, 2694873000ull), 2);
	assert_int_equal(tern_ns_to_tsc(1000, 2694873000ull), 2694);
	assert_int_equal(tern_tsc_to_ns(2694873, 2694873000ull), 1000000);
	assert_int_equal(tern_tsc_to_ns(1, 5000000000ull), 0);
	assert_int_equal(tern_ns_to_tsc(0, 2000000000ull), 0);
}

static void
for_ever_saturates(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(clocks_hz) / sizeof(clocks_hz[0]); i++) {
		uint64_t hz = clocks_hz[i];

		/* UINT64_MAX ns is 584 years: more cycles than 64 bits hold past 1 GHz. */
		assert_true(tern_ns_to_tsc(UINT64_MAX, hz) >= UINT64_MAX / 2);
		if (hz > TERN_NS_PER_S)
			assert_int_equal(tern_ns_to_tsc(UINT64_MAX, hz), UINT64_MAX);
		assert_int_equal(tern_tsc_to_ns(UINT64_MAX, hz),
				 (uint64_t)((unsigned __int128)UINT64_MAX * TERN_NS_PER_S / hz));
		/* Monotonic across the old wrap point (2^64 / hz ns). */
		assert_true(tern_ns_to_tsc(10 * TERN_NS_PER_S, hz) >
			    tern_ns_to_tsc(9 * TERN_NS_PER_S, hz));
	}
	assert_int_equal(tern_tsc_to_ns(12345, 0), 0);
}

static void
deadline_sums_saturate(void **state)
{
	(void)state;
	assert_int_equal(tern_add_sat(5, 7), 12);
	assert_int_equal(tern_add_sat(UINT64_MAX - 3, 3), UINT64_MAX);
	assert_int_equal(tern_add_sat(UINT64_MAX - 3, 4), UINT64_MAX);
	assert_int_equal(tern_add_sat(UINT64_MAX, UINT64_MAX), UINT64_MAX);
}

/* The hot path's 32.32 scales agree with the exact conversion to 1e-9. */
static void
scales_match_the_exact_conversion(void **state)
{
	static const uint64_t spans_ns[] = {
		64, 1000, 1000000000ull, 10000000000ull, 100000000000ull, 3600000000000ull
	};
	unsigned int i, j;

	(void)state;
	for (i = 0; i < sizeof(clocks_hz) / sizeof(clocks_hz[0]); i++) {
		uint64_t hz = clocks_hz[i];
		uint64_t to_tsc = tern_scale_make(hz, TERN_NS_PER_S);
		uint64_t to_ns = tern_scale_make(TERN_NS_PER_S, hz);

		for (j = 0; j < sizeof(spans_ns) / sizeof(spans_ns[0]); j++) {
			uint64_t exact = tern_ns_to_tsc(spans_ns[j], hz);
			uint64_t fast = tern_scale_apply(spans_ns[j], to_tsc);
			uint64_t back = tern_scale_apply(exact, to_ns);

			assert_true(fast <= exact && exact - fast <= exact / 1000000000ull + 1);
			assert_true(back <= spans_ns[j] &&
				    spans_ns[j] - back <= spans_ns[j] / 1000000000ull + 1);
		}
		assert_int_equal(tern_scale_apply(UINT64_MAX, to_tsc), UINT64_MAX);
	}
	assert_int_equal(tern_scale_make(1, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spans_convert_exactly_without_wrapping),
		cmocka_unit_test(fractions_round_down),
		cmocka_unit_test(for_ever_saturates),
		cmocka_unit_test(deadline_sums_saturate),
		cmocka_unit_test(scales_match_the_exact_conversion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
