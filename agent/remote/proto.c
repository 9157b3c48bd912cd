// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/proto.h"

#include <endian.h>
#include <errno.h>
#include <linux/nbd.h>
#include <string.h>

_Static_assert(sizeof(struct nbd_request) == REMOTE_NBD_REQUEST_BYTES, "nbd_request size");
_Static_assert(sizeof(struct nbd_reply) == REMOTE_NBD_REPLY_BYTES, "nbd_reply size");
_Static_assert(LEASE_TOKEN_MAX <= REMOTE_TOKEN_FIELD, "token field");
_Static_assert(4 + 2 + 2 + 8 + 8 + 8 + LEASE_ID_MAX + REMOTE_TOKEN_FIELD == REMOTE_HELLO_BYTES,
               "hello size");

static void put16(uint8_t *p, uint16_t v)
{
        v = htobe16(v);
        memcpy(p, &v, sizeof(v));
}
static void put32(uint8_t *p, uint32_t v)
{
        v = htobe32(v);
        memcpy(p, &v, sizeof(v));
}
static void put64(uint8_t *p, uint64_t v)
{
        v = htobe64(v);
        memcpy(p, &v, sizeof(v));
}
static uint16_t get16(const uint8_t *p)
{
        uint16_t v;
        memcpy(&v, p, sizeof(v));
        return be16toh(v);
}
static uint32_t get32(const uint8_t *p)
{
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return be32toh(v);
}
static uint64_t get64(const uint8_t *p)
{
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return be64toh(v);
}

/* A NUL-padded string field: the string must end inside it, and it must fit the caller's. */
static int get_string(const uint8_t *p, size_t field, char *ret, size_t ret_size)
{
        const uint8_t *nul = memchr(p, 0, field);
        if (!nul || (size_t)(nul - p) >= ret_size)
                return -EBADMSG;
        memcpy(ret, p, (size_t)(nul - p) + 1);
        return 0;
}

void remote_hello_encode(const struct remote_hello *h, uint8_t buf[REMOTE_HELLO_BYTES])
{
        memset(buf, 0, REMOTE_HELLO_BYTES);
        put32(buf, REMOTE_HELLO_MAGIC);
        put16(buf + 4, REMOTE_PROTO_VERSION);
        put16(buf + 6, REMOTE_OP_HELLO);
        put64(buf + 8, h->epoch);
        put64(buf + 16, h->offset);
        put64(buf + 24, h->length);
        memcpy(buf + 32, h->lease_id, strnlen(h->lease_id, LEASE_ID_MAX - 1));
        memcpy(buf + 32 + LEASE_ID_MAX, h->token, strnlen(h->token, LEASE_TOKEN_MAX - 1));
}

int remote_hello_decode(const uint8_t buf[REMOTE_HELLO_BYTES], struct remote_hello *ret)
{
        struct remote_hello h = {};
        int r;

        if (get32(buf) != REMOTE_HELLO_MAGIC || get16(buf + 6) != REMOTE_OP_HELLO)
                return -EBADMSG;
        if (get16(buf + 4) != REMOTE_PROTO_VERSION)
                return -EPROTONOSUPPORT;
        h.epoch = get64(buf + 8);
        h.offset = get64(buf + 16);
        h.length = get64(buf + 24);
        r = get_string(buf + 32, LEASE_ID_MAX, h.lease_id, sizeof(h.lease_id));
        if (r < 0)
                return r;
        r = get_string(buf + 32 + LEASE_ID_MAX, REMOTE_TOKEN_FIELD, h.token, sizeof(h.token));
        if (r < 0)
                return r;
        *ret = h;
        return 0;
}

void remote_request_encode(const struct remote_request *q, uint8_t buf[REMOTE_REQUEST_BYTES])
{
        memset(buf, 0, REMOTE_REQUEST_BYTES);
        put32(buf, REMOTE_REQUEST_MAGIC);
        put16(buf + 4, (uint16_t)q->op);
        put64(buf + 8, q->handle);
        put64(buf + 16, q->epoch);
        put64(buf + 24, q->offset);
        put32(buf + 32, q->length);
}

int remote_request_decode(const uint8_t buf[REMOTE_REQUEST_BYTES], struct remote_request *ret)
{
        struct remote_request q = {};
        uint16_t op;

        if (get32(buf) != REMOTE_REQUEST_MAGIC || get16(buf + 6) != 0 || get32(buf + 36) != 0)
                return -EBADMSG;
        op = get16(buf + 4);
        if (op != REMOTE_OP_READ && op != REMOTE_OP_WRITE && op != REMOTE_OP_BYE)
                return -EBADMSG;
        q.op = op;
        q.handle = get64(buf + 8);
        q.epoch = get64(buf + 16);
        q.offset = get64(buf + 24);
        q.length = get32(buf + 32);
        if (q.length > REMOTE_IO_BYTES_MAX)
                return -EMSGSIZE;
        *ret = q;
        return 0;
}

int remote_request_check_range(const struct remote_request *q, uint64_t slab_bytes)
{
        if (q->offset > slab_bytes || q->length > slab_bytes - q->offset)
                return -ERANGE;
        return 0;
}

void remote_reply_encode(const struct remote_reply *r, uint8_t buf[REMOTE_REPLY_BYTES])
{
        put32(buf, REMOTE_REPLY_MAGIC);
        put32(buf + 4, r->error);
        put64(buf + 8, r->handle);
}

int remote_reply_decode(const uint8_t buf[REMOTE_REPLY_BYTES], struct remote_reply *ret)
{
        if (get32(buf) != REMOTE_REPLY_MAGIC)
                return -EBADMSG;
        ret->error = get32(buf + 4);
        ret->handle = get64(buf + 8);
        return 0;
}

void remote_rdma_answer_encode(const struct remote_rdma_answer *a,
                               uint8_t buf[REMOTE_RDMA_ANSWER_BYTES])
{
        memset(buf, 0, REMOTE_RDMA_ANSWER_BYTES);
        put32(buf, REMOTE_RDMA_ANSWER_MAGIC);
        put32(buf + 4, a->error);
        put64(buf + 8, a->addr);
        put32(buf + 16, a->rkey);
        put64(buf + 24, a->length);
}

int remote_rdma_answer_decode(const uint8_t buf[REMOTE_RDMA_ANSWER_BYTES],
                              struct remote_rdma_answer *ret)
{
        struct remote_rdma_answer a;
        if (get32(buf) != REMOTE_RDMA_ANSWER_MAGIC || get32(buf + 20) != 0)
                return -EBADMSG;
        a.error = get32(buf + 4);
        a.addr = get64(buf + 8);
        a.rkey = get32(buf + 16);
        a.length = get64(buf + 24);
        if (a.error == 0 && (a.length == 0 || a.addr > UINT64_MAX - a.length))
                return -EBADMSG;
        *ret = a;
        return 0;
}

int remote_nbd_request_decode(const uint8_t buf[REMOTE_NBD_REQUEST_BYTES],
                              struct remote_nbd_request *ret)
{
        struct nbd_request raw;
        struct remote_nbd_request q = {};
        uint32_t type;

        memcpy(&raw, buf, sizeof(raw));
        if (be32toh(raw.magic) != NBD_REQUEST_MAGIC)
                return -EBADMSG;
        type = be32toh(raw.type);
        /* The command in the low 16 bits, flags above (only FUA is defined for requests). */
        if ((type & ~(uint32_t)(0xffff | NBD_CMD_FLAG_FUA)) != 0 || (type & 0xffff) > NBD_CMD_TRIM)
                return -EBADMSG;
        q.cmd = (enum remote_nbd_cmd)(type & 0xffff);
        q.fua = type & NBD_CMD_FLAG_FUA;
        memcpy(q.handle, raw.handle, sizeof(q.handle));
        q.from_bytes = be64toh(raw.from);
        q.length_bytes = be32toh(raw.len);
        if ((q.cmd == REMOTE_NBD_READ || q.cmd == REMOTE_NBD_WRITE) &&
            q.length_bytes > REMOTE_IO_BYTES_MAX)
                return -EMSGSIZE;
        *ret = q;
        return 0;
}

void remote_nbd_request_encode(const struct remote_nbd_request *q,
                               uint8_t buf[REMOTE_NBD_REQUEST_BYTES])
{
        struct nbd_request raw = {
                .magic = htobe32(NBD_REQUEST_MAGIC),
                .type = htobe32((uint32_t)q->cmd | (q->fua ? NBD_CMD_FLAG_FUA : 0)),
                .from = htobe64(q->from_bytes),
                .len = htobe32(q->length_bytes),
        };
        memcpy(raw.handle, q->handle, sizeof(raw.handle));
        memcpy(buf, &raw, sizeof(raw));
}

void remote_nbd_reply_encode(const uint8_t handle[8], uint32_t error,
                             uint8_t buf[REMOTE_NBD_REPLY_BYTES])
{
        struct nbd_reply raw = {
                .magic = htobe32(NBD_REPLY_MAGIC),
                .error = htobe32(error),
        };
        memcpy(raw.handle, handle, sizeof(raw.handle));
        memcpy(buf, &raw, sizeof(raw));
}
