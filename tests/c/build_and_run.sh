#!/usr/bin/env bash
# Builds the kernel library on its own (no Python, no meson) with strict
# flags, for each available compiler and configuration, and runs the C
# tests against it.
#
#   tests/c/build_and_run.sh [quick|full]
#
# Configurations: with and without the thread pool, with and without the
# x86-64 SIMD kernels.  An AArch64 cross build runs under qemu when
# aarch64-linux-gnu-gcc and qemu-aarch64 are installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../csrc" && pwd)
mode=${1:-quick}
[ "$mode" = full ] && run_arg="" || run_arg=quick
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
strict=(-std=c11 -O2 -Wall -Wextra -Werror -pedantic)
core=(bool_bits.c driver.c dispatch.c kernels_generic.c threads.c)
status=0

build_and_run() {  # name compiler [flags...]
    local name=$1 compiler=$2
    shift 2
    local flags=("$@") objects=()
    local dir="$out/$name"
    mkdir -p "$dir"
    local simd=0 threads=()
    for f in "${flags[@]}"; do
        [ "$f" = -DGM_HAVE_X86_KERNELS=1 ] && simd=1
        [ "$f" = -pthread ] && threads=(-pthread)
    done
    for file in "${core[@]}"; do
        "$compiler" "${strict[@]}" "${flags[@]}" -c "$src/$file" -o "$dir/${file%.c}.o"
        objects+=("$dir/${file%.c}.o")
    done
    if [ $simd = 1 ]; then
        local x86=(-mavx2 -mfma -mf16c)
        "$compiler" "${strict[@]}" "${flags[@]}" "${x86[@]}" -c "$src/kernels_avx2.c" -o "$dir/avx2.o"
        for file in kernels_avx512.c kernels_avx512_int.c; do
            "$compiler" "${strict[@]}" "${flags[@]}" "${x86[@]}" -mavx512f -mavx512bw \
                -mavx512vl -mavx512dq -c "$src/$file" -o "$dir/${file%.c}.o"
            objects+=("$dir/${file%.c}.o")
        done
        objects+=("$dir/avx2.o")
    fi
    "$compiler" "${strict[@]}" "${flags[@]}" -I"$src" "$here/test_kernels.c" \
        "${objects[@]}" "${threads[@]}" -lm -o "$dir/test_kernels"
    echo "== $name"
    if ! "$dir/test_kernels" $run_arg | tail -n 4; then
        echo "FAILED: $name"
        status=1
    fi
}

for compiler in gcc clang; do
    command -v "$compiler" >/dev/null || { echo "== $compiler: not installed, skipped"; continue; }
    build_and_run "$compiler-plain" "$compiler"
    if [ "$(uname -m)" = x86_64 ]; then
        build_and_run "$compiler-simd" "$compiler" -DGM_HAVE_X86_KERNELS=1
        build_and_run "$compiler-simd-threads" "$compiler" -DGM_HAVE_X86_KERNELS=1 \
            -DGM_HAVE_PTHREADS=1 -pthread
    fi
done

# The thread pool under ThreadSanitizer (data races, lock order).
if command -v gcc >/dev/null && echo 'int main(void){return 0;}' \
        | gcc -fsanitize=thread -x c - -o "$out/tsan-probe" 2>/dev/null; then
    TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}" \
        build_and_run gcc-threads-tsan gcc -DGM_HAVE_PTHREADS=1 -pthread \
        -fsanitize=thread -g
else
    echo "== gcc-threads-tsan: ThreadSanitizer unavailable, skipped"
fi

if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    dir="$out/aarch64-neon"
    mkdir -p "$dir"
    aarch64-linux-gnu-gcc "${strict[@]}" -DGM_HAVE_NEON_KERNELS=1 -I"$src" \
        "${core[@]/#/$src/}" "$src/kernels_neon.c" "$here/test_kernels.c" \
        -static -lm -o "$dir/test_kernels"
    echo "== aarch64-neon (qemu)"
    if ! qemu-aarch64 "$dir/test_kernels" quick | tail -n 4; then
        echo "FAILED: aarch64-neon"
        status=1
    fi
else
    echo "== aarch64-neon: no cross compiler or qemu-aarch64, skipped"
fi
exit $status
