#!/usr/bin/env python3
"""Empirical study: top-k vector search per tenant under RLS with pgvector HNSW.

Reproducible: the data set and the queries come from fixed seeds, the ground truth is
computed client-side in float64 from the very vectors that were loaded.

Phases (run in order; `all` runs every one):
  setup     create the scratch database rg_search_study, schema, RLS, role rg_study_app
  load      generate the Gaussian mixture and COPY it in (as the table owner)
  index     build the btree/GIN/HNSW indexes, timing each, and report sizes
  measure   recall@10, p50/p95 latency and rows returned per tenant and strategy
  planflip  prepared statements under plan_cache_mode=force_generic_plan
  partition LIST-partitioned copy with the 50% tenant in its own partition

Usage (see docs/search-study.md):
  python3 -m venv /tmp/rgstudy-venv
  /tmp/rgstudy-venv/bin/pip install -r benches/study/requirements.txt
  /tmp/rgstudy-venv/bin/python benches/study/study.py all
"""

import argparse
import json
import re
import os
import struct
import sys
import time
import uuid

import numpy as np
import psycopg

DB = os.environ.get("STUDY_DB", "rg_search_study")
DSN_ADMIN = os.environ.get("STUDY_DSN", "host=127.0.0.1 user=postgres")
ROLE = "rg_study_app"
DIMS = 1536
K = 10

# Tenant shares of the table. 'small' is the rest spread over SMALL_TENANTS tenants.
# The 3% tenant is carved out of the rest to pin the exact-vs-HNSW crossover.
SHARES = [("50%", 0.50), ("10%", 0.10), ("3%", 0.03), ("1%", 0.01), ("0.1%", 0.001)]
SMALL_TENANTS = 200

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def connect(dbname=DB, **kw):
    return psycopg.connect(f"{DSN_ADMIN} dbname={dbname}", autocommit=True, prepare_threshold=None, **kw)


# --------------------------------------------------------------------------- data

def tenant_uuid(i):
    # Deterministic tenant ids.
    return uuid.UUID(int=(0x7E5A << 112) | (i + 1))


def make_dataset(n, clusters, spread, seed):
    """Gaussian mixture on the unit sphere: normalize(center_c + spread * N(0, I/d)).

    Returns (vectors float32 [n, d], cluster ids, tenant index per row, tenant names).
    Tenant assignment is independent of the clusters.
    """
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, DIMS))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    cl = rng.integers(0, clusters, size=n)
    vecs = np.empty((n, DIMS), dtype=np.float32)
    step = 20000
    for s in range(0, n, step):
        e = min(n, s + step)
        x = centers[cl[s:e]] + spread * rng.standard_normal((e - s, DIMS)) / np.sqrt(DIMS)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        vecs[s:e] = x.astype(np.float32)
    # Tenants: the named shares first, then the rest round-robin-ish over small tenants.
    tenant = np.empty(n, dtype=np.int32)
    names = []
    pos = 0
    for t, (name, share) in enumerate(SHARES):
        cnt = int(round(n * share))
        tenant[pos:pos + cnt] = t
        names.append(name)
        pos += cnt
    rest = n - pos
    small = rng.integers(0, SMALL_TENANTS, size=rest) + len(SHARES)
    tenant[pos:] = small
    names += [f"small{i}" for i in range(SMALL_TENANTS)]
    perm = rng.permutation(n)  # interleave tenants physically, as real ingest would
    return vecs[perm], cl[perm], tenant[perm], names, centers


def make_queries(centers, nq, spread, seed):
    rng = np.random.default_rng(seed)
    cl = rng.integers(0, centers.shape[0], size=nq)
    x = centers[cl] + spread * rng.standard_normal((nq, DIMS)) / np.sqrt(DIMS)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def row_ids(n, seed):
    rng = np.random.default_rng(seed + 1)
    hi = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    lo = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    return [uuid.UUID(int=(int(h) << 64) | int(l)) for h, l in zip(hi, lo)]


# --------------------------------------------------------------------------- setup

SCHEMA_SQL = f"""
CREATE EXTENSION IF NOT EXISTS vector;
CREATE SCHEMA IF NOT EXISTS rowguard;
CREATE OR REPLACE FUNCTION rowguard.current_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
    CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
END $$;
GRANT USAGE ON SCHEMA rowguard TO {ROLE};
GRANT EXECUTE ON FUNCTION rowguard.current_tenant_id() TO {ROLE};
DROP TABLE IF EXISTS document_embeddings CASCADE;
CREATE TABLE document_embeddings (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL,
  document_id uuid NOT NULL,
  chunk_index int NOT NULL,
  chunk text NOT NULL,
  model text NOT NULL,
  embedding vector({DIMS}) NOT NULL,
  chunk_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', chunk)) STORED,
  created_at timestamptz DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
ALTER TABLE document_embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_embeddings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON document_embeddings
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));
GRANT SELECT, INSERT, UPDATE, DELETE ON document_embeddings TO {ROLE};
"""


def phase_setup(args):
    with connect("postgres") as c:
        exists = c.execute("select 1 from pg_database where datname=%s", (DB,)).fetchone()
        if not exists:
            c.execute(f"CREATE DATABASE {DB}")
            log(f"created database {DB}")
    with connect() as c:
        c.execute(SCHEMA_SQL)
    log("schema ready")


def vec_bytes_be(v):
    # pgvector binary: int16 dim, int16 unused, float4[dim] big-endian.
    return struct.pack(">hh", DIMS, 0) + v.astype(">f4").tobytes()


def phase_load(args):
    vecs, cl, tenant, names, _ = make_dataset(args.rows, args.clusters, args.spread, args.seed)
    ids = row_ids(args.rows, args.seed)
    log(f"generated {args.rows} x {DIMS}")
    t0 = time.perf_counter()
    with connect() as c:
        c.execute("TRUNCATE document_embeddings")
        with c.cursor() as cur:
            cols = "tenant_id, id, document_id, chunk_index, chunk, model, embedding"
            with cur.copy(f"COPY document_embeddings ({cols}) FROM STDIN (FORMAT BINARY)") as cp:
                buf = bytearray(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
                for i in range(args.rows):
                    t = tenant_uuid(int(tenant[i])).bytes
                    doc = uuid.UUID(int=ids[i].int ^ 0xD0C).bytes
                    chunk = f"synthetic chunk {i} about topic{int(cl[i])} for {names[tenant[i]]}".encode()
                    model = b"synthetic-gmm"
                    vb = vec_bytes_be(vecs[i])
                    buf += struct.pack(">h", 7)
                    buf += struct.pack(">i", 16) + t
                    buf += struct.pack(">i", 16) + ids[i].bytes
                    buf += struct.pack(">i", 16) + doc
                    buf += struct.pack(">ii", 4, i % 50)
                    buf += struct.pack(">i", len(chunk)) + chunk
                    buf += struct.pack(">i", len(model)) + model
                    buf += struct.pack(">i", len(vb)) + vb
                    if len(buf) > 8 << 20:
                        cp.write(bytes(buf))
                        buf.clear()
                buf += struct.pack(">h", -1)
                cp.write(bytes(buf))
        load_s = time.perf_counter() - t0
        c.execute("VACUUM ANALYZE document_embeddings")
        size = c.execute("select pg_size_pretty(pg_total_relation_size('document_embeddings'))").fetchone()[0]
    log(f"loaded in {load_s:.1f}s ({args.rows / load_s:.0f} rows/s), table total {size}")
    save("load", {"rows": args.rows, "seconds": load_s, "rows_per_s": args.rows / load_s, "size": size})


def phase_index(args):
    res = {}
    with connect() as c:
        c.execute("SET maintenance_work_mem = '2GB'")
        # Serial build, as docs/CONVENTIONS.md requires (pgvector 0.6.0-0.8.1 parallel-build CVE).
        c.execute("SET max_parallel_maintenance_workers = 0")
        for name, sql in [
            ("btree (tenant_id, document_id, chunk_index)",
             "CREATE INDEX IF NOT EXISTS de_tenant_doc_idx ON document_embeddings (tenant_id, document_id, chunk_index)"),
            ("GIN chunk_tsv", "CREATE INDEX IF NOT EXISTS de_tsv_idx ON document_embeddings USING gin (chunk_tsv)"),
            ("HNSW (embedding vector_cosine_ops) m=16 ef_construction=64",
             "CREATE INDEX IF NOT EXISTS de_hnsw_idx ON document_embeddings USING hnsw (embedding vector_cosine_ops)"),
        ]:
            t0 = time.perf_counter()
            c.execute(sql)
            res[name] = time.perf_counter() - t0
            log(f"{name}: {res[name]:.1f}s")
        c.execute("ANALYZE document_embeddings")
        sizes = c.execute(
            "select c.relname, pg_size_pretty(pg_relation_size(c.oid)) from pg_index i "
            "join pg_class c on c.oid=i.indexrelid where i.indrelid='document_embeddings'::regclass"
        ).fetchall()
    log(sizes)
    save("index", {"seconds": res, "sizes": dict(sizes)})


# --------------------------------------------------------------------------- measuring

def save(name, obj):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(obj, f, indent=1, default=str)


def vtext(v):
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


DEFAULT_SQL = ("SELECT id FROM document_embeddings ORDER BY embedding <=> %(q)s::vector LIMIT %(k)s")
# Exact: "+ 0" makes the ORDER BY expression no longer `col <=> const`, so the HNSW
# index cannot provide the order; the explicit tenant_id qual gives the btree.
EXACT_SQL = ("SELECT id FROM document_embeddings WHERE tenant_id = %(t)s "
             "ORDER BY (embedding <=> %(q)s::vector) + 0 LIMIT %(k)s")
# HNSW: the plain ORDER BY (the only shape the HNSW index can serve); the planner is
# kept off every other path by FORCE_HNSW below. Relaxed order is re-sorted by the
# caller (here: recall ignores order; the library sorts the k hits by distance).
HNSW_SQL = DEFAULT_SQL
# At 1536 dims the vectors are TOASTed: the heap is ~3k pages for 100k rows, so the
# planner prices a seq scan + top-N sort far below its real cost (detoasting 6 KB per
# row) and often prefers it to HNSW. These make the HNSW index scan the only
# non-disabled path (a btree scan would need a Sort, which is disabled).
# Over-fetch: take the first m*k rows the (filtered) HNSW scan yields, re-rank exactly.
def overfetch_sql(m):
    return ("WITH c AS MATERIALIZED (SELECT id, embedding <=> %(q)s::vector AS d FROM document_embeddings "
            f"ORDER BY embedding <=> %(q)s::vector LIMIT {m} * %(k)s) SELECT id FROM c ORDER BY d LIMIT %(k)s")


FORCE_HNSW = ["SET LOCAL enable_seqscan = off", "SET LOCAL enable_bitmapscan = off",
              "SET LOCAL enable_sort = off"]


def strategies():
    s = [("default (ef_search=40, iterative off)", DEFAULT_SQL, []),
         ("exact (btree + sort)", EXACT_SQL, []),
         ("hnsw, iterative off, ef=40 (forced)", HNSW_SQL, FORCE_HNSW),
         ]
    for ef in (40, 100, 200):
        s.append((f"relaxed ef={ef}", HNSW_SQL, FORCE_HNSW +
                  ["SET LOCAL hnsw.iterative_scan = relaxed_order", f"SET LOCAL hnsw.ef_search = {ef}"]))
    s.append(("relaxed ef=100 mst=50000", HNSW_SQL, FORCE_HNSW +
              ["SET LOCAL hnsw.iterative_scan = relaxed_order", "SET LOCAL hnsw.ef_search = 100",
               "SET LOCAL hnsw.max_scan_tuples = 50000"]))
    for ef, m in ((40, 2), (40, 4), (100, 2)):
        s.append((f"relaxed ef={ef} overfetch {m}k", overfetch_sql(m), FORCE_HNSW +
                  ["SET LOCAL hnsw.iterative_scan = relaxed_order", f"SET LOCAL hnsw.ef_search = {ef}"]))
    for ef in (40, 100):
        s.append((f"strict ef={ef}", HNSW_SQL, FORCE_HNSW +
                  ["SET LOCAL hnsw.iterative_scan = strict_order", f"SET LOCAL hnsw.ef_search = {ef}"]))
    return s


def plan_shape(plan):
    """Compact plan summary: the scan and sort nodes, top-down."""
    keep = []
    for line in plan.splitlines():
        l = line.strip().lstrip("-> ").strip()
        for key in ("Index Scan", "Index Only Scan", "Seq Scan", "Bitmap Heap Scan", "Bitmap Index Scan",
                    "Sort", "Gather", "Append", "Subplans Removed"):
            if l.startswith(key):
                l = l.split(" on document_embeddings")[0].split(" on de_part")[0]
                keep.append(l.replace("Index Scan using ", "IdxScan ").replace("Bitmap ", "Bmp "))
                break
    return " > ".join(keep)


def load_truth(args):
    vecs, cl, tenant, names, centers = make_dataset(args.rows, args.clusters, args.spread, args.seed)
    ids = np.array([str(u) for u in row_ids(args.rows, args.seed)])
    queries = make_queries(centers, args.queries, args.spread, args.seed + 7)
    return vecs, tenant, names, ids, queries


def ground_truth(vecs, ids, mask, queries):
    sub = vecs[mask].astype(np.float64)
    sub /= np.linalg.norm(sub, axis=1, keepdims=True)
    sid = ids[mask]
    q = queries.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    d = 1.0 - q @ sub.T
    kk = min(K, sub.shape[0])
    idx = np.argsort(d, axis=1, kind="stable")[:, :kk]
    return [set(sid[r]) for r in idx]


def run_tenant(conn, tenant_id, queries, truth, sql, sets, as_app=True, warm=3):
    lat, rec, rows = [], [], []
    for qi in range(-warm, len(queries)):
        qv = queries[max(qi, 0)]
        with conn.transaction():
            if as_app:
                conn.execute(f"SET LOCAL ROLE {ROLE}")
                conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
            for s in sets:
                conn.execute(s)
            params = {"q": vtext(qv), "k": K, "t": tenant_id}
            if qi == -warm:
                shape = plan_shape(explain(conn, sql, params, analyze=False))
            t0 = time.perf_counter()
            got = conn.execute(sql, params).fetchall()
            dt = (time.perf_counter() - t0) * 1000
        if qi < 0:
            continue
        got = [str(r[0]) for r in got]
        lat.append(dt)
        rows.append(len(got))
        tr = truth[qi]
        rec.append(len(tr.intersection(got)) / max(1, len(tr)))
    return {"recall": float(np.mean(rec)), "p50": float(np.percentile(lat, 50)),
            "p95": float(np.percentile(lat, 95)), "rows": float(np.mean(rows)), "min_rows": int(min(rows)),
            "plan": shape}


def measure_tenants(args):
    """Data, truth inputs and the tenants measured: each named share and the median small one."""
    vecs, tenant, names, ids, queries = load_truth(args)
    counts = np.bincount(tenant, minlength=len(names))
    small = [i for i in range(len(SHARES), len(names))]
    median_small = small[int(np.argsort(counts[small])[len(small) // 2])]
    tlist = list(range(len(SHARES))) + [median_small]
    if getattr(args, "tenants", ""):
        tlist = [t for t in tlist if (names[t] if t < len(SHARES) else "small") in args.tenants.split(",")]
    return vecs, tenant, names, ids, queries, counts, tlist


def phase_measure(args):
    vecs, tenant, names, ids, queries, counts, tlist = measure_tenants(args)
    results = {"unfiltered": [], "tenants": []}
    with connect() as c:
        c.execute("SET jit = off")
        warm_caches(c, queries)
        # Unfiltered baseline: the table owner (superuser bypasses RLS), whole table.
        truth_all = ground_truth(vecs, ids, np.ones(len(ids), bool), queries)
        for ef in (40, 64, 100, 200):
            r = run_tenant(c, None, queries, truth_all, DEFAULT_SQL, FORCE_HNSW + [f"SET LOCAL hnsw.ef_search = {ef}"], as_app=False)
            r["ef_search"] = ef
            results["unfiltered"].append(r)
            log(f"unfiltered ef={ef}: {r}")
        for t in tlist:
            tid = tenant_uuid(t)
            mask = tenant == t
            truth = ground_truth(vecs, ids, mask, queries)
            for name, sql, sets in strategies():
                if args.only and not any(o in name for o in args.only.split(",")):
                    continue
                r = run_tenant(c, tid, queries, truth, sql, sets)
                r.update({"tenant": names[t] if t < len(SHARES) else "small (median)",
                          "tenant_rows": int(counts[t]), "strategy": name})
                results["tenants"].append(r)
                log(f"{r['tenant']:>15} {int(counts[t]):>6} {name:<40} rec={r['recall']:.3f} "
                    f"p50={r['p50']:.2f} p95={r['p95']:.2f} rows={r['rows']:.1f} min={r['min_rows']} | {r['plan']}")
    save("measure" + (f"-{args.tag}" if args.tag else ""), results)


def warm_caches(c, queries):
    """Read the table, its TOAST and the HNSW index once, so the first strategy measured
    does not pay for cold caches (everything fits in RAM; shared_buffers does not)."""
    c.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    for rel in ("document_embeddings", "de_hnsw_idx", "document_embeddings_pkey"):
        c.execute("SELECT pg_prewarm(%s::regclass, 'read')", (rel,))
    toast = c.execute("SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname='document_embeddings'").fetchone()[0]
    c.execute("SELECT pg_prewarm(%s::regclass, 'read')", (toast,))
    for qv in queries[:50]:
        with c.transaction():
            for st in FORCE_HNSW:
                c.execute(st)
            c.execute(DEFAULT_SQL, {"q": vtext(qv), "k": K}).fetchall()


def explain(conn, sql, params, analyze=True):
    rows = conn.execute(("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " if analyze else "EXPLAIN (COSTS OFF) ") + sql,
                        params).fetchall()
    return re.sub(r"'\[[^']*\]'", "'[...]'", "\n".join(r[0] for r in rows))


def phase_planflip(args):
    """Prepared statements (server-side, as diesel-async does) with generic plans.

    Each scenario PREPAREs one statement, executes it 6 times for one tenant (under
    some per-transaction settings), then once for another tenant (maybe under other
    settings), and records rows returned, latency and the plan actually executed.
    """
    vecs, tenant, names, ids, queries, counts, tlist = measure_tenants(args)
    big, tiny = tenant_uuid(0), tenant_uuid(4)
    q = vtext(queries[0])
    plain_rls = "SELECT id FROM document_embeddings ORDER BY embedding <=> $1::vector LIMIT 10"
    plain_t = "SELECT id FROM document_embeddings WHERE tenant_id = $2 ORDER BY embedding <=> $1::vector LIMIT 10"
    exact_t = "SELECT id FROM document_embeddings WHERE tenant_id = $2 ORDER BY (embedding <=> $1::vector) + 0 LIMIT 10"
    exact_rls = "SELECT id FROM document_embeddings ORDER BY (embedding <=> $1::vector) + 0 LIMIT 10"
    iterative = ["SET LOCAL hnsw.iterative_scan = relaxed_order", "SET LOCAL hnsw.ef_search = 100"]
    scen = []
    for mode in ("auto", "force_generic_plan"):
        for first, then in ((big, tiny), (tiny, big)):
            for label, sql in (("rls-only, plain ORDER BY", plain_rls), ("tenant_id=$2, plain ORDER BY", plain_t),
                               ("tenant_id=$2, ORDER BY d+0 (exact shape)", exact_t),
                               ("rls-only, ORDER BY d+0 (exact shape)", exact_rls)):
                scen.append((label, mode, sql, first, [], then, []))
            scen.append(("plain ORDER BY + HNSW settings (hnsw strategy)", mode, plain_rls, first,
                         FORCE_HNSW + iterative, then, FORCE_HNSW + iterative))
    # Same SQL text, different settings per execution: is a cached plan re-planned?
    scen.append(("plan built under HNSW settings, reused without them", "force_generic_plan", plain_rls,
                 big, FORCE_HNSW, tiny, []))
    scen.append(("plan built without settings, reused under HNSW settings", "force_generic_plan", plain_rls,
                 tiny, [], big, FORCE_HNSW + iterative))
    scen.append(("plan built under HNSW settings, reused without them (auto)", "auto", plain_rls,
                 big, FORCE_HNSW, tiny, []))
    out = []
    with connect() as c:
        c.execute("SET jit = off")
        for label, mode, sql, first, s1, then, s2 in scen:
            c.execute("DEALLOCATE ALL")
            c.execute(f"SET plan_cache_mode = {mode}")
            has2 = "$2" in sql
            c.execute(f"PREPARE p(vector{', uuid' if has2 else ''}) AS {sql}")
            # EXECUTE is a utility statement: no bind parameters, so literal arguments.

            def ex(t, sets, plan=False):
                with c.transaction():
                    c.execute(f"SET LOCAL ROLE {ROLE}")
                    c.execute("SELECT set_config('app.tenant_id', %s, true)", (str(t),))
                    for st in sets:
                        c.execute(st)
                    ex_sql = f"EXECUTE p('{q}'::vector" + (f", '{t}'::uuid)" if has2 else ")")
                    t0 = time.perf_counter()
                    n = len(c.execute(ex_sql).fetchall())
                    ms = (time.perf_counter() - t0) * 1000
                    shape = plan_shape(explain(c, ex_sql, None, analyze=False)) if plan else ""
                return n, ms, shape

            first_plan = ex(first, s1, plan=True)[2]
            for _ in range(5):
                ex(first, s1)
            n, ms, shape = ex(then, s2, plan=True)
            r = {"scenario": label, "plan_cache_mode": mode,
                 "order": f"6x {'50%' if first == big else '0.1%'} then {'0.1%' if first == big else '50%'}",
                 "first_plan": first_plan, "rows_then": n, "ms_then": ms, "plan_then": shape}
            out.append(r)
            log(f"{label} | {mode} | {r['order']}: rows={n} ms={ms:.1f}\n   first: {first_plan}\n   then:  {shape}")
        c.execute("RESET plan_cache_mode")
    save("planflip", out)


PART_SQL = f"""
DROP TABLE IF EXISTS de_part CASCADE;
CREATE TABLE de_part (LIKE document_embeddings INCLUDING DEFAULTS INCLUDING GENERATED, PRIMARY KEY (tenant_id, id))
  PARTITION BY LIST (tenant_id);
CREATE TABLE de_part_big PARTITION OF de_part FOR VALUES IN ('{tenant_uuid(0)}');
CREATE TABLE de_part_shared PARTITION OF de_part DEFAULT;
ALTER TABLE de_part ENABLE ROW LEVEL SECURITY;
ALTER TABLE de_part FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON de_part
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));
GRANT SELECT ON de_part TO {ROLE};
"""


def phase_partition(args):
    vecs, tenant, names, ids, queries, counts, tlist = measure_tenants(args)
    res = {}
    with connect() as c:
        if not args.skip_build:
            c.execute(PART_SQL)
            c.execute("INSERT INTO de_part (tenant_id, id, document_id, chunk_index, chunk, model, embedding, created_at) "
                      "SELECT tenant_id, id, document_id, chunk_index, chunk, model, embedding, created_at FROM document_embeddings")
            c.execute("SET maintenance_work_mem = '2GB'")
            c.execute("SET max_parallel_maintenance_workers = 0")
            t0 = time.perf_counter()
            c.execute("CREATE INDEX ON de_part USING hnsw (embedding vector_cosine_ops)")
            res["hnsw_build_s"] = time.perf_counter() - t0
            c.execute("VACUUM ANALYZE de_part")
            log(f"partition HNSW build {res['hnsw_build_s']:.1f}s")
        c.execute("SET jit = off")
        for rel in ("de_part_big", "de_part_shared"):
            c.execute("SELECT pg_prewarm(%s::regclass, 'read')", (rel,))
            toast = c.execute("SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname=%s", (rel,)).fetchone()[0]
            c.execute("SELECT pg_prewarm(%s::regclass, 'read')", (toast,))
        for idx, in c.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid IN "
                              "('de_part_big'::regclass, 'de_part_shared'::regclass)").fetchall():
            c.execute("SELECT pg_prewarm(%s::regclass, 'read')", (idx,))
        # Runtime pruning with the policy's sub-select?
        c.execute(f"SET ROLE {ROLE}")
        c.execute("SELECT set_config('app.tenant_id', %s, false)", (str(tenant_uuid(0)),))
        res["explain_big"] = explain(c, "SELECT id FROM de_part ORDER BY embedding <=> %s::vector LIMIT 10", (vtext(queries[0]),))
        c.execute("SELECT set_config('app.tenant_id', %s, false)", (str(tenant_uuid(1)),))
        res["explain_10pct"] = explain(c, "SELECT id FROM de_part ORDER BY embedding <=> %s::vector LIMIT 10", (vtext(queries[0]),))
        c.execute("RESET ROLE")
        log(res["explain_big"])
        log(res["explain_10pct"])
        rows = []
        for t in tlist:
            tid = tenant_uuid(t)
            truth = ground_truth(vecs, ids, tenant == t, queries)
            for name, sql, sets in strategies():
                if not any(o in name for o in ("default", "relaxed ef=40", "relaxed ef=100", "relaxed ef=200", "exact")):
                    continue
                if "mst" in name or "overfetch" in name:
                    continue
                r = run_tenant(c, tid, queries, truth, sql.replace("document_embeddings", "de_part"), sets)
                r.update({"tenant": names[t] if t < len(SHARES) else "small (median)",
                          "tenant_rows": int(counts[t]), "strategy": "partitioned: " + name})
                rows.append(r)
                log(f"{r['tenant']:>15} {name:<40} rec={r['recall']:.3f} p50={r['p50']:.2f} p95={r['p95']:.2f} rows={r['rows']:.1f}")
            if t >= 3:
                break  # the big tenant (own partition) and 10%, 3%, 1% (shared partition)
        res["tenants"] = rows
    save("partition", res)


def phase_report(args):
    """Markdown tables from results/*.json (what docs/search-study.md shows)."""
    import builtins
    def short(row):
        row = " | ".join(" > ".join(x for x in cell.split(" > ") if not x.startswith("Sort Key"))
                         for cell in row.split(" | "))
        return row.replace("Bmp Heap Scan > Bmp Index Scan on ", "bitmap ").replace("IdxScan ", "index ")
    def print(*a):
        builtins.print(*[short(x) if isinstance(x, str) else x for x in a])
    def load(n):
        path = os.path.join(OUT, f"{n}.json")
        return json.load(open(path)) if os.path.exists(path) else None
    m = load("measure")
    o = load("measure-overfetch")
    print("| tenant (rows) | strategy | recall@10 | p50 ms | p95 ms | rows (min) | plan |")
    print("|---|---|---|---|---|---|---|")
    for r in m["unfiltered"]:
        print(f"| unfiltered, owner (100000) | hnsw ef={r['ef_search']} | {r['recall']:.3f} | {r['p50']:.2f} | "
              f"{r['p95']:.2f} | {r['rows']:.1f} ({r['min_rows']}) | {r['plan']} |")
    rows = m["tenants"] + (o["tenants"] if o else [])
    order = {}
    for r in rows:
        order.setdefault(r["tenant"], []).append(r)
    for t, rs in order.items():
        for r in rs:
            print(f"| {t} ({r['tenant_rows']}) | {r['strategy']} | {r['recall']:.3f} | {r['p50']:.2f} | {r['p95']:.2f} | "
                  f"{r['rows']:.1f} ({r['min_rows']}) | {r['plan']} |")
    p = load("partition")
    if p:
        print()
        print("| tenant (rows) | strategy | recall@10 | p50 ms | p95 ms | rows (min) | plan |")
        print("|---|---|---|---|---|---|---|")
        for r in p["tenants"]:
            print(f"| {r['tenant']} ({r['tenant_rows']}) | {r['strategy']} | {r['recall']:.3f} | {r['p50']:.2f} | "
                  f"{r['p95']:.2f} | {r['rows']:.1f} ({r['min_rows']}) | {r['plan']} |")
    f = load("planflip")
    if f:
        print()
        print("| statement | plan_cache_mode | executions | 7th: rows | 7th: ms | 1st plan | 7th plan |")
        print("|---|---|---|---|---|---|---|")
        for r in f:
            print(f"| {r['scenario']} | {r['plan_cache_mode']} | {r['order']} | {r['rows_then']} | {r['ms_then']:.1f} | "
                  f"{r['first_plan']} | {r['plan_then']} |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("phase", choices=["setup", "load", "index", "measure", "planflip", "partition", "report", "all"])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--clusters", type=int, default=100)
    p.add_argument("--spread", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--only", default="", help="comma-separated substrings of strategy names")
    p.add_argument("--tenants", default="", help="comma-separated shares to measure, e.g. 1%%,3%%")
    p.add_argument("--tag", default="")
    p.add_argument("--skip-build", action="store_true")
    a = p.parse_args()
    phases = ["setup", "load", "index", "measure", "planflip", "partition"] if a.phase == "all" else [a.phase]
    for ph in phases:
        globals()["phase_" + ph](a)


if __name__ == "__main__":
    main()
