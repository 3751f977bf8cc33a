/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The memcpy transport: targets mapped in this process (and, through DPDK's
 * shared memory, in its secondary processes). The lcore copies each slice as
 * it is posted; completions wait in a small per-endpoint queue until polled.
 * Large requests are copied with streaming stores (the engine's
 * TERN_SLICE_F_STREAM hint), the rest with glibc memcpy.
 */
#include <rte_branch_prediction.h>

#include <tern_copy_endpoint.h>
#include <tern_transport_driver.h>

static int
memcpy_probe(void)
{
	return 0;
}

static struct tern_endpoint *
memcpy_endpoint_open(const struct tern_endpoint_conf *conf)
{
	return tern_copy_endpoint_open(conf, "tern_memcpy_ep");
}

static inline int32_t
copy_slice(const struct tern_slice *s)
{
	const struct tern_segment *t = s->target;

	if (unlikely(t->kind != TERN_SEGMENT_LOCAL))
		return -EINVAL;
	tern_copy_slice(s, t->base + s->offset);
	return 0;
}

static uint16_t
memcpy_post_burst(struct tern_endpoint *ep, const struct tern_slice *slices, uint16_t nb)
{
	return tern_copy_endpoint_post(ep, slices, nb, copy_slice);
}

static const struct tern_transport_ops memcpy_ops = {
	.name = "memcpy",
	.rank = 0,
	.probe = memcpy_probe,
	.endpoint_open = memcpy_endpoint_open,
	.post_burst = memcpy_post_burst,
	.poll = tern_copy_endpoint_poll,
	.cancel = tern_copy_endpoint_cancel,
	.endpoint_close = tern_copy_endpoint_close,
};

TERN_TRANSPORT_REGISTER(memcpy_ops)
