// SPDX-License-Identifier: Apache-2.0
// The memagent binary end to end: `status` over the guest capture as JSON (parsed with json-c
// and checked against the fixture files) and as a table; bad usage refused with exit 2 and a
// message naming the flag; `explain` against a stand-in memagentd, with pods the API names.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "statuscheck.h"
#include "testutil.h"

#define MEMAGENT MEMAGENT_BIN_DIR "/agent/memagent"

struct run {
        int status;
        char *out, *err;
};

static struct run run_v(const char *const *args)
{
        char *argv[32];
        size_t n = 0;
        argv[n++] = (char *)MEMAGENT;
        for (; *args && n < 31; args++)
                argv[n++] = (char *)*args;
        argv[n] = NULL;
        struct run r;
        r.status = tu_run(argv, &r.out, &r.err);
        return r;
}
#define RUN(...) run_v((const char *const[]){ __VA_ARGS__, NULL })

static void run_free(struct run *r)
{
        free(r->out);
        free(r->err);
}

static void status_json(const char *driver, const char *const *extra, size_t n_extra,
                        struct json_object **ret_doc)
{
        char *cg = tu_guest_fixture(driver), *proc = tu_guest_fixture("proc"),
             *sys = tu_guest_fixture("sys");
        const char *args[24] = { "status", "--output",   "json", "--cgroup-root", cg, "--proc-root",
                                 proc,     "--sys-root", sys };
        size_t n = 9;
        for (size_t i = 0; i < n_extra; i++)
                args[n++] = extra[i];
        args[n] = NULL;
        struct run r = run_v(args);
        if (r.status != 0)
                fail_msg("memagent status exited %d: %s", r.status, r.err);
        struct json_object *doc = json_tokener_parse(r.out);
        if (!doc)
                fail_msg("stdout is not JSON: %.200s", r.out);
        check_status_json(doc, cg, proc, sys, 4);
        *ret_doc = doc;
        run_free(&r);
        free(cg);
        free(proc);
        free(sys);
}

static void test_status_json_systemd(void **state)
{
        (void)state;
        struct json_object *doc;
        status_json("systemd", NULL, 0, &doc);
        /* default workload root: /system.slice, burstable */
        struct json_object *w = jget(doc, "workloads");
        assert_int_equal(json_object_array_length(w), 2);
        assert_string_equal(json_object_get_string(jget(json_object_array_get_idx(w, 0), "qos")),
                            "burstable");
        json_object_put(doc);
}

static void test_status_json_cgroupfs(void **state)
{
        (void)state;
        struct json_object *doc;
        const char *extra[] = { "--workload-root", "/system.slice=besteffort" };
        status_json("cgroupfs", extra, 2, &doc);
        struct json_object *w = jget(doc, "workloads");
        assert_int_equal(json_object_array_length(w), 2);
        for (size_t i = 0; i < 2; i++)
                assert_string_equal(
                    json_object_get_string(jget(json_object_array_get_idx(w, i), "qos")),
                    "besteffort");
        json_object_put(doc);
}

static void test_status_json_no_workloads(void **state)
{
        (void)state;
        struct json_object *doc;
        const char *extra[] = { "--workload-root", "none" };
        status_json("systemd", extra, 2, &doc);
        assert_int_equal(json_object_array_length(jget(doc, "workloads")), 0);
        json_object_put(doc);
}

static void test_status_table(void **state)
{
        (void)state;
        char *cg = tu_guest_fixture("systemd"), *proc = tu_guest_fixture("proc"),
             *sys = tu_guest_fixture("sys");
        struct run r = RUN("status", "--output", "table", "--cgroup-root", cg, "--proc-root", proc,
                           "--sys-root", sys);
        if (r.status != 0)
                fail_msg("exit %d: %s", r.status, r.err);
        char *hdr = strstr(r.out, "\nQOS ");
        assert_non_null(hdr);
        hdr++;
        size_t width = strcspn(hdr, "\n");
        /* Every row of the pod table (up to the blank line) has the header's width. */
        size_t rows = 0;
        for (char *line = hdr + width + 1; *line && *line != '\n';) {
                size_t len = strcspn(line, "\n");
                if (len != width)
                        fail_msg("row \"%.*s\" is %zu wide, header %zu", (int)len, line, len,
                                 width);
                rows++;
                line += len + (line[len] == '\n');
        }
        assert_int_equal(rows, 1 + 4 + 9); /* kubepods, 4 pods, 9 containers */
        /* IEC units, and the burstable throttled container's limit (128 MiB) */
        assert_non_null(strstr(r.out, "128.0 MiB"));
        assert_non_null(strstr(r.out, " MiB "));
        assert_non_null(strstr(r.out, "pod 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"));
        assert_non_null(strstr(r.out, "containerd 333333333333"));
        assert_string_equal(r.err, "");
        run_free(&r);
        free(cg);
        free(proc);
        free(sys);
}

/* Exit 2 and one stderr line that names the flag. */
static void expect_refused(struct run r, const char *needle)
{
        if (r.status != 2)
                fail_msg("exit %d, expected 2 (stderr: %s)", r.status, r.err);
        if (!strstr(r.err, needle))
                fail_msg("stderr does not name \"%s\": %s", needle, r.err);
        assert_string_equal(r.out, "");
        run_free(&r);
}

static void test_bad_flags(void **state)
{
        (void)state;
        char *cg = tu_guest_fixture("systemd");
        expect_refused(RUN("status", "--output", "xml", "--cgroup-root", cg), "--output");
        expect_refused(RUN("status", "--bogus"), "--bogus");
        expect_refused(RUN("status", "--output"), "--output");
        expect_refused(RUN("status", "--workload-root", "system.slice", "--cgroup-root", cg),
                       "--workload-root");
        expect_refused(RUN("status", "--workload-root", "/system.slice=gold"), "gold");
        expect_refused(RUN("status", "--log-level", "loud"), "--log-level");
        expect_refused(RUN("psi-wait", "--stall-ms", "abc"), "--stall-ms");
        expect_refused(RUN("psi-wait", "--window-ms", "-5"), "--window-ms");
        expect_refused(RUN("psi-wait", "--kind", "most"), "--kind");
        expect_refused(RUN("status", "--cgroup-root", "/nonexistent-memagent-root"),
                       "--cgroup-root");
        expect_refused(RUN("status", "--cgroup-root", cg, "--proc-root", "/nonexistent-proc"),
                       "--proc-root");
        expect_refused(RUN("status", "--cgroup-root", cg, "stray"), "stray");
        expect_refused(RUN("frobnicate"), "frobnicate");
        char *argv[] = { (char *)MEMAGENT, NULL };
        struct run r;
        r.status = tu_run(argv, &r.out, &r.err);
        assert_int_equal(r.status, 2);
        assert_non_null(strstr(r.err, "Usage"));
        run_free(&r);
        free(cg);
}

/* A cgroup2 root without the memory controller: this build host's real unified hierarchy's
 * cgroup.controllers, copied into tests/fixtures/hybrid-host/unified. */
static void test_root_without_memory(void **state)
{
        (void)state;
        char *root = tu_fixture("hybrid-host/unified");
        char *proc = tu_fixture("hybrid-host/proc");
        char *ctl = tu_read_at(root, "cgroup.controllers");
        ctl[strcspn(ctl, "\n")] = '\0';
        char *want = tu_strdupf("has controllers [%s] but not memory", ctl);
        expect_refused(RUN("status", "--cgroup-root", root, "--proc-root", proc), want);
        /* A directory that is no cgroup hierarchy at all. */
        char *fx = tu_fixture("hybrid-host");
        expect_refused(RUN("status", "--cgroup-root", fx), "not a cgroup v2 hierarchy");
        free(fx);
        free(want);
        free(ctl);
        free(root);
        free(proc);
}

/* A memagentd stand-in on a unix socket: answers each of n connections with reply, then exits.
 * Returns its pid; the socket is listening when this returns. */
static pid_t fake_daemon(const char *path, const char *reply, int n)
{
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 4), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                for (int i = 0; i < n; i++) {
                        int c = accept(fd, NULL, NULL);
                        if (c < 0)
                                _exit(1);
                        char req[160];
                        (void)!read(c, req, sizeof(req));
                        size_t len = strlen(reply);
                        if (write(c, reply, len) != (ssize_t)len)
                                _exit(1);
                        close(c);
                }
                _exit(0);
        }
        close(fd);
        return pid;
}

/* `memagent explain` names a pod the way the Kubernetes API does (namespace/name, and its uid)
 * and shows what the API answered for the decision. */
static void test_explain_kubernetes_names(void **state)
{
        (void)state;
        char *dir = tu_mkdtemp("cli-explain");
        char *sock = tu_strdupf("%s/api.sock", dir);
        const char *reply =
            "{\"decisions\":[{\"id\":7,\"time\":\"2026-01-01T00:00:00.000Z\",\"scope\":\"node\","
            "\"level\":\"medium\",\"signals\":\"available 10%\",\"action\":\"evict\","
            "\"dry_run\":false,\"victim\":{\"name\":\"shop/third\",\"uid\":\"uid-third\","
            "\"namespace\":\"shop\",\"pod_name\":\"third\",\"cgroup\":\"/kubepods/pod-third\","
            "\"reason\":\"besteffort, priority 50\"},\"runners_up\":[{\"name\":\"shop/big\","
            "\"reason\":\"besteffort, priority 100\"}],\"outcome\":\"evicted through the API, "
            "grace 3 s\",\"api\":\"shop/low: 429 TooManyRequests (DisruptionBudget); shop/third: "
            "201\",\"candidates\":3,\"excluded\":0,\"trigger\":\"psi\"}]}";
        pid_t pid = fake_daemon(sock, reply, 1);
        struct run r = RUN("explain", "--api-socket", sock);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (r.status != 0)
                fail_msg("exit %d: %s", r.status, r.err);
        const char *want[] = {
                "evict shop/third: besteffort, priority 50",
                "pod shop/third (uid uid-third)",
                "Kubernetes API: shop/low: 429 TooManyRequests (DisruptionBudget); shop/third: 201",
                "3 candidates",
                "runner-up 1: shop/big",
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                if (!strstr(r.out, want[i]))
                        fail_msg("explain lacks \"%s\":\n%s", want[i], r.out);
        run_free(&r);
        unlink(sock);
        rmdir(dir);
        free(sock);
        free(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status_json_systemd),
                cmocka_unit_test(test_status_json_cgroupfs),
                cmocka_unit_test(test_status_json_no_workloads),
                cmocka_unit_test(test_status_table),
                cmocka_unit_test(test_bad_flags),
                cmocka_unit_test(test_root_without_memory),
                cmocka_unit_test(test_explain_kubernetes_names),
        };
        if (!tu_exists(MEMAGENT))
                tu_skip_loudly("%s is not built (cmake --build <dir> --target memagent)", MEMAGENT);
        free(tu_guest_fixture("systemd"));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
