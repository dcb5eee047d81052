#!/usr/bin/env bash
# Valgrind memcheck on gufunc_matmul:
#   1. a focused Python script: every dtype, every path (direct, vector,
#      blocked, stacks, k = 0, empty, float16's float32 copy, bool bit sets,
#      conjugated vector functions, object), tile and block edge sizes,
#      strided/negative/unaligned/zero-stride layouts, out= overlapping an
#      input, 1 and 2 threads; run once per instruction set valgrind can
#      execute (generic and avx2: valgrind 3.x does not emulate AVX-512, and
#      its CPUID hides it, so the avx512 kernels are left to ASan);
#   2. the C tests (tests/c/test_kernels quick), built by meson with -g.
#
#   tools/valgrind_check.sh            # both
#   tools/valgrind_check.sh python     # only the Python part
#   tools/valgrind_check.sh c          # only the C tests
#   PYTHON=/path/to/python tools/valgrind_check.sh
#
# CPython and NumPy themselves are not clean under memcheck, so the Python
# runs count only the errors with a frame (or an allocation/free stack) in
# gufunc_matmul's compiled module; the C run fails on any error or any
# definite leak.  Exit status 1 on any such error or a failed check.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
what=${1:-all}
work=$(mktemp -d "${TMPDIR:-/tmp}/gufunc_matmul-valgrind.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS
summary=()
status=0

note() { summary+=("$1"); }
fail() { summary+=("FAIL  $1"); status=1; }
finish() {
    printf '\n======== valgrind summary (%d s) ========\n' $((SECONDS - start))
    printf '%s\n' "${summary[@]}"
    if ((status)); then echo "VALGRIND FAILED"; else echo "VALGRIND PASSED"; fi
    exit $status
}

command -v valgrind >/dev/null || { fail "valgrind is not installed"; finish; }
valgrind --version

# ------------------------------------------------------------ python part
cat >"$work/focus.py" <<'PY'
"""Every dtype and path of gufunc_matmul once, checked against NumPy."""
import os
import sys

import numpy as np

import gufunc_matmul as gm

ISA = gm._core._isa()
rng = np.random.default_rng(0)
checked = 0


def values(dtype, shape):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind == "O":
        return rng.integers(-3, 4, shape).astype(object)
    x = rng.integers(-3, 4, shape)
    if dtype.kind == "u":
        x = np.abs(x)
    if dtype.kind == "c":
        x = x + 1j * rng.integers(-3, 4, shape)
    return x.astype(dtype)


def check(func, a, b, **kwargs):
    """Exact comparison: small integer values make every sum exact."""
    global checked
    ref = getattr(np, func.__name__)
    with np.errstate(all="ignore"):
        expected = ref(a, b)
        got = func(a, b, **kwargs)
    if "out" in kwargs:
        got = kwargs["out"]
    if not (np.asarray(got).dtype == np.asarray(expected).dtype
            and np.array_equal(got, expected)):
        sys.exit(f"MISMATCH {func.__name__} {a.dtype} {a.shape} {b.shape} {kwargs}")
    checked += 1


def layouts(x):
    """The same values as C, Fortran, reversed, strided and unaligned."""
    yield x
    yield np.asfortranarray(x)
    if x.ndim >= 2 and x.size:
        r = np.ascontiguousarray(x[..., ::-1, ::-1])[..., ::-1, ::-1]
        yield r
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
        wide[..., ::2] = x
        yield wide[..., ::2]
    if x.dtype.itemsize > 1 and x.dtype.kind != "O" and x.size:
        raw = np.zeros(x.nbytes + 1, np.uint8)
        u = raw[1:].view(x.dtype).reshape(x.shape)
        u[...] = x
        yield u


DTYPES = "?bBhHiIlLqQefdgFDGO"
# (m, k, n): tiny, tile edges (generic 4x4, avx2 up to 6x16), vector,
# blocked across generic's mc=64 / kc=256 and avx2's blocks, empty.
SIZES = [(1, 1, 1), (2, 3, 4), (3, 5, 7), (4, 4, 4), (5, 9, 17), (7, 1, 13),
         (6, 16, 8), (13, 33, 17), (1, 300, 1), (40, 70, 1), (1, 70, 40),
         (3, 0, 4), (0, 3, 4), (4, 3, 0), (65, 40, 66), (33, 260, 20)]
BIG = [(70, 400, 50)]

for char in DTYPES:
    for m, k, n in SIZES + (BIG if char in "dfeb?D" else []):
        if char == "O" and m * k * n > 4000:
            continue
        a = values(char, (m, k))
        b = values(char, (k, n))
        for x in layouts(a):
            check(gm.matmul, x, b)
        for y in layouts(b):
            check(gm.matmul, a, y)
        if char != "O" and m and n:
            out = np.zeros((n, m), char).T          # transposed out=
            check(gm.matmul, a, b, out=out)
        if m == k and m and char != "O":
            check(gm.matmul, a, a, out=a.copy())    # out= aliasing: below
            c = a.copy()
            gm.matmul(c, c, out=c)
            if not np.array_equal(c, np.matmul(a, a)):
                sys.exit(f"MISMATCH in-place {char} {a.shape}")
    # stacks (split by matrix), broadcast (zero strides), vector functions
    s = values(char, (5, 3, 4))
    t = values(char, (4, 2))
    check(gm.matmul, s, t)
    check(gm.matmul, np.broadcast_to(s[:1], s.shape), t)
    check(gm.matmul, s, np.broadcast_to(t[:, :1], t.shape))
    v = values(char, (6, 4))
    w = values(char, (4,))
    check(gm.vecdot, v, w)
    check(gm.vecdot, v, np.broadcast_to(w, v.shape))
    check(gm.matvec, v, w)
    check(gm.vecmat, w, v.T)
    check(gm.matmul, w, v.T)
    check(gm.matmul, v, w)

# threads: a product big enough to be split, then a stack
gm.set_num_threads(2)
for char in "dfe?qD":
    check(gm.matmul, values(char, (120, 90)), values(char, (90, 110)))
    check(gm.matmul, values(char, (8, 40, 30)), values(char, (30, 40)))
    check(gm.matmul, values(char, (3000, 200)), values(char, (200,)))
gm.set_num_threads(0)

# errors must not corrupt anything either
for bad in [(values("d", (3, 4)), values("d", (5, 2))),
            (np.zeros((2, 2), "U3"), np.zeros((2, 2), "U3"))]:
    try:
        gm.matmul(*bad)
    except (ValueError, TypeError):
        pass


class Raises:
    def __mul__(self, other):
        raise ArithmeticError("boom")


try:
    gm.matmul(np.array([[Raises()] * 3] * 2), np.array([[Raises()] * 2] * 3))
except ArithmeticError:
    pass

print(f"valgrind focus: isa={ISA} products checked={checked}")
PY

cat >"$work/filter.py" <<'PY'
"""Counts the memcheck errors (in valgrind's XML) that touch gufunc_matmul:
a frame of any of its stacks in the compiled module or the C sources."""
import glob
import sys
import xml.etree.ElementTree as ET

OURS = ("_core.", "gufunc_matmul", "/csrc/")
ours, others, leaks = [], 0, 0
for path in glob.glob(sys.argv[1]):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        # a forked child that exec'd another program leaves a cut file
        with open(path, errors="replace") as f:
            text = f.read()
        if "<error>" not in text:
            continue
        try:
            root = ET.fromstring(text[:text.rindex("</error>") + 8] + "</valgrindoutput>")
        except (ValueError, ET.ParseError) as exc:
            ours.append((f"unparsable valgrind output {path}: {exc}", []))
            continue
    for error in root.iter("error"):
        if (error.findtext("kind") or "").startswith("Leak_"):
            leaks += 1     # CPython's own allocations: memcheck's leak
            continue       # records are not errors of ours
        frames = []
        for frame in error.iter("frame"):
            frames.append(" ".join(frame.findtext(tag, "") for tag in
                                   ("fn", "file", "line", "obj")).strip())
        if any(any(mark in f for mark in OURS) for f in frames):
            what = error.findtext("what") or error.findtext("xwhat/text") or "?"
            ours.append((what, frames))
        else:
            others += 1
for what, frames in ours[:20]:
    print("ERROR:", what)
    for f in frames[:25]:
        print("    ", f)
print(f"memcheck errors in gufunc_matmul: {len(ours)}; elsewhere (CPython, NumPy, "
      f"libc), ignored: {others}; leak records, ignored: {leaks}")
sys.exit(1 if ours else 0)
PY

run_python_part() {
    local isas
    isas=$(cd "$work" && "$python" -c 'import gufunc_matmul; print(gufunc_matmul._core._available_isas())') \
        || { fail "cannot import gufunc_matmul with $python"; return; }
    local vg_isas
    vg_isas=$(cd "$work" && valgrind -q "$python" -c \
        'import gufunc_matmul; print(gufunc_matmul._core._available_isas())' 2>/dev/null | tail -n 1)
    echo "instruction sets: $isas (under valgrind: $vg_isas)"
    for isa in ${VALGRIND_ISAS:-generic avx2 avx512 neon}; do
        [[ ",$isas," == *",$isa,"* ]] || continue
        if [[ ",$vg_isas," != *",$isa,"* ]]; then
            note "skip  python $isa: valgrind cannot run it (covered by tools/sanitize.sh)"
            continue
        fi
        printf '\n======== valgrind memcheck: focus.py, isa=%s ========\n' "$isa"
        local t=$SECONDS rc
        (cd "$work" && GUFUNC_MATMUL_ISA=$isa PYTHONMALLOC=malloc \
            valgrind --tool=memcheck --leak-check=no --num-callers=30 \
                --xml=yes --xml-file="$work/vg-$isa.%p.xml" \
                "$python" "$work/focus.py")
        rc=$?
        if ((rc != 0)); then
            fail "python $isa: focus.py exit $rc ($((SECONDS - t)) s)"
        fi
        if "$python" "$work/filter.py" "$work/vg-$isa.*.xml"; then
            ((rc == 0)) && note "ok    python $isa: no memcheck errors in gufunc_matmul ($((SECONDS - t)) s)"
        else
            fail "python $isa: memcheck errors in gufunc_matmul ($((SECONDS - t)) s)"
        fi
    done
}

# ----------------------------------------------------------------- C part
run_c_part() {
    printf '\n======== valgrind memcheck: C tests (quick) ========\n'
    local t=$SECONDS dir=$work/c
    # Built by the project's own meson files (the same sources, flags and
    # threads as the extension), with debug information.
    if ! "$python" -m mesonbuild.mesonmain setup "$dir" "$repo" -Dbuildtype=debugoptimized \
            >"$work/c-setup.log" 2>&1; then
        tail -n 30 "$work/c-setup.log"
        fail "C tests: meson setup (needs meson and ninja in $python)"
        return
    fi
    if ! "$python" -m mesonbuild.mesonmain compile -C "$dir" tests/c/test_kernels \
            >"$work/c-build.log" 2>&1; then
        tail -n 30 "$work/c-build.log"
        fail "C tests: build"
        return
    fi
    if valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite \
            --num-callers=30 "$dir/tests/c/test_kernels" quick >"$dir/out.log" 2>&1; then
        tail -n 3 "$dir/out.log"
        grep -E "ERROR SUMMARY" "$dir/out.log"
        note "ok    C tests under memcheck ($((SECONDS - t)) s)"
    else
        tail -n 80 "$dir/out.log"
        fail "C tests under memcheck ($((SECONDS - t)) s)"
    fi
}

case $what in
    python) run_python_part ;;
    c) run_c_part ;;
    all) run_python_part; run_c_part ;;
    *) echo "usage: $0 [all|python|c]"; exit 2 ;;
esac
finish
