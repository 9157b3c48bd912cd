// SPDX-License-Identifier: Apache-2.0
// Shared JSON plumbing for the wire codecs: typed field getters that validate type, range and
// presence and name the offending field, and the small enums every message uses.
//
// Getter convention: returns 1 when the field is present and *ret was set, 0 when it is absent
// (or null) and not required (*ret untouched, so callers pre-set defaults), and -EINVAL (wrong
// type, required but missing) or -ERANGE (out of range) with *err filled. Unknown fields are
// never an error.
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"
#include "common/memtypes.h"

#define API_FIELD_MAX   160
#define API_MESSAGE_MAX 256
/* Longest node name: a DNS subdomain (253) plus NUL. */
#define API_NODE_NAME_MAX 254
/* Node NUMA zones per report; matches the kernel's default MAX_NUMNODES on x86-64
 * (CONFIG_NODES_SHIFT=6). */
#define API_NUMA_ZONES_MAX 64
/* "No limit" for byte values whose JSON form is null. */
#define API_UNLIMITED UINT64_MAX

struct api_error {
        char field[API_FIELD_MAX]; /* JSON path, "pods[3].memory.working_set_bytes"; "" if none */
        char message[API_MESSAGE_MAX]; /* what is wrong, without the field name */
};

/* Fills *err (may be NULL) and returns r (a negative errno). */
int api_error_set(struct api_error *err, int r, const char *field, const char *fmt, ...)
    _printf_(4, 5);

/* "parent.key", or "key" when parent is empty/NULL. Always NUL-terminates. */
char *api_path(char buf[static API_FIELD_MAX], const char *parent, const char *key);
/* "parent[i]". */
char *api_path_index(char buf[static API_FIELD_MAX], const char *parent, size_t i);

/* Looks key up in o. Exact match first; with case_insensitive, then the first key that matches
 * ignoring ASCII case (what Go's encoding/json does when decoding). Returns the value (borrowed)
 * or NULL when absent or JSON null. */
struct json_object *api_lookup(const struct json_object *o, const char *key, bool case_insensitive);

/* Nesting limit of api_parse(). */
#define API_PARSE_DEPTH_MAX 64
/* api_parse() refuses (-E2BIG) a body whose JSON tree would take more than this many times its
 * size plus the slack: the bound on a request's memory, whatever the shape of its JSON. */
#define API_PARSE_TREE_FACTOR      3
#define API_PARSE_TREE_SLACK_BYTES (16 << 20)

/* Whether s[0..n) is UTF-8 (RFC 3629: no overlong forms, surrogates or code points beyond
 * U+10FFFF); on false *ret_bad (may be NULL) is the offset of the first bad sequence. */
bool api_utf8_valid(const char *s, size_t n, size_t *ret_bad);

/* Parses text into a JSON tree. On success *ret is a new reference. -EINVAL with err->message
 * naming the position when the text is not JSON, or naming the field when a string (or key) is not
 * UTF-8 or holds \u0000; -E2BIG when the tree would be too large (API_PARSE_TREE_FACTOR); -ENOMEM.
 */
int api_parse(const char *text, size_t size, struct json_object **ret, struct api_error *err);

int api_get_object(const struct json_object *o, const char *path, const char *key, bool required,
                   bool ci, struct json_object **ret, struct api_error *err);
int api_get_array(const struct json_object *o, const char *path, const char *key, bool required,
                  bool ci, struct json_object **ret, struct api_error *err);
/* *ret borrows from o: valid while o is. Empty strings are allowed unless required. */
int api_get_string(const struct json_object *o, const char *path, const char *key, bool required,
                   bool ci, const char **ret, struct api_error *err);
/* A string value already looked up (array elements): type, UTF-8 and no NUL checked; the one
 * string check every decoder goes through. Returns 0 or -EINVAL naming field. */
int api_string_value(const struct json_object *v, const char *field, const char **ret,
                     struct api_error *err);
/* Like api_get_string but a malloc'ed copy; caller frees. */
int api_get_strdup(const struct json_object *o, const char *path, const char *key, bool required,
                   char **ret, struct api_error *err);
int api_get_bool(const struct json_object *o, const char *path, const char *key, bool required,
                 bool *ret, struct api_error *err);
/* Non-negative integer in [0, max]. Floats and strings are type errors. */
int api_get_u64(const struct json_object *o, const char *path, const char *key, bool required,
                uint64_t max, uint64_t *ret, struct api_error *err);
/* Integer in [min, max]. */
int api_get_i64(const struct json_object *o, const char *path, const char *key, bool required,
                int64_t min, int64_t max, int64_t *ret, struct api_error *err);
/* Byte count that may be null for "no limit": null sets *ret = API_UNLIMITED and returns 1.
 * Absent returns 0 (or -EINVAL when required). */
int api_get_bytes_or_null(const struct json_object *o, const char *path, const char *key,
                          bool required, uint64_t *ret, struct api_error *err);
/* Number (integer or float) in [min, max]. */
int api_get_double(const struct json_object *o, const char *path, const char *key, bool required,
                   double min, double max, double *ret, struct api_error *err);

/* Validates a value already looked up: a string that is a Kubernetes quantity of bytes. */
int api_quantity_bytes(const struct json_object *v, const char *path, uint64_t *ret,
                       struct api_error *err);

/* Encoding helpers; NULL-safe. */
struct json_object *api_new_bytes_or_null(uint64_t bytes);
/* Adds key → val to o; takes ownership of val (NULL becomes JSON null). */
void api_add(struct json_object *o, const char *key, struct json_object *val);

/* Serialises o compactly. Returns a malloc'ed NUL-terminated string (caller frees) and its length
 * in *ret_size (may be NULL), or NULL on OOM. */
char *api_to_string(struct json_object *o, size_t *ret_size);

static inline void json_object_putp(struct json_object **o)
{
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* QoS classes and pressure levels are common/memtypes.h's: our JSON spells them in lower case
 * (qos_from_string() also takes Kubernetes' CamelCase "BestEffort"). */

/* A string table: "none" → 0 ... Returns the index or -EINVAL. */
int api_get_enum(const struct json_object *o, const char *path, const char *key, bool required,
                 int (*from_string)(const char *), int *ret, struct api_error *err);

/* A growable output buffer for the hand-written fast encoders. On OOM it latches ->oom and
 * further appends are ignored; check once at the end. */
struct api_buf {
        char *data;
        size_t len, cap;
        bool oom;
};
void api_buf_append(struct api_buf *b, const char *s, size_t n);
void api_buf_puts(struct api_buf *b, const char *s);
void api_buf_printf(struct api_buf *b, const char *fmt, ...) _printf_(2, 3);
/* Appends s as a JSON string literal, quoted and escaped. */
void api_buf_json_string(struct api_buf *b, const char *s);
/* Appends v in decimal. */
void api_buf_i64(struct api_buf *b, int64_t v);
/* Makes room for n more bytes up front (a size hint; on OOM latches ->oom). */
void api_buf_reserve(struct api_buf *b, size_t n);
/* Appends the compact serialisation of o. */
void api_buf_json(struct api_buf *b, struct json_object *o);
/* Hands out the NUL-terminated result (caller frees) or returns -ENOMEM (buffer freed). */
int api_buf_finish(struct api_buf *b, char **ret, size_t *ret_size);
