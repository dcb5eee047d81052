"""Hypothesis strategies for matmul operands.

Hypothesis draws the *description* of an operand pair (core sizes, stack
shapes, memory layout, value distribution, a random seed); the values
themselves come from a NumPy generator seeded from the draw, which keeps the
large operands (up to hundreds of elements per side) cheap to generate.

Layouts go through :func:`place`, which copies a C-ordered array into a
fresh buffer with any axis order (C, Fortran, transposed), any step per axis
(strided, negative = reversed) and any byte offset (unaligned data), with
garbage bytes in the gaps so that an out-of-bounds read shows up as a wrong
value.
"""
import math

import numpy as np
from hypothesis import note
from hypothesis import strategies as st

#: Type characters of numpy.matmul's numeric loops, in its order (``l`` and
#: ``q`` are both 64-bit on LP64 platforms but are distinct loops).
NUMERIC_CHARS = "?bBhHiIlLqQefdgFDG"
NUMERIC_DTYPES = [np.dtype(c) for c in NUMERIC_CHARS]
FLOAT_DTYPES = [d for d in NUMERIC_DTYPES if d.kind in "fc"]
INT_DTYPES = [d for d in NUMERIC_DTYPES if d.kind in "iu"]

#: Upper bound on batch * m * k * n for one generated product.
MAX_WORK = 300_000


def dtype_id(dtype):
    """A test id that tells ``l`` and ``q`` apart."""
    dtype = np.dtype(dtype)
    return f"{dtype.char}-{dtype.name}"


# ---------------------------------------------------------------- sizes


@st.composite
def core_sizes(draw):
    """(m, k, n): tiny, small, around the blocking, or one dimension large.

    Kernel sets block at up to mc = 192 rows, kc = 1024 depth and
    nc = 4096 columns, with tiles up to 12 x 32 (generic: 64, 256, 256 and
    4 x 4), and go blocked past up to 32**3 multiply-adds.  Sizes go past
    each of these while m * k * n stays modest.
    """
    kind = draw(st.sampled_from(
        ["tiny", "small", "medium", "big_m", "big_k", "big_n", "huge_n", "edges"]))
    if kind == "tiny":
        m, k, n = (draw(st.integers(0, 4)) for _ in range(3))
    elif kind == "small":
        m, k, n = (draw(st.integers(0, 17)) for _ in range(3))
    elif kind == "medium":
        m, k, n = (draw(st.integers(1, 48)) for _ in range(3))
    elif kind == "big_m":
        m = draw(st.integers(49, 420))
        k = draw(st.integers(0, 40))
        n = draw(st.integers(0, 12))
    elif kind == "big_k":
        m = draw(st.integers(0, 10))
        k = draw(st.integers(100, 1600))
        n = draw(st.integers(0, 10))
    elif kind == "big_n":
        m = draw(st.integers(0, 12))
        k = draw(st.integers(0, 40))
        n = draw(st.integers(49, 300))
    elif kind == "huge_n":
        m = draw(st.integers(2, 3))
        k = draw(st.integers(1, 8))
        n = draw(st.integers(4000, 4300))
    else:  # sizes on either side of tile and block edges
        edge = st.sampled_from([1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17,
                                23, 24, 25, 31, 32, 33, 63, 64, 65, 95, 96, 97,
                                143, 144, 145, 191, 192, 193])
        m, n = draw(edge), draw(edge)
        k = draw(st.sampled_from([1, 2, 3, 5, 16, 17, 255, 256, 257, 383, 384,
                                  385, 511, 512, 513, 767, 768, 769,
                                  1023, 1024, 1025]))
        while m * n * k > MAX_WORK:
            k = max(1, k // 2)
    return m, k, n


@st.composite
def stack_shapes(draw, ndims_a, ndims_b, work):
    """Two mutually broadcastable stack shapes of at most ndims_a and ndims_b
    dimensions, with sizes 0 to 3 and 1s to broadcast.  ``work`` is the cost
    of one product; the stack is made of ones when it would cost too much."""
    full_len = draw(st.integers(0, max(ndims_a, ndims_b)))
    full = [draw(st.sampled_from([0, 1, 2, 3])) for _ in range(full_len)]
    if math.prod(full) * max(work, 1) > MAX_WORK:
        full = [1] * full_len

    def derive(max_dims):
        nd = draw(st.integers(0, min(max_dims, full_len)))
        dims = full[full_len - nd:]
        return tuple(1 if draw(st.integers(0, 3)) == 0 else d for d in dims)

    return derive(ndims_a), derive(ndims_b)


# --------------------------------------------------------------- layouts


def place(x, perm, steps, offset, fill=0xA5):
    """A view with the values of ``x`` in a new buffer laid out as asked.

    ``perm`` lists the axes from the slowest-varying in memory to the
    fastest; ``steps`` is the step per axis (negative: reversed); ``offset``
    is the byte offset of the buffer (1 makes wide types unaligned).  The
    bytes between elements are ``fill``.
    """
    dtype = x.dtype
    base_shape = [n * abs(s) for n, s in zip(x.shape, steps)]
    mem_shape = [base_shape[p] for p in perm]
    nbytes = math.prod(mem_shape) * dtype.itemsize
    raw = np.full(nbytes + offset + 8, fill, dtype=np.uint8)
    base = raw[offset:offset + nbytes].view(dtype).reshape(mem_shape)
    logical = base.transpose(np.argsort(perm))
    view = logical[tuple(slice(None, None, s) for s in steps) + (Ellipsis,)]
    assert view.shape == x.shape
    view[...] = x
    return view


@st.composite
def layouts(draw, ndim, itemsize):
    """Arguments for :func:`place`: (perm, steps, offset)."""
    style = draw(st.sampled_from(
        ["C", "C", "F", "T", "permuted", "reversed", "strided", "mixed"]))
    perm = list(range(ndim))
    steps = [1] * ndim
    if style == "F":
        perm = perm[::-1]
    elif style == "T" and ndim >= 2:
        perm[-2], perm[-1] = perm[-1], perm[-2]
    elif style == "permuted":
        perm = draw(st.permutations(perm))
    elif style == "reversed":
        steps = [draw(st.sampled_from([1, -1])) for _ in range(ndim)]
    elif style == "strided":
        steps = [draw(st.sampled_from([1, 2, 3])) for _ in range(ndim)]
    elif style == "mixed":
        perm = draw(st.permutations(perm))
        steps = [draw(st.sampled_from([1, -1, 2, -3])) for _ in range(ndim)]
    offset = 0
    if itemsize > 1 and draw(st.integers(0, 3)) == 0:
        offset = draw(st.sampled_from(sorted({1, itemsize // 2, itemsize - 1})))
    return list(perm), steps, offset


@st.composite
def laid_out(draw, x, allow_broadcast=True, allow_byteswap=True):
    """``x`` (C-ordered) in a drawn memory layout and byte order.

    With ``allow_broadcast`` one axis may become a zero-stride broadcast of
    its first entry, which changes the values (that is fine for inputs).
    """
    if allow_byteswap and x.dtype.itemsize > 1 and draw(st.integers(0, 4)) == 0:
        x = x.astype(x.dtype.newbyteorder())
    perm, steps, offset = draw(layouts(x.ndim, x.dtype.itemsize))
    fill = draw(st.sampled_from([0x00, 0xA5, 0xFF]))
    if allow_broadcast and x.ndim and x.size and draw(st.integers(0, 9)) == 0:
        axis = draw(st.integers(0, x.ndim - 1))
        first = np.take(x, [0], axis=axis)
        one = place(first, perm, steps, offset, fill)
        result = np.broadcast_to(one, x.shape)
    else:
        result = place(x, perm, steps, offset, fill)
    note(f"operand dtype={result.dtype.str} shape={result.shape} "
         f"strides={result.strides} aligned={result.flags.aligned} "
         f"layout={(perm, steps, offset)}")
    return result


# ---------------------------------------------------------------- values

#: Values that float inputs sometimes hold; zeros matter because 0 * inf is
#: NaN and must not be skipped.
SPECIAL_FLOATS = [np.nan, np.inf, -np.inf, -0.0, 0.0]


def _real_values(rng, dtype, shape, scale):
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        if scale == "full":
            info = np.iinfo(dtype)
            return rng.integers(info.min, info.max, size=shape,
                                endpoint=True, dtype=dtype.newbyteorder("="))
        lo = 0 if dtype.kind == "u" else -4
        return rng.integers(lo, 5, size=shape).astype(dtype)
    # floats: normal values of a moderate magnitude
    if scale == "full":
        scale = 1.0
    return (rng.standard_normal(size=shape) * scale).astype(dtype)


@st.composite
def value_recipes(draw, dtype):
    """How to fill an operand: (seed, scale, special-value density)."""
    seed = draw(st.integers(0, 2**32 - 1))
    if dtype.kind in "iu":
        scale = draw(st.sampled_from(["full", "full", "small"]))
        specials = 0.0
    elif dtype.kind in "fc":
        if dtype.itemsize == 2:          # float16: keep sums mostly finite
            scale = draw(st.sampled_from([1.0, 4.0, 1e-3, 30.0]))
        else:
            scale = draw(st.sampled_from([1.0, 1.0, 1e-3, 1e3]))
        specials = draw(st.sampled_from([0.0, 0.0, 0.0, 0.01, 0.2]))
    else:
        scale, specials = "full", 0.0
    return seed, scale, specials


def make_values(dtype, shape, recipe):
    """A C-ordered array of ``shape`` and ``dtype`` filled by ``recipe``."""
    seed, scale, specials = recipe
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    if dtype.kind == "c":
        part = np.dtype(dtype.char.lower())
        x = np.empty(shape, dtype)
        x.real = _real_values(rng, part, shape, scale)
        x.imag = _real_values(rng, part, shape, scale)
    else:
        x = _real_values(rng, dtype, shape, scale)
    if specials and x.size and dtype.kind in "fc":
        mask = rng.random(shape) < specials
        if not mask.any():
            mask.flat[rng.integers(x.size)] = True
        picks = rng.choice(np.array(SPECIAL_FLOATS), size=int(mask.sum()))
        if dtype.kind == "c":
            which = rng.integers(0, 2, size=picks.size)
            z = x[mask]
            z.real[which == 0] = picks[which == 0]
            z.imag[which == 1] = picks[which == 1]
            x[mask] = z
        else:
            x[mask] = picks
    return np.ascontiguousarray(x, dtype=dtype)


@st.composite
def operand(draw, dtype, shape, **layout_kw):
    """One operand: values drawn by recipe, then laid out."""
    dtype = np.dtype(dtype)
    x = make_values(dtype, shape, draw(value_recipes(dtype)))
    if dtype.kind == "b" and x.size and draw(st.integers(0, 4)) == 0:
        # bools stored as arbitrary non-zero bytes: any non-zero is True
        seed = draw(st.integers(0, 2**32 - 1))
        raw = np.random.default_rng(seed).integers(0, 256, size=shape,
                                                   dtype=np.uint8)
        raw[raw % 3 == 0] = 0
        x = raw.view(np.bool_)
        return draw(laid_out(x, allow_byteswap=False, **layout_kw))
    return draw(laid_out(x, **layout_kw))


# ---------------------------------------------------------- operand pairs


@st.composite
def matmul_shapes(draw):
    """Shapes (shape_a, shape_b) of a valid matmul, any mix of 1-D and
    stacked operands."""
    m, k, n = draw(core_sizes())
    kind = draw(st.sampled_from(["mm", "mm", "mm", "vm", "mv", "vv"]))
    if kind == "vv":
        return (k,), (k,)
    work = m * k * n if kind == "mm" else (n if kind == "vm" else m) * k
    ndims_a = 0 if kind == "vm" else 3
    ndims_b = 0 if kind == "mv" else 3
    stack_a, stack_b = draw(stack_shapes(ndims_a, ndims_b, work))
    shape_a = (k,) if kind == "vm" else stack_a + (m, k)
    shape_b = (k,) if kind == "mv" else stack_b + (k, n)
    return shape_a, shape_b


@st.composite
def operand_pairs(draw, dtype_a, dtype_b=None, shapes=None):
    """(a, b) that numpy.matmul accepts, of the given dtypes."""
    dtype_b = dtype_a if dtype_b is None else dtype_b
    shape_a, shape_b = draw(matmul_shapes() if shapes is None else shapes)
    a = draw(operand(dtype_a, shape_a))
    b = draw(operand(dtype_b, shape_b))
    return a, b
