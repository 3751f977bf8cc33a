/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_MLX5_MODEL_H
#define TERN_MLX5_MODEL_H

/*
 * A software model of a ConnectX send queue / completion queue pair, for
 * tests only. It reads WQEs and writes CQEs in the format rdma-core's mlx5
 * provider writes and reads them (providers/mlx5/qp.c, cq.c), using its own
 * byte offsets: it never calls the driver's queue code, so a misreading
 * of the format cannot hide in both.
 *
 * Two nodes (0: this host, 1: the peer), each with a memory-region table.
 * A QP opened without a handshake reaches its node or node 1 ("wired"); a QP
 * connected by the handshake reaches the QP it was connected to, and every
 * WQE checks that both ends agree (QPNs, GIDs, PSNs, path MTU).
 * A QP executes WQEs when its doorbell is rung: synchronously on
 * mlx5_model_step(), or from a device thread (mlx5_model_start()).
 * Everything the driver does wrong is a "violation": counted, the first one
 * kept as text, printed to stderr.
 */

#include <stdint.h>

#include <tern_segment_driver.h>

#include "tern_mlx5_internal.h"

struct mlx5_model;
struct mlx5_model_qp;

/* Memory-region access rights. */
#define MODEL_ACCESS_LOCAL_WRITE  (1u << 0)
#define MODEL_ACCESS_REMOTE_WRITE (1u << 1)
#define MODEL_ACCESS_REMOTE_READ  (1u << 2)
#define MODEL_ACCESS_ALL	  7u

/* Syndromes the model produces (values of the CQE syndrome byte). */
#define MODEL_SYND_LOCAL_LENGTH	 0x01
#define MODEL_SYND_LOCAL_QP_OP	 0x02
#define MODEL_SYND_LOCAL_PROT	 0x04
#define MODEL_SYND_WR_FLUSH	 0x05
#define MODEL_SYND_REMOTE_INVAL	 0x12
#define MODEL_SYND_REMOTE_ACCESS 0x13
#define MODEL_SYND_REMOTE_OP	 0x14
#define MODEL_SYND_RETRY_EXC	 0x15
#define MODEL_SYND_RNR_RETRY_EXC 0x16

/* Create a model; its device is "present" (probe succeeds). */
struct mlx5_model *mlx5_model_create(void);
/* Free it (stops the thread; QPs and CQs the driver left are unmapped). */
void mlx5_model_destroy(struct mlx5_model *m);

/* The provider that puts the model under the driver (ctx = the model). */
extern const struct tern_mlx5_provider mlx5_model_provider;

/* Make probe() fail with -ENODEV (a host without the device). */
void mlx5_model_set_present(struct mlx5_model *m, int present);

/*
 * The node control-path calls act for (0 by default): port_info, qp_create
 * and mr_register. A test plays both ends of a handshake from one process by
 * serving the initiator's request with node 1 selected.
 */
void mlx5_model_set_node(struct mlx5_model *m, int node);
/* Control-path calls from the calling thread act for @node; -1 (the default)
 * follows mlx5_model_set_node(). The handshake listener's thread serves as
 * node 1 this way (mlx5_test_set_listener_init()). */
void mlx5_model_set_thread_node(int node);
/* A descriptor of node @node's memory [addr, +len) under @rkey, in host form,
 * as that node's segment_export() would write it with its handshake listener
 * at 127.0.0.1:@hs_port and epoch 1 (mlx5_desc_encode() makes the blob). */
void mlx5_model_desc(struct tern_mlx5_desc *d, int node, void *addr, uint64_t len, uint32_t rkey,
		     uint16_t hs_port);
/* Fill REMOTE segment @seg's priv with node @node's memory [addr, +len) under
 * @rkey as segment_import() would, without the handshake: for data-path tests
 * whose QPs the model wires. Takes a peer slot reference (segment_release()). */
void mlx5_model_import_wired(struct tern_segment *seg, int node, void *addr, uint64_t len,
			     uint32_t rkey);
/* Whether qp_open wires a QP to node 1 without a handshake (1, the default),
 * or refuses with -ENOTCONN as the verbs provider does (0). */
void mlx5_model_wire_peers(struct mlx5_model *m, int wired);
/* A node's port MTU (enum ibv_mtu, 1..5; 5 by default). */
void mlx5_model_set_mtu(struct mlx5_model *m, int node, uint8_t mtu);

/* Register [addr, addr + len) on @node; returns the key (lkey == rkey). */
uint32_t mlx5_model_mr_add(struct mlx5_model *m, int node, void *addr, uint64_t len,
			   uint32_t access);
/* This node's (0) or the peer's (1) GID (its device 0). */
void mlx5_model_gid(int node, uint8_t gid[16]);

/*
 * Rails (issue 15): a node has MODEL_DEVS devices of one port each; device 0
 * is the one every test had before. Each device has its own GID
 * (::ffff:10.D.0.N+1) and its own memory keys (a region registered on device
 * d answers only WQEs that reach device d). A QP wired to node 1 (qp_open)
 * reaches the device its peer GID names. The wire from this node to each of
 * node 1's devices can be cut and mended: WQEs over a cut wire end in
 * RETRY_EXC, as a link down would after the retry budget.
 */
#define MODEL_DEVS 4
void mlx5_model_dev_gid(int node, int dev, uint8_t gid[16]);
/* Register [addr, addr + len) on device @dev of @node; the key (lkey == rkey). */
uint32_t mlx5_model_mr_add_dev(struct mlx5_model *m, int node, int dev, void *addr, uint64_t len,
			       uint32_t access);
/* Cut (@up 0) or mend (@up 1) the wire to device @dev of @node. */
void mlx5_model_wire_set(struct mlx5_model *m, int node, int dev, int up);
/* WQEs a QP has executed (successfully or not), and the device its wire reaches. */
uint64_t mlx5_model_qp_executed(struct mlx5_model_qp *qp);
int mlx5_model_qp_remote_dev(struct mlx5_model_qp *qp);

/* Process every QP's doorbells and WQEs once (synchronous device). */
void mlx5_model_step(struct mlx5_model *m);
/* Run the device on a thread, polling doorbells; stop with mlx5_model_stop(). */
void mlx5_model_start(struct mlx5_model *m);
void mlx5_model_stop(struct mlx5_model *m);

/* QPs in creation order (0, 1, ...), NULL past the end. */
struct mlx5_model_qp *mlx5_model_qp(struct mlx5_model *m, unsigned int index);

/* Fault knobs, per QP. */
/* Execute at most @wqes WQEs per step (0: no limit) - partial processing. */
void mlx5_model_qp_budget(struct mlx5_model_qp *qp, uint32_t wqes);
/* Hold: take doorbells but execute nothing until released - delayed processing. */
void mlx5_model_qp_hold(struct mlx5_model_qp *qp, int hold);
/* Hold the QP (as mlx5_model_qp_hold) as soon as a WQE fails: the flushes of
 * the WQEs after it wait until released - a device slow to flush, or stuck. */
void mlx5_model_qp_hold_after_error(struct mlx5_model_qp *qp, int hold);
/* Fail the @nth WQE executed from now (0 = the next one) with @syndrome. */
void mlx5_model_qp_fail(struct mlx5_model_qp *qp, uint64_t nth, uint8_t syndrome);
/* Let the next recovery (RESET..RTS) of this QP fail. */
void mlx5_model_qp_fail_recovery(struct mlx5_model_qp *qp, int fail);

/* RNR retries of QP @qp as requester (0..7, 7: forever, the default): a
 * SEND or WRITE with immediate finding no RECV posted is retried once per
 * model step that many times, then fails with RNR_RETRY_EXC. */
void mlx5_model_qp_rnr_retry(struct mlx5_model_qp *qp, uint8_t retry);
/* A QP's number. */
uint32_t mlx5_model_qp_qpn(struct mlx5_model_qp *qp);

/* The SQ ring of a QP (tests corrupt WQEs through it). */
uint8_t *mlx5_model_qp_ring(struct mlx5_model_qp *qp);
/* Let the provider claim @bytes more than it registers (provokes LOCAL_PROT). */
void mlx5_model_set_mr_slack(struct mlx5_model *m, uint64_t bytes);

/* Make provider operations fail (control-path error handling). */
#define MODEL_FAIL_CQ_OPEN    (1u << 0) /* cq_open: -ENOMEM */
#define MODEL_FAIL_QP_OPEN    (1u << 1) /* qp_open, qp_create: -EIO */
#define MODEL_BAD_QP_VIEW     (1u << 2) /* qp_open hands over a view the driver must refuse */
#define MODEL_FAIL_MR_REG     (1u << 3) /* mr_register: -ENOMEM */
#define MODEL_FAIL_FLUSH      (1u << 4) /* qp_flush: -EIO */
#define MODEL_FAIL_QP_CONNECT (1u << 5) /* qp_connect: -EIO */
#define MODEL_BAD_CQ_VIEW     (1u << 6) /* cq_open hands over a view the driver must refuse */
void mlx5_model_fail_ops(struct mlx5_model *m, uint32_t flags);
/* Write a success CQE naming QPN @qpn into QP @qp's CQ (a stray CQE). */
void mlx5_model_inject_cqe(struct mlx5_model_qp *qp, uint32_t qpn);
/* Times the provider's shutdown ran. */
unsigned int mlx5_model_shutdowns(struct mlx5_model *m);

/* Counters. */
struct mlx5_model_stats {
	uint64_t doorbells;   /* doorbells taken */
	uint64_t wqes;	      /* WQEs executed successfully */
	uint64_t inline_wqes; /* of which inline */
	uint64_t cqes;	      /* CQEs written (all kinds) */
	uint64_t err_cqes;    /* error CQEs other than flush */
	uint64_t flush_cqes;  /* WR_FLUSH CQEs */
	uint64_t sq_wraps;    /* times a QP's consumer index wrapped the ring */
	uint64_t cq_wraps;    /* times a CQ's producer index wrapped the ring */
	uint64_t resets;      /* QP recoveries */
	uint64_t bytes;	      /* payload bytes moved */
	uint64_t recvs;	      /* RECVs consumed by a SEND or WRITE with immediate */
	uint64_t recv_cqes;   /* responder CQEs written (of cqes) */
	uint64_t rnr_naks;    /* receiver-not-ready NAKs (no RECV posted) */
};
void mlx5_model_stats(struct mlx5_model *m, struct mlx5_model_stats *st);

/*
 * rdma-core's mlx5 send-queue sizing (mlx5_rdma_sizing.c): the overhead a
 * WQE of the QP @attr describes carries (bytes, or -EINVAL), and the SQ
 * rdma-core would make for it on a device whose largest send descriptor is
 * @max_sq_desc_sz bytes and largest SQ @max_send_wqebb WQEBBs: @wqe_cnt
 * WQEBBs (0: no SQ) and the max_inline_data it writes back.
 * @return 0 or -EINVAL (rdma-core refuses the QP).
 */
struct ibv_qp_init_attr_ex;
int mlx5_model_sq_overhead(const struct ibv_qp_init_attr_ex *attr);
int mlx5_model_sq_size(const struct ibv_qp_init_attr_ex *attr, uint32_t max_sq_desc_sz,
		       uint32_t max_send_wqebb, uint32_t *wqe_cnt, uint32_t *max_inline);
/* The device's limits the model sizes SQs with (defaults 512 bytes, 32768
 * WQEBBs), and a factor (power of two, 1 by default) it grows every SQ by on
 * top, as a provider that rounds up more than asked would. */
void mlx5_model_set_sq_limits(struct mlx5_model *m, uint32_t max_sq_desc_sz,
			      uint32_t max_send_wqebb, uint32_t grow);
/* Grant every SQ exactly the WQEBBs asked for (the verbs fake, which sizes
 * queues by rdma-core's rules itself, asks the model for that ring). */
void mlx5_model_set_sq_exact(struct mlx5_model *m, int exact);
/* Set a QP's send PSN (the verbs fake: RTR->RTS carries the one the driver chose). */
void mlx5_model_qp_set_sq_psn(struct mlx5_model_qp *qp, uint32_t psn);
/* WQEBBs of QP @qp's send queue, as granted. */
uint32_t mlx5_model_qp_wqe_cnt(struct mlx5_model_qp *qp);

/* Violations found so far, and the first one's text. */
unsigned int mlx5_model_violations(struct mlx5_model *m, const char **first);

#endif /* TERN_MLX5_MODEL_H */
