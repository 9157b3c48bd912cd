// SPDX-License-Identifier: Apache-2.0
// What memagentd reads from the Kubernetes API server, which is another party's output: the
// watch stream's framing (the same bytes cut at two places must give the same lines as uncut),
// Status bodies with a Retry-After value (kube_status_from_reply never fails and always leaves
// NUL-terminated text), and Pods as LIST and WATCH return them (k8s_pod_meta_decode).
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "api/k8s_pod.h"
#include "api/kube/frames.h"
#include "api/kube/status.h"
#include "tests/fuzz/fuzz.h"

struct lines {
        uint64_t hash;
        size_t n;
};

static int on_line(const char *line, size_t len, void *userdata)
{
        struct lines *l = userdata;
        if (line[len] != '\0' || memchr(line, '\n', len))
                fuzz_fail("a frame line is not NUL-terminated or holds a newline");
        for (size_t i = 0; i < len; i++)
                l->hash = (l->hash ^ (unsigned char)line[i]) * 1099511628211ull;
        l->hash = (l->hash ^ 0xff) * 1099511628211ull; /* the line's end */
        l->n++;
        return 0;
}

static int feed(const uint8_t *data, size_t size, size_t cut1, size_t cut2, struct lines *ret)
{
        struct kube_frames f = { .max_bytes = 4096 };
        size_t cuts[] = { 0, cut1, cut2, size };
        int r = 0;
        *ret = (struct lines){ .hash = 14695981039346656037ull };
        for (size_t i = 0; i + 1 < ELEMENTSOF(cuts) && r == 0; i++)
                r = kube_frames_feed(&f, (const char *)data + cuts[i], cuts[i + 1] - cuts[i],
                                     on_line, ret);
        kube_frames_done(&f);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 3)
                return 0;
        /* The first bytes choose the cuts and the HTTP code; the rest is the body. */
        int code = 100 + (data[0] | data[1] << 8) % 500;
        size_t cut1 = data[2] % (size + 1), cut2 = cut1 + (size - cut1) / 2;
        const uint8_t *body = data + 3;
        size_t body_len = size - 3;

        struct lines whole, cut;
        int r1 = feed(body, body_len, 0, 0, &whole);
        int r2 = feed(body, body_len, cut1 > body_len ? body_len : cut1,
                      cut2 > body_len ? body_len : cut2, &cut);
        if (r1 == 0 && r2 == 0 && (whole.n != cut.n || whole.hash != cut.hash))
                fuzz_fail("cutting the stream changed its lines: %zu vs %zu", whole.n, cut.n);

        _cleanup_free_ char *text = fuzz_strndup(body, body_len);
        struct kube_status st;
        char line[1024];
        kube_status_from_reply(code, text, body_len, text, &st);
        if (st.http_code != code || !memchr(st.reason, 0, sizeof(st.reason)) ||
            !memchr(st.message, 0, sizeof(st.message)) ||
            !memchr(st.cause_reason, 0, sizeof(st.cause_reason)))
                fuzz_fail("kube_status_from_reply left the status inconsistent");
        kube_status_format(&st, line, sizeof(line));

        _cleanup_json_ struct json_object *o = fuzz_parse_json(body, body_len);
        if (o) {
                struct k8s_pod_meta m;
                struct api_error err = {};
                if (k8s_pod_meta_decode(o, "Pod", &m, &err) == 0 &&
                    (m.n_containers > K8S_META_CONTAINERS_MAX || !memchr(m.uid, 0, sizeof(m.uid))))
                        fuzz_fail("k8s_pod_meta_decode returned an inconsistent pod");
        }
        return 0;
}
