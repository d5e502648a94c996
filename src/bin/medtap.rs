//! The `medtap` command.
fn main() -> std::process::ExitCode {
    medtap::cli::main()
}
