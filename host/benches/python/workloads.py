"""The seed's workloads with the official Python client, for host/benches/real.rs.

Three worker processes (as the seed ran three Python processes), each with its own client,
connected before any timing. For every workload the workers wait on a barrier, run their
share, and report their start, end and per-operation latencies; the parent prints one JSON
line per workload: wall time from the common start to the last end, operation count, p50 and
p99 of one operation, and the workload's own check value.

    python3 workloads.py --cluster-name NAME --addresses 127.0.0.1:5701,... \
        [--iterations 10000] [--keys 1000] [--items 100] [--warmup 300]
"""

import argparse
import json
import multiprocessing as mp
import time

import hazelcast

WORKERS = 3
_client = None
_barrier = None


def _connect(cluster_name, addresses):
    return hazelcast.HazelcastClient(
        cluster_name=cluster_name,
        cluster_members=addresses,
    )


def _init(cluster_name, addresses, barrier):
    global _client, _barrier
    _client = _connect(cluster_name, addresses)
    _barrier = barrier


def _timed(lats, fn, *args):
    t = time.perf_counter_ns()
    r = fn(*args)
    lats.append(time.perf_counter_ns() - t)
    return r


def _task(job):
    workload, index, a = job
    c = _client
    counter = c.get_map("counter").blocking()
    lats = []
    _barrier.wait()
    start = time.perf_counter_ns()
    extra = {}
    if workload == "populate":
        if index == 0:
            m = c.get_map("distributed-map").blocking()
            for k in range(a["keys"]):
                _timed(lats, m.set, k, k)
    elif workload == "race":
        for _ in range(a["iterations"]):
            v = _timed(lats, counter.get, "key")
            _timed(lats, counter.set, "key", (v or 0) + 1)
    elif workload == "pessimistic":
        for _ in range(a["iterations"]):
            _timed(lats, counter.lock, "key")
            v = _timed(lats, counter.get, "key")
            _timed(lats, counter.set, "key", (v or 0) + 1)
            _timed(lats, counter.unlock, "key")
    elif workload == "optimistic":
        retries = 0
        for _ in range(a["iterations"]):
            while True:
                v = _timed(lats, counter.get, "key") or 0
                if _timed(lats, counter.replace_if_same, "key", v, v + 1):
                    break
                retries += 1
        extra["retries"] = retries
    elif workload == "queue":
        q = c.get_queue("queue").blocking()
        state = c.get_map("queue.state").blocking()
        if index == 0:
            for item in range(1, a["items"] + 1):
                if not _timed(lats, q.offer, item):
                    _timed(lats, q.put, item)
            _timed(lats, state.set, "done-0", True)
        else:
            consumed = c.get_map("queue.consumed").blocking()
            got = 0
            while True:
                done = _timed(lats, state.get, "done-0") is not None
                item = _timed(lats, q.poll, 0.1)
                if item is not None:
                    _timed(lats, consumed.put, item, index)
                    got += 1
                elif done:
                    break
            extra["consumed"] = got
    end = time.perf_counter_ns()
    return start, end, lats, extra


def _percentile(sorted_lats, p):
    if not sorted_lats:
        return 0.0
    i = min(len(sorted_lats) - 1, int(round(p / 100.0 * (len(sorted_lats) - 1))))
    return sorted_lats[i] / 1000.0


def _reset(c, workload):
    if workload == "populate":
        c.get_map("distributed-map").blocking().clear()
    elif workload in ("race", "pessimistic", "optimistic"):
        c.get_map("counter").blocking().set("key", 0)
    elif workload == "queue":
        c.get_map("queue.state").blocking().clear()
        c.get_map("queue.consumed").blocking().clear()
        q = c.get_queue("queue").blocking()
        while q.poll() is not None:
            pass


def _check(c, workload, a):
    if workload == "populate":
        return c.get_map("distributed-map").blocking().size()
    if workload == "queue":
        return c.get_map("queue.consumed").blocking().size()
    return c.get_map("counter").blocking().get("key")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cluster-name", required=True)
    p.add_argument("--addresses", required=True)
    p.add_argument("--iterations", type=int, default=10000)
    p.add_argument("--keys", type=int, default=1000)
    p.add_argument("--items", type=int, default=100)
    p.add_argument("--warmup", type=int, default=300)
    args = p.parse_args()
    addresses = args.addresses.split(",")
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(WORKERS)
    admin = _connect(args.cluster_name, addresses)
    pool = ctx.Pool(WORKERS, initializer=_init, initargs=(args.cluster_name, addresses, barrier))
    try:
        a = {"iterations": args.iterations, "keys": args.keys, "items": args.items}
        warm = {"iterations": args.warmup, "keys": args.warmup, "items": 20}
        for workload in ("populate", "race", "pessimistic", "optimistic", "queue"):
            for phase, params in (("warmup", warm), ("measure", a)):
                _reset(admin, workload)
                results = pool.map(
                    _task, [(workload, i, params) for i in range(WORKERS)], chunksize=1
                )
                if phase == "warmup":
                    continue
                start = min(r[0] for r in results)
                end = max(r[1] for r in results)
                lats = sorted(x for r in results for x in r[2])
                extra = {}
                for r in results:
                    for k, v in r[3].items():
                        extra[k] = extra.get(k, 0) + v
                print(
                    json.dumps(
                        {
                            "workload": workload,
                            "secs": (end - start) / 1e9,
                            "ops": len(lats),
                            "p50_us": _percentile(lats, 50),
                            "p99_us": _percentile(lats, 99),
                            "check": _check(admin, workload, a),
                            "extra": extra,
                        }
                    ),
                    flush=True,
                )
    finally:
        pool.close()
        pool.join()
        admin.shutdown()


if __name__ == "__main__":
    main()
