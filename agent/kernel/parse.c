// SPDX-License-Identifier: Apache-2.0
#include "agent/kernel/parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"

_printf_(3, 4) static int fail(struct parse_error *err, unsigned line, const char *fmt, ...)
{
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                err->line = line;
                vsnprintf(err->what, sizeof(err->what), fmt, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

/* Parses a decimal u64 at *p, advancing it. Refuses empty input and overflow. */
static int parse_u64(const char **p, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned d = (unsigned)(*s - '0');
                /* v * 10 + d overflows: compared with constants, not a division per digit (these
                 * parses run for every cgroup on every tick; issue 13) */
                if (v >= UINT64_MAX / 10 && (v > UINT64_MAX / 10 || d > UINT64_MAX % 10))
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

/* Copies the line starting at p (without its newline) for error messages. */
static const char *excerpt(const char *p, char *buf, size_t size)
{
        size_t n = strcspn(p, "\n");
        if (n >= size)
                n = size - 1;
        memcpy(buf, p, n);
        buf[n] = '\0';
        return buf;
}

int parse_cg_value(const char *buf, uint64_t *ret, struct parse_error *err)
{
        const char *p = buf;
        uint64_t v;
        char ex[40];

        if (p[0] == 'm' && strncmp(p, "max", 3) == 0) {
                v = CG_UNLIMITED;
                p += 3;
        } else {
                int r = parse_u64(&p, &v);
                if (r == -ERANGE)
                        return fail(err, 1, "value out of range: \"%s\"",
                                    excerpt(buf, ex, sizeof(ex)));
                if (r < 0)
                        return fail(err, 1, "expected a number or \"max\", got \"%s\"",
                                    excerpt(buf, ex, sizeof(ex)));
        }
        /* The kernel ends the value with a newline: without it the file was cut short. */
        if (*p != '\n')
                return fail(err, 1,
                            *p ? "trailing text after value: \"%s\""
                               : "no newline after the value (file truncated?): \"%s\"",
                            excerpt(buf, ex, sizeof(ex)));
        if (p[1] != '\0')
                return fail(err, 1, "trailing text after value: \"%s\"",
                            excerpt(buf, ex, sizeof(ex)));
        *ret = v;
        return 0;
}

struct key_field {
        const char *key;
        size_t offset;
        bool required;
};

/* Per-file-type memory of which key each line held last time. The kernel writes memory.stat and
 * memory.events in a fixed order, so line N almost always holds the same key as the last file
 * of that type: its text is compared with the line (one strncmp()), and the key is known without
 * a look at the table. The agent parses on one thread; tests and tools do too. */
#define KEY_HINT_LINES 128
#define KEY_HINT_LEN   40 /* longer keys are looked up every time */
struct key_hints {
        unsigned char len[KEY_HINT_LINES]; /* of the key seen on this line, 0: nothing learnt */
        signed char idx[KEY_HINT_LINES];   /* its index in the table, -1: a key we do not keep */
        char key[KEY_HINT_LINES][KEY_HINT_LEN];
};

/* The error of a "key value" line that the parse below did not take, said as a line-wise reading
 * would: first an unterminated line, then a missing key, then the value. */
static int keyed_line_error(const char *p, unsigned line, struct parse_error *err)
{
        char ex[60];
        const char *eol = strchr(p, '\n');
        if (!eol)
                return fail(err, line, "line not terminated (file truncated?): \"%s\"",
                            excerpt(p, ex, sizeof(ex)));
        const char *sp = memchr(p, ' ', (size_t)(eol - p));
        if (!sp || sp == p)
                return fail(err, line, "expected \"key value\", got \"%s\"",
                            excerpt(p, ex, sizeof(ex)));
        const char *v = sp + 1;
        uint64_t val;
        int r = parse_u64(&v, &val);
        return fail(err, line, "%s value in \"%s\"", r == -ERANGE ? "out-of-range" : "malformed",
                    excerpt(p, ex, sizeof(ex)));
}

/* Generic "key value\n" parser behind memory.stat and memory.events. A line's key is recognised
 * by the hint for its line number, or looked up in the table (and learnt); the value of a key in
 * the table is parsed, a line of any other key is passed over to its newline unread; and once
 * every key of the table was seen the rest of the file is not looked at. A calm tick parses
 * memory.stat for every container the balloon looks at, and the routine full read for every
 * cgroup: 14,000 instructions each when every line was hashed and every value parsed (issue 13).
 */
static int parse_keyed(const char *buf, const struct key_field *fields, size_t n_fields,
                       struct key_hints *hints, void *ret, size_t ret_size, struct parse_error *err)
{
        unsigned char out[512];
        uint64_t seen = 0;
        unsigned line = 0;

        if (ret_size > sizeof(out) || n_fields > 64)
                return -EINVAL;
        const uint64_t all = n_fields == 64 ? UINT64_MAX : (UINT64_C(1) << n_fields) - 1;
        memset(out, 0, ret_size);
        for (const char *p = buf; *p && seen != all; line++) {
                const char *k = p;
                size_t klen;
                int found;
                if (line < KEY_HINT_LINES && hints->len[line] &&
                    strncmp(k, hints->key[line], hints->len[line]) == 0 &&
                    k[hints->len[line]] == ' ') {
                        klen = hints->len[line];
                        found = hints->idx[line];
                } else {
                        klen = strcspn(k, " \n");
                        if (k[klen] != ' ' || klen == 0)
                                return keyed_line_error(k, line + 1, err);
                        found = -1;
                        for (size_t i = 0; i < n_fields; i++)
                                if (strncmp(fields[i].key, k, klen) == 0 &&
                                    fields[i].key[klen] == '\0') {
                                        found = (int)i;
                                        break;
                                }
                        if (line < KEY_HINT_LINES && klen < KEY_HINT_LEN) {
                                memcpy(hints->key[line], k, klen);
                                hints->len[line] = (unsigned char)klen;
                                hints->idx[line] = (signed char)found;
                        }
                }
                const char *v = k + klen + 1;
                if (found < 0) { /* not ours: its value is not parsed */
                        const char *eol = strchr(v, '\n');
                        if (!eol)
                                return keyed_line_error(k, line + 1, err);
                        p = eol + 1;
                        continue;
                }
                uint64_t val;
                if (parse_u64(&v, &val) < 0 || *v != '\n')
                        return keyed_line_error(k, line + 1, err);
                p = v + 1;
                memcpy(out + fields[found].offset, &val, sizeof(val));
                seen |= UINT64_C(1) << found;
        }
        for (size_t i = 0; i < n_fields; i++)
                if (fields[i].required && !(seen & (UINT64_C(1) << i)))
                        return fail(err, 0, "required key \"%s\" missing (file truncated?)",
                                    fields[i].key);
        memcpy(ret, out, ret_size);
        return 0;
}

#define MS(k, req)                                                                                 \
        {                                                                                          \
#k, offsetof(struct memory_stat, k), req                                           \
        }
/* In the kernel's order: the lookup of a key not seen on its line before goes down it. */
static const struct key_field memory_stat_fields[] = {
        MS(anon, true),
        MS(file, true),
        MS(inactive_anon, false),
        MS(active_anon, false),
        MS(inactive_file, true),
        MS(active_file, true),
        MS(workingset_refault_file, false),
        MS(workingset_activate_file, false),
};
#undef MS

int parse_memory_stat(const char *buf, struct memory_stat *ret, struct parse_error *err)
{
        static struct key_hints hints;
        return parse_keyed(buf, memory_stat_fields, ELEMENTSOF(memory_stat_fields), &hints, ret,
                           sizeof(*ret), err);
}

#define ME(k, req)                                                                                 \
        {                                                                                          \
#k, offsetof(struct memory_events, k), req                                         \
        }
static const struct key_field memory_events_fields[] = {
        ME(low, true), ME(high, true),     ME(max, true),
        ME(oom, true), ME(oom_kill, true), ME(oom_group_kill, false),
};
#undef ME

int parse_memory_events(const char *buf, struct memory_events *ret, struct parse_error *err)
{
        static struct key_hints hints;
        return parse_keyed(buf, memory_events_fields, ELEMENTSOF(memory_events_fields), &hints, ret,
                           sizeof(*ret), err);
}

/* "12.34": PSI averages always have two decimals; parsed without locale-dependent strtod. */
static int parse_percent(const char **p, double *ret)
{
        uint64_t ip, fp = 0;
        unsigned fdig = 0;
        if (parse_u64(p, &ip) < 0 || ip > 100)
                return -EINVAL;
        if (**p == '.') {
                (*p)++;
                while (**p >= '0' && **p <= '9') {
                        if (fdig < 6) {
                                fp = fp * 10 + (uint64_t)(**p - '0');
                                fdig++;
                        }
                        (*p)++;
                }
                if (fdig == 0)
                        return -EINVAL;
        }
        double div = 1;
        for (unsigned i = 0; i < fdig; i++)
                div *= 10;
        *ret = (double)ip + (double)fp / div;
        return 0;
}

static int parse_psi_line(const char *p, const char *eol, struct psi_line *ret)
{
        static const char *const keys[] = { " avg10=", " avg60=", " avg300=", " total=" };
        double avg[3];

        for (size_t i = 0; i < 3; i++) {
                size_t kl = strlen(keys[i]);
                if (strncmp(p, keys[i], kl) != 0)
                        return -EINVAL;
                p += kl;
                if (parse_percent(&p, &avg[i]) < 0)
                        return -EINVAL;
        }
        if (strncmp(p, keys[3], strlen(keys[3])) != 0)
                return -EINVAL;
        p += strlen(keys[3]);
        uint64_t total;
        if (parse_u64(&p, &total) < 0 || p != eol)
                return -EINVAL;
        *ret = (struct psi_line){ avg[0], avg[1], avg[2], total };
        return 0;
}

int parse_psi(const char *buf, struct psi_stats *ret, struct parse_error *err)
{
        struct psi_stats out = { 0 };
        bool has_some = false;
        unsigned line = 0;
        char ex[80];

        for (const char *p = buf; *p; line++) {
                const char *eol = strchr(p, '\n');
                if (!eol)
                        return fail(err, line + 1, "line not terminated (file truncated?): \"%s\"",
                                    excerpt(p, ex, sizeof(ex)));
                struct psi_line *dst;
                if (strncmp(p, "some", 4) == 0) {
                        dst = &out.some;
                        has_some = true;
                } else if (strncmp(p, "full", 4) == 0) {
                        dst = &out.full;
                        out.has_full = true;
                } else
                        return fail(err, line + 1, "expected \"some\" or \"full\", got \"%s\"",
                                    excerpt(p, ex, sizeof(ex)));
                if (parse_psi_line(p + 4, eol, dst) < 0)
                        return fail(err, line + 1,
                                    "expected \"avg10=N avg60=N avg300=N total=N\", got \"%s\"",
                                    excerpt(p, ex, sizeof(ex)));
                p = eol + 1;
        }
        if (!has_some)
                return fail(err, 0, "no \"some\" line (file empty or truncated?)");
        *ret = out;
        return 0;
}

int parse_numa_stat(const char *buf, struct numa_stat *ret, struct parse_error *err)
{
        struct numa_stat out = { 0 };
        bool seen_anon = false, seen_file = false;
        unsigned line = 0;
        char ex[60];

        for (const char *p = buf; *p; line++) {
                const char *eol = strchr(p, '\n');
                if (!eol)
                        return fail(err, line + 1, "line not terminated (file truncated?): \"%s\"",
                                    excerpt(p, ex, sizeof(ex)));
                const char *sp = memchr(p, ' ', (size_t)(eol - p));
                if (!sp || sp == p)
                        return fail(err, line + 1, "expected \"key N0=value ...\", got \"%s\"",
                                    excerpt(p, ex, sizeof(ex)));
                uint64_t *dst = NULL;
                if (sp - p == 4 && memcmp(p, "anon", 4) == 0) {
                        dst = out.anon;
                        seen_anon = true;
                } else if (sp - p == 4 && memcmp(p, "file", 4) == 0) {
                        dst = out.file;
                        seen_file = true;
                }
                const char *q = sp;
                while (q < eol) {
                        uint64_t node, val;
                        if (*q != ' ' || q[1] != 'N')
                                return fail(err, line + 1,
                                            "expected \" N<node>=<bytes>\" in \"%s\"",
                                            excerpt(p, ex, sizeof(ex)));
                        q += 2;
                        if (parse_u64(&q, &node) < 0 || *q != '=')
                                return fail(err, line + 1, "malformed node id in \"%s\"",
                                            excerpt(p, ex, sizeof(ex)));
                        q++;
                        if (parse_u64(&q, &val) < 0)
                                return fail(err, line + 1, "malformed value in \"%s\"",
                                            excerpt(p, ex, sizeof(ex)));
                        if (node >= NUMA_NODES_MAX)
                                node = NUMA_NODES_MAX - 1;
                        if (node + 1 > out.n_nodes)
                                out.n_nodes = (unsigned)node + 1;
                        if (dst)
                                dst[node] += val;
                }
                p = eol + 1;
        }
        if (!seen_anon || !seen_file)
                return fail(err, 0, "\"anon\" or \"file\" line missing (file truncated?)");
        *ret = out;
        return 0;
}

int parse_meminfo(const char *buf, struct meminfo *ret, struct parse_error *err)
{
        /* Lengths kept beside the keys: a line's key is compared only with those of its length
         * (three files of 36-54 lines every tick; a strlen() and memcmp() per key per line were
         * 500 instructions a line; issue 13). */
#define MI(k, f)                                                                                   \
        {                                                                                          \
                k, sizeof(k) - 1, offsetof(struct meminfo, f)                                      \
        }
        static const struct {
                const char *key;
                size_t len;
                size_t offset;
        } fields[] = {
                MI("MemTotal", total),
                MI("MemFree", free),
                MI("MemAvailable", available),
                MI("Buffers", buffers),
                MI("Cached", cached),
                MI("SwapTotal", swap_total),
                MI("SwapFree", swap_free),
                MI("Active(file)", active_file),
                MI("Inactive(file)", inactive_file),
                MI("Shmem", shmem),
                MI("SReclaimable", sreclaimable),
        };
#undef MI
        struct meminfo out = { 0 };
        bool seen_total = false, seen_free = false;
        unsigned line = 0;
        char ex[60];

        for (const char *p = buf; *p; line++) {
                const char *eol = strchr(p, '\n');
                if (!eol)
                        return fail(err, line + 1, "line not terminated (file truncated?): \"%s\"",
                                    excerpt(p, ex, sizeof(ex)));
                const char *k = p;
                if (k[0] == 'N' && strncmp(k, "Node ", 5) == 0) { /* per-node sysfs variant */
                        uint64_t node;
                        k += 5;
                        if (parse_u64(&k, &node) < 0 || *k != ' ')
                                return fail(err, line + 1, "malformed \"Node N\" prefix in \"%s\"",
                                            excerpt(p, ex, sizeof(ex)));
                        k++;
                }
                const char *colon = memchr(k, ':', (size_t)(eol - k));
                if (!colon || colon == k)
                        return fail(err, line + 1, "expected \"Key: value\", got \"%s\"",
                                    excerpt(p, ex, sizeof(ex)));
                const char *v = colon + 1;
                while (*v == ' ')
                        v++;
                uint64_t val;
                if (parse_u64(&v, &val) < 0)
                        return fail(err, line + 1, "malformed value in \"%s\"",
                                    excerpt(p, ex, sizeof(ex)));
                if (v[0] == ' ' && v[1] == 'k' && v[2] == 'B') {
                        if (val > UINT64_MAX / 1024)
                                return fail(err, line + 1, "value out of range in \"%s\"",
                                            excerpt(p, ex, sizeof(ex)));
                        val *= 1024;
                        v += 3;
                }
                if (v != eol)
                        return fail(err, line + 1, "trailing text in \"%s\"",
                                    excerpt(p, ex, sizeof(ex)));
                size_t klen = (size_t)(colon - k);
                for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                        if (fields[i].len == klen && memcmp(fields[i].key, k, klen) == 0) {
                                memcpy((char *)&out + fields[i].offset, &val, sizeof(val));
                                if (i == 0)
                                        seen_total = true;
                                else if (i == 1)
                                        seen_free = true;
                                else if (i == 2)
                                        out.has_available = true;
                        }
                p = eol + 1;
        }
        if (!seen_total || !seen_free)
                return fail(err, 0, "MemTotal or MemFree missing (file truncated?)");
        *ret = out;
        return 0;
}

int parse_distance(const char *buf, unsigned *ret, unsigned max, unsigned *ret_n,
                   struct parse_error *err)
{
        unsigned tmp[NUMA_NODES_MAX], n = 0;
        const char *p = buf;
        char ex[60];

        while (*p && *p != '\n') {
                uint64_t v;
                if (parse_u64(&p, &v) < 0 || v > 255)
                        return fail(err, 1, "expected distances \"10 20 ...\", got \"%s\"",
                                    excerpt(buf, ex, sizeof(ex)));
                if (n < NUMA_NODES_MAX && n < max)
                        tmp[n] = (unsigned)v;
                n++;
                if (*p == ' ')
                        p++;
        }
        if (n == 0)
                return fail(err, 1, "empty distance list");
        unsigned kept = n < max ? n : max;
        if (kept > NUMA_NODES_MAX)
                kept = NUMA_NODES_MAX;
        memcpy(ret, tmp, kept * sizeof(unsigned));
        *ret_n = kept;
        return 0;
}
