// SPDX-License-Identifier: Apache-2.0
// The text of strings: UTF-8 and the table's item check on the way in, a YAML double-quoted
// scalar on the way out, and the item checks that tables share (non-empty, absolute path,
// http(s) URL with a valid host and port).
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/config-internal.h"
#include "common/macro.h"

static bool utf8_is_valid(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                unsigned n;
                uint32_t cp;
                if (*p < 0x80) {
                        p++;
                        continue;
                } else if ((*p & 0xe0) == 0xc0) {
                        n = 1;
                        cp = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2;
                        cp = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3;
                        cp = *p & 0x07;
                } else
                        return false;
                p++;
                for (unsigned i = 0; i < n; i++, p++) {
                        if ((*p & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (*p & 0x3f);
                }
                /* overlong forms, surrogates, beyond Unicode */
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
        }
        return true;
}

int config_check_string(const struct config_entry *e, const char *s, char *why, size_t why_size)
{
        char q[CONFIG_QUOTE_MAX + 8], sub[CONFIG_ERR_MAX];

        if (!utf8_is_valid(s))
                return config_errf(why, why_size, -EINVAL, "%s is not valid UTF-8",
                                   config_quote(s, q, sizeof(q)));
        if (e->check && e->check(s, sub, sizeof(sub)) < 0)
                return config_errf(why, why_size, -EINVAL, "%s: %s", config_quote(s, q, sizeof(q)),
                                   sub);
        return 0;
}

/* s as a YAML double-quoted scalar, exactly: what libyaml reads back to the same bytes. C0 and C1
 * controls and DEL are escaped (YAML does not allow them raw); other UTF-8 is written as is. */
void config_fprint_yaml_string(FILE *f, const char *s)
{
        const unsigned char *p = (const unsigned char *)(s ? s : "");
        fputc('"', f);
        for (; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
                        fprintf(f, "\\x%02x", p[1]); /* U+0080..U+009F */
                        p++;
                } else
                        fputc(*p, f);
        }
        fputc('"', f);
}

/* ---- Item checks that tables share ---------------------------------------------------------- */

int config_check_not_empty(const char *s, char *err, size_t err_size)
{
        if (*s)
                return 0;
        return config_errf(err, err_size, -EINVAL, "must not be empty");
}

int config_check_absolute_path(const char *s, char *err, size_t err_size)
{
        if (s[0] == '/')
                return 0;
        return config_errf(err, err_size, -EINVAL, "must be an absolute path");
}

int config_check_optional_absolute_path(const char *s, char *err, size_t err_size)
{
        return *s ? config_check_absolute_path(s, err, err_size) : 0;
}

/* The authority of an http(s) URL: a host name or IPv4 address, or an [IPv6] address, and an
 * optional :port in 1..65535. No user information: credentials do not belong in a setting. */
static bool url_authority_valid(const char *a, size_t n)
{
        size_t i = 0, host_end;
        if (n == 0)
                return false;
        if (a[0] == '[') {
                const char *close = memchr(a, ']', n);
                if (!close || close == a + 1)
                        return false;
                for (const char *p = a + 1; p < close; p++)
                        if (!(isxdigit((unsigned char)*p) || *p == ':' || *p == '.'))
                                return false;
                host_end = (size_t)(close - a) + 1;
        } else {
                for (i = 0; i < n && a[i] != ':'; i++)
                        if (!(isalnum((unsigned char)a[i]) || a[i] == '.' || a[i] == '-' ||
                              a[i] == '_'))
                                return false;
                if (i == 0)
                        return false;
                host_end = i;
        }
        if (host_end == n)
                return true;
        if (a[host_end] != ':' || host_end + 1 == n || n - host_end - 1 > 5)
                return false;
        unsigned long port = 0;
        for (size_t k = host_end + 1; k < n; k++) {
                if (!isdigit((unsigned char)a[k]))
                        return false;
                port = port * 10 + (unsigned long)(a[k] - '0');
        }
        return port >= 1 && port <= 65535;
}

int config_check_http_url(const char *s, char *err, size_t err_size)
{
        const char *rest;
        if (!*s)
                return 0;
        if (strncmp(s, "http://", 7) == 0)
                rest = s + 7;
        else if (strncmp(s, "https://", 8) == 0)
                rest = s + 8;
        else
                return config_errf(err, err_size, -EINVAL,
                                   "must be an http:// or https:// URL, or \"\" for none");
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
                        return config_errf(err, err_size, -EINVAL,
                                           "is not a URL: it holds a space or a control or "
                                           "non-ASCII character");
        size_t n = strcspn(rest, "/?#");
        if (!url_authority_valid(rest, n))
                return config_errf(err, err_size, -EINVAL,
                                   "is not a URL: \"%.*s\" is not HOST, HOST:PORT or "
                                   "[IPv6]:PORT (port 1-65535)",
                                   (int)(n > 80 ? 80 : n), rest);
        return 0;
}
