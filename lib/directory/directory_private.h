/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_DIRECTORY_PRIVATE_H
#define TERN_DIRECTORY_PRIVATE_H

/* Shared between the directory's front end (directory.c) and its backends. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_log.h>

#include "tern_directory.h"

extern int directory_logtype;
#define DIR_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, directory_logtype, "tern_directory: " fmt "\n", ##__VA_ARGS__)

#define DIR_ENDPOINT_MAX 8   /* host:port pairs in one URI */
#define DIR_HOST_MAX	 256 /* host name, including the NUL */
#define DIR_PREFIX_MAX	 128 /* key prefix, including the NUL */
#define DIR_PUBLISH_MAX	 TERN_SEGMENT_MAX
#define DIR_CACHE_MAX	 256		  /* cached lookups per handle */
#define DIR_LIST_MAX	 TERN_SEGMENT_MAX /* entries one list request may return */
/* Key: <prefix>/<node>/<segment> (etcd adds a leading '/'). */
#define DIR_KEY_MAX (DIR_PREFIX_MAX + 2 * TERN_DESCRIPTOR_NAME_MAX + 4)

struct dir_endpoint {
	char host[DIR_HOST_MAX]; /* name or address, IPv6 without brackets */
	uint16_t port;
};

/* One descriptor kept as its encoding: published here, or a cached lookup. */
struct dir_entry {
	char node[TERN_DESCRIPTOR_NAME_MAX];
	char segment[TERN_DESCRIPTOR_NAME_MAX];
	char *json; /* NUL-terminated encoding, malloc'd */
	size_t len;
	uint64_t stamp_ns; /* cache: when it was fetched */
};

/* Called by a backend's list() for each entry found: the segment its key
 * names (NULL when the backend has no keys) and its encoding, unvalidated. */
typedef int (*dir_list_cb)(void *arg, const char *segment, const char *json, size_t len);

struct tern_directory;

/* A backend. NULL callbacks mean "nothing to do" (p2p's put, del, keepalive). */
struct dir_backend_ops {
	const char *scheme;
	unsigned int max_endpoints;
	bool needs_prefix;
	bool port_zero_ok;
	int (*init)(struct tern_directory *dir);
	/* Withdraw what was published and free the backend's state. */
	void (*fini)(struct tern_directory *dir);
	int (*put)(struct tern_directory *dir, const struct dir_entry *e);
	int (*del)(struct tern_directory *dir, const char *node, const char *segment);
	/* 0 with a malloc'd NUL-terminated *json, -ENOENT, or another negative errno. */
	int (*get)(struct tern_directory *dir, const char *node, const char *segment, char **json,
		   size_t *len);
	int (*list)(struct tern_directory *dir, const char *node, dir_list_cb cb, void *arg);
	int (*keepalive)(struct tern_directory *dir);
};

struct dir_p2p_server;

struct tern_directory {
	const struct dir_backend_ops *ops;
	struct tern_directory_conf conf;
	struct dir_endpoint ep[DIR_ENDPOINT_MAX];
	unsigned int nb_ep;
	char prefix[DIR_PREFIX_MAX]; /* without leading or trailing '/' */
	pthread_mutex_t lock;	     /* backend state and the cache */
	pthread_mutex_t pub_lock;    /* published[], also read by the p2p server */
	struct dir_entry *published;
	unsigned int nb_published;
	struct dir_entry *cache;
	unsigned int nb_cache;
	void *backend; /* the backend's own state */
	struct dir_p2p_server *server;
};

extern const struct dir_backend_ops dir_p2p_ops;
extern const struct dir_backend_ops dir_etcd_ops;
extern const struct dir_backend_ops dir_redis_ops;

/* "<prefix>/<node>/<segment>" (or "<prefix>/<node>/" when segment is NULL). */
int dir_key(const struct tern_directory *dir, const char *node, const char *segment, char *buf,
	    size_t len);

/* Copies of published entries, for a backend rewriting them (keepalive, new
 * lease). Returns the count (entries to free with dir_entries_free()) or a
 * negative errno. */
int dir_published_snapshot(struct tern_directory *dir, struct dir_entry **entries);
void dir_entries_free(struct dir_entry *entries, unsigned int n);

/* Answers a p2p request frame payload from the published table: a malloc'd
 * response payload in *resp, or a negative errno for a request not worth an
 * answer (the server then closes the connection). */
int dir_p2p_answer(struct tern_directory *dir, const char *req, size_t len, char **resp,
		   size_t *resp_len);

void dir_p2p_server_stop(struct tern_directory *dir);

uint64_t dir_now_ns(void);

#endif /* TERN_DIRECTORY_PRIVATE_H */
