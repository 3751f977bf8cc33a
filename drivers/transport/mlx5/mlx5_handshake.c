/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The handshake carried over TCP (tern_mlx5.h, framing in doc/mlx5.md).
 *
 * Target side: tern_mlx5_configure() starts a DPDK control thread that
 * accepts connections and answers each request frame with
 * tern_mlx5_connect_serve(). It polls its sockets without blocking and takes
 * only the control-path lock, which lcores never wait for.
 *
 * Initiator side: segment_import() calls mlx5_handshake_run(), which
 * connects to the listener a descriptor names, sends the request and takes
 * the reply, all within the handshake timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_lcore.h>

#include <tern_time.h>
#include <util_sock.h>

#include "mlx5_connect.h"
#include "mlx5_ctl.h"
#include "mlx5_handshake.h"
#include "mlx5_wire.h"
#include "tern_mlx5.h"
#include "tern_mlx5_internal.h"

#define DEFAULT_MAX_CONNS    16
#define DEFAULT_IDLE_MS	     5000
#define DEFAULT_HANDSHAKE_MS 2000
#define TIMEOUT_MAX_MS	     600000
#define LISTEN_BACKLOG	     64
/* Most rounds of one import: TERN_MLX5_EP_MAX endpoints, 64 QPs a round. */
#define ROUNDS_MAX (TERN_MLX5_EP_MAX / TERN_MLX5_CONNECT_QP_MAX + 1)

#define STAT_INC(field) __atomic_fetch_add(&stats.field, 1, __ATOMIC_RELAXED)

/* One connection the listener serves. */
struct hs_conn {
	int fd;
	uint32_t have;	      /* bytes of the current frame received */
	uint32_t need;	      /* bytes it has: the header, then header and body */
	uint32_t out_len;     /* reply bytes to send; 0 while reading */
	uint32_t out_off;     /* of which sent */
	uint64_t deadline_ms; /* the next request must be whole by then */
	char name[INET6_ADDRSTRLEN + 8];
	uint8_t in[TERN_MLX5_FRAME_MAX];
	uint8_t out[TERN_MLX5_FRAME_MAX];
};

/* The listener thread's own state. */
struct hs_listener {
	int listen_fd;
	int wake_fd;
	uint32_t max_conns;
	uint32_t idle_ms;
	unsigned int nb_conns;
	bool full_logged;
	struct hs_conn *conns;
	struct pollfd *pfd;
};

/* Settings and the running listener, under cfg_lock. */
static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct hs_listener *l; /* NULL: no listener */
	pthread_t thread;
	uint16_t port;
	bool advertise; /* adv_addr holds an address */
	uint8_t adv_addr[16];
	uint32_t handshake_ms;
} cfg = { .handshake_ms = DEFAULT_HANDSHAKE_MS };
static int stop; /* the listener leaves */

static void (*listener_init)(void *arg);
static void *listener_init_arg;

/* One initiator exchange at a time: two imports of one peer must not replace
 * each other's request. */
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;

static struct tern_mlx5_handshake_stats stats;

/* ---- addresses ---- */

/* Numeric IPv4 or IPv6 into 16 bytes (IPv4 mapped). @return 0 or -EINVAL. */
static int
addr_parse(const char *s, uint8_t a[16])
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a + 12) == 1) {
		a[10] = 0xff;
		a[11] = 0xff;
		return 0;
	}
	return inet_pton(AF_INET6, s, a) == 1 ? 0 : -EINVAL;
}

static bool
addr_is_v4(const uint8_t a[16])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	return memcmp(a, mapped, sizeof(mapped)) == 0;
}

static bool
addr_is_wildcard(const uint8_t a[16])
{
	static const uint8_t zero[16];

	return memcmp(a + (addr_is_v4(a) ? 12 : 0), zero, addr_is_v4(a) ? 4 : 16) == 0;
}

static bool
addr_is_multicast(const uint8_t a[16])
{
	return addr_is_v4(a) ? (a[12] & 0xf0) == 0xe0 : a[0] == 0xff;
}

static socklen_t
addr_to_sockaddr(const uint8_t a[16], uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (addr_is_v4(a)) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a + 12, 4);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(&sin6->sin6_addr, a, 16);
	return sizeof(*sin6);
}

static void
addr_name(const uint8_t a[16], uint16_t port, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN] = "?";

	if (addr_is_v4(a))
		inet_ntop(AF_INET, a + 12, s, sizeof(s));
	else
		inet_ntop(AF_INET6, a, s, sizeof(s));
	snprintf(buf, len, addr_is_v4(a) ? "%s:%u" : "[%s]:%u", s, port);
}

static void
sockaddr_name(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	uint8_t a[16] = { [10] = 0xff, [11] = 0xff };
	uint16_t port = 0;

	if (ss->ss_family == AF_INET) {
		memcpy(a + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	}
	addr_name(a, port, buf, len);
}

/* ---- target: the listener thread ---- */

static void
conn_close(struct hs_listener *l, unsigned int i)
{
	close(l->conns[i].fd);
	if (i != l->nb_conns - 1)
		l->conns[i] = l->conns[l->nb_conns - 1];
	l->nb_conns--;
	if (l->nb_conns < l->max_conns)
		l->full_logged = false;
}

/* A malformed frame: one log line, one count, the connection goes. */
static void
conn_refuse(struct hs_listener *l, unsigned int i, const char *why)
{
	TERN_MLX5_LOG(NOTICE, "handshake: closing connection from %s: %s", l->conns[i].name, why);
	STAT_INC(bad_frames);
	conn_close(l, i);
}

/* Send what is left of the reply. @return 1 all sent, 0 not yet, -1 broken. */
static int
conn_flush(struct hs_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (uint32_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	}
	return 1;
}

static void
conn_next_frame(struct hs_listener *l, struct hs_conn *c)
{
	c->have = 0;
	c->need = TERN_MLX5_FRAME_HDR;
	c->out_len = 0;
	c->out_off = 0;
	c->deadline_ms = tern_clock_ms() + l->idle_ms;
}

/* A whole request frame is in: answer it. */
static void
conn_serve(struct hs_conn *c)
{
	uint32_t body_len = c->need - TERN_MLX5_FRAME_HDR;
	int rc;

	rc = tern_mlx5_connect_serve(c->in + TERN_MLX5_FRAME_HDR, body_len,
				     c->out + TERN_MLX5_FRAME_HDR, TERN_MLX5_CONNECT_MSG_MAX);
	if (rc > 0) {
		STAT_INC(served);
		rc = mlx5_frame_encode(TERN_MLX5_CONNECT_REPLY, 0, c->out + TERN_MLX5_FRAME_HDR,
				       (size_t)rc, c->out, sizeof(c->out));
	} else {
		/* A well-framed request the transport could not answer (a
		 * malformed message, no device, no room): say why. */
		STAT_INC(serve_errors);
		TERN_MLX5_LOG(INFO, "handshake: request from %s not answered: %s", c->name,
			      strerror(-rc));
		rc = mlx5_frame_encode(TERN_MLX5_CONNECT_REPLY,
				       (uint16_t)RTE_MIN(-rc, TERN_MLX5_FRAME_STATUS_MAX), NULL, 0,
				       c->out, sizeof(c->out));
	}
	c->out_len = (uint32_t)rc;
	c->out_off = 0;
}

/* Read towards the current frame; serve it once whole. Frames are read
 * exactly, so a next request waits in the socket until this one is answered. */
static void
conn_read(struct hs_listener *l, unsigned int i)
{
	struct hs_conn *c = &l->conns[i];
	struct tern_mlx5_frame_hdr h;
	const char *why = "malformed header";
	ssize_t n;

	for (;;) {
		n = recv(c->fd, c->in + c->have, c->need - c->have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (n == 0 && c->have != 0)
				conn_refuse(l, i, "closed in the middle of a frame");
			else
				conn_close(l, i);
			return;
		}
		c->have += (uint32_t)n;
		if (c->have < c->need)
			continue;
		if (c->need == TERN_MLX5_FRAME_HDR) {
			if (mlx5_frame_decode(c->in, TERN_MLX5_FRAME_HDR, TERN_MLX5_CONNECT_REQUEST,
					      &h, &why) != 0) {
				conn_refuse(l, i, why);
				return;
			}
			c->need += h.body_len;
			continue;
		}
		conn_serve(c);
		n = conn_flush(c);
		if (n < 0)
			conn_close(l, i);
		else if (n > 0)
			conn_next_frame(l, c);
		return;
	}
}

static void
conn_event(struct hs_listener *l, unsigned int i, short revents)
{
	struct hs_conn *c = &l->conns[i];
	int rc;

	if (revents & (POLLERR | POLLNVAL)) {
		conn_close(l, i);
	} else if (c->out_len != 0) {
		if (!(revents & (POLLOUT | POLLHUP)))
			return;
		rc = conn_flush(c);
		if (rc < 0)
			conn_close(l, i);
		else if (rc > 0)
			conn_next_frame(l, c);
	} else if (revents & (POLLIN | POLLHUP)) {
		conn_read(l, i);
	}
}

static void
listener_accept(struct hs_listener *l)
{
	struct sockaddr_storage ss;
	struct hs_conn *c;
	socklen_t len;
	int fd, one = 1;
	unsigned int k;

	for (k = 0; k < LISTEN_BACKLOG; k++) {
		len = sizeof(ss);
		fd = accept4(l->listen_fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (l->nb_conns == l->max_conns) {
			STAT_INC(refused_conns);
			if (!l->full_logged)
				TERN_MLX5_LOG(NOTICE,
					      "handshake: %u connections open: closing new ones "
					      "until one goes",
					      l->max_conns);
			l->full_logged = true;
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = &l->conns[l->nb_conns++];
		c->fd = fd;
		sockaddr_name(&ss, c->name, sizeof(c->name));
		conn_next_frame(l, c);
		STAT_INC(accepted);
	}
}

static void *
listener_main(void *arg)
{
	struct hs_listener *l = arg;
	unsigned int i;
	uint64_t now, v;
	int timeout;

	if (listener_init != NULL)
		listener_init(listener_init_arg);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		now = tern_clock_ms();
		timeout = 1000;
		l->pfd[0] = (struct pollfd){ .fd = l->wake_fd, .events = POLLIN };
		l->pfd[1] = (struct pollfd){ .fd = l->listen_fd, .events = POLLIN };
		for (i = 0; i < l->nb_conns; i++) {
			struct hs_conn *c = &l->conns[i];

			l->pfd[2 + i] =
				(struct pollfd){ .fd = c->fd,
						 .events = c->out_len != 0 ? POLLOUT : POLLIN };
			timeout = RTE_MIN(timeout,
					  c->deadline_ms > now ? (int)(c->deadline_ms - now) : 0);
		}
		if (poll(l->pfd, 2 + l->nb_conns, timeout) < 0) {
			if (errno != EINTR) {
				TERN_MLX5_LOG(ERR, "handshake: poll: %s", strerror(errno));
				usleep(100000);
			}
			continue;
		}
		if (l->pfd[0].revents != 0) {
			if (read(l->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				TERN_MLX5_LOG(ERR, "handshake: wake: %s", strerror(errno));
			continue;
		}
		/* Backwards: closing one moves the last into its place, which
		 * was already seen. */
		for (i = l->nb_conns; i-- > 0;)
			if (l->pfd[2 + i].revents != 0)
				conn_event(l, i, l->pfd[2 + i].revents);
		now = tern_clock_ms();
		for (i = l->nb_conns; i-- > 0;)
			if (now >= l->conns[i].deadline_ms) {
				TERN_MLX5_LOG(INFO, "handshake: closing idle connection from %s",
					      l->conns[i].name);
				STAT_INC(idle_closed);
				conn_close(l, i);
			}
		if (l->pfd[1].revents & POLLIN)
			listener_accept(l);
	}
	while (l->nb_conns != 0)
		conn_close(l, l->nb_conns - 1);
	return NULL;
}

static void
listener_free(struct hs_listener *l)
{
	if (l == NULL)
		return;
	if (l->listen_fd >= 0)
		close(l->listen_fd);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	free(l->conns);
	free(l->pfd);
	free(l);
}

/* Caller holds cfg_lock. */
static void
listener_stop(void)
{
	uint64_t one = 1;

	if (cfg.l == NULL)
		return;
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	if (write(cfg.l->wake_fd, &one, sizeof(one)) < 0)
		TERN_MLX5_LOG(ERR, "handshake: cannot wake the listener: %s", strerror(errno));
	pthread_join(cfg.thread, NULL);
	listener_free(cfg.l);
	cfg.l = NULL;
	cfg.port = 0;
	cfg.advertise = false;
	TERN_MLX5_LOG(INFO, "handshake: listener stopped");
}

/* Caller holds cfg_lock. @return 0 or a negative errno. */
static int
listener_start(const uint8_t laddr[16], uint16_t port, uint32_t max_conns, uint32_t idle_ms)
{
	struct hs_listener *l = calloc(1, sizeof(*l));
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, rc;

	if (l == NULL)
		return -ENOMEM;
	l->listen_fd = -1;
	l->wake_fd = -1;
	l->max_conns = max_conns;
	l->idle_ms = idle_ms;
	l->conns = calloc(max_conns, sizeof(*l->conns));
	l->pfd = calloc(max_conns + 2, sizeof(*l->pfd));
	if (l->conns == NULL || l->pfd == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	len = addr_to_sockaddr(laddr, port, &ss);
	l->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->listen_fd < 0 || l->wake_fd < 0) {
		rc = -errno;
		goto fail;
	}
	(void)setsockopt(l->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->listen_fd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(l->listen_fd, LISTEN_BACKLOG) != 0 ||
	    getsockname(l->listen_fd, (struct sockaddr *)&ss, &len) != 0) {
		rc = -errno;
		goto fail;
	}
	cfg.port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						 : ((struct sockaddr_in6 *)&ss)->sin6_port);
	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
	rc = rte_ctrl_thread_create(&cfg.thread, "tern-mlx5-hs", NULL, listener_main, l);
	if (rc != 0) {
		rc = -rc;
		goto fail;
	}
	cfg.l = l;
	return 0;
fail:
	cfg.port = 0;
	listener_free(l);
	return rc;
}

int
tern_mlx5_configure(const struct tern_mlx5_conf *conf)
{
	uint8_t laddr[16], aaddr[16];
	char name[INET6_ADDRSTRLEN + 8];
	int rc = 0;

	if (conf != NULL) {
		if ((conf->listen_addr != NULL && addr_parse(conf->listen_addr, laddr) != 0) ||
		    (conf->advertise_addr != NULL &&
		     (conf->listen_addr == NULL || addr_parse(conf->advertise_addr, aaddr) != 0 ||
		      addr_is_wildcard(aaddr) || addr_is_multicast(aaddr))) ||
		    conf->max_conns > TERN_MLX5_LISTEN_CONNS_MAX ||
		    conf->idle_timeout_ms > TIMEOUT_MAX_MS ||
		    conf->handshake_timeout_ms > TIMEOUT_MAX_MS)
			return -EINVAL;
		/* Nothing to listen for without a device. */
		if (mlx5_probe() != 0)
			return -ENODEV;
	}
	pthread_mutex_lock(&cfg_lock);
	listener_stop();
	cfg.handshake_ms = conf != NULL && conf->handshake_timeout_ms != 0
				   ? conf->handshake_timeout_ms
				   : DEFAULT_HANDSHAKE_MS;
	if (conf != NULL && conf->listen_addr != NULL) {
		rc = listener_start(laddr, conf->listen_port,
				    conf->max_conns != 0 ? conf->max_conns : DEFAULT_MAX_CONNS,
				    conf->idle_timeout_ms != 0 ? conf->idle_timeout_ms
							       : DEFAULT_IDLE_MS);
		if (rc != 0) {
			TERN_MLX5_LOG(ERR, "handshake: cannot listen on %s port %u: %s",
				      conf->listen_addr, conf->listen_port, strerror(-rc));
		} else {
			cfg.advertise = conf->advertise_addr != NULL || !addr_is_wildcard(laddr);
			memcpy(cfg.adv_addr, conf->advertise_addr != NULL ? aaddr : laddr, 16);
			addr_name(cfg.advertise ? cfg.adv_addr : laddr, cfg.port, name,
				  sizeof(name));
			TERN_MLX5_LOG(INFO, "handshake: listening on %s port %u%s%s",
				      conf->listen_addr, cfg.port,
				      cfg.advertise ? ", advertised as " : " (nothing advertised)",
				      cfg.advertise ? name : "");
		}
	}
	pthread_mutex_unlock(&cfg_lock);
	return rc;
}

int
tern_mlx5_listen_port(void)
{
	int port;

	pthread_mutex_lock(&cfg_lock);
	port = cfg.l != NULL ? cfg.port : -ENOTCONN;
	pthread_mutex_unlock(&cfg_lock);
	return port;
}

int
mlx5_handshake_address(uint8_t addr[16], uint16_t *port)
{
	int rc = 0;

	pthread_mutex_lock(&cfg_lock);
	if (cfg.l == NULL) {
		rc = -ENOTCONN;
	} else if (!cfg.advertise) {
		rc = -EDESTADDRREQ; /* a wildcard: nothing a peer could connect to */
	} else {
		memcpy(addr, cfg.adv_addr, 16);
		*port = cfg.port;
	}
	pthread_mutex_unlock(&cfg_lock);
	return rc;
}

void
mlx5_test_set_listener_init(void (*init)(void *arg), void *arg)
{
	pthread_mutex_lock(&cfg_lock);
	listener_init = init;
	listener_init_arg = arg;
	pthread_mutex_unlock(&cfg_lock);
}

void
tern_mlx5_handshake_stats(struct tern_mlx5_handshake_stats *out)
{
	out->accepted = __atomic_load_n(&stats.accepted, __ATOMIC_RELAXED);
	out->refused_conns = __atomic_load_n(&stats.refused_conns, __ATOMIC_RELAXED);
	out->bad_frames = __atomic_load_n(&stats.bad_frames, __ATOMIC_RELAXED);
	out->idle_closed = __atomic_load_n(&stats.idle_closed, __ATOMIC_RELAXED);
	out->served = __atomic_load_n(&stats.served, __ATOMIC_RELAXED);
	out->serve_errors = __atomic_load_n(&stats.serve_errors, __ATOMIC_RELAXED);
	out->initiated = __atomic_load_n(&stats.initiated, __ATOMIC_RELAXED);
	out->initiate_errors = __atomic_load_n(&stats.initiate_errors, __ATOMIC_RELAXED);
}

/* ---- initiator ---- */

static int
hs_connect(const struct tern_mlx5_desc *d, uint64_t deadline_ns, int *out)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(d->hs_addr, d->hs_port, &ss), elen;
	int fd, rc, err = 0, one = 1;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : -errno;
	if (rc == -EINPROGRESS) {
		rc = util_sock_wait(fd, POLLOUT, deadline_ns);
		elen = sizeof(err);
		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
			err = errno;
		if (rc == 0)
			rc = -err;
	}
	if (rc != 0) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/*
 * Send the request of @p req_len bytes at @p buf + TERN_MLX5_FRAME_HDR, take
 * the reply into @p buf. @return the reply's message length, or a negative
 * errno; *why says what went wrong with the reply, *status what the peer said.
 */
static int
exchange(int fd, uint8_t *buf, int req_len, uint64_t deadline_ns, const char **why, int *status)
{
	struct tern_mlx5_frame_hdr h;
	int rc;

	rc = mlx5_frame_encode(TERN_MLX5_CONNECT_REQUEST, 0, buf + TERN_MLX5_FRAME_HDR,
			       (size_t)req_len, buf, TERN_MLX5_FRAME_MAX);
	if (rc > 0)
		rc = util_sock_send_all(fd, buf, (size_t)rc, deadline_ns);
	if (rc == 0)
		rc = util_sock_recv_all(fd, buf, TERN_MLX5_FRAME_HDR, deadline_ns);
	if (rc != 0)
		return rc;
	if (mlx5_frame_decode(buf, TERN_MLX5_FRAME_HDR, TERN_MLX5_CONNECT_REPLY, &h, why) != 0)
		return -EPROTO;
	if (h.status != 0) {
		/* It refused our message as malformed, or could not answer. */
		*status = h.status;
		*why = "it answered with an error";
		return h.status == EINVAL || h.status == EPROTO ? -EPROTO : -EREMOTEIO;
	}
	rc = util_sock_recv_all(fd, buf + TERN_MLX5_FRAME_HDR, h.body_len, deadline_ns);
	return rc != 0 ? rc : (int)h.body_len;
}

/* Wait until no endpoint holds a live QP to @p peer (the lcores handed them
 * back after mlx5_peer_reclaim_locked()). */
static int
wait_reclaimed(uint16_t peer, uint64_t deadline_ns)
{
	int live;

	for (;;) {
		mlx5_ctl_lock();
		live = mlx5_peer_has_live_qp_locked(peer);
		mlx5_ctl_unlock();
		if (!live)
			return 0;
		if (tern_clock_ns() >= deadline_ns)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

int
mlx5_handshake_run(uint16_t peer, const struct tern_mlx5_desc *d)
{
	uint8_t buf[TERN_MLX5_FRAME_MAX];
	char name[INET6_ADDRSTRLEN + 8];
	const char *why = NULL;
	uint64_t deadline_ns;
	unsigned int round, qps = 0;
	bool renew = false;
	int fd = -1, rc = 0, len, status = 0;

	pthread_mutex_lock(&run_lock);
	pthread_mutex_lock(&cfg_lock);
	deadline_ns = tern_clock_ns() + (uint64_t)cfg.handshake_ms * 1000000u;
	pthread_mutex_unlock(&cfg_lock);
	mlx5_ctl_lock();
	if (mlx5_ep_count_locked() == 0) {
		rc = -ENOTCONN; /* no endpoint to connect: import after the engine starts */
		why = "no endpoint is open";
	} else if (mlx5_peer_epoch_locked(peer) != d->epoch) {
		/* Never connected, or connected to an earlier incarnation. */
		renew = mlx5_peer_has_live_qp_locked(peer);
		mlx5_peer_reclaim_locked(peer);
	}
	mlx5_ctl_unlock();
	if (renew) {
		rc = wait_reclaimed(peer, deadline_ns);
		if (rc != 0)
			why = "lcores still hold QPs to its earlier incarnation";
	}
	for (round = 0; rc == 0 && round < ROUNDS_MAX; round++) {
		len = tern_mlx5_connect_request_build(d->gid, buf + TERN_MLX5_FRAME_HDR,
						      TERN_MLX5_CONNECT_MSG_MAX);
		if (len == -EALREADY)
			break; /* every endpoint has its QP */
		rc = len;
		if (rc < 0) {
			why = "cannot prepare QPs";
			break;
		}
		rc = fd < 0 ? hs_connect(d, deadline_ns, &fd) : 0;
		if (rc != 0) {
			why = "cannot connect";
			break;
		}
		why = "no valid reply";
		rc = exchange(fd, buf, len, deadline_ns, &why, &status);
		if (rc < 0)
			break;
		rc = tern_mlx5_connect_complete(buf + TERN_MLX5_FRAME_HDR, (size_t)rc);
		if (rc == -EINVAL || rc == -EPROTO) {
			why = "its reply does not answer the request";
			rc = -EPROTO;
		}
		qps += (unsigned int)(len - TERN_MLX5_CONNECT_HDR) / TERN_MLX5_CONNECT_REQ_ENTRY;
	}
	if (fd >= 0)
		close(fd);
	addr_name(d->hs_addr, d->hs_port, name, sizeof(name));
	mlx5_ctl_lock();
	if (rc == 0)
		mlx5_peer_set_epoch_locked(peer, d->epoch);
	else
		mlx5_connect_abandon(peer); /* its QPs wait for no reply */
	mlx5_ctl_unlock();
	if (rc == 0 && qps != 0) {
		STAT_INC(initiated);
		TERN_MLX5_LOG(INFO, "handshake with peer %u at %s: %u QPs connected", peer, name,
			      qps);
	} else if (rc != 0) {
		STAT_INC(initiate_errors);
		TERN_MLX5_LOG(NOTICE, "handshake with peer %u at %s failed: %s%s%s (%s)", peer,
			      name, why != NULL ? why : "?", status != 0 ? ": " : "",
			      status != 0 ? strerror(status) : "", strerror(-rc));
	}
	pthread_mutex_unlock(&run_lock);
	return rc;
}

/* ---- the reviver: handshakes again for peers whose QPs went dead ---- */

#define REVIVE_TICK_MS 10
#define REVIVE_BASE_MS 10
#define REVIVE_MAX_MS  1000
#define REVIVE_TRIES   8

static struct {
	pthread_mutex_t lock; /* start/stop */
	pthread_t thread;
	bool running;
	uint32_t stop;
	uint32_t pending; /* reviver thread only */
	uint8_t tries[TERN_MLX5_PEER_MAX];
	uint64_t next_ms[TERN_MLX5_PEER_MAX];
} rv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
reviver_try(uint16_t peer, uint64_t now)
{
	struct tern_mlx5_desc d;
	uint8_t tries = __atomic_load_n(&rv.tries[peer], __ATOMIC_RELAXED);
	uint64_t wait;
	int rc;

	if (tries >= REVIVE_TRIES || now < rv.next_ms[peer]) {
		if (tries < REVIVE_TRIES)
			rv.pending |= 1u << peer; /* not yet: look again */
		return;
	}
	mlx5_ctl_lock();
	rc = mlx5_peer_desc_locked(peer, &d);
	mlx5_ctl_unlock();
	if (rc != 0)
		return; /* never imported through a handshake: nothing to call */
	rc = mlx5_handshake_run(peer, &d);
	if (rc == 0) {
		__atomic_store_n(&rv.tries[peer], 0, __ATOMIC_RELAXED);
		TERN_MLX5_LOG(INFO, "reviver: peer %u: dead QPs connected again", peer);
		return;
	}
	tries++;
	__atomic_store_n(&rv.tries[peer], tries, __ATOMIC_RELAXED);
	wait = RTE_MIN((uint64_t)REVIVE_BASE_MS << (tries - 1), (uint64_t)REVIVE_MAX_MS);
	rv.next_ms[peer] = now + wait;
	if (tries >= REVIVE_TRIES) {
		TERN_MLX5_LOG(ERR,
			      "reviver: peer %u: %u handshakes failed (%s), given up until its "
			      "next import",
			      peer, tries, strerror(-rc));
	} else {
		rv.pending |= 1u << peer;
		TERN_MLX5_LOG(WARNING,
			      "reviver: peer %u: handshake %u failed (%s), next in %" PRIu64 " ms",
			      peer, tries, strerror(-rc), wait);
	}
}

static void *
reviver_main(void *arg)
{
	RTE_SET_USED(arg);
	while (!__atomic_load_n(&rv.stop, __ATOMIC_ACQUIRE)) {
		uint32_t todo;
		uint64_t now;

		usleep(REVIVE_TICK_MS * 1000);
		todo = rv.pending | mlx5_peer_take_revive();
		rv.pending = 0;
		now = tern_clock_ms();
		while (todo != 0 && !__atomic_load_n(&rv.stop, __ATOMIC_ACQUIRE)) {
			uint16_t peer = (uint16_t)rte_bsf32(todo);

			todo &= todo - 1;
			if (peer != TERN_MLX5_PEER_SELF)
				reviver_try(peer, now);
		}
	}
	return NULL;
}

int
mlx5_reviver_start(void)
{
	int rc = 0;

	pthread_mutex_lock(&rv.lock);
	if (!rv.running) {
		__atomic_store_n(&rv.stop, 0, __ATOMIC_RELAXED);
		rv.pending = 0;
		memset(rv.tries, 0, sizeof(rv.tries));
		memset(rv.next_ms, 0, sizeof(rv.next_ms));
		rc = rte_ctrl_thread_create(&rv.thread, "tern-mlx5-rv", NULL, reviver_main, NULL);
		if (rc == 0)
			rv.running = true;
		else
			TERN_MLX5_LOG(ERR, "reviver: cannot start: %s", strerror(rc));
	}
	pthread_mutex_unlock(&rv.lock);
	return -rc;
}

void
mlx5_reviver_rearm(uint16_t peer)
{
	if (peer < TERN_MLX5_PEER_MAX)
		__atomic_store_n(&rv.tries[peer], 0, __ATOMIC_RELAXED);
}

void
mlx5_reviver_stop(void)
{
	pthread_mutex_lock(&rv.lock);
	if (rv.running) {
		__atomic_store_n(&rv.stop, 1, __ATOMIC_RELEASE);
		pthread_join(rv.thread, NULL);
		rv.running = false;
	}
	pthread_mutex_unlock(&rv.lock);
}
