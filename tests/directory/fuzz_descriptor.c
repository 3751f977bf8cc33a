/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the descriptor decoder (clang only; see
 * doc/directory.md). Whatever decodes must encode again, and the encoding
 * must decode to an equal descriptor.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <rte_log.h>

#include <tern_descriptor.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every rejection is logged; keep the fuzzer's output readable. */
	rte_log_set_level_pattern("tern.descriptor", RTE_LOG_ERR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[TERN_DESCRIPTOR_WIRE_MAX + 1];
	struct tern_descriptor d, again;
	int n;

	if (tern_descriptor_decode(&d, (const char *)data, size) != 0)
		return 0;
	n = tern_descriptor_encode(&d, buf, sizeof(buf));
	if (n <= 0 && n != -EMSGSIZE)
		abort();
	if (n > 0) {
		if (tern_descriptor_decode(&again, buf, (size_t)n) != 0 ||
		    !tern_descriptor_equal(&d, &again))
			abort();
		tern_descriptor_fini(&again);
	}
	tern_descriptor_fini(&d);
	return 0;
}
