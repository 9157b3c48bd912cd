// SPDX-License-Identifier: Apache-2.0
#include "scheduler/store-replica.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "scheduler/store-election.h"

#define REPLICA_FOLLOW_MAX_MS 1000ULL

struct replica {
        struct cluster *c;
        struct election *e;
        uint64_t step_usec; /* a third of the lease TTL: two renewals may fail before it lapses */
        pthread_t thread;
        atomic_bool stop, leader;
};

static void publish_role(struct replica *r)
{
        bool leading = election_is_leader(r->e);
        /* A new leader plans only from a model that has caught up with the old one's last
         * writes, or it could plan a second move for a pod already being moved. */
        if (leading && atomic_load(&r->c->follower) && cluster_resync(r->c) < 0)
                leading = false;
        atomic_store(&r->leader, leading);
        atomic_store(&r->c->follower, !leading);
}

static void *replica_main(void *arg)
{
        struct replica *r = arg;
        uint64_t next_step_usec = 0;

        while (!atomic_load(&r->stop)) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= next_step_usec) {
                        (void)election_step(r->e); /* logs its own transitions */
                        next_step_usec = now + r->step_usec;
                }
                publish_role(r); /* a renewal that came too late ends leadership here too */
                now = now_usec(CLOCK_MONOTONIC);
                uint64_t wait_ms = next_step_usec > now ? (next_step_usec - now) / 1000 : 0;
                if (wait_ms > REPLICA_FOLLOW_MAX_MS)
                        wait_ms = REPLICA_FOLLOW_MAX_MS;
                if (wait_ms == 0)
                        continue;
                int k = cluster_follow(r->c, wait_ms);
                if (k < 0) {
                        /* etcd unreachable: do not spin; the election step notices too. */
                        struct timespec ts = { .tv_nsec = 200 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                }
        }
        return NULL;
}

int replica_start(struct cluster *c, const char *identity, uint64_t lease_ttl_sec,
                  struct replica **ret)
{
        struct replica *r = calloc(1, sizeof(*r));
        int k;
        if (!r)
                return log_error_errno(ENOMEM, "Failed to start the replica: %m");
        r->c = c;
        r->step_usec = lease_ttl_sec * 1000000 / 3;
        atomic_store(&c->follower, true);
        k = election_new(c->store, "leader", identity, lease_ttl_sec, &r->e);
        if (k < 0) {
                free(r);
                return log_error_errno(k, "Failed to set up leader election: %m");
        }
        k = -pthread_create(&r->thread, NULL, replica_main, r);
        if (k < 0) {
                election_free(r->e);
                free(r);
                return log_error_errno(k, "Failed to start the replica thread: %m");
        }
        log_info("Replica %s: campaigning for leadership (lease %llu s)", identity,
                 (unsigned long long)lease_ttl_sec);
        *ret = r;
        return 0;
}

void replica_stop(struct replica *r)
{
        if (!r)
                return;
        atomic_store(&r->stop, true);
        pthread_join(r->thread, NULL);
        if (election_is_leader(r->e))
                (void)election_resign(r->e);
        atomic_store(&r->c->follower, true);
        election_free(r->e);
        free(r);
}

bool replica_is_leader(const struct replica *r)
{
        return r && atomic_load(&r->leader);
}
