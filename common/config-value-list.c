// SPDX-License-Identifier: Apache-2.0
// Lists of strings (config_strv): building one, its flag form (comma-separated), and "none" as
// the empty list. Each item passes the same checks as a string (config-value-string.c).
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/config-internal.h"
#include "common/macro.h"

void config_strv_free(struct config_strv *l)
{
        if (l->items)
                for (size_t i = 0; i < l->n; i++)
                        free(l->items[i]);
        free(l->items);
        *l = (struct config_strv){ 0 };
}

/* Appends a copy of item; keeps items NULL-terminated. */
int config_strv_push(struct config_strv *l, const char *item, size_t len)
{
        char **items = realloc(l->items, (l->n + 2) * sizeof(char *));
        if (!items)
                return -ENOMEM;
        l->items = items;
        items[l->n] = strndup(item, len);
        if (!items[l->n]) {
                items[l->n] = NULL;
                return -ENOMEM;
        }
        items[++l->n] = NULL;
        return 0;
}

/* An empty list still has items = { NULL }, so that it can be handed out as a strv. */
int config_strv_init(struct config_strv *l)
{
        *l = (struct config_strv){ .items = calloc(1, sizeof(char *)) };
        return l->items ? 0 : -ENOMEM;
}

/* A list of the one item "none" is the empty list. */
void config_strv_normalize_none(struct config_strv *l)
{
        if (l->n == 1 && streq(l->items[0], "none")) {
                free(l->items[0]);
                l->items[0] = NULL;
                l->n = 0;
        }
}

static int strv_finish(const struct config_entry *e, struct config_strv *l, char *why,
                       size_t why_size)
{
        config_strv_normalize_none(l);
        for (size_t i = 0; i < l->n; i++) {
                int r = config_check_string(e, l->items[i], why, why_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The flag form of a list: items separated by ',', blanks around each trimmed; "none" alone is
 * the empty list. */
int config_parse_strv(const struct config_entry *e, const char *text, struct config_strv *ret,
                      char *why, size_t why_size)
{
        char q[CONFIG_QUOTE_MAX + 8];
        struct config_strv l;
        int r;

        config_quote(text, q, sizeof(q));
        if (config_strv_init(&l) < 0)
                return config_errf(why, why_size, -ENOMEM, "out of memory");
        const char *p = text;
        while (*text) {
                const char *end = strchrnul(p, ',');
                const char *a = p, *z = end;
                while (a < z && (*a == ' ' || *a == '\t'))
                        a++;
                while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
                        z--;
                if (a == z) {
                        config_strv_free(&l);
                        return config_errf(why, why_size, -EINVAL,
                                           "%s has an empty item (items are separated by ',')", q);
                }
                if (config_strv_push(&l, a, (size_t)(z - a)) < 0) {
                        config_strv_free(&l);
                        return config_errf(why, why_size, -ENOMEM, "out of memory");
                }
                if (!*end)
                        break;
                p = end + 1;
        }
        r = strv_finish(e, &l, why, why_size);
        if (r < 0) {
                config_strv_free(&l);
                return r;
        }
        *ret = l;
        return 0;
}
