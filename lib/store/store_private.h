/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_STORE_PRIVATE_H
#define TERN_STORE_PRIVATE_H

/*
 * lib/store inside. Layers, each calling only those below it
 * (tests/layers/check_layers.py checks this):
 *
 *   store.c        the public calls: placement, commit, get, eviction, leases
 *   store_owner.c  the owner side: a dataplane answering reserve/commit/free (rte_mp)
 *   store_ext.c    a record as text, in etcd or Redis (lib/directory's key-value space)
 *   store_wire.c   the owners' channel on the wire (no DPDK: shared with tests, fuzzed)
 *   store_clients.c the dataplane listing its clients' keys (/tern/client_store_keys)
 *   store_keys.c   the parameters of /tern/store_keys, the client listing's messages
 *                  (no DPDK: shared with tests, fuzzed)
 *   store_meta.c   the embedded metadata: records, key hash, LRU
 *   store_alloc.c  a node's extent allocator (no DPDK: shared with tests)
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern_store.h"

/* ---- store_alloc.c: one node's allocator, owned by the node ---- */

/* Extents are multiples of this (one cache line). */
#define STORE_ALLOC_ALIGN 64u

struct store_extent {
	uint64_t offset;
	uint64_t length;
};

/* Free extents sorted by offset, never adjacent (coalesced on free). */
struct store_alloc {
	uint64_t capacity;
	uint64_t used;
	uint32_t nb_free;
	uint32_t max_free;
	struct store_extent *free;
};

/* @max_allocs: most extents allocated at once (bounds the free list).
 * 0 or -EINVAL (capacity under STORE_ALLOC_ALIGN, max_allocs 0), -ENOMEM. */
int store_alloc_init(struct store_alloc *a, uint64_t capacity, uint32_t max_allocs);
void store_alloc_fini(struct store_alloc *a);
/* Bytes an allocation of @length takes. */
uint64_t store_alloc_size(uint64_t length);
/* First fit. 0 with *offset, -EINVAL (length 0), -ENOSPC. */
int store_alloc_get(struct store_alloc *a, uint64_t length, uint64_t *offset);
/* Give back what store_alloc_get() returned for the same @length.
 * 0, or -EINVAL (not an allocated range: overlaps a free extent or the end). */
int store_alloc_put(struct store_alloc *a, uint64_t offset, uint64_t length);
/* Take the free range @offset, @length (as store_alloc_get() would have
 * returned it). 0, -EINVAL (not all free), -ENOSPC (the free list is full). */
int store_alloc_take(struct store_alloc *a, uint64_t offset, uint64_t length);
/* Largest free extent. */
uint64_t store_alloc_largest(const struct store_alloc *a);

/* ---- store_meta.c: the embedded metadata ---- */

#define STORE_REC_NONE UINT32_MAX

enum store_rec_state {
	STORE_REC_FREE = 0,
	STORE_REC_RESERVED, /* extents taken, not visible */
	STORE_REC_LIVE,	    /* committed: in the hash and the LRU */
	STORE_REC_DEAD,	    /* removed or evicted, a reader still holds it */
};

struct store_record {
	char key[TERN_STORE_KEY_MAX]; /* zero-padded: the hash key */
	uint64_t size;
	uint64_t version;
	uint64_t lease_end_ns; /* RESERVED: freed after this unless owned */
	uint32_t refs;	       /* readers */
	uint32_t prev, next;   /* LRU (LIVE) or free list (FREE, next) */
	uint8_t state;
	uint8_t nb_rep;
	bool owned; /* RESERVED: a live future will commit or free it */
	/* RESERVED after an ambiguous commit (the metadata's answer timed out):
	 * the record there may name these extents; kept until read back
	 * (lease_end_ns: the next try). Never freed by the lease sweep. */
	bool pending;
	/* RESERVED: 1 + the arena slot of each replica's node its extent was
	 * placed in (store.c), 0: reserved at the owner on its own. */
	uint8_t arena[TERN_STORE_REPLICAS_MAX];
	/* A pending replace: the record it swaps from (malloc'd; NULL: none). */
	char *expect;
	uint8_t node[TERN_STORE_REPLICAS_MAX];
	uint64_t offset[TERN_STORE_REPLICAS_MAX];
};

struct store_meta {
	struct store_record *rec;
	uint32_t max;
	uint32_t free_head;
	uint32_t lru_head, lru_tail; /* head: least recently used */
	uint32_t nb_live;
	uint64_t version;
	uint32_t *slots; /* the hash: record indices, STORE_REC_NONE when empty */
	uint32_t mask;	 /* slots - 1 (a power of two >= 2 max) */
};

/* 0, -EINVAL, -ENOMEM. */
int store_meta_init(struct store_meta *m, uint32_t max);
void store_meta_fini(struct store_meta *m);
/* A FREE record made RESERVED (key copied, zero-padded), or STORE_REC_NONE. */
uint32_t store_meta_take(struct store_meta *m, const char *key);
/* Back to the free list (any state but LIVE). */
void store_meta_drop(struct store_meta *m, uint32_t idx);
/* The LIVE record of @key (zero-padded key buffer), or STORE_REC_NONE. */
uint32_t store_meta_lookup(const struct store_meta *m, const char *padded_key);
/* Make RESERVED @idx LIVE under its key with the next version. With an
 * existing LIVE record of that key: -EEXIST, or with @replace it is unlinked
 * first and returned in *old (else *old = STORE_REC_NONE). */
int store_meta_commit(struct store_meta *m, uint32_t idx, bool replace, uint32_t *old);
/* Unlink a LIVE record from the hash and the LRU: it becomes DEAD. */
void store_meta_unlink(struct store_meta *m, uint32_t idx);
/* Move a LIVE record to the recent end of the LRU. */
void store_meta_touch(struct store_meta *m, uint32_t idx);
/* Iterate LIVE records: *iter starts at 0; returns an index or STORE_REC_NONE. */
uint32_t store_meta_next(const struct store_meta *m, uint32_t *iter);

/* ---- store_ext.c: a record in an external metadata store ---- */

/* Longest record text (4 replicas of 20-digit offsets and two 47-byte
 * names each fit). */
#define STORE_EXT_TEXT_MAX 1024
/* Owner names: tern_store_conf.name, 1..15 bytes. */
#define STORE_EXT_OWNER_MAX 16
/* A replica's owner node and segment names: 1..47 of [A-Za-z0-9_.:-]. */
#define STORE_EXT_NAME_MAX 48

struct store_ext_rec {
	char owner[STORE_EXT_OWNER_MAX];
	uint64_t size;
	uint64_t version;
	uint8_t nb_rep;
	uint8_t node[TERN_STORE_REPLICAS_MAX];
	uint64_t offset[TERN_STORE_REPLICAS_MAX];
	/* The owner of each replica's extent ("" when the node has no owner
	 * identity): other stores naming the same owned node read it there. */
	char onode[TERN_STORE_REPLICAS_MAX][STORE_EXT_NAME_MAX];
	char oseg[TERN_STORE_REPLICAS_MAX][STORE_EXT_NAME_MAX];
};

/* The text of @r in @buf: its length, or -ENOSPC. */
int store_ext_encode(const struct store_ext_rec *r, char *buf, size_t len);
/* Strict parse: 0, or -EPROTO for anything but what store_ext_encode() writes. */
int store_ext_decode(const char *buf, size_t len, struct store_ext_rec *r);

/* ---- store_wire.c: the owners' channel (rte_mp message "tern_store") ---- */

#define STORE_WIRE_MP_NAME "tern_store"
/* One-way messages (rte_mp_sendmsg, never answered): a client's
 * ARENA_END, which it need not wait for. A client's messages reach the
 * owner in the order it sent them, one-way or not. */
#define STORE_WIRE_MP_NAME_1W	"tern_store_1w"
#define STORE_WIRE_MAGIC	0x74537430u /* "0tSt" */
#define STORE_WIRE_VERSION	1
#define STORE_WIRE_REQ_LEN	40
#define STORE_WIRE_REP_LEN	40
#define STORE_WIRE_LENGTH_MAX	(1ull << 40)
#define STORE_WIRE_LEASE_MS_MAX (3600u * 1000u)

enum store_wire_op {
	STORE_WIRE_RESERVE = 1,	  /* length, lease_ms, pid -> offset */
	STORE_WIRE_COMMIT = 2,	  /* offset, length: the lease ends, the extent stays */
	STORE_WIRE_FREE = 3,	  /* offset, length: reserved or committed, given back */
	STORE_WIRE_STATS = 4,	  /* -> used, capacity */
	STORE_WIRE_RESERVE_N = 5, /* count lengths, lease_ms, pid -> count offsets, all or none */
	STORE_WIRE_COMMIT_N = 6,  /* count {offset, length} -> a mask of the ones refused */
	/* A reader's reference on a committed extent, with a lease: a FREE
	 * meanwhile is deferred until the last reference drops or expires. */
	STORE_WIRE_READ_REF = 7,   /* offset, length, lease_ms, pid (-ENOENT: not committed) */
	STORE_WIRE_READ_UNREF = 8, /* offset, length (-ENOENT: no reference) */
	/* A client's arena: a range it places its objects in itself, under a
	 * lease; a COMMIT (pid: the arena's) of a range inside it makes that
	 * range an extent of its own. ARENA_END, or the lease, gives back
	 * what no commit took. */
	STORE_WIRE_ARENA = 9,	   /* length, lease_ms, pid -> offset */
	STORE_WIRE_ARENA_END = 10, /* offset, length, pid (-ENOENT: no such arena) */
};

/* Extents in one _N message (its request fits rte_mp's 256-byte param). */
#define STORE_WIRE_N_MAX   13
#define STORE_WIRE_MSG_MAX 256

struct store_wire_reqn {
	uint16_t op;
	uint32_t segment;
	uint32_t pid;
	uint32_t lease_ms;
	uint16_t count;
	uint64_t length[STORE_WIRE_N_MAX];
	uint64_t offset[STORE_WIRE_N_MAX];
};

struct store_wire_repn {
	int32_t status;	    /* 0, or the first refused extent's errno */
	uint16_t fail_mask; /* bit i: extent i refused (0 with status 0, or with an error and
			     * count 0: the request refused as a whole) */
	uint16_t count;
	uint64_t used;
	uint64_t capacity;
	uint64_t offset[STORE_WIRE_N_MAX];
};

struct store_wire_req {
	uint16_t op;
	uint32_t segment; /* the capacity segment's handle in the owner's table */
	uint32_t pid;	  /* the requester (logs) */
	uint64_t length;
	uint64_t offset;
	uint32_t lease_ms;
};

struct store_wire_rep {
	int32_t status; /* 0 or a negative errno */
	uint64_t offset;
	uint64_t used;
	uint64_t capacity;
};

void store_wire_req_encode(const struct store_wire_req *r, uint8_t out[STORE_WIRE_REQ_LEN]);
/* 0, or -EPROTO for anything store_wire_req_encode() would not write. */
int store_wire_req_decode(const uint8_t *in, size_t len, struct store_wire_req *r);
void store_wire_rep_encode(const struct store_wire_rep *r, uint8_t out[STORE_WIRE_REP_LEN]);
int store_wire_rep_decode(const uint8_t *in, size_t len, struct store_wire_rep *r);
/* The _N messages: encode returns the length; decode is as strict. */
size_t store_wire_reqn_encode(const struct store_wire_reqn *r, uint8_t out[STORE_WIRE_MSG_MAX]);
int store_wire_reqn_decode(const uint8_t *in, size_t len, struct store_wire_reqn *r);
size_t store_wire_repn_encode(const struct store_wire_repn *r, uint8_t out[STORE_WIRE_MSG_MAX]);
int store_wire_repn_decode(const uint8_t *in, size_t len, struct store_wire_repn *r);

/* ---- store_owner.c, client side ---- */

struct tern_directory;

/* Where a node's owner answers: this process's dataplane over rte_mp
 * (dir NULL), or a peer dataplane over its p2p channel. */
struct store_owner_addr {
	struct tern_directory *dir; /* p2p handle of the owner, or NULL */
	const char *node;	    /* with dir: the owner's node name */
	const char *segment;	    /* with dir: the owned segment's name */
};

/* One request to the dataplane owning a node: its status (0 or the owner's
 * negative errno, r filled), -ENODEV (no owner answers), -ETIMEDOUT,
 * -EPROTO (a malformed reply); over p2p also the channel's errors. */
int store_owner_call(const struct store_owner_addr *to, struct store_wire_req *q,
		     struct store_wire_rep *r, uint32_t timeout_ms);
/* The same for an _N request: the reply's status (r filled also on a refusal). */
int store_owner_calln(const struct store_owner_addr *to, const struct store_wire_reqn *q,
		      struct store_wire_repn *r, uint32_t timeout_ms);

/* A one-way request (STORE_WIRE_MP_NAME_1W) to this process's dataplane:
 * ARENA_END, never answered. 0 once sent (the owner handles it after every
 * request this process sent before), or -rte_errno. */
int store_owner_send(const uint8_t *req, size_t len);

/* ---- store_keys.c: the parameters of /tern/store_keys (no DPDK: shared with tests) ---- */

#define STORE_KEYS_COUNT_DEF  32u
#define STORE_KEYS_COUNT_MAX  64u	 /* an answer stays under the telemetry's 16 KiB */
#define STORE_KEYS_CURSOR_MAX (1u << 25) /* hash slots of the largest store (2^24 objects) */

struct store_keys_query {
	uint32_t cursor; /* the hash slot to walk from */
	uint32_t count;	 /* most keys in the answer */
	char prefix[TERN_STORE_KEY_MAX];
};

/* "" | CURSOR | CURSOR,COUNT | CURSOR,COUNT,PREFIX (store_keys.c).
 * 0, or -EINVAL with a one-line reason in @err. */
int store_keys_parse(const char *params, struct store_keys_query *q, char *err, size_t errlen);

/*
 * Listing the keys of a client process's store through its dataplane
 * (doc/store.md, "Listing keys"): the dataplane (primary) sends an rte_mp
 * request named STORE_KEYS_MP_NAME to its clients; the client whose pid it
 * names answers with a header and, for a page, the rows as text in a memfd
 * passed with the answer. The messages and the text, strict (store_keys.c;
 * tests/store/test_store_keys.c, fuzz target tests/store/fuzz_store_keys.c).
 *
 * Request, little endian: magic u32 STORE_KEYS_MAGIC_REQ, version u8 1,
 * op u8 (HELLO, PAGE), reserved u16 0, pid u32 (PAGE: the client asked;
 * HELLO: 0), params length u16, reserved u16 0, then the params bytes (no
 * NUL; PAGE: /tern/store_keys's CURSOR[,COUNT[,PREFIX]], printable ASCII;
 * HELLO: none): exactly 16 + that length.
 *
 * Answer, 48 bytes: magic u32 STORE_KEYS_MAGIC_REP, version u8 1, op u8 (the
 * request's), reserved u16 0, pid u32 (the answering process), status i32
 * (0 or a negative errno > -4096), count u32 (<= STORE_KEYS_COUNT_MAX),
 * next i32 (-1..STORE_KEYS_CURSOR_MAX), truncated u32 (0: the text carries
 * whole keys), text length u32 (<= STORE_KEYS_TEXT_MAX; a memfd holds it
 * when > 0), name 16 bytes (the store's name, 1..15 of [A-Za-z0-9_], or
 * empty, zero-padded). A refusal carries count 0, next -1, truncated 0 and
 * text length 0; so does a HELLO (its name says which store answers).
 *
 * Page text: count lines "KEY\tSIZE\tVERSION\tREPLICAS\n", KEY 1..255 of
 * 0x21..0x7e, SIZE and VERSION decimal (no sign, no leading zero),
 * REPLICAS 0..TERN_STORE_REPLICAS_MAX of "NODE:OFFSET" (decimal) separated
 * by one space.
 */
#define STORE_KEYS_MP_NAME	"tern_store_keys"
#define STORE_KEYS_MAGIC_REQ	0x514b5354u /* "TSKQ" */
#define STORE_KEYS_MAGIC_REP	0x414b5354u /* "TSKA" */
#define STORE_KEYS_WIRE_VERSION 1u
#define STORE_KEYS_OP_HELLO	1u
#define STORE_KEYS_OP_PAGE	2u
#define STORE_KEYS_REQ_HDR	16u
#define STORE_KEYS_MSG_MAX	256u /* RTE_MP_MAX_PARAM_LEN */
#define STORE_KEYS_PARAMS_MAX	(STORE_KEYS_MSG_MAX - STORE_KEYS_REQ_HDR - 1)
#define STORE_KEYS_REP_LEN	48u
#define STORE_KEYS_NAME_MAX	16u
#define STORE_KEYS_TEXT_MAX	(64u * 1024)
#define STORE_KEYS_REPS_MAX	128u /* a row's REPLICAS text, with its NUL */

struct store_keys_req {
	uint8_t op;
	uint32_t pid;
	char params[STORE_KEYS_PARAMS_MAX + 1]; /* NUL-terminated */
};

struct store_keys_rep {
	uint8_t op;
	uint32_t pid;
	int32_t status;
	uint32_t count;
	int32_t next;
	uint32_t truncated;
	uint32_t text_len;
	char name[STORE_KEYS_NAME_MAX];
};

struct store_keys_row {
	char key[TERN_STORE_KEY_MAX];
	uint64_t size;
	uint64_t version;
	char replicas[STORE_KEYS_REPS_MAX];
};

/* Encoders: the message's length, or -EINVAL (a field out of range). */
int store_keys_req_encode(const struct store_keys_req *q, uint8_t *buf, size_t len);
int store_keys_rep_encode(const struct store_keys_rep *r, uint8_t *buf, size_t len);
/* Decoders: 0, or -EPROTO (anything the encoder would not write). */
int store_keys_req_decode(const uint8_t *buf, size_t len, struct store_keys_req *q);
int store_keys_rep_decode(const uint8_t *buf, size_t len, struct store_keys_rep *r);
/* One row as a line at @buf: its length, -ENOSPC, or -EINVAL (bad row). */
int store_keys_row_format(const struct store_keys_row *row, char *buf, size_t len);
/* The row starting at *off of @text (@len bytes): 0 (*off past it), 1 (the
 * end: *off == len), or -EPROTO. */
int store_keys_row_parse(const char *text, size_t len, size_t *off, struct store_keys_row *row);

#endif /* TERN_STORE_PRIVATE_H */
