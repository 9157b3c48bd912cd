// SPDX-License-Identifier: Apache-2.0
// ExtenderArgs: the body kube-scheduler POSTs to the filter and prioritize verbs.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/extender.h"

void extender_args_done(struct extender_args *a)
{
        if (!a)
                return;
        free(a->node_names);
        free(a->nodes);
        free(a->node_texts);
        free(a->name_arena);
        if (a->root)
                json_object_put(a->root);
        *a = (struct extender_args){};
}

int extender_args_decode(struct json_object *root, struct extender_args *ret, struct api_error *err)
{
        struct extender_args a = {};
        struct json_object *pod = NULL, *names = NULL, *list = NULL, *items = NULL;
        char field[API_FIELD_MAX];
        int r;

        if (!json_object_is_type(root, json_type_object))
                return api_error_set(err, -EINVAL, "", "body must be a JSON object (ExtenderArgs)");
        if ((r = api_get_object(root, "", "Pod", true, true, &pod, err)) < 0 ||
            (r = api_get_array(root, "", "NodeNames", false, true, &names, err)) < 0 ||
            (r = api_get_object(root, "", "Nodes", false, true, &list, err)) < 0)
                return r;
        r = k8s_pod_decode(pod, "Pod", &a.pod, err);
        if (r < 0)
                return r;

        if (names) {
                a.node_cache_capable = true;
                a.n_nodes = json_object_array_length(names);
                if (a.n_nodes > EXTENDER_NODES_MAX)
                        return api_error_set(err, -E2BIG, "NodeNames", "more than %d names",
                                             EXTENDER_NODES_MAX);
                a.node_names = calloc(a.n_nodes ? a.n_nodes : 1, sizeof(*a.node_names));
                if (!a.node_names)
                        return -ENOMEM;
                for (size_t i = 0; i < a.n_nodes; i++) {
                        struct json_object *v = json_object_array_get_idx(names, i);
                        api_path_index(field, "NodeNames", i);
                        if (!json_object_is_type(v, json_type_string) ||
                            json_object_get_string_len(v) == 0) {
                                free(a.node_names);
                                return api_error_set(err, -EINVAL, field,
                                                     "must be a non-empty string");
                        }
                        r = api_string_value(v, field, &a.node_names[i], err);
                        if (r < 0) {
                                free(a.node_names);
                                return r;
                        }
                }
        } else if (list) {
                r = api_get_array(list, "Nodes", "items", false, true, &items, err);
                if (r < 0)
                        return r;
                a.n_nodes = items ? json_object_array_length(items) : 0;
                if (a.n_nodes > EXTENDER_NODES_MAX)
                        return api_error_set(err, -E2BIG, "Nodes.items", "more than %d nodes",
                                             EXTENDER_NODES_MAX);
                a.node_names = calloc(a.n_nodes ? a.n_nodes : 1, sizeof(*a.node_names));
                a.nodes = calloc(a.n_nodes ? a.n_nodes : 1, sizeof(*a.nodes));
                if (!a.node_names || !a.nodes) {
                        free(a.node_names);
                        free(a.nodes);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < a.n_nodes; i++) {
                        char ipath[API_FIELD_MAX], mpath[API_FIELD_MAX];
                        struct json_object *n = json_object_array_get_idx(items, i);
                        struct json_object *meta = NULL;
                        api_path_index(ipath, "Nodes.items", i);
                        api_path(mpath, ipath, "metadata");
                        r = json_object_is_type(n, json_type_object)
                                ? 0
                                : api_error_set(err, -EINVAL, ipath, "must be an object");
                        if (r >= 0)
                                r = api_get_object(n, ipath, "metadata", true, false, &meta, err);
                        if (r >= 0)
                                r = api_get_string(meta, mpath, "name", true, false,
                                                   &a.node_names[i], err);
                        if (r < 0) {
                                free(a.node_names);
                                free(a.nodes);
                                return r;
                        }
                        a.nodes[i] = n;
                }
        } else
                return api_error_set(err, -EINVAL, "NodeNames",
                                     "either NodeNames or Nodes is required");

        a.root = json_object_get(root);
        *ret = a;
        return 0;
}

struct json_object *extender_args_encode(const struct k8s_pod *pod, const char *const *names,
                                         size_t n, bool node_cache_capable)
{
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        api_add(o, "Pod", k8s_pod_encode(pod));
        if (node_cache_capable) {
                struct json_object *a = json_object_new_array_ext((int)n);
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(a, json_object_new_string(names[i]));
                api_add(o, "Nodes", NULL);
                api_add(o, "NodeNames", a);
        } else {
                struct json_object *list = json_object_new_object();
                struct json_object *items = json_object_new_array_ext((int)n);
                for (size_t i = 0; i < n; i++) {
                        struct json_object *node = json_object_new_object();
                        struct json_object *meta = json_object_new_object();
                        struct json_object *labels = json_object_new_object();
                        api_add(labels, "kubernetes.io/hostname", json_object_new_string(names[i]));
                        api_add(meta, "name", json_object_new_string(names[i]));
                        api_add(meta, "labels", labels);
                        api_add(node, "metadata", meta);
                        api_add(node, "spec", json_object_new_object());
                        api_add(node, "status", json_object_new_object());
                        json_object_array_add(items, node);
                }
                api_add(list, "metadata", json_object_new_object());
                api_add(list, "items", items);
                api_add(o, "Nodes", list);
                api_add(o, "NodeNames", NULL);
        }
        return o;
}

/* ---------- the names-mode fast path ----------
 *
 * With nodeCacheCapable, kube-scheduler sends {"Pod": {...}, "Nodes": null, "NodeNames": [...]}
 * where NodeNames holds every candidate node: at 5,000 nodes json-c spends most of a filter call
 * building (and then freeing) 5,000 string objects. This scanner handles exactly that shape
 * without them: it checks the top level itself (strict JSON: only those three keys, each once
 * ignoring case, Nodes null, names plain printable ASCII strings without escapes), hands the Pod
 * value alone to json-c, and points node_names into the body. Anything else (other keys,
 * escapes, Nodes mode, any syntax or validation error) is left to the generic path, so answers,
 * error messages included, are those of api_parse() + extender_args_decode(). */

struct scan {
        const char *p, *end;
};

static void scan_ws(struct scan *s)
{
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
                s->p++;
}

static bool scan_char(struct scan *s, char c)
{
        scan_ws(s);
        if (s->p < s->end && *s->p == c) {
                s->p++;
                return true;
        }
        return false;
}

/* A string of printable ASCII without escapes; *ret points after the opening quote. */
static bool scan_plain_string(struct scan *s, const char **ret, size_t *ret_len)
{
        if (!scan_char(s, '"'))
                return false;
        const char *start = s->p, *p = s->p, *end = s->end;
        /* Printable ASCII other than '"' and '\\' (the loop runs over every byte of 5,000
         * names). */
        while (p < end && (unsigned char)(*p - 0x20) < 0x5f && *p != '"' && *p != '\\')
                p++;
        if (p >= end || *p != '"')
                return false;
        *ret = start;
        *ret_len = (size_t)(p - start);
        s->p = p + 1;
        return true;
}

/* Skips the rest of a string whose opening quote was read, escapes honoured. */
static bool scan_skip_string_rest(struct scan *s)
{
        while (s->p < s->end && *s->p != '"') {
                if (*s->p == '\\' && ++s->p >= s->end)
                        return false;
                s->p++;
        }
        if (s->p >= s->end)
                return false;
        s->p++;
        return true;
}

/* Skips one object or array value starting at s->p: brackets balanced outside strings, escapes
 * honoured. json-c then parses exactly that slice, which validates it. */
static bool scan_skip_container(struct scan *s, int max_depth)
{
        int depth = 0;
        while (s->p < s->end) {
                char c = *s->p++;
                if (c == '"') {
                        if (!scan_skip_string_rest(s))
                                return false;
                } else if (c == '{' || c == '[') {
                        if (++depth > max_depth)
                                return false;
                } else if (c == '}' || c == ']') {
                        if (--depth == 0)
                                return true;
                }
        }
        return false;
}

/* Skips one object value starting at '{'. */
static bool scan_skip_object(struct scan *s, int max_depth)
{
        scan_ws(s);
        if (s->p >= s->end || *s->p != '{')
                return false;
        return scan_skip_container(s, max_depth);
}

static bool key_is(const char *k, size_t n, const char *want)
{
        return strlen(want) == n && strncasecmp(k, want, n) == 0;
}

int extender_args_parse_names(char *body, size_t size, struct extender_args *ret)
{
        struct scan s = { .p = body, .end = body };
        const char *pod_start = NULL, *pod_end = NULL;
        bool have_nodes = false, have_names = false;
        _cleanup_free_ const char **names = NULL;
        _cleanup_free_ uint32_t *lens = NULL;
        size_t n = 0, cap = 0;

        if (!body || size > INT32_MAX) /* no body at all: the generic path's error */
                return 0;
        s.end = body + size;
        if (!scan_char(&s, '{'))
                return 0;
        do {
                const char *k;
                size_t kn;
                if (!scan_plain_string(&s, &k, &kn) || !scan_char(&s, ':'))
                        return 0;
                if (key_is(k, kn, "Pod") && !pod_start) {
                        scan_ws(&s);
                        pod_start = s.p;
                        /* The generic parser allows 64 levels; the Pod sits one level down. */
                        if (!scan_skip_object(&s, 63))
                                return 0;
                        pod_end = s.p;
                } else if (key_is(k, kn, "Nodes") && !have_nodes) {
                        scan_ws(&s);
                        if (s.end - s.p < 4 || memcmp(s.p, "null", 4) != 0)
                                return 0;
                        s.p += 4;
                        have_nodes = true;
                } else if (key_is(k, kn, "NodeNames") && !have_names) {
                        if (!scan_char(&s, '['))
                                return 0;
                        have_names = true;
                        if (scan_char(&s, ']'))
                                continue;
                        do {
                                const char *v;
                                size_t vn;
                                if (!scan_plain_string(&s, &v, &vn) || vn == 0 ||
                                    vn >= API_NODE_NAME_MAX)
                                        return 0;
                                if (n == EXTENDER_NODES_MAX)
                                        return -E2BIG;
                                if (n == cap) {
                                        size_t c = cap ? cap * 2 : 1024;
                                        const char **nn = realloc(names, c * sizeof(*nn));
                                        if (!nn)
                                                return -ENOMEM;
                                        names = nn;
                                        uint32_t *nl = realloc(lens, c * sizeof(*nl));
                                        if (!nl)
                                                return -ENOMEM;
                                        lens = nl;
                                        cap = c;
                                }
                                names[n] = v;
                                lens[n++] = (uint32_t)vn;
                        } while (scan_char(&s, ','));
                        if (!scan_char(&s, ']'))
                                return 0;
                } else
                        return 0;
        } while (scan_char(&s, ','));
        if (!scan_char(&s, '}'))
                return 0;
        scan_ws(&s);
        if (s.p != s.end || !pod_start || !have_names)
                return 0;

        /* The Pod goes through api_parse() like every body, so that its strings get the same
         * checks (UTF-8, no NUL) as on the generic path; any refusal is the generic path's to
         * report, with its message. */
        struct json_object *pod = NULL;
        struct api_error perr;
        int pr = api_parse(pod_start, (size_t)(pod_end - pod_start), &pod, &perr);
        if (pr == -ENOMEM)
                return -ENOMEM;
        if (pr < 0)
                return 0;
        struct extender_args a = { .node_cache_capable = true, .n_nodes = n };
        if (k8s_pod_decode(pod, "Pod", &a.pod, NULL) < 0) {
                json_object_put(pod);
                return 0;
        }
        /* Committed: terminate the names in place (the body outlives the request). */
        for (size_t i = 0; i < n; i++)
                body[names[i] - body + lens[i]] = '\0';
        if (!names) {
                names = calloc(1, sizeof(*names));
                if (!names) {
                        json_object_put(pod);
                        return -ENOMEM;
                }
        }
        a.node_names = TAKE_PTR(names);
        a.root = pod;
        *ret = a;
        return 1;
}

/* ---------- the Nodes-mode path ----------
 *
 * Without nodeCacheCapable, kube-scheduler sends every candidate as a full v1.Node (about 6 KiB
 * each: 29 MB at 5,000 nodes). As one json-c tree that body takes 9 times its size; here each
 * item is parsed alone (api_parse(), so with the same UTF-8 and size checks), its name copied,
 * and its text kept for the echo in the answer: the body plus one node's tree. Returns 1 and
 * fills *ret, 0 when the body is not {"Pod": {...}, "Nodes": {..., "items": [...]},
 * "NodeNames": null} (then the generic path answers), or a negative errno with *err naming the
 * field. */

/* Skips one JSON value (object, array, string or literal) at s->p; json-c validates it later. */
static bool scan_skip_value(struct scan *s)
{
        scan_ws(s);
        if (s->p >= s->end)
                return false;
        if (*s->p == '{' || *s->p == '[')
                return scan_skip_container(s, 63);
        if (*s->p == '"') {
                s->p++;
                return scan_skip_string_rest(s);
        }
        const char *start = s->p;
        while (s->p < s->end &&
               (isalnum((unsigned char)*s->p) || *s->p == '-' || *s->p == '+' || *s->p == '.'))
                s->p++;
        return s->p > start;
}

/* A key: a plain string (escaped keys go to the generic path). */
static bool scan_key(struct scan *s, const char **ret, size_t *ret_len)
{
        return scan_plain_string(s, ret, ret_len) && scan_char(s, ':');
}

/* Prefixes err's field with the item's path. */
static int item_error(struct api_error *err, int r, size_t i)
{
        char field[API_FIELD_MAX], ipath[API_FIELD_MAX];
        api_path_index(ipath, "Nodes.items", i);
        if (err) {
                api_path(field, ipath, err->field);
                if (!err->field[0])
                        snprintf(field, sizeof(field), "%s", ipath);
                memcpy(err->field, field, sizeof(field));
        }
        return r;
}

int extender_args_parse_nodes(const char *body, size_t size, struct extender_args *ret,
                              struct api_error *err)
{
        /* body + size is not computed for a NULL body (a POST without one). */
        struct scan s = { .p = body, .end = body ? body + size : body };
        const char *pod_start = NULL, *pod_end = NULL;
        bool have_nodes = false, have_names = false;
        _cleanup_free_ struct extender_node_text *items = NULL;
        _cleanup_free_ size_t *name_at = NULL;
        struct api_buf names = {};
        size_t n = 0, cap = 0;
        int r = 0;

        if (!body || size > INT32_MAX || !scan_char(&s, '{'))
                return 0;
        do {
                const char *k;
                size_t kn;
                if (!scan_key(&s, &k, &kn))
                        goto not_ours;
                if (key_is(k, kn, "Pod") && !pod_start) {
                        scan_ws(&s);
                        pod_start = s.p;
                        if (!scan_skip_object(&s, 63))
                                goto not_ours;
                        pod_end = s.p;
                } else if (key_is(k, kn, "NodeNames") && !have_names) {
                        scan_ws(&s);
                        if (s.end - s.p < 4 || memcmp(s.p, "null", 4) != 0)
                                goto not_ours;
                        s.p += 4;
                        have_names = true;
                } else if (key_is(k, kn, "Nodes") && !have_nodes) {
                        bool have_items = false;
                        have_nodes = true;
                        if (!scan_char(&s, '{'))
                                goto not_ours;
                        if (scan_char(&s, '}'))
                                continue;
                        do {
                                if (!scan_key(&s, &k, &kn))
                                        goto not_ours;
                                if (!key_is(k, kn, "items") || have_items) {
                                        if (!scan_skip_value(&s))
                                                goto not_ours;
                                        continue;
                                }
                                have_items = true;
                                if (!scan_char(&s, '['))
                                        goto not_ours;
                                if (scan_char(&s, ']'))
                                        continue;
                                do {
                                        scan_ws(&s);
                                        const char *start = s.p;
                                        if (!scan_skip_object(&s, 62))
                                                goto not_ours;
                                        if (n == EXTENDER_NODES_MAX) {
                                                r = api_error_set(err, -E2BIG, "Nodes.items",
                                                                  "more than %d nodes",
                                                                  EXTENDER_NODES_MAX);
                                                goto fail;
                                        }
                                        if (n == cap) {
                                                size_t c = cap ? cap * 2 : 256;
                                                void *a = realloc(items, c * sizeof(*items));
                                                if (!a)
                                                        goto oom;
                                                items = a;
                                                a = realloc(name_at, c * sizeof(*name_at));
                                                if (!a)
                                                        goto oom;
                                                name_at = a;
                                                cap = c;
                                        }
                                        items[n] = (struct extender_node_text){
                                                .json = start, .len = (size_t)(s.p - start)
                                        };
                                        n++;
                                } while (scan_char(&s, ','));
                                if (!scan_char(&s, ']'))
                                        goto not_ours;
                        } while (scan_char(&s, ','));
                        if (!scan_char(&s, '}'))
                                goto not_ours;
                } else
                        goto not_ours;
        } while (scan_char(&s, ','));
        if (!scan_char(&s, '}'))
                goto not_ours;
        scan_ws(&s);
        if (s.p != s.end || !pod_start || !have_nodes)
                goto not_ours;

        /* The shape is ours: from here on errors are answers. */
        struct extender_args a = { .node_cache_capable = false, .n_nodes = n };
        struct json_object *pod = NULL;
        r = api_parse(pod_start, (size_t)(pod_end - pod_start), &pod, err);
        if (r < 0) {
                if (err && err->field[0]) {
                        char f[API_FIELD_MAX];
                        api_path(f, "Pod", err->field);
                        memcpy(err->field, f, sizeof(f));
                }
                goto fail;
        }
        r = k8s_pod_decode(pod, "Pod", &a.pod, err);
        if (r < 0) {
                json_object_put(pod);
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ struct json_object *node = NULL;
                struct json_object *meta = NULL;
                const char *name = NULL;
                r = api_parse(items[i].json, items[i].len, &node, err);
                if (r >= 0)
                        r = api_get_object(node, "", "metadata", true, false, &meta, err);
                if (r >= 0)
                        r = api_get_string(meta, "metadata", "name", true, false, &name, err);
                if (r < 0) {
                        json_object_put(pod);
                        r = item_error(err, r, i);
                        goto fail;
                }
                name_at[i] = names.len;
                api_buf_append(&names, name, strlen(name) + 1);
        }
        if (names.oom) {
                json_object_put(pod);
                goto oom;
        }
        a.node_names = calloc(n ? n : 1, sizeof(*a.node_names));
        if (!a.node_names) {
                json_object_put(pod);
                goto oom;
        }
        for (size_t i = 0; i < n; i++)
                a.node_names[i] = names.data + name_at[i];
        a.name_arena = names.data;
        a.node_texts = TAKE_PTR(items);
        if (!a.node_texts) {
                a.node_texts = calloc(1, sizeof(*a.node_texts));
                if (!a.node_texts) {
                        free(a.node_names);
                        json_object_put(pod);
                        goto oom;
                }
        }
        a.root = pod;
        *ret = a;
        return 1;

oom:
        r = -ENOMEM;
fail:
        free(names.data);
        return r;
not_ours:
        free(names.data);
        return 0;
}
