//! Tests of `split`.

use super::*;
use crate::review::finding::Position;

fn texts(text: &str) -> Vec<String> {
    split(text, Dialect::Postgres)
        .statements
        .iter()
        .map(|s| text[s.byte_range.clone()].to_string())
        .collect()
}

#[test]
fn splits_on_top_level_semicolons() {
    assert_eq!(
        texts("create table a (x int);\n\nselect 1 ;select ';';"),
        vec!["create table a (x int)", "select 1", "select ';'"]
    );
}

#[test]
fn dollar_quoted_bodies_stay_whole() {
    let sql = "CREATE FUNCTION f() RETURNS int AS $body$\nBEGIN\n  RETURN 1;\nEND;\n$body$ LANGUAGE plpgsql;\nDO $$ BEGIN PERFORM 1; END $$;";
    let t = texts(sql);
    assert_eq!(t.len(), 2);
    assert!(t[0].ends_with("LANGUAGE plpgsql"));
    assert_eq!(t[1], "DO $$ BEGIN PERFORM 1; END $$");
}

#[test]
fn comments_with_semicolons_do_not_split() {
    let t = texts("select 1 -- a; b\n/* c; d */ + 2;");
    assert_eq!(t, vec!["select 1 -- a; b\n/* c; d */ + 2"]);
}

#[test]
fn begin_atomic_bodies_stay_whole() {
    let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;\nselect 3;";
    let t = texts(sql);
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(t[0].ends_with("SELECT 2; END"));
}

#[test]
fn mysql_routine_bodies_stay_whole() {
    let sql = "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN\n  IF NEW.a IS NULL THEN SET NEW.a = IF(1, 2, 3); END IF;\n  CASE WHEN 1 THEN SET @x = 1; END CASE;\n  lbl: LOOP LEAVE lbl; END LOOP;\nEND;\nCREATE PROCEDURE p() BEGIN DROP TABLE IF EXISTS x; SELECT 1; END;\nSELECT 2;";
    let f = split(sql, Dialect::Mysql);
    let t: Vec<&str> = f
        .statements
        .iter()
        .map(|s| &sql[s.byte_range.clone()])
        .collect();
    assert_eq!(t.len(), 3, "{t:#?}");
    assert!(t[0].ends_with("END LOOP;\nEND"));
    assert!(t[1].starts_with("CREATE PROCEDURE") && t[1].ends_with("END"));
    assert_eq!(t[2], "SELECT 2");
}

#[test]
fn mysql_delimiter_directives() {
    let sql = "SELECT 1;\nDELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END //\nCREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET NEW.a = 1//\ndelimiter ;\nSELECT 3;";
    let f = split(sql, Dialect::Mysql);
    let t: Vec<&str> = f
        .statements
        .iter()
        .map(|s| &sql[s.byte_range.clone()])
        .collect();
    assert_eq!(
        t,
        vec![
            "SELECT 1",
            "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END",
            "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET NEW.a = 1",
            "SELECT 3"
        ]
    );
    assert_eq!(f.statements[1].span.start.line, 3);
    assert_eq!(f.statements[3].span.start, Position { line: 6, column: 1 });
}

#[test]
fn positions_are_one_based_and_count_characters() {
    let f = split("-- head\n  select 'é';\nselect\n  2;", Dialect::Postgres);
    let s = &f.statements;
    assert_eq!(s[0].span.start, Position { line: 2, column: 3 });
    assert_eq!(
        s[0].span.end,
        Position {
            line: 2,
            column: 12
        }
    );
    assert_eq!(s[1].span.start, Position { line: 3, column: 1 });
    assert_eq!(s[1].span.end, Position { line: 4, column: 3 });
}

#[test]
fn leading_and_trailing_comments_attach() {
    let f = split(
        "-- header\n\n-- bytegate-ignore drop-table\ndrop table a; -- why\n-- next\nselect 1;",
        Dialect::Postgres,
    );
    let s = &f.statements;
    assert_eq!(s[0].leading_comments.len(), 2);
    assert_eq!(s[0].leading_comments[1].text, " bytegate-ignore drop-table");
    assert_eq!(s[0].leading_comments[1].line, 3);
    assert_eq!(s[0].trailing_comment.as_ref().unwrap().text, " why");
    assert_eq!(s[1].leading_comments.len(), 1);
    assert_eq!(s[1].leading_comments[0].text, " next");
    assert_eq!(f.comments.len(), 4);
}

#[test]
fn a_comment_before_the_end_of_the_last_line_trails() {
    let f = split(
        "DROP TABLE a -- ignore me\n;\nDROP TABLE b -- eof",
        Dialect::Postgres,
    );
    let s = &f.statements;
    assert_eq!(s[0].trailing_comment.as_ref().unwrap().text, " ignore me");
    assert_eq!(s[1].trailing_comment.as_ref().unwrap().text, " eof");
    assert_eq!(f.comments.len(), 2);
}

#[test]
fn unterminated_string_becomes_one_failed_statement_to_the_end() {
    let f = split("select 1;\nselect 'abc;\nselect 2;", Dialect::Postgres);
    let s = &f.statements;
    assert_eq!(s.len(), 2);
    assert!(s[1].error.is_some());
    assert_eq!(s[1].span.start.line, 2);
    assert_eq!(s[1].byte_range.end, 32);
}

#[test]
fn a_local_tokenizer_error_does_not_hide_later_statements() {
    // `1_` is rejected by the tokenizer; the next statement survives.
    let f = split("select 1_;\nselect 2;", Dialect::Postgres);
    let s = &f.statements;
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(s[0].error.is_some());
    assert!(s[1].error.is_none());
    assert_eq!(s[1].span.start.line, 2);
}

#[test]
fn unterminated_dollar_quote_keeps_its_start() {
    let f = split("select 1;\nDO $$ begin;\nselect 2;", Dialect::Postgres);
    let s = &f.statements;
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].span.start, Position { line: 2, column: 1 });
    assert!(s[1].error.as_ref().unwrap().message.contains("dollar"));
}

#[test]
fn windows_give_the_same_statements_and_positions() {
    let mut sql = String::new();
    for i in 0..200 {
        sql.push_str(&format!(
            "-- c{i}\ninsert into t values ({i}, 'x;y'); -- t{i}\n"
        ));
    }
    let whole = split_with_window(&sql, Dialect::Postgres, usize::MAX);
    let windowed = split_with_window(&sql, Dialect::Postgres, 100);
    // A window cut inside a BEGIN ATOMIC body does not split the function.
    let body = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1;\nSELECT 2;\nSELECT 3;\nEND;\nSELECT 4;";
    let f = split_with_window(body, Dialect::Postgres, 60);
    assert_eq!(f.statements.len(), 2);
    // ... and a tokenizer error later in it keeps the statement's start.
    let broken = body.replace("SELECT 3", "SELECT 'x");
    let fb = split_with_window(&broken, Dialect::Postgres, 60);
    let whole_broken = split_with_window(&broken, Dialect::Postgres, usize::MAX);
    assert!(fb.statements[0].error.is_some());
    assert_eq!(fb.statements[0].byte_range.start, 0);
    let ranges = |f: &SplitFile| {
        f.statements
            .iter()
            .map(|s| s.byte_range.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ranges(&fb), ranges(&whole_broken));
    assert_eq!(whole.statements.len(), 200);
    assert_eq!(windowed.statements.len(), 200);
    for (a, b) in whole.statements.iter().zip(&windowed.statements) {
        assert_eq!(a.byte_range, b.byte_range);
        assert_eq!(a.span, b.span);
        assert_eq!(a.leading_comments, b.leading_comments);
        assert_eq!(a.trailing_comment, b.trailing_comment);
        assert_eq!(a.tokens, b.tokens);
    }
}
