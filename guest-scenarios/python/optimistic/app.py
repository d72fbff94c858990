"""Increments one key optimistically: read it, then replace-if-same with the value read,
retried whenever another instance wrote in between. The Python twin of the shipped
`optimistic` scenario: same arguments, counters, records and check.

Counters (as the Rust scenario's `hzlab_guest::counter`): `attempts` (writes sent),
`increments` (writes the cluster acknowledged as applied), `refused` (writes answered as
not applied, or failed with a definite error), `retries`. A write that timed out or found
the cluster unavailable is neither: its outcome is unknown, and verify records it as
`uncertain`. An instance that fails says how far it got.

Arguments: map (counter), key (key), iterations (10000).
"""

from hzlab_guest import HzError, Map, Scenario, runtime

# Errors after which a write may or may not have been applied.
UNKNOWN_OUTCOME = ("timeout", "unavailable")


def target():
    return Map(runtime.arg("map", "counter")), runtime.arg("key", "key")


def iterations():
    return runtime.arg("iterations", 10000, int)


def write(send, applied):
    """Sends one increment's write and counts it; returns the cluster's answer."""
    runtime.count("attempts", 1)
    try:
        answer = send()
    except HzError as e:
        if e.kind not in UNKNOWN_OUTCOME:
            runtime.count("refused", 1)
        raise
    if applied(answer):
        runtime.count("increments", 1)
        return True
    runtime.count("refused", 1)
    return False


def increment(counter, key):
    """One increment, retried until no other writer came in between."""
    while True:
        current = counter.get(key)
        if current is None:
            done = write(lambda: counter.put_if_absent(key, 1), lambda old: old is None)
        else:
            done = write(
                lambda: counter.replace_if_same(key, current, current + 1),
                lambda ok: ok,
            )
        if done:
            return
        runtime.count("retries", 1)


class Optimistic(Scenario):
    def setup(self):
        counter, key = target()
        counter.set(key, 0)

    def run(self):
        counter, key = target()
        n = iterations()
        for name in ("attempts", "increments", "refused", "retries"):
            runtime.count(name, 0)
        acknowledged = 0
        for i in range(n):
            try:
                increment(counter, key)
                acknowledged += 1
            except HzError as e:
                where = f"stopped at increment {i + 1} of {n} ({acknowledged} acknowledged)"
                raise HzError(e.kind, f"{where}: {e.message}" if e.message else where) from None

    def iteration(self, index):
        counter, key = target()
        increment(counter, key)

    def verify(self):
        counter, key = target()
        runtime.record("retries", runtime.total("retries"))
        final = counter.get(key, 0)
        expected = runtime.total("increments")
        uncertain = max(0, runtime.total("attempts") - expected - runtime.total("refused"))
        lost = expected - final
        runtime.record("final", final)
        runtime.record("expected", expected)
        runtime.record("uncertain", uncertain)
        runtime.record("lost", lost)
        detail = f"final {final}, expected {expected} acknowledged"
        if uncertain > 0:
            detail += f" (+ {uncertain} uncertain)"
        runtime.check("no-lost-updates", lost <= 0 and -lost <= uncertain, detail)


WitWorld = Optimistic.export()
