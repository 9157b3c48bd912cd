// SPDX-License-Identifier: Apache-2.0
#include "common/listen-address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int listen_address_parse(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len)
{
        char host[INET6_ADDRSTRLEN + 2];
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        char *end;
        errno = 0;
        unsigned long port = strtoul(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || colon[1] == '-' || colon[1] == '+' || port > 65535)
                return -EINVAL;

        struct sockaddr_storage addr = { 0 };
        socklen_t len;
        if (host[0] == '\0' || host[0] == '[') {
                size_t n = strlen(host);
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
                if (n > 0) {
                        if (n < 3 || host[n - 1] != ']')
                                return -EINVAL;
                        host[n - 1] = '\0';
                        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
                                return -EINVAL;
                } else
                        a->sin6_addr = in6addr_any;
                a->sin6_family = AF_INET6;
                a->sin6_port = htons((uint16_t)port);
                len = sizeof(*a);
        } else {
                struct sockaddr_in *a = (struct sockaddr_in *)&addr;
                if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
                        return -EINVAL;
                a->sin_family = AF_INET;
                a->sin_port = htons((uint16_t)port);
                len = sizeof(*a);
        }
        *ret_addr = addr;
        *ret_len = len;
        return 0;
}

char *listen_address_format(const struct sockaddr_storage *a, char *buf, size_t size)
{
        char host[INET6_ADDRSTRLEN] = "?";
        if (a->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)a;
                inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
                snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(in->sin_port));
        } else if (a->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
                snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
        } else
                snprintf(buf, size, "?");
        return buf;
}
