//! Reviewing one head commit of a PR: read its migrations, review them per
//! environment, store the results and the snapshot approvals and deploys bind
//! to, and publish the check run and the sticky comment.

use super::*;
/// What one review covers: the migrations, and the base commit's config that governs it.
pub(super) struct ReviewScope<'a> {
    pub(super) changes: &'a [MigrationChange],
    pub(super) repo_config: &'a RepoConfig,
    pub(super) repo_config_error: Option<String>,
    /// The PR edits `.bytegate.yaml` (it takes effect after merge).
    pub(super) config_changed: bool,
    /// Paths refused outright (`..`, control characters).
    pub(super) refused: &'a [(String, &'static str)],
    /// The migrations folder the base commit's config names.
    pub(super) dir: &'a str,
    /// Whether a dry run is asked for.
    pub(super) dry_run: dry_run::DryRunTrigger,
}

/// The reviewed files of a review: path, change and the sha256 of exactly the
/// bytes the review read.
fn reviewed_files(
    inputs: &[ReviewInput],
    settings: &review::settings::ReviewSettings,
) -> Vec<snapshots::ReviewedFile> {
    inputs
        .iter()
        .map(|i| snapshots::ReviewedFile {
            path: i.path.clone(),
            change: match i.change {
                review::FileChange::Added | review::FileChange::Unchanged => "added",
                review::FileChange::Modified => "modified",
                review::FileChange::Removed => "removed",
                review::FileChange::Renamed { .. } => "renamed",
            }
            .to_string(),
            sha256: crate::deploy::checksum(&i.text),
            size_bytes: i64::try_from(i.text.len()).unwrap_or(i64::MAX),
            // Over the cap the review refused to read it: never deployed.
            deployable: !review::file_too_large(
                u64::try_from(i.text.len()).unwrap_or(u64::MAX),
                settings,
            ),
        })
        .collect()
}

/// Reads the PR's migrations at `read_at` (the head; the merge commit for a
/// review at merge), reviews them for every environment and stores the
/// results and the snapshot of the head (what approvals and deploys bind to).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn review_snapshot(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PullRequestEvent,
    changes: &[MigrationChange],
    repo_config: &RepoConfig,
    dir: &str,
    read_at: &str,
) -> Result<HeadReview, FlowError> {
    let inputs = read_inputs(forge, pr, changes, read_at).await?;
    let dialect = analysis::review_targets(&ctx.config)
        .first()
        .map_or(review::model::Dialect::Postgres, |t| t.dialect);
    let rollback = analysis::rollback_notes(
        &inputs
            .iter()
            .map(|i| {
                let removed = i.change == review::FileChange::Removed;
                (i.path.clone(), i.text.clone(), removed)
            })
            .collect::<Vec<_>>(),
        dialect,
        &ctx.config.environments,
    );
    let settings = repo_config.merged_review(&ctx.config.review);
    let suffixes = repo_config.merged_suffixes(&ctx.config.project.migration_suffixes);
    let reviewed = reviewed_files(&inputs, &settings);
    let files: Vec<(String, Vec<u8>)> = inputs
        .iter()
        .zip(&reviewed)
        .filter(|(i, r)| r.deployable && i.change != review::FileChange::Removed)
        .map(|(i, _)| (i.path.clone(), i.text.clone()))
        .collect();
    let base_versions: Vec<String> = forge
        .list_directory(&pr.pr.repo, dir, &pr.base_sha)
        .await?
        .into_iter()
        .filter(|e| e.is_file && analysis::is_migration(&e.path, dir, &suffixes))
        .map(|e| e.path)
        .collect();

    let reports = run_reviews(
        ctx.config.clone(),
        settings,
        suffixes,
        inputs,
        base_versions,
    )
    .await?;
    store_results(&ctx.db, cr.id, &pr.head_sha, &reports).await?;
    let snapshot = snapshots::store(
        &ctx.db,
        &snapshots::NewSnapshot {
            change_request_id: cr.id,
            head_sha: &pr.head_sha,
            base_sha: &pr.base_sha,
            migrations_dir: dir,
            head_at: pr.at,
            files: &reviewed,
        },
    )
    .await?;
    change_requests::note_migrations(&ctx.db, cr.id, &pr.head_sha, &snapshot.digest, pr.at).await?;
    crate::store::approvals::bind_reviews_of_commit(&ctx.db, cr.id, &pr.head_sha, &snapshot.digest)
        .await?;
    Ok(HeadReview {
        reports,
        snapshot,
        files,
        rollback,
    })
}

/// What [`review_snapshot`] produced.
pub(crate) struct HeadReview {
    /// One report per review target (environment).
    pub reports: Vec<(Option<String>, ReviewReport)>,
    /// The stored snapshot.
    pub snapshot: snapshots::Snapshot,
    /// The deployable migration files as read (path, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    /// Per migration, how a rollback would undo it (path, note).
    pub rollback: Vec<(String, String)>,
}

pub(super) async fn review_and_publish(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PullRequestEvent,
    scope: &ReviewScope<'_>,
    handle: &CheckHandle,
) -> Result<(), FlowError> {
    let changes = scope.changes;
    let HeadReview {
        reports,
        files,
        rollback,
        ..
    } = review_snapshot(
        ctx,
        forge,
        cr,
        pr,
        changes,
        scope.repo_config,
        scope.dir,
        &pr.head_sha,
    )
    .await?;
    let mut combined = analysis::combine(&reports, changes);
    let suffixes = scope
        .repo_config
        .merged_suffixes(&ctx.config.project.migration_suffixes);
    let targets = analysis::review_targets(&ctx.config);
    analysis::add_dialect_mismatches(
        &mut combined,
        &analysis::dialect_mismatches(changes, &targets, &suffixes),
    );
    combined.rollback = rollback;
    if scope.config_changed {
        analysis::add_repo_config_changed(&mut combined);
    }
    analysis::add_refused_paths(&mut combined, scope.refused);
    // Without line annotations the comment is where findings are read: link them.
    let blob_url = if forge.checks_have_annotations() {
        None
    } else {
        forge.blob_url(&pr.pr.repo, &pr.head_sha)
    };
    let rctx = RenderContext {
        head_sha: &pr.head_sha,
        is_fork: pr.is_fork,
        multi_env: reports.len() > 1,
        blob_url: blob_url.as_deref(),
    };

    let dry_run = dry_run::section(ctx, pr, &files, scope.dry_run).await;
    let mut summary = render::check_summary(&combined, &rctx);
    if let Some(section) = &dry_run {
        summary = format!("{summary}\n\n{section}");
    }
    if let Some(err) = &scope.repo_config_error {
        summary = format!(
            "> **{REPO_CONFIG_PATH} on the base branch is invalid and was ignored:** {err}\n\n{summary}"
        );
    }
    let result = CheckResult {
        conclusion: combined.conclusion,
        title: render::check_title(&combined),
        summary,
        annotations: if forge.checks_have_annotations() {
            render::annotations(&combined)
        } else {
            Vec::new()
        },
        details_url: ctx.external_url.clone(),
    };
    forge
        .complete_check(&pr.pr.repo, &pr.head_sha, CHECK_NAME, Some(handle), &result)
        .await?;
    if !forge.checks_have_annotations() {
        // Threads on the offending lines, where the forge is set up for them.
        let findings = render::annotations(&combined);
        if let Err(e) = forge
            .sync_line_findings(&pr.pr, &pr.head_sha, &findings)
            .await
        {
            if e.is_retryable() {
                return Err(e.into());
            }
            tracing::warn!(pr = %pr.pr, error = %e, "line discussions could not be updated; the comment has the findings");
        }
    }

    let evaluation = decision::evaluate(ctx, forge, &pr.pr).await?;
    let mut body = render::comment(&combined, &rctx, forge.max_comment_chars());
    if let Some(section) = &dry_run {
        body = format!("{body}\n{section}");
    }
    let body = approvals::with_section(body, evaluation.as_ref());
    let published = publish_comment(ctx, forge, cr, pr, &body).await?;
    let detail = json!({
        "head_sha": pr.head_sha,
        "conclusion": combined.conclusion.as_str(),
        "risk": combined.risk.as_str(),
        "errors": combined.errors,
        "warnings": combined.warnings,
        "infos": combined.infos,
        "comment": published.as_str(),
    });
    super::notices::audit(
        ctx,
        &ctx.db,
        &AuditEntry::for_pr_ref(BOT_ACTOR, AuditAction::ReviewCompleted, &pr.pr)
            .with_detail(detail),
    )
    .await?;
    ctx.metrics.review(
        combined.risk,
        combined
            .findings
            .iter()
            .map(|f| (f.finding.rule.as_str(), f.finding.severity.as_str())),
    );
    // A push may have made approvals stale: the approval check follows the head.
    if let Some(e) = &evaluation {
        approvals::publish(ctx, forge, &pr.pr, e).await?;
    }
    Ok(())
}

/// Reads every migration's text: at `read_at`, or at the base for removed files.
async fn read_inputs(
    forge: &dyn Forge,
    pr: &PullRequestEvent,
    changes: &[MigrationChange],
    read_at: &str,
) -> Result<Vec<ReviewInput>, FlowError> {
    // The futures are built first: a `map` closure inside the stream would make
    // the whole flow future `!Send` for the worker pool (a known HRTB limitation).
    let reads: Vec<_> = changes
        .iter()
        .map(|c| read_input(forge, pr, c, read_at))
        .collect();
    futures::stream::iter(reads)
        .buffered(CONCURRENT_READS)
        .try_collect()
        .await
}

/// Reads one migration (see [`read_inputs`]).
async fn read_input(
    forge: &dyn Forge,
    pr: &PullRequestEvent,
    c: &MigrationChange,
    read_at: &str,
) -> Result<ReviewInput, FlowError> {
    let at = if c.change == review::FileChange::Removed {
        pr.base_sha.as_str()
    } else {
        read_at
    };
    let text = forge.file_content(&pr.pr.repo, &c.path, at).await?;
    let text = match (text, &c.change) {
        (Some(t), _) => t,
        (None, review::FileChange::Removed) => Vec::new(),
        (None, _) => {
            // Listed in the diff but absent at the head: a force-push raced us.
            return Err(FlowError::Forge(ForgeError::Transient {
                op: "repos/get-content",
                message: format!("{} is missing at {}", c.path, at),
            }));
        }
    };
    Ok(ReviewInput {
        path: c.path.clone(),
        text,
        change: c.change.clone(),
    })
}

/// Runs one review per environment, off the async runtime (it is CPU-bound).
/// A migration whose suffix pins it to another dialect than the
/// environment's is left out of that environment's review (it gets a
/// `dialect-mismatch` error instead, see [`analysis::dialect_mismatches`]).
async fn run_reviews(
    config: Arc<Config>,
    settings: review::settings::ReviewSettings,
    suffixes: crate::config::MigrationSuffixes,
    inputs: Vec<ReviewInput>,
    base_versions: Vec<String>,
) -> Result<Vec<(Option<String>, ReviewReport)>, FlowError> {
    tokio::task::spawn_blocking(move || {
        analysis::review_targets(&config)
            .into_iter()
            .map(|t| {
                let fitting: Vec<ReviewInput>;
                let inputs = if inputs
                    .iter()
                    .all(|i| suffixes.kind(&i.path).fits(t.dialect))
                {
                    &inputs[..]
                } else {
                    fitting = inputs
                        .iter()
                        .filter(|i| suffixes.kind(&i.path).fits(t.dialect))
                        .cloned()
                        .collect();
                    &fitting[..]
                };
                let opts = ReviewOptions {
                    dialect: t.dialect,
                    environment: t.environment.as_deref(),
                    settings: &settings,
                    risk: &config.risk,
                    lock_timeout_configured: t.lock_timeout_configured,
                    base_versions: base_versions.clone(),
                };
                let report = review::review(inputs, &opts);
                (t.environment, report)
            })
            .collect()
    })
    .await
    .map_err(|e| FlowError::Internal(format!("the review task failed: {e}")))
}

async fn store_results(
    db: &PgPool,
    cr_id: i64,
    sha: &str,
    reports: &[(Option<String>, ReviewReport)],
) -> Result<(), FlowError> {
    for (env, report) in reports {
        let json = report.to_json();
        let conclusion = if report.summary.errors > 0 {
            CheckConclusion::Failure
        } else if report.summary.warnings > 0 {
            CheckConclusion::Neutral
        } else {
            CheckConclusion::Success
        };
        reviews::insert(
            db,
            &reviews::NewReviewResult {
                change_request_id: cr_id,
                head_sha: sha,
                environment: env.as_deref(),
                errors: report.summary.errors as i32,
                warnings: report.summary.warnings as i32,
                infos: report.summary.infos as i32,
                risk_level: report.risk.level.as_str(),
                conclusion: conclusion.as_str(),
                report: &json,
            },
        )
        .await?;
    }
    Ok(())
}
