/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TEST_TRANSPORT_HOLD_H
#define TERN_TEST_TRANSPORT_HOLD_H

#include <stdint.h>

#include <tern_segment_driver.h>

/*
 * "hold": a transport for tests. It accepts every slice and holds it without
 * moving data, until the test calls hold_release(status) (every held slice
 * then completes with that status) or the engine cancels the endpoint.
 * Register a REMOTE segment with .transport = "hold" to route requests to it.
 */
void hold_register(void);
/* Complete every slice held now (and later, while @sticky) with @status. */
void hold_release(int32_t status, int sticky);
/* Make cancel() do nothing (a device that stopped answering). */
void hold_ignore_cancel(int ignore);
/* Slices currently held by all endpoints. */
uint64_t hold_count(void);
/* Registers a REMOTE segment of @length bytes on @segments that requests
 * reach through "hold"; returns its handle (fails the test otherwise). */
/* Notifications posted to "hold" go into @q (NULL: refused with -ENOTSUP). */
struct tern_notify_queue;
void hold_notify_queue(struct tern_notify_queue *q);
uint32_t hold_segment(struct tern_segment_table *segments, const char *name, uint64_t length);

#endif
