//! Prior backups on PostgreSQL: `CREATE TABLE bytegate_backup."<version>_<n>_<table>"
//! AS SELECT * FROM <table> WHERE <the statement's own WHERE>`, in the
//! migration's transaction just before the statement, so the copy and the
//! change commit or roll back together.

use super::super::backup::{
    BACKUP_SCHEMA, BackupPolicy, BackupSkipped, BackupTaken, Dml, NoBackup, backup_table_name,
    consequence, qualified_backup,
};
use super::super::{DeployOptions, Failure, Migration};
use super::failure::{failure_at, failure_of};
use crate::config::WhenImpossible;
use sqlx::{AssertSqlSafe, PgConnection};

/// What the backups of one migration came to.
#[derive(Debug, Default)]
pub(super) struct Taken {
    pub(super) backups: Vec<BackupTaken>,
    pub(super) skipped: Vec<BackupSkipped>,
}

/// Backs up the rows statement `index` of `m` will touch, or records why
/// not. `Err`: the migration must fail (the copy failed, or the environment
/// refuses statements it cannot back up).
pub(super) async fn back_up(
    conn: &mut PgConnection,
    m: &Migration,
    index: usize,
    dml: &Dml,
    policy: &BackupPolicy,
    taken: &mut Taken,
) -> Result<(), Box<Failure>> {
    let number = index + 1;
    let obstacle = match (dml.static_obstacle(), &dml.filter) {
        (Some(o), _) => Some(o),
        (None, Some(filter)) => copy(conn, m, number, dml, filter, policy)
            .await
            .map_err(|e| {
                let mut f = failure_of(m, index, &e, 0);
                f.message = format!("the prior backup of this statement failed: {}", f.message);
                Box::new(f)
            })?
            .map_or_else(Some, |b| {
                taken.backups.push(b);
                None
            }),
        (None, None) => Some(NoBackup::NotSimple),
    };
    let Some(reason) = obstacle else {
        return Ok(());
    };
    if policy.when_impossible == WhenImpossible::Refuse {
        return Err(Box::new(refusal(m, index, dml, &reason, policy)));
    }
    taken.skipped.push(BackupSkipped {
        statement_number: number,
        kind: dml.kind,
        table: dml.table.clone(),
        reason,
    });
    Ok(())
}

/// Copies the rows; `Ok(Err(reason))` when there were too many (nothing kept).
async fn copy(
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

fn refusal(
    m: &Migration,
    index: usize,
    dml: &Dml,
    reason: &NoBackup,
    policy: &BackupPolicy,
) -> Failure {
    let message = format!(
        "the {} on {} cannot be backed up before it runs: {reason}; {}",
        dml.kind,
        dml.table,
        consequence(policy.when_impossible)
    );
    Failure {
        statement_number: index + 1,
        ..failure_at(m, Some(index.min(m.steps.len().saturating_sub(1))), message)
    }
}

/// The data changes of a non-transactional file: never backed up.
pub(super) fn outside_transaction(m: &Migration, opts: &DeployOptions) -> Vec<BackupSkipped> {
    if opts.backup.is_none() {
        return Vec::new();
    }
    m.steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.dml.as_ref().map(|d| BackupSkipped {
                statement_number: i + 1,
                kind: d.kind,
                table: d.table.clone(),
                reason: NoBackup::NonTransactional,
            })
        })
        .collect()
}

/// A non-transactional file with data changes, where the environment refuses
/// what it cannot back up: refused before its first statement.
pub(super) fn refuse_outside_transaction(m: &Migration, opts: &DeployOptions) -> Option<Failure> {
    let policy = opts.backup.as_ref()?;
    if policy.when_impossible != WhenImpossible::Refuse {
        return None;
    }
    let (i, dml) = m
        .steps
        .iter()
        .enumerate()
        .find_map(|(i, s)| s.dml.as_ref().map(|d| (i, d)))?;
    Some(refusal(m, i, dml, &NoBackup::NonTransactional, policy))
}
