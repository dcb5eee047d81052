"""threadpoolctl sees the kernels' thread pool and can limit it."""
import numpy as np
import pytest

import gufunc_matmul

threadpoolctl = pytest.importorskip("threadpoolctl")
if not hasattr(threadpoolctl, "register"):
    pytest.skip("threadpoolctl too old for custom controllers", allow_module_level=True)


def _ours():
    return [info for info in threadpoolctl.threadpool_info()
            if info["internal_api"] == "gufunc_matmul"]


def test_pool_is_listed_once_with_the_current_thread_count():
    found = _ours()
    assert len(found) == 1
    assert found[0]["num_threads"] == gufunc_matmul.get_num_threads()
    assert found[0]["version"] == gufunc_matmul.__version__


@pytest.mark.parametrize("user_api", [None, "gufunc_matmul"])
def test_limits_apply_and_are_restored(user_api):
    before = gufunc_matmul.get_num_threads()
    with threadpoolctl.threadpool_limits(1, user_api=user_api):
        assert gufunc_matmul.get_num_threads() == 1
        a = np.random.default_rng(0).random((300, 300))
        np.testing.assert_allclose(gufunc_matmul.matmul(a, a), a @ a)
    assert gufunc_matmul.get_num_threads() == before
