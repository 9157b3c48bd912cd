// SPDX-License-Identifier: Apache-2.0
#include "common/base64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t n)
{
        const unsigned char *p = data;
        char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t)p[i + 1] << 8;
                if (i + 2 < n)
                        v |= p[i + 2];
                *o++ = alphabet[(v >> 18) & 63];
                *o++ = alphabet[(v >> 12) & 63];
                *o++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
                *o++ = i + 2 < n ? alphabet[v & 63] : '=';
        }
        *o = '\0';
        return out;
}

static int value_of(char c)
{
        const char *p = c ? strchr(alphabet, c) : NULL;
        return p ? (int)(p - alphabet) : -1;
}

int base64_decode(const char *s, size_t len, char **ret, size_t *ret_size)
{
        unsigned char *out = malloc(len / 4 * 3 + 4);
        size_t n = 0, quads = 0, pad = 0;
        uint32_t acc = 0;
        int bits = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (c == '\r' || c == '\n')
                        continue;
                if (c == '=') {
                        pad++;
                        quads++;
                        continue;
                }
                int v = value_of(c);
                if (v < 0 || pad > 0)
                        goto bad; /* not in the alphabet, or data after the padding */
                quads++;
                acc = acc << 6 | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (unsigned char)(acc >> bits);
                }
        }
        /* Whole quads; at most two '='; the padding makes up exactly the missing characters
         * ("QQ==" and "QUI=", not "QQ=" or "QUI=="), and the bits it drops are zero. */
        if (quads % 4 != 0 || pad > 2 || (pad > 0 && (quads - pad) % 4 != 4 - pad) ||
            (acc & ((1u << bits) - 1)) != 0)
                goto bad;
        out[n] = '\0';
        *ret = (char *)out;
        if (ret_size)
                *ret_size = n;
        return 0;
bad:
        free(out);
        return -EBADMSG;
}
