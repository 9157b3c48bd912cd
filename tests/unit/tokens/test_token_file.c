// SPDX-License-Identifier: Apache-2.0
// common/token-file: the token a client reads (trimmed, refused when empty or when it could break
// a header), the Authorization: Bearer parser (scheme in any case, RFC 6750 b64token, nothing
// after it), and kube-apiserver's static token file (CSV with quotes, CRLF, blank lines, groups
// ignored, errors by line that never show the token).
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/token-file.h"

static char dir[64];

static const char *write_file(const char *name, const char *text)
{
        static char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
        return path;
}

static void test_token_file_read(void **state)
{
        (void)state;
        char *t = NULL;
        assert_int_equal(token_file_read(write_file("a", "  abc.def-_~+/==\n"), &t), 0);
        assert_string_equal(t, "abc.def-_~+/==");
        free(t);
        assert_int_equal(token_file_read(write_file("b", " \n\t"), &t), -EINVAL);
        /* A line break inside would end the header and start another. */
        assert_int_equal(token_file_read(write_file("c", "abc\r\nX-Evil: 1"), &t), -EINVAL);
        assert_int_equal(token_file_read(write_file("d", "abc def"), &t), -EINVAL);
        char missing[128];
        snprintf(missing, sizeof(missing), "%s/missing", dir);
        assert_int_equal(token_file_read(missing, &t), -ENOENT);
        char *big = malloc(TOKEN_FILE_MAX_BYTES + 2);
        assert_non_null(big);
        memset(big, 'a', TOKEN_FILE_MAX_BYTES + 1);
        big[TOKEN_FILE_MAX_BYTES + 1] = '\0';
        assert_int_equal(token_file_read(write_file("e", big), &t), -EFBIG);
        free(big);
}

static void test_bearer_header(void **state)
{
        (void)state;
        const char *t;
        size_t n;
        assert_int_equal(http_bearer_token("Bearer abc123", &t, &n), 0);
        assert_int_equal(n, 6);
        assert_memory_equal(t, "abc123", 6);
        assert_int_equal(http_bearer_token("bearer   x.y/z==  ", &t, &n), 0);
        assert_int_equal(n, 7);
        assert_memory_equal(t, "x.y/z==", 7);
        assert_int_equal(http_bearer_token("BEARER\ttok", &t, &n), 0);
        assert_int_equal(n, 3);
        /* Other schemes are not ours; a Bearer without a proper token is malformed. */
        assert_int_equal(http_bearer_token("Basic dXNlcjpwdw==", &t, &n), -ENOENT);
        assert_int_equal(http_bearer_token("Bearerabc", &t, &n), -ENOENT);
        assert_int_equal(http_bearer_token("", &t, &n), -ENOENT);
        assert_int_equal(http_bearer_token("Bearer", &t, &n), -EINVAL);
        assert_int_equal(http_bearer_token("Bearer   ", &t, &n), -EINVAL);
        assert_int_equal(http_bearer_token("Bearer a b", &t, &n), -EINVAL);
        assert_int_equal(http_bearer_token("Bearer a=b", &t, &n), -EINVAL);
        assert_int_equal(http_bearer_token("Bearer ==", &t, &n), -EINVAL);
        assert_int_equal(http_bearer_token("Bearer a,b", &t, &n), -EINVAL);
        char *long_one = malloc(TOKEN_MAX_BYTES + 16);
        assert_non_null(long_one);
        strcpy(long_one, "Bearer ");
        memset(long_one + 7, 'a', TOKEN_MAX_BYTES + 1);
        long_one[7 + TOKEN_MAX_BYTES + 1] = '\0';
        assert_int_equal(http_bearer_token(long_one, &t, &n), -EINVAL);
        long_one[7 + TOKEN_MAX_BYTES] = '\0';
        assert_int_equal(http_bearer_token(long_one, &t, &n), 0);
        assert_int_equal(n, TOKEN_MAX_BYTES);
        free(long_one);
}

struct seen {
        char text[1024];
        unsigned records;
};

static int on_record(const char *token, size_t token_len, const char *user, const char *uid,
                     unsigned line, void *userdata)
{
        struct seen *s = userdata;
        size_t at = strlen(s->text);
        snprintf(s->text + at, sizeof(s->text) - at, "%u:%.*s|%s|%s;", line, (int)token_len, token,
                 user, uid);
        s->records++;
        return 0;
}

static int parse(const char *text, struct seen *s, char *err, size_t err_size)
{
        *s = (struct seen){ 0 };
        err[0] = '\0';
        return token_csv_parse(text, strlen(text), on_record, s, err, err_size);
}

static void test_static_token_file(void **state)
{
        (void)state;
        struct seen s;
        char err[256];
        /* kube-apiserver's format, with groups quoted, CRLF, a blank line and a quoted user. */
        assert_int_equal(parse("tok1,w1,uid-1\r\n\ntok2,\"kube-scheduler\",u2,\"g1,g2\"\n"
                               "tok3,\"a \"\"b\"\"\",u3,g,extra",
                               &s, err, sizeof(err)),
                         0);
        assert_int_equal(s.records, 3);
        assert_string_equal(s.text, "1:tok1|w1|uid-1;3:tok2|kube-scheduler|u2;4:tok3|a \"b\"|u3;");
        assert_int_equal(parse("", &s, err, sizeof(err)), 0);
        assert_int_equal(s.records, 0);

        /* Errors name the line, never the token. */
        assert_int_equal(parse("tok1,w1,u\nsecret-tok,w2\n", &s, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "line 2: 2 fields, need token,user,uid[,groups]");
        assert_int_equal(parse(",w1,u\n", &s, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "line 1: the token is empty");
        assert_int_equal(parse("a,b,c\n\nsec ret,w1,u\n", &s, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "line 3: the token is not what an Authorization: Bearer"));
        assert_null(strstr(err, "sec ret"));
        assert_int_equal(parse("tok,,u\n", &s, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "line 1: the user name is empty");
        assert_int_equal(parse("tok,\"w1,u\n", &s, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "line 1: a quoted field is not closed");
        assert_int_equal(parse("tok,\"w1\"x,u\n", &s, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "line 1: text after a quoted field's closing quote");
        assert_int_equal(parse("tok,w\"1,u\n", &s, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "line 1: a quote inside a field"));
        /* A quoted field may span lines: the next record's line number follows. */
        assert_int_equal(parse("t1,w1,u,\"g1\ng2\"\nt2,w2\n", &s, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "line 3: 2 fields, need token,user,uid[,groups]");
}

static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/test-token-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_token_file_read),
                cmocka_unit_test(test_bearer_header),
                cmocka_unit_test(test_static_token_file),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
