/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_WIRE_H
#define TERN_WIRE_H

/**
 * @file
 * Fixed-width integers in wire byte order at any alignment: what every
 * binary codec of tern (tcp frames, shm and mlx5 descriptors and handshakes)
 * reads and writes. Header only, libc only, so that codecs built without
 * DPDK (for the fuzzers) can use it.
 */

#include <endian.h>
#include <stdint.h>
#include <string.h>

#define TERN_WIRE_ACCESSORS(order, bits)                                             \
	/** Store @p v at @p p, order-endian. */                                     \
	static inline void tern_wire_put_##order##bits(uint8_t *p, uint##bits##_t v) \
	{                                                                            \
		v = hto##order##bits(v);                                             \
		memcpy(p, &v, sizeof(v));                                            \
	}                                                                            \
	/** Load an order-endian value from @p p. */                                 \
	static inline uint##bits##_t tern_wire_get_##order##bits(const uint8_t *p)   \
	{                                                                            \
		uint##bits##_t v;                                                    \
		memcpy(&v, p, sizeof(v));                                            \
		return order##bits##toh(v);                                          \
	}

TERN_WIRE_ACCESSORS(le, 16)
TERN_WIRE_ACCESSORS(le, 32)
TERN_WIRE_ACCESSORS(le, 64)
TERN_WIRE_ACCESSORS(be, 16)
TERN_WIRE_ACCESSORS(be, 32)
TERN_WIRE_ACCESSORS(be, 64)

#undef TERN_WIRE_ACCESSORS

#endif /* TERN_WIRE_H */
