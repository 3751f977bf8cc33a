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

#include "mlx5_queue.h"
#include "tern_mlx5.h"

extern int mlx5_logtype;

#define TERN_MLX5_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, mlx5_logtype, "tern_mlx5: " fmt "\n", ##__VA_ARGS__)

/** Peers one process can reach (slot 0 is this node itself, loopback). */
#define TERN_MLX5_PEER_MAX 8
/** The loopback peer slot. */
#define TERN_MLX5_PEER_SELF 0

/** Magic of a segment descriptor ("TMX5"). */
#define TERN_MLX5_DESC_MAGIC 0x544d5835u
/** Version of the segment descriptor layout (2: with the handshake address). */
#define TERN_MLX5_DESC_VERSION 2
/** Bytes of a segment descriptor on the wire (segment_export()'s blob). */
#define TERN_MLX5_DESC_LEN 72

/**
 * A segment descriptor in host form: what segment_export() encodes for peers
 * (mlx5_desc_encode(), doc/mlx5.md) and what segment_import() keeps in
 * a REMOTE segment's priv area.
 */
struct tern_mlx5_desc {
	uint32_t magic;	  /**< TERN_MLX5_DESC_MAGIC */
	uint16_t version; /**< TERN_MLX5_DESC_VERSION */
	uint16_t peer;	  /**< priv only: the importer's peer slot; 0 on the wire */
	uint32_t rkey;	  /**< remote key of the memory region */
	uint16_t hs_port; /**< the exporter's handshake listener: TCP port */
	uint16_t reserved;
	uint64_t addr;	     /**< the exporter's virtual address of the first byte */
	uint64_t length;     /**< bytes */
	uint8_t gid[16];     /**< the exporter's port GID (node identity and route) */
	uint8_t hs_addr[16]; /**< the handshake listener's address: IPv6, or IPv4 as ::ffff:a.b.c.d
			      */
	uint64_t epoch;	     /**< the exporter's incarnation as a target (non-zero) */
};

/**
 * Write @p d in the wire format (little-endian, doc/mlx5.md).
 * @return TERN_MLX5_DESC_LEN, -ENOSPC (@p len too small), -EINVAL (NULL).
 */
int mlx5_desc_encode(const struct tern_mlx5_desc *d, void *buf, size_t len);

/**
 * Parse a descriptor, strictly: exact size, magic, version, reserved fields
 * zero, length not 0 and addr + length not wrapping, a unicast GID, a
 * handshake address that is neither unspecified nor multicast, a port, a
 * non-zero epoch.
 * @return 0, -EINVAL (malformed or another version).
 */
int mlx5_desc_decode(const void *buf, size_t len, struct tern_mlx5_desc *d);

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
};

/** The verbs provider (real ConnectX devices). */
extern const struct tern_mlx5_provider mlx5_verbs_provider;

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
	uint32_t sq_wqebbs;  /**< WQEBBs per QP (power of two); 256 */
	uint16_t sig_every;  /**< CQE request at least every this many WQEBBs; sq/4 */
	uint16_t max_inline; /**< inline WRITEs up to this many bytes; 64 */
};

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

/** Handshake message types (byte 5 of the wire format, doc/mlx5.md). */
#define TERN_MLX5_CONNECT_REQUEST 1
#define TERN_MLX5_CONNECT_REPLY	  2
/** Magic of a handshake message: the bytes "TMXC". */
#define TERN_MLX5_CONNECT_MAGIC 0x43584d54u
/** Version of the handshake wire format. */
#define TERN_MLX5_CONNECT_VERSION 1
/** Bytes of the header, of a request entry and of a reply entry. */
#define TERN_MLX5_CONNECT_HDR	    40
#define TERN_MLX5_CONNECT_REQ_ENTRY 8
#define TERN_MLX5_CONNECT_REP_ENTRY 12

/** A handshake message in host form. */
struct tern_mlx5_connect_msg {
	uint8_t type;	 /**< TERN_MLX5_CONNECT_REQUEST or _REPLY */
	uint8_t mtu;	 /**< sender's port MTU, enum ibv_mtu 1..5 */
	uint16_t count;	 /**< entries, 1..TERN_MLX5_CONNECT_QP_MAX */
	uint16_t lid;	 /**< sender's LID, 0 on RoCE */
	uint64_t nonce;	 /**< the initiator's request id, echoed in the reply */
	uint8_t gid[16]; /**< sender's GID */
	struct {
		uint32_t qpn;	   /**< sender's QP */
		uint32_t psn;	   /**< its first PSN */
		uint32_t peer_qpn; /**< reply: the initiator QP it answers */
	} qp[TERN_MLX5_CONNECT_QP_MAX];
};

/**
 * Write @p m in the wire format.
 * @return bytes written, -ENOSPC (@p len too small), -EINVAL (@p m malformed).
 */
int mlx5_connect_encode(const struct tern_mlx5_connect_msg *m, void *buf, size_t len);

/**
 * Parse a message of type @p type, strictly: exact size for its count,
 * magic, version, type, count in 1..TERN_MLX5_CONNECT_QP_MAX, reserved bytes
 * zero, MTU in 1..5, a unicast LID (1..0xbfff) or, with LID 0, a unicast GID,
 * QPNs in 2..2^24-1 without duplicates, PSNs below 2^24.
 * @return 0, -EINVAL (malformed), -EPROTO (another version).
 */
int mlx5_connect_decode(const void *buf, size_t len, uint8_t type, struct tern_mlx5_connect_msg *m);

/*
 * Framing of the handshake over TCP (mlx5_handshake.c; doc/mlx5.md): a fixed
 * 12-byte header, then one handshake message (tern_mlx5_connect_*). One
 * request per frame, one reply frame per request.
 */
/** Magic of a handshake frame: the bytes "TMXF". */
#define TERN_MLX5_FRAME_MAGIC 0x46584d54u
/** Version of the framing. */
#define TERN_MLX5_FRAME_VERSION 1
/** Bytes of a frame header. */
#define TERN_MLX5_FRAME_HDR 12
/** Largest frame: header and the largest message. */
#define TERN_MLX5_FRAME_MAX (TERN_MLX5_FRAME_HDR + TERN_MLX5_CONNECT_MSG_MAX)
/** Largest status an error reply carries (an errno value). */
#define TERN_MLX5_FRAME_STATUS_MAX 4095

/** A frame header in host form. */
struct tern_mlx5_frame_hdr {
	uint8_t type;	   /**< TERN_MLX5_CONNECT_REQUEST or _REPLY */
	uint16_t status;   /**< reply: 0, or the errno the target could not answer with */
	uint32_t body_len; /**< message bytes after the header */
};

/**
 * Write a frame of @p type: the header, then @p body_len bytes of @p body
 * (which may already sit at @p buf + TERN_MLX5_FRAME_HDR).
 * @return bytes written; -EINVAL (a header mlx5_frame_decode() would
 *         refuse); -ENOSPC (@p len too small).
 */
int mlx5_frame_encode(uint8_t type, uint16_t status, const void *body, size_t body_len, void *buf,
		      size_t len);

/**
 * Parse a frame header of @p type, strictly: exactly TERN_MLX5_FRAME_HDR
 * bytes, magic, version, type; a request has status 0 and a body of a
 * request's size (40 + 8 x 1..64 bytes); a reply has status 0 and a body of a
 * reply's size (40 + 12 x 1..64), or a status in 1..TERN_MLX5_FRAME_STATUS_MAX
 * and no body.
 * @param why if not NULL, set to the reason of a refusal
 * @return 0, -EINVAL (malformed), -EPROTO (another version).
 */
int mlx5_frame_decode(const void *buf, size_t len, uint8_t type, struct tern_mlx5_frame_hdr *h,
		      const char **why);

/**
 * Tests: run @p init(@p arg) first thing on the handshake listener's thread,
 * for listeners started from now on (the device model makes that thread act
 * as another node). NULL removes it.
 */
void mlx5_test_set_listener_init(void (*init)(void *arg), void *arg);

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
int mlx5_ep_stats(const struct tern_endpoint *ep, struct tern_mlx5_ep_stats *stats);

#endif /* TERN_MLX5_INTERNAL_H */
