// SPDX-License-Identifier: Apache-2.0
// notify-listen PATH TIMEOUT_MS: the service manager's side of sd_notify(3) for tests. Binds a
// datagram socket at PATH, prints every message received (one per line, newlines inside a
// message shown as ';'), and exits 0 after the first message containing READY=1, or 1 at the
// timeout. Messages after READY=1 are not waited for.
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: notify-listen PATH TIMEOUT_MS\n");
                return 2;
        }
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "notify-listen: path too long: %s\n", argv[1]);
                return 2;
        }
        strcpy(sa.sun_path, argv[1]);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        unlink(argv[1]);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                fprintf(stderr, "notify-listen: cannot bind %s: %s\n", argv[1], strerror(errno));
                return 2;
        }
        int timeout = atoi(argv[2]);
        setvbuf(stdout, NULL, _IOLBF, 0);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int n = poll(&p, 1, timeout);
                if (n <= 0) {
                        fprintf(stderr, "notify-listen: no READY=1 within %d ms\n", timeout);
                        return 1;
                }
                char buf[4096];
                ssize_t len = recv(fd, buf, sizeof(buf) - 1, 0);
                if (len < 0)
                        continue;
                buf[len] = '\0';
                for (char *c = buf; *c; c++)
                        if (*c == '\n')
                                *c = ';';
                printf("%s\n", buf);
                if (strstr(buf, "READY=1"))
                        return 0;
        }
}
