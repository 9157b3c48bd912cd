// SPDX-License-Identifier: Apache-2.0
// quantity_parse_bytes() against the way Kubernetes writes memory quantities, and
// format_bytes_iec() at its unit boundaries.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/quantity.h"

#define KI UINT64_C(1024)
#define MI (KI * KI)
#define GI (MI * KI)
#define EI (GI * GI)

static void check_ok(const char *s, uint64_t want)
{
        uint64_t v = 0xdeadbeef;
        int r = quantity_parse_bytes(s, &v);
        if (r != 0 || v != want)
                fail_msg("quantity \"%s\": got r=%d v=%llu, want 0 and %llu", s, r,
                         (unsigned long long)v, (unsigned long long)want);
}

static void check_err(const char *s, int want)
{
        uint64_t v = 0xdeadbeef;
        int r = quantity_parse_bytes(s, &v);
        if (r != want)
                fail_msg("quantity \"%s\": got r=%d v=%llu, want %d", s, r, (unsigned long long)v,
                         want);
        /* Nothing written on failure. */
        assert_int_equal(v, 0xdeadbeef);
}

static void test_binary_suffixes(void **state)
{
        (void)state;
        check_ok("512Mi", 512 * MI);
        check_ok("1.5Gi", 3 * GI / 2);
        check_ok("+1Ki", KI);
        check_ok("1Ti", 1024 * GI);
        check_ok("1Pi", 1024 * 1024 * GI);
        check_ok("7Ei", 7 * EI);
        check_ok("0.5Ki", 512);
        check_ok(".5Mi", MI / 2);
        check_ok("128974848", 128974848);
        check_ok("0", 0);
        check_ok("000123", 123);
}

static void test_decimal_suffixes(void **state)
{
        (void)state;
        check_ok("1G", 1000000000);
        check_ok("100M", 100000000);
        check_ok("5k", 5000);
        check_ok("2T", UINT64_C(2000000000000));
        check_ok("3P", UINT64_C(3000000000000000));
        check_ok("1E", UINT64_C(1000000000000000000)); /* a bare E is exa, not an exponent */
        check_ok("1.5G", 1500000000);
}

static void test_exponents(void **state)
{
        (void)state;
        check_ok("1e9", 1000000000);
        check_ok("1E3", 1000);
        check_ok("1e+2", 100);
        check_ok("1.5e3", 1500);
        check_ok("12e0", 12);
        check_err("1e-2", -EINVAL); /* below a byte: not a memory size */
        check_err("1e", -EINVAL);
        check_err("1e+", -EINVAL);
        check_err("1e3x", -EINVAL);
        check_err("1e41", -ERANGE);
}

static void test_fractions_round_up(void **state)
{
        (void)state;
        check_ok("0.5", 1);
        check_ok("100m", 1); /* 0.1 byte rounds up to a whole one, like Quantity.Value() */
        check_ok("1000m", 1);
        check_ok("1001m", 2);
        check_ok("1.1", 2);
        check_ok("1.0001Ki", 1025);
        check_ok("0.000000000000000000000000000001", 1);
        check_ok("0m", 0);
}

static void test_range(void **state)
{
        (void)state;
        check_ok("9223372036854775807", INT64_MAX);
        check_err("9223372036854775808", -ERANGE);
        check_err("8Ei", -ERANGE);
        check_err("7.9999999999999999999999Ei", -ERANGE);
        check_err("10E", -ERANGE);
        check_err("99999999999999999999999999999999999999", -ERANGE);
        check_err("1e40", -ERANGE);
        check_err("-1", -ERANGE);
        check_err("-512Mi", -ERANGE);
}

static void test_garbage(void **state)
{
        (void)state;
        static const char *const bad[] = {
                "12Q", "",    "Mi",   "1.2.3", "abc",  "+",     ".",    "1 Mi", "1Mi ", " 1",
                "1mi", "1KI", "1Ki5", "1Mii",  "0x10", "1,5Gi", "1..5", "e3",   "+-1",  "1i",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                check_err(bad[i], -EINVAL);
        uint64_t v = 7;
        assert_int_equal(quantity_parse_bytes(NULL, &v), -EINVAL);
        assert_int_equal(v, 7);
}

static void check_fmt(uint64_t bytes, const char *want)
{
        char buf[FORMAT_BYTES_MAX];
        memset(buf, 'X', sizeof(buf));
        const char *s = format_bytes_iec(bytes, buf, sizeof(buf));
        assert_ptr_equal(s, buf);
        if (strcmp(s, want) != 0)
                fail_msg("format_bytes_iec(%llu) = \"%s\", want \"%s\"", (unsigned long long)bytes,
                         s, want);
}

static void test_format_iec(void **state)
{
        (void)state;
        check_fmt(0, "0 B");
        check_fmt(1, "1 B");
        check_fmt(1023, "1023 B");
        check_fmt(1024, "1.0 KiB");
        check_fmt(1536, "1.5 KiB");
        check_fmt(1075, "1.0 KiB"); /* 1.0498 rounds down */
        check_fmt(1076, "1.1 KiB"); /* 1.0508 rounds up */
        check_fmt(MI - 52, "1023.9 KiB");
        check_fmt(MI - 1, "1.0 MiB"); /* 1023.999 KiB rounds into the next unit */
        check_fmt(MI, "1.0 MiB");
        check_fmt(12 * MI + 3 * MI / 10, "12.3 MiB");
        check_fmt(GI - 1, "1.0 GiB");
        check_fmt(2 * GI, "2.0 GiB");
        check_fmt(1024 * GI, "1.0 TiB");
        check_fmt(EI, "1.0 EiB");
        check_fmt(UINT64_MAX - 1, "16.0 EiB"); /* no unit above EiB: stays EiB */
        check_fmt(UINT64_MAX, "max");
}

static void test_format_truncates_safely(void **state)
{
        (void)state;
        char buf[4];
        memset(buf, 'X', sizeof(buf));
        format_bytes_iec(1536, buf, sizeof(buf));
        assert_int_equal(buf[3], '\0');
        assert_string_equal(buf, "1.5");
        /* The longest output fits FORMAT_BYTES_MAX. */
        char big[FORMAT_BYTES_MAX];
        format_bytes_iec(1023 * GI * 1024 + 900 * GI, big, sizeof(big)); /* 1023.88 TiB */
        assert_true(strlen(big) < sizeof(big));
        assert_string_equal(big, "1023.9 TiB");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_binary_suffixes),
                cmocka_unit_test(test_decimal_suffixes),
                cmocka_unit_test(test_exponents),
                cmocka_unit_test(test_fractions_round_up),
                cmocka_unit_test(test_range),
                cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_format_iec),
                cmocka_unit_test(test_format_truncates_safely),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
