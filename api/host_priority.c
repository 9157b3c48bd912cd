// SPDX-License-Identifier: Apache-2.0
// HostPriorityList: the answer to a prioritize call, [{"Host": name, "Score": 0..10}].
#include <errno.h>
#include <stdlib.h>

#include "api/extender.h"

struct json_object *host_priority_list_encode(const struct host_priority *list, size_t n)
{
        struct json_object *a = json_object_new_array_ext((int)n);
        for (size_t i = 0; a && i < n; i++) {
                struct json_object *o = json_object_new_object();
                api_add(o, "Host", json_object_new_string(list[i].host));
                api_add(o, "Score", json_object_new_int64(list[i].score));
                json_object_array_add(a, o);
        }
        return a;
}

int host_priority_list_format(const struct host_priority *list, size_t n, char **ret,
                              size_t *ret_size)
{
        struct api_buf b = {};
        /* {"Host":"<name>","Score":10}, with names of node-00000 length: one allocation. */
        api_buf_reserve(&b, 2 + n * 40);
        api_buf_append(&b, "[", 1);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        api_buf_append(&b, ",{\"Host\":", 9);
                else
                        api_buf_append(&b, "{\"Host\":", 8);
                api_buf_json_string(&b, list[i].host);
                api_buf_append(&b, ",\"Score\":", 9);
                api_buf_i64(&b, list[i].score);
                api_buf_append(&b, "}", 1);
        }
        api_buf_append(&b, "]", 1);
        return api_buf_finish(&b, ret, ret_size);
}

int host_priority_list_decode(const struct json_object *root, struct host_priority **ret_list,
                              size_t *ret_n, struct api_error *err)
{
        char field[API_FIELD_MAX];
        int64_t score;
        int r;

        if (!json_object_is_type(root, json_type_array))
                return api_error_set(err, -EINVAL, "", "must be a JSON array (HostPriorityList)");
        size_t n = json_object_array_length(root);
        struct host_priority *l = calloc(n ? n : 1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(root, i);
                api_path_index(field, "", i);
                if (!json_object_is_type(o, json_type_object)) {
                        free(l);
                        return api_error_set(err, -EINVAL, field, "must be an object");
                }
                if ((r = api_get_string(o, field, "Host", true, true, &l[i].host, err)) < 0 ||
                    (r = api_get_i64(o, field, "Score", true, EXTENDER_SCORE_MIN,
                                     EXTENDER_SCORE_MAX, &score, err)) < 0) {
                        free(l);
                        return r;
                }
                l[i].score = score;
        }
        *ret_list = l;
        *ret_n = n;
        return 0;
}
