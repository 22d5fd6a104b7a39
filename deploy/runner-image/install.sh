#!/usr/bin/env bash
# Installs what a claude-harness runner needs, on Debian or Ubuntu: git,
# bubblewrap (the agent sandbox), Node >= 22, the harness package and with it the
# Claude Code CLI version it depends on. The runner image's Dockerfile runs this
# script; CI runs the same script on its own machine and then --smoke, so the
# steps are tested even where no image is built.
#
#   deploy/runner-image/install.sh [--prefix DIR] [--package SPEC] [--no-apt] [--smoke]
#
#   --prefix DIR    where npm installs (bin/harness, bin/node when Node is installed); default /usr/local
#   --package SPEC  what to install: a tarball of `npm pack`, a version (claude-harness@0.2.0), or a
#                   directory; default claude-harness (the registry's latest)
#   --no-apt        do not install Debian packages (they are there already, or this is not root)
#   --smoke         afterwards: harness --version, claude --version, bwrap, and `harness demo`
#                   (the whole flow offline: fake GitHub, scripted model, the real CLI in bubblewrap)
set -euo pipefail

prefix=/usr/local
package=claude-harness
apt=1
smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --package) package="${2:?--package needs a tarball, version or directory}"; shift 2 ;;
    --package=*) package="${1#*=}"; shift ;;
    --no-apt) apt=0; shift ;;
    --smoke) smoke=1; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "EHARNESS_USAGE: install.sh does not take \"$1\". Fix: install.sh --help" >&2; exit 2 ;;
  esac
done

step() { echo "== $*"; }

if [ "$apt" = 1 ]; then
  step "Debian packages: git, bubblewrap, iproute2 (the uid sandbox), ca-certificates"
  if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  export DEBIAN_FRONTEND=noninteractive
  "${apt_get[@]}" install -y --no-install-recommends git bubblewrap iproute2 ca-certificates >/dev/null 2>&1 ||
    { "${apt_get[@]}" update >/dev/null && "${apt_get[@]}" install -y --no-install-recommends git bubblewrap iproute2 ca-certificates >/dev/null; }
fi

mkdir -p "$prefix/bin"
export PATH="$prefix/bin:$PATH"
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null || [ "$(node_major node)" -lt 22 ]; then
  # Node 24 LTS from the npm registry (the package `node` ships the official binary):
  # one registry for everything this script fetches.
  step "Node 24 into $prefix (found: $(node --version 2>/dev/null || echo none))"
  command -v npm >/dev/null || { echo "EHARNESS_PREFLIGHT: npm is needed to fetch Node 24. Fix: install Node 22 or 24 (with npm) first." >&2; exit 1; }
  npm install -g --prefix "$prefix" --no-audit --no-fund node@24 >/dev/null
  hash -r
fi
step "node $(node --version) at $(command -v node)"

step "the harness: $package"
npm install -g --prefix "$prefix" --omit=dev --no-audit --no-fund "$package" >/dev/null
hash -r
harness="$prefix/bin/harness"
[ -x "$harness" ] || { echo "EHARNESS_PREFLIGHT: $harness was not installed. Fix: check the package spec ($package)." >&2; exit 1; }
# The CLI the harness depends on, also on PATH (the Action looks for `claude` there).
cli="$prefix/lib/node_modules/claude-harness/node_modules/.bin/claude"
[ -x "$cli" ] || { echo "EHARNESS_CLI_MISSING: the Claude Code CLI did not come with the harness ($cli). Fix: check that npm ran its install step (npm config get ignore-scripts)." >&2; exit 1; }
ln -sf "$(readlink -f "$cli")" "$prefix/bin/claude"
step "installed: harness $("$harness" --version), Claude Code $("$prefix/bin/claude" --version)"

if [ "$smoke" = 1 ]; then
  step "smoke: bubblewrap runs a sandbox"
  bwrap --ro-bind / / --dev /dev --proc /proc --unshare-all true
  step "smoke: harness demo (the whole flow offline)"
  out="$(mktemp -d)"
  (cd "$out" && "$harness" demo >"$out/demo.log" 2>&1) || { tail -40 "$out/demo.log" >&2; echo "smoke: harness demo failed" >&2; exit 1; }
  grep -q "pull request" "$out/demo.log" || { tail -40 "$out/demo.log" >&2; echo "smoke: the demo printed no pull request" >&2; exit 1; }
  rm -rf "$out"
  step "smoke passed"
fi
