// SPDX-License-Identifier: Apache-2.0
// The Kubernetes API side: authentication, scripted failures, the records of every request, and
// the routing to the handlers (api.h names the file of each). Bodies and codes follow
// kube-apiserver (see status.h).
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"
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
