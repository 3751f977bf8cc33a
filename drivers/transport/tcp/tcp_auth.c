/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SipHash-2-4 and the handshake proof built on it. Plain C and libc only.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tern_wire.h>

#include "tcp_auth.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void
sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

uint64_t
tcp_siphash24(const uint8_t key[16], const void *in, size_t len)
{
	const uint8_t *p = in;
	uint64_t k0 = tern_wire_get_le64(key), k1 = tern_wire_get_le64(key + 8), m,
		 b = (uint64_t)len << 56;
	uint64_t v[4] = { k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
			  k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull };
	size_t left = len & 7, i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = tern_wire_get_le64(p + i);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	for (i = 0; i < left; i++)
		b |= (uint64_t)p[len - left + i] << (8 * i);
	v[3] ^= b;
	sip_round(v);
	sip_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

void
tcp_auth_key(const void *secret, size_t len, uint8_t key[TCP_AUTH_KEY_LEN])
{
	static const uint8_t k0[16] = "tern tcp key  0", k1[16] = "tern tcp key  1";

	tern_wire_put_be64(key, tcp_siphash24(k0, secret, len));
	tern_wire_put_be64(key + 8, tcp_siphash24(k1, secret, len));
}

void
tcp_auth_proof(const uint8_t key[TCP_AUTH_KEY_LEN], const uint8_t nonce_target[16],
	       const uint8_t nonce_initiator[16], uint64_t instance, uint32_t epoch,
	       uint8_t proof[TCP_AUTH_PROOF_LEN])
{
	uint8_t msg[8 + 16 + 16 + 8 + 4 + 1];

	memcpy(msg, "TERNAUTH", 8);
	memcpy(msg + 8, nonce_target, 16);
	memcpy(msg + 24, nonce_initiator, 16);
	tern_wire_put_be64(msg + 40, instance);
	tern_wire_put_be32(msg + 48, epoch);
	msg[52] = 1;
	tern_wire_put_be64(proof, tcp_siphash24(key, msg, sizeof(msg)));
	msg[52] = 2;
	tern_wire_put_be64(proof + 8, tcp_siphash24(key, msg, sizeof(msg)));
}

int
tcp_auth_equal(const uint8_t a[TCP_AUTH_PROOF_LEN], const uint8_t b[TCP_AUTH_PROOF_LEN])
{
	uint8_t d = 0;
	size_t i;

	for (i = 0; i < TCP_AUTH_PROOF_LEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}
