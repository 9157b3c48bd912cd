// SPDX-License-Identifier: Apache-2.0
// memschedd's HTTP request handling, whole: the real server (scheduler/server.c on
// libmicrohttpd) with a real cluster model runs in this process on an ephemeral loopback port,
// and every input is sent to it as one request. Routing, the node-name check of {name} paths,
// method checks, body collection, every handler with its decoders, report ingestion and the
// answers are all exercised as a client reaches them; every 64 requests the planner ticks over
// the reports ingested so far.
//
// Input: the first line is "METHOD PATH" (PATH may use %XX escapes; bytes a request line cannot
// carry are escaped by the harness), then any lines starting "Authorization:" are sent as that
// header (control bytes made '?'), the rest is the body:
//   POST /v1/nodes/w1/report
//   Authorization: Bearer fuzz-token-w1
//   {"node_name":"w1",...}
// The server checks bearer tokens against a token file holding fuzz-token-w1 (node w1) and
// fuzz-token-sched (kube-scheduler), so the Authorization parser and the token lookup run too.
// Beyond the sanitizers: every request gets an HTTP answer with a status line.
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "scheduler/cluster.h"
#include "scheduler/config.h"
#include "scheduler/server.h"
#include "tests/fuzz/fuzz.h"

static struct cluster *cluster;
static struct server *server;
static uint16_t port;
static char state_dir[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        return remove(path);
}

static void teardown(void)
{
        server_stop(server);
        cluster_free(cluster);
        nftw(state_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc, (void)argv;
        char state[128];
        const char *tmp = getenv("TMPDIR");

        log_set_max_level(LOG_ERR);
        snprintf(state_dir, sizeof(state_dir), "%s/memschedd-fuzz-XXXXXX", tmp ? tmp : "/tmp");
        if (!mkdtemp(state_dir))
                fuzz_fail("mkdtemp(%s): %m", state_dir);
        snprintf(state, sizeof(state), "%s/state.db", state_dir);
        static char tokens[128];
        snprintf(tokens, sizeof(tokens), "%s/tokens.csv", state_dir);
        FILE *tf = fopen(tokens, "we");
        if (!tf ||
            fputs("fuzz-token-w1,w1,uid-w1\nfuzz-token-sched,kube-scheduler,uid-ks,\"a,b\"\n", tf) <
                0 ||
            fclose(tf) != 0)
                fuzz_fail("writing %s: %m", tokens);
        struct sched_config cfg = SCHED_CONFIG_DEFAULTS;
        if (cluster_new(&cfg, state, &cluster) < 0)
                fuzz_fail("cluster_new failed");

        struct server_config scfg = {
                .threads = 1,
                .max_body_bytes = 1 << 20,
                .client_timeout_sec = 10,
                .max_connections = 64,
                .max_connections_per_client = 64,
                .request_memory_budget_bytes = 64 << 20,
                .token_file_path = tokens,
        };
        struct sockaddr_in *in = (struct sockaddr_in *)&scfg.addr;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in->sin_port = 0;
        scfg.addr_len = sizeof(*in);
        if (server_start(cluster, &scfg, &server) < 0)
                fuzz_fail("server_start failed");
        server_set_ready(server, true);
        port = server_port(server);
        atexit(teardown);
        return 0;
}

/* Appends the request line's path with what cannot appear in it escaped. */
static size_t put_path(char *out, const uint8_t *p, size_t n)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        if (n == 0 || p[0] != '/')
                out[o++] = '/';
        for (size_t i = 0; i < n; i++) {
                if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '#' || p[i] == '?') {
                        out[o++] = '%';
                        out[o++] = hex[p[i] >> 4];
                        out[o++] = hex[p[i] & 15];
                } else
                        out[o++] = (char)p[i];
        }
        return o;
}

static void send_all(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return; /* the server may answer (413, 404) and close before the body */
                p += w;
                n -= (size_t)w;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static unsigned n_requests;
        const uint8_t *nl = memchr(data, '\n', size);
        size_t line = nl ? (size_t)(nl - data) : size;
        const uint8_t *body = nl ? nl + 1 : data + size;
        /* Authorization lines, up to a few, become headers. */
        char auth[1024];
        size_t auth_len = 0;
        static const char hdr[] = "Authorization:";
        while ((size_t)(data + size - body) >= sizeof(hdr) - 1 &&
               memcmp(body, hdr, sizeof(hdr) - 1) == 0) {
                const uint8_t *end = memchr(body, '\n', (size_t)(data + size - body));
                size_t n = end ? (size_t)(end - body) : (size_t)(data + size - body);
                if (auth_len + n + 2 > sizeof(auth))
                        break;
                for (size_t i = 0; i < n; i++)
                        auth[auth_len++] = body[i] < 0x20 && body[i] != '\t' ? '?' : (char)body[i];
                auth[auth_len++] = '\r';
                auth[auth_len++] = '\n';
                body = end ? end + 1 : data + size;
        }
        size_t body_len = (size_t)(data + size - body);
        const uint8_t *sp = memchr(data, ' ', line);

        /* The method: letters only (libmicrohttpd answers anything else itself). */
        char method[16];
        size_t m = 0;
        for (size_t i = 0; sp && i < (size_t)(sp - data) && m < sizeof(method) - 1; i++)
                if (data[i] >= 'A' && data[i] <= 'Z')
                        method[m++] = (char)data[i];
        if (m == 0)
                m = (size_t)snprintf(method, sizeof(method), "POST");
        method[m] = '\0';
        const uint8_t *path = sp ? sp + 1 : data;
        size_t path_len = line - (size_t)(path - data);

        _cleanup_free_ char *head = malloc(path_len * 3 + 256 + auth_len);
        if (!head)
                return 0;
        size_t h = (size_t)sprintf(head, "%s ", method);
        h += put_path(head + h, path, path_len);
        h += (size_t)sprintf(head + h,
                             " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                             "Content-Type: application/json\r\nContent-Length: %zu\r\n%.*s\r\n",
                             body_len, (int)auth_len, auth);

        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                fuzz_fail("socket: %m");
        struct timeval tv = { .tv_sec = 20 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int c = connect(fd, (struct sockaddr *)&a, sizeof(a));
        if (c < 0 && errno == EINTR) {
                close(fd); /* interrupted by libFuzzer's timers: this input another time */
                return 0;
        }
        if (c < 0)
                fuzz_fail("connect to memschedd: %m");
        send_all(fd, head, h);
        send_all(fd, (const char *)body, body_len);

        char answer[64];
        size_t got = 0;
        for (;;) {
                char sink[4096];
                ssize_t r = recv(fd, sink, sizeof(sink), 0);
                if (r < 0 && errno == EINTR)
                        continue; /* libFuzzer's timers; SO_RCVTIMEO still bounds the wait */
                if (r < 0)
                        fuzz_fail("no answer from memschedd within 20 s: %m");
                if (r == 0)
                        break;
                if (got < sizeof(answer) - 1) {
                        size_t k = (size_t)r < sizeof(answer) - 1 - got ? (size_t)r
                                                                        : sizeof(answer) - 1 - got;
                        memcpy(answer + got, sink, k);
                        got += k;
                }
        }
        close(fd);
        answer[got] = '\0';
        unsigned status = 0;
        if (sscanf(answer, "HTTP/1.%*1[01] %3u", &status) != 1 || status < 100 || status > 599)
                fuzz_fail("%s %.*s: memschedd closed the connection without an HTTP answer "
                          "(got %zu bytes: \"%.40s\")",
                          method, (int)path_len, (const char *)path, got, answer);

        if (++n_requests % 64 == 0)
                (void)cluster_tick(cluster, now_usec(CLOCK_MONOTONIC), now_usec(CLOCK_REALTIME));
        return 0;
}
