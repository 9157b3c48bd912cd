#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// validate-bodies.mjs DIR: checks every request body the test API server recorded
// (DIR/NNNN-KIND.json) against the official Kubernetes OpenAPI schema for its kind, with the
// ajv validators that kubernetes-models generates from the upstream OpenAPI document:
//   eviction -> policy/v1 Eviction, event -> events.k8s.io/v1 Event,
//   resize   -> the strategic merge patch as a partial v1 Pod (see below),
//   binding  -> v1 Binding (memschedd's pods/binding).
// Prints "ok KIND FILE" or "INVALID KIND FILE: <errors>" per body; exits 1 when any body is
// invalid, 2 when DIR holds no body at all (or cannot be read), 0 otherwise.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { runValidateFunc } from "@kubernetes-models/validate";
import { validate as validateEviction } from "kubernetes-models/_schemas/IoK8sApiPolicyV1Eviction";
import { validate as validateEvent } from "kubernetes-models/_schemas/IoK8sApiEventsV1Event";
import { validate as validatePod } from "kubernetes-models/_schemas/IoK8sApiCoreV1Pod";
import { validate as validateBinding } from "kubernetes-models/_schemas/IoK8sApiCoreV1Binding";

// A pods/resize strategic merge patch is a Pod with only the fields it changes: kube-apiserver
// applies it to the stored Pod's JSON, field by field in the Pod's own shape (containers merged
// by name), and decodes the result as a v1.Pod. So every field the patch carries must have the
// type and format the Pod schema gives that field, and the patch validates as a Pod once the
// apiVersion and kind a patch does not carry are added. (A Pod has no required field beyond
// those two; a container in spec.containers needs its name, which is also the merge key.)
const asPartialPod = (patch) => ({ apiVersion: "v1", kind: "Pod", ...patch });

const KINDS = {
  eviction: { validate: validateEviction, prepare: (b) => b },
  event: { validate: validateEvent, prepare: (b) => b },
  resize: { validate: validatePod, prepare: asPartialPod },
  binding: { validate: validateBinding, prepare: (b) => b },
};

function check(kind, text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    return `not JSON: ${e.message}`;
  }
  const k = KINDS[kind];
  if (!k) return "a body sent to a path memagent never writes to";
  if (body === null || typeof body !== "object" || Array.isArray(body))
    return "not a JSON object";
  try {
    runValidateFunc(k.validate, k.prepare(body));
  } catch (e) {
    return e.message.replace(/\s+/g, " ");
  }
  return null;
}

function main(argv) {
  if (argv.length !== 1) {
    console.error("usage: validate-bodies.mjs DIR");
    return 2;
  }
  const dir = argv[0];
  let names;
  try {
    names = readdirSync(dir);
  } catch (e) {
    console.error(`validate-bodies: cannot read ${dir}: ${e.message}`);
    return 2;
  }
  const bodies = names.filter((n) => /^\d{4,}-[a-z]+\.json$/.test(n)).sort();
  if (bodies.length === 0) {
    console.error(`validate-bodies: no request body in ${dir}`);
    return 2;
  }
  let invalid = 0;
  for (const name of bodies) {
    const kind = name.replace(/^\d+-/, "").replace(/\.json$/, "");
    const why = check(kind, readFileSync(join(dir, name), "utf8"));
    if (why === null) {
      console.log(`ok ${kind} ${name}`);
    } else {
      console.log(`INVALID ${kind} ${name}: ${why}`);
      invalid++;
    }
  }
  return invalid ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
