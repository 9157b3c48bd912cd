// SPDX-License-Identifier: Apache-2.0
// node_sample() and `status` (JSON and table) over the guest capture: the JSON contract keys
// with the fixture files' numbers, and the table's aligned rows in IEC units.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/kernel/model.h"
#include "agent/kernel/node.h"
#include "agent/kernel/status.h"
#include "common/quantity.h"
#include "statuscheck.h"
#include "testutil.h"

#define SCRATCH 65536

static const struct workload_root system_slice[] = { { "/system.slice", QOS_BURSTABLE } };

struct snap {
        char *cg, *proc, *sys;
        int cg_fd, proc_fd, sys_fd;
        struct node_sample ns;
        struct model m;
        char *scratch;
};

static int open_dir(const char *p)
{
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                fail_msg("open %s: %s", p, strerror(errno));
        return fd;
}

static void snap_take(struct snap *s, const char *driver)
{
        s->cg = tu_guest_fixture(driver);
        s->proc = tu_guest_fixture("proc");
        s->sys = tu_guest_fixture("sys");
        s->cg_fd = open_dir(s->cg);
        s->proc_fd = open_dir(s->proc);
        s->sys_fd = open_dir(s->sys);
        s->scratch = malloc(SCRATCH);
        assert_int_equal(node_sample(s->proc_fd, s->sys_fd, &s->ns, s->scratch, SCRATCH), 0);
        assert_int_equal(model_discover(&s->m, s->cg_fd, system_slice, 1), 0);
        assert_int_equal(model_sample(&s->m, s->scratch, SCRATCH), model_count(&s->m));
}

static void snap_done(struct snap *s)
{
        model_done(&s->m);
        close(s->cg_fd);
        close(s->proc_fd);
        close(s->sys_fd);
        free(s->cg);
        free(s->proc);
        free(s->sys);
        free(s->scratch);
}

static void test_node_sample(void **state)
{
        (void)state;
        struct snap s;
        snap_take(&s, "systemd");
        char *mp = tu_strdupf("%s/meminfo", s.proc);
        char *mi = tu_read(mp, NULL);
        free(mp);
        unsigned long long total;
        assert_int_equal(sscanf(strstr(mi, "MemTotal:"), "MemTotal: %llu kB", &total), 1);
        assert_int_equal(s.ns.mem.total, total * 1024);
        assert_true(s.ns.mem.has_available);
        assert_true(s.ns.has_psi);
        assert_int_equal(s.ns.n_zones, 2);
        for (unsigned i = 0; i < 2; i++) {
                assert_int_equal(s.ns.zones[i].id, i);
                assert_int_equal(s.ns.zones[i].n_distance, 2);
                assert_int_equal(s.ns.zones[i].distance[i], 10);
                assert_true(s.ns.zones[i].total > s.ns.zones[i].free);
        }
        assert_true(s.ns.zones[0].total + s.ns.zones[1].total <= s.ns.mem.total + (64u << 20));
        free(mi);
        snap_done(&s);
}

/* A node with more NUMA nodes than memagent tracks (20 here: each a copy of the capture's node0):
 * the NUMA_NODES_MAX lowest-numbered are kept, whatever order readdir gives, in id order. */
static void test_node_sample_many_numa_nodes(void **state)
{
        (void)state;
        char *tmp = tu_mkdtemp("numa");
        char *proc = tu_strdupf("%s/proc", tmp), *sys = tu_strdupf("%s/sys", tmp);
        char *gp = tu_guest_fixture("proc"), *gs = tu_guest_fixture("sys");
        tu_copy_tree(gp, proc);
        tu_copy_tree(gs, sys);
        char *n0 = tu_strdupf("%s/devices/system/node/node0", sys);
        /* Created from the highest id down, so that directory order is not id order. */
        for (int id = 19; id >= 2; id--) {
                char *nk = tu_strdupf("%s/devices/system/node/node%d", sys, id);
                tu_copy_tree(n0, nk);
                free(nk);
        }
        int pfd = open_dir(proc), sfd = open_dir(sys);
        char *scratch = malloc(SCRATCH);
        struct node_sample ns;
        assert_int_equal(node_sample(pfd, sfd, &ns, scratch, SCRATCH), 0);
        assert_int_equal(ns.n_zones, NUMA_NODES_MAX);
        for (unsigned i = 0; i < ns.n_zones; i++)
                assert_int_equal(ns.zones[i].id, i);
        close(pfd);
        close(sfd);
        free(scratch);
        free(n0);
        free(gp);
        free(gs);
        free(proc);
        free(sys);
        tu_rm_rf(tmp);
        free(tmp);
}

/* A proc root whose meminfo is damaged (copied from the capture, then cut or garbled): the
 * node sample fails with -EBADMSG; PSI or NUMA trouble only loses that part. */
static void test_node_sample_damaged(void **state)
{
        (void)state;
        char *tmp = tu_mkdtemp("node");
        char *proc = tu_strdupf("%s/proc", tmp), *sys = tu_strdupf("%s/sys", tmp);
        char *gp = tu_guest_fixture("proc"), *gs = tu_guest_fixture("sys");
        tu_copy_tree(gp, proc);
        tu_copy_tree(gs, sys);
        free(gp);
        free(gs);
        int pfd = open_dir(proc), sfd = open_dir(sys);
        char *scratch = malloc(SCRATCH);
        struct node_sample ns;
        char *mpath = tu_strdupf("%s/meminfo", proc);
        size_t len;
        char *orig = tu_read(mpath, &len);

        tu_write(mpath, orig, 40); /* cut mid-line */
        assert_int_equal(node_sample(pfd, sfd, &ns, scratch, SCRATCH), -EBADMSG);
        char *n0p = tu_strdupf("%s/devices/system/node/node0/meminfo", sys);
        char *n0 = tu_read(n0p, NULL);
        free(n0p);
        tu_write(mpath, n0, strlen(n0)); /* per-node format: no MemAvailable */
        assert_int_equal(node_sample(pfd, sfd, &ns, scratch, SCRATCH), -EBADMSG);
        tu_write(mpath, orig, len);

        /* No PSI (psi=0 kernels): fine, has_psi false. */
        char *pp = tu_strdupf("%s/pressure/memory", proc);
        assert_int_equal(unlink(pp), 0);
        assert_int_equal(node_sample(pfd, sfd, &ns, scratch, SCRATCH), 0);
        assert_false(ns.has_psi);
        /* Garbled PSI: ignored with a warning, the rest is there. */
        tu_write(pp, "some avg10=x\n", 13);
        assert_int_equal(node_sample(pfd, sfd, &ns, scratch, SCRATCH), 0);
        assert_false(ns.has_psi);
        assert_true(ns.mem.total > 0);
        /* node1's meminfo truncated: node1 is skipped, node0 kept. */
        char *n1 = tu_strdupf("%s/devices/system/node/node1/meminfo", sys);
        tu_write(n1, "Node 1 MemTotal:", 16);
        assert_int_equal(node_sample(pfd, sfd, &ns, scratch, SCRATCH), 0);
        assert_int_equal(ns.n_zones, 1);
        assert_int_equal(ns.zones[0].id, 0);
        /* No NUMA directory at all (a kernel without NUMA): no zones, no error. */
        char *devices = tu_strdupf("%s/devices", sys);
        tu_rm_rf(devices);
        free(devices);
        assert_int_equal(node_sample(pfd, sfd, &ns, scratch, SCRATCH), 0);
        assert_int_equal(ns.n_zones, 0);

        close(pfd);
        close(sfd);
        tu_rm_rf(tmp);
        free(n1);
        free(pp);
        free(n0);
        free(orig);
        free(mpath);
        free(scratch);
        free(proc);
        free(sys);
        free(tmp);
}

static void json_roundtrip_check(const char *driver)
{
        struct snap s;
        snap_take(&s, driver);
        struct json_object *j = status_to_json(&s.ns, &s.m);
        assert_non_null(j);
        /* What other parts read is the serialised text: check that, parsed back. */
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
        struct json_object *doc = json_tokener_parse(text);
        assert_non_null(doc);
        check_status_json(doc, s.cg, s.proc, s.sys, 4);
        const char *drv =
            json_object_get_string(jget(json_object_array_get_idx(jget(doc, "pods"), 0), "driver"));
        assert_string_equal(drv, driver);
        json_object_put(doc);
        json_object_put(j);
        snap_done(&s);
}

static void test_json_systemd(void **state)
{
        (void)state;
        json_roundtrip_check("systemd");
}

static void test_json_cgroupfs(void **state)
{
        (void)state;
        json_roundtrip_check("cgroupfs");
}

/* The refault rate needs two samples: null after the first (a one-shot read), then the
 * workingset_refault_file delta over the time between them, for the container and its pod. */
static void test_json_refault_rate(void **state)
{
        (void)state;
        char *tmp = tu_mkdtemp("refault");
        char *cg = tu_strdupf("%s/cg", tmp), *gcg = tu_guest_fixture("systemd");
        tu_copy_tree(gcg, cg);
        int fd = open_dir(cg);
        char *scratch = malloc(SCRATCH);
        struct model m;
        assert_int_equal(model_discover(&m, fd, system_slice, 1), 0);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        struct node_sample ns = { .mem.total = 1 << 30 };
        struct json_object *j = status_to_json(&ns, &m);
        struct json_object *p0 = json_object_array_get_idx(jget(j, "pods"), 0);
        struct json_object *c0 = json_object_array_get_idx(jget(p0, "containers"), 0);
        assert_null(jget(c0, "refault_file_per_sec"));
        assert_null(jget(p0, "refault_file_per_sec"));
        json_object_put(j);

        /* 5000 more file refaults in the first pod's first container (and so in the pod). */
        struct pod *pd = &m.pods[0];
        const struct cgroup *cc = &pd->containers[0].cg;
        uint64_t t1 = cc->s.time_usec, before = cc->s.stat.workingset_refault_file;
        const char *paths[2] = { cc->path, pd->cg.path };
        for (int i = 0; i < 2; i++) {
                char *f = tu_strdupf("%s%s/memory.stat", cg, paths[i]);
                char *text = tu_read(f, NULL);
                char *line = strstr(text, "\nworkingset_refault_file ");
                assert_non_null(line);
                unsigned long long v = strtoull(line + 26, NULL, 10);
                char *rest = strchr(line + 1, '\n');
                char *out = tu_strdupf("%.*sworkingset_refault_file %llu%s", (int)(line + 1 - text),
                                       text, v + 5000, rest);
                tu_write(f, out, strlen(out));
                free(out);
                free(text);
                free(f);
        }
        usleep(20000);
        assert_int_equal(model_sample(&m, scratch, SCRATCH), model_count(&m));
        cc = &m.pods[0].containers[0].cg;
        assert_int_equal(cc->s.stat.workingset_refault_file, before + 5000);
        double want = 5000.0 / ((double)(cc->s.time_usec - t1) / 1e6);
        j = status_to_json(&ns, &m);
        p0 = json_object_array_get_idx(jget(j, "pods"), 0);
        c0 = json_object_array_get_idx(jget(p0, "containers"), 0);
        struct json_object *c1 = json_object_array_get_idx(jget(p0, "containers"), 1);
        assert_true(fabs(json_object_get_double(jget(c0, "refault_file_per_sec")) - want) <
                    1e-6 * want);
        assert_true(json_object_get_double(jget(p0, "refault_file_per_sec")) > 0);
        /* A sibling with no new refaults: a rate of 0, not null. */
        assert_non_null(jget(c1, "refault_file_per_sec"));
        assert_true(json_object_get_double(jget(c1, "refault_file_per_sec")) == 0.0);
        json_object_put(j);

        /* The table shows it in the RFLT/s column. */
        char *buf = NULL;
        size_t size = 0;
        FILE *tf = open_memstream(&buf, &size);
        status_print_table(tf, &ns, &m);
        fclose(tf);
        assert_non_null(strstr(buf, "RFLT/s"));
        char cell[32];
        snprintf(cell, sizeof(cell), " %.0f ", want);
        char id[16];
        snprintf(id, sizeof(id), "%.12s", m.pods[0].containers[0].id);
        char *row = strstr(buf, id);
        assert_non_null(row);
        row[strcspn(row, "\n")] = '\0';
        if (!strstr(row, cell))
                fail_msg("no \"%s\" in row \"%s\"", cell, row);
        free(buf);

        model_done(&m);
        close(fd);
        free(scratch);
        tu_rm_rf(tmp);
        free(tmp);
        free(cg);
        free(gcg);
}

/* The PSI object's exact text (two decimals, the kernel's precision; full null without a full
 * line): scripts read it, and the node report shares its encoder (api/psi.c). */
static void test_json_psi_text(void **state)
{
        (void)state;
        struct node_sample ns = { .has_psi = true };
        struct model m = {};
        ns.mem.total = 1 << 30;
        ns.psi.some = (struct psi_line){ 1.5, 0.25, 10, 123 };
        struct json_object *j = status_to_json(&ns, &m);
        assert_non_null(j);
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        assert_non_null(strstr(text, "\"psi\":{\"some\":{\"avg10\":1.50,\"avg60\":0.25,"
                                     "\"avg300\":10.00,\"total_usec\":123},\"full\":null}"));
        json_object_put(j);
        ns.psi.has_full = true;
        ns.psi.full = (struct psi_line){ 0, 99.99, 0.1, 7 };
        j = status_to_json(&ns, &m);
        text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        assert_non_null(strstr(text, "\"full\":{\"avg10\":0.00,\"avg60\":99.99,\"avg300\":0.10,"
                                     "\"total_usec\":7}"));
        json_object_put(j);
}

/* The table: every data row as wide as the header, values in the header's columns, in IEC
 * units, pods under their QoS class. */
static void test_table(void **state)
{
        (void)state;
        struct snap s;
        snap_take(&s, "systemd");
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        status_print_table(f, &s.ns, &s.m);
        fclose(f);

        char node_total[FORMAT_BYTES_MAX];
        format_bytes_iec(s.ns.mem.total, node_total, sizeof(node_total));
        assert_non_null(strstr(buf, node_total));
        assert_non_null(strstr(buf, "numa node1"));

        char *hdr = strstr(buf, "\nQOS ");
        assert_non_null(hdr);
        hdr++;
        size_t hdr_len = strcspn(hdr, "\n");
        char *cur_col = strstr(hdr, "CURRENT"), *ws_col = strstr(hdr, "WORKSET"),
             *max_col = strstr(hdr, " MAX");
        assert_true(cur_col && ws_col && max_col);
        size_t cur_end = (size_t)(cur_col - hdr) + 7, ws_end = (size_t)(ws_col - hdr) + 7,
               max_end = (size_t)(max_col - hdr) + 4;

        size_t rows = 0;
        for (size_t i = 0; i < s.m.n_pods; i++) {
                const struct pod *p = &s.m.pods[i];
                for (size_t j = 0; j <= p->n_containers; j++) {
                        const struct cgroup *cg = j == 0 ? &p->cg : &p->containers[j - 1].cg;
                        char name[128];
                        if (j == 0)
                                snprintf(name, sizeof(name), "pod %s", p->uid);
                        else
                                snprintf(name, sizeof(name), "  %s %.12s",
                                         p->containers[j - 1].runtime, p->containers[j - 1].id);
                        char *row = strstr(buf, name);
                        if (!row)
                                fail_msg("no row for \"%s\"", name);
                        while (row > buf && row[-1] != '\n')
                                row--;
                        size_t len = strcspn(row, "\n");
                        if (len != hdr_len)
                                fail_msg("row \"%.*s\" is %zu wide, header %zu", (int)len, row, len,
                                         hdr_len);
                        if (j == 0)
                                assert_int_equal(strncmp(row, qos_to_string(p->qos),
                                                         strlen(qos_to_string(p->qos))),
                                                 0);
                        char want[FORMAT_BYTES_MAX], got[16];
                        format_bytes_iec(cg->s.current, want, sizeof(want));
                        snprintf(got, sizeof(got), "%.*s", 10, row + cur_end - 10);
                        char *g = got;
                        while (*g == ' ')
                                g++;
                        assert_string_equal(g, want);
                        assert_true(strstr(want, "iB") || strstr(want, " B"));
                        format_bytes_iec(cg->s.working_set, want, sizeof(want));
                        snprintf(got, sizeof(got), "%.*s", 10, row + ws_end - 10);
                        for (g = got; *g == ' '; g++)
                                ;
                        assert_string_equal(g, want);
                        format_bytes_iec(cg->s.max, want, sizeof(want));
                        snprintf(got, sizeof(got), "%.*s", 10, row + max_end - 10);
                        for (g = got; *g == ' '; g++)
                                ;
                        assert_string_equal(g, want); /* "max" for no limit */
                        rows++;
                }
        }
        assert_true(rows >= 12);
        /* Pods grouped by class: every guaranteed row before the first burstable one. */
        char *last_g = NULL, *first_b = strstr(buf, "\nburstable ");
        for (char *p = buf; (p = strstr(p, "\nguaranteed ")); p++)
                last_g = p;
        assert_true(last_g && first_b && last_g < first_b);
        /* workloads */
        assert_non_null(strstr(buf, "/system.slice/demo.service"));
        free(buf);
        snap_done(&s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_node_sample),
                cmocka_unit_test(test_node_sample_damaged),
                cmocka_unit_test(test_node_sample_many_numa_nodes),
                cmocka_unit_test(test_json_systemd),
                cmocka_unit_test(test_json_cgroupfs),
                cmocka_unit_test(test_json_psi_text),
                cmocka_unit_test(test_json_refault_rate),
                cmocka_unit_test(test_table),
        };
        free(tu_guest_fixture("systemd"));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
