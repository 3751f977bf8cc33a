/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 transport's wire codecs (drivers/transport/mlx5/mlx5_wire.c) on
 * their own, without DPDK: the segment descriptor, the handshake messages and
 * their framing. Every decoder must refuse truncated and oversize input, a
 * bad magic or version, lengths that do not match, and non-zero reserved
 * bytes; what it accepts must encode back to the same bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mlx5_wire.h"

static void
desc_sample(struct tern_mlx5_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->magic = TERN_MLX5_DESC_MAGIC;
	d->version = TERN_MLX5_DESC_VERSION;
	d->rkey = 0x1234;
	d->hs_port = 7300;
	d->addr = 0x7f0000000000ull;
	d->length = 1u << 20;
	d->gid[0] = 0xfe;
	d->gid[15] = 1;
	d->hs_addr[10] = 0xff;
	d->hs_addr[11] = 0xff;
	d->hs_addr[12] = 10;
	d->hs_addr[15] = 2;
	d->epoch = 42;
}

static void
desc_roundtrip(void **state)
{
	uint8_t buf[TERN_MLX5_DESC_LEN + 8], again[TERN_MLX5_DESC_LEN];
	struct tern_mlx5_desc d, out;

	(void)state;
	desc_sample(&d);
	assert_int_equal(mlx5_desc_encode(&d, buf, sizeof(buf)), TERN_MLX5_DESC_LEN);
	assert_int_equal(mlx5_desc_decode(buf, TERN_MLX5_DESC_LEN, &out), 0);
	assert_memory_equal(&d, &out, sizeof(d));
	assert_int_equal(mlx5_desc_encode(&out, again, sizeof(again)), TERN_MLX5_DESC_LEN);
	assert_memory_equal(buf, again, sizeof(again));
	/* Encoder: too small a buffer, NULL. */
	assert_int_equal(mlx5_desc_encode(&d, buf, TERN_MLX5_DESC_LEN - 1), -ENOSPC);
	assert_int_equal(mlx5_desc_encode(NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mlx5_desc_encode(&d, NULL, sizeof(buf)), -EINVAL);
}

static void
desc_malformed(void **state)
{
	/* Byte offset, value written there (little-endian where wider). */
	static const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
		{ 0, 0x36 },  /* magic */
		{ 4, 1 },     /* version 1 */
		{ 4, 3 },     /* version 3 */
		{ 6, 1 },     /* reserved */
		{ 12, 0 },    /* port 0 (both bytes below) */
		{ 14, 1 },    /* reserved */
		{ 32, 0xff }, /* multicast GID */
		{ 48, 0xff }, /* multicast IPv6 handshake address */
		{ 60, 0xe0 }, /* multicast IPv4 handshake address */
	};
	uint8_t buf[TERN_MLX5_DESC_LEN + 1], m[TERN_MLX5_DESC_LEN];
	struct tern_mlx5_desc d, out;
	size_t i;

	(void)state;
	desc_sample(&d);
	assert_int_equal(mlx5_desc_encode(&d, buf, sizeof(buf)), TERN_MLX5_DESC_LEN);
	/* Truncated, oversize, empty, NULL. */
	for (i = 0; i < TERN_MLX5_DESC_LEN; i++)
		assert_int_equal(mlx5_desc_decode(buf, i, &out), -EINVAL);
	buf[TERN_MLX5_DESC_LEN] = 0;
	assert_int_equal(mlx5_desc_decode(buf, TERN_MLX5_DESC_LEN + 1, &out), -EINVAL);
	assert_int_equal(mlx5_desc_decode(NULL, TERN_MLX5_DESC_LEN, &out), -EINVAL);
	assert_int_equal(mlx5_desc_decode(buf, TERN_MLX5_DESC_LEN, NULL), -EINVAL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(m, buf, sizeof(m));
		m[bad[i].off] = bad[i].val;
		if (bad[i].off == 12)
			m[13] = 0;
		assert_int_equal(mlx5_desc_decode(m, sizeof(m), &out), -EINVAL);
	}
	/* Zero length, wrapping range, zero GID, unspecified address, epoch 0. */
	d.length = 0;
	mlx5_desc_encode(&d, m, sizeof(m));
	assert_int_equal(mlx5_desc_decode(m, sizeof(m), &out), -EINVAL);
	desc_sample(&d);
	d.addr = UINT64_MAX - 10;
	d.length = 11;
	mlx5_desc_encode(&d, m, sizeof(m));
	assert_int_equal(mlx5_desc_decode(m, sizeof(m), &out), -EINVAL);
	desc_sample(&d);
	memset(d.gid, 0, sizeof(d.gid));
	mlx5_desc_encode(&d, m, sizeof(m));
	assert_int_equal(mlx5_desc_decode(m, sizeof(m), &out), -EINVAL);
	desc_sample(&d);
	memset(d.hs_addr + 12, 0, 4);
	mlx5_desc_encode(&d, m, sizeof(m));
	assert_int_equal(mlx5_desc_decode(m, sizeof(m), &out), -EINVAL);
	desc_sample(&d);
	d.epoch = 0;
	mlx5_desc_encode(&d, m, sizeof(m));
	assert_int_equal(mlx5_desc_decode(m, sizeof(m), &out), -EINVAL);
}

static void
msg_sample(struct tern_mlx5_connect_msg *m, uint8_t type, uint16_t count)
{
	uint16_t i;

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->mtu = 3;
	m->count = count;
	m->nonce = 0x1122334455667788ull;
	m->gid[0] = 0xfe;
	m->gid[15] = 2;
	for (i = 0; i < count; i++) {
		m->qp[i].qpn = 0x100u + i;
		m->qp[i].psn = 0xabcu + i;
		if (type == TERN_MLX5_CONNECT_REPLY)
			m->qp[i].peer_qpn = 0x200u + i;
	}
}

static void
msg_roundtrip(void **state)
{
	uint8_t buf[TERN_MLX5_CONNECT_MSG_MAX], again[TERN_MLX5_CONNECT_MSG_MAX];
	struct tern_mlx5_connect_msg m, out;
	uint8_t type;
	int len;

	(void)state;
	for (type = TERN_MLX5_CONNECT_REQUEST; type <= TERN_MLX5_CONNECT_REPLY; type++) {
		uint16_t count;

		for (count = 1; count <= TERN_MLX5_CONNECT_QP_MAX; count += 21) {
			msg_sample(&m, type, count);
			len = mlx5_connect_encode(&m, buf, sizeof(buf));
			assert_int_equal(len,
					 TERN_MLX5_CONNECT_HDR +
						 count * (type == TERN_MLX5_CONNECT_REQUEST
								  ? TERN_MLX5_CONNECT_REQ_ENTRY
								  : TERN_MLX5_CONNECT_REP_ENTRY));
			assert_int_equal(mlx5_connect_decode(buf, (size_t)len, type, &out, NULL),
					 0);
			assert_memory_equal(&m, &out, sizeof(m));
			assert_int_equal(mlx5_connect_encode(&out, again, sizeof(again)), len);
			assert_memory_equal(buf, again, (size_t)len);
			/* The other type is refused. */
			assert_int_equal(
				mlx5_connect_decode(buf, (size_t)len, 3 - type, &out, NULL),
				-EINVAL);
		}
	}
	/* Encoder: count 0 or too many, unknown type, no room. */
	msg_sample(&m, TERN_MLX5_CONNECT_REQUEST, 1);
	m.count = 0;
	assert_int_equal(mlx5_connect_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.count = TERN_MLX5_CONNECT_QP_MAX + 1;
	assert_int_equal(mlx5_connect_encode(&m, buf, sizeof(buf)), -EINVAL);
	msg_sample(&m, 7, 1);
	assert_int_equal(mlx5_connect_encode(&m, buf, sizeof(buf)), -EINVAL);
	msg_sample(&m, TERN_MLX5_CONNECT_REQUEST, 1);
	assert_int_equal(mlx5_connect_encode(&m, buf, TERN_MLX5_CONNECT_HDR), -ENOSPC);
}

/* Decode @p buf as a request and expect @p rc with a reason. */
static void
msg_refused(const uint8_t *buf, size_t len, uint8_t type, int rc)
{
	struct tern_mlx5_connect_msg out;
	const char *why = NULL;

	assert_int_equal(mlx5_connect_decode(buf, len, type, &out, &why), rc);
	assert_non_null(why);
}

static void
msg_malformed(void **state)
{
	uint8_t buf[TERN_MLX5_CONNECT_MSG_MAX + 16], m[TERN_MLX5_CONNECT_MSG_MAX + 16];
	struct tern_mlx5_connect_msg msg, out;
	const uint8_t req = TERN_MLX5_CONNECT_REQUEST, rep = TERN_MLX5_CONNECT_REPLY;
	size_t i, len;

	(void)state;
	msg_sample(&msg, req, 2);
	len = (size_t)mlx5_connect_encode(&msg, buf, sizeof(buf));
	/* Truncated anywhere, one byte over, one entry over. */
	for (i = 0; i < len; i++)
		msg_refused(buf, i, req, -EINVAL);
	memset(buf + len, 0, sizeof(buf) - len);
	msg_refused(buf, len + 1, req, -EINVAL);
	msg_refused(buf, len + TERN_MLX5_CONNECT_REQ_ENTRY, req, -EINVAL);
	/* Oversize: a count above the maximum, with the bytes to match. */
	memcpy(m, buf, len);
	m[6] = TERN_MLX5_CONNECT_QP_MAX + 1;
	msg_refused(m, TERN_MLX5_CONNECT_HDR + (TERN_MLX5_CONNECT_QP_MAX + 1) * 8, req, -EINVAL);
	m[6] = 0;
	msg_refused(m, TERN_MLX5_CONNECT_HDR, req, -EINVAL);
	/* Magic, version, type, reserved bytes 35..39. */
	memcpy(m, buf, len);
	m[0] ^= 1;
	msg_refused(m, len, req, -EINVAL);
	memcpy(m, buf, len);
	m[4] = TERN_MLX5_CONNECT_VERSION + 1;
	msg_refused(m, len, req, -EPROTO);
	memcpy(m, buf, len);
	m[5] = rep;
	msg_refused(m, len, req, -EINVAL);
	for (i = 35; i < TERN_MLX5_CONNECT_HDR; i++) {
		memcpy(m, buf, len);
		m[i] = 1;
		msg_refused(m, len, req, -EINVAL);
	}
	/* Nonce 0, MTU 0 and 6, a multicast LID, no LID and no GID. */
	memcpy(m, buf, len);
	memset(m + 8, 0, 8);
	msg_refused(m, len, req, -EINVAL);
	memcpy(m, buf, len);
	m[34] = 0;
	msg_refused(m, len, req, -EINVAL);
	m[34] = 6;
	msg_refused(m, len, req, -EINVAL);
	memcpy(m, buf, len);
	m[32] = 0x00;
	m[33] = 0xc0;
	msg_refused(m, len, req, -EINVAL);
	memcpy(m, buf, len);
	memset(m + 16, 0, 16);
	msg_refused(m, len, req, -EINVAL);
	/* QPN 1, QPN above 24 bits, PSN above 24 bits, the same QPN twice. */
	memcpy(m, buf, len);
	memset(m + 40, 0, 4);
	m[40] = 1;
	msg_refused(m, len, req, -EINVAL);
	memcpy(m, buf, len);
	m[43] = 1;
	msg_refused(m, len, req, -EINVAL);
	memcpy(m, buf, len);
	m[47] = 1;
	msg_refused(m, len, req, -EINVAL);
	memcpy(m, buf, len);
	memcpy(m + 48, m + 40, 4);
	msg_refused(m, len, req, -EINVAL);
	/* Reply: the initiator's QPN out of range, or twice. */
	msg_sample(&msg, rep, 2);
	len = (size_t)mlx5_connect_encode(&msg, buf, sizeof(buf));
	assert_int_equal(mlx5_connect_decode(buf, len, rep, &out, NULL), 0);
	memcpy(m, buf, len);
	memset(m + 40, 0, 4);
	msg_refused(m, len, rep, -EINVAL);
	memcpy(m, buf, len);
	memcpy(m + 52, m + 40, 4);
	msg_refused(m, len, rep, -EINVAL);
	/* NULL and an unknown type: refused without a reason. */
	assert_int_equal(mlx5_connect_decode(NULL, len, rep, &out, NULL), -EINVAL);
	assert_int_equal(mlx5_connect_decode(buf, len, rep, NULL, NULL), -EINVAL);
	assert_int_equal(mlx5_connect_decode(buf, len, 3, &out, NULL), -EINVAL);
}

static void
frame_codec(void **state)
{
	uint8_t buf[TERN_MLX5_FRAME_MAX], hdr[TERN_MLX5_FRAME_HDR + 1],
		body[TERN_MLX5_CONNECT_MSG_MAX];
	const uint8_t req = TERN_MLX5_CONNECT_REQUEST, rep = TERN_MLX5_CONNECT_REPLY;
	const size_t req_min = TERN_MLX5_CONNECT_HDR + TERN_MLX5_CONNECT_REQ_ENTRY;
	const size_t rep_max =
		TERN_MLX5_CONNECT_HDR + TERN_MLX5_CONNECT_QP_MAX * TERN_MLX5_CONNECT_REP_ENTRY;
	struct tern_mlx5_frame_hdr h;
	const char *why;
	size_t i;

	(void)state;
	memset(body, 0x5a, sizeof(body));
	/* Round trips: the smallest request, the largest reply, an error reply. */
	assert_int_equal(mlx5_frame_encode(req, 0, body, req_min, buf, sizeof(buf)),
			 (int)(TERN_MLX5_FRAME_HDR + req_min));
	assert_int_equal(mlx5_frame_decode(buf, TERN_MLX5_FRAME_HDR, req, &h, NULL), 0);
	assert_int_equal(h.type, req);
	assert_int_equal(h.status, 0);
	assert_int_equal(h.body_len, req_min);
	assert_memory_equal(buf + TERN_MLX5_FRAME_HDR, body, req_min);
	assert_int_equal(mlx5_frame_encode(rep, 0, body, rep_max, buf, sizeof(buf)),
			 (int)sizeof(buf));
	assert_int_equal(mlx5_frame_decode(buf, TERN_MLX5_FRAME_HDR, rep, &h, NULL), 0);
	assert_int_equal(h.body_len, rep_max);
	assert_int_equal(mlx5_frame_encode(rep, ENOSPC, NULL, 0, buf, sizeof(buf)),
			 TERN_MLX5_FRAME_HDR);
	assert_int_equal(mlx5_frame_decode(buf, TERN_MLX5_FRAME_HDR, rep, &h, NULL), 0);
	assert_int_equal(h.status, ENOSPC);
	assert_int_equal(h.body_len, 0);
	/* The encoder refuses what the decoder would. */
	assert_int_equal(mlx5_frame_encode(req, 1, NULL, 0, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(
		mlx5_frame_encode(rep, TERN_MLX5_FRAME_STATUS_MAX + 1, NULL, 0, buf, sizeof(buf)),
		-EINVAL);
	assert_int_equal(mlx5_frame_encode(req, 0, body, req_min - 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mlx5_frame_encode(rep, 0, body, rep_max + 1, buf, sizeof(buf) + 1),
			 -EINVAL);
	assert_int_equal(mlx5_frame_encode(req, 0, body, req_min, buf, req_min), -ENOSPC);
	assert_int_equal(mlx5_frame_encode(3, 0, body, req_min, buf, sizeof(buf)), -EINVAL);

	assert_int_equal(mlx5_frame_encode(req, 0, body, req_min, buf, sizeof(buf)),
			 (int)(TERN_MLX5_FRAME_HDR + req_min));
	memcpy(hdr, buf, TERN_MLX5_FRAME_HDR);
	/* Truncated and oversize headers. */
	for (i = 0; i < TERN_MLX5_FRAME_HDR; i++) {
		why = NULL;
		assert_int_equal(mlx5_frame_decode(hdr, i, req, &h, &why), -EINVAL);
		assert_non_null(why);
	}
	hdr[TERN_MLX5_FRAME_HDR] = 0;
	assert_int_equal(mlx5_frame_decode(hdr, TERN_MLX5_FRAME_HDR + 1, req, &h, NULL), -EINVAL);
	/* Bad magic, another version, the other type. */
	memcpy(hdr, buf, TERN_MLX5_FRAME_HDR);
	hdr[3] ^= 0x80;
	assert_int_equal(mlx5_frame_decode(hdr, TERN_MLX5_FRAME_HDR, req, &h, NULL), -EINVAL);
	memcpy(hdr, buf, TERN_MLX5_FRAME_HDR);
	hdr[4] = TERN_MLX5_FRAME_VERSION + 1;
	why = NULL;
	assert_int_equal(mlx5_frame_decode(hdr, TERN_MLX5_FRAME_HDR, req, &h, &why), -EPROTO);
	assert_non_null(why);
	memcpy(hdr, buf, TERN_MLX5_FRAME_HDR);
	assert_int_equal(mlx5_frame_decode(hdr, TERN_MLX5_FRAME_HDR, rep, &h, NULL), -EINVAL);
	/* Body lengths: short, long, not whole entries, huge. */
	{
		static const uint32_t lens[] = {
			0,	     TERN_MLX5_CONNECT_HDR,	     req_min - 1,
			req_min + 1, TERN_MLX5_CONNECT_HDR + 65 * 8, UINT32_MAX
		};

		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			memcpy(hdr, buf, TERN_MLX5_FRAME_HDR);
			hdr[8] = (uint8_t)lens[i];
			hdr[9] = (uint8_t)(lens[i] >> 8);
			hdr[10] = (uint8_t)(lens[i] >> 16);
			hdr[11] = (uint8_t)(lens[i] >> 24);
			why = NULL;
			assert_int_equal(mlx5_frame_decode(hdr, TERN_MLX5_FRAME_HDR, req, &h, &why),
					 -EINVAL);
			assert_non_null(why);
		}
	}
	/* A status in a request; an error reply with a body. */
	memcpy(hdr, buf, TERN_MLX5_FRAME_HDR);
	hdr[6] = 1;
	assert_int_equal(mlx5_frame_decode(hdr, TERN_MLX5_FRAME_HDR, req, &h, NULL), -EINVAL);
	hdr[5] = rep;
	assert_int_equal(mlx5_frame_decode(hdr, TERN_MLX5_FRAME_HDR, rep, &h, NULL), -EINVAL);
	assert_int_equal(mlx5_frame_decode(NULL, TERN_MLX5_FRAME_HDR, rep, &h, NULL), -EINVAL);
	assert_int_equal(mlx5_frame_decode(hdr, TERN_MLX5_FRAME_HDR, rep, NULL, NULL), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(desc_roundtrip), cmocka_unit_test(desc_malformed),
		cmocka_unit_test(msg_roundtrip),  cmocka_unit_test(msg_malformed),
		cmocka_unit_test(frame_codec),
	};

	return cmocka_run_group_tests_name("mlx5_wire", tests, NULL, NULL);
}
