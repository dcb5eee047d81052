"""numpy.matmul as a generalized ufunc with fast C kernels.

``gufunc_matmul.matmul`` is a :class:`numpy.ufunc` with the signature
``(n?,k),(k,m?)->(n?,m?)`` that gives the results, dtypes, shapes and errors
of :func:`numpy.matmul`.  ``vecdot``, ``matvec`` and ``vecmat`` are the
generalized ufuncs of NumPy 2.2's functions of those names, on the same
kernels.  :class:`MatmulArray` (made by :func:`asarray`) is an ndarray whose
``@`` operator uses them.
"""
import operator as _operator
import os as _os

from . import _core
from ._core import matmul
from ._core import matvec, vecdot, vecmat
from ._array import MatmulArray, asarray
from ._config import show_config

__version__ = "0.1.0"
__all__ = ["matmul", "set_num_threads", "get_num_threads", "show_config",
           "__version__", "vecdot", "matvec", "vecmat", "MatmulArray",
           "asarray"]


def set_num_threads(n: int) -> None:
    """Set the number of threads one large product may use.

    ``0`` restores the default: one thread per CPU this process may run on.  Results are bitwise identical for any number of
    threads.  Calls made at the same time from several Python threads run
    on one thread each, so the machine is never oversubscribed.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        n = _operator.index(n)
    _core._set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads a large product may use."""
    return _core._get_num_threads()


# Instruction set of the kernels: GUFUNC_MATMUL_ISA=generic|avx2|avx512|avx512-wide|neon
# forces one (an unknown or unsupported name is an error at import).
_isa_request = _os.environ.get("GUFUNC_MATMUL_ISA", "auto").strip().lower()
_core._select_isa(_isa_request or "auto")

# Pickle finds a ufunc by its __name__ in its __module__; NumPy >= 2.1 lets
# a ufunc carry one.  Older NumPy finds it by searching loaded modules.
try:
    matmul.__module__ = __name__
except (AttributeError, TypeError):
    pass
for _ufunc in (vecdot, matvec, vecmat):
    try:
        _ufunc.__module__ = __name__
    except (AttributeError, TypeError):
        pass
del _ufunc
# MatmulArray pickles by its public name, wherever its code lives.
MatmulArray.__module__ = __name__

# threadpoolctl (optional) sees and limits the kernels' threads.
from . import _threadpoolctl

_threadpoolctl.register()

# GUFUNC_MATMUL_NUM_THREADS sets the threads per call at import.
_threads_request = _os.environ.get("GUFUNC_MATMUL_NUM_THREADS", "").strip()
if _threads_request:
    set_num_threads(int(_threads_request))
