/* float32 -> the shortest decimal naming it, as a double, for _tfdecode.c:
 * the arithmetic of _tfshortest where it is known exact, else the digit
 * search of _tfscalars (Python's own formatting and parsing). Included once,
 * by _tfdecode.c. */
/* -- float32 -> shortest decimal ----------------------------------------- */

static double POW10[23];
/* 10**k for k in -TEN_BIAS..TEN_TOP (the nearest doubles: only compared with) */
#define TEN_BIAS 40
#define TEN_TOP 40
static double TEN[TEN_BIAS + TEN_TOP + 1];

/* "%.<d>g" % v read back as a float, as Python does it (locale-free). */
static int g_round(double v, int d, double *out)
{
    char *s = PyOS_double_to_string(v, 'g', d, 0, NULL);
    if (s == NULL)
        return -1;
    double r = PyOS_string_to_double(s, NULL, NULL);
    PyMem_Free(s);
    if (r == -1.0 && PyErr_Occurred())
        return -1;
    *out = r;
    return 0;
}

/* Whether packing ``cand`` as a float32 gives ``bits``; -1: it overflows
 * (struct.pack raises there, and the search stops). */
static int packs_to(double cand, uint32_t bits)
{
    float f = (float)cand;
    if (isinf(f) && !isinf(cand))
        return -1;
    uint32_t b;
    memcpy(&b, &f, 4);
    return b == bits;
}

/* _tfscalars._shortest_of_raw, step for step. */
static int shortest_slow(uint32_t bits, double *out)
{
    float f;
    memcpy(&f, &bits, 4);
    double value = (double)f;
    uint32_t exp = bits & 0x7F800000u;
    if ((bits & 0x7FFFFFu) && exp > 0 && exp < 0x7F800000u && fabs(value) < 1e38) {
        /* _shortest_by_search */
        double cand, best;
        int ok;
        if (g_round(value, 7, &cand) < 0)
            return -1;
        if (packs_to(cand, bits) != 1) {
            for (int d = 8; d <= 9; d++) {
                if (g_round(value, d, &cand) < 0)
                    return -1;
                if (packs_to(cand, bits) == 1) {
                    *out = cand;
                    return 0;
                }
            }
            *out = value;
            return 0;
        }
        best = cand;
        if (g_round(value, 6, &cand) < 0)
            return -1;
        if (packs_to(cand, bits) != 1) {
            *out = best;
            return 0;
        }
        best = cand;
        int low = 1, high = 6;
        while (low < high) {
            int mid = (low + high) / 2;
            if (g_round(value, mid, &cand) < 0)
                return -1;
            ok = packs_to(cand, bits);
            if (ok == 1) {
                best = cand;
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        *out = best;
        return 0;
    }
    /* shortest_float32 */
    if (isnan(value) || isinf(value)) {
        *out = value;
        return 0;
    }
    for (int d = 1; d <= 9; d++) {
        double cand;
        if (g_round(value, d, &cand) < 0)
            return -1;
        int ok = packs_to(cand, bits);
        if (ok == 1) {
            *out = cand;
            return 0;
        }
        if (ok < 0)
            break;
    }
    *out = value;
    return 0;
}

/* One rounding to d digits, as _tfshortest._attempt: 1 when clean. The
 * products that can be clean are under 10**9, where adding and taking away
 * 2**52 rounds half to even exactly as rint does (larger ones are not clean). */
static int attempt(int d, double x, float f, int e, double *cand, int *back)
{
    int k = d - 1 - e;
    if (k < -22 || k > 22)
        return 0;
    double scale = POW10[k < 0 ? -k : k];
    double product = k >= 0 ? x * scale : x / scale;
    double ap = fabs(product);
    if (!(ap < 1e10))
        return 0;
    double am = (ap + 4503599627370496.0) - 4503599627370496.0; /* 2**52 */
    double m = product < 0 ? -am : am;
    *cand = k >= 0 ? m / scale : m * scale;
    *back = (float)*cand == f;
    /* a tie: the product exactly half way between two integers */
    return fabs(ap - am) != 0.5 && am > POW10[d - 1] && am < POW10[d];
}

/* _tfshortest.shortest_array for one value: the arithmetic where it is
 * known exact; 1 when the digit search must decide (which needs the GIL). */
static int shortest_fast(uint32_t bits, double *out)
{
    uint32_t exp = bits & 0x7F800000u;
    if ((bits & 0x7FFFFFu) == 0 || exp == 0 || exp >= 0x7E800000u)
        return 1;
    float f;
    memcpy(&f, &bits, 4);
    double x = (double)f;
    /* the decimal exponent, from the binary one; should it be off by one
     * (a value next to a power of ten), no rounding is clean and the digit
     * search decides */
    double ax = fabs(x);
    int e = (int)floor(((int)(exp >> 23) - 127) * 0.30102999566398120);
    if (ax >= TEN[e + 1 + TEN_BIAS])
        e++;
    double cand, res;
    int back;
    if (!attempt(7, x, f, e, &cand, &back))
        return 1;
    if (back) {
        res = cand;
        for (int d = 6; d >= 1; d--) {
            if (!attempt(d, x, f, e, &cand, &back))
                return 1;
            if (!back)
                break;
            res = cand;
        }
        *out = res;
        return 0;
    }
    for (int d = 8; d <= 9; d++) {
        if (!attempt(d, x, f, e, &cand, &back))
            return 1;
        if (back) {
            *out = cand;
            return 0;
        }
    }
    return 1;
}

static int shortest(uint32_t bits, double *out)
{
    int r = shortest_fast(bits, out);
    return r == 1 ? shortest_slow(bits, out) : r;
}

static void float_init(void)
{
    for (int k = 0; k < 23; k++)
        POW10[k] = k ? POW10[k - 1] * 10.0 : 1.0;
    for (int k = -TEN_BIAS; k <= TEN_TOP; k++) {
        char text[16];
        snprintf(text, sizeof text, "1e%d", k);
        TEN[k + TEN_BIAS] = PyOS_string_to_double(text, NULL, NULL);
    }
}
