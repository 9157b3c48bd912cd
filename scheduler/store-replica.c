// SPDX-License-Identifier: Apache-2.0
#include "scheduler/store-replica.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "scheduler/store-election.h"
#include "scheduler/store-reports.h"

#define REPLICA_FOLLOW_MAX_MS 1000ULL

struct replica {
        struct cluster *c;
        struct election *e;
        uint64_t step_usec; /* a third of the lease TTL: two renewals may fail before it lapses */
        pthread_t thread;
        atomic_bool stop, leader;
        struct report_share *reports;
        /* The plans' watch: whether its last round ended without error, and since when
         * (CLOCK_MONOTONIC) it has been current: the start of the last round that ended well, as
         * everything committed before a watch starts reaches it in that round. */
        atomic_bool plans_broken;
        atomic_ullong plans_current_usec, plans_broken_usec;
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
                uint64_t round_usec = now_usec(CLOCK_MONOTONIC);
                int k = cluster_follow(r->c, wait_ms);
                if (k >= 0) {
                        atomic_store(&r->plans_current_usec, round_usec);
                        atomic_store(&r->plans_broken, false);
                } else if (!atomic_exchange(&r->plans_broken, true))
                        atomic_store(&r->plans_broken_usec, now_usec(CLOCK_MONOTONIC));
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
        /* cluster_open loaded the plans just now. */
        atomic_store(&r->plans_current_usec, now_usec(CLOCK_MONOTONIC));
        atomic_store(&c->follower, true);
        k = election_new(c->store, "leader", identity, lease_ttl_sec, &r->e);
        if (k < 0) {
                free(r);
                return log_error_errno(k, "Failed to set up leader election: %m");
        }
        k = report_share_start(c, identity, &r->reports);
        if (k < 0) {
                election_free(r->e);
                free(r);
                return k;
        }
        k = -pthread_create(&r->thread, NULL, replica_main, r);
        if (k < 0) {
                report_share_stop(r->reports);
                election_free(r->e);
                free(r);
                return log_error_errno(k, "Failed to start the replica thread: %m");
        }
        c->replica = r;
        log_info("Replica %s: campaigning for leadership (lease %llu s)", identity,
                 (unsigned long long)lease_ttl_sec);
        *ret = r;
        return 0;
}

void replica_stop(struct replica *r)
{
        if (!r)
                return;
        r->c->replica = NULL; /* /readyz and /metrics: a single replica from here on */
        atomic_store(&r->stop, true);
        pthread_join(r->thread, NULL);
        report_share_stop(r->reports);
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

/* Lag of one watch: 0 while current and fresh; the age of its last good round beyond what one
 * round takes; the time since it broke plus the readiness bound when broken. */
static uint64_t watch_lag_usec(bool current, uint64_t since_usec, uint64_t now)
{
        uint64_t age = now > since_usec ? now - since_usec : 0;
        if (!current)
                return age + REPLICA_READY_LAG_USEC;
        /* A round lasts up to REPLICA_FOLLOW_MAX_MS plus an election step: that is not lag. */
        uint64_t round_usec = REPLICA_FOLLOW_MAX_MS * 1000 + 1000000;
        return age > round_usec ? age - round_usec : 0;
}

uint64_t replica_lag_usec(const struct replica *r)
{
        if (!r)
                return 0;
        uint64_t now = now_usec(CLOCK_MONOTONIC), since = 0;
        bool broken = atomic_load(&r->plans_broken);
        uint64_t plans = watch_lag_usec(
            !broken,
            broken ? atomic_load(&r->plans_broken_usec) : atomic_load(&r->plans_current_usec), now);
        /* The reports' rounds end on every report, so its last good round is always recent
         * while it runs: it lags only while broken. */
        bool current = report_share_current(r->reports, &since);
        uint64_t reports = current ? 0 : watch_lag_usec(false, since, now);
        return plans > reports ? plans : reports;
}

bool replica_ready(const struct replica *r, char *buf, size_t size)
{
        if (!r) {
                snprintf(buf, size, "ready: single replica, state in SQLite\n");
                return true;
        }
        uint64_t lag = replica_lag_usec(r), since = 0;
        bool leader = replica_is_leader(r);
        bool plans_ok = !atomic_load(&r->plans_broken),
             reports_ok = report_share_current(r->reports, &since);
        bool ready = plans_ok && reports_ok && lag <= REPLICA_READY_LAG_USEC;
        snprintf(buf, size, "%s: %s, lag %.1f s%s%s\n", ready ? "ready" : "not ready",
                 leader ? "leader" : "follower", (double)lag / 1e6,
                 plans_ok ? "" : ", the plans' watch on etcd is broken (resyncing)",
                 reports_ok ? "" : ", the node reports' watch on etcd is broken (resyncing)");
        return ready;
}
