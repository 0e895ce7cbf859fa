//! Token helpers for the rules that read clauses the statement model does not
//! keep (select lists, WHERE, LIMIT, VALUES rows, COLLATE, comment texts). They
//! tokenize one statement on demand; rules that are `off` never run, so this
//! costs nothing unless a team switches such a rule on.

use super::StmtCtx;
use crate::review::finding::Span;
use crate::review::parse::statement_tokens;
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// A statement's significant tokens, each with its parenthesis depth.
pub(super) struct Clauses {
    toks: Vec<TokenWithSpan>,
    depth: Vec<u32>,
}

impl Clauses {
    /// Tokenizes the statement of `cx`.
    pub fn of(cx: &StmtCtx<'_>) -> Clauses {
        let toks = statement_tokens(cx.stmt, cx.dialect);
        let mut depth = Vec::with_capacity(toks.len());
        let mut d = 0u32;
        for t in &toks {
            if matches!(t.token, Token::RParen) {
                d = d.saturating_sub(1);
            }
            depth.push(d);
            if matches!(t.token, Token::LParen) {
                d = d.saturating_add(1);
            }
        }
        Clauses { toks, depth }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.toks.len()
    }

    /// Token `i`.
    pub fn tok(&self, i: usize) -> Option<&Token> {
        self.toks.get(i).map(|t| &t.token)
    }

    /// Parenthesis depth of token `i` (0: top level).
    pub fn depth(&self, i: usize) -> u32 {
        self.depth.get(i).copied().unwrap_or(0)
    }

    /// Where token `i` is.
    pub fn span(&self, i: usize) -> Option<Span> {
        self.toks
            .get(i)
            .and_then(|t| crate::review::parse::token_span(t.span))
    }

    /// True when token `i` is the unquoted keyword `kw`.
    pub fn is_kw(&self, i: usize, kw: &str) -> bool {
        self.tok(i).is_some_and(|t| is_kw(t, kw))
    }

    /// Indexes of the keyword `kw` at depth `depth`.
    pub fn find_kw(&self, kw: &str, depth: u32) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.depth(i) == depth && self.is_kw(i, kw))
            .collect()
    }

    /// From `start`, the index of the first token at `depth` or shallower that
    /// is one of `stops` (or the end).
    pub fn clause_end(&self, start: usize, depth: u32, stops: &[&str]) -> usize {
        (start..self.len())
            .find(|&i| {
                self.depth(i) < depth
                    || (self.depth(i) == depth && stops.iter().any(|k| self.is_kw(i, k)))
            })
            .unwrap_or(self.len())
    }
}

/// Whether `t` is the unquoted word `kw` (case-insensitive).
pub(super) fn is_kw(t: &Token, kw: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
}

/// The text of a string literal token.
pub(super) fn string_value(t: &Token) -> Option<&str> {
    match t {
        Token::SingleQuotedString(s)
        | Token::DoubleQuotedString(s)
        | Token::EscapedStringLiteral(s)
        | Token::NationalStringLiteral(s) => Some(s),
        Token::DollarQuotedString(d) => Some(&d.value),
        _ => None,
    }
}

/// The keywords that end a WHERE clause at its own depth.
pub(super) const AFTER_WHERE: &[&str] = &[
    "GROUP",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "RETURNING",
    "HAVING",
    "WINDOW",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "FOR",
    "FETCH",
];
