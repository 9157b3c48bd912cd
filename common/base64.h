// SPDX-License-Identifier: Apache-2.0
// Base64 (RFC 4648 section 4, the standard alphabet, padded): the encoding of bytes in etcd's
// JSON gateway and in a kubeconfig's *-data fields.
#pragma once

#include <stddef.h>

/* A malloc'ed NUL-terminated encoding of data[0..n), or NULL on OOM. */
char *base64_encode(const void *data, size_t n);

/* Decodes s[0..len) strictly as Go's base64.StdEncoding does: padding required, '=' only at the
 * end, line breaks ("\r", "\n") ignored, anything else outside the alphabet refused. Returns 0
 * with a malloc'ed buffer in *ret (NUL-terminated, so text stays usable as a string) and its
 * length in *ret_size (may be NULL); -EBADMSG when s is not base64; -ENOMEM. */
int base64_decode(const char *s, size_t len, char **ret, size_t *ret_size);
