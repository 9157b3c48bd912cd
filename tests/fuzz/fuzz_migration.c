// SPDX-License-Identifier: Apache-2.0
// Migrations: one (as memschedd reads them back from its SQLite store) and the list of
// GET /v1/migrations (as clients decode it).
#include <json-c/json.h>

#include "api/migration.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_json_ struct json_object *o = fuzz_parse_json(data, size);
        struct migration m, copy, *list = NULL;
        struct api_error err = {};
        size_t n = 0;

        if (!o)
                return 0;
        if (migration_decode(o, "", &m, &err) == 0) {
                if (migration_copy(&m, &copy) == 0)
                        migration_done(&copy);
                json_object_put(migration_encode(&m));
                migration_done(&m);
        }
        if (migration_list_decode(o, &list, &n, &err) == 0) {
                json_object_put(migration_list_encode(list, n));
                migration_list_free(list, n);
        }
        return 0;
}
