// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/registrar.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/codec.h"
#include "api/pool.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

struct registrar {
        struct donor *donor;
        char base_url[512], ca[512], cert[512], key[512], token[512];
        struct remote_http http;
        char node[API_NODE_NAME_MAX];
        char address[POOL_ADDRESS_MAX];
        uint64_t period_usec;

        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop, kick, withdraw;
        uint64_t renewals;
        bool reachable;
        uint64_t wait_usec; /* until the next renewal: registrar_wait_usec() of the last answer */
};

/* How long before a grant's deadline the donor asks memschedd whether it moved (an HTTP round
 * trip, with room to spare). */
#define DEADLINE_MARGIN_USEC 2000000

uint64_t registrar_wait_usec(uint64_t period_usec, const struct donor_grant *grants, size_t n,
                             uint64_t now_usec, uint64_t margin_usec)
{
        uint64_t wait = period_usec;
        for (size_t i = 0; i < n; i++) {
                uint64_t at = grants[i].expires_at_usec;
                if (at > now_usec + margin_usec && at - margin_usec - now_usec < wait)
                        wait = at - margin_usec - now_usec;
        }
        return wait;
}

int registrar_grants_from_answer(const struct json_object *answer, struct donor_grant *ret,
                                 size_t max)
{
        struct json_object *a = NULL;
        struct api_error err = {};
        if (!answer || api_get_array(answer, "", "grants", true, false, &a, &err) < 0)
                return -EBADMSG;
        size_t n = json_object_array_length(a);
        if (n > max)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                struct pool_grant g;
                char path[API_FIELD_MAX];
                if (pool_grant_decode(json_object_array_get_idx(a, i),
                                      api_path_index(path, "grants", i), &g, &err) < 0)
                        return -EBADMSG;
                struct donor_grant *d = &ret[i];
                *d = (struct donor_grant){ .epoch = g.epoch,
                                           .offset = g.offset,
                                           .length = g.length,
                                           .expires_at_usec = g.expires_at_usec };
                snprintf(d->lease_id, sizeof(d->lease_id), "%s", g.lease_id);
                snprintf(d->consumer, sizeof(d->consumer), "%s", g.consumer);
                snprintf(d->token, sizeof(d->token), "%s", g.token);
        }
        return (int)n;
}

static int renew(struct registrar *g)
{
        struct pool_offer o;
        char path[64 + API_NODE_NAME_MAX];
        int r = donor_offer(g->donor, g->node, g->address, &o);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "/v1/pools/%s", g->node);
        _cleanup_(json_object_putp) struct json_object *body = pool_offer_encode(&o);
        _cleanup_(json_object_putp) struct json_object *answer = NULL;
        int status = remote_http_request(&g->http, "PUT", path, body, &answer);
        if (status < 0)
                return status;
        if (status != 200 && status != 201) {
                log_warning("memschedd refused the pool offer of %s (HTTP %d), retrying in %" PRIu64
                            " s",
                            g->node, status, g->period_usec / 1000000);
                return -EPROTO;
        }
        /* Slabs per donor are bounded by POOL_SLABS_MAX, and so are the grants on them. */
        struct donor_grant *grants = calloc(POOL_SLABS_MAX, sizeof(*grants));
        if (!grants)
                return -ENOMEM;
        r = registrar_grants_from_answer(answer, grants, POOL_SLABS_MAX);
        if (r >= 0) {
                uint64_t wait = registrar_wait_usec(g->period_usec, grants, (size_t)r,
                                                    now_usec(CLOCK_REALTIME), DEADLINE_MARGIN_USEC);
                pthread_mutex_lock(&g->lock);
                g->wait_usec = wait;
                pthread_mutex_unlock(&g->lock);
                r = donor_set_grants(g->donor, grants, (size_t)r);
        }
        explicit_bzero(grants, POOL_SLABS_MAX * sizeof(*grants));
        free(grants);
        return r;
}

static void *registrar_main(void *arg)
{
        struct registrar *g = arg;
        pthread_mutex_lock(&g->lock);
        while (!g->stop) {
                pthread_mutex_unlock(&g->lock);
                int r = renew(g);
                pthread_mutex_lock(&g->lock);
                if (r >= 0) {
                        if (!g->reachable)
                                log_info("Offering %" PRIu64 " bytes of pool memory as %s at %s:%u",
                                         donor_bytes(g->donor), g->node, g->address,
                                         donor_port(g->donor));
                        g->renewals++;
                } else if (g->reachable || g->renewals == 0)
                        log_warning_errno(r,
                                          "Failed to renew the pool offer of %s with memschedd, "
                                          "keeping the grants held: %m",
                                          g->node);
                g->reachable = r >= 0;
                if (g->stop || g->kick) {
                        g->kick = false;
                        continue;
                }
                /* The period, or less when a grant's deadline comes first (after a failed
                 * renewal, the period: the grants held expire on their own time). */
                uint64_t wait = r >= 0 && g->wait_usec ? g->wait_usec : g->period_usec;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t ns = (uint64_t)ts.tv_nsec + (wait % 1000000) * 1000;
                ts.tv_sec += (time_t)(wait / 1000000 + ns / 1000000000);
                ts.tv_nsec = (long)(ns % 1000000000);
                while (!g->stop && !g->kick &&
                       pthread_cond_timedwait(&g->cond, &g->lock, &ts) != ETIMEDOUT)
                        ;
                g->kick = false;
        }
        bool withdraw = g->withdraw;
        pthread_mutex_unlock(&g->lock);
        if (withdraw) {
                char path[64 + API_NODE_NAME_MAX];
                struct json_object *answer = NULL;
                snprintf(path, sizeof(path), "/v1/pools/%s", g->node);
                int status = remote_http_request(&g->http, "DELETE", path, NULL, &answer);
                json_object_put(answer);
                if (status < 200 || status >= 300)
                        log_warning("Failed to withdraw the pool offer of %s (%d); memschedd "
                                    "withdraws it when it is not renewed",
                                    g->node, status);
                else
                        log_info("Withdrew the pool offer of %s", g->node);
        }
        return NULL;
}

int registrar_start(struct donor *d, const struct remote_http *h, const char *node,
                    const char *address, uint64_t period_usec, struct registrar **ret)
{
        struct registrar *g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->donor = d;
        g->period_usec = period_usec ? period_usec : 10000000;
        if (snprintf(g->node, sizeof(g->node), "%s", node) >= (int)sizeof(g->node) ||
            snprintf(g->address, sizeof(g->address), "%s", address) >= (int)sizeof(g->address) ||
            snprintf(g->base_url, sizeof(g->base_url), "%s", h->base_url) >=
                (int)sizeof(g->base_url)) {
                free(g);
                return -EINVAL;
        }
        snprintf(g->ca, sizeof(g->ca), "%s", h->ca_file ? h->ca_file : "");
        snprintf(g->cert, sizeof(g->cert), "%s", h->cert_file ? h->cert_file : "");
        snprintf(g->key, sizeof(g->key), "%s", h->key_file ? h->key_file : "");
        snprintf(g->token, sizeof(g->token), "%s", h->token_file ? h->token_file : "");
        g->http = (struct remote_http){ .base_url = g->base_url,
                                        .ca_file = g->ca,
                                        .cert_file = g->cert,
                                        .key_file = g->key,
                                        .token_file = g->token,
                                        .timeout_ms = h->timeout_ms };
        pthread_mutex_init(&g->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&g->cond, &ca);
        pthread_condattr_destroy(&ca);
        int r = pthread_create(&g->thread, NULL, registrar_main, g);
        if (r != 0) {
                pthread_cond_destroy(&g->cond);
                pthread_mutex_destroy(&g->lock);
                free(g);
                return -r;
        }
        *ret = g;
        return 0;
}

void registrar_kick(struct registrar *g)
{
        pthread_mutex_lock(&g->lock);
        g->kick = true;
        pthread_cond_signal(&g->cond);
        pthread_mutex_unlock(&g->lock);
}

void registrar_stop(struct registrar *g, bool withdraw)
{
        if (!g)
                return;
        pthread_mutex_lock(&g->lock);
        g->stop = true;
        g->withdraw = withdraw;
        pthread_cond_signal(&g->cond);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->thread, NULL);
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->lock);
        free(g);
}

uint64_t registrar_renewals(const struct registrar *g)
{
        struct registrar *m = (struct registrar *)g;
        pthread_mutex_lock(&m->lock);
        uint64_t n = m->renewals;
        pthread_mutex_unlock(&m->lock);
        return n;
}
