"""Write hzlab scenarios in Python: the scenario world's bindings, with Python types.

The Python twin of the Rust crate `hzlab-guest`. Keys, values and queue items are plain Python
values, converted to Hazelcast's types as the official Python client converts them:
`bool` -> Boolean, `int` -> Integer (Long when it does not fit in 32 bits), `float` -> Double,
`str` -> String, `bytes` -> byte[]. Every operation returns its result or raises `HzError`
(the WIT `error`: timeout, not-lock-owner, unavailable, invalid-argument, other).

    from hzlab_guest import Map, Scenario, runtime

    class Counter(Scenario):
        def run(self):
            counter = Map("counter")
            for _ in range(runtime.arg("iterations", 10000, int)):
                counter.increment("key")

    WitWorld = Counter.export()

Build with `hzlab build` (componentize-py with WASI stubbed out: a scenario has no filesystem,
network, clock or environment; use `runtime` for time, arguments and logs).
"""

import traceback

import wit_world
from componentize_py_types import Err
from wit_world.imports import lock as _lock
from wit_world.imports import map as _map
from wit_world.imports import queue as _queue
from wit_world.imports import replace as _replace
from wit_world.imports import runtime as _rt
from wit_world.imports import types as _t

__all__ = ["HzError", "Map", "Queue", "Scenario", "runtime"]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class HzError(Exception):
    """An expected failure of a cluster operation (the WIT `error`).

    `kind` is one of "timeout", "not-lock-owner", "unavailable", "invalid-argument", "other";
    `message` the cluster's message, if any.
    """

    def __init__(self, kind, message=""):
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind
        self.message = message


def _error(err):
    e = err.value
    if isinstance(e, _t.Error_Timeout):
        return HzError("timeout")
    if isinstance(e, _t.Error_NotLockOwner):
        return HzError("not-lock-owner")
    if isinstance(e, _t.Error_Unavailable):
        return HzError("unavailable", e.value)
    if isinstance(e, _t.Error_InvalidArgument):
        return HzError("invalid-argument", e.value)
    return HzError("other", getattr(e, "value", str(e)))


def _call(f, *args):
    try:
        return f(*args)
    except Err as err:
        raise _error(err) from None


def to_value(v):
    """A Python value as a WIT `value` (a bool before an int: `True` is an int in Python)."""
    if isinstance(v, bool):
        return _t.Value_Boolean(v)
    if isinstance(v, int):
        return _t.Value_Int(v) if _INT_MIN <= v <= _INT_MAX else _t.Value_Long(v)
    if isinstance(v, float):
        return _t.Value_Double(v)
    if isinstance(v, str):
        return _t.Value_String(v)
    if isinstance(v, (bytes, bytearray)):
        return _t.Value_Bytes(bytes(v))
    if isinstance(v, (_t.Value_Boolean, _t.Value_Int, _t.Value_Long, _t.Value_Double,
                      _t.Value_String, _t.Value_Bytes)):
        return v
    raise TypeError(f"{v!r} ({type(v).__name__}) is not a Hazelcast value type")


def long(v):
    """An int that is stored as a Java Long even when it fits in 32 bits."""
    return _t.Value_Long(int(v))


def from_value(v):
    """A WIT `value` (or none) as a Python value."""
    return None if v is None else v.value


class Map:
    """A distributed map (Hazelcast IMap), by name."""

    def __init__(self, name):
        self.name = name

    def get(self, key, default=None):
        v = from_value(_call(_map.get, self.name, to_value(key)))
        return default if v is None else v

    def put(self, key, value):
        return from_value(_call(_map.put, self.name, to_value(key), to_value(value)))

    def set(self, key, value):
        _call(_map.set, self.name, to_value(key), to_value(value))

    def remove(self, key):
        return from_value(_call(_map.remove, self.name, to_value(key)))

    def contains_key(self, key):
        return _call(_map.contains_key, self.name, to_value(key))

    def size(self):
        return _call(_map.size, self.name)

    def put_if_absent(self, key, value):
        return from_value(_call(_map.put_if_absent, self.name, to_value(key), to_value(value)))

    def clear(self):
        _call(_map.clear, self.name)

    def replace(self, key, value):
        return from_value(_call(_replace.replace, self.name, to_value(key), to_value(value)))

    def replace_if_same(self, key, expected, new):
        return _call(_replace.replace_if_same, self.name, to_value(key), to_value(expected),
                     to_value(new))

    def update(self, key, f):
        """Optimistic update: reads the value, computes the new one with `f(old)` (`old` is
        None when the key has none) and writes it with replace-if-same (put-if-absent when
        there was none), again until no other writer came in between.

        Returns `(new, retries)`. The expected value is compared in its stored type."""
        k = to_value(key)
        retries = 0
        while True:
            current = _call(_map.get, self.name, k)
            new = to_value(f(from_value(current)))
            if current is None:
                if _call(_map.put_if_absent, self.name, k, new) is None:
                    return new.value, retries
            elif _call(_replace.replace_if_same, self.name, k, current, new):
                return new.value, retries
            retries += 1

    def increment(self, key, delta=1):
        """Adds `delta` to the integer at `key` optimistically (0 when it has none); an
        Integer stays an Integer. Returns `(new, retries)`."""

        def add(v):
            if v is None:
                return delta
            if isinstance(v, bool) or not isinstance(v, int):
                raise HzError("other", f"map {self.name} key {key!r} holds {v!r}, not an integer")
            return v + delta

        return self.update(key, add)

    def lock(self, key):
        """Locks `key`, waiting while another instance holds it. Use it in a `with` block to
        unlock at its end: `with accounts.lock(1): ...`."""
        k = to_value(key)
        _call(_lock.lock, self.name, k)
        return _Held(self.name, k)

    def try_lock(self, key, timeout_ms=0):
        """Tries to lock `key` within `timeout_ms`; whether this instance now holds it."""
        return _call(_lock.try_lock, self.name, to_value(key), timeout_ms)

    def unlock(self, key):
        _call(_lock.unlock, self.name, to_value(key))

    def is_locked(self, key):
        return _call(_lock.is_locked, self.name, to_value(key))


class _Held:
    """A held key lock: the `with` block's end unlocks it."""

    def __init__(self, name, key):
        self._name, self._key = name, key

    def unlock(self):
        _call(_lock.unlock, self._name, self._key)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.unlock()
        return False


class Queue:
    """A distributed queue (Hazelcast IQueue), by name."""

    def __init__(self, name):
        self.name = name

    def offer(self, item, timeout_ms=None):
        """Adds `item` if there is room, waiting up to `timeout_ms` (None: do not wait)."""
        return _call(_queue.offer, self.name, to_value(item), timeout_ms)

    def put(self, item):
        """Adds `item`, waiting as long as the queue is full."""
        _call(_queue.put, self.name, to_value(item))

    def poll(self, timeout_ms=None):
        """Removes the head, waiting up to `timeout_ms` (None: do not wait); None if empty."""
        return from_value(_call(_queue.poll, self.name, timeout_ms))

    def take(self):
        """Removes the head, waiting as long as the queue is empty."""
        return from_value(_call(_queue.take, self.name))

    def size(self):
        return _call(_queue.size, self.name)


class runtime:
    """What the host tells a scenario, and what it records for the report."""

    @staticmethod
    def index():
        """This instance's index within its scenario, from 0."""
        return _rt.instance_index()

    @staticmethod
    def instances():
        """How many instances of this scenario run."""
        return _rt.instance_count()

    @staticmethod
    def arg(key, default=None, parse=str):
        """Run argument `key` (`--arg key=value`) converted with `parse`, or `default`. A
        value `parse` rejects stops the phase with a message naming the argument."""
        raw = _rt.arg(key)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError:
            raise HzError("invalid-argument",
                          f"argument {key}={raw!r} is not a valid {parse.__name__}") from None

    @staticmethod
    def args():
        return list(_rt.args())

    @staticmethod
    def log(message, level="info"):
        levels = {"debug": _rt.Level.DEBUG, "info": _rt.Level.INFO, "warn": _rt.Level.WARN,
                  "error": _rt.Level.ERROR}
        _rt.log(levels[level], str(message))

    @staticmethod
    def info(message):
        _rt.log(_rt.Level.INFO, str(message))

    @staticmethod
    def warn(message):
        _rt.log(_rt.Level.WARN, str(message))

    @staticmethod
    def record(name, value):
        """Records a named value for the report; ints are recorded as Long."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = long(value)
        _rt.record(name, to_value(value))

    @staticmethod
    def count(name, delta=1):
        """Adds `delta` to a named counter of this instance."""
        _rt.count(name, delta)

    @staticmethod
    def total(name):
        """The sum of a named counter over every instance of this scenario."""
        return _rt.total(name)

    @staticmethod
    def check(name, ok, detail=""):
        """Reports an invariant; a false one fails the run."""
        _rt.check(name, bool(ok), str(detail))
        return bool(ok)

    @staticmethod
    def now_ns():
        return _rt.now_ns()

    @staticmethod
    def sleep_ms(ms):
        _rt.sleep_ms(ms)


class Scenario:
    """A scenario: override the phases it needs, then `WitWorld = MyScenario.export()`.

    Which of `run` and `iteration` the host calls is the run step's choice: `run` once per
    instance by default, `iteration` again and again with `--iterations`, `--duration` or
    `--rate`. One object serves every call of an instance, so attributes set in one iteration
    are there in the next."""

    def setup(self):
        """Runs once, before any instance starts."""

    def run(self):
        """Runs in every instance, concurrently, when each instance runs once. By default it
        calls `iteration` as many times as the `iterations` argument says (default 1), when
        the scenario has one."""
        if type(self).iteration is not Scenario.iteration:
            for index in range(runtime.arg("iterations", 1, int)):
                self.iteration(index)

    def iteration(self, index):
        """One iteration of the workload (`index` counts the step's iterations from 0,
        across instances)."""
        raise Err("this scenario has no iteration form (it implements only `run`): run it "
                  "without --iterations, --duration or --rate")

    def verify(self):
        """Runs once, after every instance has ended: check invariants here."""

    @classmethod
    def export(cls):
        """The class componentize-py exports as the scenario world. An exception fails the
        phase (or the iteration) with its message (a traceback for anything but `HzError`)."""
        instance = []

        def target():
            if not instance:
                instance.append(cls())
            return instance[0]

        def guarded(name, call):
            try:
                call()
            except HzError as e:
                raise Err(f"{name}: {e}") from None
            except Err:
                raise
            except Exception:
                raise Err(f"{name}: {traceback.format_exc()}") from None

        def phase(name):
            def call(self):
                guarded(name, getattr(target(), name))

            return call

        def iteration(self, index):
            guarded("iteration", lambda: target().iteration(index))

        methods = {p: phase(p) for p in ("setup", "run", "verify")}
        methods["iteration"] = iteration
        return type("WitWorld", (wit_world.WitWorld,), methods)
