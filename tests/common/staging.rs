//! Remote execution from both ends, for the worker's tests: a real build of a project (through
//! the library) whose executor stages every attempt it is handed into a remote before running
//! it here, so that the descriptions hold the specs, inputs and keys a build really makes; and
//! the real `zenbuild worker`, copied into a directory of its own, run on them with the
//! workspace out of reach.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use zenbuild::Workspace;
use zenbuild::exec::executor::{ActionSpec, Ended, Executor, LocalExecutor, Ticket, Wake};
use zenbuild::exec::interrupt::Interrupt;
use zenbuild::exec::{Build, BuildRequest, up_to_date};
use zenbuild::hash::{Digest, FileSystem, RealFileSystem, StatCache};
use zenbuild::remote::Remote;
use zenbuild::remote::choice::Choice;
use zenbuild::remote_exec::outcome::read_outcome;
use zenbuild::remote_exec::{End, Staged, Stager, StepTerms, WorkerOutcome};
use zenbuild::store::LocalStore;

/// Two steps over a dataset directory (nested, with an executable script beside it), a
/// workdir that does not exist yet and declared variables; outputs that are a directory with
/// a symlink and an empty directory inside, files, an executable and metrics. Every output is
/// the same wherever it is made: `train` records which variables it sees besides PATH and
/// HOME, by name.
pub const PIPELINE: &str = r##"
remote "team" url="URL"
step "prepare" {
    cmd #"mkdir -p out/clean/nested/deeper out/clean/empty && sort data/raw/b.csv data/raw/a.csv > out/clean/all.csv && cp data/raw/nested/c.csv out/clean/nested/deeper/ && ln -s all.csv out/clean/latest && ./tools/count.sh out/clean/all.csv > out/count.txt && echo prepared"#
    inputs "data/raw/" "tools/count.sh"
    outputs "out/clean/" "out/count.txt"
}
step "train" {
    workdir "sub/dir"
    env SEED="7" GREETING="hello world"
    cmd #"printf '%s %s\n' "$SEED" "$GREETING" > ../../out/model.txt && cat ../../out/clean/latest ../../params.txt >> ../../out/model.txt && cp ../../tools/count.sh ../../out/tool.sh && env | cut -d= -f1 | grep -v -x -e PWD -e OLDPWD -e SHLVL -e _ -e PATH -e HOME | sort > ../../out/variables.txt && printf '{"loss": 0.25}' > ../../out/metrics.json && echo trained && echo to-stderr >&2"#
    inputs "out/clean/" "out/count.txt" "params.txt" "tools/count.sh"
    outputs "out/model.txt" "out/tool.sh" "out/variables.txt"
    metrics "out/metrics.json"
}
"##;

pub const PIPELINE_FILES: &[(&str, &str)] = &[
    ("data/raw/a.csv", "b,2\na,1\n"),
    ("data/raw/b.csv", "d,4\nc,3\n"),
    ("data/raw/nested/c.csv", "e,5\n"),
    ("tools/count.sh*", "#!/bin/sh\nwc -l < \"$1\"\n"),
    ("params.txt", "lr=0.1\n"),
];

/// A project in `tmp/project`: a git repository whose sources are committed, with the
/// workspace's state and the outputs ignored, as a team's repository would be.
pub struct Project {
    pub tmp: tempfile::TempDir,
}

impl Project {
    /// `files` by path; a path ending in `*` is written without it, executable. `REMOTE_DIR`
    /// in the manifest stands for [`Project::remote_dir`].
    pub fn new(manifest: &str, files: &[(&str, &str)]) -> Project {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let project = Project { tmp };
        let root = project.root();
        let manifest = manifest.replace("REMOTE_DIR", &project.remote_dir().display().to_string());
        let manifest = manifest.as_str();
        let write = |path: &str, text: &str| {
            let (path, executable) = match path.strip_suffix('*') {
                Some(path) => (path, true),
                None => (path, false),
            };
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("directories");
            std::fs::write(&path, text).expect("a file");
            if executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod +x");
            }
        };
        write("zenbuild.kdl", manifest);
        write(".gitignore", ".zenbuild/\nout/\n");
        for (path, text) in files {
            write(path, text);
        }
        super::common::git(&root, &["init", "-q"]);
        super::common::git(&root, &["add", "-A"]);
        super::common::git(&root, &["commit", "-q", "-m", "the project"]);
        project
    }

    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("project")
    }

    /// Beside the project: a shared directory for a `file://` remote.
    pub fn remote_dir(&self) -> PathBuf {
        self.tmp.path().join("remote")
    }

    /// A directory of its own under the test's temporary directory.
    pub fn dir(&self, name: &str) -> PathBuf {
        let dir = self.tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("a directory");
        dir
    }
}

/// Stages each attempt into a remote, then runs it here so that the build goes on to the
/// actions that depend on it.
struct StagingExecutor<'a> {
    here: LocalExecutor,
    stager: Stager<'a>,
    terms: &'a HashMap<String, StepTerms>,
    staged: Mutex<Vec<Staged>>,
}

impl Executor for StagingExecutor<'_> {
    fn name(&self) -> &'static str {
        "local"
    }

    fn submit(&self, spec: ActionSpec, wake: &Wake) -> Result<Ticket, String> {
        let terms = self
            .terms
            .get(&spec.name)
            .cloned()
            .unwrap_or_else(StepTerms::here);
        let staged = self
            .stager
            .stage(&spec, &terms)
            .map_err(|e| format!("staging failed: {e}"))?;
        self.staged.lock().expect("the staged list").push(staged);
        self.here.submit(spec, wake)
    }

    fn poll(&self) -> Vec<(Ticket, Ended)> {
        self.here.poll()
    }

    fn cancel(&self, ticket: Ticket) {
        self.here.cancel(ticket);
    }
}

/// Builds every action of the project at `root` with the library, without its remotes, and
/// stages each attempt into `remote`, with the terms the graph gives its step (`adjust` may
/// change them by action name). Returns the staged attempts in the order they were handed to
/// the executor (dependencies first) and how many actions failed here.
pub fn build_and_stage(
    root: &Path,
    remote: &dyn Remote,
    adjust: &dyn Fn(&str, &mut StepTerms),
) -> (Vec<Staged>, usize) {
    let started_ns = RealFileSystem.now_ns();
    let workspace = Workspace::discover(root).expect("the workspace");
    let (manifest, graph) = zenbuild::load_graph(&workspace).expect("the manifest compiles");
    let mut terms = HashMap::new();
    for id in graph.topological_order() {
        let action = graph.action(id);
        let mut step = StepTerms {
            cache: action.cache,
            metrics: action
                .metrics
                .iter()
                .map(|&artifact| graph.artifact(artifact).path.to_string())
                .collect(),
            ..StepTerms::here()
        };
        adjust(&action.name, &mut step);
        terms.insert(action.name.clone(), step);
    }
    let local = LocalStore::in_workspace(root).expect("the local store");
    let cache = StatCache::in_memory();
    let executor = StagingExecutor {
        here: LocalExecutor::new(Interrupt::new()),
        stager: Stager {
            remote,
            local: &local,
            cache: &cache,
            on_upload: None,
        },
        terms: &terms,
        staged: Mutex::new(Vec::new()),
    };
    let mut request = BuildRequest::new(
        graph.topological_order(),
        up_to_date::selection(&[], false),
        started_ns,
    );
    // The remote holds nothing but what the workers store.
    request.remotes = Choice::None;
    request.keep_going = true;
    let report = Build::new(&workspace, &manifest, &graph)
        .with_executor(&executor)
        .run(&request, None, Some(Interrupt::new()), &mut ())
        .expect("the build runs");
    zenbuild::lineage::closing::wait();
    let staged = executor.staged.into_inner().expect("the staged list");
    (staged, report.failed)
}

/// The one attempt of `name` among `staged`.
pub fn staged_for<'s>(staged: &'s [Staged], name: &str) -> &'s Staged {
    let found: Vec<&Staged> = staged
        .iter()
        .filter(|staged| staged.description.name == name)
        .collect();
    assert_eq!(found.len(), 1, "attempts of {name}: {found:?}");
    found[0]
}

/// A copy of the `zenbuild` under test in `dir`: what a cluster's nodes would have installed.
/// Copied by `cp`, not by this process: a file this process held open for writing would be
/// inherited by the children other tests fork meanwhile, and running it would then fail with
/// "Text file busy" until they exec.
pub fn install_worker(dir: &Path) -> PathBuf {
    let binary = dir.join("zenbuild");
    let status = Command::new("cp")
        .arg(env!("CARGO_BIN_EXE_zenbuild"))
        .arg(&binary)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cannot copy zenbuild to {}",
        dir.display()
    );
    binary
}

/// What one run of the worker did.
#[derive(Debug)]
pub struct WorkerRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// `binary worker` on the description `digest` in the remote at `url`, from `home` (its
/// working directory, `HOME` and scratch base), with only `PATH`, `HOME` and `env` in its
/// environment.
pub fn worker_command(
    binary: &Path,
    home: &Path,
    url: &str,
    digest: &Digest,
    env: &[(&str, &str)],
) -> Command {
    let mut command = Command::new(binary);
    command
        .args([
            "worker",
            "--remote",
            url,
            "--remote-name",
            "team",
            "--scratch",
        ])
        .arg(home.join("scratch"))
        .arg(digest.to_hex())
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .envs(env.iter().copied());
    command
}

/// Runs [`worker_command`] to its end.
pub fn run_worker(
    binary: &Path,
    home: &Path,
    url: &str,
    digest: &Digest,
    env: &[(&str, &str)],
) -> WorkerRun {
    let output = worker_command(binary, home, url, digest, env)
        .output()
        .expect("run zenbuild worker");
    WorkerRun {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Every entry below `dir`, each with what it is: a file's bytes and mode, a symlink's target,
/// a directory: what "byte-identical" compares.
pub fn tree(dir: &Path) -> Vec<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let mut entries = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).expect("list a directory") {
            let path = entry.expect("an entry").path();
            let relative = path
                .strip_prefix(dir)
                .expect("below the root")
                .display()
                .to_string();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let what = if meta.file_type().is_symlink() {
                format!(
                    "link to {}",
                    std::fs::read_link(&path).expect("a target").display()
                )
            } else if meta.is_dir() {
                stack.push(path.clone());
                "directory".to_string()
            } else {
                let executable = meta.permissions().mode() & 0o100 != 0;
                let bytes = std::fs::read(&path).expect("a file");
                format!(
                    "file {} {}",
                    if executable { "+x" } else { "-x" },
                    String::from_utf8_lossy(&bytes)
                )
            };
            entries.push((relative, what));
        }
    }
    entries.sort();
    entries
}

/// The outcome the worker stored for `staged`.
pub fn outcome(remote: &dyn Remote, staged: &Staged) -> WorkerOutcome {
    read_outcome(remote, &staged.digest, &staged.description)
        .expect("a readable outcome")
        .unwrap_or_else(|| panic!("no outcome for {}", staged.description.name))
}

/// The worker's scratch directories under `home` are all gone.
pub fn assert_scratch_empty(home: &Path) {
    let left: Vec<PathBuf> = std::fs::read_dir(home.join("scratch"))
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The whole round trip: `project` (whose manifest names the remote at `url`) is built here
/// and every attempt staged into `remote`; the project is moved away; a copy of zenbuild in a
/// directory of its own runs each attempt from the remote alone (with `env` besides PATH and
/// HOME); then a fresh clone of the project, built by `zenbuild` with `env`, runs nothing,
/// restores everything from the remote, and has outputs identical to the build here.
/// Returns the staged attempts and their outcomes.
pub fn round_trip(
    project: &Project,
    remote: &dyn Remote,
    url: &str,
    env: &[(&str, &str)],
) -> Vec<(Staged, WorkerOutcome)> {
    let (staged, failed) = build_and_stage(&project.root(), remote, &|_, _| {});
    assert_eq!(failed, 0, "the build here failed");
    assert!(!staged.is_empty());
    let built_here = tree(&project.root().join("out"));

    // Out of reach: nothing the worker could find by the workspace's path.
    let moved = project.tmp.path().join("moved-away");
    std::fs::rename(project.root(), &moved).expect("move the project away");
    let binary = install_worker(&project.dir("bin"));
    let home = project.dir("worker-home");
    let mut outcomes = Vec::new();
    for attempt in staged {
        let run = run_worker(&binary, &home, url, &attempt.digest, env);
        assert_eq!(run.code, Some(0), "{}: {run:?}", attempt.description.name);
        let outcome = outcome(remote, &attempt);
        assert_eq!(outcome.end, End::Exited { code: 0 }, "{run:?}");
        assert_eq!(outcome.key, Some(attempt.description.key));
        assert!(outcome.result.is_some());
        // The result is under the key too, for every later build.
        let stored = remote
            .get_action_result(&attempt.description.key)
            .expect("ask the remote");
        assert!(
            stored.is_some(),
            "{} has no result",
            attempt.description.name
        );
        outcomes.push((attempt, outcome));
    }
    assert_scratch_empty(&home);
    assert!(!project.root().exists());

    let clone = project.tmp.path().join("clone");
    super::common::git(
        project.tmp.path(),
        &[
            "clone",
            "-q",
            &moved.display().to_string(),
            &clone.display().to_string(),
        ],
    );
    let output = Command::new(env!("CARGO_BIN_EXE_zenbuild"))
        .args(["build", "--report", super::common::REPORT])
        .current_dir(&clone)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run zenbuild in the clone");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report = super::common::Report::read(&clone.join(super::common::REPORT));
    assert!(report.ran().is_empty(), "ran in the clone: {report}");
    for (attempt, _) in &outcomes {
        let name = &attempt.description.name;
        assert_eq!(report.status(name), "cached", "{report}");
        assert_eq!(report.action(name)["source"], "remote:team", "{report}");
    }
    assert_eq!(tree(&clone.join("out")), built_here);
    outcomes
}
