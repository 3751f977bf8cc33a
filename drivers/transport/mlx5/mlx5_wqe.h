/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MLX5_WQE_H
#define MLX5_WQE_H

/**
 * @file
 * The one encoder of the driver's WQEs (driver-private; layout in
 * doc/mlx5.md), inline like UCX's rc_mlx5.inl: the post path
 * (mlx5_ep.c), the inline WRITE (mlx5_queue.c) and the tests' helper
 * (mlx5_post_rdma()) all write their segments through these functions. The
 * device model (tests/mlx5/mlx5_model.c) decodes WQEs with byte offsets of
 * its own, so that a mistake here cannot cancel itself out there.
 *
 * Segments are written as 64-bit words of big-endian fields: on a
 * little-endian CPU the first field of a pair is the word's low half. The
 * parts of a word that stay the same over a run of WQEs (opcode, QPN, ds;
 * the keys) are computed once by the caller (mlx5_wqe_ctrl(),
 * mlx5_wqe_rkey(), mlx5_wqe_lkey()), so that the loop adds only what
 * changes per WQE.
 */

#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_common.h>

#if RTE_BYTE_ORDER != RTE_LITTLE_ENDIAN
#error "mlx5_wqe.h packs big-endian fields into little-endian 64-bit words"
#endif

/** Data segments (ds) of a WQE of ctrl, raddr and one data segment. */
#define MLX5_WQE_RDMA_DS 3u

/**
 * The ctrl segment's first word but the WQE index: opmod 0, @p opcode,
 * the QPN and @p ds.
 * @param qpn_ds_be the QPN shifted left by 8, big-endian (mlx5_sq.qpn_ds)
 */
static __rte_always_inline uint64_t
mlx5_wqe_ctrl(uint32_t qpn_ds_be, uint8_t opcode, uint32_t ds)
{
	return (uint64_t)(qpn_ds_be | (ds << 24)) << 32 | (uint32_t)opcode << 24;
}

/** The raddr segment's second word: @p rkey, then the reserved word 0. */
static __rte_always_inline uint64_t
mlx5_wqe_rkey(uint32_t rkey)
{
	return rte_cpu_to_be_32(rkey);
}

/** The data segment's first word but its byte count: @p lkey in the upper half. */
static __rte_always_inline uint64_t
mlx5_wqe_lkey(uint32_t lkey)
{
	return (uint64_t)rte_cpu_to_be_32(lkey) << 32;
}

/**
 * The ctrl segment's second word: signature 0, stream id 0, @p fm_ce_se
 * (fence, CQE request MLX5_WQE_CTRL_CQ_UPDATE, solicited), imm 0. Written
 * whole, so nothing stale is left of an earlier WQE.
 */
static __rte_always_inline uint64_t
mlx5_wqe_flags(uint8_t fm_ce_se)
{
	return (uint64_t)fm_ce_se << 24;
}

/**
 * Write the ctrl and raddr segments, the first 32 bytes of a WQEBB (never
 * split by the ring's end).
 * @param ctrl     mlx5_wqe_ctrl()
 * @param pi       the WQE's index (free-running WQEBB counter)
 * @param flags    mlx5_wqe_flags()
 * @param rkey     mlx5_wqe_rkey()
 */
static __rte_always_inline void
mlx5_wqe_ctrl_raddr(uint64_t *wqe, uint64_t ctrl, uint16_t pi, uint64_t flags, uint64_t raddr,
		    uint64_t rkey)
{
	wqe[0] = ctrl | rte_cpu_to_be_32((uint32_t)pi << 8);
	wqe[1] = flags;
	wqe[2] = rte_cpu_to_be_64(raddr);
	wqe[3] = rkey;
}

/**
 * Write a one-WQEBB RDMA WRITE or READ WQE: ctrl, raddr, one data segment.
 * @param ctrl mlx5_wqe_ctrl() with MLX5_WQE_RDMA_DS
 * @param lkey mlx5_wqe_lkey()
 */
static __rte_always_inline void
mlx5_wqe_rdma(uint64_t *wqe, uint64_t ctrl, uint16_t pi, uint64_t flags, uint64_t raddr,
	      uint64_t rkey, uint32_t len, uint64_t lkey, uint64_t laddr)
{
	mlx5_wqe_ctrl_raddr(wqe, ctrl, pi, flags, raddr, rkey);
	wqe[4] = (uint64_t)rte_cpu_to_be_32(len) | lkey;
	wqe[5] = rte_cpu_to_be_64(laddr);
}

#endif /* MLX5_WQE_H */
