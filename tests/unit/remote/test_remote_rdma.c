// SPDX-License-Identifier: Apache-2.0
// The RDMA transport's parts that run without an RDMA device (agent/remote/rdma.c, link.c,
// donor.c): the donor's answer to an RDMA hello, byte for byte; which transport a consumer
// takes; and that a node without RDMA still reaches a donor whose RDMA transport the broker
// handed out, over TCP on the same port. The verbs path itself runs in the guests
// (tests/vm/scenarios/remote-swap-rdma.sh), where Soft-RoCE gives a real device.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/remote/donor.h"
#include "agent/remote/link.h"
#include "agent/remote/proto.h"
#include "agent/remote/rdma.h"
#include "common/clock.h"

#define MiB   (1024ull * 1024)
#define TOKEN "0123456789abcdef0123456789abcdef"

static void test_answer_framing(void **state)
{
        (void)state;
        uint8_t buf[REMOTE_RDMA_ANSWER_BYTES];
        struct remote_rdma_answer a = { .addr = 0x00007f1234560000ull,
                                        .rkey = 0xa1b2c3d4u,
                                        .length = 16 * MiB },
                                  got;
        remote_rdma_answer_encode(&a, buf);
        /* Big-endian, as every field of the block protocol. */
        static const uint8_t head[] = {
                'M',  'M',  'R',  'A',  0,    0,    0,    0,    0x00, 0x00,
                0x7f, 0x12, 0x34, 0x56, 0x00, 0x00, 0xa1, 0xb2, 0xc3, 0xd4
        };
        assert_memory_equal(buf, head, sizeof(head));
        assert_int_equal(remote_rdma_answer_decode(buf, &got), 0);
        assert_int_equal(got.error, 0);
        assert_int_equal(got.addr, a.addr);
        assert_int_equal(got.rkey, a.rkey);
        assert_int_equal(got.length, a.length);

        /* A refusal carries the errno and no slab. */
        remote_rdma_answer_encode(&(struct remote_rdma_answer){ .error = ESTALE }, buf);
        assert_int_equal(remote_rdma_answer_decode(buf, &got), 0);
        assert_int_equal(got.error, ESTALE);

        /* Another magic (a TCP reply read as an answer), a reserved field set, an accepting answer
         * without a slab or one that wraps: refused, ret untouched. */
        struct remote_rdma_answer keep = { .rkey = 7 };
        got = keep;
        remote_rdma_answer_encode(&a, buf);
        buf[0] ^= 1;
        assert_int_equal(remote_rdma_answer_decode(buf, &got), -EBADMSG);
        remote_rdma_answer_encode(&a, buf);
        buf[21] = 1;
        assert_int_equal(remote_rdma_answer_decode(buf, &got), -EBADMSG);
        remote_rdma_answer_encode(&(struct remote_rdma_answer){ .addr = 4096 }, buf);
        assert_int_equal(remote_rdma_answer_decode(buf, &got), -EBADMSG);
        remote_rdma_answer_encode(
            &(struct remote_rdma_answer){ .addr = UINT64_MAX - 10, .length = 4096 }, buf);
        assert_int_equal(remote_rdma_answer_decode(buf, &got), -EBADMSG);
        assert_int_equal(got.rkey, 7);
}

static void test_transport_choice(void **state)
{
        (void)state;
        assert_int_equal(remote_transport_choose(POOL_TRANSPORT_RDMA, 1), POOL_TRANSPORT_RDMA);
        /* No device here, or a build without verbs: the donor's TCP on the same port. */
        assert_int_equal(remote_transport_choose(POOL_TRANSPORT_RDMA, 0), POOL_TRANSPORT_TCP);
        assert_int_equal(remote_transport_choose(POOL_TRANSPORT_RDMA, -EPROTONOSUPPORT),
                         POOL_TRANSPORT_TCP);
        /* A TCP-only donor is TCP even from a node that has RDMA. */
        assert_int_equal(remote_transport_choose(POOL_TRANSPORT_TCP, 1), POOL_TRANSPORT_TCP);
}

/* A donor on loopback (no RDMA device serves 127.0.0.1 on any machine) offers TCP only, and a
 * consumer handed an RDMA transport reaches it over TCP at that address and port. */
static void test_fallback_to_tcp(void **state)
{
        (void)state;
        struct donor_config cfg = { .bytes = 2 * MiB,
                                    .slab_bytes = MiB,
                                    .listen_address = "127.0.0.1" };
        struct donor *d = NULL;
        assert_int_equal(donor_new(&cfg, &d), 0);
        assert_int_equal(donor_start(d), 0);
        assert_false(donor_serves_rdma(d));
        struct pool_offer o;
        assert_int_equal(donor_offer(d, "donor-a", "127.0.0.1", &o), 0);
        assert_int_equal(o.n_transports, 1);
        assert_int_equal(o.transports[0].kind, POOL_TRANSPORT_TCP);

        struct donor_grant g = { .epoch = 2,
                                 .offset = MiB,
                                 .length = MiB,
                                 .expires_at_usec = now_usec(CLOCK_REALTIME) + 600000000ull };
        snprintf(g.lease_id, sizeof(g.lease_id), "l1");
        snprintf(g.consumer, sizeof(g.consumer), "c1");
        snprintf(g.token, sizeof(g.token), "%s", TOKEN);
        assert_int_equal(donor_set_grants(d, &g, 1), 0);

        struct pool_transport t = { .kind = POOL_TRANSPORT_RDMA, .port = donor_port(d) };
        snprintf(t.address, sizeof(t.address), "127.0.0.1");
        struct remote_hello h = { .epoch = 2, .offset = MiB, .length = MiB };
        snprintf(h.lease_id, sizeof(h.lease_id), "l1");
        snprintf(h.token, sizeof(h.token), "%s", TOKEN);
        struct remote_link l = REMOTE_LINK_NULL;
        int r = remote_link_open(&t, &h, 2000, &l);
        if (remote_rdma_available() > 0) {
                /* A machine with an RDMA device tries RDMA, which loopback cannot carry. */
                assert_int_not_equal(r, 0);
                donor_free(d);
                skip();
        }
        assert_int_equal(r, 0);
        assert_null(l.rdma);
        uint8_t out[8192], in[8192];
        for (size_t i = 0; i < sizeof(out); i++)
                out[i] = (uint8_t)(i * 13 + 1);
        assert_int_equal(remote_link_io(&l, REMOTE_OP_WRITE, 4096, out, sizeof(out)), 0);
        assert_memory_equal(donor_memory(d) + MiB + 4096, out, sizeof(out));
        assert_int_equal(remote_link_io(&l, REMOTE_OP_READ, 4096, in, sizeof(in)), 0);
        assert_memory_equal(in, out, sizeof(out));
        assert_int_equal(donor_rdma_accepted(d), 0);
        remote_link_close(&l);

        /* The fallback keeps the grant check: a wrong token is refused as over TCP. */
        snprintf(h.token, sizeof(h.token), "ffffffffffffffffffffffffffffffff");
        assert_int_equal(remote_link_open(&t, &h, 2000, &l), -EACCES);
        donor_free(d);
}

/* Where this node has no RDMA device, the backend says so instead of failing later. */
static void test_no_device(void **state)
{
        (void)state;
        if (remote_rdma_available() > 0)
                skip();
        static uint8_t mem[MiB];
        struct rdma_listener *l = NULL;
        int r = rdma_listener_new(mem, sizeof(mem), NULL, 7471, NULL, NULL, &l);
        assert_true(r == -ENODEV || r == -EPROTONOSUPPORT);
        assert_null(l);
        struct pool_transport t = { .kind = POOL_TRANSPORT_RDMA, .port = 7471 };
        snprintf(t.address, sizeof(t.address), "127.0.0.1");
        struct remote_hello h = { .epoch = 1, .length = MiB };
        struct rdma_link *rl = NULL;
        r = rdma_link_open(&t, &h, 500, &rl);
        assert_true(r < 0);
        assert_null(rl);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_answer_framing),
                cmocka_unit_test(test_transport_choice),
                cmocka_unit_test(test_fallback_to_tcp),
                cmocka_unit_test(test_no_device),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
