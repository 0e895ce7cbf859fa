//! Positions and spans of sqlparser tokens in bytegate's model (1-based
//! lines and columns of the file). Shared by the splitter and the token helpers.

use crate::review::finding::{Position, Span};
use sqlparser::tokenizer::Location;

/// Converts a sqlparser location to a model position (saturating).
pub(crate) fn position(loc: Location) -> Position {
    Position {
        line: u32::try_from(loc.line).unwrap_or(u32::MAX),
        column: u32::try_from(loc.column).unwrap_or(u32::MAX),
    }
}

/// A model span from a sqlparser span (whose end is exclusive); `None` when empty.
pub(crate) fn span_of(s: sqlparser::tokenizer::Span) -> Option<Span> {
    if s.start.line == 0 || s.end.line == 0 {
        return None;
    }
    Some(Span {
        start: position(s.start),
        end: position(Location::new(
            s.end.line,
            s.end.column.saturating_sub(1).max(1),
        )),
    })
}
