//! What of an audit entry's detail a notice carries: an allowlist per event,
//! so internal texts (`private_detail`: row values, server messages) never
//! leave bytegate, and large values (schema diffs) are cut.

use super::NoticeKind;
use serde_json::{Map, Value, json};

/// Longest schema diff a drift notice carries, in characters.
const MAX_DIFF_CHARS: usize = 4000;

/// A notice's outcome fields.
pub(super) struct Outcome {
    pub result: String,
    pub error: Option<String>,
    pub details: Value,
}

/// The outcome fields of a `kind` notice from its audit detail `d`.
pub(super) fn of(kind: NoticeKind, d: &Value) -> Outcome {
    let result = match kind {
        NoticeKind::ChangeCreated => d["conclusion"].as_str().unwrap_or("reviewed"),
        NoticeKind::ApprovalRequired => "pending",
        NoticeKind::ApprovalGranted => "approved",
        NoticeKind::DeployStarted => "started",
        NoticeKind::DeploySucceeded | NoticeKind::RollbackSucceeded => "succeeded",
        NoticeKind::DeployFailed | NoticeKind::RollbackFailed => "failed",
        NoticeKind::DriftDetected => "drift",
    };
    let keys: &[&str] = match kind {
        NoticeKind::ChangeCreated => &["head_sha", "risk", "errors", "warnings", "infos"],
        NoticeKind::ApprovalRequired => &["head_sha", "required", "missing_roles"],
        NoticeKind::ApprovalGranted => &["source", "state"],
        NoticeKind::DeployStarted => &["rollout", "merge_sha"],
        NoticeKind::DeploySucceeded | NoticeKind::DeployFailed | NoticeKind::RollbackSucceeded => {
            &["rollout"]
        }
        NoticeKind::RollbackFailed => &["rollout", "database"],
        NoticeKind::DriftDetected => &[
            "rollout",
            "database",
            "previous_rollout",
            "expected_sha256",
            "found_sha256",
        ],
    };
    let mut details: Map<String, Value> = keys
        .iter()
        .filter_map(|k| d.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    match kind {
        NoticeKind::ApprovalRequired => {
            // Logins only, whatever else the decision stored about them.
            if let Some(counted) = d["counted"].as_array() {
                details.insert("approved_by".into(), Value::Array(counted.clone()));
            }
        }
        NoticeKind::DeploySucceeded | NoticeKind::DeployFailed => {
            if let Some(dbs) = d["databases"].as_array() {
                details.insert(
                    "databases".into(),
                    dbs.iter().map(database_summary).collect(),
                );
            }
        }
        NoticeKind::DriftDetected => {
            if let Some(diff) = d["diff"].as_str() {
                details.insert("diff".into(), Value::String(cut(diff)));
            }
        }
        _ => {}
    }
    let error = match kind {
        NoticeKind::DeployFailed | NoticeKind::RollbackFailed => {
            d["error"].as_str().map(str::to_string)
        }
        _ => None,
    };
    Outcome {
        result: result.to_string(),
        error,
        details: Value::Object(details),
    }
}

/// One database of a stage: its name, the versions applied, and its error.
fn database_summary(db: &Value) -> Value {
    let applied: Vec<&Value> = db["applied"]
        .as_array()
        .map(|a| a.iter().map(|m| &m["version"]).collect())
        .unwrap_or_default();
    json!({
        "database": db["database"],
        "applied": applied,
        "already_applied": db["already_applied"],
        "error": db["error"],
    })
}

fn cut(text: &str) -> String {
    crate::forge::truncate_with_note(text, MAX_DIFF_CHARS, "\n…(cut)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_detail_never_leaves() {
        let d = json!({"rollout": 3, "database": "main", "error": "boom (ref ab12)",
                       "private_detail": "DETAIL: Key (email)=(x@y) already exists"});
        let o = of(NoticeKind::RollbackFailed, &d);
        assert_eq!(o.result, "failed");
        assert_eq!(o.error.as_deref(), Some("boom (ref ab12)"));
        assert_eq!(o.details, json!({"rollout": 3, "database": "main"}));
    }

    #[test]
    fn a_stage_result_is_summarised_per_database() {
        let d = json!({"rollout": 1, "databases": [{"database": "main", "applied": [
            {"version": "001", "path": "p", "sha256": "s", "duration_ms": 3}],
            "already_applied": 0, "restore_point": null, "error": null, "schema": {"diff": "x"}}]});
        let o = of(NoticeKind::DeploySucceeded, &d);
        assert_eq!(
            o.details,
            json!({"rollout": 1, "databases": [
                {"database": "main", "applied": ["001"], "already_applied": 0, "error": null}]})
        );
        assert_eq!(o.error, None);
    }

    #[test]
    fn drift_diffs_are_cut() {
        let d = json!({"database": "main", "diff": "x".repeat(10_000)});
        let o = of(NoticeKind::DriftDetected, &d);
        let diff = o.details["diff"].as_str().unwrap();
        assert!(diff.chars().count() <= MAX_DIFF_CHARS && diff.ends_with("(cut)"));
    }
}
