// SPDX-License-Identifier: Apache-2.0
// LIST and WATCH of pods and nodes: fieldSelector, resourceVersion, limit/continue paging in key
// order, and the watch stream (state.c's watch_* queue the events).
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "kjson.h"
#include "server.h"
#include "status.h"

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
enum MHD_Result pods_list(struct state *st, struct MHD_Connection *conn, struct request *rq,
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
