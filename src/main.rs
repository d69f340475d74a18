fn main() -> std::process::ExitCode {
    cachescan::run().into()
}
