/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "tern_histogram.h"

void
tern_histogram_reset(struct tern_histogram *h)
{
	if (h == NULL)
		return;
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

int
tern_histogram_merge(struct tern_histogram *dst, const struct tern_histogram *src)
{
	unsigned int i;

	if (dst == NULL || src == NULL)
		return -EINVAL;
	if (src->count == 0)
		return 0;
	for (i = 0; i < TERN_HISTOGRAM_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	if (__builtin_add_overflow(dst->sum, src->sum, &dst->sum))
		dst->sum = UINT64_MAX;
	return 0;
}

uint64_t
tern_histogram_bucket_low(unsigned int index)
{
	unsigned int shift;
	uint64_t sub;

	if (index < (2u << TERN_HISTOGRAM_SUB_BITS))
		return index;
	shift = (index >> TERN_HISTOGRAM_SUB_BITS) - 1;
	sub = index - ((uint64_t)shift << TERN_HISTOGRAM_SUB_BITS);
	return sub << shift;
}

uint64_t
tern_histogram_bucket_high(unsigned int index)
{
	unsigned int shift;

	if (index < (2u << TERN_HISTOGRAM_SUB_BITS))
		return index;
	shift = (index >> TERN_HISTOGRAM_SUB_BITS) - 1;
	/* The last bucket ends at UINT64_MAX: compute low + width - 1 without overflow. */
	return tern_histogram_bucket_low(index) + ((1ull << shift) - 1);
}

uint64_t
tern_histogram_percentile(const struct tern_histogram *h, double percentile)
{
	uint64_t rank, seen = 0, v;
	double r;
	unsigned int i;

	if (h == NULL || h->count == 0)
		return 0;
	if (isnan(percentile) || percentile >= 100.0)
		return h->max;
	if (percentile <= 0.0)
		return h->min;
	r = ceil((double)h->count * percentile / 100.0);
	rank = r < 1.0 ? 1 : r >= (double)h->count ? h->count : (uint64_t)r;
	for (i = 0; i < TERN_HISTOGRAM_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			break;
	}
	if (i == TERN_HISTOGRAM_BUCKETS)
		return h->max;
	v = tern_histogram_bucket_high(i);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}

double
tern_histogram_mean(const struct tern_histogram *h)
{
	if (h == NULL || h->count == 0)
		return 0.0;
	return (double)h->sum / (double)h->count;
}
