// SPDX-License-Identifier: Apache-2.0
#include "api/kube/bodies.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/codec.h"
#include "common/clock.h"

static bool empty(const char *s)
{
        return !s || !*s;
}

/* Serialises and drops o: the one exit of every encoder. */
static int finish(struct json_object *o, char **ret)
{
        if (!o)
                return -ENOMEM;
        char *s = api_to_string(o, NULL);
        json_object_put(o);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int kube_eviction_body(const char *namespace_, const char *name, const char *uid,
                       int64_t grace_period_sec, char **ret)
{
        if (empty(namespace_) || empty(name) || empty(uid))
                return -EINVAL;
        struct json_object *o = json_object_new_object();
        struct json_object *meta = json_object_new_object();
        struct json_object *del = json_object_new_object();
        struct json_object *pre = json_object_new_object();
        if (!o || !meta || !del || !pre) {
                json_object_put(o);
                json_object_put(meta);
                json_object_put(del);
                json_object_put(pre);
                return -ENOMEM;
        }
        api_add(o, "apiVersion", json_object_new_string("policy/v1"));
        api_add(o, "kind", json_object_new_string("Eviction"));
        api_add(meta, "name", json_object_new_string(name));
        api_add(meta, "namespace", json_object_new_string(namespace_));
        api_add(o, "metadata", meta);
        api_add(pre, "uid", json_object_new_string(uid));
        api_add(del, "preconditions", pre);
        if (grace_period_sec >= 0)
                api_add(del, "gracePeriodSeconds", json_object_new_int64(grace_period_sec));
        api_add(o, "deleteOptions", del);
        return finish(o, ret);
}

char *kube_format_micro_time(uint64_t realtime_usec, char buf[static 32])
{
        time_t sec = (time_t)(realtime_usec / 1000000u);
        struct tm tm;
        gmtime_r(&sec, &tm);
        size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, 32 - n, ".%06uZ", (unsigned)(realtime_usec % 1000000u));
        return buf;
}

/* The longest prefix of s of at most max bytes that ends on a UTF-8 character boundary. */
static size_t utf8_prefix(const char *s, size_t max)
{
        size_t n = strlen(s);
        if (n <= max)
                return n;
        n = max;
        /* Back off continuation bytes (10xxxxxx) so the cut is before a lead byte. */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
                n--;
        return n;
}

int kube_event_body(const struct kube_event *ev, char **ret)
{
        char when[32], gen[256];

        if (!ev || empty(ev->namespace_) || empty(ev->pod_name) || empty(ev->pod_uid) ||
            empty(ev->reporting_instance) || empty(ev->action) || empty(ev->reason) ||
            strlen(ev->action) > KUBE_EVENT_ACTION_MAX ||
            strlen(ev->reason) > KUBE_EVENT_ACTION_MAX)
                return -EINVAL;
        struct json_object *o = json_object_new_object();
        struct json_object *meta = json_object_new_object();
        struct json_object *reg = json_object_new_object();
        if (!o || !meta || !reg) {
                json_object_put(o);
                json_object_put(meta);
                json_object_put(reg);
                return -ENOMEM;
        }
        api_add(o, "apiVersion", json_object_new_string("events.k8s.io/v1"));
        api_add(o, "kind", json_object_new_string("Event"));
        if (!empty(ev->name))
                api_add(meta, "name", json_object_new_string(ev->name));
        else {
                /* As client-go's recorder names them: "<object>.<suffix>". */
                snprintf(gen, sizeof(gen), "%.200s.", ev->pod_name);
                api_add(meta, "generateName", json_object_new_string(gen));
        }
        api_add(meta, "namespace", json_object_new_string(ev->namespace_));
        api_add(o, "metadata", meta);
        api_add(o, "eventTime",
                json_object_new_string(kube_format_micro_time(
                    ev->event_time_usec ? ev->event_time_usec : now_usec(CLOCK_REALTIME), when)));
        api_add(o, "reportingController",
                json_object_new_string(empty(ev->reporting_controller) ? KUBE_REPORTING_CONTROLLER
                                                                       : ev->reporting_controller));
        api_add(o, "reportingInstance", json_object_new_string(ev->reporting_instance));
        api_add(o, "action", json_object_new_string(ev->action));
        api_add(o, "reason", json_object_new_string(ev->reason));
        if (!empty(ev->note))
                api_add(o, "note",
                        json_object_new_string_len(
                            ev->note, (int)utf8_prefix(ev->note, KUBE_EVENT_NOTE_MAX)));
        api_add(o, "type", json_object_new_string(ev->warning ? "Warning" : "Normal"));
        api_add(reg, "apiVersion", json_object_new_string("v1"));
        api_add(reg, "kind", json_object_new_string("Pod"));
        api_add(reg, "namespace", json_object_new_string(ev->namespace_));
        api_add(reg, "name", json_object_new_string(ev->pod_name));
        api_add(reg, "uid", json_object_new_string(ev->pod_uid));
        api_add(o, "regarding", reg);
        return finish(o, ret);
}

int kube_resize_memory_patch(const char *container, uint64_t limit_bytes, char **ret)
{
        char qty[32];

        if (empty(container))
                return -EINVAL;
        struct json_object *o = json_object_new_object();
        struct json_object *spec = json_object_new_object();
        struct json_object *ctrs = json_object_new_array();
        struct json_object *c = json_object_new_object();
        struct json_object *res = json_object_new_object();
        struct json_object *lim = json_object_new_object();
        if (!o || !spec || !ctrs || !c || !res || !lim) {
                json_object_put(o);
                json_object_put(spec);
                json_object_put(ctrs);
                json_object_put(c);
                json_object_put(res);
                json_object_put(lim);
                return -ENOMEM;
        }
        snprintf(qty, sizeof(qty), "%llu", (unsigned long long)limit_bytes);
        api_add(lim, "memory", json_object_new_string(qty));
        api_add(res, "limits", lim);
        /* "name" is the merge key of spec.containers in a strategic merge patch. */
        api_add(c, "name", json_object_new_string(container));
        api_add(c, "resources", res);
        json_object_array_add(ctrs, c);
        api_add(spec, "containers", ctrs);
        api_add(o, "spec", spec);
        return finish(o, ret);
}
