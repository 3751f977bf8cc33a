/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MLX5_CTL_H
#define MLX5_CTL_H

/**
 * @file
 * The mlx5 transport's control state (mlx5_ctl.c, driver-private): the
 * queue provider, the control-path lock, the table of open endpoints, the
 * peer slots and the memory-region registry, each behind accessors. It is
 * the bottom of the control path: connection set-up (mlx5_connect.c), the
 * handshake (mlx5_handshake.c), the data path (mlx5_ep.c) and the ops table
 * (mlx5_transport.c) call into it, and it calls none of them.
 *
 * A QP an endpoint holds is used by its lcore alone, except while it is
 * "dead" (recovery failed, or it waits for a new handshake): the lcore then
 * leaves it alone and the control path may reset and reconnect it, handing
 * it back with a release store of @c dead = 0. New QPs reach an endpoint by
 * a compare-and-swap of its qps[] entry, from the lcore (QPs opened without
 * a handshake) or the control path (tern_mlx5_connect_complete).
 */

#include <stdint.h>

#include <rte_spinlock.h>

#include <tern_segment_driver.h>
#include <tern_transport.h>

#include "mlx5_queue.h"
#include "tern_mlx5_internal.h"

/** Largest number of endpoints open at once. */
#define TERN_MLX5_EP_MAX 128

/*
 * An endpoint keeps the keys of each LOCAL segment (struct mlx5_seg_keys) at
 * index slot(handle): a slice's local segment (and a loopback target) costs
 * one lookup per run of slices. An entry counts only for the handle it holds
 * (the generation included), so a slot's next segment misses. No handle
 * matches an empty entry: a handle's slot equals its entry's index, which the
 * empty tags (0 at every index but 0, 1 at index 0) never do.
 */
#define MLX5_SEG_KEYS TERN_SEGMENT_MAX

/** The keys of a LOCAL segment's memory region, by segment slot. */
struct mlx5_seg_keys {
	uint32_t handle;
	uint32_t lkey;
	uint32_t rkey;
	uint32_t reserved;
};

struct mlx5_notify_rx;
struct mlx5_ep_rails;

/*
 * Notifications an endpoint has sent (initiator side, mlx5_ep.c): at most
 * MLX5_EP_NT_MAX at once, each a table entry from notify_post() until both
 * its SEND's WQE has been reported and its completion has been given.
 */
#define MLX5_EP_NT_MAX 32u
/* At most this many wait for their status on one QP: each status takes one
 * of the QP's RECVs (mlx5_ctl.c posts this many). */
#define MLX5_EP_NT_PER_QP 4u

/** One notification in flight (doc/mlx5.md, "Initiator side: notify_post"). */
struct mlx5_ep_nt {
	uint64_t token;	    /**< on the wire and in the SEND's slot; 0: entry free */
	uint64_t cookie;    /**< the engine's (tern_notify_post.cookie) */
	uint64_t due_tsc;   /**< no status by then: completed -ETIMEDOUT */
	struct mlx5_sq *sq; /**< the QP it went out on (its status comes back there) */
	uint8_t wqe_out;    /**< its SEND's WQE not reported yet */
	uint8_t waiting;    /**< its completion not given yet */
	int32_t lost;	    /**< its QP was lost while its SEND was out: the status it ends with */
};

struct mlx5_endpoint {
	struct tern_endpoint base; /* first: mlx5_ep() */
	struct mlx5_cq cq;
	struct mlx5_seg_keys *keys;		 /**< MLX5_SEG_KEYS entries, by segment slot */
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
	uint16_t revive_ms;    /**< first revival backoff (doubled per failed try, 1 s at most) */
	uint16_t revive_tries; /**< revival attempts before a dead QP is given up */
	/** This lcore serves the node's notification receive side (set by the
	 * control path, mlx5_ctl_notify_rx_locked()). */
	uint8_t notify_rx;
	/** Notification entries in use: poll() looks at their statuses, SENDs
	 * and timeouts only while it is not 0 (one load per call otherwise). */
	uint32_t nt_out;
	void *cq_handle;
	struct tern_mlx5_ep_stats stats;
	/* Statuses of this endpoint's notifications (initiator side): a receive
	 * CQ and the receive side over it, whose RQs belong to the QPs the
	 * handshake makes (mlx5_ep_sq_create()), each RQ on a slot of rx_bufs.
	 * rx NULL: the QPs take no statuses. */
	struct mlx5_notify_rx *rx;
	void *rcq_handle;
	uint8_t *rx_bufs;
	uint32_t rx_lkey;
	uint16_t rx_used; /**< rx_bufs slots in use, bit i: slot i */
	uint8_t rx_reg;	  /**< rx_bufs registered (rx_lkey valid) */
	/* The control path changes rx (an RQ added, removed, restarted) under
	 * this lock; the lcore only tries it before it polls rx. */
	rte_spinlock_t rx_lock;
	/* The notifications this endpoint sent (lcore only): the table, their
	 * frames (MLX5_EP_NT_MAX buffers of MLX5_NOTIFY_BUF bytes after the
	 * receive buffers in rx_bufs, registered with them: rx_lkey), the next
	 * token's generation, the free entries (bit i: entry i), the status
	 * timeout and when the table is next looked at for it. */
	struct mlx5_ep_nt nt[MLX5_EP_NT_MAX];
	uint8_t *nt_bufs;
	uint64_t nt_gen;
	uint32_t nt_free;
	uint64_t nt_timeout_tsc;
	uint64_t nt_check_tsc;
	/* Rails (mlx5_rails.c): their state, and how many completions to drop
	 * plus WQEs to post again after a failover (poll() looks while not 0). */
	struct mlx5_ep_rails *rails;
	uint32_t rails_pending;
};

/* ---- the lock and the provider ---- */

/** Take the control-path lock: endpoints open and close, peers, connections. */
void mlx5_ctl_lock(void);
void mlx5_ctl_unlock(void);

/** The queue provider (set while no endpoint is open). */
const struct tern_mlx5_provider *mlx5_prov(void);
/** Its context, the first argument of every provider call. */
void *mlx5_prov_ctx(void);

/**
 * Install @p p with @p ctx (NULL: the verbs provider) and forget the peer
 * slots and the probe. Caller holds the lock; no endpoint is open.
 */
void mlx5_prov_set_locked(const struct tern_mlx5_provider *p, void *ctx);

/** Probe the provider, as the ops table's probe() does. @return 0 or -ENODEV. */
int mlx5_probe(void);

/** Did probe() find a device? */
int mlx5_probed(void);

/**
 * The last endpoint closed: deregister every memory region, let the provider
 * release the device, and forget the probe. Caller holds the lock.
 */
void mlx5_ctl_shutdown_locked(void);

/** The tuning for endpoints opened from now on (zero fields: defaults). */
const struct tern_mlx5_tuning *mlx5_tuning(void);

/* ---- endpoints (caller holds the lock) ---- */

/* The engine's handle of an mlx5 endpoint back to the endpoint. */
static inline struct mlx5_endpoint *
mlx5_ep(struct tern_endpoint *base)
{
	return container_of(base, struct mlx5_endpoint, base);
}

static inline const struct mlx5_endpoint *
mlx5_ep_const(const struct tern_endpoint *base)
{
	return container_of(base, const struct mlx5_endpoint, base);
}

/**
 * Give @p ep its receive side for notification statuses (receive CQ,
 * buffers and the frames of the notifications it sends, registered when its
 * first QP with an RQ is made); statuses go to @p on_status (arg: @p ep).
 * Best effort: on failure (no qp_create_rq, no memory) it logs a warning and
 * @p ep's QPs take no statuses (it sends no notification). Before
 * mlx5_ep_add_locked().
 */
void mlx5_ep_rx_open(struct mlx5_endpoint *ep,
		     void (*on_status)(void *arg, uint32_t qpn, uint64_t token, int32_t status));
/** Release what mlx5_ep_rx_open() made, once @p ep's QPs are freed. */
void mlx5_ep_rx_close(struct mlx5_endpoint *ep);
/**
 * @p sq was reset or recovered (the device restarted its RQ): post its
 * RECVs again. Nothing when it has no RQ.
 */
void mlx5_ep_sq_rq_restart(struct mlx5_sq *sq);

/** Register an open endpoint. @return 0 or -ENOSPC (TERN_MLX5_EP_MAX open). */
int mlx5_ep_add_locked(struct mlx5_endpoint *ep);
/**
 * The node has a notification receive side (@p on) or no longer: the first
 * open endpoint's lcore serves it from its poll(), and another takes over
 * when that one closes. Caller holds the lock.
 */
void mlx5_ctl_notify_rx_locked(int on);

/** Unregister a closing endpoint. @return endpoints still open. */
unsigned int mlx5_ep_remove_locked(struct mlx5_endpoint *ep);
/** Endpoints open. */
unsigned int mlx5_ep_count_locked(void);
/** The @p i th open endpoint, i < mlx5_ep_count_locked(). */
struct mlx5_endpoint *mlx5_ep_at_locked(unsigned int i);

/** @p ep's QP to @p peer if the lcore may use it (published, not dead), else NULL. */
static inline struct mlx5_sq *
mlx5_ep_live_sq(const struct mlx5_endpoint *ep, uint16_t peer)
{
	struct mlx5_sq *sq = __atomic_load_n(&ep->qps[peer], __ATOMIC_ACQUIRE);

	if (sq == NULL || __atomic_load_n(&sq->dead, __ATOMIC_ACQUIRE))
		return NULL;
	return sq;
}

/**
 * Open @p ep's QP to @p peer where no handshake is needed (loopback, or a
 * peer the provider wires itself) and publish it. Lcore, slow path.
 * @return the endpoint's QP to @p peer (one a handshake published meanwhile
 *         wins), or NULL.
 */
struct mlx5_sq *mlx5_ep_qp_open(struct mlx5_endpoint *ep, uint16_t peer);

/**
 * Create a QP of @p ep to @p peer for a handshake, in INIT, not yet handed to
 * the endpoint. @p local gets what the peer must learn.
 * @return the QP, or NULL with *rc set (negative errno).
 */
struct mlx5_sq *mlx5_ep_sq_create(struct mlx5_endpoint *ep, uint16_t peer,
				  struct tern_mlx5_conn_params *local, int *rc);

/** Destroy a QP no endpoint holds (or one of a closing endpoint). */
void mlx5_ep_sq_free(struct mlx5_sq *sq);

/**
 * Hand a connected QP to @p ep's lcore: publish a new one, or give a dead
 * one back (its indices restart at 0).
 * @return 0, or -EEXIST (the endpoint got another QP to that peer meanwhile:
 *         the caller frees @p sq).
 */
int mlx5_ep_sq_attach(struct mlx5_endpoint *ep, struct mlx5_sq *sq);

/* ---- peer slots ---- */

/** The peer slot of GID @p gid, without assigning one. @return it, or -ENOENT (caller holds the
 * lock). */
int mlx5_peer_find_locked(const uint8_t gid[16]);

/** mlx5_peer_get() for a caller holding the lock. */
int mlx5_peer_get_locked(const uint8_t gid[16], int take_ref);

/**
 * Free peer slot @p peer if nothing holds it: no reference, no handshake
 * under way, no QP (caller holds the lock).
 */
void mlx5_peer_trim_locked(uint16_t peer);

/**
 * Mark a handshake with @p peer as under way (a request waits for its reply)
 * or over: a slot with one is not freed (caller holds the lock).
 */
void mlx5_peer_set_handshake_locked(uint16_t peer, int on);

/** The GID of peer slot @p peer. */
const uint8_t *mlx5_peer_gid(uint16_t peer);

/**
 * The incarnation (descriptor epoch) of peer slot @p peer that its QPs were
 * connected to by the last handshake; 0 before any (caller holds the lock).
 */
uint64_t mlx5_peer_epoch_locked(uint16_t peer);
void mlx5_peer_set_epoch_locked(uint16_t peer, uint64_t epoch);

/**
 * Ask every endpoint's lcore to hand back its live QP to @p peer (the peer
 * restarted: the QP reaches a QP that is gone). An lcore hands a quiet QP back
 * at its next poll(); one with work in flight is moved to ERR first, its
 * slices failing with -ECONNABORTED. Caller holds the lock.
 */
void mlx5_peer_reclaim_locked(uint16_t peer);

/**
 * Remember the descriptor of @p peer's last import that ran the handshake:
 * what the reviver (mlx5_handshake.c) handshakes with again when the
 * peer's QPs go dead (caller holds the lock).
 */
void mlx5_peer_set_desc_locked(uint16_t peer, const struct tern_mlx5_desc *d);

/** @p peer's remembered descriptor. @return 0 or -ENOENT (none). Caller holds the lock. */
int mlx5_peer_desc_locked(uint16_t peer, struct tern_mlx5_desc *d);

/**
 * Lcore: its QP to @p peer is dead and needs a handshake: ask the reviver.
 * One relaxed load when already asked.
 */
void mlx5_peer_want_revive(uint16_t peer);

/** Reviver: the peers asked for since the last call (bit i: slot i). */
uint32_t mlx5_peer_take_revive(void);

/**
 * The QPs this process has to the node with GID @p gid, one rail each, for
 * /tern/peers (the transport's rails op): name "lcore L qp 0xQPN STATE" with
 * the state /tern/mlx5/qps shows; state UP (rts), PROBING (reviving) or
 * PAUSED (any other). Control path: takes the control lock, reads each QP's
 * lcore-owned state as mlx5_qp_list() does (a snapshot for display).
 * @return how many there are (the first min(count, @p max) are written); 0
 *         for a node this process has no peer slot for.
 */
int mlx5_peer_rails(const uint8_t gid[16], struct tern_transport_rail *out, unsigned int max);

/** Does some endpoint still hold a live QP to @p peer? (caller holds the lock) */
int mlx5_peer_has_live_qp_locked(uint16_t peer);

/* ---- memory regions ---- */

/** A registered memory region: [start, end) and its keys. */
struct mlx5_mr {
	uint64_t start; /**< first byte covered */
	uint64_t end;	/**< first byte not covered */
	uint32_t lkey;
	uint32_t rkey;
	void *handle;
};

/**
 * The region holding [addr, addr + len), registered on a miss (a system
 * call: once per region). Any thread.
 * @return the region, or NULL (cannot register, or the registry is full).
 */
const struct mlx5_mr *mlx5_mr_get(uint64_t addr, uint64_t len);

#endif /* MLX5_CTL_H */
