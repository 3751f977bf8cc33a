/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_common.h>

#include <tern_cli.h>

#include "tern_transport_driver.h"

/* Written by constructors and by the control thread before any engine
 * exists; read-only afterwards. */
static const struct tern_transport_ops *registry[TERN_TRANSPORT_MAX];
static int registry_count;

static int
name_valid(const char *name)
{
	return tern_cli_check_name_chars(name, TERN_TRANSPORT_NAME_MAX, TERN_CLI_NAME_LOWER) == 0;
}

int
tern_transport_register(const struct tern_transport_ops *ops)
{
	int i;

	if (ops == NULL || !name_valid(ops->name) || ops->endpoint_open == NULL ||
	    ops->post_burst == NULL || ops->poll == NULL || ops->cancel == NULL ||
	    ops->endpoint_close == NULL)
		return -EINVAL;
	for (i = 0; i < registry_count; i++)
		if (strcmp(registry[i]->name, ops->name) == 0)
			return -EEXIST;
	if (registry_count == TERN_TRANSPORT_MAX)
		return -ENOSPC;
	registry[registry_count] = ops;
	return registry_count++;
}

int
tern_transport_id(const char *name)
{
	int i;

	if (name == NULL)
		return -EINVAL;
	for (i = 0; i < registry_count; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return i;
	return -ENOENT;
}

const struct tern_transport_ops *
tern_transport_get(int id)
{
	if (id < 0 || id >= registry_count)
		return NULL;
	return registry[id];
}

int
tern_transport_count(void)
{
	return registry_count;
}

const char *
tern_transport_name(int id)
{
	const struct tern_transport_ops *ops = tern_transport_get(id);

	return ops != NULL ? ops->name : NULL;
}
