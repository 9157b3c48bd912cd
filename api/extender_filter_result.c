// SPDX-License-Identifier: Apache-2.0
// ExtenderFilterResult: the answer to a filter call.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/extender.h"

static struct json_object *failed_map(const struct extender_failed_node *f, size_t n)
{
        struct json_object *m = json_object_new_object();
        for (size_t i = 0; m && i < n; i++)
                api_add(m, f[i].node, json_object_new_string(f[i].reason));
        return m;
}

struct json_object *extender_filter_result_encode(const struct extender_filter_result *r)
{
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        if (r->node_cache_capable) {
                struct json_object *a = json_object_new_array_ext((int)r->n_nodes);
                for (size_t i = 0; i < r->n_nodes; i++)
                        json_object_array_add(a, json_object_new_string(r->node_names[i]));
                api_add(o, "Nodes", NULL);
                api_add(o, "NodeNames", a);
        } else {
                struct json_object *list = json_object_new_object();
                struct json_object *items = json_object_new_array_ext((int)r->n_nodes);
                for (size_t i = 0; i < r->n_nodes; i++)
                        json_object_array_add(items, json_object_get(r->nodes[i]));
                api_add(list, "metadata", json_object_new_object());
                api_add(list, "items", items);
                api_add(o, "Nodes", list);
                api_add(o, "NodeNames", NULL);
        }
        api_add(o, "FailedNodes", failed_map(r->failed, r->n_failed));
        api_add(o, "FailedAndUnresolvableNodes", failed_map(r->unresolvable, r->n_unresolvable));
        api_add(o, "Error", json_object_new_string(r->error ? r->error : ""));
        return o;
}

void extender_filter_writer_init(struct extender_filter_writer *w, bool node_cache_capable,
                                 size_t n_hint)
{
        *w = (struct extender_filter_writer){ .node_cache_capable = node_cache_capable };
        /* Passing names are most of a names-mode answer; reasons are ~60 bytes. */
        if (node_cache_capable)
                api_buf_reserve(&w->pass, 64 + n_hint * 24);
}

void extender_filter_writer_pass(struct extender_filter_writer *w, const char *name,
                                 struct json_object *node)
{
        if (w->n_pass++)
                api_buf_append(&w->pass, ",", 1);
        if (w->node_cache_capable)
                api_buf_json_string(&w->pass, name);
        else
                api_buf_json(&w->pass, node);
}

void extender_filter_writer_pass_text(struct extender_filter_writer *w, const char *json,
                                      size_t len)
{
        if (w->n_pass++)
                api_buf_append(&w->pass, ",", 1);
        api_buf_append(&w->pass, json, len);
}

static void add_failed(struct api_buf *b, size_t *n, const char *node, const char *reason)
{
        if ((*n)++)
                api_buf_append(b, ",", 1);
        api_buf_json_string(b, node);
        api_buf_append(b, ":", 1);
        api_buf_json_string(b, reason);
}

void extender_filter_writer_failed(struct extender_filter_writer *w, const char *node,
                                   const char *reason)
{
        add_failed(&w->failed, &w->n_failed, node, reason);
}

void extender_filter_writer_unresolvable(struct extender_filter_writer *w, const char *node,
                                         const char *reason)
{
        add_failed(&w->unresolvable, &w->n_unresolvable, node, reason);
}

static void append_buf(struct api_buf *dst, const struct api_buf *src)
{
        if (src->oom)
                dst->oom = true;
        else if (src->len)
                api_buf_append(dst, src->data, src->len);
}

void extender_filter_writer_done(struct extender_filter_writer *w)
{
        free(w->pass.data);
        free(w->failed.data);
        free(w->unresolvable.data);
        *w = (struct extender_filter_writer){};
}

int extender_filter_writer_finish(struct extender_filter_writer *w, const char *error, char **ret,
                                  size_t *ret_size)
{
        struct api_buf b = {};

        api_buf_reserve(&b, 160 + w->pass.len + w->failed.len + w->unresolvable.len);
        if (w->node_cache_capable) {
                api_buf_puts(&b, "{\"Nodes\":null,\"NodeNames\":[");
                append_buf(&b, &w->pass);
                api_buf_puts(&b, "]");
        } else {
                api_buf_puts(&b, "{\"Nodes\":{\"metadata\":{},\"items\":[");
                append_buf(&b, &w->pass);
                api_buf_puts(&b, "]},\"NodeNames\":null");
        }
        api_buf_puts(&b, ",\"FailedNodes\":{");
        append_buf(&b, &w->failed);
        api_buf_puts(&b, "},\"FailedAndUnresolvableNodes\":{");
        append_buf(&b, &w->unresolvable);
        api_buf_puts(&b, "},\"Error\":");
        api_buf_json_string(&b, error ? error : "");
        api_buf_puts(&b, "}");
        extender_filter_writer_done(w);
        return api_buf_finish(&b, ret, ret_size);
}

int extender_filter_result_format(const struct extender_filter_result *r, char **ret,
                                  size_t *ret_size)
{
        struct extender_filter_writer w;

        extender_filter_writer_init(&w, r->node_cache_capable, r->n_nodes);
        for (size_t i = 0; i < r->n_nodes; i++)
                extender_filter_writer_pass(&w, r->node_names ? r->node_names[i] : NULL,
                                            r->nodes ? r->nodes[i] : NULL);
        for (size_t i = 0; i < r->n_failed; i++)
                extender_filter_writer_failed(&w, r->failed[i].node, r->failed[i].reason);
        for (size_t i = 0; i < r->n_unresolvable; i++)
                extender_filter_writer_unresolvable(&w, r->unresolvable[i].node,
                                                    r->unresolvable[i].reason);
        return extender_filter_writer_finish(&w, r->error, ret, ret_size);
}

void extender_filter_result_done(struct extender_filter_result *r)
{
        if (!r)
                return;
        free(r->node_names);
        free(r->nodes);
        free(r->failed);
        free(r->unresolvable);
        if (r->root)
                json_object_put(r->root);
        *r = (struct extender_filter_result){};
}

static int decode_failed(const struct json_object *root, const char *key,
                         struct extender_failed_node **ret, size_t *ret_n, struct api_error *err)
{
        struct json_object *m = NULL;
        char field[API_FIELD_MAX];
        int r = api_get_object(root, "", key, false, true, &m, err);
        if (r < 0)
                return r;
        size_t n = m ? (size_t)json_object_object_length(m) : 0, i = 0;
        struct extender_failed_node *f = calloc(n ? n : 1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        if (m) {
                json_object_object_foreach(m, k, v)
                {
                        if (!json_object_is_type(v, json_type_string)) {
                                free(f);
                                return api_error_set(err, -EINVAL, api_path(field, key, k),
                                                     "must be a string");
                        }
                        f[i].node = k;
                        r = api_string_value(v, api_path(field, key, k), &f[i].reason, err);
                        if (r < 0) {
                                free(f);
                                return r;
                        }
                        i++;
                }
        }
        *ret = f;
        *ret_n = n;
        return 0;
}

int extender_filter_result_decode(struct json_object *root, struct extender_filter_result *ret,
                                  struct api_error *err)
{
        _cleanup_(extender_filter_result_done) struct extender_filter_result res = {};
        struct json_object *names = NULL, *list = NULL, *items = NULL;
        char field[API_FIELD_MAX];
        int r;

        if (!json_object_is_type(root, json_type_object))
                return api_error_set(err, -EINVAL, "",
                                     "must be a JSON object (ExtenderFilterResult)");
        if ((r = api_get_array(root, "", "NodeNames", false, true, &names, err)) < 0 ||
            (r = api_get_object(root, "", "Nodes", false, true, &list, err)) < 0 ||
            (r = api_get_string(root, "", "Error", false, true, &res.error, err)) < 0)
                return r;
        if (!res.error)
                res.error = "";
        if (names) {
                res.node_cache_capable = true;
                res.n_nodes = json_object_array_length(names);
                res.node_names = calloc(res.n_nodes ? res.n_nodes : 1, sizeof(char *));
                if (!res.node_names)
                        return -ENOMEM;
                for (size_t i = 0; i < res.n_nodes; i++) {
                        struct json_object *v = json_object_array_get_idx(names, i);
                        if (!json_object_is_type(v, json_type_string))
                                return api_error_set(err, -EINVAL,
                                                     api_path_index(field, "NodeNames", i),
                                                     "must be a string");
                        r = api_string_value(v, api_path_index(field, "NodeNames", i),
                                             &res.node_names[i], err);
                        if (r < 0)
                                return r;
                }
        } else if (list) {
                if ((r = api_get_array(list, "Nodes", "items", false, true, &items, err)) < 0)
                        return r;
                res.n_nodes = items ? json_object_array_length(items) : 0;
                res.node_names = calloc(res.n_nodes ? res.n_nodes : 1, sizeof(char *));
                res.nodes = calloc(res.n_nodes ? res.n_nodes : 1, sizeof(*res.nodes));
                if (!res.node_names || !res.nodes)
                        return -ENOMEM;
                for (size_t i = 0; i < res.n_nodes; i++) {
                        char ipath[API_FIELD_MAX], mpath[API_FIELD_MAX];
                        struct json_object *n = json_object_array_get_idx(items, i), *meta = NULL;
                        api_path_index(ipath, "Nodes.items", i);
                        api_path(mpath, ipath, "metadata");
                        if ((r = api_get_object(n, ipath, "metadata", true, false, &meta, err)) <
                                0 ||
                            (r = api_get_string(meta, mpath, "name", true, false,
                                                &res.node_names[i], err)) < 0)
                                return r;
                        res.nodes[i] = n;
                }
        }
        if ((r = decode_failed(root, "FailedNodes", &res.failed, &res.n_failed, err)) < 0 ||
            (r = decode_failed(root, "FailedAndUnresolvableNodes", &res.unresolvable,
                               &res.n_unresolvable, err)) < 0)
                return r;
        res.root = json_object_get(root);
        *ret = res;
        res = (struct extender_filter_result){};
        return 0;
}
