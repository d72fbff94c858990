//! Write hzlab scenarios in Rust.
//!
//! This crate owns the bindings of the `hzlab:scenario` world (see `wit/hzlab.wit`) and
//! wraps them in small, idiomatic helpers, so that a scenario reads like the experiment it
//! runs:
//!
//! ```ignore
//! use hzlab_guest::{runtime, Map, Scenario};
//!
//! struct Pessimistic;
//!
//! impl Scenario for Pessimistic {
//!     fn run() -> hzlab_guest::Outcome {
//!         let map = Map::new("counter");
//!         for _ in 0..runtime::arg_or("iterations", 10_000u32) {
//!             let _guard = map.lock("key")?;
//!             let value = map.get("key")?.and_then(|v| v.as_i64()).unwrap_or(0);
//!             map.set("key", value as i32 + 1)?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! hzlab_guest::scenario!(Pessimistic);
//! ```
//!
//! - Keys and values are plain Rust values: `i32` is a Java Integer, `i64` a Long, `f64` a
//!   Double, `bool` a Boolean, `&str`/`String` a String, `Vec<u8>` a byte[] (see [`Value`]);
//!   typed reads ([`Map::get_as`], [`Map::get_or`], [`Queue::poll_as`]) convert back.
//! - Every operation returns [`Result`], whose error is the WIT `error`; `?` in a phase
//!   turns it into the phase's failure message.
//! - Patterns: [`Map::update`] and [`Map::increment`] retry `replace-if-same` until no other
//!   writer came in between; [`Map::lock`] returns a guard that unlocks on drop, and
//!   [`Map::with_lock`] runs a closure under the lock.
//! - [`runtime`] records values, counters and checks for the report.

use std::fmt;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "hzlab:scenario/scenario",
        pub_export_macro: true,
        export_macro_name: "__export_world",
        default_bindings_module: "hzlab_guest::bindings",
    });
}

use bindings::hzlab::scenario as wit;
pub use wit::runtime::Level;
pub use wit::types::{Error, Value};

/// The result of a cluster operation.
pub type Result<T> = std::result::Result<T, Error>;

/// What a scenario phase returns: `Err` with a message fails the phase.
pub type Outcome = std::result::Result<(), String>;

/// A scenario: implement the phases it needs and export it with [`scenario!`].
///
/// Which of `run` and `iteration` the host calls is the run step's choice (its executor):
/// `run` once per instance by default; `iteration` again and again with `--iterations`,
/// `--duration` or `--rate`. A scenario that implements only `iteration` still runs once per
/// instance: the default `run` calls `iteration` as many times as the `iterations` argument
/// says (default 1). A scenario that implements only `run` has no iteration form, and its
/// iterations fail with a message that says so.
pub trait Scenario {
    /// Runs once, before any instance starts.
    fn setup() -> Outcome {
        Ok(())
    }
    /// Runs in every instance, concurrently, when each instance runs once.
    fn run() -> Outcome {
        for index in 0..runtime::arg_or("iterations", 1u64) {
            Self::iteration(index)?;
        }
        Ok(())
    }
    /// One iteration of the workload (`index` counts the step's iterations from 0, across
    /// instances). An instance keeps its memory between iterations: keep handles in a
    /// `thread_local!` or a `static` when they are costly to make.
    fn iteration(index: u64) -> Outcome {
        let _ = index;
        Err(
            "this scenario has no iteration form (it implements only `run`): run it \
             without --iterations, --duration or --rate"
                .into(),
        )
    }
    /// Runs once, after every instance has ended: check invariants with [`runtime::check`].
    fn verify() -> Outcome {
        Ok(())
    }
}

/// Exports a type implementing [`Scenario`] as the component's scenario.
#[macro_export]
macro_rules! scenario {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __HzlabScenarioExport;

        impl $crate::bindings::Guest for __HzlabScenarioExport {
            fn setup() -> ::core::result::Result<(), ::std::string::String> {
                <$ty as $crate::Scenario>::setup()
            }
            fn run() -> ::core::result::Result<(), ::std::string::String> {
                <$ty as $crate::Scenario>::run()
            }
            fn verify() -> ::core::result::Result<(), ::std::string::String> {
                <$ty as $crate::Scenario>::verify()
            }
            fn iteration(index: u64) -> ::core::result::Result<(), ::std::string::String> {
                <$ty as $crate::Scenario>::iteration(index)
            }
        }

        $crate::bindings::__export_world!(__HzlabScenarioExport with_types_in $crate::bindings);
    };
}

/// A readable message for an operation's error (the bindings' `Display` shows its debug form).
pub fn describe(e: &Error) -> String {
    match e {
        Error::Timeout => "operation timed out".into(),
        Error::NotLockOwner => "this instance does not hold the lock".into(),
        Error::Unavailable(m) => format!("cluster unavailable: {m}"),
        Error::InvalidArgument(m) => format!("invalid argument: {m}"),
        Error::Other(m) => m.clone(),
    }
}

impl From<Error> for String {
    fn from(e: Error) -> String {
        describe(&e)
    }
}

impl Value {
    /// The value as an integer, if it is one (`int` or `long`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v as i64),
            Value::Long(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as a string slice, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as a float, if it is a `double`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as bytes, if it is a `byte[]`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(v) => Some(v),
            _ => None,
        }
    }

    /// The Hazelcast type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Boolean(_) => "Boolean",
            Value::Int(_) => "Integer",
            Value::Long(_) => "Long",
            Value::Double(_) => "Double",
            Value::String(_) => "String",
            Value::Bytes(_) => "byte[]",
        }
    }

    /// The value as a `T` (see [`FromValue`]), or `None` if it holds another type.
    pub fn to<T: FromValue>(&self) -> Option<T> {
        T::from_value(self)
    }
}

/// Rust types a [`Value`] converts to: what [`Map::get_as`], [`Queue::poll_as`] and
/// [`Value::to`] return. Integers accept both `int` and `long` values that fit.
pub trait FromValue: Sized {
    /// The Rust type's name, for messages.
    const NAME: &'static str;
    /// The value as `Self`, if it holds a compatible type.
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    const NAME: &'static str = "an integer";
    fn from_value(value: &Value) -> Option<i64> {
        value.as_i64()
    }
}
impl FromValue for i32 {
    const NAME: &'static str = "a 32-bit integer";
    fn from_value(value: &Value) -> Option<i32> {
        value.as_i64().and_then(|v| i32::try_from(v).ok())
    }
}
impl FromValue for bool {
    const NAME: &'static str = "a boolean";
    fn from_value(value: &Value) -> Option<bool> {
        value.as_bool()
    }
}
impl FromValue for f64 {
    const NAME: &'static str = "a double";
    fn from_value(value: &Value) -> Option<f64> {
        value.as_f64()
    }
}
impl FromValue for String {
    const NAME: &'static str = "a string";
    fn from_value(value: &Value) -> Option<String> {
        value.as_str().map(str::to_owned)
    }
}
impl FromValue for Vec<u8> {
    const NAME: &'static str = "bytes";
    fn from_value(value: &Value) -> Option<Vec<u8>> {
        value.as_bytes().map(<[u8]>::to_vec)
    }
}
impl FromValue for Value {
    const NAME: &'static str = "a value";
    fn from_value(value: &Value) -> Option<Value> {
        Some(value.clone())
    }
}

/// The error of a typed read that found another type: `other`, naming what was found.
fn wrong_type<T: FromValue>(what: &str, found: &Value) -> Error {
    Error::Other(format!(
        "{what} holds {found} ({}), not {}",
        found.type_name(),
        T::NAME
    ))
}

fn typed<T: FromValue>(what: impl FnOnce() -> String, value: Option<Value>) -> Result<Option<T>> {
    match value {
        None => Ok(None),
        Some(v) => match T::from_value(&v) {
            Some(t) => Ok(Some(t)),
            None => Err(wrong_type::<T>(&what(), &v)),
        },
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Boolean(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Long(v) => write!(f, "{v}"),
            Value::Double(v) => write!(f, "{v}"),
            Value::String(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => write!(f, "{} bytes", v.len()),
        }
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Long(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Boolean(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Double(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::String(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::String(v.clone())
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bytes(v.to_vec())
    }
}
impl From<&Value> for Value {
    fn from(v: &Value) -> Value {
        v.clone()
    }
}

/// A distributed map, by name.
#[derive(Debug, Clone)]
pub struct Map {
    name: String,
}

impl Map {
    pub fn new(name: impl Into<String>) -> Map {
        Map { name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn get(&self, key: impl Into<Value>) -> Result<Option<Value>> {
        wit::map::get(&self.name, &key.into())
    }

    /// The value of `key` as a `T` (`map.get_as::<i64>(k)?`); a value of another type is an
    /// `other` error naming the map, the key and what it holds.
    pub fn get_as<T: FromValue>(&self, key: impl Into<Value>) -> Result<Option<T>> {
        let key = key.into();
        let value = wit::map::get(&self.name, &key)?;
        typed(|| format!("map {} key {key}", self.name), value)
    }

    /// The value of `key` as a `T`, or `default` when it has none.
    pub fn get_or<T: FromValue>(&self, key: impl Into<Value>, default: T) -> Result<T> {
        Ok(self.get_as(key)?.unwrap_or(default))
    }

    pub fn put(&self, key: impl Into<Value>, value: impl Into<Value>) -> Result<Option<Value>> {
        wit::map::put(&self.name, &key.into(), &value.into())
    }

    pub fn set(&self, key: impl Into<Value>, value: impl Into<Value>) -> Result<()> {
        wit::map::set(&self.name, &key.into(), &value.into())
    }

    pub fn remove(&self, key: impl Into<Value>) -> Result<Option<Value>> {
        wit::map::remove(&self.name, &key.into())
    }

    pub fn contains_key(&self, key: impl Into<Value>) -> Result<bool> {
        wit::map::contains_key(&self.name, &key.into())
    }

    pub fn size(&self) -> Result<u64> {
        wit::map::size(&self.name)
    }

    pub fn put_if_absent(
        &self,
        key: impl Into<Value>,
        value: impl Into<Value>,
    ) -> Result<Option<Value>> {
        wit::map::put_if_absent(&self.name, &key.into(), &value.into())
    }

    pub fn clear(&self) -> Result<()> {
        wit::map::clear(&self.name)
    }

    pub fn replace(&self, key: impl Into<Value>, value: impl Into<Value>) -> Result<Option<Value>> {
        wit::replace::replace(&self.name, &key.into(), &value.into())
    }

    pub fn replace_if_same(
        &self,
        key: impl Into<Value>,
        expected: impl Into<Value>,
        new: impl Into<Value>,
    ) -> Result<bool> {
        wit::replace::replace_if_same(&self.name, &key.into(), &expected.into(), &new.into())
    }

    /// Optimistic update: reads the value, computes the new one with `f` and writes it with
    /// `replace-if-same`, again and again until no other writer came in between. Returns the
    /// new value and how many attempts failed. `f` sees `None` when the key has no value; the
    /// key must have a value for the replace to succeed.
    pub fn update<F>(&self, key: impl Into<Value>, mut f: F) -> Result<(Value, u64)>
    where
        F: FnMut(Option<&Value>) -> Value,
    {
        let key = key.into();
        let mut retries = 0;
        loop {
            let current = self.get(&key)?;
            let new = f(current.as_ref());
            match current {
                Some(old) => {
                    if self.replace_if_same(&key, old, &new)? {
                        return Ok((new, retries));
                    }
                }
                None => {
                    if self.put_if_absent(&key, &new)?.is_none() {
                        return Ok((new, retries));
                    }
                }
            }
            retries += 1;
        }
    }

    /// Adds `delta` to the integer at `key` optimistically (see [`Map::update`]), starting
    /// from 0 when it has no value; keeps its type (`int` stays `int`). Returns the new value
    /// and how many attempts lost to another writer.
    pub fn increment(&self, key: impl Into<Value>, delta: i64) -> Result<(i64, u64)> {
        let key = key.into();
        let mut bad = None;
        let (new, retries) = self.update(&key, |v| match v {
            None => Value::Int(delta as i32),
            Some(Value::Int(n)) => Value::Int(n.wrapping_add(delta as i32)),
            Some(Value::Long(n)) => Value::Long(n.wrapping_add(delta)),
            Some(other) => {
                bad = Some(other.clone());
                other.clone()
            }
        })?;
        if let Some(found) = bad {
            return Err(wrong_type::<i64>(
                &format!("map {} key {key}", self.name),
                &found,
            ));
        }
        Ok((new.as_i64().unwrap_or_default(), retries))
    }

    /// Runs `f` holding the lock on `key`, then unlocks: the pessimistic pattern in one call.
    /// An error of `f` is returned after unlocking; an unlock error is returned when `f`
    /// succeeded.
    pub fn with_lock<T, E: From<Error>>(
        &self,
        key: impl Into<Value>,
        f: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let guard = self.lock(key)?;
        let result = f();
        let unlocked = guard.unlock();
        let value = result?;
        unlocked?;
        Ok(value)
    }

    /// Locks `key`, waiting while another instance holds it; unlocks when the guard drops.
    pub fn lock(&self, key: impl Into<Value>) -> Result<LockGuard<'_>> {
        let key = key.into();
        wit::lock::lock(&self.name, &key)?;
        Ok(LockGuard { map: self, key })
    }

    /// Tries to lock `key` within `timeout_ms`; `None` if another instance kept it.
    pub fn try_lock(
        &self,
        key: impl Into<Value>,
        timeout_ms: u64,
    ) -> Result<Option<LockGuard<'_>>> {
        let key = key.into();
        Ok(wit::lock::try_lock(&self.name, &key, timeout_ms)?
            .then_some(LockGuard { map: self, key }))
    }

    pub fn is_locked(&self, key: impl Into<Value>) -> Result<bool> {
        wit::lock::is_locked(&self.name, &key.into())
    }

    /// Locks without a guard: pair it with [`Map::unlock`].
    pub fn lock_raw(&self, key: impl Into<Value>) -> Result<()> {
        wit::lock::lock(&self.name, &key.into())
    }

    pub fn unlock(&self, key: impl Into<Value>) -> Result<()> {
        wit::lock::unlock(&self.name, &key.into())
    }
}

/// Holds a key lock; dropping it unlocks. Use [`LockGuard::unlock`] to see unlock errors.
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard<'a> {
    map: &'a Map,
    key: Value,
}

impl LockGuard<'_> {
    /// Unlocks now, returning the error if unlocking failed.
    pub fn unlock(self) -> Result<()> {
        let result = self.map.unlock(&self.key);
        std::mem::forget(self);
        result
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.map.unlock(&self.key) {
            runtime::log(
                Level::Warn,
                &format!("unlock on drop failed: {}", describe(&e)),
            );
        }
    }
}

/// A distributed queue, by name.
#[derive(Debug, Clone)]
pub struct Queue {
    name: String,
}

impl Queue {
    pub fn new(name: impl Into<String>) -> Queue {
        Queue { name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds an item if there is room now.
    pub fn offer(&self, item: impl Into<Value>) -> Result<bool> {
        wit::queue::offer(&self.name, &item.into(), None)
    }

    /// Adds an item, waiting up to `timeout_ms` for room.
    pub fn offer_timeout(&self, item: impl Into<Value>, timeout_ms: u64) -> Result<bool> {
        wit::queue::offer(&self.name, &item.into(), Some(timeout_ms))
    }

    /// Adds an item, waiting as long as the queue is full.
    pub fn put(&self, item: impl Into<Value>) -> Result<()> {
        wit::queue::put(&self.name, &item.into())
    }

    /// Removes the head if there is one now.
    pub fn poll(&self) -> Result<Option<Value>> {
        wit::queue::poll(&self.name, None)
    }

    /// Removes the head, waiting up to `timeout_ms` for one.
    pub fn poll_timeout(&self, timeout_ms: u64) -> Result<Option<Value>> {
        wit::queue::poll(&self.name, Some(timeout_ms))
    }

    /// Removes the head, waiting as long as the queue is empty.
    pub fn take(&self) -> Result<Value> {
        wit::queue::take(&self.name)
    }

    /// Removes the head as a `T`, waiting up to `timeout_ms` (`None`: do not wait); an item
    /// of another type is an `other` error naming it.
    pub fn poll_as<T: FromValue>(&self, timeout_ms: Option<u64>) -> Result<Option<T>> {
        let item = wit::queue::poll(&self.name, timeout_ms)?;
        typed(|| format!("an item of queue {}", self.name), item)
    }

    pub fn size(&self) -> Result<u64> {
        wit::queue::size(&self.name)
    }
}

/// What the host tells a scenario, and what a scenario records for the report.
pub mod runtime {
    use super::wit::runtime as rt;
    pub use super::wit::runtime::Level;
    use super::Value;
    use std::str::FromStr;

    /// This instance's index within its scenario, from 0.
    pub fn index() -> u32 {
        rt::instance_index()
    }

    /// How many instances of this scenario run.
    pub fn instances() -> u32 {
        rt::instance_count()
    }

    /// The raw value of run argument `key`.
    pub fn arg(key: &str) -> Option<String> {
        rt::arg(key)
    }

    /// Run argument `key` parsed as `T`, or `default` when it was not given.
    ///
    /// A given but unparsable value stops the instance with a message naming the argument:
    /// a typo in an argument must not silently run another experiment.
    pub fn arg_or<T: FromStr>(key: &str, default: T) -> T {
        match rt::arg(key) {
            None => default,
            Some(raw) => match raw.parse() {
                Ok(v) => v,
                Err(_) => panic_with(&format!(
                    "argument {key}={raw:?} is not a valid {}",
                    std::any::type_name::<T>()
                )),
            },
        }
    }

    /// Every run argument.
    pub fn args() -> Vec<(String, String)> {
        rt::args()
    }

    pub fn log(level: Level, message: &str) {
        rt::log(level, message)
    }

    pub fn debug(message: &str) {
        rt::log(Level::Debug, message)
    }

    pub fn info(message: &str) {
        rt::log(Level::Info, message)
    }

    pub fn warn(message: &str) {
        rt::log(Level::Warn, message)
    }

    pub fn error(message: &str) {
        rt::log(Level::Error, message)
    }

    /// Run argument `key` as a string, or `default` when it was not given.
    pub fn arg_str(key: &str, default: &str) -> String {
        rt::arg(key).unwrap_or_else(|| default.to_owned())
    }

    /// Records a named value for the report (the last record of a name wins).
    pub fn record(name: &str, value: impl Into<Value>) {
        rt::record(name, &value.into())
    }

    /// Adds `delta` to a named counter of this instance.
    pub fn count(name: &str, delta: i64) {
        rt::count(name, delta)
    }

    /// The sum of a named counter over every instance of this scenario.
    pub fn total(name: &str) -> i64 {
        rt::total(name)
    }

    /// Reports an invariant; a false one fails the run.
    pub fn check(name: &str, ok: bool, detail: impl AsRef<str>) -> bool {
        rt::check(name, ok, detail.as_ref());
        ok
    }

    /// Checks that `actual` equals `expected`, with both in the report's detail.
    pub fn check_eq<T: PartialEq + std::fmt::Debug>(name: &str, actual: T, expected: T) -> bool {
        let ok = actual == expected;
        let detail = if ok {
            format!("{actual:?}")
        } else {
            format!("{actual:?}, expected {expected:?}")
        };
        check(name, ok, detail)
    }

    /// Nanoseconds since the run started.
    pub fn now_ns() -> u64 {
        rt::now_ns()
    }

    /// Waits without using the processor.
    pub fn sleep_ms(ms: u64) {
        rt::sleep_ms(ms)
    }

    fn panic_with(message: &str) -> ! {
        rt::log(Level::Error, message);
        panic!("{message}")
    }
}

/// The shared-counter experiment behind the `race`, `pessimistic` and `optimistic`
/// scenarios: every instance increments one key `iterations` times.
///
/// Arguments: `map` (default `counter`), `key` (default `key`), `iterations` (default 10000).
///
/// The figures count what was attempted, as it happens, so that an instance that fails or is
/// stopped part-way still counts what it did (instance counters, summed over instances):
///
/// | counter | what it counts |
/// | --- | --- |
/// | `attempts` | increment writes sent (a `set`, or a `replace-if-same` / `put-if-absent`) |
/// | `increments` | writes the cluster acknowledged as applied |
/// | `refused` | writes that certainly took no effect (an error the cluster reported, or a `replace-if-same` that found another value) |
///
/// The rest, `attempts − increments − refused`, are writes whose outcome is unknown (a
/// timeout, a lost member, an instance stopped mid-write): verify records them as `uncertain`
/// and counts them neither as done nor as lost, as the history checker does.
pub mod counter {
    use super::{runtime, Error, Map, Outcome, Value};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Increments this instance's cluster acknowledged, for its error message.
    static ACKNOWLEDGED: AtomicU64 = AtomicU64::new(0);

    /// The counter's map and key, from the run's arguments.
    pub fn target() -> (Map, Value) {
        let map = Map::new(runtime::arg("map").unwrap_or_else(|| "counter".into()));
        let key = Value::String(runtime::arg("key").unwrap_or_else(|| "key".into()));
        (map, key)
    }

    /// Increments each instance performs.
    pub fn iterations() -> u32 {
        runtime::arg_or("iterations", 10_000u32)
    }

    /// Resets the counter to 0 (Integer, as the official Python client writes an `int`).
    pub fn setup() -> Outcome {
        let (map, key) = target();
        map.set(key, 0)?;
        Ok(())
    }

    /// Reads the counter as a number.
    pub fn read(map: &Map, key: &Value) -> Result<i64, String> {
        match map.get(key)? {
            None => Ok(0),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| format!("counter {key} holds {v}, not a number")),
        }
    }

    /// Whether an error leaves the outcome of the operation unknown (it may have been
    /// applied): the cluster was lost or the call timed out.
    pub fn outcome_unknown(e: &Error) -> bool {
        matches!(e, Error::Timeout | Error::Unavailable(_))
    }

    /// Sends one increment's write and counts it (see the module's table): `applied` tells
    /// from the write's answer whether it took effect (`replace-if-same` answers `false`
    /// when another writer came first).
    pub fn write<T>(
        send: impl FnOnce() -> super::Result<T>,
        applied: impl FnOnce(&T) -> bool,
    ) -> super::Result<T> {
        runtime::count("attempts", 1);
        let result = send();
        match &result {
            Ok(answer) if applied(answer) => {
                runtime::count("increments", 1);
                ACKNOWLEDGED.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => runtime::count("refused", 1),
            Err(e) if !outcome_unknown(e) => runtime::count("refused", 1),
            Err(_) => {}
        }
        result
    }

    /// Runs this instance's `iterations` increments, one `increment` call each (which sends
    /// its write through [`write`]). An error stops the instance with a message saying how
    /// far it got.
    pub fn run(mut increment: impl FnMut(&Map, &Value) -> Result<(), String>) -> Outcome {
        let (map, key) = target();
        let n = iterations();
        // Every counter exists, 0 or not, so that checks can read them.
        for name in ["attempts", "increments", "refused"] {
            runtime::count(name, 0);
        }
        for i in 0..n {
            if let Err(e) = increment(&map, &key) {
                return Err(format!(
                    "stopped at increment {} of {n} ({} acknowledged): {e}",
                    i + 1,
                    ACKNOWLEDGED.load(Ordering::Relaxed)
                ));
            }
        }
        Ok(())
    }

    /// One increment, for a scenario's `iteration`: the executor, not the `iterations`
    /// argument, says how many there are.
    pub fn iteration(increment: impl FnOnce(&Map, &Value) -> Result<(), String>) -> Outcome {
        let (map, key) = target();
        increment(&map, &key)
    }

    /// Records `final` (the counter now), `expected` (increments acknowledged, over every
    /// instance), `uncertain` (writes whose outcome is unknown) and `lost`
    /// (`expected − final`, the history checker's lost updates: negative only when uncertain
    /// writes took effect). When `exact` is set, checks that no acknowledged increment was
    /// lost; otherwise only that the counter did not exceed what may have been applied.
    pub fn verify(exact: bool) -> Outcome {
        let (map, key) = target();
        let final_value = read(&map, &key)?;
        let expected = runtime::total("increments");
        let uncertain = (runtime::total("attempts") - expected - runtime::total("refused")).max(0);
        let lost = expected - final_value;
        runtime::record("final", final_value);
        runtime::record("expected", expected);
        runtime::record("uncertain", uncertain);
        runtime::record("lost", lost);
        let detail = |bound: &str| {
            let mut d = format!("final {final_value}, {bound} {expected} acknowledged");
            if uncertain > 0 {
                d.push_str(&format!(" (+ {uncertain} uncertain)"));
            }
            d
        };
        if exact {
            runtime::check(
                "no-lost-updates",
                lost <= 0 && -lost <= uncertain,
                detail("expected"),
            );
        } else {
            runtime::check(
                "not-above-expected",
                final_value <= expected + uncertain,
                detail("at most"),
            );
        }
        Ok(())
    }
}

/// The conventions the `producer` and `consumer` scenarios share: a bounded queue, and a
/// state map beside it where each producer marks itself done, so that consumers stop when the
/// producers are done and the queue is empty, with no poison pill.
///
/// Arguments: `queue` (default `queue`), `items` (items per producer, default 100),
/// `producers` (how many producer instances the consumers wait for, default 1).
pub mod pipeline {
    use super::{runtime, Map, Queue};

    pub fn queue() -> Queue {
        Queue::new(runtime::arg("queue").unwrap_or_else(|| "queue".into()))
    }

    /// Where producers mark themselves done (`done-<index>` = true).
    pub fn state() -> Map {
        Map::new(format!("{}.state", queue().name()))
    }

    /// Where consumers log each item they took (item -> consumer index).
    pub fn consumed() -> Map {
        Map::new(format!("{}.consumed", queue().name()))
    }

    pub fn items() -> i32 {
        runtime::arg_or("items", 100)
    }

    pub fn producers() -> u32 {
        runtime::arg_or("producers", 1)
    }

    pub fn done_key(producer: u32) -> String {
        format!("done-{producer}")
    }

    /// Whether every producer has marked itself done.
    pub fn producers_done() -> super::Result<bool> {
        let state = state();
        for p in 0..producers() {
            if state.get(done_key(p))?.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
