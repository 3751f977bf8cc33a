/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TCP_BOUND_H
#define TERN_TCP_BOUND_H

/**
 * @file
 * The bound of bytes in flight on one rail of one lcore's peer (tcp_rail):
 * enough to keep the path full, not more (doc/peers.md, "Bytes in flight per
 * rail"). Each rail measures what it delivers (bytes of completed slices
 * over windows of TCP_BOUND_WINDOW_MS; the largest of the last
 * TCP_BOUND_SLOTS) and the path's round trip (the kernel's min_rtt of its
 * connections, read every TCP_BOUND_RTT_EVERY windows); its bound is
 * TCP_BOUND_GAIN x rate x RTT, within [floor, ceiling]. A rail whose bytes
 * in flight reach the bound takes no more slices: the engine keeps them
 * staged. Pure arithmetic on what the caller passes (TSC and its rate), so
 * that tests can drive it with synthetic samples.
 */

#include <stdbool.h>
#include <stdint.h>

#define TCP_BOUND_SLOTS	     8		 /* windows the rate's maximum is taken over */
#define TCP_BOUND_WINDOW_MS  10		 /* length of a window */
#define TCP_BOUND_RTT_EVERY  10		 /* windows between two readings of the RTT */
#define TCP_BOUND_GAIN	     2		 /* bound = gain x rate x RTT (then clamped) */
#define TCP_BOUND_FLOOR	     (4u << 20)	 /* rail_bytes_min by default */
#define TCP_BOUND_CEILING    (64u << 20) /* rail_bytes_max by default */
#define TCP_BOUND_MIN	     (64u << 10) /* smallest floor or ceiling accepted */
#define TCP_BOUND_MAX	     (1u << 30)	 /* largest floor or ceiling accepted */
#define TCP_BOUND_RTT_MAX_US 10000000u	 /* RTT samples above 10 s are taken as 10 s */

/* One rail's estimator and bound (per lcore, peer and rail). */
struct tcp_bound {
	uint64_t bytes;			/* the bound: a rail with this many in flight is full */
	uint64_t delivered;		/* bytes completed in the current window */
	uint64_t win_tsc;		/* the current window began then; 0: not begun */
	uint64_t rate[TCP_BOUND_SLOTS]; /* bytes per second of the last windows */
	uint32_t slot;			/* next rate[] written */
	uint32_t rtt_us;		/* the path's round trip; 0: not known yet */
};

/* A new rail: no samples, the bound at @p floor. */
void tcp_bound_init(struct tcp_bound *b, uint64_t floor);

/* A slice of @p bytes completed on the rail. */
static inline void
tcp_bound_delivered(struct tcp_bound *b, uint64_t bytes)
{
	b->delivered += bytes;
}

/* An RTT sample of the path, in microseconds (0 is ignored). */
void tcp_bound_rtt(struct tcp_bound *b, uint32_t rtt_us);

/* The largest rate of the last TCP_BOUND_SLOTS windows, bytes per second. */
uint64_t tcp_bound_rate(const struct tcp_bound *b);

/*
 * Close the current window at @p now (TSC, @p hz ticks per second): its rate
 * becomes a sample, and the bound is recomputed within [@p floor, @p ceiling].
 * The first call only opens a window. @return the bound.
 */
uint64_t tcp_bound_window(struct tcp_bound *b, uint64_t now, uint64_t hz, uint64_t floor,
			  uint64_t ceiling);

/* Whether a rail with @p inflight bytes in flight takes no more slices. */
static inline bool
tcp_bound_full(const struct tcp_bound *b, uint64_t inflight)
{
	return inflight >= b->bytes;
}

/* The kernel's minimum RTT of connected socket @p fd, microseconds; 0 when
 * it has none (or the call fails). */
uint32_t tcp_bound_sock_rtt(int fd);

#endif /* TERN_TCP_BOUND_H */
