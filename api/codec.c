// SPDX-License-Identifier: Apache-2.0
#include "api/codec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/quantity.h"

int api_error_set(struct api_error *err, int r, const char *field, const char *fmt, ...)
{
        if (err) {
                va_list ap;
                snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
        }
        return r;
}

char *api_path(char buf[static API_FIELD_MAX], const char *parent, const char *key)
{
        if (!parent || !*parent)
                snprintf(buf, API_FIELD_MAX, "%s", key);
        else
                snprintf(buf, API_FIELD_MAX, "%s.%s", parent, key);
        return buf;
}

char *api_path_index(char buf[static API_FIELD_MAX], const char *parent, size_t i)
{
        snprintf(buf, API_FIELD_MAX, "%s[%zu]", parent ? parent : "", i);
        return buf;
}

struct json_object *api_lookup(const struct json_object *o, const char *key, bool ci)
{
        struct json_object *v = NULL;

        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        if (json_object_object_get_ex(o, key, &v))
                return v;
        if (!ci)
                return NULL;
        json_object_object_foreach((struct json_object *)o, k, val)
        {
                if (strcasecmp(k, key) == 0)
                        return val;
        }
        return NULL;
}

int api_parse(const char *text, size_t size, struct json_object **ret, struct api_error *err)
{
        struct json_tokener *tok;
        struct json_object *o;

        if (size > INT32_MAX)
                return api_error_set(err, -E2BIG, "", "body too large");
        tok = json_tokener_new_ex(64);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int)size);
        enum json_tokener_error e = json_tokener_get_error(tok);
        if (e == json_tokener_success && (size_t)json_tokener_get_parse_end(tok) < size) {
                /* Trailing bytes after the value: only whitespace is allowed. */
                for (size_t i = json_tokener_get_parse_end(tok); i < size; i++)
                        if (!strchr(" \t\r\n", text[i])) {
                                json_object_put(o);
                                json_tokener_free(tok);
                                return api_error_set(err, -EINVAL, "",
                                                     "invalid JSON: trailing data at offset %zu",
                                                     i);
                        }
        }
        if (e != json_tokener_success) {
                size_t at = json_tokener_get_parse_end(tok);
                json_tokener_free(tok);
                if (o)
                        json_object_put(o);
                if (e == json_tokener_continue)
                        return api_error_set(err, -EINVAL, "",
                                             "invalid JSON: unexpected end of input");
                return api_error_set(err, -EINVAL, "", "invalid JSON at offset %zu: %s", at,
                                     json_tokener_error_desc(e));
        }
        json_tokener_free(tok);
        if (!o)
                return api_error_set(err, -EINVAL, "", "invalid JSON: body is null");
        *ret = o;
        return 0;
}

static const char *type_name(const struct json_object *v)
{
        switch (json_object_get_type(v)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
                return "a number";
        case json_type_int:
                return "an integer";
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        }
        return "unknown";
}

/* Common front half of every getter: absent/null handling. Returns 1 with *ret_v set, 0 when
 * absent and optional, or -EINVAL when absent and required. */
static int lookup(const struct json_object *o, const char *path, const char *key, bool required,
                  bool ci, struct json_object **ret_v, char field[static API_FIELD_MAX],
                  struct api_error *err)
{
        api_path(field, path, key);
        struct json_object *v = api_lookup(o, key, ci);
        if (!v) {
                if (required)
                        return api_error_set(err, -EINVAL, field, "required field is missing");
                return 0;
        }
        *ret_v = v;
        return 1;
}

static int wrong_type(struct api_error *err, const char *field, const char *want,
                      const struct json_object *v)
{
        return api_error_set(err, -EINVAL, field, "must be %s, not %s", want, type_name(v));
}

/* A value at key that must be of one JSON container type; want names it for the error. */
static int get_typed(const struct json_object *o, const char *path, const char *key, bool required,
                     bool ci, enum json_type type, const char *want, struct json_object **ret,
                     struct api_error *err)
{
        char field[API_FIELD_MAX];
        struct json_object *v = NULL;
        int r = lookup(o, path, key, required, ci, &v, field, err);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, type))
                return wrong_type(err, field, want, v);
        *ret = v;
        return 1;
}

int api_get_object(const struct json_object *o, const char *path, const char *key, bool required,
                   bool ci, struct json_object **ret, struct api_error *err)
{
        return get_typed(o, path, key, required, ci, json_type_object, "an object", ret, err);
}

int api_get_array(const struct json_object *o, const char *path, const char *key, bool required,
                  bool ci, struct json_object **ret, struct api_error *err)
{
        return get_typed(o, path, key, required, ci, json_type_array, "an array", ret, err);
}

int api_get_string(const struct json_object *o, const char *path, const char *key, bool required,
                   bool ci, const char **ret, struct api_error *err)
{
        char field[API_FIELD_MAX];
        struct json_object *v = NULL;
        int r = lookup(o, path, key, required, ci, &v, field, err);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, json_type_string))
                return wrong_type(err, field, "a string", v);
        if (required && json_object_get_string_len(v) == 0)
                return api_error_set(err, -EINVAL, field, "must not be empty");
        *ret = json_object_get_string(v);
        return 1;
}

int api_get_strdup(const struct json_object *o, const char *path, const char *key, bool required,
                   char **ret, struct api_error *err)
{
        const char *s;
        int r = api_get_string(o, path, key, required, false, &s, err);
        if (r <= 0)
                return r;
        char *d = strdup(s);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 1;
}

int api_get_bool(const struct json_object *o, const char *path, const char *key, bool required,
                 bool *ret, struct api_error *err)
{
        char field[API_FIELD_MAX];
        struct json_object *v = NULL;
        int r = lookup(o, path, key, required, false, &v, field, err);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, json_type_boolean))
                return wrong_type(err, field, "a boolean", v);
        *ret = json_object_get_boolean(v);
        return 1;
}

/* json-c keeps integers as int64 or, above INT64_MAX, uint64. */
static int int_value(const struct json_object *v, const char *field, bool *ret_neg,
                     uint64_t *ret_abs, struct api_error *err)
{
        if (!json_object_is_type(v, json_type_int))
                return wrong_type(err, field, "an integer", v);
        errno = 0;
        int64_t s = json_object_get_int64(v);
        if (s < 0) {
                *ret_neg = true;
                *ret_abs = (uint64_t)(-(s + 1)) + 1;
        } else {
                *ret_neg = false;
                *ret_abs = s == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)s;
        }
        return 0;
}

int api_get_u64(const struct json_object *o, const char *path, const char *key, bool required,
                uint64_t max, uint64_t *ret, struct api_error *err)
{
        char field[API_FIELD_MAX];
        struct json_object *v = NULL;
        bool neg;
        uint64_t a;
        int r = lookup(o, path, key, required, false, &v, field, err);
        if (r <= 0)
                return r;
        r = int_value(v, field, &neg, &a, err);
        if (r < 0)
                return r;
        if (neg || a > max)
                return api_error_set(err, -ERANGE, field, "must be between 0 and %llu",
                                     (unsigned long long)max);
        *ret = a;
        return 1;
}

int api_get_i64(const struct json_object *o, const char *path, const char *key, bool required,
                int64_t min, int64_t max, int64_t *ret, struct api_error *err)
{
        char field[API_FIELD_MAX];
        struct json_object *v = NULL;
        bool neg;
        uint64_t a;
        int r = lookup(o, path, key, required, false, &v, field, err);
        if (r <= 0)
                return r;
        r = int_value(v, field, &neg, &a, err);
        if (r < 0)
                return r;
        if ((!neg && a > (uint64_t)INT64_MAX) || (neg && a > (uint64_t)INT64_MAX + 1))
                goto range;
        int64_t s = neg ? (int64_t)(0 - a) : (int64_t)a;
        if (s < min || s > max)
                goto range;
        *ret = s;
        return 1;
range:
        return api_error_set(err, -ERANGE, field, "must be between %lld and %lld", (long long)min,
                             (long long)max);
}

int api_get_bytes_or_null(const struct json_object *o, const char *path, const char *key,
                          bool required, uint64_t *ret, struct api_error *err)
{
        char field[API_FIELD_MAX];
        struct json_object *v = NULL;

        api_path(field, path, key);
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v)) {
                if (required)
                        return api_error_set(err, -EINVAL, field, "required field is missing");
                return 0;
        }
        if (!v) {
                *ret = API_UNLIMITED;
                return 1;
        }
        return api_get_u64(o, path, key, required, INT64_MAX, ret, err);
}

int api_get_double(const struct json_object *o, const char *path, const char *key, bool required,
                   double min, double max, double *ret, struct api_error *err)
{
        char field[API_FIELD_MAX];
        struct json_object *v = NULL;
        int r = lookup(o, path, key, required, false, &v, field, err);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
                return wrong_type(err, field, "a number", v);
        double d = json_object_get_double(v);
        if (!isfinite(d) || d < min || d > max)
                return api_error_set(err, -ERANGE, field, "must be between %g and %g", min, max);
        *ret = d;
        return 1;
}

int api_quantity_bytes(const struct json_object *v, const char *path, uint64_t *ret,
                       struct api_error *err)
{
        uint64_t b;
        /* Kubernetes serialises quantities as strings; accept plain integers too, as the
         * apiserver does on input. */
        if (json_object_is_type(v, json_type_int)) {
                int64_t s = json_object_get_int64(v);
                if (s < 0)
                        return api_error_set(err, -ERANGE, path, "must not be negative");
                *ret = (uint64_t)s;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return wrong_type(err, path, "a quantity string", v);
        const char *s = json_object_get_string((struct json_object *)v);
        int r = quantity_parse_bytes(s, &b);
        if (r == -ERANGE)
                return api_error_set(err, -ERANGE, path, "quantity \"%.64s\" is out of range", s);
        if (r < 0)
                return api_error_set(err, -EINVAL, path, "\"%.64s\" is not a quantity", s);
        *ret = b;
        return 0;
}

struct json_object *api_new_bytes_or_null(uint64_t bytes)
{
        return bytes == API_UNLIMITED ? NULL : json_object_new_uint64(bytes);
}

void api_add(struct json_object *o, const char *key, struct json_object *val)
{
        json_object_object_add(o, key, val);
}

char *api_to_string(struct json_object *o, size_t *ret_size)
{
        size_t n;
        const char *s = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        if (!s)
                return NULL;
        char *d = malloc(n + 1);
        if (!d)
                return NULL;
        memcpy(d, s, n + 1);
        if (ret_size)
                *ret_size = n;
        return d;
}

int api_get_enum(const struct json_object *o, const char *path, const char *key, bool required,
                 int (*from_string)(const char *), int *ret, struct api_error *err)
{
        char field[API_FIELD_MAX];
        const char *s;
        int r = api_get_string(o, path, key, required, false, &s, err);
        if (r <= 0)
                return r;
        int v = from_string(s);
        if (v < 0)
                return api_error_set(err, -EINVAL, api_path(field, path, key),
                                     "\"%.64s\" is not a valid value", s);
        *ret = v;
        return 1;
}

static bool buf_reserve(struct api_buf *b, size_t n)
{
        if (b->oom)
                return false;
        if (b->len + n + 1 <= b->cap)
                return true;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
                cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
                b->oom = true;
                return false;
        }
        b->data = d;
        b->cap = cap;
        return true;
}

void api_buf_append(struct api_buf *b, const char *s, size_t n)
{
        if (!buf_reserve(b, n))
                return;
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void api_buf_puts(struct api_buf *b, const char *s)
{
        api_buf_append(b, s, strlen(s));
}

void api_buf_printf(struct api_buf *b, const char *fmt, ...)
{
        va_list ap;
        char small[256];
        va_start(ap, fmt);
        int n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n < sizeof(small)) {
                api_buf_append(b, small, (size_t)n);
                return;
        }
        if (!buf_reserve(b, (size_t)n))
                return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

/* Bytes that need escaping in a JSON string: controls, '"' and '\\'. A table, so that the scan
 * of a string with nothing to escape (node names, reasons) costs a load and a branch per byte. */
static const unsigned char json_escape[256] = {
        [0] = 1,  [1] = 1,  [2] = 1,  [3] = 1,  [4] = 1,  [5] = 1,   [6] = 1,    [7] = 1,  [8] = 1,
        [9] = 1,  [10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1,  [15] = 1,   [16] = 1, [17] = 1,
        [18] = 1, [19] = 1, [20] = 1, [21] = 1, [22] = 1, [23] = 1,  [24] = 1,   [25] = 1, [26] = 1,
        [27] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1, ['"'] = 1, ['\\'] = 1,
};

static inline bool json_needs_escape(unsigned char c)
{
        return json_escape[c];
}

void api_buf_json_string(struct api_buf *b, const char *s)
{
        static const char hex[] = "0123456789abcdef";
        size_t i = 0;

        while (!json_escape[(unsigned char)s[i]])
                i++;
        /* The common case: nothing to escape (the NUL ends the run), one reservation, one copy. */
        if (s[i] == '\0') {
                if (!buf_reserve(b, i + 2))
                        return;
                char *out = b->data + b->len;
                out[0] = '"';
                memcpy(out + 1, s, i);
                out[i + 1] = '"';
                b->len += i + 2;
                b->data[b->len] = '\0';
                return;
        }
        api_buf_append(b, "\"", 1);
        api_buf_append(b, s, i);
        const char *run = s + i;
        for (const char *p = s + i;; p++) {
                unsigned char c = (unsigned char)*p;
                if (c != '\0' && !json_needs_escape(c))
                        continue;
                api_buf_append(b, run, (size_t)(p - run));
                if (c == '\0')
                        break;
                char esc[7] = { '\\', (char)c, 0 };
                size_t k = 2;
                switch (c) {
                case '"':
                case '\\':
                        break;
                case '\n':
                        esc[1] = 'n';
                        break;
                case '\t':
                        esc[1] = 't';
                        break;
                case '\r':
                        esc[1] = 'r';
                        break;
                default:
                        memcpy(esc, "\\u00", 4);
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 15];
                        k = 6;
                }
                api_buf_append(b, esc, k);
                run = p + 1;
        }
        api_buf_append(b, "\"", 1);
}

void api_buf_i64(struct api_buf *b, int64_t v)
{
        char tmp[24], *p = tmp + sizeof(tmp);
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        do {
                *--p = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                *--p = '-';
        api_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void api_buf_reserve(struct api_buf *b, size_t n)
{
        (void)buf_reserve(b, n);
}

void api_buf_json(struct api_buf *b, struct json_object *o)
{
        size_t n;
        const char *s = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        if (!s) {
                b->oom = true;
                return;
        }
        api_buf_append(b, s, n);
}

int api_buf_finish(struct api_buf *b, char **ret, size_t *ret_size)
{
        if (b->oom || !buf_reserve(b, 0)) {
                free(b->data);
                *b = (struct api_buf){};
                return -ENOMEM;
        }
        b->data[b->len] = '\0';
        *ret = b->data;
        if (ret_size)
                *ret_size = b->len;
        *b = (struct api_buf){};
        return 0;
}
