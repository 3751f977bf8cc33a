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
 * reset in every endpoint (expire(), ep_catch_up()); a target closes a
 * connection of an older epoch before it opens one of a newer epoch of the
 * same initiator (target_register()). doc/protocol.md, "Handshake".
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
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
#include "tcp_frame.h"
#include "tern_tcp.h"

RTE_LOG_REGISTER(tern_tcp_logtype, tern.tcp, INFO);
#define TCP_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, tern_tcp_logtype, "tern.tcp: " fmt "\n", ##__VA_ARGS__)

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
	uint32_t reply_bytes;	  /* target: READ data queued behind this reply */
	uint64_t batch;		  /* initiator: the slice's batch (with the cookie) */
	uint8_t hdr[TCP_FRAME_HDR_LEN];
};

struct tcp_peer {
	uint8_t key[19]; /* descriptor bytes 5..23: family, port, address */
	struct sockaddr_storage sa;
	socklen_t sa_len;
	uint32_t next_conn;
	uint32_t *epoch; /* process-wide epoch of the peer (atomic), see shared */
	bool failing;	 /* a connection to it lost work; quiet until one connects again */
	struct tcp_conn *conns[TERN_TCP_CONNS_MAX];
};

struct tcp_conn {
	int fd;
	uint8_t role;  /* enum conn_role */
	uint8_t state; /* enum conn_state */
	uint8_t readable;
	uint8_t writable;
	uint8_t hup;	    /* the peer closed or reset it (target: nothing more is read) */
	uint8_t rx_stalled; /* target: a decoded request waits for a reply op */
	uint8_t rx_state;   /* enum rx_state */
	uint8_t doomed;	    /* initiator: carries an expired batch; closed at catch-up */
	uint16_t peer_conn; /* initiator: index in peer->conns */
	struct tcp_peer *peer;
	uint64_t connect_deadline; /* TSC: open (handshake done) by then, or closed */
	uint64_t accept_tsc;	   /* target: when accepted (eviction order) */
	uint64_t io_tsc;	   /* target: last byte received or sent */
	uint64_t tx_bytes;	   /* target: READ reply bytes queued, not yet sent */
	uint32_t nb_ops;	   /* ops that name this connection */
	/* handshake */
	uint64_t instance;  /* the initiator's */
	uint32_t epoch;	    /* the initiator's epoch of this connection */
	uint16_t inst_slot; /* target: slot in shared.inst */
	uint8_t local[19];  /* target: our address as the initiator reached it */
	uint32_t hs_flags;  /* initiator: the CHALLENGE's flags */
	uint32_t inst_gen;  /* target: that slot's generation when the connection opened */
	uint8_t hs_in[TCP_HS_LEN];
	uint8_t nonce_i[TCP_HS_LEN];
	uint8_t nonce_t[TCP_HS_LEN];
	uint64_t sync_gen;	   /* target, SYNC: shared.gen this endpoint must have seen */
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
	char name[64]; /* peer address, for log lines */
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

struct tern_endpoint {
	int epfd;
	uint32_t slot;		       /* in shared.qseq / shared.eps */
	uint64_t seen_gen;	       /* shared.gen this endpoint caught up with */
	uint64_t seen_ring;	       /* shared.ring_gen this endpoint caught up with */
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
	uint64_t connect_timeout_tsc;
	struct log_limit logs[LOGK_MAX];
	uint32_t nb_peers;
	struct tcp_peer *last_peer;
	uint32_t nb_conns;
	uint32_t nb_connecting;
	uint32_t nb_accepted; /* target connections */
	uint32_t nb_preauth;  /* target connections still in the handshake */
	uint64_t idle_tsc;    /* target connections without I/O that long are closed */
	uint64_t now;	      /* TSC at the start of this poll() */
	bool accept_ready;    /* the listener has connections waiting */
	struct tcp_conn *conns[PEER_MAX * TERN_TCP_CONNS_MAX + TARGET_CONNS_MAX];
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

/* Control-path state, set by tern_tcp_configure() before endpoints open. */
static struct {
	int listen_fd;
	uint16_t listen_port;
	uint8_t family; /* of the advertised address, 0 when none */
	uint8_t adv_addr[16];
	uint32_t sndbuf;
	uint32_t rcvbuf;
	uint32_t conns_per_peer;
	uint32_t connect_timeout_ms;
	uint32_t user_timeout_ms;
	uint32_t idle_timeout_ms;
	bool auth;			    /* a secret is configured */
	uint8_t auth_key[TCP_AUTH_KEY_LEN]; /* derived from it */
} cfg = {
	.listen_fd = -1,
	.conns_per_peer = 2,
	.connect_timeout_ms = 3000,
	.user_timeout_ms = 10000,
	.idle_timeout_ms = 60000,
};
static int open_endpoints;
/* The segment table the listener serves: the first engine's that opened
 * endpoints (handles mean nothing in another engine's table). */
static struct tern_segment_table *served_table;
static struct tern_tcp_stats stats;
/* epoll data of the listening socket (connections carry their own pointer). */
static char listener_tag;

#define STAT_INC(field) __atomic_fetch_add(&stats.field, 1, __ATOMIC_RELAXED)

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
static struct {
	rte_spinlock_t lock;
	uint64_t gen;			   /* atomic */
	struct tern_endpoint *eps[EP_MAX]; /* NULL: free slot */
	uint64_t ring_gen;		   /* expired batches published */
	struct expired ring[EXPIRED_RING]; /* batch number g at g % EXPIRED_RING */
	uint64_t instance;		   /* this process as an initiator, != 0 */
	struct {
		uint8_t key[19]; /* descriptor bytes 5..23, as tcp_peer.key */
		uint8_t used;
		uint32_t epoch; /* atomic: connections of older epochs are closed */
	} peers[PEER_EPOCHS];
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
} shared = { .lock = RTE_SPINLOCK_INITIALIZER };

/* ---- control path ---- */

static int
parse_addr(const char *s, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = 6;
		return 0;
	}
	return -EINVAL;
}

static void
addr_to_sockaddr(uint8_t family, const uint8_t addr[16], uint16_t port, struct sockaddr_storage *ss,
		 socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		*len = sizeof(*sin6);
	}
}

static bool
addr_is_wildcard(uint8_t family, const uint8_t addr[16])
{
	static const uint8_t zero[16];

	return memcmp(addr, zero, family == 4 ? 4 : 16) == 0;
}

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
socket_tune(int fd)
{
	int one = 1, v;

	/* Failures only cost performance: the connection still works. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cfg.sndbuf != 0) {
		v = (int)cfg.sndbuf;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	}
	if (cfg.rcvbuf != 0) {
		v = (int)cfg.rcvbuf;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
	v = (int)cfg.user_timeout_ms;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
}

static int
listener_open(uint8_t family, const uint8_t addr[16], uint16_t port, uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, ret;

	addr_to_sockaddr(family, addr, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (cfg.rcvbuf != 0) /* inherited by accepted sockets, before the handshake */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cfg.rcvbuf, sizeof(cfg.rcvbuf));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					       : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

#define SECRET_MIN 16
#define SECRET_MAX 4096

/* Read the secret in @p path and derive the MAC key from it. */
static int
auth_load(const char *path, uint8_t key[TCP_AUTH_KEY_LEN])
{
	uint8_t buf[SECRET_MAX + 2];
	size_t n;
	FILE *f;
	int ret = 0;

	f = fopen(path, "rb");
	if (f == NULL)
		return -errno;
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f))
		ret = -EIO;
	fclose(f);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (ret == 0 && (n < SECRET_MIN || n > SECRET_MAX))
		ret = -EINVAL;
	if (ret == 0)
		tcp_auth_key(buf, n, key);
	memset(buf, 0, sizeof(buf));
	return ret;
}

int
tern_tcp_configure(const struct tern_tcp_conf *conf)
{
	uint8_t key[TCP_AUTH_KEY_LEN] = { 0 };
	bool auth = false;
	uint8_t lfam = 0, afam = 0, laddr[16], aaddr[16];
	uint16_t port = 0;
	int fd = -1;

	if (__atomic_load_n(&open_endpoints, __ATOMIC_ACQUIRE) != 0)
		return -EBUSY;
	if (conf != NULL) {
		if (conf->conns_per_peer > TERN_TCP_CONNS_MAX || conf->sndbuf_bytes > INT32_MAX ||
		    conf->rcvbuf_bytes > INT32_MAX || conf->user_timeout_ms > INT32_MAX)
			return -EINVAL;
		if (conf->listen_addr != NULL && parse_addr(conf->listen_addr, &lfam, laddr) != 0)
			return -EINVAL;
		if (conf->advertise_addr != NULL &&
		    (parse_addr(conf->advertise_addr, &afam, aaddr) != 0 ||
		     addr_is_wildcard(afam, aaddr)))
			return -EINVAL;
		if (conf->auth_file != NULL) {
			int ret = auth_load(conf->auth_file, key);

			if (ret != 0) {
				TCP_LOG(ERR, "auth_file %s: %s", conf->auth_file,
					ret == -EINVAL ? "the secret must have 16 to 4096 bytes"
						       : strerror(-ret));
				return ret;
			}
			auth = true;
		}
	}
	cfg.auth = auth;
	memcpy(cfg.auth_key, key, sizeof(key));
	memset(key, 0, sizeof(key));
	if (cfg.listen_fd >= 0) {
		close(cfg.listen_fd);
		cfg.listen_fd = -1;
	}
	cfg.family = 0;
	cfg.listen_port = 0;
	cfg.sndbuf = conf != NULL ? conf->sndbuf_bytes : 0;
	cfg.rcvbuf = conf != NULL ? conf->rcvbuf_bytes : 0;
	cfg.conns_per_peer = conf != NULL && conf->conns_per_peer != 0 ? conf->conns_per_peer : 2;
	cfg.connect_timeout_ms =
		conf != NULL && conf->connect_timeout_ms != 0 ? conf->connect_timeout_ms : 3000;
	cfg.user_timeout_ms =
		conf != NULL && conf->user_timeout_ms != 0 ? conf->user_timeout_ms : 10000;
	cfg.idle_timeout_ms =
		conf != NULL && conf->idle_timeout_ms != 0 ? conf->idle_timeout_ms : 60000;
	if (conf == NULL || conf->listen_addr == NULL)
		return 0;

	fd = listener_open(lfam, laddr, conf->listen_port, &port);
	if (fd < 0) {
		TCP_LOG(ERR, "cannot listen on %s port %u: %s", conf->listen_addr,
			conf->listen_port, strerror(-fd));
		return fd;
	}
	cfg.listen_fd = fd;
	cfg.listen_port = port;
	if (afam != 0) {
		cfg.family = afam;
		memcpy(cfg.adv_addr, aaddr, 16);
	} else if (!addr_is_wildcard(lfam, laddr)) {
		cfg.family = lfam;
		memcpy(cfg.adv_addr, laddr, 16);
	}
	TCP_LOG(INFO, "listening on %s port %u", conf->listen_addr, port);
	return 0;
}

int
tern_tcp_listen_port(void)
{
	return cfg.listen_fd >= 0 ? cfg.listen_port : -ENOTCONN;
}

int
tern_tcp_remote_conf(const char *addr, uint16_t port, uint32_t handle, uint64_t length, void *priv,
		     size_t priv_len)
{
	struct tcp_desc d;

	if (addr == NULL || priv == NULL || port == 0 || handle == TERN_SEGMENT_INVALID ||
	    length == 0 || parse_addr(addr, &d.family, d.addr) != 0)
		return -EINVAL;
	if (priv_len < TCP_DESC_LEN)
		return -ENOSPC;
	d.port = port;
	d.segment = handle;
	d.length = length;
	tcp_desc_encode(priv, &d);
	return TCP_DESC_LEN;
}

void
tern_tcp_stats(struct tern_tcp_stats *out)
{
	out->connected = __atomic_load_n(&stats.connected, __ATOMIC_RELAXED);
	out->accepted = __atomic_load_n(&stats.accepted, __ATOMIC_RELAXED);
	out->closed = __atomic_load_n(&stats.closed, __ATOMIC_RELAXED);
	out->protocol_errors = __atomic_load_n(&stats.protocol_errors, __ATOMIC_RELAXED);
	out->error_replies = __atomic_load_n(&stats.error_replies, __ATOMIC_RELAXED);
	out->failed_slices = __atomic_load_n(&stats.failed_slices, __ATOMIC_RELAXED);
	out->refused = __atomic_load_n(&stats.refused, __ATOMIC_RELAXED);
	out->expired_resets = __atomic_load_n(&stats.expired_resets, __ATOMIC_RELAXED);
}

static int
tcp_probe(void)
{
	return 0;
}

static int
tcp_segment_export(const struct tern_segment *seg, void *desc, size_t desc_len)
{
	struct tcp_desc d;

	if (seg == NULL || desc == NULL || seg->kind != TERN_SEGMENT_LOCAL)
		return -EINVAL;
	if (desc_len < TCP_DESC_LEN)
		return -ENOSPC;
	if (!tern_segment_exported(seg))
		return -EPERM; /* the target side would refuse it anyway */
	if (cfg.listen_fd < 0)
		return -ENOTCONN;
	if (cfg.family == 0)
		return -EDESTADDRREQ; /* listening on a wildcard, nothing to advertise */
	d.family = cfg.family;
	memcpy(d.addr, cfg.adv_addr, 16);
	d.port = cfg.listen_port;
	d.segment = seg->handle;
	d.length = seg->length;
	tcp_desc_encode(desc, &d);
	return TCP_DESC_LEN;
}

static int
tcp_segment_import(struct tern_segment *seg, const void *desc, size_t desc_len)
{
	struct tcp_desc d;

	RTE_BUILD_BUG_ON(TCP_DESC_LEN > TERN_SEGMENT_PRIV_SIZE);
	RTE_BUILD_BUG_ON(TCP_DESC_LEN != TERN_TCP_DESC_LEN);
	if (seg == NULL || desc == NULL || tcp_desc_decode(desc, desc_len, &d) != 0 ||
	    seg->length > d.length)
		return -EINVAL;
	memcpy(seg->priv, desc, TCP_DESC_LEN);
	return 0;
}

/* ---- endpoint: rate-limited log lines ---- */

static void __rte_format_printf(4, 5)
	ep_log(struct tern_endpoint *ep, enum log_kind kind, uint32_t level, const char *fmt, ...)
{
	struct log_limit *l = &ep->logs[kind];
	uint64_t now = rte_rdtsc();
	char line[256];
	va_list ap;

	if (now >= l->window_end) {
		if (l->dropped != 0)
			rte_log(level, tern_tcp_logtype,
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
	rte_log(level, tern_tcp_logtype, "tern.tcp: lcore %u: %s\n", ep->lcore_id, line);
}

/* ---- endpoints together: epochs, expired batches, quiescence ---- */

static inline uint64_t
qseq_load(uint32_t i)
{
	return __atomic_load_n(&shared.qseq[i].seq, __ATOMIC_SEQ_CST);
}

/* Under shared.lock: everyone looks again. */
static inline void
shared_changed(void)
{
	__atomic_fetch_add(&shared.gen, 1, __ATOMIC_SEQ_CST);
}

/* The process-wide epoch of the peer whose descriptor bytes 5..23 are @key. */
static uint32_t *
peer_epoch(const uint8_t *key)
{
	uint32_t i, slot = 0; /* when full, the others share slot 0's epoch */

	rte_spinlock_lock(&shared.lock);
	for (i = 0; i < PEER_EPOCHS; i++) {
		if (shared.peers[i].used && memcmp(shared.peers[i].key, key, 19) == 0) {
			slot = i;
			break;
		}
		if (!shared.peers[i].used) {
			memcpy(shared.peers[i].key, key, 19);
			shared.peers[i].used = 1;
			shared.peers[i].epoch = 1;
			slot = i;
			break;
		}
	}
	rte_spinlock_unlock(&shared.lock);
	return &shared.peers[slot].epoch;
}

/* Every connection to the peer (of every endpoint) becomes stale. */
static void
peer_epoch_bump(uint32_t *epoch)
{
	rte_spinlock_lock(&shared.lock);
	__atomic_fetch_add(epoch, 1, __ATOMIC_RELEASE);
	shared_changed();
	rte_spinlock_unlock(&shared.lock);
}

/* Wait until every other endpoint that is inside post_burst() or poll()
 * now has left it (bounded: a lost lcore must not stop this one for ever). */
static void
quiesce_wait(struct tern_endpoint *ep)
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
				ep_log(ep, LOGK_LIMIT, RTE_LOG_WARNING,
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
quiesce_passed(struct tern_endpoint *ep, struct tcp_conn *c)
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
		return c->doomed || c->epoch != __atomic_load_n(c->peer->epoch, __ATOMIC_ACQUIRE);
	return (c->state == CONN_OPEN || c->state == CONN_SYNC) &&
	       __atomic_load_n(&shared.inst[c->inst_slot].gen, __ATOMIC_ACQUIRE) != c->inst_gen;
}

static void conn_close(struct tern_endpoint *ep, uint32_t idx, int err);

/*
 * Shared state changed: fail the slices of batches that expired (closing
 * their connections and making every connection to those peers stale),
 * close stale connections, as initiator and as target.
 */
static void
ep_catch_up(struct tern_endpoint *ep)
{
	struct expired got[EXPIRED_RING];
	uint64_t first, last, gen, now = rte_rdtsc();
	uint32_t i, k, n = 0;
	bool all = false;

	rte_spinlock_lock(&shared.lock);
	gen = __atomic_load_n(&shared.gen, __ATOMIC_RELAXED);
	last = shared.ring_gen;
	first = ep->seen_ring;
	if (last - first > EXPIRED_RING)
		all = true; /* fell behind: every slice posted before counts as expired */
	else
		for (; first + n < last; n++)
			got[n] = shared.ring[(first + n) % EXPIRED_RING];
	rte_spinlock_unlock(&shared.lock);

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
			peer_epoch_bump(op->conn->peer->epoch);
		}
	}
	for (i = 0; i < ep->nb_conns;) {
		struct tcp_conn *c = ep->conns[i];

		if (conn_stale(c)) {
			conn_close(ep, i, c->role == ROLE_INITIATOR ? -ECONNRESET : -ESTALE);
			continue;
		}
		i++;
	}
	ep->seen_gen = gen;
	ep->seen_ring = last;
}

/* Into post_burst() or poll(): count the entry, catch up if something changed. */
static inline void
ep_enter(struct tern_endpoint *ep)
{
	__atomic_store_n(&shared.qseq[ep->slot].seq, shared.qseq[ep->slot].seq + 1,
			 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (unlikely(__atomic_load_n(&shared.gen, __ATOMIC_RELAXED) != ep->seen_gen))
		ep_catch_up(ep);
}

static inline void
ep_leave(struct tern_endpoint *ep)
{
	__atomic_store_n(&shared.qseq[ep->slot].seq, shared.qseq[ep->slot].seq + 1,
			 __ATOMIC_RELEASE);
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
static void
tcp_expire(struct tern_endpoint *ep, uint64_t cookie, uint64_t batch)
{
	rte_spinlock_lock(&shared.lock);
	shared.ring[shared.ring_gen % EXPIRED_RING] =
		(struct expired){ .cookie = cookie, .batch = batch };
	shared.ring_gen++;
	shared_changed();
	rte_spinlock_unlock(&shared.lock);
	ep_enter(ep);
	ep_leave(ep);
	quiesce_wait(ep);
}

/* ---- endpoint: operations and completions ---- */

static inline void
cpl_push(struct tern_endpoint *ep, uint64_t cookie, int32_t status, uint32_t length)
{
	struct tern_completion *c = &ep->cpl[ep->cpl_tail++ & ep->cpl_mask];

	c->cookie = cookie;
	c->status = status;
	c->length = length;
}

/* An initiator operation is done: its slice completes. */
static inline void
op_complete(struct tern_endpoint *ep, struct tcp_op *op, int32_t status)
{
	cpl_push(ep, op->cookie, status, status == 0 ? op->length : 0);
	if (op->conn != NULL)
		op->conn->nb_ops--;
	op->conn = NULL;
	op->expired = 0;
	ep->nb_busy_ops--;
	op->state = OP_FREE;
	op->next = ep->free_ops;
	ep->free_ops = op;
}

/* A target reply was sent (or will never be): drop its reference and op. */
static inline void
top_free(struct tern_endpoint *ep, struct tcp_op *op)
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

/* ---- endpoint: connections ---- */

static struct tcp_conn *
conn_new(struct tern_endpoint *ep, int fd, uint8_t role)
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

/*
 * Close a connection and account for everything that named it: the
 * initiator's slices fail with @p err, the target's references are dropped.
 * @p idx is the connection's index in ep->conns.
 */
static void
conn_close(struct tern_endpoint *ep, uint32_t idx, int err)
{
	struct tcp_conn *c = ep->conns[idx];
	struct tcp_op *op, *next;
	uint32_t i, failed = 0;

	if (err == -EPROTO) {
		STAT_INC(protocol_errors);
	} else if (c->role == ROLE_INITIATOR && c->doomed) {
		STAT_INC(expired_resets);
		ep_log(ep, LOGK_CONN, RTE_LOG_WARNING,
		       "connection to %s reset: a batch on it passed its deadline", c->name);
	} else {
		/* Loud only when work was lost with it, once per peer outage
		 * (every slice to a dead peer retries the connection). */
		bool loud = err != 0 && err != -ECANCELED && c->nb_ops != 0 &&
			    !(c->role == ROLE_INITIATOR && c->peer->failing);

		if (loud)
			ep_log(ep, LOGK_CONN, RTE_LOG_WARNING, "connection %s %s closed: %s%s",
			       c->role == ROLE_TARGET ? "from" : "to", c->name, strerror(-err),
			       c->role == ROLE_INITIATOR ? " (quiet until it connects again)" : "");
		else
			TCP_LOG(DEBUG, "lcore %u: connection %s %s closed: %s", ep->lcore_id,
				c->role == ROLE_TARGET ? "from" : "to", c->name,
				err == 0 ? "done" : strerror(-err));
		if (c->role == ROLE_INITIATOR && err != 0 && err != -ECANCELED && c->nb_ops != 0)
			c->peer->failing = true;
	}
	STAT_INC(closed);
	(void)epoll_ctl(ep->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->doomed) {
		/* A reset, not a FIN: the target drops what it has not read. */
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
		/* Queued or awaiting a reply: every op naming the connection. */
		for (i = 0; i < ep->nb_ops && c->nb_ops != 0; i++) {
			if (ep->ops[i].state != OP_FREE && ep->ops[i].conn == c) {
				op_complete(ep, &ep->ops[i],
					    ep->ops[i].expired ? -ETIMEDOUT
					    : err != 0	       ? err
							       : -ECONNRESET);
				failed++;
			}
		}
		__atomic_fetch_add(&stats.failed_slices, failed, __ATOMIC_RELAXED);
		c->peer->conns[c->peer_conn] = NULL;
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
static struct tcp_conn *
conn_connect(struct tern_endpoint *ep, struct tcp_peer *peer, uint32_t k, int *err)
{
	struct tcp_conn *c;
	int fd;

	fd = socket(peer->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	socket_tune(fd);
	if (connect(fd, (struct sockaddr *)&peer->sa, peer->sa_len) != 0 && errno != EINPROGRESS) {
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
	c->peer = peer;
	c->epoch = __atomic_load_n(peer->epoch, __ATOMIC_ACQUIRE);
	c->instance = shared.instance;
	c->peer_conn = (uint16_t)k;
	c->connect_deadline = rte_rdtsc() + ep->connect_timeout_tsc;
	sockaddr_name(&peer->sa, c->name, sizeof(c->name));
	ep->nb_connecting++;
	peer->conns[k] = c;
	return c;
}

static struct tcp_peer *
peer_get(struct tern_endpoint *ep, const uint8_t *desc)
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
	if (ep->nb_peers == PEER_MAX || tcp_desc_decode(desc, TCP_DESC_LEN, &d) != 0)
		return NULL;
	p = &ep->peers[ep->nb_peers++];
	memcpy(p->key, desc + 5, sizeof(p->key));
	p->epoch = peer_epoch(p->key);
	addr_to_sockaddr(d.family, d.addr, d.port, &p->sa, &p->sa_len);
	return ep->last_peer = p;
}

/* ---- endpoint: data path ---- */

static inline uint32_t
get_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

/* Is @p s of a batch that expired lately? Forgets the old ones. */
static bool
dead_batch(struct tern_endpoint *ep, const struct tern_slice *s)
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
tcp_post_burst(struct tern_endpoint *ep, const struct tern_slice *slices, uint16_t nb)
{
	struct tcp_frame_hdr h = { 0 };
	uint16_t i;

	ep_enter(ep);
	for (i = 0; i < nb; i++) {
		const struct tern_slice *s = &slices[i];
		const uint8_t *desc = s->target->priv;
		struct tcp_op *op = ep->free_ops;
		struct tcp_peer *peer;
		struct tcp_conn *c;
		int err = 0;

		if (unlikely(op == NULL))
			break;
		ep->free_ops = op->next;
		ep->nb_busy_ops++;
		op->cookie = s->cookie;
		op->length = s->length;
		op->conn = NULL;
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
			     get_be32(desc) != TCP_DESC_MAGIC || desc[4] != TCP_DESC_VERSION)) {
			op_complete(ep, op, -EINVAL);
			continue;
		}
		peer = peer_get(ep, desc);
		if (unlikely(peer == NULL)) {
			op_complete(ep, op, -ENOSPC);
			continue;
		}
		/* Stripe over the peer's connections, opening them on first use. */
		c = peer->conns[peer->next_conn];
		if (unlikely(c == NULL))
			c = conn_connect(ep, peer, peer->next_conn, &err);
		if (++peer->next_conn == ep->conns_per_peer)
			peer->next_conn = 0;
		if (unlikely(c == NULL)) {
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
		op->conn = c;
		c->nb_ops++;
		tx_enqueue(c, op);
	}
	ep_leave(ep);
	return i;
}

/* Send as much of the queue as the socket takes. 0, or a negative errno. */
static int
conn_send(struct tern_endpoint *ep, struct tcp_conn *c)
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

/* ---- handshake (doc/protocol.md, "Handshake") ---- */

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
target_register(struct tern_endpoint *ep, struct tcp_conn *c)
{
	uint32_t i, slot = INSTANCES, victim = 0;
	bool changed = false;
	int ret = 0;

	rte_spinlock_lock(&shared.lock);
	/* An initiator keeps an epoch per peer address: so do we, per the
	 * address it reached us at (one process may listen on several). */
	for (i = 0; i < INSTANCES; i++) {
		if (shared.inst[i].instance == c->instance &&
		    memcmp(shared.inst[i].local, c->local, sizeof(c->local)) == 0) {
			slot = i;
			break;
		}
		if (shared.inst[victim].instance != 0 &&
		    (shared.inst[i].instance == 0 ||
		     shared.inst[i].used_tsc < shared.inst[victim].used_tsc))
			victim = i;
	}
	if (slot == INSTANCES) {
		/* A new initiator; evicting the least recent one closes its connections. */
		slot = victim;
		changed = shared.inst[slot].instance != 0;
		shared.inst[slot].instance = c->instance;
		memcpy(shared.inst[slot].local, c->local, sizeof(c->local));
		shared.inst[slot].epoch = c->epoch;
	} else if (c->epoch < shared.inst[slot].epoch) {
		ret = -ESTALE;
	} else if (c->epoch > shared.inst[slot].epoch) {
		shared.inst[slot].epoch = c->epoch;
		changed = true;
	}
	if (changed) {
		__atomic_fetch_add(&shared.inst[slot].gen, 1, __ATOMIC_RELEASE);
		shared_changed();
	}
	shared.inst[slot].used_tsc = rte_rdtsc();
	c->inst_slot = (uint16_t)slot;
	c->inst_gen = shared.inst[slot].gen;
	c->sync_gen = __atomic_load_n(&shared.gen, __ATOMIC_RELAXED);
	rte_spinlock_unlock(&shared.lock);
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
static int
target_sync(struct tern_endpoint *ep, struct tcp_conn *c)
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
hs_ready(struct tern_endpoint *ep, struct tcp_conn *c, int32_t status)
{
	if (status != 0) {
		ep_log(ep, LOGK_ACCESS, RTE_LOG_ERR, "%s refused the connection: %s", c->name,
		       strerror(-status));
		return status;
	}
	c->state = CONN_OPEN;
	c->writable = 1;
	c->peer->failing = false;
	STAT_INC(connected);
	TCP_LOG(DEBUG, "lcore %u: connected to %s", ep->lcore_id, c->name);
	return 0;
}

/* A handshake frame's header, before the connection is open. */
static int
hs_frame(struct tern_endpoint *ep, struct tcp_conn *c, const struct tcp_frame_hdr *h)
{
	bool first = c->role == ROLE_TARGET && c->state == CONN_HELLO;
	uint8_t want;

	if (c->role == ROLE_INITIATOR)
		want = c->state == CONN_HELLO ? TCP_OP_CHALLENGE : TCP_OP_READY;
	else
		want = c->state == CONN_HELLO ? TCP_OP_HELLO : TCP_OP_AUTH;
	if (h->op != want || (!first && (h->tag != c->epoch || h->offset != c->instance))) {
		ep_log(ep, LOGK_PROTO, RTE_LOG_WARNING,
		       "%s: op %u where the handshake expects %u, closing", c->name, h->op, want);
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
static int
hs_payload(struct tern_endpoint *ep, struct tcp_conn *c)
{
	static const uint8_t zero[TCP_AUTH_PROOF_LEN];
	uint8_t proof[TCP_AUTH_PROOF_LEN] = { 0 };
	int ret;

	RTE_BUILD_BUG_ON(TCP_AUTH_PROOF_LEN != TCP_HS_LEN);
	if (c->role == ROLE_INITIATOR) { /* CHALLENGE: answer with AUTH */
		if ((c->hs_flags & TCP_HS_F_AUTH) != 0) {
			if (!cfg.auth) {
				ep_log(ep, LOGK_ACCESS, RTE_LOG_ERR,
				       "%s requires authentication and no secret is configured",
				       c->name);
				return -EACCES;
			}
			tcp_auth_proof(cfg.auth_key, c->hs_in, c->nonce_i, c->instance, c->epoch,
				       proof);
		}
		ret = hs_send(c, TCP_OP_AUTH, 0, 0, proof);
		c->state = CONN_AUTH;
		return ret;
	}
	if (c->state == CONN_HELLO) { /* HELLO: answer with CHALLENGE */
		memcpy(c->nonce_i, c->hs_in, TCP_HS_LEN);
		random_bytes(c->nonce_t, TCP_HS_LEN);
		ret = hs_send(c, TCP_OP_CHALLENGE, cfg.auth ? TCP_HS_F_AUTH : 0, 0, c->nonce_t);
		c->state = CONN_AUTH;
		return ret;
	}
	if (cfg.auth) { /* AUTH: check the proof */
		tcp_auth_proof(cfg.auth_key, c->nonce_t, c->nonce_i, c->instance, c->epoch, proof);
		if (!tcp_auth_equal(proof, c->hs_in)) {
			ep_log(ep, LOGK_ACCESS, RTE_LOG_WARNING, "refused %s: %s", c->name,
			       memcmp(c->hs_in, zero, sizeof(zero)) == 0 ? "it has no secret"
									 : "wrong secret");
			STAT_INC(refused);
			(void)hs_send(c, TCP_OP_READY, 0, -EACCES, NULL);
			return -EACCES;
		}
	}
	ret = target_register(ep, c);
	if (ret != 0) {
		ep_log(ep, LOGK_ACCESS, RTE_LOG_WARNING, "refused %s: epoch %u is stale", c->name,
		       c->epoch);
		(void)hs_send(c, TCP_OP_READY, 0, ret, NULL);
		return ret;
	}
	c->state = CONN_SYNC;
	return 0;
}

/* The target's reply for @p op: encode it and queue it. */
static void
target_reply(struct tcp_conn *c, struct tcp_op *op, const struct tcp_frame_hdr *req, int32_t status)
{
	struct tcp_frame_hdr h = *req;

	h.op = req->op == TCP_OP_READ ? TCP_OP_READ_REPLY : TCP_OP_WRITE_REPLY;
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
target_acquire(struct tern_endpoint *ep, const struct tcp_frame_hdr *h, int32_t *status)
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
frame_arrived(struct tern_endpoint *ep, struct tcp_conn *c, const struct tcp_frame_hdr *h,
	      const uint8_t *raw)
{
	struct tcp_op *op;
	int32_t status;

	if (unlikely(c->state != CONN_OPEN))
		return hs_frame(ep, c, h);
	if (c->role == ROLE_TARGET) {
		if (h->op != TCP_OP_READ && h->op != TCP_OP_WRITE) {
			ep_log(ep, LOGK_PROTO, RTE_LOG_WARNING,
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
	if ((h->op != TCP_OP_READ_REPLY && h->op != TCP_OP_WRITE_REPLY) || h->tag >= ep->nb_ops)
		goto bad;
	op = &ep->ops[h->tag];
	if (op->state != OP_SENT || op->conn != c || op->op + 2 != h->op ||
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
	ep_log(ep, LOGK_PROTO, RTE_LOG_WARNING,
	       "%s sent an unexpected reply (op %u, tag %u), closing", c->name, h->op, h->tag);
	return -EPROTO;
}

/* The payload of the current frame is in: 0, or a negative errno (close). */
static int
payload_done(struct tern_endpoint *ep, struct tcp_conn *c)
{
	struct tcp_op *op = c->rx_op;
	struct tcp_frame_hdr h;

	c->rx_op = NULL;
	c->rx_dst = NULL;
	c->rx_state = RX_HDR;
	if (unlikely(c->state != CONN_OPEN))
		return hs_payload(ep, c);
	if (c->role == ROLE_INITIATOR) {
		op_complete(ep, op, 0);
		return 0;
	}
	/* The request header was kept in op->hdr; it decoded before. */
	(void)tcp_frame_decode(op->hdr, &h);
	if (op->seg != NULL) {
		tern_segment_release(op->seg, 1);
		op->seg = NULL;
	}
	target_reply(c, op, &h, op->status);
	return 0;
}

/* Receive and handle what the socket has. 0, or a negative errno (close). */
static int
conn_recv(struct tern_endpoint *ep, struct tcp_conn *c)
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
					ep_log(ep, LOGK_PROTO, RTE_LOG_WARNING, "%s: %s, closing",
					       c->name, tcp_frame_strerror(ret));
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

/*
 * Make room for a connection about to be accepted: the oldest one still in
 * its handshake when PREAUTH_MAX are, else the oldest open one with nothing
 * in flight when TARGET_CONNS_MAX are. @return false when there is no room.
 */
static bool
accept_room(struct tern_endpoint *ep)
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
	ep_log(ep, LOGK_LIMIT, RTE_LOG_WARNING, "%u connections%s: closing the oldest, from %s",
	       preauth ? ep->nb_preauth : ep->nb_accepted, preauth ? " in the handshake" : "",
	       ep->conns[victim]->name);
	conn_close(ep, victim, -EUSERS);
	return true;
}

static void
accept_all(struct tern_endpoint *ep, int lfd)
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
				ep_log(ep, LOGK_LIMIT, RTE_LOG_ERR, "accept: %s", strerror(errno));
			return;
		}
		socket_tune(fd);
		c = accept_room(ep) ? conn_new(ep, fd, ROLE_TARGET) : NULL;
		if (c == NULL) {
			ep_log(ep, LOGK_LIMIT, RTE_LOG_ERR, "cannot take another connection");
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
static int
conn_established(struct tern_endpoint *ep, struct tcp_conn *c)
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

static uint16_t
tcp_poll(struct tern_endpoint *ep, struct tern_completion *cpl, uint16_t max)
{
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

		if (ev[k].data.ptr == &listener_tag) {
			/* After the events: making room may close a connection
			 * that has an event further on. */
			ep->accept_ready = true;
			continue;
		}
		if (ev[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			c->readable = 1;
		if (ev[k].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			c->hup = 1;
		if (ev[k].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			c->writable = 1;
	}
	if (ep->accept_ready) {
		ep->accept_ready = false;
		accept_all(ep, cfg.listen_fd);
	}
	ep->now = rte_rdtsc();
	for (i = 0; i < ep->nb_conns;) {
		struct tcp_conn *c = ep->conns[i];

		ret = 0;
		if (c->role == ROLE_TARGET && c->hup) {
			/* An initiator closes a connection only when it gave up on what
			 * is still on it: never apply data from a connection seen closed. */
			ret = c->nb_ops == 0 && c->rx_state == RX_HDR && c->rx_head == c->rx_tail
				      ? -ENOTCONN
				      : -ECONNRESET;
		} else if (c->role == ROLE_TARGET && ep->now - c->io_tsc > ep->idle_tsc) {
			/* Idle, or owed replies it does not read: its slots go. */
			ep_log(ep, LOGK_LIMIT, RTE_LOG_INFO,
			       "connection from %s: no traffic for %u ms (%u replies owed), "
			       "closing",
			       c->name, cfg.idle_timeout_ms, c->nb_ops);
			ret = -ETIMEDOUT;
		} else if (unlikely(c->state != CONN_OPEN)) {
			if (c->state == CONN_CONNECTING && (c->writable || c->readable))
				ret = conn_established(ep, c);
			else if (c->state == CONN_SYNC)
				ret = target_sync(ep, c);
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
			conn_close(ep, i, ret == -ENOTCONN ? 0 : ret);
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
tcp_cancel(struct tern_endpoint *ep)
{
	ep->cancelled = true;
	while (ep->nb_conns != 0)
		conn_close(ep, ep->nb_conns - 1, -ECANCELED);
}

static void
tcp_endpoint_close(struct tern_endpoint *ep)
{
	if (ep == NULL)
		return;
	while (ep->nb_conns != 0)
		conn_close(ep, ep->nb_conns - 1, -ECANCELED);
	if (ep->epfd >= 0)
		close(ep->epfd);
	rte_free(ep->ops);
	rte_free(ep->tops);
	rte_free(ep->cpl);
	rte_spinlock_lock(&shared.lock);
	if (ep->slot < EP_MAX && shared.eps[ep->slot] == ep)
		shared.eps[ep->slot] = NULL;
	rte_spinlock_unlock(&shared.lock);
	rte_free(ep);
	if (__atomic_sub_fetch(&open_endpoints, 1, __ATOMIC_RELEASE) == 0)
		served_table = NULL;
}

static struct tern_endpoint *
tcp_endpoint_open(const struct tern_endpoint_conf *conf)
{
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &listener_tag };
	struct tern_endpoint *ep;
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
	__atomic_fetch_add(&open_endpoints, 1, __ATOMIC_ACQUIRE);
	ep->epfd = -1;
	ep->slot = EP_MAX;
	rte_spinlock_lock(&shared.lock);
	while (shared.instance == 0)
		random_bytes(&shared.instance, sizeof(shared.instance));
	for (i = 0; i < EP_MAX && ep->slot == EP_MAX; i++)
		if (shared.eps[i] == NULL) {
			shared.eps[i] = ep;
			ep->slot = i;
		}
	ep->seen_gen = __atomic_load_n(&shared.gen, __ATOMIC_RELAXED);
	ep->seen_ring = shared.ring_gen;
	rte_spinlock_unlock(&shared.lock);
	if (ep->slot == EP_MAX)
		goto fail;
	ep->lcore_id = conf->lcore_id;
	ep->socket_id = conf->socket_id;
	ep->segments = conf->segments;
	ep->conns_per_peer = cfg.conns_per_peer;
	ep->connect_timeout_tsc = rte_get_tsc_hz() / 1000 * cfg.connect_timeout_ms;
	ep->idle_tsc = rte_get_tsc_hz() / 1000 * cfg.idle_timeout_ms;
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
	if (cfg.listen_fd >= 0 && served_table == NULL)
		served_table = conf->segments;
	if (cfg.listen_fd >= 0 && served_table != conf->segments)
		TCP_LOG(WARNING,
			"lcore %u: another engine serves the listener; this one only initiates",
			conf->lcore_id);
	else if (cfg.listen_fd >= 0 && epoll_ctl(ep->epfd, EPOLL_CTL_ADD, cfg.listen_fd, &lev) != 0)
		goto fail;
	else if (cfg.listen_fd >= 0)
		ep->listening = true;
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
	return ep;
fail:
	tcp_endpoint_close(ep);
	rte_errno = ENOMEM;
	return NULL;
}

static const struct tern_transport_ops tcp_ops = {
	.name = "tcp",
	.rank = 30,
	.probe = tcp_probe,
	.segment_export = tcp_segment_export,
	.segment_import = tcp_segment_import,
	.endpoint_open = tcp_endpoint_open,
	.post_burst = tcp_post_burst,
	.poll = tcp_poll,
	.cancel = tcp_cancel,
	.expire = tcp_expire,
	.endpoint_close = tcp_endpoint_close,
};

TERN_TRANSPORT_REGISTER(tcp_ops)
