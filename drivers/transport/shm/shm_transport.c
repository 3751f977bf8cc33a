/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shm transport (doc/shm.md): READ/WRITE into a peer's segment that this
 * process has mapped from the peer's sealed memfd. This file is the data
 * path and the ops table; the socket server, the control thread and the
 * peers are in shm_control.c, which this file calls (shm_control.h) and
 * which never calls back.
 *
 * Like the memcpy transport: the lcore copies each slice as it is posted,
 * after one relaxed check of the peer's alive flag; completions wait in a
 * per-endpoint ring until polled.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_errno.h>

#include <tern_copy_endpoint.h>
#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "shm_control.h"
#include "shm_wire.h"
#include "tern_shm.h"

static struct tern_endpoint *
shm_endpoint_open(const struct tern_endpoint_conf *conf)
{
	return tern_copy_endpoint_open(conf, "tern_shm_ep");
}

static inline int32_t
copy_slice(const struct tern_slice *s)
{
	struct shm_remote r;

	memcpy(&r, s->target->priv, sizeof(r));
	if (unlikely(r.peer == NULL || s->offset > r.length || s->length > r.length - s->offset))
		return -EINVAL;
	/* The mapping would still work, but it no longer belongs to anyone. */
	if (unlikely(!__atomic_load_n(&r.peer->alive, __ATOMIC_RELAXED))) {
		STAT_INC(failed_slices);
		return -ECONNRESET;
	}
	tern_copy_slice(s, r.base + s->offset);
	return 0;
}

static uint16_t
shm_post_burst(struct tern_endpoint *ep, const struct tern_slice *slices, uint16_t nb)
{
	return tern_copy_endpoint_post(ep, slices, nb, copy_slice);
}

static const struct tern_transport_ops shm_ops = {
	.name = "shm",
	.rank = 5,
	.flags = TERN_TRANSPORT_F_FILE_SEGMENTS,
	.params = SHM_PARAMS,
	.configure = shm_configure,
	.stop = shm_stop,
	.describe = shm_describe,
	.probe = shm_probe,
	.segment_export = shm_segment_export,
	.segment_import = shm_segment_import,
	.segment_release = shm_segment_release,
	.endpoint_open = shm_endpoint_open,
	.post_burst = shm_post_burst,
	.poll = tern_copy_endpoint_poll,
	.cancel = tern_copy_endpoint_cancel,
	.endpoint_close = tern_copy_endpoint_close,
};

TERN_TRANSPORT_REGISTER(shm_ops)
