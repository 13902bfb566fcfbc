#!/usr/bin/env bash
# A fresh clone with nothing beside it: clones this repository into an empty temporary folder
# (no ../shared there), runs `npm ci && npm start` in tmux with the model host unreachable and
# checks that the Race opens on the demo model, then runs `npm test` there.
# Not part of `npm test` (it installs and runs everything). Usage:
#   test/fresh-clone.sh [repository (default: this checkout)] [--keep]
set -euo pipefail
repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
keep="${2:-}"
unset CONCORD_MODEL CONCORD_MODELS CONCORD_REQUIRE_SHARED
command -v tmux >/dev/null || { echo "fresh-clone: tmux is needed" >&2; exit 2; }
work="$(mktemp -d "${TMPDIR:-/tmp}/concord-fresh-XXXXXX")"
session="concord-fresh-$$"
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  [ "$keep" = "--keep" ] || rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

git clone -q "$repo" "$work/clone"
cd "$work/clone"
[ ! -e ../shared ] || { echo "fresh-clone: ../shared exists beside the clone" >&2; exit 1; }

t0=$(now)
npm ci --no-audit --no-fund >"$work/npm-ci.log" 2>&1 || { tail -20 "$work/npm-ci.log"; exit 1; }
t1=$(now)
echo "npm ci: $(secs "$t0" "$t1") s"

# Offline for models: the model host is a closed port; fresh settings, caches and models folder.
export CONCORD_HF_ENDPOINT=http://127.0.0.1:9
export CONCORD_MODELS_DIR="$work/home/models" CONCORD_CONFIG_DIR="$work/home/config" CONCORD_CACHE_DIR="$work/home/cache"
tmux new-session -d -s "$session" -x 120 -y 32 \
  "cd '$work/clone' && CONCORD_HF_ENDPOINT=$CONCORD_HF_ENDPOINT CONCORD_MODELS_DIR='$CONCORD_MODELS_DIR' CONCORD_CONFIG_DIR='$CONCORD_CONFIG_DIR' CONCORD_CACHE_DIR='$CONCORD_CACHE_DIR' npm start; echo EXITED \$?; sleep 600"
t2=$(now)
ok=""
for _ in $(seq 1 600); do
  pane="$(tmux capture-pane -p -t "$session")"
  if grep -q "no network: demo model (untrained" <<<"$pane" && grep -q "gen demo" <<<"$pane" && grep -qE "demo#[0-9]" <<<"$pane" && grep -qE "step 1 (your call|generating)" <<<"$pane"; then ok=1; break; fi
  grep -q "EXITED" <<<"$pane" && break
  sleep 0.2
done
t3=$(now)
echo "--- screen after npm start ---"
tmux capture-pane -p -t "$session" | sed -e '/^\s*$/d' | head -20
tmux send-keys -t "$session" q
[ -n "$ok" ] || { echo "fresh-clone: FAILED: the Race did not open on the demo model" >&2; exit 1; }
echo "npm start: the Race on the demo model with streamed candidates after $(secs "$t2" "$t3") s"

unset CONCORD_HF_ENDPOINT CONCORD_MODELS_DIR CONCORD_CONFIG_DIR CONCORD_CACHE_DIR
t4=$(now)
set +e
npm test >"$work/npm-test.log" 2>&1
status=$?
set -e
t5=$(now)
grep -E "^ℹ (tests|suites|pass|fail|cancelled|skipped|todo) " "$work/npm-test.log" | tr '\n' ' '; echo
echo "skip reasons:"; grep -oE "# needs \.\./shared[^)]*\)|# (tmux|model|trace)[^#]*$" "$work/npm-test.log" | sort | uniq -c || true
echo "npm test: exit $status after $(secs "$t4" "$t5") s"
[ $status -eq 0 ] || { grep -nE "^\s*✖" "$work/npm-test.log" | head -30; echo "log: $work/npm-test.log"; keep=--keep; exit 1; }
