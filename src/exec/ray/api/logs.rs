//! A job's log as `GET /api/jobs/{id}/logs` gives it: the entrypoint's stdout and stderr,
//! interleaved, among two lines Ray writes into the same file — a log line when the job is
//! submitted, and `Running entrypoint for job ID: COMMAND` when it starts, which Ray writes
//! through a buffer it flushes after starting the command, so it may come anywhere in the
//! command's output (it was seen first, among, and after 2,002 lines of it).

/// The end of a job's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobLogs {
    pub text: String,
    /// Whether the start of the log was left out.
    pub truncated: bool,
}

impl JobLogs {
    /// The entrypoint's own output: the text without the lines Ray wrote for the job `id`
    /// (what a failed step shows).
    pub fn entrypoint_output(&self, id: &str) -> String {
        let running = format!("Running entrypoint for job {id}: ");
        self.text
            .split_inclusive('\n')
            .filter(|line| !line.starts_with(&running) && !is_rays_log_line(line))
            .collect()
    }
}

/// Whether `line` is one of Ray's own log lines: `2026-12-07 21:09:15,973\tINFO
/// job_manager.py:581 -- Runtime env is setting up.` (a date, a time with milliseconds, a tab,
/// a level, `file.py:line -- `).
fn is_rays_log_line(line: &str) -> bool {
    let Some((stamp, rest)) = line.split_once('\t') else {
        return false;
    };
    let shape = stamp.len() == 23
        && stamp.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == ' ',
            13 | 16 => c == ':',
            19 => c == ',',
            _ => c.is_ascii_digit(),
        });
    let source = rest
        .split_once(' ')
        .and_then(|(_, rest)| rest.split_once(" -- "))
        .is_some_and(|(place, _)| place.contains(".py:"));
    shape && source
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rays_lines_are_left_out_of_the_entrypoints_output() {
        // As Ray 2.60 wrote it once: the command's output came before Ray's second line.
        let logs = JobLogs {
            text:
                "2026-12-07 21:09:19,486\tINFO job_manager.py:581 -- Runtime env is setting up.\n\
                   failing\n\
                   Running entrypoint for job zb-exit-3: echo failing >&2; exit 3\n\
                   Running entrypoint for job other: kept\n\
                   2026-12-07 21:09:19\tnot Ray's\n\
                   no newline at the end"
                    .into(),
            truncated: false,
        };
        assert_eq!(
            logs.entrypoint_output("zb-exit-3"),
            "failing\nRunning entrypoint for job other: kept\n2026-12-07 21:09:19\tnot Ray's\n\
             no newline at the end"
        );
    }
}
