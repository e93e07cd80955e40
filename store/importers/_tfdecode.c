/* Event file windows framed, CRC-checked and decoded in one pass: the
 * optional C path of trackui.store.importers._tfcolumns (see its module doc
 * for what each step means; this file gives the same records, the same
 * points and the same offsets, a test holds them together).
 *
 * scan(buffer) walks the chain of TFRecords from byte 0 of the buffer:
 *
 *   uint64 LE length | uint32 masked-CRC32C(length) | data | uint32 masked-CRC32C(data)
 *
 * A header whose length is 16 MiB or more, or whose CRC does not match,
 * ends the chain ("damaged": the record reader takes over there, as it does
 * after the NumPy framing); a record not whole in the buffer ends it too
 * (not damaged: the next window carries it). Each whole record's data CRC is
 * checked (SSE4.2 where the CPU has it, else a slicing-by-8 table); the first
 * that does not match stops the walk ("cut"). The common scalar record,
 * Event{wall_time, [step,] summary{value{tag, simple_value}}} with one-byte
 * lengths (or TF2's: the value a 0-d float tensor, with no metadata), is cut
 * into columns; its float32 becomes the shortest decimal
 * naming it, as a double (the same as _tfshortest and _tfscalars give).
 * Every other record is listed by index, for the Python decoder.
 *
 * Nothing here trusts the content: every read is bounded by the buffer's
 * length, and output grows only with records found in it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define HAVE_SSE42_PATH 1
#endif

#include "_tfdecode_crc.h"
#include "_tfdecode_float.h"

/* -- growable columns ---------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap; /* bytes */
} Col;

static int col_grow(Col *c, size_t need)
{
    size_t cap = c->cap ? c->cap * 2 : 4096;
    while (cap < need)
        cap *= 2;
    char *p = realloc(c->p, cap); /* libc: called without the GIL */
    if (p == NULL)
        return -1;
    c->p = p;
    c->cap = cap;
    return 0;
}

/* Room for ``bytes`` from the start: pages a window never fills are never
 * touched, and growing (a copy each time) is left for odd windows. Where
 * that much cannot be had at once, the column grows as it fills. */
static void col_reserve(Col *c, size_t bytes)
{
    c->p = malloc(bytes);
    c->cap = c->p ? bytes : 0;
}

static inline int col_push(Col *c, const void *v, size_t size)
{
    if (c->len + size > c->cap && col_grow(c, c->len + size) < 0)
        return -1;
    memcpy(c->p + c->len, v, size);
    c->len += size;
    return 0;
}

static PyObject *col_take(Col *c)
{
    PyObject *b = PyByteArray_FromStringAndSize(c->p ? c->p : "", (Py_ssize_t)c->len);
    return b;
}

/* -- tags: distinct byte strings -> ids, first met first ----------------- */

typedef struct {
    const uint8_t *s; /* points into the buffer */
    uint32_t len;
    int32_t id;
} Slot;

typedef struct {
    Slot *slots;
    size_t cap, used;
    PyObject *list; /* the tags as bytes, by id */
} Tags;

/* Tags differ mostly in their first and last bytes ("train/loss",
 * "lr/pg0", "lr/pg1"): those and the length are hashed, memcmp decides. */
static uint64_t hash_bytes(const uint8_t *s, uint32_t n)
{
    uint64_t head = 0, tail = 0;
    if (n >= 8) {
        memcpy(&head, s, 8);
        memcpy(&tail, s + n - 8, 8);
    } else {
        memcpy(&head, s, n);
    }
    uint64_t h = (head ^ 0x9E3779B97F4A7C15ull ^ n) * 0xFF51AFD7ED558CCDull;
    h = (h ^ (h >> 32) ^ tail) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 29);
}

static int tags_grow(Tags *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    Slot *slots = calloc(cap, sizeof(Slot));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        Slot *o = &t->slots[i];
        if (o->s == NULL)
            continue;
        size_t j = hash_bytes(o->s, o->len) & (cap - 1);
        while (slots[j].s != NULL)
            j = (j + 1) & (cap - 1);
        slots[j] = *o;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

static const uint8_t EMPTY_TAG[1] = {0};

/* The id of a tag, or -1 with *at its free slot (the table has room). */
static int32_t tag_find(Tags *t, const uint8_t *s, uint32_t n, size_t *at)
{
    if (n == 0)
        s = EMPTY_TAG; /* a non-NULL key for the empty tag */
    size_t j = hash_bytes(s, n) & (t->cap - 1);
    while (t->slots[j].s != NULL) {
        Slot *o = &t->slots[j];
        if (o->len == n && memcmp(o->s, s, n) == 0)
            return o->id;
        j = (j + 1) & (t->cap - 1);
    }
    *at = j;
    return -1;
}

/* A new tag at slot ``at`` (with the GIL: it makes a bytes object). */
static int32_t tag_add(Tags *t, const uint8_t *s, uint32_t n, size_t at)
{
    PyObject *b = PyBytes_FromStringAndSize((const char *)s, n);
    if (b == NULL)
        return -1;
    int rc = PyList_Append(t->list, b);
    Py_DECREF(b);
    if (rc < 0)
        return -1;
    int32_t id = (int32_t)t->used;
    t->slots[at].s = n ? s : EMPTY_TAG;
    t->slots[at].len = n;
    t->slots[at].id = id;
    t->used++;
    return id;
}

/* -- the common scalar record -------------------------------------------- */

/* As _tfcolumns._common: 1 with step and tag (offset, length) when ``d`` is
 * Event{wall_time, [step,] summary{value{tag, simple_value}}}, or the same
 * with tensor{dtype=1, tensor_shape={}, tensor_content=<float32>} for
 * simple_value (what the general decoder reads as the same point). */
static int common_layout(const uint8_t *d, size_t size, int64_t *step, size_t *tag_at,
                         size_t *tag_len)
{
    if (size < 17 || size > 192 || d[0] != 0x09)
        return 0;
    size_t p = 9;
    uint64_t s = 0;
    if (d[9] == 0x10) {
        int width = 0, more = 1;
        for (int j = 0; j < 9; j++) {
            if ((size_t)(10 + j) >= size) {
                more = 0;
                break;
            }
            width++;
            more = d[10 + j] >= 0x80;
            if (!more)
                break;
        }
        if (more)
            return 0; /* ten bytes (a negative step) */
        p = 10 + (size_t)width;
        for (int j = 0; j < width; j++)
            s |= (uint64_t)(d[10 + j] & 0x7F) << (7 * j);
    }
    if (p > size)
        return 0;
    size_t m = size - p;
    if (m < 11 || m > 0x81)
        return 0;
    if (d[p] != 0x2A || d[p + 1] != m - 2 || d[p + 2] != 0x0A || d[p + 3] != m - 4 ||
        d[p + 4] != 0x0A)
        return 0;
    *step = (int64_t)s;
    *tag_at = p + 6;
    if (d[p + 5] == m - 11 && d[size - 5] == 0x15) { /* simple_value */
        *tag_len = m - 11;
        return 1;
    }
    /* TF2's scalar: tensor{dtype: DT_FLOAT, tensor_shape{}, tensor_content: 4 bytes},
     * no metadata (written with a tag's first event only) */
    static const uint8_t tensor[8] = {0x42, 0x0A, 0x08, 0x01, 0x12, 0x00, 0x22, 0x04};
    if (m >= 18 && d[p + 5] == m - 18 && memcmp(d + size - 12, tensor, 8) == 0) {
        *tag_len = m - 18;
        return 1;
    }
    return 0;
}

/* -- scan ---------------------------------------------------------------- */

PyDoc_STRVAR(scan_doc,
             "scan(buffer) -> (starts, lengths, end, damaged, cut, rec, step, wall, value,\n"
             "                 tag_ids, tags, other)\n\n"
             "Frame, CRC-check and decode one window of an event file (see the module\n"
             "source). starts/lengths/rec/step/other: int64 bytearrays; wall/value: float64;\n"
             "tag_ids: int32 (into tags, a list of bytes); cut: index of the first record\n"
             "whose data CRC does not match, -1 when none.");

static PyObject *scan(PyObject *self, PyObject *args)
{
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*:scan", &view))
        return NULL;
    const uint8_t *a = view.buf;
    size_t n = (size_t)view.len;
    Col starts = {0}, lengths = {0}, rec = {0}, steps = {0}, walls = {0}, values = {0},
        ids = {0}, other = {0};
    Tags tags = {0};
    PyObject *result = NULL;
    int oom = 0;
    tags.list = PyList_New(0);
    if (tags.list == NULL)
        goto done;
    /* every record is 16 bytes and more, a common one 33 and more */
    size_t most = n / 16 + 16, usual = n / 33 + 16;
    col_reserve(&starts, 8 * most);
    col_reserve(&lengths, 8 * most);
    col_reserve(&rec, 8 * usual);
    col_reserve(&steps, 8 * usual);
    col_reserve(&walls, 8 * usual);
    col_reserve(&values, 8 * usual);
    col_reserve(&ids, 4 * usual);
    if (tags_grow(&tags) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    size_t pos = 0;
    int damaged = 0;
    int64_t cut = -1, count = 0;
    /* The GIL is let go while the loop runs (another thread's DuckDB insert
     * or decode goes on meanwhile); it is taken back for a digit search and
     * a tag not met before, both rare. */
    PyThreadState *ts = PyEval_SaveThread();
    for (;;) {
        if (n - pos < 12)
            break;
        const uint8_t *h = a + pos;
        if (h[3] | h[4] | h[5] | h[6] | h[7] || masked(crc32c(h, 8)) != u32le(h + 8)) {
            damaged = 1;
            break;
        }
        size_t length = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16;
        if (length + 16 > n - pos)
            break; /* not whole yet */
        int64_t start = (int64_t)pos, len64 = (int64_t)length;
        if (col_push(&starts, &start, 8) < 0 || col_push(&lengths, &len64, 8) < 0)
            goto oom;
        const uint8_t *d = h + 12;
        if (masked(crc32c(d, length)) != u32le(d + length)) {
            cut = count;
            break;
        }
        int64_t step;
        size_t tag_at, tag_len;
        if (common_layout(d, length, &step, &tag_at, &tag_len)) {
            double wall, value;
            uint32_t bits = u32le(d + length - 4);
            memcpy(&wall, d + 1, 8);
            int slow = shortest_fast(bits, &value);
            if ((tags.used + 1) * 2 > tags.cap && tags_grow(&tags) < 0)
                goto oom;
            size_t at = 0;
            int32_t id = tag_find(&tags, d + tag_at, (uint32_t)tag_len, &at);
            if (slow || id < 0) {
                PyEval_RestoreThread(ts);
                if (slow && shortest_slow(bits, &value) < 0)
                    goto done;
                if (id < 0 && (id = tag_add(&tags, d + tag_at, (uint32_t)tag_len, at)) < 0)
                    goto done;
                ts = PyEval_SaveThread();
            }
            if (col_push(&rec, &count, 8) < 0 || col_push(&steps, &step, 8) < 0 ||
                col_push(&walls, &wall, 8) < 0 || col_push(&values, &value, 8) < 0 ||
                col_push(&ids, &id, 4) < 0)
                goto oom;
        } else if (col_push(&other, &count, 8) < 0) {
            goto oom;
        }
        count++;
        pos += length + 16;
    }
    if (0) {
    oom:
        oom = 1;
    }
    PyEval_RestoreThread(ts);
    if (oom) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_BuildValue("(NNnNLNNNNNON)", col_take(&starts), col_take(&lengths),
                           (Py_ssize_t)pos, PyBool_FromLong(damaged), (long long)cut,
                           col_take(&rec), col_take(&steps), col_take(&walls),
                           col_take(&values), col_take(&ids), tags.list, col_take(&other));
done:
    free(starts.p);
    free(lengths.p);
    free(rec.p);
    free(steps.p);
    free(walls.p);
    free(values.p);
    free(ids.p);
    free(other.p);
    free(tags.slots);
    Py_XDECREF(tags.list);
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(shortest_doc, "shortest_float32(bits) -> float: the shortest decimal naming "
                           "the float32 with these bits, as a double (as _tfshortest).");

static PyObject *py_shortest(PyObject *self, PyObject *arg)
{
    unsigned long bits = PyLong_AsUnsignedLong(arg);
    if (bits == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    double out;
    if (shortest((uint32_t)bits, &out) < 0)
        return NULL;
    return PyFloat_FromDouble(out);
}

static PyObject *py_crc32c(PyObject *self, PyObject *args)
{
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*:crc32c", &view))
        return NULL;
    uint32_t c = crc32c(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(c);
}

static PyObject *py_crc32c_table(PyObject *self, PyObject *args)
{
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*:crc32c_table", &view))
        return NULL;
    uint32_t c = crc32c_sw(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(c);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"shortest_float32", py_shortest, METH_O, shortest_doc},
    {"crc32c", py_crc32c, METH_VARARGS, "CRC32C of a buffer (the path scan uses)."},
    {"crc32c_table", py_crc32c_table, METH_VARARGS, "CRC32C of a buffer by the table."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tfdecode",
    "TensorBoard event file windows framed, CRC-checked and decoded in C (optional).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__tfdecode(void)
{
    crc_init();
    float_init();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "HARDWARE_CRC", crc_hw) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
