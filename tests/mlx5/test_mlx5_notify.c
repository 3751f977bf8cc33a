/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Notifications over mlx5 on the device model (mlx5_notify.h): two nodes,
 * an initiator QP and a target QP connected as the handshake connects them,
 * both with a receive queue. The driver's own code posts the WRITEs, the
 * notify SEND, the RECVs and the status answers; the model executes them
 * (SEND, RNR, receive CQEs) from rdma-core's formats.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <tern_notify.h>

#include "mlx5_connect.h"
#include "mlx5_ctl.h"
#include "mlx5_model.h"
#include "mlx5_notify.h"
#include "mlx5_wire.h"
#include "tern_mlx5_internal.h"

#define REGION (16u << 10)
#define CHUNKS 4u
#define SQ_CNT 64u
#define RQ_CNT 16u

struct side {
	void *cq_h, *rcq_h, *qp_h;
	struct tern_mlx5_sq_view sqv;
	struct tern_mlx5_cq_view cqv, rcqv;
	struct tern_mlx5_rq_view rqv;
	struct tern_mlx5_conn_params local;
	struct mlx5_sq sq;
	struct mlx5_cq cq;
	struct mlx5_slot slots[SQ_CNT];
	struct mlx5_rq rq;
	struct mlx5_notify_rx rx;
	uint8_t *rbufs;
	uint32_t rkey;
};

struct world {
	struct mlx5_model *m;
	struct side ini, tgt;
	uint8_t *src, *dst, *frames;
	uint32_t src_key, dst_key, frames_key;
	uint64_t round;
	/* target client */
	uint64_t seen, stale, last_tag;
	char last_sender[64];
	int full; /* the target queue refuses */
	/* initiator completions */
	uint64_t statuses, last_token;
	int32_t last_status;
	int threaded;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
pattern(uint64_t round, uint64_t word)
{
	uint64_t x = round * 0x9e3779b97f4a7c15ull + word + 1;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* The target's client: the moment it sees the notification, every byte. */
static int
deliver(void *arg, const char *sender, uint64_t tag, const void *msg, uint32_t len)
{
	struct world *w = arg;
	const uint64_t *d = (const uint64_t *)w->dst;
	uint32_t i;

	if (w->full)
		return -ENOBUFS;
	w->seen++;
	w->last_tag = tag;
	snprintf(w->last_sender, sizeof(w->last_sender), "%s", sender);
	for (i = 0; i < REGION / 8; i++)
		if (d[i] != pattern(tag, i))
			w->stale++;
	if (len != 8 || memcmp(msg, &tag, 8) != 0)
		w->stale++;
	return 0;
}

static void
on_status(void *arg, uint32_t qpn, uint64_t token, int32_t status)
{
	struct world *w = arg;

	(void)qpn;
	w->statuses++;
	w->last_token = token;
	w->last_status = status;
}

static void
step(struct world *w)
{
	if (!w->threaded)
		mlx5_model_step(w->m);
}

static void
side_open(struct world *w, struct side *s, int node, int with_rq)
{
	const struct tern_mlx5_provider *p = &mlx5_model_provider;

	mlx5_model_set_node(w->m, node);
	assert_int_equal(p->cq_open(w->m, 0, 256, &s->cqv, &s->cq_h), 0);
	assert_int_equal(p->cq_open(w->m, 0, 256, &s->rcqv, &s->rcq_h), 0);
	s->sqv.max_inline = 64;
	assert_int_equal(p->qp_create_rq(w->m, s->cq_h, s->rcq_h, SQ_CNT, &s->sqv, RQ_CNT, &s->rqv,
					 &s->local, &s->qp_h),
			 0);
	assert_int_equal(mlx5_sq_init(&s->sq, &s->sqv, s->slots, 8, 0), 0);
	assert_int_equal(mlx5_cq_init(&s->cq, &s->cqv), 0);
	s->rbufs = aligned_alloc(4096, RQ_CNT * MLX5_NOTIFY_BUF);
	s->rkey =
		mlx5_model_mr_add(w->m, node, s->rbufs, RQ_CNT * MLX5_NOTIFY_BUF, MODEL_ACCESS_ALL);
	assert_int_equal(mlx5_notify_rx_init(&s->rx, &s->rcqv, deliver, on_status, w), 0);
	if (with_rq) {
		assert_int_equal(mlx5_rq_init(&s->rq, &s->rqv, s->sqv.qpn, s->rbufs, s->rkey), 0);
		assert_int_equal(mlx5_notify_rx_add(&s->rx, &s->rq, &s->sq), 0);
	}
	mlx5_model_set_node(w->m, 0);
}

static struct world *
world_open(int threaded, int tgt_rq)
{
	struct world *w = calloc(1, sizeof(*w));
	const struct tern_mlx5_provider *p = &mlx5_model_provider;

	w->m = mlx5_model_create();
	mlx5_model_set_sq_exact(w->m, 1);
	side_open(w, &w->ini, 0, 1);
	side_open(w, &w->tgt, 1, tgt_rq);
	assert_int_equal(p->qp_connect(w->m, w->ini.qp_h, &w->tgt.local), 0);
	assert_int_equal(p->qp_connect(w->m, w->tgt.qp_h, &w->ini.local), 0);
	w->src = aligned_alloc(4096, REGION);
	w->dst = aligned_alloc(4096, REGION);
	w->frames = aligned_alloc(4096, SQ_CNT * MLX5_NOTIFY_BUF);
	memset(w->dst, 0, REGION);
	w->src_key = mlx5_model_mr_add(w->m, 0, w->src, REGION, MODEL_ACCESS_ALL);
	w->dst_key = mlx5_model_mr_add(w->m, 1, w->dst, REGION, MODEL_ACCESS_ALL);
	w->frames_key =
		mlx5_model_mr_add(w->m, 0, w->frames, SQ_CNT * MLX5_NOTIFY_BUF, MODEL_ACCESS_ALL);
	w->threaded = threaded;
	if (threaded)
		mlx5_model_start(w->m);
	return w;
}

static void
world_close(struct world *w)
{
	const char *first = NULL;

	mlx5_model_stop(w->m);
	assert_int_equal(mlx5_model_violations(w->m, &first), 0);
	mlx5_model_destroy(w->m);
	free(w->ini.rbufs);
	free(w->tgt.rbufs);
	free(w->src);
	free(w->dst);
	free(w->frames);
	free(w);
}

/* Reap an SQ's CQEs: @return the first error (negative errno), 0, or 1 when
 * nothing was pending. */
static int
reap(struct side *s)
{
	const struct mlx5_cqe64 *cqe;
	struct tern_completion c[SQ_CNT];
	int rc = 1;

	while ((cqe = mlx5_cq_next(&s->cq)) != NULL) {
		uint8_t op = cqe->op_own >> 4;
		int err = 0;

		s->cq.ci++;
		if (op == MLX5_CQE_REQ)
			s->sq.done =
				(uint16_t)(rte_be_to_cpu_16(cqe->wqe_counter) +
					   mlx5_wqe_wqebbs(&s->sq,
							   rte_be_to_cpu_16(cqe->wqe_counter)));
		else
			err = mlx5_cqe_error(&s->sq, (const struct mlx5_err_cqe *)cqe);
		mlx5_sq_report(&s->sq, c, SQ_CNT);
		if (rc >= 0)
			rc = err < 0 ? err : 0;
	}
	mlx5_cq_update_ci(&s->cq);
	return rc;
}

/* The batch: CHUNKS WRITEs of the round's fresh pattern, the last signalled. */
static void
post_writes(struct world *w)
{
	uint64_t *s = (uint64_t *)w->src;
	uint32_t i, chunk = REGION / CHUNKS;

	for (i = 0; i < REGION / 8; i++)
		s[i] = pattern(w->round, i);
	for (i = 0; i < CHUNKS; i++)
		mlx5_post_rdma(&w->ini.sq, MLX5_OPCODE_RDMA_WRITE, (uintptr_t)w->src + i * chunk,
			       w->src_key, chunk, (uintptr_t)w->dst + i * chunk, w->dst_key,
			       mlx5_sq_signal(&w->ini.sq, 1, i == CHUNKS - 1), i);
	mlx5_sq_doorbell(&w->ini.sq);
}

static void
post_notify(struct world *w, uint64_t tag)
{
	uint8_t *f = w->frames + (size_t)(w->ini.sq.pi & w->ini.sq.mask) * MLX5_NOTIFY_BUF;
	int len = mlx5_notify_encode(f, MLX5_NOTIFY_BUF, "prefill-0", tag, tag, &tag, 8);

	assert_true(len > 0);
	mlx5_post_send(&w->ini.sq, f, (uint32_t)len, w->frames_key, 1, 100);
	mlx5_sq_doorbell(&w->ini.sq);
}

/* Wait for the initiator's CQEs: @return the batch's result. */
static int
wait_sq(struct world *w)
{
	uint64_t until = now_ms() + 5000;
	int rc;

	while ((rc = reap(&w->ini)) == 1 || !mlx5_sq_idle(&w->ini.sq)) {
		if (rc < 0)
			return rc;
		assert_true(now_ms() < until);
		step(w);
	}
	return rc;
}

/* The guarantee: @p rounds rounds, the device synchronous (stepped between
 * the driver's polls) or on its own thread. */
static void
guarantee(uint64_t rounds, int threaded)
{
	struct world *w = world_open(threaded, 1);
	uint64_t until = now_ms() + 480000;

	for (w->round = 1; w->round <= rounds; w->round++) {
		uint64_t seen = w->seen, statuses = w->statuses;

		post_writes(w);
		/* The uniform contract: the notification only after the batch's
		 * WRITEs completed without error. */
		assert_int_equal(wait_sq(w), 0);
		post_notify(w, w->round);
		while (w->seen == seen || w->statuses == statuses) {
			step(w);
			mlx5_notify_rx_poll(&w->tgt.rx, 16);
			reap(&w->tgt);
			mlx5_notify_rx_poll(&w->ini.rx, 16);
			reap(&w->ini);
			assert_true(now_ms() < until);
		}
		assert_int_equal(w->last_tag, w->round);
		assert_int_equal(w->last_token, w->round);
		assert_int_equal(w->last_status, 0);
	}
	assert_int_equal(w->seen, rounds);
	assert_int_equal(w->stale, 0);
	assert_string_equal(w->last_sender, "prefill-0");
	printf("mlx5 notify (%s device): %" PRIu64 " rounds, %" PRIu64 " stale words\n",
	       threaded ? "threaded" : "stepped", w->seen, w->stale);
	world_close(w);
}

/* 100 000 rounds with the device stepped between the driver's polls. */
static void
test_guarantee(void **state)
{
	(void)state;
	guarantee(100000, 0);
}

/* The device on its own thread, racing the driver's polls. */
static void
test_guarantee_threaded(void **state)
{
	(void)state;
	guarantee(20000, 1);
}

/* The checker can fail: a notification posted before its data (the bug the
 * contract rules out) is caught as stale bytes. */
static void
test_checker_catches_early_notify(void **state)
{
	struct world *w = world_open(0, 1);
	unsigned int i;

	(void)state;
	/* One WQE per step, so the target polls between the SEND and the
	 * WRITEs behind it. */
	mlx5_model_qp_budget(mlx5_model_qp(w->m, 0), 1);
	w->round = 7;
	post_notify(w, 7);
	post_writes(w);
	for (i = 0; i < 10 && w->seen == 0; i++) {
		mlx5_model_step(w->m);
		mlx5_notify_rx_poll(&w->tgt.rx, 16);
	}
	assert_int_equal(w->seen, 1);
	assert_true(w->stale > 0);
	world_close(w);
}

/* A failed batch sends no notification: a WRITE refused (bad rkey) puts the
 * QP in ERR, and even a SEND posted behind it on the same QP is flushed,
 * never delivered. */
static void
test_failed_batch_no_notify(void **state)
{
	struct world *w = world_open(0, 1);
	unsigned int i;

	(void)state;
	w->dst_key ^= 0x5a5a;
	post_writes(w);
	post_notify(w, 1);
	assert_int_equal(wait_sq(w), -EACCES);
	for (i = 0; i < 20; i++) {
		mlx5_model_step(w->m);
		mlx5_notify_rx_poll(&w->tgt.rx, 16);
		reap(&w->ini);
	}
	assert_int_equal(w->seen, 0);
	assert_int_equal(w->tgt.rx.st.delivered, 0);
	world_close(w);
}

static void
send_raw(struct world *w, const void *frame, uint32_t len)
{
	uint8_t *f = w->frames + (size_t)(w->ini.sq.pi & w->ini.sq.mask) * MLX5_NOTIFY_BUF;

	memcpy(f, frame, len);
	mlx5_post_send(&w->ini.sq, f, len, w->frames_key, 1, 0);
	mlx5_sq_doorbell(&w->ini.sq);
}

static void
drain(struct world *w)
{
	unsigned int i;

	for (i = 0; i < 10; i++) {
		mlx5_model_step(w->m);
		mlx5_notify_rx_poll(&w->tgt.rx, 16);
		reap(&w->tgt);
		mlx5_notify_rx_poll(&w->ini.rx, 16);
		reap(&w->ini);
	}
}

static void
test_hostile_frames(void **state)
{
	struct world *w = world_open(0, 1);
	uint8_t f[MLX5_NOTIFY_BUF];
	uint64_t tag = 3;
	int len;

	(void)state;
	len = mlx5_notify_encode(f, sizeof(f), "a", 3, 3, &tag, 8);
	/* The length lies: the header claims more message than was sent. */
	f[7] = 100;
	send_raw(w, f, (uint32_t)len);
	/* ...and less. */
	f[7] = 2;
	send_raw(w, f, (uint32_t)len);
	/* Oversize message length field. */
	f[6] = 1;
	f[7] = 1;
	send_raw(w, f, (uint32_t)len);
	/* Not a frame. */
	memset(f, 0x41, 64);
	send_raw(w, f, 64);
	/* A bad sender name. */
	len = mlx5_notify_encode(f, sizeof(f), "bob", 3, 3, &tag, 8);
	f[MLX5_NOTIFY_HDR + 1] = '/';
	send_raw(w, f, (uint32_t)len);
	/* A status frame with a status no errno has. */
	mlx5_status_encode(f, 1, 5);
	send_raw(w, f, MLX5_NOTIFY_STATUS_LEN);
	drain(w);
	assert_int_equal(w->seen, 0);
	assert_int_equal(w->tgt.rx.st.refused, 6);
	assert_int_equal(w->tgt.rx.st.statuses, 0);
	/* One log line for the burst, the rest counted (unless a second
	 * passed between two of them on a stalled machine). */
	assert_true(w->tgt.rx.log_dropped >= 4);
	assert_int_equal(w->tgt.rx.st.delivered, 0);
	/* The receive side still serves: every RECV was posted again. */
	w->round = 9;
	post_writes(w);
	assert_int_equal(wait_sq(w), 0);
	post_notify(w, 9);
	drain(w);
	assert_int_equal(w->seen, 1);
	assert_int_equal(w->stale, 0);
	assert_int_equal(w->tgt.rq.head - w->tgt.rq.tail, RQ_CNT);
	/* A frame over the receive buffer: the responder's device refuses it
	 * (LOCAL_LENGTH), the requester's WQE fails, nothing is delivered. */
	memset(f, 0, sizeof(f));
	{
		static uint8_t big[2 * MLX5_NOTIFY_BUF];
		uint8_t *fb = w->frames + (size_t)(w->ini.sq.pi & w->ini.sq.mask) * MLX5_NOTIFY_BUF;
		uint32_t key = mlx5_model_mr_add(w->m, 0, big, sizeof(big), MODEL_ACCESS_ALL);

		(void)fb;
		mlx5_post_send(&w->ini.sq, big, sizeof(big), key, 1, 0);
		mlx5_sq_doorbell(&w->ini.sq);
	}
	assert_int_equal(wait_sq(w), -EINVAL);
	drain(w);
	assert_int_equal(w->seen, 1);
	assert_int_equal(w->tgt.rx.st.errors, 1);
	world_close(w);
}

/* A CQE from a QP the receive side does not serve is refused, not parsed. */
static void
test_unknown_qp(void **state)
{
	struct world *w = world_open(0, 1);

	(void)state;
	w->tgt.rx.rqs[0]->qpn ^= 0x1000; /* the receive side forgets the QP */
	w->round = 1;
	post_notify(w, 1);
	drain(w);
	assert_int_equal(w->seen, 0);
	assert_int_equal(w->tgt.rx.st.refused, 1);
	world_close(w);
}

/* A receive CQE naming another RECV than the next one is refused (the
 * receive side's tail is moved to provoke it). */
static void
test_out_of_order_cqe(void **state)
{
	struct world *w = world_open(0, 1);

	(void)state;
	w->tgt.rq.tail++;
	post_notify(w, 1);
	drain(w);
	assert_int_equal(w->seen, 0);
	assert_int_equal(w->tgt.rx.st.refused, 1);
	world_close(w);
}

/* Post a WQE with immediate @imm: WRITE with immediate (raddr != 0) or
 * SEND with immediate, one data segment, CQE requested. */
static void
post_imm(struct world *w, uint8_t opcode, const void *src, uint32_t len, uint64_t raddr,
	 uint32_t imm)
{
	struct mlx5_sq *sq = &w->ini.sq;
	uint64_t *wqe = (uint64_t *)(sq->buf + (size_t)(sq->pi & sq->mask) * TERN_MLX5_WQEBB);
	uint32_t ds = opcode == MLX5_OPCODE_RDMA_WRITE_IMM ? 3 : 2;
	uint64_t *data = wqe + (ds == 3 ? 4 : 2);

	wqe[0] = mlx5_wqe_ctrl(sq->qpn_ds, opcode, ds) | rte_cpu_to_be_32((uint32_t)sq->pi << 8);
	/* fm_ce_se (CQE requested), then the immediate, big-endian */
	wqe[1] = mlx5_wqe_flags(MLX5_WQE_CTRL_CQ_UPDATE) | (uint64_t)rte_cpu_to_be_32(imm) << 32;
	if (ds == 3) {
		wqe[2] = rte_cpu_to_be_64(raddr);
		wqe[3] = mlx5_wqe_rkey(w->dst_key);
	}
	data[0] = (uint64_t)rte_cpu_to_be_32(len) | mlx5_wqe_lkey(w->src_key);
	data[1] = rte_cpu_to_be_64((uint64_t)(uintptr_t)src);
	sq->slots[sq->pi & sq->mask].cookie = 0;
	sq->last_ctrl = wqe;
	sq->pi++;
	mlx5_sq_doorbell(sq);
}

/* WRITE with immediate and SEND with immediate on the model: the responder
 * CQEs rdma-core's cq.c reads (opcode, byte count, immediate, QPNs, RQ
 * index); the data placed; the driver's receive side refuses both (tern
 * sends neither). */
static void
test_imm_opcodes(void **state)
{
	struct world *w = world_open(0, 1);
	struct mlx5_cq rcq;
	const struct mlx5_cqe64 *cqe;
	unsigned int i;

	(void)state;
	assert_int_equal(mlx5_cq_init(&rcq, &w->tgt.rcqv), 0);
	memset(w->src, 0x3c, 4096);
	post_imm(w, MLX5_OPCODE_RDMA_WRITE_IMM, w->src, 4096, (uintptr_t)w->dst + 8192, 0xfeedf00d);
	post_imm(w, MLX5_OPCODE_SEND_IMM, w->src, 100, 0, 0x01020304);
	for (i = 0; i < 4; i++)
		mlx5_model_step(w->m);
	assert_int_equal(wait_sq(w), 0);
	cqe = mlx5_cq_next(&rcq);
	assert_non_null(cqe);
	assert_int_equal(cqe->op_own >> 4, MLX5_CQE_RESP_WR_IMM);
	assert_int_equal(rte_be_to_cpu_32(cqe->byte_cnt), 4096);
	assert_int_equal(rte_be_to_cpu_32(cqe->imm_inval_pkey), 0xfeedf00d);
	assert_int_equal(rte_be_to_cpu_32(cqe->sop_drop_qpn) & 0xffffff, w->tgt.sqv.qpn);
	assert_int_equal(rte_be_to_cpu_32(cqe->flags_rqpn) & 0xffffff, w->ini.sqv.qpn);
	assert_int_equal(rte_be_to_cpu_16(cqe->wqe_counter), 0);
	assert_int_equal(w->dst[8192], 0x3c);
	assert_int_equal(w->dst[8192 + 4095], 0x3c);
	rcq.ci++;
	cqe = mlx5_cq_next(&rcq);
	assert_non_null(cqe);
	assert_int_equal(cqe->op_own >> 4, MLX5_CQE_RESP_SEND_IMM);
	assert_int_equal(rte_be_to_cpu_32(cqe->byte_cnt), 100);
	assert_int_equal(rte_be_to_cpu_32(cqe->imm_inval_pkey), 0x01020304);
	assert_int_equal(rte_be_to_cpu_16(cqe->wqe_counter), 1);
	/* scattered into RECV 1's buffer */
	assert_int_equal(w->tgt.rbufs[MLX5_NOTIFY_BUF], 0x3c);
	assert_int_equal(w->tgt.rbufs[MLX5_NOTIFY_BUF + 99], 0x3c);
	rcq.ci++;
	assert_null(mlx5_cq_next(&rcq));
	mlx5_cq_update_ci(&rcq);
	/* The driver's receive side, on the same CQ: both refused. */
	w->tgt.rq.tail += 2;
	for (i = 0; i < 2; i++)
		mlx5_rq_repost(&w->tgt.rq);
	w->tgt.rx.cq.ci = rcq.ci;
	post_imm(w, MLX5_OPCODE_SEND_IMM, w->src, 100, 0, 7);
	post_imm(w, MLX5_OPCODE_RDMA_WRITE_IMM, w->src, 64, (uintptr_t)w->dst, 8);
	drain(w);
	assert_int_equal(w->tgt.rx.st.refused, 2);
	assert_int_equal(w->seen, 0);
	world_close(w);
}

/* No RECV posted: the requester retries rnr_retry times and fails the SEND
 * RNR_RETRY_EXC (-EBUSY); with 7 (forever) it waits until one is posted. */
static void
test_rnr(void **state)
{
	struct world *w = world_open(0, 0);
	struct mlx5_model_qp *iqp = mlx5_model_qp(w->m, 0);
	struct mlx5_model_stats st;
	unsigned int i;

	(void)state;
	assert_int_equal(mlx5_model_qp_qpn(iqp), w->ini.sqv.qpn);
	mlx5_model_qp_rnr_retry(iqp, 7);
	post_notify(w, 1);
	for (i = 0; i < 50; i++)
		mlx5_model_step(w->m);
	assert_int_equal(reap(&w->ini), 1); /* still retrying */
	mlx5_model_stats(w->m, &st);
	assert_true(st.rnr_naks >= 50);
	/* The target posts its RECVs: the SEND goes through. */
	mlx5_model_set_node(w->m, 1);
	assert_int_equal(
		mlx5_rq_init(&w->tgt.rq, &w->tgt.rqv, w->tgt.sqv.qpn, w->tgt.rbufs, w->tgt.rkey),
		0);
	assert_int_equal(mlx5_notify_rx_add(&w->tgt.rx, &w->tgt.rq, &w->tgt.sq), 0);
	mlx5_model_set_node(w->m, 0);
	drain(w);
	assert_int_equal(w->seen, 1);
	assert_int_equal(w->statuses, 1);
	world_close(w);

	w = world_open(0, 0);
	iqp = mlx5_model_qp(w->m, 0);
	mlx5_model_qp_rnr_retry(iqp, 3);
	post_notify(w, 1);
	assert_int_equal(wait_sq(w), -EBUSY);
	mlx5_model_stats(w->m, &st);
	assert_int_equal(st.rnr_naks, 4);
	assert_int_equal(w->seen, 0);
	world_close(w);
}

/* A full target queue answers -ENOBUFS; the next one, once it drains, 0. */
static void
test_full_queue(void **state)
{
	struct world *w = world_open(0, 1);

	(void)state;
	w->full = 1;
	post_notify(w, 1);
	drain(w);
	assert_int_equal(w->statuses, 1);
	assert_int_equal(w->last_status, -ENOBUFS);
	assert_int_equal(w->tgt.rx.st.full, 1);
	w->full = 0;
	post_notify(w, 2);
	drain(w);
	assert_int_equal(w->statuses, 2);
	assert_int_equal(w->last_status, 0);
	assert_int_equal(w->last_token, 2);
	world_close(w);
}

/* Through the contract's queue (tern_notify_deliver()): a client of the
 * node takes each notification from the bounded queue and checks every
 * byte; a queue of 4 that nobody polls answers the fifth -ENOBUFS, and
 * takes one again once a client polled. */
static void
test_into_node_queue(void **state)
{
	struct world *w = world_open(1, 1);
	struct tern_notify_queue *q;
	struct tern_notification got;
	char name[16];
	uint64_t r, until = now_ms() + 60000;
	uint32_t i, stale = 0;
	const uint64_t *d = (const uint64_t *)w->dst;

	(void)state;
	snprintf(name, sizeof(name), "m5n%u", (unsigned int)getpid() % 100000);
	q = tern_notify_queue_create(&(struct tern_notify_queue_conf){
		.name = name, .node = "decode-1", .depth = 4, .socket_id = SOCKET_ID_ANY });
	assert_non_null(q);
	assert_int_equal(
		mlx5_notify_rx_init(&w->tgt.rx, &w->tgt.rcqv, mlx5_notify_deliver_queue, NULL, q),
		0);
	assert_int_equal(mlx5_notify_rx_add(&w->tgt.rx, &w->tgt.rq, &w->tgt.sq), 0);
	for (r = 1; r <= 2000; r++) {
		uint64_t statuses = w->statuses;

		w->round = r;
		post_writes(w);
		assert_int_equal(wait_sq(w), 0);
		post_notify(w, r);
		while (w->statuses == statuses) {
			mlx5_notify_rx_poll(&w->tgt.rx, 16);
			reap(&w->tgt);
			mlx5_notify_rx_poll(&w->ini.rx, 16);
			reap(&w->ini);
			assert_true(now_ms() < until);
		}
		assert_int_equal(w->last_status, 0);
		/* The client: the notification, then every byte. */
		assert_int_equal(tern_notify_queue_poll(q, &got, 1), 1);
		assert_string_equal(got.sender, "prefill-0");
		assert_int_equal(got.tag, r);
		for (i = 0; i < REGION / 8; i++)
			stale += d[i] != pattern(r, i);
	}
	assert_int_equal(stale, 0);
	/* Nobody polls: four fit, the fifth is answered -ENOBUFS. */
	for (r = 1; r <= 5; r++) {
		uint64_t statuses = w->statuses;

		post_notify(w, 100 + r);
		while (w->statuses == statuses) {
			mlx5_notify_rx_poll(&w->tgt.rx, 16);
			reap(&w->tgt);
			mlx5_notify_rx_poll(&w->ini.rx, 16);
			reap(&w->ini);
			assert_true(now_ms() < until);
		}
		assert_int_equal(w->last_status, r <= 4 ? 0 : -ENOBUFS);
	}
	assert_int_equal(w->tgt.rx.st.full, 1);
	assert_int_equal(tern_notify_queue_poll(q, &got, 1), 1);
	assert_int_equal(got.tag, 101);
	post_notify(w, 106);
	while (w->statuses == 2005) {
		mlx5_notify_rx_poll(&w->tgt.rx, 16);
		reap(&w->tgt);
		mlx5_notify_rx_poll(&w->ini.rx, 16);
		reap(&w->ini);
		assert_true(now_ms() < until);
	}
	assert_int_equal(w->last_status, 0);
	assert_int_equal(tern_notify_queue_free(q), 0);
	world_close(w);
}

/* The target side the handshake makes (mlx5_connect.c): node 0's QP asks
 * node 1 through tern_mlx5_connect_serve(), which makes a target QP with an
 * SQ and an RQ on node 1's CQ pair; node 1's receive side
 * (mlx5_notify_node_poll()) delivers into its queue and answers. */
static void
test_handshake_target(void **state)
{
	const struct tern_mlx5_provider *p = &mlx5_model_provider;
	struct world *w = calloc(1, sizeof(*w));
	struct tern_mlx5_connect_msg req, rep;
	struct tern_mlx5_conn_params remote;
	struct mlx5_notify_stats st;
	struct tern_notify_queue *q;
	struct tern_notification got;
	uint8_t buf[TERN_MLX5_CONNECT_MSG_MAX], out[TERN_MLX5_CONNECT_MSG_MAX];
	const uint64_t *d;
	uint64_t r, until = now_ms() + 60000;
	uint32_t i, stale = 0;
	char name[16];
	int len;

	(void)state;
	assert_non_null(w);
	w->m = mlx5_model_create();
	mlx5_model_set_sq_exact(w->m, 1);
	assert_int_equal(mlx5_test_set_queue_provider(p, w->m), 0);
	assert_int_equal(mlx5_probe(), 0);
	side_open(w, &w->ini, 0, 1);
	w->src = aligned_alloc(4096, REGION);
	w->dst = aligned_alloc(4096, REGION);
	w->frames = aligned_alloc(4096, SQ_CNT * MLX5_NOTIFY_BUF);
	memset(w->dst, 0, REGION);
	d = (const uint64_t *)w->dst;
	w->src_key = mlx5_model_mr_add(w->m, 0, w->src, REGION, MODEL_ACCESS_ALL);
	w->dst_key = mlx5_model_mr_add(w->m, 1, w->dst, REGION, MODEL_ACCESS_ALL);
	w->frames_key =
		mlx5_model_mr_add(w->m, 0, w->frames, SQ_CNT * MLX5_NOTIFY_BUF, MODEL_ACCESS_ALL);
	snprintf(name, sizeof(name), "m5h%u", (unsigned int)getpid() % 100000);
	q = tern_notify_queue_create(&(struct tern_notify_queue_conf){
		.name = name, .node = "decode-1", .depth = 4, .socket_id = SOCKET_ID_ANY });
	assert_non_null(q);
	mlx5_notify_node_set_queue(q);

	memset(&req, 0, sizeof(req));
	req.type = TERN_MLX5_CONNECT_REQUEST;
	req.mtu = w->ini.local.mtu;
	req.count = 1;
	req.nonce = 7;
	memcpy(req.gid, w->ini.local.gid, 16);
	req.qp[0].qpn = w->ini.local.qpn;
	req.qp[0].psn = w->ini.local.psn;
	len = mlx5_connect_encode(&req, buf, sizeof(buf));
	assert_true(len > 0);
	mlx5_model_set_node(w->m, 1);
	len = tern_mlx5_connect_serve(buf, (size_t)len, out, sizeof(out));
	mlx5_model_set_node(w->m, 0);
	assert_true(len > 0);
	assert_int_equal(mlx5_connect_decode(out, (size_t)len, TERN_MLX5_CONNECT_REPLY, &rep, NULL),
			 0);
	assert_int_equal(mlx5_notify_node_stats(&st), 1);
	memset(&remote, 0, sizeof(remote));
	memcpy(remote.gid, rep.gid, 16);
	remote.lid = rep.lid;
	remote.mtu = rep.mtu;
	remote.qpn = rep.qp[0].qpn;
	remote.psn = rep.qp[0].psn;
	assert_int_equal(p->qp_connect(w->m, w->ini.qp_h, &remote), 0);

	for (r = 1; r <= 3000; r++) {
		uint64_t statuses = w->statuses;

		w->round = r;
		post_writes(w);
		assert_int_equal(wait_sq(w), 0);
		post_notify(w, r);
		/* Nothing before node 1's receive side runs. */
		assert_int_equal(tern_notify_queue_poll(q, &got, 1), 0);
		while (w->statuses == statuses) {
			mlx5_model_step(w->m);
			mlx5_notify_node_poll(16);
			mlx5_notify_rx_poll(&w->ini.rx, 16);
			reap(&w->ini);
			assert_true(now_ms() < until);
		}
		assert_int_equal(w->last_status, 0);
		assert_int_equal(tern_notify_queue_poll(q, &got, 1), 1);
		assert_string_equal(got.sender, "prefill-0");
		assert_int_equal(got.tag, r);
		for (i = 0; i < REGION / 8; i++)
			stale += d[i] != pattern(r, i);
	}
	assert_int_equal(stale, 0);
	/* The initiator resets its QP and handshakes again: node 1 resets the
	 * same target QP (its SQ and RQ restart) and notifications go on. */
	assert_int_equal(p->qp_reset(w->m, w->ini.qp_h, &w->ini.local), 0);
	mlx5_sq_reset(&w->ini.sq);
	assert_int_equal(
		mlx5_rq_init(&w->ini.rq, &w->ini.rqv, w->ini.sqv.qpn, w->ini.rbufs, w->ini.rkey),
		0);
	req.nonce = 8;
	req.qp[0].psn = w->ini.local.psn;
	len = mlx5_connect_encode(&req, buf, sizeof(buf));
	mlx5_model_set_node(w->m, 1);
	len = tern_mlx5_connect_serve(buf, (size_t)len, out, sizeof(out));
	mlx5_model_set_node(w->m, 0);
	assert_true(len > 0);
	assert_int_equal(mlx5_connect_decode(out, (size_t)len, TERN_MLX5_CONNECT_REPLY, &rep, NULL),
			 0);
	assert_int_equal(rep.qp[0].qpn, remote.qpn);
	assert_int_equal(mlx5_notify_node_stats(&st), 1);
	remote.psn = rep.qp[0].psn;
	assert_int_equal(p->qp_connect(w->m, w->ini.qp_h, &remote), 0);
	for (r = 3001; r <= 3100; r++) {
		uint64_t statuses = w->statuses;

		w->round = r;
		post_writes(w);
		assert_int_equal(wait_sq(w), 0);
		post_notify(w, r);
		while (w->statuses == statuses) {
			mlx5_model_step(w->m);
			mlx5_notify_node_poll(16);
			mlx5_notify_rx_poll(&w->ini.rx, 16);
			reap(&w->ini);
			assert_true(now_ms() < until);
		}
		assert_int_equal(w->last_status, 0);
		assert_int_equal(tern_notify_queue_poll(q, &got, 1), 1);
		assert_int_equal(got.tag, r);
		for (i = 0; i < REGION / 8; i++)
			stale += d[i] != pattern(r, i);
	}
	assert_int_equal(stale, 0);
	/* Nobody polls the queue: four fit, the fifth is answered -ENOBUFS. */
	for (r = 1; r <= 5; r++) {
		uint64_t statuses = w->statuses;

		post_notify(w, 100 + r);
		while (w->statuses == statuses) {
			mlx5_model_step(w->m);
			mlx5_notify_node_poll(16);
			mlx5_notify_rx_poll(&w->ini.rx, 16);
			reap(&w->ini);
			assert_true(now_ms() < until);
		}
		assert_int_equal(w->last_status, r <= 4 ? 0 : -ENOBUFS);
	}
	assert_int_equal(mlx5_notify_node_stats(&st), 1);
	assert_int_equal(st.delivered, 3104);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.refused, 0);

	mlx5_notify_node_set_queue(NULL);
	mlx5_ctl_lock();
	mlx5_connect_shutdown();
	mlx5_ctl_shutdown_locked();
	mlx5_ctl_unlock();
	assert_int_equal(mlx5_test_set_queue_provider(NULL, NULL), 0);
	assert_int_equal(mlx5_notify_node_stats(&st), 0);
	assert_int_equal(tern_notify_queue_free(q), 0);
	world_close(w);
}

static void
test_codec(void **state)
{
	uint8_t f[MLX5_NOTIFY_BUF];
	struct mlx5_notify_msg m;
	uint8_t msg[MLX5_NOTIFY_MSG_MAX + 1];
	char name[80];
	uint64_t tok;
	int32_t st;
	int len;

	(void)state;
	memset(msg, 7, sizeof(msg));
	memset(name, 'n', sizeof(name));
	name[MLX5_NOTIFY_NODE_MAX] = '\0';
	len = mlx5_notify_encode(f, sizeof(f), name, 1, 2, msg, MLX5_NOTIFY_MSG_MAX);
	assert_int_equal(len, (int)MLX5_NOTIFY_FRAME_MAX);
	assert_int_equal(mlx5_notify_decode(f, (uint32_t)len, &m), 0);
	assert_int_equal(m.msg_len, MLX5_NOTIFY_MSG_MAX);
	assert_int_equal(m.tag, 1);
	assert_int_equal(m.token, 2);
	assert_string_equal(m.sender, name);
	assert_int_equal(mlx5_notify_decode(f, (uint32_t)len - 1, &m), -EPROTO);
	assert_int_equal(mlx5_notify_decode(f, 10, &m), -EPROTO);
	assert_int_equal(mlx5_notify_decode(f, 3, &m), -EBADMSG);
	assert_int_equal(mlx5_notify_encode(f, sizeof(f), name, 1, 2, msg, sizeof(msg)), -EMSGSIZE);
	assert_int_equal(mlx5_notify_encode(f, 100, "a", 1, 2, msg, 200), -EMSGSIZE);
	assert_int_equal(mlx5_notify_encode(f, sizeof(f), "", 1, 2, NULL, 0), -EINVAL);
	assert_int_equal(mlx5_notify_encode(f, sizeof(f), "a b", 1, 2, NULL, 0), -EINVAL);
	assert_int_equal(mlx5_notify_encode(f, sizeof(f), "a", 1, 2, NULL, 3), -EINVAL);
	name[MLX5_NOTIFY_NODE_MAX] = 'n';
	name[MLX5_NOTIFY_NODE_MAX + 1] = '\0';
	assert_int_equal(mlx5_notify_encode(f, sizeof(f), name, 1, 2, NULL, 0), -EINVAL);
	len = mlx5_notify_encode(f, sizeof(f), "a", 1, 2, NULL, 0);
	f[4] = 2;
	assert_int_equal(mlx5_notify_decode(f, (uint32_t)len, &m), -EBADMSG);
	f[4] = 1;
	f[5] = 0;
	assert_int_equal(mlx5_notify_decode(f, (uint32_t)len - 1, &m), -EINVAL);
	mlx5_status_encode(f, 9, -ENOBUFS);
	assert_int_equal(mlx5_status_decode(f, MLX5_NOTIFY_STATUS_LEN, &tok, &st), 0);
	assert_int_equal(tok, 9);
	assert_int_equal(st, -ENOBUFS);
	assert_int_equal(mlx5_status_decode(f, MLX5_NOTIFY_STATUS_LEN + 1, &tok, &st), -EPROTO);
	mlx5_status_encode(f, 9, 1);
	assert_int_equal(mlx5_status_decode(f, MLX5_NOTIFY_STATUS_LEN, &tok, &st), -EINVAL);
	f[0] = 0;
	assert_int_equal(mlx5_status_decode(f, MLX5_NOTIFY_STATUS_LEN, &tok, &st), -EBADMSG);
}

int
main(int argc, char **argv)
{
	char prefix[32];
	cpu_set_t cpus;
	char *eal[] = { argv[0],	  "--no-huge",	   "-m",   "64",	  "--no-pci",
			"--no-telemetry", "--file-prefix", prefix, "--log-level", "lib.eal:error" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec),
		cmocka_unit_test(test_checker_catches_early_notify),
		cmocka_unit_test(test_failed_batch_no_notify),
		cmocka_unit_test(test_hostile_frames),
		cmocka_unit_test(test_unknown_qp),
		cmocka_unit_test(test_out_of_order_cqe),
		cmocka_unit_test(test_imm_opcodes),
		cmocka_unit_test(test_rnr),
		cmocka_unit_test(test_full_queue),
		cmocka_unit_test(test_into_node_queue),
		cmocka_unit_test(test_handshake_target),
		cmocka_unit_test(test_guarantee),
		cmocka_unit_test(test_guarantee_threaded),
	};

	(void)argc;
	/* The node's queue is a memzone: an EAL without hugepages. */
	snprintf(prefix, sizeof(prefix), "mlx5ntf%d", (int)getpid());
	/* The EAL pins this thread to one CPU, and the model's device thread
	 * would inherit it: both then share one CPU and every round waits
	 * for a time slice. Give the thread its CPUs back. */
	if (pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) != 0 ||
	    rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0 ||
	    pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus) != 0)
		return 1;

	return cmocka_run_group_tests(tests, NULL, NULL);
}
