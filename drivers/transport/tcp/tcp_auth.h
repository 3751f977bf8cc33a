/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TCP_AUTH_H
#define TERN_TCP_AUTH_H

/**
 * @file
 * The tcp transport's optional peer authentication (doc/protocol.md,
 * "Handshake"): SipHash-2-4 as a keyed MAC over the target's random
 * challenge, so the shared secret never crosses the wire. Plain C, no DPDK.
 */

#include <stddef.h>
#include <stdint.h>

/** Bytes of a key derived from a secret. */
#define TCP_AUTH_KEY_LEN 16
/** Bytes of a proof (two SipHash-2-4 outputs). */
#define TCP_AUTH_PROOF_LEN 16

/**
 * SipHash-2-4 of @p in under the 16-byte @p key (the reference algorithm
 * of Aumasson and Bernstein; tested against its published vectors).
 */
uint64_t tcp_siphash24(const uint8_t key[16], const void *in, size_t len);

/** Derive the MAC key from a secret of any length. */
void tcp_auth_key(const void *secret, size_t len, uint8_t key[TCP_AUTH_KEY_LEN]);

/**
 * The initiator's proof for one handshake: a MAC over both nonces, its
 * instance and its epoch.
 */
void tcp_auth_proof(const uint8_t key[TCP_AUTH_KEY_LEN], const uint8_t nonce_target[16],
		    const uint8_t nonce_initiator[16], uint64_t instance, uint32_t epoch,
		    uint8_t proof[TCP_AUTH_PROOF_LEN]);

/** Compare two proofs in constant time: 1 if equal. */
int tcp_auth_equal(const uint8_t a[TCP_AUTH_PROOF_LEN], const uint8_t b[TCP_AUTH_PROOF_LEN]);

#endif /* TERN_TCP_AUTH_H */
