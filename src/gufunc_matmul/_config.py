"""Build and runtime configuration report."""
import platform
import sys

import numpy as np


def config() -> dict:
    """The configuration as a dict (what :func:`show_config` prints)."""
    from . import __version__, _core

    return {
        "gufunc_matmul": __version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "compiler": _core._compiler,
        "isa": _core._isa(),
        "available_isas": _core._available_isas(),
        "kernels": _core._kernel_names(),
    }


def show_config() -> None:
    """Print the version, NumPy version, compiler and kernels in use."""
    info = config()
    kernels = info.pop("kernels")
    width = max(len(key) for key in info)
    for key, value in info.items():
        print(f"{key:<{width}} : {value}")
    print("kernels:")
    names = [np.dtype(code).name for code in kernels]
    for code, name in kernels.items():
        dtype = np.dtype(code)
        label = dtype.name
        # Two type codes of one size (long and long long on most 64-bit
        # Unix) share a name: the scalar type tells them apart.
        if names.count(label) > 1 and dtype.type.__name__ != label:
            label += f" ({dtype.type.__name__})"
        print(f"  {label:<19} {name}")
