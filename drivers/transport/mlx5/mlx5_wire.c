/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 transport's wire codecs (mlx5_wire.h, doc/mlx5.md): the segment
 * descriptor, the handshake messages and their framing. Only libc: the
 * decoders see bytes from other nodes and are fuzzed on their own
 * (tests/mlx5/fuzz_mlx5_wire.c), so they log nothing and say why they refuse
 * through an out-parameter that the caller logs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tern_wire.h>

#include "mlx5_wire.h"

/* QP numbers 0 and 1 are the special QPs; RC QPNs are 24 bits. */
#define QPN_MIN 2
#define QPN_MAX 0xffffffu
#define PSN_MAX 0xffffffu
/* enum ibv_mtu: IBV_MTU_256 = 1 .. IBV_MTU_4096 = 5 */
#define MTU_MIN 1
#define MTU_MAX 5
/* Highest unicast LID; 0xc000.. are multicast, 0xffff permissive. */
#define LID_UNICAST_MAX 0xbfff

/* ---- segment descriptor ---- */

int
mlx5_desc_encode(const struct tern_mlx5_desc *d, void *buf, size_t len)
{
	uint8_t *p = buf;

	if (d == NULL || buf == NULL)
		return -EINVAL;
	if (len < TERN_MLX5_DESC_LEN)
		return -ENOSPC;
	memset(p, 0, TERN_MLX5_DESC_LEN);
	tern_wire_put_le32(p, d->magic);
	tern_wire_put_le16(p + 4, d->version);
	tern_wire_put_le32(p + 8, d->rkey);
	tern_wire_put_le16(p + 12, d->hs_port);
	tern_wire_put_le64(p + 16, d->addr);
	tern_wire_put_le64(p + 24, d->length);
	memcpy(p + 32, d->gid, 16);
	memcpy(p + 48, d->hs_addr, 16);
	tern_wire_put_le64(p + 64, d->epoch);
	return TERN_MLX5_DESC_LEN;
}

int
mlx5_desc_decode(const void *buf, size_t len, struct tern_mlx5_desc *d)
{
	const uint8_t *p = buf;

	if (buf == NULL || d == NULL || len != TERN_MLX5_DESC_LEN)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->magic = tern_wire_get_le32(p);
	d->version = tern_wire_get_le16(p + 4);
	d->rkey = tern_wire_get_le32(p + 8);
	d->hs_port = tern_wire_get_le16(p + 12);
	d->addr = tern_wire_get_le64(p + 16);
	d->length = tern_wire_get_le64(p + 24);
	memcpy(d->gid, p + 32, 16);
	memcpy(d->hs_addr, p + 48, 16);
	d->epoch = tern_wire_get_le64(p + 64);
	if (d->magic != TERN_MLX5_DESC_MAGIC || d->version != TERN_MLX5_DESC_VERSION ||
	    tern_wire_get_le16(p + 6) != 0 || tern_wire_get_le16(p + 14) != 0 || d->length == 0 ||
	    d->addr + d->length < d->addr || !mlx5_gid_unicast(d->gid) ||
	    !mlx5_hs_addr_usable(d->hs_addr) || d->hs_port == 0 || d->epoch == 0)
		return -EINVAL;
	return 0;
}

/* ---- handshake messages ---- */

static size_t
entry_size(uint8_t type)
{
	return type == TERN_MLX5_CONNECT_REQUEST ? TERN_MLX5_CONNECT_REQ_ENTRY
						 : TERN_MLX5_CONNECT_REP_ENTRY;
}

/* Refuse a message, saying why (the caller logs it). */
static int
reject(const char **why, const char *w)
{
	if (why != NULL)
		*why = w;
	return -EINVAL;
}

int
mlx5_connect_encode(const struct tern_mlx5_connect_msg *m, void *buf, size_t len)
{
	uint8_t *p = buf, *e;
	size_t need;
	uint16_t i;

	if (m == NULL || buf == NULL ||
	    (m->type != TERN_MLX5_CONNECT_REQUEST && m->type != TERN_MLX5_CONNECT_REPLY) ||
	    m->count == 0 || m->count > TERN_MLX5_CONNECT_QP_MAX)
		return -EINVAL;
	need = TERN_MLX5_CONNECT_HDR + m->count * entry_size(m->type);
	if (len < need)
		return -ENOSPC;
	memset(p, 0, TERN_MLX5_CONNECT_HDR);
	tern_wire_put_le32(p, TERN_MLX5_CONNECT_MAGIC);
	p[4] = TERN_MLX5_CONNECT_VERSION;
	p[5] = m->type;
	tern_wire_put_le16(p + 6, m->count);
	tern_wire_put_le64(p + 8, m->nonce);
	memcpy(p + 16, m->gid, 16);
	tern_wire_put_le16(p + 32, m->lid);
	p[34] = m->mtu;
	for (i = 0; i < m->count; i++) {
		e = p + TERN_MLX5_CONNECT_HDR + i * entry_size(m->type);
		if (m->type == TERN_MLX5_CONNECT_REQUEST) {
			tern_wire_put_le32(e, m->qp[i].qpn);
			tern_wire_put_le32(e + 4, m->qp[i].psn);
		} else {
			tern_wire_put_le32(e, m->qp[i].peer_qpn);
			tern_wire_put_le32(e + 4, m->qp[i].qpn);
			tern_wire_put_le32(e + 8, m->qp[i].psn);
		}
	}
	return (int)need;
}

int
mlx5_connect_decode(const void *buf, size_t len, uint8_t type, struct tern_mlx5_connect_msg *m,
		    const char **why)
{
	const uint8_t *p = buf, *e;
	uint16_t i, j;

	if (buf == NULL || m == NULL ||
	    (type != TERN_MLX5_CONNECT_REQUEST && type != TERN_MLX5_CONNECT_REPLY))
		return -EINVAL;
	if (len < TERN_MLX5_CONNECT_HDR)
		return reject(why, "shorter than the header");
	if (tern_wire_get_le32(p) != TERN_MLX5_CONNECT_MAGIC)
		return reject(why, "bad magic");
	if (p[4] != TERN_MLX5_CONNECT_VERSION) {
		if (why != NULL)
			*why = "another version";
		return -EPROTO;
	}
	if (p[5] != type)
		return reject(why, "unexpected message type");
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->count = tern_wire_get_le16(p + 6);
	if (m->count == 0 || m->count > TERN_MLX5_CONNECT_QP_MAX)
		return reject(why, "entry count out of range");
	if (len != TERN_MLX5_CONNECT_HDR + m->count * entry_size(type))
		return reject(why, "size does not match the entry count");
	for (i = 35; i < TERN_MLX5_CONNECT_HDR; i++)
		if (p[i] != 0)
			return reject(why, "reserved bytes not zero");
	m->nonce = tern_wire_get_le64(p + 8);
	memcpy(m->gid, p + 16, 16);
	m->lid = tern_wire_get_le16(p + 32);
	m->mtu = p[34];
	if (m->nonce == 0)
		return reject(why, "nonce 0");
	if (m->mtu < MTU_MIN || m->mtu > MTU_MAX)
		return reject(why, "MTU out of range");
	if (m->lid > LID_UNICAST_MAX)
		return reject(why, "LID not unicast");
	if (m->lid == 0 && !mlx5_gid_unicast(m->gid))
		return reject(why, "no LID and no unicast GID");
	for (i = 0; i < m->count; i++) {
		e = p + TERN_MLX5_CONNECT_HDR + i * entry_size(type);
		if (type == TERN_MLX5_CONNECT_REQUEST) {
			m->qp[i].qpn = tern_wire_get_le32(e);
			m->qp[i].psn = tern_wire_get_le32(e + 4);
		} else {
			m->qp[i].peer_qpn = tern_wire_get_le32(e);
			m->qp[i].qpn = tern_wire_get_le32(e + 4);
			m->qp[i].psn = tern_wire_get_le32(e + 8);
			if (m->qp[i].peer_qpn < QPN_MIN || m->qp[i].peer_qpn > QPN_MAX)
				return reject(why, "initiator QPN out of range");
		}
		if (m->qp[i].qpn < QPN_MIN || m->qp[i].qpn > QPN_MAX)
			return reject(why, "QPN out of range");
		if (m->qp[i].psn > PSN_MAX)
			return reject(why, "PSN out of range");
		for (j = 0; j < i; j++)
			if (m->qp[j].qpn == m->qp[i].qpn ||
			    (type == TERN_MLX5_CONNECT_REPLY &&
			     m->qp[j].peer_qpn == m->qp[i].peer_qpn))
				return reject(why, "QPN twice");
	}
	return 0;
}

/* ---- framing over TCP ---- */

/* The header's fields but magic and version. @return 0 or -EINVAL (@p why). */
static int
frame_check(uint8_t type, uint16_t status, size_t body_len, const char **why)
{
	const char *w = NULL;
	size_t entry;

	if (type != TERN_MLX5_CONNECT_REQUEST && type != TERN_MLX5_CONNECT_REPLY) {
		w = "unexpected frame type";
	} else if (status != 0) {
		if (type == TERN_MLX5_CONNECT_REQUEST)
			w = "status in a request";
		else if (status > TERN_MLX5_FRAME_STATUS_MAX)
			w = "status out of range";
		else if (body_len != 0)
			w = "error reply with a body";
	} else {
		entry = entry_size(type);
		if (body_len < TERN_MLX5_CONNECT_HDR + entry ||
		    body_len > TERN_MLX5_CONNECT_HDR + TERN_MLX5_CONNECT_QP_MAX * entry)
			w = "length out of bounds";
		else if ((body_len - TERN_MLX5_CONNECT_HDR) % entry != 0)
			w = "length not a whole number of entries";
	}
	if (why != NULL && w != NULL)
		*why = w;
	return w == NULL ? 0 : -EINVAL;
}

int
mlx5_frame_encode(uint8_t type, uint16_t status, const void *body, size_t body_len, void *buf,
		  size_t len)
{
	uint8_t *p = buf;

	if (buf == NULL || (body == NULL && body_len != 0) ||
	    frame_check(type, status, body_len, NULL) != 0)
		return -EINVAL;
	if (len < TERN_MLX5_FRAME_HDR + body_len)
		return -ENOSPC;
	if (body_len != 0 && body != p + TERN_MLX5_FRAME_HDR)
		memmove(p + TERN_MLX5_FRAME_HDR, body, body_len);
	tern_wire_put_le32(p, TERN_MLX5_FRAME_MAGIC);
	p[4] = TERN_MLX5_FRAME_VERSION;
	p[5] = type;
	tern_wire_put_le16(p + 6, status);
	tern_wire_put_le32(p + 8, (uint32_t)body_len);
	return (int)(TERN_MLX5_FRAME_HDR + body_len);
}

int
mlx5_frame_decode(const void *buf, size_t len, uint8_t type, struct tern_mlx5_frame_hdr *h,
		  const char **why)
{
	const uint8_t *p = buf;
	const char *w = NULL;

	if (buf == NULL || h == NULL || len != TERN_MLX5_FRAME_HDR)
		w = "not a whole header";
	else if (tern_wire_get_le32(p) != TERN_MLX5_FRAME_MAGIC)
		w = "bad magic";
	if (w != NULL) {
		if (why != NULL)
			*why = w;
		return -EINVAL;
	}
	if (p[4] != TERN_MLX5_FRAME_VERSION) {
		if (why != NULL)
			*why = "another framing version";
		return -EPROTO;
	}
	if (p[5] != type) {
		if (why != NULL)
			*why = "unexpected frame type";
		return -EINVAL;
	}
	h->type = p[5];
	h->status = tern_wire_get_le16(p + 6);
	h->body_len = tern_wire_get_le32(p + 8);
	return frame_check(h->type, h->status, h->body_len, why);
}
