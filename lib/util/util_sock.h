/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_UTIL_SOCK_H
#define TERN_UTIL_SOCK_H

/**
 * @file
 * Socket I/O with a deadline, for the control paths that talk to peers
 * (the p2p directory, the mlx5 handshake, the shm control socket). One errno
 * convention for all of them:
 *   -ETIMEDOUT    the deadline passed first;
 *   -ECONNRESET   the peer closed before every byte arrived;
 *   other         the socket's own error (-EPIPE, -ECONNREFUSED...).
 * Deadlines are tern_clock_ns() values (CLOCK_MONOTONIC). The sockets may be
 * blocking or not; a signal never ends a wait early.
 */

#include <stddef.h>
#include <stdint.h>

/** Wait until @p fd has one of @p events (POLLIN, POLLOUT). @return 0 or an errno above. */
int util_sock_wait(int fd, short events, uint64_t deadline_ns);

/** Send all @p len bytes (MSG_NOSIGNAL). @return 0 or an errno above. */
int util_sock_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ns);

/** Receive exactly @p len bytes. @return 0 or an errno above. */
int util_sock_recv_all(int fd, void *buf, size_t len, uint64_t deadline_ns);

#endif /* TERN_UTIL_SOCK_H */
