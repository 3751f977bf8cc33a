/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_STORE_H
#define TERN_STORE_H

/**
 * @file
 * The object store: objects by key over tern's engine (doc/store.md).
 *
 * Capacity comes from *nodes*: ranges of segments in the engine's segment
 * table; node 0 is the local one. Each node owns an allocator. A put
 * reserves an extent per replica, WRITEs every replica in one engine batch,
 * then commits key -> {size, version, replicas} atomically in the metadata;
 * a get takes a read reference, READs the nearest replica, falls back to
 * the others. Above a node's high watermark the least-recently-used
 * objects are evicted (record first, then memory).
 *
 * Threading: a store is used by one thread at a time (it owns an engine
 * client); tern_store_stats() may be called from any thread.
 *
 * Keys: 1 .. TERN_STORE_KEY_MAX - 1 bytes, each printable ASCII 0x21..0x7e;
 * given as NUL-terminated strings.
 *
 * Metadata: embedded (this process) by default; with an etcd or Redis URI
 * the records live there (lib/directory's key-value space) and the commit
 * is an atomic create in that store, so stores of several processes
 * sharing it never both commit one key. A store reads only objects it
 * placed itself; another store's object is reported as -EREMOTE (the
 * owners' channel that would read it is not built: doc/store.md).
 *
 * Errors: constructors return NULL and set rte_errno; other calls return 0
 * (or a count) or a negative errno. With etcd or Redis metadata, any call
 * that reaches it may also fail (for the whole call, or for one key in a
 * future's results) with tern_directory.h's *backend errors*, within
 * metadata_timeout_ms per request: -ECONNREFUSED, -ETIMEDOUT, -EIO, -EPROTO...
 */

#include <pthread.h>
#include <stdint.h>

#include <tern_engine.h>
#include <tern_segment.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest key, including the terminating NUL. */
#define TERN_STORE_KEY_MAX 256
/** Most replicas of one object. */
#define TERN_STORE_REPLICAS_MAX 4
/** Most capacity nodes of one store. */
#define TERN_STORE_NODES_MAX 8
/** Most keys in one batch. */
#define TERN_STORE_BATCH_MAX 256

/** Put flag: replace an existing key instead of failing with -EEXIST. */
#define TERN_STORE_F_REPLACE (1u << 0)

struct tern_store;
struct tern_store_future;

/** Node flag: the dataplane this client is attached to owns the range
 *  (tern_store_owner_create()): reserve, commit and free through it. */
#define TERN_STORE_NODE_F_OWNED (1u << 0)

/**
 * One capacity node: a range of a segment of the engine's table. LOCAL, or
 * REMOTE (a peer dataplane's segment the dataplane imported): the store
 * then allocates in that range itself (the channel to the peer's owner is
 * not built), so no other store may use the range; a peer that dies makes
 * READs there fail and gets fall back to the other replicas.
 */
struct tern_store_node_conf {
	uint32_t segment; /**< segment handle */
	uint32_t flags;	  /**< TERN_STORE_NODE_F_* */
	uint64_t offset;  /**< first byte of the range in the segment (owned: the owner's
			   *   range must start here too) */
	uint64_t length;  /**< bytes, >= 4 KiB */
	/** NULL: the node's owner (TERN_STORE_NODE_F_OWNED) is this process's
	 *  dataplane (rte_mp). Or "p2p://host:port": a REMOTE node whose
	 *  segment a peer dataplane owns (`--store-capacity`); its reserve,
	 *  commit and free go to that peer over its p2p directory channel
	 *  (tern_directory_p2p_call()), naming @c owner_node / @c owner_segment. */
	const char *owner;
	const char *owner_node;	   /**< the owner's --node (with @c owner) */
	const char *owner_segment; /**< the owned segment's name there (with @c owner) */
};

/** Store configuration; zero fields take the defaults. */
struct tern_store_conf {
	const char *name;	    /**< [A-Za-z0-9_] 1..15; required; the owner in etcd/Redis
				     *   records: unique among the stores sharing them */
	struct tern_engine *engine; /**< the engine, in its own process; or NULL with @c client */
	struct tern_client *client; /**< or an attached client (tern_client_attach(), with
				     *   TERN_CLIENT_F_NO_CQ and max_inflight > this max_inflight):
				     *   the store uses it and does not destroy it; the engine's
				     *   default deadline (5 s) and max_batch (64) are assumed */
	struct tern_segment_table *segments;	  /**< the engine's segment table; required */
	const struct tern_store_node_conf *nodes; /**< capacity; nodes[0] is the local node */
	unsigned int nb_nodes;			  /**< 1..TERN_STORE_NODES_MAX */
	const char *metadata;	      /**< NULL or "embedded"; "etcd://host:port[,...]/prefix" or
				       *   "redis://host:port/prefix" (tern_directory_open()) */
	uint32_t metadata_timeout_ms; /**< bound on one etcd/Redis request; 2000 */
	uint32_t max_objects;	      /**< records (committed + reserved); 65536, <= 2^24 */
	uint32_t max_inflight;	      /**< futures at once; 16, <= 1024 */
	uint32_t replicas;	      /**< default replicas of a put; 1 */
	uint32_t high_watermark_pct;  /**< evict above this % of a node; 90, 10..100 */
	uint64_t lease_ns;	      /**< life of an uncommitted reservation, >= 2 deadlines;
				       *   max(30 s, 2 deadlines) */
	uint64_t deadline_ns;	      /**< deadline of a store batch; the engine's default */
};

/**
 * Create a store (and its engine client, for the calling thread).
 *
 * @return the store, or NULL with rte_errno: EINVAL (missing or bad field,
 *         both or neither of engine and client,
 *         a node not inside a LOCAL segment, two nodes overlapping, lease
 *         shorter than twice the deadline, a malformed metadata URI, a node
 *         neither LOCAL nor REMOTE, an OWNED one not LOCAL or not in a
 *         secondary process),
 *         ENOTSUP (a metadata other than "embedded", etcd or Redis), ENOSPC
 * (no engine client slot), ENOMEM.
 */
struct tern_store *tern_store_create(const struct tern_store_conf *conf);

/**
 * Destroy a store: free everything; with etcd or Redis metadata withdraw
 * its records there (best effort); give back to the owning dataplanes the
 * extents it holds there. NULL is ignored.
 *
 * @return 0; -EINVAL (not a store); -EBUSY (a future not released).
 */
int tern_store_destroy(struct tern_store *store);

/** Per-put options. */
struct tern_store_put_opts {
	uint32_t replicas; /**< 0: the store's default */
	uint32_t flags;	   /**< TERN_STORE_F_* */
};

/**
 * Put a batch of objects. Buffers must lie in LOCAL segments of the
 * engine's table (the engine's rule) and stay unchanged until the future
 * resolves. The keys are copied.
 *
 * @param sizes bytes of each object (0 allowed: then @p bufs[i] may be NULL)
 * @param opts NULL for the defaults
 * @return one future for the batch, or NULL with rte_errno: EINVAL (NULL
 *         argument, @p nb 0 or above TERN_STORE_BATCH_MAX, bad option,
 *         replicas above the nodes, nb times replicas above the engine's
 *         max_batch), EAGAIN (max_inflight futures held). Per-key failures
 *         (bad key -EINVAL, -EEXIST, -ENOSPC, a duplicate key in the batch
 *         -EINVAL) are in the future's results.
 */
struct tern_store_future *tern_store_put(struct tern_store *store, const char *const *keys,
					 void *const *bufs, const uint64_t *sizes, uint32_t nb,
					 const struct tern_store_put_opts *opts);

/**
 * Get a batch of objects into caller buffers (inside LOCAL segments).
 *
 * @param buf_sizes room in each buffer
 * @return one future, or NULL with rte_errno: EINVAL, EAGAIN (as put).
 *         Per-key failures (-EINVAL bad key, -ENOENT, -ENOSPC with the
 *         needed size, -EREMOTE placed by another store sharing the
 *         metadata, a READ error when every replica failed, a backend
 *         error) are in the future's results.
 */
struct tern_store_future *tern_store_get(struct tern_store *store, const char *const *keys,
					 void *const *bufs, const uint64_t *buf_sizes, uint32_t nb);

/**
 * Wait for a batch: the engine's transfer, then (put) the commits or (get)
 * the fall-backs. Every store future resolves within its deadline (times
 * the replicas tried on fall-back).
 *
 * @param timeout_ns UINT64_MAX for ever
 * @return 0 when every key succeeded, else the first key's error in batch
 *         order; -EINPROGRESS (timeout first); -EINVAL (NULL, released).
 */
int tern_store_future_wait(struct tern_store_future *f, uint64_t timeout_ns);

/**
 * Has the batch resolved? Never blocks (it may commit).
 * @return as tern_store_future_wait() with a zero timeout.
 */
int tern_store_future_test(struct tern_store_future *f);

/**
 * One key's outcome in a resolved batch.
 *
 * @param size the object's size (put, get; for a get failing with -ENOSPC
 *             the size needed); may be NULL
 * @return the key's status (0, or its negative errno); -EINPROGRESS (not
 *         resolved); -EINVAL (NULL, released, @p i out of range) -- use
 *         tern_store_future_wait() first.
 */
int tern_store_future_result(const struct tern_store_future *f, uint32_t i, uint64_t *size);

/**
 * Release a future. A put released before it resolved commits nothing: its
 * reservations are freed when their lease expires (as a dead putter's).
 *
 * @return 0; -EINVAL (NULL, released twice).
 */
int tern_store_future_release(struct tern_store_future *f);

/**
 * Remove a batch of keys: records at once, memory when no reader holds it.
 *
 * @param results per key: 0, -ENOENT, -EINVAL (bad key), a backend error; may be NULL
 * @return keys removed; -EINVAL (NULL store or keys, @p nb 0 or above
 *         TERN_STORE_BATCH_MAX).
 */
int tern_store_remove(struct tern_store *store, const char *const *keys, uint32_t nb, int *results);

/**
 * Which keys exist (are committed)?
 *
 * @param results per key: 1, 0, -EINVAL (bad key), a backend error
 * @return how many exist; -EINVAL (NULL argument, @p nb 0 or too many).
 */
int tern_store_exists(struct tern_store *store, const char *const *keys, uint32_t nb, int *results);

/** tern_store_list() callback: a key, its size, its replicas. Non-zero stops the walk. */
typedef int (*tern_store_list_cb)(void *arg, const char *key, uint64_t size,
				  unsigned int nb_replicas);

/**
 * Call @p cb for each committed key starting with @p prefix ("" for all), in
 * no particular order. @p cb must not call the store.
 *
 * @return keys listed; the callback's non-zero value; -EINVAL (NULL store,
 *         prefix or cb, prefix longer than a key or with a refused byte);
 *         a backend error.
 */
int tern_store_list(struct tern_store *store, const char *prefix, tern_store_list_cb cb, void *arg);

/**
 * Free reservations whose lease expired. Puts do it too.
 * @return reservations freed; -EINVAL.
 */
int tern_store_poll(struct tern_store *store);

/** Counters and gauges of a store. */
struct tern_store_stats {
	uint64_t objects;	/**< committed objects */
	uint64_t bytes;		/**< bytes of committed objects (once, not per replica) */
	uint64_t capacity;	/**< bytes of all nodes */
	uint64_t used;		/**< bytes allocated in all nodes (replicas, reservations) */
	uint64_t reserved;	/**< uncommitted reservations now */
	uint64_t evictions;	/**< objects evicted */
	uint64_t puts;		/**< keys committed */
	uint64_t gets;		/**< keys read */
	uint64_t removes;	/**< keys removed */
	uint64_t put_errors;	/**< keys whose put failed */
	uint64_t get_errors;	/**< keys whose get failed */
	uint64_t lease_expired; /**< reservations freed by their lease */
	uint64_t fallbacks;	/**< gets served by another replica after a failure */
};

/** @return 0; -EINVAL. */
int tern_store_stats(const struct tern_store *store, struct tern_store_stats *stats);

/**
 * Serve this store's counters as /tern/store on DPDK's telemetry socket
 * (one store per process; NULL withdraws it).
 *
 * @return 0; -EEXIST (another store is registered); -ENOTSUP (the telemetry
 *         library refused the command).
 */
int tern_store_telemetry_register(struct tern_store *store);

/**
 * Serve /tern/store_keys,[CURSOR[,COUNT[,PREFIX]]] for @p store as well as
 * /tern/store (tern_store_telemetry_register(), done here): a page of at
 * most COUNT (1..64, default 32) of the objects this store placed whose key
 * starts with PREFIX, each with its size, version and replicas
 * ("node:offset ..."), and the cursor of the next page, "next" (-1 at the
 * end; doc/telemetry.md).
 * The telemetry thread walks the store's records holding @p lock, for at
 * most 200 ms (else it answers "busy"): the application must hold @p lock
 * around every call on @p store. The store's destruction withdraws it.
 * In a client process of a dataplane (a DPDK secondary) the dataplane
 * serves the same pages (tern_store_clients_telemetry_register()).
 *
 * @return 0; -EINVAL (NULL or not a store, NULL lock); as
 *         tern_store_telemetry_register(); -ENOTSUP (the telemetry library
 *         refused the command).
 */
int tern_store_telemetry_keys_register(struct tern_store *store, pthread_mutex_t *lock);

/**
 * In a dataplane (the DPDK primary): serve /tern/client_store_keys, the
 * keys of its client processes' stores (a client is a DPDK secondary,
 * which has no telemetry socket of its own). Without parameters it lists
 * the clients whose store serves its keys (pid and store name); with
 * PID[,CURSOR[,COUNT[,PREFIX]]] it answers that client's page as
 * /tern/store_keys does. A client's store serves its keys once the client
 * called tern_store_telemetry_keys_register() (which, in a secondary, also
 * answers its dataplane's requests over rte_mp). Each request waits at most
 * 500 ms for the clients' answers.
 *
 * @return 0; -ENOTSUP (not a primary, or the telemetry library refused the
 *         command). Calling it again does nothing.
 */
int tern_store_clients_telemetry_register(void);

/* ---- owners: the dataplane side of a capacity segment ---- */

/** Opaque owner of a capacity segment. */
struct tern_store_owner;

/** What an owner serves; zero fields take the defaults. */
struct tern_store_owner_conf {
	struct tern_segment_table *segments; /**< the dataplane's table; required */
	uint32_t segment;		     /**< a LOCAL segment of it */
	uint64_t offset;		     /**< the capacity range in it */
	uint64_t length;		     /**< bytes, >= 4 KiB */
	uint32_t max_extents;		     /**< extents at once; 65536, <= 2^24 */
};

/**
 * Own a capacity range in this (primary) process: answer the reserve,
 * commit and free requests of the stores of attached clients whose node
 * has TERN_STORE_NODE_F_OWNED, over rte_mp; free reservations whose lease
 * expires; serve /tern/store_owner on the telemetry socket. One per process.
 *
 * @return the owner, or NULL with rte_errno: EINVAL (bad field, not a
 *         primary process), EEXIST (this process owns a range already),
 *         ENOMEM, or rte_mp_action_register()'s error.
 */
struct tern_store_owner *tern_store_owner_create(const struct tern_store_owner_conf *conf);

/**
 * Stop answering (requests then fail with -ENODEV at the client) and free.
 * @return 0; -EINVAL (not the current owner). NULL is ignored.
 */
int tern_store_owner_destroy(struct tern_store_owner *owner);

/** @return reservations freed now because their lease expired; -EINVAL. */
int tern_store_owner_poll(struct tern_store_owner *owner);

/** An owner's counters. */
struct tern_store_owner_stats {
	uint64_t capacity;	    /**< bytes owned */
	uint64_t used;		    /**< bytes reserved or committed */
	uint64_t reserved;	    /**< extents reserved, not committed */
	uint64_t committed;	    /**< extents committed */
	uint64_t lease_expired;	    /**< reservations freed by their lease */
	uint64_t requests;	    /**< requests answered */
	uint64_t refused;	    /**< requests answered with an error */
	uint64_t read_refs;	    /**< readers' references taken (STORE_WIRE_READ_REF) */
	uint64_t read_refs_expired; /**< extents whose references expired unreleased */
	uint64_t frees_deferred;    /**< FREEs of an extent a reader held: given back later */
};

/** @return 0; -EINVAL. Any thread. */
int tern_store_owner_stats(struct tern_store_owner *owner, struct tern_store_owner_stats *stats);

/** Largest request or answer of tern_store_owner_serve(). */
#define TERN_STORE_OWNER_MSG_MAX 256

/**
 * Answer one owner request that arrived by another channel than rte_mp (a
 * peer dataplane's store, through tern_directory_p2p_call(): the dataplane
 * registers a tern_directory_p2p_handler_fn that calls this). The request
 * is parsed as strictly as over rte_mp (doc/store.md, *Owners*); its
 * segment field is ignored (the channel named the segment). A malformed
 * request is answered -EPROTO and changes nothing.
 *
 * @param owner the owner
 * @param req the request, @p len bytes
 * @param rep room for TERN_STORE_OWNER_MSG_MAX bytes: the answer
 * @return the answer's length (> 0); -EINVAL (NULL argument).
 */
int tern_store_owner_serve(struct tern_store_owner *owner, const uint8_t *req, size_t len,
			   uint8_t *rep);

#ifdef __cplusplus
}
#endif

#endif /* TERN_STORE_H */
