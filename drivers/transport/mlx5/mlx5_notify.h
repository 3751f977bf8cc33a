/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_MLX5_NOTIFY_H
#define TERN_MLX5_NOTIFY_H

/**
 * @file
 * Notifications over mlx5 (driver-private; doc/mlx5.md, "Notifications").
 *
 * The initiator sends a notification as a SEND on an RC QP to the target
 * node, posted only after every WRITE of its batch has completed (a CQE
 * without error proves the responder acknowledged the data, which RC
 * acknowledges only once it is placed in the target's memory), so the target
 * sees the frame after the data. The target consumes the SEND from a ring of
 * receive buffers (registered memory) on the QP's receive queue, parses the
 * frame strictly, delivers it, reposts the buffer and answers with a status
 * frame (0 or -ENOBUFS) as a SEND on the same connection, which completes
 * the initiator's notification.
 *
 * Frames (big-endian, one SEND each):
 * - notify: magic "TNF1", version 1, sender_len (1..63), msg_len (0..256),
 *   tag (64), token (64), sender (sender_len bytes, no NUL), msg.
 * - status: magic "TNS1", version 1, reserved 0 (3 bytes), status (int32,
 *   0 or a negative errno), token (64): 20 bytes, sent inline.
 */

#include <stdint.h>

#include "mlx5_queue.h"

/** Longest message a notification carries. */
#define MLX5_NOTIFY_MSG_MAX 256u
/** Longest sender name, without a terminating NUL. */
#define MLX5_NOTIFY_NODE_MAX 63u
/** Bytes of a notify frame before the sender name. */
#define MLX5_NOTIFY_HDR 24u
/** Bytes of a status frame. */
#define MLX5_NOTIFY_STATUS_LEN 20u
/** Largest frame, and the size of one receive buffer (power of two). */
#define MLX5_NOTIFY_FRAME_MAX (MLX5_NOTIFY_HDR + MLX5_NOTIFY_NODE_MAX + MLX5_NOTIFY_MSG_MAX)
#define MLX5_NOTIFY_BUF	      512u

#define MLX5_NOTIFY_MAGIC 0x544e4631u /* "TNF1" */
#define MLX5_STATUS_MAGIC 0x544e5331u /* "TNS1" */

/** One receive queue as the device exposes it (mlx5dv_qp.rq). */
struct tern_mlx5_rq_view {
	void *buf;		  /**< first RECV WQE */
	uint32_t wqe_cnt;	  /**< RECV WQEs in the ring, power of two */
	uint32_t stride;	  /**< bytes per RECV WQE: 16 x scatter entries, power of two */
	volatile uint32_t *dbrec; /**< receive doorbell record (mlx5dv_qp.dbrec[0]) */
};

/** A decoded notify frame (pointers into the receive buffer). */
struct mlx5_notify_msg {
	uint64_t tag;
	uint64_t token;
	char sender[MLX5_NOTIFY_NODE_MAX + 1]; /**< NUL-terminated copy */
	const uint8_t *msg;
	uint32_t msg_len;
};

/**
 * Encode a notify frame into @p buf (@p cap bytes).
 * @return its length, or -EINVAL (sender empty, too long or with a byte
 *         outside [A-Za-z0-9_.:-]; NULL @p msg with a length), -EMSGSIZE
 *         (@p msg_len over MLX5_NOTIFY_MSG_MAX, or @p cap too small).
 */
int mlx5_notify_encode(void *buf, uint32_t cap, const char *sender, uint64_t tag, uint64_t token,
		       const void *msg, uint32_t msg_len);

/**
 * Decode the notify frame of @p len bytes (the CQE's byte count) at @p buf.
 * @return 0, or -EBADMSG (not a notify frame: magic, version), -EPROTO (the
 *         lengths lie: header and fields do not add up to @p len), -EINVAL
 *         (sender name empty or with a byte outside [A-Za-z0-9_.:-]),
 *         -EMSGSIZE (msg_len over MLX5_NOTIFY_MSG_MAX).
 */
int mlx5_notify_decode(const void *buf, uint32_t len, struct mlx5_notify_msg *out);

/** Encode a status frame (MLX5_NOTIFY_STATUS_LEN bytes). */
void mlx5_status_encode(void *buf, uint64_t token, int32_t status);

/**
 * Decode a status frame. @return 0, -EBADMSG (not one), -EPROTO (@p len is
 * not MLX5_NOTIFY_STATUS_LEN), -EINVAL (status positive or below -4095).
 */
int mlx5_status_decode(const void *buf, uint32_t len, uint64_t *token, int32_t *status);

/** Receive queue state: a fixed buffer per RECV slot, reposted in order. */
struct mlx5_rq {
	uint8_t *ring;		  /**< RECV WQEs */
	uint32_t mask;		  /**< wqe_cnt - 1 */
	uint32_t stride;	  /**< bytes per RECV WQE */
	volatile uint32_t *dbrec; /**< receive doorbell record */
	uint16_t head;		  /**< RECVs posted (free running) */
	uint16_t tail;		  /**< RECVs consumed */
	uint8_t *bufs;		  /**< wqe_cnt buffers of MLX5_NOTIFY_BUF bytes */
	uint32_t lkey;		  /**< their key */
	uint32_t qpn;		  /**< the QP the RQ belongs to */
	uint8_t error;		  /**< a responder error: the QP is in ERR */
};

/**
 * Set up an RQ over @p view and post every RECV (slot i receives into
 * @p bufs + i x MLX5_NOTIFY_BUF, registered under @p lkey).
 * @return 0, or -EINVAL (a view the driver cannot drive: counts not powers of
 *         two, stride below 16 or above 512, NULL pointers).
 */
int mlx5_rq_init(struct mlx5_rq *rq, const struct tern_mlx5_rq_view *view, uint32_t qpn, void *bufs,
		 uint32_t lkey);

/** Post the RECV of the slot just consumed again and ring the record. */
void mlx5_rq_repost(struct mlx5_rq *rq);

/** Called for each notification frame received; returns 0 or -ENOBUFS. */
typedef int (*mlx5_notify_deliver_t)(void *arg, const char *sender, uint64_t tag, const void *msg,
				     uint32_t msg_len);
/**
 * The contract's delivery (tern_notify_driver.h) as a deliver callback:
 * tern_notify_deliver(@p queue, ...), @p queue a struct tern_notify_queue.
 * @return 0, -ENOBUFS (full), -EINVAL (refused as malformed by the queue).
 */
int mlx5_notify_deliver_queue(void *queue, const char *sender, uint64_t tag, const void *msg,
			      uint32_t msg_len);

/** Called for each status frame received (the initiator's completion). */
typedef void (*mlx5_notify_status_t)(void *arg, uint32_t qpn, uint64_t token, int32_t status);

/** Counters of one receive side (rx). */
struct mlx5_notify_stats {
	uint64_t delivered;    /**< frames the queue accepted */
	uint64_t full;	       /**< frames refused by a full queue (-ENOBUFS answered) */
	uint64_t refused;      /**< malformed frames or CQEs refused (reason logged) */
	uint64_t statuses;     /**< status frames received */
	uint64_t errors;       /**< responder error CQEs (and flushes) */
	uint64_t replies_lost; /**< a status that found the SQ full (initiator times out) */
};

/** Largest QPs one receive side serves. */
#define MLX5_NOTIFY_QP_MAX 16

/** The receive side of one lcore: its receive CQ and the RQs on it. */
struct mlx5_notify_rx {
	struct mlx5_cq cq;
	unsigned int nb_qps;
	struct mlx5_rq *rqs[MLX5_NOTIFY_QP_MAX];
	struct mlx5_sq *sqs[MLX5_NOTIFY_QP_MAX]; /**< where to answer (NULL: no answer) */
	mlx5_notify_deliver_t deliver;
	mlx5_notify_status_t on_status;
	void *arg;
	struct mlx5_notify_stats st;
	uint64_t log_at_ms;   /**< next time a refusal may be logged */
	uint64_t log_dropped; /**< refusals not logged since */
};

/** Set up @p rx over a receive CQ. @return 0 or -EINVAL. */
int mlx5_notify_rx_init(struct mlx5_notify_rx *rx, const struct tern_mlx5_cq_view *cq,
			mlx5_notify_deliver_t deliver, mlx5_notify_status_t on_status, void *arg);

/**
 * Serve @p rq (and answer on @p sq, which may be NULL) on @p rx.
 * @return 0 or -ENOSPC (MLX5_NOTIFY_QP_MAX reached).
 */
int mlx5_notify_rx_add(struct mlx5_notify_rx *rx, struct mlx5_rq *rq, struct mlx5_sq *sq);

/** Stop serving @p rq on @p rx (nothing when it is not served there). */
void mlx5_notify_rx_remove(struct mlx5_notify_rx *rx, const struct mlx5_rq *rq);

/**
 * Take up to @p max receive CQEs: notify frames are parsed and delivered (and
 * answered with a status SEND), status frames handed to on_status, anything
 * else refused and counted, with a reason logged at most once a second.
 * Every consumed RECV is posted again. Never blocks.
 * @return CQEs taken.
 */
unsigned int mlx5_notify_rx_poll(struct mlx5_notify_rx *rx, unsigned int max);

/**
 * Post a notify SEND of the frame already encoded at @p frame (@p len bytes,
 * registered under @p lkey, untouched until the WQE is reported) at the SQ's
 * producer index; the caller has checked one WQEBB of room and rings the
 * doorbell. CQE requested when @p signal.
 */
void mlx5_post_send(struct mlx5_sq *sq, const void *frame, uint32_t len, uint32_t lkey, int signal,
		    uint64_t cookie);

/**
 * Post a status SEND (inline, one WQEBB) answering @p token with @p status.
 * @return 0, or -ENOSPC (no WQEBB free).
 */
int mlx5_post_status(struct mlx5_sq *sq, uint64_t token, int32_t status, uint64_t cookie);

#endif /* TERN_MLX5_NOTIFY_H */
