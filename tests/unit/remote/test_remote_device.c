// SPDX-License-Identifier: Apache-2.0
// The consumer's block layer (agent/remote/device.c) against real donors on loopback TCP
// (agent/remote/donor.c): a durable lease's device survives a donor killed mid-write, copies the
// lost replicas onto re-granted slabs while writes go on, waits for a donor that has not yet seen
// the new epoch, and after the second original donor dies every block still reads back as
// written. Then the kernel's side: NBD requests on a socketpair, answered as the driver expects.
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/remote/device.h"
#include "agent/remote/donor.h"
#include "agent/remote/io.h"
#include "common/clock.h"

#define MiB   (1024ull * 1024)
#define TOKEN "00112233445566778899aabbccddeeff"

enum { A, B, C, N_DONORS };
static struct donor *donors[N_DONORS];
static const char *const names[N_DONORS] = { "donor-a", "donor-b", "donor-c" };

static void start_donors(void)
{
        for (int i = 0; i < N_DONORS; i++) {
                struct donor_config cfg = { .bytes = 4 * MiB,
                                            .slab_bytes = MiB,
                                            .listen_address = "127.0.0.1" };
                assert_int_equal(donor_new(&cfg, &donors[i]), 0);
                assert_int_equal(donor_start(donors[i]), 0);
        }
}

static void stop_donors(void)
{
        for (int i = 0; i < N_DONORS; i++) {
                donor_free(donors[i]);
                donors[i] = NULL;
        }
}

static struct lease_slab slab(int donor, uint64_t offset, uint32_t chunk, uint32_t replica)
{
        struct lease_slab s = {
                .offset = offset, .length = MiB, .chunk = chunk, .replica = replica
        };
        snprintf(s.donor, sizeof(s.donor), "%s", names[donor]);
        s.transport.kind = POOL_TRANSPORT_TCP;
        snprintf(s.transport.address, sizeof(s.transport.address), "127.0.0.1");
        s.transport.port = donor_port(donors[donor]);
        snprintf(s.token, sizeof(s.token), "%s", TOKEN);
        return s;
}

/* What the broker's PUT answer would tell each donor about lease l. */
static void grant_lease(int donor, const struct lease *l)
{
        struct donor_grant g[8];
        size_t n = 0;
        for (size_t i = 0; i < l->n_slabs; i++) {
                const struct lease_slab *s = &l->slabs[i];
                if (s->revoked || strcmp(s->donor, names[donor]) != 0)
                        continue;
                g[n] = (struct donor_grant){ .epoch = l->epoch,
                                             .offset = s->offset,
                                             .length = s->length,
                                             .expires_at_usec =
                                                 now_usec(CLOCK_REALTIME) + 600 * 1000000ull };
                snprintf(g[n].lease_id, sizeof(g[n].lease_id), "%s", l->id);
                snprintf(g[n].token, sizeof(g[n].token), "%s", s->token);
                n++;
        }
        assert_int_equal(donor_set_grants(donors[donor], g, n), 0);
}

struct late_grant {
        int donor;
        const struct lease *l;
};
static void *grant_later(void *arg)
{
        struct late_grant *lg = arg;
        struct timespec ts = { .tv_nsec = 300 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        grant_lease(lg->donor, lg->l);
        return NULL;
}

static uint32_t rng = 7;
static uint32_t next_rand(void)
{
        rng = rng * 1103515245u + 12345u;
        return rng >> 8;
}

static void random_writes(struct remote_device *d, uint8_t *truth, int n)
{
        static uint8_t buf[64 * 1024];
        const uint64_t size = remote_device_bytes(d);
        for (int k = 0; k < n; k++) {
                uint32_t len = (1 + next_rand() % 16) * 4096;
                uint64_t off = (uint64_t)(next_rand() % (size / 4096)) * 4096;
                if (off + len > size)
                        off = size - len; /* some cross the chunk boundary */
                for (uint32_t i = 0; i < len; i++)
                        buf[i] = (uint8_t)next_rand();
                assert_int_equal(remote_device_write(d, off, buf, len), 0);
                memcpy(truth + off, buf, len);
        }
}

static void test_no_block_lost(void **state)
{
        (void)state;
        start_donors();
        struct lease_slab s1[] = { slab(A, 0, 0, 0), slab(B, 0, 0, 1), slab(B, MiB, 1, 0),
                                   slab(A, MiB, 1, 1) };
        struct lease l1 = { .id = "lt",
                            .node = "consumer-1",
                            .durable = true,
                            .epoch = 1,
                            .slabs = s1,
                            .n_slabs = 4 };
        for (int i = 0; i < N_DONORS; i++)
                grant_lease(i, &l1);
        struct remote_device *d = NULL;
        assert_int_equal(remote_device_open(&l1, 2000, &d), 0);
        assert_int_equal(remote_device_bytes(d), 2 * MiB);
        uint8_t *truth = calloc(1, 2 * MiB), *back = malloc(2 * MiB);
        assert_non_null(truth);
        assert_non_null(back);

        random_writes(d, truth, 200);
        /* Every write went to both donors, each timed, none failed. */
        const struct remote_latency *la = remote_device_donor_latency(d, names[A]),
                                    *lb = remote_device_donor_latency(d, names[B]);
        assert_non_null(la);
        assert_non_null(lb);
        assert_true(la->ops >= 200 && lb->ops >= 200);
        assert_int_equal(la->errors, 0);
        assert_true(remote_latency_quantile_usec(la, 0.99) > 0);
        assert_null(remote_device_donor_latency(d, names[C]));
        /* Both replicas hold the writes, byte for byte. */
        assert_memory_equal(donor_memory(donors[A]), donor_memory(donors[B]), MiB);
        assert_memory_equal(donor_memory(donors[B]) + MiB, donor_memory(donors[A]) + MiB, MiB);

        /* Donor A dies: writes go on, on B alone. */
        donor_free(donors[A]);
        donors[A] = NULL;
        random_writes(d, truth, 200);
        struct remote_device_stats st;
        remote_device_get_stats(d, &st);
        assert_int_equal(st.replica_failures, 2);
        assert_true(remote_device_wants_slabs(d));

        /* The renewal: A's slabs revoked and re-granted on C, epoch 2. C knows at once, B only
         * 300 ms later (its next renewal): the device waits for it rather than failing B. */
        struct lease_slab s2[] = { s1[0],           s1[1], s1[2], s1[3], slab(C, 2 * MiB, 0, 0),
                                   slab(C, 0, 1, 1) };
        s2[0].revoked = s2[3].revoked = true;
        struct lease l2 = l1;
        l2.epoch = 2;
        l2.slabs = s2;
        l2.n_slabs = 6;
        grant_lease(C, &l2);
        struct late_grant lg = { .donor = B, .l = &l2 };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, grant_later, &lg), 0);
        assert_int_equal(remote_device_update(d, &l2), 0);
        assert_false(remote_device_wants_slabs(d));

        /* Copy in 128 KiB steps with writes between them. */
        int left, steps = 0;
        while ((left = remote_device_repair_step(d, 128 * 1024)) > 0) {
                random_writes(d, truth, 5);
                steps++;
        }
        pthread_join(t, NULL);
        assert_int_equal(left, 0);
        assert_true(steps >= 7);
        remote_device_get_stats(d, &st);
        assert_int_equal(st.synced_bytes, 2 * MiB);
        assert_true(st.relinks >= 2); /* B's links opened again under epoch 2 */
        assert_int_equal(replica_set_degraded_chunks(remote_device_replicas(d), true), 0);

        /* B dies too: C alone holds every block, including those written during the copy. */
        donor_free(donors[B]);
        donors[B] = NULL;
        assert_int_equal(remote_device_read(d, 0, back, 2 * MiB), 0);
        assert_memory_equal(back, truth, 2 * MiB);
        remote_device_get_stats(d, &st);
        assert_true(st.replica_failures >= 3); /* B's replicas fail as reads reach them */

        remote_device_free(d);
        free(truth);
        free(back);
        stop_donors();
}

/* The broker raised the epoch while the consumer was not looking: the donor fences its link
 * (ESTALE); the refresh callback brings the new lease and the transfer goes through. */
static int refresh_to_epoch_3(void *ud, const struct lease *current, struct lease *ret)
{
        int *calls = ud;
        (*calls)++;
        int r = lease_copy(current, ret);
        ret->epoch = 3;
        return r;
}

static void test_refresh_on_fence(void **state)
{
        (void)state;
        start_donors();
        struct lease_slab s[] = { slab(A, 0, 0, 0), slab(B, 0, 0, 1) };
        struct lease l = { .id = "lr", .durable = true, .epoch = 2, .slabs = s, .n_slabs = 2 };
        grant_lease(A, &l);
        grant_lease(B, &l);
        struct remote_device *d = NULL;
        assert_int_equal(remote_device_open(&l, 2000, &d), 0);
        l.epoch = 3;
        grant_lease(A, &l);
        grant_lease(B, &l);
        uint8_t buf[4096] = { 1, 2, 3 };

        /* Without a refresh the fenced replicas fail, and so does the write. */
        assert_int_equal(remote_device_write(d, 0, buf, sizeof(buf)), -EIO);
        remote_device_free(d);

        l.epoch = 2;
        grant_lease(A, &l);
        grant_lease(B, &l);
        assert_int_equal(remote_device_open(&l, 2000, &d), 0);
        int calls = 0;
        remote_device_set_refresh(d, refresh_to_epoch_3, &calls);
        l.epoch = 3;
        grant_lease(A, &l);
        grant_lease(B, &l);
        assert_int_equal(remote_device_write(d, 0, buf, sizeof(buf)), 0);
        assert_int_equal(calls, 1);
        assert_int_equal(remote_device_lease(d)->epoch, 3);
        assert_memory_equal(donor_memory(donors[B]), buf, sizeof(buf));
        assert_memory_equal(donor_memory(donors[A]), buf, sizeof(buf));
        remote_device_free(d);
        stop_donors();
}

struct server {
        struct remote_device *d;
        int fd, r;
        volatile bool stop;
};
static void *serve_main(void *arg)
{
        struct server *s = arg;
        s->r = remote_device_serve_nbd(s->d, s->fd, &s->stop, 50);
        return NULL;
}

static void nbd_send(int fd, enum remote_nbd_cmd cmd, bool fua, uint64_t from, uint32_t len,
                     const char handle[8])
{
        struct remote_nbd_request q = {
                .cmd = cmd, .fua = fua, .from_bytes = from, .length_bytes = len
        };
        memcpy(q.handle, handle, 8);
        uint8_t buf[REMOTE_NBD_REQUEST_BYTES];
        remote_nbd_request_encode(&q, buf);
        assert_int_equal(remote_write_full(fd, buf, sizeof(buf)), 0);
}

static uint32_t nbd_reply(int fd, const char handle[8])
{
        uint8_t buf[REMOTE_NBD_REPLY_BYTES];
        assert_int_equal(remote_read_full(fd, buf, sizeof(buf)), 0);
        assert_memory_equal(buf, "\x67\x44\x66\x98", 4); /* NBD_REPLY_MAGIC */
        assert_memory_equal(buf + 8, handle, 8);
        return (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
}

static void test_nbd_serve(void **state)
{
        (void)state;
        start_donors();
        struct lease_slab s[] = { slab(A, MiB, 0, 0), slab(B, 3 * MiB, 0, 1) };
        struct lease l = { .id = "ln", .durable = true, .epoch = 1, .slabs = s, .n_slabs = 2 };
        grant_lease(A, &l);
        grant_lease(B, &l);
        struct server srv = {};
        assert_int_equal(remote_device_open(&l, 2000, &srv.d), 0);
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        srv.fd = sv[1];
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, serve_main, &srv), 0);

        static uint8_t out[8192], in[8192];
        for (size_t i = 0; i < sizeof(out); i++)
                out[i] = (uint8_t)(i ^ 0x5a);
        nbd_send(sv[0], REMOTE_NBD_WRITE, true, 4096, sizeof(out), "write001");
        assert_int_equal(remote_write_full(sv[0], out, sizeof(out)), 0);
        assert_int_equal(nbd_reply(sv[0], "write001"), 0);
        assert_memory_equal(donor_memory(donors[A]) + MiB + 4096, out, sizeof(out));
        assert_memory_equal(donor_memory(donors[B]) + 3 * MiB + 4096, out, sizeof(out));

        nbd_send(sv[0], REMOTE_NBD_READ, false, 4096, sizeof(in), "read0002");
        assert_int_equal(nbd_reply(sv[0], "read0002"), 0);
        assert_int_equal(remote_read_full(sv[0], in, sizeof(in)), 0);
        assert_memory_equal(in, out, sizeof(in));

        nbd_send(sv[0], REMOTE_NBD_FLUSH, false, 0, 0, "flush003");
        assert_int_equal(nbd_reply(sv[0], "flush003"), 0);
        nbd_send(sv[0], REMOTE_NBD_READ, false, MiB - 4096, 8192, "past0004");
        assert_int_equal(nbd_reply(sv[0], "past0004"), ERANGE); /* no data follows */

        /* A replica's donor gone: the kernel never sees it. */
        donor_free(donors[A]);
        donors[A] = NULL;
        nbd_send(sv[0], REMOTE_NBD_READ, false, 4096, sizeof(in), "read0005");
        nbd_send(sv[0], REMOTE_NBD_READ, false, 4096, sizeof(in), "read0006");
        assert_int_equal(nbd_reply(sv[0], "read0005"), 0);
        assert_int_equal(remote_read_full(sv[0], in, sizeof(in)), 0);
        assert_memory_equal(in, out, sizeof(in));
        assert_int_equal(nbd_reply(sv[0], "read0006"), 0);
        assert_int_equal(remote_read_full(sv[0], in, sizeof(in)), 0);
        assert_memory_equal(in, out, sizeof(in));

        nbd_send(sv[0], REMOTE_NBD_DISC, false, 0, 0, "disc0007");
        pthread_join(t, NULL);
        assert_int_equal(srv.r, 0);
        close(sv[0]);
        close(sv[1]);
        remote_device_free(srv.d);
        stop_donors();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_block_lost),
                cmocka_unit_test(test_refresh_on_fence),
                cmocka_unit_test(test_nbd_serve),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
