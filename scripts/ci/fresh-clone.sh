#!/usr/bin/env bash
# Proves the project is self-contained, as a new user meets it: clones the committed HEAD into an empty temporary
# folder (nothing beside it), checks that every relative path to shared/ is the project's own, installs with
# `npm ci` (failing on EBADENGINE or unreviewed install scripts), generates the demo model from the bundled
# vocabulary, and runs the unit suite there. Needs no Redis. Usage: bash scripts/ci/fresh-clone.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
logs="$(mktemp -d)"
trap 'rm -rf "$work" "$logs"' EXIT
step() { printf '\n[fresh-clone] %s (%ss)\n' "$1" "$SECONDS"; }
fail() { printf '[fresh-clone] FAILED: %s\n' "$1" >&2; exit 1; }

# A relative path ending in shared must resolve, from the file that holds it, to the project's own shared/:
# anything else (the folder beside a developer's checkout, a wrong depth) is a file the clone does not have.
check_shared_paths() {
  local bad=0 file line match target
  while IFS=: read -r file line match; do
    target="$(realpath -m "$(dirname "$file")/$match")"
    if [[ "$target" != "$PWD/shared" ]]; then
      echo "$file:$line: '$match' resolves to $target, outside the project's shared/" >&2
      bad=1
    fi
  done < <(grep -rnoE '(\.\./)+shared\b' api worker shared scripts bench test || true)
  if grep -rnF --exclude=fresh-clone.sh '/work/shared' api worker shared scripts bench test .ci; then bad=1; fi
  return "$bad"
}

step "cloning $(git -C "$repo" rev-parse --short HEAD) into an empty folder"
git clone --quiet --no-hardlinks "$repo" "$work/rerank-queue"
cd "$work/rerank-queue"

step "checking that nothing reads a shared folder outside the project"
check_shared_paths || fail "a file reaches outside the project (see above)"

step "npm ci"
# What a user runs: no ONNXRUNTIME_NODE_INSTALL from CI, only what the repository carries (.npmrc, package.json).
env -u ONNXRUNTIME_NODE_INSTALL npm ci --no-audit --no-fund 2>&1 | tee "$logs/npm-ci.log"
if grep -E 'EBADENGINE|not yet covered by allowScripts' "$logs/npm-ci.log"; then fail "npm ci printed the warnings above"; fi

step "generating the demo model (real architecture and vocabulary, random weights)"
npm run -s model:synthetic -- --arch tinybert --out models/demo-tinybert-random --vocab data/bert-base-uncased-vocab.txt

step "unit suite"
node --import tsx --test --test-concurrency=1 test/unit/*.test.ts > "$logs/unit.tap" 2>&1 || {
  grep -E '^not ok|# (tests|pass|fail|skipped)' "$logs/unit.tap" >&2 || true
  fail "unit tests failed in the fresh clone"
}
grep -E '^# (tests|pass|fail|skipped)' "$logs/unit.tap"
if grep -qE '^# skipped [1-9]' "$logs/unit.tap"; then fail "unit tests were skipped in the fresh clone"; fi

step "passed"
