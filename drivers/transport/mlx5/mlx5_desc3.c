/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The version 3 mlx5 segment descriptor (mlx5_desc3.h, doc/mlx5.md): one
 * entry per port. Only libc, like mlx5_wire.c: the bytes come from the
 * directory, so the decoder is strict and fuzzed (tests/mlx5/fuzz_mlx5_wire.c)
 * and says why it refuses instead of logging.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tern_wire.h>

#include "mlx5_desc3.h"

/* Refuse, saying why (the caller logs it). */
static int
refuse(const char **why, const char *w, int rc)
{
	if (why != NULL)
		*why = w;
	return rc;
}

/* The rules both codecs share. @return NULL, or why @p d is malformed. */
static const char *
desc3_check(const struct tern_mlx5_desc3 *d)
{
	unsigned int i, j;

	if (d->nports == 0 || d->nports > TERN_MLX5_RAIL_MAX)
		return "port count out of range";
	if (d->length == 0)
		return "length 0";
	if (d->addr + d->length < d->addr)
		return "address range wraps";
	if (d->epoch == 0)
		return "epoch 0";
	for (i = 0; i < d->nports; i++) {
		const struct tern_mlx5_desc_port *p = &d->ports[i];

		if (!mlx5_gid_unicast(p->gid))
			return "GID not unicast";
		if (!mlx5_hs_addr_usable(p->hs_addr))
			return "handshake address unusable";
		if (p->hs_port == 0)
			return "handshake port 0";
		if (p->reserved != 0)
			return "reserved bytes not zero";
		for (j = 0; j < i; j++)
			if (memcmp(d->ports[j].gid, p->gid, sizeof(p->gid)) == 0)
				return "GID twice";
	}
	return NULL;
}

int
mlx5_desc3_encode(const struct tern_mlx5_desc3 *d, void *buf, size_t len)
{
	uint8_t *p = buf, *e;
	unsigned int i;
	size_t need;

	if (d == NULL || buf == NULL || desc3_check(d) != NULL)
		return -EINVAL;
	need = TERN_MLX5_DESC3_LEN(d->nports);
	if (len < need)
		return -ENOSPC;
	memset(p, 0, need);
	tern_wire_put_le32(p, TERN_MLX5_DESC_MAGIC);
	tern_wire_put_le16(p + 4, TERN_MLX5_DESC3_VERSION);
	p[8] = d->nports;
	tern_wire_put_le64(p + 16, d->addr);
	tern_wire_put_le64(p + 24, d->length);
	tern_wire_put_le64(p + 32, d->epoch);
	for (i = 0; i < d->nports; i++) {
		e = p + TERN_MLX5_DESC3_LEN(i);
		memcpy(e, d->ports[i].gid, 16);
		memcpy(e + 16, d->ports[i].hs_addr, 16);
		tern_wire_put_le32(e + 32, d->ports[i].rkey);
		tern_wire_put_le16(e + 36, d->ports[i].hs_port);
	}
	return (int)need;
}

int
mlx5_desc3_decode(const void *buf, size_t len, struct tern_mlx5_desc3 *d, const char **why)
{
	const uint8_t *p = buf, *e;
	const char *w;
	unsigned int i;

	if (buf == NULL || d == NULL)
		return refuse(why, "no buffer", -EINVAL);
	if (len < TERN_MLX5_DESC3_HDR)
		return refuse(why, "shorter than the header", -EINVAL);
	if (tern_wire_get_le32(p) != TERN_MLX5_DESC_MAGIC)
		return refuse(why, "bad magic", -EINVAL);
	if (tern_wire_get_le16(p + 4) != TERN_MLX5_DESC3_VERSION)
		return refuse(why, "another version", -EPROTO);
	if (tern_wire_get_le16(p + 6) != 0 || p[9] != 0 || tern_wire_get_le16(p + 10) != 0 ||
	    tern_wire_get_le32(p + 12) != 0)
		return refuse(why, "reserved bytes not zero", -EINVAL);
	memset(d, 0, sizeof(*d));
	d->version = TERN_MLX5_DESC3_VERSION;
	d->nports = p[8];
	if (d->nports == 0 || d->nports > TERN_MLX5_RAIL_MAX)
		return refuse(why, "port count out of range", -EINVAL);
	if (len != TERN_MLX5_DESC3_LEN(d->nports))
		return refuse(why, "size does not match the port count", -EINVAL);
	d->addr = tern_wire_get_le64(p + 16);
	d->length = tern_wire_get_le64(p + 24);
	d->epoch = tern_wire_get_le64(p + 32);
	for (i = 0; i < d->nports; i++) {
		e = p + TERN_MLX5_DESC3_LEN(i);
		memcpy(d->ports[i].gid, e, 16);
		memcpy(d->ports[i].hs_addr, e + 16, 16);
		d->ports[i].rkey = tern_wire_get_le32(e + 32);
		d->ports[i].hs_port = tern_wire_get_le16(e + 36);
		d->ports[i].reserved = tern_wire_get_le16(e + 38);
	}
	w = desc3_check(d);
	return w == NULL ? 0 : refuse(why, w, -EINVAL);
}

int
mlx5_desc_any_decode(const void *buf, size_t len, struct tern_mlx5_desc3 *d, const char **why)
{
	const uint8_t *p = buf;
	struct tern_mlx5_desc v2;
	int rc;

	if (buf == NULL || d == NULL)
		return refuse(why, "no buffer", -EINVAL);
	if (len < 6)
		return refuse(why, "shorter than the header", -EINVAL);
	if (tern_wire_get_le16(p + 4) == TERN_MLX5_DESC3_VERSION) {
		rc = mlx5_desc3_decode(buf, len, d, why);
		return rc == 0 ? 0 : -EINVAL;
	}
	if (mlx5_desc_decode(buf, len, &v2) != 0)
		return refuse(why, "not a valid version 2 or 3 descriptor", -EINVAL);
	memset(d, 0, sizeof(*d));
	d->version = TERN_MLX5_DESC_VERSION;
	d->nports = 1;
	d->addr = v2.addr;
	d->length = v2.length;
	d->epoch = v2.epoch;
	memcpy(d->ports[0].gid, v2.gid, 16);
	memcpy(d->ports[0].hs_addr, v2.hs_addr, 16);
	d->ports[0].rkey = v2.rkey;
	d->ports[0].hs_port = v2.hs_port;
	return 0;
}

int
mlx5_desc3_port(const struct tern_mlx5_desc3 *d, unsigned int i, struct tern_mlx5_desc *out)
{
	if (d == NULL || out == NULL || i >= d->nports || i >= TERN_MLX5_RAIL_MAX)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->magic = TERN_MLX5_DESC_MAGIC;
	out->version = TERN_MLX5_DESC_VERSION;
	out->rkey = d->ports[i].rkey;
	out->hs_port = d->ports[i].hs_port;
	out->addr = d->addr;
	out->length = d->length;
	memcpy(out->gid, d->ports[i].gid, 16);
	memcpy(out->hs_addr, d->ports[i].hs_addr, 16);
	out->epoch = d->epoch;
	return 0;
}
