//! Tests of `recognize`.

use super::*;
use crate::review::parse::parse_tokens;
use crate::review::parse::split::tokenize_at;
use sqlparser::tokenizer::Location;

fn rec(sql: &str) -> Option<StatementKind> {
    let toks = tokenize_at(sql, Location::new(1, 1), Dialect::Postgres).0;
    let parse = |t: Vec<TokenWithSpan>| parse_tokens(t, Dialect::Postgres).ok();
    recognize(&toks, Dialect::Postgres, &parse)
}

fn name(s: &str) -> String {
    s.to_string()
}

fn opt(n: &Option<ObjectName>) -> Option<String> {
    n.as_ref().map(ToString::to_string)
}

fn names(v: &[ObjectName]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

#[test]
fn drop_index_concurrently() {
    let Some(StatementKind::Drop(d)) = rec("DROP INDEX CONCURRENTLY IF EXISTS a.i1, i2 CASCADE")
    else {
        panic!()
    };
    assert_eq!(d.object, ObjectKind::Index);
    assert!(d.concurrently && d.if_exists && d.cascade);
    assert_eq!(names(&d.names), vec!["a.i1", "i2"]);
    assert!(rec("DROP INDEX CONCURRENTLY i junk").is_none());
}

#[test]
fn drop_statistics_and_functions() {
    let Some(StatementKind::Drop(d)) = rec("DROP statistics s1, s2") else {
        panic!()
    };
    assert_eq!(d.object, ObjectKind::Statistics);
    assert_eq!(names(&d.names), vec!["s1", "s2"]);
    let Some(StatementKind::Drop(d)) = rec("DROP FUNCTION IF EXISTS f(int, text) RESTRICT") else {
        panic!()
    };
    assert_eq!((d.object, d.cascade), (ObjectKind::Function, false));
    let Some(StatementKind::Drop(d)) = rec("DROP DATABASE IF EXISTS d WITH (FORCE)") else {
        panic!()
    };
    assert_eq!((d.object, d.if_exists), (ObjectKind::Database, true));
}

#[test]
fn reindex_forms() {
    let r = |s| match rec(s) {
        Some(StatementKind::Reindex(r)) => r,
        other => panic!("{other:?}"),
    };
    let x = r("REINDEX TABLE post");
    assert_eq!(
        (x.concurrently, x.target, opt(&x.name)),
        (false, ObjectKind::Table, Some(name("post")))
    );
    assert!(r("REINDEX INDEX CONCURRENTLY i").concurrently);
    assert!(r("REINDEX (CONCURRENTLY, VERBOSE) TABLE t").concurrently);
    assert!(!r("REINDEX (CONCURRENTLY false) TABLE t").concurrently);
    assert_eq!(r("REINDEX SYSTEM").name, None);
}

#[test]
fn do_blocks() {
    assert_eq!(
        rec("DO $$ BEGIN NULL; END $$"),
        Some(StatementKind::DoBlock)
    );
    assert_eq!(
        rec("DO LANGUAGE plpgsql $x$ BEGIN END $x$"),
        Some(StatementKind::DoBlock)
    );
    assert_eq!(
        rec("DO 'select 1' LANGUAGE sql"),
        Some(StatementKind::DoBlock)
    );
    assert_eq!(rec("DO nothing"), None);
}

#[test]
fn vacuum_forms() {
    let v = |s| match rec(s) {
        Some(StatementKind::Vacuum(v)) => v,
        other => panic!("{other:?}"),
    };
    let x = v("VACUUM (FULL, ANALYZE) a, b (c)");
    assert!(x.full && x.analyze);
    assert_eq!(names(&x.tables), vec!["a", "b"]);
    assert!(!v("VACUUM (FULL false) a").full);
    assert!(v("VACUUM FULL VERBOSE").full);
}

#[test]
fn cluster_forms() {
    let c = |s| match rec(s) {
        Some(StatementKind::Cluster(c)) => c,
        other => panic!("{other:?}"),
    };
    let x = c("CLUSTER foo USING foo_idx");
    assert_eq!(opt(&x.table), Some(name("foo")));
    assert_eq!(x.index.unwrap().value, "foo_idx");
    let x = c("CLUSTER foo_idx ON foo");
    assert_eq!(opt(&x.table), Some(name("foo")));
    assert_eq!(opt(&c("CLUSTER").table), None);
}

#[test]
fn alter_sequence_and_other_alters() {
    let Some(StatementKind::AlterOther(a)) = rec("ALTER SEQUENCE s RENAME TO t") else {
        panic!()
    };
    assert_eq!(a.object, ObjectKind::Sequence);
    assert_eq!(opt(&a.name), Some(name("s")));
    assert_eq!(a.action, "RENAME TO");
    assert_eq!(opt(&a.new_name), Some(name("t")));
    let Some(StatementKind::AlterOther(a)) = rec("ALTER SEQUENCE s OWNED BY t.id") else {
        panic!()
    };
    assert_eq!(a.action, "OWNED BY");
    assert_eq!(rec("ALTER SEQUENCE s"), None);
}

#[test]
fn create_statistics_and_function_with_cost() {
    let Some(StatementKind::CreateOther(c)) =
        rec("CREATE statistics st ON (liked IS NULL), (x IS NULL) FROM comment_actions")
    else {
        panic!()
    };
    assert_eq!(c.object, ObjectKind::Statistics);
    assert_eq!(opt(&c.name), Some(name("st")));
    assert_eq!(opt(&c.table), Some(name("comment_actions")));
    let Some(StatementKind::CreateOther(c)) =
        rec("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql COST 100 AS $$ select 1 $$")
    else {
        panic!()
    };
    assert_eq!((c.object, c.or_replace), (ObjectKind::Function, true));
}

#[test]
fn create_database_and_roles_with_options() {
    assert!(matches!(
        rec("CREATE DATABASE d WITH OWNER = x ENCODING 'UTF8' TEMPLATE template0"),
        Some(StatementKind::CreateOther(CreateOther {
            object: ObjectKind::Database,
            ..
        }))
    ));
    assert!(matches!(
        rec("CREATE ROLE r WITH LOGIN PASSWORD 'x' VALID UNTIL 'infinity' NOSUPERUSER"),
        Some(StatementKind::CreateOther(CreateOther {
            object: ObjectKind::Role,
            ..
        }))
    ));
}

#[test]
fn create_index_token_level() {
    let Some(StatementKind::CreateIndex(c)) = rec(
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY t USING btree (a, lower(b)) NULLS NOT DISTINCT WHERE x",
    ) else {
        panic!()
    };
    assert!(c.unique && c.concurrently && c.if_not_exists && c.partial);
    assert_eq!(c.table.to_string(), name("t"));
    assert_eq!(c.columns.len(), 2);
    assert_eq!(c.columns[0].column.as_ref().unwrap().value, "a");
    assert_eq!(c.columns[1].column, None);
}

#[test]
fn alter_table_alter_constraint_keeps_other_actions() {
    let Some(StatementKind::AlterTable(a)) = rec(
        "ALTER TABLE mod_ban ALTER COLUMN instance_id SET NOT NULL, ALTER CONSTRAINT fk NOT DEFERRABLE, DROP COLUMN x",
    ) else {
        panic!()
    };
    assert_eq!(a.name.to_string(), name("mod_ban"));
    assert!(
        matches!(&a.actions[0], AlterAction::SetNotNull { column } if column.value == "instance_id")
    );
    assert!(matches!(&a.actions[1], AlterAction::AlterConstraint { name } if name.value == "fk"));
    assert!(matches!(&a.actions[2], AlterAction::DropColumn { name, .. } if name.value == "x"));
}

#[test]
fn alter_table_pg18_not_null_constraint() {
    let Some(StatementKind::AlterTable(a)) = rec(
        "ALTER TABLE person ADD COLUMN banned boolean DEFAULT FALSE, ADD CONSTRAINT nn NOT NULL banned",
    ) else {
        panic!()
    };
    assert!(matches!(&a.actions[0], AlterAction::AddColumn { .. }));
    let AlterAction::AddConstraint { constraint } = &a.actions[1] else {
        panic!()
    };
    assert_eq!(constraint.name.as_ref().unwrap().value, "nn");
    assert!(
        matches!(&constraint.kind, ConstraintKind::NotNull { column } if column.value == "banned")
    );
    assert!(constraint.span.is_some());
}

#[test]
fn mysql_engine_options() {
    let toks = |sql: &str| tokenize_at(sql, Location::new(1, 1), Dialect::Mysql).0;
    let parse = |t: Vec<TokenWithSpan>| parse_tokens(t, Dialect::Mysql).ok();
    let Some(StatementKind::AlterTable(a)) = recognize(
        &toks("ALTER TABLE t ENGINE=MyISAM, ALGORITHM=COPY, DEFAULT CHARSET = utf8mb4"),
        Dialect::Mysql,
        &parse,
    ) else {
        panic!()
    };
    assert_eq!(a.engine().as_deref(), Some("MYISAM"));
    assert_eq!(a.algorithm.as_deref(), Some("COPY"));
    assert!(
        matches!(&a.actions[1], AlterAction::Other { description } if description == "CHARSET=UTF8MB4")
    );
    let Some(StatementKind::CreateTable(c)) = recognize(
        &toks("CREATE TABLE a (id int) ENGINE = 'MyISAM'"),
        Dialect::Mysql,
        &parse,
    ) else {
        panic!()
    };
    assert_eq!(c.engine.as_deref(), Some("MyISAM"));
    // PostgreSQL has no such options.
    assert_eq!(rec("ALTER TABLE t ENGINE=x"), None);
}

#[test]
fn postgres_actions_sqlparser_rejects() {
    let Some(StatementKind::AlterTable(a)) = rec(
        "ALTER TABLE t ALTER COLUMN c SET DATA TYPE text COLLATE \"C\", ALTER COLUMN d SET STATISTICS 100, SET TABLESPACE x, CLUSTER ON i, ALTER c DROP IDENTITY IF EXISTS",
    ) else {
        panic!()
    };
    assert!(
        matches!(&a.actions[0], AlterAction::AlterColumnType { column, data_type, .. } if column.value == "c" && data_type.name == "text")
    );
    assert!(
        matches!(&a.actions[1], AlterAction::Other { description } if description == "ALTER COLUMN SET STATISTICS")
    );
    assert!(
        matches!(&a.actions[2], AlterAction::Other { description } if description == "SET TABLESPACE X")
    );
    assert!(
        matches!(&a.actions[3], AlterAction::Other { description } if description == "CLUSTER ON I")
    );
    assert!(
        matches!(&a.actions[4], AlterAction::Other { description } if description == "ALTER COLUMN DROP IDENTITY")
    );
    // A rejected action that could drop or retype something is not guessed.
    assert_eq!(
        rec("ALTER TABLE t SET TABLESPACE x, DROP COLUMN c FROB"),
        None
    );
}

#[test]
fn create_table_repairs() {
    let Some(StatementKind::CreateTable(c)) =
        rec("CREATE TABLE t (a text COMPRESSION lz4 NOT NULL, b int)")
    else {
        panic!()
    };
    assert_eq!(c.columns.len(), 2);
    assert_eq!(c.columns[0].nullable, Some(false));
    let Some(StatementKind::CreateTable(c)) =
        rec("CREATE TABLE t (LIKE u INCLUDING ALL, extra int)")
    else {
        panic!()
    };
    assert!(c.derived);
    assert_eq!(c.columns.len(), 1);
}

#[test]
fn comments_drops_and_keyword_statements() {
    assert!(matches!(
        rec("COMMENT ON FUNCTION f(int) IS 'x'"),
        Some(StatementKind::Comment {
            object: ObjectKind::Function,
            ..
        })
    ));
    assert!(matches!(
        rec("COMMENT ON CONSTRAINT c ON t IS 'x'"),
        Some(StatementKind::Comment {
            object: ObjectKind::Constraint,
            ..
        })
    ));
    assert!(matches!(
        rec("DROP OWNED BY r CASCADE"),
        Some(StatementKind::Drop(Drop { cascade: true, .. }))
    ));
    assert!(matches!(
        rec("DROP CAST IF EXISTS (int AS text)"),
        Some(StatementKind::Drop(Drop {
            if_exists: true,
            ..
        }))
    ));
    assert!(matches!(
        rec("CREATE CAST (int AS text) WITH FUNCTION f(int)"),
        Some(StatementKind::CreateOther(CreateOther { name: None, .. }))
    ));
    assert_eq!(
        rec("CHECKPOINT"),
        Some(StatementKind::Other {
            keyword: "CHECKPOINT".into()
        })
    );
    assert_eq!(
        rec("PREPARE TRANSACTION 'x'"),
        Some(StatementKind::Other {
            keyword: "PREPARE TRANSACTION".into()
        })
    );
    assert_eq!(rec("CHECKPOINT now"), None);
}

#[test]
fn mysql_definer_routines() {
    let toks = tokenize_at(
        "CREATE DEFINER=`root`@`localhost` PROCEDURE p() BEGIN SELECT 1; END",
        Location::new(1, 1),
        Dialect::Mysql,
    )
    .0;
    let parse = |t: Vec<TokenWithSpan>| parse_tokens(t, Dialect::Mysql).ok();
    let Some(StatementKind::CreateOther(c)) = recognize(&toks, Dialect::Mysql, &parse) else {
        panic!()
    };
    assert_eq!(c.object, ObjectKind::Procedure);
    assert_eq!(opt(&c.name), Some(name("p")));
}

#[test]
fn alter_table_with_an_unknown_action_is_not_recognized() {
    assert_eq!(
        rec("ALTER TABLE t ALTER CONSTRAINT c NOT DEFERRABLE, FROB x"),
        None
    );
}

#[test]
fn create_table_pg18_not_null_constraints() {
    let Some(StatementKind::CreateTable(c)) = rec(
        "CREATE TABLE t (a int REFERENCES p ON DELETE CASCADE, CONSTRAINT a_nn NOT NULL a, b text, NOT NULL b)",
    ) else {
        panic!()
    };
    assert_eq!(c.columns.len(), 2);
    assert_eq!(c.constraints.len(), 2);
    assert!(c.columns[0].references.is_some());
    assert!(
        matches!(&c.constraints[1].kind, ConstraintKind::NotNull { column } if column.value == "b")
    );
    // Only NOT NULL elements: all commas go.
    let Some(StatementKind::CreateTable(c)) = rec("CREATE TABLE t (NOT NULL a)") else {
        panic!()
    };
    assert_eq!(c.constraints.len(), 1);
}

fn rec_my(sql: &str) -> Option<StatementKind> {
    let toks = tokenize_at(sql, Location::new(1, 1), Dialect::Mysql).0;
    let parse = |t: Vec<TokenWithSpan>| parse_tokens(t, Dialect::Mysql).ok();
    recognize(&toks, Dialect::Mysql, &parse)
}

fn alter_my(sql: &str) -> AlterTable {
    match rec_my(sql) {
        Some(StatementKind::AlterTable(a)) => a,
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn mysql_column_charset_and_long_types() {
    let Some(StatementKind::CreateTable(c)) = rec_my(
        "CREATE TABLE t(a varchar(20) CHARSET ascii NOT NULL, b long varchar, c LONG VARBINARY) DEFAULT CHARSET=utf8mb4",
    ) else {
        panic!()
    };
    let cols: Vec<_> = c
        .columns
        .iter()
        .map(|c| {
            (
                c.name.value.as_str(),
                c.data_type.name.as_str(),
                c.data_type.length,
            )
        })
        .collect();
    assert_eq!(
        cols,
        [
            ("a", "varchar", Some(20)),
            ("b", "text", None),
            ("c", "mediumblob", None)
        ]
    );
    assert_eq!(c.columns[0].nullable, Some(false));
    let a = alter_my("ALTER TABLE t MODIFY COLUMN a varchar(255) CHARSET ascii");
    assert!(
        matches!(&a.actions[..], [AlterAction::ModifyColumn { column }] if column.data_type.length == Some(255))
    );
    let a = alter_my("ALTER TABLE t CHANGE COLUMN a b varchar(20) CHARSET ascii");
    assert!(
        matches!(&a.actions[..], [AlterAction::ChangeColumn { old_name, column }] if old_name.value == "a" && column.name.value == "b")
    );
    // `CHARSET(x)` is a function, not the option.
    assert_eq!(rec_my("SELECT CHARSET('a') FROM t WHERE"), None);
}

#[test]
fn mysql_add_column_list() {
    let a = alter_my(
        "ALTER TABLE book ADD COLUMN (id int PRIMARY KEY, name varchar(255) CHARSET ascii NOT NULL), ADD INDEX i (name), ALGORITHM=INPLACE",
    );
    let AlterAction::AddColumn { column: id, .. } = &a.actions[0] else {
        panic!("{a:?}")
    };
    let AlterAction::AddColumn { column: name, .. } = &a.actions[1] else {
        panic!("{a:?}")
    };
    assert!(id.name.value == "id" && id.primary_key);
    assert!(name.name.value == "name" && name.nullable == Some(false));
    assert!(matches!(&a.actions[2], AlterAction::AddConstraint { .. }));
    assert_eq!(a.algorithm.as_deref(), Some("INPLACE"));
    assert_eq!(a.name.to_string(), "book");
    // `ADD (...)` without COLUMN is the same; a bad element fails the whole statement.
    assert_eq!(alter_my("ALTER TABLE t ADD (a int)").actions.len(), 1);
    assert_eq!(rec_my("ALTER TABLE t ADD COLUMN (a int, 42)"), None);
}

#[test]
fn mysql_rename_index_renames_the_key() {
    let a =
        alter_my("ALTER TABLE tech_book RENAME INDEX old_uk TO uk_tech_book, RENAME KEY a TO b");
    let renames: Vec<_> = a
        .actions
        .iter()
        .map(|x| match x {
            AlterAction::RenameConstraint { from, to } => (from.value.as_str(), to.value.as_str()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(renames, [("old_uk", "uk_tech_book"), ("a", "b")]);
    assert_eq!(rec_my("ALTER TABLE t RENAME INDEX a b"), None);
}

#[test]
fn mysql_keyword_actions() {
    let a = alter_my("ALTER TABLE t ALTER INDEX i INVISIBLE, FORCE, DISABLE KEYS, ALGORITHM=COPY");
    let described: Vec<_> = a
        .actions
        .iter()
        .map(|x| match x {
            AlterAction::Other { description } => description.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        described,
        ["ALTER INDEX INVISIBLE", "FORCE", "DISABLE KEYS"]
    );
    assert_eq!(rec_my("ALTER TABLE t ALTER INDEX i HIDDEN"), None);
    assert_eq!(rec_my("ALTER TABLE t FORCE now"), None);
}

#[test]
fn mysql_partition_options() {
    let described = |sql: &str| -> Vec<String> {
        alter_my(sql)
            .actions
            .iter()
            .map(|a| match a {
                AlterAction::Other { description } => description.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(
        described("ALTER TABLE db.sales TRUNCATE PARTITION p_jan, p_feb"),
        ["TRUNCATE PARTITION"]
    );
    assert_eq!(
        described("ALTER TABLE sales TRUNCATE PARTITION ALL"),
        ["TRUNCATE PARTITION"]
    );
    assert_eq!(
        described("ALTER TABLE sales DROP PARTITION p1, p2"),
        ["DROP PARTITION"]
    );
    assert_eq!(
        described(
            "ALTER TABLE t PARTITION BY RANGE (a) (PARTITION p0 VALUES LESS THAN (6), PARTITION p1 VALUES LESS THAN MAXVALUE)"
        ),
        ["PARTITION BY"]
    );
    assert_eq!(
        described("ALTER TABLE t ENGINE=InnoDB, REMOVE PARTITIONING"),
        ["ENGINE=INNODB", "REMOVE PARTITIONING"]
    );
    assert_eq!(
        described("ALTER TABLE t ENGINE=InnoDB PARTITION BY HASH(id) PARTITIONS 4"),
        ["ENGINE=INNODB", "PARTITION BY"]
    );
    assert_eq!(
        described("ALTER TABLE t COALESCE PARTITION 2"),
        ["COALESCE PARTITION"]
    );
    assert_eq!(rec_my("ALTER TABLE t TRUNCATE PARTITION p1 junk"), None);
    assert_eq!(rec_my("ALTER TABLE t PARTITION BY nonsense"), None);
}

#[test]
fn mysql_create_table_partition_by_and_fulltext_index() {
    let Some(StatementKind::CreateTable(c)) = rec_my(
        "CREATE TABLE t(a int PRIMARY KEY, b varchar(10) CHARSET ascii) ENGINE=InnoDB PARTITION BY RANGE (a) (PARTITION p0 VALUES LESS THAN (6), PARTITION p1 VALUES LESS THAN (11))",
    ) else {
        panic!()
    };
    assert_eq!(c.name.to_string(), "t");
    assert_eq!(c.columns.len(), 2);
    assert!(c.columns[0].primary_key);
    assert_eq!(c.engine.as_deref(), Some("InnoDB"));
    for (sql, using) in [
        (
            "CREATE FULLTEXT INDEX ft ON locations(description)",
            "fulltext",
        ),
        (
            "CREATE SPATIAL INDEX sp ON locations(geom) ALGORITHM=INPLACE",
            "spatial",
        ),
        (
            "CREATE FULLTEXT INDEX ft ON t(b) WITH PARSER ngram",
            "fulltext",
        ),
    ] {
        let Some(StatementKind::CreateIndex(ci)) = rec_my(sql) else {
            panic!("{sql}")
        };
        assert_eq!(ci.using.as_deref(), Some(using), "{sql}");
        assert!(!ci.unique);
        assert_eq!(ci.columns.len(), 1, "{sql}");
        assert!(ci.columns[0].column.is_some(), "{sql}");
    }
    // Not guessed: a query after the partitioning.
    assert_eq!(
        rec_my("CREATE TABLE t(a int) PARTITION BY HASH(a) AS SELECT 1"),
        None
    );
}
