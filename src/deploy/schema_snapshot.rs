//! Schema-only snapshots of a PostgreSQL target, taken before and after each
//! rollout stage: `pg_dump --schema-only` when the binary is installed (run
//! through [`crate::backup::tools`], so the password stays out of argv),
//! else a listing from the catalogs. The text is normalized so that two
//! snapshots of an unchanged schema are byte-equal: pg_dump's comments,
//! `SET` lines and `\restrict` keys go.
//!
//! The first line names how the snapshot was taken; snapshots taken in
//! different ways are not comparable (see [`comparable`]).

use crate::backup::tools;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;

/// bytegate's backup schema on a target: its tables come and go with the
/// backup cleaner, so they are not part of the schema a deploy is about.
const EXCLUDED_SCHEMA: &str = crate::deploy::backup::BACKUP_SCHEMA;

/// How long pg_dump (its `ACCESS SHARE` locks) and the catalog queries
/// (`pg_get_indexdef`, `pg_get_expr` lock too) wait for a table someone else
/// holds: a snapshot must not hold up the deploy; without one the stage goes
/// on unsnapshotted (logged).
const LOCK_WAIT: &str = "3s";

/// How a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotSource {
    /// `pg_dump --schema-only`.
    PgDump,
    /// Catalog queries.
    Catalog,
}

/// A snapshot of a target's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaSnapshot {
    /// How it was taken.
    pub source: SnapshotSource,
    /// The normalized schema text, starting with its source line.
    pub text: String,
    /// sha256 of `text` (hex).
    pub sha256: String,
}

/// Why no snapshot could be taken.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Connecting or querying the catalogs failed (no URL in the text).
    #[error("reading the catalogs failed: {0}")]
    Catalog(String),
}

/// Takes a snapshot of the database at `url` the way `like` was taken (so
/// the two compare), or, without `like`, by pg_dump if installed and it
/// succeeds, else by catalog queries.
pub async fn take(
    url: &str,
    like: Option<SnapshotSource>,
) -> Result<SchemaSnapshot, SnapshotError> {
    if like == Some(SnapshotSource::Catalog) {
        return take_from_catalog(url).await;
    }
    if let Ok(pg_dump) = tools::find("pg_dump") {
        let exclude = format!("--exclude-schema={EXCLUDED_SCHEMA}");
        let lock_wait = format!("--lock-wait-timeout={LOCK_WAIT}");
        let args = [
            "--schema-only".as_ref(),
            "--no-owner".as_ref(),
            exclude.as_ref(),
            lock_wait.as_ref(),
        ];
        match tools::output(&pg_dump, &args, url).await {
            Ok(out) => {
                let dump = String::from_utf8_lossy(&out);
                return Ok(finish(SnapshotSource::PgDump, &normalize_dump(&dump)));
            }
            // E.g. a pg_dump older than the server: the catalogs still answer.
            Err(e) => {
                tracing::warn!(error = %e, "pg_dump --schema-only failed; reading the catalogs")
            }
        }
    }
    take_from_catalog(url).await
}

/// A snapshot from catalog queries alone (what [`take`] does without
/// pg_dump).
pub async fn take_from_catalog(url: &str) -> Result<SchemaSnapshot, SnapshotError> {
    Ok(finish(SnapshotSource::Catalog, &catalog(url).await?))
}

/// Whether two snapshots were taken the same way (only then is a
/// difference a schema change).
pub fn comparable(a: &str, b: &str) -> bool {
    a.lines().next() == b.lines().next()
}

fn finish(source: SnapshotSource, body: &str) -> SchemaSnapshot {
    let name = match source {
        SnapshotSource::PgDump => "pg_dump",
        SnapshotSource::Catalog => "catalog",
    };
    let text = format!("-- bytegate schema snapshot ({name})\n{body}");
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    SchemaSnapshot {
        source,
        text,
        sha256,
    }
}

/// pg_dump's output without what changes between two dumps of one schema:
/// comments (they carry versions and sometimes times), `SET` and
/// `set_config` lines, the random `\restrict`/`\unrestrict` keys; runs of
/// blank lines become one.
pub fn normalize_dump(dump: &str) -> String {
    let mut out = String::with_capacity(dump.len());
    let mut blank = true;
    for line in dump.lines() {
        let noise = line.starts_with("--")
            || line.starts_with("SET ")
            || line.starts_with("SELECT pg_catalog.set_config(")
            || line.starts_with("\\restrict")
            || line.starts_with("\\unrestrict");
        if noise {
            continue;
        }
        let is_blank = line.trim().is_empty();
        if is_blank && blank {
            continue;
        }
        blank = is_blank;
        out.push_str(line.trim_end());
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// One line per column, constraint, index, sequence, view and function of
/// the user schemas, in a stable order.
const CATALOG_SQL: &str = "
WITH ns AS (
  SELECT oid, nspname FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema', $1)
    AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'
)
SELECT line FROM (
  SELECT ns.nspname AS s, c.relname AS o, 1 AS k, a.attnum::int AS i,
         format('%s %I.%I column %I %s%s%s',
                CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                               WHEN 'f' THEN 'foreign table' ELSE 'table' END,
                ns.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')) AS line
  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  UNION ALL
  SELECT ns.nspname, c.relname, 2, 0,
         format('constraint %I on %I.%I %s', con.conname, ns.nspname, c.relname,
                pg_get_constraintdef(con.oid))
  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
  JOIN ns ON ns.oid = c.relnamespace
  UNION ALL
  SELECT ns.nspname, c.relname, 3, 0, pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN ns ON ns.oid = c.relnamespace
  UNION ALL
  SELECT ns.nspname, c.relname, 4, 0,
         format('view %I.%I AS %s', ns.nspname, c.relname, pg_get_viewdef(c.oid))
  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('v', 'm')
  UNION ALL
  SELECT ns.nspname, c.relname, 5, 0, format('sequence %I.%I', ns.nspname, c.relname)
  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind = 'S'
  UNION ALL
  SELECT ns.nspname, p.proname, 6, 0,
         format('function %I.%I(%s) md5 %s', ns.nspname, p.proname,
                pg_get_function_identity_arguments(p.oid), md5(pg_get_functiondef(p.oid)))
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE p.prokind IN ('f', 'p')
) x ORDER BY s, o, k, i, line";

async fn catalog(url: &str) -> Result<String, SnapshotError> {
    let fail = |e: sqlx::Error| SnapshotError::Catalog(e.to_string());
    let mut conn = PgConnectOptions::from_str(url)
        .map_err(fail)?
        .application_name("bytegate-snapshot")
        .options([("lock_timeout", LOCK_WAIT), ("statement_timeout", "60s")])
        .connect()
        .await
        .map_err(fail)?;
    let rows: Vec<(String,)> = sqlx::query_as(CATALOG_SQL)
        .bind(EXCLUDED_SCHEMA)
        .fetch_all(&mut conn)
        .await
        .map_err(fail)?;
    let _ = conn.close().await;
    Ok(rows.into_iter().map(|(l,)| l + "\n").collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_dump_noise_is_dropped() {
        let dump = "--\n-- PostgreSQL database dump\n--\n\\restrict abc123\n\nSET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n\nCREATE TABLE public.t (\n    id integer\n);\n\n\n\\unrestrict abc123\n";
        assert_eq!(
            normalize_dump(dump),
            "CREATE TABLE public.t (\n    id integer\n);\n"
        );
    }

    #[test]
    fn snapshots_taken_differently_are_not_comparable() {
        let a = finish(SnapshotSource::PgDump, "x\n");
        let b = finish(SnapshotSource::Catalog, "x\n");
        assert!(!comparable(&a.text, &b.text));
        assert!(comparable(
            &a.text,
            &finish(SnapshotSource::PgDump, "y\n").text
        ));
    }
}
