//! Running steps on a Ray cluster (issue 17): each action a Ray job whose entrypoint is
//! `zenbuild worker`, which takes everything it needs from the team's remote. [`api`] is the
//! client of the cluster's Jobs REST API.

pub mod api;
