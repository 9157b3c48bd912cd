#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks a running memschedd against api/openapi.yaml.

  openapi_check.py OPENAPI_YAML ROUTES_FILE BASE_URL

ROUTES_FILE is the output of `memschedd --list-routes` ("METHOD PATH" per line); BASE_URL "-"
compares the routes only. Checks:
  1. the document's paths+methods and the served routes are the same set;
  2. every request example validates against its own request schema;
  3. every operation answers its examples (built from the document: path parameter examples,
     query parameter examples, request body example(s)) with a documented 2xx status, never
     404/405, and the body validates against the documented schema for that status;
  4. an undocumented path answers 404 and a wrong method 405, both with the ErrorReply schema.
Exits 0 when all hold, 1 with one line per violation otherwise. Standard library + PyYAML only.
"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import yaml

FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def resolve(doc, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def type_ok(t, v):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    raise AssertionError("unsupported type " + t)


def validate(doc, schema, v, path, errs):
    """The subset of OpenAPI 3.0 schema objects the document uses: $ref, allOf, oneOf, type,
    nullable, required, properties, additionalProperties, items, enum, minimum, maximum,
    minLength, minItems, maxItems. Appends "path: problem" strings to errs."""
    schema = resolve(doc, schema)
    if v is None:
        if schema.get("nullable"):
            return
        # allOf members may not carry nullable themselves; the wrapper decides.
        if "type" in schema or "allOf" in schema or "oneOf" in schema:
            errs.append(f"{path or '.'}: null where the document does not allow it")
        return
    for sub in schema.get("allOf", []):
        validate(doc, sub, v, path, errs)
    if "oneOf" in schema:
        matches = 0
        for sub in schema["oneOf"]:
            e = []
            validate(doc, sub, v, path, e)
            matches += not e
        if matches != 1:
            errs.append(f"{path or '.'}: matches {matches} of the oneOf alternatives")
    t = schema.get("type")
    if t and not type_ok(t, v):
        errs.append(f"{path or '.'}: {json.dumps(v)[:60]} is not of type {t}")
        return
    if "enum" in schema and v not in schema["enum"]:
        errs.append(f"{path or '.'}: {v!r} not in {schema['enum']}")
    if "minimum" in schema and isinstance(v, (int, float)) and v < schema["minimum"]:
        errs.append(f"{path or '.'}: {v} below minimum {schema['minimum']}")
    if "maximum" in schema and isinstance(v, (int, float)) and v > schema["maximum"]:
        errs.append(f"{path or '.'}: {v} above maximum {schema['maximum']}")
    if "minLength" in schema and isinstance(v, str) and len(v) < schema["minLength"]:
        errs.append(f"{path or '.'}: shorter than {schema['minLength']}")
    if isinstance(v, list):
        if len(v) < schema.get("minItems", 0) or len(v) > schema.get("maxItems", len(v)):
            errs.append(f"{path or '.'}: {len(v)} items outside the documented bounds")
        if "items" in schema:
            for i, item in enumerate(v):
                validate(doc, schema["items"], item, f"{path}[{i}]", errs)
    if isinstance(v, dict):
        for k in schema.get("required", []):
            if k not in v:
                errs.append(f"{path + '.' if path else ''}{k}: required field missing")
        props = schema.get("properties", {})
        for k, sub in props.items():
            if k in v:
                validate(doc, sub, v[k], f"{path + '.' if path else ''}{k}", errs)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for k, val in v.items():
                if k not in props:
                    validate(doc, extra, val, f"{path}[{k!r}]", errs)


def request(base, method, url, body):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read(), e.headers


def check_answer(doc, op_id, op, status, ctype, raw):
    responses = op["responses"]
    resp = responses.get(str(status))
    if resp is None:
        fail(f"{op_id}: HTTP {status} is not a documented response: {raw[:300]!r}")
        return
    resp = resolve(doc, resp)
    content = resp.get("content", {})
    media = ctype.split(";")[0].strip()
    if media not in content:
        fail(f"{op_id}: HTTP {status} answered {media!r}, documented {sorted(content)}")
        return
    if media != "application/json":
        return
    try:
        body = json.loads(raw)
    except ValueError as e:
        fail(f"{op_id}: HTTP {status} body is not JSON ({e}): {raw[:200]!r}")
        return
    errs = []
    validate(doc, content[media]["schema"], body, "", errs)
    for e in errs:
        fail(f"{op_id}: HTTP {status} response: {e}")
    return body


def main():
    spec_path, routes_path, base = sys.argv[1:4]
    with open(spec_path) as f:
        doc = yaml.safe_load(f)
    assert doc["openapi"].startswith("3.0"), "expected an OpenAPI 3.0 document"

    documented = set()
    for p, item in doc["paths"].items():
        for m in item:
            if m in ("get", "post", "put", "delete", "patch", "head"):
                documented.add(f"{m.upper()} {p}")
    with open(routes_path) as f:
        served = {line.strip() for line in f if line.strip()}
    for r in sorted(served - documented):
        fail(f"served but not documented: {r}")
    for r in sorted(documented - served):
        fail(f"documented but not served: {r}")
    if not served:
        fail("memschedd --list-routes printed nothing")
    print(f"ok: {len(documented)} documented operations, {len(served)} served routes")
    if base == "-":
        return 1 if FAILS else 0

    # Node reports first, so that the node named in the examples exists for the rest.
    ops = []
    for p, item in doc["paths"].items():
        for m, op in item.items():
            if m in ("get", "post"):
                ops.append((0 if p.endswith("/report") else 1, p, m, op))
    ops.sort(key=lambda o: o[0])

    answered = 0
    for _, p, m, op in ops:
        op_id = f"{m.upper()} {p}"
        url = p
        query = {}
        for prm in op.get("parameters", []):
            prm = resolve(doc, prm)
            if "example" not in prm:
                fail(f"{op_id}: parameter {prm['name']} has no example")
                continue
            if prm["in"] == "path":
                url = url.replace("{" + prm["name"] + "}", urllib.parse.quote(str(prm["example"])))
            elif prm["in"] == "query":
                query[prm["name"]] = prm["example"]
        if query:
            url += "?" + urllib.parse.urlencode(query)
        bodies = [None]
        rb = op.get("requestBody")
        if rb:
            media = rb["content"]["application/json"]
            if "example" in media:
                bodies = [media["example"]]
            elif "examples" in media:
                bodies = [e["value"] for e in media["examples"].values()]
            else:
                fail(f"{op_id}: request body has no example")
                continue
            for i, b in enumerate(bodies):
                errs = []
                validate(doc, media["schema"], b, "", errs)
                for e in errs:
                    fail(f"{op_id}: request example {i} does not match its schema: {e}")
        for b in bodies:
            status, ctype, raw, _ = request(base, m.upper(), url, b)
            if status in (404, 405):
                fail(f"{op_id}: answered {status} to its example: {raw[:300]!r}")
                continue
            if not 200 <= status < 300:
                fail(f"{op_id}: answered {status} to its example: {raw[:300]!r}")
            check_answer(doc, op_id, op, status, ctype, raw)
            answered += 1
    print(f"ok: {answered} example requests answered and validated")

    # The error shapes the document promises for what it does not list.
    err_schema = {"$ref": "#/components/schemas/ErrorReply"}
    status, ctype, raw, _ = request(base, "GET", "/v1/no-such-path", None)
    errs = []
    if status != 404:
        fail(f"GET /v1/no-such-path: HTTP {status}, expected 404")
    else:
        validate(doc, err_schema, json.loads(raw), "", errs)
    status, ctype, raw, headers = request(base, "GET", "/extender/filter", None)
    if status != 405 or headers.get("Allow") != "POST":
        fail(f"GET /extender/filter: HTTP {status} Allow {headers.get('Allow')}, expected 405 POST")
    else:
        validate(doc, err_schema, json.loads(raw), "", errs)
    for e in errs:
        fail(f"error reply: {e}")
    print("ok: unknown path 404 and wrong method 405 answer with ErrorReply")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
