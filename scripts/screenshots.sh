#!/usr/bin/env bash
# Runs the real `sixchat` binary under Xvfb and saves PNG screenshots of the
# main screens (used in the README):
#   wizard.png          first start: the three ways in
#   wizard-zh.png       the same in Simplified Chinese (LANG=zh_CN.UTF-8)
#   incoming.png        Bob's "Incoming Chat" with Alice's verified badge
#   chat.png            both windows after a message each way (ticks, badge)
#   settings.png        Alice's settings (identity)
#   chat-zh.png         Alice's window in Chinese, with the conversation
#
# Usage: scripts/screenshots.sh [OUT_DIR]   (default docs/screenshots)
# Needs: xvfb (Xvfb), xdotool, imagemagick (import); a built workspace
# (`cargo build --release --workspace`; SIXCHAT_BIN overrides the binary).
set -euo pipefail

OUT=${1:-docs/screenshots}
BIN=${SIXCHAT_BIN:-target/release/sixchat}
for tool in Xvfb xdotool import; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install xvfb xdotool imagemagick" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "missing $BIN: cargo build --release --workspace" >&2; exit 2; }
mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# A display of our own.
for n in $(seq 90 120); do
    [ -e "/tmp/.X11-unix/X$n" ] || { DISPLAY_NUMBER=$n; break; }
done
Xvfb ":$DISPLAY_NUMBER" -screen 0 1600x900x24 -nolisten tcp >/dev/null 2>&1 &
PIDS+=($!)
export DISPLAY=":$DISPLAY_NUMBER"
sleep 1

# Waits for a window whose title matches $1; prints its id.
window() {
    for _ in $(seq 1 200); do
        id=$(xdotool search --name "$1" 2>/dev/null | head -1 || true)
        [ -n "$id" ] && { echo "$id"; return 0; }
        sleep 0.1
    done
    echo "no window named $1" >&2
    return 1
}

# place ID X Y W H
place() { xdotool windowsize "$1" "$4" "$5" windowmove "$1" "$2" "$3"; sleep 0.5; }

# click ID X Y (relative to the window)
click() {
    xdotool windowfocus --sync "$1" 2>/dev/null || true
    xdotool mousemove --window "$1" "$2" "$3" click 1
    sleep 0.4
}

say() { xdotool type --delay 25 "$1"; xdotool key Return; }

shot() { sleep "${2:-1}"; import -window root "$OUT/$1"; echo "saved $OUT/$1"; }

# 1. The wizard, in English and in Chinese.
LANG=en_US.UTF-8 "$BIN" --data-dir "$WORK/fresh" --profile newcomer &
PIDS+=($!); W=$(window "SixChat \(newcomer\)"); place "$W" 0 0 1000 700; shot wizard.png 2
kill "${PIDS[-1]}"; sleep 1
LANG=zh_CN.UTF-8 "$BIN" --data-dir "$WORK/fresh" --profile newcomer2 &
PIDS+=($!); W=$(window "SixChat \(newcomer2\)"); place "$W" 0 0 1000 700; shot wizard-zh.png 2
kill "${PIDS[-1]}"; sleep 1

# 2. The demo's DIR and profiles; two windows side by side.
"$BIN" demo --data-dir "$WORK/demo" --no-windows 2>"$WORK/demo.log" &
PIDS+=($!)
for _ in $(seq 1 300); do grep -q "^Ready" "$WORK/demo.log" && break; sleep 0.1; done
grep -q "^Ready" "$WORK/demo.log" || { cat "$WORK/demo.log" >&2; exit 1; }
PROFILES="$WORK/demo/profiles"
SIXCHAT_PASSWORD=sixchat-demo LANG=en_US.UTF-8 "$BIN" --data-dir "$PROFILES" --profile alice &
PIDS+=($!); ALICE_PID=$!
SIXCHAT_PASSWORD=sixchat-demo LANG=en_US.UTF-8 "$BIN" --data-dir "$PROFILES" --profile bob &
PIDS+=($!)
A=$(window "SixChat \(alice\)"); B=$(window "SixChat \(bob\)")
place "$A" 0 0 790 880; place "$B" 805 0 790 880
sleep 3

# Alice picks Bob and writes.
click "$A" 80 100
click "$A" 520 842
say "Hi Bob! The build is green, shall I send you the report?"
# Bob is asked: the Incoming Chat window, centred in his window.
shot incoming.png 3
click "$B" 209 531   # Accept
sleep 2
click "$B" 520 842
say "Yes please, thanks Alice 👍"
sleep 1
click "$A" 520 842
say "On its way."
shot chat.png 3

# Alice's settings.
click "$A" 740 12
shot settings.png 2
click "$A" 740 12

# Alice again, in Chinese.
kill "$ALICE_PID"; sleep 2
SIXCHAT_PASSWORD=sixchat-demo LANG=zh_CN.UTF-8 "$BIN" --data-dir "$PROFILES" --profile alice &
PIDS+=($!)
A=$(window "SixChat \(alice\)"); place "$A" 0 0 790 880
sleep 3
click "$A" 80 100
shot chat-zh.png 2
