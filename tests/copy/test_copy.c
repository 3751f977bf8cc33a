/* SPDX-License-Identifier: BSD-3-Clause */
/* The streaming copy equals memcpy for every length and alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_common.h>

#include <tern_copy.h>

static void
check(size_t len, size_t src_off, size_t dst_off)
{
	size_t total = len + 256;
	uint8_t *src = malloc(total), *dst = malloc(total), *ref = malloc(total);
	size_t i;

	for (i = 0; i < total; i++) {
		src[i] = (uint8_t)(i * 31 + len);
		dst[i] = ref[i] = (uint8_t)(0xa5 ^ i);
	}
	memcpy(ref + dst_off, src + src_off, len);
	tern_copy_stream(dst + dst_off, src + src_off, len);
	assert_memory_equal(dst, ref, total); /* and nothing outside the range */
	free(src);
	free(dst);
	free(ref);
}

static void
every_small_length_and_alignment(void **state)
{
	size_t len, so, d;

	RTE_SET_USED(state);
	for (len = 0; len <= 300; len++)
		for (so = 0; so < 64; so += 7)
			for (d = 0; d < 64; d += 5)
				check(len, so, d);
}

static void
large_copies(void **state)
{
	size_t lens[] = { 4096, 65536 + 13, 1 << 20, (8 << 20) + 99 };
	size_t i;

	RTE_SET_USED(state);
	for (i = 0; i < RTE_DIM(lens); i++) {
		check(lens[i], 0, 0);
		check(lens[i], 3, 61);
	}
}

static void
isa_is_named(void **state)
{
	RTE_SET_USED(state);
	assert_non_null(tern_copy_isa_name(tern_copy_stream_isa()));
	assert_string_equal(tern_copy_isa_name(TERN_COPY_ISA_NONE), "memcpy");
	print_message("streaming copy: %s\n", tern_copy_isa_name(tern_copy_stream_isa()));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_small_length_and_alignment),
		cmocka_unit_test(large_copies),
		cmocka_unit_test(isa_is_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
