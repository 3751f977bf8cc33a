/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TELEMETRY_PARSE_H
#define TERN_TELEMETRY_PARSE_H

/*
 * Internal to lib/telemetry (and its tests): the strict parsers of telemetry
 * parameters and the latency percentile estimate. Every parser accepts the
 * whole string or nothing: no sign, no space, no trailing garbage, no
 * overflow.
 */

#include <stddef.h>
#include <stdint.h>

/* Limits of the live settings. */
#define TERN_TEL_DEADLINE_MS_MAX 3600000ull /* one hour, the engine's limit */

/* Keys of /tern/config/set. */
enum tern_tel_key {
	TERN_TEL_KEY_SLICE_SIZE = 1, /* bytes, 4K .. 1G, K/M/G suffixes */
	TERN_TEL_KEY_DEADLINE_MS,    /* 1 .. one hour */
	TERN_TEL_KEY_LOG_LEVEL,	     /* RTE_LOG_EMERG (1) .. RTE_LOG_DEBUG (8) */
};

/* One parsed key=value. */
struct tern_tel_setting {
	enum tern_tel_key key;
	uint64_t value;
};

/* Decimal digits only, in [min, max]. 0, -EINVAL (malformed), -ERANGE. */
int tern_tel_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Decimal digits, then optionally K, M, G or T (binary multiples, either
 * case) and an optional B after the suffix; the result in [min, max].
 * 0, -EINVAL (malformed or unknown suffix), -ERANGE (overflow or out of range).
 */
int tern_tel_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A DPDK log level: a name (emerg .. debug, any case) or 1..8. 0 or -EINVAL. */
int tern_tel_parse_log_level(const char *s, uint32_t *level);

/* Name of a log level 1..8 ("unknown" otherwise). */
const char *tern_tel_log_level_name(uint32_t level);

/*
 * Parse the parameters of /tern/config/set: exactly one "key=value" with a
 * known key and a value valid for it. On error, a one-line reason that names
 * the accepted form is written to @p err.
 * 0, -EINVAL (malformed, unknown key, bad value), -ERANGE (value out of range).
 */
int tern_tel_parse_set(const char *params, struct tern_tel_setting *out, char *err, size_t err_len);

/*
 * Parse the parameters of /tern/peers/set: exactly "NODE=TRANSPORT" or
 * "NODE=auto", NODE a valid node name ([A-Za-z0-9_.:-], 1..47 characters),
 * TRANSPORT a transport name ([a-z0-9_], 1..15). @p transport is set to ""
 * for auto. @p node needs 48 bytes, @p transport 16.
 * 0 or -EINVAL with a one-line reason in @p err.
 */
int tern_tel_parse_peer_set(const char *params, char *node, char *transport, char *err,
			    size_t err_len);

/* Copy @p in to @p out (at most @p len - 1 characters, then "...") with every
 * character outside [A-Za-z0-9_.,:=+-] replaced by '?': user input echoed in a reply. */
void tern_tel_sanitize(const char *in, char *out, size_t len);

/*
 * Estimate the @p percentile (0..100) of the values counted in log2 buckets
 * (bucket i holds [2^i, 2^(i+1)), bucket 0 also 0): find the bucket holding
 * rank ceil(total * percentile / 100) and interpolate linearly inside it.
 * Returns 0 when empty.
 */
uint64_t tern_tel_latency_percentile(const uint64_t *buckets, unsigned int nb, double percentile);

/* Upper bound (2^(i+1) - 1) of the highest non-empty bucket; 0 when empty. */
uint64_t tern_tel_latency_max(const uint64_t *buckets, unsigned int nb);

#endif /* TERN_TELEMETRY_PARSE_H */
