// SPDX-License-Identifier: Apache-2.0
// The consumer's replica state machine (agent/remote/replica.c): writes land on both replicas,
// reads alternate and fall back, a dead replica is re-replicated from the survivor while writes
// keep coming, and a lease is released only once drained. The last test drives it against
// simulated slabs (memory arrays that can die) and checks every block afterwards.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/remote/replica.h"

#define KiB 1024ull

static void test_write_both_read_either(void **state)
{
        (void)state;
        struct replica_set s;
        unsigned slots[REPLICA_SLOTS], slot;
        assert_int_equal(replica_set_init(&s, 2, 64 * KiB), 0);
        assert_int_equal(replica_plan_write(&s, 0, slots), -EIO); /* nothing attached */
        assert_int_equal(replica_attach(&s, 0, 0, 10, true), 0);
        assert_int_equal(replica_attach(&s, 0, 1, 11, true), 0);
        assert_int_equal(replica_attach(&s, 0, 1, 12, true), -EBUSY);
        assert_int_equal(replica_attach(&s, 2, 0, 12, true), -ERANGE);

        assert_int_equal(replica_plan_write(&s, 0, slots), 2);
        assert_int_equal(slots[0], 0);
        assert_int_equal(slots[1], 1);

        /* Reads alternate between the two. */
        assert_int_equal(replica_plan_read(&s, 0, &slot), 0);
        unsigned first = slot;
        assert_int_equal(replica_plan_read(&s, 0, &slot), 0);
        assert_int_not_equal(slot, first);

        /* A failed read fails that replica; the next plan goes to the other, for good. */
        replica_read_done(&s, 0, slot, -EIO);
        assert_int_equal(s.chunks[0].slot[slot].state, REPLICA_FAILED);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(replica_plan_read(&s, 0, &slot), 0);
                assert_int_equal(slot, first);
        }
        assert_int_equal(replica_set_degraded_chunks(&s, true), 2); /* chunk 1 has none */
        assert_int_equal(replica_set_lost_chunks(&s), 1);
        replica_set_done(&s);
}

static void test_write_outcome(void **state)
{
        (void)state;
        struct replica_set s;
        unsigned slots[REPLICA_SLOTS];
        assert_int_equal(replica_set_init(&s, 1, 64 * KiB), 0);
        assert_int_equal(replica_attach(&s, 0, 0, 1, true), 0);
        assert_int_equal(replica_attach(&s, 0, 1, 2, true), 0);
        int n = replica_plan_write(&s, 0, slots);
        assert_int_equal(n, 2);

        /* One replica took it: acknowledged, the other failed. */
        int results[2] = { 0, -ECONNRESET };
        replica_write_done(&s, 0, slots[0], results[0]);
        replica_write_done(&s, 0, slots[1], results[1]);
        assert_int_equal(replica_write_outcome(&s, 0, slots, 2, results), 0);
        assert_int_equal(s.chunks[0].slot[1].state, REPLICA_FAILED);

        /* The survivor fails too: the write is an error for the kernel, the chunk is lost. */
        n = replica_plan_write(&s, 0, slots);
        assert_int_equal(n, 1);
        int r2[1] = { -EIO };
        replica_write_done(&s, 0, slots[0], r2[0]);
        assert_int_equal(replica_write_outcome(&s, 0, slots, 1, r2), -EIO);
        assert_int_equal(replica_plan_write(&s, 0, slots), -EIO);
        assert_int_equal(replica_set_lost_chunks(&s), 1);
        replica_set_done(&s);
}

static void test_resync_from_survivor(void **state)
{
        (void)state;
        struct replica_set s;
        unsigned slots[REPLICA_SLOTS], src, slot;
        size_t chunk;
        uint64_t off, len;
        assert_int_equal(replica_set_init(&s, 2, 64 * KiB), 0);
        for (size_t c = 0; c < 2; c++) {
                assert_int_equal(replica_attach(&s, c, 0, 100, true), 0); /* donor A */
                assert_int_equal(replica_attach(&s, c, 1, 200 + c, true), 0);
        }
        assert_int_equal(replica_next_repair(&s, true, &chunk, &slot), 0);

        /* Donor A dies: both chunks lose slot 0. */
        assert_int_equal(replica_fail_slab(&s, 100), 2);
        assert_int_equal(replica_set_lost_chunks(&s), 0);
        assert_int_equal(replica_next_repair(&s, true, &chunk, &slot), 1);
        assert_int_equal(chunk, 0);
        assert_int_equal(slot, 0);
        /* A slab on a dead donor holds nothing needed; the survivor's does. */
        assert_true(replica_slab_releasable(&s, 100));
        assert_false(replica_slab_releasable(&s, 200));

        /* A new slab: syncing, takes writes at once, serves no read until complete. */
        assert_int_equal(replica_attach(&s, 0, 0, 300, false), 0);
        assert_int_equal(s.chunks[0].slot[0].state, REPLICA_SYNCING);
        assert_int_equal(replica_plan_write(&s, 0, slots), 2);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(replica_plan_read(&s, 0, &slot), 0);
                assert_int_equal(slot, 1);
        }
        /* A write that only the syncing replica took is not an acknowledged write. */
        int results[2] = { 0, -EIO };
        assert_int_equal(replica_write_outcome(&s, 0, slots, 2, results), -EIO);

        /* Copy in 16 KiB steps from slot 1. */
        uint64_t copied = 0;
        while (replica_sync_next(&s, 0, 0, 16 * KiB, &src, &off, &len) == 1) {
                assert_int_equal(src, 1);
                assert_int_equal(off, copied);
                replica_sync_done(&s, 0, 0, src, len, 0, 0);
                copied += len;
        }
        assert_int_equal(copied, 64 * KiB);
        assert_int_equal(s.chunks[0].slot[0].state, REPLICA_HEALTHY);
        assert_int_equal(replica_set_degraded_chunks(&s, true), 1);

        /* Chunk 1: the survivor dies mid-copy; the copy cannot finish and says so. */
        assert_int_equal(replica_attach(&s, 1, 0, 301, false), 0);
        assert_int_equal(replica_sync_next(&s, 1, 0, 16 * KiB, &src, &off, &len), 1);
        replica_sync_done(&s, 1, 0, src, len, -ECONNRESET, 0);
        assert_int_equal(replica_sync_next(&s, 1, 0, 16 * KiB, &src, &off, &len), -ENODATA);
        assert_int_equal(replica_set_lost_chunks(&s), 1);
        /* And a chunk without a healthy replica cannot take a syncing one. */
        assert_int_equal(replica_fail_slab(&s, 301), 1);
        assert_int_equal(replica_attach(&s, 1, 0, 302, false), -ENODATA);
        replica_set_done(&s);
}

static void test_drain_before_release(void **state)
{
        (void)state;
        struct replica_set s;
        unsigned slots[REPLICA_SLOTS], slot;
        assert_int_equal(replica_set_init(&s, 1, 64 * KiB), 0);
        assert_int_equal(replica_attach(&s, 0, 0, 1, true), 0);
        assert_int_equal(replica_attach(&s, 0, 1, 2, true), 0);
        assert_false(replica_set_may_release(&s));
        /* Each copy alone may go (the other holds the chunk), but not the last one. */
        assert_true(replica_slab_releasable(&s, 1));
        assert_int_equal(replica_fail_slab(&s, 2), 1);
        assert_false(replica_slab_releasable(&s, 1));
        replica_set_drained(&s); /* no effect before draining began */
        assert_false(replica_set_may_release(&s));

        replica_set_begin_drain(&s);
        assert_int_equal(replica_plan_write(&s, 0, slots), -EROFS);
        assert_int_equal(replica_plan_read(&s, 0, &slot), 0); /* swapoff reads everything back */
        assert_false(replica_set_may_release(&s));
        replica_set_drained(&s);
        assert_true(replica_set_may_release(&s));
        assert_true(replica_slab_releasable(&s, 1));
        replica_set_done(&s);
}

static void test_from_lease(void **state)
{
        (void)state;
        struct lease_slab slabs[] = {
                { .donor = "a", .length = 1 << 20, .chunk = 0, .replica = 0 },
                { .donor = "b", .length = 1 << 20, .chunk = 0, .replica = 1 },
                { .donor = "b", .length = 1 << 20, .chunk = 1, .replica = 0 },
                { .donor = "c", .length = 1 << 20, .chunk = 1, .replica = 1, .revoked = true },
        };
        struct lease l = { .slabs = slabs, .n_slabs = 4, .durable = true };
        struct replica_set s;
        size_t chunk;
        unsigned slot;
        assert_int_equal(replica_set_from_lease(&s, &l), 0);
        assert_int_equal(s.n_chunks, 2);
        assert_int_equal(s.chunk_bytes, 1 << 20);
        assert_int_equal(s.chunks[1].slot[0].slab, 2);
        assert_int_equal(s.chunks[1].slot[1].state, REPLICA_NONE);
        assert_int_equal(replica_next_repair(&s, true, &chunk, &slot), 1);
        assert_int_equal(chunk, 1);
        assert_int_equal(slot, 1);
        assert_int_equal(replica_next_repair(&s, false, &chunk, &slot), 0);
        replica_set_done(&s);

        slabs[3].revoked = false;
        slabs[3].chunk = 0; /* two slabs in one place */
        assert_int_equal(replica_set_from_lease(&s, &l), -EINVAL);
        slabs[3].chunk = 1;
        slabs[3].length = 2 << 20;
        assert_int_equal(replica_set_from_lease(&s, &l), -EINVAL);
}

/* Simulated slabs: a donor is a byte array that can die. */
#define N_CHUNKS 4
#define CHUNK    (64 * KiB)
#define BLOCK    4096
#define N_SLABS  16
static uint8_t *slab_mem[N_SLABS];
static bool slab_dead[N_SLABS];

static int sim_io(uint32_t slab, bool write, uint64_t off, uint8_t *buf, uint64_t len)
{
        if (slab >= N_SLABS || slab_dead[slab])
                return -ECONNRESET;
        if (write)
                memcpy(slab_mem[slab] + off, buf, len);
        else
                memcpy(buf, slab_mem[slab] + off, len);
        return 0;
}

static int dev_write(struct replica_set *s, uint64_t pos, uint8_t *buf)
{
        size_t chunk = pos / CHUNK;
        unsigned slots[REPLICA_SLOTS];
        int results[REPLICA_SLOTS];
        int n = replica_plan_write(s, chunk, slots);
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                uint32_t slab = s->chunks[chunk].slot[slots[i]].slab;
                results[i] = sim_io(slab, true, pos % CHUNK, buf, BLOCK);
                replica_write_done(s, chunk, slots[i], results[i]);
        }
        return replica_write_outcome(s, chunk, slots, (size_t)n, results);
}

static int dev_read(struct replica_set *s, uint64_t pos, uint8_t *buf)
{
        size_t chunk = pos / CHUNK;
        unsigned slot;
        for (;;) {
                int r = replica_plan_read(s, chunk, &slot);
                if (r < 0)
                        return r;
                r = sim_io(s->chunks[chunk].slot[slot].slab, false, pos % CHUNK, buf, BLOCK);
                replica_read_done(s, chunk, slot, r);
                if (r == 0)
                        return 0;
        }
}

/* One copy step of every syncing replica, as the worker runs between requests. */
static void sync_steps(struct replica_set *s)
{
        static uint8_t tmp[BLOCK];
        for (size_t c = 0; c < s->n_chunks; c++)
                for (unsigned k = 0; k < REPLICA_SLOTS; k++) {
                        unsigned src;
                        uint64_t off, len;
                        if (replica_sync_next(s, c, k, sizeof(tmp), &src, &off, &len) != 1)
                                continue;
                        int rr = sim_io(s->chunks[c].slot[src].slab, false, off, tmp, len);
                        int wr =
                            rr < 0 ? 0 : sim_io(s->chunks[c].slot[k].slab, true, off, tmp, len);
                        replica_sync_done(s, c, k, src, len, rr, wr);
                }
}

static void test_no_block_lost_when_a_donor_dies(void **state)
{
        (void)state;
        struct replica_set s;
        static uint8_t truth[N_CHUNKS * CHUNK];
        uint8_t buf[BLOCK];
        uint32_t next_slab = 0, seed = 1;
        for (int i = 0; i < N_SLABS; i++) {
                slab_mem[i] = calloc(1, CHUNK);
                assert_non_null(slab_mem[i]);
                slab_dead[i] = false;
        }
        assert_int_equal(replica_set_init(&s, N_CHUNKS, CHUNK), 0);
        /* Slabs 0..3 on "donor A", 4..7 on "donor B". */
        for (size_t c = 0; c < N_CHUNKS; c++) {
                assert_int_equal(replica_attach(&s, c, 0, next_slab, true), 0);
                assert_int_equal(replica_attach(&s, c, 1, next_slab + N_CHUNKS, true), 0);
                next_slab++;
        }
        next_slab = 2 * N_CHUNKS;

        /* Donor A dies at step 1000, the renewal's new slabs arrive at 1200 and are filled a
         * block per chunk every other request while writes go on, and donor B dies the moment
         * the copies are complete: every block must then come from the copies, including those
         * written below the copy cursor while it moved. */
        int b_died_at = -1;
        for (int step = 0; b_died_at < 0 || step < b_died_at + 16; step++) {
                seed = seed * 1103515245u + 12345u;
                uint64_t pos = (uint64_t)(seed >> 8) % (N_CHUNKS * CHUNK / BLOCK) * BLOCK;
                for (size_t i = 0; i < BLOCK; i++)
                        buf[i] = (uint8_t)(seed + i * 31 + step);
                assert_int_equal(dev_write(&s, pos, buf), 0);
                memcpy(truth + pos, buf, BLOCK);

                if (step == 1000)
                        for (int i = 0; i < N_CHUNKS; i++)
                                slab_dead[i] = true;
                if (step == 1200) {
                        size_t chunk;
                        unsigned slot;
                        assert_int_equal(replica_set_degraded_chunks(&s, true), N_CHUNKS);
                        while (replica_next_repair(&s, true, &chunk, &slot) == 1)
                                assert_int_equal(
                                    replica_attach(&s, chunk, slot, next_slab++, false), 0);
                }
                if (step > 1200 && step % 2 == 0)
                        sync_steps(&s);
                if (step > 1200 && b_died_at < 0 && replica_set_degraded_chunks(&s, true) == 0) {
                        for (int i = N_CHUNKS; i < 2 * N_CHUNKS; i++)
                                slab_dead[i] = true;
                        b_died_at = step;
                }
        }
        assert_int_equal(replica_set_lost_chunks(&s), 0);
        /* Only one replica per chunk after B died: degraded, and wanting repair again. */
        assert_int_equal(replica_set_degraded_chunks(&s, true), N_CHUNKS);

        for (uint64_t pos = 0; pos < N_CHUNKS * CHUNK; pos += BLOCK) {
                assert_int_equal(dev_read(&s, pos, buf), 0);
                assert_memory_equal(buf, truth + pos, BLOCK);
        }
        replica_set_done(&s);
        for (int i = 0; i < N_SLABS; i++)
                free(slab_mem[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write_both_read_either),
                cmocka_unit_test(test_write_outcome),
                cmocka_unit_test(test_resync_from_survivor),
                cmocka_unit_test(test_drain_before_release),
                cmocka_unit_test(test_from_lease),
                cmocka_unit_test(test_no_block_lost_when_a_donor_dies),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
