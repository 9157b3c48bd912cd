// SPDX-License-Identifier: Apache-2.0
// The Prometheus text exposition format (version 0.0.4), written once for memschedd's and
// memagentd's /metrics: a family's # HELP and # TYPE lines, samples with escaped label values,
// and histograms with cumulative buckets from per-bucket counts. Values go into an api_buf
// (api/codec.h), which latches OOM; the caller checks it once at the end.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"

/* What /metrics answers with Content-Type. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum prom_type {
        PROM_COUNTER,
        PROM_GAUGE,
        PROM_HISTOGRAM,
};

/* One label; value is escaped on output (\\, \" and \n), name is written as is and must match
 * [a-zA-Z_][a-zA-Z0-9_]*. */
struct prom_label {
        const char *name, *value;
};

/* "# HELP name help" (help escaped: \\ and \n) and "# TYPE name type". Write it once per family,
 * before the family's samples, even when it has none yet. */
void prom_family(struct api_buf *b, const char *name, enum prom_type type, const char *help);

/* "name{labels} value". n_labels 0 writes no braces. */
void prom_sample_u64(struct api_buf *b, const char *name, const struct prom_label *labels,
                     size_t n_labels, uint64_t value);
void prom_sample_double(struct api_buf *b, const char *name, const struct prom_label *labels,
                        size_t n_labels, double value);

/* The series of one histogram: name_bucket{labels,le="..."} with cumulative counts, the last
 * bucket le="+Inf", then name_sum and name_count. counts[i] holds the observations in bucket i
 * alone (not cumulative); upper_bounds has n_buckets - 1 entries in the family's base unit (the
 * last bucket is +Inf). sum is in the same unit. At most 4 labels besides le. */
void prom_histogram(struct api_buf *b, const char *name, const struct prom_label *labels,
                    size_t n_labels, const double *upper_bounds, const uint64_t *counts,
                    size_t n_buckets, double sum);
