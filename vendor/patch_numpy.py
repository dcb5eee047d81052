#!/usr/bin/env python3
"""Vendor the gufunc_matmul kernel library into an unpacked NumPy source tree.

    python3 vendor/patch_numpy.py NUMPY_SRC [--csrc DIR] [--no-simd]
                                  [--no-threads] [--over-blas]

What it does (see VENDORING.md for the reasons):

1. copies the library (csrc/ minus the Python module) into
   numpy/_core/src/umath/gufunc_matmul/ and writes a meson.build there that
   builds it as one static library, the ISA files with their own -m flags;
2. numpy/_core/meson.build: builds that directory and links the library into
   _multiarray_umath;
3. numpy/_core/src/umath/matmul.c.src: every numeric @TYPE@_matmul loop
   (all but OBJECT) first turns (args, dimensions, steps) into a gm_problem
   and calls gm_matmul.  float, double, cfloat and cdouble keep NumPy's BLAS
   path when NumPy was built with a BLAS, unless --over-blas;
4. numpy/_core/src/umath/umathmodule.c: chooses the kernels once at import
   (environment NPY_GM_ISA, NPY_GM_NUM_THREADS) and records the choice as
   numpy._core._multiarray_umath._gufunc_matmul_isa.

Every edit is a textual replacement of an exact anchor that must occur
exactly once; on a NumPy whose sources differ the script stops with an
error naming the file and the anchor, and writes nothing.  Tested with
NumPy 2.4.6.
"""
import argparse
import pathlib
import re
import shutil
import sys

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_CSRC = HERE.parent / "csrc"

# The library, by role.  Keep in sync with csrc/meson.build and VENDORING.md;
# check_library() fails when csrc/ holds a file not listed here.
CORE_SOURCES = ["bool_bits.c", "driver.c", "dispatch.c", "kernels_generic.c",
                "threads.c"]
X86_AVX2_SOURCES = ["kernels_avx2.c"]
X86_AVX512_SOURCES = ["kernels_avx512.c", "kernels_avx512_int.c"]
NEON_SOURCES = ["kernels_neon.c"]
HEADERS = ["gufunc_matmul.h", "gm_blocks.h", "gm_half.h", "gm_kernel.h",
           "gm_threads.h", "gm_stream.h", "gm_short_dots.h", "gm_shallow.h",
           "gm_pack_x86.h", "generic_real.inc", "generic_complex.inc"]
NOT_VENDORED = {"module.c", "meson.build"}   # the Python module and its build

AVX2_FLAGS = ["-mavx2", "-mfma", "-mf16c"]
AVX512_FLAGS = AVX2_FLAGS + ["-mavx512f", "-mavx512bw", "-mavx512vl",
                             "-mavx512dq"]

# NumPy loop name -> gm_type.  OBJECT stays NumPy's.
GM_TYPES = {
    "BOOL": "GM_BOOL",
    "BYTE": "GM_INT8", "UBYTE": "GM_UINT8",
    "SHORT": "GM_INT16", "USHORT": "GM_UINT16",
    "INT": "GM_INT32", "UINT": "GM_UINT32",
    "LONG": "NPY_GM_LONG", "ULONG": "NPY_GM_ULONG",
    "LONGLONG": "GM_INT64", "ULONGLONG": "GM_UINT64",
    "HALF": "GM_FLOAT16",
    "FLOAT": "GM_FLOAT32", "DOUBLE": "GM_FLOAT64",
    "LONGDOUBLE": "GM_LONGDOUBLE",
    "CFLOAT": "GM_COMPLEX64", "CDOUBLE": "GM_COMPLEX128",
    "CLONGDOUBLE": "GM_CLONGDOUBLE",
}
BLAS_TYPES = {"FLOAT", "DOUBLE", "CFLOAT", "CDOUBLE"}

SUBDIR = "numpy/_core/src/umath/gufunc_matmul"
MARK = "gufunc_matmul (vendored by vendor/patch_numpy.py)"


class PatchError(Exception):
    pass


def replace_once(text, old, new, where):
    count = text.count(old)
    if count != 1:
        raise PatchError(f"{where}: expected the anchor exactly once, found it "
                         f"{count} times:\n---\n{old}\n---")
    return text.replace(old, new)


def check_library(csrc):
    listed = set(CORE_SOURCES + X86_AVX2_SOURCES + X86_AVX512_SOURCES
                 + NEON_SOURCES + HEADERS)
    present = {p.name for p in csrc.iterdir() if p.is_file()}
    missing = sorted(listed - present)
    unknown = sorted(present - listed - NOT_VENDORED)
    if missing or unknown:
        raise PatchError(
            f"{csrc} does not match the file lists in {__file__} "
            f"(missing: {missing or 'none'}, not listed: {unknown or 'none'}); "
            "update the lists here, the meson.build written below and "
            "VENDORING.md")


def subdir_meson(simd, threads):
    quoted = lambda names: ", ".join(f"'{n}'" for n in names)
    return f"""\
# {MARK}.
# The kernel library: plain C11, no Python.  One static library, linked into
# _multiarray_umath; the AVX2 and AVX-512 files are compiled with their
# instruction sets enabled and chosen at run time by CPU detection.
gm_cc = meson.get_compiler('c')
gm_c_args = gm_cc.get_supported_arguments('-fno-math-errno', '-fvisibility=hidden')
# libm: fenv.h (the FP flags) and the generic kernels' math.
gm_deps = [gm_cc.find_library('m', required: false)]

# A pool of POSIX threads for large products; without it, one thread.
if {'true' if threads else 'false'} and not get_option('disable-threading') and \\
    host_machine.system() not in ['windows', 'emscripten']
  gm_threads_dep = dependency('threads', required: false)
  if gm_threads_dep.found()
    gm_c_args += ['-DGM_HAVE_PTHREADS=1']
    gm_deps += [gm_threads_dep]
  endif
endif

gm_simd = {'true' if simd else 'false'} and not get_option('disable-optimization')
gm_isa_libs = []
if gm_simd and host_machine.cpu_family() == 'x86_64' and \\
    gm_cc.get_id() in ['gcc', 'clang']
  gm_c_args += ['-DGM_HAVE_X86_KERNELS=1']
  gm_isa_libs += static_library('gm_kernels_avx2',
    [{quoted(X86_AVX2_SOURCES)}],
    c_args: gm_c_args + [{quoted(AVX2_FLAGS)}],
    pic: true, gnu_symbol_visibility: 'hidden', dependencies: gm_deps)
  gm_isa_libs += static_library('gm_kernels_avx512',
    [{quoted(X86_AVX512_SOURCES)}],
    c_args: gm_c_args + [{quoted(AVX512_FLAGS)}],
    pic: true, gnu_symbol_visibility: 'hidden', dependencies: gm_deps)
endif

gm_sources = [{quoted(CORE_SOURCES)}]
if gm_simd and host_machine.cpu_family() == 'aarch64'
  gm_c_args += ['-DGM_HAVE_NEON_KERNELS=1']
  gm_sources += [{quoted(NEON_SOURCES)}]
endif

gm_vendored_lib = static_library('gufunc_matmul_kernels', gm_sources,
  c_args: gm_c_args, link_whole: gm_isa_libs,
  pic: true, gnu_symbol_visibility: 'hidden', dependencies: gm_deps)
gm_vendored_dep = declare_dependency(link_with: gm_vendored_lib,
  include_directories: include_directories('.'), dependencies: gm_deps)
"""


def glue_c(over_blas):
    return f"""
/*
 * {MARK}.
 * The numeric matmul loops hand each call to gm_matmul as one problem
 * description; the code after that call in each loop is NumPy's original,
 * kept for the types that stay on BLAS.
 */
#include <stdlib.h>
#include "gufunc_matmul.h"

/* 1: float, double, cfloat and cdouble use gm_matmul even with a BLAS. */
#define NPY_GM_OVER_BLAS {1 if over_blas else 0}
#if defined(HAVE_CBLAS) && !NPY_GM_OVER_BLAS
#define NPY_GM_BLAS_TYPES 0
#else
#define NPY_GM_BLAS_TYPES 1
#endif

#if NPY_SIZEOF_LONG == 8
#define NPY_GM_LONG GM_INT64
#define NPY_GM_ULONG GM_UINT64
#else
#define NPY_GM_LONG GM_INT32
#define NPY_GM_ULONG GM_UINT32
#endif

/* Once, at import: the kernels for this CPU (NPY_GM_ISA=generic, avx2,
 * avx512 or neon forces a set; an unavailable one means auto) and the
 * threads per call (NPY_GM_NUM_THREADS; default one per available CPU). */
NPY_NO_EXPORT const char *
npy_gm_setup(void)
{{
    const char *isa = getenv("NPY_GM_ISA");
    if (isa == NULL || gm_select_isa(isa) != 0) {{
        (void)gm_select_isa(NULL);
    }}
    const char *threads = getenv("NPY_GM_NUM_THREADS");
    if (threads != NULL && threads[0] != '\\0') {{
        (void)gm_set_num_threads(atoi(threads));
    }}
    return gm_isa_name();
}}

/* matmul is (n?,k),(k,m?)->(n?,m?): dimensions = {{outer, n, k, m}},
 * steps = {{outer A, outer B, outer C, A: n k, B: k m, C: n m}} in bytes.
 * A missing optional dimension arrives as size 1.  The iterator has
 * already copied an output that overlaps an input (matmul's op_flags). */
static inline void
npy_gm_matmul(gm_type type, char **args, npy_intp const *dimensions,
              npy_intp const *steps)
{{
    gm_problem p;
    p.type = type;
    p.batch = dimensions[0];
    p.m = dimensions[1];
    p.k = dimensions[2];
    p.n = dimensions[3];
    p.a.data = args[0];
    p.a.batch_stride = steps[0];
    p.a.row_stride = steps[3];
    p.a.col_stride = steps[4];
    p.b.data = args[1];
    p.b.batch_stride = steps[1];
    p.b.row_stride = steps[5];
    p.b.col_stride = steps[6];
    p.c.data = args[2];
    p.c.batch_stride = steps[2];
    p.c.row_stride = steps[7];
    p.c.col_stride = steps[8];
    (void)gm_matmul(&p);   /* fails only for a bad type or negative size */
}}
"""


LOOP_HEAD = ("NPY_NO_EXPORT void\n"
             "@TYPE@_matmul(char **args, npy_intp const *dimensions, "
             "npy_intp const *steps, void *NPY_UNUSED(func))\n{\n")
LOOP_CALL = """\
#if @GM_USE@
    /* gufunc_matmul (vendored): the whole call, every outer iteration. */
    npy_gm_matmul(@GM_TYPE@, args, dimensions, steps);
    return;
#endif
"""


def patch_matmul_c_src(text, over_blas):
    where = "numpy/_core/src/umath/matmul.c.src"
    text = replace_once(
        text, '#include "arraytypes.h" /* For TYPE_dot functions */\n',
        '#include "arraytypes.h" /* For TYPE_dot functions */\n'
        + glue_c(over_blas), where)
    # The repeat block that generates @TYPE@_matmul: read its TYPE list and
    # add, per type, the gm_type and whether gm_matmul serves it.
    head = text.find(LOOP_HEAD)
    if head < 0 or text.count(LOOP_HEAD) != 1:
        raise PatchError(f"{where}: the @TYPE@_matmul definition was not "
                         "found exactly once")
    begin = text.rfind("/**begin repeat", 0, head)
    close = text.find("\n */\n", begin)
    if begin < 0 or close < 0 or close > head:
        raise PatchError(f"{where}: no repeat header before @TYPE@_matmul")
    header = text[begin:close]
    found = re.search(r"#TYPE\s*=\s*([^#]*)#", header)
    if found is None:
        raise PatchError(f"{where}: no #TYPE list in the @TYPE@_matmul header")
    listed = re.sub(r"\n\s*\*", " ", found.group(1))   # comment line starts
    types = [t for t in re.split(r"[\s,]+", listed) if t]
    if "*" in "".join(types) or set(types) - set(GM_TYPES) - {"OBJECT"}:
        raise PatchError(f"{where}: unexpected matmul TYPE list {types}")
    if set(GM_TYPES) - set(types):
        raise PatchError(f"{where}: matmul TYPE list {types} lacks "
                         f"{sorted(set(GM_TYPES) - set(types))}")
    gm_type = [GM_TYPES.get(t, "GM_NUM_TYPES") for t in types]
    gm_use = ["0" if t == "OBJECT" else
              "NPY_GM_BLAS_TYPES" if t in BLAS_TYPES else "1" for t in types]
    extra = (f"\n * #GM_TYPE = {', '.join(gm_type)}#"
             f"\n * #GM_USE = {', '.join(gm_use)}#")
    text = text[:close] + extra + text[close:]
    return replace_once(text, LOOP_HEAD, LOOP_HEAD + LOOP_CALL, where)


def patch_umathmodule(text):
    where = "numpy/_core/src/umath/umathmodule.c"
    text = replace_once(
        text, "int initumath(PyObject *m)\n{\n",
        f"/* {MARK} */\nNPY_NO_EXPORT const char *npy_gm_setup(void);\n\n"
        "int initumath(PyObject *m)\n{\n", where)
    return replace_once(
        text, "    d = PyModule_GetDict(m);\n",
        "    d = PyModule_GetDict(m);\n\n"
        f"    /* {MARK}: choose the kernels once. */\n"
        "    s = PyUnicode_FromString(npy_gm_setup());\n"
        "    if (s == NULL || PyDict_SetItemString(d, \"_gufunc_matmul_isa\", s) < 0) {\n"
        "        Py_XDECREF(s);\n"
        "        return -1;\n"
        "    }\n"
        "    Py_DECREF(s);\n", where)


def patch_core_meson(text):
    where = "numpy/_core/meson.build"
    start = text.find("py.extension_module('_multiarray_umath',")
    if start < 0:
        raise PatchError(f"{where}: no _multiarray_umath extension_module")
    end = text.find("\n)\n", start)
    block = text[start:end]
    new_block = replace_once(block, "dependencies: [blas_dep, omp],",
                             "dependencies: [blas_dep, omp, gm_vendored_dep],",
                             where + " (_multiarray_umath)")
    return (text[:start]
            + f"# {MARK}\nsubdir('src/umath/gufunc_matmul')\n\n"
            + new_block + text[end:])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("numpy_src", type=pathlib.Path,
                    help="an unpacked NumPy source tree (sdist or git)")
    ap.add_argument("--csrc", type=pathlib.Path, default=DEFAULT_CSRC,
                    help="the library sources (default: %(default)s)")
    ap.add_argument("--no-simd", action="store_true",
                    help="generic C kernels only (no -m flags)")
    ap.add_argument("--no-threads", action="store_true",
                    help="no thread pool: every call on the caller's thread")
    ap.add_argument("--over-blas", action="store_true",
                    help="float/double/cfloat/cdouble use the kernels even "
                         "when NumPy has a BLAS")
    args = ap.parse_args(argv)
    root = args.numpy_src.resolve()
    csrc = args.csrc.resolve()
    try:
        check_library(csrc)
        files = {rel: (root / rel).read_text() for rel in (
            "numpy/_core/src/umath/matmul.c.src",
            "numpy/_core/src/umath/umathmodule.c",
            "numpy/_core/meson.build")}
        if any(MARK in t for t in files.values()) or (root / SUBDIR).exists():
            raise PatchError(f"{root} is already patched")
        # All edits are made in memory first, so a mismatch writes nothing.
        new = {
            "numpy/_core/src/umath/matmul.c.src":
                patch_matmul_c_src(files["numpy/_core/src/umath/matmul.c.src"],
                                   args.over_blas),
            "numpy/_core/src/umath/umathmodule.c":
                patch_umathmodule(files["numpy/_core/src/umath/umathmodule.c"]),
            "numpy/_core/meson.build":
                patch_core_meson(files["numpy/_core/meson.build"]),
        }
    except (PatchError, OSError) as exc:
        print(f"patch_numpy.py: {exc}", file=sys.stderr)
        return 1
    dest = root / SUBDIR
    dest.mkdir(parents=True)
    for name in (CORE_SOURCES + X86_AVX2_SOURCES + X86_AVX512_SOURCES
                 + NEON_SOURCES + HEADERS):
        shutil.copy2(csrc / name, dest / name)
    (dest / "meson.build").write_text(
        subdir_meson(simd=not args.no_simd, threads=not args.no_threads))
    for rel, text in new.items():
        (root / rel).write_text(text)
    print(f"patched {root}: library in {SUBDIR} "
          f"(simd={'off' if args.no_simd else 'on'}, "
          f"threads={'off' if args.no_threads else 'on'}, "
          f"over-blas={'on' if args.over_blas else 'off'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
