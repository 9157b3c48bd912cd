// SPDX-License-Identifier: Apache-2.0
// libcurl's multi interface driven by an sd-event loop: curl's sockets become sd-event io
// sources and its timeout an sd-event timer, so transfers progress while the loop runs and the
// loop never blocks on the network. The one home of that glue: the node reporter
// (agent/daemon/reporter.c) and the Kubernetes client (api/kube/client.c) both use it.
#pragma once

#include "api/curl-dl.h"
#include <systemd/sd-event.h>

struct curl_event;

/* Called once per transfer when it ends (result CURLE_OK or the failure), after the handle was
 * taken out of the multi: the callback owns easy again and may clean it up, or start other
 * transfers. */
typedef void (*curl_event_done_fn)(CURL *easy, CURLcode result, void *userdata);

/* A multi handle on loop e; description names its event sources ("reporter", "kube"). Loads
 * libcurl the first time (curl_dl_open(); feature names what needs it in the error when libcurl is
 * missing). Returns 0, curl_dl_open()'s error, -ENOMEM or the sd-event error. */
int curl_event_new(sd_event *e, const char *description, const char *feature,
                   struct curl_event **ret);

/* Starts a configured easy handle; done gets it back when it ends. The handle's CURLOPT_PRIVATE
 * belongs to curl_event. Returns 0, -ENOMEM or -EINVAL (curl refused the handle). */
int curl_event_add(struct curl_event *ce, CURL *easy, curl_event_done_fn done, void *userdata);

/* Stops a transfer without calling its done; the caller still owns easy. No-op when easy is not
 * running. */
void curl_event_remove(struct curl_event *ce, CURL *easy);

/* Stops every transfer (without their done callbacks; their owners clean their handles up) and
 * frees ce. NULL-safe; returns NULL. */
struct curl_event *curl_event_free(struct curl_event *ce);
