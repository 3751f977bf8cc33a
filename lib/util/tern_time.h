/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TIME_H
#define TERN_TIME_H

/**
 * @file
 * Time: conversions between nanoseconds and TSC cycles that cannot
 * overflow, and the monotonic clock of the control path.
 *
 * `ns * hz / 1e9` in 64 bits wraps once ns * hz passes 2^64: at 2 GHz that
 * is any span longer than about 9.2 seconds. These helpers compute the
 * product in 128 bits and saturate at UINT64_MAX, so an hour, a day or
 * UINT64_MAX ("for ever") stay ordered and never wrap to a short span.
 */

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Nanoseconds in a second. */
#define TERN_NS_PER_S 1000000000ull

/** @return @p ns nanoseconds in cycles of a @p hz clock, saturated at UINT64_MAX. */
static inline uint64_t
tern_ns_to_tsc(uint64_t ns, uint64_t hz)
{
	unsigned __int128 t = (unsigned __int128)ns * hz / TERN_NS_PER_S;

	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

/** @return @p cycles of a @p hz clock in nanoseconds, saturated at UINT64_MAX (0 if hz is 0). */
static inline uint64_t
tern_tsc_to_ns(uint64_t cycles, uint64_t hz)
{
	unsigned __int128 t;

	if (hz == 0)
		return 0;
	t = (unsigned __int128)cycles * TERN_NS_PER_S / hz;
	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

/**
 * A conversion factor num/den in 32.32 fixed point, for hot paths: applying
 * it is one multiplication, where tern_ns_to_tsc() divides in 128 bits (tens
 * of cycles). Relative error below 2^-32 for factors above 1/4.
 */
static inline uint64_t
tern_scale_make(uint64_t num, uint64_t den)
{
	return den == 0 ? 0 : (uint64_t)(((unsigned __int128)num << 32) / den);
}

/** @return @p v times a tern_scale_make() factor, saturated at UINT64_MAX. */
static inline uint64_t
tern_scale_apply(uint64_t v, uint64_t scale)
{
	unsigned __int128 t = ((unsigned __int128)v * scale) >> 32;

	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

/** @return @p base + @p delta, saturated at UINT64_MAX (a deadline that never comes). */
static inline uint64_t
tern_add_sat(uint64_t base, uint64_t delta)
{
	return delta > UINT64_MAX - base ? UINT64_MAX : base + delta;
}

/** @return CLOCK_MONOTONIC in nanoseconds: control-path timeouts and deadlines. */
static inline uint64_t
tern_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * TERN_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/** @return CLOCK_MONOTONIC in milliseconds. */
static inline uint64_t
tern_clock_ms(void)
{
	return tern_clock_ns() / 1000000u;
}

#ifdef __cplusplus
}
#endif

#endif /* TERN_TIME_H */
