// SPDX-License-Identifier: Apache-2.0
#include "common/memtypes.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

static const char *const qos_names[_QOS_MAX] = {
        [QOS_NONE] = "none",
        [QOS_GUARANTEED] = "guaranteed",
        [QOS_BURSTABLE] = "burstable",
        [QOS_BESTEFFORT] = "besteffort",
};

const char *qos_to_string(enum qos_class q)
{
        return (unsigned)q < _QOS_MAX ? qos_names[q] : qos_names[QOS_NONE];
}

int qos_from_string(const char *s)
{
        /* "none" is not a class a user or a peer may name. */
        for (size_t i = QOS_GUARANTEED; i < _QOS_MAX; i++)
                if (strcasecmp(s, qos_names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

static const char *const level_names[_LEVEL_MAX] = {
        [LEVEL_NONE] = "none",
        [LEVEL_LOW] = "low",
        [LEVEL_MEDIUM] = "medium",
        [LEVEL_CRITICAL] = "critical",
};

const char *pressure_level_to_string(enum pressure_level l)
{
        return (unsigned)l < _LEVEL_MAX ? level_names[l] : level_names[LEVEL_NONE];
}

int pressure_level_from_string(const char *s)
{
        for (size_t i = 0; i < _LEVEL_MAX; i++)
                if (strcmp(s, level_names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}
