/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data-path slow paths over the queue views (mlx5_queue.h): view checks,
 * inline WQEs, error CQEs, cancel and reset. The bottom of the driver: it
 * calls no other file of it, and so it also owns the driver's log type.
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_log.h>

#include <tern_time.h>

#include "mlx5_queue.h"
#include "tern_mlx5_internal.h"

RTE_LOG_REGISTER_DEFAULT(mlx5_logtype, INFO);

int
mlx5_sq_init(struct mlx5_sq *sq, const struct tern_mlx5_sq_view *view, struct mlx5_slot *slots,
	     uint16_t sig_every, uint32_t max_wqebbs)
{
	if (max_wqebbs == 0 || (view != NULL && max_wqebbs > view->wqe_cnt))
		max_wqebbs = view != NULL ? view->wqe_cnt : 0;
	if (sq == NULL || view == NULL || slots == NULL || view->buf == NULL ||
	    view->dbrec == NULL || view->bf_reg == NULL || view->stride != TERN_MLX5_WQEBB ||
	    view->wqe_cnt < 4 || view->wqe_cnt > 32768 || !rte_is_power_of_2(view->wqe_cnt) ||
	    (view->bf_size != 0 && view->bf_size != 256) || view->qpn > 0xffffff || max_wqebbs < 4)
		return -EINVAL;
	memset(sq, 0, sizeof(*sq));
	sq->buf = view->buf;
	sq->mask = (uint16_t)(view->wqe_cnt - 1);
	sq->limit = (uint16_t)max_wqebbs;
	/* At least one CQE request per half of what may be in flight, so the
	 * SQ can never fill with WQEs no CQE will ever free (the largest WQE
	 * is far smaller). */
	if (sig_every == 0 || sig_every > max_wqebbs / 2)
		sig_every = (uint16_t)(max_wqebbs / 2);
	sq->sig_mask = (uint16_t)(rte_align32prevpow2(sig_every) - 1);
	sq->max_inline = (uint16_t)RTE_MIN(view->max_inline, TERN_MLX5_INLINE_MAX);
	sq->qpn = view->qpn;
	sq->qpn_ds = rte_cpu_to_be_32(view->qpn << 8);
	sq->dbrec = view->dbrec;
	sq->bf_reg = view->bf_reg;
	sq->bf_size = view->bf_size;
	sq->slots = slots;
	sq->last_ctrl = (uint64_t *)sq->buf;
	return 0;
}

void
mlx5_sq_reset(struct mlx5_sq *sq)
{
	uint32_t i;

	sq->pi = 0;
	sq->rep = 0;
	sq->done = 0;
	sq->error = 0;
	sq->cancelled = 0;
	sq->hw_done = 0;
	sq->db_pi = 0;
	sq->last_ctrl = (uint64_t *)sq->buf;
	/* A WQE not reported before the reset leaves no count behind. */
	for (i = 0; i <= sq->mask; i++)
		sq->slots[i].reposts = 0;
	sq->recoveries++;
}

int
mlx5_cq_init(struct mlx5_cq *cq, const struct tern_mlx5_cq_view *view)
{
	if (cq == NULL || view == NULL || view->buf == NULL || view->dbrec == NULL ||
	    view->cqe_cnt < 2 || !rte_is_power_of_2(view->cqe_cnt) || view->cqe_cnt > (1u << 22) ||
	    (view->cqe_size != 64 && view->cqe_size != 128))
		return -EINVAL;
	memset(cq, 0, sizeof(*cq));
	cq->buf = view->buf;
	cq->mask = view->cqe_cnt - 1;
	cq->cqe_cnt = view->cqe_cnt;
	cq->cqe_shift = view->cqe_size == 128 ? 7 : 6;
	/* A 128-byte CQE carries its cqe64 in the second half. */
	cq->cqe_offset = view->cqe_size == 128 ? 64 : 0;
	cq->dbrec = view->dbrec;
	return 0;
}

/* Copy into the ring at byte offset @p off from the start of the ring,
 * continuing at the ring start when the end is reached. */
static size_t
ring_copy(struct mlx5_sq *sq, size_t off, const void *src, size_t len)
{
	size_t ring = ((size_t)sq->mask + 1) * TERN_MLX5_WQEBB;
	size_t first;

	off &= ring - 1;
	first = RTE_MIN(len, ring - off);
	if (src != NULL) {
		memcpy(sq->buf + off, src, first);
		memcpy(sq->buf, (const uint8_t *)src + first, len - first);
	} else {
		memset(sq->buf + off, 0, first);
		memset(sq->buf, 0, len - first);
	}
	return off + len;
}

void
mlx5_post_inline(struct mlx5_sq *sq, const void *src, uint32_t len, uint64_t raddr, uint32_t rkey,
		 uint8_t fm_ce_se, uint64_t cookie)
{
	uint16_t idx = sq->pi & sq->mask;
	uint64_t *wqe = (uint64_t *)(sq->buf + ((size_t)idx * TERN_MLX5_WQEBB));
	uint32_t data_ds = (4 + len + 15) / 16;
	uint32_t ds = 2 + data_ds;
	uint16_t wqebbs = mlx5_inline_wqebbs(len);
	struct mlx5_slot *slot = &sq->slots[idx];
	uint32_t hdr = rte_cpu_to_be_32(len | MLX5_INLINE_SEG);
	size_t off = (size_t)idx * TERN_MLX5_WQEBB + 32;

	/* ctrl and raddr are the first 32 bytes of a WQEBB: never wrapped. */
	mlx5_wqe_ctrl_raddr(wqe, mlx5_wqe_ctrl(sq->qpn_ds, MLX5_OPCODE_RDMA_WRITE, ds), sq->pi,
			    mlx5_wqe_flags(fm_ce_se), raddr, mlx5_wqe_rkey(rkey));
	/* inline header, payload, zero padding to the 16-byte unit: each may
	 * run past the ring end and continue at its start. */
	off = ring_copy(sq, off, &hdr, sizeof(hdr));
	off = ring_copy(sq, off, src, len);
	ring_copy(sq, off, NULL, data_ds * 16 - 4 - len);
	slot->cookie = cookie;
	sq->last_ctrl = wqe;
	sq->pi += wqebbs;
}

static const struct {
	uint8_t syndrome;
	int err;
	const char *name;
} syndromes[] = {
	{ MLX5_CQE_SYNDROME_LOCAL_LENGTH_ERR, -EMSGSIZE, "LOCAL_LENGTH" },
	{ MLX5_CQE_SYNDROME_LOCAL_QP_OP_ERR, -EPROTO, "LOCAL_QP_OP" },
	{ MLX5_CQE_SYNDROME_LOCAL_PROT_ERR, -EFAULT, "LOCAL_PROT" },
	{ MLX5_CQE_SYNDROME_WR_FLUSH_ERR, -ECONNABORTED, "WR_FLUSH" },
	{ MLX5_CQE_SYNDROME_MW_BIND_ERR, -EPROTO, "MW_BIND" },
	{ MLX5_CQE_SYNDROME_BAD_RESP_ERR, -EPROTO, "BAD_RESP" },
	{ MLX5_CQE_SYNDROME_LOCAL_ACCESS_ERR, -EFAULT, "LOCAL_ACCESS" },
	{ MLX5_CQE_SYNDROME_REMOTE_INVAL_REQ_ERR, -EINVAL, "REMOTE_INVAL_REQ" },
	{ MLX5_CQE_SYNDROME_REMOTE_ACCESS_ERR, -EACCES, "REMOTE_ACCESS" },
	{ MLX5_CQE_SYNDROME_REMOTE_OP_ERR, -EREMOTEIO, "REMOTE_OP" },
	{ MLX5_CQE_SYNDROME_TRANSPORT_RETRY_EXC_ERR, -ETIMEDOUT, "RETRY_EXC" },
	{ MLX5_CQE_SYNDROME_RNR_RETRY_EXC_ERR, -EBUSY, "RNR_RETRY_EXC" },
	{ MLX5_CQE_SYNDROME_REMOTE_ABORTED_ERR, -ECONNRESET, "REMOTE_ABORTED" },
};

int
mlx5_syndrome_errno(uint8_t syndrome)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(syndromes); i++)
		if (syndromes[i].syndrome == syndrome)
			return syndromes[i].err;
	return -EIO;
}

const char *
mlx5_syndrome_name(uint8_t syndrome)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(syndromes); i++)
		if (syndromes[i].syndrome == syndrome)
			return syndromes[i].name;
	return "UNKNOWN";
}

int
mlx5_cqe_error(struct mlx5_sq *sq, const struct mlx5_err_cqe *ecqe)
{
	uint16_t wqe = rte_be_to_cpu_16(ecqe->wqe_counter);
	uint8_t opcode = ecqe->op_own >> 4;
	uint8_t syndrome = ecqe->syndrome;
	int err;
	uint16_t i;

	if (sq->cancelled && (uint16_t)(wqe - sq->hw_done) < (uint16_t)(sq->pi - sq->hw_done)) {
		/* The device catching up on WQEs cancel() already reported
		 * (flushes, or one that finished while the QP went to ERR). */
		sq->hw_done = wqe + mlx5_wqe_wqebbs(sq, wqe);
		sq->cancelled = sq->hw_done != sq->pi;
		return 0;
	}
	if ((uint16_t)(wqe - sq->done) >= (uint16_t)(sq->pi - sq->done)) {
		TERN_MLX5_LOG(ERR, "QP 0x%x: error CQE for WQE %u outside [%u, %u), ignored",
			      sq->qpn, wqe, sq->done, sq->pi);
		return -EIO;
	}
	if (opcode != MLX5_CQE_REQ_ERR && opcode != MLX5_CQE_RESP_ERR) {
		/* A compressed or unknown CQE: never asked for, cannot be parsed. */
		syndrome = 0;
		err = -EIO;
		TERN_MLX5_LOG(ERR, "QP 0x%x: unexpected CQE opcode %u for WQE %u", sq->qpn, opcode,
			      wqe);
	} else {
		err = mlx5_syndrome_errno(syndrome);
	}
	if (syndrome == MLX5_CQE_SYNDROME_WR_FLUSH_ERR) {
		/* Everything up to and including this WQE was flushed. */
		for (i = sq->done; i != wqe; i += mlx5_wqe_wqebbs(sq, i)) {
			sq->slots[i & sq->mask].status = (int16_t)err;
			sq->errors++;
		}
		TERN_MLX5_LOG(DEBUG, "QP 0x%x: WQEs %u..%u flushed", sq->qpn, sq->done, wqe);
	} else {
		/* WQEs before the failed one completed (RC completes in order); in
		 * ERR state already, they were flushed. */
		if (sq->error)
			for (i = sq->done; i != wqe; i += mlx5_wqe_wqebbs(sq, i)) {
				sq->slots[i & sq->mask].status = -ECONNABORTED;
				sq->errors++;
			}
		TERN_MLX5_LOG(
			ERR,
			"QP 0x%x: WQE %u failed: %s (syndrome 0x%02x, vendor 0x%02x, %s CQE) -> "
			"%s",
			sq->qpn, wqe, mlx5_syndrome_name(syndrome), syndrome, ecqe->vendor_err_synd,
			opcode == MLX5_CQE_RESP_ERR ? "responder" : "requester", strerror(-err));
	}
	sq->slots[wqe & sq->mask].status = (int16_t)err;
	sq->done = wqe + mlx5_wqe_wqebbs(sq, wqe);
	sq->errors++;
	if (!sq->error) {
		/* What moved the QP to ERR (the flushes after it say less). */
		sq->last_error = err;
		sq->last_failure_ms = tern_clock_ms();
	}
	sq->error = 1;
	return err;
}

void
mlx5_sq_cancel(struct mlx5_sq *sq, int status)
{
	uint16_t i;

	if (!sq->cancelled)
		sq->hw_done = sq->done;
	for (i = sq->done; i != sq->pi; i += mlx5_wqe_wqebbs(sq, i)) {
		sq->slots[i & sq->mask].status = status;
		sq->errors++;
	}
	sq->done = sq->pi;
	sq->cancelled = sq->hw_done != sq->pi;
	sq->error = 1;
}
