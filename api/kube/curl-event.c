// SPDX-License-Identifier: Apache-2.0
#include "api/kube/curl-event.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "common/clock.h"

/* What rides on each running easy handle (its CURLOPT_PRIVATE). */
struct transfer {
        struct transfer *next;
        CURL *easy;
        curl_event_done_fn done;
        void *userdata;
};

struct curl_event {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer; /* curl's timeout */
        struct transfer *transfers;
        char io_description[48];
};

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* Unlinks easy's transfer from the list and takes the handle out of the multi; returns the
 * transfer (caller frees) or NULL when easy was not running. */
static struct transfer *detach(struct curl_event *ce, CURL *easy)
{
        for (struct transfer **p = &ce->transfers; *p; p = &(*p)->next)
                if ((*p)->easy == easy) {
                        struct transfer *t = *p;
                        *p = t->next;
                        sym_curl_multi_remove_handle(ce->multi, easy);
                        sym_curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                        return t;
                }
        return NULL;
}

static void check_done(struct curl_event *ce)
{
        CURLMsg *msg;
        int left = 0;

        while ((msg = sym_curl_multi_info_read(ce->multi, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                CURL *easy = msg->easy_handle;
                CURLcode res = msg->data.result;
                /* msg points into the multi: done with it before removing the handle. */
                struct transfer *t = detach(ce, easy);
                if (t && t->done)
                        t->done(easy, res, t->userdata);
                free(t);
        }
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
        struct curl_event *ce = userp;
        sd_event_source *io = socketp;
        (void)easy;

        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        sd_event_source_disable_unref(io);
                        sym_curl_multi_assign(ce->multi, fd, NULL);
                }
                return 0;
        }
        uint32_t events = 0;
        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;
        if (io) {
                if (sd_event_source_set_io_events(io, events) < 0 ||
                    sd_event_source_set_enabled(io, SD_EVENT_ON) < 0)
                        return -1;
                return 0;
        }
        if (sd_event_add_io(ce->event, &io, fd, events, on_io, ce) < 0)
                return -1;
        (void)sd_event_source_set_description(io, ce->io_description);
        if (sym_curl_multi_assign(ce->multi, fd, io) != CURLM_OK) {
                sd_event_source_disable_unref(io);
                return -1;
        }
        return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
        struct curl_event *ce = userp;
        (void)multi;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(ce->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        /* Never call curl back from here: a 0 ms timeout fires on the next loop iteration. */
        uint64_t when = now_usec(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000u;
        if (sd_event_source_set_time(ce->timer, when) < 0 ||
            sd_event_source_set_enabled(ce->timer, SD_EVENT_ONESHOT) < 0)
                return -1;
        return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct curl_event *ce = userdata;
        int action = 0, running = 0;
        (void)s;

        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;
        sym_curl_multi_socket_action(ce->multi, fd, action, &running);
        check_done(ce);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct curl_event *ce = userdata;
        int running = 0;
        (void)s;
        (void)usec;
        sym_curl_multi_socket_action(ce->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_done(ce);
        return 0;
}

int curl_event_new(sd_event *e, const char *description, const char *feature,
                   struct curl_event **ret)
{
        char name[64];
        int r;

        /* libcurl is loaded here, when a client first needs it, not at start: mapped and
         * initialised it costs megabytes (issue 13). memagentd's balloon worker thread may run by
         * now; it makes no libcurl or TLS call, and libcurl >= 7.84 built "threadsafe" (Debian's)
         * makes curl_global_init() safe beside other threads. */
        if ((r = curl_dl_open(feature)) < 0)
                return r;
        struct curl_event *ce = calloc(1, sizeof(*ce));
        if (!ce)
                return -ENOMEM;
        ce->event = sd_event_ref(e);
        snprintf(ce->io_description, sizeof(ce->io_description), "%s-curl-io",
                 description ? description : "curl");
        ce->multi = sym_curl_multi_init();
        if (!ce->multi) {
                curl_event_free(ce);
                return -ENOMEM;
        }
        sym_curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
        sym_curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce);
        sym_curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
        sym_curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce);
        if ((r = sd_event_add_time(e, &ce->timer, CLOCK_MONOTONIC, 0, 1000, on_timer, ce)) < 0 ||
            (r = sd_event_source_set_enabled(ce->timer, SD_EVENT_OFF)) < 0) {
                curl_event_free(ce);
                return r;
        }
        snprintf(name, sizeof(name), "%s-curl-timer", description ? description : "curl");
        (void)sd_event_source_set_description(ce->timer, name);
        *ret = ce;
        return 0;
}

int curl_event_add(struct curl_event *ce, CURL *easy, curl_event_done_fn done, void *userdata)
{
        struct transfer *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->easy = easy;
        t->done = done;
        t->userdata = userdata;
        sym_curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
        if (sym_curl_multi_add_handle(ce->multi, easy) != CURLM_OK) {
                sym_curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                free(t);
                return -EINVAL;
        }
        t->next = ce->transfers;
        ce->transfers = t;
        return 0;
}

void curl_event_remove(struct curl_event *ce, CURL *easy)
{
        if (!ce || !easy)
                return;
        free(detach(ce, easy));
}

struct curl_event *curl_event_free(struct curl_event *ce)
{
        if (!ce)
                return NULL;
        while (ce->transfers) {
                struct transfer *t = detach(ce, ce->transfers->easy);
                free(t);
        }
        if (ce->multi)
                sym_curl_multi_cleanup(ce->multi);
        ce->timer = sd_event_source_disable_unref(ce->timer);
        sd_event_unref(ce->event);
        free(ce);
        return NULL;
}
