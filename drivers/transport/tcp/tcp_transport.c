/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tcp transport: one-sided READ/WRITE emulated over TCP.
 *
 * Every worker lcore's endpoint owns an epoll set (edge-triggered, polled
 * with a zero timeout), its connections and two pools of operations: one for
 * the slices it initiates, one for the replies it owes as a target. Nothing
 * is shared between endpoints except the listening socket, which each of them
 * polls with a non-blocking accept4(): whoever gets a connection serves it.
 *
 * Initiator: post_burst() only queues frames on a connection of the target's
 * peer (opened on first use, round robin over conns_per_peer connections);
 * poll() sends with sendmsg() (header and payload iovecs of many frames at
 * once) and receives replies, READ data going straight into the local buffer.
 * A tag (the operation's index) ties a reply to its request.
 *
 * Target: a request is decoded and checked (tcp_frame_decode(), then
 * tern_segment_acquire() on the engine's table, exported segments only)
 * before any memory is touched; WRITE payloads are received straight into
 * the segment, READ data is sent straight from it, and the segment reference
 * is held until then. Each connection gets a bounded share of the replies
 * and of queued READ data; idle, silent and surplus connections are closed.
 *
 * Every connection opens with a handshake (instance, epoch, optional proof
 * of a shared secret). A batch that passes its deadline has its connections
 * reset in every endpoint (expire(), tcp_ep_catch_up()); a target closes a
 * connection of an older epoch before it opens one of a newer epoch of the
 * same initiator (target_register()). doc/protocol.md, "Handshake".
 *
 * Files (doc/protocol.md, "Files"): this one is the data path (post_burst(),
 * poll() and what they call: sending, receiving, the target's side of a
 * request) and the ops table. tcp_conn.c opens and closes endpoints and
 * connections, runs the handshake and what endpoints share (epochs, expired
 * batches, quiescence); tcp_conf.c holds the configuration. Calls go one
 * way only: tcp_transport.c -> tcp_conn.c -> tcp_conf.c (and each of them to
 * the codec, tcp_frame.c and tcp_auth.c); tests/layers/check_layers.py checks.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "tcp_conf.h"
#include "tcp_conn.h"
#include "tcp_frame.h"
#include "tern_tcp.h"

/* ---- posting and sending ---- */

/* The rail of @p p to @p a (descriptor address @p i). */
static void
rail_init(struct tcp_endpoint *ep, struct tcp_peer *p, uint32_t i, uint8_t family, uint16_t port,
	  const uint8_t addr[16])
{
	struct tcp_rail *r = &p->rails[i];
	uint16_t be = rte_cpu_to_be_16(port);

	memset(r->key, 0, sizeof(r->key));
	r->key[0] = family;
	memcpy(r->key + 1, &be, 2);
	memcpy(r->key + 3, addr, family == 4 ? 4 : 16);
	r->sh = tcp_rail_shared_get(r->key);
	r->peer = p;
	tcp_bound_init(&r->bound, ep->rail_bytes_min);
	tcp_addr_to_sockaddr(family, addr, port, &r->sa, &r->sa_len);
}

static struct tcp_peer *
peer_get(struct tcp_endpoint *ep, const uint8_t *desc)
{
	struct tcp_peer *p = ep->last_peer;
	struct tcp_desc d;
	uint32_t i;

	if (likely(p != NULL && memcmp(p->key, desc + 5, sizeof(p->key)) == 0))
		return p;
	for (i = 0; i < ep->nb_peers; i++) {
		p = &ep->peers[i];
		if (memcmp(p->key, desc + 5, sizeof(p->key)) == 0)
			return ep->last_peer = p;
	}
	if (ep->nb_peers == PEER_MAX || tcp_desc_decode(desc, tcp_desc_len_of(desc), &d) != 0)
		return NULL;
	p = &ep->peers[ep->nb_peers++];
	memcpy(p->key, desc + 5, sizeof(p->key));
	rail_init(ep, p, 0, d.family, d.port, d.addr);
	for (i = 0; i < d.nb_extra; i++)
		rail_init(ep, p, i + 1, d.extra[i].family, d.extra[i].port, d.extra[i].addr);
	p->nb_rails = 1 + d.nb_extra;
	p->epoch = &p->rails[0].sh->epoch;
	return ep->last_peer = p;
}
static inline uint32_t
get_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

/* Is @p s of a batch that expired lately? Forgets the old ones. */
static bool
dead_batch(struct tcp_endpoint *ep, const struct tern_slice *s)
{
	uint64_t now = rte_rdtsc();
	uint32_t i;

	while (ep->nb_dead != 0 &&
	       ep->dead[(ep->dead_head + DEAD_MAX - ep->nb_dead) % DEAD_MAX].until_tsc < now)
		ep->nb_dead--;
	for (i = 1; i <= ep->nb_dead; i++) {
		const struct expired *d = &ep->dead[(ep->dead_head + DEAD_MAX - i) % DEAD_MAX];

		if (d->cookie == s->cookie && d->batch == s->batch)
			return true;
	}
	return false;
}

static uint16_t
tcp_post_burst(struct tern_endpoint *base, const struct tern_slice *slices, uint16_t nb)
{
	struct tcp_endpoint *ep = tcp_ep(base);
	struct tcp_frame_hdr h = { 0 };
	uint16_t i;

	ep_enter(ep);
	for (i = 0; i < nb; i++) {
		const struct tern_slice *s = &slices[i];
		const uint8_t *desc = s->target->priv;
		struct tcp_op *op = ep->free_ops;
		struct tcp_peer *peer;
		struct tcp_rail *rail;
		struct tcp_conn *c;
		uint32_t k;
		int err = 0;

		if (unlikely(op == NULL))
			break;
		ep->free_ops = op->next;
		ep->nb_busy_ops++;
		op->cookie = s->cookie;
		op->length = s->length;
		op->conn = NULL;
		op->reposts = 0;
		op->batch = s->batch;
		if (unlikely(ep->nb_dead != 0) && dead_batch(ep, s)) {
			op_complete(ep, op, -ETIMEDOUT);
			continue;
		}
		if (unlikely(ep->cancelled)) {
			op_complete(ep, op, -ECANCELED);
			continue;
		}
		if (unlikely(s->target->kind != TERN_SEGMENT_REMOTE ||
			     get_be32(desc) != TCP_DESC_MAGIC ||
			     (desc[4] != TCP_DESC_VERSION && desc[4] != TCP_DESC_VERSION_RAILS))) {
			op_complete(ep, op, -EINVAL);
			continue;
		}
		peer = peer_get(ep, desc);
		if (unlikely(peer == NULL)) {
			op_complete(ep, op, -ENOSPC);
			continue;
		}
		/* The live rail with the fewest bytes in flight, then round robin
		 * over its connections, opening them on first use. */
		c = NULL;
		rail = NULL;
		for (k = 0; c == NULL && k < peer->nb_rails; k++) {
			rail = tcp_rail_pick(ep, peer, rail, RAIL_BOUNDED | RAIL_FALLBACK, &err);
			if (rail == NULL)
				break;
			c = tcp_rail_conn(ep, rail, &err);
		}
		if (unlikely(c == NULL)) {
			if (err == -EAGAIN) {
				/* Every live rail has its bound in flight: later. */
				op->next = ep->free_ops;
				ep->free_ops = op;
				ep->nb_busy_ops--;
				break;
			}
			op_complete(ep, op, err);
			continue;
		}
		h.op = s->op == TERN_OP_WRITE ? TCP_OP_WRITE : TCP_OP_READ;
		h.tag = (uint32_t)(op - ep->ops);
		h.segment = get_be32(desc + 24);
		h.offset = s->offset;
		h.length = s->length;
		h.payload = h.op == TCP_OP_WRITE ? s->length : 0;
		tcp_frame_encode(op->hdr, &h);
		op->op = h.op;
		op->data = s->local;
		op->tx_len = TCP_FRAME_HDR_LEN + h.payload;
		op_attach(ep, c, op);
	}
	ep_leave(ep);
	return i;
}

/* A notification (doc/notify.md): one NOTIFY frame on a live rail to the
 * target's node; its NOTIFY_REPLY's status completes it. */
int
tcp_notify_post(struct tern_endpoint *base, const struct tern_notify_post *n)
{
	struct tcp_endpoint *ep = tcp_ep(base);
	const uint8_t *desc = n->target->priv;
	struct tcp_frame_hdr h = { 0 };
	struct tcp_rail *rail;
	struct tcp_peer *peer;
	struct tcp_conn *c = NULL;
	struct tcp_op *op;
	uint32_t k;
	int err = 0;

	if (n->target->kind != TERN_SEGMENT_REMOTE || get_be32(desc) != TCP_DESC_MAGIC ||
	    (desc[4] != TCP_DESC_VERSION && desc[4] != TCP_DESC_VERSION_RAILS) ||
	    n->msg_len > TCP_NOTIFY_MSG_MAX || n->wire == NULL)
		return -EINVAL;
	ep_enter(ep);
	op = ep->free_ops;
	if (op == NULL || ep->cancelled) {
		ep_leave(ep);
		return op == NULL ? -EAGAIN : -ECANCELED;
	}
	peer = peer_get(ep, desc);
	if (peer == NULL) {
		ep_leave(ep);
		return -ENOSPC;
	}
	for (k = 0; c == NULL && k < peer->nb_rails; k++) {
		rail = tcp_rail_pick(ep, peer, NULL, RAIL_BOUNDED | RAIL_FALLBACK, &err);
		if (rail == NULL)
			break;
		c = tcp_rail_conn(ep, rail, &err);
	}
	if (c == NULL) {
		ep_leave(ep);
		return err != 0 ? err : -EHOSTUNREACH;
	}
	ep->free_ops = op->next;
	ep->nb_busy_ops++;
	op->cookie = n->cookie;
	op->length = n->msg_len;
	op->conn = NULL;
	op->reposts = 0;
	op->batch = n->batch;
	h.op = TCP_OP_NOTIFY;
	h.tag = (uint32_t)(op - ep->ops);
	h.segment = get_be32(desc + 24);
	h.offset = n->tag;
	h.length = n->msg_len;
	h.payload = TCP_NOTIFY_SENDER_LEN + n->msg_len;
	tcp_frame_encode(op->hdr, &h);
	op->op = h.op;
	op->data = (uint8_t *)(uintptr_t)n->wire;
	op->tx_len = TCP_FRAME_HDR_LEN + h.payload;
	op_attach(ep, c, op);
	ep_leave(ep);
	return 0;
}

/* Send as much of the queue as the socket takes. 0, or a negative errno. */
static int
conn_send(struct tcp_endpoint *ep, struct tcp_conn *c)
{
	struct iovec iov[IOV_MAX_SEND];
	struct msghdr msg = { .msg_iov = iov };
	uint64_t budget = IO_BUDGET;

	while (c->tx_head != NULL && budget != 0) {
		struct tcp_op *op = c->tx_head;
		uint32_t off = c->tx_off;
		size_t n = 0;
		ssize_t sent;

		for (; op != NULL && n + 2 <= IOV_MAX_SEND; op = op->next, off = 0) {
			if (off < TCP_FRAME_HDR_LEN)
				iov[n++] = (struct iovec){ op->hdr + off, TCP_FRAME_HDR_LEN - off };
			if (op->tx_len > RTE_MAX(off, (uint32_t)TCP_FRAME_HDR_LEN)) {
				uint32_t from = RTE_MAX(off, (uint32_t)TCP_FRAME_HDR_LEN) -
						TCP_FRAME_HDR_LEN;

				iov[n++] = (struct iovec){ op->data + from,
							   op->tx_len - TCP_FRAME_HDR_LEN - from };
			}
		}
		msg.msg_iovlen = n;
		sent = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->writable = 0;
				return 0;
			}
			if (errno == EINTR)
				continue;
			return -errno;
		}
		budget -= RTE_MIN(budget, (uint64_t)sent);
		c->io_tsc = ep->now;
		while (sent > 0) {
			op = c->tx_head;
			if ((uint64_t)sent < op->tx_len - c->tx_off) {
				c->tx_off += (uint32_t)sent;
				break;
			}
			sent -= op->tx_len - c->tx_off;
			c->tx_off = 0;
			c->tx_head = op->next;
			if (c->tx_head == NULL)
				c->tx_tail = NULL;
			if (c->role == ROLE_INITIATOR)
				op->state = OP_SENT;
			else
				top_free(ep, op);
		}
	}
	return 0;
}
/* ---- receiving: requests (target), replies (initiator) ---- */

/* The target's reply for @p op: encode it and queue it. */
static void
target_reply(struct tcp_conn *c, struct tcp_op *op, const struct tcp_frame_hdr *req, int32_t status)
{
	struct tcp_frame_hdr h = *req;

	h.op = req->op == TCP_OP_READ	  ? TCP_OP_READ_REPLY
	       : req->op == TCP_OP_NOTIFY ? TCP_OP_NOTIFY_REPLY
					  : TCP_OP_WRITE_REPLY;
	h.status = status;
	h.payload = h.op == TCP_OP_READ_REPLY && status == 0 ? req->length : 0;
	tcp_frame_encode(op->hdr, &h);
	op->tx_len = TCP_FRAME_HDR_LEN + h.payload;
	op->reply_bytes = h.payload;
	c->tx_bytes += h.payload;
	tx_enqueue(c, op);
}

/*
 * Check a request against the engine's segments and take a reference.
 * @return the segment, or NULL with *status = -ENOENT (unknown, stale, or
 *         not a LOCAL segment the node exported) or -ERANGE (outside it).
 */
static struct tern_segment *
target_acquire(struct tcp_endpoint *ep, const struct tcp_frame_hdr *h, int32_t *status)
{
	struct tern_segment *seg;

	seg = tern_segment_acquire(ep->segments, h->segment, 0, 0, 1);
	if (seg == NULL || !tern_segment_exported(seg)) {
		if (seg != NULL)
			tern_segment_release(seg, 1);
		*status = -ENOENT;
		return NULL;
	}
	if (h->offset > seg->length || h->length > seg->length - h->offset) {
		tern_segment_release(seg, 1);
		*status = -ERANGE;
		return NULL;
	}
	*status = 0;
	return seg;
}

/*
 * A decoded frame arrived on @p c. Returns 0 (handled, maybe entering
 * RX_PAYLOAD), 1 (target: no reply op free, try again later) or -EPROTO
 * (close the connection).
 */
static int
frame_arrived(struct tcp_endpoint *ep, struct tcp_conn *c, const struct tcp_frame_hdr *h,
	      const uint8_t *raw)
{
	struct tcp_op *op;
	int32_t status;

	if (unlikely(c->state != CONN_OPEN))
		return tcp_hs_frame(ep, c, h);
	if (c->role == ROLE_TARGET) {
		if (h->op != TCP_OP_READ && h->op != TCP_OP_WRITE && h->op != TCP_OP_NOTIFY) {
			tcp_ep_log(ep, LOGK_PROTO, RTE_LOG_WARNING,
				   "%s sent op %u to a target, closing", c->name, h->op);
			return -EPROTO;
		}
		/* Per connection: a bounded share of the replies and of the READ
		 * data queued (one request always), so that connections that ask
		 * and never read cannot starve the others. */
		op = ep->free_tops;
		if (op == NULL || c->nb_ops >= TARGET_OPS_PER_CONN ||
		    (c->nb_ops >= TARGET_OPS_SHARE && ep->nb_free_tops <= TARGET_OPS / 2) ||
		    (c->nb_ops != 0 && h->op == TCP_OP_READ &&
		     c->tx_bytes + h->length > TARGET_CONN_BYTES))
			return 1;
		ep->free_tops = op->next;
		ep->nb_free_tops--;
		op->conn = c;
		c->nb_ops++;
		if (h->op == TCP_OP_NOTIFY) {
			/* Its payload (sender, message) into the connection's buffer. */
			op->seg = NULL;
			op->status = 0;
			memcpy(op->hdr, raw, TCP_FRAME_HDR_LEN);
			c->rx_op = op;
			c->rx_dst = c->ntf;
			c->rx_left = h->payload;
			c->rx_state = RX_PAYLOAD;
			return 0;
		}
		op->seg = target_acquire(ep, h, &status);
		if (status != 0)
			STAT_INC(error_replies);
		if (h->op == TCP_OP_READ) {
			op->data = op->seg != NULL ? op->seg->base + h->offset : NULL;
			target_reply(c, op, h, status);
			return 0;
		}
		/* WRITE: receive the payload into the segment, or discard it. */
		op->status = status;
		memcpy(op->hdr, raw, TCP_FRAME_HDR_LEN);
		c->rx_op = op;
		c->rx_dst = op->seg != NULL ? op->seg->base + h->offset : NULL;
		c->rx_left = h->length;
		c->rx_state = RX_PAYLOAD;
		return 0;
	}

	/* Initiator: a reply to one of our requests, on the connection it went on. */
	if ((h->op != TCP_OP_READ_REPLY && h->op != TCP_OP_WRITE_REPLY &&
	     h->op != TCP_OP_NOTIFY_REPLY) ||
	    h->tag >= ep->nb_ops)
		goto bad;
	op = &ep->ops[h->tag];
	if (op->state != OP_SENT || op->conn != c ||
	    (op->op == TCP_OP_NOTIFY ? TCP_OP_NOTIFY_REPLY : op->op + 2) != h->op ||
	    op->length != h->length || memcmp(op->hdr + 12, raw + 12, 12) != 0)
		goto bad;
	if (h->payload == 0) {
		op_complete(ep, op, h->status);
		return 0;
	}
	c->rx_op = op;
	c->rx_dst = op->data;
	c->rx_left = h->payload;
	c->rx_state = RX_PAYLOAD;
	return 0;
bad:
	tcp_ep_log(ep, LOGK_PROTO, RTE_LOG_WARNING,
		   "%s sent an unexpected reply (op %u, tag %u), closing", c->name, h->op, h->tag);
	return -EPROTO;
}

/* The payload of the current frame is in: 0, or a negative errno (close). */
static int
payload_done(struct tcp_endpoint *ep, struct tcp_conn *c)
{
	struct tcp_op *op = c->rx_op;
	struct tcp_frame_hdr h;

	c->rx_op = NULL;
	c->rx_dst = NULL;
	c->rx_state = RX_HDR;
	if (unlikely(c->state != CONN_OPEN))
		return tcp_hs_payload(ep, c);
	if (c->role == ROLE_INITIATOR) {
		op_complete(ep, op, 0);
		return 0;
	}
	/* The request header was kept in op->hdr; it decoded before. */
	(void)tcp_frame_decode(op->hdr, &h);
	if (h.op == TCP_OP_NOTIFY) {
		int32_t status = -ENOTSUP;

		if (tcp_notify_sender_check(c->ntf) != 0) {
			status = -EINVAL;
			STAT_INC(error_replies);
			tcp_ep_log(ep, LOGK_PROTO, RTE_LOG_WARNING,
				   "%s sent a notification with a malformed sender name, refused",
				   c->name);
		} else if (tcp_cfg.notify != NULL) {
			status = tern_notify_deliver(tcp_cfg.notify, (const char *)c->ntf, h.offset,
						     c->ntf + TCP_NOTIFY_SENDER_LEN, h.length);
		}
		target_reply(c, op, &h, status);
		return 0;
	}
	if (op->seg != NULL) {
		tern_segment_release(op->seg, 1);
		op->seg = NULL;
	}
	target_reply(c, op, &h, op->status);
	return 0;
}

/* Receive and handle what the socket has. 0, or a negative errno (close). */
static int
conn_recv(struct tcp_endpoint *ep, struct tcp_conn *c)
{
	uint64_t budget = IO_BUDGET;
	struct tcp_frame_hdr h;
	struct iovec iov[2];
	ssize_t n;
	int ret;

	c->rx_stalled = 0;
	while (budget != 0) {
		uint32_t avail = c->rx_tail - c->rx_head;

		if (c->rx_state == RX_PAYLOAD) {
			uint32_t k = RTE_MIN(avail, c->rx_left);

			if (k != 0) {
				if (c->rx_dst != NULL) {
					memcpy(c->rx_dst, c->rxbuf + c->rx_head, k);
					c->rx_dst += k;
				}
				c->rx_head += k;
				c->rx_left -= k;
			}
			if (c->rx_left == 0) {
				ret = payload_done(ep, c);
				if (ret != 0)
					return ret;
				if (c->state == CONN_SYNC)
					return 0; /* nothing more until the connection opens */
				continue;
			}
			/* Buffer empty: the payload goes straight to its place,
			 * whatever follows into the buffer. */
			c->rx_head = c->rx_tail = 0;
			if (c->rx_dst != NULL) {
				iov[0] = (struct iovec){ c->rx_dst, c->rx_left };
				iov[1] = (struct iovec){ c->rxbuf, RXBUF_BYTES };
				n = readv(c->fd, iov, 2);
			} else {
				n = recv(c->fd, c->rxbuf,
					 RTE_MIN(c->rx_left, (uint32_t)RXBUF_BYTES), MSG_DONTWAIT);
			}
			if (n > 0) {
				c->io_tsc = ep->now;
				c->rx_tsc = ep->now;
				budget -= RTE_MIN(budget, (uint64_t)n);
				k = (uint32_t)RTE_MIN((uint64_t)n, (uint64_t)c->rx_left);
				if (c->rx_dst != NULL) {
					c->rx_dst += k;
					c->rx_tail = (uint32_t)n - k;
				}
				c->rx_left -= k;
				continue;
			}
		} else {
			if (avail >= TCP_FRAME_HDR_LEN) {
				const uint8_t *raw = c->rxbuf + c->rx_head;

				ret = tcp_frame_decode(raw, &h);
				if (ret != 0) {
					tcp_ep_log(ep, LOGK_PROTO, RTE_LOG_WARNING,
						   "%s: %s, closing", c->name,
						   tcp_frame_strerror(ret));
					return -EPROTO;
				}
				ret = frame_arrived(ep, c, &h, raw);
				if (ret < 0)
					return ret;
				if (ret > 0) {
					c->rx_stalled = 1;
					return 0;
				}
				c->rx_head += TCP_FRAME_HDR_LEN;
				continue;
			}
			if (c->rx_head != 0) {
				memmove(c->rxbuf, c->rxbuf + c->rx_head, avail);
				c->rx_head = 0;
				c->rx_tail = avail;
			}
			n = recv(c->fd, c->rxbuf + c->rx_tail, RXBUF_BYTES - c->rx_tail,
				 MSG_DONTWAIT);
			if (n > 0) {
				c->io_tsc = ep->now;
				c->rx_tsc = ep->now;
				budget -= RTE_MIN(budget, (uint64_t)n);
				c->rx_tail += (uint32_t)n;
				continue;
			}
		}
		if (n == 0)
			return c->rx_state == RX_HDR && c->rx_tail == c->rx_head &&
					       c->nb_ops == 0 && c->role == ROLE_TARGET
				       ? -ENOTCONN /* orderly close, nothing pending */
				       : -ECONNRESET;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->readable = 0;
			return 0;
		}
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}
/* ---- poll, and the ops ---- */

static uint16_t
tcp_poll(struct tern_endpoint *base, struct tern_completion *cpl, uint16_t max)
{
	struct tcp_endpoint *ep = tcp_ep(base);
	struct epoll_event ev[EVENTS_MAX];
	uint16_t n = 0;
	uint32_t i;
	int nev, k, ret;

	ep_enter(ep);
	/* No socket, no syscall: the engine polls every transport on every loop.
	 * With only the listener, look for new connections every 64th poll. */
	if (ep->nb_conns == 0 && (!ep->listening || (++ep->idle_polls & 63) != 0))
		nev = 0;
	else
		nev = epoll_wait(ep->epfd, ev, EVENTS_MAX, 0);
	for (k = 0; k < nev; k++) {
		struct tcp_conn *c = ev[k].data.ptr;

		if ((char *)ev[k].data.ptr >= tcp_listener_tag &&
		    (char *)ev[k].data.ptr < tcp_listener_tag + TCP_RAILS_MAX) {
			/* After the events: making room may close a connection
			 * that has an event further on. */
			ep->accept_ready |= 1u << ((char *)ev[k].data.ptr - tcp_listener_tag);
			continue;
		}
		if (ev[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			c->readable = 1;
		if (ev[k].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			c->hup = 1;
		if (ev[k].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			c->writable = 1;
	}
	if (ep->accept_ready != 0) {
		for (i = 0; i < TCP_RAILS_MAX; i++)
			if ((ep->accept_ready & (1u << i)) != 0)
				tcp_accept_all(ep, i == 0 ? tcp_cfg.listen_fd
							  : tcp_cfg.extra_fd[i - 1]);
		ep->accept_ready = 0;
	}
	ep->now = rte_rdtsc();
	if (unlikely(ep->now >= ep->next_probe_tsc) && ep->nb_peers != 0)
		tcp_rails_probe(ep);
	if (unlikely(ep->now >= ep->bound_tsc) && ep->nb_peers != 0)
		tcp_rails_measure(ep);
	for (i = 0; i < ep->nb_conns;) {
		struct tcp_conn *c = ep->conns[i];

		ret = 0;
		if (c->role == ROLE_TARGET && c->hup) {
			/* An initiator closes a connection only when it gave up on what
			 * is still on it: never apply data from a connection seen closed. */
			ret = c->nb_ops == 0 && c->rx_state == RX_HDR && c->rx_head == c->rx_tail
				      ? -ENOTCONN
				      : -ECONNRESET;
		} else if (c->role == ROLE_TARGET && !c->readable &&
			   ep->now - c->io_tsc > ep->idle_tsc) {
			/* Idle, or owed replies it does not read: its slots go. */
			tcp_ep_log(ep, LOGK_LIMIT, RTE_LOG_INFO,
				   "connection from %s: no traffic for %u ms (%u replies owed), "
				   "closing",
				   c->name, tcp_cfg.idle_timeout_ms, c->nb_ops);
			ret = -ETIMEDOUT;
		} else if (c->role == ROLE_INITIATOR && c->nb_ops != 0 && c->state == CONN_OPEN &&
			   !c->readable && ep->now - c->rx_tsc > ep->stall_tsc &&
			   ep->now > c->rx_tsc) {
			/* Work in flight and nothing heard for that long: the rail failed
			 * (a link down keeps a socket silent until TCP_USER_TIMEOUT).
			 * Not when bytes wait to be read: this lcore was off its CPU
			 * (a loaded host), the peer was not silent. */
			ret = -ETIMEDOUT;
		} else if (unlikely(c->probe) && c->state == CONN_OPEN && c->nb_ops == 0) {
			ret = -ENOTCONN; /* it brought its rail back: done */
		} else if (unlikely(c->state != CONN_OPEN)) {
			if (c->state == CONN_CONNECTING && (c->writable || c->readable))
				ret = tcp_conn_established(ep, c);
			else if (c->state == CONN_SYNC)
				ret = tcp_target_sync(ep, c);
			if (ret == 0 && c->state != CONN_OPEN && rte_rdtsc() > c->connect_deadline)
				ret = c->state == CONN_CONNECTING ? -EHOSTUNREACH : -ETIMEDOUT;
		}
		if (ret == 0 && c->state != CONN_CONNECTING && c->state != CONN_SYNC) {
			if (c->readable || c->rx_stalled)
				ret = conn_recv(ep, c);
			if (ret == 0 && c->state == CONN_OPEN && c->writable && c->tx_head != NULL)
				ret = conn_send(ep, c);
		}
		if (unlikely(ret != 0)) {
			tcp_conn_close(ep, i, ret == -ENOTCONN ? 0 : ret);
			continue; /* the last connection moved to i */
		}
		i++;
	}
	while (n < max && ep->cpl_head != ep->cpl_tail)
		cpl[n++] = ep->cpl[ep->cpl_head++ & ep->cpl_mask];
	ep_leave(ep);
	return n;
}

/* Shutdown: close every connection; initiator slices fail with -ECANCELED. */
static void
tcp_cancel(struct tern_endpoint *base)
{
	struct tcp_endpoint *ep = tcp_ep(base);
	ep->cancelled = true;
	while (ep->nb_conns != 0)
		tcp_conn_close(ep, ep->nb_conns - 1, -ECANCELED);
}
/* The rails of a descriptor, for /tern/peers (tern_tcp_rails()). */
static int
tcp_rails_op(const void *desc, size_t desc_len, struct tern_transport_rail *out, unsigned int max)
{
	struct tern_tcp_rail_info info[TERN_TCP_RAILS_MAX];
	int n = tern_tcp_rails(desc, desc_len, info, RTE_DIM(info));
	int i;

	for (i = 0; i < n && i < (int)max; i++) {
		memcpy(out[i].name, info[i].addr, sizeof(out[i].name));
		out[i].state = info[i].state;
		out[i].backoff_ms = info[i].backoff_ms;
		out[i].bytes = info[i].bytes;
		out[i].slices = info[i].slices;
		out[i].errors = info[i].errors;
		out[i].reposted = info[i].reposted;
		out[i].failures = info[i].failures;
		out[i].last_error = info[i].last_error;
		out[i].last_failure_ms = info[i].last_failure_ms;
	}
	return n;
}

static const struct tern_transport_ops tcp_ops = {
	.name = "tcp",
	.rank = 30,
	.params = TCP_PARAMS,
	.configure = tcp_configure,
	.stop = tcp_stop,
	.describe = tcp_describe,
	.probe = tcp_probe,
	.segment_export = tcp_segment_export,
	.segment_import = tcp_segment_import,
	.endpoint_open = tcp_endpoint_open,
	.post_burst = tcp_post_burst,
	.poll = tcp_poll,
	.cancel = tcp_cancel,
	.expire = tcp_expire,
	.endpoint_close = tcp_endpoint_close,
	.rails = tcp_rails_op,
	.notify_post = tcp_notify_post,
};

TERN_TRANSPORT_REGISTER(tcp_ops)
