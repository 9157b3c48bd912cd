// SPDX-License-Identifier: Apache-2.0
// memagentd's state file (see persist.h).
#include "agent/daemon/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/daemon/manager-private.h"
#include "agent/kernel/cgroup.h"
#include "agent/kernel/parse.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"

#define PERSIST_VERSION  1
#define PERSIST_MAX_SIZE (1024 * 1024) /* a few thousand loans at most */

/* Limits: a number, or null for "max". */
static json_object *limit_new(uint64_t v)
{
        return v == VSCALE_NO_LIMIT ? NULL : json_object_new_uint64(v);
}

int persist_encode(const struct persisted_state *s, uint64_t saved_realtime_usec, char **ret)
{
        json_object *o = json_object_new_object(), *kills = json_object_new_array(),
                    *units = json_object_new_array();
        if (!o || !kills || !units) {
                json_object_put(o);
                json_object_put(kills);
                json_object_put(units);
                return -ENOMEM;
        }
        json_object_object_add(o, "version", json_object_new_int(PERSIST_VERSION));
        json_object_object_add(o, "savedAtUsec", json_object_new_uint64(saved_realtime_usec));
        json_object_object_add(o, "cooldownUntilUsec",
                               json_object_new_uint64(s->cooldown_until_usec));
        for (size_t i = 0; i < s->n_kills; i++)
                json_object_array_add(kills, json_object_new_uint64(s->kill_usec[i]));
        json_object_object_add(o, "killsUsec", kills);
        for (size_t i = 0; i < s->n_units; i++) {
                const struct persisted_unit *u = &s->units[i];
                json_object *j = json_object_new_object();
                if (!j) {
                        json_object_put(o);
                        json_object_put(units);
                        return -ENOMEM;
                }
                json_object_object_add(j, "cgroupId", json_object_new_uint64(u->cgroup_id));
                json_object_object_add(j, "cgroup", json_object_new_string(u->cgroup));
                json_object_object_add(j, "standBack", json_object_new_boolean(u->stood_back));
                json_object_object_add(j, "origMax", limit_new(u->orig_max));
                json_object_object_add(j, "origHigh", limit_new(u->orig_high));
                json_object_object_add(j, "origPodMax", limit_new(u->orig_pod_max));
                json_object_object_add(j, "ourMax", limit_new(u->our_max));
                json_object_object_add(j, "ourHigh", limit_new(u->our_high));
                json_object_object_add(j, "ourPodMax", limit_new(u->our_pod_max));
                json_object_object_add(j, "lentBytes", json_object_new_uint64(u->lent_bytes));
                json_object_object_add(j, "lastChangeUsec",
                                       json_object_new_uint64(u->last_change_usec));
                json_object_array_add(units, j);
        }
        json_object_object_add(o, "units", units);
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        char *copy = text ? strdup(text) : NULL;
        json_object_put(o);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

static int bad(char *why, size_t why_size, const char *fmt, const char *what)
{
        snprintf(why, why_size, fmt, what);
        return -EBADMSG;
}

static int get_u64(json_object *o, const char *key, bool nullable, uint64_t *ret, char *why,
                   size_t why_size)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return bad(why, why_size, "\"%s\" is missing", key);
        if (!v && nullable) {
                *ret = VSCALE_NO_LIMIT;
                return 0;
        }
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                return bad(why, why_size, "\"%s\" is not a non-negative integer", key);
        *ret = json_object_get_uint64(v);
        return 0;
}

static int decode_unit(json_object *j, struct persisted_unit *u, char *why, size_t why_size)
{
        json_object *v;
        int r;
        if (!json_object_is_type(j, json_type_object))
                return bad(why, why_size, "%s: an entry of \"units\" is not an object", "units");
        if (!json_object_object_get_ex(j, "cgroup", &v) ||
            !json_object_is_type(v, json_type_string))
                return bad(why, why_size, "\"%s\" of a unit is missing or not a string", "cgroup");
        const char *path = json_object_get_string(v);
        if (path[0] != '/' || strlen(path) >= sizeof(u->cgroup) || strstr(path, "/.."))
                return bad(why, why_size, "\"%s\" of a unit is not a cgroup path", "cgroup");
        snprintf(u->cgroup, sizeof(u->cgroup), "%s", path);
        if (!json_object_object_get_ex(j, "standBack", &v) ||
            !json_object_is_type(v, json_type_boolean))
                return bad(why, why_size, "\"%s\" of a unit is missing or not a boolean",
                           "standBack");
        u->stood_back = json_object_get_boolean(v);
        if ((r = get_u64(j, "cgroupId", false, &u->cgroup_id, why, why_size)) < 0 ||
            (r = get_u64(j, "origMax", true, &u->orig_max, why, why_size)) < 0 ||
            (r = get_u64(j, "origHigh", true, &u->orig_high, why, why_size)) < 0 ||
            (r = get_u64(j, "origPodMax", true, &u->orig_pod_max, why, why_size)) < 0 ||
            (r = get_u64(j, "ourMax", true, &u->our_max, why, why_size)) < 0 ||
            (r = get_u64(j, "ourHigh", true, &u->our_high, why, why_size)) < 0 ||
            (r = get_u64(j, "ourPodMax", true, &u->our_pod_max, why, why_size)) < 0 ||
            (r = get_u64(j, "lentBytes", false, &u->lent_bytes, why, why_size)) < 0 ||
            (r = get_u64(j, "lastChangeUsec", false, &u->last_change_usec, why, why_size)) < 0)
                return r;
        return 0;
}

int persist_decode(const char *text, struct persisted_state *ret, char *why, size_t why_size)
{
        struct persisted_state s = { 0 };
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_object *o = json_tokener_parse_ex(tok, text, (int)strlen(text));
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        json_tokener_free(tok);
        json_object *v;
        uint64_t version = 0;
        int r;
        if (!o || jerr != json_tokener_success) {
                snprintf(why, why_size, "not JSON: %s",
                         o ? "trailing data" : json_tokener_error_desc(jerr));
                r = -EBADMSG;
                goto out;
        }
        if (!json_object_is_type(o, json_type_object)) {
                r = bad(why, why_size, "%s", "not a JSON object");
                goto out;
        }
        if ((r = get_u64(o, "version", false, &version, why, why_size)) < 0)
                goto out;
        if (version != PERSIST_VERSION) {
                snprintf(why, why_size, "version %llu, not %d", (unsigned long long)version,
                         PERSIST_VERSION);
                r = -EBADMSG;
                goto out;
        }
        if ((r = get_u64(o, "cooldownUntilUsec", false, &s.cooldown_until_usec, why, why_size)) < 0)
                goto out;
        if (!json_object_object_get_ex(o, "killsUsec", &v) ||
            !json_object_is_type(v, json_type_array)) {
                r = bad(why, why_size, "\"%s\" is missing or not an array", "killsUsec");
                goto out;
        }
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
                json_object *k = json_object_array_get_idx(v, i);
                if (!json_object_is_type(k, json_type_int) || json_object_get_int64(k) <= 0) {
                        r = bad(why, why_size, "\"%s\" holds something else than times",
                                "killsUsec");
                        goto out;
                }
                /* The newest are the ones that count: keep the last AGENT_KILL_HISTORY. */
                if (n - i <= AGENT_KILL_HISTORY)
                        s.kill_usec[s.n_kills++] = json_object_get_uint64(k);
        }
        if (!json_object_object_get_ex(o, "units", &v) ||
            !json_object_is_type(v, json_type_array)) {
                r = bad(why, why_size, "\"%s\" is missing or not an array", "units");
                goto out;
        }
        n = json_object_array_length(v);
        if (n > 0 && !(s.units = calloc(n, sizeof(*s.units)))) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                if ((r = decode_unit(json_object_array_get_idx(v, i), &s.units[i], why, why_size)) <
                    0)
                        goto out;
                s.n_units++;
        }
        *ret = s;
        s = (struct persisted_state){ 0 };
        r = 0;
out:
        persisted_state_done(&s);
        json_object_put(o);
        return r;
}

int persist_save(const char *dir, const struct persisted_state *s, uint64_t saved_realtime_usec)
{
        _cleanup_free_ char *text = NULL;
        int r = persist_encode(s, saved_realtime_usec, &text);
        if (r < 0)
                return r;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        /* A crash at any point leaves either the old file or the new one, never half of one. */
        static const char tmp[] = PERSIST_FILE ".tmp";
        _cleanup_close_ int fd =
            openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        size_t len = strlen(text), done = 0;
        while (done < len) {
                ssize_t n = write(fd, text + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = negative_errno();
                        (void)unlinkat(dfd, tmp, 0);
                        return r;
                }
                done += (size_t)n;
        }
        if (fsync(fd) < 0 || renameat(dfd, tmp, dfd, PERSIST_FILE) < 0) {
                r = negative_errno();
                (void)unlinkat(dfd, tmp, 0);
                return r;
        }
        (void)fsync(dfd); /* the rename itself */
        return 0;
}

int persist_load(const char *dir, struct persisted_state *ret, char *why, size_t why_size)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        _cleanup_close_ int fd = openat(dfd, PERSIST_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        struct stat sb;
        if (fstat(fd, &sb) < 0)
                return negative_errno();
        if (!S_ISREG(sb.st_mode))
                return bad(why, why_size, "%s", "not a regular file");
        if (sb.st_size > PERSIST_MAX_SIZE)
                return bad(why, why_size, "%s", "larger than 1 MiB");
        _cleanup_free_ char *buf = malloc(PERSIST_MAX_SIZE + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = pread_full(fd, buf, PERSIST_MAX_SIZE);
        if (n < 0)
                return (int)n;
        buf[n] = '\0';
        if (strlen(buf) != (size_t)n)
                return bad(why, why_size, "%s", "holds a NUL byte");
        return persist_decode(buf, ret, why, why_size);
}

/* What the cgroups say now of a persisted unit. */
static void observe_unit(struct manager *m, const struct persisted_unit *pu,
                         struct observed_limits *o)
{
        struct cgroup cg;
        *o = (struct observed_limits){ 0 };
        if (cgroup_open(&cg, m->cg_fd, pu->cgroup) < 0)
                return;
        char buf[64];
        struct parse_error err;
        o->present = true;
        o->cgroup_id = cg.id;
        o->max_bytes = o->high_bytes = o->pod_max_bytes = VSCALE_NO_LIMIT;
        /* A file that cannot be read counts as changed: standing back is the safe side. */
        if (read_file_at(cg.dfd, "memory.max", buf, sizeof(buf)) < 0 ||
            parse_cg_value(buf, &o->max_bytes, &err) < 0)
                o->max_bytes = 0;
        if (read_file_at(cg.dfd, "memory.high", buf, sizeof(buf)) < 0 ||
            parse_cg_value(buf, &o->high_bytes, &err) < 0)
                o->high_bytes = 0;
        if (read_file_at(cg.dfd, "../memory.max", buf, sizeof(buf)) < 0 ||
            parse_cg_value(buf, &o->pod_max_bytes, &err) < 0)
                o->pod_max_bytes = 0;
        cgroup_done(&cg);
}

void persist_restore(struct manager *m)
{
        char path[4200], why[200] = "";
        const char *dir = m->p.state_directory;
        if (!dir || !*dir)
                return;
        /* Whatever is found, the file is rewritten after the first step: what was dropped goes,
         * a corrupt file is replaced. */
        snprintf(path, sizeof(path), "%s/%s", dir, PERSIST_FILE);
        _cleanup_(persisted_state_done) struct persisted_state s = { 0 };
        int r = persist_load(dir, &s, why, sizeof(why));
        if (r == -ENOENT) {
                /* The first start: nothing to remember, nothing to write until there is. */
                m->have_saved = true;
                return;
        }
        if (r == -EBADMSG) {
                log_warning("Ignoring the state file %s: %s; starting afresh", path, why);
                return;
        }
        if (r < 0) {
                log_warning_errno(r,
                                  "Ignoring the state file %s: cannot read it: %m; starting "
                                  "afresh",
                                  path);
                return;
        }
        persisted_state_shift(&s, now_usec(CLOCK_REALTIME), now_usec(CLOCK_MONOTONIC));
        _cleanup_free_ struct observed_limits *obs = calloc(s.n_units + 1, sizeof(*obs));
        _cleanup_free_ enum reconcile_verdict *verdicts = calloc(s.n_units + 1, sizeof(*verdicts));
        if (!obs || !verdicts) {
                log_error("Out of memory restoring the state from %s; starting afresh", path);
                return;
        }
        for (size_t i = 0; i < s.n_units; i++)
                observe_unit(m, &s.units[i], &obs[i]);
        if (agent_state_reconcile(&m->state, &s, obs, verdicts) < 0) {
                log_error("Out of memory restoring the state from %s; starting partly afresh",
                          path);
                return;
        }
        for (size_t i = 0; i < s.n_units; i++)
                log_notice("Vertical scaling: %s from %s: %s %s",
                           reconcile_verdict_to_string(verdicts[i]), path,
                           s.units[i].stood_back ? "the stand-back from" : "the loan to",
                           s.units[i].cgroup);
        log_info("Restored the state from %s: %zu unit%s, %zu recent kill%s%s", path, s.n_units,
                 s.n_units == 1 ? "" : "s", s.n_kills, s.n_kills == 1 ? "" : "s",
                 s.cooldown_until_usec ? ", a kill cooldown" : "");
}

void persist_maybe_save(struct manager *m)
{
        const char *dir = m->p.state_directory;
        if (!dir || !*dir)
                return;
        struct persisted_state now;
        if (agent_state_export(&m->state, &now) < 0)
                return; /* tried again after the next step */
        if (m->have_saved && persisted_state_equal(&now, &m->saved)) {
                persisted_state_done(&now);
                return;
        }
        /* The file counts in CLOCK_REALTIME; m->saved stays in CLOCK_MONOTONIC to compare. */
        struct persisted_state copy = now;
        copy.units = NULL;
        if (now.n_units > 0 && !(copy.units = calloc(now.n_units, sizeof(*copy.units)))) {
                persisted_state_done(&now);
                return;
        }
        if (now.n_units > 0)
                memcpy(copy.units, now.units, now.n_units * sizeof(*copy.units));
        uint64_t real = now_usec(CLOCK_REALTIME);
        persisted_state_shift(&copy, now_usec(CLOCK_MONOTONIC), real);
        int r = persist_save(dir, &copy, real);
        persisted_state_done(&copy);
        if (r < 0) {
                if (!m->save_failed)
                        log_warning_errno(r,
                                          "Failed to save the state into %s/%s: %m; a restart "
                                          "would forget loans and stand-backs (trying again "
                                          "after each step)",
                                          dir, PERSIST_FILE);
                m->save_failed = true;
                persisted_state_done(&now);
                return;
        }
        if (m->save_failed)
                log_info("Saved the state into %s/%s again", dir, PERSIST_FILE);
        m->save_failed = false;
        persisted_state_done(&m->saved);
        m->saved = now;
        m->have_saved = true;
}
