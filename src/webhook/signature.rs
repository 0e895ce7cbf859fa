//! Webhook authentication: GitHub's HMAC-SHA256 signature and GitLab's token,
//! both compared in constant time on the raw body, before any parsing.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Whether `header` (`X-Hub-Signature-256`, `sha256=<hex>`) is the HMAC-SHA256
/// of `body` under `secret`. An empty secret never verifies.
pub fn verify_github(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&expected).is_ok()
}

/// Computes the `X-Hub-Signature-256` header value (tests and tools sign with it).
pub fn sign_github(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this arm cannot be taken.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether GitLab's `X-Gitlab-Token` equals the configured token (constant time).
/// An empty configured token never verifies.
pub fn verify_gitlab(token: &[u8], header: Option<&str>) -> bool {
    match header {
        Some(h) if !token.is_empty() => h.as_bytes().ct_eq(token).into(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's own test vector, copied verbatim from
    /// shared/upstream/github/signature-vector.json (see tests/fixtures/github/README.md).
    fn vector() -> serde_json::Value {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/github/upstream/signature-vector.json"
        ));
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn matches_githubs_test_vector() {
        let v = vector();
        let secret = v["secret"].as_str().unwrap().as_bytes();
        let payload = v["payload"].as_str().unwrap().as_bytes();
        let sig = v["signature_256"].as_str().unwrap();
        assert!(verify_github(secret, payload, Some(sig)));
        assert_eq!(sign_github(secret, payload), sig);
    }

    #[test]
    fn rejects_wrong_missing_and_malformed_signatures() {
        let v = vector();
        let secret = v["secret"].as_str().unwrap().as_bytes();
        let sig = v["signature_256"].as_str().unwrap();
        assert!(!verify_github(secret, b"Hello, World?", Some(sig)));
        assert!(!verify_github(b"other secret", b"Hello, World!", Some(sig)));
        assert!(!verify_github(secret, b"Hello, World!", None));
        assert!(!verify_github(secret, b"Hello, World!", Some("sha1=abc")));
        assert!(!verify_github(secret, b"Hello, World!", Some("sha256=zz")));
        assert!(!verify_github(b"", b"", Some(&sign_github(b"", b""))));
    }

    #[test]
    fn gitlab_token_must_match_exactly() {
        assert!(verify_gitlab(b"tok", Some("tok")));
        assert!(!verify_gitlab(b"tok", Some("tok ")));
        assert!(!verify_gitlab(b"tok", None));
        assert!(!verify_gitlab(b"", Some("")));
    }
}
