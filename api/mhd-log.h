// SPDX-License-Identifier: Apache-2.0
// libmicrohttpd's error log (MHD_OPTION_EXTERNAL_LOGGER) into ours, for every daemon that serves
// HTTP with it. Needs nothing of libmicrohttpd itself.
#pragma once

#include <stdarg.h>

/* An MHD_LogCallback: logs the message at debug level (libmicrohttpd reports every client that
 * hangs up early; none of it is the operator's concern unless debugging), trailing newlines
 * removed, prefixed with cls (a const char *, e.g. "metrics server: ") when not NULL. */
void mhd_log_debug(void *cls, const char *fmt, va_list ap);
