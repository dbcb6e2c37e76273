//! What a step printed, as the build shows it: under the step's line, indented, one block
//! that nothing else is written into.
//!
//! The text comes from the step, or from a cache that a teammate's machine filled, so it is
//! shown as a terminal would leave it and nothing more: of a line rewritten with `\r` (a
//! progress bar), its last state; any other control character written out as an escape, so
//! that no output can move the cursor, retitle the window or change the colours of what
//! follows.

use crate::exec::event::Printed;

/// How many of its last lines a failed step shows; the log has the rest.
pub const FAILURE_LINES: usize = 20;

/// The lines to show for `printed`, indented; its last `limit` lines when given, with a note
/// of what was left out.
pub fn block(printed: &Printed, limit: Option<usize>) -> Vec<String> {
    let (text, cut) = match printed {
        Printed::Nothing => return Vec::new(),
        Printed::NotInCache => return vec!["    (its output is not in the cache)".to_string()],
        Printed::Kept { text, cut } => (text, *cut),
    };
    let all = display_lines(text);
    let shown = limit.map_or(0, |limit| all.len().saturating_sub(limit));
    let mut lines = Vec::new();
    if shown > 0 || cut {
        let earlier = if cut {
            "earlier lines".to_string()
        } else {
            format!("{shown} earlier lines")
        };
        lines.push(format!("    ({earlier} not shown)"));
    }
    lines.extend(all[shown..].iter().map(|line| format!("    {line}")));
    lines
}

/// `text` split into lines as a terminal would show them, trailing blank lines dropped.
pub fn display_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(display_line).collect();
    while lines.last().is_some_and(|line| line.trim().is_empty()) {
        lines.pop();
    }
    lines
}

fn display_line(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let last = line.rsplit('\r').next().unwrap_or(line);
    let mut shown = String::with_capacity(last.len());
    for c in last.chars() {
        if c.is_control() && c != '\t' {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(text: &str, cut: bool) -> Printed {
        Printed::Kept {
            text: text.into(),
            cut,
        }
    }

    #[test]
    fn nothing_printed_shows_nothing() {
        assert!(block(&Printed::Nothing, None).is_empty());
        assert!(block(&kept("\n\n", false), None).is_empty());
    }

    #[test]
    fn output_is_indented_whole_without_a_limit() {
        assert_eq!(block(&kept("a\nb\n", false), None), ["    a", "    b"]);
    }

    #[test]
    fn a_limit_keeps_the_last_lines_and_says_so() {
        let text: String = (1..=25).map(|n| format!("line {n}\n")).collect();
        let lines = block(&kept(&text, false), Some(FAILURE_LINES));
        assert_eq!(lines.len(), 21);
        assert_eq!(lines[0], "    (5 earlier lines not shown)");
        assert_eq!(lines[1], "    line 6");
        assert_eq!(lines[20], "    line 25");
    }

    #[test]
    fn output_cut_when_kept_says_so_even_when_short() {
        assert_eq!(
            block(&kept("end\n", true), None),
            ["    (earlier lines not shown)", "    end"]
        );
    }

    #[test]
    fn missing_output_says_so() {
        assert_eq!(
            block(&Printed::NotInCache, None),
            ["    (its output is not in the cache)"]
        );
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(
            display_lines("10%\r50%\r100%\n\x1b]0;title\x07red \x1b[31mx\r\n\tok"),
            ["100%", "\\u{1b}]0;title\\u{7}red \\u{1b}[31mx", "\tok"]
        );
    }
}
