//! The `cachescan` binary: everything lives in the library; this only runs it.

/// Planning a large tree builds and drops many small AST nodes, on every core at once;
/// mimalloc's per-thread heaps make that much cheaper than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cachescan::run().into()
}
