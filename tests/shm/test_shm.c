/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shm transport in one process that serves itself: it exports its own
 * file segments on a socket in a temporary directory, imports them back and
 * moves data through a real engine. Then everything a hostile or broken
 * party can send: raw requests on the socket, blobs, and replies from a fake
 * server; and a server that stops serving under its importers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>

#include <tern_notify.h>
#include <tern_transport_driver.h>
#include <tern_shm.h>

#include "shm_control.h"
#include "shm_internal.h"
#include "shm_wire.h"
#include "test_common.h"
#include "test_notify_rounds.h"

#define EXPORT_BYTES (24u << 20)
#define BUFS_MAX     8

static struct test_env env;
static struct tern_notify_queue *ntf_q; /* the node's queue (depth NTF_DEPTH) */
#define NTF_DEPTH 16
static char dir[64];
static char sock_path[128];
static int serial;
static void *bufs[BUFS_MAX];
static unsigned int nb_bufs;

static const struct tern_transport_ops *
shm(void)
{
	const struct tern_transport_ops *ops = tern_transport_get(tern_transport_id("shm"));

	assert_non_null(ops);
	return ops;
}

static struct tern_segment *
slot_of(uint32_t h)
{
	return &env.segments->slots[tern_segment_handle_slot(h)];
}

static void
serve(void)
{
	snprintf(sock_path, sizeof(sock_path), "%s/s%d.sock", dir, serial++);
	assert_int_equal(tern_shm_configure(&(struct tern_shm_conf){ .socket_path = sock_path,
								     .segments = env.segments,
								     .request_timeout_ms = 500,
								     .notify = ntf_q }),
			 0);
}

static void *
local_buffer(const char *name, uint64_t len)
{
	void *p;

	assert_true(nb_bufs < BUFS_MAX);
	test_segment_local(&env, name, len, &p);
	bufs[nb_bufs++] = p;
	return p;
}

static int
export_blob(uint32_t h, uint8_t *blob, size_t len)
{
	(void)tern_segment_export(env.segments, h); /* a REMOTE one is refused below */
	return shm()->segment_export(slot_of(h), blob, len);
}

/* Import @p blob and register it as REMOTE @p name, as lib/peer does. */
static int
import_as(const char *name, const uint8_t *blob, size_t len, uint64_t length, uint32_t *h)
{
	struct tern_segment scratch;
	struct tern_segment_conf conf = { 0 };
	int ret;

	memset(&scratch, 0, sizeof(scratch));
	scratch.kind = TERN_SEGMENT_REMOTE;
	scratch.length = length;
	ret = shm()->segment_import(&scratch, blob, len);
	if (ret != 0)
		return ret;
	conf.name = name;
	conf.length = length;
	conf.kind = TERN_SEGMENT_REMOTE;
	conf.transport = "shm";
	conf.socket_id = SOCKET_ID_ANY;
	conf.priv = scratch.priv;
	conf.priv_len = TERN_SEGMENT_PRIV_SIZE;
	ret = tern_segment_register(env.segments, &conf, h);
	if (ret != 0)
		shm()->segment_release(&scratch);
	return ret;
}

/*
 * Unregister a LOCAL segment. The server holds a reference on a segment
 * while it sends its descriptor, and the importer may read the reply before
 * the server's sendmsg() returns: -EBUSY is then expected for a moment.
 */
static int
unregister(uint32_t h)
{
	int ret, i;

	for (i = 0; i < 1000; i++) {
		ret = tern_segment_unregister(env.segments, h);
		if (ret != -EBUSY)
			break;
		usleep(1000);
	}
	return ret;
}

static void
unimport(uint32_t h)
{
	struct tern_segment copy = *slot_of(h);

	assert_int_equal(tern_segment_unregister(env.segments, h), 0);
	shm()->segment_release(&copy);
}

/* A file segment of our own, exported: its blob. */
static int
exported(const char *name, uint64_t len, uint32_t *h, uint8_t *blob)
{
	int n;

	assert_int_equal(tern_segment_alloc_file(env.segments, name, len, SOCKET_ID_ANY, h), 0);
	n = export_blob(*h, blob, TERN_SHM_BLOB_MAX);
	assert_true(n > SHM_BLOB_HDR_LEN);
	return n;
}

static int
setup(void **state)
{
	RTE_SET_USED(state);
	serve();
	return 0;
}

/* Every import released, every segment and buffer freed, nothing served. */
static int
teardown(void **state)
{
	int shm_id = tern_transport_id("shm");
	struct tern_shm_stats st;
	uint32_t h;

	RTE_SET_USED(state);
	while ((h = tern_segment_next(env.segments, 0)) != TERN_SEGMENT_INVALID) {
		if (slot_of(h)->kind == TERN_SEGMENT_REMOTE && slot_of(h)->transport == shm_id)
			unimport(h);
		else
			assert_int_equal(unregister(h), 0);
	}
	while (nb_bufs > 0)
		free(bufs[--nb_bufs]);
	assert_int_equal(tern_shm_configure(NULL), 0);
	assert_int_equal(tern_shm_stats(&st), 0);
	assert_int_equal(st.peers, 0);
	assert_int_equal(st.serving_conns, 0);
	return 0;
}

/* ---- data through the engine ---- */

static void
write_then_read_through_the_engine_1_byte_to_24_mib(void **state)
{
	static const uint64_t sizes[] = {
		1, 7, 4095, 65536 + 3, (1 << 20) + 1, (9 << 20) + 17, EXPORT_BYTES
	};
	struct tern_client *c = tern_client_create(env.engine, NULL);
	uint8_t blob[TERN_SHM_BLOB_MAX], *src, *dst, *mem;
	struct tern_shm_stats before, after;
	struct tern_request r[8];
	uint32_t exp, imp;
	unsigned int i;
	uint64_t off;
	int n;

	RTE_SET_USED(state);
	assert_non_null(c);
	tern_shm_stats(&before);
	n = exported("exp", EXPORT_BYTES, &exp, blob);
	assert_int_equal(n, SHM_BLOB_HDR_LEN + strlen(sock_path) + 1);
	assert_true(n <= 255); /* stored as hex in a 511-character string */
	mem = slot_of(exp)->base;
	assert_int_equal(import_as("imp", blob, (size_t)n, EXPORT_BYTES, &imp), 0);
	assert_true(slot_of(imp)->base == NULL); /* not memcpy's: only the transport maps it */
	src = local_buffer("src", EXPORT_BYTES);
	dst = local_buffer("dst", EXPORT_BYTES);

	for (i = 0; i < RTE_DIM(sizes); i++) {
		off = sizes[i] == EXPORT_BYTES ? 0 : (i * 1048583ull) % (EXPORT_BYTES - sizes[i]);
		test_pattern_fill(src, sizes[i], 100 + i, off);
		r[0] = test_req(TERN_OP_WRITE, imp, off, src, sizes[i]);
		assert_int_equal(test_wait_release(tern_submit(c, r, 1, NULL)), 0);
		/* The exporter's own memory has it. */
		assert_int_equal(test_pattern_check(mem + off, sizes[i], 100 + i, off), SIZE_MAX);
		memset(dst, 0, sizes[i]);
		r[0] = test_req(TERN_OP_READ, imp, off, dst, sizes[i]);
		assert_int_equal(test_wait_release(tern_submit(c, r, 1, NULL)), 0);
		assert_int_equal(test_pattern_check(dst, sizes[i], 100 + i, off), SIZE_MAX);
	}

	/* One batch of several requests, each of several slices. */
	test_pattern_fill(mem, EXPORT_BYTES, 7, 0);
	for (i = 0; i < 8; i++)
		r[i] = test_req(TERN_OP_READ, imp, i * (3u << 20), dst + i * (3u << 20), 3u << 20);
	assert_int_equal(test_wait_release(tern_submit(c, r, 8, NULL)), 0);
	assert_int_equal(test_pattern_check(dst, EXPORT_BYTES, 7, 0), SIZE_MAX);

	tern_shm_stats(&after);
	assert_int_equal(after.imports, before.imports + 1);
	assert_int_equal(after.requests_served, before.requests_served + 1);
	assert_int_equal(after.peers, 1);
	assert_int_equal(after.serving_conns, 1);
	assert_int_equal(after.failed_slices, before.failed_slices);
	assert_int_equal(tern_client_destroy(c), 0);
}

static void
imports_from_one_peer_share_its_connection(void **state)
{
	uint8_t b1[TERN_SHM_BLOB_MAX], b2[TERN_SHM_BLOB_MAX];
	struct tern_shm_stats before, st;
	uint32_t e1, e2, i1, i2, i3;
	int n1, n2;

	RTE_SET_USED(state);
	tern_shm_stats(&before);
	n1 = exported("e1", 4096, &e1, b1);
	n2 = exported("e2", 3 << 20, &e2, b2);
	assert_int_equal(import_as("i1", b1, (size_t)n1, 4096, &i1), 0);
	assert_int_equal(import_as("i2", b2, (size_t)n2, 3 << 20, &i2), 0);
	/* The same segment twice, the second time as a shorter REMOTE segment. */
	assert_int_equal(import_as("i3", b2, (size_t)n2, 1 << 20, &i3), 0);
	tern_shm_stats(&st);
	assert_int_equal(st.peers, 1);
	assert_int_equal(st.peers_connected, before.peers_connected + 1);
	assert_int_equal(st.requests_served, before.requests_served + 3);
	unimport(i1);
	unimport(i2);
	tern_shm_stats(&st);
	assert_int_equal(st.peers, 1);
	unimport(i3);
	tern_shm_stats(&st);
	assert_int_equal(st.peers, 0);
	assert_int_equal(st.releases, before.releases + 3);
}

static void
a_mapping_outlives_the_exporters_unregister(void **state)
{
	struct tern_client *c = tern_client_create(env.engine, NULL);
	uint8_t blob[TERN_SHM_BLOB_MAX], *buf;
	struct tern_request r;
	uint32_t exp, imp;
	int n;

	RTE_SET_USED(state);
	n = exported("gone", 1 << 20, &exp, blob);
	test_pattern_fill(slot_of(exp)->base, 1 << 20, 5, 0);
	assert_int_equal(import_as("imp", blob, (size_t)n, 1 << 20, &imp), 0);
	/* The exporter frees its segment: its mapping and descriptor go, the
	 * file stays as long as the importer maps it. No SIGBUS, no stale read. */
	assert_int_equal(unregister(exp), 0);
	buf = local_buffer("buf", 1 << 20);
	r = test_req(TERN_OP_READ, imp, 0, buf, 1 << 20);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(buf, 1 << 20, 5, 0), SIZE_MAX);
	/* A new import of the old blob finds nothing. */
	assert_int_equal(import_as("again", blob, (size_t)n, 1 << 20, &exp), -ENOENT);
	assert_int_equal(tern_client_destroy(c), 0);
}

/* ---- export and configure ---- */

static void
export_refuses_what_it_cannot_serve(void **state)
{
	struct tern_segment_table *other = tern_segment_table_create("shm_other", 4, SOCKET_ID_ANY);
	uint8_t blob[TERN_SHM_BLOB_MAX];
	uint32_t f, m, o, imp;
	int n;

	RTE_SET_USED(state);
	assert_non_null(other);
	n = exported("f", 8192, &f, blob);
	local_buffer("m", 8192);
	assert_int_equal(tern_segment_find(env.segments, "m", &m), 0);
	assert_int_equal(export_blob(m, blob, sizeof(blob)), -ENOTSUP); /* not a file */
	assert_int_equal(import_as("imp", blob, (size_t)n, 8192, &imp), 0);
	assert_int_equal(export_blob(imp, blob, sizeof(blob)), -ENOTSUP); /* REMOTE */
	assert_int_equal(export_blob(f, blob, (size_t)n - 1), -ENOSPC);
	assert_int_equal(shm()->segment_export(NULL, blob, sizeof(blob)), -EINVAL);
	assert_int_equal(shm()->segment_export(slot_of(f), NULL, sizeof(blob)), -EINVAL);
	/* A file segment of a table that is not served. */
	assert_int_equal(tern_segment_alloc_file(other, "o", 4096, SOCKET_ID_ANY, &o), 0);
	assert_int_equal(shm()->segment_export(&other->slots[tern_segment_handle_slot(o)], blob,
					       sizeof(blob)),
			 -ENOTSUP);
	assert_int_equal(tern_segment_unregister(other, o), 0);
	assert_int_equal(tern_segment_table_free(other), 0);
	/* Not serving. */
	unimport(imp);
	assert_int_equal(tern_shm_configure(NULL), 0);
	assert_int_equal(export_blob(f, blob, sizeof(blob)), -ENOTCONN);
}

static bool
thread_named(const char *name)
{
	char path[300], comm[32];
	struct dirent *d;
	bool found = false;
	DIR *dp = opendir("/proc/self/task");
	FILE *f;

	assert_non_null(dp);
	while (!found && (d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL && strncmp(comm, name, strlen(name)) == 0)
			found = true;
		fclose(f);
	}
	closedir(dp);
	return found;
}

static void
configure_binds_0600_refuses_a_live_path_replaces_a_stale_one(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[128], longpath[200];
	struct stat st;
	int fd;

	RTE_SET_USED(state);
	/* setup() serves at sock_path. */
	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(thread_named("tern-shm"));
	assert_int_equal(tern_shm_configure(&(struct tern_shm_conf){ .socket_path = sock_path,
								     .segments = env.segments }),
			 -EBUSY);
	assert_int_equal(tern_shm_configure(NULL), 0);
	assert_int_equal(stat(sock_path, &st), -1); /* unlinked */
	assert_false(thread_named("tern-shm"));	    /* nothing left to do */
	assert_int_equal(tern_shm_configure(NULL), 0);

	memset(longpath, 'x', sizeof(longpath));
	longpath[0] = '/';
	longpath[SHM_PATH_MAX] = '\0';
	assert_int_equal(tern_shm_configure(&(struct tern_shm_conf){ .socket_path = longpath,
								     .segments = env.segments }),
			 -EINVAL);
	assert_int_equal(tern_shm_configure(&(struct tern_shm_conf){ .socket_path = "rel.sock",
								     .segments = env.segments }),
			 -EINVAL);
	assert_int_equal(tern_shm_configure(&(struct tern_shm_conf){ .socket_path = sock_path }),
			 -EINVAL);
	/* Only the initiator's timeout: nothing served, no thread. */
	assert_int_equal(tern_shm_configure(&(struct tern_shm_conf){ .request_timeout_ms = 300 }),
			 0);
	assert_false(thread_named("tern-shm"));

	/* A live server of someone else's. */
	snprintf(path, sizeof(path), "%s/live.sock", dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(tern_shm_configure(&(struct tern_shm_conf){ .socket_path = path,
								     .segments = env.segments }),
			 -EADDRINUSE);
	/* It dies without unlinking: a stale file, replaced. */
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(tern_shm_configure(&(struct tern_shm_conf){ .socket_path = path,
								     .segments = env.segments }),
			 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tern_shm_configure(NULL), 0);
	/* Not a socket: left alone. */
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(tern_shm_configure(&(struct tern_shm_conf){ .socket_path = path,
								     .segments = env.segments }),
			 -EEXIST);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(tern_shm_stats(NULL), -EINVAL);
}

/* ---- raw requests on the socket ---- */

static int
raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
raw_send(int fd, const void *buf, size_t len, int attach)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (attach >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &attach, sizeof(int));
	}
	assert_int_equal(sendmsg(fd, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

#define CLOSED 1

/* The reply's status (*file: its descriptor or -1), or CLOSED. */
static int
raw_reply(int fd, int *file)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cbuf;
	uint8_t buf[64];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf.buf,
			      .msg_controllen = sizeof(cbuf.buf) };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct cmsghdr *c;
	struct shm_rep rep;
	ssize_t n;

	*file = -1;
	assert_int_equal(poll(&pfd, 1, 3000), 1);
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return CLOSED;
	assert_int_equal(n, SHM_REP_LEN);
	assert_int_equal(shm_rep_decode(buf, (size_t)n, &rep), 0);
	c = CMSG_FIRSTHDR(&msg);
	if (c != NULL) {
		assert_int_equal(c->cmsg_type, SCM_RIGHTS);
		assert_int_equal(c->cmsg_len, CMSG_LEN(sizeof(int)));
		memcpy(file, CMSG_DATA(c), sizeof(int));
	}
	assert_int_equal(rep.status == 0, *file >= 0);
	return rep.status;
}

/* Send @p len bytes of @p buf on a new connection; the server must close it. */
static void
closes_on(const void *buf, size_t len, int attach)
{
	int fd = raw_connect(), f;

	raw_send(fd, buf, len, attach);
	assert_int_equal(raw_reply(fd, &f), CLOSED);
	close(fd);
}

static int
ask(int fd, const struct shm_req *r, int *file)
{
	uint8_t buf[SHM_REQ_LEN];

	shm_req_encode(buf, r);
	raw_send(fd, buf, sizeof(buf), -1);
	return raw_reply(fd, file);
}

static void
malformed_requests_close_their_connection_only(void **state)
{
	uint8_t blob[TERN_SHM_BLOB_MAX], good[SHM_REQ_LEN], bad[70000], *mem;
	struct tern_shm_stats before, after;
	int idle, fd, f, n, pipefd[2];
	struct shm_blob b;
	struct shm_req r;
	unsigned int i;
	uint32_t h, m;

	RTE_SET_USED(state);
	n = exported("target", 1 << 20, &h, blob);
	mem = slot_of(h)->base;
	memset(mem, 0x3c, 1 << 20);
	assert_int_equal(shm_blob_decode(blob, (size_t)n, &b), 0);
	r = (struct shm_req){ .handle = b.handle, .length = b.length, .token = b.token };
	shm_req_encode(good, &r);
	idle = raw_connect(); /* a well-behaved client, waiting all along */
	tern_shm_stats(&before);

	closes_on("garbage", 7, -1);
	closes_on(good, SHM_REQ_LEN - 1, -1); /* short */
	memcpy(bad, good, SHM_REQ_LEN);
	closes_on(bad, SHM_REQ_LEN + 1, -1); /* oversized */
	memset(bad, 0xff, sizeof(bad));
	closes_on(bad, sizeof(bad), -1);
	memcpy(bad, good, SHM_REQ_LEN);
	bad[0] ^= 1; /* magic */
	closes_on(bad, SHM_REQ_LEN, -1);
	memcpy(bad, good, SHM_REQ_LEN);
	bad[4] = 2; /* version */
	closes_on(bad, SHM_REQ_LEN, -1);
	for (i = 5; i < 16; i++) {
		if (i >= 8 && i < 12)
			continue; /* the handle */
		memcpy(bad, good, SHM_REQ_LEN);
		bad[i] = 1; /* reserved */
		closes_on(bad, SHM_REQ_LEN, -1);
	}
	memcpy(bad, good, SHM_REQ_LEN);
	memset(bad + 8, 0, 4); /* handle 0 */
	closes_on(bad, SHM_REQ_LEN, -1);
	memcpy(bad, good, SHM_REQ_LEN);
	memset(bad + 16, 0, 8); /* length 0 */
	closes_on(bad, SHM_REQ_LEN, -1);
	assert_int_equal(pipe(pipefd), 0);
	closes_on(good, SHM_REQ_LEN, pipefd[0]); /* descriptors are not welcome */
	close(pipefd[0]);
	close(pipefd[1]);
	tern_shm_stats(&after);
	assert_int_equal(after.malformed, before.malformed + 16);
	assert_int_equal(after.requests_served, before.requests_served);
	assert_int_equal(after.requests_rejected, before.requests_rejected);

	/* Well-formed but refused: answered, and the connection stays. */
	fd = raw_connect();
	r.token ^= 1;
	assert_int_equal(ask(fd, &r, &f), -EACCES); /* guessed token */
	r.token ^= 1;
	r.length--;
	assert_int_equal(ask(fd, &r, &f), -EACCES); /* the token covers the length */
	r.length++;
	r.handle ^= 0x10000; /* another generation of the slot */
	assert_int_equal(ask(fd,
			     &(struct shm_req){ .handle = r.handle,
						.length = r.length,
						.token = shm_test_token(r.handle, r.length) },
			     &f),
			 -ENOENT);
	r.handle ^= 0x10000;
	assert_int_equal(ask(fd,
			     &(struct shm_req){ .handle = r.handle,
						.length = r.length - 1,
						.token = shm_test_token(r.handle, r.length - 1) },
			     &f),
			 -EINVAL); /* authenticated, but not the segment's length */
	local_buffer("plain", 4096);
	assert_int_equal(tern_segment_find(env.segments, "plain", &m), 0);
	assert_int_equal(ask(fd,
			     &(struct shm_req){ .handle = m,
						.length = 4096,
						.token = shm_test_token(m, 4096) },
			     &f),
			 -ENOENT); /* never exported: as if unknown */
	assert_int_equal(tern_segment_export(env.segments, m), 0);
	assert_int_equal(ask(fd,
			     &(struct shm_req){ .handle = m,
						.length = 4096,
						.token = shm_test_token(m, 4096) },
			     &f),
			 -ENOTSUP); /* not a file segment */
	tern_shm_stats(&after);
	assert_int_equal(after.requests_rejected, before.requests_rejected + 6);

	/* The same connection, and the one that waited, still get the file. */
	assert_int_equal(ask(fd, &r, &f), 0);
	assert_int_equal(fcntl(f, F_GET_SEALS) & F_SEAL_SHRINK, F_SEAL_SHRINK);
	close(f);
	assert_int_equal(ask(idle, &r, &f), 0);
	{
		uint8_t *view = mmap(NULL, 1 << 20, PROT_READ, MAP_SHARED, f, 0);

		assert_true(view != MAP_FAILED);
		assert_int_equal(view[12345], 0x3c);
		munmap(view, 1 << 20);
	}
	close(f);
	/* A stale handle: the segment went after its blob was published. */
	assert_int_equal(unregister(h), 0);
	assert_int_equal(ask(fd, &r, &f), -ENOENT);
	tern_shm_stats(&after);
	assert_int_equal(after.requests_served, before.requests_served + 2);
	assert_int_equal(after.requests_rejected, before.requests_rejected + 7);
	assert_int_equal(after.serving_conns, 2);
	close(fd);
	close(idle);
}

/* ---- blobs ---- */

static void
malformed_blobs_are_refused_field_by_field(void **state)
{
	uint8_t blob[TERN_SHM_BLOB_MAX], bad[TERN_SHM_BLOB_MAX + 8];
	struct tern_shm_stats before, after;
	struct shm_blob b, x;
	struct tern_segment scratch;
	uint32_t h, imp;
	size_t i;
	int n, len;

	RTE_SET_USED(state);
	n = exported("blobbed", 65536, &h, blob);
	assert_int_equal(shm_blob_decode(blob, (size_t)n, &b), 0);
	assert_int_equal(b.handle, h);
	assert_int_equal(b.length, 65536);
	assert_string_equal(b.path, sock_path);
	tern_shm_stats(&before);

	memset(&scratch, 0, sizeof(scratch));
	assert_int_equal(shm()->segment_import(NULL, blob, (size_t)n), -EINVAL);
	assert_int_equal(shm()->segment_import(&scratch, NULL, (size_t)n), -EINVAL);
#define REFUSED(buf, len) assert_int_equal(import_as("imp", (buf), (len), 65536, &imp), -EINVAL)
	REFUSED(blob, (size_t)n - 1);
	memcpy(bad, blob, (size_t)n);
	bad[n] = 0;
	REFUSED(bad, (size_t)n + 1);
	REFUSED(blob, 0);
	REFUSED(blob, SHM_BLOB_HDR_LEN);
	/* Every byte of the header but the boot_id and token (the server's
	 * business) and the handle and length's nonzero bytes (below). */
	for (i = 0; i < SHM_BLOB_HDR_LEN; i++) {
		if ((i >= 8 && i < 24) || (i >= 24 && i < 28) || (i >= 32 && i < 48))
			continue;
		memcpy(bad, blob, (size_t)n);
		bad[i] ^= 0x40;
		REFUSED(bad, (size_t)n);
	}
	memcpy(bad, blob, (size_t)n);
	memset(bad + 24, 0, 4);
	REFUSED(bad, (size_t)n); /* handle 0 */
	memcpy(bad, blob, (size_t)n);
	memset(bad + 32, 0, 8);
	REFUSED(bad, (size_t)n); /* length 0 */
	memcpy(bad, blob, (size_t)n);
	bad[n - 1] = 'x';
	REFUSED(bad, (size_t)n); /* no NUL at the end */
	memcpy(bad, blob, (size_t)n);
	bad[SHM_BLOB_HDR_LEN + 3] = '\0';
	REFUSED(bad, (size_t)n); /* a NUL inside */
	memcpy(bad, blob, (size_t)n);
	bad[SHM_BLOB_HDR_LEN] = 'r';
	REFUSED(bad, (size_t)n); /* relative */
	x = b;
	strcpy(x.path, "/a");
	len = shm_blob_encode(bad, sizeof(bad), &x);
	assert_int_equal(len, SHM_BLOB_HDR_LEN + 3);
	bad[5] = 2; /* the path length must be what follows */
	REFUSED(bad, (size_t)len);
	bad[5] = 4;
	REFUSED(bad, (size_t)len);
	strcpy(x.path, "/");
	assert_int_equal(shm_blob_encode(bad, sizeof(bad), &x), -EINVAL);
	assert_int_equal(shm_blob_encode(bad, SHM_BLOB_HDR_LEN + 2, &b), -ENOSPC);
	/* A REMOTE segment longer than the blob's. */
	assert_int_equal(import_as("imp", blob, (size_t)n, 65537, &imp), -EINVAL);
	tern_shm_stats(&after);
	assert_int_equal(after.import_errors, before.import_errors); /* all refused up front */

	/* Well-formed, but from another host. */
	memcpy(bad, blob, (size_t)n);
	bad[8] ^= 1;
	assert_int_equal(import_as("imp", bad, (size_t)n, 65536, &imp), -EXDEV);
	/* Well-formed, but the token is wrong: the server says no. */
	memcpy(bad, blob, (size_t)n);
	bad[40] ^= 1;
	assert_int_equal(import_as("imp", bad, (size_t)n, 65536, &imp), -EACCES);
	/* Nobody at that path. */
	x = b;
	snprintf(x.path, sizeof(x.path), "%s/nobody.sock", dir);
	len = shm_blob_encode(bad, sizeof(bad), &x);
	assert_int_equal(import_as("imp", bad, (size_t)len, 65536, &imp), -ENOENT);
	tern_shm_stats(&after);
	assert_int_equal(after.import_errors, before.import_errors + 2);
	assert_int_equal(after.peers, 0); /* the refused import let its connection go */
	/* And the genuine blob works. */
	assert_int_equal(import_as("imp", blob, (size_t)n, 65536, &imp), 0);
}

/* ---- a fake server: replies a real one never sends ---- */

enum fake_mode {
	FAKE_UNSEALED = 1, /* a memfd without seals */
	FAKE_SMALL,	   /* a sealed memfd shorter than the segment */
	FAKE_PIPE,	   /* not a file at all */
	FAKE_NO_FD,	   /* status 0 without a descriptor */
	FAKE_TWO_FDS,	   /* status 0 with two descriptors */
	FAKE_GARBAGE,	   /* not a reply */
	FAKE_SILENT,	   /* no reply */
	FAKE_HANGUP,	   /* closes the connection */
};

struct fake {
	enum fake_mode mode;
	int listen_fd;
	char path[128];
	pthread_t thread;
};

static int
memfd_of(uint64_t size, unsigned int seals)
{
	int fd = memfd_create("fake", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)size) != 0 ||
	    (seals != 0 && fcntl(fd, F_ADD_SEALS, seals) != 0))
		abort();
	return fd;
}

static void
fake_send(int fd, const struct shm_rep *rep, const int *files, int nb)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	uint8_t buf[SHM_REP_LEN];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	shm_rep_encode(buf, rep);
	if (nb > 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(nb * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nb * sizeof(int));
		memcpy(CMSG_DATA(c), files, nb * sizeof(int));
	}
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(buf))
		abort();
}

/* One connection, one request, one answer of the chosen kind. No cmocka
 * asserts here (another thread). */
static void *
fake_serve(void *arg)
{
	struct fake *fk = arg;
	struct shm_rep ok = { .status = 0, .length = 65536 };
	struct timeval tv = { .tv_sec = 3 };
	uint8_t buf[64];
	int fd, files[2];

	fd = accept(fk->listen_fd, NULL, NULL);
	/* An importer that keeps the connection (a broken check) must not hang us. */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    recv(fd, buf, sizeof(buf), 0) != SHM_REQ_LEN)
		abort();
	switch (fk->mode) {
	case FAKE_UNSEALED:
		files[0] = memfd_of(65536, 0);
		fake_send(fd, &ok, files, 1);
		break;
	case FAKE_SMALL:
		files[0] = memfd_of(4096, F_SEAL_SHRINK | F_SEAL_GROW);
		fake_send(fd, &ok, files, 1);
		break;
	case FAKE_PIPE:
		if (pipe(files) != 0)
			abort();
		fake_send(fd, &ok, files, 1);
		close(files[1]);
		break;
	case FAKE_NO_FD:
		fake_send(fd, &ok, files, 0);
		break;
	case FAKE_TWO_FDS:
		files[0] = memfd_of(65536, F_SEAL_SHRINK);
		files[1] = memfd_of(65536, F_SEAL_SHRINK);
		fake_send(fd, &ok, files, 2);
		close(files[1]);
		break;
	case FAKE_GARBAGE:
		if (send(fd, "nonsense", 8, MSG_NOSIGNAL) != 8)
			abort();
		break;
	case FAKE_SILENT:
		usleep(800 * 1000); /* longer than the 500 ms request timeout */
		break;
	case FAKE_HANGUP:
		break;
	}
	if (fk->mode != FAKE_NO_FD && fk->mode != FAKE_GARBAGE && fk->mode != FAKE_SILENT &&
	    fk->mode != FAKE_HANGUP)
		close(files[0]);
	/* Wait for the importer to hang up before going. */
	if (fk->mode != FAKE_HANGUP)
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
	close(fd);
	return NULL;
}

static int
import_from_fake(enum fake_mode mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t blob[TERN_SHM_BLOB_MAX], real[TERN_SHM_BLOB_MAX];
	struct fake fk = { .mode = mode };
	struct shm_blob b;
	uint32_t h, imp;
	int n, ret;

	/* A genuine blob of ours lends its boot_id: the fake is on this host. */
	n = exported("lender", 4096, &h, real);
	assert_int_equal(shm_blob_decode(real, (size_t)n, &b), 0);
	assert_int_equal(unregister(h), 0);
	snprintf(fk.path, sizeof(fk.path), "%s/fake%d.sock", dir, serial++);
	memcpy(sa.sun_path, fk.path, strlen(fk.path) + 1);
	fk.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fk.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fk.listen_fd, 4), 0);
	assert_int_equal(pthread_create(&fk.thread, NULL, fake_serve, &fk), 0);
	b.handle = 1;
	b.length = 65536;
	memcpy(b.path, fk.path, strlen(fk.path) + 1);
	n = shm_blob_encode(blob, sizeof(blob), &b);
	assert_true(n > 0);
	ret = import_as("fake", blob, (size_t)n, 65536, &imp);
	assert_int_equal(pthread_join(fk.thread, NULL), 0);
	close(fk.listen_fd);
	unlink(fk.path);
	return ret;
}

static void
replies_a_real_server_never_sends_are_refused(void **state)
{
	struct tern_shm_stats st;
	uint64_t t0;

	RTE_SET_USED(state);
	/* Could be shrunk under the mapping: SIGBUS on an lcore. */
	assert_int_equal(import_from_fake(FAKE_UNSEALED), -EPERM);
	assert_int_equal(import_from_fake(FAKE_SMALL), -EINVAL);
	assert_int_equal(import_from_fake(FAKE_PIPE), -EINVAL);
	assert_int_equal(import_from_fake(FAKE_NO_FD), -EPROTO);
	assert_int_equal(import_from_fake(FAKE_TWO_FDS), -EPROTO);
	assert_int_equal(import_from_fake(FAKE_GARBAGE), -EPROTO);
	assert_int_equal(import_from_fake(FAKE_HANGUP), -ECONNRESET);
	t0 = test_now_ns();
	assert_int_equal(import_from_fake(FAKE_SILENT), -ETIMEDOUT);
	assert_true(test_now_ns() - t0 < 2000000000ull);
	tern_shm_stats(&st);
	assert_int_equal(st.peers, 0);
}

/* ---- a peer that goes away ---- */

static void
slices_on_a_peer_that_stopped_serving_fail_fast_and_copy_nothing(void **state)
{
	struct tern_client *c = tern_client_create(env.engine, NULL);
	struct tern_submit_opts opts = { .deadline_ns = 60ull * 1000 * 1000 * 1000 };
	uint8_t blob[TERN_SHM_BLOB_MAX], *buf, *mem;
	struct tern_shm_stats before, st;
	struct tern_request r;
	uint32_t exp, imp, loc;
	uint64_t t0;
	int n, i;

	RTE_SET_USED(state);
	n = exported("exp", 4 << 20, &exp, blob);
	mem = slot_of(exp)->base;
	assert_int_equal(import_as("imp", blob, (size_t)n, 4 << 20, &imp), 0);
	buf = local_buffer("buf", 4 << 20);
	assert_int_equal(tern_segment_find(env.segments, "buf", &loc), 0);
	memset(buf, 0x11, 4 << 20);
	r = test_req(TERN_OP_WRITE, imp, 0, buf, 4 << 20);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, &opts)), 0);
	assert_int_equal(mem[(4 << 20) - 1], 0x11);
	tern_shm_stats(&before);

	/* The exporter stops serving: its connections close under the importer. */
	assert_int_equal(tern_shm_configure(NULL), 0);
	for (i = 0; i < 200; i++) {
		tern_shm_stats(&st);
		if (st.peers_lost > before.peers_lost)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(st.peers_lost, before.peers_lost + 1);
	assert_true(thread_named("tern-shm")); /* still watching (nothing) for its import */

	memset(buf, 0x22, 4 << 20);
	t0 = test_now_ns();
	r = test_req(TERN_OP_WRITE, imp, 0, buf, 4 << 20);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, &opts)), -ECONNRESET);
	r = test_req(TERN_OP_READ, imp, 0, buf, 4 << 20);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, &opts)), -ECONNRESET);
	assert_true(test_now_ns() - t0 < 1000000000ull); /* not the 60 s deadline */
	assert_int_equal(mem[0], 0x11);			 /* nothing was written */
	assert_int_equal(buf[0], 0x22);			 /* nothing was read */
	tern_shm_stats(&st);
	assert_true(st.failed_slices >= before.failed_slices + 2 * 16);
	/* A new import from it fails; local work goes on. */
	assert_int_equal(import_as("again", blob, (size_t)n, 4 << 20, &exp), -ENOENT);
	r = test_req(TERN_OP_WRITE, loc, 0, buf + (2 << 20), 1 << 20);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, &opts)), 0);
	assert_int_equal(tern_client_destroy(c), 0);
	/* The last import goes: the thread has nothing left to watch. */
	unimport(imp);
	assert_false(thread_named("tern-shm"));
}

/* ---- notifications (doc/notify.md) ---- */

#define NTF_REGION (64u << 10) /* one slice of 64 KiB */

/* A notification by hand: @p sender is 64 bytes as given. */
static size_t
ntf_frame(uint8_t *buf, uint64_t cookie, const char *sender, uint32_t msg_len)
{
	uint8_t wire[SHM_NTF_SENDER_LEN + SHM_NTF_MSG_MAX] = { 0 };

	memcpy(wire, sender, strlen(sender));
	memset(wire + SHM_NTF_SENDER_LEN, 0x5a, msg_len);
	return (size_t)shm_ntf_encode(buf, SHM_NTF_MAX, cookie, 77, wire, msg_len);
}

static int32_t
ntf_answer(int fd, uint64_t cookie)
{
	uint8_t buf[64];
	struct shm_ntf_rep rep;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	assert_int_equal(poll(&p, 1, 5000), 1);
	n = recv(fd, buf, sizeof(buf), 0);
	assert_int_equal(shm_ntf_rep_decode(buf, (size_t)n, &rep), 0);
	assert_int_equal(rep.cookie, cookie);
	return rep.status;
}

/* Every byte of a WRITE is in the target's memory when its notification is
 * seen (100 000 rounds; TERN_NOTIFY_ROUNDS overrides); a failed batch sends
 * none; a full queue fails the sender with -ENOBUFS; hostile frames on the
 * socket are refused. */
static void
notifications_over_shm(void **state)
{
	uint8_t blob[TERN_SHM_BLOB_MAX], frame[SHM_NTF_MAX + 8], *src, *mem;
	struct tern_client *c = tern_client_create(
		env.engine, &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	struct tern_notification got[NTF_DEPTH];
	struct tern_shm_stats before, after;
	struct tern_request w;
	struct tern_future *f;
	uint64_t rounds;
	uint32_t exp, imp;
	size_t len;
	int n, fd, i, ret;

	RTE_SET_USED(state);
	assert_non_null(c);
	n = exported("ntf", NTF_REGION, &exp, blob);
	mem = slot_of(exp)->base;
	assert_int_equal(import_as("ntf_imp", blob, (size_t)n, NTF_REGION, &imp), 0);
	src = local_buffer("ntf_src", NTF_REGION);
	tern_shm_stats(&before);

	rounds = test_notify_rounds_run(&(struct test_notify_rounds){
		.label = "shm",
		.receiver = env.engine,
		.dst = mem,
		.initiator = c,
		.target = imp,
		.src = src,
		.len = NTF_REGION,
		.sender = "shmnode",
	});
	tern_shm_stats(&after);
	assert_int_equal(after.notifications, before.notifications + rounds);

	/* A failed batch (past the segment's end) sends none. */
	{
		struct tern_notify nt = { .tag = 1 };

		w = test_req(TERN_OP_WRITE, imp, NTF_REGION - 8, src, 16);
		f = tern_submit(c, &w, 1, &(struct tern_submit_opts){ .notify = &nt });
		if (f != NULL)
			assert_true(test_wait_release(f) < 0);
	}
	tern_shm_stats(&before);
	assert_int_equal(before.notifications, after.notifications);
	assert_int_equal(tern_notify_poll(c, got, NTF_DEPTH), 0);

	/* A full queue: NTF_DEPTH go in, the next fails with -ENOBUFS at its
	 * deadline; once polled, the queue takes them again. */
	for (i = 0; i <= NTF_DEPTH; i++) {
		struct tern_notify nt = { .tag = (uint64_t)i };

		f = tern_notify_send(c, imp, &nt,
				     &(struct tern_submit_opts){ .deadline_ns = 200000000ull });
		assert_non_null(f);
		ret = test_wait_release(f);
		/* The 17th: -ENOBUFS, or -ETIMEDOUT when the deadline passed while a
		 * retry was on its way (doc/notify.md: the engine resolves at the
		 * deadline without waiting for the answer). */
		if (i < NTF_DEPTH)
			assert_int_equal(ret, 0);
		else
			assert_true(ret == -ENOBUFS || ret == -ETIMEDOUT);
	}
	assert_int_equal(tern_notify_poll(c, got, NTF_DEPTH), NTF_DEPTH);
	assert_int_equal(got[0].tag, 0);
	assert_int_equal(tern_notify_poll(c, got, NTF_DEPTH), 0);

	/* By hand on the socket: a good one, then hostile ones. */
	fd = raw_connect();
	len = ntf_frame(frame, 42, "raw-peer", 5);
	raw_send(fd, frame, len, -1);
	assert_int_equal(ntf_answer(fd, 42), 0);
	assert_int_equal(tern_notify_poll(c, got, NTF_DEPTH), 1);
	assert_string_equal(got[0].sender, "raw-peer");
	assert_int_equal(got[0].tag, 77);
	assert_int_equal(got[0].msg_len, 5);
	close(fd);
	len = ntf_frame(frame, 1, "raw-peer", 5);
	closes_on(frame, len - 1, -1); /* the length field lies (shorter) */
	memset(frame + len, 0, 4);
	closes_on(frame, len + 4, -1); /* longer */
	len = ntf_frame(frame, 1, "raw-peer", 256);
	frame[6] = 1, frame[7] = 1; /* 257 bytes announced */
	memset(frame + len, 0x5a, 1);
	closes_on(frame, len + 1, -1); /* oversize message */
	len = ntf_frame(frame, 1, "bad name", 0);
	closes_on(frame, len, -1); /* a sender with a bad character */
	len = ntf_frame(frame, 1, "", 0);
	closes_on(frame, len, -1); /* no sender */
	len = ntf_frame(frame, 1, "ok", 0);
	frame[24 + 3] = 'x'; /* garbage after the NUL */
	closes_on(frame, len, -1);
	len = ntf_frame(frame, 1, "ok", 0);
	frame[5] = 1; /* reserved byte */
	closes_on(frame, len, -1);
	len = ntf_frame(frame, 1, "ok", 3);
	closes_on(frame, len, 2); /* a descriptor attached */
	/* The connection of a good client stays usable meanwhile. */
	fd = raw_connect();
	len = ntf_frame(frame, 43, "ok", 0);
	raw_send(fd, frame, len, -1);
	assert_int_equal(ntf_answer(fd, 43), 0);
	close(fd);
	assert_int_equal(tern_notify_poll(c, got, NTF_DEPTH), 1);
	assert_string_equal(got[0].sender, "ok");
	tern_shm_stats(&after);
	assert_true(after.malformed >= before.malformed + 8);
	assert_int_equal(tern_client_destroy(c), 0);
}

/* The codec field by field, then answers a real target never sends, to an
 * endpoint: each completes the notification with an error, once. */
static int32_t
ntf_post_and_answer(struct tern_endpoint *ep, const struct tern_segment *seg, int lfd,
		    const void *answer, size_t len, bool hangup)
{
	uint8_t wire[SHM_NTF_SENDER_LEN + 4] = "me", buf[SHM_NTF_MAX];
	struct tern_notify_post n = { .cookie = 3,
				      .target = seg,
				      .sender = "me",
				      .tag = 9,
				      .msg = wire + SHM_NTF_SENDER_LEN,
				      .msg_len = 4,
				      .wire = wire };
	struct tern_completion cpl[4];
	struct shm_ntf got;
	uint64_t t0 = test_now_ns();
	uint16_t k = 0;
	ssize_t m;
	int fd;

	memcpy(wire + SHM_NTF_SENDER_LEN, "abcd", 4);
	assert_int_equal(shm()->notify_post(ep, &n), 0);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	m = recv(fd, buf, sizeof(buf), 0);
	/* What the initiator sent is well-formed. */
	assert_int_equal(shm_ntf_decode(buf, (size_t)m, &got), 0);
	assert_int_equal(got.cookie, 3);
	assert_int_equal(got.tag, 9);
	assert_int_equal(got.msg_len, 4);
	assert_memory_equal(got.msg, "abcd", 4);
	if (answer != NULL)
		assert_int_equal(send(fd, answer, len, 0), (ssize_t)len);
	if (hangup)
		close(fd);
	while (k == 0 && (answer != NULL || hangup) && test_now_ns() - t0 < 5000000000ull)
		k = shm()->poll(ep, cpl, 4);
	if (k == 0) { /* still in flight: cancel() completes it */
		shm()->cancel(ep);
		k = shm()->poll(ep, cpl, 4);
	}
	assert_int_equal(k, 1);
	assert_int_equal(cpl[0].cookie, 3);
	assert_int_equal(shm()->poll(ep, cpl, 4), 0); /* once */
	if (!hangup)
		close(fd);
	return cpl[0].status;
}

static void
notification_codec_and_answers_a_real_target_never_sends(void **state)
{
	uint8_t f[SHM_NTF_MAX + 8], a[SHM_NTF_REP_LEN + 1];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tern_endpoint_conf ec = { .lcore_id = 0,
					 .socket_id = SOCKET_ID_ANY,
					 .max_slices = 64 };
	struct shm_peer peer = { .alive = 1, .reusable = 1, .fd = -1 };
	struct shm_remote rem = { .peer = &peer, .length = 4096 };
	struct tern_segment seg;
	struct tern_endpoint *ep;
	struct shm_ntf_rep rep;
	struct shm_ntf nt;
	size_t len;
	int lfd;

	RTE_SET_USED(state);
	/* Decoder: every rule. */
	len = ntf_frame(f, 5, "node-1.a:b_c", 256);
	assert_int_equal(shm_ntf_decode(f, len, &nt), 0);
	assert_int_equal(nt.msg_len, 256);
	assert_int_equal(shm_ntf_decode(f, SHM_NTF_HDR_LEN - 1, &nt), -EMSGSIZE);
	assert_int_equal(shm_ntf_decode(f, len - 1, &nt), -EMSGSIZE);
	assert_int_equal(shm_ntf_decode(f, len + 1, &nt), -EMSGSIZE);
	f[0] ^= 1;
	assert_int_equal(shm_ntf_decode(f, len, &nt), -EPROTO);
	f[0] ^= 1;
	f[4] = 2;
	assert_int_equal(shm_ntf_decode(f, len, &nt), -EPROTONOSUPPORT);
	f[4] = SHM_WIRE_VERSION;
	f[5] = 1;
	assert_int_equal(shm_ntf_decode(f, len, &nt), -EBADMSG);
	f[5] = 0;
	len = ntf_frame(f, 5, "x", 0);
	f[6] = 1, f[7] = 1; /* 257 */
	assert_int_equal(shm_ntf_decode(f, len + 257, &nt), -EMSGSIZE);
	len = ntf_frame(f, 5, "x", 0);
	memset(f + 24, 'a', SHM_NTF_SENDER_LEN); /* no NUL */
	assert_int_equal(shm_ntf_decode(f, len, &nt), -EINVAL);
	len = ntf_frame(f, 5, "a/b", 0);
	assert_int_equal(shm_ntf_decode(f, len, &nt), -EINVAL);
	assert_int_equal(shm_ntf_encode(f, sizeof(f), 1, 1, f, SHM_NTF_MSG_MAX + 1), -EINVAL);
	assert_int_equal(shm_ntf_encode(f, SHM_NTF_HDR_LEN, 1, 1, f, 1), -ENOSPC);
	/* Answers. */
	shm_ntf_rep_encode(a, &(struct shm_ntf_rep){ .cookie = 3, .status = -ENOBUFS });
	assert_int_equal(shm_ntf_rep_decode(a, SHM_NTF_REP_LEN, &rep), 0);
	assert_int_equal(rep.status, -ENOBUFS);
	assert_int_equal(shm_ntf_rep_decode(a, SHM_NTF_REP_LEN + 1, &rep), -EPROTO);
	a[12] = 1;
	assert_int_equal(shm_ntf_rep_decode(a, SHM_NTF_REP_LEN, &rep), -EPROTO);
	shm_ntf_rep_encode(a, &(struct shm_ntf_rep){ .cookie = 3, .status = 1 });
	assert_int_equal(shm_ntf_rep_decode(a, SHM_NTF_REP_LEN, &rep), -EPROTO);

	/* An endpoint against a fake target. */
	snprintf(peer.path, sizeof(peer.path), "%s/fakentf%d.sock", dir, serial++);
	memcpy(sa.sun_path, peer.path, strlen(peer.path) + 1);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	memset(&seg, 0, sizeof(seg));
	memcpy(seg.priv, &rem, sizeof(rem));
	ep = shm()->endpoint_open(&ec);
	assert_non_null(ep);
	shm_ntf_rep_encode(a, &(struct shm_ntf_rep){ .cookie = 3, .status = -ENOBUFS });
	assert_int_equal(ntf_post_and_answer(ep, &seg, lfd, a, SHM_NTF_REP_LEN, false), -ENOBUFS);
	/* The connection stays for the next one: the fake accepts again only
	 * after a failure, so fail it each time from here on. */
	shm_ntf_rep_encode(a, &(struct shm_ntf_rep){ .cookie = 4, .status = 0 });
	shm()->endpoint_close(ep);
	ep = shm()->endpoint_open(&ec);
	assert_int_equal(ntf_post_and_answer(ep, &seg, lfd, a, SHM_NTF_REP_LEN, false), -EPROTO);
	assert_int_equal(ntf_post_and_answer(ep, &seg, lfd, "nonsense", 8, false), -EPROTO);
	assert_int_equal(ntf_post_and_answer(ep, &seg, lfd, NULL, 0, true), -ECONNRESET);
	assert_int_equal(ntf_post_and_answer(ep, &seg, lfd, NULL, 0, false), -ECANCELED);
	shm()->endpoint_close(ep);
	/* A dead peer: refused at once, nothing in flight. */
	ep = shm()->endpoint_open(&ec);
	peer.alive = 0;
	{
		struct tern_notify_post n = { .cookie = 5, .target = &seg, .wire = f };

		assert_int_equal(shm()->notify_post(ep, &n), -ECONNRESET);
	}
	shm()->endpoint_close(ep);
	close(lfd);
	unlink(peer.path);
}

static int
group_setup(void **state)
{
	struct tern_engine_conf conf = { .slice_bytes = 65536 };

	RTE_SET_USED(state);
	ntf_q = tern_notify_queue_create(
		&(struct tern_notify_queue_conf){ .name = "q_shm",
						  .node = "shmnode",
						  .depth = NTF_DEPTH,
						  .socket_id = SOCKET_ID_ANY });
	if (ntf_q == NULL)
		return -1;
	conf.notify = ntf_q;
	snprintf(dir, sizeof(dir), "/tmp/tern_shm_XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	test_env_create(&env, "shm", &conf);
	return 0;
}

static int
group_teardown(void **state)
{
	RTE_SET_USED(state);
	test_env_destroy(&env);
	rmdir(dir);
	return tern_notify_queue_free(ntf_q);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(write_then_read_through_the_engine_1_byte_to_24_mib,
						setup, teardown),
		cmocka_unit_test_setup_teardown(imports_from_one_peer_share_its_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_mapping_outlives_the_exporters_unregister, setup,
						teardown),
		cmocka_unit_test_setup_teardown(export_refuses_what_it_cannot_serve, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			configure_binds_0600_refuses_a_live_path_replaces_a_stale_one, setup,
			teardown),
		cmocka_unit_test_setup_teardown(malformed_requests_close_their_connection_only,
						setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_blobs_are_refused_field_by_field, setup,
						teardown),
		cmocka_unit_test_setup_teardown(replies_a_real_server_never_sends_are_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			slices_on_a_peer_that_stopped_serving_fail_fast_and_copy_nothing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(notifications_over_shm, setup, teardown),
		cmocka_unit_test_setup_teardown(
			notification_codec_and_answers_a_real_target_never_sends, setup, teardown),
	};

	RTE_SET_USED(argc);
	RTE_SET_USED(argv);
	test_eal_init("test_shm", "0@(0-1),1@0,2@1", 256);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
