//! `bytegate token create | list | revoke`: API tokens for the REST API and
//! the dashboard. The secret is printed once, at creation.

use super::{MetaDbArgs, with_meta_db};
use crate::clock::{Clock, SystemClock};
use crate::store::api_tokens::{self, ApiToken, TokenScope};
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::telemetry;
use clap::{Subcommand, ValueEnum};
use serde_json::json;

/// `--scope` on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum ScopeArg {
    /// Every `GET` route of the API and the dashboard.
    Read,
    /// Read, and the actions (deploy, rollback).
    Admin,
}

impl From<ScopeArg> for TokenScope {
    fn from(s: ScopeArg) -> TokenScope {
        match s {
            ScopeArg::Read => TokenScope::Read,
            ScopeArg::Admin => TokenScope::Admin,
        }
    }
}

/// `bytegate token ...`.
#[derive(Subcommand, Debug)]
pub(super) enum TokenCommand {
    /// Create a token and print its secret (shown this once; only its
    /// SHA-256 is stored). The name is the actor in the audit trail.
    Create {
        /// Unique among live tokens (e.g. `ci`, `alice-dashboard`).
        #[arg(long)]
        name: String,
        /// `read` (GET routes) or `admin` (also deploy and rollback).
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// Who creates it (recorded with the token and in the audit trail).
        #[arg(long, env = "USER", default_value = "operator")]
        actor: String,
        #[command(flatten)]
        meta: MetaDbArgs,
    },
    /// List tokens: id, name, scope, created, last used, revoked.
    List {
        #[command(flatten)]
        meta: MetaDbArgs,
    },
    /// Revoke a token by id or name: it stops authenticating at once.
    Revoke {
        /// The token's id (from `token list`) or name.
        token: String,
        /// Who revokes it (recorded in the audit trail).
        #[arg(long, env = "USER", default_value = "operator")]
        actor: String,
        #[command(flatten)]
        meta: MetaDbArgs,
    },
}

/// Runs a token command; the error is printed by the caller (exit 2).
pub(super) async fn run(command: TokenCommand) -> Result<(), String> {
    let now = SystemClock.now();
    match command {
        TokenCommand::Create {
            name,
            scope,
            actor,
            meta,
        } => {
            telemetry::init(meta.log_format, meta.debug);
            with_meta_db(&meta, true, |pool| async move {
                let made = api_tokens::create(&pool, &name, scope.into(), &actor, now)
                    .await
                    .map_err(|e| e.to_string())?;
                audit_token(&pool, &actor, AuditAction::ApiTokenCreated, &made.token).await?;
                eprintln!(
                    "created token {} `{}` ({}); its secret, shown only now:",
                    made.token.id, made.token.name, made.token.scope
                );
                println!("{}", made.secret);
                Ok(())
            })
            .await
        }
        TokenCommand::List { meta } => {
            telemetry::init(meta.log_format, meta.debug);
            with_meta_db(&meta, false, |pool| async move {
                let tokens = api_tokens::list(&pool).await.map_err(|e| e.to_string())?;
                if tokens.is_empty() {
                    println!("no tokens");
                }
                for t in tokens {
                    println!("{}", list_line(&t));
                }
                Ok(())
            })
            .await
        }
        TokenCommand::Revoke { token, actor, meta } => {
            telemetry::init(meta.log_format, meta.debug);
            with_meta_db(&meta, false, |pool| async move {
                let revoked = api_tokens::revoke(&pool, &token, now)
                    .await
                    .map_err(|e| e.to_string())?;
                audit_token(&pool, &actor, AuditAction::ApiTokenRevoked, &revoked).await?;
                println!("revoked token {} `{}`", revoked.id, revoked.name);
                Ok(())
            })
            .await
        }
    }
}

async fn audit_token(
    pool: &sqlx::PgPool,
    actor: &str,
    action: AuditAction,
    t: &ApiToken,
) -> Result<(), String> {
    audit::append(
        pool,
        &AuditEntry::new(actor, action)
            .with_detail(json!({"token_id": t.id, "name": t.name, "scope": t.scope.as_str()})),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// One line of `token list`.
fn list_line(t: &ApiToken) -> String {
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(
            || "-".to_string(),
            |a| a.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
    };
    format!(
        "{}\t{}\t{}\tcreated {} by {}\tlast used {}\t{}",
        t.id,
        t.name,
        t.scope,
        time(Some(t.created_at)),
        t.created_by,
        time(t.last_used_at),
        t.revoked_at.map_or_else(
            || "live".to_string(),
            |r| format!("revoked {}", time(Some(r)))
        )
    )
}
