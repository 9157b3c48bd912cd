// SPDX-License-Identifier: Apache-2.0
// The one check of a Kubernetes node name, used wherever a node name enters: memagentd's
// nodeName key, the reporter that puts it in a URL, and memschedd's /v1/nodes/{name} routes.
// Kubernetes requires a node name to be an RFC 1123 DNS subdomain (IsDNS1123Subdomain): at most
// 253 characters, dot-separated labels of 1 to 63 characters from [a-z0-9-], each starting and
// ending with a letter or digit. "a..b", "-a", "a.", "A" and "a_b" are not node names.
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define NODE_NAME_MAX       253 /* characters, without the NUL */
#define NODE_NAME_LABEL_MAX 63

/* True when the len bytes at s (no NUL needed: a URL segment will do) are a node name. */
bool node_name_is_valid(const char *s, size_t len);

/* Why a name is refused, for messages: "is not a Kubernetes node name (...)". */
#define NODE_NAME_RULES                                                                            \
        "lowercase letters, digits, '-' and '.'; dot-separated labels of at most 63 that start "   \
        "and end with a letter or digit; at most 253 in all"
