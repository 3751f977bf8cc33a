/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Clients in other processes (DPDK secondary processes of the engine's
 * primary): attach and detach through rte_mp IPC, shared-memory buffers
 * allocated for them, and the reclaiming of clients whose process died.
 *
 * The engine's process owns every client slot: a secondary asks for one
 * (ATTACH), gives it back (DETACH) and asks for buffers (SHM_ALLOC /
 * SHM_FREE); it never changes the engine's shared state behind its back.
 * A liveness alarm in the engine's process notices clients whose process
 * is gone and closes their slots; it also finishes reclaiming slots of
 * clients that left while a batch of theirs was still in flight (slot.c).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_alarm.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memzone.h>

#include "engine_private.h"

#define MSG_ATTACH "tern_att_"
#define MSG_DETACH "tern_det_"
#define MSG_SHM	   "tern_shm_"
#define IPC_MAGIC  0x74697063u /* "tipc" */
/* Above what a buffer allocation in the engine's process can take: two
 * tries (shm_alloc()), each waiting up to DPDK's 5 s for a secondary that
 * does not answer the broadcast of the new pages (one stopped, starting or
 * exiting) and 5 s more for the broadcast of their rollback, and 100 ms
 * between them. A client that gave up earlier would not learn of a buffer
 * allocated for it. */
#define SHM_ALLOC_TRIES	   2
#define IPC_TIMEOUT_S	   (SHM_ALLOC_TRIES * 10 + 5)
#define LIVENESS_PERIOD_US (100 * 1000)

enum ipc_op {
	IPC_ATTACH = 1,
	IPC_DETACH = 2,
	IPC_SHM_ALLOC = 3,
	IPC_SHM_FREE = 4,
};

/* Every request: fixed layout, checked field by field by the engine. */
struct ipc_request {
	uint32_t magic;
	uint32_t layout_version;
	uint32_t op; /* enum ipc_op */
	int32_t pid;
	uint32_t slot;			  /* DETACH, SHM_*: the caller's slot */
	uint32_t max_inflight;		  /* ATTACH */
	uint32_t flags;			  /* ATTACH */
	uint32_t home;			  /* ATTACH: lcore index, UINT32_MAX: the default */
	uint32_t handle;		  /* SHM_FREE */
	uint64_t length;		  /* SHM_ALLOC */
	char name[TERN_SEGMENT_NAME_MAX]; /* SHM_ALLOC */
};

struct ipc_reply {
	int32_t status; /* 0 or a negative errno */
	uint32_t value; /* ATTACH: slot; SHM_ALLOC: segment handle */
};

static struct engine_shared *
shared_by_name(const char *name)
{
	char mz_name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;

	if (name == NULL || strnlen(name, ENGINE_NAME_MAX) >= ENGINE_NAME_MAX)
		return NULL;
	snprintf(mz_name, sizeof(mz_name), "tern_eng_%s", name);
	mz = rte_memzone_lookup(mz_name);
	return mz == NULL ? NULL : mz->addr;
}

static bool
slot_owned_by(const struct engine_shared *sh, uint32_t slot, int32_t pid)
{
	return slot < sh->max_clients &&
	       __atomic_load_n(&sh->clients[slot].state, __ATOMIC_ACQUIRE) == CLIENT_SLOT_ACTIVE &&
	       sh->clients[slot].pid == pid;
}

static int
shm_alloc(struct engine_shared *sh, uint32_t slot, const char *name, uint64_t length,
	  uint32_t *handle)
{
	struct client_slot *cs = &sh->clients[slot];
	int ret, attempt;

	if (cs->nb_segments == RTE_DIM(cs->segments))
		return -ENOSPC;
	ret = tern_segment_alloc(sh->segments, name, length, sh->pool->socket_id, handle);
	/* DPDK rolls an allocation back when a secondary that is exiting at
	 * that moment does not answer its memory-map sync; by the next try the
	 * process is gone and DPDK skips it. A real shortage fails every try. */
	for (attempt = 1; ret == -ENOMEM && attempt < SHM_ALLOC_TRIES; attempt++) {
		usleep(100 * 1000);
		ret = tern_segment_alloc(sh->segments, name, length, sh->pool->socket_id, handle);
	}
	if (ret == 0)
		cs->segments[cs->nb_segments++] = *handle;
	return ret;
}

static int
shm_free(struct engine_shared *sh, uint32_t slot, uint32_t handle)
{
	struct client_slot *cs = &sh->clients[slot];
	uint32_t i;
	int ret;

	for (i = 0; i < cs->nb_segments; i++)
		if (cs->segments[i] == handle)
			break;
	if (i == cs->nb_segments)
		return -ENOENT;
	ret = tern_segment_unregister(sh->segments, handle);
	if (ret == 0)
		cs->segments[i] = cs->segments[--cs->nb_segments];
	return ret;
}

/* The engine's side of every request. Runs on DPDK's IPC thread. */
static int
ipc_serve(struct engine_shared *sh, const struct ipc_request *rq, uint32_t *value)
{
	size_t name_len;

	if (rq->magic != IPC_MAGIC)
		return -EBADMSG;
	if (rq->layout_version != ENGINE_LAYOUT_VERSION)
		return -EPROTO;
	if (rq->pid <= 0)
		return -EINVAL;
	if (__atomic_load_n(&sh->phase, __ATOMIC_ACQUIRE) != PHASE_RUN)
		return -ESHUTDOWN;
	switch (rq->op) {
	case IPC_ATTACH:
		if (rq->max_inflight == 0 || rq->max_inflight > CLIENT_MAX_INFLIGHT ||
		    (rq->flags & ~(TERN_CLIENT_F_NO_CQ | TERN_CLIENT_F_HOME_LCORE)) != 0 ||
		    (rq->home != UINT32_MAX && rq->home >= sh->nb_workers))
			return -EINVAL;
		return engine_slot_alloc(sh, rq->pid, rq->max_inflight, rq->flags, rq->home, value);
	case IPC_DETACH:
		if (!slot_owned_by(sh, rq->slot, rq->pid))
			return -EPERM;
		/* Freed now if nothing of it is in flight, else by the liveness alarm. */
		engine_slot_close(sh, rq->slot, CLIENT_SLOT_CLOSING);
		engine_slot_reclaim_wait(sh, rq->slot);
		return 0;
	case IPC_SHM_ALLOC:
		if (!slot_owned_by(sh, rq->slot, rq->pid))
			return -EPERM;
		name_len = strnlen(rq->name, sizeof(rq->name));
		if (name_len == 0 || name_len == sizeof(rq->name) || rq->length == 0)
			return -EINVAL;
		return shm_alloc(sh, rq->slot, rq->name, rq->length, value);
	case IPC_SHM_FREE:
		if (!slot_owned_by(sh, rq->slot, rq->pid))
			return -EPERM;
		return shm_free(sh, rq->slot, rq->handle);
	default:
		return -EINVAL;
	}
}

/* A request waiting to be served off the IPC thread. */
struct ipc_pending {
	struct rte_mp_msg msg;
	char peer[PATH_MAX];
};

/* Serves a request and replies. Runs on the EAL's interrupt thread, not the
 * IPC thread: allocating hugepage memory there may need the IPC thread to
 * synchronise the secondary processes' memory maps. */
static void
ipc_serve_deferred(void *arg)
{
	struct ipc_pending *p = arg;
	const struct rte_mp_msg *msg = &p->msg;
	struct ipc_reply reply = { .status = -EBADMSG };
	struct rte_mp_msg reply_msg;
	struct ipc_request rq;
	struct engine_shared *sh;

	/* Every action name is a 9-character prefix and the engine's name. */
	sh = strnlen(msg->name, sizeof(msg->name)) > strlen(MSG_ATTACH)
		     ? shared_by_name(msg->name + strlen(MSG_ATTACH))
		     : NULL;
	if (sh == NULL) {
		reply.status = -ENOENT;
	} else if (msg->len_param == (int)sizeof(rq) && msg->num_fds == 0) {
		memcpy(&rq, msg->param, sizeof(rq));
		reply.status = ipc_serve(sh, &rq, &reply.value);
		if (reply.status != 0)
			ENGINE_LOG(NOTICE, "client request %u from pid %d refused: %s", rq.op,
				   (int)rq.pid, rte_strerror(-reply.status));
	}
	memset(&reply_msg, 0, sizeof(reply_msg));
	snprintf(reply_msg.name, sizeof(reply_msg.name), "%s", msg->name);
	reply_msg.len_param = sizeof(reply);
	memcpy(reply_msg.param, &reply, sizeof(reply));
	rte_mp_reply(&reply_msg, p->peer);
	free(p);
}

static int
ipc_action(const struct rte_mp_msg *msg, const void *peer)
{
	struct ipc_pending *p = malloc(sizeof(*p));

	if (p == NULL)
		return -1;
	p->msg = *msg;
	snprintf(p->peer, sizeof(p->peer), "%s", (const char *)peer);
	if (rte_eal_alarm_set(1, ipc_serve_deferred, p) != 0) {
		free(p);
		return -1;
	}
	return 0;
}

/* One request at a time per process: rte_mp refuses a second pending request
 * of the same name (EEXIST) when two threads attach at once. */
static pthread_mutex_t ipc_call_lock = PTHREAD_MUTEX_INITIALIZER;

/* A secondary's request to the engine's process. Returns the reply's status. */
static int
ipc_call(const struct engine_shared *sh, struct ipc_request *rq, uint32_t *value)
{
	struct timespec ts = { .tv_sec = IPC_TIMEOUT_S };
	struct rte_mp_reply replies;
	struct rte_mp_msg msg;
	struct ipc_reply reply;
	int ret;

	rq->magic = IPC_MAGIC;
	if (rq->layout_version == 0)
		rq->layout_version = ENGINE_LAYOUT_VERSION;
	rq->pid = getpid();
	memset(&msg, 0, sizeof(msg));
	snprintf(msg.name, sizeof(msg.name), "%s%s",
		 rq->op == IPC_ATTACH	? MSG_ATTACH
		 : rq->op == IPC_DETACH ? MSG_DETACH
					: MSG_SHM,
		 sh->name);
	msg.len_param = sizeof(*rq);
	memcpy(msg.param, rq, sizeof(*rq));
	pthread_mutex_lock(&ipc_call_lock);
	ret = rte_mp_request_sync(&msg, &replies, &ts);
	pthread_mutex_unlock(&ipc_call_lock);
	if (ret != 0)
		return -rte_errno;
	if (replies.nb_received != 1 || replies.msgs[0].len_param != (int)sizeof(reply)) {
		free(replies.msgs);
		return -ECOMM;
	}
	memcpy(&reply, replies.msgs[0].param, sizeof(reply));
	free(replies.msgs);
	if (value != NULL)
		*value = reply.value;
	return reply.status;
}

/* Test hook: the version a request claims (0: this build's). */
uint32_t tern_attach_claimed_layout_version;

/* An attached client hands its slot back to the primary. */
static void
detach_slot(struct engine_shared *sh, uint32_t slot)
{
	struct ipc_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.op = IPC_DETACH;
	rq.slot = slot;
	ipc_call(sh, &rq, NULL);
}

struct tern_client *
tern_client_attach(const char *engine_name, const struct tern_client_conf *conf)
{
	static const struct tern_client_conf defaults;
	uint32_t max_inflight, home, slot;
	struct ipc_request rq;
	struct engine_shared *sh;
	struct tern_client *c;
	int ret;

	if (engine_name == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	if (rte_eal_process_type() != RTE_PROC_SECONDARY) {
		rte_errno = ENOTSUP; /* the engine's own process uses tern_client_create() */
		return NULL;
	}
	sh = shared_by_name(engine_name);
	if (sh == NULL) {
		rte_errno = ENOENT;
		return NULL;
	}
	if (sh->layout_version != ENGINE_LAYOUT_VERSION) {
		ENGINE_LOG(ERR, "engine %s has shared layout %u, this client was built for %u",
			   engine_name, sh->layout_version, ENGINE_LAYOUT_VERSION);
		rte_errno = EPROTO;
		return NULL;
	}
	if (conf == NULL)
		conf = &defaults;
	ret = engine_client_conf_check(sh, conf, &max_inflight, &home);
	if (ret == 0) {
		memset(&rq, 0, sizeof(rq));
		rq.op = IPC_ATTACH;
		rq.layout_version = tern_attach_claimed_layout_version;
		rq.max_inflight = max_inflight;
		rq.flags = conf->flags;
		rq.home = home;
		ret = ipc_call(sh, &rq, &slot);
	}
	if (ret != 0) {
		rte_errno = -ret;
		return NULL;
	}
	c = engine_client_handle_open(sh, NULL, slot, conf, max_inflight);
	if (c == NULL) {
		ret = rte_errno;
		detach_slot(sh, slot);
		rte_errno = ret;
		return NULL;
	}
	c->detach = detach_slot;
	return c;
}

void *
tern_client_shm_alloc(struct tern_client *c, const char *name, uint64_t length, uint32_t *handle)
{
	struct tern_segment_info info;
	struct ipc_request rq;
	uint32_t h;
	int ret;

	if (c == NULL || c->magic != CLIENT_MAGIC || c->state != HANDLE_LIVE || name == NULL ||
	    handle == NULL || length == 0 || strnlen(name, TERN_SEGMENT_NAME_MAX) == 0 ||
	    strnlen(name, TERN_SEGMENT_NAME_MAX) == TERN_SEGMENT_NAME_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	if (c->engine != NULL) {
		ret = shm_alloc(c->sh, c->slot, name, length, &h);
	} else {
		memset(&rq, 0, sizeof(rq));
		rq.op = IPC_SHM_ALLOC;
		rq.slot = c->slot;
		rq.length = length;
		snprintf(rq.name, sizeof(rq.name), "%s", name);
		ret = ipc_call(c->sh, &rq, &h);
	}
	if (ret == 0)
		ret = tern_segment_info(c->sh->segments, h, &info);
	if (ret != 0) {
		rte_errno = -ret;
		return NULL;
	}
	*handle = h;
	return info.addr;
}

int
tern_client_shm_free(struct tern_client *c, uint32_t handle)
{
	struct ipc_request rq;

	if (c == NULL || c->magic != CLIENT_MAGIC || c->state != HANDLE_LIVE)
		return -EINVAL;
	if (c->engine != NULL)
		return shm_free(c->sh, c->slot, handle);
	memset(&rq, 0, sizeof(rq));
	rq.op = IPC_SHM_FREE;
	rq.slot = c->slot;
	rq.handle = handle;
	return ipc_call(c->sh, &rq, NULL);
}

/* ---- clients whose process died ---- */

static void
liveness_check(void *arg)
{
	struct tern_engine *e = arg;
	struct engine_shared *sh = e->sh;
	int32_t self = getpid();
	uint32_t slot;

	for (slot = 0; slot < sh->max_clients; slot++) {
		struct client_slot *cs = &sh->clients[slot];
		uint32_t state = __atomic_load_n(&cs->state, __ATOMIC_ACQUIRE);

		if (state == CLIENT_SLOT_ACTIVE && cs->pid != self && kill(cs->pid, 0) != 0 &&
		    errno == ESRCH) {
			ENGINE_LOG(WARNING, "client slot %u: process %d died; reclaiming", slot,
				   (int)cs->pid);
			engine_slot_close(sh, slot, CLIENT_SLOT_DEAD);
			state = CLIENT_SLOT_DEAD;
		}
		if (state == CLIENT_SLOT_DEAD || state == CLIENT_SLOT_CLOSING)
			engine_slot_reclaim(sh, slot, false);
	}
	if (e->state == HANDLE_LIVE && __atomic_load_n(&sh->phase, __ATOMIC_ACQUIRE) == PHASE_RUN)
		rte_eal_alarm_set(LIVENESS_PERIOD_US, liveness_check, e);
}

static int
action_names(const struct engine_shared *sh, char names[3][RTE_MP_MAX_NAME_LEN])
{
	snprintf(names[0], RTE_MP_MAX_NAME_LEN, "%s%s", MSG_ATTACH, sh->name);
	snprintf(names[1], RTE_MP_MAX_NAME_LEN, "%s%s", MSG_DETACH, sh->name);
	snprintf(names[2], RTE_MP_MAX_NAME_LEN, "%s%s", MSG_SHM, sh->name);
	return 3;
}

int
engine_attach_init(struct tern_engine *e)
{
	char names[3][RTE_MP_MAX_NAME_LEN];
	int i, n = action_names(e->sh, names);

	for (i = 0; i < n; i++)
		if (rte_mp_action_register(names[i], ipc_action) != 0 && rte_errno != ENOTSUP) {
			while (i-- > 0)
				rte_mp_action_unregister(names[i]);
			return -rte_errno;
		}
	return rte_eal_alarm_set(LIVENESS_PERIOD_US, liveness_check, e);
}

void
engine_attach_fini(struct tern_engine *e)
{
	char names[3][RTE_MP_MAX_NAME_LEN];
	int i, n = action_names(e->sh, names);

	rte_eal_alarm_cancel(liveness_check, e);
	for (i = 0; i < n; i++)
		rte_mp_action_unregister(names[i]);
}
