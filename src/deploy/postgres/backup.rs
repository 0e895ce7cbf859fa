//! Prior backups on PostgreSQL: `CREATE TABLE bytegate_backup."<version>_<n>_<table>"
//! AS SELECT * FROM <table> WHERE <the statement's own WHERE>`, in the
//! migration's transaction just before the statement, so the copy and the
//! change commit or roll back together.

use super::super::Migration;
use super::super::backup::{
    BACKUP_SCHEMA, BackupPolicy, BackupTaken, Dml, NoBackup, backup_table_name, qualified_backup,
};
use sqlx::{AssertSqlSafe, PgConnection};

/// Copies the rows; `Ok(Err(reason))` when there were too many (nothing kept).
pub(super) async fn copy(
    conn: &mut PgConnection,
    m: &Migration,
    number: usize,
    dml: &Dml,
    filter: &crate::review::model::RowFilter,
    policy: &BackupPolicy,
) -> Result<Result<BackupTaken, NoBackup>, sqlx::Error> {
    let (schema_missing,): (bool,) = sqlx::query_as("SELECT to_regnamespace($1) IS NULL")
        .bind(BACKUP_SCHEMA)
        .fetch_one(&mut *conn)
        .await?;
    if schema_missing {
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {BACKUP_SCHEMA}")))
            .execute(&mut *conn)
            .await?;
    }
    let name = free_name(conn, &backup_table_name(&m.version, number, &dml.table)).await?;
    let qualified = qualified_backup(&name);
    // The migration's own relation and predicate: it runs them anyway, in
    // this transaction, a moment later. One row over the cap tells "too many".
    let limit = policy.max_rows.saturating_add(1);
    let sql = format!(
        "CREATE TABLE {qualified} AS SELECT * FROM {} WHERE {} LIMIT {limit}",
        filter.relation, filter.predicate
    );
    let rows = sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if rows > policy.max_rows {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE {qualified}")))
            .execute(&mut *conn)
            .await?;
        return Ok(Err(NoBackup::OverCap {
            cap: policy.max_rows,
        }));
    }
    let primary_key: Vec<(String,)> = sqlx::query_as(
        "SELECT a.attname::text FROM pg_index i
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indrelid = to_regclass($1) AND i.indisprimary
         ORDER BY array_position(i.indkey::int2[], a.attnum)",
    )
    .bind(&dml.table)
    .fetch_all(&mut *conn)
    .await?;
    // Generated columns cannot be written back.
    let columns: Vec<(String,)> = sqlx::query_as(
        "SELECT attname::text FROM pg_attribute
         WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
         ORDER BY attnum",
    )
    .bind(&dml.table)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Ok(BackupTaken {
        statement_number: number,
        kind: dml.kind,
        table: dml.table.clone(),
        backup_table: name,
        rows: i64::try_from(rows).unwrap_or(i64::MAX),
        primary_key: primary_key.into_iter().map(|(c,)| c).collect(),
        columns: columns.into_iter().map(|(c,)| c).collect(),
        assigned: dml.assigned.clone(),
    }))
}

/// `base`, or `base_2`, `base_3`… when a table of that name exists (a version
/// rolled back and applied again keeps its earlier backup).
async fn free_name(conn: &mut PgConnection, base: &str) -> Result<String, sqlx::Error> {
    let mut k = 1u32;
    loop {
        let name = if k == 1 {
            base.to_string()
        } else {
            let suffix = format!("_{k}");
            let mut b = base.to_string();
            while b.len() + suffix.len() > 63 {
                b.pop();
            }
            b + &suffix
        };
        let (free,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NULL")
            .bind(qualified_backup(&name))
            .fetch_one(&mut *conn)
            .await?;
        if free {
            return Ok(name);
        }
        k += 1;
    }
}
