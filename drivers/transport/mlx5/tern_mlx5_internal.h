/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_MLX5_INTERNAL_H
#define TERN_MLX5_INTERNAL_H

/**
 * @file
 * Driver-internal interfaces of the mlx5 transport, shared by its files and
 * by its tests (tests/mlx5). Not a public API.
 *
 * The "queue provider" is everything below the data path: opening a device,
 * creating CQs and QPs and handing over their queue views, registering
 * memory, moving a QP through its states. Production uses the verbs provider
 * (mlx5_verbs.c); tests install a software device model with
 * mlx5_test_set_queue_provider().
 */

#include <stddef.h>
#include <stdint.h>

#include <rte_log.h>

#include "mlx5_notify.h"
#include "mlx5_queue.h"
#include "mlx5_wire.h"
#include "tern_mlx5.h"

extern int mlx5_logtype;

#define TERN_MLX5_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, mlx5_logtype, "tern_mlx5: " fmt "\n", ##__VA_ARGS__)

/** Peers one process can reach (slot 0 is this node itself, loopback). */
#define TERN_MLX5_PEER_MAX 8
/** The loopback peer slot. */
#define TERN_MLX5_PEER_SELF 0

/**
 * What one side of an RC connection tells the other; the connection
 * handshake (tern_mlx5.h) carries qpn, psn, lid, mtu and gid.
 */
struct tern_mlx5_conn_params {
	uint32_t qpn;	   /**< QP number */
	uint32_t psn;	   /**< first packet sequence number (24 bits) */
	uint16_t lid;	   /**< IB LID (0 on RoCE) */
	uint8_t mtu;	   /**< enum ibv_mtu the side can use */
	uint8_t port;	   /**< port number on its own device */
	uint8_t gid[16];   /**< RoCE v2 GID (zero on IB without GRH) */
	uint8_t gid_index; /**< the side's own sgid index (informational) */
	uint8_t reserved[3];
};

/** Everything below the data path. Called on the control path or the error path. */
struct tern_mlx5_provider {
	/** Is a device there? 0 or a negative errno. */
	int (*probe)(void *ctx);
	/** Release what probe() and the opens left behind (last endpoint closed). */
	void (*shutdown)(void *ctx);
	/** Create lcore @p lcore_id's CQ with at least @p cqe_cnt entries. */
	int (*cq_open)(void *ctx, unsigned int lcore_id, uint32_t cqe_cnt,
		       struct tern_mlx5_cq_view *view, void **cq);
	void (*cq_close)(void *ctx, void *cq);
	/**
	 * Create and connect an RC QP on @p cq to @p peer without a handshake:
	 * TERN_MLX5_PEER_SELF (loopback), or a peer the provider wires itself
	 * (the model's). -ENOTCONN: the peer needs the handshake (tern_mlx5.h).
	 */
	int (*qp_open)(void *ctx, void *cq, unsigned int lcore_id, uint16_t peer,
		       const uint8_t *peer_gid, uint32_t wqe_cnt, struct tern_mlx5_sq_view *view,
		       void **qp);
	/**
	 * Create an RC QP for the handshake, left in INIT: on @p cq with an SQ of
	 * @p wqe_cnt WQEBBs described in @p view (whose max_inline is an input),
	 * or with @p cq NULL a target-side QP that never posts (@p view NULL).
	 * @p local gets its QPN, a fresh PSN and the port's LID, MTU and GID.
	 */
	int (*qp_create)(void *ctx, void *cq, uint32_t wqe_cnt, struct tern_mlx5_sq_view *view,
			 struct tern_mlx5_conn_params *local, void **qp);
	/** Bring a QP from INIT (qp_create, qp_reset) through RTR to RTS towards @p remote. */
	int (*qp_connect)(void *ctx, void *qp, const struct tern_mlx5_conn_params *remote);
	/** Take a QP back to INIT for a new handshake, with a fresh PSN in @p local. */
	int (*qp_reset)(void *ctx, void *qp, struct tern_mlx5_conn_params *local);
	/** Move a QP to ERR so the device flushes what it holds (cancel). */
	int (*qp_flush)(void *ctx, void *qp);
	/**
	 * Bring a QP back from ERR: RESET, INIT, RTR, RTS, indices restart at 0.
	 * -ENOTCONN for a QP connected by a handshake: its peer must take part.
	 */
	int (*qp_recover)(void *ctx, void *qp);
	void (*qp_close)(void *ctx, void *qp);
	/** Register [addr, addr + len) (or a larger range containing it). */
	int (*mr_register)(void *ctx, void *addr, uint64_t len, uint64_t *start, uint64_t *end,
			   uint32_t *lkey, uint32_t *rkey, void **mr);
	void (*mr_deregister)(void *ctx, void *mr);
	/** This node's port: GID (its identity), LID, active MTU, port, GID index. */
	int (*port_info)(void *ctx, struct tern_mlx5_conn_params *port);
	/**
	 * Optional (notifications, mlx5_notify.h): qp_create() with a receive
	 * queue of at least @p rq_cnt RECVs of one scatter entry on @p recv_cq,
	 * described in @p rq. @p cq may be NULL (no SQ).
	 */
	int (*qp_create_rq)(void *ctx, void *cq, void *recv_cq, uint32_t wqe_cnt,
			    struct tern_mlx5_sq_view *view, uint32_t rq_cnt,
			    struct tern_mlx5_rq_view *rq, struct tern_mlx5_conn_params *local,
			    void **qp);
};

/** The verbs provider (real ConnectX devices). */
extern const struct tern_mlx5_provider mlx5_verbs_provider;

/**
 * How the verbs provider connects QPs: the path (GID, class of service) and
 * the RC timers. Set through the transport's options (mlx5_configure(),
 * doc/operations.md); zero-initialised fields are not the defaults: start
 * from TERN_MLX5_PATH_DEFAULT.
 */
struct tern_mlx5_path {
	int32_t gid_index;     /**< sgid index to use; -1: chosen (RoCE v2 IPv4-mapped,
				    then global IPv6, then link-local) */
	uint8_t traffic_class; /**< GRH traffic class (DSCP << 2, ECN bits 0) */
	uint8_t sl;	       /**< service level (IB SL; RoCE: the priority via SL) */
	uint8_t timeout;       /**< local ACK timeout: 4.096 us x 2^timeout per attempt */
	uint8_t retry_cnt;     /**< transport retries (0..7) */
	uint8_t rnr_retry;     /**< RNR retries (0..7, 7: unlimited) */
	uint8_t reserved[3];
};

/** The defaults: GID chosen, class 0, SL 0, timeout 14 (~67 ms), 7 retries each. */
#define TERN_MLX5_PATH_DEFAULT \
	((struct tern_mlx5_path){ .gid_index = -1, .timeout = 14, .retry_cnt = 7, .rnr_retry = 7 })

/**
 * Set the path the verbs provider uses from its next probe (the GID) and
 * its next QP connection (the rest) on; NULL restores the defaults.
 * @return 0, or -EINVAL (gid_index above 255, sl above 15, timeout not in
 *         1..31, a retry count above 7).
 */
int mlx5_verbs_set_path(const struct tern_mlx5_path *path);

/** The path set (mlx5_verbs_set_path()). */
void mlx5_verbs_get_path(struct tern_mlx5_path *path);

struct ibv_qp_init_attr_ex;

/**
 * Fill the send-queue part of an initiator RC QP's creation attributes as
 * the verbs provider asks rdma-core for it: the send operations the data path
 * posts (IBV_QP_INIT_ATTR_SEND_OPS_FLAGS = RDMA WRITE | RDMA READ, so the
 * provider sizes a WQE for those and not for bind-MW / local-invalidate),
 * max_send_wr so the ring holds @p wqe_cnt WQEBBs of largest-inline WRITEs,
 * one SGE, @p max_inline bytes of inline data. Sets cap and comp_mask bits;
 * leaves the rest of @p attr alone. The device model and the verbs fake
 * (tests/mlx5) size queues from it the way rdma-core does.
 */
void mlx5_verbs_sq_attr(uint32_t wqe_cnt, uint32_t max_inline, struct ibv_qp_init_attr_ex *attr);

/**
 * Replace the queue provider (tests). Must be called before an engine probes
 * the transport and while no endpoint is open; NULL restores the verbs
 * provider.
 *
 * @return 0, or -EBUSY when endpoints are open.
 */
int mlx5_test_set_queue_provider(const struct tern_mlx5_provider *provider, void *ctx);

/** Tuning the tests and the benchmark set before endpoints open. */
struct tern_mlx5_tuning {
	uint32_t sq_wqebbs;    /**< WQEBBs per QP (power of two); 256 */
	uint16_t sig_every;    /**< CQE request at least every this many WQEBBs; sq/4 */
	uint16_t max_inline;   /**< inline WRITEs up to this many bytes; 64 */
	uint16_t revive_ms;    /**< first wait before reviving a dead QP, doubled per try; 10 */
	uint16_t revive_tries; /**< revival attempts before a dead QP is given up; 8 */
	/** Every rail pause this long (tests); 0: 100 ms doubling to 2 s. */
	uint16_t rail_pause_ms;
	/** A notification whose SEND went through but whose status has not come
	 *  back by then fails with -ETIMEDOUT (the target refused the frame, or
	 *  lost the answer); 1000 */
	uint32_t notify_timeout_ms;
	/**
	 * A WRITE taken off a QP that failed with RETRY_EXC goes to another
	 * rail or the last resort this many microseconds after the error CQE
	 * was seen, or once that QP left ERR if sooner (doc/mlx5.md, "Failover
	 * of a WRITE"). 0: the configure key write_fence_us, else one local
	 * ACK timeout (4.096 us << the path's timeout); TERN_MLX5_FENCE_NOW: at
	 * once; TERN_MLX5_FENCE_QP: only once the QP left ERR.
	 */
	uint32_t write_fence_us;
};

/** tern_mlx5_tuning.write_fence_us: a WRITE goes elsewhere at once. */
#define TERN_MLX5_FENCE_NOW (UINT32_MAX - 1)
/** tern_mlx5_tuning.write_fence_us: only once the failed QP left ERR. */
#define TERN_MLX5_FENCE_QP UINT32_MAX

/** Set the tuning for endpoints opened from now on; NULL restores defaults. */
void mlx5_set_tuning(const struct tern_mlx5_tuning *tuning);

/**
 * Find (or assign) the peer slot of the node with GID @p gid; this node's own
 * GID is TERN_MLX5_PEER_SELF. With @p take_ref, the slot is referenced (an
 * imported segment) until mlx5_peer_put(); a slot with no reference, no
 * QP and no handshake under way is free again.
 * @return the slot (>= 0), or -ENOSPC.
 */
int mlx5_peer_get(const uint8_t gid[16], int take_ref);

/** Drop a reference taken by mlx5_peer_get(). */
void mlx5_peer_put(uint16_t peer);

/**
 * Tests: run @p init(@p arg) first thing on the handshake listener's thread,
 * for listeners started from now on (the device model makes that thread act
 * as another node). NULL removes it.
 */
void mlx5_test_set_listener_init(void (*init)(void *arg), void *arg);

/** Counters of one endpoint (tests, telemetry). */
struct tern_mlx5_ep_stats {
	uint64_t posted;	  /**< WQEs posted */
	uint64_t doorbells;	  /**< doorbells rung */
	uint64_t cqes;		  /**< CQEs consumed */
	uint64_t errors;	  /**< WQEs completed with an error */
	uint64_t recoveries;	  /**< QPs brought back from ERR */
	uint64_t revivals;	  /**< dead QPs brought back on a later use */
	uint64_t revive_failures; /**< revival attempts that failed */
	uint64_t rejected;	  /**< slices completed locally with an error */
	uint64_t notify_posted;	  /**< notification SENDs posted (notify_post) */
	uint64_t notify_answered; /**< notifications completed by their status frame */
	uint64_t notify_failed;	  /**< completed otherwise: SEND error, cancel, QP lost, timeout */
	uint64_t notify_timeouts; /**< of those, no status within notify_timeout_ms */
	uint64_t notify_unknown;  /**< statuses for no notification in flight, dropped */
};

/** One QP of one endpoint, as /tern/mlx5/qps shows it. */
struct tern_mlx5_qp_info {
	uint32_t lcore;	       /**< the endpoint's lcore */
	uint16_t peer;	       /**< peer slot (0: this node, loopback) */
	uint8_t gid[16];       /**< the peer's GID */
	uint32_t qpn;	       /**< QP number */
	const char *state;     /**< "rts", "err" (draining to recovery), "cancelled" (flush CQEs
				    due), "reclaiming" (its peer restarted), "disconnected" (waits for a
				    handshake: a new import), "reviving" (dead, tried again on next
				  use),     "failed" (revival given up) */
	uint32_t wqe_cnt;      /**< WQEBBs of the ring */
	uint32_t limit;	       /**< WQEBBs in flight at most */
	uint32_t in_flight;    /**< WQEBBs posted, not yet reported */
	uint64_t errors;       /**< WQEs completed with an error */
	uint64_t recoveries;   /**< recoveries and revivals */
	uint32_t revive_tries; /**< failed revival attempts since it went dead */
};

/**
 * List the QPs of every open endpoint (relaxed reads of lcore state: a
 * snapshot for display). @return how many there are (the first min(count,
 * max) are written).
 */
int mlx5_qp_list(struct tern_mlx5_qp_info *out, unsigned int max);

struct tern_endpoint;

/** Read an endpoint's counters. @return 0 or -EINVAL. */
int mlx5_ep_stats(const struct tern_endpoint *ep, struct tern_mlx5_ep_stats *stats);

#endif /* TERN_MLX5_INTERNAL_H */
