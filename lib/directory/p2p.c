/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * p2p:// backend: the exporting dataplane answers for its own descriptors on
 * a TCP control port. Frames are a 4-byte big-endian payload length followed
 * by a JSON payload (doc/directory.md). The server is a poll loop over
 * non-blocking sockets with fixed limits (connections, request size, idle
 * time); anything malformed closes that connection only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include <rte_common.h>

#include <util_sock.h>

#include "directory_private.h"

#define P2P_VERSION	   1
#define P2P_REQ_MAX	   1024			  /* request payload bytes */
#define P2P_RESP_MAX	   (4u << 20)		  /* response payload bytes */
#define P2P_CONN_MAX	   16			  /* connections served at once */
#define P2P_IDLE_NS	   (5ull * 1000000000ull) /* a silent connection is closed */
#define P2P_THREAD_TICK_MS 100

struct p2p_conn {
	int fd; /* -1: free slot */
	uint8_t rx[4 + P2P_REQ_MAX];
	size_t rx_len;
	uint8_t *tx; /* frame being sent, malloc'd */
	size_t tx_len;
	size_t tx_off;
	bool close_after; /* the answer was an error: close once it is sent */
	uint64_t last_ns; /* last activity */
	uint64_t req_ns;  /* first byte of the request being read */
};

struct p2p_server {
	int lfd;
	int port;
	bool threaded;
	volatile bool stop;
	pthread_t thread;
	struct p2p_conn conns[P2P_CONN_MAX];
};

/* ---- framing helpers shared by both sides ---- */

static uint8_t *
frame_new(const char *payload, size_t len, size_t *frame_len)
{
	uint32_t be = htonl((uint32_t)len);
	uint8_t *f = malloc(4 + len);

	if (f == NULL)
		return NULL;
	memcpy(f, &be, 4);
	memcpy(f + 4, payload, len);
	*frame_len = 4 + len;
	return f;
}

/* A JSON value as a malloc'd frame; consumes @p root. */
static uint8_t *
frame_from_json(json_t *root, size_t *frame_len)
{
	uint8_t *f = NULL;
	char *text;

	if (root == NULL)
		return NULL;
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text != NULL && strlen(text) <= P2P_RESP_MAX)
		f = frame_new(text, strlen(text), frame_len);
	free(text);
	return f;
}

/* ---- a call's message as hex: lower-case, two digits a byte, strict ---- */

static void
hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* @len hex digits into @out (room for TERN_DIRECTORY_P2P_MSG_MAX): the
 * bytes, or -EPROTO (odd, empty, too long, a digit not [0-9a-f]). */
static int
hex_decode(const char *in, size_t len, uint8_t *out)
{
	size_t i;

	if (len == 0 || len % 2 != 0 || len > 2 * TERN_DIRECTORY_P2P_MSG_MAX)
		return -EPROTO;
	for (i = 0; i < len; i += 2) {
		int hi = hex_digit(in[i]), lo = hex_digit(in[i + 1]);

		if (hi < 0 || lo < 0)
			return -EPROTO;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(len / 2);
}

/* ---- server ---- */

static json_t *
answer_error(int status)
{
	return json_pack("{s:i, s:i}", "v", P2P_VERSION, "status", status);
}

/* A call to the handler (under pub_lock): its answer, or an error answer. */
static json_t *
answer_call(struct tern_directory *dir, const char *node, const char *segment, const char *msg,
	    size_t msg_len)
{
	uint8_t req[TERN_DIRECTORY_P2P_MSG_MAX], rep[TERN_DIRECTORY_P2P_MSG_MAX];
	char hex[2 * TERN_DIRECTORY_P2P_MSG_MAX + 1];
	int n, r;

	n = hex_decode(msg, msg_len, req);
	if (n < 0)
		return NULL;
	if (dir->handler == NULL)
		return answer_error(-ENOENT);
	r = dir->handler(dir->handler_arg, node, segment, req, (size_t)n, rep);
	if (r < 0 || r > TERN_DIRECTORY_P2P_MSG_MAX)
		return answer_error(r == -ENOENT ? -ENOENT : -ENOMEM);
	if (r == 0)
		return answer_error(-ENOMEM);
	hex_encode(rep, (size_t)r, hex);
	return json_pack("{s:i, s:i, s:s}", "v", P2P_VERSION, "status", 0, "msg", hex);
}

/* Answers a request frame's payload from the published table: a malloc'd
 * response payload in *resp, or a negative errno for a request not worth an
 * answer (the server then closes the connection). */
static int
p2p_answer(struct tern_directory *dir, const char *req, size_t len, char **resp, size_t *resp_len)
{
	const char *op = NULL, *node = NULL, *segment = NULL, *msg = NULL;
	json_t *root, *out = NULL, *arr;
	size_t msg_len = 0;
	struct directory_entry *e;
	json_error_t err;
	size_t total = 0;
	unsigned int i;
	json_int_t v = 0;
	int rc = 0;

	root = json_loadb(req, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL ||
	    json_unpack_ex(root, &err, JSON_STRICT, "{s:I, s:s, s:s, s?:s, s?:s%}", "v", &v, "op",
			   &op, "node", &node, "segment", &segment, "msg", &msg, &msg_len) != 0) {
		DIR_LOG(NOTICE, "p2p: malformed request: %s", err.text);
		json_decref(root);
		return -EINVAL;
	}
	if (v != P2P_VERSION) {
		DIR_LOG(NOTICE, "p2p: request of unsupported version %lld", (long long)v);
		json_decref(root);
		return -EPROTO;
	}
	if (!tern_descriptor_name_valid(node) ||
	    (segment != NULL && !tern_descriptor_name_valid(segment)) ||
	    (strcmp(op, "get") != 0 && strcmp(op, "list") != 0 && strcmp(op, "call") != 0) ||
	    (strcmp(op, "list") != 0) != (segment != NULL) ||
	    (strcmp(op, "call") == 0) != (msg != NULL) ||
	    (msg != NULL &&
	     hex_decode(msg, msg_len, (uint8_t[TERN_DIRECTORY_P2P_MSG_MAX]){ 0 }) < 0)) {
		DIR_LOG(NOTICE, "p2p: invalid request (op, node, segment or msg)");
		json_decref(root);
		return -EINVAL;
	}
	pthread_mutex_lock(&dir->pub_lock);
	if (msg != NULL) {
		out = answer_call(dir, node, segment, msg, msg_len);
	} else if (segment != NULL) {
		for (e = NULL, i = 0; i < dir->nb_published; i++)
			if (strcmp(dir->published[i].node, node) == 0 &&
			    strcmp(dir->published[i].segment, segment) == 0)
				e = &dir->published[i];
		if (e == NULL)
			out = answer_error(-ENOENT);
		else
			out = json_pack("{s:i, s:i, s:s#}", "v", P2P_VERSION, "status", 0,
					"descriptor", e->json, e->len);
	} else {
		arr = json_array();
		for (i = 0; arr != NULL && rc == 0 && i < dir->nb_published; i++) {
			e = &dir->published[i];
			if (strcmp(e->node, node) != 0)
				continue;
			total += e->len + 3;
			if (total > P2P_RESP_MAX - 64)
				rc = -EMSGSIZE;
			else if (json_array_append_new(arr, json_stringn(e->json, e->len)) != 0)
				rc = -ENOMEM;
		}
		if (arr != NULL && rc == 0)
			out = json_pack("{s:i, s:i, s:o}", "v", P2P_VERSION, "status", 0,
					"descriptors", arr);
		else {
			json_decref(arr);
			out = answer_error(rc != 0 ? rc : -ENOMEM);
		}
	}
	pthread_mutex_unlock(&dir->pub_lock);
	json_decref(root);
	if (out == NULL)
		return -ENOMEM;
	*resp = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	if (*resp == NULL)
		return -ENOMEM;
	*resp_len = strlen(*resp);
	return 0;
}

static void
conn_close(struct p2p_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->tx);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* A complete request frame is in c->rx: queue its answer. */
static int
conn_answer(struct tern_directory *dir, struct p2p_conn *c)
{
	char *resp = NULL;
	size_t resp_len = 0;
	int rc;

	rc = p2p_answer(dir, (const char *)c->rx + 4, c->rx_len - 4, &resp, &resp_len);
	c->rx_len = 0;
	if (rc < 0) {
		/* Tell the peer why, then hang up: it does not speak our protocol. */
		c->close_after = true;
		c->tx = frame_from_json(answer_error(rc), &c->tx_len);
	} else {
		c->tx = frame_new(resp, resp_len, &c->tx_len);
	}
	free(resp);
	c->tx_off = 0;
	if (c->tx == NULL)
		return -ENOMEM;
	return rc < 0 ? 0 : 1;
}

static int
conn_read(struct tern_directory *dir, struct p2p_conn *c)
{
	uint32_t be, len;
	size_t want;
	ssize_t n;

	for (;;) {
		want = 4;
		if (c->rx_len >= 4) {
			memcpy(&be, c->rx, 4);
			len = ntohl(be);
			if (len == 0 || len > P2P_REQ_MAX) {
				DIR_LOG(NOTICE, "p2p: frame length %u out of 1..%u, closing", len,
					P2P_REQ_MAX);
				return -EPROTO;
			}
			want = 4 + len;
		}
		if (c->rx_len == want)
			return conn_answer(dir, c);
		n = recv(c->fd, c->rx + c->rx_len, want - c->rx_len, 0);
		if (n > 0 && c->rx_len == 0)
			c->req_ns = tern_clock_ns();
		if (n == 0)
			return c->rx_len == 0 ? -ECONNRESET : -EPIPE;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->rx_len += (size_t)n;
	}
}

static int
conn_write(struct p2p_conn *c)
{
	ssize_t n;

	while (c->tx_off < c->tx_len) {
		n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->tx_off += (size_t)n;
	}
	free(c->tx);
	c->tx = NULL;
	c->tx_len = c->tx_off = 0;
	return c->close_after ? -ECONNRESET : 0;
}

/* A slot for a new connection: a free one, else the one idle the longest
 * (nothing half-read, nothing to send), so that idle connections cannot
 * starve the service. NULL when every connection is mid-request. */
static struct p2p_conn *
conn_slot(struct p2p_server *s)
{
	struct p2p_conn *c, *idle = NULL;
	unsigned int i;

	for (i = 0; i < P2P_CONN_MAX; i++) {
		c = &s->conns[i];
		if (c->fd < 0)
			return c;
		if (c->rx_len == 0 && c->tx == NULL && (idle == NULL || c->last_ns < idle->last_ns))
			idle = c;
	}
	if (idle != NULL) {
		DIR_LOG(INFO, "p2p: %u connections already, closing the longest idle",
			P2P_CONN_MAX);
		conn_close(idle);
	}
	return idle;
}

static void
server_accept(struct p2p_server *s)
{
	struct p2p_conn *c;
	int fd;

	for (;;) {
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c = conn_slot(s);
		if (c == NULL) {
			DIR_LOG(NOTICE, "p2p: %u connections busy, refusing one", P2P_CONN_MAX);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->last_ns = tern_clock_ns();
	}
}

static int
server_poll(struct tern_directory *dir, struct p2p_server *s, int timeout_ms)
{
	struct pollfd pfd[1 + P2P_CONN_MAX];
	int map[1 + P2P_CONN_MAX];
	unsigned int i, n = 1;
	int answered = 0, rc;
	struct p2p_conn *c;
	uint64_t now;

	pfd[0] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
	for (i = 0; i < P2P_CONN_MAX; i++) {
		if (s->conns[i].fd < 0)
			continue;
		pfd[n] = (struct pollfd){ .fd = s->conns[i].fd,
					  .events = s->conns[i].tx != NULL ? POLLOUT : POLLIN };
		map[n++] = (int)i;
	}
	rc = poll(pfd, n, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	now = tern_clock_ns();
	for (i = 1; i < n; i++) {
		c = &s->conns[map[i]];
		rc = 0;
		if (pfd[i].revents & (POLLERR | POLLNVAL))
			rc = -EIO;
		else if (pfd[i].revents & POLLOUT)
			rc = conn_write(c);
		else if (pfd[i].revents & (POLLIN | POLLHUP))
			rc = conn_read(dir, c);
		if (rc > 0) {
			answered++;
			rc = conn_write(c);
		}
		if (pfd[i].revents != 0)
			c->last_ns = now;
		/* Idle, or trickling one request (slowloris): either way, too long. */
		if (rc == 0 && (now - c->last_ns > P2P_IDLE_NS ||
				(c->rx_len > 0 && now - c->req_ns > P2P_IDLE_NS))) {
			DIR_LOG(INFO,
				"p2p: closing a connection idle or mid-request for over %llu s",
				P2P_IDLE_NS / 1000000000ull);
			rc = -ETIMEDOUT;
		}
		if (rc < 0)
			conn_close(c);
	}
	if (pfd[0].revents & POLLIN)
		server_accept(s);
	return answered;
}

static void *
server_thread(void *arg)
{
	struct tern_directory *dir = arg;
	struct p2p_server *s = dir->server;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
		server_poll(dir, s, P2P_THREAD_TICK_MS);
	return NULL;
}

static int
listen_socket(const struct directory_endpoint *ep, int *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct addrinfo *ai;
	char service[8];
	int fd, one = 1, rc;

	snprintf(service, sizeof(service), "%u", ep->port);
	rc = getaddrinfo(ep->host, service, &hints, &ai);
	if (rc != 0) {
		DIR_LOG(ERR, "p2p: cannot resolve %s: %s", ep->host, gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		rc = -errno;
		DIR_LOG(ERR, "p2p: cannot listen on %s:%u: %s", ep->host, ep->port, strerror(-rc));
		close(fd);
		goto out;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	rc = fd;
out:
	freeaddrinfo(ai);
	return rc;
}

static int
p2p_serve(struct tern_directory *dir, unsigned int flags)
{
	struct p2p_server *s;
	unsigned int i;
	int rc;

	if (dir->server != NULL)
		return -EALREADY;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	for (i = 0; i < P2P_CONN_MAX; i++)
		s->conns[i].fd = -1;
	s->lfd = listen_socket(&dir->ep[0], &s->port);
	if (s->lfd < 0) {
		rc = s->lfd;
		free(s);
		return rc;
	}
	dir->server = s;
	if (flags & TERN_DIRECTORY_P2P_THREAD) {
		s->threaded = true;
		rc = pthread_create(&s->thread, NULL, server_thread, dir);
		if (rc != 0) {
			dir->server = NULL;
			close(s->lfd);
			free(s);
			return -rc;
		}
	}
	DIR_LOG(INFO, "p2p: serving descriptors on %s:%d", dir->ep[0].host, s->port);
	return 0;
}

static int
p2p_serve_poll(struct tern_directory *dir, int timeout_ms)
{
	struct p2p_server *s = dir->server;

	if (s == NULL || s->threaded)
		return -EINVAL;
	return server_poll(dir, s, timeout_ms);
}

static int
p2p_serve_port(const struct tern_directory *dir)
{
	const struct p2p_server *s = dir->server;

	return s == NULL ? -EINVAL : s->port;
}

static void
p2p_serve_stop(struct tern_directory *dir)
{
	struct p2p_server *s = dir->server;
	unsigned int i;

	if (s == NULL)
		return;
	if (s->threaded) {
		__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
		pthread_join(s->thread, NULL);
	}
	for (i = 0; i < P2P_CONN_MAX; i++)
		conn_close(&s->conns[i]);
	close(s->lfd);
	free(s);
	dir->server = NULL;
}

/* ---- client ---- */

static int
connect_peer(const struct directory_endpoint *ep, uint64_t deadline_ns)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai, *a;
	socklen_t sl = sizeof(int);
	int fd = -1, rc, err, one = 1;
	char service[8];

	if (ep->port == 0)
		return -EINVAL;
	snprintf(service, sizeof(service), "%u", ep->port);
	rc = getaddrinfo(ep->host, service, &hints, &ai);
	if (rc != 0)
		return -EHOSTUNREACH;
	rc = -ECONNREFUSED;
	for (a = ai; a != NULL; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		rc = -errno;
		if (rc == -EINPROGRESS) {
			rc = util_sock_wait(fd, POLLOUT, deadline_ns);
			if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0)
				rc = -err;
			if (rc == 0)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd >= 0 ? fd : rc;
}

/* The statuses a server of this version answers a well-formed request with.
 * Anything else (even -EINVAL: our requests are well-formed) comes from a peer
 * that does not speak our protocol, and is -EPROTO: an errno of the peer's
 * choosing never reaches the caller as if it were ours. */
static bool
status_known(json_int_t status)
{
	return status == 0 || status == -ENOENT || status == -EMSGSIZE || status == -ENOMEM;
}

/* A client handle's connection kept for its calls (dir->backend, under
 * dir->lock): reused while it was used less than P2P_CALL_IDLE_NS ago,
 * under the server's idle close (P2P_IDLE_NS). */
struct p2p_client {
	int fd; /* -1: none */
	uint64_t used_ns;
};

#define P2P_CALL_IDLE_NS (4000ull * 1000000ull)

static int
p2p_init(struct tern_directory *dir)
{
	struct p2p_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -ENOMEM;
	c->fd = -1;
	dir->backend = c;
	return 0;
}

static void
p2p_fini(struct tern_directory *dir)
{
	struct p2p_client *c = dir->backend;

	if (c != NULL && c->fd >= 0)
		close(c->fd);
	free(c);
	dir->backend = NULL;
}

/* One frame sent on @fd and its answer read: 0 with a malloc'd payload, or
 * an error; *got says whether any byte of an answer came. */
static int
p2p_exchange(int fd, const uint8_t *frame, size_t frame_len, uint64_t deadline_ns,
	     uint8_t **payload, uint32_t *len, bool *got)
{
	uint32_t be;
	int rc;

	*got = false;
	*payload = NULL;
	rc = util_sock_send_all(fd, frame, frame_len, deadline_ns);
	if (rc == 0)
		rc = util_sock_recv_all(fd, &be, 4, deadline_ns);
	if (rc == 0) {
		*got = true;
		*len = ntohl(be);
		if (*len == 0 || *len > P2P_RESP_MAX)
			rc = -EPROTO;
	}
	if (rc == 0) {
		*payload = malloc(*len);
		rc = *payload == NULL ? -ENOMEM
				      : util_sock_recv_all(fd, *payload, *len, deadline_ns);
	}
	if (rc != 0) {
		free(*payload);
		*payload = NULL;
	}
	return rc;
}

/*
 * One request, one answer: the answer's JSON object with status 0 in *out.
 * @keep (calls): on the handle's kept connection. A kept connection the
 * server closed meanwhile (idle, or displaced by newer ones) fails before
 * any answer: the server never read the request (it closes only idle
 * connections), so it is sent once more on a new one.
 */
static int
p2p_request_on(struct tern_directory *dir, json_t *req, json_t **out, bool keep)
{
	uint64_t deadline_ns = tern_clock_ns() + (uint64_t)dir->conf.timeout_ms * 1000000ull;
	struct p2p_client *c = keep ? dir->backend : NULL;
	uint8_t *frame, *payload = NULL;
	json_int_t status = 0, v = 0;
	json_t *root = NULL;
	size_t frame_len;
	json_error_t err;
	uint32_t len = 0;
	unsigned int t;
	bool got, reused;
	int fd, rc = 0;

	frame = frame_from_json(req, &frame_len);
	if (frame == NULL)
		return -ENOMEM;
	if (c != NULL)
		pthread_mutex_lock(&dir->lock);
	for (t = 0; t < 2; t++) {
		reused = c != NULL && c->fd >= 0 && tern_clock_ns() - c->used_ns < P2P_CALL_IDLE_NS;
		if (c != NULL && c->fd >= 0 && !reused) {
			close(c->fd);
			c->fd = -1;
		}
		fd = reused ? c->fd : connect_peer(&dir->ep[0], deadline_ns);
		if (fd < 0) {
			rc = fd;
			break;
		}
		rc = p2p_exchange(fd, frame, frame_len, deadline_ns, &payload, &len, &got);
		if (rc == 0 && c != NULL) {
			c->fd = fd;
			c->used_ns = tern_clock_ns();
			break;
		}
		close(fd);
		if (c != NULL)
			c->fd = -1;
		if (rc == 0 || !reused || got || (rc != -ECONNRESET && rc != -EPIPE))
			break;
	}
	if (c != NULL)
		pthread_mutex_unlock(&dir->lock);
	free(frame);
	if (rc == 0) {
		root = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &err);
		if (root == NULL ||
		    json_unpack(root, "{s:I, s:I}", "v", &v, "status", &status) != 0 ||
		    v != P2P_VERSION || !status_known(status))
			rc = -EPROTO;
		else
			rc = (int)status;
	}
	free(payload);
	if (rc == -EPROTO)
		DIR_LOG(WARNING, "p2p: malformed answer from %s:%u", dir->ep[0].host,
			dir->ep[0].port);
	if (rc < 0) {
		json_decref(root);
		return rc;
	}
	*out = root;
	return 0;
}

static int
p2p_request(struct tern_directory *dir, json_t *req, json_t **out)
{
	return p2p_request_on(dir, req, out, false);
}

static int
p2p_get(struct tern_directory *dir, const char *node, const char *segment, char **json, size_t *len)
{
	const char *text;
	json_t *answer;
	size_t n;
	int rc;

	rc = p2p_request(dir,
			 json_pack("{s:i, s:s, s:s, s:s}", "v", P2P_VERSION, "op", "get", "node",
				   node, "segment", segment),
			 &answer);
	if (rc < 0)
		return rc;
	rc = json_unpack(answer, "{s:s%}", "descriptor", &text, &n) == 0 ? 0 : -EPROTO;
	if (rc == 0) {
		*json = strndup(text, n);
		*len = n;
		rc = *json == NULL ? -ENOMEM : 0;
	}
	json_decref(answer);
	return rc;
}

static int
p2p_list(struct tern_directory *dir, const char *node, directory_list_cb cb, void *arg)
{
	json_t *answer, *arr, *v;
	size_t i;
	int rc;

	rc = p2p_request(dir,
			 json_pack("{s:i, s:s, s:s}", "v", P2P_VERSION, "op", "list", "node", node),
			 &answer);
	if (rc < 0)
		return rc;
	arr = json_object_get(answer, "descriptors");
	if (!json_is_array(arr))
		rc = -EPROTO;
	json_array_foreach(arr, i, v)
	{
		if (rc < 0)
			break;
		rc = json_is_string(v) ? cb(arg, NULL, json_string_value(v), json_string_length(v))
				       : -EPROTO;
	}
	json_decref(answer);
	return rc;
}

static int
p2p_call(struct tern_directory *dir, const char *node, const char *segment, const uint8_t *req,
	 size_t len, uint8_t *rep, size_t *rep_len)
{
	char hex[2 * TERN_DIRECTORY_P2P_MSG_MAX + 1];
	const char *text;
	json_t *answer;
	size_t n;
	int rc;

	hex_encode(req, len, hex);
	rc = p2p_request_on(dir,
			    json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", P2P_VERSION, "op", "call",
				      "node", node, "segment", segment, "msg", hex),
			    &answer, true);
	if (rc < 0)
		return rc;
	rc = json_unpack_ex(answer, NULL, JSON_STRICT, "{s:i, s:i, s:s%}", "v", &(int){ 0 },
			    "status", &(int){ 0 }, "msg", &text, &n) == 0
		     ? hex_decode(text, n, rep)
		     : -EPROTO;
	json_decref(answer);
	if (rc < 0) {
		DIR_LOG(WARNING, "p2p: malformed call answer from %s:%u", dir->ep[0].host,
			dir->ep[0].port);
		return -EPROTO;
	}
	*rep_len = (size_t)rc;
	return 0;
}

const struct directory_backend_ops directory_p2p_ops = {
	.scheme = "p2p",
	.max_endpoints = 1,
	.needs_prefix = false,
	.port_zero_ok = true,
	.init = p2p_init,
	.fini = p2p_fini,
	.get = p2p_get,
	.list = p2p_list,
	.serve = p2p_serve,
	.serve_poll = p2p_serve_poll,
	.serve_port = p2p_serve_port,
	.serve_stop = p2p_serve_stop,
	.call = p2p_call,
};
