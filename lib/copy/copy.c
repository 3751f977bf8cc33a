/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include <rte_common.h>
#include <rte_cpuflags.h>

#include "tern_copy.h"

typedef void (*copy_fn)(void *dst, const void *src, size_t n);

/* Copies the unaligned head with memcpy so the streaming stores are aligned to
 * @align; returns the number of head bytes. */
static inline size_t
head_bytes(const void *dst, size_t n, size_t align)
{
	size_t mis = (uintptr_t)dst & (align - 1);
	size_t head = mis == 0 ? 0 : align - mis;

	return RTE_MIN(head, n);
}

__attribute__((target("avx512f"))) static void
copy_stream_avx512(void *dst, const void *src, size_t n)
{
	size_t head = head_bytes(dst, n, 64);
	uint8_t *d = dst;
	const uint8_t *s = src;

	memcpy(d, s, head);
	d += head;
	s += head;
	n -= head;
	for (; n >= 256; n -= 256, d += 256, s += 256) {
		__m512i a = _mm512_loadu_si512((const void *)s);
		__m512i b = _mm512_loadu_si512((const void *)(s + 64));
		__m512i c = _mm512_loadu_si512((const void *)(s + 128));
		__m512i e = _mm512_loadu_si512((const void *)(s + 192));

		_mm512_stream_si512((void *)d, a);
		_mm512_stream_si512((void *)(d + 64), b);
		_mm512_stream_si512((void *)(d + 128), c);
		_mm512_stream_si512((void *)(d + 192), e);
	}
	for (; n >= 64; n -= 64, d += 64, s += 64)
		_mm512_stream_si512((void *)d, _mm512_loadu_si512((const void *)s));
	memcpy(d, s, n);
	_mm_sfence();
}

__attribute__((target("avx2"))) static void
copy_stream_avx2(void *dst, const void *src, size_t n)
{
	size_t head = head_bytes(dst, n, 32);
	uint8_t *d = dst;
	const uint8_t *s = src;

	memcpy(d, s, head);
	d += head;
	s += head;
	n -= head;
	for (; n >= 128; n -= 128, d += 128, s += 128) {
		__m256i a = _mm256_loadu_si256((const __m256i *)s);
		__m256i b = _mm256_loadu_si256((const __m256i *)(s + 32));
		__m256i c = _mm256_loadu_si256((const __m256i *)(s + 64));
		__m256i e = _mm256_loadu_si256((const __m256i *)(s + 96));

		_mm256_stream_si256((__m256i *)d, a);
		_mm256_stream_si256((__m256i *)(d + 32), b);
		_mm256_stream_si256((__m256i *)(d + 64), c);
		_mm256_stream_si256((__m256i *)(d + 96), e);
	}
	for (; n >= 32; n -= 32, d += 32, s += 32)
		_mm256_stream_si256((__m256i *)d, _mm256_loadu_si256((const __m256i *)s));
	memcpy(d, s, n);
	_mm_sfence();
}

static void
copy_plain(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

static copy_fn stream_fn = copy_plain;
static enum tern_copy_isa stream_isa = TERN_COPY_ISA_NONE;

RTE_INIT(tern_copy_select)
{
	if (rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512F) > 0) {
		stream_fn = copy_stream_avx512;
		stream_isa = TERN_COPY_ISA_AVX512;
	} else if (rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX2) > 0) {
		stream_fn = copy_stream_avx2;
		stream_isa = TERN_COPY_ISA_AVX2;
	}
}

void
tern_copy_stream(void *dst, const void *src, size_t n)
{
	stream_fn(dst, src, n);
}

enum tern_copy_isa
tern_copy_stream_isa(void)
{
	return stream_isa;
}

const char *
tern_copy_isa_name(enum tern_copy_isa isa)
{
	switch (isa) {
	case TERN_COPY_ISA_AVX512:
		return "avx512";
	case TERN_COPY_ISA_AVX2:
		return "avx2";
	default:
		return "memcpy";
	}
}
