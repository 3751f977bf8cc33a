/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_eal.h>

#include <tern_cli.h>

#include "tern_transport_driver.h"

/* Written by constructors and by the control thread before any engine
 * exists; read-only afterwards. */
static const struct tern_transport_ops *registry[TERN_TRANSPORT_MAX];
static int registry_count;
/* Control thread only: 0, or the order in which transport i was configured. */
static uint32_t configured[TERN_TRANSPORT_MAX];
static uint32_t configure_seq;

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

const char *
tern_transport_params(int id)
{
	const struct tern_transport_ops *ops = tern_transport_get(id);

	if (ops == NULL)
		return NULL;
	return ops->params != NULL ? ops->params : "";
}

uint32_t
tern_transport_flags(int id)
{
	const struct tern_transport_ops *ops = tern_transport_get(id);

	return ops != NULL ? ops->flags : 0;
}

int
tern_transport_configure(const char *name, const char *args, const struct tern_transport_env *env)
{
	struct tern_transport_env defaults = { 0 };
	const struct tern_transport_ops *ops;
	int id, ret;

	if (name == NULL)
		return -EINVAL;
	id = tern_transport_id(name);
	if (id < 0)
		return id;
	ops = registry[id];
	if (configured[id])
		return -EALREADY;
	if (args == NULL)
		args = "";
	if (ops->configure == NULL && args[0] != '\0')
		return -ENOTSUP;
	if (env != NULL)
		defaults = *env;
	if (defaults.runtime_dir == NULL)
		defaults.runtime_dir = rte_eal_get_runtime_dir();
	ret = ops->configure != NULL ? ops->configure(args, &defaults) : 0;
	if (ret != 0)
		return ret;
	configured[id] = ++configure_seq;
	return 0;
}

int
tern_transport_configured(int id)
{
	return id >= 0 && id < registry_count && configured[id] != 0;
}

int
tern_transport_describe(int id, char *buf, size_t len)
{
	const struct tern_transport_ops *ops = tern_transport_get(id);

	if (buf == NULL || len == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (ops == NULL || !configured[id])
		return -ENOENT;
	return ops->describe != NULL ? ops->describe(buf, len) : 0;
}

void
tern_transport_stop_all(void)
{
	int id, last;

	/* The last configured first: a later one may lean on an earlier one. */
	for (;;) {
		last = -1;
		for (id = 0; id < registry_count; id++)
			if (configured[id] != 0 && (last < 0 || configured[id] > configured[last]))
				last = id;
		if (last < 0)
			return;
		if (registry[last]->stop != NULL)
			registry[last]->stop();
		configured[last] = 0;
	}
}
