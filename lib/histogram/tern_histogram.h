/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_HISTOGRAM_H
#define TERN_HISTOGRAM_H

/**
 * @file
 * A log-linear latency histogram in the style of HdrHistogram.
 *
 * Values are unsigned 64-bit integers in whatever unit the caller records
 * (TSC ticks, nanoseconds). Values below 2^(SUB_BITS + 1) are counted
 * exactly; above that, each power of two is cut into 2^SUB_BITS equal
 * buckets, so a reported value is within 1 / 2^SUB_BITS (0.78 %) of the
 * recorded one. The whole 64-bit range is covered in a fixed array
 * (no allocation, no resizing), recording is O(1) (one count-leading-zeros,
 * a shift and an add), and histograms of several threads are merged by
 * adding their arrays.
 *
 * A histogram is owned by one thread: recording takes no lock and uses no
 * atomics. Merge or query after the writers have stopped (or on a copy).
 */

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** log2 of the number of buckets per power of two: the precision. */
#define TERN_HISTOGRAM_SUB_BITS 7
/** Buckets per power of two. */
#define TERN_HISTOGRAM_SUB_COUNT (1u << TERN_HISTOGRAM_SUB_BITS)
/** Number of buckets: covers every uint64_t value. */
#define TERN_HISTOGRAM_BUCKETS ((65u - TERN_HISTOGRAM_SUB_BITS) << TERN_HISTOGRAM_SUB_BITS)

/** A histogram. Plain data: may be copied, zeroed, or placed in shared memory. */
struct tern_histogram {
	uint64_t count; /**< values recorded */
	uint64_t min;	/**< smallest value recorded (UINT64_MAX when empty) */
	uint64_t max;	/**< largest value recorded (0 when empty) */
	uint64_t sum;	/**< sum of the values, saturating at UINT64_MAX */
	uint64_t counts[TERN_HISTOGRAM_BUCKETS]; /**< per-bucket counts */
};

/**
 * Bucket index of a value. O(1).
 *
 * @return an index in [0, TERN_HISTOGRAM_BUCKETS).
 */
static inline unsigned int
tern_histogram_index(uint64_t value)
{
	unsigned int msb, shift;

	if (value < (2ull << TERN_HISTOGRAM_SUB_BITS))
		return (unsigned int)value;
	msb = 63u - (unsigned int)__builtin_clzll(value);
	shift = msb - TERN_HISTOGRAM_SUB_BITS;
	return (shift << TERN_HISTOGRAM_SUB_BITS) + (unsigned int)(value >> shift);
}

/**
 * Record @p n occurrences of @p value. O(1), no allocation, not thread-safe.
 */
static inline void
tern_histogram_record_n(struct tern_histogram *h, uint64_t value, uint64_t n)
{
	uint64_t add;

	h->counts[tern_histogram_index(value)] += n;
	h->count += n;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
	if (__builtin_mul_overflow(value, n, &add) || __builtin_add_overflow(h->sum, add, &h->sum))
		h->sum = UINT64_MAX;
}

/** Record one value. O(1), no allocation, not thread-safe. */
static inline void
tern_histogram_record(struct tern_histogram *h, uint64_t value)
{
	tern_histogram_record_n(h, value, 1);
}

/** Empty a histogram (also the initialiser of a new one). */
void tern_histogram_reset(struct tern_histogram *h);

/**
 * Add every value of @p src to @p dst. @p src is unchanged.
 *
 * @return 0, or -EINVAL if either is NULL.
 */
int tern_histogram_merge(struct tern_histogram *dst, const struct tern_histogram *src);

/**
 * The value at percentile @p percentile: the smallest bucket at which at
 * least ceil(count * percentile / 100) values (and at least one) are
 * counted, reported as the largest value of that bucket, clamped to
 * [min, max]. Percentile 0 gives min, 100 gives max exactly.
 *
 * @param percentile in [0, 100]; values outside are clamped, NaN is 100
 * @return the value, or 0 if the histogram is empty or NULL.
 */
uint64_t tern_histogram_percentile(const struct tern_histogram *h, double percentile);

/** @return the mean of the recorded values (0 when empty or NULL; inexact if the sum saturated). */
double tern_histogram_mean(const struct tern_histogram *h);

/** @return the smallest value bucket @p index counts (index < TERN_HISTOGRAM_BUCKETS). */
uint64_t tern_histogram_bucket_low(unsigned int index);

/** @return the largest value bucket @p index counts (index < TERN_HISTOGRAM_BUCKETS). */
uint64_t tern_histogram_bucket_high(unsigned int index);

#ifdef __cplusplus
}
#endif

#endif /* TERN_HISTOGRAM_H */
