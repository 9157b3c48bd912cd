// SPDX-License-Identifier: Apache-2.0
// memschedd's pool and lease routes from the remote swap threads: blocking libcurl requests,
// made only from the donor's registrar thread and the consumer's worker, never from memagentd's
// sd-event loop (the node report keeps its own non-blocking client, agent/daemon/reporter.c).
#pragma once

#include <json-c/json.h>
#include <stdint.h>

struct remote_http {
        const char *base_url;                       /* "http://host:port" or https:// */
        const char *ca_file, *cert_file, *key_file; /* PEM paths, NULL or "" for none */
        const char *token_file; /* bearer token, read at each request; NULL or "" for none */
        long timeout_ms;
};

/* method path [body]: returns the HTTP status (>= 100) with the answer parsed into *ret_answer
 * when it is JSON (else NULL; caller puts it), or a negative errno when memschedd could not be
 * reached (-EHOSTUNREACH, -ETIMEDOUT), the URL is bad (-EINVAL), or token_file cannot be read
 * (token_file_read()'s error). body may be NULL. */
int remote_http_request(const struct remote_http *h, const char *method, const char *path,
                        struct json_object *body, struct json_object **ret_answer);
