// SPDX-License-Identifier: Apache-2.0
#include "etcd_fixture.h"

#include <arpa/inet.h>
#include <curl/curl.h>
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
        snprintf(buf, size, "http://127.0.0.1:%u", f->client_port[i]);
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
                execlp(etcd_binary(), etcd_binary(), "--name", name, "--data-dir", data,
                       "--listen-client-urls", client, "--advertise-client-urls", client,
                       "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                       "--initial-cluster", cluster, "--initial-cluster-state", "new",
                       "--initial-cluster-token", f->dir, (char *)NULL);
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
        CURL *c = curl_easy_init();
        if (!c)
                return -ENOMEM;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        int r = -ETIMEDOUT;
        for (int tries = 0; tries < 200; tries++) {
                long status = 0;
                if (curl_easy_perform(c) == CURLE_OK &&
                    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
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
        curl_easy_cleanup(c);
        if (r < 0)
                fprintf(stderr, "etcd member %zu did not become healthy (%s); see %s/m%zu.log\n", i,
                        strerror(-r), f->dir, i);
        return r;
}

int etcd_fixture_start(struct etcd_fixture *f, size_t n)
{
        int r = 0;
        if (n == 0 || n > ETCD_FIXTURE_MAX)
                return -EINVAL;
        *f = (struct etcd_fixture){ .n = n };
        snprintf(f->dir, sizeof(f->dir), "/tmp/memsched-etcd-XXXXXX");
        if (!mkdtemp(f->dir))
                return -errno;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        for (size_t i = 0; i < n; i++) {
                f->client_port[i] = free_port();
                f->peer_port[i] = free_port();
                if (!f->client_port[i] || !f->peer_port[i])
                        return -EADDRNOTAVAIL;
                size_t len = strlen(f->endpoints);
                snprintf(f->endpoints + len, sizeof(f->endpoints) - len, "%shttp://127.0.0.1:%u",
                         i ? "," : "", f->client_port[i]);
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
