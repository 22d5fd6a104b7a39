#!/bin/bash
# Red team (test/security): tries the network from inside the sandbox; records curl's answer for each URL.
# "proxy": through the egress proxy of HTTP_PROXY, loopback included; "direct": no proxy.
#   bash egress.sh URL…
out="$PWD/loot"
mkdir -p "$out"
for url in "$@"; do
  code=$(curl -s -o /dev/null -m 10 --noproxy '' -w '%{http_code}' "$url" 2>/dev/null); echo "proxy $url $code" >> "$out/egress.txt"
  code=$(curl -s -o /dev/null -m 10 --noproxy '*' -w '%{http_code}' "$url" 2>/dev/null); echo "direct $url $code" >> "$out/egress.txt"
done
echo done > "$out/ran"
