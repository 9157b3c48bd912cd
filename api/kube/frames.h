// SPDX-License-Identifier: Apache-2.0
// The watch stream's framing: kube-apiserver writes one JSON watch event per line
// ("{...}\n", the streaming JSON serializer), and the bytes arrive in reads and HTTP chunks that
// split lines anywhere. This pure splitter gathers bytes and hands out whole lines.
#pragma once

#include <stddef.h>

/* A watch event carries one whole Pod: 1 MiB (etcd's default request limit is 1.5 MiB for all of
 * a pod with its managedFields) is far above any real one, and bounds our memory per stream. */
#define KUBE_FRAME_MAX_BYTES (2u << 20)

struct kube_frames {
        char *buf; /* the partial line so far */
        size_t len, cap;
        size_t max_bytes; /* longest line accepted; 0: KUBE_FRAME_MAX_BYTES */
};

/* Called with each complete line, without its "\n" (and without a "\r" before it), NUL-terminated
 * at line[len]; empty lines are skipped. A negative return stops kube_frames_feed(), which
 * returns it. */
typedef int (*kube_frame_fn)(const char *line, size_t len, void *userdata);

/* Appends n bytes of the stream and calls fn for each line they complete. Returns 0, fn's
 * negative return, -E2BIG when a line grows beyond max_bytes (the stream cannot be resynchronised:
 * the caller drops it and the splitter is reset), or -ENOMEM. */
int kube_frames_feed(struct kube_frames *f, const char *data, size_t n, kube_frame_fn fn,
                     void *userdata);

/* Bytes of an unfinished line: at the end of a stream, a frame cut short. */
static inline size_t kube_frames_pending(const struct kube_frames *f)
{
        return f->len;
}

/* Forgets the partial line (a new stream starts). Keeps the buffer. */
void kube_frames_reset(struct kube_frames *f);
/* Frees the buffer; f can be fed again afterwards. */
void kube_frames_done(struct kube_frames *f);
