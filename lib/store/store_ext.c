/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A record as text in an external metadata store (etcd, Redis, through
 * lib/directory's key-value space):
 *
 *   "tern1 <owner> <size> <version> <nb> <replica>[ <replica>]..."
 *   replica: "<node>:<offset>" or "<node>:<offset>@<owner node>/<owner segment>"
 *
 * (the second form for a node an owner dataplane holds, named so that
 * other stores naming that node can read the replica there), names 1..47
 * of [A-Za-z0-9_.:-],
 * decimal numbers without sign or leading zeros (but "0"), single spaces,
 * owner 1..15 of [A-Za-z0-9_], nb 0..TERN_STORE_REPLICAS_MAX replicas
 * (0 only for a zero-size object), nodes below TERN_STORE_NODES_MAX,
 * offsets multiples of STORE_ALLOC_ALIGN. The parser takes nothing else.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store_private.h"

int
store_ext_encode(const struct store_ext_rec *r, char *buf, size_t len)
{
	size_t o;
	int n;
	unsigned int i;

	n = snprintf(buf, len, "tern1 %s %" PRIu64 " %" PRIu64 " %u", r->owner, r->size, r->version,
		     r->nb_rep);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	o = (size_t)n;
	for (i = 0; i < r->nb_rep; i++) {
		n = snprintf(buf + o, len - o, " %u:%" PRIu64, r->node[i], r->offset[i]);
		if (n < 0 || (size_t)n >= len - o)
			return -ENOSPC;
		o += (size_t)n;
		if (r->onode[i][0] == '\0')
			continue;
		n = snprintf(buf + o, len - o, "@%s/%s", r->onode[i], r->oseg[i]);
		if (n < 0 || (size_t)n >= len - o)
			return -ENOSPC;
		o += (size_t)n;
	}
	return (int)o;
}

/* A decimal number ending at a space, ':' or the end; advances *p. */
static int
parse_u64(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s == end || *s < '0' || *s > '9' ||
	    (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9'))
		return -EPROTO;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EPROTO;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

/* A name of [A-Za-z0-9_.:-] 1..47 bytes ending at @stop, a space or the
 * end; advances *p. */
static int
parse_name(const char **p, const char *end, char stop, char out[STORE_EXT_NAME_MAX])
{
	const char *s = *p;
	size_t n = 0;

	for (; s < end && *s != stop && *s != ' '; s++) {
		if (!(*s == '_' || *s == '.' || *s == ':' || *s == '-' ||
		      (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z')) ||
		    n + 1 >= STORE_EXT_NAME_MAX)
			return -EPROTO;
		out[n++] = *s;
	}
	if (n == 0)
		return -EPROTO;
	out[n] = '\0';
	*p = s;
	return 0;
}

static int
expect(const char **p, const char *end, char c)
{
	if (*p == end || **p != c)
		return -EPROTO;
	(*p)++;
	return 0;
}

int
store_ext_decode(const char *buf, size_t len, struct store_ext_rec *r)
{
	const char *p = buf, *end = buf + len;
	uint64_t v;
	size_t n = 0;
	unsigned int i;

	memset(r, 0, sizeof(*r));
	if (buf == NULL || len < 6 || memcmp(buf, "tern1 ", 6) != 0)
		return -EPROTO;
	p += 6;
	while (p < end && *p != ' ') {
		if (!(*p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')) ||
		    n + 1 >= sizeof(r->owner))
			return -EPROTO;
		r->owner[n++] = *p++;
	}
	if (n == 0 || expect(&p, end, ' ') || parse_u64(&p, end, &r->size) ||
	    expect(&p, end, ' ') || parse_u64(&p, end, &r->version) || expect(&p, end, ' ') ||
	    parse_u64(&p, end, &v) || v > TERN_STORE_REPLICAS_MAX || (v == 0) != (r->size == 0))
		return -EPROTO;
	r->nb_rep = (uint8_t)v;
	for (i = 0; i < r->nb_rep; i++) {
		if (expect(&p, end, ' ') || parse_u64(&p, end, &v) || v >= TERN_STORE_NODES_MAX)
			return -EPROTO;
		r->node[i] = (uint8_t)v;
		if (expect(&p, end, ':') || parse_u64(&p, end, &r->offset[i]) ||
		    r->offset[i] % STORE_ALLOC_ALIGN != 0)
			return -EPROTO;
		if (p < end && *p == '@' &&
		    (expect(&p, end, '@') || parse_name(&p, end, '/', r->onode[i]) ||
		     expect(&p, end, '/') || parse_name(&p, end, '/', r->oseg[i])))
			return -EPROTO;
	}
	return p == end ? 0 : -EPROTO;
}
