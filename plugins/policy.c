// SPDX-License-Identifier: Apache-2.0
// The policy chain: loading (built-in descriptors and dlopen'd plugins go through the same
// checks), and ranking.
//
// Ranking runs every policy on the whole snapshot, each into its own zeroed array of
// struct memagent_rank, then sorts the candidates that nobody excluded with one comparator that
// walks the policies in chain order and, inside a policy, its keys in order; larger keys go
// first. Whatever the policies leave tied is settled by cgroup path, then name, then index, so
// that the same snapshot always gives the same victim (and `memagent explain` the same story).
#include "plugins/policy.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/macro.h"

#ifndef MEMAGENT_PLUGIN_DIR
#define MEMAGENT_PLUGIN_DIR "/usr/local/lib/memagent/plugins"
#endif

const char policy_default_plugin_dir[] = MEMAGENT_PLUGIN_DIR;

_Static_assert((int)MEMAGENT_QOS_NONE == (int)QOS_NONE, "plugin ABI QoS drifted");
_Static_assert((int)MEMAGENT_QOS_GUARANTEED == (int)QOS_GUARANTEED, "plugin ABI QoS drifted");
_Static_assert((int)MEMAGENT_QOS_BURSTABLE == (int)QOS_BURSTABLE, "plugin ABI QoS drifted");
_Static_assert((int)MEMAGENT_QOS_BESTEFFORT == (int)QOS_BESTEFFORT, "plugin ABI QoS drifted");
_Static_assert((int)MEMAGENT_LEVEL_NONE == (int)LEVEL_NONE, "plugin ABI level drifted");
_Static_assert((int)MEMAGENT_LEVEL_LOW == (int)LEVEL_LOW, "plugin ABI level drifted");
_Static_assert((int)MEMAGENT_LEVEL_MEDIUM == (int)LEVEL_MEDIUM, "plugin ABI level drifted");
_Static_assert((int)MEMAGENT_LEVEL_CRITICAL == (int)LEVEL_CRITICAL, "plugin ABI level drifted");

enum memagent_qos policy_qos_to_abi(enum qos_class q)
{
        return (enum memagent_qos)q;
}

enum qos_class policy_qos_from_abi(enum memagent_qos q)
{
        return (unsigned)q < _QOS_MAX ? (enum qos_class)q : QOS_NONE;
}

enum memagent_level policy_level_to_abi(enum pressure_level l)
{
        return (enum memagent_level)l;
}

#define PLUGIN_PREFIX "memagent-policy-"
#define PLUGIN_SUFFIX ".so"

/* Policies compiled into the agent, found by their descriptor's name. */
static const struct memagent_policy *const builtin_policies[] = {
        &policy_qos,
};

struct policy_entry {
        const struct memagent_policy *desc; /* built-in, or inside dl */
        char *entry;                        /* as configured: "largest:growth" */
        char *path;                         /* the plugin file; NULL for a built-in */
        void *dl;                           /* dlopen() handle; NULL for a built-in */
        void *state;                        /* from init() */
};

struct policy_chain {
        size_t n;
        struct policy_entry entries[];
};

static void policy_entry_done(struct policy_entry *e, bool initialized)
{
        if (initialized && e->desc && e->desc->fini)
                e->desc->fini(e->state);
        if (e->dl)
                dlclose(e->dl);
        free(e->entry);
        free(e->path);
        *e = (struct policy_entry){ 0 };
}

void policy_chain_free(struct policy_chain *chain)
{
        if (!chain)
                return;
        /* Last in, first out, as they were set up. */
        for (size_t i = chain->n; i > 0; i--)
                policy_entry_done(&chain->entries[i - 1], true);
        free(chain);
}

void policy_chain_freep(struct policy_chain **chain)
{
        policy_chain_free(*chain);
}

static bool policy_name_valid(const char *s, size_t len)
{
        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_'))
                        return false;
        }
        return true;
}

/* The checks every descriptor passes, built-in or not. `what` names it in the refusal. */
static int policy_descriptor_check(const struct memagent_policy *d, const char *what)
{
        /* abi_version and struct_size lead the struct in every version: safe to read first. */
        if (d->abi_version != MEMAGENT_POLICY_ABI_VERSION)
                return log_error_errno(EPROTONOSUPPORT,
                                       "Refusing policy plugin %s: abi_version %" PRIu32
                                       ", this memagentd speaks %d",
                                       what, d->abi_version, MEMAGENT_POLICY_ABI_VERSION);
        if (d->struct_size < POLICY_STRUCT_SIZE_MIN)
                return log_error_errno(
                    EPROTO, "Refusing policy plugin %s: struct_size %" PRIu32 " smaller than %zu",
                    what, d->struct_size, (size_t)POLICY_STRUCT_SIZE_MIN);
        if (!d->name)
                return log_error_errno(EINVAL, "Refusing policy plugin %s: no name", what);
        if (!policy_name_valid(d->name, strlen(d->name)))
                return log_error_errno(EINVAL,
                                       "Refusing policy plugin %s: name \"%s\" is not "
                                       "[A-Za-z0-9_-]+",
                                       what, d->name);
        if (!d->rank)
                return log_error_errno(EINVAL, "Refusing policy plugin %s: no rank callback", what);
        return 0;
}

static const struct memagent_policy *policy_builtin_find(const char *name, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(builtin_policies); i++)
                if (strlen(builtin_policies[i]->name) == len &&
                    memcmp(builtin_policies[i]->name, name, len) == 0)
                        return builtin_policies[i];
        return NULL;
}

static int policy_plugin_open(struct policy_entry *e)
{
        struct stat st;

        if (stat(e->path, &st) < 0)
                return log_error_errno(errno, "Failed to load policy plugin %s: %m", e->path);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(EISDIR, "Failed to load policy plugin %s: not a file",
                                       e->path);

        e->dl = dlopen(e->path, RTLD_NOW | RTLD_LOCAL);
        if (!e->dl) {
                const char *why = dlerror();
                size_t l = strlen(e->path);
                if (!why)
                        why = "dlopen() failed";
                else if (strncmp(why, e->path, l) == 0 && strncmp(why + l, ": ", 2) == 0)
                        why += l + 2; /* dlerror() repeats the path */
                return log_error_errno(ELIBBAD, "Failed to load policy plugin %s: %s", e->path,
                                       why);
        }

        (void)dlerror();
        const struct memagent_policy *d = dlsym(e->dl, MEMAGENT_POLICY_SYMBOL);
        if (!d)
                return log_error_errno(ENOEXEC,
                                       "Refusing policy plugin %s: no symbol \"%s\" (not a "
                                       "memagentd policy plugin?)",
                                       e->path, MEMAGENT_POLICY_SYMBOL);
        e->desc = d;
        return 0;
}

/* Resolves, opens, checks and initializes one chain entry into *e. On failure, *e holds nothing
 * (everything undone) and the error has been logged. */
static int policy_entry_load(const char *spec, const char *plugin_dir,
                             const struct policy_entry *loaded, size_t n_loaded,
                             struct policy_entry *e)
{
        const char *colon, *args;
        size_t name_len;
        int r;

        *e = (struct policy_entry){ 0 };
        if (!spec || !*spec)
                return log_error_errno(EINVAL, "Invalid policy chain entry: empty");

        e->entry = strdup(spec);
        if (!e->entry)
                return log_error_errno(ENOMEM, "Failed to load policy %s: %m", spec);

        if (spec[0] == '/') {
                colon = strchr(strrchr(spec, '/'), ':');
                name_len = colon ? (size_t)(colon - spec) : strlen(spec);
                e->path = strndup(spec, name_len);
                if (!e->path) {
                        r = log_error_errno(ENOMEM, "Failed to load policy %s: %m", spec);
                        goto fail;
                }
        } else {
                colon = strchr(spec, ':');
                name_len = colon ? (size_t)(colon - spec) : strlen(spec);
                if (!policy_name_valid(spec, name_len)) {
                        r = log_error_errno(
                            EINVAL,
                            "Invalid policy chain entry \"%s\": expected NAME[:ARGS] "
                            "with NAME of [A-Za-z0-9_-], or an absolute path to a "
                            ".so",
                            spec);
                        goto fail;
                }
                e->desc = policy_builtin_find(spec, name_len);
                if (!e->desc && asprintf(&e->path, "%s/" PLUGIN_PREFIX "%.*s" PLUGIN_SUFFIX,
                                         plugin_dir ? plugin_dir : policy_default_plugin_dir,
                                         (int)name_len, spec) < 0) {
                        e->path = NULL;
                        r = log_error_errno(ENOMEM, "Failed to load policy %s: %m", spec);
                        goto fail;
                }
        }
        args = colon && colon[1] ? colon + 1 : NULL;

        /* What a message calls it: the file until its descriptor checked out, then the policy's
         * name with where it came from. */
        char what[512], label[600];
        if (e->path) {
                r = policy_plugin_open(e);
                if (r < 0)
                        goto fail;
                snprintf(what, sizeof(what), "%s", e->path);
        } else
                snprintf(what, sizeof(what), "%.*s (built-in)", (int)name_len, spec);

        r = policy_descriptor_check(e->desc, what);
        if (r < 0)
                goto fail;
        if (e->path)
                snprintf(label, sizeof(label), "%s (%s)", e->desc->name, e->path);
        else
                snprintf(label, sizeof(label), "%s", what);

        for (size_t i = 0; i < n_loaded; i++)
                if (strcmp(loaded[i].desc->name, e->desc->name) == 0) {
                        r = log_error_errno(EEXIST,
                                            "Refusing policy plugin %s: a policy named \"%s\" is "
                                            "already in the chain (from \"%s\")",
                                            what, e->desc->name, loaded[i].entry);
                        goto fail;
                }

        if (e->desc->init) {
                r = e->desc->init(&e->state, args);
                if (r < 0) {
                        r = log_error_errno(r, "Policy %s failed to initialize%s%s%s: %m", label,
                                            args ? " with \"" : "", args ? args : "",
                                            args ? "\"" : "");
                        goto fail;
                }
        } else if (args) {
                r = log_error_errno(EINVAL, "Refusing policy %s: it takes no arguments, got \"%s\"",
                                    label, args);
                goto fail;
        }

        log_debug("Loaded eviction policy %s: %s", label,
                  e->desc->description ? e->desc->description : "(no description)");
        return 0;

fail:
        policy_entry_done(e, false);
        return r;
}

int policy_chain_load(const char *const *names, size_t n, const char *plugin_dir,
                      struct policy_chain **ret)
{
        _cleanup_(policy_chain_freep) struct policy_chain *chain = NULL;

        if (n == 0 || !names)
                return log_error_errno(EINVAL, "The eviction policy chain is empty: configure at "
                                               "least one policy, for example \"qos\"");

        chain = calloc(1, sizeof(*chain) + n * sizeof(chain->entries[0]));
        if (!chain)
                return log_error_errno(ENOMEM, "Failed to load the eviction policy chain: %m");

        for (size_t i = 0; i < n; i++) {
                int r = policy_entry_load(names[i], plugin_dir, chain->entries, chain->n,
                                          &chain->entries[chain->n]);
                if (r < 0)
                        return r;
                chain->n++;
        }

        *ret = TAKE_PTR(chain);
        return 0;
}

size_t policy_chain_size(const struct policy_chain *chain)
{
        return chain ? chain->n : 0;
}

const char *policy_chain_entry(const struct policy_chain *chain, size_t i)
{
        return chain && i < chain->n ? chain->entries[i].entry : NULL;
}

const char *policy_chain_path(const struct policy_chain *chain, size_t i)
{
        return chain && i < chain->n ? chain->entries[i].path : NULL;
}

/* Appends s to buf (of size) at *len; on overflow ends buf with "..." (on a UTF-8 character
 * boundary) and returns false. */
static bool buf_append(char *buf, size_t size, size_t *len, const char *s)
{
        size_t l = strlen(s);

        if (*len >= size)
                return false;
        if (*len + l < size) {
                memcpy(buf + *len, s, l + 1);
                *len += l;
                return true;
        }
        if (size < 4) {
                buf[size - 1] = '\0';
                *len = size;
                return false;
        }
        memcpy(buf + *len, s, size - 1 - *len);
        size_t cut = size - 4;
        while (cut > 0 && ((unsigned char)buf[cut] & 0xC0) == 0x80)
                cut--;
        memcpy(buf + cut, "...", 4);
        *len = size;
        return false;
}

char *policy_chain_describe(const struct policy_chain *chain, char *buf, size_t size)
{
        size_t len = 0;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        for (size_t i = 0; chain && i < chain->n; i++)
                if ((i > 0 && !buf_append(buf, size, &len, ", ")) ||
                    !buf_append(buf, size, &len, chain->entries[i].entry))
                        break;
        return buf;
}

/* Larger first; NaN after every number. Negative: a ranks before b. */
static int key_cmp(double a, double b)
{
        bool na = isnan(a), nb = isnan(b);

        if (na || nb)
                return na == nb ? 0 : (na ? 1 : -1);
        return a > b ? -1 : (a < b ? 1 : 0);
}

struct rank_sort {
        size_t n_policies, n;
        const struct memagent_rank *ranks; /* [policy * n + candidate] */
        const struct memagent_candidate *cands;
};

static int rank_sort_cmp(const void *pa, const void *pb, void *userdata)
{
        const struct rank_sort *s = userdata;
        size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
        int c;

        for (size_t p = 0; p < s->n_policies; p++) {
                const struct memagent_rank *ra = &s->ranks[p * s->n + a];
                const struct memagent_rank *rb = &s->ranks[p * s->n + b];
                for (size_t k = 0; k < MEMAGENT_POLICY_KEYS; k++) {
                        c = key_cmp(ra->keys[k], rb->keys[k]);
                        if (c != 0)
                                return c;
                }
        }
        c = strcmp(s->cands[a].cgroup ? s->cands[a].cgroup : "",
                   s->cands[b].cgroup ? s->cands[b].cgroup : "");
        if (c != 0)
                return c;
        c = strcmp(s->cands[a].name ? s->cands[a].name : "",
                   s->cands[b].name ? s->cands[b].name : "");
        if (c != 0)
                return c;
        return a < b ? -1 : (a > b ? 1 : 0);
}

int policy_chain_rank(const struct policy_chain *chain, const struct memagent_rank_context *ctx,
                      const struct memagent_candidate *cands, size_t n, size_t *ret_order,
                      size_t *ret_n, struct memagent_rank *ret_ranks)
{
        static const struct memagent_rank_context no_ctx = { .scope = "" };
        _cleanup_free_ struct memagent_rank *ranks = NULL, *merged = NULL;
        _cleanup_free_ size_t *order = NULL;
        _cleanup_free_ bool *excluded = NULL;
        size_t np, n_order = 0;

        if (!chain || chain->n == 0 || (n > 0 && !cands) || !ret_order || !ret_n)
                return -EINVAL;
        if (n == 0) {
                *ret_n = 0;
                return 0;
        }
        np = chain->n;
        if (n > SIZE_MAX / sizeof(struct memagent_rank) / np)
                return log_error_errno(ENOMEM, "Cannot rank %zu candidates: %m", n);

        ranks = calloc(np * n, sizeof(*ranks));
        order = calloc(n, sizeof(*order));
        excluded = calloc(n, sizeof(*excluded));
        if (ret_ranks)
                merged = calloc(n, sizeof(*merged));
        if (!ranks || !order || !excluded || (ret_ranks && !merged))
                return log_error_errno(ENOMEM, "Cannot rank %zu candidates: %m", n);

        for (size_t p = 0; p < np; p++) {
                const struct policy_entry *e = &chain->entries[p];
                struct memagent_rank *rp = &ranks[p * n];
                int r = e->desc->rank(e->state, ctx ? ctx : &no_ctx, cands, n, rp);
                if (r < 0)
                        return log_error_errno(r, "Policy %s failed to rank %zu candidates: %m",
                                               e->entry, n);
                for (size_t i = 0; i < n; i++) {
                        rp[i].reason[sizeof(rp[i].reason) - 1] = '\0';
                        if (rp[i].exclude)
                                excluded[i] = true;
                }
        }

        /* Protection holds whatever the configured policies do with the flag. */
        for (size_t i = 0; i < n; i++) {
                if (cands[i].flags & MEMAGENT_CAND_PROTECTED)
                        excluded[i] = true;
                if (!excluded[i])
                        order[n_order++] = i;
        }

        struct rank_sort sort = { .n_policies = np, .n = n, .ranks = ranks, .cands = cands };
        qsort_r(order, n_order, sizeof(order[0]), rank_sort_cmp, &sort);

        if (ret_ranks) {
                for (size_t i = 0; i < n; i++) {
                        struct memagent_rank *m = &merged[i];
                        size_t len = 0;
                        bool any = false;

                        memcpy(m->keys, ranks[i].keys, sizeof(m->keys));
                        m->exclude = excluded[i];
                        for (size_t p = 0; p < np; p++) {
                                const struct memagent_rank *rp = &ranks[p * n + i];
                                if (!rp->reason[0] || (excluded[i] && !rp->exclude))
                                        continue;
                                if ((any &&
                                     !buf_append(m->reason, sizeof(m->reason), &len, "; ")) ||
                                    !buf_append(m->reason, sizeof(m->reason), &len, rp->reason))
                                        break;
                                any = true;
                        }
                        if (!any && (cands[i].flags & MEMAGENT_CAND_PROTECTED))
                                snprintf(m->reason, sizeof(m->reason), "protected, never killed");
                        else if (!any && excluded[i])
                                for (size_t p = 0; p < np; p++)
                                        if (ranks[p * n + i].exclude) {
                                                snprintf(m->reason, sizeof(m->reason),
                                                         "excluded by policy %s",
                                                         chain->entries[p].desc->name);
                                                break;
                                        }
                }
                memcpy(ret_ranks, merged, n * sizeof(*merged));
        }
        memcpy(ret_order, order, n_order * sizeof(order[0]));
        *ret_n = n_order;
        return 0;
}
