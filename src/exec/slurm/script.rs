//! What is handed to `sbatch` for one attempt: the options that ask for its resources, and a
//! batch script that runs the step's command as a local build would run it and leaves its
//! exit code in a file, which is the source of truth for how the command ended (Slurm's own
//! exit code is that of the script, and its accounting may be off).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exec::executor::ActionSpec;
use crate::exec::local::INHERITED_ENV;
use crate::manifest::model::SlurmSettings;

/// Seconds a command may go on after `TERM` when its timeout passes, before `KILL`.
const GRACE_SECONDS: u64 = 10;
/// With `remote=`, what a job's time limit allows beyond the command's `timeout` for the
/// worker to fetch the inputs and store the outputs.
const TRANSFER_ALLOWANCE: Duration = Duration::from_mins(15);
/// With `remote=`, the file of `export NAME=value` lines (under the job's `$HOME` on the
/// node) that the batch script reads before it runs the worker: where the remote's
/// credentials come from, since zenbuild passes none of its own environment to a job.
pub const WORKER_ENV: &str = ".config/zenbuild/worker.env";

/// The files of one attempt, under the build's directory in `.zenbuild/slurm/`.
#[derive(Clone, Debug)]
pub struct AttemptFiles {
    /// The batch script.
    pub script: PathBuf,
    /// Written by the script when the command ends: `exit N HOST` or `timeout N HOST`.
    pub exit: PathBuf,
    /// What Slurm itself prints for the job (`slurmstepd: error: …`), beside the step's own
    /// output, which the script sends to the action's log.
    pub slurm_out: PathBuf,
}

impl AttemptFiles {
    pub fn new(dir: &Path, stem: &str) -> AttemptFiles {
        AttemptFiles {
            script: dir.join(format!("{stem}.sh")),
            exit: dir.join(format!("{stem}.exit")),
            slurm_out: dir.join(format!("{stem}.slurm.out")),
        }
    }
}

/// How the command ended, as the script wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Exited(i32),
    /// Its timeout passed after this many seconds and it was stopped.
    TimedOut(u64),
}

/// Reads an exit file into how the command ended and the node it ran on; `None` for one
/// that is absent, partial or not written by a script.
pub fn read_exit_file(text: &str) -> Option<(Written, String)> {
    let line = text.strip_suffix('\n')?;
    let mut words = line.split(' ');
    let (word, number) = (words.next()?, words.next()?);
    let host = words.next().unwrap_or("").to_string();
    let written = match word {
        "exit" => Written::Exited(number.parse().ok()?),
        "timeout" => Written::TimedOut(number.parse().ok()?),
        _ => return None,
    };
    Some((written, host))
}

/// The batch script for `spec`, whose files are `files`. Values from `path`, the
/// environment of zenbuild, are what PATH and HOME are set to, as a local step would have
/// them (the nodes share the file system, and so the tools, of this machine).
pub fn batch_script(
    spec: &ActionSpec,
    files: &AttemptFiles,
    inherited: &[(String, String)],
) -> String {
    let mut script = String::from("#!/bin/sh\n");
    let _ = writeln!(
        script,
        "# zenbuild: action {}, attempt {}",
        spec.name.replace('\n', " "),
        spec.attempt
    );
    let exit = quote(&files.exit.to_string_lossy());
    let log = quote(&spec.log.to_string_lossy());
    let workdir = quote(&spec.workdir_path().to_string_lossy());
    let _ = writeln!(script, "exit_file={exit}");
    script.push_str(
        "finish() { printf '%s %s %s\\n' \"$1\" \"$2\" \"$(hostname -s 2>/dev/null || hostname)\" > \"$exit_file.tmp\" && mv -f \"$exit_file.tmp\" \"$exit_file\"; }\n",
    );
    // A node that does not mount the workspace cannot run the step, nor say so in the
    // workspace: Slurm's own output file (beside the exit file) would not be there either,
    // so the message goes to the job's stderr, and the missing exit file tells the build.
    let _ = writeln!(
        script,
        "cd {workdir} || {{ echo \"zenbuild: $(hostname) cannot see the workspace\" >&2; exit 1; }}"
    );
    let _ = writeln!(script, "exec > {log} 2>&1");
    // Only what a local step gets: the declared variables, PATH and HOME, and the GPUs
    // Slurm granted (it sets CUDA_VISIBLE_DEVICES in the job's environment).
    let mut env = String::from("env -i");
    for (name, value) in inherited {
        if !spec.env.contains_key(name) {
            let _ = write!(env, " {}", quote(&format!("{name}={value}")));
        }
    }
    for (name, value) in &spec.env {
        let _ = write!(env, " {}", quote(&format!("{name}={value}")));
    }
    if spec.resources.gpus > 0 && !spec.env.contains_key("CUDA_VISIBLE_DEVICES") {
        env.push_str(" ${CUDA_VISIBLE_DEVICES+\"CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES\"}");
    }
    let command = quote(&spec.command);
    if let Some(timeout) = spec.timeout {
        let seconds = timeout.as_secs().max(1);
        let _ = writeln!(script, "started=$(date +%s)");
        let _ = writeln!(
            script,
            "timeout -k {GRACE_SECONDS} {seconds} {env} /bin/sh -c {command}"
        );
        let _ = writeln!(script, "code=$?");
        // `timeout` says 124 (or 137 after KILL) when it stopped the command; a command
        // that exits 124 by itself before its time is not timed out.
        let _ = writeln!(
            script,
            "if [ \"$code\" -eq 124 -o \"$code\" -eq 137 ] && [ $(( $(date +%s) - started )) -ge {seconds} ]; then finish timeout {seconds}; exit \"$code\"; fi"
        );
    } else {
        let _ = writeln!(script, "{env} /bin/sh -c {command}");
        let _ = writeln!(script, "code=$?");
    }
    script.push_str("finish exit \"$code\"\nexit \"$code\"\n");
    script
}

/// The batch script of an attempt that travels through a remote: it runs `worker` (the
/// `zenbuild worker …` line of the attempt) and needs nothing of the workspace, only
/// `zenbuild` on the node's `PATH` and the remote's credentials. A node without zenbuild
/// ends the job with 127, the shell's code for a command not found, which the build reads
/// from Slurm.
pub fn worker_script(spec: &ActionSpec, worker: &str) -> String {
    let mut script = String::from("#!/bin/sh\n");
    let _ = writeln!(
        script,
        "# zenbuild: action {}, attempt {}, through a remote",
        spec.name.replace('\n', " "),
        spec.attempt
    );
    let _ = writeln!(script, "env_file=\"$HOME/{WORKER_ENV}\"");
    script.push_str("if [ -r \"$env_file\" ]; then . \"$env_file\"; fi\n");
    script.push_str(
        "command -v zenbuild >/dev/null 2>&1 || { echo \"zenbuild: not found on $(hostname) (PATH=$PATH)\" >&2; exit 127; }\n",
    );
    let _ = writeln!(script, "exec {worker}");
    script
}

/// The variables a step inherits from zenbuild, with zenbuild's values.
pub fn inherited_env() -> Vec<(String, String)> {
    INHERITED_ENV
        .iter()
        .filter_map(|name| Some(((*name).to_string(), std::env::var(name).ok()?)))
        .collect()
}

/// The `sbatch` arguments for `spec` (the script's path last).
pub fn sbatch_args(
    spec: &ActionSpec,
    settings: &SlurmSettings,
    job_name: &str,
    files: &AttemptFiles,
    exclude: &[String],
    through_remote: bool,
) -> Vec<String> {
    // Through a remote the node sees nothing of the workspace: the job starts in `/tmp`
    // (the worker makes its own scratch directory) and Slurm's own output, which the build
    // could not read, goes nowhere; the worker's report carries the step's.
    let (chdir, output) = if through_remote {
        ("/tmp".into(), "/dev/null".into())
    } else {
        (
            spec.root.to_string_lossy(),
            files.slurm_out.to_string_lossy(),
        )
    };
    let mut args = vec![
        "--parsable".to_string(),
        format!("--job-name={job_name}"),
        format!("--comment={}", comment(&spec.name)),
        format!("--chdir={chdir}"),
        format!("--output={output}"),
        format!("--error={output}"),
        "--open-mode=truncate".to_string(),
        "--ntasks=1".to_string(),
        // A job lost with its node or preempted ends, and the build submits it again
        // elsewhere (`--exclude`); Slurm requeueing it behind the build's back would run the
        // command twice into the same outputs.
        "--no-requeue".to_string(),
        format!("--cpus-per-task={}", spec.resources.cpus.max(1)),
    ];
    if let Some(memory) = spec.resources.memory {
        args.push(format!("--mem={}M", memory.div_ceil(1024 * 1024).max(1)));
    }
    if spec.resources.gpus > 0 {
        args.push(format!("--gres=gpu:{}", spec.resources.gpus));
    }
    if let Some(timeout) = spec.timeout {
        let allowed = if through_remote {
            timeout + TRANSFER_ALLOWANCE
        } else {
            timeout
        };
        args.push(format!("--time={}", time_limit(allowed)));
    }
    for (flag, value) in [
        ("--partition", &settings.partition),
        ("--account", &settings.account),
        ("--qos", &settings.qos),
    ] {
        if let Some(value) = value {
            args.push(format!("{flag}={value}"));
        }
    }
    if !exclude.is_empty() {
        args.push(format!("--exclude={}", exclude.join(",")));
    }
    args.extend(settings.extra.iter().cloned());
    args.push(files.script.to_string_lossy().into_owned());
    args
}

/// Slurm's limit for a step with `timeout`: the script stops the command on time, so this
/// is the backstop for a script that could not (whole minutes, rounded up, plus the grace
/// and a minute to write the exit file).
pub fn time_limit(timeout: Duration) -> String {
    let seconds = timeout.as_secs() + GRACE_SECONDS + 60;
    let minutes = seconds.div_ceil(60);
    format!("{minutes}")
}

/// An action's name as a job comment: one line, no commas (squeue's and sacct's lists).
fn comment(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() || c == ',' { ' ' } else { c })
        .collect()
}

/// `text` as one shell word.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Resources;
    use crate::hash::Digest;
    use std::collections::BTreeMap;
    use std::process::Command;

    fn spec(dir: &Path, command: &str) -> ActionSpec {
        ActionSpec {
            name: "fit@lr=0.1".into(),
            executor: "cluster".into(),
            key: Digest::of(b"key"),
            command: command.into(),
            env: BTreeMap::from([("GREETING".to_string(), "it's \"here\" $HOME".to_string())]),
            root: dir.to_path_buf(),
            workdir: "sub dir".into(),
            inputs: Vec::new(),
            outputs: vec!["out.txt".into()],
            resources: Resources {
                cpus: 2,
                memory: Some(3 * 1024 * 1024 * 1024 + 1),
                gpus: 1,
            },
            gpus: Vec::new(),
            timeout: Some(Duration::from_secs(90)),
            attempt: 2,
            log: dir.join("logs/fit@lr=0.1.log"),
            platform: None,
            cache: true,
            metrics: Vec::new(),
        }
    }

    #[test]
    fn an_exit_file_is_read_only_when_whole() {
        let read = |text| read_exit_file(text).map(|(written, _)| written);
        assert_eq!(read("exit 0 n1\n"), Some(Written::Exited(0)));
        assert_eq!(
            read_exit_file("exit 137 n1\n")
                .map(|(_, host)| host)
                .as_deref(),
            Some("n1")
        );
        assert_eq!(read("timeout 30 n1\n"), Some(Written::TimedOut(30)));
        assert_eq!(read("exit 2\n"), Some(Written::Exited(2)));
        for partial in ["", "exit 0", "exit \n", "exit x\n", "done 0\n"] {
            assert_eq!(read_exit_file(partial), None, "{partial:?}");
        }
    }

    #[test]
    fn options_ask_for_what_the_step_declared() {
        let dir = Path::new("/work space");
        let files = AttemptFiles::new(Path::new("/w/.zenbuild/slurm/run"), "7");
        let settings = SlurmSettings {
            partition: Some("gpu".into()),
            account: Some("ml".into()),
            extra: vec!["--constraint=a100".into()],
            ..SlurmSettings::default()
        };
        let args = sbatch_args(
            &spec(dir, "true"),
            &settings,
            "zenbuild-ab12",
            &files,
            &["n1".into()],
            false,
        );
        for expected in [
            "--parsable",
            "--job-name=zenbuild-ab12",
            "--comment=fit@lr=0.1",
            "--chdir=/work space",
            "--cpus-per-task=2",
            "--mem=3073M",
            "--gres=gpu:1",
            "--time=3",
            "--partition=gpu",
            "--account=ml",
            "--exclude=n1",
            "--constraint=a100",
        ] {
            assert!(
                args.iter().any(|a| a == expected),
                "{expected} not in {args:?}"
            );
        }
        assert_eq!(
            args.last().map(String::as_str),
            Some("/w/.zenbuild/slurm/run/7.sh")
        );
        assert!(!args.iter().any(|a| a.starts_with("--qos")));
    }

    #[test]
    fn through_a_remote_the_job_needs_nothing_of_the_workspace() {
        let files = AttemptFiles::new(Path::new("/w/.zenbuild/slurm/run"), "7");
        let args = sbatch_args(
            &spec(Path::new("/w"), "true"),
            &SlurmSettings::default(),
            "zenbuild-ab12",
            &files,
            &[],
            true,
        );
        for expected in [
            "--chdir=/tmp",
            "--output=/dev/null",
            "--error=/dev/null",
            // 90 s of command, 15 minutes to move its inputs and outputs.
            "--time=18",
        ] {
            assert!(
                args.iter().any(|a| a == expected),
                "{expected} not in {args:?}"
            );
        }
        let script = files.script.to_string_lossy();
        assert!(!args.iter().any(|a| a.contains("/w/") && *a != script));
    }

    #[test]
    fn the_time_limit_leaves_room_for_the_script_to_stop_the_command() {
        assert_eq!(time_limit(Duration::from_secs(1)), "2");
        assert_eq!(time_limit(Duration::from_hours(1)), "62");
    }

    /// The script itself, run by `sh` here as a node would: the command sees only its
    /// declared variables, PATH and HOME, its output goes to the log, and the exit file says
    /// how it ended.
    #[test]
    fn the_script_runs_the_command_as_a_local_step_and_writes_its_exit_code() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("sub dir")).expect("workdir");
        std::fs::create_dir_all(dir.path().join("logs")).expect("logs");
        let files = AttemptFiles::new(dir.path(), "1");
        let mut spec = spec(
            dir.path(),
            "echo \"$GREETING\"; env | sort | cut -d= -f1; exit 3",
        );
        spec.timeout = None;
        spec.resources.gpus = 0;
        let inherited = vec![
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("HOME".to_string(), "/home/it's".to_string()),
        ];
        std::fs::write(&files.script, batch_script(&spec, &files, &inherited)).expect("script");
        let status = Command::new("/bin/sh")
            .arg(&files.script)
            .env("LEAKED", "1")
            .status()
            .expect("sh runs");
        assert_eq!(status.code(), Some(3));
        let exit = std::fs::read_to_string(&files.exit).expect("exit file");
        assert_eq!(
            read_exit_file(&exit).map(|(w, _)| w),
            Some(Written::Exited(3))
        );
        let log = std::fs::read_to_string(&spec.log).expect("log");
        let mut lines = log.lines();
        assert_eq!(lines.next(), Some("it's \"here\" $HOME"));
        let names: Vec<&str> = lines
            .filter(|l| *l != "PWD" && *l != "SHLVL" && *l != "_")
            .collect();
        assert_eq!(names, ["GREETING", "HOME", "PATH"], "{log}");
    }

    /// The worker's script, run by `sh` as a node would: it reads the job's `worker.env`,
    /// runs the worker line, and ends with 127 where no `zenbuild` is on the PATH.
    #[test]
    fn the_worker_script_reads_the_nodes_credentials_and_says_when_zenbuild_is_missing() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("home");
        let config = home.join(".config/zenbuild");
        std::fs::create_dir_all(&config).expect("config dir");
        std::fs::write(config.join("worker.env"), "export SECRET='s 3'\n").expect("env file");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        // Stands in for the worker: says what it was given.
        let worker = bin.join("zenbuild");
        std::fs::write(&worker, "#!/bin/sh\necho \"$SECRET|$*\"\nexit 5\n").expect("worker");
        std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let script = dir.path().join("job.sh");
        let spec = spec(dir.path(), "true");
        std::fs::write(
            &script,
            worker_script(&spec, "zenbuild worker --remote 'file:///r' abc"),
        )
        .expect("script");
        let run = |path: &str| {
            Command::new("/bin/sh")
                .arg(&script)
                .env_clear()
                .env("HOME", &home)
                .env("PATH", path)
                .output()
                .expect("sh runs")
        };
        let ran = run(&format!("{}:/usr/bin:/bin", bin.display()));
        assert_eq!(ran.status.code(), Some(5));
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout),
            "s 3|worker --remote file:///r abc\n"
        );
        let missing = run("/usr/bin:/bin");
        assert_eq!(missing.status.code(), Some(127));
        assert!(String::from_utf8_lossy(&missing.stderr).contains("zenbuild: not found"));
    }

    #[test]
    fn a_command_past_its_timeout_is_stopped_and_said_to_have_timed_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("sub dir")).expect("workdir");
        std::fs::create_dir_all(dir.path().join("logs")).expect("logs");
        let files = AttemptFiles::new(dir.path(), "1");
        let mut spec = spec(dir.path(), "sleep 30");
        spec.timeout = Some(Duration::from_secs(1));
        std::fs::write(&files.script, batch_script(&spec, &files, &inherited_env()))
            .expect("script");
        let status = Command::new("/bin/sh")
            .arg(&files.script)
            .status()
            .expect("sh runs");
        assert_ne!(status.code(), Some(0));
        let exit = std::fs::read_to_string(&files.exit).expect("exit file");
        assert_eq!(
            read_exit_file(&exit).map(|(w, _)| w),
            Some(Written::TimedOut(1))
        );
        // One that exits 124 by itself, in time, exited.
        spec.command = "exit 124".into();
        spec.timeout = Some(Duration::from_secs(30));
        std::fs::write(&files.script, batch_script(&spec, &files, &inherited_env()))
            .expect("script");
        Command::new("/bin/sh")
            .arg(&files.script)
            .status()
            .expect("sh runs");
        let exit = std::fs::read_to_string(&files.exit).expect("exit file");
        assert_eq!(
            read_exit_file(&exit).map(|(w, _)| w),
            Some(Written::Exited(124))
        );
    }
}
