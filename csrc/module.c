/*
 * gufunc_matmul._core: the Python module.
 *
 * The only file that talks to Python and NumPy.  It registers four
 * generalized ufuncs, "matmul", "vecdot", "matvec" and "vecmat", whose
 * numeric loops decode NumPy's (args, dimensions, steps) into a gm_problem
 * for the kernel library, and whose object loops use Python's * and +.
 * The three vector functions are matmul with one or both matrix sizes
 * fixed at 1, so they run on the same kernels.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_25_API_VERSION
#define NPY_TARGET_VERSION NPY_1_25_API_VERSION
#include <numpy/ndarraytypes.h>
#include <numpy/ufuncobject.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gufunc_matmul.h"

/* The loops, in the order of numpy.matmul.types, which is also that of
 * numpy.vecdot, matvec and vecmat: NumPy type number, kernel type and
 * element size.  The platform's long is 32 or 64 bits. */
#define GM_LONG_TYPE(s, u) (sizeof(long) == 8 ? (s) : (u))
typedef struct numeric_type {
    int npy_type;
    gm_type type;
    ptrdiff_t size;
} numeric_type;

static const numeric_type numeric_loops[] = {
    {NPY_BOOL, GM_BOOL, sizeof(npy_bool)},
    {NPY_BYTE, GM_INT8, sizeof(npy_byte)},
    {NPY_UBYTE, GM_UINT8, sizeof(npy_ubyte)},
    {NPY_SHORT, GM_INT16, sizeof(npy_short)},
    {NPY_USHORT, GM_UINT16, sizeof(npy_ushort)},
    {NPY_INT, GM_INT32, sizeof(npy_int)},
    {NPY_UINT, GM_UINT32, sizeof(npy_uint)},
    {NPY_LONG, GM_LONG_TYPE(GM_INT64, GM_INT32), sizeof(npy_long)},
    {NPY_ULONG, GM_LONG_TYPE(GM_UINT64, GM_UINT32), sizeof(npy_ulong)},
    {NPY_LONGLONG, GM_INT64, sizeof(npy_longlong)},
    {NPY_ULONGLONG, GM_UINT64, sizeof(npy_ulonglong)},
    {NPY_HALF, GM_FLOAT16, sizeof(npy_half)},
    {NPY_FLOAT, GM_FLOAT32, sizeof(npy_float)},
    {NPY_DOUBLE, GM_FLOAT64, sizeof(npy_double)},
    {NPY_LONGDOUBLE, GM_LONGDOUBLE, sizeof(npy_longdouble)},
    {NPY_CFLOAT, GM_COMPLEX64, sizeof(npy_cfloat)},
    {NPY_CDOUBLE, GM_COMPLEX128, sizeof(npy_cdouble)},
    {NPY_CLONGDOUBLE, GM_CLONGDOUBLE, sizeof(npy_clongdouble)},
};
#define NUM_NUMERIC_LOOPS (sizeof numeric_loops / sizeof numeric_loops[0])
#define NUM_LOOPS (NUM_NUMERIC_LOOPS + 1)   /* + object */

/*
 * NumPy calls a loop with dimensions = {outer count, then the core
 * dimensions in order of first appearance in the signature} and steps =
 * {one outer stride per operand, then each operand's core strides in
 * signature order}.  A decoder turns them into one product description,
 * C (batch x m x n) = A (batch x m x k) @ B (batch x k x n).
 *
 * The vector functions fix m or n (or both) at 1.  Such a dimension is
 * never stepped along, so its stride is free: it is given as one element
 * (`unit`), which shows the kernels the layout of a contiguous vector.
 */
typedef gm_problem (*decode_fn)(char **args, npy_intp const *dims,
                                npy_intp const *steps, ptrdiff_t unit);

/* (n?,k),(k,m?)->(n?,m?): dims {count, n, k, m}, steps {3 outer, A: n k,
 * B: k m, C: n m}.  A missing optional dimension arrives as size 1. */
static gm_problem decode_matmul(char **args, npy_intp const *dims,
                                npy_intp const *steps,
                                ptrdiff_t NPY_UNUSED(unit))
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

/* (n),(n)->(): dims {count, n}, steps {3 outer, x: n, y: n}.  One row
 * times one column. */
static gm_problem decode_vecdot(char **args, npy_intp const *dims,
                                npy_intp const *steps, ptrdiff_t unit)
{
    gm_problem p;
    p.batch = dims[0];
    p.m = 1;
    p.k = dims[1];
    p.n = 1;
    p.a = (gm_operand){args[0], steps[0], unit, steps[3]};
    p.b = (gm_operand){args[1], steps[1], steps[4], unit};
    p.c = (gm_operand){args[2], steps[2], unit, unit};
    return p;
}

/* (m,n),(n)->(m): dims {count, m, n}, steps {3 outer, A: m n, x: n, y: m}.
 * The vector is one column. */
static gm_problem decode_matvec(char **args, npy_intp const *dims,
                                npy_intp const *steps, ptrdiff_t unit)
{
    gm_problem p;
    p.batch = dims[0];
    p.m = dims[1];
    p.k = dims[2];
    p.n = 1;
    p.a = (gm_operand){args[0], steps[0], steps[3], steps[4]};
    p.b = (gm_operand){args[1], steps[1], steps[5], unit};
    p.c = (gm_operand){args[2], steps[2], steps[6], unit};
    return p;
}

/* (n),(n,m)->(m): dims {count, n, m}, steps {3 outer, x: n, B: n m, y: m}.
 * The vector is one row. */
static gm_problem decode_vecmat(char **args, npy_intp const *dims,
                                npy_intp const *steps, ptrdiff_t unit)
{
    gm_problem p;
    p.batch = dims[0];
    p.m = 1;
    p.k = dims[1];
    p.n = dims[2];
    p.a = (gm_operand){args[0], steps[0], unit, steps[3]};
    p.b = (gm_operand){args[1], steps[1], steps[4], steps[5]};
    p.c = (gm_operand){args[2], steps[2], unit, steps[6]};
    return p;
}

/* What distinguishes one ufunc from another. */
typedef struct ufunc_spec {
    const char *name;
    const char *signature;
    const char *doc;
    decode_fn decode;
    int conjugate_first;   /* complex and object: conj(first operand) */
    int empty_is_none;     /* object, k == 0: None (else the int 0) */
} ufunc_spec;

/* The data NumPy passes to each loop: its ufunc and element type. */
typedef struct loop_entry {
    const ufunc_spec *spec;
    const numeric_type *numeric;   /* NULL for the object loop */
} loop_entry;

static void product_loop(char **args, npy_intp const *dims,
                         npy_intp const *steps, void *data)
{
    const loop_entry *entry = (const loop_entry *)data;
    gm_problem p = entry->spec->decode(args, dims, steps, entry->numeric->size);
    p.type = entry->numeric->type;
    /* The driver lays vector products out for streaming. */
    if (entry->spec->conjugate_first) {
        (void)gm_matmul_conj(&p);   /* cannot fail: the type and sizes are valid */
    }
    else {
        (void)gm_matmul(&p);
    }
}

static PyObject *load_object(const char *p)
{
    PyObject *obj;
    memcpy(&obj, p, sizeof obj);
    return obj != NULL ? obj : Py_None;
}

/* One element of an object product, k >= 1: the sum of A[i,p] * B[p,j]
 * (of A[i,p].conjugate() * B[p,j] when `conjugate`), starting from the
 * first product.  New reference or NULL. */
static PyObject *object_dot(const char *a, npy_intp a_step, const char *b,
                            npy_intp b_step, npy_intp k, int conjugate)
{
    PyObject *sum = NULL;
    for (npy_intp p = 0; p < k; ++p) {
        PyObject *x = load_object(a + p * a_step);
        PyObject *conjugated = NULL;
        if (conjugate) {
            conjugated = PyObject_CallMethod(x, "conjugate", NULL);
            if (conjugated == NULL) {
                Py_XDECREF(sum);
                return NULL;
            }
            x = conjugated;
        }
        PyObject *product = PyNumber_Multiply(x, load_object(b + p * b_step));
        Py_XDECREF(conjugated);
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

/* An empty sum: matmul gives the int 0, NumPy's vector functions None. */
static PyObject *object_empty_sum(const ufunc_spec *spec)
{
    if (spec->empty_is_none) {
        Py_INCREF(Py_None);
        return Py_None;
    }
    return PyLong_FromLong(0);
}

static void object_loop(char **args, npy_intp const *dims,
                        npy_intp const *steps, void *data)
{
    const ufunc_spec *spec = ((const loop_entry *)data)->spec;
    gm_problem p = spec->decode(args, dims, steps, sizeof(PyObject *));
    for (npy_intp s = 0; s < p.batch; ++s) {
        const char *a = p.a.data + s * p.a.batch_stride;
        const char *b = p.b.data + s * p.b.batch_stride;
        char *c = p.c.data + s * p.c.batch_stride;
        for (npy_intp i = 0; i < p.m; ++i) {
            for (npy_intp j = 0; j < p.n; ++j) {
                PyObject *value = p.k == 0 ? object_empty_sum(spec) : object_dot(
                    a + i * p.a.row_stride, p.a.col_stride,
                    b + j * p.b.col_stride, p.b.row_stride, p.k,
                    spec->conjugate_first);
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

static const char vecdot_doc[] =
    "Dot product of vectors, with the semantics of numpy.vecdot.\n"
    "\n"
    "A generalized ufunc with signature ``(n),(n)->()``: the last axis of\n"
    "each operand holds the vectors and any leading axes are broadcast.\n"
    "For complex input the first operand is conjugated:\n"
    "``sum(conj(x1) * x2)``.\n"
    "\n"
    "Parameters\n"
    "----------\n"
    "x1, x2 : array_like\n"
    "    Input arrays, scalars not allowed.\n"
    "out : ndarray, optional\n"
    "    A location into which the result is stored; it may overlap the\n"
    "    inputs.  If not provided or None, a freshly-allocated array is\n"
    "    returned.\n"
    "**kwargs\n"
    "    ``axis`` (the axis of the vectors in both operands), ``axes``,\n"
    "    ``keepdims``, ``dtype``, ``casting``, ``order``, ``subok`` and\n"
    "    ``signature`` work as for any generalized ufunc.\n"
    "\n"
    "Returns\n"
    "-------\n"
    "y : ndarray or scalar\n"
    "    The dot products; a scalar when both inputs are 1-D.\n"
    "\n"
    "Raises\n"
    "------\n"
    "ValueError\n"
    "    If the vectors differ in length, the other axes do not broadcast,\n"
    "    or a scalar is passed in.\n"
    "\n"
    "Notes\n"
    "-----\n"
    "Computed by the matmul kernels as a 1 x n by n x 1 product, with\n"
    "matmul's rules for integers, bool and float16.  Object arrays call the\n"
    "first operand's elements' ``conjugate()`` and use ``*`` and ``+``.\n"
    "\n"
    "Examples\n"
    "--------\n"
    ">>> import numpy as np\n"
    ">>> from gufunc_matmul import vecdot\n"
    ">>> vecdot(np.array([[1., 2.], [3., 4.]]), np.array([1., 1.]))\n"
    "array([3., 7.])\n"
    ">>> vecdot(np.array([1j, 2]), np.array([1j, 2]))\n"
    "np.complex128(5+0j)\n";

static const char matvec_doc[] =
    "Matrix-vector product, with the semantics of numpy.matvec.\n"
    "\n"
    "A generalized ufunc with signature ``(m,n),(n)->(m)``: the last two\n"
    "axes of the first operand are the matrices, the last axis of the\n"
    "second the vectors, and any leading axes are broadcast.  Complex\n"
    "input is not conjugated.\n"
    "\n"
    "Parameters\n"
    "----------\n"
    "x1 : array_like\n"
    "    Matrices, at least 2-D.\n"
    "x2 : array_like\n"
    "    Vectors, at least 1-D.\n"
    "out : ndarray, optional\n"
    "    A location into which the result is stored; it may overlap the\n"
    "    inputs.  If not provided or None, a freshly-allocated array is\n"
    "    returned.\n"
    "**kwargs\n"
    "    ``axes``, ``dtype``, ``casting``, ``order``, ``subok`` and\n"
    "    ``signature`` work as for any generalized ufunc.\n"
    "\n"
    "Returns\n"
    "-------\n"
    "y : ndarray\n"
    "    The products, with the vectors along the last axis.\n"
    "\n"
    "Raises\n"
    "------\n"
    "ValueError\n"
    "    If the rows of `x1` and the vectors of `x2` differ in length, the\n"
    "    other axes do not broadcast, or an operand has too few axes.\n"
    "\n"
    "Notes\n"
    "-----\n"
    "The same as ``matmul(x1, x2[..., None])[..., 0]``, computed by the\n"
    "matmul kernels.\n"
    "\n"
    "Examples\n"
    "--------\n"
    ">>> import numpy as np\n"
    ">>> from gufunc_matmul import matvec\n"
    ">>> matvec(np.array([[1, 2], [3, 4]]), np.array([1, 10]))\n"
    "array([21, 43])\n";

static const char vecmat_doc[] =
    "Vector-matrix product, with the semantics of numpy.vecmat.\n"
    "\n"
    "A generalized ufunc with signature ``(n),(n,m)->(m)``: the last axis\n"
    "of the first operand holds the vectors, the last two axes of the\n"
    "second are the matrices, and any leading axes are broadcast.  For\n"
    "complex input the vectors are conjugated: ``conj(x1) @ x2``.\n"
    "\n"
    "Parameters\n"
    "----------\n"
    "x1 : array_like\n"
    "    Vectors, at least 1-D.\n"
    "x2 : array_like\n"
    "    Matrices, at least 2-D.\n"
    "out : ndarray, optional\n"
    "    A location into which the result is stored; it may overlap the\n"
    "    inputs.  If not provided or None, a freshly-allocated array is\n"
    "    returned.\n"
    "**kwargs\n"
    "    ``axes``, ``dtype``, ``casting``, ``order``, ``subok`` and\n"
    "    ``signature`` work as for any generalized ufunc.\n"
    "\n"
    "Returns\n"
    "-------\n"
    "y : ndarray\n"
    "    The products, with the vectors along the last axis.\n"
    "\n"
    "Raises\n"
    "------\n"
    "ValueError\n"
    "    If the vectors of `x1` and the columns of `x2` differ in length,\n"
    "    the other axes do not broadcast, or an operand has too few axes.\n"
    "\n"
    "Notes\n"
    "-----\n"
    "The same as ``matmul(conj(x1)[..., None, :], x2)[..., 0, :]``,\n"
    "computed by the matmul kernels.  Object arrays call the first\n"
    "operand's elements' ``conjugate()``.\n"
    "\n"
    "Examples\n"
    "--------\n"
    ">>> import numpy as np\n"
    ">>> from gufunc_matmul import vecmat\n"
    ">>> vecmat(np.array([1, 10]), np.array([[1, 2], [3, 4]]))\n"
    "array([31, 42])\n"
    ">>> vecmat(np.array([1j]), np.array([[1j]]))\n"
    "array([1.+0.j])\n";

/* Registered in this order; each takes NumPy's type resolver from the
 * NumPy function of its name. */
static const ufunc_spec ufunc_specs[] = {
    {"matmul", "(n?,k),(k,m?)->(n?,m?)", matmul_doc, decode_matmul, 0, 0},
    {"vecdot", "(n),(n)->()", vecdot_doc, decode_vecdot, 1, 1},
    {"matvec", "(m,n),(n)->(m)", matvec_doc, decode_matvec, 0, 1},
    {"vecmat", "(n),(n,m)->(m)", vecmat_doc, decode_vecmat, 1, 1},
};
#define NUM_UFUNCS (sizeof ufunc_specs / sizeof ufunc_specs[0])

/* NumPy keeps pointers to these for the life of each ufunc (one list of
 * types serves them all). */
static loop_entry loop_entries[NUM_UFUNCS][NUM_LOOPS];
static PyUFuncGenericFunction loop_functions[NUM_UFUNCS][NUM_LOOPS];
static void *loop_data[NUM_UFUNCS][NUM_LOOPS];
static char loop_types[3 * NUM_LOOPS];

/* The type resolver of NumPy's function of the same name (of
 * numpy.matmul where this NumPy has none), so that mixed inputs promote
 * exactly as they do there. */
static int copy_numpy_type_resolver(PyUFuncObject *ufunc, const char *name)
{
    PyObject *numpy = PyImport_ImportModule("numpy");
    if (numpy == NULL) {
        return -1;
    }
    PyObject *reference = PyObject_GetAttrString(numpy, name);
    if (reference == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        reference = PyObject_GetAttrString(numpy, "matmul");
    }
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

static PyObject *create_ufunc(size_t index)
{
    const ufunc_spec *spec = &ufunc_specs[index];
    for (size_t i = 0; i < NUM_LOOPS; ++i) {
        const int numeric = i < NUM_NUMERIC_LOOPS;
        loop_entries[index][i].spec = spec;
        loop_entries[index][i].numeric = numeric ? &numeric_loops[i] : NULL;
        loop_functions[index][i] = numeric ? product_loop : object_loop;
        loop_data[index][i] = &loop_entries[index][i];
        memset(loop_types + 3 * i,
               numeric ? numeric_loops[i].npy_type : NPY_OBJECT, 3);
    }
    PyObject *ufunc = PyUFunc_FromFuncAndDataAndSignature(
        loop_functions[index], loop_data[index], loop_types, (int)NUM_LOOPS,
        2, 1, PyUFunc_None, spec->name, spec->doc, 0, spec->signature);
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
    if (copy_numpy_type_resolver(uf, spec->name) < 0) {
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

/* Thread control for threadpoolctl, which calls these through ctypes
 * (gufunc_matmul/_threadpoolctl.py). */
Py_EXPORTED_SYMBOL int gufunc_matmul_get_num_threads(void)
{
    return gm_get_num_threads();
}

Py_EXPORTED_SYMBOL int gufunc_matmul_set_num_threads(int n)
{
    return gm_set_num_threads(n);
}

static PyMethodDef module_methods[] = {
    {"_set_num_threads", py_set_num_threads, METH_O,
     "Threads per call (0: one per available CPU)."},
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
    "Compiled core of gufunc_matmul: the matmul, vecdot, matvec and vecmat\n"
    "ufuncs and kernel selection.",
    -1, module_methods, NULL, NULL, NULL, NULL,
};

#if GM_HAVE_PTHREADS
#define GM_THREADED 1
#else
#define GM_THREADED 0
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
    for (size_t i = 0; i < NUM_UFUNCS; ++i) {
        PyObject *ufunc = create_ufunc(i);
        if (ufunc == NULL
                || PyModule_AddObject(module, ufunc_specs[i].name, ufunc) < 0) {
            Py_XDECREF(ufunc);
            Py_DECREF(module);
            return NULL;
        }
    }
    if (PyModule_AddStringConstant(module, "_compiler", GM_COMPILER) < 0
            || PyModule_AddIntConstant(module, "_threaded", GM_THREADED) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
