/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_MLX5_RAILS_FIXTURE_H
#define TERN_MLX5_RAILS_FIXTURE_H

#include <stdint.h>

#include "mlx5_model.h"
#include "test_common.h"

/*
 * Registers in @p env's table the REMOTE segment "peer_mem": @p len bytes at
 * @p remote, served by node 1 of the model @p m on two devices, a key each
 * (a version 3 import: two rails), reached as peer @p peer. Returns its
 * handle; fails the test on error.
 */
uint32_t mlx5_rails_fixture_import(struct mlx5_model *m, struct test_env *env, void *remote,
				   uint64_t len, uint16_t peer);

#endif
