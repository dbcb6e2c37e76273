//! Characters a path in the manifest may not hold.
//!
//! A NUL cannot reach the file system at all (the step would fail at run time, after its
//! inputs were hashed under a name that is not the file's), and a newline or another control
//! character in a name breaks every line-oriented consumer: logs, `git status`, the lineage
//! report, a terminal that takes it for an escape sequence. All are refused when the manifest
//! is compiled, at the string that holds them.

/// The first control character in `text` and how to name it, if it has one.
pub fn control_character(text: &str) -> Option<String> {
    let c = text.chars().find(|c| c.is_control())?;
    Some(match c {
        '\0' => "a NUL character".to_string(),
        '\n' => "a newline".to_string(),
        '\r' => "a carriage return".to_string(),
        '\t' => "a tab".to_string(),
        other => format!("the control character U+{:04X}", u32::from(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_character() {
        assert_eq!(control_character("data/raw.csv"), None);
        assert_eq!(control_character("é/ü — x"), None);
        assert_eq!(
            control_character("a\0b").as_deref(),
            Some("a NUL character")
        );
        assert_eq!(control_character("a\nb").as_deref(), Some("a newline"));
        assert_eq!(
            control_character("a\u{1b}[2J").as_deref(),
            Some("the control character U+001B")
        );
    }
}
