// SPDX-License-Identifier: Apache-2.0
// The names of the balloon's and vertical scaling's units (struct elastic_unit), sized exactly in
// one block each unit owns: what they hold, where they are cut, who frees them (ASan says when a
// block leaks or is used after it was freed), and that a step labels a unit only when its names
// change and keeps the balloon's candidate buffer (a calm step allocates nothing).
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "step-world.h"

static void test_label_fields(void **state)
{
        (void)state;
        struct agent_state st;
        agent_state_init(&st);
        struct elastic_unit *u = elastic_unit_append(&st, 7);
        assert_non_null(u);
        /* unlabelled: every name reads "" */
        assert_null(u->name);
        assert_string_equal(unit_str(u->name), "");
        assert_string_equal(unit_str(u->pod_uid), "");

        assert_int_equal(elastic_unit_label(u, "pod u1 container c1", "u1", "c1", NULL), 0);
        assert_string_equal(u->name, "pod u1 container c1");
        assert_string_equal(u->pod_uid, "u1");
        assert_string_equal(u->container_id, "c1");
        assert_false(u->known);
        assert_string_equal(unit_str(u->pod_namespace), "");

        /* the API learns the pod: relabelled, the old block freed (ASan) */
        struct k8s_pod_meta meta = { .uid = "u1-api", .namespace_ = "ns", .name = "web" };
        assert_int_equal(elastic_unit_label(u, "ns/web container c1", "u1", "c1", &meta), 0);
        assert_true(u->known);
        assert_string_equal(u->name, "ns/web container c1");
        struct kube_pod_ref ref;
        elastic_unit_pod_ref(u, &ref);
        assert_string_equal(ref.namespace_, "ns");
        assert_string_equal(ref.name, "web");
        assert_string_equal(ref.uid, "u1-api");
        /* one block, sized to what it holds: the names follow each other */
        assert_ptr_equal(u->pod_uid, u->name + strlen(u->name) + 1);
        assert_ptr_equal(u->container_id, u->pod_uid + strlen(u->pod_uid) + 1);
        agent_state_done(&st);
        assert_null(st.units);
}

/* Cut where the fixed arrays they replace cut them. */
static void test_label_long_names_cut(void **state)
{
        (void)state;
        char name[300], uid[200];
        memset(name, 'n', sizeof(name) - 1), name[sizeof(name) - 1] = '\0';
        memset(uid, 'u', sizeof(uid) - 1), uid[sizeof(uid) - 1] = '\0';
        /* the API's names, as long as the pod's metadata holds them */
        struct k8s_pod_meta meta = { 0 };
        memset(meta.uid, 'u', sizeof(meta.uid) - 1);
        memset(meta.namespace_, 's', sizeof(meta.namespace_) - 1);
        memset(meta.name, 'p', sizeof(meta.name) - 1);
        struct agent_state st;
        agent_state_init(&st);
        struct elastic_unit *u = elastic_unit_append(&st, 1);
        assert_int_equal(elastic_unit_label(u, name, uid, uid, &meta), 0);
        assert_int_equal(strlen(u->name), UNIT_NAME_MAX);
        assert_int_equal(strlen(u->pod_uid), 79);
        assert_int_equal(strlen(u->container_id), 79);
        assert_int_equal(strlen(u->pod_namespace), K8S_NAMESPACE_MAX - 1);
        assert_int_equal(strlen(u->pod_name), K8S_NAME_MAX - 1);
        assert_int_equal(strlen(u->pod_api_uid), 79);
        assert_int_equal(strncmp(u->name, name, UNIT_NAME_MAX), 0);
        agent_state_done(&st);
}

/* The array grows by half, not by doubling, and keeps what it held. */
static void test_append_grows_by_half(void **state)
{
        (void)state;
        struct agent_state st;
        agent_state_init(&st);
        for (uint64_t id = 1; id <= 100; id++) {
                struct elastic_unit *u = elastic_unit_append(&st, id);
                assert_non_null(u);
                char n[32];
                snprintf(n, sizeof(n), "unit %" PRIu64, id);
                assert_int_equal(elastic_unit_label(u, n, NULL, NULL, NULL), 0);
        }
        assert_int_equal(st.n_units, 100);
        assert_int_equal(st.cap_units, 108); /* 32, 48, 72, 108 */
        assert_string_equal(st.units[41].name, "unit 42");
        agent_state_done(&st);
}

static struct node_snapshot calm(struct world *w, const struct model *m, double t)
{
        w->node.mem.total = TOTAL;
        w->node.mem.available = 900 * MiB;
        return (struct node_snapshot){
                .now_usec = (uint64_t)(t * SEC),
                .sampled = true,
                .have_node = true,
                .node = &w->node,
                .model = m,
                .elastic = true,
                .scopes[SCOPE_NODE] = { .present = true,
                                        .total_bytes = TOTAL,
                                        .available_bytes = 900 * MiB },
        };
}

/* A calm step labels nothing it labelled before (no allocation), a name longer than a label
 * holds included; a unit whose cgroup went away is dropped with its names (ASan: no leak). */
static void test_step_labels_once(void **state)
{
        struct world *w = *state;
        char long_name[150];
        memset(long_name, 'x', sizeof(long_name) - 1), long_name[sizeof(long_name) - 1] = '\0';
        struct cg_sample s = { .have = CG_HAVE(CGF_CURRENT), .current = 50 * MiB };
        struct container ctrs[] = {
                { .cg = { .path = (char *)"/kubepods/burstable/poda/c1", .id = 11, .s = s },
                  .id = "c1" },
                { .cg = { .path = (char *)"/kubepods/burstable/poda/c2", .id = 12, .s = s },
                  .id = "c2" },
        };
        struct pod pods[] = { { .cg = { .path = (char *)"/kubepods/burstable/poda", .id = 10 },
                                .uid = "a",
                                .qos = QOS_BURSTABLE,
                                .containers = ctrs,
                                .n_containers = 2 } };
        struct workload wl = { .cg = { .path = (char *)"/system.slice/x", .id = 20, .s = s },
                               .name = long_name,
                               .qos = QOS_BURSTABLE };
        struct model m = { .pods = pods, .n_pods = 1, .workloads = &wl, .n_workloads = 1 };

        struct node_snapshot snap = calm(w, &m, 1);
        assert_int_equal(agent_step(&snap, &w->st, &w->p, &w->out), 0);
        assert_int_equal(w->st.n_units, 3);
        const char *names[3];
        for (size_t i = 0; i < 3; i++)
                names[i] = w->st.units[i].name;
        /* sorted by id: c1, c2, the workload */
        assert_string_equal(names[0], "pod a container c1");
        assert_string_equal(w->st.units[1].container_id, "c2");
        assert_int_equal(strlen(names[2]), UNIT_NAME_MAX);

        /* the balloon's candidates of a step: one buffer, kept */
        const struct balloon_cand *cands = w->st.balloon_cands;
        assert_non_null(cands);
        assert_int_equal(w->st.cap_balloon_cands, 3);

        snap = calm(w, &m, 2);
        assert_int_equal(agent_step(&snap, &w->st, &w->p, &w->out), 0);
        for (size_t i = 0; i < 3; i++)
                assert_ptr_equal(w->st.units[i].name, names[i]);
        assert_ptr_equal(w->st.balloon_cands, cands);

        pods[0].n_containers = 1; /* c2 went away */
        snap = calm(w, &m, 3);
        assert_int_equal(agent_step(&snap, &w->st, &w->p, &w->out), 0);
        assert_int_equal(w->st.n_units, 2);
        assert_ptr_equal(w->st.units[0].name, names[0]);
        assert_ptr_equal(w->st.units[1].name, names[2]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_label_fields),
                cmocka_unit_test(test_label_long_names_cut),
                cmocka_unit_test(test_append_grows_by_half),
                cmocka_unit_test_setup_teardown(test_step_labels_once, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
