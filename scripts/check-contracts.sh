#!/usr/bin/env bash
# Contract checks: buf lint; regenerating the TypeScript must not change anything committed; and no
# breaking change against the previous commit of the contracts (BUF_BREAKING_AGAINST overrides the input,
# e.g. ".git#branch=main" when checking a feature branch).
set -euo pipefail
cd "$(dirname "$0")/.."

pnpm exec buf lint

pnpm exec buf generate
if ! git diff --quiet -- packages/contracts/src/gen || [ -n "$(git ls-files --others --exclude-standard packages/contracts/src/gen)" ]; then
  echo "contracts: generated code is out of date with proto/ — run 'pnpm generate' and commit the result:" >&2
  git status --short -- packages/contracts/src/gen >&2
  git diff --stat -- packages/contracts/src/gen >&2
  exit 1
fi
echo "contracts: generated code matches proto/"

against=${BUF_BREAKING_AGAINST:-}
if [ -z "$against" ]; then
  if git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then
    against=".git#ref=HEAD~1"
  else
    echo "contracts: buf breaking has no earlier commit with contracts to compare against (first commit)"
    exit 0
  fi
fi
pnpm exec buf breaking --against "$against"
echo "contracts: no breaking change against $against"
