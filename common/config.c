// SPDX-License-Identifier: Apache-2.0
#include "common/config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/quantity.h"

typedef unsigned __int128 u128;

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MIN  (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MIN)

#define CONFIG_FILE_MAX (1024 * 1024) /* a config file larger than this is a mistake */
#define QUOTE_MAX       96            /* user text quoted in messages is cut beyond this */
#define FLAG_MAX        128

/* A parsed value of any type, before it is stored into the program's struct. */
union value {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        struct config_bytes_or_percent bp;
        char *s;
        struct config_strv l;
        int e;
};

static int errf(char *err, size_t size, int r, const char *fmt, ...) _printf_(4, 5);
static int errf(char *err, size_t size, int r, const char *fmt, ...)
{
        if (err && size > 0) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err, size, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* s in double quotes, with control characters, quotes and backslashes escaped and long text cut,
 * so that a message stays one readable line whatever the input held. */
static const char *quote(const char *s, char *buf, size_t size)
{
        size_t o = 0;

        if (size < 8)
                return "\"\"";
        buf[o++] = '"';
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                char esc[8];
                if (*p == '"' || *p == '\\')
                        snprintf(esc, sizeof(esc), "\\%c", *p);
                else if (*p == '\n')
                        snprintf(esc, sizeof(esc), "\\n");
                else if (*p == '\t')
                        snprintf(esc, sizeof(esc), "\\t");
                else if (*p < 0x20 || *p == 0x7f)
                        snprintf(esc, sizeof(esc), "\\x%02x", *p);
                else
                        snprintf(esc, sizeof(esc), "%c", *p);
                size_t l = strlen(esc);
                if (o + l + 5 > size || o > QUOTE_MAX) {
                        memcpy(buf + o, "...", 3);
                        o += 3;
                        break;
                }
                memcpy(buf + o, esc, l);
                o += l;
        }
        buf[o++] = '"';
        buf[o] = '\0';
        return buf;
}

static bool utf8_is_valid(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                unsigned n;
                uint32_t cp;
                if (*p < 0x80) {
                        p++;
                        continue;
                } else if ((*p & 0xe0) == 0xc0) {
                        n = 1;
                        cp = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2;
                        cp = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3;
                        cp = *p & 0x07;
                } else
                        return false;
                p++;
                for (unsigned i = 0; i < n; i++, p++) {
                        if ((*p & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (*p & 0x3f);
                }
                /* overlong forms, surrogates, beyond Unicode */
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
        }
        return true;
}

/* ---- Text of each type ------------------------------------------------------------------- */

static int parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no",
                                                                                  "off" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static int parse_int(const char *s, int64_t *ret)
{
        const char *p = s;
        if (*p == '+' || *p == '-')
                p++;
        if (!*p)
                return -EINVAL;
        for (; *p; p++)
                if (*p < '0' || *p > '9')
                        return -EINVAL;
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* Go's time.ParseDuration, minus negative values and nanoseconds: a sequence of decimal numbers,
 * each with an optional fraction and a unit (h, m, s, ms, us or µs); "0" alone is zero. A
 * fraction finer than a microsecond is truncated. */
static int parse_duration(const char *s, uint64_t *ret)
{
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                /* longer names first: "ms" before "m" */
                { "ms", USEC_PER_MSEC }, { "us", 1 },
                { "\xc2\xb5s", 1 }, /* µs, MICRO SIGN */
                { "\xce\xbcs", 1 }, /* μs, GREEK SMALL LETTER MU */
                { "h", USEC_PER_HOUR },  { "m", USEC_PER_MIN },
                { "s", USEC_PER_SEC },
        };
        u128 total = 0;
        const char *p = s;

        if (streq(s, "0")) {
                *ret = 0;
                return 0;
        }
        if (!*p)
                return -EINVAL;
        while (*p) {
                u128 whole = 0, frac = 0, frac_div = 1;
                bool digits = false;

                for (; *p >= '0' && *p <= '9'; p++) {
                        digits = true;
                        whole = whole * 10 + (unsigned)(*p - '0');
                        if (whole > UINT64_MAX)
                                return -ERANGE;
                }
                if (*p == '.') {
                        p++;
                        for (; *p >= '0' && *p <= '9'; p++) {
                                digits = true;
                                if (frac_div < UINT64_C(1000000000000000000)) {
                                        frac = frac * 10 + (unsigned)(*p - '0');
                                        frac_div *= 10;
                                }
                        }
                }
                if (!digits)
                        return -EINVAL;

                size_t i;
                for (i = 0; i < ELEMENTSOF(units); i++)
                        if (strncmp(p, units[i].name, strlen(units[i].name)) == 0)
                                break;
                if (i == ELEMENTSOF(units))
                        return -EINVAL;
                p += strlen(units[i].name);

                total += whole * units[i].usec + frac * units[i].usec / frac_div;
                if (total > UINT64_MAX)
                        return -ERANGE;
        }
        *ret = (uint64_t)total;
        return 0;
}

/* "1h30m", "1s500ms", "100us", "0s": exact, and what parse_duration() reads back. */
static char *format_duration(uint64_t usec, char *buf, size_t size)
{
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                { "h", USEC_PER_HOUR },  { "m", USEC_PER_MIN }, { "s", USEC_PER_SEC },
                { "ms", USEC_PER_MSEC }, { "us", 1 },
        };
        size_t o = 0;

        if (usec == 0) {
                snprintf(buf, size, "0s");
                return buf;
        }
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(units) && o < size; i++) {
                uint64_t n = usec / units[i].usec;
                if (n == 0)
                        continue;
                usec -= n * units[i].usec;
                int k = snprintf(buf + o, size - o, "%llu%s", (unsigned long long)n, units[i].name);
                if (k < 0)
                        break;
                o += (size_t)k;
        }
        return buf;
}

/* Bytes with the largest unit that divides them exactly ("512Mi", "1G"), else an integer. */
static char *format_bytes_exact(uint64_t bytes, char *buf, size_t size)
{
        static const char *const bin[] = { "Ei", "Pi", "Ti", "Gi", "Mi", "Ki" };
        static const char *const dec[] = { "E", "P", "T", "G", "M", "k" };

        if (bytes != 0) {
                for (size_t i = 0; i < ELEMENTSOF(bin); i++) {
                        uint64_t unit = UINT64_C(1) << (10 * (ELEMENTSOF(bin) - i));
                        if (bytes % unit == 0) {
                                snprintf(buf, size, "%llu%s", (unsigned long long)(bytes / unit),
                                         bin[i]);
                                return buf;
                        }
                }
                uint64_t unit = UINT64_C(1000000000000000000);
                for (size_t i = 0; i < ELEMENTSOF(dec); i++, unit /= 1000) {
                        if (bytes % unit == 0) {
                                snprintf(buf, size, "%llu%s", (unsigned long long)(bytes / unit),
                                         dec[i]);
                                return buf;
                        }
                }
        }
        snprintf(buf, size, "%llu", (unsigned long long)bytes);
        return buf;
}

/* A non-negative decimal without exponent ("10", "12.5", ".5"), as read by parse_number(). */
static int parse_number(const char *s, size_t len, double *ret)
{
        char buf[64];
        bool digits = false, dot = false;

        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] >= '0' && s[i] <= '9')
                        digits = true;
                else if (s[i] == '.' && !dot)
                        dot = true;
                else
                        return -EINVAL;
        }
        if (!digits)
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = '\0';
        *ret = strtod(buf, NULL);
        return 0;
}

/* The shortest fixed-point text that parse_number() reads back to exactly d. */
static char *format_number(double d, char *buf, size_t size)
{
        for (int prec = 0; prec <= 40; prec++) {
                snprintf(buf, size, "%.*f", prec, d);
                if (strtod(buf, NULL) == d)
                        return buf;
        }
        return buf;
}

/* "10", "10%", "12.5%". */
static int parse_percent(const char *s, double *ret)
{
        size_t len = strlen(s);
        if (len > 0 && s[len - 1] == '%')
                len--;
        return parse_number(s, len, ret);
}

/* ---- Values of entries ------------------------------------------------------------------- */

static void *field_of(const struct config_entry *e, const void *cfg)
{
        return (char *)cfg + e->offset;
}

static size_t type_size(enum config_type type)
{
        switch (type) {
        case CONFIG_BOOL:
                return sizeof(bool);
        case CONFIG_INT:
                return sizeof(int64_t);
        case CONFIG_DURATION:
        case CONFIG_BYTES:
                return sizeof(uint64_t);
        case CONFIG_BYTES_OR_PERCENT:
                return sizeof(struct config_bytes_or_percent);
        case CONFIG_PERCENT:
                return sizeof(double);
        case CONFIG_STRING:
                return sizeof(char *);
        case CONFIG_STRV:
                return sizeof(struct config_strv);
        case CONFIG_ENUM:
                return sizeof(int);
        }
        return 0;
}

static void strv_free(struct config_strv *l)
{
        if (l->items)
                for (size_t i = 0; i < l->n; i++)
                        free(l->items[i]);
        free(l->items);
        *l = (struct config_strv){ 0 };
}

/* Appends a copy of item; keeps items NULL-terminated. */
static int strv_push(struct config_strv *l, const char *item, size_t len)
{
        char **items = realloc(l->items, (l->n + 2) * sizeof(char *));
        if (!items)
                return -ENOMEM;
        l->items = items;
        items[l->n] = strndup(item, len);
        if (!items[l->n]) {
                items[l->n] = NULL;
                return -ENOMEM;
        }
        items[++l->n] = NULL;
        return 0;
}

/* An empty list still has items = { NULL }, so that it can be handed out as a strv. */
static int strv_init(struct config_strv *l)
{
        *l = (struct config_strv){ .items = calloc(1, sizeof(char *)) };
        return l->items ? 0 : -ENOMEM;
}

static void value_free(const struct config_entry *e, union value *v)
{
        if (e->type == CONFIG_STRING) {
                free(v->s);
                v->s = NULL;
        } else if (e->type == CONFIG_STRV)
                strv_free(&v->l);
}

static void field_free(const struct config_entry *e, void *cfg)
{
        void *f = field_of(e, cfg);
        if (e->type == CONFIG_STRING) {
                free(*(char **)f);
                *(char **)f = NULL;
        } else if (e->type == CONFIG_STRV)
                strv_free(f);
}

/* Frees what the field held and moves v into it; v is left with nothing to free. */
static void field_store(const struct config_entry *e, void *cfg, union value *v)
{
        field_free(e, cfg);
        memcpy(field_of(e, cfg), v, type_size(e->type));
        memset(v, 0, sizeof(*v));
}

/* Deep copy of one field from src into dst (whose field must hold nothing owned). */
static int field_copy(const struct config_entry *e, void *dst, const void *src)
{
        const void *s = field_of(e, src);
        void *d = field_of(e, dst);

        if (e->type == CONFIG_STRING) {
                const char *str = *(char *const *)s;
                char *copy = NULL;
                if (str && !(copy = strdup(str)))
                        return -ENOMEM;
                *(char **)d = copy;
        } else if (e->type == CONFIG_STRV) {
                const struct config_strv *l = s;
                struct config_strv copy;
                if (strv_init(&copy) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < l->n; i++)
                        if (strv_push(&copy, l->items[i], strlen(l->items[i])) < 0) {
                                strv_free(&copy);
                                return -ENOMEM;
                        }
                *(struct config_strv *)d = copy;
        } else
                memcpy(d, s, type_size(e->type));
        return 0;
}

/* Frees dst's field and moves src's into it (src's is zeroed). */
static void field_move(const struct config_entry *e, void *dst, void *src)
{
        field_free(e, dst);
        memcpy(field_of(e, dst), field_of(e, src), type_size(e->type));
        memset(field_of(e, src), 0, type_size(e->type));
}

static bool field_equal(const struct config_entry *e, const void *a, const void *b)
{
        const void *fa = field_of(e, a), *fb = field_of(e, b);

        switch (e->type) {
        case CONFIG_BOOL:
                return *(const bool *)fa == *(const bool *)fb;
        case CONFIG_INT:
                return *(const int64_t *)fa == *(const int64_t *)fb;
        case CONFIG_DURATION:
        case CONFIG_BYTES:
                return *(const uint64_t *)fa == *(const uint64_t *)fb;
        case CONFIG_PERCENT:
                return *(const double *)fa == *(const double *)fb;
        case CONFIG_ENUM:
                return *(const int *)fa == *(const int *)fb;
        case CONFIG_BYTES_OR_PERCENT: {
                const struct config_bytes_or_percent *x = fa, *y = fb;
                if (x->is_percent != y->is_percent)
                        return false;
                return x->is_percent ? x->percent == y->percent : x->bytes == y->bytes;
        }
        case CONFIG_STRING: {
                const char *x = *(char *const *)fa, *y = *(char *const *)fb;
                return streq(x ? x : "", y ? y : "");
        }
        case CONFIG_STRV: {
                const struct config_strv *x = fa, *y = fb;
                if (x->n != y->n)
                        return false;
                for (size_t i = 0; i < x->n; i++)
                        if (!streq(x->items[i], y->items[i]))
                                return false;
                return true;
        }
        }
        return false;
}

static const char *type_example(enum config_type type)
{
        switch (type) {
        case CONFIG_BOOL:
                return "is not a boolean (true or false)";
        case CONFIG_INT:
                return "is not an integer";
        case CONFIG_DURATION:
                return "is not a duration (like 500ms, 2s, 1m)";
        case CONFIG_BYTES:
                return "is not a quantity (like 512Mi, 1Gi, 100M)";
        case CONFIG_BYTES_OR_PERCENT:
                return "is neither a quantity (like 512Mi, 1Gi) nor a percentage (like 10%)";
        case CONFIG_PERCENT:
                return "is not a percentage (like 10% or 12.5%)";
        default:
                return "is not valid";
        }
}

/* The bounds of a type, parsed from the table's text; inherent bounds when the text is NULL. */
struct bounds {
        bool has_min, has_max;
        int64_t imin, imax;
        uint64_t umin, umax;
        double dmin, dmax;
        const char *min_text, *max_text;
};

static int parse_bounds(const struct config_entry *e, struct bounds *ret)
{
        struct bounds b = { .has_min = e->min, .has_max = e->max };
        int r = 0;

        b.min_text = e->min;
        b.max_text = e->max;
        switch (e->type) {
        case CONFIG_INT:
                if (e->min)
                        r = parse_int(e->min, &b.imin);
                if (r == 0 && e->max)
                        r = parse_int(e->max, &b.imax);
                if (r == 0 && b.has_min && b.has_max && b.imin > b.imax)
                        r = -ERANGE;
                break;
        case CONFIG_DURATION:
                if (e->min)
                        r = parse_duration(e->min, &b.umin);
                if (r == 0 && e->max)
                        r = parse_duration(e->max, &b.umax);
                if (r == 0 && b.has_min && b.has_max && b.umin > b.umax)
                        r = -ERANGE;
                break;
        case CONFIG_BYTES:
        case CONFIG_BYTES_OR_PERCENT:
                if (e->min)
                        r = quantity_parse_bytes(e->min, &b.umin);
                if (r == 0 && e->max)
                        r = quantity_parse_bytes(e->max, &b.umax);
                if (r == 0 && b.has_min && b.has_max && b.umin > b.umax)
                        r = -ERANGE;
                break;
        case CONFIG_PERCENT:
                b.has_min = b.has_max = true;
                b.dmin = 0;
                b.dmax = 100;
                b.min_text = e->min ? e->min : "0%";
                b.max_text = e->max ? e->max : "100%";
                if (e->min)
                        r = parse_percent(e->min, &b.dmin);
                if (r == 0 && e->max)
                        r = parse_percent(e->max, &b.dmax);
                if (r == 0 && (b.dmin < 0 || b.dmax > 100 || b.dmin > b.dmax))
                        r = -ERANGE;
                break;
        default:
                if (e->min || e->max)
                        r = -EINVAL; /* no bounds for this type */
                break;
        }
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

static int out_of_range(const struct bounds *b, const char *text, char *why, size_t why_size)
{
        char q[QUOTE_MAX + 8];
        quote(text, q, sizeof(q));
        if (b->has_min && b->has_max)
                return errf(why, why_size, -ERANGE, "%s is out of range: must be between %s and %s",
                            q, b->min_text, b->max_text);
        if (b->has_min)
                return errf(why, why_size, -ERANGE, "%s is out of range: must be at least %s", q,
                            b->min_text);
        if (b->has_max)
                return errf(why, why_size, -ERANGE, "%s is out of range: must be at most %s", q,
                            b->max_text);
        return errf(why, why_size, -ERANGE, "%s is out of range", q);
}

static int check_string(const struct config_entry *e, const char *s, char *why, size_t why_size)
{
        char q[QUOTE_MAX + 8], sub[CONFIG_ERR_MAX];

        if (!utf8_is_valid(s))
                return errf(why, why_size, -EINVAL, "%s is not valid UTF-8",
                            quote(s, q, sizeof(q)));
        if (e->check && e->check(s, sub, sizeof(sub)) < 0)
                return errf(why, why_size, -EINVAL, "%s: %s", quote(s, q, sizeof(q)), sub);
        return 0;
}

/* A list of the one item "none" is the empty list. */
static void strv_normalize_none(struct config_strv *l)
{
        if (l->n == 1 && streq(l->items[0], "none")) {
                free(l->items[0]);
                l->items[0] = NULL;
                l->n = 0;
        }
}

static int strv_finish(const struct config_entry *e, struct config_strv *l, char *why,
                       size_t why_size)
{
        strv_normalize_none(l);
        for (size_t i = 0; i < l->n; i++) {
                int r = check_string(e, l->items[i], why, why_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Parses the text of one value (a flag, a YAML scalar, a default). For STRV the text is the
 * flag form: comma-separated. Returns 0 and fills *ret (caller frees with value_free()), or a
 * negative errno and why, which starts with the quoted text. */
static int parse_value(const struct config_entry *e, const char *text, union value *ret, char *why,
                       size_t why_size)
{
        char q[QUOTE_MAX + 8];
        union value v = { 0 };
        struct bounds b;
        int r;

        if (parse_bounds(e, &b) < 0)
                return errf(why, why_size, -EINVAL, "the table's bounds (%s, %s) are invalid",
                            e->min ? e->min : "none", e->max ? e->max : "none");
        quote(text, q, sizeof(q));

        switch (e->type) {
        case CONFIG_BOOL:
                if (parse_bool(text, &v.b) < 0)
                        return errf(why, why_size, -EINVAL, "%s %s", q, type_example(e->type));
                break;
        case CONFIG_INT:
                r = parse_int(text, &v.i);
                if (r == -ERANGE)
                        return out_of_range(&b, text, why, why_size);
                if (r < 0)
                        return errf(why, why_size, -EINVAL, "%s %s", q, type_example(e->type));
                if ((b.has_min && v.i < b.imin) || (b.has_max && v.i > b.imax))
                        return out_of_range(&b, text, why, why_size);
                break;
        case CONFIG_DURATION:
                r = parse_duration(text, &v.u);
                if (r == -ERANGE)
                        return out_of_range(&b, text, why, why_size);
                if (r < 0)
                        return errf(why, why_size, -EINVAL, "%s %s", q, type_example(e->type));
                if ((b.has_min && v.u < b.umin) || (b.has_max && v.u > b.umax))
                        return out_of_range(&b, text, why, why_size);
                break;
        case CONFIG_BYTES:
        case CONFIG_BYTES_OR_PERCENT: {
                size_t len = strlen(text);
                if (e->type == CONFIG_BYTES_OR_PERCENT && len > 0 && text[len - 1] == '%') {
                        v.bp.is_percent = true;
                        if (parse_number(text, len - 1, &v.bp.percent) < 0)
                                return errf(why, why_size, -EINVAL, "%s %s", q,
                                            type_example(e->type));
                        if (v.bp.percent > 100)
                                return errf(why, why_size, -ERANGE,
                                            "%s is out of range: a percentage must be between 0%% "
                                            "and 100%%",
                                            q);
                        break;
                }
                uint64_t bytes;
                r = quantity_parse_bytes(text, &bytes);
                if (r == -ERANGE && text[0] == '-')
                        return errf(why, why_size, -ERANGE, "%s is negative", q);
                if (r == -ERANGE)
                        return errf(why, why_size, -ERANGE, "%s is too large", q);
                if (r < 0)
                        return errf(why, why_size, -EINVAL, "%s %s", q, type_example(e->type));
                if ((b.has_min && bytes < b.umin) || (b.has_max && bytes > b.umax))
                        return out_of_range(&b, text, why, why_size);
                if (e->type == CONFIG_BYTES)
                        v.u = bytes;
                else
                        v.bp.bytes = bytes;
                break;
        }
        case CONFIG_PERCENT:
                if (parse_percent(text, &v.d) < 0)
                        return errf(why, why_size, -EINVAL, "%s %s", q, type_example(e->type));
                if (v.d < b.dmin || v.d > b.dmax)
                        return out_of_range(&b, text, why, why_size);
                break;
        case CONFIG_STRING:
                r = check_string(e, text, why, why_size);
                if (r < 0)
                        return r;
                v.s = strdup(text);
                if (!v.s)
                        return errf(why, why_size, -ENOMEM, "out of memory");
                break;
        case CONFIG_STRV: {
                if (strv_init(&v.l) < 0)
                        return errf(why, why_size, -ENOMEM, "out of memory");
                const char *p = text;
                while (*text) {
                        const char *end = strchrnul(p, ',');
                        const char *a = p, *z = end;
                        while (a < z && (*a == ' ' || *a == '\t'))
                                a++;
                        while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
                                z--;
                        if (a == z) {
                                strv_free(&v.l);
                                return errf(why, why_size, -EINVAL,
                                            "%s has an empty item (items are separated by ',')", q);
                        }
                        if (strv_push(&v.l, a, (size_t)(z - a)) < 0) {
                                strv_free(&v.l);
                                return errf(why, why_size, -ENOMEM, "out of memory");
                        }
                        if (!*end)
                                break;
                        p = end + 1;
                }
                r = strv_finish(e, &v.l, why, why_size);
                if (r < 0) {
                        strv_free(&v.l);
                        return r;
                }
                break;
        }
        case CONFIG_ENUM: {
                char names[256] = "";
                size_t i;
                for (i = 0; e->enum_values[i].name; i++)
                        if (strcasecmp(text, e->enum_values[i].name) == 0)
                                break;
                if (e->enum_values[i].name) {
                        v.e = e->enum_values[i].value;
                        break;
                }
                for (i = 0; e->enum_values[i].name; i++) {
                        size_t o = strlen(names);
                        snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
                                 e->enum_values[i].name);
                }
                return errf(why, why_size, -EINVAL, "%s is not one of %s", q, names);
        }
        }
        *ret = v;
        return 0;
}

/* s as a YAML double-quoted scalar, exactly: what libyaml reads back to the same bytes. C0 and C1
 * controls and DEL are escaped (YAML does not allow them raw); other UTF-8 is written as is. */
static void fprint_yaml_string(FILE *f, const char *s)
{
        const unsigned char *p = (const unsigned char *)(s ? s : "");
        fputc('"', f);
        for (; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
                        fprintf(f, "\\x%02x", p[1]); /* U+0080..U+009F */
                        p++;
                } else
                        fputc(*p, f);
        }
        fputc('"', f);
}

/* One value as YAML: plain scalars for everything but strings, flow sequences for lists. */
static void fprint_value(FILE *f, const struct config_entry *e, const void *cfg)
{
        const void *fld = field_of(e, cfg);
        char tmp[64];

        switch (e->type) {
        case CONFIG_BOOL:
                fputs(*(const bool *)fld ? "true" : "false", f);
                break;
        case CONFIG_INT:
                fprintf(f, "%lld", (long long)*(const int64_t *)fld);
                break;
        case CONFIG_DURATION:
                fputs(format_duration(*(const uint64_t *)fld, tmp, sizeof(tmp)), f);
                break;
        case CONFIG_BYTES:
                fputs(format_bytes_exact(*(const uint64_t *)fld, tmp, sizeof(tmp)), f);
                break;
        case CONFIG_BYTES_OR_PERCENT: {
                const struct config_bytes_or_percent *bp = fld;
                if (bp->is_percent)
                        fprintf(f, "%s%%", format_number(bp->percent, tmp, sizeof(tmp)));
                else
                        fputs(format_bytes_exact(bp->bytes, tmp, sizeof(tmp)), f);
                break;
        }
        case CONFIG_PERCENT:
                fprintf(f, "%s%%", format_number(*(const double *)fld, tmp, sizeof(tmp)));
                break;
        case CONFIG_ENUM: {
                size_t i;
                for (i = 0; e->enum_values[i].name; i++)
                        if (e->enum_values[i].value == *(const int *)fld)
                                break;
                /* A value outside the table cannot come from parsing; print it so it is seen. */
                if (e->enum_values[i].name)
                        fputs(e->enum_values[i].name, f);
                else
                        fprintf(f, "%d", *(const int *)fld);
                break;
        }
        case CONFIG_STRING:
                fprint_yaml_string(f, *(char *const *)fld);
                break;
        case CONFIG_STRV: {
                const struct config_strv *l = fld;
                fputc('[', f);
                for (size_t i = 0; i < l->n; i++) {
                        if (i > 0)
                                fputs(", ", f);
                        fprint_yaml_string(f, l->items[i]);
                }
                fputc(']', f);
                break;
        }
        }
}

char *config_format_value(const struct config_entry *e, const void *cfg, char *buf, size_t size)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f;

        if (size == 0)
                return buf;
        f = open_memstream(&text, &len);
        if (!f) {
                snprintf(buf, size, "?");
                return buf;
        }
        fprint_value(f, e, cfg);
        if (fclose(f) != 0 || !text) {
                free(text);
                snprintf(buf, size, "?");
                return buf;
        }
        if (len < size)
                memcpy(buf, text, len + 1);
        else if (size >= 4)
                snprintf(buf, size, "%.*s...", (int)(size - 4), text);
        else
                buf[0] = '\0';
        free(text);
        return buf;
}

/* ---- The table --------------------------------------------------------------------------- */

static bool key_is_valid(const char *key)
{
        if (!key || !(key[0] >= 'a' && key[0] <= 'z'))
                return false;
        for (const char *p = key; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9')))
                        return false;
        return strlen(key) < FLAG_MAX / 2;
}

char *config_key_to_flag(const char *key, char *buf, size_t size)
{
        size_t o = 0;
        if (size == 0)
                return buf;
        for (const char *p = key; *p && o + 2 < size; p++) {
                if (*p >= 'A' && *p <= 'Z') {
                        buf[o++] = '-';
                        buf[o++] = (char)(*p - 'A' + 'a');
                } else
                        buf[o++] = *p;
        }
        buf[o] = '\0';
        return buf;
}

int config_table_verify(const struct config_table *t, char *err, size_t err_size)
{
        if (t->n_entries > CONFIG_ENTRIES_MAX)
                return errf(err, err_size, -EINVAL, "config table: %zu entries, at most %d",
                            t->n_entries, CONFIG_ENTRIES_MAX);
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct config_entry *e = &t->entries[i];
                char why[CONFIG_ERR_MAX];
                struct bounds b;
                union value v;

                if (!key_is_valid(e->key))
                        return errf(err, err_size, -EINVAL,
                                    "config table: entry %zu: key \"%s\" is not camelCase", i,
                                    e->key ? e->key : "(null)");
                for (size_t j = 0; j < i; j++)
                        if (streq(t->entries[j].key, e->key))
                                return errf(err, err_size, -EINVAL,
                                            "config table: key \"%s\" appears twice", e->key);
                if (e->offset + type_size(e->type) > t->struct_size || type_size(e->type) == 0)
                        return errf(err, err_size, -EINVAL,
                                    "config table: key \"%s\": field outside the struct", e->key);
                if (!e->help || !*e->help)
                        return errf(err, err_size, -EINVAL, "config table: key \"%s\": no help",
                                    e->key);
                if (e->type == CONFIG_ENUM && (!e->enum_values || !e->enum_values[0].name))
                        return errf(err, err_size, -EINVAL,
                                    "config table: key \"%s\": an enum without values", e->key);
                if (e->type != CONFIG_ENUM && e->enum_values)
                        return errf(err, err_size, -EINVAL,
                                    "config table: key \"%s\": enum values on a non-enum", e->key);
                if (e->check && e->type != CONFIG_STRING && e->type != CONFIG_STRV)
                        return errf(err, err_size, -EINVAL,
                                    "config table: key \"%s\": a check on a non-string", e->key);
                if (parse_bounds(e, &b) < 0)
                        return errf(err, err_size, -EINVAL,
                                    "config table: key \"%s\": bounds (%s, %s) do not parse or "
                                    "are not ordered",
                                    e->key, e->min ? e->min : "none", e->max ? e->max : "none");
                int r = parse_value(e, e->def ? e->def : "", &v, why, sizeof(why));
                if (r == -ENOMEM)
                        return errf(err, err_size, r, "out of memory");
                if (r < 0)
                        return errf(err, err_size, -EINVAL, "config table: key \"%s\": default: %s",
                                    e->key, why);
                value_free(e, &v);
        }
        return 0;
}

int config_set_defaults(const struct config_table *t, void *cfg, struct config_sources *sources,
                        char *err, size_t err_size)
{
        int r = config_table_verify(t, err, err_size);
        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct config_entry *e = &t->entries[i];
                char why[CONFIG_ERR_MAX];
                union value v;

                r = parse_value(e, e->def ? e->def : "", &v, why, sizeof(why));
                if (r < 0) { /* only ENOMEM: the table verified */
                        for (size_t j = 0; j < i; j++)
                                field_free(&t->entries[j], cfg);
                        return errf(err, err_size, r, "config table: key \"%s\": default: %s",
                                    e->key, why);
                }
                memset(field_of(e, cfg), 0, type_size(e->type));
                field_store(e, cfg, &v);
        }
        if (sources)
                *sources = (struct config_sources){ { 0 } };
        return 0;
}

void config_free(const struct config_table *t, void *cfg)
{
        for (size_t i = 0; i < t->n_entries; i++)
                field_free(&t->entries[i], cfg);
}

bool config_equal(const struct config_table *t, const void *a, const void *b)
{
        for (size_t i = 0; i < t->n_entries; i++)
                if (!field_equal(&t->entries[i], a, b))
                        return false;
        return true;
}

/* A scratch struct holding deep copies of every table field of cfg. */
static int scratch_copy(const struct config_table *t, const void *cfg, void **ret)
{
        void *s = calloc(1, t->struct_size);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_entries; i++)
                if (field_copy(&t->entries[i], s, cfg) < 0) {
                        for (size_t j = 0; j < i; j++)
                                field_free(&t->entries[j], s);
                        free(s);
                        return -ENOMEM;
                }
        *ret = s;
        return 0;
}

static void scratch_free(const struct config_table *t, void *s)
{
        if (!s)
                return;
        config_free(t, s);
        free(s);
}

const struct config_entry *config_find_key(const struct config_table *t, const char *key)
{
        for (size_t i = 0; i < t->n_entries; i++)
                if (streq(t->entries[i].key, key))
                        return &t->entries[i];
        return NULL;
}

const struct config_entry *config_find_flag(const struct config_table *t, const char *flag)
{
        char buf[FLAG_MAX];
        if (flag[0] == '-' && flag[1] == '-')
                flag += 2;
        for (size_t i = 0; i < t->n_entries; i++)
                if (streq(config_key_to_flag(t->entries[i].key, buf, sizeof(buf)), flag))
                        return &t->entries[i];
        return NULL;
}

static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b), prev[FLAG_MAX], cur[FLAG_MAX];

        if (la >= FLAG_MAX || lb >= FLAG_MAX)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
                        size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
                        cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
                }
                memcpy(prev, cur, (lb + 1) * sizeof(size_t));
        }
        return prev[lb];
}

/* The entry whose key is closest to an unknown one (typo, wrong case, or the flag's spelling),
 * or NULL when none is close. */
static const struct config_entry *suggest(const struct config_table *t, const char *key,
                                          bool is_flag)
{
        const struct config_entry *best = NULL;
        size_t best_d = 3; /* at most 2 edits */

        for (size_t i = 0; i < t->n_entries; i++) {
                char flag[FLAG_MAX];
                const char *name = is_flag
                                       ? config_key_to_flag(t->entries[i].key, flag, sizeof(flag))
                                       : t->entries[i].key;
                size_t d = edit_distance(key, name);
                if (strcasecmp(key, name) == 0 ||
                    (!is_flag &&
                     streq(key, config_key_to_flag(t->entries[i].key, flag, sizeof(flag)))))
                        d = 0;
                if (d < best_d) {
                        best_d = d;
                        best = &t->entries[i];
                }
        }
        return best;
}

int config_apply_flag(const struct config_table *t, const char *flag, const char *value, void *cfg,
                      struct config_sources *sources, char *err, size_t err_size)
{
        const struct config_entry *e;
        char why[CONFIG_ERR_MAX], name[FLAG_MAX];
        union value v;
        int r;

        if (flag[0] == '-' && flag[1] == '-')
                flag += 2;
        e = config_find_flag(t, flag);
        if (!e) {
                const struct config_entry *s = suggest(t, flag, true);
                if (s)
                        return errf(err, err_size, -ENOENT,
                                    "--%.*s: unknown option (did you mean --%s?)", QUOTE_MAX, flag,
                                    config_key_to_flag(s->key, name, sizeof(name)));
                return errf(err, err_size, -ENOENT, "--%.*s: unknown option", QUOTE_MAX, flag);
        }
        config_key_to_flag(e->key, name, sizeof(name));
        if (!value) {
                if (e->type != CONFIG_BOOL)
                        return errf(err, err_size, -EINVAL, "--%s: needs a value", name);
                value = "true";
        }
        r = parse_value(e, value, &v, why, sizeof(why));
        if (r < 0)
                return errf(err, err_size, r == -ENOMEM ? r : -EINVAL, "--%s: %s", name, why);
        field_store(e, cfg, &v);
        if (sources)
                sources->of[e - t->entries] = CONFIG_SOURCE_FLAG;
        return 0;
}

int config_check(const struct config_table *t, const void *cfg, char *err, size_t err_size)
{
        if (!t->check)
                return 0;
        return t->check(cfg, err, err_size);
}

/* ---- YAML -------------------------------------------------------------------------------- */

static size_t line_of(const yaml_node_t *n)
{
        return n->start_mark.line + 1;
}

static const char *node_kind(const yaml_node_t *n)
{
        switch (n->type) {
        case YAML_MAPPING_NODE:
                return "a mapping";
        case YAML_SEQUENCE_NODE:
                return "a list";
        default:
                return "a single value";
        }
}

static bool scalar_is_null(const yaml_node_t *n)
{
        static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
        if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(nulls); i++)
                if (streq((const char *)n->data.scalar.value, nulls[i]))
                        return true;
        return false;
}

/* The text of a scalar node; NULL when it holds a NUL byte (why written). */
static const char *scalar_text(const yaml_node_t *n, char *why, size_t why_size)
{
        const char *s = (const char *)n->data.scalar.value;
        if (strlen(s) != n->data.scalar.length) {
                errf(why, why_size, -EINVAL, "the value contains a NUL character");
                return NULL;
        }
        return s;
}

/* Parses the value node of entry e. Returns 0 and *ret, or a negative errno with why and the
 * line the problem is on. */
static int parse_node(const struct config_entry *e, yaml_document_t *doc, yaml_node_t *n,
                      union value *ret, size_t *ret_line, char *why, size_t why_size)
{
        *ret_line = line_of(n);

        if (e->type == CONFIG_STRV) {
                union value v = { 0 };
                if (n->type == YAML_SCALAR_NODE && !scalar_is_null(n))
                        return errf(why, why_size, -EINVAL,
                                    "expected a list (like [\"a\", \"b\"] or one \"- item\" per "
                                    "line), not a single value");
                if (n->type == YAML_MAPPING_NODE)
                        return errf(why, why_size, -EINVAL, "expected a list, not a mapping");
                if (strv_init(&v.l) < 0)
                        return errf(why, why_size, -ENOMEM, "out of memory");
                if (n->type == YAML_SEQUENCE_NODE)
                        for (yaml_node_item_t *it = n->data.sequence.items.start;
                             it < n->data.sequence.items.top; it++) {
                                yaml_node_t *item = yaml_document_get_node(doc, *it);
                                const char *s;
                                *ret_line = line_of(item);
                                if (item->type != YAML_SCALAR_NODE) {
                                        strv_free(&v.l);
                                        return errf(why, why_size, -EINVAL,
                                                    "list items must be single values, not %s",
                                                    node_kind(item));
                                }
                                if (!(s = scalar_text(item, why, why_size))) {
                                        strv_free(&v.l);
                                        return -EINVAL;
                                }
                                if (strv_push(&v.l, s, strlen(s)) < 0) {
                                        strv_free(&v.l);
                                        return errf(why, why_size, -ENOMEM, "out of memory");
                                }
                        }
                /* Item checks: report the line of the item at fault. */
                strv_normalize_none(&v.l);
                for (size_t i = 0; i < v.l.n; i++) {
                        int r = check_string(e, v.l.items[i], why, why_size);
                        if (r < 0) {
                                yaml_node_t *item =
                                    yaml_document_get_node(doc, n->data.sequence.items.start[i]);
                                *ret_line = line_of(item);
                                strv_free(&v.l);
                                return r;
                        }
                }
                *ret = v;
                return 0;
        }

        if (n->type != YAML_SCALAR_NODE)
                return errf(why, why_size, -EINVAL, "expected a single value, not %s",
                            node_kind(n));
        if (scalar_is_null(n)) {
                if (e->type == CONFIG_STRING)
                        return parse_value(e, "", ret, why, why_size);
                return errf(why, why_size, -EINVAL, "needs a value");
        }
        const char *s = scalar_text(n, why, why_size);
        if (!s)
                return -EINVAL;
        return parse_value(e, s, ret, why, why_size);
}

static int yaml_error(const yaml_parser_t *p, const char *name, char *err, size_t err_size)
{
        if (p->error == YAML_MEMORY_ERROR)
                return errf(err, err_size, -ENOMEM, "%s: out of memory", name);
        if (p->context)
                return errf(err, err_size, -EINVAL, "%s:%zu: invalid YAML: %s (%s at line %zu)",
                            name, p->problem_mark.line + 1, p->problem ? p->problem : "error",
                            p->context, p->context_mark.line + 1);
        return errf(err, err_size, -EINVAL, "%s:%zu: invalid YAML: %s", name,
                    p->problem_mark.line + 1, p->problem ? p->problem : "error");
}

/* Applies the mapping at the root of doc onto scratch; seen_line[i] gets the line of key i. */
static int apply_document(const struct config_table *t, const char *name, yaml_document_t *doc,
                          void *scratch, size_t *seen_line, char *err, size_t err_size)
{
        yaml_node_t *root = yaml_document_get_root_node(doc);
        char why[CONFIG_ERR_MAX], qk[QUOTE_MAX + 8];

        if (!root || scalar_is_null(root))
                return 0; /* empty file, or a document with nothing in it */
        if (root->type != YAML_MAPPING_NODE)
                return errf(err, err_size, -EINVAL,
                            "%s:%zu: expected a mapping of keys to values (\"key: value\" lines), "
                            "not %s",
                            name, line_of(root), node_kind(root));

        for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
             pair < root->data.mapping.pairs.top; pair++) {
                yaml_node_t *kn = yaml_document_get_node(doc, pair->key);
                yaml_node_t *vn = yaml_document_get_node(doc, pair->value);
                const struct config_entry *e;
                union value v;
                size_t line;
                int r;

                if (kn->type != YAML_SCALAR_NODE)
                        return errf(err, err_size, -EINVAL, "%s:%zu: a key must be a name, not %s",
                                    name, line_of(kn), node_kind(kn));
                const char *key = (const char *)kn->data.scalar.value;
                quote(key, qk, sizeof(qk));
                e = config_find_key(t, key);
                if (!e) {
                        const struct config_entry *s = suggest(t, key, false);
                        if (s)
                                return errf(err, err_size, -EINVAL,
                                            "%s:%zu: key %s: unknown key (did you mean \"%s\"?)",
                                            name, line_of(kn), qk, s->key);
                        return errf(err, err_size, -EINVAL, "%s:%zu: key %s: unknown key", name,
                                    line_of(kn), qk);
                }
                size_t i = (size_t)(e - t->entries);
                if (seen_line[i])
                        return errf(err, err_size, -EINVAL,
                                    "%s:%zu: key %s: duplicate key (first set on line %zu)", name,
                                    line_of(kn), qk, seen_line[i]);
                seen_line[i] = line_of(kn);

                r = parse_node(e, doc, vn, &v, &line, why, sizeof(why));
                if (r == -ENOMEM)
                        return errf(err, err_size, r, "%s: out of memory", name);
                if (r < 0)
                        return errf(err, err_size, -EINVAL, "%s:%zu: key %s: %s", name, line, qk,
                                    why);
                field_store(e, scratch, &v);
        }
        return 0;
}

int config_load_string(const struct config_table *t, const char *name, const char *text, size_t len,
                       void *cfg, struct config_sources *sources, char *err, size_t err_size)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        size_t seen_line[CONFIG_ENTRIES_MAX] = { 0 };
        void *scratch = NULL;
        int r;

        if (t->n_entries > CONFIG_ENTRIES_MAX)
                return errf(err, err_size, -EINVAL, "config table: too many entries");
        if (!yaml_parser_initialize(&parser))
                return errf(err, err_size, -ENOMEM, "%s: out of memory", name);
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

        if (!yaml_parser_load(&parser, &doc)) {
                r = yaml_error(&parser, name, err, err_size);
                yaml_parser_delete(&parser);
                return r;
        }
        r = scratch_copy(t, cfg, &scratch);
        if (r < 0) {
                errf(err, err_size, r, "%s: out of memory", name);
                goto out_doc;
        }
        r = apply_document(t, name, &doc, scratch, seen_line, err, err_size);
        if (r < 0)
                goto out_doc;

        /* One document only: a second one would silently be ignored otherwise. */
        if (yaml_document_get_root_node(&doc)) {
                yaml_document_t next;
                yaml_document_delete(&doc);
                if (!yaml_parser_load(&parser, &next)) {
                        r = yaml_error(&parser, name, err, err_size);
                        scratch_free(t, scratch);
                        yaml_parser_delete(&parser);
                        return r;
                }
                doc = next;
                yaml_node_t *root = yaml_document_get_root_node(&doc);
                if (root) {
                        r = errf(err, err_size, -EINVAL,
                                 "%s:%zu: a second YAML document; the file must hold one", name,
                                 doc.start_mark.line + 1);
                        goto out_doc;
                }
        }

        for (size_t i = 0; i < t->n_entries; i++)
                if (seen_line[i]) {
                        field_move(&t->entries[i], cfg, scratch);
                        if (sources)
                                sources->of[i] = CONFIG_SOURCE_FILE;
                }
        r = 0;
out_doc:
        scratch_free(t, scratch);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return r;
}

int config_load_file(const struct config_table *t, const char *path, void *cfg,
                     struct config_sources *sources, char *err, size_t err_size)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        f = fopen(path, "re");
        if (!f) {
                r = negative_errno();
                if (r == -ENOENT)
                        return errf(err, err_size, r, "%s: no such file", path);
                errno = -r;
                return errf(err, err_size, r, "Failed to open %s: %m", path);
        }
        buf = malloc(CONFIG_FILE_MAX + 1);
        if (!buf) {
                fclose(f);
                return errf(err, err_size, -ENOMEM, "%s: out of memory", path);
        }
        len = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
        if (ferror(f)) {
                r = errno > 0 ? -errno : -EIO;
                fclose(f);
                errno = -r;
                return errf(err, err_size, r, "Failed to read %s: %m", path);
        }
        fclose(f);
        if (len > CONFIG_FILE_MAX)
                return errf(err, err_size, -EFBIG, "%s: larger than %d bytes; not a config file",
                            path, CONFIG_FILE_MAX);
        return config_load_string(t, path, buf, len, cfg, sources, err, err_size);
}

/* ---- Output ------------------------------------------------------------------------------ */

/* Prints text wrapped at `width` columns, every line starting with `prefix`. */
static void print_wrapped(FILE *f, const char *text, const char *prefix, int width)
{
        const char *p = text;
        while (*p) {
                int avail = width - (int)strlen(prefix);
                size_t len = strlen(p), cut = len;
                if (avail < 20)
                        avail = 20;
                if ((int)len > avail) {
                        cut = (size_t)avail;
                        while (cut > 0 && p[cut] != ' ')
                                cut--;
                        if (cut == 0)
                                cut = (size_t)avail;
                }
                fprintf(f, "%s%.*s\n", prefix, (int)cut, p);
                p += cut;
                while (*p == ' ')
                        p++;
        }
}

int config_dump_yaml(const struct config_table *t, const void *cfg,
                     const struct config_sources *sources, FILE *f)
{
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct config_entry *e = &t->entries[i];
                char flag[FLAG_MAX], comment[2048];

                snprintf(comment, sizeof(comment), "%s%s%s%s%s", e->help,
                         e->reloadable ? "" : " Changes need a restart.",
                         sources && sources->of[i] == CONFIG_SOURCE_FLAG ? " Set by --" : "",
                         sources && sources->of[i] == CONFIG_SOURCE_FLAG
                             ? config_key_to_flag(e->key, flag, sizeof(flag))
                             : "",
                         sources && sources->of[i] == CONFIG_SOURCE_FLAG ? "." : "");
                if (i > 0)
                        fputc('\n', f);
                print_wrapped(f, comment, "# ", 100);
                fprintf(f, "%s: ", e->key);
                fprint_value(f, e, cfg);
                fputc('\n', f);
        }
        fflush(f);
        return ferror(f) ? -EIO : 0;
}

static const char *metavar(const struct config_entry *e, char *buf, size_t size)
{
        if (e->metavar)
                return e->metavar;
        switch (e->type) {
        case CONFIG_BOOL:
                return "[=BOOL]";
        case CONFIG_INT:
                return "N";
        case CONFIG_DURATION:
                return "DURATION";
        case CONFIG_BYTES:
                return "QUANTITY";
        case CONFIG_BYTES_OR_PERCENT:
                return "QUANTITY|PCT%";
        case CONFIG_PERCENT:
                return "PCT%";
        case CONFIG_STRING:
                return "STRING";
        case CONFIG_STRV:
                return "ITEM,...";
        case CONFIG_ENUM:
                buf[0] = '\0';
                for (size_t i = 0; e->enum_values[i].name; i++) {
                        size_t o = strlen(buf);
                        snprintf(buf + o, size - o, "%s%s", i ? "|" : "", e->enum_values[i].name);
                }
                return buf;
        }
        return "VALUE";
}

void config_print_help(const struct config_table *t, FILE *f)
{
        void *defs = calloc(1, t->struct_size);
        bool have_defs = defs && config_set_defaults(t, defs, NULL, NULL, 0) == 0;

        for (size_t i = 0; i < t->n_entries; i++) {
                const struct config_entry *e = &t->entries[i];
                char flag[FLAG_MAX], mv[256], def[256], text[2048];
                const char *sep = e->type == CONFIG_BOOL ? "" : " ";
                struct bounds b;
                int o;

                /* The default as the dump writes it; a list as its flag takes it. */
                if (e->type == CONFIG_STRV || !have_defs)
                        snprintf(def, sizeof(def), "%s", e->def && *e->def ? e->def : "none");
                else
                        config_format_value(e, defs, def, sizeof(def));
                fprintf(f, "  --%s%s%s\n", config_key_to_flag(e->key, flag, sizeof(flag)), sep,
                        metavar(e, mv, sizeof(mv)));
                o = snprintf(text, sizeof(text), "%s Default %s", e->help, def);
                if (parse_bounds(e, &b) == 0 && (b.min_text || b.max_text) && o > 0 &&
                    (size_t)o < sizeof(text)) {
                        if (b.min_text && b.max_text)
                                o += snprintf(text + o, sizeof(text) - (size_t)o, ", range %s..%s",
                                              b.min_text, b.max_text);
                        else if (b.min_text)
                                o += snprintf(text + o, sizeof(text) - (size_t)o, ", at least %s",
                                              b.min_text);
                        else
                                o += snprintf(text + o, sizeof(text) - (size_t)o, ", at most %s",
                                              b.max_text);
                }
                if (o > 0 && (size_t)o < sizeof(text))
                        snprintf(text + o, sizeof(text) - (size_t)o, "; YAML key %s%s.", e->key,
                                 e->reloadable ? ", reloadable" : "");
                print_wrapped(f, text, "        ", 80);
        }
        scratch_free(t, defs);
}

/* ---- Reload ------------------------------------------------------------------------------ */

int config_reload(const struct config_table *t, const char *path, bool path_required, void *cfg,
                  struct config_sources *sources, char *err, size_t err_size)
{
        struct config_sources next_src;
        bool flag_differs[CONFIG_ENTRIES_MAX] = { false }, restart[CONFIG_ENTRIES_MAX] = { false };
        void *next, *want = NULL; /* next: the result; want: what the file alone asks for */
        int r, changed = 0;

        if (t->n_entries > CONFIG_ENTRIES_MAX)
                return errf(err, err_size, -EINVAL, "config table: too many entries");
        next = calloc(1, t->struct_size);
        if (!next)
                return errf(err, err_size, -ENOMEM, "out of memory");
        r = config_set_defaults(t, next, &next_src, err, err_size);
        if (r < 0) {
                free(next);
                return r;
        }
        r = config_load_file(t, path, next, &next_src, err, err_size);
        if (r == -ENOENT && !path_required)
                r = 0; /* the optional default file is gone: defaults, as at start */
        if (r < 0)
                goto out;
        r = scratch_copy(t, next, &want);
        if (r < 0) {
                errf(err, err_size, r, "out of memory");
                goto out;
        }

        /* Flags win over the file; keys that cannot change at run time keep their value. */
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct config_entry *e = &t->entries[i];
                bool is_flag = sources->of[i] == CONFIG_SOURCE_FLAG;

                if (field_equal(e, next, cfg)) {
                        if (is_flag)
                                next_src.of[i] = CONFIG_SOURCE_FLAG;
                        continue;
                }
                if (is_flag)
                        flag_differs[i] = next_src.of[i] == CONFIG_SOURCE_FILE;
                else if (!e->reloadable)
                        restart[i] = true;
                else
                        continue;
                field_free(e, next);
                r = field_copy(e, next, cfg);
                if (r < 0) {
                        errf(err, err_size, r, "out of memory");
                        goto out;
                }
                next_src.of[i] = sources->of[i];
        }
        r = config_check(t, next, err, err_size);
        if (r < 0) {
                char why[CONFIG_ERR_MAX];
                snprintf(why, sizeof(why), "%s", err ? err : "");
                errf(err, err_size, r, "%s: %s", path, why);
                goto out;
        }

        /* Everything is valid and nothing below fails: log, then commit. */
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct config_entry *e = &t->entries[i];
                char was[256], now[256], flag[FLAG_MAX];

                config_format_value(e, cfg, was, sizeof(was));
                config_format_value(e, want, now, sizeof(now));
                if (flag_differs[i])
                        log_notice("%s: key \"%s\" is %s in the file, but --%s=%s on the command "
                                   "line takes precedence; keeping %s",
                                   path, e->key, now,
                                   config_key_to_flag(e->key, flag, sizeof(flag)), was, was);
                else if (restart[i])
                        log_notice("%s: key \"%s\" changed from %s to %s, but it cannot change at "
                                   "run time; keeping %s until a restart",
                                   path, e->key, was, now, was);
                else if (!field_equal(e, next, cfg)) {
                        log_info("%s: key \"%s\" changed from %s to %s, applied", path, e->key, was,
                                 now);
                        changed++;
                }
        }
        for (size_t i = 0; i < t->n_entries; i++)
                field_move(&t->entries[i], cfg, next);
        *sources = next_src;
        r = changed;
out:
        scratch_free(t, want);
        scratch_free(t, next);
        return r;
}
