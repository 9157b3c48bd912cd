// SPDX-License-Identifier: Apache-2.0
// What the test API server holds: the pods (as the JSON kube-apiserver would store), the
// resourceVersion counter, the event history that watches replay from, the compaction point,
// the open watches and what the control port scripted. One mutex guards all of it; watches wait
// on the condition variable for news.
#pragma once

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define KT_NAME_MAX                  254
#define KT_EVENTS_MAX                20000 /* history kept; older events are compacted away */
#define KT_SCRIPTS_MAX               64
#define KT_FAILS_MAX                 16
#define KT_WATCHES_MAX               64
#define KT_DEFAULT_WATCH_TIMEOUT_SEC 1800 /* kube-apiserver picks 30-60 min at random */

/* The resources served: pods (namespaced) and nodes (cluster-scoped, namespace_ ""). */
enum kt_resource { KT_POD = 0, KT_NODE };

/* A stored object: a pod, or a node (res). */
struct pod_entry {
        enum kt_resource res;
        struct json_object *pod; /* without kind/apiVersion, as LIST items are */
        char namespace_[KT_NAME_MAX], name[KT_NAME_MAX], node[KT_NAME_MAX];
        uint64_t delete_at_usec; /* evicted: DELETED at this CLOCK_MONOTONIC time; 0 none */
};

struct watch_event {
        enum kt_resource res;
        uint64_t rv;
        char type[12]; /* ADDED, MODIFIED, DELETED */
        char namespace_[KT_NAME_MAX], name[KT_NAME_MAX], node[KT_NAME_MAX];
        /* MODIFIED: the node before the change. A watch filtered on a node sees a pod that
         * arrives on it as ADDED and one that leaves it as DELETED, as the watch cache does. */
        char prev_node[KT_NAME_MAX];
        char *object; /* the object as the event carries it (kind/apiVersion first) */
};

enum evict_answer {
        EVICT_OK,
        EVICT_PDB,
        EVICT_RETRY_AFTER,
        EVICT_THROTTLE,
        EVICT_CONFLICT,
        EVICT_NOTFOUND,
        EVICT_ERROR,
};

struct evict_script {
        char namespace_[KT_NAME_MAX], name[KT_NAME_MAX];
        enum evict_answer answer;
        uint32_t retry_after_sec;
        char pdb[KT_NAME_MAX];
        int32_t desired_healthy, current_healthy;
        uint32_t times_left; /* 0: always */
        bool always;
};

struct fail_rule {
        char path_prefix[512];
        int code;
        uint32_t retry_after_sec;
        uint32_t times_left;
        bool always;
};

struct watch {
        struct watch *prev, *next;
        enum kt_resource res;
        char node[KT_NAME_MAX]; /* "" all nodes */
        char namespace_[KT_NAME_MAX];
        uint64_t rv;            /* events after this one are still to be sent */
        uint64_t deadline_usec; /* timeoutSeconds */
        bool bookmarks;         /* allowWatchBookmarks */
        bool bookmark_pending, expire_pending, initial_pending;
        bool done;             /* the stream ends once buf is written */
        uint64_t requested_rv; /* for the Expired message */
        int fd;                /* the client's socket, to notice it left; -1 unknown */
        char *buf;
        size_t len, off;
        struct state *st;
};

struct state {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        bool stopping;

        struct pod_entry *pods;
        size_t n_pods, cap_pods;
        uint64_t rv;         /* the last resourceVersion handed out */
        uint64_t compact_rv; /* watches from below this are too old */

        struct watch_event *events; /* oldest first */
        size_t n_events, cap_events;

        struct watch *watches;
        size_t n_watches;

        struct evict_script scripts[KT_SCRIPTS_MAX];
        size_t n_scripts;
        struct fail_rule fails[KT_FAILS_MAX];
        size_t n_fails;
        size_t split_bytes; /* 0: whole frames */

        uint64_t n_requests; /* API requests so far (the NNNN of the records) */
        char default_node[KT_NAME_MAX];
        bool no_resize;
        const char *token_path;
        const char *record_dir;
        FILE *requests_log;
};

uint64_t now_usec(void);
/* RFC 3339 UTC time now + offset_sec, as metav1.Time writes it. */
void rfc3339_now(char *buf, size_t size, int64_t offset_sec);
/* A random RFC 4122 v4 UUID. */
void uuid_random(char buf[37]);

int state_init(struct state *st);
void state_done(struct state *st);
/* Loads a PodList or an array of Pods. Returns 0 or a negative errno, with a message on stderr. */
int state_load_pods(struct state *st, const char *path);

/* All functions below expect st->lock held. */
struct pod_entry *state_find_pod(struct state *st, const char *ns, const char *name);
struct pod_entry *state_find_node(struct state *st, const char *name);
/* Adds or replaces a Node (takes ownership of node): ADDED or MODIFIED. Returns 0 or -errno. */
int state_put_node(struct state *st, struct json_object *node);
/* Adds or replaces a pod (takes ownership of pod): ADDED or MODIFIED. Returns 0 or -errno. */
int state_put_pod(struct state *st, struct json_object *pod);
/* pods/binding: sets spec.nodeName (MODIFIED, seen as ADDED by a watch of node). Returns 0 or
 * -ENOMEM. */
int state_bind_pod(struct state *st, struct pod_entry *e, const char *node);
/* Removes a pod: DELETED. */
int state_delete_pod(struct state *st, struct pod_entry *e);
/* The pod changed in place: new resourceVersion and a MODIFIED event. */
int state_modified(struct state *st, struct pod_entry *e);
/* Deletes the pods whose grace period ended. */
void state_reap(struct state *st);
/* The pod (or node) as GET answers it (kind/apiVersion first). New reference. */
struct json_object *state_pod_object(struct pod_entry *e);
/* Compaction: resourceVersions up to now become too old; open watches get the Expired error. */
void state_expire(struct state *st);
void state_bookmark_all(struct state *st);

/* A watch of res from rv (0: from now, with ADDED for every current object). Returns NULL when
 * too many are open. */
struct watch *watch_new(struct state *st, enum kt_resource res, const char *node, const char *ns,
                        uint64_t rv, bool bookmarks, uint32_t timeout_sec);
/* Closes the watch; watch_free_locked() with st->lock held. */
void watch_free(struct watch *w);
void watch_free_locked(struct watch *w);
/* Blocks until the watch has bytes; copies at most max of them. Returns the count, or -1 at the
 * end of the stream. Takes the lock itself. */
ssize_t watch_read(struct watch *w, char *buf, size_t max);
