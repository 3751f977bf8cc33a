/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <rte_common.h>

#include <tern_engine.h>
#include <tern_segment.h>
#include <tern_segment_driver.h>

#include "mlx5_ctl.h"
#include "mlx5_desc3.h"
#include "mlx5_rails.h"
#include "mlx5_rails_fixture.h"
#include "tern_mlx5_internal.h"

uint32_t
mlx5_rails_fixture_import(struct mlx5_model *m, struct test_env *env, void *remote, uint64_t len,
			  uint16_t peer)
{
	struct tern_segment tmp __rte_aligned(64);
	struct tern_segment_conf sc = { 0 };
	struct tern_mlx5_desc3 d3;
	uint32_t handle;
	unsigned int i;

	memset(&d3, 0, sizeof(d3));
	d3.version = TERN_MLX5_DESC3_VERSION;
	d3.nports = 2;
	d3.addr = (uintptr_t)remote;
	d3.length = len;
	d3.epoch = 1;
	for (i = 0; i < 2; i++) {
		mlx5_model_dev_gid(1, (int)i, d3.ports[i].gid);
		d3.ports[i].hs_addr[10] = d3.ports[i].hs_addr[11] = 0xff; /* ::ffff:127.0.0.1 */
		d3.ports[i].hs_addr[12] = 127;
		d3.ports[i].hs_addr[15] = 1;
		d3.ports[i].hs_port = 1;
		d3.ports[i].rkey =
			mlx5_model_mr_add_dev(m, 1, (int)i, remote, len, MODEL_ACCESS_ALL);
	}
	memset(&tmp, 0, sizeof(tmp));
	assert_int_equal(mlx5_rails_import(&tmp, &d3, 1), 0);
	sc.name = "peer_mem";
	sc.addr = remote;
	sc.length = len;
	sc.kind = TERN_SEGMENT_REMOTE;
	sc.transport = "mlx5";
	sc.socket_id = SOCKET_ID_ANY;
	sc.priv = tmp.priv;
	sc.priv_len = sizeof(struct tern_mlx5_desc) + sizeof(struct mlx5_rail_set);
	sc.peer = peer;
	assert_int_equal(tern_segment_register(env->segments, &sc, &handle), 0);
	return handle;
}

uint32_t
mlx5_rails_fixture_import_one(struct mlx5_model *m, struct test_env *env, void *remote,
			      uint64_t len, uint16_t peer, const char *name)
{
	struct tern_segment tmp __rte_aligned(64);
	struct tern_segment_conf sc = { 0 };
	uint32_t handle;

	memset(&tmp, 0, sizeof(tmp));
	mlx5_model_import_wired(&tmp, 1, remote, len,
				mlx5_model_mr_add_dev(m, 1, 0, remote, len, MODEL_ACCESS_ALL));
	sc.name = name;
	sc.addr = remote;
	sc.length = len;
	sc.kind = TERN_SEGMENT_REMOTE;
	sc.transport = "mlx5";
	sc.socket_id = SOCKET_ID_ANY;
	sc.priv = tmp.priv;
	sc.priv_len = sizeof(struct tern_mlx5_desc);
	sc.peer = peer;
	assert_int_equal(tern_segment_register(env->segments, &sc, &handle), 0);
	return handle;
}

void
mlx5_rails_fixture_stats(struct mlx5_rails_stats *sum)
{
	struct mlx5_rails_stats st;
	unsigned int i;

	memset(sum, 0, sizeof(*sum));
	mlx5_ctl_lock();
	for (i = 0; i < mlx5_ep_count_locked(); i++) {
		/* Written by the lcores: the test reads them once the batches are done. */
		if (mlx5_rails_stats(&mlx5_ep_at_locked(i)->base, &st) != 0)
			continue;
		sum->moved += st.moved;
		sum->reposted += st.reposted;
		sum->failed += st.failed;
		sum->given_back += st.given_back;
		sum->pauses += st.pauses;
		sum->expired += st.expired;
	}
	mlx5_ctl_unlock();
}

void
mlx5_rails_fixture_fail_recovery(struct mlx5_model *m, int dev, int fail)
{
	struct mlx5_model_qp *qp;
	unsigned int i;

	for (i = 0; (qp = mlx5_model_qp(m, i)) != NULL; i++)
		if (mlx5_model_qp_remote_dev(qp) == dev)
			mlx5_model_qp_fail_recovery(qp, fail);
}

/* Hold (or release) every QP the model has: work queues up in flight. */
static void
hold_all(struct mlx5_model *m, int hold)
{
	struct mlx5_model_qp *qp;
	unsigned int i;

	for (i = 0; (qp = mlx5_model_qp(m, i)) != NULL; i++)
		mlx5_model_qp_hold(qp, hold);
}

unsigned int
mlx5_rails_fixture_batches(struct mlx5_model *m, struct tern_client *c, uint32_t remote_h,
			   unsigned int nb, uint8_t op, uint8_t *local, unsigned int cut_mask,
			   int32_t *status, uint64_t *ms)
{
	struct tern_future *fut[MLX5_RAILS_FIXTURE_BATCHES];
	unsigned int i, pending = 0;
	uint64_t t0;

	assert_true(nb <= MLX5_RAILS_FIXTURE_BATCHES);
	if (cut_mask != 0)
		hold_all(m, 1);
	t0 = test_now_ns();
	for (i = 0; i < nb; i++) {
		struct tern_request r = test_req(op, remote_h, (uint64_t)i << 20,
						 local + ((uint64_t)i << 20), 1u << 20);

		fut[i] = tern_submit(c, &r, 1, NULL);
		assert_non_null(fut[i]);
	}
	if (cut_mask != 0) {
		for (i = 0; i < nb; i++)
			pending += tern_future_wait(fut[i], 0) == -EINPROGRESS;
		for (i = 0; i < 4; i++)
			if ((cut_mask & (1u << i)) != 0)
				mlx5_model_wire_set(m, 1, (int)i, 0);
		hold_all(m, 0);
	}
	for (i = 0; i < nb; i++)
		status[i] = test_wait_release(fut[i]);
	if (ms != NULL)
		*ms = (test_now_ns() - t0) / 1000000;
	return pending;
}
