// SPDX-License-Identifier: Apache-2.0
// Drives the Kubernetes client (api/kube/) on a real sd-event loop for the contract tests, which
// run it against a test API server (tests/kube-apiserver), not a live cluster.
//   kube-client-probe KUBECONFIG watch NODE STATE_FILE SECONDS
//       lists and watches NODE's pods; writes {"synced","resource_version","pods":[...],
//       "stats":{...},"client":{...},"last_error"} to STATE_FILE (atomically) every 100 ms
//       until SECONDS pass or SIGTERM.
//   kube-client-probe KUBECONFIG evict NS NAME UID GRACE
//   kube-client-probe KUBECONFIG event NS NAME UID ACTION REASON NOTE
//   kube-client-probe KUBECONFIG resize NS NAME CONTAINER BYTES
//   kube-client-probe KUBECONFIG get PATH
//       one request; prints the kube_status (and the 2xx body's metadata.name) as JSON.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "api/kube/client.h"
#include "api/kube/pod-watch.h"
#include "common/clock.h"

static int exit_code = 1;
static struct kube_client *client;

/* {"GET":[none,1xx,2xx,3xx,4xx,5xx],...}: the client's answers by verb and class. */
static struct json_object *verb_counts(void)
{
        struct kube_client_stats cs;
        struct json_object *o = json_object_new_object();
        kube_client_get_stats(client, &cs);
        for (int v = 0; v < _KUBE_VERB_MAX; v++) {
                struct json_object *a = json_object_new_array();
                for (int k = 0; k < 6; k++)
                        json_object_array_add(a, json_object_new_uint64(cs.by_verb_class[v][k]));
                api_add(o, kube_verb_name((enum kube_verb)v), a);
        }
        return o;
}

static struct json_object *status_json(const struct kube_status *st)
{
        struct json_object *o = json_object_new_object();
        char line[1024];
        kube_status_format(st, line, sizeof(line));
        api_add(o, "http_code", json_object_new_int(st->http_code));
        api_add(o, "transport_errno", json_object_new_int(st->transport_errno));
        api_add(o, "reason", json_object_new_string(st->reason));
        api_add(o, "message", json_object_new_string(st->message));
        api_add(o, "cause_reason", json_object_new_string(st->cause_reason));
        api_add(o, "cause_message", json_object_new_string(st->cause_message));
        api_add(o, "retry_after_sec", json_object_new_uint64(st->retry_after_sec));
        api_add(o, "ok", json_object_new_boolean(kube_status_ok(st)));
        api_add(o, "line", json_object_new_string(line));
        return o;
}

static void on_one(const struct kube_status *st, struct json_object *body, void *userdata)
{
        sd_event *e = userdata;
        struct json_object *o = status_json(st), *meta = NULL, *name = NULL;
        if (body && json_object_object_get_ex(body, "metadata", &meta) &&
            json_object_object_get_ex(meta, "name", &name))
                api_add(o, "name", json_object_get(name));
        if (body)
                api_add(o, "body", json_object_get(body));
        api_add(o, "by_verb", verb_counts());
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        exit_code = 0;
        sd_event_exit(e, 0);
}

static const char *resize_name(enum k8s_resize_state s)
{
        static const char *const n[] = { "", "Deferred", "Infeasible", "InProgress" };
        return (unsigned)s < 4 ? n[s] : "?";
}

struct watch_ctx {
        struct kube_client *c;
        struct kube_pod_watch *w;
        const char *state_file;
        uint64_t changes;
        uint64_t lists_done;
};

static void on_change(struct kube_pod_watch *w, const struct k8s_pod_meta *old,
                      const struct k8s_pod_meta *new_, void *userdata)
{
        struct watch_ctx *x = userdata;
        (void)w;
        if (old || new_) /* both NULL: a LIST completed, not a change */
                x->changes++;
        else
                x->lists_done++;
}

static void write_state(struct watch_ctx *x)
{
        struct json_object *o = json_object_new_object(), *pods = json_object_new_array(),
                           *stats = json_object_new_object(), *cl = json_object_new_object();
        struct kube_pod_watch_stats s;
        struct kube_client_stats cs;
        kube_pod_watch_get_stats(x->w, &s);
        kube_client_get_stats(x->c, &cs);
        for (size_t i = 0; i < kube_pod_watch_count(x->w); i++) {
                const struct k8s_pod_meta *m = kube_pod_watch_get(x->w, i);
                struct json_object *p = json_object_new_object();
                struct json_object *ctrs = json_object_new_array();
                api_add(p, "uid", json_object_new_string(m->uid));
                api_add(p, "namespace", json_object_new_string(m->namespace_));
                api_add(p, "name", json_object_new_string(m->name));
                api_add(p, "priority", json_object_new_int(m->priority));
                api_add(p, "owner_kind", json_object_new_string(m->owner_kind));
                api_add(p, "node_critical", json_object_new_boolean(m->node_critical));
                api_add(p, "resize", json_object_new_string(resize_name(m->resize)));
                for (size_t j = 0; j < m->n_containers; j++) {
                        struct json_object *c = json_object_new_object();
                        api_add(c, "name", json_object_new_string(m->containers[j].name));
                        api_add(c, "limit_bytes",
                                api_new_bytes_or_null(m->containers[j].limit_bytes));
                        json_object_array_add(ctrs, c);
                }
                api_add(p, "containers", ctrs);
                json_object_array_add(pods, p);
        }
        api_add(stats, "lists", json_object_new_uint64(s.lists));
        api_add(stats, "watches", json_object_new_uint64(s.watches));
        api_add(stats, "relists", json_object_new_uint64(s.relists));
        api_add(stats, "events", json_object_new_uint64(s.events));
        api_add(stats, "bookmarks", json_object_new_uint64(s.bookmarks));
        api_add(stats, "errors", json_object_new_uint64(s.errors));
        api_add(cl, "requests", json_object_new_uint64(cs.requests));
        api_add(cl, "unauthorized", json_object_new_uint64(cs.unauthorized));
        api_add(cl, "token_reads", json_object_new_uint64(cs.token_reads));
        api_add(cl, "transport_errors", json_object_new_uint64(cs.transport_errors));
        api_add(cl, "by_verb", verb_counts());
        api_add(o, "synced", json_object_new_boolean(kube_pod_watch_synced(x->w)));
        api_add(o, "resource_version",
                json_object_new_string(kube_pod_watch_resource_version(x->w)));
        api_add(o, "changes", json_object_new_uint64(x->changes));
        api_add(o, "last_error", json_object_new_string(kube_pod_watch_last_error(x->w)));
        api_add(o, "stats", stats);
        api_add(o, "client", cl);
        api_add(o, "pods", pods);
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", x->state_file);
        FILE *f = fopen(tmp, "w");
        if (f) {
                fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), f);
                fputc('\n', f);
                if (fclose(f) == 0)
                        rename(tmp, x->state_file);
        }
        json_object_put(o);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        write_state(userdata);
        (void)sd_event_source_set_time(s, usec + 100000);
        (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        (void)userdata;
        exit_code = 0;
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int usage(void)
{
        fprintf(stderr, "usage: kube-client-probe KUBECONFIG watch NODE STATE_FILE SECONDS | "
                        "evict NS NAME UID GRACE | event NS NAME UID ACTION REASON NOTE | resize "
                        "NS NAME CONTAINER BYTES | get PATH\n");
        return 2;
}

int main(int argc, char **argv)
{
        struct kube_config cfg = {};
        struct kube_client *c = NULL;
        sd_event *e = NULL;
        char err[KUBE_CONFIG_ERR_MAX];
        int r;

        if (argc < 3)
                return usage();
        const char *cmd = argv[2];
        r = kube_config_load_kubeconfig(argv[1], &cfg, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "kube-client-probe: %s\n", err);
                return 1;
        }
        if (sd_event_default(&e) < 0 || kube_client_new(e, &cfg, &c) < 0) {
                fprintf(stderr, "kube-client-probe: setup failed\n");
                return 1;
        }
        client = c;
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        (void)sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL);
        (void)sd_event_add_signal(e, NULL, SIGINT, NULL, NULL);

        struct watch_ctx x = { .c = c };
        if (streq(cmd, "watch") && argc == 6) {
                x.state_file = argv[4];
                r = kube_pod_watch_start(c, argv[3], on_change, &x, &x.w);
                if (r >= 0)
                        r = sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 100000, 1000,
                                                       on_tick, &x);
                if (r >= 0)
                        r = sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC,
                                                       strtoull(argv[5], NULL, 10) * 1000000, 1000,
                                                       on_deadline, NULL);
                exit_code = 0; /* SIGTERM ends a watch normally */
        } else if (streq(cmd, "evict") && argc == 7)
                r = kube_evict(c, argv[3], argv[4], argv[5], strtoll(argv[6], NULL, 10), on_one, e);
        else if (streq(cmd, "event") && argc == 9) {
                struct kube_event ev = { .namespace_ = argv[3],
                                         .pod_name = argv[4],
                                         .pod_uid = argv[5],
                                         .reporting_instance = "memagentd-probe",
                                         .action = argv[6],
                                         .reason = argv[7],
                                         .note = argv[8],
                                         .warning = true };
                r = kube_post_event(c, &ev, on_one, e);
        } else if (streq(cmd, "resize") && argc == 7)
                r = kube_resize_memory(c, argv[3], argv[4], argv[5], strtoull(argv[6], NULL, 10),
                                       on_one, e);
        else if (streq(cmd, "get") && argc == 4)
                r = kube_client_request(c, "GET", argv[3], NULL, NULL, on_one, e);
        else
                return usage();
        if (r < 0) {
                fprintf(stderr, "kube-client-probe: %s: %s\n", cmd, strerror(-r));
                return 1;
        }
        r = sd_event_loop(e);
        if (x.w)
                write_state(&x);
        kube_pod_watch_free(x.w);
        kube_client_free(c);
        kube_config_done(&cfg);
        sd_event_unref(e);
        return r < 0 ? 1 : exit_code;
}
