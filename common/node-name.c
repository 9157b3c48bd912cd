// SPDX-License-Identifier: Apache-2.0
// Kubernetes node names (RFC 1123 subdomains); see common/node-name.h.
#include "common/node-name.h"

static bool is_alnum_lower(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool node_name_is_valid(const char *s, size_t len)
{
        size_t label_len = 0;

        if (!s || len == 0 || len > NODE_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (c == '.') {
                        /* A label ends here: it must not be empty or end with '-'. */
                        if (label_len == 0 || s[i - 1] == '-')
                                return false;
                        label_len = 0;
                        continue;
                }
                if (!is_alnum_lower(c) && !(c == '-' && label_len > 0))
                        return false; /* a label starts with a letter or digit */
                if (++label_len > NODE_NAME_LABEL_MAX)
                        return false;
        }
        return label_len > 0 && s[len - 1] != '-'; /* not "a." nor "a-" */
}
