//! Transfers between bank accounts under locks; verify checks that no money appeared or
//! vanished.
//!
//! Arguments: `accounts` (10), `balance` (100, each account's opening balance), `transfers`
//! (100 per instance).

use hzlab_guest::{runtime, Map, Outcome, Scenario};

struct Bank;

fn accounts() -> i32 {
    runtime::arg_or("accounts", 10)
}

fn balance() -> i64 {
    runtime::arg_or("balance", 100)
}

impl Scenario for Bank {
    fn setup() -> Outcome {
        let bank = Map::new("accounts");
        bank.clear()?;
        for a in 0..accounts() {
            bank.set(a, balance())?;
        }
        Ok(())
    }

    fn run() -> Outcome {
        let bank = Map::new("accounts");
        let n = accounts();
        let me = runtime::index() as i32;
        for i in 0..runtime::arg_or("transfers", 100) {
            let (from, to) = ((me + i) % n, (me + 2 * i + 1) % n);
            if from == to {
                continue;
            }
            // Lock both accounts, always the lower one first, so that transfers cannot
            // deadlock; the guards unlock when they go out of scope.
            let _first = bank.lock(from.min(to))?;
            let _second = bank.lock(from.max(to))?;
            let amount = 1 + i64::from(i % 5);
            let (f, t) = (bank.get_or(from, 0i64)?, bank.get_or(to, 0i64)?);
            bank.set(from, f - amount)?;
            bank.set(to, t + amount)?;
            runtime::count("transfers", 1);
        }
        Ok(())
    }

    fn verify() -> Outcome {
        let bank = Map::new("accounts");
        let mut total = 0;
        for a in 0..accounts() {
            total += bank.get_or(a, 0i64)?;
        }
        runtime::record("total", total);
        runtime::record("transfers", runtime::total("transfers"));
        runtime::check_eq("total-conserved", total, i64::from(accounts()) * balance());
        Ok(())
    }
}

hzlab_guest::scenario!(Bank);
