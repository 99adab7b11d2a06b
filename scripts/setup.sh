#!/usr/bin/env bash
# Installs everything the project needs from the npm registry: pnpm itself (pinned), the workspace's
# dependencies (frozen lockfile), then builds every package. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION with npm"
  npm install --global "pnpm@$PNPM_VERSION" >/dev/null
fi
pnpm install --frozen-lockfile
pnpm build
