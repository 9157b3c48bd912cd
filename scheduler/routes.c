// SPDX-License-Identifier: Apache-2.0
// memschedd's routes: the table (printed by --list-routes and compared with api/openapi.yaml)
// and one handler per route. Handlers read an immutable snapshot and never wait for report
// ingestion; server.c has received the body in full and checked who may send it.
#include "scheduler/server-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/extender.h"
#include "api/kube/objects.h"
#include "api/node_status.h"
#include "api/placement.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/node-name.h"
#include "scheduler/kube.h"
#include "scheduler/placement.h"
#include "scheduler/routes-pools.h"
#include "scheduler/store-replica.h"

/* ---------- routing ---------- */

/* The routing table; memschedd --list-routes prints it and the OpenAPI coverage test compares
 * it with api/openapi.yaml. A "{...}" segment matches one node name (or lease id: the same
 * RFC 1123 rules). */
static const struct route_entry {
        const char *path;
        enum route route;
        unsigned methods;
} routes[] = {
        { "/v1/nodes", ROUTE_NODES, M_GET },
        { "/v1/nodes/{name}", ROUTE_NODE, M_GET },
        { "/v1/nodes/{name}/report", ROUTE_NODE_REPORT, M_POST },
        { "/v1/placement", ROUTE_PLACEMENT, M_POST },
        { "/v1/migrations", ROUTE_MIGRATIONS, M_GET },
        { "/extender/filter", ROUTE_EXTENDER_FILTER, M_POST },
        { "/extender/prioritize", ROUTE_EXTENDER_PRIORITIZE, M_POST },
        { "/extender/bind", ROUTE_EXTENDER_BIND, M_POST },
        { "/metrics", ROUTE_METRICS, M_GET },
        { "/healthz", ROUTE_HEALTHZ, M_GET },
        { "/readyz", ROUTE_READYZ, M_GET },
        { "/v1/pools", ROUTE_POOLS, M_GET },
        { "/v1/pools/{node}", ROUTE_POOL, M_PUT | M_DELETE },
        { "/v1/leases", ROUTE_LEASES, M_GET | M_POST },
        { "/v1/leases/{id}", ROUTE_LEASE, M_GET | M_DELETE },
        { "/v1/leases/{id}/renew", ROUTE_LEASE_RENEW, M_POST },
};

void server_print_routes(FILE *f)
{
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                if (routes[i].methods & M_GET)
                        fprintf(f, "GET %s\n", routes[i].path);
                if (routes[i].methods & M_POST)
                        fprintf(f, "POST %s\n", routes[i].path);
                if (routes[i].methods & M_PUT)
                        fprintf(f, "PUT %s\n", routes[i].path);
                if (routes[i].methods & M_DELETE)
                        fprintf(f, "DELETE %s\n", routes[i].path);
        }
}

/* Matches url against pattern; a "{...}" segment captures into name. */
static bool path_match(const char *pattern, const char *url, char *name, size_t name_size,
                       bool *ret_bad_name)
{
        const char *param = strchr(pattern, '{');
        if (!param)
                return strcmp(pattern, url) == 0;
        size_t pre = (size_t)(param - pattern);
        const char *post = strchr(param, '}') + 1;
        if (strncmp(url, pattern, pre) != 0)
                return false;
        const char *seg = url + pre;
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (strcmp(seg + n, post) != 0)
                return false;
        if (!node_name_is_valid(seg, n) || n >= name_size) {
                *ret_bad_name = true;
                return true;
        }
        memcpy(name, seg, n);
        name[n] = '\0';
        return true;
}

/* Returns the route and the methods it accepts, the node name into rq->node; -EINVAL for a node
 * path with an invalid name; ROUTE_UNKNOWN when nothing matches. */
int route_match(const char *url, struct request *rq, unsigned *ret_methods)
{
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                bool bad = false;
                if (!path_match(routes[i].path, url, rq->node, sizeof(rq->node), &bad))
                        continue;
                rq->route = routes[i].route;
                *ret_methods = routes[i].methods;
                const char *param = strchr(routes[i].path, '{');
                if (param)
                        snprintf(rq->param_field, sizeof(rq->param_field), "%.*s",
                                 (int)strcspn(param + 1, "}"), param + 1);
                return bad ? -EINVAL : (int)routes[i].route;
        }
        return ROUTE_UNKNOWN;
}

/* ---------- handlers ---------- */

static enum MHD_Result handle_report(struct server *srv, struct MHD_Connection *conn,
                                     struct request *rq)
{
        _cleanup_json_ struct json_object *o = NULL;
        struct api_error err = {};
        struct node_report rep;
        int r;

        if (parse_body(conn, rq, &o) != MHD_YES || !o)
                return rq->status ? MHD_YES : MHD_NO;
        r = node_report_decode(o, &rep, &err);
        if (r < 0)
                return respond_api_error(conn, rq, r, &err);
        if (rep.node_name && strcmp(rep.node_name, rq->node) != 0) {
                enum MHD_Result ret = respond_error(conn, rq, 400, "node_name",
                                                    "node_name: \"%.64s\" does not match the "
                                                    "node in the URL (\"%s\")",
                                                    rep.node_name, rq->node);
                node_report_done(&rep);
                return ret;
        }
        uint64_t seq = rep.seq;
        r = cluster_ingest(srv->cluster, rq->node, &rep, now_usec(CLOCK_MONOTONIC),
                           now_usec(CLOCK_REALTIME));
        node_report_done(&rep);
        if (r == -ESTALE)
                return respond_error(conn, rq, 409, "seq",
                                     "seq: %llu is not above the last report accepted from this "
                                     "agent run (same run_id); a replayed or reordered report",
                                     (unsigned long long)seq);
        if (r < 0)
                return respond_error(conn, rq, 500, NULL, "failed to ingest the report: %s",
                                     strerror(-r));
        struct json_object *a = json_object_new_object();
        api_add(a, "node_name", json_object_new_string(rq->node));
        api_add(a, "seq", json_object_new_uint64(seq));
        api_add(a, "stale_after_ms",
                json_object_new_uint64(srv->cluster->cfg.stale_after_usec / 1000));
        /* A donor's report renews its pool offer; a consumer learns of its leases. */
        struct json_object *leases =
            pool_service_report(srv->cluster->pools, rq->node, now_usec(CLOCK_REALTIME));
        if (leases)
                api_add(a, "leases", leases);
        return respond_json(conn, rq, 200, a);
}

static void fill_status(const struct sched_snapshot *s, size_t i, uint64_t now,
                        const struct sched_config *cfg, bool with_pods, struct node_status *ret)
{
        const struct sched_node *n = s->nodes[i];
        const struct node_report *r = &n->report;
        struct node_status st = {
                .name = strdup(n->name),
                .last_report_age_ms = (now - n->received_usec) / 1000,
                .seq = r->seq,
                .memory_total_bytes = r->memory_total_bytes,
                .memory_available_bytes = r->memory_available_bytes,
                .system_reserved_bytes = r->reserved_bytes,
                .reservation_bytes = s->extra[i].reservation_bytes,
                .assumed_bytes = s->extra[i].assumed_bytes,
                .allocatable_bytes = placement_node_allocatable(s, i),
                .pressure = r->pressure,
                .pressure_duration_ms = r->pressure_duration_ms,
                .relief_exhausted = r->relief_exhausted,
                .pod_count = r->n_pods,
                .with_pods = with_pods,
        };
        st.stale = now - n->received_usec > cfg->stale_after_usec;
        st.zones = calloc(r->n_zones ? r->n_zones : 1, sizeof(*st.zones));
        for (size_t z = 0; st.zones && z < r->n_zones; z++) {
                st.zones[z] =
                    (struct node_status_zone){ .id = r->zones[z].id,
                                               .total_bytes = r->zones[z].total_bytes,
                                               .free_bytes = r->zones[z].free_bytes,
                                               .reclaimable_bytes = r->zones[z].reclaimable_bytes };
                st.n_zones++;
        }
        if (with_pods) {
                st.pods = calloc(r->n_pods ? r->n_pods : 1, sizeof(*st.pods));
                for (size_t p = 0; st.pods && p < r->n_pods; p++) {
                        const struct report_pod *rp = &r->pods[p];
                        st.pods[p] = (struct node_status_pod){
                                .uid = strdup(rp->uid),
                                .name = rp->name ? strdup(rp->name) : NULL,
                                .namespace = rp->namespace ? strdup(rp->namespace) : NULL,
                                .qos = rp->qos,
                                .working_set_bytes = rp->working_set_bytes,
                                .request_bytes = rp->request_bytes,
                                .protected_ = rp->protected_,
                        };
                }
                if (!st.pods)
                        st.pod_count = 0;
        }
        *ret = st;
}

static enum MHD_Result handle_nodes(struct server *srv, struct MHD_Connection *conn,
                                    struct request *rq)
{
        _cleanup_snapshot_ struct sched_snapshot *s = snapshot_acquire(&srv->cluster->slot);
        struct node_status_list l = {};
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        l.nodes = calloc(s->n_nodes ? s->n_nodes : 1, sizeof(*l.nodes));
        if (!l.nodes)
                return respond_error(conn, rq, 500, NULL, "out of memory");
        for (size_t i = 0; i < s->n_nodes; i++) {
                fill_status(s, i, now, &srv->cluster->cfg, false, &l.nodes[i]);
                l.n_nodes++;
                l.stale_count += l.nodes[i].stale;
        }
        struct json_object *o = node_status_list_encode(&l);
        node_status_list_done(&l);
        return respond_json(conn, rq, 200, o);
}

static enum MHD_Result handle_node(struct server *srv, struct MHD_Connection *conn,
                                   struct request *rq)
{
        _cleanup_snapshot_ struct sched_snapshot *s = snapshot_acquire(&srv->cluster->slot);
        struct node_status st;
        ssize_t i = snapshot_find(s, rq->node);
        if (i < 0)
                return respond_error(conn, rq, 404, "name", "node %s has sent no report", rq->node);
        fill_status(s, (size_t)i, now_usec(CLOCK_MONOTONIC), &srv->cluster->cfg, true, &st);
        struct json_object *o = node_status_encode(&st);
        node_status_done(&st);
        return respond_json(conn, rq, 200, o);
}

static enum MHD_Result handle_migrations(struct server *srv, struct MHD_Connection *conn,
                                         struct request *rq)
{
        _cleanup_snapshot_ struct sched_snapshot *s = snapshot_acquire(&srv->cluster->slot);
        const char *state = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "state");
        int want = -1;
        if (state) {
                want = migration_state_from_string(state);
                if (want < 0)
                        return respond_error(conn, rq, 400, "state",
                                             "state: \"%.32s\" is not one of planned, bound, "
                                             "expired, cancelled",
                                             state);
        }
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        for (size_t i = 0; i < s->n_plans; i++)
                if (want < 0 || (int)s->plans[i].state == want)
                        json_object_array_add(a, migration_encode(&s->plans[i]));
        api_add(o, "migrations", a);
        return respond_json(conn, rq, 200, o);
}

struct ranked {
        struct node_verdict v;
        const char *name;
};

static int ranked_cmp(const void *a, const void *b)
{
        const struct ranked *x = a, *y = b;
        if ((x->v.kind == VERDICT_FITS) != (y->v.kind == VERDICT_FITS))
                return x->v.kind == VERDICT_FITS ? -1 : 1;
        if (x->v.score != y->v.score)
                return y->v.score - x->v.score;
        if (x->v.allocatable_bytes != y->v.allocatable_bytes)
                return x->v.allocatable_bytes > y->v.allocatable_bytes ? -1 : 1;
        return strcmp(x->name, y->name);
}

static enum MHD_Result handle_placement(struct server *srv, struct MHD_Connection *conn,
                                        struct request *rq)
{
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_(placement_request_done) struct placement_request q = {};
        struct api_error err = {};
        int r;

        if (parse_body(conn, rq, &o) != MHD_YES || !o)
                return rq->status ? MHD_YES : MHD_NO;
        r = placement_request_decode(o, &q, &err);
        if (r < 0)
                return respond_api_error(conn, rq, r, &err);

        _cleanup_snapshot_ struct sched_snapshot *s = snapshot_acquire(&srv->cluster->slot);
        size_t n = q.nodes ? q.n_nodes : s->n_nodes;
        _cleanup_free_ struct ranked *rk = calloc(n ? n : 1, sizeof(*rk));
        if (!rk)
                return respond_error(conn, rq, 500, NULL, "out of memory");
        struct pod_shape shape = { .request_bytes = q.request_bytes,
                                   .single_numa = q.single_numa,
                                   .qos = q.qos,
                                   .namespace = q.namespace,
                                   .owner_uid = q.owner_uid };
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n; i++) {
                const char *name = q.nodes ? q.nodes[i] : s->nodes[i]->name;
                ssize_t idx = q.nodes ? snapshot_find(s, name) : (ssize_t)i;
                rk[i].name = name;
                placement_evaluate(s, idx, name, &shape, now, &srv->cluster->cfg, true, &rk[i].v);
        }
        qsort(rk, n, sizeof(*rk), ranked_cmp);
        if (q.limit && q.limit < n)
                n = q.limit;
        struct pools_totals pt;
        pools_totals(pool_service_begin(srv->cluster->pools, now_usec(CLOCK_REALTIME)), &pt);
        (void)pool_service_end(srv->cluster->pools);
        struct placement_response resp = { .request_bytes = q.request_bytes,
                                           .single_numa = q.single_numa,
                                           .pool_free_bytes = pt.free_bytes };
        resp.candidates = calloc(n ? n : 1, sizeof(*resp.candidates));
        if (!resp.candidates)
                return respond_error(conn, rq, 500, NULL, "out of memory");
        for (size_t i = 0; i < n; i++) {
                resp.candidates[i] = (struct placement_candidate){
                        .node = strdup(rk[i].name),
                        .fits = rk[i].v.kind == VERDICT_FITS,
                        .score = rk[i].v.score,
                        .numa_zone = rk[i].v.numa_zone,
                        .available_bytes = rk[i].v.allocatable_bytes,
                        .pressure = rk[i].v.pressure,
                        .reason = strdup(rk[i].v.reason),
                        .lease_bytes = placement_lease_bytes(&rk[i].v, &shape, pt.free_bytes),
                };
                resp.n_candidates++;
        }
        struct json_object *out = placement_response_encode(&resp);
        placement_response_done(&resp);
        return respond_json(conn, rq, 200, out);
}

static void shape_from_pod(const struct k8s_pod *p, struct pod_shape *ret)
{
        *ret = (struct pod_shape){ .request_bytes = p->request_bytes,
                                   .single_numa = p->single_numa,
                                   .qos = p->qos,
                                   .namespace = p->namespace,
                                   .owner_uid = p->owner_uid };
}

static enum MHD_Result handle_filter(struct server *srv, struct MHD_Connection *conn,
                                     struct request *rq, bool prioritize)
{
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_(extender_args_done) struct extender_args args = {};
        struct api_error err = {};
        struct pod_shape shape;
        int r;

        /* kube-scheduler's names mode without json-c objects per node; anything else, and every
         * error, through the generic decoder. */
        r = extender_args_parse_names(rq->body, rq->len, &args);
        if (r == -E2BIG)
                return respond_error(conn, rq, 413, "NodeNames", "NodeNames: more than %d names",
                                     EXTENDER_NODES_MAX);
        if (r < 0)
                return respond_error(conn, rq, 503, NULL, "out of memory");
        if (r == 0) {
                r = extender_args_parse_nodes(rq->body, rq->len, &args, &err);
                if (r < 0)
                        return respond_api_error(conn, rq, r, &err);
        }
        if (r == 0) {
                if (parse_body(conn, rq, &o) != MHD_YES || !o)
                        return rq->status ? MHD_YES : MHD_NO;
                r = extender_args_decode(o, &args, &err);
                if (r < 0)
                        return respond_api_error(conn, rq, r, &err);
        }
        cluster_remember_pod(srv->cluster, &args.pod);
        shape_from_pod(&args.pod, &shape);
        /* The pod's tolerations, against the taints the API shows (only with an API view). */
        struct kube_toleration tolerations[KUBE_TOLERATIONS_MAX];
        if (srv->kube) {
                struct json_object *pod = api_lookup(args.root, "spec", false)
                                              ? args.root
                                              : api_lookup(args.root, "Pod", true);
                r = pod ? kube_tolerations_decode(pod, "Pod", tolerations, KUBE_TOLERATIONS_MAX,
                                                  &err)
                        : 0;
                if (r < 0)
                        return respond_api_error(conn, rq, r, &err);
                shape.tolerations = tolerations;
                shape.n_tolerations = (size_t)r;
        }

        _cleanup_snapshot_ struct sched_snapshot *s = snapshot_acquire(&srv->cluster->slot);
        const struct sched_config *cfg = &srv->cluster->cfg;
        size_t n = args.n_nodes;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        struct node_verdict v;
        char *body = NULL;
        size_t len = 0;

        /* Verdicts are streamed into the answer one node at a time: no per-node array of
         * verdicts (with their reason buffers) is ever built. */
        /* An answer is at most ANSWER_FACTOR times the request plus a constant: a HostPriority
         * costs ~24 bytes over its name, so many short (or repeated) names could make a
         * prioritize answer several times the body: refused up front (413). A filter answer
         * whose full reasons (~100 bytes a node) would pass the bound gets a short fixed
         * reason for every failing node instead. */
        size_t answer_max = ANSWER_FACTOR * rq->len + ANSWER_SLACK_BYTES;
        if (prioritize) {
                uint64_t need = 2;
                for (size_t i = 0; i < n; i++)
                        need += strlen(args.node_names[i]) + 26;
                if (need > answer_max)
                        return respond_error(conn, rq, 413, "NodeNames",
                                             "NodeNames: %zu names would make an answer of %llu "
                                             "bytes, more than %d times the request",
                                             n, (unsigned long long)need, ANSWER_FACTOR);
        }
        if (prioritize) {
                _cleanup_free_ struct host_priority *hp = malloc((n ? n : 1) * sizeof(*hp));
                if (!hp)
                        return respond_error(conn, rq, 500, NULL, "out of memory");
                for (size_t i = 0; i < n; i++) {
                        const char *name = args.node_names[i];
                        placement_score(s, snapshot_find(s, name), name, &shape, now, cfg, &v);
                        hp[i] =
                            (struct host_priority){ .host = name,
                                                    .score = v.kind == VERDICT_FITS ? v.score : 0 };
                }
                r = host_priority_list_format(hp, n, &body, &len);
                atomic_fetch_add_explicit(&srv->metrics.prioritized_nodes, n, memory_order_relaxed);
        } else {
                /* Full reasons are ~100 bytes: with many short names, a fixed short one. */
                bool short_reasons = rq->len + n * (PLACEMENT_REASON_MAX / 2) > answer_max;
                struct extender_filter_writer w;
                extender_filter_writer_init(&w, args.node_cache_capable, n);
                for (size_t i = 0; i < n; i++) {
                        const char *name = args.node_names[i];
                        placement_evaluate(s, snapshot_find(s, name), name, &shape, now, cfg, false,
                                           &v);
                        if (short_reasons)
                                snprintf(v.reason, sizeof(v.reason), "memsched");
                        switch (v.kind) {
                        case VERDICT_FITS:
                                if (args.node_texts)
                                        extender_filter_writer_pass_text(
                                            &w, args.node_texts[i].json, args.node_texts[i].len);
                                else
                                        extender_filter_writer_pass(
                                            &w, name, args.nodes ? args.nodes[i] : NULL);
                                break;
                        case VERDICT_FAILED:
                                extender_filter_writer_failed(&w, name, v.reason);
                                break;
                        case VERDICT_UNRESOLVABLE:
                                extender_filter_writer_unresolvable(&w, name, v.reason);
                                break;
                        }
                }
                atomic_fetch_add_explicit(&srv->metrics.filter_nodes[0], w.n_pass,
                                          memory_order_relaxed);
                atomic_fetch_add_explicit(&srv->metrics.filter_nodes[1], w.n_failed,
                                          memory_order_relaxed);
                atomic_fetch_add_explicit(&srv->metrics.filter_nodes[2], w.n_unresolvable,
                                          memory_order_relaxed);
                r = extender_filter_writer_finish(&w, "", &body, &len);
        }
        if (r < 0)
                return respond_error(conn, rq, 500, NULL, "out of memory");
        return respond(conn, rq, 200, "application/json", body, len);
}

static enum MHD_Result handle_bind(struct server *srv, struct MHD_Connection *conn,
                                   struct request *rq)
{
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_(extender_binding_args_done) struct extender_binding_args a = {};
        struct api_error err = {};
        _cleanup_free_ char *mig = NULL;
        int r;

        if (parse_body(conn, rq, &o) != MHD_YES || !o)
                return rq->status ? MHD_YES : MHD_NO;
        r = extender_binding_args_decode(o, &a, &err);
        if (r < 0)
                return respond_api_error(conn, rq, r, &err);
        if (srv->kube) {
                /* kube-scheduler left binding to us (bindVerb): the Binding is the bind, and the
                 * API's refusal is kube-scheduler's error, word for word. */
                struct kube_status st;
                r = sched_kube_bind(srv->kube, a.pod_namespace, a.pod_name, a.pod_uid, a.node, &st);
                if (r < 0 || !kube_status_ok(&st)) {
                        char text[768];
                        if (r == -EPERM) /* not Pending as the API shows it: memsched says why */
                                snprintf(text, sizeof(text), "%s", st.message);
                        else if (r < 0)
                                snprintf(text, sizeof(text), "memsched: cannot bind: %s",
                                         strerror(-r));
                        else if (st.http_code == 0)
                                snprintf(text, sizeof(text),
                                         "memsched: the Kubernetes API is unreachable: %s",
                                         st.message);
                        else
                                snprintf(text, sizeof(text), "%s", st.message);
                        log_info("Bind of %s/%s to %s refused: %s", a.pod_namespace, a.pod_name,
                                 a.node, text);
                        return respond_json(conn, rq, 200, extender_binding_result_encode(text));
                }
        }
        r = cluster_bind(srv->cluster, a.pod_namespace, a.pod_name, a.pod_uid, a.node,
                         now_usec(CLOCK_MONOTONIC), &mig);
        if (r < 0 && srv->kube) {
                /* Bound by the API all the same: the node counts it once it reports. */
                if (r != -ENOENT)
                        log_warning_errno(r,
                                          "Failed to record the bind of %s/%s to %s: %m, "
                                          "ignoring (the Binding is made)",
                                          a.pod_namespace, a.pod_name, a.node);
                return respond_json(conn, rq, 200, extender_binding_result_encode(""));
        }
        if (r == -ENOENT)
                return respond_error(conn, rq, 404, "Node", "Node: %.253s has sent no report",
                                     a.node);
        if (r < 0)
                return respond_json(conn, rq, 500,
                                    extender_binding_result_encode("memsched: failed to record "
                                                                   "the binding"));
        return respond_json(conn, rq, 200, extender_binding_result_encode(""));
}

static enum MHD_Result handle_metrics(struct server *srv, struct MHD_Connection *conn,
                                      struct request *rq)
{
        struct api_buf b = {};
        char *body;
        size_t len;
        metrics_format(&srv->metrics, srv->cluster, now_usec(CLOCK_MONOTONIC), &b);
        if (srv->kube) {
                struct sched_kube_stats ks;
                sched_kube_get_stats(srv->kube, &ks);
                metrics_format_kube(&ks, now_usec(CLOCK_MONOTONIC), &b);
        }
        if (api_buf_finish(&b, &body, &len) < 0)
                return MHD_NO;
        return respond(conn, rq, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

/* The lease broker's routes (routes-pools.c): the body decoded here, as for every route. */
static enum MHD_Result handle_pools(struct server *srv, struct MHD_Connection *conn,
                                    struct request *rq)
{
        _cleanup_json_ struct json_object *o = NULL;
        struct pools_reply rp;
        bool with_body = rq->method == M_PUT || (rq->method == M_POST && rq->route == ROUTE_LEASES);
        if (with_body && (parse_body(conn, rq, &o) != MHD_YES || !o))
                return rq->status ? MHD_YES : MHD_NO;
        enum pools_method m = rq->method == M_PUT      ? POOLS_PUT
                              : rq->method == M_DELETE ? POOLS_DELETE
                              : rq->method == M_POST   ? POOLS_POST
                                                       : POOLS_GET;
        pools_route(srv->cluster->pools, rq->route, m, rq->node,
                    *rq->identity ? rq->identity : NULL, o, now_usec(CLOCK_REALTIME), &rp);
        if (rp.api_r < 0)
                return respond_api_error(conn, rq, rp.api_r, &rp.err);
        if (!rp.body)
                return respond_error(conn, rq, rp.status, rp.field, "%s", rp.message);
        return respond_json(conn, rq, rp.status, rp.body);
}

enum MHD_Result dispatch(struct server *srv, struct MHD_Connection *conn, struct request *rq)
{
        switch (rq->route) {
        case ROUTE_NODE_REPORT:
                return handle_report(srv, conn, rq);
        case ROUTE_NODES:
                return handle_nodes(srv, conn, rq);
        case ROUTE_NODE:
                return handle_node(srv, conn, rq);
        case ROUTE_PLACEMENT:
                return handle_placement(srv, conn, rq);
        case ROUTE_EXTENDER_FILTER:
                return handle_filter(srv, conn, rq, false);
        case ROUTE_EXTENDER_PRIORITIZE:
                return handle_filter(srv, conn, rq, true);
        case ROUTE_EXTENDER_BIND:
                return handle_bind(srv, conn, rq);
        case ROUTE_MIGRATIONS:
                return handle_migrations(srv, conn, rq);
        case ROUTE_METRICS:
                return handle_metrics(srv, conn, rq);
        case ROUTE_HEALTHZ:
                return respond_text(conn, rq, 200, "ok\n");
        case ROUTE_READYZ: {
                /* Replicated: ready only with a model current to the store (store-replica.h),
                 * so that a Service sends nothing to a replica that would answer from stale
                 * reservations. */
                char text[256];
                if (!atomic_load(&srv->ready))
                        return respond_text(conn, rq, 503, "not ready: starting or stopping\n");
                bool ok = replica_ready(srv->cluster->replica, text, sizeof(text));
                return respond_text(conn, rq, ok ? 200 : 503, text);
        }
        case ROUTE_POOLS:
        case ROUTE_POOL:
        case ROUTE_LEASES:
        case ROUTE_LEASE:
        case ROUTE_LEASE_RENEW:
                return handle_pools(srv, conn, rq);
        default:
                return respond_error(conn, rq, 404, NULL, "no such path");
        }
}
