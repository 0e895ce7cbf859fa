//! SQL review: parse migrations into bytegate's statement model, run the rules,
//! classify risk, render reports.
//!
//! [`review`] is the one entry point, shared by `bytegate review` and the
//! pull-request flow: it takes (path, bytes) pairs and a configuration and
//! returns a [`ReviewReport`] (findings per file, risk, summary). It never
//! panics and never fails: unreadable SQL becomes `parse-error` findings.

pub mod custom;
pub mod data_loss;
pub mod down_section;
pub mod finding;
pub mod model;
pub mod parse;
pub mod report;
pub mod risk;
pub mod rules;
pub mod schema;
pub mod settings;
pub mod suppress;
pub mod version;

use finding::{Finding, Position, RiskLevel, Severity, Span};
use model::{Dialect, Statement};
use risk::{FileRisk, RiskContext, RiskFile, RiskReport};
use serde::Serialize;
use serde_json::{Value, json};
use settings::{ReviewSettings, RiskSettings};
use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, PoisonError};

pub use version::{VersionKey, version_key};

/// How a pull request touches a migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// A new file.
    Added,
    /// An edited file.
    Modified,
    /// A deleted file (its old text is reviewed for `migration-edited`).
    Removed,
    /// A moved file.
    Renamed {
        /// The old path.
        from: String,
    },
    /// Not touched by the change: given for context (earlier migrations).
    Unchanged,
}

impl FileChange {
    /// True when applying the change runs this file.
    pub fn is_applied(&self) -> bool {
        matches!(
            self,
            FileChange::Added | FileChange::Modified | FileChange::Renamed { .. }
        )
    }
}

/// One migration file to review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewInput {
    /// Path as shown in reports (relative to the repository root in the PR flow).
    pub path: String,
    /// The file's bytes; invalid UTF-8 is replaced, never rejected.
    pub text: Vec<u8>,
    /// How the change touches the file (`Unchanged`: history, which builds
    /// the schema model and gets no findings).
    pub change: FileChange,
}

/// How to review: dialect, target environment and configuration.
#[derive(Debug, Clone)]
pub struct ReviewOptions<'a> {
    /// SQL dialect of the migrations.
    pub dialect: Dialect,
    /// Target environment (selects per-environment severities, custom-rule
    /// scope and production risk); `None` reviews for no particular environment.
    pub environment: Option<&'a str>,
    /// The `review` config section.
    pub settings: &'a ReviewSettings,
    /// The `risk` config section.
    pub risk: &'a RiskSettings,
    /// The environment sets a `lock_timeout` for every migration (lowers
    /// `require-lock-timeout` to info).
    pub lock_timeout_configured: bool,
    /// Versions already on the base branch (for `migration-out-of-order`).
    pub base_versions: Vec<String>,
}

/// The outcome of one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// The file's path.
    pub path: String,
    /// Number of statements in the file.
    pub statements: usize,
    /// Findings after configuration and suppression, ordered by position.
    pub findings: Vec<Finding>,
    /// Findings silenced by `bytegate-ignore` comments.
    pub suppressed: usize,
    /// The file's risk, with per-statement levels.
    pub risk: FileRisk,
}

/// Counts over all files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Error-severity findings.
    pub errors: usize,
    /// Warning-severity findings.
    pub warnings: usize,
    /// Info-severity findings.
    pub infos: usize,
    /// Findings silenced by suppression comments.
    pub suppressed: usize,
}

/// The result of [`review`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewReport {
    /// One entry per reviewed file, in version order (history files, given
    /// as [`FileChange::Unchanged`], are not listed).
    pub files: Vec<FileReport>,
    /// The change's overall risk.
    pub risk: RiskReport,
    /// Finding counts.
    pub summary: Summary,
}

impl FileReport {
    /// True when the file was above `review.max_file_bytes`: it was not
    /// reviewed (a `file-too-large` finding) and must never be deployed.
    pub fn too_large(&self) -> bool {
        self.findings.iter().any(|f| f.rule == FILE_TOO_LARGE_RULE)
    }
}

impl ReviewReport {
    /// True when some file was above `review.max_file_bytes` (see
    /// [`FileReport::too_large`]): the change is not deployable.
    pub fn has_too_large_files(&self) -> bool {
        self.files.iter().any(FileReport::too_large)
    }

    /// True when at least one finding has error severity (`bytegate review` exits 1).
    pub fn has_errors(&self) -> bool {
        self.summary.errors > 0
    }

    /// Total number of statements reviewed.
    pub fn statement_count(&self) -> usize {
        self.files.iter().map(|f| f.statements).sum()
    }

    /// The JSON document of `bytegate review --format json`, exactly as
    /// DESIGN.md ("Outputs that other tools read") shows it.
    pub fn to_json(&self) -> Value {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| {
                let findings: Vec<Value> = f
                    .findings
                    .iter()
                    .map(|x| {
                        json!({
                            "rule": x.rule,
                            "severity": x.severity.as_str(),
                            "line": x.span.start.line,
                            "column": x.span.start.column,
                            "end_line": x.span.end.line.max(x.span.start.line),
                            "message": x.message,
                        })
                    })
                    .collect();
                json!({"path": f.path, "statements": f.statements, "findings": findings})
            })
            .collect();
        let reasons: Vec<Value> = self
            .risk
            .reasons
            .iter()
            .map(|r| json!({"rule": r.rule, "path": r.path, "line": r.line}))
            .collect();
        json!({
            "files": files,
            "risk": {"level": self.risk.level.as_str(), "reasons": reasons},
            "summary": {
                "errors": self.summary.errors,
                "warnings": self.summary.warnings,
                "infos": self.summary.infos,
                "suppressed": self.summary.suppressed,
            },
        })
    }
}

/// Rule id of the finding reported when a stage of the engine itself failed
/// (a bug): the file's result is incomplete, so the check must not pass.
pub const INTERNAL_ERROR_RULE: &str = "internal-error";

/// Rule id of the finding on a file above `review.max_file_bytes`.
pub const FILE_TOO_LARGE_RULE: &str = "file-too-large";

/// True when a file of `len` bytes is above the cap (`review.max_file_bytes`,
/// after a repository's own lowering, see
/// [`settings::ReviewSettings::lower_max_file_bytes`]): [`review`] does not
/// parse it and reports `file-too-large`; the deploy must refuse it.
pub fn file_too_large(len: u64, settings: &ReviewSettings) -> bool {
    len > settings.max_file_bytes()
}

/// Reviews a migration set: files are ordered by [`version_key`], decoded
/// (invalid UTF-8 replaced), parsed, linted, and their risk assessed. A file
/// above `review.max_file_bytes` is not parsed: it gets a `file-too-large`
/// error and high risk.
pub fn review(inputs: &[ReviewInput], opts: &ReviewOptions<'_>) -> ReviewReport {
    let sources = inputs
        .iter()
        .map(|i| Source {
            path: &i.path,
            text: Mutex::new(Cow::Borrowed(&i.text[..])),
            len: i.text.len() as u64,
            change: &i.change,
        })
        .collect();
    review_sources(sources, opts)
}

/// [`review`] that takes the files by value: each file's bytes are freed as
/// soon as it is parsed, so a large set never holds its bytes and its
/// statements at once (`bytegate review`).
pub fn review_owned(inputs: Vec<ReviewInput>, opts: &ReviewOptions<'_>) -> ReviewReport {
    let (meta, texts): (Vec<(String, FileChange)>, Vec<Vec<u8>>) = inputs
        .into_iter()
        .map(|i| ((i.path, i.change), i.text))
        .unzip();
    let sources = meta
        .iter()
        .zip(texts)
        .map(|((path, change), text)| Source {
            path,
            len: text.len() as u64,
            text: Mutex::new(Cow::Owned(text)),
            change,
        })
        .collect();
    review_sources(sources, opts)
}

/// One file as [`review_sources`] sees it: its bytes are taken (and, when
/// owned, freed) by the parse.
struct Source<'a> {
    path: &'a str,
    /// The bytes until parsed; empty after.
    text: Mutex<Cow<'a, [u8]>>,
    /// The file's size in bytes.
    len: u64,
    change: &'a FileChange,
}

fn review_sources(mut ordered: Vec<Source<'_>>, opts: &ReviewOptions<'_>) -> ReviewReport {
    ordered.sort_by_cached_key(|i| version_key(i.path));
    let max_file_bytes = opts.settings.max_file_bytes();

    let (parsed, mut internal): (Vec<model::ParsedFile>, Vec<Vec<Finding>>) =
        parse_all(&ordered, opts.dialect, max_file_bytes)
            .into_iter()
            .unzip();

    let lint_files: Vec<rules::LintFile<'_>> = ordered
        .iter()
        .zip(&parsed)
        .map(|(input, file)| rules::LintFile {
            path: input.path,
            size_bytes: input.len,
            statements: &file.statements,
            change: input.change.clone(),
            header_comments: &file.header_comments,
        })
        .collect();
    let lint_input = rules::LintInput {
        files: &lint_files,
        dialect: opts.dialect,
        environment: opts.environment,
        settings: opts.settings,
        lock_timeout_configured: opts.lock_timeout_configured,
        base_versions: &opts.base_versions,
    };
    let mut lint_errors = Vec::new();
    let linted =
        guarded("linting", &mut lint_errors, || rules::lint(&lint_input)).unwrap_or_default();
    if !lint_errors.is_empty() {
        for errors in &mut internal {
            errors.extend(lint_errors.iter().cloned());
        }
    }

    let risk_files: Vec<RiskFile<'_>> = ordered
        .iter()
        .zip(&parsed)
        .map(|(input, file)| RiskFile {
            path: input.path,
            statements: &file.statements,
            in_change: input.change.is_applied(),
        })
        .collect();
    let ctx = RiskContext {
        environment: opts.environment,
        settings: opts.risk,
    };
    let mut risk_errors = Vec::new();
    let (file_risks, overall) = guarded("risk analysis", &mut risk_errors, || {
        let (mut per_file, mut overall) = risk::assess(&risk_files, &ctx);
        // What was not read cannot be judged safe.
        let mut raised = false;
        for (input, file_risk) in ordered.iter().zip(per_file.iter_mut()) {
            if input.change.is_applied() && file_too_large(input.len, opts.settings) {
                *file_risk = FileRisk {
                    level: RiskLevel::High,
                    reasons: vec![risk::RiskReason {
                        rule: FILE_TOO_LARGE_RULE.to_string(),
                        path: input.path.to_string(),
                        line: 1,
                        message: format!(
                            "{} bytes, above review.max_file_bytes ({max_file_bytes}): not reviewed",
                            input.len
                        ),
                    }],
                    statements: Vec::new(),
                };
                raised = true;
            }
        }
        if raised {
            overall = risk::overall(&per_file);
        }
        (per_file, overall)
    })
    .unwrap_or_else(|| {
        // Unknown risk must not read as low.
        let reason = risk::RiskReason {
            rule: INTERNAL_ERROR_RULE.to_string(),
            path: String::new(),
            line: 0,
            message: "risk analysis failed; treat the change as high risk".to_string(),
        };
        (
            vec![FileRisk::default(); ordered.len()],
            RiskReport {
                level: RiskLevel::High,
                reasons: vec![reason],
            },
        )
    });

    let statement_counts: Vec<usize> = parsed.iter().map(|p| p.statements.len()).collect();
    // The parsed set is no longer needed: free it before assembling the report.
    drop(risk_files);
    drop(lint_files);
    drop(parsed);

    let mut by_path: HashMap<String, (Vec<Finding>, usize)> = HashMap::new();
    for ff in linted {
        let entry = by_path.entry(ff.path).or_default();
        entry.0.extend(ff.findings);
        entry.1 += ff.suppressed;
    }
    let mut file_risks = file_risks.into_iter();
    let mut summary = Summary::default();
    let mut files = Vec::with_capacity(ordered.len());
    for (i, input) in ordered.iter().enumerate() {
        let file_risk = file_risks.next().unwrap_or_default();
        if *input.change == FileChange::Unchanged {
            // History: it built the schema model; it is not part of the report.
            continue;
        }
        let (mut findings, suppressed) = by_path.remove(input.path).unwrap_or_default();
        findings.append(&mut internal[i]);
        findings.extend(risk_errors.iter().cloned());
        findings.retain(|f| f.severity != Severity::Off);
        findings.sort_by(|a, b| {
            (a.span.start, &a.rule, &a.message).cmp(&(b.span.start, &b.rule, &b.message))
        });
        for f in &findings {
            match f.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Info => summary.infos += 1,
                Severity::Off => {}
            }
        }
        summary.suppressed += suppressed;
        files.push(FileReport {
            path: input.path.to_string(),
            statements: statement_counts.get(i).copied().unwrap_or(0),
            findings,
            suppressed,
            risk: file_risk,
        });
    }
    ReviewReport {
        files,
        risk: overall,
        summary,
    }
}

/// Below this much SQL, starting threads costs more than it saves.
const PARALLEL_PARSE_BYTES: u64 = 256 * 1024;

/// Parses every file (files are independent, so large sets are parsed on all
/// cores); returns each file's statements and any internal-error finding.
/// Each file's bytes are taken from its [`Source`] once parsed.
fn parse_all(
    inputs: &[Source<'_>],
    dialect: Dialect,
    max_file_bytes: u64,
) -> Vec<(model::ParsedFile, Vec<Finding>)> {
    let parse_bytes = |bytes: &[u8], errors: &mut Vec<Finding>| {
        // `from_utf8` checks valid text several times faster than
        // `from_utf8_lossy`'s chunk walk, with the same result.
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(bytes),
        };
        // What a deploy runs: a `-- bytegate:down` section is the file's
        // rollback, not part of the migration.
        let (up, _) = down_section::split_down_section(&text);
        let mut parsed =
            guarded("parsing", errors, || parse::parse_source(up, dialect)).unwrap_or_default();
        // The whole set stays in memory until linting ends: keep only what the
        // rules read (statements, header comments), without growth slack.
        parsed.comments = Vec::new();
        parsed.statements.shrink_to_fit();
        parsed
    };
    let parse_one = |input: &Source<'_>| {
        let mut errors = Vec::new();
        // Only the thread that took this file's index locks it. The bytes go
        // once parsed; after a panic (poisoned lock) they are still there for
        // the retry below.
        let mut slot = input.text.lock().unwrap_or_else(PoisonError::into_inner);
        // Not reviewed when too large: `file-too-large` reports it (untrusted
        // size must not cost parse time or memory).
        let parsed = if input.len > max_file_bytes {
            model::ParsedFile::default()
        } else {
            parse_bytes(&slot, &mut errors)
        };
        *slot = Cow::Borrowed(&[]);
        (parsed, errors)
    };
    let total: u64 = inputs
        .iter()
        .map(|i| i.len)
        .filter(|&n| n <= max_file_bytes)
        .sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(inputs.len())
        .min(16);
    // Largest files first: their parse is the biggest transient allocation, so
    // it happens while little else is held (lower peak memory), and the queue
    // ends with small files (threads finish together).
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(inputs[i].len));
    let mut results: Vec<Option<(model::ParsedFile, Vec<Finding>)>> =
        (0..inputs.len()).map(|_| None).collect();
    if threads <= 1 || total < PARALLEL_PARSE_BYTES {
        for &i in &order {
            results[i] = Some(parse_one(&inputs[i]));
        }
    } else {
        // Workers take the next file from the queue until none is left; the
        // calling thread works too, so a failed spawn only costs parallelism.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                done.push((i, parse_one(&inputs[i])));
            }
            done
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = (1..threads)
                .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
                .collect();
            let mut all = work();
            for handle in handles {
                // A worker only panics if `guarded` itself failed; its files are redone below.
                if let Ok(done) = handle.join() {
                    all.extend(done);
                }
            }
            for (i, r) in all {
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(r);
                }
            }
        });
    }
    let parsed = results
        .into_iter()
        .zip(inputs)
        .map(|(r, input)| r.unwrap_or_else(|| parse_one(input)))
        .collect();
    parse::release_buffers();
    parsed
}

/// Runs one stage; a panic (a bug, never expected) becomes an `internal-error`
/// finding instead of taking down the server or the CLI.
fn guarded<T>(stage: &str, errors: &mut Vec<Finding>, f: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let at = Position { line: 1, column: 1 };
            errors.push(Finding {
                rule: INTERNAL_ERROR_RULE.to_string(),
                severity: Severity::Error,
                span: Span { start: at, end: at },
                message: format!("bytegate failed while {stage} this file: {detail}"),
                help: Some(
                    "This is a bug in bytegate; the review of this file is incomplete.".to_string(),
                ),
            });
            None
        }
    }
}

/// Statements of a file, parsed the way [`review`] parses them (for tools and tests).
pub fn parse_bytes(text: &[u8], dialect: Dialect) -> Vec<Statement> {
    parse::parse_file(&String::from_utf8_lossy(text), dialect)
}

#[cfg(test)]
mod tests;
