//! The policy's table and property tests.

use super::*;
use crate::config::Backup;

fn env(name: &str, approvals: u32, roles: &[&str]) -> Environment {
    Environment {
        name: name.into(),
        approvals,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        allow_write_permission: false,
        stale_reset: true,
        high_risk_extra_approvals: 0,
        required_before_merge: true,
        deploy_window: None,
        backup: Backup::default(),
        lock_timeout: None,
        statement_timeout: None,
        allow_out_of_order: false,
        databases: Vec::new(),
    }
}

/// The seed's policies: development 0, staging 1 dba, production 2 with dba + owner.
fn seed_envs() -> Vec<Environment> {
    vec![
        env("development", 0, &[]),
        env("staging", 1, &["dba"]),
        env("production", 2, &["dba", "owner"]),
    ]
}

fn t(minute: u32) -> DateTime<Utc> {
    format!("2026-01-01T10:{minute:02}:00Z").parse().unwrap()
}

fn rec(user: &str, env: Option<&str>, vote: Vote, minute: u32) -> Record {
    Record {
        user: user.into(),
        environment: env.map(str::to_string),
        vote,
        at: t(minute),
        source: Source::Review(u64::from(minute)),
        digest: None,
    }
}

#[test]
fn approving_and_deploying_need_the_same_standing_and_only_approving_excludes_the_author() {
    let dba = BTreeSet::from(["dba".to_string()]);
    let none = BTreeSet::new();
    let mut staging = env("staging", 1, &["dba"]);
    for act in [Act::Approve, Act::Deploy] {
        assert_eq!(
            may_act(act, &staging, "alice", "dba1", &dba, false),
            Ok(Standing::Role)
        );
        assert_eq!(
            may_act(act, &staging, "alice", "rando", &none, true),
            Err(NoStanding::NoRole)
        );
    }
    staging.allow_write_permission = true;
    for act in [Act::Approve, Act::Deploy] {
        assert_eq!(
            may_act(act, &staging, "alice", "writer", &none, true),
            Ok(Standing::WritePermission)
        );
    }
    assert_eq!(
        may_act(Act::Approve, &staging, "Alice", "alice", &dba, false),
        Err(NoStanding::Author)
    );
    assert_eq!(
        may_act(Act::Deploy, &staging, "Alice", "alice", &dba, false),
        Ok(Standing::Role)
    );
    assert_eq!(
        may_act(Act::Deploy, &staging, "Alice", "alice", &none, false),
        Err(NoStanding::NoRole)
    );
}

fn approve(user: &str, minute: u32) -> Record {
    rec(user, None, Vote::Approve, minute)
}

/// Roles: dba1, dba2 (dba), owner1 (owner), both1 (dba + owner).
fn roles() -> HashMap<String, BTreeSet<String>> {
    let mut m = HashMap::new();
    for (u, r) in [
        ("dba1", vec!["dba"]),
        ("dba2", vec!["dba"]),
        ("owner1", vec!["owner"]),
        ("both1", vec!["dba", "owner"]),
        ("author", vec!["dba", "owner"]),
    ] {
        m.insert(u.to_string(), r.into_iter().map(str::to_string).collect());
    }
    m
}

struct Case {
    envs: Vec<Environment>,
    records: Vec<Record>,
    write: HashSet<String>,
    changed_at: Option<DateTime<Utc>>,
    digest: Option<String>,
    risk: RiskLevel,
}

impl Case {
    fn new(records: Vec<Record>) -> Case {
        Case {
            envs: seed_envs(),
            records,
            write: HashSet::new(),
            changed_at: None,
            digest: None,
            risk: RiskLevel::Low,
        }
    }

    fn decide(&self) -> Decision {
        let roles = roles();
        let risk = BTreeMap::new();
        decide(&PolicyInput {
            environments: &self.envs,
            author: "author",
            records: &self.records,
            roles: &roles,
            write_permission: &self.write,
            migrations_changed_at: self.changed_at,
            current_digest: self.digest.as_deref(),
            risk: &risk,
            default_risk: self.risk,
        })
    }

    fn env(&self, name: &str) -> EnvDecision {
        self.decide().environment(name).unwrap().clone()
    }
}

fn satisfied(d: &Decision) -> Vec<bool> {
    d.environments.iter().map(|e| e.satisfied).collect()
}

fn reasons(e: &EnvDecision) -> Vec<(String, DiscardReason)> {
    e.discarded
        .iter()
        .map(|d| (d.user.clone(), d.reason))
        .collect()
}

#[test]
fn table_of_seed_policies() {
    // (records, [development, staging, production] satisfied)
    let cases: Vec<(&str, Vec<Record>, [bool; 3])> = vec![
        ("nobody", vec![], [true, false, false]),
        ("one dba", vec![approve("dba1", 1)], [true, true, false]),
        (
            "two dbas: count ok, owner missing",
            vec![approve("dba1", 1), approve("dba2", 2)],
            [true, true, false],
        ),
        (
            "dba + owner",
            vec![approve("dba1", 1), approve("owner1", 2)],
            [true, true, true],
        ),
        (
            "owner alone",
            vec![approve("owner1", 1)],
            [true, false, false],
        ),
        (
            "one person with both roles is still one approval",
            vec![approve("both1", 1)],
            [true, true, false],
        ),
        (
            "both-roles person + dba",
            vec![approve("both1", 1), approve("dba1", 2)],
            [true, true, true],
        ),
    ];
    for (name, records, want) in cases {
        let got = satisfied(&Case::new(records).decide());
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn missing_roles_and_counts_are_reported() {
    let e = Case::new(vec![approve("dba1", 1)]).env("production");
    assert_eq!(e.required, 2);
    assert_eq!(e.counted.len(), 1);
    assert_eq!(e.missing_roles, ["owner"]);
    assert_eq!(e.missing_count(), 1);
    assert_eq!(e.summary_line(), "production: 1/2 (missing: owner)");
    let dev = Case::new(vec![]).env("development");
    assert_eq!(dev.summary_line(), "development: 0/0 ✓");
}

#[test]
fn roles_alone_without_count_are_required() {
    let mut case = Case::new(vec![]);
    case.envs = vec![env("qa", 0, &["dba"])];
    assert!(!case.env("qa").satisfied);
    case.records = vec![approve("dba1", 1)];
    assert!(case.env("qa").satisfied);
}

#[test]
fn latest_review_state_wins() {
    let case = Case::new(vec![
        approve("dba1", 1),
        rec("dba1", None, Vote::ChangesRequested, 2),
        approve("dba1", 3),
    ]);
    assert!(case.env("staging").satisfied);
    assert!(case.env("staging").discarded.is_empty());
}

#[test]
fn changes_requested_cancels_an_approval() {
    let e = Case::new(vec![
        approve("dba1", 1),
        rec("dba1", None, Vote::ChangesRequested, 2),
    ])
    .env("staging");
    assert!(!e.satisfied);
    assert_eq!(
        reasons(&e),
        [("dba1".to_string(), DiscardReason::ChangesRequested)]
    );
    assert_eq!(e.discarded[0].at, t(1), "the discarded approval's own time");
}

#[test]
fn dismissed_cancels_an_approval() {
    let e = Case::new(vec![
        approve("dba1", 1),
        rec("dba1", None, Vote::Dismissed, 2),
    ])
    .env("staging");
    assert!(!e.satisfied);
    assert_eq!(
        reasons(&e),
        [("dba1".to_string(), DiscardReason::Dismissed)]
    );
}

#[test]
fn a_dismissed_review_is_listed_even_without_an_earlier_approval() {
    let e = Case::new(vec![rec("dba1", None, Vote::Dismissed, 2)]).env("staging");
    assert!(!e.satisfied);
    assert_eq!(
        reasons(&e),
        [("dba1".to_string(), DiscardReason::Dismissed)]
    );
    assert_eq!(e.discarded[0].at, t(2));
}

#[test]
fn a_dismissal_does_not_cancel_a_later_approval() {
    let e = Case::new(vec![
        rec("dba1", None, Vote::Dismissed, 1),
        rec("dba1", Some("staging"), Vote::Approve, 2),
    ])
    .env("staging");
    assert!(e.satisfied);
}

#[test]
fn revoke_cancels_only_its_environment() {
    let case = Case::new(vec![
        approve("dba1", 1),
        approve("owner1", 2),
        rec("owner1", Some("production"), Vote::Revoke, 3),
    ]);
    let prod = case.env("production");
    assert!(!prod.satisfied);
    assert_eq!(
        reasons(&prod),
        [("owner1".to_string(), DiscardReason::Revoked)]
    );
    assert!(case.env("staging").satisfied);
}

#[test]
fn a_cancellation_without_an_approval_discards_nothing() {
    let e = Case::new(vec![rec("dba1", None, Vote::ChangesRequested, 1)]).env("staging");
    assert!(e.discarded.is_empty() && e.counted.is_empty());
}

#[test]
fn approval_scoped_to_an_environment_counts_only_there() {
    let case = Case::new(vec![rec("dba1", Some("production"), Vote::Approve, 1)]);
    assert!(!case.env("staging").satisfied);
    assert_eq!(case.env("production").counted.len(), 1);
}

#[test]
fn environment_names_in_records_are_case_insensitive() {
    let case = Case::new(vec![rec("dba1", Some("Staging"), Vote::Approve, 1)]);
    assert!(case.env("staging").satisfied);
}

#[test]
fn approve_after_changes_requested_counts_again_per_environment() {
    let case = Case::new(vec![
        rec("dba1", None, Vote::ChangesRequested, 1),
        rec("dba1", Some("staging"), Vote::Approve, 2),
    ]);
    assert!(case.env("staging").satisfied);
    assert!(case.env("production").counted.is_empty());
}

#[test]
fn the_author_never_counts() {
    let e = Case::new(vec![approve("Author", 1)]).env("staging");
    assert!(!e.satisfied);
    assert_eq!(reasons(&e), [("Author".to_string(), DiscardReason::Author)]);
}

#[test]
fn approvals_before_the_last_migration_change_are_stale() {
    let mut case = Case::new(vec![approve("dba1", 1), approve("dba2", 5)]);
    case.changed_at = Some(t(3));
    let e = case.env("staging");
    assert!(e.satisfied, "dba2 approved after the change");
    assert_eq!(
        reasons(&e),
        [(
            "dba1".to_string(),
            DiscardReason::Stale { changed_at: t(3) }
        )]
    );
    case.records.pop();
    assert!(!case.env("staging").satisfied);
}

#[test]
fn an_approval_at_the_change_time_is_not_stale() {
    let mut case = Case::new(vec![approve("dba1", 3)]);
    case.changed_at = Some(t(3));
    assert!(case.env("staging").satisfied);
}

#[test]
fn stale_reset_can_be_turned_off() {
    let mut case = Case::new(vec![approve("dba1", 1)]);
    case.changed_at = Some(t(3));
    case.envs[1].stale_reset = false;
    assert!(case.env("staging").satisfied);
}

fn approve_for(user: &str, minute: u32, digest: Option<&str>) -> Record {
    Record {
        digest: digest.map(str::to_string),
        ..approve(user, minute)
    }
}

#[test]
fn approvals_count_only_for_the_bytes_they_were_given_for() {
    // dba1 approved content A; the head now has content B.
    let mut case = Case::new(vec![approve_for("dba1", 5, Some("A"))]);
    case.digest = Some("B".into());
    let e = case.env("staging");
    assert!(!e.satisfied);
    assert_eq!(
        reasons(&e),
        [("dba1".to_string(), DiscardReason::StaleContent)]
    );
    // An approval of unknown content (a commit never reviewed) is stale too.
    let mut case = Case::new(vec![approve_for("dba1", 5, None)]);
    case.digest = Some("B".into());
    assert!(!case.env("staging").satisfied);
    // A later head with byte-identical migrations keeps it, whatever the time.
    let mut case = Case::new(vec![approve_for("dba1", 1, Some("A"))]);
    case.digest = Some("A".into());
    case.changed_at = Some(t(3));
    assert!(case.env("staging").satisfied);
    // Off: content does not matter.
    let mut case = Case::new(vec![approve_for("dba1", 1, Some("A"))]);
    case.digest = Some("B".into());
    case.envs[1].stale_reset = false;
    assert!(case.env("staging").satisfied);
}

#[test]
fn users_without_a_role_do_not_count() {
    let mut case = Case::new(vec![approve("rando", 1)]);
    case.envs = vec![env("qa", 1, &[])];
    let e = case.env("qa");
    assert!(!e.satisfied);
    assert_eq!(reasons(&e), [("rando".to_string(), DiscardReason::NoRole)]);
}

#[test]
fn write_permission_counts_only_where_allowed() {
    let mut case = Case::new(vec![approve("Writer", 1)]);
    case.envs = vec![env("qa", 1, &[])];
    case.write.insert("writer".into());
    assert!(!case.env("qa").satisfied, "not allowed by default");
    case.envs[0].allow_write_permission = true;
    let e = case.env("qa");
    assert!(e.satisfied);
    assert!(e.counted[0].via_write_permission);
    // Write permission fills the count, never a required role.
    case.envs[0].roles = vec!["dba".into()];
    let e = case.env("qa");
    assert!(!e.satisfied);
    assert_eq!(e.missing_roles, ["dba"]);
}

#[test]
fn high_risk_adds_approvals() {
    let mut case = Case::new(vec![approve("dba1", 1)]);
    case.envs[1].high_risk_extra_approvals = 1;
    assert!(case.env("staging").satisfied, "low risk: 1 needed");
    case.risk = RiskLevel::High;
    let e = case.env("staging");
    assert_eq!((e.required, e.high_risk_extra), (2, 1));
    assert!(!e.satisfied);
    case.records.push(approve("dba2", 2));
    assert!(case.env("staging").satisfied);
}

#[test]
fn risk_is_per_environment() {
    let roles = roles();
    let mut envs = seed_envs();
    envs[1].high_risk_extra_approvals = 1;
    envs[2].high_risk_extra_approvals = 1;
    let risk = BTreeMap::from([("production".to_string(), RiskLevel::High)]);
    let d = decide(&PolicyInput {
        environments: &envs,
        author: "author",
        records: &[],
        roles: &roles,
        write_permission: &HashSet::new(),
        migrations_changed_at: None,
        current_digest: None,
        risk: &risk,
        default_risk: RiskLevel::Low,
    });
    assert_eq!(d.environment("staging").unwrap().required, 1);
    assert_eq!(d.environment("production").unwrap().required, 3);
}

#[test]
fn mergeable_only_needs_environments_required_before_merge() {
    let mut case = Case::new(vec![approve("dba1", 1)]);
    assert!(!case.decide().mergeable());
    case.envs[2].required_before_merge = false;
    assert!(case.decide().mergeable());
}

#[test]
fn the_same_user_counts_once() {
    let e = Case::new(vec![
        approve("dba1", 1),
        rec("DBA1", Some("production"), Vote::Approve, 2),
    ])
    .env("production");
    assert_eq!(e.counted.len(), 1);
    assert_eq!(
        e.counted[0].at,
        t(2),
        "the latest approval is the one shown"
    );
}

#[test]
fn records_in_any_order_give_the_same_decision() {
    let a = vec![
        approve("dba1", 1),
        rec("dba1", None, Vote::Dismissed, 2),
        approve("owner1", 3),
    ];
    let mut b = a.clone();
    b.reverse();
    assert_eq!(Case::new(a).decide(), Case::new(b).decide());
}

fn arb_record() -> impl proptest::strategy::Strategy<Value = Record> {
    use proptest::prelude::*;
    (
        prop::sample::select(vec!["dba1", "DBA1", "owner1", "author", "rando", "both1"]),
        prop::option::of(prop::sample::select(vec![
            "staging",
            "production",
            "nowhere",
        ])),
        prop::sample::select(vec![
            Vote::Approve,
            Vote::Revoke,
            Vote::ChangesRequested,
            Vote::Dismissed,
        ]),
        0u32..60,
        any::<bool>(),
    )
        .prop_map(|(user, env, vote, minute, review)| Record {
            user: user.to_string(),
            environment: env.map(str::to_string),
            vote,
            at: t(minute),
            source: if review {
                Source::Review(u64::from(minute))
            } else {
                Source::Comment(u64::from(minute))
            },
            digest: None,
        })
}

proptest::proptest! {
    #[test]
    fn invariants_hold_for_any_records(
        records in proptest::collection::vec(arb_record(), 0..20),
        changed in proptest::option::of(0u32..60),
    ) {
        let mut case = Case::new(records);
        case.changed_at = changed.map(t);
        let d = case.decide();
        for e in &d.environments {
            // The author never counts; nobody counts twice; satisfied means enough and every role.
            proptest::prop_assert!(e.counted.iter().all(|c| !c.user.eq_ignore_ascii_case("author")));
            let mut users: Vec<String> = e.counted.iter().map(|c| c.user.to_ascii_lowercase()).collect();
            users.sort();
            users.dedup();
            proptest::prop_assert_eq!(users.len(), e.counted.len());
            if e.satisfied {
                proptest::prop_assert!(e.counted.len() as u32 >= e.required);
                proptest::prop_assert!(e.missing_roles.is_empty());
            }
            if let Some(c) = case.changed_at {
                proptest::prop_assert!(e.counted.iter().all(|x| x.at >= c));
            }
        }
    }
}

#[test]
fn roles_come_from_users_and_teams() {
    let roles = BTreeMap::from([
        (
            "dba".to_string(),
            Role {
                users: vec!["Alice".into()],
                teams: vec!["acme/DBAs".into()],
            },
        ),
        (
            "owner".to_string(),
            Role {
                users: vec!["bob".into()],
                teams: vec![],
            },
        ),
    ]);
    let none = BTreeSet::new();
    assert_eq!(
        roles_of(&roles, "alice", &none),
        BTreeSet::from(["dba".to_string()])
    );
    let dbas = BTreeSet::from(["acme/dbas".to_string()]);
    assert_eq!(
        roles_of(&roles, "carol", &dbas),
        BTreeSet::from(["dba".to_string()])
    );
    assert!(roles_of(&roles, "carol", &none).is_empty());
}

#[test]
fn discard_reasons_read_well() {
    assert_eq!(
        DiscardReason::Stale { changed_at: t(3) }.to_string(),
        "stale: given before the migrations changed at 2026-01-01 10:03 UTC"
    );
    assert_eq!(
        DiscardReason::Author.to_string(),
        "the pull request's author cannot approve it"
    );
}
