/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MLX5_RAILS_H
#define MLX5_RAILS_H

/**
 * @file
 * mlx5 rails (issue 15; doc/peers.md, "mlx5 rails"): a segment a version 3
 * descriptor (mlx5_desc3.h) serves on several ports is reached over one QP
 * per port and lcore. Each port of the peer is a peer slot of its own (its
 * GID names it), so an endpoint's qps[] already holds one QP per rail and
 * every loop of the data path over qps[] (poll, recovery, cancel, reclaim)
 * covers them. This file keeps what is only about rails:
 *
 * - the rail set of an imported segment, in its priv after the version 2
 *   host form (which names rail 0, so a one-rail segment reads as before);
 * - the choice of a rail for a run of slices (fewest WQEBBs in flight among
 *   the rails in service; mlx5_rail_pick(), one call from ep_resolve());
 * - failover: after a RETRY_EXC error CQE the WQEs of the failed QP are
 *   taken off it (their error completions dropped) and posted again on
 *   another rail with that rail's rkey: a READ at once, a WRITE once its
 *   fence passed (one local ACK timeout after the error CQE by default) or
 *   the failed QP is out of ERR; the failed rail is paused with backoff;
 * - hand-back: with no rail left in service, the WQEs of a segment that has
 *   a last resort (also a one-rail segment) go back to the engine (the
 *   give_back op), which posts them on the last resort.
 */

#include <stdint.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_desc3.h"

struct mlx5_endpoint;
struct mlx5_sq;

/** The rails of an imported segment (in its priv after struct tern_mlx5_desc). */
struct mlx5_rail_set {
	uint8_t nrails; /**< 2..TERN_MLX5_RAIL_MAX (a one-rail segment has none) */
	uint8_t reserved[3];
	uint16_t peer[TERN_MLX5_RAIL_MAX]; /**< peer slot of each port */
	uint32_t rkey[TERN_MLX5_RAIL_MAX]; /**< the segment's rkey on each port's device */
};

/** Cookie of a WQE taken off a failed QP: its completion is dropped. */
#define MLX5_RAIL_MOVED UINT64_MAX

/** The rail set in REMOTE segment @p t's priv (valid when desc.reserved > 1). */
static inline const struct mlx5_rail_set *
mlx5_rail_set_of(const struct tern_segment *t)
{
	return (const struct mlx5_rail_set *)(t->priv + sizeof(struct tern_mlx5_desc));
}

/**
 * Import a descriptor of several ports into REMOTE segment @p seg: a peer
 * slot per port (referenced), a handshake per port with another node unless
 * @p wired (the provider connects those peers itself: the device model),
 * the priv filled (rail 0 in the version 2 form, desc.reserved = the rail
 * count, the rail set after it). Control path.
 * @return 0, or a negative errno (every reference taken is dropped again).
 */
int mlx5_rails_import(struct tern_segment *seg, const struct tern_mlx5_desc3 *d, int wired);

/** Drop the peer slot references of a segment mlx5_rails_import() filled. */
void mlx5_rails_release(struct tern_segment *seg);

/** Give @p ep its rail state (endpoint open). @return 0 or -ENOMEM. */
int mlx5_rails_ep_open(struct mlx5_endpoint *ep, int socket_id);
/** Free it (endpoint close). */
void mlx5_rails_ep_close(struct mlx5_endpoint *ep);

/**
 * The transport's rail_live op: has @p ep a rail in service to REMOTE segment
 * @p t (a QP not dead, not in ERR and, for a set of rails, not paused)? A
 * QP not opened yet counts as in service. Lcore; reads the clock only for a
 * paused rail. false sends the engine to the segment's last resort.
 */
bool mlx5_rail_live(struct tern_endpoint *ep, const struct tern_segment *t);

/**
 * The rail of REMOTE segment @p t a run of slices goes to: among the rails
 * whose QP is not in ERR, not dead and not paused, the one with the fewest
 * WQEBBs in flight (a QP not opened yet counts 0). With none in service, the
 * rail whose pause ends first. Lcore, once per run.
 * @return its peer slot; @p rkey gets the segment's key on it.
 */
uint16_t mlx5_rail_pick(struct mlx5_endpoint *ep, const struct tern_segment *t, uint32_t *rkey);

/**
 * Error path: @p sq got its first error CQE, for WQE @p wqe, with @p err.
 * On -ETIMEDOUT (RETRY_EXC) over a rail of a set with another rail, take
 * every one-WQEBB WRITE/READ WQE from @p wqe to the producer index off the
 * QP (to post again) and pause the rail.
 */
void mlx5_rails_on_error(struct mlx5_endpoint *ep, struct mlx5_sq *sq, uint16_t wqe, int err);

/**
 * poll()'s tail while ep->rails_pending: drop the completions of WQEs taken
 * off a failed QP, post taken WQEs again where a rail allows, fail them with
 * the last rail's error when no rail is in service.
 * @return completions now in @p cpl (of @p max).
 */
uint16_t mlx5_rails_poll(struct mlx5_endpoint *ep, struct tern_completion *cpl, uint16_t n,
			 uint16_t max);

/**
 * The transport's expire op (tern_transport_driver.h): the batch of @p
 * cookie (and @p batch) passed its deadline. Every WQE of it taken off a
 * failed QP, on this endpoint or any other, is never posted again nor
 * handed back: it completes -ETIMEDOUT through poll(). This endpoint's now;
 * another's the next time it would post one again or hand one back (it
 * reads a process-wide ring of the last 64 expired batches first, and
 * remembers them for a second for WQEs taken off a QP later); returns once
 * every endpoint that was doing that has left it (10 ms at most). A cookie
 * names the batch: one held WQE's cookie belongs to one live batch
 * (doc/mlx5.md, "Expired batches"). WQEs still in a QP's send queue are not
 * covered. Owner lcore.
 */
void mlx5_rails_expire(struct tern_endpoint *ep, uint64_t cookie, uint64_t batch);

/** cancel(): complete the WQEs waiting to be posted again, or to be handed
 *  back, with -ECANCELED. */
void mlx5_rails_cancel(struct mlx5_endpoint *ep);

/**
 * ep_resolve() of a one-rail segment with a last resort (tern_segment.fallback):
 * remember @p t so that its WQEs on a QP that fails with RETRY_EXC are taken
 * off and handed back to the engine for the last resort. Lcore, once per run.
 */
void mlx5_rails_note(struct mlx5_endpoint *ep, const struct tern_segment *t);

/**
 * The transport's give_back op (tern_transport_driver.h): slices taken off a
 * failed QP whose segment has no rail left in service and a last resort, a
 * WRITE once its fence passed (doc/mlx5.md, "Failover of a WRITE").
 * @return slices written to @p out (at most @p max).
 */
uint16_t mlx5_give_back(struct tern_endpoint *ep, struct tern_slice *out, int32_t *status,
			uint16_t max);

/**
 * Control path (configure key write_fence_us; stop() sets 0): how long after
 * a RETRY_EXC a WRITE taken off the failed QP may go elsewhere, in
 * microseconds; 0: one local ACK timeout. tern_mlx5_tuning.write_fence_us,
 * when set, wins.
 */
void mlx5_rails_set_write_fence(uint32_t us);

/** What mlx5_rails_set_write_fence() set (0: one local ACK timeout). */
uint32_t mlx5_rails_write_fence(void);

/**
 * Forget the process-wide "paused by some lcore" mark of peer slot @p peer
 * (-1: every slot): a new device (mlx5_test_set_queue_provider()). A slot
 * given to another node keeps its mark until it ends (2 s at most): only
 * rail_live reads it, so the new node's segments with a last resort take it
 * meanwhile.
 */
void mlx5_rails_forget_marks(int peer);

/** Counters of one endpoint's rails (tests, /tern/peers). */
struct mlx5_rails_stats {
	uint64_t moved;	     /**< WQEs taken off a failed QP */
	uint64_t reposted;   /**< of those, posted again on another rail */
	uint64_t failed;     /**< of those, failed (no rail in service, no last resort) */
	uint64_t given_back; /**< of those, handed back to the engine for the last resort */
	uint64_t pauses;     /**< rails paused after an error */
	uint64_t expired;    /**< of those moved, completed -ETIMEDOUT: their batch expired */
	uint64_t capped;     /**< of those, failed or handed back after 8 re-posts of the slice */
};

/**
 * Rail @p peer as endpoint @p ep sees it, for /tern/peers: @p pause_left_ms
 * gets the rest of its pause at @p now (0: not paused), @p moved the WQEs
 * taken off it to go elsewhere, @p pauses the times it was paused.
 */
void mlx5_rails_rail_state(const struct mlx5_endpoint *ep, uint16_t peer, uint64_t now,
			   uint32_t *pause_left_ms, uint64_t *moved, uint64_t *pauses);

/** Read @p ep's rail counters. @return 0 or -EINVAL. */
int mlx5_rails_stats(const struct tern_endpoint *ep, struct mlx5_rails_stats *st);

#endif /* MLX5_RAILS_H */
