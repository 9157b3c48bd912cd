// SPDX-License-Identifier: Apache-2.0
// The kernel NBD driver's generic netlink interface (family "nbd", linux/nbd-netlink.h): connect
// a device to our end of a socketpair, and disconnect it. Needs CAP_SYS_ADMIN and the nbd module
// (modprobe nbd). The message building and the reply parsing are pure, for the unit tests.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nbd_connect_params {
        uint64_t size_bytes;
        uint64_t block_bytes; /* 4096: a swap page per block */
        uint64_t timeout_sec; /* the driver's per-request timeout; 0: its default */
        int sock_fd;          /* the kernel's end of the socketpair */
        int index;            /* -1: the driver picks a free device */
};

/* Builds NBD_CMD_CONNECT for family into buf (at least 256 bytes). Returns the length. */
size_t nbd_netlink_build_connect(uint16_t family, uint32_t seq, const struct nbd_connect_params *p,
                                 uint8_t *buf, size_t size);
/* Builds NBD_CMD_DISCONNECT of device index. */
size_t nbd_netlink_build_disconnect(uint16_t family, uint32_t seq, uint32_t index, uint8_t *buf,
                                    size_t size);
/* Builds CTRL_CMD_GETFAMILY for name. */
size_t nbd_netlink_build_getfamily(uint32_t seq, const char *name, uint8_t *buf, size_t size);

/* Parses what the kernel answered to seq: 1 with *ret_value (the family id for GETFAMILY, the
 * device index for CONNECT) when a reply carried it, else 0; *ret_acked when the buffer held the
 * acknowledgement (error 0) that ends the exchange. The kernel's negative errno for an error,
 * -EBADMSG for what does not parse. */
int nbd_netlink_parse(const uint8_t *buf, size_t n, uint32_t seq, uint32_t *ret_value,
                      bool *ret_acked);

/* Connects: returns the device index (/dev/nbdN), -ENOENT without the nbd module, -EPERM without
 * CAP_SYS_ADMIN, the kernel's other errors. */
int nbd_netlink_connect(const struct nbd_connect_params *p);
int nbd_netlink_disconnect(uint32_t index);
