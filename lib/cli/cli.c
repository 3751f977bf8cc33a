/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "tern_cli.h"

int
tern_cli_scan_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return 0;
}

int
tern_cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int ret;

	if (s == NULL || out == NULL)
		return -EINVAL;
	ret = tern_cli_scan_u64(&s, &v);
	if (ret != 0)
		return ret;
	if (*s != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
tern_cli_scan_size(const char **p, uint64_t *out)
{
	const char *s;
	unsigned int shift = 0;
	uint64_t v;
	int ret;

	if (p == NULL || *p == NULL || out == NULL)
		return -EINVAL;
	s = *p;
	ret = tern_cli_scan_u64(&s, &v);
	if (ret != 0)
		return ret;
	switch (*s) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case 'T':
	case 't':
		shift = 40;
		break;
	default:
		break;
	}
	if (shift != 0) {
		s++;
		if (*s == 'B' || *s == 'b')
			s++;
	}
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*p = s;
	*out = v << shift;
	return 0;
}

int
tern_cli_parse_size(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int ret;

	if (s == NULL || out == NULL)
		return -EINVAL;
	ret = tern_cli_scan_size(&s, &v);
	if (ret != 0)
		return ret;
	if (*s != '\0')
		return -EINVAL;
	if (v == 0 || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
tern_cli_check_name_chars(const char *s, unsigned int max_len, enum tern_cli_name_chars chars)
{
	size_t i, len;

	if (s == NULL || max_len == 0 || chars > TERN_CLI_NAME_LOWER)
		return -EINVAL;
	len = strnlen(s, max_len);
	if (len == 0 || len >= max_len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';

		if (chars != TERN_CLI_NAME_LOWER)
			ok = ok || (c >= 'A' && c <= 'Z');
		if (chars == TERN_CLI_NAME_SEGMENT)
			ok = ok || c == '.' || c == ':' || c == '-';
		if (!ok)
			return -EINVAL;
	}
	return 0;
}

int
tern_cli_check_name(const char *s, unsigned int max_len)
{
	return tern_cli_check_name_chars(s, max_len, TERN_CLI_NAME_WORD);
}

int
tern_cli_parse_addr_port(const char *s, char *addr, size_t addr_len, uint16_t *port)
{
	const char *colon, *start = s, *end;
	unsigned char buf[16];
	uint64_t p;
	size_t n;

	if (s == NULL || addr == NULL || port == NULL)
		return -EINVAL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return -EINVAL;
		start = s + 1;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		end = colon;
	}
	n = (size_t)(end - start);
	if (n == 0 || n >= addr_len)
		return -EINVAL;
	memcpy(addr, start, n);
	addr[n] = '\0';
	if (inet_pton(s[0] == '[' ? AF_INET6 : AF_INET, addr, buf) != 1 ||
	    tern_cli_parse_u64(colon + 1, 0, 65535, &p) != 0) {
		addr[0] = '\0';
		return -EINVAL;
	}
	*port = (uint16_t)p;
	return 0;
}
