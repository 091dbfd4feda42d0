#!/usr/bin/env bash
# Regenerates a PNG of the page of `proact serve` streaming a model, with the browser test's driver
# (tests/node/serve_page.mjs: Debian's chromium, headless, through npm puppeteer-core):
#   scripts/screenshot.sh MODEL_DIR OUT.png [HEAD_A [HEAD_B [TEXT [MS_PER_WORD]]]]
# Defaults: the model's default head alone, the first sentence of the fixture's test set, 0 ms per
# word (the picture is the same at any pace). Works with any exported model directory; the binary
# is build/proact (PROACT names another).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="${1:?usage: scripts/screenshot.sh MODEL_DIR OUT.png [HEAD_A [HEAD_B [TEXT [MS_PER_WORD]]]]}"
out="${2:?usage: scripts/screenshot.sh MODEL_DIR OUT.png [HEAD_A [HEAD_B [TEXT [MS_PER_WORD]]]]}"
head_a="${3:-}"
head_b="${4:-}"
text="${5:-$(head -1 "$root/tests/data/fixture/john.en-es.test.tsv" | cut -f1)}"
ms="${6:-0}"
proact="${PROACT:-$root/build/proact}"
[ -x "$proact" ] || { echo "screenshot.sh: $proact not found: build proact first" >&2; exit 1; }
[ -f "$model/proact.json" ] || { echo "screenshot.sh: $model is not an exported model directory (no proact.json)" >&2; exit 1; }
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export PROACT_QUIET_BLAS=1
"$proact" serve --model "$model" --port 0 >"$work/out" 2>"$work/err" &
pid=$!
port=""
for _ in $(seq 1 600); do
  port=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$work/out")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { echo "screenshot.sh: proact serve did not start:" >&2; cat "$work/err" >&2; exit 1; }
[ -n "$head_a" ] || head_a=$(curl -sf "http://127.0.0.1:$port/" | sed 's/.*"head":"\([^"]*\)".*/\1/')
heads=(--head "$head_a")
[ -n "$head_b" ] && heads+=(--head "$head_b")
node "$root/tests/node/serve_page.mjs" "http://127.0.0.1:$port/" --text "$text" "${heads[@]}" --ms "$ms" \
  --screenshot "$out" --width 1280 --height 800 >/dev/null
echo "screenshot.sh: wrote $out (model $model, heads ${head_a}${head_b:+ and $head_b})"
