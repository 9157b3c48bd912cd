// SPDX-License-Identifier: Apache-2.0
// The request parser is stateless: each call reads the head again from the start of the buffer,
// so that a connection keeps nothing but its bytes. A head is at most 8 KiB and a client that
// sends it a byte at a time is closed by the server's deadline, so re-reading costs little. Each
// complete line is checked as soon as it is there: garbage is refused at once, not after the
// client's idle timeout.
#include "api/http-serve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* tchar, RFC 9110 §5.6.2: what methods and field names are made of. */
static bool is_tchar(unsigned char c)
{
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
                return true;
        return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte of a request target: visible ASCII (RFC 9112 §3.2; '#' starts a fragment, which a
 * request never carries). */
static bool is_target_byte(unsigned char c)
{
        return c > 0x20 && c < 0x7f && c != '#';
}

/* A byte of a field value: VCHAR, obs-text, SP and HTAB (RFC 9110 §5.5); no CR, LF or NUL. */
static bool is_field_byte(unsigned char c)
{
        return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

static bool is_ows(char c)
{
        return c == ' ' || c == '\t';
}

/* Whether s[0..n) is word (lower case) ignoring ASCII case. */
static bool word_eq(const char *s, size_t n, const char *word)
{
        if (n != strlen(word))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
                if (c != word[i])
                        return false;
        }
        return true;
}

static int refuse(struct http_request *ret, unsigned status)
{
        ret->error_status = status;
        return -EBADMSG;
}

/* The head is not complete in size bytes: wait for more, unless the head has no room left. */
static int need_more(struct http_request *ret, size_t size)
{
        return size >= HTTP_REQUEST_HEAD_MAX_BYTES ? refuse(ret, 431) : 0;
}

/* "close" and "keep-alive" among the comma-separated options of a Connection field. */
static void connection_options(const char *v, size_t n, bool *close, bool *keep_alive)
{
        size_t i = 0;
        while (i < n) {
                size_t e = i;
                while (e < n && v[e] != ',')
                        e++;
                size_t a = i, b = e;
                while (a < b && is_ows(v[a]))
                        a++;
                while (b > a && is_ows(v[b - 1]))
                        b--;
                if (word_eq(v + a, b - a, "close"))
                        *close = true;
                else if (word_eq(v + a, b - a, "keep-alive"))
                        *keep_alive = true;
                i = e + 1;
        }
}

/* Content-Length: 1*DIGIT (RFC 9110 §8.6), saturating; -1 when it is not that. */
static long long content_length(const char *v, size_t n)
{
        long long x = 0;
        if (n == 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (v[i] < '0' || v[i] > '9')
                        return -1;
                if (x < 1000000000000LL)
                        x = x * 10 + (v[i] - '0');
        }
        return x;
}

/* The version of a partial request line, v[0..n): whether it can still become "HTTP/d.d" with
 * an optional CR. */
static bool version_prefix_ok(const char *v, size_t n)
{
        static const char pattern[] = "HTTP/9.9\r";
        if (n > sizeof(pattern) - 1)
                return false;
        for (size_t i = 0; i < n; i++) {
                bool ok = pattern[i] == '9' ? v[i] >= '0' && v[i] <= '9' : v[i] == pattern[i];
                if (!ok)
                        return false;
        }
        return true;
}

int http_request_parse(const char *buf, size_t size, struct http_request *ret)
{
        size_t pos = 0;

        ret->method = HTTP_METHOD_OTHER;
        ret->version_minor = 1;
        ret->keep_alive = false;
        ret->path[0] = '\0';
        ret->error_status = 0;

        /* RFC 9112 §2.2: empty lines before the request line are ignored (they count against
         * the head's bound, so that a stream of them ends). */
        for (;;) {
                if (pos < size && buf[pos] == '\n')
                        pos++;
                else if (pos + 1 < size && buf[pos] == '\r' && buf[pos + 1] == '\n')
                        pos += 2;
                else
                        break;
        }
        if (pos >= HTTP_REQUEST_HEAD_MAX_BYTES)
                return refuse(ret, 400);
        /* Nothing yet, or a CR that may start one more empty line. */
        if (pos == size || (pos + 1 == size && buf[pos] == '\r'))
                return 0;

        /* The request line: method SP request-target SP HTTP-version, single spaces (§3). A
         * partial line is checked as far as it goes. */
        const char *lf = memchr(buf + pos, '\n', size - pos);
        size_t end = lf ? (size_t)(lf - buf) : size;
        size_t i = pos;
        while (i < end && is_tchar((unsigned char)buf[i]))
                i++;
        if (i - pos > HTTP_METHOD_MAX_BYTES)
                return refuse(ret, 400);
        if (i == end)
                return lf ? refuse(ret, 400) : need_more(ret, size);
        if (buf[i] != ' ' || i == pos)
                return refuse(ret, 400);
        /* Methods are case-sensitive (RFC 9110 §9.1). */
        if (i - pos == 3 && memcmp(buf + pos, "GET", 3) == 0)
                ret->method = HTTP_METHOD_GET;
        else if (i - pos == 4 && memcmp(buf + pos, "HEAD", 4) == 0)
                ret->method = HTTP_METHOD_HEAD;

        size_t target = ++i;
        while (i < end && is_target_byte((unsigned char)buf[i]))
                i++;
        if (i - target > HTTP_TARGET_MAX_BYTES)
                return refuse(ret, 414);
        if (i == end)
                return lf ? refuse(ret, 400) : need_more(ret, size);
        if (buf[i] != ' ' || i == target)
                return refuse(ret, 400);
        size_t target_end = i;

        size_t version = ++i;
        if (!lf)
                return version_prefix_ok(buf + version, size - version) ? need_more(ret, size)
                                                                        : refuse(ret, 400);
        size_t version_end = end > version && buf[end - 1] == '\r' ? end - 1 : end;
        const char *v = buf + version;
        if (version_end - version != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
            v[6] != '.' || v[7] < '0' || v[7] > '9')
                return refuse(ret, 400);
        if (v[5] != '1')
                return refuse(ret, 505);
        /* §2.3: a higher minor version is answered as the highest this server speaks. */
        ret->version_minor = v[7] == '0' ? 0 : 1;

        /* Header fields, up to the empty line. */
        unsigned hosts = 0;
        bool close = false, keep_alive = false, transfer_encoding = false;
        long long length = 0;
        bool have_length = false;
        pos = end + 1;
        for (;;) {
                if (pos >= size)
                        return need_more(ret, size);
                lf = memchr(buf + pos, '\n', size - pos);
                if (!lf)
                        return need_more(ret, size);
                end = (size_t)(lf - buf);
                if (end + 1 > HTTP_REQUEST_HEAD_MAX_BYTES)
                        return refuse(ret, 431);
                size_t line_end = end > pos && buf[end - 1] == '\r' ? end - 1 : end;
                if (line_end == pos) {
                        pos = end + 1;
                        break;
                }
                /* field-name ":" OWS field-value OWS; no space before the colon (§5.1), no
                 * obs-fold (a line starting with whitespace, §5.2). */
                size_t n = pos;
                while (n < line_end && is_tchar((unsigned char)buf[n]))
                        n++;
                if (n == pos || n == line_end || buf[n] != ':')
                        return refuse(ret, 400);
                size_t a = n + 1, b = line_end;
                while (a < b && is_ows(buf[a]))
                        a++;
                for (size_t k = a; k < b; k++)
                        if (!is_field_byte((unsigned char)buf[k]))
                                return refuse(ret, 400);
                while (b > a && is_ows(buf[b - 1]))
                        b--;
                const char *name = buf + pos;
                size_t name_len = n - pos;
                if (word_eq(name, name_len, "host"))
                        hosts++;
                else if (word_eq(name, name_len, "connection"))
                        connection_options(buf + a, b - a, &close, &keep_alive);
                else if (word_eq(name, name_len, "transfer-encoding"))
                        transfer_encoding = true;
                else if (word_eq(name, name_len, "content-length")) {
                        long long l = content_length(buf + a, b - a);
                        /* Two different lengths are how requests are smuggled (§6.3). */
                        if (l < 0 || (have_length && l != length))
                                return refuse(ret, 400);
                        length = l;
                        have_length = true;
                }
                pos = end + 1;
        }

        /* §3.2: HTTP/1.1 requests carry exactly one Host; none carries two. */
        if (hosts > 1 || (ret->version_minor >= 1 && hosts == 0))
                return refuse(ret, 400);
        /* §6.1: a transfer coding this server does not implement (it reads no body). */
        if (transfer_encoding)
                return refuse(ret, 501);
        if (length > 0)
                return refuse(ret, ret->method == HTTP_METHOD_OTHER ? 405 : 413);

        /* The path: origin-form "/p?q", or absolute-form "http://host/p?q" (§3.2.2). */
        size_t p = target;
        if (buf[p] != '/') {
                size_t s = p;
                while (s < target_end && buf[s] != ':')
                        s++;
                if (!(word_eq(buf + p, s - p, "http") || word_eq(buf + p, s - p, "https")) ||
                    target_end - s < 3 || memcmp(buf + s, "://", 3) != 0)
                        return refuse(ret, 400);
                p = s + 3;
                while (p < target_end && buf[p] != '/' && buf[p] != '?')
                        p++;
        }
        size_t q = p;
        while (q < target_end && buf[q] != '?')
                q++;
        if (q == p) {
                ret->path[0] = '/';
                ret->path[1] = '\0';
        } else {
                memcpy(ret->path, buf + p, q - p);
                ret->path[q - p] = '\0';
        }
        ret->keep_alive = ret->version_minor >= 1 ? !close : keep_alive && !close;
        return (int)pos;
}

const char *http_status_reason(unsigned status)
{
        switch (status) {
        case 200:
                return "OK";
        case 400:
                return "Bad Request";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 413:
                return "Content Too Large";
        case 414:
                return "URI Too Long";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 501:
                return "Not Implemented";
        case 503:
                return "Service Unavailable";
        case 505:
                return "HTTP Version Not Supported";
        default:
                return "Unknown";
        }
}

int http_response_head(char *buf, size_t size, unsigned status, const char *content_type,
                       size_t content_length_bytes, bool close, uint64_t realtime_usec)
{
        /* IMF-fixdate (RFC 9110 §5.6.7) in English whatever the locale, hence not strftime(). */
        static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
        static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        time_t t = (time_t)(realtime_usec / 1000000u);
        struct tm tm;
        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        int n = snprintf(
            buf, size,
            "HTTP/1.1 %u %s\r\n"
            "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %zu\r\n"
            "%s%s\r\n",
            status, http_status_reason(status), days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
            tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, content_type, content_length_bytes,
            status == 405 ? "Allow: GET, HEAD\r\n" : "", close ? "Connection: close\r\n" : "");
        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        return n;
}
