#!/bin/bash
# Red team (test/security): starts processes meant to outlive the session, each with TAG in
# its command line, each trying to write into every worktree of the host for as long as it lives.
#   bash survivors.sh TAG STATE_DIR
tag=$1 state_dir=$2
out="$PWD/loot"
mkdir -p "$out"
loop='while :; do for d in '"$state_dir"'/worktrees/*; do echo "written by a survivor" > "$d/survivor.txt"; done 2>/dev/null; sleep 0.2; done'
setsid bash -c "$loop" "survivor-$tag-setsid" > /dev/null 2>&1 < /dev/null &
nohup bash -c "$loop" "survivor-$tag-nohup" > /dev/null 2>&1 < /dev/null &
( ( bash -c "$loop" "survivor-$tag-double-fork" > /dev/null 2>&1 < /dev/null & ) & )
env -i /usr/bin/bash -c "$loop" "survivor-$tag-env-i" > /dev/null 2>&1 < /dev/null &
cp /usr/bin/sleep "/tmp/kworker-$tag" 2>/dev/null && { setsid "/tmp/kworker-$tag" 600 > /dev/null 2>&1 < /dev/null & }
sleep 0.5
ps -eo pid,args > "$out/ps.txt" 2>&1 || ls /proc > "$out/ps.txt"
echo done > "$out/ran"
