//! What people see: colours and rendered errors. Stages emit values; only this module prints
//! them.

pub mod build_report;
mod color;
pub mod eta;
pub mod progress;
mod report;
pub mod size;
mod stdout;
pub mod step_output;
pub mod time;

pub use color::{ColorChoice, Colors};
pub use report::print_error;
pub use stdout::print;

/// The pipeline the UI tests render: prepare → fit (a 2-instance matrix) → report.
#[cfg(test)]
pub(crate) mod test_pipeline {
    use crate::Graph;
    use crate::graph::ActionId;

    pub fn graph() -> Graph {
        crate::graph::compile_text(
            r#"
            step "prepare" {
                cmd "x"
                outputs "out/data/"
            }
            step "fit" {
                matrix {
                    lr 0.1 0.3
                    depth 3
                }
                cmd "x {{lr}} {{depth}}"
                inputs "out/data/"
                outputs "out/model-{{lr}}-{{depth}}.json"
            }
            step "report" {
                cmd "x"
                inputs "out/model-0.1-3.json" "out/model-0.3-3.json"
            }
        "#,
        )
    }

    pub fn id(graph: &Graph, name: &str) -> ActionId {
        graph
            .action_by_name(name)
            .expect("an action of the test pipeline")
    }
}
