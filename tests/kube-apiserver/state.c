// SPDX-License-Identifier: Apache-2.0
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kjson.h"
#include "status.h"

uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void rfc3339_now(char *buf, size_t size, int64_t offset_sec)
{
        time_t t = time(NULL) + offset_sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void uuid_random(char buf[37])
{
        uint8_t b[16] = { 0 };
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
                /* Uniqueness within one test run is all that matters here. */
                uint64_t t = now_usec() ^ (uint64_t)getpid() << 32;
                for (size_t i = 0; i < sizeof(b); i++)
                        b[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)(i * 37);
        }
        if (fd >= 0)
                close(fd);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                 b[13], b[14], b[15]);
}

int state_init(struct state *st)
{
        memset(st, 0, sizeof(*st));
        if (pthread_mutex_init(&st->lock, NULL) != 0)
                return -ENOMEM;
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        int r = pthread_cond_init(&st->changed, &ca);
        pthread_condattr_destroy(&ca);
        return r == 0 ? 0 : -ENOMEM;
}

void state_done(struct state *st)
{
        for (size_t i = 0; i < st->n_pods; i++)
                json_object_put(st->pods[i].pod);
        free(st->pods);
        for (size_t i = 0; i < st->n_events; i++)
                free(st->events[i].object);
        free(st->events);
        if (st->requests_log)
                fclose(st->requests_log);
        pthread_cond_destroy(&st->changed);
        pthread_mutex_destroy(&st->lock);
}

static struct pod_entry *find(struct state *st, enum kt_resource res, const char *ns,
                              const char *name)
{
        for (size_t i = 0; i < st->n_pods; i++)
                if (st->pods[i].res == res && strcmp(st->pods[i].namespace_, ns) == 0 &&
                    strcmp(st->pods[i].name, name) == 0)
                        return &st->pods[i];
        return NULL;
}

struct pod_entry *state_find_pod(struct state *st, const char *ns, const char *name)
{
        return find(st, KT_POD, ns, name);
}

struct pod_entry *state_find_node(struct state *st, const char *name)
{
        return find(st, KT_NODE, "", name);
}

/* A copy of o with kind and apiVersion first, as a watch event or a GET carries the object. */
static struct json_object *with_type(struct json_object *o, const char *api_version,
                                     const char *kind)
{
        struct json_object *n = json_object_new_object();
        if (!n || kjson_set_string(n, "kind", kind) < 0 ||
            kjson_set_string(n, "apiVersion", api_version) < 0) {
                json_object_put(n);
                return NULL;
        }
        json_object_object_foreach(o, key, val)
        {
                if (strcmp(key, "kind") == 0 || strcmp(key, "apiVersion") == 0)
                        continue;
                if (json_object_object_add(n, key, json_object_get(val)) < 0) {
                        json_object_put(val);
                        json_object_put(n);
                        return NULL;
                }
        }
        return n;
}

struct json_object *state_pod_object(struct pod_entry *e)
{
        return with_type(e->pod, "v1", e->res == KT_NODE ? "Node" : "Pod");
}

static char *frame_of(const char *type, struct json_object *object)
{
        struct json_object *ev = json_object_new_object();
        if (!ev || kjson_set_string(ev, "type", type) < 0 ||
            json_object_object_add(ev, "object", json_object_get(object)) < 0) {
                json_object_put(ev);
                return NULL;
        }
        const char *s = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t n = strlen(s);
        char *frame = malloc(n + 2);
        if (frame) {
                memcpy(frame, s, n);
                frame[n] = '\n';
                frame[n + 1] = '\0';
        }
        json_object_put(ev);
        return frame;
}

/* Drops the older half of the history: watches that still needed it get the Expired error, as
 * from an etcd compaction. */
static void compact_history(struct state *st)
{
        size_t drop = st->n_events / 2;
        for (size_t i = 0; i < drop; i++)
                free(st->events[i].object);
        memmove(st->events, st->events + drop, (st->n_events - drop) * sizeof(*st->events));
        st->n_events -= drop;
        st->compact_rv = st->events[0].rv - 1;
        for (struct watch *w = st->watches; w; w = w->next)
                if (w->rv < st->compact_rv)
                        w->expire_pending = true;
}

static int set_rv(struct pod_entry *e, uint64_t rv)
{
        struct json_object *meta = kjson_ensure_object(e->pod, "metadata");
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRIu64, rv);
        return meta ? kjson_set_string(meta, "resourceVersion", buf) : -ENOMEM;
}

static int record_event(struct state *st, const char *type, struct pod_entry *e,
                        const char *prev_node)
{
        if (st->n_events == KT_EVENTS_MAX)
                compact_history(st);
        if (st->n_events == st->cap_events) {
                size_t cap = st->cap_events ? st->cap_events * 2 : 256;
                struct watch_event *n = realloc(st->events, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                st->events = n;
                st->cap_events = cap;
        }
        struct json_object *obj = state_pod_object(e);
        char *object = obj ? strdup(json_object_to_json_string_ext(
                                 obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE))
                           : NULL;
        json_object_put(obj);
        if (!object)
                return -ENOMEM;
        struct watch_event *ev = &st->events[st->n_events++];
        memset(ev, 0, sizeof(*ev));
        ev->res = e->res;
        ev->rv = st->rv;
        snprintf(ev->type, sizeof(ev->type), "%s", type);
        snprintf(ev->namespace_, sizeof(ev->namespace_), "%s", e->namespace_);
        snprintf(ev->name, sizeof(ev->name), "%s", e->name);
        snprintf(ev->node, sizeof(ev->node), "%s", e->node);
        snprintf(ev->prev_node, sizeof(ev->prev_node), "%s", prev_node ? prev_node : e->node);
        ev->object = object;
        pthread_cond_broadcast(&st->changed);
        return 0;
}

/* Fills in what the API server sets on a stored pod: namespace, uid, creationTimestamp,
 * spec.nodeName (the --node default for pods without one), and copies the keys into e. */
static int pod_prepare(struct state *st, struct json_object *pod, struct pod_entry *e)
{
        struct json_object *meta = kjson_ensure_object(pod, "metadata");
        if (!meta)
                return -ENOMEM;
        const char *name = kjson_get_string(pod, "metadata", "name", NULL);
        if (!name || !*name || strlen(name) >= KT_NAME_MAX)
                return -EINVAL;
        const char *ns = kjson_get_string(pod, "metadata", "namespace", NULL);
        if (e->res == KT_NODE) {
                /* Cluster-scoped: no namespace, and a node is on no node. */
                json_object_object_del(meta, "namespace");
                ns = "";
        } else if (!ns || !*ns) {
                if (kjson_set_string(meta, "namespace", "default") < 0)
                        return -ENOMEM;
                ns = "default";
        }
        if (strlen(ns) >= KT_NAME_MAX)
                return -EINVAL;
        if (!kjson_get_string(pod, "metadata", "uid", NULL)) {
                char uid[37];
                uuid_random(uid);
                if (kjson_set_string(meta, "uid", uid) < 0)
                        return -ENOMEM;
        }
        if (!kjson_get_string(pod, "metadata", "creationTimestamp", NULL)) {
                char ts[32];
                rfc3339_now(ts, sizeof(ts), 0);
                if (kjson_set_string(meta, "creationTimestamp", ts) < 0)
                        return -ENOMEM;
        }
        const char *node = e->res == KT_NODE ? "" : kjson_get_string(pod, "spec", "nodeName", NULL);
        if (e->res == KT_POD && (!node || !*node) && st->default_node[0]) {
                struct json_object *spec = kjson_ensure_object(pod, "spec");
                if (!spec || kjson_set_string(spec, "nodeName", st->default_node) < 0)
                        return -ENOMEM;
                node = st->default_node;
        }
        json_object_object_del(pod, "kind");
        json_object_object_del(pod, "apiVersion");
        snprintf(e->namespace_, sizeof(e->namespace_), "%s", ns);
        snprintf(e->name, sizeof(e->name), "%s", name);
        snprintf(e->node, sizeof(e->node), "%s", node ? node : "");
        return 0;
}

static int put(struct state *st, enum kt_resource res, struct json_object *pod)
{
        /* A replacement without uid or creationTimestamp is the same object: it keeps them. */
        const char *name = kjson_get_string(pod, "metadata", "name", NULL);
        const char *ns = kjson_get_string(pod, "metadata", "namespace", NULL);
        struct pod_entry *old = !name ? NULL
                                      : find(st, res,
                                             res == KT_NODE ? ""
                                             : ns && *ns    ? ns
                                                            : "default",
                                             name);
        struct json_object *meta = old ? kjson_get(pod, "metadata", NULL, NULL) : NULL;
        for (size_t i = 0; meta && i < 2; i++) {
                const char *key = i ? "creationTimestamp" : "uid";
                const char *v = kjson_get_string(old->pod, "metadata", key, NULL);
                if (v && !kjson_get(meta, key, NULL, NULL) && kjson_set_string(meta, key, v) < 0) {
                        json_object_put(pod);
                        return -ENOMEM;
                }
        }
        struct pod_entry tmp = { .res = res };
        int r = pod_prepare(st, pod, &tmp);
        if (r < 0) {
                json_object_put(pod);
                return r;
        }
        struct pod_entry *e = find(st, res, tmp.namespace_, tmp.name);
        const char *type = "MODIFIED";
        char prev_node[KT_NAME_MAX] = "";
        if (e) {
                snprintf(prev_node, sizeof(prev_node), "%s", e->node);
                json_object_put(e->pod);
                tmp.delete_at_usec = 0;
        } else {
                if (st->n_pods == st->cap_pods) {
                        size_t cap = st->cap_pods ? st->cap_pods * 2 : 64;
                        struct pod_entry *n = realloc(st->pods, cap * sizeof(*n));
                        if (!n) {
                                json_object_put(pod);
                                return -ENOMEM;
                        }
                        st->pods = n;
                        st->cap_pods = cap;
                }
                e = &st->pods[st->n_pods++];
                type = "ADDED";
        }
        tmp.pod = pod;
        *e = tmp;
        st->rv++;
        if ((r = set_rv(e, st->rv)) < 0)
                return r;
        return record_event(st, type, e, *type == 'M' ? prev_node : NULL);
}

int state_put_pod(struct state *st, struct json_object *pod)
{
        return put(st, KT_POD, pod);
}

int state_put_node(struct state *st, struct json_object *node)
{
        return put(st, KT_NODE, node);
}

int state_modified(struct state *st, struct pod_entry *e)
{
        st->rv++;
        int r = set_rv(e, st->rv);
        return r < 0 ? r : record_event(st, "MODIFIED", e, NULL);
}

int state_bind_pod(struct state *st, struct pod_entry *e, const char *node)
{
        struct json_object *spec = kjson_ensure_object(e->pod, "spec");
        if (!spec || kjson_set_string(spec, "nodeName", node) < 0)
                return -ENOMEM;
        /* The watch event carries the node before, so that a watch of the target node sees the
         * pod arrive (ADDED), as the watch cache shows it. */
        char prev[KT_NAME_MAX];
        snprintf(prev, sizeof(prev), "%s", e->node);
        snprintf(e->node, sizeof(e->node), "%s", node);
        st->rv++;
        int r = set_rv(e, st->rv);
        return r < 0 ? r : record_event(st, "MODIFIED", e, prev);
}

int state_delete_pod(struct state *st, struct pod_entry *e)
{
        /* The DELETED event carries the object at its final resourceVersion. */
        st->rv++;
        int r = set_rv(e, st->rv);
        if (r >= 0)
                r = record_event(st, "DELETED", e, NULL);
        json_object_put(e->pod);
        size_t i = (size_t)(e - st->pods);
        memmove(e, e + 1, (st->n_pods - i - 1) * sizeof(*e));
        st->n_pods--;
        return r;
}

void state_reap(struct state *st)
{
        uint64_t now = now_usec();
        for (size_t i = 0; i < st->n_pods;) {
                if (st->pods[i].delete_at_usec && st->pods[i].delete_at_usec <= now)
                        state_delete_pod(st, &st->pods[i]);
                else
                        i++;
        }
}

void state_expire(struct state *st)
{
        for (size_t i = 0; i < st->n_events; i++)
                free(st->events[i].object);
        st->n_events = 0;
        st->compact_rv = st->rv;
        for (struct watch *w = st->watches; w; w = w->next)
                w->expire_pending = true;
        pthread_cond_broadcast(&st->changed);
}

void state_bookmark_all(struct state *st)
{
        for (struct watch *w = st->watches; w; w = w->next)
                w->bookmark_pending = true;
        pthread_cond_broadcast(&st->changed);
}

int state_load_pods(struct state *st, const char *path)
{
        struct json_object *root = json_object_from_file(path);
        if (!root) {
                fprintf(stderr, "kube-test-apiserver: cannot read the pods %s: %s\n", path,
                        json_util_get_last_err());
                return -EINVAL;
        }
        struct json_object *items = root;
        if (json_object_is_type(root, json_type_object) &&
            !json_object_object_get_ex(root, "items", &items)) {
                fprintf(stderr, "kube-test-apiserver: %s: not a PodList (no items)\n", path);
                json_object_put(root);
                return -EINVAL;
        }
        if (!json_object_is_type(items, json_type_array)) {
                fprintf(stderr, "kube-test-apiserver: %s: items is not an array\n", path);
                json_object_put(root);
                return -EINVAL;
        }
        int r = 0;
        for (size_t i = 0; i < json_object_array_length(items) && r >= 0; i++) {
                struct json_object *p = json_object_array_get_idx(items, i);
                r = state_put_pod(st, json_object_get(p));
                if (r < 0)
                        fprintf(stderr, "kube-test-apiserver: %s: pod %zu: %s\n", path, i,
                                r == -EINVAL ? "no metadata.name" : strerror(-r));
        }
        json_object_put(root);
        /* Loading is not history: a watch from the list's resourceVersion starts clean. */
        for (size_t i = 0; i < st->n_events; i++)
                free(st->events[i].object);
        st->n_events = 0;
        return r;
}

/* ---------- watches ---------- */

struct watch *watch_new(struct state *st, enum kt_resource res, const char *node, const char *ns,
                        uint64_t rv, bool bookmarks, uint32_t timeout_sec)
{
        if (st->n_watches >= KT_WATCHES_MAX)
                return NULL;
        struct watch *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->st = st;
        w->res = res;
        w->fd = -1;
        snprintf(w->node, sizeof(w->node), "%s", node ? node : "");
        snprintf(w->namespace_, sizeof(w->namespace_), "%s", ns ? ns : "");
        w->bookmarks = bookmarks;
        w->requested_rv = rv;
        if (rv == 0) {
                /* resourceVersion unset or "0": the current state as ADDED events first. */
                w->initial_pending = true;
                w->rv = st->rv;
        } else {
                w->rv = rv;
                if (rv < st->compact_rv)
                        w->expire_pending = true;
        }
        w->deadline_usec =
            now_usec() +
            (uint64_t)(timeout_sec ? timeout_sec : KT_DEFAULT_WATCH_TIMEOUT_SEC) * 1000000u;
        w->next = st->watches;
        if (st->watches)
                st->watches->prev = w;
        st->watches = w;
        st->n_watches++;
        return w;
}

void watch_free_locked(struct watch *w)
{
        struct state *st = w->st;
        if (w->prev)
                w->prev->next = w->next;
        else
                st->watches = w->next;
        if (w->next)
                w->next->prev = w->prev;
        st->n_watches--;
        free(w->buf);
        free(w);
}

void watch_free(struct watch *w)
{
        if (!w)
                return;
        struct state *st = w->st;
        pthread_mutex_lock(&st->lock);
        watch_free_locked(w);
        pthread_mutex_unlock(&st->lock);
}

static bool watch_matches(const struct watch *w, enum kt_resource res, const char *ns,
                          const char *node)
{
        return w->res == res && (!w->node[0] || strcmp(w->node, node) == 0) &&
               (!w->namespace_[0] || strcmp(w->namespace_, ns) == 0);
}

static int watch_append(struct watch *w, const char *s)
{
        size_t n = strlen(s);
        char *b = realloc(w->buf, w->len + n);
        if (!b)
                return -ENOMEM;
        memcpy(b + w->len, s, n);
        w->buf = b;
        w->len += n;
        return 0;
}

/* The real server's bookmark: an otherwise empty object, serialised as Go writes a zero Pod or
 * a zero Node (whose status holds two structs without omitempty effect). */
static int watch_add_bookmark(struct watch *w)
{
        char frame[768];
        if (w->res == KT_NODE)
                snprintf(frame, sizeof(frame),
                         "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Node\",\"apiVersion\":"
                         "\"v1\",\"metadata\":{\"resourceVersion\":\"%" PRIu64 "\","
                         "\"creationTimestamp\":null},\"spec\":{},\"status\":{\"daemonEndpoints\":"
                         "{\"kubeletEndpoint\":{\"Port\":0}},\"nodeInfo\":{\"machineID\":\"\","
                         "\"systemUUID\":\"\",\"bootID\":\"\",\"kernelVersion\":\"\",\"osImage\":"
                         "\"\",\"containerRuntimeVersion\":\"\",\"kubeletVersion\":\"\","
                         "\"kubeProxyVersion\":\"\",\"operatingSystem\":\"\",\"architecture\":"
                         "\"\"}}}}\n",
                         w->rv);
        else
                snprintf(frame, sizeof(frame),
                         "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":"
                         "\"v1\",\"metadata\":{\"resourceVersion\":\"%" PRIu64 "\","
                         "\"creationTimestamp\":null},\"spec\":{\"containers\":null},"
                         "\"status\":{}}}\n",
                         w->rv);
        return watch_append(w, frame);
}

static int watch_add_expired(struct watch *w)
{
        char msg[128];
        snprintf(msg, sizeof(msg), "too old resource version: %" PRIu64 " (%" PRIu64 ")",
                 w->requested_rv, w->st->compact_rv);
        struct json_object *s = status_expired(msg);
        char *frame = s ? frame_of("ERROR", s) : NULL;
        json_object_put(s);
        int r = frame ? watch_append(w, frame) : -ENOMEM;
        free(frame);
        return r;
}

/* Puts the next frames into w->buf. Returns true when there was something to send. */
static bool watch_fill(struct watch *w)
{
        struct state *st = w->st;
        if (w->expire_pending) {
                w->expire_pending = false;
                w->done = true;
                return watch_add_expired(w) >= 0;
        }
        if (w->initial_pending) {
                w->initial_pending = false;
                for (size_t i = 0; i < st->n_pods; i++) {
                        struct pod_entry *e = &st->pods[i];
                        if (!watch_matches(w, e->res, e->namespace_, e->node))
                                continue;
                        struct json_object *o = state_pod_object(e);
                        char *frame = o ? frame_of("ADDED", o) : NULL;
                        json_object_put(o);
                        if (!frame || watch_append(w, frame) < 0) {
                                free(frame);
                                w->done = true;
                                return true;
                        }
                        free(frame);
                }
                if (w->len)
                        return true;
        }
        /* Events after w->rv, in order (binary search would do; the history is small). */
        for (size_t i = 0; i < st->n_events; i++) {
                struct watch_event *ev = &st->events[i];
                if (ev->rv <= w->rv)
                        continue;
                w->rv = ev->rv;
                bool now = watch_matches(w, ev->res, ev->namespace_, ev->node);
                bool before = watch_matches(w, ev->res, ev->namespace_, ev->prev_node);
                const char *type = ev->type;
                if (strcmp(type, "MODIFIED") == 0 && now != before)
                        type = now ? "ADDED" : "DELETED";
                else if (!now)
                        continue;
                if (watch_append(w, "{\"type\":\"") < 0 || watch_append(w, type) < 0 ||
                    watch_append(w, "\",\"object\":") < 0 || watch_append(w, ev->object) < 0 ||
                    watch_append(w, "}\n") < 0)
                        w->done = true;
                return true;
        }
        if (w->rv < st->rv)
                w->rv = st->rv; /* events that matched no one; bookmarks report the newest */
        if (w->bookmark_pending) {
                w->bookmark_pending = false;
                if (w->bookmarks && watch_add_bookmark(w) >= 0)
                        return true;
        }
        return false;
}

static bool client_gone(int fd)
{
        if (fd < 0)
                return false;
        struct pollfd p = { .fd = fd, .events = POLLRDHUP };
        return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

ssize_t watch_read(struct watch *w, char *buf, size_t max)
{
        struct state *st = w->st;
        pthread_mutex_lock(&st->lock);
        for (;;) {
                if (w->off < w->len) {
                        size_t n = w->len - w->off;
                        if (st->split_bytes && n > st->split_bytes)
                                n = st->split_bytes;
                        if (n > max)
                                n = max;
                        memcpy(buf, w->buf + w->off, n);
                        w->off += n;
                        if (w->off == w->len)
                                w->off = w->len = 0;
                        pthread_mutex_unlock(&st->lock);
                        return (ssize_t)n;
                }
                if (w->done || st->stopping)
                        break;
                if (watch_fill(w))
                        continue;
                uint64_t now = now_usec();
                if (now >= w->deadline_usec)
                        break;
                if (client_gone(w->fd))
                        break;
                /* Wake at least once a second to notice a client that left: an idle watch
                 * writes nothing that would fail. */
                uint64_t wait = w->deadline_usec - now;
                if (wait > 1000000u)
                        wait = 1000000u;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_nsec += (long)(wait % 1000000u) * 1000;
                ts.tv_sec += (time_t)(wait / 1000000u) + ts.tv_nsec / 1000000000;
                ts.tv_nsec %= 1000000000;
                pthread_cond_timedwait(&st->changed, &st->lock, &ts);
        }
        pthread_mutex_unlock(&st->lock);
        return -1;
}
