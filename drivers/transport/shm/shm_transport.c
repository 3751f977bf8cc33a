/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shm transport (doc/shm.md): READ/WRITE into a peer's segment that this
 * process has mapped from the peer's sealed memfd. This file is the data
 * path and the ops table; the socket server, the control thread and the
 * peers are in shm_control.c, which this file calls (shm_control.h) and
 * which never calls back.
 *
 * Like the memcpy transport: the lcore copies each slice as it is posted,
 * after one relaxed check of the peer's alive flag; completions wait in a
 * per-endpoint ring until polled.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include <tern_copy_endpoint.h>
#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "shm_control.h"
#include "shm_wire.h"
#include "tern_shm.h"

/*
 * Notifications (doc/notify.md, doc/shm.md "Notifications"): the lcore
 * sends each one on a connection of its own to the target's socket (never
 * the importers' connection, whose requests and replies must stay in step),
 * non-blocking, and reads the answers in poll(). The target's control thread
 * delivers it into the target's queue and answers with the status.
 */
#define NTF_CONNS 8  /* target sockets one lcore notifies at once */
#define NTF_OUT	  64 /* notifications one lcore has in flight */

struct ntf_conn {
	int fd; /* -1: free */
	uint32_t out;
	char path[SHM_PATH_MAX];
};

struct ntf_out {
	uint64_t cookie;
	int32_t conn; /* -1: free */
};

struct shm_endpoint {
	struct tern_endpoint base; /* first: what the engine holds */
	struct tern_endpoint *copy;
	uint32_t nb_out;
	uint32_t done_head, done_tail; /* completions waiting for poll() */
	struct tern_completion done[NTF_OUT];
	struct ntf_out out[NTF_OUT];
	struct ntf_conn conns[NTF_CONNS];
};

static inline struct shm_endpoint *
shm_ep(struct tern_endpoint *base)
{
	return container_of(base, struct shm_endpoint, base);
}

static struct tern_endpoint *
shm_endpoint_open(const struct tern_endpoint_conf *conf)
{
	struct shm_endpoint *ep;
	unsigned int i;

	ep = rte_zmalloc_socket("tern_shm_ep", sizeof(*ep), RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (ep == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ep->copy = tern_copy_endpoint_open(conf, "tern_shm_copy");
	if (ep->copy == NULL) {
		rte_free(ep);
		return NULL;
	}
	ep->base.lcore_id = conf->lcore_id;
	for (i = 0; i < NTF_CONNS; i++)
		ep->conns[i].fd = -1;
	for (i = 0; i < NTF_OUT; i++)
		ep->out[i].conn = -1;
	return &ep->base;
}

/* Complete every notification in flight on connection @p c with @p status
 * and close it. */
static void
ntf_conn_fail(struct shm_endpoint *ep, int32_t c, int32_t status)
{
	unsigned int i;

	for (i = 0; i < NTF_OUT; i++) {
		if (ep->out[i].conn != c)
			continue;
		ep->done[ep->done_tail++ % NTF_OUT] =
			(struct tern_completion){ .cookie = ep->out[i].cookie, .status = status };
		ep->out[i].conn = -1;
		ep->nb_out--;
	}
	close(ep->conns[c].fd);
	ep->conns[c].fd = -1;
	ep->conns[c].out = 0;
}

/* The connection of this lcore to @p path, opened if needed (non-blocking:
 * a full backlog is -EAGAIN). */
static int
ntf_conn_get(struct shm_endpoint *ep, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int i, free_slot = -1, fd;

	for (i = 0; i < NTF_CONNS; i++) {
		if (ep->conns[i].fd >= 0 && strcmp(ep->conns[i].path, path) == 0)
			return i;
		/* A free slot first, else an idle connection. */
		if (ep->conns[i].fd < 0 ? free_slot < 0 || ep->conns[free_slot].fd >= 0
					: free_slot < 0 && ep->conns[i].out == 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return -EAGAIN;
	if (ep->conns[free_slot].fd >= 0)
		close(ep->conns[free_slot].fd); /* idle: make room */
	ep->conns[free_slot].fd = -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int ret = errno == EAGAIN ? -EAGAIN : -ECONNRESET;

		close(fd);
		return ret;
	}
	ep->conns[free_slot].fd = fd;
	ep->conns[free_slot].out = 0;
	memcpy(ep->conns[free_slot].path, path, strlen(path) + 1);
	return free_slot;
}

static int
shm_notify_post(struct tern_endpoint *base, const struct tern_notify_post *n)
{
	struct shm_endpoint *ep = shm_ep(base);
	uint8_t buf[SHM_NTF_MAX];
	struct shm_remote r;
	int c, len;
	unsigned int i;
	ssize_t sent;

	if (n == NULL || n->target == NULL || n->wire == NULL || n->msg_len > SHM_NTF_MSG_MAX)
		return -EINVAL;
	memcpy(&r, n->target->priv, sizeof(r));
	if (unlikely(r.peer == NULL))
		return -EINVAL;
	if (unlikely(!__atomic_load_n(&r.peer->alive, __ATOMIC_RELAXED)))
		return -ECONNRESET;
	if (ep->nb_out == NTF_OUT)
		return -EAGAIN;
	c = ntf_conn_get(ep, r.peer->path);
	if (c < 0)
		return c;
	len = shm_ntf_encode(buf, sizeof(buf), n->cookie, n->tag, n->wire, n->msg_len);
	if (len < 0)
		return len;
	/* The copies of the batch completed before the engine posted this (and
	 * ended with a store fence); send() orders after them. */
	sent = send(ep->conns[c].fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (sent != len) {
		if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		ntf_conn_fail(ep, c, -ECONNRESET);
		return -ECONNRESET;
	}
	for (i = 0; i < NTF_OUT; i++) {
		if (ep->out[i].conn < 0) {
			ep->out[i].conn = c;
			ep->out[i].cookie = n->cookie;
			break;
		}
	}
	ep->nb_out++;
	ep->conns[c].out++;
	return 0;
}

/* Read the answers waiting on connection @p c, up to @p max completions. */
static uint16_t
ntf_conn_read(struct shm_endpoint *ep, int32_t c, struct tern_completion *cpl, uint16_t max)
{
	uint8_t buf[SHM_NTF_REP_LEN + 1];
	struct shm_ntf_rep rep;
	uint16_t n = 0;
	unsigned int i;
	ssize_t len;

	while (n < max && ep->conns[c].out > 0) {
		len = recv(ep->conns[c].fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (len <= 0 || shm_ntf_rep_decode(buf, (size_t)len, &rep) != 0) {
			ntf_conn_fail(ep, c, len <= 0 ? -ECONNRESET : -EPROTO);
			break;
		}
		for (i = 0; i < NTF_OUT; i++)
			if (ep->out[i].conn == c && ep->out[i].cookie == rep.cookie)
				break;
		if (i == NTF_OUT) { /* an answer nobody asked for */
			ntf_conn_fail(ep, c, -EPROTO);
			break;
		}
		ep->out[i].conn = -1;
		ep->nb_out--;
		ep->conns[c].out--;
		cpl[n++] = (struct tern_completion){ .cookie = rep.cookie, .status = rep.status };
	}
	return n;
}

static uint16_t
shm_poll(struct tern_endpoint *base, struct tern_completion *cpl, uint16_t max)
{
	struct shm_endpoint *ep = shm_ep(base);
	uint16_t n = tern_copy_endpoint_poll(ep->copy, cpl, max);
	int32_t c;

	if (likely(ep->nb_out == 0 && ep->done_head == ep->done_tail))
		return n;
	for (c = 0; c < NTF_CONNS && n < max; c++)
		if (ep->conns[c].fd >= 0 && ep->conns[c].out > 0)
			n += ntf_conn_read(ep, c, cpl + n, max - n);
	while (n < max && ep->done_head != ep->done_tail)
		cpl[n++] = ep->done[ep->done_head++ % NTF_OUT];
	return n;
}

static void
shm_cancel(struct tern_endpoint *base)
{
	struct shm_endpoint *ep = shm_ep(base);
	int32_t c;

	for (c = 0; c < NTF_CONNS; c++)
		if (ep->conns[c].fd >= 0 && ep->conns[c].out > 0)
			ntf_conn_fail(ep, c, -ECANCELED);
}

static void
shm_endpoint_close(struct tern_endpoint *base)
{
	struct shm_endpoint *ep = shm_ep(base);
	int32_t c;

	for (c = 0; c < NTF_CONNS; c++)
		if (ep->conns[c].fd >= 0)
			close(ep->conns[c].fd);
	tern_copy_endpoint_close(ep->copy);
	rte_free(ep);
}

static inline int32_t
copy_slice(const struct tern_slice *s)
{
	struct shm_remote r;

	memcpy(&r, s->target->priv, sizeof(r));
	if (unlikely(r.peer == NULL || s->offset > r.length || s->length > r.length - s->offset))
		return -EINVAL;
	/* The mapping would still work, but it no longer belongs to anyone. */
	if (unlikely(!__atomic_load_n(&r.peer->alive, __ATOMIC_RELAXED))) {
		STAT_INC(failed_slices);
		return -ECONNRESET;
	}
	tern_copy_slice(s, r.base + s->offset);
	return 0;
}

static uint16_t
shm_post_burst(struct tern_endpoint *ep, const struct tern_slice *slices, uint16_t nb)
{
	return tern_copy_endpoint_post(shm_ep(ep)->copy, slices, nb, copy_slice);
}

static const struct tern_transport_ops shm_ops = {
	.name = "shm",
	.rank = 5,
	.flags = TERN_TRANSPORT_F_FILE_SEGMENTS,
	.params = SHM_PARAMS,
	.configure = shm_configure,
	.stop = shm_stop,
	.describe = shm_describe,
	.probe = shm_probe,
	.segment_export = shm_segment_export,
	.segment_import = shm_segment_import,
	.segment_release = shm_segment_release,
	.endpoint_open = shm_endpoint_open,
	.post_burst = shm_post_burst,
	.poll = shm_poll,
	.cancel = shm_cancel,
	.endpoint_close = shm_endpoint_close,
	.notify_post = shm_notify_post,
};

TERN_TRANSPORT_REGISTER(shm_ops)
