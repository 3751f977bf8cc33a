/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>

#include "tern_time.h"
#include "util_sock.h"

int
util_sock_wait(int fd, short events, uint64_t deadline_ns)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now, ms;
	int n;

	for (;;) {
		now = tern_clock_ns();
		if (now >= deadline_ns)
			return -ETIMEDOUT;
		/* Rounded up: a wait never ends just before its deadline. */
		ms = (deadline_ns - now + 999999) / 1000000;
		n = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int
util_sock_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ns)
{
	const char *p = buf;
	ssize_t n;
	int rc;

	while (len != 0) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		rc = util_sock_wait(fd, POLLOUT, deadline_ns);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
util_sock_recv_all(int fd, void *buf, size_t len, uint64_t deadline_ns)
{
	char *p = buf;
	ssize_t n;
	int rc;

	while (len != 0) {
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		rc = util_sock_wait(fd, POLLIN, deadline_ns);
		if (rc != 0)
			return rc;
	}
	return 0;
}
