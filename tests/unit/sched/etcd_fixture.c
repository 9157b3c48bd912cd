// SPDX-License-Identifier: Apache-2.0
#include "etcd_fixture.h"

#include "api/curl-dl.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *etcd_binary(void)
{
        const char *e = getenv("ETCD");
        return e && *e ? e : "etcd";
}

bool etcd_fixture_must_run(void)
{
        const char *ci = getenv("CI");
        return ci && strcmp(ci, "true") == 0;
}

bool etcd_fixture_available(void)
{
        const char *bin = etcd_binary();
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "command -v '%s' >/dev/null 2>&1", bin);
        if (system(cmd) == 0)
                return true;
        fprintf(stderr,
                "\n"
                "************************************************************************\n"
                "*** SKIPPING the etcd half of this test: no etcd binary (%s).\n"
                "*** Install Debian's etcd-server (scripts/install-deps.sh does).\n"
                "************************************************************************\n\n",
                bin);
        return false;
}

static unsigned free_port(void)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unsigned port = 0;
        if (fd < 0)
                return 0;
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
                port = ntohs(a.sin_port);
        close(fd);
        return port;
}

void etcd_fixture_url(const struct etcd_fixture *f, size_t i, char *buf, size_t size)
{
        snprintf(buf, size, "%s://127.0.0.1:%u", f->certs[0] ? "https" : "http", f->client_port[i]);
}

static int spawn(struct etcd_fixture *f, size_t i)
{
        char name[16], data[128], client[64], peer[64], cluster[512] = "", log[128];
        snprintf(name, sizeof(name), "m%zu", i);
        snprintf(data, sizeof(data), "%s/%s", f->dir, name);
        snprintf(log, sizeof(log), "%s/%s.log", f->dir, name);
        etcd_fixture_url(f, i, client, sizeof(client));
        snprintf(peer, sizeof(peer), "http://127.0.0.1:%u", f->peer_port[i]);
        for (size_t k = 0; k < f->n; k++) {
                size_t len = strlen(cluster);
                snprintf(cluster + len, sizeof(cluster) - len, "%sm%zu=http://127.0.0.1:%u",
                         k ? "," : "", k, f->peer_port[k]);
        }
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                char cert[128], key[128], ca[128];
                snprintf(cert, sizeof(cert), "%s/server.crt", f->certs);
                snprintf(key, sizeof(key), "%s/server.key", f->certs);
                snprintf(ca, sizeof(ca), "%s/ca.crt", f->certs);
                const char *argv[32] = { etcd_binary(), "--name",
                                         name,          "--data-dir",
                                         data,          "--listen-client-urls",
                                         client,        "--advertise-client-urls",
                                         client,        "--listen-peer-urls",
                                         peer,          "--initial-advertise-peer-urls",
                                         peer,          "--initial-cluster",
                                         cluster,       "--initial-cluster-state",
                                         "new",         "--initial-cluster-token",
                                         f->dir };
                size_t k = 19;
                if (f->certs[0]) {
                        argv[k++] = "--cert-file";
                        argv[k++] = cert;
                        argv[k++] = "--key-file";
                        argv[k++] = key;
                        argv[k++] = "--trusted-ca-file";
                        argv[k++] = ca;
                        argv[k++] = "--client-cert-auth";
                }
                execvp(argv[0], (char *const *)argv);
                _exit(127);
        }
        f->pid[i] = pid;
        return 0;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
        (void)data;
        (void)userdata;
        return size * nmemb;
}

/* Until member i's /health says it has a leader (20 s at most). */
static int wait_healthy(struct etcd_fixture *f, size_t i)
{
        char url[96];
        etcd_fixture_url(f, i, url, sizeof(url));
        strcat(url, "/health");
        CURL *c = sym_curl_easy_init();
        if (!c)
                return -ENOMEM;
        sym_curl_easy_setopt(c, CURLOPT_URL, url);
        sym_curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
        sym_curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        char cert[128], key[128], ca[128];
        if (f->certs[0]) {
                snprintf(cert, sizeof(cert), "%s/client.crt", f->certs);
                snprintf(key, sizeof(key), "%s/client.key", f->certs);
                snprintf(ca, sizeof(ca), "%s/ca.crt", f->certs);
                sym_curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
                sym_curl_easy_setopt(c, CURLOPT_SSLKEY, key);
                sym_curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        }
        int r = -ETIMEDOUT;
        for (int tries = 0; tries < 200; tries++) {
                long status = 0;
                if (sym_curl_easy_perform(c) == CURLE_OK &&
                    sym_curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
                    status == 200) {
                        r = 0;
                        break;
                }
                if (waitpid(f->pid[i], NULL, WNOHANG) == f->pid[i]) {
                        f->pid[i] = 0;
                        r = -ECHILD;
                        break;
                }
                usleep(100 * 1000);
        }
        sym_curl_easy_cleanup(c);
        if (r < 0)
                fprintf(stderr, "etcd member %zu did not become healthy (%s); see %s/m%zu.log\n", i,
                        strerror(-r), f->dir, i);
        return r;
}

int etcd_fixture_make_certs(const char *dir)
{
        char cmd[2048];
        if (system("command -v openssl >/dev/null 2>&1") != 0)
                return -ENOENT;
        /* P-256 keys: quick to make. The server certificate names 127.0.0.1, as the URLs do. */
        snprintf(cmd, sizeof(cmd),
                 "set -e; cd '%s'; exec 2>openssl.log; k='-newkey ec -pkeyopt "
                 "ec_paramgen_curve:P-256 -nodes';"
                 "openssl req -x509 $k -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca;"
                 "openssl req $k -keyout server.key -out server.csr -subj /CN=127.0.0.1;"
                 "printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n'"
                 " >server.ext;"
                 "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
                 " -out server.crt -days 2 -extfile server.ext;"
                 "openssl req $k -keyout client.key -out client.csr -subj /CN=memschedd;"
                 "printf 'extendedKeyUsage=clientAuth\n' >client.ext;"
                 "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
                 " -out client.crt -days 2 -extfile client.ext",
                 dir);
        return system(cmd) == 0 ? 0 : -EIO;
}

int etcd_fixture_start(struct etcd_fixture *f, size_t n)
{
        return etcd_fixture_start_tls(f, n, NULL);
}

int etcd_fixture_start_tls(struct etcd_fixture *f, size_t n, const char *certs_dir)
{
        int r = 0;
        if (n == 0 || n > ETCD_FIXTURE_MAX)
                return -EINVAL;
        *f = (struct etcd_fixture){ .n = n };
        if (certs_dir)
                snprintf(f->certs, sizeof(f->certs), "%s", certs_dir);
        snprintf(f->dir, sizeof(f->dir), "/tmp/memsched-etcd-XXXXXX");
        if (!mkdtemp(f->dir))
                return -errno;
        r = curl_dl_open("the etcd test fixture");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                f->client_port[i] = free_port();
                f->peer_port[i] = free_port();
                if (!f->client_port[i] || !f->peer_port[i])
                        return -EADDRNOTAVAIL;
                size_t len = strlen(f->endpoints);
                snprintf(f->endpoints + len, sizeof(f->endpoints) - len, "%s%s://127.0.0.1:%u",
                         i ? "," : "", certs_dir ? "https" : "http", f->client_port[i]);
        }
        for (size_t i = 0; i < n && r >= 0; i++)
                r = spawn(f, i);
        for (size_t i = 0; i < n && r >= 0; i++)
                r = wait_healthy(f, i);
        if (r < 0)
                etcd_fixture_stop(f);
        return r;
}

void etcd_fixture_kill(struct etcd_fixture *f, size_t i)
{
        if (f->pid[i] <= 0)
                return;
        kill(f->pid[i], SIGKILL);
        waitpid(f->pid[i], NULL, 0);
        f->pid[i] = 0;
}

int etcd_fixture_restart(struct etcd_fixture *f, size_t i)
{
        etcd_fixture_kill(f, i);
        int r = spawn(f, i);
        return r < 0 ? r : wait_healthy(f, i);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        remove(path);
        return 0;
}

void etcd_fixture_stop(struct etcd_fixture *f)
{
        for (size_t i = 0; i < f->n; i++)
                etcd_fixture_kill(f, i);
        if (f->dir[0] && !getenv("ETCD_FIXTURE_KEEP"))
                nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
