// SPDX-License-Identifier: Apache-2.0
// The swap signature the consumer writes on its remote device before swapon
// (agent/remote/swap.c): mkswap's version 1 header, checked field by field and, where util-linux
// is installed, recognised by blkid as a swap area of the right size.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/remote/swap.h"

static void test_header_fields(void **state)
{
        (void)state;
        uint8_t page[REMOTE_SWAP_PAGE_BYTES], uuid[16];
        memset(uuid, 0xab, sizeof(uuid));
        assert_int_equal(remote_swap_header(64ull << 20, uuid, page), 0);
        assert_memory_equal(page + REMOTE_SWAP_PAGE_BYTES - 10, "SWAPSPACE2", 10);
        uint32_t version, last, bad;
        memcpy(&version, page + 1024, 4);
        memcpy(&last, page + 1028, 4);
        memcpy(&bad, page + 1032, 4);
        assert_int_equal(version, 1);
        assert_int_equal(last, (64u << 20) / 4096 - 1);
        assert_int_equal(bad, 0);
        assert_memory_equal(page + 1036, uuid, 16);
        assert_int_equal(remote_swap_header(9 * 4096, uuid, page), -EINVAL);
}

/* The consumer's swapped bytes come from /proc/swaps: its device's Used column (KiB), not a
 * device whose name only starts the same, nor another one. */
static void test_used_bytes(void **state)
{
        (void)state;
        const char *swaps =
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
            "/dev/zram0                              partition\t65532\t\t12\t\t-2\n"
            "/dev/nbd10                              partition\t163836\t\t999\t\t100\n"
            "/dev/nbd1                               partition\t163836\t\t5120\t\t100\n";
        uint64_t used = 0;
        assert_int_equal(remote_swap_used_bytes(swaps, "/dev/nbd1", &used), 0);
        assert_int_equal(used, 5120 * 1024);
        assert_int_equal(remote_swap_used_bytes(swaps, "/dev/nbd10", &used), 0);
        assert_int_equal(used, 999 * 1024);
        assert_int_equal(remote_swap_used_bytes(swaps, "/dev/nbd2", &used), -ENOENT);
        assert_int_equal(remote_swap_used_bytes("/dev/nbd2 partition x\n", "/dev/nbd2", &used),
                         -EBADMSG);
}

/* A lease of 30 s renewed at t=100 s expires at 130 s; its renewal is due at 110 s: not ending
 * while it may still come, ending from 115 s on (it did not), and of course once expired.
 * Unknown expiry: no. */
static void test_lease_ending(void **state)
{
        (void)state;
        const uint64_t s = 1000000;
        assert_false(remote_swap_lease_ending(130 * s, 30, 100 * s));
        assert_false(remote_swap_lease_ending(130 * s, 30, 114 * s));
        assert_true(remote_swap_lease_ending(130 * s, 30, 115 * s));
        assert_true(remote_swap_lease_ending(130 * s, 30, 131 * s));
        assert_false(remote_swap_lease_ending(0, 30, 131 * s));
}

static void test_blkid_recognises_it(void **state)
{
        (void)state;
        const char *blkid = access("/sbin/blkid", X_OK) == 0 ? "/sbin/blkid" : NULL;
        if (!blkid) {
                skip();
                return;
        }
        char path[] = "/tmp/memagent-swaphdr.XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        uint8_t page[REMOTE_SWAP_PAGE_BYTES], uuid[16] = { 1, 2, 3 };
        assert_int_equal(remote_swap_header(4 << 20, uuid, page), 0);
        assert_int_equal(write(fd, page, sizeof(page)), sizeof(page));
        assert_int_equal(ftruncate(fd, 4 << 20), 0);
        close(fd);
        char cmd[256], out[64] = "";
        snprintf(cmd, sizeof(cmd), "%s -p -o value -s TYPE %s", blkid, path);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        if (!fgets(out, sizeof(out), f))
                out[0] = 0;
        pclose(f);
        unlink(path);
        assert_string_equal(out, "swap\n");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_header_fields),
                cmocka_unit_test(test_blkid_recognises_it),
                cmocka_unit_test(test_used_bytes),
                cmocka_unit_test(test_lease_ending),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
