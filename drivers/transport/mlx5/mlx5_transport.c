/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 transport: tern's ops table, the top of the driver.
 *
 * One endpoint per worker lcore owns one CQ and one RC QP per peer it talks
 * to (opened on first use); its data path is in mlx5_ep.c. Segment export
 * and import are here: export advertises the handshake listener
 * (mlx5_handshake.c), import runs the handshake with another node. Opening
 * and closing endpoints registers them with the control state (mlx5_ctl.c)
 * and, on the last close, releases connection set-up (mlx5_connect.c) and
 * the device. Nothing below calls back up here.
 */
#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_telemetry.h>

#include <tern_time.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_connect.h"
#include "mlx5_ctl.h"
#include "mlx5_desc3.h"
#include "mlx5_notify.h"
#include "mlx5_ep.h"
#include "mlx5_handshake.h"
#include "mlx5_queue.h"
#include "mlx5_rails.h"
#include "mlx5_wire.h"
#include "tern_mlx5_internal.h"

int
mlx5_test_set_queue_provider(const struct tern_mlx5_provider *p, void *ctx)
{
	int rc = 0;

	mlx5_ctl_lock();
	if (mlx5_ep_count_locked() != 0) {
		rc = -EBUSY;
	} else {
		mlx5_connect_shutdown(); /* target QPs of the old provider */
		mlx5_prov_set_locked(p, ctx);
		mlx5_rails_forget_marks(-1); /* another device: its links are new */
	}
	mlx5_ctl_unlock();
	return rc;
}

static int
mlx5_segment_export(const struct tern_segment *seg, void *desc, size_t desc_len)
{
	struct tern_mlx5_conn_params port;
	struct tern_mlx5_desc d;
	const struct mlx5_mr *mr;
	int rc;

	if (seg == NULL || desc == NULL || seg->kind != TERN_SEGMENT_LOCAL)
		return -EINVAL;
	if (desc_len < TERN_MLX5_DESC_LEN)
		return -ENOSPC;
	if (!mlx5_probed() || mlx5_prov()->port_info(mlx5_prov_ctx(), &port) != 0)
		return -ENODEV;
	memset(&d, 0, sizeof(d));
	/* A peer can use the descriptor only through a handshake with us. */
	rc = mlx5_handshake_address(d.hs_addr, &d.hs_port);
	if (rc != 0)
		return rc;
	mr = mlx5_mr_get((uintptr_t)seg->base, seg->length);
	if (mr == NULL)
		return -EFAULT;
	d.magic = TERN_MLX5_DESC_MAGIC;
	d.version = TERN_MLX5_DESC_VERSION;
	d.rkey = mr->rkey;
	d.addr = (uintptr_t)seg->base;
	d.length = seg->length;
	memcpy(d.gid, port.gid, sizeof(d.gid));
	d.epoch = mlx5_connect_epoch();
	return mlx5_desc_encode(&d, desc, desc_len);
}

/*
 * The import takes a reference on the exporter's peer slot, which
 * segment_release() drops. Another node's segment needs QPs connected to
 * that node's current incarnation: the handshake runs unless they are.
 */
static int
mlx5_segment_import(struct tern_segment *seg, const void *desc, size_t desc_len)
{
	struct tern_mlx5_desc3 d3;
	struct tern_mlx5_desc d;
	int peer, rc;

	RTE_BUILD_BUG_ON(sizeof(d) > TERN_SEGMENT_PRIV_SIZE);
	RTE_BUILD_BUG_ON(sizeof(d) != TERN_MLX5_DESC_LEN);
	/* Version 2 (one port) or 3 (a port per rail, mlx5_rails.c). */
	if (seg == NULL || desc == NULL || mlx5_desc_any_decode(desc, desc_len, &d3, NULL) != 0 ||
	    mlx5_desc3_port(&d3, 0, &d) != 0 || (seg->length != 0 && seg->length > d.length))
		return -EINVAL;
	if (!mlx5_probed())
		return -ENODEV;
	if (d3.nports > 1)
		return mlx5_rails_import(seg, &d3, 0);
	peer = mlx5_peer_get(d.gid, 1);
	if (peer < 0)
		return peer;
	if (peer != TERN_MLX5_PEER_SELF) {
		rc = mlx5_handshake_run((uint16_t)peer, &d);
		if (rc != 0) {
			mlx5_peer_put((uint16_t)peer);
			return rc;
		}
		/* Its QPs, should they go dead, are handshaken again from here. */
		mlx5_ctl_lock();
		mlx5_peer_set_desc_locked((uint16_t)peer, &d);
		mlx5_ctl_unlock();
		mlx5_reviver_rearm((uint16_t)peer);
		mlx5_reviver_start();
	}
	d.peer = (uint16_t)peer;
	memcpy(seg->priv, &d, sizeof(d));
	return 0;
}

static void
mlx5_segment_release(struct tern_segment *seg)
{
	const struct tern_mlx5_desc *d;

	if (seg == NULL)
		return;
	d = (const struct tern_mlx5_desc *)seg->priv;
	if (d->magic == TERN_MLX5_DESC_MAGIC && d->version == TERN_MLX5_DESC_VERSION) {
		if (d->reserved > 1)
			mlx5_rails_release(seg);
		else
			mlx5_peer_put(d->peer);
	}
}

static void
ep_close_qps(struct mlx5_endpoint *ep)
{
	unsigned int i;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		if (ep->qps[i] == NULL)
			continue;
		mlx5_ep_sq_free(ep->qps[i]);
		ep->qps[i] = NULL;
	}
}

static struct tern_endpoint *
mlx5_endpoint_open(const struct tern_endpoint_conf *conf)
{
	const struct tern_mlx5_tuning *tun = mlx5_tuning();
	struct tern_mlx5_cq_view view;
	struct mlx5_endpoint *ep;
	uint32_t sw_size;
	int rc;

	if (conf == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	if (!mlx5_probed()) {
		rte_errno = ENODEV;
		return NULL;
	}
	ep = rte_zmalloc_socket("tern_mlx5_ep", sizeof(*ep), RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (ep == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ep->lcore_id = conf->lcore_id;
	ep->base.lcore_id = conf->lcore_id;
	ep->sq_wqebbs = tun->sq_wqebbs != 0 ? rte_align32pow2(tun->sq_wqebbs) : 256;
	ep->sig_every = tun->sig_every != 0 ? tun->sig_every : (uint16_t)(ep->sq_wqebbs / 4);
	ep->max_inline = tun->max_inline != 0 ? tun->max_inline : 64;
	ep->revive_ms = tun->revive_ms != 0 ? tun->revive_ms : 10;
	ep->revive_tries = tun->revive_tries != 0 ? tun->revive_tries : 8;
	ep->nt_timeout_tsc = (tun->notify_timeout_ms != 0 ? tun->notify_timeout_ms : 1000) *
			     (rte_get_tsc_hz() / 1000);
	ep->nt_free = (uint32_t)((1ull << MLX5_EP_NT_MAX) - 1);
	/* Slices completed locally, and every notification's completion. */
	sw_size = rte_align32pow2(RTE_MAX(conf->max_slices, 64u) + MLX5_EP_NT_MAX);
	ep->sw = rte_zmalloc_socket("tern_mlx5_sw", sizeof(*ep->sw) * sw_size, 0, conf->socket_id);
	ep->keys = rte_zmalloc_socket("tern_mlx5_keys", sizeof(*ep->keys) * MLX5_SEG_KEYS, 0,
				      conf->socket_id);
	rc = ep->sw == NULL || ep->keys == NULL ? -ENOMEM : 0;
	if (rc == 0)
		rc = mlx5_rails_ep_open(ep, conf->socket_id);
	if (rc == 0) {
		ep->sw_mask = sw_size - 1;
		ep->keys[0].handle = 1; /* see MLX5_SEG_KEYS */
		/* Every WQE of every QP may produce a CQE (flush after an error),
		 * so the CQ holds all of them and can never overrun. */
		memset(&view, 0, sizeof(view));
		rc = mlx5_prov()->cq_open(mlx5_prov_ctx(), conf->lcore_id,
					  ep->sq_wqebbs * TERN_MLX5_PEER_MAX, &view,
					  &ep->cq_handle);
		if (rc == 0 && (mlx5_cq_init(&ep->cq, &view) != 0 ||
				view.cqe_cnt < ep->sq_wqebbs * TERN_MLX5_PEER_MAX)) {
			mlx5_prov()->cq_close(mlx5_prov_ctx(), ep->cq_handle);
			rc = -EINVAL;
		}
		if (rc != 0)
			TERN_MLX5_LOG(ERR, "lcore %u: cannot create CQ: %s", conf->lcore_id,
				      strerror(-rc));
	}
	if (rc == 0) {
		mlx5_ep_rx_open(ep, mlx5_ep_notify_status);
		mlx5_ctl_lock();
		rc = mlx5_ep_add_locked(ep);
		mlx5_ctl_unlock();
		if (rc != 0) {
			mlx5_ep_rx_close(ep);
			mlx5_prov()->cq_close(mlx5_prov_ctx(), ep->cq_handle);
		}
	}
	if (rc != 0) {
		mlx5_rails_ep_close(ep);
		rte_free(ep->keys);
		rte_free(ep->sw);
		rte_free(ep);
		rte_errno = -rc;
		return NULL;
	}
	return &ep->base;
}

static void
mlx5_endpoint_close(struct tern_endpoint *base)
{
	struct mlx5_endpoint *ep = mlx5_ep(base);
	unsigned int left;

	if (ep == NULL)
		return;
	mlx5_ctl_lock();
	left = mlx5_ep_remove_locked(ep);
	mlx5_connect_forget_ep(ep);
	ep_close_qps(ep);
	mlx5_ep_rx_close(ep);
	mlx5_prov()->cq_close(mlx5_prov_ctx(), ep->cq_handle);
	mlx5_rails_ep_close(ep);
	rte_free(ep->keys);
	rte_free(ep->sw);
	rte_free(ep);
	if (left == 0) {
		/* Target-side QPs before the device goes. */
		mlx5_connect_shutdown();
		mlx5_ctl_shutdown_locked();
	}
	mlx5_ctl_unlock();
	if (left == 0)
		mlx5_reviver_stop();
}

/* ---- configuration through the registry (tern_transport_configure()) ---- */

#define MLX5_PARAMS                                                                    \
	"listen=<ADDR:PORT> advertise=<ADDR> max_conns=<1..256> idle_timeout_ms=<ms> " \
	"handshake_timeout_ms=<ms> gid_index=<0..255> traffic_class=<0..255> "         \
	"dscp=<0..63> sl=<0..15> timeout=<1..31> retry_cnt=<0..7> rnr_retry=<0..7> "   \
	"write_fence_us=<1..60000000>"

/* What the handshake listener was configured with, for describe(). */
static char mlx5_listen_addr[64];

static int
mlx5_configure(const char *args, const struct tern_transport_env *env)
{
	char listen[64] = "", advertise[64] = "";
	struct tern_mlx5_conf conf = { 0 };
	uint16_t port = 0;
	bool listening = false, advertised = false, gid_given = false, tc_given = false,
	     dscp_given = false;
	struct tern_mlx5_path path = TERN_MLX5_PATH_DEFAULT;
	uint32_t gid_index = 0, tc = 0, dscp = 0, sl = 0, timeout = path.timeout,
		 retry_cnt = path.retry_cnt, rnr_retry = path.rnr_retry, write_fence_us = 0;
	const struct tern_transport_arg spec[] = {
		{ .key = "listen",
		  .kind = TERN_TRANSPORT_ARG_ADDR_PORT,
		  .dst = listen,
		  .len = sizeof(listen),
		  .port = &port,
		  .given = &listening },
		{ .key = "advertise",
		  .kind = TERN_TRANSPORT_ARG_STRING,
		  .dst = advertise,
		  .len = sizeof(advertise),
		  .given = &advertised },
		{ .key = "max_conns",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.max_conns,
		  .min = 1,
		  .max = TERN_MLX5_LISTEN_CONNS_MAX },
		{ .key = "idle_timeout_ms",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.idle_timeout_ms,
		  .min = 1,
		  .max = 600000 },
		{ .key = "handshake_timeout_ms",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &conf.handshake_timeout_ms,
		  .min = 1,
		  .max = 600000 },
		{ .key = "gid_index",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &gid_index,
		  .max = 255,
		  .given = &gid_given },
		{ .key = "traffic_class",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &tc,
		  .max = 255,
		  .given = &tc_given },
		{ .key = "dscp",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &dscp,
		  .max = 63,
		  .given = &dscp_given },
		{ .key = "sl", .kind = TERN_TRANSPORT_ARG_U32, .dst = &sl, .max = 15 },
		{ .key = "timeout",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &timeout,
		  .min = 1,
		  .max = 31 },
		{ .key = "retry_cnt", .kind = TERN_TRANSPORT_ARG_U32, .dst = &retry_cnt, .max = 7 },
		{ .key = "rnr_retry", .kind = TERN_TRANSPORT_ARG_U32, .dst = &rnr_retry, .max = 7 },
		{ .key = "write_fence_us",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &write_fence_us,
		  .min = 1,
		  .max = 60000000 },
	};
	int ret;

	RTE_SET_USED(env);
	ret = tern_transport_args_parse("mlx5", args, spec, RTE_DIM(spec));
	if (ret != 0)
		return ret;
	if (tc_given && dscp_given) {
		TERN_MLX5_LOG(ERR, "traffic_class and dscp both given: one sets the other");
		return -EINVAL;
	}
	path.gid_index = gid_given ? (int32_t)gid_index : -1;
	path.traffic_class = (uint8_t)(dscp_given ? dscp << 2 : tc);
	path.sl = (uint8_t)sl;
	path.timeout = (uint8_t)timeout;
	path.retry_cnt = (uint8_t)retry_cnt;
	path.rnr_retry = (uint8_t)rnr_retry;
	ret = mlx5_verbs_set_path(&path);
	if (ret != 0)
		return ret;
	/* 0 (not given): one local ACK timeout of @path. */
	mlx5_rails_set_write_fence(write_fence_us);
	conf.listen_addr = listening ? listen : NULL;
	conf.listen_port = port;
	conf.advertise_addr = advertised ? advertise : NULL;
	ret = tern_mlx5_configure(&conf);
	if (ret == 0)
		mlx5_notify_node_set_queue(env != NULL ? env->notify : NULL);
	if (ret == 0)
		snprintf(mlx5_listen_addr, sizeof(mlx5_listen_addr), "%s", listening ? listen : "");
	return ret;
}

static void
mlx5_stop(void)
{
	/* The node's queue may go after this: deliver nothing into it. */
	mlx5_notify_node_set_queue(NULL);
	tern_mlx5_configure(NULL);
	mlx5_reviver_stop();
	mlx5_verbs_set_path(NULL);
	mlx5_rails_set_write_fence(0);
	mlx5_listen_addr[0] = '\0';
}

static int
mlx5_describe(char *buf, size_t len)
{
	int port = tern_mlx5_listen_port();

	if (mlx5_listen_addr[0] == '\0' || port < 0)
		return 0;
	return snprintf(buf, len, "answering handshakes on %s port %d", mlx5_listen_addr, port);
}

/* ---- /tern/mlx5/qps: the state of every QP ---- */

enum {
	QP_LCORE,
	QP_PEER,
	QP_GID,
	QP_QPN,
	QP_STATE,
	QP_WQE_CNT,
	QP_IN_FLIGHT,
	QP_ERRORS,
	QP_RECOVERIES,
	QP_REVIVE_TRIES,
	QP_COLUMNS
};

static int
mlx5_tel_qps(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const char *const names[QP_COLUMNS] = { "lcore",	      "peer",	"gid",
						       "qpn",	      "state",	"wqe_cnt",
						       "in_flight",   "errors", "recoveries",
						       "revive_tries" };
	struct tern_mlx5_qp_info info[64];
	struct rte_tel_data *col[QP_COLUMNS];
	char gid[48];
	int n, i, c;

	RTE_SET_USED(cmd);
	if (params != NULL && params[0] != '\0') {
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_string(d, "error", "no parameters");
		return 0;
	}
	n = mlx5_qp_list(info, RTE_DIM(info));
	for (c = 0; c < QP_COLUMNS; c++) {
		col[c] = rte_tel_data_alloc();
		if (col[c] == NULL) {
			while (c-- > 0)
				rte_tel_data_free(col[c]);
			return -ENOMEM;
		}
		rte_tel_data_start_array(col[c], c == QP_GID || c == QP_STATE ? RTE_TEL_STRING_VAL
									      : RTE_TEL_U64_VAL);
	}
	for (i = 0; i < n && i < (int)RTE_DIM(info); i++) {
		const uint8_t *g = info[i].gid;

		if (memcmp(g, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			snprintf(gid, sizeof(gid), "::ffff:%u.%u.%u.%u", g[12], g[13], g[14],
				 g[15]);
		else
			snprintf(gid, sizeof(gid),
				 "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%"
				 "02x%02x",
				 g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10],
				 g[11], g[12], g[13], g[14], g[15]);
		rte_tel_data_add_array_u64(col[QP_LCORE], info[i].lcore);
		rte_tel_data_add_array_u64(col[QP_PEER], info[i].peer);
		rte_tel_data_add_array_string(col[QP_GID], gid);
		rte_tel_data_add_array_u64(col[QP_QPN], info[i].qpn);
		rte_tel_data_add_array_string(col[QP_STATE], info[i].state);
		rte_tel_data_add_array_u64(col[QP_WQE_CNT], info[i].wqe_cnt);
		rte_tel_data_add_array_u64(col[QP_IN_FLIGHT], info[i].in_flight);
		rte_tel_data_add_array_u64(col[QP_ERRORS], info[i].errors);
		rte_tel_data_add_array_u64(col[QP_RECOVERIES], info[i].recoveries);
		rte_tel_data_add_array_u64(col[QP_REVIVE_TRIES], info[i].revive_tries);
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "count", (uint64_t)(n < 0 ? 0 : n));
	for (c = 0; c < QP_COLUMNS; c++)
		rte_tel_data_add_dict_container(d, names[c], col[c], 0);
	return 0;
}

/* /tern/mlx5/notify: the target side of notifications (mlx5_connect.c). */
static int
mlx5_tel_notify(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct tern_mlx5_ep_stats es, sent;
	struct mlx5_notify_stats st;
	unsigned int i;
	int qps;

	RTE_SET_USED(cmd);
	rte_tel_data_start_dict(d);
	if (params != NULL && params[0] != '\0') {
		rte_tel_data_add_dict_string(d, "error", "no parameters");
		return 0;
	}
	/* What this node's endpoints sent: lcore-owned counters, read as a
	 * snapshot for display (as /tern/mlx5/qps reads the QPs). */
	memset(&sent, 0, sizeof(sent));
	mlx5_ctl_lock();
	for (i = 0; i < mlx5_ep_count_locked(); i++) {
		if (mlx5_ep_stats(&mlx5_ep_at_locked(i)->base, &es) != 0)
			continue;
		sent.notify_posted += es.notify_posted;
		sent.notify_answered += es.notify_answered;
		sent.notify_failed += es.notify_failed;
		sent.notify_timeouts += es.notify_timeouts;
		sent.notify_unknown += es.notify_unknown;
	}
	mlx5_ctl_unlock();
	qps = mlx5_notify_node_stats(&st);
	rte_tel_data_add_dict_u64(d, "target_qps", (uint64_t)qps);
	rte_tel_data_add_dict_u64(d, "delivered", st.delivered);
	rte_tel_data_add_dict_u64(d, "full", st.full);
	rte_tel_data_add_dict_u64(d, "refused", st.refused);
	rte_tel_data_add_dict_u64(d, "errors", st.errors);
	rte_tel_data_add_dict_u64(d, "replies_lost", st.replies_lost);
	rte_tel_data_add_dict_u64(d, "sent_posted", sent.notify_posted);
	rte_tel_data_add_dict_u64(d, "sent_answered", sent.notify_answered);
	rte_tel_data_add_dict_u64(d, "sent_failed", sent.notify_failed);
	rte_tel_data_add_dict_u64(d, "sent_timeouts", sent.notify_timeouts);
	rte_tel_data_add_dict_u64(d, "sent_unknown", sent.notify_unknown);
	return 0;
}

RTE_INIT(mlx5_tel_register)
{
	rte_telemetry_register_cmd(
		"/tern/mlx5/qps", mlx5_tel_qps,
		"mlx5 QPs: lcore, peer GID, QPN, state, ring, in flight, errors, "
		"recoveries. No parameters");
	rte_telemetry_register_cmd(
		"/tern/mlx5/notify", mlx5_tel_notify,
		"mlx5 notifications: received by target QPs (delivered, full, refused, errors), "
		"sent (sent_*). No parameters");
}

/*
 * Each lcore's view of a port's QPs (@p out, @p n, in endpoint order as
 * mlx5_peer_rails() lists them): a QP in RTS whose rail that lcore paused
 * after a failover shows paused, with what is left of the pause, and the
 * WQEs taken off it count as reposted. A snapshot for display.
 */
static void
rails_annotate(const struct tern_mlx5_desc_port *port, struct tern_transport_rail *out,
	       unsigned int n)
{
	uint64_t now = tern_clock_ms(), moved, pauses;
	unsigned int e, k = 0;
	uint32_t left;
	int peer;

	mlx5_ctl_lock();
	peer = mlx5_peer_find_locked(port->gid);
	for (e = 0; peer >= 0 && e < mlx5_ep_count_locked() && k < n; e++) {
		const struct mlx5_endpoint *ep = mlx5_ep_at_locked(e);
		struct tern_transport_rail *r;

		if (__atomic_load_n(&ep->qps[peer], __ATOMIC_ACQUIRE) == NULL)
			continue;
		r = &out[k++];
		mlx5_rails_rail_state(ep, (uint16_t)peer, now, &left, &moved, &pauses);
		r->reposted = moved;
		r->failures += pauses;
		if (left != 0 && r->state == TERN_TRANSPORT_RAIL_UP) {
			r->state = TERN_TRANSPORT_RAIL_PAUSED;
			r->backoff_ms = left;
		}
	}
	mlx5_ctl_unlock();
}

/*
 * The rails of a peer's blob, for /tern/peers: the QPs this process has to
 * that node, one per endpoint (mlx5_peer_rails()).
 */
static int
mlx5_rails(const void *desc, size_t desc_len, struct tern_transport_rail *out, unsigned int max)
{
	struct tern_mlx5_desc3 d;
	unsigned int i, written = 0;
	int total = 0, c;

	if (desc == NULL || (out == NULL && max != 0) ||
	    mlx5_desc_any_decode(desc, desc_len, &d, NULL) != 0)
		return -EINVAL;
	if (!mlx5_probed())
		return 0;
	/* Every port's QPs (a version 3 descriptor: one peer slot per port). */
	for (i = 0; i < d.nports; i++) {
		unsigned int k, w;

		c = mlx5_peer_rails(d.ports[i].gid, out == NULL ? NULL : out + written,
				    max - written);
		total += c;
		w = RTE_MIN((unsigned int)c, max - written);
		/* Several ports: say which, "port 1 lcore 2 qp 0x000101 rts". */
		for (k = 0; d.nports > 1 && k < w; k++) {
			char name[sizeof(out->name)] = "port 0 ";

			/* i < TERN_MLX5_RAIL_MAX: one digit; the QP's name is cut to fit. */
			name[5] = (char)('0' + i);
			memcpy(name + 7, out[written + k].name, sizeof(name) - 8);
			name[sizeof(name) - 1] = '\0';
			memcpy(out[written + k].name, name, sizeof(name));
		}
		if (d.nports > 1)
			rails_annotate(&d.ports[i], out + written, w);
		written += w;
	}
	return total;
}

static struct tern_transport_ops mlx5_ops = {
	.name = "mlx5",
	.rank = 10,
	.params = MLX5_PARAMS,
	.configure = mlx5_configure,
	.stop = mlx5_stop,
	.describe = mlx5_describe,
	.probe = mlx5_probe,
	.segment_export = mlx5_segment_export,
	.segment_import = mlx5_segment_import,
	.segment_release = mlx5_segment_release,
	.endpoint_open = mlx5_endpoint_open,
	.post_burst = mlx5_post_burst,
	.poll = mlx5_poll,
	.cancel = mlx5_cancel,
	.expire = mlx5_rails_expire,
	.endpoint_close = mlx5_endpoint_close,
	.rails = mlx5_rails,
	.rail_live = mlx5_rail_live,
	.give_back = mlx5_give_back,
	.notify_post = mlx5_notify_post,
};

TERN_TRANSPORT_REGISTER(mlx5_ops);
