#!/usr/bin/env bash
# Where one call's CPU goes, by server thread, and how busy the machine was:
#   scripts/cpu-per-call.sh [keyward serve options...]
# e.g. scripts/cpu-per-call.sh                                  (trail on)
#      scripts/cpu-per-call.sh --benchmark-only-disable-trail   (trail off)
# Starts target/release/keyward on a fresh data directory, loads it with
# target/release/keyward-bench (GenerateDataKey, CONCURRENCY clients, default
# 64) for 10 s, and over 5 s in the middle reads /proc: each server thread's
# user and system CPU per call and context switches per call (threads of the
# same name summed), the client's CPU per call, and the machine's split of
# time (idle, iowait, ...). Tick-based (10 ms), so run it on an otherwise idle
# machine and compare runs made minutes apart, alternating (BENCHMARKS.md,
# "The audit trail (issue 4)").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
KEYWARD=${KEYWARD:-target/release/keyward}
BENCH=${BENCH:-target/release/keyward-bench}
CONCURRENCY=${CONCURRENCY:-64}

work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))
"$KEYWARD" serve --listen "127.0.0.1:$port" --data-dir "$work/data" "$@" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
    [ -s "$work/data/admin-credentials" ] && break
    sleep 0.1
done
sleep 0.5

"$BENCH" --endpoint "http://127.0.0.1:$port" --credentials "$work/data/admin-credentials" \
    --concurrency "$CONCURRENCY" --operations generate-data-key --duration 10 --warmup 1 \
    >"$work/bench.txt" 2>&1 &
client=$!
sleep 4

# name user-ticks system-ticks voluntary-switches involuntary-switches
threads() {
    for task in /proc/"$server"/task/*; do
        printf '%s %s %s %s\n' "$(tr ' ' _ <"$task/comm")" \
            "$(awk '{print $14, $15}' "$task/stat")" \
            "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$task/status")" \
            "$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$task/status")"
    done | awk '{u[$1]+=$2; s[$1]+=$3; v[$1]+=$4; n[$1]+=$5}
                END {for (k in u) print k, u[k], s[k], v[k], n[k]}' | sort
}
client_ticks() { awk '{print $14 + $15}' "/proc/$client/stat"; }

threads >"$work/threads.1"; head -1 /proc/stat >"$work/cpu.1"; client_ticks >"$work/client.1"
sleep 5
threads >"$work/threads.2"; head -1 /proc/stat >"$work/cpu.2"; client_ticks >"$work/client.2"
wait "$client"

ops=$(awk '/ops\/s/ {for (i = 1; i <= NF; i++) if ($i == "ops/s") {gsub(",", "", $(i-1)); print $(i-1); exit}}' "$work/bench.txt")
hz=$(getconf CLK_TCK)
calls=$((ops * 5))
echo "GenerateDataKey, $CONCURRENCY clients: $ops ops/s"
join "$work/threads.1" "$work/threads.2" | awk -v calls="$calls" -v hz="$hz" '
    ($6 - $2) + ($7 - $3) > 0 {
        printf "  %-18s user %5.1f  sys %5.1f  µs/call   switches/call: voluntary %.2f  involuntary %.2f\n",
            $1, ($6 - $2) * 1e6 / hz / calls, ($7 - $3) * 1e6 / hz / calls,
            ($8 - $4) / calls, ($9 - $5) / calls
    }'
echo "  client             $(awk -v a="$(cat "$work/client.1")" -v b="$(cat "$work/client.2")" \
    -v calls="$calls" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) * 1e6 / hz / calls}') µs/call"
paste "$work/cpu.1" "$work/cpu.2" | awk '{
    t = 0; for (i = 2; i <= 9; i++) { d[i] = $(i + 11) - $i; t += d[i] }
    printf "  machine: user %.1f%%  system %.1f%%  idle %.1f%%  iowait %.1f%%  softirq %.1f%%  steal %.1f%%\n",
        100*d[2]/t, 100*d[4]/t, 100*d[5]/t, 100*d[6]/t, 100*d[8]/t, 100*d[9]/t }'
