// SPDX-License-Identifier: Apache-2.0
// BPF memory signals on the loop: the ring buffer's events (the kernel OOM killer's victims,
// reclaim stalls) are logged and counted, an OOM victim wakes a tick at once, and the per-cgroup
// stall counters are copied into the model before each decision.
#include <string.h>

#include "agent/daemon/manager-private.h"
#include "bpf/bpfsig.h"
#include "common/log.h"
#include "common/quantity.h"

static const char *cgroup_path_of(struct manager *m, uint64_t id)
{
        const struct cgroup *c = model_find_cgroup(&m->model, id);
        return c ? c->path : NULL;
}

static void on_bpf_event(const union bpfsig_event *ev, void *userdata)
{
        struct manager *m = userdata;
        if (ev->type == MEMSIG_EV_OOM_VICTIM) {
                const struct memsig_oom_event *o = &ev->oom;
                const char *cg = cgroup_path_of(m, o->victim_cgroup_id);
                char rss[FORMAT_BYTES_MAX];
                m->kernel_oom_kills++;
                m->oom_seen = true;
                m->refresh_needed = true;
                log_warning(
                    "The kernel OOM killer took pid %u (%.16s) in %s, anon rss %s: memagent "
                    "did not get there first",
                    o->victim_tgid, o->victim_comm, cg ? cg : "a cgroup memagent does not track",
                    format_bytes_iec(o->anon_rss_pages * 4096, rss, sizeof(rss)));
        } else if (ev->type == MEMSIG_EV_STALL) {
                const struct memsig_stall_event *st = &ev->stall;
                const char *cg = cgroup_path_of(m, st->cgroup_id);
                m->stall_events++;
                log_debug("Reclaim stall of %llu us in %s (pid %u, %.16s)",
                          (unsigned long long)(st->duration_ns / 1000), cg ? cg : "?", st->pid,
                          st->comm);
        }
}

static int on_bpf_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct manager *m = userdata;
        (void)s;
        (void)fd;
        (void)revents;
        m->oom_seen = false;
        (void)bpfsig_consume(m->bpf);
        if (m->oom_seen)
                manager_run_tick(m, "oom");
        return 0;
}

void bpf_events_setup(struct manager *m)
{
        char why[512] = "";
        if (!m->p.bpf_enabled) {
                log_info("BPF memory signals off (bpfEnabled=false): running on PSI and "
                         "memory.available alone");
                return;
        }
        struct bpfsig_opts o = {
                .stall_threshold_usec = m->p.bpf_stall_threshold_usec,
                .pin_dir = BPFSIG_PIN_DIR_DEFAULT,
                .lazy_stall_events = true,
                .why = why,
                .why_size = sizeof(why),
        };
        int r = bpfsig_open(&o, &m->bpf);
        if (r < 0) {
                log_notice(
                    "BPF memory signals unavailable: %s; running on PSI and memory.available alone",
                    why[0] ? why : strerror(-r));
                m->bpf = NULL;
                return;
        }
        bpfsig_set_event_cb(m->bpf, on_bpf_event, m);
        r = sd_event_add_io(m->event, &m->bpf_src, bpfsig_event_fd(m->bpf), EPOLLIN, on_bpf_ready,
                            m);
        if (r < 0)
                log_warning_errno(r, "Failed to watch the BPF ring buffer: %m; OOM victims will be "
                                     "seen on the next sample");
        log_info("BPF memory signals attached with %s: %s",
                 bpfsig_attach_to_string(bpfsig_attach_type(m->bpf)),
                 bpfsig_attached_hooks(m->bpf));
}

void bpf_events_drain(struct manager *m)
{
        if (!m->bpf)
                return;
        (void)bpfsig_consume(m->bpf); /* stall events do not wake us: drain them here */
        bpfsig_fill_model(m->bpf, &m->model);
}

void bpf_events_close(struct manager *m)
{
        m->bpf_src = sd_event_source_disable_unref(m->bpf_src);
        bpfsig_free(m->bpf);
        m->bpf = NULL;
}
