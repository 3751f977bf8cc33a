/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_DIRECTORY_H
#define TERN_DIRECTORY_H

/**
 * @file
 * The segment directory: how an engine finds the segments its peers export.
 *
 * A *descriptor* says what a peer needs to reach one exported segment: the
 * node that exports it, the segment's name and size, and per transport a
 * small object of named fields (shm: file identity; tcp: address, port and
 * the remote segment id; mlx5: gid, lid, rkey, address). Descriptors travel
 * as versioned JSON and are validated field by field when decoded: whatever
 * comes from the network is never trusted. Encoding and decoding need no EAL.
 *
 * A *directory* stores descriptors. One interface, backends chosen by URI:
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

#include <tern_segment.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Wire format version written and the only one accepted. */
#define TERN_DESCRIPTOR_VERSION 1
/** Longest node or segment name, including the NUL (charset [A-Za-z0-9_.:-]). */
#define TERN_DESCRIPTOR_NAME_MAX TERN_SEGMENT_NAME_MAX
/** Longest encoded descriptor, in bytes. */
#define TERN_DESCRIPTOR_WIRE_MAX 16384
/** Most transports one descriptor may carry. */
#define TERN_DESCRIPTOR_TRANSPORT_MAX 8
/** Most fields one transport object may carry. */
#define TERN_DESCRIPTOR_FIELD_MAX 16
/** Longest transport or field name, including the NUL (charset [a-z0-9_]). */
#define TERN_DESCRIPTOR_KEY_MAX 32
/** Longest string field value, including the NUL (printable ASCII). */
#define TERN_DESCRIPTOR_STR_MAX 512
/** Largest integer a field (or the length) may hold. */
#define TERN_DESCRIPTOR_INT_MAX ((uint64_t)INT64_MAX)

/**
 * One exported segment. Initialise with tern_descriptor_init() (or get one
 * from tern_descriptor_decode() / a lookup) and release with
 * tern_descriptor_fini(). Read @c node, @c segment and @c length directly;
 * reach transport fields through the accessors.
 */
struct tern_descriptor {
	char node[TERN_DESCRIPTOR_NAME_MAX];	/**< exporting node */
	char segment[TERN_DESCRIPTOR_NAME_MAX]; /**< segment name on that node */
	uint64_t length;			/**< bytes, 1..TERN_DESCRIPTOR_INT_MAX */
	void *transports;			/**< private: transport name -> fields */
};

/**
 * Initialise a descriptor with no transports.
 *
 * @return 0; -EINVAL (NULL, bad node or segment name, length 0 or above
 *         TERN_DESCRIPTOR_INT_MAX); -ENOMEM.
 */
int tern_descriptor_init(struct tern_descriptor *d, const char *node, const char *segment,
			 uint64_t length);

/** Release what a descriptor holds (idempotent; NULL is ignored). */
void tern_descriptor_fini(struct tern_descriptor *d);

/**
 * Make @p dst an independent copy of @p src (@p dst must not hold anything).
 *
 * @return 0; -EINVAL; -ENOMEM.
 */
int tern_descriptor_copy(struct tern_descriptor *dst, const struct tern_descriptor *src);

/**
 * Set a string field of a transport, creating the transport's object if needed.
 *
 * @return 0; -EINVAL (bad transport or field name, value not printable ASCII
 *         or not shorter than TERN_DESCRIPTOR_STR_MAX); -ENOSPC (too many
 *         transports or fields); -ENOMEM.
 */
int tern_descriptor_set_str(struct tern_descriptor *d, const char *transport, const char *field,
			    const char *value);

/**
 * Set an integer field of a transport.
 *
 * @return 0; -EINVAL; -ERANGE (above TERN_DESCRIPTOR_INT_MAX); -ENOSPC; -ENOMEM.
 */
int tern_descriptor_set_u64(struct tern_descriptor *d, const char *transport, const char *field,
			    uint64_t value);

/**
 * Set a binary field (stored as lowercase hex), e.g. a GID or the blob a
 * transport's segment_export() wrote.
 *
 * @return 0; -EINVAL (also when @p len is 0 or too long for a string field:
 *         at most (TERN_DESCRIPTOR_STR_MAX - 1) / 2 bytes); -ENOSPC; -ENOMEM.
 */
int tern_descriptor_set_bytes(struct tern_descriptor *d, const char *transport, const char *field,
			      const void *buf, size_t len);

/**
 * Read a string field into @p buf (NUL-terminated).
 *
 * @return its length; -EINVAL (bad argument); -ENOENT (no such transport or
 *         field); -EPROTO (the field is not a string); -ENOBUFS (@p len too small).
 */
int tern_descriptor_get_str(const struct tern_descriptor *d, const char *transport,
			    const char *field, char *buf, size_t len);

/**
 * Read an integer field.
 *
 * @return 0; -EINVAL; -ENOENT; -EPROTO (not an integer).
 */
int tern_descriptor_get_u64(const struct tern_descriptor *d, const char *transport,
			    const char *field, uint64_t *value);

/**
 * Read a binary field written by tern_descriptor_set_bytes().
 *
 * @return the number of bytes; -EINVAL; -ENOENT; -EPROTO (not a hex string);
 *         -ENOBUFS.
 */
int tern_descriptor_get_bytes(const struct tern_descriptor *d, const char *transport,
			      const char *field, void *buf, size_t len);

/** @return 1 if the descriptor carries @p transport, else 0. */
int tern_descriptor_has_transport(const struct tern_descriptor *d, const char *transport);

/**
 * Name of the @p index-th transport (in name order).
 *
 * @return the name's length; -EINVAL; -ENOENT (@p index past the end); -ENOBUFS.
 */
int tern_descriptor_transport_name(const struct tern_descriptor *d, unsigned int index, char *buf,
				   size_t len);

/**
 * Remove a transport and its fields.
 *
 * @return 0; -EINVAL; -ENOENT.
 */
int tern_descriptor_remove_transport(struct tern_descriptor *d, const char *transport);

/** @return 1 if both descriptors say exactly the same thing, else 0. */
int tern_descriptor_equal(const struct tern_descriptor *a, const struct tern_descriptor *b);

/**
 * Encode as compact JSON with sorted keys (so equal descriptors encode to
 * equal bytes). Writes a terminating NUL.
 *
 * @return bytes written, not counting the NUL; -EINVAL; -EMSGSIZE (the
 *         encoding would exceed TERN_DESCRIPTOR_WIRE_MAX); -ENOBUFS (@p len too
 *         small: TERN_DESCRIPTOR_WIRE_MAX + 1 always suffices); -ENOMEM.
 */
int tern_descriptor_encode(const struct tern_descriptor *d, char *buf, size_t len);

/**
 * Parse and validate an encoded descriptor. Pure: needs no EAL. Every
 * rejection is logged (type tern.directory) with its reason.
 *
 * @param d   filled on success (release with tern_descriptor_fini()); left
 *            holding nothing on failure
 * @param buf not necessarily NUL-terminated
 * @return 0; -EINVAL (not JSON, trailing bytes, not an object, too long,
 *         missing, unknown, duplicated or mistyped field, name outside its
 *         charset or too long, number out of range, too many transports or
 *         fields); -EPROTO (a version other than TERN_DESCRIPTOR_VERSION);
 *         -ENOMEM.
 */
int tern_descriptor_decode(struct tern_descriptor *d, const char *buf, size_t len);

/** @return 1 if @p name is a valid node or segment name, else 0. */
int tern_descriptor_name_valid(const char *name);

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
