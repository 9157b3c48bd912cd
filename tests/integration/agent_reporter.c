// SPDX-License-Identifier: Apache-2.0
// The agent's report sender against the real memschedd on 127.0.0.1, on a real sd-event loop
// that also runs a 10 ms ticker (standing in for the agent's own work):
//   1. a report built by report_build() arrives (GET /v1/nodes/{name} shows it), heartbeats
//      follow, a small change waits for the heartbeat and a pressure change goes at once;
//   2. memschedd stopped: failures are counted, the backoff grows to its cap, the ticker never
//      stalls (max gap < LOOP_BLOCKED_USEC);
//   3. a listener that accepts but never answers: the request times out, the ticker never stalls;
//   4. memschedd started again on the same port: the report arrives again;
//   5. a server answering 503: the requests it receives (its own clock, not the reporter's
//      stats) follow the backoff's schedule, each delay within [backoff/2, backoff];
//   6. a server answering 400 (memschedd refusing the report): no backoff and no tight loop, the
//      next attempt waits for the heartbeat, the refusal is logged once with memschedd's reason,
//      and the recovery once when the server accepts again.
// Before them, the report's encoding: what report_build() fills and node_report_encode() writes
// is what memschedd's decoder reads back, racy values clamped.
// Every phase is bounded in time; the test stops by itself.
//   agent_reporter MEMSCHEDD
#include "api/curl-dl.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/daemon/report.h"
#include "agent/daemon/reporter.h"
#include "api/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

#define NODE "it-node-1"
#define GiB  (1ull << 30)

static const char *memschedd_bin;
static char workdir[] = "/tmp/agent-reporter.XXXXXX";
static pid_t memschedd_pid = -1;
static unsigned port;
static int failures;

#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
                        fprintf(stderr, __VA_ARGS__);                                              \
                        fputc('\n', stderr);                                                       \
                        failures++;                                                                \
                }                                                                                  \
        } while (0)

/* ---------- memschedd ---------- */

static void stop_memschedd(void)
{
        if (memschedd_pid <= 0)
                return;
        kill(memschedd_pid, SIGTERM);
        for (int i = 0; i < 100; i++) {
                if (waitpid(memschedd_pid, NULL, WNOHANG) == memschedd_pid) {
                        memschedd_pid = -1;
                        return;
                }
                usleep(50000);
        }
        kill(memschedd_pid, SIGKILL);
        waitpid(memschedd_pid, NULL, 0);
        memschedd_pid = -1;
}

/* Starts memschedd on 127.0.0.1:want (0: any) and returns the port, or 0. */
static unsigned start_memschedd(unsigned want)
{
        char listen[64], state[256], portfile[256], log[256];
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", want);
        snprintf(state, sizeof(state), "%s/state.db", workdir);
        snprintf(portfile, sizeof(portfile), "%s/port", workdir);
        snprintf(log, sizeof(log), "%s/memschedd.log", workdir);
        unlink(portfile);
        /* The old process may still hold the port for a moment: retry a few times. */
        for (int attempt = 0; attempt < 20; attempt++) {
                pid_t pid = fork();
                if (pid < 0)
                        return 0;
                if (pid == 0) {
                        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                        if (fd >= 0) {
                                dup2(fd, 1);
                                dup2(fd, 2);
                        }
                        execl(memschedd_bin, memschedd_bin, "--listen", listen, "--state-file",
                              state, "--port-file", portfile, "--threads", "2", (char *)NULL);
                        _exit(127);
                }
                for (int i = 0; i < 100; i++) {
                        FILE *f = fopen(portfile, "re");
                        unsigned p = 0;
                        if (f) {
                                if (fscanf(f, "%u", &p) != 1)
                                        p = 0;
                                fclose(f);
                                if (p) {
                                        memschedd_pid = pid;
                                        return p;
                                }
                        }
                        if (waitpid(pid, NULL, WNOHANG) == pid)
                                break;
                        usleep(50000);
                }
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                usleep(200000);
        }
        return 0;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct api_buf *b = userdata;
        api_buf_append(b, data, size * nmemb);
        return size * nmemb;
}

/* GET path from memschedd (blocking: only between loop phases). Returns the HTTP status and
 * the parsed body in *ret (or NULL). */
static long http_get(const char *path, struct json_object **ret)
{
        char url[256];
        struct api_buf b = {};
        long code = 0;
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
        CURL *c = sym_curl_easy_init();
        sym_curl_easy_setopt(c, CURLOPT_URL, url);
        sym_curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        sym_curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        sym_curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        if (sym_curl_easy_perform(c) == CURLE_OK)
                sym_curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        sym_curl_easy_cleanup(c);
        *ret = NULL;
        char *s = NULL;
        size_t n = 0;
        struct api_error err = {};
        if (api_buf_finish(&b, &s, &n) == 0 && n)
                (void)api_parse(s, n, ret, &err);
        free(s);
        return code;
}

static uint64_t json_u64(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;
        return o && json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

/* ---------- a scripted HTTP server ---------- */

/* Answers every request with `status` and `body`, and notes when each connection arrived, on
 * its own thread so that the loop under test is never blocked by it. */
struct fake_server {
        int lfd;
        unsigned port;
        pthread_t thread;
        pthread_mutex_t lock;
        int status;
        const char *body;
        uint64_t at_usec[64]; /* CLOCK_MONOTONIC of each request's connection */
        size_t n;
        bool stop;
};

static bool fake_stopping(struct fake_server *f)
{
        pthread_mutex_lock(&f->lock);
        bool stop = f->stop;
        pthread_mutex_unlock(&f->lock);
        return stop;
}

/* Reads one request: the headers, then Content-Length bytes of body. */
static void fake_read_request(int fd)
{
        char buf[65536];
        size_t len = 0, want = 0;
        char *eoh = NULL;
        while (len < sizeof(buf) - 1) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                if (poll(&pfd, 1, 2000) <= 0)
                        return;
                ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (k <= 0)
                        return;
                len += (size_t)k;
                buf[len] = '\0';
                if (!eoh && (eoh = strstr(buf, "\r\n\r\n"))) {
                        const char *cl = strcasestr(buf, "Content-Length:");
                        want = (size_t)(eoh + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
                }
                if (eoh && len >= want)
                        return;
        }
}

static void *fake_serve(void *userdata)
{
        struct fake_server *f = userdata;
        while (!fake_stopping(f)) {
                struct pollfd pfd = { .fd = f->lfd, .events = POLLIN };
                if (poll(&pfd, 1, 20) <= 0)
                        continue;
                int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                pthread_mutex_lock(&f->lock);
                if (f->n < ELEMENTSOF(f->at_usec))
                        f->at_usec[f->n++] = now;
                int status = f->status;
                const char *body = f->body;
                pthread_mutex_unlock(&f->lock);
                fake_read_request(fd);
                char resp[1024];
                int n = snprintf(resp, sizeof(resp),
                                 "HTTP/1.1 %d Scripted\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                                 status, strlen(body), body);
                if (write(fd, resp, (size_t)n) != n)
                        fprintf(stderr, "fake server: short write\n");
                close(fd);
        }
        return NULL;
}

static int fake_start(struct fake_server *f, int status, const char *body)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t alen = sizeof(a);
        *f = (struct fake_server){ .status = status, .body = body };
        pthread_mutex_init(&f->lock, NULL);
        f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            listen(f->lfd, 8) < 0 || getsockname(f->lfd, (struct sockaddr *)&a, &alen) < 0 ||
            pthread_create(&f->thread, NULL, fake_serve, f) != 0) {
                if (f->lfd >= 0)
                        close(f->lfd);
                return -1;
        }
        f->port = ntohs(a.sin_port);
        return 0;
}

static void fake_set_answer(struct fake_server *f, int status, const char *body)
{
        pthread_mutex_lock(&f->lock);
        f->status = status;
        f->body = body;
        pthread_mutex_unlock(&f->lock);
}

/* Copies the arrival times noted so far into at (up to max); returns how many. */
static size_t fake_arrivals(struct fake_server *f, uint64_t *at, size_t max)
{
        pthread_mutex_lock(&f->lock);
        size_t n = f->n < max ? f->n : max;
        memcpy(at, f->at_usec, n * sizeof(*at));
        pthread_mutex_unlock(&f->lock);
        return n;
}

static void fake_stop(struct fake_server *f)
{
        pthread_mutex_lock(&f->lock);
        f->stop = true;
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
        close(f->lfd);
        pthread_mutex_destroy(&f->lock);
}

/* ---------- stderr, where the reporter logs ---------- */

static int saved_stderr = -1;

static void capture_stderr(const char *path)
{
        fflush(stderr);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        saved_stderr = dup(2);
        if (fd >= 0) {
                dup2(fd, 2);
                close(fd);
        }
}

/* Restores stderr, echoes what was captured (so it still shows in the test's output) and
 * counts the lines holding needle_a and needle_b. */
static void release_stderr(const char *path, const char *needle_a, unsigned *ret_a,
                           const char *needle_b, unsigned *ret_b)
{
        char line[1024];
        fflush(stderr);
        dup2(saved_stderr, 2);
        close(saved_stderr);
        *ret_a = *ret_b = 0;
        FILE *f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f)) {
                fputs(line, stderr);
                *ret_a += strstr(line, needle_a) != NULL;
                *ret_b += strstr(line, needle_b) != NULL;
        }
        if (f)
                fclose(f);
}

/* ---------- the loop ---------- */

/* A client that blocked the loop would stall it for a whole request timeout (SILENT_TIMEOUT_USEC
 * against the silent listener). Scheduling alone delays a 10 ms ticker by up to ~0.4 s on a
 * loaded 2-core machine (two QEMU guests beside this test), so the bound sits between the two. */
#define SILENT_TIMEOUT_USEC 1500000ull
#define LOOP_BLOCKED_USEC   (SILENT_TIMEOUT_USEC / 2)

struct ticker {
        sd_event_source *src;
        uint64_t last_usec, max_gap_usec;
        unsigned ticks;
};

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct ticker *t = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        (void)usec;
        if (t->last_usec && now - t->last_usec > t->max_gap_usec)
                t->max_gap_usec = now - t->last_usec;
        t->last_usec = now;
        t->ticks++;
        sd_event_source_set_time(s, now + 10000);
        return 0;
}

static void ticker_reset(struct ticker *t)
{
        t->last_usec = 0;
        t->max_gap_usec = 0;
        t->ticks = 0;
}

/* Runs the loop for at most max_usec, or until done(r) holds. Returns true if done held. */
static bool run_until(sd_event *e, struct reporter *r, uint64_t max_usec,
                      bool (*done)(const struct reporter_stats *st, const void *arg),
                      const void *arg)
{
        uint64_t end = now_usec(CLOCK_MONOTONIC) + max_usec;
        while (now_usec(CLOCK_MONOTONIC) < end) {
                struct reporter_stats st;
                reporter_get_stats(r, &st);
                if (done && done(&st, arg))
                        return true;
                if (sd_event_run(e, 5000) < 0)
                        return false;
        }
        return false;
}

static bool sent_at_least(const struct reporter_stats *st, const void *arg)
{
        return st->sent >= *(const uint64_t *)arg;
}

static bool failed_at_least(const struct reporter_stats *st, const void *arg)
{
        return st->failed >= *(const uint64_t *)arg;
}

struct arrivals_want {
        struct fake_server *server;
        size_t n;
};

static bool arrivals_at_least(const struct reporter_stats *st, const void *arg)
{
        const struct arrivals_want *w = arg;
        uint64_t at[64];
        (void)st;
        return fake_arrivals(w->server, at, ELEMENTSOF(at)) >= w->n;
}

/* ---------- the report ---------- */

static struct node_sample sample;
static struct pod pods[2];
static struct model model;

static struct node_report make_report(uint64_t available, enum pressure_level level, size_t n_pods)
{
        sample.mem.total = 16 * GiB;
        sample.mem.available = available;
        sample.mem.free = available / 2;
        sample.has_psi = true;
        sample.psi.some.avg10 = 1.5;
        sample.n_zones = 1;
        sample.zones[0] = (struct numa_zone){ .id = 0, .total = 16 * GiB, .free = available / 2 };
        snprintf(pods[0].uid, sizeof(pods[0].uid), "pod-uid-a");
        pods[0].qos = QOS_BURSTABLE;
        pods[0].cg.s.have = CG_HAVE(CGF_CURRENT);
        pods[0].cg.s.working_set = 300 << 20;
        snprintf(pods[1].uid, sizeof(pods[1].uid), "pod-uid-b");
        pods[1].qos = QOS_GUARANTEED;
        model.pods = pods;
        model.n_pods = n_pods;
        struct report_input in = { .node_name = NODE,
                                   .node = &sample,
                                   .model = &model,
                                   .level = level,
                                   .level_duration_ms = level ? 1500 : 0,
                                   .reserved_bytes = GiB };
        struct node_report rep = {};
        CHECK(report_build(&in, &rep) == 0, "report_build");
        return rep;
}

static void submit(struct reporter *r, struct node_report rep)
{
        CHECK(reporter_submit(r, &rep) == 0, "reporter_submit");
        node_report_done(&rep); /* the reporter keeps its own copy */
}

static const struct report_pod_meta web_meta = { "web", "default", "rs-1", 64 << 20, 7, true };

static const struct report_pod_meta *meta_of(const char *uid, void *userdata)
{
        (void)userdata;
        return strcmp(uid, "pod-uid-b") == 0 ? &web_meta : NULL;
}

/* report_build() → node_report_encode() → text → node_report_decode(), as memschedd reads it. */
static void check_report_codec(void)
{
        struct node_sample ns = { .has_psi = true };
        struct pod p[3] = {};
        struct model m = { .pods = p, .n_pods = 3 };
        ns.mem = (struct meminfo){
                .total = 1000, .available = 1200, .free = 300, .swap_total = 50, .swap_free = 60
        }; /* a racy sample: above its totals */
        ns.psi.some = (struct psi_line){ 0.25, 1.1, 12.34, 999 };
        ns.n_zones = 2;
        ns.zones[0] = (struct numa_zone){ .id = 0, .total = 500, .free = 600, .file = 100 };
        ns.zones[1] = (struct numa_zone){
                .id = 1, .total = 500, .free = 100, .file = 900, .sreclaimable = 300
        };
        snprintf(p[0].uid, sizeof(p[0].uid), "pod-uid-a");
        p[0].qos = QOS_NONE;
        p[0].cg.s.have = CG_HAVE(CGF_CURRENT);
        p[0].cg.s.working_set = 77;
        snprintf(p[1].uid, sizeof(p[1].uid), "pod-uid-b"); /* no memory.current */
        p[1].qos = QOS_GUARANTEED;
        snprintf(p[2].uid, sizeof(p[2].uid), "pod-uid-c");
        p[2].qos = QOS_BESTEFFORT;
        struct report_input in = { .node_name = NODE,
                                   .node = &ns,
                                   .model = &m,
                                   .level = LEVEL_MEDIUM,
                                   .level_duration_ms = 1500,
                                   .relief_exhausted = true,
                                   .reserved_bytes = 2000,
                                   .pod_meta = meta_of };
        _cleanup_(node_report_done) struct node_report built = {}, got = {};
        CHECK(report_build(&in, &built) == 0, "report_build");
        built.seq = 5;
        _cleanup_json_ struct json_object *o = node_report_encode(&built);
        size_t len = 0;
        _cleanup_free_ char *text = api_to_string(o, &len);
        _cleanup_json_ struct json_object *parsed = NULL;
        struct api_error err = {};
        CHECK(text && api_parse(text, len, &parsed, &err) == 0, "report text not JSON");
        if (!parsed || node_report_decode(parsed, &got, &err) < 0) {
                CHECK(false, "memschedd's decoder refused the report: %s: %s", err.field,
                      err.message);
                return;
        }
        CHECK(got.node_name && strcmp(got.node_name, NODE) == 0 && got.seq == 5, "name, seq");
        CHECK(got.memory_total_bytes == 1000 && got.memory_available_bytes == 1000 &&
                  got.memory_free_bytes == 300 && got.swap_free_bytes == 50 &&
                  got.reserved_bytes == 1000,
              "node memory not clamped to its totals");
        CHECK(got.has_psi && !got.has_psi_full && got.psi_some.avg10 == 0.25 &&
                  got.psi_some.avg60 == 1.1 && got.psi_some.avg300 == 12.34 &&
                  got.psi_some.total_usec == 999,
              "psi %g %g %g", got.psi_some.avg10, got.psi_some.avg60, got.psi_some.avg300);
        CHECK(got.pressure == LEVEL_MEDIUM && got.pressure_duration_ms == 1500 &&
                  got.relief_exhausted,
              "pressure");
        CHECK(got.n_zones == 2 && got.zones[0].free_bytes == 500 &&
                  got.zones[0].reclaimable_bytes == 0 && got.zones[1].file_bytes == 500 &&
                  got.zones[1].reclaimable_bytes == 400,
              "zones: free %llu, reclaimable %llu and %llu",
              got.n_zones ? (unsigned long long)got.zones[0].free_bytes : 0ull,
              got.n_zones ? (unsigned long long)got.zones[0].reclaimable_bytes : 0ull,
              got.n_zones > 1 ? (unsigned long long)got.zones[1].reclaimable_bytes : 0ull);
        CHECK(got.n_pods == 3, "%zu pods", got.n_pods);
        if (got.n_pods != 3)
                return;
        CHECK(strcmp(got.pods[0].uid, "pod-uid-a") == 0 && got.pods[0].qos == QOS_BURSTABLE &&
                  got.pods[0].working_set_bytes == 77 && !got.pods[0].name &&
                  got.pods[0].limit_bytes == API_UNLIMITED && got.pods[0].numa_zone == -1,
              "pod a");
        CHECK(got.pods[1].qos == QOS_GUARANTEED && got.pods[1].working_set_bytes == 0 &&
                  got.pods[1].name && strcmp(got.pods[1].name, "web") == 0 &&
                  strcmp(got.pods[1].namespace, "default") == 0 &&
                  strcmp(got.pods[1].owner_uid, "rs-1") == 0 &&
                  got.pods[1].request_bytes == 64 << 20 && got.pods[1].priority == 7 &&
                  got.pods[1].protected_,
              "pod b (with metadata)");
        CHECK(got.pods[2].qos == QOS_BESTEFFORT, "pod c: qos %d", got.pods[2].qos);
        printf("ok: the report as built and encoded is what memschedd decodes\n");
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: %s MEMSCHEDD\n", argv[0]);
                return 2;
        }
        memschedd_bin = argv[1];
        log_set_ident("agent_reporter");
        log_set_target(LOG_TARGET_STDERR);
        signal(SIGPIPE, SIG_IGN);
        if (!mkdtemp(workdir))
                return 1;
        if (curl_dl_open("the test's requests to memschedd") < 0)
                return 1;

        sd_event *e = NULL;
        struct reporter *r = NULL, *r2 = NULL;
        struct ticker t = {};
        struct json_object *o = NULL;
        struct reporter_stats st;
        uint64_t want;
        int lfd = -1;

        check_report_codec();
        port = start_memschedd(0);
        if (!port) {
                fprintf(stderr, "FAIL: memschedd did not start\n");
                return 1;
        }
        CHECK(sd_event_new(&e) >= 0, "sd_event_new");
        CHECK(sd_event_add_time_relative(e, &t.src, CLOCK_MONOTONIC, 10000, 1000, on_tick, &t) >= 0,
              "ticker");
        sd_event_source_set_enabled(t.src, SD_EVENT_ON);

        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
        struct reporter_params p = { .heartbeat_usec = 400000,
                                     .timeout_usec = 400000,
                                     .backoff_min_usec = 100000,
                                     .backoff_max_usec = 800000 };
        CHECK(reporter_new(e, url, "Not_A_Node", &p, &r) == -EINVAL, "bad node name accepted");
        CHECK(reporter_new(e, "ftp://x", NODE, &p, &r) == -EINVAL, "bad URL accepted");
        if (reporter_new(e, url, NODE, &p, &r) < 0) {
                fprintf(stderr, "FAIL: reporter_new\n");
                stop_memschedd();
                return 1;
        }

        /* ---- 1. the report arrives, heartbeats follow */
        CHECK(http_get("/v1/nodes/" NODE, &o) == 404, "node known before any report");
        json_object_put(o);
        submit(r, make_report(10 * GiB, LEVEL_NONE, 2));
        want = 1;
        CHECK(run_until(e, r, 3000000, sent_at_least, &want), "first report not accepted");
        CHECK(http_get("/v1/nodes/" NODE, &o) == 200, "GET /v1/nodes/" NODE " after the report");
        CHECK(json_u64(o, "memory_available_bytes") == 10 * GiB, "available %llu",
              (unsigned long long)json_u64(o, "memory_available_bytes"));
        CHECK(json_u64(o, "pod_count") == 2, "pod_count %llu",
              (unsigned long long)json_u64(o, "pod_count"));
        CHECK(json_u64(o, "system_reserved_bytes") == GiB, "reserved");
        CHECK(json_u64(o, "seq") == 1, "seq %llu", (unsigned long long)json_u64(o, "seq"));
        json_object_put(o);
        printf("ok: report arrived (GET /v1/nodes/%s shows it)\n", NODE);

        ticker_reset(&t);
        run_until(e, r, 1000000, NULL, NULL);
        CHECK(t.max_gap_usec < LOOP_BLOCKED_USEC, "ticker gap %llu us while reporting",
              (unsigned long long)t.max_gap_usec);
        reporter_get_stats(r, &st);
        CHECK(st.sent >= 2 && st.sent <= 5, "%llu reports after 1 s with a 400 ms heartbeat",
              (unsigned long long)st.sent);
        CHECK(st.failed == 0 && st.reachable, "failures while memschedd is up");
        printf("ok: heartbeat: %llu reports in 1 s\n", (unsigned long long)st.sent);

        /* A restarted agent (a new reporter: a new run, seq from 1 again) is taken at once,
         * while the node is fresh and its last seq is higher: memschedd counts seq per run. */
        {
                struct reporter *rr = NULL;
                struct reporter_stats rst;
                CHECK(reporter_new(e, url, NODE, &p, &rr) == 0, "reporter_new (restart)");
                submit(rr, make_report(10 * GiB, LEVEL_NONE, 2));
                want = 1;
                CHECK(run_until(e, rr, 3000000, sent_at_least, &want),
                      "the report of a restarted agent was not accepted");
                reporter_get_stats(rr, &rst);
                CHECK(rst.failed == 0, "a restarted agent's report refused: %s",
                      rst.last_error[0] ? rst.last_error : "?");
                rr = reporter_free(rr);
                printf("ok: a restarted agent's reports are accepted at once (new run_id)\n");
        }

        /* A 1% change waits for the heartbeat; a pressure change goes at once. */
        want = st.sent + 1;
        run_until(e, r, 1000000, sent_at_least, &want); /* right after a heartbeat */
        reporter_get_stats(r, &st);
        submit(r, make_report(10 * GiB + 100 * (1 << 20), LEVEL_NONE, 2));
        run_until(e, r, 100000, NULL, NULL);
        struct reporter_stats st2;
        reporter_get_stats(r, &st2);
        CHECK(st2.sent == st.sent, "a 1%% change was sent before the heartbeat");
        submit(r, make_report(10 * GiB, LEVEL_CRITICAL, 2));
        want = st2.sent + 1;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        CHECK(run_until(e, r, 1000000, sent_at_least, &want), "pressure change not sent");
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 300000, "pressure change took %llu us",
              (unsigned long long)(now_usec(CLOCK_MONOTONIC) - t0));
        CHECK(http_get("/v1/nodes/" NODE, &o) == 200, "GET");
        struct json_object *pr = NULL, *lvl = NULL;
        CHECK(json_object_object_get_ex(o, "pressure", &pr) &&
                  json_object_object_get_ex(pr, "level", &lvl) &&
                  strcmp(json_object_get_string(lvl), "critical") == 0,
              "pressure level not critical in memschedd");
        json_object_put(o);
        ticker_reset(&t); /* the GET above blocked the loop on purpose; measure from here */
        submit(r, make_report(10 * GiB, LEVEL_CRITICAL, 1)); /* a pod left */
        reporter_get_stats(r, &st);
        want = st.sent + 1;
        t0 = now_usec(CLOCK_MONOTONIC);
        CHECK(run_until(e, r, 1000000, sent_at_least, &want) &&
                  now_usec(CLOCK_MONOTONIC) - t0 < 300000,
              "pod set change not sent at once");
        CHECK(t.max_gap_usec < LOOP_BLOCKED_USEC, "ticker gap %llu us while memschedd is up",
              (unsigned long long)t.max_gap_usec);
        printf(
            "ok: small change waits for the heartbeat; pressure and pod set changes go at once\n");

        /* ---- 2. memschedd down: failures counted, backoff grows, the loop keeps running */
        stop_memschedd();
        ticker_reset(&t);
        submit(r, make_report(9 * GiB, LEVEL_CRITICAL, 1));
        uint64_t backoffs[8] = {};
        size_t nb = 0;
        reporter_get_stats(r, &st);
        uint64_t failed0 = st.failed;
        for (uint64_t k = 1; k <= 6; k++) {
                want = failed0 + k;
                if (!run_until(e, r, 3000000, failed_at_least, &want))
                        break;
                reporter_get_stats(r, &st);
                backoffs[nb++] = st.backoff_usec;
        }
        CHECK(nb == 6, "only %zu failures while memschedd is down", nb);
        CHECK(!st.reachable && st.consecutive_failures >= 6, "reachable while down");
        CHECK(strstr(st.last_error, "onnect") != NULL, "last error \"%s\"", st.last_error);
        for (size_t i = 1; i < nb; i++)
                CHECK(backoffs[i] == (backoffs[i - 1] * 2 > p.backoff_max_usec
                                          ? p.backoff_max_usec
                                          : backoffs[i - 1] * 2),
                      "backoff %zu: %llu after %llu", i, (unsigned long long)backoffs[i],
                      (unsigned long long)backoffs[i - 1]);
        CHECK(nb && backoffs[0] == p.backoff_min_usec && backoffs[nb - 1] == p.backoff_max_usec,
              "backoff from %llu to %llu", nb ? (unsigned long long)backoffs[0] : 0ull,
              nb ? (unsigned long long)backoffs[nb - 1] : 0ull);
        CHECK(t.max_gap_usec < LOOP_BLOCKED_USEC && t.ticks > 50,
              "ticker: %u ticks, max gap %llu us while memschedd is down", t.ticks,
              (unsigned long long)t.max_gap_usec);
        printf("ok: memschedd down: %zu failures, backoff %llu ms -> %llu ms, ticker max gap %llu "
               "us over %u ticks\n",
               nb, (unsigned long long)(backoffs[0] / 1000),
               (unsigned long long)(backoffs[nb ? nb - 1 : 0] / 1000),
               (unsigned long long)t.max_gap_usec, t.ticks);

        /* ---- 3. a listener that accepts and never answers: the request times out */
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t alen = sizeof(a);
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, 8) == 0 &&
                  getsockname(lfd, (struct sockaddr *)&a, &alen) == 0,
              "silent listener");
        char silent[64];
        snprintf(silent, sizeof(silent), "http://127.0.0.1:%u", ntohs(a.sin_port));
        struct reporter_params ps = p;
        ps.timeout_usec = SILENT_TIMEOUT_USEC; /* a blocking client would stall this long */
        CHECK(reporter_new(e, silent, NODE, &ps, &r2) == 0, "reporter_new (silent)");
        ticker_reset(&t);
        submit(r2, make_report(9 * GiB, LEVEL_NONE, 1));
        want = 2;
        t0 = now_usec(CLOCK_MONOTONIC);
        CHECK(run_until(e, r2, 3 * SILENT_TIMEOUT_USEC + 2000000, failed_at_least, &want),
              "no timeout against the silent "
              "listener");
        reporter_get_stats(r2, &st);
        CHECK(strstr(st.last_error, "imed out") != NULL, "last error \"%s\"", st.last_error);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 >= 2 * ps.timeout_usec, "two timeouts in %llu us",
              (unsigned long long)(now_usec(CLOCK_MONOTONIC) - t0));
        CHECK(t.max_gap_usec < LOOP_BLOCKED_USEC && t.ticks > 40,
              "ticker: %u ticks, max gap %llu us during timeouts", t.ticks,
              (unsigned long long)t.max_gap_usec);
        printf("ok: silent listener: \"%s\", ticker max gap %llu us over %u ticks\n", st.last_error,
               (unsigned long long)t.max_gap_usec, t.ticks);
        r2 = reporter_free(r2);
        close(lfd);

        /* ---- 4. memschedd back on the same port: the report arrives again */
        reporter_get_stats(r, &st);
        unsigned p2 = start_memschedd(port);
        CHECK(p2 == port, "memschedd restarted on port %u, wanted %u", p2, port);
        want = st.sent + 1;
        CHECK(run_until(e, r, 5000000, sent_at_least, &want),
              "no report after memschedd came back");
        reporter_get_stats(r, &st);
        CHECK(st.reachable && st.backoff_usec == 0 && st.consecutive_failures == 0 &&
                  st.last_error[0] == '\0',
              "not healthy after recovery");
        CHECK(http_get("/v1/nodes/" NODE, &o) == 200, "GET after the restart");
        CHECK(json_u64(o, "memory_available_bytes") == 9 * GiB, "the newest report won: %llu",
              (unsigned long long)json_u64(o, "memory_available_bytes"));
        json_object_put(o);
        struct json_object *sj = reporter_stats_json(r);
        printf("ok: memschedd back: report arrived again; stats %s\n",
               json_object_to_json_string_ext(sj, JSON_C_TO_STRING_PLAIN));
        json_object_put(sj);

        /* ---- 5. 503: the gaps the server measures grow with the backoff */
        struct fake_server fs;
        struct reporter *r3 = NULL;
        char fake_url[64];
        /* Long enough that the last step (1.6 s) cannot pass for the first (0.2 s), even with the
         * slack a loaded machine needs. */
        struct reporter_params pb = p;
        pb.backoff_min_usec = 200000;
        pb.backoff_max_usec = 1600000;
        pb.heartbeat_usec = 10000000;
        /* Arrivals are noted by another thread of a loaded machine, sometimes a few hundred ms
         * late (two QEMU guests beside this test): a late one makes its gap long and the next
         * short. So each arrival is checked against the schedule since the first, where such a
         * delay does not add up, with that much slack either way. */
        const uint64_t slack_usec = 300000;
        CHECK(fake_start(&fs, 503, "{\"error\":\"scripted outage\"}") == 0, "fake server");
        snprintf(fake_url, sizeof(fake_url), "http://127.0.0.1:%u", fs.port);
        CHECK(reporter_new(e, fake_url, NODE, &pb, &r3) == 0, "reporter_new (503)");
        submit(r3, make_report(9 * GiB, LEVEL_LOW, 1));
        struct arrivals_want aw = { &fs, 6 };
        CHECK(run_until(e, r3, 8000000, arrivals_at_least, &aw), "6 requests against a 503 server");
        uint64_t at[64];
        size_t na = fake_arrivals(&fs, at, ELEMENTSOF(at));
        uint64_t b = pb.backoff_min_usec, lo = 0, hi = 0;
        for (size_t i = 1; i < na && i < 6; i++) {
                /* Request i-1 failed: the reporter waits a delay drawn from [b/2, b]. */
                uint64_t gap = at[i] - at[i - 1], since = at[i] - at[0];
                lo += b / 2;
                hi += b;
                CHECK(since + slack_usec >= lo && since <= hi + slack_usec,
                      "request %zu: %llu us after the first, want [%llu, %llu] +- %llu "
                      "(backoff %llu us)",
                      i, (unsigned long long)since, (unsigned long long)lo, (unsigned long long)hi,
                      (unsigned long long)slack_usec, (unsigned long long)b);
                printf("503: gap %zu = %llu ms (backoff %llu ms)\n", i,
                       (unsigned long long)(gap / 1000), (unsigned long long)(b / 1000));
                b = b * 2 > pb.backoff_max_usec ? pb.backoff_max_usec : b * 2;
        }
        reporter_get_stats(r3, &st);
        CHECK(!st.reachable && strstr(st.last_error, "HTTP 503: scripted outage"),
              "503 stats: reachable %d, last error \"%s\"", st.reachable, st.last_error);
        r3 = reporter_free(r3);
        fake_stop(&fs);

        /* ---- 6. 400: refused, no backoff, retried at the heartbeat, logged once a streak.
         * Refused from the first report (nothing accepted to compare with), accepted, refused
         * again, accepted again: seven requests, every gap the heartbeat. */
        char logpath[256];
        snprintf(logpath, sizeof(logpath), "%s/refusal.log", workdir);
        const char *accept_body = "{\"node_name\":\"" NODE "\",\"seq\":1}";
        const char *refuse_body = "{\"error\":\"pods[0].uid: must not be empty\"}";
        CHECK(fake_start(&fs, 400, refuse_body) == 0, "fake server");
        snprintf(fake_url, sizeof(fake_url), "http://127.0.0.1:%u", fs.port);
        CHECK(reporter_new(e, fake_url, NODE, &p, &r3) == 0, "reporter_new (400)");
        capture_stderr(logpath);
        submit(r3, make_report(9 * GiB, LEVEL_LOW, 1));
        want = 3;
        bool got = run_until(e, r3, 3000000, failed_at_least, &want);
        struct reporter_stats refused;
        reporter_get_stats(r3, &refused);
        fake_set_answer(&fs, 200, accept_body);
        want = 1;
        got = got && run_until(e, r3, 2000000, sent_at_least, &want);
        fake_set_answer(&fs, 400, refuse_body);
        want = 5;
        got = got && run_until(e, r3, 3000000, failed_at_least, &want);
        fake_set_answer(&fs, 200, accept_body);
        want = 2;
        got = got && run_until(e, r3, 2000000, sent_at_least, &want);
        reporter_get_stats(r3, &st);
        unsigned refusals_logged, recoveries_logged;
        release_stderr(logpath,
                       "refused the node report: HTTP 400: pods[0].uid: must not be empty; "
                       "sending the next one in",
                       &refusals_logged, "accepts the node report again", &recoveries_logged);
        na = fake_arrivals(&fs, at, ELEMENTSOF(at));
        CHECK(got && na == 7 && st.failed == 5 && st.sent == 2,
              "%zu requests, %llu refused, %llu accepted; want 7, 5, 2", na,
              (unsigned long long)st.failed, (unsigned long long)st.sent);
        for (size_t i = 1; i < na && i < 7; i++) {
                uint64_t gap = at[i] - at[i - 1], since = at[i] - at[0],
                         want_since = i * p.heartbeat_usec;
                CHECK(since + slack_usec >= want_since && since <= want_since + slack_usec,
                      "request %zu: %llu us after the first, want %zu heartbeats (%llu us) +- "
                      "%llu us",
                      i, (unsigned long long)since, i, (unsigned long long)want_since,
                      (unsigned long long)slack_usec);
                printf("400: gap %zu = %llu ms (heartbeat %llu ms)\n", i,
                       (unsigned long long)(gap / 1000),
                       (unsigned long long)(p.heartbeat_usec / 1000));
        }
        CHECK(refused.failed == 3 && refused.sent == 0 && refused.backoff_usec == 0 &&
                  refused.reachable && refused.consecutive_failures == 3,
              "400 stats: failed %llu, sent %llu, backoff %llu us, reachable %d",
              (unsigned long long)refused.failed, (unsigned long long)refused.sent,
              (unsigned long long)refused.backoff_usec, refused.reachable);
        CHECK(strcmp(refused.last_error, "HTTP 400: pods[0].uid: must not be empty") == 0,
              "last error \"%s\"", refused.last_error);
        CHECK(refusals_logged == 2, "two refusal streaks logged %u times", refusals_logged);
        CHECK(recoveries_logged == 1, "the recovery after a refusal logged %u times",
              recoveries_logged);
        printf("ok: 400: %llu refusals in two streaks, %u log lines, retried at the heartbeat\n",
               (unsigned long long)st.failed, refusals_logged);
        r3 = reporter_free(r3);
        fake_stop(&fs);

        r = reporter_free(r);
        sd_event_source_disable_unref(t.src);
        sd_event_unref(e);
        stop_memschedd();
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", workdir);
        if (failures)
                fprintf(stderr, "%d checks failed\n", failures);
        return failures ? 1 : 0;
}
