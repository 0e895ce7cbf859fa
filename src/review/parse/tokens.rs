//! A cursor over a statement's significant tokens (whitespace and comments
//! skipped), shared by the recognizers and the lexical fallback.

use super::span::span_of;
use crate::review::model::{Ident, ObjectName};
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// Significant tokens of a statement with a read position.
pub(crate) struct Toks<'a> {
    toks: Vec<&'a TokenWithSpan>,
    pos: usize,
}

/// True for tokens that carry meaning (not whitespace or comments).
pub(crate) fn significant(t: &TokenWithSpan) -> bool {
    !matches!(t.token, Token::Whitespace(_) | Token::EOF)
}

/// The uppercased text of an unquoted word token.
pub(crate) fn word_upper(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_uppercase()),
        _ => None,
    }
}

/// Whether `t` is the unquoted word `kw` (case-insensitive).
pub(crate) fn is_kw(t: &Token, kw: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
}

impl<'a> Toks<'a> {
    /// The significant tokens of `tokens`.
    pub fn new(tokens: &'a [TokenWithSpan]) -> Self {
        Toks {
            toks: tokens.iter().filter(|t| significant(t)).collect(),
            pos: 0,
        }
    }

    /// Current position (for backtracking).
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back to a saved position.
    pub fn reset(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// The next token, not consumed.
    pub fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos).map(|t| &t.token)
    }

    /// The token `n` ahead, not consumed.
    pub fn peek_at(&self, n: usize) -> Option<&'a Token> {
        self.toks.get(self.pos + n).map(|t| &t.token)
    }

    /// Consumes and returns the next token.
    pub fn next(&mut self) -> Option<&'a TokenWithSpan> {
        let t = self.toks.get(self.pos).copied();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    /// True when every token was consumed.
    pub fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    /// Whether the next token is the keyword `kw`.
    pub fn peek_kw(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| is_kw(t, kw))
    }

    /// Consumes the keyword `kw` if it is next.
    pub fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the keywords `kws` if they are all next, in order.
    pub fn eat_kws(&mut self, kws: &[&str]) -> bool {
        let ok = kws
            .iter()
            .enumerate()
            .all(|(i, kw)| self.peek_at(i).is_some_and(|t| is_kw(t, kw)));
        if ok {
            self.pos += kws.len();
        }
        ok
    }

    /// Consumes `t` if it is next.
    pub fn eat(&mut self, t: &Token) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes an identifier (any word, quoted or not).
    pub fn ident(&mut self) -> Option<Ident> {
        let t = self.toks.get(self.pos)?;
        match &t.token {
            Token::Word(w) => {
                self.pos += 1;
                Some(Ident {
                    value: w.value.clone(),
                    quoted: w.quote_style.is_some(),
                    span: span_of(t.span),
                })
            }
            _ => None,
        }
    }

    /// Consumes a dotted object name.
    pub fn object_name(&mut self) -> Option<ObjectName> {
        let mut parts = vec![self.ident()?];
        while self.peek() == Some(&Token::Period) {
            self.pos += 1;
            parts.push(self.ident()?);
        }
        Some(ObjectName { parts })
    }

    /// Consumes a balanced `( ... )` group if one is next; returns its inner
    /// tokens' range in this cursor.
    pub fn parens(&mut self) -> Option<std::ops::Range<usize>> {
        if self.peek() != Some(&Token::LParen) {
            return None;
        }
        let start = self.pos + 1;
        let mut depth = 0usize;
        while let Some(t) = self.next() {
            match t.token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(start..self.pos - 1);
                    }
                }
                _ => {}
            }
        }
        // Unbalanced: everything to the end.
        Some(start..self.toks.len())
    }

    /// The tokens in `range` (from [`Toks::parens`]).
    pub fn slice(&self, range: std::ops::Range<usize>) -> &[&'a TokenWithSpan] {
        let end = range.end.min(self.toks.len());
        let start = range.start.min(end);
        &self.toks[start..end]
    }

    /// Whether the keyword `kw` appears at parenthesis depth 0 from here on.
    pub fn has_top_level_kw(&self, kw: &str) -> bool {
        let mut depth = 0i64;
        for t in &self.toks[self.pos.min(self.toks.len())..] {
            match &t.token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth -= 1,
                tok if depth == 0 && is_kw(tok, kw) => return true,
                _ => {}
            }
        }
        false
    }

    /// The uppercased words from here on, up to `n` of them (non-words stop it).
    pub fn head_words(&self, n: usize) -> String {
        let mut out = Vec::new();
        for t in self.toks.iter().skip(self.pos).take(n) {
            match word_upper(&t.token) {
                Some(w) => out.push(w),
                None => break,
            }
        }
        out.join(" ")
    }
}

/// Tokens that join two operands (or prefix one) in an expression: a long
/// chain of them builds an AST as deep as the chain.
fn is_operator(t: &Token) -> bool {
    match t {
        Token::Plus
        | Token::Minus
        | Token::Mul
        | Token::Div
        | Token::Mod
        | Token::StringConcat
        | Token::Eq
        | Token::DoubleEq
        | Token::Neq
        | Token::Lt
        | Token::Gt
        | Token::LtEq
        | Token::GtEq
        | Token::Spaceship
        | Token::Caret
        | Token::Ampersand
        | Token::Pipe
        | Token::ShiftLeft
        | Token::ShiftRight
        | Token::DoubleColon
        | Token::Arrow
        | Token::LongArrow
        | Token::HashArrow
        | Token::HashLongArrow
        | Token::AtArrow
        | Token::ArrowAt
        | Token::Overlap
        | Token::Tilde
        | Token::TildeAsterisk
        | Token::ExclamationMarkTilde
        | Token::ExclamationMarkTildeAsterisk
        | Token::CustomBinaryOperator(_) => true,
        Token::Word(w) if w.quote_style.is_none() => [
            "AND", "OR", "NOT", "IS", "LIKE", "ILIKE", "BETWEEN", "IN", "COLLATE", "AT",
        ]
        .iter()
        .any(|k| w.value.eq_ignore_ascii_case(k)),
        _ => false,
    }
}

/// A cheap upper-bound estimate of how deep sqlparser's AST for these tokens
/// can be: parenthesis depth plus, on the path to the deepest point, the
/// operators chained at each level (a comma starts a new expression). Used to
/// give deep statements a bigger stack: walking and dropping sqlparser's AST
/// recurses once per level.
pub(crate) fn nesting_estimate(tokens: &[TokenWithSpan]) -> usize {
    let mut chains: Vec<usize> = vec![0];
    let mut sum = 0usize;
    let mut max = 0usize;
    for t in tokens {
        match &t.token {
            Token::LParen | Token::LBracket => {
                chains.push(0);
                sum += 1;
            }
            Token::RParen | Token::RBracket if chains.len() > 1 => {
                sum -= 1 + chains.pop().unwrap_or(0);
            }
            Token::Comma => {
                if let Some(last) = chains.last_mut() {
                    sum -= *last;
                    *last = 0;
                }
            }
            tok if is_operator(tok) => {
                if let Some(last) = chains.last_mut() {
                    *last += 1;
                    sum += 1;
                }
            }
            _ => {}
        }
        max = max.max(sum);
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::model::Dialect;
    use crate::review::parse::split::tokenize_at;
    use sqlparser::tokenizer::Location;

    fn est(sql: &str) -> usize {
        nesting_estimate(&tokenize_at(sql, Location::new(1, 1), Dialect::Postgres).0)
    }

    #[test]
    fn estimates_chains_and_nesting() {
        // (see also review::parse::tests for the thread hand-off)
        assert_eq!(est("SELECT a, b FROM t"), 0);
        assert_eq!(est("SELECT 1 + 2 + 3"), 2);
        assert_eq!(est("SELECT f(a + b, c), d + e"), 2);
        assert_eq!(est("SELECT ((1))"), 2);
        assert_eq!(est("DELETE FROM t WHERE a AND b AND (c OR d)"), 4);
        assert_eq!(est(&format!("SELECT 1{}", "+1".repeat(1000))), 1000);
        // Unbalanced input never underflows.
        assert_eq!(est(")) , + ("), 2);
    }
}
