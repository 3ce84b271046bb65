#!/usr/bin/env bash
# The encrypted-volume benchmark (issue 18, BENCHMARKS.md "Encrypted volumes"):
# in one run, on one disk, the same workload on
#   plain     - a directory of the disk itself,
#   gocryptfs - Debian's gocryptfs mounted with -masterkey over a directory,
#   keyward   - a keyward volume (crates/workload/examples/volume_mount.rs,
#               release build) over a directory.
# Workload, each measured RUNS times (the median is reported):
#   write  - 1 GiB streamed from /dev/zero in 128 KiB writes, fsync'd (dd conv=fsync)
#   read   - the same file read back in 128 KiB reads after echo 3 > drop_caches
#   rand-r / rand-w - 4 KiB random preads / pwrites (20,000 each) on a 256 MiB
#            file, caches dropped before the reads, one fsync after the writes
#   untar / ls -lR / rm -r - of a tar of /usr/include, page cache warm
#
# Usage: scripts/bench-volume.sh   (root, /dev/fuse, gocryptfs and fuse3 installed)
# Env: BENCH_DIR (default /var/tmp/keyward-bench-volume: must be on the disk,
# not tmpfs), SIZE_MIB (1024), RUNS (3), THREADS (keyward event loops, 4),
# NO_BUILD=1 to use the release example as it is, TARGETS ("plain gocryptfs keyward").
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH_DIR=${BENCH_DIR:-/var/tmp/keyward-bench-volume}
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
THREADS=${THREADS:-4}
TARGETS=${TARGETS:-plain gocryptfs keyward}
RAND_OPS=20000
# A benchmark-only key: the volume under test holds nothing of value.
KEY_HEX=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

if [[ -z ${NO_BUILD:-} ]]; then
    echo "== build (release)" >&2
    cargo build --release -p keyward-workload --example volume_mount >&2
fi
MOUNT_BIN=$ROOT/target/release/examples/volume_mount

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
fs_type() { stat -f -c %T "$1" 2>/dev/null || true; }
wait_for() { # wait_for DIR fuse|notfuse: poll the mount state with a deadline
    local deadline=$((SECONDS + 30))
    while :; do
        local t; t=$(fs_type "$1")
        if [[ $2 == fuse && $t == fuse* ]] || [[ $2 == notfuse && $t != fuse* ]]; then return 0; fi
        if ((SECONDS > deadline)); then echo "timeout waiting for $1 to be $2" >&2; return 1; fi
        sleep 0.05
    done
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
tar -C /usr -cf "$BENCH_DIR/include.tar" include
N_FILES=$(tar -tf "$BENCH_DIR/include.tar" | grep -vc '/$')

cat > "$BENCH_DIR/rand.py" <<'PY'
import os, random, sys, time
path, mode, ops = sys.argv[1], sys.argv[2], int(sys.argv[3])
size = os.path.getsize(path)
rng = random.Random(42)
offsets = [rng.randrange(0, size // 4096) * 4096 for _ in range(ops)]
fd = os.open(path, os.O_RDONLY if mode == "r" else os.O_RDWR)
buf = os.urandom(4096)
start = time.perf_counter()
if mode == "r":
    for off in offsets:
        os.pread(fd, 4096, off)
else:
    for off in offsets:
        os.pwrite(fd, buf, off)
    os.fsync(fd)
print(ops / (time.perf_counter() - start))
PY

mount_target() { # mount_target NAME: mounts and sets DIR (no subshell: fd 3 must stay open)
    local name=$1
    case $name in
    plain)
        mkdir -p "$BENCH_DIR/plain"
        DIR=$BENCH_DIR/plain ;;
    gocryptfs)
        mkdir -p "$BENCH_DIR/gocryptfs-backing" "$BENCH_DIR/gocryptfs"
        [[ -f $BENCH_DIR/gocryptfs-backing/gocryptfs.diriv ]] ||
            head -c 16 /dev/urandom > "$BENCH_DIR/gocryptfs-backing/gocryptfs.diriv"
        gocryptfs -q -masterkey="$KEY_HEX" "$BENCH_DIR/gocryptfs-backing" "$BENCH_DIR/gocryptfs" >&2
        wait_for "$BENCH_DIR/gocryptfs" fuse
        DIR=$BENCH_DIR/gocryptfs ;;
    keyward)
        mkdir -p "$BENCH_DIR/keyward"
        exec 3> >(VOLUME_MASTER_KEY_HEX=$KEY_HEX "$MOUNT_BIN" "$BENCH_DIR/keyward-backing" "$BENCH_DIR/keyward" "$THREADS" >&2)
        wait_for "$BENCH_DIR/keyward" fuse
        DIR=$BENCH_DIR/keyward ;;
    esac
}

unmount_target() {
    case $1 in
    plain) ;;
    gocryptfs) fusermount3 -u "$BENCH_DIR/gocryptfs"; wait_for "$BENCH_DIR/gocryptfs" notfuse ;;
    keyward) exec 3>&-; wait_for "$BENCH_DIR/keyward" notfuse ;;
    esac
}

declare -A RESULT
for name in $TARGETS; do
    for run in $(seq 1 "$RUNS"); do
        echo "== $name, run $run" >&2
        mount_target "$name"
        dir=$DIR
        # Streaming write and cold read.
        drop_caches
        t0=$(now)
        dd if=/dev/zero of="$dir/stream" bs=128k count=$((SIZE_MIB * 8)) conv=fsync status=none
        t1=$(now)
        echo "$(echo "$SIZE_MIB * 1.048576 / $(elapsed "$t0" "$t1")" | bc -l)" >> "$BENCH_DIR/$name.write"
        drop_caches
        t0=$(now)
        dd if="$dir/stream" of=/dev/null bs=128k status=none
        t1=$(now)
        echo "$(echo "$SIZE_MIB * 1.048576 / $(elapsed "$t0" "$t1")" | bc -l)" >> "$BENCH_DIR/$name.read"
        rm -f "$dir/stream"
        # 4 KiB random I/O.
        dd if=/dev/urandom of="$dir/rand" bs=1M count=256 conv=fsync status=none
        drop_caches
        python3 "$BENCH_DIR/rand.py" "$dir/rand" r "$RAND_OPS" >> "$BENCH_DIR/$name.randr"
        python3 "$BENCH_DIR/rand.py" "$dir/rand" w "$RAND_OPS" >> "$BENCH_DIR/$name.randw"
        rm -f "$dir/rand"
        # Source tree: untar, ls -lR, rm -r.
        sync
        t0=$(now); tar -xf "$BENCH_DIR/include.tar" -C "$dir"; t1=$(now)
        elapsed "$t0" "$t1" >> "$BENCH_DIR/$name.untar"
        t0=$(now); ls -lR "$dir/include" > /dev/null; t1=$(now)
        elapsed "$t0" "$t1" >> "$BENCH_DIR/$name.ls"
        t0=$(now); rm -r "$dir/include"; t1=$(now)
        elapsed "$t0" "$t1" >> "$BENCH_DIR/$name.rm"
        unmount_target "$name"
    done
    for metric in write read randr randw untar ls rm; do
        RESULT[$name.$metric]=$(median < "$BENCH_DIR/$name.$metric")
    done
done

echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), disk of $BENCH_DIR: $(df --output=source,fstype "$BENCH_DIR" | tail -1)"
echo "medians of $RUNS runs; $SIZE_MIB MiB stream; $RAND_OPS random ops on 256 MiB; /usr/include = $N_FILES files"
echo
echo "| | write MB/s | cold read MB/s | 4K rand read ops/s | 4K rand write ops/s | untar s | ls -lR s | rm -r s |"
echo "|---|---|---|---|---|---|---|---|"
for name in $TARGETS; do
    printf '| %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f |\n' "$name" \
        "${RESULT[$name.write]}" "${RESULT[$name.read]}" "${RESULT[$name.randr]}" "${RESULT[$name.randw]}" \
        "${RESULT[$name.untar]}" "${RESULT[$name.ls]}" "${RESULT[$name.rm]}"
done
rm -rf "$BENCH_DIR"
