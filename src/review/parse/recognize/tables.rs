//! Token-level recognizers for table DDL sqlparser rejects: CREATE TABLE and
//! INDEX forms, ALTER TABLE actions.

use super::*;

/// `CREATE ...`: repaired `CREATE TABLE`, token-level `CREATE INDEX`, and
/// other objects by kind and name.
pub(super) fn create(
    tokens: &[TokenWithSpan],
    t: &mut Toks<'_>,
    parse: ParseFn<'_>,
) -> Option<StatementKind> {
    t.eat_kw("CREATE");
    let or_replace = t.eat_kws(&["OR", "REPLACE"]);
    for kw in [
        "GLOBAL",
        "LOCAL",
        "TEMPORARY",
        "TEMP",
        "UNLOGGED",
        "TRUSTED",
        "PROCEDURAL",
    ] {
        t.eat_kw(kw);
    }
    // MySQL `DEFINER = user@host`, `ALGORITHM = x`, `SQL SECURITY x` before the kind.
    if t.peek_kw("DEFINER") || t.peek_kw("ALGORITHM") || t.peek_kw("SQL") {
        let mut skipped = 0;
        while skipped < 16 && !KINDS.iter().any(|(words, _)| t.peek_kw(words[0])) {
            t.next()?;
            skipped += 1;
        }
    }
    let unique = t.eat_kw("UNIQUE");
    let object = object_kind(t)?;
    match object {
        ObjectKind::Table if !unique => create_table(tokens, parse),
        ObjectKind::Index => create_index(t, unique),
        _ if unique => None,
        ObjectKind::Table => None,
        object => {
            let if_not_exists = t.eat_kws(&["IF", "NOT", "EXISTS"]);
            let name = if t.peek() == Some(&Token::LParen) {
                // `CREATE CAST (a AS b) ...`: no name.
                None
            } else {
                Some(t.object_name()?)
            };
            // For triggers, policies, rules and statistics: the table.
            let table = match &object {
                ObjectKind::Trigger | ObjectKind::Policy => find_after(t, "ON"),
                ObjectKind::Other(s) if s == "RULE" => find_after(t, "TO"),
                ObjectKind::Statistics => find_after(t, "FROM"),
                _ => None,
            };
            Some(StatementKind::CreateOther(CreateOther {
                object,
                name,
                or_replace,
                if_not_exists,
                table,
            }))
        }
    }
}

/// The object name after the first top-level `kw` from here on.
pub(super) fn find_after(t: &mut Toks<'_>, kw: &str) -> Option<ObjectName> {
    let mut depth = 0i64;
    while let Some(tok) = t.next() {
        match &tok.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            x if depth == 0 && is_kw(x, kw) => return t.object_name(),
            _ => {}
        }
    }
    None
}

/// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON [ONLY] table
/// [USING method] (keys) ...` at token level.
pub(super) fn create_index(t: &mut Toks<'_>, unique: bool) -> Option<StatementKind> {
    let concurrently = t.eat_kw("CONCURRENTLY");
    let if_not_exists = t.eat_kws(&["IF", "NOT", "EXISTS"]);
    let name = if t.peek_kw("ON") {
        None
    } else {
        Some(t.ident()?)
    };
    if !t.eat_kw("ON") {
        return None;
    }
    t.eat_kw("ONLY");
    let table = t.object_name()?;
    let using = if t.eat_kw("USING") {
        Some(t.ident()?.value.to_lowercase())
    } else {
        None
    };
    let keys = t.parens()?;
    let columns = split_commas(t.slice(keys))
        .into_iter()
        .map(|key| {
            let column = match key {
                [one] => match &one.token {
                    Token::Word(w) => Some(Ident {
                        value: w.value.clone(),
                        quoted: w.quote_style.is_some(),
                        span: crate::review::parse::span::span_of(one.span),
                    }),
                    _ => None,
                },
                _ => None,
            };
            IndexColumn {
                column,
                expr: key
                    .iter()
                    .map(|x| x.token.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            }
        })
        .collect();
    let partial = t.has_top_level_kw("WHERE");
    Some(StatementKind::CreateIndex(CreateIndex {
        name,
        table,
        columns,
        unique,
        concurrently,
        if_not_exists,
        using,
        partial,
    }))
}

/// Splits tokens at top-level commas.
pub(super) fn split_commas<'a, 'b>(toks: &'b [&'a TokenWithSpan]) -> Vec<&'b [&'a TokenWithSpan]> {
    let mut out = Vec::new();
    let mut depth = 0i64;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket => depth -= 1,
            Token::Comma if depth == 0 => {
                out.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&toks[start..]);
    out
}

/// Indices (into the full token list) of top-level commas between `from` and `to`.
pub(super) fn top_level_commas(tokens: &[TokenWithSpan], from: usize, to: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut depth = 0i64;
    for (i, t) in tokens.iter().enumerate().take(to).skip(from) {
        match t.token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket => depth -= 1,
            Token::Comma if depth == 0 => out.push(i),
            _ => {}
        }
    }
    out
}

/// `[CONSTRAINT name] NOT NULL col [NO INHERIT] [NOT VALID]` (PostgreSQL 18).
pub(super) fn not_null_constraint(
    toks: &[TokenWithSpan],
    add_keyword: bool,
) -> Option<TableConstraint> {
    let mut t = Toks::new(toks);
    if add_keyword && !t.eat_kw("ADD") {
        return None;
    }
    let name = if t.eat_kw("CONSTRAINT") {
        Some(t.ident()?)
    } else {
        None
    };
    if !t.eat_kws(&["NOT", "NULL"]) {
        return None;
    }
    let column = t.ident()?;
    t.eat_kws(&["NO", "INHERIT"]);
    let not_valid = t.eat_kws(&["NOT", "VALID"]);
    let first = toks.iter().find(|x| significant(x))?;
    let last = toks.iter().rev().find(|x| significant(x))?;
    let span = crate::review::parse::span::span_of(sqlparser::tokenizer::Span::new(
        first.span.start,
        last.span.end,
    ));
    t.at_end().then_some(TableConstraint {
        name,
        kind: ConstraintKind::NotNull { column },
        not_valid,
        span,
    })
}

/// Index of the first top-level `(` in `tokens`.
pub(super) fn first_paren(tokens: &[TokenWithSpan]) -> Option<usize> {
    tokens.iter().position(|t| t.token == Token::LParen)
}

/// Index of the `)` matching the `(` at `open`.
pub(super) fn matching_paren(tokens: &[TokenWithSpan], open: usize) -> Option<usize> {
    let mut depth = 0i64;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `CREATE TABLE` with PostgreSQL 18 `NOT NULL` table constraints: parse the
/// rest with sqlparser and add the constraints back. Also MySQL's quoted
/// `ENGINE = 'InnoDB'`, which sqlparser only takes unquoted.
pub(super) fn create_table(tokens: &[TokenWithSpan], parse: ParseFn<'_>) -> Option<StatementKind> {
    let open = first_paren(tokens)?;
    let close_at = matching_paren(tokens, open)?;
    if let Some(unquoted) = unquote_engine(tokens, close_at) {
        return match adapter::adapt(&parse(unquoted)?, "CREATE") {
            kind @ StatementKind::CreateTable(_) => Some(kind),
            _ => None,
        };
    }
    let close = matching_paren(tokens, open)?;
    let commas = top_level_commas(tokens, open + 1, close);
    // Element boundaries: (start, end) exclusive, in the full token list.
    let mut bounds = Vec::with_capacity(commas.len() + 1);
    let mut s = open + 1;
    for &c in &commas {
        bounds.push((s, c));
        s = c + 1;
    }
    bounds.push((s, close));
    let mut extra = Vec::new();
    let mut kept: Vec<std::borrow::Cow<'_, [TokenWithSpan]>> = Vec::new();
    let (mut changed, mut like) = (false, false);
    let mut virtual_columns: Vec<String> = Vec::new();
    for &(s, e) in &bounds {
        let element = &tokens[s..e];
        if let Some(c) = not_null_constraint(element, false) {
            extra.push(c);
            changed = true;
        } else if element
            .iter()
            .find(|t| significant(t))
            .is_some_and(|t| is_kw(&t.token, "LIKE"))
        {
            // `LIKE other [INCLUDING ...]`: the columns come from elsewhere.
            like = true;
            changed = true;
        } else if let (Some(cleaned), made_virtual) =
            repair_column(element, &[("COMPRESSION", true)])
        {
            if made_virtual
                && let Some(Token::Word(w)) =
                    element.iter().find(|t| significant(t)).map(|t| &t.token)
            {
                virtual_columns.push(w.value.clone());
            }
            kept.push(cleaned.into());
            changed = true;
        } else {
            kept.push(element.into());
        }
    }
    if !changed {
        return None;
    }
    // Rebuild `( kept, elements )` with one comma between kept elements.
    let comma = commas
        .first()
        .map_or_else(|| TokenWithSpan::wrap(Token::Comma), |&c| tokens[c].clone());
    let mut repaired: Vec<TokenWithSpan> = tokens[..=open].to_vec();
    for (j, element) in kept.iter().enumerate() {
        if j > 0 {
            repaired.push(comma.clone());
        }
        repaired.extend_from_slice(element);
    }
    repaired.extend_from_slice(&tokens[close..]);
    let stmt = parse(repaired)?;
    match adapter::adapt(&stmt, "CREATE") {
        StatementKind::CreateTable(mut ct) => {
            ct.constraints.extend(extra);
            ct.derived |= like;
            ct.columns
                .iter_mut()
                .filter(|c| virtual_columns.contains(&c.name.value))
                .for_each(mark_virtual);
            Some(StatementKind::CreateTable(ct))
        }
        _ => None,
    }
}

/// `tokens` without the given top-level keywords, each with the token after it
/// when `true` (`COMPRESSION lz4`, `COLLATE "C"`) or alone (`VIRTUAL`); `None`
/// when nothing was removed.
pub(super) fn without_keywords(
    tokens: &[TokenWithSpan],
    keywords: &[(&str, bool)],
) -> Option<Vec<TokenWithSpan>> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut depth = 0i64;
    let mut skip_next = false;
    let mut removed = false;
    for t in tokens {
        if skip_next && significant(t) {
            skip_next = false;
            continue;
        }
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        if depth == 0
            && let Some((_, with_value)) = keywords.iter().find(|(k, _)| is_kw(&t.token, k))
        {
            skip_next = *with_value;
            removed = true;
            continue;
        }
        out.push(t.clone());
    }
    removed.then_some(out)
}

/// Column-definition tokens sqlparser 0.64 rejects, made parseable:
/// `COMPRESSION x` and (ALTER only) `COLLATE x` dropped, and PostgreSQL 18's
/// `GENERATED ALWAYS AS (...) VIRTUAL` read as `STORED` (sqlparser's PostgreSQL
/// grammar knows only that). Returns the tokens if anything changed, and whether
/// a `VIRTUAL` was rewritten (the caller marks the column virtual again).
pub(super) fn repair_column(
    tokens: &[TokenWithSpan],
    drop: &[(&str, bool)],
) -> (Option<Vec<TokenWithSpan>>, bool) {
    let mut fixed = without_keywords(tokens, drop);
    let mut depth = 0i64;
    let mut made_virtual = false;
    let source = fixed.as_deref().unwrap_or(tokens);
    let mut out: Option<Vec<TokenWithSpan>> = None;
    for (i, t) in source.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        if depth == 0 && is_kw(&t.token, "VIRTUAL") {
            let v = out.get_or_insert_with(|| source.to_vec());
            v[i].token = Token::make_keyword("STORED");
            made_virtual = true;
        }
    }
    if out.is_some() {
        fixed = out;
    }
    (fixed, made_virtual)
}

pub(super) fn mark_virtual(col: &mut ColumnDef) {
    col.generated_stored = false;
    col.generated_virtual = true;
}

/// PostgreSQL `ALTER TABLE` actions sqlparser 0.64 rejects that change no
/// column, constraint or name bytegate tracks (storage, statistics,
/// tablespace, clustering, identity removal, ...): an `Other` action.
pub(super) fn pg_other_action(action: &[TokenWithSpan]) -> Option<AlterAction> {
    let mut t = Toks::new(action);
    let first = t.peek().and_then(word_upper)?;
    const TABLE_LEVEL: &[&str] = &[
        "SET", "RESET", "CLUSTER", "OF", "NOT", "FORCE", "NO", "ENABLE", "DISABLE", "REPLICA",
        "INHERIT", "OWNER",
    ];
    if first == "ALTER" {
        t.next();
        t.eat_kw("COLUMN");
        t.ident()?;
        let verb = t.next().and_then(|x| word_upper(&x.token))?;
        let what = t.peek().map(|x| match word_upper(x) {
            Some(w) => w,
            None => x.to_string(),
        })?;
        let column_level = match verb.as_str() {
            "SET" | "RESET" => matches!(
                what.as_str(),
                "STATISTICS"
                    | "STORAGE"
                    | "COMPRESSION"
                    | "("
                    | "GENERATED"
                    | "INCREMENT"
                    | "START"
            ),
            "DROP" => matches!(what.as_str(), "IDENTITY" | "EXPRESSION"),
            "RESTART" => true,
            _ => false,
        };
        return column_level.then(|| AlterAction::Other {
            description: format!("ALTER COLUMN {verb} {what}"),
        });
    }
    if !TABLE_LEVEL.contains(&first.as_str()) {
        return None;
    }
    let description = t.head_words(3);
    (!description.is_empty()).then_some(AlterAction::Other { description })
}

/// The tokens with a quoted value after `ENGINE [=]` (following the column
/// list at `from`) turned into a word; `None` when there is none.
pub(super) fn unquote_engine(tokens: &[TokenWithSpan], from: usize) -> Option<Vec<TokenWithSpan>> {
    let sig: Vec<usize> = (from..tokens.len())
        .filter(|&i| significant(&tokens[i]))
        .collect();
    let mut out: Option<Vec<TokenWithSpan>> = None;
    for (k, &i) in sig.iter().enumerate() {
        if !is_kw(&tokens[i].token, "ENGINE") {
            continue;
        }
        let mut v = k + 1;
        if sig.get(v).is_some_and(|&j| tokens[j].token == Token::Eq) {
            v += 1;
        }
        let Some(&j) = sig.get(v) else { continue };
        if let Token::SingleQuotedString(value) | Token::DoubleQuotedString(value) =
            &tokens[j].token
        {
            let fixed = out.get_or_insert_with(|| tokens.to_vec());
            fixed[j].token = Token::make_word(value, None);
        }
    }
    out
}

/// A MySQL table option given as an `ALTER TABLE` action (`ENGINE=MyISAM`,
/// `DEFAULT CHARSET utf8mb4`, `ROW_FORMAT=DYNAMIC`, `CONVERT TO CHARACTER SET x`),
/// as an `Other` action described `NAME=VALUE` (uppercased, e.g. `ENGINE=MYISAM`).
pub(super) fn mysql_table_option(action: &[TokenWithSpan]) -> Option<AlterAction> {
    let mut t = Toks::new(action);
    if t.eat_kws(&["CONVERT", "TO"]) {
        return Some(AlterAction::Other {
            description: "CONVERT TO CHARACTER SET".into(),
        });
    }
    t.eat_kw("DEFAULT");
    let mut name = t.next().and_then(|x| word_upper(&x.token))?;
    if name == "CHARACTER" && t.eat_kw("SET") {
        name = "CHARSET".into();
    }
    t.eat(&Token::Eq);
    let value = match &t.next()?.token {
        Token::Word(w) => w.value.to_uppercase(),
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.to_uppercase(),
        Token::Number(n, _) => n.clone(),
        _ => return None,
    };
    t.at_end().then(|| AlterAction::Other {
        description: format!("{name}={value}"),
    })
}

/// `ALTER TABLE` parsed action by action: sqlparser for each action it knows,
/// token recognizers for `ALTER CONSTRAINT` and PG 18 `ADD [CONSTRAINT n] NOT NULL col`.
/// `None` if any action is understood by neither.
pub(super) fn alter_table(
    tokens: &[TokenWithSpan],
    dialect: Dialect,
    parse: ParseFn<'_>,
) -> Option<StatementKind> {
    // Header: ALTER TABLE [IF EXISTS] [ONLY] name [*]
    let sig: Vec<usize> = (0..tokens.len())
        .filter(|&i| significant(&tokens[i]))
        .collect();
    let mut k = 2; // past ALTER TABLE
    let at = |k: usize| sig.get(k).map(|&i| &tokens[i].token);
    let if_exists =
        at(k).is_some_and(|x| is_kw(x, "IF")) && at(k + 1).is_some_and(|x| is_kw(x, "EXISTS"));
    if if_exists {
        k += 2;
    }
    let only = at(k).is_some_and(|x| is_kw(x, "ONLY"));
    if only {
        k += 1;
    }
    // The name: word (. word)*
    if !matches!(at(k), Some(Token::Word(_))) {
        return None;
    }
    k += 1;
    while at(k) == Some(&Token::Period) && matches!(at(k + 1), Some(Token::Word(_))) {
        k += 2;
    }
    if at(k) == Some(&Token::Mul) {
        k += 1;
    }
    let header_end = *sig.get(k)?; // first token of the first action
    let header = &tokens[..header_end];
    let name = {
        let mut t = Toks::new(header);
        t.eat_kws(&["ALTER", "TABLE"]);
        t.eat_kws(&["IF", "EXISTS"]);
        t.eat_kw("ONLY");
        t.object_name()?
    };
    // MySQL partition options come last and may hold commas (`TRUNCATE PARTITION p1, p2`).
    let end = match dialect {
        Dialect::Mysql => mysql::partition_start(tokens, header_end).unwrap_or(tokens.len()),
        Dialect::Postgres => tokens.len(),
    };
    let commas = top_level_commas(tokens, header_end, end);
    let mut bounds = Vec::with_capacity(commas.len() + 1);
    let mut s = header_end;
    for &c in &commas {
        bounds.push((s, c));
        s = c + 1;
    }
    // Before a partition option, a comma may end the last action (or there is none).
    if tokens[s..end].iter().any(significant) || (end == tokens.len() && end > header_end) {
        bounds.push((s, end));
    }
    let mut out = AlterTable {
        name,
        if_exists,
        only,
        actions: Vec::new(),
        algorithm: None,
        lock: None,
    };
    for (s, e) in bounds {
        let action = &tokens[s..e];
        if let Some(c) = not_null_constraint(action, true) {
            out.actions
                .push(AlterAction::AddConstraint { constraint: c });
            continue;
        }
        let mut t = Toks::new(action);
        if t.eat_kws(&["ALTER", "CONSTRAINT"]) {
            let name = t.ident()?;
            out.actions.push(AlterAction::AlterConstraint { name });
            continue;
        }
        let mut one: Vec<TokenWithSpan> = header.to_vec();
        one.extend_from_slice(action);
        let Some(stmt) = parse(one) else {
            match dialect {
                Dialect::Mysql => out
                    .actions
                    .extend(mysql::alter_action(header, action, parse)?),
                Dialect::Postgres => {
                    // `ALTER COLUMN c TYPE t COLLATE "C"`: parse without the collation;
                    // `ADD COLUMN ... VIRTUAL` / `COMPRESSION x` as in CREATE TABLE.
                    let (fixed, made_virtual) =
                        repair_column(action, &[("COLLATE", true), ("COMPRESSION", true)]);
                    let repaired = fixed.and_then(|a| {
                        let mut one: Vec<TokenWithSpan> = header.to_vec();
                        one.extend(a);
                        parse(one)
                    });
                    match repaired {
                        Some(stmt) => match adapter::adapt(&stmt, "ALTER") {
                            StatementKind::AlterTable(mut a) => {
                                if made_virtual {
                                    for action in &mut a.actions {
                                        if let AlterAction::AddColumn { column, .. } = action {
                                            mark_virtual(column);
                                        }
                                    }
                                }
                                out.actions.extend(a.actions);
                            }
                            _ => return None,
                        },
                        None => out.actions.push(pg_other_action(action)?),
                    }
                }
            }
            continue;
        };
        match adapter::adapt(&stmt, "ALTER") {
            StatementKind::AlterTable(a) => {
                out.actions.extend(a.actions);
                out.algorithm = out.algorithm.or(a.algorithm);
                out.lock = out.lock.or(a.lock);
            }
            _ => return None,
        }
    }
    if end < tokens.len() {
        out.actions.push(mysql::partition_action(&tokens[end..])?);
    }
    Some(StatementKind::AlterTable(out))
}
