// SPDX-License-Identifier: Apache-2.0
#include "api/kube/informer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kube/frames.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/random.h"

enum watch_step { STEP_LIST, STEP_WATCH };

/* A WATCH that ends cleanly sooner than this with no event is treated as a failure. */
#define KUBE_WATCH_SHORT_USEC 1000000ull

/* etcd's revisions are 64-bit decimals; anything this long is not a resourceVersion. */
#define KUBE_RV_MAX 128

struct kube_informer {
        struct kube_client *c; /* NULL: offline (tests) */
        const struct kube_informer_type *type;
        char *path, *what;
        kube_informer_change_fn on_change;
        void *userdata;

        /* The table: objects sorted by key, so that a LIST of every pod of a cluster merges in
         * O(n log n) and a watch event finds its object in O(log n). */
        void **objs;
        size_t n_objs, cap_objs;
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
        struct kube_informer_stats stats;
};

/* ---------- the table ---------- */

static const char *key_of(const struct kube_informer *inf, const void *obj)
{
        return (const char *)obj + inf->type->key_offset;
}

/* The index of key, or -(insertion point) - 1. */
static ssize_t find_index(const struct kube_informer *inf, const char *key)
{
        size_t lo = 0, hi = inf->n_objs;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(key_of(inf, inf->objs[mid]), key);
                if (c == 0)
                        return (ssize_t)mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -(ssize_t)lo - 1;
}

/* Puts a copy of obj in the table (replacing the object of the same key) and tells on_change. */
static int table_put(struct kube_informer *inf, const void *obj)
{
        size_t size = inf->type->object_size;
        ssize_t i = find_index(inf, key_of(inf, obj));
        if (i >= 0 && memcmp(inf->objs[i], obj, size) == 0)
                return 0; /* a relist, or a change to fields the decoder does not keep */
        void *n = malloc(size);
        if (!n)
                return -ENOMEM;
        memcpy(n, obj, size);
        if (i >= 0) {
                void *old = inf->objs[i];
                inf->objs[i] = n;
                if (inf->on_change)
                        inf->on_change(inf, old, n, inf->userdata);
                free(old);
                return 0;
        }
        if (inf->n_objs == inf->cap_objs) {
                size_t cap = inf->cap_objs ? inf->cap_objs * 2 : 64;
                void **p = realloc(inf->objs, cap * sizeof(*p));
                if (!p) {
                        free(n);
                        return -ENOMEM;
                }
                inf->objs = p;
                inf->cap_objs = cap;
        }
        size_t at = (size_t)(-i - 1);
        memmove(inf->objs + at + 1, inf->objs + at, (inf->n_objs - at) * sizeof(*inf->objs));
        inf->objs[at] = n;
        inf->n_objs++;
        if (inf->on_change)
                inf->on_change(inf, NULL, n, inf->userdata);
        return 0;
}

static void table_remove_at(struct kube_informer *inf, size_t i)
{
        void *old = inf->objs[i];
        memmove(inf->objs + i, inf->objs + i + 1, (inf->n_objs - i - 1) * sizeof(*inf->objs));
        inf->n_objs--;
        if (inf->on_change)
                inf->on_change(inf, old, NULL, inf->userdata);
        free(old);
}

static int set_rv(struct kube_informer *inf, const char *rv)
{
        if (!rv || !*rv)
                return 0;
        if (strlen(rv) > KUBE_RV_MAX)
                return -E2BIG;
        char *d = strdup(rv);
        if (!d)
                return -ENOMEM;
        free(inf->rv);
        inf->rv = d;
        return 0;
}

/* Keeps the last failure for status output; vsnprintf cuts what does not fit. */
static void note_error(struct kube_informer *inf, const char *fmt, ...) _printf_(2, 3);
static void note_error(struct kube_informer *inf, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(inf->last_error, sizeof(inf->last_error), fmt, ap);
        va_end(ap);
}

/* ---------- scheduling ---------- */

static void schedule(struct kube_informer *inf, enum watch_step step, uint64_t delay_usec)
{
        inf->next = step;
        if (!inf->timer)
                return;
        (void)sd_event_source_set_time(inf->timer, now_usec(CLOCK_MONOTONIC) + delay_usec);
        (void)sd_event_source_set_enabled(inf->timer, SD_EVENT_ONESHOT);
}

/* A failure: wait the backoff (jittered +-20%), then retry step. */
static void fail(struct kube_informer *inf, enum watch_step step, const char *fmt, ...)
    _printf_(3, 4);
static void fail(struct kube_informer *inf, enum watch_step step, const char *fmt, ...)
{
        char buf[sizeof(inf->last_error)];
        va_list ap;
        /* Through a copy: the arguments may be inf->last_error itself. */
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        memcpy(inf->last_error, buf, sizeof(buf));
        inf->stats.errors++;
        inf->backoff_usec = inf->backoff_usec ? inf->backoff_usec * 2 : KUBE_WATCH_BACKOFF_MIN_USEC;
        if (inf->backoff_usec > KUBE_WATCH_BACKOFF_MAX_USEC)
                inf->backoff_usec = KUBE_WATCH_BACKOFF_MAX_USEC;
        uint64_t span = inf->backoff_usec * 2 / 5; /* 40%: -20% .. +20% */
        uint64_t delay =
            inf->backoff_usec - inf->backoff_usec / 5 + random_next(&inf->rand_state) % (span + 1);
        log_warning("Kubernetes %s: %s; %s again in %.1f s", inf->what, inf->last_error,
                    step == STEP_LIST ? "listing" : "watching", (double)delay / 1e6);
        schedule(inf, step, delay);
}

/* ---------- LIST ---------- */

static void start_list(struct kube_informer *inf);
static void start_watch(struct kube_informer *inf);

struct keyed {
        const struct kube_informer *inf;
        const void *obj;
};

static int keyed_cmp(const void *a, const void *b)
{
        const struct keyed *x = a, *y = b;
        return strcmp(key_of(x->inf, x->obj), key_of(y->inf, y->obj));
}

/* Merges a LIST answer into the table. Returns 0, or -EINVAL / -ENOMEM / -E2BIG with
 * last_error saying why (the table is then as it was). */
int kube_informer_apply_list(struct kube_informer *inf, const struct json_object *body)
{
        const struct kube_informer_type *t = inf->type;
        struct json_object *items = NULL, *meta = NULL;
        const char *rv = NULL;
        struct api_error err = {};
        char path[API_FIELD_MAX], meta_path[64];

        snprintf(meta_path, sizeof(meta_path), "%s.metadata", t->list_kind);
        if (api_get_object(body, t->list_kind, "metadata", true, false, &meta, &err) < 0 ||
            api_get_string(meta, meta_path, "resourceVersion", true, false, &rv, &err) < 0 ||
            api_get_array(body, t->list_kind, "items", false, false, &items, &err) < 0) {
                note_error(inf, "LIST answer refused: %s: %s", err.field, err.message);
                return -EINVAL;
        }
        if (strlen(rv) > KUBE_RV_MAX) {
                note_error(inf, "the LIST's resourceVersion is too long");
                return -E2BIG;
        }
        /* Decode everything first: a bad answer leaves the table as it was. */
        size_t n = items ? json_object_array_length(items) : 0;
        char *fresh = calloc(n ? n : 1, t->object_size);
        struct keyed *sorted = calloc(n ? n : 1, sizeof(*sorted));
        if (!fresh || !sorted) {
                free(fresh);
                free(sorted);
                note_error(inf, "out of memory");
                return -ENOMEM;
        }
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
                void *obj = fresh + kept * t->object_size;
                snprintf(path, sizeof(path), "items[%zu]", i);
                if (t->decode(json_object_array_get_idx(items, i), path, obj, &err) < 0) {
                        /* One object we cannot read must not blind us to the others. */
                        inf->stats.errors++;
                        note_error(inf, "%s skipped: %s: %s", t->noun, err.field, err.message);
                        memset(obj, 0, t->object_size);
                        continue;
                }
                sorted[kept] = (struct keyed){ .inf = inf, .obj = obj };
                kept++;
        }
        qsort(sorted, kept, sizeof(*sorted), keyed_cmp);
        /* Objects gone since the last LIST (a relist after 410 misses their DELETED). */
        for (size_t i = inf->n_objs; i-- > 0;) {
                struct keyed k = { .inf = inf, .obj = inf->objs[i] };
                if (!bsearch(&k, sorted, kept, sizeof(*sorted), keyed_cmp))
                        table_remove_at(inf, i);
        }
        int r = 0;
        for (size_t j = 0; j < kept && r >= 0; j++)
                r = table_put(inf, sorted[j].obj);
        free(sorted);
        free(fresh);
        if (r >= 0)
                r = set_rv(inf, rv);
        if (r < 0) {
                note_error(inf, "out of memory");
                return r;
        }
        inf->stats.lists++;
        inf->stats.synced_usec = now_usec(CLOCK_MONOTONIC);
        if (inf->synced)
                log_info("Kubernetes %s: listed again, %zu %s at resourceVersion %s", inf->what,
                         inf->n_objs, t->noun, inf->rv);
        else
                log_info("Kubernetes %s: %zu %s listed from %s", inf->what, inf->n_objs, t->noun,
                         inf->c ? kube_client_server(inf->c) : "a test");
        inf->synced = true;
        inf->backoff_usec = 0;
        /* The table is whole now: tell the user (readiness waits for this). */
        if (inf->on_change)
                inf->on_change(inf, NULL, NULL, inf->userdata);
        return 0;
}

static void on_list(const struct kube_status *st, struct json_object *body, void *userdata)
{
        struct kube_informer *inf = userdata;
        char line[600];

        inf->list = NULL;
        if (!kube_status_ok(st) || !body) {
                kube_status_format(st, line, sizeof(line));
                fail(inf, STEP_LIST, "LIST failed: %s", line);
                return;
        }
        if (kube_informer_apply_list(inf, body) < 0) {
                fail(inf, STEP_LIST, "%s", inf->last_error);
                return;
        }
        start_watch(inf);
}

/* path with extra query arguments ("a=b&c=d"; NULL: none). */
static char *make_path(const struct kube_informer *inf, const char *extra)
{
        char *p = NULL;
        if (!extra || !*extra)
                return strdup(inf->path);
        if (asprintf(&p, "%s%c%s", inf->path, strchr(inf->path, '?') ? '&' : '?', extra) < 0)
                return NULL;
        return p;
}

static void start_list(struct kube_informer *inf)
{
        _cleanup_free_ char *path = make_path(inf, NULL);
        if (!path) {
                fail(inf, STEP_LIST, "out of memory");
                return;
        }
        int r = kube_client_send(inf->c, "GET", path, NULL, NULL, on_list, inf, &inf->list);
        if (r < 0)
                fail(inf, STEP_LIST, "LIST not started: %s", strerror(-r));
}

/* ---------- WATCH ---------- */

/* A Status in an ERROR event, or a 410 answer: the resourceVersion is too old. */
static bool is_expired(int code, const char *reason)
{
        return code == 410 || (reason && (streq(reason, "Expired") || streq(reason, "Gone")));
}

int kube_informer_apply_frame(struct kube_informer *inf, const char *line, size_t len)
{
        const struct kube_informer_type *t = inf->type;
        _cleanup_json_ struct json_object *ev = NULL;
        struct json_object *obj = NULL, *meta = NULL;
        const char *type = NULL, *rv = NULL, *key = NULL;
        struct api_error err = {};

        if (inf->relist || inf->had_error)
                return inf->relist; /* the stream is ending; nothing after that counts */
        if (api_parse(line, len, &ev, &err) < 0 ||
            api_get_string(ev, "event", "type", true, false, &type, &err) < 0 ||
            api_get_object(ev, "event", "object", true, false, &obj, &err) < 0) {
                inf->stats.errors++;
                note_error(inf, "watch event refused: %s: %s", err.field, err.message);
                return 0;
        }
        if (streq(type, "ERROR")) {
                struct kube_status st;
                const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
                kube_status_from_reply(0, text, strlen(text), NULL, &st);
                int64_t code = 0;
                (void)api_get_i64(obj, "event.object", "code", false, 0, 999, &code, &err);
                if (is_expired((int)code, st.reason)) {
                        inf->relist = true;
                        note_error(inf, "watch expired: %s", st.message);
                        return 1;
                }
                inf->had_error = true;
                note_error(inf, "watch error %d %s: %s", (int)code, st.reason, st.message);
                return 0;
        }
        if (api_get_object(obj, "event.object", "metadata", true, false, &meta, &err) < 0 ||
            api_get_string(meta, "event.object.metadata", "resourceVersion", false, false, &rv,
                           &err) < 0) {
                inf->stats.errors++;
                note_error(inf, "watch event refused: %s: %s", err.field, err.message);
                return 0;
        }
        if (streq(type, "BOOKMARK")) {
                inf->stats.bookmarks++;
        } else if (streq(type, "ADDED") || streq(type, "MODIFIED")) {
                _cleanup_free_ void *o = calloc(1, t->object_size);
                if (!o)
                        return -ENOMEM;
                if (t->decode(obj, "event.object", o, &err) < 0) {
                        inf->stats.errors++;
                        note_error(inf, "%s skipped: %s: %s", t->noun, err.field, err.message);
                } else if (table_put(inf, o) < 0)
                        return -ENOMEM;
        } else if (streq(type, "DELETED")) {
                if (api_get_string(meta, "event.object.metadata", t->key_field, false, false, &key,
                                   &err) > 0) {
                        ssize_t i = find_index(inf, key);
                        if (i >= 0)
                                table_remove_at(inf, (size_t)i);
                }
        } else {
                inf->stats.errors++;
                note_error(inf, "unknown watch event type %.32s", type);
                return 0;
        }
        inf->stats.events++;
        inf->stats.synced_usec = now_usec(CLOCK_MONOTONIC);
        return set_rv(inf, rv);
}

static int on_frame(const char *line, size_t len, void *userdata)
{
        int r = kube_informer_apply_frame(userdata, line, len);
        return r < 0 ? r : 0;
}

static int on_watch_data(const char *data, size_t n, void *userdata)
{
        struct kube_informer *inf = userdata;
        return kube_frames_feed(&inf->frames, data, n, on_frame, inf);
}

static void on_watch_end(const struct kube_status *st, struct json_object *body, void *userdata)
{
        struct kube_informer *inf = userdata;
        char line[600];
        (void)body;

        inf->stream = NULL;
        bool cut = kube_frames_pending(&inf->frames) > 0;
        kube_frames_reset(&inf->frames);
        if (inf->relist || is_expired(st->http_code, st->reason)) {
                inf->relist = false;
                inf->had_error = false;
                inf->stats.relists++;
                log_info("Kubernetes %s: resourceVersion %s expired; listing again", inf->what,
                         inf->rv ? inf->rv : "");
                start_list(inf);
                return;
        }
        if (inf->had_error) {
                inf->had_error = false;
                fail(inf, STEP_WATCH, "%s", inf->last_error);
                return;
        }
        if (!kube_status_ok(st) || st->transport_errno) {
                kube_status_format(st, line, sizeof(line));
                fail(inf, STEP_WATCH, "WATCH failed: %s", line);
                return;
        }
        if (cut) {
                fail(inf, STEP_WATCH, "WATCH ended inside an event");
                return;
        }
        /* A watch the server ends at once with nothing in it (a proxy cutting streams, a server
         * refusing watches without saying so) must not become a tight loop: as client-go's
         * reflector does for "very short watches", wait the backoff. */
        if (inf->stats.events == inf->watch_start_events &&
            now_usec(CLOCK_MONOTONIC) - inf->watch_start_usec < KUBE_WATCH_SHORT_USEC) {
                fail(inf, STEP_WATCH, "WATCH ended at once with no event");
                return;
        }
        /* The server's timeoutSeconds ran out: carry on from where we are. */
        inf->backoff_usec = 0;
        start_watch(inf);
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

static void start_watch(struct kube_informer *inf)
{
        char extra[3 * KUBE_RV_MAX + 128], rv[3 * KUBE_RV_MAX + 1];
        /* Spread reconnections over [5, 10) minutes, as client-go's reflector does. */
        unsigned timeout_sec =
            KUBE_WATCH_TIMEOUT_MIN_SEC +
            (unsigned)(random_next(&inf->rand_state) % KUBE_WATCH_TIMEOUT_MIN_SEC);
        escape_rv(inf->rv ? inf->rv : "", rv, sizeof(rv));
        snprintf(extra, sizeof(extra),
                 "watch=true&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%u", rv,
                 timeout_sec);
        _cleanup_free_ char *path = make_path(inf, extra);
        if (!path) {
                fail(inf, STEP_WATCH, "out of memory");
                return;
        }
        /* The server ends the stream at timeoutSeconds; a minute more is ours, for a server
         * that went silent. */
        int r = kube_client_stream(inf->c, path, (long)(timeout_sec + 60) * 1000, on_watch_data,
                                   on_watch_end, inf, &inf->stream);
        if (r < 0) {
                fail(inf, STEP_WATCH, "WATCH not started: %s", strerror(-r));
                return;
        }
        inf->stats.watches++;
        inf->watch_start_usec = now_usec(CLOCK_MONOTONIC);
        inf->watch_start_events = inf->stats.events;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct kube_informer *inf = userdata;
        (void)s;
        (void)usec;
        if (inf->next == STEP_WATCH && inf->rv)
                start_watch(inf);
        else
                start_list(inf);
        return 0;
}

/* ---------- public ---------- */

int kube_informer_new_offline(const struct kube_informer_type *type, const char *what,
                              kube_informer_change_fn on_change, void *userdata,
                              struct kube_informer **ret)
{
        if (!type || !type->decode || !type->object_size || type->key_offset >= type->object_size ||
            !what)
                return -EINVAL;
        struct kube_informer *inf = calloc(1, sizeof(*inf));
        if (!inf)
                return -ENOMEM;
        inf->type = type;
        inf->on_change = on_change;
        inf->userdata = userdata;
        inf->what = strdup(what);
        inf->rand_state = random_seed();
        if (!inf->what) {
                kube_informer_free(inf);
                return -ENOMEM;
        }
        *ret = inf;
        return 0;
}

int kube_informer_start(struct kube_client *c, const struct kube_informer_type *type,
                        const char *path, const char *what, kube_informer_change_fn on_change,
                        void *userdata, struct kube_informer **ret)
{
        struct kube_informer *inf;
        if (!c || !path || path[0] != '/')
                return -EINVAL;
        int r = kube_informer_new_offline(type, what, on_change, userdata, &inf);
        if (r < 0)
                return r;
        inf->c = c;
        inf->path = strdup(path);
        if (!inf->path) {
                kube_informer_free(inf);
                return -ENOMEM;
        }
        r = sd_event_add_time(kube_client_get_event(c), &inf->timer, CLOCK_MONOTONIC, 0, 1000,
                              on_timer, inf);
        if (r < 0) {
                kube_informer_free(inf);
                return r;
        }
        (void)sd_event_source_set_description(inf->timer, "kube-informer");
        /* Start from the loop, never from the caller's stack. */
        schedule(inf, STEP_LIST, 0);
        *ret = inf;
        return 0;
}

struct kube_informer *kube_informer_free(struct kube_informer *inf)
{
        if (!inf)
                return NULL;
        /* Both hold inf as their userdata: the client must not call them back. */
        kube_request_cancel(inf->stream);
        kube_request_cancel(inf->list);
        inf->timer = sd_event_source_disable_unref(inf->timer);
        for (size_t i = 0; i < inf->n_objs; i++)
                free(inf->objs[i]);
        free(inf->objs);
        kube_frames_done(&inf->frames);
        free(inf->rv);
        free(inf->path);
        free(inf->what);
        free(inf);
        return NULL;
}

bool kube_informer_synced(const struct kube_informer *inf)
{
        return inf && inf->synced;
}

const void *kube_informer_find(const struct kube_informer *inf, const char *key)
{
        ssize_t i = inf && key ? find_index(inf, key) : -1;
        return i >= 0 ? inf->objs[i] : NULL;
}

size_t kube_informer_count(const struct kube_informer *inf)
{
        return inf ? inf->n_objs : 0;
}

const void *kube_informer_get(const struct kube_informer *inf, size_t i)
{
        return inf && i < inf->n_objs ? inf->objs[i] : NULL;
}

const char *kube_informer_resource_version(const struct kube_informer *inf)
{
        return inf && inf->rv ? inf->rv : "";
}

void kube_informer_get_stats(const struct kube_informer *inf, struct kube_informer_stats *ret)
{
        *ret = inf->stats;
}

const char *kube_informer_last_error(const struct kube_informer *inf)
{
        return inf->last_error;
}
