// SPDX-License-Identifier: Apache-2.0
// What the files of the configuration mechanism share, and nobody else uses: a parsed value,
// the operations on one field of a program's struct, and the message helpers.
//   common/config-value.c           an entry's value: parse within bounds, messages, format
//   common/config-value-number.c    the text of booleans, integers, quantities, percentages
//   common/config-value-duration.c  the text of durations
//   common/config-value-string.c    the text of strings, and the item checks tables share
//   common/config-value-list.c      lists of strings
//   common/config-field.c           the operations on one field of a program's struct
//   common/config-yaml.c            YAML load (file:line:key errors) and the --print-config dump
//   common/config.c                 the table: verify, defaults, flags, command line, help, reload
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
/* Writes the value of e in cfg as YAML (what config_parse_value() or the YAML loader reads back).
 */
void config_fprint_value(FILE *f, const struct config_entry *e, const void *cfg);

/* ---- config-value-number.c, config-value-duration.c: the text of each numeric type ----
 * Parsers return 0 and *ret, -EINVAL for text that is not of the type, -ERANGE beyond it;
 * formatters write into buf (returned) the exact text their parser reads back. */

/* true/yes/on, false/no/off, in any case. */
int config_text_parse_bool(const char *s, bool *ret);
/* A decimal integer with an optional sign. */
int config_text_parse_int(const char *s, int64_t *ret);
/* The first len bytes of s: a non-negative decimal without exponent ("10", "12.5", ".5"). */
int config_text_parse_number(const char *s, size_t len, double *ret);
char *config_text_format_number(double d, char *buf, size_t size);
/* "10", "10%", "12.5%". */
int config_text_parse_percent(const char *s, double *ret);
/* Bytes in the largest unit that divides them exactly ("512Mi", "1G"), else an integer. */
char *config_text_format_bytes(uint64_t bytes, char *buf, size_t size);
/* Go's time.ParseDuration syntax, in microseconds: "1h30m", "500ms", "0". */
int config_text_parse_duration(const char *s, uint64_t *ret);
char *config_text_format_duration(uint64_t usec, char *buf, size_t size);

/* ---- config-value-string.c ---- */

/* UTF-8 and the entry's item check, for one STRING value or STRV item. */
int config_check_string(const struct config_entry *e, const char *s, char *why, size_t why_size);
/* s (NULL: "") as a YAML double-quoted scalar that libyaml reads back to the same bytes. */
void config_fprint_yaml_string(FILE *f, const char *s);

/* ---- config-field.c ---- */

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

/* ---- config-value-list.c ---- */

int config_strv_init(struct config_strv *l);
int config_strv_push(struct config_strv *l, const char *item, size_t len);
void config_strv_free(struct config_strv *l);
/* A list of the one item "none" becomes the empty list. */
void config_strv_normalize_none(struct config_strv *l);
/* The flag form of a list (comma-separated), each item checked as a string; "none" is the empty
 * list. Returns 0 and *ret, or a negative errno with why, which starts with the quoted text. */
int config_parse_strv(const struct config_entry *e, const char *text, struct config_strv *ret,
                      char *why, size_t why_size);

/* ---- config.c ---- */

/* A calloc'd struct holding deep copies of every table field of cfg; -ENOMEM. */
int config_scratch_copy(const struct config_table *t, const void *cfg, void **ret);
void config_scratch_free(const struct config_table *t, void *s);
/* The entry whose key (or flag, is_flag) is closest to an unknown one; NULL when none is. */
const struct config_entry *config_suggest(const struct config_table *t, const char *key,
                                          bool is_flag);
/* Prints text wrapped at width columns, every line starting with prefix. */
void config_print_wrapped(FILE *f, const char *text, const char *prefix, int width);
