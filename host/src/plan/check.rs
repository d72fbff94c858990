//! Checks on recorded values: `label.value <op> operand`, e.g. `race.final < 30000` or
//! `kill.observed == kill.predicted`.

use std::fmt;

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

fn operand(text: &str) -> Result<Operand, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("a side of the comparison is empty".into());
    }
    if let Ok(n) = t.replace('_', "").parse::<f64>() {
        return Ok(Operand::Number(n));
    }
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
    Ok(Operand::Value {
        label: label.to_owned(),
        name: name.to_owned(),
    })
}

impl CheckExpr {
    /// Parses `left op right`.
    pub fn parse(source: &str) -> Result<CheckExpr, String> {
        const OPS: [(&str, Op); 6] = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        for (sym, op) in OPS {
            if let Some(at) = source.find(sym) {
                let (l, r) = (&source[..at], &source[at + sym.len()..]);
                if r.contains(['<', '>', '=', '!']) {
                    return Err(format!("`{source}` has more than one comparison"));
                }
                return Ok(CheckExpr {
                    left: operand(l)?,
                    op,
                    right: operand(r)?,
                    source: source.to_owned(),
                });
            }
        }
        Err(format!(
            "`{source}` has no comparison (one of < <= > >= == !=)"
        ))
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
        let shown = |o: &Operand, v: f64| match o {
            Operand::Number(_) => format!("{v}"),
            Operand::Value { .. } => format!("{o} = {v}"),
        };
        Ok((
            self.op.holds(a, b),
            format!("{}, {}", shown(&self.left, a), shown(&self.right, b)),
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
        let c = CheckExpr::parse("race.finale == 1").unwrap();
        assert!(c
            .evaluate(lookup)
            .unwrap_err()
            .contains("no value `finale`"));
    }
}
