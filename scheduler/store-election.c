// SPDX-License-Identifier: Apache-2.0
#include "scheduler/store-election.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "scheduler/cluster.h"

struct election {
        struct sched_store *st;
        char *key, *identity;
        uint64_t ttl_sec;
        uint64_t lease_id; /* 0 when none */
        bool leading;
        /* CLOCK_MONOTONIC: until when the lease surely lives, counted from before the request
         * that last renewed it, less a tenth for clocks that run at different rates. */
        uint64_t valid_until_usec;
        char leader[128];
};

int election_new(struct sched_store *st, const char *key, const char *identity, uint64_t ttl_sec,
                 struct election **ret)
{
        if (!key || !*key || !identity || !*identity || ttl_sec == 0)
                return -EINVAL;
        struct election *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        *e = (struct election){
                .st = st, .key = strdup(key), .identity = strdup(identity), .ttl_sec = ttl_sec
        };
        if (!e->key || !e->identity) {
                election_free(e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

void election_free(struct election *e)
{
        if (!e)
                return;
        free(e->key);
        free(e->identity);
        free(e);
}

static uint64_t validity_usec(const struct election *e)
{
        return e->ttl_sec * 1000000 * 9 / 10;
}

static void step_down(struct election *e, const char *why)
{
        if (e->leading)
                log_warning("Stepping down as leader (%s): %s; will campaign again", e->key, why);
        e->leading = false;
        e->valid_until_usec = 0;
}

/* Renews our lease, or gets a new one when it expired. Sets *ret_since_usec to the time before
 * the request, from which the lease lives at least ttl_sec. */
static int ensure_lease(struct election *e, uint64_t *ret_since_usec)
{
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r = e->lease_id ? store_lease_keepalive(e->st, e->lease_id) : -ENOENT;
        if (r == -ENOENT) {
                e->lease_id = 0;
                t0 = now_usec(CLOCK_MONOTONIC);
                r = store_lease_grant(e->st, e->ttl_sec, &e->lease_id);
        }
        if (r >= 0)
                *ret_since_usec = t0;
        return r;
}

/* Reads who holds the key; 1 if it is us under our lease. */
static int read_holder(struct election *e)
{
        struct store_record rec = {};
        int r = store_get(e->st, e->key, &rec);
        if (r == -ENOENT) {
                e->leader[0] = '\0';
                return 0;
        }
        if (r < 0)
                return r;
        snprintf(e->leader, sizeof(e->leader), "%s", rec.value);
        r = strcmp(rec.value, e->identity) == 0 && e->lease_id && rec.lease_id == e->lease_id;
        store_record_done(&rec);
        return r;
}

int election_step(struct election *e)
{
        uint64_t since_usec = 0;
        int r = ensure_lease(e, &since_usec);
        if (r < 0) {
                step_down(e, "the lease could not be renewed");
                return r;
        }
        if (!e->leading) {
                r = store_create(e->st, e->key, e->identity, e->lease_id, NULL);
                if (r < 0 && r != -EEXIST)
                        return r;
        }
        /* Whether we just created it, held it, or stepped down while still holding it: the key
         * says who leads. */
        r = read_holder(e);
        if (r < 0) {
                step_down(e, "the leader key could not be read");
                return r;
        }
        if (r == 0) {
                step_down(e, "another replica holds the key");
                return 0;
        }
        if (!e->leading)
                log_info("Leading (%s) as %s", e->key, e->identity);
        e->leading = true;
        e->valid_until_usec = since_usec + validity_usec(e);
        return 1;
}

bool election_is_leader(const struct election *e)
{
        return e->leading && now_usec(CLOCK_MONOTONIC) < e->valid_until_usec;
}

const char *election_leader_identity(const struct election *e)
{
        return e->leader;
}

int election_resign(struct election *e)
{
        int r = 0;
        e->leading = false;
        e->valid_until_usec = 0;
        if (e->lease_id) {
                r = store_lease_revoke(e->st, e->lease_id);
                e->lease_id = 0;
        }
        if (r == -ENOENT)
                r = 0;
        if (r < 0)
                return log_warning_errno(r, "Failed to resign leadership of %s: %m", e->key);
        log_info("Resigned leadership of %s", e->key);
        return 0;
}
