// SPDX-License-Identifier: Apache-2.0
#include "agent/kernel/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"

#define FD_UNOPENED (-1)
#define FD_ABSENT   (-2)

const char *const cg_file_names[_CGF_MAX] = {
        [CGF_CURRENT] = "memory.current",
        [CGF_STAT] = "memory.stat",
        [CGF_EVENTS] = "memory.events",
        [CGF_PRESSURE] = "memory.pressure",
        [CGF_NUMA_STAT] = "memory.numa_stat",
        [CGF_MIN] = "memory.min",
        [CGF_LOW] = "memory.low",
        [CGF_HIGH] = "memory.high",
        [CGF_MAX] = "memory.max",
        [CGF_SWAP_CURRENT] = "memory.swap.current",
        [CGF_SWAP_MAX] = "memory.swap.max",
        [CGF_PEAK] = "memory.peak",
};

/* The fd budget (issue 15: 2,000 pods, about 6,000 cgroups, ran out of 20,000 fds with twelve
 * files kept open per cgroup, and went on with holes in its data). Every fd a tracked cgroup
 * keeps (its directory and cached files) is counted here. What is read every tick (the
 * directory, memory.current, memory.events, and any other file read on two samples in a row,
 * as under pressure) is kept open while the count is under the budget, the other files only
 * while under half of it, so that the every-tick files of more cgroups fit; a file a sample does
 * not read is closed (an open kernfs file holds kernel memory, its seq_file buffer among it).
 * The rest is opened, read and closed at each read, and beyond the budget a cgroup keeps no fd
 * at all and is read by its path from the root. The loop's thread only. */
static size_t fd_budget = SIZE_MAX, fds_kept;
static bool budget_said;

void cgroup_set_fd_budget(size_t n)
{
        fd_budget = n;
        budget_said = false;
}

size_t cgroup_fds_kept(void)
{
        return fds_kept;
}

static bool fd_may_keep(bool every_tick)
{
        size_t limit = every_tick ? fd_budget : fd_budget / 2;
        if (fds_kept < limit)
                return true;
        if (every_tick && !budget_said) {
                log_warning("Keeping %zu file descriptors open for cgroups, the budget under "
                            "RLIMIT_NOFILE: the others are opened at each read (slower, not "
                            "incomplete); raise LimitNOFILE to keep them all",
                            fds_kept);
                budget_said = true;
        }
        return false;
}

static int fd_drop(int fd)
{
        if (fd >= 0) {
                safe_close(fd);
                fds_kept--;
        }
        return -1;
}

/* memory.current, and memory.events unless a watch says when to read it. */
static bool every_tick_file(const struct cgroup *c, enum cg_file f)
{
        return CG_HAVE(f) & (c->events_watched ? CG_HAVE(CGF_CURRENT) : CG_FILES_LIGHT);
}

/* Opens name in the cgroup's directory: through its fd, or by its path from the root when it
 * keeps none. */
static int cg_openat(const struct cgroup *c, const char *name, int flags)
{
        if (c->dfd >= 0)
                return openat(c->dfd, name, flags | O_CLOEXEC);
        char path[PATH_MAX];
        const char *rel = c->path + strspn(c->path, "/");
        if (snprintf(path, sizeof(path), "%s/%s", *rel ? rel : ".", name) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        return openat(c->root_fd, path, flags | O_CLOEXEC);
}

int cgroup_dir_open(const struct cgroup *c)
{
        int fd = c->dfd >= 0 ? fcntl(c->dfd, F_DUPFD_CLOEXEC, 3)
                             : cg_openat(c, ".", O_RDONLY | O_DIRECTORY);
        return fd < 0 ? negative_errno() : fd;
}

int cgroup_open_budgeted(struct cgroup *c, int root_fd, const char *path)
{
        int r = cgroup_open(c, root_fd, path);
        if (r < 0 || fd_may_keep(true))
                return r;
        c->dfd = fd_drop(c->dfd);
        return 0;
}

int cgroup_open(struct cgroup *c, int root_fd, const char *path)
{
        const char *rel = path;
        struct stat st;

        *c = (struct cgroup){ .dfd = -1 };
        for (size_t i = 0; i < _CGF_MAX; i++)
                c->fds[i] = FD_UNOPENED;
        while (*rel == '/')
                rel++;
        _cleanup_close_ int dfd =
            openat(root_fd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        if (fstat(dfd, &st) < 0)
                return negative_errno();
        c->path = strdup(*path == '/' ? path : "/");
        if (!c->path)
                return -ENOMEM;
        if (*path != '/') {
                free(c->path);
                if (asprintf(&c->path, "/%s", path) < 0) {
                        c->path = NULL;
                        return -ENOMEM;
                }
        }
        c->id = st.st_ino;
        c->root_fd = root_fd;
        c->dfd = TAKE_FD(dfd);
        fds_kept++;
        return 0;
}

void cgroup_drop_fds(struct cgroup *c)
{
        for (size_t i = 0; i < _CGF_MAX; i++) {
                if (c->fds[i] >= 0)
                        fd_drop(c->fds[i]);
                c->fds[i] = FD_UNOPENED;
        }
}

void cgroup_done(struct cgroup *c)
{
        cgroup_drop_fds(c);
        c->dfd = fd_drop(c->dfd);
        free(c->path);
        c->path = NULL;
        free(c->s.numa);
        c->s.numa = NULL;
}

void cgroup_adopt(struct cgroup *c, struct cgroup *old)
{
        if (c->id != old->id)
                return;
        for (size_t i = 0; i < _CGF_MAX; i++) {
                if (c->fds[i] >= 0)
                        fd_drop(c->fds[i]);
                c->fds[i] = old->fds[i];
                old->fds[i] = FD_UNOPENED;
        }
        /* The new walk opened its directory while the old one was still open: over the budget,
         * that left it without; the old one's is the same directory. */
        if (c->dfd < 0 && old->dfd >= 0) {
                c->dfd = old->dfd;
                old->dfd = -1;
        }
        c->warned = old->warned;
        c->read_files = old->read_files;
        c->read_before = old->read_before;
        free(c->s.numa);
        c->s = old->s;
        old->s.numa = NULL; /* moved */
        c->events_hash = old->events_hash;
        c->growth_bytes_per_sec = old->growth_bytes_per_sec;
        c->has_refault_rate = old->has_refault_rate;
        c->refault_file_per_sec = old->refault_file_per_sec;
        c->activate_file_per_sec = old->activate_file_per_sec;
}

/* Reads one file into buf. Returns length, -ENODATA when the file does not exist in this
 * cgroup (an optional file, or the controller is off), -ENOENT/-ENODEV when the cgroup itself
 * vanished, or another negative errno. */
static ssize_t cg_read(struct cgroup *c, enum cg_file f, char *buf, size_t size)
{
        if (c->fds[f] == FD_ABSENT)
                return -ENODATA;
        if (c->fds[f] >= 0)
                return pread_whole(c->fds[f], buf, size);
        int fd = cg_openat(c, cg_file_names[f], O_RDONLY | O_NOCTTY);
        if (fd < 0) {
                int r = fd == -ENAMETOOLONG ? fd : negative_errno();
                if (r == -ENOENT) {
                        /* File missing: is the cgroup itself still there? Every cgroup, the
                         * root included, has cgroup.procs. */
                        int probe = cg_openat(c, "cgroup.procs", O_RDONLY);
                        if (probe < 0 && errno == ENOENT)
                                return -ENOENT;
                        safe_close(probe);
                        c->fds[f] = FD_ABSENT;
                        return -ENODATA;
                }
                return r;
        }
        ssize_t n = pread_whole(fd, buf, size);
        bool every_tick = every_tick_file(c, f);
        if ((every_tick || (c->read_before & CG_HAVE(f))) && fd_may_keep(every_tick)) {
                c->fds[f] = fd;
                fds_kept++;
        } else
                safe_close(fd);
        return n;
}

static int sample_files(struct cgroup *c, uint32_t files, bool more, char *buf, size_t size);

/* FNV-1a over 8-byte words rather than bytes: memory.events is hashed for every cgroup on every
 * calm tick, and a byte at a time was a tenth of the tick (issue 13). Only equality matters. */
static uint64_t events_hash(const char *p, size_t n)
{
        uint64_t h = UINT64_C(14695981039346656037) ^ n;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
                uint64_t w;
                memcpy(&w, p + i, sizeof(w));
                h = (h ^ w) * UINT64_C(1099511628211);
                h ^= h >> 29;
        }
        for (; i < n; i++)
                h = (h ^ (unsigned char)p[i]) * UINT64_C(1099511628211);
        return h | 1; /* never 0: 0 is "none" */
}

int cgroup_sample(struct cgroup *c, char *buf, size_t size)
{
        return sample_files(c, CG_FILES_ALL, false, buf, size);
}

int cgroup_sample_files(struct cgroup *c, uint32_t files, char *buf, size_t size)
{
        return sample_files(c, files, false, buf, size);
}

int cgroup_sample_more(struct cgroup *c, uint32_t files, char *buf, size_t size)
{
        return sample_files(c, files, true, buf, size);
}

/* Parses memory.numa_stat into s->numa, allocated on its first read: the copy that
 * sample_files() works on shares the block with the cgroup's sample, so a parse that fails
 * halfway must not write into it. */
static int sample_numa(struct cg_sample *s, const char *buf, struct parse_error *perr)
{
        struct numa_stat numa;
        int r = parse_numa_stat(buf, &numa, perr);
        if (r < 0)
                return r;
        if (!s->numa && !(s->numa = malloc(sizeof(*s->numa)))) {
                *perr = (struct parse_error){ .what = "out of memory for its figures" };
                return -ENOMEM;
        }
        *s->numa = numa;
        return 0;
}

static int sample_files(struct cgroup *c, uint32_t files, bool more, char *buf, size_t size)
{
        /* A calm tick's sample of a watched cgroup (memory.current alone, most of them) works in
         * place: a copy of the whole sample, twice per cgroup per tick, was a tenth of the tick
         * (issue 13). What the rest compares with the last sample is kept aside. */
        bool in_place = !more && files == CG_HAVE(CGF_CURRENT);
        const uint32_t old_have = c->s.have;
        const uint64_t old_current = c->s.current, old_time_usec = c->s.time_usec;
        struct cg_sample copy, *s = &c->s;
        if (!in_place) {
                copy = c->s;
                s = &copy;
        }
        /* Not read by the last sample (escalations included): not read every tick, closed (see
         * fd_budget). Only a file read by one of the last two samples can be open. */
        if (!more && ((c->read_files | c->read_before) & ~CG_FILES_LIGHT))
                for (enum cg_file f = 0; f < _CGF_MAX; f++)
                        if (c->fds[f] >= 0 && !(c->read_files & CG_HAVE(f)) &&
                            !every_tick_file(c, f)) {
                                fd_drop(c->fds[f]);
                                c->fds[f] = FD_UNOPENED;
                        }
        if (!more) {
                c->read_before = c->read_files;
                c->read_files = files;
        } else
                c->read_files |= files;
        if (!more) {
                /* What is not read this time: settings stay as they were, measurements are
                 * marked absent but keep their values (see CG_FILES_SETTINGS). BPF fills its
                 * figures anew. */
                s->time_usec = now_usec(CLOCK_MONOTONIC);
                /* memory.events under a watch changes only when the watch says so: current */
                s->have &= ~files & (CG_FILES_SETTINGS |
                                     (c->events_watched && !c->woken ? CG_HAVE(CGF_EVENTS) : 0));
                s->has_reclaim_stall = false;
                s->reclaim_stall_usec = 0;
        } else
                s->have &= ~files; /* the sample just taken stays; these are read anew */
        struct parse_error perr;
        bool failed = false;

        for (enum cg_file f = 0; f < _CGF_MAX; f++) {
                if (!(files & CG_HAVE(f)))
                        continue;
                ssize_t n = cg_read(c, f, buf, size);
                if (n == -ENODATA)
                        continue;
                if (n < 0 && errno_is_vanished((int)n)) {
                        c->gone = true;
                        return -ENOENT;
                }
                if (n < 0) {
                        /* Once per cgroup until a sample of it is whole again: the same failure
                         * at every tick is one fact (issue 15: 58,216 warnings). */
                        if (!c->warned)
                                log_warning_errno((int)n,
                                                  "Failed to read %s/%s: %m; its figures are "
                                                  "incomplete until a read succeeds",
                                                  c->path, cg_file_names[f]);
                        c->warned = true;
                        failed = true;
                        continue;
                }
                int r;
                switch (f) {
                case CGF_STAT:
                        r = parse_memory_stat(buf, &s->stat, &perr);
                        break;
                case CGF_EVENTS: {
                        uint64_t h = events_hash(buf, (size_t)n);
                        if (h == c->events_hash && (c->s.have & CG_HAVE(CGF_EVENTS))) {
                                r = 0; /* the same counts: s->events holds them */
                                break;
                        }
                        r = parse_memory_events(buf, &s->events, &perr);
                        c->events_hash = r < 0 ? 0 : h;
                        break;
                }
                case CGF_PRESSURE:
                        r = parse_psi(buf, &s->psi, &perr);
                        break;
                case CGF_NUMA_STAT:
                        r = sample_numa(s, buf, &perr);
                        break;
                default: {
                        static const size_t off[_CGF_MAX] = {
                                [CGF_CURRENT] = offsetof(struct cg_sample, current),
                                [CGF_MIN] = offsetof(struct cg_sample, min),
                                [CGF_LOW] = offsetof(struct cg_sample, low),
                                [CGF_HIGH] = offsetof(struct cg_sample, high),
                                [CGF_MAX] = offsetof(struct cg_sample, max),
                                [CGF_SWAP_CURRENT] = offsetof(struct cg_sample, swap_current),
                                [CGF_SWAP_MAX] = offsetof(struct cg_sample, swap_max),
                                [CGF_PEAK] = offsetof(struct cg_sample, peak),
                        };
                        r = parse_cg_value(buf, (uint64_t *)((char *)s + off[f]), &perr);
                        break;
                }
                }
                if (r < 0) {
                        log_warning("Malformed %s/%s line %u: %s, ignoring that file", c->path,
                                    cg_file_names[f], perr.line, perr.what);
                        continue;
                }
                s->have |= CG_HAVE(f);
        }
        if ((c->read_files & CG_FILES_DECIDE) == CG_FILES_DECIDE)
                c->woken = false;
        if (!failed && c->warned) {
                log_info("Reading %s works again", c->path);
                c->warned = false;
        }
        if (s->have & CG_HAVE(CGF_STAT))
                s->stat_usec = more ? now_usec(CLOCK_MONOTONIC) : s->time_usec;
        else if (files & CG_HAVE(CGF_STAT))
                s->stat_usec = 0; /* read and not there: no inactive_file to subtract */
        /* The cold file pages of the last memory.stat read (its age is stat_usec), as before
         * when it is read every time. */
        if ((s->have & CG_HAVE(CGF_CURRENT)) && s->stat_usec)
                s->working_set =
                    s->current > s->stat.inactive_file ? s->current - s->stat.inactive_file : 0;
        else if (s->have & CG_HAVE(CGF_CURRENT))
                s->working_set = s->current;
        if (files & CG_HAVE(CGF_EVENTS))
                c->events_changed = (s->have & CG_HAVE(CGF_EVENTS)) &&
                                    (c->s.have & CG_HAVE(CGF_EVENTS)) &&
                                    memcmp(&s->events, &c->s.events, sizeof(s->events)) != 0;
        else if (!more)
                c->events_changed = false; /* not read: a watch would have woken it */
        if ((s->have & CG_HAVE(CGF_CURRENT)) && (old_have & CG_HAVE(CGF_CURRENT)) &&
            s->time_usec > old_time_usec) {
                double dt = (double)(s->time_usec - old_time_usec) / 1e6;
                double rate = ((double)s->current - (double)old_current) / dt;
                double alpha = dt / (dt + 3.0);
                c->growth_bytes_per_sec =
                    (int64_t)(alpha * rate + (1.0 - alpha) * (double)c->growth_bytes_per_sec);
        }
        /* Unsmoothed: the balloon backs off on the first interval with refaults. A counter that
         * went down is a recreated cgroup: no rate until the next sample. */
        if (!(files & CG_HAVE(CGF_STAT))) {
                if (!in_place) /* the refault rates stay those of the last two memory.stat reads */
                        c->s = *s;
                return 0;
        }
        c->has_refault_rate =
            (s->have & CG_HAVE(CGF_STAT)) && c->s.stat_usec && s->stat_usec > c->s.stat_usec &&
            s->stat.workingset_refault_file >= c->s.stat.workingset_refault_file &&
            s->stat.workingset_activate_file >= c->s.stat.workingset_activate_file;
        if (c->has_refault_rate) {
                double dt = (double)(s->stat_usec - c->s.stat_usec) / 1e6;
                c->refault_file_per_sec =
                    (double)(s->stat.workingset_refault_file - c->s.stat.workingset_refault_file) /
                    dt;
                c->activate_file_per_sec = (double)(s->stat.workingset_activate_file -
                                                    c->s.stat.workingset_activate_file) /
                                           dt;
        }
        c->s = *s;
        return 0;
}
