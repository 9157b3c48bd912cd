// SPDX-License-Identifier: Apache-2.0
// The remote swap wire formats, pure (no I/O): the block protocol a consumer speaks to a donor
// over TCP (the RDMA transport will open with the same hello and then use one-sided verbs), and
// the kernel NBD driver's request/reply framing that the consumer's worker reads from its end
// of the socketpair it handed to the driver.
//
// Block protocol, all integers big-endian (network order, as NBD):
//   hello   consumer -> donor, once per connection, names one slab of a lease:
//           magic u32, version u16, op u16 (HELLO), epoch u64, offset u64, length u64,
//           lease id [64] and token [40], NUL padded                       = 136 bytes
//   request consumer -> donor: magic u32, op u16, flags u16 (0), handle u64, epoch u64,
//           offset u64 (within the slab), length u32, reserved u32 (0)     = 40 bytes,
//           then length bytes for a WRITE
//   reply   donor -> consumer: magic u32, error u32 (0 or a positive Linux errno), handle u64
//                                                                          = 16 bytes,
//           then length bytes for a READ that succeeded
// Every request carries the epoch again, so a grant revoked or re-granted while a connection is
// open fences that connection at its next request, not only at the next hello.
//
// Over RDMA (rdma.h) the same hello is the consumer's first SEND on the connected queue pair
// (rdma_cm's private data holds only 56 bytes), and the donor's SEND answers it:
//   answer  donor -> consumer: magic u32, error u32 (0 or a positive errno, as a reply), addr u64,
//           rkey u32, reserved u32 (0), length u64                         = 32 bytes
// addr and rkey name the slab's own memory region (registered for this connection alone); the
// consumer then moves pages with one-sided RDMA READ/WRITE, and the donor fences a connection by
// deregistering that region and disconnecting, since it sees no request to refuse.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/lease.h"

#define REMOTE_HELLO_MAGIC       0x4d4d4850u /* "MMHP" */
#define REMOTE_REQUEST_MAGIC     0x4d4d5251u /* "MMRQ" */
#define REMOTE_REPLY_MAGIC       0x4d4d5250u /* "MMRP" */
#define REMOTE_RDMA_ANSWER_MAGIC 0x4d4d5241u /* "MMRA" */
#define REMOTE_PROTO_VERSION     1

#define REMOTE_HELLO_BYTES       136
#define REMOTE_REQUEST_BYTES     40
#define REMOTE_REPLY_BYTES       16
#define REMOTE_RDMA_ANSWER_BYTES 32
/* The largest READ/WRITE: the kernel's NBD requests are at most max_sectors_kb (default
 * 128 KiB, at most a few MiB); a donor buffers one request per connection. */
#define REMOTE_IO_BYTES_MAX (4u << 20)
/* The wire's token field: a LEASE_TOKEN_MAX string, padded. */
#define REMOTE_TOKEN_FIELD 40

enum remote_op {
        REMOTE_OP_HELLO = 1,
        REMOTE_OP_READ = 2,
        REMOTE_OP_WRITE = 3,
        REMOTE_OP_BYE = 4, /* the consumer is done; the donor closes */
};

struct remote_hello {
        uint64_t epoch;
        uint64_t offset, length; /* the slab in the donor's offered memory */
        char lease_id[LEASE_ID_MAX];
        char token[LEASE_TOKEN_MAX];
};

struct remote_request {
        enum remote_op op;
        uint64_t handle; /* the consumer's, echoed in the reply */
        uint64_t epoch;
        uint64_t offset; /* within the slab */
        uint32_t length; /* 0 for BYE */
};

struct remote_reply {
        uint64_t handle;
        uint32_t error; /* 0, or a positive errno: EACCES, ESTALE, ETIME, ERANGE, EINVAL, EIO */
};

void remote_hello_encode(const struct remote_hello *h, uint8_t buf[REMOTE_HELLO_BYTES]);
/* -EBADMSG for another magic or op, or an unterminated id or token; -EPROTONOSUPPORT for another
 * version. ret untouched on failure. */
int remote_hello_decode(const uint8_t buf[REMOTE_HELLO_BYTES], struct remote_hello *ret);

void remote_request_encode(const struct remote_request *q, uint8_t buf[REMOTE_REQUEST_BYTES]);
/* -EBADMSG for another magic, an unknown op or nonzero reserved fields; -EMSGSIZE for a length
 * above REMOTE_IO_BYTES_MAX. */
int remote_request_decode(const uint8_t buf[REMOTE_REQUEST_BYTES], struct remote_request *ret);
/* Whether request q may touch a slab of slab_bytes: -ERANGE when [offset, offset+length) leaves
 * it (overflow included). */
int remote_request_check_range(const struct remote_request *q, uint64_t slab_bytes);

void remote_reply_encode(const struct remote_reply *r, uint8_t buf[REMOTE_REPLY_BYTES]);
/* -EBADMSG for another magic. */
int remote_reply_decode(const uint8_t buf[REMOTE_REPLY_BYTES], struct remote_reply *ret);

struct remote_rdma_answer {
        uint32_t error;  /* 0, or a positive errno: the donor's refusal of the hello */
        uint64_t addr;   /* the slab's first byte in the donor's address space */
        uint32_t rkey;   /* of the region registered for this connection */
        uint64_t length; /* of the slab, as the hello named it */
};
void remote_rdma_answer_encode(const struct remote_rdma_answer *a,
                               uint8_t buf[REMOTE_RDMA_ANSWER_BYTES]);
/* -EBADMSG for another magic or a nonzero reserved field; an accepting answer (error 0) must name
 * a slab (length > 0) that does not wrap the address space. ret untouched on failure. */
int remote_rdma_answer_decode(const uint8_t buf[REMOTE_RDMA_ANSWER_BYTES],
                              struct remote_rdma_answer *ret);

/* The kernel NBD driver's side of the socketpair (struct nbd_request / nbd_reply of
 * linux/nbd.h, 28 and 16 bytes): the worker reads requests and answers replies. */
#define REMOTE_NBD_REQUEST_BYTES 28
#define REMOTE_NBD_REPLY_BYTES   16
enum remote_nbd_cmd {
        REMOTE_NBD_READ = 0,  /* NBD_CMD_READ */
        REMOTE_NBD_WRITE = 1, /* NBD_CMD_WRITE */
        REMOTE_NBD_DISC = 2,  /* NBD_CMD_DISC */
        REMOTE_NBD_FLUSH = 3, /* NBD_CMD_FLUSH */
        REMOTE_NBD_TRIM = 4,  /* NBD_CMD_TRIM */
};
struct remote_nbd_request {
        enum remote_nbd_cmd cmd;
        bool fua;          /* NBD_CMD_FLAG_FUA */
        uint8_t handle[8]; /* opaque, echoed */
        uint64_t from_bytes;
        uint32_t length_bytes;
};
/* -EBADMSG for another magic or an unknown command; -EMSGSIZE for a READ/WRITE above
 * REMOTE_IO_BYTES_MAX. */
int remote_nbd_request_decode(const uint8_t buf[REMOTE_NBD_REQUEST_BYTES],
                              struct remote_nbd_request *ret);
void remote_nbd_request_encode(const struct remote_nbd_request *q,
                               uint8_t buf[REMOTE_NBD_REQUEST_BYTES]);
/* error: 0 or a positive errno (the driver fails the bio on any nonzero). */
void remote_nbd_reply_encode(const uint8_t handle[8], uint32_t error,
                             uint8_t buf[REMOTE_NBD_REPLY_BYTES]);
