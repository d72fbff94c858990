//! Standard output and standard error that a closed pipe (`hzlab … | head -1`) ends quietly.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once standard output refused a write: nothing more is written there.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Where the human-readable part of a command's output goes: standard output, or standard
/// error when standard output carries a document (`--json -`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Human {
    Stdout,
    Stderr,
}

impl Human {
    pub fn print(self, text: &str) {
        match self {
            Human::Stdout => print(text),
            Human::Stderr => eprint(text),
        }
    }
}

/// Writes `text` to standard output. A reader that went away (broken pipe) ends the output
/// quietly: this and every later write are dropped, the command goes on (it may still write
/// its files). Another error is said once on standard error.
pub fn print(text: &str) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != ErrorKind::BrokenPipe {
            eprint(&format!("hzlab: cannot write to standard output: {e}\n"));
        }
    }
}

/// Writes `text` to standard error, dropping it if standard error is gone.
pub fn eprint(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// Writes `text` to standard output, failing if it cannot (a document the user asked for on
/// standard output, `--json -`).
pub fn print_document(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Makes a `println!` anywhere that meets a closed pipe end the process as a program killed by
/// SIGPIPE does (no panic message, no backtrace), as `cat` would; other panics are reported
/// as before.
pub fn quiet_broken_pipes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to") && message.contains("Broken pipe") {
            let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGPIPE);
            std::process::exit(128 + signal_hook::consts::SIGPIPE);
        }
        default(info)
    }));
}
