#!/usr/bin/env bash
# Messages/s through the embedded queue and Kafka, side by side in one run: starts a fresh
# tansu broker (scripts/tansu.sh) on a free loopback port, runs
# `clipguard bench queue --brokers … --json`, stops the broker. Usage:
#   bench/queue.sh [--messages N] [--batch B]     (builds nothing: uses $CLIPGUARD_BIN or the
#                                                  dev build in ~/.cache/clipguard/target)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CLIPGUARD_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/clipguard/target}/debug/clipguard}"
tansu="$("$root/scripts/tansu.sh")"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
  --storage-engine memory://tansu/ >/dev/null 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
"$bin" --data "$(mktemp -d)" bench queue --brokers "127.0.0.1:$port" --json "$@"
