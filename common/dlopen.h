// SPDX-License-Identifier: Apache-2.0
// Libraries loaded only when a feature that needs them is configured (libcurl for the Kubernetes
// API and memschedd, libibverbs/librdmacm for remote swap): a calm node guard that uses neither
// does not pay for their pages (libcurl alone maps ~5.8 MiB of RSS with its TLS and Kerberos
// stacks). The pattern is systemd's: each user declares a sym_NAME pointer per function with
// DLSYM_DECLARE/DLSYM_DEFINE, typed from the library's own prototype, and resolves them all at
// once with dlopen_syms(); calls go through sym_NAME(...).
#pragma once

#include <stddef.h>

#define DLSYM_DECLARE(f) extern __typeof__(f) *sym_##f
#define DLSYM_DEFINE(f)  __typeof__(f) *sym_##f
#define DLSYM_ARG(f)                                                                               \
        {                                                                                          \
                (void **)&sym_##f, #f                                                              \
        }

struct dlsym_arg {
        void **fn;
        const char *name;
};

/* Opens soname (RTLD_NOW) once, then resolves every entry of syms. Idempotent and thread-safe per
 * handle: the first successful call stores the handle in *handle, later calls return 0 at once.
 * Fails with -EOPNOTSUPP (library missing; the error names it and the feature that needs it) or
 * -ELIBBAD (a symbol missing), and then leaves every sym_ pointer NULL. */
int dlopen_syms(void **handle, const char *soname, const char *feature,
                const struct dlsym_arg *syms, size_t n_syms);

#define DLOPEN_SYMS(handle, soname, feature, ...)                                                  \
        ({                                                                                         \
                static const struct dlsym_arg _args_[] = { __VA_ARGS__ };                          \
                dlopen_syms(handle, soname, feature, _args_, sizeof(_args_) / sizeof(_args_[0]));  \
        })
