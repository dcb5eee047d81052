"""Type stubs for gufunc_matmul's public API."""
from typing import Any, Final

import numpy as np
from numpy import ufunc
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["matmul", "set_num_threads", "get_num_threads", "show_config",
           "__version__", "vecdot", "matvec", "vecmat", "MatmulArray",
           "asarray"]

__version__: Final[str]

# Generalized ufuncs; calling one returns Any (numpy.ufunc.__call__), like
# NumPy's functions of the same names: an ndarray, or a NumPy scalar.
matmul: ufunc   # "(n?,k),(k,m?)->(n?,m?)"
vecdot: ufunc   # "(n),(n)->()"
matvec: ufunc   # "(m,n),(n)->(m)"
vecmat: ufunc   # "(n),(n,m)->(m)"

class MatmulArray(np.ndarray[Any, Any]): ...

def asarray(obj: ArrayLike, dtype: DTypeLike = None) -> MatmulArray: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def show_config() -> None: ...
