/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MLX5_DESC3_H
#define MLX5_DESC3_H

/**
 * @file
 * Version 3 of the mlx5 segment descriptor (driver-private; doc/mlx5.md,
 * "Descriptor (version 3)"): one entry per port the exporter serves the
 * segment on, each with its GID, its handshake address and the segment's
 * remote key on that port's device (a memory key belongs to one protection
 * domain, so to one device). Version 2 (mlx5_wire.h) stays what a node with
 * one port exports; mlx5_desc_any_decode() reads either into this host form.
 * Like mlx5_wire.c, libc only: built without DPDK for the unit tests and the
 * fuzz target.
 */

#include <stddef.h>
#include <stdint.h>

#include "mlx5_wire.h"

/** Version of the per-port descriptor layout. */
#define TERN_MLX5_DESC3_VERSION 3
/** Most ports (rails) one descriptor names. */
#define TERN_MLX5_RAIL_MAX 4
/** Bytes of the fixed part of a version 3 descriptor. */
#define TERN_MLX5_DESC3_HDR 40
/** Bytes of one port entry. */
#define TERN_MLX5_DESC3_PORT 40
/** Bytes of a version 3 descriptor with @p n ports. */
#define TERN_MLX5_DESC3_LEN(n) ((size_t)TERN_MLX5_DESC3_HDR + (size_t)(n)*TERN_MLX5_DESC3_PORT)
/** Largest version 3 descriptor. */
#define TERN_MLX5_DESC3_MAX TERN_MLX5_DESC3_LEN(TERN_MLX5_RAIL_MAX)

/** One port of a version 3 descriptor: a rail to the segment. */
struct tern_mlx5_desc_port {
	uint8_t gid[16];     /**< the port's GID: unicast, distinct from the other entries' */
	uint8_t hs_addr[16]; /**< the handshake listener for this port (IPv6 or ::ffff:IPv4) */
	uint32_t rkey;	     /**< the segment's remote key on this port's device */
	uint16_t hs_port;    /**< the listener's TCP port, not 0 */
	uint16_t reserved;
};

/** A descriptor of either version in host form (version 2: one port). */
struct tern_mlx5_desc3 {
	uint16_t version; /**< 2 or 3: what was decoded, or what to encode */
	uint8_t nports;	  /**< entries of ports[], 1..TERN_MLX5_RAIL_MAX (version 2: 1) */
	uint8_t reserved;
	uint64_t addr;	 /**< the exporter's virtual address of the first byte */
	uint64_t length; /**< bytes, not 0; addr + length does not wrap */
	uint64_t epoch;	 /**< the exporter's incarnation as a target, not 0 */
	struct tern_mlx5_desc_port ports[TERN_MLX5_RAIL_MAX];
};

/**
 * Write @p d as a version 3 descriptor (whatever @p d->version says).
 * @return bytes written, TERN_MLX5_DESC3_LEN(nports); -EINVAL (NULL, or a
 *         descriptor mlx5_desc3_decode() would refuse); -ENOSPC (@p len too
 *         small).
 */
int mlx5_desc3_encode(const struct tern_mlx5_desc3 *d, void *buf, size_t len);

/**
 * Parse a version 3 descriptor, strictly: magic, version 3, reserved bytes
 * zero, 1..TERN_MLX5_RAIL_MAX ports and exactly the bytes they take, length
 * not 0 and not wrapping, epoch not 0; per port a unicast GID no other entry
 * has, a usable handshake address, a port not 0, reserved bytes zero.
 * @param why if not NULL, set to the reason of a refusal
 * @return 0, -EINVAL (malformed), -EPROTO (another version: a version 2
 *         descriptor is one, mlx5_desc_any_decode() reads it).
 */
int mlx5_desc3_decode(const void *buf, size_t len, struct tern_mlx5_desc3 *d, const char **why);

/**
 * Parse a descriptor of version 2 (one port) or 3, as the version field
 * says, strictly (mlx5_desc_decode(), mlx5_desc3_decode()).
 * @return 0, -EINVAL (malformed, or a version neither 2 nor 3).
 */
int mlx5_desc_any_decode(const void *buf, size_t len, struct tern_mlx5_desc3 *d, const char **why);

/**
 * The version 2 host form of port @p i of @p d: what the peer slots, the
 * handshake and the data path use for that rail (peer 0).
 * @return 0, -EINVAL (@p i out of range, NULL).
 */
int mlx5_desc3_port(const struct tern_mlx5_desc3 *d, unsigned int i, struct tern_mlx5_desc *out);

#endif /* MLX5_DESC3_H */
