//! Files and directories that actions read and write.

use serde::Serialize;

use super::action::ActionId;
use crate::workspace::RelPath;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ArtifactId(pub usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    File,
    /// Written with a trailing `/`; addressed by the Merkle digest of its tree.
    Dir,
}

#[derive(Clone, Debug)]
pub struct Artifact {
    pub path: RelPath,
    pub kind: ArtifactKind,
    /// The action that writes this path, or whose output directory holds it; `None` for
    /// source files and directories in the repository.
    pub producer: Option<ActionId>,
    pub consumers: Vec<ActionId>,
}

impl Artifact {
    /// The path as written in manifests: directories end in `/`.
    pub fn display_path(&self) -> String {
        match self.kind {
            ArtifactKind::File => self.path.to_string(),
            ArtifactKind::Dir => format!("{}/", self.path),
        }
    }
}
