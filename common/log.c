// SPDX-License-Identifier: Apache-2.0
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

static int max_level = LOG_INFO;
static enum log_target target = LOG_TARGET_STDERR;
static const char *ident = "memagent";

void log_set_max_level(int level)
{
        max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

void log_set_ident(const char *s)
{
        ident = s;
}

void log_set_target(enum log_target t)
{
        if (t == LOG_TARGET_AUTO)
                t = getenv("JOURNAL_STREAM") ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
        target = t;
}

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",     [LOG_CRIT] = "crit",
        [LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s)
{
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcmp(s, level_names[i]) == 0)
                        return (int)i;
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < LOG_EMERG || v > LOG_DEBUG)
                return -EINVAL;
        return (int)v;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...)
{
        int e = error < 0 ? -error : error;
        char msg[2048];
        va_list ap;

        errno = e; /* so %m names the error we were handed */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        if (target == LOG_TARGET_JOURNAL) {
                char code_file[256], code_line[32];
                snprintf(code_file, sizeof(code_file), "CODE_FILE=%s", file ? file : "?");
                snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);
                if (e)
                        sd_journal_send_with_location(code_file, code_line, func, "MESSAGE=%s", msg,
                                                      "PRIORITY=%i", level, "ERRNO=%i", e, NULL);
                else
                        sd_journal_send_with_location(code_file, code_line, func, "MESSAGE=%s", msg,
                                                      "PRIORITY=%i", level, NULL);
        } else {
                (void)file;
                (void)line;
                (void)func;
                fprintf(stderr, "%s: %s%s%s\n", ident,
                        level <= LOG_WARNING ? level_names[level] : "",
                        level <= LOG_WARNING ? ": " : "", msg);
        }
        return e ? -e : -EIO;
}
