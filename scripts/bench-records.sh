#!/usr/bin/env bash
# Record throughput per suite at 16 KiB next to `openssl speed` on the same
# machine, measured back to back, printed as ratios.
#   goal: AES-256-GCM seal >= 0.7x `openssl speed -evp aes-256-gcm`;
#         AES-256-CBC + HMAC seal >= 0.7x what -evp aes-256-cbc and -hmac sha256 allow together.
set -euo pipefail
cd "$(dirname "$0")/.."

mbps_openssl() { # prints MB/s (10^6) at 16384-byte blocks
    openssl speed "$@" -bytes 16384 -seconds 3 2>/dev/null | tail -1 | awk '{ v=$NF; sub(/k$/, "", v); printf "%.1f\n", v / 1000 }'
}

ours=$(cargo bench -p sixchat-agent --bench protocol -- 'record_16k/seal' --warm-up-time 1 --measurement-time 4 2>/dev/null |
    awk '/^record_16k\/seal\// { name=$1 } /thrpt:/ && name { v=$4; u=$5; sub(/\]/, "", u);
        m = (u ~ /GiB/) ? v * 1073.741824 : (u ~ /MiB/ ? v * 1.048576 : v / 1000);
        split(name, p, "/"); printf "%s %.1f\n", p[3], m; name="" }')
gcm=$(mbps_openssl -evp aes-256-gcm)
cbc=$(mbps_openssl -evp aes-256-cbc)
hmac=$(mbps_openssl -hmac sha256)
both=$(awk -v a="$cbc" -v b="$hmac" 'BEGIN { printf "%.1f", 1 / (1 / a + 1 / b) }')

echo "openssl speed at 16 KiB: aes-256-gcm $gcm MB/s, aes-256-cbc $cbc MB/s, hmac-sha256 $hmac MB/s, cbc+hmac together $both MB/s"
echo "$ours" | while read -r suite mb; do
    case "$suite" in
        AES256GCM) ref=$gcm; what="openssl aes-256-gcm" ;;
        AES256CBC) ref=$both; what="openssl aes-256-cbc + hmac-sha256" ;;
        *) ref=""; what="" ;;
    esac
    if [ -n "$ref" ]; then
        awk -v s="$suite" -v m="$mb" -v r="$ref" -v w="$what" 'BEGIN { printf "%-10s seal %8.1f MB/s  = %.2fx %s\n", s, m, m / r, w }'
    else
        printf "%-10s seal %8.1f MB/s\n" "$suite" "$mb"
    fi
done
