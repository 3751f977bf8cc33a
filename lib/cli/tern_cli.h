/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_CLI_H
#define TERN_CLI_H

/**
 * @file
 * Strict parsers for numbers, sizes and names given on command lines, in
 * config files, in telemetry parameters and through the API: the one place
 * each rule is written. Each accepts the whole string or
 * nothing: no sign, no leading or trailing space, no trailing garbage, no
 * overflow.
 */

#include <stddef.h>
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
 * Scan a size at the start of *@p (decimal digits, then optionally one of K,
 * M, G, T and a 'B', as tern_cli_parse_size() takes) and move *@p past it:
 * the building block of size lists and ranges. Zero is scanned (the caller
 * says whether it is allowed).
 * @return 0, -EINVAL (no digit, NULL), -ERANGE (overflow).
 */
int tern_cli_scan_size(const char **p, uint64_t *out);

/**
 * Parse a size: decimal digits optionally followed by one of K, M, G, T
 * (binary multiples; lower case accepted) and an optional 'B' after it
 * ("64K", "4G", "1MB", "512").
 * @return 0, -EINVAL (malformed), -ERANGE (zero, overflow, or above @p max).
 */
int tern_cli_parse_size(const char *s, uint64_t max, uint64_t *out);

/** Which characters a name may hold (tern_cli_check_name_chars()). */
enum tern_cli_name_chars {
	TERN_CLI_NAME_WORD = 0,	   /**< [A-Za-z0-9_]: engines, tables, node names on the CLI */
	TERN_CLI_NAME_SEGMENT = 1, /**< [A-Za-z0-9_.:-]: segments */
	TERN_CLI_NAME_LOWER = 2,   /**< [a-z0-9_]: transports */
};

/**
 * Check a name against a character set and a length of 1..max_len-1 (so it
 * fits a buffer of @p max_len bytes with its NUL).
 * @return 0 or -EINVAL (NULL, empty, too long, a character outside the set,
 *         an unknown set).
 */
int tern_cli_check_name_chars(const char *s, unsigned int max_len, enum tern_cli_name_chars chars);

/**
 * tern_cli_check_name_chars() with TERN_CLI_NAME_WORD.
 * @return 0 or -EINVAL.
 */
int tern_cli_check_name(const char *s, unsigned int max_len);

/**
 * Parse a listening address: a numeric IPv4 address and a port
 * ("10.0.0.1:7000"), or a numeric IPv6 address in brackets ("[::1]:0");
 * port 0..65535 (0: the system picks one). The address, without brackets,
 * goes to @p addr.
 * @return 0, -EINVAL (malformed, not numeric, port out of range, @p addr
 *         too small).
 */
int tern_cli_parse_addr_port(const char *s, char *addr, size_t addr_len, uint16_t *port);

#ifdef __cplusplus
}
#endif

#endif /* TERN_CLI_H */
