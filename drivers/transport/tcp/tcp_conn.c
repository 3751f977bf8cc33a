/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tcp transport's endpoints and connections (doc/protocol.md): opening
 * and closing endpoints, what endpoints share (epochs, expired batches,
 * quiescence), connecting, accepting, closing, and the handshake every
 * connection opens with. The data path (tcp_transport.c) calls in here
 * through tcp_conn.h; nothing here calls the data path. The configuration
 * is read through tcp_conf.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_random.h>
#include <rte_spinlock.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "tcp_auth.h"
#include "tcp_conf.h"
#include "tcp_conn.h"
#include "tcp_frame.h"
#include "tern_tcp.h"

/* The segment table the listener serves: the first engine's that opened
 * endpoints (handles mean nothing in another engine's table). */
static struct tern_segment_table *served_table;
char tcp_listener_tag[TCP_RAILS_MAX];
struct tcp_shared tcp_shared = { .lock = RTE_SPINLOCK_INITIALIZER };

/* ---- helpers: peer addresses, random bytes ---- */

static void
sockaddr_name(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(buf, len, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

/* The 19 bytes a descriptor names a peer by (bytes 5..23: family, port,
 * address), for the address in @p ss. */
static void
sockaddr_key(const struct sockaddr_storage *ss, uint8_t key[19])
{
	memset(key, 0, 19);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		key[0] = 4;
		memcpy(key + 1, &sin->sin_port, 2);
		memcpy(key + 3, &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		key[0] = 6;
		memcpy(key + 1, &sin6->sin6_port, 2);
		memcpy(key + 3, &sin6->sin6_addr, 16);
	}
}

static void
random_bytes(void *p, size_t n)
{
	uint8_t *b = p;
	size_t i;

	if (getrandom(p, n, 0) == (ssize_t)n)
		return;
	for (i = 0; i < n; i++)
		b[i] = (uint8_t)rte_rand();
}

/* ---- endpoint: rate-limited log lines ---- */

void __rte_format_printf(4, 5) tcp_ep_log(struct tcp_endpoint *ep, enum log_kind kind,
					  uint32_t level, const char *fmt, ...)
{
	struct log_limit *l = &ep->logs[kind];
	uint64_t now = rte_rdtsc();
	char line[256];
	va_list ap;

	if (now >= l->window_end) {
		if (l->dropped != 0)
			rte_log(level, tcp_logtype,
				"tern.tcp: lcore %u: %u more lines like the last were dropped\n",
				ep->lcore_id, l->dropped);
		l->window_end = now + rte_get_tsc_hz() * LOG_WINDOW_S;
		l->lines = 0;
		l->dropped = 0;
	}
	if (l->lines >= LOG_BURST) {
		l->dropped++;
		return;
	}
	l->lines++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	rte_log(level, tcp_logtype, "tern.tcp: lcore %u: %s\n", ep->lcore_id, line);
}

/* ---- endpoints together: epochs, expired batches, quiescence ---- */

static inline uint64_t
qseq_load(uint32_t i)
{
	return __atomic_load_n(&tcp_shared.qseq[i].seq, __ATOMIC_SEQ_CST);
}

/* Under tcp_shared.lock: everyone looks again. */
static inline void
shared_changed(void)
{
	__atomic_fetch_add(&tcp_shared.gen, 1, __ATOMIC_SEQ_CST);
}

/* The process-wide rail whose address (descriptor bytes 5..23) is @key. */
struct tcp_rail_shared *
tcp_rail_shared_get(const uint8_t *key)
{
	uint32_t i, slot = 0; /* when full, the others share slot 0 */

	rte_spinlock_lock(&tcp_shared.lock);
	for (i = 0; i < PEER_EPOCHS; i++) {
		struct tcp_rail_shared *r = &tcp_shared.rails[i];

		if (r->used && memcmp(r->key, key, 19) == 0) {
			slot = i;
			break;
		}
		if (!r->used) {
			memcpy(r->key, key, 19);
			r->used = 1;
			r->epoch = TCP_EPOCH_PEER_WIDE | 1;
			r->state = TERN_TCP_RAIL_UP;
			r->backoff_ms = BACKOFF_MIN_MS;
			slot = i;
			break;
		}
	}
	rte_spinlock_unlock(&tcp_shared.lock);
	return &tcp_shared.rails[slot];
}

/* Every connection to the peer (of every endpoint) becomes stale. */
static void
peer_epoch_bump(uint32_t *epoch)
{
	rte_spinlock_lock(&tcp_shared.lock);
	__atomic_fetch_add(epoch, 1, __ATOMIC_RELEASE);
	shared_changed();
	rte_spinlock_unlock(&tcp_shared.lock);
}

/* Wait until every other endpoint that is inside post_burst() or poll()
 * now has left it (bounded: a lost lcore must not stop this one for ever). */
static void
quiesce_wait(struct tcp_endpoint *ep)
{
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() / 1000 * QUIESCE_WAIT_MS;
	uint32_t i;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < EP_MAX; i++) {
		uint64_t s = qseq_load(i);

		if (i == ep->slot || (s & 1) == 0)
			continue;
		while (qseq_load(i) == s) {
			if (rte_rdtsc() > end) {
				tcp_ep_log(ep, LOGK_LIMIT, RTE_LOG_WARNING,
					   "endpoint %u stayed inside poll for %u ms; going on", i,
					   QUIESCE_WAIT_MS);
				break;
			}
			rte_pause();
		}
	}
}

/* Target, SYNC: has every endpoint that was busy when @c raised its
 * initiator's epoch left that call, and has this one caught up since? */
static bool
quiesce_passed(struct tcp_endpoint *ep, struct tcp_conn *c)
{
	uint32_t i;

	if (ep->seen_gen < c->sync_gen)
		return false;
	for (i = 0; i < EP_MAX; i++) {
		if (c->sync_seq[i] == 0)
			continue;
		if (qseq_load(i) == c->sync_seq[i])
			return false;
		c->sync_seq[i] = 0;
	}
	return true;
}

static bool
conn_stale(const struct tcp_conn *c)
{
	if (c->role == ROLE_INITIATOR)
		return c->doomed ||
		       c->epoch != __atomic_load_n(c->rail->peer->epoch, __ATOMIC_ACQUIRE);
	return (c->state == CONN_OPEN || c->state == CONN_SYNC) &&
	       __atomic_load_n(&tcp_shared.inst[c->inst_slot].gen, __ATOMIC_ACQUIRE) != c->inst_gen;
}

/*
 * Shared state changed: fail the slices of batches that expired (closing
 * their connections and making every connection to those peers stale),
 * close stale connections, as initiator and as target.
 */
void
tcp_ep_catch_up(struct tcp_endpoint *ep)
{
	struct expired got[EXPIRED_RING];
	uint64_t first, last, gen, now = rte_rdtsc();
	uint32_t i, k, n = 0;
	bool all = false;

	rte_spinlock_lock(&tcp_shared.lock);
	gen = __atomic_load_n(&tcp_shared.gen, __ATOMIC_RELAXED);
	last = tcp_shared.ring_gen;
	first = ep->seen_ring;
	if (last - first > EXPIRED_RING)
		all = true; /* fell behind: every slice posted before counts as expired */
	else
		for (; first + n < last; n++)
			got[n] = tcp_shared.ring[(first + n) % EXPIRED_RING];
	rte_spinlock_unlock(&tcp_shared.lock);

	/* Slices of these batches posted from now on fail at once (another lcore
	 * may have claimed some before the deadline and post them only now). */
	for (k = 0; k < n; k++) {
		ep->dead[ep->dead_head] = got[k];
		ep->dead[ep->dead_head].until_tsc = now + rte_get_tsc_hz() / 1000 * DEAD_KEEP_MS;
		ep->dead_head = (ep->dead_head + 1) % DEAD_MAX;
		ep->nb_dead = RTE_MIN(ep->nb_dead + 1, (uint32_t)DEAD_MAX);
	}
	for (i = 0; i < ep->nb_ops && ep->nb_busy_ops != 0 && (n != 0 || all); i++) {
		struct tcp_op *op = &ep->ops[i];

		if (op->state == OP_FREE || op->conn == NULL || op->expired)
			continue;
		for (k = 0; !all && k < n; k++)
			if (op->cookie == got[k].cookie && op->batch == got[k].batch)
				break;
		if (!all && k == n)
			continue;
		op->expired = 1;
		if (!op->conn->doomed) {
			op->conn->doomed = 1;
			peer_epoch_bump(op->conn->rail->peer->epoch);
		}
	}
	for (i = 0; i < ep->nb_conns;) {
		struct tcp_conn *c = ep->conns[i];

		if (conn_stale(c)) {
			tcp_conn_close(ep, i, -ESTALE); /* initiator: its slices go again */
			continue;
		}
		i++;
	}
	ep->seen_gen = gen;
	ep->seen_ring = last;
}
/*
 * The engine's expire(): the batch @p cookie passed its deadline and is about
 * to resolve. Publish it; this endpoint and every other one fail its slices
 * by closing the connections they are on (a reply can never arrive on a
 * closed connection) and make every connection to those peers stale (so a
 * later WRITE goes on a connection of a newer epoch, which the target orders
 * after the old ones, see target_register()). Return once every endpoint
 * that was busy has left post_burst()/poll(): it will catch up on entry.
 */
void
tcp_expire(struct tern_endpoint *base, uint64_t cookie, uint64_t batch)
{
	struct tcp_endpoint *ep = tcp_ep(base);
	rte_spinlock_lock(&tcp_shared.lock);
	tcp_shared.ring[tcp_shared.ring_gen % EXPIRED_RING] =
		(struct expired){ .cookie = cookie, .batch = batch };
	tcp_shared.ring_gen++;
	shared_changed();
	rte_spinlock_unlock(&tcp_shared.lock);
	ep_enter(ep);
	ep_leave(ep);
	quiesce_wait(ep);
}
/* ---- endpoint: connections ---- */

static struct tcp_conn *
conn_new(struct tcp_endpoint *ep, int fd, uint8_t role)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
	struct tcp_conn *c;

	if (ep->nb_conns == RTE_DIM(ep->conns))
		return NULL;
	c = rte_zmalloc_socket("tern_tcp_conn", sizeof(*c), RTE_CACHE_LINE_SIZE, ep->socket_id);
	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->role = role;
	ev.data.ptr = c;
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		rte_free(c);
		return NULL;
	}
	ep->conns[ep->nb_conns++] = c;
	if (role == ROLE_TARGET) {
		ep->nb_accepted++;
		ep->nb_preauth++;
	}
	return c;
}

/* ---- rails: several addresses of one peer (doc/peers.md, "Rails") ---- */

/*
 * A rail failed (a connection on it broke with work, stalled, or could not
 * connect): every endpoint stops choosing it; it is probed again after its
 * backoff, which doubles up to BACKOFF_MAX_MS while probes fail.
 */
static void
rail_fail(struct tcp_endpoint *ep, struct tcp_rail *r, int err)
{
	struct tcp_rail_shared *sh = r->sh;
	uint64_t now = rte_rdtsc();
	uint32_t pause = 0;

	rte_spinlock_lock(&tcp_shared.lock);
	sh->last_err = err;
	sh->fail_tsc = now;
	if (sh->state != TERN_TCP_RAIL_PAUSED) {
		pause = sh->backoff_ms;
		sh->resume_tsc = now + rte_get_tsc_hz() / 1000 * pause;
		sh->backoff_ms = RTE_MIN(sh->backoff_ms * 2, (uint32_t)BACKOFF_MAX_MS);
		__atomic_store_n(&sh->state, TERN_TCP_RAIL_PAUSED, __ATOMIC_RELEASE);
		__atomic_fetch_add(&sh->failures, 1, __ATOMIC_RELAXED);
	}
	rte_spinlock_unlock(&tcp_shared.lock);
	if (pause != 0) {
		char name[64];

		sockaddr_name(&r->sa, name, sizeof(name));
		STAT_INC(rail_failures);
		tcp_ep_log(ep, LOGK_CONN, RTE_LOG_WARNING,
			   "rail to %s failed: %s; paused for %u ms", name, strerror(-err), pause);
	}
}

/* A connection of the rail's epoch opened: the rail is in service. */
static void
rail_up(struct tcp_endpoint *ep, struct tcp_rail *r)
{
	struct tcp_rail_shared *sh = r->sh;
	bool back = false;

	if (__atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) == TERN_TCP_RAIL_UP)
		return;
	rte_spinlock_lock(&tcp_shared.lock);
	if (sh->state != TERN_TCP_RAIL_UP) {
		sh->backoff_ms = BACKOFF_MIN_MS;
		__atomic_store_n(&sh->state, TERN_TCP_RAIL_UP, __ATOMIC_RELEASE);
		back = true;
	}
	rte_spinlock_unlock(&tcp_shared.lock);
	if (back) {
		char name[64];

		sockaddr_name(&r->sa, name, sizeof(name));
		STAT_INC(rail_rejoins);
		tcp_ep_log(ep, LOGK_CONN, RTE_LOG_NOTICE, "rail to %s is back", name);
	}
}

/* May this endpoint probe @p r now? Then it is PROBING until @p now plus
 * twice the connect timeout (then anyone may probe again). */
static bool
rail_claim_probe(struct tcp_endpoint *ep, struct tcp_rail *r, uint64_t now)
{
	struct tcp_rail_shared *sh = r->sh;
	bool claimed = false;

	if (__atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) == TERN_TCP_RAIL_UP ||
	    now < __atomic_load_n(&sh->resume_tsc, __ATOMIC_RELAXED))
		return false;
	rte_spinlock_lock(&tcp_shared.lock);
	if (sh->state != TERN_TCP_RAIL_UP && now >= sh->resume_tsc) {
		sh->state = TERN_TCP_RAIL_PROBING;
		sh->resume_tsc = now + 2 * ep->connect_timeout_tsc;
		claimed = true;
	}
	rte_spinlock_unlock(&tcp_shared.lock);
	return claimed;
}

/*
 * The rail of @p peer for the next slice: of the rails in service, the one
 * with the fewest bytes in flight on this endpoint (so a faster rail, which
 * drains sooner, takes more), not @p skip, and with RAIL_BOUNDED under both
 * bounds of a rail: slices in flight (rail_inflight) and bytes in flight
 * (its tcp_bound; a rail with nothing in flight takes any slice). With none in
 * service, a rail whose pause is over carries the slice as its probe, and
 * with RAIL_FALLBACK (a new slice, not one posted again) so does the rail
 * that failed longest ago.
 * @return the rail; NULL with *err = -EAGAIN (every rail in service is at
 *         its bound) or -ENETUNREACH (none left).
 */
struct tcp_rail *
tcp_rail_pick(struct tcp_endpoint *ep, struct tcp_peer *peer, const struct tcp_rail *skip,
	      uint32_t flags, int *err)
{
	struct tcp_rail *best = NULL;
	bool busy = false;
	uint64_t now;
	uint32_t i;

	for (i = 0; i < peer->nb_rails; i++) {
		struct tcp_rail *r = &peer->rails[i];

		if (r == skip ||
		    __atomic_load_n(&r->sh->state, __ATOMIC_ACQUIRE) != TERN_TCP_RAIL_UP)
			continue;
		if ((flags & RAIL_BOUNDED) != 0 && (r->inflight >= ep->rail_inflight ||
						    tcp_bound_full(&r->bound, r->inflight_bytes))) {
			busy = true;
			continue;
		}
		if (best == NULL || r->inflight_bytes < best->inflight_bytes)
			best = r;
	}
	if (best != NULL)
		return best;
	if (busy) {
		*err = -EAGAIN;
		return NULL;
	}
	/* None in service: a rail whose pause is over carries the slice as its
	 * probe; else the one that failed longest ago (no rail is left but
	 * those: trying one is all there is, as with a single rail). */
	now = rte_rdtsc();
	for (i = 0; i < peer->nb_rails; i++) {
		struct tcp_rail *r = &peer->rails[i];

		if (r == skip)
			continue;
		if (rail_claim_probe(ep, r, now))
			return r;
		if ((flags & RAIL_FALLBACK) != 0 &&
		    (best == NULL || r->sh->fail_tsc < best->sh->fail_tsc))
			best = r;
	}
	if (best == NULL)
		*err = -ENETUNREACH;
	return best;
}

/* A failure of this process (no connection slot, no memory, no socket),
 * not of the rail. */
static inline bool
err_local(int err)
{
	return err == -ENOMEM || err == -EMFILE || err == -ENFILE || err == -ENOBUFS;
}

/* A probe of @p r could not even start for want of local resources: the
 * rail stays paused, without a failure counted, and is probed again later. */
static void
rail_unclaim(struct tcp_rail *r, uint64_t now)
{
	struct tcp_rail_shared *sh = r->sh;

	rte_spinlock_lock(&tcp_shared.lock);
	if (sh->state == TERN_TCP_RAIL_PROBING) {
		sh->resume_tsc = now + rte_get_tsc_hz() / 1000 * BACKOFF_MIN_MS;
		__atomic_store_n(&sh->state, TERN_TCP_RAIL_PAUSED, __ATOMIC_RELEASE);
	}
	rte_spinlock_unlock(&tcp_shared.lock);
}

/*
 * The next connection of @p r (round robin), opened on first use; NULL
 * with *err when it cannot be opened. A connect that fails fails the rail;
 * a full connection table (or no memory, no socket) does not: another open
 * connection of the rail carries the slice, else NULL (the caller tries
 * another rail).
 */
struct tcp_conn *
tcp_rail_conn(struct tcp_endpoint *ep, struct tcp_rail *r, int *err)
{
	uint32_t k = r->next_conn;
	struct tcp_conn *c = r->conns[k];

	if (++r->next_conn >= ep->conns_per_peer)
		r->next_conn = 0;
	if (c != NULL)
		return c;
	c = tcp_conn_connect(ep, r, k, err);
	if (c != NULL)
		return c;
	if (!err_local(*err)) {
		rail_fail(ep, r, *err);
		return NULL;
	}
	rail_unclaim(r, rte_rdtsc());
	for (k = 0; k < TERN_TCP_CONNS_MAX; k++)
		if (r->conns[k] != NULL && !r->conns[k]->probe)
			return r->conns[k];
	return NULL;
}

/* The index in ep->conns of @p c. */
static uint32_t
conn_index(const struct tcp_endpoint *ep, const struct tcp_conn *c)
{
	uint32_t i;

	for (i = 0; i < ep->nb_conns && ep->conns[i] != c; i++)
		;
	return i;
}

/*
 * Every TCP_BOUND_WINDOW_MS: close each rail's window of its tcp_bound (the
 * rate it delivered becomes a sample, its bound is recomputed) and, every
 * TCP_BOUND_RTT_EVERY windows, read the RTT of its open connections (the
 * smallest of their kernel min_rtt). One getsockopt() per open connection
 * per TCP_BOUND_RTT_EVERY windows; nothing per slice.
 */
void
tcp_rails_measure(struct tcp_endpoint *ep)
{
	uint64_t hz = rte_get_tsc_hz();
	bool rtt = ep->bound_windows++ % TCP_BOUND_RTT_EVERY == 0;
	uint32_t i, j, k;

	ep->bound_tsc = ep->now + hz / 1000 * TCP_BOUND_WINDOW_MS;
	for (i = 0; i < ep->nb_peers; i++) {
		struct tcp_peer *p = &ep->peers[i];

		for (j = 0; j < p->nb_rails; j++) {
			struct tcp_rail *r = &p->rails[j];
			uint32_t best = 0;

			for (k = 0; rtt && k < TERN_TCP_CONNS_MAX; k++) {
				const struct tcp_conn *c = r->conns[k];
				uint32_t us;

				if (c == NULL || c->state != CONN_OPEN)
					continue;
				us = tcp_bound_sock_rtt(c->fd);
				if (us != 0 && (best == 0 || us < best))
					best = us;
			}
			tcp_bound_rtt(&r->bound, best);
			tcp_bound_window(&r->bound, ep->now, hz, ep->rail_bytes_min,
					 ep->rail_bytes_max);
		}
	}
}

/*
 * Every PROBE_EVERY_MS: open a connection without slices to each paused
 * rail whose pause is over; its handshake brings the rail back. The probe
 * takes a free connection slot of the rail, the last first (the round robin
 * uses the first conns_per_peer, so a probe there carries nothing); with
 * every slot in use (conns at its maximum) it takes that of a connection
 * with nothing on it, which is closed. Called from poll() before its
 * connection loop (closing one here moves none of that loop's).
 */
void
tcp_rails_probe(struct tcp_endpoint *ep)
{
	struct tcp_conn *c;
	uint32_t i, j, k;
	int err = 0;

	ep->next_probe_tsc = ep->now + rte_get_tsc_hz() / 1000 * PROBE_EVERY_MS;
	for (i = 0; i < ep->nb_peers; i++) {
		struct tcp_peer *p = &ep->peers[i];

		for (j = 0; j < p->nb_rails; j++) {
			struct tcp_rail *r = &p->rails[j];
			uint32_t idle = TERN_TCP_CONNS_MAX;

			if (__atomic_load_n(&r->sh->state, __ATOMIC_ACQUIRE) == TERN_TCP_RAIL_UP)
				continue;
			for (k = TERN_TCP_CONNS_MAX; k-- > 0 && r->conns[k] != NULL;)
				if (idle == TERN_TCP_CONNS_MAX && r->conns[k]->nb_ops == 0 &&
				    !r->conns[k]->probe)
					idle = k;
			if (k >= TERN_TCP_CONNS_MAX)
				k = idle;
			if (k >= TERN_TCP_CONNS_MAX || !rail_claim_probe(ep, r, ep->now))
				continue;
			if (r->conns[k] != NULL)
				tcp_conn_close(ep, conn_index(ep, r->conns[k]), 0);
			c = tcp_conn_connect(ep, r, k, &err);
			if (c != NULL)
				c->probe = 1;
			else if (err_local(err))
				rail_unclaim(r, ep->now);
			else
				rail_fail(ep, r, err);
		}
	}
}

/* The error of the rail of @p p out of service that failed last, or @p dflt
 * when none is (a slice moved off a stale connection that finds no rail in
 * service fails with what took the rails out, not with the move's reset). */
static int
peer_last_error(const struct tcp_peer *p, int dflt)
{
	const struct tcp_rail_shared *last = NULL;
	uint32_t i;

	for (i = 0; i < p->nb_rails; i++) {
		const struct tcp_rail_shared *sh = p->rails[i].sh;

		if (sh->last_err != 0 &&
		    __atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) != TERN_TCP_RAIL_UP &&
		    (last == NULL || sh->fail_tsc > last->fail_tsc))
			last = sh;
	}
	return last != NULL ? last->last_err : dflt;
}

/* Did any byte of @p op on @p c reach the socket? */
static inline bool
on_wire(const struct tcp_conn *c, const struct tcp_op *op)
{
	return op->state == OP_SENT || (c->tx_head == op && c->tx_off != 0);
}

/*
 * The initiator's side of closing @p c: every op naming it (queued or
 * awaiting a reply) goes again on another connection, another rail when
 * @p c broke, unless its batch expired, the endpoint is shutting down, the
 * op went again REPOST_MAX times after rail failures, or no rail is left:
 * then it fails, with the error of the last rail. WRITE and READ are
 * idempotent: a slice landing twice lands the same bytes. A WRITE that had
 * bytes on the broken connection may still be applied late by the target
 * (a frozen lcore, a link that comes back): the peer's epoch goes up
 * first, so the target closes that connection, unread bytes and all,
 * before it serves the copy (doc/protocol.md, "Epochs").
 */
static void
conn_ops_failover(struct tcp_endpoint *ep, struct tcp_conn *c, int err)
{
	struct tcp_rail *r = c->rail;
	bool stale = err == -ESTALE;
	bool broken = !stale && !c->doomed && err != 0 && err != -ECANCELED &&
		      (c->nb_ops != 0 || c->state != CONN_OPEN);
	int fail = stale || err == 0 ? -ECONNRESET : err;
	uint32_t i, failed = 0, again = 0;
	bool bumped = false, fresh_tried = false;
	struct tcp_conn *fresh = NULL;
	int fresh_err = 0;

	r->conns[c->peer_conn] = NULL;
	if (broken)
		rail_fail(ep, r, err);
	for (i = 0; i < ep->nb_ops && c->nb_ops != 0; i++) {
		struct tcp_op *op = &ep->ops[i];
		const struct tcp_rail *skip = broken ? r : NULL;
		struct tcp_conn *nc = NULL;
		struct tcp_rail *nr;
		int e = fail, fail_op = fail;
		uint32_t k;

		if (op->state == OP_FREE || op->conn != c)
			continue;
		if (!op->expired && err != -ECANCELED && !ep->cancelled &&
		    (!broken || op->reposts < REPOST_MAX)) {
			if (broken && !bumped && !c->doomed && op->op == TCP_OP_WRITE &&
			    on_wire(c, op)) {
				peer_epoch_bump(r->peer->epoch);
				bumped = true;
			}
			for (k = 0; nc == NULL && k < r->peer->nb_rails; k++) {
				nr = tcp_rail_pick(ep, r->peer, skip, 0, &e);
				if (nr == NULL)
					break;
				nc = tcp_rail_conn(ep, nr, &e);
				skip = nr;
			}
		}
		if (nc == NULL && broken && op->reposts == 0 && !op->expired && !ep->cancelled &&
		    !on_wire(c, op)) {
			/* No rail in service, and the slice never left its queue
			 * (posted after the connection fell silent): it tries a
			 * connection of its own, once, rather than fail with the
			 * error of a connection it never used. */
			if (!fresh_tried) {
				fresh_tried = true;
				fresh = tcp_conn_connect(ep, r, c->peer_conn, &fresh_err);
			}
			nc = fresh;
			if (nc == NULL && !err_local(fresh_err))
				fail_op = fresh_err;
		}
		if (nc == NULL && stale)
			fail_op = peer_last_error(r->peer, fail_op);
		if (nc == NULL) {
			op_complete(ep, op, op->expired ? -ETIMEDOUT : fail_op);
			failed++;
			continue;
		}
		op_detach(op, stale ? 1 : -1);
		__atomic_fetch_add(&r->sh->reposted, 1, __ATOMIC_RELAXED);
		if (broken)
			op->reposts++;
		op_attach(ep, nc, op);
		again++;
	}
	__atomic_fetch_add(&tcp_stats.failed_slices, failed, __ATOMIC_RELAXED);
	__atomic_fetch_add(&tcp_stats.reposted_slices, again, __ATOMIC_RELAXED);
}

/*
 * Close a connection and account for everything that named it: the
 * initiator's slices fail with @p err, the target's references are dropped.
 * @p idx is the connection's index in ep->conns.
 */
void
tcp_conn_close(struct tcp_endpoint *ep, uint32_t idx, int err)
{
	struct tcp_conn *c = ep->conns[idx];
	struct tcp_op *op, *next;

	if (err == -EPROTO) {
		STAT_INC(protocol_errors);
	} else if (c->role == ROLE_INITIATOR && c->doomed) {
		STAT_INC(expired_resets);
		tcp_ep_log(ep, LOGK_CONN, RTE_LOG_WARNING,
			   "connection to %s reset: a batch on it passed its deadline", c->name);
	} else {
		/* Loud only when work was lost with it, once per rail outage
		 * (every slice to a dead peer retries the connection). */
		bool loud = err != 0 && err != -ECANCELED && err != -ESTALE && c->nb_ops != 0 &&
			    !(c->role == ROLE_INITIATOR && c->rail->failing);

		if (loud)
			tcp_ep_log(ep, LOGK_CONN, RTE_LOG_WARNING, "connection %s %s closed: %s%s",
				   c->role == ROLE_TARGET ? "from" : "to", c->name, strerror(-err),
				   c->role == ROLE_INITIATOR ? " (quiet until it connects again)"
							     : "");
		else
			TCP_LOG(DEBUG, "lcore %u: connection %s %s closed: %s", ep->lcore_id,
				c->role == ROLE_TARGET ? "from" : "to", c->name,
				err == 0 ? "done" : strerror(-err));
		if (c->role == ROLE_INITIATOR && err != 0 && err != -ECANCELED && err != -ESTALE &&
		    c->nb_ops != 0)
			c->rail->failing = true;
	}
	STAT_INC(closed);
	(void)epoll_ctl(ep->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->doomed || (c->role == ROLE_INITIATOR && err != 0 && c->nb_ops != 0)) {
		/* A reset, not a FIN: the target drops what it has not read
		 * (the slices on it go again elsewhere, or fail). */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd);
	if (c->state == CONN_CONNECTING)
		ep->nb_connecting--;
	if (c->role == ROLE_TARGET) {
		ep->nb_accepted--;
		if (c->state != CONN_OPEN)
			ep->nb_preauth--;
	}
	if (c->role == ROLE_INITIATOR) {
		conn_ops_failover(ep, c, err);
	} else {
		for (op = c->tx_head; op != NULL; op = next) {
			next = op->next;
			top_free(ep, op);
		}
		if (c->rx_op != NULL)
			top_free(ep, c->rx_op);
	}
	ep->conns[idx] = ep->conns[--ep->nb_conns];
	rte_free(c);
}

/* Open connection @p k to @p peer: non-blocking, completes in poll(). */
struct tcp_conn *
tcp_conn_connect(struct tcp_endpoint *ep, struct tcp_rail *rail, uint32_t k, int *err)
{
	struct tcp_conn *c;
	int fd;

	fd = socket(rail->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	tcp_socket_tune(fd);
	if (connect(fd, (struct sockaddr *)&rail->sa, rail->sa_len) != 0 && errno != EINPROGRESS) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	c = conn_new(ep, fd, ROLE_INITIATOR);
	if (c == NULL) {
		*err = -ENOMEM;
		close(fd);
		return NULL;
	}
	c->state = CONN_CONNECTING;
	c->rail = rail;
	c->epoch = __atomic_load_n(rail->peer->epoch, __ATOMIC_ACQUIRE);
	c->instance = tcp_shared.instance;
	c->peer_conn = (uint16_t)k;
	c->connect_deadline = rte_rdtsc() + ep->connect_timeout_tsc;
	sockaddr_name(&rail->sa, c->name, sizeof(c->name));
	ep->nb_connecting++;
	rail->conns[k] = c;
	return c;
}
/* ---- handshake (doc/protocol.md, "Handshake") ---- */
/* Handshake frames go out at once: nothing else is queued on the socket
 * yet, so its buffer always takes them. */
static int
hs_send(struct tcp_conn *c, uint8_t op, uint32_t flags, int32_t status, const uint8_t *payload)
{
	uint8_t buf[TCP_FRAME_HDR_LEN + TCP_HS_LEN];
	struct tcp_frame_hdr h = {
		.op = op,
		.tag = c->epoch,
		.segment = flags,
		.offset = c->instance,
		.length = TCP_HS_LEN,
		.payload = payload != NULL ? TCP_HS_LEN : 0,
		.status = status,
	};
	size_t n = TCP_FRAME_HDR_LEN + h.payload;
	ssize_t k;

	tcp_frame_encode(buf, &h);
	if (payload != NULL)
		memcpy(buf + TCP_FRAME_HDR_LEN, payload, TCP_HS_LEN);
	k = send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (k == (ssize_t)n)
		return 0;
	return k < 0 ? -errno : -EAGAIN;
}

/*
 * Target: the initiator proved itself. Order its connection after its older
 * ones: a newer epoch makes every connection of an older one stale (each
 * endpoint closes them when it next enters post_burst()/poll(), unread WRITE
 * data and all); this connection waits in SYNC until that happened everywhere.
 * @return 0, or -ESTALE (an older epoch than one already seen).
 */
static int
target_register(struct tcp_endpoint *ep, struct tcp_conn *c)
{
	uint32_t i, slot = INSTANCES, victim = 0;
	const uint8_t *local = c->local;
	struct sockaddr_storage ss;
	uint8_t primary[19];
	bool changed = false;
	socklen_t len;
	int ret = 0;

	/* An initiator with one epoch for all our addresses (its rails to us)
	 * names us by our first advertised address, whichever it reached:
	 * so do we, and a connection of a newer epoch on one rail closes the
	 * older ones on every rail. An older initiator keeps an epoch per
	 * address: so do we, per the address it reached us at. */
	if ((c->epoch & TCP_EPOCH_PEER_WIDE) != 0 && tcp_cfg.family != 0) {
		tcp_addr_to_sockaddr(tcp_cfg.family, tcp_cfg.adv_addr, tcp_cfg.listen_port, &ss,
				     &len);
		sockaddr_key(&ss, primary);
		local = primary;
	}
	rte_spinlock_lock(&tcp_shared.lock);
	for (i = 0; i < INSTANCES; i++) {
		if (tcp_shared.inst[i].instance == c->instance &&
		    memcmp(tcp_shared.inst[i].local, local, sizeof(c->local)) == 0) {
			slot = i;
			break;
		}
		if (tcp_shared.inst[victim].instance != 0 &&
		    (tcp_shared.inst[i].instance == 0 ||
		     tcp_shared.inst[i].used_tsc < tcp_shared.inst[victim].used_tsc))
			victim = i;
	}
	if (slot == INSTANCES) {
		/* A new initiator; evicting the least recent one closes its connections. */
		slot = victim;
		changed = tcp_shared.inst[slot].instance != 0;
		tcp_shared.inst[slot].instance = c->instance;
		memcpy(tcp_shared.inst[slot].local, local, sizeof(c->local));
		tcp_shared.inst[slot].epoch = c->epoch;
	} else if (c->epoch < tcp_shared.inst[slot].epoch) {
		ret = -ESTALE;
	} else if (c->epoch > tcp_shared.inst[slot].epoch) {
		tcp_shared.inst[slot].epoch = c->epoch;
		changed = true;
	}
	if (changed) {
		__atomic_fetch_add(&tcp_shared.inst[slot].gen, 1, __ATOMIC_RELEASE);
		shared_changed();
	}
	tcp_shared.inst[slot].used_tsc = rte_rdtsc();
	c->inst_slot = (uint16_t)slot;
	c->inst_gen = tcp_shared.inst[slot].gen;
	c->sync_gen = __atomic_load_n(&tcp_shared.gen, __ATOMIC_RELAXED);
	rte_spinlock_unlock(&tcp_shared.lock);
	memset(c->sync_seq, 0, sizeof(c->sync_seq));
	if (ret != 0 || !changed)
		return ret;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < EP_MAX; i++) {
		uint64_t q = qseq_load(i);

		if (i != ep->slot && (q & 1) != 0)
			c->sync_seq[i] = q;
	}
	return 0;
}

/* Target, SYNC: open the connection once older ones are gone everywhere. */
int
tcp_target_sync(struct tcp_endpoint *ep, struct tcp_conn *c)
{
	int ret;

	if (!quiesce_passed(ep, c))
		return 0;
	ret = hs_send(c, TCP_OP_READY, 0, 0, NULL);
	if (ret != 0)
		return ret;
	c->state = CONN_OPEN;
	ep->nb_preauth--;
	return 0;
}

/* Initiator: READY came. */
static int
hs_ready(struct tcp_endpoint *ep, struct tcp_conn *c, int32_t status)
{
	if (status != 0) {
		tcp_ep_log(ep, LOGK_ACCESS, RTE_LOG_ERR, "%s refused the connection: %s", c->name,
			   strerror(-status));
		return status;
	}
	c->state = CONN_OPEN;
	c->writable = 1;
	c->rail->failing = false;
	c->rx_tsc = rte_rdtsc();
	if (c->epoch == __atomic_load_n(c->rail->peer->epoch, __ATOMIC_ACQUIRE))
		rail_up(ep, c->rail);
	STAT_INC(connected);
	TCP_LOG(DEBUG, "lcore %u: connected to %s", ep->lcore_id, c->name);
	return 0;
}

/* A handshake frame's header, before the connection is open. */
int
tcp_hs_frame(struct tcp_endpoint *ep, struct tcp_conn *c, const struct tcp_frame_hdr *h)
{
	bool first = c->role == ROLE_TARGET && c->state == CONN_HELLO;
	uint8_t want;

	if (c->role == ROLE_INITIATOR)
		want = c->state == CONN_HELLO ? TCP_OP_CHALLENGE : TCP_OP_READY;
	else
		want = c->state == CONN_HELLO ? TCP_OP_HELLO : TCP_OP_AUTH;
	if (h->op != want || (!first && (h->tag != c->epoch || h->offset != c->instance))) {
		tcp_ep_log(ep, LOGK_PROTO, RTE_LOG_WARNING,
			   "%s: op %u where the handshake expects %u, closing", c->name, h->op,
			   want);
		return -EPROTO;
	}
	if (first) {
		c->instance = h->offset;
		c->epoch = h->tag;
	}
	if (h->op == TCP_OP_CHALLENGE)
		c->hs_flags = h->segment;
	if (h->op == TCP_OP_READY)
		return hs_ready(ep, c, h->status);
	c->rx_op = NULL;
	c->rx_dst = c->hs_in;
	c->rx_left = h->payload;
	c->rx_state = RX_PAYLOAD;
	return 0;
}

/* A handshake frame's payload (a nonce or a proof) is in c->hs_in. */
int
tcp_hs_payload(struct tcp_endpoint *ep, struct tcp_conn *c)
{
	static const uint8_t zero[TCP_AUTH_PROOF_LEN];
	uint8_t proof[TCP_AUTH_PROOF_LEN] = { 0 };
	int ret;

	RTE_BUILD_BUG_ON(TCP_AUTH_PROOF_LEN != TCP_HS_LEN);
	if (c->role == ROLE_INITIATOR) { /* CHALLENGE: answer with AUTH */
		if ((c->hs_flags & TCP_HS_F_AUTH) != 0) {
			if (!tcp_cfg.auth) {
				tcp_ep_log(ep, LOGK_ACCESS, RTE_LOG_ERR,
					   "%s requires authentication and no secret is configured",
					   c->name);
				return -EACCES;
			}
			tcp_auth_proof(tcp_cfg.auth_key, c->hs_in, c->nonce_i, c->instance,
				       c->epoch, proof);
		}
		ret = hs_send(c, TCP_OP_AUTH, 0, 0, proof);
		c->state = CONN_AUTH;
		return ret;
	}
	if (c->state == CONN_HELLO) { /* HELLO: answer with CHALLENGE */
		memcpy(c->nonce_i, c->hs_in, TCP_HS_LEN);
		random_bytes(c->nonce_t, TCP_HS_LEN);
		ret = hs_send(c, TCP_OP_CHALLENGE, tcp_cfg.auth ? TCP_HS_F_AUTH : 0, 0, c->nonce_t);
		c->state = CONN_AUTH;
		return ret;
	}
	if (tcp_cfg.auth) { /* AUTH: check the proof */
		tcp_auth_proof(tcp_cfg.auth_key, c->nonce_t, c->nonce_i, c->instance, c->epoch,
			       proof);
		if (!tcp_auth_equal(proof, c->hs_in)) {
			tcp_ep_log(ep, LOGK_ACCESS, RTE_LOG_WARNING, "refused %s: %s", c->name,
				   memcmp(c->hs_in, zero, sizeof(zero)) == 0 ? "it has no secret"
									     : "wrong secret");
			STAT_INC(refused);
			(void)hs_send(c, TCP_OP_READY, 0, -EACCES, NULL);
			return -EACCES;
		}
	}
	ret = target_register(ep, c);
	if (ret != 0) {
		tcp_ep_log(ep, LOGK_ACCESS, RTE_LOG_WARNING, "refused %s: epoch %u is stale",
			   c->name, c->epoch);
		(void)hs_send(c, TCP_OP_READY, 0, ret, NULL);
		return ret;
	}
	c->state = CONN_SYNC;
	return 0;
}
/* ---- accepting ---- */

/*
 * Make room for a connection about to be accepted: the oldest one still in
 * its handshake when PREAUTH_MAX are, else the oldest open one with nothing
 * in flight when TARGET_CONNS_MAX are. @return false when there is no room.
 */
static bool
accept_room(struct tcp_endpoint *ep)
{
	bool preauth = ep->nb_preauth >= PREAUTH_MAX;
	uint32_t i, victim = UINT32_MAX;

	if (!preauth && ep->nb_accepted < TARGET_CONNS_MAX && ep->nb_conns < RTE_DIM(ep->conns))
		return true;
	for (i = 0; i < ep->nb_conns; i++) {
		const struct tcp_conn *c = ep->conns[i];

		if (c->role != ROLE_TARGET ||
		    (preauth ? c->state == CONN_OPEN : c->state != CONN_OPEN || c->nb_ops != 0))
			continue;
		if (victim == UINT32_MAX || c->accept_tsc < ep->conns[victim]->accept_tsc)
			victim = i;
	}
	if (victim == UINT32_MAX)
		return false;
	tcp_ep_log(ep, LOGK_LIMIT, RTE_LOG_WARNING, "%u connections%s: closing the oldest, from %s",
		   preauth ? ep->nb_preauth : ep->nb_accepted, preauth ? " in the handshake" : "",
		   ep->conns[victim]->name);
	tcp_conn_close(ep, victim, -EUSERS);
	return true;
}

void
tcp_accept_all(struct tcp_endpoint *ep, int lfd)
{
	struct sockaddr_storage ss, local;
	struct tcp_conn *c;
	socklen_t len, llen;
	int i, fd;

	for (i = 0; i < ACCEPT_BURST; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				tcp_ep_log(ep, LOGK_LIMIT, RTE_LOG_ERR, "accept: %s",
					   strerror(errno));
			return;
		}
		tcp_socket_tune(fd);
		c = accept_room(ep) ? conn_new(ep, fd, ROLE_TARGET) : NULL;
		if (c == NULL) {
			tcp_ep_log(ep, LOGK_LIMIT, RTE_LOG_ERR, "cannot take another connection");
			close(fd);
			continue;
		}
		llen = sizeof(local);
		if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
			sockaddr_key(&local, c->local);
		c->state = CONN_HELLO;
		c->accept_tsc = rte_rdtsc();
		c->io_tsc = c->accept_tsc;
		c->connect_deadline = c->accept_tsc + ep->connect_timeout_tsc;
		c->readable = 1;
		c->writable = 1;
		sockaddr_name(&ss, c->name, sizeof(c->name));
		STAT_INC(accepted);
		TCP_LOG(DEBUG, "lcore %u: accepted %s", ep->lcore_id, c->name);
	}
}

/* A non-blocking connect finished (or failed): 0, or a negative errno. */
int
tcp_conn_established(struct tcp_endpoint *ep, struct tcp_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0)
		return -err;
	c->state = CONN_HELLO;
	c->connect_deadline = rte_rdtsc() + ep->connect_timeout_tsc; /* for the handshake */
	ep->nb_connecting--;
	random_bytes(c->nonce_i, TCP_HS_LEN);
	return hs_send(c, TCP_OP_HELLO, 0, 0, c->nonce_i);
}
/* ---- endpoints: open and close ---- */

void
tcp_endpoint_close(struct tern_endpoint *base)
{
	struct tcp_endpoint *ep = tcp_ep(base);
	if (ep == NULL)
		return;
	while (ep->nb_conns != 0)
		tcp_conn_close(ep, ep->nb_conns - 1, -ECANCELED);
	if (ep->epfd >= 0)
		close(ep->epfd);
	rte_free(ep->ops);
	rte_free(ep->tops);
	rte_free(ep->cpl);
	rte_spinlock_lock(&tcp_shared.lock);
	if (ep->slot < EP_MAX && tcp_shared.eps[ep->slot] == ep)
		tcp_shared.eps[ep->slot] = NULL;
	rte_spinlock_unlock(&tcp_shared.lock);
	rte_free(ep);
	if (__atomic_sub_fetch(&tcp_open_endpoints, 1, __ATOMIC_RELEASE) == 0)
		served_table = NULL;
}

struct tern_endpoint *
tcp_endpoint_open(const struct tern_endpoint_conf *conf)
{
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &tcp_listener_tag[0] };
	struct tcp_endpoint *ep;
	uint32_t i, size;

	if (conf == NULL || conf->segments == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	ep = rte_zmalloc_socket("tern_tcp_ep", sizeof(*ep), RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (ep == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	__atomic_fetch_add(&tcp_open_endpoints, 1, __ATOMIC_ACQUIRE);
	ep->epfd = -1;
	ep->slot = EP_MAX;
	rte_spinlock_lock(&tcp_shared.lock);
	while (tcp_shared.instance == 0)
		random_bytes(&tcp_shared.instance, sizeof(tcp_shared.instance));
	for (i = 0; i < EP_MAX && ep->slot == EP_MAX; i++)
		if (tcp_shared.eps[i] == NULL) {
			tcp_shared.eps[i] = ep;
			ep->slot = i;
		}
	ep->seen_gen = __atomic_load_n(&tcp_shared.gen, __ATOMIC_RELAXED);
	ep->seen_ring = tcp_shared.ring_gen;
	rte_spinlock_unlock(&tcp_shared.lock);
	if (ep->slot == EP_MAX)
		goto fail;
	ep->lcore_id = conf->lcore_id;
	ep->base.lcore_id = conf->lcore_id;
	ep->socket_id = conf->socket_id;
	ep->segments = conf->segments;
	ep->conns_per_peer = tcp_cfg.conns_per_peer;
	ep->rail_inflight = tcp_cfg.rail_inflight;
	ep->rail_bytes_min = tcp_cfg.rail_bytes_min;
	ep->rail_bytes_max = tcp_cfg.rail_bytes_max;
	ep->stall_tsc = rte_get_tsc_hz() / 1000 * tcp_cfg.stall_timeout_ms;
	ep->connect_timeout_tsc = rte_get_tsc_hz() / 1000 * tcp_cfg.connect_timeout_ms;
	ep->idle_tsc = rte_get_tsc_hz() / 1000 * tcp_cfg.idle_timeout_ms;
	ep->nb_ops = RTE_MIN(conf->max_slices, (uint32_t)INIT_OPS_MAX);
	ep->nb_ops = RTE_MAX(ep->nb_ops, 16u);
	size = rte_align32pow2(ep->nb_ops);
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	ep->ops = rte_zmalloc_socket("tern_tcp_ops", sizeof(*ep->ops) * ep->nb_ops,
				     RTE_CACHE_LINE_SIZE, conf->socket_id);
	ep->tops = rte_zmalloc_socket("tern_tcp_tops", sizeof(*ep->tops) * TARGET_OPS,
				      RTE_CACHE_LINE_SIZE, conf->socket_id);
	ep->cpl = rte_zmalloc_socket("tern_tcp_cpl", sizeof(*ep->cpl) * size, RTE_CACHE_LINE_SIZE,
				     conf->socket_id);
	if (ep->epfd < 0 || ep->ops == NULL || ep->tops == NULL || ep->cpl == NULL)
		goto fail;
	if (tcp_cfg.listen_fd >= 0 && served_table == NULL)
		served_table = conf->segments;
	if (tcp_cfg.listen_fd >= 0 && served_table != conf->segments)
		TCP_LOG(WARNING,
			"lcore %u: another engine serves the listener; this one only initiates",
			conf->lcore_id);
	else if (tcp_cfg.listen_fd >= 0 &&
		 epoll_ctl(ep->epfd, EPOLL_CTL_ADD, tcp_cfg.listen_fd, &lev) != 0)
		goto fail;
	else if (tcp_cfg.listen_fd >= 0)
		ep->listening = true;
	for (i = 0; ep->listening && i < tcp_cfg.nb_extra; i++) {
		lev.data.ptr = &tcp_listener_tag[i + 1];
		if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, tcp_cfg.extra_fd[i], &lev) != 0)
			goto fail;
	}
	ep->cpl_mask = size - 1;
	for (i = ep->nb_ops; i-- > 0;) {
		ep->ops[i].next = ep->free_ops;
		ep->free_ops = &ep->ops[i];
	}
	for (i = TARGET_OPS; i-- > 0;) {
		ep->tops[i].next = ep->free_tops;
		ep->free_tops = &ep->tops[i];
		ep->nb_free_tops++;
	}
	return &ep->base;
fail:
	tcp_endpoint_close(&ep->base);
	rte_errno = ENOMEM;
	return NULL;
}

/* ---- rails: what the process knows of them ---- */

int
tern_tcp_rails(const void *desc, size_t desc_len, struct tern_tcp_rail_info *out, unsigned int max)
{
	struct tcp_desc d;
	uint64_t now = rte_rdtsc(), hz = rte_get_tsc_hz();
	uint32_t i, k;

	if (desc == NULL || (out == NULL && max != 0) || tcp_desc_decode(desc, desc_len, &d) != 0)
		return -EINVAL;
	for (i = 0; i < 1u + d.nb_extra && i < max; i++) {
		struct tern_tcp_rail_info *o = &out[i];
		struct sockaddr_storage ss;
		socklen_t len;
		uint8_t key[19];

		memset(o, 0, sizeof(*o));
		o->last_failure_ms = UINT64_MAX;
		if (i == 0)
			tcp_addr_to_sockaddr(d.family, d.addr, d.port, &ss, &len);
		else
			tcp_addr_to_sockaddr(d.extra[i - 1].family, d.extra[i - 1].addr,
					     d.extra[i - 1].port, &ss, &len);
		sockaddr_name(&ss, o->addr, sizeof(o->addr));
		sockaddr_key(&ss, key);
		rte_spinlock_lock(&tcp_shared.lock);
		for (k = 0; k < PEER_EPOCHS && tcp_shared.rails[k].used; k++) {
			const struct tcp_rail_shared *sh = &tcp_shared.rails[k];

			if (memcmp(sh->key, key, sizeof(key)) != 0)
				continue;
			o->state = sh->state;
			o->bytes = __atomic_load_n(&sh->bytes, __ATOMIC_RELAXED);
			o->slices = __atomic_load_n(&sh->slices, __ATOMIC_RELAXED);
			o->errors = __atomic_load_n(&sh->errors, __ATOMIC_RELAXED);
			o->reposted = __atomic_load_n(&sh->reposted, __ATOMIC_RELAXED);
			o->failures = __atomic_load_n(&sh->failures, __ATOMIC_RELAXED);
			o->last_error = sh->last_err;
			if (sh->fail_tsc != 0)
				o->last_failure_ms = (now - sh->fail_tsc) * 1000 / hz;
			o->backoff_ms = sh->state == TERN_TCP_RAIL_UP ? 0 : sh->backoff_ms;
			break;
		}
		rte_spinlock_unlock(&tcp_shared.lock);
	}
	return 1 + d.nb_extra;
}
