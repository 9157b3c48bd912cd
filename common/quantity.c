// SPDX-License-Identifier: Apache-2.0
#include "common/quantity.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef unsigned __int128 u128;

#define QUANTITY_MAX ((u128)INT64_MAX)

static int pow_u128(unsigned base, unsigned exp, u128 *ret)
{
        u128 v = 1;
        for (unsigned i = 0; i < exp; i++) {
                v *= base;
                if (v > ((u128)1 << 100))
                        return -ERANGE;
        }
        *ret = v;
        return 0;
}

int quantity_parse_bytes(const char *s, uint64_t *ret_bytes)
{
        u128 mant = 0; /* all digits, integer and fraction, as one integer */
        unsigned frac_digits = 0, sig_digits = 0;
        bool seen_digit = false, seen_dot = false;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        if (*p == '-')
                return -ERANGE;
        if (*p == '+')
                p++;
        for (; *p; p++) {
                if (*p >= '0' && *p <= '9') {
                        seen_digit = true;
                        if (mant == 0 && *p == '0' && !seen_dot)
                                continue; /* leading zeros */
                        if (sig_digits >= 30)
                                return -ERANGE;
                        mant = mant * 10 + (unsigned)(*p - '0');
                        sig_digits++;
                        if (seen_dot)
                                frac_digits++;
                } else if (*p == '.' && !seen_dot) {
                        seen_dot = true;
                } else
                        break;
        }
        if (!seen_digit)
                return -EINVAL;
        /* "1.50000" is "1.5": trailing fraction zeros only cost precision headroom. */
        while (frac_digits > 0 && mant % 10 == 0) {
                mant /= 10;
                frac_digits--;
        }

        /* Suffix: multiply by base^exp, or divide by 10^3 for milli. */
        unsigned base = 10, exp = 0;
        bool milli = false;
        const char *suf = p;
        if (*suf == '\0') {
        } else if (suf[1] == 'i' && suf[2] == '\0') {
                base = 2;
                const char *units = "KMGTPE";
                const char *u = strchr(units, suf[0]);
                if (!u || suf[0] == '\0')
                        return -EINVAL;
                exp = 10 * (unsigned)(u - units + 1);
        } else if ((suf[0] == 'e' || suf[0] == 'E') && suf[1] != '\0') {
                /* Decimal exponent: e9, E+3. A bare 'E' is exa, handled below. */
                const char *q = suf + 1;
                if (*q == '+')
                        q++;
                else if (*q == '-')
                        return -EINVAL; /* sub-byte exponents are not memory sizes */
                if (!*q)
                        return -EINVAL;
                for (; *q; q++) {
                        if (*q < '0' || *q > '9' || exp > 100)
                                return -EINVAL;
                        exp = exp * 10 + (unsigned)(*q - '0');
                }
                if (exp > 40)
                        return -ERANGE;
        } else if (suf[1] == '\0') {
                switch (suf[0]) {
                case 'm':
                        milli = true;
                        break;
                case 'k':
                        exp = 3;
                        break;
                case 'M':
                        exp = 6;
                        break;
                case 'G':
                        exp = 9;
                        break;
                case 'T':
                        exp = 12;
                        break;
                case 'P':
                        exp = 15;
                        break;
                case 'E':
                        exp = 18;
                        break;
                default:
                        return -EINVAL;
                }
        } else
                return -EINVAL;

        u128 mul, div;
        if (pow_u128(base, exp, &mul) < 0 || pow_u128(10, frac_digits + (milli ? 3 : 0), &div) < 0)
                return -ERANGE;
        if (mant != 0 && mul > QUANTITY_MAX * div / mant + 1)
                return -ERANGE;
        u128 num = mant * mul;
        u128 v = num / div + (num % div ? 1 : 0); /* round up, like Quantity.Value() */
        if (v > QUANTITY_MAX)
                return -ERANGE;
        *ret_bytes = (uint64_t)v;
        return 0;
}

char *format_bytes_iec(uint64_t bytes, char *buf, size_t size)
{
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

        if (bytes == UINT64_MAX) {
                snprintf(buf, size, "max");
                return buf;
        }
        if (bytes < 1024) {
                snprintf(buf, size, "%llu B", (unsigned long long)bytes);
                return buf;
        }
        unsigned i = 0;
        uint64_t div = 1024;
        while (i + 1 < sizeof(units) / sizeof(units[0]) && bytes / div >= 1024) {
                div *= 1024;
                i++;
        }
        /* One decimal, rounded half up, without floating point. */
        uint64_t tenths = (uint64_t)(((u128)bytes * 10 + div / 2) / div);
        if (tenths >= 10240 && i + 1 < sizeof(units) / sizeof(units[0])) {
                i++;
                div *= 1024;
                tenths = (uint64_t)(((u128)bytes * 10 + div / 2) / div);
        }
        snprintf(buf, size, "%llu.%llu %s", (unsigned long long)(tenths / 10),
                 (unsigned long long)(tenths % 10), units[i]);
        return buf;
}
