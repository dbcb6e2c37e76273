fn main() -> std::process::ExitCode {
    let code = zenbuild::cli::main();
    // A build's lineage store is still being closed; it must end whole.
    zenbuild::lineage::closing::wait();
    code
}
