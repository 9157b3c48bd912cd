// SPDX-License-Identifier: Apache-2.0
// The operations on one field of a program's config struct (store, copy, move, compare, free),
// by its entry's type, that the table (common/config.c) and the YAML loader
// (common/config-yaml.c) share.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/config-internal.h"
#include "common/macro.h"

void *config_field_of(const struct config_entry *e, const void *cfg)
{
        return (char *)cfg + e->offset;
}

size_t config_type_size(enum config_type type)
{
        switch (type) {
        case CONFIG_BOOL:
                return sizeof(bool);
        case CONFIG_INT:
                return sizeof(int64_t);
        case CONFIG_DURATION:
        case CONFIG_BYTES:
                return sizeof(uint64_t);
        case CONFIG_BYTES_OR_PERCENT:
                return sizeof(struct config_bytes_or_percent);
        case CONFIG_PERCENT:
                return sizeof(double);
        case CONFIG_STRING:
                return sizeof(char *);
        case CONFIG_STRV:
                return sizeof(struct config_strv);
        case CONFIG_ENUM:
                return sizeof(int);
        }
        return 0;
}
void config_value_free(const struct config_entry *e, union config_value *v)
{
        if (e->type == CONFIG_STRING) {
                free(v->s);
                v->s = NULL;
        } else if (e->type == CONFIG_STRV)
                config_strv_free(&v->l);
}

void config_field_free(const struct config_entry *e, void *cfg)
{
        void *f = config_field_of(e, cfg);
        if (e->type == CONFIG_STRING) {
                free(*(char **)f);
                *(char **)f = NULL;
        } else if (e->type == CONFIG_STRV)
                config_strv_free(f);
}

/* Frees what the field held and moves v into it; v is left with nothing to free. */
void config_field_store(const struct config_entry *e, void *cfg, union config_value *v)
{
        config_field_free(e, cfg);
        memcpy(config_field_of(e, cfg), v, config_type_size(e->type));
        memset(v, 0, sizeof(*v));
}

/* Deep copy of one field from src into dst (whose field must hold nothing owned). */
int config_field_copy(const struct config_entry *e, void *dst, const void *src)
{
        const void *s = config_field_of(e, src);
        void *d = config_field_of(e, dst);

        if (e->type == CONFIG_STRING) {
                const char *str = *(char *const *)s;
                char *copy = NULL;
                if (str && !(copy = strdup(str)))
                        return -ENOMEM;
                *(char **)d = copy;
        } else if (e->type == CONFIG_STRV) {
                const struct config_strv *l = s;
                struct config_strv copy;
                if (config_strv_init(&copy) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < l->n; i++)
                        if (config_strv_push(&copy, l->items[i], strlen(l->items[i])) < 0) {
                                config_strv_free(&copy);
                                return -ENOMEM;
                        }
                *(struct config_strv *)d = copy;
        } else
                memcpy(d, s, config_type_size(e->type));
        return 0;
}

/* Frees dst's field and moves src's into it (src's is zeroed). */
void config_field_move(const struct config_entry *e, void *dst, void *src)
{
        config_field_free(e, dst);
        memcpy(config_field_of(e, dst), config_field_of(e, src), config_type_size(e->type));
        memset(config_field_of(e, src), 0, config_type_size(e->type));
}

bool config_field_equal(const struct config_entry *e, const void *a, const void *b)
{
        const void *fa = config_field_of(e, a), *fb = config_field_of(e, b);

        switch (e->type) {
        case CONFIG_BOOL:
                return *(const bool *)fa == *(const bool *)fb;
        case CONFIG_INT:
                return *(const int64_t *)fa == *(const int64_t *)fb;
        case CONFIG_DURATION:
        case CONFIG_BYTES:
                return *(const uint64_t *)fa == *(const uint64_t *)fb;
        case CONFIG_PERCENT:
                return *(const double *)fa == *(const double *)fb;
        case CONFIG_ENUM:
                return *(const int *)fa == *(const int *)fb;
        case CONFIG_BYTES_OR_PERCENT: {
                const struct config_bytes_or_percent *x = fa, *y = fb;
                if (x->is_percent != y->is_percent)
                        return false;
                return x->is_percent ? x->percent == y->percent : x->bytes == y->bytes;
        }
        case CONFIG_STRING: {
                const char *x = *(char *const *)fa, *y = *(char *const *)fb;
                return streq(x ? x : "", y ? y : "");
        }
        case CONFIG_STRV: {
                const struct config_strv *x = fa, *y = fb;
                if (x->n != y->n)
                        return false;
                for (size_t i = 0; i < x->n; i++)
                        if (!streq(x->items[i], y->items[i]))
                                return false;
                return true;
        }
        }
        return false;
}
