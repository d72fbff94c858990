//! Between the WIT types and the backend's.

use crate::backend::{OpError, Value};
use crate::bindings::{WitError, WitValue};

pub fn value_from_wit(v: WitValue) -> Value {
    match v {
        WitValue::Boolean(b) => Value::Bool(b),
        WitValue::Int(i) => Value::Int(i),
        WitValue::Long(l) => Value::Long(l),
        WitValue::Double(d) => Value::Double(d),
        WitValue::String(s) => Value::String(s),
        WitValue::Bytes(b) => Value::Bytes(b),
    }
}

/// Java `Byte` and `Short` (written by other clients) reach guests as `int`.
pub fn value_to_wit(v: Value) -> WitValue {
    match v {
        Value::Bool(b) => WitValue::Boolean(b),
        Value::Byte(b) => WitValue::Int(b as i32),
        Value::Short(s) => WitValue::Int(s as i32),
        Value::Int(i) => WitValue::Int(i),
        Value::Long(l) => WitValue::Long(l),
        Value::Double(d) => WitValue::Double(d),
        Value::String(s) => WitValue::String(s),
        Value::Bytes(b) => WitValue::Bytes(b),
    }
}

pub fn error_to_wit(e: OpError) -> WitError {
    match e {
        OpError::Timeout => WitError::Timeout,
        OpError::NotLockOwner => WitError::NotLockOwner,
        OpError::Unavailable(m) => WitError::Unavailable(m),
        OpError::InvalidArgument(m) => WitError::InvalidArgument(m),
        OpError::Other(m) => WitError::Other(m),
    }
}

/// A recorded value as it appears in the JSON report.
pub fn value_to_json(v: &WitValue) -> serde_json::Value {
    match v {
        WitValue::Boolean(b) => (*b).into(),
        WitValue::Int(i) => (*i).into(),
        WitValue::Long(l) => (*l).into(),
        WitValue::Double(d) => serde_json::Number::from_f64(*d)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|| d.to_string().into()),
        WitValue::String(s) => s.clone().into(),
        WitValue::Bytes(b) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!("0x{hex}").into()
        }
    }
}
