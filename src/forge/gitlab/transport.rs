//! One logical request to GitLab: sent, classified, retried when safe.

use super::*;

impl GitlabForge {
    /// Sends one logical request (`path` below `/api/v4`, with its query),
    /// retrying 5xx, 429 and transport failures per the policy.
    pub(super) async fn send(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, ForgeError> {
        let url = format!("{}{path}", self.api);
        // A note POST that failed may still have been stored: the caller looks first.
        let replay_safe = op != OP_CREATE_NOTE;
        with_retries(
            &self.retry,
            &self.metrics,
            "GitLab",
            op,
            replay_safe,
            || self.attempt(op, method.clone(), &url, body),
        )
        .await
    }

    /// One HTTP exchange, classified by [`classify`].
    pub(super) async fn attempt(
        &self,
        op: &'static str,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Attempt<Vec<u8>> {
        let mut request = self
            .client
            .request(method, url)
            .header("PRIVATE-TOKEN", &self.token);
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                self.metrics.forge_call("gitlab", op, None, None);
                return Attempt::Retry {
                    wait: None,
                    rate_limited: false,
                    detail: e.to_string(),
                };
            }
        };
        let status = response.status().as_u16();
        let headers: HeaderMap = response.headers().clone();
        self.metrics
            .forge_call("gitlab", op, Some(status), Some(&headers));
        let bytes = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    rate_limited: false,
                    detail: format!("reading the response: {e}"),
                };
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        match classify(status, &headers, &text, now_epoch()) {
            Verdict::Ok => Attempt::Done(bytes),
            Verdict::NotFound => Attempt::Failed(ForgeError::NotFound { op }),
            Verdict::Permanent => Attempt::Failed(ForgeError::Rejected {
                op,
                status,
                message: gitlab_message(&text),
            }),
            Verdict::Retry { wait, rate_limited } => Attempt::Retry {
                wait,
                rate_limited,
                detail: format!("HTTP {status}: {}", gitlab_message(&text)),
            },
        }
    }

    pub(super) async fn send_json<T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ForgeError> {
        let bytes = self.send(op, method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ForgeError::Decode {
            op,
            message: e.to_string(),
        })
    }

    /// Every page of a list endpoint (see [`paging::collect_pages`]).
    pub(super) async fn list_all<T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
    ) -> Result<Vec<T>, ForgeError> {
        paging::collect_pages(path, MAX_PAGES, |url| async move {
            self.send_json(op, Method::GET, &url, None).await
        })
        .await
    }
}

/// `/projects/ID` (the numeric id when known, else the URL-encoded path).
pub(super) fn project_path(repo: &RepoRef) -> Result<String, ForgeError> {
    if let Some(id) = repo.id {
        return Ok(format!("/projects/{id}"));
    }
    let name = repo.full_name.trim_matches('/');
    if name.is_empty()
        || name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(ForgeError::Config(format!(
            "`{}` is not a GitLab project path",
            repo.full_name
        )));
    }
    Ok(format!("/projects/{}", encode_component(name)))
}

/// GitLab's error text: `message` (a string or an object of field errors) or `error`.
pub(super) fn gitlab_message(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let field = parsed
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("error")));
    match field {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => body.chars().take(300).collect(),
    }
}
