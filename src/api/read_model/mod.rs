//! The read model of the operator surface: what the REST API returns and the
//! dashboard renders, as serde-serializable structs with OpenAPI schemas
//! (utoipa). Built from the meta database only (stored decisions, rows and
//! audit entries), never from the forge, so reading costs no forge calls.
//!
//! Lists are newest first and cursor-paged: a page's `next_cursor` is passed
//! back as `cursor` for the next one (an opaque string; today the last row's
//! id, so pages stay stable while rows are added).
//!
//! - [`changes`]: one entry per pull / merge request (review, approvals per
//!   environment against the policy, rollout stages) and one change in detail.
//! - [`activity`]: deployments (rollout stages), audit entries with the
//!   chain's verification status, backups.

pub mod activity;
pub mod changes;

pub use activity::{
    AuditEntryView, AuditPage, AuditQuery, BackupPage, BackupQuery, BackupView, ChainStatus,
    DeploymentPage, DeploymentQuery, DeploymentView, audit_entries, backups, chain_status,
    deployments,
};
pub use changes::{
    ApprovalRecordView, ChangeDetail, ChangePage, ChangeQuery, ChangeSummary, EnvironmentApprovals,
    EnvironmentReview, FindingView, ReviewSummary, RolloutView, SchemaDiffView, StageView, change,
    changes,
};

use crate::store::StoreError;
use chrono::{DateTime, Utc};

/// Rows per page when the caller names no limit.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page.
pub const MAX_LIMIT: u32 = 200;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The cursor is not one this API handed out.
    #[error("`cursor` is not a cursor this API returned: {0:?}")]
    BadCursor(String),
    /// A filter value is not valid (an unknown state, ...).
    #[error("{0}")]
    BadFilter(String),
    /// The meta database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a page starts and how long it is (the `cursor` and `limit` query
/// parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageRequest {
    /// The previous page's `next_cursor`; `None`: the first page.
    pub cursor: Option<String>,
    /// Rows wanted (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).
    pub limit: Option<u32>,
}

impl PageRequest {
    /// The id rows must be below, from the cursor.
    fn before(&self) -> Result<Option<i64>, ReadError> {
        match self.cursor.as_deref() {
            None | Some("") => Ok(None),
            Some(c) => c
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .map(Some)
                .ok_or_else(|| ReadError::BadCursor(c.to_string())),
        }
    }

    /// Rows to fetch: one more than the page, to know whether another follows.
    fn fetch(&self) -> i64 {
        i64::from(self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)) + 1
    }

    /// Cuts the fetched rows to the page; the cursor of the next page when
    /// there is one.
    fn finish<T>(&self, rows: &mut Vec<T>, id: impl Fn(&T) -> i64) -> Option<String> {
        let page = usize::try_from(self.fetch() - 1).unwrap_or(usize::MAX);
        if rows.len() <= page {
            return None;
        }
        rows.truncate(page);
        rows.last().map(|r| id(r).to_string())
    }
}

/// Parses an optional filter value with `parse`, naming the filter when it
/// is not one of `known`.
fn parse_filter<T: Copy>(
    what: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    known: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<Option<T>, ReadError> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    parse(v).map(Some).ok_or_else(|| {
        let names: Vec<&str> = known.iter().map(|k| name(*k)).collect();
        ReadError::BadFilter(format!(
            "`{what}` must be one of {}, not {v:?}",
            names.join(", ")
        ))
    })
}

/// Milliseconds from start to finish (or to `now` while it runs).
fn duration_ms(
    started: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<i64> {
    Some((finished.unwrap_or(now) - started?).num_milliseconds())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_checked_and_pages_cut() {
        let p = PageRequest {
            cursor: Some("17".into()),
            limit: Some(2),
        };
        assert_eq!(p.before().unwrap(), Some(17));
        assert_eq!(p.fetch(), 3);
        let mut rows = vec![16, 15, 14];
        assert_eq!(p.finish(&mut rows, |r| *r), Some("15".to_string()));
        assert_eq!(rows, [16, 15]);
        let mut last = vec![2];
        assert_eq!(p.finish(&mut last, |r| *r), None);
        for bad in ["x", "-1", "0", "1.5"] {
            let p = PageRequest {
                cursor: Some(bad.into()),
                limit: None,
            };
            assert!(matches!(p.before(), Err(ReadError::BadCursor(_))), "{bad}");
        }
        let huge = PageRequest {
            cursor: None,
            limit: Some(100_000),
        };
        assert_eq!(huge.fetch(), i64::from(MAX_LIMIT) + 1);
    }
}
