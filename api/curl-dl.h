// SPDX-License-Identifier: Apache-2.0
// libcurl, loaded with dlopen() by the first feature that needs it (the Kubernetes API, the node
// report to memschedd, memory pools, memschedd's etcd store and API client), so that a node guard
// configured with none of them never maps libcurl and its TLS, Kerberos and LDAP stacks (about
// 5.8 MiB of RSS). No binary links -lcurl: every call goes through the sym_curl_* pointers
// declared here, valid once curl_dl_open() returned 0. The binaries carry the soname in an ELF
// .note.dlopen note (common/dlopen.h), which tests/vm/vmrun reads to put libcurl into guests.
#pragma once

#include <curl/curl.h>

#include "common/dlopen.h"

DLSYM_DECLARE(curl_easy_cleanup);
DLSYM_DECLARE(curl_easy_getinfo);
DLSYM_DECLARE(curl_easy_init);
DLSYM_DECLARE(curl_easy_perform);
DLSYM_DECLARE(curl_easy_setopt);
DLSYM_DECLARE(curl_easy_strerror);
DLSYM_DECLARE(curl_global_init);
DLSYM_DECLARE(curl_multi_add_handle);
DLSYM_DECLARE(curl_multi_assign);
DLSYM_DECLARE(curl_multi_cleanup);
DLSYM_DECLARE(curl_multi_info_read);
DLSYM_DECLARE(curl_multi_init);
DLSYM_DECLARE(curl_multi_remove_handle);
DLSYM_DECLARE(curl_multi_setopt);
DLSYM_DECLARE(curl_multi_socket_action);
DLSYM_DECLARE(curl_slist_append);
DLSYM_DECLARE(curl_slist_free_all);

/* The soname opened, for messages and the ELF note. */
#define CURL_DL_SONAME "libcurl.so.4"

/* Loads libcurl and resolves every sym_curl_* once, then runs curl_global_init() once; later
 * calls return 0 at once. Thread-safe. feature names what needs libcurl ("the Kubernetes API",
 * "reports to memschedd") for the error a missing library logs. Returns 0, -EOPNOTSUPP (libcurl
 * not installed), -ELIBBAD (a symbol missing) or -EIO (curl_global_init failed); each logged. */
int curl_dl_open(const char *feature);
