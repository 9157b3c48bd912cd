// SPDX-License-Identifier: Apache-2.0
/*
 * memhog — a controllable memory workload for the real-kernel test bed.
 *
 * It allocates memory (anonymous, or a shared mapping of a file so that the
 * pages are page cache), optionally at a fixed rate, fills every page once,
 * then keeps touching a "hot" fraction of the pages in a loop while the rest
 * stays cold.  It reports how many pages it touched per second, so a scenario
 * can see the cost of reclaim, throttling (memory.high) or swap on the
 * workload itself.
 *
 * Output: one line per report on stdout, all `key=value` pairs separated by
 * single spaces, the first pair being `memhog=<event>` where event is one of
 * start, ready (allocation finished), report (periodic), final (at exit).
 * Errors go to stderr.  Exit codes: 0 done, 1 failed while running
 * (mmap/open failed, unless --grow-forever where hitting a limit is the
 * expected end), 2 bad usage.
 *
 * Memory layout: the allocation is a list of 1 MiB chunks, each its own
 * mapping, so --grow-forever needs no up-front reservation and a file-backed
 * run maps successive 1 MiB windows of the file.  The hot set is the first
 * hot-pct percent of the pages allocated so far.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES ((size_t)1 << 20)

enum fill_mode { FILL_RANDOM, FILL_PATTERN, FILL_ZERO };
enum touch_mode { TOUCH_WRITE, TOUCH_READ };
enum thp_mode { THP_DEFAULT, THP_ON, THP_OFF };

struct options {
        uint64_t size_mib;
        double rate_mib_s;
        double hot_pct;
        double duration_s;
        double hold_s;       /* exit this long after the allocation is done (0: no limit) */
        bool ignore_sigterm; /* a process that will not leave when asked: it leaves on its own */
        uint64_t report_ms;
        uint64_t pass_sleep_ms;
        const char *file_path;
        const char *ready_file;
        bool grow_forever;
        bool exit_after_alloc;
        bool verify; /* pages filled from their own index, checked at exit */
        enum fill_mode fill;
        enum touch_mode touch;
        enum thp_mode thp;
};

struct hog {
        unsigned char **chunks;
        size_t n_chunks;
        size_t cap_chunks;
        size_t page_bytes;
        size_t pages_per_chunk;
        int file_fd;
        uint64_t rng;
        uint64_t touched_pages;
        uint64_t passes;
        uint64_t start_ns;
        uint64_t alloc_done_ns;
        uint64_t touched_at_ready;
        uint64_t last_report_ns;
        uint64_t last_report_touched;
        volatile unsigned char sink;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
        stop_signal = sig;
}

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
        struct timespec ts = {
                .tv_sec = (time_t)(ns / 1000000000ull),
                .tv_nsec = (long)(ns % 1000000000ull),
        };
        /* An interrupting signal ends the sleep early; callers re-check stop_signal. */
        nanosleep(&ts, NULL);
}

static void usage(FILE *out)
{
        fprintf(out,
                "Usage: memhog [OPTIONS]\n"
                "Allocate memory, keep a hot fraction of it busy, report throughput.\n"
                "\n"
                "  --size-mib N        MiB to allocate (required unless --grow-forever)\n"
                "  --rate-mib R        allocation rate in MiB/s, 0 = all at once (default 0)\n"
                "  --hot-pct P         percent of allocated pages touched in the loop, 0-100\n"
                "                      (default 100); the rest is filled once and left cold\n"
                "  --duration-s S      exit S seconds after start (may be fractional);\n"
                "                      0 = run until SIGTERM/SIGINT (default 0)\n"
                "  --exit-after-alloc  print the final report and exit once allocated\n"
                "  --grow-forever      keep allocating at --rate-mib (0 = as fast as possible)\n"
                "                      until a signal, the duration, --size-mib if given,\n"
                "                      or allocation failure (meant for OOM tests)\n"
                "  --file PATH         back the memory with PATH (created, extended; shared\n"
                "                      mapping) so the pages are page cache, not anonymous\n"
                "  --fill MODE         initial fill: random (incompressible, default),\n"
                "                      pattern (compressible), zero (one byte per page)\n"
                "  --touch MODE        hot loop: write (default) or read one byte per page\n"
                "  --pass-sleep-ms MS  sleep after each pass over the hot set (default 0)\n"
                "  --report-ms MS      periodic report interval, 0 = none (default 1000)\n"
                "  --ready-file PATH   create PATH (containing the pid) once allocated\n"
                "  --thp MODE          default, on (MADV_HUGEPAGE), off (MADV_NOHUGEPAGE)\n"
                "  --hold-s S          exit S seconds after the allocation is done\n"
                "  --ignore-sigterm    ignore SIGTERM (leave only by SIGINT, SIGKILL, a deadline)\n"
                "  --verify            fill each page with random bytes derived from its index,\n"
                "                      touch by reading, and check every page at exit: prints\n"
                "                      memhog=verify pages=N bad_pages=M, exit 1 if any is bad\n"
                "                      (pages that went to swap and back must be intact)\n"
                "  --help              this text\n"
                "\n"
                "Output (stdout, one line each): memhog=start|ready|report|final followed by\n"
                "key=value pairs: pid t_ms phase alloc_mib hot_mib passes touched_pages\n"
                "pages_per_s (since the previous report) avg_pages_per_s (since ready, or\n"
                "since start while allocating) alloc_ms; final adds reason=signal|duration|\n"
                "alloc-done|alloc-failed|size-reached|hold-done.\n"
                "Exit: 0 done, 1 failed while running, 2 bad usage.\n");
}

static int bad_usage(const char *fmt, const char *arg)
{
        fprintf(stderr, "memhog: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, " (see memhog --help)\n");
        return 2;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
        char *end = NULL;
        if (!s || !*s || *s == '-' || *s == '+')
                return false;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end || v > max)
                return false;
        *ret = v;
        return true;
}

static bool parse_double(const char *s, double min, double max, double *ret)
{
        char *end = NULL;
        if (!s || !*s)
                return false;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || *end || !isfinite(v) || v < min || v > max)
                return false;
        *ret = v;
        return true;
}

static bool takes_value(const char *name)
{
        static const char *const names[] = {
                "--size-mib",  "--rate-mib",      "--hot-pct", "--duration-s",
                "--report-ms", "--pass-sleep-ms", "--file",    "--ready-file",
                "--fill",      "--touch",         "--thp",     "--hold-s",
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(name, names[i]) == 0)
                        return true;
        return false;
}

/* Returns 0, or 2 after printing why on stderr; -1 for --help. */
static int parse_args(int argc, char **argv, struct options *o)
{
        bool have_size = false;
        *o = (struct options){ .hot_pct = 100.0, .report_ms = 1000 };

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *v = NULL;
                if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
                        return -1;
                if (strcmp(a, "--grow-forever") == 0) {
                        o->grow_forever = true;
                        continue;
                }
                if (strcmp(a, "--ignore-sigterm") == 0) {
                        o->ignore_sigterm = true;
                        continue;
                }
                if (strcmp(a, "--exit-after-alloc") == 0) {
                        o->exit_after_alloc = true;
                        continue;
                }
                if (strcmp(a, "--verify") == 0) {
                        o->verify = true;
                        o->touch = TOUCH_READ; /* a write would change what is checked */
                        continue;
                }
                /* Every other option takes a value, as "--opt V" or "--opt=V". */
                char name[32];
                const char *eq = strchr(a, '=');
                if (strncmp(a, "--", 2) != 0)
                        return bad_usage("unexpected argument '%s'", a);
                if (eq) {
                        size_t n = (size_t)(eq - a);
                        if (n >= sizeof(name))
                                return bad_usage("unknown option '%s'", a);
                        memcpy(name, a, n);
                        name[n] = '\0';
                        v = eq + 1;
                } else {
                        if (strlen(a) >= sizeof(name))
                                return bad_usage("unknown option '%s'", a);
                        strcpy(name, a);
                        if (!takes_value(name))
                                return bad_usage("unknown option '%s'", a);
                        if (i + 1 >= argc)
                                return bad_usage("option '%s' needs a value", a);
                        v = argv[++i];
                }

                if (strcmp(name, "--size-mib") == 0) {
                        if (!parse_u64(v, 1ull << 30, &o->size_mib) || o->size_mib == 0)
                                return bad_usage(
                                    "--size-mib wants a whole number of MiB > 0, got '%s'", v);
                        have_size = true;
                } else if (strcmp(name, "--rate-mib") == 0) {
                        if (!parse_double(v, 0.0, 1e9, &o->rate_mib_s))
                                return bad_usage("--rate-mib wants MiB/s >= 0, got '%s'", v);
                } else if (strcmp(name, "--hot-pct") == 0) {
                        if (!parse_double(v, 0.0, 100.0, &o->hot_pct))
                                return bad_usage("--hot-pct wants a percentage 0-100, got '%s'", v);
                } else if (strcmp(name, "--duration-s") == 0) {
                        if (!parse_double(v, 0.0, 1e7, &o->duration_s))
                                return bad_usage("--duration-s wants seconds >= 0, got '%s'", v);
                } else if (strcmp(name, "--hold-s") == 0) {
                        if (!parse_double(v, 0.0, 1e7, &o->hold_s))
                                return bad_usage("--hold-s wants seconds >= 0, got '%s'", v);
                } else if (strcmp(name, "--report-ms") == 0) {
                        if (!parse_u64(v, 86400000ull, &o->report_ms))
                                return bad_usage("--report-ms wants milliseconds >= 0, got '%s'",
                                                 v);
                } else if (strcmp(name, "--pass-sleep-ms") == 0) {
                        if (!parse_u64(v, 86400000ull, &o->pass_sleep_ms))
                                return bad_usage(
                                    "--pass-sleep-ms wants milliseconds >= 0, got '%s'", v);
                } else if (strcmp(name, "--file") == 0) {
                        if (!*v)
                                return bad_usage("--file wants a path%s", "");
                        o->file_path = v;
                } else if (strcmp(name, "--ready-file") == 0) {
                        if (!*v)
                                return bad_usage("--ready-file wants a path%s", "");
                        o->ready_file = v;
                } else if (strcmp(name, "--fill") == 0) {
                        if (strcmp(v, "random") == 0)
                                o->fill = FILL_RANDOM;
                        else if (strcmp(v, "pattern") == 0)
                                o->fill = FILL_PATTERN;
                        else if (strcmp(v, "zero") == 0)
                                o->fill = FILL_ZERO;
                        else
                                return bad_usage("--fill wants random, pattern or zero, got '%s'",
                                                 v);
                } else if (strcmp(name, "--touch") == 0) {
                        if (strcmp(v, "write") == 0)
                                o->touch = TOUCH_WRITE;
                        else if (strcmp(v, "read") == 0)
                                o->touch = TOUCH_READ;
                        else
                                return bad_usage("--touch wants write or read, got '%s'", v);
                } else if (strcmp(name, "--thp") == 0) {
                        if (strcmp(v, "default") == 0)
                                o->thp = THP_DEFAULT;
                        else if (strcmp(v, "on") == 0)
                                o->thp = THP_ON;
                        else if (strcmp(v, "off") == 0)
                                o->thp = THP_OFF;
                        else
                                return bad_usage("--thp wants default, on or off, got '%s'", v);
                } else {
                        return bad_usage("unknown option '%s'", name);
                }
        }

        if (!have_size && !o->grow_forever)
                return bad_usage("--size-mib is required (or --grow-forever)%s", "");
        if (o->grow_forever && o->exit_after_alloc)
                return bad_usage("--grow-forever and --exit-after-alloc exclude each other%s", "");
        return 0;
}

static uint64_t xorshift64(uint64_t *s)
{
        uint64_t x = *s;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *s = x;
        return x;
}

/* --verify: page number `page` holds the xorshift stream seeded from its number, so that any
 * page can be checked on its own and no two pages are alike. */
static void verify_fill(unsigned char *p, size_t bytes, uint64_t page)
{
        uint64_t s = (page + 1) * 0x9e3779b97f4a7c15ull, *w = (uint64_t *)(void *)p;
        for (size_t i = 0; i < bytes / sizeof(*w); i++)
                w[i] = xorshift64(&s);
}

static bool verify_page(const unsigned char *p, size_t bytes, uint64_t page)
{
        uint64_t s = (page + 1) * 0x9e3779b97f4a7c15ull;
        const uint64_t *w = (const uint64_t *)(const void *)p;
        for (size_t i = 0; i < bytes / sizeof(*w); i++)
                if (w[i] != xorshift64(&s))
                        return false;
        return true;
}

static size_t allocated_pages(const struct hog *h)
{
        return h->n_chunks * h->pages_per_chunk;
}

static size_t hot_pages(const struct hog *h, const struct options *o)
{
        return (size_t)((double)allocated_pages(h) * o->hot_pct / 100.0);
}

static void report(struct hog *h, const struct options *o, const char *event, const char *phase,
                   const char *reason)
{
        uint64_t t = now_ns();
        double since_last_s = (double)(t - h->last_report_ns) / 1e9;
        uint64_t base_ns = h->alloc_done_ns ? h->alloc_done_ns : h->start_ns;
        double since_base_s = (double)(t - base_ns) / 1e9;
        uint64_t d_touched = h->touched_pages - h->last_report_touched;
        double rate = since_last_s > 0 ? (double)d_touched / since_last_s : 0.0;
        /* Average over pages touched since ready (or since start while allocating). */
        uint64_t avg_base = h->alloc_done_ns ? h->touched_at_ready : 0;
        double avg = since_base_s > 0 ? (double)(h->touched_pages - avg_base) / since_base_s : 0.0;
        double page_mib = (double)h->page_bytes / (double)(1 << 20);

        printf("memhog=%s pid=%ld t_ms=%" PRIu64
               " phase=%s alloc_mib=%zu hot_mib=%.1f passes=%" PRIu64 " touched_pages=%" PRIu64
               " pages_per_s=%.0f avg_pages_per_s=%.0f alloc_ms=%" PRIu64,
               event, (long)getpid(), (uint64_t)((t - h->start_ns) / 1000000u), phase, h->n_chunks,
               (double)hot_pages(h, o) * page_mib, h->passes, h->touched_pages, rate, avg,
               h->alloc_done_ns ? (uint64_t)((h->alloc_done_ns - h->start_ns) / 1000000u) : 0);
        if (reason)
                printf(" reason=%s", reason);
        if (o->file_path)
                printf(" file=%s", o->file_path);
        printf("\n");
        fflush(stdout);
        h->last_report_ns = t;
        h->last_report_touched = h->touched_pages;
}

static void maybe_report(struct hog *h, const struct options *o, const char *phase)
{
        if (o->report_ms && now_ns() - h->last_report_ns >= o->report_ms * 1000000ull)
                report(h, o, "report", phase, NULL);
}

/* Map and fill one more 1 MiB chunk.  Returns 0, or -errno. */
static int add_chunk(struct hog *h, const struct options *o)
{
        if (h->n_chunks == h->cap_chunks) {
                size_t cap = h->cap_chunks ? h->cap_chunks * 2 : 256;
                unsigned char **c = realloc(h->chunks, cap * sizeof(*c));
                if (!c)
                        return -ENOMEM;
                h->chunks = c;
                h->cap_chunks = cap;
        }

        unsigned char *p;
        if (h->file_fd >= 0) {
                off_t off = (off_t)(h->n_chunks * CHUNK_BYTES);
                struct stat st;
                if (fstat(h->file_fd, &st) < 0)
                        return -errno;
                if (st.st_size < off + (off_t)CHUNK_BYTES &&
                    ftruncate(h->file_fd, off + (off_t)CHUNK_BYTES) < 0)
                        return -errno;
                p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, h->file_fd, off);
        } else {
                p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                         0);
        }
        if (p == MAP_FAILED)
                return -errno;
        if (o->thp != THP_DEFAULT && h->file_fd < 0)
                (void)madvise(p, CHUNK_BYTES, o->thp == THP_ON ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);

        if (o->verify) {
                for (size_t pg = 0; pg < h->pages_per_chunk; pg++)
                        verify_fill(p + pg * h->page_bytes, h->page_bytes,
                                    h->n_chunks * h->pages_per_chunk + pg);
                h->chunks[h->n_chunks++] = p;
                h->touched_pages += h->pages_per_chunk;
                return 0;
        }
        switch (o->fill) {
        case FILL_RANDOM: {
                uint64_t *w = (uint64_t *)(void *)p;
                for (size_t i = 0; i < CHUNK_BYTES / sizeof(*w); i++)
                        w[i] = xorshift64(&h->rng);
                break;
        }
        case FILL_PATTERN:
                for (size_t pg = 0; pg < h->pages_per_chunk; pg++)
                        memset(p + pg * h->page_bytes, (int)((h->n_chunks + pg) & 0xff) | 1,
                               h->page_bytes);
                break;
        case FILL_ZERO:
                /* A nonzero byte per page: the page must exist, but compresses to nothing. */
                for (size_t pg = 0; pg < h->pages_per_chunk; pg++)
                        p[pg * h->page_bytes] = 1;
                break;
        }
        h->chunks[h->n_chunks++] = p;
        h->touched_pages += h->pages_per_chunk;
        return 0;
}

static unsigned char *page_addr(const struct hog *h, size_t page)
{
        return h->chunks[page / h->pages_per_chunk] + (page % h->pages_per_chunk) * h->page_bytes;
}

static bool deadline_passed(const struct hog *h, const struct options *o)
{
        return o->duration_s > 0 && (double)(now_ns() - h->start_ns) / 1e9 >= o->duration_s;
}

/* One pass over the hot set; stops early on a signal or the deadline. */
static void touch_pass(struct hog *h, const struct options *o, const char *phase)
{
        size_t n = hot_pages(h, o);
        for (size_t i = 0; i < n; i++) {
                unsigned char *p = page_addr(h, i);
                if (o->touch == TOUCH_WRITE)
                        p[(i * 64) % h->page_bytes]++;
                else
                        h->sink ^= p[(i * 64) % h->page_bytes];
                h->touched_pages++;
                if ((i & 1023) == 1023) {
                        if (stop_signal || deadline_passed(h, o))
                                return;
                        maybe_report(h, o, phase);
                }
        }
        h->passes++;
}

static int write_ready_file(const char *path)
{
        char tmp[4096];
        if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        FILE *f = fopen(tmp, "w");
        if (!f)
                return -errno;
        fprintf(f, "%ld\n", (long)getpid());
        if (fclose(f) != 0)
                return -errno;
        if (rename(tmp, path) < 0)
                return -errno;
        return 0;
}

int main(int argc, char **argv)
{
        struct options o;
        int r = parse_args(argc, argv, &o);
        if (r < 0) {
                usage(stdout);
                return 0;
        }
        if (r > 0)
                return r;

        setvbuf(stdout, NULL, _IOLBF, 0);

        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        if (o.ignore_sigterm)
                signal(SIGTERM, SIG_IGN);
        else
                sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        struct hog h = { .file_fd = -1 };
        long ps = sysconf(_SC_PAGESIZE);
        h.page_bytes = ps > 0 ? (size_t)ps : 4096;
        h.pages_per_chunk = CHUNK_BYTES / h.page_bytes;
        h.start_ns = now_ns();
        h.last_report_ns = h.start_ns;
        h.rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)getpid() << 32) ^ h.start_ns;
        if (!h.rng)
                h.rng = 1;

        if (o.file_path) {
                h.file_fd = open(o.file_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                if (h.file_fd < 0) {
                        fprintf(stderr, "memhog: cannot open --file %s: %s\n", o.file_path,
                                strerror(errno));
                        return 1;
                }
        }

        report(&h, &o, "start", "alloc", NULL);

        /* Allocation phase, paced by --rate-mib. */
        const char *reason = NULL;
        int exit_code = 0;
        uint64_t target = o.size_mib;
        while (!stop_signal) {
                if (target && h.n_chunks >= target)
                        break;
                if (deadline_passed(&h, &o)) {
                        reason = "duration";
                        break;
                }
                r = add_chunk(&h, &o);
                if (r < 0) {
                        fprintf(stderr, "memhog: allocating MiB %zu failed: %s\n", h.n_chunks + 1,
                                strerror(-r));
                        reason = "alloc-failed";
                        exit_code = o.grow_forever ? 0 : 1;
                        break;
                }
                if (o.rate_mib_s > 0) {
                        uint64_t due_ns =
                            h.start_ns + (uint64_t)((double)h.n_chunks / o.rate_mib_s * 1e9);
                        uint64_t t = now_ns();
                        /* While waiting for the next chunk, keep the hot set busy. */
                        while (t < due_ns && !stop_signal && !deadline_passed(&h, &o)) {
                                if (o.hot_pct > 0 && o.pass_sleep_ms == 0) {
                                        touch_pass(&h, &o, "alloc");
                                } else {
                                        uint64_t left = due_ns - t;
                                        sleep_ns(left < 50000000ull ? left : 50000000ull);
                                }
                                t = now_ns();
                        }
                }
                maybe_report(&h, &o, "alloc");
        }
        if (stop_signal && !reason)
                reason = "signal";
        if (!reason && o.grow_forever)
                reason = "size-reached";

        if (!reason) {
                h.alloc_done_ns = now_ns();
                h.touched_at_ready = h.touched_pages;
                report(&h, &o, "ready", "hold", NULL);
                if (o.ready_file) {
                        r = write_ready_file(o.ready_file);
                        if (r < 0) {
                                fprintf(stderr, "memhog: cannot write --ready-file %s: %s\n",
                                        o.ready_file, strerror(-r));
                                return 1;
                        }
                }
                if (o.exit_after_alloc)
                        reason = "alloc-done";
        }

        /* Hold phase: touch the hot set until a signal or the deadline. */
        while (!reason) {
                if (stop_signal) {
                        reason = "signal";
                        break;
                }
                if (deadline_passed(&h, &o)) {
                        reason = "duration";
                        break;
                }
                if (o.hold_s > 0 && (double)(now_ns() - h.alloc_done_ns) / 1e9 >= o.hold_s) {
                        reason = "hold-done";
                        break;
                }
                if (o.hot_pct > 0 && hot_pages(&h, &o) > 0)
                        touch_pass(&h, &o, "hold");
                if (o.hot_pct <= 0 || o.pass_sleep_ms > 0) {
                        uint64_t nap =
                            o.pass_sleep_ms ? o.pass_sleep_ms * 1000000ull : 100000000ull;
                        if (o.report_ms && o.report_ms * 1000000ull < nap)
                                nap = o.report_ms * 1000000ull;
                        if (o.duration_s > 0) {
                                uint64_t end = h.start_ns + (uint64_t)(o.duration_s * 1e9);
                                uint64_t t = now_ns();
                                if (end > t && end - t < nap)
                                        nap = end - t;
                        }
                        sleep_ns(nap);
                }
                maybe_report(&h, &o, "hold");
        }

        if (o.verify) {
                size_t n = allocated_pages(&h), bad = 0;
                for (size_t pg = 0; pg < n; pg++)
                        bad += !verify_page(page_addr(&h, pg), h.page_bytes, pg);
                printf("memhog=verify pid=%d pages=%zu bad_pages=%zu\n", (int)getpid(), n, bad);
                fflush(stdout);
                if (bad)
                        exit_code = 1;
        }
        report(&h, &o, "final", h.alloc_done_ns ? "hold" : "alloc", reason);
        if (h.file_fd >= 0)
                close(h.file_fd);
        free(h.chunks); /* the chunks are mappings the exit unmaps; the table is malloc'ed */
        return exit_code;
}
