//! One logical request to GitHub: sent, classified, retried when safe.

use super::*;

impl GithubForge {
    /// Sends one logical request, retrying transient failures per the policy.
    pub(super) async fn send(
        &self,
        repo: &RepoRef,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        accept: &str,
    ) -> Result<Bytes, ForgeError> {
        let mut asked_again = false;
        loop {
            let client = self.client(repo).await?;
            // After a 5xx or a dropped connection GitHub may have acted: requests
            // that are not replay-safe are not repeated (the caller looks first).
            let sent = with_retries(
                &self.retry,
                &self.metrics,
                "GitHub",
                op,
                replay_safe(op),
                || {
                    attempt(
                        &client,
                        &self.metrics,
                        op,
                        method.clone(),
                        path,
                        body,
                        accept,
                    )
                },
            )
            .await;
            // Refused credentials mean GitHub did nothing: once, ask which
            // installation reaches the repository now and send again.
            match &sent {
                Err(e) if !asked_again && self.forget_refused_installation(repo, e) => {
                    asked_again = true;
                }
                _ => return sent,
            }
        }
    }

    pub(super) async fn send_json<T: for<'de> Deserialize<'de>>(
        &self,
        repo: &RepoRef,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ForgeError> {
        let bytes = self.send(repo, op, method, path, body, ACCEPT_JSON).await?;
        serde_json::from_slice(&bytes).map_err(|e| ForgeError::Decode {
            op,
            message: e.to_string(),
        })
    }

    /// Every page of a list endpoint (see [`paging::collect_pages`]).
    pub(super) async fn list_all<T: for<'de> Deserialize<'de>>(
        &self,
        repo: &RepoRef,
        op: &'static str,
        path: &str,
    ) -> Result<Vec<T>, ForgeError> {
        paging::collect_pages(path, MAX_PAGES, |url| async move {
            self.send_json(repo, op, Method::GET, &url, None).await
        })
        .await
    }
}

/// Whether a request may be sent again after a server error without risking
/// a duplicate: everything but creating a comment or a check run (both stay
/// when duplicated; their callers look before trying again). A duplicate
/// status is replaced by the next one.
pub(super) fn replay_safe(op: &str) -> bool {
    !matches!(op, "issues/create-comment" | "checks/create")
}

/// One exchange with GitHub, classified by [`classify`].
pub(super) async fn attempt(
    client: &Octocrab,
    metrics: &Metrics,
    op: &'static str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    accept: &str,
) -> Attempt<Bytes> {
    let sent = send_once(client, method, path, body, accept).await;
    observe(metrics, op, &sent);
    match sent {
        Ok((status, headers, bytes)) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            match classify(status.as_u16(), &headers, &text, now_epoch()) {
                Verdict::Ok => Attempt::Done(bytes),
                Verdict::NotFound => Attempt::Failed(ForgeError::NotFound { op }),
                Verdict::Permanent => Attempt::Failed(ForgeError::Rejected {
                    op,
                    status: status.as_u16(),
                    message: github_message(&text),
                }),
                Verdict::Retry { wait, rate_limited } => Attempt::Retry {
                    wait,
                    rate_limited,
                    detail: format!("HTTP {}: {}", status.as_u16(), github_message(&text)),
                },
            }
        }
        Err(SendError::Transport(detail)) => Attempt::Retry {
            wait: None,
            rate_limited: false,
            detail,
        },
        Err(SendError::Answered {
            status,
            headers,
            message,
        }) => {
            // octocrab itself failed on a GitHub answer: only the
            // installation token exchange answers this way, so a refusal
            // names that operation (the caller forgets the installation).
            match classify(status, &headers, &message, now_epoch()) {
                Verdict::Retry { wait, rate_limited } => Attempt::Retry {
                    wait,
                    rate_limited,
                    detail: format!("HTTP {status}: {message}"),
                },
                Verdict::NotFound => Attempt::Failed(ForgeError::NotFound { op: TOKEN_OP }),
                _ => Attempt::Failed(ForgeError::Rejected {
                    op: TOKEN_OP,
                    status,
                    message,
                }),
            }
        }
        Err(SendError::Fatal(message)) => Attempt::Failed(ForgeError::Config(message)),
    }
}

/// Counts one exchange (and the rate limit its answer reports).
fn observe(metrics: &Metrics, op: &str, sent: &Result<(StatusCode, HeaderMap, Bytes), SendError>) {
    match sent {
        Ok((status, headers, _)) => {
            metrics.forge_call("github", op, Some(status.as_u16()), Some(headers))
        }
        Err(SendError::Answered {
            status, headers, ..
        }) => metrics.forge_call("github", op, Some(*status), Some(headers)),
        Err(SendError::Transport(_)) => metrics.forge_call("github", op, None, None),
        Err(SendError::Fatal(_)) => {}
    }
}

pub(super) enum SendError {
    /// No HTTP answer (connection, timeout): retryable.
    Transport(String),
    /// octocrab turned a GitHub answer into an error (the token exchange).
    Answered {
        status: u16,
        headers: HeaderMap,
        message: String,
    },
    /// Cannot build the request at all (bad key, bad URL).
    Fatal(String),
}

pub(super) async fn send_once(
    client: &Octocrab,
    method: Method,
    path: &str,
    body: Option<&Value>,
    accept: &str,
) -> Result<(StatusCode, HeaderMap, Bytes), SendError> {
    let builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::ACCEPT, accept);
    let request = client
        .build_request(builder, body)
        .map_err(|e| SendError::Fatal(format!("building a GitHub request: {e}")))?;
    let response = client.execute(request).await.map_err(octo_error)?;
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| SendError::Transport(format!("reading the response: {e}")))?
        .to_bytes()
        .to_vec();
    Ok((parts.status, parts.headers, bytes))
}

pub(super) fn octo_error(e: octocrab::Error) -> SendError {
    match e {
        octocrab::Error::GitHub { source, .. } => SendError::Answered {
            status: source.status_code.as_u16(),
            headers: source.headers.clone().unwrap_or_default(),
            message: source.message.clone(),
        },
        octocrab::Error::JWT { source, .. } => {
            SendError::Fatal(format!("signing the GitHub App JWT: {source}"))
        }
        other => SendError::Transport(other.to_string()),
    }
}
