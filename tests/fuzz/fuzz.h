// SPDX-License-Identifier: Apache-2.0
// What every libFuzzer harness in tests/fuzz shares. A harness defines LLVMFuzzerTestOneInput();
// anything it finds wrong beyond what the sanitizers catch is reported with fuzz_fail(), which
// aborts so that libFuzzer saves the input as a crash.
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"

struct json_object;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input as memschedd parses a request body (api_parse: strict JSON, 64 levels); NULL when
 * it is refused. */
struct json_object *fuzz_parse_json(const uint8_t *data, size_t size);

/* A NUL-terminated malloc'ed copy of the input (the kernel-file and YAML parsers want text). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Prints why, then aborts: a property of the code under test does not hold. */
_Noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
