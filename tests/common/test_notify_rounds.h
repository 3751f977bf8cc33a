/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TEST_NOTIFY_ROUNDS_H
#define TERN_TEST_NOTIFY_ROUNDS_H

#include <stddef.h>
#include <stdint.h>

#include <tern_engine.h>

/*
 * The notification promise, tested the hard way (doc/notify.md): round r
 * fills the initiator's buffer with a fresh pattern, WRITEs it to the target
 * with a notification (tag r, message the 8 bytes of r) and waits for it; a
 * client of the receiving engine, on its own thread, checks every byte of
 * the target region the moment it sees the notification. The next round
 * starts only once that check is done.
 */
struct test_notify_rounds {
	const char *label;	       /* printed with the figures ("tcp") */
	struct tern_engine *receiver;  /* the target node's engine */
	const uint8_t *dst;	       /* the target region, as its node reads it */
	struct tern_client *initiator; /* a client with TERN_CLIENT_F_NO_CQ */
	uint32_t target;	       /* the target segment's handle at the initiator */
	uint8_t *src;		       /* @len bytes the initiator writes from */
	size_t len;
	const char *sender; /* the initiator's node name, as the target sees it */
	uint64_t rounds;    /* 0: test_notify_rounds_wanted() */
};

/* 100 000, or TERN_NOTIFY_ROUNDS from the environment. */
uint64_t test_notify_rounds_wanted(void);

/* Runs the rounds and fails the test on any missed, wrong or stale
 * notification. Returns the number of rounds run. */
uint64_t test_notify_rounds_run(const struct test_notify_rounds *t);

#endif
