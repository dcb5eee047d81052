"""Hypothesis profiles for the test suite.

Choose one with the environment variable GUFUNC_MATMUL_HYPOTHESIS_PROFILE:

- ``default``: about 200 examples per property; the whole suite runs in a
  few minutes on two cores.
- ``ci``: the same amount of work, derandomized (the same examples on every
  run) and without the example database, so that CI is reproducible.
- ``sanitized``: the ``ci`` examples cut to 25 per property, for the run
  under AddressSanitizer (several times slower), which looks for memory
  errors rather than wrong values: CI runs the full ``ci`` profile too.
- ``long``: several thousand examples per property, for a soak run.
"""
import os

from hypothesis import HealthCheck, settings

_common = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

settings.register_profile("default", max_examples=200, **_common)
settings.register_profile("ci", max_examples=200, derandomize=True,
                          database=None, **_common)
settings.register_profile("sanitized", max_examples=25, derandomize=True,
                          database=None, **_common)
settings.register_profile("long", max_examples=5000, **_common)

settings.load_profile(os.environ.get("GUFUNC_MATMUL_HYPOTHESIS_PROFILE", "default"))
