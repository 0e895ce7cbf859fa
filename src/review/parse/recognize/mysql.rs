//! MySQL forms sqlparser 0.64 rejects but migrations use (measured on
//! Bytebase's MySQL advisor cases, fixtures/review/mysql/bytebase):
//! - spellings with an equivalent sqlparser knows, rewritten before parsing:
//!   column `CHARSET x` (`CHARACTER SET x`), `LONG VARCHAR` / `LONG VARBINARY`
//!   (`MEDIUMTEXT` / `MEDIUMBLOB`, what MySQL stores them as);
//! - `ALTER TABLE` actions: `ADD [COLUMN] (a int, b int)`, `RENAME {INDEX|KEY} a TO b`,
//!   `ALTER INDEX i [IN]VISIBLE`, `FORCE`, `{DISABLE|ENABLE} KEYS`, partition maintenance (`TRUNCATE|DROP|... PARTITION`, `PARTITION BY`, `REMOVE PARTITIONING`);
//! - `CREATE TABLE ... PARTITION BY ...` and `CREATE {FULLTEXT|SPATIAL} INDEX`.

use super::*;
use sqlparser::tokenizer::Whitespace;

/// `tokens` with MySQL spellings sqlparser lacks replaced by equivalents it
/// parses; `None` when there are none.
pub(super) fn rewrite(tokens: &[TokenWithSpan]) -> Option<Vec<TokenWithSpan>> {
    let next_sig = |from: usize| (from..tokens.len()).find(|&j| significant(&tokens[j]));
    let mut out: Option<Vec<TokenWithSpan>> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let next = next_sig(i + 1);
        let next_tok = next.map(|j| &tokens[j].token);
        let with = |token: Token| TokenWithSpan {
            token,
            span: t.span,
        };
        let replacement: Option<(Vec<TokenWithSpan>, usize)> =
            if is_kw(&t.token, "CHARSET") && next_tok.is_some_and(|n| *n != Token::LParen) {
                // `CHARSET(expr)` is a function; anything else is the option.
                Some((
                    vec![
                        with(Token::make_keyword("CHARACTER")),
                        with(Token::Whitespace(Whitespace::Space)),
                        with(Token::make_keyword("SET")),
                    ],
                    i + 1,
                ))
            } else if is_kw(&t.token, "LONG") {
                let stored = match next_tok {
                    Some(n) if is_kw(n, "VARCHAR") => Some("MEDIUMTEXT"),
                    Some(n) if is_kw(n, "VARBINARY") => Some("MEDIUMBLOB"),
                    _ => None,
                };
                stored.and_then(|s| Some((vec![with(Token::make_keyword(s))], next? + 1)))
            } else {
                None
            };
        match replacement {
            Some((new, resume)) => {
                let v = out.get_or_insert_with(|| tokens[..i].to_vec());
                v.extend(new);
                i = resume;
            }
            None => {
                if let Some(v) = &mut out {
                    v.push(t.clone());
                }
                i += 1;
            }
        }
    }
    out
}

/// `CREATE {FULLTEXT|SPATIAL} INDEX ...` (the kind kept as the index method,
/// `using`) and `CREATE TABLE ... PARTITION BY ...` (parsed without the
/// partitioning, which changes no column, key or name).
pub(super) fn create(tokens: &[TokenWithSpan], parse: ParseFn<'_>) -> Option<StatementKind> {
    let mut t = Toks::new(tokens);
    t.eat_kw("CREATE");
    let kind = ["FULLTEXT", "SPATIAL"].into_iter().find(|k| t.peek_kw(k));
    if let Some(kind) = kind {
        t.next();
        if !t.eat_kw("INDEX") {
            return None;
        }
        let at = tokens.iter().position(|x| is_kw(&x.token, kind))?;
        let mut plain = tokens.to_vec();
        plain.remove(at);
        let parsed = parse(plain).map(|stmt| adapter::adapt(&stmt, "CREATE"));
        let mut index = match parsed {
            Some(StatementKind::CreateIndex(ci)) => ci,
            // Index options sqlparser does not take (`WITH PARSER ngram`): the key list is enough.
            _ => match create_index(&mut t, false)? {
                StatementKind::CreateIndex(ci) => ci,
                _ => return None,
            },
        };
        index.using = Some(kind.to_lowercase());
        return Some(StatementKind::CreateIndex(index));
    }
    t.eat_kw("TEMPORARY");
    if !t.eat_kw("TABLE") {
        return None;
    }
    let cut = partition_clause(tokens)?;
    let head = tokens[..cut].to_vec();
    match parse(head.clone()).map(|stmt| adapter::adapt(&stmt, "CREATE")) {
        Some(kind @ StatementKind::CreateTable(_)) => Some(kind),
        _ => create_table(&head, parse),
    }
}

/// Where a `CREATE TABLE`'s `PARTITION BY` clause starts: the first
/// top-level `PARTITION BY` after the column list. `None` without one, or
/// when a query follows it (`... PARTITION BY ... AS SELECT`: not guessed at).
fn partition_clause(tokens: &[TokenWithSpan]) -> Option<usize> {
    let open = first_paren(tokens)?;
    let close = matching_paren(tokens, open)?;
    let sig: Vec<usize> = (close + 1..tokens.len())
        .filter(|&i| significant(&tokens[i]))
        .collect();
    let mut depth = 0i64;
    let mut start = None;
    for (k, &i) in sig.iter().enumerate() {
        match &tokens[i].token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            x if depth == 0
                && start.is_none()
                && is_kw(x, "PARTITION")
                && sig
                    .get(k + 1)
                    .is_some_and(|&j| is_kw(&tokens[j].token, "BY")) =>
            {
                start = Some(i);
            }
            x if depth == 0 && start.is_some() && (is_kw(x, "SELECT") || is_kw(x, "AS")) => {
                return None;
            }
            _ => {}
        }
    }
    start
}

/// Keywords that start a partition option of `ALTER TABLE` (it runs to the
/// end of the statement, commas included: `TRUNCATE PARTITION p1, p2`).
const PARTITION_VERBS: &[&str] = &[
    "ADD",
    "DROP",
    "DISCARD",
    "IMPORT",
    "TRUNCATE",
    "COALESCE",
    "REORGANIZE",
    "EXCHANGE",
    "ANALYZE",
    "CHECK",
    "OPTIMIZE",
    "REBUILD",
    "REPAIR",
];

/// Where an `ALTER TABLE`'s partition option starts (token index, from
/// `from`): a top-level `PARTITION BY` or `REMOVE PARTITIONING` (which may
/// follow other options without a comma), or an action starting with a
/// partition verb (`TRUNCATE PARTITION ...`).
pub(super) fn partition_start(tokens: &[TokenWithSpan], from: usize) -> Option<usize> {
    let sig: Vec<usize> = (from..tokens.len())
        .filter(|&i| significant(&tokens[i]))
        .collect();
    let word = |k: usize, kw: &str| sig.get(k).is_some_and(|&i| is_kw(&tokens[i].token, kw));
    let mut depth = 0i64;
    let mut action_start = true;
    for (k, &i) in sig.iter().enumerate() {
        let tok = &tokens[i].token;
        let starts = depth == 0
            && ((word(k, "PARTITION") && word(k + 1, "BY"))
                || (word(k, "REMOVE") && word(k + 1, "PARTITIONING"))
                || (action_start
                    && PARTITION_VERBS.iter().any(|v| is_kw(tok, v))
                    && word(k + 1, "PARTITION")));
        if starts {
            return Some(i);
        }
        action_start = false;
        match tok {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => action_start = true,
            _ => {}
        }
    }
    None
}

/// A partition option (from [`partition_start`]) as an `Other` action
/// described by its leading words (`TRUNCATE PARTITION`, `PARTITION BY`,
/// `REMOVE PARTITIONING`). The names after it are checked, not kept.
pub(super) fn partition_action(action: &[TokenWithSpan]) -> Option<AlterAction> {
    let mut t = Toks::new(action);
    let description = t.head_words(2);
    t.next();
    t.next();
    let verb = description.split(' ').next().unwrap_or_default();
    let ok = match verb {
        "REMOVE" => t.at_end(),
        "PARTITION" => {
            t.eat_kw("LINEAR");
            ["HASH", "KEY", "RANGE", "LIST"]
                .iter()
                .any(|k| t.peek_kw(k))
        }
        // `(definitions)` follow ADD; INTO / WITH TABLE follow REORGANIZE / EXCHANGE.
        "ADD" => t.peek() == Some(&Token::LParen),
        "COALESCE" => matches!(t.next().map(|x| &x.token), Some(Token::Number(..))) && t.at_end(),
        "REORGANIZE" | "EXCHANGE" => t.ident().is_some(),
        // `{name [, name] ... | ALL} [TABLESPACE]`
        _ => {
            if !t.eat_kw("ALL") {
                loop {
                    t.ident()?;
                    if !t.eat(&Token::Comma) {
                        break;
                    }
                }
            }
            t.eat_kw("TABLESPACE");
            t.at_end()
        }
    };
    ok.then_some(AlterAction::Other { description })
}

/// A MySQL `ALTER TABLE` action sqlparser rejects: `ADD [COLUMN] (defs)`,
/// `RENAME {INDEX|KEY} a TO b`, `ALTER INDEX i [IN]VISIBLE`, `FORCE` and
/// other keyword-only actions, or a table option. `header` is `ALTER TABLE
/// name` (the statement's tokens before the first action).
pub(super) fn alter_action(
    header: &[TokenWithSpan],
    action: &[TokenWithSpan],
    parse: ParseFn<'_>,
) -> Option<Vec<AlterAction>> {
    let mut t = Toks::new(action);
    if t.eat_kw("ADD") {
        t.eat_kw("COLUMN");
        if t.peek() == Some(&Token::LParen) {
            let inner = t.parens()?;
            let defs = t.slice(inner);
            if !t.at_end() {
                return None;
            }
            return split_commas(defs)
                .into_iter()
                .map(|def| add_column(header, def, parse))
                .collect();
        }
        return None;
    }
    if t.eat_kw("RENAME") && (t.eat_kw("INDEX") || t.eat_kw("KEY")) {
        let from = t.ident()?;
        if !t.eat_kw("TO") {
            return None;
        }
        let to = t.ident()?;
        // MySQL keys and indexes share one namespace per table: the schema
        // renames whichever carries the name.
        return t
            .at_end()
            .then(|| vec![AlterAction::RenameConstraint { from, to }]);
    }
    let mut t = Toks::new(action);
    if t.eat_kw("ALTER") && (t.eat_kw("INDEX") || t.eat_kw("KEY")) {
        t.ident()?;
        let visibility = t.next().and_then(|x| word_upper(&x.token))?;
        let known = matches!(visibility.as_str(), "VISIBLE" | "INVISIBLE");
        return (known && t.at_end()).then(|| {
            vec![AlterAction::Other {
                description: format!("ALTER INDEX {visibility}"),
            }]
        });
    }
    // Actions that change no column, key or name.
    const KEYWORD_ONLY: &[&[&str]] = &[
        &["FORCE"],
        &["DISABLE", "KEYS"],
        &["ENABLE", "KEYS"],
        &["DISCARD", "TABLESPACE"],
        &["IMPORT", "TABLESPACE"],
        &["WITH", "VALIDATION"],
        &["WITHOUT", "VALIDATION"],
    ];
    let mut t = Toks::new(action);
    if let Some(words) = KEYWORD_ONLY.iter().find(|w| t.eat_kws(w)) {
        return t.at_end().then(|| {
            vec![AlterAction::Other {
                description: words.join(" "),
            }]
        });
    }
    mysql_table_option(action).map(|a| vec![a])
}

/// One column of `ADD COLUMN (a int, b int)`, parsed as `ADD COLUMN a int`.
fn add_column(
    header: &[TokenWithSpan],
    def: &[&TokenWithSpan],
    parse: ParseFn<'_>,
) -> Option<AlterAction> {
    let first = def.first()?;
    let mut one: Vec<TokenWithSpan> = header.to_vec();
    let kw = |s: &str| TokenWithSpan {
        token: Token::make_keyword(s),
        span: first.span,
    };
    let space = || TokenWithSpan {
        token: Token::Whitespace(Whitespace::Space),
        span: first.span,
    };
    one.extend([kw("ADD"), space(), kw("COLUMN"), space()]);
    for (j, tok) in def.iter().enumerate() {
        if j > 0 {
            one.push(space());
        }
        one.push((*tok).clone());
    }
    match adapter::adapt(&parse(one)?, "ALTER") {
        StatementKind::AlterTable(mut a) if a.actions.len() == 1 => a.actions.pop(),
        _ => None,
    }
}
