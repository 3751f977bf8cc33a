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
#include "mlx5_transport.h"
#include "tern_mlx5_internal.h"

RTE_LOG_REGISTER_DEFAULT(mlx5_logtype, INFO);

#define MR_MAX 256

struct mlx5_mr {
	uint64_t start; /**< first byte covered */
	uint64_t end;	/**< first byte not covered */
	uint32_t lkey;
	uint32_t rkey;
	void *handle;
};

/*
 * An endpoint keeps the keys of each LOCAL segment (struct mlx5_seg_keys) at
 * index slot(handle): a slice's local segment (and a loopback target) costs
 * one lookup per run of slices. An entry counts only for the handle it holds
 * (the generation included), so a slot's next segment misses. No handle
 * matches an empty entry: a handle's slot equals its entry's index, which the
 * empty tags (0 at every index but 0, 1 at index 0) never do.
 */
#define SEG_KEYS TERN_SEGMENT_MAX

/* A peer node: its GID, the imported segments that name it, the incarnation
 * its QPs were connected to. */
struct mlx5_peer {
	uint8_t gid[16];
	uint32_t refs;
	uint8_t in_use;
	uint64_t epoch;
};

/* Control-path state: written by the control thread (under
 * mlx5_ctl_lock or mr_lock), read by lcores after publication. */
const struct tern_mlx5_provider *mlx5_prov = &mlx5_verbs_provider;
void *mlx5_prov_ctx;
pthread_mutex_t mlx5_ctl_lock = PTHREAD_MUTEX_INITIALIZER;
struct tern_endpoint *mlx5_eps[TERN_MLX5_EP_MAX];
unsigned int mlx5_nb_eps;
static int probed;
static struct tern_mlx5_tuning tuning;

static struct mlx5_mr mrs[MR_MAX];
static uint32_t nb_mrs;
static rte_spinlock_t mr_lock = RTE_SPINLOCK_INITIALIZER;

static struct mlx5_peer peers[TERN_MLX5_PEER_MAX];

int
mlx5_test_set_queue_provider(const struct tern_mlx5_provider *p, void *ctx)
{
	int rc = 0;

	pthread_mutex_lock(&mlx5_ctl_lock);
	if (mlx5_nb_eps != 0) {
		rc = -EBUSY;
	} else {
		mlx5_connect_shutdown(); /* target QPs of the old provider */
		mlx5_prov = p != NULL ? p : &mlx5_verbs_provider;
		mlx5_prov_ctx = p != NULL ? ctx : NULL;
		__atomic_store_n(&probed, 0, __ATOMIC_RELEASE);
		memset(peers, 0, sizeof(peers));
	}
	pthread_mutex_unlock(&mlx5_ctl_lock);
	return rc;
}

void
mlx5_set_tuning(const struct tern_mlx5_tuning *t)
{
	if (t == NULL)
		memset(&tuning, 0, sizeof(tuning));
	else
		tuning = *t;
}

int
mlx5_probed(void)
{
	return __atomic_load_n(&probed, __ATOMIC_ACQUIRE);
}

const uint8_t *
mlx5_peer_gid(uint16_t peer)
{
	return peers[peer].gid;
}

uint64_t
mlx5_peer_epoch_locked(uint16_t peer)
{
	return peers[peer].epoch;
}

void
mlx5_peer_set_epoch_locked(uint16_t peer, uint64_t epoch)
{
	peers[peer].epoch = epoch;
}

void
mlx5_peer_reclaim_locked(uint16_t peer)
{
	unsigned int i;

	for (i = 0; i < mlx5_nb_eps; i++) {
		struct mlx5_sq *sq = mlx5_ep_live_sq(mlx5_eps[i], peer);

		/* The QP's flag says which QP is wanted (a QP revived meanwhile
		 * has it cleared); the endpoint's bit tells poll() to look. */
		if (sq == NULL)
			continue;
		__atomic_store_n(&sq->reclaim, 1, __ATOMIC_RELEASE);
		__atomic_fetch_or(&mlx5_eps[i]->reclaim, 1u << peer, __ATOMIC_RELEASE);
	}
}

int
mlx5_peer_has_live_qp_locked(uint16_t peer)
{
	unsigned int i;

	for (i = 0; i < mlx5_nb_eps; i++)
		if (mlx5_ep_live_sq(mlx5_eps[i], peer) != NULL)
			return 1;
	return 0;
}

int
mlx5_peer_get_locked(const uint8_t gid[16], int take_ref)
{
	struct tern_mlx5_conn_params self;
	int slot = -ENOSPC, i;

	if (mlx5_prov->port_info(mlx5_prov_ctx, &self) == 0 && memcmp(self.gid, gid, 16) == 0)
		return TERN_MLX5_PEER_SELF;
	for (i = 1; i < TERN_MLX5_PEER_MAX && slot < 0; i++)
		if (peers[i].in_use && memcmp(peers[i].gid, gid, 16) == 0)
			slot = i;
	for (i = 1; i < TERN_MLX5_PEER_MAX && slot < 0; i++)
		if (!peers[i].in_use) {
			memcpy(peers[i].gid, gid, 16);
			peers[i].in_use = 1;
			slot = i;
		}
	if (slot > 0 && take_ref)
		peers[slot].refs++;
	return slot;
}

int
mlx5_peer_get(const uint8_t gid[16], int take_ref)
{
	int slot;

	pthread_mutex_lock(&mlx5_ctl_lock);
	slot = mlx5_peer_get_locked(gid, take_ref);
	pthread_mutex_unlock(&mlx5_ctl_lock);
	return slot;
}

void
mlx5_peer_trim_locked(uint16_t peer)
{
	unsigned int i;

	/* Kept while segments name it, a handshake is under way, or QPs reach
	 * it (kept for the peer's next segments). No lcore opens a QP to it
	 * meanwhile: no segment of it is left to post to. */
	if (peer == TERN_MLX5_PEER_SELF || peer >= TERN_MLX5_PEER_MAX || peers[peer].refs != 0 ||
	    mlx5_connect_pending(peer))
		return;
	for (i = 0; i < mlx5_nb_eps; i++)
		if (__atomic_load_n(&mlx5_eps[i]->qps[peer], __ATOMIC_ACQUIRE) != NULL)
			return;
	memset(&peers[peer], 0, sizeof(peers[peer]));
}

void
mlx5_peer_put(uint16_t peer)
{
	if (peer == TERN_MLX5_PEER_SELF || peer >= TERN_MLX5_PEER_MAX)
		return;
	pthread_mutex_lock(&mlx5_ctl_lock);
	if (peers[peer].in_use && peers[peer].refs != 0 && --peers[peer].refs == 0)
		mlx5_peer_trim_locked(peer);
	pthread_mutex_unlock(&mlx5_ctl_lock);
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
		rc = mlx5_prov->mr_register(mlx5_prov_ctx, (void *)(uintptr_t)addr, len,
					    &slot->start, &slot->end, &slot->lkey, &slot->rkey,
					    &slot->handle);
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
		mlx5_prov->mr_deregister(mlx5_prov_ctx, mrs[i].handle);
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

int
mlx5_probe(void)
{
	int rc = mlx5_prov->probe(mlx5_prov_ctx);

	__atomic_store_n(&probed, rc == 0, __ATOMIC_RELEASE);
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
	if (!mlx5_probed() || mlx5_prov->port_info(mlx5_prov_ctx, &port) != 0)
		return -ENODEV;
	memset(&d, 0, sizeof(d));
	/* A peer can use the descriptor only through a handshake with us. */
	rc = mlx5_handshake_address(d.hs_addr, &d.hs_port);
	if (rc != 0)
		return rc;
	mr = mr_get((uintptr_t)seg->base, seg->length);
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
	struct tern_mlx5_desc d;
	int peer, rc;

	RTE_BUILD_BUG_ON(sizeof(d) > TERN_SEGMENT_PRIV_SIZE);
	RTE_BUILD_BUG_ON(sizeof(d) != TERN_MLX5_DESC_LEN);
	if (seg == NULL || desc == NULL || mlx5_desc_decode(desc, desc_len, &d) != 0 ||
	    (seg->length != 0 && seg->length > d.length))
		return -EINVAL;
	if (!mlx5_probed())
		return -ENODEV;
	peer = mlx5_peer_get(d.gid, 1);
	if (peer < 0)
		return peer;
	if (peer != TERN_MLX5_PEER_SELF) {
		rc = mlx5_handshake_run((uint16_t)peer, &d);
		if (rc != 0) {
			mlx5_peer_put((uint16_t)peer);
			return rc;
		}
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
	if (d->magic == TERN_MLX5_DESC_MAGIC && d->version == TERN_MLX5_DESC_VERSION)
		mlx5_peer_put(d->peer);
}

static struct mlx5_sq *
sq_alloc(const struct tern_endpoint *ep, struct mlx5_slot **slots)
{
	struct mlx5_sq *sq = rte_zmalloc("tern_mlx5_sq", sizeof(*sq), RTE_CACHE_LINE_SIZE);

	*slots = rte_zmalloc("tern_mlx5_slots", sizeof(**slots) * ep->sq_wqebbs,
			     RTE_CACHE_LINE_SIZE);
	if (sq == NULL || *slots == NULL) {
		rte_free(*slots);
		rte_free(sq);
		return NULL;
	}
	return sq;
}

/* SQ state over a new QP's view. @return 0, or -EINVAL (QP closed). */
static int
sq_setup(const struct tern_endpoint *ep, struct mlx5_sq *sq, struct mlx5_slot *slots,
	 const struct tern_mlx5_sq_view *view, void *handle, uint16_t peer)
{
	if (view->wqe_cnt != ep->sq_wqebbs || mlx5_sq_init(sq, view, slots, ep->sig_every) != 0) {
		TERN_MLX5_LOG(ERR, "lcore %u: QP to peer %u has an unusable queue view",
			      ep->lcore_id, peer);
		mlx5_prov->qp_close(mlx5_prov_ctx, handle);
		return -EINVAL;
	}
	sq->handle = handle;
	sq->peer = peer;
	return 0;
}

void
mlx5_ep_sq_free(struct mlx5_sq *sq)
{
	mlx5_prov->qp_close(mlx5_prov_ctx, sq->handle);
	rte_free(sq->slots);
	rte_free(sq);
}

struct mlx5_sq *
mlx5_ep_sq_create(struct tern_endpoint *ep, uint16_t peer, struct tern_mlx5_conn_params *local,
		  int *rc)
{
	struct tern_mlx5_sq_view view;
	struct mlx5_slot *slots;
	struct mlx5_sq *sq = sq_alloc(ep, &slots);
	void *handle;

	*rc = -ENOMEM;
	if (sq == NULL)
		return NULL;
	memset(&view, 0, sizeof(view));
	view.max_inline = ep->max_inline;
	*rc = mlx5_prov->qp_create(mlx5_prov_ctx, ep->cq_handle, ep->sq_wqebbs, &view, local,
				   &handle);
	if (*rc == 0)
		*rc = sq_setup(ep, sq, slots, &view, handle, peer);
	if (*rc != 0) {
		rte_free(slots);
		rte_free(sq);
		return NULL;
	}
	return sq;
}

int
mlx5_ep_sq_attach(struct tern_endpoint *ep, struct mlx5_sq *sq)
{
	struct mlx5_sq *none = NULL;

	if (__atomic_load_n(&ep->qps[sq->peer], __ATOMIC_ACQUIRE) == sq) {
		/* A dead QP back from its handshake: the lcore left it alone
		 * since it went dead, and takes it again from this store. */
		mlx5_sq_reset(sq);
		__atomic_store_n(&sq->reclaim, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&sq->dead, 0, __ATOMIC_RELEASE);
		return 0;
	}
	if (!__atomic_compare_exchange_n(&ep->qps[sq->peer], &none, sq, false, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED))
		return -EEXIST;
	return 0;
}

static void
ep_close_qps(struct tern_endpoint *ep)
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
	struct tern_mlx5_cq_view view;
	struct tern_endpoint *ep;
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
	ep->sq_wqebbs = tuning.sq_wqebbs != 0 ? rte_align32pow2(tuning.sq_wqebbs) : 256;
	ep->sig_every = tuning.sig_every != 0 ? tuning.sig_every : (uint16_t)(ep->sq_wqebbs / 4);
	ep->max_inline = tuning.max_inline != 0 ? tuning.max_inline : 64;
	sw_size = rte_align32pow2(RTE_MAX(conf->max_slices, 64u));
	ep->sw = rte_zmalloc_socket("tern_mlx5_sw", sizeof(*ep->sw) * sw_size, 0, conf->socket_id);
	ep->keys = rte_zmalloc_socket("tern_mlx5_keys", sizeof(*ep->keys) * SEG_KEYS, 0,
				      conf->socket_id);
	rc = ep->sw == NULL || ep->keys == NULL ? -ENOMEM : 0;
	if (rc == 0) {
		ep->sw_mask = sw_size - 1;
		ep->keys[0].handle = 1; /* see SEG_KEYS */
		/* Every WQE of every QP may produce a CQE (flush after an error),
		 * so the CQ holds all of them and can never overrun. */
		memset(&view, 0, sizeof(view));
		rc = mlx5_prov->cq_open(mlx5_prov_ctx, conf->lcore_id,
					ep->sq_wqebbs * TERN_MLX5_PEER_MAX, &view, &ep->cq_handle);
		if (rc == 0 && (mlx5_cq_init(&ep->cq, &view) != 0 ||
				view.cqe_cnt < ep->sq_wqebbs * TERN_MLX5_PEER_MAX)) {
			mlx5_prov->cq_close(mlx5_prov_ctx, ep->cq_handle);
			rc = -EINVAL;
		}
		if (rc != 0)
			TERN_MLX5_LOG(ERR, "lcore %u: cannot create CQ: %s", conf->lcore_id,
				      strerror(-rc));
	}
	if (rc == 0) {
		pthread_mutex_lock(&mlx5_ctl_lock);
		if (mlx5_nb_eps < TERN_MLX5_EP_MAX)
			mlx5_eps[mlx5_nb_eps++] = ep;
		else
			rc = -ENOSPC;
		pthread_mutex_unlock(&mlx5_ctl_lock);
		if (rc != 0)
			mlx5_prov->cq_close(mlx5_prov_ctx, ep->cq_handle);
	}
	if (rc != 0) {
		rte_free(ep->keys);
		rte_free(ep->sw);
		rte_free(ep);
		rte_errno = -rc;
		return NULL;
	}
	return ep;
}

/* Open the QP to @p peer on first use, where no handshake is needed
 * (loopback): lcore, slow path. */
static __rte_noinline struct mlx5_sq *
ep_qp_open(struct tern_endpoint *ep, uint16_t peer)
{
	struct tern_mlx5_sq_view view;
	struct mlx5_slot *slots;
	struct mlx5_sq *sq, *none = NULL;
	void *handle;
	int rc;

	memset(&view, 0, sizeof(view));
	view.max_inline = ep->max_inline;
	rc = mlx5_prov->qp_open(mlx5_prov_ctx, ep->cq_handle, ep->lcore_id, peer,
				mlx5_peer_gid(peer), ep->sq_wqebbs, &view, &handle);
	if (rc != 0) {
		if (rc == -ENOTCONN)
			TERN_MLX5_LOG(DEBUG, "lcore %u: peer %u is not connected (handshake)",
				      ep->lcore_id, peer);
		else
			TERN_MLX5_LOG(ERR, "lcore %u: cannot open QP to peer %u: %s", ep->lcore_id,
				      peer, strerror(-rc));
		return NULL;
	}
	sq = sq_alloc(ep, &slots);
	if (sq == NULL) {
		mlx5_prov->qp_close(mlx5_prov_ctx, handle);
		return NULL;
	}
	if (sq_setup(ep, sq, slots, &view, handle, peer) != 0) {
		rte_free(slots);
		rte_free(sq);
		return NULL;
	}
	if (!__atomic_compare_exchange_n(&ep->qps[peer], &none, sq, false, __ATOMIC_RELEASE,
					 __ATOMIC_ACQUIRE)) {
		/* A handshake gave the endpoint one meanwhile. */
		mlx5_ep_sq_free(sq);
		sq = none;
	}
	return sq;
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
		mlx5_sq_doorbell(sq);
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
	sq = __atomic_load_n(&ep->qps[peer], __ATOMIC_ACQUIRE);
	if (sq == NULL)
		sq = ep_qp_open(ep, peer);
	rc = -ENOTCONN;
	if (sq == NULL || __atomic_load_n(&sq->dead, __ATOMIC_ACQUIRE))
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
 * mlx5_post_rdma writes them), stopping at the first slice that leaves
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
		 * sig_mask bit set (mlx5_sq_signal for one WQEBB). */
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
	uint16_t take = RTE_MIN(nb, mlx5_sq_room(sq));
	uint16_t posted = 0;

	while (posted < take) {
		uint16_t idx = sq->pi & sq->mask;
		uint16_t stretch = RTE_MIN(take - posted, sq->mask + 1 - idx);
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
	wqebbs = mlx5_inline_wqebbs(s->length);
	if (mlx5_sq_room(sq) < wqebbs)
		return 0;
	mlx5_post_inline(sq, s->local, s->length, run->rbase + s->offset,
			 rte_be_to_cpu_32((uint32_t)run->rkey_be), mlx5_sq_signal(sq, wqebbs, 0),
			 s->cookie);
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
		if (mlx5_sq_room(run.sq) == 0)
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
	struct mlx5_sq *sq;
	uint16_t i;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		sq = mlx5_ep_live_sq(ep, i);
		if (sq != NULL && sq->qpn == qpn) {
			ep->last_sq = sq;
			return sq;
		}
	}
	TERN_MLX5_LOG(ERR, "lcore %u: CQE for unknown QP 0x%x dropped", ep->lcore_id, qpn);
	return NULL;
}

/* Give a QP to the control path: the lcore no longer touches it, and its
 * slices complete with -ENOTCONN until a handshake hands it back. */
static void
ep_sq_hand_over(struct tern_endpoint *ep, struct mlx5_sq *sq)
{
	sq->error = 0;
	if (ep->last_sq == sq)
		ep->last_sq = NULL;
	__atomic_store_n(&sq->dead, 1, __ATOMIC_RELEASE);
}

/* Hand a QP the control path asked for (mlx5_peer_reclaim_locked()). */
static void
ep_sq_give_back(struct tern_endpoint *ep, struct mlx5_sq *sq)
{
	TERN_MLX5_LOG(INFO, "lcore %u: QP 0x%x to peer %u handed back for a new handshake",
		      ep->lcore_id, sq->qpn, sq->peer);
	ep_sq_hand_over(ep, sq);
}

/*
 * QPs in ERR come back once every WQE they held has been reported. One that
 * cannot goes dead: its slices fail with -ENOTCONN, and the control path may
 * take it (a QP to another node needs a new handshake, tern_mlx5.h).
 */
static __rte_noinline void
ep_recover(struct tern_endpoint *ep)
{
	uint16_t i;
	int rc;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		struct mlx5_sq *sq = mlx5_ep_live_sq(ep, i);

		if (sq == NULL || !sq->error || !mlx5_sq_quiet(sq))
			continue;
		if (__atomic_load_n(&sq->reclaim, __ATOMIC_ACQUIRE)) {
			ep_sq_give_back(ep, sq); /* its peer restarted: a new handshake */
			continue;
		}
		rc = mlx5_prov->qp_recover(mlx5_prov_ctx, sq->handle);
		if (rc == 0) {
			mlx5_sq_reset(sq);
			ep->stats.recoveries++;
			TERN_MLX5_LOG(INFO, "lcore %u: QP 0x%x back in RTS", ep->lcore_id, sq->qpn);
			continue;
		}
		if (rc == -ENOTCONN)
			TERN_MLX5_LOG(WARNING,
				      "lcore %u: QP 0x%x to peer %u needs a new connection "
				      "(handshake)",
				      ep->lcore_id, sq->qpn, sq->peer);
		else
			TERN_MLX5_LOG(ERR,
				      "lcore %u: QP 0x%x cannot recover (%s): peer %u unreachable",
				      ep->lcore_id, sq->qpn, strerror(-rc), sq->peer);
		ep_sq_hand_over(ep, sq);
	}
}

/*
 * Move a QP with WQEs no CQE has covered to ERR and complete those WQEs here
 * with @p status: a QP in ERR moves no more data. The device's own CQEs for
 * them are absorbed when they come, and the QP is recovered (or handed over)
 * after the last one.
 * @return 0, or -EIO when the QP could not be moved to ERR (its CQEs then
 *         complete the work as usual).
 */
static int
ep_sq_cancel(struct tern_endpoint *ep, struct mlx5_sq *sq, int status)
{
	if (mlx5_prov->qp_flush(mlx5_prov_ctx, sq->handle) != 0) {
		TERN_MLX5_LOG(ERR, "lcore %u: cannot flush QP 0x%x", ep->lcore_id, sq->qpn);
		return -EIO;
	}
	if (!sq->error)
		ep->nb_err++;
	mlx5_sq_cancel(sq, status);
	return 0;
}

/*
 * The control path wants the QPs to some peers back (ep->reclaim, and the
 * QP's own flag): the peer is a new incarnation, they reach QPs that are
 * gone. A quiet QP is handed over at once. One with work in flight is
 * cancelled (its slices fail with -ECONNABORTED) and handed over by recovery
 * once the device's CQEs for that work are in, as is one already in ERR.
 */
static __rte_noinline void
ep_reclaim(struct tern_endpoint *ep)
{
	uint32_t mask = __atomic_exchange_n(&ep->reclaim, 0, __ATOMIC_ACQUIRE), again = 0;

	while (mask != 0) {
		uint16_t peer = (uint16_t)rte_bsf32(mask);
		struct mlx5_sq *sq = mlx5_ep_live_sq(ep, peer);

		mask &= mask - 1;
		if (sq == NULL || !__atomic_load_n(&sq->reclaim, __ATOMIC_ACQUIRE) || sq->error)
			continue;
		if (mlx5_sq_quiet(sq)) {
			ep_sq_give_back(ep, sq);
		} else if (sq->done == sq->pi) {
			again |= 1u << peer; /* done, not all reported yet: next poll */
		} else if (ep_sq_cancel(ep, sq, -ECONNABORTED) != 0) {
			/* Still in RTS: the next import asks again. */
			__atomic_store_n(&sq->reclaim, 0, __ATOMIC_RELAXED);
		}
	}
	if (again != 0)
		__atomic_fetch_or(&ep->reclaim, again, __ATOMIC_RELAXED);
}

static __rte_noinline void
ep_cqe_error(struct tern_endpoint *ep, struct mlx5_sq *sq, const struct mlx5_cqe64 *cqe)
{
	uint8_t was = sq->error;

	mlx5_cqe_error(sq, (const struct mlx5_err_cqe *)cqe);
	if (!was && sq->error)
		ep->nb_err++;
}

static uint16_t
mlx5_poll(struct tern_endpoint *ep, struct tern_completion *cpl, uint16_t max)
{
	const struct mlx5_cqe64 *cqe;
	uint32_t ci = ep->cq.ci;
	uint16_t n = 0;
	struct mlx5_sq *sq;
	uint16_t i;

	while (ep->sw_head != ep->sw_tail && n < max)
		cpl[n++] = ep->sw[ep->sw_head++ & ep->sw_mask];
	/* Completions proven by CQEs that an earlier call had no room for. */
	for (i = 0; i < TERN_MLX5_PEER_MAX && n < max; i++) {
		sq = mlx5_ep_live_sq(ep, i);
		if (sq != NULL)
			n += mlx5_sq_report(sq, cpl + n, max - n);
	}
	while (n < max && (cqe = mlx5_cq_next(&ep->cq)) != NULL) {
		uint32_t qpn = rte_be_to_cpu_32(cqe->sop_drop_qpn) & 0xffffff;
		uint16_t wqe;

		sq = ep->last_sq;
		ep->cq.ci++;
		if (unlikely(sq == NULL || sq->qpn != qpn)) {
			sq = ep_sq_by_qpn(ep, qpn);
			if (sq == NULL)
				continue;
		}
		wqe = rte_be_to_cpu_16(cqe->wqe_counter);
		if (likely((cqe->op_own >> 4) == MLX5_CQE_REQ &&
			   (uint16_t)(wqe - sq->done) < (uint16_t)(sq->pi - sq->done)))
			sq->done = wqe + mlx5_wqe_wqebbs(sq, wqe);
		else
			ep_cqe_error(ep, sq, cqe);
		n += mlx5_sq_report(sq, cpl + n, max - n);
	}
	if (ci != ep->cq.ci) {
		mlx5_cq_update_ci(&ep->cq);
		ep->stats.cqes += ep->cq.ci - ci;
	}
	if (unlikely(__atomic_load_n(&ep->reclaim, __ATOMIC_RELAXED) != 0))
		ep_reclaim(ep);
	if (unlikely(ep->nb_err != 0)) {
		ep_recover(ep);
		ep->nb_err = 0;
		for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
			sq = mlx5_ep_live_sq(ep, i);
			if (sq != NULL && sq->error)
				ep->nb_err++;
		}
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
	uint16_t i;

	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		struct mlx5_sq *sq = mlx5_ep_live_sq(ep, i);

		/* A QP that cannot be flushed is still in RTS (or so the device
		 * says): its CQEs complete the work. */
		if (sq != NULL && sq->done != sq->pi)
			ep_sq_cancel(ep, sq, -ECANCELED);
	}
}

static void
mlx5_endpoint_close(struct tern_endpoint *ep)
{
	unsigned int i;

	if (ep == NULL)
		return;
	pthread_mutex_lock(&mlx5_ctl_lock);
	for (i = 0; i < mlx5_nb_eps; i++)
		if (mlx5_eps[i] == ep)
			mlx5_eps[i] = mlx5_eps[--mlx5_nb_eps];
	mlx5_connect_forget_ep(ep);
	ep_close_qps(ep);
	mlx5_prov->cq_close(mlx5_prov_ctx, ep->cq_handle);
	rte_free(ep->keys);
	rte_free(ep->sw);
	rte_free(ep);
	if (mlx5_nb_eps == 0) {
		/* Target-side QPs before the device goes. */
		mlx5_connect_shutdown();
		mr_release_all();
		if (mlx5_prov->shutdown != NULL)
			mlx5_prov->shutdown(mlx5_prov_ctx);
		__atomic_store_n(&probed, 0, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&mlx5_ctl_lock);
}

int
mlx5_ep_stats(const struct tern_endpoint *ep, struct tern_mlx5_ep_stats *stats)
{
	unsigned int i;

	if (ep == NULL || stats == NULL)
		return -EINVAL;
	*stats = ep->stats;
	stats->errors = 0;
	for (i = 0; i < TERN_MLX5_PEER_MAX; i++) {
		const struct mlx5_sq *sq = __atomic_load_n(&ep->qps[i], __ATOMIC_ACQUIRE);

		if (sq != NULL)
			stats->errors += sq->errors;
	}
	return 0;
}

static struct tern_transport_ops mlx5_ops = {
	.name = "mlx5",
	.rank = 10,
	.probe = mlx5_probe,
	.segment_export = mlx5_segment_export,
	.segment_import = mlx5_segment_import,
	.segment_release = mlx5_segment_release,
	.endpoint_open = mlx5_endpoint_open,
	.post_burst = mlx5_post_burst,
	.poll = mlx5_poll,
	.cancel = mlx5_cancel,
	.endpoint_close = mlx5_endpoint_close,
};

TERN_TRANSPORT_REGISTER(mlx5_ops);
