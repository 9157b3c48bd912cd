// SPDX-License-Identifier: Apache-2.0
// The loader of memsignals.bpf.c (libbpf skeleton): attach, pin, read the aggregates, drain the
// ring buffer. Built only with BPF; loader-stub.c stands in otherwise (bpf/CMakeLists.txt).
#include "bpf/bpfsig.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"

#include "memsignals.skel.h"

_Static_assert(sizeof(struct memsig_stall_event) % 8 == 0, "stall event must be 8-byte sized");
_Static_assert(sizeof(struct memsig_oom_event) % 8 == 0, "oom event must be 8-byte sized");

static void why_set(char *why, size_t size, const char *fmt, ...) _printf_(3, 4);
static void why_set(char *why, size_t size, const char *fmt, ...)
{
        va_list ap;
        if (!why || size == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(why, size, fmt, ap);
        va_end(ap);
}

#define VMLINUX_BTF   "/sys/kernel/btf/vmlinux"
#define TRACEFS       "/sys/kernel/tracing"
#define DEBUGFS_TRACE "/sys/kernel/debug/tracing"
#define BPFFS         "/sys/fs/bpf"

/* Capability numbers (linux/capability.h; CAP_PERFMON and CAP_BPF are 5.8+). */
#define CAP_SYS_ADMIN_BIT 21
#define CAP_PERFMON_BIT   38
#define CAP_BPF_BIT       39

/* The hooks. A begin/end pair is attached together or not at all (pair != -1 names the other
 * half); optional hooks may be missing from a kernel. Program names are "<flavour>_<prog>"
 * with flavour btf, raw or tp (see memsignals.bpf.c). */
struct hook_def {
        const char *category, *event, *prog;
        int pair;
        bool optional;
};

static const struct hook_def hooks[] = {
        { "vmscan", "mm_vmscan_direct_reclaim_begin", "direct_reclaim_begin", 1, false },
        { "vmscan", "mm_vmscan_direct_reclaim_end", "direct_reclaim_end", 0, false },
        { "vmscan", "mm_vmscan_memcg_reclaim_begin", "memcg_reclaim_begin", 3, false },
        { "vmscan", "mm_vmscan_memcg_reclaim_end", "memcg_reclaim_end", 2, false },
        { "vmscan", "mm_vmscan_memcg_softlimit_reclaim_begin", "memcg_softlimit_reclaim_begin", 5,
          true },
        { "vmscan", "mm_vmscan_memcg_softlimit_reclaim_end", "memcg_softlimit_reclaim_end", 4,
          true },
        { "oom", "mark_victim", "mark_victim", -1, false },
};
#define N_HOOKS ELEMENTSOF(hooks)

static const char *const flavour_prefix[] = {
        [BPFSIG_ATTACH_TP_BTF] = "btf",
        [BPFSIG_ATTACH_RAW_TP] = "raw",
        [BPFSIG_ATTACH_TRACEPOINT] = "tp",
};

struct bpfsig {
        struct memsignals *skel; /* NULL for a pinned-map reader */
        int stats_fd;            /* per-cgroup map; owned only by a pinned-map reader */
        struct ring_buffer *rb;
        enum bpfsig_attach attach;
        bool has_task;
        struct bpf_link *links[N_HOOKS];
        struct bpf_program *progs[N_HOOKS]; /* the loaded flavour of each hook, or NULL */
        char hooks_attached[1024];
        char *pin_path; /* unpinned at free */
        bpfsig_event_cb cb;
        void *cb_userdata;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
        /* A failed flavour is expected on some kernels: libbpf's warnings (with the verifier's
         * log, which can be long) are shown at debug; our summary of each failure at notice. */
        if (level == LIBBPF_DEBUG || log_get_max_level() < LOG_DEBUG)
                return 0;
        fputs("libbpf: ", stderr);
        return vfprintf(stderr, fmt, ap);
}

static uint64_t cap_effective(void)
{
        char buf[4096];
        uint64_t caps = 0;
        FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return 0;
        while (fgets(buf, sizeof(buf), f))
                if (strncmp(buf, "CapEff:", 7) == 0) {
                        caps = strtoull(buf + 7, NULL, 16);
                        break;
                }
        fclose(f);
        return caps;
}

int bpfsig_probe(char *why, size_t why_size)
{
        if (access(VMLINUX_BTF, R_OK) < 0) {
                int r = negative_errno();
                why_set(why, why_size,
                        "kernel BTF %s is not readable (%s): the kernel needs "
                        "CONFIG_DEBUG_INFO_BTF=y for CO-RE BPF programs",
                        VMLINUX_BTF, strerror(-r));
                return r == -EACCES ? -EPERM : -ENOENT;
        }
        uint64_t caps = cap_effective();
        bool sys_admin = caps & (UINT64_C(1) << CAP_SYS_ADMIN_BIT);
        bool bpf = caps & (UINT64_C(1) << CAP_BPF_BIT);
        bool perfmon = caps & (UINT64_C(1) << CAP_PERFMON_BIT);
        if (!sys_admin && !(bpf && perfmon)) {
                why_set(why, why_size,
                        "missing %s%s%s in the effective capability set (uid %u); grant "
                        "CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN",
                        bpf ? "" : "CAP_BPF", !bpf && !perfmon ? " and " : "",
                        perfmon ? "" : "CAP_PERFMON", (unsigned)getuid());
                return -EPERM;
        }
        return 0;
}

/* libbpf looks for tracepoints under debugfs when /sys/kernel/debug/tracing exists, else under
 * tracefs; we look where it will. Mounts tracefs when neither has events. */
static const char *tracefs_events(void)
{
        if (access(DEBUGFS_TRACE, F_OK) == 0)
                return DEBUGFS_TRACE "/events";
        return TRACEFS "/events";
}

static int ensure_tracefs(void)
{
        if (access(tracefs_events(), F_OK) == 0)
                return 0;
        if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) < 0)
                return log_notice_errno(errno, "Failed to mount tracefs at " TRACEFS ": %m");
        log_info("Mounted tracefs at " TRACEFS " for tracepoint programs");
        return access(tracefs_events(), F_OK) == 0 ? 0 : -ENOENT;
}

static bool hook_in_kernel(const struct btf *vmlinux, enum bpfsig_attach mode,
                           const struct hook_def *h)
{
        char name[256];
        if (mode == BPFSIG_ATTACH_TRACEPOINT) {
                snprintf(name, sizeof(name), "%s/%s/%s/id", tracefs_events(), h->category,
                         h->event);
                return access(name, F_OK) == 0;
        }
        snprintf(name, sizeof(name), "btf_trace_%s", h->event);
        return vmlinux && btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) >= 0;
}

/* btf_trace_mark_victim is a typedef of a pointer to a function prototype whose first
 * parameter is the tracepoint's data pointer: 3 parameters = (data, task, uid), 2 = (data, pid). */
static bool mark_victim_takes_task(const struct btf *vmlinux)
{
        if (!vmlinux)
                return false;
        int id = btf__find_by_name_kind(vmlinux, "btf_trace_mark_victim", BTF_KIND_TYPEDEF);
        if (id < 0)
                return false;
        const struct btf_type *t = btf__type_by_id(vmlinux, id);
        t = btf__type_by_id(vmlinux, t->type);
        if (!t || !btf_is_ptr(t))
                return false;
        t = btf__type_by_id(vmlinux, t->type);
        if (!t || !btf_is_func_proto(t))
                return false;
        return btf_vlen(t) == 3;
}

static struct bpf_program *find_prog(struct memsignals *skel, enum bpfsig_attach mode,
                                     const struct hook_def *h)
{
        char name[128];
        snprintf(name, sizeof(name), "%s_%s", flavour_prefix[mode], h->prog);
        return bpf_object__find_program_by_name(skel->obj, name);
}

static void detach_all(struct bpfsig *b)
{
        for (size_t i = 0; i < N_HOOKS; i++) {
                bpf_link__destroy(b->links[i]);
                b->links[i] = NULL;
                b->progs[i] = NULL;
        }
        b->hooks_attached[0] = '\0';
}

/* One attempt with one flavour. Returns 0 with b->skel loaded (and attached unless no_attach),
 * or a negative errno with b->skel destroyed and a reason in why. */
static int try_flavour(struct bpfsig *b, const struct bpfsig_opts *o, const struct btf *vmlinux,
                       enum bpfsig_attach mode, char *why, size_t why_size)
{
        bool want[N_HOOKS];
        size_t n_want = 0;
        int r;

        if (mode == BPFSIG_ATTACH_TRACEPOINT && (r = ensure_tracefs()) < 0) {
                why_set(why, why_size, "no tracefs (tried to mount it at " TRACEFS ")");
                return r;
        }
        for (size_t i = 0; i < N_HOOKS; i++)
                want[i] = hook_in_kernel(vmlinux, mode, &hooks[i]);
        for (size_t i = 0; i < N_HOOKS; i++) {
                if (hooks[i].pair >= 0 && !want[hooks[i].pair])
                        want[i] = false;
                if (!want[i] && !hooks[i].optional) {
                        why_set(why, why_size, "%s:%s is not in this kernel (as %s)",
                                hooks[i].category, hooks[i].event, bpfsig_attach_to_string(mode));
                        return -ENOENT;
                }
        }

        b->skel = memsignals__open();
        if (!b->skel) {
                r = negative_errno();
                why_set(why, why_size, "cannot open the BPF object: %s", strerror(-r));
                return r;
        }
        b->skel->rodata->stall_threshold_ns = o->stall_threshold_usec * 1000;
        b->skel->rodata->mark_victim_has_task = b->has_task;
        b->skel->rodata->stall_submit_flags = o->lazy_stall_events ? BPF_RB_NO_WAKEUP : 0;
        for (size_t i = 0; i < N_HOOKS; i++)
                for (int m = BPFSIG_ATTACH_TP_BTF; m <= BPFSIG_ATTACH_TRACEPOINT; m++) {
                        struct bpf_program *p =
                            find_prog(b->skel, (enum bpfsig_attach)m, &hooks[i]);
                        if (!p) {
                                why_set(why, why_size, "program %s_%s missing from the object",
                                        flavour_prefix[m], hooks[i].prog);
                                r = -ENOENT;
                                goto fail;
                        }
                        bpf_program__set_autoload(p, m == (int)mode && want[i]);
                }
        r = memsignals__load(b->skel);
        if (r < 0) {
                why_set(why, why_size, "the kernel refused to load the %s programs: %s",
                        bpfsig_attach_to_string(mode), strerror(-r));
                goto fail;
        }
        for (size_t i = 0; i < N_HOOKS; i++)
                if (want[i]) {
                        b->progs[i] = find_prog(b->skel, mode, &hooks[i]);
                        n_want++;
                }
        if (o->no_attach)
                return 0;

        size_t len = 0;
        for (size_t i = 0; i < N_HOOKS; i++) {
                if (!b->progs[i])
                        continue;
                b->links[i] = bpf_program__attach(b->progs[i]);
                if (!b->links[i]) {
                        r = negative_errno();
                        why_set(why, why_size, "cannot attach %s to %s:%s: %s",
                                bpfsig_attach_to_string(mode), hooks[i].category, hooks[i].event,
                                strerror(-r));
                        goto fail;
                }
                len += snprintf(b->hooks_attached + len, sizeof(b->hooks_attached) - len, "%s%s:%s",
                                len ? ", " : "", hooks[i].category, hooks[i].event);
                if (len >= sizeof(b->hooks_attached))
                        len = sizeof(b->hooks_attached) - 1;
        }
        (void)n_want;
        return 0;
fail:
        detach_all(b);
        memsignals__destroy(b->skel);
        b->skel = NULL;
        return r;
}

static int ensure_bpffs(const char *dir)
{
        struct statfs st;
        if (strncmp(dir, BPFFS "/", strlen(BPFFS) + 1) == 0 &&
            (statfs(BPFFS, &st) < 0 || st.f_type != BPF_FS_MAGIC)) {
                if (mount("bpf", BPFFS, "bpf", 0, NULL) < 0)
                        return log_error_errno(errno, "Failed to mount bpffs at " BPFFS ": %m");
                log_info("Mounted bpffs at " BPFFS);
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create pin directory %s: %m", dir);
        if (statfs(dir, &st) < 0)
                return log_error_errno(errno, "Failed to stat pin directory %s: %m", dir);
        if (st.f_type != BPF_FS_MAGIC)
                return log_error_errno(EXDEV, "Pin directory %s is not on a bpf file system", dir);
        return 0;
}

static int pin_stats(struct bpfsig *b, const char *dir)
{
        int r = ensure_bpffs(dir);
        if (r < 0)
                return r;
        if (asprintf(&b->pin_path, "%s/%s", dir, BPFSIG_PIN_STATS_NAME) < 0) {
                b->pin_path = NULL;
                return -ENOMEM;
        }
        if (unlink(b->pin_path) == 0)
                log_notice("Replaced a stale pinned map at %s (a loader that did not exit cleanly, "
                           "or another loader still running: its readers now see this one)",
                           b->pin_path);
        r = bpf_map__pin(b->skel->maps.cgroup_stats, b->pin_path);
        if (r < 0) {
                log_error_errno(r, "Failed to pin the per-cgroup map at %s: %m", b->pin_path);
                free(b->pin_path);
                b->pin_path = NULL;
                return r;
        }
        return 0;
}

static int on_ringbuf(void *ctx, void *data, size_t size)
{
        struct bpfsig *b = ctx;
        union bpfsig_event ev;
        uint32_t type;

        if (size < sizeof(type))
                return 0;
        memcpy(&type, data, sizeof(type));
        if ((type == MEMSIG_EV_STALL && size < sizeof(ev.stall)) ||
            (type == MEMSIG_EV_OOM_VICTIM && size < sizeof(ev.oom)) ||
            (type != MEMSIG_EV_STALL && type != MEMSIG_EV_OOM_VICTIM))
                return 0; /* not ours to interpret: a newer BPF object */
        memset(&ev, 0, sizeof(ev));
        memcpy(&ev, data, size < sizeof(ev) ? size : sizeof(ev));
        if (b->cb)
                b->cb(&ev, b->cb_userdata);
        return 0;
}

int bpfsig_open(const struct bpfsig_opts *o, struct bpfsig **ret)
{
        static const struct bpfsig_opts defaults = { .stall_threshold_usec = 1000 };
        char why_local[512], *why;
        size_t why_size;
        int r;

        if (!o)
                o = &defaults;
        why = o->why ? o->why : why_local;
        why_size = o->why ? o->why_size : sizeof(why_local);
        if (why_size)
                why[0] = '\0';

        libbpf_set_print(libbpf_print);
        r = bpfsig_probe(why, why_size);
        if (r < 0)
                return r;

        struct btf *vmlinux = btf__load_vmlinux_btf();
        if (!vmlinux) {
                r = negative_errno();
                why_set(why, why_size, "cannot parse kernel BTF %s: %s", VMLINUX_BTF, strerror(-r));
                return r;
        }

        struct bpfsig *b = calloc(1, sizeof(*b));
        if (!b) {
                btf__free(vmlinux);
                return -ENOMEM;
        }
        b->stats_fd = -1;
        b->has_task = o->victim_proto == BPFSIG_VICTIM_TASK ||
                      (o->victim_proto == BPFSIG_VICTIM_AUTO && mark_victim_takes_task(vmlinux));

        static const enum bpfsig_attach order[] = { BPFSIG_ATTACH_TP_BTF, BPFSIG_ATTACH_RAW_TP,
                                                    BPFSIG_ATTACH_TRACEPOINT };
        char tried[1024] = "";
        size_t tlen = 0;
        r = -ENOENT;
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                char reason[256] = "";
                if (o->force_attach != BPFSIG_ATTACH_NONE && o->force_attach != order[i])
                        continue;
                r = try_flavour(b, o, vmlinux, order[i], reason, sizeof(reason));
                if (r >= 0) {
                        b->attach = o->no_attach ? BPFSIG_ATTACH_NONE : order[i];
                        break;
                }
                log_notice("BPF memory signals: %s did not work (%s)%s",
                           bpfsig_attach_to_string(order[i]), reason,
                           i + 1 < ELEMENTSOF(order) && o->force_attach == BPFSIG_ATTACH_NONE
                               ? ", trying the next attach type"
                               : "");
                tlen += snprintf(tried + tlen, sizeof(tried) - tlen, "%s%s: %s", tlen ? "; " : "",
                                 bpfsig_attach_to_string(order[i]), reason);
                if (tlen >= sizeof(tried))
                        tlen = sizeof(tried) - 1;
        }
        btf__free(vmlinux);
        if (r < 0) {
                why_set(why, why_size, "no attach type worked (%s)", tried);
                free(b);
                return r;
        }

        if (!o->no_attach)
                log_info("BPF memory signals attached via %s to %s (mark_victim %s, stall events "
                         "from %llu usec)",
                         bpfsig_attach_to_string(b->attach), b->hooks_attached,
                         b->has_task ? "with the victim's task" : "with the victim's pid only",
                         (unsigned long long)o->stall_threshold_usec);

        b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), on_ringbuf, b, NULL);
        if (!b->rb) {
                r = negative_errno();
                why_set(why, why_size, "cannot set up the ring buffer: %s", strerror(-r));
                bpfsig_free(b);
                return r;
        }
        if (o->pin_dir && (r = pin_stats(b, o->pin_dir)) < 0) {
                why_set(why, why_size, "cannot pin the per-cgroup map under %s: %s", o->pin_dir,
                        strerror(-r));
                bpfsig_free(b);
                return r;
        }
        *ret = b;
        return 0;
}

int bpfsig_open_pinned(const char *pin_dir, struct bpfsig **ret)
{
        _cleanup_free_ char *path = NULL;
        struct bpf_map_info info = {};
        uint32_t len = sizeof(info);

        libbpf_set_print(libbpf_print);
        if (asprintf(&path, "%s/%s", pin_dir ? pin_dir : BPFSIG_PIN_DIR_DEFAULT,
                     BPFSIG_PIN_STATS_NAME) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        _cleanup_close_ int fd = bpf_obj_get(path);
        if (fd < 0) {
                int r = fd;
                if (r == -ENOENT)
                        return r;
                return log_debug_errno(r, "Failed to open pinned map %s: %m", path);
        }
        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                return log_debug_errno(errno, "Failed to query pinned map %s: %m", path);
        if (info.key_size != sizeof(uint64_t) ||
            info.value_size != sizeof(struct memsig_cgroup_stats)) {
                log_warning("Pinned map %s has key/value sizes %u/%u, expected %zu/%zu (another "
                            "version of memagent pinned it), ignoring",
                            path, info.key_size, info.value_size, sizeof(uint64_t),
                            sizeof(struct memsig_cgroup_stats));
                return -EPROTO;
        }
        struct bpfsig *b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->stats_fd = TAKE_FD(fd);
        *ret = b;
        return 0;
}

void bpfsig_free(struct bpfsig *b)
{
        if (!b)
                return;
        ring_buffer__free(b->rb);
        if (b->pin_path) {
                if (unlink(b->pin_path) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Failed to unpin %s: %m, ignoring", b->pin_path);
                free(b->pin_path);
        }
        detach_all(b);
        memsignals__destroy(b->skel);
        if (!b->skel)
                safe_close(b->stats_fd);
        free(b);
}

enum bpfsig_attach bpfsig_attach_type(const struct bpfsig *b)
{
        return b->attach;
}

const char *bpfsig_attached_hooks(const struct bpfsig *b)
{
        return b->hooks_attached;
}

bool bpfsig_mark_victim_has_task(const struct bpfsig *b)
{
        return b->has_task;
}

static int stats_fd(const struct bpfsig *b)
{
        return b->skel ? bpf_map__fd(b->skel->maps.cgroup_stats) : b->stats_fd;
}

static void stats_convert(const struct memsig_cgroup_stats *in, struct bpfsig_cgroup_stats *out)
{
        for (int k = 0; k < MEMSIG_STALL_KINDS; k++) {
                out->reclaim[k] = (struct bpfsig_reclaim){
                        .count = in->reclaim[k].count,
                        .stall_usec = in->reclaim[k].total_ns / 1000,
                        .max_usec = in->reclaim[k].max_ns / 1000,
                        .nr_reclaimed = in->reclaim[k].nr_reclaimed,
                };
                memcpy(out->hist[k], in->hist[k], sizeof(out->hist[k]));
        }
        out->oom_victims = in->oom_victims;
}

int bpfsig_read_cgroup(struct bpfsig *b, uint64_t cgroup_id, struct bpfsig_cgroup_stats *ret)
{
        struct memsig_cgroup_stats v;
        if (bpf_map_lookup_elem(stats_fd(b), &cgroup_id, &v) < 0)
                return negative_errno();
        stats_convert(&v, ret);
        return 0;
}

int bpfsig_for_each_cgroup(struct bpfsig *b, bpfsig_cgroup_cb cb, void *userdata)
{
        uint64_t key, next;
        struct memsig_cgroup_stats v;
        struct bpfsig_cgroup_stats s;
        int fd = stats_fd(b), r;
        void *prev = NULL;

        while (bpf_map_get_next_key(fd, prev, &next) == 0) {
                key = next;
                prev = &key;
                if (bpf_map_lookup_elem(fd, &key, &v) < 0)
                        continue; /* evicted between the two calls */
                stats_convert(&v, &s);
                r = cb(key, &s, userdata);
                if (r)
                        return r;
        }
        return errno == ENOENT ? 0 : negative_errno();
}

int bpfsig_event_fd(const struct bpfsig *b)
{
        return b->rb ? ring_buffer__epoll_fd(b->rb) : -EBADF;
}

void bpfsig_set_event_cb(struct bpfsig *b, bpfsig_event_cb cb, void *userdata)
{
        b->cb = cb;
        b->cb_userdata = userdata;
}

int bpfsig_consume(struct bpfsig *b)
{
        if (!b->rb)
                return -EBADF;
        return ring_buffer__consume(b->rb);
}

int bpfsig_poll(struct bpfsig *b, int timeout_ms)
{
        if (!b->rb)
                return -EBADF;
        int r = ring_buffer__poll(b->rb, timeout_ms);
        return r == -EINTR ? 0 : r;
}

uint64_t bpfsig_dropped_events(const struct bpfsig *b)
{
        return b->skel && b->skel->bss ? b->skel->bss->dropped_events : 0;
}

int bpfsig_enable_stats(void)
{
        int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
        return fd < 0 ? (errno ? -errno : fd) : fd;
}

int bpfsig_prog_stats(const struct bpfsig *b, struct bpfsig_prog_stats *out, size_t n)
{
        size_t k = 0;
        for (size_t i = 0; i < N_HOOKS && k < n; i++) {
                struct bpf_prog_info info = {};
                uint32_t len = sizeof(info);
                if (!b->progs[i])
                        continue;
                if (bpf_obj_get_info_by_fd(bpf_program__fd(b->progs[i]), &info, &len) < 0)
                        return negative_errno();
                snprintf(out[k].name, sizeof(out[k].name), "%s:%s", hooks[i].category,
                         hooks[i].event);
                out[k].run_cnt = info.run_cnt;
                out[k].run_time_ns = info.run_time_ns;
                k++;
        }
        return (int)k;
}

int bpfsig_test_run(struct bpfsig *b, const char *hook, const uint64_t *args, size_t n_args)
{
        if (!b->skel)
                return -EBADF;
        for (size_t i = 0; i < N_HOOKS; i++) {
                if (!streq(hooks[i].event, hook))
                        continue;
                if (!b->progs[i])
                        return -ENOENT;
                LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = args,
                            .ctx_size_in = (uint32_t)(n_args * sizeof(uint64_t)));
                int r = bpf_prog_test_run_opts(bpf_program__fd(b->progs[i]), &topts);
                if (r < 0)
                        return errno ? -errno : r;
                return 0;
        }
        return -ENOENT;
}
