//! The `bareme-mel` command: parses the command line and dispatches.

use std::process::ExitCode;

fn main() -> ExitCode {
    bareme_mel::cli::main()
}
