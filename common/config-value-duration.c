// SPDX-License-Identifier: Apache-2.0
// The text of durations, both ways: Go's time.ParseDuration syntax ("1h30m", "500ms"), which is
// what Kubernetes configuration files write, and the exact text that parses back.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/config-internal.h"
#include "common/macro.h"

typedef unsigned __int128 u128;

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MIN  (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MIN)

/* Go's time.ParseDuration, minus negative values and nanoseconds: a sequence of decimal numbers,
 * each with an optional fraction and a unit (h, m, s, ms, us or µs); "0" alone is zero. A
 * fraction finer than a microsecond is truncated. */
int config_text_parse_duration(const char *s, uint64_t *ret)
{
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                /* longer names first: "ms" before "m" */
                { "ms", USEC_PER_MSEC }, { "us", 1 },
                { "\xc2\xb5s", 1 }, /* µs, MICRO SIGN */
                { "\xce\xbcs", 1 }, /* μs, GREEK SMALL LETTER MU */
                { "h", USEC_PER_HOUR },  { "m", USEC_PER_MIN },
                { "s", USEC_PER_SEC },
        };
        u128 total = 0;
        const char *p = s;

        if (streq(s, "0")) {
                *ret = 0;
                return 0;
        }
        if (!*p)
                return -EINVAL;
        while (*p) {
                u128 whole = 0, frac = 0, frac_div = 1;
                bool digits = false;

                for (; *p >= '0' && *p <= '9'; p++) {
                        digits = true;
                        whole = whole * 10 + (unsigned)(*p - '0');
                        if (whole > UINT64_MAX)
                                return -ERANGE;
                }
                if (*p == '.') {
                        p++;
                        for (; *p >= '0' && *p <= '9'; p++) {
                                digits = true;
                                if (frac_div < UINT64_C(1000000000000000000)) {
                                        frac = frac * 10 + (unsigned)(*p - '0');
                                        frac_div *= 10;
                                }
                        }
                }
                if (!digits)
                        return -EINVAL;

                size_t i;
                for (i = 0; i < ELEMENTSOF(units); i++)
                        if (strncmp(p, units[i].name, strlen(units[i].name)) == 0)
                                break;
                if (i == ELEMENTSOF(units))
                        return -EINVAL;
                p += strlen(units[i].name);

                total += whole * units[i].usec + frac * units[i].usec / frac_div;
                if (total > UINT64_MAX)
                        return -ERANGE;
        }
        *ret = (uint64_t)total;
        return 0;
}

/* "1h30m", "1s500ms", "100us", "0s": exact, and what config_text_parse_duration() reads back. */
char *config_text_format_duration(uint64_t usec, char *buf, size_t size)
{
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                { "h", USEC_PER_HOUR },  { "m", USEC_PER_MIN }, { "s", USEC_PER_SEC },
                { "ms", USEC_PER_MSEC }, { "us", 1 },
        };
        size_t o = 0;

        if (usec == 0) {
                snprintf(buf, size, "0s");
                return buf;
        }
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(units) && o < size; i++) {
                uint64_t n = usec / units[i].usec;
                if (n == 0)
                        continue;
                usec -= n * units[i].usec;
                int k = snprintf(buf + o, size - o, "%llu%s", (unsigned long long)n, units[i].name);
                if (k < 0)
                        break;
                o += (size_t)k;
        }
        return buf;
}
