// SPDX-License-Identifier: Apache-2.0
// Who may change memschedd's state: over HTTPS a client certificate verified against clientCA or
// a bearer token from tokenFile (for a node's report or offer, one naming that node); over plain
// HTTP, which is loopback unless --insecure, the local host. And the PEM files libmicrohttpd
// serves HTTPS with.
#include "scheduler/server-private.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/token-file.h"

/* Over HTTPS, the verified client certificate's common name into cn; -EACCES when the client
 * sent none or it does not chain to clientCA. */
static int client_identity(struct MHD_Connection *conn, char *cn, size_t cn_size)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        unsigned status = 0, n = 0;
        if (!ci || !ci->tls_session)
                return -EACCES;
        gnutls_session_t session = (gnutls_session_t)ci->tls_session;
        const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
        if (!peers || n == 0 || gnutls_certificate_verify_peers2(session, &status) < 0 ||
            status != 0)
                return -EACCES;
        gnutls_x509_crt_t crt;
        if (gnutls_x509_crt_init(&crt) < 0)
                return -ENOMEM;
        size_t len = cn_size;
        int r = gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER);
        if (r >= 0)
                r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len);
        gnutls_x509_crt_deinit(crt);
        return r < 0 ? -EACCES : 0;
}

/* ---------- bearer tokens (tokenFile) ---------- */

/* The static token file, re-read when it changes. A token is kept only as its SHA-256, in a
 * sorted array: a lookup hashes what the client sent and searches the digests. Its time depends on
 * that digest alone, which tells a client nothing about a valid token (it would need a preimage):
 * the comparison is constant-time where it matters, and logarithmic in the number of tokens (one
 * per node, thousands). */
struct token_entry {
        uint8_t digest[32];
        char *identity; /* the user name */
        unsigned line;
};

struct token_store {
        char *path;
        pthread_mutex_t lock;
        struct token_entry *v;
        size_t n;
        struct stat st; /* of the file the table was read from */
        bool reload_failed_logged;
};

struct token_parse {
        struct token_entry *v;
        size_t n, cap;
};

static void token_entries_free(struct token_entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].identity);
        free(v);
}

static int on_token_record(const char *token, size_t token_len, const char *user, const char *uid,
                           unsigned line, void *userdata)
{
        struct token_parse *p = userdata;
        (void)uid;
        if (p->n == p->cap) {
                size_t cap = p->cap ? 2 * p->cap : 64;
                struct token_entry *v = reallocarray(p->v, cap, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                p->v = v;
                p->cap = cap;
        }
        struct token_entry *e = &p->v[p->n];
        *e = (struct token_entry){ .line = line, .identity = strdup(user) };
        if (!e->identity)
                return -ENOMEM;
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, token_len, e->digest) < 0) {
                free(e->identity);
                return -EIO;
        }
        p->n++;
        return 0;
}

static int digest_cmp(const void *a, const void *b)
{
        return memcmp(((const struct token_entry *)a)->digest,
                      ((const struct token_entry *)b)->digest, 32);
}

/* Reads and parses the token file into a sorted table. Returns 0, or a negative errno with the
 * reason in err (file:line: why; never a token). */
static int token_table_read(const char *path, struct token_entry **ret_v, size_t *ret_n,
                            struct stat *ret_st, char *err, size_t err_size)
{
        const size_t cap = 16u << 20; /* a few hundred bytes a node, for thousands of nodes */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        char why[256] = "";
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = -errno;
                snprintf(err, err_size, "%s: %s", path, strerror(errno));
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                snprintf(err, err_size, "%s: not a regular file", path);
                return -EINVAL;
        }
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        ssize_t len = pread_full(fd, buf, cap);
        if (len < 0) {
                snprintf(err, err_size, "%s: %s", path,
                         len == -EFBIG ? "larger than 16 MiB" : strerror((int)-len));
                return (int)len;
        }
        struct token_parse p = { 0 };
        int r = token_csv_parse(buf, (size_t)len, on_token_record, &p, why, sizeof(why));
        explicit_bzero(buf, (size_t)len);
        if (r < 0) {
                snprintf(err, err_size, "%s: %s", path, r == -EINVAL ? why : strerror(-r));
                token_entries_free(p.v, p.n);
                return r;
        }
        qsort(p.v, p.n, sizeof(*p.v), digest_cmp);
        for (size_t i = 1; i < p.n; i++)
                if (memcmp(p.v[i - 1].digest, p.v[i].digest, 32) == 0) {
                        snprintf(err, err_size, "%s: lines %u and %u hold the same token", path,
                                 p.v[i - 1].line < p.v[i].line ? p.v[i - 1].line : p.v[i].line,
                                 p.v[i - 1].line < p.v[i].line ? p.v[i].line : p.v[i - 1].line);
                        token_entries_free(p.v, p.n);
                        return -EINVAL;
                }
        *ret_v = p.v;
        *ret_n = p.n;
        *ret_st = st;
        return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Group read is how a Secret volume with fsGroup reaches a non-root memschedd; anyone else
 * reading, or anyone but the owner writing, is worth a warning. */
static void warn_if_readable(const char *path, const struct stat *st)
{
        if (st->st_mode & 0027)
                log_warning("Token file %s can be read by others or written by group or others "
                            "(mode %04o): make it 0600, 0640 or 0400 (a Secret volume's "
                            "defaultMode)",
                            path, (unsigned)(st->st_mode & 07777));
}

/* Re-reads the file when stat(2) says it changed (a rewrite, a rename over it, or a Secret
 * volume's symlink swap). A file that cannot be read or parsed keeps the previous tokens: it may
 * be half-way through its rotation. Call with the lock held. */
static void tokens_refresh(struct token_store *s)
{
        struct stat st;
        char err[512];
        struct token_entry *v = NULL;
        size_t n = 0;
        if (stat(s->path, &st) == 0 && same_file(&st, &s->st))
                return;
        int r = token_table_read(s->path, &v, &n, &st, err, sizeof(err));
        if (r < 0) {
                if (!s->reload_failed_logged)
                        log_warning("Failed to re-read the token file: %s; keeping the %zu "
                                    "tokens read before",
                                    err, s->n);
                s->reload_failed_logged = true;
                return;
        }
        token_entries_free(s->v, s->n);
        s->v = v;
        s->n = n;
        s->st = st;
        s->reload_failed_logged = false;
        warn_if_readable(s->path, &st);
        log_info("Token file %s changed: %zu tokens now", s->path, n);
}

/* The identity (user name) of a bearer token into ret; false when the file holds no such token. */
static bool tokens_lookup(struct token_store *s, const char *token, size_t len, char *ret,
                          size_t size)
{
        struct token_entry key;
        bool found = false;
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, key.digest) < 0)
                return false;
        pthread_mutex_lock(&s->lock);
        tokens_refresh(s);
        const struct token_entry *e =
            s->n ? bsearch(&key, s->v, s->n, sizeof(*s->v), digest_cmp) : NULL;
        if (e) {
                snprintf(ret, size, "%s", e->identity);
                found = true;
        }
        pthread_mutex_unlock(&s->lock);
        explicit_bzero(key.digest, sizeof(key.digest));
        return found;
}

int tokens_load(struct server *srv)
{
        char err[512];
        struct token_store *s = calloc(1, sizeof(*s));
        if (!s)
                return log_error_errno(ENOMEM, "Failed to read the token file: %m");
        pthread_mutex_init(&s->lock, NULL);
        srv->tokens = s;
        s->path = strdup(srv->cfg.token_file_path);
        if (!s->path)
                return log_error_errno(ENOMEM, "Failed to read the token file: %m");
        int r = token_table_read(s->path, &s->v, &s->n, &s->st, err, sizeof(err));
        if (r < 0) {
                log_error("Failed to read the token file (tokenFile) %s; it holds "
                          "token,user,uid[,groups] lines, as kube-apiserver's --token-auth-file",
                          err);
                return -EINVAL;
        }
        warn_if_readable(s->path, &s->st);
        log_info("Bearer tokens from %s: %zu identities; re-read when it changes", s->path, s->n);
        return 0;
}

void tokens_free(struct token_store *s)
{
        if (!s)
                return;
        token_entries_free(s->v, s->n);
        pthread_mutex_destroy(&s->lock);
        free(s->path);
        free(s);
}

/* ---------- who may change state ---------- */

static bool peer_is_loopback(struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        return ci && ci->client_addr && sockaddr_is_loopback(ci->client_addr);
}

/* Reads are open; state changes (node reports, pool offers, binds, leases) need an identity:
 * over HTTPS a verified client certificate or, with tokenFile, a bearer token; over plain HTTP
 * (loopback only, unless --insecure) the local host is trusted, and so is the network with
 * --insecure unless tokenFile asks other hosts for a token. A token sent without a valid
 * certificate is always checked: a wrong one is refused even where none is needed, as
 * kube-apiserver does. A report or offer must come from the node itself. */
static bool route_changes_state(const struct request *rq)
{
        switch (rq->route) {
        case ROUTE_NODE_REPORT:
        case ROUTE_EXTENDER_BIND:
        case ROUTE_POOL:
        case ROUTE_LEASE_RENEW:
                return true;
        case ROUTE_LEASES:
                return rq->method == M_POST;
        case ROUTE_LEASE:
                return rq->method == M_DELETE;
        default:
                return false;
        }
}

/* RFC 6750's challenges: credentials missing, or not valid. */
#define CHALLENGE_MISSING "Bearer realm=\"memschedd\""
#define CHALLENGE_INVALID "Bearer realm=\"memschedd\", error=\"invalid_token\""

enum MHD_Result check_identity(struct server *srv, struct MHD_Connection *conn, struct request *rq)
{
        char who[256] = "";
        const char *how;
        if (!route_changes_state(rq))
                return MHD_YES;
        const char *auth = srv->tokens ? MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                     MHD_HTTP_HEADER_AUTHORIZATION)
                                       : NULL;
        if (srv->tls && client_identity(conn, who, sizeof(who)) == 0) {
                how = "client certificate";
        } else if (auth) {
                const char *token;
                size_t len;
                int r = http_bearer_token(auth, &token, &len);
                if (r < 0 || !tokens_lookup(srv->tokens, token, len, who, sizeof(who))) {
                        rq->challenge = CHALLENGE_INVALID;
                        return respond_error(
                            conn, rq, 401, NULL, "%s",
                            r == -ENOENT ? "this request changes state: its Authorization is "
                                           "not a bearer token (Authorization: Bearer TOKEN)"
                            : r < 0      ? "this request changes state: its bearer token is "
                                           "malformed (RFC 6750)"
                                         : "this request changes state: its bearer token is "
                                           "not in memschedd's token file (rotated?)");
                }
                how = "token";
        } else if (srv->tls) {
                if (!srv->tokens)
                        return respond_error(conn, rq, 403, NULL,
                                             "this request changes state: it needs a client "
                                             "certificate signed by the configured CA");
                rq->challenge = CHALLENGE_MISSING;
                return respond_error(conn, rq, 401, NULL,
                                     "this request changes state: it needs a client certificate "
                                     "signed by the configured CA or a bearer token "
                                     "(Authorization: Bearer TOKEN)");
        } else if (srv->tokens && !peer_is_loopback(conn)) {
                /* Plain HTTP off loopback (--insecure) with tokens: other hosts need one. */
                rq->challenge = CHALLENGE_MISSING;
                return respond_error(conn, rq, 401, NULL,
                                     "this request changes state: from another host it needs a "
                                     "bearer token (Authorization: Bearer TOKEN)");
        } else {
                return MHD_YES; /* plain HTTP: the local host (or, --insecure, anyone) */
        }
        if ((rq->route == ROUTE_NODE_REPORT || rq->route == ROUTE_POOL) &&
            strcmp(who, rq->node) != 0)
                return respond_error(conn, rq, 403, rq->param_field,
                                     "%s: a %s for \"%.64s\" may only %s for that node, not \"%s\"",
                                     rq->param_field, how, who,
                                     rq->route == ROUTE_POOL ? "offer memory" : "report", rq->node);
        /* Leases: the routes check the consumer named in the body or the lease. */
        snprintf(rq->identity, sizeof(rq->identity), "%s", who);
        return MHD_YES;
}

/* A PEM file read whole (certificate chains and keys are a few KiB). */
static int read_pem(const char *path, const char *what, char **ret)
{
        const size_t cap = 256 * 1024;
        char *buf = malloc(cap);
        if (!buf)
                return log_error_errno(ENOMEM, "Failed to read %s: %m", path);
        ssize_t n = read_file_at(AT_FDCWD, path, buf, cap);
        if (n < 0) {
                free(buf);
                return log_error_errno((int)-n, "Failed to read the %s %s: %m", what, path);
        }
        buf[n] = '\0';
        *ret = buf;
        return 0;
}

int load_tls(struct server *srv)
{
        int r;
        if ((r = read_pem(srv->cfg.tls_cert_path, "TLS certificate", &srv->tls_cert_pem)) < 0 ||
            (r = read_pem(srv->cfg.tls_key_path, "TLS key", &srv->tls_key_pem)) < 0 ||
            (r = read_pem(srv->cfg.client_ca_path, "client CA", &srv->client_ca_pem)) < 0)
                return r;
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
                return log_error_errno(EOPNOTSUPP, "libmicrohttpd was built without TLS");
        return 0;
}
