// SPDX-License-Identifier: Apache-2.0
// The declarative table itself: verifying a table, defaults, finding keys and flags (with a
// suggestion for a typo), applying flags, a program's whole command line (--config,
// --print-config, --help and the keys as flags), --help text generated from the table, and the
// SIGHUP reload. Values are parsed in common/config-value.c, files in common/config-yaml.c.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "common/config-internal.h"
#include "common/log.h"
#include "common/macro.h"

/* ---- The table --------------------------------------------------------------------------- */

static bool key_is_valid(const char *key)
{
        if (!key || !(key[0] >= 'a' && key[0] <= 'z'))
                return false;
        for (const char *p = key; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9')))
                        return false;
        return strlen(key) < CONFIG_FLAG_MAX / 2;
}

char *config_key_to_flag(const char *key, char *buf, size_t size)
{
        size_t o = 0;
        if (size == 0)
                return buf;
        for (const char *p = key; *p && o + 2 < size; p++) {
                if (*p >= 'A' && *p <= 'Z') {
                        /* An acronym is one word: clientCA is --client-ca. */
                        if (p == key || !(p[-1] >= 'A' && p[-1] <= 'Z'))
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
                return config_errf(err, err_size, -EINVAL, "config table: %zu entries, at most %d",
                                   t->n_entries, CONFIG_ENTRIES_MAX);
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct config_entry *e = &t->entries[i];
                char why[CONFIG_ERR_MAX];
                struct config_bounds b;
                union config_value v;

                if (!key_is_valid(e->key))
                        return config_errf(err, err_size, -EINVAL,
                                           "config table: entry %zu: key \"%s\" is not camelCase",
                                           i, e->key ? e->key : "(null)");
                for (size_t j = 0; j < i; j++)
                        if (streq(t->entries[j].key, e->key))
                                return config_errf(err, err_size, -EINVAL,
                                                   "config table: key \"%s\" appears twice",
                                                   e->key);
                if (e->offset + config_type_size(e->type) > t->struct_size ||
                    config_type_size(e->type) == 0)
                        return config_errf(err, err_size, -EINVAL,
                                           "config table: key \"%s\": field outside the struct",
                                           e->key);
                if (!e->help || !*e->help)
                        return config_errf(err, err_size, -EINVAL,
                                           "config table: key \"%s\": no help", e->key);
                if (e->type == CONFIG_ENUM && (!e->enum_values || !e->enum_values[0].name))
                        return config_errf(err, err_size, -EINVAL,
                                           "config table: key \"%s\": an enum without values",
                                           e->key);
                if (e->type != CONFIG_ENUM && e->enum_values)
                        return config_errf(err, err_size, -EINVAL,
                                           "config table: key \"%s\": enum values on a non-enum",
                                           e->key);
                if (e->check && e->type != CONFIG_STRING && e->type != CONFIG_STRV)
                        return config_errf(err, err_size, -EINVAL,
                                           "config table: key \"%s\": a check on a non-string",
                                           e->key);
                if (config_parse_bounds(e, &b) < 0)
                        return config_errf(
                            err, err_size, -EINVAL,
                            "config table: key \"%s\": bounds (%s, %s) do not parse or "
                            "are not ordered",
                            e->key, e->min ? e->min : "none", e->max ? e->max : "none");
                int r = config_parse_value(e, e->def ? e->def : "", &v, why, sizeof(why));
                if (r == -ENOMEM)
                        return config_errf(err, err_size, r, "out of memory");
                if (r < 0)
                        return config_errf(err, err_size, -EINVAL,
                                           "config table: key \"%s\": default: %s", e->key, why);
                config_value_free(e, &v);
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
                union config_value v;

                r = config_parse_value(e, e->def ? e->def : "", &v, why, sizeof(why));
                if (r < 0) { /* only ENOMEM: the table verified */
                        for (size_t j = 0; j < i; j++)
                                config_field_free(&t->entries[j], cfg);
                        return config_errf(err, err_size, r,
                                           "config table: key \"%s\": default: %s", e->key, why);
                }
                memset(config_field_of(e, cfg), 0, config_type_size(e->type));
                config_field_store(e, cfg, &v);
        }
        if (sources)
                *sources = (struct config_sources){ { 0 } };
        return 0;
}

void config_free(const struct config_table *t, void *cfg)
{
        for (size_t i = 0; i < t->n_entries; i++)
                config_field_free(&t->entries[i], cfg);
}

bool config_equal(const struct config_table *t, const void *a, const void *b)
{
        for (size_t i = 0; i < t->n_entries; i++)
                if (!config_field_equal(&t->entries[i], a, b))
                        return false;
        return true;
}

/* A scratch struct holding deep copies of every table field of cfg. */
int config_scratch_copy(const struct config_table *t, const void *cfg, void **ret)
{
        void *s = calloc(1, t->struct_size);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_entries; i++)
                if (config_field_copy(&t->entries[i], s, cfg) < 0) {
                        for (size_t j = 0; j < i; j++)
                                config_field_free(&t->entries[j], s);
                        free(s);
                        return -ENOMEM;
                }
        *ret = s;
        return 0;
}

void config_scratch_free(const struct config_table *t, void *s)
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
        char buf[CONFIG_FLAG_MAX];
        if (flag[0] == '-' && flag[1] == '-')
                flag += 2;
        for (size_t i = 0; i < t->n_entries; i++)
                if (streq(config_key_to_flag(t->entries[i].key, buf, sizeof(buf)), flag))
                        return &t->entries[i];
        return NULL;
}

static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b), prev[CONFIG_FLAG_MAX], cur[CONFIG_FLAG_MAX];

        if (la >= CONFIG_FLAG_MAX || lb >= CONFIG_FLAG_MAX)
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
const struct config_entry *config_suggest(const struct config_table *t, const char *key,
                                          bool is_flag)
{
        const struct config_entry *best = NULL;
        size_t best_d = 3; /* at most 2 edits */

        for (size_t i = 0; i < t->n_entries; i++) {
                char flag[CONFIG_FLAG_MAX];
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
        char why[CONFIG_ERR_MAX], name[CONFIG_FLAG_MAX];
        union config_value v;
        int r;

        if (flag[0] == '-' && flag[1] == '-')
                flag += 2;
        e = config_find_flag(t, flag);
        if (!e) {
                const struct config_entry *s = config_suggest(t, flag, true);
                if (s)
                        return config_errf(
                            err, err_size, -ENOENT, "--%.*s: unknown option (did you mean --%s?)",
                            CONFIG_QUOTE_MAX, flag, config_key_to_flag(s->key, name, sizeof(name)));
                return config_errf(err, err_size, -ENOENT, "--%.*s: unknown option",
                                   CONFIG_QUOTE_MAX, flag);
        }
        config_key_to_flag(e->key, name, sizeof(name));
        if (!value) {
                if (e->type != CONFIG_BOOL)
                        return config_errf(err, err_size, -EINVAL, "--%s: needs a value", name);
                value = "true";
        }
        r = config_parse_value(e, value, &v, why, sizeof(why));
        if (r < 0)
                return config_errf(err, err_size, r == -ENOMEM ? r : -EINVAL, "--%s: %s", name,
                                   why);
        config_field_store(e, cfg, &v);
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

/* ---- A program's command line ------------------------------------------------------------- */

const struct config_enum_value config_log_levels[] = {
        { "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
        { "info", LOG_INFO }, { "debug", LOG_DEBUG },     { NULL, 0 },
};

struct flag_arg {
        const char *name; /* without "--", up to '=' (not NUL-terminated there) */
        size_t name_len;
        const char *value; /* NULL: given without a value */
};

void config_args_done(struct config_args *args)
{
        if (!args)
                return;
        free(args->config_path);
        *args = (struct config_args){ 0 };
}

static const char *find_action(const struct config_command_line *cl, const char *name)
{
        for (size_t i = 0; cl->actions && cl->actions[i].name; i++)
                if (streq(cl->actions[i].name, name))
                        return cl->actions[i].name;
        return NULL;
}

/* First pass: what is asked for, and are all the options known? Nothing is read or parsed yet,
 * so that --help works whatever the values say. */
static int scan_arguments(const struct config_table *t, const struct config_command_line *cl,
                          int argc, char *argv[], struct flag_arg *flags, size_t *ret_n_flags,
                          struct config_args *args, const char **ret_config_path, char *err,
                          size_t err_size)
{
        const char *bare_bool = NULL; /* the previous argument: a bool flag without '=' */
        size_t n_flags = 0;

        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i], *prev_bool = bare_bool;
                char name[CONFIG_FLAG_MAX];

                bare_bool = NULL;
                if (streq(arg, "-h")) {
                        args->help = true;
                        continue;
                }
                if (prev_bool && strncmp(arg, "--", 2) != 0)
                        return config_errf(err, err_size, -EINVAL,
                                           "unexpected argument \"%.64s\" after --%s: a boolean "
                                           "flag takes its value after '=' (--%s=%.64s)",
                                           arg, prev_bool, prev_bool, arg);
                if (strncmp(arg, "--", 2) != 0 || streq(arg, "--"))
                        return config_errf(err, err_size, -EINVAL,
                                           "unexpected argument \"%.64s\": %s takes only options "
                                           "(see --help)",
                                           arg, cl->program);
                const char *eq = strchr(arg + 2, '=');
                size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
                if (len >= sizeof(name))
                        return config_errf(err, err_size, -EINVAL, "%.64s...: unknown option", arg);
                memcpy(name, arg + 2, len);
                name[len] = '\0';
                const char *value = eq ? eq + 1 : NULL;
                const char *action = find_action(cl, name);

                if (streq(name, "help") || streq(name, "version") || streq(name, "print-config") ||
                    action) {
                        if (value)
                                return config_errf(err, err_size, -EINVAL, "--%s takes no value",
                                                   name);
                        if (streq(name, "help"))
                                args->help = true;
                        else if (streq(name, "version"))
                                args->version = true;
                        else if (action) {
                                if (!args->action)
                                        args->action = action;
                        } else
                                args->print_config = true;
                        continue;
                }
                if (streq(name, "config")) {
                        if (!value && i + 1 < argc)
                                value = argv[++i];
                        if (!value || !*value)
                                return config_errf(err, err_size, -EINVAL,
                                                   "--config: needs a path");
                        *ret_config_path = value;
                        continue;
                }
                const struct config_entry *e = config_find_flag(t, name);
                if (!e) {
                        /* config_apply_flag() words it, with a suggestion; on nothing. */
                        int r = config_apply_flag(t, name, "", NULL, NULL, err, err_size);
                        return r < 0 ? r : -EINVAL;
                }
                if (!value && e->type == CONFIG_BOOL)
                        bare_bool = arg + 2;
                if (!value && e->type != CONFIG_BOOL) {
                        if (i + 1 >= argc)
                                return config_errf(err, err_size, -EINVAL, "--%s: needs a value",
                                                   name);
                        value = argv[++i];
                }
                flags[n_flags++] = (struct flag_arg){ arg + 2, len, value };
        }
        *ret_n_flags = n_flags;
        return 0;
}

int config_parse_command_line(const struct config_table *t, const struct config_command_line *cl,
                              int argc, char *argv[], void *cfg, struct config_sources *sources,
                              struct config_args *ret_args, char *err, size_t err_size)
{
        _cleanup_free_ struct flag_arg *flags = NULL;
        struct config_args args = { 0 };
        const char *config_path = NULL;
        size_t n_flags = 0;
        int r;

        flags = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*flags));
        if (!flags)
                return config_errf(err, err_size, -ENOMEM, "out of memory");
        r = scan_arguments(t, cl, argc, argv, flags, &n_flags, &args, &config_path, err, err_size);
        if (r < 0)
                return r;

        r = config_set_defaults(t, cfg, sources, err, err_size);
        if (r < 0)
                return r;
        args.config_path_required = config_path;
        args.config_path = strdup(config_path ? config_path : cl->default_path);
        if (!args.config_path) {
                config_free(t, cfg);
                return config_errf(err, err_size, -ENOMEM, "out of memory");
        }
        if (args.help || args.version || args.action) {
                *ret_args = args;
                return 0;
        }

        r = config_load_file(t, args.config_path, cfg, sources, err, err_size);
        if (r == -ENOENT && !args.config_path_required) {
                log_debug("%s does not exist, using the defaults", args.config_path);
                args.file_missing = true;
                r = 0;
        }
        if (r == -ENOENT)
                config_errf(err, err_size, r, "--config %s: no such file", args.config_path);
        for (size_t i = 0; r >= 0 && i < n_flags; i++) {
                char name[CONFIG_FLAG_MAX];
                memcpy(name, flags[i].name, flags[i].name_len);
                name[flags[i].name_len] = '\0';
                r = config_apply_flag(t, name, flags[i].value, cfg, sources, err, err_size);
        }
        if (r >= 0) {
                r = config_check(t, cfg, err, err_size);
                if (r < 0) {
                        char why[CONFIG_ERR_MAX];
                        snprintf(why, sizeof(why), "%s", err ? err : "");
                        config_errf(err, err_size, r, "invalid configuration: %s", why);
                }
        }
        if (r < 0) {
                config_free(t, cfg);
                config_args_done(&args);
                return r;
        }
        *ret_args = args;
        return 0;
}

/* ---- Output ------------------------------------------------------------------------------ */

/* Prints text wrapped at `width` columns, every line starting with `prefix`. */
void config_print_wrapped(FILE *f, const char *text, const char *prefix, int width)
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

/* ---- Help -------------------------------------------------------------------------------- */

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
                char flag[CONFIG_FLAG_MAX], mv[256], def[256], text[2048];
                const char *sep = e->type == CONFIG_BOOL ? "" : " ";
                struct config_bounds b;
                int o;

                /* The default as the dump writes it; a list as its flag takes it. */
                if (e->type == CONFIG_STRV || !have_defs)
                        snprintf(def, sizeof(def), "%s", e->def && *e->def ? e->def : "none");
                else
                        config_format_value(e, defs, def, sizeof(def));
                fprintf(f, "  --%s%s%s\n", config_key_to_flag(e->key, flag, sizeof(flag)), sep,
                        metavar(e, mv, sizeof(mv)));
                o = snprintf(text, sizeof(text), "%s Default %s", e->help, def);
                if (config_parse_bounds(e, &b) == 0 && (b.min_text || b.max_text) && o > 0 &&
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
                config_print_wrapped(f, text, "        ", 80);
        }
        config_scratch_free(t, defs);
}

static bool table_has(const struct config_table *t, enum config_type type)
{
        for (size_t i = 0; i < t->n_entries; i++)
                if (t->entries[i].type == type)
                        return true;
        return false;
}

void config_print_usage(const struct config_table *t, const struct config_command_line *cl, FILE *f)
{
        const char *example = NULL;
        char flag[CONFIG_FLAG_MAX], text[1024];
        bool reloadable = false;

        for (size_t i = 0; i < t->n_entries; i++) {
                reloadable |= t->entries[i].reloadable;
                if (!example && strpbrk(t->entries[i].key, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
                        example = t->entries[i].key;
        }
        fprintf(f, "Usage: %s [OPTIONS]\n\n", cl->program);
        if (cl->summary) {
                config_print_wrapped(f, cl->summary, "", 80);
                fputc('\n', f);
        }
        if (example)
                snprintf(text, sizeof(text),
                         "Every setting below is a key of the YAML configuration file (camelCase: "
                         "--%s is %s) and a flag; flags override the file.%s",
                         config_key_to_flag(example, flag, sizeof(flag)), example,
                         reloadable ? " SIGHUP re-reads the file and applies the settings marked "
                                      "reloadable."
                                    : "");
        else
                snprintf(text, sizeof(text),
                         "Every setting below is a key of the YAML configuration file and a flag; "
                         "flags override the file.%s",
                         reloadable ? " SIGHUP re-reads the file and applies the settings marked "
                                      "reloadable."
                                    : "");
        config_print_wrapped(f, text, "", 80);
        fprintf(f,
                "\n"
                "  --config PATH\n"
                "        The YAML configuration file. Default %s,\n"
                "        which may be missing (all defaults); a file given here must exist.\n"
                "  --print-config\n"
                "        Print the effective configuration as YAML (a valid configuration\n"
                "        file) and exit.\n",
                cl->default_path);
        for (size_t i = 0; cl->actions && cl->actions[i].name; i++) {
                fprintf(f, "  --%s\n", cl->actions[i].name);
                config_print_wrapped(f, cl->actions[i].help, "        ", 80);
        }
        fprintf(f, "  --help, -h\n"
                   "        Print this help and exit.\n"
                   "  --version\n"
                   "        Print the version and exit.\n"
                   "\n"
                   "Settings:\n");
        config_print_help(t, f);

        /* How the types this table has are written. */
        text[0] = '\0';
        if (table_has(t, CONFIG_DURATION))
                strcat(text, "Durations: 100us, 500ms, 2s, 1m, 1h, or combined (1m30s). ");
        if (table_has(t, CONFIG_BYTES) || table_has(t, CONFIG_BYTES_OR_PERCENT))
                strcat(text, "Quantities as Kubernetes writes them: 512Mi, 1Gi, 100M. ");
        if (table_has(t, CONFIG_STRV))
                strcat(text, "Lists as flags: comma-separated (replacing the whole list; none or "
                             "\"\" for empty). ");
        if (text[0]) {
                text[strlen(text) - 1] = '\0';
                fputc('\n', f);
                config_print_wrapped(f, text, "", 80);
        }
        fprintf(f, "\n"
                   "Exit status: 0 done, 1 failed while running, 2 refused (bad configuration or\n"
                   "usage).\n");
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
                return config_errf(err, err_size, -EINVAL, "config table: too many entries");
        next = calloc(1, t->struct_size);
        if (!next)
                return config_errf(err, err_size, -ENOMEM, "out of memory");
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
        r = config_scratch_copy(t, next, &want);
        if (r < 0) {
                config_errf(err, err_size, r, "out of memory");
                goto out;
        }

        /* Flags win over the file; keys that cannot change at run time keep their value. */
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct config_entry *e = &t->entries[i];
                bool is_flag = sources->of[i] == CONFIG_SOURCE_FLAG;

                if (config_field_equal(e, next, cfg)) {
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
                config_field_free(e, next);
                r = config_field_copy(e, next, cfg);
                if (r < 0) {
                        config_errf(err, err_size, r, "out of memory");
                        goto out;
                }
                next_src.of[i] = sources->of[i];
        }
        r = config_check(t, next, err, err_size);
        if (r < 0) {
                char why[CONFIG_ERR_MAX];
                snprintf(why, sizeof(why), "%s", err ? err : "");
                config_errf(err, err_size, r, "%s: %s", path, why);
                goto out;
        }

        /* Everything is valid and nothing below fails: log, then commit. */
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct config_entry *e = &t->entries[i];
                char was[256], now[256], flag[CONFIG_FLAG_MAX];

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
                else if (!config_field_equal(e, next, cfg)) {
                        log_info("%s: key \"%s\" changed from %s to %s, applied", path, e->key, was,
                                 now);
                        changed++;
                }
        }
        for (size_t i = 0; i < t->n_entries; i++)
                config_field_move(&t->entries[i], cfg, next);
        *sources = next_src;
        r = changed;
out:
        config_scratch_free(t, want);
        config_scratch_free(t, next);
        return r;
}
