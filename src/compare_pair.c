/* compare_pair.c - which session on the server side is which on the client side.
 *
 * Every candidate pair gets a score from its evidence (the table below);
 * pairs are then taken greedily, best score first and, among equals, the
 * closest in time, each session once. A transparent device keeps the
 * connection's addresses; a NAT keeps the client's; a proxy keeps only
 * the envelope, the Message-ID and the time. The two capture points'
 * clocks need not agree: their offset is the median start-time difference
 * of the pairs whose addresses or Message-ID match, and times are
 * compared after it.
 */
#define _GNU_SOURCE /* qsort_r */
#include "compare.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEC INT64_C(1000000000)
#define WINDOW_NS (300 * SEC)       /* candidates start this close at most */
#define MSGID_WINDOW_NS (86400 * SEC) /* a relay may hold a message long */
#define MIN_SCORE 40                /* below this, no pair: one side only */
#define NEAR_SCORE 5                /* a rival this close makes a pair a guess */
#define WEAK_NS (2 * SEC)           /* a start this close is a weak candidate */

static const char *const evidence_names[] = {
#define CMP_EVIDENCE_NAME(id, name) name,
    CMP_EVIDENCE(CMP_EVIDENCE_NAME)
#undef CMP_EVIDENCE_NAME
};

const char *cmp_evidence_name(unsigned bit)
{
    return bit < CMP_BIT__COUNT ? evidence_names[bit] : "?";
}

struct edge {
    int c, s, score;
    unsigned by;
    int64_t dt; /* server side's start (clock offset removed) minus client's */
};

struct edges {
    struct edge *e;
    size_t n, cap;
    /* candidates with nothing but a close start (both with a dialogue):
     * paired only when nothing better is left, and as a guess */
    struct edges *weak;
};

static bool push_edge(struct edges *v, struct edge e)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        struct edge *p = realloc(v->e, cap * sizeof *p);
        if (!p)
            return false;
        v->e = p;
        v->cap = cap;
    }
    v->e[v->n++] = e;
    return true;
}

static bool same_str(const struct digest *a, struct dstr x, const struct digest *b,
                     struct dstr y)
{
    return x.len && x.len == y.len &&
           strncasecmp(digest_str(a, x), digest_str(b, y), x.len) == 0;
}

static int64_t abs64(int64_t v)
{
    return v < 0 ? -v : v;
}

static int time_points(int64_t dt)
{
    int64_t a = abs64(dt);
    return a <= SEC ? 30 : a <= 5 * SEC ? 20 : a <= 30 * SEC ? 10 : 0;
}

/* The evidence that a and b are one session, as a score (0: none). */
static int score_of(const struct digest *a, const struct digest *b, int64_t offset,
                    int64_t window, unsigned *by, int64_t *dt)
{
    int score = 0;
    *by = 0;
    *dt = (b->start - offset) - a->start;
    bool msgid = same_str(a, a->message_id, b, b->message_id);
    if (abs64(*dt) > (msgid ? MSGID_WINDOW_NS : window))
        return 0;
#define EVIDENCE(cond, bit, points) \
    if (cond) {                     \
        score += (points);          \
        *by |= 1u << (bit);         \
    }
    bool client = endpoint_eq(&a->client, &b->client);
    EVIDENCE(client && endpoint_eq(&a->server, &b->server), CMP_BIT_TUPLE, 100)
    else EVIDENCE(client, CMP_BIT_CLIENT, 60)
    EVIDENCE(msgid, CMP_BIT_MESSAGE_ID, 80)
    bool from = same_str(a, a->mail_from, b, b->mail_from);
    bool rcpts = same_str(a, a->rcpts, b, b->rcpts);
    EVIDENCE(from || rcpts, CMP_BIT_ENVELOPE, from && rcpts ? 40 : 20)
    EVIDENCE(a->msg_bytes && a->msg_bytes == b->msg_bytes, CMP_BIT_SIZE, 10)
    EVIDENCE(same_str(a, a->helo, b, b->helo), CMP_BIT_EHLO, 15)
    EVIDENCE(same_str(a, a->first_cmd, b, b->first_cmd), CMP_BIT_FIRST_COMMAND, 15)
    int t = time_points(*dt);
    EVIDENCE(t, CMP_BIT_TIME, t)
#undef EVIDENCE
    return score;
}

static int cmp_start(const void *x, const void *y, void *arg)
{
    struct digest *const *d = arg;
    const struct digest *a = d[*(const int *)x], *b = d[*(const int *)y];
    return (a->start > b->start) - (a->start < b->start);
}

/* The server side's sessions in start order: candidates are found by
 * binary search on it. */
static int *by_start(struct digest *const *s, size_t ns)
{
    int *idx = malloc((ns ? ns : 1) * sizeof *idx);
    if (!idx)
        return NULL;
    for (size_t i = 0; i < ns; i++)
        idx[i] = (int)i;
    qsort_r(idx, ns, sizeof *idx, cmp_start, (void *)s);
    return idx;
}

static size_t first_from(struct digest *const *s, const int *idx, size_t ns, smtp_time t)
{
    size_t lo = 0, hi = ns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[idx[mid]]->start < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Keys of the server side's sessions, sorted by key and then by start: a
 * candidate shares a key with the session looked for (no score reaches
 * MIN_SCORE without one) and starts within the key's window, so it is
 * found by binary search, never by scanning everything that started in
 * those minutes. */
enum key_kind {
    /* worth a pair alone: looked up over the whole window */
    KEY_TUPLE, KEY_CLIENT, KEY_MSGID, KEY_ENVELOPE,
    /* worth one only with a close start: looked up where time counts */
    KEY_FROM, KEY_RCPTS, KEY_HELO, KEY_FIRST_COMMAND,
    KEY__COUNT
};
#define NEAR_NS (30 * SEC) /* time_points gives nothing beyond this */

struct key {
    uint64_t h;
    smtp_time t;
    int i;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n, bool fold)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (fold && b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i])) *
            UINT64_C(0x100000001b3);
    return h;
}

static uint64_t endpoint_hash(uint64_t h, const struct endpoint *e)
{
    h = fnv(h, &e->port, sizeof e->port, false);
    return fnv(h, e->addr, 16, false);
}

static uint64_t str_hash(uint64_t h, const struct digest *d, struct dstr s)
{
    return s.len ? fnv(h, digest_str(d, s), s.len, true) : 0;
}

/* The key of kind k (0: the session has none of that kind). */
static uint64_t key_of(const struct digest *d, enum key_kind k)
{
    uint64_t seed = UINT64_C(0xcbf29ce484222325) ^ (uint64_t)k, h = 0;
    switch (k) {
    case KEY_TUPLE: h = endpoint_hash(endpoint_hash(seed, &d->client), &d->server); break;
    case KEY_CLIENT: h = endpoint_hash(seed, &d->client); break;
    case KEY_MSGID: h = str_hash(seed, d, d->message_id); break;
    case KEY_ENVELOPE:
        h = d->mail_from.len && d->rcpts.len
                ? str_hash(str_hash(seed, d, d->mail_from), d, d->rcpts) : 0;
        break;
    case KEY_FROM: h = str_hash(seed, d, d->mail_from); break;
    case KEY_RCPTS: h = str_hash(seed, d, d->rcpts); break;
    case KEY_HELO: h = str_hash(seed, d, d->helo); break;
    case KEY_FIRST_COMMAND: h = str_hash(seed, d, d->first_cmd); break;
    case KEY__COUNT: break;
    }
    return h ? h | 1 : 0;
}

static int cmp_key(const void *x, const void *y)
{
    const struct key *a = x, *b = y;
    if (a->h != b->h)
        return (a->h > b->h) - (a->h < b->h);
    return a->t != b->t ? (a->t > b->t) - (a->t < b->t) : a->i - b->i;
}

static struct key *key_index(struct digest *const *s, size_t ns, size_t *nkeys)
{
    struct key *k = malloc((KEY__COUNT * ns + 1) * sizeof *k);
    size_t n = 0;
    for (size_t i = 0; k && i < ns; i++)
        for (int kind = 0; kind < KEY__COUNT; kind++) {
            uint64_t h = key_of(s[i], (enum key_kind)kind);
            if (h)
                k[n++] = (struct key){h, s[i]->start, (int)i};
        }
    if (n)
        qsort(k, n, sizeof *k, cmp_key);
    *nkeys = n;
    return k;
}

struct side_index {
    struct digest *const *s;
    size_t ns;
    const int *by_start;
    const struct key *keys;
    size_t nkeys;
    int *tried; /* per server-side session: 1 + the client-side one last tried */
};

static bool try_edge(struct edges *v, int ci, const struct digest *a,
                     const struct side_index *x, int si, int64_t offset, int64_t window)
{
    if (x->tried[si] == ci + 1)
        return true; /* found already, through another key */
    x->tried[si] = ci + 1;
    unsigned by;
    int64_t dt;
    int score = score_of(a, x->s[si], offset, window, &by, &dt);
    if (score >= MIN_SCORE)
        return push_edge(v, (struct edge){ci, si, score, by, dt});
    bool weak = v->weak && abs64(dt) <= WEAK_NS && a->nlines && x->s[si]->nlines;
    return !weak || push_edge(v->weak, (struct edge){ci, si, score, by, dt});
}

/* The server-side sessions sharing key h that start within window of t. */
static bool keyed_candidates(struct edges *v, int ci, const struct digest *a, uint64_t h,
                             const struct side_index *x, int64_t offset, int64_t window)
{
    if (!h)
        return true;
    struct key lo_key = {h, a->start + offset - window, -1};
    size_t lo = 0, hi = x->nkeys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(&x->keys[mid], &lo_key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k < x->nkeys && x->keys[k].h == h &&
                        x->keys[k].t <= a->start + offset + window; k++)
        if (!try_edge(v, ci, a, x, x->keys[k].i, offset, window))
            return false;
    return true;
}

/* Every candidate of client-side session ci: those sharing a key within
 * its window (a day for the Message-ID: a relay may hold a message), and
 * those starting within WEAK_NS (for the last, time-only round). */
static bool all_candidates_of(struct edges *v, int ci, const struct digest *a,
                              const struct side_index *x, int64_t offset)
{
    for (int kind = 0; kind < KEY__COUNT; kind++) {
        int64_t window = kind == KEY_MSGID ? MSGID_WINDOW_NS
                         : kind < KEY_FROM ? WINDOW_NS : NEAR_NS;
        if (!keyed_candidates(v, ci, a, key_of(a, (enum key_kind)kind), x, offset, window))
            return false;
    }
    for (size_t k = first_from(x->s, x->by_start, x->ns, a->start + offset - WEAK_NS);
         k < x->ns && x->s[x->by_start[k]]->start <= a->start + offset + WEAK_NS; k++)
        if (!try_edge(v, ci, a, x, x->by_start[k], offset, WINDOW_NS))
            return false;
    return true;
}

static int cmp_edge(const void *x, const void *y);

/* A session keeps its best MAX_CANDIDATES: a popular recipient or sender
 * must not make the pairing quadratic, and a partner ranked lower than
 * that is a guess anyway. */
#define MAX_CANDIDATES 16

static bool candidates_of(struct edges *v, int ci, const struct digest *a,
                          const struct side_index *x, int64_t offset)
{
    size_t first = v->n;
    bool ok = all_candidates_of(v, ci, a, x, offset);
    if (v->n - first > MAX_CANDIDATES) {
        qsort(v->e + first, v->n - first, sizeof *v->e, cmp_edge);
        v->n = first + MAX_CANDIDATES;
    }
    return ok;
}

static int cmp_int64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* The clocks' offset: the median start difference of the pairs sure by
 * their addresses or Message-ID (the closest such candidate of each). */
static int64_t clock_offset(const struct edges *v)
{
    int64_t *dts = malloc((v->n ? v->n : 1) * sizeof *dts);
    size_t n = 0;
    for (size_t i = 0; dts && i < v->n; i++) {
        const struct edge *e = &v->e[i];
        if (!(e->by & (1u << CMP_BIT_TUPLE | 1u << CMP_BIT_MESSAGE_ID)))
            continue;
        if (n && v->e[i - 1].c == e->c) { /* keep the closest of each */
            if (abs64(e->dt) < abs64(dts[n - 1]))
                dts[n - 1] = e->dt;
            continue;
        }
        dts[n++] = e->dt;
    }
    int64_t median = 0;
    if (n) {
        qsort(dts, n, sizeof *dts, cmp_int64);
        median = dts[n / 2];
    }
    free(dts);
    return median;
}

static int cmp_edge(const void *x, const void *y)
{
    const struct edge *a = x, *b = y;
    if (a->score != b->score)
        return b->score - a->score;
    int64_t da = abs64(a->dt), db = abs64(b->dt);
    if (da != db)
        return (da > db) - (da < db);
    return a->c != b->c ? a->c - b->c : a->s - b->s;
}

static bool strong(unsigned by)
{
    return by & (1u << CMP_BIT_TUPLE | 1u << CMP_BIT_MESSAGE_ID);
}

/* The two best scores a session has among its candidates. */
struct top2 {
    int best, second;
};

static void top2_add(struct top2 *t, int score)
{
    if (score > t->best) {
        t->second = t->best;
        t->best = score;
    } else if (score > t->second) {
        t->second = score;
    }
}

static bool rivalled(const struct top2 *t, int score)
{
    int other = t->best == score ? t->second : t->best;
    return other + NEAR_SCORE >= score;
}

/* Greedy assignment; a pair is a guess when a rival for either of its
 * sessions scored within NEAR_SCORE and its own evidence is not strong. */
static int assign(const struct edges *v, size_t nc, size_t ns, int *c_of_s, int *s_of_c,
                  struct cmp_match *m, size_t *nm)
{
    struct top2 *tc = calloc(nc + 1, sizeof *tc), *ts = calloc(ns + 1, sizeof *ts);
    if (!tc || !ts) {
        free(tc);
        free(ts);
        return -1;
    }
    for (size_t i = 0; i < v->n; i++) {
        top2_add(&tc[v->e[i].c], v->e[i].score);
        top2_add(&ts[v->e[i].s], v->e[i].score);
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct edge *e = &v->e[i];
        if (s_of_c[e->c] >= 0 || c_of_s[e->s] >= 0)
            continue;
        s_of_c[e->c] = e->s;
        c_of_s[e->s] = e->c;
        bool guess = !strong(e->by) &&
                     (rivalled(&tc[e->c], e->score) || rivalled(&ts[e->s], e->score));
        m[(*nm)++] = (struct cmp_match){e->c, e->s, e->score, e->by, guess};
    }
    free(tc);
    free(ts);
    return 0;
}

struct order_ctx {
    struct digest *const *c, *const *s;
    int64_t offset;
};

static smtp_time match_start(const struct cmp_match *m, const struct order_ctx *o)
{
    return m->c >= 0 ? o->c[m->c]->start : o->s[m->s]->start - o->offset;
}

static int cmp_match_order(const void *x, const void *y, void *arg)
{
    const struct cmp_match *a = x, *b = y;
    smtp_time ta = match_start(a, arg), tb = match_start(b, arg);
    if (ta != tb)
        return (ta > tb) - (ta < tb);
    return a->c != b->c ? a->c - b->c : a->s - b->s;
}

static int pair_edges(struct edges *v, struct edges *weak, struct digest *const *c, size_t nc,
                      struct side_index *x, int64_t *offset)
{
    /* first the sure pairs on the raw clocks: they set the offset */
    for (size_t i = 0; i < nc; i++)
        if (!keyed_candidates(v, (int)i, c[i], key_of(c[i], KEY_TUPLE), x, 0, MSGID_WINDOW_NS) ||
            !keyed_candidates(v, (int)i, c[i], key_of(c[i], KEY_MSGID), x, 0, MSGID_WINDOW_NS))
            return -1;
    *offset = clock_offset(v);
    memset(x->tried, 0, (x->ns + 1) * sizeof *x->tried);
    v->n = 0;
    v->weak = weak;
    for (size_t i = 0; i < nc; i++)
        if (!candidates_of(v, (int)i, c[i], x, *offset))
            return -1;
    if (v->n) /* qsort's pointer must not be NULL, even for nothing */
        qsort(v->e, v->n, sizeof *v->e, cmp_edge);
    if (weak->n)
        qsort(weak->e, weak->n, sizeof *weak->e, cmp_edge);
    return 0;
}

int compare_pair(struct digest *const *c, size_t nc, struct digest *const *s, size_t ns,
                 struct cmp_match **out, size_t *nout, int64_t *offset_ns)
{
    struct edges v = {0}, weak = {0};
    int *idx = by_start(s, ns);
    size_t nkeys = 0;
    struct key *keys = key_index(s, ns, &nkeys);
    int *tried = calloc(ns + 1, sizeof *tried);
    int *c_of_s = malloc((ns + 1) * sizeof *c_of_s);
    int *s_of_c = malloc((nc + 1) * sizeof *s_of_c);
    struct cmp_match *m = malloc((nc + ns + 1) * sizeof *m);
    int rc = idx && keys && tried && c_of_s && s_of_c && m ? 0 : -1;
    struct side_index x = {s, ns, idx, keys, nkeys, tried};
    if (!rc)
        rc = pair_edges(&v, &weak, c, nc, &x, offset_ns);
    size_t nm = 0;
    if (!rc) {
        memset(c_of_s, 0xff, (ns + 1) * sizeof *c_of_s);
        memset(s_of_c, 0xff, (nc + 1) * sizeof *s_of_c);
        rc = assign(&v, nc, ns, c_of_s, s_of_c, m, &nm);
    }
    for (size_t i = 0; !rc && i < weak.n; i++) { /* what is left, by time alone */
        const struct edge *e = &weak.e[i];
        if (s_of_c[e->c] >= 0 || c_of_s[e->s] >= 0)
            continue;
        s_of_c[e->c] = e->s;
        c_of_s[e->s] = e->c;
        m[nm++] = (struct cmp_match){e->c, e->s, e->score, e->by, true};
    }
    if (!rc) {
        for (size_t i = 0; i < nc; i++)
            if (s_of_c[i] < 0)
                m[nm++] = (struct cmp_match){(int)i, -1, 0, 0, false};
        for (size_t i = 0; i < ns; i++)
            if (c_of_s[i] < 0)
                m[nm++] = (struct cmp_match){-1, (int)i, 0, 0, false};
        struct order_ctx o = {c, s, *offset_ns};
        qsort_r(m, nm, sizeof *m, cmp_match_order, &o);
    }
    free(v.e);
    free(weak.e);
    free(idx);
    free(keys);
    free(tried);
    free(c_of_s);
    free(s_of_c);
    if (rc) {
        free(m);
        return -1;
    }
    *out = m;
    *nout = nm;
    return 0;
}
