//! `zenbuild init`: a starter manifest that builds as it is, and `.zenbuild/` git-ignored.

use std::fmt::Write as _;
use std::path::Path;

use clap::Args;

use crate::error::Error;
use crate::ui::{Colors, print};
use crate::workspace::{MANIFEST_NAME, find_git_root};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Project name (default: the directory's name)
    #[arg(long)]
    pub name: Option<String>,
}

const STARTER: &str = r#"// zenbuild manifest: `zenbuild help manifest` summarises the language.
project "{name}"
// params "params.yaml"          // hyperparameter files: YAML, JSON or TOML

pipeline "main" default=#true {
    step "hello" {
        cmd "mkdir -p out && echo 'hello from zenbuild' > out/hello.txt"
        outputs "out/hello.txt"
    }

    // step "train" {
    //     cmd "python3 src/train.py --lr {{params.train.lr}} data/train.csv out/model.pkl"
    //     inputs "src/train.py" "data/train.csv"
    //     outputs "out/model.pkl"
    //     params "train.lr"
    // }
}
"#;

pub fn run(directory: &Path, args: &InitArgs, colors: Colors) -> Result<(), Error> {
    let manifest = directory.join(MANIFEST_NAME);
    if manifest.exists() {
        return Err(Error::BadArgument(format!(
            "{} already exists; zenbuild init leaves it as it is",
            manifest.display()
        )));
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None => directory
            .canonicalize()
            .ok()
            .and_then(|dir| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|name| crate::manifest::loader::is_name(name))
            .unwrap_or_else(|| "project".into()),
    };
    let text = STARTER.replace("{name}", &name.replace('"', "\\\""));
    std::fs::write(&manifest, text)
        .map_err(|e| Error::io(format!("cannot write {}", manifest.display()), e))?;
    ignore_state_dir(directory)?;
    let mut report = format!("{} wrote {}\n", colors.green("ok:"), manifest.display());
    if find_git_root(directory).is_none() {
        let _ = writeln!(
            report,
            "{} {} is not in a git repository; run `git init` there before building",
            colors.bold("note:"),
            directory.display()
        );
    }
    print(&report)
}

/// Adds `.zenbuild/` to the workspace's .gitignore unless a line already ignores it.
fn ignore_state_dir(directory: &Path) -> Result<(), Error> {
    let path = directory.join(".gitignore");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let ignored = existing.lines().map(str::trim).any(|line| {
        matches!(
            line,
            ".zenbuild" | ".zenbuild/" | "/.zenbuild" | "/.zenbuild/"
        )
    });
    if ignored {
        return Ok(());
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(".zenbuild/\n");
    std::fs::write(&path, text)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}
