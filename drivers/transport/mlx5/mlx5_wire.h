/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MLX5_WIRE_H
#define MLX5_WIRE_H

/**
 * @file
 * The mlx5 transport's wire formats (driver-private; doc/mlx5.md): the
 * segment descriptor that crosses the directory, and the connection
 * handshake's messages and their TCP framing. Every byte another node sends
 * goes through these decoders, which are strict (exact sizes, reserved
 * fields zero) and depend on nothing but libc: they build without DPDK,
 * for the unit tests and the fuzz target (tests/mlx5).
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern_mlx5.h"

/** Magic of a segment descriptor ("TMX5"). */
#define TERN_MLX5_DESC_MAGIC 0x544d5835u
/** Version of the segment descriptor layout (2: with the handshake address). */
#define TERN_MLX5_DESC_VERSION 2
/** Bytes of a segment descriptor on the wire (segment_export()'s blob). */
#define TERN_MLX5_DESC_LEN 72

/**
 * A segment descriptor in host form: what segment_export() encodes for peers
 * (mlx5_desc_encode(), doc/mlx5.md) and what segment_import() keeps in
 * a REMOTE segment's priv area.
 */
struct tern_mlx5_desc {
	uint32_t magic;	  /**< TERN_MLX5_DESC_MAGIC */
	uint16_t version; /**< TERN_MLX5_DESC_VERSION */
	uint16_t peer;	  /**< priv only: the importer's peer slot; 0 on the wire */
	uint32_t rkey;	  /**< remote key of the memory region */
	uint16_t hs_port; /**< the exporter's handshake listener: TCP port */
	uint16_t reserved;
	uint64_t addr;	     /**< the exporter's virtual address of the first byte */
	uint64_t length;     /**< bytes */
	uint8_t gid[16];     /**< the exporter's port GID (node identity and route) */
	uint8_t hs_addr[16]; /**< the handshake listener's address: IPv6, or IPv4 as ::ffff:a.b.c.d
			      */
	uint64_t epoch;	     /**< the exporter's incarnation as a target (non-zero) */
};

/**
 * Write @p d in the wire format (little-endian, doc/mlx5.md).
 * @return TERN_MLX5_DESC_LEN, -ENOSPC (@p len too small), -EINVAL (NULL).
 */
int mlx5_desc_encode(const struct tern_mlx5_desc *d, void *buf, size_t len);

/**
 * Parse a descriptor, strictly: exact size, magic, version, reserved fields
 * zero, length not 0 and addr + length not wrapping, a unicast GID, a
 * handshake address that is neither unspecified nor multicast, a port, a
 * non-zero epoch.
 * @return 0, -EINVAL (malformed or another version).
 */
int mlx5_desc_decode(const void *buf, size_t len, struct tern_mlx5_desc *d);

/** A GID that names one port: neither zero nor multicast (ff00::/8). */
static inline int
mlx5_gid_unicast(const uint8_t gid[16])
{
	static const uint8_t zero[16];

	return memcmp(gid, zero, sizeof(zero)) != 0 && gid[0] != 0xff;
}

/**
 * A handshake address a peer can connect to: not unspecified, not multicast
 * (IPv6, or IPv4 mapped as ::ffff:a.b.c.d).
 */
static inline int
mlx5_hs_addr_usable(const uint8_t a[16])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t zero[16];

	if (memcmp(a, mapped, sizeof(mapped)) == 0)
		return memcmp(a + 12, zero, 4) != 0 && (a[12] & 0xf0) != 0xe0;
	return memcmp(a, zero, sizeof(zero)) != 0 && a[0] != 0xff;
}

/** Handshake message types (byte 5 of the wire format, doc/mlx5.md). */
#define TERN_MLX5_CONNECT_REQUEST 1
#define TERN_MLX5_CONNECT_REPLY	  2
/** Magic of a handshake message: the bytes "TMXC". */
#define TERN_MLX5_CONNECT_MAGIC 0x43584d54u
/** Version of the handshake wire format. */
#define TERN_MLX5_CONNECT_VERSION 1
/** Bytes of the header, of a request entry and of a reply entry. */
#define TERN_MLX5_CONNECT_HDR	    40
#define TERN_MLX5_CONNECT_REQ_ENTRY 8
#define TERN_MLX5_CONNECT_REP_ENTRY 12

/** A handshake message in host form. */
struct tern_mlx5_connect_msg {
	uint8_t type;	 /**< TERN_MLX5_CONNECT_REQUEST or _REPLY */
	uint8_t mtu;	 /**< sender's port MTU, enum ibv_mtu 1..5 */
	uint16_t count;	 /**< entries, 1..TERN_MLX5_CONNECT_QP_MAX */
	uint16_t lid;	 /**< sender's LID, 0 on RoCE */
	uint64_t nonce;	 /**< the initiator's request id, echoed in the reply */
	uint8_t gid[16]; /**< sender's GID */
	struct {
		uint32_t qpn;	   /**< sender's QP */
		uint32_t psn;	   /**< its first PSN */
		uint32_t peer_qpn; /**< reply: the initiator QP it answers */
	} qp[TERN_MLX5_CONNECT_QP_MAX];
};

/**
 * Write @p m in the wire format.
 * @return bytes written, -ENOSPC (@p len too small), -EINVAL (@p m malformed).
 */
int mlx5_connect_encode(const struct tern_mlx5_connect_msg *m, void *buf, size_t len);

/**
 * Parse a message of type @p type, strictly: exact size for its count,
 * magic, version, type, count in 1..TERN_MLX5_CONNECT_QP_MAX, reserved bytes
 * zero, MTU in 1..5, a unicast LID (1..0xbfff) or, with LID 0, a unicast GID,
 * QPNs in 2..2^24-1 without duplicates, PSNs below 2^24.
 * @param why if not NULL, set to the reason of a refusal
 * @return 0, -EINVAL (malformed), -EPROTO (another version).
 */
int mlx5_connect_decode(const void *buf, size_t len, uint8_t type, struct tern_mlx5_connect_msg *m,
			const char **why);

/*
 * Framing of the handshake over TCP (mlx5_handshake.c; doc/mlx5.md): a fixed
 * 12-byte header, then one handshake message (mlx5_connect_encode()). One
 * request per frame, one reply frame per request.
 */
/** Magic of a handshake frame: the bytes "TMXF". */
#define TERN_MLX5_FRAME_MAGIC 0x46584d54u
/** Version of the framing. */
#define TERN_MLX5_FRAME_VERSION 1
/** Bytes of a frame header. */
#define TERN_MLX5_FRAME_HDR 12
/** Largest frame: header and the largest message. */
#define TERN_MLX5_FRAME_MAX (TERN_MLX5_FRAME_HDR + TERN_MLX5_CONNECT_MSG_MAX)
/** Largest status an error reply carries (an errno value). */
#define TERN_MLX5_FRAME_STATUS_MAX 4095

/** A frame header in host form. */
struct tern_mlx5_frame_hdr {
	uint8_t type;	   /**< TERN_MLX5_CONNECT_REQUEST or _REPLY */
	uint16_t status;   /**< reply: 0, or the errno the target could not answer with */
	uint32_t body_len; /**< message bytes after the header */
};

/**
 * Write a frame of @p type: the header, then @p body_len bytes of @p body
 * (which may already sit at @p buf + TERN_MLX5_FRAME_HDR).
 * @return bytes written; -EINVAL (a header mlx5_frame_decode() would
 *         refuse); -ENOSPC (@p len too small).
 */
int mlx5_frame_encode(uint8_t type, uint16_t status, const void *body, size_t body_len, void *buf,
		      size_t len);

/**
 * Parse a frame header of @p type, strictly: exactly TERN_MLX5_FRAME_HDR
 * bytes, magic, version, type; a request has status 0 and a body of a
 * request's size (40 + 8 x 1..64 bytes); a reply has status 0 and a body of a
 * reply's size (40 + 12 x 1..64), or a status in 1..TERN_MLX5_FRAME_STATUS_MAX
 * and no body.
 * @param why if not NULL, set to the reason of a refusal
 * @return 0, -EINVAL (malformed), -EPROTO (another version).
 */
int mlx5_frame_decode(const void *buf, size_t len, uint8_t type, struct tern_mlx5_frame_hdr *h,
		      const char **why);

#endif /* MLX5_WIRE_H */
