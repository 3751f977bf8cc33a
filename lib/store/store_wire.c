/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The owners' channel, on the wire: a client of a dataplane asks the
 * dataplane that owns a capacity segment to reserve, commit or free an
 * extent (rte_mp, the IPC every attached client already has with its
 * dataplane). Fixed-size little-endian records, parsed strictly: exact
 * length, magic, version, a known op, zero reserved bytes, fields in range.
 * No DPDK here: the codec is fuzzed on its own.
 */
#include <errno.h>
#include <string.h>

#include "store_private.h"

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t
get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Request: magic(4) version(2) op(2) segment(4) pid(4) length(8) offset(8)
 * lease_ms(4) reserved(4) = 40 bytes. */
void
store_wire_req_encode(const struct store_wire_req *r, uint8_t out[STORE_WIRE_REQ_LEN])
{
	memset(out, 0, STORE_WIRE_REQ_LEN);
	put32(out, STORE_WIRE_MAGIC);
	put16(out + 4, STORE_WIRE_VERSION);
	put16(out + 6, r->op);
	put32(out + 8, r->segment);
	put32(out + 12, r->pid);
	put64(out + 16, r->length);
	put64(out + 24, r->offset);
	put32(out + 32, r->lease_ms);
}

int
store_wire_req_decode(const uint8_t *in, size_t len, struct store_wire_req *r)
{
	if (in == NULL || len != STORE_WIRE_REQ_LEN || get32(in) != STORE_WIRE_MAGIC ||
	    get16(in + 4) != STORE_WIRE_VERSION || get32(in + 36) != 0)
		return -EPROTO;
	r->op = get16(in + 6);
	r->segment = get32(in + 8);
	r->pid = get32(in + 12);
	r->length = get64(in + 16);
	r->offset = get64(in + 24);
	r->lease_ms = get32(in + 32);
	switch (r->op) {
	case STORE_WIRE_RESERVE:
		/* A new extent: a length, a lease, no offset. */
		if (r->length == 0 || r->length > STORE_WIRE_LENGTH_MAX || r->offset != 0 ||
		    r->lease_ms == 0 || r->lease_ms > STORE_WIRE_LEASE_MS_MAX || r->pid == 0)
			return -EPROTO;
		return 0;
	case STORE_WIRE_COMMIT:
	case STORE_WIRE_FREE:
		/* An extent named by offset and length, nothing else. */
		if (r->length == 0 || r->length > STORE_WIRE_LENGTH_MAX || r->lease_ms != 0 ||
		    r->offset % STORE_ALLOC_ALIGN != 0)
			return -EPROTO;
		return 0;
	case STORE_WIRE_STATS:
		if (r->length != 0 || r->offset != 0 || r->lease_ms != 0)
			return -EPROTO;
		return 0;
	default:
		return -EPROTO;
	}
}

/* Reply: magic(4) version(2) reserved(2) status(4, signed) reserved(4)
 * offset(8) used(8) capacity(8) = 40 bytes. */
void
store_wire_rep_encode(const struct store_wire_rep *r, uint8_t out[STORE_WIRE_REP_LEN])
{
	memset(out, 0, STORE_WIRE_REP_LEN);
	put32(out, STORE_WIRE_MAGIC);
	put16(out + 4, STORE_WIRE_VERSION);
	put32(out + 8, (uint32_t)r->status);
	put64(out + 16, r->offset);
	put64(out + 24, r->used);
	put64(out + 32, r->capacity);
}

int
store_wire_rep_decode(const uint8_t *in, size_t len, struct store_wire_rep *r)
{
	if (in == NULL || len != STORE_WIRE_REP_LEN || get32(in) != STORE_WIRE_MAGIC ||
	    get16(in + 4) != STORE_WIRE_VERSION || get16(in + 6) != 0 || get32(in + 12) != 0)
		return -EPROTO;
	r->status = (int32_t)get32(in + 8);
	r->offset = get64(in + 16);
	r->used = get64(in + 24);
	r->capacity = get64(in + 32);
	/* 0 or a negative errno; what is used fits in the capacity. */
	if (r->status > 0 || r->status < -4095 || r->used > r->capacity ||
	    r->offset % STORE_ALLOC_ALIGN != 0)
		return -EPROTO;
	return 0;
}
