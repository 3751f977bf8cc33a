/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TEST_TRANSPORT_STUB_H
#define TERN_TEST_TRANSPORT_STUB_H

#include <stdint.h>

/*
 * "stub": a transport for tests. It accepts every slice and holds it without
 * moving data, until the test calls stub_release(status) (every held slice
 * then completes with that status) or the engine cancels the endpoint.
 * Register a REMOTE segment with .transport = "stub" to route requests to it.
 */
void stub_register(void);
/* Complete every slice held now (and later, while @sticky) with @status. */
void stub_release(int32_t status, int sticky);
/* Slices currently held by all endpoints. */
uint64_t stub_held(void);

#endif
