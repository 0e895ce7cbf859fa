//! Parsing migration files into bytegate's statement model (`review::model`).
//!
//! Pipeline per file: `split` (sqlparser's tokenizer → statements with their
//! tokens, spans and comments) → for each statement, sqlparser's parser on
//! those tokens → `adapter` (AST → model). A statement sqlparser rejects goes
//! to the token-level `recognize`rs; one nobody understands becomes
//! `Unparsed` with the parser's message and a `lexical` classification.
//! Nothing here panics or fails on any input.

mod adapter;
mod dialect;
mod lexical;
mod misread;
mod pg_lexer;
mod recognize;
mod scan;
mod span;
mod split;
mod tokens;

pub(crate) use adapter::normalize_type;
pub(crate) use span::span_of as token_span;

use super::finding::{Position, Span};
use super::model::{
    Comment, Dialect, LexicalClass, ParseCause, ParseError, ParsedFile, Statement, StatementKind,
    StatementSource,
};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};
use std::ops::Range;

/// sqlparser's nesting limit per statement. Deeper input is a parse error
/// (sqlparser also grows its stack on demand, so this is about time, not crashes).
const RECURSION_LIMIT: usize = 128;

/// A statement's significant tokens (no whitespace or comments) with file
/// positions: for the few rules that read clauses the model does not keep
/// (select lists, WHERE, LIMIT, VALUES rows, COLLATE). Stops at a tokenizer error.
pub(crate) fn statement_tokens(stmt: &Statement, dialect: Dialect) -> Vec<TokenWithSpan> {
    let (mut tokens, _) = split::tokenize_at(&stmt.text, location(stmt.span.start), dialect);
    tokens.retain(tokens::significant);
    tokens
}

/// Frees the tokenizer buffer this thread keeps between files (call after
/// parsing a batch: a long-lived thread would otherwise hold it).
pub fn release_buffers() {
    split::release_token_buffer();
}

/// Parses a file into statements. Never panics, never fails: statements that
/// cannot be understood come back as `Unparsed`.
pub fn parse_file(text: &str, dialect: Dialect) -> Vec<Statement> {
    parse_source(text, dialect).statements
}

/// Parses a file into statements plus its comments (header comments for
/// file-level suppression).
pub fn parse_source(text: &str, dialect: Dialect) -> ParsedFile {
    let mut statements = Vec::new();
    let comments = split::split_each(text, dialect, split::WINDOW, &mut |raw| {
        let stmt_text = text
            .get(raw.byte_range.clone())
            .unwrap_or_default()
            .to_string();
        let (kind, source) =
            understand_guarded(raw.tokens, raw.error, &stmt_text, raw.span, dialect);
        statements.push(Statement {
            kind,
            span: raw.span,
            text: stmt_text,
            byte_range: raw.byte_range,
            index: statements.len(),
            source,
            leading_comments: raw.leading_comments,
            trailing_comment: raw.trailing_comment.map(Box::new),
        });
    });
    let header_comments = header(&comments, statements.first().map(|s| s.span.start));
    ParsedFile {
        statements,
        header_comments,
        comments,
    }
}

/// One statement's place in a file, as found by the splitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementSlice {
    /// Byte range of the statement's text (no trailing `;`).
    pub byte_range: Range<usize>,
    /// First to last character.
    pub span: Span,
}

/// Splits a file into statements without parsing them (tokenizer-based:
/// strings, comments, dollar quotes and function bodies are respected).
pub fn split_statements(text: &str, dialect: Dialect) -> Vec<StatementSlice> {
    split::split(text, dialect)
        .statements
        .into_iter()
        .map(|s| StatementSlice {
            byte_range: s.byte_range,
            span: s.span,
        })
        .collect()
}

/// Classifies a statement's text from its keywords (the fallback risk uses
/// for statements nobody could parse). Assumes PostgreSQL quoting.
pub fn lexical_class(text: &str) -> LexicalClass {
    let (tokens, _) = split::tokenize_at(text, Location::new(1, 1), Dialect::Postgres);
    lexical::classify(&tokens)
}

fn header(comments: &[Comment], first: Option<Position>) -> Vec<Comment> {
    comments
        .iter()
        .filter(|c| first.is_none_or(|p| (c.line, c.column) < (p.line, p.column)))
        .cloned()
        .collect()
}

fn location(p: Position) -> Location {
    Location::new(u64::from(p.line), u64::from(p.column))
}

/// Statements whose AST may be deeper than this (see
/// `tokens::nesting_estimate`) are understood on a thread with a stack sized
/// for them: walking and dropping sqlparser's AST recurses once per level
/// (up to ~5 KB per level in debug builds), and callers' threads may have 2 MB.
const DIRECT_DEPTH: usize = 200;

/// Statements estimated deeper than this are not given to sqlparser at all
/// (a parse error with the lexical classification).
const MAX_DEPTH: usize = 50_000;

/// [`understand`], on a bigger stack when the statement is deep.
fn understand_guarded(
    tokens: Vec<TokenWithSpan>,
    tokenizer_error: Option<ParseError>,
    text: &str,
    span: Span,
    dialect: Dialect,
) -> (StatementKind, StatementSource) {
    let depth = tokens::nesting_estimate(&tokens);
    if depth <= DIRECT_DEPTH {
        return understand(tokens, tokenizer_error, text, span, dialect);
    }
    let too_complex = |why: &str| {
        let (tokens, _) = split::tokenize_at(text, location(span.start), dialect);
        (
            StatementKind::Unparsed {
                lexical: lexical::classify(&tokens),
            },
            StatementSource::Unparsed {
                error: Box::new(ParseError {
                    message: why.to_string(),
                    position: Some(span.start),
                    cause: ParseCause::Syntax,
                }),
            },
        )
    };
    if depth > MAX_DEPTH {
        return too_complex(&format!(
            "statement too complex to parse: expressions nest about {depth} levels deep (limit {MAX_DEPTH})"
        ));
    }
    let stack = (8 << 20) + depth * (16 << 10);
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("bytegate-parse".into())
            .stack_size(stack)
            .spawn_scoped(scope, || {
                understand(tokens, tokenizer_error, text, span, dialect)
            });
        match worker {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| too_complex("the SQL parser failed on this statement")),
            Err(_) => too_complex("statement too complex to parse (no thread for a deep parse)"),
        }
    })
}

/// Turns a statement's tokens into the model: parser, then recognizers, then
/// the lexical fallback.
fn understand(
    tokens: Vec<TokenWithSpan>,
    tokenizer_error: Option<ParseError>,
    text: &str,
    span: Span,
    dialect: Dialect,
) -> (StatementKind, StatementSource) {
    if let Some(error) = tokenizer_error {
        // The tokens before the failure still say what kind of statement it is.
        let (partial, _) = split::tokenize_at(text, location(span.start), dialect);
        return (
            StatementKind::Unparsed {
                lexical: lexical::classify(&partial),
            },
            StatementSource::Unparsed {
                error: Box::new(error),
            },
        );
    }
    let keyword = tokens
        .iter()
        .find_map(|t| tokens::word_upper(&t.token))
        .unwrap_or_default();
    // sqlparser accepts much SQLite and MySQL syntax in every dialect.
    if dialect == Dialect::Postgres
        && let Some(error) = misread::other_dialect(&tokens)
    {
        return (
            StatementKind::Unparsed {
                lexical: lexical::classify(&tokens),
            },
            StatementSource::Unparsed {
                error: Box::new(error),
            },
        );
    }
    match parse_tokens(tokens, dialect) {
        Ok(stmt) => {
            let mut kind = adapter::adapt(&stmt, &keyword);
            if let StatementKind::AlterOther(a) = &mut kind
                && a.action.starts_with("RENAME")
            {
                // Rare: tokenize again rather than keep every statement's tokens.
                let (tokens, _) = split::tokenize_at(text, location(span.start), dialect);
                a.new_name = recognize::rename_target(&tokens);
            }
            (kind, StatementSource::Parsed)
        }
        Err(mut error) => {
            // The parser consumed the tokens; statements that fail are few, so
            // tokenize again rather than clone every statement's tokens.
            let (tokens, _) = split::tokenize_at(text, location(span.start), dialect);
            if let Some(joined) = misread::missing_semicolon(&tokens, error.position) {
                return (
                    StatementKind::Unparsed {
                        lexical: lexical::classify(&tokens),
                    },
                    StatementSource::Unparsed {
                        error: Box::new(joined),
                    },
                );
            }
            let parse = |t: Vec<TokenWithSpan>| parse_tokens(t, dialect).ok();
            if let Some(kind) = recognize::recognize(&tokens, dialect, &parse) {
                return (kind, StatementSource::Recognized);
            }
            if error.position.is_none() {
                error.position = Some(span.start);
            }
            (
                StatementKind::Unparsed {
                    lexical: lexical::classify(&tokens),
                },
                StatementSource::Unparsed {
                    error: Box::new(error),
                },
            )
        }
    }
}

/// Parses one statement's tokens; all of them must be consumed (sqlparser
/// stops at what it understands: `DROP INDEX CONCURRENTLY i` would otherwise
/// read as dropping an index named `CONCURRENTLY`).
pub(crate) fn parse_tokens(
    tokens: Vec<TokenWithSpan>,
    dialect: Dialect,
) -> Result<sqlparser::ast::Statement, ParseError> {
    // sqlparser is third-party code run on untrusted input: a bug in it must
    // cost one statement, not the review.
    let run = std::panic::AssertUnwindSafe(|| {
        let mut parser = Parser::new(dialect::parser_dialect(dialect))
            .with_recursion_limit(RECURSION_LIMIT)
            .with_tokens_with_locations(tokens);
        let stmt = parser.parse_statement().map_err(parser_error)?;
        let next = parser.peek_token();
        if next.token != Token::EOF {
            return Err(ParseError {
                message: format!("Expected: end of statement, found: {}", next.token),
                position: split::span_of(next.span).map(|s| s.start),
                cause: ParseCause::Syntax,
            });
        }
        Ok(stmt)
    });
    std::panic::catch_unwind(run).unwrap_or_else(|_| {
        Err(ParseError {
            message: "the SQL parser failed on this statement".to_string(),
            position: None,
            cause: ParseCause::Syntax,
        })
    })
}

/// sqlparser's error as a model error, with the position taken out of the
/// message (`... at Line: 3, Column: 7`).
fn parser_error(e: ParserError) -> ParseError {
    let message = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => {
            "statement nests too deeply (recursion limit exceeded)".to_string()
        }
    };
    match message.rfind(" at Line: ") {
        Some(at) => {
            let pos = parse_line_col(&message[at + " at Line: ".len()..]);
            ParseError {
                message: message[..at].to_string(),
                position: pos,
                cause: ParseCause::Syntax,
            }
        }
        None => ParseError {
            message,
            position: None,
            cause: ParseCause::Syntax,
        },
    }
}

fn parse_line_col(s: &str) -> Option<Position> {
    let (line, rest) = s.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(Position {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
    })
}

#[cfg(test)]
mod dialect_tests;
#[cfg(test)]
mod tests;
