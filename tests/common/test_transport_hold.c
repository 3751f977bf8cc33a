/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include <tern_transport_driver.h>

#include "test_transport_hold.h"

struct hold_endpoint {
	struct tern_endpoint base; /* first: hold_ep() */
	uint32_t nb_held;
	uint32_t cap;
	uint32_t seen_gen;
	int cancelled;
	uint32_t nb_ntf;
	struct tern_completion ntf[64]; /* answered notifications */
	struct tern_completion held[];
};

static uint32_t release_gen;
static int32_t release_status;
static int release_sticky;
static uint64_t held_total;
static int ignore_cancel;
static struct tern_notify_queue *notify_queue;

static struct hold_endpoint *
hold_ep(struct tern_endpoint *base)
{
	return container_of(base, struct hold_endpoint, base);
}

static struct tern_endpoint *
hold_open(const struct tern_endpoint_conf *conf)
{
	struct hold_endpoint *ep;

	ep = rte_zmalloc("hold_ep", sizeof(*ep) + conf->max_slices * sizeof(ep->held[0]), 0);
	if (ep == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ep->cap = conf->max_slices;
	ep->seen_gen = __atomic_load_n(&release_gen, __ATOMIC_ACQUIRE);
	ep->base.lcore_id = conf->lcore_id;
	return &ep->base;
}

static uint16_t
hold_post(struct tern_endpoint *base, const struct tern_slice *s, uint16_t nb)
{
	struct hold_endpoint *ep = hold_ep(base);
	uint16_t i;

	for (i = 0; i < nb && ep->nb_held < ep->cap; i++) {
		ep->held[ep->nb_held].cookie = s[i].cookie;
		ep->held[ep->nb_held].length = s[i].length;
		ep->held[ep->nb_held].status = 0;
		ep->nb_held++;
	}
	__atomic_fetch_add(&held_total, i, __ATOMIC_RELAXED);
	return i;
}

static uint16_t
hold_poll(struct tern_endpoint *base, struct tern_completion *cpl, uint16_t max)
{
	struct hold_endpoint *ep = hold_ep(base);
	uint32_t gen = __atomic_load_n(&release_gen, __ATOMIC_ACQUIRE);
	int32_t status;
	uint16_t n = 0;

	while (n < max && ep->nb_ntf != 0)
		cpl[n++] = ep->ntf[--ep->nb_ntf];
	if (n != 0)
		return n;
	if (gen == ep->seen_gen && !ep->cancelled)
		return 0;
	status = ep->cancelled ? -ECANCELED : __atomic_load_n(&release_status, __ATOMIC_RELAXED);
	while (n < max && ep->nb_held != 0) {
		cpl[n] = ep->held[--ep->nb_held];
		cpl[n].status = status;
		cpl[n].length = status == 0 ? cpl[n].length : 0;
		n++;
	}
	__atomic_fetch_sub(&held_total, n, __ATOMIC_RELAXED);
	if (ep->nb_held == 0 && !__atomic_load_n(&release_sticky, __ATOMIC_RELAXED))
		ep->seen_gen = gen;
	return n;
}

/* Delivers at once into the test's queue (hold_notify_queue()). */
static int
hold_notify_post(struct tern_endpoint *base, const struct tern_notify_post *n)
{
	struct hold_endpoint *ep = hold_ep(base);
	struct tern_notify_queue *q = __atomic_load_n(&notify_queue, __ATOMIC_ACQUIRE);

	if (ep->nb_ntf == RTE_DIM(ep->ntf))
		return -EAGAIN;
	ep->ntf[ep->nb_ntf++] = (struct tern_completion){
		.cookie = n->cookie,
		.status = q == NULL ? -ENOTSUP
				    : tern_notify_deliver(q, n->sender, n->tag, n->msg, n->msg_len),
	};
	return 0;
}

static void
hold_cancel(struct tern_endpoint *base)
{
	if (!__atomic_load_n(&ignore_cancel, __ATOMIC_RELAXED))
		hold_ep(base)->cancelled = 1;
}

static void
hold_close(struct tern_endpoint *base)
{
	rte_free(hold_ep(base));
}

static const struct tern_transport_ops hold_ops = {
	.name = "hold",
	.rank = 100,
	.endpoint_open = hold_open,
	.post_burst = hold_post,
	.poll = hold_poll,
	.cancel = hold_cancel,
	.endpoint_close = hold_close,
	.notify_post = hold_notify_post,
};

void
hold_register(void)
{
	if (tern_transport_id("hold") < 0 && tern_transport_register(&hold_ops) < 0)
		abort();
}

void
hold_release(int32_t status, int sticky)
{
	__atomic_store_n(&release_status, status, __ATOMIC_RELAXED);
	__atomic_store_n(&release_sticky, sticky, __ATOMIC_RELAXED);
	__atomic_fetch_add(&release_gen, 1, __ATOMIC_RELEASE);
}

uint64_t
hold_count(void)
{
	return __atomic_load_n(&held_total, __ATOMIC_RELAXED);
}

void
hold_ignore_cancel(int ignore)
{
	__atomic_store_n(&ignore_cancel, ignore, __ATOMIC_RELAXED);
}

uint32_t
hold_segment(struct tern_segment_table *segments, const char *name, uint64_t length)
{
	uint32_t h = TERN_SEGMENT_INVALID;
	int ret = tern_segment_register(segments,
					&(struct tern_segment_conf){ .name = name,
								     .kind = TERN_SEGMENT_REMOTE,
								     .transport = "hold",
								     .length = length },
					&h);

	if (ret != 0) {
		fprintf(stderr, "hold_segment %s: %s\n", name, rte_strerror(-ret));
		abort();
	}
	return h;
}

void
hold_notify_queue(struct tern_notify_queue *q)
{
	__atomic_store_n(&notify_queue, q, __ATOMIC_RELEASE);
}
