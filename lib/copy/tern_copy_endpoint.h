/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_COPY_ENDPOINT_H
#define TERN_COPY_ENDPOINT_H

/**
 * @file
 * The endpoint of a transport whose lcore copies each slice while posting it
 * (memcpy, shm): nothing is ever in flight, and completions wait in a
 * per-endpoint ring until poll(). The endpoint is a `struct
 * tern_copy_endpoint`; the transport supplies only how a slice's target
 * bytes are found (and whether they may be touched).
 */

#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include <tern_copy.h>
#include <tern_transport_driver.h>

/** An endpoint that copies while posting. */
struct tern_copy_endpoint {
	struct tern_endpoint base; /**< first: what the engine holds */
	uint32_t head;		   /* next completion to poll */
	uint32_t tail;		   /* next free completion slot */
	uint32_t mask;
	struct tern_completion cpl[];
};

/**
 * Allocate an endpoint with room for every slice the engine may post.
 * @return the endpoint, or NULL with rte_errno = ENOMEM.
 */
static inline struct tern_endpoint *
tern_copy_endpoint_open(const struct tern_endpoint_conf *conf, const char *name)
{
	uint32_t size = rte_align32pow2(RTE_MAX(conf->max_slices, 64u));
	struct tern_copy_endpoint *ep;

	ep = rte_zmalloc_socket(name, sizeof(*ep) + size * sizeof(ep->cpl[0]), RTE_CACHE_LINE_SIZE,
				conf->socket_id);
	if (ep == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ep->mask = size - 1;
	ep->base.lcore_id = conf->lcore_id;
	return &ep->base;
}

/** The engine's handle back to the copy endpoint. */
static inline struct tern_copy_endpoint *
tern_copy_ep(struct tern_endpoint *base)
{
	return container_of(base, struct tern_copy_endpoint, base);
}

/**
 * Move a slice's bytes between its local buffer and @p remote (the target's
 * bytes at the slice's offset): streaming stores when the engine asked for
 * them (TERN_SLICE_F_STREAM), glibc memcpy otherwise.
 */
static inline void
tern_copy_slice(const struct tern_slice *s, uint8_t *remote)
{
	if (s->flags & TERN_SLICE_F_STREAM) {
		if (s->op == TERN_OP_WRITE)
			tern_copy_stream(remote, s->local, s->length);
		else
			tern_copy_stream(s->local, remote, s->length);
	} else {
		if (s->op == TERN_OP_WRITE)
			memcpy(remote, s->local, s->length);
		else
			memcpy(s->local, remote, s->length);
	}
}

/**
 * post_burst(): run @p copy (0 or a negative errno; a constant function, so
 * inlined) on as many slices as the ring has room for.
 * @return how many were taken.
 */
static inline uint16_t
tern_copy_endpoint_post(struct tern_endpoint *base, const struct tern_slice *slices, uint16_t nb,
			int32_t (*copy)(const struct tern_slice *s))
{
	struct tern_copy_endpoint *ep = tern_copy_ep(base);
	uint32_t room = ep->mask + 1 - (ep->tail - ep->head);
	uint16_t i, n = (uint16_t)RTE_MIN((uint32_t)nb, room);

	for (i = 0; i < n; i++) {
		struct tern_completion *c = &ep->cpl[ep->tail++ & ep->mask];

		c->cookie = slices[i].cookie;
		c->status = copy(&slices[i]);
		c->length = c->status == 0 ? slices[i].length : 0;
	}
	return n;
}

/** poll(): hand back up to @p max completions. */
static inline uint16_t
tern_copy_endpoint_poll(struct tern_endpoint *base, struct tern_completion *cpl, uint16_t max)
{
	struct tern_copy_endpoint *ep = tern_copy_ep(base);
	uint16_t n = 0;

	while (n < max && ep->head != ep->tail)
		cpl[n++] = ep->cpl[ep->head++ & ep->mask];
	return n;
}

/** cancel(): copies finish inside post_burst(), nothing is ever in flight. */
static inline void
tern_copy_endpoint_cancel(struct tern_endpoint *ep)
{
	RTE_SET_USED(ep);
}

/** endpoint_close(). */
static inline void
tern_copy_endpoint_close(struct tern_endpoint *base)
{
	rte_free(tern_copy_ep(base));
}

#endif /* TERN_COPY_ENDPOINT_H */
