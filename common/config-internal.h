// SPDX-License-Identifier: Apache-2.0
// What the three files of the configuration mechanism share, and nobody else uses: a parsed
// value, the operations on one field of a program's struct, and the message helpers.
//   common/config-value.c  the text of each type (parse, bounds, format) and field operations
//   common/config-yaml.c   YAML load (file:line:key errors) and the --print-config dump
//   common/config.c        the table: verify, defaults, flags, command line, help, reload
// Programs include common/config.h only.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "common/macro.h"

#define CONFIG_QUOTE_MAX 96  /* user text quoted in messages is cut beyond this */
#define CONFIG_FLAG_MAX  128 /* a flag's name, without "--" */

/* A parsed value of any type, before it is stored into the program's struct. */
union config_value {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        struct config_bytes_or_percent bp;
        char *s;
        struct config_strv l;
        int e;
};

/* The bounds of a type, parsed from the table's text; inherent bounds when the text is NULL. */
struct config_bounds {
        bool has_min, has_max;
        int64_t imin, imax;
        uint64_t umin, umax;
        double dmin, dmax;
        const char *min_text, *max_text;
};

/* ---- config-value.c ---- */

/* Writes the message to err (when not NULL) and returns r. */
int config_errf(char *err, size_t size, int r, const char *fmt, ...) _printf_(4, 5);
/* s in double quotes, escaped and cut, for one-line messages; returns buf. */
const char *config_quote(const char *s, char *buf, size_t size);

/* Returns 0 and *ret, or -EINVAL/-ERANGE when the table's bounds do not parse or are not ordered.
 */
int config_parse_bounds(const struct config_entry *e, struct config_bounds *ret);
/* Parses the text of one value (a flag, a YAML scalar, a default); for STRV the flag form,
 * comma-separated. Returns 0 and *ret (free with config_value_free()), or a negative errno with
 * why, which starts with the quoted text. */
int config_parse_value(const struct config_entry *e, const char *text, union config_value *ret,
                       char *why, size_t why_size);
/* UTF-8 and the entry's item check, for one STRING value or STRV item. */
int config_check_string(const struct config_entry *e, const char *s, char *why, size_t why_size);
/* Writes the value of e in cfg as YAML (what config_parse_value() or the YAML loader reads back).
 */
void config_fprint_value(FILE *f, const struct config_entry *e, const void *cfg);

void config_value_free(const struct config_entry *e, union config_value *v);
void *config_field_of(const struct config_entry *e, const void *cfg);
size_t config_type_size(enum config_type type);
void config_field_free(const struct config_entry *e, void *cfg);
/* Frees what the field held and moves v into it; v is left with nothing to free. */
void config_field_store(const struct config_entry *e, void *cfg, union config_value *v);
/* Deep copy of one field from src into dst (whose field must hold nothing owned); -ENOMEM. */
int config_field_copy(const struct config_entry *e, void *dst, const void *src);
/* Frees dst's field and moves src's into it (src's is zeroed). */
void config_field_move(const struct config_entry *e, void *dst, void *src);
bool config_field_equal(const struct config_entry *e, const void *a, const void *b);

int config_strv_init(struct config_strv *l);
int config_strv_push(struct config_strv *l, const char *item, size_t len);
void config_strv_free(struct config_strv *l);
/* A list of the one item "none" becomes the empty list. */
void config_strv_normalize_none(struct config_strv *l);

/* ---- config.c ---- */

/* A calloc'd struct holding deep copies of every table field of cfg; -ENOMEM. */
int config_scratch_copy(const struct config_table *t, const void *cfg, void **ret);
void config_scratch_free(const struct config_table *t, void *s);
/* The entry whose key (or flag, is_flag) is closest to an unknown one; NULL when none is. */
const struct config_entry *config_suggest(const struct config_table *t, const char *key,
                                          bool is_flag);
/* Prints text wrapped at width columns, every line starting with prefix. */
void config_print_wrapped(FILE *f, const char *text, const char *prefix, int width);
