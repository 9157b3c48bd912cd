// SPDX-License-Identifier: Apache-2.0
// Where the API server is: kubeconfig files as kubectl writes them (every field the agent uses,
// relative paths, inline base64 data, the errors naming file and key), the in-cluster loader on a
// temporary service-account directory, and the YAML-as-JSON reader they stand on.
#include <errno.h>
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

#include "api/codec.h"
#include "api/kube/config.h"
#include "common/config.h"

static char dir[] = "/tmp/test_kube_config.XXXXXX";

static void write_file(const char *name, const char *text)
{
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static const char *in_dir(const char *name, char buf[static 512])
{
        snprintf(buf, 512, "%s/%s", dir, name);
        return buf;
}

static int setup(void **state)
{
        (void)state;
        if (!mkdtemp(dir))
                return -1;
        char p[512];
        snprintf(p, sizeof(p), "%s/sa", dir);
        mkdir(p, 0700);
        snprintf(p, sizeof(p), "%s/certs", dir);
        mkdir(p, 0700);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* ---------- YAML as JSON ---------- */

static void test_yaml_to_json(void **state)
{
        (void)state;
        const char *y = "apiVersion: v1\n"
                        "clusters:\n"
                        "- cluster:\n"
                        "    server: https://k:6443\n"
                        "    insecure-skip-tls-verify: true\n"
                        "  name: a\n"
                        "- name: b\n"
                        "  cluster: {server: \"https://b\", port: 443, quoted: \"true\", n: ~}\n"
                        "base: &x {k: v}\n"
                        "ref: *x\n";
        struct json_object *o = NULL;
        char err[256] = "";
        assert_int_equal(config_yaml_to_json("t.yaml", y, strlen(y), &o, err, sizeof(err)), 0);
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        assert_string_equal(
            s,
            "{\"apiVersion\":\"v1\",\"clusters\":[{\"cluster\":{\"server\":\"https:\\/\\/k:6443\","
            "\"insecure-skip-tls-verify\":true},\"name\":\"a\"},{\"name\":\"b\",\"cluster\":{"
            "\"server\":\"https:\\/\\/b\",\"port\":443,\"quoted\":\"true\",\"n\":null}}],"
            "\"base\":{\"k\":\"v\"},\"ref\":{\"k\":\"v\"}}");
        json_object_put(o);

        /* Errors name the file and line. */
        const char *bad = "a: [1, 2\n";
        assert_int_equal(config_yaml_to_json("bad.yaml", bad, strlen(bad), &o, err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "bad.yaml:"));
        const char *key = "? [a]\n: 1\n";
        assert_int_equal(config_yaml_to_json("k.yaml", key, strlen(key), &o, err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "k.yaml:1: a key must be a name"));

        /* A billion laughs is refused, not expanded. */
        char laughs[2048];
        size_t n = (size_t)snprintf(laughs, sizeof(laughs), "a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (char c = 'b'; c <= 'j'; c++)
                n += (size_t)snprintf(laughs + n, sizeof(laughs) - n,
                                      "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", c, c,
                                      c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1,
                                      c - 1);
        assert_int_equal(config_yaml_to_json("lol.yaml", laughs, n, &o, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "too many values"));

        /* An empty document is an empty mapping. */
        assert_int_equal(config_yaml_to_json("e.yaml", "", 0, &o, err, sizeof(err)), 0);
        assert_int_equal(json_object_object_length(o), 0);
        json_object_put(o);
}

/* ---------- kubeconfig ---------- */

/* "-----BEGIN CERTIFICATE-----\nCA\n" and friends, base64. */
#define CA_PEM  "-----BEGIN CERTIFICATE-----\nCA\n"
#define CA_B64  "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg=="
#define KEY_PEM "key\n"
#define KEY_B64 "a2V5Cg=="

static void test_kubeconfig_files_and_token(void **state)
{
        (void)state;
        char p[512], want[512];
        write_file("kubeconfig", "apiVersion: v1\n"
                                 "kind: Config\n"
                                 "preferences: {}\n"
                                 "current-context: admin@prod\n"
                                 "clusters:\n"
                                 "- name: staging\n"
                                 "  cluster:\n"
                                 "    server: https://staging:6443\n"
                                 "- name: prod\n"
                                 "  cluster:\n"
                                 "    certificate-authority: certs/ca.crt\n"
                                 "    server: https://10.0.0.1:6443/\n"
                                 "contexts:\n"
                                 "- context:\n"
                                 "    cluster: staging\n"
                                 "    user: nobody\n"
                                 "  name: other\n"
                                 "- context:\n"
                                 "    cluster: prod\n"
                                 "    namespace: memagent\n"
                                 "    user: admin\n"
                                 "  name: admin@prod\n"
                                 "users:\n"
                                 "- name: admin\n"
                                 "  user:\n"
                                 "    client-certificate: certs/admin.crt\n"
                                 "    client-key: /etc/abs/admin.key\n"
                                 "    token: static-token\n");
        struct kube_config c = {};
        char err[KUBE_CONFIG_ERR_MAX] = "";
        assert_int_equal(kube_config_load_kubeconfig(in_dir("kubeconfig", p), &c, err, sizeof(err)),
                         0);
        assert_string_equal(c.source, p);
        assert_string_equal(c.server, "https://10.0.0.1:6443");
        assert_string_equal(c.ca_file, in_dir("certs/ca.crt", want));
        assert_string_equal(c.cert_file, in_dir("certs/admin.crt", want));
        assert_string_equal(c.key_file, "/etc/abs/admin.key");
        assert_null(c.ca_data.data);
        assert_false(c.insecure_skip_tls_verify);
        assert_string_equal(c.token, "static-token");
        assert_null(c.token_file);
        assert_string_equal(c.namespace_, "memagent");
        char *tok = NULL;
        assert_int_equal(kube_config_read_token(&c, &tok), 0);
        assert_string_equal(tok, "static-token");
        free(tok);
        kube_config_done(&c);
}

static void test_kubeconfig_data_and_token_file(void **state)
{
        (void)state;
        char p[512], want[512];
        write_file("kc-data", "current-context: c\n"
                              "clusters:\n"
                              "- name: k\n"
                              "  cluster:\n"
                              "    server: https://[fd00::1]:6443\n"
                              "    certificate-authority-data: " CA_B64 "\n"
                              "    insecure-skip-tls-verify: true\n"
                              "contexts:\n"
                              "- name: c\n"
                              "  context: {cluster: k, user: u}\n"
                              "users:\n"
                              "- name: u\n"
                              "  user:\n"
                              "    client-certificate-data: " CA_B64 "\n"
                              "    client-key-data: " KEY_B64 "\n"
                              "    token: ignored-when-a-file-is-given\n"
                              "    tokenFile: tok\n");
        write_file("tok", "  first-token\n");
        struct kube_config c = {};
        char err[KUBE_CONFIG_ERR_MAX] = "";
        assert_int_equal(kube_config_load_kubeconfig(in_dir("kc-data", p), &c, err, sizeof(err)),
                         0);
        assert_string_equal(c.server, "https://[fd00::1]:6443");
        assert_true(c.insecure_skip_tls_verify);
        assert_int_equal(c.ca_data.size, strlen(CA_PEM));
        assert_memory_equal(c.ca_data.data, CA_PEM, strlen(CA_PEM));
        assert_int_equal(c.key_data.size, strlen(KEY_PEM));
        assert_memory_equal(c.key_data.data, KEY_PEM, strlen(KEY_PEM));
        assert_non_null(c.cert_data.data);
        assert_null(c.ca_file);
        assert_null(c.token);
        assert_string_equal(c.token_file, in_dir("tok", want));
        assert_null(c.namespace_);
        /* The token file is read anew on each call: a rotation is seen. */
        char *tok = NULL;
        assert_int_equal(kube_config_read_token(&c, &tok), 0);
        assert_string_equal(tok, "first-token");
        free(tok);
        write_file("tok", "second-token");
        assert_int_equal(kube_config_read_token(&c, &tok), 0);
        assert_string_equal(tok, "second-token");
        free(tok);
        write_file("tok", " \n");
        assert_int_equal(kube_config_read_token(&c, &tok), -EINVAL);
        kube_config_done(&c);
}

static void expect_error(const char *text, int want_r, const char *want_suffix)
{
        char p[512], want[700];
        write_file("kc-bad", text);
        struct kube_config c = {};
        char err[KUBE_CONFIG_ERR_MAX] = "";
        assert_int_equal(kube_config_load_kubeconfig(in_dir("kc-bad", p), &c, err, sizeof(err)),
                         want_r);
        snprintf(want, sizeof(want), "kubeconfig %s: %s", p, want_suffix);
        assert_string_equal(err, want);
        assert_null(c.server); /* untouched */
}

static void test_kubeconfig_errors(void **state)
{
        (void)state;
        const char *head = "clusters:\n- name: k\n  cluster: {server: \"https://k\"}\n"
                           "contexts:\n- name: c\n  context: {cluster: k, user: u}\n";
        char buf[1024];

        expect_error("clusters: []\n", -EINVAL,
                     "current-context: not set (kubectl config use-context NAME)");
        snprintf(buf, sizeof(buf),
                 "current-context: c\n%susers:\n- name: u\n  user:\n    client-certificate-data: "
                 "%s\n    client-key-data: \"not*base64\"\n",
                 head, CA_B64);
        expect_error(buf, -EINVAL, "users[0].user.client-key-data: not valid base64");
        snprintf(buf, sizeof(buf), "current-context: gone\n%s", head);
        expect_error(buf, -EINVAL, "contexts: no entry named \"gone\" (named by current-context)");
        snprintf(buf, sizeof(buf), "current-context: c\n%susers:\n- name: v\n  user: {}\n", head);
        expect_error(buf, -EINVAL,
                     "users: no entry named \"u\" (named by contexts[0].context.user)");
        snprintf(buf, sizeof(buf),
                 "current-context: c\n%susers:\n- name: u\n  user:\n    exec: {command: aws}\n",
                 head);
        expect_error(buf, -EOPNOTSUPP,
                     "users[0].user.exec: not supported by memagent; use a client certificate, "
                     "token or tokenFile");
        snprintf(buf, sizeof(buf),
                 "current-context: c\n%susers:\n- name: u\n  user:\n    client-certificate: a\n",
                 head);
        expect_error(buf, -EINVAL,
                     "users[0].user.client-key: missing: a client certificate needs its key");
        expect_error("current-context: c\nclusters:\n- name: k\n  cluster: {server: ftp://x}\n"
                     "contexts:\n- name: c\n  context: {cluster: k}\n",
                     -EINVAL, "clusters[0].cluster.server: must be an https:// (or http://) URL");
        expect_error("current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://k\n"
                     "    certificate-authority: ca\n    certificate-authority-data: " CA_B64 "\n"
                     "contexts:\n- name: c\n  context: {cluster: k}\n",
                     -EINVAL,
                     "clusters[0].cluster.certificate-authority-data: set together with "
                     "certificate-authority; give one");

        char p[512], err[KUBE_CONFIG_ERR_MAX] = "";
        struct kube_config c = {};
        assert_int_equal(kube_config_load_kubeconfig(in_dir("missing", p), &c, err, sizeof(err)),
                         -ENOENT);
        assert_non_null(strstr(err, "missing: no such file"));
}

/* ---------- in-cluster ---------- */

static void test_in_cluster(void **state)
{
        (void)state;
        char sa[512], want[512];
        struct kube_config c = {};
        char err[KUBE_CONFIG_ERR_MAX] = "";

        unsetenv("KUBERNETES_SERVICE_HOST");
        assert_int_equal(kube_config_in_cluster(in_dir("sa", sa), &c, err, sizeof(err)), -ENOENT);

        setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
        setenv("KUBERNETES_SERVICE_PORT", "443", 1);
        /* No token yet: an error that names the file. */
        assert_int_equal(kube_config_in_cluster(sa, &c, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "sa/token"));
        write_file("sa/token", "eyJhbGciOiJSUzI1NiJ9.payload.sig\n");
        assert_int_equal(kube_config_in_cluster(sa, &c, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "sa/ca.crt"));
        write_file("sa/ca.crt", CA_PEM);
        write_file("sa/namespace", "kube-system");
        assert_int_equal(kube_config_in_cluster(sa, &c, err, sizeof(err)), 0);
        assert_string_equal(c.source, "in-cluster");
        assert_string_equal(c.server, "https://10.96.0.1:443");
        assert_string_equal(c.token_file, in_dir("sa/token", want));
        assert_string_equal(c.ca_file, in_dir("sa/ca.crt", want));
        assert_string_equal(c.namespace_, "kube-system");
        assert_null(c.token);
        char *tok = NULL;
        assert_int_equal(kube_config_read_token(&c, &tok), 0);
        assert_string_equal(tok, "eyJhbGciOiJSUzI1NiJ9.payload.sig");
        free(tok);
        kube_config_done(&c);

        setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
        assert_int_equal(kube_config_in_cluster(sa, &c, err, sizeof(err)), 0);
        assert_string_equal(c.server, "https://[fd00:10:96::1]:443");
        kube_config_done(&c);

        /* kube_config_load(): a kubeconfig wins over in-cluster; without it, in-cluster. */
        char kc[512];
        write_file("kc-auto", "current-context: c\nclusters:\n- name: k\n  cluster: {server: "
                              "\"https://from-kubeconfig\"}\ncontexts:\n- name: c\n  context: "
                              "{cluster: k}\n");
        assert_int_equal(kube_config_load(in_dir("kc-auto", kc), sa, &c, err, sizeof(err)), 0);
        assert_string_equal(c.server, "https://from-kubeconfig");
        kube_config_done(&c);
        assert_int_equal(kube_config_load("", sa, &c, err, sizeof(err)), 0);
        assert_string_equal(c.source, "in-cluster");
        kube_config_done(&c);

        setenv("KUBERNETES_SERVICE_PORT", "https", 1);
        assert_int_equal(kube_config_in_cluster(sa, &c, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "KUBERNETES_SERVICE_PORT"));
        unsetenv("KUBERNETES_SERVICE_HOST");
        unsetenv("KUBERNETES_SERVICE_PORT");
        /* Neither: standalone, and nothing to say. */
        err[0] = '\0';
        assert_int_equal(kube_config_load(NULL, sa, &c, err, sizeof(err)), -ENOENT);
        assert_string_equal(err, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_yaml_to_json),
                cmocka_unit_test(test_kubeconfig_files_and_token),
                cmocka_unit_test(test_kubeconfig_data_and_token_file),
                cmocka_unit_test(test_kubeconfig_errors),
                cmocka_unit_test(test_in_cluster),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
