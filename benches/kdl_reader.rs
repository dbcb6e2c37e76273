//! The manifest reader against the `kdl` crate on the same text: `cargo bench --bench
//! kdl_reader`.
//!
//! `manifest::kdl_subset` exists because the crate's exact parser reads about 2 MB/s; this
//! bench keeps that reason measured. Both end in the same syntax tree (the differential tests
//! check it), the crate's document turned into it as the loader does, so the comparison is of
//! reading alone. Inputs: the examples' manifests as shipped, and the compile bench's
//! generated pipeline at 100 and 1,000 steps.

use std::path::Path;

#[path = "support/manifest.rs"]
mod support;

fn main() {
    divan::main();
}

/// The manifests the benches read: `examples/*/zenbuild.kdl` joined (each is a valid document,
/// and so is their concatenation, since a document is a list of nodes), or a generated one.
fn text(input: &str) -> String {
    match input {
        "examples" => ["quickstart", "sweep"]
            .iter()
            .map(|example| {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("examples")
                    .join(example)
                    .join("zenbuild.kdl");
                std::fs::read_to_string(&path).expect("example manifest")
            })
            .collect::<Vec<_>>()
            .join("\n"),
        steps => support::manifest_text(steps.parse().expect("a step count")),
    }
}

const INPUTS: [&str; 3] = ["examples", "100", "1000"];

#[divan::bench(args = INPUTS, sample_count = 20)]
fn subset_reader(bencher: divan::Bencher, input: &str) {
    let text = text(input);
    assert!(
        zenbuild::manifest::kdl_subset::parse(&text).is_some(),
        "the fast reader must accept {input}, or this measures its giving up"
    );
    bencher
        .counter(divan::counter::BytesCount::of_str(&text))
        .bench(|| zenbuild::manifest::kdl_subset::parse(&text));
}

#[divan::bench(args = INPUTS, sample_count = 20)]
fn kdl_crate(bencher: divan::Bencher, input: &str) {
    let text = text(input);
    bencher
        .counter(divan::counter::BytesCount::of_str(&text))
        .bench(|| {
            let document = kdl::KdlDocument::parse(&text).expect("valid KDL");
            zenbuild::manifest::kdl_tree::nodes(&document)
        });
}
