// SPDX-License-Identifier: Apache-2.0
// Libraries loaded only when a feature that needs them is configured (libcurl for the Kubernetes
// API and memschedd, libibverbs/librdmacm for remote swap): a calm node guard that uses neither
// does not pay for their pages (libcurl alone maps ~5.8 MiB of RSS with its TLS and Kerberos
// stacks). The pattern is systemd's: each user declares a sym_NAME pointer per function with
// DLSYM_DECLARE/DLSYM_DEFINE, typed from the library's own prototype, and resolves them all at
// once with dlopen_syms(); calls go through sym_NAME(...).
#pragma once

#include <stddef.h>
#include <stdint.h>

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

/* An ELF note that says which libraries a binary may dlopen(), in the format of the "ELF dlopen
 * metadata" convention (systemd.io/ELF_DLOPEN_METADATA): a note of owner "FDO" and type
 * 0x407c0c0a in section .note.dlopen whose descriptor is a JSON array of {feature, description,
 * priority, soname[]}. ldd cannot see a dlopen'd library; packagers' tools and tests/vm/vmrun read
 * the note instead. Every string argument must be a literal without quotes or backslashes. */
#define ELF_NOTE_DLOPEN_OWNER "FDO"
#define ELF_NOTE_DLOPEN_TYPE  UINT32_C(0x407c0c0a)
#define ELF_NOTE_DLOPEN(id, feature, description, priority, soname)                                \
        ELF_NOTE_DLOPEN_JSON(id, "[{\"feature\":\"" feature "\",\"description\":\"" description    \
                                 "\",\"priority\":\"" priority "\",\"soname\":[\"" soname "\"]}]")
#define ELF_NOTE_DLOPEN_JSON(id, json)                                                             \
        __attribute__((used, section(".note.dlopen"), aligned(4))) static const struct {           \
                uint32_t n_namesz, n_descsz, n_type;                                               \
                char name[(sizeof(ELF_NOTE_DLOPEN_OWNER) + 3) & ~3u];                              \
                char desc[(sizeof(json) + 3) & ~3u];                                               \
        } elf_note_dlopen_##id = { sizeof(ELF_NOTE_DLOPEN_OWNER), sizeof(json),                    \
                                   ELF_NOTE_DLOPEN_TYPE, ELF_NOTE_DLOPEN_OWNER, json }
