/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the mlx5 transport's wire decoders (mlx5_wire.c):
 * the segment descriptor (bytes from the directory) and the handshake
 * frames and messages (bytes from a TCP peer). The input is read the way the
 * listener reads a connection: a frame header, then the body it announces,
 * decoded as a message of the frame's type; and so on. Whatever decodes
 * must encode back to the same bytes and satisfy the rules of doc/mlx5.md.
 * The whole input is also tried as a descriptor of version 2 and 3.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlx5_desc3.h"
#include "mlx5_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_desc(const uint8_t *data, size_t size)
{
	uint8_t again[TERN_MLX5_DESC_LEN];
	struct tern_mlx5_desc d;

	if (mlx5_desc_decode(data, size, &d) != 0)
		return;
	if (size != TERN_MLX5_DESC_LEN || d.magic != TERN_MLX5_DESC_MAGIC ||
	    d.version != TERN_MLX5_DESC_VERSION || d.length == 0 || d.addr + d.length < d.addr ||
	    d.hs_port == 0 || d.epoch == 0 || !mlx5_gid_unicast(d.gid) ||
	    mlx5_desc_encode(&d, again, sizeof(again)) != TERN_MLX5_DESC_LEN ||
	    memcmp(again, data, sizeof(again)) != 0)
		abort();
}

/* Version 3 (one entry per port), and either version through
 * mlx5_desc_any_decode(). */
static void
check_desc3(const uint8_t *data, size_t size)
{
	uint8_t again[TERN_MLX5_DESC3_MAX];
	struct tern_mlx5_desc3 d, any;
	struct tern_mlx5_desc port;
	const char *why = NULL;
	unsigned int i, j;
	int rc;

	rc = mlx5_desc3_decode(data, size, &d, &why);
	if (mlx5_desc_any_decode(data, size, &any, NULL) == 0) {
		if (any.nports == 0 || any.nports > TERN_MLX5_RAIL_MAX ||
		    (any.version != 2 && any.version != 3) || (any.version == 3) != (rc == 0) ||
		    (rc == 0 && memcmp(&any, &d, sizeof(d)) != 0))
			abort();
		for (i = 0; i < any.nports; i++)
			if (mlx5_desc3_port(&any, i, &port) != 0 || port.rkey != any.ports[i].rkey)
				abort();
	} else if (rc == 0) {
		abort();
	}
	if (rc != 0) {
		if ((rc != -EINVAL && rc != -EPROTO) || why == NULL)
			abort();
		return;
	}
	if (d.version != 3 || d.nports == 0 || d.nports > TERN_MLX5_RAIL_MAX ||
	    size != TERN_MLX5_DESC3_LEN(d.nports) || d.length == 0 || d.addr + d.length < d.addr ||
	    d.epoch == 0)
		abort();
	for (i = 0; i < d.nports; i++) {
		if (!mlx5_gid_unicast(d.ports[i].gid) || !mlx5_hs_addr_usable(d.ports[i].hs_addr) ||
		    d.ports[i].hs_port == 0 || d.ports[i].reserved != 0)
			abort();
		for (j = 0; j < i; j++)
			if (memcmp(d.ports[i].gid, d.ports[j].gid, 16) == 0)
				abort();
	}
	if (mlx5_desc3_encode(&d, again, sizeof(again)) != (int)size ||
	    memcmp(again, data, size) != 0)
		abort();
}

static void
check_msg(const uint8_t *body, size_t len, uint8_t type)
{
	uint8_t again[TERN_MLX5_CONNECT_MSG_MAX];
	struct tern_mlx5_connect_msg m;
	const char *why = NULL;
	uint16_t i;
	int rc;

	rc = mlx5_connect_decode(body, len, type, &m, &why);
	if (rc != 0) {
		if ((rc != -EINVAL && rc != -EPROTO) || why == NULL)
			abort();
		return;
	}
	if (m.type != type || m.count == 0 || m.count > TERN_MLX5_CONNECT_QP_MAX || m.nonce == 0 ||
	    m.mtu < 1 || m.mtu > 5 || m.lid > 0xbfff || (m.lid == 0 && !mlx5_gid_unicast(m.gid)))
		abort();
	for (i = 0; i < m.count; i++)
		if (m.qp[i].qpn < 2 || m.qp[i].qpn > 0xffffff || m.qp[i].psn > 0xffffff ||
		    (type == TERN_MLX5_CONNECT_REPLY &&
		     (m.qp[i].peer_qpn < 2 || m.qp[i].peer_qpn > 0xffffff)))
			abort();
	if (mlx5_connect_encode(&m, again, sizeof(again)) != (int)len ||
	    memcmp(again, body, len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[TERN_MLX5_FRAME_MAX];
	struct tern_mlx5_frame_hdr h;
	size_t pos = 1;
	uint8_t type;

	check_desc(data, size);
	check_desc3(data, size);
	if (size == 0)
		return 0;
	/* The first byte picks the side that reads the stream. */
	type = (data[0] & 1) ? TERN_MLX5_CONNECT_REPLY : TERN_MLX5_CONNECT_REQUEST;
	while (size - pos >= TERN_MLX5_FRAME_HDR) {
		const uint8_t *f = data + pos;
		const char *why = NULL;
		int rc = mlx5_frame_decode(f, TERN_MLX5_FRAME_HDR, type, &h, &why);

		if (rc != 0) {
			if ((rc != -EINVAL && rc != -EPROTO) || why == NULL)
				abort();
			break;
		}
		if (h.type != type || h.body_len > TERN_MLX5_CONNECT_MSG_MAX ||
		    (h.status != 0 && (type != TERN_MLX5_CONNECT_REPLY || h.body_len != 0 ||
				       h.status > TERN_MLX5_FRAME_STATUS_MAX)))
			abort();
		pos += TERN_MLX5_FRAME_HDR;
		if (size - pos < h.body_len)
			break;
		/* A frame that decodes encodes back to the same bytes. */
		if (mlx5_frame_encode(h.type, h.status, f + TERN_MLX5_FRAME_HDR, h.body_len, again,
				      sizeof(again)) != (int)(TERN_MLX5_FRAME_HDR + h.body_len) ||
		    memcmp(again, f, TERN_MLX5_FRAME_HDR + h.body_len) != 0)
			abort();
		if (h.body_len != 0)
			check_msg(f + TERN_MLX5_FRAME_HDR, h.body_len, type);
		pos += h.body_len;
	}
	return 0;
}
