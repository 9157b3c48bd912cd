// SPDX-License-Identifier: Apache-2.0
// The eviction policy chain: loads the configured policies (built-in or dlopen'd plugins, all
// through the one descriptor of plugins/memagent-plugin.h), and ranks candidates with them.
//
// A chain entry is one of:
//   "qos"                 the built-in QoS ranking (plugins/qos.c), registered statically
//   "NAME" or "NAME:ARGS" <plugin_dir>/memagent-policy-NAME.so; NAME is [A-Za-z0-9_-]+
//   "/abs/path.so[:ARGS]" a plugin by absolute path; ARGS start at the first ':' after the
//                         last '/'
// ARGS are handed to the policy's init(). A policy without init() refuses ARGS.
//
// Ranking is pure: policy_chain_rank() looks at the snapshot it is given and nothing else.
#pragma once

#include <stddef.h>

#include "common/memtypes.h"
#include "plugins/memagent-plugin.h"

struct policy_chain;

/* Where "NAME" entries are looked up when plugin_dir is NULL. */
extern const char policy_default_plugin_dir[];

/* The smallest descriptor (struct_size) this agent accepts: struct memagent_policy as of
 * abi_version 1, spare slots included. Fields appended later are read only when a plugin's
 * struct_size covers them. */
#define POLICY_STRUCT_SIZE_MIN                                                                     \
        (offsetof(struct memagent_policy, spare) + sizeof(((struct memagent_policy *)0)->spare))

/* Loads names[0..n) in order (the first decides, the next break its ties), calling each
 * policy's init(). plugin_dir may be NULL (policy_default_plugin_dir).
 * A plugin is refused, with one error logged that names the file and what is wrong, when the
 * file cannot be loaded (-ENOENT, or -ELIBBAD with dlerror()), it lacks MEMAGENT_POLICY_SYMBOL
 * (-ENOEXEC), its abi_version differs (-EPROTONOSUPPORT), its struct_size is below
 * POLICY_STRUCT_SIZE_MIN (-EPROTO), it has no name or no rank callback (-EINVAL), its name is
 * already in the chain (-EEXIST), or it gets ARGS but has no init() (-EINVAL). An entry that is
 * neither a name nor an absolute path, or an empty chain, is -EINVAL. When init() fails, its
 * error is returned and logged with the policy's name and file.
 * Returns 0 and sets *ret (free with policy_chain_free()); on failure *ret is untouched and
 * everything loaded so far is finalized and closed. */
int policy_chain_load(const char *const *names, size_t n, const char *plugin_dir,
                      struct policy_chain **ret);

/* Runs every policy of the chain on cands[0..n) and orders them: by the first policy's keys
 * (larger first, keys compared in order, NaN below everything), ties by the next policy's keys,
 * and so on; the final tie-break is the cgroup path (byte order, NULL as ""), then the name,
 * then the index, so the order is total and deterministic.
 * A candidate is dropped when any policy sets `exclude`, and always when it carries
 * MEMAGENT_CAND_PROTECTED, even if no policy of the chain honours the flag.
 *
 * ret_order (room for n) receives the indexes into cands of the ranked candidates, first victim
 * first; *ret_n their number (0 when all are excluded, or n is 0). ret_ranks (room for n, may be
 * NULL) is indexed like cands, for every candidate including the excluded ones: keys are the
 * first policy's, exclude is nonzero when the candidate was dropped, and reason is one line: the
 * non-empty reasons of every policy joined with "; " (of the excluding policies only, for an
 * excluded candidate), truncated with "..." to fit.
 * Returns 0, or the negative errno of a policy's rank() (logged with the policy's name) or
 * -ENOMEM; on failure nothing is written to the ret_* arguments. */
int policy_chain_rank(const struct policy_chain *chain, const struct memagent_rank_context *ctx,
                      const struct memagent_candidate *cands, size_t n, size_t *ret_order,
                      size_t *ret_n, struct memagent_rank *ret_ranks);

/* Calls each policy's fini() and dlclose()s the plugins. NULL is fine. */
void policy_chain_free(struct policy_chain *chain);
void policy_chain_freep(struct policy_chain **chain);

/* Number of policies in the chain. */
size_t policy_chain_size(const struct policy_chain *chain);
/* The i-th entry as configured ("qos", "largest:growth"); owned by the chain. NULL when i is out
 * of range. */
const char *policy_chain_entry(const struct policy_chain *chain, size_t i);
/* The file the i-th policy came from, or NULL for a built-in; owned by the chain. */
const char *policy_chain_path(const struct policy_chain *chain, size_t i);
/* "qos, largest:growth" for logs: the entries joined with ", ", truncated to fit. Always
 * NUL-terminates; returns buf. */
char *policy_chain_describe(const struct policy_chain *chain, char *buf, size_t size);

/* The agent's QoS class and pressure level as the plugin ABI spells them. The ABI's values are
 * frozen (a plugin built against abi_version 1 must keep working); policy.c checks at compile
 * time that they are the same as common/memtypes.h's, so these are the only conversions. */
enum memagent_qos policy_qos_to_abi(enum qos_class q);
enum qos_class policy_qos_from_abi(enum memagent_qos q);
enum memagent_level policy_level_to_abi(enum pressure_level l);

/* Built-in policies, each registered through the same descriptor a plugin exports. */
extern const struct memagent_policy policy_qos;
