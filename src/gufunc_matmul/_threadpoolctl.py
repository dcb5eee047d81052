"""Makes the kernels' thread pool visible to threadpoolctl, when installed.

threadpoolctl finds thread pools by the shared libraries a process has
loaded; this controller recognises the compiled core by the two functions
it exports for the purpose.
"""
import ctypes

try:
    import threadpoolctl
except ImportError:  # optional
    threadpoolctl = None


def register() -> bool:
    """Register the controller; False where threadpoolctl cannot take one."""
    if threadpoolctl is None or not hasattr(threadpoolctl, "register"):
        return False

    class GufuncMatmulController(threadpoolctl.LibController):
        user_api = "gufunc_matmul"
        internal_api = "gufunc_matmul"
        filename_prefixes = ("_core",)
        check_symbols = ("gufunc_matmul_get_num_threads",
                         "gufunc_matmul_set_num_threads")

        def get_num_threads(self):
            get = getattr(self.dynlib, "gufunc_matmul_get_num_threads", None)
            return None if get is None else get()

        def set_num_threads(self, num_threads):
            set_ = getattr(self.dynlib, "gufunc_matmul_set_num_threads", None)
            if set_ is not None:
                set_(ctypes.c_int(num_threads))

        def get_version(self):
            from . import __version__
            return __version__

    threadpoolctl.register(GufuncMatmulController)
    return True
