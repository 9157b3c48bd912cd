// SPDX-License-Identifier: Apache-2.0
// Listen addresses as operators write them in configuration: "HOST:PORT" with a numeric IPv4
// address, "[IPv6]:PORT", or ":PORT" for every address. One parser for every daemon that listens.
#pragma once

#include <stddef.h>
#include <sys/socket.h>

/* Parses s. ":PORT" is the IPv6 wildcard [::] (Linux serves IPv4 on it too, unless the
 * net.ipv6.bindv6only sysctl says otherwise); PORT is 0..65535, 0 for one the kernel picks.
 * Returns 0 and fills *ret_addr and *ret_len, or -EINVAL (both untouched). */
int listen_address_parse(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len);

/* "127.0.0.1:9808", "[::]:9808" for a log line; returns buf. An unknown family gives "?". */
char *listen_address_format(const struct sockaddr_storage *a, char *buf, size_t size);
