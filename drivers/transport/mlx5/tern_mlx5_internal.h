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
 * tern_mlx5_test_set_queue_provider().
 */

#include <stdint.h>

#include <rte_log.h>

#include "mlx5_queue.h"

extern int tern_mlx5_logtype;

#define TERN_MLX5_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, tern_mlx5_logtype, "tern_mlx5: " fmt "\n", ##__VA_ARGS__)

/** Peers one process can reach (slot 0 is this node itself, loopback). */
#define TERN_MLX5_PEER_MAX 8
/** The loopback peer slot. */
#define TERN_MLX5_PEER_SELF 0

/** Magic of a segment descriptor ("TMX5"). */
#define TERN_MLX5_DESC_MAGIC 0x544d5835u
/** Version of the segment descriptor layout. */
#define TERN_MLX5_DESC_VERSION 1

/**
 * A segment descriptor: what segment_export() writes for peers and what
 * segment_import() turns into a REMOTE segment's priv area. Little-endian.
 */
struct tern_mlx5_desc {
	uint32_t magic;	  /**< TERN_MLX5_DESC_MAGIC */
	uint16_t version; /**< TERN_MLX5_DESC_VERSION */
	uint16_t peer;	  /**< priv only: the importer's peer slot */
	uint32_t rkey;	  /**< remote key of the memory region */
	uint32_t reserved;
	uint64_t addr;	 /**< the exporter's virtual address of the first byte */
	uint64_t length; /**< bytes */
	uint8_t gid[16]; /**< the exporter's port GID (node identity and route) */
};

/**
 * What one side of an RC connection tells the other (the handshake carries it
 * once the directory exists; until then the application applies it).
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
	/** Create and connect an RC QP on @p cq to @p peer (TERN_MLX5_PEER_SELF: loopback). */
	int (*qp_open)(void *ctx, void *cq, unsigned int lcore_id, uint16_t peer,
		       const uint8_t *peer_gid, uint32_t wqe_cnt, struct tern_mlx5_sq_view *view,
		       void **qp);
	/** Move a QP to ERR so the device flushes what it holds (cancel). */
	int (*qp_flush)(void *ctx, void *qp);
	/** Bring a QP back from ERR: RESET, INIT, RTR, RTS, indices restart at 0. */
	int (*qp_recover)(void *ctx, void *qp);
	void (*qp_close)(void *ctx, void *qp);
	/** Register [addr, addr + len) (or a larger range containing it). */
	int (*mr_register)(void *ctx, void *addr, uint64_t len, uint64_t *start, uint64_t *end,
			   uint32_t *lkey, uint32_t *rkey, void **mr);
	void (*mr_deregister)(void *ctx, void *mr);
	/** This node's GID (descriptor identity). */
	int (*local_gid)(void *ctx, uint8_t gid[16]);
};

/** The verbs provider (real ConnectX devices). */
extern const struct tern_mlx5_provider tern_mlx5_verbs_provider;

/**
 * Replace the queue provider (tests). Must be called before an engine probes
 * the transport and while no endpoint is open; NULL restores the verbs
 * provider.
 *
 * @return 0, or -EBUSY when endpoints are open.
 */
int tern_mlx5_test_set_queue_provider(const struct tern_mlx5_provider *provider, void *ctx);

/** Tuning the tests and the benchmark set before endpoints open. */
struct tern_mlx5_tuning {
	uint32_t sq_wqebbs;  /**< WQEBBs per QP (power of two); 256 */
	uint16_t sig_every;  /**< CQE request at least every this many WQEBBs; sq/4 */
	uint16_t max_inline; /**< inline WRITEs up to this many bytes; 64 */
};

/** Set the tuning for endpoints opened from now on; NULL restores defaults. */
void tern_mlx5_set_tuning(const struct tern_mlx5_tuning *tuning);

/**
 * Assign (or find) the peer slot of the node with GID @p gid.
 * @return the slot (>= 0), or -ENOSPC.
 */
int tern_mlx5_peer_slot(const uint8_t gid[16]);

/** Counters of one endpoint (tests, telemetry). */
struct tern_mlx5_ep_stats {
	uint64_t posted;     /**< WQEs posted */
	uint64_t doorbells;  /**< doorbells rung */
	uint64_t cqes;	     /**< CQEs consumed */
	uint64_t errors;     /**< WQEs completed with an error */
	uint64_t recoveries; /**< QPs brought back from ERR */
	uint64_t rejected;   /**< slices completed locally with an error */
};

struct tern_endpoint;

/** Read an endpoint's counters. @return 0 or -EINVAL. */
int tern_mlx5_ep_stats(const struct tern_endpoint *ep, struct tern_mlx5_ep_stats *stats);

#endif /* TERN_MLX5_INTERNAL_H */
