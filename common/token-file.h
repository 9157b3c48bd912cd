// SPDX-License-Identifier: Apache-2.0
// Bearer tokens (RFC 6750) at both ends, and never in a log line: the one token a client presents,
// read from a file that may be rotated under it (memagentd's schedulerTokenFile, a Kubernetes
// service account's token); the static token file a server checks tokens against (memschedd's
// tokenFile, in kube-apiserver's --token-auth-file format); and the Authorization header that
// carries them.
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A token file is small: a service account's JWT is a few KiB. */
#define TOKEN_FILE_MAX_BYTES (64 * 1024)
/* The longest token memschedd's token file may hold, and so the longest it accepts. */
#define TOKEN_MAX_BYTES 4096

/* Reads the token in path: the file whole, surrounding white space trimmed. Returns 0 with *ret
 * (free it; explicit_bzero first if you care), or a negative errno: from opening or reading,
 * -EFBIG over TOKEN_FILE_MAX_BYTES, -EINVAL when it is empty or holds a byte that is not visible
 * ASCII (a token with a line break would end the Authorization header and start another). */
int token_file_read(const char *path, char **ret);

/* Whether s[0..n) is RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 * *"=", which is what an Authorization: Bearer header can carry. */
bool token_is_b64token(const char *s, size_t n);

/* The token of an Authorization header's value: scheme "Bearer" (any case), one or more spaces,
 * a b64token, nothing after it but spaces or tabs. Returns 0 with *ret_token pointing into value
 * and its length, -ENOENT when value is another scheme (Basic, ...), or -EINVAL when the Bearer
 * credentials are malformed (empty, not a b64token, longer than TOKEN_MAX_BYTES). */
int http_bearer_token(const char *value, const char **ret_token, size_t *ret_len);

/* One record of a static token file: token,user,uid[,groups...] (kube-apiserver's format). The
 * strings are valid during the call only; line is 1-based. Return 0 to go on, or a negative errno
 * to stop parsing with it. */
typedef int (*token_record_fn)(const char *token, size_t token_len, const char *user,
                               const char *uid, unsigned line, void *userdata);

/* Parses a static token file's text: CSV (RFC 4180: "quoted" fields with "" for a quote, LF or
 * CRLF line ends), one record a line, blank lines skipped, at least three fields (token, user
 * name, user uid; a fourth, the groups, is accepted and ignored), the token a non-empty
 * b64token no longer than TOKEN_MAX_BYTES, the user name not empty. Calls fn for each record.
 * Returns 0, fn's error, or -EINVAL with "line N: why" in err (never the token). */
int token_csv_parse(const char *text, size_t len, token_record_fn fn, void *userdata, char *err,
                    size_t err_size);
