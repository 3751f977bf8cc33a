/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tcp transport's bound of bytes in flight per rail (tcp_bound.h): the
 * estimator driven by synthetic rate and RTT samples (no sockets, no EAL),
 * the rail choice of tcp_rail_pick() against rails at and under their bound,
 * and the strict configuration of the floor and ceiling.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <tern_tcp.h>

#include "tcp_bound.h"
#include "tcp_conn.h"

#define HZ     1000000000ull /* synthetic TSC: 1 tick = 1 ns */
#define WINDOW (HZ / 1000 * TCP_BOUND_WINDOW_MS)
#define MIB    (1ull << 20)

/* Close one window at @p *now in which @p bytes were delivered. */
static uint64_t
window(struct tcp_bound *b, uint64_t *now, uint64_t bytes)
{
	tcp_bound_delivered(b, bytes);
	*now += WINDOW;
	return tcp_bound_window(b, *now, HZ, TCP_BOUND_FLOOR, TCP_BOUND_CEILING);
}

static void
bound_starts_at_the_floor(void **state)
{
	struct tcp_bound b;
	uint64_t now = 1;

	(void)state;
	tcp_bound_init(&b, TCP_BOUND_FLOOR);
	assert_int_equal(b.bytes, TCP_BOUND_FLOOR);
	assert_false(tcp_bound_full(&b, 0));
	assert_false(tcp_bound_full(&b, TCP_BOUND_FLOOR - 1));
	assert_true(tcp_bound_full(&b, TCP_BOUND_FLOOR));
	/* The first call opens a window: the bytes before it are no sample. */
	tcp_bound_delivered(&b, 1ull << 40);
	assert_int_equal(tcp_bound_window(&b, now, HZ, TCP_BOUND_FLOOR, TCP_BOUND_CEILING),
			 TCP_BOUND_FLOOR);
	assert_int_equal(tcp_bound_rate(&b), 0);
	/* A rate without an RTT: the floor. */
	assert_int_equal(window(&b, &now, 10 * MIB), TCP_BOUND_FLOOR);
	assert_int_equal(tcp_bound_rate(&b), 10 * MIB * 100);
}

static void
bound_is_twice_rate_times_rtt_within_floor_and_ceiling(void **state)
{
	struct tcp_bound b;
	uint64_t now = 1;

	(void)state;
	tcp_bound_init(&b, TCP_BOUND_FLOOR);
	window(&b, &now, 0);
	/* 1e9 B/s (10 MB per 10 ms window) over a 10 ms path: 2 x 10 MB. */
	tcp_bound_rtt(&b, 10000);
	assert_int_equal(window(&b, &now, 10000000), 20000000);
	/* A loopback-like path (30 us): 60 kB, so the floor. */
	tcp_bound_rtt(&b, 30);
	assert_int_equal(window(&b, &now, 10000000), TCP_BOUND_FLOOR);
	/* A long path (1 s): 2 GB, so the ceiling. */
	tcp_bound_rtt(&b, 1000000);
	assert_int_equal(window(&b, &now, 10000000), TCP_BOUND_CEILING);
	/* An RTT of 0 is no sample; one above 10 s counts as 10 s. */
	tcp_bound_rtt(&b, 0);
	assert_int_equal(b.rtt_us, 1000000);
	tcp_bound_rtt(&b, UINT32_MAX);
	assert_int_equal(b.rtt_us, TCP_BOUND_RTT_MAX_US);
	/* Floor and ceiling come from the caller. */
	tcp_bound_rtt(&b, 10000);
	tcp_bound_delivered(&b, 10000000);
	now += WINDOW;
	assert_int_equal(tcp_bound_window(&b, now, HZ, 32 * MIB, 64 * MIB), 32 * MIB);
	tcp_bound_delivered(&b, 10000000);
	now += WINDOW;
	assert_int_equal(tcp_bound_window(&b, now, HZ, MIB, 8 * MIB), 8 * MIB);
}

static void
rate_is_the_largest_of_the_last_windows(void **state)
{
	struct tcp_bound b;
	uint64_t now = 1;
	uint32_t i;

	(void)state;
	tcp_bound_init(&b, TCP_BOUND_FLOOR);
	window(&b, &now, 0);
	tcp_bound_rtt(&b, 10000);
	assert_int_equal(window(&b, &now, 10000000), 20000000); /* 1e9 B/s */
	/* Slower windows do not lower it while the fast one is among the last
	 * TCP_BOUND_SLOTS ... */
	for (i = 1; i < TCP_BOUND_SLOTS; i++)
		assert_int_equal(window(&b, &now, 1000000), 20000000);
	/* ... and it falls once it leaves them. */
	assert_int_equal(window(&b, &now, 1000000),
			 2000000 < TCP_BOUND_FLOOR ? TCP_BOUND_FLOOR : 2000000);
	assert_int_equal(tcp_bound_rate(&b), 100000000);
	/* Idle windows (nothing delivered): back to the floor. */
	for (i = 0; i < TCP_BOUND_SLOTS; i++)
		window(&b, &now, 0);
	assert_int_equal(tcp_bound_rate(&b), 0);
	assert_int_equal(b.bytes, TCP_BOUND_FLOOR);
	/* A window stretched by a late poll counts its real length. */
	tcp_bound_delivered(&b, 30000000);
	now += 3 * WINDOW;
	tcp_bound_window(&b, now, HZ, TCP_BOUND_FLOOR, TCP_BOUND_CEILING);
	assert_int_equal(tcp_bound_rate(&b), 1000000000);
}

/*
 * A rail held at its bound delivers bound / RTT: on a path wider than that
 * the bound grows, window after window, to 2 x the path's bandwidth-delay
 * product, and no further.
 */
static void
bound_grows_to_fill_a_wide_path(void **state)
{
	const uint64_t link = 12500000000ull; /* 100 Gbit/s */
	const uint32_t rtt_us = 2000;	      /* BDP 25 MB */
	struct tcp_bound b;
	uint64_t now = 1, prev, rate;
	uint32_t i, grew = 0;

	(void)state;
	tcp_bound_init(&b, TCP_BOUND_FLOOR);
	window(&b, &now, 0);
	tcp_bound_rtt(&b, rtt_us);
	for (i = 0; i < 20; i++) {
		prev = b.bytes;
		rate = RTE_MIN(link, b.bytes * 1000000 / rtt_us);
		window(&b, &now, rate / (1000 / TCP_BOUND_WINDOW_MS));
		if (b.bytes > prev)
			grew++;
		assert_true(b.bytes >= prev); /* the path never narrowed */
	}
	assert_true(grew >= 3); /* 4 MiB -> 8 -> 16 -> 32 -> 50 MB */
	assert_int_equal(b.bytes, 2 * link * rtt_us / 1000000);
}

/* A fake endpoint with one peer of two rails, both in service. */
static struct tcp_endpoint ep;
static struct tcp_rail_shared sh[2];

static struct tcp_peer *
two_rails(uint64_t bound0, uint64_t bound1)
{
	struct tcp_peer *p = &ep.peers[0];

	memset(&ep, 0, sizeof(ep));
	memset(sh, 0, sizeof(sh));
	ep.rail_inflight = 64;
	ep.nb_peers = 1;
	p->nb_rails = 2;
	p->rails[0].sh = &sh[0];
	p->rails[1].sh = &sh[1];
	p->rails[0].peer = p;
	p->rails[1].peer = p;
	tcp_bound_init(&p->rails[0].bound, bound0);
	tcp_bound_init(&p->rails[1].bound, bound1);
	sh[0].state = TERN_TCP_RAIL_UP;
	sh[1].state = TERN_TCP_RAIL_UP;
	return p;
}

static void
rail_at_its_byte_bound_gets_no_more_slices(void **state)
{
	struct tcp_peer *p = two_rails(4 * MIB, 4 * MIB);
	struct tcp_rail *r0 = &p->rails[0], *r1 = &p->rails[1];
	int err = 0;

	(void)state;
	/* Fewest bytes in flight first. */
	r0->inflight = 1;
	r0->inflight_bytes = MIB;
	assert_ptr_equal(tcp_rail_pick(&ep, p, NULL, RAIL_BOUNDED, &err), r1);
	/* Rail 1 at its bound (few slices, many bytes): rail 0 takes the
	 * slice though it has more in flight than ... */
	r1->inflight = 2;
	r1->inflight_bytes = 4 * MIB;
	r0->inflight = 3;
	r0->inflight_bytes = 4 * MIB - 1;
	assert_ptr_equal(tcp_rail_pick(&ep, p, NULL, RAIL_BOUNDED, &err), r0);
	/* ... and both at it: none, -EAGAIN (the engine keeps the slice). */
	r0->inflight_bytes = 4 * MIB;
	err = 0;
	assert_null(tcp_rail_pick(&ep, p, NULL, RAIL_BOUNDED, &err));
	assert_int_equal(err, -EAGAIN);
	/* Without RAIL_BOUNDED (a slice posted again after a failure): taken. */
	assert_non_null(tcp_rail_pick(&ep, p, NULL, 0, &err));
	/* A rail with nothing in flight takes a slice larger than its bound. */
	r1->inflight = 0;
	r1->inflight_bytes = 0;
	assert_ptr_equal(tcp_rail_pick(&ep, p, NULL, RAIL_BOUNDED, &err), r1);
	/* The bound moves with the estimate: a larger one makes room. */
	r1->inflight = 2;
	r1->inflight_bytes = 4 * MIB;
	r1->bound.bytes = 8 * MIB;
	assert_ptr_equal(tcp_rail_pick(&ep, p, NULL, RAIL_BOUNDED, &err), r1);
	/* The bound of slices still holds under the byte bound. */
	r1->inflight = 64;
	err = 0;
	assert_null(tcp_rail_pick(&ep, p, NULL, RAIL_BOUNDED, &err));
	assert_int_equal(err, -EAGAIN);
}

/* Completions feed the estimate of their rail, not the other's. */
static void
completions_feed_their_rail(void **state)
{
	struct tcp_peer *p = two_rails(4 * MIB, 4 * MIB);
	struct tcp_conn c = { 0 };
	struct tcp_op op = { 0 };

	(void)state;
	c.rail = &p->rails[1];
	op.conn = &c;
	op.length = 1234;
	c.nb_ops = 1;
	p->rails[1].inflight = 1;
	p->rails[1].inflight_bytes = 1234;
	op_detach(&op, 0);
	assert_int_equal(p->rails[1].bound.delivered, 1234);
	assert_int_equal(p->rails[1].inflight_bytes, 0);
	assert_int_equal(p->rails[0].bound.delivered, 0);
	/* A failed slice delivered nothing. */
	op.conn = &c;
	c.nb_ops = 1;
	p->rails[1].inflight = 1;
	p->rails[1].inflight_bytes = 1234;
	op_detach(&op, -ECONNRESET);
	assert_int_equal(p->rails[1].bound.delivered, 1234);
}

static void
floor_and_ceiling_are_strict(void **state)
{
	const struct tern_transport_ops *ops = tern_transport_get(tern_transport_id("tcp"));

	(void)state;
	assert_int_equal(tern_tcp_configure(&(struct tern_tcp_conf){ .rail_bytes_min = 1000 }),
			 -EINVAL);
	assert_int_equal(tern_tcp_configure(&(struct tern_tcp_conf){ .rail_bytes_max = 1000 }),
			 -EINVAL);
	assert_int_equal(
		tern_tcp_configure(&(struct tern_tcp_conf){ .rail_bytes_min = (1u << 30) + 1 }),
		-EINVAL);
	/* min above max, given or by default */
	assert_int_equal(tern_tcp_configure(&(struct tern_tcp_conf){ .rail_bytes_min = 8 << 20,
								     .rail_bytes_max = 4 << 20 }),
			 -EINVAL);
	assert_int_equal(tern_tcp_configure(&(struct tern_tcp_conf){ .rail_bytes_min = 128 << 20 }),
			 -EINVAL);
	assert_int_equal(tern_tcp_configure(&(struct tern_tcp_conf){ .rail_bytes_max = 1 << 20 }),
			 -EINVAL);
	assert_int_equal(tern_tcp_configure(&(struct tern_tcp_conf){ .rail_bytes_min = 1 << 20,
								     .rail_bytes_max = 1 << 20 }),
			 0);
	assert_int_equal(tern_tcp_configure(&(struct tern_tcp_conf){ .rail_bytes_max = 1 << 30 }),
			 0);
	/* Through the registry: bytes, 64 KiB to 1 GiB, nothing else. */
	assert_non_null(ops);
	assert_int_equal(ops->configure("rail_bytes_min=65535", NULL), -EINVAL);
	assert_int_equal(ops->configure("rail_bytes_max=1073741825", NULL), -EINVAL);
	assert_int_equal(ops->configure("rail_bytes_min=4M", NULL), -EINVAL);
	assert_int_equal(ops->configure("rail_bytes_min=", NULL), -EINVAL);
	assert_int_equal(ops->configure("rail_bytes_min=-1", NULL), -EINVAL);
	assert_int_equal(ops->configure("rail_bytes_min=67108864,rail_bytes_max=4194304", NULL),
			 -EINVAL);
	assert_int_equal(ops->configure("rail_bytes_min=1048576,rail_bytes_max=2097152", NULL), 0);
	assert_int_equal(tern_tcp_configure(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bound_starts_at_the_floor),
		cmocka_unit_test(bound_is_twice_rate_times_rtt_within_floor_and_ceiling),
		cmocka_unit_test(rate_is_the_largest_of_the_last_windows),
		cmocka_unit_test(bound_grows_to_fill_a_wide_path),
		cmocka_unit_test(rail_at_its_byte_bound_gets_no_more_slices),
		cmocka_unit_test(completions_feed_their_rail),
		cmocka_unit_test(floor_and_ceiling_are_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
