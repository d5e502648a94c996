//! The `medtap` command.

/// mimalloc: the pipeline allocates protocol records in worker threads and
/// frees them in the merge thread, where glibc's per-thread arenas make every
/// such free take the allocating arena's lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    medtap::cli::main()
}
