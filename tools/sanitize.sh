#!/usr/bin/env bash
# Builds gufunc_matmul with AddressSanitizer and UndefinedBehaviorSanitizer
# and runs the C tests and the whole Python test suite against that build.
#
#   tools/sanitize.sh                 # C tests (quick) + pytest tests/
#   tools/sanitize.sh tests/test_hostile_input.py -k strides   # pytest args
#   PYTHON=python3.12 tools/sanitize.sh
#   SANITIZE_C_FULL=1 tools/sanitize.sh   # the long C suite too
#   SANITIZE_KEEP=1 tools/sanitize.sh     # keep the work directory
#
# Python itself is not instrumented: the ASan runtime is preloaded
# (LD_PRELOAD), leak detection is off (CPython's allocations would all be
# reported), and huge allocations return NULL (-> MemoryError) instead of
# aborting.  ASan writes every report from any process (pytest, its child
# interpreters, the C tests) under the work directory; UBSan aborts the
# process at its first report (a failed test or C test), and the output is
# searched for reports too.  The run fails on any report or failed test.
# A canary library with one heap overflow and one signed overflow checks
# first that both sanitizers do report.
#   SANITIZE_UBSAN_SUPPRESS="signed-integer-overflow:avx512fintrin.h"
# suppresses a known UBSan report while its fix is under way.
#
# The Python used must have numpy, pytest, hypothesis, meson and ninja, and
# no editable install of gufunc_matmul (which would shadow the sanitized
# build); otherwise a virtual environment is made in the work directory and
# those are installed into it with pip.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
caller_dir=$PWD
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/gufunc_matmul-sanitize.XXXXXX")
start=$SECONDS
summary=()
status=0

cleanup() {
    if [[ -n ${SANITIZE_KEEP:-} ]]; then
        echo "work directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

note() { summary+=("$1"); }
fail() { summary+=("FAIL  $1"); status=1; }
section() { printf '\n======== %s ========\n' "$1"; }

finish() {
    printf '\n======== sanitize summary (%d s) ========\n' $((SECONDS - start))
    printf '%s\n' "${summary[@]}"
    if ((status)); then echo "SANITIZE FAILED"; else echo "SANITIZE PASSED"; fi
    exit $status
}

# ------------------------------------------------------------ toolchain
cc=${CC:-gcc}
libasan=$("$cc" -print-file-name=libasan.so)
if [[ ! -e $libasan ]]; then
    fail "no libasan.so for $cc"
    finish
fi

# ----------------------------------------------------------- python env
section "python environment"
usable() {
    "$1" - <<'PY' 2>/dev/null
import sys
import numpy, pytest, hypothesis, mesonbuild  # noqa: F401
editable = any("gufunc_matmul" in getattr(type(f), "__module__", "")
               for f in sys.meta_path)
sys.exit(1 if editable else 0)
PY
}
py=$(command -v "$python") || { fail "no $python"; finish; }
if ! usable "$py" || ! { command -v ninja >/dev/null || "$py" -m ninja --version >/dev/null 2>&1; }; then
    echo "$python lacks numpy/pytest/hypothesis/meson/ninja or has an editable"
    echo "gufunc_matmul: making a virtual environment in $work/venv"
    "$py" -m venv "$work/venv" || { fail "python -m venv"; finish; }
    py=$work/venv/bin/python
    if ! "$py" -m pip install -q numpy pytest hypothesis meson ninja; then
        fail "pip install numpy pytest hypothesis meson ninja"
        finish
    fi
fi
export PATH="$(dirname "$py"):$PATH"
"$py" -c 'import sys, numpy; print(sys.version.split()[0], "numpy", numpy.__version__)'
note "ok    python environment ($((SECONDS - start)) s)"

# ----------------------------------------------------------------- build
# A snapshot of the sources: the build, the C tests and pytest all see the
# same tree even if files change while this runs.
section "build with -fsanitize=address,undefined"
t=$SECONDS
src=$work/src
mkdir -p "$src"
tar -C "$repo" -cf - --exclude=./.git --exclude=./build --exclude='./.venv*' \
    --exclude='*/__pycache__' --exclude=./.hypothesis --exclude=./.pytest_cache . \
    | tar -C "$src" -xf -
build=$work/build
if ! "$py" -m mesonbuild.mesonmain setup "$build" "$src" \
        -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
        "-Dc_args=-fno-omit-frame-pointer" \
        >"$work/setup.log" 2>&1; then
    cat "$work/setup.log"
    fail "meson setup"
    finish
fi
if ! "$py" -m mesonbuild.mesonmain compile -C "$build" >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log"
    fail "meson compile"
    finish
fi
# Installed (by the project's own meson install rules) into a directory of
# its own, which goes first on PYTHONPATH.
if ! "$py" -m mesonbuild.mesonmain install -C "$build" --destdir "$work/inst" \
        >"$work/install.log" 2>&1; then
    tail -n 30 "$work/install.log"
    fail "meson install"
    finish
fi
init=$(find "$work/inst" -path '*/gufunc_matmul/__init__.py' | head -n 1)
if [[ -z $init ]]; then
    fail "meson install put no gufunc_matmul package in $work/inst"
    finish
fi
stage=$(dirname "$(dirname "$init")")
note "ok    build ($((SECONDS - t)) s)"

# ---------------------------------------------------- sanitizer settings
logs=$work/reports
mkdir -p "$logs"
# ASan writes its reports to files (any process, any depth of children);
# UBSan (which ignores log_path when linked with ASan) aborts the process
# at its first report, and its reports are searched for in the output.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0:log_path=$logs/asan"
# SANITIZE_UBSAN_SUPPRESS="check:file-pattern ..." (inline rules) or
# SANITIZE_UBSAN_SUPPRESSIONS=file: UBSan suppressions, for a known report
# that is being fixed, e.g. "signed-integer-overflow:avx512fintrin.h".
if [[ -n ${SANITIZE_UBSAN_SUPPRESS:-} ]]; then
    tr ' ' '\n' <<<"$SANITIZE_UBSAN_SUPPRESS" >"$work/ubsan.supp"
    SANITIZE_UBSAN_SUPPRESSIONS=$work/ubsan.supp
    echo "UBSan suppressions: $SANITIZE_UBSAN_SUPPRESS"
fi
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1${SANITIZE_UBSAN_SUPPRESSIONS:+:suppressions=$SANITIZE_UBSAN_SUPPRESSIONS}"
export GUFUNC_MATMUL_SANITIZER=1
export PYTHONFAULTHANDLER=1

reports() {  # prints and counts the reports written so far
    # Files holding only warnings (a huge allocation refused: the tests ask
    # for those on purpose and expect MemoryError) are not reports.
    local n=0 f
    for f in "$logs"/*; do
        [[ -e $f ]] || continue
        if ! grep -q -e "ERROR: AddressSanitizer" -e "runtime error:" -e "ERROR: LeakSanitizer" "$f"; then
            continue
        fi
        n=$((n + 1))
        echo "---- $f"
        head -n 60 "$f"
    done
    return $((n > 0))
}

# The detector itself: a library with a heap overflow and a signed
# overflow, built with the same flags and loaded the same way as the
# extension, must be reported (a sanitizer run that cannot fail proves
# nothing).
section "sanitizers are live"
cat >"$work/canary.c" <<'C'
#include <stdlib.h>
#include <limits.h>
int canary_ubsan(int x) { return x + INT_MAX; }
int canary_asan(int i) { int *p = malloc(4 * sizeof *p); int v = p[i]; free(p); return v; }
C
"$cc" -shared -fPIC -O1 -fsanitize=undefined "$work/canary.c" -o "$work/libcanary_ubsan.so"
"$cc" -shared -fPIC -O1 -fsanitize=address "$work/canary.c" -o "$work/libcanary_asan.so"
live=1
canary_logs=$work/canary-reports
mkdir -p "$canary_logs"
canary_out=$(LD_PRELOAD=$libasan "$py" -c \
    "import ctypes; ctypes.CDLL('$work/libcanary_ubsan.so').canary_ubsan(4)" 2>&1)
if [[ $canary_out != *"runtime error: signed integer overflow"* ]]; then
    live=0
    echo "no UBSan report from the canary"
fi
LD_PRELOAD=$libasan ASAN_OPTIONS="${ASAN_OPTIONS//$logs/$canary_logs}" \
    "$py" -c "import ctypes; ctypes.CDLL('$work/libcanary_asan.so').canary_asan(4)" >/dev/null 2>&1
if ! cat "$canary_logs"/* 2>/dev/null | grep -q "heap-buffer-overflow"; then
    live=0
    echo "no ASan report file from the canary"
fi
if ((live)); then note "ok    sanitizers report errors (canary)"; else fail "sanitizers did not report the canary"; fi

# ----------------------------------------------------------------- C tests
section "C tests (meson test, sanitized)"
t=$SECONDS
suite_args=(--no-suite long)
[[ -n ${SANITIZE_C_FULL:-} ]] && suite_args=()
if "$py" -m mesonbuild.mesonmain test -C "$build" --print-errorlogs "${suite_args[@]}"; then
    note "ok    C tests ($((SECONDS - t)) s)"
else
    fail "C tests ($((SECONDS - t)) s)"
fi
if ! reports; then fail "sanitizer reports from the C tests"; fi

# ----------------------------------------------------------------- pytest
section "pytest (sanitized extension, ASan preloaded)"
t=$SECONDS
cd "$work" || finish
if ! PYTHONPATH=$stage LD_PRELOAD=$libasan "$py" - "$stage" <<'PY'
import sys, numpy as np, gufunc_matmul
where = gufunc_matmul.__file__
assert where.startswith(sys.argv[1]), f"not the sanitized build: {where}"
a = np.arange(12.0).reshape(3, 4)
assert (gufunc_matmul.matmul(a, a.T) == a @ a.T).all()
print("sanitized build imported from", where)
PY
then
    fail "the sanitized build does not import"
    reports
    finish
fi
pytest_args=()
for arg in "$@"; do   # paths given relative to where the script was started
    path=${arg%%::*}
    if [[ $arg != -* && -e $caller_dir/$path ]]; then
        arg=$(cd "$caller_dir" && realpath -m "$path")${arg#"$path"}
    fi
    [[ $arg == "$repo"/* ]] && arg=$src/${arg#"$repo"/}   # into the snapshot
    pytest_args+=("$arg")
done
((${#pytest_args[@]})) || pytest_args=("$src/tests")
PYTHONPATH=$stage LD_PRELOAD=$libasan \
    "$py" -m pytest -p no:cacheprovider -q --rootdir "$src" "${pytest_args[@]}" \
    2>&1 | tee "$work/pytest.log" | grep -v '^\.*\s*\[\s*[0-9]*%\]$'
rc=${PIPESTATUS[0]}
line=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed|error)' "$work/pytest.log" | tail -n 1)
if ((rc == 0)); then
    note "ok    pytest ($((SECONDS - t)) s): ${line//=/}"
else
    fail "pytest exit $rc ($((SECONDS - t)) s): ${line//=/}"
fi
if ! reports; then fail "ASan reports from the Python tests"; fi
if grep -q -e "runtime error:" -e "ERROR: AddressSanitizer" "$work/pytest.log"; then
    grep -B2 -A30 -e "runtime error:" -e "ERROR: AddressSanitizer" "$work/pytest.log" | head -n 80
    fail "sanitizer reports in the pytest output"
fi
finish
