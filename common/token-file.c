// SPDX-License-Identifier: Apache-2.0
// Bearer tokens: reading a client's token file, the Authorization header, and kube-apiserver's
// static token file format. See common/token-file.h.
#include "common/token-file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/fileio.h"
#include "common/macro.h"

int token_file_read(const char *path, char **ret)
{
        _cleanup_free_ char *buf = malloc(TOKEN_FILE_MAX_BYTES + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = read_file_at(AT_FDCWD, path, buf, TOKEN_FILE_MAX_BYTES + 1);
        if (n < 0)
                return (int)n;
        buf[n] = '\0';
        size_t start = 0, end = (size_t)n;
        while (start < end && isspace((unsigned char)buf[start]))
                start++;
        while (end > start && isspace((unsigned char)buf[end - 1]))
                end--;
        int r = 0;
        if (start == end)
                r = -EINVAL;
        for (size_t i = start; r == 0 && i < end; i++)
                if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] >= 0x7f)
                        r = -EINVAL;
        char *d = r == 0 ? strndup(buf + start, end - start) : NULL;
        if (r == 0 && !d)
                r = -ENOMEM;
        explicit_bzero(buf, (size_t)n);
        if (r < 0)
                return r;
        *ret = d;
        return 0;
}

bool token_is_b64token(const char *s, size_t n)
{
        size_t i = 0;
        while (i < n && (isalnum((unsigned char)s[i]) || strchr("-._~+/", s[i])) && s[i])
                i++;
        if (i == 0)
                return false;
        while (i < n && s[i] == '=')
                i++;
        return i == n;
}

int http_bearer_token(const char *value, const char **ret_token, size_t *ret_len)
{
        const char *p = value;
        while (*p == ' ' || *p == '\t')
                p++;
        if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] && p[6] != ' ' && p[6] != '\t'))
                return -ENOENT;
        p += 6;
        while (*p == ' ' || *p == '\t')
                p++;
        const char *t = p;
        while (*p && *p != ' ' && *p != '\t')
                p++;
        size_t n = (size_t)(p - t);
        while (*p == ' ' || *p == '\t')
                p++;
        if (*p || n == 0 || n > TOKEN_MAX_BYTES || !token_is_b64token(t, n))
                return -EINVAL;
        *ret_token = t;
        *ret_len = n;
        return 0;
}

/* ---- kube-apiserver's static token file ----------------------------------------------------- */

static int csv_error(char *err, size_t err_size, const char *fmt, ...) _printf_(3, 4);
static int csv_error(char *err, size_t err_size, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* Whether text[i] ends a record: the text's end, LF, or CRLF (a lone CR at the very end too). */
static bool at_record_end(const char *text, size_t i, size_t len)
{
        return i >= len || text[i] == '\n' ||
               (text[i] == '\r' && (i + 1 >= len || text[i + 1] == '\n'));
}

/* The fields kept of one record: token, user, uid (the groups and any more are counted only). */
#define KEPT_FIELDS 3

int token_csv_parse(const char *text, size_t len, token_record_fn fn, void *userdata, char *err,
                    size_t err_size)
{
        /* One record's fields, unquoted, each ending in NUL: at most twice the text. */
        _cleanup_free_ char *buf = malloc(2 * len + 2);
        unsigned line = 1;
        size_t i = 0;
        int r = 0;

        if (!buf)
                return -ENOMEM;
        while (i < len && r == 0) {
                if (at_record_end(text, i, len)) { /* a blank line */
                        i += text[i] == '\r' ? 2 : 1;
                        line++;
                        continue;
                }
                unsigned record_line = line, nf = 0;
                size_t off[KEPT_FIELDS] = { 0 }, flen[KEPT_FIELDS] = { 0 }, o = 0;
                for (;;) {
                        size_t start = o;
                        if (i < len && text[i] == '"') {
                                for (i++;; i++) {
                                        if (i >= len)
                                                return csv_error(err, err_size,
                                                                 "line %u: a quoted field is not "
                                                                 "closed",
                                                                 record_line);
                                        if (text[i] == '"' && i + 1 < len && text[i + 1] == '"')
                                                buf[o++] = text[i++];
                                        else if (text[i] == '"')
                                                break;
                                        else {
                                                line += text[i] == '\n';
                                                buf[o++] = text[i];
                                        }
                                }
                                i++; /* the closing quote */
                                if (i < len && text[i] != ',' && !at_record_end(text, i, len))
                                        return csv_error(err, err_size,
                                                         "line %u: text after a quoted field's "
                                                         "closing quote",
                                                         line);
                        } else {
                                for (; i < len && text[i] != ',' && !at_record_end(text, i, len);
                                     i++) {
                                        if (text[i] == '"')
                                                return csv_error(err, err_size,
                                                                 "line %u: a quote inside a field "
                                                                 "that does not start with one",
                                                                 line);
                                        buf[o++] = text[i];
                                }
                        }
                        buf[o++] = '\0';
                        if (nf < KEPT_FIELDS) {
                                off[nf] = start;
                                flen[nf] = o - 1 - start;
                        }
                        nf++;
                        if (i < len && text[i] == ',') {
                                i++;
                                continue;
                        }
                        break;
                }
                if (i < len) { /* the record's end: LF, CRLF or a final CR */
                        i += text[i] == '\r' ? 2 : 1;
                        line++;
                }
                if (nf < 3)
                        return csv_error(err, err_size,
                                         "line %u: %u field%s, need token,user,uid[,groups]",
                                         record_line, nf, nf == 1 ? "" : "s");
                if (flen[0] > TOKEN_MAX_BYTES)
                        return csv_error(err, err_size,
                                         "line %u: the token is longer than %d bytes", record_line,
                                         TOKEN_MAX_BYTES);
                if (!token_is_b64token(buf + off[0], flen[0]))
                        return csv_error(err, err_size, "line %u: the token is %s", record_line,
                                         flen[0] ? "not what an Authorization: Bearer header can "
                                                   "carry (RFC 6750 b64token: letters, digits, "
                                                   "-._~+/ and trailing =)"
                                                 : "empty");
                if (flen[1] == 0 || strlen(buf + off[1]) != flen[1])
                        return csv_error(err, err_size, "line %u: the user name is empty%s",
                                         record_line, flen[1] ? " or holds a NUL" : "");
                r = fn(buf + off[0], flen[0], buf + off[1], buf + off[2], record_line, userdata);
                explicit_bzero(buf, o);
        }
        return r;
}
