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
 *
 * Also the messages of the dataplane's listing of its clients' keys
 * (/tern/client_store_keys, store_private.h): encoders and strict decoders.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
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

/* ---- the client listing's messages (store_private.h) ---- */

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	put_u16(p, (uint16_t)v);
	put_u16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)get_u16(p) | (uint32_t)get_u16(p + 2) << 16;
}

static bool
printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* A store name field: empty, or 1..15 of [A-Za-z0-9_], zero-padded. */
static bool
name_valid(const char *name)
{
	size_t n = strnlen(name, STORE_KEYS_NAME_MAX), i;

	if (n == STORE_KEYS_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return false;
	for (; i < STORE_KEYS_NAME_MAX; i++)
		if (name[i] != '\0')
			return false;
	return true;
}

static bool
req_valid(const struct store_keys_req *q, size_t plen)
{
	if (q->op == STORE_KEYS_OP_HELLO)
		return q->pid == 0 && plen == 0;
	return q->op == STORE_KEYS_OP_PAGE && q->pid != 0 && plen <= STORE_KEYS_PARAMS_MAX &&
	       printable(q->params, plen);
}

int
store_keys_req_encode(const struct store_keys_req *q, uint8_t *buf, size_t len)
{
	size_t plen = strnlen(q->params, sizeof(q->params));

	if (!req_valid(q, plen) || len < STORE_KEYS_REQ_HDR + plen)
		return -EINVAL;
	memset(buf, 0, STORE_KEYS_REQ_HDR);
	put_u32(buf, STORE_KEYS_MAGIC_REQ);
	buf[4] = STORE_KEYS_WIRE_VERSION;
	buf[5] = q->op;
	put_u32(buf + 8, q->pid);
	put_u16(buf + 12, (uint16_t)plen);
	memcpy(buf + STORE_KEYS_REQ_HDR, q->params, plen);
	return (int)(STORE_KEYS_REQ_HDR + plen);
}

int
store_keys_req_decode(const uint8_t *buf, size_t len, struct store_keys_req *q)
{
	size_t plen;

	if (buf == NULL || len < STORE_KEYS_REQ_HDR || get_u32(buf) != STORE_KEYS_MAGIC_REQ ||
	    buf[4] != STORE_KEYS_WIRE_VERSION || get_u16(buf + 6) != 0 || get_u16(buf + 14) != 0)
		return -EPROTO;
	plen = get_u16(buf + 12);
	if (plen > STORE_KEYS_PARAMS_MAX || len != STORE_KEYS_REQ_HDR + plen)
		return -EPROTO;
	memset(q, 0, sizeof(*q));
	q->op = buf[5];
	q->pid = get_u32(buf + 8);
	memcpy(q->params, buf + STORE_KEYS_REQ_HDR, plen);
	return req_valid(q, plen) ? 0 : -EPROTO;
}

static bool
rep_valid(const struct store_keys_rep *r)
{
	if ((r->op != STORE_KEYS_OP_HELLO && r->op != STORE_KEYS_OP_PAGE) || r->pid == 0 ||
	    r->status > 0 || r->status <= -4096 || !name_valid(r->name))
		return false;
	if (r->status != 0 || r->op == STORE_KEYS_OP_HELLO)
		return r->count == 0 && r->next == (r->status != 0 ? -1 : 0) && r->truncated == 0 &&
		       r->text_len == 0;
	return r->count <= STORE_KEYS_COUNT_MAX && r->next >= -1 &&
	       r->next <= (int32_t)STORE_KEYS_CURSOR_MAX && r->truncated <= r->count &&
	       r->text_len <= STORE_KEYS_TEXT_MAX && (r->text_len == 0) == (r->count == 0);
}

int
store_keys_rep_encode(const struct store_keys_rep *r, uint8_t *buf, size_t len)
{
	if (!rep_valid(r) || len < STORE_KEYS_REP_LEN)
		return -EINVAL;
	memset(buf, 0, STORE_KEYS_REP_LEN);
	put_u32(buf, STORE_KEYS_MAGIC_REP);
	buf[4] = STORE_KEYS_WIRE_VERSION;
	buf[5] = r->op;
	put_u32(buf + 8, r->pid);
	put_u32(buf + 12, (uint32_t)r->status);
	put_u32(buf + 16, r->count);
	put_u32(buf + 20, (uint32_t)r->next);
	put_u32(buf + 24, r->truncated);
	put_u32(buf + 28, r->text_len);
	memcpy(buf + 32, r->name, STORE_KEYS_NAME_MAX);
	return STORE_KEYS_REP_LEN;
}

int
store_keys_rep_decode(const uint8_t *buf, size_t len, struct store_keys_rep *r)
{
	if (buf == NULL || len != STORE_KEYS_REP_LEN || get_u32(buf) != STORE_KEYS_MAGIC_REP ||
	    buf[4] != STORE_KEYS_WIRE_VERSION || get_u16(buf + 6) != 0)
		return -EPROTO;
	r->op = buf[5];
	r->pid = get_u32(buf + 8);
	r->status = (int32_t)get_u32(buf + 12);
	r->count = get_u32(buf + 16);
	r->next = (int32_t)get_u32(buf + 20);
	r->truncated = get_u32(buf + 24);
	r->text_len = get_u32(buf + 28);
	memcpy(r->name, buf + 32, STORE_KEYS_NAME_MAX);
	return rep_valid(r) ? 0 : -EPROTO;
}

/* Decimal digits of s[0..n) as a u64 (no sign, no leading zero): 0 or -EPROTO. */
static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -EPROTO;
	for (i = 0; i < n; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - d) / 10)
			return -EPROTO;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* REPLICAS: 0..TERN_STORE_REPLICAS_MAX of NODE:OFFSET, one space between. */
static bool
replicas_valid(const char *s, size_t n)
{
	unsigned int k = 0;
	size_t i = 0;

	while (i < n) {
		const char *colon, *end;
		uint64_t v;

		if (k == TERN_STORE_REPLICAS_MAX || (k > 0 && s[i++] != ' '))
			return false;
		end = memchr(s + i, ' ', n - i);
		end = end != NULL ? end : s + n;
		colon = memchr(s + i, ':', (size_t)(end - (s + i)));
		if (colon == NULL || parse_u64(s + i, (size_t)(colon - (s + i)), &v) != 0 ||
		    v >= TERN_STORE_NODES_MAX ||
		    parse_u64(colon + 1, (size_t)(end - colon - 1), &v) != 0)
			return false;
		i = (size_t)(end - s);
		k++;
	}
	return true;
}

int
store_keys_row_format(const struct store_keys_row *row, char *buf, size_t len)
{
	size_t klen = strnlen(row->key, sizeof(row->key));
	size_t rlen = strnlen(row->replicas, sizeof(row->replicas));
	int n;

	if (klen == 0 || klen == sizeof(row->key) || !printable(row->key, klen) ||
	    rlen == sizeof(row->replicas) || !replicas_valid(row->replicas, rlen))
		return -EINVAL;
	n = snprintf(buf, len, "%s\t%" PRIu64 "\t%" PRIu64 "\t%s\n", row->key, row->size,
		     row->version, row->replicas);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int
store_keys_row_parse(const char *text, size_t len, size_t *off, struct store_keys_row *row)
{
	const char *p = text + *off, *end, *f[4];
	size_t n, i;

	if (*off == len)
		return 1;
	if (*off > len)
		return -EPROTO;
	end = memchr(p, '\n', len - *off);
	if (end == NULL)
		return -EPROTO;
	/* Four fields: KEY, SIZE, VERSION, REPLICAS (may be empty). */
	f[0] = p;
	for (i = 1; i < 4; i++) {
		const char *tab = memchr(f[i - 1], '\t', (size_t)(end - f[i - 1]));

		if (tab == NULL)
			return -EPROTO;
		f[i] = tab + 1;
	}
	if (memchr(f[3], '\t', (size_t)(end - f[3])) != NULL)
		return -EPROTO;
	n = (size_t)(f[1] - 1 - f[0]);
	if (n == 0 || n >= sizeof(row->key) || !printable(f[0], n))
		return -EPROTO;
	memcpy(row->key, f[0], n);
	row->key[n] = '\0';
	if (parse_u64(f[1], (size_t)(f[2] - 1 - f[1]), &row->size) != 0 ||
	    parse_u64(f[2], (size_t)(f[3] - 1 - f[2]), &row->version) != 0)
		return -EPROTO;
	n = (size_t)(end - f[3]);
	if (n >= sizeof(row->replicas) || !replicas_valid(f[3], n))
		return -EPROTO;
	memcpy(row->replicas, f[3], n);
	row->replicas[n] = '\0';
	*off = (size_t)(end + 1 - text);
	return 0;
}
