"""Memory soak: N interactions through one real worker, its RSS sampled as the rows commit.

Opt-in (``python benchmarks/run.py --soak 1000000``), never in CI: a million interactions take
minutes. The corpus is generated in chunks of 20,000 (each its own seed, so ids never repeat
across chunks; 10% redeliveries inside each) and produced only while the worker's backlog is
under two chunks, so the in-memory broker holds little and the worker runs at full speed.

"Flat" means: RSS at the end no more than 10% above RSS once the worker's bounded caches are
full (``RecentIds`` keeps the last 200,000 ids), read at 30% of the run or 250,000 rows, whichever
is later, but never past half the run (short runs are judged over their second half); the
samples in between are printed so a slow climb is visible too.
"""

from __future__ import annotations

import asyncio
import time

import corpus
import measure
import psutil
import psycopg

CHUNK = 20_000


def run(total: int, seed: int) -> int:
    chunks = max(1, total // CHUNK)
    first = corpus.build(CHUNK, seed)
    dbs = corpus.Databases(first.known_phones)
    try:
        url = dbs.clone("soak")
        with corpus.broker() as bootstrap:
            proc = measure.start_worker(bootstrap, url)
            try:
                return _soak(proc, url, bootstrap, first, chunks, seed)
            finally:
                measure.stop(proc)
    finally:
        dbs.drop_all()


def _soak(proc: psutil.Popen, url: str, bootstrap: str, first: corpus.Corpus, chunks: int, seed: int) -> int:
    expected = 0
    produced = 0
    samples: list[tuple[int, float]] = []
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:

        def committed() -> int:
            row = conn.execute("SELECT count(*) FROM interactions").fetchone()
            return int(row[0]) if row else 0

        done = 0
        for k in range(chunks):
            data = first if k == 0 else corpus.build(CHUNK, seed + k)
            while expected - done > CHUNK:  # at most two chunks of backlog
                time.sleep(0.5)
                done = committed()
                samples.append((done, proc.memory_info().rss / 2**20))
            asyncio.run(corpus.produce(bootstrap, data.records))
            expected += data.unique
            produced += len(data.records)
        deadline = time.perf_counter() + 300
        while done < expected and time.perf_counter() < deadline:
            time.sleep(0.5)
            done = committed()
            samples.append((done, proc.memory_info().rss / 2**20))
    elapsed = time.perf_counter() - started
    settled_at = min(max(int(expected * 0.3), 250_000), int(expected * 0.5))
    settled = next((rss for rows, rss in samples if rows >= settled_at), samples[-1][1])
    end = samples[-1][1]
    step = max(1, len(samples) // 10)
    print(f"soak       : {produced} records ({expected} unique) through one worker in {elapsed:.0f}s")
    print("  rows committed -> worker RSS: " + ", ".join(f"{r} -> {m:.0f} MB" for r, m in samples[::step]))
    growth = (end - settled) / settled
    print(
        f"  RSS {settled:.0f} MB at {settled_at} rows, {end:.0f} MB at the end: {growth:+.1%}"
        f" ({'flat' if growth <= 0.10 else 'GROWING'}); rows {done}/{expected}"
    )
    return 0 if done == expected and growth <= 0.10 else 1
