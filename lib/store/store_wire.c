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
	case STORE_WIRE_ARENA:
		/* A new extent: a length, a lease, no offset. */
		if (r->length == 0 || r->length > STORE_WIRE_LENGTH_MAX || r->offset != 0 ||
		    r->lease_ms == 0 || r->lease_ms > STORE_WIRE_LEASE_MS_MAX || r->pid == 0)
			return -EPROTO;
		return 0;
	case STORE_WIRE_READ_REF:
		/* An extent named by offset and length, a lease. */
		if (r->length == 0 || r->length > STORE_WIRE_LENGTH_MAX ||
		    r->offset % STORE_ALLOC_ALIGN != 0 || r->lease_ms == 0 ||
		    r->lease_ms > STORE_WIRE_LEASE_MS_MAX || r->pid == 0)
			return -EPROTO;
		return 0;
	case STORE_WIRE_COMMIT:
	case STORE_WIRE_FREE:
	case STORE_WIRE_READ_UNREF:
		/* An extent named by offset and length, nothing else. */
		if (r->length == 0 || r->length > STORE_WIRE_LENGTH_MAX || r->lease_ms != 0 ||
		    r->offset % STORE_ALLOC_ALIGN != 0)
			return -EPROTO;
		return 0;
	case STORE_WIRE_ARENA_END:
		/* An arena named by offset, length and its pid. */
		if (r->length == 0 || r->length > STORE_WIRE_LENGTH_MAX || r->lease_ms != 0 ||
		    r->offset % STORE_ALLOC_ALIGN != 0 || r->pid == 0)
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

/* ---- many extents in one message (a put batch) ----
 * Request: magic(4) version(2) op(2) segment(4) pid(4) lease_ms(4) count(2)
 * reserved(2), then count x {length(8) offset(8)}: 24 + 16 count bytes.
 * Reply: magic(4) version(2) fail_mask(2) status(4) count(2) reserved(2)
 * used(8) capacity(8), then count x offset(8): 32 + 8 count bytes. */

size_t
store_wire_reqn_encode(const struct store_wire_reqn *r, uint8_t out[STORE_WIRE_MSG_MAX])
{
	unsigned int i;

	memset(out, 0, STORE_WIRE_MSG_MAX);
	put32(out, STORE_WIRE_MAGIC);
	put16(out + 4, STORE_WIRE_VERSION);
	put16(out + 6, r->op);
	put32(out + 8, r->segment);
	put32(out + 12, r->pid);
	put32(out + 16, r->lease_ms);
	put16(out + 20, r->count);
	for (i = 0; i < r->count && i < STORE_WIRE_N_MAX; i++) {
		put64(out + 24 + 16 * i, r->length[i]);
		put64(out + 32 + 16 * i, r->offset[i]);
	}
	return 24 + 16 * (size_t)(r->count < STORE_WIRE_N_MAX ? r->count : STORE_WIRE_N_MAX);
}

int
store_wire_reqn_decode(const uint8_t *in, size_t len, struct store_wire_reqn *r)
{
	unsigned int i;

	if (in == NULL || len < 24 || get32(in) != STORE_WIRE_MAGIC ||
	    get16(in + 4) != STORE_WIRE_VERSION || get16(in + 22) != 0)
		return -EPROTO;
	r->op = get16(in + 6);
	r->segment = get32(in + 8);
	r->pid = get32(in + 12);
	r->lease_ms = get32(in + 16);
	r->count = get16(in + 20);
	if (r->count == 0 || r->count > STORE_WIRE_N_MAX || len != 24 + 16 * (size_t)r->count)
		return -EPROTO;
	if (r->op == STORE_WIRE_RESERVE_N) {
		if (r->lease_ms == 0 || r->lease_ms > STORE_WIRE_LEASE_MS_MAX || r->pid == 0)
			return -EPROTO;
	} else if (r->op == STORE_WIRE_COMMIT_N) {
		if (r->lease_ms != 0)
			return -EPROTO;
	} else {
		return -EPROTO;
	}
	for (i = 0; i < r->count; i++) {
		r->length[i] = get64(in + 24 + 16 * i);
		r->offset[i] = get64(in + 32 + 16 * i);
		if (r->length[i] == 0 || r->length[i] > STORE_WIRE_LENGTH_MAX ||
		    r->offset[i] % STORE_ALLOC_ALIGN != 0 ||
		    (r->op == STORE_WIRE_RESERVE_N && r->offset[i] != 0))
			return -EPROTO;
	}
	return 0;
}

size_t
store_wire_repn_encode(const struct store_wire_repn *r, uint8_t out[STORE_WIRE_MSG_MAX])
{
	unsigned int i;

	memset(out, 0, STORE_WIRE_MSG_MAX);
	put32(out, STORE_WIRE_MAGIC);
	put16(out + 4, STORE_WIRE_VERSION);
	put16(out + 6, r->fail_mask);
	put32(out + 8, (uint32_t)r->status);
	put16(out + 12, r->count);
	put64(out + 16, r->used);
	put64(out + 24, r->capacity);
	for (i = 0; i < r->count && i < STORE_WIRE_N_MAX; i++)
		put64(out + 32 + 8 * i, r->offset[i]);
	return 32 + 8 * (size_t)(r->count < STORE_WIRE_N_MAX ? r->count : STORE_WIRE_N_MAX);
}

int
store_wire_repn_decode(const uint8_t *in, size_t len, struct store_wire_repn *r)
{
	unsigned int i;

	if (in == NULL || len < 32 || get32(in) != STORE_WIRE_MAGIC ||
	    get16(in + 4) != STORE_WIRE_VERSION || get16(in + 14) != 0)
		return -EPROTO;
	r->fail_mask = get16(in + 6);
	r->status = (int32_t)get32(in + 8);
	r->count = get16(in + 12);
	r->used = get64(in + 16);
	r->capacity = get64(in + 24);
	if (r->count > STORE_WIRE_N_MAX || len != 32 + 8 * (size_t)r->count || r->status > 0 ||
	    r->status < -4095 || r->used > r->capacity || (r->fail_mask >> r->count) != 0 ||
	    (r->fail_mask != 0 && r->status == 0))
		return -EPROTO;
	for (i = 0; i < r->count; i++) {
		r->offset[i] = get64(in + 32 + 8 * i);
		if (r->offset[i] % STORE_ALLOC_ALIGN != 0)
			return -EPROTO;
	}
	return 0;
}
