// SPDX-License-Identifier: Apache-2.0
#include "agent/daemon/reporter.h"

#include "api/curl-dl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/codec.h"
#include "api/kube/curl-event.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/node-name.h"
#include "common/random.h"
#include "common/token-file.h"

/* memschedd's answers are small ({"node_name", "seq", "stale_after_ms"} or an error). */
#define RESPONSE_MAX          8192
#define MIN_AVAIL_DELTA_BYTES (16ull << 20)

struct reporter {
        sd_event *event;
        struct curl_event *curl;     /* libcurl multi on the loop */
        sd_event_source *send_timer; /* the next send: now, heartbeat, or backoff */
        struct reporter_params p;
        char *url, *base_url, *node_name;
        char *ca_file, *cert_file, *key_file; /* NULL for none */
        char *token_file;                     /* NULL for none */
        bool token_error_logged;              /* for this streak of unreadable token files */
        bool tls;                             /* base_url is https:// */

        struct node_report *current;  /* newest report submitted */
        bool current_sent;            /* current went out (or is in flight) */
        struct node_report *accepted; /* last report memschedd accepted */
        uint64_t seq;
        /* This run of the agent: memschedd takes a report only with a seq above the last one of
         * the same run_id, and restarts the count for a new one (a restarted agent). */
        char run_id[48];
        uint64_t last_send_usec; /* CLOCK_MONOTONIC of the last attempt's start */

        /* the request in flight */
        CURL *easy;
        struct curl_slist *headers;
        char *body;
        struct node_report *body_report; /* the report the body was made of */
        char response[RESPONSE_MAX];
        size_t response_len;
        char curl_error[CURL_ERROR_SIZE];

        struct reporter_stats stats;
        bool ever_failed_logged; /* the "unreachable" line was logged for this outage */
        bool refused_logged;     /* the "refused" line was logged for this streak */
        uint64_t rand_state;
};

static const char *format_delay(uint64_t usec, char buf[static 32])
{
        if (usec >= 10000000 || usec % 1000000 == 0)
                snprintf(buf, 32, "%llu s", (unsigned long long)((usec + 500000) / 1000000));
        else
                snprintf(buf, 32, "%.1f s", (double)usec / 1e6);
        return buf;
}

static void report_free(struct node_report *rep)
{
        node_report_done(rep);
        free(rep);
}

/* A deep copy on the heap, or NULL on OOM. */
static struct node_report *report_dup(const struct node_report *src)
{
        struct node_report *c = malloc(sizeof(*c));
        if (c && node_report_copy(src, c) < 0) {
                free(c);
                return NULL;
        }
        return c;
}

/* ---------- what counts as a material change ---------- */

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted uids of report's pods into a malloc'ed array of borrowed strings (caller frees the
 * array); -ENOMEM. */
static int pod_uids(const struct node_report *report, const char ***ret)
{
        const char **u = calloc(report->n_pods ? report->n_pods : 1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        for (size_t i = 0; i < report->n_pods; i++)
                u[i] = report->pods[i].uid ? report->pods[i].uid : "";
        qsort(u, report->n_pods, sizeof(*u), cmp_str);
        *ret = u;
        return 0;
}

bool reporter_report_changed(const struct node_report *last, const struct node_report *now)
{
        if (!last)
                return true;
        if (last->pressure != now->pressure || last->relief_exhausted != now->relief_exhausted)
                return true;

        uint64_t was = last->memory_available_bytes, is = now->memory_available_bytes;
        uint64_t delta = was > is ? was - is : is - was;
        if (delta > was / 20 && delta >= MIN_AVAIL_DELTA_BYTES)
                return true;

        if (last->n_pods != now->n_pods)
                return true;
        _cleanup_free_ const char **x = NULL, **y = NULL;
        if (pod_uids(last, &x) < 0 || pod_uids(now, &y) < 0)
                return true;
        for (size_t i = 0; i < now->n_pods; i++)
                if (strcmp(x[i], y[i]) != 0)
                        return true;
        return false;
}

static void on_request_done(CURL *easy, CURLcode res, void *userdata);

/* ---------- scheduling ---------- */

static void schedule_at(struct reporter *r, uint64_t when)
{
        r->stats.next_attempt_usec = when;
        (void)sd_event_source_set_time(r->send_timer, when);
        (void)sd_event_source_set_enabled(r->send_timer, SD_EVENT_ONESHOT);
}

/* Plans the next send after a request ended or a report arrived. */
static void plan_next(struct reporter *r)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (r->easy || !r->current)
                return; /* the end of the request in flight plans again */
        if (r->stats.backoff_usec) {
                if (r->stats.next_attempt_usec > now)
                        return; /* keep the backoff's (jittered) time */
                schedule_at(r, now);
                return;
        }
        bool changed = !r->current_sent && reporter_report_changed(r->accepted, r->current);
        uint64_t heartbeat = r->last_send_usec ? r->last_send_usec + r->p.heartbeat_usec : now;
        schedule_at(r, changed ? now : (heartbeat > now ? heartbeat : now));
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct reporter *r = userdata;
        size_t n = size * nmemb, room = sizeof(r->response) - 1 - r->response_len;
        memcpy(r->response + r->response_len, data, n < room ? n : room);
        r->response_len += n < room ? n : room;
        r->response[r->response_len] = '\0';
        return n;
}

static void request_release(struct reporter *r)
{
        if (r->easy) {
                curl_event_remove(r->curl, r->easy);
                sym_curl_easy_cleanup(r->easy);
                r->easy = NULL;
        }
        sym_curl_slist_free_all(r->headers);
        r->headers = NULL;
        free(r->body);
        r->body = NULL;
        report_free(r->body_report);
        r->body_report = NULL;
        r->stats.in_flight = false;
}

/* The body: the current report with this send's seq and the heartbeat interval, encoded by the
 * api's node_report_encode() (a shallow copy: the strings stay current's). */
static char *make_body(struct reporter *r, size_t *ret_len)
{
        struct node_report b = *r->current;
        b.seq = ++r->seq;
        b.run_id = r->run_id;
        b.heartbeat_interval_ms = r->p.heartbeat_usec / 1000;
        _cleanup_json_ struct json_object *o = node_report_encode(&b);
        if (!o)
                return NULL;
        return api_to_string(o, ret_len);
}

/* The request's TLS: memschedd's certificate and host name always verified (against ca_file,
 * or the system's CAs), ours presented when configured. */
static int set_tls(struct reporter *r)
{
        CURLcode c = CURLE_OK;
        if (c == CURLE_OK)
                c = sym_curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, 1L);
        if (c == CURLE_OK)
                c = sym_curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, 2L);
        if (c == CURLE_OK && r->ca_file)
                c = sym_curl_easy_setopt(r->easy, CURLOPT_CAINFO, r->ca_file);
#if LIBCURL_VERSION_NUM >= 0x075700
        /* curl keeps a parsed CA store for 24 h by default: read the file at each connection,
         * so that a rotated CA bundle is used at once. */
        if (c == CURLE_OK)
                c = sym_curl_easy_setopt(r->easy, CURLOPT_CA_CACHE_TIMEOUT, 0L);
#endif
        /* A kept-alive connection carries the identity of its handshake: after a failure
         * (maybe our certificate refused) retry on a new one, and never keep one long, so that
         * rotated files are used within a minute. */
        if (c == CURLE_OK && r->stats.consecutive_failures)
                c = sym_curl_easy_setopt(r->easy, CURLOPT_FRESH_CONNECT, 1L);
#if LIBCURL_VERSION_NUM >= 0x075000
        if (c == CURLE_OK)
                c = sym_curl_easy_setopt(r->easy, CURLOPT_MAXLIFETIME_CONN, 60L);
#endif
        if (c == CURLE_OK && r->cert_file)
                c = sym_curl_easy_setopt(r->easy, CURLOPT_SSLCERT, r->cert_file);
        if (c == CURLE_OK && r->key_file)
                c = sym_curl_easy_setopt(r->easy, CURLOPT_SSLKEY, r->key_file);
        return c == CURLE_OK ? 0 : -EINVAL;
}

/* Adds "Authorization: Bearer TOKEN" to the request's headers, the token read from its file now
 * (rotation needs no restart). Returns 0, or -1 when the file cannot be read: the request is
 * dropped, said once, and tried again at the next heartbeat. */
static int add_token(struct reporter *r)
{
        _cleanup_free_ char *token = NULL, *auth = NULL;
        int k = token_file_read(r->token_file, &token);
        if (k < 0) {
                snprintf(r->stats.last_error, sizeof(r->stats.last_error),
                         "cannot read the token file %s: %s", r->token_file,
                         k == -EINVAL ? "empty, or not a token (a byte that is not visible ASCII)"
                                      : strerror(-k));
                if (!r->token_error_logged)
                        log_warning("Not reporting to memschedd at %s: %s (schedulerTokenFile); "
                                    "trying again every %s",
                                    r->base_url, r->stats.last_error,
                                    format_delay(r->p.heartbeat_usec, (char[32]){}));
                r->token_error_logged = true;
                r->stats.failed++;
                r->stats.consecutive_failures++;
                request_release(r);
                r->current_sent = false;
                schedule_at(r, now_usec(CLOCK_MONOTONIC) + r->p.heartbeat_usec);
                return -1;
        }
        if (r->token_error_logged)
                log_info("The token file %s is readable again: reporting to memschedd at %s",
                         r->token_file, r->base_url);
        r->token_error_logged = false;
        k = asprintf(&auth, "Authorization: Bearer %s", token);
        explicit_bzero(token, strlen(token));
        struct curl_slist *h = k < 0 ? NULL : sym_curl_slist_append(r->headers, auth);
        if (k < 0)
                auth = NULL;
        if (auth)
                explicit_bzero(auth, strlen(auth));
        if (!h) { /* out of memory: the check of r->headers after this says so */
                sym_curl_slist_free_all(r->headers);
                r->headers = NULL;
        } else
                r->headers = h;
        return 0;
}

static int on_send_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct reporter *r = userdata;
        size_t len = 0;
        (void)s;
        (void)usec;

        r->stats.next_attempt_usec = 0;
        if (r->easy || !r->current)
                return 0;
        r->body = make_body(r, &len);
        r->body_report = report_dup(r->current);
        r->easy = sym_curl_easy_init();
        r->headers = sym_curl_slist_append(NULL, "Content-Type: application/json");
        if (r->headers) {
                /* No "Expect: 100-continue" round trip (curl waits up to 1 s for it). */
                struct curl_slist *h = sym_curl_slist_append(r->headers, "Expect:");
                if (h)
                        r->headers = h;
        }
        if (r->token_file && r->headers && add_token(r) < 0)
                return 0;
        if (!r->body || !r->body_report || !r->easy || !r->headers) {
                request_release(r);
                log_warning("Failed to prepare the node report for memschedd: out of memory; "
                            "retrying in 1 s");
                schedule_at(r, now_usec(CLOCK_MONOTONIC) + 1000000);
                return 0;
        }
        long timeout_ms = (long)(r->p.timeout_usec / 1000);
        r->response_len = 0;
        r->response[0] = '\0';
        r->curl_error[0] = '\0';
        sym_curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
        sym_curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
        sym_curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
        sym_curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        sym_curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
        sym_curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
        sym_curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        sym_curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_write);
        sym_curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        sym_curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->curl_error);
        sym_curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "memagentd/" MEMAGENT_VERSION);
        if (r->tls && set_tls(r) < 0) {
                request_release(r);
                log_warning("Failed to set up TLS for the node report to %s; retrying in 1 s",
                            r->base_url);
                schedule_at(r, now_usec(CLOCK_MONOTONIC) + 1000000);
                return 0;
        }
        if (curl_event_add(r->curl, r->easy, on_request_done, r) < 0) {
                request_release(r);
                log_warning("Failed to start the node report request to %s; retrying in 1 s",
                            r->base_url);
                schedule_at(r, now_usec(CLOCK_MONOTONIC) + 1000000);
                return 0;
        }
        r->current_sent = true;
        r->last_send_usec = now_usec(CLOCK_MONOTONIC);
        r->stats.last_attempt_usec = now_usec(CLOCK_REALTIME);
        r->stats.in_flight = true;
        return 0;
}

/* Reads memschedd's {"error": ...} out of a refusal, for the log line. */
static void refusal_message(const struct reporter *r, char *buf, size_t size)
{
        struct json_object *o = NULL, *e = NULL;
        struct api_error err = {};
        if (api_parse(r->response, r->response_len, &o, &err) == 0 &&
            json_object_object_get_ex(o, "error", &e) && json_object_is_type(e, json_type_string))
                snprintf(buf, size, "%s", json_object_get_string(e));
        else
                snprintf(buf, size, "%.*s", (int)(size - 1), r->response);
        if (o)
                json_object_put(o);
}

static void on_success(struct reporter *r)
{
        char d[32];
        if (r->stats.consecutive_failures && r->ever_failed_logged)
                log_info("memschedd at %s reachable again after %u failed attempts; reporting "
                         "every %s",
                         r->base_url, r->stats.consecutive_failures,
                         format_delay(r->p.heartbeat_usec, d));
        else if (r->stats.sent == 0)
                log_info("Reporting node %s to memschedd at %s (heartbeat every %s)", r->node_name,
                         r->base_url, format_delay(r->p.heartbeat_usec, d));
        else if (r->refused_logged)
                log_info("memschedd at %s accepts the node report again", r->base_url);
        r->stats.sent++;
        r->stats.consecutive_failures = 0;
        r->stats.reachable = true;
        r->stats.backoff_usec = 0;
        r->stats.last_success_usec = now_usec(CLOCK_REALTIME);
        r->stats.last_error[0] = '\0';
        r->ever_failed_logged = false;
        r->refused_logged = false;
        report_free(r->accepted);
        r->accepted = r->body_report; /* request_release() must not free it */
        r->body_report = NULL;
}

static void on_failure(struct reporter *r, bool unreachable)
{
        char d[32], m[32];
        r->stats.failed++;
        r->stats.consecutive_failures++;
        if (!unreachable) {
                /* memschedd answered and refused: retrying at once would be refused again. */
                r->stats.reachable = true;
                r->stats.backoff_usec = 0;
                if (!r->refused_logged)
                        log_warning("memschedd at %s refused the node report: %s; sending the "
                                    "next one in %s",
                                    r->base_url, r->stats.last_error,
                                    format_delay(r->p.heartbeat_usec, d));
                r->refused_logged = true;
                schedule_at(r, now_usec(CLOCK_MONOTONIC) + r->p.heartbeat_usec);
                return;
        }
        /* The report did not arrive: the newest one (maybe this one) goes out at the retry. */
        r->current_sent = false;
        r->stats.reachable = false;
        uint64_t b = r->stats.backoff_usec ? r->stats.backoff_usec * 2 : r->p.backoff_min_usec;
        if (b > r->p.backoff_max_usec)
                b = r->p.backoff_max_usec;
        r->stats.backoff_usec = b;
        uint64_t delay = b / 2 + random_next(&r->rand_state) % (b / 2 + 1); /* [b/2, b] */
        if (!r->ever_failed_logged)
                log_warning("memschedd at %s unreachable: %s; retrying in %s, backing off up "
                            "to %s (the node stays protected meanwhile)",
                            r->base_url, r->stats.last_error, format_delay(delay, d),
                            format_delay(r->p.backoff_max_usec, m));
        else
                log_debug("memschedd at %s still unreachable (%u attempts): %s; retrying in %s",
                          r->base_url, r->stats.consecutive_failures, r->stats.last_error,
                          format_delay(delay, d));
        r->ever_failed_logged = true;
        schedule_at(r, now_usec(CLOCK_MONOTONIC) + delay);
}

/* Failures of the TLS layer: memschedd's certificate not trusted or not for its host, ours
 * unreadable or refused. Said as such: the fix is in the certificates, not the network. */
static bool is_tls_error(CURLcode res)
{
        switch (res) {
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
#if LIBCURL_VERSION_NUM >= 0x074d00
        case CURLE_SSL_CLIENTCERT:
#endif
                return true;
        default:
                return false;
        }
}

static void on_request_done(CURL *easy, CURLcode res, void *userdata)
{
        struct reporter *r = userdata;
        long code = 0;
        (void)easy;

        sym_curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        if (res != CURLE_OK) {
                snprintf(r->stats.last_error, sizeof(r->stats.last_error), "%s%.*s",
                         is_tls_error(res) ? "TLS: " : "", (int)sizeof(r->stats.last_error) - 8,
                         r->curl_error[0] ? r->curl_error : sym_curl_easy_strerror(res));
                on_failure(r, true);
        } else if (code >= 200 && code < 300) {
                on_success(r);
        } else {
                char why[200];
                refusal_message(r, why, sizeof(why));
                snprintf(r->stats.last_error, sizeof(r->stats.last_error), "HTTP %ld: %s", code,
                         why);
                on_failure(r, code >= 500);
        }
        request_release(r);
        plan_next(r);
}

/* ---------- public ---------- */

int reporter_new(sd_event *e, const char *base_url, const char *node_name,
                 const struct reporter_params *p, struct reporter **ret)
{
        struct reporter *r;
        int k;

        if (!node_name || !node_name_is_valid(node_name, strlen(node_name)))
                return log_error_errno(EINVAL,
                                       "Node name \"%s\" is not a Kubernetes node name (RFC 1123 "
                                       "subdomain); set --node-name or NODE_NAME",
                                       node_name ? node_name : "");
        if (!base_url ||
            (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0))
                return log_error_errno(EINVAL,
                                       "Scheduler URL \"%s\" must start with http:// or https://",
                                       base_url ? base_url : "");
        struct reporter_params params = p ? *p : REPORTER_PARAMS_DEFAULT;
        bool tls = strncmp(base_url, "https://", 8) == 0;
        bool has_cert = params.cert_file && *params.cert_file,
             has_key = params.key_file && *params.key_file,
             has_ca = params.ca_file && *params.ca_file;
        if (has_cert != has_key)
                return log_error_errno(EINVAL,
                                       "The client certificate and its key go together: got %s "
                                       "without %s",
                                       has_cert ? "a certificate" : "a key",
                                       has_cert ? "a key" : "a certificate");
        if (!tls && (has_cert || has_ca))
                return log_error_errno(
                    EINVAL, "TLS files given for \"%s\", which is not an https:// URL", base_url);
        if (params.heartbeat_usec < 100000 || params.timeout_usec < 1000 ||
            params.backoff_min_usec < 1000 || params.backoff_max_usec < params.backoff_min_usec)
                return log_error_errno(EINVAL, "Invalid reporter intervals");
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->p = params;
        r->event = sd_event_ref(e);
        size_t n = strlen(base_url);
        while (n && base_url[n - 1] == '/')
                n--;
        r->base_url = strndup(base_url, n);
        snprintf(r->run_id, sizeof(r->run_id), "%d-%llu", (int)getpid(),
                 (unsigned long long)now_usec(CLOCK_REALTIME));
        r->node_name = strdup(node_name);
        r->tls = tls;
        /* memschedd accepts a token over plain HTTP only on loopback or with --insecure. */
        if (!tls && params.token_file && *params.token_file &&
            strncmp(base_url, "http://127.", 11) != 0 &&
            strncmp(base_url, "http://localhost", 16) != 0 &&
            strncmp(base_url, "http://[::1]", 12) != 0)
                log_warning("schedulerTokenFile with the plain http:// schedulerUrl %s: the token "
                            "crosses the network in clear, for anyone on the path to replay; use "
                            "https://",
                            r->base_url ? r->base_url : base_url);
        if ((params.token_file && *params.token_file &&
             !(r->token_file = strdup(params.token_file))) ||
            (has_ca && !(r->ca_file = strdup(params.ca_file))) ||
            (has_cert && !(r->cert_file = strdup(params.cert_file))) ||
            (has_key && !(r->key_file = strdup(params.key_file)))) {
                reporter_free(r);
                return -ENOMEM;
        }
        /* Borrowed: not to be used after this call. */
        r->p.ca_file = r->p.cert_file = r->p.key_file = r->p.token_file = NULL;
        if (!r->base_url || !r->node_name ||
            asprintf(&r->url, "%s/v1/nodes/%s/report", r->base_url, node_name) < 0) {
                r->url = NULL;
                reporter_free(r);
                return -ENOMEM;
        }
        r->rand_state = random_seed();
        if ((k = curl_event_new(e, "reporter", "reports to memschedd (schedulerUrl)", &r->curl)) <
            0) {
                reporter_free(r);
                return log_error_errno(k, "Failed to set up libcurl on the event loop: %m");
        }
        if ((k = sd_event_add_time(e, &r->send_timer, CLOCK_MONOTONIC, 0, 1000, on_send_timer, r)) <
                0 ||
            (k = sd_event_source_set_enabled(r->send_timer, SD_EVENT_OFF)) < 0) {
                reporter_free(r);
                return log_error_errno(k, "Failed to add the reporter's timers: %m");
        }
        (void)sd_event_source_set_description(r->send_timer, "reporter-send");
        *ret = r;
        return 0;
}

int reporter_submit(struct reporter *r, const struct node_report *report)
{
        if (!r || !report)
                return 0;
        struct node_report *c = report_dup(report);
        if (!c)
                return -ENOMEM; /* the older report, if any, stays current */
        if (r->current && !r->current_sent)
                r->stats.superseded++;
        report_free(r->current);
        r->current = c;
        r->current_sent = false;
        plan_next(r);
        return 0;
}

void reporter_get_stats(const struct reporter *r, struct reporter_stats *ret)
{
        *ret = r->stats;
}

struct json_object *reporter_stats_json(const struct reporter *r)
{
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        api_add(o, "url", json_object_new_string(r->url));
        api_add(o, "sent", json_object_new_uint64(r->stats.sent));
        api_add(o, "failed", json_object_new_uint64(r->stats.failed));
        api_add(o, "superseded", json_object_new_uint64(r->stats.superseded));
        api_add(o, "consecutive_failures", json_object_new_uint64(r->stats.consecutive_failures));
        api_add(o, "reachable", json_object_new_boolean(r->stats.reachable));
        api_add(o, "backoff_ms", json_object_new_uint64(r->stats.backoff_usec / 1000));
        api_add(o, "last_success_usec",
                r->stats.last_success_usec ? json_object_new_uint64(r->stats.last_success_usec)
                                           : NULL);
        api_add(o, "last_error",
                r->stats.last_error[0] ? json_object_new_string(r->stats.last_error) : NULL);
        return o;
}

struct reporter *reporter_free(struct reporter *r)
{
        if (!r)
                return NULL;
        request_release(r);
        r->curl = curl_event_free(r->curl);
        r->send_timer = sd_event_source_disable_unref(r->send_timer);
        report_free(r->current);
        report_free(r->accepted);
        free(r->url);
        free(r->base_url);
        free(r->node_name);
        free(r->ca_file);
        free(r->cert_file);
        free(r->token_file);
        free(r->key_file);
        sd_event_unref(r->event);
        free(r);
        return NULL;
}
