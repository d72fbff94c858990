//! Sells tickets from a stock held in one key, in every instance at once, until the stock is
//! gone: `mode=cas` takes each ticket with `replace-if-same` (stock → stock − 1, retried when
//! another instance sold in between), so exactly `stock` tickets are sold; `mode=blind` reads
//! the stock and writes it back minus one with `put`, so two instances that read the same
//! stock both sell the same ticket: the sale oversells.
//!
//! Arguments: `map` (tickets), `key` (stock), `stock` (100), `mode` (cas).
//! Records `sold` (sales acknowledged, over every instance), `final` (the stock left),
//! `oversold` (`sold − (stock − final)`: sales whose decrement was overwritten), `uncertain`
//! (sales whose write had an unknown outcome). Checks, in `cas` mode, that nothing was
//! oversold.

use hzlab_guest::{counter, runtime, Map, Outcome, Scenario, Value};

fn target() -> (Map, Value) {
    let map = Map::new(runtime::arg_str("map", "tickets"));
    let key = Value::String(runtime::arg_str("key", "stock"));
    (map, key)
}

fn stock() -> i64 {
    runtime::arg_or("stock", 100i64)
}

fn cas() -> Result<bool, String> {
    match runtime::arg_str("mode", "cas").as_str() {
        "cas" => Ok(true),
        "blind" => Ok(false),
        m => Err(format!("mode `{m}` is neither cas nor blind")),
    }
}

fn read(map: &Map, key: &Value) -> Result<i64, String> {
    counter::read(map, key)
}

/// Tries to sell one ticket; whether there was stock left to try.
fn sell(cas: bool, map: &Map, key: &Value) -> Result<bool, String> {
    let left = read(map, key)?;
    if left <= 0 {
        return Ok(false);
    }
    let result = if cas {
        map.replace_if_same(key, left, left - 1)
    } else {
        map.put(key, left - 1).map(|_| true)
    };
    match result {
        Ok(true) => runtime::count("sold", 1),
        Ok(false) => {}
        Err(e) if counter::outcome_unknown(&e) => {
            runtime::count("uncertain", 1);
            return Err(format!("sale of ticket {left}: {e}"));
        }
        Err(e) => return Err(format!("sale of ticket {left}: {e}")),
    }
    Ok(true)
}

struct TicketSale;

impl Scenario for TicketSale {
    fn setup() -> Outcome {
        cas()?;
        let (map, key) = target();
        map.set(key, stock())?;
        Ok(())
    }

    fn run() -> Outcome {
        let cas = cas()?;
        let (map, key) = target();
        for name in ["sold", "uncertain"] {
            runtime::count(name, 0);
        }
        while sell(cas, &map, &key)? {}
        Ok(())
    }

    /// One sale attempt (nothing once the stock is gone).
    fn iteration(_index: u64) -> Outcome {
        let (map, key) = target();
        sell(cas()?, &map, &key)?;
        Ok(())
    }

    fn verify() -> Outcome {
        let (map, key) = target();
        let left = read(&map, &key)?;
        let sold = runtime::total("sold");
        let oversold = sold - (stock() - left);
        runtime::record("sold", sold);
        runtime::record("final", left);
        runtime::record("oversold", oversold);
        runtime::record("uncertain", runtime::total("uncertain"));
        if cas()? {
            runtime::check(
                "not-oversold",
                oversold <= 0 && -oversold <= runtime::total("uncertain"),
                format!("{sold} sold from a stock of {}, {left} left", stock()),
            );
        }
        Ok(())
    }
}

hzlab_guest::scenario!(TicketSale);
