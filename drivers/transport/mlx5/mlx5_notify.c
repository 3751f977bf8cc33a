/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Notifications over mlx5 (mlx5_notify.h): frame codecs, receive queues,
 * the receive side's poll, the SEND and status WQEs. Kept apart from the
 * WRITE/READ post path, which it does not touch.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_log.h>

#include <tern_notify_driver.h>
#include <tern_time.h>

#include "mlx5_notify.h"
#include "tern_mlx5_internal.h"

static void
put32(uint8_t *p, uint32_t v)
{
	v = rte_cpu_to_be_32(v);
	memcpy(p, &v, 4);
}

static void
put64(uint8_t *p, uint64_t v)
{
	v = rte_cpu_to_be_64(v);
	memcpy(p, &v, 8);
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return rte_be_to_cpu_32(v);
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return rte_be_to_cpu_64(v);
}

static int
name_ok(const uint8_t *s, uint32_t len)
{
	uint32_t i;

	if (len == 0 || len > MLX5_NOTIFY_NODE_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		uint8_t c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

int
mlx5_notify_encode(void *buf, uint32_t cap, const char *sender, uint64_t tag, uint64_t token,
		   const void *msg, uint32_t msg_len)
{
	uint8_t *p = buf;
	size_t slen = sender != NULL ? strnlen(sender, MLX5_NOTIFY_NODE_MAX + 1) : 0;

	if (buf == NULL || !name_ok((const uint8_t *)sender, (uint32_t)slen) ||
	    (msg == NULL && msg_len != 0))
		return -EINVAL;
	if (msg_len > MLX5_NOTIFY_MSG_MAX || cap < MLX5_NOTIFY_HDR + slen + msg_len)
		return -EMSGSIZE;
	put32(p, MLX5_NOTIFY_MAGIC);
	p[4] = 1;
	p[5] = (uint8_t)slen;
	p[6] = (uint8_t)(msg_len >> 8);
	p[7] = (uint8_t)msg_len;
	put64(p + 8, tag);
	put64(p + 16, token);
	memcpy(p + MLX5_NOTIFY_HDR, sender, slen);
	if (msg_len != 0)
		memcpy(p + MLX5_NOTIFY_HDR + slen, msg, msg_len);
	return (int)(MLX5_NOTIFY_HDR + slen + msg_len);
}

int
mlx5_notify_decode(const void *buf, uint32_t len, struct mlx5_notify_msg *out)
{
	const uint8_t *p = buf;
	uint32_t slen, mlen;

	if (len < MLX5_NOTIFY_HDR)
		return len >= 5 && get32(p) == MLX5_NOTIFY_MAGIC && p[4] == 1 ? -EPROTO : -EBADMSG;
	if (get32(p) != MLX5_NOTIFY_MAGIC || p[4] != 1)
		return -EBADMSG;
	slen = p[5];
	mlen = (uint32_t)p[6] << 8 | p[7];
	if (mlen > MLX5_NOTIFY_MSG_MAX)
		return -EMSGSIZE;
	if (MLX5_NOTIFY_HDR + slen + mlen != len)
		return -EPROTO;
	if (!name_ok(p + MLX5_NOTIFY_HDR, slen))
		return -EINVAL;
	out->tag = get64(p + 8);
	out->token = get64(p + 16);
	memcpy(out->sender, p + MLX5_NOTIFY_HDR, slen);
	out->sender[slen] = '\0';
	out->msg = p + MLX5_NOTIFY_HDR + slen;
	out->msg_len = mlen;
	return 0;
}

void
mlx5_status_encode(void *buf, uint64_t token, int32_t status)
{
	uint8_t *p = buf;

	put32(p, MLX5_STATUS_MAGIC);
	p[4] = 1;
	p[5] = 0;
	p[6] = 0;
	p[7] = 0;
	put32(p + 8, (uint32_t)status);
	put64(p + 12, token);
}

int
mlx5_status_decode(const void *buf, uint32_t len, uint64_t *token, int32_t *status)
{
	const uint8_t *p = buf;
	int32_t s;

	if (len < 8 || get32(p) != MLX5_STATUS_MAGIC || p[4] != 1 || p[5] != 0 || p[6] != 0 ||
	    p[7] != 0)
		return -EBADMSG;
	if (len != MLX5_NOTIFY_STATUS_LEN)
		return -EPROTO;
	s = (int32_t)get32(p + 8);
	if (s > 0 || s < -4095)
		return -EINVAL;
	*token = get64(p + 12);
	*status = s;
	return 0;
}

int
mlx5_notify_deliver_queue(void *queue, const char *sender, uint64_t tag, const void *msg,
			  uint32_t msg_len)
{
	return tern_notify_deliver(queue, sender, tag, msg, msg_len);
}

/* Write RECV WQE @p idx: one scatter entry for slot idx's buffer, then (when
 * the WQE has room for more) an entry with the invalid lkey ending the list,
 * as rdma-core's mlx5_post_recv() does. */
static void
rq_write(struct mlx5_rq *rq, uint16_t idx)
{
	uint32_t slot = idx & rq->mask;
	uint64_t *seg = (uint64_t *)(rq->ring + (size_t)slot * rq->stride);

	seg[0] = (uint64_t)rte_cpu_to_be_32(MLX5_NOTIFY_BUF) | (uint64_t)rte_cpu_to_be_32(rq->lkey)
								       << 32;
	seg[1] = rte_cpu_to_be_64((uint64_t)(uintptr_t)(rq->bufs + (size_t)slot * MLX5_NOTIFY_BUF));
	if (rq->stride > 16) {
		seg[2] = (uint64_t)rte_cpu_to_be_32(MLX5_INVALID_LKEY) << 32;
		seg[3] = 0;
	}
}

int
mlx5_rq_init(struct mlx5_rq *rq, const struct tern_mlx5_rq_view *view, uint32_t qpn, void *bufs,
	     uint32_t lkey)
{
	uint32_t i;

	if (rq == NULL || view == NULL || bufs == NULL || view->buf == NULL ||
	    view->dbrec == NULL || view->wqe_cnt == 0 || view->wqe_cnt > 32768 ||
	    !rte_is_power_of_2(view->wqe_cnt) || view->stride < 16 || view->stride > 512 ||
	    !rte_is_power_of_2(view->stride))
		return -EINVAL;
	memset(rq, 0, sizeof(*rq));
	rq->ring = view->buf;
	rq->mask = view->wqe_cnt - 1;
	rq->stride = view->stride;
	rq->dbrec = view->dbrec;
	rq->bufs = bufs;
	rq->lkey = lkey;
	rq->qpn = qpn;
	for (i = 0; i < view->wqe_cnt; i++)
		rq_write(rq, (uint16_t)i);
	rq->head = (uint16_t)view->wqe_cnt;
	rte_io_wmb();
	*rq->dbrec = rte_cpu_to_be_32(rq->head);
	return 0;
}

void
mlx5_rq_repost(struct mlx5_rq *rq)
{
	rq_write(rq, rq->head);
	rq->head++;
	rte_io_wmb();
	*rq->dbrec = rte_cpu_to_be_32(rq->head);
}

int
mlx5_notify_rx_init(struct mlx5_notify_rx *rx, const struct tern_mlx5_cq_view *cq,
		    mlx5_notify_deliver_t deliver, mlx5_notify_status_t on_status, void *arg)
{
	int rc;

	if (rx == NULL || deliver == NULL)
		return -EINVAL;
	memset(rx, 0, sizeof(*rx));
	rc = mlx5_cq_init(&rx->cq, cq);
	if (rc != 0)
		return rc;
	rx->deliver = deliver;
	rx->on_status = on_status;
	rx->arg = arg;
	return 0;
}

int
mlx5_notify_rx_add(struct mlx5_notify_rx *rx, struct mlx5_rq *rq, struct mlx5_sq *sq)
{
	if (rx->nb_qps == MLX5_NOTIFY_QP_MAX)
		return -ENOSPC;
	rx->rqs[rx->nb_qps] = rq;
	rx->sqs[rx->nb_qps] = sq;
	rx->nb_qps++;
	return 0;
}

void
mlx5_notify_rx_remove(struct mlx5_notify_rx *rx, const struct mlx5_rq *rq)
{
	unsigned int q;

	for (q = 0; q < rx->nb_qps; q++) {
		if (rx->rqs[q] != rq)
			continue;
		rx->nb_qps--;
		rx->rqs[q] = rx->rqs[rx->nb_qps];
		rx->sqs[q] = rx->sqs[rx->nb_qps];
		rx->rqs[rx->nb_qps] = NULL;
		rx->sqs[rx->nb_qps] = NULL;
		return;
	}
}

/* Count a refusal; log it, at most once a second (a hostile peer must not
 * flood the log), with how many went unlogged since. */
static void
refuse(struct mlx5_notify_rx *rx, uint32_t qpn, const char *why, uint32_t len)
{
	uint64_t now = tern_clock_ms();

	rx->st.refused++;
	if (now < rx->log_at_ms) {
		rx->log_dropped++;
		return;
	}
	TERN_MLX5_LOG(WARNING,
		      "notify: QP 0x%x: frame of %u bytes refused: %s (%" PRIu64
		      " more refused since the last line)",
		      qpn, len, why, rx->log_dropped);
	rx->log_dropped = 0;
	rx->log_at_ms = now + 1000;
}

static void
rx_frame(struct mlx5_notify_rx *rx, unsigned int q, const struct mlx5_cqe64 *cqe)
{
	struct mlx5_rq *rq = rx->rqs[q];
	const uint8_t *buf = rq->bufs + (size_t)(rq->tail & rq->mask) * MLX5_NOTIFY_BUF;
	uint32_t len = rte_be_to_cpu_32(cqe->byte_cnt);
	uint8_t op = cqe->op_own >> 4;
	struct mlx5_notify_msg m;
	uint64_t token;
	int32_t status;
	int rc;

	if (((rte_be_to_cpu_16(cqe->wqe_counter) ^ rq->tail) & rq->mask) != 0) {
		/* RECVs complete in order: a CQE naming another one lies. */
		refuse(rx, rq->qpn, "CQE for a RECV out of order", len);
		return;
	}
	if (op != MLX5_CQE_RESP_SEND) {
		/* SEND with immediate, WRITE with immediate: never sent by tern. */
		refuse(rx, rq->qpn, "unexpected receive opcode", len);
		return;
	}
	if (len > MLX5_NOTIFY_BUF) {
		/* The device cannot have scattered more than the buffer: the
		 * CQE lies. Nothing of the buffer is trusted. */
		refuse(rx, rq->qpn, "byte count larger than the receive buffer", len);
		return;
	}
	if (len >= 4 && get32(buf) == MLX5_STATUS_MAGIC) {
		rc = mlx5_status_decode(buf, len, &token, &status);
		if (rc != 0) {
			refuse(rx, rq->qpn, "malformed status frame", len);
			return;
		}
		rx->st.statuses++;
		if (rx->on_status != NULL)
			rx->on_status(rx->arg, rq->qpn, token, status);
		return;
	}
	rc = mlx5_notify_decode(buf, len, &m);
	if (rc != 0) {
		refuse(rx, rq->qpn,
		       rc == -EPROTO	 ? "lengths do not add up to the byte count"
		       : rc == -EMSGSIZE ? "message over 256 bytes"
		       : rc == -EINVAL	 ? "bad sender name"
					 : "not a notify frame",
		       len);
		return;
	}
	rc = rx->deliver(rx->arg, m.sender, m.tag, m.msg, m.msg_len);
	if (rc == 0)
		rx->st.delivered++;
	else if (rc == -ENOBUFS)
		rx->st.full++;
	else
		refuse(rx, rq->qpn, "refused by the queue", len);
	if (rx->sqs[q] != NULL && mlx5_post_status(rx->sqs[q], m.token, rc, 0) == 0)
		mlx5_sq_doorbell(rx->sqs[q]);
	else if (rx->sqs[q] != NULL)
		rx->st.replies_lost++;
}

unsigned int
mlx5_notify_rx_poll(struct mlx5_notify_rx *rx, unsigned int max)
{
	unsigned int n = 0, q;
	const struct mlx5_cqe64 *cqe;

	while (n < max && (cqe = mlx5_cq_next(&rx->cq)) != NULL) {
		uint32_t qpn = rte_be_to_cpu_32(cqe->sop_drop_qpn) & 0xffffff;
		uint8_t op = cqe->op_own >> 4;

		rx->cq.ci++;
		n++;
		for (q = 0; q < rx->nb_qps && rx->rqs[q]->qpn != qpn; q++)
			;
		if (q == rx->nb_qps) {
			refuse(rx, qpn, "CQE of a QP this receive side does not serve", 0);
			continue;
		}
		if (op == MLX5_CQE_RESP_ERR || op == MLX5_CQE_REQ_ERR) {
			const struct mlx5_err_cqe *e = (const struct mlx5_err_cqe *)cqe;

			rx->st.errors++;
			if (e->syndrome != MLX5_CQE_SYNDROME_WR_FLUSH_ERR)
				TERN_MLX5_LOG(ERR, "notify: QP 0x%x: receive failed: %s (0x%02x)",
					      qpn, mlx5_syndrome_name(e->syndrome), e->syndrome);
			/* The QP is in ERR: its RECVs come back flushed; reposting
			 * is for its recovery. */
			rx->rqs[q]->error = 1;
			rx->rqs[q]->tail++;
			continue;
		}
		rx_frame(rx, q, cqe);
		rx->rqs[q]->tail++;
		mlx5_rq_repost(rx->rqs[q]);
	}
	if (n != 0)
		mlx5_cq_update_ci(&rx->cq);
	return n;
}

void
mlx5_post_send(struct mlx5_sq *sq, const void *frame, uint32_t len, uint32_t lkey, int signal,
	       uint64_t cookie)
{
	uint16_t idx = sq->pi & sq->mask;
	uint64_t *wqe = (uint64_t *)(sq->buf + ((size_t)idx * TERN_MLX5_WQEBB));

	/* ctrl (ds 2: ctrl and one data segment), no raddr segment. */
	wqe[0] = mlx5_wqe_ctrl(sq->qpn_ds, MLX5_OPCODE_SEND, 2) |
		 rte_cpu_to_be_32((uint32_t)sq->pi << 8);
	wqe[1] = mlx5_wqe_flags((uint8_t)(mlx5_sq_signal(sq, 1, signal)));
	wqe[2] = (uint64_t)rte_cpu_to_be_32(len) | mlx5_wqe_lkey(lkey);
	wqe[3] = rte_cpu_to_be_64((uint64_t)(uintptr_t)frame);
	/* mlx5_sq_report() reads a length at byte 32: none here. */
	wqe[4] = 0;
	sq->slots[idx].cookie = cookie;
	sq->last_ctrl = wqe;
	sq->pi++;
}

int
mlx5_post_status(struct mlx5_sq *sq, uint64_t token, int32_t status, uint64_t cookie)
{
	uint16_t idx = sq->pi & sq->mask;
	uint64_t *wqe = (uint64_t *)(sq->buf + ((size_t)idx * TERN_MLX5_WQEBB));
	uint8_t *data = (uint8_t *)&wqe[2];
	/* ctrl + inline header and 20 bytes: 3 ds, one WQEBB. */
	uint32_t ds = 1 + (4 + MLX5_NOTIFY_STATUS_LEN + 15) / 16;

	if (mlx5_sq_room(sq) < 1 || sq->error)
		return -ENOSPC;
	wqe[0] = mlx5_wqe_ctrl(sq->qpn_ds, MLX5_OPCODE_SEND, ds) |
		 rte_cpu_to_be_32((uint32_t)sq->pi << 8);
	wqe[1] = mlx5_wqe_flags(mlx5_sq_signal(sq, 1, 0));
	put32(data, MLX5_NOTIFY_STATUS_LEN | MLX5_INLINE_SEG);
	mlx5_status_encode(data + 4, token, status);
	memset(data + 4 + MLX5_NOTIFY_STATUS_LEN, 0, ds * 16 - 16 - 4 - MLX5_NOTIFY_STATUS_LEN);
	sq->slots[idx].cookie = cookie;
	sq->last_ctrl = wqe;
	sq->pi++;
	return 0;
}
