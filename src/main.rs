fn main() -> std::process::ExitCode {
    zenbuild::cli::main()
}
