// SPDX-License-Identifier: Apache-2.0
// A CA and a server certificate made in memory at start (--self-signed-ca-out), for places
// without openssl such as the QEMU guest's initramfs.
#pragma once

/* Generates a CA and a server certificate (CN localhost, SANs DNS:localhost and IP:127.0.0.1)
 * signed by it, ECDSA P-256, valid from an hour ago for 30 days. On success *ret_ca_pem,
 * *ret_cert_pem and *ret_key_pem are malloc'ed NUL-terminated PEM texts the caller frees; on
 * failure they are untouched and a negative errno comes back (the reason is printed). */
int selfsigned_make(char **ret_ca_pem, char **ret_cert_pem, char **ret_key_pem);
