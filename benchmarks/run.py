"""The one benchmark command: ceiling, omnitrail and naive side by side, then latency, scale-out, micro, console
reads, webhook (with a bare aiohttp server as its reference) and the whole stack under a webhook flood; last, every
target of issue 21 as measured in this run.

Usage: python benchmarks/run.py [--records 20000] [--seed 42] [--rounds 2] [--soak N] [--skip-webhook]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth; OMNITRAIL_TEST_PG overrides); starts its
own in-memory brokers and throw-away databases (clones of one seeded template), dropped at the end.

The baselines consume a backlog (the corpus is produced first, so the producer never limits them);
the worker joins its group first and is then flooded with the corpus as fast as the broker takes
it (the producer outruns the worker several times over), so the group join and its first rebalance
are not counted as throughput. Rounds interleave the pipelines so machine noise hits all alike, and
each number printed is the median over rounds. Latency in these runs is queueing behind a flood;
it is measured separately at a steady offered load.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time

import structlog

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import corpus  # benchmarks are scripts; their siblings are found through sys.path
import measure
from measure import Result

#: The worker as the issue defines the pipeline (dedupe, identity, timeline write, timeline topic): the
#: suggestions agent, a consumer of the timeline topic, is left out here and measured next to it.
PIPELINE = {"OMNITRAIL_SUGGESTIONS_ENABLED": "false"}
#: The worker as ``omnitrail worker`` starts by default: the pipeline and the suggestions agent.
SUGGESTIONS_TOO: dict[str, str] = {}


def throughput_round(
    data: corpus.Corpus,
    dbs: corpus.Databases,
    r: int,
    naive_records: int,
    before: str | None,
    only: list[str] | None = None,
) -> list[Result]:
    out: list[Result] = []
    n = len(data.records)
    naive_slice = data.records[:naive_records]
    naive_unique = len({v for _, v in naive_slice})
    order = ["ceiling", "omnitrail", "omnitrail+sugg", "naive", "ceiling-timeline"]
    order += ["omnitrail-before"] if before else []
    order = [name for name in order if not only or name in only]
    for name in order if r % 2 == 0 else order[::-1]:
        # A broker per run: the worker's consumer group starts from nothing each time.
        with corpus.broker() as bootstrap:
            url = dbs.clone(f"{name.replace('-', '_').replace('+', '_')}_{r}")
            if name.startswith("omnitrail"):
                code = before if name == "omnitrail-before" else None

                def ready(url: str = url) -> None:
                    # Joined first, then flooded: a group join or first rebalance is not throughput.
                    measure.wait_assigned(url, 1)

                def feed(bootstrap: str = bootstrap) -> None:
                    asyncio.run(corpus.produce(bootstrap, data.records))

                env = measure.worker_env(
                    bootstrap, url, code, **(SUGGESTIONS_TOO if name.endswith("sugg") else PIPELINE)
                )
                res = measure.run_processes(
                    name,
                    [(measure.worker_cmd(name.replace("+", "-"), code), env)],
                    url,
                    data.unique,
                    records=n,
                    ready=ready,
                    feed=feed,
                )
            else:
                topic = f"bench.{name}"
                ceiling = name.startswith("ceiling")
                records = data.records if ceiling else naive_slice
                asyncio.run(corpus.create_topic(bootstrap, topic))
                asyncio.run(corpus.produce(bootstrap, records, topic=topic))
                res = measure.run_processes(
                    name,
                    [(measure.baseline_cmd(name, bootstrap, url, topic, len(records)), None)],
                    url,
                    data.unique if ceiling else naive_unique,
                    records=len(records),
                    table={"ceiling": "ceiling_rows", "ceiling-timeline": "ceiling_timeline_rows"}.get(
                        name, "interactions"
                    ),
                    until_exit=True,
                )
            print(f"  round {r + 1}: {res.line()}", flush=True)
            out.append(res)
    return out


def median(results: list[Result], name: str) -> Result:
    mine = [r for r in results if r.name == name]
    best = sorted(mine, key=lambda r: r.rate)[len(mine) // 2]
    best.rate = statistics.median(r.rate for r in mine)
    best.cpu_ms_per_1k = statistics.median(r.cpu_ms_per_1k for r in mine)
    best.db_cpu_ms_per_1k = statistics.median(r.db_cpu_ms_per_1k for r in mine)
    best.peak_rss_mb = max(r.peak_rss_mb for r in mine)
    best.rows = min(r.rows for r in mine) if not name.startswith("ceiling") else best.rows
    return best


#: Issue 21's targets, each a ratio or a latency measured in this run: (label, measured, bound, higher is better).
Target = tuple[str, float, float, bool]
#: Issue 21's worker / naive target.
NAIVE_TARGET = 12


def report(targets: list[Target]) -> None:
    print("targets    : (issue 21; every one from this run)")
    for label, value, bound, higher in targets:
        met = value >= bound if higher else value <= bound
        print(f"  {label:<52} {value:8.2f}  {'>=' if higher else '<='} {bound:<6g} {'met' if met else 'NOT MET'}")


def summarize(results: list[Result], before: str | None) -> list[Target]:
    names = ("ceiling", "omnitrail", "omnitrail+sugg", "naive", "ceiling-timeline")
    ceil, omni, sugg, naive, shaped = (median(results, n) for n in names)
    print("throughput (median of rounds; latency here is queueing behind a flood of 20,000):")
    for res in (ceil, omni, sugg, naive, shaped):
        print("  " + res.line())
    if before:
        old = median(results, "omnitrail-before")
        print("  " + old.line())
        print(f"before/after: omnitrail now / omnitrail at {before} = {omni.rate / old.rate:.2f}")
    print(
        f"ratio      : omnitrail/ceiling = {omni.rate / ceil.rate:.2f}   omnitrail/naive = {omni.rate / naive.rate:.1f}"
        f"   (with the suggestions agent: {sugg.rate / ceil.rate:.2f}, {sugg.rate / naive.rate:.1f})"
    )
    print(
        f"reference  : omnitrail/ceiling-timeline = {omni.rate / shaped.rate:.2f} (the same rows stored in a table of"
        " the timeline's shape, no logic; not the target's ceiling)"
    )
    bound = NAIVE_TARGET * naive.rate
    print(
        f"bound      : {NAIVE_TARGET} x naive = {bound:.0f}/s, ceiling-timeline {shaped.rate:.0f}/s: a worker there"
        f" would store {bound / shaped.rate:.2f}x as fast as the same rows inserted with no logic"
    )
    return [
        ("worker / raw ceiling", omni.rate / ceil.rate, 0.45, True),
        ("worker / timeline-shaped ceiling", omni.rate / shaped.rate, 0.85, True),
        ("worker / naive", omni.rate / naive.rate, NAIVE_TARGET, True),
        (
            "worker rows missing + duplicated",
            float(omni.expected - omni.distinct + omni.rows - omni.distinct),
            0,
            False,
        ),
    ]


def latency_run(data: corpus.Corpus, dbs: corpus.Databases, rate: float, seconds: float) -> Result:
    records = data.records[: int(rate * seconds)]
    unique = len({v for _, v in records})
    url = dbs.clone("latency")
    with corpus.broker() as bootstrap:

        def feed() -> None:
            asyncio.run(corpus.produce_at_rate(bootstrap, records, rate))

        return measure.run_processes(
            f"omnitrail@{rate:.0f}/s",
            [(measure.worker_cmd(), measure.worker_env(bootstrap, url, **PIPELINE))],
            url,
            unique,
            records=len(records),
            ready=lambda: measure.wait_assigned(url, 1),
            feed=feed,
        )


def scale_run(data: corpus.Corpus, dbs: corpus.Databases, workers: int, lanes: int | None) -> tuple[Result, int]:
    """``workers`` processes on 4 partitions, joined before the backlog is produced; returns contact errors too.
    ``lanes``: batches in flight per worker (None: the default)."""
    url = dbs.clone(f"scale{workers}_{lanes or 'default'}")
    role = {**PIPELINE, **({"OMNITRAIL_WORKER_LANES": str(lanes)} if lanes else {})}
    with corpus.broker(partitions=4) as bootstrap:

        def feed() -> None:
            asyncio.run(corpus.produce(bootstrap, data.records))

        envs = [measure.worker_env(bootstrap, url, OMNITRAIL_WORKER_ID=f"bench-{k}", **role) for k in range(workers)]
        res = measure.run_processes(
            f"{workers} worker(s)" + (f", {lanes} lane" if lanes else ""),
            [(measure.worker_cmd(), env) for env in envs],
            url,
            data.unique,
            records=len(data.records),
            ready=lambda: measure.wait_assigned(url, workers),
            feed=feed,
        )
    return res, contact_errors(url)


def contact_errors(url: str) -> int:
    """Interactions not on the contact that owns their sender's phone, plus phones owned twice or never."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            """
            WITH sent AS (
              SELECT i.interaction_id, coalesce(c.merged_into, c.contact_id) AS on_contact,
                     i.document->'sender'->'identifiers'->0->>'value' AS phone
                FROM interactions i JOIN contacts c USING (contact_id))
            SELECT count(*) FILTER (
                     WHERE o.contact_id IS NULL OR coalesce(oc.merged_into, oc.contact_id) <> s.on_contact)
              FROM sent s
              LEFT JOIN contact_identifiers o ON o.kind = 'phone' AND o.value = s.phone
              LEFT JOIN contacts oc ON oc.contact_id = o.contact_id
            """
        ).fetchone()
    return int(row[0]) if row else -1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=2, help="0: skip the side-by-side throughput runs")
    parser.add_argument("--naive-records", type=int, default=2_000, help="the naive pipeline's share of the corpus")
    parser.add_argument("--latency-rate", type=float, default=2_000)
    parser.add_argument("--latency-seconds", type=float, default=8)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-micro", action="store_true")
    parser.add_argument("--skip-webhook", action="store_true", help="also skips the whole-stack flood")
    parser.add_argument("--skip-console", action="store_true")
    parser.add_argument("--console-reads", type=int, default=100, help="reads per console case")
    parser.add_argument("--before", metavar="DIR", help="also run the worker from this checkout, interleaved")
    parser.add_argument("--worker-env", action="append", default=[], metavar="KEY=VALUE", help="worker setting")
    parser.add_argument("--only", type=lambda v: v.split(","), help="only these pipelines' rounds (experiments)")
    parser.add_argument("--profile", metavar="DIR", help="run workers under py-spy record, collapsed stacks in DIR")
    parser.add_argument("--soak", type=int, default=0, help="instead: a memory soak over this many interactions")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    measure.PROFILE_DIR = args.profile
    for pair in args.worker_env:
        key, _, value = pair.partition("=")
        measure.EXTRA_ENV[key] = value
    started = time.perf_counter()
    load = os.getloadavg()
    if args.soak:
        import soak

        return soak.run(args.soak, args.seed)
    data = corpus.build(args.records, args.seed)
    print(
        f"corpus     : {len(data.records)} records ({data.unique} unique, 10% redeliveries), "
        f"{data.avg_bytes / 1024:.2f} KB avg, 60% from {len(data.known_phones)} pre-existing contacts, 4 partitions"
    )
    dbs = corpus.Databases(data.known_phones)
    ok = True
    targets: list[Target] = []
    try:
        results: list[Result] = []
        for r in range(args.rounds):
            results += throughput_round(data, dbs, r, args.naive_records, args.before, args.only)
        ok &= all(r.correct for r in results)
        if args.only:  # an experiment: those rounds, nothing else
            return 0 if ok else 1
        if results:
            targets += summarize(results, args.before)
        lat = latency_run(data, dbs, args.latency_rate, args.latency_seconds)
        ok &= lat.correct
        print(f"latency    : {lat.line()}")
        if not args.skip_scale:
            # Once with the default lanes (one worker already keeps both cores busy), once with one batch
            # in flight per worker, where the second process is the only way to overlap work.
            for lanes in (None, 1):
                one, err1 = scale_run(data, dbs, 1, lanes)
                two, err2 = scale_run(data, dbs, 2, lanes)
                ok &= one.correct and two.correct and err1 == err2 == 0
                print(f"scale-out  : {one.line()}  contact errors {err1}")
                print(f"             {two.line()}  contact errors {err2}")
                print(f"             2 workers / 1 worker = {two.rate / one.rate:.2f}")
        if not args.skip_micro:
            import micro

            micro.main(data, dbs.clone("micro"))
        if not args.skip_console:
            import timeline_search

            console = asyncio.run(timeline_search.run(reads=args.console_reads))
            targets.append(("console: worst-case timeline page p50 (ms)", console["unfiltered"], 10, False))
            searches = [v for k, v in console.items() if k.startswith("q=")]
            targets.append(("console: full-text search in it, slowest case p50 (ms)", max(searches), 20, False))
        if not args.skip_webhook:
            import stack_flood
            import webhook_load

            connector, bare = webhook_load.main(before=args.before)
            targets.append(("webhook connector / bare aiohttp server", connector / bare, 0.75, True))
            flood = stack_flood.run(dbs.clone("stack"))
            print(flood.line())
            ok &= flood.correct
            targets.append(
                ("whole stack: timeline / webhook ingest", flood.timeline_rate / flood.ingest_rate, 0.95, True)
            )
    finally:
        dbs.drop_all()
    if targets:
        report(targets)
    print(f"machine    : load average {load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end; {os.cpu_count()} cores")
    print(f"took       : {time.perf_counter() - started:.0f}s; correctness {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
