//! `hzlab inspect`: what a scenario file targets, imports and exports, its size and hash.

use anyhow::Result;
use hzlab::scenario::ScenarioSource;

use super::exit;

pub fn run(spec: String) -> Result<u8> {
    let source = match ScenarioSource::resolve(&spec) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hzlab: error: {e}");
            return Ok(exit::BAD_INPUT);
        }
    };
    match hzlab::kit::inspect(&source.display_name(), source.bytes()) {
        Ok(i) => {
            println!("{i}");
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("hzlab: error: {e}");
            Ok(exit::BAD_INPUT)
        }
    }
}
