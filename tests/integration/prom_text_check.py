#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A strict checker of the Prometheus text exposition format (0.0.4), for the scrapes the tests
take of memagentd's /metrics (and where promtool is missing: it is the only check then).

  prom_text_check.py FILE

Checks, beyond what a lenient parser lets through:
  - every line is a "# HELP", "# TYPE", another comment, or a sample "name{labels} value";
  - metric and label names are legal, label values use only the escapes \\\\, \\" and \\n;
    values are Go floats (NaN, +Inf, -Inf allowed);
  - each family has at most one HELP and one TYPE, both before its samples, and its samples
    come in one run (no interleaving with another family); the TYPE is counter, gauge,
    histogram, summary or untyped; every family has HELP and TYPE;
  - a counter's name ends in _total (memagent's convention and Prometheus'); no sample repeats a
    series;
  - a histogram's series per label set: _bucket with le, cumulative (never decreasing), a
    le="+Inf" bucket equal to _count, and a _sum.
Prints one normalised sample per line ("name{k="v",...} value", labels sorted) on stdout, for the
test to query, and exits 0; exits 1 with one line per violation on stderr.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
errors = []


def err(lineno, msg):
    errors.append(f"line {lineno}: {msg}")


def parse_value(s, lineno):
    if s in ("NaN", "+Inf", "-Inf"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        err(lineno, f"value {s!r} is not a float")
        return math.nan
    return float(s)


def parse_labels(s, i, lineno):
    """s[i] is '{'; returns (dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if s[i : i + 1] == "}":
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            err(lineno, f"bad label name at column {i}")
            raise ValueError
        name = m.group(0)
        i = m.end()
        if s[i : i + 2] != '="':
            err(lineno, f"label {name}: expected =\"")
            raise ValueError
        i += 2
        val = []
        while True:
            if i >= len(s):
                err(lineno, f"label {name}: unterminated value")
                raise ValueError
            c = s[i]
            if c == "\\":
                nxt = s[i + 1 : i + 2]
                if nxt not in ("\\", '"', "n"):
                    err(lineno, f"label {name}: bad escape \\{nxt}")
                    raise ValueError
                val.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                err(lineno, f"label {name}: raw newline")
                raise ValueError
            else:
                val.append(c)
                i += 1
        if name in labels:
            err(lineno, f"label {name} repeated")
        labels[name] = "".join(val)
        if s[i : i + 1] == ",":
            i += 1
        elif s[i : i + 1] != "}":
            err(lineno, f"expected , or }} after label {name}")
            raise ValueError


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return name


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    if text and not text.endswith("\n"):
        err(0, "the exposition does not end with a newline")
    helps, types, seen_samples, done_families = {}, {}, set(), set()
    series = set()
    samples = []  # (family, name, labels, value)
    current = None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                kind, name = parts[1], parts[2]
                rest = parts[3] if len(parts) > 3 else ""
                if not NAME.fullmatch(name):
                    err(lineno, f"bad metric name {name!r}")
                if name in seen_samples:
                    err(lineno, f"{kind} for {name} after its samples")
                table = helps if kind == "HELP" else types
                if name in table:
                    err(lineno, f"second {kind} for {name}")
                if kind == "TYPE":
                    if rest not in TYPES:
                        err(lineno, f"unknown type {rest!r}")
                    if rest == "counter" and not name.endswith("_total"):
                        err(lineno, f"counter {name} does not end in _total")
                elif re.search(r"\\[^\\n]", rest):
                    err(lineno, f"HELP of {name}: bad escape")
                table[name] = rest
            continue
        if not line.strip():
            err(lineno, "empty line")
            continue
        m = NAME.match(line)
        if not m:
            err(lineno, "not a sample")
            continue
        name, i = m.group(0), m.end()
        labels = {}
        try:
            if line[i : i + 1] == "{":
                labels, i = parse_labels(line, i, lineno)
        except ValueError:
            continue
        if line[i : i + 1] != " ":
            err(lineno, "expected a space before the value")
            continue
        fields = line[i + 1 :].split(" ")
        if len(fields) not in (1, 2):
            err(lineno, "expected a value and at most a timestamp")
            continue
        value = parse_value(fields[0], lineno)
        fam = family_of(name, types)
        if fam != current:
            if fam in done_families:
                err(lineno, f"samples of {fam} are not in one run")
            if current:
                done_families.add(current)
            current = fam
        if fam not in types or fam not in helps:
            err(lineno, f"sample of {fam} without HELP and TYPE before it")
        seen_samples.add(fam)
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            err(lineno, f"series {name}{labels} repeated")
        series.add(key)
        samples.append((fam, name, labels, value))
    for fam in set(helps) | set(types):
        if fam not in helps or fam not in types:
            err(0, f"{fam} lacks HELP or TYPE")

    # Histograms: group per label set (without le).
    hists = {}
    for fam, name, labels, value in samples:
        if types.get(fam) != "histogram":
            continue
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        h = hists.setdefault((fam, rest), {"buckets": [], "sum": None, "count": None})
        if name == fam + "_bucket":
            if "le" not in labels:
                err(0, f"{fam}_bucket{dict(rest)} without le")
                continue
            h["buckets"].append((parse_value(labels["le"], 0), value))
        elif name == fam + "_sum":
            h["sum"] = value
        elif name == fam + "_count":
            h["count"] = value
        else:
            err(0, f"{name} is not a series of histogram {fam}")
    for (fam, rest), h in hists.items():
        where = f"{fam}{dict(rest)}"
        b = h["buckets"]
        if not b or b[-1][0] != math.inf:
            err(0, f"{where}: no le=\"+Inf\" bucket last")
            continue
        if [x[0] for x in b] != sorted(x[0] for x in b):
            err(0, f"{where}: buckets not in increasing le")
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            err(0, f"{where}: bucket counts decrease")
        if h["count"] != b[-1][1]:
            err(0, f"{where}: _count {h['count']} != +Inf bucket {b[-1][1]}")
        if h["sum"] is None:
            err(0, f"{where}: no _sum")

    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    for fam, name, labels, value in samples:
        lab = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        v = int(value) if math.isfinite(value) and value.is_integer() else value
        print(f"{name}{{{lab}}} {v}" if lab else f"{name} {v}")
    for fam in sorted(types):
        print(f"# family {fam} {types[fam]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
