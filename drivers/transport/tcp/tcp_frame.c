/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame and descriptor codec of the tcp transport. Plain C and libc only:
 * the fuzzer links this file alone.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tern_wire.h>

#include "tcp_frame.h"

void
tcp_frame_encode(uint8_t *buf, const struct tcp_frame_hdr *h)
{
	tern_wire_put_be32(buf + 0, TCP_FRAME_MAGIC);
	buf[4] = TCP_FRAME_VERSION;
	buf[5] = h->op;
	tern_wire_put_be16(buf + 6, 0);
	tern_wire_put_be32(buf + 8, h->tag);
	tern_wire_put_be32(buf + 12, h->segment);
	tern_wire_put_be64(buf + 16, h->offset);
	tern_wire_put_be32(buf + 24, h->length);
	tern_wire_put_be32(buf + 28, h->payload);
	tern_wire_put_be32(buf + 32, (uint32_t)h->status);
	tern_wire_put_be32(buf + 36, 0);
}

/* Handshake frames (doc/protocol.md, "Handshake"): offset carries the
 * initiator's instance, tag its epoch; length is TCP_HS_LEN. */
static int
tcp_frame_check_handshake(const struct tcp_frame_hdr *h)
{
	if (h->length != TCP_HS_LEN || h->offset == 0)
		return -EBADMSG;
	if (h->op == TCP_OP_READY)
		return h->segment == 0 && h->payload == 0 && h->status <= 0 &&
				       h->status >= TCP_FRAME_STATUS_MIN
			       ? 0
			       : -EBADMSG;
	if (h->status != 0 || h->payload != TCP_HS_LEN)
		return -EBADMSG;
	if (h->op == TCP_OP_CHALLENGE)
		return (h->segment & ~TCP_HS_F_AUTH) == 0 ? 0 : -EBADMSG;
	return h->segment == 0 ? 0 : -EBADMSG;
}

int
tcp_frame_decode(const uint8_t *buf, struct tcp_frame_hdr *h)
{
	uint32_t expect;

	if (tern_wire_get_be32(buf + 0) != TCP_FRAME_MAGIC)
		return -EPROTO;
	if (buf[4] != TCP_FRAME_VERSION)
		return -EPROTONOSUPPORT;
	h->op = buf[5];
	h->tag = tern_wire_get_be32(buf + 8);
	h->segment = tern_wire_get_be32(buf + 12);
	h->offset = tern_wire_get_be64(buf + 16);
	h->length = tern_wire_get_be32(buf + 24);
	h->payload = tern_wire_get_be32(buf + 28);
	h->status = (int32_t)tern_wire_get_be32(buf + 32);
	if (tern_wire_get_be16(buf + 6) != 0 || tern_wire_get_be32(buf + 36) != 0)
		return -EBADMSG;
	if (h->op >= TCP_OP_HELLO && h->op <= TCP_OP_READY)
		return tcp_frame_check_handshake(h);
	if (h->op == TCP_OP_NOTIFY || h->op == TCP_OP_NOTIFY_REPLY) {
		/* offset is the notification's tag, length its message (may be 0). */
		if (h->length > TCP_NOTIFY_MSG_MAX)
			return -EBADMSG;
		if (h->op == TCP_OP_NOTIFY)
			return h->status == 0 && h->payload == TCP_NOTIFY_SENDER_LEN + h->length
				       ? 0
				       : -EBADMSG;
		return h->payload == 0 && h->status <= 0 && h->status >= TCP_FRAME_STATUS_MIN
			       ? 0
			       : -EBADMSG;
	}
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

int
tcp_notify_sender_check(const uint8_t *sender)
{
	unsigned int i, len = 0;

	while (len < TCP_NOTIFY_SENDER_LEN && sender[len] != 0)
		len++;
	if (len == 0 || len == TCP_NOTIFY_SENDER_LEN)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		uint8_t ch = sender[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' || ch == '-'))
			return -EINVAL;
	}
	for (i = len; i < TCP_NOTIFY_SENDER_LEN; i++)
		if (sender[i] != 0)
			return -EINVAL;
	return 0;
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

size_t
tcp_desc_len(const struct tcp_desc *d)
{
	return TCP_DESC_LEN + (size_t)d->nb_extra * TCP_DESC_RAIL_LEN;
}

size_t
tcp_desc_len_of(const uint8_t *buf)
{
	return buf[4] == TCP_DESC_VERSION_RAILS
		       ? TCP_DESC_LEN + (size_t)(buf[28] & 3) * TCP_DESC_RAIL_LEN
		       : TCP_DESC_LEN;
}

static void
addr_encode(uint8_t *buf, uint8_t family, uint16_t port, const uint8_t addr[16])
{
	buf[0] = family;
	tern_wire_put_be16(buf + 2, port);
	memcpy(buf + 4, addr, family == 4 ? 4 : 16);
}

void
tcp_desc_encode(uint8_t *buf, const struct tcp_desc *d)
{
	uint32_t i;

	memset(buf, 0, tcp_desc_len(d));
	tern_wire_put_be32(buf + 0, TCP_DESC_MAGIC);
	buf[4] = d->nb_extra != 0 ? TCP_DESC_VERSION_RAILS : TCP_DESC_VERSION;
	buf[5] = d->family;
	tern_wire_put_be16(buf + 6, d->port);
	memcpy(buf + 8, d->addr, d->family == 4 ? 4 : 16);
	tern_wire_put_be32(buf + 24, d->segment);
	buf[28] = d->nb_extra;
	tern_wire_put_be64(buf + 32, d->length);
	for (i = 0; i < d->nb_extra; i++)
		addr_encode(buf + TCP_DESC_LEN + i * TCP_DESC_RAIL_LEN, d->extra[i].family,
			    d->extra[i].port, d->extra[i].addr);
}

/* One further address of a version 2 descriptor: family, zero, port, address. */
static int
addr_decode(const uint8_t *buf, struct tcp_desc_addr *a)
{
	static const uint8_t zero[12];

	a->family = buf[0];
	a->port = tern_wire_get_be16(buf + 2);
	memcpy(a->addr, buf + 4, 16);
	if ((a->family != 4 && a->family != 6) || buf[1] != 0 || a->port == 0 ||
	    (a->family == 4 && memcmp(buf + 8, zero, sizeof(zero)) != 0))
		return -EINVAL;
	return 0;
}

static bool
addr_same(uint8_t fa, uint16_t pa, const uint8_t *aa, const struct tcp_desc_addr *b)
{
	return fa == b->family && pa == b->port && memcmp(aa, b->addr, 16) == 0;
}

int
tcp_desc_decode(const uint8_t *buf, size_t len, struct tcp_desc *d)
{
	static const uint8_t zero[12];
	uint32_t i, k, n = 0;

	if (len < TCP_DESC_LEN || tern_wire_get_be32(buf + 0) != TCP_DESC_MAGIC ||
	    (buf[4] != TCP_DESC_VERSION && buf[4] != TCP_DESC_VERSION_RAILS) ||
	    (buf[5] != 4 && buf[5] != 6))
		return -EINVAL;
	if (buf[4] == TCP_DESC_VERSION_RAILS) {
		n = buf[28];
		if (n == 0 || n >= TCP_RAILS_MAX || buf[29] != 0 || buf[30] != 0 || buf[31] != 0)
			return -EINVAL;
	} else if (tern_wire_get_be32(buf + 28) != 0) {
		return -EINVAL;
	}
	if (len != TCP_DESC_LEN + n * TCP_DESC_RAIL_LEN)
		return -EINVAL;
	d->family = buf[5];
	d->port = tern_wire_get_be16(buf + 6);
	memcpy(d->addr, buf + 8, 16);
	d->segment = tern_wire_get_be32(buf + 24);
	d->length = tern_wire_get_be64(buf + 32);
	d->nb_extra = (uint8_t)n;
	if (d->port == 0 || d->segment == 0 || d->length == 0 ||
	    (d->family == 4 && memcmp(buf + 12, zero, sizeof(zero)) != 0))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (addr_decode(buf + TCP_DESC_LEN + i * TCP_DESC_RAIL_LEN, &d->extra[i]) != 0 ||
		    addr_same(d->family, d->port, d->addr, &d->extra[i]))
			return -EINVAL;
		for (k = 0; k < i; k++)
			if (addr_same(d->extra[k].family, d->extra[k].port, d->extra[k].addr,
				      &d->extra[i]))
				return -EINVAL;
	}
	return 0;
}
