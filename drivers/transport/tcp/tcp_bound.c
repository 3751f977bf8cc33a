/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bound of bytes in flight per rail (tcp_bound.h). Control arithmetic,
 * run once per window and rail, never per slice.
 */
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#include "tcp_bound.h"

void
tcp_bound_init(struct tcp_bound *b, uint64_t floor)
{
	memset(b, 0, sizeof(*b));
	b->bytes = floor;
}

void
tcp_bound_rtt(struct tcp_bound *b, uint32_t rtt_us)
{
	if (rtt_us != 0)
		b->rtt_us = rtt_us < TCP_BOUND_RTT_MAX_US ? rtt_us : TCP_BOUND_RTT_MAX_US;
}

uint64_t
tcp_bound_rate(const struct tcp_bound *b)
{
	uint64_t m = 0;
	uint32_t i;

	for (i = 0; i < TCP_BOUND_SLOTS; i++)
		if (b->rate[i] > m)
			m = b->rate[i];
	return m;
}

uint64_t
tcp_bound_window(struct tcp_bound *b, uint64_t now, uint64_t hz, uint64_t floor, uint64_t ceiling)
{
	double bdp;

	if (b->win_tsc == 0 || now <= b->win_tsc || hz == 0) {
		b->win_tsc = now;
		b->delivered = 0;
		return b->bytes;
	}
	b->rate[b->slot] =
		(uint64_t)((double)b->delivered * (double)hz / (double)(now - b->win_tsc));
	b->slot = (b->slot + 1) % TCP_BOUND_SLOTS;
	b->win_tsc = now;
	b->delivered = 0;
	/* What keeps the path full is rate x RTT; the gain leaves room for the
	 * rate to grow (a rail held at its bound delivers bound / RTT, so a
	 * path wider than that doubles the bound per window until it is full). */
	bdp = (double)TCP_BOUND_GAIN * (double)tcp_bound_rate(b) * (double)b->rtt_us / 1e6;
	if (bdp < (double)floor)
		b->bytes = floor;
	else if (bdp > (double)ceiling)
		b->bytes = ceiling;
	else
		b->bytes = (uint64_t)bdp;
	return b->bytes;
}

uint32_t
tcp_bound_sock_rtt(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_min_rtt) + sizeof(ti.tcpi_min_rtt))
		return 0;
	return ti.tcpi_min_rtt;
}
