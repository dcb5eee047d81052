"""Products large enough to be split over threads: numpy.matmul's results,
bitwise identical for every thread count, and safe to call from several
Python threads at once."""
import ctypes
import ctypes.util
import platform
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import gufunc_matmul
from checks import assert_matches_numpy, assert_values_match, every_isa, ours, reference
from strategies import NUMERIC_DTYPES, dtype_id, laid_out, make_values

matmul = gufunc_matmul.matmul

THREAD_COUNTS = [1, 2, 3, 4]


@pytest.fixture
def restore_threads():
    before = gufunc_matmul.get_num_threads()
    yield
    gufunc_matmul.set_num_threads(0)
    assert gufunc_matmul.get_num_threads() == before


def assert_bitwise_equal(x, y):
    """The same bits, NaN payloads and signed zeros included (for long
    double: the same values and signs, its padding bytes are not data)."""
    x, y = np.asarray(x), np.asarray(y)
    assert x.dtype == y.dtype and x.shape == y.shape
    if x.dtype.char in "gG":
        assert_array_equal(x, y, strict=True)
        for part in ((x.real, y.real), (x.imag, y.imag)) if x.dtype.kind == "c" \
                else ((x, y),):
            assert_array_equal(np.signbit(part[0]), np.signbit(part[1]))
        return
    assert_array_equal(np.ascontiguousarray(x).view(np.uint8),
                       np.ascontiguousarray(y).view(np.uint8))


def assert_same_bits_on_thread_counts(a, b, expected, counts=THREAD_COUNTS[1:]):
    """ours(a, b) has the bits of `expected` on each of these thread counts."""
    for count in counts:
        gufunc_matmul.set_num_threads(count)
        assert_bitwise_equal(ours(a, b), expected)


# Each large enough (> 1e6 multiply-adds) to use threads, one per way of
# splitting the work: whole matrices of a stack, row blocks of one blocked
# product, rows or columns of a matrix-vector product.
SHAPES = {
    "stack": ((8, 90, 70), (8, 70, 80)),
    "broadcast-stack": ((6, 1, 60, 50), (1, 3, 50, 70)),
    "one-matrix": ((300, 120), (120, 250)),
    "tall": ((2000, 40), (40, 30)),
    "wide": ((30, 40), (40, 2000)),
    "shallow-wide": ((300, 6), (6, 700)),
    "matrix-vector": ((3000, 500), (500,)),
    "vector-matrix": ((500,), (500, 3000)),
    "thin-stack": ((3, 400, 300), (3, 300, 1)),
    "deep": ((20, 3000), (3000, 20)),
    "few-rows-large-b": ((10, 400), (400, 700)),
    "deep-own-blocks": ((45, 5000), (5000, 50)),
}


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
def test_same_bits_for_every_thread_count(dtype, shapes, restore_threads):
    a = make_values(dtype, shapes[0], (1, 1.0, 0.0))
    b = make_values(dtype, shapes[1], (2, 1.0, 0.0))
    results = []
    for n in THREAD_COUNTS:
        gufunc_matmul.set_num_threads(n)
        assert gufunc_matmul.get_num_threads() == n
        results.append(ours(a, b))
    assert_matches_numpy(a, b)
    for r in results[1:]:
        assert_bitwise_equal(r, results[0])


@pytest.mark.parametrize("layout", ["F", "reversed", "transposed-out"])
@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "bdeF"], ids=dtype_id)
def test_threaded_layouts(layout, dtype, restore_threads):
    a = make_values(dtype, (4, 150, 130), (3, 1.0, 0.01))
    b = make_values(dtype, (130, 160), (4, 1.0, 0.01))
    out = None
    if layout == "F":
        a, b = np.asfortranarray(a), np.asfortranarray(b)
    elif layout == "reversed":
        a, b = a[::-1, ::-1, ::-1], b[::-1, ::-1]
    else:
        out = np.zeros((4, 160, 150), dtype).swapaxes(-1, -2)
    results = []
    for n in THREAD_COUNTS:
        gufunc_matmul.set_num_threads(n)
        results.append(ours(a, b, out=out).copy())
    assert_matches_numpy(a, b)
    for r in results[1:]:
        assert_bitwise_equal(r, results[0])


@settings(max_examples=max(10, settings.default.max_examples // 10))
@given(data=st.data())
def test_threaded_products_match_numpy(data):
    dtype = data.draw(st.sampled_from(NUMERIC_DTYPES), label="dtype")
    m = data.draw(st.integers(1, 300), label="m")
    n = data.draw(st.integers(1, 300), label="n")
    k = data.draw(st.integers(1, 300), label="k")
    batch = data.draw(st.integers(1, 6), label="batch")
    while batch * m * n * k < 1_200_000:
        k *= 2
    a = data.draw(laid_out(make_values(dtype, (batch, m, k), (m, 1.0, 0.01))))
    b = data.draw(laid_out(make_values(dtype, (k, n), (n, 1.0, 0.01))))
    gufunc_matmul.set_num_threads(data.draw(st.sampled_from(THREAD_COUNTS)))
    try:
        assert_matches_numpy(a, b)
    finally:
        gufunc_matmul.set_num_threads(0)


def test_concurrent_python_threads_with_threaded_products(restore_threads):
    gufunc_matmul.set_num_threads(4)
    rng = np.random.default_rng(7)
    jobs = [(rng.integers(-9, 9, (4, 120, 150)), rng.integers(-9, 9, (150, 110))),
            (rng.standard_normal((300, 200)), rng.standard_normal((200, 250))),
            (rng.standard_normal((2000, 400)).astype(np.float32),
             rng.standard_normal(400).astype(np.float32)),
            (rng.integers(0, 2, (200, 300)).astype(bool),
             rng.integers(0, 2, (300, 200)).astype(bool))]
    expected = [matmul(a, b) for a, b in jobs]
    failures = []
    barrier = threading.Barrier(len(jobs))

    def work(index):
        a, b = jobs[index]
        barrier.wait()
        for _ in range(4):
            r = matmul(a, b)
            if not np.array_equal(r, expected[index]):
                failures.append(index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    for (a, b), e in zip(jobs, expected):
        assert_matches_numpy(a, b)
        assert_bitwise_equal(matmul(a, b), e)


def test_set_num_threads_validates():
    for bad in (-1, 1.5, "2", None):
        with pytest.raises((ValueError, TypeError)):
            gufunc_matmul.set_num_threads(bad)
    assert gufunc_matmul.get_num_threads() >= 1


@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.machine() == "x86_64"),
                    reason="rounding-mode constants of x86-64 glibc")
def test_pool_threads_use_the_callers_rounding_mode(restore_threads):
    """Rows computed on pool threads round as the calling thread does, so a
    caller's rounding mode gives the same bits for every thread count."""
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    fe_upward = 0x800
    a = make_values(np.float64, (300, 400), (5, 1.0, 0.0))
    b = make_values(np.float64, (400, 200), (6, 1.0, 0.0))
    gufunc_matmul.set_num_threads(4)
    nearest = ours(a, b)            # pool threads start in the default mode
    before = libm.fegetround()
    assert libm.fesetround(fe_upward) == 0
    try:
        results = []
        for n in THREAD_COUNTS:
            gufunc_matmul.set_num_threads(n)
            results.append(ours(a, b))
    finally:
        libm.fesetround(before)
    for r in results[1:]:
        assert_bitwise_equal(r, results[0])
    assert not np.array_equal(results[0], nearest)   # the mode did apply


# A signalling NaN of each floating type, as bytes: garbage that raises
# "invalid" when a kernel adds to it.
SIGNALLING_NAN = {np.dtype(np.float32): np.uint32(0x7FA00000).tobytes(),
                  np.dtype(np.float64): np.uint64(0x7FF4000000000000).tobytes()}


def fill_freed_heap(pattern):
    """Leaves freed heap blocks of many sizes full of `pattern`, which the
    next allocations of similar sizes are likely to get back."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = []
    for size in [m << e for e in range(10, 17) for m in (2, 3)]:
        p = libc.malloc(size)
        if p:
            ctypes.memmove(p, pattern * (size // len(pattern)), size // len(pattern) * len(pattern))
            blocks.append(p)
    for p in blocks:
        libc.free(p)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="frees through the C library")
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdFD"], ids=dtype_id)
def test_same_bits_whatever_the_heap_held(dtype, threads, restore_threads):
    """Edge tiles (20 is not a whole number of tiles) summed over several
    depth blocks: the working memory's old contents must not change the
    result, nor make the product take another path."""
    a = make_values(dtype, (20, 3000), (1, 1.0, 0.0))
    b = make_values(dtype, (3000, 20), (2, 1.0, 0.0))
    gufunc_matmul.set_num_threads(threads)
    clean = ours(a, b)
    pattern = SIGNALLING_NAN[np.dtype(dtype.char.lower())]
    for _ in range(5):
        fill_freed_heap(pattern)
        assert_bitwise_equal(ours(a, b), clean)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdFD"], ids=dtype_id)
@pytest.mark.parametrize("m", [1, 3, 4])
@pytest.mark.parametrize("k", [2000, 24000])
def test_column_slices_give_the_same_bits(dtype, m, k):
    """Threads split the columns of a product of few rows; the direct
    path then sees a narrower B, which can fit the caches where the whole
    did not and take another loop (at k = 24000, B or a thread's half of
    it is over 1 MiB, the narrow slices under).  Every element must keep
    its bits.  (A single column would be a matrix-vector product, another
    path.)"""
    a = make_values(dtype, (m, k), (7, 1.0, 0.0))
    b = make_values(dtype, (k, 12), (8, 1.0, 0.0))
    whole = ours(a, b)
    for cut in (2, 4, 6, 10):
        halves = np.concatenate([ours(a, b[:, :cut]), ours(a, b[:, cut:])], axis=1)
        assert_bitwise_equal(halves, whole)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdil"], ids=dtype_id)
@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("k, n", [(37, 9001), (700, 3001)], ids=["shallow", "over-8-MiB"])
def test_few_rows_of_a_wide_b_in_column_blocks(dtype, m, k, n, restore_threads):
    """Few rows of C stream B in blocks of columns whose width depends on
    the number of rows (and, threaded, on a thread's share of columns);
    over 8 MiB of B the next rows are fetched ahead.  Each element must be
    the same one sum whatever the blocks: the rows one at a time, the
    columns cut anywhere, any thread count."""
    a = make_values(dtype, (m, k), (13, 1.0, 0.0))
    b = make_values(dtype, (k, n), (14, 1.0, 0.0))
    gufunc_matmul.set_num_threads(1)
    whole = ours(a, b)
    assert_matches_numpy(a, b)
    rows = np.concatenate([ours(a[i:i + 1], b) for i in range(m)])
    assert_bitwise_equal(rows, whole)
    for cut in (5, 1000, n - 3):
        halves = np.concatenate([ours(a, b[:, :cut]), ours(a, b[:, cut:])], axis=1)
        assert_bitwise_equal(halves, whole)
    assert_same_bits_on_thread_counts(a, b, whole)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
@pytest.mark.parametrize("m", [5, 8, 13, 33, 48, 64, 100])
@pytest.mark.parametrize("k, n", [(3000, 40), (2500, 100), (700, 19), (6000, 200)])
def test_deep_products_of_few_rows_in_depth_blocks(dtype, m, k, n, restore_threads):
    """Few rows of C across a B with contiguous columns go direct at any
    depth, in blocks of depth with the partial sums kept in C, in groups
    of rows of about equal size (over 4 MiB of B, fetching ahead); many
    rows go through packed blocks, one row through the streaming form.
    Each is one chain of multiply-adds per element in the order p, so
    every way gives the same bits, for every thread count."""
    a = make_values(dtype, (m, k), (15, 1.0, 0.0))
    b = make_values(dtype, (k, n), (16, 1.0, 0.0))
    assert_matches_numpy(a, b)
    gufunc_matmul.set_num_threads(1)
    whole = ours(a, b)
    rows = np.concatenate([ours(a[i:i + 1], b) for i in range(m)])
    assert_bitwise_equal(rows, whole)
    many = ours(np.concatenate([a] * (200 // m + 1)), b)[:m]
    assert_bitwise_equal(many, whole)
    assert_same_bits_on_thread_counts(a, b, whole)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
@pytest.mark.parametrize("m", [5, 8, 16, 17])
@pytest.mark.parametrize("k, n", [(3000, 1500), (2048, 1024)], ids=["wide", "4-KiB-rows"])
def test_few_rows_of_a_b_from_memory_have_the_same_bits_on_every_set(dtype, m, k, n,
                                                                     restore_threads):
    """Up to 16 rows of a B larger than the caches (18 MB in float32)
    run on the AVX-512 set through the AVX2 loops, which stream it faster;
    a thread's share of fewer columns, or more rows, stays on the AVX-512
    loops, in shallower blocks of depth when B's rows are a multiple of
    4 KiB apart and a thread's share is 8 MiB or more.  All sum each
    element in the order p with fused multiply-adds: each SIMD set, thread
    count and row count gives the same bits (the portable set keeps its
    own loops, the same on any thread count)."""
    a = make_values(dtype, (m, k), (19, 1.0, 0.0))
    b = make_values(dtype, (k, n), (20, 1.0, 0.0))
    assert_matches_numpy(a, b)
    simd = None
    with every_isa() as isas:
        for isa in isas:
            gufunc_matmul.set_num_threads(1)
            whole = ours(a, b)
            if isa != "generic":
                simd = whole if simd is None else simd
                assert_bitwise_equal(whole, simd)
            assert_bitwise_equal(ours(a[:4], b), whole[:4])
            assert_bitwise_equal(ours(a[-1:], b), whole[-1:])
            assert_same_bits_on_thread_counts(a, b, whole, (2, 3))


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
@pytest.mark.parametrize("m, k, n, pad", [(7, 300, 128, 0), (13, 600, 1000, 24),
                                          (20, 257, 64, 0), (9, 100, 300, 84),
                                          (16, 1000, 2048, 0), (31, 64, 120, 8)])
@pytest.mark.parametrize("a_order", ["C", "F"])
def test_groups_of_rows_reading_a_copy_of_b_have_the_bits_of_one_row(
        dtype, m, k, n, pad, a_order, restore_threads):
    """On the AVX2 loops, the first group of rows of a strip copies what it
    reads of B for the other groups when B's rows are a multiple of 512
    bytes apart (here by padding them too).  Each element is still one
    chain of multiply-adds in the order p: it has the bits of its row
    computed alone, on each instruction set and thread count."""
    a = np.asarray(make_values(dtype, (m, k), (21, 1.0, 0.0)), order=a_order)
    b = np.zeros((k, n + pad), dtype)[:, :n]
    b[...] = make_values(dtype, (k, n), (22, 1.0, 0.0))
    assert_matches_numpy(a, b)
    with every_isa() as isas:
        for isa in isas:
            gufunc_matmul.set_num_threads(1)
            whole = ours(a, b)
            rows = np.concatenate([ours(a[i:i + 1], b) for i in range(m)])
            assert_bitwise_equal(rows, whole)
            assert_same_bits_on_thread_counts(a, b, whole, (2, 3))


@pytest.mark.parametrize("dtype, k, n", [(np.dtype("F"), 700, 400), (np.dtype("D"), 531, 275)],
                         ids=["complex64", "complex128"])
@pytest.mark.parametrize("m", [2, 3, 4, 5, 8, 13, 32])
def test_few_complex_rows_of_a_b_in_l3_have_the_bits_of_one_row(dtype, k, n, m,
                                                                 restore_threads):
    """Up to 32 rows of a complex B of 1 to 2.5 MiB take the direct path on
    the AVX-512 set, where the first group of rows fetches B's strips
    ahead, with accumulators in registers; one row accumulates in memory.
    Both are the same chains of multiply-adds: each row has the bits of the
    row computed alone, on each instruction set (the AVX2 set packs more
    than 16 rows) and thread count."""
    a = make_values(dtype, (m, k), (23, 1.0, 0.0))
    b = make_values(dtype, (k, n), (24, 1.0, 0.0))
    assert_matches_numpy(a, b)
    with every_isa() as isas:
        for isa in isas:
            gufunc_matmul.set_num_threads(1)
            whole = ours(a, b)
            if isa != "avx2" or m <= 16:
                rows = np.concatenate([ours(a[i:i + 1], b) for i in range(m)])
                assert_bitwise_equal(rows, whole)
            assert_same_bits_on_thread_counts(a, b, whole, (2, 3))


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdFDie"], ids=dtype_id)
def test_rows_packed_beside_late_b_panels_have_the_bits_of_shared_steps(dtype,
                                                                        restore_threads):
    """A blocked product of few enough rows for all of A's packed block to
    stay in L2, and a packed B block too large to, packs each micro-panel
    of B just before its tiles use it.  The depth blocks and the kernel
    are those of the shared steps that more rows take (here 400, a packed
    A block of over 1 MiB but in complex64): its rows have the bits of the
    same rows of the larger product, on each instruction set, thread
    count, a stack of two and a C with padded rows or in Fortran order
    (through the spare tile)."""
    k, n = 1100, 400
    many = make_values(dtype, (400, k), (25, 1.0, 0.0))
    b = make_values(dtype, (k, n), (26, 1.0, 0.0))
    for m in (49, 130):
        assert_matches_numpy(many[:m], b)
    with every_isa() as isas:
        for isa in isas:
            gufunc_matmul.set_num_threads(1)
            whole = ours(many, b)
            for m in (49, 130):
                a, expected = many[:m], whole[:m]
                assert_bitwise_equal(ours(a, b), expected)
                assert_same_bits_on_thread_counts(a, b, expected, (2, 3))
                stacked = ours(np.stack([a, a[::-1]]), b)
                assert_bitwise_equal(stacked[0], expected)
                assert_bitwise_equal(stacked[1], expected[::-1])
                padded_c = np.zeros((m, n + 3), dtype)[:, :n]
                ours(a, b, out=padded_c)
                assert_bitwise_equal(padded_c, expected)
                fortran_c = np.zeros((m, n), dtype, "F")
                ours(a, b, out=fortran_c)
                assert_bitwise_equal(fortran_c, expected)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
@pytest.mark.parametrize("gram", [False, True], ids=["product", "gram"])
def test_direct_split_by_columns_when_b_is_large(dtype, gram, restore_threads):
    """Threads split few rows times a B beyond the caches (over 8 MiB) by
    columns, so that B is read once, not once per slice of rows; a Gram
    matrix X.T @ X then computes the full product.  The bits are those of
    one thread, and of the packed path (more rows)."""
    x = make_values(dtype, (40000, 60), (17, 1.0, 0.0))
    a = x.T if gram else make_values(dtype, (64, 40000), (18, 1.0, 0.0))
    assert_matches_numpy(a, x)
    gufunc_matmul.set_num_threads(1)
    whole = ours(a, x)
    many = ours(np.concatenate([a] * 3), x)[:a.shape[0]]
    assert_bitwise_equal(many, whole)
    assert_same_bits_on_thread_counts(a, x, whole)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdFD"], ids=dtype_id)
def test_same_bits_for_every_thread_count_fortran_b(dtype, restore_threads):
    """Few rows times B in Fortran order: dot products per element, the
    columns split over threads (slices narrower than the whole)."""
    a = make_values(dtype, (4, 20000), (9, 1.0, 0.0))
    b = np.asfortranarray(make_values(dtype, (20000, 30), (10, 1.0, 0.0)))
    results = []
    for n in THREAD_COUNTS:
        gufunc_matmul.set_num_threads(n)
        results.append(ours(a, b))
    assert_matches_numpy(a, b)
    for r in results[1:]:
        assert_bitwise_equal(r, results[0])


FEW_COLUMNS_CASES = [
    (dtype, shapes) for dtype in "fd"
    for shapes in [((2000, 24), (24, 8)), ((500, 2000), (2000, 12)),
                   ((3, 300, 20), (3, 20, 6)), ((4, 90, 20), (20, 6))]
] + [
    # Copied as packed micro-panels: whole panels of the AVX2 sets and
    # half ones of AVX-512, some padded (gathered where strided).
    ("f", ((43, 945), (945, 16))), ("f", ((100, 100), (100, 14))),
    ("d", ((2, 64, 500), (2, 500, 11))), ("d", ((60, 300), (300, 12))),
    ("d", ((2, 64, 500), (2, 500, 6))),
]


@pytest.mark.parametrize("dtype, shapes", FEW_COLUMNS_CASES,
                         ids=[f"{c}-{'x'.join(map(str, s[0]))}@{'x'.join(map(str, s[1]))}"
                              for c, s in FEW_COLUMNS_CASES])
def test_many_rows_of_few_columns_fortran_b(dtype, shapes, restore_threads):
    """Many rows times a B of few columns in Fortran order: B is copied
    with contiguous columns when the broadcast form is faster than dot
    products (in rows of a packed micro-panel, zero beyond n, where B is
    wider than a quarter of one).  Then every element is the same one sum
    as with B in C order, on every instruction set and thread count."""
    dtype = np.dtype(dtype)
    a = make_values(dtype, shapes[0], (11, 1.0, 0.0))
    b = make_values(dtype, shapes[1], (12, 1.0, 0.0))
    b_fortran = np.swapaxes(np.swapaxes(b, -1, -2).copy(), -1, -2)
    assert b_fortran.strides[-2] == b.itemsize
    assert_matches_numpy(a, b_fortran)
    with every_isa() as isas:
        for _ in isas:
            for n in THREAD_COUNTS:
                gufunc_matmul.set_num_threads(n)
                assert_bitwise_equal(ours(a, b_fortran), ours(a, b))


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
@pytest.mark.parametrize("m,k,n", [(33, 4, 151), (3, 2, 149), (8, 7, 100), (2, 7, 40),
                                   (5, 1, 64), (12, 3, 17)])
def test_short_dot_products_have_the_bits_of_the_register_form(dtype, m, k, n,
                                                               restore_threads):
    """Dot products shallower than a vector (B in Fortran order, or A and
    B both) are scalar chains in the order p, the order of the form that
    keeps rows of C in registers: copying B (or A) in rows for whichever
    form is faster changes no bit.  A row computed alone stays a dot
    product; every layout and thread count gives the bits of B in C
    order."""
    a = make_values(dtype, (m, k), (25, 1.0, 0.0))
    b = make_values(dtype, (k, n), (26, 1.0, 0.0))
    a_f, b_f = _fortran_matrices(a), _fortran_matrices(b)
    assert_matches_numpy(a, b_f)
    assert_matches_numpy(a_f, b_f)
    gufunc_matmul.set_num_threads(1)
    whole = ours(a, b)
    assert_bitwise_equal(np.concatenate([ours(a[i:i + 1], b_f) for i in range(m)]), whole)
    for count in THREAD_COUNTS:
        gufunc_matmul.set_num_threads(count)
        assert_bitwise_equal(ours(a, b_f), whole)
        assert_bitwise_equal(ours(a_f, b_f), whole)
        assert_bitwise_equal(ours(a_f, b), whole)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdFDlgG"], ids=dtype_id)
@pytest.mark.parametrize("m, k, n", [(2, 2, 2), (3, 5, 4), (8, 8, 8), (16, 16, 16),
                                     (7, 20, 2), (4, 16, 30), (24, 24, 24)])
@pytest.mark.parametrize("layout", ["fortran", "moveaxis", "one-interleaved"])
def test_interleaved_stacks_have_the_bits_of_c_order_ones(dtype, m, k, n, layout,
                                                          restore_threads):
    """Stacks whose matrices interleave (the stack's axis the fastest in
    memory) are copied in C order (in chunks, when large enough) before the
    direct path, unless it streams them as they lie: each matrix has the
    bits of the same stack in C order, on each instruction set and thread
    count.  (Stacks of vector products keep their own loops.)"""
    a = make_values(dtype, (300, m, k), (33, 1.0, 0.0))
    b = make_values(dtype, (300, k, n), (34, 1.0, 0.0))
    interleave = {
        "fortran": np.asfortranarray,
        "moveaxis": lambda x: np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 0, -1)), -1, 0),
        "one-interleaved": lambda x: x if x is b else np.asfortranarray(x),
    }[layout]
    a_i, b_i = interleave(a), interleave(b)
    assert_matches_numpy(a_i, b_i)
    with every_isa() as isas:
        for _ in isas:
            gufunc_matmul.set_num_threads(1)
            c_order = ours(a, b)
            assert_bitwise_equal(ours(a_i, b_i), c_order)
            assert_same_bits_on_thread_counts(a_i, b_i, c_order)


def _vector_cases(dtype):
    """(A, B) pairs whose vector operand is not contiguous along the depth,
    against a matrix read as dot products."""
    mk = lambda shape, seed: make_values(dtype, shape, (seed, 1.0, 0.0))  # noqa: E731
    stack_of_columns = np.asfortranarray(mk((3, 250, 1), 26))
    return {
        "matrix @ strided vector": (mk((300, 400), 25), mk((1200,), 27)[::3]),
        "stack @ Fortran-order columns": (mk((3, 16, 250), 28), stack_of_columns),
        "strided row @ Fortran-order B": (mk((1, 1000), 29)[:, ::2],
                                          np.asfortranarray(mk((500, 60), 30))),
        "reversed vector @ Fortran-order B": (mk((700,), 31)[::-1],
                                              np.asfortranarray(mk((700, 9), 32))),
    }


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdFD"], ids=dtype_id)
@pytest.mark.parametrize("case", ["matrix @ strided vector", "stack @ Fortran-order columns",
                                  "strided row @ Fortran-order B",
                                  "reversed vector @ Fortran-order B"])
def test_a_strided_vector_has_the_bits_of_a_contiguous_one(dtype, case, restore_threads):
    """A vector operand whose elements are not adjacent, against a matrix
    read as dot products, is copied contiguous rather than summed in the
    scalar loop: the product has the bits of the one with a contiguous
    vector, on each instruction set and thread count."""
    a, b = _vector_cases(dtype)[case]
    assert_matches_numpy(a, b)
    contiguous = (np.ascontiguousarray(a), b) if b.ndim == 2 and b.shape[-1] > 1 \
        else (a, np.ascontiguousarray(b))
    with every_isa() as isas:
        for _ in isas:
            gufunc_matmul.set_num_threads(1)
            whole = ours(*contiguous)
            assert_bitwise_equal(ours(a, b), whole)
            assert_same_bits_on_thread_counts(a, b, whole)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdFD"], ids=dtype_id)
@pytest.mark.parametrize("m,k,n", [(40, 300, 1), (40, 300, 2), (2, 300, 40),
                                   (3, 300, 41), (7, 3000, 2), (33, 1207, 2),
                                   (41, 3, 1), (41, 12, 1), (3, 12, 41), (42, 24, 1), (6, 40, 3),
                                   (43, 70, 1)])
def test_dot_products_grouped_either_way_give_the_same_bits(dtype, m, k, n,
                                                            restore_threads):
    """Dot products (B in Fortran order, or a vector) of one to three rows
    or columns against many: grouped along either side, in groups of 1 to
    4 (lane sums of four rows at once), or as scalar chains when short,
    every element is the same sum as computed alone, for every thread
    count.
    (Complex rows of C over 32 bytes go in rows of a copy of B instead,
    see the next test.)"""
    if dtype.kind == "c" and n * dtype.itemsize > 32:
        pytest.skip("complex products of these columns copy B in rows")
    a = make_values(dtype, (m, k), (21, 1.0, 0.0))
    b = _fortran_matrices(make_values(dtype, (k, n), (22, 1.0, 0.0)))
    assert_matches_numpy(a, b)
    gufunc_matmul.set_num_threads(1)
    whole = ours(a, b)
    assert_bitwise_equal(np.concatenate([ours(a[i:i + 1], b) for i in range(m)]), whole)
    assert_bitwise_equal(np.concatenate([ours(a, b[:, j:j + 1]) for j in range(n)], axis=1),
                         whole)
    assert_same_bits_on_thread_counts(a, b, whole)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 9])
@pytest.mark.parametrize("m, n", [(301, 158), (1100, 1001)], ids=["C-in-L2", "C-of-MBs"])
def test_shallow_products_have_the_bits_of_narrow_ones(dtype, k, m, n, restore_threads):
    """Products of depth at most 8 run row by row across all of B (on
    the AVX-512 set, where C is larger than 4 MiB): every element is the
    same chain of multiply-adds as in a product of 16 columns or fewer
    (blocks of rows), or of one row, on every instruction set and thread
    count; columns past the last whole vector included."""
    a = make_values(dtype, (m, k), (23, 1.0, 0.0))
    b = make_values(dtype, (k, n), (24, 1.0, 0.0))
    assert_matches_numpy(a, b)
    with every_isa() as isas:
        for isa in isas:
            gufunc_matmul.set_num_threads(1)
            whole = ours(a, b)
            strips = np.concatenate([ours(a, b[:, j:j + 16]) for j in range(0, n, 16)],
                                    axis=1)
            assert_bitwise_equal(strips, whole)
            rows = np.concatenate([ours(a[i:i + 1], b) for i in range(0, m, 7)])
            assert_bitwise_equal(rows, whole[::7])
            assert_same_bits_on_thread_counts(a, b, whole)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdFDhlg"], ids=dtype_id)
@pytest.mark.parametrize("rows, k, n, layout", [(445, 151, 3, "C"), (445, 151, 3, "F"),
                                                (1000, 64, 64, "C"), (7, 5, 2, "F"),
                                                (300, 40, 17, "strided")])
def test_stack_sharing_one_matrix_is_one_product(dtype, rows, k, n, layout,
                                                 restore_threads):
    """Single rows stacked against one shared matrix, (s, 1, k) @ (k, n),
    are computed as the one product (s, k) @ (k, n), and a shared matrix
    times stacked single columns, (n, k) @ (s, k, 1), as (n, k) @ (k, s):
    the same values and bits as that product (views into the stack), for
    every thread count, and the values of NumPy."""
    x = make_values(dtype, (rows, k), (31, 1.0, 0.0))
    w = make_values(dtype, (k, n), (32, 1.0, 0.0))
    if layout == "F":
        w = np.asfortranarray(w)
    elif layout == "strided":
        x = np.repeat(x, 2, axis=1)[:, ::2]
        w = np.repeat(w, 3, axis=0)[::3]
    stacked_rows = x[:, None, :]
    stacked_cols = x[:, :, None]
    shared = w.T
    assert_matches_numpy(stacked_rows, w)
    assert_matches_numpy(shared, stacked_cols)
    gufunc_matmul.set_num_threads(1)
    by_rows = ours(x, w)
    # the layout of C as the stack lays it out: each column contiguous
    by_cols = np.empty((n, rows), dtype, order="F")
    ours(shared, x.T, out=by_cols)
    for count in THREAD_COUNTS:
        gufunc_matmul.set_num_threads(count)
        assert_bitwise_equal(ours(stacked_rows, w)[:, 0, :], by_rows)
        assert_bitwise_equal(ours(shared, stacked_cols)[:, :, 0], by_cols.T)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "efdFDlhg"], ids=dtype_id)
@pytest.mark.parametrize("stack, n", [((49, 3, 10), 50), ((1000, 4, 4), 4), ((20, 7, 2), 39),
                                      ((6, 37, 64), 33), ((300, 2, 151), 3)], ids=str)
def test_stack_of_matrices_sharing_one_matrix_is_one_product(dtype, stack, n, restore_threads):
    """(s, m, k) @ (k, n) with the rows of the stack (and of C) one stride
    apart is the one product (s m, k) @ (k, n), and (n, k) @ (s, k, m) with
    the columns one stride apart, (n, k) @ (k, s m): the same bits as that
    product (views into the stack), for every thread count; with C's rows
    padded (out=) each matrix is its own product, and NumPy's values
    either way."""
    s, m, k = stack
    rows = make_values(dtype, (s * m, k), (35, 1.0, 0.0))
    w = make_values(dtype, (k, n), (36, 1.0, 0.0))
    mats = rows.reshape(stack)
    # columns of B one stride apart across the stack: each matrix the
    # transpose of m consecutive rows
    cols = rows.reshape(stack).transpose(0, 2, 1)
    assert_matches_numpy(mats, w)
    assert_matches_numpy(w.T, cols)
    gufunc_matmul.set_num_threads(1)
    whole_rows = ours(rows, w)
    whole_cols = np.empty((s * m, n), dtype).T
    ours(w.T, rows.T, out=whole_cols)
    for count in THREAD_COUNTS:
        gufunc_matmul.set_num_threads(count)
        assert_bitwise_equal(ours(mats, w).reshape(s * m, n), whole_rows)
        by_cols = np.empty((s, m, n), dtype).transpose(0, 2, 1)
        ours(w.T, cols, out=by_cols)
        assert_bitwise_equal(by_cols.transpose(0, 2, 1).reshape(s * m, n), whole_cols.T)
        padded = np.zeros((s, m + 1, n), dtype)[:, 1:]
        ours(mats, w, out=padded)
        assert_values_match(padded, np.matmul(mats, w), mats, w)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "efdFDlh"], ids=dtype_id)
@pytest.mark.parametrize("stack, vector_first, fortran", [
    ((1000, 3, 3), False, False), ((100, 30, 20), False, False),
    ((64, 40, 70), False, False), ((300, 4, 5), True, True), ((702, 5, 2), True, True),
    ((50, 9, 33), True, True)], ids=str)
def test_stack_and_shared_vector_is_one_product(dtype, stack, vector_first, fortran,
                                                restore_threads):
    """A stack of matrices times one shared vector (or one vector times a
    stack), with rows (columns) one stride apart through the whole stack,
    is computed as one matrix-vector product: every element stays the dot
    product it is when its matrix is multiplied alone, for every thread
    count."""
    mats = make_values(dtype, stack, (33, 1.0, 0.0))
    if fortran:
        mats = _fortran_matrices(mats)
    v = make_values(dtype, (stack[1] if vector_first else stack[2],), (34, 1.0, 0.0))
    def product(x, **kwargs):
        return ours(v, x, **kwargs) if vector_first else ours(x, v, **kwargs)
    assert_matches_numpy(*((v, mats) if vector_first else (mats, v)))
    gufunc_matmul.set_num_threads(1)
    alone = np.stack([product(mats[s]) for s in range(stack[0])])
    for count in THREAD_COUNTS:
        gufunc_matmul.set_num_threads(count)
        assert_bitwise_equal(product(mats), alone)
        # rows of C not one stride apart across the stack: not one product
        padded = np.zeros((alone.shape[0], alone.shape[1] + 1), alone.dtype)[:, 1:]
        product(mats, out=padded)
        assert_bitwise_equal(padded, alone)
        # nor with the rows (columns) of each matrix reversed
        flipped = mats[:, :, ::-1] if vector_first else mats[:, ::-1]
        assert_bitwise_equal(product(flipped)[:, ::-1], alone)


def _fortran_matrices(x):
    """x with the same values, each matrix in Fortran order."""
    f = np.swapaxes(np.swapaxes(x, -1, -2).copy(), -1, -2)
    assert f.shape == x.shape and (f.ndim < 2 or f.strides[-2] == f.itemsize)
    return f


# (dtypes, shape of A, shape of B, layout of A, layout of B, the operand
# copied in rows): products the direct path cannot stream as given (or,
# for complex, only as dot products of many columns or of a short depth).
STAGED = [
    ("fd", (12, 75), (75, 10), "F", "F", "b"),
    ("fd", (2013, 4), (4, 7), "F", "F", "b"),
    ("fd", (4, 59), (59, 202), "F", "F", "a"),
    ("fd", (3, 42), (42, 38), "F", "F", "a"),
    ("fd", (6, 12, 30), (30, 9), "F", "F", "b"),
    ("fd", (40, 30), (30, 11), "C", "every-other", "b"),
    # B of at most the direct path's columns, no more than A has rows:
    # copied (as packed micro-panels where it is wide enough) rather than
    # packed whole
    ("fd", (43, 945), (945, 16), "C", "every-other", "b"),
    ("fd", (16, 2000), (2000, 12), "C", "every-other", "b"),
    ("fd", (30, 200), (200, 10), "every-other", "every-other", "b"),
    ("fd", (2, 20, 300), (2, 300, 7), "C", "every-other", "b"),
    ("fd", (16, 1000), (1000, 12), "F", "every-other", "b"),
    ("FD", (52, 838), (838, 5), "C", "F", "b"),
    ("FD", (500, 300), (300, 8), "C", "F", "b"),
    ("FD", (3, 42), (42, 38), "F", "F", "a"),
    ("FD", (2, 607), (607, 11), "F", "F", "a"),
    ("FD", (4, 40, 30), (4, 30, 12), "C", "F", "b"),
    # complex over a short depth: dot products would be mostly lane sums
    ("FD", (4, 2), (2, 132), "C", "F", "b"),
    ("FD", (2, 2), (2, 300), "F", "F", "b"),
    ("FD", (3, 2), (2, 5000), "F", "F", "b"),
    ("FD", (15, 3), (3, 40), "C", "F", "b"),
    ("FD", (22, 4, 2), (22, 2, 132), "F", "F", "b"),
]


def _laid_out(x, layout):
    if layout == "F":
        return _fortran_matrices(x)
    if layout == "every-other":
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
        wide[..., ::2] = x
        return wide[..., ::2]
    return x


@pytest.mark.parametrize("dtypes,shape_a,shape_b,layout_a,layout_b,copied", STAGED,
                         ids=[f"{c[1]}@{c[2]}-{c[3]}{c[4]}" for c in STAGED])
def test_operand_copied_in_rows_gives_its_bits(dtypes, shape_a, shape_b, layout_a,
                                               layout_b, copied, restore_threads):
    """A product that the direct path reads only through its plain loop
    (or complex dot products of many columns) runs on a copy of one
    operand in rows: every element has the bits of the product of that
    copy, on every instruction set and thread count, and NumPy's value."""
    for dtype in (np.dtype(c) for c in dtypes):
        a = make_values(dtype, shape_a, (19, 1.0, 0.0))
        b = make_values(dtype, shape_b, (20, 1.0, 0.0))
        a_given, b_given = _laid_out(a, layout_a), _laid_out(b, layout_b)
        assert_matches_numpy(a_given, b_given)
        with every_isa() as isas:
            for _ in isas:
                for n in THREAD_COUNTS:
                    gufunc_matmul.set_num_threads(n)
                    if copied == "a":
                        expected = ours(np.ascontiguousarray(a_given), b_given)
                    else:
                        expected = ours(a_given, np.ascontiguousarray(b_given))
                    assert_bitwise_equal(ours(a_given, b_given), expected)


@settings(max_examples=max(10, settings.default.max_examples // 5))
@given(data=st.data())
def test_thin_products_same_bits_for_every_thread_count(data):
    """Products of few rows or few columns, in any layout, long enough to
    be threaded: the direct path's slices of rows or columns must not
    change any bit."""
    dtype = data.draw(st.sampled_from([np.dtype(c) for c in "fdFD"]), label="dtype")
    thin = data.draw(st.integers(1, 12), label="thin")
    wide = data.draw(st.integers(1, 60), label="wide")
    m, n = (thin, wide) if data.draw(st.booleans(), label="thin rows") else (wide, thin)
    k = max(64, 2_000_000 // (m * n))
    a = data.draw(laid_out(make_values(dtype, (m, k), (m, 1.0, 0.0)),
                           allow_broadcast=False, allow_byteswap=False))
    b = data.draw(laid_out(make_values(dtype, (k, n), (n, 1.0, 0.0)),
                           allow_broadcast=False, allow_byteswap=False))
    results = []
    try:
        for count in THREAD_COUNTS:
            gufunc_matmul.set_num_threads(count)
            results.append(ours(a, b))
    finally:
        gufunc_matmul.set_num_threads(0)
    for r in results[1:]:
        assert_bitwise_equal(r, results[0])


GRAM_SHAPES = [(300, 40), (50, 200), (2000, 13), (129, 129), (1000, 97)]


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "bBhHiIqQefd"], ids=dtype_id)
def test_gram_matrix_has_the_bits_of_the_full_product(dtype, restore_threads):
    """X.T @ X and X @ X.T (B is A transposed in memory) compute one
    triangle and mirror it: the result is symmetric and has the bits of
    the same product with B copied, on every instruction set, thread count
    and memory order, for stacks and strided outputs too."""
    with every_isa() as isas:
        for isa in isas:
            for i, (n, d) in enumerate(GRAM_SHAPES):
                x = make_values(dtype, (n, d), (i, 1.0, 0.0))
                for xo in (x, np.asfortranarray(x)):
                    for threads in (1, 2):
                        gufunc_matmul.set_num_threads(threads)
                        with np.errstate(all="ignore"):
                            gram = matmul(xo.T, xo)
                            outer = matmul(xo[:60], xo[:60].T)
                            # a copy in the same layout takes the same path
                            assert_bitwise_equal(gram, matmul(xo.T, xo.copy(order="K")))
                            assert_bitwise_equal(
                                outer, matmul(xo[:60], xo[:60].T.copy(order="K")))
                        assert_bitwise_equal(gram, gram.T)
                assert_matches_numpy(x.T, x)
            stack = make_values(dtype, (3, 400, 50), (9, 1.0, 0.0))
            out = np.zeros((3, 100, 100), dtype)[:, ::2, ::2]
            with np.errstate(all="ignore"):
                result = matmul(stack.transpose(0, 2, 1), stack, out=out)
                assert_bitwise_equal(result,
                                     matmul(stack.transpose(0, 2, 1), stack.copy(order="K")))


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "efd"], ids=dtype_id)
def test_gram_matrix_with_nan_and_inf(dtype):
    x = make_values(dtype, (500, 60), (3, 1.0, 0.01))
    assert_matches_numpy(x.T, x)
    with np.errstate(all="ignore"):
        gram = matmul(x.T, x)
    assert_array_equal(np.isnan(gram), np.isnan(gram.T))
    assert_array_equal(gram[~np.isnan(gram)], gram.T[~np.isnan(gram)])


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdi"], ids=dtype_id)
def test_vector_times_few_columns_has_the_bits_of_a_row_of_a_product(dtype):
    """A vector times a matrix of up to 8 vectors of columns keeps its
    sums in registers: NumPy's values, and each element the bits it has
    as a row of a larger product, on every instruction set (a B beyond the
    caches, read with prefetches, included)."""
    cases = [(k, n) for k in (1, 5, 300) for n in (1, 3, 4, 8, 13, 16, 31, 32, 33, 64, 65)]
    cases.append((40000, 32))
    with every_isa() as isas:
        for isa in isas:
            for k, n in cases:
                rows = make_values(dtype, (5, k), (k, 1.0, 0.0))
                b = make_values(dtype, (k, n), (n, 1.0, 0.0))
                alone = assert_matches_numpy(rows[0], b)
                assert_bitwise_equal(alone, ours(rows, b)[0])


def _a_layouts(a):
    """A (C order) as the in-place kernels meet it: contiguous, rows padded,
    rows reversed, and rows a page apart (which packs A again)."""
    m, k = a.shape
    padded = np.zeros((m, k + 3), a.dtype)[:, :k]
    padded[...] = a
    page = np.zeros((m, -(-k * a.itemsize // 4096) * 4096 // a.itemsize), a.dtype)[:, :k]
    page[...] = a
    reversed_rows = np.ascontiguousarray(a[::-1])[::-1]
    return {"C": a, "padded": padded, "reversed": reversed_rows, "page-apart": page}


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
@pytest.mark.parametrize("m", [150, 1001])
def test_a_read_in_place_has_the_bits_of_packed_a(dtype, m, restore_threads):
    """Blocked products of few columns read A in C order where it lies,
    tile by tile down its rows: NumPy's values, and the bits of the same
    product with A packed (a view whose columns are not contiguous), on 1
    and 2 threads and every instruction set; rows around whole tiles,
    depths across depth blocks, A's rows padded, reversed or a page apart,
    C with padded rows, or in Fortran order (through the spare tile)."""
    with every_isa() as isas:
        for isa in isas:
            for k in (7, 64, 300, 1100):
                for n in (17, 64, 130):
                    a = make_values(dtype, (m, k), (k + n, 1.0, 0.0))
                    b = make_values(dtype, (k, n), (n, 1.0, 0.0))
                    packed_a = np.repeat(a, 2, axis=1)[:, ::2]
                    gufunc_matmul.set_num_threads(1)
                    expected = ours(packed_a, b)
                    for name, laid in _a_layouts(a).items():
                        assert_array_equal(laid, a)
                        for threads in (1, 2):
                            gufunc_matmul.set_num_threads(threads)
                            assert_bitwise_equal(ours(laid, b), expected)
                    assert_matches_numpy(a, b)
                    padded_c = np.zeros((m, n + 5), dtype)[:, :n]
                    ours(a, b, out=padded_c)
                    assert_bitwise_equal(padded_c, expected)
                    # C's columns apart: the plan may change with the layout
                    fortran_c = np.zeros((m, n), dtype, "F")
                    ours(a, b, out=fortran_c)
                    assert_values_match(fortran_c, reference(a, b), a, b)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
def test_blocks_of_dot_products_have_the_bits_of_single_ones(dtype, restore_threads):
    """Few rows of A times B in Fortran order (too few rows to copy B)
    are dot products computed in blocks of rows and columns that share
    their loads: every element has the bits of the same dot product
    computed alone (one row of A, one column of B), for blocks cut at
    every edge, depths around whole vectors and their groups, operands
    with padded rows or columns, 1 and 2 threads, on every instruction
    set; and NumPy's values."""
    with every_isa() as isas:
        for isa in isas:
            for k in (16, 17, 31, 32, 33, 64, 65, 100, 129, 300):
                for m, n in ((2, 2), (3, 2), (2, 5), (4, 3), (7, 6), (5, 7), (6, 19)):
                    a = make_values(dtype, (m, k), (k + m, 1.0, 0.0))
                    b = make_values(dtype, (k, n), (k + n, 1.0, 0.0))
                    b_f = np.asfortranarray(b)
                    a_padded = np.zeros((m, k + 5), dtype)[:, :k]
                    a_padded[...] = a
                    b_padded = np.zeros((n, k + 3), dtype)[:, :k].T
                    b_padded[...] = b
                    gufunc_matmul.set_num_threads(1)
                    alone = np.array([[ours(a[i], b_f[:, j]) for j in range(n)]
                                      for i in range(m)], dtype)
                    assert_bitwise_equal(
                        np.concatenate([ours(a[i:i + 1], b_f) for i in range(m)]), alone)
                    assert_bitwise_equal(
                        np.concatenate([ours(a, b_f[:, j:j + 1]) for j in range(n)], axis=1),
                        alone)
                    for threads in (1, 2):
                        gufunc_matmul.set_num_threads(threads)
                        for x in (a, a_padded):
                            for y in (b_f, b_padded):
                                assert_bitwise_equal(ours(x, y), alone)
                    assert_matches_numpy(a, b_f)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
def test_few_columns_copied_for_dot_products_have_the_bits_of_columns_alone(
        dtype, restore_threads):
    """Many rows times a B in C order of fewer columns than a vector holds
    go as dot products of a copy of B in columns (the broadcast form would
    leave most lanes empty): every column of C then has the bits of the
    matrix-vector product with that column of B, whatever B's row stride,
    for a stack too, on every thread count and each SIMD instruction set
    (the portable set keeps its own loop); and NumPy's values."""
    shapes = [((390, 216), (216, 3)), ((1000, 64), (64, 2)), ((5000, 100), (100, 2)),
              ((4, 500, 80), (4, 80, 2))]
    with every_isa() as isas:
        for isa in isas:
            if isa == "generic":
                continue
            for shape_a, shape_b in shapes:
                a = make_values(dtype, shape_a, (shape_a[-1], 1.0, 0.0))
                b = make_values(dtype, shape_b, (shape_b[-1], 1.0, 0.0))
                padded = np.zeros(shape_b[:-1] + (shape_b[-1] + 3,), dtype)[..., :shape_b[-1]]
                padded[...] = b
                gufunc_matmul.set_num_threads(1)
                columns = np.concatenate(
                    [ours(a, np.ascontiguousarray(b[..., j:j + 1])) for j in range(shape_b[-1])],
                    axis=-1)
                for threads in THREAD_COUNTS:
                    gufunc_matmul.set_num_threads(threads)
                    assert_bitwise_equal(ours(a, b), columns)
                    assert_bitwise_equal(ours(a, padded), columns)
                assert_matches_numpy(a, b)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
def test_every_row_of_a_direct_product_has_the_bits_of_the_row_alone(dtype):
    """The direct path computes rows of C in groups (8 or 4 rows, then the
    1 to 3 left together), each element one chain in the order p: every
    row of products of 1 to 13 rows has the bits of that row of A times B
    alone, for columns filling part of a vector, one, two and more, on
    every instruction set."""
    with every_isa() as isas:
        for isa in isas:
            for k in (7, 300):
                for n in (3, 10, 16, 30):
                    b = make_values(dtype, (k, n), (k + n, 1.0, 0.0))
                    for m in range(1, 14):
                        a = make_values(dtype, (m, k), (m + k, 1.0, 0.0))
                        whole = assert_matches_numpy(a, b)
                        rows = np.concatenate([ours(a[i:i + 1], b) for i in range(m)])
                        assert_bitwise_equal(whole, rows)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "FD"], ids=dtype_id)
def test_complex_products_of_few_columns_on_the_direct_path(dtype, restore_threads):
    """Complex products of up to 8 columns go direct (dot products when B
    is in Fortran order) rather than through tiles that would be mostly
    padding: NumPy's values and the same bits for every thread count, B in
    either order, on every instruction set."""
    with every_isa() as isas:
        for isa in isas:
            for m, k, n in ((6, 2000, 6), (10, 1000, 7), (8, 500, 8), (5, 40, 5)):
                a = make_values(dtype, (m, k), (m + k, 1.0, 0.0))
                b = make_values(dtype, (k, n), (k + n, 1.0, 0.0))
                for operand in (b, np.asfortranarray(b)):
                    gufunc_matmul.set_num_threads(1)
                    first = assert_matches_numpy(a, operand)
                    assert_same_bits_on_thread_counts(a, operand, first)


# Products too small to wake a sleeping pool thread (1e5 to 5e5
# multiply-adds), which use one that is still awake from the call before.
SMALL_SHAPES = [((48, 48), (48, 48)), ((64, 64), (64, 64)), ((64, 64), (64, 32)),
                ((30, 16, 16), (30, 16, 16)), ((1000, 4, 4), (1000, 4, 4)),
                ((100, 20, 20), (100, 20, 1))]


def test_small_products_called_back_to_back_have_the_bits_of_one_thread(restore_threads):
    """Calls in quick succession keep the pool's threads awake, and then
    small products share out their work: every call has the bits of the
    product on one thread."""
    cases = []
    for dtype in (np.dtype(c) for c in "fdDFie"):
        for shape_a, shape_b in SMALL_SHAPES:
            a = make_values(dtype, shape_a, (5, 1.0, 0.01))
            b = make_values(dtype, shape_b, (6, 1.0, 0.01))
            gufunc_matmul.set_num_threads(1)
            cases.append((a, b, assert_matches_numpy(a, b)))
    for threads in THREAD_COUNTS[1:]:
        gufunc_matmul.set_num_threads(threads)
        # NumPy's BLAS threads spin for a while after its last call; on a
        # machine of two cores ours would not get the other one.
        time.sleep(0.25)
        for a, b, alone in cases:
            for _ in range(10):
                assert_bitwise_equal(ours(a, b), alone)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
def test_last_panel_of_few_columns_has_the_bits_of_a_whole_one(dtype, restore_threads):
    """A last panel of B with at most half its columns runs the kernel's
    half form: every column of C has the bits it has when B has more
    columns (whole panels), with A packed or read in place, on every
    instruction set and thread count."""
    with every_isa() as isas:
        for isa in isas:
            for m, k, n in ((435, 265, 40), (200, 300, 80), (150, 70, 100), (37, 513, 17),
                            (1000, 64, 8 + 32)):
                a = make_values(dtype, (m, k), (m + n, 1.0, 0.0))
                wide = make_values(dtype, (k, n + 64), (k + n, 1.0, 0.0))
                b = wide[:, :n].copy()
                for operand in (a, np.asfortranarray(a)):
                    gufunc_matmul.set_num_threads(1)
                    whole = ours(operand, wide)[:, :n]
                    first = assert_matches_numpy(operand, b)
                    assert_bitwise_equal(first, whole)
                    assert_same_bits_on_thread_counts(operand, b, whole)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
def test_fortran_a_of_few_columns_computed_transposed(dtype, restore_threads):
    """A in Fortran order times few columns (x.T @ w) is computed as
    C^T = B^T A^T into a buffer and copied into C: NumPy's values, C with
    any strides (out=), stacks and a shared B, and the same bits for every
    thread count, on every instruction set."""
    with every_isa() as isas:
        for isa in isas:
            for stack, m, k, n in ((0, 504, 81, 2), (0, 3000, 300, 4), (0, 37, 1000, 7),
                                   (5, 229, 48, 2), (3, 70, 300, 8), (0, 9, 5, 3),
                                   (0, 3, 5, 2), (0, 8, 300, 4)):
                lead = (stack,) if stack else ()
                x = make_values(dtype, lead + (k, m), (m + k, 1.0, 0.0))
                a = np.swapaxes(x, -1, -2)
                for b in (make_values(dtype, lead + (k, n), (n, 1.0, 0.0)),
                          np.asfortranarray(make_values(dtype, (k, n), (n + 1, 1.0, 0.0)))):
                    gufunc_matmul.set_num_threads(1)
                    first = assert_matches_numpy(a, b)
                    out = np.full(first.shape[:-1] + (n + 3,), np.nan, dtype)[..., 1:n + 1]
                    assert matmul(a, b, out=out) is out
                    assert_bitwise_equal(out, first)
                    out_f = np.swapaxes(np.zeros(first.shape[:-2] + (n, m), dtype), -1, -2)
                    assert_values_match(matmul(a, b, out=out_f), reference(a, b), a, b)
                    assert_same_bits_on_thread_counts(a, b, first)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
def test_both_operands_in_fortran_order_computed_transposed(dtype, restore_threads):
    """A and B both in Fortran order (x.T @ w.T) are computed as C^T =
    B^T A^T, two operands in C order, into a buffer copied into C: every
    element has the bits of the product of C-order copies (one chain of
    multiply-adds in the order p either way), C with any strides (out=),
    stacks, for every thread count, on every instruction set."""
    with every_isa() as isas:
        for isa in isas:
            for stack, m, k, n in ((0, 15, 190, 26), (0, 22, 302, 72), (0, 30, 300, 40),
                                   (0, 12, 75, 10), (4, 12, 75, 10), (0, 100, 100, 100),
                                   (0, 5, 5, 2), (2, 40, 64, 8)):
                lead = (stack,) if stack else ()
                a = np.swapaxes(make_values(dtype, lead + (k, m), (m + k, 1.0, 0.0)), -1, -2)
                b = np.swapaxes(make_values(dtype, lead + (n, k), (n + 2, 1.0, 0.0)), -1, -2)
                gufunc_matmul.set_num_threads(1)
                in_c_order = ours(np.ascontiguousarray(a), np.ascontiguousarray(b))
                first = assert_matches_numpy(a, b)
                assert_bitwise_equal(first, in_c_order)
                out = np.full(first.shape[:-1] + (n + 3,), np.nan, dtype)[..., 1:n + 1]
                assert matmul(a, b, out=out) is out
                assert_bitwise_equal(out, first)
                assert_same_bits_on_thread_counts(a, b, first)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fd"], ids=dtype_id)
def test_rows_times_fortran_b_as_dot_products_have_the_bits_of_one_row(dtype, restore_threads):
    """x @ w.T of up to a few dozen rows over a deep B in Fortran order
    runs as dot products rather than packed: NumPy's values, and each row
    of C the bits of that row computed alone (dot products grouped any
    way sum the same lanes), for every thread count and instruction set."""
    with every_isa() as isas:
        for isa in isas:
            for m, k, n in ((30, 300, 40), (16, 300, 128), (64, 1200, 40), (32, 600, 128),
                            (7, 96, 250)):
                a = make_values(dtype, (m, k), (m + 3, 1.0, 0.0))
                b = np.swapaxes(make_values(dtype, (n, k), (n + 5, 1.0, 0.0)), 0, 1)
                gufunc_matmul.set_num_threads(1)
                first = assert_matches_numpy(a, b)
                for i in (0, m // 2, m - 1):
                    assert_bitwise_equal(ours(a[i:i + 1], b), first[i:i + 1])
                assert_same_bits_on_thread_counts(a, b, first)
