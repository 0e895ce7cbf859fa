//! A strict parser of the Prometheus / OpenMetrics text exposition, for
//! tests. Written here rather than taken from `prometheus-parse` (0.2.5, its
//! last release, years old): that crate matches lines with regexes and
//! silently skips what it does not recognise, and splits labels on `,` (a
//! comma or quote inside a label value breaks it), so a malformed exposition
//! would still "parse". This one refuses anything out of place:
//!
//! - `# HELP` / `# TYPE` / `# UNIT` name a family once, before its samples;
//!   `# EOF` must be the last line; no other comment lines;
//! - a sample's name is its family's name plus a suffix its type allows
//!   (counter `_total`/`_created`, histogram `_bucket`/`_sum`/`_count`/
//!   `_created`, gauge none), and a family's samples are contiguous;
//! - label names are valid and not repeated, values are quoted with only
//!   `\\`, `\"` and `\n` escapes; values are floats (`+Inf`, `-Inf`, `NaN`);
//! - histogram buckets carry `le`, rise to `+Inf`, are cumulative, and
//!   `_count` equals the `+Inf` bucket; counters are never negative.

use std::collections::BTreeMap;

/// A label set, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Full sample name (`bytegate_webhooks_received_total`).
    pub name: String,
    /// Its labels.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
}

/// A metric family: its type, help, and samples.
#[derive(Debug, Clone, Default)]
pub struct Family {
    /// `counter`, `gauge`, `histogram`, ... (`unknown` when untyped).
    pub kind: String,
    /// Its `# HELP` text.
    pub help: Option<String>,
    /// Samples in order.
    pub samples: Vec<Sample>,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// Families by name.
    pub families: BTreeMap<String, Family>,
}

impl Exposition {
    /// The value of the sample `name` whose labels include every pair of `labels`
    /// (exactly one must match).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<&Sample> = self
            .samples()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(
            matching.len() <= 1,
            "{name} {labels:?} matches {} samples",
            matching.len()
        );
        matching.first().map(|s| s.value)
    }

    /// The sum of the samples named `name` (0 when there are none).
    pub fn sum(&self, name: &str) -> f64 {
        self.samples()
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .sum()
    }

    /// Every sample.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.families.values().flat_map(|f| f.samples.iter())
    }

    /// Every sample name a query may use: each family's name with the
    /// suffixes its type allows (whether or not a sample exists yet).
    pub fn series_names(&self) -> std::collections::BTreeSet<String> {
        let mut names = std::collections::BTreeSet::new();
        for (name, family) in &self.families {
            for suffix in suffixes(&family.kind) {
                names.insert(format!("{name}{suffix}"));
            }
        }
        names
    }
}

fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count", "_created"],
        "summary" => &["", "_sum", "_count", "_created"],
        "info" => &["_info"],
        _ => &[""],
    }
}

/// Parses `text` strictly; the error names the line.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    let mut current: Option<String> = None;
    let mut closed: std::collections::BTreeSet<String> = Default::default();
    let mut eof = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let err = |m: &str| format!("line {n}: {m}: {line:?}");
        if eof {
            return Err(err("content after # EOF"));
        }
        if line.is_empty() {
            return Err(err("empty line"));
        }
        if let Some(rest) = line.strip_prefix('#') {
            if line == "# EOF" {
                eof = true;
                continue;
            }
            let mut parts = rest
                .strip_prefix(' ')
                .ok_or_else(|| err("bad comment"))?
                .splitn(3, ' ');
            let (keyword, name, arg) = (parts.next(), parts.next(), parts.next());
            let name = name.ok_or_else(|| err("no metric name"))?;
            check_name(name).map_err(|e| err(&e))?;
            if current.as_deref() != Some(name) {
                if let Some(prev) = current.take() {
                    closed.insert(prev);
                }
                if closed.contains(name) || out.families.contains_key(name) {
                    return Err(err("family described twice"));
                }
                current = Some(name.to_string());
                out.families.insert(
                    name.to_string(),
                    Family {
                        kind: "unknown".to_string(),
                        ..Family::default()
                    },
                );
            }
            let family = out.families.get_mut(name).ok_or_else(|| err("no family"))?;
            if !family.samples.is_empty() {
                return Err(err("metadata after samples"));
            }
            match (keyword, arg) {
                (Some("HELP"), Some(help)) => {
                    if family.help.replace(help.to_string()).is_some() {
                        return Err(err("HELP twice"));
                    }
                }
                (Some("TYPE"), Some(kind)) => {
                    let known = [
                        "counter",
                        "gauge",
                        "histogram",
                        "gaugehistogram",
                        "summary",
                        "info",
                        "stateset",
                        "unknown",
                    ];
                    if !known.contains(&kind) {
                        return Err(err("unknown type"));
                    }
                    family.kind = kind.to_string();
                }
                (Some("UNIT"), Some(unit)) => {
                    if !name.ends_with(&format!("_{unit}")) {
                        return Err(err("unit is not the name's suffix"));
                    }
                }
                _ => return Err(err("unknown comment")),
            }
            continue;
        }
        let sample = parse_sample(line).map_err(|e| err(&e))?;
        let family_name = current
            .clone()
            .ok_or_else(|| err("sample before any family"))?;
        let family = out
            .families
            .get_mut(&family_name)
            .ok_or_else(|| err("no family"))?;
        let suffix = sample
            .name
            .strip_prefix(family_name.as_str())
            .ok_or_else(|| err("sample outside its family"))?;
        if !suffixes(&family.kind).contains(&suffix) {
            return Err(err(&format!(
                "suffix {suffix:?} not allowed for a {}",
                family.kind
            )));
        }
        if family.kind == "counter"
            && suffix == "_total"
            && (sample.value.is_nan() || sample.value < 0.0)
        {
            return Err(err("negative counter"));
        }
        if family
            .samples
            .iter()
            .any(|s| s.name == sample.name && s.labels == sample.labels)
        {
            return Err(err("duplicate sample"));
        }
        family.samples.push(sample);
    }
    if !eof {
        return Err("no # EOF at the end".to_string());
    }
    for (name, family) in &out.families {
        if family.kind == "histogram" {
            check_histogram(name, family)?;
        }
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = Labels::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("label without =")?;
            let key = &rest[..eq];
            check_name(key).map_err(|_| format!("bad label name {key:?}"))?;
            if key.contains(':') {
                return Err(format!("bad label name {key:?}"));
            }
            rest = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or("label value not quoted")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("unterminated label value".to_string()),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        _ => return Err("bad escape in a label value".to_string()),
                    },
                    Some((_, '\n')) => return Err("newline in a label value".to_string()),
                    Some((_, c)) => value.push(c),
                }
            };
            if labels.insert(key.to_string(), value).is_some() {
                return Err(format!("label {key} twice"));
            }
            rest = &rest[end + 1..];
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
                if rest.starts_with('}') {
                    // A trailing comma is allowed by the Prometheus format.
                    continue;
                }
            } else if !rest.starts_with('}') {
                return Err("labels not separated by commas".to_string());
            }
        }
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut fields = rest.split(' ');
    let value = parse_float(fields.next().unwrap_or(""))?;
    if let Some(ts) = fields.next() {
        parse_float(ts).map_err(|_| format!("bad timestamp {ts:?}"))?;
    }
    if fields.next().is_some() {
        return Err("trailing fields (exemplars are not expected)".to_string());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn parse_float(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if s.is_empty()
            || s.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            Err(format!("bad value {s:?}"))
        }
        _ => s.parse().map_err(|_| format!("bad value {s:?}")),
    }
}

/// A histogram's buckets (bound, count), `_count` and `_sum`.
type HistogramSeries = (Vec<(f64, f64)>, Option<f64>, Option<f64>);

fn check_histogram(name: &str, family: &Family) -> Result<(), String> {
    // Group by the labels other than `le`.
    let mut series: BTreeMap<Labels, HistogramSeries> = BTreeMap::new();
    for s in &family.samples {
        let mut key = s.labels.clone();
        let le = key.remove("le");
        let entry = series.entry(key).or_default();
        match (s.name.strip_prefix(name), le) {
            (Some("_bucket"), Some(le)) => entry.0.push((parse_float(&le)?, s.value)),
            (Some("_bucket"), None) => return Err(format!("{name}: bucket without le")),
            (Some("_count"), None) => entry.1 = Some(s.value),
            (Some("_sum"), None) => entry.2 = Some(s.value),
            (Some("_created"), None) => {}
            _ => return Err(format!("{name}: unexpected sample {s:?}")),
        }
    }
    for (labels, (buckets, count, sum)) in series {
        let at = || format!("{name}{labels:?}");
        if buckets.is_empty() {
            return Err(format!("{}: no buckets", at()));
        }
        for pair in buckets.windows(2) {
            if pair[1].0 <= pair[0].0 {
                return Err(format!("{}: bucket bounds do not rise", at()));
            }
            if pair[1].1 < pair[0].1 {
                return Err(format!("{}: bucket counts are not cumulative", at()));
            }
        }
        let last = buckets[buckets.len() - 1];
        if last.0 != f64::INFINITY {
            return Err(format!("{}: no +Inf bucket", at()));
        }
        if count != Some(last.1) {
            return Err(format!(
                "{}: _count {count:?} is not the +Inf bucket {}",
                at(),
                last.1
            ));
        }
        if sum.is_none() {
            return Err(format!("{}: no _sum", at()));
        }
    }
    Ok(())
}
