// SPDX-License-Identifier: Apache-2.0
// Durable state: migration plans and the reservations they hold, in an SQLite file, so a
// restart of memschedd loses none. Node reports are soft state and never stored: the next
// heartbeat rebuilds them. Each plan is one row keyed by id, its body the JSON of
// api/migration.h, written in WAL mode with synchronous=FULL before the plan is published.
#pragma once

#include <stddef.h>

#include "api/migration.h"

struct sched_store;

/* Opens (creating if needed) the database at path; ":memory:" for tests. Logs and returns a
 * negative errno on failure. */
int store_open(const char *path, struct sched_store **ret);
void store_close(struct sched_store *st);
/* Inserts or replaces m. */
int store_save_migration(struct sched_store *st, const struct migration *m);
/* All stored plans, oldest first; caller frees with migration_list_free(). */
int store_load_migrations(struct sched_store *st, struct migration **ret, size_t *ret_n);
/* Deletes finished plans (not PLANNED) beyond the newest keep. */
int store_prune(struct sched_store *st, size_t keep);
