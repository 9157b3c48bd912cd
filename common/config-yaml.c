// SPDX-License-Identifier: Apache-2.0
// The YAML side of the configuration: loading a file or string with libyaml into a config
// (all or nothing, every error as "PATH:LINE: key "KEY": why"), dumping a config as the
// commented YAML that --print-config writes and config_load_file() reads back, and reading other
// YAML documents (a kubeconfig) as a JSON tree: the project's one YAML reader.
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/config-internal.h"
#include "common/macro.h"

#define CONFIG_FILE_MAX (1024 * 1024) /* a config file larger than this is a mistake */

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
                config_errf(why, why_size, -EINVAL, "the value contains a NUL character");
                return NULL;
        }
        return s;
}

/* Parses the value node of entry e. Returns 0 and *ret, or a negative errno with why and the
 * line the problem is on. */
static int parse_node(const struct config_entry *e, yaml_document_t *doc, yaml_node_t *n,
                      union config_value *ret, size_t *ret_line, char *why, size_t why_size)
{
        *ret_line = line_of(n);

        if (e->type == CONFIG_STRV) {
                union config_value v = { 0 };
                if (n->type == YAML_SCALAR_NODE && !scalar_is_null(n))
                        return config_errf(
                            why, why_size, -EINVAL,
                            "expected a list (like [\"a\", \"b\"] or one \"- item\" per "
                            "line), not a single value");
                if (n->type == YAML_MAPPING_NODE)
                        return config_errf(why, why_size, -EINVAL,
                                           "expected a list, not a mapping");
                if (config_strv_init(&v.l) < 0)
                        return config_errf(why, why_size, -ENOMEM, "out of memory");
                if (n->type == YAML_SEQUENCE_NODE)
                        for (yaml_node_item_t *it = n->data.sequence.items.start;
                             it < n->data.sequence.items.top; it++) {
                                yaml_node_t *item = yaml_document_get_node(doc, *it);
                                const char *s;
                                *ret_line = line_of(item);
                                if (item->type != YAML_SCALAR_NODE) {
                                        config_strv_free(&v.l);
                                        return config_errf(
                                            why, why_size, -EINVAL,
                                            "list items must be single values, not %s",
                                            node_kind(item));
                                }
                                if (!(s = scalar_text(item, why, why_size))) {
                                        config_strv_free(&v.l);
                                        return -EINVAL;
                                }
                                if (config_strv_push(&v.l, s, strlen(s)) < 0) {
                                        config_strv_free(&v.l);
                                        return config_errf(why, why_size, -ENOMEM, "out of memory");
                                }
                        }
                /* Item checks: report the line of the item at fault. */
                config_strv_normalize_none(&v.l);
                for (size_t i = 0; i < v.l.n; i++) {
                        int r = config_check_string(e, v.l.items[i], why, why_size);
                        if (r < 0) {
                                yaml_node_t *item =
                                    yaml_document_get_node(doc, n->data.sequence.items.start[i]);
                                *ret_line = line_of(item);
                                config_strv_free(&v.l);
                                return r;
                        }
                }
                *ret = v;
                return 0;
        }

        if (n->type != YAML_SCALAR_NODE)
                return config_errf(why, why_size, -EINVAL, "expected a single value, not %s",
                                   node_kind(n));
        if (scalar_is_null(n)) {
                if (e->type == CONFIG_STRING)
                        return config_parse_value(e, "", ret, why, why_size);
                return config_errf(why, why_size, -EINVAL, "needs a value");
        }
        const char *s = scalar_text(n, why, why_size);
        if (!s)
                return -EINVAL;
        return config_parse_value(e, s, ret, why, why_size);
}

static int yaml_error(const yaml_parser_t *p, const char *name, char *err, size_t err_size)
{
        if (p->error == YAML_MEMORY_ERROR)
                return config_errf(err, err_size, -ENOMEM, "%s: out of memory", name);
        if (p->context)
                return config_errf(err, err_size, -EINVAL,
                                   "%s:%zu: invalid YAML: %s (%s at line %zu)", name,
                                   p->problem_mark.line + 1, p->problem ? p->problem : "error",
                                   p->context, p->context_mark.line + 1);
        return config_errf(err, err_size, -EINVAL, "%s:%zu: invalid YAML: %s", name,
                           p->problem_mark.line + 1, p->problem ? p->problem : "error");
}

/* Applies the mapping at the root of doc onto scratch; seen_line[i] gets the line of key i. */
static int apply_document(const struct config_table *t, const char *name, yaml_document_t *doc,
                          void *scratch, size_t *seen_line, char *err, size_t err_size)
{
        yaml_node_t *root = yaml_document_get_root_node(doc);
        char why[CONFIG_ERR_MAX], qk[CONFIG_QUOTE_MAX + 8];

        if (!root || scalar_is_null(root))
                return 0; /* empty file, or a document with nothing in it */
        if (root->type != YAML_MAPPING_NODE)
                return config_errf(
                    err, err_size, -EINVAL,
                    "%s:%zu: expected a mapping of keys to values (\"key: value\" lines), "
                    "not %s",
                    name, line_of(root), node_kind(root));

        for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
             pair < root->data.mapping.pairs.top; pair++) {
                yaml_node_t *kn = yaml_document_get_node(doc, pair->key);
                yaml_node_t *vn = yaml_document_get_node(doc, pair->value);
                const struct config_entry *e;
                union config_value v;
                size_t line;
                int r;

                if (kn->type != YAML_SCALAR_NODE)
                        return config_errf(err, err_size, -EINVAL,
                                           "%s:%zu: a key must be a name, not %s", name,
                                           line_of(kn), node_kind(kn));
                const char *key = (const char *)kn->data.scalar.value;
                config_quote(key, qk, sizeof(qk));
                e = config_find_key(t, key);
                if (!e) {
                        const struct config_entry *s = config_suggest(t, key, false);
                        if (s)
                                return config_errf(
                                    err, err_size, -EINVAL,
                                    "%s:%zu: key %s: unknown key (did you mean \"%s\"?)", name,
                                    line_of(kn), qk, s->key);
                        return config_errf(err, err_size, -EINVAL, "%s:%zu: key %s: unknown key",
                                           name, line_of(kn), qk);
                }
                size_t i = (size_t)(e - t->entries);
                if (seen_line[i])
                        return config_errf(err, err_size, -EINVAL,
                                           "%s:%zu: key %s: duplicate key (first set on line %zu)",
                                           name, line_of(kn), qk, seen_line[i]);
                seen_line[i] = line_of(kn);

                r = parse_node(e, doc, vn, &v, &line, why, sizeof(why));
                if (r == -ENOMEM)
                        return config_errf(err, err_size, r, "%s: out of memory", name);
                if (r < 0)
                        return config_errf(err, err_size, -EINVAL, "%s:%zu: key %s: %s", name, line,
                                           qk, why);
                config_field_store(e, scratch, &v);
        }
        return 0;
}

/* A config file is a mapping of keys to scalars or lists: nothing nests deeper than a few levels.
 * libyaml's scanner costs O(depth) per token, so a file nested 40,000 deep took seconds to
 * refuse; this pass stops at the first event past CONFIG_YAML_DEPTH_MAX, before the loader
 * builds anything. Syntax errors are left to the loader, which names their line. */
#define CONFIG_YAML_DEPTH_MAX 16

static int check_depth(const char *name, const char *text, size_t len, char *err, size_t err_size)
{
        yaml_parser_t parser;
        yaml_event_t ev;
        unsigned depth = 0;
        int r = 0;

        if (!yaml_parser_initialize(&parser))
                return config_errf(err, err_size, -ENOMEM, "%s: out of memory", name);
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        for (;;) {
                if (!yaml_parser_parse(&parser, &ev))
                        break;
                yaml_event_type_t type = ev.type;
                size_t line = ev.start_mark.line + 1;
                yaml_event_delete(&ev);
                if (type == YAML_STREAM_END_EVENT)
                        break;
                if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
                        if (++depth > CONFIG_YAML_DEPTH_MAX) {
                                r = config_errf(err, err_size, -EINVAL,
                                                "%s:%zu: nested deeper than %d levels; a config "
                                                "file is a mapping of keys to values",
                                                name, line, CONFIG_YAML_DEPTH_MAX);
                                break;
                        }
                } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT)
                        depth--;
        }
        yaml_parser_delete(&parser);
        return r;
}

/* Checks the nesting of text, then loads its first document into *doc with *parser left ready for
 * the next one. On success the caller deletes both; on failure nothing is left to delete. */
static int load_first_document(const char *name, const char *text, size_t len,
                               yaml_parser_t *parser, yaml_document_t *doc, char *err,
                               size_t err_size)
{
        int r;

        if (!yaml_parser_initialize(parser))
                return config_errf(err, err_size, -ENOMEM, "%s: out of memory", name);
        r = check_depth(name, text, len, err, err_size);
        if (r < 0) {
                yaml_parser_delete(parser);
                return r;
        }
        yaml_parser_set_input_string(parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(parser, doc)) {
                r = yaml_error(parser, name, err, err_size);
                yaml_parser_delete(parser);
                return r;
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
                return config_errf(err, err_size, -EINVAL, "config table: too many entries");
        r = load_first_document(name, text, len, &parser, &doc, err, err_size);
        if (r < 0)
                return r;
        r = config_scratch_copy(t, cfg, &scratch);
        if (r < 0) {
                config_errf(err, err_size, r, "%s: out of memory", name);
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
                        config_scratch_free(t, scratch);
                        yaml_parser_delete(&parser);
                        return r;
                }
                doc = next;
                yaml_node_t *root = yaml_document_get_root_node(&doc);
                if (root) {
                        r = config_errf(err, err_size, -EINVAL,
                                        "%s:%zu: a second YAML document; the file must hold one",
                                        name, doc.start_mark.line + 1);
                        goto out_doc;
                }
        }

        for (size_t i = 0; i < t->n_entries; i++)
                if (seen_line[i]) {
                        config_field_move(&t->entries[i], cfg, scratch);
                        if (sources)
                                sources->of[i] = CONFIG_SOURCE_FILE;
                }
        r = 0;
out_doc:
        config_scratch_free(t, scratch);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return r;
}

/* Reads a whole config-sized regular file into *ret (malloc'ed, NUL-terminated) and its length. */
static int read_config_file(const char *path, char **ret, size_t *ret_len, char *err,
                            size_t err_size)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
                r = negative_errno();
                if (r == -ENOENT)
                        return config_errf(err, err_size, r, "%s: no such file", path);
                errno = -r;
                return config_errf(err, err_size, r, "Failed to open %s: %m", path);
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return config_errf(err, err_size, -EINVAL,
                                   "%s: not a regular file (a directory, FIFO, socket or "
                                   "device); give the path of a YAML file",
                                   path);
        }
        f = fdopen(fd, "r");
        if (!f) {
                r = negative_errno();
                close(fd);
                errno = -r;
                return config_errf(err, err_size, r, "Failed to open %s: %m", path);
        }
        buf = malloc(CONFIG_FILE_MAX + 1);
        if (!buf) {
                fclose(f);
                return config_errf(err, err_size, -ENOMEM, "%s: out of memory", path);
        }
        len = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
        if (ferror(f)) {
                r = errno > 0 ? -errno : -EIO;
                fclose(f);
                errno = -r;
                return config_errf(err, err_size, r, "Failed to read %s: %m", path);
        }
        fclose(f);
        if (len > CONFIG_FILE_MAX)
                return config_errf(err, err_size, -EFBIG,
                                   "%s: larger than %d bytes; not a config file", path,
                                   CONFIG_FILE_MAX);
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int config_load_file(const struct config_table *t, const char *path, void *cfg,
                     struct config_sources *sources, char *err, size_t err_size)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = read_config_file(path, &buf, &len, err, err_size);
        if (r < 0)
                return r;
        return config_load_string(t, path, buf, len, cfg, sources, err, err_size);
}

/* ---- YAML as a JSON tree ------------------------------------------------------------------ */

/* The most JSON values one YAML text may become, beyond one per input byte: aliases let a short
 * text name a node many times over ("billion laughs"). */
#define YAML_TREE_NODES_SLACK 100000

struct to_json {
        yaml_document_t *doc;
        const char *name;
        size_t budget; /* JSON values still allowed */
        char *err;
        size_t err_size;
};

static struct json_object *scalar_to_json(const yaml_node_t *n)
{
        const char *s = (const char *)n->data.scalar.value;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
                if (scalar_is_null(n))
                        return NULL;
                if (streq(s, "true") || streq(s, "True") || streq(s, "TRUE"))
                        return json_object_new_boolean(1);
                if (streq(s, "false") || streq(s, "False") || streq(s, "FALSE"))
                        return json_object_new_boolean(0);
                char *end = NULL;
                errno = 0;
                long long v = strtoll(s, &end, 10);
                if (*s && end && *end == '\0' && errno == 0 &&
                    (isdigit((unsigned char)*s) ||
                     ((*s == '-' || *s == '+') && isdigit((unsigned char)s[1]))))
                        return json_object_new_int64(v);
        }
        return json_object_new_string_len(s, (int)n->data.scalar.length);
}

static int node_to_json(struct to_json *c, yaml_node_t *n, struct json_object **ret)
{
        if (c->budget == 0)
                return config_errf(c->err, c->err_size, -EINVAL,
                                   "%s:%zu: the document expands to too many values (aliases?)",
                                   c->name, line_of(n));
        c->budget--;
        switch (n->type) {
        case YAML_SCALAR_NODE: {
                char why[CONFIG_ERR_MAX];
                if (!scalar_text(n, why, sizeof(why)))
                        return config_errf(c->err, c->err_size, -EINVAL, "%s:%zu: %s", c->name,
                                           line_of(n), why);
                struct json_object *v = scalar_to_json(n);
                if (!v && !scalar_is_null(n))
                        return config_errf(c->err, c->err_size, -ENOMEM, "%s: out of memory",
                                           c->name);
                *ret = v;
                return 0;
        }
        case YAML_SEQUENCE_NODE: {
                struct json_object *a = json_object_new_array();
                if (!a)
                        return config_errf(c->err, c->err_size, -ENOMEM, "%s: out of memory",
                                           c->name);
                for (yaml_node_item_t *it = n->data.sequence.items.start;
                     it < n->data.sequence.items.top; it++) {
                        struct json_object *v = NULL;
                        int r = node_to_json(c, yaml_document_get_node(c->doc, *it), &v);
                        if (r < 0) {
                                json_object_put(a);
                                return r;
                        }
                        json_object_array_add(a, v);
                }
                *ret = a;
                return 0;
        }
        case YAML_MAPPING_NODE: {
                struct json_object *o = json_object_new_object();
                if (!o)
                        return config_errf(c->err, c->err_size, -ENOMEM, "%s: out of memory",
                                           c->name);
                for (yaml_node_pair_t *pair = n->data.mapping.pairs.start;
                     pair < n->data.mapping.pairs.top; pair++) {
                        yaml_node_t *kn = yaml_document_get_node(c->doc, pair->key);
                        struct json_object *v = NULL;
                        char why[CONFIG_ERR_MAX];
                        if (kn->type != YAML_SCALAR_NODE || !scalar_text(kn, why, sizeof(why))) {
                                json_object_put(o);
                                return config_errf(c->err, c->err_size, -EINVAL,
                                                   "%s:%zu: a key must be a name, not %s", c->name,
                                                   line_of(kn), node_kind(kn));
                        }
                        int r = node_to_json(c, yaml_document_get_node(c->doc, pair->value), &v);
                        if (r < 0) {
                                json_object_put(o);
                                return r;
                        }
                        json_object_object_add(o, (const char *)kn->data.scalar.value, v);
                }
                *ret = o;
                return 0;
        }
        default:
                return config_errf(c->err, c->err_size, -EINVAL, "%s:%zu: empty node", c->name,
                                   line_of(n));
        }
}

int config_yaml_to_json(const char *name, const char *text, size_t len, struct json_object **ret,
                        char *err, size_t err_size)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        struct json_object *o = NULL;
        int r;

        r = load_first_document(name, text, len, &parser, &doc, err, err_size);
        if (r < 0)
                return r;
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root || scalar_is_null(root))
                o = json_object_new_object();
        else {
                struct to_json c = { .doc = &doc,
                                     .name = name,
                                     .budget = len + YAML_TREE_NODES_SLACK,
                                     .err = err,
                                     .err_size = err_size };
                r = node_to_json(&c, root, &o);
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        if (r < 0)
                return r;
        if (!o)
                return config_errf(err, err_size, -ENOMEM, "%s: out of memory", name);
        *ret = o;
        return 0;
}

int config_yaml_file_to_json(const char *path, struct json_object **ret, char *err, size_t err_size)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = read_config_file(path, &buf, &len, err, err_size);
        if (r < 0)
                return r;
        return config_yaml_to_json(path, buf, len, ret, err, err_size);
}

/* ---- Dump -------------------------------------------------------------------------------- */

int config_dump_yaml(const struct config_table *t, const void *cfg,
                     const struct config_sources *sources, FILE *f)
{
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct config_entry *e = &t->entries[i];
                char flag[CONFIG_FLAG_MAX], comment[2048];

                snprintf(comment, sizeof(comment), "%s%s%s%s%s", e->help,
                         e->reloadable ? "" : " Changes need a restart.",
                         sources && sources->of[i] == CONFIG_SOURCE_FLAG ? " Set by --" : "",
                         sources && sources->of[i] == CONFIG_SOURCE_FLAG
                             ? config_key_to_flag(e->key, flag, sizeof(flag))
                             : "",
                         sources && sources->of[i] == CONFIG_SOURCE_FLAG ? "." : "");
                if (i > 0)
                        fputc('\n', f);
                config_print_wrapped(f, comment, "# ", 100);
                fprintf(f, "%s: ", e->key);
                config_fprint_value(f, e, cfg);
                fputc('\n', f);
        }
        fflush(f);
        return ferror(f) ? -EIO : 0;
}
