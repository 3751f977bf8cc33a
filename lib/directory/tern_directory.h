/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_DIRECTORY_H
#define TERN_DIRECTORY_H

/**
 * @file
 * The segment directory: how an engine finds the segments its peers export.
 *
 * A directory stores descriptors (tern_descriptor.h, included here). One
 * interface, backends chosen by URI:
 *
 * - `p2p://host:port`: no central service; the exporting dataplane serves its
 *   own descriptors on a TCP control port (tern_directory_p2p_serve()) and an
 *   initiator asks it directly. A p2p handle is one peer's view.
 * - `etcd://host:port[,host:port...]/prefix`: etcd v3 through its JSON
 *   gateway; a node's descriptors live under a lease that
 *   tern_directory_keepalive() renews, so they vanish when the node dies.
 * - `redis://host:port/prefix`: Redis; keys expire unless refreshed by
 *   tern_directory_keepalive().
 *
 * Lookups are cached with a bounded staleness (conf.cache_ms): a cached
 * descriptor is served for at most that long, then fetched again; one whose
 * backing entry has vanished then fails with -ESTALE. Nothing here belongs on
 * the data path. A directory handle may be used from several threads (calls
 * are serialised inside).
 *
 * Errors. Constructors return NULL and set rte_errno; the other calls return
 * 0 (or a count) or a negative errno. Calls that reach the backend may also
 * fail with one of these *backend errors*:
 * - -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT (no answer within
 *   conf.timeout_ms), -ECONNRESET, -EPIPE: the backend is down, unreachable
 *   or hung up; p2p passes on any other connect(), send() or recv() errno
 *   (e.g. -ENETUNREACH, -EMFILE);
 * - -EIO: etcd or Redis refused the request (HTTP status, Redis error reply);
 * - -EPROTO: an answer the backend should not have sent (malformed, wrong
 *   type, unknown p2p status or version);
 * - -EMSGSIZE: an answer over its size bound (etcd 8 MiB, p2p 4 MiB; a p2p
 *   peer also says so when its listing would exceed 4 MiB);
 * - -ENOMEM.
 */

#include <stddef.h>
#include <stdint.h>

#include <tern_descriptor.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque directory handle. */
struct tern_directory;

/** Tunables of a directory handle; zero fields take the defaults. */
struct tern_directory_conf {
	uint32_t ttl_s; /**< life of published entries without keepalive (default 10, max 86400) */
	uint32_t cache_ms;   /**< longest a cached lookup is served (default 1000, max 3600000) */
	uint32_t timeout_ms; /**< bound on one backend request (default 2000, max 3600000) */
};

/**
 * Open a directory. The URI is parsed strictly (scheme, host, port 0..65535
 * in decimal, prefix charset [A-Za-z0-9_.-] in '/'-separated parts; no user
 * information, query or fragment). Opening does not touch the network: the
 * first request does.
 *
 * @param uri  e.g. "etcd://10.0.0.1:2379,10.0.0.2:2379/tern" (doc/directory.md)
 * @param conf NULL for the defaults
 * @return the handle, or NULL with rte_errno set: EINVAL (@p uri NULL,
 *         malformed or 4096 bytes or longer, a @p conf field above its
 *         maximum), ENOTSUP (well-formed but unknown scheme), ENOMEM.
 */
struct tern_directory *tern_directory_open(const char *uri, const struct tern_directory_conf *conf);

/**
 * Close a handle: stop its p2p server, withdraw what it published (etcd:
 * revoke the lease; redis: delete the keys), free it. Withdrawal is best
 * effort: what an unreachable backend keeps expires after conf.ttl_s. NULL
 * is ignored.
 */
void tern_directory_close(struct tern_directory *dir);

/**
 * Publish (or replace) a descriptor. The handle remembers it: keepalive
 * refreshes it, a p2p server serves it, close withdraws it.
 *
 * @return 0; -EINVAL (@p dir or @p d NULL, @p d invalid or encoding to more
 *         than TERN_DESCRIPTOR_WIRE_MAX bytes); -ENOSPC (TERN_SEGMENT_MAX
 *         already published and @p d replaces none of them); -ENOLINK (etcd:
 *         the lease expired again while being replaced; call again); backend
 *         errors. On error the handle does not remember @p d (a backend that
 *         timed out may still have stored it; it then expires after conf.ttl_s).
 */
int tern_directory_publish(struct tern_directory *dir, const struct tern_descriptor *d);

/**
 * Withdraw a descriptor published through this handle. The handle forgets it
 * even when the backend cannot be told (then it expires after conf.ttl_s).
 *
 * @return 0; -EINVAL (@p dir NULL, invalid name); -ENOENT (not published
 *         here); backend errors (etcd, redis; p2p has none).
 */
int tern_directory_unpublish(struct tern_directory *dir, const char *node, const char *segment);

/**
 * Resolve @p node / @p segment. Served from the cache while the cached copy
 * is younger than conf.cache_ms; fetched otherwise.
 *
 * @param out filled on success (release with tern_descriptor_fini())
 * @return 0; -EINVAL (@p dir or @p out NULL, invalid name, a p2p handle
 *         opened with port 0, which can only serve); -ENOENT (no such
 *         descriptor); -ESTALE (it was cached and has vanished since: the peer
 *         withdrew it or died; the next lookup says -ENOENT); -EPROTO (the
 *         backend returned a descriptor that fails validation or names
 *         another segment); backend errors.
 */
int tern_directory_lookup(struct tern_directory *dir, const char *node, const char *segment,
			  struct tern_descriptor *out);

/**
 * Revalidate a descriptor obtained earlier, bypassing the cache: is it still
 * published, unchanged? Call before trusting an import for long.
 *
 * @return 0 (still valid); -ESTALE (withdrawn, expired or replaced, or the
 *         backend's answer fails validation: what would be -EPROTO
 *         elsewhere); -EINVAL (@p dir or @p d NULL, invalid name, p2p port 0
 *         as lookup); other backend errors (the backend could not say: the
 *         caller decides how long to trust @p d).
 */
int tern_directory_check(struct tern_directory *dir, const struct tern_descriptor *d);

/**
 * List the descriptors @p node publishes (bypasses the cache).
 *
 * @param out room for @p max descriptors; the first min(count, max) are
 *            filled (release each with tern_descriptor_fini())
 * @return how many the node publishes (may exceed @p max); -EINVAL (@p dir
 *         NULL, @p out NULL with @p max > 0, invalid name, p2p port 0 as
 *         lookup); -E2BIG (more than TERN_SEGMENT_MAX entries, or a Redis
 *         SCAN that does not end); backend errors. Entries failing validation
 *         are skipped and logged. On error nothing is left in @p out.
 */
int tern_directory_list(struct tern_directory *dir, const char *node, struct tern_descriptor *out,
			unsigned int max);

/**
 * Keep this handle's entries alive: etcd renews the lease (granting a new one
 * and writing everything again if it expired), redis rewrites the keys with a
 * fresh expiry, p2p does nothing. Call at least every conf.ttl_s / 3 seconds.
 *
 * @return 0; -EINVAL (@p dir NULL); -ENOLINK (etcd: the new lease expired
 *         again while entries were written under it; call again); backend
 *         errors.
 */
int tern_directory_keepalive(struct tern_directory *dir);

/** tern_directory_p2p_serve() flag: answer from a thread of the directory's own. */
#define TERN_DIRECTORY_P2P_THREAD (1u << 0)

/**
 * Serve this handle's published descriptors on the URI's address (a
 * p2p:// handle only; port 0 picks a free port, see tern_directory_p2p_port()).
 * Requests are length-prefixed JSON frames (see doc/directory.md), strictly
 * bounded; a malformed frame closes that connection and nothing else.
 *
 * @param flags 0 (the caller runs tern_directory_p2p_poll() from its control
 *              thread) or TERN_DIRECTORY_P2P_THREAD
 * @return 0; -EINVAL (@p dir NULL, not a p2p handle, unknown @p flags);
 *         -EALREADY (already serving); -EADDRNOTAVAIL (the host does not
 *         resolve or is not local); -EADDRINUSE, -EACCES and other socket(),
 *         bind() or listen() errnos; -EAGAIN (no thread could be started);
 *         -ENOMEM.
 */
int tern_directory_p2p_serve(struct tern_directory *dir, unsigned int flags);

/**
 * Serve pending p2p connections: accept, read, answer. Never blocks longer
 * than @p timeout_ms (0: do what is ready and return).
 *
 * @return requests answered; -EINVAL (@p dir NULL, negative @p timeout_ms,
 *         not serving, or served by a thread); -ENOMEM (poll() could not
 *         allocate). A broken connection is closed, not reported.
 */
int tern_directory_p2p_poll(struct tern_directory *dir, int timeout_ms);

/**
 * The TCP port a serving p2p handle listens on (the one picked for port 0).
 *
 * @return the port; -EINVAL (@p dir NULL, or not serving).
 */
int tern_directory_p2p_port(const struct tern_directory *dir);

/* ---- calls between peers over the p2p channel (lib/store's owners) ---- */

/** Largest message of a p2p call, each way. */
#define TERN_DIRECTORY_P2P_MSG_MAX 256

/**
 * Answers a p2p call (tern_directory_p2p_call()) on the serving peer.
 *
 * @param arg what tern_directory_p2p_set_handler() was given
 * @param node the node named in the call (a valid descriptor name)
 * @param segment the segment named in the call (a valid descriptor name)
 * @param req the request, 1..TERN_DIRECTORY_P2P_MSG_MAX bytes of @p len
 * @param rep where the answer goes, room for TERN_DIRECTORY_P2P_MSG_MAX bytes
 * @return the answer's length (1..TERN_DIRECTORY_P2P_MSG_MAX); -ENOENT (not
 *         this node's or segment's: the caller sees -ENOENT).
 */
typedef int (*tern_directory_p2p_handler_fn)(void *arg, const char *node, const char *segment,
					     const uint8_t *req, size_t len, uint8_t *rep);

/**
 * Make a serving p2p handle answer calls with @p fn (run in the thread that
 * serves: the directory's own, or the one calling tern_directory_p2p_poll()).
 * Without a handler a call is answered -ENOENT.
 *
 * @param dir a p2p handle
 * @param fn the handler, or NULL to remove it
 * @param arg passed to @p fn
 * @return 0; -EINVAL (@p dir NULL, not a p2p handle).
 */
int tern_directory_p2p_set_handler(struct tern_directory *dir, tern_directory_p2p_handler_fn fn,
				   void *arg);

/**
 * One call to the peer a p2p handle names: @p req to its handler for
 * @p node / @p segment, its answer in @p rep. Bounded by conf.timeout_ms.
 * On the wire: a request frame
 * `{"v":1,"op":"call","node":N,"segment":S,"msg":"<hex>"}`, an answer
 * `{"v":1,"status":0,"msg":"<hex>"}` (lower-case hex, 2..512 digits), both
 * parsed strictly (doc/directory.md).
 *
 * @param dir a p2p handle
 * @param node, segment valid descriptor names
 * @param req the request, 1..TERN_DIRECTORY_P2P_MSG_MAX bytes of @p len
 * @param rep room for TERN_DIRECTORY_P2P_MSG_MAX bytes
 * @param rep_len the answer's length
 * @return 0; -EINVAL (NULL arguments, invalid names, @p len out of range,
 *         not a p2p handle); -ENOENT (the peer has no handler, or not for
 *         these names); -EPROTO (a malformed answer); -ECONNREFUSED,
 *         -ETIMEDOUT and the other connection errors of a p2p request.
 */
int tern_directory_p2p_call(struct tern_directory *dir, const char *node, const char *segment,
			    const uint8_t *req, size_t len, uint8_t *rep, size_t *rep_len);

/* ---- a small key-value space beside the descriptors (lib/store's records) ---- */

/** Longest key of the key-value space, including the NUL. */
#define TERN_DIRECTORY_KV_KEY_MAX 256
/** Largest value of the key-value space. */
#define TERN_DIRECTORY_KV_VALUE_MAX 4096
/** tern_directory_kv_put() flag: store only if the key does not exist. */
#define TERN_DIRECTORY_KV_CREATE (1u << 0)

/**
 * Store @p len bytes under @p key in the backend's key-value space
 * (etcd: "/<prefix>/~kv/<key>", Redis: "<prefix>/~kv/<key>"; never expiring,
 * apart from the descriptors). Keys are 1..TERN_DIRECTORY_KV_KEY_MAX - 1
 * bytes of printable ASCII 0x21..0x7e. With TERN_DIRECTORY_KV_CREATE the
 * write is atomic in the backend (etcd: a transaction on the key's create
 * revision; Redis: SET NX): of concurrent creators exactly one succeeds.
 *
 * @return 0; -EEXIST (CREATE and the key exists); -EINVAL (NULL argument,
 *         bad key, @p len 0 or above TERN_DIRECTORY_KV_VALUE_MAX, a NUL byte
 *         in the value, unknown flag); -ENOTSUP (p2p: no key-value space); backend errors.
 */
int tern_directory_kv_put(struct tern_directory *dir, const char *key, const void *value,
			  size_t len, unsigned int flags);

/** Keys of one tern_directory_kv_put_n(). */
#define TERN_DIRECTORY_KV_BATCH_MAX 256

/**
 * tern_directory_kv_put() of @p n keys in as few requests as the backend
 * allows: Redis pipelines them (one round trip, one result per key); etcd
 * sends the creates as one transaction per 64 keys (all its compares must
 * hold: if one key exists, that transaction changes nothing and its keys
 * are created one by one, for exact results). Each key's result in
 * @p results (as tern_directory_kv_put()'s). Not atomic across keys.
 *
 * @return 0 (see @p results); -EINVAL (NULL argument, @p n 0 or above
 *         TERN_DIRECTORY_KV_BATCH_MAX, any bad key or value, unknown flag:
 *         nothing sent); -ENOTSUP (p2p).
 */
int tern_directory_kv_put_n(struct tern_directory *dir, unsigned int n, const char *const *keys,
			    const void *const *values, const size_t *lens, unsigned int flags,
			    int *results);

/**
 * Replace a key's value only if it is still @p expect (@p elen bytes):
 * atomic in the backend (Redis: a script comparing the value; etcd: a
 * transaction comparing it). Of concurrent swaps from one value exactly one
 * succeeds; a swap that is delivered late finds the value changed and
 * changes nothing.
 *
 * @return 0; -ESTALE (the value is not @p expect, or the key is absent);
 *         -EINVAL (as tern_directory_kv_put(), for @p expect too);
 *         -ENOTSUP (p2p); backend errors.
 */
int tern_directory_kv_swap(struct tern_directory *dir, const char *key, const void *expect,
			   size_t elen, const void *value, size_t len);

/**
 * Read a key's value into @p value (room for @p max bytes).
 *
 * @param[out] len the value's length (also when it does not fit)
 * @return 0; -ENOENT; -ENOSPC (@p max too small: *len says how much is
 *         needed); -EINVAL; -ENOTSUP (p2p); backend errors.
 */
int tern_directory_kv_get(struct tern_directory *dir, const char *key, void *value, size_t max,
			  size_t *len);

/**
 * tern_directory_kv_get() of @p n keys in as few requests as the backend
 * allows: Redis one MGET, etcd one transaction of range requests per 64
 * keys. Each value goes to @p values[i] (room for @p max bytes; @p values[i]
 * may be NULL when @p max is 0), its length to @p lens[i] (also when it
 * does not fit), its result to @p results[i] (as tern_directory_kv_get()'s:
 * 0, -ENOENT, -ENOSPC, or the request's error, the same for every key of
 * a request that failed; -EPROTO for all of them when the answer is
 * malformed). Values read by one request are from one instant of the
 * backend (a Redis MGET, an etcd transaction); different requests are not.
 *
 * @return 0 (see @p results); -EINVAL (NULL argument, @p n 0 or above
 *         TERN_DIRECTORY_KV_BATCH_MAX, any bad key, a NULL value buffer
 *         with @p max > 0: nothing sent); -ENOTSUP (p2p).
 */
int tern_directory_kv_get_n(struct tern_directory *dir, unsigned int n, const char *const *keys,
			    void *const *values, size_t max, size_t *lens, int *results);

/**
 * Delete a key.
 * @return 0; -ENOENT (no such key); -EINVAL; -ENOTSUP (p2p); backend errors.
 */
int tern_directory_kv_del(struct tern_directory *dir, const char *key);

/** tern_directory_kv_list() callback; a non-zero return stops the walk and is returned. */
typedef int (*tern_directory_kv_cb)(void *arg, const char *key, const void *value, size_t len);

/**
 * Call @p cb for each key starting with @p prefix ("" for all), in no
 * particular order; @p cb must not call the directory.
 *
 * @return keys listed; the callback's non-zero value; -EINVAL (NULL
 *         argument, prefix with a refused byte or too long); -ENOTSUP (p2p);
 *         -E2BIG (a Redis SCAN that does not end); backend errors
 *         (-EMSGSIZE: an etcd answer over 8 MiB).
 */
int tern_directory_kv_list(struct tern_directory *dir, const char *prefix, tern_directory_kv_cb cb,
			   void *arg);

#ifdef __cplusplus
}
#endif

#endif /* TERN_DIRECTORY_H */
