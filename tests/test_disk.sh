#!/bin/sh
# test_disk.sh - writing to a full file system fails cleanly: a clear message naming the file
# and the error, a non-zero exit, the previous checkpoint (and every other file) intact, no
# temporary files left behind; resuming once there is room continues as if nothing happened.
# Two ways to fill the disk: a small tmpfs (needs root and mount; skipped, and said so, where
# that is not allowed) and a file-size limit (ulimit -f, writes fail with EFBIG; always).
#   sh tests/test_disk.sh GMMDIFF
set -u
G=$1
. "$(dirname "$0")/testlib.sh"
F="--data shapes --n-data 200 --cond class --channels 8,16 --batch 4 --progress none \
--sample-every 0 --threads 1 --ckpt-every 5"
expect 0 "trained" "a small run to step 10" -- "$G" train --out "$T/ref" --steps 10 $F
expect 0 "trained" "the reference continues to step 20" -- "$G" train --out "$T/full20" --steps 20 $F

# check_intact DIR LABEL: DIR's files equal the copy in $T/before, and no temporary file is left
check_intact() {
    for f in state.safetensors run.json model/diffusion_pytorch_model.safetensors model/config.json; do
        same "$T/before/$f" "$1/$f" "$2: $f kept"
    done
    left=$(find "$1" -name '*.tmp*' | head -3)
    [ -z "$left" ] && ok || bad "$2: temporary files left behind: $left"
}

# 1. a tmpfs with no room left
mkdir -p "$T/fs"
if mount -t tmpfs -o size=4m tmpfs "$T/fs" 2>/dev/null; then
    trap 'umount "$T/fs" 2>/dev/null; rm -rf "$T"' EXIT
    cp -r "$T/ref" "$T/fs/run"
    rm -rf "$T/before"
    cp -r "$T/ref" "$T/before"
    # fill it up, leaving less than one checkpoint's room
    dd if=/dev/zero of="$T/fs/filler" bs=1k count=100000 2>/dev/null
    expect 1 "No space left on device" "tmpfs full: resume fails at its checkpoint" -- \
        "$G" train --resume "$T/fs/run" --steps 20 --threads 1 --ckpt-every 5
    out=$("$G" train --resume "$T/fs/run" --steps 20 --threads 1 --ckpt-every 5 2>&1)
    printf '%s' "$out" | grep -q "$T/fs/run/" && ok || bad "the message names the file: $out"
    check_intact "$T/fs/run" "tmpfs full"
    # room again: the run continues from its step 10 checkpoint to the same weights
    rm "$T/fs/filler"
    expect 0 "trained" "tmpfs with room: resume" -- "$G" train --resume "$T/fs/run" --steps 20 --threads 1 --ckpt-every 5
    same "$T/full20/state.safetensors" "$T/fs/run/state.safetensors" "resumed after a full disk: same state as uninterrupted"
    # eval --out and gmm fit --out on a full disk keep the file they would replace
    printf '{"old": 1}\n' >"$T/fs/eval.json"
    printf '1,2\n3,4\n5,6\n7,8\n' >"$T/x.csv"
    "$G" gmm fit --in "$T/x.csv" --k 1 --out "$T/fs/gmm.json" >/dev/null
    cp "$T/fs/gmm.json" "$T/gmm.before"
    dd if=/dev/zero of="$T/fs/filler" bs=1k count=100000 2>/dev/null
    expect 1 "eval.json" "tmpfs full: eval --out fails naming the file" -- "$G" eval --run "$T/ref" \
        --per-class 1 --steps 2 --threads 1 --out "$T/fs/eval.json"
    [ "$(cat "$T/fs/eval.json")" = '{"old": 1}' ] && ok || bad "eval.json replaced on a full disk"
    expect 1 "gmm.json" "tmpfs full: gmm fit --out fails naming the file" -- "$G" gmm fit \
        --in "$T/x.csv" --k 2 --out "$T/fs/gmm.json"
    same "$T/gmm.before" "$T/fs/gmm.json" "gmm.json kept on a full disk"
    umount "$T/fs"
else
    echo "SKIP tmpfs: mount is not allowed here (the file-size limit below still runs)"
fi

# 2. a file-size limit: every write past 64 KiB fails with EFBIG (SIGXFSZ ignored, as a shell's
# trap '' passes on to its children)
rm -rf "$T/lim" "$T/before"
cp -r "$T/ref" "$T/lim"
cp -r "$T/ref" "$T/before"
out=$(trap '' XFSZ; ulimit -f 64; "$G" train --resume "$T/lim" --steps 20 --threads 1 --ckpt-every 5 2>&1)
rc=$?
[ "$rc" -eq 1 ] && ok || bad "file-size limit: exit $rc, wanted 1 ($out)"
printf '%s' "$out" | grep -q "File too large" && printf '%s' "$out" | grep -q "$T/lim/" && ok ||
    bad "file-size limit: the message names the file and the error: $out"
check_intact "$T/lim" "file-size limit"
expect 0 "trained" "no limit: resume" -- "$G" train --resume "$T/lim" --steps 20 --threads 1 --ckpt-every 5
same "$T/full20/state.safetensors" "$T/lim/state.safetensors" "resumed after a failed write: same state as uninterrupted"
report test_disk
