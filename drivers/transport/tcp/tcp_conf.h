/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TCP_CONF_H
#define TERN_TCP_CONF_H

/**
 * @file
 * The tcp transport's configuration (tcp_conf.c): what tern_tcp_configure()
 * set, the counters of tern_tcp_stats() and the log type, for tcp_conn.c
 * and tcp_transport.c. tcp_conf.c calls neither of them (doc/protocol.md,
 * "Files").
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <rte_log.h>

#include <tern_segment_driver.h>

#include "tcp_auth.h"
#include "tcp_frame.h"
#include "tern_tcp.h"

extern int tcp_logtype;
#define TCP_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, tcp_logtype, "tern.tcp: " fmt "\n", ##__VA_ARGS__)

/* Control-path state, set by tern_tcp_configure() before endpoints open. */
struct tcp_cfg {
	int listen_fd;
	uint16_t listen_port;
	uint8_t family; /* of the advertised address, 0 when none */
	uint8_t adv_addr[16];
	/* further listeners (rails), advertised as they are */
	uint32_t nb_extra;
	int extra_fd[TERN_TCP_RAILS_MAX - 1];
	struct tcp_desc_addr extra[TERN_TCP_RAILS_MAX - 1];
	uint32_t stall_timeout_ms;
	uint32_t rail_inflight;
	uint32_t rail_bytes_min; /* floor and ceiling of a rail's bound of bytes in flight */
	uint32_t rail_bytes_max;
	uint32_t sndbuf;
	uint32_t rcvbuf;
	uint32_t conns_per_peer;
	uint32_t connect_timeout_ms;
	uint32_t user_timeout_ms;
	uint32_t idle_timeout_ms;
	struct tern_notify_queue *notify;   /* where NOTIFY frames go; NULL: refused */
	bool auth;			    /* a secret is configured */
	uint8_t auth_key[TCP_AUTH_KEY_LEN]; /* derived from it */
};
extern struct tcp_cfg tcp_cfg;
/* Endpoints open (tcp_conn.c): tern_tcp_configure() waits until there are none. */
extern int tcp_open_endpoints;
extern struct tern_tcp_stats tcp_stats;

#define STAT_INC(field) __atomic_fetch_add(&tcp_stats.field, 1, __ATOMIC_RELAXED)

void tcp_addr_to_sockaddr(uint8_t family, const uint8_t addr[16], uint16_t port,
			  struct sockaddr_storage *ss, socklen_t *len);
void tcp_socket_tune(int fd);

/* The transport's ops on the configuration side (struct tern_transport_ops). */
int tcp_probe(void);
int tcp_segment_export(const struct tern_segment *seg, void *desc, size_t desc_len);
int tcp_segment_import(struct tern_segment *seg, const void *desc, size_t desc_len);

/* Configuration through the registry (tern_transport_configure()). */
#define TCP_PARAMS                                                                        \
	"listen=<ADDR:PORT> listen2=<ADDR:PORT> listen3=<ADDR:PORT> listen4=<ADDR:PORT> " \
	"advertise=<ADDR> auth_file=<PATH> conns=<1..16> sndbuf=<bytes> rcvbuf=<bytes> "  \
	"connect_timeout_ms=<ms> user_timeout_ms=<ms> idle_timeout_ms=<ms> "              \
	"stall_timeout_ms=<ms> rail_inflight=<1..4096> rail_bytes_min=<bytes> "           \
	"rail_bytes_max=<bytes>"
struct tern_transport_env;
int tcp_configure(const char *args, const struct tern_transport_env *env);
void tcp_stop(void);
int tcp_describe(char *buf, size_t len);

#endif /* TERN_TCP_CONF_H */
