/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the store's record text (store_ext.c). Whatever the
 * metadata store returns, the parser answers 0 or -EPROTO, and what it
 * accepts encodes back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_ext_rec r;
	char text[STORE_EXT_TEXT_MAX];
	int n;

	if (store_ext_decode((const char *)data, size, &r) != 0)
		return 0;
	n = store_ext_encode(&r, text, sizeof(text));
	if (n < 0 || (size_t)n != size || memcmp(text, data, size) != 0)
		abort();
	return 0;
}
