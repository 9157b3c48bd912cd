// SPDX-License-Identifier: Apache-2.0
#include "api/kube/frames.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int append(struct kube_frames *f, const char *data, size_t n, size_t max)
{
        if (f->len + n > max)
                return -E2BIG;
        if (f->len + n + 1 > f->cap) {
                size_t cap = f->cap ? f->cap : 4096;
                while (cap < f->len + n + 1)
                        cap *= 2;
                if (cap > max + 1)
                        cap = max + 1;
                char *b = realloc(f->buf, cap);
                if (!b)
                        return -ENOMEM;
                f->buf = b;
                f->cap = cap;
        }
        memcpy(f->buf + f->len, data, n);
        f->len += n;
        f->buf[f->len] = '\0';
        return 0;
}

static int emit(char *line, size_t len, kube_frame_fn fn, void *userdata)
{
        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (len == 0)
                return 0;
        char saved = line[len];
        line[len] = '\0';
        int r = fn(line, len, userdata);
        line[len] = saved;
        return r < 0 ? r : 0;
}

int kube_frames_feed(struct kube_frames *f, const char *data, size_t n, kube_frame_fn fn,
                     void *userdata)
{
        size_t max = f->max_bytes ? f->max_bytes : KUBE_FRAME_MAX_BYTES;
        int r;

        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                if (!nl) {
                        r = append(f, data, n, max);
                        if (r < 0)
                                kube_frames_reset(f);
                        return r;
                }
                size_t take = (size_t)(nl - data);
                /* Lines are handed out NUL-terminated and data is const: every line goes
                 * through the buffer, one copy per frame. */
                r = append(f, data, take, max);
                if (r < 0) {
                        kube_frames_reset(f);
                        return r;
                }
                r = emit(f->buf, f->len, fn, userdata);
                f->len = 0;
                if (r < 0)
                        return r;
                data = nl + 1;
                n -= take + 1;
        }
        return 0;
}

void kube_frames_reset(struct kube_frames *f)
{
        f->len = 0;
        if (f->buf)
                f->buf[0] = '\0';
}

void kube_frames_done(struct kube_frames *f)
{
        free(f->buf);
        f->buf = NULL;
        f->len = f->cap = 0;
}
