// SPDX-License-Identifier: Apache-2.0
// The value of a configuration entry, both ways: parsing its text (from a default, a YAML scalar
// or a flag) within the table's bounds, with one-line messages that quote what was given, and
// formatting it back as YAML that parses to the same value. The text of each kind lives apart:
//   config-value-number.c    booleans, integers, quantities, percentages
//   config-value-duration.c  durations (Go's syntax)
//   config-value-string.c    strings (UTF-8, item checks, YAML quoting), shared item checks
//   config-value-list.c      lists of strings
//   config-field.c           the operations on one field of a program's struct
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config-internal.h"
#include "common/macro.h"
#include "common/quantity.h"

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
                        r = config_text_parse_int(e->min, &b.imin);
                if (r == 0 && e->max)
                        r = config_text_parse_int(e->max, &b.imax);
                if (r == 0 && b.has_min && b.has_max && b.imin > b.imax)
                        r = -ERANGE;
                break;
        case CONFIG_DURATION:
                if (e->min)
                        r = config_text_parse_duration(e->min, &b.umin);
                if (r == 0 && e->max)
                        r = config_text_parse_duration(e->max, &b.umax);
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
                        r = config_text_parse_percent(e->min, &b.dmin);
                if (r == 0 && e->max)
                        r = config_text_parse_percent(e->max, &b.dmax);
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
                if (config_text_parse_bool(text, &v.b) < 0)
                        return config_errf(why, why_size, -EINVAL, "%s %s", q,
                                           type_example(e->type));
                break;
        case CONFIG_INT:
                r = config_text_parse_int(text, &v.i);
                if (r == -ERANGE)
                        return out_of_range(&b, text, why, why_size);
                if (r < 0)
                        return config_errf(why, why_size, -EINVAL, "%s %s", q,
                                           type_example(e->type));
                if ((b.has_min && v.i < b.imin) || (b.has_max && v.i > b.imax))
                        return out_of_range(&b, text, why, why_size);
                break;
        case CONFIG_DURATION:
                r = config_text_parse_duration(text, &v.u);
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
                        if (config_text_parse_number(text, len - 1, &v.bp.percent) < 0)
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
                if (config_text_parse_percent(text, &v.d) < 0)
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
        case CONFIG_STRV:
                r = config_parse_strv(e, text, &v.l, why, why_size);
                if (r < 0)
                        return r;
                break;
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
                fputs(config_text_format_duration(*(const uint64_t *)fld, tmp, sizeof(tmp)), f);
                break;
        case CONFIG_BYTES:
                fputs(config_text_format_bytes(*(const uint64_t *)fld, tmp, sizeof(tmp)), f);
                break;
        case CONFIG_BYTES_OR_PERCENT: {
                const struct config_bytes_or_percent *bp = fld;
                if (bp->is_percent)
                        fprintf(f, "%s%%",
                                config_text_format_number(bp->percent, tmp, sizeof(tmp)));
                else
                        fputs(config_text_format_bytes(bp->bytes, tmp, sizeof(tmp)), f);
                break;
        }
        case CONFIG_PERCENT:
                fprintf(f, "%s%%",
                        config_text_format_number(*(const double *)fld, tmp, sizeof(tmp)));
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
                config_fprint_yaml_string(f, *(char *const *)fld);
                break;
        case CONFIG_STRV: {
                const struct config_strv *l = fld;
                fputc('[', f);
                for (size_t i = 0; i < l->n; i++) {
                        if (i > 0)
                                fputs(", ", f);
                        config_fprint_yaml_string(f, l->items[i]);
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
