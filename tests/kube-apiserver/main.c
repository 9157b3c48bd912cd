// SPDX-License-Identifier: Apache-2.0
// kube-test-apiserver: a TEST Kubernetes API server for memagent's contract tests (there is no
// kube-apiserver on the build machines). It serves HTTPS with a certificate the test made, and
// answers the few calls memagentd makes exactly as kube-apiserver does. See README.md.
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "selfsigned.h"
#include "server.h"

#define PEM_MAX_BYTES (256 * 1024)

struct options {
        const char *tls_cert, *tls_key, *port_file, *listen, *token_file, *pods, *record_dir;
        const char *node, *control_port_file, *self_signed_ca_out;
        const char *self_signed_cert_out, *self_signed_key_out;
        uint16_t port;
        bool no_resize;
};

static void usage(FILE *f)
{
        fputs(
            "usage: kube-test-apiserver (--tls-cert F --tls-key F |\n"
            "         --self-signed-ca-out F [--self-signed-cert-out F --self-signed-key-out F])\n"
            "         --port-file F [--port N]\n"
            "         [--listen 127.0.0.1] --token-file F --pods F.json --record-dir DIR\n"
            "         [--node NAME] [--no-resize] [--control-port-file F]\n",
            f);
}

static int parse_args(int argc, char **argv, struct options *o)
{
        enum {
                O_CERT = 256,
                O_KEY,
                O_PORT_FILE,
                O_PORT,
                O_LISTEN,
                O_TOKEN,
                O_PODS,
                O_RECORD,
                O_NODE,
                O_NO_RESIZE,
                O_CONTROL,
                O_SELF_SIGNED,
                O_SELF_SIGNED_CERT,
                O_SELF_SIGNED_KEY,
                O_HELP
        };
        static const struct option longopts[] = {
                { "tls-cert", required_argument, NULL, O_CERT },
                { "tls-key", required_argument, NULL, O_KEY },
                { "port-file", required_argument, NULL, O_PORT_FILE },
                { "port", required_argument, NULL, O_PORT },
                { "listen", required_argument, NULL, O_LISTEN },
                { "token-file", required_argument, NULL, O_TOKEN },
                { "pods", required_argument, NULL, O_PODS },
                { "record-dir", required_argument, NULL, O_RECORD },
                { "node", required_argument, NULL, O_NODE },
                { "no-resize", no_argument, NULL, O_NO_RESIZE },
                { "control-port-file", required_argument, NULL, O_CONTROL },
                { "self-signed-ca-out", required_argument, NULL, O_SELF_SIGNED },
                { "self-signed-cert-out", required_argument, NULL, O_SELF_SIGNED_CERT },
                { "self-signed-key-out", required_argument, NULL, O_SELF_SIGNED_KEY },
                { "help", no_argument, NULL, O_HELP },
                { 0 },
        };
        *o = (struct options){ .listen = "127.0.0.1" };
        int c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                switch (c) {
                case O_CERT:
                        o->tls_cert = optarg;
                        break;
                case O_KEY:
                        o->tls_key = optarg;
                        break;
                case O_PORT_FILE:
                        o->port_file = optarg;
                        break;
                case O_PORT: {
                        char *end;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (*end || v > 65535) {
                                fprintf(stderr, "kube-test-apiserver: --port %s: 0-65535\n",
                                        optarg);
                                return -EINVAL;
                        }
                        o->port = (uint16_t)v;
                        break;
                }
                case O_LISTEN:
                        o->listen = optarg;
                        break;
                case O_TOKEN:
                        o->token_file = optarg;
                        break;
                case O_PODS:
                        o->pods = optarg;
                        break;
                case O_RECORD:
                        o->record_dir = optarg;
                        break;
                case O_NODE:
                        o->node = optarg;
                        break;
                case O_NO_RESIZE:
                        o->no_resize = true;
                        break;
                case O_CONTROL:
                        o->control_port_file = optarg;
                        break;
                case O_SELF_SIGNED:
                        o->self_signed_ca_out = optarg;
                        break;
                case O_SELF_SIGNED_CERT:
                        o->self_signed_cert_out = optarg;
                        break;
                case O_SELF_SIGNED_KEY:
                        o->self_signed_key_out = optarg;
                        break;
                case O_HELP:
                        usage(stdout);
                        exit(0);
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        /* Either the test's own certificate and key, or one made here (no openssl needed). */
        bool tls_files = o->tls_cert && o->tls_key;
        if (optind != argc || tls_files == !!o->self_signed_ca_out ||
            (!tls_files && (o->tls_cert || o->tls_key)) ||
            (!o->self_signed_ca_out && (o->self_signed_cert_out || o->self_signed_key_out)) ||
            !o->self_signed_cert_out != !o->self_signed_key_out || !o->port_file ||
            !o->token_file || !o->pods || !o->record_dir) {
                fputs("kube-test-apiserver: --tls-cert and --tls-key, or else --self-signed-ca-out "
                      "(--self-signed-cert-out and --self-signed-key-out only with it, together), "
                      "and --port-file, --token-file, --pods and --record-dir are required\n",
                      stderr);
                usage(stderr);
                return -EINVAL;
        }
        if (o->node && strlen(o->node) >= KT_NAME_MAX) {
                fputs("kube-test-apiserver: --node: too long\n", stderr);
                return -EINVAL;
        }
        return 0;
}

static char *read_pem(const char *path)
{
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "kube-test-apiserver: cannot read %s: %m\n", path);
                return NULL;
        }
        char *buf = malloc(PEM_MAX_BYTES);
        size_t n = buf ? fread(buf, 1, PEM_MAX_BYTES - 1, f) : 0;
        fclose(f);
        if (!buf || n == 0) {
                fprintf(stderr, "kube-test-apiserver: %s is empty\n", path);
                free(buf);
                return NULL;
        }
        buf[n] = '\0';
        return buf;
}

/* Written to a temporary name and renamed, so a reader never sees half of it. */
static int write_file_atomic(const char *path, const char *text)
{
        char tmp[4096];
        if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        FILE *f = fopen(tmp, "we");
        if (!f) {
                fprintf(stderr, "kube-test-apiserver: cannot write %s: %m\n", tmp);
                return -errno;
        }
        fputs(text, f);
        if (fclose(f) != 0 || rename(tmp, path) < 0) {
                fprintf(stderr, "kube-test-apiserver: cannot write %s: %m\n", path);
                unlink(tmp);
                return -EIO;
        }
        return 0;
}

static int write_port_file(const char *path, uint16_t port)
{
        char text[16];
        snprintf(text, sizeof(text), "%u\n", (unsigned)port);
        return write_file_atomic(path, text);
}

int main(int argc, char **argv)
{
        struct options o;
        if (parse_args(argc, argv, &o) < 0)
                return 2;
        fputs("kube-test-apiserver: a TEST API server, not a live cluster\n", stderr);

        /* Signals are taken by sigtimedwait() below; the server threads inherit the mask. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        static struct state st;
        if (state_init(&st) < 0)
                return 1;
        /* resourceVersions go on rising across restarts, as etcd's revision does: they start
         * from the wall clock in microseconds. Everything before this start is compacted, so a
         * client that watches from a version of the previous run gets 410 Expired and relists. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        st.rv = st.compact_rv = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
        st.token_path = o.token_file;
        st.record_dir = o.record_dir;
        st.no_resize = o.no_resize;
        if (o.node)
                snprintf(st.default_node, sizeof(st.default_node), "%s", o.node);
        int exit_code = 1;
        char *cert = NULL, *key = NULL;
        struct http_server api = { .st = &st, .route = api_route };
        struct http_server control = { .st = &st, .route = control_route };

        if (mkdir(o.record_dir, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "kube-test-apiserver: cannot create %s: %m\n", o.record_dir);
                goto out;
        }
        char log_path[4096];
        snprintf(log_path, sizeof(log_path), "%s/requests.log", o.record_dir);
        st.requests_log = fopen(log_path, "ae");
        if (!st.requests_log) {
                fprintf(stderr, "kube-test-apiserver: cannot open %s: %m\n", log_path);
                goto out;
        }
        if (state_load_pods(&st, o.pods) < 0)
                goto out;
        if (o.self_signed_ca_out) {
                char *ca = NULL;
                if (selfsigned_make(&ca, &cert, &key) < 0)
                        goto out;
                /* Before the port file: a client that waited for the port finds the CA. */
                int r = write_file_atomic(o.self_signed_ca_out, ca);
                free(ca);
                /* A restart (--tls-cert/--tls-key with these) serves the same certificate, so
                 * that clients which cached the CA still trust it. */
                if (r >= 0 && o.self_signed_cert_out)
                        r = write_file_atomic(o.self_signed_cert_out, cert);
                if (r >= 0 && o.self_signed_key_out)
                        r = write_file_atomic(o.self_signed_key_out, key);
                if (r < 0)
                        goto out;
        } else if (!(cert = read_pem(o.tls_cert)) || !(key = read_pem(o.tls_key)))
                goto out;
        if (http_start(&api, o.listen, o.port, cert, key) < 0)
                goto out;
        if (o.control_port_file && (http_start(&control, "127.0.0.1", 0, NULL, NULL) < 0 ||
                                    write_port_file(o.control_port_file, control.port) < 0))
                goto out;
        if (write_port_file(o.port_file, api.port) < 0)
                goto out;
        fprintf(stderr,
                "kube-test-apiserver: serving %zu pods on https://%s:%u%s%s (control port %u)\n",
                st.n_pods, o.listen, (unsigned)api.port, o.node ? " for node " : "",
                o.node ? o.node : "", (unsigned)control.port);

        for (;;) {
                struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
                int sig = sigtimedwait(&mask, NULL, &tick);
                if (sig == SIGTERM || sig == SIGINT) {
                        fprintf(stderr, "kube-test-apiserver: signal %d, stopping\n", sig);
                        break;
                }
                /* Evicted pods whose grace period is over are deleted (the kubelet's part). */
                pthread_mutex_lock(&st.lock);
                state_reap(&st);
                pthread_mutex_unlock(&st.lock);
        }
        exit_code = 0;
out:
        /* Open watches end first, so that stopping the daemons does not wait for them. */
        pthread_mutex_lock(&st.lock);
        st.stopping = true;
        pthread_cond_broadcast(&st.changed);
        pthread_mutex_unlock(&st.lock);
        http_stop(&control);
        http_stop(&api);
        free(cert);
        free(key);
        state_done(&st);
        return exit_code;
}
