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
	uint32_t ttl_s;	     /**< life of published entries without keepalive (default 10) */
	uint32_t cache_ms;   /**< longest a cached lookup is served (default 1000) */
	uint32_t timeout_ms; /**< bound on one backend request (default 2000) */
};

/**
 * Open a directory. The URI is parsed strictly (scheme, host, port 0..65535
 * in decimal, prefix charset [A-Za-z0-9_.-] in '/'-separated parts; no user
 * information, query or fragment). Opening does not touch the network: the
 * first request does.
 *
 * @param conf NULL for the defaults
 * @return the handle, or NULL with rte_errno set: EINVAL (malformed URI or
 *         conf), ENOTSUP (unknown scheme), ENOMEM.
 */
struct tern_directory *tern_directory_open(const char *uri, const struct tern_directory_conf *conf);

/**
 * Close a handle: stop its p2p server, withdraw what it published (etcd:
 * revoke the lease; redis: delete the keys), free it.
 */
void tern_directory_close(struct tern_directory *dir);

/**
 * Publish (or replace) a descriptor. The handle remembers it: keepalive
 * refreshes it, a p2p server serves it, close withdraws it.
 *
 * @return 0; -EINVAL (invalid descriptor); -ENOSPC (too many published);
 *         -ENOMEM; backend errors: -ECONNREFUSED, -ETIMEDOUT, -EIO, -EPROTO
 *         (a reply the backend should not have sent).
 */
int tern_directory_publish(struct tern_directory *dir, const struct tern_descriptor *d);

/**
 * Withdraw a descriptor published through this handle.
 *
 * @return 0; -EINVAL; -ENOENT (not published here); backend errors as publish.
 */
int tern_directory_unpublish(struct tern_directory *dir, const char *node, const char *segment);

/**
 * Resolve @p node / @p segment. Served from the cache while the cached copy
 * is younger than conf.cache_ms; fetched otherwise.
 *
 * @param out filled on success (release with tern_descriptor_fini())
 * @return 0; -EINVAL; -ENOENT (no such descriptor); -ESTALE (it was cached
 *         and has vanished since: the peer withdrew it or died); -EPROTO (the
 *         backend returned a descriptor that fails validation or names
 *         another segment); backend errors as publish.
 */
int tern_directory_lookup(struct tern_directory *dir, const char *node, const char *segment,
			  struct tern_descriptor *out);

/**
 * Revalidate a descriptor obtained earlier, bypassing the cache: is it still
 * published, unchanged? Call before trusting an import for long.
 *
 * @return 0 (still valid); -ESTALE (withdrawn, expired or replaced);
 *         -EINVAL; backend errors as publish.
 */
int tern_directory_check(struct tern_directory *dir, const struct tern_descriptor *d);

/**
 * List the descriptors @p node publishes (bypasses the cache).
 *
 * @param out room for @p max descriptors; the first min(count, max) are
 *            filled (release each with tern_descriptor_fini())
 * @return how many the node publishes (may exceed @p max); -EINVAL; backend
 *         errors as publish. Entries failing validation are skipped and logged.
 */
int tern_directory_list(struct tern_directory *dir, const char *node, struct tern_descriptor *out,
			unsigned int max);

/**
 * Keep this handle's entries alive: etcd renews the lease (granting a new one
 * and writing everything again if it expired), redis rewrites the keys with a
 * fresh expiry, p2p does nothing. Call at least every conf.ttl_s / 3 seconds.
 *
 * @return 0; backend errors as publish.
 */
int tern_directory_keepalive(struct tern_directory *dir);

/** tern_directory_p2p_serve(): answer from a thread of the directory's own. */
#define TERN_DIRECTORY_P2P_THREAD (1u << 0)

/**
 * Serve this handle's published descriptors on the URI's address (a
 * p2p:// handle only; port 0 picks a free port, see tern_directory_p2p_port()).
 * Requests are length-prefixed JSON frames (see doc/directory.md), strictly
 * bounded; a malformed frame closes that connection and nothing else.
 *
 * @param flags 0 (the caller runs tern_directory_p2p_poll() from its control
 *              thread) or TERN_DIRECTORY_P2P_THREAD
 * @return 0; -EINVAL (not p2p); -EALREADY (already serving); -EADDRINUSE,
 *         -EADDRNOTAVAIL and other socket errors; -ENOMEM.
 */
int tern_directory_p2p_serve(struct tern_directory *dir, unsigned int flags);

/**
 * Serve pending p2p connections: accept, read, answer. Never blocks longer
 * than @p timeout_ms (0: do what is ready and return).
 *
 * @return requests answered; -EINVAL (not serving, or served by a thread).
 */
int tern_directory_p2p_poll(struct tern_directory *dir, int timeout_ms);

/** @return the TCP port a serving p2p handle listens on; -EINVAL if not serving. */
int tern_directory_p2p_port(const struct tern_directory *dir);

#ifdef __cplusplus
}
#endif

#endif /* TERN_DIRECTORY_H */
