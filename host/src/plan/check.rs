//! Checks on recorded values: `label.value <op> operand`, e.g. `race.final < 30000` or
//! `kill.observed == kill.predicted`.

use std::fmt;

use crate::metrics;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    pub(crate) fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Number(f64),
    /// `label.value`: a value recorded by the step labelled `label`.
    Value {
        label: String,
        name: String,
    },
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Number(n) => write!(f, "{n}"),
            Operand::Value { label, name } => write!(f, "{label}.{name}"),
        }
    }
}

/// A parsed check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckExpr {
    pub left: Operand,
    pub op: Op,
    pub right: Operand,
    pub source: String,
}

impl fmt::Display for CheckExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.left, self.op.symbol(), self.right)
    }
}

/// Splits `left op right` at its comparison; `Err` when there is none or more than one.
pub(crate) fn split_comparison(source: &str) -> Result<(&str, Op, &str), String> {
    const OPS: [(&str, Op); 6] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    let (at, sym, op) = OPS
        .iter()
        .filter_map(|(s, o)| source.find(s).map(|i| (i, *s, *o)))
        .min_by_key(|(i, s, _)| (*i, std::cmp::Reverse(s.len())))
        .ok_or_else(|| format!("`{source}` has no comparison (one of < <= > >= == !=)"))?;
    let (left, right) = (&source[..at], &source[at + sym.len()..]);
    if right.contains(['<', '>', '=', '!']) {
        return Err(format!("`{source}` has more than one comparison"));
    }
    Ok((left.trim(), op, right.trim()))
}

/// A number; `time` allows a unit (`2ms`, `150us`, `1s`: in µs), for comparing with a
/// latency metric.
pub(crate) fn number(text: &str, time: bool) -> Option<f64> {
    let plain = text
        .trim()
        .replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite());
    if time {
        plain.or_else(|| metrics::parse_time_us(text).ok())
    } else {
        plain
    }
}

/// `t` as a `label.value` operand.
fn value(t: &str) -> Result<Operand, String> {
    let Some((label, name)) = t.split_once('.') else {
        return Err(format!(
            "`{t}` is neither a number nor `label.value` (e.g. `race.final`)"
        ));
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    };
    if !ok(label) || !ok(name) {
        return Err(format!("`{t}` is not a valid `label.value` name"));
    }
    if metrics::is_metric_name(name) {
        metrics::check(name)?;
    }
    Ok(Operand::Value {
        label: label.to_owned(),
        name: name.to_owned(),
    })
}

impl Operand {
    /// Whether this operand reads a latency metric (`race.latency.map.get.p99`).
    fn is_latency(&self) -> bool {
        matches!(self, Operand::Value { name, .. } if metrics::is_latency(name))
    }

    /// The operand's value as a person reads it; `time`: a number compared with a latency.
    fn show(&self, v: f64, time: bool) -> String {
        match self {
            Operand::Number(_) if time => metrics::show_us(v),
            Operand::Number(_) => format!("{v}"),
            Operand::Value { name, .. } if metrics::is_metric_name(name) => {
                format!("{self} = {}", metrics::show(name, v))
            }
            Operand::Value { .. } => format!("{self} = {v}"),
        }
    }
}

impl CheckExpr {
    /// Parses `left op right`. A side may read a metric of a step's scenario
    /// (`race.latency.map.get.p99`, `load.iterations.rate`: see [`crate::metrics`]); a
    /// number compared with a latency may carry a time unit (`2ms`).
    pub fn parse(source: &str) -> Result<CheckExpr, String> {
        let (l, op, r) = split_comparison(source)?;
        if l.is_empty() || r.is_empty() {
            return Err("a side of the comparison is empty".into());
        }
        let latency = [l, r]
            .iter()
            .any(|t| number(t, false).is_none() && value(t).is_ok_and(|o| o.is_latency()));
        let side = |t: &str| match number(t, latency) {
            Some(n) => Ok(Operand::Number(n)),
            None => value(t).map_err(|e| {
                if latency && !t.contains('.') {
                    format!("`{t}` is neither a time (`2ms`, `150us`, `1s`) nor `label.value`")
                } else {
                    e
                }
            }),
        };
        Ok(CheckExpr {
            left: side(l)?,
            op,
            right: side(r)?,
            source: source.to_owned(),
        })
    }

    /// The labels this check reads.
    pub fn labels(&self) -> Vec<&str> {
        [&self.left, &self.right]
            .into_iter()
            .filter_map(|o| match o {
                Operand::Value { label, .. } => Some(label.as_str()),
                Operand::Number(_) => None,
            })
            .collect()
    }

    /// The `label.value` operands, as (label, value).
    pub fn values(&self) -> Vec<(&str, &str)> {
        [&self.left, &self.right]
            .into_iter()
            .filter_map(|o| match o {
                Operand::Value { label, name } => Some((label.as_str(), name.as_str())),
                Operand::Number(_) => None,
            })
            .collect()
    }

    /// Evaluates with `lookup(label, value)`; `Err` names a value that was not recorded.
    pub fn evaluate(
        &self,
        lookup: impl Fn(&str, &str) -> Option<f64>,
    ) -> Result<(bool, String), String> {
        let value = |o: &Operand| match o {
            Operand::Number(n) => Ok(*n),
            Operand::Value { label, name } => lookup(label, name)
                .ok_or_else(|| format!("no value `{name}` was recorded by `{label}`")),
        };
        let (a, b) = (value(&self.left)?, value(&self.right)?);
        let time = self.left.is_latency() || self.right.is_latency();
        Ok((
            self.op.holds(a, b),
            format!("{}, {}", self.left.show(a, time), self.right.show(b, time)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(label: &str, name: &str) -> Option<f64> {
        match (label, name) {
            ("race", "final") => Some(12863.0),
            ("kill", "predicted") | ("kill", "observed") => Some(347.0),
            _ => None,
        }
    }

    #[test]
    fn parses_and_evaluates_comparisons() {
        let c = CheckExpr::parse("race.final < 30000").unwrap();
        assert_eq!(c.op, Op::Lt);
        assert!(c.evaluate(lookup).unwrap().0);
        let c = CheckExpr::parse("race.final >= 30_000").unwrap();
        assert!(!c.evaluate(lookup).unwrap().0);
        let c = CheckExpr::parse("kill.observed == kill.predicted").unwrap();
        let (ok, detail) = c.evaluate(lookup).unwrap();
        assert!(ok);
        assert_eq!(detail, "kill.observed = 347, kill.predicted = 347");
        assert_eq!(c.labels(), vec!["kill", "kill"]);
    }

    #[test]
    fn metrics_compare_with_times() {
        let lookup = |label: &str, name: &str| match (label, name) {
            ("load", "latency.map.get.p99") => Some(1_500.0),
            ("load", "iterations.rate") => Some(4_950.0),
            _ => None,
        };
        let c = CheckExpr::parse("load.latency.map.get.p99 < 2ms").unwrap();
        assert_eq!(c.right, Operand::Number(2_000.0));
        let (ok, detail) = c.evaluate(lookup).unwrap();
        assert!(ok);
        assert_eq!(detail, "load.latency.map.get.p99 = 1.500 ms, 2.000 ms");
        let c = CheckExpr::parse("1ms > load.latency.map.get.p99").unwrap();
        assert!(!c.evaluate(lookup).unwrap().0);
        let c = CheckExpr::parse("load.iterations.rate >= 4_900").unwrap();
        assert!(c.evaluate(lookup).unwrap().0);
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(CheckExpr::parse("race.final 30000")
            .unwrap_err()
            .contains("no comparison"));
        assert!(CheckExpr::parse("final < 3")
            .unwrap_err()
            .contains("label.value"));
        assert!(CheckExpr::parse("a.b < c.d < 3")
            .unwrap_err()
            .contains("more than one"));
        assert!(CheckExpr::parse(" < 3").unwrap_err().contains("empty"));
        let e = CheckExpr::parse("race.latency.map.gte.p99 < 2ms").unwrap_err();
        assert!(e.contains("`map.gte` is not an operation"), "{e}");
        let e = CheckExpr::parse("race.latency.map.get.p99 < soon").unwrap_err();
        assert!(e.contains("neither a time"), "{e}");
        // Units belong to latencies only.
        let e = CheckExpr::parse("race.final < 2ms").unwrap_err();
        assert!(e.contains("neither a number"), "{e}");
        let c = CheckExpr::parse("race.finale == 1").unwrap();
        assert!(c
            .evaluate(lookup)
            .unwrap_err()
            .contains("no value `finale`"));
    }
}
