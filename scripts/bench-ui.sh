#!/usr/bin/env bash
# The real window under Xvfb (Mesa's software GL): time from start to the
# first frame, and CPU use while the window is open and nothing happens
# (goal: no repaint loop, under 1 % of one core), for the wizard and for an
# unlocked profile with its agent running (the demo's alice).
#
# Usage: scripts/bench-ui.sh   (env IDLE_SECS, default 20; RUNS, default 5)
# Needs: Xvfb, xdotool; `cargo build --release --workspace`.
set -euo pipefail
BIN=${SIXCHAT_BIN:-target/release/sixchat}
IDLE_SECS=${IDLE_SECS:-20}
RUNS=${RUNS:-5}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for n in $(seq 130 160); do [ -e "/tmp/.X11-unix/X$n" ] || { D=$n; break; }; done
Xvfb ":$D" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
PIDS+=($!)
export DISPLAY=":$D"
sleep 1
TICKS=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

first_frames() {
    local label=$1; shift
    local times=()
    for run in $(seq 1 "$RUNS"); do
        RUST_LOG=sixchat=info "$@" 2>"$WORK/log" &
        local pid=$!
        for _ in $(seq 1 300); do grep -q "first frame" "$WORK/log" && break; sleep 0.05; done
        times+=("$(grep -o 'first frame [0-9.]*' "$WORK/log" | awk '{print $3}')")
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
    printf '%-34s first frame (ms): %s\n' "$label" "${times[*]}"
}

idle() {
    local label=$1; shift
    "$@" 2>/dev/null &
    local pid=$!
    PIDS+=("$pid")
    sleep 8   # start, unlock, register with the DIR, settle
    local before; before=$(cpu_ticks "$pid")
    sleep "$IDLE_SECS"
    local after; after=$(cpu_ticks "$pid")
    local rss; rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    awk -v t=$((after - before)) -v hz="$TICKS" -v s="$IDLE_SECS" -v l="$label" -v rss="$rss" \
        'BEGIN { printf "%-34s idle CPU: %.2f %% of one core over %d s; resident %.0f MiB\n", l, 100 * t / hz / s, s, rss / 1024 }'
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

first_frames "wizard (new profile)" "$BIN" --data-dir "$WORK/fresh" --profile new
idle "wizard (new profile)" "$BIN" --data-dir "$WORK/fresh" --profile new

"$BIN" demo --data-dir "$WORK/demo" --no-windows 2>"$WORK/demo.log" &
PIDS+=($!)
for _ in $(seq 1 300); do grep -q "^Ready" "$WORK/demo.log" && break; sleep 0.1; done
export SIXCHAT_PASSWORD=sixchat-demo
first_frames "alice, unlocked, with a DIR" "$BIN" --data-dir "$WORK/demo/profiles" --profile alice
idle "alice, unlocked, with a DIR" "$BIN" --data-dir "$WORK/demo/profiles" --profile alice
