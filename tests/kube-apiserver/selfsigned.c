// SPDX-License-Identifier: Apache-2.0
// --self-signed-ca-out: the CA and server certificate of kube-test-lib.sh's kube_test_certs,
// made with GnuTLS's x509 API instead of openssl, which the guest's initramfs does not have.
// ECDSA P-256 rather than RSA: key generation is instant even under QEMU/TCG.
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "selfsigned.h"

#define CERT_VALID_SEC (30 * 24 * 3600)
/* Clocks of the guest and of whoever checks the certificate may differ a little. */
#define CERT_BACKDATE_SEC 3600

static int fail(const char *what, int gr)
{
        fprintf(stderr, "kube-test-apiserver: self-signed certificate: %s: %s\n", what,
                gnutls_strerror(gr));
        return -EINVAL;
}

static char *datum_to_string(const gnutls_datum_t *d)
{
        char *s = malloc(d->size + 1);
        if (s) {
                memcpy(s, d->data, d->size);
                s[d->size] = '\0';
        }
        return s;
}

/* The fields both certificates share: version 3, a random positive serial, validity. */
static int cert_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *dn)
{
        unsigned char serial[16];
        int gr = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
        if (gr < 0)
                return fail("random serial", gr);
        serial[0] &= 0x7f; /* DER INTEGER: positive */
        serial[0] |= 0x01; /* and without a leading zero byte */
        time_t now = time(NULL);
        const char *err = NULL;
        if ((gr = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
            (gr = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
            (gr = gnutls_x509_crt_set_activation_time(crt, now - CERT_BACKDATE_SEC)) < 0 ||
            (gr = gnutls_x509_crt_set_expiration_time(crt, now + CERT_VALID_SEC)) < 0 ||
            (gr = gnutls_x509_crt_set_dn(crt, dn, &err)) < 0 ||
            (gr = gnutls_x509_crt_set_key(crt, key)) < 0)
                return fail(dn, gr);
        unsigned char id[64];
        size_t id_size = sizeof(id);
        if ((gr = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, id, &id_size)) < 0 ||
            (gr = gnutls_x509_crt_set_subject_key_id(crt, id, id_size)) < 0)
                return fail("subject key id", gr);
        return 0;
}

static int new_key(gnutls_x509_privkey_t *ret_key)
{
        gnutls_x509_privkey_t key;
        int gr = gnutls_x509_privkey_init(&key);
        if (gr < 0)
                return fail("key", gr);
        gr = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
        if (gr < 0) {
                gnutls_x509_privkey_deinit(key);
                return fail("ECDSA P-256 key", gr);
        }
        *ret_key = key;
        return 0;
}

int selfsigned_make(char **ret_ca_pem, char **ret_cert_pem, char **ret_key_pem)
{
        gnutls_x509_privkey_t ca_key = NULL, srv_key = NULL;
        gnutls_x509_crt_t ca = NULL, srv = NULL;
        gnutls_datum_t ca_pem = { 0 }, srv_pem = { 0 }, key_pem = { 0 };
        char *ca_s = NULL, *srv_s = NULL, *key_s = NULL;
        unsigned char ca_id[64];
        size_t ca_id_size = sizeof(ca_id);
        static const unsigned char loopback[4] = { 127, 0, 0, 1 };
        int r, gr;

        if ((r = new_key(&ca_key)) < 0 || (r = new_key(&srv_key)) < 0)
                goto out;
        if ((gr = gnutls_x509_crt_init(&ca)) < 0 || (gr = gnutls_x509_crt_init(&srv)) < 0) {
                r = fail("certificate", gr);
                goto out;
        }

        if ((r = cert_common(ca, ca_key, "CN=kube-test-ca")) < 0)
                goto out;
        if ((gr = gnutls_x509_crt_set_basic_constraints(ca, 1, -1)) < 0 ||
            (gr = gnutls_x509_crt_set_key_usage(ca, GNUTLS_KEY_KEY_CERT_SIGN |
                                                        GNUTLS_KEY_CRL_SIGN)) < 0 ||
            (gr = gnutls_x509_crt_sign2(ca, ca, ca_key, GNUTLS_DIG_SHA256, 0)) < 0 ||
            (gr = gnutls_x509_crt_get_subject_key_id(ca, ca_id, &ca_id_size, NULL)) < 0) {
                r = fail("CA", gr);
                goto out;
        }

        if ((r = cert_common(srv, srv_key, "CN=localhost")) < 0)
                goto out;
        if ((gr = gnutls_x509_crt_set_basic_constraints(srv, 0, -1)) < 0 ||
            (gr = gnutls_x509_crt_set_key_usage(srv, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
            (gr = gnutls_x509_crt_set_key_purpose_oid(srv, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
            (gr = gnutls_x509_crt_set_subject_alt_name(srv, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                                       GNUTLS_FSAN_APPEND)) < 0 ||
            (gr = gnutls_x509_crt_set_subject_alt_name(srv, GNUTLS_SAN_IPADDRESS, loopback,
                                                       sizeof(loopback), GNUTLS_FSAN_APPEND)) < 0 ||
            (gr = gnutls_x509_crt_set_authority_key_id(srv, ca_id, ca_id_size)) < 0 ||
            (gr = gnutls_x509_crt_sign2(srv, ca, ca_key, GNUTLS_DIG_SHA256, 0)) < 0) {
                r = fail("server certificate", gr);
                goto out;
        }

        if ((gr = gnutls_x509_crt_export2(ca, GNUTLS_X509_FMT_PEM, &ca_pem)) < 0 ||
            (gr = gnutls_x509_crt_export2(srv, GNUTLS_X509_FMT_PEM, &srv_pem)) < 0 ||
            (gr = gnutls_x509_privkey_export2(srv_key, GNUTLS_X509_FMT_PEM, &key_pem)) < 0) {
                r = fail("PEM export", gr);
                goto out;
        }
        ca_s = datum_to_string(&ca_pem);
        srv_s = datum_to_string(&srv_pem);
        key_s = datum_to_string(&key_pem);
        if (!ca_s || !srv_s || !key_s) {
                r = -ENOMEM;
                goto out;
        }
        *ret_ca_pem = ca_s;
        *ret_cert_pem = srv_s;
        *ret_key_pem = key_s;
        ca_s = srv_s = key_s = NULL;
        r = 0;
out:
        free(ca_s);
        free(srv_s);
        if (key_s) {
                explicit_bzero(key_s, strlen(key_s));
                free(key_s);
        }
        gnutls_free(ca_pem.data);
        gnutls_free(srv_pem.data);
        if (key_pem.data) {
                explicit_bzero(key_pem.data, key_pem.size);
                gnutls_free(key_pem.data);
        }
        if (ca)
                gnutls_x509_crt_deinit(ca);
        if (srv)
                gnutls_x509_crt_deinit(srv);
        if (ca_key)
                gnutls_x509_privkey_deinit(ca_key);
        if (srv_key)
                gnutls_x509_privkey_deinit(srv_key);
        return r;
}
