/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Blob, request and reply codec of the shm transport, and its token. Plain
 * C and libc only: the fuzzer links this file alone.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tern_wire.h>

#include "shm_wire.h"

static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	while (n-- > 0)
		acc |= *p++;
	return acc == 0;
}

/* Blob: magic 0, version 4, path_len 5, reserved 6..7, boot_id 8..23,
 * handle 24, reserved 28, length 32, token 40, path 48.. */
int
shm_blob_encode(uint8_t *buf, size_t len, const struct shm_blob *b)
{
	size_t path_len = strnlen(b->path, SHM_PATH_MAX);

	if (path_len < 2 || path_len >= SHM_PATH_MAX || b->path[0] != '/' || b->handle == 0 ||
	    b->length == 0)
		return -EINVAL;
	path_len++; /* the NUL */
	if (len < SHM_BLOB_HDR_LEN + path_len)
		return -ENOSPC;
	memset(buf, 0, SHM_BLOB_HDR_LEN);
	tern_wire_put_le32(buf + 0, SHM_BLOB_MAGIC);
	buf[4] = SHM_WIRE_VERSION;
	buf[5] = (uint8_t)path_len;
	memcpy(buf + 8, b->boot_id, SHM_BOOT_ID_LEN);
	tern_wire_put_le32(buf + 24, b->handle);
	tern_wire_put_le64(buf + 32, b->length);
	tern_wire_put_le64(buf + 40, b->token);
	memcpy(buf + SHM_BLOB_HDR_LEN, b->path, path_len);
	return (int)(SHM_BLOB_HDR_LEN + path_len);
}

int
shm_blob_decode(const uint8_t *buf, size_t len, struct shm_blob *b)
{
	size_t path_len;

	if (len < SHM_BLOB_HDR_LEN + 3 || len > SHM_BLOB_MAX)
		return -EINVAL;
	path_len = buf[5];
	if (tern_wire_get_le32(buf + 0) != SHM_BLOB_MAGIC || buf[4] != SHM_WIRE_VERSION ||
	    len != SHM_BLOB_HDR_LEN + path_len || !all_zero(buf + 6, 2) || !all_zero(buf + 28, 4))
		return -EINVAL;
	/* "/x\0" at least: the size rule above; one NUL, the last byte. */
	if (buf[SHM_BLOB_HDR_LEN] != '/' || buf[len - 1] != '\0' ||
	    memchr(buf + SHM_BLOB_HDR_LEN, '\0', path_len) != buf + len - 1)
		return -EINVAL;
	memcpy(b->boot_id, buf + 8, SHM_BOOT_ID_LEN);
	b->handle = tern_wire_get_le32(buf + 24);
	b->length = tern_wire_get_le64(buf + 32);
	b->token = tern_wire_get_le64(buf + 40);
	if (b->handle == 0 || b->length == 0)
		return -EINVAL;
	memcpy(b->path, buf + SHM_BLOB_HDR_LEN, path_len);
	return 0;
}

/* Request: magic 0, version 4, reserved 5..7, handle 8, reserved 12,
 * length 16, token 24. */
void
shm_req_encode(uint8_t *buf, const struct shm_req *r)
{
	memset(buf, 0, SHM_REQ_LEN);
	tern_wire_put_le32(buf + 0, SHM_REQ_MAGIC);
	buf[4] = SHM_WIRE_VERSION;
	tern_wire_put_le32(buf + 8, r->handle);
	tern_wire_put_le64(buf + 16, r->length);
	tern_wire_put_le64(buf + 24, r->token);
}

int
shm_req_decode(const uint8_t *buf, size_t len, struct shm_req *r)
{
	if (len != SHM_REQ_LEN)
		return -EMSGSIZE;
	if (tern_wire_get_le32(buf + 0) != SHM_REQ_MAGIC)
		return -EPROTO;
	if (buf[4] != SHM_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	r->handle = tern_wire_get_le32(buf + 8);
	r->length = tern_wire_get_le64(buf + 16);
	r->token = tern_wire_get_le64(buf + 24);
	if (!all_zero(buf + 5, 3) || !all_zero(buf + 12, 4) || r->handle == 0 || r->length == 0)
		return -EBADMSG;
	return 0;
}

/* Reply: magic 0, version 4, reserved 5..7, status 8, reserved 12, length 16. */
void
shm_rep_encode(uint8_t *buf, const struct shm_rep *r)
{
	memset(buf, 0, SHM_REP_LEN);
	tern_wire_put_le32(buf + 0, SHM_REP_MAGIC);
	buf[4] = SHM_WIRE_VERSION;
	tern_wire_put_le32(buf + 8, (uint32_t)r->status);
	tern_wire_put_le64(buf + 16, r->length);
}

int
shm_rep_decode(const uint8_t *buf, size_t len, struct shm_rep *r)
{
	if (len != SHM_REP_LEN || tern_wire_get_le32(buf + 0) != SHM_REP_MAGIC ||
	    buf[4] != SHM_WIRE_VERSION || !all_zero(buf + 5, 3) || !all_zero(buf + 12, 4))
		return -EPROTO;
	r->status = (int32_t)tern_wire_get_le32(buf + 8);
	r->length = tern_wire_get_le64(buf + 16);
	if (r->status > 0 || r->status < SHM_STATUS_MIN || (r->status == 0) != (r->length != 0))
		return -EPROTO;
	return 0;
}

/* Notification: magic 0, version 4, reserved 5, msg_len 6 (LE16), cookie 8,
 * tag 16, sender 24..87 (NUL-padded), message 88.. */
int
shm_ntf_encode(uint8_t *buf, size_t len, uint64_t cookie, uint64_t tag, const uint8_t *sender_wire,
	       uint32_t msg_len)
{
	if (msg_len > SHM_NTF_MSG_MAX)
		return -EINVAL;
	if (len < SHM_NTF_HDR_LEN + msg_len)
		return -ENOSPC;
	memset(buf, 0, 8);
	tern_wire_put_le32(buf + 0, SHM_NTF_MAGIC);
	buf[4] = SHM_WIRE_VERSION;
	buf[6] = (uint8_t)(msg_len & 0xff);
	buf[7] = (uint8_t)(msg_len >> 8);
	tern_wire_put_le64(buf + 8, cookie);
	tern_wire_put_le64(buf + 16, tag);
	memcpy(buf + 24, sender_wire, SHM_NTF_SENDER_LEN + msg_len);
	return (int)(SHM_NTF_HDR_LEN + msg_len);
}

static int
sender_check(const uint8_t *s)
{
	size_t i, len = 0;

	while (len < SHM_NTF_SENDER_LEN && s[len] != 0)
		len++;
	if (len == 0 || len == SHM_NTF_SENDER_LEN || !all_zero(s + len, SHM_NTF_SENDER_LEN - len))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		uint8_t ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' || ch == '-'))
			return -EINVAL;
	}
	return 0;
}

int
shm_ntf_decode(const uint8_t *buf, size_t len, struct shm_ntf *n)
{
	uint32_t msg_len;

	if (len < SHM_NTF_HDR_LEN || len > SHM_NTF_MAX)
		return -EMSGSIZE;
	if (tern_wire_get_le32(buf + 0) != SHM_NTF_MAGIC)
		return -EPROTO;
	if (buf[4] != SHM_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	msg_len = (uint32_t)buf[6] | (uint32_t)buf[7] << 8;
	if (buf[5] != 0 || msg_len > SHM_NTF_MSG_MAX)
		return -EBADMSG;
	if (len != SHM_NTF_HDR_LEN + msg_len)
		return -EMSGSIZE; /* the length field lies */
	if (sender_check(buf + 24) != 0)
		return -EINVAL;
	n->cookie = tern_wire_get_le64(buf + 8);
	n->tag = tern_wire_get_le64(buf + 16);
	n->msg_len = msg_len;
	n->sender = buf + 24;
	n->msg = buf + SHM_NTF_HDR_LEN;
	return 0;
}

/* Answer: magic 0, version 4, reserved 5..7, status 8, reserved 12, cookie 16. */
void
shm_ntf_rep_encode(uint8_t *buf, const struct shm_ntf_rep *r)
{
	memset(buf, 0, SHM_NTF_REP_LEN);
	tern_wire_put_le32(buf + 0, SHM_NTF_REP_MAGIC);
	buf[4] = SHM_WIRE_VERSION;
	tern_wire_put_le32(buf + 8, (uint32_t)r->status);
	tern_wire_put_le64(buf + 16, r->cookie);
}

int
shm_ntf_rep_decode(const uint8_t *buf, size_t len, struct shm_ntf_rep *r)
{
	if (len != SHM_NTF_REP_LEN || tern_wire_get_le32(buf + 0) != SHM_NTF_REP_MAGIC ||
	    buf[4] != SHM_WIRE_VERSION || !all_zero(buf + 5, 3) || !all_zero(buf + 12, 4))
		return -EPROTO;
	r->status = (int32_t)tern_wire_get_le32(buf + 8);
	r->cookie = tern_wire_get_le64(buf + 16);
	if (r->status > 0 || r->status < SHM_STATUS_MIN)
		return -EPROTO;
	return 0;
}

const char *
shm_req_strerror(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return "wrong size";
	case -EPROTO:
		return "bad magic";
	case -EPROTONOSUPPORT:
		return "unsupported version";
	case -EBADMSG:
		return "malformed request";
	case -EINVAL:
		return "malformed sender name";
	default:
		return "protocol error";
	}
}

/* SipHash-2-4 (Aumasson and Bernstein), for inputs shorter than 16 bytes. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                   \
	do {                       \
		v0 += v1;          \
		v1 = ROTL(v1, 13); \
		v1 ^= v0;          \
		v0 = ROTL(v0, 32); \
		v2 += v3;          \
		v3 = ROTL(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = ROTL(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = ROTL(v1, 17); \
		v1 ^= v2;          \
		v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t
siphash24(const uint8_t key[16], const uint8_t *in, size_t len)
{
	uint64_t k0 = tern_wire_get_le64(key), k1 = tern_wire_get_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, full = len & ~(size_t)7;
	int r;

	for (i = 0; i < full; i += 8) {
		m = tern_wire_get_le64(in + i);
		v3 ^= m;
		for (r = 0; r < 2; r++)
			SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < (len & 7); i++)
		b |= (uint64_t)in[full + i] << (8 * i);
	v3 ^= b;
	for (r = 0; r < 2; r++)
		SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	for (r = 0; r < 4; r++)
		SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
shm_token(const uint8_t key[SHM_KEY_LEN], uint32_t handle, uint64_t length)
{
	uint8_t msg[12];

	tern_wire_put_le32(msg, handle);
	tern_wire_put_le64(msg + 4, length);
	return siphash24(key, msg, sizeof(msg));
}

int
shm_token_equal(uint64_t a, uint64_t b)
{
	volatile uint64_t d = a ^ b;

	return d == 0;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
shm_boot_id_parse(const char *text, size_t len, uint8_t id[SHM_BOOT_ID_LEN])
{
	size_t i, n = 0;
	int hi, lo;

	if (len == 37 && text[36] == '\n')
		len = 36;
	if (len != 36)
		return -EINVAL;
	for (i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i++] != '-')
				return -EINVAL;
			continue;
		}
		hi = hex_digit(text[i]);
		lo = hex_digit(text[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		id[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}
