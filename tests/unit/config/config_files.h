// SPDX-License-Identifier: Apache-2.0
// A scratch directory with one configuration file and the path of one that does not exist, for
// the tests of the daemons' command lines (test_config, test_memschedd_config).
#pragma once

struct files {
        char dir[64], path[96], missing[96]; /* path: DIR/config.yaml; missing: DIR/missing.yaml */
};

/* Creates the directory under /tmp; fails the test when it cannot. */
void files_init(struct files *fs);
/* Writes text to fs->path, replacing what it held. */
void files_write(const struct files *fs, const char *text);
/* Removes the file and the directory. */
void files_done(struct files *fs);
