// SPDX-License-Identifier: Apache-2.0
// Whole-buffer socket I/O for the remote swap threads (blocking sockets, EINTR retried).
#pragma once

#include <stddef.h>

/* 0 when all n bytes moved; -ECONNRESET when the peer closed first; -errno otherwise. */
int remote_read_full(int fd, void *buf, size_t n);
int remote_write_full(int fd, const void *buf, size_t n);
