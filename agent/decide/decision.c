// SPDX-License-Identifier: Apache-2.0
#include "agent/decide/decision.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

#define SET(o, k, v) json_object_object_add((o), (k), (v))

int decision_log_init(struct decision_log *l, size_t size)
{
        *l = (struct decision_log){ .size = size ? size : 1, .next_id = 1 };
        l->ring = calloc(l->size, sizeof(*l->ring));
        return l->ring ? 0 : -ENOMEM;
}

void decision_log_done(struct decision_log *l)
{
        free(l->ring);
        l->ring = NULL;
}

struct decision *decision_log_new(struct decision_log *l)
{
        struct decision *d = &l->ring[l->head];
        memset(d, 0, sizeof(*d));
        d->id = l->next_id++;
        d->time_realtime_usec = now_usec(CLOCK_REALTIME);
        d->time_mono_usec = now_usec(CLOCK_MONOTONIC);
        l->head = (l->head + 1) % l->size;
        if (l->count < l->size)
                l->count++;
        return d;
}

struct decision *decision_log_find(struct decision_log *l, uint64_t id)
{
        for (size_t i = 0; i < l->count; i++)
                if (l->ring[i].id == id)
                        return &l->ring[i];
        return NULL;
}

static struct json_object *candidate_json(const struct decision_candidate *c)
{
        struct json_object *o = json_object_new_object();
        SET(o, "name", json_object_new_string(c->name));
        /* the pod as the API names it; null for a workload, or a pod the API does not know */
        SET(o, "uid", c->uid[0] ? json_object_new_string(c->uid) : NULL);
        SET(o, "namespace", c->namespace_[0] ? json_object_new_string(c->namespace_) : NULL);
        SET(o, "pod_name", c->pod_name[0] ? json_object_new_string(c->pod_name) : NULL);
        SET(o, "cgroup", json_object_new_string(c->cgroup));
        SET(o, "qos", json_object_new_string(c->qos));
        SET(o, "current_bytes", json_object_new_uint64(c->current_bytes));
        SET(o, "working_set_bytes", json_object_new_uint64(c->working_set_bytes));
        SET(o, "request_bytes", json_object_new_uint64(c->request_bytes));
        SET(o, "reason", json_object_new_string(c->reason));
        return o;
}

struct json_object *decision_to_json(const struct decision *d)
{
        struct json_object *o = json_object_new_object();
        char ts[64];
        time_t t = (time_t)(d->time_realtime_usec / 1000000u);
        struct tm tm;
        gmtime_r(&t, &tm);
        size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + n, sizeof(ts) - n, ".%03uZ",
                 (unsigned)(d->time_realtime_usec % 1000000u / 1000u));

        SET(o, "id", json_object_new_uint64(d->id));
        SET(o, "time", json_object_new_string(ts));
        SET(o, "time_usec", json_object_new_uint64(d->time_realtime_usec));
        SET(o, "scope", json_object_new_string(d->scope));
        SET(o, "level", json_object_new_string(d->level));
        SET(o, "trigger", json_object_new_string(d->trigger));
        SET(o, "signals", json_object_new_string(d->signals));
        SET(o, "available_bytes", json_object_new_uint64(d->available_bytes));
        SET(o, "total_bytes", json_object_new_uint64(d->total_bytes));
        SET(o, "psi_some_pct", json_object_new_double(d->psi_some_pct));
        SET(o, "psi_full_pct", json_object_new_double(d->psi_full_pct));
        SET(o, "action", json_object_new_string(d->action));
        SET(o, "dry_run", json_object_new_boolean(d->dry_run));
        SET(o, "candidates", json_object_new_uint64(d->n_candidates));
        SET(o, "excluded", json_object_new_uint64(d->n_excluded));
        SET(o, "victim", d->has_victim ? candidate_json(&d->victim) : NULL);
        struct json_object *ru = json_object_new_array();
        for (unsigned i = 0; i < d->n_runners_up; i++)
                json_object_array_add(ru, candidate_json(&d->runners_up[i]));
        SET(o, "runners_up", ru);
        SET(o, "outcome", json_object_new_string(d->outcome));
        SET(o, "done", json_object_new_boolean(d->done));
        SET(o, "api", d->api[0] ? json_object_new_string(d->api) : NULL);
        SET(o, "thrash", d->thrash[0] ? json_object_new_string(d->thrash) : NULL);
        SET(o, "freed_bytes", json_object_new_uint64(d->freed_bytes));
        SET(o, "amount_bytes", json_object_new_uint64(d->amount_bytes));
        SET(o, "limit_before_bytes",
            d->limit_before_bytes ? json_object_new_uint64(d->limit_before_bytes) : NULL);
        SET(o, "limit_after_bytes",
            d->limit_after_bytes ? json_object_new_uint64(d->limit_after_bytes) : NULL);
        SET(o, "trigger_to_decision_usec", json_object_new_uint64(d->trigger_to_decision_usec));
        SET(o, "sample_to_decision_usec", json_object_new_uint64(d->sample_to_decision_usec));
        SET(o, "decision_to_empty_usec",
            d->decision_to_empty_usec ? json_object_new_uint64(d->decision_to_empty_usec) : NULL);
        return o;
}

struct json_object *decision_log_json(const struct decision_log *l, size_t n)
{
        struct json_object *a = json_object_new_array();
        if (n > l->count)
                n = l->count;
        for (size_t i = 0; i < n; i++) {
                size_t idx = (l->head + l->size - 1 - i) % l->size;
                json_object_array_add(a, decision_to_json(&l->ring[idx]));
        }
        return a;
}
