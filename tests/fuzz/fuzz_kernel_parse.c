// SPDX-License-Identifier: Apache-2.0
// The kernel-file parsers of agent/parse.h, each on the same text: cgroup values, memory.stat,
// memory.events, PSI, memory.numa_stat, meminfo (/proc and per node) and node distances. The
// seeds are files captured from real kernels (tests/fixtures), so mutations start from what the
// kernel writes. Beyond the sanitizers, a parser must fill a NUL-terminated error on failure and
// keep its counts within the arrays it fills.
#include <stdlib.h>
#include <string.h>

#include "agent/kernel/parse.h"
#include "tests/fuzz/fuzz.h"

static void check_err(int r, const struct parse_error *err, const char *parser)
{
        if (r == 0)
                return;
        if (r != -EBADMSG && r != -ERANGE && r != -EINVAL)
                fuzz_fail("%s returned %d", parser, r);
        if (!memchr(err->what, '\0', sizeof(err->what)))
                fuzz_fail("%s left an unterminated error", parser);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *buf = fuzz_strndup(data, size);
        struct parse_error err;
        uint64_t v;
        int r;

        err = (struct parse_error){};
        check_err(parse_cg_value(buf, &v, &err), &err, "parse_cg_value");

        struct memory_stat ms;
        err = (struct parse_error){};
        check_err(parse_memory_stat(buf, &ms, &err), &err, "parse_memory_stat");

        struct memory_events ev;
        err = (struct parse_error){};
        check_err(parse_memory_events(buf, &ev, &err), &err, "parse_memory_events");

        struct psi_stats psi;
        err = (struct parse_error){};
        check_err(parse_psi(buf, &psi, &err), &err, "parse_psi");

        struct numa_stat ns;
        err = (struct parse_error){};
        r = parse_numa_stat(buf, &ns, &err);
        check_err(r, &err, "parse_numa_stat");
        if (r == 0 && ns.n_nodes > NUMA_NODES_MAX)
                fuzz_fail("parse_numa_stat: %u nodes > NUMA_NODES_MAX", ns.n_nodes);

        struct meminfo mi;
        err = (struct parse_error){};
        check_err(parse_meminfo(buf, &mi, &err), &err, "parse_meminfo");

        unsigned dist[NUMA_NODES_MAX], n = 0;
        err = (struct parse_error){};
        r = parse_distance(buf, dist, NUMA_NODES_MAX, &n, &err);
        check_err(r, &err, "parse_distance");
        if (r == 0 && n > NUMA_NODES_MAX)
                fuzz_fail("parse_distance: %u values > %d", n, NUMA_NODES_MAX);
        return 0;
}
