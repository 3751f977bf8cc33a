/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transport options: "key=value,..." through DPDK's kvargs, into the typed
 * destinations a transport declares (tern_transport_args_parse()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include <rte_common.h>
#include <rte_kvargs.h>
#include <rte_log.h>

#include <tern_cli.h>

#include "tern_transport_driver.h"

RTE_LOG_REGISTER(transport_logtype, tern.transport, NOTICE);
#define TARG_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, transport_logtype, "tern_transport: " fmt "\n", ##__VA_ARGS__)

/* More keys than any transport declares. */
#define TARGS_MAX 32

struct targ_ctx {
	const char *transport;
	const struct tern_transport_arg *arg;
};

static int
targ_value(const char *key, const char *value, void *opaque)
{
	const struct targ_ctx *ctx = opaque;
	const struct tern_transport_arg *a = ctx->arg;
	uint64_t v;
	int ret = -EINVAL;

	if (value == NULL) {
		TARG_LOG(ERR, "%s: option %s needs a value", ctx->transport, key);
		return -EINVAL;
	}
	switch (a->kind) {
	case TERN_TRANSPORT_ARG_U32:
		ret = tern_cli_parse_u64(value, a->min, a->max, &v);
		if (ret == 0)
			*(uint32_t *)a->dst = (uint32_t)v;
		break;
	case TERN_TRANSPORT_ARG_STRING:
		ret = value[0] != '\0' && strlen(value) < a->len ? 0 : -EINVAL;
		if (ret == 0)
			strcpy(a->dst, value);
		break;
	case TERN_TRANSPORT_ARG_ADDR_PORT:
		ret = tern_cli_parse_addr_port(value, a->dst, a->len, a->port);
		break;
	}
	if (ret != 0) {
		if (a->kind == TERN_TRANSPORT_ARG_U32)
			TARG_LOG(ERR, "%s: %s=%s: expected %" PRIu64 "..%" PRIu64, ctx->transport,
				 key, value, a->min, a->max);
		else
			TARG_LOG(ERR, "%s: %s=%s: bad value", ctx->transport, key, value);
		return -EINVAL;
	}
	if (a->given != NULL)
		*a->given = true;
	return 0;
}

int
tern_transport_args_parse(const char *transport, const char *args,
			  const struct tern_transport_arg *spec, unsigned int nb)
{
	const char *keys[TARGS_MAX + 1];
	struct rte_kvargs *kv;
	unsigned int i;
	int ret = 0;

	if (transport == NULL || args == NULL || (spec == NULL && nb != 0) || nb > TARGS_MAX)
		return -EINVAL;
	if (args[0] == '\0')
		return 0;
	/* kvargs skips empty pairs; a stray comma is a typo here. */
	if (args[0] == ',' || args[strlen(args) - 1] == ',' || strstr(args, ",,") != NULL) {
		TARG_LOG(ERR, "%s: '%s': an empty option", transport, args);
		return -EINVAL;
	}
	for (i = 0; i < nb; i++)
		keys[i] = spec[i].key;
	keys[nb] = NULL;
	kv = rte_kvargs_parse(args, keys);
	if (kv == NULL) {
		TARG_LOG(ERR, "%s: '%s': unknown key or malformed (its keys: %s)", transport, args,
			 nb == 0 ? "none" : "see doc/operations.md");
		return -EINVAL;
	}
	for (i = 0; i < nb && ret == 0; i++) {
		struct targ_ctx ctx = { .transport = transport, .arg = &spec[i] };

		if (rte_kvargs_count(kv, spec[i].key) != 0)
			ret = rte_kvargs_process(kv, spec[i].key, targ_value, &ctx) != 0 ? -EINVAL
											 : 0;
	}
	rte_kvargs_free(kv);
	return ret;
}
