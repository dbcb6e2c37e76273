//! What a step printed, as the build shows it: under the step's line, indented, one block
//! that nothing else is written into.
//!
//! The text comes from the step, or from a cache that a teammate's machine filled, so it is
//! shown as a terminal would leave it and nothing more: of a line rewritten with `\r` (a
//! progress bar), its last state; any other control character written out as an escape, so
//! that no output can move the cursor, retitle the window or change the colours of what
//! follows.

use crate::exec::event::Printed;

/// The lines to show for `printed`, indented, after a note of what was left out: `earlier`
/// lines, or more than was kept.
pub fn block(printed: &Printed, earlier: usize) -> Vec<String> {
    let (text, cut) = match printed {
        Printed::Nothing => return Vec::new(),
        Printed::NotInCache => return vec!["    (its output is not in the cache)".to_string()],
        Printed::Kept { text, cut } => (text, *cut),
    };
    let mut lines = Vec::new();
    if cut {
        lines.push("    (earlier lines not shown)".to_string());
    } else if earlier > 0 {
        lines.push(format!("    ({earlier} earlier lines not shown)"));
    }
    lines.extend(display_lines(text).iter().map(|line| format!("    {line}")));
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
        assert!(block(&Printed::Nothing, 0).is_empty());
        assert!(block(&kept("\n\n", false), 0).is_empty());
    }

    #[test]
    fn output_is_indented_whole_without_a_limit() {
        assert_eq!(block(&kept("a\nb\n", false), 0), ["    a", "    b"]);
    }

    #[test]
    fn lines_left_out_are_counted() {
        assert_eq!(
            block(&kept("6\n7\n", false), 5),
            ["    (5 earlier lines not shown)", "    6", "    7"]
        );
    }

    #[test]
    fn output_cut_when_kept_says_so_even_when_short() {
        assert_eq!(
            block(&kept("end\n", true), 0),
            ["    (earlier lines not shown)", "    end"]
        );
    }

    #[test]
    fn missing_output_says_so() {
        assert_eq!(
            block(&Printed::NotInCache, 0),
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
