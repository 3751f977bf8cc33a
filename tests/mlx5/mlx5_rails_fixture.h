/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_MLX5_RAILS_FIXTURE_H
#define TERN_MLX5_RAILS_FIXTURE_H

#include <stdint.h>

#include "mlx5_model.h"
#include "mlx5_rails.h"
#include "test_common.h"

/*
 * Registers in @p env's table the REMOTE segment "peer_mem": @p len bytes at
 * @p remote, served by node 1 of the model @p m on two devices, a key each
 * (a version 3 import: two rails), reached as peer @p peer. Returns its
 * handle; fails the test on error.
 */
uint32_t mlx5_rails_fixture_import(struct mlx5_model *m, struct test_env *env, void *remote,
				   uint64_t len, uint16_t peer);

/*
 * Registers in @p env's table the REMOTE segment @p name: @p len bytes at
 * @p remote, served by node 1's device 0 under a key of its own, a one-rail
 * (version 2) import, reached as peer @p peer. Returns its handle.
 */
uint32_t mlx5_rails_fixture_import_one(struct mlx5_model *m, struct test_env *env, void *remote,
				       uint64_t len, uint16_t peer, const char *name);

/* The rail counters (mlx5_rails_stats()) of every open mlx5 endpoint, summed. */
void mlx5_rails_fixture_stats(struct mlx5_rails_stats *sum);

/* Make every recovery of the model's QPs to node 1's device @p dev fail
 * (@p fail 1) or succeed again (0): a failed QP stays in ERR, then dead. */
void mlx5_rails_fixture_fail_recovery(struct mlx5_model *m, int dev, int fail);

/** Most batches mlx5_rails_fixture_batches() takes. */
#define MLX5_RAILS_FIXTURE_BATCHES 64

/*
 * Submits @p nb (<= MLX5_RAILS_FIXTURE_BATCHES) batches of @p op through
 * @p c, one MiB each: batch i moves @p local + i MiB to or from offset i MiB
 * of @p remote_h. With @p cut_mask, every QP of @p m is held first, and
 * once every batch is in flight the wires of node 1's devices named by the
 * mask (bit i: device i) are cut, then the QPs released. Waits for every
 * future; @p status gets each one's, @p ms (may be NULL) the time taken.
 * Returns how many futures were still pending at the cut.
 */
unsigned int mlx5_rails_fixture_batches(struct mlx5_model *m, struct tern_client *c,
					uint32_t remote_h, unsigned int nb, uint8_t op,
					uint8_t *local, unsigned int cut_mask, int32_t *status,
					uint64_t *ms);

#endif
