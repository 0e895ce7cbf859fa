//! A PostgreSQL tokenizer that produces exactly sqlparser's tokens, faster.
//!
//! sqlparser's tokenizer reads a `Peekable<Chars>`, grows every word's
//! `String` a character at a time and finds keywords by a binary search; it
//! was over a third of a review's instructions. This one walks bytes, slices
//! words and literals out of the text in one allocation and finds keywords
//! in a hash table.
//!
//! It only covers what migrations are made of: words, quoted identifiers,
//! `'…'` strings, dollar quotes, plain numbers, comments and the common
//! operators. At anything else (an `E'…'` string, an exponent, a `#>`
//! operator, a `COPY` whose data follows, an unterminated string: every
//! error) it stops at the start of the current statement and hands the rest
//! of the text to sqlparser's own tokenizer, which then sees exactly the
//! state it would have reached itself (nothing carries over a `;`). So the
//! output is sqlparser's by construction where this module is unsure, and
//! `pg_lexer_tests.rs` checks that it is identical, spans included,
//! everywhere else: every `.sql` of the corpora and fixtures, and generated
//! input.
//!
//! What sqlparser 0.64's PostgreSQL dialect does and this mirrors:
//! identifiers start with a letter, `_` or any non-ASCII character and go on
//! with those, digits and `$`; `''` and `""` escape their quote; block
//! comments nest; a line comment stops before `\r` or `\n`; operators
//! followed by operator characters become one custom operator. Redo the
//! comparison test on a sqlparser upgrade.

use sqlparser::ast::DollarQuotedString;
use sqlparser::keywords::{ALL_KEYWORDS, ALL_KEYWORDS_INDEX, Keyword};
use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, Whitespace, Word};
use std::sync::OnceLock;

/// How far the fast path got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lexed {
    /// Every token of the text was emitted.
    Done,
    /// The tokens before byte `byte` (a statement start, at `loc` in the
    /// text's coordinates) were emitted; sqlparser must tokenize the rest.
    HandOver { byte: usize, loc: Location },
}

/// Whether spaces and tabs come out as tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blanks {
    /// Every token, as sqlparser gives them.
    Keep,
    /// Spaces and tabs are skipped (the splitter drops them anyway, and they
    /// are most of a file's tokens); where sqlparser takes over, it still
    /// gives them.
    Skip,
}

/// Emits the tokens of `text` (locations relative to the text, starting at
/// 1:1) a statement at a time, up to the statement it hands over, if any:
/// only the current statement's tokens are held, never the file's.
pub(crate) fn lex_each(text: &str, blanks: Blanks, emit: &mut dyn FnMut(TokenWithSpan)) -> Lexed {
    let mut lx = Lexer {
        text,
        s: text.as_bytes(),
        i: 0,
        line: 1,
        col: 1,
    };
    let mut pending: Vec<TokenWithSpan> = Vec::new();
    let mut stmt = (0, lx.loc());
    loop {
        if blanks == Blanks::Skip {
            let run = lx.s[lx.i..]
                .iter()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
            lx.ascii(run);
        }
        if lx.i >= lx.s.len() {
            pending.drain(..).for_each(&mut *emit);
            return Lexed::Done;
        }
        let start = lx.loc();
        let Some(token) = lx.next_token() else {
            return Lexed::HandOver {
                byte: stmt.0,
                loc: stmt.1,
            };
        };
        let semicolon = matches!(token, Token::SemiColon);
        pending.push(TokenWithSpan::new(token, Span::new(start, lx.loc())));
        if semicolon {
            pending.drain(..).for_each(&mut *emit);
            stmt = (lx.i, lx.loc());
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    s: &'a [u8],
    /// Byte offset of the next character (always a character boundary).
    i: usize,
    line: u64,
    col: u64,
}

/// Characters that continue an operator into a custom one (PostgreSQL's
/// `is_custom_operator_part`).
fn is_operator_part(b: u8) -> bool {
    matches!(
        b,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'%'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
    )
}

/// Characters of an unquoted identifier after its first.
fn is_word_part(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Characters (not bytes) in `bytes`.
fn chars_in(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| (b & 0xc0) != 0x80).count() as u64
}

impl Lexer<'_> {
    fn loc(&self) -> Location {
        Location::new(self.line, self.col)
    }

    fn at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    /// Moves over `n` ASCII characters that are not newlines.
    fn ascii(&mut self, n: usize) {
        self.i += n;
        self.col += n as u64;
    }

    /// Moves to byte `end`, counting lines and characters in between.
    fn over(&mut self, end: usize) {
        let seg = &self.s[self.i..end];
        match seg.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                self.line += seg.iter().filter(|&&b| b == b'\n').count() as u64;
                self.col = 1 + chars_in(&seg[last + 1..]);
            }
            None => self.col += chars_in(seg),
        }
        self.i = end;
    }

    /// `n` ASCII characters then `token`.
    fn take(&mut self, n: usize, token: Token) -> Option<Token> {
        self.ascii(n);
        Some(token)
    }

    /// The next token; `None` where sqlparser must take over (or at the end).
    fn next_token(&mut self) -> Option<Token> {
        let b = self.at(0)?;
        match b {
            b' ' => self.take(1, Token::Whitespace(Whitespace::Space)),
            b'\t' => self.take(1, Token::Whitespace(Whitespace::Tab)),
            b'\n' | b'\r' => {
                let end = self.i
                    + if b == b'\r' && self.at(1) == Some(b'\n') {
                        2
                    } else {
                        1
                    };
                // A lone `\r` is one more column, `\r\n` one more line.
                self.over(end);
                Some(Token::Whitespace(Whitespace::Newline))
            }
            b'\'' => self.quoted(b'\'').map(Token::SingleQuotedString),
            b'"' => self.quoted(b'"').map(|value| {
                Token::Word(Word {
                    value,
                    quote_style: Some('"'),
                    keyword: Keyword::NoKeyword,
                })
            }),
            b'0'..=b'9' => self.number(),
            b'.' => match self.at(1) {
                Some(b'0'..=b'9' | b'_') => None,
                _ => self.take(1, Token::Period),
            },
            b'(' => self.take(1, Token::LParen),
            b')' => self.take(1, Token::RParen),
            b',' => self.take(1, Token::Comma),
            b';' => self.take(1, Token::SemiColon),
            b'[' => self.take(1, Token::LBracket),
            b']' => self.take(1, Token::RBracket),
            b'{' => self.take(1, Token::LBrace),
            b'}' => self.take(1, Token::RBrace),
            b'\\' => self.take(1, Token::Backslash),
            b'+' => self.take(1, Token::Plus),
            b'*' => self.take(1, Token::Mul),
            b'-' => self.minus(),
            b'/' => match self.at(1) {
                Some(b'*') => self.block_comment(),
                _ => self.take(1, Token::Div),
            },
            b'=' => match self.at(1) {
                Some(b'>') => self.take(2, Token::RArrow),
                Some(b'=') => self.take(2, Token::DoubleEq),
                _ => self.take(1, Token::Eq),
            },
            b':' => match self.at(1) {
                Some(b':') => self.take(2, Token::DoubleColon),
                Some(b'=') => self.take(2, Token::Assignment),
                _ => self.take(1, Token::Colon),
            },
            b'<' => self.less(),
            b'>' => {
                self.ascii(1);
                match self.at(0) {
                    Some(b'=') => self.binop(1, ">=", Token::GtEq),
                    Some(b'>') => self.binop(1, ">>", Token::ShiftRight),
                    Some(b'^') => self.binop(1, ">^", Token::RightAngleBracketCaret),
                    _ => self.binop(0, ">", Token::Gt),
                }
            }
            b'!' => match self.at(1) {
                Some(b'=') => self.take(2, Token::Neq),
                Some(b'!') => self.take(2, Token::DoubleExclamationMark),
                Some(b'~') => None,
                _ => self.take(1, Token::ExclamationMark),
            },
            b'|' => match self.at(1) {
                Some(b'/') => {
                    self.ascii(1);
                    self.binop(1, "|/", Token::PGSquareRoot)
                }
                Some(b'|') => {
                    self.ascii(2);
                    match self.at(0) {
                        Some(b'/') => self.binop(1, "||/", Token::PGCubeRoot),
                        _ => self.binop(0, "||", Token::StringConcat),
                    }
                }
                Some(b'&' | b'>') => None,
                _ => {
                    self.ascii(1);
                    self.binop(0, "|", Token::Pipe)
                }
            },
            b'$' => self.dollar(),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | 0x80.. => self.word(b),
            // `&`, `^`, `#`, `@`, `?`, `~`, `%`, `` ` ``, control characters:
            // rare in migrations, sqlparser's.
            _ => None,
        }
    }

    /// `'…'` or `"…"` with the quote doubled inside; `None` if unterminated.
    fn quoted(&mut self, q: u8) -> Option<String> {
        let body = self.i + 1;
        let mut k = body;
        let mut doubled = false;
        let end = loop {
            let at = k + self.s.get(k..)?.iter().position(|&b| b == q)?;
            if self.s.get(at + 1) == Some(&q) {
                doubled = true;
                k = at + 2;
            } else {
                break at;
            }
        };
        let raw = &self.text[body..end];
        let value = if doubled {
            let quote = char::from(q);
            let pair: String = [quote, quote].into_iter().collect();
            raw.replace(&pair, &quote.to_string())
        } else {
            raw.to_string()
        };
        self.over(end + 1);
        Some(value)
    }

    /// Digits with an optional fraction; anything fancier (underscores,
    /// `0x…`, exponents, a trailing `L`) is sqlparser's.
    fn number(&mut self) -> Option<Token> {
        let digits = |from: usize| {
            from + self.s[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let mut j = digits(self.i);
        let next = self.s.get(j).copied();
        if next == Some(b'_')
            || (j == self.i + 1
                && self.s[self.i] == b'0'
                && matches!(next, Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B')))
        {
            return None;
        }
        if next == Some(b'.') {
            j = digits(j + 1);
        }
        if matches!(self.s.get(j), Some(b'_' | b'e' | b'E' | b'L')) {
            return None;
        }
        let n = self.text[self.i..j].to_string();
        self.ascii(j - self.i);
        Some(Token::Number(n, false))
    }

    /// `-`, `--` comments, `->`, `->>`.
    fn minus(&mut self) -> Option<Token> {
        match self.at(1) {
            Some(b'-') => {
                let body = self.i + 2;
                let end = body
                    + self.s[body..]
                        .iter()
                        .position(|&b| b == b'\n' || b == b'\r')
                        .unwrap_or(self.s.len() - body);
                let comment = self.text[body..end].to_string();
                self.over(end);
                Some(Token::Whitespace(Whitespace::SingleLineComment {
                    comment,
                    prefix: "--".to_string(),
                }))
            }
            Some(b'>') => {
                self.ascii(2);
                match self.at(0) {
                    Some(b'>') => self.binop(1, "->>", Token::LongArrow),
                    _ => self.binop(0, "->", Token::Arrow),
                }
            }
            _ => {
                self.ascii(1);
                self.binop(0, "-", Token::Minus)
            }
        }
    }

    /// `<` and the operators it starts (PostgreSQL's geometric ones included).
    fn less(&mut self) -> Option<Token> {
        self.ascii(1);
        match self.at(0) {
            Some(b'=') => {
                self.ascii(1);
                match self.at(0) {
                    Some(b'>') => self.binop(1, "<=>", Token::Spaceship),
                    Some(b'+' | b'-') => Some(Token::LtEq),
                    _ => self.binop(0, "<=", Token::LtEq),
                }
            }
            Some(b'|') => self.binop(1, "<<|", Token::ShiftLeftVerticalBar),
            Some(b'>') => self.binop(1, "<>", Token::Neq),
            Some(b'<') => {
                self.ascii(1);
                match self.at(0) {
                    Some(b'|') => self.binop(1, "<<|", Token::ShiftLeftVerticalBar),
                    _ => self.binop(0, "<<", Token::ShiftLeft),
                }
            }
            Some(b'+') => Some(Token::Lt),
            Some(b'-') => {
                if self.at(1) == Some(b'>') {
                    self.binop(2, "<->", Token::TwoWayArrow)
                } else {
                    Some(Token::Lt)
                }
            }
            Some(b'^') => self.binop(1, "<^", Token::LeftAngleBracketCaret),
            Some(b'@') => self.binop(1, "<@", Token::ArrowAt),
            _ => self.binop(0, "<", Token::Lt),
        }
    }

    /// After `skip` more characters of the operator `prefix`: operator
    /// characters that follow make it a custom operator.
    fn binop(&mut self, skip: usize, prefix: &str, default: Token) -> Option<Token> {
        self.ascii(skip);
        let more = self.s[self.i..]
            .iter()
            .take_while(|&&b| is_operator_part(b))
            .count();
        if more == 0 {
            return Some(default);
        }
        let mut op = String::with_capacity(prefix.len() + more);
        op.push_str(prefix);
        op.push_str(&self.text[self.i..self.i + more]);
        self.ascii(more);
        Some(Token::CustomBinaryOperator(op))
    }

    /// `/* … */`, nesting; `None` if unterminated.
    fn block_comment(&mut self) -> Option<Token> {
        let body = self.i + 2;
        let mut k = body;
        let mut depth = 1u32;
        let end = loop {
            let b = *self.s.get(k)?;
            let next = self.s.get(k + 1).copied();
            if b == b'/' && next == Some(b'*') {
                depth += 1;
                k += 2;
            } else if b == b'*' && next == Some(b'/') {
                depth -= 1;
                if depth == 0 {
                    break k;
                }
                k += 2;
            } else {
                k += 1;
            }
        };
        let comment = self.text[body..end].to_string();
        self.over(end + 2);
        Some(Token::Whitespace(Whitespace::MultiLineComment(comment)))
    }

    /// `$$…$$`, `$tag$…$tag$` or a `$n` placeholder.
    fn dollar(&mut self) -> Option<Token> {
        let tag_start = self.i + 1;
        let tag_len = self.s[tag_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        let after = tag_start + tag_len;
        match self.s.get(after) {
            // sqlparser's tag is any Unicode alphanumeric: its own.
            Some(b) if *b >= 0x80 => None,
            Some(b'$') => {
                let tag = &self.text[tag_start..after];
                let body = after + 1;
                let close = &self.s[self.i..=after];
                let end = body + find(&self.s[body..], close)?;
                let value = self.text[body..end].to_string();
                self.over(end + close.len());
                Some(Token::DollarQuotedString(DollarQuotedString {
                    value,
                    tag: (!tag.is_empty()).then(|| tag.to_string()),
                }))
            }
            _ => {
                let p = self.text[self.i..after].to_string();
                self.ascii(after - self.i);
                Some(Token::Placeholder(p))
            }
        }
    }

    /// An unquoted identifier or keyword. Letters that prefix a string
    /// (`E'…'`, `B'…'`, `X'…'`, `N'…'`, `U&'…'`) are sqlparser's.
    fn word(&mut self, first: u8) -> Option<Token> {
        let next = self.at(1);
        let prefixes = match first {
            b'b' | b'B' => matches!(next, Some(b'\'' | b'"')),
            b'e' | b'E' | b'x' | b'X' | b'n' | b'N' => next == Some(b'\''),
            b'u' | b'U' => next == Some(b'&'),
            _ => false,
        };
        if prefixes {
            return None;
        }
        let start = self.i;
        let len = 1 + self.s[start + 1..]
            .iter()
            .take_while(|&&b| is_word_part(b))
            .count();
        let bytes = &self.s[start..start + len];
        let ascii = bytes.is_ascii();
        let value = self.text[start..start + len].to_string();
        if ascii {
            self.ascii(len);
        } else {
            self.over(start + len);
        }
        let keyword = if ascii {
            keyword(bytes)
        } else {
            Keyword::NoKeyword
        };
        // `COPY … FROM stdin` data follows its `;`: sqlparser's.
        if keyword == Keyword::COPY {
            return None;
        }
        Some(Token::Word(Word {
            value,
            quote_style: None,
            keyword,
        }))
    }
}

/// First position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(p) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + p;
        if hay.get(at + 1..at + 1 + rest.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// sqlparser's keywords by their ASCII-uppercased spelling, in an
/// open-addressing table (`ALL_KEYWORDS` index + 1; 0 is empty).
struct KeywordTable {
    slots: Vec<u16>,
    longest: usize,
}

const SLOTS: usize = 4096;

fn hash(upper: &[u8]) -> usize {
    // FNV-1a: a few instructions a byte, good enough spread for ~900 words.
    let mut h: u32 = 0x811c_9dc5;
    for &b in upper {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize & (SLOTS - 1)
}

fn table() -> &'static KeywordTable {
    static TABLE: OnceLock<KeywordTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut slots = vec![0u16; SLOTS];
        for (n, kw) in ALL_KEYWORDS.iter().enumerate() {
            let mut h = hash(kw.as_bytes());
            while slots[h] != 0 {
                h = (h + 1) & (SLOTS - 1);
            }
            // At most a few thousand keywords: fits in u16.
            slots[h] = u16::try_from(n + 1).unwrap_or(0);
        }
        KeywordTable {
            slots,
            longest: ALL_KEYWORDS.iter().map(|k| k.len()).max().unwrap_or(0),
        }
    })
}

/// The keyword an unquoted ASCII word is (case-insensitive), as sqlparser's
/// `keyword_lookup` finds it.
pub(crate) fn keyword(word: &[u8]) -> Keyword {
    let t = table();
    if word.len() > t.longest {
        return Keyword::NoKeyword;
    }
    let mut buf = [0u8; 64];
    let Some(upper) = buf.get_mut(..word.len()) else {
        return Keyword::NoKeyword;
    };
    for (u, b) in upper.iter_mut().zip(word) {
        *u = b.to_ascii_uppercase();
    }
    let mut h = hash(upper);
    loop {
        let slot = t.slots[h];
        if slot == 0 {
            return Keyword::NoKeyword;
        }
        let n = usize::from(slot - 1);
        if ALL_KEYWORDS[n].as_bytes() == upper {
            return ALL_KEYWORDS_INDEX[n];
        }
        h = (h + 1) & (SLOTS - 1);
    }
}

#[cfg(test)]
#[path = "pg_lexer_tests.rs"]
mod tests;
