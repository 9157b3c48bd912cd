// SPDX-License-Identifier: Apache-2.0
// The YAML configuration loader (common/config-yaml.c and the value parsers of
// common/config-value.c) through both real tables: memagentd's and memschedd's. Beyond the
// sanitizers, the contract of common/config.h: all or nothing (a refused file leaves the config
// as it was), an error message is one terminated line, and what config_dump_yaml() writes of an
// accepted config loads back to an equal config.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/daemon/daemon-config.h"
#include "common/config.h"
#include "scheduler/daemon-config.h"
#include "tests/fuzz/fuzz.h"

static void *defaults(const struct config_table *t)
{
        char err[CONFIG_ERR_MAX];
        void *cfg = calloc(1, t->struct_size);
        if (!cfg || config_set_defaults(t, cfg, NULL, err, sizeof(err)) < 0)
                fuzz_fail("config_set_defaults: %s", cfg ? err : "out of memory");
        return cfg;
}

static void release(const struct config_table *t, void *cfg)
{
        config_free(t, cfg);
        free(cfg);
}

static void one_table(const struct config_table *t, const char *name, const uint8_t *data,
                      size_t size)
{
        char err[CONFIG_ERR_MAX] = "";
        void *cfg = defaults(t), *pristine = defaults(t);

        int r = config_load_string(t, "fuzz.yaml", (const char *)data, size, cfg, NULL, err,
                                   sizeof(err));
        if (r < 0) {
                if (!memchr(err, '\0', sizeof(err)) || err[0] == '\0')
                        fuzz_fail("%s: refused (%d) without saying why", name, r);
                if (!config_equal(t, cfg, pristine))
                        fuzz_fail("%s: a refused file changed the config (%s)", name, err);
                goto out;
        }
        (void)config_check(t, cfg, err, sizeof(err));

        /* The dump of what was loaded reads back to the same values. */
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                fuzz_fail("open_memstream failed");
        r = config_dump_yaml(t, cfg, NULL, f);
        if (fclose(f) != 0 || r < 0)
                fuzz_fail("%s: config_dump_yaml: %d", name, r);
        void *again = defaults(t);
        r = config_load_string(t, "dump.yaml", text, len, again, NULL, err, sizeof(err));
        if (r < 0)
                fuzz_fail("%s: the dump does not load back: %s\n--- dump:\n%s", name, err, text);
        if (!config_equal(t, cfg, again))
                fuzz_fail("%s: the dump loads back to another config\n--- dump:\n%s", name, text);
        release(t, again);
        free(text);
out:
        release(t, pristine);
        release(t, cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        one_table(&agent_config_table, "memagentd", data, size);
        one_table(&memschedd_config_table, "memschedd", data, size);
        return 0;
}
