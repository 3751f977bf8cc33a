/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TRANSPORT_DRIVER_H
#define TERN_TRANSPORT_DRIVER_H

/**
 * @file
 * Driver SDK: the transport ops table, how the engine's worker lcores move
 * bytes. Included by transports (drivers/transport/) and the engine, never by
 * applications (they see tern_transport.h).
 *
 * A transport registers itself at start-up (TERN_TRANSPORT_REGISTER, like a
 * DPDK PMD). The engine probes every registered transport when it is
 * created, opens one endpoint per worker lcore for each usable one, and from
 * then on talks to it only through post_burst() and poll() on that lcore's
 * endpoint: no lock is ever taken on the data path. An endpoint reaches every
 * peer its transport knows; connections to peers are the transport's
 * business, opened and cached inside the endpoint.
 *
 * Contract for the data path (one lcore per endpoint, never concurrent):
 * - post_burst() takes the first N slices it can accept and returns N
 *   (0..nb). It never blocks. Slices it did not take are offered again.
 * - Every accepted slice produces exactly one completion from poll(), with
 *   status 0 or a negative errno, or (optional give_back()) is handed back
 *   to the engine once instead; completions may come in any order.
 * - cancel() makes every accepted, not yet completed slice complete (with
 *   -ECANCELED, or its real status) at the latest by the poll() calls that
 *   follow; it is how the engine drains an endpoint before closing it.
 * - expire() (optional) is the engine's word that a batch's deadline passed:
 *   from then on its slices must not touch local memory (doc/api.md).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_common.h>

#include <tern_notify_driver.h>
#include <tern_segment_driver.h>
#include <tern_transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Slice hint: the engine expects this data not to be read soon (stream it). */
#define TERN_SLICE_F_STREAM (1u << 0)

/** One slice: a contiguous piece of a request, at most the engine's slice size. */
struct tern_slice {
	uint64_t cookie; /**< opaque to the transport; echoed in the completion */
	uint8_t *local;	 /**< local side, inside @c local_seg */
	const struct tern_segment *local_seg; /**< the LOCAL segment holding @c local */
	const struct tern_segment *target;    /**< target segment (bounds already checked) */
	uint64_t offset;		      /**< byte offset in the target */
	uint32_t length;		      /**< bytes, > 0 */
	uint8_t op;			      /**< enum tern_op */
	uint8_t flags;			      /**< TERN_SLICE_F_* */
	uint16_t reserved;
	/** The submission the slice belongs to: a cookie can be reused by a later
	 *  batch, (cookie, batch) never is. What expire() names. */
	uint64_t batch;
};

/**
 * A notification the engine asks a transport to carry to the node that owns
 * @c target (doc/notify.md, "Extending: a transport"). The engine posts it
 * only after every slice of its batch completed with status 0, so the
 * transport carries the notification alone: it needs no ordering against
 * the batch's slices. Everything it points to stays valid until its
 * completion has been returned by poll().
 */
struct tern_notify_post {
	uint64_t cookie; /**< echoed in the completion; never equal to a slice's */
	uint64_t batch;	 /**< the submission it belongs to (as tern_slice.batch) */
	const struct tern_segment *target; /**< a REMOTE segment of the destination node */
	const char *sender;		   /**< this node's name, NUL-terminated */
	uint64_t tag;			   /**< the application's tag */
	const void *msg;		   /**< @c msg_len bytes */
	uint32_t msg_len;		   /**< 0..TERN_NOTIFY_MSG_MAX */
	/** The same, contiguous, for a transport that sends them as one payload:
	 *  TERN_NOTIFY_NODE_MAX bytes of @c sender, NUL-padded, then the
	 *  @c msg_len bytes of @c msg. */
	const uint8_t *wire;
};

/** One completed slice. */
struct tern_completion {
	uint64_t cookie; /**< the slice's cookie */
	int32_t status;	 /**< 0, or a negative errno */
	uint32_t length; /**< bytes moved */
};

/**
 * The base of every per-lcore endpoint. A transport's own endpoint starts
 * with it (`struct tcp_endpoint { struct tern_endpoint base; ... }`),
 * endpoint_open() returns the base, and the other ops turn the pointer the
 * engine passes back into the transport's own with container_of().
 */
struct tern_endpoint {
	unsigned int lcore_id; /**< the only lcore that uses it (endpoint_open() sets it) */
	/**
	 * Slices the transport holds to hand back to the engine (the give_back
	 * op); 0 otherwise. Written by the transport, on the endpoint's lcore;
	 * the engine reads it once per poll() and calls give_back() while it is
	 * not 0. A transport without give_back leaves it 0.
	 */
	uint32_t give_back;
};

/** What the engine tells a transport when it opens an endpoint. */
struct tern_endpoint_conf {
	unsigned int lcore_id; /**< the only lcore that will use the endpoint */
	int socket_id;	       /**< that lcore's NUMA socket */
	uint32_t max_slices;   /**< slices the engine may have outstanding on it */
	uint64_t stream_bytes; /**< engine's threshold for TERN_SLICE_F_STREAM, for reference */
	struct tern_segment_table
		*segments; /**< the engine's segments (a target side serves them) */
};

/** A transport. All callbacks except the data path may be NULL when meaningless. */
struct tern_transport_ops {
	/** Unique name, [a-z0-9_], shorter than TERN_TRANSPORT_NAME_MAX. */
	const char *name;
	/** Cost rank: the engine prefers the lowest rank that reaches a target. */
	uint32_t rank;
	/** TERN_TRANSPORT_F_* */
	uint32_t flags;
	/**
	 * The keys configure() takes, for help text and docs, like DPDK's
	 * RTE_PMD_REGISTER_PARAM_STRING: "key=<value> key=<value>". NULL: none.
	 */
	const char *params;
	/**
	 * Control path, before any engine exists (tern_transport_configure()):
	 * apply @p args ("key=value,...", rte_kvargs syntax, never NULL; "" for
	 * the defaults). 0, or a negative errno (-EINVAL for an unknown key or a
	 * bad value). NULL: the transport takes no configuration.
	 */
	int (*configure)(const char *args, const struct tern_transport_env *env);
	/** Undo configure(): close listeners, stop threads, forget secrets. */
	void (*stop)(void);
	/**
	 * What the configured transport offers to the outside, for the
	 * operator's log; @return bytes written (0: nothing), negative errno.
	 */
	int (*describe)(char *buf, size_t len);
	/** Is the transport usable here? 0, or a negative errno (logged by the transport). */
	int (*probe)(void);
	/**
	 * Describe a LOCAL segment for peers (the directory's per-transport blob).
	 * @return bytes written to @p desc, or a negative errno.
	 */
	int (*segment_export)(const struct tern_segment *seg, void *desc, size_t desc_len);
	/**
	 * Turn a peer's blob into the REMOTE segment's priv area.
	 * @return 0 or a negative errno (-EINVAL for a malformed blob).
	 */
	int (*segment_import)(struct tern_segment *seg, const void *desc, size_t desc_len);
	/**
	 * Undo segment_import(): the REMOTE segment is unregistered and no slice
	 * refers to it any more; free what import took (a mapping, a connection).
	 * @p seg is the slot as it was (priv included). NULL when import takes nothing.
	 */
	void (*segment_release)(struct tern_segment *seg);
	/** Open lcore @p conf->lcore_id's endpoint. NULL with rte_errno on failure. */
	struct tern_endpoint *(*endpoint_open)(const struct tern_endpoint_conf *conf);
	/** Data path: accept up to @p nb slices; return how many were taken. */
	uint16_t (*post_burst)(struct tern_endpoint *ep, const struct tern_slice *slices,
			       uint16_t nb);
	/** Data path: return up to @p max completions. */
	uint16_t (*poll)(struct tern_endpoint *ep, struct tern_completion *cpl, uint16_t max);
	/** Fail everything outstanding; completions follow through poll(). */
	void (*cancel)(struct tern_endpoint *ep);
	/**
	 * Optional (NULL: the transport never writes local memory after its
	 * slice completed, e.g. it copies synchronously). The batch whose slices
	 * carry @p cookie and @p batch passed its deadline; called on the owner lcore, on
	 * each of its endpoints, just before the engine resolves the batch's
	 * future. By return, on every endpoint of the transport: no slice of
	 * the batch may write into local memory again, and none of its WRITEs
	 * may be applied at a target after a WRITE posted after the return.
	 * Slices of the batch may still be posted afterwards (another lcore had
	 * claimed them): they must fail without touching anything.
	 * The slices still complete through poll() (any status), and the
	 * batch's memory stays valid until they have.
	 */
	void (*expire)(struct tern_endpoint *ep, uint64_t cookie, uint64_t batch);
	/** Close an endpoint with nothing outstanding. */
	void (*endpoint_close)(struct tern_endpoint *ep);
	/**
	 * Optional (NULL: always). Data path, on the endpoint's lcore, asked
	 * only for a segment that has a last resort (tern_segment.fallback):
	 * has @p ep a rail in service to @p seg now? false makes the engine
	 * post the slice to the fallback segment instead. Must be cheap (no
	 * I/O, no lock); a false answer must not change what the transport
	 * does with slices it already holds.
	 */
	bool (*rail_live)(struct tern_endpoint *ep, const struct tern_segment *seg);
	/**
	 * Optional (NULL: one path, nothing to show). Control path: the rails
	 * to the node whose blob (segment_export() output) is @p desc, as this
	 * process sees them, for /tern/peers.
	 * @return how many rails there are (at most @p max are written), or a
	 *         negative errno (-EINVAL for a malformed blob).
	 */
	int (*rails)(const void *desc, size_t desc_len, struct tern_transport_rail *out,
		     unsigned int max);
	/**
	 * Optional (NULL: the transport carries no notification; such a batch
	 * fails with -ENOTSUP). Data path, on the endpoint's lcore: carry
	 * notification @p n to the node that owns @p n->target, i.e. make its
	 * receive side call tern_notify_deliver() there, and complete through
	 * poll() exactly once with @c n->cookie and status:
	 * 0 (the target's queue accepted it), -ENOBUFS (the target's queue was
	 * full: the engine posts it again later, until the batch's deadline),
	 * or a negative errno (the node is unreachable, it takes no
	 * notifications: -ENOTSUP). cancel() completes it like a slice.
	 * Never blocks.
	 *
	 * @return 0 (accepted: one completion follows), -EAGAIN (no room now:
	 *         the engine offers it again), or a negative errno (refused at
	 *         once: the batch fails with it; no completion follows).
	 */
	int (*notify_post)(struct tern_endpoint *ep, const struct tern_notify_post *n);
	/**
	 * Optional (NULL: every accepted slice completes through poll()). Data
	 * path, on the endpoint's lcore, called by the engine after a poll()
	 * while @c ep->give_back is not 0: hand back up to @p max slices the
	 * transport accepted and can no longer carry (no rail in service to a
	 * target that has a last resort, tern_segment.fallback) instead of
	 * completing them with an error. A slice handed back is done with as
	 * far as the transport is concerned: no completion follows for it, and
	 * it touches neither local memory nor the target again (for a WRITE:
	 * no copy of it may still land at the target, doc/peers.md "Slices in
	 * flight"). The transport lowers @c ep->give_back by what it returns.
	 *
	 * Each @p out slice carries the slice as posted: @c cookie, @c local,
	 * @c target (the segment it was posted to), @c offset, @c length and
	 * @c op; the engine takes @c local_seg, @c flags and @c batch from its
	 * own record of the batch (the transport need not keep them).
	 * @p status[i] is the error slice i would have completed with: the
	 * engine completes it with that status when it cannot post it on the
	 * target's last resort (none any more, not ACTIVE, no such request),
	 * and as cancelled when its batch is already resolved or the engine is
	 * shutting down. The engine never asks for more than it can stage at
	 * once; what does not fit stays with the transport for the next call.
	 * cancel() completes slices still held for hand-back, like any other.
	 *
	 * @return slices written (0..@p max).
	 */
	uint16_t (*give_back)(struct tern_endpoint *ep, struct tern_slice *out, int32_t *status,
			      uint16_t max);
};

/** What a transport option holds (struct tern_transport_arg). */
enum tern_transport_arg_kind {
	TERN_TRANSPORT_ARG_U32,	      /**< decimal, in [min, max], into a uint32_t */
	TERN_TRANSPORT_ARG_STRING,    /**< any text without ',' shorter than @c len */
	TERN_TRANSPORT_ARG_ADDR_PORT, /**< "IPV4:PORT" or "[IPV6]:PORT", numeric */
};

/** One option a transport's configure() takes. */
struct tern_transport_arg {
	const char *key;		   /**< [a-z0-9_] */
	enum tern_transport_arg_kind kind; /**< what the value is */
	void *dst;	/**< uint32_t * (U32); char[len] (STRING; ADDR_PORT: the address) */
	size_t len;	/**< STRING, ADDR_PORT: bytes at @c dst */
	uint64_t min;	/**< U32: smallest value */
	uint64_t max;	/**< U32: largest value */
	uint16_t *port; /**< ADDR_PORT: the port */
	bool *given;	/**< optional: set when the key was given */
};

/**
 * Parse a configure() argument string, "key=value,key=value" (DPDK kvargs),
 * into the destinations of @p spec: a transport's configure() is this call
 * and what it does with the values. A key given twice takes the last value.
 * Every destination not given keeps what it held (the caller's defaults).
 *
 * @return 0; -EINVAL (an unknown key, a key without a value, a bad value:
 *         one log line names it).
 */
int tern_transport_args_parse(const char *transport, const char *args,
			      const struct tern_transport_arg *spec, unsigned int nb);

/**
 * Register a transport. Called from a constructor (TERN_TRANSPORT_REGISTER)
 * or by an application before it creates an engine.
 *
 * @return the transport id (>= 0), or -EINVAL (bad ops or name), -EEXIST
 *         (name taken), -ENOSPC (TERN_TRANSPORT_MAX reached).
 */
int tern_transport_register(const struct tern_transport_ops *ops);

/** @return the ops of transport @p id, or NULL if there is none. */
const struct tern_transport_ops *tern_transport_get(int id);

/** Register @p ops when the program starts. */
#define TERN_TRANSPORT_REGISTER(ops)             \
	RTE_INIT(tern_transport_register_##ops)  \
	{                                        \
		tern_transport_register(&(ops)); \
	}

#ifdef __cplusplus
}
#endif

#endif /* TERN_TRANSPORT_DRIVER_H */
