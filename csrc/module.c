/*
 * gufunc_matmul._core: the Python module.
 *
 * The only file that talks to Python and NumPy.  It registers one
 * generalized ufunc, "matmul", whose numeric loops decode NumPy's
 * (args, dimensions, steps) into a gm_problem for the kernel library, and
 * whose object loop uses Python's * and +.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_25_API_VERSION
#define NPY_TARGET_VERSION NPY_1_25_API_VERSION
#include <numpy/ndarraytypes.h>
#include <numpy/ufuncobject.h>

#include <limits.h>
#include <string.h>

#include "gufunc_matmul.h"

#define MATMUL_SIGNATURE "(n?,k),(k,m?)->(n?,m?)"

/* The loops, in the order of numpy.matmul.types: (NumPy type number,
 * kernel type).  The platform's long is 32 or 64 bits. */
#define GM_LONG_TYPE(s, u) (sizeof(long) == 8 ? (s) : (u))
static const struct { int npy_type; gm_type type; } numeric_loops[] = {
    {NPY_BOOL, GM_BOOL},
    {NPY_BYTE, GM_INT8},
    {NPY_UBYTE, GM_UINT8},
    {NPY_SHORT, GM_INT16},
    {NPY_USHORT, GM_UINT16},
    {NPY_INT, GM_INT32},
    {NPY_UINT, GM_UINT32},
    {NPY_LONG, GM_LONG_TYPE(GM_INT64, GM_INT32)},
    {NPY_ULONG, GM_LONG_TYPE(GM_UINT64, GM_UINT32)},
    {NPY_LONGLONG, GM_INT64},
    {NPY_ULONGLONG, GM_UINT64},
    {NPY_HALF, GM_FLOAT16},
    {NPY_FLOAT, GM_FLOAT32},
    {NPY_DOUBLE, GM_FLOAT64},
    {NPY_LONGDOUBLE, GM_LONGDOUBLE},
    {NPY_CFLOAT, GM_COMPLEX64},
    {NPY_CDOUBLE, GM_COMPLEX128},
    {NPY_CLONGDOUBLE, GM_CLONGDOUBLE},
};
#define NUM_NUMERIC_LOOPS (sizeof numeric_loops / sizeof numeric_loops[0])
#define NUM_LOOPS (NUM_NUMERIC_LOOPS + 1)   /* + object */

/*
 * NumPy calls a loop with dimensions = {outer count, n, k, m} (core
 * dimensions in order of first appearance in the signature) and steps =
 * {three outer strides, A: n k, B: k m, C: n m}.  A missing optional
 * dimension arrives as size 1.
 */
static gm_problem decode_problem(char **args, npy_intp const *dims,
                                 npy_intp const *steps)
{
    gm_problem p;
    p.batch = dims[0];
    p.m = dims[1];
    p.k = dims[2];
    p.n = dims[3];
    p.a = (gm_operand){args[0], steps[0], steps[3], steps[4]};
    p.b = (gm_operand){args[1], steps[1], steps[5], steps[6]};
    p.c = (gm_operand){args[2], steps[2], steps[7], steps[8]};
    return p;
}

static void matmul_numeric_loop(char **args, npy_intp const *dims,
                                npy_intp const *steps, void *data)
{
    gm_problem p = decode_problem(args, dims, steps);
    p.type = (gm_type)(intptr_t)data;
    (void)gm_matmul(&p);   /* cannot fail: the type and sizes are valid */
}

static PyObject *load_object(const char *p)
{
    PyObject *obj;
    memcpy(&obj, p, sizeof obj);
    return obj != NULL ? obj : Py_None;
}

/* One element of an object product: sum of A[i,p] * B[p,j], starting from
 * the first product, or the int 0 when k == 0.  New reference or NULL. */
static PyObject *object_dot(const char *a, npy_intp a_step, const char *b,
                            npy_intp b_step, npy_intp k)
{
    if (k == 0) {
        return PyLong_FromLong(0);
    }
    PyObject *sum = NULL;
    for (npy_intp p = 0; p < k; ++p) {
        PyObject *product = PyNumber_Multiply(load_object(a + p * a_step),
                                              load_object(b + p * b_step));
        if (product == NULL) {
            Py_XDECREF(sum);
            return NULL;
        }
        if (sum == NULL) {
            sum = product;
            continue;
        }
        PyObject *next = PyNumber_Add(sum, product);
        Py_DECREF(sum);
        Py_DECREF(product);
        if (next == NULL) {
            return NULL;
        }
        sum = next;
    }
    return sum;
}

static void matmul_object_loop(char **args, npy_intp const *dims,
                               npy_intp const *steps, void *NPY_UNUSED(data))
{
    gm_problem p = decode_problem(args, dims, steps);
    for (npy_intp s = 0; s < p.batch; ++s) {
        const char *a = p.a.data + s * p.a.batch_stride;
        const char *b = p.b.data + s * p.b.batch_stride;
        char *c = p.c.data + s * p.c.batch_stride;
        for (npy_intp i = 0; i < p.m; ++i) {
            for (npy_intp j = 0; j < p.n; ++j) {
                PyObject *value = object_dot(
                    a + i * p.a.row_stride, p.a.col_stride,
                    b + j * p.b.col_stride, p.b.row_stride, p.k);
                if (value == NULL) {
                    return;   /* the ufunc machinery raises the error */
                }
                char *slot = c + i * p.c.row_stride + j * p.c.col_stride;
                PyObject *old;
                memcpy(&old, slot, sizeof old);
                memcpy(slot, &value, sizeof value);
                Py_XDECREF(old);
            }
        }
    }
}

static PyUFuncGenericFunction loop_functions[NUM_LOOPS];
static void *loop_data[NUM_LOOPS];
static char loop_types[3 * NUM_LOOPS];

static const char matmul_doc[] =
    "Matrix product of two arrays, with the semantics of numpy.matmul.\n"
    "\n"
    "A generalized ufunc with signature ``(n?,k),(k,m?)->(n?,m?)``: the last\n"
    "two axes of each operand are the matrices and any leading axes are\n"
    "broadcast as a stack.  A 1-D first operand is treated as a row vector\n"
    "and a 1-D second operand as a column vector; the added axis is removed\n"
    "from the result.\n"
    "\n"
    "Parameters\n"
    "----------\n"
    "x1, x2 : array_like\n"
    "    Input arrays, scalars not allowed.\n"
    "out : ndarray, optional\n"
    "    A location into which the result is stored.  It must have the shape\n"
    "    of the result; it may overlap the inputs.  If not provided or None,\n"
    "    a freshly-allocated array is returned.\n"
    "**kwargs\n"
    "    ``axes``, ``dtype``, ``casting``, ``order``, ``subok`` and\n"
    "    ``signature`` work as for any generalized ufunc.\n"
    "\n"
    "Returns\n"
    "-------\n"
    "y : ndarray or scalar\n"
    "    The matrix product of the inputs.  A scalar only when both inputs\n"
    "    are 1-D vectors.\n"
    "\n"
    "Raises\n"
    "------\n"
    "ValueError\n"
    "    If the last dimension of `x1` is not the same size as the\n"
    "    second-to-last dimension of `x2`, if the stacks do not broadcast,\n"
    "    or if a scalar value is passed in.\n"
    "\n"
    "Notes\n"
    "-----\n"
    "Integers wrap around in their own type and bool is the logical OR of\n"
    "ANDs, as in NumPy.  float16 products are summed in float32 and rounded\n"
    "once.  Complex vectors are not conjugated.  Object arrays use the\n"
    "elements' own ``*`` and ``+``.\n"
    "\n"
    "Examples\n"
    "--------\n"
    ">>> import numpy as np\n"
    ">>> from gufunc_matmul import matmul\n"
    ">>> matmul(np.array([[1, 0], [0, 1]]), np.array([[4, 1], [2, 2]]))\n"
    "array([[4, 1],\n"
    "       [2, 2]])\n"
    ">>> matmul(np.array([2j, 3j]), np.array([2j, 3j]))\n"
    "np.complex128(-13+0j)\n";

/* numpy.matmul's own type resolver, so that mixed inputs promote exactly as
 * they do there. */
static int copy_numpy_type_resolver(PyUFuncObject *ufunc)
{
    PyObject *numpy = PyImport_ImportModule("numpy");
    if (numpy == NULL) {
        return -1;
    }
    PyObject *reference = PyObject_GetAttrString(numpy, "matmul");
    Py_DECREF(numpy);
    if (reference == NULL) {
        return -1;
    }
    if (PyObject_TypeCheck(reference, &PyUFunc_Type)) {
        ufunc->type_resolver = ((PyUFuncObject *)reference)->type_resolver;
    }
    Py_DECREF(reference);
    return 0;
}

static PyObject *create_matmul(void)
{
    for (size_t i = 0; i < NUM_NUMERIC_LOOPS; ++i) {
        loop_functions[i] = matmul_numeric_loop;
        loop_data[i] = (void *)(intptr_t)numeric_loops[i].type;
        memset(loop_types + 3 * i, numeric_loops[i].npy_type, 3);
    }
    loop_functions[NUM_NUMERIC_LOOPS] = matmul_object_loop;
    loop_data[NUM_NUMERIC_LOOPS] = NULL;
    memset(loop_types + 3 * NUM_NUMERIC_LOOPS, NPY_OBJECT, 3);

    PyObject *ufunc = PyUFunc_FromFuncAndDataAndSignature(
        loop_functions, loop_data, loop_types, (int)NUM_LOOPS, 2, 1,
        PyUFunc_None, "matmul", matmul_doc, 0, MATMUL_SIGNATURE);
    if (ufunc == NULL) {
        return NULL;
    }
    PyUFuncObject *uf = (PyUFuncObject *)ufunc;
    /*
     * The default output flags let the iterator assume that an output
     * overlapping an input is read and written element by element, which a
     * matrix product is not: without NPY_ITER_OVERLAP_ASSUME_ELEMENTWISE
     * the iterator copies an overlapping operand first.
     */
    uf->op_flags[2] = NPY_ITER_WRITEONLY | NPY_ITER_UPDATEIFCOPY
                      | NPY_ITER_ALIGNED | NPY_ITER_ALLOCATE
                      | NPY_ITER_NO_BROADCAST | NPY_ITER_NO_SUBTYPE;
    if (copy_numpy_type_resolver(uf) < 0) {
        Py_DECREF(ufunc);
        return NULL;
    }
    return ufunc;
}

static PyObject *py_select_isa(PyObject *NPY_UNUSED(self), PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL) {
        return NULL;
    }
    if (gm_select_isa(name) != 0) {
        PyErr_Format(PyExc_ValueError,
                     "instruction set %R is not available here (available: %s)",
                     arg, gm_available_isas());
        return NULL;
    }
    return PyUnicode_FromString(gm_isa_name());
}

static PyObject *py_isa(PyObject *NPY_UNUSED(self), PyObject *NPY_UNUSED(arg))
{
    return PyUnicode_FromString(gm_isa_name());
}

static PyObject *py_available_isas(PyObject *NPY_UNUSED(self),
                                   PyObject *NPY_UNUSED(arg))
{
    return PyUnicode_FromString(gm_available_isas());
}

/* {type character: kernel name} for the numeric loops. */
static PyObject *py_kernel_names(PyObject *NPY_UNUSED(self),
                                 PyObject *NPY_UNUSED(arg))
{
    PyObject *names = PyDict_New();
    if (names == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < NUM_NUMERIC_LOOPS; ++i) {
        PyArray_Descr *descr = PyArray_DescrFromType(numeric_loops[i].npy_type);
        if (descr == NULL) {
            Py_DECREF(names);
            return NULL;
        }
        char key[2] = {descr->type, '\0'};
        Py_DECREF(descr);
        PyObject *value = PyUnicode_FromString(gm_kernel_name(numeric_loops[i].type));
        if (value == NULL || PyDict_SetItemString(names, key, value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(names);
            return NULL;
        }
        Py_DECREF(value);
    }
    return names;
}

static PyObject *py_set_num_threads(PyObject *NPY_UNUSED(self), PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 0 || n > INT_MAX || gm_set_num_threads((int)n) != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "the number of threads must be a non-negative integer");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *NPY_UNUSED(self),
                                    PyObject *NPY_UNUSED(arg))
{
    return PyLong_FromLong(gm_get_num_threads());
}

static PyMethodDef module_methods[] = {
    {"_set_num_threads", py_set_num_threads, METH_O,
     "Threads per call (0: OpenMP's default)."},
    {"_get_num_threads", py_get_num_threads, METH_NOARGS,
     "Threads a large call may use."},
    {"_select_isa", py_select_isa, METH_O,
     "Use the kernels for an instruction set; returns the one now in use."},
    {"_isa", py_isa, METH_NOARGS, "The instruction set of the kernels in use."},
    {"_available_isas", py_available_isas, METH_NOARGS,
     "Comma-separated instruction sets this build and CPU can run."},
    {"_kernel_names", py_kernel_names, METH_NOARGS,
     "The kernel set in use for each numeric type character."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_core",
    "Compiled core of gufunc_matmul: the matmul ufunc and kernel selection.",
    -1, module_methods, NULL, NULL, NULL, NULL,
};

#ifdef _OPENMP
#define GM_OPENMP 1
#else
#define GM_OPENMP 0
#endif

#if defined(__clang__)
#define GM_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define GM_COMPILER "gcc " __VERSION__
#elif defined(_MSC_VER)
#define GM_COMPILER "msvc " Py_STRINGIFY(_MSC_VER)
#else
#define GM_COMPILER "unknown C compiler"
#endif

PyMODINIT_FUNC PyInit__core(void)
{
    import_array();
    import_umath();

    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    PyObject *matmul = create_matmul();
    if (matmul == NULL || PyModule_AddObject(module, "matmul", matmul) < 0) {
        Py_XDECREF(matmul);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddStringConstant(module, "_compiler", GM_COMPILER) < 0
            || PyModule_AddIntConstant(module, "_openmp", GM_OPENMP) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
