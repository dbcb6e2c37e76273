//! The one builder every integration test goes through: a temporary git repository with a
//! manifest and files, the real `zenbuild` binary, and assertions on what it printed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    cwd: PathBuf,
    git: bool,
}

impl Test {
    /// An empty workspace inside a fresh git repository.
    pub fn new() -> Test {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        Test {
            cwd: dir.path().to_path_buf(),
            dir,
            args: Vec::new(),
            git: true,
        }
    }

    /// A workspace that is not inside any git repository.
    pub fn without_git(mut self) -> Test {
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

    pub fn symlink(self, link: &str, target: &str) -> Test {
        std::os::unix::fs::symlink(target, self.dir.path().join(link)).expect("create symlink");
        self
    }

    pub fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(|a| a.to_string()));
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

    pub fn run(self) -> Output {
        if self.git && !self.dir.path().join(".git").exists() {
            let status = Command::new("git")
                .args(["init", "-q"])
                .current_dir(self.dir.path())
                .status()
                .expect("run git init");
            assert!(status.success(), "git init failed");
        }
        let output = Command::new(env!("CARGO_BIN_EXE_zenbuild"))
            .args(&self.args)
            .current_dir(&self.cwd)
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            .output()
            .expect("run zenbuild");
        Output {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            dir: self.dir,
        }
    }
}

pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub dir: tempfile::TempDir,
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
            self.stdout.contains(text),
            "stdout lacks {text:?}\n{}",
            self.dump()
        );
        self
    }

    pub fn stderr_contains(self, text: &str) -> Output {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n{}",
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

    /// Asserts that a diagnostic with `message` points at `file:line:column`, and that the
    /// rendered snippet shows the source line `line`.
    pub fn error_at(self, location: &str, message: &str) -> Output {
        let header = format!("× {message}");
        let Some(start) = self.stderr.find(&header) else {
            panic!("no error {message:?}\n{}", self.dump());
        };
        let rest = &self.stderr[start..];
        let block_end = rest[header.len()..]
            .find("× ")
            .map_or(rest.len(), |end| end + header.len());
        let block = &rest[..block_end];
        assert!(
            block.contains(&format!("[{location}]")),
            "error {message:?} is not located at {location}\n{}",
            self.dump()
        );
        self
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

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.dump()))
    }

    pub fn dump(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }
}
