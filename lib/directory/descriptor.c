/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Descriptors: construction, typed field access, JSON encode and a strict
 * decoder. The bottom of lib/directory: calls nothing else in it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include <rte_common.h>
#include <rte_log.h>

#include "tern_descriptor.h"

/* The codec's own log type: it sits below the directory and is linked alone
 * (tests, the fuzzer), so it cannot borrow the directory's. Used in this file
 * only, hence registered by hand rather than with RTE_LOG_REGISTER (which
 * makes the variable global). */
static int descriptor_logtype;

RTE_INIT(descriptor_log_register)
{
	descriptor_logtype = rte_log_register_type_and_pick_level("tern.descriptor", RTE_LOG_INFO);
	if (descriptor_logtype < 0)
		descriptor_logtype = RTE_LOGTYPE_EAL;
}

#define DESC_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, descriptor_logtype, "tern_descriptor: " fmt "\n", ##__VA_ARGS__)

static bool
name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == ':' || c == '-';
}

static bool
key_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

int
tern_descriptor_name_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return 0;
	for (i = 0; name[i] != '\0'; i++)
		if (i + 1 >= TERN_DESCRIPTOR_NAME_MAX || !name_char_ok(name[i]))
			return 0;
	return 1;
}

static bool
key_valid(const char *key)
{
	size_t i;

	if (key == NULL || key[0] == '\0')
		return false;
	for (i = 0; key[i] != '\0'; i++)
		if (i + 1 >= TERN_DESCRIPTOR_KEY_MAX || !key_char_ok(key[i]))
			return false;
	return true;
}

static bool
str_value_valid(const char *s, size_t len)
{
	size_t i;

	if (len >= TERN_DESCRIPTOR_STR_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

int
tern_descriptor_init(struct tern_descriptor *d, const char *node, const char *segment,
		     uint64_t length)
{
	if (d == NULL)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	if (!tern_descriptor_name_valid(node) || !tern_descriptor_name_valid(segment) ||
	    length == 0 || length > TERN_DESCRIPTOR_INT_MAX)
		return -EINVAL;
	d->transports = json_object();
	if (d->transports == NULL)
		return -ENOMEM;
	strcpy(d->node, node);
	strcpy(d->segment, segment);
	d->length = length;
	return 0;
}

void
tern_descriptor_fini(struct tern_descriptor *d)
{
	if (d == NULL)
		return;
	json_decref(d->transports);
	d->transports = NULL;
}

int
tern_descriptor_copy(struct tern_descriptor *dst, const struct tern_descriptor *src)
{
	if (dst == NULL || src == NULL || src->transports == NULL)
		return -EINVAL;
	*dst = *src;
	dst->transports = json_deep_copy(src->transports);
	return dst->transports == NULL ? -ENOMEM : 0;
}

/* The object of @p transport, created when @p create and absent. */
static int
transport_object(const struct tern_descriptor *d, const char *transport, bool create, json_t **objp)
{
	json_t *obj;

	if (d == NULL || d->transports == NULL || !key_valid(transport))
		return -EINVAL;
	obj = json_object_get(d->transports, transport);
	if (obj == NULL) {
		if (!create)
			return -ENOENT;
		if (json_object_size(d->transports) >= TERN_DESCRIPTOR_TRANSPORT_MAX)
			return -ENOSPC;
		obj = json_object();
		if (obj == NULL || json_object_set_new(d->transports, transport, obj) != 0)
			return -ENOMEM;
	}
	*objp = obj;
	return 0;
}

static int
field_set(struct tern_descriptor *d, const char *transport, const char *field, json_t *value)
{
	json_t *obj;
	int rc;

	if (value == NULL)
		return -ENOMEM;
	if (!key_valid(field)) {
		json_decref(value);
		return -EINVAL;
	}
	rc = transport_object(d, transport, true, &obj);
	if (rc < 0) {
		json_decref(value);
		return rc;
	}
	if (json_object_get(obj, field) == NULL &&
	    json_object_size(obj) >= TERN_DESCRIPTOR_FIELD_MAX) {
		json_decref(value);
		return -ENOSPC;
	}
	return json_object_set_new(obj, field, value) == 0 ? 0 : -ENOMEM;
}

static int
field_get(const struct tern_descriptor *d, const char *transport, const char *field,
	  json_t **valuep)
{
	json_t *obj;
	int rc;

	if (!key_valid(field))
		return -EINVAL;
	rc = transport_object(d, transport, false, &obj);
	if (rc < 0)
		return rc;
	*valuep = json_object_get(obj, field);
	return *valuep == NULL ? -ENOENT : 0;
}

int
tern_descriptor_set_str(struct tern_descriptor *d, const char *transport, const char *field,
			const char *value)
{
	if (value == NULL || !str_value_valid(value, strlen(value)))
		return -EINVAL;
	return field_set(d, transport, field, json_string(value));
}

int
tern_descriptor_set_u64(struct tern_descriptor *d, const char *transport, const char *field,
			uint64_t value)
{
	if (value > TERN_DESCRIPTOR_INT_MAX)
		return -ERANGE;
	return field_set(d, transport, field, json_integer((json_int_t)value));
}

int
tern_descriptor_set_bytes(struct tern_descriptor *d, const char *transport, const char *field,
			  const void *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char text[TERN_DESCRIPTOR_STR_MAX];
	const uint8_t *p = buf;
	size_t i;

	if (buf == NULL || len == 0 || len > (TERN_DESCRIPTOR_STR_MAX - 1) / 2)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		text[2 * i] = hex[p[i] >> 4];
		text[2 * i + 1] = hex[p[i] & 0xf];
	}
	text[2 * len] = '\0';
	return field_set(d, transport, field, json_string(text));
}

int
tern_descriptor_get_str(const struct tern_descriptor *d, const char *transport, const char *field,
			char *buf, size_t len)
{
	json_t *value;
	size_t n;
	int rc;

	if (buf == NULL)
		return -EINVAL;
	rc = field_get(d, transport, field, &value);
	if (rc < 0)
		return rc;
	if (!json_is_string(value))
		return -EPROTO;
	n = json_string_length(value);
	if (n >= len)
		return -ENOBUFS;
	memcpy(buf, json_string_value(value), n + 1);
	return (int)n;
}

int
tern_descriptor_get_u64(const struct tern_descriptor *d, const char *transport, const char *field,
			uint64_t *value)
{
	json_t *v;
	int rc;

	if (value == NULL)
		return -EINVAL;
	rc = field_get(d, transport, field, &v);
	if (rc < 0)
		return rc;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EPROTO;
	*value = (uint64_t)json_integer_value(v);
	return 0;
}

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
tern_descriptor_get_bytes(const struct tern_descriptor *d, const char *transport, const char *field,
			  void *buf, size_t len)
{
	uint8_t *out = buf;
	const char *s;
	json_t *v;
	size_t n, i;
	int rc;

	if (buf == NULL)
		return -EINVAL;
	rc = field_get(d, transport, field, &v);
	if (rc < 0)
		return rc;
	if (!json_is_string(v))
		return -EPROTO;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n % 2 != 0)
		return -EPROTO;
	for (i = 0; i < n; i++)
		if (hex_nibble(s[i]) < 0)
			return -EPROTO;
	if (n / 2 > len)
		return -ENOBUFS;
	for (i = 0; i < n / 2; i++)
		out[i] = (uint8_t)(hex_nibble(s[2 * i]) << 4 | hex_nibble(s[2 * i + 1]));
	return (int)(n / 2);
}

int
tern_descriptor_has_transport(const struct tern_descriptor *d, const char *transport)
{
	json_t *obj;

	return transport_object(d, transport, false, &obj) == 0;
}

int
tern_descriptor_transport_name(const struct tern_descriptor *d, unsigned int index, char *buf,
			       size_t len)
{
	const char *names[TERN_DESCRIPTOR_TRANSPORT_MAX];
	unsigned int n = 0, i, j;
	const char *key, *tmp;
	json_t *value;
	size_t klen;

	if (d == NULL || d->transports == NULL || buf == NULL)
		return -EINVAL;
	json_object_foreach(d->transports, key, value)
	{
		if (n == TERN_DESCRIPTOR_TRANSPORT_MAX)
			break;
		names[n++] = key;
	}
	if (index >= n)
		return -ENOENT;
	/* Name order, independent of insertion order: a few entries, insertion sort. */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			tmp = names[j];
			names[j] = names[j - 1];
			names[j - 1] = tmp;
		}
	klen = strlen(names[index]);
	if (klen >= len)
		return -ENOBUFS;
	memcpy(buf, names[index], klen + 1);
	return (int)klen;
}

int
tern_descriptor_remove_transport(struct tern_descriptor *d, const char *transport)
{
	json_t *obj;
	int rc;

	rc = transport_object(d, transport, false, &obj);
	if (rc < 0)
		return rc;
	return json_object_del(d->transports, transport) == 0 ? 0 : -ENOENT;
}

int
tern_descriptor_equal(const struct tern_descriptor *a, const struct tern_descriptor *b)
{
	if (a == NULL || b == NULL)
		return 0;
	return strcmp(a->node, b->node) == 0 && strcmp(a->segment, b->segment) == 0 &&
	       a->length == b->length && json_equal(a->transports, b->transports);
}

int
tern_descriptor_encode(const struct tern_descriptor *d, char *buf, size_t len)
{
	json_t *root;
	size_t n;

	if (d == NULL || d->transports == NULL || buf == NULL ||
	    !tern_descriptor_name_valid(d->node) || !tern_descriptor_name_valid(d->segment) ||
	    d->length == 0 || d->length > TERN_DESCRIPTOR_INT_MAX)
		return -EINVAL;
	root = json_pack("{s:i, s:s, s:s, s:I, s:O}", "v", TERN_DESCRIPTOR_VERSION, "node", d->node,
			 "segment", d->segment, "length", (json_int_t)d->length, "transports",
			 d->transports);
	if (root == NULL)
		return -ENOMEM;
	n = json_dumpb(root, buf, len, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	if (n == 0)
		return -ENOMEM;
	if (n >= len || n > TERN_DESCRIPTOR_WIRE_MAX)
		return n > TERN_DESCRIPTOR_WIRE_MAX ? -EMSGSIZE : -ENOBUFS;
	buf[n] = '\0';
	return (int)n;
}

/* Logs why a descriptor was rejected and returns @p rc. */
static int
reject(int rc, const char *what, const char *detail)
{
	DESC_LOG(NOTICE, "descriptor rejected: %s%s%s", what, detail ? ": " : "",
		 detail ? detail : "");
	return rc;
}

static int
decode_name(json_t *root, const char *key, char *out)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL)
		return reject(-EINVAL, "missing field", key);
	if (!json_is_string(v))
		return reject(-EINVAL, "field is not a string", key);
	if (strlen(json_string_value(v)) != json_string_length(v) ||
	    !tern_descriptor_name_valid(json_string_value(v)))
		return reject(-EINVAL, "name outside [A-Za-z0-9_.:-] or too long", key);
	strcpy(out, json_string_value(v));
	return 0;
}

static int
decode_transport(const char *name, json_t *obj)
{
	const char *field;
	json_t *v;

	if (!key_valid(name))
		return reject(-EINVAL, "bad transport name (want [a-z0-9_], < 32)", NULL);
	if (!json_is_object(obj))
		return reject(-EINVAL, "transport is not an object", name);
	if (json_object_size(obj) > TERN_DESCRIPTOR_FIELD_MAX)
		return reject(-EINVAL, "too many fields in transport", name);
	json_object_foreach(obj, field, v)
	{
		if (!key_valid(field))
			return reject(-EINVAL, "bad field name (want [a-z0-9_], < 32) in", name);
		if (json_is_string(v)) {
			if (!str_value_valid(json_string_value(v), json_string_length(v)))
				return reject(-EINVAL, "string field not printable or too long",
					      field);
		} else if (json_is_integer(v)) {
			if (json_integer_value(v) < 0)
				return reject(-EINVAL, "negative integer field", field);
		} else {
			return reject(-EINVAL, "field is neither string nor integer", field);
		}
	}
	return 0;
}

int
tern_descriptor_decode(struct tern_descriptor *d, const char *buf, size_t len)
{
	static const char *const known[] = { "v", "node", "segment", "length", "transports" };
	const char *key, *name;
	json_t *root, *v, *tr;
	json_error_t err;
	unsigned int i;
	int rc;

	if (d == NULL)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	if (buf == NULL)
		return -EINVAL;
	if (len == 0 || len > TERN_DESCRIPTOR_WIRE_MAX)
		return reject(-EINVAL, "empty or longer than TERN_DESCRIPTOR_WIRE_MAX", NULL);
	/* Rejects duplicate keys, NUL in strings, integers beyond int64 and, without
	 * JSON_DISABLE_EOF_CHECK, anything but whitespace after the value. */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL)
		return reject(-EINVAL, "not JSON", err.text);
	rc = -EINVAL;
	if (!json_is_object(root)) {
		reject(rc, "not an object", NULL);
		goto out;
	}
	v = json_object_get(root, "v");
	if (v == NULL || !json_is_integer(v)) {
		reject(rc, "missing or non-integer version \"v\"", NULL);
		goto out;
	}
	if (json_integer_value(v) != TERN_DESCRIPTOR_VERSION) {
		rc = reject(-EPROTO, "unsupported version", NULL);
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		for (i = 0; i < RTE_DIM(known); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == RTE_DIM(known) || strlen(key) >= TERN_DESCRIPTOR_KEY_MAX) {
			reject(rc, "unknown field",
			       strlen(key) < TERN_DESCRIPTOR_KEY_MAX ? key : "(long)");
			goto out;
		}
	}
	if (decode_name(root, "node", d->node) < 0 || decode_name(root, "segment", d->segment) < 0)
		goto out;
	v = json_object_get(root, "length");
	if (v == NULL || !json_is_integer(v) || json_integer_value(v) <= 0) {
		reject(rc, "missing, non-integer or non-positive \"length\"", NULL);
		goto out;
	}
	d->length = (uint64_t)json_integer_value(v);
	tr = json_object_get(root, "transports");
	if (tr == NULL || !json_is_object(tr)) {
		reject(rc, "missing or non-object \"transports\"", NULL);
		goto out;
	}
	if (json_object_size(tr) > TERN_DESCRIPTOR_TRANSPORT_MAX) {
		reject(rc, "too many transports", NULL);
		goto out;
	}
	json_object_foreach(tr, name, v)
	{
		if (decode_transport(name, v) < 0)
			goto out;
	}
	d->transports = json_incref(tr);
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		memset(d, 0, sizeof(*d));
	return rc;
}
