// SPDX-License-Identifier: Apache-2.0
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"

_Static_assert(ENOENT == 2 && ENODEV == 19 && ESTALE == 116, "errno_is_vanished() constants");

ssize_t pread_full(int fd, char *buf, size_t cap)
{
        size_t len = 0;

        if (cap < 2)
                return -EINVAL;
        for (;;) {
                ssize_t n = pread(fd, buf + len, cap - 1 - len, (off_t)len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len == cap - 1) {
                        /* Full buffer: only fine if the file ends exactly here. */
                        char probe;
                        n = pread(fd, &probe, 1, (off_t)len);
                        if (n > 0)
                                return -EFBIG;
                        break;
                }
        }
        buf[len] = '\0';
        return (ssize_t)len;
}

ssize_t pread_whole(int fd, char *buf, size_t cap)
{
        if (cap < 2)
                return -EINVAL;
        ssize_t n;
        do
                n = pread(fd, buf, cap - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if ((size_t)n == cap - 1)
                return pread_full(fd, buf, cap); /* filled: more may follow */
        buf[n] = '\0';
        return n;
}

ssize_t read_file_at(int dirfd, const char *name, char *buf, size_t cap)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return pread_full(fd, buf, cap);
}

int write_string_at(int dirfd, const char *name, const char *s)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        size_t len = strlen(s);
        ssize_t n = write(fd, s, len);
        if (n < 0)
                return negative_errno();
        if ((size_t)n != len)
                return -EIO;
        return 0;
}
