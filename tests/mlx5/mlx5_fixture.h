/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MLX5_FIXTURE_H
#define MLX5_FIXTURE_H

/*
 * What the connection tests (test_mlx5_connect.c, test_mlx5_handshake.c)
 * share: the mlx5 transport over the device model with endpoints open, as
 * node 0 of a model whose nodes need the handshake to reach each other; a
 * monotonic clock; and waits that give up. Test code: failures are cmocka
 * assertions.
 */

#include <stdint.h>
#include <unistd.h>

#include <tern_transport_driver.h>

#include "mlx5_model.h"

/** Most endpoints a fixture opens. */
#define MLX5_FX_EP_MAX 4

struct mlx5_fixture {
	struct mlx5_model *m;
	const struct tern_transport_ops *ops;
	struct tern_endpoint *ep[MLX5_FX_EP_MAX];
	unsigned int nb_ep;
};

/*
 * Install the model as the provider (peers not wired: another node needs
 * the handshake, as on hardware), small queues (64 WQEBBs, a CQE every 16,
 * 64 bytes inline), probe, and open @p nb_ep endpoints on lcores 1..nb_ep.
 */
void mlx5_fixture_open(struct mlx5_fixture *fx, unsigned int nb_ep);

/*
 * Fail on any model violation, close the endpoints, restore the verbs
 * provider and the default tuning, destroy the model.
 */
void mlx5_fixture_close(struct mlx5_fixture *fx);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t mlx5_fixture_now_ms(void);

/* EAL without hugepages or devices, under file prefix @p prefix. @return 0 or -1. */
int mlx5_fixture_eal_init(const char *argv0, const char *prefix);

/* Wait until @p cond holds, polling every millisecond; fail after @p ms. */
#define MLX5_FX_WAIT(cond, ms)                                       \
	do {                                                         \
		uint64_t until_ = mlx5_fixture_now_ms() + (ms);      \
		while (!(cond)) {                                    \
			assert_true(mlx5_fixture_now_ms() < until_); \
			usleep(1000);                                \
		}                                                    \
	} while (0)

#endif /* MLX5_FIXTURE_H */
