// SPDX-License-Identifier: Apache-2.0
#include "scheduler/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/error_reply.h"
#include "api/extender.h"
#include "api/mhd-log.h"
#include "api/node_status.h"
#include "api/placement.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/node-name.h"
#include "scheduler/placement.h"
#include "scheduler/routes-pools.h"

/* One open connection, for the request deadline. */
struct conn_track {
        struct conn_track *prev, *next;
        int fd;
        uint64_t deadline_usec; /* UINT64_MAX while the request is being answered */
        bool shut;
};

struct server {
        struct MHD_Daemon *daemon;
        struct cluster *cluster;
        struct sched_kube *kube; /* NULL: no Kubernetes API, binds are only recorded */
        struct server_config cfg;
        struct metrics metrics;
        atomic_bool ready;
        uint16_t port;
        /* Bytes reserved by the bodies being received and decoded (REQUEST_MEMORY_FACTOR times
         * each body). */
        atomic_size_t body_memory_bytes;
        /* Open connections and the thread that closes those past their deadline. */
        pthread_mutex_t conns_lock;
        pthread_cond_t sweep_wake;
        struct conn_track *conns;
        pthread_t sweeper;
        bool sweeper_started, stopping;
        /* HTTPS: the PEM texts libmicrohttpd reads (kept for the daemon's life). */
        bool tls;
        char *tls_cert_pem, *tls_key_pem, *client_ca_pem;
};

struct request {
        enum route route;
        unsigned methods;             /* the route's (for Allow) */
        unsigned method;              /* this request's method_bit */
        char node[API_NODE_NAME_MAX]; /* the path's {name}, {node} or {id} */
        char param_field[16];         /* its name, for errors */
        char identity[256]; /* the verified client certificate's name over HTTPS, else "" */
        char *body;
        size_t len, cap;
        bool too_large;
        unsigned status;
        uint64_t start_usec;
        size_t reserved_bytes; /* this request's share of srv->body_memory_bytes */
};

/* Answers stay below ANSWER_FACTOR times the request plus ANSWER_SLACK_BYTES. */
#define ANSWER_FACTOR      4
#define ANSWER_SLACK_BYTES (1 << 20)

enum method_bit {
        M_GET = 1,
        M_POST = 2,
        M_PUT = 4,
        M_DELETE = 8,
};

/* ---------- responses ---------- */

/* The answer when there is no memory left to build one: made at start, queued as is (a
 * response can be queued any number of times). One per process, like the daemon. */
static struct MHD_Response *oom_response;
static const char oom_body[] = "{\"error\":\"out of memory\",\"field\":null}";

static enum MHD_Result respond_oom(struct MHD_Connection *conn, struct request *rq)
{
        if (!oom_response)
                return MHD_NO;
        rq->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        return MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, oom_response);
}

static enum MHD_Result respond(struct MHD_Connection *conn, struct request *rq, unsigned status,
                               const char *content_type, char *body, size_t len)
{
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(body);
                return respond_oom(conn, rq);
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
                char allow[32] = "";
                static const char *const names[] = { "GET, HEAD", "POST", "PUT", "DELETE" };
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (rq->methods & (1u << i))
                                snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow),
                                         "%s%s", *allow ? ", " : "", names[i]);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        }
        rq->status = status;
        enum MHD_Result ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *conn, struct request *rq,
                                    unsigned status, struct json_object *o)
{
        size_t len = 0;
        char *s = o ? api_to_string(o, &len) : NULL;
        if (o)
                json_object_put(o);
        if (!s)
                return respond_oom(conn, rq);
        return respond(conn, rq, status, "application/json", s, len);
}

static enum MHD_Result respond_error(struct MHD_Connection *conn, struct request *rq,
                                     unsigned status, const char *field, const char *fmt, ...)
    _printf_(5, 6);

static enum MHD_Result respond_error(struct MHD_Connection *conn, struct request *rq,
                                     unsigned status, const char *field, const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        struct error_reply e = { .message = msg, .field = field };
        return respond_json(conn, rq, status, error_reply_encode(&e));
}

static enum MHD_Result respond_api_error(struct MHD_Connection *conn, struct request *rq, int r,
                                         const struct api_error *err)
{
        if (r == -ENOMEM) {
                /* The body is no longer needed and the answer needs a little memory. */
                free(rq->body);
                rq->body = NULL;
                rq->len = rq->cap = 0;
                return respond_error(conn, rq, 503, NULL, "%s",
                                     err->message[0] ? err->message
                                                     : "out of memory decoding the request");
        }
        if (r == -E2BIG)
                return respond_error(conn, rq, 413, NULL, "%s", err->message);
        if (err->field[0])
                return respond_error(conn, rq, 400, err->field, "%s: %s", err->field, err->message);
        return respond_error(conn, rq, 400, NULL, "%s", err->message);
}

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
static int route_match(const char *url, struct request *rq, unsigned *ret_methods)
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

static enum MHD_Result parse_body(struct MHD_Connection *conn, struct request *rq,
                                  struct json_object **ret)
{
        struct api_error err = {};
        int r = api_parse(rq->body ? rq->body : "", rq->len, ret, &err);
        if (r < 0)
                return respond_api_error(conn, rq, r, &err);
        return MHD_YES;
}

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
                        if (r < 0)
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

static enum MHD_Result handle_text(struct MHD_Connection *conn, struct request *rq, unsigned status,
                                   const char *text)
{
        char *s = strdup(text);
        if (!s)
                return MHD_NO;
        return respond(conn, rq, status, "text/plain; charset=utf-8", s, strlen(s));
}

static enum MHD_Result dispatch(struct server *srv, struct MHD_Connection *conn, struct request *rq)
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
                return handle_text(conn, rq, 200, "ok\n");
        case ROUTE_READYZ:
                return atomic_load(&srv->ready) ? handle_text(conn, rq, 200, "ok\n")
                                                : handle_text(conn, rq, 503, "not ready\n");
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

/* Over HTTPS, the verified client certificate's common name into cn; -EACCES when the client
 * sent none or it does not chain to clientCA. */
static int client_identity(struct MHD_Connection *conn, char *cn, size_t cn_size)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        unsigned status = 0, n = 0;
        if (!ci || !ci->tls_session)
                return -EACCES;
        gnutls_session_t session = (gnutls_session_t)ci->tls_session;
        const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
        if (!peers || n == 0 || gnutls_certificate_verify_peers2(session, &status) < 0 ||
            status != 0)
                return -EACCES;
        gnutls_x509_crt_t crt;
        if (gnutls_x509_crt_init(&crt) < 0)
                return -ENOMEM;
        size_t len = cn_size;
        int r = gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER);
        if (r >= 0)
                r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len);
        gnutls_x509_crt_deinit(crt);
        return r < 0 ? -EACCES : 0;
}

/* Reads are open; state changes (node reports, binds) need an identity: over HTTPS a verified
 * client certificate, for a report one naming the node itself; over plain HTTP (loopback only,
 * unless --insecure) the local host is trusted. Returns MHD_YES to go on, or the 403 queued. */
static bool route_changes_state(const struct request *rq)
{
        switch (rq->route) {
        case ROUTE_NODE_REPORT:
        case ROUTE_EXTENDER_BIND:
        case ROUTE_POOL:
        case ROUTE_LEASE_RENEW:
                return true;
        case ROUTE_LEASES:
                return rq->method == M_POST;
        case ROUTE_LEASE:
                return rq->method == M_DELETE;
        default:
                return false;
        }
}

static enum MHD_Result check_identity(struct server *srv, struct MHD_Connection *conn,
                                      struct request *rq)
{
        char cn[256] = "";
        if (!srv->tls || !route_changes_state(rq))
                return MHD_YES;
        if (client_identity(conn, cn, sizeof(cn)) < 0)
                return respond_error(conn, rq, 403, NULL,
                                     "this request changes state: it needs a client certificate "
                                     "signed by the configured CA");
        if ((rq->route == ROUTE_NODE_REPORT || rq->route == ROUTE_POOL) &&
            strcmp(cn, rq->node) != 0)
                return respond_error(conn, rq, 403, rq->param_field,
                                     "%s: a client certificate for \"%.64s\" may only %s "
                                     "for that node, not \"%s\"",
                                     rq->param_field, cn,
                                     rq->route == ROUTE_POOL ? "offer memory" : "report", rq->node);
        /* Leases: the routes check the consumer named in the body or the lease. */
        snprintf(rq->identity, sizeof(rq->identity), "%s", cn);
        return MHD_YES;
}

/* Reserves REQUEST_MEMORY_FACTOR times body_bytes for rq against the global budget. A request
 * alone in flight always gets its share (the body limit bounds it), so that a budget smaller
 * than the largest body still serves one at a time. */
static bool body_memory_take(struct server *srv, struct request *rq, size_t body_bytes)
{
        size_t want = body_bytes * REQUEST_MEMORY_FACTOR;
        if (want <= rq->reserved_bytes)
                return true;
        size_t delta = want - rq->reserved_bytes;
        size_t before = atomic_fetch_add(&srv->body_memory_bytes, delta);
        if (before + delta > srv->cfg.request_memory_budget_bytes && before > rq->reserved_bytes) {
                atomic_fetch_sub(&srv->body_memory_bytes, delta);
                return false;
        }
        rq->reserved_bytes = want;
        return true;
}

static enum MHD_Result respond_busy(struct server *srv, struct MHD_Connection *conn,
                                    struct request *rq)
{
        atomic_fetch_add_explicit(&srv->metrics.busy_refusals, 1, memory_order_relaxed);
        return respond_error(conn, rq, 503, NULL,
                             "request bodies being decoded already use the memory budget of "
                             "%zu MiB; retry",
                             srv->cfg.request_memory_budget_bytes >> 20);
}

static struct conn_track *conn_track_of(struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

/* deadline: 0 for "now plus the client timeout", else the value. */
static void conn_set_deadline(struct server *srv, struct MHD_Connection *conn, uint64_t deadline)
{
        struct conn_track *t = conn_track_of(conn);
        if (!t)
                return;
        pthread_mutex_lock(&srv->conns_lock);
        t->deadline_usec =
            deadline ? deadline
                     : now_usec(CLOCK_MONOTONIC) + (uint64_t)srv->cfg.client_timeout_sec * 1000000;
        pthread_mutex_unlock(&srv->conns_lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
        struct server *srv = cls;
        struct request *rq = *con_cls;
        (void)version;

        if (!rq) {
                unsigned methods = 0;
                rq = calloc(1, sizeof(*rq));
                if (!rq)
                        return MHD_NO;
                rq->start_usec = now_usec(CLOCK_MONOTONIC);
                *con_cls = rq;
                int r = route_match(url, rq, &methods);
                if (r == ROUTE_UNKNOWN) {
                        rq->route = ROUTE_UNKNOWN;
                        return respond_error(conn, rq, 404, NULL, "no such path: %.200s", url);
                }
                rq->methods = methods;
                if (r < 0)
                        return respond_error(
                            conn, rq, 400, rq->param_field,
                            "%s: not a valid %s (RFC 1123 subdomain)", rq->param_field,
                            strcmp(rq->param_field, "id") == 0 ? "lease id" : "node name");
                rq->route = (enum route)r;
                bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                           strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
                rq->method = get                                           ? M_GET
                             : strcmp(method, MHD_HTTP_METHOD_POST) == 0   ? M_POST
                             : strcmp(method, MHD_HTTP_METHOD_PUT) == 0    ? M_PUT
                             : strcmp(method, MHD_HTTP_METHOD_DELETE) == 0 ? M_DELETE
                                                                           : 0;
                if (!(rq->method & methods))
                        return respond_error(conn, rq, 405, NULL,
                                             "method %.16s not allowed on %.200s", method, url);
                if (check_identity(srv, conn, rq) != MHD_YES || rq->status)
                        return rq->status ? MHD_YES : MHD_NO;
                const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > srv->cfg.max_body_bytes)
                        return respond_error(conn, rq, 413, NULL,
                                             "request body of %.20s bytes exceeds the limit of %zu",
                                             cl, srv->cfg.max_body_bytes);
                if (cl && !body_memory_take(srv, rq, (size_t)strtoull(cl, NULL, 10)))
                        return respond_busy(srv, conn, rq);
                return MHD_YES;
        }
        if (rq->status)
                return MHD_YES; /* already answered; discard the rest */
        if (*upload_size) {
                size_t n = *upload_size;
                *upload_size = 0;
                if (rq->too_large || rq->len + n > srv->cfg.max_body_bytes) {
                        rq->too_large = true;
                        return MHD_YES;
                }
                if (!body_memory_take(srv, rq, rq->len + n))
                        return respond_busy(srv, conn, rq);
                if (rq->len + n + 1 > rq->cap) {
                        size_t cap = rq->cap ? rq->cap : 4096;
                        while (cap < rq->len + n + 1)
                                cap *= 2;
                        char *b = realloc(rq->body, cap);
                        if (!b) {
                                /* Give the memory back first: the answer needs a little. */
                                free(rq->body);
                                rq->body = NULL;
                                rq->len = rq->cap = 0;
                                return respond_error(conn, rq, 503, NULL,
                                                     "out of memory receiving the body");
                        }
                        rq->body = b;
                        rq->cap = cap;
                }
                memcpy(rq->body + rq->len, upload, n);
                rq->len += n;
                rq->body[rq->len] = '\0';
                return MHD_YES;
        }
        if (rq->too_large)
                return respond_error(conn, rq, 413, NULL,
                                     "request body exceeds the limit of %zu bytes",
                                     srv->cfg.max_body_bytes);
        /* Received in time: answering is not bound by the request deadline. */
        conn_set_deadline(srv, conn, UINT64_MAX);
        return dispatch(srv, conn, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        struct server *srv = cls;
        struct request *rq = *con_cls;
        /* The next request on this connection gets its own deadline. */
        conn_set_deadline(srv, conn, 0);
        if (!rq)
                return;
        atomic_fetch_sub(&srv->body_memory_bytes, rq->reserved_bytes);
        if (rq->status || toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
                metrics_observe(&srv->metrics, rq->route, rq->status ? rq->status : 500,
                                now_usec(CLOCK_MONOTONIC) - rq->start_usec);
        free(rq->body);
        free(rq);
        *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
        struct server *srv = cls;
        struct conn_track *t = *socket_context;

        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *ci =
                    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                t = calloc(1, sizeof(*t));
                if (!t || !ci)
                        return free(t);
                t->fd = ci->connect_fd;
                t->deadline_usec =
                    now_usec(CLOCK_MONOTONIC) + (uint64_t)srv->cfg.client_timeout_sec * 1000000;
                pthread_mutex_lock(&srv->conns_lock);
                t->next = srv->conns;
                if (srv->conns)
                        srv->conns->prev = t;
                srv->conns = t;
                pthread_mutex_unlock(&srv->conns_lock);
                *socket_context = t;
                return;
        }
        /* Closed: libmicrohttpd closes the socket after this returns, so the sweeper (which
         * holds the lock while it shuts sockets down) never sees a reused descriptor. */
        if (!t)
                return;
        pthread_mutex_lock(&srv->conns_lock);
        if (t->prev)
                t->prev->next = t->next;
        else
                srv->conns = t->next;
        if (t->next)
                t->next->prev = t->prev;
        pthread_mutex_unlock(&srv->conns_lock);
        free(t);
        *socket_context = NULL;
}

/* libmicrohttpd's connection timeout restarts with every byte received: a client trickling its
 * headers a byte a second holds a connection forever, and 1,024 of them hold them all. Every
 * connection gets client_timeout_sec for each request to arrive in full; past that the sweeper
 * shuts its socket down, and libmicrohttpd closes it as a client that went away. */
static void *sweeper(void *arg)
{
        struct server *srv = arg;
        pthread_mutex_lock(&srv->conns_lock);
        while (!srv->stopping) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 250 * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&srv->sweep_wake, &srv->conns_lock, &ts);
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                for (struct conn_track *t = srv->conns; t; t = t->next)
                        if (!t->shut && now > t->deadline_usec) {
                                shutdown(t->fd, SHUT_RDWR);
                                t->shut = true;
                                atomic_fetch_add_explicit(&srv->metrics.deadline_closes, 1,
                                                          memory_order_relaxed);
                        }
        }
        pthread_mutex_unlock(&srv->conns_lock);
        return NULL;
}

/* libmicrohttpd decodes "%00" into a NUL that ends the C string: "/v1/nodes/w1%00evil" would be
 * served as w1. A path or query value holding %00 is left encoded, so that it matches nothing or
 * fails the node name check (400). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
        (void)cls;
        (void)conn;
        if (strstr(s, "%00"))
                return strlen(s);
        return MHD_http_unescape(s);
}

static void server_free(struct server *s)
{
        pthread_cond_destroy(&s->sweep_wake);
        pthread_mutex_destroy(&s->conns_lock);
        free(s->tls_cert_pem);
        free(s->tls_key_pem);
        free(s->client_ca_pem);
        free(s);
}

/* A PEM file read whole (certificate chains and keys are a few KiB). */
static int read_pem(const char *path, const char *what, char **ret)
{
        const size_t cap = 256 * 1024;
        char *buf = malloc(cap);
        if (!buf)
                return log_error_errno(ENOMEM, "Failed to read %s: %m", path);
        ssize_t n = read_file_at(AT_FDCWD, path, buf, cap);
        if (n < 0) {
                free(buf);
                return log_error_errno((int)-n, "Failed to read the %s %s: %m", what, path);
        }
        buf[n] = '\0';
        *ret = buf;
        return 0;
}

static int load_tls(struct server *srv)
{
        int r;
        if ((r = read_pem(srv->cfg.tls_cert_path, "TLS certificate", &srv->tls_cert_pem)) < 0 ||
            (r = read_pem(srv->cfg.tls_key_path, "TLS key", &srv->tls_key_pem)) < 0 ||
            (r = read_pem(srv->cfg.client_ca_path, "client CA", &srv->client_ca_pem)) < 0)
                return r;
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
                return log_error_errno(EOPNOTSUPP, "libmicrohttpd was built without TLS");
        return 0;
}

static bool is_loopback(const struct sockaddr_storage *a)
{
        if (a->ss_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
        if (a->ss_family == AF_INET6)
                return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
        return false;
}

int server_start(struct cluster *c, const struct server_config *cfg, struct server **ret)
{
        struct server *srv = calloc(1, sizeof(*srv));
        if (!srv)
                return log_error_errno(ENOMEM, "Failed to start the HTTP server: %m");
        srv->cluster = c;
        srv->cfg = *cfg;
        pthread_mutex_init(&srv->conns_lock, NULL);
        if (!oom_response) {
                oom_response = MHD_create_response_from_buffer(
                    sizeof(oom_body) - 1, (void *)oom_body, MHD_RESPMEM_PERSISTENT);
                if (oom_response) {
                        MHD_add_response_header(oom_response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                                "application/json");
                        MHD_add_response_header(oom_response, MHD_HTTP_HEADER_RETRY_AFTER, "1");
                }
        }
        pthread_cond_init(&srv->sweep_wake, NULL);
        struct MHD_OptionItem tls_opts[4] = { { MHD_OPTION_END, 0, NULL } };
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        if (cfg->tls_cert_path) {
                int r = load_tls(srv);
                if (r < 0) {
                        server_free(srv);
                        return r;
                }
                tls_opts[0] =
                    (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert_pem };
                tls_opts[1] =
                    (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key_pem };
                tls_opts[2] =
                    (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, srv->client_ca_pem };
                tls_opts[3] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
                flags |= MHD_USE_TLS;
                srv->tls = true;
        } else if (cfg->loopback_by_default) {
                log_notice("No TLS certificate (tlsCert): serving plain HTTP on loopback only. "
                           "Give tlsCert, tlsKey and clientCA to serve the cluster, or "
                           "--insecure for plain HTTP on every address");
        } else if (!is_loopback(&cfg->addr)) {
                if (!cfg->insecure) {
                        server_free(srv);
                        return log_error_errno(EPERM,
                                               "Refusing to serve plain HTTP on a non-loopback "
                                               "address: anyone reaching it could report for any "
                                               "node. Pass --tls-cert, --tls-key and "
                                               "--client-ca, or --insecure");
                }
                log_warning("Serving plain HTTP on a non-loopback address without "
                            "authentication (--insecure): anyone reaching it can report for any "
                            "node and bind any pod");
        }
        srv->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&srv->cfg.addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->client_timeout_sec,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_client,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
            on_connection, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log_debug, NULL,
            MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE,
            (unsigned)1, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
        if (!srv->daemon) {
                char addr[INET6_ADDRSTRLEN] = "?";
                const struct sockaddr_in *in = (const struct sockaddr_in *)&cfg->addr;
                inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
                server_free(srv);
                return log_error_errno(EADDRNOTAVAIL,
                                       "Failed to listen on %s:%u (address in use or not local?)",
                                       addr, (unsigned)ntohs(in->sin_port));
        }
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_LISTEN_FD);
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);
        if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &len) == 0)
                srv->port =
                    ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
        if (pthread_create(&srv->sweeper, NULL, sweeper, srv) != 0) {
                int r = errno;
                server_stop(srv);
                return log_error_errno(r, "Failed to start the connection sweeper: %m");
        }
        srv->sweeper_started = true;
        *ret = srv;
        return 0;
}

void server_set_kube(struct server *s, struct sched_kube *k)
{
        s->kube = k;
}

uint16_t server_port(const struct server *s)
{
        return s->port;
}

void server_set_ready(struct server *s, bool ready)
{
        atomic_store(&s->ready, ready);
}

void server_stop(struct server *s)
{
        if (!s)
                return;
        if (s->sweeper_started) {
                pthread_mutex_lock(&s->conns_lock);
                s->stopping = true;
                pthread_cond_signal(&s->sweep_wake);
                pthread_mutex_unlock(&s->conns_lock);
                pthread_join(s->sweeper, NULL);
        }
        MHD_stop_daemon(s->daemon);
        server_free(s);
}
