// SPDX-License-Identifier: Apache-2.0
// The CLI's side of memagentd's local API (a unix socket, one request line, one JSON reply).
#pragma once

#include <json-c/json.h>

#define MEMAGENT_API_SOCKET_DEFAULT "/run/memagent/memagentd.sock"

/* Sends request (e.g. "status", "explain 10") and parses the reply. Returns 0 and a new
 * reference in *ret; -ENOENT/-ECONNREFUSED when no daemon listens there; -EBADMSG when the
 * reply is not JSON; other negative errno. */
int daemon_request(const char *socket_path, const char *request, struct json_object **ret);
