// SPDX-License-Identifier: Apache-2.0
// Kubernetes quantities: quantity_parse_bytes() (memory requests and limits in pods, every BYTES
// key of the configurations), k8s_cpu_parse_millis() and format_bytes_iec(). Beyond the
// sanitizers, the contract of common/quantity.h: 0, -EINVAL or -ERANGE; a value that fits in 63
// bits; nothing written on -EINVAL; formatted text always NUL-terminated within its buffer.
#include <string.h>

#include "api/k8s_pod.h"
#include "common/quantity.h"
#include "tests/fuzz/fuzz.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *s = fuzz_strndup(data, size);
        uint64_t bytes = SENTINEL, millis = 0;
        char buf[FORMAT_BYTES_MAX];

        int r = quantity_parse_bytes(s, &bytes);
        if (r != 0 && r != -EINVAL && r != -ERANGE)
                fuzz_fail("quantity_parse_bytes(\"%s\") returned %d", s, r);
        if (r == -EINVAL && bytes != SENTINEL)
                fuzz_fail("quantity_parse_bytes(\"%s\") wrote a value on -EINVAL", s);
        if (r == 0 && bytes > INT64_MAX)
                fuzz_fail("quantity_parse_bytes(\"%s\") = %llu does not fit in 63 bits", s,
                          (unsigned long long)bytes);
        if (r == 0 && !memchr(format_bytes_iec(bytes, buf, sizeof(buf)), '\0', sizeof(buf)))
                fuzz_fail("format_bytes_iec(%llu) is not terminated", (unsigned long long)bytes);

        (void)k8s_cpu_parse_millis(s, &millis);

        /* Every 64-bit value formats, the largest ones included. */
        if (size >= sizeof(bytes)) {
                memcpy(&bytes, data, sizeof(bytes));
                if (!memchr(format_bytes_iec(bytes, buf, sizeof(buf)), '\0', sizeof(buf)))
                        fuzz_fail("format_bytes_iec(%llu) is not terminated",
                                  (unsigned long long)bytes);
        }
        return 0;
}
