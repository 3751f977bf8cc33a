/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame and descriptor codec of the tcp transport. Plain C and libc only:
 * the fuzzer links this file alone.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tcp_frame.h"

static inline void
put16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint16_t
get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return be16toh(v);
}

static inline uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static inline uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

void
tcp_frame_encode(uint8_t *buf, const struct tcp_frame_hdr *h)
{
	put32(buf + 0, TCP_FRAME_MAGIC);
	buf[4] = TCP_FRAME_VERSION;
	buf[5] = h->op;
	put16(buf + 6, 0);
	put32(buf + 8, h->tag);
	put32(buf + 12, h->segment);
	put64(buf + 16, h->offset);
	put32(buf + 24, h->length);
	put32(buf + 28, h->payload);
	put32(buf + 32, (uint32_t)h->status);
	put32(buf + 36, 0);
}

int
tcp_frame_decode(const uint8_t *buf, struct tcp_frame_hdr *h)
{
	uint32_t expect;

	if (get32(buf + 0) != TCP_FRAME_MAGIC)
		return -EPROTO;
	if (buf[4] != TCP_FRAME_VERSION)
		return -EPROTONOSUPPORT;
	h->op = buf[5];
	h->tag = get32(buf + 8);
	h->segment = get32(buf + 12);
	h->offset = get64(buf + 16);
	h->length = get32(buf + 24);
	h->payload = get32(buf + 28);
	h->status = (int32_t)get32(buf + 32);
	if (get16(buf + 6) != 0 || get32(buf + 36) != 0)
		return -EBADMSG;
	if (h->length == 0 || h->length > TCP_FRAME_MAX_LENGTH ||
	    h->offset > UINT64_MAX - h->length)
		return -EBADMSG;
	switch (h->op) {
	case TCP_OP_READ:
	case TCP_OP_WRITE:
		if (h->status != 0)
			return -EBADMSG;
		expect = h->op == TCP_OP_WRITE ? h->length : 0;
		break;
	case TCP_OP_READ_REPLY:
	case TCP_OP_WRITE_REPLY:
		if (h->status > 0 || h->status < TCP_FRAME_STATUS_MIN)
			return -EBADMSG;
		expect = h->op == TCP_OP_READ_REPLY && h->status == 0 ? h->length : 0;
		break;
	default:
		return -EBADMSG;
	}
	return h->payload == expect ? 0 : -EBADMSG;
}

const char *
tcp_frame_strerror(int err)
{
	switch (err) {
	case -EPROTO:
		return "bad magic";
	case -EPROTONOSUPPORT:
		return "unsupported version";
	case -EBADMSG:
		return "malformed header";
	default:
		return "protocol error";
	}
}

void
tcp_desc_encode(uint8_t *buf, const struct tcp_desc *d)
{
	memset(buf, 0, TCP_DESC_LEN);
	put32(buf + 0, TCP_DESC_MAGIC);
	buf[4] = TCP_DESC_VERSION;
	buf[5] = d->family;
	put16(buf + 6, d->port);
	memcpy(buf + 8, d->addr, d->family == 4 ? 4 : 16);
	put32(buf + 24, d->segment);
	put64(buf + 32, d->length);
}

int
tcp_desc_decode(const uint8_t *buf, size_t len, struct tcp_desc *d)
{
	static const uint8_t zero[12];

	if (len != TCP_DESC_LEN || get32(buf + 0) != TCP_DESC_MAGIC || buf[4] != TCP_DESC_VERSION ||
	    (buf[5] != 4 && buf[5] != 6))
		return -EINVAL;
	d->family = buf[5];
	d->port = get16(buf + 6);
	memcpy(d->addr, buf + 8, 16);
	d->segment = get32(buf + 24);
	d->length = get64(buf + 32);
	if (d->port == 0 || get32(buf + 28) != 0 || d->segment == 0 || d->length == 0 ||
	    (d->family == 4 && memcmp(buf + 12, zero, sizeof(zero)) != 0))
		return -EINVAL;
	return 0;
}
