//! Checks request bodies against GitHub's own request schemas
//! (`fixtures/github/upstream/api-contract.json`): types, required fields,
//! enums, `maxItems`, `maxLength`, `anyOf`, and no properties the schema
//! does not define (a typo GitHub would silently ignore).

use serde_json::Value;
use std::sync::OnceLock;

/// The contract file, parsed once.
pub fn contract() -> &'static Value {
    static CONTRACT: OnceLock<Value> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/github/upstream/api-contract.json"
        );
        let text = std::fs::read_to_string(path).expect("api-contract.json is readable");
        serde_json::from_str(&text).expect("api-contract.json is JSON")
    })
}

/// The request-body schema of an operation (`checks/create`, ...).
pub fn request_schema(op: &str) -> Option<&'static Value> {
    contract()["operations"][op]["request_body"].get("schema")
}

/// GitHub's documented response example for an operation and status.
pub fn response_example(op: &str, status: &str, name: Option<&str>) -> Value {
    let examples = &contract()["operations"][op]["responses"][status]["content"]["application/json"]
        ["examples"];
    match name {
        Some(n) => examples[n].clone(),
        None => examples
            .as_object()
            .and_then(|o| o.values().next().cloned())
            .unwrap_or(Value::Null),
    }
}

/// Every violation of `schema` by `value`, as `path: problem` lines.
pub fn validate(value: &Value, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(value, schema, "$", true, &mut out);
    out
}

fn type_ok(value: &Value, ty: &str) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn check(value: &Value, schema: &Value, at: &str, strict: bool, out: &mut Vec<String>) {
    if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(ty) = schema.get("type").and_then(Value::as_str)
        && !type_ok(value, ty)
    {
        out.push(format!("{at}: expected {ty}, got {value}"));
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let (Some(max), Some(s)) = (
        schema.get("maxLength").and_then(Value::as_u64),
        value.as_str(),
    ) && s.chars().count() as u64 > max
    {
        out.push(format!(
            "{at}: {} characters, more than maxLength {max}",
            s.chars().count()
        ));
    }
    if let Some(items) = value.as_array() {
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && items.len() as u64 > max
        {
            out.push(format!(
                "{at}: {} items, more than maxItems {max}",
                items.len()
            ));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(item, item_schema, &format!("{at}[{i}]"), true, out);
            }
        }
    }
    if let Some(obj) = value.as_object() {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    out.push(format!("{at}: missing required `{r}`"));
                }
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in obj {
                match props.get(k) {
                    Some(s) => check(v, s, &format!("{at}.{k}"), true, out),
                    None if strict => out.push(format!("{at}: unknown property `{k}`")),
                    None => {}
                }
            }
        }
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let any = branches.iter().any(|b| {
            let mut errs = Vec::new();
            check(value, b, at, false, &mut errs);
            errs.is_empty()
        });
        if !any {
            out.push(format!("{at}: matches none of the anyOf branches"));
        }
    }
}

/// GitHub's commit-status request (`repos/create-commit-status`) is not in the
/// extract; this is its documented shape (state enum, 140-character description).
pub fn status_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "required": ["state"],
        "properties": {
            "state": {"type": "string", "enum": ["error", "failure", "pending", "success"]},
            "target_url": {"type": "string"},
            "description": {"type": "string", "maxLength": 140},
            "context": {"type": "string"}
        }
    })
}

/// GitHub's answer to `GET /repos/{owner}/{repo}/installation`
/// (`apps/get-repo-installation`), which the extract does not hold: the
/// project's own copy of the documented shape (an `installation` object;
/// bytegate reads only `id`). The fake answers with it; the App's JWT is
/// required (checked by the fake, as GitHub refuses installation tokens here).
pub fn repo_installation_example(id: u64, repo: &str) -> Value {
    let owner = repo.split('/').next().unwrap_or(repo);
    serde_json::json!({
        "id": id,
        "account": {"login": owner, "id": 1, "type": "Organization"},
        "repository_selection": "selected",
        "access_tokens_url": format!("https://api.github.com/app/installations/{id}/access_tokens"),
        "repositories_url": "https://api.github.com/installation/repositories",
        "html_url": format!("https://github.com/organizations/{owner}/settings/installations/{id}"),
        "app_id": 1,
        "app_slug": "bytegate",
        "target_id": 1,
        "target_type": "Organization",
        "permissions": {"checks": "write", "contents": "read", "issues": "write", "pull_requests": "read"},
        "events": ["pull_request", "pull_request_review", "issue_comment", "check_run", "check_suite"],
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "single_file_name": null,
        "suspended_at": null,
        "suspended_by": null
    })
}
