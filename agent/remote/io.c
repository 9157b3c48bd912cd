// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/io.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

int remote_read_full(int fd, void *buf, size_t n)
{
        char *p = buf;
        while (n > 0) {
                ssize_t k = read(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ECONNRESET;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

int remote_write_full(int fd, const void *buf, size_t n)
{
        const char *p = buf;
        while (n > 0) {
                /* MSG_NOSIGNAL: a consumer or donor gone must be an error, not SIGPIPE. */
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0 && errno == ENOTSOCK)
                        k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}
