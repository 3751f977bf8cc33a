/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_SHM_INTERNAL_H
#define TERN_SHM_INTERNAL_H

/**
 * @file
 * A seam for tests of the shm transport: not part of its API.
 */

#include <stdint.h>

/**
 * The token this process's server accepts for (@p handle, @p length), so a
 * test can send well-authenticated requests that other checks must refuse
 * (a segment that is not file-backed, a wrong length). 0 if this host's
 * identity cannot be read.
 */
uint64_t shm_test_token(uint32_t handle, uint64_t length);

#endif /* TERN_SHM_INTERNAL_H */
