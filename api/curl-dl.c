// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "api/curl-dl.h"
#include "common/log.h"

DLSYM_DEFINE(curl_easy_cleanup);
DLSYM_DEFINE(curl_easy_getinfo);
DLSYM_DEFINE(curl_easy_init);
DLSYM_DEFINE(curl_easy_perform);
DLSYM_DEFINE(curl_easy_setopt);
DLSYM_DEFINE(curl_easy_strerror);
DLSYM_DEFINE(curl_global_init);
DLSYM_DEFINE(curl_multi_add_handle);
DLSYM_DEFINE(curl_multi_assign);
DLSYM_DEFINE(curl_multi_cleanup);
DLSYM_DEFINE(curl_multi_info_read);
DLSYM_DEFINE(curl_multi_init);
DLSYM_DEFINE(curl_multi_remove_handle);
DLSYM_DEFINE(curl_multi_setopt);
DLSYM_DEFINE(curl_multi_socket_action);
DLSYM_DEFINE(curl_slist_append);
DLSYM_DEFINE(curl_slist_free_all);

/* Packagers and tests/vm/vmrun learn from this note that the binary may dlopen libcurl. */
ELF_NOTE_DLOPEN(curl, "curl",
                "the Kubernetes API, reports to memschedd, memory pools, the etcd store",
                "recommended", CURL_DL_SONAME);

static void *curl_dl;
static pthread_mutex_t curl_dl_lock = PTHREAD_MUTEX_INITIALIZER;
static bool curl_dl_ready;

int curl_dl_open(const char *feature)
{
        int r = 0;

        /* One lock over both steps: curl_global_init() must run once, before any other curl call,
         * and memschedd's threads may race to be the first. */
        pthread_mutex_lock(&curl_dl_lock);
        if (curl_dl_ready)
                goto out;
        r = DLOPEN_SYMS(&curl_dl, CURL_DL_SONAME, feature, DLSYM_ARG(curl_easy_cleanup),
                        DLSYM_ARG(curl_easy_getinfo), DLSYM_ARG(curl_easy_init),
                        DLSYM_ARG(curl_easy_perform), DLSYM_ARG(curl_easy_setopt),
                        DLSYM_ARG(curl_easy_strerror), DLSYM_ARG(curl_global_init),
                        DLSYM_ARG(curl_multi_add_handle), DLSYM_ARG(curl_multi_assign),
                        DLSYM_ARG(curl_multi_cleanup), DLSYM_ARG(curl_multi_info_read),
                        DLSYM_ARG(curl_multi_init), DLSYM_ARG(curl_multi_remove_handle),
                        DLSYM_ARG(curl_multi_setopt), DLSYM_ARG(curl_multi_socket_action),
                        DLSYM_ARG(curl_slist_append), DLSYM_ARG(curl_slist_free_all));
        if (r < 0)
                goto out;
        CURLcode cc = sym_curl_global_init(CURL_GLOBAL_DEFAULT);
        if (cc != CURLE_OK) {
                r = log_error_errno(EIO, "%s: curl_global_init() failed: %s", feature,
                                    sym_curl_easy_strerror(cc));
                goto out;
        }
        curl_dl_ready = true;
out:
        pthread_mutex_unlock(&curl_dl_lock);
        return r;
}
