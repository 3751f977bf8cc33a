/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shm transport's control side (doc/shm.md): the socket server and its
 * thread, the connections to peers, and the ops that export and import
 * segments. The data path (shm_transport.c) calls in here through
 * shm_control.h; nothing here calls the data path.
 *
 * A process that serves (tern_shm_configure()) listens on a Unix
 * SOCK_SEQPACKET socket; an importing process opens one connection per
 * peer socket and sends a request (handle, length, token) for each segment
 * it imports; the server answers with a status and, on success, the memfd
 * (SCM_RIGHTS). One control thread per process, "tern-shm", polls everything:
 * the listener, the accepted connections (it reads and answers requests) and
 * the connections to peers (it only watches them: a hang-up marks the peer
 * dead). The thread runs while the process serves or has peers. Importers
 * wait for their reply on the caller's thread, without the control mutex,
 * so a process can import from itself.
 *
 * Locks: life_lock serialises starting and stopping the thread and is taken
 * before ctl_lock, which guards everything in `ctl` and is held only briefly
 * (never across a wait for a peer). A peer's req_lock keeps one request and
 * its reply on the connection at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>

#include <tern_notify_driver.h>
#include <tern_segment_driver.h>
#include <tern_time.h>
#include <tern_transport_driver.h>
#include <tern_wire.h>
#include <util_sock.h>

#include "shm_control.h"
#include "shm_internal.h"
#include "shm_wire.h"
#include "tern_shm.h"

RTE_LOG_REGISTER(shm_logtype, tern.shm, INFO);
#define SHM_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, shm_logtype, "tern.shm: " fmt "\n", ##__VA_ARGS__)

#define PEERS_MAX	   64  /* connections to peers */
#define CONNS_MAX	   256 /* accepted connections */
#define ACCEPT_BURST	   16
#define FDS_MAX		   8 /* descriptors one message may carry (then closed) */
#define DEFAULT_TIMEOUT_MS 2000
#define BACKOFF_MS	   100 /* the listener rests this long when accept() lacks resources */
#define MAP_PAGE_MAX	   (1ull << 30)

static pthread_mutex_t life_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	/* target side */
	int listen_fd;
	char path[SHM_PATH_MAX];
	dev_t dev; /* the socket file we bound, to unlink only our own */
	ino_t ino;
	struct tern_segment_table *segments;
	struct tern_notify_queue *notify; /* where notifications go (NULL: -ENOTSUP) */
	uint64_t log_ms;		  /* the last refusal logged (rate limit) */
	uint64_t log_quiet;		  /* refusals not logged since */
	int conns[CONNS_MAX];
	uint32_t nb_conns;
	/* initiator side */
	uint32_t timeout_ms;
	TAILQ_HEAD(, shm_peer) peers;
	uint32_t nb_peers;
	/* the control thread (running: life_lock; the rest: ctl_lock) */
	bool running;
	bool stop;
	pthread_t thread;
	int wake_fd;
	uint64_t gen; /* bumped whenever the set of descriptors to poll changes */
	/* this host and process */
	bool identity;
	uint8_t boot_id[SHM_BOOT_ID_LEN];
	uint8_t key[SHM_KEY_LEN];
} ctl = {
	.listen_fd = -1,
	.timeout_ms = DEFAULT_TIMEOUT_MS,
	.peers = TAILQ_HEAD_INITIALIZER(ctl.peers),
	.wake_fd = -1,
};

struct shm_stats shm_stats;

/* ---- control path: helpers ---- */

/* This host's boot_id and this process's token key, read once. ctl_lock held. */
static int
identity_init(void)
{
	char text[64];
	ssize_t n;
	int fd;

	if (ctl.identity)
		return 0;
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, text, sizeof(text));
	if (fd >= 0)
		close(fd);
	if (n <= 0 || shm_boot_id_parse(text, (size_t)n, ctl.boot_id) != 0) {
		SHM_LOG(ERR, "cannot read this host's identity (/proc/sys/kernel/random/boot_id)");
		return -ENOTSUP;
	}
	if (getrandom(ctl.key, sizeof(ctl.key), 0) != (ssize_t)sizeof(ctl.key)) {
		SHM_LOG(ERR, "getrandom: %s", strerror(errno));
		return -ENOTSUP;
	}
	ctl.identity = true;
	return 0;
}

/* ctl_lock held. */
static void
ctl_wake(void)
{
	uint64_t one = 1;
	ssize_t n;

	if (ctl.wake_fd < 0)
		return;
	n = write(ctl.wake_fd, &one, sizeof(one));
	RTE_SET_USED(n); /* EAGAIN: a wake-up is pending already */
}

/*
 * Take the descriptors a received message carried: the first one into
 * *keep when @p keep is not NULL, the others closed (a peer must not be able
 * to fill our descriptor table). Returns how many there were.
 */
static int
fds_take(struct msghdr *msg, int *keep)
{
	struct cmsghdr *c;
	int n = 0, fd;
	size_t i, k;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++, n++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (keep != NULL && n == 0)
				*keep = fd;
			else
				close(fd);
		}
	}
	return n;
}

/*
 * Receive one message without waiting into @p buf: its size (the real one
 * when it was larger than @p len: then MSG_TRUNC is in *flags), 0 at end of
 * file, or a negative errno. *nfds descriptors came with it (see fds_take()).
 */
static ssize_t
msg_recv(int fd, uint8_t *buf, size_t len, int *keep, int *nfds, int *flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(FDS_MAX * sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf.buf,
			      .msg_controllen = sizeof(cbuf.buf) };
	ssize_t n;

	*nfds = 0;
	*flags = 0;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	*nfds = fds_take(&msg, keep);
	*flags = msg.msg_flags;
	return n;
}

/* ---- the control thread ---- */

static void *ctl_thread(void *arg);

/* Start the thread if it is not running. life_lock held, ctl_lock not. */
static int
thread_start(void)
{
	int fd, ret;

	if (ctl.running)
		return 0;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&ctl_lock);
	ctl.wake_fd = fd;
	ctl.stop = false;
	pthread_mutex_unlock(&ctl_lock);
	ret = rte_ctrl_thread_create(&ctl.thread, "tern-shm", NULL, ctl_thread, NULL);
	if (ret != 0) {
		SHM_LOG(ERR, "cannot start the control thread: %s", strerror(ret < 0 ? -ret : ret));
		pthread_mutex_lock(&ctl_lock);
		ctl.wake_fd = -1;
		pthread_mutex_unlock(&ctl_lock);
		close(fd);
		return ret < 0 ? ret : -ret;
	}
	ctl.running = true;
	return 0;
}

/* Stop the thread if nothing needs it. life_lock held, ctl_lock not. */
static void
thread_stop_if_idle(void)
{
	bool idle;

	if (!ctl.running)
		return;
	pthread_mutex_lock(&ctl_lock);
	idle = ctl.listen_fd < 0 && ctl.nb_peers == 0;
	if (idle) {
		ctl.stop = true;
		ctl_wake();
	}
	pthread_mutex_unlock(&ctl_lock);
	if (!idle)
		return;
	pthread_join(ctl.thread, NULL);
	pthread_mutex_lock(&ctl_lock);
	close(ctl.wake_fd);
	ctl.wake_fd = -1;
	ctl.stop = false;
	pthread_mutex_unlock(&ctl_lock);
	ctl.running = false;
}

/* ctl_lock held. */
static void
conn_close(uint32_t i)
{
	close(ctl.conns[i]);
	ctl.conns[i] = ctl.conns[--ctl.nb_conns];
	ctl.gen++;
}

static int
reply_send(int fd, const struct shm_rep *rep, int file)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	uint8_t buf[SHM_REP_LEN];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	shm_rep_encode(buf, rep);
	if (file >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &file, sizeof(int));
	}
	/* SEQPACKET: all or nothing. A full buffer means a client that does not
	 * read its replies: it loses its connection. */
	if (sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(buf))
		return errno != 0 ? -errno : -EIO;
	return 0;
}

/* Is @p seg a sealed memfd of ours that covers its segment? (A file segment
 * registered by another process of the DPDK instance has someone else's
 * descriptor number: never send what that number means here.) */
static bool
segment_file_ok(const struct tern_segment *seg)
{
	struct stat st;
	int seals;

	if (seg->kind != TERN_SEGMENT_LOCAL || !(seg->flags & TERN_SEGMENT_F_FILE) || seg->fd < 0)
		return false;
	seals = fcntl(seg->fd, F_GET_SEALS);
	return seals >= 0 && (seals & F_SEAL_SHRINK) && fstat(seg->fd, &st) == 0 &&
	       (uint64_t)st.st_size >= seg->length;
}

/* Answer one well-formed request. ctl_lock held. Returns 0, or the send
 * error (then the connection is closed). */
static int
request_answer(int fd, const struct shm_req *req)
{
	struct tern_segment *seg = NULL;
	struct shm_rep rep = { 0 };
	int ret;

	/* The token first: a client that only guesses learns nothing, not even
	 * whether a handle exists. */
	if (!shm_token_equal(req->token, shm_token(ctl.key, req->handle, req->length)))
		rep.status = -EACCES;
	else if ((seg = tern_segment_acquire(ctl.segments, req->handle, 0, 1, 1)) == NULL ||
		 !tern_segment_exported(seg))
		rep.status = -ENOENT; /* unknown, stale, retired or not exported */
	else if (!segment_file_ok(seg))
		rep.status = -ENOTSUP;
	else if (seg->length != req->length)
		rep.status = -EINVAL;
	if (rep.status == 0)
		rep.length = seg->length;
	/* Counted first: whoever reads the reply sees the counter moved. */
	if (rep.status == 0)
		STAT_INC(requests_served);
	else
		STAT_INC(requests_rejected);
	/* The reference keeps unregister (and its close()) off the descriptor
	 * until the kernel has taken its own reference to the file. */
	ret = reply_send(fd, &rep, rep.status == 0 ? seg->fd : -1);
	if (seg != NULL)
		tern_segment_release(seg, 1);
	return ret;
}

/* ctl_lock held. Deliver @p ntf into this node's queue; answer its status.
 * The initiator sent it after its copies into our segments completed (they
 * end with a store fence) and the socket orders the rest. */
static int
ntf_answer(int fd, const struct shm_ntf *ntf)
{
	struct shm_ntf_rep rep = { .cookie = ntf->cookie, .status = -ENOTSUP };
	uint8_t out[SHM_NTF_REP_LEN];

	if (ctl.notify != NULL)
		rep.status = tern_notify_deliver(ctl.notify, (const char *)ntf->sender, ntf->tag,
						 ntf->msg, ntf->msg_len);
	STAT_INC(notifications);
	shm_ntf_rep_encode(out, &rep);
	/* A client that does not read its answers loses its connection. */
	if (send(fd, out, sizeof(out), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(out))
		return -EIO;
	return 0;
}

/* Read and answer one message of accepted connection @p i. ctl_lock held. */
static void
conn_serve(uint32_t i, short revents)
{
	int fd = ctl.conns[i], nfds, flags, ret;
	uint8_t buf[RTE_MAX(SHM_REQ_LEN, SHM_NTF_MAX)];
	struct shm_req req;
	struct shm_ntf ntf;
	ssize_t n;

	n = msg_recv(fd, buf, sizeof(buf), NULL, &nfds, &flags);
	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n < 0 || (n == 0 && nfds == 0 && (revents & (POLLHUP | POLLRDHUP)))) {
		conn_close(i); /* the client went away */
		return;
	}
	if (nfds != 0 || (flags & MSG_CTRUNC))
		ret = -EBADMSG;
	else if (flags & MSG_TRUNC)
		ret = -EMSGSIZE;
	else if (n >= 4 && tern_wire_get_le32(buf) == SHM_NTF_MAGIC)
		ret = shm_ntf_decode(buf, (size_t)n, &ntf);
	else
		ret = shm_req_decode(buf, (size_t)n, &req);
	if (ret != 0) {
		/* Rate-limited: a hostile client must not flood the log. */
		if (tern_clock_ms() - ctl.log_ms >= 1000 || ctl.log_ms == 0) {
			SHM_LOG(NOTICE,
				"closed a connection on %s: %s (%zd bytes%s; %" PRIu64
				" more refusals not logged)",
				ctl.path, shm_req_strerror(ret), n,
				nfds != 0 ? ", with file descriptors" : "", ctl.log_quiet);
			ctl.log_ms = tern_clock_ms();
			ctl.log_quiet = 0;
		} else {
			ctl.log_quiet++;
		}
		STAT_INC(malformed);
		conn_close(i);
		return;
	}
	if (tern_wire_get_le32(buf) == SHM_NTF_MAGIC) {
		if (ntf_answer(fd, &ntf) != 0)
			conn_close(i);
		return;
	}
	if (request_answer(fd, &req) != 0)
		conn_close(i);
}

/* ctl_lock held. Returns true when accept() ran out of resources. */
static bool
listener_accept(void)
{
	unsigned int k;
	int fd;

	for (k = 0; k < ACCEPT_BURST; k++) {
		fd = accept4(ctl.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				SHM_LOG(WARNING, "accept on %s: %s", ctl.path, strerror(errno));
				return true;
			}
			return false; /* EAGAIN, or a connection that went away meanwhile */
		}
		if (ctl.nb_conns == CONNS_MAX) {
			close(fd);
			STAT_INC(refused);
			continue;
		}
		ctl.conns[ctl.nb_conns++] = fd;
		ctl.gen++;
		STAT_INC(accepted);
	}
	return false;
}

/* ctl_lock held. */
static void
peer_lost(struct shm_peer *p)
{
	STAT_INC(peers_lost); /* first: whoever sees the peer dead sees it counted */
	__atomic_store_n(&p->reusable, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->alive, 0, __ATOMIC_RELEASE);
	ctl.gen++;
	SHM_LOG(WARNING,
		"peer %s closed its connection: slices on its %u import(s) fail with "
		"ECONNRESET",
		p->path, p->refs);
}

static void *
ctl_thread(void *arg)
{
	struct pollfd pfd[2 + CONNS_MAX + PEERS_MAX];
	struct shm_peer *watched[PEERS_MAX];
	uint32_t nb_conns, nb_watched, i;
	uint64_t backoff_until = 0, gen, drained;
	struct shm_peer *p;
	int n, first, ret, timeout_ms;
	bool listening;
	ssize_t r;

	RTE_SET_USED(arg);
	pthread_mutex_lock(&ctl_lock);
	while (!ctl.stop) {
		n = 0;
		pfd[n++] = (struct pollfd){ .fd = ctl.wake_fd, .events = POLLIN };
		listening = ctl.listen_fd >= 0 && tern_clock_ms() >= backoff_until;
		if (listening)
			pfd[n++] = (struct pollfd){ .fd = ctl.listen_fd, .events = POLLIN };
		nb_conns = ctl.nb_conns;
		for (i = 0; i < nb_conns; i++)
			pfd[n++] =
				(struct pollfd){ .fd = ctl.conns[i], .events = POLLIN | POLLRDHUP };
		nb_watched = 0;
		TAILQ_FOREACH (p, &ctl.peers, next) {
			if (!__atomic_load_n(&p->alive, __ATOMIC_RELAXED))
				continue;
			/* No POLLIN: the importer reads its replies; a hang-up
			 * or an error is reported whatever the events. */
			watched[nb_watched++] = p;
			pfd[n++] = (struct pollfd){ .fd = p->fd, .events = 0 };
		}
		gen = ctl.gen;
		timeout_ms = listening || ctl.listen_fd < 0 ? -1 : BACKOFF_MS;
		pthread_mutex_unlock(&ctl_lock);
		ret = poll(pfd, (nfds_t)n, timeout_ms);
		pthread_mutex_lock(&ctl_lock);
		if (ret <= 0)
			continue;
		if (pfd[0].revents != 0) {
			r = read(ctl.wake_fd, &drained, sizeof(drained));
			RTE_SET_USED(r);
		}
		/* Something changed meanwhile: the snapshot may name closed or
		 * reused descriptors and freed peers. Poll is level-triggered:
		 * whatever was ready is reported again. */
		if (gen != ctl.gen)
			continue;
		first = listening ? 2 : 1;
		for (i = 0; i < nb_watched; i++)
			if (pfd[first + nb_conns + i].revents != 0)
				peer_lost(watched[i]);
		/* Backwards: closing connection i moves the last one into slot i. */
		for (i = nb_conns; i-- > 0;)
			if (pfd[first + i].revents != 0)
				conn_serve(i, pfd[first + i].revents);
		if (listening && pfd[1].revents != 0 && listener_accept())
			backoff_until = tern_clock_ms() + BACKOFF_MS;
	}
	pthread_mutex_unlock(&ctl_lock);
	return NULL;
}

/* ---- control path: serving ---- */

/* Make way at @p sa: nothing there, or a stale socket nobody answers on. */
static int
path_claim(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ? 0 : -errno;
	close(fd);
	/* Connected, a full backlog, or a live socket of another type. */
	if (ret == 0 || ret == -EAGAIN || ret == -EPROTOTYPE)
		return -EADDRINUSE;
	if (ret != -ECONNREFUSED)
		return ret;
	if (unlink(sa->sun_path) != 0 && errno != ENOENT)
		return -errno;
	SHM_LOG(INFO, "removed the stale socket %s", sa->sun_path);
	return 0;
}

/* ctl_lock held. */
static int
serve_start(const char *path, struct tern_segment_table *tbl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	ret = path_claim(&sa);
	if (ret != 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* Nobody can connect before listen(): the mode is 0600 before anyone can. */
	if (chmod(path, 0600) != 0 || lstat(path, &st) != 0 || listen(fd, 64) != 0) {
		ret = -errno;
		unlink(path);
		close(fd);
		return ret;
	}
	ctl.listen_fd = fd;
	ctl.dev = st.st_dev;
	ctl.ino = st.st_ino;
	memcpy(ctl.path, path, strlen(path) + 1);
	ctl.segments = tbl;
	ctl.gen++;
	ctl_wake();
	SHM_LOG(INFO, "serving the file segments of table %s on %s", tbl->name, path);
	return 0;
}

/* ctl_lock held. */
static void
serve_stop(void)
{
	struct stat st;
	uint32_t i;

	if (ctl.listen_fd < 0)
		return;
	/* Peers see their connections close: this process's segments are gone. */
	for (i = 0; i < ctl.nb_conns; i++)
		close(ctl.conns[i]);
	ctl.nb_conns = 0;
	close(ctl.listen_fd);
	ctl.listen_fd = -1;
	if (lstat(ctl.path, &st) == 0 && st.st_dev == ctl.dev && st.st_ino == ctl.ino)
		unlink(ctl.path);
	ctl.segments = NULL;
	ctl.gen++;
	ctl_wake();
	SHM_LOG(INFO, "stopped serving on %s", ctl.path);
}

int
tern_shm_configure(const struct tern_shm_conf *conf)
{
	bool serve = conf != NULL && conf->socket_path != NULL;
	size_t len;
	int ret = 0;

	if (serve) {
		len = strnlen(conf->socket_path, SHM_PATH_MAX);
		if (len < 2 || len >= SHM_PATH_MAX || conf->socket_path[0] != '/' ||
		    conf->segments == NULL)
			return -EINVAL;
	}
	pthread_mutex_lock(&life_lock);
	pthread_mutex_lock(&ctl_lock);
	if (conf == NULL) {
		serve_stop();
		ctl.notify = NULL;
		ctl.timeout_ms = DEFAULT_TIMEOUT_MS;
		pthread_mutex_unlock(&ctl_lock);
		thread_stop_if_idle();
		pthread_mutex_unlock(&life_lock);
		return 0;
	}
	if (serve && ctl.listen_fd >= 0)
		ret = -EBUSY;
	else
		ret = identity_init();
	if (ret == 0)
		ctl.timeout_ms = conf->request_timeout_ms != 0 ? conf->request_timeout_ms
							       : DEFAULT_TIMEOUT_MS;
	if (ret == 0 && serve)
		ret = serve_start(conf->socket_path, conf->segments);
	if (ret == 0)
		ctl.notify = conf->notify;
	pthread_mutex_unlock(&ctl_lock);
	if (ret == 0 && serve) {
		ret = thread_start();
		if (ret != 0) {
			pthread_mutex_lock(&ctl_lock);
			serve_stop();
			pthread_mutex_unlock(&ctl_lock);
		}
	}
	pthread_mutex_unlock(&life_lock);
	if (ret != 0 && serve)
		SHM_LOG(ERR, "cannot serve on %s: %s", conf->socket_path, strerror(-ret));
	return ret;
}

int
tern_shm_stats(struct tern_shm_stats *out)
{
	if (out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->accepted = STAT_GET(accepted);
	out->refused = STAT_GET(refused);
	out->requests_served = STAT_GET(requests_served);
	out->requests_rejected = STAT_GET(requests_rejected);
	out->malformed = STAT_GET(malformed);
	out->peers_connected = STAT_GET(peers_connected);
	out->peers_lost = STAT_GET(peers_lost);
	out->imports = STAT_GET(imports);
	out->import_errors = STAT_GET(import_errors);
	out->releases = STAT_GET(releases);
	out->failed_slices = STAT_GET(failed_slices);
	out->notifications = STAT_GET(notifications);
	pthread_mutex_lock(&ctl_lock);
	out->serving_conns = ctl.nb_conns;
	out->peers = ctl.nb_peers;
	pthread_mutex_unlock(&ctl_lock);
	return 0;
}

uint64_t
shm_test_token(uint32_t handle, uint64_t length)
{
	uint64_t token = 0;

	pthread_mutex_lock(&ctl_lock);
	if (identity_init() == 0)
		token = shm_token(ctl.key, handle, length);
	pthread_mutex_unlock(&ctl_lock);
	return token;
}

/* ---- control path: peers ---- */

static int
peer_connect(const char *path, uint32_t timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline_ns = tern_clock_ns() + (uint64_t)timeout_ms * 1000000u;
	struct timespec pause = { .tv_nsec = 1000000 };
	int fd, ret;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
		ret = -errno;
		/* EAGAIN: the server's backlog is full; it is busy, not gone. */
		if (ret != -EAGAIN || tern_clock_ns() >= deadline_ns) {
			close(fd);
			return ret == -EAGAIN ? -ETIMEDOUT : ret;
		}
		nanosleep(&pause, NULL);
	}
	return fd;
}

/* A connection to the peer at @p path with a reference for the caller:
 * the one in use if it is alive and in step, else a new one. */
static int
peer_get(const char *path, struct shm_peer **out)
{
	struct shm_peer *p;
	uint32_t timeout_ms;
	int fd, ret;

	pthread_mutex_lock(&ctl_lock);
	TAILQ_FOREACH (p, &ctl.peers, next) {
		if (__atomic_load_n(&p->alive, __ATOMIC_RELAXED) &&
		    __atomic_load_n(&p->reusable, __ATOMIC_RELAXED) && strcmp(p->path, path) == 0) {
			p->refs++;
			pthread_mutex_unlock(&ctl_lock);
			*out = p;
			return 0;
		}
	}
	timeout_ms = ctl.timeout_ms;
	pthread_mutex_unlock(&ctl_lock);

	fd = peer_connect(path, timeout_ms);
	if (fd < 0)
		return fd;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		close(fd);
		return -ENOMEM;
	}
	p->fd = fd;
	p->alive = 1;
	p->reusable = 1;
	p->refs = 1;
	pthread_mutex_init(&p->req_lock, NULL);
	memcpy(p->path, path, strlen(path) + 1);

	pthread_mutex_lock(&life_lock);
	pthread_mutex_lock(&ctl_lock);
	ret = ctl.nb_peers == PEERS_MAX ? -ENOSPC : 0;
	if (ret == 0) {
		TAILQ_INSERT_TAIL(&ctl.peers, p, next);
		ctl.nb_peers++;
		ctl.gen++;
		ctl_wake();
	}
	pthread_mutex_unlock(&ctl_lock);
	if (ret == 0) {
		ret = thread_start();
		if (ret != 0) {
			pthread_mutex_lock(&ctl_lock);
			TAILQ_REMOVE(&ctl.peers, p, next);
			ctl.nb_peers--;
			ctl.gen++;
			pthread_mutex_unlock(&ctl_lock);
		}
	}
	pthread_mutex_unlock(&life_lock);
	if (ret != 0) {
		close(fd);
		pthread_mutex_destroy(&p->req_lock);
		free(p);
		return ret;
	}
	STAT_INC(peers_connected);
	*out = p;
	return 0;
}

static void
peer_put(struct shm_peer *p)
{
	bool last;

	pthread_mutex_lock(&life_lock);
	pthread_mutex_lock(&ctl_lock);
	last = --p->refs == 0;
	if (last) {
		TAILQ_REMOVE(&ctl.peers, p, next);
		ctl.nb_peers--;
		ctl.gen++; /* the thread drops p from its snapshot before touching it */
		ctl_wake();
	}
	pthread_mutex_unlock(&ctl_lock);
	if (last) {
		close(p->fd);
		pthread_mutex_destroy(&p->req_lock);
		free(p);
		thread_stop_if_idle();
	}
	pthread_mutex_unlock(&life_lock);
}

/*
 * Send the request for @p b's segment and receive the reply and its
 * descriptor. A reply that does not come in time, or that cannot be read,
 * leaves the connection out of step: later imports open a new one.
 */
static int
peer_request(struct shm_peer *p, const struct shm_blob *b, uint32_t timeout_ms, int *file)
{
	const struct shm_req req = { .handle = b->handle, .length = b->length, .token = b->token };
	uint8_t out[SHM_REQ_LEN], in[SHM_REP_LEN];
	uint64_t deadline_ns = tern_clock_ns() + (uint64_t)timeout_ms * 1000000u;
	int ret, nfds, flags, fd = -1;
	struct shm_rep rep;
	bool in_step;
	ssize_t n;

	pthread_mutex_lock(&p->req_lock);
	if (!__atomic_load_n(&p->alive, __ATOMIC_ACQUIRE)) {
		ret = -ECONNRESET;
		goto out;
	}
	if (!__atomic_load_n(&p->reusable, __ATOMIC_RELAXED)) {
		ret = -ETIMEDOUT; /* a request before ours was not answered */
		goto out;
	}
	/* Nothing may wait between requests: a message nobody asked for
	 * would be taken for our reply. */
	n = msg_recv(p->fd, in, sizeof(in), NULL, &nfds, &flags);
	if (n != -EAGAIN) {
		ret = n == 0 ? -ECONNRESET : n > 0 ? -EPROTO : (int)n;
		goto broken;
	}
	shm_req_encode(out, &req);
	ret = util_sock_wait(p->fd, POLLOUT, deadline_ns);
	if (ret != 0)
		goto broken;
	n = send(p->fd, out, sizeof(out), MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)sizeof(out)) {
		ret = n < 0 ? -errno : -EPROTO;
		goto broken;
	}
	ret = util_sock_wait(p->fd, POLLIN, deadline_ns);
	if (ret != 0)
		goto broken;
	n = msg_recv(p->fd, in, sizeof(in), &fd, &nfds, &flags);
	in_step = false;
	if (n <= 0) {
		ret = n == 0 ? -ECONNRESET : (int)n;
	} else if ((flags & (MSG_TRUNC | MSG_CTRUNC)) || shm_rep_decode(in, (size_t)n, &rep) != 0) {
		ret = -EPROTO;
	} else if (rep.status != 0) {
		/* The peer said no: the connection is in step. */
		ret = nfds == 0 ? rep.status : -EPROTO;
		in_step = nfds == 0;
	} else if (nfds != 1 || rep.length != b->length) {
		ret = -EPROTO;
	} else {
		*file = fd;
		goto out;
	}
	if (fd >= 0)
		close(fd);
	if (in_step)
		goto out;
broken:
	__atomic_store_n(&p->reusable, 0, __ATOMIC_RELAXED);
out:
	pthread_mutex_unlock(&p->req_lock);
	return ret;
}

/* Check the peer's file and map @p length bytes of it. */
static int
file_map(int fd, uint64_t length, uint8_t **base, uint64_t *map_len)
{
	struct statfs sfs;
	struct stat st;
	uint64_t page;
	void *addr;
	int seals;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < length)
		return -EINVAL;
	/* Without this seal the peer could shrink the file under our mapping,
	 * and the lcores would take SIGBUS. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EPERM;
	if (fstatfs(fd, &sfs) != 0)
		return -errno;
	page = sfs.f_type == HUGETLBFS_MAGIC ? (uint64_t)sfs.f_bsize : (uint64_t)getpagesize();
	if (!rte_is_power_of_2(page) || page > MAP_PAGE_MAX)
		return -EINVAL;
	*map_len = RTE_ALIGN_CEIL(length, page);
	addr = mmap(NULL, *map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (addr == MAP_FAILED)
		return -errno;
	*base = addr;
	return 0;
}

/* ---- the transport's ops: descriptors ---- */

int
shm_probe(void)
{
	int ret;

	pthread_mutex_lock(&ctl_lock);
	ret = identity_init();
	pthread_mutex_unlock(&ctl_lock);
	return ret;
}

/* Is @p seg a slot of @p tbl (and the slot of its own handle)? */
static bool
segment_in_table(const struct tern_segment_table *tbl, const struct tern_segment *seg)
{
	return seg >= tbl->slots && seg < tbl->slots + tbl->capacity &&
	       seg == &tbl->slots[tern_segment_handle_slot(seg->handle)];
}

int
shm_segment_export(const struct tern_segment *seg, void *desc, size_t desc_len)
{
	struct shm_blob b;
	int ret;

	if (seg == NULL || desc == NULL)
		return -EINVAL;
	pthread_mutex_lock(&ctl_lock);
	if (ctl.listen_fd < 0) {
		ret = -ENOTCONN;
	} else if (!segment_in_table(ctl.segments, seg) || seg->kind != TERN_SEGMENT_LOCAL ||
		   !(seg->flags & TERN_SEGMENT_F_FILE) ||
		   __atomic_load_n(&seg->state, __ATOMIC_ACQUIRE) != TERN_SEGMENT_ACTIVE) {
		ret = -ENOTSUP;
	} else if (!tern_segment_exported(seg)) {
		ret = -EPERM;
	} else {
		memset(&b, 0, sizeof(b));
		memcpy(b.boot_id, ctl.boot_id, sizeof(b.boot_id));
		b.handle = seg->handle;
		b.length = seg->length;
		b.token = shm_token(ctl.key, seg->handle, seg->length);
		memcpy(b.path, ctl.path, sizeof(b.path));
		ret = shm_blob_encode(desc, desc_len, &b);
	}
	pthread_mutex_unlock(&ctl_lock);
	return ret;
}

int
shm_segment_import(struct tern_segment *seg, const void *desc, size_t desc_len)
{
	struct shm_remote r = { 0 };
	uint32_t timeout_ms;
	struct shm_blob b;
	int ret, fd = -1;

	RTE_BUILD_BUG_ON(sizeof(struct shm_remote) > TERN_SEGMENT_PRIV_SIZE);
	RTE_BUILD_BUG_ON(SHM_BLOB_MAX != TERN_SHM_BLOB_MAX);
	if (seg == NULL || desc == NULL || shm_blob_decode(desc, desc_len, &b) != 0 ||
	    seg->length > b.length)
		return -EINVAL;
	pthread_mutex_lock(&ctl_lock);
	ret = identity_init();
	if (ret == 0 && memcmp(b.boot_id, ctl.boot_id, SHM_BOOT_ID_LEN) != 0)
		ret = -EXDEV; /* another host: the caller tries another transport */
	timeout_ms = ctl.timeout_ms;
	pthread_mutex_unlock(&ctl_lock);
	if (ret != 0)
		return ret;

	ret = peer_get(b.path, &r.peer);
	if (ret == 0)
		ret = peer_request(r.peer, &b, timeout_ms, &fd);
	if (ret == 0) {
		ret = file_map(fd, b.length, &r.base, &r.map_len);
		close(fd); /* the mapping keeps the file */
	}
	if (ret != 0) {
		if (r.peer != NULL)
			peer_put(r.peer);
		STAT_INC(import_errors);
		SHM_LOG(INFO, "cannot import segment %#x from %s: %s", b.handle, b.path,
			strerror(-ret));
		return ret;
	}
	r.length = b.length;
	memset(seg->priv, 0, sizeof(seg->priv));
	memcpy(seg->priv, &r, sizeof(r));
	STAT_INC(imports);
	return 0;
}

void
shm_segment_release(struct tern_segment *seg)
{
	struct shm_remote r;

	if (seg == NULL)
		return;
	memcpy(&r, seg->priv, sizeof(r));
	if (r.base == NULL || r.peer == NULL)
		return;
	munmap(r.base, r.map_len);
	peer_put(r.peer);
	memset(seg->priv, 0, sizeof(r)); /* a second call on this copy does nothing */
	STAT_INC(releases);
}

/* ---- configuration through the registry ---- */

/* The socket served, for describe(). */
static char shm_socket_name[SHM_PATH_MAX];

/* Serves by default on <runtime dir>/tern_shm.sock. */
int
shm_configure(const char *args, const struct tern_transport_env *env)
{
	struct tern_shm_conf conf = { .segments = env->segments, .notify = env->notify };
	char path[SHM_PATH_MAX] = "";
	bool given = false;
	const struct tern_transport_arg spec[] = {
		{ .key = "socket",
		  .kind = TERN_TRANSPORT_ARG_STRING,
		  .dst = path,
		  .len = sizeof(path),
		  .given = &given },
		{ .key = "request_timeout_ms",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.request_timeout_ms,
		  .min = 1,
		  .max = 3600000 },
	};
	int ret;

	ret = tern_transport_args_parse("shm", args, spec, RTE_DIM(spec));
	if (ret != 0)
		return ret;
	if (!given && (size_t)snprintf(path, sizeof(path), "%s/tern_shm.sock", env->runtime_dir) >=
			      sizeof(path))
		return -ENAMETOOLONG;
	conf.socket_path = path;
	ret = tern_shm_configure(&conf);
	if (ret == 0)
		snprintf(shm_socket_name, sizeof(shm_socket_name), "%s", path);
	return ret;
}

void
shm_stop(void)
{
	tern_shm_configure(NULL);
	shm_socket_name[0] = '\0';
}

int
shm_describe(char *buf, size_t len)
{
	if (shm_socket_name[0] == '\0')
		return 0;
	return snprintf(buf, len, "serving on %s", shm_socket_name);
}
