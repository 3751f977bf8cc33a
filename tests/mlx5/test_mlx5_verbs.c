/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verbs provider (drivers/transport/mlx5/mlx5_verbs.c) against the
 * verbs fake (fake_verbs.c), whose queues are the device model's: device
 * and GID choice, SQ sizing as rdma-core does it, the attribute masks of
 * every QP transition, device caps per profile, the path options, memory
 * registration limits, and loopback traffic through the real create path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <infiniband/verbs.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "fake_verbs.h"
#include "mlx5_model.h"
#include "mlx5_rails.h"
#include "tern_mlx5_internal.h"

#define MEM_BYTES (4u << 20)
#define SPINS_MAX 100000u

struct vfx {
	struct mlx5_model *m;
	const struct tern_transport_ops *ops;
	struct tern_endpoint *ep;
	uint8_t *mem;
	struct tern_segment lbuf; /* the first half: sources and READ destinations */
	struct tern_segment lseg; /* the second half: the loopback target */
	uint64_t cookie;
};

static void
make_local(struct tern_segment *seg, uint32_t handle, void *addr, uint64_t len)
{
	memset(seg, 0, sizeof(*seg));
	seg->kind = TERN_SEGMENT_LOCAL;
	seg->handle = handle;
	seg->base = addr;
	seg->length = len;
}

static struct vfx *
vfx_new(const struct fake_dev_conf *devs, unsigned int nb)
{
	struct vfx *f = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(*f), 64));

	assert_non_null(f);
	memset(f, 0, sizeof(*f));
	f->m = mlx5_model_create();
	fake_verbs_reset(devs, nb, f->m);
	assert_int_equal(mlx5_test_set_queue_provider(NULL, NULL), 0);
	f->ops = tern_transport_get(tern_transport_id("mlx5"));
	assert_non_null(f->ops);
	f->mem = aligned_alloc(4096, MEM_BYTES);
	assert_non_null(f->mem);
	memset(f->mem, 0, MEM_BYTES);
	make_local(&f->lbuf, 1u << 16 | 1, f->mem, MEM_BYTES / 2);
	make_local(&f->lseg, 1u << 16 | 2, f->mem + MEM_BYTES / 2, MEM_BYTES / 2);
	return f;
}

/* Probe and open one endpoint. @return 0 or the negative errno. */
static int
vfx_open(struct vfx *f)
{
	struct tern_endpoint_conf conf = { .lcore_id = rte_lcore_id(),
					   .socket_id = SOCKET_ID_ANY,
					   .max_slices = 256 };
	int rc = f->ops->probe();

	if (rc != 0)
		return rc;
	f->ep = f->ops->endpoint_open(&conf);
	return f->ep != NULL ? 0 : -rte_errno;
}

/* Close everything: no verbs object may be left. */
static void
vfx_free(struct vfx *f)
{
	const char *first;

	if (f->ep != NULL)
		f->ops->endpoint_close(f->ep);
	else
		mlx5_verbs_provider.shutdown(NULL);
	if (mlx5_model_violations(f->m, &first) != 0)
		fail_msg("model violation: %s", first);
	assert_int_equal(fake_verbs_live(), 0);
	assert_int_equal(fake_verbs_pinned(), 0);
	mlx5_model_destroy(f->m);
	free(f->mem);
	free(f);
}

static struct tern_slice
vslice(struct vfx *f, uint8_t op, uint64_t loff, uint64_t roff, uint32_t len)
{
	struct tern_slice s = { 0 };

	s.cookie = f->cookie++;
	s.local = f->mem + loff;
	s.local_seg = &f->lbuf;
	s.target = &f->lseg;
	s.offset = roff;
	s.length = len;
	s.op = op;
	return s;
}

/* Post @nb slices (the first @posted already are) and collect their
 * completions (by cookie - s[0].cookie). */
static void
vrun_from(struct vfx *f, const struct tern_slice *s, unsigned int nb, unsigned int posted,
	  struct tern_completion *out)
{
	unsigned int done = 0, spins = 0;

	while (done < nb) {
		struct tern_completion c[32];
		uint16_t n, i;

		if (posted < nb)
			posted += f->ops->post_burst(f->ep, s + posted, (uint16_t)(nb - posted));
		mlx5_model_step(f->m);
		n = f->ops->poll(f->ep, c, RTE_DIM(c));
		for (i = 0; i < n; i++)
			out[c[i].cookie - s[0].cookie] = c[i];
		done += n;
		if (++spins > SPINS_MAX)
			fail_msg("no progress: %u/%u posted, %u done", posted, nb, done);
	}
}

static void
vrun(struct vfx *f, const struct tern_slice *s, unsigned int nb, struct tern_completion *out)
{
	vrun_from(f, s, nb, 0, out);
}

/* A WRITE, an inline WRITE and a READ over loopback: all must succeed. */
static void
loopback_traffic(struct vfx *f, uint32_t seed)
{
	struct tern_slice s[3];
	struct tern_completion out[3];
	unsigned int i;

	for (i = 0; i < 8192; i++)
		f->mem[i] = (uint8_t)(i * 7 + seed);
	s[0] = vslice(f, TERN_OP_WRITE, 0, 0, 4096);
	s[1] = vslice(f, TERN_OP_WRITE, 4096, 4096, 40);
	s[2] = vslice(f, TERN_OP_READ, 65536, 0, 4096);
	vrun(f, s, 3, out);
	for (i = 0; i < 3; i++)
		assert_int_equal(out[i].status, 0);
	assert_memory_equal(f->mem + MEM_BYTES / 2, f->mem, 4096 + 40);
	assert_memory_equal(f->mem + 65536, f->mem, 4096);
}

static void
check_port(const struct fake_dev_conf *devs, unsigned int nb, int gid_index, int want)
{
	struct tern_mlx5_path path = TERN_MLX5_PATH_DEFAULT;
	struct tern_mlx5_conn_params p;
	struct mlx5_model *m = mlx5_model_create();
	int rc;

	fake_verbs_reset(devs, nb, m);
	path.gid_index = gid_index;
	assert_int_equal(mlx5_verbs_set_path(&path), 0);
	rc = mlx5_verbs_provider.probe(NULL);
	if (want < 0) {
		assert_int_equal(rc, -ENODEV);
		assert_int_equal(mlx5_verbs_provider.port_info(NULL, &p), -ENODEV);
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(mlx5_verbs_provider.port_info(NULL, &p), 0);
		assert_int_equal(p.gid_index, want);
		assert_memory_equal(p.gid,
				    devs != NULL && devs[nb - 1].gids != NULL
					    ? devs[nb - 1].gids[want].raw
					    : fake_default_gids[want].raw,
				    16);
	}
	mlx5_verbs_provider.shutdown(NULL);
	assert_int_equal(fake_verbs_live(), 0);
	assert_int_equal(mlx5_verbs_set_path(NULL), 0);
	mlx5_model_destroy(m);
}

static void
device_and_gid_choice(void **state)
{
	const struct fake_gid *d = fake_default_gids;
	/* Without IPv4-mapped entries; link-local only; RoCE v1 only. */
	const struct fake_gid no_v4[] = { d[0], d[1], d[4], d[5] };
	const struct fake_gid ll_only[] = { d[0], d[1] };
	const struct fake_gid v1_only[] = { d[0], d[2], d[4] };
	struct fake_dev_conf devs[3] = {
		{ .profile = FAKE_RXE, .port_active = 1, .link_layer = IBV_LINK_LAYER_ETHERNET },
		{ .profile = FAKE_CX5_PF, .port_active = 0, .link_layer = IBV_LINK_LAYER_ETHERNET },
		{ .profile = FAKE_CX7, .port_active = 1, .link_layer = IBV_LINK_LAYER_ETHERNET },
	};
	struct fake_dev_conf one = { .profile = FAKE_CX5_PF,
				     .port_active = 1,
				     .link_layer = IBV_LINK_LAYER_ETHERNET };

	(void)state;
	/* Not the soft-RoCE device, not the one whose port is down. */
	check_port(devs, 3, -1, 3);
	/* IPv4-mapped v2 first (index 3 of the default table, after the
	 * link-local v2 at 1), then global IPv6, then link-local. */
	check_port(NULL, 0, -1, 3);
	one.gids = no_v4;
	one.nb_gids = RTE_DIM(no_v4);
	check_port(&one, 1, -1, 3);
	one.gids = ll_only;
	one.nb_gids = RTE_DIM(ll_only);
	check_port(&one, 1, -1, 1);
	one.gids = v1_only;
	one.nb_gids = RTE_DIM(v1_only);
	check_port(&one, 1, -1, -1);
	/* The override: a RoCE v2 entry is taken; a v1 one, an empty one and
	 * one past the table are refused (no usable port). */
	check_port(NULL, 0, 5, 5);
	check_port(NULL, 0, 1, 1);
	check_port(NULL, 0, 4, -1);
	check_port(NULL, 0, 6, -1);
	check_port(NULL, 0, 40, -1);
	/* InfiniBand: index 0, or the override. */
	one.gids = NULL;
	one.link_layer = IBV_LINK_LAYER_INFINIBAND;
	check_port(&one, 1, -1, 0);
	check_port(&one, 1, 2, 2);
	/* No device at all; only devices that are not mlx5. */
	check_port(&devs[0], 1, -1, -1);
	devs[2].port_active = 0;
	check_port(devs, 3, -1, -1);
}

static void
traffic_on_each_profile(void **state)
{
	static const enum fake_profile profs[] = { FAKE_CX5_PF, FAKE_CX6DX_VF, FAKE_CX7 };
	unsigned int i;

	(void)state;
	for (i = 0; i < RTE_DIM(profs); i++) {
		struct fake_dev_conf c = { .profile = profs[i],
					   .port_active = 1,
					   .link_layer = IBV_LINK_LAYER_ETHERNET };
		struct vfx *f = vfx_new(&c, 1);
		struct ibv_qp_init_attr_ex a;
		struct ibv_qp_attr qa;
		uint32_t wqe_cnt;
		int mask, depth = profs[i] == FAKE_CX6DX_VF ? 4 : 16;

		assert_int_equal(vfx_open(f), 0);
		loopback_traffic(f, i);
		/* The QP was asked for RDMA WRITE | READ only and got 256
		 * WQEBBs, as rdma-core sizes it. */
		fake_verbs_last_create(&a, &wqe_cnt);
		assert_true(a.comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS);
		assert_int_equal(a.send_ops_flags,
				 IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_READ);
		assert_int_equal(wqe_cnt, 256);
		assert_int_equal(mlx5_model_qp_wqe_cnt(mlx5_model_qp(f->m, 0)), 256);
		/* Read depths clamped to the device's caps (a VF has fewer). */
		assert_int_equal(fake_verbs_last_modify(IBV_QPS_RTR, &qa, &mask), 0);
		assert_int_equal(qa.max_dest_rd_atomic, depth);
		assert_int_equal(qa.ah_attr.grh.sgid_index, 3);
		assert_int_equal(fake_verbs_last_modify(IBV_QPS_RTS, &qa, &mask), 0);
		assert_int_equal(qa.max_rd_atomic, depth);
		assert_int_equal(qa.timeout, 14);
		assert_int_equal(qa.retry_cnt, 7);
		vfx_free(f);
	}
}

static void
path_options_reach_the_qp(void **state)
{
	static const char *const bad[] = {
		"dscp=64",
		"traffic_class=256",
		"traffic_class=1,dscp=1",
		"timeout=0",
		"timeout=32",
		"sl=16",
		"retry_cnt=8",
		"rnr_retry=9",
		"gid_index=256",
		"gid_index=-1",
		"gid_index=x",
		"dscp=",
		"write_fence_us=0",
		"write_fence_us=60000001",
		"write_fence_us=x",
		"write_fence_us=-1",
		"write_fence_us=",
	};
	struct vfx *f;
	struct tern_mlx5_path p;
	struct ibv_qp_attr qa;
	unsigned int i;
	int mask;

	(void)state;
	f = vfx_new(NULL, 0);
	for (i = 0; i < RTE_DIM(bad); i++)
		assert_int_equal(f->ops->configure(bad[i], NULL), -EINVAL);
	mlx5_verbs_get_path(&p);
	assert_int_equal(p.gid_index, -1);
	assert_int_equal(p.timeout, 14);
	assert_int_equal(f->ops->configure("dscp=26,sl=3,timeout=18,retry_cnt=5,rnr_retry=6,"
					   "gid_index=5",
					   NULL),
			 0);
	assert_int_equal(vfx_open(f), 0);
	loopback_traffic(f, 9);
	assert_int_equal(fake_verbs_last_modify(IBV_QPS_RTR, &qa, &mask), 0);
	assert_int_equal(qa.ah_attr.grh.traffic_class, 26 << 2);
	assert_int_equal(qa.ah_attr.sl, 3);
	assert_int_equal(qa.ah_attr.grh.sgid_index, 5);
	assert_int_equal(fake_verbs_last_modify(IBV_QPS_RTS, &qa, &mask), 0);
	assert_int_equal(qa.timeout, 18);
	assert_int_equal(qa.retry_cnt, 5);
	assert_int_equal(qa.rnr_retry, 6);
	assert_int_equal(mlx5_rails_write_fence(), 0); /* one local ACK timeout */
	f->ops->stop();
	assert_int_equal(f->ops->configure("write_fence_us=250000", NULL), 0);
	assert_int_equal(mlx5_rails_write_fence(), 250000);
	f->ops->stop();
	assert_int_equal(mlx5_rails_write_fence(), 0);
	mlx5_verbs_get_path(&p);
	assert_int_equal(p.gid_index, -1);
	assert_int_equal(p.traffic_class, 0);
	assert_int_equal(f->ops->configure("traffic_class=106", NULL), 0);
	mlx5_verbs_get_path(&p);
	assert_int_equal(p.traffic_class, 106);
	f->ops->stop();
	p.timeout = 0;
	assert_int_equal(mlx5_verbs_set_path(&p), -EINVAL);
	vfx_free(f);
}

/* An error CQE: the loopback QP goes RESET -> INIT -> RTR -> RTS through
 * the fake (every mask checked) and carries traffic again; a cancel moves
 * it to ERR. */
static void
recovery_and_cancel_through_verbs(void **state)
{
	/* No revival attempt of a dead QP within the test (tests/mlx5/test_mlx5.c
	 * covers it). */
	struct tern_mlx5_tuning t = { .revive_ms = 60000 };
	struct vfx *f = vfx_new(NULL, 0);
	struct tern_slice s[8];
	struct tern_completion out[8];
	struct tern_mlx5_ep_stats st;
	struct mlx5_model_qp *qp;
	struct ibv_qp_attr qa;
	unsigned int i;
	int mask;

	(void)state;
	mlx5_set_tuning(&t);
	assert_int_equal(vfx_open(f), 0);
	mlx5_set_tuning(NULL);
	loopback_traffic(f, 1);
	qp = mlx5_model_qp(f->m, 0);
	mlx5_model_qp_fail(qp, 1, MODEL_SYND_RETRY_EXC);
	for (i = 0; i < 4; i++)
		s[i] = vslice(f, TERN_OP_WRITE, i * 4096u, i * 4096u, 4096);
	vrun(f, s, 4, out);
	assert_int_equal(out[0].status, 0);
	assert_int_equal(out[1].status, -ETIMEDOUT);
	assert_int_equal(f->ops->poll(f->ep, out, 8), 0); /* recovery runs here */
	assert_int_equal(mlx5_ep_stats(f->ep, &st), 0);
	assert_int_equal(st.recoveries, 1);
	assert_int_equal(fake_verbs_last_modify(IBV_QPS_RESET, &qa, &mask), 0);
	assert_int_equal(mask, IBV_QP_STATE);
	loopback_traffic(f, 2);
	/* Cancel: held WQEs complete with -ECANCELED, the QP goes to ERR. */
	mlx5_model_qp_hold(qp, 1);
	for (i = 0; i < 8; i++)
		s[i] = vslice(f, TERN_OP_WRITE, i * 4096u, i * 4096u, 4096);
	assert_int_equal(f->ops->post_burst(f->ep, s, 8), 8);
	f->ops->cancel(f->ep);
	assert_int_equal(fake_verbs_last_modify(IBV_QPS_ERR, &qa, &mask), 0);
	assert_int_equal(f->ops->poll(f->ep, out, 8), 8);
	for (i = 0; i < 8; i++)
		assert_int_equal(out[i].status, -ECANCELED);
	mlx5_model_qp_hold(qp, 0);
	for (i = 0; i < 20; i++) {
		mlx5_model_step(f->m);
		assert_int_equal(f->ops->poll(f->ep, out, 8), 0);
	}
	loopback_traffic(f, 3);
	/* A flush the device refuses: the CQEs complete the work instead. */
	fake_verbs_fail(FAKE_MODIFY_QP_ERR, EIO);
	s[0] = vslice(f, TERN_OP_WRITE, 0, 0, 4096);
	assert_int_equal(f->ops->post_burst(f->ep, s, 1), 1);
	f->ops->cancel(f->ep);
	vrun_from(f, s, 1, 1, out);
	assert_int_equal(out[0].status, 0);
	/* A recovery the device refuses: the QP is dead, slices -ENOTCONN. */
	mlx5_model_qp_fail(qp, 0, MODEL_SYND_RETRY_EXC);
	fake_verbs_fail(FAKE_MODIFY_QP_RTR, EINVAL);
	s[0] = vslice(f, TERN_OP_WRITE, 0, 0, 4096);
	vrun(f, s, 1, out);
	assert_int_equal(out[0].status, -ETIMEDOUT);
	assert_int_equal(f->ops->poll(f->ep, out, 8), 0);
	s[0] = vslice(f, TERN_OP_WRITE, 0, 0, 4096);
	vrun(f, s, 1, out);
	assert_int_equal(out[0].status, -ENOTCONN);
	vfx_free(f);
}

/* A call that fails: probe, endpoint open, QP open or registration reports
 * it, and nothing is left allocated. */
static void
failures_are_reported_and_released(void **state)
{
	static const enum fake_call probe_calls[] = { FAKE_GET_DEVICE_LIST, FAKE_OPEN_DEVICE,
						      FAKE_QUERY_DEVICE, FAKE_QUERY_PORT,
						      FAKE_ALLOC_PD };
	static const enum fake_call ep_calls[] = { FAKE_ALLOC_TD, FAKE_ALLOC_PARENT_DOMAIN,
						   FAKE_DV_CREATE_CQ, FAKE_INIT_OBJ_CQ };
	static const enum fake_call qp_calls[] = { FAKE_DV_CREATE_QP,	 FAKE_INIT_OBJ_QP,
						   FAKE_MODIFY_QP_RESET, FAKE_MODIFY_QP_INIT,
						   FAKE_MODIFY_QP_RTR,	 FAKE_MODIFY_QP_RTS };
	unsigned int i;

	(void)state;
	for (i = 0; i < RTE_DIM(probe_calls); i++) {
		struct vfx *f = vfx_new(NULL, 0);

		fake_verbs_fail(probe_calls[i], EIO);
		assert_int_equal(vfx_open(f), -ENODEV);
		vfx_free(f);
	}
	for (i = 0; i < RTE_DIM(ep_calls); i++) {
		struct vfx *f = vfx_new(NULL, 0);

		fake_verbs_fail(ep_calls[i], ENOMEM);
		assert_int_equal(vfx_open(f), -ENOMEM);
		vfx_free(f);
	}
	for (i = 0; i < RTE_DIM(qp_calls); i++) {
		struct vfx *f = vfx_new(NULL, 0);
		struct tern_slice s;
		struct tern_completion out;

		assert_int_equal(vfx_open(f), 0);
		fake_verbs_fail(qp_calls[i], EINVAL);
		s = vslice(f, TERN_OP_WRITE, 0, 0, 4096);
		vrun(f, &s, 1, &out);
		assert_int_equal(out.status, -ENOTCONN);
		/* The next slice opens a QP that works. */
		loopback_traffic(f, i);
		vfx_free(f);
	}
	{
		struct vfx *f = vfx_new(NULL, 0);
		struct tern_slice s;
		struct tern_completion out;

		assert_int_equal(vfx_open(f), 0);
		fake_verbs_fail(FAKE_REG_MR, ENOMEM);
		s = vslice(f, TERN_OP_WRITE, 0, 0, 4096);
		vrun(f, &s, 1, &out);
		assert_int_equal(out.status, -EFAULT);
		vfx_free(f);
	}
}

/* Past RLIMIT_MEMLOCK without CAP_IPC_LOCK a registration fails with ENOMEM:
 * the slice completes with -EFAULT, and with the limit raised it works. */
static void
memlock_limit(void **state)
{
	struct vfx *f = vfx_new(NULL, 0);
	struct rlimit old, low;
	struct tern_slice s;
	struct tern_completion out;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
	low = old;
	low.rlim_cur = 64 << 10;
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < low.rlim_cur)
		low.rlim_cur = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
	fake_verbs_set_cap_ipc_lock(0);
	assert_int_equal(vfx_open(f), 0);
	s = vslice(f, TERN_OP_WRITE, 0, 0, 4096);
	vrun(f, &s, 1, &out);
	assert_int_equal(out.status, -EFAULT);
	assert_int_equal(fake_verbs_pinned(), 0);
	/* CAP_IPC_LOCK: the limit does not apply. */
	fake_verbs_set_cap_ipc_lock(1);
	loopback_traffic(f, 4);
	assert_true(fake_verbs_pinned() >= MEM_BYTES);
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
	vfx_free(f);
}

/* The fake refuses what rdma-core and the kernel refuse, so a driver that
 * asked for it would fail here as on hardware. */
static void
fake_is_as_strict_as_the_kernel(void **state)
{
	struct mlx5_model *m = mlx5_model_create();
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_mr *mr;
	struct ibv_qp_init_attr_ex a;
	struct ibv_qp_attr qa;
	static uint8_t buf[8192];
	int n;

	(void)state;
	fake_verbs_reset(NULL, 0, m);
	list = ibv_get_device_list(&n);
	assert_int_equal(n, 1);
	ctx = ibv_open_device(list[0]);
	ibv_free_device_list(list);
	pd = ibv_alloc_pd(ctx);
	cq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	assert_non_null(cq);
	memset(&a, 0, sizeof(a));
	a.qp_type = IBV_QPT_RC;
	a.comp_mask = IBV_QP_INIT_ATTR_PD;
	a.pd = pd;
	a.send_cq = cq;
	a.recv_cq = cq;
	a.cap.max_send_wr = 1;
	a.cap.max_send_sge = 1;
	/* More WRs than the device has, no PD mask, an unknown send op. */
	a.cap.max_send_wr = 1 << 20;
	assert_null(mlx5dv_create_qp(ctx, &a, NULL));
	a.cap.max_send_wr = 1;
	a.comp_mask = 0;
	assert_null(mlx5dv_create_qp(ctx, &a, NULL));
	a.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
	a.send_ops_flags = IBV_QP_EX_WITH_TSO;
	assert_null(mlx5dv_create_qp(ctx, &a, NULL));
	assert_int_equal(errno, EOPNOTSUPP);
	a.comp_mask = IBV_QP_INIT_ATTR_PD;
	qp = mlx5dv_create_qp(ctx, &a, NULL);
	assert_non_null(qp);
	assert_int_equal(fake_verbs_qp_state(qp), IBV_QPS_RESET);
	/* A CQ in use cannot go. */
	assert_int_equal(ibv_destroy_cq(cq), EBUSY);
	memset(&qa, 0, sizeof(qa));
	/* RESET -> RTR does not exist; INIT without its port; with an extra bit. */
	qa.qp_state = IBV_QPS_RTR;
	assert_int_equal(ibv_modify_qp(qp, &qa, IBV_QP_STATE), EINVAL);
	qa.qp_state = IBV_QPS_INIT;
	qa.port_num = 1;
	assert_int_equal(
		ibv_modify_qp(qp, &qa, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_ACCESS_FLAGS),
		EINVAL);
	assert_int_equal(ibv_modify_qp(qp, &qa,
				       IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
					       IBV_QP_ACCESS_FLAGS | IBV_QP_SQ_PSN),
			 EINVAL);
	qa.port_num = 2;
	assert_int_equal(
		ibv_modify_qp(qp, &qa,
			      IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS),
		EINVAL);
	qa.port_num = 1;
	assert_int_equal(
		ibv_modify_qp(qp, &qa,
			      IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS),
		0);
	/* INIT -> RTR: deeper reads than the device answers; no GRH on RoCE. */
	memset(&qa, 0, sizeof(qa));
	qa.qp_state = IBV_QPS_RTR;
	qa.path_mtu = IBV_MTU_1024;
	qa.dest_qp_num = qp->qp_num;
	qa.max_dest_rd_atomic = 17;
	qa.ah_attr.port_num = 1;
	qa.ah_attr.is_global = 1;
	qa.ah_attr.grh.sgid_index = 3;
	assert_int_equal(ibv_modify_qp(qp, &qa,
				       IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
					       IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
					       IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER),
			 EINVAL);
	qa.max_dest_rd_atomic = 16;
	qa.ah_attr.is_global = 0;
	assert_int_equal(ibv_modify_qp(qp, &qa,
				       IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
					       IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
					       IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER),
			 EINVAL);
	qa.ah_attr.is_global = 1;
	qa.ah_attr.grh.sgid_index = 6; /* empty entry */
	assert_int_equal(ibv_modify_qp(qp, &qa,
				       IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
					       IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
					       IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER),
			 EINVAL);
	qa.qp_state = IBV_QPS_ERR;
	assert_int_equal(ibv_modify_qp(qp, &qa, IBV_QP_STATE), 0);
	assert_int_equal(fake_verbs_qp_state(qp), IBV_QPS_ERR);
	/* Memory: remote write without local write. */
	assert_null(ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_REMOTE_WRITE));
	assert_int_equal(errno, EINVAL);
	mr = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ);
	assert_non_null(mr);
	assert_int_equal(ibv_dealloc_pd(pd), EBUSY);
	assert_int_equal(ibv_dereg_mr(mr), 0);
	assert_int_equal(ibv_destroy_qp(qp), 0);
	assert_int_equal(ibv_destroy_cq(cq), 0);
	assert_int_equal(ibv_dealloc_pd(pd), 0);
	assert_int_equal(ibv_close_device(ctx), 0);
	assert_int_equal(fake_verbs_live(), 0);
	mlx5_model_destroy(m);
}

/* QPs for the handshake through the verbs provider: created in INIT,
 * connected to each other, reset for a new handshake; a handshake QP is not
 * recovered alone, and another node's QP is not opened without one. */
static void
handshake_qps_through_verbs(void **state)
{
	struct vfx *f = vfx_new(NULL, 0);
	struct tern_mlx5_conn_params a, b, a2;
	struct tern_mlx5_sq_view view;
	struct tern_mlx5_cq_view cv;
	struct ibv_qp_attr qa;
	void *cq, *qa_h, *qb_h, *qx;
	int mask;

	(void)state;
	assert_int_equal(mlx5_verbs_provider.probe(NULL), 0);
	memset(&view, 0, sizeof(view));
	view.max_inline = 64;
	assert_int_equal(mlx5_verbs_provider.cq_open(NULL, 0, 2048, &cv, &cq), 0);
	assert_int_equal(cv.cqe_cnt, 4096);
	assert_int_equal(cv.cqe_size, 64);
	assert_int_equal(mlx5_verbs_provider.qp_create(NULL, cq, 256, &view, &a, &qa_h), 0);
	assert_int_equal(view.wqe_cnt, 256);
	assert_int_equal(view.max_inline, 64);
	/* The first target QP makes the control CQ: its failure is reported. */
	fake_verbs_fail(FAKE_CREATE_CQ, ENOMEM);
	assert_int_equal(mlx5_verbs_provider.qp_create(NULL, NULL, 0, NULL, &b, &qb_h), -ENOMEM);
	assert_int_equal(mlx5_verbs_provider.qp_create(NULL, NULL, 0, NULL, &b, &qb_h), 0);
	assert_int_not_equal(a.qpn, b.qpn);
	assert_int_equal(a.gid_index, 3);
	assert_int_equal(mlx5_verbs_provider.qp_connect(NULL, qa_h, &b), 0);
	assert_int_equal(fake_verbs_last_modify(IBV_QPS_RTR, &qa, &mask), 0);
	assert_int_equal(qa.dest_qp_num, b.qpn);
	assert_int_equal(qa.rq_psn, b.psn);
	assert_int_equal(mlx5_verbs_provider.qp_connect(NULL, qb_h, &a), 0);
	/* Connecting twice: RTS -> RTR does not exist. */
	assert_int_equal(mlx5_verbs_provider.qp_connect(NULL, qa_h, &b), -EINVAL);
	assert_int_equal(mlx5_verbs_provider.qp_recover(NULL, qa_h), -ENOTCONN);
	assert_int_equal(mlx5_verbs_provider.qp_reset(NULL, qa_h, &a2), 0);
	assert_int_equal(a2.qpn, a.qpn);
	assert_int_equal(mlx5_verbs_provider.qp_connect(NULL, qa_h, &b), 0);
	memset(&view, 0, sizeof(view));
	assert_int_equal(mlx5_verbs_provider.qp_open(NULL, cq, 0, 1, b.gid, 256, &view, &qx),
			 -ENOTCONN);
	/* A ring rdma-core cannot make (inline above the largest descriptor). */
	view.max_inline = 600;
	assert_int_equal(mlx5_verbs_provider.qp_create(NULL, cq, 256, &view, &a2, &qx), -EINVAL);
	mlx5_verbs_provider.qp_close(NULL, qa_h);
	mlx5_verbs_provider.qp_close(NULL, qb_h);
	mlx5_verbs_provider.cq_close(NULL, cq);
	f->ep = NULL;
	vfx_free(f);
}

static int nv_delivered;
static uint64_t nv_token;
static int32_t nv_status = 1;

static int
nv_deliver(void *arg, const char *sender, uint64_t tag, const void *msg, uint32_t len)
{
	(void)arg;
	(void)msg;
	if (strcmp(sender, "a") == 0 && tag == 42 && len == 3)
		nv_delivered++;
	return 0;
}

static void
nv_status_cb(void *arg, uint32_t qpn, uint64_t token, int32_t status)
{
	(void)arg;
	(void)qpn;
	nv_token = token;
	nv_status = status;
}

/* QPs with a receive queue (notifications) through the verbs provider: what
 * it asks rdma-core for (max_recv_wr, one receive SGE, the receive CQ), the
 * RQ view mlx5dv_init_obj() hands over, and a notification SEND and its
 * status answer between two such QPs, all by the driver's code over the fake. */
static void
notify_qps_through_verbs(void **state)
{
	struct vfx *f = vfx_new(NULL, 0);
	struct tern_mlx5_conn_params a, b;
	struct tern_mlx5_sq_view va, vb;
	struct tern_mlx5_cq_view cva, rva, cvb, rvb;
	struct tern_mlx5_rq_view rqa, rqb;
	struct ibv_qp_init_attr_ex attr;
	struct mlx5_slot slots_a[256], slots_b[256];
	static struct mlx5_sq sqa, sqb;
	static struct mlx5_rq rq_a, rq_b;
	static struct mlx5_notify_rx rxa, rxb;
	void *cqa, *rcqa, *cqb, *rcqb, *qa_h, *qb_h, *mr;
	uint64_t start, end;
	uint32_t lkey, rkey, wqe_cnt;
	uint8_t *bufs = f->mem, *frame = f->mem + 2 * 64 * MLX5_NOTIFY_BUF;
	int len, i;

	(void)state;
	assert_int_equal(mlx5_verbs_provider.probe(NULL), 0);
	memset(&va, 0, sizeof(va));
	memset(&vb, 0, sizeof(vb));
	va.max_inline = vb.max_inline = 64;
	assert_int_equal(mlx5_verbs_provider.cq_open(NULL, 0, 512, &cva, &cqa), 0);
	assert_int_equal(mlx5_verbs_provider.cq_open(NULL, 0, 512, &rva, &rcqa), 0);
	assert_int_equal(mlx5_verbs_provider.cq_open(NULL, 0, 512, &cvb, &cqb), 0);
	assert_int_equal(mlx5_verbs_provider.cq_open(NULL, 0, 512, &rvb, &rcqb), 0);
	/* A target QP without an SQ cannot answer: refused. */
	assert_int_equal(
		mlx5_verbs_provider.qp_create_rq(NULL, NULL, rcqb, 0, NULL, 64, &rqb, &b, &qb_h),
		-EINVAL);
	assert_int_equal(
		mlx5_verbs_provider.qp_create_rq(NULL, cqa, rcqa, 256, &va, 50, &rqa, &a, &qa_h),
		0);
	fake_verbs_last_create(&attr, &wqe_cnt);
	assert_int_equal(attr.cap.max_recv_wr, 64); /* rdma-core rounds up */
	assert_int_equal(attr.cap.max_recv_sge, 1);
	assert_ptr_not_equal(attr.recv_cq, attr.send_cq);
	assert_int_equal(rqa.wqe_cnt, 64);
	assert_int_equal(rqa.stride, 16);
	assert_non_null(rqa.dbrec);
	assert_int_equal(
		mlx5_verbs_provider.qp_create_rq(NULL, cqb, rcqb, 256, &vb, 64, &rqb, &b, &qb_h),
		0);
	assert_int_equal(mlx5_verbs_provider.qp_connect(NULL, qa_h, &b), 0);
	assert_int_equal(mlx5_verbs_provider.qp_connect(NULL, qb_h, &a), 0);
	assert_int_equal(mlx5_verbs_provider.mr_register(NULL, f->mem, MEM_BYTES, &start, &end,
							 &lkey, &rkey, &mr),
			 0);
	assert_int_equal(mlx5_sq_init(&sqa, &va, slots_a, 8, 0), 0);
	assert_int_equal(mlx5_sq_init(&sqb, &vb, slots_b, 8, 0), 0);
	assert_int_equal(mlx5_rq_init(&rq_a, &rqa, va.qpn, bufs, lkey), 0);
	assert_int_equal(mlx5_rq_init(&rq_b, &rqb, vb.qpn, bufs + 64 * MLX5_NOTIFY_BUF, lkey), 0);
	assert_int_equal(mlx5_notify_rx_init(&rxa, &rva, nv_deliver, nv_status_cb, NULL), 0);
	assert_int_equal(mlx5_notify_rx_init(&rxb, &rvb, nv_deliver, nv_status_cb, NULL), 0);
	assert_int_equal(mlx5_notify_rx_add(&rxa, &rq_a, &sqa), 0);
	assert_int_equal(mlx5_notify_rx_add(&rxb, &rq_b, &sqb), 0);
	len = mlx5_notify_encode(frame, MLX5_NOTIFY_BUF, "a", 42, 7, "kv!", 3);
	assert_true(len > 0);
	mlx5_post_send(&sqa, frame, (uint32_t)len, lkey, 1, 1);
	mlx5_sq_doorbell(&sqa);
	for (i = 0; i < 10 && nv_status == 1; i++) {
		mlx5_model_step(f->m);
		mlx5_notify_rx_poll(&rxb, 8);
		mlx5_notify_rx_poll(&rxa, 8);
	}
	assert_int_equal(nv_delivered, 1);
	assert_int_equal(nv_status, 0);
	assert_int_equal(nv_token, 7);
	assert_int_equal(rxb.st.delivered, 1);
	mlx5_verbs_provider.qp_close(NULL, qa_h);
	mlx5_verbs_provider.qp_close(NULL, qb_h);
	mlx5_verbs_provider.mr_deregister(NULL, mr);
	mlx5_verbs_provider.cq_close(NULL, cqa);
	mlx5_verbs_provider.cq_close(NULL, rcqa);
	mlx5_verbs_provider.cq_close(NULL, cqb);
	mlx5_verbs_provider.cq_close(NULL, rcqb);
	f->ep = NULL;
	vfx_free(f);
}

/* Ask DPDK's telemetry socket (v2) for @cmd; the reply in @buf. */
static void
telemetry_ask(const char *cmd, char *buf, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ssize_t n;

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/dpdk_telemetry.v2",
		 rte_eal_get_runtime_dir());
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	n = recv(fd, buf, len - 1, 0); /* the greeting */
	assert_true(n > 0);
	assert_int_equal(send(fd, cmd, strlen(cmd), 0), (ssize_t)strlen(cmd));
	n = recv(fd, buf, len - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	close(fd);
}

/* /tern/mlx5/qps lists the loopback QP with its state, GID and ring. */
static void
qps_in_telemetry(void **state)
{
	struct vfx *f = vfx_new(NULL, 0);
	char reply[4096];

	(void)state;
	assert_int_equal(vfx_open(f), 0);
	telemetry_ask("/tern/mlx5/qps", reply, sizeof(reply));
	assert_non_null(strstr(reply, "\"count\":0"));
	loopback_traffic(f, 5);
	telemetry_ask("/tern/mlx5/qps", reply, sizeof(reply));
	if (strstr(reply, "\"count\":1") == NULL || strstr(reply, "\"state\":[\"rts\"]") == NULL ||
	    strstr(reply, "\"gid\":[\"::ffff:10.0.0.1\"]") == NULL ||
	    strstr(reply, "\"wqe_cnt\":[256]") == NULL || strstr(reply, "\"peer\":[0]") == NULL)
		fail_msg("unexpected reply: %s", reply);
	telemetry_ask("/tern/mlx5/qps,1", reply, sizeof(reply));
	assert_non_null(strstr(reply, "no parameters"));
	/* No queue configured: no target QP takes notifications. */
	telemetry_ask("/tern/mlx5/notify", reply, sizeof(reply));
	if (strstr(reply, "\"target_qps\":0") == NULL || strstr(reply, "\"delivered\":0") == NULL ||
	    strstr(reply, "\"replies_lost\":0") == NULL)
		fail_msg("unexpected reply: %s", reply);
	telemetry_ask("/tern/mlx5/notify,x", reply, sizeof(reply));
	assert_non_null(strstr(reply, "no parameters"));
	vfx_free(f);
}

int
main(int argc, char **argv)
{
	char prefix[64];
	/* Telemetry on: qps_in_telemetry asks the socket. */
	char *eal[] = { argv[0],	 "--no-huge", "-m",	     "64",	     "--no-pci",
			"--file-prefix", prefix,      "--log-level", "lib.eal:error" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fake_is_as_strict_as_the_kernel),
		cmocka_unit_test(device_and_gid_choice),
		cmocka_unit_test(traffic_on_each_profile),
		cmocka_unit_test(path_options_reach_the_qp),
		cmocka_unit_test(recovery_and_cancel_through_verbs),
		cmocka_unit_test(failures_are_reported_and_released),
		cmocka_unit_test(memlock_limit),
		cmocka_unit_test(handshake_qps_through_verbs),
		cmocka_unit_test(notify_qps_through_verbs),
		cmocka_unit_test(qps_in_telemetry),
	};

	(void)argc;
	snprintf(prefix, sizeof(prefix), "tern_mlx5_verbs_%d", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
