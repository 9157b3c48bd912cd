// SPDX-License-Identifier: Apache-2.0
#include "api/migration.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[_MIGRATION_STATE_MAX] = {
        [MIGRATION_PLANNED] = "planned",
        [MIGRATION_BOUND] = "bound",
        [MIGRATION_EXPIRED] = "expired",
        [MIGRATION_CANCELLED] = "cancelled",
};

const char *migration_state_to_string(enum migration_state s)
{
        return (unsigned)s < _MIGRATION_STATE_MAX ? state_names[s] : "unknown";
}

int migration_state_from_string(const char *s)
{
        for (int i = 0; i < _MIGRATION_STATE_MAX; i++)
                if (strcmp(s, state_names[i]) == 0)
                        return i;
        return -EINVAL;
}

void migration_done(struct migration *m)
{
        if (!m)
                return;
        free(m->id);
        free(m->source_node);
        free(m->target_node);
        free(m->pod_uid);
        free(m->pod_name);
        free(m->pod_namespace);
        free(m->owner_uid);
        free(m->reason);
        free(m->replacement_pod);
        free(m->step);
        free(m->step_message);
        *m = (struct migration){};
}

static struct json_object *str_or_null(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

struct json_object *migration_encode(const struct migration *m)
{
        struct json_object *o = json_object_new_object(), *pod = json_object_new_object();
        api_add(o, "id", json_object_new_string(m->id));
        api_add(o, "state", json_object_new_string(migration_state_to_string(m->state)));
        api_add(o, "source_node", json_object_new_string(m->source_node));
        api_add(o, "target_node", json_object_new_string(m->target_node));
        api_add(pod, "uid", json_object_new_string(m->pod_uid));
        api_add(pod, "name", str_or_null(m->pod_name));
        api_add(pod, "namespace", str_or_null(m->pod_namespace));
        api_add(pod, "owner_uid", str_or_null(m->owner_uid));
        api_add(pod, "qos", json_object_new_string(qos_to_string(m->qos)));
        api_add(pod, "working_set_bytes", json_object_new_uint64(m->working_set_bytes));
        api_add(o, "pod", pod);
        api_add(o, "reservation_bytes", json_object_new_uint64(m->reservation_bytes));
        api_add(o, "target_numa_zone",
                m->target_numa_zone >= 0 ? json_object_new_int(m->target_numa_zone) : NULL);
        api_add(o, "reason", json_object_new_string(m->reason ? m->reason : ""));
        api_add(o, "created_at_usec", json_object_new_uint64(m->created_at_usec));
        api_add(o, "expires_at_usec", json_object_new_uint64(m->expires_at_usec));
        api_add(o, "replacement_pod", str_or_null(m->replacement_pod));
        api_add(o, "step", str_or_null(m->step));
        api_add(o, "step_message", str_or_null(m->step_message));
        api_add(o, "eviction_attempts", json_object_new_uint64(m->eviction_attempts));
        api_add(o, "evicted_at_usec",
                m->evicted_at_usec ? json_object_new_uint64(m->evicted_at_usec) : NULL);
        return o;
}

int migration_decode(const struct json_object *o, const char *path, struct migration *ret,
                     struct api_error *err)
{
        _cleanup_(migration_done) struct migration m = { .target_numa_zone = -1 };
        struct json_object *pod = NULL;
        char ppath[API_FIELD_MAX];
        int state = 0, qos = 0, r;
        int64_t zone = -1;
        uint64_t attempts = 0;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "must be an object");
        api_path(ppath, path, "pod");
        if ((r = api_get_strdup(o, path, "id", true, &m.id, err)) < 0 ||
            (r = api_get_enum(o, path, "state", true, migration_state_from_string, &state, err)) <
                0 ||
            (r = api_get_strdup(o, path, "source_node", true, &m.source_node, err)) < 0 ||
            (r = api_get_strdup(o, path, "target_node", true, &m.target_node, err)) < 0 ||
            (r = api_get_object(o, path, "pod", true, false, &pod, err)) < 0 ||
            (r = api_get_strdup(pod, ppath, "uid", true, &m.pod_uid, err)) < 0 ||
            (r = api_get_strdup(pod, ppath, "name", false, &m.pod_name, err)) < 0 ||
            (r = api_get_strdup(pod, ppath, "namespace", false, &m.pod_namespace, err)) < 0 ||
            (r = api_get_strdup(pod, ppath, "owner_uid", false, &m.owner_uid, err)) < 0 ||
            (r = api_get_enum(pod, ppath, "qos", true, qos_from_string, &qos, err)) < 0 ||
            (r = api_get_u64(pod, ppath, "working_set_bytes", true, INT64_MAX, &m.working_set_bytes,
                             err)) < 0 ||
            (r = api_get_u64(o, path, "reservation_bytes", true, INT64_MAX, &m.reservation_bytes,
                             err)) < 0 ||
            (r = api_get_i64(o, path, "target_numa_zone", false, 0, API_NUMA_ZONES_MAX - 1, &zone,
                             err)) < 0 ||
            (r = api_get_strdup(o, path, "reason", true, &m.reason, err)) < 0 ||
            (r = api_get_u64(o, path, "created_at_usec", true, UINT64_MAX, &m.created_at_usec,
                             err)) < 0 ||
            (r = api_get_u64(o, path, "expires_at_usec", true, UINT64_MAX, &m.expires_at_usec,
                             err)) < 0 ||
            (r = api_get_strdup(o, path, "replacement_pod", false, &m.replacement_pod, err)) < 0 ||
            (r = api_get_strdup(o, path, "step", false, &m.step, err)) < 0 ||
            (r = api_get_strdup(o, path, "step_message", false, &m.step_message, err)) < 0 ||
            (r = api_get_u64(o, path, "eviction_attempts", false, UINT32_MAX, &attempts, err)) <
                0 ||
            (r = api_get_u64(o, path, "evicted_at_usec", false, UINT64_MAX, &m.evicted_at_usec,
                             err)) < 0)
                return r;
        m.eviction_attempts = (uint32_t)attempts;
        m.state = (enum migration_state)state;
        m.qos = (enum qos_class)qos;
        m.target_numa_zone = (int32_t)zone;
        *ret = m;
        m = (struct migration){};
        return 0;
}

static int dup_opt(const char *s, char **ret)
{
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

int migration_copy(const struct migration *src, struct migration *ret)
{
        _cleanup_(migration_done) struct migration m = *src;
        m.id = m.source_node = m.target_node = m.pod_uid = m.pod_name = m.pod_namespace =
            m.owner_uid = m.reason = m.replacement_pod = m.step = m.step_message = NULL;
        if (dup_opt(src->id, &m.id) < 0 || dup_opt(src->source_node, &m.source_node) < 0 ||
            dup_opt(src->target_node, &m.target_node) < 0 ||
            dup_opt(src->pod_uid, &m.pod_uid) < 0 || dup_opt(src->pod_name, &m.pod_name) < 0 ||
            dup_opt(src->pod_namespace, &m.pod_namespace) < 0 ||
            dup_opt(src->owner_uid, &m.owner_uid) < 0 || dup_opt(src->reason, &m.reason) < 0 ||
            dup_opt(src->replacement_pod, &m.replacement_pod) < 0 ||
            dup_opt(src->step, &m.step) < 0 || dup_opt(src->step_message, &m.step_message) < 0)
                return -ENOMEM;
        *ret = m;
        m = (struct migration){};
        return 0;
}

struct json_object *migration_list_encode(const struct migration *list, size_t n)
{
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, migration_encode(&list[i]));
        api_add(o, "migrations", a);
        return o;
}

void migration_list_free(struct migration *list, size_t n)
{
        for (size_t i = 0; list && i < n; i++)
                migration_done(&list[i]);
        free(list);
}

int migration_list_decode(const struct json_object *o, struct migration **ret_list, size_t *ret_n,
                          struct api_error *err)
{
        struct json_object *a = NULL;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, "", "must be a JSON object (migration list)");
        if ((r = api_get_array(o, "", "migrations", true, false, &a, err)) < 0)
                return r;
        size_t n = json_object_array_length(a);
        struct migration *l = calloc(n ? n : 1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char path[API_FIELD_MAX];
                api_path_index(path, "migrations", i);
                r = migration_decode(json_object_array_get_idx(a, i), path, &l[i], err);
                if (r < 0) {
                        migration_list_free(l, i);
                        return r;
                }
        }
        *ret_list = l;
        *ret_n = n;
        return 0;
}
