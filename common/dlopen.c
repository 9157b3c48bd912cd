// SPDX-License-Identifier: Apache-2.0
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include "common/dlopen.h"
#include "common/log.h"

static pthread_mutex_t dlopen_lock = PTHREAD_MUTEX_INITIALIZER;

int dlopen_syms(void **handle, const char *soname, const char *feature,
                const struct dlsym_arg *syms, size_t n_syms)
{
        int r = 0;

        pthread_mutex_lock(&dlopen_lock);
        if (*handle)
                goto out;

        void *h = dlopen(soname, RTLD_NOW | RTLD_NODELETE);
        if (!h) {
                r = log_error_errno(EOPNOTSUPP, "%s needs %s, which could not be loaded: %s",
                                    feature, soname, dlerror());
                goto out;
        }
        for (size_t i = 0; i < n_syms; i++) {
                dlerror();
                void *p = dlsym(h, syms[i].name);
                if (!p) {
                        for (size_t j = 0; j < i; j++)
                                *syms[j].fn = NULL;
                        r = log_error_errno(ELIBBAD, "%s: %s has no symbol %s: %s", feature, soname,
                                            syms[i].name, dlerror());
                        dlclose(h);
                        goto out;
                }
                *syms[i].fn = p;
        }
        *handle = h;
out:
        pthread_mutex_unlock(&dlopen_lock);
        return r;
}
