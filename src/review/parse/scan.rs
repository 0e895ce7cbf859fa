//! A small byte-level lexer that finds top-level `;`s without building tokens.
//!
//! sqlparser's tokenizer is the authority for splitting; this scanner only
//! (a) picks cut points so huge files are tokenized in bounded windows (memory
//! stays flat) and (b) finds where a statement the tokenizer rejected ends, so
//! the statements after it are still reviewed. It mirrors the tokenizer's
//! quoting and comment rules for each dialect; all delimiters are ASCII, so
//! scanning bytes never splits a UTF-8 character.

use crate::review::model::Dialect;

/// Byte index of the next `;` outside strings, quoted identifiers, comments
/// and dollar quotes, starting at `from` (assumed to be at top level).
/// `None` when the text ends first (or inside an unterminated construct).
pub(crate) fn next_semicolon(text: &str, from: usize, dialect: Dialect) -> Option<usize> {
    next_delimiter(text, from, dialect, b";")
}

/// Like [`next_semicolon`] for any statement delimiter (MySQL `DELIMITER //`).
pub(crate) fn next_delimiter(
    text: &str,
    from: usize,
    dialect: Dialect,
    delim: &[u8],
) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        if !delim.is_empty() && b[i..].starts_with(delim) {
            return Some(i);
        }
        match c {
            b'\'' => {
                let backslash = match dialect {
                    Dialect::Mysql => true,
                    // E'...' strings take backslash escapes in PostgreSQL.
                    Dialect::Postgres => {
                        i > 0
                            && matches!(b[i - 1], b'e' | b'E')
                            && (i < 2 || !is_ident_byte(b[i - 2]))
                    }
                };
                i = skip_quoted(b, i, b'\'', backslash)?;
            }
            b'"' => i = skip_quoted(b, i, b'"', dialect == Dialect::Mysql)?,
            b'`' if dialect == Dialect::Mysql => i = skip_quoted(b, i, b'`', false)?,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                // MySQL only treats `--` as a comment when whitespace follows.
                if dialect == Dialect::Mysql
                    && b.get(i + 2).is_some_and(|x| !x.is_ascii_whitespace())
                {
                    i += 2;
                } else {
                    i = skip_line(b, i);
                }
            }
            b'#' if dialect == Dialect::Mysql => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i, dialect == Dialect::Postgres)?;
            }
            b'$' if dialect == Dialect::Postgres && (i == 0 || !is_ident_byte(b[i - 1])) => {
                i = skip_dollar(text, i)?;
            }
            _ if is_ident_byte(c) => {
                // Skip whole words so `$` inside identifiers (`a$b`) stays a word char.
                while i < b.len() && (is_ident_byte(b[i]) || b[i] == b'$') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Where to end a tokenizer window that starts at `from`: just after the first
/// top-level `;` at or beyond `from + min_len` (and after the rest of its line
/// when that is only blanks or a `--` comment, so trailing comments stay with
/// their statement). `text.len()` when there is no such `;`.
pub(crate) fn window_end(text: &str, from: usize, min_len: usize, dialect: Dialect) -> usize {
    let target = from.saturating_add(min_len);
    let mut pos = from;
    loop {
        let Some(semi) = next_semicolon(text, pos, dialect) else {
            return text.len();
        };
        if semi >= target {
            return end_of_line_after(text, semi + 1);
        }
        pos = semi + 1;
    }
}

/// `at`, or the start of the next line when the rest of the line from `at` is
/// blank or a `--` comment without quotes.
fn end_of_line_after(text: &str, at: usize) -> usize {
    let rest = &text[at..];
    let line_end = rest.find('\n').map(|n| at + n + 1).unwrap_or(text.len());
    let line = text[at..line_end].trim_start();
    if line.is_empty() || (line.starts_with("--") && !line.contains(['\'', '"', '$', '/'])) {
        line_end
    } else {
        at
    }
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Index just past the closing quote of the quoted run starting at `start`.
fn skip_quoted(b: &[u8], start: usize, quote: u8, backslash: bool) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        if backslash && c == b'\\' {
            i += 2;
            continue;
        }
        if c == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

fn skip_line(b: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

fn skip_block_comment(b: &[u8], start: usize, nested: bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            if depth == 0 || nested {
                depth += 1;
            }
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth = depth.saturating_sub(1);
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Skips `$tag$ ... $tag$` starting at `start` (a `$`). A `$` that does not
/// open a dollar quote (`$1`) is skipped alone.
fn skip_dollar(text: &str, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut j = start + 1;
    if j < b.len() && b[j].is_ascii_digit() {
        return Some(j);
    }
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
        j += 1;
    }
    if b.get(j) != Some(&b'$') {
        return Some(start + 1);
    }
    let tag = &text[start..=j];
    let body = j + 1;
    text[body..].find(tag).map(|n| body + n + tag.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn semis(text: &str, d: Dialect) -> Vec<usize> {
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some(s) = next_semicolon(text, pos, d) {
            out.push(s);
            pos = s + 1;
        }
        out
    }

    #[test]
    fn skips_strings_comments_and_dollar_quotes() {
        let t = "a ';' \"x;\" -- c;\n/* ; /* ; */ ; */ $f$ ; $f$ $$;$$ b;";
        assert_eq!(semis(t, Dialect::Postgres), vec![t.len() - 1]);
    }

    #[test]
    fn postgres_escape_strings_take_backslashes() {
        let t = r"select E'it\'s;' ; x";
        assert_eq!(semis(t, Dialect::Postgres), vec![17]);
    }

    #[test]
    fn mysql_quotes_and_comments() {
        let t = "a 'x\\';' `b;` # c;\n--x; y";
        assert_eq!(semis(t, Dialect::Mysql), vec![t.find("x; y").unwrap() + 1]);
    }

    #[test]
    fn unterminated_constructs_end_the_scan() {
        assert_eq!(next_semicolon("a 'b; c", 0, Dialect::Postgres), None);
        assert_eq!(next_semicolon("a $$ b; c", 0, Dialect::Postgres), None);
        assert_eq!(next_semicolon("a /* b; c", 0, Dialect::Postgres), None);
    }

    #[test]
    fn custom_delimiters() {
        let t = "BEGIN SELECT ';//'; END // next";
        assert_eq!(next_delimiter(t, 0, Dialect::Mysql, b"//"), Some(24));
    }

    #[test]
    fn positional_params_are_not_dollar_quotes() {
        assert_eq!(
            next_semicolon("select $1; x", 0, Dialect::Postgres),
            Some(9)
        );
        assert_eq!(
            next_semicolon("select a$b; x", 0, Dialect::Postgres),
            Some(10)
        );
    }

    #[test]
    fn window_end_cuts_after_the_line_of_a_semicolon() {
        let t = "a;\nbb; -- note\ncc;\n";
        assert_eq!(
            window_end(t, 0, 3, Dialect::Postgres),
            t.find("cc").unwrap()
        );
        assert_eq!(window_end(t, 0, 1000, Dialect::Postgres), t.len());
    }
}
