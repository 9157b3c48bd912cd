// SPDX-License-Identifier: Apache-2.0
// Where the Kubernetes API server is and who we are to it: in-cluster (the pod's service
// account) or a kubeconfig file (current-context's cluster and user), as client-go's
// rest.InClusterConfig() and clientcmd read them.
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Where a pod's service account is mounted (k8s.io/client-go/rest: InClusterConfig). */
#define KUBE_SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_CONFIG_ERR_MAX      512

/* A PEM blob from a kubeconfig's *-data field: handed to curl as CURLOPT_*_BLOB. */
struct kube_blob {
        char *data;
        size_t size;
};

struct kube_config {
        char *source; /* "in-cluster" or the kubeconfig's path, for messages */
        char *server; /* "https://10.96.0.1:443", no trailing "/" */
        /* The server's CA: a file (absolute) or a blob; neither: the system's CAs. */
        char *ca_file;
        struct kube_blob ca_data;
        bool insecure_skip_tls_verify;
        /* Our client certificate and key (mutual TLS): files or blobs. */
        char *cert_file, *key_file;
        struct kube_blob cert_data, key_data;
        /* Bearer token: fixed (kubeconfig "token") or a file re-read as it rotates (kubeconfig
         * "tokenFile", the service account's token). At most one is set. */
        char *token;
        char *token_file;
        char *namespace_; /* the service account's or the context's namespace; NULL: none */
};

/* In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6 host in
 * brackets), token, ca.crt and namespace under sa_dir (NULL: KUBE_SERVICE_ACCOUNT_DIR).
 * Returns 0; -ENOENT when KUBERNETES_SERVICE_HOST is unset (not in a cluster: nothing in err);
 * -EINVAL or the file's errno with err saying what is missing. *ret is untouched on failure. */
int kube_config_in_cluster(const char *sa_dir, struct kube_config *ret, char *err, size_t err_size);

/* A kubeconfig file: current-context → context → cluster (server, certificate-authority[-data],
 * insecure-skip-tls-verify) and user (client-certificate[-data], client-key[-data], token,
 * tokenFile). Relative paths are relative to the file's directory, as kubectl resolves them.
 * Errors name the file and the key: "kubeconfig /x: users[0].user.client-key-data: not valid
 * base64". Returns 0 or a negative errno; *ret is untouched on failure. */
int kube_config_load_kubeconfig(const char *path, struct kube_config *ret, char *err,
                                size_t err_size);

/* What memagentd uses: the kubeconfig when one is given (kubeconfig not NULL or ""), else
 * in-cluster when KUBERNETES_SERVICE_HOST is set, else -ENOENT with nothing in err: no API
 * server, run standalone. Other errors as the two loaders. */
int kube_config_load(const char *kubeconfig, const char *sa_dir, struct kube_config *ret, char *err,
                     size_t err_size);

/* The bearer token for the next request: token_file's contents, trimmed (re-read on every call:
 * the caller decides how often), or token. *ret is malloc'ed, NULL when there is no token.
 * Returns 0, or the file's negative errno / -EINVAL for an empty file. */
int kube_config_read_token(const struct kube_config *c, char **ret);

void kube_config_done(struct kube_config *c);
