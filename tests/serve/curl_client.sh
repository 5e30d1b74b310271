#!/usr/bin/env bash
# curl against the built `supra serve` on a free port of 127.0.0.1 with the shipped model:
# completions (plain, streamed, logprobs with echo), chat (plain, streamed), models, health,
# a malformed request, a body over 8 KiB sent as curl's default form type, a model by id, a 405,
# a CORS preflight, /tokenize and /detokenize, a continued state, and a second server
# on the same port (refused: one `error:` line, exit status 1). Usage: curl_client.sh SUPRA_BINARY
set -euo pipefail
supra=$1
log=$(mktemp)
"$supra" serve --port 0 --cors-origin http://app.example 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 200); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "server did not start:"; cat "$log"; exit 1; }
base="http://127.0.0.1:$port"
fail() { echo "FAIL: $*"; exit 1; }
post() { curl -sS --max-time 20 -H 'Content-Type: application/json' -d "$2" "$base$1"; }

[ "$(curl -sS --max-time 5 "$base/health" | jq -r .status)" = ok ] || fail health
[ "$(curl -sS --max-time 5 "$base/v1/models" | jq -r '.data | length')" = 1 ] || fail models

r=$(post /v1/completions '{"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}')
[ "$(jq -r '.choices[0].text | length > 0' <<<"$r")" = true ] || fail "completion: $r"
[ "$(jq -r .usage.completion_tokens <<<"$r")" = 8 ] || fail "completion usage: $r"

# Streaming: server-sent events ending in [DONE]; the text equals the non-streamed one.
s=$(post /v1/completions '{"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0, "stream": true}')
[ "$(tail -n 1 <<<"$s")" = "data: [DONE]" ] || fail "stream end: $s"
streamed=$(grep '^data: {' <<<"$s" | sed 's/^data: //' | jq -j '.choices[0].text')
[ "$streamed" = "$(jq -j '.choices[0].text' <<<"$r")" ] || fail "stream text '$streamed'"

# Log-likelihood scoring as lm-evaluation-harness local-completions asks for it.
e=$(post /v1/completions '{"prompt": "Once upon a time", "max_tokens": 0, "echo": true, "logprobs": 1}')
[ "$(jq -r '.choices[0].logprobs.token_logprobs[0]' <<<"$e")" = null ] || fail "echo first: $e"
[ "$(jq -r '[.choices[0].logprobs.token_logprobs[1:][] | . < 0] | all' <<<"$e")" = true ] || fail "echo lps: $e"

c=$(post /v1/chat/completions '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "temperature": 0}')
[ "$(jq -r '.choices[0].message.role' <<<"$c")" = assistant ] || fail "chat: $c"
cs=$(post /v1/chat/completions '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "stream": true}')
grep -q '"delta"' <<<"$cs" || fail "chat stream: $cs"

code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
  -d '{"prompt": 12' "$base/v1/completions")
[ "$code" = 400 ] || fail "bad JSON gave $code"
# curl -d without -H sends application/x-www-form-urlencoded: still JSON to the server, at any size.
big=$(jq -cn --arg p "$(printf 'Once upon a time %.0s' $(seq 540))" '{prompt: $p, max_tokens: 1}')
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -d "$big" "$base/v1/completions")
[ "$code" = 200 ] || fail "a 9 KB body without a JSON Content-Type gave $code"

# Routes: a model by id, 405 with Allow, a CORS preflight, /tokenize and /detokenize, a state
# continued with "," reading as the joined text.
model=$(curl -sS --max-time 5 "$base/v1/models" | jq -r '.data[0].id')
[ "$(curl -sS --max-time 5 "$base/v1/models/$model" | jq -r .object)" = model ] || fail "model $model"
h=$(curl -sS -o /dev/null -D - --max-time 5 "$base/v1/completions")
grep -q '^HTTP/1.1 405' <<<"$h" && grep -qi '^Allow: POST' <<<"$h" || fail "GET /v1/completions: $h"
h=$(curl -sS -o /dev/null -D - --max-time 5 -X OPTIONS -H 'Origin: http://app.example' \
  -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: authorization' "$base/v1/completions")
grep -q '^HTTP/1.1 204' <<<"$h" && grep -qi '^Access-Control-Allow-Origin: http://app.example' <<<"$h" ||
  fail "preflight: $h"
t=$(post /tokenize '{"content": "Once upon a time,"}')
[ "$(post /detokenize "$t" | jq -r .content)" = "Once upon a time," ] || fail "tokenize round trip: $t"
id=$(post /v1/states '{"prompt": "Once upon a time"}' | jq -r .id)
[ "$(post /v1/states "{\"state_id\": \"$id\", \"prompt\": \",\"}" | jq -r .tokens)" = \
  "$(post /tokenize '{"content": "Once upon a time,", "add_special": true}' | jq '.tokens | length')" ] ||
  fail "a state continued with ',' is not the joined text"

# A second server on the port in use fails at once instead of sharing it.
set +e
second=$("$supra" serve --port "$port" 2>&1 >/dev/null)
status=$?
set -e
[ "$status" = 1 ] || fail "second server on port $port exited with $status: $second"
[ "$(wc -l <<<"$second")" = 1 ] && grep -q '^error: .*address in use' <<<"$second" || fail "second server said: $second"
echo "curl client: 15 checks passed"
