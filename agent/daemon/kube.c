// SPDX-License-Identifier: Apache-2.0
// memagentd and the Kubernetes API server: the client (api/kube/) bound to the manager.
//
// Configured by `kubeconfig` (a kubeconfig file) or, without it, in-cluster when
// KUBERNETES_SERVICE_HOST is set; with neither memagentd runs standalone and says so once. The
// pod watch is the pod directory of the step (identity, priority, annotations); evictions, Events
// and resizes go out on the same sd-event loop and never block it. The node guard never waits on
// the API: an eviction that gets no answer is killed through the cgroup by the step, and Events
// that found the API unreachable are kept (a bounded queue) and sent once it answers again.
#include "agent/daemon/kube.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/daemon/manager-private.h"
#include "api/kube/client.h"
#include "api/kube/config.h"
#include "api/kube/pod-watch.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

/* Events kept while the API is unreachable; the oldest is dropped when full (it says less about
 * the node than the newest). */
#define KUBE_EVENTS_PENDING_MAX  64
#define KUBE_EVENTS_RETRY_USEC   (10ull * 1000000)
#define KUBE_EVENT_NOTE_MAX_COPY 1025

struct pending_event {
        struct kube_pod_ref pod;
        char type[16], action[32], reason[64];
        char note[KUBE_EVENT_NOTE_MAX_COPY];
        uint64_t event_time_usec; /* CLOCK_REALTIME when it happened, not when it was sent */
};

struct kube_side {
        struct manager *m;
        struct kube_config cfg;
        struct kube_client *client;
        struct kube_pod_watch *watch;
        char instance[300]; /* reportingInstance: "memagentd-<node>" */
        bool synced_said;
        bool resize_unsupported; /* the server has no pods/resize: cgroup writes only */
        struct pending_event *events;
        size_t n_events, events_sending;
        uint64_t events_dropped;
        sd_event_source *retry_timer;
};

struct call {
        struct kube_side *k;
        struct kube_pod_ref pod;
        uint64_t limit_bytes;
        char container[64];
        struct pending_event ev; /* an Event: kept again if it found the API unreachable */
};

/* Worth sending again later: no answer, the server's own trouble, or its rate limiting. */
static bool retryable(const struct kube_status *st)
{
        return st->http_code == 0 || st->http_code == 429 || st->http_code >= 500;
}

static const struct k8s_pod_meta *pod_lookup(void *ud, const char *uid)
{
        struct kube_side *k = ud;
        return kube_pod_watch_find(k->watch, uid);
}

static bool usable(void *ud)
{
        struct kube_side *k = ud;
        return kube_pod_watch_synced(k->watch);
}

static void on_evicted(const struct kube_status *st, struct json_object *body, void *userdata)
{
        struct call *c = userdata;
        char text[768];
        (void)body;
        kube_status_format(st, text, sizeof(text));
        log_info("Kubernetes: eviction of %s/%s (uid %s): %s", c->pod.namespace_, c->pod.name,
                 c->pod.uid, text);
        manager_kube_answer(c->k->m, c->pod.uid, st);
        free(c);
}

static int evict(void *ud, const struct kube_pod_ref *pod, uint64_t grace_sec)
{
        struct kube_side *k = ud;
        struct call *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->k = k;
        c->pod = *pod;
        int r = kube_evict(k->client, pod->namespace_, pod->name, pod->uid,
                           grace_sec > INT64_MAX ? KUBE_GRACE_DEFAULT : (int64_t)grace_sec,
                           on_evicted, c);
        if (r < 0)
                free(c);
        return r;
}

/* The oldest Event that waits. */
static struct pending_event event_pop(struct kube_side *k)
{
        struct pending_event ev = k->events[0];
        memmove(&k->events[0], &k->events[1], (k->n_events - 1) * sizeof(k->events[0]));
        k->n_events--;
        return ev;
}

static void event_keep(struct kube_side *k, const struct pending_event *ev)
{
        if (k->n_events == KUBE_EVENTS_PENDING_MAX) {
                (void)event_pop(k);
                if (k->events_dropped++ == 0)
                        log_warning("Kubernetes: %d Events wait for the API server; dropping the "
                                    "oldest from now on",
                                    KUBE_EVENTS_PENDING_MAX);
        }
        k->events[k->n_events++] = *ev;
        if (k->retry_timer)
                (void)sd_event_source_set_enabled(k->retry_timer, SD_EVENT_ON);
}

static int event_send(struct kube_side *k, const struct pending_event *ev);

static void on_event_posted(const struct kube_status *st, struct json_object *body, void *userdata)
{
        struct call *c = userdata;
        struct kube_side *k = c->k;
        (void)body;
        if (k->events_sending)
                k->events_sending--;
        if (kube_status_ok(st)) {
                /* The API answers again: what waited goes out now, one at a time, in order
                 * (each answer sends the next). */
                if (k->n_events > 0 && k->events_sending == 0) {
                        struct pending_event ev = event_pop(k);
                        if (event_send(k, &ev) < 0)
                                event_keep(k, &ev);
                }
        } else if (retryable(st)) {
                event_keep(k, &c->ev);
        } else {
                char text[768];
                kube_status_format(st, text, sizeof(text));
                log_warning("Kubernetes: Event %s for %s/%s refused: %s", c->ev.reason,
                            c->ev.pod.namespace_, c->ev.pod.name, text);
        }
        free(c);
}

static int event_send(struct kube_side *k, const struct pending_event *ev)
{
        struct call *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->k = k;
        c->ev = *ev;
        struct kube_event e = {
                .namespace_ = ev->pod.namespace_,
                .pod_name = ev->pod.name,
                .pod_uid = ev->pod.uid,
                .reporting_instance = k->instance,
                .action = ev->action,
                .reason = ev->reason,
                .note = ev->note,
                .warning = streq(ev->type, "Warning"),
                .event_time_usec = ev->event_time_usec,
        };
        int r = kube_post_event(k->client, &e, on_event_posted, c);
        if (r < 0) {
                free(c);
                return r;
        }
        k->events_sending++;
        return 0;
}

static int event(void *ud, const struct kube_pod_ref *pod, const char *type, const char *action,
                 const char *reason, const char *note)
{
        struct kube_side *k = ud;
        struct pending_event ev = { .pod = *pod, .event_time_usec = now_usec(CLOCK_REALTIME) };
        snprintf(ev.type, sizeof(ev.type), "%s", type);
        snprintf(ev.action, sizeof(ev.action), "%s", action);
        snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
        snprintf(ev.note, sizeof(ev.note), "%s", note);
        /* Behind others that wait: keep the order the node saw. */
        if (k->n_events > 0) {
                event_keep(k, &ev);
                return 0;
        }
        return event_send(k, &ev);
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct kube_side *k = userdata;
        (void)usec;
        if (k->n_events == 0) {
                (void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        (void)sd_event_source_set_time_relative(s, KUBE_EVENTS_RETRY_USEC);
        if (k->events_sending > 0)
                return 0;
        /* One probe: the oldest Event. Its answer sends the rest or keeps it again. */
        struct pending_event ev = event_pop(k);
        if (event_send(k, &ev) < 0)
                event_keep(k, &ev);
        return 0;
}

static void on_resized(const struct kube_status *st, struct json_object *body, void *userdata)
{
        struct call *c = userdata;
        struct kube_side *k = c->k;
        char text[768];
        (void)body;
        kube_status_format(st, text, sizeof(text));
        if (kube_status_ok(st))
                log_info("Kubernetes: resized %s/%s container %s to memory limit %" PRIu64
                         " bytes through pods/resize",
                         c->pod.namespace_, c->pod.name, c->container, c->limit_bytes);
        else if (st->http_code == 404 && streq(st->reason, "NotFound") &&
                 strstr(st->message, "could not find the requested resource")) {
                /* The pod is there (the watch knows it): the server lacks the subresource
                 * (before Kubernetes 1.33, or InPlacePodVerticalScaling off). */
                if (!k->resize_unsupported)
                        log_warning("Kubernetes: the API server at %s has no pods/resize "
                                    "subresource; loans and returns are written to the cgroups "
                                    "only, and the kubelet may set the limits back on its next "
                                    "sync",
                                    kube_client_server(k->client));
                k->resize_unsupported = true;
        } else
                log_warning("Kubernetes: resizing %s/%s container %s through pods/resize: %s; "
                            "the cgroup keeps the new limit",
                            c->pod.namespace_, c->pod.name, c->container, text);
        free(c);
}

static int resize(void *ud, const struct kube_pod_ref *pod, const char *container_id,
                  uint64_t limit_bytes)
{
        struct kube_side *k = ud;
        if (k->resize_unsupported)
                return -EOPNOTSUPP;
        const struct k8s_pod_meta *meta = kube_pod_watch_find(k->watch, pod->uid);
        const char *name = NULL;
        for (size_t i = 0; meta && i < meta->n_containers; i++)
                if (container_id && *container_id &&
                    streq(meta->containers[i].container_id, container_id))
                        name = meta->containers[i].name;
        if (!name)
                return -ENOENT; /* not started as the API sees it yet: the cgroup write stands */
        struct call *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->k = k;
        c->pod = *pod;
        c->limit_bytes = limit_bytes;
        snprintf(c->container, sizeof(c->container), "%s", name);
        int r = kube_resize_memory(k->client, pod->namespace_, pod->name, name, limit_bytes,
                                   on_resized, c);
        if (r < 0)
                free(c);
        return r;
}

static void on_pod_change(struct kube_pod_watch *w, const struct k8s_pod_meta *old,
                          const struct k8s_pod_meta *new_, void *userdata)
{
        struct kube_side *k = userdata;
        /* The kubelet's answer to a resize (ours or anyone's) shows in the pod's conditions:
         * say when it cannot apply one now (Deferred) or ever (Infeasible). */
        if (new_ &&
            (new_->resize == K8S_RESIZE_DEFERRED || new_->resize == K8S_RESIZE_INFEASIBLE) &&
            (!old || old->resize != new_->resize))
                log_warning("Kubernetes: resize of %s/%s is %s: %s", new_->namespace_, new_->name,
                            new_->resize == K8S_RESIZE_INFEASIBLE ? "infeasible" : "deferred",
                            new_->resize_message[0] ? new_->resize_message : "no message");
        if (old || new_ || k->synced_said || !kube_pod_watch_synced(w))
                return;
        k->synced_said = true;
        log_info("Kubernetes: evicting through the Eviction API from now on");
        agent_metrics_set_ready(&k->m->metrics, true);
}

static void on_answer(const char *verb, int code, void *userdata)
{
        struct kube_side *k = userdata;
        agent_metrics_api_request(&k->m->metrics, verb, code);
}

int kube_side_start(struct manager *m, const char *kubeconfig, const char *node_name,
                    struct kube_side **ret, char *why, size_t why_size)
{
        char err[KUBE_CONFIG_ERR_MAX] = "";
        struct kube_config cfg = {};
        int r = kube_config_load(kubeconfig, NULL, &cfg, err, sizeof(err));
        *ret = NULL;
        if (r == -ENOENT && !(kubeconfig && *kubeconfig)) {
                log_info("No Kubernetes API configured (no kubeconfig, KUBERNETES_SERVICE_HOST "
                         "unset): running standalone, acting through cgroups only");
                return 0;
        }
        if (r < 0) {
                if (kubeconfig && *kubeconfig) {
                        snprintf(why, why_size, "%s", err[0] ? err : strerror(-r));
                        return -EMEDIUMTYPE;
                }
                /* In a pod without a usable service account: the node still needs its guard. */
                log_warning("Kubernetes in-cluster configuration unusable (%s): running "
                            "standalone, acting through cgroups only",
                            err[0] ? err : strerror(-r));
                return 0;
        }
        struct kube_side *k = calloc(1, sizeof(*k));
        if (!k) {
                kube_config_done(&cfg);
                return -ENOMEM;
        }
        k->m = m;
        k->cfg = cfg;
        snprintf(k->instance, sizeof(k->instance), "memagentd-%s", node_name);
        k->events = calloc(KUBE_EVENTS_PENDING_MAX, sizeof(*k->events));
        if (!k->events) {
                kube_side_free(k);
                return -ENOMEM;
        }
        r = kube_client_new(m->event, &k->cfg, &k->client);
        if (r >= 0) {
                kube_client_set_observer(k->client, on_answer, k);
                r = kube_pod_watch_start(k->client, node_name, on_pod_change, k, &k->watch);
        }
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &k->retry_timer, CLOCK_MONOTONIC,
                                               KUBE_EVENTS_RETRY_USEC, 0, on_retry_timer, k);
        if (r < 0) {
                snprintf(why, why_size, "cannot start the Kubernetes client for %s (%s): %s",
                         cfg.server ? cfg.server : "?", cfg.source ? cfg.source : "?",
                         strerror(-r));
                kube_side_free(k);
                return r == -EINVAL ? -EMEDIUMTYPE : r;
        }
        (void)sd_event_source_set_enabled(k->retry_timer, SD_EVENT_OFF);
        /* Ready (/readyz) once this node's pods are listed. */
        agent_metrics_set_ready(&m->metrics, false);
        manager_bind_kube(m, &(struct kube_binding){
                                 .pod_lookup = pod_lookup,
                                 .usable = usable,
                                 .evict = evict,
                                 .event = event,
                                 .resize = resize,
                                 .ud = k,
                             });
        log_info("Kubernetes API at %s (%s): watching the pods of node %s",
                 kube_client_server(k->client), k->cfg.source, node_name);
        *ret = k;
        return 0;
}

struct kube_side *kube_side_free(struct kube_side *k)
{
        if (!k)
                return NULL;
        if (k->n_events)
                log_warning("Kubernetes: %zu Events were never sent (API server unreachable)",
                            k->n_events);
        k->retry_timer = sd_event_source_disable_unref(k->retry_timer);
        k->watch = kube_pod_watch_free(k->watch); /* before its client */
        k->client = kube_client_free(k->client);
        kube_config_done(&k->cfg);
        free(k->events);
        free(k);
        return NULL;
}

void kube_side_status(const struct kube_side *k, struct kube_side_status *ret)
{
        *ret = (struct kube_side_status){};
        if (!k)
                return;
        ret->configured = true;
        ret->server = kube_client_server(k->client);
        ret->synced = kube_pod_watch_synced(k->watch);
        ret->pods = kube_pod_watch_count(k->watch);
        ret->last_error = kube_pod_watch_last_error(k->watch);
        ret->events_pending = k->n_events;
        ret->resize_supported = !k->resize_unsupported;
}
