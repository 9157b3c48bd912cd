// SPDX-License-Identifier: Apache-2.0
// `memagent trace`: load the BPF memory signals, stream OOM victims and reclaim stalls above a
// threshold as they happen (JSON lines, or one line each for people), and print the per-cgroup
// aggregates at the end. Cgroup ids are resolved to paths by walking the cgroup root, and to
// Kubernetes pods and containers with the model's name parsers.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/kernel/model.h"
#include "bpf/bpfsig.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

/* ------------------------------------------------------------ cgroup id -> path */

struct cg_entry {
        uint64_t id;
        char *path; /* relative to the root, "/" for the root */
};

struct cg_index {
        int root_fd;
        struct cg_entry *v;
        size_t n, cap;
        uint64_t walked_usec; /* when last walked (CLOCK_MONOTONIC) */
};

static int cg_index_add(struct cg_index *x, uint64_t id, const char *path)
{
        if (x->n == x->cap) {
                size_t cap = x->cap ? x->cap * 2 : 256;
                struct cg_entry *v = realloc(x->v, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                x->v = v;
                x->cap = cap;
        }
        char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        x->v[x->n++] = (struct cg_entry){ id, p };
        return 0;
}

static void cg_index_clear(struct cg_index *x)
{
        for (size_t i = 0; i < x->n; i++)
                free(x->v[i].path);
        x->n = 0;
}

/* Depth-first walk; cgroups that vanish during the walk are skipped. */
static int cg_walk(struct cg_index *x, int dfd, char *path, size_t len, size_t cap, int depth)
{
        struct stat st;
        if (fstat(dfd, &st) < 0)
                return 0;
        int r = cg_index_add(x, st.st_ino, len ? path : "/");
        if (r < 0 || depth > 32)
                return r;
        int fd2 = dup(dfd);
        if (fd2 < 0)
                return 0;
        DIR *d = fdopendir(fd2);
        if (!d) {
                close(fd2);
                return 0;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                size_t nl = strlen(de->d_name);
                if (len + 1 + nl + 1 > cap)
                        continue;
                int c = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (c < 0)
                        continue;
                path[len] = '/';
                memcpy(path + len + 1, de->d_name, nl + 1);
                r = cg_walk(x, c, path, len + 1 + nl, cap, depth + 1);
                path[len] = '\0';
                close(c);
                if (r < 0)
                        break;
        }
        closedir(d);
        return r < 0 ? r : 0;
}

static int cg_index_walk(struct cg_index *x)
{
        char path[4096] = "";
        cg_index_clear(x);
        x->walked_usec = now_usec(CLOCK_MONOTONIC);
        return cg_walk(x, x->root_fd, path, 0, sizeof(path), 0);
}

/* Path of id, re-walking the tree (at most once a second) for a cgroup created since. */
static const char *cg_index_lookup(struct cg_index *x, uint64_t id)
{
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < x->n; i++)
                        if (x->v[i].id == id)
                                return x->v[i].path;
                if (pass == 0 && now_usec(CLOCK_MONOTONIC) - x->walked_usec >= 1000000)
                        (void)cg_index_walk(x);
                else
                        break;
        }
        return NULL;
}

/* Kubernetes identity of a cgroup path: the pod component anywhere in it (either driver), and
 * the container directly below it. */
struct kube_info {
        bool is_pod;
        char uid[KUBE_ID_MAX];
        enum qos_class qos;
        bool is_container;
        char container_id[KUBE_ID_MAX];
};

static void kube_info_of(const char *path, struct kube_info *k)
{
        char buf[4096], *comp[64];
        size_t n = 0;

        memset(k, 0, sizeof(*k));
        if (!path)
                return;
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *s = strtok(buf, "/"); s && n < ELEMENTSOF(comp); s = strtok(NULL, "/"))
                comp[n++] = s;
        for (size_t i = 0; i < n; i++) {
                const char *parent = i >= 1 ? comp[i - 1] : "";
                const char *grand = i >= 2 ? comp[i - 2] : "";
                if (kube_parse_pod_slice(comp[i], &k->qos, k->uid) ||
                    kube_parse_pod_dir(parent, grand, comp[i], &k->qos, k->uid)) {
                        k->is_pod = true;
                        const char *runtime;
                        if (i + 1 < n)
                                k->is_container =
                                    kube_parse_container(comp[i + 1], k->container_id, &runtime);
                        return;
                }
        }
}

/* The victim's cgroup when BPF could not read it: /proc/<pid>/cgroup's "0::" line, while the
 * victim has not been reaped yet. Returns the id or 0. */
static uint64_t cgroup_id_from_proc(const struct cg_index *x, uint32_t pid)
{
        char name[64], line[4096];
        uint64_t id = 0;
        snprintf(name, sizeof(name), "/proc/%u/cgroup", pid);
        FILE *f = fopen(name, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "0::/", 4) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        struct stat st;
                        const char *rel = line[4] ? line + 4 : ".";
                        if (fstatat(x->root_fd, rel, &st, 0) == 0)
                                id = st.st_ino;
                        break;
                }
        fclose(f);
        return id;
}

/* ------------------------------------------------------------ output */

struct trace_ctx {
        struct cg_index idx;
        bool json;
        long page_size;
        uint64_t n_stalls, n_ooms;
};

static const char *const stall_kind_names[MEMSIG_STALL_KINDS] = {
        [MEMSIG_STALL_DIRECT] = "direct",
        [MEMSIG_STALL_MEMCG] = "memcg",
        [MEMSIG_STALL_SOFTLIMIT] = "softlimit",
};

#define SET(obj, key, val) json_object_object_add((obj), (key), (val))

static void json_add_cgroup(struct json_object *o, const char *prefix, struct trace_ctx *t,
                            uint64_t id)
{
        char key[64];
        const char *path = id ? cg_index_lookup(&t->idx, id) : NULL;
        struct kube_info k;

        kube_info_of(path, &k);
        snprintf(key, sizeof(key), "%scgroup_id", prefix);
        SET(o, key, id ? json_object_new_uint64(id) : NULL);
        snprintf(key, sizeof(key), "%scgroup", prefix);
        SET(o, key, path ? json_object_new_string(path) : NULL);
        snprintf(key, sizeof(key), "%spod_uid", prefix);
        SET(o, key, k.is_pod ? json_object_new_string(k.uid) : NULL);
        snprintf(key, sizeof(key), "%sqos", prefix);
        SET(o, key, k.is_pod ? json_object_new_string(qos_to_string(k.qos)) : NULL);
        snprintf(key, sizeof(key), "%scontainer_id", prefix);
        SET(o, key, k.is_container ? json_object_new_string(k.container_id) : NULL);
}

static void emit_json(struct json_object *o)
{
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        fflush(stdout);
}

static const char *cg_label(struct trace_ctx *t, uint64_t id, char *buf, size_t size)
{
        const char *path = id ? cg_index_lookup(&t->idx, id) : NULL;
        struct kube_info k;
        kube_info_of(path, &k);
        if (k.is_pod)
                snprintf(buf, size, "pod %s (%s)%s%.12s", k.uid, qos_to_string(k.qos),
                         k.is_container ? " container " : "", k.is_container ? k.container_id : "");
        else if (path)
                snprintf(buf, size, "%s", path);
        else
                snprintf(buf, size, "cgroup id %" PRIu64, id);
        return buf;
}

static void on_stall(struct trace_ctx *t, const struct memsig_stall_event *e)
{
        const char *kind = e->kind < MEMSIG_STALL_KINDS ? stall_kind_names[e->kind] : "unknown";
        t->n_stalls++;
        if (t->json) {
                char gfp[32];
                struct json_object *o = json_object_new_object();
                SET(o, "event", json_object_new_string("reclaim_stall"));
                SET(o, "kind", json_object_new_string(kind));
                json_add_cgroup(o, "", t, e->cgroup_id);
                SET(o, "pid", json_object_new_int64(e->pid));
                SET(o, "tid", json_object_new_int64(e->tid));
                SET(o, "comm",
                    json_object_new_string_len(e->comm, strnlen(e->comm, sizeof(e->comm))));
                SET(o, "duration_usec", json_object_new_uint64(e->duration_ns / 1000));
                SET(o, "nr_reclaimed", json_object_new_uint64(e->nr_reclaimed));
                SET(o, "order", json_object_new_int(e->order));
                snprintf(gfp, sizeof(gfp), "0x%x", e->gfp_flags);
                SET(o, "gfp_flags", json_object_new_string(gfp));
                SET(o, "start_usec", json_object_new_uint64(e->start_ns / 1000));
                emit_json(o);
                return;
        }
        char label[256];
        printf("stall  %-9s %10.3f ms  pid %-7u %-16.16s %s, %" PRIu64 " pages reclaimed\n", kind,
               (double)e->duration_ns / 1e6, e->pid, e->comm,
               cg_label(t, e->cgroup_id, label, sizeof(label)), (uint64_t)e->nr_reclaimed);
        fflush(stdout);
}

static void on_oom(struct trace_ctx *t, const struct memsig_oom_event *e)
{
        uint64_t victim_id = e->victim_cgroup_id;
        const char *source = (e->flags & MEMSIG_OOM_VICTIM_TASK) ? "task" : "unknown";
        if (!victim_id && (victim_id = cgroup_id_from_proc(&t->idx, e->victim_pid)))
                source = "proc";
        t->n_ooms++;
        if (t->json) {
                struct json_object *o = json_object_new_object();
                bool mm = e->flags & MEMSIG_OOM_MM;
                uint64_t ps = (uint64_t)t->page_size;
                SET(o, "event", json_object_new_string("oom_victim"));
                SET(o, "victim_pid", json_object_new_int64(e->victim_pid));
                SET(o, "victim_tgid",
                    e->victim_tgid ? json_object_new_int64(e->victim_tgid) : NULL);
                SET(o, "victim_comm",
                    e->victim_comm[0]
                        ? json_object_new_string_len(
                              e->victim_comm, strnlen(e->victim_comm, sizeof(e->victim_comm)))
                        : NULL);
                json_add_cgroup(o, "", t, victim_id);
                SET(o, "cgroup_source", json_object_new_string(source));
                SET(o, "uid", (e->flags & MEMSIG_OOM_UID) ? json_object_new_int64(e->uid) : NULL);
                SET(o, "oom_score_adj",
                    (e->flags & MEMSIG_OOM_SCORE_ADJ) ? json_object_new_int(e->oom_score_adj)
                                                      : NULL);
                SET(o, "total_vm_bytes",
                    mm ? json_object_new_uint64(e->total_vm_pages * ps) : NULL);
                SET(o, "anon_rss_bytes",
                    mm ? json_object_new_uint64(e->anon_rss_pages * ps) : NULL);
                SET(o, "file_rss_bytes",
                    mm ? json_object_new_uint64(e->file_rss_pages * ps) : NULL);
                SET(o, "shmem_rss_bytes",
                    mm ? json_object_new_uint64(e->shmem_rss_pages * ps) : NULL);
                SET(o, "pgtables_bytes", mm ? json_object_new_uint64(e->pgtables_bytes) : NULL);
                SET(o, "trigger_pid", json_object_new_int64(e->trigger_pid));
                SET(o, "trigger_comm",
                    json_object_new_string_len(e->trigger_comm,
                                               strnlen(e->trigger_comm, sizeof(e->trigger_comm))));
                json_add_cgroup(o, "trigger_", t, e->trigger_cgroup_id);
                SET(o, "time_usec", json_object_new_uint64(e->time_ns / 1000));
                emit_json(o);
                return;
        }
        char label[256];
        printf("OOM    victim pid %u (%.16s) in %s, anon-rss %" PRIu64 " KiB; killed by pid %u "
               "(%.16s)\n",
               e->victim_pid, e->victim_comm[0] ? e->victim_comm : "?",
               cg_label(t, victim_id, label, sizeof(label)),
               (uint64_t)e->anon_rss_pages * (uint64_t)t->page_size / 1024, e->trigger_pid,
               e->trigger_comm);
        fflush(stdout);
}

static void on_event(const union bpfsig_event *ev, void *userdata)
{
        struct trace_ctx *t = userdata;
        if (ev->type == MEMSIG_EV_STALL)
                on_stall(t, &ev->stall);
        else if (ev->type == MEMSIG_EV_OOM_VICTIM)
                on_oom(t, &ev->oom);
}

static struct json_object *reclaim_json(const struct bpfsig_reclaim *r)
{
        struct json_object *o = json_object_new_object();
        SET(o, "count", json_object_new_uint64(r->count));
        SET(o, "stall_usec", json_object_new_uint64(r->stall_usec));
        SET(o, "max_usec", json_object_new_uint64(r->max_usec));
        SET(o, "nr_reclaimed", json_object_new_uint64(r->nr_reclaimed));
        return o;
}

/* Histogram as {"<lower bound usec>": count} for the non-empty slots. */
static struct json_object *hist_json(const uint64_t *h)
{
        struct json_object *o = json_object_new_object();
        for (int i = 0; i < MEMSIG_HIST_SLOTS; i++) {
                char key[32];
                if (!h[i])
                        continue;
                snprintf(key, sizeof(key), "%llu", i ? 1ULL << i : 0ULL);
                SET(o, key, json_object_new_uint64(h[i]));
        }
        return o;
}

static int print_summary(uint64_t id, const struct bpfsig_cgroup_stats *s, void *userdata)
{
        struct trace_ctx *t = userdata;
        if (t->json) {
                struct json_object *o = json_object_new_object(), *h = json_object_new_object();
                SET(o, "event", json_object_new_string("cgroup_summary"));
                json_add_cgroup(o, "", t, id);
                SET(o, "reclaim_stall_usec", json_object_new_uint64(bpfsig_reclaim_stall_usec(s)));
                for (int k = 0; k < MEMSIG_STALL_KINDS; k++) {
                        SET(o, stall_kind_names[k], reclaim_json(&s->reclaim[k]));
                        SET(h, stall_kind_names[k], hist_json(s->hist[k]));
                }
                SET(o, "oom_victims", json_object_new_uint64(s->oom_victims));
                SET(o, "histogram_usec", h);
                emit_json(o);
                return 0;
        }
        char label[256];
        printf("%-12" PRIu64 " %14" PRIu64 " %8" PRIu64 " %14" PRIu64 " %8" PRIu64 " %14" PRIu64
               " %4" PRIu64 "  %s\n",
               id, bpfsig_reclaim_stall_usec(s), s->reclaim[MEMSIG_STALL_DIRECT].count,
               s->reclaim[MEMSIG_STALL_DIRECT].stall_usec, s->reclaim[MEMSIG_STALL_MEMCG].count,
               s->reclaim[MEMSIG_STALL_MEMCG].stall_usec, s->oom_victims,
               cg_label(t, id, label, sizeof(label)));
        return 0;
}

/* ------------------------------------------------------------ command */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static void trace_usage(FILE *f)
{
        fprintf(
            f,
            "Usage: memagent trace [OPTIONS]\n"
            "\n"
            "Load the BPF memory signals and stream, as they happen, every OOM victim and every\n"
            "reclaim stall at or above the threshold, attributed to its cgroup (and Kubernetes\n"
            "pod and container); print the per-cgroup aggregates at the end.\n"
            "\n"
            "Options:\n"
            "  --duration-s N          stop after N seconds (default 0: at SIGINT/SIGTERM)\n"
            "  --output json|table     JSON lines (default) or one line per event for people\n"
            "  --cgroup-root DIR       cgroup v2 mount (default /sys/fs/cgroup)\n"
            "  --stall-threshold-us N  report single stalls from N usec (default 1000; 0 all)\n"
            "  --pin-dir DIR           pin the per-cgroup map there while running, for\n"
            "                          `memagent status` (e.g. " BPFSIG_PIN_DIR_DEFAULT ")\n"
            "  --attach TYPE           tp_btf, raw_tp or tracepoint (default: the best that\n"
            "                          works, in that order)\n"
            "  --log-level LEVEL       error, warning, notice, info, debug (default notice)\n"
            "\n"
            "Exit status: 0 done, 1 failed while running, 2 refused (bad usage, or BPF\n"
            "unavailable: the line on stderr says what is missing).\n");
}

static int parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *ret)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || *s == '-' || v > max) {
                fprintf(stderr,
                        "memagent trace: %s: invalid value \"%s\" (a whole number up to %llu)\n",
                        opt, s, (unsigned long long)max);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

int cmd_trace(int argc, char **argv)
{
        enum {
                OPT_DURATION = 0x100,
                OPT_OUTPUT,
                OPT_CGROUP_ROOT,
                OPT_THRESHOLD,
                OPT_PIN_DIR,
                OPT_ATTACH,
                OPT_LOG_LEVEL,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "duration-s", required_argument, NULL, OPT_DURATION },
                { "output", required_argument, NULL, OPT_OUTPUT },
                { "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
                { "stall-threshold-us", required_argument, NULL, OPT_THRESHOLD },
                { "pin-dir", required_argument, NULL, OPT_PIN_DIR },
                { "attach", required_argument, NULL, OPT_ATTACH },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                {},
        };
        const char *cgroup_root = "/sys/fs/cgroup";
        uint64_t duration_s = 0, v;
        char why[1024] = "";
        struct bpfsig_opts bo = { .stall_threshold_usec = 1000,
                                  .why = why,
                                  .why_size = sizeof(why) };
        struct trace_ctx t = { .json = true, .idx.root_fd = -1 };
        int c, r;

        log_set_ident("memagent");
        if (log_get_max_level() < LOG_NOTICE)
                log_set_max_level(LOG_NOTICE);
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        trace_usage(stdout);
                        return EXIT_SUCCESS;
                case OPT_DURATION:
                        if (parse_u64("--duration-s", optarg, 86400 * 365, &duration_s) < 0)
                                return EXIT_REFUSED;
                        break;
                case OPT_OUTPUT:
                        if (streq(optarg, "json"))
                                t.json = true;
                        else if (streq(optarg, "table"))
                                t.json = false;
                        else {
                                fprintf(stderr,
                                        "memagent trace: --output: unknown format \"%s\" "
                                        "(json or table)\n",
                                        optarg);
                                return EXIT_REFUSED;
                        }
                        break;
                case OPT_CGROUP_ROOT:
                        cgroup_root = optarg;
                        break;
                case OPT_THRESHOLD:
                        if (parse_u64("--stall-threshold-us", optarg, UINT64_MAX / 1000, &v) < 0)
                                return EXIT_REFUSED;
                        bo.stall_threshold_usec = v;
                        break;
                case OPT_PIN_DIR:
                        bo.pin_dir = optarg;
                        break;
                case OPT_ATTACH:
                        if (streq(optarg, "tp_btf"))
                                bo.force_attach = BPFSIG_ATTACH_TP_BTF;
                        else if (streq(optarg, "raw_tp"))
                                bo.force_attach = BPFSIG_ATTACH_RAW_TP;
                        else if (streq(optarg, "tracepoint"))
                                bo.force_attach = BPFSIG_ATTACH_TRACEPOINT;
                        else {
                                fprintf(stderr,
                                        "memagent trace: --attach: unknown type \"%s\" "
                                        "(tp_btf, raw_tp or tracepoint)\n",
                                        optarg);
                                return EXIT_REFUSED;
                        }
                        break;
                case OPT_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0) {
                                fprintf(stderr,
                                        "memagent trace: --log-level: unknown level \"%s\"\n",
                                        optarg);
                                return EXIT_REFUSED;
                        }
                        log_set_max_level(r);
                        break;
                default:
                        fprintf(stderr, "memagent trace: see 'memagent trace --help'\n");
                        return EXIT_REFUSED;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "memagent trace: unexpected argument \"%s\"\n", argv[optind]);
                return EXIT_REFUSED;
        }

        t.idx.root_fd = open(cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t.idx.root_fd < 0) {
                fprintf(stderr, "memagent trace: --cgroup-root %s: %s\n", cgroup_root,
                        strerror(errno));
                return EXIT_REFUSED;
        }
        t.page_size = sysconf(_SC_PAGESIZE);
        (void)cg_index_walk(&t.idx);

        _cleanup_(bpfsig_freep) struct bpfsig *b = NULL;
        r = bpfsig_open(&bo, &b);
        if (r < 0) {
                fprintf(stderr, "memagent trace: BPF memory signals unavailable: %s\n",
                        why[0] ? why : strerror(-r));
                cg_index_clear(&t.idx);
                free(t.idx.v);
                close(t.idx.root_fd);
                return r == -ENOMEM ? EXIT_FAILURE : EXIT_REFUSED;
        }
        bpfsig_set_event_cb(b, on_event, &t);

        if (t.json) {
                struct json_object *o = json_object_new_object();
                SET(o, "event", json_object_new_string("attached"));
                SET(o, "attach",
                    json_object_new_string(bpfsig_attach_to_string(bpfsig_attach_type(b))));
                SET(o, "hooks", json_object_new_string(bpfsig_attached_hooks(b)));
                SET(o, "mark_victim_task", json_object_new_boolean(bpfsig_mark_victim_has_task(b)));
                SET(o, "stall_threshold_usec", json_object_new_uint64(bo.stall_threshold_usec));
                SET(o, "pinned", bo.pin_dir ? json_object_new_string(bo.pin_dir) : NULL);
                emit_json(o);
        } else {
                printf("attached via %s to %s; stalls from %" PRIu64 " usec\n",
                       bpfsig_attach_to_string(bpfsig_attach_type(b)), bpfsig_attached_hooks(b),
                       bo.stall_threshold_usec);
                fflush(stdout);
        }

        struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: poll() returns */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);

        int status = EXIT_SUCCESS;
        uint64_t end = duration_s ? now_usec(CLOCK_MONOTONIC) + duration_s * 1000000 : 0;
        struct pollfd pfd = { .fd = bpfsig_event_fd(b), .events = POLLIN };
        while (!stop_requested) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (end && now >= end)
                        break;
                int timeout = end ? (int)((end - now + 999) / 1000) : 1000;
                if (timeout > 1000)
                        timeout = 1000;
                r = poll(&pfd, 1, timeout);
                if (r < 0 && errno != EINTR) {
                        log_error_errno(errno, "Failed to wait for BPF events: %m");
                        status = EXIT_FAILURE;
                        break;
                }
                r = bpfsig_consume(b);
                if (r < 0) {
                        log_error_errno(r, "Failed to read the BPF ring buffer: %m");
                        status = EXIT_FAILURE;
                        break;
                }
        }
        (void)bpfsig_consume(b); /* what arrived until now */

        (void)cg_index_walk(&t.idx);
        if (!t.json)
                printf("\n%-12s %14s %8s %14s %8s %14s %4s  %s\n", "CGROUP_ID", "STALL_USEC",
                       "DIRECT", "DIRECT_USEC", "MEMCG", "MEMCG_USEC", "OOM", "CGROUP");
        r = bpfsig_for_each_cgroup(b, print_summary, &t);
        if (r < 0) {
                log_error_errno(r, "Failed to read the per-cgroup BPF map: %m");
                status = EXIT_FAILURE;
        }
        uint64_t dropped = bpfsig_dropped_events(b);
        if (t.json) {
                struct json_object *o = json_object_new_object();
                SET(o, "event", json_object_new_string("end"));
                SET(o, "reclaim_stall_events", json_object_new_uint64(t.n_stalls));
                SET(o, "oom_victim_events", json_object_new_uint64(t.n_ooms));
                SET(o, "dropped_events", json_object_new_uint64(dropped));
                emit_json(o);
        } else {
                printf("\n%" PRIu64 " stall events, %" PRIu64 " OOM victims, %" PRIu64
                       " events dropped\n",
                       t.n_stalls, t.n_ooms, dropped);
        }
        if (dropped)
                log_warning("%" PRIu64 " BPF events were dropped: the ring buffer was full (raise "
                            "--stall-threshold-us)",
                            dropped);
        cg_index_clear(&t.idx);
        free(t.idx.v);
        close(t.idx.root_fd);
        if (fflush(stdout) != 0)
                status = EXIT_FAILURE;
        return status;
}
