#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memschedd's command line and configuration file, on the real binary: refusals exit 2 with one
# line on stderr that names the problem (file:line:key for the file), --print-config reads back
# through --config to the same output, a file alone is enough to serve with, and node names in
# URLs follow the same rule as memagentd's nodeName key.
source "$(dirname "$0")/lib.sh"

# refused ARGS... : exit status 2, exactly one line on stderr, nothing on stdout; the line in $LINE.
refused() {
        local rc=0
        "$MEMSCHEDD" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
        [[ $rc == 2 ]] || fail "memschedd $*: exit $rc, expected 2 (stderr: $(cat "$WORK/err"))"
        [[ $(wc -l <"$WORK/err") == 1 ]] || fail "memschedd $*: stderr is not one line: $(cat "$WORK/err")"
        [[ ! -s $WORK/out ]] || fail "memschedd $*: printed on stdout: $(head -c 200 "$WORK/out")"
        LINE=$(cat "$WORK/err")
}

refused --no-such-flag
[[ $LINE == "memschedd: error: --no-such-flag: unknown option" ]] || fail "unknown flag: $LINE"
refused --threads 0
[[ $LINE == *'--threads: "0" is out of range: must be between 1 and 256'* ]] || fail "bounds: $LINE"
refused --listen localhost:8787
[[ $LINE == *'--listen: "localhost:8787"'*'numeric address'* ]] || fail "listen: $LINE"
refused stray-argument
[[ $LINE == *'unexpected argument "stray-argument"'* ]] || fail "argument: $LINE"
refused --config "$WORK/none.yaml"
[[ $LINE == *"none.yaml: no such file"* ]] || fail "missing --config: $LINE"
printf 'threads: 2\n\nstaleAfterSecs: 5\n' >"$WORK/bad.yaml"
refused --config "$WORK/bad.yaml"
[[ $LINE == "memschedd: error: $WORK/bad.yaml:3: key \"staleAfterSecs\": unknown key (did you mean \"staleAfterSec\"?)" ]] ||
        fail "bad key: $LINE"
pass "refusals exit 2 with one line naming the problem"

# --print-config: the defaults memschedd always had, and a file that reads back to itself.
"$MEMSCHEDD" --print-config >"$WORK/defaults.yaml" || fail "--print-config failed"
grep -qx 'listen: "0.0.0.0:8787"' "$WORK/defaults.yaml" || fail "default listen: $(grep listen: "$WORK/defaults.yaml")"
grep -qx 'stateFile: "/var/lib/memschedd/state.db"' "$WORK/defaults.yaml" || fail "default state file"
"$MEMSCHEDD" --print-config --threads 3 --stale-after-sec=7 --admit-unknown-nodes \
        --max-body-bytes 1Mi >"$WORK/a.yaml" || fail "--print-config with flags failed"
grep -qx 'threads: 3' "$WORK/a.yaml" || fail "threads not in the dump"
"$MEMSCHEDD" --config "$WORK/a.yaml" --print-config >"$WORK/b.yaml" || fail "dump does not load back"
diff <(grep -v '^#' "$WORK/a.yaml") <(grep -v '^#' "$WORK/b.yaml") >"$WORK/diff" ||
        fail "the dump did not round-trip: $(cat "$WORK/diff")"
cmp -s "$WORK/defaults.yaml" "$WORK/b.yaml" && fail "round trip compared two default dumps"
pass "--print-config round-trips through --config"

# --help lists every key of the dump as a flag.
"$MEMSCHEDD" --help >"$WORK/help" || fail "--help failed"
keys=$(grep -E '^[a-zA-Z]+:' "$WORK/b.yaml" | cut -d: -f1)
[[ $(wc -w <<<"$keys") -ge 13 ]] || fail "the dump has too few keys: $keys"
for k in $keys; do
        flag=$(sed -E 's/([A-Z]+)/-\L\1/g' <<<"$k") # an acronym is one word: clientCA
        grep -qE "^  --$flag( |\[|$)" "$WORK/help" || fail "--help does not list --$flag"
done
pass "--help lists every key"

# A file alone is enough: memschedd serves with what it says.
cat >"$WORK/serve.yaml" <<YAML
listen: 127.0.0.1:0
stateFile: $WORK/state.db
portFile: $WORK/port
threads: 2
staleAfterSec: 2
YAML
"$MEMSCHEDD" --config "$WORK/serve.yaml" >>"$WORK/memschedd.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
        [[ -s $WORK/port ]] && break
        kill -0 "$PID" 2>/dev/null || fail "memschedd --config exited at start"
        sleep 0.05
done
[[ -s $WORK/port ]] || fail "memschedd --config did not write its port file"
BASE="http://127.0.0.1:$(cat "$WORK/port")"
expect 200 GET /healthz
grep -q "with 2 threads" "$WORK/memschedd.log" || fail "threads from the file not used: $(cat "$WORK/memschedd.log")"
grep -q "nodes stale after 2 s" "$WORK/memschedd.log" || fail "staleAfterSec from the file not used"
pass "memschedd serves from a configuration file"

# Node names in URLs: the one check (common/node-name.c) that memagentd's nodeName key uses too.
expect 404 GET /v1/nodes/worker-1.example
for bad in 'a..b' 'a-.b' 'a.-b' '-a' 'a-' 'Worker-1' "$(printf 'a%.0s' {1..64})"; do
        expect 400 GET "/v1/nodes/$bad"
done
pass "node names outside RFC 1123 are refused in URLs"
