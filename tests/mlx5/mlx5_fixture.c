/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_memory.h>

#include "mlx5_fixture.h"
#include "tern_mlx5_internal.h"

void
mlx5_fixture_open(struct mlx5_fixture *fx, unsigned int nb_ep)
{
	struct tern_mlx5_tuning t = { .sq_wqebbs = 64, .sig_every = 16, .max_inline = 64 };
	unsigned int i;

	assert_true(nb_ep <= MLX5_FX_EP_MAX);
	memset(fx, 0, sizeof(*fx));
	fx->m = mlx5_model_create();
	assert_non_null(fx->m);
	assert_int_equal(mlx5_test_set_queue_provider(&mlx5_model_provider, fx->m), 0);
	/* As on hardware: a QP to another node needs the handshake. */
	mlx5_model_wire_peers(fx->m, 0);
	mlx5_set_tuning(&t);
	fx->ops = tern_transport_get(tern_transport_id("mlx5"));
	assert_non_null(fx->ops);
	assert_int_equal(fx->ops->probe(), 0);
	for (i = 0; i < nb_ep; i++) {
		struct tern_endpoint_conf conf = { .lcore_id = i + 1,
						   .socket_id = SOCKET_ID_ANY,
						   .max_slices = 256 };

		fx->ep[i] = fx->ops->endpoint_open(&conf);
		assert_non_null(fx->ep[i]);
	}
	fx->nb_ep = nb_ep;
}

void
mlx5_fixture_close(struct mlx5_fixture *fx)
{
	const char *first;
	unsigned int i, v = mlx5_model_violations(fx->m, &first);

	if (v != 0)
		fail_msg("%u model violations, first: %s", v, first);
	for (i = 0; i < fx->nb_ep; i++)
		fx->ops->endpoint_close(fx->ep[i]);
	assert_int_equal(mlx5_test_set_queue_provider(NULL, NULL), 0);
	mlx5_set_tuning(NULL);
	mlx5_model_destroy(fx->m);
	memset(fx, 0, sizeof(*fx));
}

uint64_t
mlx5_fixture_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
mlx5_fixture_eal_init(const char *argv0, const char *prefix)
{
	char *eal[] = { (char *)(uintptr_t)argv0,
			"--no-huge",
			"-m",
			"64",
			"--no-pci",
			"--no-telemetry",
			"--file-prefix",
			(char *)(uintptr_t)prefix,
			"--log-level",
			"lib.eal:error" };

	return rte_eal_init((int)RTE_DIM(eal), eal) < 0 ? -1 : 0;
}
