"""The vendoring script's file lists name every file of the C library, so
that a NumPy fork patched with it builds what this package builds."""
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "vendor" / "patch_numpy.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="needs the source tree")
def test_patch_script_lists_every_library_file():
    spec = importlib.util.spec_from_file_location("patch_numpy", SCRIPT)
    patch_numpy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(patch_numpy)
    patch_numpy.check_library(ROOT / "csrc")   # raises on a mismatch
    listed = set(patch_numpy.HEADERS + patch_numpy.CORE_SOURCES)
    assert {"gm_stream.h", "gm_pack_x86.h", "driver.c"} <= listed
