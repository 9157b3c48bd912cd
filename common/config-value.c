// SPDX-License-Identifier: Apache-2.0
// The text of each configuration type, both ways: parsing a value (from a default, a YAML scalar
// or a flag) with its bounds and checks, and formatting it back as YAML that parses to the same
// value. Quantities are common/quantity.c's; durations are Go's; percents, "bytes or percent",
// strings (UTF-8 and the table's item check), lists and enums are here, with the item checks
// tables share (non-empty, absolute path, http(s) URL). Also the operations on one field of a
// program's config struct (store, copy, move, compare, free) that the table (common/config.c)
// and the YAML loader (common/config-yaml.c) share.
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config-internal.h"
#include "common/macro.h"
#include "common/quantity.h"

typedef unsigned __int128 u128;

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MIN  (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MIN)

int config_errf(char *err, size_t size, int r, const char *fmt, ...)
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
const char *config_quote(const char *s, char *buf, size_t size)
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
                if (o + l + 5 > size || o > CONFIG_QUOTE_MAX) {
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

void *config_field_of(const struct config_entry *e, const void *cfg)
{
        return (char *)cfg + e->offset;
}

size_t config_type_size(enum config_type type)
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

void config_strv_free(struct config_strv *l)
{
        if (l->items)
                for (size_t i = 0; i < l->n; i++)
                        free(l->items[i]);
        free(l->items);
        *l = (struct config_strv){ 0 };
}

/* Appends a copy of item; keeps items NULL-terminated. */
int config_strv_push(struct config_strv *l, const char *item, size_t len)
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
int config_strv_init(struct config_strv *l)
{
        *l = (struct config_strv){ .items = calloc(1, sizeof(char *)) };
        return l->items ? 0 : -ENOMEM;
}

void config_value_free(const struct config_entry *e, union config_value *v)
{
        if (e->type == CONFIG_STRING) {
                free(v->s);
                v->s = NULL;
        } else if (e->type == CONFIG_STRV)
                config_strv_free(&v->l);
}

void config_field_free(const struct config_entry *e, void *cfg)
{
        void *f = config_field_of(e, cfg);
        if (e->type == CONFIG_STRING) {
                free(*(char **)f);
                *(char **)f = NULL;
        } else if (e->type == CONFIG_STRV)
                config_strv_free(f);
}

/* Frees what the field held and moves v into it; v is left with nothing to free. */
void config_field_store(const struct config_entry *e, void *cfg, union config_value *v)
{
        config_field_free(e, cfg);
        memcpy(config_field_of(e, cfg), v, config_type_size(e->type));
        memset(v, 0, sizeof(*v));
}

/* Deep copy of one field from src into dst (whose field must hold nothing owned). */
int config_field_copy(const struct config_entry *e, void *dst, const void *src)
{
        const void *s = config_field_of(e, src);
        void *d = config_field_of(e, dst);

        if (e->type == CONFIG_STRING) {
                const char *str = *(char *const *)s;
                char *copy = NULL;
                if (str && !(copy = strdup(str)))
                        return -ENOMEM;
                *(char **)d = copy;
        } else if (e->type == CONFIG_STRV) {
                const struct config_strv *l = s;
                struct config_strv copy;
                if (config_strv_init(&copy) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < l->n; i++)
                        if (config_strv_push(&copy, l->items[i], strlen(l->items[i])) < 0) {
                                config_strv_free(&copy);
                                return -ENOMEM;
                        }
                *(struct config_strv *)d = copy;
        } else
                memcpy(d, s, config_type_size(e->type));
        return 0;
}

/* Frees dst's field and moves src's into it (src's is zeroed). */
void config_field_move(const struct config_entry *e, void *dst, void *src)
{
        config_field_free(e, dst);
        memcpy(config_field_of(e, dst), config_field_of(e, src), config_type_size(e->type));
        memset(config_field_of(e, src), 0, config_type_size(e->type));
}

bool config_field_equal(const struct config_entry *e, const void *a, const void *b)
{
        const void *fa = config_field_of(e, a), *fb = config_field_of(e, b);

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

int config_parse_bounds(const struct config_entry *e, struct config_bounds *ret)
{
        struct config_bounds b = { .has_min = e->min, .has_max = e->max };
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

static int out_of_range(const struct config_bounds *b, const char *text, char *why, size_t why_size)
{
        char q[CONFIG_QUOTE_MAX + 8];
        config_quote(text, q, sizeof(q));
        if (b->has_min && b->has_max)
                return config_errf(why, why_size, -ERANGE,
                                   "%s is out of range: must be between %s and %s", q, b->min_text,
                                   b->max_text);
        if (b->has_min)
                return config_errf(why, why_size, -ERANGE,
                                   "%s is out of range: must be at least %s", q, b->min_text);
        if (b->has_max)
                return config_errf(why, why_size, -ERANGE, "%s is out of range: must be at most %s",
                                   q, b->max_text);
        return config_errf(why, why_size, -ERANGE, "%s is out of range", q);
}

int config_check_string(const struct config_entry *e, const char *s, char *why, size_t why_size)
{
        char q[CONFIG_QUOTE_MAX + 8], sub[CONFIG_ERR_MAX];

        if (!utf8_is_valid(s))
                return config_errf(why, why_size, -EINVAL, "%s is not valid UTF-8",
                                   config_quote(s, q, sizeof(q)));
        if (e->check && e->check(s, sub, sizeof(sub)) < 0)
                return config_errf(why, why_size, -EINVAL, "%s: %s", config_quote(s, q, sizeof(q)),
                                   sub);
        return 0;
}

/* A list of the one item "none" is the empty list. */
void config_strv_normalize_none(struct config_strv *l)
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
        config_strv_normalize_none(l);
        for (size_t i = 0; i < l->n; i++) {
                int r = config_check_string(e, l->items[i], why, why_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Parses the text of one value (a flag, a YAML scalar, a default). For STRV the text is the
 * flag form: comma-separated. Returns 0 and fills *ret (caller frees with config_value_free()), or
 * a negative errno and why, which starts with the quoted text. */
int config_parse_value(const struct config_entry *e, const char *text, union config_value *ret,
                       char *why, size_t why_size)
{
        char q[CONFIG_QUOTE_MAX + 8];
        union config_value v = { 0 };
        struct config_bounds b;
        int r;

        if (config_parse_bounds(e, &b) < 0)
                return config_errf(why, why_size, -EINVAL,
                                   "the table's bounds (%s, %s) are invalid",
                                   e->min ? e->min : "none", e->max ? e->max : "none");
        config_quote(text, q, sizeof(q));

        switch (e->type) {
        case CONFIG_BOOL:
                if (parse_bool(text, &v.b) < 0)
                        return config_errf(why, why_size, -EINVAL, "%s %s", q,
                                           type_example(e->type));
                break;
        case CONFIG_INT:
                r = parse_int(text, &v.i);
                if (r == -ERANGE)
                        return out_of_range(&b, text, why, why_size);
                if (r < 0)
                        return config_errf(why, why_size, -EINVAL, "%s %s", q,
                                           type_example(e->type));
                if ((b.has_min && v.i < b.imin) || (b.has_max && v.i > b.imax))
                        return out_of_range(&b, text, why, why_size);
                break;
        case CONFIG_DURATION:
                r = parse_duration(text, &v.u);
                if (r == -ERANGE)
                        return out_of_range(&b, text, why, why_size);
                if (r < 0)
                        return config_errf(why, why_size, -EINVAL, "%s %s", q,
                                           type_example(e->type));
                if ((b.has_min && v.u < b.umin) || (b.has_max && v.u > b.umax))
                        return out_of_range(&b, text, why, why_size);
                break;
        case CONFIG_BYTES:
        case CONFIG_BYTES_OR_PERCENT: {
                size_t len = strlen(text);
                if (e->type == CONFIG_BYTES_OR_PERCENT && len > 0 && text[len - 1] == '%') {
                        v.bp.is_percent = true;
                        if (parse_number(text, len - 1, &v.bp.percent) < 0)
                                return config_errf(why, why_size, -EINVAL, "%s %s", q,
                                                   type_example(e->type));
                        if (v.bp.percent > 100)
                                return config_errf(
                                    why, why_size, -ERANGE,
                                    "%s is out of range: a percentage must be between 0%% "
                                    "and 100%%",
                                    q);
                        break;
                }
                uint64_t bytes;
                r = quantity_parse_bytes(text, &bytes);
                if (r == -ERANGE && text[0] == '-')
                        return config_errf(why, why_size, -ERANGE, "%s is negative", q);
                if (r == -ERANGE)
                        return config_errf(why, why_size, -ERANGE, "%s is too large", q);
                if (r < 0)
                        return config_errf(why, why_size, -EINVAL, "%s %s", q,
                                           type_example(e->type));
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
                        return config_errf(why, why_size, -EINVAL, "%s %s", q,
                                           type_example(e->type));
                if (v.d < b.dmin || v.d > b.dmax)
                        return out_of_range(&b, text, why, why_size);
                break;
        case CONFIG_STRING:
                r = config_check_string(e, text, why, why_size);
                if (r < 0)
                        return r;
                v.s = strdup(text);
                if (!v.s)
                        return config_errf(why, why_size, -ENOMEM, "out of memory");
                break;
        case CONFIG_STRV: {
                if (config_strv_init(&v.l) < 0)
                        return config_errf(why, why_size, -ENOMEM, "out of memory");
                const char *p = text;
                while (*text) {
                        const char *end = strchrnul(p, ',');
                        const char *a = p, *z = end;
                        while (a < z && (*a == ' ' || *a == '\t'))
                                a++;
                        while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
                                z--;
                        if (a == z) {
                                config_strv_free(&v.l);
                                return config_errf(
                                    why, why_size, -EINVAL,
                                    "%s has an empty item (items are separated by ',')", q);
                        }
                        if (config_strv_push(&v.l, a, (size_t)(z - a)) < 0) {
                                config_strv_free(&v.l);
                                return config_errf(why, why_size, -ENOMEM, "out of memory");
                        }
                        if (!*end)
                                break;
                        p = end + 1;
                }
                r = strv_finish(e, &v.l, why, why_size);
                if (r < 0) {
                        config_strv_free(&v.l);
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
                return config_errf(why, why_size, -EINVAL, "%s is not one of %s", q, names);
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
void config_fprint_value(FILE *f, const struct config_entry *e, const void *cfg)
{
        const void *fld = config_field_of(e, cfg);
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
        config_fprint_value(f, e, cfg);
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

/* ---- Item checks that tables share ---------------------------------------------------------- */

int config_check_not_empty(const char *s, char *err, size_t err_size)
{
        if (*s)
                return 0;
        return config_errf(err, err_size, -EINVAL, "must not be empty");
}

int config_check_absolute_path(const char *s, char *err, size_t err_size)
{
        if (s[0] == '/')
                return 0;
        return config_errf(err, err_size, -EINVAL, "must be an absolute path");
}

int config_check_optional_absolute_path(const char *s, char *err, size_t err_size)
{
        return *s ? config_check_absolute_path(s, err, err_size) : 0;
}

/* The authority of an http(s) URL: a host name or IPv4 address, or an [IPv6] address, and an
 * optional :port in 1..65535. No user information: credentials do not belong in a setting. */
static bool url_authority_valid(const char *a, size_t n)
{
        size_t i = 0, host_end;
        if (n == 0)
                return false;
        if (a[0] == '[') {
                const char *close = memchr(a, ']', n);
                if (!close || close == a + 1)
                        return false;
                for (const char *p = a + 1; p < close; p++)
                        if (!(isxdigit((unsigned char)*p) || *p == ':' || *p == '.'))
                                return false;
                host_end = (size_t)(close - a) + 1;
        } else {
                for (i = 0; i < n && a[i] != ':'; i++)
                        if (!(isalnum((unsigned char)a[i]) || a[i] == '.' || a[i] == '-' ||
                              a[i] == '_'))
                                return false;
                if (i == 0)
                        return false;
                host_end = i;
        }
        if (host_end == n)
                return true;
        if (a[host_end] != ':' || host_end + 1 == n || n - host_end - 1 > 5)
                return false;
        unsigned long port = 0;
        for (size_t k = host_end + 1; k < n; k++) {
                if (!isdigit((unsigned char)a[k]))
                        return false;
                port = port * 10 + (unsigned long)(a[k] - '0');
        }
        return port >= 1 && port <= 65535;
}

int config_check_http_url(const char *s, char *err, size_t err_size)
{
        const char *rest;
        if (!*s)
                return 0;
        if (strncmp(s, "http://", 7) == 0)
                rest = s + 7;
        else if (strncmp(s, "https://", 8) == 0)
                rest = s + 8;
        else
                return config_errf(err, err_size, -EINVAL,
                                   "must be an http:// or https:// URL, or \"\" for none");
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
                        return config_errf(err, err_size, -EINVAL,
                                           "is not a URL: it holds a space or a control or "
                                           "non-ASCII character");
        size_t n = strcspn(rest, "/?#");
        if (!url_authority_valid(rest, n))
                return config_errf(err, err_size, -EINVAL,
                                   "is not a URL: \"%.*s\" is not HOST, HOST:PORT or "
                                   "[IPv6]:PORT (port 1-65535)",
                                   (int)(n > 80 ? 80 : n), rest);
        return 0;
}
