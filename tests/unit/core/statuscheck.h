// SPDX-License-Identifier: Apache-2.0
// Checks a `memagent status` JSON document against the fixture files it was made from: the
// contract keys are there with the right types, and every number equals the file's.
#pragma once

#include <json-c/json.h>

/* cgroup_root, proc_root, sys_root: the directories the document was sampled from.
 * want_pods: how many pods the tree holds. Fails the current test on any mismatch. */
void check_status_json(struct json_object *doc, const char *cgroup_root, const char *proc_root,
                       const char *sys_root, size_t want_pods);

/* The member `key` of object o; fails when absent (a present JSON null returns NULL). */
struct json_object *jget(struct json_object *o, const char *key);
