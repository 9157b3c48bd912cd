// SPDX-License-Identifier: Apache-2.0
// Logging. Errors are logged once, at the edge, and the log call returns the negative errno so
// that `return log_error_errno(r, "Failed to ...: %m");` both reports and propagates. `%m` prints
// strerror of the error passed in, not of whatever errno happens to hold.
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "common/macro.h"

enum log_target {
        LOG_TARGET_STDERR,  /* plain lines on stderr (CLI, tests) */
        LOG_TARGET_JOURNAL, /* structured fields to the systemd journal */
        LOG_TARGET_AUTO, /* journal when stderr is connected to it ($JOURNAL_STREAM), else stderr */
};

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_target(enum log_target target);
/* Prefix for stderr lines, normally the program name. Not copied: pass a string literal. */
void log_set_ident(const char *ident);

/* Logs at `level` with errno `error` (positive or negative, 0 for none); returns -abs(error),
 * or -EIO when error is 0, so callers can return it. */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...)                                                          \
        ({                                                                                         \
                int _l_ = (level), _e_ = (error);                                                  \
                (log_get_max_level() >= _l_)                                                       \
                    ? log_internal(_l_, _e_, __FILE__, __LINE__, __func__, __VA_ARGS__)            \
                    : (_e_ > 0 ? -_e_ : (_e_ < 0 ? _e_ : -EIO));                                   \
        })

#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...)  log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_debug(...)   ((void)log_full_errno(LOG_DEBUG, 0, __VA_ARGS__))
#define log_info(...)    ((void)log_full_errno(LOG_INFO, 0, __VA_ARGS__))
#define log_notice(...)  ((void)log_full_errno(LOG_NOTICE, 0, __VA_ARGS__))
#define log_warning(...) ((void)log_full_errno(LOG_WARNING, 0, __VA_ARGS__))
#define log_error(...)   ((void)log_full_errno(LOG_ERR, 0, __VA_ARGS__))

/* Parses "debug", "info", ... or a syslog number; returns the level or -EINVAL. */
int log_level_from_string(const char *s);
