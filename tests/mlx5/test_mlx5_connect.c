/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection set-up of the mlx5 transport (tern_mlx5.h): the wire format and
 * its strict decoder, and the handshake between two nodes of the software
 * device model. Node 0 is this process's initiator; the test serves its
 * requests as node 1 (mlx5_model_set_node), then posts through the ops
 * table and checks the data on node 1's memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_memory.h>

#include <tern_notify.h>
#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_connect.h"
#include "mlx5_ctl.h"
#include "mlx5_fixture.h"
#include "mlx5_model.h"
#include "mlx5_notify.h"
#include "mlx5_queue.h"
#include "tern_mlx5.h"
#include "tern_mlx5_internal.h"

#define BYTES (4u << 20)
#define NB_EP 2
/* Longest wait for completions: the model completes at once when stepped. */
#define WAIT_MS 10000

struct fx {
	struct mlx5_fixture fx;
	uint8_t *local;	 /* node 0 */
	uint8_t *remote; /* node 1 */
	struct tern_segment lseg;
	struct tern_segment rseg; /* node 1's memory, imported */
	uint8_t gid1[16];
	uint64_t next_cookie;
};

static int
setup(void **state)
{
	struct fx *f = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(struct fx), 64));

	assert_non_null(f);
	memset(f, 0, sizeof(*f));
	mlx5_fixture_open(&f->fx, NB_EP);
	f->local = aligned_alloc(4096, BYTES);
	f->remote = aligned_alloc(4096, BYTES);
	assert_non_null(f->local);
	assert_non_null(f->remote);
	memset(f->remote, 0, BYTES);
	f->lseg.kind = TERN_SEGMENT_LOCAL;
	f->lseg.handle = 1u << 16 | 1;
	f->lseg.base = f->local;
	f->lseg.length = BYTES;
	/* Node 1's memory, imported without a handshake: these tests carry the
	 * handshake's bytes themselves (in test_mlx5_handshake.c the import
	 * carries them). */
	mlx5_model_gid(1, f->gid1);
	f->rseg.kind = TERN_SEGMENT_REMOTE;
	f->rseg.base = f->remote;
	f->rseg.length = BYTES;
	mlx5_model_import_wired(&f->rseg, 1, f->remote, BYTES,
				mlx5_model_mr_add(f->fx.m, 1, f->remote, BYTES, MODEL_ACCESS_ALL));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	f->fx.ops->segment_release(&f->rseg);
	mlx5_fixture_close(&f->fx);
	free(f->local);
	free(f->remote);
	free(f);
	return 0;
}

/* The whole handshake, node 0 asking node 1. @return QPs connected. */
static int
handshake(struct fx *f)
{
	uint8_t req[TERN_MLX5_CONNECT_MSG_MAX], rep[TERN_MLX5_CONNECT_MSG_MAX];
	int req_len, rep_len;

	req_len = tern_mlx5_connect_request_build(f->gid1, req, sizeof(req));
	if (req_len < 0)
		return req_len;
	mlx5_model_set_node(f->fx.m, 1);
	rep_len = tern_mlx5_connect_serve(req, (size_t)req_len, rep, sizeof(rep));
	mlx5_model_set_node(f->fx.m, 0);
	assert_true(rep_len > 0);
	assert_int_equal(tern_mlx5_connect_complete(rep, (size_t)rep_len), 0);
	return (req_len - TERN_MLX5_CONNECT_HDR) / TERN_MLX5_CONNECT_REQ_ENTRY;
}

/* Post @nb slices on @ep, step the model and poll until each completed once;
 * statuses land in @status by cookie order. */
static void
run(struct fx *f, struct tern_endpoint *ep, struct tern_slice *s, unsigned int nb, int *status)
{
	struct tern_completion cpl[32];
	unsigned int posted = 0, done = 0, i;
	uint64_t until = mlx5_fixture_now_ms() + WAIT_MS;

	while (done < nb) {
		if (posted < nb)
			posted += f->fx.ops->post_burst(ep, s + posted, (uint16_t)(nb - posted));
		mlx5_model_step(f->fx.m);
		for (i = f->fx.ops->poll(ep, cpl, RTE_DIM(cpl)); i-- > 0; done++) {
			assert_true(cpl[i].cookie - s[0].cookie < nb);
			status[cpl[i].cookie - s[0].cookie] = cpl[i].status;
		}
		assert_true(mlx5_fixture_now_ms() < until);
	}
}

static struct tern_slice
slice(struct fx *f, uint8_t op, uint64_t local_off, uint64_t off, uint32_t len)
{
	struct tern_slice s = { 0 };

	s.cookie = f->next_cookie++;
	s.local = f->local + local_off;
	s.local_seg = &f->lseg;
	s.target = &f->rseg;
	s.offset = off;
	s.length = len;
	s.op = op;
	return s;
}

static void
fill(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 9));
}

/* WRITE 8 slices from @ep, READ them back elsewhere, check both ways. */
static void
write_read_check(struct fx *f, struct tern_endpoint *ep, unsigned int seed)
{
	struct tern_slice s[16];
	int status[16];
	unsigned int i;

	fill(f->local, 8 * 8192, seed);
	for (i = 0; i < 8; i++)
		s[i] = slice(f, TERN_OP_WRITE, i * 8192u, i * 8192u, i % 2 ? 8192 : 40);
	for (i = 0; i < 8; i++)
		s[8 + i] = slice(f, TERN_OP_READ, (1u << 20) + i * 8192u, i * 8192u, s[i].length);
	run(f, ep, s, 8, status);
	for (i = 0; i < 8; i++) {
		assert_int_equal(status[i], 0);
		assert_memory_equal(f->remote + i * 8192u, f->local + i * 8192u, s[i].length);
	}
	run(f, ep, s + 8, 8, status);
	for (i = 0; i < 8; i++) {
		assert_int_equal(status[i], 0);
		assert_memory_equal(f->local + (1u << 20) + i * 8192u, f->local + i * 8192u,
				    s[i].length);
	}
}

/* A valid message of @type with @count entries, and its bytes. */
static int
valid_msg(uint8_t type, uint16_t count, uint8_t *buf, size_t len)
{
	struct tern_mlx5_connect_msg m;
	uint16_t i;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.count = count;
	m.nonce = 0x0123456789abcdefull;
	mlx5_model_gid(1, m.gid);
	m.mtu = 3;
	for (i = 0; i < RTE_MIN(count, (uint16_t)TERN_MLX5_CONNECT_QP_MAX); i++) {
		m.qp[i].qpn = 0x100 + i;
		m.qp[i].psn = 0xabcd00 + i;
		m.qp[i].peer_qpn = 0x200 + i;
	}
	return mlx5_connect_encode(&m, buf, len);
}

/* The QP endpoint @p ep reaches node 1 with (the only one it has). */
static struct mlx5_sq *
only_qp(struct mlx5_endpoint *ep)
{
	struct mlx5_sq *sq = NULL;
	unsigned int i, n = 0;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++)
		if (ep->qps[i] != NULL) {
			sq = ep->qps[i];
			n++;
		}
	assert_int_equal(n, 1);
	return sq;
}

/* Initiator QPs made by the handshake take notification statuses: each has
 * an RQ with its RECVs posted, served by its endpoint's receive side; a
 * notify SEND on it is delivered into node 1's queue and node 1's status
 * answer lands in that receive side, and the RECV it took is posted again:
 * three times as many statuses as the RQ holds go through. */
static void
initiator_qps_take_statuses(void **state)
{
	struct fx *f = *state;
	struct tern_notify_queue *q;
	struct tern_notification got;
	uint8_t *frames = aligned_alloc(4096, 4096);
	uint32_t fkey;
	unsigned int i, n;
	char name[16];

	assert_non_null(frames);
	fkey = mlx5_model_mr_add(f->fx.m, 0, frames, 4096, MODEL_ACCESS_ALL);
	snprintf(name, sizeof(name), "m5c%u", (unsigned int)getpid() % 100000);
	q = tern_notify_queue_create(&(struct tern_notify_queue_conf){
		.name = name, .node = "decode-1", .depth = 16, .socket_id = SOCKET_ID_ANY });
	assert_non_null(q);
	mlx5_notify_node_set_queue(q);
	assert_int_equal(handshake(f), NB_EP);
	for (i = 0; i < NB_EP; i++) {
		struct mlx5_endpoint *ep = mlx5_ep(f->fx.ep[i]);
		struct mlx5_sq *sq = only_qp(ep);
		const struct mlx5_rq *rq = (const struct mlx5_rq *)sq->rq;
		uint64_t until = mlx5_fixture_now_ms() + WAIT_MS;

		assert_non_null(ep->rx);
		assert_non_null(rq);
		assert_int_equal(ep->rx->nb_qps, 1);
		assert_ptr_equal(ep->rx->rqs[0], rq);
		assert_int_equal(rq->qpn, sq->qpn);
		for (n = 0; n < 3 * (rq->mask + 1u); n++) {
			uint8_t *fr = frames + (sq->pi & 3) * MLX5_NOTIFY_BUF;
			uint64_t statuses = ep->rx->st.statuses, tag = i * 100 + n;
			int len;

			/* Every RECV posted (the one taken is posted again). */
			assert_int_equal((uint16_t)(rq->head - rq->tail), rq->mask + 1);
			assert_int_equal(rte_be_to_cpu_32(*rq->dbrec), rq->head);
			len = mlx5_notify_encode(fr, MLX5_NOTIFY_BUF, "prefill-0", tag, 77 + tag,
						 NULL, 0);
			assert_true(len > 0);
			mlx5_post_send(sq, fr, (uint32_t)len, fkey, 0, 0);
			mlx5_sq_doorbell(sq);
			while (ep->rx->st.statuses == statuses) {
				mlx5_model_step(f->fx.m);
				mlx5_notify_node_poll(16);
				mlx5_notify_rx_poll(ep->rx, 16);
				assert_true(mlx5_fixture_now_ms() < until);
			}
			assert_int_equal(ep->rx->st.refused, 0);
			assert_int_equal(tern_notify_queue_poll(q, &got, 1), 1);
			assert_string_equal(got.sender, "prefill-0");
			assert_int_equal(got.tag, tag);
		}
	}
	mlx5_notify_node_set_queue(NULL);
	assert_int_equal(tern_notify_queue_free(q), 0);
	free(frames);
}

static void
no_device_is_enodev(void **state)
{
	const struct tern_transport_ops *ops = tern_transport_get(tern_transport_id("mlx5"));
	uint8_t gid[16], buf[TERN_MLX5_CONNECT_MSG_MAX], out[TERN_MLX5_CONNECT_MSG_MAX];
	int len;

	(void)state;
	mlx5_model_gid(1, gid);
	len = valid_msg(TERN_MLX5_CONNECT_REQUEST, 2, buf, sizeof(buf));
	assert_true(len > 0);
	/* This machine has no RDMA device: the verbs provider finds none. */
	assert_int_equal(ops->probe(), -ENODEV);
	assert_int_equal(tern_mlx5_connect_request_build(gid, out, sizeof(out)), -ENODEV);
	assert_int_equal(tern_mlx5_connect_serve(buf, (size_t)len, out, sizeof(out)), -ENODEV);
	len = valid_msg(TERN_MLX5_CONNECT_REPLY, 2, buf, sizeof(buf));
	assert_int_equal(tern_mlx5_connect_complete(buf, (size_t)len), -ENODEV);
}

static void
wire_format_is_little_endian_as_documented(void **state)
{
	struct tern_mlx5_connect_msg m;
	uint8_t buf[TERN_MLX5_CONNECT_MSG_MAX];
	static const uint8_t head[] = { 'T',  'M',  'X',  'C',	1,    2,    2,	  0,
					0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01 };

	(void)state;
	assert_int_equal(valid_msg(TERN_MLX5_CONNECT_REPLY, 2, buf, sizeof(buf)), 40 + 2 * 12);
	assert_memory_equal(buf, head, sizeof(head));
	mlx5_model_gid(1, m.gid);
	assert_memory_equal(buf + 16, m.gid, 16);
	assert_int_equal(buf[32] | buf[33] << 8, 0); /* LID */
	assert_int_equal(buf[34], 3);		     /* MTU */
	/* Entry 1: initiator QPN 0x201, QPN 0x101, PSN 0xabcd01. */
	assert_int_equal(buf[52], 0x01);
	assert_int_equal(buf[53], 0x02);
	assert_int_equal(buf[56], 0x01);
	assert_int_equal(buf[57], 0x01);
	assert_int_equal(buf[60], 0x01);
	assert_int_equal(buf[61], 0xcd);
	assert_int_equal(buf[62], 0xab);
	assert_int_equal(buf[63], 0);
	assert_int_equal(mlx5_connect_decode(buf, 64, TERN_MLX5_CONNECT_REPLY, &m, NULL), 0);
	assert_int_equal(m.count, 2);
	assert_int_equal(m.qp[1].peer_qpn, 0x201);
	assert_int_equal(m.qp[1].qpn, 0x101);
	assert_int_equal(m.qp[1].psn, 0xabcd01);
	assert_int_equal(valid_msg(TERN_MLX5_CONNECT_REQUEST, 64, buf, sizeof(buf)), 40 + 64 * 8);
	assert_int_equal(valid_msg(TERN_MLX5_CONNECT_REPLY, 64, buf, sizeof(buf)),
			 TERN_MLX5_CONNECT_MSG_MAX);
	assert_int_equal(valid_msg(TERN_MLX5_CONNECT_REPLY, 64, buf, sizeof(buf) - 1), -ENOSPC);
	assert_int_equal(valid_msg(TERN_MLX5_CONNECT_REPLY, 65, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(valid_msg(TERN_MLX5_CONNECT_REPLY, 0, buf, sizeof(buf)), -EINVAL);
}

struct mutation {
	const char *what;
	uint8_t type;
	size_t off; /* byte to set */
	uint8_t value;
	int err;
};

/* Each refusal logs a NOTICE line: thousands here. */
static int
quiet(void **state)
{
	(void)state;
	rte_log_set_level(mlx5_logtype, RTE_LOG_WARNING);
	return 0;
}

static int
loud(void **state)
{
	(void)state;
	rte_log_set_level(mlx5_logtype, RTE_LOG_INFO);
	return 0;
}

static void
malformed_messages_are_refused(void **state)
{
	static const struct mutation mut[] = {
		{ "magic", TERN_MLX5_CONNECT_REQUEST, 0, 'X', -EINVAL },
		{ "magic last byte", TERN_MLX5_CONNECT_REQUEST, 3, 'D', -EINVAL },
		{ "version 2", TERN_MLX5_CONNECT_REQUEST, 4, 2, -EPROTO },
		{ "version 0", TERN_MLX5_CONNECT_REPLY, 4, 0, -EPROTO },
		{ "type 0", TERN_MLX5_CONNECT_REQUEST, 5, 0, -EINVAL },
		{ "type 3", TERN_MLX5_CONNECT_REQUEST, 5, 3, -EINVAL },
		{ "a reply where a request is due", TERN_MLX5_CONNECT_REQUEST, 5, 2, -EINVAL },
		{ "a request where a reply is due", TERN_MLX5_CONNECT_REPLY, 5, 1, -EINVAL },
		{ "count 0", TERN_MLX5_CONNECT_REQUEST, 6, 0, -EINVAL },
		{ "count 3 for 2 entries", TERN_MLX5_CONNECT_REQUEST, 6, 3, -EINVAL },
		{ "count 1 for 2 entries", TERN_MLX5_CONNECT_REPLY, 6, 1, -EINVAL },
		{ "count 258", TERN_MLX5_CONNECT_REQUEST, 7, 1, -EINVAL },
		{ "nonce 0", TERN_MLX5_CONNECT_REQUEST, 8, 0, -EINVAL }, /* all 8 bytes */
		{ "multicast GID", TERN_MLX5_CONNECT_REQUEST, 16, 0xff, -EINVAL },
		{ "LID 0xc000 (multicast)", TERN_MLX5_CONNECT_REQUEST, 33, 0xc0, -EINVAL },
		{ "LID 0xff00", TERN_MLX5_CONNECT_REPLY, 33, 0xff, -EINVAL },
		{ "MTU 0", TERN_MLX5_CONNECT_REQUEST, 34, 0, -EINVAL },
		{ "MTU 6", TERN_MLX5_CONNECT_REQUEST, 34, 6, -EINVAL },
		{ "MTU 255", TERN_MLX5_CONNECT_REPLY, 34, 255, -EINVAL },
		{ "reserved 35", TERN_MLX5_CONNECT_REQUEST, 35, 1, -EINVAL },
		{ "reserved 36", TERN_MLX5_CONNECT_REQUEST, 36, 0x80, -EINVAL },
		{ "reserved 39", TERN_MLX5_CONNECT_REPLY, 39, 1, -EINVAL },
		{ "QPN 2^24", TERN_MLX5_CONNECT_REQUEST, 43, 1, -EINVAL },
		{ "PSN 2^24", TERN_MLX5_CONNECT_REQUEST, 47, 1, -EINVAL },
		{ "PSN top byte", TERN_MLX5_CONNECT_REQUEST, 55, 0xff, -EINVAL },
		{ "reply: initiator QPN 2^24", TERN_MLX5_CONNECT_REPLY, 43, 1, -EINVAL },
		{ "reply: QPN 2^24", TERN_MLX5_CONNECT_REPLY, 47, 1, -EINVAL },
		{ "reply: PSN 2^24", TERN_MLX5_CONNECT_REPLY, 51, 1, -EINVAL },
		{ "reply: second initiator QPN repeats the first", TERN_MLX5_CONNECT_REPLY, 52,
		  0x00, -EINVAL },
		{ "request: second QPN repeats the first", TERN_MLX5_CONNECT_REQUEST, 48, 0x00,
		  -EINVAL },
	};
	struct tern_mlx5_connect_msg m;
	uint8_t buf[TERN_MLX5_CONNECT_MSG_MAX + 16];
	unsigned int i, k;
	int len, rc;

	(void)state;
	for (i = 0; i < RTE_DIM(mut); i++) {
		len = valid_msg(mut[i].type, 2, buf, sizeof(buf));
		assert_true(len > 0);
		assert_int_equal(mlx5_connect_decode(buf, (size_t)len, mut[i].type, &m, NULL), 0);
		buf[mut[i].off] = mut[i].value;
		if (mut[i].off == 8) /* nonce: all eight bytes zero */
			memset(buf + 8, 0, 8);
		rc = mlx5_connect_decode(buf, (size_t)len, mut[i].type, &m, NULL);
		if (rc != mut[i].err)
			fail_msg("%s: %d", mut[i].what, rc);
	}
	/* QPNs 0 and 1 (the special QPs). */
	for (k = 0; k < 2; k++) {
		len = valid_msg(TERN_MLX5_CONNECT_REQUEST, 2, buf, sizeof(buf));
		memset(buf + 40, 0, 4);
		buf[40] = (uint8_t)k;
		assert_int_equal(
			mlx5_connect_decode(buf, (size_t)len, TERN_MLX5_CONNECT_REQUEST, &m, NULL),
			-EINVAL);
	}
	/* RoCE (LID 0) needs a GID; with a unicast LID a zero GID is fine. */
	len = valid_msg(TERN_MLX5_CONNECT_REQUEST, 2, buf, sizeof(buf));
	memset(buf + 16, 0, 16);
	assert_int_equal(mlx5_connect_decode(buf, (size_t)len, TERN_MLX5_CONNECT_REQUEST, &m, NULL),
			 -EINVAL);
	buf[32] = 0x05;
	assert_int_equal(mlx5_connect_decode(buf, (size_t)len, TERN_MLX5_CONNECT_REQUEST, &m, NULL),
			 0);
	assert_int_equal(m.lid, 5);
	/* Every size but the exact one, for both types. */
	for (k = 0; k < 2; k++) {
		uint8_t type = k == 0 ? TERN_MLX5_CONNECT_REQUEST : TERN_MLX5_CONNECT_REPLY;

		len = valid_msg(type, 2, buf, sizeof(buf));
		for (i = 0; i < sizeof(buf); i++)
			if ((int)i != len)
				assert_int_equal(mlx5_connect_decode(buf, i, type, &m, NULL),
						 -EINVAL);
	}
	assert_int_equal(mlx5_connect_decode(NULL, 48, TERN_MLX5_CONNECT_REQUEST, &m, NULL),
			 -EINVAL);
	assert_int_equal(mlx5_connect_decode(buf, 48, 7, &m, NULL), -EINVAL);
}

/* Any byte of a valid message changed: refused, or still a message that
 * encodes back to exactly those bytes. And random bytes never pass. */
static void
mutated_and_random_messages_never_slip_through(void **state)
{
	struct tern_mlx5_connect_msg m;
	uint8_t good[TERN_MLX5_CONNECT_MSG_MAX], buf[TERN_MLX5_CONNECT_MSG_MAX],
		again[TERN_MLX5_CONNECT_MSG_MAX];
	unsigned int k, i, bit, accepted = 0, refused = 0;
	uint64_t x = 88172645463325252ull;
	int len;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint8_t type = k == 0 ? TERN_MLX5_CONNECT_REQUEST : TERN_MLX5_CONNECT_REPLY;

		len = valid_msg(type, 5, good, sizeof(good));
		for (i = 0; i < (unsigned int)len; i++)
			for (bit = 0; bit < 8; bit++) {
				memcpy(buf, good, (size_t)len);
				buf[i] ^= (uint8_t)(1u << bit);
				if (mlx5_connect_decode(buf, (size_t)len, type, &m, NULL) != 0) {
					refused++;
					continue;
				}
				accepted++;
				assert_int_equal(mlx5_connect_encode(&m, again, sizeof(again)),
						 len);
				assert_memory_equal(again, buf, (size_t)len);
			}
	}
	print_message("bit flips: %u refused, %u still valid\n", refused, accepted);
	assert_true(refused > 100);
	for (k = 0; k < 20000; k++) {
		size_t n;

		for (i = 0; i < sizeof(buf); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		n = 40 + (size_t)(x % 64) * (k % 2 ? 8 : 12);
		if (k % 3 == 0) /* give the header a chance: right magic and version */
			memcpy(buf, good, 6);
		assert_true(mlx5_connect_decode(buf, n,
						k % 2 ? TERN_MLX5_CONNECT_REQUEST
						      : TERN_MLX5_CONNECT_REPLY,
						&m, NULL) < 0);
	}
}

static void
handshake_connects_every_endpoint_and_moves_data(void **state)
{
	struct fx *f = *state;
	uint8_t req[TERN_MLX5_CONNECT_MSG_MAX];
	unsigned int i;

	/* Node 1's port runs a smaller MTU: both ends must settle on it. */
	mlx5_model_set_mtu(f->fx.m, 1, 3);
	assert_int_equal(handshake(f), NB_EP);
	/* Two initiator QPs (node 0) and two target QPs (node 1), nothing else. */
	for (i = 0; i < 2 * NB_EP; i++)
		assert_non_null(mlx5_model_qp(f->fx.m, i));
	assert_null(mlx5_model_qp(f->fx.m, 2 * NB_EP));
	for (i = 0; i < NB_EP; i++)
		write_read_check(f, f->fx.ep[i], i + 1);
	/* Every endpoint has its QP now. */
	assert_int_equal(tern_mlx5_connect_request_build(f->gid1, req, sizeof(req)), -EALREADY);
	assert_null(mlx5_model_qp(f->fx.m, 2 * NB_EP));
}

static void
serve_and_complete_refuse_what_does_not_fit(void **state)
{
	struct fx *f = *state;
	uint8_t req[TERN_MLX5_CONNECT_MSG_MAX], rep[TERN_MLX5_CONNECT_MSG_MAX],
		bad[TERN_MLX5_CONNECT_MSG_MAX];
	uint8_t gid0[16], zero[16] = { 0 }, mc[16] = { 0xff, 0x02 };
	int req_len, rep_len, len;

	mlx5_model_gid(0, gid0);
	assert_int_equal(tern_mlx5_connect_request_build(NULL, req, sizeof(req)), -EINVAL);
	assert_int_equal(tern_mlx5_connect_request_build(gid0, req, sizeof(req)), -EINVAL);
	assert_int_equal(tern_mlx5_connect_request_build(zero, req, sizeof(req)), -EINVAL);
	assert_int_equal(tern_mlx5_connect_request_build(mc, req, sizeof(req)), -EINVAL);
	assert_int_equal(tern_mlx5_connect_request_build(f->gid1, req, 40 + 2 * 8 - 1), -ENOSPC);
	req_len = tern_mlx5_connect_request_build(f->gid1, req, sizeof(req));
	assert_int_equal(req_len, 40 + NB_EP * 8);
	/* The target: garbage, a request from itself, no room for the reply. */
	mlx5_model_set_node(f->fx.m, 1);
	assert_int_equal(tern_mlx5_connect_serve(req, (size_t)req_len - 1, rep, sizeof(rep)),
			 -EINVAL);
	assert_int_equal(tern_mlx5_connect_serve(NULL, (size_t)req_len, rep, sizeof(rep)), -EINVAL);
	assert_int_equal(tern_mlx5_connect_serve(req, (size_t)req_len, rep, 40 + 2 * 12 - 1),
			 -ENOSPC);
	memcpy(bad, req, (size_t)req_len);
	memcpy(bad + 16, f->gid1, 16);
	assert_int_equal(tern_mlx5_connect_serve(bad, (size_t)req_len, rep, sizeof(rep)), -EINVAL);
	rep_len = tern_mlx5_connect_serve(req, (size_t)req_len, rep, sizeof(rep));
	mlx5_model_set_node(f->fx.m, 0);
	assert_int_equal(rep_len, 40 + NB_EP * 12);
	/* The initiator: a request is no reply; a reply for another nonce, from
	 * another node, for other QPs, or cut short is refused. */
	assert_int_equal(tern_mlx5_connect_complete(req, (size_t)req_len), -EINVAL);
	memcpy(bad, rep, (size_t)rep_len);
	bad[8] ^= 1;
	assert_int_equal(tern_mlx5_connect_complete(bad, (size_t)rep_len), -ENOENT);
	memcpy(bad, rep, (size_t)rep_len);
	bad[31] ^= 0x40;
	assert_int_equal(tern_mlx5_connect_complete(bad, (size_t)rep_len), -EINVAL);
	memcpy(bad, rep, (size_t)rep_len);
	bad[40] ^= 0x10; /* first entry answers another initiator QP */
	assert_int_equal(tern_mlx5_connect_complete(bad, (size_t)rep_len), -EINVAL);
	len = valid_msg(TERN_MLX5_CONNECT_REPLY, 1, bad, sizeof(bad));
	memcpy(bad + 8, rep + 8, 8); /* right nonce, one entry */
	assert_int_equal(tern_mlx5_connect_complete(bad, (size_t)len), -EINVAL);
	/* None of that hurt the request: its own reply completes it, once. */
	assert_int_equal(tern_mlx5_connect_complete(rep, (size_t)rep_len), 0);
	assert_int_equal(tern_mlx5_connect_complete(rep, (size_t)rep_len), -ENOENT);
	write_read_check(f, f->fx.ep[0], 3);
}

static void
a_newer_request_replaces_a_pending_one(void **state)
{
	struct fx *f = *state;
	uint8_t req[TERN_MLX5_CONNECT_MSG_MAX], rep[TERN_MLX5_CONNECT_MSG_MAX];
	int req_len, rep_len;

	req_len = tern_mlx5_connect_request_build(f->gid1, req, sizeof(req));
	assert_true(req_len > 0);
	mlx5_model_set_node(f->fx.m, 1);
	rep_len = tern_mlx5_connect_serve(req, (size_t)req_len, rep, sizeof(rep));
	mlx5_model_set_node(f->fx.m, 0);
	assert_true(rep_len > 0);
	/* A second request before the reply: the first one's reply is stale. */
	assert_int_equal(handshake(f), NB_EP);
	assert_int_equal(tern_mlx5_connect_complete(rep, (size_t)rep_len), -ENOENT);
	write_read_check(f, f->fx.ep[1], 4);
}

/* A QP to another node cannot recover alone after an error: it goes dead
 * (-ENOTCONN) until a new handshake resets both ends; the target reuses its
 * QP, and PSNs start afresh on both sides (the model checks they agree). */
static void
after_an_error_a_new_handshake_revives_the_qp(void **state)
{
	struct fx *f = *state;
	struct tern_slice s[4];
	int status[4];
	unsigned int i;

	assert_int_equal(handshake(f), NB_EP);
	write_read_check(f, f->fx.ep[1], 5);
	/* Endpoint 1's QP is model QP 1 (created second). */
	mlx5_model_qp_fail(mlx5_model_qp(f->fx.m, 1), 0, MODEL_SYND_RETRY_EXC);
	for (i = 0; i < 4; i++)
		s[i] = slice(f, TERN_OP_WRITE, i * 4096u, i * 4096u, 4096);
	run(f, f->fx.ep[1], s, 4, status);
	assert_int_equal(status[0], -ETIMEDOUT);
	for (i = 1; i < 4; i++)
		assert_int_equal(status[i], -ECONNABORTED);
	for (i = 0; i < 4; i++)
		s[i] = slice(f, TERN_OP_WRITE, i * 4096u, i * 4096u, 4096);
	run(f, f->fx.ep[1], s, 4, status);
	for (i = 0; i < 4; i++)
		assert_int_equal(status[i], -ENOTCONN);
	/* Endpoint 0 is unaffected. */
	write_read_check(f, f->fx.ep[0], 6);
	/* Only endpoint 1 needs the handshake; no QP is created on either node. */
	assert_int_equal(handshake(f), 1);
	assert_null(mlx5_model_qp(f->fx.m, 2 * NB_EP));
	write_read_check(f, f->fx.ep[1], 7);
}

static void
an_unconnected_peer_is_enotconn_until_the_handshake(void **state)
{
	struct fx *f = *state;
	struct tern_slice s = slice(f, TERN_OP_WRITE, 0, 0, 4096);
	int status;

	run(f, f->fx.ep[0], &s, 1, &status);
	assert_int_equal(status, -ENOTCONN);
	assert_null(mlx5_model_qp(f->fx.m, 0));
	assert_int_equal(handshake(f), NB_EP);
	write_read_check(f, f->fx.ep[0], 9);
}

/* An endpoint that opened a QP to the node by itself while the handshake was
 * under way (a provider that wires the peer) keeps it; the other endpoint
 * takes its handshake QP. */
static void
an_endpoint_with_its_own_qp_keeps_it(void **state)
{
	struct fx *f = *state;
	uint8_t req[TERN_MLX5_CONNECT_MSG_MAX], rep[TERN_MLX5_CONNECT_MSG_MAX];
	struct tern_slice s = slice(f, TERN_OP_WRITE, 0, 0, 4096);
	int req_len, rep_len, status;

	mlx5_model_wire_peers(f->fx.m, 1);
	req_len = tern_mlx5_connect_request_build(f->gid1, req, sizeof(req));
	assert_int_equal(req_len, 40 + NB_EP * 8);
	run(f, f->fx.ep[0], &s, 1, &status); /* opens wired model QP 2 */
	assert_int_equal(status, 0);
	mlx5_model_set_node(f->fx.m, 1);
	rep_len = tern_mlx5_connect_serve(req, (size_t)req_len, rep, sizeof(rep));
	mlx5_model_set_node(f->fx.m, 0);
	assert_true(rep_len > 0);
	assert_int_equal(tern_mlx5_connect_complete(rep, (size_t)rep_len), 0);
	write_read_check(f, f->fx.ep[0], 10);
	write_read_check(f, f->fx.ep[1], 11);
	assert_int_equal(tern_mlx5_connect_request_build(f->gid1, req, sizeof(req)), -EALREADY);
}

static void
failures_while_connecting_leave_nothing_behind(void **state)
{
	struct fx *f = *state;
	uint8_t req[TERN_MLX5_CONNECT_MSG_MAX], rep[TERN_MLX5_CONNECT_MSG_MAX];
	int req_len, rep_len;

	mlx5_model_fail_ops(f->fx.m, MODEL_FAIL_QP_OPEN);
	assert_int_equal(tern_mlx5_connect_request_build(f->gid1, req, sizeof(req)), -EIO);
	mlx5_model_fail_ops(f->fx.m, 0);
	req_len = tern_mlx5_connect_request_build(f->gid1, req, sizeof(req));
	assert_true(req_len > 0);
	mlx5_model_set_node(f->fx.m, 1);
	mlx5_model_fail_ops(f->fx.m, MODEL_FAIL_QP_CONNECT);
	assert_int_equal(tern_mlx5_connect_serve(req, (size_t)req_len, rep, sizeof(rep)), -EIO);
	mlx5_model_fail_ops(f->fx.m, 0);
	rep_len = tern_mlx5_connect_serve(req, (size_t)req_len, rep, sizeof(rep));
	mlx5_model_set_node(f->fx.m, 0);
	assert_true(rep_len > 0);
	mlx5_model_fail_ops(f->fx.m, MODEL_FAIL_QP_CONNECT);
	assert_int_equal(tern_mlx5_connect_complete(rep, (size_t)rep_len), -EIO);
	mlx5_model_fail_ops(f->fx.m, 0);
	/* The request is over; its QPs are gone; a new one covers both again. */
	assert_int_equal(tern_mlx5_connect_complete(rep, (size_t)rep_len), -ENOENT);
	assert_int_equal(handshake(f), NB_EP);
	write_read_check(f, f->fx.ep[0], 12);
}

static void
closing_an_endpoint_drops_its_pending_request(void **state)
{
	struct fx *f = *state;
	struct tern_endpoint_conf conf = { .lcore_id = 3,
					   .socket_id = SOCKET_ID_ANY,
					   .max_slices = 64 };
	uint8_t req[TERN_MLX5_CONNECT_MSG_MAX], rep[TERN_MLX5_CONNECT_MSG_MAX];
	struct tern_endpoint *ep = f->fx.ops->endpoint_open(&conf);
	int req_len, rep_len;

	assert_non_null(ep);
	req_len = tern_mlx5_connect_request_build(f->gid1, req, sizeof(req));
	assert_int_equal(req_len, 40 + (NB_EP + 1) * 8);
	f->fx.ops->endpoint_close(ep);
	mlx5_model_set_node(f->fx.m, 1);
	rep_len = tern_mlx5_connect_serve(req, (size_t)req_len, rep, sizeof(rep));
	mlx5_model_set_node(f->fx.m, 0);
	assert_true(rep_len > 0);
	assert_int_equal(tern_mlx5_connect_complete(rep, (size_t)rep_len), -ENOENT);
	assert_int_equal(handshake(f), NB_EP);
	write_read_check(f, f->fx.ep[1], 13);
}

/* What segment_import() does with a peer slot, without the handshake: take a
 * reference on @p d's node. @return the slot, or -ENOSPC. */
static int
take_slot(struct tern_segment *seg, const struct tern_mlx5_desc *d)
{
	struct tern_mlx5_desc priv = *d;
	int peer = mlx5_peer_get(d->gid, 1);

	if (peer < 0)
		return peer;
	priv.peer = (uint16_t)peer;
	memcpy(seg->priv, &priv, sizeof(priv));
	return peer;
}

/* Peer slots: an import takes one, segment_release() gives it back when no
 * QP and no handshake hold it. */
static void
segment_release_frees_unused_peer_slots(void **state)
{
	struct fx *f = *state;
	struct tern_segment seg[TERN_MLX5_PEER_MAX], extra;
	uint8_t blob[TERN_MLX5_DESC_LEN];
	struct tern_mlx5_desc d;
	unsigned int i;

	mlx5_model_desc(&d, 1, (void *)(uintptr_t)4096, 4096, 1, 1);
	/* Slot 1 is node 1 (setup's import); 2..7 are free: fill them. */
	for (i = 2; i < TERN_MLX5_PEER_MAX; i++) {
		d.gid[0] = 0xfe;
		d.gid[15] = (uint8_t)(0x40 + i);
		memset(&seg[i], 0, sizeof(seg[i]));
		assert_int_equal(take_slot(&seg[i], &d), (int)i);
	}
	/* Full: an import is refused before any handshake. */
	d.gid[15] = 0x7f;
	memset(&extra, 0, sizeof(extra));
	assert_int_equal(mlx5_desc_encode(&d, blob, sizeof(blob)), TERN_MLX5_DESC_LEN);
	assert_int_equal(f->fx.ops->segment_import(&extra, blob, sizeof(blob)), -ENOSPC);
	/* A second segment of a known node shares its slot. */
	d.gid[15] = 0x40 + 3;
	assert_int_equal(take_slot(&extra, &d), 3);
	f->fx.ops->segment_release(&seg[3]);
	d.gid[15] = 0x7f;
	assert_int_equal(take_slot(&seg[3], &d), -ENOSPC);
	f->fx.ops->segment_release(&extra);
	assert_int_equal(take_slot(&seg[3], &d), 3);
	/* Node 1's slot holds QPs once connected: its segment going does not
	 * free it, so a new node finds no slot. */
	assert_int_equal(handshake(f), NB_EP);
	f->fx.ops->segment_release(&f->rseg);
	d.gid[15] = 0x7e;
	assert_int_equal(take_slot(&extra, &d), -ENOSPC);
	/* ...and its next segment finds the QPs in place. */
	memcpy(&d, f->rseg.priv, sizeof(d));
	assert_int_equal(take_slot(&f->rseg, &d), 1);
	write_read_check(f, f->fx.ep[0], 8);
	for (i = 2; i < TERN_MLX5_PEER_MAX; i++)
		f->fx.ops->segment_release(&seg[i]);
	f->fx.ops->segment_release(NULL);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_device_is_enodev),
		cmocka_unit_test(wire_format_is_little_endian_as_documented),
		cmocka_unit_test_setup_teardown(malformed_messages_are_refused, quiet, loud),
		cmocka_unit_test_setup_teardown(mutated_and_random_messages_never_slip_through,
						quiet, loud),
		cmocka_unit_test_setup_teardown(handshake_connects_every_endpoint_and_moves_data,
						setup, teardown),
		cmocka_unit_test_setup_teardown(serve_and_complete_refuse_what_does_not_fit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_newer_request_replaces_a_pending_one, setup,
						teardown),
		cmocka_unit_test_setup_teardown(after_an_error_a_new_handshake_revives_the_qp,
						setup, teardown),
		cmocka_unit_test_setup_teardown(segment_release_frees_unused_peer_slots, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_unconnected_peer_is_enotconn_until_the_handshake,
						setup, teardown),
		cmocka_unit_test_setup_teardown(an_endpoint_with_its_own_qp_keeps_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(failures_while_connecting_leave_nothing_behind,
						setup, teardown),
		cmocka_unit_test_setup_teardown(initiator_qps_take_statuses, setup, teardown),
		cmocka_unit_test_setup_teardown(closing_an_endpoint_drops_its_pending_request,
						setup, teardown),
	};
	char prefix[64];

	(void)argc;
	snprintf(prefix, sizeof(prefix), "tern_mlx5_connect_%d", (int)getpid());
	if (mlx5_fixture_eal_init(argv[0], prefix) != 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
