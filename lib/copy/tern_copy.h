/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_COPY_H
#define TERN_COPY_H

/**
 * @file
 * Copy routines for the memcpy transport and for benchmark baselines.
 *
 * Two ways to copy: through the cache (glibc memcpy, best while the data
 * fits in the last-level cache and will be read again soon) and with
 * streaming (non-temporal) stores that bypass the cache (best for copies far
 * larger than the last-level cache: no read-for-ownership of the
 * destination, no eviction of useful lines). The streaming routine uses
 * AVX-512 or AVX2 when the CPU has them (checked once at start-up) and falls
 * back to memcpy otherwise.
 */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Which routine tern_copy_stream() uses on this CPU. */
enum tern_copy_isa {
	TERN_COPY_ISA_NONE = 0, /**< no streaming copy: memcpy */
	TERN_COPY_ISA_AVX2 = 1,
	TERN_COPY_ISA_AVX512 = 2,
};

/**
 * Copy @p n bytes with streaming stores (the destination is not left in the
 * cache). Any alignment, any length; the regions must not overlap. Ends with
 * a store fence, so the bytes are globally visible on return.
 */
void tern_copy_stream(void *dst, const void *src, size_t n);

/** @return the routine tern_copy_stream() uses here. */
enum tern_copy_isa tern_copy_stream_isa(void);

/** @return a short name for @p isa ("avx512", "avx2", "memcpy"). */
const char *tern_copy_isa_name(enum tern_copy_isa isa);

#ifdef __cplusplus
}
#endif

#endif /* TERN_COPY_H */
