// SPDX-License-Identifier: Apache-2.0
#include "api/mhd-log.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

void mhd_log_debug(void *cls, const char *fmt, va_list ap)
{
        const char *prefix = cls;
        char msg[512];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        size_t n = strlen(msg);
        while (n && msg[n - 1] == '\n')
                msg[--n] = '\0';
        log_debug("%slibmicrohttpd: %s", prefix ? prefix : "", msg);
}
