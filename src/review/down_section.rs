//! A migration's own down section: the lines after `-- bytegate:down`.
//! The review reads only the part above it (what a deploy runs); the
//! rollback runs the part below it. It lives with the review, which the
//! deploy side already builds on, so neither side imports upwards for it.

/// The marker line that starts a migration's own down section.
pub const DOWN_MARKER: &str = "-- bytegate:down";

/// Splits a file at its `-- bytegate:down` line: the part a deploy runs and
/// the down section (without the marker line), if there is one.
pub fn split_down_section(text: &str) -> (&str, Option<&str>) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().eq_ignore_ascii_case(DOWN_MARKER) {
            return (&text[..offset], Some(&text[offset + line.len()..]));
        }
        offset += line.len();
    }
    (text, None)
}
