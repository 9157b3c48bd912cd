// SPDX-License-Identifier: Apache-2.0
// events.k8s.io/v1 Event create: generateName, ValidateEventCreate's checks, and the echo.
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "common/macro.h"
#include "http.h"
#include "kjson.h"
#include "server.h"
#include "status.h"

static void generate_name(const char *prefix, char *buf, size_t size)
{
        /* k8s.io/apiserver's names.SimpleNameGenerator: 5 characters of this alphabet. */
        static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
        char uid[37];
        uuid_random(uid);
        char suffix[6];
        for (size_t i = 0; i < 5; i++)
                suffix[i] = alphabet[(unsigned char)uid[i * 3] % (sizeof(alphabet) - 1)];
        suffix[5] = '\0';
        snprintf(buf, size, "%.*s%s", 58, prefix, suffix);
}

/* kube-apiserver's ValidateEventCreate for events.k8s.io/v1 (pkg/apis/core/validation/
 * events.go), the checks an OpenAPI schema cannot make: the reporting fields are required,
 * their lengths bounded, type is Normal or Warning, and the regarding object (involvedObject
 * inside the server) lives in the event's namespace. Fills errs (bodies in text). */
#define EVENT_ERRORS_MAX 8
static size_t validate_event(struct json_object *ev, const char *ns, struct field_error *errs,
                             char text[][192])
{
        size_t n = 0;
#define REQUIRED(f)                                                                                \
        errs[n++] = (struct field_error)                                                           \
        {                                                                                          \
                "FieldValueRequired", f, "Required value"                                          \
        }
#define INVALID(f, ...)                                                                            \
        do {                                                                                       \
                snprintf(text[n], sizeof(text[n]), __VA_ARGS__);                                   \
                errs[n] = (struct field_error){ "FieldValueInvalid", f, text[n] };                 \
                n++;                                                                               \
        } while (0)
        const char *rns = kjson_get_string(ev, "regarding", "namespace", NULL);
        if (rns && *rns ? strcmp(rns, ns) != 0 : strcmp(ns, "default") != 0)
                INVALID("involvedObject.namespace",
                        "Invalid value: \"%s\": does not match event.namespace", rns ? rns : "");
        if (!kjson_get(ev, "eventTime", NULL, NULL))
                REQUIRED("eventTime");
        const char *type = kjson_get_string(ev, "type", NULL, NULL);
        if (!type || (strcmp(type, "Normal") && strcmp(type, "Warning")))
                INVALID("type", "Invalid value: \"\": has invalid value: %s", type ? type : "");
        static const struct {
                const char *field;
                size_t max; /* 0: only required */
        } fields[] = {
                { "reportingController", 0 },
                { "reportingInstance", 128 },
                { "action", 128 },
                { "reason", 128 },
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const char *v = kjson_get_string(ev, fields[i].field, NULL, NULL);
                if (!v || !*v)
                        REQUIRED(fields[i].field);
                else if (fields[i].max && strlen(v) > fields[i].max)
                        INVALID(fields[i].field,
                                "Invalid value: \"\": can have at most %zu characters",
                                fields[i].max);
        }
        const char *note = kjson_get_string(ev, "note", NULL, NULL);
        if (note && strlen(note) > 1024)
                INVALID("note", "Invalid value: \"\": can have at most 1024 characters");
#undef REQUIRED
#undef INVALID
        return n;
}

enum MHD_Result event_create(struct state *st, struct MHD_Connection *conn, struct request *rq,
                             const char *ns)
{
        struct json_object *ev, *bad = create_body(conn, rq, &ev);
        if (bad)
                return respond_status(conn, rq, bad);
        struct json_object *meta = kjson_get(ev, "metadata", NULL, NULL);
        const char *name = kjson_get_string(ev, "metadata", "name", NULL);
        const char *gen = kjson_get_string(ev, "metadata", "generateName", NULL);
        const char *body_ns = kjson_get_string(ev, "metadata", "namespace", NULL);
        if (body_ns && *body_ns && strcmp(body_ns, ns) != 0) {
                json_object_put(ev);
                return respond_status(conn, rq,
                                      status_bad_request("the namespace of the provided object "
                                                         "does not match the namespace sent on "
                                                         "the request"));
        }
        if (!meta || ((!name || !*name) && (!gen || !*gen))) {
                json_object_put(ev);
                return respond_status(
                    conn, rq,
                    status_invalid("events.k8s.io", "Event", "", "metadata.name",
                                   "FieldValueRequired",
                                   "Required value: name or generateName is required"));
        }
        char buf[KT_NAME_MAX], uid[37], rv[24], ts[32];
        if (!name || !*name) {
                generate_name(gen, buf, sizeof(buf));
                kjson_set_string(meta, "name", buf);
        }
        kjson_set_string(meta, "namespace", ns);
        struct field_error errs[EVENT_ERRORS_MAX];
        char text[EVENT_ERRORS_MAX][192];
        size_t n_errs = validate_event(ev, ns, errs, text);
        if (n_errs) {
                /* The name is generated before validation, so the message carries it. */
                struct json_object *st_invalid = status_invalid_errors(
                    "events.k8s.io", "Event", kjson_get_string(ev, "metadata", "name", NULL), errs,
                    n_errs);
                json_object_put(ev);
                return respond_status(conn, rq, st_invalid);
        }
        uuid_random(uid);
        kjson_set_string(meta, "uid", uid);
        st->rv++;
        snprintf(rv, sizeof(rv), "%" PRIu64, st->rv);
        kjson_set_string(meta, "resourceVersion", rv);
        rfc3339_now(ts, sizeof(ts), 0);
        kjson_set_string(meta, "creationTimestamp", ts);
        /* Echoed with its type first, as kube-apiserver serialises it. */
        struct json_object *out = json_object_new_object();
        if (out) {
                kjson_set_string(out, "kind", "Event");
                kjson_set_string(out, "apiVersion", "events.k8s.io/v1");
                json_object_object_foreach(ev, key, val)
                {
                        if (strcmp(key, "kind") && strcmp(key, "apiVersion"))
                                json_object_object_add(out, key, json_object_get(val));
                }
        }
        json_object_put(ev);
        return respond_json(conn, rq, 201, out, 0);
}
