//! A migration's own down section: the lines after `-- bytegate:down`.
//! The review reads only the part above it (what a deploy runs); the
//! rollback runs the part below it. It lives with the review, which the
//! deploy side already builds on, so neither side imports upwards for it.

/// The marker line that starts a migration's own down section.
pub const DOWN_MARKER: &str = "-- bytegate:down";

/// Splits a file at its `-- bytegate:down` line: the part a deploy runs and
/// the down section (without the marker line), if there is one.
pub fn split_down_section(text: &str) -> (&str, Option<&str>) {
    // Only lines holding `--` can be the marker line: jump from one `-` to
    // the next (a memchr) instead of trimming every line of the file.
    let mut from = 0;
    while let Some(found) = text[from..].find('-') {
        let at = from + found;
        if text.as_bytes().get(at + 1) != Some(&b'-') {
            from = at + 1;
            continue;
        }
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
        if text[start..end].trim().eq_ignore_ascii_case(DOWN_MARKER) {
            return (&text[..start], Some(&text[end..]));
        }
        from = end;
    }
    (text, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line-by-line definition the search must agree with.
    fn by_lines(text: &str) -> (&str, Option<&str>) {
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            if line.trim().eq_ignore_ascii_case(DOWN_MARKER) {
                return (&text[..offset], Some(&text[offset + line.len()..]));
            }
            offset += line.len();
        }
        (text, None)
    }

    #[test]
    fn agrees_with_the_line_by_line_reading() {
        let cases = [
            "",
            "--",
            "-- bytegate:down",
            "CREATE TABLE t (a int);\n-- bytegate:down\nDROP TABLE t;\n",
            "a -- b -- c\n  -- BYTEGATE:DOWN  \r\nDROP TABLE t;",
            "x;\n-- bytegate:down -- no\n--bytegate:down\n\t-- bytegate:down\n y",
            "a--b\n--\n-- bytegate:up\n\u{a0}-- bytegate:down\u{a0}\nrest\n-- bytegate:down\nlast",
            "-- comment\nSELECT 1; -- bytegate:down\n-- bytegate:down",
            "no marker here\n-- just a comment\n",
        ];
        for text in cases {
            assert_eq!(split_down_section(text), by_lines(text), "{text:?}");
        }
    }
}
