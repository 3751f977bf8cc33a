/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TEST_TARGET_H
#define TERN_TEST_TARGET_H

/*
 * A target node for two-process transport tests: a child with its own EAL
 * instance exports a segment filled with a known pattern, prints its export
 * blob in hex on stdout, then answers on stdin
 *   check <seed> <offset> <length>   -> "ok", "bad <first differing offset>" or "error"
 * and exits at end of input. The test process starts it, asks it to check
 * what was written, and stops or SIGKILLs it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Test side. */
struct test_target {
	pid_t pid;
	FILE *in;  /* its stdin */
	FILE *out; /* its stdout */
};

/* Run @argv (argv[0] is the program's path); returns the length of the blob
 * it printed, written to @blob (at most @max bytes). */
size_t test_target_start(struct test_target *t, char *const argv[], uint8_t *blob, size_t max);
/* Whether [@off, @off + @len) of its segment holds pattern @seed. */
bool test_target_check(struct test_target *t, uint64_t seed, uint64_t off, uint64_t len);
/* Clean stop (end of input; it must exit 0) or SIGKILL; reaps it either way. */
void test_target_stop(struct test_target *t, bool kill_it);

struct tern_client;
/* Through REMOTE segment @seg (the target's, @bytes long, filled with pattern
 * @first_seed): read it all and check it here, write pattern @seed and have
 * the target check it, read it back and check it here. @src and @dst hold
 * @bytes each. */
void test_target_round_trip(struct test_target *t, struct tern_client *c, uint32_t seg,
			    uint64_t bytes, uint64_t first_seed, uint64_t seed, uint8_t *src,
			    uint8_t *dst);

/* Target side: print @blob, then answer checks on @mem until end of input. */
void test_target_serve(const uint8_t *blob, size_t n, const uint8_t *mem, uint64_t bytes);

#endif
