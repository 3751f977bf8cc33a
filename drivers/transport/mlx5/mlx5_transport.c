/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 transport: tern's ops table over the queue-view data path.
 *
 * One endpoint per worker lcore owns one CQ and one RC QP per peer it talks
 * to (opened on first use). Slices become RDMA WRITE / READ WQEs; a burst
 * rings each touched QP's doorbell once. Each LOCAL segment is one memory
 * region of a process-wide registry; an endpoint finds a segment's keys in
 * O(1) through a table indexed by the segment's slot.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_spinlock.h>

#include <tern_segment.h>
#include <tern_transport.h>

#include "mlx5_queue.h"
#include "tern_mlx5_internal.h"

RTE_LOG_REGISTER_DEFAULT(tern_mlx5_logtype, INFO);

#define MR_MAX 256

struct mlx5_mr {
	uint64_t start; /**< first byte covered */
	uint64_t end;	/**< first byte not covered */
	uint32_t lkey;
	uint32_t rkey;
	void *handle;
};

/*
 * The keys of a LOCAL segment's memory region, kept by an endpoint at index
 * slot(handle): a slice's local segment (and a loopback target) costs one
 * lookup per run of slices. An entry counts only for the handle it holds
 * (the generation included), so a slot's next segment misses. No handle
 * matches an empty entry: a handle's slot equals its entry's index, which the
 * empty tags (0 at every index but 0, 1 at index 0) never do.
 */
struct mlx5_seg_keys {
	uint32_t handle;
	uint32_t lkey;
	uint32_t rkey;
	uint32_t reserved;
};

#define SEG_KEYS TERN_SEGMENT_MAX

struct tern_endpoint {
	struct mlx5_cq cq;
	struct mlx5_seg_keys *keys; /**< SEG_KEYS entries */
	struct mlx5_sq *qps[TERN_MLX5_PEER_MAX];
	struct mlx5_sq *last_sq; /**< CQE qpn lookup cache */
	uint32_t nb_err;	 /**< QPs in ERR waiting to drain */
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

/* Control-path state: written by the control thread (or under mr_lock),
 * read by lcores after publication. */
static const struct tern_mlx5_provider *provider = &tern_mlx5_verbs_provider;
static void *provider_ctx;
static int open_endpoints;
static int probed;
static struct tern_mlx5_tuning tuning;

static struct mlx5_mr mrs[MR_MAX];
static uint32_t nb_mrs;
static rte_spinlock_t mr_lock = RTE_SPINLOCK_INITIALIZER;

static uint8_t peer_gids[TERN_MLX5_PEER_MAX][16];
static uint32_t nb_peers = 1;
static rte_spinlock_t peer_lock = RTE_SPINLOCK_INITIALIZER;

int
tern_mlx5_test_set_queue_provider(const struct tern_mlx5_provider *p, void *ctx)
{
	if (__atomic_load_n(&open_endpoints, __ATOMIC_ACQUIRE) != 0)
		return -EBUSY;
	provider = p != NULL ? p : &tern_mlx5_verbs_provider;
	provider_ctx = p != NULL ? ctx : NULL;
	probed = 0;
	nb_peers = 1;
	memset(peer_gids, 0, sizeof(peer_gids));
	return 0;
}

void
tern_mlx5_set_tuning(const struct tern_mlx5_tuning *t)
{
	if (t == NULL)
		memset(&tuning, 0, sizeof(tuning));
	else
		tuning = *t;
}

int
tern_mlx5_peer_slot(const uint8_t gid[16])
{
	uint8_t self[16];
	uint32_t i;
	int slot = -ENOSPC;

	if (provider->local_gid(provider_ctx, self) == 0 && memcmp(self, gid, 16) == 0)
		return TERN_MLX5_PEER_SELF;
	rte_spinlock_lock(&peer_lock);
	for (i = 1; i < nb_peers; i++)
		if (memcmp(peer_gids[i], gid, 16) == 0) {
			slot = (int)i;
			break;
		}
	if (slot < 0 && nb_peers < TERN_MLX5_PEER_MAX) {
		memcpy(peer_gids[nb_peers], gid, 16);
		slot = (int)nb_peers;
		__atomic_store_n(&nb_peers, nb_peers + 1, __ATOMIC_RELEASE);
	}
	rte_spinlock_unlock(&peer_lock);
	return slot;
}

static const struct mlx5_mr *
mr_find(uint64_t addr, uint64_t len)
{
	uint32_t n = __atomic_load_n(&nb_mrs, __ATOMIC_ACQUIRE);
	uint32_t i;

	for (i = 0; i < n; i++)
		if (addr >= mrs[i].start && addr + len <= mrs[i].end)
			return &mrs[i];
	return NULL;
}

/* Find the region holding [addr, addr + len), registering one on a miss.
 * Registration is a system call: once per region, on the first slice that
 * touches it. */
static const struct mlx5_mr *
mr_get(uint64_t addr, uint64_t len)
{
	const struct mlx5_mr *mr = mr_find(addr, len);
	struct mlx5_mr *slot;
	int rc;

	if (likely(mr != NULL))
		return mr;
	rte_spinlock_lock(&mr_lock);
	mr = mr_find(addr, len);
	if (mr == NULL && nb_mrs < MR_MAX) {
		slot = &mrs[nb_mrs];
		rc = provider->mr_register(provider_ctx, (void *)(uintptr_t)addr, len, &slot->start,
					   &slot->end, &slot->lkey, &slot->rkey, &slot->handle);
		if (rc == 0) {
			mr = slot;
			__atomic_store_n(&nb_mrs, nb_mrs + 1, __ATOMIC_RELEASE);
		} else {
			TERN_MLX5_LOG(ERR, "cannot register [%#" PRIx64 ", +%" PRIu64 "): %s", addr,
				      len, strerror(-rc));
		}
	} else if (mr == NULL) {
		TERN_MLX5_LOG(ERR, "memory region table full (%d)", MR_MAX);
	}
	rte_spinlock_unlock(&mr_lock);
	return mr;
}

static void
mr_release_all(void)
{
	uint32_t i;

	rte_spinlock_lock(&mr_lock);
	for (i = 0; i < nb_mrs; i++)
		provider->mr_deregister(provider_ctx, mrs[i].handle);
	__atomic_store_n(&nb_mrs, 0, __ATOMIC_RELEASE);
	rte_spinlock_unlock(&mr_lock);
}

/*
 * The keys of LOCAL segment @p seg: the endpoint's entry, or on a miss (the
 * segment's first slice on this endpoint) the memory region covering the
 * whole segment, registered if there is none yet.
 * @return the entry, or NULL (-EFAULT: the memory cannot be registered).
 */
static const struct mlx5_seg_keys *
ep_seg_keys(struct tern_endpoint *ep, const struct tern_segment *seg)
{
	struct mlx5_seg_keys *k = &ep->keys[seg->handle & (SEG_KEYS - 1)];
	const struct mlx5_mr *mr;

	RTE_BUILD_BUG_ON(!RTE_IS_POWER_OF_2(SEG_KEYS));
	if (likely(k->handle == seg->handle))
		return k;
	mr = mr_get((uintptr_t)seg->base, seg->length);
	if (mr == NULL)
		return NULL;
	k->handle = seg->handle;
	k->lkey = mr->lkey;
	k->rkey = mr->rkey;
	return k;
}

static int
mlx5_probe(void)
{
	int rc = provider->probe(provider_ctx);

	probed = rc == 0;
	return rc;
}

static int
mlx5_segment_export(const struct tern_segment *seg, void *desc, size_t desc_len)
{
	struct tern_mlx5_desc d;
	const struct mlx5_mr *mr;

	if (seg == NULL || desc == NULL || seg->kind != TERN_SEGMENT_LOCAL)
		return -EINVAL;
	if (desc_len < sizeof(d))
		return -ENOSPC;
	if (!probed)
		return -ENODEV;
	mr = mr_get((uintptr_t)seg->base, seg->length);
	if (mr == NULL)
		return -EFAULT;
	memset(&d, 0, sizeof(d));
	d.magic = TERN_MLX5_DESC_MAGIC;
	d.version = TERN_MLX5_DESC_VERSION;
	d.rkey = mr->rkey;
	d.addr = (uintptr_t)seg->base;
	d.length = seg->length;
	if (provider->local_gid(provider_ctx, d.gid) != 0)
		return -ENODEV;
	memcpy(desc, &d, sizeof(d));
	return (int)sizeof(d);
}

static int
mlx5_segment_import(struct tern_segment *seg, const void *desc, size_t desc_len)
{
	struct tern_mlx5_desc d;
	int peer;

	RTE_BUILD_BUG_ON(sizeof(d) > TERN_SEGMENT_PRIV_SIZE);
	if (seg == NULL || desc == NULL || desc_len != sizeof(d))
		return -EINVAL;
	memcpy(&d, desc, sizeof(d));
	if (d.magic != TERN_MLX5_DESC_MAGIC || d.version != TERN_MLX5_DESC_VERSION || d.peer != 0 ||
	    d.reserved != 0 || d.length == 0 || d.addr + d.length < d.addr ||
	    (seg->length != 0 && seg->length > d.length))
		return -EINVAL;
	peer = tern_mlx5_peer_slot(d.gid);
	if (peer < 0)
		return peer;
	d.peer = (uint16_t)peer;
	memcpy(seg->priv, &d, sizeof(d));
	return 0;
}

static void
ep_close_qps(struct tern_endpoint *ep)
{
	unsigned int i;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		if (ep->qps[i] == NULL)
			continue;
		provider->qp_close(provider_ctx, ep->qps[i]->handle);
		rte_free(ep->qps[i]->slots);
		rte_free(ep->qps[i]);
		ep->qps[i] = NULL;
	}
}

static struct tern_endpoint *
mlx5_endpoint_open(const struct tern_endpoint_conf *conf)
{
	struct tern_mlx5_cq_view view;
	struct tern_endpoint *ep;
	uint32_t sw_size;
	int rc;

	if (conf == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	if (!probed) {
		rte_errno = ENODEV;
		return NULL;
	}
	ep = rte_zmalloc_socket("tern_mlx5_ep", sizeof(*ep), RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (ep == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ep->lcore_id = conf->lcore_id;
	ep->sq_wqebbs = tuning.sq_wqebbs != 0 ? rte_align32pow2(tuning.sq_wqebbs) : 256;
	ep->sig_every = tuning.sig_every != 0 ? tuning.sig_every : (uint16_t)(ep->sq_wqebbs / 4);
	ep->max_inline = tuning.max_inline != 0 ? tuning.max_inline : 64;
	sw_size = rte_align32pow2(RTE_MAX(conf->max_slices, 64u));
	ep->sw = rte_zmalloc_socket("tern_mlx5_sw", sizeof(*ep->sw) * sw_size, 0, conf->socket_id);
	if (ep->sw == NULL) {
		rte_free(ep);
		rte_errno = ENOMEM;
		return NULL;
	}
	ep->sw_mask = sw_size - 1;
	ep->keys = rte_zmalloc_socket("tern_mlx5_keys", sizeof(*ep->keys) * SEG_KEYS, 0,
				      conf->socket_id);
	if (ep->keys == NULL) {
		rte_free(ep->sw);
		rte_free(ep);
		rte_errno = ENOMEM;
		return NULL;
	}
	ep->keys[0].handle = 1; /* see struct mlx5_seg_keys */
	/* Every WQE of every QP may produce a CQE (flush after an error), so
	 * the CQ holds all of them and can never overrun. */
	memset(&view, 0, sizeof(view));
	rc = provider->cq_open(provider_ctx, conf->lcore_id, ep->sq_wqebbs * TERN_MLX5_PEER_MAX,
			       &view, &ep->cq_handle);
	if (rc == 0) {
		rc = tern_mlx5_cq_init(&ep->cq, &view);
		if (rc != 0 || view.cqe_cnt < ep->sq_wqebbs * TERN_MLX5_PEER_MAX) {
			provider->cq_close(provider_ctx, ep->cq_handle);
			rc = -EINVAL;
		}
	}
	if (rc != 0) {
		TERN_MLX5_LOG(ERR, "lcore %u: cannot create CQ: %s", conf->lcore_id, strerror(-rc));
		rte_free(ep->keys);
		rte_free(ep->sw);
		rte_free(ep);
		rte_errno = -rc;
		return NULL;
	}
	__atomic_fetch_add(&open_endpoints, 1, __ATOMIC_ACQ_REL);
	return ep;
}

/* Open the QP to @p peer on first use (lcore, slow path). */
static __rte_noinline struct mlx5_sq *
ep_qp_open(struct tern_endpoint *ep, uint16_t peer)
{
	struct tern_mlx5_sq_view view;
	struct mlx5_slot *slots;
	struct mlx5_sq *sq;
	void *handle;
	int rc;

	if (peer >= TERN_MLX5_PEER_MAX)
		return NULL;
	sq = rte_zmalloc("tern_mlx5_sq", sizeof(*sq), RTE_CACHE_LINE_SIZE);
	slots = rte_zmalloc("tern_mlx5_slots", sizeof(*slots) * ep->sq_wqebbs, RTE_CACHE_LINE_SIZE);
	if (sq == NULL || slots == NULL)
		goto fail;
	memset(&view, 0, sizeof(view));
	view.max_inline = ep->max_inline;
	rc = provider->qp_open(provider_ctx, ep->cq_handle, ep->lcore_id, peer, peer_gids[peer],
			       ep->sq_wqebbs, &view, &handle);
	if (rc != 0) {
		TERN_MLX5_LOG(ERR, "lcore %u: cannot open QP to peer %u: %s", ep->lcore_id, peer,
			      strerror(-rc));
		goto fail;
	}
	if (view.wqe_cnt != ep->sq_wqebbs ||
	    tern_mlx5_sq_init(sq, &view, slots, ep->sig_every) != 0) {
		TERN_MLX5_LOG(ERR, "lcore %u: QP to peer %u has an unusable queue view",
			      ep->lcore_id, peer);
		provider->qp_close(provider_ctx, handle);
		goto fail;
	}
	sq->handle = handle;
	sq->peer = peer;
	ep->qps[peer] = sq;
	return sq;
fail:
	rte_free(slots);
	rte_free(sq);
	return NULL;
}

/* Complete a slice locally (no WQE). @return 0, or -ENOSPC when the local
 * completion ring is full (the slice is then not taken). */
static __rte_noinline int
ep_reject(struct tern_endpoint *ep, const struct tern_slice *s, int status)
{
	if (ep->sw_tail - ep->sw_head > ep->sw_mask)
		return -ENOSPC;
	ep->sw[ep->sw_tail & ep->sw_mask].cookie = s->cookie;
	ep->sw[ep->sw_tail & ep->sw_mask].status = status;
	ep->sw[ep->sw_tail & ep->sw_mask].length = 0;
	ep->sw_tail++;
	ep->stats.rejected++;
	return 0;
}

/* Ring every QP posted to in this burst; the burst's last WQE on each asks
 * for a CQE so nothing posted waits for a later post to be completed. */
static __rte_always_inline void
ep_ring(struct tern_endpoint *ep, uint32_t touched)
{
	while (touched != 0) {
		struct mlx5_sq *sq = ep->qps[rte_bsf32(touched)];

		touched &= touched - 1;
		if (sq->pi == sq->db_pi)
			continue;
		((uint8_t *)sq->last_ctrl)[11] |= MLX5_WQE_CTRL_CQ_UPDATE;
		tern_mlx5_sq_doorbell(sq);
		ep->stats.doorbells++;
	}
}

/*
 * What the WQEs of a run of slices share: the QP, the target's remote address
 * and key, the local segment's key. The run ends at a slice with another
 * target or local segment, an inline WRITE, an unknown op, or a full SQ.
 */
struct post_run {
	const struct tern_segment *target;
	const struct tern_segment *local_seg;
	struct mlx5_sq *sq;
	uint64_t rbase;	  /* remote address of the target's byte 0 */
	uint64_t rkey_be; /* raddr segment's second word: rkey, reserved 0 */
	uint64_t lkey_be; /* data segment's first word, upper half: lkey */
	/* ctrl segment's first word but the WQE index, by op & 1 (READ = 1,
	 * WRITE = 2): opmod 0, opcode, qpn, ds 3 */
	uint64_t ctrl[2];
};

/*
 * Resolve what a slice's run needs that the current run does not have: the
 * target's remote key and address and the QP to its peer (opened on first
 * use), the local segment's key.
 * @return 0; 1 when the QP is in ERR (the slice is offered again after
 *         recovery); a negative errno to complete the slice with.
 */
static __rte_noinline int
ep_resolve(struct tern_endpoint *ep, const struct tern_slice *s, struct post_run *run,
	   uint32_t *touched)
{
	const struct tern_segment *t = s->target;
	const struct mlx5_seg_keys *k;
	struct mlx5_sq *sq;
	uint64_t qpn_ds;
	uint16_t peer;
	int rc;

	if (s->local_seg != run->local_seg || s->local_seg == NULL) {
		k = s->local_seg != NULL ? ep_seg_keys(ep, s->local_seg) : NULL;
		if (k == NULL) {
			rc = s->local_seg == NULL ? -EINVAL : -EFAULT;
			goto fail;
		}
		run->lkey_be = (uint64_t)rte_cpu_to_be_32(k->lkey) << 32;
		run->local_seg = s->local_seg;
	}
	if (t == run->target)
		return 0;
	if (t->kind == TERN_SEGMENT_REMOTE) {
		const struct tern_mlx5_desc *d = (const struct tern_mlx5_desc *)t->priv;

		rc = -EINVAL;
		if (d->magic != TERN_MLX5_DESC_MAGIC || d->peer >= TERN_MLX5_PEER_MAX)
			goto fail;
		peer = d->peer;
		run->rkey_be = rte_cpu_to_be_32(d->rkey);
		run->rbase = d->addr;
	} else {
		/* Loopback: the target segment is a memory region of this node. */
		rc = -EFAULT;
		k = ep_seg_keys(ep, t);
		if (k == NULL)
			goto fail;
		peer = TERN_MLX5_PEER_SELF;
		run->rkey_be = rte_cpu_to_be_32(k->rkey);
		run->rbase = (uintptr_t)t->base;
	}
	sq = ep->qps[peer];
	if (sq == NULL)
		sq = ep_qp_open(ep, peer);
	rc = -ENOTCONN;
	if (sq == NULL || sq->dead)
		goto fail;
	rc = 1;
	if (sq->error)
		goto fail;
	run->sq = sq;
	RTE_BUILD_BUG_ON(TERN_OP_READ != 1 || TERN_OP_WRITE != 2);
	qpn_ds = (uint64_t)(sq->qpn_ds | (3u << 24)) << 32;
	run->ctrl[TERN_OP_WRITE & 1] = qpn_ds | (uint32_t)MLX5_OPCODE_RDMA_WRITE << 24;
	run->ctrl[TERN_OP_READ & 1] = qpn_ds | (uint32_t)MLX5_OPCODE_RDMA_READ << 24;
	run->target = t;
	*touched |= 1u << peer;
	return 0;
fail:
	/* No run: the next slice resolves again. */
	run->target = NULL;
	run->local_seg = NULL;
	return rc;
}

/*
 * Post up to @p nb slices of a run into one contiguous stretch of the ring,
 * from WQEBB @p pi on (WQEs of one WQEBB: ctrl, raddr, one data segment, as
 * tern_mlx5_post_rdma writes them), stopping at the first slice that leaves
 * the run or is not a plain WRITE or READ.
 * @return slices posted.
 */
static __rte_always_inline uint16_t
run_post_stretch(const struct post_run *run, const struct tern_slice *slices, uint16_t nb,
		 uint16_t pi, uint64_t *wqe, struct mlx5_slot *slot)
{
	const struct tern_segment *target = run->target, *local_seg = run->local_seg;
	const uint64_t rbase = run->rbase, rkey_be = run->rkey_be, lkey_be = run->lkey_be;
	const struct tern_slice *s = slices, *end = slices + nb;
	const uint16_t sig_mask = run->sq->sig_mask;
	const uint32_t max_inline = run->sq->max_inline;

	for (; s != end; s++, wqe += TERN_MLX5_WQEBB / 8, slot++, pi++) {
		uint32_t len = s->length;
		uint8_t op = s->op;

		if (unlikely(s->target != target || s->local_seg != local_seg))
			break;
		if (likely(op == TERN_OP_WRITE) ? unlikely(len <= max_inline)
						: unlikely(op != TERN_OP_READ))
			break;
		/* A READ always asks for a CQE; a WRITE when its index has every
		 * sig_mask bit set (tern_mlx5_sq_signal for one WQEBB). */
		wqe[0] = run->ctrl[op & 1] | rte_cpu_to_be_32((uint32_t)pi << 8);
		wqe[1] = (uint64_t)(((~pi & sig_mask) == 0) | (op & 1)) << 27;
		wqe[2] = rte_cpu_to_be_64(rbase + s->offset);
		wqe[3] = rkey_be;
		wqe[4] = (uint64_t)rte_cpu_to_be_32(len) | lkey_be;
		wqe[5] = rte_cpu_to_be_64((uintptr_t)s->local);
		slot->cookie = s->cookie;
	}
	return (uint16_t)(s - slices);
}

/*
 * Post slices of a run until one leaves it or the SQ is full: a stretch to the
 * ring's end, then one from its start.
 * @return slices posted.
 */
static __rte_always_inline uint16_t
run_post(const struct post_run *run, const struct tern_slice *slices, uint16_t nb)
{
	struct mlx5_sq *sq = run->sq;
	uint16_t todo = RTE_MIN(nb, tern_mlx5_sq_room(sq));
	uint16_t posted = 0;

	while (posted < todo) {
		uint16_t idx = sq->pi & sq->mask;
		uint16_t stretch = RTE_MIN(todo - posted, sq->mask + 1 - idx);
		uint16_t n = run_post_stretch(run, slices + posted, stretch, sq->pi,
					      (uint64_t *)(sq->buf + (size_t)idx * TERN_MLX5_WQEBB),
					      &sq->slots[idx]);

		if (n == 0)
			break;
		sq->pi += n;
		sq->last_ctrl =
			(uint64_t *)(sq->buf + (size_t)((sq->pi - 1) & sq->mask) * TERN_MLX5_WQEBB);
		posted += n;
		if (n < stretch)
			break;
	}
	return posted;
}

/* An inline WRITE, or an unknown op. @return 1 posted, 0 no room, < 0 reject. */
static __rte_noinline int
run_post_other(const struct post_run *run, const struct tern_slice *s)
{
	struct mlx5_sq *sq = run->sq;
	uint16_t wqebbs;

	if (s->op != TERN_OP_WRITE && s->op != TERN_OP_READ)
		return -EINVAL;
	wqebbs = tern_mlx5_inline_wqebbs(s->length);
	if (tern_mlx5_sq_room(sq) < wqebbs)
		return 0;
	tern_mlx5_post_inline(sq, s->local, s->length, run->rbase + s->offset,
			      rte_be_to_cpu_32((uint32_t)run->rkey_be),
			      tern_mlx5_sq_signal(sq, wqebbs, 0), s->cookie);
	return 1;
}

static uint16_t
mlx5_post_burst(struct tern_endpoint *ep, const struct tern_slice *slices, uint16_t nb)
{
	struct post_run run = { .target = NULL };
	uint32_t touched = 0;
	uint16_t i = 0;
	int rc;

	while (i < nb) {
		const struct tern_slice *s = &slices[i];

		if (unlikely(s->target != run.target || s->local_seg != run.local_seg)) {
			rc = ep_resolve(ep, s, &run, &touched);
			if (rc > 0)
				break;
			if (rc < 0)
				goto reject;
		}
		i += run_post(&run, s, nb - i);
		if (i == nb)
			break;
		s = &slices[i];
		if (s->target != run.target || s->local_seg != run.local_seg)
			continue;
		if (tern_mlx5_sq_room(run.sq) == 0)
			break;
		/* Inline WRITE or unknown op. */
		rc = run_post_other(&run, s);
		if (rc == 0)
			break;
		if (rc > 0) {
			i++;
			continue;
		}
	reject:
		if (ep_reject(ep, s, rc) != 0)
			break;
		i++;
	}
	ep->stats.posted += i;
	if (likely(touched != 0))
		ep_ring(ep, touched);
	return i;
}

static struct mlx5_sq *
ep_sq_by_qpn(struct tern_endpoint *ep, uint32_t qpn)
{
	unsigned int i;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++)
		if (ep->qps[i] != NULL && ep->qps[i]->qpn == qpn) {
			ep->last_sq = ep->qps[i];
			return ep->qps[i];
		}
	TERN_MLX5_LOG(ERR, "lcore %u: CQE for unknown QP 0x%x dropped", ep->lcore_id, qpn);
	return NULL;
}

/* QPs in ERR come back once every WQE they held has been reported. */
static __rte_noinline void
ep_recover(struct tern_endpoint *ep)
{
	unsigned int i;
	int rc;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		struct mlx5_sq *sq = ep->qps[i];

		if (sq == NULL || !sq->error || !tern_mlx5_sq_quiet(sq))
			continue;
		rc = provider->qp_recover(provider_ctx, sq->handle);
		if (rc == 0) {
			tern_mlx5_sq_reset(sq);
			ep->stats.recoveries++;
			TERN_MLX5_LOG(INFO, "lcore %u: QP 0x%x back in RTS", ep->lcore_id, sq->qpn);
		} else {
			sq->error = 0;
			sq->dead = 1;
			TERN_MLX5_LOG(ERR,
				      "lcore %u: QP 0x%x cannot recover (%s): peer %u unreachable",
				      ep->lcore_id, sq->qpn, strerror(-rc), sq->peer);
		}
	}
}

static __rte_noinline void
ep_cqe_error(struct tern_endpoint *ep, struct mlx5_sq *sq, const struct mlx5_cqe64 *cqe)
{
	uint8_t was = sq->error;

	tern_mlx5_cqe_error(sq, (const struct mlx5_err_cqe *)cqe);
	if (!was && sq->error)
		ep->nb_err++;
}

static uint16_t
mlx5_poll(struct tern_endpoint *ep, struct tern_completion *cpl, uint16_t max)
{
	const struct mlx5_cqe64 *cqe;
	uint32_t ci = ep->cq.ci;
	uint16_t n = 0;
	unsigned int i;

	while (ep->sw_head != ep->sw_tail && n < max)
		cpl[n++] = ep->sw[ep->sw_head++ & ep->sw_mask];
	/* Completions proven by CQEs that an earlier call had no room for. */
	for (i = 0; i < TERN_MLX5_PEER_MAX && n < max; i++)
		if (ep->qps[i] != NULL)
			n += tern_mlx5_sq_report(ep->qps[i], cpl + n, max - n);
	while (n < max && (cqe = tern_mlx5_cq_next(&ep->cq)) != NULL) {
		uint32_t qpn = rte_be_to_cpu_32(cqe->sop_drop_qpn) & 0xffffff;
		struct mlx5_sq *sq = ep->last_sq;
		uint16_t wqe;

		ep->cq.ci++;
		if (unlikely(sq == NULL || sq->qpn != qpn)) {
			sq = ep_sq_by_qpn(ep, qpn);
			if (sq == NULL)
				continue;
		}
		wqe = rte_be_to_cpu_16(cqe->wqe_counter);
		if (likely((cqe->op_own >> 4) == MLX5_CQE_REQ &&
			   (uint16_t)(wqe - sq->done) < (uint16_t)(sq->pi - sq->done)))
			sq->done = wqe + tern_mlx5_wqe_wqebbs(sq, wqe);
		else
			ep_cqe_error(ep, sq, cqe);
		n += tern_mlx5_sq_report(sq, cpl + n, max - n);
	}
	if (ci != ep->cq.ci) {
		tern_mlx5_cq_update_ci(&ep->cq);
		ep->stats.cqes += ep->cq.ci - ci;
	}
	if (unlikely(ep->nb_err != 0)) {
		ep_recover(ep);
		ep->nb_err = 0;
		for (i = 0; i < TERN_MLX5_PEER_MAX; i++)
			if (ep->qps[i] != NULL && ep->qps[i]->error)
				ep->nb_err++;
	}
	return n;
}

/*
 * Every QP with WQEs no CQE has covered yet goes to ERR, including one whose
 * error CQE already came: that CQE proves nothing about when the device will
 * flush the rest, and the contract wants them back by the next poll(). A QP
 * in ERR moves no more data, so the driver completes them itself
 * (-ECANCELED); the device's own CQEs for them are absorbed when they come,
 * and the QP is recovered after the last one.
 */
static void
mlx5_cancel(struct tern_endpoint *ep)
{
	unsigned int i;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		struct mlx5_sq *sq = ep->qps[i];

		if (sq == NULL || sq->done == sq->pi)
			continue;
		if (provider->qp_flush(provider_ctx, sq->handle) != 0) {
			/* Still in RTS (or so the device says): its CQEs complete the work. */
			TERN_MLX5_LOG(ERR, "lcore %u: cannot flush QP 0x%x", ep->lcore_id, sq->qpn);
			continue;
		}
		if (!sq->error)
			ep->nb_err++;
		tern_mlx5_sq_cancel(sq, -ECANCELED);
	}
}

static void
mlx5_endpoint_close(struct tern_endpoint *ep)
{
	if (ep == NULL)
		return;
	ep_close_qps(ep);
	provider->cq_close(provider_ctx, ep->cq_handle);
	rte_free(ep->keys);
	rte_free(ep->sw);
	rte_free(ep);
	if (__atomic_sub_fetch(&open_endpoints, 1, __ATOMIC_ACQ_REL) == 0) {
		mr_release_all();
		if (provider->shutdown != NULL)
			provider->shutdown(provider_ctx);
		probed = 0;
	}
}

int
tern_mlx5_ep_stats(const struct tern_endpoint *ep, struct tern_mlx5_ep_stats *stats)
{
	unsigned int i;

	if (ep == NULL || stats == NULL)
		return -EINVAL;
	*stats = ep->stats;
	stats->errors = 0;
	for (i = 0; i < TERN_MLX5_PEER_MAX; i++)
		if (ep->qps[i] != NULL)
			stats->errors += ep->qps[i]->errors;
	return 0;
}

static struct tern_transport_ops mlx5_ops = {
	.name = "mlx5",
	.rank = 10,
	.probe = mlx5_probe,
	.segment_export = mlx5_segment_export,
	.segment_import = mlx5_segment_import,
	.endpoint_open = mlx5_endpoint_open,
	.post_burst = mlx5_post_burst,
	.poll = mlx5_poll,
	.cancel = mlx5_cancel,
	.endpoint_close = mlx5_endpoint_close,
};

TERN_TRANSPORT_REGISTER(mlx5_ops);
