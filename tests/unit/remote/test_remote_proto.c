// SPDX-License-Identifier: Apache-2.0
// The remote swap wire formats (agent/remote/proto.c): the block protocol's hello, request and
// reply round-trip with their fields at the documented big-endian offsets and refuse what a
// donor must not act on; the NBD framing matches the kernel's struct nbd_request / nbd_reply
// byte for byte.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <endian.h>
#include <linux/nbd.h>

#include "agent/remote/proto.h"

static void test_hello_round_trip(void **state)
{
        (void)state;
        struct remote_hello h = { .epoch = 7, .offset = 3ull << 30, .length = 1ull << 30 };
        strcpy(h.lease_id, "l0123456789abcdef01234567");
        memset(h.token, 'a', LEASE_TOKEN_MAX - 1);
        uint8_t buf[REMOTE_HELLO_BYTES];
        remote_hello_encode(&h, buf);

        /* Big-endian, at the documented offsets. */
        assert_memory_equal(buf, "\x4d\x4d\x48\x50\x00\x01\x00\x01", 8);
        assert_int_equal(buf[15], 7);
        assert_int_equal(buf[20], 0xc0);

        struct remote_hello back;
        assert_int_equal(remote_hello_decode(buf, &back), 0);
        assert_int_equal(back.epoch, 7);
        assert_int_equal(back.offset, 3ull << 30);
        assert_int_equal(back.length, 1ull << 30);
        assert_string_equal(back.lease_id, h.lease_id);
        assert_string_equal(back.token, h.token);
}

static void test_hello_refused(void **state)
{
        (void)state;
        struct remote_hello h = { .epoch = 1, .length = 1 << 20 }, back = { .epoch = 99 };
        strcpy(h.lease_id, "l1");
        strcpy(h.token, "00");
        uint8_t buf[REMOTE_HELLO_BYTES], bad[REMOTE_HELLO_BYTES];
        remote_hello_encode(&h, buf);

        memcpy(bad, buf, sizeof(bad));
        bad[0] ^= 1;
        assert_int_equal(remote_hello_decode(bad, &back), -EBADMSG);
        memcpy(bad, buf, sizeof(bad));
        bad[5] = 2;
        assert_int_equal(remote_hello_decode(bad, &back), -EPROTONOSUPPORT);
        /* A token that does not end inside its field (a peer reading past it would leak). */
        memcpy(bad, buf, sizeof(bad));
        memset(bad + 32 + LEASE_ID_MAX, 'f', REMOTE_TOKEN_FIELD);
        assert_int_equal(remote_hello_decode(bad, &back), -EBADMSG);
        /* Or a token longer than a lease token, though terminated in the field. */
        memcpy(bad, buf, sizeof(bad));
        memset(bad + 32 + LEASE_ID_MAX, 'f', LEASE_TOKEN_MAX);
        assert_int_equal(remote_hello_decode(bad, &back), -EBADMSG);
        memcpy(bad, buf, sizeof(bad));
        memset(bad + 32, 'x', LEASE_ID_MAX);
        assert_int_equal(remote_hello_decode(bad, &back), -EBADMSG);
        /* Untouched on failure. */
        assert_int_equal(back.epoch, 99);
}

static void test_request_round_trip(void **state)
{
        (void)state;
        struct remote_request q = { .op = REMOTE_OP_WRITE,
                                    .handle = 0x1122334455667788ull,
                                    .epoch = 3,
                                    .offset = 4096 * 5,
                                    .length = 8192 },
                              back;
        uint8_t buf[REMOTE_REQUEST_BYTES];
        remote_request_encode(&q, buf);
        assert_int_equal(buf[5], REMOTE_OP_WRITE);
        assert_int_equal(buf[8], 0x11);
        assert_int_equal(buf[15], 0x88);
        assert_int_equal(remote_request_decode(buf, &back), 0);
        assert_int_equal(back.op, REMOTE_OP_WRITE);
        assert_int_equal(back.handle, q.handle);
        assert_int_equal(back.epoch, 3);
        assert_int_equal(back.offset, 4096 * 5);
        assert_int_equal(back.length, 8192);

        uint8_t bad[REMOTE_REQUEST_BYTES];
        memcpy(bad, buf, sizeof(bad));
        bad[5] = 9;
        assert_int_equal(remote_request_decode(bad, &back), -EBADMSG);
        memcpy(bad, buf, sizeof(bad));
        bad[39] = 1;
        assert_int_equal(remote_request_decode(bad, &back), -EBADMSG);
        q.length = REMOTE_IO_BYTES_MAX + 1;
        remote_request_encode(&q, bad);
        assert_int_equal(remote_request_decode(bad, &back), -EMSGSIZE);
}

static void test_request_range(void **state)
{
        (void)state;
        const uint64_t slab = 1 << 20;
        struct remote_request q = { .op = REMOTE_OP_READ, .offset = slab - 4096, .length = 4096 };
        assert_int_equal(remote_request_check_range(&q, slab), 0);
        q.length = 8192;
        assert_int_equal(remote_request_check_range(&q, slab), -ERANGE);
        q.offset = UINT64_MAX - 10;
        q.length = 4096;
        assert_int_equal(remote_request_check_range(&q, slab), -ERANGE);
        q.offset = slab + 1;
        q.length = 0;
        assert_int_equal(remote_request_check_range(&q, slab), -ERANGE);
}

static void test_reply_round_trip(void **state)
{
        (void)state;
        struct remote_reply r = { .handle = 42, .error = ESTALE }, back;
        uint8_t buf[REMOTE_REPLY_BYTES];
        remote_reply_encode(&r, buf);
        assert_int_equal(remote_reply_decode(buf, &back), 0);
        assert_int_equal(back.handle, 42);
        assert_int_equal(back.error, ESTALE);
        buf[3] ^= 0xff;
        assert_int_equal(remote_reply_decode(buf, &back), -EBADMSG);
}

/* What the kernel writes on its socket, built with its own struct. */
static void kernel_request(uint32_t type, uint64_t from, uint32_t len, uint8_t out[28])
{
        struct nbd_request k = { .magic = htobe32(NBD_REQUEST_MAGIC),
                                 .type = htobe32(type),
                                 .from = htobe64(from),
                                 .len = htobe32(len) };
        memcpy(k.handle, "HANDLE01", 8);
        memcpy(out, &k, sizeof(k));
}

static void test_nbd_request(void **state)
{
        (void)state;
        uint8_t buf[REMOTE_NBD_REQUEST_BYTES], again[REMOTE_NBD_REQUEST_BYTES];
        struct remote_nbd_request q;

        kernel_request(NBD_CMD_WRITE | NBD_CMD_FLAG_FUA, 1ull << 33, 131072, buf);
        assert_int_equal(remote_nbd_request_decode(buf, &q), 0);
        assert_int_equal(q.cmd, REMOTE_NBD_WRITE);
        assert_true(q.fua);
        assert_memory_equal(q.handle, "HANDLE01", 8);
        assert_int_equal(q.from_bytes, 1ull << 33);
        assert_int_equal(q.length_bytes, 131072);
        remote_nbd_request_encode(&q, again);
        assert_memory_equal(again, buf, sizeof(buf));

        kernel_request(NBD_CMD_TRIM, 0, 1u << 30, buf); /* a discard may be large */
        assert_int_equal(remote_nbd_request_decode(buf, &q), 0);
        assert_int_equal(q.cmd, REMOTE_NBD_TRIM);
        assert_false(q.fua);

        kernel_request(NBD_CMD_READ, 0, REMOTE_IO_BYTES_MAX + 4096, buf);
        assert_int_equal(remote_nbd_request_decode(buf, &q), -EMSGSIZE);
        kernel_request(7, 0, 4096, buf);
        assert_int_equal(remote_nbd_request_decode(buf, &q), -EBADMSG);
        kernel_request(NBD_CMD_READ | (1u << 17), 0, 4096, buf);
        assert_int_equal(remote_nbd_request_decode(buf, &q), -EBADMSG);
        kernel_request(NBD_CMD_READ, 0, 4096, buf);
        buf[0] = 0;
        assert_int_equal(remote_nbd_request_decode(buf, &q), -EBADMSG);
}

static void test_nbd_reply(void **state)
{
        (void)state;
        uint8_t buf[REMOTE_NBD_REPLY_BYTES];
        remote_nbd_reply_encode((const uint8_t *)"HANDLE01", EIO, buf);
        struct nbd_reply k;
        memcpy(&k, buf, sizeof(k));
        assert_int_equal(be32toh(k.magic), NBD_REPLY_MAGIC);
        assert_int_equal(be32toh(k.error), EIO);
        assert_memory_equal(k.handle, "HANDLE01", 8);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hello_round_trip),   cmocka_unit_test(test_hello_refused),
                cmocka_unit_test(test_request_round_trip), cmocka_unit_test(test_request_range),
                cmocka_unit_test(test_reply_round_trip),   cmocka_unit_test(test_nbd_request),
                cmocka_unit_test(test_nbd_reply),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
