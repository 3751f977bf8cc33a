/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_CLI_H
#define TERN_CLI_H

/**
 * @file
 * Strict parsers for numbers and sizes given on command lines, in config
 * files and in telemetry parameters. Each accepts the whole string or
 * nothing: no sign, no leading or trailing space, no trailing garbage, no
 * overflow.
 */

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Scan the decimal digits at the start of *@p (at least one; no sign) and
 * move *@p past them: the building block of parsers for lists and units.
 * @return 0, -EINVAL (no digit), -ERANGE (overflow).
 */
int tern_cli_scan_u64(const char **p, uint64_t *out);

/**
 * Parse a decimal unsigned integer in [min, max].
 * @return 0, -EINVAL (not a number, garbage), -ERANGE (outside [min, max]).
 */
int tern_cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/**
 * Parse a size: decimal digits optionally followed by one of K, M, G, T
 * (binary multiples; lower case accepted) and an optional 'B' after it
 * ("64K", "4G", "1MB", "512").
 * @return 0, -EINVAL (malformed), -ERANGE (zero, overflow, or above @p max).
 */
int tern_cli_parse_size(const char *s, uint64_t max, uint64_t *out);

/**
 * Check a name against [A-Za-z0-9_] and a length of 1..max_len-1.
 * @return 0 or -EINVAL.
 */
int tern_cli_check_name(const char *s, unsigned int max_len);

#ifdef __cplusplus
}
#endif

#endif /* TERN_CLI_H */
