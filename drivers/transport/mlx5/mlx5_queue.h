/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_MLX5_QUEUE_H
#define TERN_MLX5_QUEUE_H

/**
 * @file
 * The mlx5 data path over a plain "queue view" (driver-private).
 *
 * A view is what the device hands over for one send queue or one completion
 * queue: buffers, sizes, doorbell record and BlueFlame register. Production
 * fills it from mlx5dv_init_obj(); the tests fill it from a software device
 * model. Everything below works on the views only, so the code the model
 * exercises is the code that drives a ConnectX.
 *
 * Posting: WQEs are written straight into the SQ ring (ctrl + raddr + data or
 * inline segments, big-endian), one doorbell per burst. Completion: a CQE for
 * WQE k completes every earlier WQE of its QP (selective signalling), so each
 * WQE's bookkeeping lives in a slot indexed by its first WQEBB and completions
 * are reported in order from the SQ's report index up to the index the last
 * CQE proved done.
 */

#include <errno.h>
#include <stdint.h>

#include <infiniband/mlx5dv.h>

#include <rte_atomic.h>
#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>

#include <tern_transport_driver.h>

#include "mlx5_wqe.h"

/** One send queue as the device exposes it. */
struct tern_mlx5_sq_view {
	void *buf;		  /**< first WQEBB of the ring */
	uint32_t wqe_cnt;	  /**< WQEBBs in the ring, power of two */
	uint32_t stride;	  /**< bytes per WQEBB, must be 64 */
	uint32_t qpn;		  /**< QP number (24 bits) */
	volatile uint32_t *dbrec; /**< send doorbell record (mlx5dv_qp.dbrec[1]) */
	void *bf_reg;		  /**< BlueFlame / doorbell register */
	uint32_t bf_size;	  /**< 0 (doorbell only) or 256 (two toggled halves) */
	uint32_t max_inline;	  /**< bytes of inline data the QP was created for */
};

/** One completion queue as the device exposes it. */
struct tern_mlx5_cq_view {
	void *buf;		  /**< first CQE */
	uint32_t cqe_cnt;	  /**< CQEs in the ring, power of two */
	uint32_t cqe_size;	  /**< 64 or 128 bytes */
	volatile uint32_t *dbrec; /**< consumer index record (mlx5dv_cq.dbrec[0]) */
};

/**
 * Per-WQE bookkeeping, indexed by the WQE's first WQEBB. Only the cookie is
 * written when posting: a WQE's size and length are read back from the WQE
 * itself (it stays in the ring until reported), its status is written by the
 * error path only and its re-post count by the rails' failover only (both
 * cleared when reported, one 8-byte store).
 */
struct mlx5_slot {
	uint64_t cookie;  /**< the slice's cookie */
	int32_t status;	  /**< 0 or a negative errno */
	uint32_t reposts; /**< times the slice was posted again on a rail (mlx5_rails.c) */
};

struct mlx5_ep_rq;

/** Send queue state. */
struct mlx5_sq {
	uint8_t *buf;		  /**< ring start */
	uint16_t pi;		  /**< next WQEBB to write (free running) */
	uint16_t rep;		  /**< oldest WQEBB not yet reported */
	uint16_t done;		  /**< WQEBBs before this index are complete */
	uint16_t mask;		  /**< wqe_cnt - 1 */
	uint16_t limit;		  /**< most WQEBBs in flight (CQ sized so) */
	uint16_t sig_mask;	  /**< CQE requested whenever pi crosses a multiple of mask + 1 */
	uint16_t db_pi;		  /**< pi at the last doorbell */
	uint16_t max_inline;	  /**< largest inline WRITE, bytes */
	uint8_t error;		  /**< a CQE reported an error: QP is in ERR */
	uint8_t dead;		  /**< recovery failed: the QP takes no more work */
	uint32_t qpn;		  /**< QP number */
	uint32_t qpn_ds;	  /**< qpn << 8, big-endian, ds added per WQE */
	uint16_t peer;		  /**< peer slot this QP reaches */
	uint16_t hw_done;	  /**< while cancelled: the device has reported WQEs before this */
	uint8_t cancelled;	  /**< cancel() reported [hw_done, pi): their CQEs are still due */
	uint8_t reclaim;	  /**< the control path wants it back (its peer restarted) */
	volatile uint32_t *dbrec; /**< send doorbell record */
	uint8_t *bf_reg;	  /**< BlueFlame register */
	uint32_t bf_offset;	  /**< half to write next (0 or bf_size) */
	uint32_t bf_size;	  /**< BlueFlame half size, 0 when not toggled */
	uint64_t *last_ctrl;	  /**< ctrl segment of the burst's last WQE */
	struct mlx5_slot *slots;  /**< wqe_cnt entries */
	void *handle;		  /**< provider's QP */
	uint64_t errors;	  /**< WQEs completed with an error */
	uint64_t recoveries;	  /**< ERR -> RTS recoveries */
	/* Revival of a dead QP the lcore may bring back itself (one opened
	 * without a handshake): attempts so far, and when the next may run. */
	uint8_t revivable;     /**< opened by qp_open (no handshake): the lcore owns it dead too */
	uint8_t revive_tries;  /**< failed revival attempts since it went dead */
	uint64_t revive_at_ms; /**< tern_clock_ms() from which the next attempt may run */
	/* Written on the error path only, read by /tern/peers (mlx5_peer_rails()). */
	int32_t last_error; /**< negative errno of the last error CQE or failed revival; 0 none */
	uint64_t last_failure_ms; /**< tern_clock_ms() of it */
	/* Off the post path's cache lines: the receive queue taking this QP's
	 * notification statuses (mlx5_ctl.c), NULL when it has none. */
	struct mlx5_ep_rq *rq;
};

/** Completion queue state. */
struct mlx5_cq {
	uint8_t *buf;		  /**< ring start (a CQE's 64-byte part, see cqe_offset) */
	uint32_t ci;		  /**< consumer index, free running */
	uint32_t mask;		  /**< cqe_cnt - 1 */
	uint32_t cqe_cnt;	  /**< CQEs in the ring */
	uint8_t cqe_shift;	  /**< log2(cqe_size) */
	uint8_t cqe_offset;	  /**< 64 for 128-byte CQEs (their second half), else 0 */
	volatile uint32_t *dbrec; /**< consumer index record */
};

/** Largest data segment count of one WQE (ctrl + raddr + segments <= 63 ds). */
#define TERN_MLX5_DS_MAX 63
/** WQEBB size. */
#define TERN_MLX5_WQEBB 64u
/** Largest inline WRITE the driver ever asks for (ds stays far below 63). */
#define TERN_MLX5_INLINE_MAX 256u

/**
 * Set up SQ state over a view. @p slots holds view->wqe_cnt entries.
 * The ring may be larger than what was asked for (rdma-core rounds the
 * queue up to a power of two of its own WQE size): at most @p max_wqebbs
 * WQEBBs are kept in flight (0: the whole ring), so the CQ, sized for that,
 * can never overrun.
 * @return 0, or -EINVAL for a view the data path cannot drive (stride != 64,
 *         counts not powers of two, bf_size not 0/256, NULL pointers,
 *         @p max_wqebbs below 4).
 */
int mlx5_sq_init(struct mlx5_sq *sq, const struct tern_mlx5_sq_view *view, struct mlx5_slot *slots,
		 uint16_t sig_every, uint32_t max_wqebbs);

/**
 * Restart an SQ whose QP went back through RESET (the device restarts its
 * indices at 0).
 */
void mlx5_sq_reset(struct mlx5_sq *sq);

/**
 * Set up CQ state over a view.
 * @return 0, or -EINVAL (cqe_size not 64/128, cqe_cnt not a power of two, NULL).
 */
int mlx5_cq_init(struct mlx5_cq *cq, const struct tern_mlx5_cq_view *view);

/**
 * Write an inline RDMA WRITE WQE (slow path: copies the payload, may wrap).
 * The caller has checked space for mlx5_inline_wqebbs(len) WQEBBs.
 */
void mlx5_post_inline(struct mlx5_sq *sq, const void *src, uint32_t len, uint64_t raddr,
		      uint32_t rkey, uint8_t fm_ce_se, uint64_t cookie);

/**
 * Handle a CQE the fast path does not take: an error CQE (requester or
 * responder: log the syndrome, mark the WQEs it covers, put the SQ in error
 * state), a CQE outside the outstanding range (logged, ignored), or, after
 * mlx5_sq_cancel(), the device's late CQE for a WQE already reported
 * (absorbed silently).
 * @return the errno (negative) that the failed WQE completes with; 0 for a
 *         late CQE absorbed after a cancel; -EIO for one outside the range.
 */
int mlx5_cqe_error(struct mlx5_sq *sq, const struct mlx5_err_cqe *ecqe);

/**
 * Complete every WQE no CQE has covered yet with @p status, at once (cancel()).
 * Only for a QP the device has moved to ERR: it moves no more data for them.
 * The device's CQEs for those WQEs are still due; mlx5_cqe_error()
 * absorbs them, and until the last has come (mlx5_sq_quiet()) the QP
 * must not be reset, or a late CQE would be taken for a new WQE.
 */
void mlx5_sq_cancel(struct mlx5_sq *sq, int status);

/** Map a CQE syndrome to a negative errno. */
int mlx5_syndrome_errno(uint8_t syndrome);

/** Name a CQE syndrome ("REMOTE_ACCESS", ...; "UNKNOWN" otherwise). */
const char *mlx5_syndrome_name(uint8_t syndrome);

/** WQEBBs an inline WRITE of @p len bytes needs. */
static inline uint16_t
mlx5_inline_wqebbs(uint32_t len)
{
	uint32_t ds = 2 + (4 + len + 15) / 16;

	return (uint16_t)((ds * 16 + TERN_MLX5_WQEBB - 1) / TERN_MLX5_WQEBB);
}

/** WQEBBs that may still be posted (in-flight limit, not ring size). */
static inline uint16_t
mlx5_sq_room(const struct mlx5_sq *sq)
{
	return (uint16_t)(sq->limit - (uint16_t)(sq->pi - sq->rep));
}

/**
 * The fm_ce_se byte of a WQE of @p wqebbs starting at the producer index:
 * CQE requested when the WQE reaches a multiple of sig_mask + 1 (so never
 * more than that many WQEBBs go without one), or when @p force (READs).
 */
static __rte_always_inline uint8_t
mlx5_sq_signal(const struct mlx5_sq *sq, uint16_t wqebbs, int force)
{
	uint16_t crossed = (uint16_t)((sq->pi ^ (sq->pi + wqebbs)) & ~sq->sig_mask);

	return (uint8_t)((crossed != 0) | force) << 3; /* MLX5_WQE_CTRL_CQ_UPDATE */
}

/**
 * Write a one-WQEBB RDMA WRITE or READ WQE (ctrl + raddr + one data segment,
 * ds = 3) at the producer index, one WQE at a time (the tests; the post path
 * writes runs of them with the same encoder, mlx5_wqe.h). The caller has
 * checked that one WQEBB is free.
 */
static __rte_always_inline void
mlx5_post_rdma(struct mlx5_sq *sq, uint8_t opcode, uint64_t laddr, uint32_t lkey, uint32_t len,
	       uint64_t raddr, uint32_t rkey, uint8_t fm_ce_se, uint64_t cookie)
{
	uint16_t idx = sq->pi & sq->mask;
	uint64_t *wqe = (uint64_t *)(sq->buf + ((size_t)idx * TERN_MLX5_WQEBB));
	struct mlx5_slot *slot = &sq->slots[idx];

	mlx5_wqe_rdma(wqe, mlx5_wqe_ctrl(sq->qpn_ds, opcode, MLX5_WQE_RDMA_DS), sq->pi,
		      mlx5_wqe_flags(fm_ce_se), raddr, mlx5_wqe_rkey(rkey), len,
		      mlx5_wqe_lkey(lkey), laddr);
	slot->cookie = cookie;
	sq->last_ctrl = wqe;
	sq->pi++;
}

/**
 * Ring the doorbell for everything posted since the last one: record first,
 * store fence, 64-bit write of the last WQE's first 8 bytes to the BlueFlame
 * half, store fence (flushes write combining), toggle the half.
 */
static __rte_always_inline void
mlx5_sq_doorbell(struct mlx5_sq *sq)
{
	rte_io_wmb();
	*sq->dbrec = rte_cpu_to_be_32(sq->pi);
	rte_wmb();
	*(volatile uint64_t *)(sq->bf_reg + sq->bf_offset) = *sq->last_ctrl;
	rte_wmb();
	sq->bf_offset ^= sq->bf_size;
	sq->db_pi = sq->pi;
}

/**
 * The next CQE if software owns it, else NULL. Owner bit must equal the CI's
 * wrap parity and the opcode must not be INVALID; the load barrier keeps the
 * other fields from being read before the owner byte.
 */
static __rte_always_inline const struct mlx5_cqe64 *
mlx5_cq_next(const struct mlx5_cq *cq)
{
	const struct mlx5_cqe64 *cqe =
		(const struct mlx5_cqe64 *)(cq->buf + cq->cqe_offset +
					    ((size_t)(cq->ci & cq->mask) << cq->cqe_shift));
	uint8_t op_own = *(volatile const uint8_t *)&cqe->op_own;

	if ((op_own & MLX5_CQE_OWNER_MASK) != !!(cq->ci & cq->cqe_cnt) ||
	    (op_own >> 4) == MLX5_CQE_INVALID)
		return NULL;
	rte_io_rmb();
	return cqe;
}

/** Tell the device how far the CQ has been consumed. */
static __rte_always_inline void
mlx5_cq_update_ci(struct mlx5_cq *cq)
{
	rte_io_wmb();
	*cq->dbrec = rte_cpu_to_be_32(cq->ci & 0xffffff);
}

/** WQEBBs of the WQE starting at WQEBB @p idx (from its ds field). */
static __rte_always_inline uint16_t
mlx5_wqe_wqebbs(const struct mlx5_sq *sq, uint16_t idx)
{
	const uint8_t *ctrl = sq->buf + (size_t)(idx & sq->mask) * TERN_MLX5_WQEBB;

	return (uint16_t)(((ctrl[7] & 0x3f) + 3) / 4);
}

/**
 * Report completed WQEs in order, from the report index up to the done index.
 * @return completions written (at most @p max).
 */
static __rte_always_inline uint16_t
mlx5_sq_report(struct mlx5_sq *sq, struct tern_completion *cpl, uint16_t max)
{
	uint16_t n = 0;

	while (sq->rep != sq->done && n < max) {
		uint16_t idx = sq->rep & sq->mask;
		struct mlx5_slot *slot = &sq->slots[idx];
		const uint8_t *wqe = sq->buf + (size_t)idx * TERN_MLX5_WQEBB;
		/* First word after ctrl + raddr: data byte_count or inline header. */
		uint32_t len = rte_be_to_cpu_32(*(const uint32_t *)(wqe + 32)) & ~MLX5_INLINE_SEG;

		cpl[n].cookie = slot->cookie;
		cpl[n].status = slot->status;
		cpl[n].length = slot->status == 0 ? len : 0;
		slot->status = 0;
		slot->reposts = 0;
		sq->rep += (uint16_t)(((wqe[7] & 0x3f) + 3) / 4);
		n++;
	}
	return n;
}

/** Nothing posted is waiting for a completion. */
static inline int
mlx5_sq_idle(const struct mlx5_sq *sq)
{
	return sq->rep == sq->pi;
}

/** Idle, and no CQE is still due from the device: the QP may be reset. */
static inline int
mlx5_sq_quiet(const struct mlx5_sq *sq)
{
	return mlx5_sq_idle(sq) && !sq->cancelled;
}

#endif /* TERN_MLX5_QUEUE_H */
