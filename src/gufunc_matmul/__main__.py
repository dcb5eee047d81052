"""``python -m gufunc_matmul``: self-check against NumPy and a short benchmark.

Run with ``--help`` for the options; the logic lives in ``_selfcheck``.
"""
import sys

from ._selfcheck import main

if __name__ == "__main__":
    sys.exit(main())
