#!/usr/bin/env bash
# The DIR load benchmark (issue 3): lookups/s and p99 with 100 TLS clients,
# registrations/s, memory at 10 000 open connections, lookups at 1 000 000 users.
# Usage: scripts/bench-dir.sh   (BENCH_SECS, CLIENTS, CONNS, USERS override the sizes)
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
cargo build --release -p sixchat-dir --bin sixchat-dir
cargo bench -p sixchat-agent --bench dir_load
