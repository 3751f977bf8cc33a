/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_DESCRIPTOR_H
#define TERN_DESCRIPTOR_H

/**
 * @file
 * Descriptors: what a peer needs to reach one exported segment, and their
 * text codec.
 *
 * A descriptor names the node that exports the segment, the segment's name
 * and size, and per transport a small object of named fields (shm: file
 * identity; tcp: address, port and the remote segment id; mlx5: gid, lid,
 * rkey, address). Descriptors travel as versioned JSON and are validated
 * field by field when decoded: whatever comes from the network is never
 * trusted. Nothing here needs the EAL, a directory or the network: the
 * directory (tern_directory.h) stores and fetches descriptors, transports
 * fill and read their fields. Rejections are logged under the log type
 * tern.descriptor.
 *
 * A descriptor is plain data: one thread at a time per descriptor.
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
 * @return 0; -EINVAL (NULL, or @p src holds nothing: never initialised or
 *         released); -ENOMEM (@p dst then holds nothing).
 */
int tern_descriptor_copy(struct tern_descriptor *dst, const struct tern_descriptor *src);

/**
 * Set a string field of a transport, creating the transport's object if needed.
 *
 * @return 0; -EINVAL (@p d NULL or holding nothing, bad transport or field
 *         name, @p value NULL, not printable ASCII or not shorter than
 *         TERN_DESCRIPTOR_STR_MAX); -ENOSPC (already TERN_DESCRIPTOR_TRANSPORT_MAX
 *         transports or TERN_DESCRIPTOR_FIELD_MAX fields); -ENOMEM.
 */
int tern_descriptor_set_str(struct tern_descriptor *d, const char *transport, const char *field,
			    const char *value);

/**
 * Set an integer field of a transport.
 *
 * @return 0; -ERANGE (@p value above TERN_DESCRIPTOR_INT_MAX, checked first);
 *         -EINVAL, -ENOSPC, -ENOMEM as tern_descriptor_set_str().
 */
int tern_descriptor_set_u64(struct tern_descriptor *d, const char *transport, const char *field,
			    uint64_t value);

/**
 * Set a binary field (stored as lowercase hex), e.g. a GID or the blob a
 * transport's segment_export() wrote.
 *
 * @return 0; -EINVAL (@p buf NULL, @p len 0 or too long for a string field:
 *         at most (TERN_DESCRIPTOR_STR_MAX - 1) / 2 bytes, and as
 *         tern_descriptor_set_str()); -ENOSPC; -ENOMEM.
 */
int tern_descriptor_set_bytes(struct tern_descriptor *d, const char *transport, const char *field,
			      const void *buf, size_t len);

/**
 * Read a string field into @p buf (NUL-terminated).
 *
 * @return its length; -EINVAL (@p d or @p buf NULL, @p d holding nothing, bad
 *         transport or field name); -ENOENT (no such transport or field);
 *         -EPROTO (the field is not a string); -ENOBUFS (@p len too small).
 */
int tern_descriptor_get_str(const struct tern_descriptor *d, const char *transport,
			    const char *field, char *buf, size_t len);

/**
 * Read an integer field.
 *
 * @return 0; -EINVAL (@p value NULL, and as tern_descriptor_get_str());
 *         -ENOENT; -EPROTO (not an integer).
 */
int tern_descriptor_get_u64(const struct tern_descriptor *d, const char *transport,
			    const char *field, uint64_t *value);

/**
 * Read a binary field written by tern_descriptor_set_bytes().
 *
 * @return the number of bytes; -EINVAL (as tern_descriptor_get_str());
 *         -ENOENT; -EPROTO (not a non-empty lowercase hex string of even
 *         length); -ENOBUFS (@p len below the number of bytes).
 */
int tern_descriptor_get_bytes(const struct tern_descriptor *d, const char *transport,
			      const char *field, void *buf, size_t len);

/**
 * Does the descriptor carry @p transport?
 *
 * @return 1 if it does; 0 if not, also for a NULL or empty descriptor or an
 *         invalid transport name.
 */
int tern_descriptor_has_transport(const struct tern_descriptor *d, const char *transport);

/**
 * Name of the @p index-th transport (in name order).
 *
 * @return the name's length; -EINVAL (@p d or @p buf NULL, @p d holding
 *         nothing); -ENOENT (@p index past the end); -ENOBUFS (@p len too small).
 */
int tern_descriptor_transport_name(const struct tern_descriptor *d, unsigned int index, char *buf,
				   size_t len);

/**
 * Remove a transport and its fields.
 *
 * @return 0; -EINVAL (@p d NULL or holding nothing, bad transport name);
 *         -ENOENT (no such transport).
 */
int tern_descriptor_remove_transport(struct tern_descriptor *d, const char *transport);

/**
 * Compare two descriptors: node, segment, length and every transport field.
 *
 * @return 1 if both say exactly the same thing; 0 otherwise or if either is NULL.
 */
int tern_descriptor_equal(const struct tern_descriptor *a, const struct tern_descriptor *b);

/**
 * Encode as compact JSON with sorted keys (so equal descriptors encode to
 * equal bytes). Writes a terminating NUL.
 *
 * @return bytes written, not counting the NUL; -EINVAL (@p d or @p buf NULL,
 *         @p d holding nothing or with an invalid node, segment or length,
 *         e.g. one never initialised); -EMSGSIZE (the
 *         encoding would exceed TERN_DESCRIPTOR_WIRE_MAX); -ENOBUFS (@p len too
 *         small: TERN_DESCRIPTOR_WIRE_MAX + 1 always suffices); -ENOMEM.
 */
int tern_descriptor_encode(const struct tern_descriptor *d, char *buf, size_t len);

/**
 * Parse and validate an encoded descriptor. Pure: needs no EAL. Every
 * rejection is logged (type tern.descriptor, NOTICE) with its reason.
 *
 * @param d   filled on success (release with tern_descriptor_fini()); left
 *            holding nothing on failure
 * @param buf not necessarily NUL-terminated
 * @return 0; -EINVAL (@p d or @p buf NULL, @p len 0 or above
 *         TERN_DESCRIPTOR_WIRE_MAX, not JSON, trailing bytes, not an object,
 *         missing, unknown, duplicated or mistyped field, name outside its
 *         charset or too long, number out of range, too many transports or
 *         fields; also when the JSON parser runs out of memory, which it does
 *         not report apart); -EPROTO (a version other than
 *         TERN_DESCRIPTOR_VERSION).
 */
int tern_descriptor_decode(struct tern_descriptor *d, const char *buf, size_t len);

/**
 * Check a node or segment name: 1..TERN_DESCRIPTOR_NAME_MAX - 1 characters of
 * [A-Za-z0-9_.:-].
 *
 * @return 1 if @p name is valid; 0 if not (also for NULL).
 */
int tern_descriptor_name_valid(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* TERN_DESCRIPTOR_H */
