// SPDX-License-Identifier: Apache-2.0
// The local API: a root-only unix socket, one request per connection ("status", "explain [N]",
// "recommend"), one JSON answer. `memagent status|explain|recommend` are its clients.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/daemon/kube.h"
#include "agent/daemon/manager-private.h"
#include "agent/daemon/reporter.h"
#include "agent/kernel/status.h"
#include "bpf/bpfsig.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"

#define API_TIMEOUT_SEC 2

static struct json_object *daemon_status_json(struct manager *m)
{
        struct json_object *root = status_to_json(&m->node, &m->model);
        if (!root)
                return NULL;
        /* Each pod as the API names it (null when it does not know it, or standalone). */
        struct json_object *pods;
        if (json_object_object_get_ex(root, "pods", &pods))
                for (size_t i = 0; i < json_object_array_length(pods); i++) {
                        struct json_object *po = json_object_array_get_idx(pods, i), *uid;
                        const struct k8s_pod_meta *meta =
                            m->kube.pod_lookup && json_object_object_get_ex(po, "uid", &uid)
                                ? m->kube.pod_lookup(m->kube.ud, json_object_get_string(uid))
                                : NULL;
                        json_object_object_add(po, "namespace",
                                               meta ? json_object_new_string(meta->namespace_)
                                                    : NULL);
                        json_object_object_add(po, "name",
                                               meta ? json_object_new_string(meta->name) : NULL);
                        json_object_object_add(po, "priority",
                                               meta ? json_object_new_int(meta->priority) : NULL);
                }
        /* The Kubernetes API as memagentd sees it: null when standalone. */
        struct kube_side_status ks;
        kube_side_status(m->kube_side, &ks);
        struct json_object *kj = NULL;
        if (ks.configured) {
                kj = json_object_new_object();
                json_object_object_add(kj, "server", json_object_new_string(ks.server));
                json_object_object_add(kj, "pods_listed", json_object_new_boolean(ks.synced));
                json_object_object_add(kj, "pods", json_object_new_int64((int64_t)ks.pods));
                json_object_object_add(kj, "last_error", json_object_new_string(ks.last_error));
                json_object_object_add(kj, "events_pending",
                                       json_object_new_int64((int64_t)ks.events_pending));
                json_object_object_add(kj, "resize_supported",
                                       json_object_new_boolean(ks.resize_supported));
        }
        json_object_object_add(root, "kubernetes", kj);
        /* The remote swap (lease, bytes swapped, donors): null when none is configured. */
        json_object_object_add(root, "remote_swap", remote_swap_status_json(m));
        struct json_object *pr = json_object_new_object();
        for (enum scope_id i = 0; i < _SCOPE_MAX; i++) {
                const struct scope_state *s = &m->state.scopes[i];
                if (!s->active) {
                        json_object_object_add(pr, scope_to_string(i), NULL);
                        continue;
                }
                struct json_object *o = json_object_new_object();
                json_object_object_add(
                    o, "level", json_object_new_string(pressure_level_to_string(s->st.level)));
                json_object_object_add(o, "available_bytes",
                                       json_object_new_uint64(s->st.available_bytes));
                json_object_object_add(o, "total_bytes", json_object_new_uint64(s->st.total_bytes));
                json_object_object_add(o, "stall_some_pct", json_object_new_double(s->st.some_pct));
                json_object_object_add(o, "stall_full_pct", json_object_new_double(s->st.full_pct));
                json_object_object_add(o, "low_below_bytes",
                                       json_object_new_uint64(s->params.avail_low_bytes));
                json_object_object_add(o, "medium_below_bytes",
                                       json_object_new_uint64(s->params.avail_medium_bytes));
                json_object_object_add(o, "critical_below_bytes",
                                       json_object_new_uint64(s->params.avail_critical_bytes));
                json_object_object_add(pr, scope_to_string(i), o);
        }
        json_object_object_add(root, "pressure", pr);
        struct json_object *dm = json_object_new_object();
        json_object_object_add(dm, "dry_run", json_object_new_boolean(m->p.dry_run));
        json_object_object_add(dm, "kills_total", json_object_new_uint64(m->state.kills_total));
        json_object_object_add(dm, "decisions_total",
                               json_object_new_uint64(m->state.decisions_total));
        json_object_object_add(
            dm, "bpf_attach",
            m->bpf ? json_object_new_string(bpfsig_attach_to_string(bpfsig_attach_type(m->bpf)))
                   : NULL);
        json_object_object_add(dm, "kernel_oom_kills_total",
                               json_object_new_uint64(m->kernel_oom_kills));
        json_object_object_add(dm, "reclaim_stall_events_total",
                               json_object_new_uint64(m->stall_events));
        if (m->elastic) {
                uint64_t reclaimed, lent;
                elastic_totals(&m->state, &reclaimed, &lent);
                json_object_object_add(dm, "balloon_reclaimed_bytes_total",
                                       json_object_new_uint64(reclaimed));
                json_object_object_add(dm, "vscale_lent_bytes", json_object_new_uint64(lent));
        }
        json_object_object_add(root, "daemon", dm);
        json_object_object_add(root, "scheduler",
                               m->reporter ? reporter_stats_json(m->reporter) : NULL);
        return root;
}

static int on_api(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct manager *m = userdata;
        (void)s;
        (void)revents;
        _cleanup_close_ int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
                return 0;
        struct timeval tv = { .tv_sec = API_TIMEOUT_SEC };
        (void)setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        char req[128];
        ssize_t n = recv(c, req, sizeof(req) - 1, 0);
        if (n <= 0)
                return 0;
        req[n] = '\0';
        req[strcspn(req, "\r\n")] = '\0';
        /* The socket is 0600, but its mode may be changed (or its directory bind-mounted into a
         * container): the peer's credentials decide too (after its request is read, so that the
         * refusal reaches it rather than a reset). Root, or memagentd's own user. */
        struct ucred cred;
        socklen_t cred_len = sizeof(cred);
        if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0 ||
            (cred.uid != 0 && cred.uid != geteuid())) {
                static const char refusal[] =
                    "{\"error\":\"permission denied: memagentd's local API answers root only\"}";
                log_notice("Local API: refused a client with uid %d (pid %d): root only",
                           cred_len == sizeof(cred) ? (int)cred.uid : -1,
                           cred_len == sizeof(cred) ? (int)cred.pid : -1);
                (void)send(c, refusal, sizeof(refusal) - 1, MSG_NOSIGNAL);
                return 0;
        }

        struct json_object *resp = NULL;
        if (streq(req, "status"))
                resp = daemon_status_json(m);
        else if (strncmp(req, "explain", 7) == 0) {
                unsigned long k = req[7] == ' ' ? strtoul(req + 8, NULL, 10) : 10;
                resp = json_object_new_object();
                json_object_object_add(resp, "decisions", decision_log_json(&m->log, k ? k : 10));
        } else if (streq(req, "recommend") && m->elastic) {
                resp = elastic_recommend_json(&m->state, &m->ap.elastic, now_usec(CLOCK_MONOTONIC));
        } else {
                resp = json_object_new_object();
                char msg[200];
                snprintf(msg, sizeof(msg),
                         "unknown request \"%.60s\" (status, explain [N], recommend)", req);
                json_object_object_add(resp, "error", json_object_new_string(msg));
        }
        if (!resp)
                return 0;
        const char *out = json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t len = strlen(out), off = 0;
        while (off < len) {
                ssize_t w = send(c, out + off, len - off, MSG_NOSIGNAL);
                if (w <= 0)
                        break;
                off += (size_t)w;
        }
        json_object_put(resp);
        return 0;
}

int local_api_setup(struct manager *m)
{
        if (!m->p.api_socket || !*m->p.api_socket)
                return 0;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(m->p.api_socket) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "apiSocket %s: path too long",
                                       m->p.api_socket);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->p.api_socket);
        /* Create the parent directory (/run/memagent) if needed, private to root. */
        char dir[sizeof(sa.sun_path)];
        snprintf(dir, sizeof(dir), "%s", m->p.api_socket);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                (void)mkdir(dir, 0755);
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create the API socket: %m");
        (void)unlink(m->p.api_socket);
        mode_t old = umask(0177); /* the socket is 0600: root only, from the start */
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r == 0)
                r = chmod(m->p.api_socket, 0600);
        if (r < 0 || listen(fd, 16) < 0) {
                r = log_error_errno(errno, "Failed to listen on %s: %m", m->p.api_socket);
                safe_close(fd);
                return r;
        }
        m->listen_fd = fd;
        r = sd_event_add_io(m->event, &m->api_src, fd, EPOLLIN, on_api, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the API socket: %m");
        log_info("Local API listening on %s", m->p.api_socket);
        return 0;
}

void local_api_close(struct manager *m)
{
        m->api_src = sd_event_source_disable_unref(m->api_src);
        if (m->listen_fd >= 0 && m->p.api_socket)
                (void)unlink(m->p.api_socket);
        m->listen_fd = safe_close(m->listen_fd);
}
