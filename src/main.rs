//! The `bytegate` binary: a thin shell over [`bytegate::cli`].

fn main() -> std::process::ExitCode {
    bytegate::cli::main()
}
