//! Check runs that must not appear twice on a commit.
//!
//! Creating a check run is not replay-safe: after a 5xx or a lost answer
//! GitHub may have created it. So bytegate looks first (its runs of that name
//! on the commit), creates only when none is open, and after a temporary
//! failure reads the runs again and adopts one that was not there before.
//! Open runs of ours beyond the one in use are strays (an earlier crash):
//! they are completed as neutral, "superseded".

use super::*;

/// A check run as listed for a commit.
#[derive(Deserialize, Debug, Clone)]
pub(super) struct GhCheckRun {
    pub(super) id: u64,
    pub(super) status: String,
}

#[derive(Deserialize)]
struct GhCheckRuns {
    check_runs: Vec<GhCheckRun>,
}

impl GhCheckRun {
    fn is_open(&self) -> bool {
        self.status != "completed"
    }
}

impl GithubForge {
    /// The check runs named `name` on `sha`, oldest first.
    pub(super) async fn check_runs_named(
        &self,
        repo: &RepoRef,
        sha: &str,
        name: &str,
    ) -> Result<Vec<GhCheckRun>, ForgeError> {
        // filter=all: every run of the name, not only the latest.
        let path = format!(
            "{}/commits/{}/check-runs?check_name={}&filter=all&per_page=100",
            repo_path(repo)?,
            encode_component(sha),
            encode_component(name)
        );
        let list: GhCheckRuns = self
            .send_json(repo, "checks/list-for-ref", Method::GET, &path, None)
            .await?;
        let mut runs = list.check_runs;
        runs.sort_by_key(|r| r.id);
        Ok(runs)
    }

    /// The newest open run named `name` on `sha`, with every older open one
    /// completed as superseded; `None` when none is open.
    pub(super) async fn adopt_open_check(
        &self,
        repo: &RepoRef,
        sha: &str,
        name: &str,
    ) -> Result<Option<u64>, ForgeError> {
        let runs = self.check_runs_named(repo, sha, name).await?;
        let Some(keep) = runs.iter().rfind(|r| r.is_open()).map(|r| r.id) else {
            return Ok(None);
        };
        self.supersede_others(repo, sha, name, keep, &runs).await?;
        Ok(Some(keep))
    }

    /// Completes every open run in `runs` but `keep` as neutral, "superseded".
    pub(super) async fn supersede_others(
        &self,
        repo: &RepoRef,
        sha: &str,
        name: &str,
        keep: u64,
        runs: &[GhCheckRun],
    ) -> Result<(), ForgeError> {
        let base = repo_path(repo)?;
        for stray in runs.iter().filter(|r| r.is_open() && r.id != keep) {
            tracing::warn!(repo = %repo.full_name, sha, check = name, stray = stray.id, kept = keep, "completing a stray check run");
            let body = json!({
                "status": "completed",
                "conclusion": "neutral",
                "completed_at": now_rfc3339(),
                "output": {
                    "title": "Superseded",
                    "summary": format!("Superseded by check run {keep}."),
                },
            });
            let path = format!("{base}/check-runs/{}", stray.id);
            let _: GhId = self
                .send_json(repo, "checks/update", Method::PATCH, &path, Some(&body))
                .await?;
        }
        Ok(())
    }

    /// Creates a check run (`body` names `name` and `sha`) at most once:
    /// after a temporary failure, a run of that name that was not there
    /// before is the one GitHub created, and is taken instead of posting again.
    pub(super) async fn create_check_once(
        &self,
        repo: &RepoRef,
        sha: &str,
        name: &str,
        body: &Value,
    ) -> Result<u64, ForgeError> {
        let before: Vec<u64> = self
            .check_runs_named(repo, sha, name)
            .await?
            .iter()
            .map(|r| r.id)
            .collect();
        let path = format!("{}/check-runs", repo_path(repo)?);
        let mut n = 0u32;
        loop {
            n += 1;
            let err = match self
                .send_json::<GhId>(repo, "checks/create", Method::POST, &path, Some(body))
                .await
            {
                Ok(run) => return Ok(run.id),
                Err(e @ ForgeError::Transient { .. }) => e,
                Err(e) => return Err(e),
            };
            let created = self
                .check_runs_named(repo, sha, name)
                .await?
                .into_iter()
                .rfind(|r| !before.contains(&r.id));
            if let Some(run) = created {
                tracing::info!(repo = %repo.full_name, sha, check = name, id = run.id, "the check run was created despite the error; adopting it");
                return Ok(run.id);
            }
            if n >= self.retry.max_attempts {
                return Err(err);
            }
            tracing::warn!(repo = %repo.full_name, sha, check = name, attempt = n, error = %err, "creating a check run failed; retrying");
            tokio::time::sleep(self.retry.backoff(n)).await;
        }
    }
}
