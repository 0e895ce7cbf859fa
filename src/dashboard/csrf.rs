//! CSRF tokens: random values bytegate hands out (one per session for its
//! forms, one per login form as a double-submit cookie) and compares in
//! constant time when a form comes back.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh random token: 32 bytes, hex (also used for session ids).
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// sha256 of `text`, hex: how a session id is stored.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Whether the form's token `given` is the `expected` one (constant time;
/// a missing or empty token never matches).
pub fn matches(expected: &str, given: Option<&str>) -> bool {
    match given {
        Some(given) if !given.is_empty() && !expected.is_empty() => {
            bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_exactly() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(matches(&a, Some(&a)));
        assert!(!matches(&a, Some(&b)));
        assert!(!matches(&a, Some(&a[..63])));
        assert!(!matches(&a, None));
        assert!(!matches("", Some("")));
    }
}
