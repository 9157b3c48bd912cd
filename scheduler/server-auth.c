// SPDX-License-Identifier: Apache-2.0
// Who may change memschedd's state: over HTTPS a client certificate verified against clientCA
// (for a node's report or offer, one naming that node); over plain HTTP, which is loopback
// unless --insecure, the local host. And the PEM files libmicrohttpd serves HTTPS with.
#include "scheduler/server-private.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/log.h"

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

/* Reads are open; state changes (node reports, binds) need an identity: over HTTPS a verified
 * client certificate, for a report one naming the node itself; over plain HTTP (loopback only,
 * unless --insecure) the local host is trusted. Returns MHD_YES to go on, or the 403 queued. */
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

enum MHD_Result check_identity(struct server *srv, struct MHD_Connection *conn, struct request *rq)
{
        char cn[256] = "";
        if (!srv->tls || !route_changes_state(rq))
                return MHD_YES;
        if (client_identity(conn, cn, sizeof(cn)) < 0)
                return respond_error(conn, rq, 403, NULL,
                                     "this request changes state: it needs a client certificate "
                                     "signed by the configured CA");
        if ((rq->route == ROUTE_NODE_REPORT || rq->route == ROUTE_POOL) &&
            strcmp(cn, rq->node) != 0)
                return respond_error(conn, rq, 403, rq->param_field,
                                     "%s: a client certificate for \"%.64s\" may only %s "
                                     "for that node, not \"%s\"",
                                     rq->param_field, cn,
                                     rq->route == ROUTE_POOL ? "offer memory" : "report", rq->node);
        /* Leases: the routes check the consumer named in the body or the lease. */
        snprintf(rq->identity, sizeof(rq->identity), "%s", cn);
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
