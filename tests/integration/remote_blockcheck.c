// SPDX-License-Identifier: Apache-2.0
// The consumer's block layer against real donors (memagentd --pool-donate processes) and a real
// memschedd, for tests/integration/remote_swap.sh: lease a durable device, write it with
// checksummed blocks while the donor holding most of its slabs is SIGKILLed mid-write, renew
// until memschedd re-grants the lost replicas, copy them from the survivors while writing on,
// SIGKILL a second donor of the lease, and read the whole device back. Prints one JSON line.
//   remote_blockcheck URL NODE BYTES DONOR=PID...
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "agent/remote/consumer.h"
#include "agent/remote/device.h"
#include "common/clock.h"

#define BLOCK 4096u

struct donor_pid {
        char name[API_NODE_NAME_MAX];
        pid_t pid;
        bool killed;
};
static struct donor_pid donors[8];
static size_t n_donors;
static struct remote_http http;
static uint32_t rng = 12345;

static uint32_t next_rand(void)
{
        rng = rng * 1103515245u + 12345u;
        return rng >> 8;
}

static int renew_cb(void *ud, const struct lease *current, struct lease *ret)
{
        (void)ud;
        return consumer_lease_renew(&http, current->id, ret);
}

/* The unkilled donor holding the most live slabs of the lease. */
static struct donor_pid *busiest(const struct remote_device *d)
{
        const struct lease *l = remote_device_lease(d);
        struct donor_pid *best = NULL;
        size_t best_n = 0;
        for (size_t k = 0; k < n_donors; k++) {
                size_t n = 0;
                for (size_t i = 0; i < l->n_slabs; i++)
                        n += !l->slabs[i].revoked && strcmp(l->slabs[i].donor, donors[k].name) == 0;
                if (!donors[k].killed && n > best_n) {
                        best = &donors[k];
                        best_n = n;
                }
        }
        return best;
}

struct killer {
        pid_t pid;
        unsigned delay_ms;
};
static void *kill_later(void *arg)
{
        struct killer *k = arg;
        struct timespec ts = { .tv_sec = k->delay_ms / 1000,
                               .tv_nsec = (long)(k->delay_ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
        kill(k->pid, SIGKILL);
        return NULL;
}

static int write_some(struct remote_device *d, uint8_t *truth, int n)
{
        static uint8_t buf[16 * BLOCK];
        uint64_t blocks = remote_device_bytes(d) / BLOCK;
        for (int k = 0; k < n; k++) {
                uint32_t len = (1 + next_rand() % 16) * BLOCK;
                uint64_t off = (uint64_t)(next_rand() % blocks) * BLOCK;
                if (off + len > remote_device_bytes(d))
                        off = remote_device_bytes(d) - len;
                for (uint32_t i = 0; i < len; i++)
                        buf[i] = (uint8_t)next_rand();
                int r = remote_device_write(d, off, buf, len);
                if (r < 0) {
                        fprintf(stderr, "write at %llu failed: %s\n", (unsigned long long)off,
                                strerror(-r));
                        return r;
                }
                memcpy(truth + off, buf, len);
        }
        return 0;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 1099511628211ull;
        return h;
}

int main(int argc, char *argv[])
{
        if (argc < 5) {
                fprintf(stderr, "usage: %s URL NODE BYTES DONOR=PID...\n", argv[0]);
                return 2;
        }
        http = (struct remote_http){ .base_url = argv[1], .timeout_ms = 5000 };
        const char *node = argv[2];
        uint64_t bytes = strtoull(argv[3], NULL, 10);
        for (int i = 4; i < argc && n_donors < 8; i++) {
                char *eq = strchr(argv[i], '=');
                if (!eq)
                        return 2;
                snprintf(donors[n_donors].name, sizeof(donors[n_donors].name), "%.*s",
                         (int)(eq - argv[i]), argv[i]);
                donors[n_donors++].pid = (pid_t)atoi(eq + 1);
        }

        struct lease l = {};
        int r = -EAGAIN;
        for (int i = 0; i < 100 && r < 0; i++) {
                r = consumer_lease_create(&http, "swap-blockcheck", node, bytes, 30, true, &l);
                if (r < 0)
                        usleep(100000);
        }
        if (r < 0) {
                fprintf(stderr, "no lease: %s\n", strerror(-r));
                return 1;
        }
        struct remote_device *d = NULL;
        r = remote_device_open(&l, 5000, &d);
        if (r < 0) {
                fprintf(stderr, "device: %s\n", strerror(-r));
                return 1;
        }
        remote_device_set_refresh(d, renew_cb, NULL);
        uint64_t size = remote_device_bytes(d);
        uint8_t *truth = calloc(1, size), *back = malloc(size);
        if (!truth || !back)
                return 1;
        const uint64_t epoch0 = l.epoch;

        /* Fill, then kill the busiest donor while writes are going on. */
        if (write_some(d, truth, 100) < 0)
                return 1;
        struct donor_pid *first = busiest(d);
        if (!first)
                return 1;
        struct killer k = { .pid = first->pid, .delay_ms = 100 };
        pthread_t t;
        pthread_create(&t, NULL, kill_later, &k);
        first->killed = true;
        uint64_t until = now_usec(CLOCK_MONOTONIC) + 600000;
        while (now_usec(CLOCK_MONOTONIC) < until)
                if (write_some(d, truth, 10) < 0)
                        return 1;
        pthread_join(t, NULL);

        /* Renew until memschedd re-granted every lost replica (it revokes the dead donor's
         * slabs when its offer is not renewed), copying and writing meanwhile. */
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 30000000, last_renew = 0;
        bool repaired = false;
        while (now_usec(CLOCK_MONOTONIC) < deadline) {
                if (write_some(d, truth, 4) < 0)
                        return 1;
                r = remote_device_repair_step(d, 256 * 1024);
                if (r < 0) {
                        fprintf(stderr, "repair: %s\n", strerror(-r));
                        return 1;
                }
                if (r == 0 && !remote_device_wants_slabs(d) &&
                    replica_set_degraded_chunks(remote_device_replicas(d), true) == 0) {
                        repaired = true;
                        break;
                }
                if (now_usec(CLOCK_MONOTONIC) - last_renew > 500000) {
                        struct lease nl = {};
                        if (consumer_lease_renew(&http, l.id, &nl) == 0) {
                                if (nl.epoch != remote_device_lease(d)->epoch)
                                        (void)remote_device_update(d, &nl);
                                lease_done(&nl);
                        }
                        last_renew = now_usec(CLOCK_MONOTONIC);
                }
        }
        struct remote_device_stats st;
        remote_device_get_stats(d, &st);
        uint64_t epoch1 = remote_device_lease(d)->epoch;

        /* A second donor of the lease dies: the copies must hold everything. */
        struct donor_pid *second = repaired ? busiest(d) : NULL;
        if (second) {
                kill(second->pid, SIGKILL);
                second->killed = true;
                usleep(200000);
        }
        r = remote_device_read(d, 0, back, size);
        uint64_t blocks = size / BLOCK, bad = 0;
        for (uint64_t b = 0; r == 0 && b < blocks; b++)
                bad += fnv1a(back + b * BLOCK, BLOCK) != fnv1a(truth + b * BLOCK, BLOCK);
        remote_device_get_stats(d, &st);
        printf("{\"lease\":\"%s\",\"device_bytes\":%llu,\"epoch_before\":%llu,\"epoch_after\":%llu,"
               "\"first_killed\":\"%s\",\"second_killed\":\"%s\",\"repaired\":%s,\"read\":%d,"
               "\"blocks\":%llu,\"bad_blocks\":%llu,\"writes\":%llu,\"replica_failures\":%llu,"
               "\"synced_bytes\":%llu,\"relinks\":%llu}\n",
               l.id, (unsigned long long)size, (unsigned long long)epoch0,
               (unsigned long long)epoch1, first->name, second ? second->name : "",
               repaired ? "true" : "false", r, (unsigned long long)blocks, (unsigned long long)bad,
               (unsigned long long)st.writes, (unsigned long long)st.replica_failures,
               (unsigned long long)st.synced_bytes, (unsigned long long)st.relinks);
        /* Nothing on the device is in use any more: drained, so the lease may go. */
        int rel = consumer_lease_release(&http, l.id);
        remote_device_free(d);
        lease_done(&l);
        free(truth);
        free(back);
        return r == 0 && bad == 0 && repaired && second && rel == 0 ? 0 : 1;
}
