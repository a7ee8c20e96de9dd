#!/usr/bin/env bash
# File transfer against the usual ways to copy a file, tmpfs to tmpfs, in one
# run on this machine (sender and receiver share its cores):
#   1. one 1 GiB file: `sixchat-cli get` (the sender hashing the file, then
#      again with the outboard it kept) and `send` vs a plain TCP copy
#      (socat), a TLS 1.3 pipe (socat + OpenSSL, mutual certificates; OpenSSL
#      picks TLS_AES_256_GCM_SHA384, its first TLS 1.3 suite) and
#      `scp -c aes256-gcm@openssh.com` (a sshd on loopback);
#   2. 10 000 files of 1-8 KiB: `sixchat-cli send` of the folder, files/s;
#   3. the 1 GiB file over a veth pair between two network namespaces this
#      script makes, shaped to 1 Gbit/s with tc, vs plain TCP on that link
#      (needs root; skipped otherwise).
# CPU seconds per GiB for each side. Goals (issue 12): >= 1.2x the TLS pipe,
# >= 2.5x scp, >= 95 % of TCP on the shaped link, >= 2000 small files/s.
#
#   scripts/bench-files.sh            # builds the release sixchat-cli first
#   SIZE_MIB=256 SMALL=2000 scripts/bench-files.sh   # a quicker run
# Needs socat, openssl, openssh-server/-client (apt-get install socat openssh-server).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-1024}
SMALL=${SMALL:-10000}
cargo build --release --locked -q -p sixchat-agent --bin sixchat-cli
CLI=$PWD/target/release/sixchat-cli
for tool in socat openssl scp /usr/sbin/sshd; do
    command -v "$tool" >/dev/null || { echo "bench-files: $tool is missing (apt-get install socat openssh-server)" >&2; exit 2; }
done

W=$(mktemp -d /dev/shm/sixchat-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${NETNS:-}" ]; then ip netns del sxb-a 2>/dev/null || true; ip netns del sxb-b 2>/dev/null || true; fi
    rm -rf "$W"
}
trap cleanup EXIT

export SIXCHAT_PASSWORD="bench passphrase"
cli() { "$CLI" --data-dir "$W/profiles" --profile "$@"; }
ALICE=("$CLI" --data-dir "$W/profiles" --profile alice)
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
now() { date +%s.%N; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # user+system, in clock ticks
HZ=$(getconf CLK_TCK)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# Runs a command under /usr/bin/time; prints "seconds user+sys".
timed() {
    local out=$W/time.$$
    if ! /usr/bin/time -f "%U %S" -o "$out" "$@" >"$W/timed.log" 2>&1; then
        echo "bench-files: failed: $*" >&2
        cat "$W/timed.log" >&2
        return 1
    fi
    tail -1 "$out" | awk '{ print $1 + $2 }'
}

echo "bench-files: $SIZE_MIB MiB file and $SMALL small files in $W (tmpfs), $(nproc) cores"
mkdir -p "$W/src" "$W/share" "$W/in"
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$W/share/big.bin"
GIB=$(awk -v m="$SIZE_MIB" 'BEGIN { print m / 1024 }')

# Two profiles that pinned each other; bob shares, takes alice's offers, runs.
cli alice id new --user alice@a.example --name Alice >/dev/null
cli bob id new --user bob@b.example --name Bob >/dev/null
fp() { cli "$1" --json id show | python3 -c 'import json, sys; print(json.load(sys.stdin)["fingerprint"])'; }
cli alice trust pin bob@b.example "$(fp bob)" >/dev/null
cli bob trust pin alice@a.example "$(fp alice)" >/dev/null
cli bob share set "$W/share" >/dev/null
cli bob incoming set "$W/in" >/dev/null
cli bob trust auto-accept alice@a.example on >/dev/null
BOB_PORT=$(port)
"$CLI" --data-dir "$W/profiles" --profile bob run --listen "127.0.0.1:$BOB_PORT" >"$W/bob.log" 2>&1 &
BOB=$!
PIDS+=("$BOB")
wait_port 127.0.0.1 "$BOB_PORT"

declare -A SECS CPU_TX CPU_RX
row() { # name seconds cpu-sender cpu-receiver
    SECS[$1]=$2
    CPU_TX[$1]=$3
    CPU_RX[$1]=$4
}
# A sixchat transfer: the command line side measured by time, bob's by /proc.
sixchat() { # name direction(get|send) args...
    local name=$1 dir=$2
    shift 2
    local before t0 t1 cpu bob_cpu
    before=$(ticks "$BOB")
    t0=$(now)
    cpu=$(timed "$@")
    t1=$(now)
    bob_cpu=$(awk -v a="$before" -v b="$(ticks "$BOB")" -v hz="$HZ" 'BEGIN { print (b - a) / hz }')
    if [ "$dir" = get ]; then row "$name" "$(elapsed "$t0" "$t1")" "$bob_cpu" "$cpu"
    else row "$name" "$(elapsed "$t0" "$t1")" "$cpu" "$bob_cpu"; fi
}

rm -rf "$W/got" && mkdir -p "$W/got"
sixchat "sixchat get" get "${ALICE[@]}" get bob@b.example big.bin --to "$W/got" --addr "127.0.0.1:$BOB_PORT"
cmp "$W/got/big.bin" "$W/share/big.bin"
rm -rf "$W/got" && mkdir -p "$W/got"
# Again: bob kept the file's outboard (a shared file is hashed once).
sixchat "get, hashed" get "${ALICE[@]}" get bob@b.example big.bin --to "$W/got" --addr "127.0.0.1:$BOB_PORT"
cmp "$W/got/big.bin" "$W/share/big.bin"
rm -rf "$W/got"
sixchat "sixchat send" send "${ALICE[@]}" send bob@b.example "$W/share/big.bin" --addr "127.0.0.1:$BOB_PORT"
cmp "$W/in/big.bin" "$W/share/big.bin"
rm -f "$W/in/big.bin"

# A copy through a pipe: receiver in the background, both timed.
piped() { # name "receiver command" "sender command"
    local t0 t1
    /usr/bin/time -f "%U %S" -o "$W/rx.time" bash -c "$2" &
    local rx=$!
    sleep 0.3
    t0=$(now)
    /usr/bin/time -f "%U %S" -o "$W/tx.time" bash -c "$3"
    wait "$rx"
    t1=$(now)
    row "$1" "$(elapsed "$t0" "$t1")" "$(awk '{ print $1 + $2 }' "$W/tx.time")" "$(awk '{ print $1 + $2 }' "$W/rx.time")"
    cmp "$W/out.bin" "$W/share/big.bin"
    rm -f "$W/out.bin"
}
P=$(port)
piped "socat TCP" "socat -u TCP-LISTEN:$P,bind=127.0.0.1,reuseaddr OPEN:$W/out.bin,creat,trunc" \
    "socat -u OPEN:$W/share/big.bin,rdonly TCP:127.0.0.1:$P"

# Mutual certificates for the TLS pipe.
(
    cd "$W"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca 2>/dev/null
    for side in server client; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$side.key" -out "$side.csr" -subj "/CN=$side" 2>/dev/null
        openssl x509 -req -in "$side.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$side.crt" -days 2 2>/dev/null
    done
)
P=$(port)
TLS="openssl-min-proto-version=TLS1.3,cafile=$W/ca.crt,verify=1"
piped "socat TLS 1.3" "socat -u OPENSSL-LISTEN:$P,bind=127.0.0.1,reuseaddr,cert=$W/server.crt,key=$W/server.key,$TLS OPEN:$W/out.bin,creat,trunc" \
    "socat -u OPEN:$W/share/big.bin,rdonly OPENSSL:127.0.0.1:$P,cert=$W/client.crt,key=$W/client.key,commonname=server,$TLS"

# scp to a sshd of this script's own on loopback.
mkdir -p "$W/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$W/ssh/host" && ssh-keygen -q -t ed25519 -N '' -f "$W/ssh/user"
cp "$W/ssh/user.pub" "$W/ssh/authorized_keys"
chmod 600 "$W/ssh/authorized_keys"
SSH_PORT=$(port)
cat >"$W/ssh/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $W/ssh/host
AuthorizedKeysFile $W/ssh/authorized_keys
PermitRootLogin yes
StrictModes no
UsePAM no
PidFile $W/ssh/sshd.pid
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -f "$W/ssh/sshd_config" -D -e 2>"$W/ssh/log" &
PIDS+=("$!")
wait_port 127.0.0.1 "$SSH_PORT"
SSHD_BEFORE=$(awk '{ print ($16 + $17) }' "/proc/${PIDS[-1]}/stat")
t0=$(now)
cpu=$(timed scp -q -c aes256-gcm@openssh.com -P "$SSH_PORT" -i "$W/ssh/user" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    "$W/share/big.bin" "$(id -un)@127.0.0.1:$W/out.bin")
t1=$(now)
# The receiving sshd session ends with the copy: its CPU is the difference
# of the children's time of the listening sshd (read from /proc after).
sleep 0.5
SSHD_RX=$(awk -v b="$SSHD_BEFORE" '{ print ($16 + $17) - b }' "/proc/${PIDS[-1]}/stat")
row "scp aes256-gcm" "$(elapsed "$t0" "$t1")" "$cpu" "$(awk -v t="$SSHD_RX" -v hz="$HZ" 'BEGIN { print t / hz }')"
cmp "$W/out.bin" "$W/share/big.bin"
rm -f "$W/out.bin"

printf '\n%-16s %9s %9s %14s %14s\n' "$SIZE_MIB MiB file" "seconds" "MiB/s" "sender s/GiB" "receiver s/GiB"
for name in "sixchat get" "get, hashed" "sixchat send" "socat TCP" "socat TLS 1.3" "scp aes256-gcm"; do
    awk -v n="$name" -v s="${SECS[$name]}" -v tx="${CPU_TX[$name]}" -v rx="${CPU_RX[$name]}" -v m="$SIZE_MIB" -v g="$GIB" \
        'BEGIN { printf "%-16s %9.2f %9.0f %14.2f %14.2f\n", n, s, m / s, tx / g, rx / g }'
done
ratio() { awk -v a="${SECS[$2]}" -v b="${SECS[$1]}" 'BEGIN { printf "%.2f", a / b }'; }
echo "sixchat get  vs TLS pipe: $(ratio "sixchat get" "socat TLS 1.3")x (goal >= 1.2), vs scp: $(ratio "sixchat get" "scp aes256-gcm")x (goal >= 2.5), vs TCP: $(ratio "sixchat get" "socat TCP")x"
echo "get, hashed  vs TLS pipe: $(ratio "get, hashed" "socat TLS 1.3")x (goal >= 1.2), vs scp: $(ratio "get, hashed" "scp aes256-gcm")x (goal >= 2.5), vs TCP: $(ratio "get, hashed" "socat TCP")x"
echo "sixchat send vs TLS pipe: $(ratio "sixchat send" "socat TLS 1.3")x (goal >= 1.2), vs scp: $(ratio "sixchat send" "scp aes256-gcm")x (goal >= 2.5), vs TCP: $(ratio "sixchat send" "socat TCP")x"

# Many small files.
mkdir -p "$W/small/many"
python3 - "$W/small/many" "$SMALL" <<'EOF'
import os, random, sys
folder, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(12)
for i in range(count):
    sub = os.path.join(folder, f"d{i // 500:03}")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"f{i:05}.dat"), "wb") as f:
        f.write(rng.randbytes(rng.randint(1024, 8192)))
EOF
t0=$(now)
cli alice send bob@b.example "$W/small/many" --addr "127.0.0.1:$BOB_PORT" >/dev/null
t1=$(now)
diff -r "$W/small/many" "$W/in/many" >/dev/null
awk -v n="$SMALL" -v s="$(elapsed "$t0" "$t1")" 'BEGIN { printf "\n%d small files (1-8 KiB) by sixchat send: %.2f s, %.0f files/s (goal >= 2000)\n", n, s, n / s }'
t0=$(now)
scp -q -r -c aes256-gcm@openssh.com -P "$SSH_PORT" -i "$W/ssh/user" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    "$W/small/many" "$(id -un)@127.0.0.1:$W/scp-many"
t1=$(now)
awk -v n="$SMALL" -v s="$(elapsed "$t0" "$t1")" 'BEGIN { printf "%d small files by scp -r:            %.2f s, %.0f files/s\n", n, s, n / s }'

# The shaped link between two namespaces (bob in it is a new process; the
# file's outboard it kept on disk from the runs above spares the hashing).
if [ "$(id -u)" != 0 ] || ! ip netns add sxb-a 2>/dev/null; then
    echo "shaped link: skipped (needs root and ip netns)"
    exit 0
fi
NETNS=1
ip netns add sxb-b
ip link add sxb-va type veth peer name sxb-vb
ip link set sxb-va netns sxb-a && ip link set sxb-vb netns sxb-b
ip -n sxb-a addr add 10.77.0.1/24 dev sxb-va && ip -n sxb-b addr add 10.77.0.2/24 dev sxb-vb
ip -n sxb-a link set sxb-va up && ip -n sxb-b link set sxb-vb up
ip -n sxb-a link set lo up && ip -n sxb-b link set lo up
for side in "sxb-a sxb-va" "sxb-b sxb-vb"; do
    set -- $side
    ip netns exec "$1" tc qdisc add dev "$2" root tbf rate 1gbit burst 256kb latency 20ms
done
ip netns exec sxb-b "$CLI" --data-dir "$W/profiles" --profile bob run --listen 10.77.0.2:4605 >"$W/bob-ns.log" 2>&1 &
PIDS+=("$!")
sleep 1
t0=$(now)
ip netns exec sxb-a "$CLI" --data-dir "$W/profiles" --profile alice get bob@b.example big.bin --to "$W/got-ns" --addr 10.77.0.2:4605 >/dev/null
t1=$(now)
cmp "$W/got-ns/big.bin" "$W/share/big.bin"
SHAPED_SIX=$(elapsed "$t0" "$t1")
ip netns exec sxb-b socat -u TCP-LISTEN:4700,bind=10.77.0.2,reuseaddr OPEN:"$W/out.bin",creat,trunc &
RX=$!
sleep 0.3
t0=$(now)
ip netns exec sxb-a socat -u OPEN:"$W/share/big.bin",rdonly TCP:10.77.0.2:4700
wait "$RX"
t1=$(now)
SHAPED_TCP=$(elapsed "$t0" "$t1")
awk -v a="$SHAPED_SIX" -v b="$SHAPED_TCP" -v m="$SIZE_MIB" 'BEGIN {
    printf "\n1 Gbit/s link (veth + tbf): sixchat get %.2f s (%.0f Mbit/s), socat TCP %.2f s (%.0f Mbit/s): %.1f %% of TCP (goal >= 95 %%)\n",
        a, m * 8.388608 / a, b, m * 8.388608 / b, b / a * 100 }'
