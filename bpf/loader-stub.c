// SPDX-License-Identifier: Apache-2.0
// The loader when memagent is built without BPF (no clang, bpftool, libbpf or kernel BTF, or
// MEMAGENT_BPF=OFF; bpf/CMakeLists.txt picks this file instead of loader.c): every call that
// needs the kernel returns -EOPNOTSUPP, and bpfsig_probe() says why, so the agent runs on PSI.
#include "bpf/bpfsig.h"

#include <errno.h>
#include <stdio.h>

#ifndef MEMAGENT_BPF_DISABLED_REASON
#define MEMAGENT_BPF_DISABLED_REASON "MEMAGENT_BPF=OFF"
#endif

int bpfsig_probe(char *why, size_t why_size)
{
        if (why && why_size)
                snprintf(why, why_size, "memagent was built without BPF support (%s)",
                         MEMAGENT_BPF_DISABLED_REASON);
        return -EOPNOTSUPP;
}

int bpfsig_open(const struct bpfsig_opts *o, struct bpfsig **ret)
{
        (void)ret;
        return bpfsig_probe(o ? o->why : NULL, o ? o->why_size : 0);
}

int bpfsig_open_pinned(const char *pin_dir, struct bpfsig **ret)
{
        (void)pin_dir;
        (void)ret;
        return -EOPNOTSUPP;
}

void bpfsig_free(struct bpfsig *b)
{
        (void)b;
}

enum bpfsig_attach bpfsig_attach_type(const struct bpfsig *b)
{
        (void)b;
        return BPFSIG_ATTACH_NONE;
}

const char *bpfsig_attached_hooks(const struct bpfsig *b)
{
        (void)b;
        return "";
}

int bpfsig_read_cgroup(struct bpfsig *b, uint64_t cgroup_id, struct bpfsig_cgroup_stats *ret)
{
        (void)b;
        (void)cgroup_id;
        (void)ret;
        return -EOPNOTSUPP;
}

int bpfsig_for_each_cgroup(struct bpfsig *b, bpfsig_cgroup_cb cb, void *userdata)
{
        (void)b;
        (void)cb;
        (void)userdata;
        return -EOPNOTSUPP;
}

int bpfsig_event_fd(const struct bpfsig *b)
{
        (void)b;
        return -EOPNOTSUPP;
}

void bpfsig_set_event_cb(struct bpfsig *b, bpfsig_event_cb cb, void *userdata)
{
        (void)b;
        (void)cb;
        (void)userdata;
}

int bpfsig_consume(struct bpfsig *b)
{
        (void)b;
        return -EOPNOTSUPP;
}

int bpfsig_poll(struct bpfsig *b, int timeout_ms)
{
        (void)b;
        (void)timeout_ms;
        return -EOPNOTSUPP;
}

uint64_t bpfsig_dropped_events(const struct bpfsig *b)
{
        (void)b;
        return 0;
}

int bpfsig_enable_stats(void)
{
        return -EOPNOTSUPP;
}

int bpfsig_prog_stats(const struct bpfsig *b, struct bpfsig_prog_stats *out, size_t n)
{
        (void)b;
        (void)out;
        (void)n;
        return -EOPNOTSUPP;
}

int bpfsig_test_run(struct bpfsig *b, const char *hook, const uint64_t *args, size_t n_args)
{
        (void)b;
        (void)hook;
        (void)args;
        (void)n_args;
        return -EOPNOTSUPP;
}

bool bpfsig_mark_victim_has_task(const struct bpfsig *b)
{
        (void)b;
        return false;
}
