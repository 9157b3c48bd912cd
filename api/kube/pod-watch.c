// SPDX-License-Identifier: Apache-2.0
#include "api/kube/pod-watch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "api/kube/frames.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/node-name.h"
#include "common/random.h"

enum watch_step { STEP_LIST, STEP_WATCH };

/* A WATCH that ends cleanly sooner than this with no event is treated as a failure. */
#define KUBE_WATCH_SHORT_USEC 1000000ull

struct kube_pod_watch {
        struct kube_client *c;
        char *node_name;
        kube_pod_change_fn on_change;
        void *userdata;

        struct k8s_pod_meta **pods; /* the table; few hundred at most per node */
        size_t n_pods, cap_pods;
        char *rv; /* last resourceVersion */
        bool synced;

        enum watch_step next;        /* what the timer starts */
        struct kube_request *stream; /* the WATCH in flight */
        struct kube_request *list;   /* the LIST in flight */
        bool relist;                 /* the stream said 410: LIST when it ends */
        bool had_error;              /* the stream carried an ERROR event other than 410 */
        struct kube_frames frames;
        uint64_t watch_start_usec;   /* CLOCK_MONOTONIC when the WATCH in flight started */
        uint64_t watch_start_events; /* stats.events then */
        sd_event_source *timer;
        uint64_t backoff_usec;
        uint64_t rand_state;
        char last_error[640];
        struct kube_pod_watch_stats stats;
};

/* ---------- the table ---------- */

static ssize_t find_index(const struct kube_pod_watch *w, const char *uid)
{
        for (size_t i = 0; i < w->n_pods; i++)
                if (streq(w->pods[i]->uid, uid))
                        return (ssize_t)i;
        return -1;
}

/* Puts a copy of m in the table (replacing the pod of the same uid) and tells on_change. */
static int table_put(struct kube_pod_watch *w, const struct k8s_pod_meta *m)
{
        ssize_t i = find_index(w, m->uid);
        if (i >= 0 && memcmp(w->pods[i], m, sizeof(*m)) == 0)
                return 0; /* a relist, or a change to fields memagentd does not keep */
        if (i >= 0) {
                struct k8s_pod_meta *old = w->pods[i], *n = malloc(sizeof(*n));
                if (!n)
                        return -ENOMEM;
                *n = *m;
                w->pods[i] = n;
                if (w->on_change)
                        w->on_change(w, old, n, w->userdata);
                free(old);
                return 0;
        }
        if (w->n_pods == w->cap_pods) {
                size_t cap = w->cap_pods ? w->cap_pods * 2 : 64;
                struct k8s_pod_meta **p = realloc(w->pods, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                w->pods = p;
                w->cap_pods = cap;
        }
        struct k8s_pod_meta *n = malloc(sizeof(*n));
        if (!n)
                return -ENOMEM;
        *n = *m;
        w->pods[w->n_pods++] = n;
        if (w->on_change)
                w->on_change(w, NULL, n, w->userdata);
        return 0;
}

static void table_remove_at(struct kube_pod_watch *w, size_t i)
{
        struct k8s_pod_meta *old = w->pods[i];
        w->pods[i] = w->pods[--w->n_pods];
        if (w->on_change)
                w->on_change(w, old, NULL, w->userdata);
        free(old);
}

/* etcd's revisions are 64-bit decimals; anything this long is not a resourceVersion. */
#define KUBE_RV_MAX 128

static int set_rv(struct kube_pod_watch *w, const char *rv)
{
        if (!rv || !*rv)
                return 0;
        if (strlen(rv) > KUBE_RV_MAX)
                return -E2BIG;
        char *d = strdup(rv);
        if (!d)
                return -ENOMEM;
        free(w->rv);
        w->rv = d;
        return 0;
}

/* Keeps the last failure for status output; vsnprintf cuts what does not fit. */
static void note_error(struct kube_pod_watch *w, const char *fmt, ...) _printf_(2, 3);
static void note_error(struct kube_pod_watch *w, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->last_error, sizeof(w->last_error), fmt, ap);
        va_end(ap);
}

/* ---------- scheduling ---------- */

static void schedule(struct kube_pod_watch *w, enum watch_step step, uint64_t delay_usec)
{
        w->next = step;
        (void)sd_event_source_set_time(w->timer, now_usec(CLOCK_MONOTONIC) + delay_usec);
        (void)sd_event_source_set_enabled(w->timer, SD_EVENT_ONESHOT);
}

/* A failure: wait the backoff (jittered +-20%), then retry step. */
static void fail(struct kube_pod_watch *w, enum watch_step step, const char *fmt, ...)
    _printf_(3, 4);
static void fail(struct kube_pod_watch *w, enum watch_step step, const char *fmt, ...)
{
        char buf[sizeof(w->last_error)];
        va_list ap;
        /* Through a copy: the arguments may be w->last_error itself. */
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        memcpy(w->last_error, buf, sizeof(buf));
        w->stats.errors++;
        w->backoff_usec = w->backoff_usec ? w->backoff_usec * 2 : KUBE_WATCH_BACKOFF_MIN_USEC;
        if (w->backoff_usec > KUBE_WATCH_BACKOFF_MAX_USEC)
                w->backoff_usec = KUBE_WATCH_BACKOFF_MAX_USEC;
        uint64_t span = w->backoff_usec * 2 / 5; /* 40%: -20% .. +20% */
        uint64_t delay =
            w->backoff_usec - w->backoff_usec / 5 + random_next(&w->rand_state) % (span + 1);
        log_warning("Kubernetes pods of node %s: %s; %s again in %.1f s", w->node_name,
                    w->last_error, step == STEP_LIST ? "listing" : "watching", (double)delay / 1e6);
        schedule(w, step, delay);
}

/* ---------- LIST ---------- */

static void start_list(struct kube_pod_watch *w);
static void start_watch(struct kube_pod_watch *w);

static void on_list(const struct kube_status *st, struct json_object *body, void *userdata)
{
        struct kube_pod_watch *w = userdata;
        struct json_object *items = NULL, *meta = NULL;
        const char *rv = NULL;
        struct api_error err = {};
        char line[600];

        w->list = NULL;
        if (!kube_status_ok(st) || !body) {
                kube_status_format(st, line, sizeof(line));
                fail(w, STEP_LIST, "LIST failed: %s", line);
                return;
        }
        if (api_get_object(body, "PodList", "metadata", true, false, &meta, &err) < 0 ||
            api_get_string(meta, "PodList.metadata", "resourceVersion", true, false, &rv, &err) <
                0 ||
            api_get_array(body, "PodList", "items", false, false, &items, &err) < 0) {
                fail(w, STEP_LIST, "LIST answer refused: %s: %s", err.field, err.message);
                return;
        }
        /* Decode everything first: a bad pod leaves the table as it was. */
        size_t n = items ? json_object_array_length(items) : 0;
        struct k8s_pod_meta *fresh = calloc(n ? n : 1, sizeof(*fresh));
        if (!fresh) {
                fail(w, STEP_LIST, "out of memory");
                return;
        }
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
                char path[API_FIELD_MAX];
                snprintf(path, sizeof(path), "items[%zu]", i);
                if (k8s_pod_meta_decode(json_object_array_get_idx(items, i), path, &fresh[kept],
                                        &err) < 0) {
                        /* One pod the agent cannot read must not blind it to the others. */
                        w->stats.errors++;
                        note_error(w, "pod skipped: %s: %s", err.field, err.message);
                        continue;
                }
                kept++;
        }
        /* Pods gone since the last LIST (a relist after 410 misses their DELETED). */
        for (size_t i = w->n_pods; i-- > 0;) {
                bool present = false;
                for (size_t j = 0; j < kept && !present; j++)
                        present = streq(fresh[j].uid, w->pods[i]->uid);
                if (!present)
                        table_remove_at(w, i);
        }
        for (size_t j = 0; j < kept; j++)
                if (table_put(w, &fresh[j]) < 0) {
                        free(fresh);
                        fail(w, STEP_LIST, "out of memory");
                        return;
                }
        free(fresh);
        int r = set_rv(w, rv);
        if (r < 0) {
                fail(w, STEP_LIST, "%s",
                     r == -E2BIG ? "the LIST's resourceVersion is too long" : "out of memory");
                return;
        }
        w->stats.lists++;
        if (w->synced)
                log_info("Kubernetes pods of node %s: listed again, %zu pods at resourceVersion "
                         "%s",
                         w->node_name, w->n_pods, w->rv);
        else
                log_info("Kubernetes pods of node %s: %zu pods listed from %s", w->node_name,
                         w->n_pods, kube_client_server(w->c));
        w->synced = true;
        w->backoff_usec = 0;
        /* The table is whole now: tell the user (readiness waits for this). */
        if (w->on_change)
                w->on_change(w, NULL, NULL, w->userdata);
        start_watch(w);
}

static char *pods_path(const struct kube_pod_watch *w, const char *extra)
{
        char *p = NULL;
        /* fieldSelector=spec.nodeName=NODE, its "=" escaped; node names need no other escape. */
        if (asprintf(&p, "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s%s", w->node_name,
                     extra ? extra : "") < 0)
                return NULL;
        return p;
}

static void start_list(struct kube_pod_watch *w)
{
        _cleanup_free_ char *path = pods_path(w, NULL);
        if (!path) {
                fail(w, STEP_LIST, "out of memory");
                return;
        }
        int r = kube_client_send(w->c, "GET", path, NULL, NULL, on_list, w, &w->list);
        if (r < 0)
                fail(w, STEP_LIST, "LIST not started: %s", strerror(-r));
}

/* ---------- WATCH ---------- */

/* A Status in an ERROR event, or a 410 answer: the resourceVersion is too old. */
static bool is_expired(int code, const char *reason)
{
        return code == 410 || (reason && (streq(reason, "Expired") || streq(reason, "Gone")));
}

static int on_frame(const char *line, size_t len, void *userdata)
{
        struct kube_pod_watch *w = userdata;
        _cleanup_json_ struct json_object *ev = NULL;
        struct json_object *obj = NULL, *meta = NULL;
        const char *type = NULL, *rv = NULL, *uid = NULL;
        struct api_error err = {};

        if (w->relist || w->had_error)
                return 0; /* the stream is ending; nothing after that counts */
        if (api_parse(line, len, &ev, &err) < 0 ||
            api_get_string(ev, "event", "type", true, false, &type, &err) < 0 ||
            api_get_object(ev, "event", "object", true, false, &obj, &err) < 0) {
                w->stats.errors++;
                note_error(w, "watch event refused: %s: %s", err.field, err.message);
                return 0;
        }
        if (streq(type, "ERROR")) {
                struct kube_status st;
                const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
                kube_status_from_reply(0, text, strlen(text), NULL, &st);
                int64_t code = 0;
                (void)api_get_i64(obj, "event.object", "code", false, 0, 999, &code, &err);
                if (is_expired((int)code, st.reason)) {
                        w->relist = true;
                        note_error(w, "watch expired: %s", st.message);
                } else {
                        w->had_error = true;
                        note_error(w, "watch error %d %s: %s", (int)code, st.reason, st.message);
                }
                return 0;
        }
        if (api_get_object(obj, "event.object", "metadata", true, false, &meta, &err) < 0 ||
            api_get_string(meta, "event.object.metadata", "resourceVersion", false, false, &rv,
                           &err) < 0) {
                w->stats.errors++;
                note_error(w, "watch event refused: %s: %s", err.field, err.message);
                return 0;
        }
        if (streq(type, "BOOKMARK")) {
                w->stats.bookmarks++;
        } else if (streq(type, "ADDED") || streq(type, "MODIFIED")) {
                struct k8s_pod_meta m;
                if (k8s_pod_meta_decode(obj, "event.object", &m, &err) < 0) {
                        w->stats.errors++;
                        note_error(w, "pod skipped: %s: %s", err.field, err.message);
                } else if (table_put(w, &m) < 0)
                        return -ENOMEM;
        } else if (streq(type, "DELETED")) {
                if (api_get_string(meta, "event.object.metadata", "uid", false, false, &uid, &err) >
                    0) {
                        ssize_t i = find_index(w, uid);
                        if (i >= 0)
                                table_remove_at(w, (size_t)i);
                }
        } else {
                w->stats.errors++;
                note_error(w, "unknown watch event type %.32s", type);
                return 0;
        }
        w->stats.events++;
        return set_rv(w, rv);
}

static int on_watch_data(const char *data, size_t n, void *userdata)
{
        struct kube_pod_watch *w = userdata;
        return kube_frames_feed(&w->frames, data, n, on_frame, w);
}

static void on_watch_end(const struct kube_status *st, struct json_object *body, void *userdata)
{
        struct kube_pod_watch *w = userdata;
        char line[600];
        (void)body;

        w->stream = NULL;
        bool cut = kube_frames_pending(&w->frames) > 0;
        kube_frames_reset(&w->frames);
        if (w->relist || is_expired(st->http_code, st->reason)) {
                w->relist = false;
                w->had_error = false;
                w->stats.relists++;
                log_info("Kubernetes pods of node %s: resourceVersion %s expired; listing again",
                         w->node_name, w->rv ? w->rv : "");
                start_list(w);
                return;
        }
        if (w->had_error) {
                w->had_error = false;
                fail(w, STEP_WATCH, "%s", w->last_error);
                return;
        }
        if (!kube_status_ok(st) || st->transport_errno) {
                kube_status_format(st, line, sizeof(line));
                fail(w, STEP_WATCH, "WATCH failed: %s", line);
                return;
        }
        if (cut) {
                fail(w, STEP_WATCH, "WATCH ended inside an event");
                return;
        }
        /* A watch the server ends at once with nothing in it (a proxy cutting streams, a server
         * refusing watches without saying so) must not become a tight loop: as client-go's
         * reflector does for "very short watches", wait the backoff. */
        if (w->stats.events == w->watch_start_events &&
            now_usec(CLOCK_MONOTONIC) - w->watch_start_usec < KUBE_WATCH_SHORT_USEC) {
                fail(w, STEP_WATCH, "WATCH ended at once with no event");
                return;
        }
        /* The server's timeoutSeconds ran out: carry on from where we are. */
        w->backoff_usec = 0;
        start_watch(w);
}

/* rv percent-encoded for a query (RFC 3986: all but the unreserved characters): resourceVersions
 * are opaque, so nothing is assumed of their characters. */
static void escape_rv(const char *rv, char *buf, size_t size)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        for (; *rv && o + 4 <= size; rv++) {
                unsigned char ch = (unsigned char)*rv;
                if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~')
                        buf[o++] = (char)ch;
                else {
                        buf[o++] = '%';
                        buf[o++] = hex[ch >> 4];
                        buf[o++] = hex[ch & 15];
                }
        }
        buf[o] = '\0';
}

static void start_watch(struct kube_pod_watch *w)
{
        char extra[3 * KUBE_RV_MAX + 128], rv[3 * KUBE_RV_MAX + 1];
        /* Spread reconnections over [5, 10) minutes, as client-go's reflector does. */
        unsigned timeout_sec = KUBE_WATCH_TIMEOUT_MIN_SEC +
                               (unsigned)(random_next(&w->rand_state) % KUBE_WATCH_TIMEOUT_MIN_SEC);
        escape_rv(w->rv ? w->rv : "", rv, sizeof(rv));
        snprintf(extra, sizeof(extra),
                 "&watch=true&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%u", rv,
                 timeout_sec);
        _cleanup_free_ char *path = pods_path(w, extra);
        if (!path) {
                fail(w, STEP_WATCH, "out of memory");
                return;
        }
        /* The server ends the stream at timeoutSeconds; a minute more is ours, for a server
         * that went silent. */
        int r = kube_client_stream(w->c, path, (long)(timeout_sec + 60) * 1000, on_watch_data,
                                   on_watch_end, w, &w->stream);
        if (r < 0) {
                fail(w, STEP_WATCH, "WATCH not started: %s", strerror(-r));
                return;
        }
        w->stats.watches++;
        w->watch_start_usec = now_usec(CLOCK_MONOTONIC);
        w->watch_start_events = w->stats.events;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct kube_pod_watch *w = userdata;
        (void)s;
        (void)usec;
        if (w->next == STEP_WATCH && w->rv)
                start_watch(w);
        else
                start_list(w);
        return 0;
}

/* ---------- public ---------- */

int kube_pod_watch_start(struct kube_client *c, const char *node_name, kube_pod_change_fn on_change,
                         void *userdata, struct kube_pod_watch **ret)
{
        if (!c || !node_name || !node_name_is_valid(node_name, strlen(node_name)))
                return -EINVAL;
        struct kube_pod_watch *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->c = c;
        w->on_change = on_change;
        w->userdata = userdata;
        w->node_name = strdup(node_name);
        if (!w->node_name) {
                kube_pod_watch_free(w);
                return -ENOMEM;
        }
        w->rand_state = random_seed();
        int r = sd_event_add_time(kube_client_get_event(c), &w->timer, CLOCK_MONOTONIC, 0, 1000,
                                  on_timer, w);
        if (r < 0) {
                kube_pod_watch_free(w);
                return r;
        }
        (void)sd_event_source_set_description(w->timer, "kube-pod-watch");
        /* Start from the loop, never from the caller's stack. */
        schedule(w, STEP_LIST, 0);
        *ret = w;
        return 0;
}

struct kube_pod_watch *kube_pod_watch_free(struct kube_pod_watch *w)
{
        if (!w)
                return NULL;
        /* Both hold w as their userdata: the client must not call them back. */
        kube_request_cancel(w->stream);
        kube_request_cancel(w->list);
        w->timer = sd_event_source_disable_unref(w->timer);
        for (size_t i = 0; i < w->n_pods; i++)
                free(w->pods[i]);
        free(w->pods);
        kube_frames_done(&w->frames);
        free(w->rv);
        free(w->node_name);
        free(w);
        return NULL;
}

bool kube_pod_watch_synced(const struct kube_pod_watch *w)
{
        return w && w->synced;
}

const struct k8s_pod_meta *kube_pod_watch_find(const struct kube_pod_watch *w, const char *uid)
{
        ssize_t i = w && uid ? find_index(w, uid) : -1;
        return i >= 0 ? w->pods[i] : NULL;
}

size_t kube_pod_watch_count(const struct kube_pod_watch *w)
{
        return w ? w->n_pods : 0;
}

const struct k8s_pod_meta *kube_pod_watch_get(const struct kube_pod_watch *w, size_t i)
{
        return w && i < w->n_pods ? w->pods[i] : NULL;
}

const char *kube_pod_watch_resource_version(const struct kube_pod_watch *w)
{
        return w && w->rv ? w->rv : "";
}

void kube_pod_watch_get_stats(const struct kube_pod_watch *w, struct kube_pod_watch_stats *ret)
{
        *ret = w->stats;
}

const char *kube_pod_watch_last_error(const struct kube_pod_watch *w)
{
        return w->last_error;
}
