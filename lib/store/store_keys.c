/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The parameters of /tern/store_keys (doc/telemetry.md): strict, no DPDK,
 * shared with the unit tests.
 *
 *   ""                        cursor 0, STORE_KEYS_COUNT_DEF keys, every key
 *   CURSOR                    from the cursor a previous answer gave ("next")
 *   CURSOR,COUNT              at most COUNT (1..STORE_KEYS_COUNT_MAX) keys
 *   CURSOR,COUNT,PREFIX       only keys starting with PREFIX (the rest of the
 *                             string: a key may hold commas)
 *
 * Numbers are decimal digits without sign, space or leading zero.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store_private.h"

/* Decimal digits of s[0..len) in [min, max]: 0 or -EINVAL. */
static int
parse_dec(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int
store_keys_parse(const char *params, struct store_keys_query *q, char *err, size_t errlen)
{
	const char *c1, *c2;
	uint64_t v;
	size_t n;

	q->cursor = 0;
	q->count = STORE_KEYS_COUNT_DEF;
	q->prefix[0] = '\0';
	if (params == NULL || params[0] == '\0')
		return 0;
	c1 = strchr(params, ',');
	n = c1 != NULL ? (size_t)(c1 - params) : strlen(params);
	if (parse_dec(params, n, 0, STORE_KEYS_CURSOR_MAX, &v) != 0) {
		snprintf(err, errlen,
			 "bad cursor: expected CURSOR[,COUNT[,PREFIX]], CURSOR 0..%u (the \"next\" "
			 "of an answer)",
			 STORE_KEYS_CURSOR_MAX);
		return -EINVAL;
	}
	q->cursor = (uint32_t)v;
	if (c1 == NULL)
		return 0;
	c2 = strchr(c1 + 1, ',');
	n = c2 != NULL ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	if (parse_dec(c1 + 1, n, 1, STORE_KEYS_COUNT_MAX, &v) != 0) {
		snprintf(err, errlen, "bad count: expected CURSOR[,COUNT[,PREFIX]], COUNT 1..%u",
			 STORE_KEYS_COUNT_MAX);
		return -EINVAL;
	}
	q->count = (uint32_t)v;
	if (c2 == NULL)
		return 0;
	n = strlen(c2 + 1);
	if (n == 0 || n >= TERN_STORE_KEY_MAX) {
		snprintf(err, errlen, "bad prefix: 1..%d characters after the second comma",
			 TERN_STORE_KEY_MAX - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)c2[1 + i] < 0x21 || (unsigned char)c2[1 + i] > 0x7e) {
			snprintf(err, errlen,
				 "bad prefix: keys are printable ASCII 0x21..0x7e (byte %zu is "
				 "not)",
				 i);
			return -EINVAL;
		}
	memcpy(q->prefix, c2 + 1, n + 1);
	return 0;
}
