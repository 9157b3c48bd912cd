// SPDX-License-Identifier: Apache-2.0
// The control port: plain HTTP on 127.0.0.1 without auth, for tests only. It scripts eviction
// answers and failures, changes pods (with their watch events), compacts, bookmarks, splits
// watch frames, sets resize conditions and reports the state. Our own JSON: snake_case.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "kjson.h"
#include "server.h"
#include "status.h"

static enum MHD_Result reply(struct MHD_Connection *conn, struct request *rq, unsigned code,
                             const char *error)
{
        struct json_object *o = json_object_new_object();
        if (o && error)
                json_object_object_add(o, "error", json_object_new_string(error));
        else if (o)
                json_object_object_add(o, "ok", json_object_new_boolean(1));
        return respond_json(conn, rq, code, o, 0);
}

static int64_t int_field(struct json_object *o, const char *key, int64_t dflt)
{
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return dflt;
        return json_object_get_int64(v);
}

static bool fits(const char *s, size_t size)
{
        return s && *s && strlen(s) < size;
}

/* {"namespace","name","answer":"pdb|retry-after=N|throttle=N|conflict|notfound|error|ok",
 *  "times":N (0: always), "pdb", "desired_healthy", "current_healthy"} */
static enum MHD_Result evict_script(struct state *st, struct MHD_Connection *conn,
                                    struct request *rq, struct json_object *o)
{
        const char *ns = kjson_get_string(o, "namespace", NULL, NULL),
                   *name = kjson_get_string(o, "name", NULL, NULL);
        const char *answer = kjson_get_string(o, "answer", NULL, NULL);
        if (!ns)
                ns = "default";
        if (!fits(ns, KT_NAME_MAX) || !fits(name, KT_NAME_MAX) || !answer)
                return reply(conn, rq, 400, "namespace, name and answer are required");
        struct evict_script s = { 0 };
        snprintf(s.namespace_, sizeof(s.namespace_), "%s", ns);
        snprintf(s.name, sizeof(s.name), "%s", name);
        if (strcmp(answer, "ok") == 0)
                s.answer = EVICT_OK;
        else if (strcmp(answer, "pdb") == 0)
                s.answer = EVICT_PDB;
        else if (strncmp(answer, "retry-after=", 12) == 0)
                s.answer = EVICT_RETRY_AFTER;
        else if (strncmp(answer, "throttle=", 9) == 0)
                s.answer = EVICT_THROTTLE;
        else if (strcmp(answer, "conflict") == 0)
                s.answer = EVICT_CONFLICT;
        else if (strcmp(answer, "notfound") == 0)
                s.answer = EVICT_NOTFOUND;
        else if (strcmp(answer, "error") == 0)
                s.answer = EVICT_ERROR;
        else
                return reply(conn, rq, 400, "unknown answer");
        if (s.answer == EVICT_RETRY_AFTER || s.answer == EVICT_THROTTLE) {
                char *end;
                unsigned long v = strtoul(strchr(answer, '=') + 1, &end, 10);
                if (*end || v == 0 || v > 86400)
                        return reply(conn, rq, 400, "retry-after=N needs 1 <= N <= 86400");
                s.retry_after_sec = (uint32_t)v;
        }
        const char *pdb = kjson_get_string(o, "pdb", NULL, NULL);
        snprintf(s.pdb, sizeof(s.pdb), "%s", pdb && strlen(pdb) < KT_NAME_MAX ? pdb : "test-pdb");
        s.desired_healthy = (int32_t)int_field(o, "desired_healthy", 2);
        s.current_healthy = (int32_t)int_field(o, "current_healthy", 1);
        int64_t times = int_field(o, "times", 1);
        if (times < 0)
                return reply(conn, rq, 400, "times must be >= 0");
        s.always = times == 0;
        s.times_left = (uint32_t)times;
        /* One script per pod: a new one replaces the old. */
        size_t i;
        for (i = 0; i < st->n_scripts; i++)
                if (!strcmp(st->scripts[i].namespace_, ns) && !strcmp(st->scripts[i].name, name))
                        break;
        if (i == st->n_scripts) {
                if (st->n_scripts == KT_SCRIPTS_MAX)
                        return reply(conn, rq, 507, "too many eviction scripts");
                st->n_scripts++;
        }
        st->scripts[i] = s;
        return reply(conn, rq, 200, NULL);
}

static enum MHD_Result fail_next(struct state *st, struct MHD_Connection *conn, struct request *rq,
                                 struct json_object *o)
{
        const char *prefix = kjson_get_string(o, "path_prefix", NULL, NULL);
        int64_t code = int_field(o, "code", 0);
        int64_t ra = int_field(o, "retry_after", 0);
        int64_t times = int_field(o, "times", 1);
        if (!fits(prefix, sizeof(st->fails[0].path_prefix)) || code < 400 || code > 599 || ra < 0 ||
            ra > 86400 || times < 0)
                return reply(conn, rq, 400, "path_prefix, code (4xx/5xx), retry_after, times");
        if (st->n_fails == KT_FAILS_MAX)
                return reply(conn, rq, 507, "too many failure rules");
        struct fail_rule *f = &st->fails[st->n_fails++];
        memset(f, 0, sizeof(*f));
        snprintf(f->path_prefix, sizeof(f->path_prefix), "%s", prefix);
        f->code = (int)code;
        f->retry_after_sec = (uint32_t)ra;
        f->always = times == 0;
        f->times_left = (uint32_t)times;
        return reply(conn, rq, 200, NULL);
}

/* {"namespace","name","type":"PodResizePending|PodResizeInProgress|none","reason","message"}:
 * sets the condition (status True) and drops the other one; "none" drops both. */
static enum MHD_Result resize_condition(struct state *st, struct MHD_Connection *conn,
                                        struct request *rq, struct json_object *o)
{
        const char *ns = kjson_get_string(o, "namespace", NULL, NULL),
                   *name = kjson_get_string(o, "name", NULL, NULL);
        const char *type = kjson_get_string(o, "type", NULL, NULL);
        const char *reason = kjson_get_string(o, "reason", NULL, NULL),
                   *message = kjson_get_string(o, "message", NULL, NULL);
        if (!ns)
                ns = "default";
        if (!name || !type)
                return reply(conn, rq, 400, "name and type are required");
        bool none = strcmp(type, "none") == 0;
        if (!none && strcmp(type, "PodResizePending") && strcmp(type, "PodResizeInProgress"))
                return reply(conn, rq, 400, "type: PodResizePending, PodResizeInProgress or none");
        struct pod_entry *e = state_find_pod(st, ns, name);
        if (!e)
                return reply(conn, rq, 404, "no such pod");
        struct json_object *status;
        if (!json_object_object_get_ex(e->pod, "status", &status)) {
                status = json_object_new_object();
                json_object_object_add(e->pod, "status", status);
        }
        struct json_object *old, *conds = json_object_new_array();
        if (!conds)
                return reply(conn, rq, 500, "out of memory");
        if (json_object_object_get_ex(status, "conditions", &old) &&
            json_object_is_type(old, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(old); i++) {
                        struct json_object *c = json_object_array_get_idx(old, i);
                        const char *t = kjson_get_string(c, "type", NULL, NULL);
                        if (t &&
                            (!strcmp(t, "PodResizePending") || !strcmp(t, "PodResizeInProgress")))
                                continue;
                        json_object_array_add(conds, json_object_get(c));
                }
        }
        if (!none) {
                struct json_object *c = json_object_new_object();
                char ts[32];
                rfc3339_now(ts, sizeof(ts), 0);
                json_object_object_add(c, "type", json_object_new_string(type));
                json_object_object_add(c, "status", json_object_new_string("True"));
                json_object_object_add(c, "lastProbeTime", NULL);
                json_object_object_add(c, "lastTransitionTime", json_object_new_string(ts));
                if (reason && *reason)
                        json_object_object_add(c, "reason", json_object_new_string(reason));
                if (message && *message)
                        json_object_object_add(c, "message", json_object_new_string(message));
                json_object_array_add(conds, c);
        }
        json_object_object_add(status, "conditions", conds);
        state_modified(st, e);
        return reply(conn, rq, 200, NULL);
}

static enum MHD_Result state_dump(struct state *st, struct MHD_Connection *conn, struct request *rq)
{
        struct json_object *o = json_object_new_object(), *pods = json_object_new_array(),
                           *nodes = json_object_new_array();
        if (!o || !pods || !nodes) {
                json_object_put(o);
                json_object_put(pods);
                json_object_put(nodes);
                return reply(conn, rq, 500, "out of memory");
        }
        for (size_t i = 0; i < st->n_pods; i++)
                json_object_array_add(st->pods[i].res == KT_NODE ? nodes : pods,
                                      state_pod_object(&st->pods[i]));
        json_object_object_add(o, "pods", pods);
        json_object_object_add(o, "nodes", nodes);
        json_object_object_add(o, "watches", json_object_new_int64((int64_t)st->n_watches));
        json_object_object_add(o, "requests", json_object_new_int64((int64_t)st->n_requests));
        char rv[24];
        snprintf(rv, sizeof(rv), "%llu", (unsigned long long)st->rv);
        json_object_object_add(o, "resource_version", json_object_new_string(rv));
        return respond_json(conn, rq, 200, o, 0);
}

static enum MHD_Result dispatch(struct state *st, struct MHD_Connection *conn, struct request *rq,
                                const char *method, const char *path)
{
        bool post = strcmp(method, "POST") == 0;
        if (strcmp(path, "/control/state") == 0)
                return strcmp(method, "GET") == 0 ? state_dump(st, conn, rq)
                                                  : reply(conn, rq, 405, "GET only");
        if (strncmp(path, "/control/pods/", 14) == 0) {
                if (strcmp(method, "DELETE") != 0)
                        return reply(conn, rq, 405, "DELETE only");
                char buf[1024];
                char *seg[4];
                snprintf(buf, sizeof(buf), "%s", path + 14);
                if (path_split(buf, seg, 2) != 2)
                        return reply(conn, rq, 400, "DELETE /control/pods/NAMESPACE/NAME");
                struct pod_entry *e = state_find_pod(st, seg[0], seg[1]);
                if (!e)
                        return reply(conn, rq, 404, "no such pod");
                state_delete_pod(st, e);
                return reply(conn, rq, 200, NULL);
        }
        if (strncmp(path, "/control/nodes/", 15) == 0) {
                if (strcmp(method, "DELETE") != 0)
                        return reply(conn, rq, 405, "DELETE only");
                struct pod_entry *e = state_find_node(st, path + 15);
                if (!e)
                        return reply(conn, rq, 404, "no such node");
                state_delete_pod(st, e);
                return reply(conn, rq, 200, NULL);
        }
        if (!post)
                return reply(conn, rq, strncmp(path, "/control/", 9) ? 404 : 405, "POST only");
        if (strcmp(path, "/control/expire") == 0) {
                state_expire(st);
                return reply(conn, rq, 200, NULL);
        }
        if (strcmp(path, "/control/bookmark") == 0) {
                state_bookmark_all(st);
                return reply(conn, rq, 200, NULL);
        }
        if (rq->too_large)
                return reply(conn, rq, 413, "body too large");
        struct json_object *o = rq->body ? json_tokener_parse(rq->body) : NULL;
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return reply(conn, rq, 400, "the body must be a JSON object");
        }
        enum MHD_Result r;
        if (strcmp(path, "/control/pods") == 0) {
                int e = state_put_pod(st, json_object_get(o));
                r = reply(conn, rq, e < 0 ? 400 : 200,
                          e < 0 ? "a Pod with metadata.name is required" : NULL);
        } else if (strcmp(path, "/control/nodes") == 0) {
                int e = state_put_node(st, json_object_get(o));
                r = reply(conn, rq, e < 0 ? 400 : 200,
                          e < 0 ? "a Node with metadata.name is required" : NULL);
        } else if (strcmp(path, "/control/evict-script") == 0) {
                r = evict_script(st, conn, rq, o);
        } else if (strcmp(path, "/control/split") == 0) {
                int64_t n = int_field(o, "bytes", -1);
                if (n < 0 || n > 1 << 20) {
                        r = reply(conn, rq, 400, "bytes: 0 (whole frames) to 1048576");
                } else {
                        st->split_bytes = (size_t)n;
                        r = reply(conn, rq, 200, NULL);
                }
        } else if (strcmp(path, "/control/fail-next") == 0) {
                r = fail_next(st, conn, rq, o);
        } else if (strcmp(path, "/control/resize-condition") == 0) {
                r = resize_condition(st, conn, rq, o);
        } else {
                r = reply(conn, rq, 404, "no such control");
        }
        json_object_put(o);
        return r;
}

enum MHD_Result control_route(struct state *st, struct MHD_Connection *conn, struct request *rq,
                              const char *method, const char *path)
{
        pthread_mutex_lock(&st->lock);
        enum MHD_Result r = dispatch(st, conn, rq, method, path);
        pthread_mutex_unlock(&st->lock);
        return r;
}
