"""numpy.matmul as a generalized ufunc with fast C kernels.

``gufunc_matmul.matmul`` is a :class:`numpy.ufunc` with the signature
``(n?,k),(k,m?)->(n?,m?)`` that gives the results, dtypes, shapes and errors
of :func:`numpy.matmul`.
"""
import os as _os

from . import _core
from ._core import matmul
from ._config import show_config

__version__ = "0.1.0"
__all__ = ["matmul", "show_config", "__version__"]

# Instruction set of the kernels: GUFUNC_MATMUL_ISA=generic|avx2|avx512|neon
# forces one (an unknown or unsupported name is an error at import).
_isa_request = _os.environ.get("GUFUNC_MATMUL_ISA", "auto").strip().lower()
_core._select_isa(_isa_request or "auto")

# Pickle finds a ufunc by its __name__ in its __module__; NumPy >= 2.1 lets
# a ufunc carry one.  Older NumPy finds it by searching loaded modules.
try:
    matmul.__module__ = __name__
except (AttributeError, TypeError):
    pass
