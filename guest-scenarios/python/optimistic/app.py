"""Increments one key optimistically: read it, then replace-if-same with the value read,
retried whenever another instance wrote in between. The Python twin of the shipped
`optimistic` scenario: same arguments, counters, records and check.

Arguments: map (counter), key (key), iterations (10000).
"""

from hzlab_guest import Map, Scenario, runtime


def target():
    return Map(runtime.arg("map", "counter")), runtime.arg("key", "key")


def iterations():
    return runtime.arg("iterations", 10000, int)


class Optimistic(Scenario):
    def setup(self):
        counter, key = target()
        counter.set(key, 0)

    def run(self):
        counter, key = target()
        n = iterations()
        retries = 0
        for _ in range(n):
            _, failed = counter.increment(key)
            retries += failed
        runtime.count("increments", n)
        runtime.count("retries", retries)

    def verify(self):
        counter, key = target()
        runtime.record("retries", runtime.total("retries"))
        final = counter.get(key, 0)
        expected = iterations() * runtime.instances()
        runtime.record("final", final)
        runtime.record("expected", expected)
        runtime.record("lost", expected - final)
        runtime.check("no-lost-updates", final == expected, f"final {final}, expected {expected}")


WitWorld = Optimistic.export()
