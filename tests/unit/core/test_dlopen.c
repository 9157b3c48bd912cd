// SPDX-License-Identifier: Apache-2.0
// dlopen_syms(): a library this test does not link itself (zlib, on every Debian system) is
// opened on demand and its functions called through sym_ pointers; a missing library or symbol
// fails with the documented errors and leaves the pointers NULL; a second call is a no-op.
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/dlopen.h"

/* zlib's own prototypes (zlib.h is not a build dependency). */
const char *zlibVersion(void);
unsigned long adler32(unsigned long adler, const unsigned char *buf, unsigned len);
int memagent_test_no_such_symbol(void);

static DLSYM_DEFINE(zlibVersion);
static DLSYM_DEFINE(adler32);
static DLSYM_DEFINE(memagent_test_no_such_symbol);

static void test_loads_on_demand(void **state)
{
        (void)state;
        /* Not resolved before the call. */
        void *h = NULL;
        assert_null(sym_zlibVersion);
        assert_int_equal(
            DLOPEN_SYMS(&h, "libz.so.1", "the test", DLSYM_ARG(zlibVersion), DLSYM_ARG(adler32)),
            0);
        assert_non_null(h);
        assert_non_null(sym_zlibVersion);
        assert_true(strlen(sym_zlibVersion()) > 0);
        /* Adler-32 of "abc" is 0x024d0127 (RFC 1950's algorithm). */
        assert_int_equal(sym_adler32(1, (const unsigned char *)"abc", 3), 0x024d0127);

        void *same = h;
        assert_int_equal(DLOPEN_SYMS(&h, "libz.so.1", "the test", DLSYM_ARG(zlibVersion)), 0);
        assert_ptr_equal(h, same);
}

static void test_missing_library(void **state)
{
        (void)state;
        void *h = NULL;
        sym_adler32 = NULL;
        assert_int_equal(
            DLOPEN_SYMS(&h, "libmemagent-no-such.so.9", "the test", DLSYM_ARG(adler32)),
            -EOPNOTSUPP);
        assert_null(h);
        assert_null(sym_adler32);
}

static void test_missing_symbol(void **state)
{
        (void)state;
        void *h = NULL;
        sym_adler32 = NULL;
        assert_int_equal(DLOPEN_SYMS(&h, "libz.so.1", "the test", DLSYM_ARG(adler32),
                                     DLSYM_ARG(memagent_test_no_such_symbol)),
                         -ELIBBAD);
        assert_null(h);
        /* Resolved before the missing one, and reset: no half-loaded table. */
        assert_null(sym_adler32);
        assert_null(sym_memagent_test_no_such_symbol);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_loads_on_demand),
                cmocka_unit_test(test_missing_library),
                cmocka_unit_test(test_missing_symbol),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
