// SPDX-License-Identifier: Apache-2.0
// The CLI's side of memagentd's local API (a unix socket, one request line, one JSON reply): the
// one place the verbs talk to the daemon through.
#pragma once

#include <json-c/json.h>

#define MEMAGENT_API_SOCKET_DEFAULT "/run/memagent/memagentd.sock"

/* Sends request (e.g. "status", "explain 10") and parses the reply. Returns 0 and a new
 * reference in *ret; -ENOENT/-ECONNREFUSED when no daemon listens there; -EBADMSG when the
 * reply is not JSON; other negative errno. */
int daemon_request(const char *socket_path, const char *request, struct json_object **ret);

/* daemon_request() for a verb that cannot work without the daemon: returns 0 and its reply in
 * *ret, or prints why not and returns the exit status (1): not running, no answer, or an error
 * the daemon sent back. what_for says what the verb needs the daemon for, on the "not running"
 * line (NULL: nothing). */
int daemon_ask(const char *socket_path, const char *request, const char *what_for,
               struct json_object **ret);

/* Prints j pretty for machines, drops the reference, returns EXIT_SUCCESS. */
int client_print_json(struct json_object *j);
