// SPDX-License-Identifier: Apache-2.0
// Declarative configuration, after redis' config.c: one table describes every key (YAML name,
// type, bounds, default, whether it may change at run time, help), and the same table drives
// the defaults, the YAML file, the command-line flags, validation, --print-config, --help and
// the SIGHUP reload. A program declares its struct and its table; nothing else is per key.
// The mechanism is three files, one concern each: common/config-value.c (the text of each type),
// common/config-yaml.c (YAML load and dump), common/config.c (the table, flags, help, reload).
//
// Names: the YAML key is camelCase ("sampleInterval"), the flag is derived from it in
// kebab-case ("--sample-interval"). Values are text parsed by one function per type, whether
// they come from the table's default, the file or a flag, so defaults are validated like input.
//
// Types, the C type of the struct field, and the text they accept:
//   BOOL      bool                 true/false (also yes/no, on/off, any case). As a flag,
//                                  "--dry-run" alone means true.
//   INT       int64_t              decimal integer, bounds min/max.
//   DURATION  uint64_t (usec)      "100us", "500ms", "2s", "1m", "1h", combinations ("1m30s"),
//                                  fractions ("1.5s"), "0". Bounds min/max as durations.
//   BYTES     uint64_t (bytes)     a Kubernetes quantity ("512Mi", "1G", "1.5Gi", "1000").
//   BYTES_OR_PERCENT
//             struct config_bytes_or_percent
//                                  a quantity, or "N%" / "N.N%" (0 to 100) of a total that the
//                                  program knows. min/max bound the bytes form only.
//   PERCENT   double               "10", "10%", "12.5%", bounds 0..100 unless narrowed.
//   STRING    char * (owned)       any text (valid UTF-8). A YAML null is "".
//   STRV      struct config_strv   a YAML sequence, block or flow style. As a flag, one
//                                  comma-separated value that replaces the whole list
//                                  ("--protected-cgroups=/a/*,/b"; items are trimmed; a comma
//                                  cannot be part of an item). For every list, the empty value,
//                                  a YAML null, [] and the single item "none" are the empty list.
//   ENUM      int                  one of the names in enum_values; stores its value.
//
// Errors are returned, never logged: every function that takes (err, err_size) writes there one
// line a person reads, naming where the value came from:
//   /etc/memagent/memagentd.yaml:3: key "sampleInterval": "5x" is not a duration (like ...)
//   --sample-interval: "5x" is not a duration (like 500ms, 2s, 1m)
// The caller logs it once. The exceptions are config_reload(), which logs (notice/info) the
// outcome of each key that changed, since those are events, not errors, and
// config_parse_command_line(), which says at debug level that a missing default file means the
// defaults.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_ENTRIES_MAX 128 /* per table; config_table_verify() refuses more */
#define CONFIG_ERR_MAX     512 /* a good size for err buffers */

enum config_type {
        CONFIG_BOOL,
        CONFIG_INT,
        CONFIG_DURATION,
        CONFIG_BYTES,
        CONFIG_BYTES_OR_PERCENT,
        CONFIG_PERCENT,
        CONFIG_STRING,
        CONFIG_STRV,
        CONFIG_ENUM,
};

struct config_bytes_or_percent {
        bool is_percent;
        double percent; /* 0..100, when is_percent */
        uint64_t bytes; /* when !is_percent */
};

/* The amount in bytes: the bytes, or the percentage of whole_bytes (a scope's total, a limit). */
static inline uint64_t config_bytes_or_percent_resolve(const struct config_bytes_or_percent *v,
                                                       uint64_t whole_bytes)
{
        return v->is_percent ? (uint64_t)((double)whole_bytes * v->percent / 100.0) : v->bytes;
}

/* items[n] is NULL, so items is also a NULL-terminated strv. Both owned by the struct. */
struct config_strv {
        char **items;
        size_t n;
};

struct config_enum_value {
        const char *name;
        int value;
};

/* A check of one STRING value or one STRV item, beyond its type. Returns 0, or -EINVAL and
 * writes why (without the key or location, e.g. "must be an absolute path") to err. */
typedef int (*config_check_item_t)(const char *value, char *err, size_t err_size);

struct config_entry {
        const char *key; /* YAML key, camelCase; the flag is its kebab-case */
        enum config_type type;
        size_t offset;   /* of the field in the program's struct */
        const char *def; /* default, as text parsed like input (NULL: ""); STRV comma-separated */
        const char *min; /* bounds as text of the type, NULL: unbounded on that side */
        const char *max; /*   (INT, DURATION, BYTES, BYTES_OR_PERCENT bytes, PERCENT) */
        bool reloadable; /* a SIGHUP reload may change it; else it needs a restart */
        const char *metavar; /* for --help; NULL: derived from the type */
        const char *help;    /* one line, for --help and as a comment in --print-config */
        const struct config_enum_value *enum_values; /* ENUM: terminated by a NULL name */
        config_check_item_t check;                   /* STRING, STRV items: optional */
};

struct config_table {
        const struct config_entry *entries;
        size_t n_entries;
        size_t struct_size; /* sizeof the program's struct */
        /* Cross-field validation of a complete config, after file and flags. Optional. Returns
         * 0, or -EINVAL with why (naming the keys) in err. */
        int (*check)(const void *cfg, char *err, size_t err_size);
};

/* Where each key's current value came from; kept next to the config for reload and dump. */
enum config_source {
        CONFIG_SOURCE_DEFAULT = 0,
        CONFIG_SOURCE_FILE,
        CONFIG_SOURCE_FLAG,
};
struct config_sources {
        unsigned char of[CONFIG_ENTRIES_MAX]; /* enum config_source, by entry index */
};

/* Table entries, with the field's C type checked at compile time:
 *   CONFIG_ENTRY_DURATION(struct agent_config, sample_interval_usec, "sampleInterval", ...) */
#define CONFIG_FIELD_(T, field, ctype)                                                             \
        (offsetof(T, field) +                                                                      \
         0 * sizeof(struct {                                                                       \
                 _Static_assert(__builtin_types_compatible_p(__typeof__(((T *)0)->field), ctype),  \
                                "config field " #field " is not " #ctype);                         \
                 int dummy_;                                                                       \
         }))
#define CONFIG_ENTRY_(T, f, ctype, t, k, d, lo, hi, rl, h)                                         \
        .key = (k), .type = (t), .offset = CONFIG_FIELD_(T, f, ctype), .def = (d), .min = (lo),    \
        .max = (hi), .reloadable = (rl), .help = (h)
#define CONFIG_ENTRY_BOOL(T, f, k, d, rl, h)                                                       \
        {                                                                                          \
                CONFIG_ENTRY_(T, f, bool, CONFIG_BOOL, k, d, NULL, NULL, rl, h)                    \
        }
#define CONFIG_ENTRY_INT(T, f, k, d, lo, hi, rl, h)                                                \
        {                                                                                          \
                CONFIG_ENTRY_(T, f, int64_t, CONFIG_INT, k, d, lo, hi, rl, h)                      \
        }
#define CONFIG_ENTRY_DURATION(T, f, k, d, lo, hi, rl, h)                                           \
        {                                                                                          \
                CONFIG_ENTRY_(T, f, uint64_t, CONFIG_DURATION, k, d, lo, hi, rl, h)                \
        }
#define CONFIG_ENTRY_BYTES(T, f, k, d, lo, hi, rl, h)                                              \
        {                                                                                          \
                CONFIG_ENTRY_(T, f, uint64_t, CONFIG_BYTES, k, d, lo, hi, rl, h)                   \
        }
#define CONFIG_ENTRY_BYTES_OR_PERCENT(T, f, k, d, lo, hi, rl, h)                                   \
        {                                                                                          \
                CONFIG_ENTRY_(T, f, struct config_bytes_or_percent, CONFIG_BYTES_OR_PERCENT, k, d, \
                              lo, hi, rl, h)                                                       \
        }
#define CONFIG_ENTRY_PERCENT(T, f, k, d, lo, hi, rl, h)                                            \
        {                                                                                          \
                CONFIG_ENTRY_(T, f, double, CONFIG_PERCENT, k, d, lo, hi, rl, h)                   \
        }
/* mv: the metavar in --help ("PATH"), NULL for the type's ("STRING", "ITEM,..."). */
#define CONFIG_ENTRY_STRING(T, f, k, d, chk, mv, rl, h)                                            \
        {                                                                                          \
                CONFIG_ENTRY_(T, f, char *, CONFIG_STRING, k, d, NULL, NULL, rl, h),               \
                    .check = (chk), .metavar = (mv)                                                \
        }
#define CONFIG_ENTRY_STRV(T, f, k, d, chk, mv, rl, h)                                              \
        {                                                                                          \
                CONFIG_ENTRY_(T, f, struct config_strv, CONFIG_STRV, k, d, NULL, NULL, rl, h),     \
                    .check = (chk), .metavar = (mv)                                                \
        }
#define CONFIG_ENTRY_ENUM(T, f, k, d, vals, rl, h)                                                 \
        {                                                                                          \
                CONFIG_ENTRY_(T, f, int, CONFIG_ENUM, k, d, NULL, NULL, rl, h),                    \
                    .enum_values = (vals)                                                          \
        }

/* Item checks (config_check_item_t) that more than one table uses. */
int config_check_not_empty(const char *value, char *err, size_t err_size);
int config_check_absolute_path(const char *value, char *err, size_t err_size);
/* An absolute path, or "" for none. */
int config_check_optional_absolute_path(const char *value, char *err, size_t err_size);
/* "http://..." or "https://..." with something after the scheme, or "" for none. */
int config_check_http_url(const char *value, char *err, size_t err_size);

/* Checks the table itself: keys are camelCase and unique, bounds parse and are ordered, every
 * default parses and lies within its bounds, enums have values. A failure is a bug in the
 * table: -EINVAL with why in err. */
int config_table_verify(const struct config_table *t, char *err, size_t err_size);

/* Verifies the table and fills every field of cfg (which must hold no owned values: zeroed, or
 * after config_free()) with its default. sources (may be NULL) are all set to DEFAULT.
 * Returns 0; or -EINVAL (table bug, why in err) / -ENOMEM, and then cfg holds nothing to free. */
int config_set_defaults(const struct config_table *t, void *cfg, struct config_sources *sources,
                        char *err, size_t err_size);

/* Reads a YAML file (a mapping of keys to values; an empty file or document sets nothing) and
 * applies every key in it over cfg. All or nothing: on any error cfg is unchanged.
 * Returns 0; -ENOENT when path does not exist (err says so; the caller decides whether a
 * missing file is fine); -EINVAL for malformed YAML, unknown or duplicate keys, wrong node types
 * and bad values, with "PATH:LINE: key "KEY": why" in err; another negative errno when the file
 * cannot be read. Keys applied are marked FILE in sources (may be NULL). The cross-field check
 * is not run here: see config_check(). */
int config_load_file(const struct config_table *t, const char *path, void *cfg,
                     struct config_sources *sources, char *err, size_t err_size);

/* The same for YAML text in memory; name is used in messages where a path would be. */
int config_load_string(const struct config_table *t, const char *name, const char *text, size_t len,
                       void *cfg, struct config_sources *sources, char *err, size_t err_size);

/* Reads YAML documents that are not a config table's (a kubeconfig) the way Kubernetes' own
 * sigs.k8s.io/yaml does: the YAML becomes a JSON tree, then the caller decodes that tree with the
 * JSON codecs. Plain scalars true/false become booleans, null/~/empty null, decimal integers
 * numbers; every other scalar, and every quoted one, a string. Mappings need scalar keys.
 * Nesting is bounded as for config files, and so is the tree an alias-heavy text expands to.
 * Returns 0 and a new reference in *ret (an empty document gives an empty object), or -EINVAL
 * with "NAME:LINE: why" in err, -ENOMEM; the file variant also the errors of config_load_file()
 * (-ENOENT, -EFBIG, ...). */
struct json_object;
int config_yaml_to_json(const char *name, const char *text, size_t len, struct json_object **ret,
                        char *err, size_t err_size);
int config_yaml_file_to_json(const char *path, struct json_object **ret, char *err,
                             size_t err_size);

/* Finds the entry of a flag ("--sample-interval" or "sample-interval"); NULL when unknown. */
const struct config_entry *config_find_flag(const struct config_table *t, const char *flag);
/* Finds the entry of a YAML key; NULL when unknown. */
const struct config_entry *config_find_key(const struct config_table *t, const char *key);

/* Writes the flag of a key ("sampleInterval" → "sample-interval", without dashes) to buf;
 * returns buf. */
char *config_key_to_flag(const char *key, char *buf, size_t size);

/* Applies one flag. flag with or without the leading "--"; value NULL means the flag was given
 * without a value, which only BOOL accepts (as true). Marks the key FLAG in sources (may be
 * NULL). Returns 0; -ENOENT for an unknown flag ("--foo: unknown option"); -EINVAL for a bad
 * value ("--sample-interval: \"5x\" is not a duration ..."); cfg unchanged on error. */
int config_apply_flag(const struct config_table *t, const char *flag, const char *value, void *cfg,
                      struct config_sources *sources, char *err, size_t err_size);

/* Runs the table's cross-field check on a complete config. Returns 0 or -EINVAL (why in err). */
int config_check(const struct config_table *t, const void *cfg, char *err, size_t err_size);

/* SIGHUP: re-reads path (missing: -ENOENT when path_required, else every key not set by a flag
 * goes back to its default) over the defaults, keeps the values of keys set by flags (flags
 * win over the file), and runs the cross-field check. Then, for each key whose value differs
 * from cfg:
 *   - set by a flag, and the file now says otherwise: logged (notice), flag's value kept;
 *   - reloadable: applied, logged (info) with the old and new value;
 *   - not reloadable: logged (notice) that it needs a restart; the old value is kept.
 * All or nothing: on any error (unreadable file, bad value, failed cross-field check of the
 * result) cfg and sources are unchanged, nothing is logged, and why is in err.
 * Returns the number of keys whose value changed (0 or more), or a negative errno. */
int config_reload(const struct config_table *t, const char *path, bool path_required, void *cfg,
                  struct config_sources *sources, char *err, size_t err_size);

/* Writes cfg as YAML that config_load_file() reads back to an equal config: every key in table
 * order, each preceded by its help as a comment (and where it was set, when sources is not
 * NULL). Durations as "1m30s", bytes with the largest exact unit ("512Mi"), strings quoted.
 * Returns 0 or a negative errno from writing. */
int config_dump_yaml(const struct config_table *t, const void *cfg,
                     const struct config_sources *sources, FILE *f);

/* The value of one entry as it would appear in the YAML dump (strings and lists quoted); for
 * log lines. Always NUL-terminates (truncating with "..."); returns buf. */
char *config_format_value(const struct config_entry *e, const void *cfg, char *buf, size_t size);

/* --help lines for every key: flag, metavar, help, default, bounds, whether reloadable. */
void config_print_help(const struct config_table *t, FILE *f);

/* True when every field in the table is equal in a and b (strings and lists by content). */
bool config_equal(const struct config_table *t, const void *a, const void *b);

/* Frees the owned values (STRING, STRV) of cfg and zeroes them; safe to call twice. */
void config_free(const struct config_table *t, void *cfg);

/* ---- A program's command line ---------------------------------------------------------------- */

/* Log levels as a daemon's logLevel key takes them (values are syslog's LOG_ERR .. LOG_DEBUG). */
extern const struct config_enum_value config_log_levels[];

/* An option without a value that the program handles itself instead of running. */
struct config_action {
        const char *name; /* without "--": "list-routes" */
        const char *help; /* one sentence, for --help */
};

/* What a program's command line accepts besides a flag for every key. */
struct config_command_line {
        const char *program;      /* "memschedd": in "Usage: memschedd", "memschedd takes only" */
        const char *summary;      /* what the program does, a paragraph for --help */
        const char *default_path; /* read when --config is not given; may be missing */
        const struct config_action *actions; /* terminated by a NULL name; NULL for none */
};

/* What the command line asked for. config_args_done() releases it. */
struct config_args {
        bool help;                 /* --help or -h */
        bool version;              /* --version */
        bool print_config;         /* --print-config */
        const char *action;        /* the first of cl->actions given (points into it), or NULL */
        char *config_path;         /* the file read (or to read on reload); owned */
        bool config_path_required; /* given with --config: a missing file is an error */
        bool file_missing;         /* the default file does not exist: defaults were used */
};

/* Parses a daemon's whole command line: --config PATH (or --config=PATH), --print-config, --help
 * (-h), --version, cl->actions, and --FLAG VALUE or --FLAG=VALUE for every key (a BOOL alone is
 * true; its value only after '='). Every option is checked by name first; then, unless help,
 * version or an action was asked for (then cfg holds the defaults and no file is read), the file
 * is read over the defaults (the default one may be missing), the flags are applied over it and
 * the table's cross-field check runs. cfg must hold no owned values; sources may be NULL.
 * Returns 0 with cfg and *ret_args filled; the caller acts on help/version/action/print_config,
 * else runs. Or a negative errno (-EINVAL bad usage or value, -ENOENT a --config file missing,
 * another from reading) with one line saying what is wrong in err; cfg and *ret_args then hold
 * nothing to free. */
int config_parse_command_line(const struct config_table *t, const struct config_command_line *cl,
                              int argc, char *argv[], void *cfg, struct config_sources *sources,
                              struct config_args *ret_args, char *err, size_t err_size);

/* Frees what args owns and zeroes it; safe twice. */
void config_args_done(struct config_args *args);

/* --help: usage, the summary, --config, --print-config, the actions, --help, --version, then
 * every key (config_print_help()), how durations, quantities and lists are written (for the
 * types the table has) and the exit statuses. */
void config_print_usage(const struct config_table *t, const struct config_command_line *cl,
                        FILE *f);
