//! `zenbuild.kdl` → [`Manifest`]: parsing KDL, includes, params files, templates and
//! `{{…}}` interpolation, with a located diagnostic for every mistake.

pub mod body;
pub mod diagnostic;
pub mod executor;
pub mod interpolate;
pub mod kdl_parse;
pub mod kdl_subset;
pub mod kdl_tree;
pub mod kdl_words;
pub mod loader;
pub mod model;
pub mod nesting;
pub mod node;
pub mod params;
pub mod params_value;
pub mod path_chars;
pub mod snippet;
pub mod source;
pub mod syntax;
pub mod template;
pub mod template_user;
pub mod units;
pub mod yaml_depth;

pub use diagnostic::{Diag, ManifestError};
pub use loader::load;
pub use model::{Manifest, MatrixValue};
pub use source::{Sources, Span, Spanned};
