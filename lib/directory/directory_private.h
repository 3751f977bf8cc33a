/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_DIRECTORY_PRIVATE_H
#define TERN_DIRECTORY_PRIVATE_H

/*
 * The backend interface of lib/directory: what a backend implements (struct
 * directory_backend_ops) and what it may call (backend.c). Layers, each
 * calling only those below it (tests/layers/check_layers.py checks this):
 *
 *   directory.c            the front: URIs, published table, cache, public calls
 *   registry.c             the backend table: scheme -> ops
 *   p2p.c etcd.c redis.c   backends
 *   backend.c              helpers for the front and the backends
 *   descriptor.c           the descriptor codec (tern_descriptor.h)
 *
 * directory.c reaches a backend only through dir->ops.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_log.h>

#include <tern_time.h>

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

struct directory_endpoint {
	char host[DIR_HOST_MAX]; /* name or address, IPv6 without brackets */
	uint16_t port;
};

/* One descriptor kept as its encoding: published here, or a cached lookup. */
struct directory_entry {
	char node[TERN_DESCRIPTOR_NAME_MAX];
	char segment[TERN_DESCRIPTOR_NAME_MAX];
	char *json; /* NUL-terminated encoding, malloc'd */
	size_t len;
	uint64_t stamp_ns; /* cache: when it was fetched */
};

/* Called by a backend's list() for each entry found: the segment its key
 * names (NULL when the backend has no keys) and its encoding, unvalidated. */
typedef int (*directory_list_cb)(void *arg, const char *segment, const char *json, size_t len);

struct tern_directory;

/*
 * A backend. NULL callbacks mean "nothing to do" (p2p's put, del, keepalive)
 * or, for the serve_* group, "this backend does not serve peers" (the public
 * tern_directory_p2p_*() calls then fail with -EINVAL). get, list and the
 * publishing calls run under dir->lock; the serve_* calls do not.
 */
struct directory_backend_ops {
	const char *scheme;
	unsigned int max_endpoints;
	bool needs_prefix;
	bool port_zero_ok;
	int (*init)(struct tern_directory *dir);
	/* Withdraw what was published and free the backend's state. */
	void (*fini)(struct tern_directory *dir);
	int (*put)(struct tern_directory *dir, const struct directory_entry *e);
	int (*del)(struct tern_directory *dir, const char *node, const char *segment);
	/* 0 with a malloc'd NUL-terminated *json, -ENOENT, or another negative errno. */
	int (*get)(struct tern_directory *dir, const char *node, const char *segment, char **json,
		   size_t *len);
	int (*list)(struct tern_directory *dir, const char *node, directory_list_cb cb, void *arg);
	int (*keepalive)(struct tern_directory *dir);
	/* Answer peers from the published table (flags: TERN_DIRECTORY_P2P_*,
	 * already checked); -EALREADY when serving. */
	int (*serve)(struct tern_directory *dir, unsigned int flags);
	/* One round of serving, at most timeout_ms (>= 0) long; -EINVAL when
	 * not serving or when a thread serves. */
	int (*serve_poll)(struct tern_directory *dir, int timeout_ms);
	/* The port served; -EINVAL when not serving. */
	int (*serve_port)(const struct tern_directory *dir);
	/* Stop serving (nothing when not serving); close calls it before fini. */
	void (*serve_stop)(struct tern_directory *dir);
	/* One call to the peer (tern_directory_p2p_call(), arguments checked;
	 * NULL: -EINVAL). Not under dir->lock. */
	int (*call)(struct tern_directory *dir, const char *node, const char *segment,
		    const uint8_t *req, size_t len, uint8_t *rep, size_t *rep_len);
	/* The key-value space (NULL: -ENOTSUP). Keys are full backend keys
	 * (directory_kv_key()); run under dir->lock. */
	int (*kv_put)(struct tern_directory *dir, const char *key, size_t klen, const void *value,
		      size_t len, bool create);
	/* 0 with a malloc'd copy of the value, -ENOENT, or an error. */
	int (*kv_get)(struct tern_directory *dir, const char *key, size_t klen, char **value,
		      size_t *len);
	int (*kv_del)(struct tern_directory *dir, const char *key, size_t klen);
	/* Several puts at once (NULL: one kv_put each); keys full backend keys,
	 * each result set. */
	void (*kv_put_n)(struct tern_directory *dir, unsigned int n, const char *const *keys,
			 const size_t *klens, const void *const *values, const size_t *lens,
			 bool create, int *results);
	/* Write @value only if the key holds @expect: 0, -ESTALE (NULL: -ENOTSUP). */
	int (*kv_swap)(struct tern_directory *dir, const char *key, size_t klen, const void *expect,
		       size_t elen, const void *value, size_t len);
	/* Several gets at once (NULL: one kv_get each); keys full backend keys;
	 * each result set, each value of a 0 result a malloc'd copy. */
	void (*kv_get_n)(struct tern_directory *dir, unsigned int n, const char *const *keys,
			 const size_t *klens, char **values, size_t *lens, int *results);
	/* cb gets each key minus the first @p skip bytes (the "<prefix>/~kv/"). */
	int (*kv_list)(struct tern_directory *dir, const char *prefix, size_t plen, size_t skip,
		       directory_list_cb cb, void *arg);
};

struct tern_directory {
	const struct directory_backend_ops *ops;
	struct tern_directory_conf conf;
	struct directory_endpoint ep[DIR_ENDPOINT_MAX];
	unsigned int nb_ep;
	char prefix[DIR_PREFIX_MAX]; /* without leading or trailing '/' */
	pthread_mutex_t lock;	     /* backend state and the cache */
	pthread_mutex_t pub_lock;    /* published[], also read by a serving backend */
	struct directory_entry *published;
	unsigned int nb_published;
	struct directory_entry *cache;
	unsigned int nb_cache;
	void *backend; /* the backend's own state */
	void *server;  /* the backend's serving state (serve .. serve_stop), or NULL */
	/* p2p calls' handler (under pub_lock): tern_directory_p2p_set_handler(). */
	tern_directory_p2p_handler_fn handler;
	void *handler_arg;
};

/* ---- registry.c: the backend table ---- */

/* The backend whose scheme is the @p len bytes at @p scheme, or NULL. */
const struct directory_backend_ops *directory_backend_find(const char *scheme, size_t len);

/* ---- the backends, listed in registry.c's table only ---- */

extern const struct directory_backend_ops directory_p2p_ops;
extern const struct directory_backend_ops directory_etcd_ops;
extern const struct directory_backend_ops directory_redis_ops;

/* ---- backend.c: helpers for the front and the backends ---- */

/* "<prefix>/<node>/<segment>" (or "<prefix>/<node>/" when segment is NULL).
 * Returns the length, or -ENAMETOOLONG. */
int directory_key(const struct tern_directory *dir, const char *node, const char *segment,
		  char *buf, size_t len);

/* Key-value space: "<prefix>/~kv/<key>" ('~' is in no node name, so no
 * descriptor key collides). Returns the length, or -ENAMETOOLONG. */
#define DIR_KV_KEY_MAX (DIR_PREFIX_MAX + 5 + TERN_DIRECTORY_KV_KEY_MAX)
int directory_kv_key(const struct tern_directory *dir, const char *key, char *buf, size_t len);

/* Make @p e hold a copy of @p json (freeing what it held), stamped now. */
int directory_entry_fill(struct directory_entry *e, const char *node, const char *segment,
			 const char *json, size_t len);

/* Copies of published entries, for a backend rewriting them (keepalive, new
 * lease). Returns the count (entries to free with directory_entries_free())
 * or a negative errno. */
int directory_published_snapshot(struct tern_directory *dir, struct directory_entry **entries);
void directory_entries_free(struct directory_entry *entries, unsigned int n);

#endif /* TERN_DIRECTORY_PRIVATE_H */
