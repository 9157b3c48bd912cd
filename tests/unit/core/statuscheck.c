// SPDX-License-Identifier: Apache-2.0
#include "statuscheck.h"

#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

struct json_object *jget(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;
        if (!o || !json_object_is_type(o, json_type_object))
                fail_msg("looking up \"%s\" in a non-object", key);
        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("key \"%s\" missing in %s", key,
                         json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        return v;
}

static uint64_t ju64(struct json_object *o, const char *key)
{
        struct json_object *v = jget(o, key);
        if (!json_object_is_type(v, json_type_int))
                fail_msg("\"%s\" is not an integer: %s", key, json_object_to_json_string(v));
        return json_object_get_uint64(v);
}

static void jnull(struct json_object *o, const char *key)
{
        struct json_object *v = jget(o, key);
        if (v)
                fail_msg("\"%s\" should be null, is %s", key, json_object_to_json_string(v));
}

/* "Key: N kB" in a meminfo file, in bytes. */
static uint64_t meminfo_bytes(const char *path, const char *key)
{
        char *s = tu_read(path, NULL);
        char *needle = tu_strdupf("%s:", key);
        char *p = strstr(s, needle);
        if (!p)
                fail_msg("%s: no %s", path, key);
        unsigned long long v;
        assert_int_equal(sscanf(p + strlen(needle), " %llu", &v), 1);
        free(needle);
        free(s);
        return v * 1024;
}

static void check_psi(struct json_object *psi, const char *file)
{
        char *s = tu_read(file, NULL);
        double a[2][3];
        unsigned long long t[2];
        int n = sscanf(s,
                       "some avg10=%lf avg60=%lf avg300=%lf total=%llu\n"
                       "full avg10=%lf avg60=%lf avg300=%lf total=%llu",
                       &a[0][0], &a[0][1], &a[0][2], &t[0], &a[1][0], &a[1][1], &a[1][2], &t[1]);
        assert_int_equal(n, 8);
        assert_non_null(psi);
        const char *kinds[2] = { "some", "full" };
        for (int i = 0; i < 2; i++) {
                struct json_object *k = jget(psi, kinds[i]);
                const char *avg[3] = { "avg10", "avg60", "avg300" };
                for (int j = 0; j < 3; j++) {
                        double got = json_object_get_double(jget(k, avg[j]));
                        if (fabs(got - a[i][j]) > 1e-9)
                                fail_msg("%s: %s.%s = %f, file says %f", file, kinds[i], avg[j],
                                         got, a[i][j]);
                }
                assert_int_equal(ju64(k, "total_usec"), t[i]);
        }
        free(s);
}

/* A limit: the number, or null where the file says "max". */
static void check_limit(struct json_object *mem, const char *key, const char *dir, const char *file)
{
        uint64_t v = tu_read_value(dir, file);
        if (v == UINT64_MAX)
                jnull(mem, key);
        else
                assert_int_equal(ju64(mem, key), v);
}

static unsigned n_unlimited;

static void check_cgroup(struct json_object *o, const char *cgroup_root)
{
        const char *path = json_object_get_string(jget(o, "cgroup"));
        assert_non_null(path);
        if (path[0] != '/')
                fail_msg("cgroup path \"%s\" does not start with \"/\"", path);
        char *dir = tu_strdupf("%s%s", cgroup_root, path);
        struct json_object *mem = jget(o, "memory");
        uint64_t cur = tu_read_value(dir, "memory.current");
        uint64_t inactive = tu_read_key(dir, "memory.stat", "inactive_file");
        assert_int_equal(ju64(mem, "current_bytes"), cur);
        assert_int_equal(ju64(mem, "working_set_bytes"), cur > inactive ? cur - inactive : 0);
        assert_int_equal(ju64(mem, "inactive_file_bytes"), inactive);
        assert_int_equal(ju64(mem, "anon_bytes"), tu_read_key(dir, "memory.stat", "anon"));
        check_limit(mem, "high_bytes", dir, "memory.high");
        check_limit(mem, "max_bytes", dir, "memory.max");
        check_limit(mem, "swap_max_bytes", dir, "memory.swap.max");
        assert_int_equal(ju64(mem, "min_bytes"), tu_read_value(dir, "memory.min"));
        assert_int_equal(ju64(mem, "swap_current_bytes"),
                         tu_read_value(dir, "memory.swap.current"));
        if (tu_read_value(dir, "memory.max") == UINT64_MAX)
                n_unlimited++;
        char *pf = tu_strdupf("%s/memory.pressure", dir);
        check_psi(jget(o, "psi"), pf);
        free(pf);
        struct json_object *ev = jget(o, "events");
        assert_int_equal(ju64(ev, "oom_kill"), tu_read_key(dir, "memory.events", "oom_kill"));
        assert_int_equal(ju64(ev, "high"), tu_read_key(dir, "memory.events", "high"));
        assert_int_equal(ju64(ev, "max"), tu_read_key(dir, "memory.events", "max"));
        /* A rate: present on every cgroup, null or a non-negative number. */
        struct json_object *rf = jget(o, "refault_file_per_sec");
        if (rf && (!(json_object_is_type(rf, json_type_double) ||
                     json_object_is_type(rf, json_type_int)) ||
                   json_object_get_double(rf) < 0))
                fail_msg("refault_file_per_sec is %s", json_object_to_json_string(rf));
        free(dir);
}

void check_status_json(struct json_object *doc, const char *cgroup_root, const char *proc_root,
                       const char *sys_root, size_t want_pods)
{
        char *meminfo = tu_strdupf("%s/meminfo", proc_root);
        struct json_object *node = jget(doc, "node");
        assert_int_equal(ju64(node, "memory_total_bytes"), meminfo_bytes(meminfo, "MemTotal"));
        assert_int_equal(ju64(node, "memory_available_bytes"),
                         meminfo_bytes(meminfo, "MemAvailable"));
        assert_int_equal(ju64(node, "memory_free_bytes"), meminfo_bytes(meminfo, "MemFree"));
        assert_int_equal(ju64(node, "swap_total_bytes"), meminfo_bytes(meminfo, "SwapTotal"));
        assert_int_equal(ju64(node, "swap_free_bytes"), meminfo_bytes(meminfo, "SwapFree"));
        free(meminfo);
        char *pf = tu_strdupf("%s/pressure/memory", proc_root);
        check_psi(jget(node, "psi"), pf);
        free(pf);

        struct json_object *numa = jget(node, "numa");
        assert_true(json_object_is_type(numa, json_type_array));
        size_t nz = json_object_array_length(numa);
        assert_true(nz >= 1);
        for (size_t i = 0; i < nz; i++) {
                struct json_object *z = json_object_array_get_idx(numa, i);
                uint64_t id = ju64(z, "id");
                assert_int_equal(id, i); /* sorted by id, none skipped */
                char *f =
                    tu_strdupf("%s/devices/system/node/node%" PRIu64 "/meminfo", sys_root, id);
                assert_int_equal(ju64(z, "total_bytes"), meminfo_bytes(f, "MemTotal"));
                assert_int_equal(ju64(z, "free_bytes"), meminfo_bytes(f, "MemFree"));
                free(f);
                f = tu_strdupf("%s/devices/system/node/node%" PRIu64 "/distance", sys_root, id);
                char *d = tu_read(f, NULL);
                struct json_object *dist = jget(z, "distances");
                char *p = d;
                for (size_t j = 0; j < json_object_array_length(dist); j++) {
                        long want = strtol(p, &p, 10);
                        assert_int_equal(json_object_get_int(json_object_array_get_idx(dist, j)),
                                         want);
                }
                free(d);
                free(f);
        }

        n_unlimited = 0;
        struct json_object *kp = jget(doc, "kubepods");
        assert_non_null(kp);
        check_cgroup(kp, cgroup_root);

        struct json_object *pods = jget(doc, "pods");
        assert_int_equal(json_object_array_length(pods), want_pods);
        for (size_t i = 0; i < want_pods; i++) {
                struct json_object *p = json_object_array_get_idx(pods, i);
                const char *uid = json_object_get_string(jget(p, "uid"));
                const char *qos = json_object_get_string(jget(p, "qos"));
                const char *cg = json_object_get_string(jget(p, "cgroup"));
                assert_int_equal(strlen(uid), 36);
                assert_null(strchr(uid, '_'));
                assert_true(strcmp(qos, "guaranteed") == 0 || strcmp(qos, "burstable") == 0 ||
                            strcmp(qos, "besteffort") == 0);
                /* the uid, with the driver's spelling, is in the pod's cgroup name */
                char u[64];
                snprintf(u, sizeof(u), "%s", uid);
                if (!strstr(cg, u)) {
                        for (char *c = u; *c; c++)
                                if (*c == '-')
                                        *c = '_';
                        if (!strstr(cg, u))
                                fail_msg("pod %s: cgroup %s does not carry its uid", uid, cg);
                }
                check_cgroup(p, cgroup_root);
                struct json_object *cs = jget(p, "containers");
                assert_true(json_object_array_length(cs) >= 2);
                for (size_t j = 0; j < json_object_array_length(cs); j++) {
                        struct json_object *c = json_object_array_get_idx(cs, j);
                        const char *id = json_object_get_string(jget(c, "id"));
                        const char *ccg = json_object_get_string(jget(c, "cgroup"));
                        assert_int_equal(strlen(id), 64);
                        assert_non_null(strstr(ccg, id));
                        assert_int_equal(strncmp(ccg, cg, strlen(cg)), 0);
                        assert_non_null(json_object_get_string(jget(c, "runtime")));
                        check_cgroup(c, cgroup_root);
                }
        }
        struct json_object *wls = jget(doc, "workloads");
        for (size_t i = 0; i < json_object_array_length(wls); i++) {
                struct json_object *w = json_object_array_get_idx(wls, i);
                assert_non_null(json_object_get_string(jget(w, "name")));
                check_cgroup(w, cgroup_root);
        }
        /* The capture has unlimited cgroups: the null path was exercised. */
        assert_true(n_unlimited > 0);
}
