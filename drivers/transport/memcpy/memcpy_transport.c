/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The memcpy transport: targets mapped in this process (and, through DPDK's
 * shared memory, in its secondary processes). The lcore copies each slice as
 * it is posted; completions wait in a small per-endpoint queue until polled.
 * Large requests are copied with streaming stores (the engine's
 * TERN_SLICE_F_STREAM hint), the rest with glibc memcpy.
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include <tern_copy.h>
#include <tern_transport.h>

struct tern_endpoint {
	uint32_t head; /* next completion to poll */
	uint32_t tail; /* next free completion slot */
	uint32_t mask;
	struct tern_completion cpl[];
};

static int
memcpy_probe(void)
{
	return 0;
}

static struct tern_endpoint *
memcpy_endpoint_open(const struct tern_endpoint_conf *conf)
{
	struct tern_endpoint *ep;
	uint32_t size = rte_align32pow2(RTE_MAX(conf->max_slices, 64u));

	ep = rte_zmalloc_socket("tern_memcpy_ep", sizeof(*ep) + size * sizeof(ep->cpl[0]),
				RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (ep == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ep->mask = size - 1;
	return ep;
}

static inline int32_t
copy_slice(const struct tern_slice *s)
{
	const struct tern_segment *t = s->target;
	uint8_t *remote;

	if (unlikely(t->kind != TERN_SEGMENT_LOCAL))
		return -EINVAL;
	remote = t->base + s->offset;
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
	return 0;
}

static uint16_t
memcpy_post_burst(struct tern_endpoint *ep, const struct tern_slice *slices, uint16_t nb)
{
	uint32_t room = ep->mask + 1 - (ep->tail - ep->head);
	uint16_t i, n = (uint16_t)RTE_MIN((uint32_t)nb, room);

	for (i = 0; i < n; i++) {
		struct tern_completion *c = &ep->cpl[ep->tail++ & ep->mask];

		c->cookie = slices[i].cookie;
		c->status = copy_slice(&slices[i]);
		c->length = c->status == 0 ? slices[i].length : 0;
	}
	return n;
}

static uint16_t
memcpy_poll(struct tern_endpoint *ep, struct tern_completion *cpl, uint16_t max)
{
	uint16_t n = 0;

	while (n < max && ep->head != ep->tail)
		cpl[n++] = ep->cpl[ep->head++ & ep->mask];
	return n;
}

/* Copies finish inside post_burst(): nothing is ever in flight to cancel. */
static void
memcpy_cancel(struct tern_endpoint *ep)
{
	RTE_SET_USED(ep);
}

static void
memcpy_endpoint_close(struct tern_endpoint *ep)
{
	rte_free(ep);
}

static const struct tern_transport_ops memcpy_ops = {
	.name = "memcpy",
	.rank = 0,
	.probe = memcpy_probe,
	.endpoint_open = memcpy_endpoint_open,
	.post_burst = memcpy_post_burst,
	.poll = memcpy_poll,
	.cancel = memcpy_cancel,
	.endpoint_close = memcpy_endpoint_close,
};

TERN_TRANSPORT_REGISTER(memcpy_ops)
