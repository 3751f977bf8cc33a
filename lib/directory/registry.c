/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend table: the one place that names the backends. The front
 * (directory.c) finds one by URI scheme here and then talks to it only
 * through its ops. An explicit table rather than constructors that register
 * themselves: in a static library an object nothing refers to is not linked,
 * and its constructor would silently never run.
 */
#include <stddef.h>
#include <string.h>

#include <rte_common.h>

#include "directory_private.h"

static const struct directory_backend_ops *const backends[] = {
	&directory_p2p_ops,
	&directory_etcd_ops,
	&directory_redis_ops,
};

const struct directory_backend_ops *
directory_backend_find(const char *scheme, size_t len)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(backends); i++)
		if (strlen(backends[i]->scheme) == len &&
		    memcmp(scheme, backends[i]->scheme, len) == 0)
			return backends[i];
	return NULL;
}
