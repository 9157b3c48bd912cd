// SPDX-License-Identifier: Apache-2.0
// The text of the numeric configuration types: booleans, integers, quantities (parsed by
// common/quantity.c, formatted here in the largest exact unit) and percentages, each both ways so
// that --print-config writes what parses back to the same value.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config-internal.h"
#include "common/macro.h"

int config_text_parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no",
                                                                                  "off" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int config_text_parse_int(const char *s, int64_t *ret)
{
        const char *p = s;
        if (*p == '+' || *p == '-')
                p++;
        if (!*p)
                return -EINVAL;
        for (; *p; p++)
                if (*p < '0' || *p > '9')
                        return -EINVAL;
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* Bytes with the largest unit that divides them exactly ("512Mi", "1G"), else an integer. */
char *config_text_format_bytes(uint64_t bytes, char *buf, size_t size)
{
        static const char *const bin[] = { "Ei", "Pi", "Ti", "Gi", "Mi", "Ki" };
        static const char *const dec[] = { "E", "P", "T", "G", "M", "k" };

        if (bytes != 0) {
                for (size_t i = 0; i < ELEMENTSOF(bin); i++) {
                        uint64_t unit = UINT64_C(1) << (10 * (ELEMENTSOF(bin) - i));
                        if (bytes % unit == 0) {
                                snprintf(buf, size, "%llu%s", (unsigned long long)(bytes / unit),
                                         bin[i]);
                                return buf;
                        }
                }
                uint64_t unit = UINT64_C(1000000000000000000);
                for (size_t i = 0; i < ELEMENTSOF(dec); i++, unit /= 1000) {
                        if (bytes % unit == 0) {
                                snprintf(buf, size, "%llu%s", (unsigned long long)(bytes / unit),
                                         dec[i]);
                                return buf;
                        }
                }
        }
        snprintf(buf, size, "%llu", (unsigned long long)bytes);
        return buf;
}

/* A non-negative decimal without exponent ("10", "12.5", ".5"), as read by
 * config_text_parse_number(). */
int config_text_parse_number(const char *s, size_t len, double *ret)
{
        char buf[64];
        bool digits = false, dot = false;

        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] >= '0' && s[i] <= '9')
                        digits = true;
                else if (s[i] == '.' && !dot)
                        dot = true;
                else
                        return -EINVAL;
        }
        if (!digits)
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = '\0';
        *ret = strtod(buf, NULL);
        return 0;
}

/* The shortest fixed-point text that config_text_parse_number() reads back to exactly d. */
char *config_text_format_number(double d, char *buf, size_t size)
{
        for (int prec = 0; prec <= 40; prec++) {
                snprintf(buf, size, "%.*f", prec, d);
                if (strtod(buf, NULL) == d)
                        return buf;
        }
        return buf;
}

/* "10", "10%", "12.5%". */
int config_text_parse_percent(const char *s, double *ret)
{
        size_t len = strlen(s);
        if (len > 0 && s[len - 1] == '%')
                len--;
        return config_text_parse_number(s, len, ret);
}
