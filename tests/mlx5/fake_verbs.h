/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_FAKE_VERBS_H
#define TERN_FAKE_VERBS_H

/*
 * A verbs-level fake of libibverbs + libmlx5 for tests (fake_verbs.c): it
 * defines the ibv_* and mlx5dv_* functions drivers/transport/mlx5/mlx5_verbs.c
 * calls (and the verbs_context ops behind the inline ones), so a test
 * executable linking it runs the real verbs provider with no RDMA device.
 * Link-time substitution: the executable's definitions are the ones its own
 * objects bind to; libibverbs/libmlx5 are not called. See doc/mlx5.md.
 *
 * It behaves as rdma-core v44 and the kernel do, as far as mlx5_verbs.c can
 * tell: SQ sizing by rdma-core's rules (mlx5_rdma_sizing.c), CQ sizing
 * (cqe + 1 rounded up to a power of two), the attribute masks each QP state
 * transition requires and allows (missing or extra bits: EINVAL), values
 * checked against the device's caps (rd_atom depths, max_qp_wr, GID index),
 * memory-region access rules and RLIMIT_MEMLOCK (ENOMEM past it without
 * CAP_IPC_LOCK). Queues come from the device model (mlx5_model.h): CQs and
 * QPs are the model's, so WQEs the driver posts through the real create
 * path are executed.
 */

#include <stdint.h>

#include <infiniband/verbs.h>

struct mlx5_model;

/* Device profiles (caps as reported by ibv_query_device on such devices;
 * see doc/mlx5.md for which are measured and which assumed). */
enum fake_profile {
	FAKE_CX5_PF,   /* ConnectX-5 PF: rd_atom 16/16 */
	FAKE_CX6DX_VF, /* ConnectX-6 Dx VF: fewer rd_atom (4/4) than the driver's 16 */
	FAKE_CX7,      /* ConnectX-7 */
	FAKE_RXE,      /* a non-mlx5 device (soft RoCE): mlx5dv_is_supported() false */
	FAKE_PROFILES
};

/* A GID table entry. */
struct fake_gid {
	uint8_t raw[16];
	enum ibv_gid_type gid_type;
};

/* One device of the list. */
struct fake_dev_conf {
	enum fake_profile profile;
	int port_active;	     /* port 1 ACTIVE (else DOWN) */
	uint8_t link_layer;	     /* IBV_LINK_LAYER_ETHERNET or _INFINIBAND */
	const struct fake_gid *gids; /* GID table (NULL: the default table) */
	unsigned int nb_gids;
};

/* The default RoCE GID table: 0 fe80:: v1, 1 fe80:: v2, 2 ::ffff:10.0.0.1 v1,
 * 3 ::ffff:10.0.0.1 v2 (the model's node 0 GID), 4 2001:db8::1 v1,
 * 5 2001:db8::1 v2, 6 empty. */
extern const struct fake_gid fake_default_gids[7];

/* Reset the fake: @devs (NULL, 0: one ConnectX-5 PF, port active, RoCE, the
 * default GID table), queues from @model (needed for CQs and QPs). */
void fake_verbs_reset(const struct fake_dev_conf *devs, unsigned int nb, struct mlx5_model *model);

/* Calls the fake can be made to fail (once, the next time), with an errno. */
enum fake_call {
	FAKE_GET_DEVICE_LIST,
	FAKE_OPEN_DEVICE,
	FAKE_QUERY_DEVICE,
	FAKE_QUERY_PORT,
	FAKE_QUERY_GID,
	FAKE_ALLOC_PD,
	FAKE_ALLOC_TD,
	FAKE_ALLOC_PARENT_DOMAIN,
	FAKE_CREATE_CQ,	   /* ibv_create_cq (the control CQ) */
	FAKE_DV_CREATE_CQ, /* mlx5dv_create_cq */
	FAKE_DV_CREATE_QP,
	FAKE_INIT_OBJ_CQ,
	FAKE_INIT_OBJ_QP,
	FAKE_MODIFY_QP_RESET,
	FAKE_MODIFY_QP_INIT,
	FAKE_MODIFY_QP_RTR,
	FAKE_MODIFY_QP_RTS,
	FAKE_MODIFY_QP_ERR,
	FAKE_REG_MR,
	FAKE_CALLS
};
void fake_verbs_fail(enum fake_call call, int err);

/* Pretend the process has CAP_IPC_LOCK (1), has not (0), or ask the kernel (-1,
 * the default). Without it, registrations past RLIMIT_MEMLOCK fail with ENOMEM. */
void fake_verbs_set_cap_ipc_lock(int has);

/* Objects alive (contexts, PDs, TDs, CQs, QPs, MRs): 0 once all are released. */
unsigned int fake_verbs_live(void);
/* Bytes registered (what counts against RLIMIT_MEMLOCK). */
uint64_t fake_verbs_pinned(void);

/* The attributes of the last successful transition to @state, and its mask. */
int fake_verbs_last_modify(enum ibv_qp_state state, struct ibv_qp_attr *attr, int *mask);
/* The QP state of a QP created through the fake (-1: not one of its QPs). */
int fake_verbs_qp_state(const struct ibv_qp *qp);
/* The creation attributes of the last QP created (after rdma-core wrote caps back). */
void fake_verbs_last_create(struct ibv_qp_init_attr_ex *attr, uint32_t *sq_wqe_cnt);

#endif /* TERN_FAKE_VERBS_H */
