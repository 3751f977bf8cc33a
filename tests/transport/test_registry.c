/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The transport registry's control path: configure() through the registry
 * with its errors, describe(), and stop_all() in reverse order of
 * configuration. Two fake transports record what the registry did to them.
 */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <tern_transport_driver.h>

static char calls[256];	  /* "configure(a:x=1) stop(b) ..." */
static int configure_ret; /* what fake_a's configure() answers */
static const char *seen_runtime_dir;

static void
record(const char *call, const char *what)
{
	size_t n = strlen(calls);

	snprintf(calls + n, sizeof(calls) - n, "%s(%s) ", call, what);
}

static int
a_configure(const char *args, const struct tern_transport_env *env)
{
	char what[64];

	snprintf(what, sizeof(what), "a:%s", args);
	record("configure", what);
	seen_runtime_dir = env->runtime_dir;
	return configure_ret;
}

static void
a_stop(void)
{
	record("stop", "a");
}

static int
a_describe(char *buf, size_t len)
{
	return snprintf(buf, len, "listening on %s", "nowhere");
}

static int
b_configure(const char *args, const struct tern_transport_env *env)
{
	(void)env;
	char what[64];

	snprintf(what, sizeof(what), "b:%s", args);
	record("configure", what);
	return 0;
}

static void
b_stop(void)
{
	record("stop", "b");
}

static struct tern_endpoint *
no_open(const struct tern_endpoint_conf *conf)
{
	(void)conf;
	return NULL;
}

static uint16_t
no_post(struct tern_endpoint *ep, const struct tern_slice *s, uint16_t nb)
{
	(void)ep, (void)s, (void)nb;
	return 0;
}

static uint16_t
no_poll(struct tern_endpoint *ep, struct tern_completion *c, uint16_t max)
{
	(void)ep, (void)c, (void)max;
	return 0;
}

static void
no_ep(struct tern_endpoint *ep)
{
	(void)ep;
}

static const struct tern_transport_ops fake_a = {
	.name = "fake_a",
	.flags = TERN_TRANSPORT_F_FILE_SEGMENTS,
	.params = "x=<n>",
	.configure = a_configure,
	.stop = a_stop,
	.describe = a_describe,
	.endpoint_open = no_open,
	.post_burst = no_post,
	.poll = no_poll,
	.cancel = no_ep,
	.endpoint_close = no_ep,
};

static const struct tern_transport_ops fake_b = {
	.name = "fake_b",
	.configure = b_configure,
	.stop = b_stop,
	.endpoint_open = no_open,
	.post_burst = no_post,
	.poll = no_poll,
	.cancel = no_ep,
	.endpoint_close = no_ep,
};

static const struct tern_transport_ops fake_plain = {
	.name = "fake_plain",
	.endpoint_open = no_open,
	.post_burst = no_post,
	.poll = no_poll,
	.cancel = no_ep,
	.endpoint_close = no_ep,
};

static const struct tern_transport_env env = { .runtime_dir = "/tmp/rt" };

static int
setup(void **state)
{
	(void)state;
	calls[0] = '\0';
	configure_ret = 0;
	tern_transport_stop_all();
	calls[0] = '\0';
	return 0;
}

static void
bad_names_are_refused(void **state)
{
	(void)state;
	assert_int_equal(tern_transport_configure(NULL, "", &env), -EINVAL);
	assert_int_equal(tern_transport_configure("nosuch", "", &env), -ENOENT);
	assert_string_equal(calls, "");
}

static void
options_reach_the_transport_and_it_is_configured_once(void **state)
{
	int a = tern_transport_id("fake_a");
	char buf[64];

	(void)state;
	assert_false(tern_transport_configured(a));
	assert_int_equal(tern_transport_describe(a, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(tern_transport_configure("fake_a", "x=1", &env), 0);
	assert_true(tern_transport_configured(a));
	assert_string_equal(seen_runtime_dir, "/tmp/rt");
	assert_int_equal(tern_transport_configure("fake_a", "x=2", &env), -EALREADY);
	assert_int_equal(tern_transport_describe(a, buf, sizeof(buf)), 20);
	assert_string_equal(buf, "listening on nowhere");
	assert_int_equal(tern_transport_describe(a, NULL, 0), -EINVAL);
	assert_string_equal(calls, "configure(a:x=1) ");
}

static void
a_failed_configure_leaves_it_unconfigured(void **state)
{
	int a = tern_transport_id("fake_a");

	(void)state;
	configure_ret = -EADDRINUSE;
	assert_int_equal(tern_transport_configure("fake_a", "x=1", &env), -EADDRINUSE);
	assert_false(tern_transport_configured(a));
	tern_transport_stop_all();
	assert_string_equal(calls, "configure(a:x=1) "); /* no stop of what never started */
}

static void
no_args_means_defaults_and_a_default_runtime_dir(void **state)
{
	(void)state;
	assert_int_equal(tern_transport_configure("fake_a", NULL, NULL), 0);
	assert_non_null(seen_runtime_dir);
	assert_string_equal(calls, "configure(a:) ");
}

static void
a_transport_without_options_refuses_some(void **state)
{
	int p = tern_transport_id("fake_plain");

	(void)state;
	assert_int_equal(tern_transport_configure("fake_plain", "x=1", &env), -ENOTSUP);
	assert_false(tern_transport_configured(p));
	assert_int_equal(tern_transport_configure("fake_plain", "", &env), 0);
	assert_true(tern_transport_configured(p));
	assert_string_equal(tern_transport_params(p), "");
	assert_string_equal(tern_transport_params(tern_transport_id("fake_a")), "x=<n>");
	assert_null(tern_transport_params(TERN_TRANSPORT_MAX));
}

static void
stop_all_goes_in_reverse_order_once(void **state)
{
	(void)state;
	assert_int_equal(tern_transport_configure("fake_b", "y", &env), 0);
	assert_int_equal(tern_transport_configure("fake_a", "", &env), 0);
	tern_transport_stop_all();
	tern_transport_stop_all();
	assert_string_equal(calls, "configure(b:y) configure(a:) stop(a) stop(b) ");
	assert_false(tern_transport_configured(tern_transport_id("fake_a")));
	/* Stopped: it can be configured again. */
	assert_int_equal(tern_transport_configure("fake_a", "", &env), 0);
}

static void
flags_and_names_are_public(void **state)
{
	int a = tern_transport_id("fake_a");

	(void)state;
	assert_int_equal(tern_transport_flags(a), TERN_TRANSPORT_F_FILE_SEGMENTS);
	assert_int_equal(tern_transport_flags(tern_transport_id("fake_b")), 0);
	assert_int_equal(tern_transport_flags(-1), 0);
	assert_string_equal(tern_transport_name(a), "fake_a");
	assert_null(tern_transport_name(TERN_TRANSPORT_MAX));
}

/* The option parser every transport's configure() uses. */
static void
args_parse_into_typed_destinations(void **state)
{
	char path[16] = "keep", addr[64] = "";
	uint32_t n = 7, m = 9;
	uint16_t port = 1;
	bool got_n = false;
	const struct tern_transport_arg spec[] = {
		{ .key = "n",
		  .kind = TERN_TRANSPORT_ARG_U32,
		  .dst = &n,
		  .min = 1,
		  .max = 100,
		  .given = &got_n },
		{ .key = "m", .kind = TERN_TRANSPORT_ARG_U32, .dst = &m, .min = 0, .max = 5 },
		{ .key = "path",
		  .kind = TERN_TRANSPORT_ARG_STRING,
		  .dst = path,
		  .len = sizeof(path) },
		{ .key = "listen",
		  .kind = TERN_TRANSPORT_ARG_ADDR_PORT,
		  .dst = addr,
		  .len = sizeof(addr),
		  .port = &port },
	};
	static const char *const bad[] = {
		"x=1",
		"n",
		"n=0",
		"n=101",
		"n=1x",
		"m=-1",
		"path=",
		"path=0123456789abcdef",
		"listen=1.2.3.4",
		"listen=host:80",
		"listen=[::1]",
		"n=1,,m=2",
		"=1",
	};
	unsigned int i;

	(void)state;
	assert_int_equal(tern_transport_args_parse("t", "", spec, 4), 0);
	assert_int_equal(n, 7);
	assert_false(got_n);
	assert_int_equal(tern_transport_args_parse("t", "n=42,path=/a/b,listen=127.0.0.1:7000,n=43",
						   spec, 4),
			 0);
	assert_int_equal(n, 43); /* the last one wins */
	assert_true(got_n);
	assert_int_equal(m, 9); /* not given: the default stays */
	assert_string_equal(path, "/a/b");
	assert_string_equal(addr, "127.0.0.1");
	assert_int_equal(port, 7000);
	assert_int_equal(tern_transport_args_parse("t", "listen=[::1]:0", spec, 4), 0);
	assert_string_equal(addr, "::1");
	assert_int_equal(port, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tern_transport_args_parse("t", bad[i], spec, 4) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(tern_transport_args_parse("t", "n=1", NULL, 0), -EINVAL);
	assert_int_equal(tern_transport_args_parse("t", "", NULL, 0), 0);
	assert_int_equal(tern_transport_args_parse(NULL, "", spec, 4), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(bad_names_are_refused, setup),
		cmocka_unit_test_setup(options_reach_the_transport_and_it_is_configured_once,
				       setup),
		cmocka_unit_test_setup(a_failed_configure_leaves_it_unconfigured, setup),
		cmocka_unit_test_setup(no_args_means_defaults_and_a_default_runtime_dir, setup),
		cmocka_unit_test_setup(a_transport_without_options_refuses_some, setup),
		cmocka_unit_test_setup(stop_all_goes_in_reverse_order_once, setup),
		cmocka_unit_test_setup(flags_and_names_are_public, setup),
		cmocka_unit_test(args_parse_into_typed_destinations),
	};

	if (tern_transport_register(&fake_a) < 0 || tern_transport_register(&fake_b) < 0 ||
	    tern_transport_register(&fake_plain) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
