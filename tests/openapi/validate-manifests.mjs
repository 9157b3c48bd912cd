#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// validate-manifests.mjs FILE: checks every object of a rendered chart against the official
// Kubernetes OpenAPI schema of its apiVersion/kind (kubernetes-models' ajv validators, generated
// from the upstream OpenAPI document). FILE is JSON: an array of objects, or of
// {"source", "object"} as tests/helm-render --json writes it.
// Two kinds are not in Kubernetes' OpenAPI document and get explicit structural checks here:
//   monitoring.coreos.com/v1 ServiceMonitor (a prometheus-operator CRD), and
//   kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration (a component config file, not an
//   API object): field names and types as k8s.io/kube-scheduler/config/v1 declares them, and
//   kube-scheduler's own validation of extenders (weight > 0 with prioritizeVerb, one binder).
// What the schemas cannot catch: a field name the schema does not know. Kubernetes' OpenAPI
// document does not forbid unknown fields (kube-apiserver drops or, with strict field
// validation, rejects them), so the generated validators accept them; the chart test checks the
// fields that matter (securityContext, RBAC, the extender) by value instead.
// Prints "ok KIND NAME (SOURCE)" or "INVALID KIND NAME (SOURCE): <errors>" per object; exits 1
// when any object is invalid, 2 when FILE holds no object (or cannot be read), 0 otherwise.
import { readFileSync } from "node:fs";

import { runValidateFunc } from "@kubernetes-models/validate";

// apiVersion/kind -> the generated schema module (kubernetes-models/_schemas/NAME).
const BUILTIN = {
  "v1/ConfigMap": "IoK8sApiCoreV1ConfigMap",
  "v1/Service": "IoK8sApiCoreV1Service",
  "v1/ServiceAccount": "IoK8sApiCoreV1ServiceAccount",
  "v1/Secret": "IoK8sApiCoreV1Secret",
  "apps/v1/DaemonSet": "IoK8sApiAppsV1DaemonSet",
  "apps/v1/Deployment": "IoK8sApiAppsV1Deployment",
  "policy/v1/PodDisruptionBudget": "IoK8sApiPolicyV1PodDisruptionBudget",
  "rbac.authorization.k8s.io/v1/ClusterRole": "IoK8sApiRbacV1ClusterRole",
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "IoK8sApiRbacV1ClusterRoleBinding",
  "rbac.authorization.k8s.io/v1/Role": "IoK8sApiRbacV1Role",
  "rbac.authorization.k8s.io/v1/RoleBinding": "IoK8sApiRbacV1RoleBinding",
};

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

async function checkBuiltin(moduleName, obj) {
  const { validate } = await import(`kubernetes-models/_schemas/${moduleName}`);
  try {
    runValidateFunc(validate, obj);
  } catch (e) {
    return [e.message.replace(/\s+/g, " ")];
  }
  return [];
}

// --- explicit checks for the two kinds outside Kubernetes' OpenAPI document ---

function fields(errors, obj, path, spec) {
  if (!isObj(obj)) {
    errors.push(`${path}: must be an object`);
    return;
  }
  for (const [k, v] of Object.entries(obj)) {
    const t = spec[k];
    if (!t) {
      errors.push(`${path}/${k}: unknown field`);
      continue;
    }
    const p = `${path}/${k}`;
    if (typeof t === "function") t(v, p);
    else if (t === "string" && typeof v !== "string") errors.push(`${p}: must be a string`);
    else if (t === "boolean" && typeof v !== "boolean") errors.push(`${p}: must be a boolean`);
    else if (t === "integer" && !Number.isInteger(v)) errors.push(`${p}: must be an integer`);
    else if (t === "duration" && !(typeof v === "string" && DURATION.test(v)))
      errors.push(`${p}: must be a duration like 30s`);
    else if (t === "object" && !isObj(v)) errors.push(`${p}: must be an object`);
  }
}

function requireFields(errors, obj, path, names) {
  for (const n of names) if (!isObj(obj) || !(n in obj)) errors.push(`${path}: must have ${n}`);
}

function checkMetadata(errors, obj) {
  requireFields(errors, obj, "", ["metadata"]);
  if (isObj(obj.metadata) && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(obj.metadata.name ?? ""))
    errors.push("/metadata/name: must be a DNS subdomain");
}

function checkServiceMonitor(obj) {
  const errors = [];
  checkMetadata(errors, obj);
  fields(errors, obj, "", {
    apiVersion: "string",
    kind: "string",
    metadata: "object",
    spec: (spec, p) => {
      requireFields(errors, spec, p, ["selector", "endpoints"]);
      fields(errors, spec, p, {
        selector: (s, q) =>
          fields(errors, s, q, {
            matchLabels: "object",
            matchExpressions: (v, r) => !Array.isArray(v) && errors.push(`${r}: must be an array`),
          }),
        namespaceSelector: "object",
        jobLabel: "string",
        endpoints: (eps, q) => {
          if (!Array.isArray(eps) || eps.length === 0)
            return errors.push(`${q}: must be a non-empty array`);
          eps.forEach((ep, i) => {
            const r = `${q}[${i}]`;
            fields(errors, ep, r, {
              port: "string",
              targetPort: "string",
              path: "string",
              scheme: (v, s) => {
                if (v !== "http" && v !== "https") errors.push(`${s}: must be http or https`);
              },
              interval: "duration",
              scrapeTimeout: "duration",
              tlsConfig: "object",
              bearerTokenSecret: "object",
              honorLabels: "boolean",
            });
            if (isObj(ep) && !ep.port && !ep.targetPort) errors.push(`${r}: needs port`);
          });
        },
      });
    },
  });
  return errors;
}

function checkSchedulerConfig(obj) {
  const errors = [];
  fields(errors, obj, "", {
    apiVersion: "string",
    kind: "string",
    parallelism: "integer",
    leaderElection: "object",
    clientConnection: (c, p) =>
      fields(errors, c, p, {
        kubeconfig: "string",
        acceptContentTypes: "string",
        contentType: "string",
        qps: (v, q) => typeof v !== "number" && errors.push(`${q}: must be a number`),
        burst: "integer",
      }),
    percentageOfNodesToScore: "integer",
    podInitialBackoffSeconds: "integer",
    podMaxBackoffSeconds: "integer",
    profiles: (v, p) => !Array.isArray(v) && errors.push(`${p}: must be an array`),
    delayCacheUntilActive: "boolean",
    extenders: (exts, p) => {
      if (!Array.isArray(exts) || exts.length === 0)
        return errors.push(`${p}: must be a non-empty array`);
      let binders = 0;
      exts.forEach((e, i) => {
        const q = `${p}[${i}]`;
        requireFields(errors, e, q, ["urlPrefix"]);
        fields(errors, e, q, {
          urlPrefix: (u, r) => {
            if (!(typeof u === "string" && /^https?:\/\/[^/]+/.test(u)))
              errors.push(`${r}: must be an http(s) URL`);
          },
          filterVerb: "string",
          preemptVerb: "string",
          prioritizeVerb: "string",
          bindVerb: "string",
          weight: "integer",
          enableHTTPS: "boolean",
          tlsConfig: (t, r) =>
            fields(errors, t, r, {
              insecure: "boolean",
              serverName: "string",
              certFile: "string",
              keyFile: "string",
              caFile: "string",
              certData: "string",
              keyData: "string",
              caData: "string",
            }),
          httpTimeout: "duration",
          nodeCacheCapable: "boolean",
          managedResources: (v, r) => !Array.isArray(v) && errors.push(`${r}: must be an array`),
          ignorable: "boolean",
        });
        if (!isObj(e)) return;
        // kube-scheduler's ValidateKubeSchedulerConfiguration: a prioritizer needs weight > 0,
        // and only one extender may bind.
        if (e.prioritizeVerb && !(Number.isInteger(e.weight) && e.weight > 0))
          errors.push(`${q}/weight: must be positive with prioritizeVerb`);
        if (e.bindVerb) binders++;
        const https = typeof e.urlPrefix === "string" && e.urlPrefix.startsWith("https://");
        if (https !== Boolean(e.enableHTTPS))
          errors.push(`${q}: enableHTTPS must match the urlPrefix's scheme`);
      });
      if (binders > 1) errors.push(`${p}: only one extender can implement bind`);
    },
  });
  return errors;
}

const EXPLICIT = {
  "monitoring.coreos.com/v1/ServiceMonitor": checkServiceMonitor,
  "kubescheduler.config.k8s.io/v1/KubeSchedulerConfiguration": checkSchedulerConfig,
};

async function check(obj) {
  if (!isObj(obj)) return ["not a JSON object"];
  if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string")
    return ["no apiVersion or kind"];
  const key = `${obj.apiVersion}/${obj.kind}`;
  if (BUILTIN[key]) return await checkBuiltin(BUILTIN[key], obj);
  if (EXPLICIT[key]) return EXPLICIT[key](obj);
  return [`${key}: a kind this validator has no schema for`];
}

async function main(argv) {
  if (argv.length !== 1) {
    console.error("usage: validate-manifests.mjs FILE.json");
    return 2;
  }
  let docs;
  try {
    docs = JSON.parse(readFileSync(argv[0], "utf8"));
  } catch (e) {
    console.error(`validate-manifests: cannot read ${argv[0]}: ${e.message}`);
    return 2;
  }
  if (!Array.isArray(docs) || docs.length === 0) {
    console.error(`validate-manifests: no object in ${argv[0]}`);
    return 2;
  }
  let invalid = 0;
  for (const d of docs) {
    const obj = isObj(d) && "object" in d ? d.object : d;
    const source = isObj(d) && d.source ? d.source : "-";
    const name = `${obj?.kind ?? "?"} ${obj?.metadata?.name ?? "-"} (${source})`;
    const errors = await check(obj);
    if (errors.length === 0) {
      console.log(`ok ${name}`);
    } else {
      console.log(`INVALID ${name}: ${errors.join("; ")}`);
      invalid++;
    }
  }
  return invalid ? 1 : 0;
}

process.exit(await main(process.argv.slice(2)));
