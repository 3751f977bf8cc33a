/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <tern_histogram.h>

static struct tern_histogram *
hist_new(void)
{
	struct tern_histogram *h = malloc(sizeof(*h));

	assert_non_null(h);
	tern_histogram_reset(h);
	return h;
}

/* Relative error of a reported value against the true one. */
static void
assert_close(uint64_t got, uint64_t want)
{
	uint64_t diff = got > want ? got - want : want - got;

	/* One bucket is at most 1/2^SUB_BITS of its value wide. */
	assert_true((double)diff <= (double)want / TERN_HISTOGRAM_SUB_COUNT + 1.0);
}

static void
test_empty_histogram_reports_zero(void **state)
{
	struct tern_histogram *h = hist_new();

	(void)state;
	assert_int_equal(h->count, 0);
	assert_int_equal(tern_histogram_percentile(h, 50.0), 0);
	assert_int_equal(tern_histogram_percentile(h, 100.0), 0);
	assert_true(tern_histogram_mean(h) == 0.0);
	assert_int_equal(tern_histogram_percentile(NULL, 50.0), 0);
	free(h);
}

static void
test_small_values_are_exact(void **state)
{
	struct tern_histogram *h = hist_new();
	uint64_t v;

	(void)state;
	/* 1..100 once each: below 2^(SUB_BITS+1) every value has its own bucket. */
	for (v = 1; v <= 100; v++)
		tern_histogram_record(h, v);
	assert_int_equal(h->count, 100);
	assert_int_equal(h->min, 1);
	assert_int_equal(h->max, 100);
	assert_int_equal(tern_histogram_percentile(h, 50.0), 50);
	assert_int_equal(tern_histogram_percentile(h, 90.0), 90);
	assert_int_equal(tern_histogram_percentile(h, 99.0), 99);
	assert_int_equal(tern_histogram_percentile(h, 99.9), 100);
	assert_int_equal(tern_histogram_percentile(h, 0.0), 1);
	assert_int_equal(tern_histogram_percentile(h, 100.0), 100);
	assert_true(tern_histogram_mean(h) == 50.5);
	free(h);
}

static void
test_large_values_within_relative_error(void **state)
{
	struct tern_histogram *h = hist_new();
	uint64_t i;

	(void)state;
	/* 1000, 2000, ... 1,000,000 ns: a latency-like spread over three decades. */
	for (i = 1; i <= 1000; i++)
		tern_histogram_record(h, i * 1000);
	assert_close(tern_histogram_percentile(h, 50.0), 500000);
	assert_close(tern_histogram_percentile(h, 90.0), 900000);
	assert_close(tern_histogram_percentile(h, 99.0), 990000);
	assert_close(tern_histogram_percentile(h, 99.9), 999000);
	assert_int_equal(tern_histogram_percentile(h, 100.0), 1000000);
	assert_int_equal(tern_histogram_percentile(h, 0.0), 1000);
	free(h);
}

static void
test_skewed_distribution_tail(void **state)
{
	struct tern_histogram *h = hist_new();

	(void)state;
	/* 999 fast ones and one outlier: p99 is fast, p99.9 fast, max the outlier. */
	tern_histogram_record_n(h, 800, 999);
	tern_histogram_record(h, 5000000);
	assert_close(tern_histogram_percentile(h, 50.0), 800);
	assert_close(tern_histogram_percentile(h, 99.0), 800);
	assert_close(tern_histogram_percentile(h, 99.9), 800);
	assert_int_equal(tern_histogram_percentile(h, 99.95), 5000000);
	assert_int_equal(h->max, 5000000);
	free(h);
}

static void
test_extreme_values(void **state)
{
	struct tern_histogram *h = hist_new();

	(void)state;
	tern_histogram_record(h, 0);
	tern_histogram_record(h, UINT64_MAX);
	assert_int_equal(h->count, 2);
	assert_int_equal(h->min, 0);
	assert_true(h->max == UINT64_MAX);
	assert_int_equal(tern_histogram_percentile(h, 50.0), 0);
	assert_true(tern_histogram_percentile(h, 100.0) == UINT64_MAX);
	assert_true(tern_histogram_percentile(h, 75.0) == UINT64_MAX);
	/* The sum saturates instead of wrapping. */
	tern_histogram_record(h, UINT64_MAX);
	assert_true(h->sum == UINT64_MAX);
	assert_int_equal(tern_histogram_index(UINT64_MAX), TERN_HISTOGRAM_BUCKETS - 1);
	free(h);
}

static void
test_percentile_arguments_clamped(void **state)
{
	struct tern_histogram *h = hist_new();

	(void)state;
	tern_histogram_record(h, 10);
	tern_histogram_record(h, 20);
	assert_int_equal(tern_histogram_percentile(h, -5.0), 10);
	assert_int_equal(tern_histogram_percentile(h, 250.0), 20);
	assert_int_equal(tern_histogram_percentile(h, 0.0 / 0.0), 20);
	free(h);
}

static void
test_buckets_cover_every_value_once(void **state)
{
	unsigned int i;

	(void)state;
	/* Buckets are contiguous and each maps back to itself. */
	assert_int_equal(tern_histogram_bucket_low(0), 0);
	for (i = 0; i < TERN_HISTOGRAM_BUCKETS; i++) {
		uint64_t lo = tern_histogram_bucket_low(i), hi = tern_histogram_bucket_high(i);

		assert_true(lo <= hi);
		assert_int_equal(tern_histogram_index(lo), i);
		assert_int_equal(tern_histogram_index(hi), i);
		if (i + 1 < TERN_HISTOGRAM_BUCKETS)
			assert_true(tern_histogram_bucket_low(i + 1) == hi + 1);
		else
			assert_true(hi == UINT64_MAX);
	}
}

static void
test_merge_equals_recording_together(void **state)
{
	struct tern_histogram *a = hist_new(), *b = hist_new(), *all = hist_new();
	struct tern_histogram *merged = hist_new();
	uint64_t v, x = 12345;
	double p;

	(void)state;
	for (v = 0; v < 20000; v++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		tern_histogram_record((v & 1) ? a : b, (x >> 40) + 1);
		tern_histogram_record(all, (x >> 40) + 1);
	}
	assert_int_equal(tern_histogram_merge(merged, a), 0);
	assert_int_equal(tern_histogram_merge(merged, b), 0);
	assert_int_equal(merged->count, all->count);
	assert_int_equal(merged->min, all->min);
	assert_int_equal(merged->max, all->max);
	assert_true(merged->sum == all->sum);
	for (p = 0.0; p <= 100.0; p += 0.5)
		assert_true(tern_histogram_percentile(merged, p) ==
			    tern_histogram_percentile(all, p));
	/* Merging an empty one changes nothing; NULL is refused. */
	tern_histogram_reset(a);
	assert_int_equal(tern_histogram_merge(merged, a), 0);
	assert_int_equal(merged->min, all->min);
	assert_int_equal(tern_histogram_merge(NULL, a), -EINVAL);
	assert_int_equal(tern_histogram_merge(merged, NULL), -EINVAL);
	free(a);
	free(b);
	free(all);
	free(merged);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_histogram_reports_zero),
		cmocka_unit_test(test_small_values_are_exact),
		cmocka_unit_test(test_large_values_within_relative_error),
		cmocka_unit_test(test_skewed_distribution_tail),
		cmocka_unit_test(test_extreme_values),
		cmocka_unit_test(test_percentile_arguments_clamped),
		cmocka_unit_test(test_buckets_cover_every_value_once),
		cmocka_unit_test(test_merge_equals_recording_together),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
