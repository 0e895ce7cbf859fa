//! API tokens (`api_tokens`): bearer tokens for the REST API and the
//! dashboard. A secret is shown once, at creation; only its SHA-256 is
//! stored. The secret carries 256 random bits, so a fast hash is enough (there
//! is nothing to brute-force) and a lookup by hash is one index probe.

use super::StoreError;
use super::text_enum::text_enum;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgPool};
use subtle::ConstantTimeEq;

/// How every secret starts: tells a bytegate token apart in logs and secret
/// scanners, and a mistyped header from a token of another system.
pub const SECRET_PREFIX: &str = "bgt_";

text_enum! {
    /// What a token may do (`api_tokens.scope`).
    pub enum TokenScope {
        /// Read every `GET` route.
        Read = "read",
        /// Read, and the actions (deploy, rollback): the write routes.
        Admin = "admin",
    }
}

impl TokenScope {
    /// Whether a token of this scope may use a write route.
    pub fn may_write(self) -> bool {
        self == TokenScope::Admin
    }
}

/// A row of `api_tokens` (never the secret, nor its hash).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ApiToken {
    /// Primary key.
    pub id: i64,
    /// Unique among live tokens; the actor in the audit trail.
    pub name: String,
    /// Read or admin.
    pub scope: TokenScope,
    /// Who created it (the operator's login on the CLI).
    pub created_by: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last successful authentication.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revoked (then it authenticates nothing).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token just created: its row and the secret, which is never stored.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// The stored row.
    pub token: ApiToken,
    /// The bearer secret: show it once.
    pub secret: String,
}

/// Token failures a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A live token already has this name.
    #[error("a live token named `{0}` exists already (revoke it first, or pick another name)")]
    NameTaken(String),
    /// The name is empty.
    #[error("a token needs a non-empty name")]
    EmptyName,
    /// No live token has this id or name.
    #[error("no live token has the id or name `{0}`")]
    NotFound(String),
    /// The meta database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const COLUMNS: &str = "id, name, scope, created_by, created_at, last_used_at, revoked_at";

/// SHA-256 of a secret, hex: what is stored and looked up.
fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh secret: the prefix and 32 bytes of the OS-seeded CSPRNG, hex.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", hex::encode(bytes))
}

/// Creates a token; the returned secret is the only copy there will be.
pub async fn create(
    pool: &PgPool,
    name: &str,
    scope: TokenScope,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<CreatedToken, TokenError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TokenError::EmptyName);
    }
    let secret = new_secret();
    let inserted = sqlx::query_as::<_, ApiToken>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO api_tokens (name, scope, secret_sha256, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    )))
    .bind(name)
    .bind(scope)
    .bind(secret_hash(&secret))
    .bind(created_by)
    .bind(now)
    .fetch_one(pool)
    .await;
    match inserted {
        Ok(token) => Ok(CreatedToken { token, secret }),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("api_tokens_live_name") => {
            Err(TokenError::NameTaken(name.to_string()))
        }
        Err(e) => Err(StoreError::Query(e).into()),
    }
}

/// Every token, live and revoked, oldest first.
pub async fn list(pool: &PgPool) -> Result<Vec<ApiToken>, StoreError> {
    Ok(sqlx::query_as::<_, ApiToken>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM api_tokens ORDER BY id"
    )))
    .fetch_all(pool)
    .await?)
}

/// Revokes the live token with this id (when `id_or_name` is a number that
/// names one) or else this name, at `now`; returns it.
pub async fn revoke(
    pool: &PgPool,
    id_or_name: &str,
    now: DateTime<Utc>,
) -> Result<ApiToken, TokenError> {
    let id: Option<i64> = id_or_name.trim().parse().ok();
    let revoked = sqlx::query_as::<_, ApiToken>(sqlx::AssertSqlSafe(format!(
        "UPDATE api_tokens SET revoked_at = $3
         WHERE id = (SELECT id FROM api_tokens
                     WHERE revoked_at IS NULL AND (id = $1 OR name = $2)
                     ORDER BY (id = $1) DESC NULLS LAST LIMIT 1)
         RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(id_or_name.trim())
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::Query)?;
    revoked.ok_or_else(|| TokenError::NotFound(id_or_name.to_string()))
}

/// The live token whose secret this is, or `None` (unknown, revoked,
/// malformed). Records `now` as its last use.
pub async fn authenticate(
    pool: &PgPool,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<ApiToken>, StoreError> {
    if !secret.starts_with(SECRET_PREFIX) {
        return Ok(None);
    }
    let hash = secret_hash(secret);
    let row: Option<(String, ApiToken)> =
        sqlx::query_as::<_, StoredToken>(sqlx::AssertSqlSafe(format!(
            "UPDATE api_tokens SET last_used_at = $2
             WHERE secret_sha256 = $1 AND revoked_at IS NULL
             RETURNING secret_sha256, {COLUMNS}"
        )))
        .bind(&hash)
        .bind(now)
        .fetch_optional(pool)
        .await?
        .map(|s| (s.secret_sha256, s.token));
    // The index found the row by hash; compare again in constant time so the
    // answer never depends on where two hashes first differ.
    Ok(row.and_then(|(stored, token)| {
        bool::from(stored.as_bytes().ct_eq(hash.as_bytes())).then_some(token)
    }))
}

/// The live (not revoked) token with this id: a dashboard session re-reads
/// its token on every request, so revoking a token ends its sessions.
pub async fn live(pool: &PgPool, id: i64) -> Result<Option<ApiToken>, StoreError> {
    Ok(sqlx::query_as::<_, ApiToken>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE id = $1 AND revoked_at IS NULL"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

#[derive(FromRow)]
struct StoredToken {
    secret_sha256: String,
    #[sqlx(flatten)]
    token: ApiToken,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testdb::TestDb;

    #[tokio::test]
    async fn a_secret_authenticates_until_its_token_is_revoked() {
        let db = TestDb::migrated().await.unwrap();
        let now: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let made = create(&db.pool, "ci", TokenScope::Read, "ops", now)
            .await
            .unwrap();
        assert!(made.secret.starts_with(SECRET_PREFIX));
        assert_eq!(made.secret.len(), SECRET_PREFIX.len() + 64);
        // Only the hash is stored.
        let (stored,): (String,) = sqlx::query_as("SELECT secret_sha256 FROM api_tokens")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_ne!(stored, made.secret);
        assert!(!stored.contains(&made.secret[SECRET_PREFIX.len()..]));

        let later = now + chrono::Duration::minutes(5);
        let found = authenticate(&db.pool, &made.secret, later)
            .await
            .unwrap()
            .expect("a live token authenticates");
        assert_eq!((found.name.as_str(), found.scope), ("ci", TokenScope::Read));
        assert_eq!(found.last_used_at, Some(later));
        let mut wrong = made.secret.clone();
        wrong.pop();
        wrong.push('x');
        for bad in [wrong.as_str(), "", "bgt_", "Bearer x", &made.secret[4..]] {
            assert!(authenticate(&db.pool, bad, later).await.unwrap().is_none());
        }

        assert!(matches!(
            create(&db.pool, "ci", TokenScope::Admin, "ops", now).await,
            Err(TokenError::NameTaken(_))
        ));
        let revoked = revoke(&db.pool, "ci", later).await.unwrap();
        assert_eq!(revoked.revoked_at, Some(later));
        assert!(
            authenticate(&db.pool, &made.secret, later)
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            revoke(&db.pool, "ci", later).await,
            Err(TokenError::NotFound(_))
        ));
        // The name is free again; revoking by id works too.
        let again = create(&db.pool, "ci", TokenScope::Admin, "ops", now)
            .await
            .unwrap();
        let id = again.token.id.to_string();
        assert_eq!(
            revoke(&db.pool, &id, later).await.unwrap().id,
            again.token.id
        );
        let all = list(&db.pool).await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|t| t.revoked_at.is_some()));
    }
}
