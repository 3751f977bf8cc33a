/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_SHM_WIRE_H
#define TERN_SHM_WIRE_H

/**
 * @file
 * The shm transport's byte formats (doc/shm.md): the export blob a peer
 * finds in the directory, and the request and reply exchanged on the Unix
 * socket. All little-endian, fixed layouts, every reserved byte zero.
 * Encoding and decoding are pure functions (no socket, no DPDK) so that a
 * fuzzer can drive the decoders directly; so is the token (SipHash-2-4).
 */

#include <stddef.h>
#include <stdint.h>

/** "TSHM": first four bytes of an export blob. */
#define SHM_BLOB_MAGIC 0x4d485354u
/** "TSHQ": first four bytes of a request. */
#define SHM_REQ_MAGIC 0x51485354u
/** "TSHR": first four bytes of a reply. */
#define SHM_REP_MAGIC 0x52485354u
/** Version of all three formats. */
#define SHM_WIRE_VERSION 1

/** Bytes of a boot_id (the host's identity). */
#define SHM_BOOT_ID_LEN 16
/** Longest socket path, its NUL included (sizeof(sockaddr_un.sun_path)). */
#define SHM_PATH_MAX 108
/** Bytes of a blob before the socket path. */
#define SHM_BLOB_HDR_LEN 48
/** Longest blob. */
#define SHM_BLOB_MAX (SHM_BLOB_HDR_LEN + SHM_PATH_MAX)
/** Bytes of a request. */
#define SHM_REQ_LEN 32
/** Bytes of a reply. */
#define SHM_REP_LEN 24
/** Reply statuses are 0 or a negative errno down to this. */
#define SHM_STATUS_MIN (-4095)
/** "TSHN": first four bytes of a notification (doc/notify.md). */
#define SHM_NTF_MAGIC 0x4e485354u
/** "TSHA": first four bytes of a notification's answer. */
#define SHM_NTF_REP_MAGIC 0x41485354u
/** Bytes of the sender name field (NUL-padded, as TERN_NOTIFY_NODE_MAX). */
#define SHM_NTF_SENDER_LEN 64
/** Longest message (TERN_NOTIFY_MSG_MAX). */
#define SHM_NTF_MSG_MAX 256
/** Bytes of a notification before its message. */
#define SHM_NTF_HDR_LEN (24 + SHM_NTF_SENDER_LEN)
/** Longest notification. */
#define SHM_NTF_MAX (SHM_NTF_HDR_LEN + SHM_NTF_MSG_MAX)
/** Bytes of a notification's answer. */
#define SHM_NTF_REP_LEN 24
/** Bytes of the token key. */
#define SHM_KEY_LEN 16

/** A decoded export blob. */
struct shm_blob {
	uint8_t boot_id[SHM_BOOT_ID_LEN]; /**< the exporting host */
	uint32_t handle;		  /**< the segment's handle on the exporting engine, > 0 */
	uint64_t length;		  /**< the segment's length, > 0 */
	uint64_t token;			  /**< shm_token() of (handle, length) */
	char path[SHM_PATH_MAX];	  /**< absolute socket path, NUL-terminated */
};

/** A decoded request: "send me the file of this segment". */
struct shm_req {
	uint32_t handle; /**< > 0 */
	uint64_t length; /**< > 0 */
	uint64_t token;
};

/** A decoded reply (the file descriptor travels beside it, SCM_RIGHTS). */
struct shm_rep {
	int32_t status;	 /**< 0 (one fd attached) or a negative errno (none attached) */
	uint64_t length; /**< status 0: the segment's length; else 0 */
};

/**
 * Write @p b as a blob.
 * @return bytes written (SHM_BLOB_HDR_LEN + strlen(path) + 1), -ENOSPC
 *         (@p len too small), -EINVAL (path not absolute or too long,
 *         handle or length 0).
 */
int shm_blob_encode(uint8_t *buf, size_t len, const struct shm_blob *b);

/**
 * Decode and check a blob: exact size (header + the path length it
 * announces), magic, version, reserved bytes, a NUL-terminated absolute path
 * without any other NUL, nonzero handle and length.
 * @return 0 or -EINVAL.
 */
int shm_blob_decode(const uint8_t *buf, size_t len, struct shm_blob *b);

/** Write @p r as a request (SHM_REQ_LEN bytes). */
void shm_req_encode(uint8_t *buf, const struct shm_req *r);

/**
 * Decode and check a request of @p len bytes.
 * @return 0; -EMSGSIZE (not SHM_REQ_LEN bytes), -EPROTO (bad magic),
 *         -EPROTONOSUPPORT (unknown version), -EBADMSG (reserved bytes,
 *         handle or length 0).
 */
int shm_req_decode(const uint8_t *buf, size_t len, struct shm_req *r);

/** Write @p r as a reply (SHM_REP_LEN bytes). */
void shm_rep_encode(uint8_t *buf, const struct shm_rep *r);

/**
 * Decode and check a reply of @p len bytes.
 * @return 0 or -EPROTO (size, magic, version, reserved bytes, a status out
 *         of range, a length with an error status or a zero length with 0).
 */
int shm_rep_decode(const uint8_t *buf, size_t len, struct shm_rep *r);

/** A decoded notification: deliver it to this node's queue. */
struct shm_ntf {
	uint64_t cookie; /**< echoed in the answer */
	uint64_t tag;
	uint32_t msg_len;      /**< 0..SHM_NTF_MSG_MAX */
	const uint8_t *sender; /**< SHM_NTF_SENDER_LEN bytes, NUL-terminated, checked */
	const uint8_t *msg;    /**< @c msg_len bytes (in the decoded buffer) */
};

/** A notification's answer. */
struct shm_ntf_rep {
	uint64_t cookie;
	int32_t status; /**< 0, or a negative errno >= SHM_STATUS_MIN */
};

/**
 * Write a notification: @p sender_wire is SHM_NTF_SENDER_LEN bytes of the
 * sender's name, NUL-padded, followed by @p msg_len bytes of message.
 * @return bytes written (SHM_NTF_HDR_LEN + msg_len), -ENOSPC (@p len too
 *         small), -EINVAL (msg_len over SHM_NTF_MSG_MAX).
 */
int shm_ntf_encode(uint8_t *buf, size_t len, uint64_t cookie, uint64_t tag,
		   const uint8_t *sender_wire, uint32_t msg_len);

/**
 * Decode and check a notification of @p len bytes; @p n points into @p buf.
 * @return 0; -EMSGSIZE (shorter than its header, longer than SHM_NTF_MAX,
 *         or not the size its length field announces), -EPROTO (bad magic),
 *         -EPROTONOSUPPORT (unknown version), -EBADMSG (reserved bytes, a
 *         message length over SHM_NTF_MSG_MAX), -EINVAL (a sender name that is
 *         empty, not NUL-terminated, not NUL-padded or has a character
 *         outside [A-Za-z0-9_.:-]).
 */
int shm_ntf_decode(const uint8_t *buf, size_t len, struct shm_ntf *n);

/** Write a notification's answer (SHM_NTF_REP_LEN bytes). */
void shm_ntf_rep_encode(uint8_t *buf, const struct shm_ntf_rep *r);

/**
 * Decode and check a notification's answer of @p len bytes.
 * @return 0 or -EPROTO (size, magic, version, reserved bytes, a status
 *         out of range).
 */
int shm_ntf_rep_decode(const uint8_t *buf, size_t len, struct shm_ntf_rep *r);

/** Human-readable name of a shm_req_decode() error, for log lines. */
const char *shm_req_strerror(int err);

/**
 * The token of (@p handle, @p length) under @p key: SipHash-2-4 of the 12
 * bytes handle (LE32) || length (LE64).
 */
uint64_t shm_token(const uint8_t key[SHM_KEY_LEN], uint32_t handle, uint64_t length);

/** Compare two tokens in constant time. @return 1 if equal. */
int shm_token_equal(uint64_t a, uint64_t b);

/**
 * Parse a boot_id as the kernel prints it (36 characters, 8-4-4-4-12 hex
 * digits, optionally followed by one newline) into 16 bytes.
 * @return 0 or -EINVAL.
 */
int shm_boot_id_parse(const char *text, size_t len, uint8_t id[SHM_BOOT_ID_LEN]);

#endif /* TERN_SHM_WIRE_H */
