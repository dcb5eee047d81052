"""The examples of numpy.matmul's documentation, with our matmul."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from gufunc_matmul import matmul


def test_2d_matrices():
    a = np.array([[1, 0], [0, 1]])
    b = np.array([[4, 1], [2, 2]])
    result = matmul(a, b)
    assert_array_equal(result, np.array([[4, 1], [2, 2]]), strict=True)


def test_matrix_times_vector():
    a = np.array([[1, 0], [0, 1]])
    b = np.array([1, 2])
    assert_array_equal(matmul(a, b), np.array([1, 2]), strict=True)
    assert_array_equal(matmul(b, a), np.array([1, 2]), strict=True)


def test_lists_are_converted():
    assert_array_equal(matmul([[1, 0], [0, 1]], [1, 2]), np.array([1, 2]),
                       strict=True)


def test_stacked_matrices_broadcast():
    a = np.arange(2 * 2 * 4).reshape((2, 2, 4))
    b = np.arange(2 * 2 * 4).reshape((2, 4, 2))
    result = matmul(a, b)
    assert result.shape == (2, 2, 2)
    assert result[0, 1, 1] == sum(a[0, 1, :] * b[0, :, 1])
    assert_array_equal(result, np.array([[[28, 34], [76, 98]],
                                         [[428, 466], [604, 658]]]),
                       strict=True)


def test_stack_broadcast_against_matrix():
    a = np.ones([9, 5, 7, 4])
    c = np.ones([9, 5, 4, 3])
    assert matmul(a, c).shape == (9, 5, 7, 3)


def test_complex_vector_product_is_not_conjugated():
    result = matmul([2j, 3j], [2j, 3j])
    assert result == (-13 + 0j)
    assert type(result) is np.complex128


def test_vector_dot_gives_scalar():
    result = matmul(np.array([1, 2, 3]), np.array([4, 5, 6]))
    assert type(result) is np.int64
    assert result == 32


SCALAR_MESSAGE = ("matmul: Input operand {} does not have enough dimensions "
                  "(has 0, gufunc core with signature (n?,k),(k,m?)->(n?,m?) "
                  "requires 1)")


def test_scalar_second_operand_raises():
    with pytest.raises(ValueError) as excinfo:
        matmul([1, 2], 3)
    assert str(excinfo.value) == SCALAR_MESSAGE.format(1)


def test_scalar_first_operand_raises():
    with pytest.raises(ValueError) as excinfo:
        matmul(3, [1, 2])
    assert str(excinfo.value) == SCALAR_MESSAGE.format(0)


def test_at_operator_on_arrays_is_numpy_not_ours():
    """ndarray's @ stays numpy.matmul; ours is called explicitly."""
    a = np.array([[1, 2], [3, 4]])
    assert_array_equal(a @ a, matmul(a, a), strict=True)


def test_docstring_examples_run():
    """The examples in matmul.__doc__ give what they show."""
    import doctest

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(matmul.__doc__ or "", "matmul", globs={})
    assert tests and tests[0].examples, "no examples in the docstring"
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
