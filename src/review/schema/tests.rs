//! Tests of `schema`.

use super::*;
use crate::review::model::Dialect;
use crate::review::parse::parse_file;

fn schema_after(existing: &str, new: &str) -> Schema {
    let mut s = Schema::new();
    for st in parse_file(existing, Dialect::Postgres) {
        s.apply(&st, Origin::Existing);
    }
    for (i, st) in parse_file(new, Dialect::Postgres).iter().enumerate() {
        s.apply(st, Origin::New { file: 0, stmt: i });
    }
    s
}

fn name(n: &str) -> ObjectName {
    ObjectName::simple(n)
}

#[test]
fn tables_created_in_the_change_are_new() {
    let s = schema_after(
        "CREATE TABLE old (id bigint PRIMARY KEY);",
        "CREATE TABLE fresh (id bigint PRIMARY KEY);",
    );
    assert!(s.is_new_table(&name("fresh")));
    assert!(!s.is_new_table(&name("old")));
    assert!(!s.is_new_table(&name("never_seen")));
    assert!(
        s.table(&name("FRESH")).is_some(),
        "unquoted names fold case"
    );
}

#[test]
fn renames_and_drops_follow_the_table() {
    let s = schema_after(
        "",
        "CREATE TABLE a (id bigint PRIMARY KEY);\nALTER TABLE a RENAME TO b;\nCREATE TABLE c (id bigint);\nDROP TABLE c;",
    );
    assert!(s.is_new_table(&name("b")));
    assert!(s.table(&name("a")).is_none());
    assert!(s.table(&name("c")).is_none());
}

#[test]
fn columns_nullability_and_types_are_tracked() {
    let s = schema_after(
        "CREATE TABLE u (id bigint PRIMARY KEY, email text, n integer NOT NULL);",
        "ALTER TABLE u ALTER COLUMN email SET NOT NULL, ALTER COLUMN n DROP NOT NULL, ALTER COLUMN n TYPE bigint;",
    );
    let t = s.table(&name("u")).unwrap();
    let col = |c: &str| t.column(&Ident::new(c)).unwrap();
    assert!(!col("id").nullable);
    assert!(!col("email").nullable);
    assert!(col("n").nullable);
    assert_eq!(col("n").data_type.name, "bigint");
}

#[test]
fn indexes_and_checks_are_tracked() {
    let s = schema_after(
        "CREATE TABLE o (id bigint PRIMARY KEY, u bigint, v bigint);",
        "CREATE INDEX o_u_v ON o (u, v);\nALTER TABLE o ADD CONSTRAINT v_nn CHECK (v IS NOT NULL) NOT VALID;",
    );
    let t = s.table(&name("o")).unwrap();
    assert!(t.has_index_covering(&["u".to_string()]));
    assert!(t.has_index_covering(&["v".to_string(), "u".to_string()]));
    assert!(!t.has_index_covering(&["v".to_string()]));
    assert!(!t.has_valid_not_null_check(&Ident::new("v")));
    assert!(s.is_new_index(&name("o_u_v")));
    let s2 = schema_after(
        "CREATE TABLE o (id bigint PRIMARY KEY, v bigint);\nALTER TABLE o ADD CONSTRAINT v_nn CHECK (v IS NOT NULL) NOT VALID;",
        "ALTER TABLE o VALIDATE CONSTRAINT v_nn;",
    );
    assert!(
        s2.table(&name("o"))
            .unwrap()
            .has_valid_not_null_check(&Ident::new("v"))
    );
}

#[test]
fn foreign_keys_are_recorded_only_for_the_change() {
    let s = schema_after(
        "CREATE TABLE a (id bigint PRIMARY KEY, p bigint REFERENCES p (id));",
        "CREATE TABLE b (id bigint PRIMARY KEY, p bigint REFERENCES p (id));",
    );
    assert_eq!(s.table(&name("a")).unwrap().foreign_keys().count(), 0);
    let fks: Vec<_> = s.table(&name("b")).unwrap().foreign_keys().collect();
    assert_eq!(fks.len(), 1);
    assert_eq!(fks[0].columns, ["p"]);
}

#[test]
fn long_names_are_found_by_their_63_byte_prefix() {
    let long = format!("idx_{}", "x".repeat(70));
    let s = schema_after(
        "",
        &format!("CREATE TABLE t (id bigint PRIMARY KEY);\nCREATE INDEX {long} ON t (id);"),
    );
    assert!(s.is_new_index(&name(&long[..63])));
}

#[test]
fn renamed_constraints_keep_their_index() {
    let s = schema_after(
        "CREATE TABLE t (id bigint, CONSTRAINT t_old UNIQUE (id));",
        "ALTER TABLE t RENAME CONSTRAINT t_old TO t_new;",
    );
    assert!(s.index_table(&name("t_new")).is_some());
    assert!(s.index_table(&name("t_old")).is_none());
}

#[test]
fn renamed_indexes_and_views_are_followed() {
    let s = schema_after(
        "",
        "CREATE TABLE t (id bigint PRIMARY KEY);\nCREATE INDEX a ON t (id);\nALTER INDEX a RENAME TO b;\nCREATE VIEW v AS SELECT 1;\nALTER VIEW v RENAME TO w;",
    );
    assert!(s.is_new_index(&name("b")));
    assert!(s.index_table(&name("a")).is_none());
    assert!(s.is_new_table(&name("w")));
}

#[test]
fn dropped_and_renamed_columns_carry_their_indexes() {
    let s = schema_after(
        "CREATE TABLE t (id bigint PRIMARY KEY, a bigint, b bigint);\nCREATE INDEX t_a ON t (a);\nCREATE INDEX t_b ON t (b);",
        "ALTER TABLE t DROP COLUMN a;\nALTER TABLE t RENAME COLUMN b TO c;",
    );
    let t = s.table(&name("t")).unwrap();
    assert!(t.column(&Ident::new("a")).is_none());
    assert!(t.column(&Ident::new("c")).is_some());
    assert!(!t.has_index_covering(&["a".to_string()]));
    assert!(!t.has_index_covering(&["b".to_string()]));
    assert!(t.has_index_covering(&["c".to_string()]));
    let names: Vec<_> = t.indexes().filter_map(|i| i.name.clone()).collect();
    assert_eq!(names, ["t_b"]);
}

#[test]
fn renamed_tables_keep_their_indexes_findable() {
    let s = schema_after(
        "CREATE TABLE a (id bigint PRIMARY KEY);\nCREATE INDEX a_id ON a (id);",
        "ALTER TABLE a RENAME TO b;\nALTER TABLE b RENAME TO c;",
    );
    assert_eq!(
        s.index_table(&name("a_id")).map(|t| t.name.as_str()),
        Some("c")
    );
    assert!(s.table(&name("a")).is_none() && s.table(&name("b")).is_none());
}

#[test]
fn not_null_checks_count_through_validate_rename_and_drop() {
    let mut s = schema_after(
        "CREATE TABLE o (id bigint PRIMARY KEY, v bigint);",
        "ALTER TABLE o ADD CONSTRAINT c1 CHECK (v IS NOT NULL);\nALTER TABLE o ADD CONSTRAINT c2 CHECK (v IS NOT NULL) NOT VALID;",
    );
    let v = Ident::new("v");
    assert!(s.table(&name("o")).unwrap().has_valid_not_null_check(&v));
    for (i, st) in parse_file("ALTER TABLE o DROP CONSTRAINT c1;", Dialect::Postgres)
        .iter()
        .enumerate()
    {
        s.apply(st, Origin::New { file: 1, stmt: i });
    }
    assert!(!s.table(&name("o")).unwrap().has_valid_not_null_check(&v));
    for st in parse_file(
        "ALTER TABLE o RENAME CONSTRAINT c2 TO c3;\nALTER TABLE o VALIDATE CONSTRAINT c3;",
        Dialect::Postgres,
    ) {
        s.apply(&st, Origin::New { file: 2, stmt: 0 });
    }
    assert!(s.table(&name("o")).unwrap().has_valid_not_null_check(&v));
}

#[test]
fn uncovered_foreign_keys_agree_with_has_index_covering() {
    let s = schema_after(
        "",
        "CREATE TABLE p (id bigint PRIMARY KEY);\nCREATE TABLE c (id bigint PRIMARY KEY, a bigint, b bigint, x bigint, y bigint, z bigint);\nCREATE INDEX c_ba ON c (b, a, x);\nCREATE INDEX c_expr ON c (lower(y::text), z);\nALTER TABLE c ADD FOREIGN KEY (a, b) REFERENCES p (id, id);\nALTER TABLE c ADD FOREIGN KEY (a) REFERENCES p (id);\nALTER TABLE c ADD FOREIGN KEY (b) REFERENCES p (id);\nALTER TABLE c ADD FOREIGN KEY (z) REFERENCES p (id);\nALTER TABLE c ADD FOREIGN KEY (x, a, b) REFERENCES p (id, id, id);",
    );
    let t = s.table(&name("c")).unwrap();
    assert_eq!(t.foreign_keys().count(), 5);
    let uncovered: Vec<&Vec<String>> = t
        .uncovered_foreign_keys()
        .into_iter()
        .map(|f| &f.columns)
        .collect();
    let expected: Vec<&Vec<String>> = t
        .foreign_keys()
        .filter(|f| !t.has_index_covering(&f.columns))
        .map(|f| &f.columns)
        .collect();
    assert_eq!(uncovered, expected);
    assert_eq!(uncovered, [&vec!["a".to_string()], &vec!["z".to_string()]]);
}

#[test]
fn a_dropped_column_takes_its_foreign_keys_but_not_later_ones() {
    let s = schema_after(
        "CREATE TABLE p (id bigint PRIMARY KEY);\nCREATE TABLE c (id bigint PRIMARY KEY, a bigint, b bigint);",
        "ALTER TABLE c ADD FOREIGN KEY (a) REFERENCES p (id);\nALTER TABLE c ADD FOREIGN KEY (b) REFERENCES p (id);\nALTER TABLE c DROP COLUMN a;\nALTER TABLE c ADD COLUMN a bigint REFERENCES p (id);",
    );
    let t = s.table(&name("c")).unwrap();
    let fks: Vec<&[String]> = t.foreign_keys().map(|f| f.columns.as_slice()).collect();
    assert_eq!(
        fks,
        [["b".to_string()].as_slice(), ["a".to_string()].as_slice()]
    );
    assert_eq!(fks[1], ["a"]);
}

#[test]
fn renaming_a_key_column_onto_another_keeps_both_sets_of_indexes() {
    let s = schema_after(
        "CREATE TABLE t (id bigint PRIMARY KEY, a bigint);\nCREATE INDEX t_a ON t (a);\nCREATE INDEX t_b ON t (b, a);",
        "ALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t RENAME COLUMN b TO a;\nALTER TABLE t RENAME COLUMN a TO c;",
    );
    let t = s.table(&name("t")).unwrap();
    let cols: Vec<Vec<Option<&str>>> = t.indexes().map(|i| t.index_columns(i)).collect();
    assert_eq!(
        cols,
        [
            vec![Some("id")],
            vec![Some("c")],
            vec![Some("c"), Some("c")]
        ]
    );
    assert!(t.has_index_covering(&["c".to_string()]));
}
