//! The `hzlab` command: a thin layer over the `hzlab` library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
