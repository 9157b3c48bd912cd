// SPDX-License-Identifier: Apache-2.0
// See config_files.h.
#include "config_files.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

void files_init(struct files *fs)
{
        snprintf(fs->dir, sizeof(fs->dir), "/tmp/test-config-XXXXXX");
        assert_non_null(mkdtemp(fs->dir));
        snprintf(fs->path, sizeof(fs->path), "%s/config.yaml", fs->dir);
        snprintf(fs->missing, sizeof(fs->missing), "%s/missing.yaml", fs->dir);
}

void files_write(const struct files *fs, const char *text)
{
        FILE *f = fopen(fs->path, "w");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

void files_done(struct files *fs)
{
        unlink(fs->path);
        rmdir(fs->dir);
}
