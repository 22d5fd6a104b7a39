#!/bin/bash
# Red team (test/security/warm-worktree.test.ts): leaves in the worktree everything a
# session can that the next issue's session on this host must not see: untracked and
# ignored files, a nested repository, a .git inside a tracked directory, a modified
# tracked file, changed modes, a chmod 000 directory, a fifo, filters and hooks the
# harness's git would run, and a cache the repository opts into keeping.
#   bash dirty-worktree.sh MARKERS
markers=$1
out="$PWD/loot"
mkdir -p "$out"
echo "left by session 1" > untracked.txt
mkdir -p src/deep && echo "untracked, deep" > src/deep/new.js
mkdir -p cache && printf '*\n' > cache/.gitignore && echo "ignored by the session's own rule" > cache/blob.bin
echo "ignored by the repository's rule" > debug.log
echo "export const app = 'tampered';" > src/app.js
chmod 4777 README.md
# A nested repository with a commit, and a .git inside a tracked directory whose config runs a command.
git init -q vendor/nested && echo nested > vendor/nested/x.txt
git -C vendor/nested -c user.name=x -c user.email=x@x add -A && git -C vendor/nested -c user.name=x -c user.email=x@x commit -qm nested
mkdir -p src/.git && printf '[core]\n\tfsmonitor = touch %s/fsmonitor\n' "$markers" > src/.git/config
# Filters and hooks for whoever runs git here next.
echo '* filter=pwn' > .gitattributes
echo '* filter=pwn eol=crlf' > src/.gitattributes
git config filter.pwn.smudge "touch $markers/smudge; cat"
git config filter.pwn.clean "touch $markers/clean; cat"
common=$(git rev-parse --git-common-dir)
mkdir -p "$common/hooks"
for hook in post-checkout pre-commit reference-transaction; do
  printf '#!/bin/sh\ntouch %s/hook-%s\n' "$markers" "$hook" > "$common/hooks/$hook" && chmod +x "$common/hooks/$hook"
done
# Special files and closed doors.
mkfifo pipe
mkdir -p locked/inner && echo "behind a closed door" > locked/inner/secret.txt && chmod 000 locked/inner locked
# The cache the repository keeps (workspace.keepPaths).
mkdir -p node_modules/dep && echo "module.exports = 1;" > node_modules/dep/index.js
echo done > "$out/ran"
