/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Peers: resolve node/segment through the directory, choose a transport,
 * import, revalidate, retire. Control path only: one mutex serialises it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_string_fns.h>

#include <tern_time.h>
#include <tern_transport_driver.h>

#include "tern_peer.h"

RTE_LOG_REGISTER(peer_logtype, tern.peer, NOTICE);
#define PEER_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, peer_logtype, "tern_peer: " fmt "\n", ##__VA_ARGS__)

#define DEFAULT_CHECK_MS   1000
#define DEFAULT_RETIRED_MS 30000
/* Blobs are stored as hex in a string field: at most this many bytes. */
#define BLOB_MAX ((TERN_DESCRIPTOR_STR_MAX - 1) / 2)

#define IPC_ACTION    "tern_peer_resolve"
#define IPC_VERSION   1
#define IPC_QUEUE_MAX 64

struct peer {
	char node[TERN_PEER_NAME_MAX];
	uint16_t tag;
	uint16_t state;		    /* enum tern_peer_state */
	int pinned;		    /* transport id, or -1: the strategy chooses */
	int last_transport;	    /* of the newest import, or -1 */
	struct tern_directory *dir; /* its own (tern_peers_add), or NULL */
	uint64_t resolves, errors, stale;
	int32_t last_error;
};

struct import {
	TAILQ_ENTRY(import) next;
	struct peer *peer;
	char segment[TERN_SEGMENT_NAME_MAX];
	uint32_t handle;
	int transport;
	uint32_t fb_handle; /* the last resort (another transport), TERN_SEGMENT_INVALID: none */
	int fb_transport;   /* its transport id, or -1 */
	bool retired;
	uint64_t next_check_ms; /* in service: when to revalidate; retired: when to release */
	struct tern_descriptor desc;
};

TAILQ_HEAD(import_list, import);

struct ipc_req {
	uint32_t version;
	char node[TERN_PEER_NAME_MAX];
	char segment[TERN_SEGMENT_NAME_MAX];
};

struct ipc_reply {
	int32_t status;
	uint32_t handle;
};

struct ipc_pending {
	struct rte_mp_msg msg;
	char from[PATH_MAX];
};

struct tern_peers {
	pthread_mutex_t lock;
	char node[TERN_PEER_NAME_MAX];
	struct tern_segment_table *tbl;
	struct tern_directory *dir;
	uint32_t usable;
	uint32_t check_ms;
	uint32_t retired_ms;
	struct peer *peers[TERN_PEER_MAX + 1]; /* index = accounting tag; 0 unused */
	struct import_list imports;

	pthread_mutex_t qlock; /* the IPC queue: DPDK's IPC thread fills it */
	struct ipc_pending *queue;
	unsigned int nb_queued;
	bool serving;
};

static void ipc_answer(struct tern_peers *ps, const struct ipc_pending *q);

/* The peer set answering IPC in this process. */
static struct tern_peers *ipc_owner;
static pthread_mutex_t ipc_owner_lock = PTHREAD_MUTEX_INITIALIZER;

const char *
tern_peer_state_name(uint16_t state)
{
	switch (state) {
	case TERN_PEER_IDLE:
		return "idle";
	case TERN_PEER_UP:
		return "up";
	case TERN_PEER_STALE:
		return "stale";
	case TERN_PEER_UNREACHABLE:
		return "unreachable";
	default:
		return "unknown";
	}
}

struct tern_peers *
tern_peers_create(const struct tern_peers_conf *conf)
{
	struct tern_peers *ps;

	if (conf == NULL || conf->node == NULL || !tern_descriptor_name_valid(conf->node) ||
	    conf->segments == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&ps->lock, NULL);
	pthread_mutex_init(&ps->qlock, NULL);
	rte_strscpy(ps->node, conf->node, sizeof(ps->node));
	ps->tbl = conf->segments;
	ps->dir = conf->directory;
	ps->usable = conf->usable_transports != 0 ? conf->usable_transports : UINT32_MAX;
	ps->check_ms = conf->check_ms != 0 ? conf->check_ms : DEFAULT_CHECK_MS;
	ps->retired_ms = conf->retired_ms != 0 ? conf->retired_ms : DEFAULT_RETIRED_MS;
	TAILQ_INIT(&ps->imports);
	return ps;
}

static struct peer *
peer_find(struct tern_peers *ps, const char *node)
{
	unsigned int i;

	for (i = 1; i <= TERN_PEER_MAX; i++)
		if (ps->peers[i] != NULL && strcmp(ps->peers[i]->node, node) == 0)
			return ps->peers[i];
	return NULL;
}

/* Nothing but its failures would be lost: no import ever, no directory, no pin. */
static bool
peer_evictable(const struct peer *p)
{
	return p->resolves == 0 && p->dir == NULL && p->pinned < 0;
}

static struct peer *
peer_get(struct tern_peers *ps, const char *node, int *err)
{
	struct peer *p = peer_find(ps, node);
	unsigned int i;

	if (p != NULL)
		return p;
	for (i = 1; i <= TERN_PEER_MAX && ps->peers[i] != NULL; i++)
		;
	if (i > TERN_PEER_MAX) {
		/* Full: a node asked for that never resolved (a typo, a node long gone)
		 * makes room. It has no import, so no segment carries its tag and its
		 * traffic counters are zero: the tag can go to another node. */
		for (i = 1; i <= TERN_PEER_MAX; i++)
			if (peer_evictable(ps->peers[i]))
				break;
		if (i > TERN_PEER_MAX) {
			*err = -ENOSPC;
			return NULL;
		}
		PEER_LOG(INFO, "%s forgotten (never resolved) to make room for %s",
			 ps->peers[i]->node, node);
		free(ps->peers[i]);
		ps->peers[i] = NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	rte_strscpy(p->node, node, sizeof(p->node));
	p->tag = (uint16_t)i;
	p->pinned = -1;
	p->last_transport = -1;
	ps->peers[i] = p;
	return p;
}

/* Unregister a retired import if nothing references it; 1 if it went. */
static int
import_release(struct tern_peers *ps, struct import *im)
{
	const struct tern_transport_ops *ops = tern_transport_get(im->transport);
	struct tern_segment slot;
	int rc;

	/* The slot keeps its fields after unregister; copy first all the same. */
	slot = ps->tbl->slots[tern_segment_handle_slot(im->handle)];
	rc = tern_segment_unregister(ps->tbl, im->handle);
	if (rc == -EBUSY)
		return 0;
	if (rc == 0 && ops != NULL && ops->segment_release != NULL)
		ops->segment_release(&slot);
	if (im->fb_handle != TERN_SEGMENT_INVALID) {
		/* Nothing links to it any more (unregister cleared the link), and
		 * its slices were the primary's, whose references are gone. */
		const struct tern_transport_ops *fops = tern_transport_get(im->fb_transport);

		slot = ps->tbl->slots[tern_segment_handle_slot(im->fb_handle)];
		if (tern_segment_unregister(ps->tbl, im->fb_handle) == 0 && fops != NULL &&
		    fops->segment_release != NULL)
			fops->segment_release(&slot);
	}
	TAILQ_REMOVE(&ps->imports, im, next);
	tern_descriptor_fini(&im->desc);
	free(im);
	return 1;
}

static void
import_retire(struct tern_peers *ps, struct import *im, const char *why)
{
	if (im->retired)
		return;
	tern_segment_retire(ps->tbl, im->handle);
	if (im->fb_handle != TERN_SEGMENT_INVALID)
		tern_segment_retire(ps->tbl, im->fb_handle);
	im->retired = true;
	/* Its handle keeps answering ESTALE for a while, then goes. */
	im->next_check_ms = tern_clock_ms() + ps->retired_ms;
	PEER_LOG(NOTICE, "%s/%s retired (%s): requests on it fail with ESTALE", im->peer->node,
		 im->segment, why);
}

void
tern_peers_destroy(struct tern_peers *ps)
{
	struct import *im, *next;
	unsigned int i;

	if (ps == NULL)
		return;
	pthread_mutex_lock(&ipc_owner_lock);
	if (ipc_owner == ps) {
		rte_mp_action_unregister(IPC_ACTION);
		ipc_owner = NULL;
	}
	pthread_mutex_unlock(&ipc_owner_lock);
	for (i = 0; i < ps->nb_queued; i++) /* no longer reachable by the IPC thread */
		ipc_answer(NULL, &ps->queue[i]);
	pthread_mutex_lock(&ps->lock);
	for (im = TAILQ_FIRST(&ps->imports); im != NULL; im = next) {
		next = TAILQ_NEXT(im, next);
		im->retired = true;
		tern_segment_retire(ps->tbl, im->handle);
		if (!import_release(ps, im)) {
			PEER_LOG(WARNING, "%s/%s still referenced: left registered", im->peer->node,
				 im->segment);
			TAILQ_REMOVE(&ps->imports, im, next);
			tern_descriptor_fini(&im->desc);
			free(im);
		}
	}
	for (i = 1; i <= TERN_PEER_MAX; i++) {
		if (ps->peers[i] == NULL)
			continue;
		tern_directory_close(ps->peers[i]->dir);
		free(ps->peers[i]);
	}
	pthread_mutex_unlock(&ps->lock);
	free(ps->queue);
	pthread_mutex_destroy(&ps->lock);
	pthread_mutex_destroy(&ps->qlock);
	free(ps);
}

int
tern_peers_add(struct tern_peers *ps, const char *node, const char *uri)
{
	struct tern_directory *dir;
	struct peer *p;
	int err = 0;

	if (ps == NULL || node == NULL || uri == NULL || !tern_descriptor_name_valid(node) ||
	    strcmp(node, ps->node) == 0)
		return -EINVAL;
	dir = tern_directory_open(uri, NULL);
	if (dir == NULL)
		return -rte_errno;
	pthread_mutex_lock(&ps->lock);
	p = peer_get(ps, node, &err);
	if (p != NULL) {
		tern_directory_close(p->dir);
		p->dir = dir;
	}
	pthread_mutex_unlock(&ps->lock);
	if (p == NULL)
		tern_directory_close(dir);
	return err;
}

static void
retire_peer_imports(struct tern_peers *ps, const struct peer *p, const char *why)
{
	struct import *im, *next;

	for (im = TAILQ_FIRST(&ps->imports); im != NULL; im = next) {
		next = TAILQ_NEXT(im, next);
		if (im->peer == p)
			import_retire(ps, im, why);
	}
}

int
tern_peers_set_transport(struct tern_peers *ps, const char *node, const char *transport)
{
	int tid = -1, err = 0;
	struct peer *p;

	if (ps == NULL || node == NULL || !tern_descriptor_name_valid(node) ||
	    strcmp(node, ps->node) == 0)
		return -EINVAL;
	if (transport != NULL && transport[0] != '\0') {
		tid = tern_transport_id(transport);
		if (tid < 0)
			return -ENOENT;
	}
	pthread_mutex_lock(&ps->lock);
	p = peer_get(ps, node, &err);
	if (p != NULL && p->pinned != tid) {
		p->pinned = tid;
		retire_peer_imports(ps, p, "its transport was changed");
		PEER_LOG(NOTICE, "%s: transport %s", node, tid < 0 ? "automatic" : transport);
	}
	pthread_mutex_unlock(&ps->lock);
	return err;
}

int
tern_peers_split_name(const char *name, char *node, char *segment)
{
	const char *slash;
	size_t n;

	if (name == NULL || node == NULL || segment == NULL)
		return -EINVAL;
	slash = strchr(name, '/');
	if (slash == NULL || strchr(slash + 1, '/') != NULL)
		return -EINVAL;
	n = (size_t)(slash - name);
	if (n == 0 || n >= TERN_PEER_NAME_MAX || strlen(slash + 1) >= TERN_SEGMENT_NAME_MAX)
		return -EINVAL;
	memcpy(node, name, n);
	node[n] = '\0';
	strcpy(segment, slash + 1);
	if (!tern_descriptor_name_valid(node) || !tern_descriptor_name_valid(segment))
		return -EINVAL;
	return 0;
}

/* Transport ids, cheapest first (ties: lower id). */
static int
transports_by_rank(int *ids)
{
	int n = tern_transport_count(), i, j;

	for (i = 0; i < n; i++)
		ids[i] = i;
	for (i = 1; i < n; i++) {
		int id = ids[i];

		for (j = i;
		     j > 0 && tern_transport_get(ids[j - 1])->rank > tern_transport_get(id)->rank;
		     j--)
			ids[j] = ids[j - 1];
		ids[j] = id;
	}
	return n;
}

/* Import @p d through transport @p id as REMOTE segment @p name. 0, or a
 * negative errno (logged). */
static int
import_through(struct tern_peers *ps, struct peer *p, const struct tern_descriptor *d,
	       const char *name, int id, uint32_t *handle)
{
	const struct tern_transport_ops *ops = tern_transport_get(id);
	uint8_t blob[BLOB_MAX];
	struct tern_segment scratch;
	struct tern_segment_conf conf;
	int len, rc;

	len = tern_descriptor_get_bytes(d, ops->name, TERN_PEER_DESC_FIELD, blob, sizeof(blob));
	if (len < 0) {
		PEER_LOG(NOTICE, "%s/%s: %s: no usable \"" TERN_PEER_DESC_FIELD "\" (%s)", d->node,
			 d->segment, ops->name, strerror(-len));
		return -EHOSTUNREACH;
	}
	memset(&scratch, 0, sizeof(scratch));
	scratch.kind = TERN_SEGMENT_REMOTE;
	scratch.transport = (uint16_t)id;
	scratch.length = d->length;
	scratch.peer = p->tag;
	rte_strscpy(scratch.name, name, sizeof(scratch.name));
	rc = ops->segment_import(&scratch, blob, (size_t)len);
	if (rc != 0) {
		PEER_LOG(INFO, "%s/%s: %s cannot import it (%s)", d->node, d->segment, ops->name,
			 strerror(-rc));
		return -EHOSTUNREACH;
	}
	conf = (struct tern_segment_conf){
		.name = name,
		.length = d->length,
		.kind = TERN_SEGMENT_REMOTE,
		.transport = ops->name,
		.socket_id = SOCKET_ID_ANY,
		.priv = scratch.priv,
		.priv_len = TERN_SEGMENT_PRIV_SIZE,
		.peer = p->tag,
	};
	rc = tern_segment_register(ps->tbl, &conf, handle);
	if (rc != 0 && ops->segment_release != NULL)
		ops->segment_release(&scratch);
	return rc;
}

static bool
transport_fits(const struct tern_peers *ps, const struct peer *p, const struct tern_descriptor *d,
	       int id)
{
	const struct tern_transport_ops *ops = tern_transport_get(id);

	return (ps->usable & (1u << id)) && ops->segment_import != NULL &&
	       (p->pinned < 0 || id == p->pinned) && tern_descriptor_has_transport(d, ops->name);
}

/*
 * The last resort of an import through a transport whose rails can all be
 * out of service (it has rail_live: mlx5): the next transport by rank that
 * imports the descriptor too, as REMOTE "NODE:SEGMENT:lr", linked as the engine's
 * fallback (tern_segment_set_fallback()). None for a pinned peer. Sets
 * im->fb_*; a failure only costs the last resort.
 */
static void
import_last_resort(struct tern_peers *ps, struct peer *p, const struct tern_descriptor *d,
		   const char *name, const int *ids, int n, int from, struct import *im)
{
	char fname[TERN_SEGMENT_NAME_MAX];
	uint32_t h;
	int i, rc;

	im->fb_handle = TERN_SEGMENT_INVALID;
	im->fb_transport = -1;
	if (p->pinned >= 0 || tern_transport_get(ids[from])->rail_live == NULL)
		return;
	if ((size_t)snprintf(fname, sizeof(fname), "%s:lr", name) >= sizeof(fname)) {
		PEER_LOG(NOTICE, "%s/%s: name too long for a last resort", d->node, d->segment);
		return;
	}
	for (i = from + 1; i < n; i++) {
		if (!transport_fits(ps, p, d, ids[i]))
			continue;
		if (import_through(ps, p, d, fname, ids[i], &h) != 0)
			continue;
		rc = tern_segment_set_fallback(ps->tbl, im->handle, h);
		if (rc != 0) {
			const struct tern_transport_ops *ops = tern_transport_get(ids[i]);
			struct tern_segment slot = ps->tbl->slots[tern_segment_handle_slot(h)];

			if (tern_segment_unregister(ps->tbl, h) == 0 &&
			    ops->segment_release != NULL)
				ops->segment_release(&slot);
			PEER_LOG(NOTICE, "%s/%s: last resort refused (%s)", d->node, d->segment,
				 strerror(-rc));
			return;
		}
		im->fb_handle = h;
		im->fb_transport = ids[i];
		PEER_LOG(INFO, "%s/%s: last resort %#x through %s", d->node, d->segment, h,
			 tern_transport_get(ids[i])->name);
		return;
	}
}

/*
 * The strategy: the cheapest transport that both the descriptor and this
 * engine have and whose import works, and behind it the last resort.
 * Returns the transport id, or a negative errno; registers the REMOTE
 * segment on success.
 */
static int
import_cheapest(struct tern_peers *ps, struct peer *p, const struct tern_descriptor *d,
		const char *name, uint32_t *handle, struct import *im)
{
	int ids[TERN_TRANSPORT_MAX], n = transports_by_rank(ids), i, rc;
	bool tried = false;

	for (i = 0; i < n; i++) {
		if (!transport_fits(ps, p, d, ids[i]))
			continue;
		tried = true;
		rc = import_through(ps, p, d, name, ids[i], handle);
		if (rc == -EHOSTUNREACH)
			continue;
		if (rc != 0)
			return rc;
		im->handle = *handle;
		import_last_resort(ps, p, d, name, ids, n, i, im);
		return ids[i];
	}
	if (!tried)
		PEER_LOG(NOTICE, "%s/%s: no transport of this engine%s is in its descriptor",
			 d->node, d->segment, p->pinned >= 0 ? " (pinned)" : "");
	return -EHOSTUNREACH;
}

static struct import *
import_find(struct tern_peers *ps, const struct peer *p, const char *segment)
{
	struct import *im;

	TAILQ_FOREACH (im, &ps->imports, next)
		if (im->peer == p && !im->retired && strcmp(im->segment, segment) == 0)
			return im;
	return NULL;
}

static void
peer_failed(struct peer *p, int rc)
{
	p->errors++;
	p->last_error = rc;
	if (rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -EHOSTUNREACH || rc == -EIO)
		p->state = TERN_PEER_UNREACHABLE;
}

static int
resolve_locked(struct tern_peers *ps, const char *node, const char *segment, uint32_t *handle)
{
	char name[TERN_SEGMENT_NAME_MAX];
	struct tern_directory *dir;
	struct tern_descriptor d;
	struct import *im;
	struct peer *p;
	int rc = 0, tid;

	if (strcmp(node, ps->node) == 0)
		return tern_segment_find(ps->tbl, segment, handle);
	if ((size_t)snprintf(name, sizeof(name), "%s:%s", node, segment) >= sizeof(name))
		return -EINVAL;
	p = peer_get(ps, node, &rc);
	if (p == NULL)
		return rc;
	im = import_find(ps, p, segment);
	if (im != NULL) {
		*handle = im->handle;
		return 0;
	}
	dir = p->dir != NULL ? p->dir : ps->dir;
	if (dir == NULL) {
		peer_failed(p, -EHOSTUNREACH);
		return -EHOSTUNREACH;
	}
	rc = tern_directory_lookup(dir, node, segment, &d);
	if (rc == -ESTALE) /* the directory's cache knew it: look again, uncached */
		rc = tern_directory_lookup(dir, node, segment, &d);
	if (rc != 0) {
		peer_failed(p, rc);
		return rc;
	}
	im = calloc(1, sizeof(*im));
	if (im == NULL) {
		tern_descriptor_fini(&d);
		return -ENOMEM;
	}
	tid = import_cheapest(ps, p, &d, name, handle, im);
	if (tid < 0) {
		tern_descriptor_fini(&d);
		free(im);
		peer_failed(p, tid);
		return tid;
	}
	im->peer = p;
	rte_strscpy(im->segment, segment, sizeof(im->segment));
	im->handle = *handle;
	im->transport = tid;
	im->desc = d;
	im->next_check_ms = tern_clock_ms() + ps->check_ms;
	TAILQ_INSERT_TAIL(&ps->imports, im, next);
	p->resolves++;
	p->state = TERN_PEER_UP;
	p->last_transport = tid;
	PEER_LOG(INFO, "%s/%s -> %#x through %s", node, segment, *handle,
		 tern_transport_get(tid)->name);
	return 0;
}

int
tern_peers_resolve(struct tern_peers *ps, const char *node, const char *segment, uint32_t *handle)
{
	int rc;

	if (ps == NULL || node == NULL || segment == NULL || handle == NULL ||
	    !tern_descriptor_name_valid(node) || !tern_descriptor_name_valid(segment))
		return -EINVAL;
	pthread_mutex_lock(&ps->lock);
	rc = resolve_locked(ps, node, segment, handle);
	pthread_mutex_unlock(&ps->lock);
	return rc;
}

/* Revalidate the imports that are due; retire the stale ones. */
static int
check_imports(struct tern_peers *ps)
{
	uint64_t now = tern_clock_ms();
	struct import *im, *next;
	int changed = 0;

	for (im = TAILQ_FIRST(&ps->imports); im != NULL; im = next) {
		struct peer *p = im->peer;
		struct tern_directory *dir = p->dir != NULL ? p->dir : ps->dir;
		int rc;

		next = TAILQ_NEXT(im, next);
		if (im->retired) {
			if (now >= im->next_check_ms)
				changed += import_release(ps, im);
			continue;
		}
		if (now < im->next_check_ms || dir == NULL)
			continue;
		im->next_check_ms = now + ps->check_ms;
		rc = tern_directory_check(dir, &im->desc);
		if (rc == 0) {
			p->state = TERN_PEER_UP;
			continue;
		}
		peer_failed(p, rc);
		/* Gone, changed, or nobody at the peer's own control port: its
		 * memory is not what we imported any more. */
		if (rc == -ESTALE || (rc == -ECONNREFUSED && p->dir != NULL)) {
			p->state = TERN_PEER_STALE;
			p->stale++;
			import_retire(ps, im,
				      rc == -ESTALE ? "descriptor gone or changed"
						    : "nobody answers at its control port");
			changed++;
		}
	}
	return changed;
}

static void
ipc_answer(struct tern_peers *ps, const struct ipc_pending *q)
{
	const struct ipc_req *rq = (const void *)q->msg.param;
	struct rte_mp_msg out;
	struct ipc_reply rp = { 0 };

	if (q->msg.len_param != (int)sizeof(*rq) || rq->version != IPC_VERSION ||
	    memchr(rq->node, '\0', sizeof(rq->node)) == NULL ||
	    memchr(rq->segment, '\0', sizeof(rq->segment)) == NULL)
		rp.status = -EINVAL;
	else if (ps == NULL)
		rp.status = -ESHUTDOWN;
	else
		rp.status = tern_peers_resolve(ps, rq->node, rq->segment, &rp.handle);
	memset(&out, 0, sizeof(out));
	rte_strscpy(out.name, IPC_ACTION, sizeof(out.name));
	out.len_param = sizeof(rp);
	memcpy(out.param, &rp, sizeof(rp));
	if (rte_mp_reply(&out, q->from) != 0)
		PEER_LOG(WARNING, "cannot answer %s: %s", q->from, rte_strerror(rte_errno));
}

int
tern_peers_poll(struct tern_peers *ps)
{
	struct ipc_pending *batch = NULL;
	unsigned int n = 0, i;
	int changed;

	if (ps == NULL)
		return -EINVAL;
	pthread_mutex_lock(&ps->lock);
	changed = check_imports(ps);
	pthread_mutex_unlock(&ps->lock);

	pthread_mutex_lock(&ps->qlock);
	if (ps->nb_queued != 0) {
		batch = malloc(sizeof(*batch) * ps->nb_queued);
		if (batch != NULL) {
			n = ps->nb_queued;
			memcpy(batch, ps->queue, sizeof(*batch) * n);
			ps->nb_queued = 0;
		}
	}
	pthread_mutex_unlock(&ps->qlock);
	for (i = 0; i < n; i++)
		ipc_answer(ps, &batch[i]);
	free(batch);
	return changed;
}

/* The rails of @p im's transport to its node (its descriptor's blob). */
static void
peer_rails(const struct import *im, struct tern_peer_info *pi)
{
	const struct tern_transport_ops *ops = tern_transport_get(im->transport);
	uint8_t blob[BLOB_MAX];
	int len, n;

	if (ops == NULL || ops->rails == NULL)
		return;
	len = tern_descriptor_get_bytes(&im->desc, ops->name, TERN_PEER_DESC_FIELD, blob,
					sizeof(blob));
	if (len < 0)
		return;
	n = ops->rails(blob, (size_t)len, pi->rails, RTE_DIM(pi->rails));
	if (n > 0)
		pi->nb_rails = (uint32_t)n;
}

/* Which transport new slices to @p im take: its own while one of its rails
 * is up (or it shows none), else its last resort. */
static void
peer_path(const struct import *im, struct tern_peer_info *pi)
{
	uint32_t r, n = RTE_MIN(pi->nb_rails, (uint32_t)TERN_PEER_RAILS_MAX);
	bool up = n == 0;

	rte_strscpy(pi->path, tern_transport_get(im->transport)->name, sizeof(pi->path));
	if (im->fb_transport < 0)
		return;
	rte_strscpy(pi->last_resort, tern_transport_get(im->fb_transport)->name,
		    sizeof(pi->last_resort));
	for (r = 0; r < n && !up; r++)
		up = pi->rails[r].state == TERN_TRANSPORT_RAIL_UP;
	if (!up)
		rte_strscpy(pi->path, pi->last_resort, sizeof(pi->path));
}

int
tern_peers_list(struct tern_peers *ps, struct tern_peer_info *out, unsigned int max)
{
	unsigned int i, count = 0;

	if (ps == NULL || (out == NULL && max != 0))
		return -EINVAL;
	pthread_mutex_lock(&ps->lock);
	for (i = 1; i <= TERN_PEER_MAX; i++) {
		const struct peer *p = ps->peers[i];
		struct tern_peer_info *pi;
		const struct import *im;

		if (p == NULL)
			continue;
		if (count++ >= max)
			continue;
		pi = &out[count - 1];
		memset(pi, 0, sizeof(*pi));
		rte_strscpy(pi->node, p->node, sizeof(pi->node));
		if (p->last_transport >= 0)
			rte_strscpy(pi->transport, tern_transport_get(p->last_transport)->name,
				    sizeof(pi->transport));
		if (p->pinned >= 0)
			rte_strscpy(pi->pinned, tern_transport_get(p->pinned)->name,
				    sizeof(pi->pinned));
		pi->tag = p->tag;
		pi->state = p->state;
		pi->resolves = p->resolves;
		pi->errors = p->errors;
		pi->stale = p->stale;
		pi->last_error = p->last_error;
		TAILQ_FOREACH (im, &ps->imports, next) {
			struct tern_segment_info si;

			if (im->peer != p)
				continue;
			if (im->retired)
				pi->retired++;
			else
				pi->segments++;
			if (!im->retired && im->transport == p->last_transport) {
				peer_rails(im, pi);
				peer_path(im, pi);
			}
			if (tern_segment_info(ps->tbl, im->handle, &si) == 0)
				pi->inflight += si.refs;
		}
		if (pi->state == TERN_PEER_UP && pi->segments == 0)
			pi->state = TERN_PEER_IDLE;
	}
	pthread_mutex_unlock(&ps->lock);
	return (int)count;
}

/* DPDK's IPC thread: queue the request for tern_peers_poll(). */
static int
ipc_action(const struct rte_mp_msg *msg, const void *from)
{
	struct ipc_pending q;
	struct tern_peers *ps;
	bool queued = false;

	memset(&q, 0, sizeof(q));
	q.msg = *msg;
	rte_strscpy(q.from, from, sizeof(q.from));
	pthread_mutex_lock(&ipc_owner_lock);
	ps = ipc_owner;
	if (ps != NULL) {
		pthread_mutex_lock(&ps->qlock);
		if (ps->nb_queued < IPC_QUEUE_MAX) {
			ps->queue[ps->nb_queued++] = q;
			queued = true;
		}
		pthread_mutex_unlock(&ps->qlock);
	}
	pthread_mutex_unlock(&ipc_owner_lock);
	if (!queued) /* answered at once: no peer set, or the queue is full */
		ipc_answer(NULL, &q);
	return 0;
}

int
tern_peers_ipc_serve(struct tern_peers *ps)
{
	int rc = 0;

	if (ps == NULL)
		return -EINVAL;
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return -ENOTSUP;
	pthread_mutex_lock(&ipc_owner_lock);
	if (ipc_owner != NULL) {
		rc = -EALREADY;
		goto out;
	}
	if (ps->queue == NULL) {
		ps->queue = calloc(IPC_QUEUE_MAX, sizeof(*ps->queue));
		if (ps->queue == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (rte_mp_action_register(IPC_ACTION, ipc_action) != 0) {
		rc = -rte_errno;
		goto out;
	}
	ipc_owner = ps;
out:
	pthread_mutex_unlock(&ipc_owner_lock);
	return rc;
}

int
tern_peers_ipc_resolve(const char *node, const char *segment, uint32_t timeout_ms, uint32_t *handle)
{
	struct timespec ts = { .tv_sec = timeout_ms / 1000,
			       .tv_nsec = (long)(timeout_ms % 1000) * 1000000 };
	struct rte_mp_reply reply = { 0 };
	struct ipc_reply rp;
	struct rte_mp_msg msg;
	struct ipc_req rq;
	int rc;

	if (node == NULL || segment == NULL || handle == NULL || timeout_ms == 0 ||
	    !tern_descriptor_name_valid(node) || !tern_descriptor_name_valid(segment))
		return -EINVAL;
	if (rte_eal_process_type() != RTE_PROC_SECONDARY)
		return -ENOTSUP;
	memset(&rq, 0, sizeof(rq));
	rq.version = IPC_VERSION;
	rte_strscpy(rq.node, node, sizeof(rq.node));
	rte_strscpy(rq.segment, segment, sizeof(rq.segment));
	memset(&msg, 0, sizeof(msg));
	rte_strscpy(msg.name, IPC_ACTION, sizeof(msg.name));
	msg.len_param = sizeof(rq);
	memcpy(msg.param, &rq, sizeof(rq));
	if (rte_mp_request_sync(&msg, &reply, &ts) != 0 || reply.nb_received != 1) {
		rc = rte_errno == ETIMEDOUT || reply.nb_received == 0 ? -ETIMEDOUT : -rte_errno;
		free(reply.msgs);
		return rc;
	}
	if (reply.msgs[0].len_param != (int)sizeof(rp)) {
		free(reply.msgs);
		return -EPROTO;
	}
	memcpy(&rp, reply.msgs[0].param, sizeof(rp));
	free(reply.msgs);
	if (rp.status > 0 || rp.status < -4095)
		return -EPROTO;
	if (rp.status == 0)
		*handle = rp.handle;
	return rp.status;
}

int
tern_peers_publish(struct tern_directory *dir, struct tern_segment_table *tbl, const char *node,
		   uint32_t usable_transports)
{
	uint8_t blob[(TERN_DESCRIPTOR_STR_MAX - 1) / 2];
	uint32_t h = 0, slot = 0;
	int published = 0, t, n, ret;

	if (dir == NULL || tbl == NULL || node == NULL)
		return -EINVAL;
	if (usable_transports == 0)
		usable_transports = UINT32_MAX;
	while ((h = tern_segment_next(tbl, slot)) != TERN_SEGMENT_INVALID) {
		const struct tern_segment *seg = &tbl->slots[tern_segment_handle_slot(h)];
		struct tern_descriptor d;
		int carried = 0;

		slot = tern_segment_handle_slot(h) + 1;
		if (!tern_segment_exported(seg))
			continue; /* clients' buffers: never offered to peers */
		ret = tern_descriptor_init(&d, node, seg->name, seg->length);
		if (ret != 0)
			return ret;
		for (t = 0; t < tern_transport_count(); t++) {
			const struct tern_transport_ops *ops = tern_transport_get(t);

			if (!(usable_transports & (1u << t)) || ops->segment_export == NULL)
				continue;
			n = ops->segment_export(seg, blob, sizeof(blob));
			if (n <= 0)
				continue; /* not exportable this way (no listener...) */
			ret = tern_descriptor_set_bytes(&d, ops->name, TERN_PEER_DESC_FIELD, blob,
							(size_t)n);
			if (ret != 0) {
				tern_descriptor_fini(&d);
				return ret;
			}
			carried++;
		}
		ret = carried == 0 ? 0 : tern_directory_publish(dir, &d);
		if (carried == 0)
			PEER_LOG(WARNING, "segment %s: no usable transport can export it",
				 seg->name);
		tern_descriptor_fini(&d);
		if (ret != 0)
			return ret;
		published += carried != 0;
	}
	return published;
}
