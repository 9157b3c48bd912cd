// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the core unit tests: fixture paths, whole-file reads, temp trees, running
// the CLI. Every helper fails the current test (cmocka fail_msg) or exits 77 with "SKIP: ..."
// rather than returning an error the caller could forget to check.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TU_SKIP 77

/* Prints "SKIP: <why>" on stdout and stderr and exits 77 (ctest's SKIP_RETURN_CODE). */
_Noreturn void tu_skip_loudly(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* FIXTURES_DIR "/" rel, in a new string (caller frees). */
char *tu_fixture(const char *rel);
/* The guest capture (tests/fixtures/guest/<rel>); skips the whole executable loudly when the
 * capture is not there. Caller frees. */
char *tu_guest_fixture(const char *rel);
bool tu_exists(const char *path);

/* Whole file, NUL-terminated, in a new buffer (caller frees); fails the test when unreadable.
 * *ret_len (may be NULL) gets the length. */
char *tu_read(const char *path, size_t *ret_len);
/* dir "/" name, read whole. */
char *tu_read_at(const char *dir, const char *name);
/* Decimal u64 or "max" (UINT64_MAX) from a one-value cgroup file: the test's own reading. */
uint64_t tu_read_value(const char *dir, const char *name);
/* The value of `key` in a "key value" file (memory.stat, memory.events); fails if missing. */
uint64_t tu_read_key(const char *dir, const char *name, const char *key);
void tu_write(const char *path, const char *content, size_t len);

/* A new empty directory under $TMPDIR (caller frees the string, and removes the tree). */
char *tu_mkdtemp(const char *tag);
/* cp -a src dst (no shell: names with backslashes are safe). */
void tu_copy_tree(const char *src, const char *dst);
/* rm -r, ignoring what is already gone. */
void tu_rm_rf(const char *path);

/* Runs argv[0] (a path) with argv, collects stdout and stderr (caller frees both) and returns
 * the exit status (or 128 + signal). */
int tu_run(char *const argv[], char **ret_out, char **ret_err);

/* printf into a new string (caller frees). */
char *tu_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
