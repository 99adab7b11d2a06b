#!/usr/bin/env bash
# Installs everything the project needs from the npm registry: pnpm itself (pinned), the workspace's
# dependencies (frozen lockfile), then builds every package. Idempotent.
#
# pnpm goes where `npm install --global` puts it when that prefix is writable (root, CI, nvm, Homebrew);
# otherwise (a Debian/Ubuntu Node in /usr as a normal user: EACCES) under ~/.local, without sudo and
# without changing npm's configuration. Sourcing this file defines the functions and runs nothing (tests).
set -euo pipefail

# Where pnpm goes when the global prefix is not writable; its bin/ is what to add to PATH.
USER_PREFIX="$HOME/.local"

# Whether pnpm on PATH is version $1.
pnpm_is() {
  command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$1" ]
}

# Whether `npm install --global` can write under prefix $1: into lib/node_modules and bin, or, where those do
# not exist yet, into the nearest directory that does.
prefix_writable() {
  local dir
  for dir in "$1/lib/node_modules" "$1/bin"; do
    while [ ! -e "$dir" ]; do dir=$(dirname "$dir"); done
    [ -w "$dir" ] || return 1
  done
}

# Installs pnpm $1 unless the pnpm on PATH (or the one an earlier run put under USER_PREFIX) is that version.
# Leaves PATH such that `pnpm` is it.
install_pnpm() {
  local version=$1 prefix
  pnpm_is "$version" && return 0
  # Put first on PATH only when it is the version wanted: an older one there would shadow a global install.
  if [ "$("$USER_PREFIX/bin/pnpm" --version 2>/dev/null)" = "$version" ]; then
    export PATH="$USER_PREFIX/bin:$PATH"
    return 0
  fi
  prefix=$(npm prefix --global)
  if prefix_writable "$prefix"; then
    echo "setup: installing pnpm@$version with npm"
    npm install --global "pnpm@$version" >/dev/null || return
  else
    echo "setup: $prefix is not writable; installing pnpm@$version under $USER_PREFIX"
    npm install --global --prefix "$USER_PREFIX" "pnpm@$version" >/dev/null || return
    export PATH="$USER_PREFIX/bin:$PATH"
  fi
  hash -r
  if ! pnpm_is "$version"; then
    echo "setup: pnpm@$version was installed but \`pnpm --version\` says '$(pnpm --version 2>&1 || true)'" \
      "(PATH=$PATH)" >&2
    return 1
  fi
}

# Node >= the root package.json's engines.node (the launcher and the services use APIs of Node 20.18).
check_node() {
  local wanted
  wanted=$(node -p "require('./package.json').engines.node.replace(/^>=\\s*/, '')")
  if ! node -e "
    const [have, want] = [process.versions.node, process.argv[1]].map((v) => v.split('.').map(Number));
    const order = have.map((part, i) => part - (want[i] ?? 0)).find((difference) => difference !== 0) ?? 0;
    process.exit(order >= 0 ? 0 : 1);
  " "$wanted"; then
    echo "setup: Node.js $wanted or newer is needed; this is $(node --version) ($(command -v node))" >&2
    return 1
  fi
}

main() {
  cd "$(dirname "$0")/.."
  # The user's PATH, before make added ~/.local/bin to it (Makefile), for print_path_hint.
  local original_path=${SETUP_CALLER_PATH:-$PATH} pnpm_version
  check_node
  pnpm_version=$(node -p "require('./package.json').packageManager.split('@')[1]")
  install_pnpm "$pnpm_version"
  pnpm install --frozen-lockfile
  pnpm build
  print_path_hint "$original_path"
}

# When the pnpm this script uses is not on PATH $1 (the caller's): how to put it there. Only this script's
# PATH has it; other shells, and `make lint` or `make test` after this, need it too.
print_path_hint() {
  local dir
  dir=$(dirname "$(command -v pnpm)")
  case ":$1:" in
    *":$dir:"*) ;;
    *)
      echo "setup: pnpm is in $dir, which is not on your PATH; add it (e.g. in ~/.profile), then use pnpm:"
      echo "  export PATH=\"$dir:\$PATH\""
      ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
