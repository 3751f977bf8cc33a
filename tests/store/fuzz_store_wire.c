/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the owners' channel (store_wire.c). Whatever a client
 * sends, the owner's parser answers 0 or -EPROTO, and what it accepts
 * encodes back to the same bytes; the same for replies. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[STORE_WIRE_REQ_LEN > STORE_WIRE_REP_LEN ? STORE_WIRE_REQ_LEN
							    : STORE_WIRE_REP_LEN];
	struct store_wire_req q;
	struct store_wire_rep r;

	if (store_wire_req_decode(data, size, &q) == 0) {
		store_wire_req_encode(&q, out);
		if (memcmp(out, data, size) != 0)
			abort();
		/* What the owner relies on once accepted: an arena has a length,
		 * a lease and a pid; its end names a pid and an aligned offset. */
		if (q.op == STORE_WIRE_ARENA &&
		    (q.length == 0 || q.lease_ms == 0 || q.pid == 0 || q.offset != 0))
			abort();
		if (q.op == STORE_WIRE_ARENA_END &&
		    (q.length == 0 || q.pid == 0 || q.lease_ms != 0 ||
		     q.offset % STORE_ALLOC_ALIGN != 0))
			abort();
	}
	if (store_wire_rep_decode(data, size, &r) == 0) {
		store_wire_rep_encode(&r, out);
		if (memcmp(out, data, size) != 0)
			abort();
	}
	{
		uint8_t big[STORE_WIRE_MSG_MAX];
		struct store_wire_reqn qn;
		struct store_wire_repn rn;
		size_t n;

		if (store_wire_reqn_decode(data, size, &qn) == 0) {
			n = store_wire_reqn_encode(&qn, big);
			if (n != size || memcmp(big, data, size) != 0)
				abort();
		}
		if (store_wire_repn_decode(data, size, &rn) == 0) {
			n = store_wire_repn_encode(&rn, big);
			if (n != size || memcmp(big, data, size) != 0)
				abort();
		}
	}
	return 0;
}
