// SPDX-License-Identifier: Apache-2.0
// Byte quantities as Kubernetes writes them, and as people read them.
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Parses a Kubernetes resource quantity into bytes: an optional '+', a decimal number
 * ("1", "1.5", ".5"), and a suffix: binary (Ki Mi Gi Ti Pi Ei), decimal (k M G T P E, and m for
 * milli), or an exponent (e9, E3, e+2). Fractions are rounded up to a whole byte, as
 * resource.Quantity.Value() does. Exact integer arithmetic: no float rounding.
 * Returns 0 and sets *ret_bytes; -EINVAL for malformed text (nothing written), -ERANGE for a
 * negative quantity or one that does not fit in 63 bits. */
int quantity_parse_bytes(const char *s, uint64_t *ret_bytes);

/* Formats bytes for people in IEC units ("0 B", "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB").
 * Always NUL-terminates; returns buf. UINT64_MAX formats as "max". */
char *format_bytes_iec(uint64_t bytes, char *buf, size_t size);

#define FORMAT_BYTES_MAX 16
