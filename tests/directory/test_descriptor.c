/* SPDX-License-Identifier: BSD-3-Clause */
/* Descriptors: fields, encoding, and a strict decoder (no EAL needed). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_log.h>

#include <tern_descriptor.h>

static void
make_full(struct tern_descriptor *d)
{
	static const uint8_t gid[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 0xff };

	assert_int_equal(tern_descriptor_init(d, "node-a", "seg.0:x", 1 << 20), 0);
	assert_int_equal(tern_descriptor_set_str(d, "tcp", "addr", "127.0.0.1"), 0);
	assert_int_equal(tern_descriptor_set_u64(d, "tcp", "port", 7001), 0);
	assert_int_equal(tern_descriptor_set_u64(d, "tcp", "id", 65537), 0);
	assert_int_equal(tern_descriptor_set_str(d, "shm", "path", "/dev/hugepages/tern_x"), 0);
	assert_int_equal(tern_descriptor_set_u64(d, "shm", "inode", 1234567), 0);
	assert_int_equal(tern_descriptor_set_bytes(d, "mlx5", "gid", gid, sizeof(gid)), 0);
	assert_int_equal(tern_descriptor_set_u64(d, "mlx5", "lid", 0), 0);
	assert_int_equal(tern_descriptor_set_u64(d, "mlx5", "rkey", 0xdeadbeef), 0);
	assert_int_equal(tern_descriptor_set_u64(d, "mlx5", "addr", 0x7f0000001000ull), 0);
}

static void
roundtrip_keeps_every_field(void **state)
{
	char buf[TERN_DESCRIPTOR_WIRE_MAX + 1], buf2[TERN_DESCRIPTOR_WIRE_MAX + 1], s[64];
	struct tern_descriptor d, e;
	uint8_t gid[16];
	uint64_t v;
	int n, n2;

	(void)state;
	make_full(&d);
	n = tern_descriptor_encode(&d, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_int_equal(tern_descriptor_decode(&e, buf, (size_t)n), 0);
	assert_true(tern_descriptor_equal(&d, &e));
	assert_string_equal(e.node, "node-a");
	assert_string_equal(e.segment, "seg.0:x");
	assert_int_equal(e.length, 1 << 20);
	assert_int_equal(tern_descriptor_get_str(&e, "tcp", "addr", s, sizeof(s)), 9);
	assert_string_equal(s, "127.0.0.1");
	assert_int_equal(tern_descriptor_get_u64(&e, "tcp", "port", &v), 0);
	assert_int_equal(v, 7001);
	assert_int_equal(tern_descriptor_get_u64(&e, "mlx5", "addr", &v), 0);
	assert_int_equal(v, 0x7f0000001000ull);
	assert_int_equal(tern_descriptor_get_bytes(&e, "mlx5", "gid", gid, sizeof(gid)), 16);
	assert_int_equal(gid[0], 0xfe);
	assert_int_equal(gid[15], 0xff);
	/* Equal descriptors encode to equal bytes. */
	n2 = tern_descriptor_encode(&e, buf2, sizeof(buf2));
	assert_int_equal(n, n2);
	assert_memory_equal(buf, buf2, (size_t)n);
	assert_non_null(strstr(buf, "\"v\":1"));
	tern_descriptor_fini(&d);
	tern_descriptor_fini(&e);
	tern_descriptor_fini(&e); /* idempotent */
}

static void
getters_report_missing_and_mistyped(void **state)
{
	struct tern_descriptor d;
	char s[8], small[4];
	uint8_t b[2];
	uint64_t v;

	(void)state;
	make_full(&d);
	assert_int_equal(tern_descriptor_get_u64(&d, "rdma", "port", &v), -ENOENT);
	assert_int_equal(tern_descriptor_get_u64(&d, "tcp", "nope", &v), -ENOENT);
	assert_int_equal(tern_descriptor_get_u64(&d, "tcp", "addr", &v), -EPROTO);
	assert_int_equal(tern_descriptor_get_str(&d, "tcp", "port", s, sizeof(s)), -EPROTO);
	assert_int_equal(tern_descriptor_get_str(&d, "tcp", "addr", small, sizeof(small)),
			 -ENOBUFS);
	assert_int_equal(tern_descriptor_get_bytes(&d, "mlx5", "gid", b, sizeof(b)), -ENOBUFS);
	assert_int_equal(tern_descriptor_get_bytes(&d, "tcp", "addr", b, sizeof(b)), -EPROTO);
	assert_int_equal(tern_descriptor_get_u64(&d, "TCP", "port", &v), -EINVAL);
	assert_int_equal(tern_descriptor_get_u64(&d, "tcp", "port", NULL), -EINVAL);
	assert_int_equal(tern_descriptor_has_transport(&d, "tcp"), 1);
	assert_int_equal(tern_descriptor_has_transport(&d, "rdma"), 0);
	assert_int_equal(tern_descriptor_remove_transport(&d, "tcp"), 0);
	assert_int_equal(tern_descriptor_remove_transport(&d, "tcp"), -ENOENT);
	assert_int_equal(tern_descriptor_has_transport(&d, "tcp"), 0);
	tern_descriptor_fini(&d);
}

static void
transports_are_listed_in_name_order(void **state)
{
	struct tern_descriptor d;
	char name[TERN_DESCRIPTOR_KEY_MAX];

	(void)state;
	make_full(&d);
	assert_int_equal(tern_descriptor_transport_name(&d, 0, name, sizeof(name)), 4);
	assert_string_equal(name, "mlx5");
	assert_int_equal(tern_descriptor_transport_name(&d, 1, name, sizeof(name)), 3);
	assert_string_equal(name, "shm");
	assert_int_equal(tern_descriptor_transport_name(&d, 2, name, sizeof(name)), 3);
	assert_string_equal(name, "tcp");
	assert_int_equal(tern_descriptor_transport_name(&d, 3, name, sizeof(name)), -ENOENT);
	assert_int_equal(tern_descriptor_transport_name(&d, 0, name, 2), -ENOBUFS);
	tern_descriptor_fini(&d);
}

static void
setters_enforce_limits(void **state)
{
	char long_str[TERN_DESCRIPTOR_STR_MAX + 1], key[8];
	uint8_t blob[TERN_DESCRIPTOR_STR_MAX];
	struct tern_descriptor d;
	unsigned int i;

	(void)state;
	assert_int_equal(tern_descriptor_init(&d, "n", "s", 1), 0);
	assert_int_equal(tern_descriptor_set_u64(&d, "tcp", "port", (uint64_t)INT64_MAX + 1),
			 -ERANGE);
	assert_int_equal(tern_descriptor_set_str(&d, "Tcp", "addr", "x"), -EINVAL);
	assert_int_equal(tern_descriptor_set_str(&d, "tcp", "a-b", "x"), -EINVAL);
	assert_int_equal(tern_descriptor_set_str(&d, "", "a", "x"), -EINVAL);
	assert_int_equal(tern_descriptor_set_str(&d, "tcp", "a", "tab\there"), -EINVAL);
	memset(long_str, 'x', sizeof(long_str) - 1);
	long_str[sizeof(long_str) - 1] = '\0';
	assert_int_equal(tern_descriptor_set_str(&d, "tcp", "a", long_str), -EINVAL);
	long_str[TERN_DESCRIPTOR_STR_MAX - 1] = '\0';
	assert_int_equal(tern_descriptor_set_str(&d, "tcp", "a", long_str), 0);
	memset(blob, 0xab, sizeof(blob));
	assert_int_equal(tern_descriptor_set_bytes(&d, "tcp", "b", blob, 255), 0);
	assert_int_equal(tern_descriptor_set_bytes(&d, "tcp", "b", blob, 256), -EINVAL);
	assert_int_equal(tern_descriptor_set_bytes(&d, "tcp", "b", blob, 0), -EINVAL);
	for (i = 0; i < TERN_DESCRIPTOR_FIELD_MAX - 2; i++) {
		snprintf(key, sizeof(key), "f%u", i);
		assert_int_equal(tern_descriptor_set_u64(&d, "tcp", key, i), 0);
	}
	assert_int_equal(tern_descriptor_set_u64(&d, "tcp", "onemore", 1), -ENOSPC);
	assert_int_equal(tern_descriptor_set_u64(&d, "tcp", "f0", 7), 0); /* replacing is fine */
	for (i = 1; i < TERN_DESCRIPTOR_TRANSPORT_MAX; i++) {
		snprintf(key, sizeof(key), "t%u", i);
		assert_int_equal(tern_descriptor_set_u64(&d, key, "x", i), 0);
	}
	assert_int_equal(tern_descriptor_set_u64(&d, "t99", "x", 1), -ENOSPC);
	tern_descriptor_fini(&d);
}

static void
init_rejects_bad_names(void **state)
{
	char name[TERN_DESCRIPTOR_NAME_MAX + 1];
	struct tern_descriptor d;

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(tern_descriptor_init(&d, name, "s", 1), -EINVAL);
	name[TERN_DESCRIPTOR_NAME_MAX - 1] = '\0'; /* 47 characters: the longest */
	assert_int_equal(tern_descriptor_init(&d, name, "s", 1), 0);
	tern_descriptor_fini(&d);
	assert_int_equal(tern_descriptor_init(&d, "a/b", "s", 1), -EINVAL);
	assert_int_equal(tern_descriptor_init(&d, "", "s", 1), -EINVAL);
	assert_int_equal(tern_descriptor_init(&d, "n", "s*", 1), -EINVAL);
	assert_int_equal(tern_descriptor_init(&d, "n", "s", 0), -EINVAL);
	assert_int_equal(tern_descriptor_init(&d, "n", "s", (uint64_t)INT64_MAX + 1), -EINVAL);
	assert_int_equal(tern_descriptor_init(&d, NULL, "s", 1), -EINVAL);
	assert_int_equal(tern_descriptor_init(NULL, "n", "s", 1), -EINVAL);
}

static void
encode_reports_small_buffer(void **state)
{
	struct tern_descriptor d;
	char buf[16];

	(void)state;
	make_full(&d);
	assert_int_equal(tern_descriptor_encode(&d, buf, sizeof(buf)), -ENOBUFS);
	assert_int_equal(tern_descriptor_encode(NULL, buf, sizeof(buf)), -EINVAL);
	tern_descriptor_fini(&d);
}

static void
copy_is_independent(void **state)
{
	struct tern_descriptor d, c;
	uint64_t v;

	(void)state;
	make_full(&d);
	assert_int_equal(tern_descriptor_copy(&c, &d), 0);
	assert_true(tern_descriptor_equal(&c, &d));
	assert_int_equal(tern_descriptor_set_u64(&c, "tcp", "port", 9), 0);
	assert_false(tern_descriptor_equal(&c, &d));
	assert_int_equal(tern_descriptor_get_u64(&d, "tcp", "port", &v), 0);
	assert_int_equal(v, 7001);
	tern_descriptor_fini(&d);
	tern_descriptor_fini(&c);
}

#define OK_HEAD "{\"v\":1,\"node\":\"n\",\"segment\":\"s\",\"length\":4096,"

static const struct {
	const char *text;
	int rc;
} cases[] = {
	{ OK_HEAD "\"transports\":{}}", 0 },
	{ OK_HEAD "\"transports\":{\"tcp\":{\"port\":1,\"addr\":\"h\"}}}\n\t ", 0 },
	{ "", -EINVAL },
	{ "   ", -EINVAL },
	{ "[]", -EINVAL },
	{ "42", -EINVAL },
	{ "\"v\"", -EINVAL },
	{ "null", -EINVAL },
	{ "{}", -EINVAL },
	{ "{\"v\":\"1\",\"node\":\"n\",\"segment\":\"s\",\"length\":1,\"transports\":{}}",
	  -EINVAL },
	{ "{\"v\":1.0,\"node\":\"n\",\"segment\":\"s\",\"length\":1,\"transports\":{}}", -EINVAL },
	{ "{\"v\":2,\"node\":\"n\",\"segment\":\"s\",\"length\":1,\"transports\":{}}", -EPROTO },
	{ "{\"v\":0}", -EPROTO },
	{ "{\"v\":-1}", -EPROTO },
	{ "{\"v\":2,\"future\":[1,2,3]}", -EPROTO },
	{ "{\"v\":1,\"segment\":\"s\",\"length\":1,\"transports\":{}}", -EINVAL },
	{ "{\"v\":1,\"node\":\"n\",\"length\":1,\"transports\":{}}", -EINVAL },
	{ "{\"v\":1,\"node\":\"n\",\"segment\":\"s\",\"transports\":{}}", -EINVAL },
	{ "{\"v\":1,\"node\":\"n\",\"segment\":\"s\",\"length\":1}", -EINVAL },
	{ "{\"v\":1,\"node\":7,\"segment\":\"s\",\"length\":1,\"transports\":{}}", -EINVAL },
	{ "{\"v\":1,\"node\":\"a/b\",\"segment\":\"s\",\"length\":1,\"transports\":{}}", -EINVAL },
	{ "{\"v\":1,\"node\":\"\",\"segment\":\"s\",\"length\":1,\"transports\":{}}", -EINVAL },
	{ "{\"v\":1,\"node\":\"n\\u0000x\",\"segment\":\"s\",\"length\":1,\"transports\":{}}",
	  -EINVAL },
	{ "{\"v\":1,\"node\":\"n\\u00e9\",\"segment\":\"s\",\"length\":1,\"transports\":{}}",
	  -EINVAL },
	{ "{\"v\":1,\"node\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	  "\"segment\":\"s\",\"length\":1,\"transports\":{}}",
	  -EINVAL },
	{ "{\"v\":1,\"node\":\"n\",\"segment\":null,\"length\":1,\"transports\":{}}", -EINVAL },
	{ "{\"v\":1,\"node\":\"n\",\"segment\":\"s\",\"length\":0,\"transports\":{}}", -EINVAL },
	{ "{\"v\":1,\"node\":\"n\",\"segment\":\"s\",\"length\":-5,\"transports\":{}}", -EINVAL },
	{ "{\"v\":1,\"node\":\"n\",\"segment\":\"s\",\"length\":1.5,\"transports\":{}}", -EINVAL },
	{ "{\"v\":1,\"node\":\"n\",\"segment\":\"s\",\"length\":\"1\",\"transports\":{}}",
	  -EINVAL },
	{ "{\"v\":1,\"node\":\"n\",\"segment\":\"s\",\"length\":99999999999999999999,"
	  "\"transports\":{}}",
	  -EINVAL },
	{ OK_HEAD "\"transports\":[]}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"tcp\":[]}}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"TCP\":{}}}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"t-p\":{}}}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"tcp\":{\"port\":null}}}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"tcp\":{\"port\":1.5}}}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"tcp\":{\"port\":true}}}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"tcp\":{\"port\":-1}}}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"tcp\":{\"port\":{\"x\":1}}}}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"tcp\":{\"addr\":\"a\\nb\"}}}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"tcp\":{\"Addr\":\"a\"}}}", -EINVAL },
	{ OK_HEAD "\"transports\":{\"a\":{},\"b\":{},\"c\":{},\"d\":{},\"e\":{},\"f\":{},"
		  "\"g\":{},\"h\":{},\"i\":{}}}",
	  -EINVAL },
	{ OK_HEAD "\"transports\":{\"t\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,"
		  "\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,"
		  "\"p\":1,\"q\":1}}}",
	  -EINVAL },
	{ OK_HEAD "\"transports\":{},\"extra\":1}", -EINVAL },
	{ OK_HEAD "\"transports\":{},\"v\":1}", -EINVAL },
	{ OK_HEAD "\"transports\":{}}x", -EINVAL },
	{ OK_HEAD "\"transports\":{}}{}", -EINVAL },
	{ OK_HEAD "\"transports\":{}", -EINVAL },
	{ "{\"v\":1,\"node\":\"n\",\"segment\":\"s\",\"length\":1,\"transports\":{}", -EINVAL },
	{ "\xff\xfe{}", -EINVAL },
	{ "{\"v\":1,\"node\":\"\xc3\x28\",\"segment\":\"s\",\"length\":1,\"transports\":{}}",
	  -EINVAL },
};

static void
decode_rejects_malformed_input(void **state)
{
	struct tern_descriptor d;
	unsigned int i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = tern_descriptor_decode(&d, cases[i].text, strlen(cases[i].text));
		if (rc != cases[i].rc)
			fail_msg("case %u (%s): got %d, want %d", i, cases[i].text, rc,
				 cases[i].rc);
		if (rc == 0)
			tern_descriptor_fini(&d);
		else
			assert_null(d.transports);
	}
}

static void
decode_rejects_oversized_and_binary_input(void **state)
{
	static const char ok[] = OK_HEAD "\"transports\":{}}";
	size_t big = TERN_DESCRIPTOR_WIRE_MAX + 1;
	struct tern_descriptor d;
	char *buf;

	(void)state;
	/* Valid JSON padded with whitespace past the limit. */
	buf = malloc(big);
	assert_non_null(buf);
	memset(buf, ' ', big);
	memcpy(buf, ok, strlen(ok));
	assert_int_equal(tern_descriptor_decode(&d, buf, big), -EINVAL);
	assert_int_equal(tern_descriptor_decode(&d, buf, big - 1), 0);
	tern_descriptor_fini(&d);
	/* Deep nesting stays an error, not a crash. */
	memset(buf, '[', big - 1);
	assert_int_equal(tern_descriptor_decode(&d, buf, big - 1), -EINVAL);
	free(buf);
	/* A NUL inside the buffer is trailing garbage, not an end. */
	assert_int_equal(tern_descriptor_decode(&d, ok, sizeof(ok)), -EINVAL);
	assert_int_equal(tern_descriptor_decode(&d, NULL, 1), -EINVAL);
	assert_int_equal(tern_descriptor_decode(NULL, ok, strlen(ok)), -EINVAL);
}

static void
encode_refuses_oversized_descriptor(void **state)
{
	static char buf[128 * 1024];
	char value[TERN_DESCRIPTOR_STR_MAX], t[8], f[8];
	struct tern_descriptor d;
	unsigned int i, j;

	(void)state;
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	assert_int_equal(tern_descriptor_init(&d, "n", "s", 1), 0);
	for (i = 0; i < TERN_DESCRIPTOR_TRANSPORT_MAX; i++)
		for (j = 0; j < TERN_DESCRIPTOR_FIELD_MAX; j++) {
			snprintf(t, sizeof(t), "t%u", i);
			snprintf(f, sizeof(f), "f%u", j);
			assert_int_equal(tern_descriptor_set_str(&d, t, f, value), 0);
		}
	assert_int_equal(tern_descriptor_encode(&d, buf, sizeof(buf)), -EMSGSIZE);
	tern_descriptor_fini(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip_keeps_every_field),
		cmocka_unit_test(getters_report_missing_and_mistyped),
		cmocka_unit_test(transports_are_listed_in_name_order),
		cmocka_unit_test(setters_enforce_limits),
		cmocka_unit_test(init_rejects_bad_names),
		cmocka_unit_test(encode_reports_small_buffer),
		cmocka_unit_test(copy_is_independent),
		cmocka_unit_test(decode_rejects_malformed_input),
		cmocka_unit_test(decode_rejects_oversized_and_binary_input),
		cmocka_unit_test(encode_refuses_oversized_descriptor),
	};

	/* Rejections are logged at NOTICE; keep the test output readable. */
	rte_log_set_level_pattern("tern.descriptor", RTE_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
