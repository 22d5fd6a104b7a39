#!/bin/bash
# Red team (test/security/warm-worktree.test.ts): what the next session finds in its
# worktree: every entry but .git and loot/ with its type, mode and content hash.
out="$PWD/loot"
mkdir -p "$out"
find . -path ./.git -prune -o -path ./loot -prune -o -path ./attack.sh -prune -o -path . -o -printf '%y %m %p\n' | LC_ALL=C sort > "$out/manifest.txt"
find . -path ./.git -prune -o -path ./loot -prune -o -path ./attack.sh -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum > "$out/hashes.txt"
git status --porcelain --ignored > "$out/status.txt" 2>&1
echo done > "$out/ran"
