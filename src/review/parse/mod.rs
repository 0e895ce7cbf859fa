//! Parsing migration files into bytegate's statement model (`review::model`).
//!
//! (Work in progress: the splitter, adapter and recognizers land next.)

use super::model::{Dialect, LexicalClass, ParsedFile, Statement};

/// Parses a file into statements. Never panics, never fails: statements that
/// cannot be understood come back as `Unparsed`.
pub fn parse_file(text: &str, dialect: Dialect) -> Vec<Statement> {
    parse_source(text, dialect).statements
}

/// Parses a file into statements plus its comments (header comments for
/// file-level suppression).
pub fn parse_source(_text: &str, _dialect: Dialect) -> ParsedFile {
    ParsedFile::default()
}

/// Classifies a statement's text from its leading keywords (fallback for risk).
pub fn lexical_class(_text: &str) -> LexicalClass {
    LexicalClass::Other
}
