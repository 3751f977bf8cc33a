/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TCP_FRAME_H
#define TERN_TCP_FRAME_H

/**
 * @file
 * The tcp transport's wire format (doc/protocol.md): a fixed 40-byte header
 * in network byte order, followed by the payload it announces. Encoding and
 * decoding are pure functions (no socket, no DPDK) so that a fuzzer can
 * drive the decoder directly.
 */

#include <stdint.h>

/** "TRNT": first four bytes of every frame. */
#define TCP_FRAME_MAGIC 0x54524e54u
/** Version of the frame format this code speaks (2: connections open with a handshake). */
#define TCP_FRAME_VERSION 2
/** Bytes of a frame header. */
#define TCP_FRAME_HDR_LEN 40
/** Largest length a frame may announce (the engine's largest slice). */
#define TCP_FRAME_MAX_LENGTH (1u << 30)
/** Bytes of a handshake frame's nonce or proof (its length and payload). */
#define TCP_HS_LEN 16
/** CHALLENGE flag (in the segment field): the target wants a proof of the secret. */
#define TCP_HS_F_AUTH 1u
/**
 * Handshake epoch bit (in the tag): the initiator keeps one epoch for all
 * the addresses (rails) of the peer, so the target orders its connections
 * by instance alone, whatever address they reached (doc/protocol.md,
 * "Epochs"). Without it the target orders them per address it was reached at.
 */
#define TCP_EPOCH_PEER_WIDE 0x80000000u
/** Statuses are negative errno values above this. */
#define TCP_FRAME_STATUS_MIN (-4095)

/** "TRND": first four bytes of a segment descriptor. */
#define TCP_DESC_MAGIC 0x54524e44u
/** Version of the descriptor format with one address. */
#define TCP_DESC_VERSION 1
/** Version of the descriptor format with several addresses (rails). */
#define TCP_DESC_VERSION_RAILS 2
/** Bytes of a one-address descriptor (version 1), the first bytes of every one. */
#define TCP_DESC_LEN 40
/** Addresses (rails) a descriptor may carry: the first and up to three more. */
#define TCP_RAILS_MAX 4
/** Bytes of each further address of a version 2 descriptor. */
#define TCP_DESC_RAIL_LEN 20
/** Bytes of the longest descriptor. */
#define TCP_DESC_MAX_LEN (TCP_DESC_LEN + (TCP_RAILS_MAX - 1) * TCP_DESC_RAIL_LEN)

/** Frame operations. */
enum tcp_frame_op {
	TCP_OP_READ = 1,	  /**< request: send me [offset, offset + length) */
	TCP_OP_WRITE = 2,	  /**< request: store the payload at offset */
	TCP_OP_READ_REPLY = 3,	  /**< reply to READ: status, then the data if status is 0 */
	TCP_OP_WRITE_REPLY = 4,	  /**< reply to WRITE: status */
	TCP_OP_HELLO = 5,	  /**< initiator's first frame: instance, epoch, nonce */
	TCP_OP_CHALLENGE = 6,	  /**< target's answer to HELLO: flags, nonce */
	TCP_OP_AUTH = 7,	  /**< initiator: proof of the secret (zeros without one) */
	TCP_OP_READY = 8,	  /**< target: status; 0 opens the connection for requests */
	TCP_OP_NOTIFY = 9,	  /**< request: deliver a notification (doc/notify.md) */
	TCP_OP_NOTIFY_REPLY = 10, /**< reply to NOTIFY: status (0, -ENOBUFS, -ENOTSUP, -EINVAL) */
};

/** NOTIFY: bytes of the sender's name at the start of the payload (NUL-padded). */
#define TCP_NOTIFY_SENDER_LEN 64
/** NOTIFY: largest message (the frame's length field). */
#define TCP_NOTIFY_MSG_MAX 256

/** A decoded frame header (host byte order). */
struct tcp_frame_hdr {
	uint8_t op;	  /**< enum tcp_frame_op */
	uint32_t tag;	  /**< chosen by the initiator, echoed in the reply */
	uint32_t segment; /**< target segment handle on the serving node */
	uint64_t offset;  /**< byte offset in the target segment */
	uint32_t length;  /**< bytes the request moves, 1..TCP_FRAME_MAX_LENGTH */
	uint32_t payload; /**< bytes that follow this header */
	int32_t status;	  /**< replies: 0 or a negative errno; requests: 0 */
};

/** One address of a descriptor. */
struct tcp_desc_addr {
	uint8_t family;	  /**< 4 or 6 */
	uint16_t port;	  /**< host byte order, > 0 */
	uint8_t addr[16]; /**< network order; IPv4 in the first 4 bytes */
};

/** A decoded segment descriptor (host byte order, except the addresses). */
struct tcp_desc {
	uint8_t family;	  /**< 4 or 6 */
	uint16_t port;	  /**< host byte order, > 0 */
	uint8_t addr[16]; /**< network order; IPv4 in the first 4 bytes */
	uint32_t segment; /**< the segment's handle on the serving node */
	uint64_t length;  /**< its length */
	uint8_t nb_extra; /**< further addresses (rails), 0..TCP_RAILS_MAX - 1 */
	struct tcp_desc_addr extra[TCP_RAILS_MAX - 1]; /**< each distinct from the others */
};

/** Write @p h as a frame header into @p buf. */
void tcp_frame_encode(uint8_t *buf, const struct tcp_frame_hdr *h);

/**
 * Decode and check a frame header: every field on its own and the lengths
 * against each other (see doc/protocol.md, "Validation").
 *
 * @param buf TCP_FRAME_HDR_LEN bytes
 * @return 0; -EPROTO (bad magic), -EPROTONOSUPPORT (unknown version),
 *         -EBADMSG (unknown op, non-zero flags or reserved bits, bad length,
 *         payload inconsistent with op, length and status, offset overflow,
 *         a handshake frame with fields its op does not use set).
 */
int tcp_frame_decode(const uint8_t *buf, struct tcp_frame_hdr *h);

/**
 * Check a NOTIFY payload's sender field: TCP_NOTIFY_SENDER_LEN bytes holding
 * a name of 1..63 characters of [A-Za-z0-9_.:-], then NULs only.
 * @return 0, or -EINVAL.
 */
int tcp_notify_sender_check(const uint8_t *sender);

/** Human-readable name of a tcp_frame_decode() error, for log lines. */
const char *tcp_frame_strerror(int err);

/** Bytes of @p d encoded: TCP_DESC_LEN, plus TCP_DESC_RAIL_LEN per further address. */
size_t tcp_desc_len(const struct tcp_desc *d);

/**
 * Bytes of the descriptor that starts at @p buf, read from its version and
 * count (for one already checked by tcp_desc_decode()).
 */
size_t tcp_desc_len_of(const uint8_t *buf);

/**
 * Write @p d as a descriptor into @p buf (tcp_desc_len() bytes): version 1
 * with one address, version 2 with more (doc/protocol.md, "Descriptor").
 */
void tcp_desc_encode(uint8_t *buf, const struct tcp_desc *d);

/**
 * Decode and check a descriptor.
 * @return 0, or -EINVAL (length, magic, version, family, port, address
 *         padding, reserved bytes, handle 0 or length 0; version 2: a count
 *         of further addresses outside 1..TCP_RAILS_MAX - 1, a length that
 *         does not match it, a bad further address or one given twice).
 */
int tcp_desc_decode(const uint8_t *buf, size_t len, struct tcp_desc *d);

#endif /* TERN_TCP_FRAME_H */
