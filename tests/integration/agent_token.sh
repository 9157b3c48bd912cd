#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memagentd presents a bearer token to memschedd (issue 15): real memagentd processes on copies of
# the captured guest tree, one real memschedd over HTTPS with --client-ca and --token-file, and no
# client certificates. Checks: with schedulerTokenFile holding its node's token the report and the
# pool offer arrive; without one, memschedd answers 401 and the agent says so once, with
# memschedd's reason; with another node's token 403; with a token file it cannot read it sends
# nothing and says why once; a token file rewritten under a running agent is used at its next
# report, without a restart. Every agent keeps running.
: "${4:?usage: $0 MEMSCHEDD SOURCE_DIR MEMAGENTD MEMAGENT}"
# shellcheck source=agents-lib.sh
. "$(dirname "$0")/agents-lib.sh" "$@"

agents_tls_ca

tok() { openssl rand -hex 24; }
T_GOOD=$(tok) T_OTHER=$(tok) T_ROT=$(tok)
printf '%s,it-tok,u1\n%s,it-other,u2\n%s,it-rot,u3\n' "$T_GOOD" "$T_OTHER" "$T_ROT" >"$WORK/tokens.csv"
chmod 600 "$WORK/tokens.csv"
# The agents' token files, as a Secret volume would hold them.
echo "$T_GOOD" >"$WORK/good.token"
echo "$T_OTHER" >"$WORK/other.token"
tok >"$WORK/rot.token" # not (yet) one memschedd knows

agents_start_https_memschedd --token-file "$WORK/tokens.csv"

start_agent good it-tok --scheduler-ca "$WORK/ca.pem" --scheduler-token-file "$WORK/good.token" \
	--pool-donate 4Mi --pool-slab-size 1Mi --pool-donate-address 127.0.0.1 \
	--pool-donate-port "$(free_port)"
start_agent none it-none --scheduler-ca "$WORK/ca.pem"
start_agent other it-wrong --scheduler-ca "$WORK/ca.pem" --scheduler-token-file "$WORK/other.token"
start_agent missing it-missing --scheduler-ca "$WORK/ca.pem" --scheduler-token-file "$WORK/missing.token"
start_agent rot it-rot --scheduler-ca "$WORK/ca.pem" --scheduler-token-file "$WORK/rot.token"

# 1. Its node's token: the report arrives, and the pool offer (the registrar's own requests).
wait_get /v1/nodes/it-tok || agent_fail good "node it-tok never reported with its token"
[[ $(jq '.pods | length' "$WORK/body") == 4 ]] || fail "node it-tok's report lacks its 4 pods"
ok=
for _ in $(seq 100); do
	[[ $(http GET /v1/pools) == 200 ]] && jq -e '.donor_count == 1' "$WORK/body" >/dev/null && { ok=1; break; }
	sleep 0.1
done
[[ -n $ok ]] || agent_fail good "node it-tok's pool offer never arrived with its token"
jqb '.offered_bytes == 4194304 and ([.donors[].node] == ["it-tok"])'
pass "with schedulerTokenFile: the report and the pool offer arrive over HTTPS, no certificate"

sleep 3.5 # a few heartbeats for everyone
agent_status good
jq -e '.sent > 0 and .reachable == true and .last_error == null' "$WORK/good/st.json" >/dev/null ||
	agent_fail good "status: $(jq -c . "$WORK/good/st.json")"

# 2. No token: 401 with memschedd's reason (certificate or token), said once. Another node's
#    token: 403.
for d in none:401:'bearer token' other:403:'token for'; do
	IFS=: read -r dir want why <<<"$d"
	agent_status "$dir"
	jq -e --arg w "HTTP $want" '.sent == 0 and .failed >= 2 and .reachable == true and
		(.last_error | startswith($w))' "$WORK/$dir/st.json" >/dev/null ||
		agent_fail "$dir" "agent $dir status does not say $want: $(jq -c . "$WORK/$dir/st.json")"
	lines=$(grep -c "refused the node report" "$WORK/$dir/agent.log" || true)
	[[ $lines == 1 ]] || agent_fail "$dir" "the refusal was logged $lines times, not once"
	grep "refused the node report" "$WORK/$dir/agent.log" | grep -q "HTTP $want.*$why" ||
		agent_fail "$dir" "the refusal line does not give memschedd's $want and reason"
done
[[ $(http GET /v1/nodes/it-none) == 404 ]] || fail "node it-none reported without a token"
[[ $(http GET /v1/nodes/it-wrong) == 404 ]] || fail "node it-wrong reported with another node's token"
pass "no token: 401 with the reason; another node's token: 403; in the status and logged once"

# 3. A token file that cannot be read: nothing sent, said once with the file and why.
agent_status missing
jq -e '.sent == 0 and (.last_error | test("token file .*missing.token: No such file"))' \
	"$WORK/missing/st.json" >/dev/null ||
	agent_fail missing "status does not say the token file is missing: $(jq -c . "$WORK/missing/st.json")"
lines=$(grep -c "Not reporting to memschedd.*missing.token" "$WORK/missing/agent.log" || true)
[[ $lines == 1 ]] || agent_fail missing "the unreadable token file was said $lines times, not once"
echo "$T_OTHER" >"$WORK/missing.token" # now readable (another node's token: 403, but sent)
for _ in $(seq 50); do
	grep -q "token file .*missing.token is readable again" "$WORK/missing/agent.log" && break
	sleep 0.1
done
grep -q "token file .*missing.token is readable again" "$WORK/missing/agent.log" ||
	agent_fail missing "the agent does not say the token file is readable again"
pass "an unreadable schedulerTokenFile: no report sent, said once with the file and why; its return said"

# 4. Rotation: it-rot's token file is replaced by its valid token; the running agent uses it.
[[ $(http GET /v1/nodes/it-rot) == 404 ]] || fail "node it-rot reported with an unknown token"
echo "$T_ROT" >"$WORK/rot.token.new"
mv "$WORK/rot.token.new" "$WORK/rot.token"
wait_get /v1/nodes/it-rot || agent_fail rot "node it-rot did not report with its rotated token"
grep -q "accepts the node report again\|Reporting node it-rot" "$WORK/rot/agent.log" ||
	agent_fail rot "the agent does not say its report is accepted now"
pass "token file rotated under a running agent: used at the next report, no restart"

for t in "$T_GOOD" "$T_OTHER" "$T_ROT"; do
	grep -q -- "$t" "$WORK"/*/agent.log "$WORK/memschedd.log" && fail "a token is in a log"
done
for a in "${AGENTS[@]}"; do kill -0 "$a" || fail "an agent died"; done
alive
pass "no token in any log; every agent and memschedd still running"
echo "agent_token: all passed"
