// SPDX-License-Identifier: Apache-2.0
#include "api/codec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/quantity.h"

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

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

bool api_utf8_valid(const char *s, size_t n, size_t *ret_bad)
{
        const unsigned char *p = (const unsigned char *)s;
        for (size_t i = 0; i < n;) {
                unsigned c = p[i];
                size_t k;
                uint32_t cp, min;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0)
                        k = 1, cp = c & 0x1f, min = 0x80;
                else if ((c & 0xf0) == 0xe0)
                        k = 2, cp = c & 0x0f, min = 0x800;
                else if ((c & 0xf8) == 0xf0)
                        k = 3, cp = c & 0x07, min = 0x10000;
                else
                        goto bad;
                for (size_t j = 1; j <= k; j++) {
                        if (i + j >= n || (p[i + j] & 0xc0) != 0x80)
                                goto bad;
                        cp = cp << 6 | (p[i + j] & 0x3f);
                }
                /* Overlong forms, UTF-16 surrogates and code points beyond Unicode are not
                 * UTF-8 (RFC 3629). */
                if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        goto bad;
                i += k + 1;
                continue;
        bad:
                if (ret_bad)
                        *ret_bad = i;
                return false;
        }
        return true;
}

/* What json-c 0.16 allocates per parsed value, rounded up (measured with VmHWM on bodies made of
 * one kind of value): an object is a json_object plus a 16-entry hash table; a member adds its
 * key copy and hash entry; an array is a json_object plus a 32-slot list that doubles when full;
 * a scalar is one small json_object (strings and numbers also keep their text). */
#define COST_OBJECT_BYTES 1024
#define COST_MEMBER_BYTES 64
#define COST_ARRAY_BYTES  512
#define COST_SLOT_BYTES   24
#define COST_SCALAR_BYTES 80

struct scan_frame {
        bool object;
        bool want_key;
        size_t index;    /* arrays: the element being read */
        const char *key; /* objects: the current member's key (raw text) */
        size_t key_len;
};

/* The JSON path of the value being read, from the scanner's frames, like the decoders name
 * fields ("pods[3].uid"). */
static void scan_path(const struct scan_frame *st, size_t depth, char buf[static API_FIELD_MAX])
{
        size_t n = 0;
        buf[0] = '\0';
        for (size_t d = 0; d < depth && n < API_FIELD_MAX - 1; d++) {
                int w;
                if (st[d].object && st[d].key)
                        w = snprintf(buf + n, API_FIELD_MAX - n, "%s%.*s", n ? "." : "",
                                     (int)MIN(st[d].key_len, (size_t)API_FIELD_MAX), st[d].key);
                else if (!st[d].object)
                        w = snprintf(buf + n, API_FIELD_MAX - n, "[%zu]", st[d].index);
                else
                        w = 0;
                if (w < 0)
                        break;
                n = MIN(n + (size_t)w, (size_t)API_FIELD_MAX - 1);
        }
}

/* One pass over the text before json-c sees it: every string (keys too) must be UTF-8 and free of
 * \u0000 (which json-c would keep inside a string that C code then reads as cut short), and the
 * tree json-c would build is costed from the values' shapes. Syntax is json-c's business: the
 * scan is lenient and only reads what it needs. Returns 0 with *ret_cost, or -EINVAL naming the
 * field. */
static int scan_text(const char *text, size_t size, uint64_t *ret_cost, struct api_error *err)
{
        struct scan_frame st[API_PARSE_DEPTH_MAX];
        size_t depth = 0;
        uint64_t cost = 0;
        char field[API_FIELD_MAX];

        for (size_t i = 0; i < size;) {
                char c = text[i];
                struct scan_frame *top =
                    depth && depth <= API_PARSE_DEPTH_MAX ? &st[depth - 1] : NULL;
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ':') {
                        i++;
                        continue;
                }
                if (c == ',') {
                        if (top && top->object)
                                top->want_key = true;
                        else if (top)
                                top->index++;
                        i++;
                        continue;
                }
                if (c == '}' || c == ']') {
                        if (depth)
                                depth--;
                        i++;
                        continue;
                }
                bool is_key = top && top->object && top->want_key && c == '"';
                if (!is_key && top && !top->object)
                        cost += COST_SLOT_BYTES;
                if (c == '{' || c == '[') {
                        cost += c == '{' ? COST_OBJECT_BYTES : COST_ARRAY_BYTES;
                        if (++depth <= API_PARSE_DEPTH_MAX)
                                st[depth - 1] =
                                    (struct scan_frame){ .object = c == '{', .want_key = c == '{' };
                        i++;
                        continue;
                }
                if (c != '"') {
                        /* A number or a literal: its run of characters. */
                        size_t j = i;
                        while (j < size && (isalnum((unsigned char)text[j]) || text[j] == '-' ||
                                            text[j] == '+' || text[j] == '.'))
                                j++;
                        if (j == i)
                                j++; /* not JSON; json-c will say where */
                        cost += COST_SCALAR_BYTES + (j - i);
                        i = j;
                        continue;
                }
                size_t start = ++i, bad;
                while (i < size && text[i] != '"') {
                        if (text[i] == '\\') {
                                if (i + 5 < size && text[i + 1] == 'u' &&
                                    memcmp(text + i + 2, "0000", 4) == 0) {
                                        scan_path(st, MIN(depth, (size_t)API_PARSE_DEPTH_MAX),
                                                  field);
                                        return api_error_set(err, -EINVAL, field,
                                                             "\\u0000 is not allowed in a string");
                                }
                                i += 2;
                                continue;
                        }
                        if ((unsigned char)text[i] >= 0x80) {
                                size_t j = i;
                                while (j < size && (unsigned char)text[j] >= 0x80)
                                        j++;
                                if (!api_utf8_valid(text + i, j - i, &bad)) {
                                        scan_path(st, MIN(depth, (size_t)API_PARSE_DEPTH_MAX),
                                                  field);
                                        return api_error_set(
                                            err, -EINVAL, field,
                                            "%s is not valid UTF-8 (byte offset %zu)",
                                            is_key ? "an object key" : "a string", i + bad);
                                }
                                i = j;
                                continue;
                        }
                        i++;
                }
                size_t len = MIN(i, size) - start;
                i++;
                if (is_key) {
                        top->want_key = false;
                        top->key = text + start;
                        top->key_len = len;
                        cost += COST_MEMBER_BYTES + len;
                } else
                        cost += COST_SCALAR_BYTES + len;
        }
        *ret_cost = cost;
        return 0;
}

int api_parse(const char *text, size_t size, struct json_object **ret, struct api_error *err)
{
        struct json_tokener *tok;
        struct json_object *o;
        uint64_t cost;

        if (size > INT32_MAX)
                return api_error_set(err, -E2BIG, "", "body too large");
        int r = scan_text(text, size, &cost, err);
        if (r < 0)
                return r;
        /* json-c builds the whole tree: bound it to a multiple of the body, so that a body of
         * many tiny values (a 20 MB array of zeros would take 700 MB) is refused up front. */
        if (cost > API_PARSE_TREE_FACTOR * (uint64_t)size + API_PARSE_TREE_SLACK_BYTES)
                return api_error_set(err, -E2BIG, "",
                                     "body of %zu bytes would take about %llu MiB to decode, more "
                                     "than %d times its size plus %d MiB: too many small values",
                                     size, (unsigned long long)(cost >> 20), API_PARSE_TREE_FACTOR,
                                     API_PARSE_TREE_SLACK_BYTES >> 20);
        tok = json_tokener_new_ex(API_PARSE_DEPTH_MAX);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        errno = 0;
        o = json_tokener_parse_ex(tok, text, (int)size);
        /* json-c 0.16 has no error code for a failed allocation: it stops early, as if the
         * text ended or had trailing data. malloc's errno tells. */
        bool oom = errno == ENOMEM;
        enum json_tokener_error e = json_tokener_get_error(tok);
        if (oom) {
                json_tokener_free(tok);
                if (o)
                        json_object_put(o);
                return api_error_set(err, -ENOMEM, "", "out of memory decoding the body");
        }
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
        r = api_string_value(v, field, ret, err);
        if (r < 0)
                return r;
        if (required && **ret == '\0')
                return api_error_set(err, -EINVAL, field, "must not be empty");
        return 1;
}

int api_string_value(const struct json_object *v, const char *field, const char **ret,
                     struct api_error *err)
{
        size_t bad;
        if (!json_object_is_type(v, json_type_string))
                return wrong_type(err, field, "a string", v);
        const char *s = json_object_get_string((struct json_object *)v);
        size_t n = (size_t)json_object_get_string_len(v);
        /* Trees built without api_parse() (fuzzers, tests) get the same checks. */
        if (strlen(s) != n)
                return api_error_set(err, -EINVAL, field, "\\u0000 is not allowed in a string");
        if (!api_utf8_valid(s, n, &bad))
                return api_error_set(err, -EINVAL, field, "is not valid UTF-8 (byte offset %zu)",
                                     bad);
        *ret = s;
        return 0;
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
