// SPDX-License-Identifier: Apache-2.0
#include "agent/cli/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"

#define REPLY_MAX (64u << 20)

int daemon_request(const char *socket_path, const char *request, struct json_object **ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(socket_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        struct timeval tv = { .tv_sec = 5 };
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return negative_errno();
        char line[160];
        int n = snprintf(line, sizeof(line), "%s\n", request);
        if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n)
                return -EIO;

        size_t cap = 65536, len = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len + 1 >= cap) {
                        if (cap >= REPLY_MAX)
                                return -EFBIG;
                        char *b = realloc(buf, cap * 2);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        cap *= 2;
                }
                ssize_t k = recv(fd, buf + len, cap - 1 - len, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        buf[len] = '\0';
        struct json_object *j = json_tokener_parse(buf);
        if (!j)
                return -EBADMSG;
        *ret = j;
        return 0;
}

int daemon_ask(const char *socket_path, const char *request, const char *what_for,
               struct json_object **ret)
{
        struct json_object *j = NULL, *e;
        int r = daemon_request(socket_path, request, &j);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                fprintf(stderr,
                        "memagent: memagentd is not running (nothing listens on %s)%s%s; "
                        "start it, or pass --api-socket\n",
                        socket_path, what_for ? ": " : "", what_for ? what_for : "");
                return EXIT_FAILURE;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to ask memagentd at %s: %m", socket_path);
                return EXIT_FAILURE;
        }
        if (json_object_object_get_ex(j, "error", &e)) {
                fprintf(stderr, "memagent: memagentd: %s\n", json_object_get_string(e));
                json_object_put(j);
                return EXIT_FAILURE;
        }
        *ret = j;
        return 0;
}

int client_print_json(struct json_object *j)
{
        puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
        return EXIT_SUCCESS;
}
