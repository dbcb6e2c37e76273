//! `zenbuild worker --remote URL DIGEST`: runs one staged attempt on this machine, for an
//! engine (Ray, Slurm) that runs it where the workspace is not. It needs no workspace: what
//! it prints on stdout is the command's output; its own notes go to stderr; its exit code is
//! the step's, or one of its own (docs/remote-execution.md).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::exec::interrupt::Interrupt;
use crate::remote::{self, RemoteConfig, redact};
use crate::remote_exec::worker::{EXIT_WORKER_FAILED, WorkRequest, work};

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The team remote the attempt was staged in (file://, http(s)://, s3://), without
    /// credentials: they come from this machine's environment
    #[arg(long, value_name = "URL")]
    pub remote: String,

    /// The remote's name in the manifest, which names the variables its credentials come
    /// from (`ZENBUILD_REMOTE_<NAME>_TOKEN`, …)
    #[arg(long, value_name = "NAME", default_value = "worker")]
    pub remote_name: String,

    /// Where to make the scratch directory [default: $TMPDIR, else /tmp]
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,

    /// The digest of the attempt's description in the remote
    #[arg(value_name = "DIGEST")]
    pub description: String,
}

pub fn main(args: &WorkerArgs) -> ExitCode {
    let say = |line: &str| eprintln!("zenbuild worker: {line}");
    let Ok(description) = args.description.parse() else {
        say(&format!(
            "`{}` is not a description's digest (64 hex digits)",
            args.description
        ));
        return ExitCode::from(EXIT_WORKER_FAILED);
    };
    let config = RemoteConfig {
        name: args.remote_name.clone(),
        url: args.remote.clone(),
        read: true,
        write: true,
    };
    let remote = match remote::open(&config) {
        Ok(remote) => remote,
        Err(e) => {
            say(&format!(
                "cannot open the remote {}: {e}",
                redact(&args.remote)
            ));
            return ExitCode::from(EXIT_WORKER_FAILED);
        }
    };
    // SIGTERM from the engine (a cancelled job) and Ctrl-C stop the command's whole group.
    let interrupt = Interrupt::install().unwrap_or_else(|_| Interrupt::new());
    let request = WorkRequest {
        remote: remote.as_ref(),
        description,
        scratch: args.scratch.as_deref(),
    };
    let worked = work(&request, &interrupt, &say);
    let outcome = &worked.outcome;
    let name = outcome.key.map_or_else(
        || "the action".to_string(),
        |key| format!("action {}", key.short()),
    );
    say(&format!("{name} {}", outcome.end.describe()));
    if let Err(e) = &worked.stored {
        say(&format!("cannot store the outcome in the remote: {e}"));
    }
    ExitCode::from(worked.exit_code())
}
