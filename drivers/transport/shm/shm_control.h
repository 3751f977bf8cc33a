/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_SHM_CONTROL_H
#define TERN_SHM_CONTROL_H

/**
 * @file
 * Between the two halves of the shm transport (doc/shm.md, "Files"):
 * shm_control.c (socket server, control thread, peers, descriptor export
 * and import) and shm_transport.c (the data path and the ops table). Only
 * shm_transport.c includes this: the data path calls the control side,
 * never the reverse.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <tern_segment_driver.h>

#include "shm_wire.h"

/* One connection to a peer's socket, shared by every import from it. */
struct shm_peer {
	TAILQ_ENTRY(shm_peer) next;
	uint32_t alive;	   /* atomic: 0 once the peer closed the connection (lcores read) */
	uint32_t reusable; /* atomic: 0 once a request on it failed midway (out of step) */
	uint32_t refs;	   /* imports, and importers under way (ctl_lock) */
	int fd;
	pthread_mutex_t req_lock; /* one request and its reply at a time */
	char path[SHM_PATH_MAX];
};

/* A REMOTE segment's priv: what the lcores need. Pointers to this process's
 * heap only, so the bytes may be copied from slot to slot. */
struct shm_remote {
	uint8_t *base;	       /* the mapping */
	uint64_t length;       /* the blob's length: slices stay inside */
	uint64_t map_len;      /* bytes mapped */
	struct shm_peer *peer; /* its alive flag */
};

/* The counters behind tern_shm_stats(); the data path counts failed slices. */
struct shm_stats {
	uint64_t accepted;
	uint64_t refused;
	uint64_t requests_served;
	uint64_t requests_rejected;
	uint64_t malformed;
	uint64_t peers_connected;
	uint64_t peers_lost;
	uint64_t imports;
	uint64_t import_errors;
	uint64_t releases;
	uint64_t failed_slices;
	uint64_t notifications; /* answered (target side) */
};
extern struct shm_stats shm_stats;

#define STAT_INC(field) __atomic_fetch_add(&shm_stats.field, 1, __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&shm_stats.field, __ATOMIC_RELAXED)

/* The transport's ops on the control side (struct tern_transport_ops). */
int shm_probe(void);
int shm_segment_export(const struct tern_segment *seg, void *desc, size_t desc_len);
int shm_segment_import(struct tern_segment *seg, const void *desc, size_t desc_len);
void shm_segment_release(struct tern_segment *seg);

/* Configuration through the registry (tern_transport_configure()). */
#define SHM_PARAMS "socket=<PATH> request_timeout_ms=<ms>"
struct tern_transport_env;
int shm_configure(const char *args, const struct tern_transport_env *env);
void shm_stop(void);
int shm_describe(char *buf, size_t len);

#endif /* TERN_SHM_CONTROL_H */
