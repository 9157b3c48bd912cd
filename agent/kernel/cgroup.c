// SPDX-License-Identifier: Apache-2.0
#include "agent/kernel/cgroup.h"

#include <errno.h>
#include <fcntl.h>
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
        c->dfd = TAKE_FD(dfd);
        return 0;
}

void cgroup_drop_fds(struct cgroup *c)
{
        for (size_t i = 0; i < _CGF_MAX; i++) {
                if (c->fds[i] >= 0)
                        safe_close(c->fds[i]);
                c->fds[i] = FD_UNOPENED;
        }
}

void cgroup_done(struct cgroup *c)
{
        cgroup_drop_fds(c);
        c->dfd = safe_close(c->dfd);
        free(c->path);
        c->path = NULL;
}

void cgroup_adopt(struct cgroup *c, struct cgroup *old)
{
        if (c->id != old->id)
                return;
        for (size_t i = 0; i < _CGF_MAX; i++) {
                if (c->fds[i] >= 0)
                        safe_close(c->fds[i]);
                c->fds[i] = old->fds[i];
                old->fds[i] = FD_UNOPENED;
        }
        c->s = old->s;
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
        if (c->fds[f] == FD_UNOPENED) {
                int fd = openat(c->dfd, cg_file_names[f], O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        int r = negative_errno();
                        if (r == -ENOENT) {
                                /* File missing: is the cgroup itself still there? Every cgroup,
                                 * the root included, has cgroup.procs. */
                                struct stat st;
                                if (fstatat(c->dfd, "cgroup.procs", &st, 0) < 0 && errno == ENOENT)
                                        return -ENOENT;
                                c->fds[f] = FD_ABSENT;
                                return -ENODATA;
                        }
                        if (r == -EMFILE || r == -ENFILE) {
                                /* Out of fds: read without caching this time. */
                                return read_file_at(c->dfd, cg_file_names[f], buf, size);
                        }
                        return r;
                }
                c->fds[f] = fd;
        }
        return pread_full(c->fds[f], buf, size);
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

static int sample_files(struct cgroup *c, uint32_t files, bool more, char *buf, size_t size)
{
        struct cg_sample s = c->s;
        if (!more) {
                /* What is not read this time: settings stay as they were, measurements are
                 * marked absent but keep their values (see CG_FILES_SETTINGS). BPF fills its
                 * figures anew. */
                s.time_usec = now_usec(CLOCK_MONOTONIC);
                s.have &= ~files & CG_FILES_SETTINGS;
                s.has_reclaim_stall = false;
                s.reclaim_stall_usec = 0;
        } else
                s.have &= ~files; /* the sample just taken stays; these are read anew */
        struct parse_error perr;

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
                        log_warning_errno((int)n, "Failed to read %s/%s: %m, ignoring", c->path,
                                          cg_file_names[f]);
                        continue;
                }
                int r;
                switch (f) {
                case CGF_STAT:
                        r = parse_memory_stat(buf, &s.stat, &perr);
                        break;
                case CGF_EVENTS: {
                        uint64_t h = events_hash(buf, (size_t)n);
                        if (h == c->events_hash && (c->s.have & CG_HAVE(CGF_EVENTS))) {
                                r = 0; /* the same counts: s.events holds them */
                                break;
                        }
                        r = parse_memory_events(buf, &s.events, &perr);
                        c->events_hash = r < 0 ? 0 : h;
                        break;
                }
                case CGF_PRESSURE:
                        r = parse_psi(buf, &s.psi, &perr);
                        break;
                case CGF_NUMA_STAT:
                        r = parse_numa_stat(buf, &s.numa, &perr);
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
                        r = parse_cg_value(buf, (uint64_t *)((char *)&s + off[f]), &perr);
                        break;
                }
                }
                if (r < 0) {
                        log_warning("Malformed %s/%s line %u: %s, ignoring that file", c->path,
                                    cg_file_names[f], perr.line, perr.what);
                        continue;
                }
                s.have |= CG_HAVE(f);
        }
        if (s.have & CG_HAVE(CGF_STAT))
                s.stat_usec = more ? now_usec(CLOCK_MONOTONIC) : s.time_usec;
        else if (files & CG_HAVE(CGF_STAT))
                s.stat_usec = 0; /* read and not there: no inactive_file to subtract */
        /* The cold file pages of the last memory.stat read (its age is stat_usec), as before
         * when it is read every time. */
        if ((s.have & CG_HAVE(CGF_CURRENT)) && s.stat_usec)
                s.working_set =
                    s.current > s.stat.inactive_file ? s.current - s.stat.inactive_file : 0;
        else if (s.have & CG_HAVE(CGF_CURRENT))
                s.working_set = s.current;
        if (files & CG_HAVE(CGF_EVENTS))
                c->events_changed = (s.have & CG_HAVE(CGF_EVENTS)) &&
                                    (c->s.have & CG_HAVE(CGF_EVENTS)) &&
                                    memcmp(&s.events, &c->s.events, sizeof(s.events)) != 0;
        if ((s.have & CG_HAVE(CGF_CURRENT)) && (c->s.have & CG_HAVE(CGF_CURRENT)) &&
            s.time_usec > c->s.time_usec) {
                double dt = (double)(s.time_usec - c->s.time_usec) / 1e6;
                double rate = ((double)s.current - (double)c->s.current) / dt;
                double alpha = dt / (dt + 3.0);
                c->growth_bytes_per_sec =
                    (int64_t)(alpha * rate + (1.0 - alpha) * (double)c->growth_bytes_per_sec);
        }
        /* Unsmoothed: the balloon backs off on the first interval with refaults. A counter that
         * went down is a recreated cgroup: no rate until the next sample. */
        if (!(files & CG_HAVE(CGF_STAT))) {
                c->s = s; /* the refault rates stay those of the last two memory.stat reads */
                return 0;
        }
        c->has_refault_rate = (s.have & CG_HAVE(CGF_STAT)) && c->s.stat_usec &&
                              s.stat_usec > c->s.stat_usec &&
                              s.stat.workingset_refault_file >= c->s.stat.workingset_refault_file &&
                              s.stat.workingset_activate_file >= c->s.stat.workingset_activate_file;
        if (c->has_refault_rate) {
                double dt = (double)(s.stat_usec - c->s.stat_usec) / 1e6;
                c->refault_file_per_sec =
                    (double)(s.stat.workingset_refault_file - c->s.stat.workingset_refault_file) /
                    dt;
                c->activate_file_per_sec =
                    (double)(s.stat.workingset_activate_file - c->s.stat.workingset_activate_file) /
                    dt;
        }
        c->s = s;
        return 0;
}
