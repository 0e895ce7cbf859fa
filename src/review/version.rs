//! Ordering of migration files by version, the order in which they apply.
//!
//! Recognized names: `001_add.sql`, `V1.2__add.sql`, `v3_add.sql`,
//! `20250120143000_add.sql` (timestamps), diesel-style folders
//! `2019-02-26-002946_create_user/up.sql`, and nested layouts whose folder is
//! named by a version alone (`delta/54/01add.sql`: version 54.1, so the folder
//! orders first). Versions compare numerically part by part (so `9_x` <
//! `10_x`, `delta/9/` < `delta/10/`); files without a version sort after
//! versioned ones.
//! `down.sql` files (reverts) come after every other file, newest first: the
//! order that applies the whole set and then rolls it back, so the schema
//! model seen by each forward migration is never disturbed by a revert.

use std::cmp::Ordering;

/// A migration file's position in the apply order. Compare with `Ord`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionKey {
    /// Numeric version parts without leading zeros (`[]` when there is no version).
    parts: Vec<String>,
    /// Within one diesel-style folder: `up.sql` 0, other files 1, `down.sql` [`ROLE_DOWN`].
    role: u8,
    /// The whole path, the final tie-breaker so the order is total and stable.
    path: String,
}

impl VersionKey {
    /// The version as dotted numbers (`2019.2.26.2946`), or `None` without one.
    pub fn version(&self) -> Option<String> {
        if self.parts.is_empty() {
            None
        } else {
            Some(self.parts.join("."))
        }
    }
}

impl Ord for VersionKey {
    fn cmp(&self, other: &Self) -> Ordering {
        let down = (self.role == ROLE_DOWN, other.role == ROLE_DOWN);
        match down {
            (false, true) => return Ordering::Less,
            (true, false) => return Ordering::Greater,
            // Reverts run newest first.
            (true, true) => return other.forward_cmp(self),
            (false, false) => {}
        }
        self.forward_cmp(other)
    }
}

/// `role` of a diesel-style `down.sql`.
const ROLE_DOWN: u8 = 2;

impl VersionKey {
    fn forward_cmp(&self, other: &Self) -> Ordering {
        // Versioned files first; then part by part as numbers.
        match (self.parts.is_empty(), other.parts.is_empty()) {
            (false, true) => return Ordering::Less,
            (true, false) => return Ordering::Greater,
            _ => {}
        }
        for (a, b) in self.parts.iter().zip(&other.parts) {
            let by_number = a.len().cmp(&b.len()).then_with(|| a.cmp(b));
            if by_number != Ordering::Equal {
                return by_number;
            }
        }
        self.parts
            .len()
            .cmp(&other.parts.len())
            .then_with(|| self.role.cmp(&other.role))
            .then_with(|| self.path.cmp(&other.path))
    }
}

impl PartialOrd for VersionKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The ordering key of a migration file path (`/` or `\` separated).
pub fn version_key(path: &str) -> VersionKey {
    let mut segments = path.rsplit(['/', '\\']).filter(|s| !s.is_empty());
    let file = segments.next().unwrap_or("");
    let parent = segments.next().unwrap_or("");
    let file_parts = version_parts(file);
    let (parts, role) = if file_parts.is_empty() {
        // `up.sql` / `down.sql` inside a versioned folder take the folder's version.
        let role = match file.to_ascii_lowercase().as_str() {
            "up.sql" => 0,
            "down.sql" => ROLE_DOWN,
            _ => 1,
        };
        (version_parts(parent), role)
    } else {
        // `delta/<N>/<NN>name.sql`: the folder's number comes first.
        let mut parts = folder_version(parent);
        parts.extend(file_parts);
        (parts, 1)
    };
    VersionKey {
        parts,
        role,
        path: path.to_string(),
    }
}

/// The version of a folder named by a version and nothing else (`54`, `v3`,
/// `1.2`); empty for any other name (`migrations`, `2fa`, `001_init`).
fn folder_version(name: &str) -> Vec<String> {
    let (parts, end) = version_prefix(name);
    if end == name.len() { parts } else { Vec::new() }
}

/// The numeric parts of a leading version: an optional `v`/`V`, then digit
/// groups separated by `.`, `-` or `_`. A group after `_` counts only when it is
/// all digits up to the next separator (so `001_2fa.sql` is version 1).
fn version_parts(name: &str) -> Vec<String> {
    version_prefix(name).0
}

/// [`version_parts`] and the byte length of the version read.
fn version_prefix(name: &str) -> (Vec<String>, usize) {
    let bytes = name.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'v' | b'V')) && bytes.get(1).is_some_and(u8::is_ascii_digit) {
        i = 1;
    }
    let mut parts = Vec::new();
    loop {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if start == i {
            break;
        }
        let digits = name.get(start..i).unwrap_or("");
        let trimmed = digits.trim_start_matches('0');
        parts.push(if trimmed.is_empty() { "0" } else { trimmed }.to_string());
        let Some(&sep) = bytes.get(i) else { break };
        if !matches!(sep, b'.' | b'-' | b'_') || !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            break;
        }
        if sep == b'_' {
            // `_` also separates the version from a description that starts with a digit.
            let mut j = i + 1;
            while bytes.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            let ends_group = match bytes.get(j) {
                None => true,
                Some(b) => matches!(b, b'.' | b'-' | b'_'),
            };
            if !ends_group {
                break;
            }
        }
        i += 1;
    }
    (parts, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(paths: &[&str]) -> Vec<String> {
        let mut v: Vec<&str> = paths.to_vec();
        v.sort_by_key(|p| version_key(p));
        v.into_iter().map(str::to_string).collect()
    }

    #[test]
    fn numeric_prefixes_compare_as_numbers() {
        assert_eq!(
            sorted(&["10_c.sql", "9_b.sql", "001_a.sql"]),
            ["001_a.sql", "9_b.sql", "10_c.sql"]
        );
    }

    #[test]
    fn dotted_and_v_prefixed_versions() {
        assert_eq!(
            sorted(&["V1.10__x.sql", "v1.2_y.sql", "V1__z.sql"]),
            ["V1__z.sql", "v1.2_y.sql", "V1.10__x.sql"]
        );
        assert_eq!(
            version_key("V1.2.3__x.sql").version().as_deref(),
            Some("1.2.3")
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            sorted(&["20250121091500_b.sql", "20250120143000_a.sql"]),
            ["20250120143000_a.sql", "20250121091500_b.sql"]
        );
    }

    #[test]
    fn diesel_folders_use_the_folder_version_and_downs_come_last_newest_first() {
        let got = sorted(&[
            "m/2019-03-03-163336_create_post/down.sql",
            "m/2019-03-03-163336_create_post/up.sql",
            "m/2019-02-26-002946_create_user/down.sql",
            "m/2019-02-26-002946_create_user/up.sql",
            "m/00000000000000_diesel_initial_setup/up.sql",
        ]);
        assert_eq!(
            got,
            [
                "m/00000000000000_diesel_initial_setup/up.sql",
                "m/2019-02-26-002946_create_user/up.sql",
                "m/2019-03-03-163336_create_post/up.sql",
                "m/2019-03-03-163336_create_post/down.sql",
                "m/2019-02-26-002946_create_user/down.sql",
            ]
        );
        assert_eq!(
            version_key("m/2019-02-26-002946_create_user/up.sql")
                .version()
                .as_deref(),
            Some("2019.2.26.2946")
        );
    }

    #[test]
    fn description_starting_with_a_digit_is_not_a_version_part() {
        assert_eq!(version_key("001_2fa.sql").version().as_deref(), Some("1"));
        assert_eq!(version_key("003.sql").version().as_deref(), Some("3"));
    }

    #[test]
    fn nested_layouts_sort_by_the_folder_number_first() {
        let got = sorted(&[
            "schema/delta/10/01_a.sql",
            "schema/delta/2/03_c.sql",
            "schema/delta/9/02b.sql",
            "schema/delta/2/01_a.sql",
            "schema/delta/10/00_z.sql",
        ]);
        assert_eq!(
            got,
            [
                "schema/delta/2/01_a.sql",
                "schema/delta/2/03_c.sql",
                "schema/delta/9/02b.sql",
                "schema/delta/10/00_z.sql",
                "schema/delta/10/01_a.sql",
            ]
        );
        assert_eq!(
            version_key("delta/54/01add.sql").version().as_deref(),
            Some("54.1")
        );
        assert_eq!(
            version_key("db/v1.2/V3__x.sql").version().as_deref(),
            Some("1.2.3")
        );
        // Only a folder named by a version alone counts.
        for path in [
            "migrations/001_a.sql",
            "2fa/001_a.sql",
            "001_init/002_b.sql",
        ] {
            let file = path.rsplit('/').next().unwrap_or(path);
            assert_eq!(version_key(path).version(), version_key(file).version());
        }
    }

    #[test]
    fn unversioned_files_sort_last_by_path() {
        assert_eq!(
            sorted(&["seed.sql", "002_a.sql", "extra.sql"]),
            ["002_a.sql", "extra.sql", "seed.sql"]
        );
        assert_eq!(version_key("").version(), None);
    }
}
