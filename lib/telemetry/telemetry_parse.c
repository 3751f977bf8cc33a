/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <rte_common.h>
#include <rte_log.h>

#include <tern_cli.h>
#include <tern_engine.h>

#include "telemetry_parse.h"

static const char *const level_names[] = {
	[RTE_LOG_EMERG] = "emerg", [RTE_LOG_ALERT] = "alert",	  [RTE_LOG_CRIT] = "crit",
	[RTE_LOG_ERR] = "err",	   [RTE_LOG_WARNING] = "warning", [RTE_LOG_NOTICE] = "notice",
	[RTE_LOG_INFO] = "info",   [RTE_LOG_DEBUG] = "debug",
};

/* The strict parsers of lib/cli, with the telemetry range conventions. */
int
tern_tel_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return tern_cli_parse_u64(s, min, max, out);
}

int
tern_tel_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int ret;

	if (out == NULL)
		return -EINVAL;
	ret = tern_cli_parse_size(s, max, &v);
	if (ret != 0)
		return ret;
	if (v < min)
		return -ERANGE;
	*out = v;
	return 0;
}

int
tern_tel_parse_log_level(const char *s, uint32_t *level)
{
	uint64_t v;
	uint32_t i;

	if (s == NULL || level == NULL)
		return -EINVAL;
	if (tern_tel_parse_u64(s, RTE_LOG_EMERG, RTE_LOG_DEBUG, &v) == 0) {
		*level = (uint32_t)v;
		return 0;
	}
	for (i = RTE_LOG_EMERG; i <= RTE_LOG_DEBUG; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	/* The spellings of --log-level that are not the canonical names. */
	if (strcasecmp(s, "error") == 0) {
		*level = RTE_LOG_ERR;
		return 0;
	}
	if (strcasecmp(s, "warn") == 0) {
		*level = RTE_LOG_WARNING;
		return 0;
	}
	return -EINVAL;
}

const char *
tern_tel_log_level_name(uint32_t level)
{
	if (level < RTE_LOG_EMERG || level > RTE_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

void
tern_tel_sanitize(const char *in, char *out, size_t len)
{
	size_t i;

	if (len == 0)
		return;
	if (in == NULL)
		in = "";
	for (i = 0; in[i] != '\0' && i + 1 < len; i++) {
		char c = in[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("_.,:=+-", c) != NULL)
			out[i] = c;
		else
			out[i] = '?';
	}
	out[i] = '\0';
	if (in[i] != '\0' && len > 4)
		memcpy(&out[len - 4], "...", 4);
}

#define SET_USAGE "keys: slice_size=<bytes[K|M|G]>, deadline_ms=<ms>, log_level=<level>"

int
tern_tel_parse_set(const char *params, struct tern_tel_setting *out, char *err, size_t err_len)
{
	char key[32], shown[24];
	const char *eq, *value;
	uint32_t level;
	size_t key_len;
	uint64_t v;
	int ret;

	if (out == NULL || err == NULL || err_len == 0)
		return -EINVAL;
	if (params == NULL || params[0] == '\0') {
		snprintf(err, err_len, "missing parameter: %s", SET_USAGE);
		return -EINVAL;
	}
	tern_tel_sanitize(params, shown, sizeof(shown));
	eq = strchr(params, '=');
	if (eq == NULL) {
		snprintf(err, err_len, "'%s': missing '=': %s", shown, SET_USAGE);
		return -EINVAL;
	}
	/* One pair only: a second key (',' or another '=') is refused, not ignored. */
	if (strchr(params, ',') != NULL || strchr(eq + 1, '=') != NULL) {
		snprintf(err, err_len, "'%s': one key=value at a time", shown);
		return -EINVAL;
	}
	key_len = (size_t)(eq - params);
	value = eq + 1;
	if (key_len == 0 || key_len >= sizeof(key)) {
		snprintf(err, err_len, "'%s': bad key: %s", shown, SET_USAGE);
		return -EINVAL;
	}
	memcpy(key, params, key_len);
	key[key_len] = '\0';
	if (value[0] == '\0') {
		snprintf(err, err_len, "'%s': missing value", shown);
		return -EINVAL;
	}
	if (strcmp(key, "slice_size") == 0) {
		ret = tern_tel_parse_size(value, TERN_SLICE_BYTES_MIN, TERN_SLICE_BYTES_MAX, &v);
		if (ret == -ERANGE)
			snprintf(err, err_len, "'%s': slice_size must be 4K..1G", shown);
		else if (ret != 0)
			snprintf(err, err_len,
				 "'%s': slice_size is a byte count with an optional K, M or G "
				 "suffix",
				 shown);
		if (ret != 0)
			return ret;
		out->key = TERN_TEL_KEY_SLICE_SIZE;
	} else if (strcmp(key, "deadline_ms") == 0) {
		ret = tern_tel_parse_u64(value, 1, TERN_TEL_DEADLINE_MS_MAX, &v);
		if (ret == -ERANGE)
			snprintf(err, err_len, "'%s': deadline_ms must be 1..%llu", shown,
				 (unsigned long long)TERN_TEL_DEADLINE_MS_MAX);
		else if (ret != 0)
			snprintf(err, err_len, "'%s': deadline_ms is a decimal number of ms",
				 shown);
		if (ret != 0)
			return ret;
		out->key = TERN_TEL_KEY_DEADLINE_MS;
	} else if (strcmp(key, "log_level") == 0) {
		if (tern_tel_parse_log_level(value, &level) != 0) {
			snprintf(err, err_len,
				 "'%s': log_level is emerg, alert, crit, err, warning, notice, "
				 "info, debug or 1..8",
				 shown);
			return -EINVAL;
		}
		v = level;
		out->key = TERN_TEL_KEY_LOG_LEVEL;
	} else {
		snprintf(err, err_len, "'%s': unknown key: %s", shown, SET_USAGE);
		return -EINVAL;
	}
	out->value = v;
	return 0;
}

uint64_t
tern_tel_latency_percentile(const uint64_t *buckets, unsigned int nb, double percentile)
{
	uint64_t total = 0, cum = 0, rank;
	double low, high, r;
	unsigned int i;

	if (buckets == NULL || nb == 0 || nb > 63)
		return 0;
	for (i = 0; i < nb; i++)
		total += buckets[i];
	if (total == 0)
		return 0;
	if (!(percentile >= 0.0)) /* NaN too */
		percentile = 0.0;
	if (percentile > 100.0)
		percentile = 100.0;
	r = (double)total * percentile / 100.0;
	rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	for (i = 0; i < nb; i++) {
		if (buckets[i] != 0 && cum + buckets[i] >= rank)
			break;
		cum += buckets[i];
	}
	low = i == 0 ? 0.0 : (double)(1ull << i);
	high = (double)(2ull << i);
	r = low + (high - low) * (double)(rank - cum) / (double)buckets[i];
	/* Stay inside the bucket (and at or below tern_tel_latency_max()). */
	return RTE_MIN((uint64_t)r, (2ull << i) - 1);
}

uint64_t
tern_tel_latency_max(const uint64_t *buckets, unsigned int nb)
{
	unsigned int i;

	if (buckets == NULL || nb > 63)
		return 0;
	for (i = nb; i > 0; i--)
		if (buckets[i - 1] != 0)
			return (2ull << (i - 1)) - 1;
	return 0;
}

int
tern_tel_parse_peer_set(const char *params, char *node, char *transport, char *err, size_t err_len)
{
	static const char usage[] = "expected NODE=TRANSPORT or NODE=auto";
	const char *eq, *t;
	size_t n, i;

	if (params == NULL || (eq = strchr(params, '=')) == NULL) {
		snprintf(err, err_len, "%s", usage);
		return -EINVAL;
	}
	n = (size_t)(eq - params);
	if (n == 0 || n >= 48) {
		snprintf(err, err_len, "node name must be 1..47 characters; %s", usage);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		char c = params[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ':' || c == '-')) {
			snprintf(err, err_len, "node name: only [A-Za-z0-9_.:-]; %s", usage);
			return -EINVAL;
		}
	}
	t = eq + 1;
	if (strcmp(t, "auto") == 0) {
		t = "";
	} else {
		if (t[0] == '\0' || strlen(t) >= 16) {
			snprintf(err, err_len, "transport name must be 1..15 characters; %s",
				 usage);
			return -EINVAL;
		}
		for (i = 0; t[i] != '\0'; i++) {
			if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') ||
			      t[i] == '_')) {
				snprintf(err, err_len, "transport name: only [a-z0-9_]; %s", usage);
				return -EINVAL;
			}
		}
	}
	memcpy(node, params, n);
	node[n] = '\0';
	strcpy(transport, t);
	return 0;
}
