#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# chart.render_and_validate: charts/memagent rendered with Helm's engine (tests/helm-render: Go
# text/template + sprig, built offline from Debian's packages) and every object validated
# against the official Kubernetes OpenAPI schemas (tests/openapi/validate-manifests.mjs), for
# the default values and each documented variant: TLS on, BPF off, bind on (with and without
# TLS), ServiceMonitor on (with and without TLS),
# memschedd on an external etcd with two replicas. For each variant it also checks
#   - both daemons accept the configuration files the chart writes (--config ... --print-config);
#   - the kube-scheduler extender's urlPrefix + verbs are routes memschedd serves
#     (memschedd --list-routes), bindVerb only when asked, TLS only when enabled;
#   - the DaemonSet's least privilege: not privileged, no privilege escalation, read-only root,
#     uid 0, capabilities exactly the listed ones, the listed hostPaths, hostPID,
#     system-node-critical, every taint tolerated, NODE_NAME from the downward API, probes;
#   - RBAC exactly as issue 12 lists it.
# Renders the chart refuses (two SQLite replicas, TLS without a Secret) must fail, naming the
# template, and the validator must reject a broken object of each kind it checks.
# Under CI=true a missing Go, sprig or node_modules fails the test; elsewhere it skips loudly.
#   chart_render.sh SOURCE_DIR BUILD_DIR MEMAGENTD MEMSCHEDD
set -euo pipefail
SRC=${1:?usage: $0 SOURCE_DIR BUILD_DIR MEMAGENTD MEMSCHEDD}
BUILD=${2:?}
MEMAGENTD=${3:?}
MEMSCHEDD=${4:?}
CHART=$SRC/charts/memagent
GOPATH_DEBIAN=/usr/share/gocode

missing() {
        if [[ ${CI:-} == true ]]; then
                echo "FAIL: $* (CI=true: scripts/install-deps.sh must have installed it)" >&2
                exit 1
        fi
        echo "SKIP: $*; run scripts/install-deps.sh" >&2
        echo "SKIP: charts/memagent is NOT rendered nor validated"
        exit 77
}
command -v go >/dev/null || missing "go is not installed (golang-go)"
[[ -d $GOPATH_DEBIAN/src/github.com/Masterminds/sprig ]] ||
        missing "sprig is not installed (golang-github-masterminds-sprig-dev)"
[[ -d $GOPATH_DEBIAN/src/github.com/ghodss/yaml ]] ||
        missing "ghodss/yaml is not installed (golang-github-ghodss-yaml-dev)"
command -v node >/dev/null || missing "node is not installed"
[[ -d $SRC/tests/openapi/node_modules/kubernetes-models ]] || missing "tests/openapi/node_modules is missing"

WORK=$(mktemp -d /tmp/chart-render.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() {
        echo "FAIL: $*" >&2
        exit 1
}
pass() { echo "ok: $*"; }

# Offline, in GOPATH mode, from Debian's sources; the build cache stays in the build tree.
RENDER=$WORK/helm-render
gorun() { (cd "$SRC/tests/helm-render" && GO111MODULE=off GOPATH=$GOPATH_DEBIAN \
        GOCACHE="$BUILD/go-cache" GOPROXY=off go "$@"); }
gorun build -o "$RENDER" . || fail "tests/helm-render does not build"
pass "tests/helm-render built offline (GOPATH mode, Debian's sprig)"
# The renderer's own promises (merge order, --set typing, include/tpl/required, refusals).
gorun test . >"$WORK/gotest" 2>&1 || fail "tests/helm-render's tests: $(cat "$WORK/gotest")"
pass "tests/helm-render's tests: $(tail -1 "$WORK/gotest")"

"$MEMSCHEDD" --list-routes >"$WORK/routes" || fail "memschedd --list-routes"
grep -q '^POST /extender/filter$' "$WORK/routes" || fail "--list-routes has no POST /extender/filter"

# The etcd variant's values, as an operator's -f file would hold them.
cat >"$WORK/etcd-values.yaml" <<'EOF'
scheduler:
  replicas: 2
  etcd:
    endpoints:
      - https://etcd-0.etcd.example:2379
      - https://etcd-1.etcd.example:2379
    secretName: memschedd-etcd
EOF

declare -A VARIANTS=(
        [default]=""
        [tls]="--set scheduler.tls.enabled=true --set scheduler.tls.secretName=memschedd-tls"
        [bpf_off]="--set agent.config.bpfEnabled=false"
        [bind]="--set scheduler.extender.bind=true"
        [tls_bind]="--set scheduler.tls.enabled=true --set scheduler.tls.secretName=memschedd-tls --set scheduler.extender.bind=true"
        [servicemonitor]="--set serviceMonitor.enabled=true"
        [tls_servicemonitor]="--set serviceMonitor.enabled=true --set scheduler.tls.enabled=true --set scheduler.tls.secretName=memschedd-tls --set serviceMonitor.schedulerTlsConfig.serverName=memagent-memschedd.memagent-system.svc"
        [etcd]="-f $WORK/etcd-values.yaml"
        [tls_token]="--set scheduler.tls.enabled=true --set scheduler.tls.secretName=memschedd-tls --set scheduler.tokens.secretName=memschedd-tokens --set agent.token.secretName=memagent-node-tokens"
)

# check.py VARIANT RENDERED.json OUT_DIR: the structural checks above; writes the daemons'
# configuration files and, as extra objects, the embedded KubeSchedulerConfiguration into
# OUT_DIR/all.json for the OpenAPI validator.
cat >"$WORK/check.py" <<'EOF'
import json, os, sys, urllib.parse
import yaml

variant, rendered, out, routes_file = sys.argv[1:5]
docs = json.load(open(rendered))
errors = []
def expect(cond, what):
    if not cond:
        errors.append(what)

objs = [d["object"] for d in docs]
def find(kind, name_part=""):
    return [o for o in objs if o["kind"] == kind and name_part in o["metadata"]["name"]]

tls = variant in ("tls", "tls_bind", "tls_servicemonitor", "tls_token")
token = variant == "tls_token"  # agents present a bearer token from a Secret, not a certificate
bind = variant in ("bind", "tls_bind")
bpf = variant != "bpf_off"

# Every ConfigMap's YAML files: the daemons' configs to --print-config, the scheduler config to
# validate as an object of its own.
extra = []
for cm in find("ConfigMap"):
    for key, text in cm.get("data", {}).items():
        open(os.path.join(out, key), "w").write(text)
        parsed = yaml.safe_load(text)
        expect(isinstance(parsed, dict), f"ConfigMap {cm['metadata']['name']}/{key} is not a YAML mapping")
        if isinstance(parsed, dict) and "kind" in parsed:
            extra.append({"source": f"ConfigMap {cm['metadata']['name']} {key}", "object": parsed})
json.dump(docs + extra, open(os.path.join(out, "all.json"), "w"))
for f in ("memagentd.yaml", "memschedd.yaml", "scheduler-config.yaml"):
    expect(os.path.exists(os.path.join(out, f)), f"no ConfigMap holds {f}")

# --- the kube-scheduler extender against memschedd's routes ---
routes = set(l.strip() for l in open(routes_file) if l.strip())
ksc = [e["object"] for e in extra if e["object"].get("kind") == "KubeSchedulerConfiguration"]
expect(len(ksc) == 1, "exactly one KubeSchedulerConfiguration")
if ksc:
    c = ksc[0]
    expect(c.get("apiVersion") == "kubescheduler.config.k8s.io/v1", "scheduler config apiVersion")
    exts = c.get("extenders", [])
    expect(len(exts) == 1, "one extender")
    for e in exts:
        u = urllib.parse.urlparse(e["urlPrefix"])
        expect(u.scheme == ("https" if tls else "http"), f"urlPrefix scheme {u.scheme} (tls={tls})")
        expect(bool(e.get("enableHTTPS")) == tls, "enableHTTPS only with TLS")
        expect(("tlsConfig" in e) == tls, "tlsConfig only with TLS")
        expect(u.hostname.endswith(".svc") and "memschedd" in u.hostname, f"urlPrefix host {u.hostname}")
        verbs = [e.get("filterVerb"), e.get("prioritizeVerb")] + ([e["bindVerb"]] if "bindVerb" in e else [])
        expect(("bindVerb" in e) == bind, f"bindVerb present={'bindVerb' in e}, asked={bind}")
        expect(None not in verbs, "filterVerb and prioritizeVerb set")
        for v in filter(None, verbs):
            route = f"POST {u.path.rstrip('/')}/{v}"
            expect(route in routes, f"{route} is not a route memschedd serves")
        expect(isinstance(e.get("weight"), int) and e["weight"] > 0, "weight > 0")
        for k in ("httpTimeout", "nodeCacheCapable", "ignorable"):
            expect(k in e, f"extender has {k}")
        svc = find("Service", "memschedd")
        expect(len(svc) == 1 and svc[0]["spec"]["ports"][0]["port"] == u.port,
               "urlPrefix port is the Service's port")

# --- the DaemonSet's least privilege ---
ds = find("DaemonSet")
expect(len(ds) == 1, "one DaemonSet")
if ds:
    spec = ds[0]["spec"]["template"]["spec"]
    expect(spec.get("hostPID") is True, "hostPID (signals by host PID, finds its own pod)")
    expect(not spec.get("hostNetwork"), "no hostNetwork")
    expect(spec.get("priorityClassName") == "system-node-critical", "system-node-critical")
    expect({"operator": "Exists"} in spec.get("tolerations", []), "tolerates every taint")
    (c,) = spec["containers"]
    sc = c["securityContext"]
    expect(sc.get("privileged") in (None, False), "not privileged")
    expect(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
    expect(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    expect(sc.get("runAsUser") == 0, "uid 0")
    expect(sc["capabilities"].get("drop") == ["ALL"], "drops ALL")
    want = {"SYS_RESOURCE", "KILL"} | ({"BPF", "PERFMON"} if bpf else set())
    got = sc["capabilities"].get("add", [])
    expect(sorted(got) == sorted(want), f"capabilities {sorted(got)}, want exactly {sorted(want)}")
    expect(not (spec.get("securityContext") or {}).get("privileged"), "pod not privileged")
    hp = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    want_hp = {"/sys/fs/cgroup", "/var/lib/memagent", "/run/memagent"}
    if bpf:
        want_hp |= {"/sys/kernel/btf", "/sys/fs/bpf"}
    if tls and not token:
        want_hp |= {"/etc/memagent/pki"}
    expect(set(hp.values()) == want_hp, f"hostPaths {sorted(hp.values())}, want {sorted(want_hp)}")
    by_path = {p: n for n, p in hp.items()}
    cg = mounts.get(by_path.get("/sys/fs/cgroup"), {})
    expect(cg.get("mountPath") == "/sys/fs/cgroup" and not cg.get("readOnly"), "/sys/fs/cgroup mounted rw")
    if bpf:
        expect(mounts.get(by_path.get("/sys/kernel/btf"), {}).get("readOnly") is True, "BTF read-only")
    env = {e["name"]: e for e in c.get("env", [])}
    expect(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
           "NODE_NAME from the downward API")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    expect(ports.get("metrics") == 9808, "metrics port 9808")
    expect(c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, "liveness /healthz")
    expect(c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, "readiness /readyz")
    res = c.get("resources", {})
    expect("memory" in res.get("requests", {}) and "memory" in res.get("limits", {}), "memory request and limit")
    # The token variant: this node's key of the Secret, read-only, owner-only, named by flag.
    secrets = {v["name"]: v["secret"] for v in spec["volumes"] if "secret" in v}
    tv = secrets.get("scheduler-token")
    expect((tv is not None) == token, "the agents' token Secret mounted only in the token variant")
    if token and tv:
        expect(tv.get("secretName") == "memagent-node-tokens" and tv.get("defaultMode") == 0o400,
               f"token Secret volume {tv}")
        m = mounts.get("scheduler-token", {})
        expect(m.get("mountPath") == "/etc/memagent/scheduler-token" and m.get("readOnly") is True,
               f"token mount {m}")
    want_args = ["--scheduler-token-file", "/etc/memagent/scheduler-token/$(NODE_NAME)"] if token else None
    expect(c.get("args") == want_args, f"memagentd args {c.get('args')}, want {want_args}")
    open(os.path.join(out, "agent-args"), "w").write("".join(a + "\n" for a in c.get("args") or []))

# --- RBAC exactly as issue 12 lists it ---
def rules(role):
    s = set()
    for r in role.get("rules", []):
        for g in r["apiGroups"]:
            for res in r["resources"]:
                for v in r["verbs"]:
                    s.add((g, res, v))
    return s
agent_want = {("", "pods", "get"), ("", "pods", "list"), ("", "pods", "watch"),
              ("", "pods/eviction", "create"), ("", "pods/resize", "patch"),
              ("events.k8s.io", "events", "create"), ("events.k8s.io", "events", "patch"),
              ("", "nodes", "get")}
# memschedd: what it uses (scheduler/kube.c): its pod and node informers, one GET of a pod
# before a bind, evictions, Bindings and Events it only creates.
sched_want = {("", "pods", "get"), ("", "pods", "list"), ("", "pods", "watch"),
              ("", "nodes", "list"), ("", "nodes", "watch"),
              ("", "pods/eviction", "create"), ("", "pods/binding", "create"),
              ("events.k8s.io", "events", "create")}
roles = {r["metadata"]["name"]: r for r in find("ClusterRole")}
expect(len(roles) == 2 and not find("Role"), f"two ClusterRoles and no Role, got {sorted(roles)}")
for name, r in roles.items():
    want = sched_want if "memschedd" in name else agent_want
    got = rules(r)
    expect(got == want, f"{name} rules: extra {sorted(got - want)}, missing {sorted(want - got)}")
for b in find("ClusterRoleBinding"):
    (s,) = b["subjects"]
    expect(s["kind"] == "ServiceAccount" and s["name"] == b["roleRef"]["name"], f"{b['metadata']['name']} binds its own account")

# --- memschedd's Deployment per variant ---
(dep,) = find("Deployment") or [None]
expect(dep is not None, "a memschedd Deployment")
if dep:
    want_replicas = 2 if variant == "etcd" else 1
    expect(dep["spec"]["replicas"] == want_replicas, f"replicas {dep['spec']['replicas']}")
    expect((dep["spec"].get("strategy", {}).get("type") == "Recreate") == (variant != "etcd"),
           "Recreate with SQLite only")
    scfg = yaml.safe_load(open(os.path.join(out, "memschedd.yaml")))
    expect(("etcdEndpoints" in scfg) == (variant == "etcd"), "etcdEndpoints only on etcd")
    expect(("stateFile" in scfg) != (variant == "etcd"), "stateFile only with SQLite")
    expect(bool(scfg.get("insecure")) != tls and bool(scfg.get("tlsCert")) == tls, "TLS or insecure, never both")
    expect(scfg.get("tokenFile") == ("/etc/memschedd/tokens/tokens.csv" if token else None),
           f"memschedd tokenFile {scfg.get('tokenFile')}")
    dvols = {v["name"]: v.get("secret", {}) for v in dep["spec"]["template"]["spec"]["volumes"]}
    dmounts = {m["name"]: m for m in dep["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    expect(("tokens" in dvols) == token, "memschedd's token Secret mounted only in the token variant")
    if token and "tokens" in dvols:
        expect(dvols["tokens"].get("secretName") == "memschedd-tokens", "memschedd's token Secret name")
        expect(dmounts.get("tokens", {}).get("mountPath") == "/etc/memschedd/tokens", "memschedd's token mount")
    aff = dep["spec"]["template"]["spec"].get("affinity", {})
    expect(("podAntiAffinity" in aff) == (variant == "etcd"), "replicas spread over nodes only when there are several")
    dsc = dep["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    expect(dsc["capabilities"]["drop"] == ["ALL"] and "add" not in dsc["capabilities"], "memschedd keeps no capability")
acfg = yaml.safe_load(open(os.path.join(out, "memagentd.yaml")))
expect(acfg.get("bpfEnabled") is bpf, "bpfEnabled in memagentd.yaml follows the values")
expect(acfg.get("schedulerUrl", "").startswith("https://" if tls else "http://"), "schedulerUrl scheme")
expect(("schedulerCert" in acfg) == (tls and not token), "agent client certificate only with TLS, not with a token")
expect(("schedulerCA" in acfg) == tls, "the CA of memschedd's certificate with TLS")

mon = find("ServiceMonitor")
expect(len(mon) == (2 if "servicemonitor" in variant else 0), f"{len(mon)} ServiceMonitors")
for m in mon:
    for ep in m["spec"]["endpoints"]:
        if "memschedd" in m["metadata"]["name"]:
            expect(ep.get("scheme") == ("https" if tls else "http"), "memschedd scraped over its own scheme")
            expect(("tlsConfig" in ep) == tls, "tlsConfig only with TLS")
pdb = find("PodDisruptionBudget")
expect(len(pdb) == 1, "one PodDisruptionBudget")

for e in errors:
    print(f"  {variant}: {e}")
sys.exit(1 if errors else 0)
EOF

for v in default tls bpf_off bind tls_bind servicemonitor tls_servicemonitor etcd tls_token; do
        d=$WORK/$v
        mkdir -p "$d"
        # shellcheck disable=SC2086 # the variant's flags are words
        "$RENDER" --json ${VARIANTS[$v]} --name memagent -n memagent-system "$CHART" >"$d/rendered.json" 2>"$d/err" ||
                fail "$v: render failed: $(cat "$d/err")"
        python3 "$WORK/check.py" "$v" "$d/rendered.json" "$d" "$WORK/routes" || fail "$v: structural checks (above)"
        node "$SRC/tests/openapi/validate-manifests.mjs" "$d/all.json" >"$d/validate" 2>&1 ||
                fail "$v: OpenAPI validation: $(grep -v '^ok ' "$d/validate")"
        n=$(grep -c '^ok ' "$d/validate")
        # With the DaemonSet's own flags, $(NODE_NAME) expanded as the kubelet does.
        mapfile -t args <"$d/agent-args"
        "$MEMAGENTD" --config "$d/memagentd.yaml" "${args[@]//\$(NODE_NAME)/node-1}" --print-config \
                >"$d/agent-effective" 2>"$d/err" ||
                fail "$v: memagentd refuses the chart's memagentd.yaml and flags: $(cat "$d/err")"
        if [[ $v == tls_token ]]; then
                grep -q '^schedulerTokenFile: "\{0,1\}/etc/memagent/scheduler-token/node-1' "$d/agent-effective" ||
                        fail "$v: memagentd's effective schedulerTokenFile: $(grep -i token "$d/agent-effective")"
        fi
        "$MEMSCHEDD" --config "$d/memschedd.yaml" --print-config >/dev/null 2>"$d/err" ||
                fail "$v: memschedd refuses the chart's memschedd.yaml: $(cat "$d/err")"
        pass "$v: rendered, $n objects valid, structure checked, both daemons accept their config"
done

# The YAML form, as `helm template` prints it: one document per object, each with its source.
"$RENDER" "$CHART" >"$WORK/default.yaml"
[[ $(grep -c '^# Source: memagent/templates/' "$WORK/default.yaml") -eq $(python3 -c "import json; print(len(json.load(open('$WORK/default/rendered.json'))))") ]] ||
        fail "the YAML stream does not hold one document per object"
pass "the YAML stream holds one '# Source:' document per object"

# Refusals: at render time, naming the template and the reason.
refuse() { # refuse WHAT PATTERN FLAGS...
        local what=$1 pat=$2
        shift 2
        if "$RENDER" "$@" "$CHART" >/dev/null 2>"$WORK/err"; then
                fail "$what: rendered, should have been refused"
        fi
        grep -q "memagent/templates/" "$WORK/err" || fail "$what: error names no template: $(cat "$WORK/err")"
        grep -q "$pat" "$WORK/err" || fail "$what: error does not say '$pat': $(cat "$WORK/err")"
        pass "$what refused: $(head -c 160 "$WORK/err")"
}
refuse "two replicas on SQLite" "needs scheduler.etcd.endpoints" --set scheduler.replicas=2
refuse "TLS without a Secret" "needs scheduler.tls.secretName" --set scheduler.tls.enabled=true
refuse "metrics without a port" "must end in a port" --set agent.config.metricsAddress=none
refuse "agent tokens without TLS" "agent.token.secretName needs scheduler.tls.enabled" \
        --set agent.token.secretName=t --set scheduler.tokens.secretName=t
refuse "memschedd tokens without TLS" "scheduler.tokens.secretName needs scheduler.tls.enabled" \
        --set scheduler.tokens.secretName=t
refuse "agent tokens memschedd does not accept" "scheduler.tokens.secretName" \
        --set scheduler.tls.enabled=true --set scheduler.tls.secretName=s --set agent.token.secretName=t

# The validator rejects a broken object of each kind it checks (it would let nothing through
# otherwise): a container port as a word, a PDB's selector as a string, a rule without verbs,
# an extender prioritizing with weight 0 and a timeout without unit, a ServiceMonitor without
# endpoints.
python3 - "$WORK/default/all.json" "$WORK/broken.json" <<'EOF'
import copy, json, sys
docs = json.load(open(sys.argv[1]))
def pick(kind):
    return copy.deepcopy(next(d for d in docs if d["object"]["kind"] == kind))
out = []
d = pick("DaemonSet"); d["object"]["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "nine"; out.append(d)
d = pick("PodDisruptionBudget"); d["object"]["spec"]["selector"] = "memschedd"; out.append(d)
d = pick("ClusterRole"); del d["object"]["rules"][0]["verbs"]; out.append(d)
d = pick("KubeSchedulerConfiguration"); d["object"]["extenders"][0]["weight"] = 0; d["object"]["extenders"][0]["httpTimeout"] = "5"; out.append(d)
out.append({"source": "broken", "object": {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "m"}, "spec": {"selector": {"matchLabels": {}}, "endpoints": []}}})
json.dump(out, open(sys.argv[2], "w"))
EOF
rc=0
node "$SRC/tests/openapi/validate-manifests.mjs" "$WORK/broken.json" >"$WORK/out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "broken objects: exit $rc, want 1: $(cat "$WORK/out")"
[[ $(grep -c '^INVALID ' "$WORK/out") -eq 5 ]] || fail "broken objects not all rejected: $(cat "$WORK/out")"
grep -q 'containerPort must be integer' "$WORK/out" || fail "containerPort error not named: $(cat "$WORK/out")"
grep -q 'weight: must be positive' "$WORK/out" || fail "extender weight error not named: $(cat "$WORK/out")"
grep -q 'httpTimeout: must be a duration' "$WORK/out" || fail "httpTimeout error not named"
pass "the validator rejects a broken DaemonSet, PDB, ClusterRole, scheduler config and ServiceMonitor"
echo "chart.render_and_validate: all variants rendered and valid"
