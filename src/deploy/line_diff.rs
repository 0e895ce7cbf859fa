//! A small line diff for schema snapshots: common prefix and suffix cut
//! off, the middle aligned by longest common subsequence (bounded: a huge
//! middle is shown as all removed, then all added), printed in unified
//! style with a few lines of context.

/// Cells of the LCS table above which the middle is not aligned.
const MAX_CELLS: usize = 4_000_000;

/// One line of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// In both texts.
    Same(&'a str),
    /// Only in the old text.
    Removed(&'a str),
    /// Only in the new text.
    Added(&'a str),
}

/// The lines of `old` and `new`, aligned.
pub fn diff<'a>(old: &'a str, new: &'a str) -> Vec<Line<'a>> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut out: Vec<Line> = a[..prefix].iter().map(|l| Line::Same(l)).collect();
    if am.len().saturating_mul(bm.len()) > MAX_CELLS {
        out.extend(am.iter().map(|l| Line::Removed(l)));
        out.extend(bm.iter().map(|l| Line::Added(l)));
    } else {
        middle(am, bm, &mut out);
    }
    out.extend(a[a.len() - suffix..].iter().map(|l| Line::Same(l)));
    out
}

/// LCS alignment of two slices with no common prefix or suffix left.
fn middle<'a>(a: &[&'a str], b: &[&'a str], out: &mut Vec<Line<'a>>) {
    let w = b.len() + 1;
    // lcs[i * w + j]: LCS length of a[i..] and b[j..].
    let mut lcs = vec![0u32; (a.len() + 1) * w];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i * w + j] = if a[i] == b[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(Line::Same(a[i]));
            i += 1;
            j += 1;
        } else if lcs[(i + 1) * w + j] >= lcs[i * w + j + 1] {
            out.push(Line::Removed(a[i]));
            i += 1;
        } else {
            out.push(Line::Added(b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| Line::Removed(l)));
    out.extend(b[j..].iter().map(|l| Line::Added(l)));
}

/// `old` → `new` in unified style (`-`/`+`/` ` prefixes, `@@` between
/// hunks) with `context` unchanged lines around each change; empty when the
/// texts have the same lines.
pub fn unified(old: &str, new: &str, context: usize) -> String {
    let lines = diff(old, new);
    let changed: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, Line::Same(_)))
        .map(|(i, _)| i)
        .collect();
    if changed.is_empty() {
        return String::new();
    }
    let show = |i: usize| {
        changed
            .iter()
            .any(|&c| i + context >= c && i <= c + context)
    };
    let mut out = String::new();
    let mut last: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        if !show(i) {
            continue;
        }
        if last.is_some_and(|l| l + 1 != i) || (last.is_none() && i > 0) {
            out.push_str("@@\n");
        }
        let (mark, text) = match line {
            Line::Same(t) => (' ', t),
            Line::Removed(t) => ('-', t),
            Line::Added(t) => ('+', t),
        };
        out.push(mark);
        out.push_str(text);
        out.push('\n');
        last = Some(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_line_shows_with_its_context() {
        let old = "a\nb\nc\nd\ne\nf\n";
        let new = "a\nb\nc\nX\nd\ne\nf\n";
        assert_eq!(unified(old, new, 1), "@@\n c\n+X\n d\n");
        assert_eq!(unified(old, old, 3), "");
    }

    #[test]
    fn removed_and_changed_lines_are_aligned() {
        let lines = diff("a\nb\nc\n", "a\nB\nc\nd\n");
        assert_eq!(
            lines,
            [
                Line::Same("a"),
                Line::Removed("b"),
                Line::Added("B"),
                Line::Same("c"),
                Line::Added("d"),
            ]
        );
    }
}
