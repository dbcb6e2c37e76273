//! Running Slurm's own commands (`sbatch`, `squeue`, `sacct`, `scancel`, `scontrol`): each
//! with a time limit, so that a controller that does not answer slows a build down but never
//! hangs it, and with only the environment they need, so that nothing of zenbuild's (a
//! remote's credentials) is copied into a job's saved environment.

use std::io;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The longest one command may take before it is killed and counted as failed.
pub const COMMAND_LIMIT: Duration = Duration::from_mins(1);

/// What a job's environment may take from zenbuild's: what finds the commands and the
/// cluster (`SLURM_CONF`, and every other `SLURM_` setting), and who the user is.
fn passed_on(name: &str) -> bool {
    matches!(name, "PATH" | "HOME" | "USER" | "LOGNAME" | "LANG" | "TZ")
        || name.starts_with("SLURM_")
}

/// Runs `program` with `args`; its standard output when it exits with 0, else what it said
/// went wrong, as a phrase.
pub fn run(program: &str, args: &[String]) -> Result<String, String> {
    let output = output(program, args).map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let said = said
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim();
    // `sbatch: error: Batch job submission failed: …` is said after the program's name.
    let name = program.rsplit('/').next().unwrap_or(program);
    let said = said
        .strip_prefix(&format!("{name}: error: "))
        .or_else(|| said.strip_prefix(&format!("{name}: ")))
        .unwrap_or(said);
    Err(match output.status.code() {
        Some(code) if said.is_empty() => format!("`{program}` exited with code {code}"),
        Some(_) => format!("`{program}`: {said}"),
        None => format!(
            "`{program}` was killed (no answer within {}s?)",
            COMMAND_LIMIT.as_secs()
        ),
    })
}

fn output(program: &str, args: &[String]) -> io::Result<Output> {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(std::env::vars_os().filter(|(name, _)| name.to_str().is_some_and(passed_on)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn()?;
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("{program} output"))
        .spawn(move || {
            let _ = sender.send(child.wait_with_output());
        })?;
    if let Ok(output) = receiver.recv_timeout(COMMAND_LIMIT) {
        output
    } else {
        {
            if let Some(pid) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            receiver
                .recv()
                .unwrap_or_else(|_| Err(io::Error::other("its output was lost")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_finds_the_cluster_is_passed_on() {
        for name in ["PATH", "HOME", "USER", "SLURM_CONF", "SLURM_ACCOUNT"] {
            assert!(passed_on(name), "{name}");
        }
        for name in [
            "AWS_SECRET_ACCESS_KEY",
            "ZENBUILD_METADATA_PASSWORD",
            "LD_PRELOAD",
        ] {
            assert!(!passed_on(name), "{name}");
        }
    }

    #[test]
    fn a_failing_command_says_why_in_its_last_line() {
        let why = run(
            "/bin/sh",
            &[
                "-c".into(),
                "echo one >&2; echo 'no controller' >&2; exit 1".into(),
            ],
        )
        .expect_err("fails");
        assert_eq!(why, "`/bin/sh`: no controller");
        let why = run(
            "/bin/sh",
            &[
                "-c".into(),
                "echo 'sh: error: Batch job submission failed' >&2; exit 1".into(),
            ],
        )
        .expect_err("fails");
        assert_eq!(why, "`/bin/sh`: Batch job submission failed");
        assert_eq!(
            run("/bin/sh", &["-c".into(), "echo 42".into()]),
            Ok("42\n".into())
        );
        assert!(run("/nonexistent/sbatch", &[]).is_err());
    }
}
