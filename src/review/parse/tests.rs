//! Tests of the whole pipeline: adapter fields, recognizers in context, the
//! fallback, robustness.

use super::*;
use crate::review::model::*;

fn one(sql: &str) -> Statement {
    let mut v = parse_file(sql, Dialect::Postgres);
    assert_eq!(v.len(), 1, "{v:#?}");
    v.remove(0)
}

fn one_my(sql: &str) -> Statement {
    let mut v = parse_file(sql, Dialect::Mysql);
    assert_eq!(v.len(), 1, "{v:#?}");
    v.remove(0)
}

fn kind(sql: &str) -> StatementKind {
    let s = one(sql);
    assert!(s.is_understood(), "{s:#?}");
    s.kind
}

#[test]
fn create_table_columns_and_constraints() {
    let StatementKind::CreateTable(ct) = kind(
        "CREATE TABLE IF NOT EXISTS public.users (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name varchar(255) NOT NULL,
            nick text NULL,
            code char(3) UNIQUE,
            data json DEFAULT '{}',
            created timestamp DEFAULT now(),
            token uuid DEFAULT gen_random_uuid(),
            score int DEFAULT my_fn(),
            team_id int REFERENCES teams (id) ON DELETE CASCADE,
            total int GENERATED ALWAYS AS (1 + 2) STORED,
            s serial CHECK (s > 0),
            CONSTRAINT users_team_fk FOREIGN KEY (team_id) REFERENCES teams (id),
            UNIQUE (name, code),
            CHECK (name IS NOT NULL AND nick IS NOT NULL)
        )",
    ) else {
        panic!()
    };
    assert_eq!(ct.name.to_string(), "public.users");
    assert_eq!(ct.name.normalized(), "users");
    assert!(ct.if_not_exists && !ct.temporary && !ct.derived);
    let c = |n: &str| ct.columns.iter().find(|c| c.name.value == n).unwrap();
    assert!(c("id").identity && c("id").primary_key);
    assert_eq!(c("id").data_type.name, "bigint");
    assert_eq!(c("name").nullable, Some(false));
    assert_eq!(c("name").data_type.length, Some(255));
    assert!(c("name").data_type.is_varchar());
    assert_eq!(c("nick").nullable, Some(true));
    assert_eq!(c("code").nullable, None);
    assert!(c("code").unique && c("code").data_type.is_char());
    assert!(c("data").data_type.is_json());
    assert!(c("data").default.as_ref().unwrap().is_constant);
    assert!(c("created").data_type.is_timestamp_without_tz());
    assert_eq!(c("created").default.as_ref().unwrap().volatile, Some(false));
    assert_eq!(c("token").default.as_ref().unwrap().volatile, Some(true));
    assert_eq!(c("score").default.as_ref().unwrap().volatile, None);
    let fk = c("team_id").references.as_ref().unwrap();
    assert_eq!(fk.table.to_string(), "teams");
    assert_eq!(fk.on_delete, Some(ReferentialAction::Cascade));
    assert!(c("total").generated_stored);
    assert!(c("s").data_type.is_serial() && c("s").is_auto_generated());
    assert_eq!(c("s").checks, vec!["s > 0".to_string()]);
    assert_eq!(ct.constraints.len(), 3);
    assert_eq!(
        ct.constraints[0].name.as_ref().unwrap().value,
        "users_team_fk"
    );
    assert!(
        matches!(&ct.constraints[0].kind, ConstraintKind::ForeignKey { columns, .. } if columns[0].value == "team_id")
    );
    assert!(
        matches!(&ct.constraints[1].kind, ConstraintKind::Unique { columns, .. } if columns.len() == 2)
    );
    let ConstraintKind::Check {
        not_null_columns, ..
    } = &ct.constraints[2].kind
    else {
        panic!()
    };
    assert_eq!(not_null_columns.len(), 2);
}

#[test]
fn remaining_model_fields() {
    let StatementKind::CreateTable(ct) =
        kind("CREATE UNLOGGED TABLE p1 PARTITION OF p FOR VALUES IN (1)")
    else {
        panic!()
    };
    assert!(ct.unlogged && ct.derived);
    assert_eq!(ct.partition_of.unwrap().to_string(), "p");
    let StatementKind::CreateTable(ct) = kind("CREATE TEMP TABLE t AS SELECT 1") else {
        panic!()
    };
    assert!(ct.temporary && ct.derived);
    let StatementKind::CreateTable(ct) = kind(
        "CREATE TABLE t (a int GENERATED ALWAYS AS (1) VIRTUAL, b int REFERENCES o ON UPDATE SET NULL DEFAULT coalesce(1, 2), EXCLUDE USING gist (a WITH =))",
    ) else {
        panic!()
    };
    assert!(ct.columns[0].generated_virtual && !ct.columns[0].generated_stored);
    let b = &ct.columns[1];
    assert_eq!(
        b.references.as_ref().unwrap().on_update,
        Some(ReferentialAction::SetNull)
    );
    assert_eq!(
        b.default.as_ref().unwrap().functions,
        vec!["coalesce".to_string()]
    );
    assert_eq!(b.default.as_ref().unwrap().volatile, Some(false));
    assert!(matches!(ct.constraints[0].kind, ConstraintKind::Exclude));
    let StatementKind::AlterTable(at) =
        kind("ALTER TABLE IF EXISTS t ATTACH PARTITION p FOR VALUES IN (2)")
    else {
        panic!()
    };
    assert!(at.if_exists);
    assert!(
        matches!(&at.actions[0], AlterAction::AttachPartition { partition } if partition.to_string() == "p")
    );
    let StatementKind::AlterTable(at) =
        one_my("ALTER TABLE t DROP PRIMARY KEY, DROP FOREIGN KEY fk, DROP INDEX i").kind
    else {
        panic!()
    };
    assert!(matches!(at.actions[0], AlterAction::DropPrimaryKey));
    assert!(matches!(&at.actions[1], AlterAction::DropForeignKey { name } if name.value == "fk"));
    assert!(matches!(&at.actions[2], AlterAction::DropIndex { name } if name.value == "i"));
    assert_eq!(
        kind("RESET lock_timeout"),
        StatementKind::Reset {
            name: Some("lock_timeout".into())
        }
    );
    assert!(
        matches!(kind("ANALYZE t"), StatementKind::Analyze { ref tables } if tables.len() == 1)
    );
    assert!(matches!(
        kind("VACUUM ANALYZE t"),
        StatementKind::Vacuum(Vacuum {
            analyze: true,
            full: false,
            ..
        })
    ));
    let s = one("CREATE TABLE t (a int, CONSTRAINT nn NOT NULL a)");
    assert_eq!(s.source, StatementSource::Recognized);
    let StatementKind::CreateTable(ct) = s.kind else {
        panic!()
    };
    assert!(
        matches!(&ct.constraints[0].kind, ConstraintKind::NotNull { column } if column.value == "a")
    );
    assert_eq!(ct.constraints[0].name.as_ref().unwrap().value, "nn");
}

#[test]
fn names_carry_file_spans() {
    let v = parse_file(
        "select 1;\nCREATE TABLE t (\n  Foo int,\n  \"Bar\" int\n);",
        Dialect::Postgres,
    );
    let StatementKind::CreateTable(ct) = &v[1].kind else {
        panic!()
    };
    let foo = &ct.columns[0].name;
    assert_eq!(foo.span.unwrap().start, Position { line: 3, column: 3 });
    assert_eq!(foo.span.unwrap().end, Position { line: 3, column: 5 });
    assert_eq!(foo.normalized(), "foo");
    let bar = &ct.columns[1].name;
    assert!(bar.quoted);
    assert_eq!(bar.normalized(), "Bar");
    assert_eq!(
        ct.name.span().unwrap().start,
        Position {
            line: 2,
            column: 14
        }
    );
    assert_eq!(v[1].span.start, Position { line: 2, column: 1 });
    assert_eq!(v[1].span.end, Position { line: 5, column: 1 });
}

#[test]
fn alter_table_actions() {
    let StatementKind::AlterTable(at) = kind(
        "ALTER TABLE ONLY t
            ADD COLUMN IF NOT EXISTS a int NOT NULL DEFAULT 0,
            DROP COLUMN b CASCADE,
            ALTER COLUMN c TYPE bigint USING c::bigint,
            ALTER COLUMN d SET NOT NULL,
            ALTER COLUMN e DROP NOT NULL,
            ALTER COLUMN f SET DEFAULT random(),
            ALTER COLUMN g DROP DEFAULT,
            ADD CONSTRAINT k CHECK (a > 0) NOT VALID,
            ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES o (id) NOT VALID,
            ADD CONSTRAINT u UNIQUE USING INDEX u_idx,
            ADD CONSTRAINT pk PRIMARY KEY USING INDEX pk_idx,
            DROP CONSTRAINT IF EXISTS old,
            VALIDATE CONSTRAINT k2,
            OWNER TO someone",
    ) else {
        panic!()
    };
    assert!(at.only);
    use AlterAction as A;
    let a = &at.actions;
    assert!(
        matches!(&a[0], A::AddColumn { column, if_not_exists: true } if column.nullable == Some(false) && column.default.is_some())
    );
    assert!(matches!(&a[1], A::DropColumn { name, cascade: true, .. } if name.value == "b"));
    assert!(
        matches!(&a[2], A::AlterColumnType { column, data_type, using: Some(_) } if column.value == "c" && data_type.name == "bigint")
    );
    assert!(matches!(&a[3], A::SetNotNull { column } if column.value == "d"));
    assert!(matches!(&a[4], A::DropNotNull { .. }));
    assert!(matches!(&a[5], A::SetDefault { default, .. } if default.volatile == Some(true)));
    assert!(matches!(&a[6], A::DropDefault { .. }));
    assert!(
        matches!(&a[7], A::AddConstraint { constraint } if constraint.not_valid && matches!(constraint.kind, ConstraintKind::Check { .. }))
    );
    assert!(
        matches!(&a[8], A::AddConstraint { constraint } if constraint.not_valid && matches!(constraint.kind, ConstraintKind::ForeignKey { .. }))
    );
    assert!(
        matches!(&a[9], A::AddConstraint { constraint } if matches!(&constraint.kind, ConstraintKind::Unique { using_index: Some(i), .. } if i.value == "u_idx"))
    );
    assert!(
        matches!(&a[10], A::AddConstraint { constraint } if matches!(&constraint.kind, ConstraintKind::PrimaryKey { using_index: Some(_), .. }))
    );
    assert!(matches!(
        &a[11],
        A::DropConstraint {
            if_exists: true,
            ..
        }
    ));
    assert!(matches!(&a[12], A::ValidateConstraint { name } if name.value == "k2"));
    assert!(matches!(&a[13], A::Other { description } if description == "OWNER TO"));
}

#[test]
fn renames_and_partitions() {
    let k = |s: &str| match kind(s) {
        StatementKind::AlterTable(a) => a.actions.into_iter().next().unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(
        matches!(k("ALTER TABLE t RENAME TO u"), AlterAction::RenameTable { to } if to.to_string() == "u")
    );
    assert!(
        matches!(k("ALTER TABLE t RENAME COLUMN a TO b"), AlterAction::RenameColumn { from, to } if from.value == "a" && to.value == "b")
    );
    assert!(matches!(
        k("ALTER TABLE t RENAME CONSTRAINT a TO b"),
        AlterAction::RenameConstraint { .. }
    ));
    assert!(matches!(
        k("ALTER TABLE t DETACH PARTITION p CONCURRENTLY"),
        AlterAction::DetachPartition {
            concurrently: true,
            ..
        }
    ));
    assert!(matches!(
        k("ALTER TABLE t DETACH PARTITION p"),
        AlterAction::DetachPartition {
            concurrently: false,
            ..
        }
    ));
}

#[test]
fn create_index_fields() {
    let StatementKind::CreateIndex(ci) = kind(
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx ON s.t USING gin (a, lower(b)) WHERE c",
    ) else {
        panic!()
    };
    assert_eq!(ci.name.unwrap().value, "idx");
    assert_eq!(ci.table.to_string(), "s.t");
    assert!(ci.unique && ci.concurrently && ci.if_not_exists && ci.partial);
    assert_eq!(ci.using.as_deref(), Some("gin"));
    assert_eq!(ci.columns[0].column.as_ref().unwrap().value, "a");
    assert!(ci.columns[1].column.is_none());
    let StatementKind::CreateIndex(ci) = kind("CREATE INDEX ON t (a)") else {
        panic!()
    };
    assert!(ci.name.is_none() && !ci.concurrently && !ci.unique);
}

#[test]
fn drops_truncate_dml() {
    let StatementKind::Drop(d) = kind("DROP TABLE IF EXISTS a, b CASCADE") else {
        panic!()
    };
    assert_eq!(
        (d.object, d.if_exists, d.cascade, d.names.len()),
        (ObjectKind::Table, true, true, 2)
    );
    let StatementKind::Drop(d) = kind("DROP INDEX i") else {
        panic!()
    };
    assert_eq!((d.object, d.concurrently), (ObjectKind::Index, false));
    let s = one("DROP INDEX CONCURRENTLY i");
    assert_eq!(s.source, StatementSource::Recognized);
    assert!(matches!(
        s.kind,
        StatementKind::Drop(Drop {
            concurrently: true,
            ..
        })
    ));
    let StatementKind::Truncate(t) = kind("TRUNCATE TABLE a, b CASCADE") else {
        panic!()
    };
    assert!(t.cascade && t.tables.len() == 2);
    let StatementKind::Insert(i) = kind("INSERT INTO t (a, b) VALUES (1, 2)") else {
        panic!()
    };
    assert!(i.has_column_list && i.values && i.columns.len() == 2);
    let StatementKind::Insert(i) = kind("INSERT INTO t SELECT * FROM u") else {
        panic!()
    };
    assert!(!i.has_column_list && !i.values);
    let StatementKind::Update(u) = kind("UPDATE t SET a = 1, a = 2") else {
        panic!()
    };
    assert!(!u.has_where);
    assert_eq!(u.table.to_string(), "t");
    assert_eq!(u.assignments.len(), 2);
    let StatementKind::Update(u) = kind("UPDATE t SET a = 1 WHERE b") else {
        panic!()
    };
    assert!(u.has_where);
    let StatementKind::Delete(d) = kind("DELETE FROM x") else {
        panic!()
    };
    assert!(!d.has_where && d.tables[0].to_string() == "x");
    let StatementKind::Delete(d) =
        kind("WITH d AS (DELETE FROM x RETURNING *) INSERT INTO y SELECT * FROM d")
    else {
        panic!()
    };
    assert!(!d.has_where && d.tables[0].to_string() == "x");
    let StatementKind::Insert(i) = kind("COPY t (a, b) FROM stdin") else {
        panic!()
    };
    assert!(i.has_column_list && !i.values);
    let StatementKind::Delete(d) = kind("DELETE FROM x WHERE id = 1") else {
        panic!()
    };
    assert!(d.has_where);
}

#[test]
fn session_and_transaction_statements() {
    assert_eq!(
        kind("SET LOCAL lock_timeout = '5s'"),
        StatementKind::Set(Set {
            name: "lock_timeout".into(),
            local: true,
            value: Some("'5s'".into())
        })
    );
    assert!(matches!(
        kind("SET lock_timeout TO '1s'"),
        StatementKind::Set(Set { local: false, .. })
    ));
    assert_eq!(kind("BEGIN"), StatementKind::Begin);
    assert_eq!(kind("START TRANSACTION"), StatementKind::Begin);
    assert_eq!(kind("COMMIT"), StatementKind::Commit);
    assert_eq!(kind("END"), StatementKind::Commit);
    assert_eq!(kind("ROLLBACK"), StatementKind::Rollback);
    assert_eq!(kind("SAVEPOINT a"), StatementKind::Savepoint);
    assert_eq!(kind("ROLLBACK TO SAVEPOINT a"), StatementKind::Savepoint);
    assert_eq!(kind("RESET ALL"), StatementKind::Reset { name: None });
    assert_eq!(kind("SELECT 1"), StatementKind::Select);
}

#[test]
fn maintenance_and_other_ddl() {
    assert!(matches!(
        kind("VACUUM FULL t"),
        StatementKind::Vacuum(Vacuum { full: true, .. })
    ));
    assert!(matches!(
        kind("VACUUM (FULL) t"),
        StatementKind::Vacuum(Vacuum { full: true, .. })
    ));
    assert!(matches!(
        kind("REINDEX INDEX CONCURRENTLY i"),
        StatementKind::Reindex(Reindex {
            concurrently: true,
            ..
        })
    ));
    assert!(matches!(
        kind("CLUSTER t USING i"),
        StatementKind::Cluster(_)
    ));
    assert_eq!(
        kind("DO $$ BEGIN PERFORM 1; END $$"),
        StatementKind::DoBlock
    );
    assert!(
        matches!(kind("LOCK TABLE t IN SHARE MODE"), StatementKind::Lock { mode: Some(m), .. } if m == "SHARE")
    );
    assert!(matches!(
        kind("REFRESH MATERIALIZED VIEW CONCURRENTLY v"),
        StatementKind::RefreshMaterializedView {
            concurrently: true,
            ..
        }
    ));
    assert!(matches!(
        kind("COMMENT ON COLUMN t.a IS 'x'"),
        StatementKind::Comment {
            object: ObjectKind::Column,
            ..
        }
    ));
    assert_eq!(
        kind("GRANT SELECT ON t TO r"),
        StatementKind::Grant { revoke: false }
    );
    assert_eq!(
        kind("REVOKE SELECT ON t FROM r"),
        StatementKind::Grant { revoke: true }
    );
    assert!(matches!(
        kind("CREATE VIEW v AS SELECT 1"),
        StatementKind::CreateOther(CreateOther {
            object: ObjectKind::View,
            ..
        })
    ));
    assert!(matches!(
        kind("CREATE EXTENSION IF NOT EXISTS pgcrypto"),
        StatementKind::CreateOther(CreateOther {
            object: ObjectKind::Extension,
            if_not_exists: true,
            ..
        })
    ));
    assert!(matches!(
        kind("CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()"),
        StatementKind::CreateOther(CreateOther {
            object: ObjectKind::Trigger,
            table: Some(_),
            ..
        })
    ));
    assert!(
        matches!(kind("ALTER TYPE mood ADD VALUE 'x'"), StatementKind::AlterOther(AlterOther { object: ObjectKind::Type, ref action, .. }) if action == "ADD VALUE")
    );
    assert!(matches!(
        kind("ALTER SEQUENCE s RESTART"),
        StatementKind::AlterOther(AlterOther {
            object: ObjectKind::Sequence,
            ..
        })
    ));
    assert!(matches!(
        kind("CREATE DATABASE d"),
        StatementKind::CreateOther(CreateOther {
            object: ObjectKind::Database,
            ..
        })
    ));
    assert!(
        matches!(kind("EXPLAIN SELECT 1"), StatementKind::Other { ref keyword } if keyword == "EXPLAIN")
    );
}

#[test]
fn renames_of_other_objects_carry_the_new_name() {
    for (sql, object) in [
        ("ALTER INDEX a RENAME TO b", ObjectKind::Index),
        ("ALTER INDEX IF EXISTS s.a RENAME TO b", ObjectKind::Index),
        ("ALTER SEQUENCE a RENAME TO b", ObjectKind::Sequence),
        ("ALTER VIEW a RENAME TO b", ObjectKind::View),
        (
            "ALTER MATERIALIZED VIEW a RENAME TO b",
            ObjectKind::MaterializedView,
        ),
        ("ALTER TYPE a RENAME TO b", ObjectKind::Type),
    ] {
        let StatementKind::AlterOther(a) = kind(sql) else {
            panic!("{sql}")
        };
        assert_eq!(a.object, object, "{sql}");
        assert_eq!(
            a.new_name.map(|n| n.to_string()).as_deref(),
            Some("b"),
            "{sql}"
        );
    }
    let StatementKind::AlterOther(a) = kind("ALTER INDEX a SET TABLESPACE x") else {
        panic!()
    };
    assert_eq!(a.new_name, None);
}

#[test]
fn mysql_statements() {
    let StatementKind::CreateTable(ct) = one_my(
        "CREATE TABLE `t` (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20), KEY idx_name (name), UNIQUE KEY uk (name)) ENGINE=MyISAM",
    )
    .kind
    else {
        panic!()
    };
    assert!(ct.columns[0].auto_increment);
    assert_eq!(
        ct.engine.as_deref().map(str::to_lowercase).as_deref(),
        Some("myisam")
    );
    assert!(
        matches!(&ct.constraints[0].kind, ConstraintKind::Index { columns } if columns[0].value == "name")
    );
    let StatementKind::AlterTable(at) =
        one_my("ALTER TABLE t MODIFY COLUMN name VARCHAR(40) NOT NULL, CHANGE a b INT, ALGORITHM=INPLACE, LOCK=NONE").kind
    else {
        panic!()
    };
    assert_eq!(at.algorithm.as_deref(), Some("INPLACE"));
    assert_eq!(at.lock.as_deref(), Some("NONE"));
    assert!(
        matches!(&at.actions[0], AlterAction::ModifyColumn { column } if column.data_type.length == Some(40))
    );
    assert!(
        matches!(&at.actions[1], AlterAction::ChangeColumn { old_name, column } if old_name.value == "a" && column.name.value == "b")
    );
    assert!(
        matches!(one_my("RENAME TABLE a TO b").kind, StatementKind::RenameTable { ref renames } if renames.len() == 1)
    );
    assert!(matches!(
        one_my("DROP INDEX i ON t").kind,
        StatementKind::Drop(Drop { table: Some(_), .. })
    ));
}

#[test]
fn unparsed_statements_keep_error_location_and_lexical_class() {
    let v = parse_file(
        "SELECT 1;\nDROP TABLE t FROBNICATE;\nSELECT 2;",
        Dialect::Postgres,
    );
    assert_eq!(v.len(), 3);
    let StatementSource::Unparsed { error } = &v[1].source else {
        panic!("{:?}", v[1])
    };
    assert!(error.message.contains("FROBNICATE"), "{error:?}");
    assert_eq!(
        error.position,
        Some(Position {
            line: 2,
            column: 14
        })
    );
    assert_eq!(v[1].lexical(), LexicalClass::DropTable);
    assert_eq!(v[2].kind, StatementKind::Select);
    assert_eq!(v[2].span.start.line, 3);
}

#[test]
fn tokenizer_failures_become_unparsed_with_a_class() {
    let v = parse_file(
        "CREATE TABLE a (id int primary key);\nDELETE FROM t WHERE x = 'oops;\n",
        Dialect::Postgres,
    );
    assert_eq!(v.len(), 2);
    assert!(v[0].is_understood());
    assert!(!v[1].is_understood());
    assert_eq!(v[1].lexical(), LexicalClass::Delete { has_where: true });
    assert_eq!(v[1].span.start, Position { line: 2, column: 1 });
}

#[test]
fn lexical_class_is_public() {
    assert_eq!(lexical_class("truncate x"), LexicalClass::Truncate);
    assert_eq!(
        lexical_class("ALTER TABLE t DROP COLUMN c"),
        LexicalClass::AlterTableDropColumn
    );
}

#[test]
fn header_and_statement_comments() {
    let f = parse_source(
        "-- bytegate-ignore-file drop-table\n/* block */\n\n-- bytegate-ignore truncate -- reason\nTRUNCATE t; -- trailing\nSELECT 1;\n-- tail",
        Dialect::Postgres,
    );
    assert_eq!(f.header_comments.len(), 3);
    assert_eq!(
        f.header_comments[0].text,
        " bytegate-ignore-file drop-table"
    );
    assert!(f.header_comments[1].block);
    let s = &f.statements[0];
    assert_eq!(s.leading_comments.last().unwrap().line, 4);
    assert_eq!(s.trailing_comment.as_ref().unwrap().text, " trailing");
    assert!(f.statements[1].leading_comments.is_empty());
    assert_eq!(f.comments.len(), 5);
}

#[test]
fn crlf_line_endings() {
    let f = parse_source(
        "-- head\r\nDROP TABLE a; -- why\r\n-- next\r\nSELECT\r\n  1;\r\n",
        Dialect::Postgres,
    );
    let s = &f.statements;
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].span.start, Position { line: 2, column: 1 });
    assert_eq!(s[0].trailing_comment.as_ref().unwrap().text, " why");
    assert_eq!(s[1].leading_comments[0].text, " next");
    assert_eq!(s[1].span.start.line, 4);
    assert_eq!(s[1].span.end.line, 5);
    assert_eq!(f.header_comments[0].text, " head");
}

#[test]
fn empty_and_comment_only_files() {
    assert!(parse_file("", Dialect::Postgres).is_empty());
    assert!(parse_file("  \n;;\n", Dialect::Postgres).is_empty());
    let f = parse_source("-- only a comment\n", Dialect::Postgres);
    assert!(f.statements.is_empty());
    assert_eq!(f.header_comments.len(), 1);
}

#[test]
fn split_statements_is_public() {
    let v = split_statements("a;\n b", Dialect::Postgres);
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].byte_range, 4..5);
}

#[test]
fn deep_nesting_is_a_parse_error_not_a_crash() {
    let depth = 100_000;
    let sql = format!(
        "SELECT {}1{};\nSELECT 2;",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let v = parse_file(&sql, Dialect::Postgres);
    assert_eq!(v.len(), 2);
    assert!(!v[0].is_understood());
    assert!(v[1].is_understood());
    let sql = format!("SELECT {}1;", "-".repeat(depth));
    let v = parse_file(&sql, Dialect::Postgres);
    assert_eq!(v.len(), 1);
    let sql = format!("SELECT {} 1;", "NOT ".repeat(depth));
    let v = parse_file(&sql, Dialect::Postgres);
    assert_eq!(v.len(), 1);
}

#[test]
fn nesting_just_under_the_limit_adapts_on_a_small_stack() {
    // Parsing grows its stack on demand; the adapter walks the AST plainly, so
    // the deepest accepted statement must fit a modest worker-thread stack.
    let depth = 120;
    let sql = format!(
        "ALTER TABLE t ADD COLUMN a int DEFAULT {}random(){};",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || parse_file(&sql, Dialect::Postgres))
        .unwrap();
    let v = handle.join().unwrap();
    assert_eq!(v.len(), 1);
    assert!(v[0].is_understood(), "{:?}", v[0].source);
}

#[test]
fn long_operator_chains_do_not_overflow_small_stacks() {
    // Each chained operator is one more AST level: sqlparser's Display, visitor
    // and Drop recurse through them.
    let cases = [
        format!(
            "ALTER TABLE t ADD COLUMN a int DEFAULT 1{};",
            "+1".repeat(3_000)
        ),
        format!(
            "CREATE TABLE t (a int, CHECK (a > 0{}));",
            " AND a > 0".repeat(3_000)
        ),
        format!("DELETE FROM t WHERE {} true;", "a AND ".repeat(20_000)),
        format!("SELECT 1{};", "+1".repeat(200_000)),
    ];
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            cases
                .iter()
                .map(|sql| parse_file(sql, Dialect::Postgres).remove(0))
                .collect::<Vec<_>>()
        })
        .unwrap();
    let v = handle.join().unwrap();
    assert!(matches!(&v[0].kind, StatementKind::AlterTable(_)));
    assert!(matches!(&v[1].kind, StatementKind::CreateTable(_)));
    assert!(matches!(&v[2].kind, StatementKind::Delete(d) if d.has_where));
    assert!(!v[3].is_understood());
    assert_eq!(v[3].lexical(), LexicalClass::Other);
}

#[test]
fn unterminated_constructs_never_lose_text() {
    for sql in [
        "SELECT 1;\nSELECT 'abc",
        "SELECT 1;\nSELECT $$abc",
        "SELECT 1;\nSELECT $tag$abc $$ x",
        "SELECT 1;\n/* open comment",
        "SELECT 1;\nSELECT \"abc",
        "SELECT 1;\nSELECT E'abc\\'",
    ] {
        let v = parse_file(sql, Dialect::Postgres);
        assert_eq!(v.len(), 2, "{sql}: {v:#?}");
        assert!(!v[1].is_understood() || sql.contains("/*"), "{sql}");
        assert_eq!(v[1].byte_range.end, sql.len(), "{sql}");
    }
}

#[test]
fn lossy_utf8_input_is_fine() {
    let bytes = b"CREATE TABLE \xff\xfe (a int);\nSELECT '\xc3\x28';";
    let text = String::from_utf8_lossy(bytes);
    let v = parse_file(&text, Dialect::Postgres);
    assert_eq!(v.len(), 2);
    for s in &v {
        assert_eq!(&text[s.byte_range.clone()], s.text);
    }
}

#[test]
fn large_file_is_linear_and_windowed() {
    // ~2 MB here, several tokenizer windows (the 50 MB run is the `parse_large` bench).
    let stmt = "INSERT INTO t (a, b) VALUES (1, 'x;y'); -- c\n";
    let sql = stmt.repeat(2_000_000 / stmt.len());
    let start = std::time::Instant::now();
    let v = parse_file(&sql, Dialect::Postgres);
    assert_eq!(v.len(), 2_000_000 / stmt.len());
    assert!(v.iter().all(Statement::is_understood));
    let last = v.last().unwrap();
    assert_eq!(last.span.start.line as usize, v.len());
    assert!(start.elapsed().as_secs() < 60);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    const SAMPLES: &[&str] = &[
        "CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'a;b');",
        "ALTER TABLE t ADD COLUMN c int, ALTER CONSTRAINT k NOT DEFERRABLE;",
        "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN NEW.x := 1; RETURN NEW; END $$ LANGUAGE plpgsql;",
        "DO $x$ BEGIN RAISE NOTICE 'hi;'; END $x$;",
        "DROP INDEX CONCURRENTLY IF EXISTS i;",
        "-- comment ; with semicolon\nDELETE FROM t WHERE a = E'\\'';",
        "/* nested /* comment */ ; */ UPDATE t SET a = \"b\";",
        "CREATE TABLE p (CONSTRAINT nn NOT NULL a, a int);",
        "REINDEX (CONCURRENTLY) TABLE t; VACUUM (FULL) t; CLUSTER t USING i;",
        "INSERT INTO t VALUES (1, 'é', $1, ARRAY[1,2]);",
    ];

    fn check(text: &str, dialect: Dialect) {
        let f = parse_source(text, dialect);
        let lines = text.split('\n').count() as u32;
        let mut prev_end = 0usize;
        for s in &f.statements {
            assert!(s.byte_range.start >= prev_end);
            assert!(s.byte_range.end <= text.len());
            assert!(text.is_char_boundary(s.byte_range.start));
            assert!(text.is_char_boundary(s.byte_range.end));
            prev_end = s.byte_range.end;
            assert!(s.span.start.line >= 1 && s.span.start.line <= lines);
            assert!(s.span.end.line >= s.span.start.line && s.span.end.line <= lines);
            assert!(!s.text.trim().is_empty());
        }
        for c in &f.comments {
            assert!(c.line >= 1 && c.line <= lines);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        #[test]
        fn random_text_never_panics(text in "\\PC{0,300}", my in any::<bool>()) {
            check(&text, if my { Dialect::Mysql } else { Dialect::Postgres });
        }

        #[test]
        fn sql_like_soup_never_panics(parts in proptest::collection::vec(
            prop_oneof![
                Just("'"), Just("\""), Just("$$"), Just("$a$"), Just("--"), Just("/*"), Just("*/"),
                Just(";"), Just("("), Just(")"), Just("\n"), Just(" "), Just("E'\\'"), Just("`"), Just("#"),
                Just("CREATE TABLE t (a int)"), Just("DROP"), Just("INDEX"), Just("CONCURRENTLY"),
                Just("ALTER TABLE t"), Just("NOT NULL"), Just("BEGIN ATOMIC"), Just("END"), Just("CASE"),
                Just("CREATE FUNCTION f() RETURNS int LANGUAGE sql"), Just("é"), Just("\u{0}"), Just("1_"),
            ],
            0..60,
        ), my in any::<bool>()) {
            let text: String = parts.concat();
            check(&text, if my { Dialect::Mysql } else { Dialect::Postgres });
        }

        #[test]
        fn mutated_samples_never_panic(
            sample in 0..SAMPLES.len(),
            cuts in proptest::collection::vec((any::<prop::sample::Index>(), 0..4u8, "\\PC{0,3}"), 0..6),
        ) {
            let mut text = SAMPLES[sample].to_string();
            for (at, op, insert) in cuts {
                if text.is_empty() { break; }
                let mut i = at.index(text.len());
                while !text.is_char_boundary(i) { i -= 1; }
                match op {
                    0 => text.insert_str(i, &insert),
                    1 => { text.truncate(i); }
                    2 => { let j = (i + 3).min(text.len()); if text.is_char_boundary(j) { text.replace_range(i..j, ""); } }
                    _ => { let t = text.clone(); text.push_str(&t[i..]); }
                }
            }
            check(&text, Dialect::Postgres);
            check(&text, Dialect::Mysql);
        }
    }
}
