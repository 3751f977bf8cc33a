/* SPDX-License-Identifier: BSD-3-Clause */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_common.h"
#include "test_target.h"

size_t
test_target_start(struct test_target *t, char *const argv[], uint8_t *blob, size_t max)
{
	int to_child[2], from_child[2];
	char line[1024];
	unsigned int v;
	size_t i, n;

	assert_int_equal(pipe(to_child), 0);
	assert_int_equal(pipe(from_child), 0);
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		close(to_child[1]);
		close(from_child[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	t->in = fdopen(to_child[1], "w");
	t->out = fdopen(from_child[0], "r");
	assert_non_null(t->in);
	assert_non_null(t->out);
	/* The blob, as a directory would carry it. */
	assert_non_null(fgets(line, sizeof(line), t->out));
	n = strspn(line, "0123456789abcdef") / 2;
	assert_true(n > 0 && n <= max);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(line + 2 * i, "%2x", &v), 1);
		blob[i] = (uint8_t)v;
	}
	return n;
}

bool
test_target_check(struct test_target *t, uint64_t seed, uint64_t off, uint64_t len)
{
	char line[64];

	fprintf(t->in, "check %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", seed, off, len);
	fflush(t->in);
	assert_non_null(fgets(line, sizeof(line), t->out));
	if (strcmp(line, "ok\n") != 0)
		print_message("target says: %s", line);
	return strcmp(line, "ok\n") == 0;
}

void
test_target_stop(struct test_target *t, bool kill_it)
{
	int status;

	if (t->pid <= 0)
		return;
	if (kill_it)
		kill(t->pid, SIGKILL);
	else
		kill(t->pid, SIGCONT); /* a test that failed may have left it stopped */
	fclose(t->in);
	assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
	if (!kill_it)
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fclose(t->out);
	t->pid = 0;
}

void
test_target_round_trip(struct test_target *t, struct tern_client *c, uint32_t seg, uint64_t bytes,
		       uint64_t first_seed, uint64_t seed, uint8_t *src, uint8_t *dst)
{
	struct tern_request r;

	/* What the target wrote into its own memory, read from here. */
	memset(dst, 0, bytes);
	r = test_req(TERN_OP_READ, seg, 0, dst, bytes);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(dst, bytes, first_seed, 0), SIZE_MAX);
	/* Written from here, checked there, read back here. */
	test_pattern_fill(src, bytes, seed, 0);
	r = test_req(TERN_OP_WRITE, seg, 0, src, bytes);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_true(test_target_check(t, seed, 0, bytes));
	memset(dst, 0, bytes);
	r = test_req(TERN_OP_READ, seg, 0, dst, bytes);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_int_equal(test_pattern_check(dst, bytes, seed, 0), SIZE_MAX);
}

void
test_target_serve(const uint8_t *blob, size_t n, const uint8_t *mem, uint64_t bytes)
{
	uint64_t seed, off, len;
	char line[256];
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", blob[i]);
	printf("\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t bad;

		if (sscanf(line, "check %" SCNu64 " %" SCNu64 " %" SCNu64, &seed, &off, &len) !=
			    3 ||
		    off > bytes || len > bytes - off) {
			printf("error\n");
		} else {
			bad = test_pattern_check(mem + off, len, seed, off);
			if (bad == SIZE_MAX)
				printf("ok\n");
			else
				printf("bad %zu\n", bad);
		}
		fflush(stdout);
	}
}
