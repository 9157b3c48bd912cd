#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memagentd reports to memschedd over HTTPS with a client certificate (issue 15): real memagentd
# processes on copies of the captured guest tree, one real memschedd with --tls-cert/--tls-key/
# --client-ca on 127.0.0.1. Checks: with its own certificate (CN = node name) and the CA the
# report arrives; with a certificate for another name, or none, memschedd refuses it (403) and
# the agent says so once; with a CA that did not sign memschedd's certificate the agent refuses
# the server (curl's verify error in its status and log). Every agent keeps running.
: "${4:?usage: $0 MEMSCHEDD SOURCE_DIR MEMAGENTD MEMAGENT}"
# shellcheck source=agents-lib.sh
. "$(dirname "$0")/agents-lib.sh" "$@"

# A CA and memschedd's certificate, a client certificate for node it-tls and one for it-other;
# and a CA that signed nothing memschedd has.
agents_tls_ca
tls_ca "$WORK" rogue rogue-ca
cert() { tls_cert "$WORK" "$1" "$2" ca "${3-}"; } # NAME CN [SAN]
cert node it-tls
cert other it-other
[[ -s $WORK/node.pem && -s $WORK/other.pem ]] || fail "openssl could not make the certificates"

agents_start_https_memschedd

start_agent good it-tls --scheduler-ca "$WORK/ca.pem" \
	--scheduler-cert "$WORK/node.pem" --scheduler-key "$WORK/node.key"
start_agent wrongcn it-wrong --scheduler-ca "$WORK/ca.pem" \
	--scheduler-cert "$WORK/other.pem" --scheduler-key "$WORK/other.key"
start_agent nocert it-nocert --scheduler-ca "$WORK/ca.pem"
start_agent wrongca it-wrongca --scheduler-ca "$WORK/rogue.pem" \
	--scheduler-cert "$WORK/node.pem" --scheduler-key "$WORK/node.key"

# 1. Its own certificate: the report arrives, with the pods of its tree.
wait_get /v1/nodes/it-tls || agent_fail good "node it-tls never reported over HTTPS"
pods=$(jq '.pods | length' "$WORK/body")
[[ $pods == 4 ]] || fail "node it-tls reported $pods pods, its tree holds 4"
pass "with its certificate (CN = node name) and the CA, the report arrives over HTTPS"

# Let every agent try a few heartbeats (1 s each).
sleep 3.5
agent_status good
jq -e '.sent > 0 and .reachable == true and .last_error == null and (.url | startswith("https://"))' \
	"$WORK/good/st.json" >/dev/null || agent_fail good "status: $(jq -c . "$WORK/good/st.json")"

# 2. A certificate for another node: memschedd answers 403; said once, in the status too.
for d in wrongcn nocert; do
	n=it-$d
	[[ $(http GET "/v1/nodes/$n") == 404 ]] || fail "node $n reported without the right certificate"
	agent_status "$d"
	jq -e '.sent == 0 and .failed >= 2 and .reachable == true and
		(.last_error | startswith("HTTP 403"))' "$WORK/$d/st.json" >/dev/null ||
		agent_fail "$d" "agent $d status does not say 403: $(jq -c . "$WORK/$d/st.json")"
	lines=$(grep -c "refused the node report" "$WORK/$d/agent.log" || true)
	[[ $lines == 1 ]] || agent_fail "$d" "the refusal was logged $lines times, not once"
	grep "refused the node report" "$WORK/$d/agent.log" | grep -q "HTTP 403" ||
		agent_fail "$d" "the refusal line does not give memschedd's 403"
done
grep "refused the node report" "$WORK/wrongcn/agent.log" | grep -qi "certificate\|name" ||
	agent_fail wrongcn "the refusal does not give memschedd's reason"
pass "a certificate for another node, or none: 403, in the status and logged once"

# 3. Rotation: it-wrong's files are replaced by a certificate for it-wrong; the running agent
#    uses it at its next connection and its report arrives.
cert rotated it-wrong
mv "$WORK/rotated.key" "$WORK/other.key"
mv "$WORK/rotated.pem" "$WORK/other.pem"
wait_get /v1/nodes/it-wrong || agent_fail wrongcn "node it-wrong did not report with its rotated certificate"
grep -q "Reporting node it-wrong to memschedd" "$WORK/wrongcn/agent.log" ||
	agent_fail wrongcn "the agent does not say its report is accepted now"
pass "certificate files rotated under a running agent: used at the next connection, no restart"

# 4. A CA that did not sign memschedd's certificate: the agent refuses the server, backs off.
[[ $(http GET /v1/nodes/it-wrongca) == 404 ]] || fail "node it-wrongca reported through an untrusted server"
agent_status wrongca
jq -e '.sent == 0 and .failed >= 1 and .reachable == false and .backoff_ms > 0 and
	(.last_error | startswith("TLS: ")) and (.last_error | test("certificate"; "i"))' \
	"$WORK/wrongca/st.json" >/dev/null ||
	agent_fail wrongca "status does not give the TLS verify error: $(jq -c . "$WORK/wrongca/st.json")"
lines=$(grep -c "unreachable: TLS: " "$WORK/wrongca/agent.log" || true)
[[ $lines == 1 ]] || agent_fail wrongca "the TLS failure was logged $lines times, not once"
grep -q "refused the node report\|Reporting node" "$WORK/wrongca/agent.log" &&
	agent_fail wrongca "the agent talked HTTP to a server it should not trust"
pass "an untrusted server certificate: refused by the agent (TLS: $(jq -r .last_error "$WORK/wrongca/st.json" | cut -c6-60)...), logged once, backing off"

for a in "${AGENTS[@]}"; do kill -0 "$a" || fail "an agent died"; done
alive
pass "every agent and memschedd still running"
echo "1 passed, 0 failed"
