/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The handshake carried over TCP (tern_mlx5_configure(), doc/mlx5.md): the
 * framing codec, the listener against well-formed, malformed and too many
 * connections, and an import's handshake against a real listener, nobody, a
 * silent one and lying ones. One process plays both nodes of the software
 * device model: the listener's thread serves as node 1, the test's thread
 * imports as node 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_log.h>
#include <rte_memory.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_fixture.h"
#include "mlx5_model.h"
#include "tern_mlx5.h"
#include "tern_mlx5_internal.h"

#define NB_EP	   2
#define BYTES	   (1u << 20)
#define MAX_CONNS  4
#define IDLE_MS	   300
#define HS_MS	   500
#define RECV_WAIT  3 /* s: longer than any timeout the listener applies */
#define STAT(name) (hs_stats().name)

struct fx {
	struct mlx5_fixture fx;
	uint8_t *remote; /* node 1 */
	uint32_t rkey;
	uint16_t port; /* node 1's listener */
};

static struct tern_mlx5_handshake_stats
hs_stats(void)
{
	struct tern_mlx5_handshake_stats st;

	tern_mlx5_handshake_stats(&st);
	return st;
}

static void
listener_is_node_1(void *arg)
{
	(void)arg;
	mlx5_model_set_thread_node(1);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	mlx5_fixture_open(&f->fx, NB_EP);
	f->remote = aligned_alloc(4096, BYTES);
	assert_non_null(f->remote);
	f->rkey = mlx5_model_mr_add(f->fx.m, 1, f->remote, BYTES, MODEL_ACCESS_ALL);
	mlx5_test_set_listener_init(listener_is_node_1, NULL);
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1",
							      .max_conns = MAX_CONNS,
							      .idle_timeout_ms = IDLE_MS,
							      .handshake_timeout_ms = HS_MS }),
		0);
	assert_true(tern_mlx5_listen_port() > 0);
	f->port = (uint16_t)tern_mlx5_listen_port();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(tern_mlx5_configure(NULL), 0);
	mlx5_test_set_listener_init(NULL, NULL);
	mlx5_fixture_close(&f->fx);
	free(f->remote);
	free(f);
	return 0;
}

/* Node 1's memory as its export names it, with the handshake at @p port. */
static void
node_1_blob(struct fx *f, uint16_t port, uint8_t blob[TERN_MLX5_DESC_LEN])
{
	struct tern_mlx5_desc d;

	mlx5_model_desc(&d, 1, f->remote, BYTES, f->rkey, port);
	assert_int_equal(mlx5_desc_encode(&d, blob, TERN_MLX5_DESC_LEN), TERN_MLX5_DESC_LEN);
}

static int
import_from(struct fx *f, uint16_t port, struct tern_segment *seg)
{
	uint8_t blob[TERN_MLX5_DESC_LEN];

	node_1_blob(f, port, blob);
	memset(seg, 0, sizeof(*seg));
	seg->kind = TERN_SEGMENT_REMOTE;
	seg->length = BYTES;
	return f->fx.ops->segment_import(seg, blob, sizeof(blob));
}

/* A blocking connection to 127.0.0.1:@p port whose reads give up after RECV_WAIT. */
static int
tcp_connect(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = RECV_WAIT };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void
send_bytes(int fd, const void *p, size_t len)
{
	assert_int_equal(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Read exactly @p len bytes. @return 0, or -1 when the peer closed first. */
static int
recv_bytes(int fd, void *p, size_t len)
{
	uint64_t until = mlx5_fixture_now_ms() + 2 * RECV_WAIT * 1000u;
	uint8_t *b = p;
	ssize_t n;

	while (len != 0) {
		/* Each read gives up after RECV_WAIT; a peer that dribbles
		 * bytes is cut off too. */
		assert_true(mlx5_fixture_now_ms() < until);
		n = recv(fd, b, len, 0);
		if (n <= 0) {
			assert_true(n == 0 || errno == ECONNRESET); /* not a timeout */
			return -1;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* recv_bytes() for the liar's thread, where cmocka cannot fail a test:
 * @return 0, or -1 on the end, an error or a timeout. */
static int
liar_recv(int fd, void *p, size_t len)
{
	uint8_t *b = p;
	ssize_t n;

	while (len != 0) {
		n = recv(fd, b, len, 0);
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The listener closed @p fd: the next read sees the end (not a timeout). */
static void
expect_closed(int fd)
{
	uint8_t b;

	assert_int_equal(recv_bytes(fd, &b, 1), -1);
	close(fd);
}

/* Send a request frame of @p body and take the reply's header and body. */
static struct tern_mlx5_frame_hdr
request(int fd, const void *body, size_t len, uint8_t *reply)
{
	uint8_t frame[TERN_MLX5_FRAME_MAX];
	struct tern_mlx5_frame_hdr h;
	int n = mlx5_frame_encode(TERN_MLX5_CONNECT_REQUEST, 0, body, len, frame, sizeof(frame));

	assert_int_equal(n, (int)(TERN_MLX5_FRAME_HDR + len));
	send_bytes(fd, frame, (size_t)n);
	assert_int_equal(recv_bytes(fd, reply, TERN_MLX5_FRAME_HDR), 0);
	assert_int_equal(
		mlx5_frame_decode(reply, TERN_MLX5_FRAME_HDR, TERN_MLX5_CONNECT_REPLY, &h, NULL),
		0);
	assert_int_equal(recv_bytes(fd, reply + TERN_MLX5_FRAME_HDR, h.body_len), 0);
	return h;
}

/* Wait until counter @p name reaches @p want, 3 s at most. */
#define WAIT_STAT(name, want) MLX5_FX_WAIT(STAT(name) >= (want), 3000)

/* ---- without a device ---- */

static void
no_device_is_enodev(void **state)
{
	const struct tern_transport_ops *ops = tern_transport_get(tern_transport_id("mlx5"));
	struct mlx5_model *m = mlx5_model_create();
	struct tern_segment seg, lseg;
	struct tern_mlx5_desc d;
	uint8_t blob[TERN_MLX5_DESC_LEN], buf[64];

	(void)state;
	mlx5_model_desc(&d, 1, buf, sizeof(buf), 1, 7000);
	assert_int_equal(mlx5_desc_encode(&d, blob, sizeof(blob)), TERN_MLX5_DESC_LEN);
	memset(&seg, 0, sizeof(seg));
	memset(&lseg, 0, sizeof(lseg));
	lseg.kind = TERN_SEGMENT_LOCAL;
	lseg.base = buf;
	lseg.length = sizeof(buf);
	/* This machine has no RDMA device: nothing starts, nothing imports. */
	assert_int_equal(ops->probe(), -ENODEV);
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1" }),
		-ENODEV);
	assert_int_equal(tern_mlx5_listen_port(), -ENOTCONN);
	assert_int_equal(ops->segment_import(&seg, blob, sizeof(blob)), -ENODEV);
	assert_int_equal(ops->segment_export(&lseg, blob, sizeof(blob)), -ENODEV);
	/* Stopping what never started is fine. */
	assert_int_equal(tern_mlx5_configure(NULL), 0);
	/* A model whose device is absent: the same. */
	assert_int_equal(mlx5_test_set_queue_provider(&mlx5_model_provider, m), 0);
	mlx5_model_set_present(m, 0);
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1" }),
		-ENODEV);
	assert_int_equal(tern_mlx5_listen_port(), -ENOTCONN);
	assert_int_equal(mlx5_test_set_queue_provider(NULL, NULL), 0);
	mlx5_model_destroy(m);
}

/* ---- framing ---- */

static void
frame_codec_is_strict(void **state)
{
	static const uint8_t head[] = { 'T', 'M', 'X', 'F', 1, 1, 0, 0, 56, 0, 0, 0 };
	uint8_t body[TERN_MLX5_CONNECT_MSG_MAX] = { 0 }, buf[TERN_MLX5_FRAME_MAX + 16],
		again[TERN_MLX5_FRAME_MAX];
	struct tern_mlx5_frame_hdr h;
	uint64_t x = 88172645463325252ull;
	unsigned int len, i, bit, k, accepted = 0;
	const char *why;
	int rc;

	(void)state;
	/* Byte by byte: magic, version, type, status, body length. */
	assert_int_equal(
		mlx5_frame_encode(TERN_MLX5_CONNECT_REQUEST, 0, body, 56, buf, sizeof(buf)),
		TERN_MLX5_FRAME_HDR + 56);
	assert_memory_equal(buf, head, sizeof(head));
	assert_int_equal(mlx5_frame_encode(TERN_MLX5_CONNECT_REPLY, 28, NULL, 0, buf, sizeof(buf)),
			 TERN_MLX5_FRAME_HDR);
	assert_memory_equal(buf, "TMXF\x01\x02\x1c\x00\x00\x00\x00\x00", 12);
	assert_int_equal(
		mlx5_frame_decode(buf, TERN_MLX5_FRAME_HDR, TERN_MLX5_CONNECT_REPLY, &h, NULL), 0);
	assert_int_equal(h.status, 28);
	assert_int_equal(h.body_len, 0);
	/* Encode refuses what decode would. */
	assert_int_equal(
		mlx5_frame_encode(TERN_MLX5_CONNECT_REQUEST, 1, body, 48, buf, sizeof(buf)),
		-EINVAL);
	assert_int_equal(mlx5_frame_encode(TERN_MLX5_CONNECT_REPLY, 5, body, 52, buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(mlx5_frame_encode(3, 0, body, 48, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mlx5_frame_encode(TERN_MLX5_CONNECT_REQUEST, 0, body, 48, buf, 59),
			 -ENOSPC);
	/* Every body length of both types: only a whole message's passes. */
	for (k = 0; k < 2; k++) {
		uint8_t type = k == 0 ? TERN_MLX5_CONNECT_REQUEST : TERN_MLX5_CONNECT_REPLY;
		unsigned int entry = k == 0 ? 8 : 12;

		for (len = 0; len < 2000; len++) {
			bool ok = len >= 40 + entry && len <= 40 + 64 * entry &&
				  (len - 40) % entry == 0;

			memcpy(buf, head, sizeof(head));
			buf[5] = type;
			buf[8] = (uint8_t)len;
			buf[9] = (uint8_t)(len >> 8);
			rc = mlx5_frame_decode(buf, TERN_MLX5_FRAME_HDR, type, &h, &why);
			if (ok != (rc == 0))
				fail_msg("type %u length %u: %d", type, len, rc);
			if (ok)
				assert_int_equal(h.body_len, len);
		}
	}
	/* Oversized: the length's upper bytes. */
	memcpy(buf, head, sizeof(head));
	buf[11] = 1;
	assert_int_equal(
		mlx5_frame_decode(buf, TERN_MLX5_FRAME_HDR, TERN_MLX5_CONNECT_REQUEST, &h, &why),
		-EINVAL);
	assert_string_equal(why, "length out of bounds");
	/* Wrong magic, version, type; a status where none may be. */
	memcpy(buf, head, sizeof(head));
	buf[3] = 'G';
	assert_int_equal(mlx5_frame_decode(buf, 12, TERN_MLX5_CONNECT_REQUEST, &h, &why), -EINVAL);
	assert_string_equal(why, "bad magic");
	memcpy(buf, head, sizeof(head));
	buf[4] = 2;
	assert_int_equal(mlx5_frame_decode(buf, 12, TERN_MLX5_CONNECT_REQUEST, &h, &why), -EPROTO);
	assert_int_equal(mlx5_frame_decode(head, 12, TERN_MLX5_CONNECT_REPLY, &h, &why), -EINVAL);
	assert_string_equal(why, "unexpected frame type");
	memcpy(buf, head, sizeof(head));
	buf[6] = 1;
	assert_int_equal(mlx5_frame_decode(buf, 12, TERN_MLX5_CONNECT_REQUEST, &h, &why), -EINVAL);
	assert_string_equal(why, "status in a request");
	memcpy(buf, "TMXF\x01\x02\x00\x10\x00\x00\x00\x00", 12); /* status 4096 */
	assert_int_equal(mlx5_frame_decode(buf, 12, TERN_MLX5_CONNECT_REPLY, &h, &why), -EINVAL);
	memcpy(buf, "TMXF\x01\x02\x05\x00\x34\x00\x00\x00", 12); /* status and a body */
	assert_int_equal(mlx5_frame_decode(buf, 12, TERN_MLX5_CONNECT_REPLY, &h, &why), -EINVAL);
	assert_string_equal(why, "error reply with a body");
	/* Truncated (or longer) headers. */
	for (len = 0; len < 20; len++)
		if (len != TERN_MLX5_FRAME_HDR)
			assert_int_equal(
				mlx5_frame_decode(head, len, TERN_MLX5_CONNECT_REQUEST, &h, NULL),
				-EINVAL);
	assert_int_equal(mlx5_frame_decode(NULL, 12, TERN_MLX5_CONNECT_REQUEST, &h, NULL), -EINVAL);
	/* Every single-bit flip: refused, or a header that encodes back the same. */
	for (i = 0; i < TERN_MLX5_FRAME_HDR; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, head, sizeof(head));
			buf[i] ^= (uint8_t)(1u << bit);
			if (mlx5_frame_decode(buf, 12, TERN_MLX5_CONNECT_REQUEST, &h, NULL) != 0)
				continue;
			accepted++;
			assert_int_equal(mlx5_frame_encode(h.type, h.status, body, h.body_len,
							   again, sizeof(again)),
					 (int)(12 + h.body_len));
			assert_memory_equal(again, buf, 12);
		}
	print_message("header bit flips: %u of 96 still a request header\n", accepted);
	assert_true(accepted < 10);
	/* Garbage, with the right magic and version a third of the time. */
	for (k = 0; k < 50000; k++) {
		for (i = 0; i < TERN_MLX5_FRAME_HDR; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		if (k % 3 == 0)
			memcpy(buf, head, 5);
		if (mlx5_frame_decode(buf, 12, (uint8_t)(1 + k % 2), &h, NULL) == 0) {
			assert_int_equal(mlx5_frame_encode(h.type, h.status, body, h.body_len,
							   again, sizeof(again)),
					 (int)(12 + h.body_len));
			assert_memory_equal(again, buf, 12);
		}
	}
}

/* ---- the listener ---- */

static void
configure_checks_its_settings(void **state)
{
	struct fx *f = *state;
	struct tern_segment lseg;
	struct tern_mlx5_desc d;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	uint8_t blob[TERN_MLX5_DESC_LEN];
	int busy;

	memset(&lseg, 0, sizeof(lseg));
	lseg.kind = TERN_SEGMENT_LOCAL;
	lseg.base = f->remote; /* any memory of this node */
	lseg.length = 4096;
	assert_int_equal(f->fx.ops->segment_export(&lseg, blob, sizeof(blob)), TERN_MLX5_DESC_LEN);
	assert_int_equal(mlx5_desc_decode(blob, sizeof(blob), &d), 0);
	assert_int_equal(d.hs_port, f->port);
	assert_memory_equal(d.hs_addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\x01", 16);
	/* Settings that make no sense change nothing. */
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "localhost" }),
		-EINVAL);
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1:7000" }),
		-EINVAL);
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){ .advertise_addr = "127.0.0.1" }),
		-EINVAL);
	assert_int_equal(tern_mlx5_configure(&(struct tern_mlx5_conf){
				 .listen_addr = "0.0.0.0", .advertise_addr = "0.0.0.0" }),
			 -EINVAL);
	assert_int_equal(tern_mlx5_configure(&(struct tern_mlx5_conf){
				 .listen_addr = "0.0.0.0", .advertise_addr = "239.1.2.3" }),
			 -EINVAL);
	assert_int_equal(
		tern_mlx5_configure(&(struct tern_mlx5_conf){
			.listen_addr = "127.0.0.1", .max_conns = TERN_MLX5_LISTEN_CONNS_MAX + 1 }),
		-EINVAL);
	assert_int_equal(tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "127.0.0.1",
								       .idle_timeout_ms = 600001 }),
			 -EINVAL);
	assert_int_equal(tern_mlx5_configure(&(struct tern_mlx5_conf){
				 .listen_addr = "127.0.0.1", .handshake_timeout_ms = 600001 }),
			 -EINVAL);
	assert_int_equal(tern_mlx5_listen_port(), f->port);
	/* A port in use is reported, and the listener is gone. */
	busy = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(busy >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(busy, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(busy, 1), 0);
	assert_int_equal(getsockname(busy, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(tern_mlx5_configure(&(struct tern_mlx5_conf){
				 .listen_addr = "127.0.0.1", .listen_port = ntohs(sin.sin_port) }),
			 -EADDRINUSE);
	close(busy);
	assert_int_equal(tern_mlx5_listen_port(), -ENOTCONN);
	assert_int_equal(f->fx.ops->segment_export(&lseg, blob, sizeof(blob)), -ENOTCONN);
	/* A wildcard serves but names nothing a peer could reach... */
	assert_int_equal(tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "0.0.0.0" }),
			 0);
	assert_true(tern_mlx5_listen_port() > 0);
	assert_int_equal(f->fx.ops->segment_export(&lseg, blob, sizeof(blob)), -EDESTADDRREQ);
	/* ...unless told what to advertise. */
	assert_int_equal(tern_mlx5_configure(&(struct tern_mlx5_conf){
				 .listen_addr = "0.0.0.0", .advertise_addr = "192.0.2.7" }),
			 0);
	assert_int_equal(f->fx.ops->segment_export(&lseg, blob, sizeof(blob)), TERN_MLX5_DESC_LEN);
	assert_int_equal(mlx5_desc_decode(blob, sizeof(blob), &d), 0);
	assert_memory_equal(d.hs_addr + 12, "\xc0\x00\x02\x07", 4);
	assert_int_equal(d.hs_port, tern_mlx5_listen_port());
	/* IPv6, where the host has it: node 1's descriptor names [::1]:port,
	 * and the import's handshake goes there. */
	if (tern_mlx5_configure(&(struct tern_mlx5_conf){ .listen_addr = "::1" }) == 0) {
		struct tern_segment seg;

		assert_int_equal(f->fx.ops->segment_export(&lseg, blob, sizeof(blob)),
				 TERN_MLX5_DESC_LEN);
		assert_int_equal(mlx5_desc_decode(blob, sizeof(blob), &d), 0);
		assert_memory_equal(d.hs_addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
		mlx5_model_desc(&d, 1, f->remote, BYTES, f->rkey, d.hs_port);
		memset(d.hs_addr, 0, 16);
		d.hs_addr[15] = 1;
		assert_int_equal(mlx5_desc_encode(&d, blob, sizeof(blob)), TERN_MLX5_DESC_LEN);
		memset(&seg, 0, sizeof(seg));
		assert_int_equal(f->fx.ops->segment_import(&seg, blob, sizeof(blob)), 0);
		f->fx.ops->segment_release(&seg);
	} else {
		print_message("no IPv6 loopback here: the IPv6 listener is not tested\n");
	}
	assert_int_equal(tern_mlx5_configure(NULL), 0);
	assert_int_equal(tern_mlx5_listen_port(), -ENOTCONN);
	assert_int_equal(f->fx.ops->segment_export(&lseg, blob, sizeof(blob)), -ENOTCONN);
}

/* A client speaking the protocol by hand: a request, then a malformed message
 * in a good frame (answered with a status, the connection stays), then the
 * request again on the same connection. */
static void
listener_answers_requests_over_tcp(void **state)
{
	struct fx *f = *state;
	uint8_t gid1[16], req[TERN_MLX5_CONNECT_MSG_MAX], rep[TERN_MLX5_FRAME_MAX];
	struct tern_mlx5_handshake_stats st0 = hs_stats();
	struct tern_mlx5_frame_hdr h;
	int fd, len;

	mlx5_model_gid(1, gid1);
	fd = tcp_connect(f->port);
	len = tern_mlx5_connect_request_build(gid1, req, sizeof(req));
	assert_int_equal(len, 40 + NB_EP * 8);
	memset(req + 40, 0, 4); /* QPN 0: the listener's decoder refuses it */
	h = request(fd, req, (size_t)len, rep);
	assert_int_equal(h.status, EINVAL);
	assert_int_equal(h.body_len, 0);
	len = tern_mlx5_connect_request_build(gid1, req, sizeof(req));
	h = request(fd, req, (size_t)len, rep);
	assert_int_equal(h.status, 0);
	assert_int_equal(h.body_len, 40 + NB_EP * 12);
	assert_int_equal(tern_mlx5_connect_complete(rep + TERN_MLX5_FRAME_HDR, h.body_len), 0);
	assert_int_equal(tern_mlx5_connect_request_build(gid1, req, sizeof(req)), -EALREADY);
	close(fd);
	assert_int_equal(STAT(served) - st0.served, 1);
	assert_int_equal(STAT(serve_errors) - st0.serve_errors, 1);
	assert_int_equal(STAT(bad_frames), st0.bad_frames);
}

static void
malformed_frames_close_the_connection(void **state)
{
	static const struct {
		const char *what;
		uint8_t bytes[TERN_MLX5_FRAME_HDR];
		size_t len;   /* bytes sent */
		size_t extra; /* body bytes sent after the header */
	} bad[] = {
		{ "bad magic", { 'T', 'M', 'X', 'G', 1, 1, 0, 0, 48, 0, 0, 0 }, 12, 0 },
		{ "version 2", { 'T', 'M', 'X', 'F', 2, 1, 0, 0, 48, 0, 0, 0 }, 12, 0 },
		{ "a reply", { 'T', 'M', 'X', 'F', 1, 2, 0, 0, 52, 0, 0, 0 }, 12, 0 },
		{ "status in a request", { 'T', 'M', 'X', 'F', 1, 1, 5, 0, 48, 0, 0, 0 }, 12, 0 },
		{ "oversized", { 'T', 'M', 'X', 'F', 1, 1, 0, 0, 0, 0, 0x10, 0 }, 12, 0 },
		{ "just too long", { 'T', 'M', 'X', 'F', 1, 1, 0, 0, 0x30, 2, 0, 0 }, 12, 0 },
		{ "not whole entries", { 'T', 'M', 'X', 'F', 1, 1, 0, 0, 50, 0, 0, 0 }, 12, 0 },
		{ "garbage", { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7 }, 12, 0 },
		{ "truncated header", { 'T', 'M', 'X', 'F', 1, 1, 0 }, 7, 0 },
		{ "truncated body", { 'T', 'M', 'X', 'F', 1, 1, 0, 0, 48, 0, 0, 0 }, 12, 20 },
	};
	struct fx *f = *state;
	struct tern_mlx5_handshake_stats st0 = hs_stats();
	struct tern_segment seg;
	uint8_t zero[64] = { 0 };
	unsigned int i;
	int fd;

	for (i = 0; i < RTE_DIM(bad); i++) {
		fd = tcp_connect(f->port);
		send_bytes(fd, bad[i].bytes, bad[i].len);
		if (bad[i].extra != 0)
			send_bytes(fd, zero, bad[i].extra);
		if (strncmp(bad[i].what, "truncated", 9) == 0)
			shutdown(fd, SHUT_WR); /* and nothing more comes */
		expect_closed(fd);
		WAIT_STAT(bad_frames, st0.bad_frames + i + 1);
	}
	assert_int_equal(STAT(bad_frames) - st0.bad_frames, RTE_DIM(bad));
	assert_int_equal(STAT(served), st0.served);
	/* The listener still answers a real import. */
	assert_int_equal(import_from(f, f->port, &seg), 0);
	assert_int_equal(STAT(served) - st0.served, 1);
	f->fx.ops->segment_release(&seg);
}

static void
connections_are_bounded_and_idle_ones_closed(void **state)
{
	struct fx *f = *state;
	struct tern_mlx5_handshake_stats st0 = hs_stats();
	struct tern_segment seg;
	int fd[MAX_CONNS + 3], slow;
	unsigned int i;
	uint64_t start;

	for (i = 0; i < MAX_CONNS; i++)
		fd[i] = tcp_connect(f->port);
	WAIT_STAT(accepted, st0.accepted + MAX_CONNS);
	/* Beyond the bound: closed at once. */
	for (; i < RTE_DIM(fd); i++)
		fd[i] = tcp_connect(f->port);
	for (i = MAX_CONNS; i < RTE_DIM(fd); i++)
		expect_closed(fd[i]);
	assert_int_equal(STAT(refused_conns) - st0.refused_conns, 3);
	/* One of them goes (not the newest): its place is free again. */
	close(fd[0]);
	usleep(50 * 1000);
	fd[0] = tcp_connect(f->port);
	WAIT_STAT(accepted, st0.accepted + MAX_CONNS + 1);
	assert_int_equal(STAT(refused_conns) - st0.refused_conns, 3);
	/* The ones held say nothing: closed after IDLE_MS, not before. */
	start = mlx5_fixture_now_ms();
	for (i = 0; i < MAX_CONNS; i++)
		expect_closed(fd[i]);
	assert_true(mlx5_fixture_now_ms() - start <= IDLE_MS + 1000);
	WAIT_STAT(idle_closed, st0.idle_closed + MAX_CONNS);
	assert_int_equal(STAT(idle_closed) - st0.idle_closed, MAX_CONNS);
	/* Dribbling a byte every 100 ms does not keep a connection: it must
	 * send a whole request within IDLE_MS. */
	slow = tcp_connect(f->port);
	start = mlx5_fixture_now_ms();
	for (i = 0; i < 5 && mlx5_fixture_now_ms() - start < IDLE_MS - 100; i++) {
		send_bytes(slow, "T", 1);
		usleep(100 * 1000);
	}
	expect_closed(slow);
	assert_true(mlx5_fixture_now_ms() - start < IDLE_MS + 1000);
	WAIT_STAT(idle_closed, st0.idle_closed + MAX_CONNS + 1);
	assert_int_equal(STAT(bad_frames), st0.bad_frames);
	/* Room again: an import goes through. */
	assert_int_equal(import_from(f, f->port, &seg), 0);
	f->fx.ops->segment_release(&seg);
	/* Stopping the listener closes the connections it holds. */
	slow = tcp_connect(f->port);
	WAIT_STAT(accepted, st0.accepted + MAX_CONNS + 3);
	assert_int_equal(tern_mlx5_configure(NULL), 0);
	expect_closed(slow);
}

/* ---- the initiator ---- */

/* A peer that answers badly: reads one request frame, then replies per mode. */
enum liar_mode { LIAR_GARBAGE, LIAR_STATUS, LIAR_BAD_VERSION, LIAR_OTHER_QPS, LIAR_CLOSE };

struct liar {
	int lfd;
	uint16_t port;
	enum liar_mode mode;
	pthread_t thread;
};

static void *
liar_main(void *arg)
{
	struct liar *l = arg;
	uint8_t in[TERN_MLX5_FRAME_MAX], out[TERN_MLX5_FRAME_MAX];
	struct tern_mlx5_connect_msg m;
	struct tern_mlx5_frame_hdr h;
	struct timeval tv = { .tv_sec = RECV_WAIT };
	int fd = accept(l->lfd, NULL, NULL), n = 0;
	unsigned int i;

	/* accept() gives up after RECV_WAIT (SO_RCVTIMEO of the listening
	 * socket), and so does each read: no wait without an end. */
	if (fd < 0)
		return NULL;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (liar_recv(fd, in, TERN_MLX5_FRAME_HDR) == 0 &&
	    mlx5_frame_decode(in, TERN_MLX5_FRAME_HDR, TERN_MLX5_CONNECT_REQUEST, &h, NULL) == 0 &&
	    liar_recv(fd, in + TERN_MLX5_FRAME_HDR, h.body_len) == 0) {
		switch (l->mode) {
		case LIAR_GARBAGE:
			memset(out, 0x5a, sizeof(out));
			n = 100;
			break;
		case LIAR_STATUS:
			n = mlx5_frame_encode(TERN_MLX5_CONNECT_REPLY, ENOSPC, NULL, 0, out,
					      sizeof(out));
			break;
		case LIAR_BAD_VERSION:
			n = mlx5_frame_encode(TERN_MLX5_CONNECT_REPLY, ENODEV, NULL, 0, out,
					      sizeof(out));
			out[4] = 9;
			break;
		case LIAR_OTHER_QPS:
			/* A well-formed reply from node 1 for QPs nobody asked about. */
			mlx5_connect_decode(in + TERN_MLX5_FRAME_HDR, h.body_len,
					    TERN_MLX5_CONNECT_REQUEST, &m, NULL);
			m.type = TERN_MLX5_CONNECT_REPLY;
			mlx5_model_gid(1, m.gid);
			for (i = 0; i < m.count; i++) {
				m.qp[i].peer_qpn = m.qp[i].qpn + 0x1000;
				m.qp[i].qpn = 0x9000 + i;
			}
			n = mlx5_connect_encode(&m, out + TERN_MLX5_FRAME_HDR,
						TERN_MLX5_CONNECT_MSG_MAX);
			n = mlx5_frame_encode(TERN_MLX5_CONNECT_REPLY, 0, out + TERN_MLX5_FRAME_HDR,
					      (size_t)n, out, sizeof(out));
			break;
		case LIAR_CLOSE:
			break;
		}
		if (n > 0)
			(void)send(fd, out, (size_t)n, MSG_NOSIGNAL);
	}
	close(fd);
	return NULL;
}

/* A listening socket on 127.0.0.1, ephemeral port; with @p thread, a liar. */
static void
liar_start(struct liar *l, enum liar_mode mode, bool thread)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = RECV_WAIT };
	socklen_t len = sizeof(sin);

	l->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(l->lfd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l->lfd, 4), 0);
	assert_int_equal(setsockopt(l->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(getsockname(l->lfd, (struct sockaddr *)&sin, &len), 0);
	l->port = ntohs(sin.sin_port);
	l->mode = mode;
	if (thread)
		assert_int_equal(pthread_create(&l->thread, NULL, liar_main, l), 0);
}

static void
liar_stop(struct liar *l, bool thread)
{
	if (thread)
		pthread_join(l->thread, NULL);
	close(l->lfd);
}

/* Each failure is what lib/peer needs to fall back on the next transport,
 * leaves no handshake pending and no peer slot taken, and the next import
 * of the same node over the real listener works. */
static void
failed_handshakes_fail_the_import(void **state)
{
	static const struct {
		enum liar_mode mode;
		int err;
	} liars[] = {
		{ LIAR_GARBAGE, -EPROTO },     { LIAR_STATUS, -EREMOTEIO },
		{ LIAR_BAD_VERSION, -EPROTO }, { LIAR_OTHER_QPS, -EPROTO },
		{ LIAR_CLOSE, -ECONNRESET },
	};
	struct fx *f = *state;
	struct tern_mlx5_handshake_stats st0 = hs_stats();
	struct tern_segment seg;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	struct liar silent, l;
	uint8_t gid1[16], req[TERN_MLX5_CONNECT_MSG_MAX];
	uint64_t start;
	unsigned int i;
	int nobody;

	/* Nobody listens: a bound socket that does not. */
	nobody = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(nobody, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(nobody, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(import_from(f, ntohs(sin.sin_port), &seg), -ECONNREFUSED);
	close(nobody);
	/* A listener that never answers: bounded by the handshake timeout. */
	liar_start(&silent, LIAR_CLOSE, false);
	start = mlx5_fixture_now_ms();
	assert_int_equal(import_from(f, silent.port, &seg), -ETIMEDOUT);
	assert_true(mlx5_fixture_now_ms() - start >= HS_MS - 10);
	assert_true(mlx5_fixture_now_ms() - start < HS_MS + 1000);
	liar_stop(&silent, false);
	for (i = 0; i < RTE_DIM(liars); i++) {
		liar_start(&l, liars[i].mode, true);
		if (import_from(f, l.port, &seg) != liars[i].err)
			fail_msg("liar %u: not %d", liars[i].mode, liars[i].err);
		liar_stop(&l, true);
	}
	/* No QP can be made for the request. */
	mlx5_model_fail_ops(f->fx.m, MODEL_FAIL_QP_OPEN);
	assert_int_equal(import_from(f, f->port, &seg), -EIO);
	mlx5_model_fail_ops(f->fx.m, 0);
	assert_int_equal(STAT(initiate_errors) - st0.initiate_errors, 3 + RTE_DIM(liars));
	/* Nothing was connected and nothing waits: node 1's slot went back, and
	 * another node takes the first one. */
	mlx5_model_gid(1, gid1);
	gid1[0] = 0xfe;
	assert_int_equal(mlx5_peer_get(gid1, 1), 1);
	mlx5_peer_put(1);
	mlx5_model_gid(1, gid1);
	assert_int_equal(import_from(f, f->port, &seg), 0);
	assert_int_equal(tern_mlx5_connect_request_build(gid1, req, sizeof(req)), -EALREADY);
	assert_int_equal(STAT(initiated) - st0.initiated, 1);
	f->fx.ops->segment_release(&seg);
}

static void
import_without_endpoints_is_enotconn(void **state)
{
	struct fx *f = *state;
	struct tern_segment seg;
	unsigned int i;

	for (i = 0; i < NB_EP; i++)
		f->fx.ops->endpoint_close(f->fx.ep[i]);
	/* The last endpoint closed the device; probe as an engine would. */
	assert_int_equal(f->fx.ops->probe(), 0);
	assert_int_equal(import_from(f, f->port, &seg), -ENOTCONN);
	for (i = 0; i < NB_EP; i++) {
		struct tern_endpoint_conf conf = { .lcore_id = i + 1,
						   .socket_id = SOCKET_ID_ANY,
						   .max_slices = 256 };

		f->fx.ep[i] = f->fx.ops->endpoint_open(&conf);
		assert_non_null(f->fx.ep[i]);
	}
	assert_int_equal(import_from(f, f->port, &seg), 0);
	f->fx.ops->segment_release(&seg);
}

/* One WRITE of 4 KiB from @local to @seg on endpoint 0. @return its status. */
static int
write_one(struct fx *f, struct tern_segment *seg, struct tern_segment *lseg, uint64_t cookie)
{
	struct tern_slice s = { 0 };
	struct tern_completion c;
	uint64_t until = mlx5_fixture_now_ms() + 3000;

	s.cookie = cookie;
	s.local = lseg->base;
	s.local_seg = lseg;
	s.target = seg;
	s.length = 4096;
	s.op = TERN_OP_WRITE;
	assert_int_equal(f->fx.ops->post_burst(f->fx.ep[0], &s, 1), 1);
	for (;;) {
		mlx5_model_step(f->fx.m);
		if (f->fx.ops->poll(f->fx.ep[0], &c, 1) == 1)
			break;
		assert_true(mlx5_fixture_now_ms() < until);
	}
	assert_int_equal(c.cookie, cookie);
	return c.status;
}

/* A QP to another node that goes dead (an error, and it cannot recover
 * alone) is handshaken again by the reviver on its next use, with the
 * descriptor of the last import: no new import needed. */
static void
a_dead_qp_is_handshaken_again_on_next_use(void **state)
{
	struct fx *f = *state;
	struct tern_segment seg, lseg;
	uint8_t *local = aligned_alloc(4096, 65536);
	uint64_t initiated;

	assert_non_null(local);
	memset(local, 0x5c, 65536);
	memset(&lseg, 0, sizeof(lseg));
	lseg.kind = TERN_SEGMENT_LOCAL;
	lseg.handle = 1u << 16 | 3;
	lseg.base = local;
	lseg.length = 65536;
	assert_int_equal(import_from(f, f->port, &seg), 0);
	assert_int_equal(write_one(f, &seg, &lseg, 1), 0);
	assert_memory_equal(f->remote, local, 4096);
	/* Endpoint 0's QP is model QP 0 (the request's first). */
	mlx5_model_qp_fail(mlx5_model_qp(f->fx.m, 0), 0, MODEL_SYND_RETRY_EXC);
	assert_int_equal(write_one(f, &seg, &lseg, 2), -ETIMEDOUT);
	initiated = STAT(initiated);
	/* Dead: this use fails at once and asks the reviver for a handshake. */
	assert_int_equal(write_one(f, &seg, &lseg, 3), -ENOTCONN);
	WAIT_STAT(initiated, initiated + 1);
	memset(local, 0x3d, 4096);
	assert_int_equal(write_one(f, &seg, &lseg, 4), 0);
	assert_memory_equal(f->remote, local, 4096);
	/* A peer that no longer answers: 8 handshakes, backing off from 10 ms
	 * to 1 s (about 2.3 s in all), then the reviver gives up until the
	 * next import. */
	assert_int_equal(tern_mlx5_configure(NULL), 0);
	mlx5_model_qp_fail(mlx5_model_qp(f->fx.m, 0), 0, MODEL_SYND_RETRY_EXC);
	assert_int_equal(write_one(f, &seg, &lseg, 5), -ETIMEDOUT);
	initiated = STAT(initiate_errors);
	assert_int_equal(write_one(f, &seg, &lseg, 6), -ENOTCONN);
	MLX5_FX_WAIT(STAT(initiate_errors) >= initiated + 8, 6000);
	assert_int_equal(write_one(f, &seg, &lseg, 7), -ENOTCONN);
	usleep(1500 * 1000);
	assert_int_equal(STAT(initiate_errors), initiated + 8);
	f->fx.ops->segment_release(&seg);
	free(local);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_device_is_enodev),
		cmocka_unit_test(frame_codec_is_strict),
		cmocka_unit_test_setup_teardown(configure_checks_its_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(listener_answers_requests_over_tcp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(malformed_frames_close_the_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(connections_are_bounded_and_idle_ones_closed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(failed_handshakes_fail_the_import, setup, teardown),
		cmocka_unit_test_setup_teardown(import_without_endpoints_is_enotconn, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_dead_qp_is_handshaken_again_on_next_use, setup,
						teardown),
	};
	char prefix[64];

	(void)argc;
	snprintf(prefix, sizeof(prefix), "tern_mlx5_handshake_%d", (int)getpid());
	if (mlx5_fixture_eal_init(argv[0], prefix) != 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
