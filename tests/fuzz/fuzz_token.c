// SPDX-License-Identifier: Apache-2.0
// Bearer tokens (common/token-file.h): the static token file parser memschedd reads its tokenFile
// with, and the Authorization header parser, on the same text. Beyond the sanitizers, their
// contracts: the CSV parser returns 0 or -EINVAL, calls back with non-empty b64tokens no longer
// than TOKEN_MAX_BYTES, non-empty user names and increasing line numbers, and its error text
// never holds a token it accepted; the header parser returns 0, -ENOENT or -EINVAL, and on 0 a
// b64token inside the value.
#include <string.h>

#include "common/token-file.h"
#include "tests/fuzz/fuzz.h"

struct seen {
        unsigned last_line;
        char first_token[64];
};

static int on_record(const char *token, size_t token_len, const char *user, const char *uid,
                     unsigned line, void *userdata)
{
        struct seen *s = userdata;
        (void)uid;
        if (token_len == 0 || token_len > TOKEN_MAX_BYTES || !token_is_b64token(token, token_len))
                fuzz_fail("line %u: a token that is not a b64token of 1..%d bytes", line,
                          TOKEN_MAX_BYTES);
        if (!*user)
                fuzz_fail("line %u: an empty user name", line);
        if (line <= s->last_line)
                fuzz_fail("line %u after line %u", line, s->last_line);
        s->last_line = line;
        /* 16 bytes and more: no run of the error messages without a space is that long. */
        if (!s->first_token[0] && token_len >= 16 && token_len < sizeof(s->first_token))
                memcpy(s->first_token, token, token_len);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct seen s = { 0 };
        char err[256] = "";
        int r = token_csv_parse((const char *)data, size, on_record, &s, err, sizeof(err));
        if (r != 0 && r != -EINVAL)
                fuzz_fail("token_csv_parse returned %d", r);
        if (r == -EINVAL && (!err[0] || strncmp(err, "line ", 5) != 0))
                fuzz_fail("token_csv_parse: -EINVAL with \"%s\", not \"line N: why\"", err);
        if (r == -EINVAL && s.first_token[0] && strstr(err, s.first_token))
                fuzz_fail("token_csv_parse: the error shows a token: %s", err);

        _cleanup_free_ char *value = fuzz_strndup(data, size);
        const char *token = NULL;
        size_t len = 0;
        r = http_bearer_token(value, &token, &len);
        if (r != 0 && r != -ENOENT && r != -EINVAL)
                fuzz_fail("http_bearer_token returned %d", r);
        if (r == 0 && (token < value || token + len > value + strlen(value) ||
                       !token_is_b64token(token, len) || len > TOKEN_MAX_BYTES))
                fuzz_fail("http_bearer_token: a token outside the value or not a b64token");
        return 0;
}
