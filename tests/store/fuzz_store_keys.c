/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the messages of /tern/client_store_keys (a client's
 * answer, the dataplane's request) and a page's text (store_keys.c). A
 * decoded message encodes back to the same bytes; a page parses row by row
 * to its end or -EPROTO, each row formatting back to the line it came
 * from. Never a crash:
 *   build/tests/store/fuzz_store_keys -max_total_time=60 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t again[STORE_KEYS_MSG_MAX];
	struct store_keys_req q;
	struct store_keys_rep r;
	struct store_keys_row row;
	char line[STORE_KEYS_MSG_MAX * 2];
	size_t off = 0, start;
	int ret, n;

	if (store_keys_rep_decode(data, size, &r) == 0) {
		n = store_keys_rep_encode(&r, again, sizeof(again));
		if (n != (int)size || memcmp(again, data, size) != 0)
			abort();
	}
	if (store_keys_req_decode(data, size, &q) == 0) {
		n = store_keys_req_encode(&q, again, sizeof(again));
		if (n != (int)size || memcmp(again, data, size) != 0)
			abort();
	}
	do {
		start = off;
		ret = store_keys_row_parse((const char *)data, size, &off, &row);
		if (ret == 0) {
			n = store_keys_row_format(&row, line, sizeof(line));
			if (n <= 0 || (size_t)n != off - start ||
			    memcmp(line, data + start, (size_t)n) != 0)
				abort();
		}
	} while (ret == 0);
	if (ret != 1 && ret != -EPROTO)
		abort();
	return 0;
}
