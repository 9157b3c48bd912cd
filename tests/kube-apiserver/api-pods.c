// SPDX-License-Identifier: Apache-2.0
// The pod subresources: eviction (scripted answers, disruption budgets, UID preconditions,
// graceful deletion), binding (BindingREST.Create) and resize (a strategic merge patch of the
// containers' resources).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/macro.h"
#include "common/quantity.h"
#include "http.h"
#include "kjson.h"
#include "server.h"
#include "status.h"

/* ---------- eviction ---------- */

static struct evict_script *find_script(struct state *st, const char *ns, const char *name)
{
        for (size_t i = 0; i < st->n_scripts; i++)
                if (strcmp(st->scripts[i].namespace_, ns) == 0 &&
                    strcmp(st->scripts[i].name, name) == 0)
                        return &st->scripts[i];
        return NULL;
}

/* A UID precondition (the Eviction's deleteOptions, the Binding's metadata.uid) that the pod
 * does not meet: 409 on pods, in kube-apiserver's words. */
static struct json_object *uid_precondition_failed(const char *name, const char *want_uid,
                                                   const char *uid)
{
        char why[1024];
        snprintf(why, sizeof(why),
                 "Precondition failed: UID in precondition: %s, UID in object meta: %s", want_uid,
                 uid ? uid : "");
        return status_conflict("pods", name, why);
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

enum MHD_Result pod_evict(struct state *st, struct MHD_Connection *conn, struct request *rq,
                          const char *ns, const char *name)
{
        struct json_object *ev, *bad = create_body_named(conn, rq, "Eviction", name, &ev);
        if (bad)
                return respond_status(conn, rq, bad);
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
                /* Made before the Eviction (which holds want_uid) is put. */
                answer = uid_precondition_failed(name, want_uid, uid);
                json_object_put(ev);
                return respond_status(conn, rq, answer);
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
enum MHD_Result pod_bind(struct state *st, struct MHD_Connection *conn, struct request *rq,
                         const char *ns, const char *name)
{
        struct json_object *b, *bad = create_body_named(conn, rq, "Binding", name, &b);
        if (bad)
                return respond_status(conn, rq, bad);
        const char *target = kjson_get_string(b, "target", "name", NULL);
        const char *kind = kjson_get_string(b, "target", "kind", NULL);
        const char *want_uid = kjson_get_string(b, "metadata", "uid", NULL);
        struct json_object *answer = NULL;
        char why[1024];
        struct pod_entry *e = NULL;
        if (!target || !*target)
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
                        answer = uid_precondition_failed(name, want_uid, uid);
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

enum MHD_Result pod_resize(struct state *st, struct MHD_Connection *conn, struct request *rq,
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
