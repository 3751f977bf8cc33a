/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_MLX5_TRANSPORT_H
#define TERN_MLX5_TRANSPORT_H

/**
 * @file
 * What the transport (mlx5_transport.c) shares with connection set-up
 * (mlx5_connect.c): endpoints, the provider, the control-path lock
 * (driver-private).
 *
 * A QP an endpoint holds is used by its lcore alone, except while it is
 * "dead" (recovery failed, or it waits for a new handshake): the lcore then
 * leaves it alone and the control path may reset and reconnect it, handing
 * it back with a release store of @c dead = 0. New QPs reach an endpoint by
 * a compare-and-swap of its qps[] entry, from the lcore (QPs opened without
 * a handshake) or the control path (tern_mlx5_connect_complete).
 */

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>

#include <tern_wire.h>

#include "mlx5_queue.h"
#include "tern_mlx5_internal.h"

/** Largest number of endpoints open at once. */
#define TERN_MLX5_EP_MAX 128

/* The keys of a LOCAL segment's memory region (see mlx5_transport.c). */
struct mlx5_seg_keys {
	uint32_t handle;
	uint32_t lkey;
	uint32_t rkey;
	uint32_t reserved;
};

struct tern_endpoint {
	struct mlx5_cq cq;
	struct mlx5_seg_keys *keys;		 /**< TERN_SEGMENT_MAX entries, by segment slot */
	struct mlx5_sq *qps[TERN_MLX5_PEER_MAX]; /**< by peer slot; published by CAS */
	struct mlx5_sq *last_sq;		 /**< CQE qpn lookup cache */
	uint32_t nb_err;			 /**< QPs in ERR waiting to drain */
	/** Peer slots (bit i: slot i) whose QP the control path wants back: the
	 * peer is a new incarnation, its QP must be handshaken again. */
	uint32_t reclaim;
	/* Slices completed without reaching a QP (bad target, dead QP). */
	struct tern_completion *sw;
	uint32_t sw_head;
	uint32_t sw_tail;
	uint32_t sw_mask;
	unsigned int lcore_id;
	uint32_t sq_wqebbs;
	uint16_t sig_every;
	uint16_t max_inline;
	void *cq_handle;
	struct tern_mlx5_ep_stats stats;
};

/** The queue provider and its context (set while no endpoint is open). */
extern const struct tern_mlx5_provider *mlx5_prov;
extern void *mlx5_prov_ctx;

/** Serialises the control path: endpoints open and close, peers, connections. */
extern pthread_mutex_t mlx5_ctl_lock;

/** Open endpoints, mlx5_nb_eps of them (under mlx5_ctl_lock). */
extern struct tern_endpoint *mlx5_eps[TERN_MLX5_EP_MAX];
extern unsigned int mlx5_nb_eps;

/** Did probe() find a device? */
int mlx5_probed(void);

/** Probe the provider, as the ops table's probe() does. @return 0 or -ENODEV. */
int mlx5_probe(void);

/** mlx5_peer_get() for a caller holding mlx5_ctl_lock. */
int mlx5_peer_get_locked(const uint8_t gid[16], int take_ref);

/** Free peer slot @p peer if nothing holds it (caller holds mlx5_ctl_lock). */
void mlx5_peer_trim_locked(uint16_t peer);

/** The GID of peer slot @p peer. */
const uint8_t *mlx5_peer_gid(uint16_t peer);

/**
 * The incarnation (descriptor epoch) of peer slot @p peer that its QPs were
 * connected to by the last handshake; 0 before any (caller holds
 * mlx5_ctl_lock).
 */
uint64_t mlx5_peer_epoch_locked(uint16_t peer);
void mlx5_peer_set_epoch_locked(uint16_t peer, uint64_t epoch);

/**
 * Ask every endpoint's lcore to hand back its live QP to @p peer (the peer
 * restarted: the QP reaches a QP that is gone). An lcore hands a quiet QP back
 * at its next poll(); one with work in flight is moved to ERR first, its
 * slices failing with -ECONNABORTED. Caller holds mlx5_ctl_lock.
 */
void mlx5_peer_reclaim_locked(uint16_t peer);

/** Does some endpoint still hold a live QP to @p peer? (caller holds mlx5_ctl_lock) */
int mlx5_peer_has_live_qp_locked(uint16_t peer);

/** @p ep's QP to @p peer if the lcore may use it (published, not dead), else NULL. */
static inline struct mlx5_sq *
mlx5_ep_live_sq(const struct tern_endpoint *ep, uint16_t peer)
{
	struct mlx5_sq *sq = __atomic_load_n(&ep->qps[peer], __ATOMIC_ACQUIRE);

	if (sq == NULL || __atomic_load_n(&sq->dead, __ATOMIC_ACQUIRE))
		return NULL;
	return sq;
}

/**
 * Create a QP of @p ep to @p peer for a handshake, in INIT, not yet handed to
 * the endpoint. @p local gets what the peer must learn.
 * @return the QP, or NULL with *rc set (negative errno).
 */
struct mlx5_sq *mlx5_ep_sq_create(struct tern_endpoint *ep, uint16_t peer,
				  struct tern_mlx5_conn_params *local, int *rc);

/** Destroy a QP no endpoint holds. */
void mlx5_ep_sq_free(struct mlx5_sq *sq);

/**
 * Hand a connected QP to @p ep's lcore: publish a new one, or give a dead
 * one back (its indices restart at 0).
 * @return 0, or -EEXIST (the endpoint got another QP to that peer meanwhile:
 *         the caller frees @p sq).
 */
int mlx5_ep_sq_attach(struct tern_endpoint *ep, struct mlx5_sq *sq);

/* Connection set-up state (mlx5_connect.c), under mlx5_ctl_lock. */
/** Drop the pending handshake QPs of an endpoint that closes. */
void mlx5_connect_forget_ep(struct tern_endpoint *ep);
/** Is a handshake with peer @p peer waiting for its reply? */
int mlx5_connect_pending(uint16_t peer);
/** Release every target-side QP and pending handshake (last endpoint closed). */
void mlx5_connect_shutdown(void);
/** Drop the request to peer @p peer that waits for its reply (the exchange failed). */
void mlx5_connect_abandon(uint16_t peer);
/**
 * This node's incarnation as a target: a random non-zero value that changes
 * whenever its target-side QPs are released. Export writes it into the
 * descriptor, so an importer learns that QPs it connected before reach
 * nothing any more. Takes mlx5_ctl_lock.
 */
uint64_t mlx5_connect_epoch(void);

/* The handshake carried over TCP (mlx5_handshake.c). */
/**
 * Initiator: connect every open endpoint's QP to the node of descriptor @p d
 * (peer slot @p peer) through the handshake listener it names, unless they
 * are connected to that incarnation already. Control path; blocks at most
 * the handshake timeout.
 * @return 0; -ENOTCONN (no endpoint open); -ETIMEDOUT; -ECONNREFUSED or
 *         another connect() error; -EPROTO (malformed or unexpected reply, or
 *         the peer refused the request as malformed); -EREMOTEIO (the peer
 *         could not answer); or an error from preparing or connecting a QP.
 */
int mlx5_handshake_run(uint16_t peer, const struct tern_mlx5_desc *d);
/**
 * The address and port segment_export() advertises (IPv6, IPv4 mapped).
 * @return 0; -ENOTCONN (no listener); -EDESTADDRREQ (listening on a
 *         wildcard with no advertise_addr).
 */
int mlx5_handshake_address(uint8_t addr[16], uint16_t *port);

#endif /* TERN_MLX5_TRANSPORT_H */
