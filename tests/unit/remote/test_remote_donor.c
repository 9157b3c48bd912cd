// SPDX-License-Identifier: Apache-2.0
// The donor over TCP on loopback (agent/remote/donor.c) and the consumer's link to it
// (agent/remote/link.c): a connection is accepted only with a granted lease, its token and the
// current epoch; writes land in the donor's region at the slab's offset and read back; a
// re-grant (a new epoch) fences a connection that is already open; a consumer ahead of the donor
// is told to retry; requests out of the slab are refused without ending the connection.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "agent/remote/donor.h"
#include "agent/remote/link.h"
#include "agent/remote/registrar.h"
#include "common/clock.h"

#define MiB   (1024ull * 1024)
#define TOKEN "0123456789abcdef0123456789abcdef"

static struct donor_grant grant(const char *lease, uint64_t epoch, uint64_t offset)
{
        struct donor_grant g = { .epoch = epoch,
                                 .offset = offset,
                                 .length = MiB,
                                 .expires_at_usec = now_usec(CLOCK_REALTIME) + 600 * 1000000ull };
        snprintf(g.lease_id, sizeof(g.lease_id), "%s", lease);
        snprintf(g.consumer, sizeof(g.consumer), "consumer-1");
        snprintf(g.token, sizeof(g.token), "%s", TOKEN);
        return g;
}

static struct remote_hello hello(const char *lease, uint64_t epoch, uint64_t offset,
                                 const char *token)
{
        struct remote_hello h = { .epoch = epoch, .offset = offset, .length = MiB };
        snprintf(h.lease_id, sizeof(h.lease_id), "%s", lease);
        snprintf(h.token, sizeof(h.token), "%s", token);
        return h;
}

static void test_check(void **state)
{
        (void)state;
        const uint64_t now = now_usec(CLOCK_REALTIME);
        struct donor_grant g[2] = { grant("la", 3, 0), grant("lb", 1, MiB) };
        assert_int_equal(donor_check(g, 2, "la", TOKEN, 3, 0, MiB, now), 0);
        assert_int_equal(donor_check(g, 2, "la", TOKEN, 2, 0, MiB, now), -ESTALE);
        assert_int_equal(donor_check(g, 2, "la", TOKEN, 4, 0, MiB, now), -EAGAIN);
        assert_int_equal(
            donor_check(g, 2, "la", "ffffffffffffffffffffffffffffffff", 3, 0, MiB, now), -EACCES);
        /* A grant is for one slab: the lease's other slab on this donor is not it. */
        assert_int_equal(donor_check(g, 2, "la", TOKEN, 3, MiB, MiB, now), -ENOENT);
        assert_int_equal(donor_check(g, 2, "lc", TOKEN, 3, 0, MiB, now), -ENOENT);
        assert_int_equal(donor_check(g, 2, "lb", TOKEN, 1, MiB, MiB, g[1].expires_at_usec), -ETIME);
}

static struct donor *start_donor(void)
{
        struct donor_config cfg = { .bytes = 4 * MiB + 12345,
                                    .slab_bytes = MiB,
                                    .listen_address = "127.0.0.1",
                                    .lock = true };
        struct donor *d = NULL;
        /* Locking 4 MiB needs RLIMIT_MEMLOCK room; without it the rest still holds. */
        if (donor_new(&cfg, &d) < 0) {
                cfg.lock = false;
                assert_int_equal(donor_new(&cfg, &d), 0);
        }
        assert_int_equal(donor_bytes(d), 4 * MiB);
        assert_int_not_equal(donor_port(d), 0);
        assert_int_equal(donor_start(d), 0);
        return d;
}

static struct pool_transport transport(const struct donor *d)
{
        struct pool_transport t = { .kind = POOL_TRANSPORT_TCP, .port = donor_port(d) };
        snprintf(t.address, sizeof(t.address), "127.0.0.1");
        return t;
}

static void test_serve_and_fence(void **state)
{
        (void)state;
        struct donor *d = start_donor();
        struct pool_transport t = transport(d);
        struct donor_grant g = grant("l1", 5, 2 * MiB);
        struct remote_link l = REMOTE_LINK_NULL, other = REMOTE_LINK_NULL;
        struct remote_hello h;
        static uint8_t out[64 * 1024], in[64 * 1024];
        for (size_t i = 0; i < sizeof(out); i++)
                out[i] = (uint8_t)(i * 7 + 3);

        /* No grant yet. */
        h = hello("l1", 5, 2 * MiB, TOKEN);
        assert_int_equal(remote_link_open(&t, &h, 2000, &l), -ENOENT);
        assert_int_equal(donor_set_grants(d, &g, 1), 0);
        h = hello("l1", 5, 2 * MiB, "00000000000000000000000000000000");
        assert_int_equal(remote_link_open(&t, &h, 2000, &l), -EACCES);
        h = hello("l1", 4, 2 * MiB, TOKEN);
        assert_int_equal(remote_link_open(&t, &h, 2000, &l), -ESTALE);
        assert_int_equal(l.fd, -1); /* untouched */

        h = hello("l1", 5, 2 * MiB, TOKEN);
        assert_int_equal(remote_link_open(&t, &h, 2000, &l), 0);
        assert_int_equal(remote_link_io(&l, REMOTE_OP_WRITE, 4096, out, sizeof(out)), 0);
        /* In the donor's region at the slab's offset: the memory the offer lent. */
        assert_memory_equal(donor_memory(d) + 2 * MiB + 4096, out, sizeof(out));
        assert_int_equal(remote_link_io(&l, REMOTE_OP_READ, 4096, in, sizeof(in)), 0);
        assert_memory_equal(in, out, sizeof(in));

        /* Past the slab's end: refused, the connection goes on. */
        assert_int_equal(remote_link_io(&l, REMOTE_OP_WRITE, MiB - 4096, out, 8192), -ERANGE);
        assert_memory_equal(donor_memory(d) + 3 * MiB, "\0\0\0\0", 4);
        assert_int_equal(remote_link_io(&l, REMOTE_OP_READ, 4096, in, 4096), 0);
        assert_true(donor_requests_served(d) >= 3);

        /* The broker re-granted (epoch 6): a consumer still on 5 is fenced at its next request,
         * and its write does not land. */
        h = hello("l1", 6, 2 * MiB, TOKEN);
        assert_int_equal(remote_link_open(&t, &h, 2000, &other), -EAGAIN); /* donor behind */
        g.epoch = 6;
        assert_int_equal(donor_set_grants(d, &g, 1), 0);
        memset(out, 0xee, 4096);
        assert_int_equal(remote_link_io(&l, REMOTE_OP_WRITE, 0, out, 4096), -ESTALE);
        assert_int_equal(l.fd, -1);
        assert_memory_not_equal(donor_memory(d) + 2 * MiB, out, 4096);
        assert_int_equal(remote_link_io(&l, REMOTE_OP_READ, 0, in, 4096), -ENOTCONN);

        assert_int_equal(remote_link_open(&t, &h, 2000, &other), 0);
        assert_int_equal(remote_link_io(&other, REMOTE_OP_WRITE, 0, out, 4096), 0);
        assert_memory_equal(donor_memory(d) + 2 * MiB, out, 4096);

        /* The grant withdrawn (the lease expired): fenced as well. */
        assert_int_equal(donor_set_grants(d, NULL, 0), 0);
        assert_int_equal(remote_link_io(&other, REMOTE_OP_READ, 0, in, 4096), -ENOENT);
        assert_true(donor_requests_refused(d) >= 5);
        remote_link_close(&other);
        remote_link_close(&l);
        donor_free(d);
}

static void test_free_with_open_connections(void **state)
{
        (void)state;
        struct donor *d = start_donor();
        struct pool_transport t = transport(d);
        struct donor_grant g = grant("l2", 1, 0);
        struct remote_link l = REMOTE_LINK_NULL;
        struct remote_hello h = hello("l2", 1, 0, TOKEN);
        assert_int_equal(donor_set_grants(d, &g, 1), 0);
        assert_int_equal(remote_link_open(&t, &h, 2000, &l), 0);
        assert_int_equal(donor_connections(d), 1);
        /* Stopping must not wait for the consumer to hang up. */
        donor_free(d);
        uint8_t b[4096];
        assert_int_not_equal(remote_link_io(&l, REMOTE_OP_READ, 0, b, sizeof(b)), 0);
        remote_link_close(&l);
}

static void test_offer(void **state)
{
        (void)state;
        struct donor *d = start_donor();
        struct pool_offer o;
        assert_int_equal(donor_offer(d, "donor-a", "10.0.0.7", &o), 0);
        assert_string_equal(o.node, "donor-a");
        assert_int_equal(o.bytes, 4 * MiB);
        assert_int_equal(o.slab_bytes, MiB);
        assert_int_equal(o.n_transports, 1);
        assert_int_equal(o.transports[0].kind, POOL_TRANSPORT_TCP);
        assert_int_equal(o.transports[0].port, donor_port(d));
        assert_string_equal(o.transports[0].address, "10.0.0.7");
        donor_free(d);

        struct donor_config bad = { .bytes = MiB / 2, .slab_bytes = MiB };
        assert_int_equal(donor_new(&bad, &d), -EINVAL);
        bad = (struct donor_config){ .bytes = 4 * MiB, .slab_bytes = MiB + 1 };
        assert_int_equal(donor_new(&bad, &d), -EINVAL);
}

/* The PUT answer as memschedd encodes it (pool_donor_status_encode) is what the registrar
 * decodes into the donor's grant table. */
static void test_grants_from_answer(void **state)
{
        (void)state;
        struct pool_offer o = { .node = "donor-a", .bytes = 4 * MiB, .slab_bytes = MiB };
        struct pool_grant pg[2] = {
                { .lease_id = "l1",
                  .consumer = "c1",
                  .epoch = 4,
                  .offset = MiB,
                  .length = MiB,
                  .token = TOKEN,
                  .expires_at_usec = 1700000000000000ull },
                { .lease_id = "l2",
                  .consumer = "c2",
                  .epoch = 1,
                  .offset = 0,
                  .length = MiB,
                  .token = "ffffffffffffffffffffffffffffffff",
                  .expires_at_usec = 1 },
        };
        struct pool_donor_status st = { .offer = &o, .grants = pg, .n_grants = 2 };
        struct json_object *answer = pool_donor_status_encode(&st);
        struct donor_grant g[2];
        assert_int_equal(registrar_grants_from_answer(answer, g, 2), 2);
        assert_string_equal(g[0].lease_id, "l1");
        assert_string_equal(g[0].consumer, "c1");
        assert_string_equal(g[0].token, TOKEN);
        assert_int_equal(g[0].epoch, 4);
        assert_int_equal(g[0].offset, MiB);
        assert_int_equal(g[0].length, MiB);
        assert_int_equal(g[0].expires_at_usec, 1700000000000000ull);
        assert_string_equal(g[1].lease_id, "l2");
        assert_int_equal(registrar_grants_from_answer(answer, g, 1), -E2BIG);
        json_object_put(answer);

        /* No grants array (an answer without them), or a grant without its token. */
        st.grants = NULL;
        answer = pool_donor_status_encode(&st);
        assert_int_equal(registrar_grants_from_answer(answer, g, 2), -EBADMSG);
        json_object_put(answer);
        pg[1].token = "";
        st.grants = pg;
        answer = pool_donor_status_encode(&st);
        assert_int_equal(registrar_grants_from_answer(answer, g, 2), -EBADMSG);
        json_object_put(answer);
}

/* The donor asks memschedd again shortly before a grant's deadline, so that a lease the consumer
 * renewed (its deadline moved) is not refused at the old one while the donor waits for its
 * period. */
static void test_registrar_wait(void **state)
{
        (void)state;
        const uint64_t s = 1000000, now = 1700000000ull * s, period = 10 * s, margin = 2 * s;
        struct donor_grant g[3] = { { .expires_at_usec = now + 60 * s },
                                    { .expires_at_usec = now + 6 * s },
                                    { .expires_at_usec = now + 1 * s } };
        /* No grants, or deadlines beyond the period: the period. */
        assert_int_equal(registrar_wait_usec(period, g, 0, now, margin), period);
        assert_int_equal(registrar_wait_usec(period, g, 1, now, margin), period);
        /* A deadline in 6 s: ask again at 4 s, not at 10. */
        assert_int_equal(registrar_wait_usec(period, g, 2, now, margin), 4 * s);
        /* One already within the margin (a lease that was not renewed) shortens nothing. */
        assert_int_equal(registrar_wait_usec(period, g + 2, 1, now, margin), period);
        assert_int_equal(registrar_wait_usec(period, g, 3, now, margin), 4 * s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_check),
                cmocka_unit_test(test_serve_and_fence),
                cmocka_unit_test(test_free_with_open_connections),
                cmocka_unit_test(test_offer),
                cmocka_unit_test(test_grants_from_answer),
                cmocka_unit_test(test_registrar_wait),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
