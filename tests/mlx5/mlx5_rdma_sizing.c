/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rdma-core's mlx5 send-queue sizing (providers/mlx5/verbs.c: _sq_overhead,
 * sq_overhead, mlx5_calc_send_wqe, mlx5_calc_sq_size; v44, unchanged at
 * HEAD), written from its rules for the device model and the verbs fake:
 *
 *  - overhead: the ctrl segment, grown to the largest operation the QP may
 *    post. Without IBV_QP_INIT_ATTR_SEND_OPS_FLAGS an RC QP may post every RC
 *    operation, bind-MW / local-invalidate included: ctrl + UMR ctrl + mkey
 *    context + max(KLM, 64) = 192 bytes. With RDMA WRITE | READ only:
 *    ctrl + raddr = 32 bytes.
 *  - WQE size: max(overhead + SGEs x 16, overhead + align16(4 + inline)),
 *    refused above the device's largest send descriptor, rounded to 64.
 *  - ring: roundup_pow2(max_send_wr x WQE size) bytes, refused above the
 *    device's largest SQ; max_inline_data is written back as what the WQE
 *    size holds.
 */
#include <errno.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "mlx5_model.h"

#define SEG_CTRL       16u
#define SEG_RADDR      16u
#define SEG_ATOMIC     16u
#define SEG_UMR_CTRL   48u
#define SEG_MKEY_CTX   64u
#define SEG_KLM_MIN    64u /* max(sizeof(klm seg), 64) */
#define SEG_DATA       16u
#define SEG_INLINE_HDR 4u
#define SEND_WQEBB     64u

static uint32_t
align_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) / a * a;
}

static uint64_t
pow2_up(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

int
mlx5_model_sq_overhead(const struct ibv_qp_init_attr_ex *attr)
{
	uint64_t ops;
	uint32_t size = SEG_CTRL;

	if (attr->qp_type != IBV_QPT_RC)
		return -EINVAL; /* the only type the driver creates */
	if (attr->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS)
		ops = attr->send_ops_flags;
	else
		ops = IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_SEND_WITH_INV |
		      IBV_QP_EX_WITH_SEND_WITH_IMM | IBV_QP_EX_WITH_RDMA_WRITE |
		      IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM | IBV_QP_EX_WITH_RDMA_READ |
		      IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP | IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD |
		      IBV_QP_EX_WITH_LOCAL_INV | IBV_QP_EX_WITH_BIND_MW;
	if (ops & (IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM |
		   IBV_QP_EX_WITH_RDMA_READ) &&
	    size < SEG_CTRL + SEG_RADDR)
		size = SEG_CTRL + SEG_RADDR;
	if (ops & (IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP | IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD) &&
	    size < SEG_CTRL + SEG_RADDR + SEG_ATOMIC)
		size = SEG_CTRL + SEG_RADDR + SEG_ATOMIC;
	if (ops & (IBV_QP_EX_WITH_BIND_MW | IBV_QP_EX_WITH_LOCAL_INV) &&
	    size < SEG_CTRL + SEG_UMR_CTRL + SEG_MKEY_CTX + SEG_KLM_MIN)
		size = SEG_CTRL + SEG_UMR_CTRL + SEG_MKEY_CTX + SEG_KLM_MIN;
	return (int)size;
}

int
mlx5_model_sq_size(const struct ibv_qp_init_attr_ex *attr, uint32_t max_sq_desc_sz,
		   uint32_t max_send_wqebb, uint32_t *wqe_cnt, uint32_t *max_inline)
{
	int overhead = mlx5_model_sq_overhead(attr);
	uint32_t size, inl = 0, wqe;
	uint64_t ring;

	*wqe_cnt = 0;
	*max_inline = 0;
	if (overhead < 0)
		return overhead;
	if (attr->cap.max_send_wr == 0)
		return 0; /* no SQ */
	size = (uint32_t)overhead;
	if (attr->cap.max_inline_data != 0)
		inl = size + align_up(SEG_INLINE_HDR + attr->cap.max_inline_data, 16);
	if (size > max_sq_desc_sz || attr->cap.max_send_sge > (max_sq_desc_sz - size) / SEG_DATA)
		return -EINVAL;
	size += attr->cap.max_send_sge * SEG_DATA;
	wqe = size > inl ? size : inl;
	if (wqe > max_sq_desc_sz)
		return -EINVAL;
	wqe = align_up(wqe, SEND_WQEBB);
	if (wqe > max_sq_desc_sz || attr->cap.max_send_wr > 0x7fffffffu / max_sq_desc_sz)
		return -EINVAL;
	ring = pow2_up((uint64_t)attr->cap.max_send_wr * wqe);
	if (ring / SEND_WQEBB > max_send_wqebb)
		return -EINVAL;
	*wqe_cnt = (uint32_t)(ring / SEND_WQEBB);
	*max_inline = wqe - (uint32_t)overhead - SEG_INLINE_HDR;
	return 0;
}
