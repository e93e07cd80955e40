/* An MLflow database's metric rows read into columns in C: the optional
 * path of trackui.store.importers._mlflow_columns.db_columns (see its module
 * doc for what the columns mean; a test holds the two together).
 *
 * Reader(uri) opens the database read-only through the system SQLite (the
 * same file the Python reader reads: the database in place, or its private
 * copy), with Python's busy timeout (5 s). One Reader per reading thread;
 * a Reader used by two threads at once raises.
 *
 * Reader.columns(sql, run_id) runs one statement (one read transaction, so
 * every row comes from one snapshot) whose result columns are
 *
 *   rowid, timestamp, step, is_nan, value, key
 *
 * stepping through it with the GIL released, and hands back
 *
 *   (n, rowid, timestamp, step, is_nan, value, codes, keys)
 *
 * the first six as bytearrays of int64 / int64 / int64 / uint8 / float64
 * / int32 (native order; NumPy views them, writable, without a copy), and
 * the distinct keys as str, first met first.
 * Nothing is made per row. Every row is checked by sqlite3_column_type; a
 * row the Python readers could read differently makes the whole call give
 * None (and so do an SQLite error: a damaged page, SQLITE_BUSY...): a
 * rowid, timestamp or step that is not an integer, an is_nan that is not a
 * number, a value that is not a number, a key that is not text, holds a NUL
 * or is not UTF-8. The caller then reads that run as before.
 *
 * Nothing here trusts the content: key bytes are copied with their length,
 * and output grows only with the rows stepped through.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* -- growable columns ---------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap; /* bytes */
} Col;

static int col_grow(Col *c, size_t need)
{
    size_t cap = c->cap ? c->cap * 2 : 1 << 14;
    while (cap < need)
        cap *= 2;
    char *p = realloc(c->p, cap); /* libc: called without the GIL */
    if (p == NULL)
        return -1;
    c->p = p;
    c->cap = cap;
    return 0;
}

static inline int col_push(Col *c, const void *v, size_t size)
{
    if (c->len + size > c->cap && col_grow(c, c->len + size) < 0)
        return -1;
    memcpy(c->p + c->len, v, size);
    c->len += size;
    return 0;
}

static PyObject *col_bytes(const Col *c)
{
    return PyByteArray_FromStringAndSize(c->p ? c->p : "", (Py_ssize_t)c->len);
}

/* -- keys: distinct byte strings -> codes, first met first --------------- */

typedef struct {
    char *s; /* a copy (SQLite's text lasts only until the next step) */
    uint32_t len;
    uint64_t hash;
} Key;

typedef struct {
    Key *keys;     /* by code */
    size_t n, cap; /* keys */
    int32_t *slots; /* open addressing: code + 1, 0 when free */
    size_t nslots;
} Keys;

static uint64_t hash_bytes(const unsigned char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h ^ (h >> 31);
}

static int keys_rehash(Keys *k)
{
    size_t nslots = k->nslots ? k->nslots * 2 : 64;
    int32_t *slots = calloc(nslots, sizeof(int32_t));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < k->n; i++) {
        size_t j = k->keys[i].hash & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = (int32_t)(i + 1);
    }
    free(k->slots);
    k->slots = slots;
    k->nslots = nslots;
    return 0;
}

/* The code of the key (s, n), added when new; -1 when out of memory. */
static int32_t keys_code(Keys *k, const unsigned char *s, size_t n)
{
    uint64_t h = hash_bytes(s, n);
    if (k->nslots) {
        size_t j = h & (k->nslots - 1);
        int32_t at;
        while ((at = k->slots[j]) != 0) {
            Key *o = &k->keys[at - 1];
            if (o->hash == h && o->len == n && memcmp(o->s, s, n) == 0)
                return at - 1;
            j = (j + 1) & (k->nslots - 1);
        }
    }
    if (k->n >= INT32_MAX - 1)
        return -1;
    if ((k->n + 1) * 2 > k->nslots && keys_rehash(k) < 0)
        return -1;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        Key *keys = realloc(k->keys, cap * sizeof(Key));
        if (keys == NULL)
            return -1;
        k->keys = keys;
        k->cap = cap;
    }
    char *copy = malloc(n ? n : 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, s, n);
    int32_t code = (int32_t)k->n;
    k->keys[code] = (Key){copy, (uint32_t)n, h};
    k->n++;
    size_t j = h & (k->nslots - 1);
    while (k->slots[j])
        j = (j + 1) & (k->nslots - 1);
    k->slots[j] = code + 1;
    return code;
}

static void keys_free(Keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->keys[i].s);
    free(k->keys);
    free(k->slots);
}

/* -- the rows ------------------------------------------------------------ */

enum { READ_OK = 0, READ_ODD = 1, READ_NOMEM = 2, READ_SQLITE = 3 };

typedef struct {
    Col rowid, ts, step, nan, value, code;
    Keys keys;
    size_t n;
} Out;

static void out_free(Out *o)
{
    free(o->rowid.p);
    free(o->ts.p);
    free(o->step.p);
    free(o->nan.p);
    free(o->value.p);
    free(o->code.p);
    keys_free(&o->keys);
}

/* Steps through ``st`` (without the GIL) into ``o``. */
static int read_rows(sqlite3_stmt *st, Out *o)
{
    int rc;
    int32_t last_code = -1;
    const unsigned char *last = NULL;
    size_t last_len = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
            sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
            sqlite3_column_type(st, 2) != SQLITE_INTEGER)
            return READ_ODD;
        int64_t rowid = sqlite3_column_int64(st, 0);
        int64_t ts = sqlite3_column_int64(st, 1);
        int64_t step = sqlite3_column_int64(st, 2);
        uint8_t nan;
        switch (sqlite3_column_type(st, 3)) {
        case SQLITE_INTEGER:
            nan = sqlite3_column_int64(st, 3) != 0;
            break;
        case SQLITE_FLOAT:
            nan = sqlite3_column_double(st, 3) != 0.0;
            break;
        default:
            return READ_ODD;
        }
        double value;
        switch (sqlite3_column_type(st, 4)) {
        case SQLITE_FLOAT:
            value = sqlite3_column_double(st, 4);
            break;
        case SQLITE_INTEGER:
            value = (double)sqlite3_column_int64(st, 4);
            break;
        default:
            return READ_ODD;
        }
        if (sqlite3_column_type(st, 5) != SQLITE_TEXT)
            return READ_ODD;
        const unsigned char *key = sqlite3_column_text(st, 5);
        if (key == NULL)
            return READ_NOMEM;
        size_t key_len = (size_t)sqlite3_column_bytes(st, 5);
        if (memchr(key, 0, key_len) != NULL)
            return READ_ODD;
        int32_t code;
        /* rows of one key often follow each other: compare with the last */
        if (last != NULL && key_len == last_len && memcmp(key, last, key_len) == 0) {
            code = last_code;
        } else {
            code = keys_code(&o->keys, key, key_len);
            if (code < 0)
                return READ_NOMEM;
            last_code = code;
            last = (const unsigned char *)o->keys.keys[code].s;
            last_len = key_len;
        }
        if (col_push(&o->rowid, &rowid, 8) < 0 || col_push(&o->ts, &ts, 8) < 0 ||
            col_push(&o->step, &step, 8) < 0 || col_push(&o->nan, &nan, 1) < 0 ||
            col_push(&o->value, &value, 8) < 0 || col_push(&o->code, &code, 4) < 0)
            return READ_NOMEM;
        o->n++;
    }
    return rc == SQLITE_DONE ? READ_OK : READ_SQLITE;
}

/* -- the Reader type ----------------------------------------------------- */

typedef struct {
    PyObject_HEAD sqlite3 *db;
    int busy; /* a call under way (with the GIL released) */
} Reader;

static int Reader_init(Reader *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"uri", "busy_ms", NULL};
    const char *uri;
    int busy_ms = 5000;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|i:Reader", kwlist, &uri, &busy_ms))
        return -1;
    if (self->db != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Reader already open");
        return -1;
    }
    sqlite3 *db = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc == SQLITE_OK)
        sqlite3_busy_timeout(db, busy_ms);
    Py_END_ALLOW_THREADS
    if (rc != SQLITE_OK) {
        PyErr_Format(PyExc_OSError, "cannot open %s: %s", uri,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    self->db = db;
    return 0;
}

static void Reader_dealloc(Reader *self)
{
    if (self->db != NULL)
        sqlite3_close(self->db);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Reader_close(Reader *self, PyObject *Py_UNUSED(ignored))
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Reader in use");
        return NULL;
    }
    if (self->db != NULL) {
        sqlite3_close(self->db);
        self->db = NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *build(Out *o)
{
    PyObject *keys = PyList_New((Py_ssize_t)o->keys.n);
    if (keys == NULL)
        return NULL;
    for (size_t i = 0; i < o->keys.n; i++) {
        PyObject *s = PyUnicode_DecodeUTF8(o->keys.keys[i].s, o->keys.keys[i].len, NULL);
        if (s == NULL) {
            Py_DECREF(keys);
            if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                return NULL;
            PyErr_Clear(); /* not UTF-8: the Python readers decide */
            Py_RETURN_NONE;
        }
        PyList_SET_ITEM(keys, (Py_ssize_t)i, s);
    }
    return Py_BuildValue("(nNNNNNNN)", (Py_ssize_t)o->n, col_bytes(&o->rowid), col_bytes(&o->ts),
                         col_bytes(&o->step), col_bytes(&o->nan), col_bytes(&o->value),
                         col_bytes(&o->code), keys);
}

static PyObject *Reader_columns(Reader *self, PyObject *args)
{
    const char *sql;
    const char *run_id;
    Py_ssize_t sql_len, run_len;
    if (!PyArg_ParseTuple(args, "s#s#:columns", &sql, &sql_len, &run_id, &run_len))
        return NULL;
    if (self->db == NULL) {
        PyErr_SetString(PyExc_ValueError, "Reader closed");
        return NULL;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Reader in use by another thread");
        return NULL;
    }
    self->busy = 1;
    Out o;
    memset(&o, 0, sizeof o);
    int got;
    Py_BEGIN_ALLOW_THREADS
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, (int)sql_len, &st, NULL) != SQLITE_OK || st == NULL ||
        sqlite3_column_count(st) != 6 ||
        sqlite3_bind_text(st, 1, run_id, (int)run_len, SQLITE_STATIC) != SQLITE_OK)
        got = READ_SQLITE;
    else
        got = read_rows(st, &o);
    sqlite3_finalize(st); /* ends the statement's read transaction */
    Py_END_ALLOW_THREADS
    self->busy = 0;
    PyObject *result;
    if (got != READ_OK) /* out of memory too: the Python readers then */
        result = Py_NewRef(Py_None);
    else
        result = build(&o);
    out_free(&o);
    return result;
}

static PyMethodDef Reader_methods[] = {
    {"columns", (PyCFunction)Reader_columns, METH_VARARGS,
     "columns(sql, run_id) -> (n, rowid, timestamp, step, is_nan, value, codes, keys) or None"},
    {"close", (PyCFunction)Reader_close, METH_NOARGS, "Close the database."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "trackui.store.importers._sqlitecols.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A read-only SQLite connection that reads a run's metric rows into columns.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_methods = Reader_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sqlitecols",
    "An MLflow database's metric rows read into columns in C (optional).", -1, NULL,
};

PyMODINIT_FUNC PyInit__sqlitecols(void)
{
    if (PyType_Ready(&ReaderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Reader", (PyObject *)&ReaderType) < 0 ||
        PyModule_AddStringConstant(m, "SQLITE_VERSION", sqlite3_libversion()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
