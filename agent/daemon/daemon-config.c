// SPDX-License-Identifier: Apache-2.0
#include "agent/daemon/daemon-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/listen-address.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/node-name.h"

/* ---- Checks of single values --------------------------------------------------------------- */

static int check_api_socket(const char *s, char *err, size_t err_size)
{
        if (!*s)
                return 0; /* no local API */
        if (config_check_absolute_path(s, err, err_size) < 0)
                return -EINVAL;
        if (strlen(s) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
                snprintf(err, err_size, "a socket path must be shorter than %zu bytes",
                         sizeof(((struct sockaddr_un *)0)->sun_path));
                return -EINVAL;
        }
        return 0;
}

/* A Kubernetes node name, or "" for $NODE_NAME or the host name. */
static int check_node_name(const char *s, char *err, size_t err_size)
{
        if (!*s || node_name_is_valid(s, strlen(s)))
                return 0;
        snprintf(err, err_size, "is not a Kubernetes node name (" NODE_NAME_RULES ")");
        return -EINVAL;
}

/* metricsAddress: "none", or an address to listen on (common/listen-address.h). */
static int check_metrics_address(const char *s, char *err, size_t err_size)
{
        struct sockaddr_storage addr;
        socklen_t len;
        if (streq(s, "none") || listen_address_parse(s, &addr, &len) == 0)
                return 0;
        snprintf(err, err_size,
                 "is not HOST:PORT with a numeric address, [IPv6]:PORT, :PORT (every address) or "
                 "none (like :9808 or 127.0.0.1:9808)");
        return -EINVAL;
}

/* "PATH[=QOS]": what memagent's --workload-root takes too. */
static int check_workload_root(const char *s, char *err, size_t err_size)
{
        const char *eq = strchr(s, '=');

        if (s[0] != '/') {
                snprintf(err, err_size,
                         "the path must start with '/' (relative to the cgroup root, like "
                         "/system.slice=burstable)");
                return -EINVAL;
        }
        if (eq && qos_from_string(eq + 1) < 0) {
                snprintf(err, err_size,
                         "unknown QoS class \"%.32s\" (guaranteed, burstable or besteffort)",
                         eq + 1);
                return -EINVAL;
        }
        return 0;
}

/* plugins/policy.h: "NAME[:ARGS]" with NAME in [A-Za-z0-9_-]+, or "/abs/path.so[:ARGS]". */
static int check_policy(const char *s, char *err, size_t err_size)
{
        if (s[0] == '/')
                return 0;
        size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
        if (n == 0 || (s[n] != '\0' && s[n] != ':')) {
                snprintf(err, err_size,
                         "a policy is NAME[:ARGS] with NAME of letters, digits, '_' and '-', or an "
                         "absolute path to a plugin");
                return -EINVAL;
        }
        return 0;
}

static int check_qos_class(const char *s, char *err, size_t err_size)
{
        if (qos_from_string(s) < 0) {
                snprintf(err, err_size,
                         "unknown QoS class \"%.32s\" (guaranteed, burstable or besteffort)", s);
                return -EINVAL;
        }
        return 0;
}

static const struct config_enum_value remote_swap_levels[] = {
        { "none", LEVEL_NONE },         { "low", LEVEL_LOW }, { "medium", LEVEL_MEDIUM },
        { "critical", LEVEL_CRITICAL }, { NULL, 0 },
};

static int check_cgroup_glob(const char *s, char *err, size_t err_size)
{
        if (s[0] != '/') {
                snprintf(err, err_size,
                         "a pattern matches cgroup paths relative to the cgroup root, so it "
                         "starts with '/' (like /system.slice/sshd.service or /kubepods.slice/*)");
                return -EINVAL;
        }
        return 0;
}

/* ---- The table ------------------------------------------------------------------------------ */

#define C       struct agent_config
#define RELOAD  true
#define RESTART false

static const struct config_entry entries[] = {
        CONFIG_ENTRY_STRING(C, cgroup_root, "cgroupRoot", "/sys/fs/cgroup",
                            config_check_absolute_path, "PATH", RESTART,
                            "Where the cgroup v2 hierarchy is mounted."),
        CONFIG_ENTRY_STRING(C, proc_root, "procRoot", "/proc", config_check_absolute_path, "PATH",
                            RESTART, "Where procfs is mounted (node PSI and /proc/meminfo)."),
        CONFIG_ENTRY_STRING(C, sys_root, "sysRoot", "/sys", config_check_absolute_path, "PATH",
                            RESTART, "Where sysfs is mounted."),
        CONFIG_ENTRY_STRV(C, workload_roots, "workloadRoots", "/system.slice=burstable",
                          check_workload_root, "PATH[=QOS],...", RELOAD,
                          "Non-Kubernetes cgroups: each child of PATH is a workload of class QOS "
                          "(guaranteed, burstable (the default) or besteffort), PATH relative to "
                          "the cgroup root; none for no such workloads. Workloads are shown, "
                          "ballooned like pods of their class, and evicted only on a host "
                          "without Kubernetes: on a Kubernetes node they are the kubelet, the "
                          "runtime and the like, which are never evicted."),
        CONFIG_ENTRY_DURATION(C, sample_interval_usec, "sampleInterval", "1s", "100ms", "60s",
                              RELOAD, "How often every tracked cgroup is sampled when calm."),
        CONFIG_ENTRY_DURATION(C, fast_sample_interval_usec, "fastSampleInterval", "100ms", "20ms",
                              "10s", RELOAD,
                              "How often cgroups are sampled while any scope is at level low or "
                              "above; at most sampleInterval."),
        CONFIG_ENTRY_DURATION(C, psi_window_usec, "psiWindow", "1s", "500ms", "10s", RESTART,
                              "Window of the PSI triggers that wake the agent between samples "
                              "(the kernel's range; without CAP_SYS_RESOURCE it is widened to a "
                              "multiple of 2s)."),
        CONFIG_ENTRY_PERCENT(C, psi_low_some, "psiLowSome", "10", NULL, NULL, RELOAD,
                             "Share of wall time with some tasks stalled on memory, since the "
                             "previous sample, that raises level low; 0 disables."),
        CONFIG_ENTRY_PERCENT(C, psi_medium_full, "psiMediumFull", "10", NULL, NULL, RELOAD,
                             "Share of wall time with all tasks stalled on memory that raises "
                             "level medium (graceful eviction); 0 disables."),
        CONFIG_ENTRY_PERCENT(C, psi_critical_full, "psiCriticalFull", "40", NULL, NULL, RELOAD,
                             "Share of wall time with all tasks stalled on memory that raises "
                             "level critical (immediate kill); above psiMediumFull; 0 disables."),
        CONFIG_ENTRY_BYTES_OR_PERCENT(C, memory_available_low, "memoryAvailableLow", "20%", NULL,
                                      NULL, RELOAD,
                                      "Available memory (a quantity, or a percentage of the "
                                      "scope's total) below which level low is raised; 0 "
                                      "disables."),
        CONFIG_ENTRY_BYTES_OR_PERCENT(C, memory_available_medium, "memoryAvailableMedium", "10%",
                                      NULL, NULL, RELOAD,
                                      "Available memory below which level medium is raised; "
                                      "below memoryAvailableLow; 0 disables."),
        CONFIG_ENTRY_BYTES_OR_PERCENT(C, memory_available_critical, "memoryAvailableCritical", "5%",
                                      NULL, NULL, RELOAD,
                                      "Available memory below which level critical is raised; "
                                      "below memoryAvailableMedium; 0 disables."),
        CONFIG_ENTRY_INT(C, raise_samples, "raiseSamples", "2", "1", "100", RELOAD,
                         "Consecutive samples over a threshold before the level rises."),
        CONFIG_ENTRY_DURATION(C, clear_hold_usec, "clearHold", "5s", "0", "10m", RELOAD,
                              "How long a scope must stay below a level before it clears."),
        CONFIG_ENTRY_PERCENT(C, thrash_stall_some, "thrashStallSome", "5", NULL, NULL, RELOAD,
                             "Thrashing is pressure: a pod's own memory stall (its "
                             "memory.pressure some, share of wall time) at or above this, with "
                             "its file refaults at thrashRefaultsPerSec, for thrashSustain, on a "
                             "node whose MemAvailable is below thrashAvailable, raises level "
                             "medium when pods ranked before it hold memory; 0 disables. While "
                             "on, a full stall that is one refaulting pod's own is not its "
                             "scope's (psiMediumFull, psiCriticalFull)."),
        CONFIG_ENTRY_INT(C, thrash_refaults_per_sec, "thrashRefaultsPerSec", "1000", "1",
                         "10000000", RELOAD,
                         "File pages a pod must read back per second (memory.stat "
                         "workingset_refault_file) for its stall to count as thrashing."),
        CONFIG_ENTRY_BYTES_OR_PERCENT(C, thrash_available, "thrashAvailable", "30%", NULL, NULL,
                                      RELOAD,
                                      "The node is tight, for the thrash signal, while "
                                      "MemAvailable is below this (page cache counts as "
                                      "available, so a thrashing node still shows 20% or so)."),
        CONFIG_ENTRY_DURATION(C, thrash_sustain_usec, "thrashSustain", "5s", "1s", "10m", RELOAD,
                              "How long a pod must thrash before it is pressure: a short burst "
                              "is not. Two 1 s windows in a row at 4x both thresholds are "
                              "enough."),
        CONFIG_ENTRY_PERCENT(C, thrash_own_limit, "thrashOwnLimit", "90", "1", "100", RELOAD,
                             "A pod (or one of its containers) using this share of its own "
                             "memory.max or memory.high thrashes inside its limit: its own "
                             "business, never the node's pressure."),
        CONFIG_ENTRY_BOOL(C, dry_run, "dryRun", "false", RELOAD,
                          "Decide and log, but never reclaim, evict or kill."),
        CONFIG_ENTRY_STRV(C, eviction_policies, "evictionPolicies", "qos", check_policy,
                          "POLICY,...", RELOAD,
                          "The policy chain that ranks victims, first decides: qos (built in), "
                          "NAME[:ARGS] for pluginDir/memagent-policy-NAME.so, or an absolute "
                          "path."),
        CONFIG_ENTRY_STRING(C, plugin_dir, "pluginDir", MEMAGENT_PLUGIN_DIR,
                            config_check_absolute_path, "PATH", RESTART,
                            "Where policy plugins are looked up (where they are installed)."),
        CONFIG_ENTRY_STRV(C, protected_cgroups, "protectedCgroups", "", check_cgroup_glob,
                          "GLOB,...", RELOAD,
                          "fnmatch(3) patterns of cgroup paths (relative to the cgroup root; "
                          "'*' also matches '/') that are never evicted or killed; the "
                          "user.oomd_omit xattr on a root-owned cgroup does the same."),
        CONFIG_ENTRY_STRV(C, avoid_cgroups, "avoidCgroups", "", check_cgroup_glob, "GLOB,...",
                          RELOAD,
                          "fnmatch(3) patterns of cgroup paths ('*' also matches '/') that are "
                          "chosen only when no other candidate is left; also the user.oomd_avoid "
                          "xattr on a root-owned cgroup."),
        CONFIG_ENTRY_DURATION(C, kill_cooldown_usec, "killCooldown", "5s", "0", "10m", RELOAD,
                              "Pause after a kill before the next one, so that the kernel can "
                              "free the memory and pressure can fall."),
        CONFIG_ENTRY_INT(C, max_kills_per_minute, "maxKillsPerMinute", "6", "1", "600", RELOAD,
                         "At most this many kills in any 60 seconds."),
        CONFIG_ENTRY_DURATION(C, grace_period_usec, "gracePeriod", "3s", "0", "5m", RELOAD,
                              "Time between SIGTERM and SIGKILL in a graceful eviction."),
        CONFIG_ENTRY_STRING(C, api_socket, "apiSocket", "/run/memagent/memagentd.sock",
                            check_api_socket, "PATH", RESTART,
                            "Unix socket of the local API (memagent status); \"\" for none."),
        CONFIG_ENTRY_STRING(C, state_directory, "stateDirectory", "/var/lib/memagent",
                            config_check_optional_absolute_path, "PATH", RESTART,
                            "Where memagentd keeps what a restart must not forget (loans to "
                            "return, containers it stood back from, recent kills), created 0700; "
                            "\"\" for nowhere."),
        CONFIG_ENTRY_INT(C, decision_log_size, "decisionLogSize", "64", "1", "10000", RESTART,
                         "How many recent decisions the local API keeps."),
        CONFIG_ENTRY_ENUM(C, log_level, "logLevel", "info", config_log_levels, RELOAD,
                          "Most verbose level logged."),
        CONFIG_ENTRY_BOOL(C, bpf_enabled, "bpfEnabled", "true", RESTART,
                          "Load the BPF memory signals (reclaim stall time per cgroup, the kernel "
                          "OOM killer's victims). Without BTF or CAP_BPF/CAP_PERFMON the agent "
                          "runs on PSI alone and says so once."),
        CONFIG_ENTRY_STRING(C, scheduler_url, "schedulerUrl", "", config_check_http_url, "URL",
                            RESTART,
                            "memschedd's base URL (http:// or https://): the node report goes to "
                            "URL/v1/nodes/NODE/report on change and every reportHeartbeat; \"\" "
                            "for none. The agent protects its node whether memschedd answers or "
                            "not."),
        CONFIG_ENTRY_STRING(C, scheduler_ca, "schedulerCA", "", config_check_optional_absolute_path,
                            "PATH", RESTART,
                            "PEM bundle of the CA(s) that signed memschedd's certificate, for an "
                            "https:// schedulerUrl; \"\" for the system's CAs. The server's "
                            "certificate and host name are always verified. Read again at each new "
                            "connection, like schedulerCert and schedulerKey."),
        CONFIG_ENTRY_STRING(C, scheduler_cert, "schedulerCert", "",
                            config_check_optional_absolute_path, "PATH", RESTART,
                            "PEM client certificate presented to memschedd (its CN must be "
                            "nodeName), with schedulerKey; \"\" for none. The files are read "
                            "again at each new connection, so a rotated certificate is used "
                            "without a restart."),
        CONFIG_ENTRY_STRING(C, scheduler_key, "schedulerKey", "",
                            config_check_optional_absolute_path, "PATH", RESTART,
                            "PEM private key of schedulerCert (unencrypted); both or neither."),
        CONFIG_ENTRY_STRING(C, scheduler_token_file, "schedulerTokenFile", "",
                            config_check_optional_absolute_path, "PATH", RESTART,
                            "File holding a bearer token presented to memschedd (Authorization: "
                            "Bearer) on reports, pool offers and leases, instead of or besides "
                            "schedulerCert; memschedd's tokenFile maps it to nodeName. Read at "
                            "each request, so a rotated token is used without a restart. \"\" "
                            "for none."),
        CONFIG_ENTRY_STRING(C, node_name, "nodeName", "", check_node_name, "NAME", RESTART,
                            "This node's name in the cluster; \"\": $NODE_NAME (the downward "
                            "API), else the host name in lowercase."),
        CONFIG_ENTRY_STRING(C, kubeconfig, "kubeconfig", "", config_check_optional_absolute_path,
                            "PATH", RESTART,
                            "kubeconfig file for the Kubernetes API server (current context: "
                            "server, certificate-authority[-data], client-certificate/key[-data], "
                            "token, tokenFile, insecure-skip-tls-verify). \"\": in-cluster "
                            "when KUBERNETES_SERVICE_HOST is set (the pod's service account), "
                            "else standalone (cgroups only). With the API, memagentd watches "
                            "its node's pods, evicts through the Eviction API, records Events "
                            "and resizes loans through pods/resize."),
        CONFIG_ENTRY_STRING(C, metrics_address, "metricsAddress", ":9808", check_metrics_address,
                            "ADDR", RESTART,
                            "Where Prometheus /metrics and the /healthz and /readyz probes are "
                            "served over plain HTTP: HOST:PORT, [IPv6]:PORT, :PORT for every "
                            "address, port 0 for a free one (logged); none for no server. A port "
                            "that cannot be bound stops memagentd at start."),
        CONFIG_ENTRY_DURATION(C, report_heartbeat_usec, "reportHeartbeat", "10s", "1s", "5m",
                              RESTART, "Send the node report at least this often."),
        CONFIG_ENTRY_BYTES_OR_PERCENT(C, pool_donate, "poolDonate", "0", "0", NULL, RESTART,
                                      "Memory this node lends to the pools (issue 14): a quantity "
                                      "or a percentage of its RAM, locked at start and served "
                                      "over TCP to consumers that memschedd grants slabs to; 0 "
                                      "for none."),
        CONFIG_ENTRY_BYTES(C, pool_slab_bytes, "poolSlabSize", "64Mi", "1Mi", "16Gi", RESTART,
                           "The slabs poolDonate is cut into (whole pages)."),
        CONFIG_ENTRY_STRING(C, pool_donate_address, "poolDonateAddress", "", NULL, "ADDRESS",
                            RESTART,
                            "Numeric IP address the donor listens on and offers to consumers; "
                            "\"\" listens on every address and offers nodeName."),
        CONFIG_ENTRY_INT(C, pool_donate_port, "poolDonatePort", "7610", "1", "65535", RESTART,
                         "TCP port of the donor."),
        CONFIG_ENTRY_BYTES(C, remote_swap_bytes, "remoteSwapBytes", "0", "0", NULL, RESTART,
                           "Remote memory leased from the pools through schedulerUrl and used as "
                           "swap (/dev/nbdN, needs the nbd module and CAP_SYS_ADMIN); 0 for "
                           "none. Writes go to two replicas on two donors."),
        CONFIG_ENTRY_INT(C, remote_swap_priority, "remoteSwapPriority", "100", "0", "32767",
                         RESTART,
                         "swapon priority of the remote swap: above local swap devices to be "
                         "used before them."),
        CONFIG_ENTRY_DURATION(C, remote_swap_lease_ttl_usec, "remoteSwapLeaseTtl", "60s", "3s",
                              "24h", RESTART,
                              "TTL of the remote swap lease, renewed every third of it."),
        CONFIG_ENTRY_ENUM(C, remote_swap_level, "remoteSwapLevel", "low", remote_swap_levels,
                          RELOAD,
                          "Node pressure level at which the remote swap is leased (and below "
                          "which, for remoteSwapCalmHold, it is drained and given back); none "
                          "keeps it leased while any container may swap."),
        CONFIG_ENTRY_DURATION(C, remote_swap_calm_hold_usec, "remoteSwapCalmHold", "60s", "0",
                              "24h", RELOAD,
                              "How long the node stays below remoteSwapLevel before the remote "
                              "swap is drained (swapoff) and its lease returned."),
        CONFIG_ENTRY_BYTES(C, remote_swap_drain_margin_bytes, "remoteSwapDrainMargin", "64Mi", "0",
                           NULL, RELOAD,
                           "Memory that must stay available after a drain: the pages come home "
                           "only when swapped + this fit in MemAvailable; a lease that must end "
                           "evicts by policy first."),
        CONFIG_ENTRY_STRV(C, remote_swap_qos_classes, "remoteSwapQosClasses",
                          "burstable,besteffort", check_qos_class, "QOS,...", RELOAD,
                          "QoS classes whose containers may swap (memory.swap.max max) while the "
                          "remote swap is on; the others get memory.swap.max 0 (Guaranteed by "
                          "default). A pod cgroup's xattr user.memagent_swap=1/0 overrides."),
        CONFIG_ENTRY_DURATION(C, bpf_stall_threshold_usec, "bpfStallThreshold", "100ms", "0", "10s",
                              RESTART,
                              "A single reclaim stall at least this long is reported as an event "
                              "(logged at debug level); shorter ones are only counted."),
        CONFIG_ENTRY_BOOL(C, balloon_enabled, "balloonEnabled", "true", RELOAD,
                          "Reclaim cold memory from containers whose memory stall stays under "
                          "balloonPsiTarget (memory.reclaim), never below their request "
                          "(memory.min/low); under node pressure, coldest containers first."),
        CONFIG_ENTRY_STRV(C, balloon_qos_classes, "balloonQosClasses", "burstable,besteffort",
                          check_qos_class, "QOS,...", RELOAD,
                          "QoS classes the balloon reclaims from. Guaranteed pods are left out "
                          "by default: they paid for their memory."),
        CONFIG_ENTRY_PERCENT(C, balloon_psi_target, "balloonPsiTarget", "0.1%", "0.001", "10",
                             RELOAD,
                             "A container's share of wall time with some tasks stalled on memory "
                             "under which the balloon keeps reclaiming; at or over it, it backs "
                             "off at once (Senpai's default, 0.1%)."),
        CONFIG_ENTRY_DURATION(C, balloon_interval_usec, "balloonInterval", "2s", "500ms", "10m",
                              RELOAD,
                              "Time between two balloon steps in one container (a quarter of it "
                              "under node pressure)."),
        CONFIG_ENTRY_PERCENT(C, balloon_step_percent, "balloonStepPercent", "2%", "0.1", "25",
                             RELOAD,
                             "Largest step, as a share of the container's memory.current, "
                             "scaled down as the stall nears the target."),
        CONFIG_ENTRY_BYTES(C, balloon_max_step_bytes, "balloonMaxStep", "8Mi", "1Mi", "1Gi", RELOAD,
                           "Cap of one step (one memory.reclaim write; four times this under "
                           "node pressure): the kernel's write lasts as long as the reclaim."),
        CONFIG_ENTRY_BYTES(C, balloon_min_margin_bytes, "balloonMinMargin", "16Mi", "0", "16Gi",
                           RELOAD,
                           "Kept above a container's unreclaimable memory (anonymous memory "
                           "without swap, kernel memory) whatever its stall."),
        CONFIG_ENTRY_BOOL(C, vscale_enabled, "vscaleEnabled", "false", RELOAD,
                          "Lend memory to a Burstable container about to hit its limit when the "
                          "node has headroom (raise memory.max/high), and take it back as its "
                          "working set recedes. With the Kubernetes API a loan is also sent as "
                          "PATCH pods/resize, so the pod's spec changes: off by default, an "
                          "operator chooses to allow it."),
        CONFIG_ENTRY_BYTES_OR_PERCENT(C, vscale_step, "vscaleStep", "20%", "1Mi", NULL, RELOAD,
                                      "One loan or return step: a quantity, or a percentage of "
                                      "the container's original limit."),
        CONFIG_ENTRY_BYTES_OR_PERCENT(C, vscale_ceiling, "vscaleCeiling", "50%", "0", NULL, RELOAD,
                                      "Most a container may borrow in all: a quantity, or a "
                                      "percentage of its original limit. Never more than the "
                                      "node can spare above memoryAvailableLow."),
        CONFIG_ENTRY_DURATION(C, vscale_return_hold_usec, "vscaleReturnHold", "30s", "0", "1h",
                              RELOAD,
                              "How long a borrower's working set must stay well under the next "
                              "lower limit before one step is taken back."),
};

#undef C

/* A threshold that is 0 (either form) is disabled and takes no part in the ordering. */
static bool avail_is_zero(const struct config_bytes_or_percent *a)
{
        return a->is_percent ? a->percent == 0 : a->bytes == 0;
}

/* True when a and b are of one kind and a is not above b. */
static bool avail_not_above(const struct config_bytes_or_percent *a,
                            const struct config_bytes_or_percent *b)
{
        if (a->is_percent != b->is_percent || avail_is_zero(a) || avail_is_zero(b))
                return false;
        return a->is_percent ? a->percent <= b->percent : a->bytes <= b->bytes;
}

static int agent_config_check(const void *p, char *err, size_t err_size)
{
        const struct agent_config *c = p;
        static const struct {
                const char *above, *below;
                size_t above_off, below_off;
        } order[] = {
                { "memoryAvailableLow", "memoryAvailableMedium",
                  offsetof(struct agent_config, memory_available_low),
                  offsetof(struct agent_config, memory_available_medium) },
                { "memoryAvailableMedium", "memoryAvailableCritical",
                  offsetof(struct agent_config, memory_available_medium),
                  offsetof(struct agent_config, memory_available_critical) },
                { "memoryAvailableLow", "memoryAvailableCritical",
                  offsetof(struct agent_config, memory_available_low),
                  offsetof(struct agent_config, memory_available_critical) },
        };

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                const struct config_bytes_or_percent *a = (const void *)((const char *)c +
                                                                         order[i].above_off),
                                                     *b = (const void *)((const char *)c +
                                                                         order[i].below_off);
                if (avail_not_above(a, b)) {
                        char va[64], vb[64];
                        config_format_value(config_find_key(&agent_config_table, order[i].above), c,
                                            va, sizeof(va));
                        config_format_value(config_find_key(&agent_config_table, order[i].below), c,
                                            vb, sizeof(vb));
                        snprintf(err, err_size,
                                 "key \"%s\" (%s) must be above key \"%s\" (%s): the levels "
                                 "rise as available memory falls",
                                 order[i].above, va, order[i].below, vb);
                        return -EINVAL;
                }
        }
        if (c->psi_medium_full > 0 && c->psi_critical_full > 0 &&
            c->psi_medium_full >= c->psi_critical_full) {
                snprintf(err, err_size,
                         "key \"psiMediumFull\" (%g%%) must be below key \"psiCriticalFull\" "
                         "(%g%%)",
                         c->psi_medium_full, c->psi_critical_full);
                return -EINVAL;
        }
        if (!*c->scheduler_cert != !*c->scheduler_key) {
                snprintf(err, err_size,
                         "key \"%s\" is set but key \"%s\" is not: the client certificate "
                         "and its key go together",
                         *c->scheduler_cert ? "schedulerCert" : "schedulerKey",
                         *c->scheduler_cert ? "schedulerKey" : "schedulerCert");
                return -EINVAL;
        }
        if (*c->scheduler_url && strncmp(c->scheduler_url, "https://", 8) != 0 &&
            (*c->scheduler_ca || *c->scheduler_cert)) {
                snprintf(err, err_size,
                         "key \"%s\" is set but key \"schedulerUrl\" (%s) is not an https:// "
                         "URL",
                         *c->scheduler_ca ? "schedulerCA" : "schedulerCert", c->scheduler_url);
                return -EINVAL;
        }
        if (c->fast_sample_interval_usec > c->sample_interval_usec) {
                char vf[64], vs[64];
                config_format_value(config_find_key(&agent_config_table, "fastSampleInterval"), c,
                                    vf, sizeof(vf));
                config_format_value(config_find_key(&agent_config_table, "sampleInterval"), c, vs,
                                    sizeof(vs));
                snprintf(err, err_size,
                         "key \"fastSampleInterval\" (%s) must not be longer than key "
                         "\"sampleInterval\" (%s)",
                         vf, vs);
                return -EINVAL;
        }
        return 0;
}

const struct config_table agent_config_table = {
        .entries = entries,
        .n_entries = ELEMENTSOF(entries),
        .struct_size = sizeof(struct agent_config),
        .check = agent_config_check,
};

_Static_assert(ELEMENTSOF(entries) <= CONFIG_ENTRIES_MAX, "too many configuration keys");

/* ---- Command line ------------------------------------------------------------------------- */

void agent_config_free(struct agent_config *cfg)
{
        if (!cfg)
                return;
        config_free(&agent_config_table, cfg);
        free(cfg->config_path);
        *cfg = (struct agent_config){ 0 };
}

int agent_config_load_from(int argc, char *argv[], const char *default_path,
                           struct agent_config *ret)
{
        const struct config_command_line cl = {
                .program = "memagentd",
                .summary = "Protects this Kubernetes node's memory: watches memory.available and "
                           "PSI, and reclaims, evicts or kills before the kernel's OOM killer has "
                           "to.",
                .default_path = default_path,
        };
        struct config_args args;
        struct agent_config c = { 0 };
        char err[CONFIG_ERR_MAX];
        int r;

        r = config_parse_command_line(&agent_config_table, &cl, argc, argv, &c, &c.sources, &args,
                                      err, sizeof(err));
        if (r < 0) {
                log_error("%s", err);
                return r;
        }
        c.config_path = TAKE_PTR(args.config_path);
        c.config_path_required = args.config_path_required;
        if (args.help || args.version) {
                if (args.help)
                        config_print_usage(&agent_config_table, &cl, stdout);
                else
                        printf("memagentd %s\n", MEMAGENT_VERSION);
                *ret = c;
                return 0;
        }
        if (args.print_config) {
                printf("# memagentd %s, effective configuration: defaults, then\n# %s%s, then "
                       "flags.\n\n",
                       MEMAGENT_VERSION, c.config_path, args.file_missing ? " (missing)" : "");
                r = config_dump_yaml(&agent_config_table, &c, &c.sources, stdout);
                if (r < 0) {
                        agent_config_free(&c);
                        return log_error_errno(r, "Failed to write the configuration: %m");
                }
                *ret = c;
                return 0;
        }
        *ret = c;
        return 1;
}

int agent_config_load(int argc, char *argv[], struct agent_config *ret)
{
        return agent_config_load_from(argc, argv, AGENT_CONFIG_DEFAULT_PATH, ret);
}

int agent_config_reload(struct agent_config *cfg)
{
        char err[CONFIG_ERR_MAX];
        int r = config_reload(&agent_config_table, cfg->config_path, cfg->config_path_required, cfg,
                              &cfg->sources, err, sizeof(err));
        if (r < 0) {
                log_error("Reloading the configuration failed, keeping the previous one: %s", err);
                return r;
        }
        log_info("Reloaded %s: %d setting%s changed", cfg->config_path, r, r == 1 ? "" : "s");
        return r;
}

int agent_config_workload_roots(const struct agent_config *cfg, struct workload_root **ret_roots,
                                size_t *ret_n)
{
        const struct config_strv *l = &cfg->workload_roots;
        size_t size = l->n * sizeof(struct workload_root);
        struct workload_root *roots;
        char *p;

        for (size_t i = 0; i < l->n; i++)
                size += strlen(l->items[i]) + 1;
        roots = malloc(size ? size : 1);
        if (!roots)
                return -ENOMEM;
        p = (char *)(roots + l->n);
        for (size_t i = 0; i < l->n; i++) {
                const char *item = l->items[i], *eq = strchr(item, '=');
                size_t len = eq ? (size_t)(eq - item) : strlen(item);
                int q = eq ? qos_from_string(eq + 1) : QOS_BURSTABLE;

                memcpy(p, item, len);
                p[len] = '\0';
                roots[i] =
                    (struct workload_root){ .path = p,
                                            .qos = q < 0 ? QOS_BURSTABLE : (enum qos_class)q };
                p += len + 1;
        }
        *ret_roots = roots;
        *ret_n = l->n;
        return 0;
}
