//! Migration files to a plan: version order, checksums, statements split by
//! the review parser, transactional or not.

use super::backup::Dml;
use crate::review::down_section::split_down_section;
use crate::review::model::{Dialect, LexicalClass, Statement, StatementKind};
use crate::review::{parse, rules, version_key};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::fmt;

/// Longest statement excerpt quoted in an error.
const EXCERPT_CHARS: usize = 300;

/// The hex sha256 of a migration file's bytes: the checksum the history records.
pub fn checksum(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One statement of a migration, as it is sent to the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The statement text (no trailing `;`).
    pub text: String,
    /// 1-based line of its first character in the file.
    pub line: u32,
    /// 1-based column of its first character.
    pub column: u32,
    /// Its data change, for `UPDATE`/`DELETE` (what a prior backup copies).
    pub dml: Option<Dml>,
}

/// How a migration file runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// All statements in one transaction (with the history row).
    Transactional,
    /// Statement by statement, outside any transaction, because one statement
    /// cannot run inside one (the reason names it, e.g. `CREATE INDEX CONCURRENTLY`).
    NonTransactional(&'static str),
}

/// A migration file ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Dotted numeric version (`1`, `2025.1.20`): the identity in the history.
    pub version: String,
    /// Repository path of the file (recorded as the name).
    pub path: String,
    /// sha256 of the file's bytes.
    pub checksum: String,
    /// The statements, in order.
    pub steps: Vec<Step>,
    /// Transactional or not.
    pub mode: Mode,
}

/// Why the migration files cannot become a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A file name carries no version.
    #[error("{path}: the file name has no version (expected e.g. `001_add_users.sql`)")]
    NoVersion {
        /// The file.
        path: String,
    },
    /// Two files share a version.
    #[error("{first} and {second} have the same version {version}")]
    DuplicateVersion {
        /// The version.
        version: String,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// The file is not UTF-8 text.
    #[error("{path}: not UTF-8 text")]
    NotText {
        /// The file.
        path: String,
    },
    /// Transaction control inside a file the executor wraps in a transaction.
    #[error(
        "{path}:{line}: `{statement}` inside the migration: bytegate runs each file in one transaction itself; remove transaction control (a file wrapped in one BEGIN … COMMIT is fine)"
    )]
    TransactionControl {
        /// The file.
        path: String,
        /// Line of the statement.
        line: u32,
        /// The statement.
        statement: String,
    },
}

/// Turns migration files (repository path, bytes) into the ordered plan for
/// `dialect`. Reverts (`down.sql`, `*.down.sql`) are not part of a deploy.
pub fn plan(files: &[(String, Vec<u8>)], dialect: Dialect) -> Result<Vec<Migration>, PlanError> {
    let mut keyed: Vec<_> = files
        .iter()
        .filter(|(path, _)| !is_revert(path))
        .map(|(path, bytes)| (version_key(path), path, bytes))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<Migration> = Vec::with_capacity(keyed.len());
    for (key, path, bytes) in keyed {
        let version = key
            .version()
            .ok_or_else(|| PlanError::NoVersion { path: path.clone() })?;
        if let Some(prev) = out.iter().find(|m| m.version == version) {
            return Err(PlanError::DuplicateVersion {
                version,
                first: prev.path.clone(),
                second: path.clone(),
            });
        }
        out.push(migration(path, bytes, version, dialect)?);
    }
    Ok(out)
}

/// True for revert files (`down.sql`, `*.down.sql`): never part of a deploy.
pub fn is_revert(path: &str) -> bool {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = file.to_ascii_lowercase();
    lower == "down.sql" || lower.ends_with(".down.sql")
}

/// One file → a [`Migration`] (statements split by the review parser).
pub(crate) fn migration(
    path: &str,
    bytes: &[u8],
    version: String,
    dialect: Dialect,
) -> Result<Migration, PlanError> {
    let text = std::str::from_utf8(bytes).map_err(|_| PlanError::NotText {
        path: path.to_string(),
    })?;
    let (statements, reason) = statements(text, dialect);
    if reason.is_none()
        && let Some(s) = statements.iter().find(|s| is_transaction_control(s))
    {
        return Err(PlanError::TransactionControl {
            path: path.to_string(),
            line: s.line(),
            statement: excerpt(&s.text),
        });
    }
    let steps = statements
        .into_iter()
        .map(|s| Step {
            line: s.span.start.line,
            column: s.span.start.column,
            dml: Dml::of(&s),
            text: s.text,
        })
        .collect();
    Ok(Migration {
        version,
        path: path.to_string(),
        checksum: checksum(bytes),
        steps,
        mode: reason.map_or(Mode::Transactional, Mode::NonTransactional),
    })
}

/// The statements a deploy runs of a file, in order, numbered as the deploy
/// numbers them (a `-- bytegate:down` section is not part of it; a wrapping
/// `BEGIN … COMMIT` of a transactional file is dropped), and why the file
/// cannot run in a transaction, if it cannot.
pub(crate) fn statements(text: &str, dialect: Dialect) -> (Vec<Statement>, Option<&'static str>) {
    let (up, _) = split_down_section(text);
    let mut statements = parse::parse_file(up, dialect);
    let reason = match dialect {
        // DDL commits the open transaction on MySQL: a file with any runs
        // statement by statement, its progress recorded after each one.
        Dialect::Mysql => statements
            .iter()
            .any(implicitly_commits)
            .then_some(MYSQL_IMPLICIT_COMMIT),
        _ => statements.iter().find_map(rules::non_transactional_reason),
    };
    if reason.is_none() {
        strip_wrapping_transaction(&mut statements);
    }
    statements.retain(|s| !s.text.trim().is_empty());
    (statements, reason)
}

/// Why a MySQL file with DDL is non-transactional.
pub const MYSQL_IMPLICIT_COMMIT: &str = "MySQL commits each DDL statement implicitly";

/// True for a MySQL statement that commits the open transaction (DDL, and
/// anything bytegate cannot read: it may be DDL).
fn implicitly_commits(s: &Statement) -> bool {
    !matches!(
        s.kind.lexical_class(),
        LexicalClass::Insert
            | LexicalClass::Update { .. }
            | LexicalClass::Delete { .. }
            | LexicalClass::Session
            | LexicalClass::Other
    ) || matches!(s.kind, StatementKind::Unparsed { .. })
}

/// Drops a `BEGIN` first and `COMMIT` last statement: files written for
/// `psql -f` often wrap themselves, and bytegate's own transaction replaces it.
fn strip_wrapping_transaction(statements: &mut Vec<Statement>) {
    let wrapped = matches!(
        statements.first().map(|s| &s.kind),
        Some(StatementKind::Begin)
    ) && matches!(
        statements.last().map(|s| &s.kind),
        Some(StatementKind::Commit)
    ) && statements.len() >= 2;
    if wrapped {
        statements.pop();
        statements.remove(0);
    }
}

fn is_transaction_control(s: &Statement) -> bool {
    matches!(
        s.kind,
        StatementKind::Begin | StatementKind::Commit | StatementKind::Rollback
    )
}

/// A statement shortened for messages.
pub fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= EXCERPT_CHARS {
        one_line
    } else {
        let mut s: String = one_line.chars().take(EXCERPT_CHARS).collect();
        s.push('…');
        s
    }
}

/// Compares dotted versions numerically, part by part (`9` < `10`, `1` < `1.1`).
pub fn cmp_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<String> {
        v.split('.')
            .map(|p| p.trim_start_matches('0').to_string())
            .collect()
    };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Transactional => f.write_str("transactional"),
            Mode::NonTransactional(why) => write!(f, "non-transactional ({why})"),
        }
    }
}
