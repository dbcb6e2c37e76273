//! The one builder every integration test goes through: a temporary git repository with a
//! manifest and files, the real `zenbuild` binary, and assertions on what it printed.
#![allow(dead_code)]

pub mod golden;
pub mod guard;
pub mod local_server;
pub mod mariadb;
pub mod nginx;
pub mod postgres;
pub mod ray;
pub mod seaweed;
pub mod slurm;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    cwd: PathBuf,
    git: bool,
    /// Environment changes on top of the defaults (`NO_COLOR=1`); `None` removes the variable.
    env: Vec<(String, Option<String>)>,
    terminal: bool,
}

impl Default for Test {
    fn default() -> Test {
        Test::new()
    }
}

impl Test {
    /// An empty workspace inside a fresh git repository.
    pub fn new() -> Test {
        Test::new_in(&std::env::temp_dir())
    }

    /// An empty workspace inside a fresh git repository, made in `parent`.
    pub fn new_in(parent: &std::path::Path) -> Test {
        let dir = tempfile::tempdir_in(parent).expect("create a temporary directory");
        Test {
            cwd: dir.path().to_path_buf(),
            dir,
            args: Vec::new(),
            git: true,
            env: Vec::new(),
            terminal: false,
        }
    }

    /// A workspace that is not inside any git repository.
    pub fn without_git(mut self) -> Test {
        let enclosing = self
            .dir
            .path()
            .ancestors()
            .find(|dir| dir.join(".git").exists());
        assert!(
            enclosing.is_none(),
            "the temporary directory is inside the git repository {enclosing:?}; set TMPDIR elsewhere"
        );
        self.git = false;
        self
    }

    pub fn manifest(self, text: &str) -> Test {
        self.file("zenbuild.kdl", text)
    }

    pub fn file(self, path: &str, text: &str) -> Test {
        let path = self.dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(path, text).expect("write test file");
        self
    }

    /// Replaces a file the way an editor saves it: the bytes go to a new file beside it, which
    /// is renamed over it, so that its directory changes too.
    pub fn save(self, path: &str, text: &str) -> Test {
        let path = self.dir.path().join(path);
        let temp = path.with_extension("zenbuild-test-save");
        std::fs::write(&temp, text).expect("write the new file");
        std::fs::rename(&temp, &path).expect("rename it over the old one");
        self
    }

    /// Removes a file or a whole directory of the workspace.
    pub fn remove(self, path: &str) -> Test {
        let path = self.dir.path().join(path);
        let meta = std::fs::symlink_metadata(&path)
            .unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
        if meta.is_dir() {
            std::fs::remove_dir_all(&path).expect("remove directory");
        } else {
            std::fs::remove_file(&path).expect("remove file");
        }
        self
    }

    /// Moves a file's modification time an hour on, leaving its bytes alone, as `touch` does
    /// (but far enough that no timestamp granularity can hide it).
    pub fn touch(self, path: &str) -> Test {
        let path = self.dir.path().join(path);
        let later = std::fs::metadata(&path)
            .and_then(|meta| meta.modified())
            .expect("stat the file to touch")
            + std::time::Duration::from_hours(1);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(later))
            .unwrap_or_else(|e| panic!("cannot touch {}: {e}", path.display()));
        self
    }

    /// An empty directory (and its parents).
    pub fn dir(self, path: &str) -> Test {
        std::fs::create_dir_all(self.dir.path().join(path)).expect("create directory");
        self
    }

    pub fn symlink(self, link: &str, target: &str) -> Test {
        std::os::unix::fs::symlink(target, self.dir.path().join(link)).expect("create symlink");
        self
    }

    pub fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(ToString::to_string));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Test {
        self.env.push((name.to_string(), Some(value.to_string())));
        self
    }

    pub fn env_remove(mut self, name: &str) -> Test {
        self.env.push((name.to_string(), None));
        self
    }

    /// Runs zenbuild with a pseudo-terminal as stdout and stderr (through `script`), so that
    /// `--color auto` sees a terminal. Both streams arrive in [`Output::stdout`], with `\r\n`
    /// line ends. See [`Test::has_program`] to skip when `script` is missing.
    pub fn terminal(mut self) -> Test {
        self.terminal = true;
        self
    }

    /// Runs zenbuild from this subdirectory of the workspace.
    pub fn current_dir(mut self, relative: &str) -> Test {
        self.cwd = self.dir.path().join(relative);
        std::fs::create_dir_all(&self.cwd).expect("create working directory");
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Whether `program` can be started, for tests that need an optional tool.
    pub fn has_program(program: &str) -> bool {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|output| {
                output.status.success() || !output.stdout.is_empty() || !output.stderr.is_empty()
            })
    }

    pub fn run(self) -> Output {
        let output = self.command().output().expect("run zenbuild");
        Output {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            dir: self.dir,
            env: self.env,
        }
    }

    /// Starts zenbuild with the arguments given so far and then `args`, without waiting, so
    /// that several processes can share the workspace or a test can signal one. Its stdout
    /// and stderr are piped; [`wait`] collects them.
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut command = self.command();
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().expect("start zenbuild")
    }

    /// `zenbuild build --report FILE` (see [`REPORT`]) and then `args`; [`Output::report`]
    /// reads the report. A report left by an earlier run is removed first, so that a run
    /// that writes none cannot pass for one that did.
    pub fn build(self, args: &[&str]) -> Test {
        let _ = std::fs::remove_file(self.dir.path().join(REPORT));
        self.args(&["build", "--report", REPORT]).args(args)
    }

    /// The process to run, after creating the git repository if it is still missing.
    fn command(&self) -> Command {
        if self.git && !self.dir.path().join(".git").exists() {
            let status = Command::new("git")
                .args(["init", "-q"])
                .current_dir(self.dir.path())
                .status()
                .expect("run git init");
            assert!(status.success(), "git init failed");
        }
        let binary = env!("CARGO_BIN_EXE_zenbuild");
        let mut command = if self.terminal {
            let line: Vec<String> = std::iter::once(binary.to_string())
                .chain(self.args.iter().cloned())
                .map(|word| shell_quote(&word))
                .collect();
            let mut command = Command::new("script");
            command
                .args(["-q", "-e", "-c", &line.join(" "), "/dev/null"])
                .env("TERM", "xterm");
            command
        } else {
            let mut command = Command::new(binary);
            command.args(&self.args);
            command
        };
        command
            .current_dir(&self.cwd)
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE");
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }
}

/// Runs git in `dir` as a test user and returns what it printed, trimmed; fails the test if
/// git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// prepare (sorts a data file) → train (declares param `lr`): the smallest pipeline whose
/// history a lockfile, a status or a collection has something to say about.
pub const TWO_STEPS: &str = r#"
params "params.yaml"
step "prepare" {
    cmd "sort data/raw.txt > out/sorted.txt"
    inputs "data/raw.txt"
    outputs "out/sorted.txt"
}
step "train" {
    cmd "printf 'lr={{params.lr}} ' > out/model.txt; wc -l < out/sorted.txt >> out/model.txt"
    inputs "out/sorted.txt"
    params "lr"
    outputs "out/model.txt"
}
"#;

/// prepare → train with `remote "team" url=URL` and `extra` on the remote node (`write=#false`),
/// `first_cmd_tail` appended to prepare's command: the pipeline the remote-cache tests share.
pub fn remote_manifest(url: &str, extra: &str, first_cmd_tail: &str) -> String {
    format!(
        r#"
remote "team" url="{url}"{extra}
step "prepare" {{
    cmd "sort data.txt > out/sorted.txt{first_cmd_tail}"
    inputs "data.txt"
    outputs "out/sorted.txt"
}}
step "train" {{
    cmd "wc -l < out/sorted.txt > out/model.txt; cat out/sorted.txt >> out/model.txt"
    inputs "out/sorted.txt"
    outputs "out/model.txt"
}}
"#
    )
}

/// A workspace with [`remote_manifest`] and its data: one user of the team's cache.
pub fn remote_user(url: &str, extra: &str) -> Test {
    Test::new()
        .manifest(&remote_manifest(url, extra, ""))
        .file("data.txt", "b\na\nc\n")
}

/// The `file://` URL of a shared directory used as the team's remote.
pub fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// User A builds against the shared directory `shared`: both actions run and are uploaded.
pub fn uploaded(shared: &Path) -> Output {
    remote_user(&file_url(shared), "")
        .build(&[])
        .run()
        .success()
        .stderr_contains("2 ran")
}

/// Where [`Test::build`] has zenbuild write its `--report`, relative to the workspace root.
/// Inside `.zenbuild/`, so that no manifest glob or output directory ever sees it.
pub const REPORT: &str = ".zenbuild/test-report.json";

/// Waits for a process from [`Test::spawn`]: its exit code, stdout and stderr.
pub fn wait(child: Child) -> (Option<i32>, String, String) {
    let output = child.wait_with_output().expect("wait for zenbuild");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Checks that every blob in the local store of the workspace at `root` is what its name
/// says: nothing half-written or foreign is kept under a digest. Returns how many there are.
pub fn assert_store_sound(root: &std::path::Path) -> usize {
    let cas = root.join(".zenbuild/cache/cas");
    let mut checked = 0;
    for shard in std::fs::read_dir(&cas).into_iter().flatten().flatten() {
        for blob in std::fs::read_dir(shard.path()).expect("a shard").flatten() {
            let bytes = std::fs::read(blob.path()).expect("a blob");
            assert_eq!(
                zenbuild::hash::Digest::of(&bytes).to_hex(),
                blob.file_name().to_string_lossy(),
                "{}",
                blob.path().display()
            );
            checked += 1;
        }
    }
    checked
}

/// Two steps in a chain, the manifest many tests start from: `a` copies `in.txt` to
/// `out/a.txt`; `b` writes `out/a.txt` twice into `out/b.txt`.
pub const CHAIN: &str = r#"
step "a" {
    cmd "cat in.txt > out/a.txt"
    inputs "in.txt"
    outputs "out/a.txt"
}
step "b" {
    cmd "cat out/a.txt out/a.txt > out/b.txt"
    inputs "out/a.txt"
    outputs "out/b.txt"
}
"#;

/// A `--report` file: `{"actions": [{"name", "status", "reasons", …}], "summary": {…}}`.
#[derive(Clone, Debug)]
pub struct Report(pub serde_json::Value);

impl Report {
    pub fn read(path: &Path) -> Report {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read the report {}: {e}", path.display()));
        Report(
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("the report is not JSON ({e})\n{text}")),
        )
    }

    fn actions(&self) -> &Vec<serde_json::Value> {
        self.0["actions"]
            .as_array()
            .unwrap_or_else(|| panic!("the report has no actions\n{self}"))
    }

    /// The entry of the action called `name`.
    pub fn action(&self, name: &str) -> &serde_json::Value {
        self.actions()
            .iter()
            .find(|action| action["name"] == name)
            .unwrap_or_else(|| panic!("the report has no action {name:?}\n{self}"))
    }

    pub fn status(&self, name: &str) -> &str {
        self.action(name)["status"].as_str().unwrap_or_default()
    }

    /// The names of the actions with `status`, in report (graph) order.
    pub fn with_status(&self, status: &str) -> Vec<String> {
        self.actions()
            .iter()
            .filter(|action| action["status"] == status)
            .map(|action| action["name"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn ran(&self) -> Vec<String> {
        self.with_status("ran")
    }

    pub fn cached(&self) -> Vec<String> {
        self.with_status("cached")
    }

    /// Every action's name, in report order.
    pub fn names(&self) -> Vec<String> {
        self.actions()
            .iter()
            .map(|action| action["name"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Why `name` ran (or was skipped), joined into one line.
    pub fn reasons(&self, name: &str) -> String {
        let reasons = self.action(name)["reasons"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        reasons
            .iter()
            .map(|reason| reason.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn error(&self, name: &str) -> String {
        self.action(name)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The digest the report gives for output `path` of action `name`.
    pub fn output(&self, name: &str, path: &str) -> String {
        self.action(name)["outputs"][path]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no output {path:?}\n{self}"))
            .to_string()
    }

    pub fn summary(&self, field: &str) -> u64 {
        self.0["summary"][field].as_u64().unwrap_or_default()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string_pretty(&self.0).unwrap_or_default();
        f.write_str(&text)
    }
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Collapses every run of whitespace to one space: miette wraps messages and help at 100
/// columns (where depends on the length of temporary paths), continuing a wrapped message on
/// a line that starts with `│`, which goes too.
fn flatten(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            trimmed.strip_prefix("│ ").unwrap_or(trimmed)
        })
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub dir: tempfile::TempDir,
    /// The environment changes the run had, for [`Output::again_as_before`].
    env: Vec<(String, Option<String>)>,
}

impl Output {
    pub fn success(self) -> Output {
        assert_eq!(self.code, Some(0), "expected success\n{}", self.dump());
        self
    }

    /// Exit code 2: the manifest (or the command line) is wrong.
    pub fn bad_manifest(self) -> Output {
        self.code(2)
    }

    pub fn code(self, code: i32) -> Output {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n{}",
            self.dump()
        );
        self
    }

    pub fn stdout_contains(self, text: &str) -> Output {
        assert!(
            self.stdout.contains(text) || flatten(&self.stdout).contains(&flatten(text)),
            "stdout lacks {text:?}\n{}",
            self.dump()
        );
        self
    }

    pub fn stdout_lacks(self, text: &str) -> Output {
        assert!(
            !self.stdout.contains(text),
            "stdout has {text:?}\n{}",
            self.dump()
        );
        self
    }

    /// Also matches text that miette wrapped onto several lines.
    pub fn stderr_contains(self, text: &str) -> Output {
        assert!(
            self.stderr.contains(text) || flatten(&self.stderr).contains(&flatten(text)),
            "stderr lacks {text:?}\n{}",
            self.dump()
        );
        self
    }

    /// Asserts that `text` appears in stderr exactly once: a warning said once, not per file.
    pub fn stderr_contains_once(self, text: &str) -> Output {
        self.stderr_contains_times(text, 1)
    }

    /// Asserts that `text` appears in stderr exactly `times` times.
    pub fn stderr_contains_times(self, text: &str, times: usize) -> Output {
        assert_eq!(
            self.stderr.matches(text).count(),
            times,
            "stderr should have {text:?} {times} times\n{}",
            self.dump()
        );
        self
    }

    pub fn stderr_lacks(self, text: &str) -> Output {
        assert!(
            !self.stderr.contains(text),
            "stderr has {text:?}\n{}",
            self.dump()
        );
        self
    }

    /// Asserts that a diagnostic with exactly `message` points at `file:line:column`, as
    /// miette prints it in a `╭─[file:line:column]` snippet header. (Labels too far apart
    /// for one snippet get a header each; the diagnostic's own location is one of them.)
    pub fn error_at(self, location: &str, message: &str) -> Output {
        let blocks = self.diagnostics(message);
        assert!(!blocks.is_empty(), "no error {message:?}\n{}", self.dump());
        let header = format!("╭─[{location}]");
        assert!(
            blocks.iter().any(|block| block.contains(&header)),
            "error {message:?} is not located at {location}\n{}",
            self.dump()
        );
        self
    }

    /// Asserts that some diagnostic points at `file:line:column`, whatever its message (for
    /// errors worded by a library, such as the KDL parser's).
    pub fn located_at(self, location: &str) -> Output {
        let header = format!("╭─[{location}]");
        assert!(
            self.stderr.contains(&header),
            "no error located at {location}\n{}",
            self.dump()
        );
        self
    }

    /// The text (whitespace flattened) of every diagnostic whose message is exactly
    /// `message`: from its `×` line up to the next diagnostic's.
    fn diagnostics(&self, message: &str) -> Vec<String> {
        let stderr = flatten(&self.stderr);
        let header = format!("× {}", flatten(message));
        stderr
            .match_indices(&header)
            .map(|(start, _)| &stderr[start + header.len()..])
            // The message ends here, where the snippet begins, rather than going on.
            .filter(|rest| rest.starts_with(" ╭─["))
            .map(|rest| rest[..rest.find("× ").unwrap_or(rest.len())].to_string())
            .collect()
    }

    /// Asserts on the number of errors reported in the summary line.
    pub fn error_count(self, count: usize) -> Output {
        let summary = if count == 1 {
            "error: the manifest has an error".to_string()
        } else {
            format!("error: the manifest has {count} errors")
        };
        self.stderr_contains(&summary)
    }

    /// Asserts how many located diagnostics have exactly `message`.
    pub fn error_times(self, message: &str, times: usize) -> Output {
        let found = self.diagnostics(message).len();
        assert_eq!(
            found,
            times,
            "error {message:?} is reported {found} times\n{}",
            self.dump()
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.dump()))
    }

    /// The action called `name` in `graph --format json` output.
    pub fn action(&self, name: &str) -> serde_json::Value {
        self.json_item("actions", "name", name)
    }

    /// The artifact at `path` (directories end in `/`) in `graph --format json` output.
    pub fn artifact(&self, path: &str) -> serde_json::Value {
        self.json_item("artifacts", "path", path)
    }

    /// The names of the actions in `graph --format json` output, in the order printed.
    pub fn action_names(&self) -> Vec<String> {
        let json = self.json();
        json["actions"]
            .as_array()
            .unwrap_or_else(|| panic!("no actions\n{}", self.dump()))
            .iter()
            .map(|action| action["name"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn json_item(&self, list: &str, key: &str, value: &str) -> serde_json::Value {
        let json = self.json();
        json[list]
            .as_array()
            .and_then(|items| items.iter().find(|item| item[key] == value).cloned())
            .unwrap_or_else(|| panic!("no {list} entry with {key} {value:?}\n{}", self.dump()))
    }

    /// A file of the workspace as it is after the run.
    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(path))
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    }

    /// The report [`Test::build`] asked for.
    pub fn report(&self) -> Report {
        let path = self.dir.path().join(REPORT);
        assert!(path.exists(), "no report was written\n{}", self.dump());
        Report::read(&path)
    }

    /// The workspace root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Whether a file or directory exists in the workspace after the run.
    pub fn exists(&self, path: &str) -> bool {
        self.dir.path().join(path).symlink_metadata().is_ok()
    }

    /// The same workspace, for another run.
    pub fn again(self) -> Test {
        Test {
            cwd: self.dir.path().to_path_buf(),
            dir: self.dir,
            args: Vec::new(),
            git: true,
            env: Vec::new(),
            terminal: false,
        }
    }

    /// [`Output::again`], with the environment changes this run had (a user, a password).
    pub fn again_as_before(self) -> Test {
        let env = self.env.clone();
        let mut test = self.again();
        test.env = env;
        test
    }

    pub fn dump(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }
}

pub mod processes;

impl Output {
    /// Asserts that a note (miette's advice: a secondary location of an error, in another
    /// file) with exactly `message` points at `file:line:column`.
    pub fn note_at(self, location: &str, message: &str) -> Output {
        let stderr = flatten(&self.stderr);
        let note = flatten(&format!("☞ {message} ╭─[{location}]"));
        assert!(
            stderr.contains(&note),
            "no note {message:?} at {location}\n{}",
            self.dump()
        );
        self
    }
}

/// A fresh database on each team-store server this machine has (PostgreSQL and MariaDB, the
/// binary's shared ones), as (server, URL, password): the tests that run the same assertions
/// on both.
pub fn fresh_databases(name: &str) -> Vec<(&'static str, String, String)> {
    let mut all = Vec::new();
    if let Some(pg) = postgres::Postgres::shared() {
        all.push((
            "postgres",
            pg.fresh_database(name),
            pg.password().to_string(),
        ));
    }
    if let Some(maria) = mariadb::MariaDb::shared() {
        all.push((
            "mariadb",
            maria.fresh_database(name),
            maria.password().to_string(),
        ));
    }
    all
}
