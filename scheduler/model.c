// SPDX-License-Identifier: Apache-2.0
#include "scheduler/model.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

uint32_t sched_name_hash(const char *s)
{
        uint32_t h = 2166136261u; /* FNV-1a */
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 16777619u;
        }
        return h;
}

int sched_node_new(const char *name, struct node_report *report, uint64_t received_usec,
                   struct sched_node **ret)
{
        struct sched_node *n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->name = strdup(name);
        if (!n->name) {
                free(n);
                return -ENOMEM;
        }
        atomic_init(&n->refcount, 1);
        n->hash = sched_name_hash(name);
        n->report = *report;
        *report = (struct node_report){};
        /* A node whose pods read their page cache back from disk is short of memory whatever
         * MemAvailable says: pressured in the model (placement scores it down). */
        if (n->report.pressure < LEVEL_LOW && node_report_thrashing(&n->report))
                n->report.pressure = LEVEL_LOW;
        n->received_usec = received_usec;
        *ret = n;
        return 0;
}

struct sched_node *sched_node_ref(struct sched_node *n)
{
        atomic_fetch_add(&n->refcount, 1);
        return n;
}

void sched_node_unref(struct sched_node *n)
{
        if (!n || atomic_fetch_sub(&n->refcount, 1) != 1)
                return;
        node_report_done(&n->report);
        free(n->name);
        free(n);
}

static void assumed_done(struct assumed_pod *a)
{
        free(a->node);
        free(a->uid);
}

struct sched_snapshot *snapshot_ref(struct sched_snapshot *s)
{
        atomic_fetch_add(&s->refcount, 1);
        return s;
}

void snapshot_unref(struct sched_snapshot *s)
{
        if (!s || atomic_fetch_sub(&s->refcount, 1) != 1)
                return;
        for (size_t i = 0; i < s->n_nodes; i++)
                sched_node_unref(s->nodes[i]);
        free(s->nodes);
        free(s->extra);
        free(s->index);
        migration_list_free(s->plans, s->n_plans);
        for (size_t i = 0; i < s->n_assumed; i++)
                assumed_done(&s->assumed[i]);
        free(s->assumed);
        kube_view_unref(s->view);
        free(s);
}

ssize_t snapshot_find(const struct sched_snapshot *s, const char *name)
{
        if (!s->index)
                return -1;
        uint32_t h = sched_name_hash(name);
        for (size_t i = h & s->index_mask;; i = (i + 1) & s->index_mask) {
                uint32_t v = s->index[i];
                if (v == 0)
                        return -1;
                const struct sched_node *n = s->nodes[v - 1];
                if (n->hash == h && strcmp(n->name, name) == 0)
                        return (ssize_t)(v - 1);
        }
}

int snapshot_builder_init(struct snapshot_builder *b, const struct sched_snapshot *base)
{
        *b = (struct snapshot_builder){};
        if (!base)
                return 0;
        b->view = base->view ? kube_view_ref(base->view) : NULL;
        b->base = snapshot_ref((struct sched_snapshot *)base);
        b->generation = base->generation;
        b->cap_nodes = base->n_nodes + 1;
        b->nodes = malloc(b->cap_nodes * sizeof(*b->nodes));
        if (!b->nodes)
                return -ENOMEM;
        for (size_t i = 0; i < base->n_nodes; i++)
                b->nodes[i] = sched_node_ref(base->nodes[i]);
        b->n_nodes = base->n_nodes;
        int r = snapshot_builder_set_plans(b, base->plans, base->n_plans);
        if (r < 0)
                goto fail;
        b->cap_assumed = base->n_assumed;
        if (base->n_assumed) {
                b->assumed = calloc(base->n_assumed, sizeof(*b->assumed));
                if (!b->assumed) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        for (size_t i = 0; i < base->n_assumed; i++) {
                struct assumed_pod *d = &b->assumed[i];
                *d = base->assumed[i];
                d->node = strdup(base->assumed[i].node);
                d->uid = strdup(base->assumed[i].uid);
                b->n_assumed++;
                if (!d->node || !d->uid) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        return 0;
fail:
        snapshot_builder_done(b);
        return r;
}

void snapshot_builder_done(struct snapshot_builder *b)
{
        for (size_t i = 0; i < b->n_nodes; i++)
                sched_node_unref(b->nodes[i]);
        free(b->nodes);
        migration_list_free(b->plans, b->n_plans);
        for (size_t i = 0; i < b->n_assumed; i++)
                assumed_done(&b->assumed[i]);
        free(b->assumed);
        kube_view_unref(b->view);
        snapshot_unref(b->base);
        *b = (struct snapshot_builder){};
}

void snapshot_builder_set_view(struct snapshot_builder *b, struct kube_view *view)
{
        kube_view_unref(b->view);
        b->view = view;
}

int snapshot_builder_put_node(struct snapshot_builder *b, struct sched_node *node)
{
        size_t lo = 0, hi = b->n_nodes;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(b->nodes[mid]->name, node->name);
                if (c == 0) {
                        sched_node_unref(b->nodes[mid]);
                        b->nodes[mid] = node;
                        return 0;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (b->n_nodes == b->cap_nodes) {
                size_t cap = b->cap_nodes ? b->cap_nodes * 2 : 16;
                struct sched_node **n = realloc(b->nodes, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                b->nodes = n;
                b->cap_nodes = cap;
        }
        memmove(&b->nodes[lo + 1], &b->nodes[lo], (b->n_nodes - lo) * sizeof(*b->nodes));
        b->nodes[lo] = node;
        b->n_nodes++;
        return 0;
}

int snapshot_builder_set_plans(struct snapshot_builder *b, const struct migration *plans, size_t n)
{
        struct migration *l = calloc(n ? n : 1, sizeof(*l));
        size_t k = 0;
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (migration_copy(&plans[i], &l[k]) < 0) {
                        migration_list_free(l, k);
                        return -ENOMEM;
                }
                k++;
        }
        migration_list_free(b->plans, b->n_plans);
        b->plans = l;
        b->n_plans = k;
        return 0;
}

int snapshot_builder_add_assumed(struct snapshot_builder *b, struct assumed_pod *a)
{
        if (b->n_assumed == b->cap_assumed) {
                size_t cap = b->cap_assumed ? b->cap_assumed * 2 : 16;
                struct assumed_pod *n = realloc(b->assumed, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                b->assumed = n;
                b->cap_assumed = cap;
        }
        b->assumed[b->n_assumed++] = *a;
        *a = (struct assumed_pod){};
        return 0;
}

static bool report_has_pod(const struct node_report *r, const char *uid)
{
        for (size_t i = 0; i < r->n_pods; i++)
                if (strcmp(r->pods[i].uid, uid) == 0)
                        return true;
        return false;
}

void snapshot_builder_prune_assumed(struct snapshot_builder *b, const struct sched_node *node,
                                    uint64_t now_usec, uint64_t ttl_usec)
{
        size_t k = 0;
        for (size_t i = 0; i < b->n_assumed; i++) {
                struct assumed_pod *a = &b->assumed[i];
                bool drop =
                    now_usec - a->at_usec > ttl_usec || (node && strcmp(a->node, node->name) == 0 &&
                                                         report_has_pod(&node->report, a->uid));
                if (drop)
                        assumed_done(a);
                else
                        b->assumed[k++] = *a;
        }
        b->n_assumed = k;
}

/* See struct node_extra: with a view, a bind-time assumption counts only while the pod is
 * unknown to the API or shown bound to the assumed node and not yet in that node's report. */
static bool assumption_counts(const struct sched_snapshot *s, const struct assumed_pod *a)
{
        if (!s->view)
                return true;
        const struct view_pod *p = kube_view_find_pod(s->view, a->uid);
        if (!p)
                return true;
        if (strcmp(p->node, a->node) != 0)
                return false;
        ssize_t i = snapshot_find(s, a->node);
        return i < 0 || !report_has_pod(&s->nodes[i]->report, a->uid);
}

/* The requests of the pods the API shows bound to node i that its report does not list: a pure
 * function of the node's report and the view, so that it is carried over from the base snapshot
 * when neither changed (a report from one node recomputes that node alone). */
static uint64_t api_unreported_bytes(const struct sched_snapshot *s, size_t i,
                                     const struct sched_snapshot *base)
{
        const struct sched_node *n = s->nodes[i];
        if (base && base->view == s->view) {
                ssize_t j = snapshot_find(base, n->name);
                if (j >= 0 && base->nodes[j] == n)
                        return base->extra[j].api_unreported_bytes;
        }
        const struct view_pod *first;
        size_t count = kube_view_pods_on(s->view, n->name, &first);
        uint64_t sum = 0;
        for (size_t k = 0; k < count; k++)
                if (!report_has_pod(&n->report, first[k].uid))
                        sum += first[k].request_bytes;
        return sum;
}

/* The pods the API shows bound to each node that its report does not count and that no
 * bind-time assumption already counts (an assumption that counts while the API shows its pod
 * bound to the same node covers that pod: its API request is taken back out). */
static void deduct_api_pods(struct sched_snapshot *s, const struct sched_snapshot *base)
{
        for (size_t i = 0; i < s->n_nodes; i++) {
                s->extra[i].api_unreported_bytes = api_unreported_bytes(s, i, base);
                s->extra[i].api_assumed_bytes = s->extra[i].api_unreported_bytes;
        }
        for (size_t k = 0; k < s->n_assumed; k++) {
                const struct assumed_pod *a = &s->assumed[k];
                const struct view_pod *p = kube_view_find_pod(s->view, a->uid);
                ssize_t i = p && strcmp(p->node, a->node) == 0 ? snapshot_find(s, a->node) : -1;
                if (i >= 0 && !report_has_pod(&s->nodes[i]->report, a->uid))
                        s->extra[i].api_assumed_bytes =
                            sub_sat(s->extra[i].api_assumed_bytes, p->request_bytes);
        }
        for (size_t i = 0; i < s->n_nodes; i++)
                s->extra[i].assumed_bytes += s->extra[i].api_assumed_bytes;
}

static void deduct(struct sched_snapshot *s, const char *node, uint64_t bytes, int32_t zone,
                   bool reservation)
{
        ssize_t i = snapshot_find(s, node);
        if (i < 0)
                return;
        struct node_extra *e = &s->extra[i];
        if (reservation)
                e->reservation_bytes += bytes;
        else
                e->assumed_bytes += bytes;
        if (zone >= 0 && zone < API_NUMA_ZONES_MAX)
                e->zone_deduct_bytes[zone] += bytes;
}

int snapshot_builder_finish(struct snapshot_builder *b, struct sched_snapshot **ret)
{
        struct sched_snapshot *s = calloc(1, sizeof(*s));
        size_t size = 16;

        if (!s)
                return -ENOMEM;
        while (size < b->n_nodes * 2)
                size *= 2;
        s->index = calloc(size, sizeof(*s->index));
        s->extra = calloc(b->n_nodes ? b->n_nodes : 1, sizeof(*s->extra));
        if (!s->index || !s->extra) {
                free(s->index);
                free(s->extra);
                free(s);
                return -ENOMEM;
        }
        atomic_init(&s->refcount, 1);
        s->index_mask = size - 1;
        s->generation = b->generation + 1;
        s->nodes = b->nodes;
        s->n_nodes = b->n_nodes;
        s->plans = b->plans;
        s->n_plans = b->n_plans;
        s->assumed = b->assumed;
        s->n_assumed = b->n_assumed;
        s->view = b->view;
        struct sched_snapshot *base = b->base; /* a reference, dropped below */
        *b = (struct snapshot_builder){};
        for (size_t i = 0; i < s->n_nodes; i++) {
                size_t j = s->nodes[i]->hash & s->index_mask;
                while (s->index[j])
                        j = (j + 1) & s->index_mask;
                s->index[j] = (uint32_t)(i + 1);
        }
        for (size_t i = 0; i < s->n_plans; i++)
                if (s->plans[i].state == MIGRATION_PLANNED)
                        deduct(s, s->plans[i].target_node, s->plans[i].reservation_bytes,
                               s->plans[i].target_numa_zone, true);
        for (size_t i = 0; i < s->n_assumed; i++) {
                const struct assumed_pod *a = &s->assumed[i];
                if (!assumption_counts(s, a))
                        continue;
                deduct(s, a->node, a->request_bytes, a->numa_zone, false);
        }
        if (s->view)
                deduct_api_pods(s, base);
        snapshot_unref(base);
        *ret = s;
        return 0;
}

int snapshot_slot_init(struct snapshot_slot *slot)
{
        struct snapshot_builder b = {};
        struct sched_snapshot *s;
        int r = snapshot_builder_finish(&b, &s);
        if (r < 0)
                return r;
        atomic_init(&slot->current, s);
        atomic_init(&slot->epoch, 0);
        atomic_init(&slot->readers[0], 0);
        atomic_init(&slot->readers[1], 0);
        return 0;
}

void snapshot_slot_done(struct snapshot_slot *slot)
{
        snapshot_unref(atomic_exchange(&slot->current, NULL));
}

struct sched_snapshot *snapshot_acquire(struct snapshot_slot *slot)
{
        for (;;) {
                unsigned e = atomic_load(&slot->epoch);
                atomic_fetch_add(&slot->readers[e & 1], 1);
                if (atomic_load(&slot->epoch) != e) {
                        /* A writer flipped the epoch in between: register on the new side. */
                        atomic_fetch_sub(&slot->readers[e & 1], 1);
                        continue;
                }
                struct sched_snapshot *s = snapshot_ref(atomic_load(&slot->current));
                atomic_fetch_sub(&slot->readers[e & 1], 1);
                return s;
        }
}

void snapshot_publish(struct snapshot_slot *slot, struct sched_snapshot *s)
{
        struct sched_snapshot *old = atomic_exchange(&slot->current, s);
        /* Readers registered under the current epoch may hold `old` without a reference yet;
         * new readers register under the next epoch and can only see `s`. */
        unsigned e = atomic_fetch_add(&slot->epoch, 1);
        while (atomic_load(&slot->readers[e & 1]) != 0)
                sched_yield();
        snapshot_unref(old);
}

/* ---- the API view ---- */

static int view_node_cmp(const void *a, const void *b)
{
        return strcmp(((const struct view_node *)a)->name, ((const struct view_node *)b)->name);
}

static int view_pod_cmp(const void *a, const void *b)
{
        const struct view_pod *x = a, *y = b;
        int c = strcmp(x->node, y->node);
        return c ? c : strcmp(x->uid, y->uid);
}

static int view_pod_uid_cmp(const void *a, const void *b)
{
        return strcmp((*(const struct view_pod *const *)a)->uid,
                      (*(const struct view_pod *const *)b)->uid);
}

int kube_view_new(const struct kube_node_info *const *nodes, size_t n_nodes,
                  const struct kube_pod_brief *const *pods, size_t n_pods, struct kube_view **ret)
{
        struct kube_view *v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        atomic_init(&v->refcount, 1);
        v->nodes = calloc(n_nodes ? n_nodes : 1, sizeof(*v->nodes));
        v->pods = calloc(n_pods ? n_pods : 1, sizeof(*v->pods));
        v->by_uid = calloc(n_pods ? n_pods : 1, sizeof(*v->by_uid));
        if (!v->nodes || !v->pods || !v->by_uid)
                goto oom;
        for (size_t i = 0; i < n_nodes; i++) {
                const struct kube_node_info *k = nodes[i];
                struct view_node *d = &v->nodes[v->n_nodes++];
                d->name = strdup(k->name);
                d->allocatable_bytes = k->allocatable_bytes;
                d->ready = k->ready;
                d->unschedulable = k->unschedulable;
                if (k->n_taints) {
                        d->taints = malloc(k->n_taints * sizeof(*d->taints));
                        if (!d->taints)
                                goto oom;
                        memcpy(d->taints, k->taints, k->n_taints * sizeof(*d->taints));
                        d->n_taints = k->n_taints;
                }
                if (!d->name)
                        goto oom;
        }
        for (size_t i = 0; i < n_pods; i++) {
                if (!kube_pod_brief_holds_memory(pods[i]))
                        continue;
                struct view_pod *d = &v->pods[v->n_pods++];
                d->uid = strdup(pods[i]->uid);
                d->node = strdup(pods[i]->node_name);
                d->request_bytes = pods[i]->request_bytes;
                if (!d->uid || !d->node)
                        goto oom;
        }
        qsort(v->nodes, v->n_nodes, sizeof(*v->nodes), view_node_cmp);
        qsort(v->pods, v->n_pods, sizeof(*v->pods), view_pod_cmp);
        for (size_t i = 0; i < v->n_pods; i++)
                v->by_uid[i] = &v->pods[i];
        qsort(v->by_uid, v->n_pods, sizeof(*v->by_uid), view_pod_uid_cmp);
        *ret = v;
        return 0;
oom:
        kube_view_unref(v);
        return -ENOMEM;
}

struct kube_view *kube_view_ref(struct kube_view *v)
{
        atomic_fetch_add(&v->refcount, 1);
        return v;
}

void kube_view_unref(struct kube_view *v)
{
        if (!v || atomic_fetch_sub(&v->refcount, 1) != 1)
                return;
        for (size_t i = 0; i < v->n_nodes; i++) {
                free(v->nodes[i].name);
                free(v->nodes[i].taints);
        }
        for (size_t i = 0; i < v->n_pods; i++) {
                free(v->pods[i].uid);
                free(v->pods[i].node);
        }
        free(v->nodes);
        free(v->pods);
        free(v->by_uid);
        free(v);
}

const struct view_node *kube_view_find_node(const struct kube_view *v, const char *name)
{
        struct view_node key = { .name = (char *)name };
        return v ? bsearch(&key, v->nodes, v->n_nodes, sizeof(*v->nodes), view_node_cmp) : NULL;
}

const struct view_pod *kube_view_find_pod(const struct kube_view *v, const char *uid)
{
        struct view_pod key = { .uid = (char *)uid };
        const struct view_pod *kp = &key;
        const struct view_pod *const *r =
            v ? bsearch(&kp, v->by_uid, v->n_pods, sizeof(*v->by_uid), view_pod_uid_cmp) : NULL;
        return r ? *r : NULL;
}

size_t kube_view_pods_on(const struct kube_view *v, const char *node,
                         const struct view_pod **ret_first)
{
        size_t lo = 0, hi = v ? v->n_pods : 0;
        *ret_first = NULL;
        while (lo < hi) { /* the first pod whose node is not below node */
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(v->pods[mid].node, node) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        size_t end = lo;
        while (v && end < v->n_pods && strcmp(v->pods[end].node, node) == 0)
                end++;
        if (end > lo)
                *ret_first = &v->pods[lo];
        return end - lo;
}
