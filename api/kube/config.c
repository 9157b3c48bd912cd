// SPDX-License-Identifier: Apache-2.0
#include "api/kube/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/codec.h"
#include "common/base64.h"
#include "common/config.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "common/token-file.h"

static int errf(char *err, size_t size, int r, const char *fmt, ...) _printf_(4, 5);
static int errf(char *err, size_t size, int r, const char *fmt, ...)
{
        va_list ap;
        if (err && size) {
                va_start(ap, fmt);
                vsnprintf(err, size, fmt, ap);
                va_end(ap);
        }
        return r;
}

void kube_config_done(struct kube_config *c)
{
        if (!c)
                return;
        free(c->source);
        free(c->server);
        free(c->ca_file);
        free(c->ca_data.data);
        free(c->cert_file);
        free(c->key_file);
        free(c->cert_data.data);
        free(c->key_data.data);
        free(c->token);
        free(c->token_file);
        free(c->namespace_);
        *c = (struct kube_config){};
}

int kube_config_read_token(const struct kube_config *c, char **ret)
{
        if (c->token_file)
                return token_file_read(c->token_file, ret);
        if (c->token) {
                char *d = strdup(c->token);
                if (!d)
                        return -ENOMEM;
                *ret = d;
                return 0;
        }
        *ret = NULL;
        return 0;
}

static char *path_join(const char *dir, const char *name)
{
        char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return NULL;
        return p;
}

int kube_config_in_cluster(const char *sa_dir, struct kube_config *ret, char *err, size_t err_size)
{
        const char *host = getenv("KUBERNETES_SERVICE_HOST");
        const char *port = getenv("KUBERNETES_SERVICE_PORT");
        struct kube_config c = {};
        _cleanup_free_ char *token = NULL;
        int r;

        if (!host || !*host)
                return -ENOENT;
        if (!sa_dir)
                sa_dir = KUBE_SERVICE_ACCOUNT_DIR;
        if (!port || !*port)
                return errf(err, err_size, -EINVAL,
                            "in-cluster: KUBERNETES_SERVICE_HOST is set but "
                            "KUBERNETES_SERVICE_PORT is not");
        for (const char *p = port; *p; p++)
                if (!isdigit((unsigned char)*p))
                        return errf(err, err_size, -EINVAL,
                                    "in-cluster: KUBERNETES_SERVICE_PORT \"%.32s\" is not a port",
                                    port);
        /* An IPv6 address in a URL goes in brackets (net.JoinHostPort). */
        bool v6 = strchr(host, ':') != NULL;
        c.source = strdup("in-cluster");
        if (!c.source || asprintf(&c.server, "https://%s%s%s:%s", v6 ? "[" : "", host,
                                  v6 ? "]" : "", port) < 0) {
                c.server = NULL;
                kube_config_done(&c);
                return -ENOMEM;
        }
        c.token_file = path_join(sa_dir, "token");
        c.ca_file = path_join(sa_dir, "ca.crt");
        _cleanup_free_ char *ns_file = path_join(sa_dir, "namespace");
        if (!c.token_file || !c.ca_file || !ns_file) {
                kube_config_done(&c);
                return -ENOMEM;
        }
        /* The token must be there now; it is re-read as it rotates. */
        r = token_file_read(c.token_file, &token);
        if (r < 0) {
                errf(err, err_size, r, "in-cluster: %s: %s", c.token_file,
                     r == -EINVAL ? "empty, or not a token (a byte that is not visible ASCII)"
                                  : strerror(-r));
                kube_config_done(&c);
                return r;
        }
        if (access(c.ca_file, R_OK) < 0) {
                r = negative_errno();
                errf(err, err_size, r, "in-cluster: %s: %s", c.ca_file, strerror(-r));
                kube_config_done(&c);
                return r;
        }
        /* The namespace is informative: a missing file is no error (client-go ignores it). */
        (void)token_file_read(ns_file, &c.namespace_);
        *ret = c;
        return 0;
}

/* ---------- kubeconfig ---------- */

struct kc {
        const char *path;
        char *dir; /* the file's directory: relative paths are relative to it */
        char *err;
        size_t err_size;
};

static int kc_err(struct kc *k, int r, const char *field, const char *why)
{
        return errf(k->err, k->err_size, r, "kubeconfig %s: %s%s%s", k->path, field,
                    *field ? ": " : "", why);
}

/* Finds the entry of list key (clusters, contexts, users) whose "name" is name; its index in
 * *ret_index and the object under inner ("cluster", "context", "user") in *ret. */
static int kc_find(struct kc *k, const struct json_object *root, const char *key, const char *inner,
                   const char *name, const char *via, struct json_object **ret, size_t *ret_index)
{
        struct json_object *list = NULL;
        struct api_error ae = {};
        char field[API_FIELD_MAX], why[320];
        int r = api_get_array(root, "", key, false, false, &list, &ae);
        if (r < 0)
                return kc_err(k, -EINVAL, ae.field, ae.message);
        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                struct json_object *e = json_object_array_get_idx(list, i), *o = NULL;
                const char *n = NULL;
                api_path_index(field, key, i);
                if (!json_object_is_type(e, json_type_object))
                        return kc_err(k, -EINVAL, field, "must be a mapping");
                if ((r = api_get_string(e, field, "name", false, false, &n, &ae)) < 0)
                        return kc_err(k, -EINVAL, ae.field, ae.message);
                if (!n || !streq(n, name))
                        continue;
                if ((r = api_get_object(e, field, inner, true, false, &o, &ae)) < 0)
                        return kc_err(k, -EINVAL, ae.field, ae.message);
                *ret = o;
                *ret_index = i;
                return 0;
        }
        snprintf(why, sizeof(why), "no entry named \"%.64s\" (named by %s)", name, via);
        return kc_err(k, -EINVAL, key, why);
}

static int kc_string(struct kc *k, const struct json_object *o, const char *path, const char *key,
                     bool required, const char **ret)
{
        struct api_error ae = {};
        int r = api_get_string(o, path, key, required, false, ret, &ae);
        if (r < 0)
                return kc_err(k, r, ae.field, ae.message);
        return r;
}

/* A file named by the kubeconfig, made absolute against its directory. */
static int kc_path(struct kc *k, const struct json_object *o, const char *path, const char *key,
                   char **ret)
{
        const char *v = NULL;
        int r = kc_string(k, o, path, key, false, &v);
        if (r <= 0 || !*v)
                return r < 0 ? r : 0;
        char *p = v[0] == '/' ? strdup(v) : path_join(k->dir, v);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 1;
}

static int kc_blob(struct kc *k, const struct json_object *o, const char *path, const char *key,
                   struct kube_blob *ret)
{
        char field[API_FIELD_MAX];
        const char *v = NULL;
        int r = kc_string(k, o, path, key, false, &v);
        if (r <= 0 || !*v)
                return r < 0 ? r : 0;
        r = base64_decode(v, strlen(v), &ret->data, &ret->size);
        if (r == -EBADMSG)
                return kc_err(k, -EINVAL, api_path(field, path, key), "not valid base64");
        return r < 0 ? r : 1;
}

/* A file and its inline -data form are exclusive (clientcmd's validation says the same). */
static int kc_file_or_data(struct kc *k, const struct json_object *o, const char *path,
                           const char *key, char **ret_file, struct kube_blob *ret_data)
{
        char dkey[64], field[API_FIELD_MAX], why[160];
        int r;
        snprintf(dkey, sizeof(dkey), "%s-data", key);
        if ((r = kc_path(k, o, path, key, ret_file)) < 0 ||
            (r = kc_blob(k, o, path, dkey, ret_data)) < 0)
                return r;
        if (*ret_file && ret_data->data) {
                snprintf(why, sizeof(why), "set together with %s; give one", key);
                return kc_err(k, -EINVAL, api_path(field, path, dkey), why);
        }
        return 0;
}

static int kc_load(struct kc *k, const struct json_object *root, struct kube_config *c)
{
        struct json_object *ctx = NULL, *cluster = NULL, *user = NULL;
        const char *current = NULL, *cname = NULL, *uname = NULL, *ns = NULL, *server = NULL;
        char cpath[API_FIELD_MAX], upath[API_FIELD_MAX], xpath[API_FIELD_MAX];
        size_t ci = 0, ui = 0, xi = 0;
        bool insecure = false;
        struct api_error ae = {};
        int r;

        if (!json_object_is_type(root, json_type_object))
                return kc_err(k, -EINVAL, "", "not a kubeconfig (expected a mapping)");
        if ((r = kc_string(k, root, "", "current-context", false, &current)) < 0)
                return r;
        if (!current || !*current)
                return kc_err(k, -EINVAL, "current-context",
                              "not set (kubectl config use-context NAME)");
        if ((r = kc_find(k, root, "contexts", "context", current, "current-context", &ctx, &xi)) <
            0)
                return r;
        snprintf(xpath, sizeof(xpath), "contexts[%zu].context", xi);
        if ((r = kc_string(k, ctx, xpath, "cluster", true, &cname)) < 0 ||
            (r = kc_string(k, ctx, xpath, "user", false, &uname)) < 0 ||
            (r = kc_string(k, ctx, xpath, "namespace", false, &ns)) < 0)
                return r;
        api_path(cpath, xpath, "cluster");
        if ((r = kc_find(k, root, "clusters", "cluster", cname, cpath, &cluster, &ci)) < 0)
                return r;
        snprintf(cpath, sizeof(cpath), "clusters[%zu].cluster", ci);
        if ((r = kc_string(k, cluster, cpath, "server", true, &server)) < 0)
                return r;
        if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
                char field[API_FIELD_MAX];
                return kc_err(k, -EINVAL, api_path(field, cpath, "server"),
                              "must be an https:// (or http://) URL");
        }
        if ((r = api_get_bool(cluster, cpath, "insecure-skip-tls-verify", false, &insecure, &ae)) <
            0)
                return kc_err(k, r, ae.field, ae.message);
        c->insecure_skip_tls_verify = insecure;
        size_t n = strlen(server);
        while (n > 0 && server[n - 1] == '/')
                n--;
        if (!(c->server = strndup(server, n)))
                return -ENOMEM;
        if ((r = kc_file_or_data(k, cluster, cpath, "certificate-authority", &c->ca_file,
                                 &c->ca_data)) < 0)
                return r;
        if (uname && *uname) {
                api_path(upath, xpath, "user");
                if ((r = kc_find(k, root, "users", "user", uname, upath, &user, &ui)) < 0)
                        return r;
                snprintf(upath, sizeof(upath), "users[%zu].user", ui);
                static const char *const unsupported[] = { "exec", "auth-provider", "username",
                                                           "password" };
                for (size_t i = 0; i < ELEMENTSOF(unsupported); i++)
                        if (api_lookup(user, unsupported[i], false)) {
                                char field[API_FIELD_MAX];
                                return kc_err(k, -EOPNOTSUPP,
                                              api_path(field, upath, unsupported[i]),
                                              "not supported by memagent; use a client "
                                              "certificate, token or tokenFile");
                        }
                const char *token = NULL;
                if ((r = kc_file_or_data(k, user, upath, "client-certificate", &c->cert_file,
                                         &c->cert_data)) < 0 ||
                    (r = kc_file_or_data(k, user, upath, "client-key", &c->key_file,
                                         &c->key_data)) < 0 ||
                    (r = kc_string(k, user, upath, "token", false, &token)) < 0 ||
                    (r = kc_path(k, user, upath, "tokenFile", &c->token_file)) < 0)
                        return r;
                bool has_cert = c->cert_file || c->cert_data.data,
                     has_key = c->key_file || c->key_data.data;
                if (has_cert != has_key) {
                        char field[API_FIELD_MAX];
                        return kc_err(
                            k, -EINVAL,
                            api_path(field, upath, has_cert ? "client-key" : "client-certificate"),
                            has_cert ? "missing: a client certificate needs its key"
                                     : "missing: a client key needs its certificate");
                }
                /* client-go: a token file, when given, wins over the token. */
                if (token && *token && !c->token_file && !(c->token = strdup(token)))
                        return -ENOMEM;
        }
        if (ns && *ns && !(c->namespace_ = strdup(ns)))
                return -ENOMEM;
        return 0;
}

int kube_config_load_kubeconfig(const char *path, struct kube_config *ret, char *err,
                                size_t err_size)
{
        _cleanup_json_ struct json_object *root = NULL;
        struct kube_config c = {};
        char yerr[KUBE_CONFIG_ERR_MAX];
        struct kc k = { .path = path, .err = err, .err_size = err_size };
        int r;

        r = config_yaml_file_to_json(path, &root, yerr, sizeof(yerr));
        if (r < 0)
                return errf(err, err_size, r, "kubeconfig %s", yerr);
        const char *slash = strrchr(path, '/');
        k.dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
        c.source = strdup(path);
        if (!k.dir || !c.source) {
                free(k.dir);
                kube_config_done(&c);
                return -ENOMEM;
        }
        r = kc_load(&k, root, &c);
        free(k.dir);
        if (r < 0) {
                if (r == -ENOMEM)
                        errf(err, err_size, r, "kubeconfig %s: out of memory", path);
                kube_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

int kube_config_load(const char *kubeconfig, const char *sa_dir, struct kube_config *ret, char *err,
                     size_t err_size)
{
        if (kubeconfig && *kubeconfig)
                return kube_config_load_kubeconfig(kubeconfig, ret, err, err_size);
        return kube_config_in_cluster(sa_dir, ret, err, err_size);
}
