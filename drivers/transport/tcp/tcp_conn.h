/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TCP_CONN_H
#define TERN_TCP_CONN_H

/**
 * @file
 * The tcp transport's endpoints and connections (tcp_conn.c), for the data
 * path (tcp_transport.c): the structures both work on, the few inline
 * helpers both need on the fast path, and what tcp_conn.c does for the data
 * path (connect, close, handshake frames, accept, catching up with other
 * endpoints). tcp_conn.c never calls tcp_transport.c (doc/protocol.md,
 * "Files").
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_spinlock.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "tcp_bound.h"
#include "tcp_conf.h"
#include "tcp_frame.h"

#define PEER_MAX	    64	  /* peers per endpoint */
#define TARGET_CONNS_MAX    256	  /* accepted connections per endpoint */
#define INIT_OPS_MAX	    16384 /* initiator operations per endpoint */
#define TARGET_OPS	    2048  /* replies owed per endpoint */
#define TARGET_OPS_PER_CONN 128	  /* replies owed per connection, at most */
/* ... and while fewer than half the replies are free: every connection can
 * always have this many (TARGET_OPS / 2 over TARGET_CONNS_MAX connections). */
#define TARGET_OPS_SHARE  (TARGET_OPS / 2 / TARGET_CONNS_MAX)
#define TARGET_CONN_BYTES (64u << 20) /* READ reply bytes queued per connection */
#define PREAUTH_MAX	  32	      /* accepted connections still in the handshake */
#define RXBUF_BYTES	  8192	      /* headers and small frames are read through this */
#define IOV_MAX_SEND	  64	      /* iovecs per sendmsg() */
#define IO_BUDGET	  (8u << 20)  /* bytes per connection and direction per poll */
#define EVENTS_MAX	  64
#define ACCEPT_BURST	  16
#define EP_MAX		  128  /* endpoints of the process */
#define EXPIRED_RING	  256  /* expired batches every endpoint looks at */
#define PEER_EPOCHS	  256  /* peers of the process (initiator epochs) */
#define INSTANCES	  256  /* initiators a target orders (their epochs) */
#define QUIESCE_WAIT_MS	  1000 /* expire(): longest wait for another endpoint */
#define DEAD_MAX	  64   /* expired batches an endpoint refuses slices of */
#define DEAD_KEEP_MS	  1000 /* ... for this long after it learnt of them */
#define REPOST_MAX	  8    /* re-posts of a slice after rail failures (not stale moves) */
#define BACKOFF_MIN_MS	  100  /* first pause of a failed rail ... */
#define BACKOFF_MAX_MS	  2000 /* ... doubling up to this */
#define PROBE_EVERY_MS	  10   /* an endpoint looks for paused rails to probe */

enum conn_role { ROLE_INITIATOR = 1, ROLE_TARGET = 2 };

/* A batch past its deadline. */
struct expired {
	uint64_t cookie;
	uint64_t batch;
	uint64_t until_tsc; /* endpoint's dead list: forget it then */
};
/*
 * Initiator: CONNECTING -> HELLO (HELLO sent) -> AUTH (AUTH sent) -> OPEN.
 * Target: HELLO (waits for HELLO) -> AUTH (CHALLENGE sent) -> SYNC (other
 * endpoints drop the initiator's older connections) -> OPEN (READY sent).
 */
enum conn_state {
	CONN_CONNECTING = 1,
	CONN_OPEN = 2,
	CONN_HELLO = 3,
	CONN_AUTH = 4,
	CONN_SYNC = 5
};
enum op_state { OP_FREE = 0, OP_QUEUED = 1, OP_SENT = 2 };
enum rx_state { RX_HDR = 0, RX_PAYLOAD = 1 };

struct tcp_conn;

/* One frame to send and, for the initiator, the slice waiting for its reply. */
struct tcp_op {
	struct tcp_op *next; /* send queue or free list */
	struct tcp_conn *conn;
	uint64_t cookie;	  /* initiator: the slice's cookie */
	uint8_t *data;		  /* payload sent after the header, or READ destination */
	struct tern_segment *seg; /* target: reference held until the reply is sent */
	uint32_t length;	  /* bytes of the request */
	uint32_t tx_len;	  /* header + payload bytes to send */
	int32_t status;		  /* target: status of a WRITE whose payload is discarded */
	uint8_t state;		  /* enum op_state */
	uint8_t op;		  /* enum tcp_frame_op of the request */
	uint8_t expired;	  /* initiator: its batch expired; fails with -ETIMEDOUT */
	uint8_t reposts;	  /* initiator: times posted again on another rail */
	uint32_t reply_bytes;	  /* target: READ data queued behind this reply */
	uint64_t batch;		  /* initiator: the slice's batch (with the cookie) */
	uint8_t hdr[TCP_FRAME_HDR_LEN];
};

/*
 * A rail as the whole process sees it (tcp_shared.rails), keyed by the
 * remote address: its epoch, its state (every endpoint stops using a rail
 * one of them saw fail) and its counters. State changes under
 * tcp_shared.lock; readers load atomically.
 */
struct tcp_rail_shared {
	uint8_t key[19]; /* descriptor bytes 5..23 (or a further address, same layout) */
	uint8_t used;
	uint32_t epoch;	     /* atomic: of a peer's first rail, the peer's (tcp_peer.epoch) */
	uint32_t state;	     /* atomic: enum tern_tcp_rail_state */
	uint32_t backoff_ms; /* the pause after the next failure */
	uint64_t resume_tsc; /* PAUSED: probe from then; PROBING: the probe is late then */
	int32_t last_err;
	uint64_t fail_tsc;
	/* atomic counters */
	uint64_t bytes;
	uint64_t slices;
	uint64_t errors;
	uint64_t reposted;
	uint64_t failures;
};

struct tcp_peer;

/* One rail of an endpoint's peer: a remote address and its connections. */
struct tcp_rail {
	uint8_t key[19];
	struct sockaddr_storage sa;
	socklen_t sa_len;
	uint32_t next_conn;
	uint32_t inflight;	 /* slices on its connections */
	uint64_t inflight_bytes; /* and their bytes: the weight of the rail */
	bool failing;		 /* it lost work; quiet until it connects again */
	struct tcp_bound bound;	 /* bytes in flight it takes, from its rate and RTT */
	struct tcp_rail_shared *sh;
	struct tcp_peer *peer;
	struct tcp_conn *conns[TERN_TCP_CONNS_MAX];
};

/* A peer, named by its descriptor's first address; one rail per address. */
struct tcp_peer {
	uint8_t key[19]; /* descriptor bytes 5..23: family, port, address */
	uint32_t nb_rails;
	/* atomic, its first rail's shared epoch: every connection to the peer,
	 * on any rail, of an older one is closed (doc/protocol.md, "Epochs") */
	uint32_t *epoch;
	struct tcp_rail rails[TCP_RAILS_MAX];
};

struct tcp_conn {
	int fd;
	uint8_t role;  /* enum conn_role */
	uint8_t state; /* enum conn_state */
	uint8_t readable;
	uint8_t writable;
	uint8_t hup;		   /* the peer closed or reset it (target: nothing more is read) */
	uint8_t rx_stalled;	   /* target: a decoded request waits for a reply op */
	uint8_t rx_state;	   /* enum rx_state */
	uint8_t doomed;		   /* initiator: carries an expired batch; closed at catch-up */
	uint8_t probe;		   /* initiator: opened to probe a paused rail; closed once open */
	uint16_t peer_conn;	   /* initiator: index in rail->conns */
	struct tcp_rail *rail;	   /* initiator */
	uint64_t rx_tsc;	   /* initiator: last byte received, or the first op queued */
	uint64_t connect_deadline; /* TSC: open (handshake done) by then, or closed */
	uint64_t accept_tsc;	   /* target: when accepted (eviction order) */
	uint64_t io_tsc;	   /* target: last byte received or sent */
	uint64_t tx_bytes;	   /* target: READ reply bytes queued, not yet sent */
	uint32_t nb_ops;	   /* ops that name this connection */
	/* handshake */
	uint64_t instance;  /* the initiator's */
	uint32_t epoch;	    /* the initiator's epoch of this connection */
	uint16_t inst_slot; /* target: slot in tcp_shared.inst */
	uint8_t local[19];  /* target: our address as the initiator reached it */
	uint32_t hs_flags;  /* initiator: the CHALLENGE's flags */
	uint32_t inst_gen;  /* target: that slot's generation when the connection opened */
	uint8_t hs_in[TCP_HS_LEN];
	uint8_t nonce_i[TCP_HS_LEN];
	uint8_t nonce_t[TCP_HS_LEN];
	uint64_t sync_gen;	   /* target, SYNC: tcp_shared.gen this endpoint must have seen */
	uint64_t sync_seq[EP_MAX]; /* target, SYNC: other endpoints' odd qseq to see move */
	/* send queue */
	struct tcp_op *tx_head;
	struct tcp_op *tx_tail;
	uint32_t tx_off; /* bytes of tx_head already sent */
	/* receive */
	uint8_t *rx_dst; /* payload destination; NULL discards */
	uint32_t rx_left;
	struct tcp_op *rx_op;
	uint32_t rx_head;
	uint32_t rx_tail;
	char name[64];						 /* peer address, for log lines */
	uint8_t ntf[TCP_NOTIFY_SENDER_LEN + TCP_NOTIFY_MSG_MAX]; /* target: a NOTIFY's payload */
	uint8_t rxbuf[RXBUF_BYTES];
};

/*
 * Rate-limited logging: at most LOG_BURST lines of a kind per LOG_WINDOW_S
 * seconds per endpoint; the next line allowed says how many were dropped.
 */
#define LOG_BURST    10
#define LOG_WINDOW_S 10
enum log_kind { LOGK_CONN = 0, LOGK_PROTO = 1, LOGK_ACCESS = 2, LOGK_LIMIT = 3, LOGK_MAX = 4 };
struct log_limit {
	uint64_t window_end;
	uint32_t lines;
	uint32_t dropped;
};

struct tcp_endpoint {
	struct tern_endpoint base; /* first: tcp_ep() */
	int epfd;
	uint32_t slot;		       /* in tcp_shared.qseq / tcp_shared.eps */
	uint64_t seen_gen;	       /* tcp_shared.gen this endpoint caught up with */
	uint64_t seen_ring;	       /* tcp_shared.ring_gen this endpoint caught up with */
	struct expired dead[DEAD_MAX]; /* recent ones: their slices fail if posted */
	uint32_t dead_head;	       /* next entry written */
	uint32_t nb_dead;
	uint32_t nb_busy_ops; /* initiator ops not free (read by other endpoints) */
	bool listening;	      /* the listener is in this endpoint's epoll set */
	uint32_t idle_polls;  /* polls since the last epoll_wait() without connections */
	unsigned int lcore_id;
	int socket_id;
	bool cancelled;
	struct tern_segment_table *segments;
	uint32_t conns_per_peer;
	uint32_t rail_inflight;
	uint64_t rail_bytes_min; /* the floor and ceiling of a rail's tcp_bound */
	uint64_t rail_bytes_max;
	uint64_t bound_tsc;	/* next window of the rails' tcp_bound */
	uint32_t bound_windows; /* windows closed (the RTT is read every TCP_BOUND_RTT_EVERY) */
	uint64_t stall_tsc;
	uint64_t next_probe_tsc;
	uint64_t connect_timeout_tsc;
	struct log_limit logs[LOGK_MAX];
	uint32_t nb_peers;
	struct tcp_peer *last_peer;
	uint32_t nb_conns;
	uint32_t nb_connecting;
	uint32_t nb_accepted;  /* target connections */
	uint32_t nb_preauth;   /* target connections still in the handshake */
	uint64_t idle_tsc;     /* target connections without I/O that long are closed */
	uint64_t now;	       /* TSC at the start of this poll() */
	uint32_t accept_ready; /* bit i: listener i has connections waiting */
	struct tcp_conn *conns[PEER_MAX * TERN_TCP_CONNS_MAX * TCP_RAILS_MAX + TARGET_CONNS_MAX];
	/* initiator operations; tag = index */
	struct tcp_op *ops;
	uint32_t nb_ops;
	struct tcp_op *free_ops;
	/* target replies */
	struct tcp_op *tops;
	struct tcp_op *free_tops;
	uint32_t nb_free_tops;
	/* completions waiting for poll(); room for every initiator op */
	struct tern_completion *cpl;
	uint32_t cpl_head;
	uint32_t cpl_tail;
	uint32_t cpl_mask;
	struct tcp_peer peers[PEER_MAX];
};

/*
 * What endpoints share to keep the promise of doc/api.md ("a resolved future
 * is never touched again") and the WRITE order across connections. Written
 * under @lock on rare events (a deadline passed, a connection opened with a
 * new epoch); each endpoint compares @gen with what it saw when it enters
 * post_burst() or poll() (one load) and catches up when it changed.
 *
 * @qseq[i] is endpoint i's count of entries into and exits from post_burst()
 * and poll(): odd while inside. Whoever changes shared state and must know
 * that no endpoint still acts on the old state waits until every odd count
 * it saw has moved (see quiesce_wait()).
 */
struct tcp_shared {
	rte_spinlock_t lock;
	uint64_t gen;			   /* atomic */
	struct tcp_endpoint *eps[EP_MAX];  /* NULL: free slot */
	uint64_t ring_gen;		   /* expired batches published */
	struct expired ring[EXPIRED_RING]; /* batch number g at g % EXPIRED_RING */
	uint64_t instance;		   /* this process as an initiator, != 0 */
	struct tcp_rail_shared rails[PEER_EPOCHS];
	struct {
		uint64_t instance; /* 0: free */
		uint8_t local[19]; /* the address it reached us at: its peer key for us */
		uint32_t epoch;	   /* newest epoch seen from it */
		uint32_t gen;	   /* atomic: changes when @epoch rises or the slot is reused */
		uint64_t used_tsc;
	} inst[INSTANCES];
	struct {
		uint64_t seq;
	} __rte_cache_aligned qseq[EP_MAX];
};
extern struct tcp_shared tcp_shared;
/* epoll data of the listening sockets, one per address (connections carry
 * their own pointer). */
extern char tcp_listener_tag[TCP_RAILS_MAX];

void __rte_format_printf(4, 5) tcp_ep_log(struct tcp_endpoint *ep, enum log_kind kind,
					  uint32_t level, const char *fmt, ...);
void tcp_ep_catch_up(struct tcp_endpoint *ep);
struct tcp_rail_shared *tcp_rail_shared_get(const uint8_t *key);
void tcp_conn_close(struct tcp_endpoint *ep, uint32_t idx, int err);
struct tcp_conn *tcp_conn_connect(struct tcp_endpoint *ep, struct tcp_rail *rail, uint32_t k,
				  int *err);
#define RAIL_BOUNDED  1u /* tcp_rail_pick(): mind the bounds of slices and bytes per rail */
#define RAIL_FALLBACK 2u /* ... and with no rail in service, try a paused one */
struct tcp_rail *tcp_rail_pick(struct tcp_endpoint *ep, struct tcp_peer *peer,
			       const struct tcp_rail *skip, uint32_t flags, int *err);
struct tcp_conn *tcp_rail_conn(struct tcp_endpoint *ep, struct tcp_rail *rail, int *err);
void tcp_rails_probe(struct tcp_endpoint *ep);
void tcp_rails_measure(struct tcp_endpoint *ep);
int tcp_conn_established(struct tcp_endpoint *ep, struct tcp_conn *c);
void tcp_accept_all(struct tcp_endpoint *ep, int lfd);
int tcp_hs_frame(struct tcp_endpoint *ep, struct tcp_conn *c, const struct tcp_frame_hdr *h);
int tcp_hs_payload(struct tcp_endpoint *ep, struct tcp_conn *c);
int tcp_target_sync(struct tcp_endpoint *ep, struct tcp_conn *c);

/* The transport's ops on this side (struct tern_transport_ops). */
/* The engine's handle of a tcp endpoint back to the endpoint. */
static inline struct tcp_endpoint *
tcp_ep(struct tern_endpoint *base)
{
	return container_of(base, struct tcp_endpoint, base);
}

struct tern_endpoint *tcp_endpoint_open(const struct tern_endpoint_conf *conf);
void tcp_endpoint_close(struct tern_endpoint *base);
void tcp_expire(struct tern_endpoint *base, uint64_t cookie, uint64_t batch);
int tcp_notify_post(struct tern_endpoint *base, const struct tern_notify_post *n);

/* ---- inline: entering and leaving the data path ---- */

/* Into post_burst() or poll(): count the entry, catch up if something changed. */
static inline void
ep_enter(struct tcp_endpoint *ep)
{
	__atomic_store_n(&tcp_shared.qseq[ep->slot].seq, tcp_shared.qseq[ep->slot].seq + 1,
			 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (unlikely(__atomic_load_n(&tcp_shared.gen, __ATOMIC_RELAXED) != ep->seen_gen))
		tcp_ep_catch_up(ep);
}

static inline void
ep_leave(struct tcp_endpoint *ep)
{
	__atomic_store_n(&tcp_shared.qseq[ep->slot].seq, tcp_shared.qseq[ep->slot].seq + 1,
			 __ATOMIC_RELEASE);
}

/* ---- inline: operations and completions ---- */

static inline void
tx_enqueue(struct tcp_conn *c, struct tcp_op *op)
{
	op->next = NULL;
	op->state = OP_QUEUED;
	if (c->tx_tail == NULL)
		c->tx_head = op;
	else
		c->tx_tail->next = op;
	c->tx_tail = op;
}

/* Initiator: @p op goes on @p c (queued behind what is there). */
static inline void
op_attach(struct tcp_endpoint *ep, struct tcp_conn *c, struct tcp_op *op)
{
	op->conn = c;
	RTE_SET_USED(ep);
	if (c->nb_ops++ == 0)
		c->rx_tsc = rte_rdtsc(); /* a stall is counted from here */
	c->rail->inflight++;
	c->rail->inflight_bytes += op->length;
	tx_enqueue(c, op);
}

/* Initiator: @p op leaves its connection; its rail counts the outcome
 * (@p status 0: done, negative: an error, positive: nothing). */
static inline void
op_detach(struct tcp_op *op, int32_t status)
{
	struct tcp_conn *c = op->conn;
	struct tcp_rail *r;

	if (c == NULL)
		return;
	c->nb_ops--;
	op->conn = NULL;
	r = c->rail;
	if (r == NULL)
		return;
	r->inflight--;
	r->inflight_bytes -= op->length;
	if (status == 0) {
		tcp_bound_delivered(&r->bound, op->length);
		__atomic_fetch_add(&r->sh->bytes, op->length, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->sh->slices, 1, __ATOMIC_RELAXED);
	} else if (status < 0) {
		__atomic_fetch_add(&r->sh->errors, 1, __ATOMIC_RELAXED);
	}
}

static inline void
cpl_push(struct tcp_endpoint *ep, uint64_t cookie, int32_t status, uint32_t length)
{
	struct tern_completion *c = &ep->cpl[ep->cpl_tail++ & ep->cpl_mask];

	c->cookie = cookie;
	c->status = status;
	c->length = length;
}

/* An initiator operation is done: its slice completes. */
static inline void
op_complete(struct tcp_endpoint *ep, struct tcp_op *op, int32_t status)
{
	cpl_push(ep, op->cookie, status, status == 0 ? op->length : 0);
	op_detach(op, status);
	op->expired = 0;
	op->reposts = 0;
	ep->nb_busy_ops--;
	op->state = OP_FREE;
	op->next = ep->free_ops;
	ep->free_ops = op;
}

/* A target reply was sent (or will never be): drop its reference and op. */
static inline void
top_free(struct tcp_endpoint *ep, struct tcp_op *op)
{
	if (op->seg != NULL)
		tern_segment_release(op->seg, 1);
	op->seg = NULL;
	if (op->conn != NULL) {
		op->conn->nb_ops--;
		op->conn->tx_bytes -= op->reply_bytes;
	}
	op->reply_bytes = 0;
	op->conn = NULL;
	op->state = OP_FREE;
	op->next = ep->free_tops;
	ep->free_tops = op;
	ep->nb_free_tops++;
}

#endif /* TERN_TCP_CONN_H */
