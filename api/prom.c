// SPDX-License-Identifier: Apache-2.0
#include "api/prom.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"

static const char *const type_names[] = {
        [PROM_COUNTER] = "counter",
        [PROM_GAUGE] = "gauge",
        [PROM_HISTOGRAM] = "histogram",
};

/* Escapes backslash and newline, and the double quote when in_label (label values are quoted,
 * HELP text is not). */
static void put_escaped(struct api_buf *b, const char *s, bool in_label)
{
        const char *run = s;
        for (const char *p = s; *p; p++) {
                const char *esc = *p == '\\'              ? "\\\\"
                                  : *p == '\n'            ? "\\n"
                                  : *p == '"' && in_label ? "\\\""
                                                          : NULL;
                if (!esc)
                        continue;
                api_buf_append(b, run, (size_t)(p - run));
                api_buf_puts(b, esc);
                run = p + 1;
        }
        api_buf_puts(b, run);
}

void prom_family(struct api_buf *b, const char *name, enum prom_type type, const char *help)
{
        api_buf_printf(b, "# HELP %s ", name);
        put_escaped(b, help, false);
        api_buf_printf(b, "\n# TYPE %s %s\n", name, type_names[type]);
}

static void put_series(struct api_buf *b, const char *name, const char *suffix,
                       const struct prom_label *labels, size_t n_labels)
{
        api_buf_puts(b, name);
        api_buf_puts(b, suffix);
        if (n_labels == 0)
                return;
        api_buf_puts(b, "{");
        for (size_t i = 0; i < n_labels; i++) {
                api_buf_printf(b, "%s%s=\"", i ? "," : "", labels[i].name);
                put_escaped(b, labels[i].value, true);
                api_buf_puts(b, "\"");
        }
        api_buf_puts(b, "}");
}

/* Go's strconv spellings, which Prometheus parses: NaN, +Inf, -Inf. */
static void put_double(struct api_buf *b, double v)
{
        if (isnan(v))
                api_buf_puts(b, "NaN");
        else if (isinf(v))
                api_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
        else
                api_buf_printf(b, "%.15g", v);
}

void prom_sample_u64(struct api_buf *b, const char *name, const struct prom_label *labels,
                     size_t n_labels, uint64_t value)
{
        put_series(b, name, "", labels, n_labels);
        api_buf_printf(b, " %llu\n", (unsigned long long)value);
}

void prom_sample_double(struct api_buf *b, const char *name, const struct prom_label *labels,
                        size_t n_labels, double value)
{
        put_series(b, name, "", labels, n_labels);
        api_buf_puts(b, " ");
        put_double(b, value);
        api_buf_puts(b, "\n");
}

#define PROM_HISTOGRAM_MAX_LABELS 4

void prom_histogram(struct api_buf *b, const char *name, const struct prom_label *labels,
                    size_t n_labels, const double *upper_bounds, const uint64_t *counts,
                    size_t n_buckets, double sum)
{
        struct prom_label with_le[PROM_HISTOGRAM_MAX_LABELS + 1];
        char le[32];
        uint64_t cum = 0;
        if (n_labels > PROM_HISTOGRAM_MAX_LABELS)
                n_labels = PROM_HISTOGRAM_MAX_LABELS;
        if (n_labels) /* labels may be NULL then, which memcpy() must not see */
                memcpy(with_le, labels, n_labels * sizeof(*labels));
        with_le[n_labels] = (struct prom_label){ "le", le };
        for (size_t i = 0; i < n_buckets; i++) {
                cum += counts[i];
                if (i + 1 < n_buckets)
                        snprintf(le, sizeof(le), "%.15g", upper_bounds[i]);
                else
                        snprintf(le, sizeof(le), "+Inf");
                put_series(b, name, "_bucket", with_le, n_labels + 1);
                api_buf_printf(b, " %llu\n", (unsigned long long)cum);
        }
        put_series(b, name, "_sum", labels, n_labels);
        api_buf_puts(b, " ");
        put_double(b, sum);
        api_buf_puts(b, "\n");
        put_series(b, name, "_count", labels, n_labels);
        api_buf_printf(b, " %llu\n", (unsigned long long)cum);
}
