"""MatmulArray: an ndarray whose matrix products run on gufunc_matmul.

``ndarray.__matmul__`` cannot be replaced, but every matrix product of an
ndarray ends in a call of ``numpy.matmul`` (the ``@`` and ``@=`` operators
call it, with ``out=`` and ``axes=`` for the in-place one), and a call of a
ufunc with a subclass operand that defines ``__array_ufunc__`` is handed to
that method.  So MatmulArray changes one thing only: in ``__array_ufunc__``
it swaps NumPy's matmul (and vecdot, matvec, vecmat) for gufunc_matmul's
and lets ndarray's machinery do the rest, on views of a plain subclass
(_Operand) so that NumPy's own rules still pick the type of each result.

The operator methods themselves are ndarray's, inherited unchanged: their
deferral rules (``__array_ufunc__ = None``, ``__array_priority__``, the
other operand's reflected method), the error for an in-place product that
would change the shape and the casting of ``@=`` are NumPy's own, not a copy
of them.
"""
import numpy as np

from . import _core

__all__ = ["MatmulArray", "asarray"]


def _replacements():
    """{NumPy's ufunc: ours} for the functions this NumPy has."""
    table = {np.matmul: _core.matmul}
    for name in ("vecdot", "matvec", "vecmat"):
        theirs = getattr(np, name, None)
        if isinstance(theirs, np.ufunc):
            table[theirs] = getattr(_core, name)
    return table


# NumPy's ufuncs that MatmulArray operands send to ours instead.
_REPLACEMENTS = _replacements()


class _Operand(np.ndarray):
    """A MatmulArray as ndarray's ufunc machinery is shown it: a subclass
    with no ``__array_ufunc__`` of its own, so that NumPy applies its usual
    rules to choose the type of a result (a subclass of higher
    ``__array_priority__`` wins, the first of equal ones, and a 0-d result
    is a NumPy scalar as it is for ndarray)."""

    def __array_wrap__(self, array, context=None, return_scalar=False):
        if return_scalar:
            return array[()]
        return array.view(_Operand)


def _operand(obj):
    """A MatmulArray as an _Operand view; anything else unchanged."""
    return obj.view(_Operand) if isinstance(obj, MatmulArray) else obj


# NumPy 2 tells __array_wrap__ when a 0-d result is to be a scalar; NumPy
# 1.x never does and keeps 0-d subclass arrays, where ndarray gives scalars.
_WRAP_GIVES_SCALARS = np.lib.NumpyVersion(np.__version__) >= "2.0.0"


def _wrap(result, given_out):
    """One ufunc result: the caller's own ``out`` array when there was one,
    a MatmulArray where NumPy chose the MatmulArray operand's type (a NumPy
    scalar for 0-d, as for ndarray), and anything else (NumPy scalars, other
    subclasses) as it is."""
    if given_out is not None:
        return given_out
    if isinstance(result, _Operand):
        if result.ndim == 0 and not _WRAP_GIVES_SCALARS:
            return result[()]
        return result.view(MatmulArray)
    return result


class MatmulArray(np.ndarray):
    """An ndarray whose matrix products are computed by gufunc_matmul.

    ``a @ b``, ``b @ a`` (``b`` any array_like), ``a @= b`` and
    ``numpy.matmul`` with a MatmulArray operand call
    :data:`gufunc_matmul.matmul`; ``numpy.vecdot``, ``numpy.matvec`` and
    ``numpy.vecmat`` call gufunc_matmul's functions of the same name.
    Everything else (indexing, views, other ufuncs, printing, pickling)
    is ndarray's, with MatmulArray results where ndarray gives arrays.

    Make one with :func:`gufunc_matmul.asarray` or ``x.view(MatmulArray)``.

    Examples
    --------
    >>> import numpy as np
    >>> import gufunc_matmul
    >>> a = gufunc_matmul.asarray([[1., 2.], [3., 4.]])
    >>> a @ np.array([1., 1.])
    MatmulArray([3., 7.])
    >>> np.array([1., 1.]) @ a @ np.array([1., 1.])
    np.float64(10.0)
    """

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        ufunc = _REPLACEMENTS.get(ufunc, ufunc)
        given = kwargs.get("out")
        if given is not None:       # NumPy passes out= as a tuple
            kwargs["out"] = tuple(_operand(o) for o in given)
        if "where" in kwargs:
            kwargs["where"] = _operand(kwargs["where"])
        result = super().__array_ufunc__(
            ufunc, method, *(_operand(x) for x in inputs), **kwargs)
        if result is NotImplemented or method == "at":
            return result
        if method == "__call__" and getattr(ufunc, "nout", 1) > 1:
            given = given if given is not None else (None,) * len(result)
            return tuple(_wrap(r, o) for r, o in zip(result, given))
        return _wrap(result, None if given is None else given[0])


def asarray(obj, dtype=None):
    """Convert the input to a MatmulArray.

    Parameters
    ----------
    obj : array_like
        Anything :func:`numpy.asarray` accepts: arrays, lists, scalars,
        objects with ``__array__`` or the buffer protocol.
    dtype : data-type, optional
        The element type; by default the one :func:`numpy.asarray` infers.

    Returns
    -------
    MatmulArray
        ``obj`` itself when it is a MatmulArray of that dtype; otherwise a
        MatmulArray view of ``numpy.asarray(obj, dtype)``, which copies only
        when that does (a conversion to another dtype, a Python list, ...).

    Examples
    --------
    >>> import numpy as np
    >>> import gufunc_matmul
    >>> x = np.arange(4.0).reshape(2, 2)
    >>> a = gufunc_matmul.asarray(x)
    >>> a.base is x
    True
    >>> a @ a
    MatmulArray([[ 2.,  3.],
                 [ 6., 11.]])
    """
    if type(obj) is MatmulArray and (dtype is None or obj.dtype == np.dtype(dtype)):
        return obj
    return np.asarray(obj, dtype=dtype).view(MatmulArray)
