/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tcp transport in one engine, over loopback to itself: REMOTE segments
 * that point back at the engine's own listener and one of its LOCAL
 * segments. Also the target side against a raw socket speaking the wire
 * format of doc/protocol.md by hand: well-formed requests, error replies,
 * and hostile frames that must close the connection and touch nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <poll.h>
#include <pthread.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_log.h>

#include <tern_transport_driver.h>
#include <tern_tcp.h>
#include <tern_notify.h>
#include <tern_wire.h>

#include "tcp_auth.h"
#include "tcp_frame.h"

#include "test_common.h"
#include "test_notify_rounds.h"

#define SEG_BYTES (8u << 20)
#define HDR	  40

struct fixture {
	struct test_env env;
	uint8_t *src, *dst, *tgt;
	uint32_t src_h, dst_h, tgt_h, rtgt_h;
};

static const struct tern_tcp_conf v4_conf = { .listen_addr = "127.0.0.1" };

static uint32_t
register_remote(struct test_env *env, const char *name, const char *addr, uint16_t port,
		uint32_t handle, uint64_t length)
{
	uint8_t priv[TERN_TCP_DESC_LEN];
	struct tern_segment_conf conf = { 0 };
	uint32_t h;

	assert_int_equal(tern_tcp_remote_conf(addr, port, handle, length, priv, sizeof(priv)),
			 TERN_TCP_DESC_LEN);
	conf.name = name;
	conf.length = length;
	conf.kind = TERN_SEGMENT_REMOTE;
	conf.transport = "tcp";
	conf.socket_id = SOCKET_ID_ANY;
	conf.priv = priv;
	conf.priv_len = sizeof(priv);
	assert_int_equal(tern_segment_register(env->segments, &conf, &h), 0);
	return h;
}

static int
setup(void **state)
{
	static int n;
	struct fixture *fx = calloc(1, sizeof(*fx));
	char tag[16];
	int port = tern_tcp_listen_port();

	assert_true(port > 0);
	snprintf(tag, sizeof(tag), "tcp%d", n++);
	test_env_create(&fx->env, tag, NULL);
	fx->src_h = test_segment_local(&fx->env, "src", SEG_BYTES, (void **)&fx->src);
	fx->dst_h = test_segment_local(&fx->env, "dst", SEG_BYTES, (void **)&fx->dst);
	fx->tgt_h = test_segment_local(&fx->env, "tgt", SEG_BYTES, (void **)&fx->tgt);
	assert_int_equal(tern_segment_export(fx->env.segments, fx->tgt_h), 0);
	fx->rtgt_h = register_remote(&fx->env, "rtgt", "127.0.0.1", (uint16_t)port, fx->tgt_h,
				     SEG_BYTES);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	test_env_destroy(&fx->env);
	free(fx->src);
	free(fx->dst);
	free(fx->tgt);
	free(fx);
	return 0;
}

/* ---- descriptors ---- */

static void
descriptor_export_import_round_trip_and_strictness(void **state)
{
	struct fixture *fx = *state;
	const struct tern_transport_ops *ops = tern_transport_get(tern_transport_id("tcp"));
	struct tern_segment seg;
	uint8_t d[TERN_TCP_DESC_LEN], bad[TERN_TCP_DESC_LEN], p[TERN_TCP_DESC_LEN];
	unsigned int i;

	assert_non_null(ops);
	assert_int_equal(
		ops->segment_export(&fx->env.segments->slots[fx->tgt_h & 0xffff], d, sizeof(d)),
		TERN_TCP_DESC_LEN);
	assert_int_equal(ops->segment_export(&fx->env.segments->slots[fx->tgt_h & 0xffff], d, 8),
			 -ENOSPC);
	assert_int_equal(
		ops->segment_export(&fx->env.segments->slots[fx->rtgt_h & 0xffff], d, sizeof(d)),
		-EINVAL);
	/* Export says what tern_tcp_remote_conf() would build. */
	assert_int_equal(tern_tcp_remote_conf("127.0.0.1", (uint16_t)tern_tcp_listen_port(),
					      fx->tgt_h, SEG_BYTES, p, sizeof(p)),
			 TERN_TCP_DESC_LEN);
	assert_memory_equal(p, d, sizeof(d));

	memset(&seg, 0, sizeof(seg));
	assert_int_equal(ops->segment_import(&seg, d, sizeof(d)), 0);
	assert_memory_equal(seg.priv, d, sizeof(d));
	assert_int_equal(ops->segment_import(&seg, d, sizeof(d) - 1), -EINVAL);
	seg.length = SEG_BYTES + 1; /* longer than the peer's segment */
	assert_int_equal(ops->segment_import(&seg, d, sizeof(d)), -EINVAL);
	seg.length = 0;
	/* Flipping a byte of magic, version, family, IPv4 padding or reserved
	 * is refused; other ports, addresses, handles and lengths are fine. */
	for (i = 0; i < sizeof(d); i++) {
		bool ok = (i >= 6 && i < 12) || (i >= 24 && i < 28) || i >= 32;

		memcpy(bad, d, sizeof(d));
		bad[i] ^= 0xff;
		assert_int_equal(ops->segment_import(&seg, bad, sizeof(bad)), ok ? 0 : -EINVAL);
	}
	memcpy(bad, d, sizeof(d));
	memset(bad + 32, 0, 8);
	assert_int_equal(ops->segment_import(&seg, bad, sizeof(bad)), -EINVAL);

	assert_int_equal(tern_tcp_remote_conf("localhost", 1, 1, 1, p, sizeof(p)), -EINVAL);
	assert_int_equal(tern_tcp_remote_conf("127.0.0.1", 0, 1, 1, p, sizeof(p)), -EINVAL);
	assert_int_equal(tern_tcp_remote_conf("127.0.0.1", 1, 0, 1, p, sizeof(p)), -EINVAL);
	assert_int_equal(tern_tcp_remote_conf("127.0.0.1", 1, 1, 0, p, sizeof(p)), -EINVAL);
	assert_int_equal(tern_tcp_remote_conf("127.0.0.1", 1, 1, 1, p, 39), -ENOSPC);
	assert_int_equal(tern_tcp_remote_conf("::1", 1, 1, 1, p, sizeof(p)), TERN_TCP_DESC_LEN);
	/* Reconfiguring while endpoints are open is refused. */
	assert_int_equal(tern_tcp_configure(&v4_conf), -EBUSY);
}

/* A version 2 descriptor: @p d (version 1) plus @p n further addresses,
 * 10.0.0.(i + 1) port 7000 + i. Returns its length. */
static size_t
rails_desc(uint8_t *out, const uint8_t *d, uint32_t n)
{
	uint32_t i;

	memset(out, 0, TERN_TCP_DESC_MAX_LEN);
	memcpy(out, d, TERN_TCP_DESC_LEN);
	out[4] = 2;
	out[28] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		uint8_t *a = out + TERN_TCP_DESC_LEN + 20 * i;

		a[0] = 4;
		tern_wire_put_be16(a + 2, (uint16_t)(7000 + i));
		a[4] = 10;
		a[7] = (uint8_t)(i + 1);
	}
	return TERN_TCP_DESC_LEN + 20 * n;
}

static void
rails_descriptor_strictness(void **state)
{
	struct fixture *fx = *state;
	const struct tern_transport_ops *ops = tern_transport_get(tern_transport_id("tcp"));
	uint8_t d[TERN_TCP_DESC_LEN], v2[TERN_TCP_DESC_MAX_LEN], bad[TERN_TCP_DESC_MAX_LEN];
	struct tern_tcp_rail_info info[TERN_TCP_RAILS_MAX];
	struct tern_segment seg;
	struct tcp_desc dec;
	size_t len, i;

	assert_int_equal(
		tern_tcp_remote_conf("127.0.0.1", 7000, fx->tgt_h, SEG_BYTES, d, sizeof(d)),
		TERN_TCP_DESC_LEN);
	memset(&seg, 0, sizeof(seg));
	/* One to three further addresses are taken, and encode back the same. */
	for (i = 1; i < TERN_TCP_RAILS_MAX; i++) {
		uint8_t again[TERN_TCP_DESC_MAX_LEN];

		len = rails_desc(v2, d, (uint32_t)i);
		assert_int_equal(ops->segment_import(&seg, v2, len), 0);
		assert_memory_equal(seg.priv, v2, len);
		assert_int_equal(tcp_desc_decode(v2, len, &dec), 0);
		assert_int_equal(dec.nb_extra, i);
		assert_int_equal(tcp_desc_len(&dec), len);
		assert_int_equal(tcp_desc_len_of(v2), len);
		tcp_desc_encode(again, &dec);
		assert_memory_equal(again, v2, len);
		assert_int_equal(tern_tcp_rails(v2, len, info, RTE_DIM(info)), (int)i + 1);
		assert_string_equal(info[0].addr, "127.0.0.1:7000");
		assert_string_equal(info[i].addr, i == 1   ? "10.0.0.1:7000"
						  : i == 2 ? "10.0.0.2:7001"
							   : "10.0.0.3:7002");
	}
	assert_int_equal(tern_tcp_rails(d, sizeof(d), info, 1), 1);
	assert_int_equal(tern_tcp_rails(d, sizeof(d) - 1, info, 1), -EINVAL);
	assert_int_equal(tern_tcp_rails(NULL, sizeof(d), info, 1), -EINVAL);
	/* Refused: no further address or too many, a length that does not
	 * match the count, a bad family, port 0, IPv4 padding, a non-zero pad
	 * byte or reserved byte, the first address again, one address twice. */
	len = rails_desc(v2, d, 2);
	memcpy(bad, v2, len);
	bad[28] = 0;
	assert_int_equal(ops->segment_import(&seg, bad, len), -EINVAL);
	assert_int_equal(ops->segment_import(&seg, bad, TERN_TCP_DESC_LEN), -EINVAL);
	memcpy(bad, v2, len);
	bad[28] = TERN_TCP_RAILS_MAX;
	assert_int_equal(ops->segment_import(&seg, bad, len), -EINVAL);
	assert_int_equal(ops->segment_import(&seg, v2, len - 1), -EINVAL);
	assert_int_equal(ops->segment_import(&seg, v2, len + 20), -EINVAL);
	assert_int_equal(ops->segment_import(&seg, v2, TERN_TCP_DESC_LEN), -EINVAL);
	for (i = 0; i < 20; i++) {
		bool ok = (i >= 2 && i < 8); /* port and address may be anything else */

		memcpy(bad, v2, len);
		bad[TERN_TCP_DESC_LEN + 20 + i] ^= 0xff;
		assert_int_equal(ops->segment_import(&seg, bad, len), ok ? 0 : -EINVAL);
	}
	memcpy(bad, v2, len);
	bad[TERN_TCP_DESC_LEN + 2] = bad[TERN_TCP_DESC_LEN + 3] = 0; /* port 0 */
	assert_int_equal(ops->segment_import(&seg, bad, len), -EINVAL);
	for (i = 29; i < 32; i++) {
		memcpy(bad, v2, len);
		bad[i] = 1;
		assert_int_equal(ops->segment_import(&seg, bad, len), -EINVAL);
	}
	memcpy(bad, v2, len); /* the second further address = the first one */
	memcpy(bad + TERN_TCP_DESC_LEN + 20, bad + TERN_TCP_DESC_LEN, 20);
	assert_int_equal(ops->segment_import(&seg, bad, len), -EINVAL);
	memcpy(bad, v2, len); /* a further address = the descriptor's own */
	bad[TERN_TCP_DESC_LEN] = 4;
	memcpy(bad + TERN_TCP_DESC_LEN + 2, d + 6, 2);
	memcpy(bad + TERN_TCP_DESC_LEN + 4, d + 8, 16);
	assert_int_equal(ops->segment_import(&seg, bad, len), -EINVAL);
	/* A version 1 descriptor with the count set is refused too. */
	memcpy(bad, d, sizeof(d));
	bad[28] = 1;
	assert_int_equal(ops->segment_import(&seg, bad, sizeof(d)), -EINVAL);
}

static void
rails_configuration_is_strict(void **state)
{
	const struct tern_transport_ops *ops = tern_transport_get(tern_transport_id("tcp"));

	(void)state;
	/* Endpoints are open: only argument errors can be seen, before -EBUSY. */
	assert_int_equal(ops->configure("listen2=127.0.0.1:0", NULL), -EINVAL);
	assert_int_equal(ops->configure("listen=127.0.0.1:0,listen3=127.0.0.1:0", NULL), -EINVAL);
	assert_int_equal(ops->configure("listen=127.0.0.1:0,listen2=nowhere:0", NULL), -EINVAL);
	assert_int_equal(ops->configure("listen=127.0.0.1:0,rail_inflight=0", NULL), -EINVAL);
	assert_int_equal(ops->configure("listen=127.0.0.1:0,stall_timeout_ms=5", NULL), -EINVAL);
	assert_int_equal(
		tern_tcp_configure(&(struct tern_tcp_conf){ .extra_listen_addr = { "127.0.0.1" } }),
		-EBUSY);
}

/* A REMOTE segment over a version 2 descriptor: @p d's first address, then
 * 127.0.0.@p last[i] port @p ports[i] for each further one. */
static uint32_t
register_rails(struct test_env *env, const char *name, const uint8_t *d, uint32_t n,
	       const uint8_t *last, const uint16_t *ports)
{
	uint8_t priv[TERN_TCP_DESC_MAX_LEN];
	struct tern_segment_conf conf = { 0 };
	size_t len = rails_desc(priv, d, n);
	uint32_t i, h;

	for (i = 0; i < n; i++) {
		uint8_t *a = priv + TERN_TCP_DESC_LEN + 20 * i;

		tern_wire_put_be16(a + 2, ports[i]);
		a[4] = 127;
		a[5] = 0;
		a[6] = 0;
		a[7] = last[i];
	}
	conf.name = name;
	conf.length = SEG_BYTES;
	conf.kind = TERN_SEGMENT_REMOTE;
	conf.transport = "tcp";
	conf.socket_id = SOCKET_ID_ANY;
	conf.priv = priv;
	conf.priv_len = (uint32_t)len;
	assert_int_equal(tern_segment_register(env->segments, &conf, &h), 0);
	return h;
}

static int
rail_state_of(const uint8_t *desc, size_t len, uint32_t i, struct tern_tcp_rail_info *out)
{
	struct tern_tcp_rail_info info[TERN_TCP_RAILS_MAX];
	int n = tern_tcp_rails(desc, len, info, RTE_DIM(info));

	if (n <= (int)i)
		return -1;
	*out = info[i];
	return (int)info[i].state;
}

/*
 * Loopback stands in for two links: a peer advertises its listener and an
 * address where nothing listens (refused). Every batch still completes,
 * every byte right: the slices that went to the dead rail are posted again
 * on the live one, the dead rail is paused and shows its error. With no
 * live rail at all, a batch fails with the last rail's error, long before
 * its deadline.
 */
static void
slices_of_a_dead_rail_go_again_on_the_live_one(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	struct tern_submit_opts opts = { .deadline_ns = 5ull * 1000 * 1000 * 1000 };
	struct tern_tcp_stats before, after;
	struct tern_tcp_rail_info ri;
	uint8_t d[TERN_TCP_DESC_LEN], v2[TERN_TCP_DESC_MAX_LEN];
	const uint8_t dead_last[2] = { 3, 4 };
	const uint16_t dead_ports[2] = { 1, 1 };
	struct tern_request r;
	uint64_t t0;
	uint32_t h, hdead, i;
	size_t len;
	int ret;

	assert_non_null(c);
	assert_int_equal(tern_tcp_remote_conf("127.0.0.1", (uint16_t)tern_tcp_listen_port(),
					      fx->tgt_h, SEG_BYTES, d, sizeof(d)),
			 TERN_TCP_DESC_LEN);
	h = register_rails(&fx->env, "two_rails", d, 1, dead_last, dead_ports);
	tern_tcp_stats(&before);
	for (i = 0; i < 4; i++) {
		test_pattern_fill(fx->src, SEG_BYTES, 40 + i, 0);
		memset(fx->tgt, 0, SEG_BYTES);
		r = test_req(TERN_OP_WRITE, h, 0, fx->src, SEG_BYTES);
		assert_int_equal(test_wait_release(tern_submit(c, &r, 1, &opts)), 0);
		assert_int_equal(test_pattern_check(fx->tgt, SEG_BYTES, 40 + i, 0), SIZE_MAX);
		memset(fx->dst, 0, SEG_BYTES);
		r = test_req(TERN_OP_READ, h, 0, fx->dst, SEG_BYTES);
		assert_int_equal(test_wait_release(tern_submit(c, &r, 1, &opts)), 0);
		assert_int_equal(test_pattern_check(fx->dst, SEG_BYTES, 40 + i, 0), SIZE_MAX);
	}
	tern_tcp_stats(&after);
	assert_true(after.rail_failures > before.rail_failures);
	len = rails_desc(v2, d, 1);
	v2[TERN_TCP_DESC_LEN + 2] = 0;
	v2[TERN_TCP_DESC_LEN + 3] = 1;
	v2[TERN_TCP_DESC_LEN + 4] = 127;
	v2[TERN_TCP_DESC_LEN + 7] = 3;
	assert_int_equal(rail_state_of(v2, len, 0, &ri), TERN_TCP_RAIL_UP);
	assert_true(ri.bytes >= 8ull * SEG_BYTES);
	assert_int_not_equal(rail_state_of(v2, len, 1, &ri), TERN_TCP_RAIL_UP);
	assert_int_equal(ri.last_error, -ECONNREFUSED);
	assert_true(ri.failures >= 1);

	/* Both rails dead (the first address refuses too): an error, at once. */
	assert_int_equal(tern_tcp_remote_conf("127.0.0.5", 1, fx->tgt_h, SEG_BYTES, d, sizeof(d)),
			 TERN_TCP_DESC_LEN);
	hdead = register_rails(&fx->env, "no_rail", d, 1, &dead_last[1], &dead_ports[1]);
	t0 = rte_get_timer_cycles();
	r = test_req(TERN_OP_WRITE, hdead, 0, fx->src, SEG_BYTES);
	ret = test_wait_release(tern_submit(c, &r, 1, &opts));
	assert_int_equal(ret, -ECONNREFUSED);
	assert_true(rte_get_timer_cycles() - t0 < rte_get_timer_hz()); /* deadline: 5 s */
	assert_int_equal(tern_client_destroy(c), 0);
}

/* ---- engine over loopback to itself ---- */

static void
write_then_read_back_through_tcp(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	struct tern_request r;

	assert_non_null(c);
	test_pattern_fill(fx->src, SEG_BYTES, 11, 0);
	memset(fx->tgt, 0, SEG_BYTES);
	r = test_req(TERN_OP_WRITE, fx->rtgt_h, 0, fx->src, SEG_BYTES);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(fx->tgt, SEG_BYTES, 11, 0), SIZE_MAX);

	memset(fx->dst, 0, SEG_BYTES);
	r = test_req(TERN_OP_READ, fx->rtgt_h, 0, fx->dst, SEG_BYTES);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(fx->dst, SEG_BYTES, 11, 0), SIZE_MAX);
	assert_int_equal(tern_client_destroy(c), 0);
}

static void
small_unaligned_requests_and_mixed_batches(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	struct tern_request r[64];
	unsigned int i;

	test_pattern_fill(fx->src, SEG_BYTES, 12, 0);
	memset(fx->tgt, 0, SEG_BYTES);
	memset(fx->dst, 0, SEG_BYTES);
	/* Odd offsets and lengths, remote (tcp) and local (memcpy) targets mixed. */
	for (i = 0; i < 64; i++)
		r[i] = test_req(TERN_OP_WRITE, i % 2 ? fx->rtgt_h : fx->dst_h, i * 4099 + 7,
				fx->src + i * 4099 + 7, 1 + i * 61);
	assert_int_equal(test_wait_release(tern_submit(c, r, 64, NULL)), 0);
	for (i = 0; i < 64; i++)
		assert_int_equal(test_pattern_check((i % 2 ? fx->tgt : fx->dst) + i * 4099 + 7,
						    1 + i * 61, 12, i * 4099 + 7),
				 SIZE_MAX);
	/* Neighbouring bytes untouched. */
	assert_int_equal(fx->tgt[1 * 4099 + 6], 0);
	assert_int_equal(fx->tgt[1 * 4099 + 7 + 62], 0);

	memset(fx->src, 0, SEG_BYTES);
	for (i = 0; i < 64; i++)
		r[i] = test_req(TERN_OP_READ, fx->rtgt_h, i * 4099 + 7, fx->src + i * 4099 + 7,
				1 + i * 61);
	assert_int_equal(test_wait_release(tern_submit(c, r, 64, NULL)), 0);
	for (i = 1; i < 64; i += 2)
		assert_int_equal(
			test_pattern_check(fx->src + i * 4099 + 7, 1 + i * 61, 12, i * 4099 + 7),
			SIZE_MAX);
	assert_int_equal(tern_client_destroy(c), 0);
}

static void
many_futures_in_flight_all_complete(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c =
		tern_client_create(fx->env.engine, &(struct tern_client_conf){ .flags = 0 });
	struct tern_future *f[128];
	struct tern_request r;
	unsigned int i;

	test_pattern_fill(fx->src, SEG_BYTES, 13, 0);
	for (i = 0; i < 128; i++) {
		r = test_req(TERN_OP_WRITE, fx->rtgt_h, i * 65536, fx->src + i * 65536, 65536);
		f[i] = tern_submit(c, &r, 1, NULL);
		assert_non_null(f[i]);
	}
	for (i = 0; i < 128; i++)
		assert_int_equal(test_wait_release(f[i]), 0);
	assert_int_equal(test_pattern_check(fx->tgt, 128 * 65536, 13, 0), SIZE_MAX);
	assert_int_equal(tern_client_destroy(c), 0);
}

static void
target_errors_fail_only_their_request(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	uint16_t port = (uint16_t)tern_tcp_listen_port();
	struct tern_tcp_stats before, after;
	uint32_t stale, longer, nolisten;
	struct tern_request r[2];
	uint8_t *tmp;
	uint32_t tmp_h;

	tern_tcp_stats(&before);
	/* A handle that was valid once: the target answers -ENOENT. */
	tmp_h = test_segment_local(&fx->env, "tmp", 65536, (void **)&tmp);
	assert_int_equal(tern_segment_unregister(fx->env.segments, tmp_h), 0);
	free(tmp);
	stale = register_remote(&fx->env, "stale", "127.0.0.1", port, tmp_h, 65536);
	/* The initiator believes the segment is longer than it is: -ERANGE. */
	longer = register_remote(&fx->env, "longer", "127.0.0.1", port, fx->tgt_h, 2 * SEG_BYTES);

	r[0] = test_req(TERN_OP_WRITE, stale, 0, fx->src, 4096);
	assert_int_equal(test_wait_release(tern_submit(c, r, 1, NULL)), -ENOENT);
	r[0] = test_req(TERN_OP_READ, stale, 0, fx->src, 4096);
	assert_int_equal(test_wait_release(tern_submit(c, r, 1, NULL)), -ENOENT);
	r[0] = test_req(TERN_OP_WRITE, longer, SEG_BYTES, fx->src, 4096);
	assert_int_equal(test_wait_release(tern_submit(c, r, 1, NULL)), -ERANGE);
	r[0] = test_req(TERN_OP_READ, longer, SEG_BYTES - 100, fx->src, 4096);
	assert_int_equal(test_wait_release(tern_submit(c, r, 1, NULL)), -ERANGE);
	/* The same connections still serve good requests, in the same batch too. */
	test_pattern_fill(fx->src, 8192, 14, 0);
	r[0] = test_req(TERN_OP_WRITE, longer, 0, fx->src, 8192);
	r[1] = test_req(TERN_OP_WRITE, stale, 0, fx->src, 8192);
	assert_int_equal(test_wait_release(tern_submit(c, r, 2, NULL)), -ENOENT);
	assert_int_equal(test_pattern_check(fx->tgt, 8192, 14, 0), SIZE_MAX);
	tern_tcp_stats(&after);
	assert_true(after.error_replies >= before.error_replies + 5);
	assert_int_equal(after.protocol_errors, before.protocol_errors);

	/* Nobody listens on port 1: the connection is refused. */
	nolisten = register_remote(&fx->env, "nolisten", "127.0.0.1", 1, fx->tgt_h, 4096);
	r[0] = test_req(TERN_OP_WRITE, nolisten, 0, fx->src, 4096);
	assert_int_equal(test_wait_release(tern_submit(c, r, 1, NULL)), -ECONNREFUSED);
	/* And the engine keeps working. */
	r[0] = test_req(TERN_OP_READ, fx->rtgt_h, 0, fx->dst, 8192);
	assert_int_equal(test_wait_release(tern_submit(c, r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(fx->dst, 8192, 14, 0), SIZE_MAX);
	assert_int_equal(tern_client_destroy(c), 0);
}

/* ---- the target against a raw socket ---- */

static void
put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* A frame header written by hand from doc/protocol.md. */
static void
frame(uint8_t *b, uint8_t op, uint32_t tag, uint32_t seg, uint64_t off, uint32_t len,
      uint32_t payload)
{
	memset(b, 0, HDR);
	put32(b, 0x54524e54); /* "TRNT" */
	b[4] = 2;	      /* version */
	b[5] = op;
	put32(b + 8, tag);
	put32(b + 12, seg);
	put32(b + 16, (uint32_t)(off >> 32));
	put32(b + 20, (uint32_t)off);
	put32(b + 24, len);
	put32(b + 28, payload);
}

static int
raw_connect(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 30 }; /* only so that a bug cannot hang the test */
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sin.sin_port = htons((uint16_t)tern_tcp_listen_port());
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static void
send_all(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void recv_all(int fd, void *p, size_t n);

/* A handshake frame: offset = instance, tag = epoch, length 16. */
static void
hs_frame(uint8_t *b, uint8_t op, uint64_t instance, uint32_t epoch, uint32_t payload)
{
	frame(b, op, epoch, 0, instance, 16, payload);
}

/* HELLO, CHALLENGE, AUTH (no secret: zeros), READY: returns READY's status. */
static int32_t
raw_handshake(int fd, uint64_t instance, uint32_t epoch)
{
	uint8_t b[HDR + 16];

	hs_frame(b, 5, instance, epoch, 16);
	memset(b + HDR, 0x11, 16); /* nonce */
	send_all(fd, b, HDR + 16);
	recv_all(fd, b, HDR + 16);
	assert_int_equal(b[5], 6); /* CHALLENGE */
	assert_int_equal(get32(b + 8), epoch);
	assert_int_equal(get32(b + 24), 16);
	assert_int_equal(get32(b + 28), 16);
	hs_frame(b, 7, instance, epoch, 16);
	memset(b + HDR, 0, 16);
	send_all(fd, b, HDR + 16);
	recv_all(fd, b, HDR);
	assert_int_equal(b[5], 8); /* READY */
	assert_int_equal(get32(b + 28), 0);
	return (int32_t)get32(b + 32);
}

/* HELLO, CHALLENGE, AUTH with the proof @p key gives (NULL: zeros), READY. */
static int32_t
raw_handshake_key(int fd, uint64_t instance, uint32_t epoch, const uint8_t *key)
{
	uint8_t b[HDR + 16], nonce_i[16], nonce_t[16];

	memset(nonce_i, 0x22, sizeof(nonce_i));
	hs_frame(b, 5, instance, epoch, 16);
	memcpy(b + HDR, nonce_i, 16);
	send_all(fd, b, HDR + 16);
	recv_all(fd, b, HDR + 16);
	assert_int_equal(b[5], 6); /* CHALLENGE */
	memcpy(nonce_t, b + HDR, 16);
	hs_frame(b, 7, instance, epoch, 16);
	memset(b + HDR, 0, 16);
	if (key != NULL)
		tcp_auth_proof(key, nonce_t, nonce_i, instance, epoch, b + HDR);
	send_all(fd, b, HDR + 16);
	recv_all(fd, b, HDR);
	assert_int_equal(b[5], 8); /* READY */
	return (int32_t)get32(b + 32);
}

/* A connection past the handshake, as a new initiator instance. */
static int
raw_open(void)
{
	static uint64_t instance = 0x7e57000000000000ull;
	int fd = raw_connect();

	assert_int_equal(raw_handshake(fd, ++instance + (uint64_t)getpid(), 1), 0);
	return fd;
}

static void
recv_all(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = recv(fd, (uint8_t *)p + got, n - got, 0);

		assert_true(k > 0);
		got += (size_t)k;
	}
}

/* The target closed the connection (orderly or with a reset). */
static void
expect_closed(int fd)
{
	uint8_t b[64];
	ssize_t k;

	do
		k = recv(fd, b, sizeof(b), 0);
	while (k > 0);
	assert_true(k == 0 || errno == ECONNRESET);
	close(fd);
}

/* Reads a reply header and checks what doc/protocol.md says it holds. */
static int32_t
expect_reply(int fd, uint8_t op, uint32_t tag, uint32_t seg, uint32_t len)
{
	uint8_t b[HDR];

	recv_all(fd, b, HDR);
	assert_int_equal(get32(b), 0x54524e54);
	assert_int_equal(b[4], 2);
	assert_int_equal(b[5], op);
	assert_int_equal(get32(b + 8), tag);
	assert_int_equal(get32(b + 12), seg);
	assert_int_equal(get32(b + 24), len);
	if ((int32_t)get32(b + 32) != 0 || op == 4 || op == 10) /* no payload */
		assert_int_equal(get32(b + 28), 0);
	else
		assert_int_equal(get32(b + 28), len);
	return (int32_t)get32(b + 32);
}

#define GUARD  (1u << 20)
#define VICTIM (1u << 20)

static void
raw_requests_and_hostile_frames(void **state)
{
	struct fixture *fx = *state;
	uint8_t *area = aligned_alloc(4096, 2 * GUARD + VICTIM), *victim = area + GUARD;
	struct tern_segment_conf sc = { .name = "victim", .addr = victim, .length = VICTIM };
	struct tern_tcp_stats before, after;
	uint8_t b[HDR], data[4096], junk[256] = { 0 };
	uint32_t vh;
	int fd;

	assert_non_null(area);
	test_pattern_fill(area, 2 * GUARD + VICTIM, 21, 0);
	assert_int_equal(tern_segment_register(fx->env.segments, &sc, &vh), 0);
	assert_int_equal(tern_segment_export(fx->env.segments, vh), 0);
	tern_tcp_stats(&before);

	/* A well-formed WRITE then READ on one connection. */
	fd = raw_open();
	test_pattern_fill(data, sizeof(data), 22, 0);
	frame(b, 2, 7, vh, 100, sizeof(data), sizeof(data));
	send_all(fd, b, HDR);
	send_all(fd, data, sizeof(data));
	assert_int_equal(expect_reply(fd, 4, 7, vh, sizeof(data)), 0);
	assert_memory_equal(victim + 100, data, sizeof(data));
	frame(b, 1, 8, vh, 100, sizeof(data), 0);
	send_all(fd, b, HDR);
	assert_int_equal(expect_reply(fd, 3, 8, vh, sizeof(data)), 0);
	memset(data, 0, sizeof(data));
	recv_all(fd, data, sizeof(data));
	assert_memory_equal(victim + 100, data, sizeof(data));
	/* Restore the pattern so that the final check covers everything. */
	test_pattern_fill(victim + 100, sizeof(data), 21, GUARD + 100);

	/* Well-formed but unserviceable: an error reply, the connection lives. */
	frame(b, 1, 9, 0x12345, 0, 16, 0); /* unknown segment */
	send_all(fd, b, HDR);
	assert_int_equal(expect_reply(fd, 3, 9, 0x12345, 16), -ENOENT);
	frame(b, 1, 10, fx->rtgt_h, 0, 16, 0); /* a REMOTE segment is not served */
	send_all(fd, b, HDR);
	assert_int_equal(expect_reply(fd, 3, 10, fx->rtgt_h, 16), -ENOENT);
	frame(b, 2, 11, vh, VICTIM - 8, 16, 16); /* WRITE across the end */
	send_all(fd, b, HDR);
	send_all(fd, junk, 16);
	assert_int_equal(expect_reply(fd, 4, 11, vh, 16), -ERANGE);
	frame(b, 1, 12, vh, VICTIM, 1, 0); /* READ just past the end */
	send_all(fd, b, HDR);
	assert_int_equal(expect_reply(fd, 3, 12, vh, 1), -ERANGE);
	frame(b, 2, 13, vh, (uint64_t)-4096, 16, 16); /* offset near 2^64 */
	send_all(fd, b, HDR);
	send_all(fd, junk, 16);
	assert_int_equal(expect_reply(fd, 4, 13, vh, 16), -ERANGE);
	close(fd);

	/* Malformed: each closes its connection. */
	fd = raw_open(); /* garbage */
	memset(junk, 0xa5, sizeof(junk));
	send_all(fd, junk, sizeof(junk));
	expect_closed(fd);
	fd = raw_connect(); /* garbage instead of HELLO */
	send_all(fd, junk, sizeof(junk));
	expect_closed(fd);
	fd = raw_connect(); /* a request instead of HELLO is never served */
	frame(b, 2, 1, vh, 0, 16, 16);
	send_all(fd, b, HDR);
	send_all(fd, junk, 16);
	expect_closed(fd);
	fd = raw_connect(); /* HELLO with instance 0 */
	hs_frame(b, 5, 0, 1, 16);
	send_all(fd, b, HDR);
	send_all(fd, junk, 16);
	expect_closed(fd);
	fd = raw_connect(); /* the target's own frame sent to it */
	hs_frame(b, 6, 1, 1, 16);
	send_all(fd, b, HDR);
	send_all(fd, junk, 16);
	expect_closed(fd);
	fd = raw_open(); /* wrong version */
	frame(b, 1, 1, vh, 0, 16, 0);
	b[4] = 1; /* the version before the handshake */
	send_all(fd, b, HDR);
	expect_closed(fd);
	fd = raw_open(); /* WRITE whose payload does not match its length */
	frame(b, 2, 1, vh, 0, 16, 8);
	send_all(fd, b, HDR);
	expect_closed(fd);
	fd = raw_open(); /* READ carrying a payload */
	frame(b, 1, 1, vh, 0, 16, 16);
	send_all(fd, b, HDR);
	expect_closed(fd);
	fd = raw_open(); /* length 0 */
	frame(b, 1, 1, vh, 0, 0, 0);
	send_all(fd, b, HDR);
	expect_closed(fd);
	fd = raw_open(); /* length above the limit */
	frame(b, 1, 1, vh, 0, (1u << 30) + 1, 0);
	send_all(fd, b, HDR);
	expect_closed(fd);
	fd = raw_open(); /* offset + length overflows */
	frame(b, 1, 1, vh, UINT64_MAX - 4, 16, 0);
	send_all(fd, b, HDR);
	expect_closed(fd);
	fd = raw_open(); /* a reply sent to a target */
	frame(b, 3, 1, vh, 0, 16, 16);
	send_all(fd, b, HDR);
	expect_closed(fd);
	fd = raw_open(); /* a status in a request */
	frame(b, 1, 1, vh, 0, 16, 0);
	put32(b + 32, (uint32_t)-EIO);
	send_all(fd, b, HDR);
	expect_closed(fd);
	fd = raw_open(); /* non-zero reserved bytes */
	frame(b, 1, 1, vh, 0, 16, 0);
	b[39] = 1;
	send_all(fd, b, HDR);
	expect_closed(fd);
	fd = raw_open(); /* a valid request after a bad one is never served */
	frame(b, 2, 1, vh, 0, 16, 16);
	b[0] = 'X';
	send_all(fd, b, HDR);
	frame(b, 2, 2, vh, 0, 16, 16);
	send_all(fd, b, HDR);
	send_all(fd, junk, 16);
	expect_closed(fd);
	/* Truncated: half a header, and a WRITE missing most of its payload. */
	fd = raw_open();
	frame(b, 1, 1, vh, 0, 16, 0);
	send_all(fd, b, HDR / 2);
	close(fd);
	fd = raw_open();
	frame(b, 2, 1, vh, 4096, 65536, 65536);
	send_all(fd, b, HDR);
	test_pattern_fill(data, 100, 21, GUARD + 4096); /* what is there already */
	send_all(fd, data, 100);
	close(fd);

	/* The engine survived: a transfer through tcp still works. */
	{
		struct tern_client *c = tern_client_create(fx->env.engine, NULL);
		struct tern_request r = test_req(TERN_OP_READ, fx->rtgt_h, 0, fx->dst, 4096);

		assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
		assert_int_equal(tern_client_destroy(c), 0);
	}
	/* Nothing outside what the good WRITE touched (restored since) changed,
	 * in the segment or around it. */
	assert_int_equal(test_pattern_check(area, 2 * GUARD + VICTIM, 21, 0), SIZE_MAX);
	tern_tcp_stats(&after);
	assert_true(after.protocol_errors >= before.protocol_errors + 15);
	/* The truncated WRITE's connection dropped its segment reference. */
	{
		uint64_t t0 = rte_get_timer_cycles();
		int ret;

		while ((ret = tern_segment_unregister(fx->env.segments, vh)) == -EBUSY &&
		       rte_get_timer_cycles() - t0 < 30 * rte_get_timer_hz())
			usleep(1000);
		assert_int_equal(ret, 0);
	}
	free(area);
}

/* Only what the node exported is served: a LOCAL segment it did not export
 * (an attached client's buffer, say) is unknown to the network, by handle
 * from a descriptor or guessed. */
static void
unexported_segments_are_never_served(void **state)
{
	struct fixture *fx = *state;
	const struct tern_transport_ops *ops = tern_transport_get(tern_transport_id("tcp"));
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	uint8_t *priv, d[TERN_TCP_DESC_LEN], b[HDR];
	struct tern_request r;
	uint32_t ph, rph;
	int fd;

	ph = test_segment_local(&fx->env, "private", 65536, (void **)&priv);
	test_pattern_fill(priv, 65536, 61, 0);
	assert_int_equal(ops->segment_export(&fx->env.segments->slots[ph & 0xffff], d, sizeof(d)),
			 -EPERM);
	rph = register_remote(&fx->env, "rpriv", "127.0.0.1", (uint16_t)tern_tcp_listen_port(), ph,
			      65536);
	r = test_req(TERN_OP_READ, rph, 0, fx->dst, 4096);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), -ENOENT);
	test_pattern_fill(fx->src, 4096, 62, 0);
	r = test_req(TERN_OP_WRITE, rph, 0, fx->src, 4096);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), -ENOENT);
	fd = raw_open(); /* a guessed handle, by hand */
	frame(b, 1, 1, ph, 0, 16, 0);
	send_all(fd, b, HDR);
	assert_int_equal(expect_reply(fd, 3, 1, ph, 16), -ENOENT);
	close(fd);
	assert_int_equal(test_pattern_check(priv, 65536, 61, 0), SIZE_MAX);
	/* Exported, the same requests are served. */
	assert_int_equal(tern_segment_export(fx->env.segments, ph), 0);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(priv, 4096, 62, 0), SIZE_MAX);
	assert_int_equal(ops->segment_export(&fx->env.segments->slots[ph & 0xffff], d, sizeof(d)),
			 TERN_TCP_DESC_LEN);
	/* REMOTE segments cannot be exported. */
	assert_int_equal(tern_segment_export(fx->env.segments, rph), -EPERM);
	assert_int_equal(tern_client_destroy(c), 0);
	assert_int_equal(tern_segment_unregister(fx->env.segments, ph), 0);
	free(priv);
}

/* ---- limits: what hostile or broken connections cannot take ---- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The target closes @p fd within @p max_s seconds (SO_RCVTIMEO bounds the wait). */
static void
expect_closed_within(int fd, double max_s)
{
	struct timeval tv = { .tv_sec = (time_t)max_s + 1 };
	double t0 = now_s();

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	expect_closed(fd);
	assert_true(now_s() - t0 <= max_s);
}

/* A fresh engine over a listener configured with @p conf: READ and WRITE of
 * 1 MiB to itself work. */
struct lim_env {
	struct test_env env;
	uint8_t *src, *tgt;
	uint32_t tgt_h, rtgt_h;
	struct tern_client *c;
};

static struct lim_env *lim_cur; /* for lim_teardown() when a test failed */

static void
lim_start(struct lim_env *l, const struct tern_tcp_conf *conf, const char *tag)
{
	memset(l, 0, sizeof(*l));
	assert_int_equal(tern_tcp_configure(conf), 0);
	lim_cur = l;
	test_env_create(&l->env, tag, NULL);
	test_segment_local(&l->env, "src", 1 << 20, (void **)&l->src);
	l->tgt_h = test_segment_local(&l->env, "tgt", SEG_BYTES, (void **)&l->tgt);
	assert_int_equal(tern_segment_export(l->env.segments, l->tgt_h), 0);
	l->rtgt_h = register_remote(&l->env, "rtgt", "127.0.0.1", (uint16_t)tern_tcp_listen_port(),
				    l->tgt_h, SEG_BYTES);
	l->c = tern_client_create(l->env.engine, NULL);
	assert_non_null(l->c);
}

/* A real peer (the engine itself) still gets a READ and a WRITE through. */
static void
lim_transfer_works(struct lim_env *l, uint64_t seed)
{
	struct tern_submit_opts opts = { .deadline_ns = 3ull * 1000 * 1000 * 1000 };
	struct tern_request r;

	test_pattern_fill(l->src, 1 << 20, seed, 0);
	r = test_req(TERN_OP_WRITE, l->rtgt_h, 0, l->src, 1 << 20);
	assert_int_equal(test_wait_release(tern_submit(l->c, &r, 1, &opts)), 0);
	assert_int_equal(test_pattern_check(l->tgt, 1 << 20, seed, 0), SIZE_MAX);
	memset(l->src, 0, 1 << 20);
	r = test_req(TERN_OP_READ, l->rtgt_h, 0, l->src, 1 << 20);
	assert_int_equal(test_wait_release(tern_submit(l->c, &r, 1, &opts)), 0);
	assert_int_equal(test_pattern_check(l->src, 1 << 20, seed, 0), SIZE_MAX);
}

static int
lim_teardown(void **state)
{
	struct lim_env *l = lim_cur;

	RTE_SET_USED(state);
	if (l == NULL)
		return 0;
	lim_cur = NULL;
	if (l->c != NULL)
		tern_client_destroy(l->c);
	if (l->env.engine != NULL)
		test_env_destroy(&l->env);
	free(l->src);
	free(l->tgt);
	return tern_tcp_configure(&v4_conf) == 0 ? 0 : -1;
}

/* Connections that never handshake, open ones that stay silent and ones that
 * owe replies they never read are all closed, in bounded time. */
static void
silent_and_idle_connections_are_closed(void **state)
{
	const struct tern_tcp_conf conf = { .listen_addr = "127.0.0.1",
					    .connect_timeout_ms = 500,
					    .idle_timeout_ms = 700 };
	static struct lim_env l; /* lim_teardown() uses it after a failure */
	uint8_t b[HDR];
	unsigned int i;
	int fd;

	RTE_SET_USED(state);
	lim_start(&l, &conf, "idle");
	fd = raw_connect(); /* never says HELLO */
	expect_closed_within(fd, 3);
	fd = raw_open(); /* handshakes, then nothing */
	expect_closed_within(fd, 3);
	fd = raw_open(); /* asks for 64 MiB and does not read it */
	for (i = 0; i < 64; i++) {
		frame(b, 1, i, l.tgt_h, 0, 1 << 20, 0);
		send_all(fd, b, HDR);
	}
	sleep(3); /* well past the idle timeout, the buffers full both ways */
	{
		struct timeval tv = { .tv_sec = 5 };
		uint64_t got = 0;
		uint8_t sink[65536];
		ssize_t k;

		/* What was sent before the close drains, then the end comes. */
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
		while ((k = recv(fd, sink, sizeof(sink), 0)) > 0)
			got += (uint64_t)k;
		assert_true(k == 0 || errno == ECONNRESET);
		assert_true(got < 64ull << 20);
		close(fd);
	}
	lim_transfer_works(&l, 71);
}

#define FLOOD 600

/* More connections than the target accepts, silent before or after the
 * handshake: the oldest give way and a real peer still gets through. */
static void
connection_floods_do_not_lock_real_peers_out(void **state)
{
	const struct tern_tcp_conf conf = { .listen_addr = "127.0.0.1" };
	static struct lim_env l; /* lim_teardown() uses it after a failure */
	static int fds[FLOOD];
	unsigned int i;

	RTE_SET_USED(state);
	lim_start(&l, &conf, "flood");
	for (i = 0; i < FLOOD; i++) /* connected, nothing said */
		fds[i] = raw_connect();
	usleep(300 * 1000);
	lim_transfer_works(&l, 72);
	for (i = 0; i < FLOOD; i++)
		close(fds[i]);
	for (i = 0; i < FLOOD; i++) /* past the handshake, then silent */
		fds[i] = raw_open();
	lim_transfer_works(&l, 73);
	for (i = 0; i < FLOOD; i++)
		close(fds[i]);
}

#define HOGS 64

/* Connections that ask for much more than they read hold a bounded share of
 * the target's replies: a real peer's batches still complete. */
static void
readers_that_never_read_cannot_starve_others(void **state)
{
	const struct tern_tcp_conf conf = { .listen_addr = "127.0.0.1" };
	static struct lim_env l; /* lim_teardown() uses it after a failure */
	uint8_t b[HDR * 128];
	static int fds[HOGS];
	unsigned int i, k;

	RTE_SET_USED(state);
	lim_start(&l, &conf, "hogs");
	for (i = 0; i < HOGS; i++) {
		fds[i] = raw_open();
		for (k = 0; k < 128; k++)
			frame(b + k * HDR, 1, k, l.tgt_h, 0, SEG_BYTES, 0);
		send_all(fds[i], b, sizeof(b));
	}
	usleep(300 * 1000);
	lim_transfer_works(&l, 74);
	for (i = 0; i < HOGS; i++)
		close(fds[i]);
}

/* A server that is not tern: answers every connection with garbage. */
struct garbage_server {
	int lfd;
	volatile int stop;
	pthread_t thread;
};

static void *
garbage_serve(void *arg)
{
	struct garbage_server *g = arg;
	uint8_t junk[64];
	double end = now_s() + 60; /* bounded even if the test forgets to stop it */

	memset(junk, 0xa5, sizeof(junk));
	while (!g->stop && now_s() < end) {
		struct pollfd p = { .fd = g->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 100) != 1)
			continue;
		fd = accept(g->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		(void)send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
		close(fd);
	}
	return NULL;
}

#define GARBAGE_BATCHES 200

/* Every batch to a peer address where something else listens fails, and the
 * log says so a bounded number of times, not once per attempt. */
static void
a_foreign_server_does_not_flood_the_log(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct tern_submit_opts opts = { .deadline_ns = 2ull * 1000 * 1000 * 1000 };
	struct garbage_server g = { 0 };
	socklen_t len = sizeof(sin);
	char *log_text = NULL, *p;
	size_t log_len = 0;
	unsigned int i, lines = 0;
	struct tern_request r;
	uint32_t rh;
	FILE *log;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g.lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(g.lfd >= 0);
	assert_int_equal(bind(g.lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(g.lfd, 128), 0);
	assert_int_equal(getsockname(g.lfd, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(pthread_create(&g.thread, NULL, garbage_serve, &g), 0);
	rh = register_remote(&fx->env, "foreign", "127.0.0.1", ntohs(sin.sin_port), fx->tgt_h,
			     4096);

	log = open_memstream(&log_text, &log_len);
	assert_non_null(log);
	assert_int_equal(rte_openlog_stream(log), 0);
	for (i = 0; i < GARBAGE_BATCHES; i++) {
		int ret;

		r = test_req(TERN_OP_WRITE, rh, 0, fx->src, 4096);
		ret = test_wait_release(tern_submit(c, &r, 1, &opts));
		if (ret == 0)
			break;
	}
	rte_openlog_stream(NULL);
	fclose(log);
	g.stop = 1;
	pthread_join(g.thread, NULL);
	close(g.lfd);
	assert_int_equal(i, GARBAGE_BATCHES); /* none succeeded */
	for (p = log_text; p != NULL && (p = strstr(p, "tern.tcp")) != NULL; p++)
		lines++;
	print_message("%u tcp log lines for %u failed batches\n", lines, GARBAGE_BATCHES);
	assert_true(lines <= 50);
	free(log_text);
	assert_int_equal(tern_client_destroy(c), 0);
}

/* A batch that times out resets its connections and moves the initiator to
 * a new epoch for that peer: the peer still serves it, and so does a new
 * listener of the same process (epochs are per address reached). */
static void
after_a_timeout_the_peer_and_a_new_listener_still_work(void **state)
{
	static struct lim_env l;
	struct tern_submit_opts tiny = { .deadline_ns = 1000 * 1000 }; /* 1 ms */
	struct tern_tcp_stats before, after;
	struct tern_request r[64];
	unsigned int i;
	int ret;

	RTE_SET_USED(state);
	lim_start(&l, &v4_conf, "expire1");
	lim_transfer_works(&l, 91);
	tern_tcp_stats(&before);
	for (i = 0; i < 64; i++) /* 64 MiB: far more than a millisecond's worth */
		r[i] = test_req(TERN_OP_READ, l.rtgt_h, (i % 8) << 20, l.src, 1 << 20);
	ret = test_wait_release(tern_submit(l.c, r, 64, &tiny));
	assert_true(ret == -ETIMEDOUT || ret == -ECONNRESET);
	tern_tcp_stats(&after);
	assert_true(after.expired_resets > before.expired_resets);
	lim_transfer_works(&l, 92);
	assert_int_equal(lim_teardown(NULL), 0);
	lim_start(&l, &v4_conf, "expire2"); /* another port, same process */
	lim_transfer_works(&l, 93);
}

/* A connection to @p ip (host order) port @p port. */
static int
raw_connect_to(uint32_t ip, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 30 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(ip);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/*
 * Failover of a WRITE whose bytes reached a rail (doc/peers.md, "Failover"):
 * an initiator with one epoch for all rails sends half a WRITE on rail A
 * (127.0.0.1), then, as after a stall, the same range with new bytes on a
 * connection of a newer epoch on rail B (127.0.0.2), and only then the rest
 * of the old payload on A, as a frozen target lcore or a link that comes
 * back would deliver it. The target must close A before it serves B: the
 * old bytes never land over the new ones.
 */
static void
a_write_moved_to_another_rail_is_never_overwritten_by_its_old_copy(void **state)
{
	static struct lim_env l;
	struct tern_tcp_conf conf = { .listen_addr = "127.0.0.1" };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	const uint32_t n = 256 << 10;
	uint64_t instance = 0x0de1a7e000000000ull + (uint64_t)getpid();
	uint8_t *old = malloc(n), *new = malloc(n), b[HDR];
	uint16_t port2;
	int fa, fb, tmp;

	RTE_SET_USED(state);
	assert_non_null(old);
	assert_non_null(new);
	tmp = socket(AF_INET, SOCK_STREAM, 0); /* a free port on 127.0.0.2 */
	sin.sin_addr.s_addr = htonl(0x7f000002);
	assert_int_equal(bind(tmp, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(tmp, (struct sockaddr *)&sin, &len), 0);
	port2 = ntohs(sin.sin_port);
	close(tmp);
	conf.extra_listen_addr[0] = "127.0.0.2";
	conf.extra_listen_port[0] = port2;
	lim_start(&l, &conf, "order");
	test_pattern_fill(old, n, 31, 0);
	test_pattern_fill(new, n, 32, 0);

	fa = raw_connect_to(0x7f000001, (uint16_t)tern_tcp_listen_port());
	assert_int_equal(raw_handshake(fa, instance, TCP_EPOCH_PEER_WIDE | 1), 0);
	frame(b, 2, 1, l.tgt_h, 0, n, n);
	send_all(fa, b, HDR);
	send_all(fa, old, n / 2);
	usleep(100 * 1000); /* the target is inside that WRITE's payload */

	fb = raw_connect_to(0x7f000002, port2);
	assert_int_equal(raw_handshake(fb, instance, TCP_EPOCH_PEER_WIDE | 2), 0);
	frame(b, 2, 2, l.tgt_h, 0, n, n);
	send_all(fb, b, HDR);
	send_all(fb, new, n);
	assert_int_equal(expect_reply(fb, 4, 2, l.tgt_h, n), 0);

	/* The rest of the old copy: refused (A is closed) or discarded. */
	(void)send(fa, old + n / 2, n / 2, MSG_NOSIGNAL);
	usleep(300 * 1000);
	assert_memory_equal(l.tgt, new, n);
	close(fa);
	close(fb);
	free(old);
	free(new);
}

/* Descriptors this process has open. */
static unsigned int
open_fds(void)
{
	unsigned int n = 0;
	int fd;

	for (fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n = (unsigned int)fd + 1;
	return n;
}

/*
 * No socket to be had (RLIMIT_NOFILE, like a full connection table) is this
 * process's shortage, not a failure of the rail: the slices go on the
 * rail's open connection, nothing is paused.
 */
static void
no_free_socket_does_not_pause_a_healthy_rail(void **state)
{
	static struct lim_env l;
	const struct tern_tcp_conf conf = { .listen_addr = "127.0.0.1", .conns_per_peer = 8 };
	struct tern_submit_opts opts = { .deadline_ns = 3ull * 1000 * 1000 * 1000 };
	struct tern_tcp_stats before, after;
	struct rlimit old_lim, lim;
	struct tern_request r;
	unsigned int nb_fill;
	int fill[64];
	int ret;

	RTE_SET_USED(state);
	lim_start(&l, &conf, "nofile");
	test_pattern_fill(l.src, 4096, 41, 0);
	r = test_req(TERN_OP_WRITE, l.rtgt_h, 0, l.src, 4096); /* one slice: one connection */
	assert_int_equal(test_wait_release(tern_submit(l.c, &r, 1, &opts)), 0);
	usleep(50 * 1000);
	tern_tcp_stats(&before);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old_lim), 0);
	lim = old_lim;
	lim.rlim_cur = open_fds();
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	/* Fill the holes below the limit too (socket() takes the lowest free
	 * descriptor): else one socket() may succeed while this process's own
	 * target then cannot accept() it, and that slice waits for a handshake
	 * that never comes. Now the next socket() fails with EMFILE. */
	for (nb_fill = 0; nb_fill < RTE_DIM(fill); nb_fill++) {
		fill[nb_fill] = dup(STDERR_FILENO);
		if (fill[nb_fill] < 0)
			break;
	}
	test_pattern_fill(l.src, 1 << 20, 42, 0);
	r = test_req(TERN_OP_WRITE, l.rtgt_h, 0, l.src, 1 << 20); /* four slices */
	ret = test_wait_release(tern_submit(l.c, &r, 1, &opts));
	while (nb_fill > 0)
		close(fill[--nb_fill]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old_lim), 0);
	tern_tcp_stats(&after);
	assert_int_equal(ret, 0);
	assert_int_equal(test_pattern_check(l.tgt, 1 << 20, 42, 0), SIZE_MAX);
	assert_int_equal(after.rail_failures, before.rail_failures);
	lim_transfer_works(&l, 43);
}

/* ---- authentication ---- */

static void
siphash_matches_the_reference_vectors(void **state)
{
	/* SipHash-2-4, key 00..0f, message 00..len-1 (the reference vectors;
	 * the same as openssl mac SIPHASH gives). */
	static const struct {
		size_t len;
		uint8_t out[8];
	} v[] = {
		{ 0, { 0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72 } },
		{ 1, { 0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74 } },
		{ 2, { 0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d } },
		{ 3, { 0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85 } },
		{ 7, { 0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab } },
		{ 8, { 0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93 } },
		{ 15, { 0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1 } },
		{ 63, { 0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95 } },
	};
	uint8_t key[16], msg[64], out[8], p1[16], p2[16], k2[16];
	unsigned int i;

	RTE_SET_USED(state);
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	memcpy(key, msg, sizeof(key));
	for (i = 0; i < RTE_DIM(v); i++) {
		tern_wire_put_le64(out, tcp_siphash24(key, msg, v[i].len));
		assert_memory_equal(out, v[i].out, 8);
	}
	/* A proof depends on the key and on every input. */
	tcp_auth_key("a shared secret!", 16, key);
	tcp_auth_key("a shared secret?", 16, k2);
	assert_memory_not_equal(key, k2, 16);
	tcp_auth_proof(key, msg, msg + 16, 7, 1, p1);
	tcp_auth_proof(key, msg, msg + 16, 7, 1, p2);
	assert_true(tcp_auth_equal(p1, p2));
	tcp_auth_proof(k2, msg, msg + 16, 7, 1, p2);
	assert_false(tcp_auth_equal(p1, p2));
	tcp_auth_proof(key, msg + 1, msg + 16, 7, 1, p2);
	assert_false(tcp_auth_equal(p1, p2));
	tcp_auth_proof(key, msg, msg + 17, 7, 1, p2);
	assert_false(tcp_auth_equal(p1, p2));
	tcp_auth_proof(key, msg, msg + 16, 8, 1, p2);
	assert_false(tcp_auth_equal(p1, p2));
	tcp_auth_proof(key, msg, msg + 16, 7, 2, p2);
	assert_false(tcp_auth_equal(p1, p2));
}

/* A target with a secret serves only who proves it: the engine itself (same
 * secret) and a raw peer with the right proof; no proof or a wrong one gets
 * READY -EACCES and the connection closes, before any request. */
static void
a_secret_keeps_out_who_lacks_it(void **state)
{
	static struct lim_env l;
	char right[64], wrong[64], shortf[64];
	struct tern_tcp_conf conf = { .listen_addr = "127.0.0.1" };
	struct tern_tcp_stats before, after;
	uint8_t rkey[16], wkey[16], b[HDR + 16];
	int fd;

	RTE_SET_USED(state);
	test_file_holding(right, sizeof(right), "correct horse battery staple\n");
	test_file_holding(wrong, sizeof(wrong), "correct horse battery stapler\n");
	test_file_holding(shortf, sizeof(shortf), "too short\n");
	tcp_auth_key("correct horse battery staple", 28, rkey);
	tcp_auth_key("correct horse battery stapler", 29, wkey);
	conf.auth_file = shortf;
	assert_int_equal(tern_tcp_configure(&conf), -EINVAL);
	conf.auth_file = "/nonexistent/tern_secret";
	assert_int_equal(tern_tcp_configure(&conf), -ENOENT);
	conf.auth_file = right;
	lim_start(&l, &conf, "auth");
	tern_tcp_stats(&before);
	lim_transfer_works(&l, 81); /* the engine to itself: same secret */

	fd = raw_connect(); /* no secret */
	assert_int_equal(raw_handshake_key(fd, 0x5ec0001, 1, NULL), -EACCES);
	expect_closed(fd);
	fd = raw_connect(); /* wrong secret */
	assert_int_equal(raw_handshake_key(fd, 0x5ec0002, 1, wkey), -EACCES);
	expect_closed(fd);
	fd = raw_connect(); /* right secret: requests are served */
	assert_int_equal(raw_handshake_key(fd, 0x5ec0003, 1, rkey), 0);
	frame(b, 1, 1, l.tgt_h, 0, 16, 0);
	send_all(fd, b, HDR);
	assert_int_equal(expect_reply(fd, 3, 1, l.tgt_h, 16), 0);
	recv_all(fd, b, 16);
	close(fd);
	tern_tcp_stats(&after);
	assert_int_equal(after.refused, before.refused + 2);
	unlink(right);
	unlink(wrong);
	unlink(shortf);
}

/* ---- notifications (doc/notify.md) ---- */

#define NTF_REGION (64u << 10) /* 16 slices of 4 KiB over the connections and lcores */

/* NOTIFY frame by hand: sender field @p sender (64 bytes as given), message @p len bytes. */
static void
ntf_send(int fd, uint32_t tag, uint32_t seg, uint64_t ntag, const uint8_t *sender, uint32_t len,
	 uint32_t payload)
{
	uint8_t b[HDR + 64 + 512] = { 0 };

	frame(b, 9, tag, seg, ntag, len, payload);
	memcpy(b + HDR, sender, 64);
	memset(b + HDR + 64, 0x5a, RTE_MIN(len, 512u));
	send_all(fd, b, HDR + RTE_MIN(payload, 64u + 512u));
}

/* Every byte of a WRITE is at the target when its notification is seen,
 * over tcp (two connections, two lcores), 100 000 rounds; hostile NOTIFY
 * frames are refused; a full queue answers -ENOBUFS. */
static void
notifications_over_tcp(void **state)
{
	uint8_t name[64] = "raw-peer", bad[64] = "bad name";
	struct tern_notify_queue_stats st;
	struct tern_notify_queue *q;
	struct tern_notification got[8];
	struct tern_tcp_conf conf = v4_conf;
	struct test_env env;
	struct tern_client *c;
	uint8_t *src, *tgt;
	uint32_t tgt_h, rh;
	int fd, i;

	RTE_SET_USED(state);
	q = tern_notify_queue_create(&(struct tern_notify_queue_conf){
		.name = "q_tcpn", .node = "tcpnode", .depth = 16, .socket_id = SOCKET_ID_ANY });
	assert_non_null(q);
	conf.notify = q;
	assert_int_equal(tern_tcp_configure(&conf), 0);
	test_env_create(&env, "tcpn",
			&(struct tern_engine_conf){
				.notify = q, .slice_bytes = 4 << 10, .share_bytes = 8 << 10 });
	test_segment_local(&env, "src", NTF_REGION, (void **)&src);
	tgt_h = test_segment_local(&env, "tgt", NTF_REGION, (void **)&tgt);
	assert_int_equal(tern_segment_export(env.segments, tgt_h), 0);
	rh = register_remote(&env, "rtgt", "127.0.0.1", (uint16_t)tern_tcp_listen_port(), tgt_h,
			     NTF_REGION);
	c = tern_client_create(env.engine,
			       &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	assert_non_null(c);

	test_notify_rounds_run(&(struct test_notify_rounds){
		.label = "tcp",
		.receiver = env.engine,
		.dst = tgt,
		.initiator = c,
		.target = rh,
		.src = src,
		.len = NTF_REGION,
		.sender = "tcpnode",
	});

	/* By hand: a good NOTIFY, then hostile ones. */
	fd = raw_open();
	ntf_send(fd, 1, tgt_h, 0xabcdef0123456789ull, name, 5, 64 + 5);
	assert_int_equal(expect_reply(fd, 10, 1, tgt_h, 5), 0);
	assert_int_equal(tern_notify_poll(c, got, 8), 1);
	assert_int_equal(got[0].tag, 0xabcdef0123456789ull);
	assert_string_equal(got[0].sender, "raw-peer");
	assert_int_equal(got[0].msg_len, 5);
	assert_int_equal(got[0].msg[4], 0x5a);
	/* A sender name with a bad character, one without its NUL, garbage after
	 * the NUL, an empty one: refused (-EINVAL), the connection stays. */
	ntf_send(fd, 2, tgt_h, 1, bad, 0, 64);
	assert_int_equal(expect_reply(fd, 10, 2, tgt_h, 0), -EINVAL);
	memset(bad, 'a', sizeof(bad));
	ntf_send(fd, 3, tgt_h, 1, bad, 0, 64);
	assert_int_equal(expect_reply(fd, 10, 3, tgt_h, 0), -EINVAL);
	memcpy(bad, "ok\0x", 4);
	ntf_send(fd, 4, tgt_h, 1, bad, 0, 64);
	assert_int_equal(expect_reply(fd, 10, 4, tgt_h, 0), -EINVAL);
	memset(bad, 0, sizeof(bad));
	ntf_send(fd, 5, tgt_h, 1, bad, 0, 64);
	assert_int_equal(expect_reply(fd, 10, 5, tgt_h, 0), -EINVAL);
	assert_int_equal(tern_notify_poll(c, got, 8), 0);
	/* The queue full (depth 16): -ENOBUFS, counted for the sender. */
	for (i = 0; i < 17; i++) {
		ntf_send(fd, 6, tgt_h, (uint64_t)i, name, 0, 64);
		assert_int_equal(expect_reply(fd, 10, 6, tgt_h, 0), i < 16 ? 0 : -ENOBUFS);
	}
	assert_int_equal(tern_notify_poll(c, got, 8), 8);
	assert_int_equal(tern_notify_poll(c, got, 8), 8);
	/* A length that lies about the payload, an oversize message: closed. */
	ntf_send(fd, 7, tgt_h, 1, name, 4, 64 + 5);
	expect_closed(fd);
	fd = raw_open();
	ntf_send(fd, 8, tgt_h, 1, name, 257, 64 + 257);
	expect_closed(fd);
	fd = raw_open();
	ntf_send(fd, 9, tgt_h, 1, name, 0, 0);
	expect_closed(fd);
	assert_int_equal(tern_notify_queue_stats(q, &st), 0);
	assert_true(st.refused >= 1);
	assert_int_equal(st.queued, 0);

	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&env);
	free(src);
	free(tgt);
	assert_int_equal(tern_tcp_configure(&v4_conf), 0);
	assert_int_equal(tern_notify_queue_free(q), 0);
}

static void
ipv6_loopback_when_available(void **state)
{
	struct tern_tcp_conf conf = { .listen_addr = "::1" };
	struct test_env env;
	struct tern_client *c;
	struct tern_request r;
	uint8_t *src, *tgt;
	uint32_t tgt_h, rh;

	RTE_SET_USED(state);
	if (tern_tcp_configure(&conf) != 0) {
		assert_int_equal(tern_tcp_configure(&v4_conf), 0);
		skip();
	}
	test_env_create(&env, "tcp6", NULL);
	test_segment_local(&env, "src", 1 << 20, (void **)&src);
	tgt_h = test_segment_local(&env, "tgt", 1 << 20, (void **)&tgt);
	assert_int_equal(tern_segment_export(env.segments, tgt_h), 0);
	rh = register_remote(&env, "rtgt", "::1", (uint16_t)tern_tcp_listen_port(), tgt_h, 1 << 20);
	c = tern_client_create(env.engine, NULL);
	test_pattern_fill(src, 1 << 20, 31, 0);
	r = test_req(TERN_OP_WRITE, rh, 0, src, 1 << 20);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(tgt, 1 << 20, 31, 0), SIZE_MAX);
	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&env);
	free(src);
	free(tgt);
	assert_int_equal(tern_tcp_configure(&v4_conf), 0);
}

static void
second_engine_in_the_process_initiates_only(void **state)
{
	static const unsigned int lc_a[] = { 1 }, lc_b[] = { 2 };
	struct tern_engine_conf ca = { .lcores = lc_a, .nb_lcores = 1 };
	struct tern_engine_conf cb = { .lcores = lc_b, .nb_lcores = 1 };
	struct test_env a, b;
	struct tern_client *c;
	struct tern_request r;
	uint8_t *tgt, *src;
	uint32_t tgt_h, rh;

	RTE_SET_USED(state);
	test_env_create(&a, "two_a", &ca);
	test_env_create(&b, "two_b", &cb);
	tgt_h = test_segment_local(&a, "tgt", 1 << 20, (void **)&tgt);
	assert_int_equal(tern_segment_export(a.segments, tgt_h), 0);
	test_segment_local(&b, "src", 1 << 20, (void **)&src);
	/* b's table has no segment with tgt_h: only a may answer. */
	rh = register_remote(&b, "rtgt", "127.0.0.1", (uint16_t)tern_tcp_listen_port(), tgt_h,
			     1 << 20);
	c = tern_client_create(b.engine, NULL);
	test_pattern_fill(src, 1 << 20, 51, 0);
	r = test_req(TERN_OP_WRITE, rh, 0, src, 1 << 20);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(tgt, 1 << 20, 51, 0), SIZE_MAX);
	assert_int_equal(tern_client_destroy(c), 0);
	test_env_destroy(&b);
	test_env_destroy(&a);
	free(tgt);
	free(src);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(rails_descriptor_strictness, setup, teardown),
		cmocka_unit_test_setup_teardown(rails_configuration_is_strict, setup, teardown),
		cmocka_unit_test_setup_teardown(slices_of_a_dead_rail_go_again_on_the_live_one,
						setup, teardown),
		cmocka_unit_test_setup_teardown(descriptor_export_import_round_trip_and_strictness,
						setup, teardown),
		cmocka_unit_test_setup_teardown(write_then_read_back_through_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(small_unaligned_requests_and_mixed_batches, setup,
						teardown),
		cmocka_unit_test_setup_teardown(many_futures_in_flight_all_complete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(target_errors_fail_only_their_request, setup,
						teardown),
		cmocka_unit_test_setup_teardown(raw_requests_and_hostile_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(unexported_segments_are_never_served, setup,
						teardown),
		cmocka_unit_test(second_engine_in_the_process_initiates_only),
		cmocka_unit_test_setup_teardown(a_foreign_server_does_not_flood_the_log, setup,
						teardown),
		cmocka_unit_test(ipv6_loopback_when_available),
		cmocka_unit_test_teardown(no_free_socket_does_not_pause_a_healthy_rail,
					  lim_teardown),
		cmocka_unit_test_teardown(
			a_write_moved_to_another_rail_is_never_overwritten_by_its_old_copy,
			lim_teardown),
		cmocka_unit_test(notifications_over_tcp),
		cmocka_unit_test_teardown(after_a_timeout_the_peer_and_a_new_listener_still_work,
					  lim_teardown),
		cmocka_unit_test(siphash_matches_the_reference_vectors),
		cmocka_unit_test_teardown(a_secret_keeps_out_who_lacks_it, lim_teardown),
		cmocka_unit_test_teardown(silent_and_idle_connections_are_closed, lim_teardown),
		cmocka_unit_test_teardown(connection_floods_do_not_lock_real_peers_out,
					  lim_teardown),
		cmocka_unit_test_teardown(readers_that_never_read_cannot_starve_others,
					  lim_teardown),
	};

	RTE_SET_USED(argc);
	RTE_SET_USED(argv);
	if (getenv("TEST_FILTER") != NULL) /* e.g. TEST_FILTER='*flood*' */
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	test_eal_init("test_tcp", "0@(0-1),1@0,2@1", 512);
	if (tern_tcp_configure(&v4_conf) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
