/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tcp transport's configuration (doc/protocol.md): tern_tcp_configure()
 * and its listening socket, the shared secret, the addresses and the
 * descriptors segment_export() and segment_import() handle, the counters.
 * The connections (tcp_conn.c) and the data path (tcp_transport.c) read
 * what is here through tcp_conf.h; nothing here calls them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_log.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "tcp_auth.h"
#include "tcp_bound.h"
#include "tcp_conf.h"
#include "tcp_frame.h"
#include "tern_tcp.h"

RTE_LOG_REGISTER(tcp_logtype, tern.tcp, INFO);

struct tcp_cfg tcp_cfg = {
	.listen_fd = -1,
	.conns_per_peer = 2,
	.connect_timeout_ms = 3000,
	.user_timeout_ms = 10000,
	.idle_timeout_ms = 60000,
	.extra_fd = { -1, -1, -1 },
	.stall_timeout_ms = 1000,
	.rail_inflight = 64,
	.rail_bytes_min = TCP_BOUND_FLOOR,
	.rail_bytes_max = TCP_BOUND_CEILING,
};
int tcp_open_endpoints;
struct tern_tcp_stats tcp_stats;

/* ---- addresses and sockets ---- */

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

void
tcp_addr_to_sockaddr(uint8_t family, const uint8_t addr[16], uint16_t port,
		     struct sockaddr_storage *ss, socklen_t *len)
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

void
tcp_socket_tune(int fd)
{
	int one = 1, v;

	/* Failures only cost performance: the connection still works. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tcp_cfg.sndbuf != 0) {
		v = (int)tcp_cfg.sndbuf;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	}
	if (tcp_cfg.rcvbuf != 0) {
		v = (int)tcp_cfg.rcvbuf;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
	v = (int)tcp_cfg.user_timeout_ms;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
}

static int
listener_open(uint8_t family, const uint8_t addr[16], uint16_t port, uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, ret;

	tcp_addr_to_sockaddr(family, addr, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (tcp_cfg.rcvbuf != 0) /* inherited by accepted sockets, before the handshake */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &tcp_cfg.rcvbuf,
				 sizeof(tcp_cfg.rcvbuf));
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

/* ---- configuration ---- */

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
	uint8_t xfam[TERN_TCP_RAILS_MAX - 1], xaddr[TERN_TCP_RAILS_MAX - 1][16];
	uint32_t i, nb_extra = 0;
	uint16_t port = 0;
	int fd = -1;

	if (__atomic_load_n(&tcp_open_endpoints, __ATOMIC_ACQUIRE) != 0)
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
		for (i = 0;
		     i < RTE_DIM(conf->extra_listen_addr) && conf->extra_listen_addr[i] != NULL;
		     i++) {
			if (conf->listen_addr == NULL ||
			    parse_addr(conf->extra_listen_addr[i], &xfam[i], xaddr[i]) != 0 ||
			    addr_is_wildcard(xfam[i], xaddr[i]))
				return -EINVAL;
			nb_extra = i + 1;
		}
		if (conf->rail_inflight > 4096)
			return -EINVAL;
		if ((conf->rail_bytes_min != 0 && (conf->rail_bytes_min < TCP_BOUND_MIN ||
						   conf->rail_bytes_min > TCP_BOUND_MAX)) ||
		    (conf->rail_bytes_max != 0 && (conf->rail_bytes_max < TCP_BOUND_MIN ||
						   conf->rail_bytes_max > TCP_BOUND_MAX)) ||
		    (conf->rail_bytes_min != 0 ? conf->rail_bytes_min : TCP_BOUND_FLOOR) >
			    (conf->rail_bytes_max != 0 ? conf->rail_bytes_max : TCP_BOUND_CEILING))
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
	tcp_cfg.auth = auth;
	memcpy(tcp_cfg.auth_key, key, sizeof(key));
	memset(key, 0, sizeof(key));
	if (tcp_cfg.listen_fd >= 0) {
		close(tcp_cfg.listen_fd);
		tcp_cfg.listen_fd = -1;
	}
	for (i = 0; i < tcp_cfg.nb_extra; i++) {
		close(tcp_cfg.extra_fd[i]);
		tcp_cfg.extra_fd[i] = -1;
	}
	tcp_cfg.nb_extra = 0;
	tcp_cfg.family = 0;
	tcp_cfg.listen_port = 0;
	tcp_cfg.sndbuf = conf != NULL ? conf->sndbuf_bytes : 0;
	tcp_cfg.rcvbuf = conf != NULL ? conf->rcvbuf_bytes : 0;
	tcp_cfg.conns_per_peer =
		conf != NULL && conf->conns_per_peer != 0 ? conf->conns_per_peer : 2;
	tcp_cfg.connect_timeout_ms =
		conf != NULL && conf->connect_timeout_ms != 0 ? conf->connect_timeout_ms : 3000;
	tcp_cfg.user_timeout_ms =
		conf != NULL && conf->user_timeout_ms != 0 ? conf->user_timeout_ms : 10000;
	tcp_cfg.idle_timeout_ms =
		conf != NULL && conf->idle_timeout_ms != 0 ? conf->idle_timeout_ms : 60000;
	tcp_cfg.stall_timeout_ms =
		conf != NULL && conf->stall_timeout_ms != 0 ? conf->stall_timeout_ms : 1000;
	tcp_cfg.rail_inflight = conf != NULL && conf->rail_inflight != 0 ? conf->rail_inflight : 64;
	tcp_cfg.rail_bytes_min =
		conf != NULL && conf->rail_bytes_min != 0 ? conf->rail_bytes_min : TCP_BOUND_FLOOR;
	tcp_cfg.rail_bytes_max = conf != NULL && conf->rail_bytes_max != 0 ? conf->rail_bytes_max
									   : TCP_BOUND_CEILING;
	tcp_cfg.notify = conf != NULL ? conf->notify : NULL;
	if (conf == NULL || conf->listen_addr == NULL)
		return 0;

	fd = listener_open(lfam, laddr, conf->listen_port, &port);
	if (fd < 0) {
		TCP_LOG(ERR, "cannot listen on %s port %u: %s", conf->listen_addr,
			conf->listen_port, strerror(-fd));
		return fd;
	}
	tcp_cfg.listen_fd = fd;
	tcp_cfg.listen_port = port;
	if (afam != 0) {
		tcp_cfg.family = afam;
		memcpy(tcp_cfg.adv_addr, aaddr, 16);
	} else if (!addr_is_wildcard(lfam, laddr)) {
		tcp_cfg.family = lfam;
		memcpy(tcp_cfg.adv_addr, laddr, 16);
	}
	TCP_LOG(INFO, "listening on %s port %u", conf->listen_addr, port);
	for (i = 0; i < nb_extra; i++) {
		fd = listener_open(xfam[i], xaddr[i], conf->extra_listen_port[i], &port);
		if (fd < 0) {
			TCP_LOG(ERR, "cannot listen on %s port %u: %s", conf->extra_listen_addr[i],
				conf->extra_listen_port[i], strerror(-fd));
			tern_tcp_configure(NULL);
			return fd;
		}
		tcp_cfg.extra_fd[i] = fd;
		tcp_cfg.extra[i].family = xfam[i];
		tcp_cfg.extra[i].port = port;
		memcpy(tcp_cfg.extra[i].addr, xaddr[i], 16);
		tcp_cfg.nb_extra = i + 1;
		TCP_LOG(INFO, "listening on %s port %u (rail %u)", conf->extra_listen_addr[i], port,
			i + 2);
	}
	return 0;
}

int
tern_tcp_listen_port(void)
{
	return tcp_cfg.listen_fd >= 0 ? tcp_cfg.listen_port : -ENOTCONN;
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
	d.nb_extra = 0;
	tcp_desc_encode(priv, &d);
	return TCP_DESC_LEN;
}

void
tern_tcp_stats(struct tern_tcp_stats *out)
{
	out->connected = __atomic_load_n(&tcp_stats.connected, __ATOMIC_RELAXED);
	out->accepted = __atomic_load_n(&tcp_stats.accepted, __ATOMIC_RELAXED);
	out->closed = __atomic_load_n(&tcp_stats.closed, __ATOMIC_RELAXED);
	out->protocol_errors = __atomic_load_n(&tcp_stats.protocol_errors, __ATOMIC_RELAXED);
	out->error_replies = __atomic_load_n(&tcp_stats.error_replies, __ATOMIC_RELAXED);
	out->failed_slices = __atomic_load_n(&tcp_stats.failed_slices, __ATOMIC_RELAXED);
	out->refused = __atomic_load_n(&tcp_stats.refused, __ATOMIC_RELAXED);
	out->expired_resets = __atomic_load_n(&tcp_stats.expired_resets, __ATOMIC_RELAXED);
	out->reposted_slices = __atomic_load_n(&tcp_stats.reposted_slices, __ATOMIC_RELAXED);
	out->rail_failures = __atomic_load_n(&tcp_stats.rail_failures, __ATOMIC_RELAXED);
	out->rail_rejoins = __atomic_load_n(&tcp_stats.rail_rejoins, __ATOMIC_RELAXED);
}

/* ---- the transport's ops: descriptors ---- */

int
tcp_probe(void)
{
	return 0;
}

int
tcp_segment_export(const struct tern_segment *seg, void *desc, size_t desc_len)
{
	struct tcp_desc d;
	uint32_t i;

	if (seg == NULL || desc == NULL || seg->kind != TERN_SEGMENT_LOCAL)
		return -EINVAL;
	if (desc_len < TCP_DESC_LEN)
		return -ENOSPC;
	if (!tern_segment_exported(seg))
		return -EPERM; /* the target side would refuse it anyway */
	if (tcp_cfg.listen_fd < 0)
		return -ENOTCONN;
	if (tcp_cfg.family == 0)
		return -EDESTADDRREQ; /* listening on a wildcard, nothing to advertise */
	d.family = tcp_cfg.family;
	memcpy(d.addr, tcp_cfg.adv_addr, 16);
	d.port = tcp_cfg.listen_port;
	d.segment = seg->handle;
	d.length = seg->length;
	d.nb_extra = 0;
	for (i = 0; i < tcp_cfg.nb_extra; i++) {
		/* The same address as the first one twice would be refused. */
		if (tcp_cfg.extra[i].family == d.family && tcp_cfg.extra[i].port == d.port &&
		    memcmp(tcp_cfg.extra[i].addr, d.addr, 16) == 0)
			continue;
		d.extra[d.nb_extra++] = tcp_cfg.extra[i];
	}
	if (desc_len < tcp_desc_len(&d))
		return -ENOSPC;
	tcp_desc_encode(desc, &d);
	return (int)tcp_desc_len(&d);
}

int
tcp_segment_import(struct tern_segment *seg, const void *desc, size_t desc_len)
{
	struct tcp_desc d;

	RTE_BUILD_BUG_ON(TCP_DESC_MAX_LEN > TERN_SEGMENT_PRIV_SIZE);
	RTE_BUILD_BUG_ON(TCP_DESC_LEN != TERN_TCP_DESC_LEN);
	RTE_BUILD_BUG_ON(TCP_DESC_MAX_LEN != TERN_TCP_DESC_MAX_LEN);
	RTE_BUILD_BUG_ON(TCP_RAILS_MAX != TERN_TCP_RAILS_MAX);
	if (seg == NULL || desc == NULL || tcp_desc_decode(desc, desc_len, &d) != 0 ||
	    seg->length > d.length)
		return -EINVAL;
	memcpy(seg->priv, desc, desc_len);
	return 0;
}

/* ---- configuration through the registry ---- */

/* The listening address as configured, for describe(). */
static char tcp_listen_name[64];

int
tcp_configure(const char *args, const struct tern_transport_env *env)
{
	char listen[64] = "", advertise[64] = "", auth_file[256] = "";
	char xlisten[TERN_TCP_RAILS_MAX - 1][64] = { "" };
	struct tern_tcp_conf conf = { 0 };
	bool listening = false, advertised = false, authed = false;
	bool xgiven[TERN_TCP_RAILS_MAX - 1] = { false };
	uint16_t port = 0;
	uint32_t i, n;
	const struct tern_transport_arg spec[] = {
		{ .key = "listen",
		  .kind = TERN_TRANSPORT_ARG_ADDR_PORT,
		  .dst = listen,
		  .len = sizeof(listen),
		  .port = &port,
		  .given = &listening },
		{ .key = "listen2",
		  .kind = TERN_TRANSPORT_ARG_ADDR_PORT,
		  .dst = xlisten[0],
		  .len = sizeof(xlisten[0]),
		  .port = &conf.extra_listen_port[0],
		  .given = &xgiven[0] },
		{ .key = "listen3",
		  .kind = TERN_TRANSPORT_ARG_ADDR_PORT,
		  .dst = xlisten[1],
		  .len = sizeof(xlisten[1]),
		  .port = &conf.extra_listen_port[1],
		  .given = &xgiven[1] },
		{ .key = "listen4",
		  .kind = TERN_TRANSPORT_ARG_ADDR_PORT,
		  .dst = xlisten[2],
		  .len = sizeof(xlisten[2]),
		  .port = &conf.extra_listen_port[2],
		  .given = &xgiven[2] },
		{ .key = "stall_timeout_ms",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.stall_timeout_ms,
		  .min = 10,
		  .max = 3600000 },
		{ .key = "rail_inflight",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.rail_inflight,
		  .min = 1,
		  .max = 4096 },
		{ .key = "rail_bytes_min",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.rail_bytes_min,
		  .min = TCP_BOUND_MIN,
		  .max = TCP_BOUND_MAX },
		{ .key = "rail_bytes_max",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.rail_bytes_max,
		  .min = TCP_BOUND_MIN,
		  .max = TCP_BOUND_MAX },
		{ .key = "advertise",
		  .kind = TERN_TRANSPORT_ARG_STRING,
		  .dst = advertise,
		  .len = sizeof(advertise),
		  .given = &advertised },
		{ .key = "auth_file",
		  .kind = TERN_TRANSPORT_ARG_STRING,
		  .dst = auth_file,
		  .len = sizeof(auth_file),
		  .given = &authed },
		{ .key = "conns",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.conns_per_peer,
		  .min = 1,
		  .max = TERN_TCP_CONNS_MAX },
		{ .key = "sndbuf",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.sndbuf_bytes,
		  .min = 4096,
		  .max = INT32_MAX },
		{ .key = "rcvbuf",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.rcvbuf_bytes,
		  .min = 4096,
		  .max = INT32_MAX },
		{ .key = "connect_timeout_ms",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.connect_timeout_ms,
		  .min = 1,
		  .max = 3600000 },
		{ .key = "user_timeout_ms",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.user_timeout_ms,
		  .min = 1,
		  .max = 3600000 },
		{ .key = "idle_timeout_ms",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.idle_timeout_ms,
		  .min = 1,
		  .max = 3600000 },
	};
	int ret;

	ret = tern_transport_args_parse("tcp", args, spec, RTE_DIM(spec));
	if (ret != 0)
		return ret;
	conf.listen_addr = listening ? listen : NULL;
	conf.listen_port = port;
	conf.advertise_addr = advertised ? advertise : NULL;
	conf.auth_file = authed ? auth_file : NULL;
	/* listen2..listen4 in order, without gaps, and only with listen. */
	for (i = 0, n = 0; i < RTE_DIM(xgiven); i++) {
		if (!xgiven[i])
			continue;
		if (n != i || !listening) {
			TCP_LOG(ERR, "listen%u needs listen%s", i + 2,
				!listening ? "" : (i == 1 ? "2" : "2 and listen3"));
			return -EINVAL;
		}
		conf.extra_listen_addr[n++] = xlisten[i];
	}
	for (; n < RTE_DIM(xgiven); n++)
		conf.extra_listen_port[n] = 0;
	conf.notify = env != NULL ? env->notify : NULL;
	ret = tern_tcp_configure(&conf);
	if (ret == 0)
		snprintf(tcp_listen_name, sizeof(tcp_listen_name), "%s", listening ? listen : "");
	return ret;
}

/* Closes the listener, forgets the secret. */
void
tcp_stop(void)
{
	tern_tcp_configure(NULL);
	tcp_listen_name[0] = '\0';
}

int
tcp_describe(char *buf, size_t len)
{
	int port = tern_tcp_listen_port();

	if (tcp_listen_name[0] == '\0' || port < 0)
		return 0;
	return snprintf(buf, len, "listening on %s port %d", tcp_listen_name, port);
}
