// SPDX-License-Identifier: Apache-2.0
// The Kubernetes API side: authentication, scripted failures, the pod LIST/WATCH/GET, the
// eviction and binding subresources, events.k8s.io/v1 Events, the pods/resize subresource, and
// the records of every request. Bodies and codes follow kube-apiserver (see status.h).
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/quantity.h"
#include "http.h"
#include "kjson.h"
#include "server.h"
#include "status.h"

#define TOKEN_MAX_BYTES 16384

/* ---------- records ---------- */

static void record_body(struct state *st, uint64_t seq, const char *kind, const struct request *rq)
{
        if (!st->record_dir || rq->len == 0)
                return;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%04" PRIu64 "-%s.json", st->record_dir, seq, kind);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                fprintf(stderr, "kube-test-apiserver: cannot record %s: %m\n", path);
                return;
        }
        size_t off = 0;
        while (off < rq->len) {
                ssize_t n = write(fd, rq->body + off, rq->len - off);
                if (n <= 0)
                        break;
                off += (size_t)n;
        }
        close(fd);
}

static void record_request(struct state *st, const char *method, const struct request *rq)
{
        if (!st->requests_log)
                return;
        fprintf(st->requests_log, "%s %s %u\n", method, rq->uri, rq->code);
        fflush(st->requests_log);
}

/* ---------- authentication ---------- */

static void trim(char *s)
{
        size_t n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = '\0';
        size_t i = 0;
        while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
                i++;
        memmove(s, s + i, n - i + 1);
}

/* Re-read on every request: the tests rotate the token by rewriting the file. */
static bool authenticated(struct state *st, struct MHD_Connection *conn)
{
        const char *h = header_value(conn, MHD_HTTP_HEADER_AUTHORIZATION);
        /* The bearer token authenticator takes the scheme in any case, and trims the token. */
        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return false;
        char token[TOKEN_MAX_BYTES];
        FILE *f = fopen(st->token_path, "re");
        if (!f)
                return false;
        size_t n = fread(token, 1, sizeof(token) - 1, f);
        fclose(f);
        token[n] = '\0';
        trim(token);
        char given[TOKEN_MAX_BYTES];
        snprintf(given, sizeof(given), "%s", h + 7);
        trim(given);
        return token[0] && strcmp(token, given) == 0;
}

/* ---------- scripted failures (/control/fail-next) ---------- */

static struct json_object *scripted_failure(struct state *st, const char *uri,
                                            uint32_t *ret_retry_after)
{
        for (size_t i = 0; i < st->n_fails; i++) {
                struct fail_rule *f = &st->fails[i];
                if (strncmp(uri, f->path_prefix, strlen(f->path_prefix)) != 0)
                        continue;
                int code = f->code;
                *ret_retry_after = f->retry_after_sec;
                if (!f->always && --f->times_left == 0) {
                        memmove(f, f + 1, (st->n_fails - i - 1) * sizeof(*f));
                        st->n_fails--;
                }
                switch (code) {
                case 410:
                        return status_gone("too old resource version");
                case 429:
                        return status_too_many_requests(
                            "Too many requests, please try again later.", *ret_retry_after);
                case 503:
                        return status_service_unavailable(
                            "the server is currently unable to handle the request");
                case 500:
                        return status_internal_error("test API server: scripted failure");
                default:
                        return status_generic(code);
                }
        }
        return NULL;
}

/* ---------- LIST and WATCH ---------- */

/* fieldSelector: spec.nodeName (pods only), metadata.namespace and metadata.name, '=' or '==';
 * anything else is refused as kube-apiserver refuses an unknown field label. */
static struct json_object *parse_field_selector(enum kt_resource res, const char *sel, char *node,
                                                size_t node_size, char *name, size_t name_size)
{
        node[0] = name[0] = '\0';
        if (!sel || !*sel)
                return NULL;
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", sel);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(t, '=');
                if (!eq || (eq > t && eq[-1] == '!')) {
                        char msg[1200];
                        snprintf(msg, sizeof(msg), "invalid field selector: %s", t);
                        return status_bad_request(msg);
                }
                *eq = '\0';
                const char *v = eq[1] == '=' ? eq + 2 : eq + 1;
                if (res == KT_POD && strcmp(t, "spec.nodeName") == 0)
                        snprintf(node, node_size, "%s", v);
                else if (strcmp(t, "metadata.name") == 0)
                        snprintf(name, name_size, "%s", v);
                else if (strcmp(t, "metadata.namespace") != 0) {
                        char msg[1200];
                        snprintf(msg, sizeof(msg),
                                 "Unable to find \"/v1, Resource=%s\" that match label "
                                 "selector \"\", field selector \"%s\": field label not "
                                 "supported: %s",
                                 res == KT_NODE ? "nodes" : "pods", sel, t);
                        return status_bad_request(msg);
                }
        }
        return NULL;
}

static bool parse_rv(const char *s, uint64_t *ret)
{
        if (!s || !*s) {
                *ret = 0;
                return true;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end || s[0] == '-')
                return false;
        *ret = v;
        return true;
}

static ssize_t watch_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
        (void)pos;
        return watch_read(cls, buf, max);
}

static void watch_release(void *cls)
{
        watch_free(cls);
}

static enum MHD_Result pods_watch(struct state *st, struct MHD_Connection *conn, struct request *rq,
                                  enum kt_resource res, const char *ns, const char *node)
{
        uint64_t rv;
        const char *rvs = query_arg(conn, "resourceVersion");
        if (!parse_rv(rvs, &rv)) {
                char msg[512];
                snprintf(msg, sizeof(msg), "invalid resource version: %s", rvs);
                return respond_status(conn, rq, status_bad_request(msg));
        }
        if (rv > st->rv) {
                /* storage.NewTooLargeResourceVersionError, after the watch cache waited in
                 * vain for that version (it waits 3 s; nothing would come here). */
                char msg[160];
                snprintf(msg, sizeof(msg),
                         "Timeout: Too large resource version: %" PRIu64 ", current: %" PRIu64, rv,
                         st->rv);
                struct json_object *d = status_details(NULL, NULL, NULL);
                if (d && (status_details_add_cause(d, "ResourceVersionTooLarge",
                                                   "Too large resource version", NULL) < 0 ||
                          status_details_set_retry_after(d, 1) < 0)) {
                        json_object_put(d);
                        d = NULL;
                }
                return respond_status(conn, rq, d ? status_failure(504, "Timeout", msg, d) : NULL);
        }
        const char *b = query_arg(conn, "allowWatchBookmarks");
        bool bookmarks = b && (strcmp(b, "true") == 0 || strcmp(b, "1") == 0);
        const char *to = query_arg(conn, "timeoutSeconds");
        uint32_t timeout_sec = to ? (uint32_t)strtoul(to, NULL, 10) : 0;
        struct watch *w = watch_new(st, res, node, ns, rv, bookmarks, timeout_sec);
        if (!w)
                return respond_status(
                    conn, rq,
                    status_too_many_requests("Too many requests, please try again later.", 1));
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci)
                w->fd = ci->connect_fd;
        /* The reader runs after this handler returned (and the lock was released). */
        struct MHD_Response *resp = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, 64 * 1024, watch_reader, w, watch_release);
        if (!resp) {
                watch_free_locked(w);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        enum MHD_Result r = MHD_queue_response(conn, 200, resp);
        MHD_destroy_response(resp);
        rq->code = 200;
        return r;
}

static int by_key(const void *a, const void *b)
{
        const struct pod_entry *x = *(struct pod_entry *const *)a,
                               *y = *(struct pod_entry *const *)b;
        int c = strcmp(x->namespace_, y->namespace_);
        return c ? c : strcmp(x->name, y->name);
}

/* The continue token: opaque to clients (kube-apiserver's is base64 JSON holding the list's
 * resourceVersion and the next key). Ours holds the list's resourceVersion and the index of the
 * next item in key order; pages are cut from the pods as they are now, not from a snapshot. */
static bool parse_continue(const char *token, uint64_t *ret_rv, size_t *ret_index)
{
        unsigned long long rv, index;
        int used = 0;
        if (sscanf(token, "kt1-%llu-%llu%n", &rv, &index, &used) != 2 || token[used])
                return false;
        *ret_rv = rv;
        *ret_index = (size_t)index;
        return true;
}

/* LIST (or WATCH) of pods, or of nodes (res): the same storage, the same semantics. */
static enum MHD_Result pods_list(struct state *st, struct MHD_Connection *conn, struct request *rq,
                                 enum kt_resource res, const char *ns)
{
        char node[KT_NAME_MAX], name[KT_NAME_MAX];
        struct json_object *bad = parse_field_selector(res, query_arg(conn, "fieldSelector"), node,
                                                       sizeof(node), name, sizeof(name));
        if (bad)
                return respond_status(conn, rq, bad);
        const char *watch = query_arg(conn, "watch");
        if (watch && (strcmp(watch, "true") == 0 || strcmp(watch, "1") == 0))
                return pods_watch(st, conn, rq, res, ns, node);

        const char *limit_s = query_arg(conn, "limit"), *cont = query_arg(conn, "continue");
        size_t limit = limit_s ? (size_t)strtoull(limit_s, NULL, 10) : 0; /* 0: all */
        uint64_t list_rv = st->rv;
        size_t start = 0;
        if (cont && *cont) {
                if (!parse_continue(cont, &list_rv, &start))
                        return respond_status(
                            conn, rq,
                            status_bad_request("continue key is not valid: illegal base64 data"));
                if (list_rv < st->compact_rv)
                        return respond_status(
                            conn, rq,
                            status_expired("The provided continue parameter is too old to display "
                                           "a consistent list result. You can start a new list "
                                           "without the continue parameter, or use the continue "
                                           "token in this response to retrieve the remainder of "
                                           "the results. Continuing with the provided token "
                                           "results in an inconsistent list - objects that were "
                                           "created, modified, or deleted between the time the "
                                           "first chunk was returned and now may show up in the "
                                           "list."));
        }

        /* Items in key order (namespace, name), as etcd returns them. */
        struct pod_entry **sel = malloc((st->n_pods + 1) * sizeof(*sel));
        struct json_object *list = json_object_new_object();
        struct json_object *meta = json_object_new_object();
        struct json_object *items = json_object_new_array();
        char rv[24];
        snprintf(rv, sizeof(rv), "%" PRIu64, list_rv);
        if (!sel || !list || !meta || !items ||
            kjson_set_string(list, "kind", res == KT_NODE ? "NodeList" : "PodList") < 0 ||
            kjson_set_string(list, "apiVersion", "v1") < 0 ||
            kjson_set_string(meta, "resourceVersion", rv) < 0 ||
            json_object_object_add(list, "metadata", meta) < 0) {
                free(sel);
                json_object_put(list);
                json_object_put(meta);
                json_object_put(items);
                return respond_text(conn, rq, 500, "out of memory\n", 0);
        }
        size_t n = 0;
        for (size_t i = 0; i < st->n_pods; i++) {
                struct pod_entry *e = &st->pods[i];
                if (e->res != res || (ns && strcmp(ns, e->namespace_) != 0) ||
                    (node[0] && strcmp(node, e->node)) || (name[0] && strcmp(name, e->name)))
                        continue;
                sel[n++] = e;
        }
        qsort(sel, n, sizeof(*sel), by_key);
        size_t end = limit && start + limit < n ? start + limit : n;
        for (size_t i = start; i < end; i++)
                /* LIST items carry no kind/apiVersion: the list's says it. */
                json_object_array_add(items, json_object_get(sel[i]->pod));
        free(sel);
        if (end < n) {
                char token[64];
                snprintf(token, sizeof(token), "kt1-%" PRIu64 "-%zu", list_rv, end);
                kjson_set_string(meta, "continue", token);
                /* remainingItemCount is left out when a selector filtered the list. */
                if (!node[0] && !name[0])
                        json_object_object_add(meta, "remainingItemCount",
                                               json_object_new_int64((int64_t)(n - end)));
        }
        json_object_object_add(list, "items", items);
        return respond_json(conn, rq, 200, list, 0);
}

/* ---------- eviction ---------- */

static struct evict_script *find_script(struct state *st, const char *ns, const char *name)
{
        for (size_t i = 0; i < st->n_scripts; i++)
                if (strcmp(st->scripts[i].namespace_, ns) == 0 &&
                    strcmp(st->scripts[i].name, name) == 0)
                        return &st->scripts[i];
        return NULL;
}

/* What the JSON decoder says about a body that is not JSON; kube-apiserver's text comes from
 * Go's encoding/json, ours from json-c, behind the same prefix (transformDecodeError). */
static struct json_object *decode_error(const struct request *rq, const char *why)
{
        char summary[64], msg[512];
        if (rq->len == 0)
                snprintf(summary, sizeof(summary), "<empty>");
        else if (rq->len > 30)
                snprintf(summary, sizeof(summary), "%.30s ...", rq->body);
        else
                snprintf(summary, sizeof(summary), "%s", rq->body);
        snprintf(msg, sizeof(msg),
                 "the object provided is unrecognized (%s): couldn't get version/kind; json "
                 "parse error: %s",
                 summary, why);
        return status_bad_request(msg);
}

static struct json_object *parse_body(const struct request *rq, struct json_object **ret)
{
        *ret = NULL;
        if (!rq->body || rq->len == 0)
                return decode_error(rq, "unexpected end of JSON input");
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return status_internal_error("out of memory");
        struct json_object *o = json_tokener_parse_ex(tok, rq->body, (int)rq->len);
        enum json_tokener_error err = json_tokener_get_error(tok);
        size_t used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!o || err != json_tokener_success || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                /* Input that stops inside a value: Go's words for it. */
                const char *why = err == json_tokener_success    ? "not a JSON object"
                                  : err == json_tokener_continue ? "unexpected end of JSON input"
                                                                 : json_tokener_error_desc(err);
                return decode_error(rq, why);
        }
        for (; used < rq->len; used++)
                if (rq->body[used] != ' ' && rq->body[used] != '\n' && rq->body[used] != '\r' &&
                    rq->body[used] != '\t') {
                        json_object_put(o);
                        return decode_error(rq, "invalid character after top-level value");
                }
        *ret = o;
        return NULL;
}

/* A create's body is decoded by its Content-Type; none means JSON (NegotiateInputSerializer).
 * Any other type than JSON is refused here, where kube-apiserver also takes YAML and
 * protobuf. */
static struct json_object *check_content_type(struct MHD_Connection *conn)
{
        const char *ct = header_value(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!ct || !*ct ||
            (strncmp(ct, "application/json", 16) == 0 && (ct[16] == '\0' || ct[16] == ';')))
                return NULL;
        return status_failure(415, "UnsupportedMediaType",
                              "the body of the request was in an unknown format - accepted media "
                              "types include: application/json, application/yaml, "
                              "application/vnd.kubernetes.protobuf",
                              NULL);
}

/* A create's JSON body, after its Content-Type: NULL and *ret, or the Status to answer. */
static struct json_object *create_body(struct MHD_Connection *conn, const struct request *rq,
                                       struct json_object **ret)
{
        struct json_object *bad = check_content_type(conn);
        *ret = NULL;
        return bad ? bad : parse_body(rq, ret);
}

static struct json_object *pdb_refusal(const struct evict_script *s, bool retry)
{
        struct json_object *st = status_too_many_requests(
            "Cannot evict pod as it would violate the pod's disruption budget.",
            retry ? s->retry_after_sec : 0);
        if (!st)
                return NULL;
        char msg[512];
        const char *pdb = s->pdb[0] ? s->pdb : "test-pdb";
        if (retry)
                snprintf(msg, sizeof(msg),
                         "The disruption budget %s is still being processed by the server.", pdb);
        else
                snprintf(msg, sizeof(msg),
                         "The disruption budget %s needs %d healthy pods and has %d currently", pdb,
                         s->desired_healthy, s->current_healthy);
        struct json_object *d;
        json_object_object_get_ex(st, "details", &d);
        if (status_details_add_cause(d, "DisruptionBudget", msg, NULL) < 0) {
                json_object_put(st);
                return NULL;
        }
        return st;
}

static int64_t grace_period_sec(struct json_object *eviction, struct json_object *pod)
{
        struct json_object *g = kjson_get(eviction, "deleteOptions", "gracePeriodSeconds", NULL);
        if (g && json_object_is_type(g, json_type_int))
                return json_object_get_int64(g);
        g = kjson_get(pod, "spec", "terminationGracePeriodSeconds", NULL);
        if (g && json_object_is_type(g, json_type_int))
                return json_object_get_int64(g);
        return 30;
}

static enum MHD_Result pod_evict(struct state *st, struct MHD_Connection *conn, struct request *rq,
                                 const char *ns, const char *name)
{
        struct json_object *ev, *bad = create_body(conn, rq, &ev);
        if (bad)
                return respond_status(conn, rq, bad);
        const char *ev_name = kjson_get_string(ev, "metadata", "name", NULL);
        if (!ev_name || strcmp(ev_name, name) != 0) {
                json_object_put(ev);
                return respond_status(
                    conn, rq,
                    status_bad_request("name in URL does not match name in Eviction object"));
        }
        struct pod_entry *e = state_find_pod(st, ns, name);
        struct evict_script *s = find_script(st, ns, name);
        struct evict_script script = { .answer = EVICT_OK };
        /* eviction.go's canIgnorePDB: a pod that is Pending, Succeeded, Failed or already
         * terminating is deleted without asking its disruption budget, so a scripted budget
         * refusal does not apply to it (and stays for later). */
        const char *phase = e ? kjson_get_string(e->pod, "status", "phase", NULL) : NULL;
        bool ignore_pdb =
            e && ((phase && (!strcmp(phase, "Pending") || !strcmp(phase, "Succeeded") ||
                             !strcmp(phase, "Failed"))) ||
                  kjson_get_string(e->pod, "metadata", "deletionTimestamp", NULL));
        if (s && ignore_pdb && (s->answer == EVICT_PDB || s->answer == EVICT_RETRY_AFTER))
                s = NULL;
        if (s) {
                script = *s;
                if (!s->always && --s->times_left == 0) {
                        memmove(s, s + 1,
                                (size_t)(st->scripts + st->n_scripts - s - 1) * sizeof(*s));
                        st->n_scripts--;
                }
        }
        struct json_object *answer = NULL;
        if (!e || script.answer == EVICT_NOTFOUND) {
                answer = status_not_found("pods", name);
        } else if (script.answer == EVICT_CONFLICT) {
                answer = status_conflict("pods", name,
                                         "the object has been modified; please apply your "
                                         "changes to the latest version and try again");
        } else if (script.answer == EVICT_ERROR) {
                answer = status_internal_error("test API server: scripted eviction failure");
        } else if (script.answer == EVICT_PDB) {
                answer = pdb_refusal(&script, false);
        } else if (script.answer == EVICT_RETRY_AFTER) {
                answer = pdb_refusal(&script, true);
        } else if (script.answer == EVICT_THROTTLE) {
                /* The max-in-flight and priority-and-fairness filters answer before any
                 * handler, in plain text. */
                json_object_put(ev);
                return respond_text(conn, rq, 429, "Too many requests, please try again later.\n",
                                    script.retry_after_sec);
        }
        if (answer) {
                json_object_put(ev);
                return respond_status(conn, rq, answer);
        }
        const char *want_uid = kjson_get_string(ev, "deleteOptions", "preconditions", "uid");
        const char *uid = kjson_get_string(e->pod, "metadata", "uid", NULL);
        if (want_uid && (!uid || strcmp(want_uid, uid) != 0)) {
                char why[512];
                snprintf(why, sizeof(why),
                         "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                         want_uid, uid ? uid : "");
                json_object_put(ev);
                return respond_status(conn, rq, status_conflict("pods", name, why));
        }
        int64_t grace = grace_period_sec(ev, e->pod);
        json_object_put(ev);
        if (grace <= 0) {
                state_delete_pod(st, e);
        } else if (!kjson_get_string(e->pod, "metadata", "deletionTimestamp", NULL)) {
                /* Graceful: the pod is marked (MODIFIED) and goes when its grace is over. */
                struct json_object *meta = kjson_get(e->pod, "metadata", NULL, NULL);
                char ts[32];
                rfc3339_now(ts, sizeof(ts), grace);
                kjson_set_string(meta, "deletionTimestamp", ts);
                json_object_object_add(meta, "deletionGracePeriodSeconds",
                                       json_object_new_int64(grace));
                e->delete_at_usec = now_usec() + (uint64_t)grace * 1000000u;
                state_modified(st, e);
        }
        return respond_status(conn, rq, status_success(201));
}

/* ---------- pods/binding ---------- */

/* BindingREST.Create (pkg/registry/core/pod/storage/storage.go): the name in the URL is the
 * Binding's; ValidatePodBinding (target.name required, target.kind "" or Node) fails as a plain
 * error, which the handler answers 500 with reason Unknown; then setPodNodeAndMetadata under the
 * Binding's UID precondition: a missing pod is 404, a UID mismatch 409 on pods, and a pod that
 * is being deleted or already has spec.nodeName 409 on pods/binding. 201 Status Success; the pod
 * gets spec.nodeName and the PodScheduled condition (MODIFIED). */
static enum MHD_Result pod_bind(struct state *st, struct MHD_Connection *conn, struct request *rq,
                                const char *ns, const char *name)
{
        struct json_object *b, *bad = create_body(conn, rq, &b);
        if (bad)
                return respond_status(conn, rq, bad);
        const char *b_name = kjson_get_string(b, "metadata", "name", NULL);
        const char *target = kjson_get_string(b, "target", "name", NULL);
        const char *kind = kjson_get_string(b, "target", "kind", NULL);
        const char *want_uid = kjson_get_string(b, "metadata", "uid", NULL);
        struct json_object *answer = NULL;
        char why[1024];
        struct pod_entry *e = NULL;
        if (!b_name || strcmp(b_name, name) != 0)
                answer = status_bad_request("name in URL does not match name in Binding object");
        else if (!target || !*target)
                answer = status_failure(500, "Unknown", "target.name: Required value", NULL);
        else if (kind && *kind && strcmp(kind, "Node") != 0) {
                snprintf(why, sizeof(why),
                         "target.kind: Unsupported value: \"%s\": supported values: \"Node\", "
                         "\"<empty>\"",
                         kind);
                answer = status_failure(500, "Unknown", why, NULL);
        } else if (!(e = state_find_pod(st, ns, name)))
                answer = status_not_found("pods", name);
        if (!answer) {
                const char *uid = kjson_get_string(e->pod, "metadata", "uid", NULL);
                const char *node = kjson_get_string(e->pod, "spec", "nodeName", NULL);
                if (want_uid && *want_uid && (!uid || strcmp(want_uid, uid) != 0)) {
                        snprintf(why, sizeof(why),
                                 "Precondition failed: UID in precondition: %s, UID in object "
                                 "meta: %s",
                                 want_uid, uid ? uid : "");
                        answer = status_conflict("pods", name, why);
                } else if (kjson_get_string(e->pod, "metadata", "deletionTimestamp", NULL)) {
                        snprintf(why, sizeof(why),
                                 "pod %s is being deleted, cannot be assigned to a host", name);
                        answer = status_conflict("pods/binding", name, why);
                } else if (node && *node) {
                        snprintf(why, sizeof(why), "pod %s is already assigned to node \"%s\"",
                                 name, node);
                        answer = status_conflict("pods/binding", name, why);
                }
        }
        if (answer) {
                json_object_put(b);
                return respond_status(conn, rq, answer);
        }
        struct json_object *status = kjson_ensure_object(e->pod, "status");
        struct json_object *conds = NULL, *cond = json_object_new_object();
        if (status && cond) {
                char ts[32];
                rfc3339_now(ts, sizeof(ts), 0);
                kjson_set_string(cond, "type", "PodScheduled");
                kjson_set_string(cond, "status", "True");
                kjson_set_string(cond, "lastTransitionTime", ts);
                if (!json_object_object_get_ex(status, "conditions", &conds) ||
                    !json_object_is_type(conds, json_type_array)) {
                        conds = json_object_new_array();
                        json_object_object_add(status, "conditions", conds);
                }
                if (conds) {
                        /* UpdatePodCondition: replaces a PodScheduled condition already there. */
                        for (size_t i = json_object_array_length(conds); i-- > 0;) {
                                const char *t = kjson_get_string(
                                    json_object_array_get_idx(conds, i), "type", NULL, NULL);
                                if (t && strcmp(t, "PodScheduled") == 0)
                                        json_object_array_del_idx(conds, i, 1);
                        }
                        json_object_array_add(conds, cond);
                        cond = NULL;
                }
        }
        json_object_put(cond);
        int r = state_bind_pod(st, e, target);
        json_object_put(b);
        if (r < 0)
                return respond_text(conn, rq, 500, "out of memory\n", 0);
        return respond_status(conn, rq, status_success(201));
}

/* ---------- events.k8s.io/v1 Event ---------- */

static void generate_name(const char *prefix, char *buf, size_t size)
{
        /* k8s.io/apiserver's names.SimpleNameGenerator: 5 characters of this alphabet. */
        static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
        char uid[37];
        uuid_random(uid);
        char suffix[6];
        for (size_t i = 0; i < 5; i++)
                suffix[i] = alphabet[(unsigned char)uid[i * 3] % (sizeof(alphabet) - 1)];
        suffix[5] = '\0';
        snprintf(buf, size, "%.*s%s", 58, prefix, suffix);
}

/* kube-apiserver's ValidateEventCreate for events.k8s.io/v1 (pkg/apis/core/validation/
 * events.go), the checks an OpenAPI schema cannot make: the reporting fields are required,
 * their lengths bounded, type is Normal or Warning, and the regarding object (involvedObject
 * inside the server) lives in the event's namespace. Fills errs (bodies in text). */
#define EVENT_ERRORS_MAX 8
static size_t validate_event(struct json_object *ev, const char *ns, struct field_error *errs,
                             char text[][192])
{
        size_t n = 0;
#define REQUIRED(f)                                                                                \
        errs[n++] = (struct field_error)                                                           \
        {                                                                                          \
                "FieldValueRequired", f, "Required value"                                          \
        }
#define INVALID(f, ...)                                                                            \
        do {                                                                                       \
                snprintf(text[n], sizeof(text[n]), __VA_ARGS__);                                   \
                errs[n] = (struct field_error){ "FieldValueInvalid", f, text[n] };                 \
                n++;                                                                               \
        } while (0)
        const char *rns = kjson_get_string(ev, "regarding", "namespace", NULL);
        if (rns && *rns ? strcmp(rns, ns) != 0 : strcmp(ns, "default") != 0)
                INVALID("involvedObject.namespace",
                        "Invalid value: \"%s\": does not match event.namespace", rns ? rns : "");
        if (!kjson_get(ev, "eventTime", NULL, NULL))
                REQUIRED("eventTime");
        const char *type = kjson_get_string(ev, "type", NULL, NULL);
        if (!type || (strcmp(type, "Normal") && strcmp(type, "Warning")))
                INVALID("type", "Invalid value: \"\": has invalid value: %s", type ? type : "");
        static const struct {
                const char *field;
                size_t max; /* 0: only required */
        } fields[] = {
                { "reportingController", 0 },
                { "reportingInstance", 128 },
                { "action", 128 },
                { "reason", 128 },
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const char *v = kjson_get_string(ev, fields[i].field, NULL, NULL);
                if (!v || !*v)
                        REQUIRED(fields[i].field);
                else if (fields[i].max && strlen(v) > fields[i].max)
                        INVALID(fields[i].field,
                                "Invalid value: \"\": can have at most %zu characters",
                                fields[i].max);
        }
        const char *note = kjson_get_string(ev, "note", NULL, NULL);
        if (note && strlen(note) > 1024)
                INVALID("note", "Invalid value: \"\": can have at most 1024 characters");
#undef REQUIRED
#undef INVALID
        return n;
}

static enum MHD_Result event_create(struct state *st, struct MHD_Connection *conn,
                                    struct request *rq, const char *ns)
{
        struct json_object *ev, *bad = create_body(conn, rq, &ev);
        if (bad)
                return respond_status(conn, rq, bad);
        struct json_object *meta = kjson_get(ev, "metadata", NULL, NULL);
        const char *name = kjson_get_string(ev, "metadata", "name", NULL);
        const char *gen = kjson_get_string(ev, "metadata", "generateName", NULL);
        const char *body_ns = kjson_get_string(ev, "metadata", "namespace", NULL);
        if (body_ns && *body_ns && strcmp(body_ns, ns) != 0) {
                json_object_put(ev);
                return respond_status(conn, rq,
                                      status_bad_request("the namespace of the provided object "
                                                         "does not match the namespace sent on "
                                                         "the request"));
        }
        if (!meta || ((!name || !*name) && (!gen || !*gen))) {
                json_object_put(ev);
                return respond_status(
                    conn, rq,
                    status_invalid("events.k8s.io", "Event", "", "metadata.name",
                                   "FieldValueRequired",
                                   "Required value: name or generateName is required"));
        }
        char buf[KT_NAME_MAX], uid[37], rv[24], ts[32];
        if (!name || !*name) {
                generate_name(gen, buf, sizeof(buf));
                kjson_set_string(meta, "name", buf);
        }
        kjson_set_string(meta, "namespace", ns);
        struct field_error errs[EVENT_ERRORS_MAX];
        char text[EVENT_ERRORS_MAX][192];
        size_t n_errs = validate_event(ev, ns, errs, text);
        if (n_errs) {
                /* The name is generated before validation, so the message carries it. */
                struct json_object *st_invalid = status_invalid_errors(
                    "events.k8s.io", "Event", kjson_get_string(ev, "metadata", "name", NULL), errs,
                    n_errs);
                json_object_put(ev);
                return respond_status(conn, rq, st_invalid);
        }
        uuid_random(uid);
        kjson_set_string(meta, "uid", uid);
        st->rv++;
        snprintf(rv, sizeof(rv), "%" PRIu64, st->rv);
        kjson_set_string(meta, "resourceVersion", rv);
        rfc3339_now(ts, sizeof(ts), 0);
        kjson_set_string(meta, "creationTimestamp", ts);
        /* Echoed with its type first, as kube-apiserver serialises it. */
        struct json_object *out = json_object_new_object();
        if (out) {
                kjson_set_string(out, "kind", "Event");
                kjson_set_string(out, "apiVersion", "events.k8s.io/v1");
                json_object_object_foreach(ev, key, val)
                {
                        if (strcmp(key, "kind") && strcmp(key, "apiVersion"))
                                json_object_object_add(out, key, json_object_get(val));
                }
        }
        json_object_put(ev);
        return respond_json(conn, rq, 201, out, 0);
}

/* ---------- pods/resize ---------- */

static int merge_resources(struct json_object *dst, struct json_object *patch)
{
        /* Strategic merge of resources: limits and requests are maps, merged key by key; a null
         * value removes the key. */
        json_object_object_foreach(patch, section, vals)
        {
                if (!json_object_is_type(vals, json_type_object))
                        continue;
                struct json_object *d;
                if (!json_object_object_get_ex(dst, section, &d) ||
                    !json_object_is_type(d, json_type_object)) {
                        d = json_object_new_object();
                        if (!d || json_object_object_add(dst, section, d) < 0)
                                return -ENOMEM;
                }
                json_object_object_foreach(vals, res, q)
                {
                        if (!q)
                                json_object_object_del(d, res);
                        else if (json_object_object_add(d, res, json_object_get(q)) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

static struct json_object *find_container(struct json_object *pod, const char *name)
{
        struct json_object *cs = kjson_get(pod, "spec", "containers", NULL);
        size_t n = json_object_is_type(cs, json_type_array) ? json_object_array_length(cs) : 0;
        for (size_t j = 0; name && j < n; j++) {
                struct json_object *c = json_object_array_get_idx(cs, j);
                const char *cn = kjson_get_string(c, "name", NULL, NULL);
                if (cn && strcmp(cn, name) == 0)
                        return c;
        }
        return NULL;
}

/* The quantities of a patched container's resources: text that is no quantity fails decoding
 * the patched Pod (400, resource.Quantity's own message); a negative one fails validation
 * (422). Returns the refusal, or NULL. */
static struct json_object *check_quantities(const char *pod, size_t index,
                                            struct json_object *resources)
{
        static const char *const sections[] = { "limits", "requests" };
        for (size_t s = 0; s < ELEMENTSOF(sections); s++) {
                struct json_object *vals = kjson_get(resources, sections[s], NULL, NULL);
                if (!json_object_is_type(vals, json_type_object))
                        continue;
                json_object_object_foreach(vals, res, q)
                {
                        uint64_t bytes;
                        const char *text = json_object_get_string(q);
                        bool negative = false;
                        if (!q)
                                continue;
                        if (json_object_is_type(q, json_type_int) ||
                            json_object_is_type(q, json_type_double))
                                negative = json_object_get_double(q) < 0;
                        else if (!json_object_is_type(q, json_type_string) ||
                                 (quantity_parse_bytes(text, &bytes) < 0 && text[0] != '-'))
                                return status_bad_request(
                                    "Pod in version \"v1\" cannot be handled as a Pod: "
                                    "quantities must match the regular expression "
                                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
                        else
                                negative = text[0] == '-';
                        if (negative) {
                                char field[160], body[160];
                                snprintf(field, sizeof(field),
                                         "spec.containers[%zu].resources.%s[%s]", index,
                                         sections[s], res);
                                snprintf(body, sizeof(body),
                                         "Invalid value: \"%s\": must be greater than or equal "
                                         "to 0",
                                         text);
                                return status_invalid("", "Pod", pod, field, "FieldValueInvalid",
                                                      body);
                        }
                }
        }
        return NULL;
}

static enum MHD_Result pod_resize(struct state *st, struct MHD_Connection *conn, struct request *rq,
                                  const char *ns, const char *name)
{
        const char *ct = header_value(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!ct || strncmp(ct, "application/strategic-merge-patch+json", 38) != 0) {
                /* Only the strategic merge patch is implemented here; kube-apiserver also takes
                 * the three others it names. */
                return respond_status(
                    conn, rq,
                    status_failure(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted "
                                   "media types include: application/json-patch+json, "
                                   "application/merge-patch+json, application/apply-patch+yaml, "
                                   "application/strategic-merge-patch+json",
                                   NULL));
        }
        struct json_object *patch;
        struct json_object *bad = parse_body(rq, &patch);
        if (bad) {
                /* A patch is not decoded as an object with a kind: the error is the decoder's. */
                json_object_put(bad);
                return respond_status(conn, rq,
                                      status_bad_request("error decoding patch: invalid JSON"));
        }
        struct pod_entry *e = state_find_pod(st, ns, name);
        if (!e) {
                json_object_put(patch);
                return respond_status(conn, rq, status_not_found("pods", name));
        }
        struct json_object *pcs = kjson_get(patch, "spec", "containers", NULL);
        size_t n = json_object_is_type(pcs, json_type_array) ? json_object_array_length(pcs) : 0;
        /* Checked whole before anything changes: a refused patch leaves the pod as it was. */
        struct json_object *targets[64] = { 0 }, *answer = NULL;
        if (n > ELEMENTSOF(targets))
                answer = status_bad_request("too many containers in the patch");
        for (size_t i = 0; i < n && !answer; i++) {
                struct json_object *pc = json_object_array_get_idx(pcs, i);
                targets[i] = find_container(e->pod, kjson_get_string(pc, "name", NULL, NULL));
                if (!targets[i])
                        answer = status_invalid("", "Pod", name, "spec", "FieldValueForbidden",
                                                "Forbidden: only cpu and memory resources are "
                                                "mutable");
                else
                        answer = check_quantities(name, i, kjson_get(pc, "resources", NULL, NULL));
        }
        if (answer) {
                json_object_put(patch);
                return respond_status(conn, rq, answer);
        }
        for (size_t i = 0; i < n; i++) {
                struct json_object *pres =
                    kjson_get(json_object_array_get_idx(pcs, i), "resources", NULL, NULL);
                if (!pres)
                        continue;
                struct json_object *res = kjson_ensure_object(targets[i], "resources");
                if (!res || merge_resources(res, pres) < 0) {
                        json_object_put(patch);
                        return respond_text(conn, rq, 500, "out of memory\n", 0);
                }
        }
        json_object_put(patch);
        state_modified(st, e);
        return respond_json(conn, rq, 200, state_pod_object(e), 0);
}

/* ---------- routing ---------- */

enum kind { K_OTHER, K_EVICTION, K_EVENT, K_RESIZE, K_BINDING };

static const char *kind_name(enum kind k)
{
        switch (k) {
        case K_EVICTION:
                return "eviction";
        case K_EVENT:
                return "event";
        case K_RESIZE:
                return "resize";
        case K_BINDING:
                return "binding";
        default:
                return "other";
        }
}

static enum MHD_Result dispatch(struct state *st, struct MHD_Connection *conn, struct request *rq,
                                const char *method, char **seg, int n)
{
        bool get = strcmp(method, "GET") == 0;
        bool post = strcmp(method, "POST") == 0;
        bool patch = strcmp(method, "PATCH") == 0;
#define WRONG_METHOD respond_status(conn, rq, status_generic(405))
        /* /api/v1/pods */
        if (n == 3 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1") && !strcmp(seg[2], "pods"))
                return get ? pods_list(st, conn, rq, KT_POD, NULL) : WRONG_METHOD;
        /* /api/v1/nodes[/NAME] */
        if (n == 3 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1") && !strcmp(seg[2], "nodes"))
                return get ? pods_list(st, conn, rq, KT_NODE, NULL) : WRONG_METHOD;
        if (n == 4 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1") && !strcmp(seg[2], "nodes")) {
                if (!get)
                        return WRONG_METHOD;
                struct pod_entry *e = state_find_node(st, seg[3]);
                return e ? respond_json(conn, rq, 200, state_pod_object(e), 0)
                         : respond_status(conn, rq, status_not_found("nodes", seg[3]));
        }
        /* /api/v1/namespaces/NS/pods[/NAME[/SUB]] */
        if (n >= 5 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1") &&
            !strcmp(seg[2], "namespaces") && !strcmp(seg[4], "pods")) {
                const char *ns = seg[3];
                if (n == 5)
                        return get ? pods_list(st, conn, rq, KT_POD, ns) : WRONG_METHOD;
                const char *name = seg[5];
                if (n == 6) {
                        if (!get)
                                return WRONG_METHOD;
                        struct pod_entry *e = state_find_pod(st, ns, name);
                        return e ? respond_json(conn, rq, 200, state_pod_object(e), 0)
                                 : respond_status(conn, rq, status_not_found("pods", name));
                }
                if (n == 7 && !strcmp(seg[6], "eviction"))
                        return post ? pod_evict(st, conn, rq, ns, name) : WRONG_METHOD;
                if (n == 7 && !strcmp(seg[6], "binding"))
                        return post ? pod_bind(st, conn, rq, ns, name) : WRONG_METHOD;
                if (n == 7 && !strcmp(seg[6], "resize") && !st->no_resize) {
                        if (patch)
                                return pod_resize(st, conn, rq, ns, name);
                        if (!get)
                                return WRONG_METHOD;
                        struct pod_entry *e = state_find_pod(st, ns, name);
                        return e ? respond_json(conn, rq, 200, state_pod_object(e), 0)
                                 : respond_status(conn, rq, status_not_found("pods", name));
                }
        }
        /* /apis/events.k8s.io/v1/namespaces/NS/events */
        if (n == 6 && !strcmp(seg[0], "apis") && !strcmp(seg[1], "events.k8s.io") &&
            !strcmp(seg[2], "v1") && !strcmp(seg[3], "namespaces") && !strcmp(seg[5], "events"))
                return post ? event_create(st, conn, rq, seg[4]) : WRONG_METHOD;
#undef WRONG_METHOD
        return respond_status(conn, rq, status_generic(404));
}

static enum kind kind_of(char **seg, int n)
{
        if (n == 7 && !strcmp(seg[6], "eviction"))
                return K_EVICTION;
        if (n == 7 && !strcmp(seg[6], "resize"))
                return K_RESIZE;
        if (n == 7 && !strcmp(seg[6], "binding"))
                return K_BINDING;
        if (n == 6 && !strcmp(seg[5], "events") && !strcmp(seg[0], "apis"))
                return K_EVENT;
        return K_OTHER;
}

enum MHD_Result api_route(struct state *st, struct MHD_Connection *conn, struct request *rq,
                          const char *method, const char *path)
{
        char buf[2048];
        char *seg[8];
        snprintf(buf, sizeof(buf), "%s", path);
        int n = strlen(path) < sizeof(buf) ? path_split(buf, seg, 8) : -1;

        pthread_mutex_lock(&st->lock);
        uint64_t seq = ++st->n_requests;
        if (!rq->too_large)
                record_body(st, seq, n >= 0 ? kind_name(kind_of(seg, n)) : "other", rq);
        enum MHD_Result r;
        uint32_t retry_after = 0;
        struct json_object *fail;
        if (!authenticated(st, conn))
                r = respond_status(conn, rq, status_unauthorized());
        else if (rq->too_large)
                r = respond_status(conn, rq, status_entity_too_large("limit is 1048576"));
        else if ((fail = scripted_failure(st, rq->uri, &retry_after)))
                r = respond_json(conn, rq, (unsigned)status_code(fail), fail,
                                 retry_after ?: status_retry_after(fail));
        else if (n < 0)
                r = respond_status(conn, rq, status_generic(404));
        else
                r = dispatch(st, conn, rq, method, seg, n);
        record_request(st, method, rq);
        pthread_mutex_unlock(&st->lock);
        return r;
}
