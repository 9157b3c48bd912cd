// SPDX-License-Identifier: Apache-2.0
// pagein: the job bench/remote-swap.sh times on each kind of swap. Fills SIZE MiB of anonymous
// memory with incompressible bytes (a page's bytes follow from its index), then reads every page
// once in a random order, timing each first touch: in a cgroup whose memory.max is below SIZE
// most of those touches are page-ins from swap, so their latencies are the swap's. Prints one
// line: pagein=result pages fill_ms read_ms job_ms job_mib_s p50_us p99_us max_us bad_pages.
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096u

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mix(uint64_t x)
{
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ull;
        return x ^ (x >> 33);
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
        if (argc != 3 || strcmp(argv[1], "--size-mib") != 0 || atoi(argv[2]) <= 0) {
                fprintf(stderr, "Usage: pagein --size-mib N\n");
                return 2;
        }
        size_t pages = (size_t)atoi(argv[2]) * (1u << 20) / PAGE;
        uint8_t *mem =
            mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uint32_t *order = calloc(pages, sizeof(*order)), *lat_ns = calloc(pages, sizeof(*lat_ns));
        if (mem == MAP_FAILED || !order || !lat_ns) {
                perror("pagein: allocation");
                return 1;
        }
        (void)madvise(mem, pages * PAGE, MADV_NOHUGEPAGE); /* page-sized faults, as swap does */

        uint64_t t0 = now_ns();
        for (size_t i = 0; i < pages; i++) {
                uint64_t *p = (uint64_t *)(mem + i * PAGE);
                for (size_t k = 0; k < PAGE / sizeof(uint64_t); k++)
                        p[k] = mix(i * 512 + k + 1);
        }
        uint64_t t1 = now_ns();

        /* A random order (Fisher-Yates, fixed seed): no readahead or locality helps. */
        for (size_t i = 0; i < pages; i++)
                order[i] = (uint32_t)i;
        uint64_t s = 0x9e3779b97f4a7c15ull;
        for (size_t i = pages - 1; i > 0; i--) {
                s = mix(s);
                size_t j = s % (i + 1);
                uint32_t t = order[i];
                order[i] = order[j];
                order[j] = t;
        }
        size_t bad = 0;
        for (size_t n = 0; n < pages; n++) {
                size_t i = order[n];
                volatile uint64_t *p = (volatile uint64_t *)(mem + i * PAGE);
                uint64_t a = now_ns();
                uint64_t v = p[0];
                uint64_t b = now_ns();
                lat_ns[n] = b - a > UINT32_MAX ? UINT32_MAX : (uint32_t)(b - a);
                if (v != mix(i * 512 + 1) || p[511] != mix(i * 512 + 512))
                        bad++;
        }
        uint64_t t2 = now_ns();

        qsort(lat_ns, pages, sizeof(*lat_ns), cmp_u32);
        double job_s = (double)(t2 - t0) / 1e9;
        printf("pagein=result pages=%zu fill_ms=%" PRIu64 " read_ms=%" PRIu64 " job_ms=%" PRIu64
               " job_mib_s=%.1f p50_us=%.1f p99_us=%.1f max_us=%.1f bad_pages=%zu\n",
               pages, (t1 - t0) / 1000000, (t2 - t1) / 1000000, (t2 - t0) / 1000000,
               (double)pages * PAGE / (1 << 20) / job_s, lat_ns[pages / 2] / 1e3,
               lat_ns[pages * 99 / 100] / 1e3, lat_ns[pages - 1] / 1e3, bad);
        return bad ? 1 : 0;
}
