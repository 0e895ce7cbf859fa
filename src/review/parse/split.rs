//! Splitting a file into statements with sqlparser's tokens (made by
//! `pg_lexer` for PostgreSQL, which hands what it does not cover to
//! sqlparser's own tokenizer; by sqlparser's tokenizer for MySQL).
//!
//! The tokenizer already knows strings, quoted identifiers, comments, dollar
//! quotes (so function bodies and `DO` blocks with their inner `;`s stay
//! whole) and `COPY ... FROM stdin` data; a statement ends at a top-level `;`
//! (not inside a `BEGIN ATOMIC ... END` body). Each statement keeps its tokens,
//! already moved to file coordinates, so the parser's spans are file spans.
//!
//! Big files are tokenized in windows of about [`WINDOW`] bytes cut at
//! top-level `;`s found by `scan`, so memory stays bounded. When the tokenizer
//! rejects a statement (unterminated string, stray character), that statement
//! runs to the next `;` the scanner finds (or the end of the file) and is kept
//! as an error; splitting resumes after it.

use super::pg_lexer::{self, Blanks};
use super::scan;
use crate::review::finding::Span;
use crate::review::model::{Comment, Dialect, ParseCause, ParseError};
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Whitespace};
use std::ops::Range;

/// Files above this size are tokenized in windows of about this many bytes.
pub(crate) const WINDOW: usize = 256 << 10;

/// One statement's raw material.
#[derive(Debug, Clone)]
pub(crate) struct RawStatement {
    /// Tokens from the first to the last significant one (file coordinates).
    /// Empty when the tokenizer failed (`error` is set).
    pub tokens: Vec<TokenWithSpan>,
    /// Byte range of the statement text.
    pub byte_range: Range<usize>,
    /// First to last character.
    pub span: Span,
    /// Comments since the previous statement.
    pub leading_comments: Vec<Comment>,
    /// Comment after the `;` on the last line.
    pub trailing_comment: Option<Comment>,
    /// The tokenizer rejected this statement.
    pub error: Option<ParseError>,
}

/// The statements and comments of a file.
#[derive(Debug, Default)]
pub(crate) struct SplitFile {
    /// Statements in order.
    pub statements: Vec<RawStatement>,
    /// Every comment seen by the tokenizer, in order.
    pub comments: Vec<Comment>,
}

/// sqlparser's dialect object for a bytegate dialect.
pub(crate) fn sql_dialect(dialect: Dialect) -> &'static dyn sqlparser::dialect::Dialect {
    static PG: PostgreSqlDialect = PostgreSqlDialect {};
    static MY: MySqlDialect = MySqlDialect {};
    match dialect {
        Dialect::Postgres => &PG,
        Dialect::Mysql => &MY,
    }
}

/// Converts between byte offsets and sqlparser's (line, column-in-chars)
/// locations, moving forward through the text (O(n) over a whole file).
pub(crate) struct Cursor<'a> {
    text: &'a str,
    byte: usize,
    line: u64,
    col: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Cursor {
            text,
            byte: 0,
            line: 1,
            col: 1,
        }
    }

    fn rewind_if_past(&mut self, behind: bool) {
        // Requests come in order; a backwards request restarts (correct, rare).
        if behind {
            self.byte = 0;
            self.line = 1;
            self.col = 1;
        }
    }

    /// Moves one character forward; false at the end of the text.
    fn step(&mut self) -> bool {
        // `byte` is always at a character boundary: its byte is a leading one.
        let Some(&b) = self.text.as_bytes().get(self.byte) else {
            return false;
        };
        let width = match b {
            0x00..=0x7f => 1,
            0xf0.. => 4,
            0xe0.. => 3,
            _ => 2,
        };
        self.byte = (self.byte + width).min(self.text.len());
        if b == b'\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        true
    }

    /// Byte offset of a location (clamped to the text).
    pub fn byte_of(&mut self, loc: Location) -> usize {
        let target = (loc.line, loc.column);
        self.rewind_if_past(target < (self.line, self.col));
        // Whole lines first (only their newlines count), then characters.
        while self.line < target.0 {
            let rest = &self.text.as_bytes()[self.byte..];
            let Some(n) = rest.iter().position(|&b| b == b'\n') else {
                break;
            };
            self.byte += n + 1;
            self.line += 1;
            self.col = 1;
        }
        while (self.line, self.col) < target {
            if !self.step() {
                break;
            }
        }
        self.byte
    }

    /// Location of a byte offset (rounded up to a character boundary).
    pub fn loc_of(&mut self, byte: usize) -> Location {
        self.rewind_if_past(byte < self.byte);
        while self.byte < byte {
            if !self.step() {
                break;
            }
        }
        Location::new(self.line, self.col)
    }
}

pub(crate) use super::span::{position, span_of};

fn shift(loc: Location, base: Location) -> Location {
    if loc.line == 0 {
        return loc;
    }
    if loc.line == 1 {
        Location::new(base.line, (base.column + loc.column).saturating_sub(1))
    } else {
        Location::new((base.line + loc.line).saturating_sub(1), loc.column)
    }
}

/// Tokenizes `text` (which starts at `base` in its file) with file coordinates.
/// On error, returns the tokens before the failing one and the error.
pub(crate) fn tokenize_at(
    text: &str,
    base: Location,
    dialect: Dialect,
) -> (Vec<TokenWithSpan>, Option<ParseError>) {
    let mut tokens = Vec::new();
    let (err, _) = tokenize_each(
        text,
        base,
        dialect,
        Blanks::Keep,
        &mut Vec::new(),
        &mut |t| tokens.push(t),
    );
    (tokens, err)
}

#[cfg(test)]
thread_local! {
    /// Tests compare the splitter's output with and without the fast path.
    pub(crate) static STOCK_TOKENIZER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn fast_path(dialect: Dialect) -> bool {
    #[cfg(test)]
    if STOCK_TOKENIZER.get() {
        return false;
    }
    dialect == Dialect::Postgres
}

/// Tokenizes `text` (which starts at `base` in its file), handing each token
/// to `emit` in file coordinates. PostgreSQL goes through `pg_lexer` a
/// statement at a time; sqlparser's tokenizer (MySQL, and what `pg_lexer`
/// hands over) fills `buf` first. On error, the tokens before the failing
/// one were emitted; returns the error and the end of the last token emitted.
fn tokenize_each(
    text: &str,
    base: Location,
    dialect: Dialect,
    blanks: Blanks,
    buf: &mut Vec<TokenWithSpan>,
    emit: &mut dyn FnMut(TokenWithSpan),
) -> (Option<ParseError>, Option<Location>) {
    let mut last_end = None;
    let mut out = |mut t: TokenWithSpan, at: Location| {
        t.span.start = shift(shift(t.span.start, at), base);
        t.span.end = shift(shift(t.span.end, at), base);
        last_end = Some(t.span.end);
        emit(t);
    };
    let start = Location::new(1, 1);
    // Third-party code on untrusted input: a panic in it becomes a tokenizer error.
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (from, at) = if fast_path(dialect) {
            match pg_lexer::lex_each(text, blanks, &mut |t| out(t, start)) {
                pg_lexer::Lexed::Done => return Ok(()),
                pg_lexer::Lexed::HandOver { byte, loc } => (byte, loc),
            }
        } else {
            (0, start)
        };
        // sqlparser from a statement start, located relative to it, after
        // the `;` it would have seen there (its only context).
        buf.clear();
        if from > 0 {
            buf.push(TokenWithSpan::wrap(Token::SemiColon));
        }
        let skip = buf.len();
        let rest = text.get(from..).unwrap_or_default();
        let res = Tokenizer::new(sql_dialect(dialect), rest).tokenize_with_location_into_buf(buf);
        for t in buf.drain(..).skip(skip) {
            out(t, at);
        }
        res.map_err(|mut e| {
            e.location = shift(e.location, at);
            e
        })
    }))
    .unwrap_or_else(|_| {
        Err(sqlparser::tokenizer::TokenizerError {
            message: "the SQL tokenizer failed here".to_string(),
            location: Location::new(1, 1),
        })
    });
    let err = res.err().map(|e| ParseError {
        message: e.message,
        position: Some(position(shift(e.location, base))),
        cause: ParseCause::Syntax,
    });
    (err, last_end)
}

fn comment_of(t: &TokenWithSpan) -> Option<Comment> {
    let (text, block) = match &t.token {
        Token::Whitespace(Whitespace::SingleLineComment { comment, .. }) => {
            (comment.trim_end_matches('\r').to_string(), false)
        }
        Token::Whitespace(Whitespace::MultiLineComment(c)) => (c.clone(), true),
        _ => return None,
    };
    let start = position(t.span.start);
    let end_line = if block {
        position(t.span.end).line
    } else {
        start.line
    };
    Some(Comment {
        line: start.line,
        column: start.column,
        end_line,
        text,
        block,
    })
}

fn is_word(t: &TokenWithSpan, kw: Keyword) -> bool {
    matches!(&t.token, Token::Word(w) if w.keyword == kw && w.quote_style.is_none())
}

/// Accumulates tokens into statements across windows.
struct Splitter<'a> {
    cursor: Cursor<'a>,
    out: SplitFile,
    current: Vec<TokenWithSpan>,
    pending: Vec<Comment>,
    /// After a `;`, until the next newline: a comment here trails the last statement.
    trailing_open: bool,
    /// Inside `BEGIN ATOMIC ... END` (PostgreSQL) or a MySQL routine body:
    /// the block nesting depth; `;` does not end the statement while > 0.
    atomic_depth: u32,
    /// MySQL block tracking: the previous token was `END`.
    after_end: bool,
    /// MySQL block tracking: the previous token was `IF` (a block unless `(`/`EXISTS` follows).
    pending_if: bool,
    /// Inside a MySQL `DELIMITER` region: `;` never ends a statement.
    custom_delimiter: bool,
    /// Byte offset of the current statement's first token (kept so a
    /// statement spanning windows never makes the cursor go back).
    current_start: usize,
    /// Which block syntax applies.
    dialect: Dialect,
}

impl<'a> Splitter<'a> {
    fn push(&mut self, t: TokenWithSpan) {
        match &t.token {
            Token::Whitespace(Whitespace::Newline) => {
                self.trailing_open = false;
                if !self.current.is_empty() {
                    self.current.push(t);
                }
            }
            Token::Whitespace(Whitespace::SingleLineComment { .. })
            | Token::Whitespace(Whitespace::MultiLineComment(_)) => {
                // A single-line comment runs to the end of the line.
                let line_comment = matches!(
                    t.token,
                    Token::Whitespace(Whitespace::SingleLineComment { .. })
                );
                if let Some(c) = comment_of(&t) {
                    self.out.comments.push(c.clone());
                    if !self.current.is_empty() {
                        self.current.push(t);
                    } else if self.trailing_open
                        && let Some(last) = self.out.statements.last_mut()
                        && last.trailing_comment.is_none()
                        && last.span.end.line == c.line
                    {
                        last.trailing_comment = Some(c);
                    } else {
                        self.pending.push(c);
                    }
                }
                if line_comment {
                    self.trailing_open = false;
                }
            }
            // Spaces and tabs carry nothing the parser reads (newlines do:
            // `'a'\n'b'` string continuation), so statements skip them.
            Token::Whitespace(_) => {}
            Token::SemiColon if self.atomic_depth == 0 && !self.custom_delimiter => {
                self.finish();
                self.trailing_open = true;
            }
            _ => {
                self.track_atomic(&t);
                if self.current.is_empty() {
                    self.trailing_open = false;
                    self.current_start = self.cursor.byte_of(t.span.start);
                }
                self.current.push(t);
            }
        }
    }

    fn track_atomic(&mut self, t: &TokenWithSpan) {
        if self.atomic_depth > 0 {
            match self.dialect {
                Dialect::Postgres => {
                    if is_word(t, Keyword::CASE) {
                        self.atomic_depth += 1;
                    } else if is_word(t, Keyword::END) {
                        self.atomic_depth -= 1;
                    }
                }
                Dialect::Mysql => self.track_mysql_compound(t),
            }
            return;
        }
        let starts_create = self
            .current
            .first()
            .is_some_and(|x| is_word(x, Keyword::CREATE));
        if !starts_create {
            return;
        }
        match self.dialect {
            // PostgreSQL: `BEGIN ATOMIC ... END` (SQL-standard function bodies).
            // A trigger with a `BEGIN ... END` body is SQLite/MySQL syntax: kept
            // whole so it is reported as such, not split at its inner `;`s
            // (whose `END` would then read as a COMMIT).
            Dialect::Postgres => {
                let trigger_body = is_word(t, Keyword::BEGIN)
                    && self
                        .current
                        .iter()
                        .filter(|x| !matches!(x.token, Token::Whitespace(_)))
                        .take(5)
                        .any(|x| is_word(x, Keyword::TRIGGER));
                let atomic_body = is_word(t, Keyword::ATOMIC)
                    && self
                        .current
                        .iter()
                        .rev()
                        .find(|x| !matches!(x.token, Token::Whitespace(_)))
                        .is_some_and(|x| is_word(x, Keyword::BEGIN));
                if trigger_body || atomic_body {
                    self.atomic_depth = 1;
                }
            }
            // MySQL: a routine, trigger or event body `BEGIN ... END`.
            Dialect::Mysql => {
                if is_word(t, Keyword::BEGIN)
                    && self.current.iter().any(|x| {
                        ["PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"]
                            .iter()
                            .any(|k| super::tokens::is_kw(&x.token, k))
                    })
                {
                    self.atomic_depth = 1;
                    self.after_end = false;
                    self.pending_if = false;
                }
            }
        }
    }

    /// Nesting inside a MySQL compound statement: `BEGIN`, `CASE`, `IF`,
    /// `LOOP`, `WHILE`, `REPEAT` open a block; `END [IF|LOOP|...]` closes one.
    /// `IF(` (the function) and `IF [NOT] EXISTS` open nothing.
    fn track_mysql_compound(&mut self, t: &TokenWithSpan) {
        use super::tokens::is_kw;
        let tok = &t.token;
        if std::mem::take(&mut self.pending_if)
            && !(*tok == Token::LParen || is_kw(tok, "EXISTS") || is_kw(tok, "NOT"))
        {
            self.atomic_depth += 1;
        }
        if std::mem::take(&mut self.after_end)
            && ["IF", "CASE", "LOOP", "WHILE", "REPEAT"]
                .iter()
                .any(|k| is_kw(tok, k))
        {
            // The keyword of `END IF` etc.: part of the END.
            return;
        }
        if is_kw(tok, "END") {
            self.atomic_depth = self.atomic_depth.saturating_sub(1);
            self.after_end = true;
        } else if is_kw(tok, "IF") {
            self.pending_if = true;
        } else if ["BEGIN", "CASE", "LOOP", "WHILE", "REPEAT"]
            .iter()
            .any(|k| is_kw(tok, k))
        {
            self.atomic_depth += 1;
        }
    }

    /// Hands finished statements to `sink`, keeping the last one: a trailing
    /// comment may still attach to it.
    fn emit_ready(&mut self, sink: &mut dyn FnMut(RawStatement)) {
        let ready = self.out.statements.len().saturating_sub(1);
        self.out.statements.drain(..ready).for_each(sink);
    }

    /// Ends the current statement (if it has tokens).
    fn finish(&mut self) {
        self.atomic_depth = 0;
        // Comments between the last token and the `;` (or the end of the file).
        let mut tail_comments = Vec::new();
        while let Some(t) = self
            .current
            .pop_if(|t| matches!(t.token, Token::Whitespace(_)))
        {
            tail_comments.extend(comment_of(&t));
        }
        let (Some(first), Some(last)) = (self.current.first(), self.current.last()) else {
            return;
        };
        // The first of them on the statement's last line counts as trailing
        // (`DROP TABLE t -- bytegate-ignore ...` at the end of a file).
        let trailing_comment = tail_comments
            .into_iter()
            .rev()
            .find(|c| u64::from(c.line) == last.span.end.line);
        let start_loc = first.span.start;
        let end_loc = last.span.end;
        let start = self.current_start;
        let end = self.cursor.byte_of(end_loc).max(start);
        let span = Span {
            start: position(start_loc),
            end: position(Location::new(
                end_loc.line,
                end_loc.column.saturating_sub(1).max(1),
            )),
        };
        // Statements are usually similar in size: start the next one with room.
        let room = self.current.len().clamp(16, 1024);
        let tokens = std::mem::replace(&mut self.current, Vec::with_capacity(room));
        self.out.statements.push(RawStatement {
            tokens,
            byte_range: start..end,
            span,
            leading_comments: std::mem::take(&mut self.pending),
            trailing_comment,
            error: None,
        });
    }

    /// Records `text[start..end]` as a statement the tokenizer rejected.
    fn push_failed(&mut self, text: &str, start: usize, end: usize, error: ParseError) {
        self.current.clear();
        self.atomic_depth = 0;
        let end = start + text[start..end].trim_end().len();
        if end <= start {
            return;
        }
        let start_loc = self.cursor.loc_of(start);
        let last_char = text[start..end]
            .chars()
            .next_back()
            .map_or(1, char::len_utf8);
        let end_loc = self.cursor.loc_of(end - last_char);
        self.out.statements.push(RawStatement {
            tokens: Vec::new(),
            byte_range: start..end,
            span: Span {
                start: position(start_loc),
                end: position(end_loc),
            },
            leading_comments: std::mem::take(&mut self.pending),
            trailing_comment: None,
            error: Some(error),
        });
    }
}

/// Splits `text` into statements (see the module docs).
pub(crate) fn split(text: &str, dialect: Dialect) -> SplitFile {
    split_with_window(text, dialect, WINDOW)
}

/// [`split`] with a chosen window size (tests use small ones).
pub(crate) fn split_with_window(text: &str, dialect: Dialect, window: usize) -> SplitFile {
    let mut statements = Vec::new();
    let comments = split_each(text, dialect, window, &mut |s| statements.push(s));
    SplitFile {
        statements,
        comments,
    }
}

/// Splits `text`, handing each statement to `sink` as soon as it is complete
/// (so a huge file never holds every statement's tokens at once). Returns the
/// file's comments.
pub(crate) fn split_each(
    text: &str,
    dialect: Dialect,
    window: usize,
    sink: &mut dyn FnMut(RawStatement),
) -> Vec<Comment> {
    let mut sp = Splitter {
        cursor: Cursor::new(text),
        out: SplitFile::default(),
        current: Vec::new(),
        pending: Vec::new(),
        trailing_open: false,
        atomic_depth: 0,
        after_end: false,
        pending_if: false,
        custom_delimiter: false,
        current_start: 0,
        dialect,
    };
    // The tokenizer's output buffer is reused across files on this thread:
    // growing a fresh one per file (tens of thousands of tokens, past the
    // mmap threshold) cost more than tokenizing small files.
    let mut buf = TOKEN_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let regions = match dialect {
        Dialect::Mysql => delimiter_regions(text),
        Dialect::Postgres => vec![(0..text.len(), None)],
    };
    for (range, delim) in regions {
        match delim {
            None => split_region(&mut sp, text, range, window, &mut buf, sink),
            Some(d) => split_custom(&mut sp, text, range, &d, &mut buf, sink),
        }
    }
    buf.clear();
    if buf.capacity() <= KEPT_TOKEN_CAPACITY {
        TOKEN_BUF.with(|b| *b.borrow_mut() = buf);
    }
    sp.out.statements.drain(..).for_each(&mut *sink);
    sp.out.comments
}

/// Largest token buffer kept for the next file (about 2 MB): a window's worth
/// of tokens in ordinary SQL; a bigger one (one huge statement) is freed.
const KEPT_TOKEN_CAPACITY: usize = 32 << 10;

/// Frees this thread's reused token buffer (after a batch of files).
pub(crate) fn release_token_buffer() {
    TOKEN_BUF.with(|b| drop(std::mem::take(&mut *b.borrow_mut())));
}

thread_local! {
    /// [`split_each`]'s tokenizer buffer, empty between files.
    static TOKEN_BUF: std::cell::RefCell<Vec<TokenWithSpan>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// MySQL client `DELIMITER x` lines cut the file into regions, each with its
/// statement delimiter (`None`: `;`). The directive lines belong to no region.
fn delimiter_regions(text: &str) -> Vec<(Range<usize>, Option<String>)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut delim: Option<String> = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let this = line_start;
        line_start += line.len();
        let mut words = line.split_whitespace();
        let is_directive = words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("DELIMITER"));
        if !is_directive {
            continue;
        }
        let (Some(new), None) = (words.next(), words.next()) else {
            continue;
        };
        out.push((start..this, delim.take()));
        delim = (new != ";").then(|| new.to_string());
        start = line_start;
    }
    out.push((start..text.len(), delim));
    out
}

/// Splits `text[range]` at `;` (tokenizer windows, see the module docs).
fn split_region(
    sp: &mut Splitter<'_>,
    text: &str,
    range: Range<usize>,
    window: usize,
    buf: &mut Vec<TokenWithSpan>,
    sink: &mut dyn FnMut(RawStatement),
) {
    let dialect = sp.dialect;
    // Scanning never looks past the region.
    let region = &text[..range.end];
    let mut pos = range.start;
    while pos < region.len() {
        let end = if region.len() - pos > window {
            scan::window_end(region, pos, window, dialect)
        } else {
            region.len()
        };
        let base = sp.cursor.loc_of(pos);
        let (error, last_end) = tokenize_each(
            &region[pos..end],
            base,
            dialect,
            Blanks::Skip,
            buf,
            &mut |t| sp.push(t),
        );
        // Where the failing token starts: right after the last token produced.
        let resume_from = last_end.unwrap_or(base);
        match error {
            None => {
                // A statement without a final `;` ends with the region; one
                // still open at a window cut (a routine body) continues.
                if end == region.len() {
                    sp.finish();
                }
                pos = end;
            }
            Some(err) => {
                // The failed statement may have begun in an earlier window.
                let start = if sp.current.is_empty() {
                    sp.cursor.byte_of(resume_from).max(pos)
                } else {
                    sp.current_start
                };
                let stop = scan::next_semicolon(region, start, dialect);
                let stmt_end = stop.unwrap_or(region.len());
                sp.push_failed(region, start, stmt_end, err);
                pos = stop.map_or(region.len(), |s| s + 1);
                sp.trailing_open = stop.is_some();
            }
        }
        sp.emit_ready(sink);
    }
}

/// Splits `text[range]` at a custom delimiter: each piece is one statement,
/// `;` inside it included (MySQL routine bodies).
fn split_custom(
    sp: &mut Splitter<'_>,
    text: &str,
    range: Range<usize>,
    delim: &str,
    buf: &mut Vec<TokenWithSpan>,
    sink: &mut dyn FnMut(RawStatement),
) {
    let dialect = sp.dialect;
    let region = &text[..range.end];
    let mut pos = range.start;
    while pos < region.len() {
        let stop = scan::next_delimiter(region, pos, dialect, delim.as_bytes());
        let piece_end = stop.unwrap_or(region.len());
        let base = sp.cursor.loc_of(pos);
        sp.custom_delimiter = true;
        let (error, last_end) = tokenize_each(
            &region[pos..piece_end],
            base,
            dialect,
            Blanks::Skip,
            buf,
            &mut |t| sp.push(t),
        );
        sp.custom_delimiter = false;
        let resume_from = last_end.unwrap_or(base);
        match error {
            None => sp.finish(),
            Some(err) => {
                let start = if sp.current.is_empty() {
                    sp.cursor.byte_of(resume_from).max(pos)
                } else {
                    sp.current_start
                };
                sp.push_failed(region, start, piece_end, err);
            }
        }
        pos = stop.map_or(region.len(), |s| s + delim.len());
        sp.trailing_open = stop.is_some();
        sp.emit_ready(sink);
    }
}

#[cfg(test)]
mod tests;
