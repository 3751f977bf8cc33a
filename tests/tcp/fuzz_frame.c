/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the tcp transport's frame and descriptor decoders.
 * The input is read as a stream of frames, as a target would: decode a
 * header, skip the payload it announces, go on. A header that decodes must
 * re-encode to the same bytes and satisfy every rule of doc/protocol.md; a
 * NOTIFY's sender field that passes the check is a terminated, non-empty name.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_frame(const uint8_t *buf, const struct tcp_frame_hdr *h)
{
	uint8_t again[TCP_FRAME_HDR_LEN];

	tcp_frame_encode(again, h);
	if (memcmp(again, buf, sizeof(again)) != 0)
		abort();
	if (h->op >= TCP_OP_HELLO && h->op <= TCP_OP_READY) {
		/* Handshake: fixed length, payload only where the op has one. */
		if (h->length != TCP_HS_LEN || h->offset == 0 || h->status > 0 ||
		    h->status < TCP_FRAME_STATUS_MIN ||
		    h->payload != (h->op == TCP_OP_READY ? 0 : TCP_HS_LEN) ||
		    (h->op != TCP_OP_READY && h->status != 0) ||
		    (h->segment & ~(h->op == TCP_OP_CHALLENGE ? TCP_HS_F_AUTH : 0u)) != 0)
			abort();
		return;
	}
	if (h->op == TCP_OP_NOTIFY || h->op == TCP_OP_NOTIFY_REPLY) {
		/* offset is the tag (any value); length the message, 0..256. */
		if (h->length > TCP_NOTIFY_MSG_MAX || h->status > 0 ||
		    h->status < TCP_FRAME_STATUS_MIN ||
		    (h->op == TCP_OP_NOTIFY &&
		     (h->status != 0 || h->payload != TCP_NOTIFY_SENDER_LEN + h->length)) ||
		    (h->op == TCP_OP_NOTIFY_REPLY && h->payload != 0))
			abort();
		return;
	}
	if (h->length == 0 || h->length > TCP_FRAME_MAX_LENGTH ||
	    h->offset > UINT64_MAX - h->length || h->op < TCP_OP_READ ||
	    h->op > TCP_OP_WRITE_REPLY || h->status > 0 || h->status < TCP_FRAME_STATUS_MIN ||
	    h->payload > h->length)
		abort();
	if ((h->op == TCP_OP_READ || h->op == TCP_OP_WRITE_REPLY) && h->payload != 0)
		abort();
	if (h->op == TCP_OP_WRITE && h->payload != h->length)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcp_frame_hdr h;
	struct tcp_desc d;
	size_t pos = 0;

	if (tcp_desc_decode(data, size, &d) == 0) {
		uint8_t again[TCP_DESC_MAX_LEN];

		tcp_desc_encode(again, &d);
		if (tcp_desc_len(&d) != size || tcp_desc_len_of(data) != size ||
		    memcmp(again, data, size) != 0 || d.port == 0 || d.segment == 0 ||
		    d.length == 0)
			abort();
	}
	while (size - pos >= TCP_FRAME_HDR_LEN) {
		if (tcp_frame_decode(data + pos, &h) != 0)
			break; /* the connection would close here */
		check_frame(data + pos, &h);
		pos += TCP_FRAME_HDR_LEN;
		if (h.payload > size - pos)
			break; /* truncated: the target would wait for more */
		if (h.op == TCP_OP_NOTIFY) {
			/* The sender field a target checks before delivering. */
			if (tcp_notify_sender_check(data + pos) == 0 &&
			    (data[pos] == 0 ||
			     memchr(data + pos, 0, TCP_NOTIFY_SENDER_LEN) == NULL))
				abort();
		}
		pos += h.payload;
	}
	return 0;
}
