//! Verifying the audit hash chain: recompute every row's hash, follow the
//! links, and check the recorded chain start and an expected head.

use super::*;

/// Where the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first row that does not verify.
    pub id: i64,
    /// Why.
    pub reason: String,
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainReport {
    /// Rows checked (chained rows up to the break, or all).
    pub verified: u64,
    /// Rows from before the chain existed (no hash), skipped.
    pub unchained: u64,
    /// The hash of the last verified row (publish it elsewhere to detect
    /// truncation of the newest rows, which a chain alone cannot see).
    pub head: Option<String>,
    /// The first broken row, if any.
    pub broken: Option<ChainBreak>,
    /// With an expected head: rows verified after the row carrying it.
    pub after_expected: Option<u64>,
}

#[derive(FromRow)]
struct ChainRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    forge: Option<String>,
    repo: Option<String>,
    number: Option<i64>,
    environment: Option<String>,
    detail: Value,
    prev_hash: Option<String>,
    hash: Option<String>,
}

/// Walks `audit_log` in id order and recomputes every hash; reports the first
/// row whose content, hash or link to the previous row does not match. Rows
/// without a hash are skipped only before the recorded chain start
/// (`audit_chain_start`); from it on they are breaks. With `expect_head` (a
/// head published earlier), the chain must still hold a row with that hash:
/// removing the newest rows, which the links alone cannot show, is a break.
pub async fn verify_chain(
    pool: &PgPool,
    expect_head: Option<&str>,
) -> Result<ChainReport, StoreError> {
    // No record (deleted) means no row may lack a hash.
    let start: i64 = sqlx::query_scalar("SELECT first_id FROM audit_chain_start")
        .fetch_optional(pool)
        .await?
        .unwrap_or(i64::MIN);
    let mut rows = sqlx::query_as::<_, ChainRow>(
        "SELECT id, at, actor, action, forge, repo, number, environment, detail, prev_hash, hash
         FROM audit_log ORDER BY id",
    )
    .fetch(pool);
    let mut report = ChainReport::default();
    let mut expected_prev: Option<String> = None;
    let mut last_id = 0;
    while let Some(r) = rows.try_next().await? {
        last_id = r.id;
        let Some(hash) = &r.hash else {
            if expected_prev.is_none() && r.id < start {
                report.unchained += 1;
                continue;
            }
            report.broken = Some(ChainBreak {
                id: r.id,
                reason: if r.id >= start && expected_prev.is_none() {
                    "the row has no hash but comes after the chain start (hashes were stripped)"
                        .to_string()
                } else {
                    "the row has no hash".to_string()
                },
            });
            return Ok(report);
        };
        let want_prev = expected_prev.as_deref().unwrap_or(GENESIS_HASH);
        if r.prev_hash.as_deref() != Some(want_prev) {
            report.broken = Some(ChainBreak {
                id: r.id,
                reason: format!(
                    "prev_hash {} does not match the previous row's hash {want_prev} (a row was removed or reordered)",
                    r.prev_hash.as_deref().unwrap_or("(none)")
                ),
            });
            return Ok(report);
        }
        let content = Canonical {
            at: r.at,
            actor: &r.actor,
            action: &r.action,
            forge: r.forge.as_deref(),
            repo: r.repo.as_deref(),
            number: r.number,
            environment: r.environment.as_deref(),
            detail: &r.detail,
        };
        let computed = row_hash(want_prev, &content);
        if &computed != hash {
            report.broken = Some(ChainBreak {
                id: r.id,
                reason: format!(
                    "the content does not match its hash (stored {hash}, computed {computed}): the row was altered"
                ),
            });
            return Ok(report);
        }
        report.verified += 1;
        report.head = Some(hash.clone());
        if let Some(n) = report.after_expected.as_mut() {
            *n += 1;
        } else if expect_head == Some(hash.as_str()) {
            report.after_expected = Some(0);
        }
        expected_prev = Some(hash.clone());
    }
    if let Some(want) = expect_head
        && report.after_expected.is_none()
    {
        report.broken = Some(ChainBreak {
            id: last_id,
            reason: format!(
                "the expected head {want} is not in the chain (the newest rows were removed or replaced)"
            ),
        });
    }
    Ok(report)
}

/// The hash of the newest row, if it has one (to publish, see [`verify_chain`]).
pub async fn head_hash(pool: &PgPool) -> Result<Option<(i64, String)>, StoreError> {
    let row: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(id, h)| h.map(|h| (id, h))))
}
