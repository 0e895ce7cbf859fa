//! Tests of the comment-command parser.

use super::*;

const P: &str = "/bytebase";

fn parse(body: &str) -> Vec<Result<Command, ParseError>> {
    parse_comment(body, P)
        .into_iter()
        .map(|c| c.result)
        .collect()
}

fn one(body: &str) -> Result<Command, ParseError> {
    let all = parse(body);
    assert_eq!(all.len(), 1, "{body:?} → {all:?}");
    all.into_iter().next().unwrap()
}

fn approve(envs: &[&str]) -> Result<Command, ParseError> {
    Ok(Command::Approve {
        environments: envs.iter().map(|e| e.to_string()).collect(),
    })
}

#[test]
fn no_command() {
    assert!(parse("Looks good to me!").is_empty());
}

#[test]
fn approve_all() {
    assert_eq!(one("/bytebase approve"), approve(&[]));
}

#[test]
fn approve_named() {
    assert_eq!(
        one("/bytebase approve production"),
        approve(&["production"])
    );
}

#[test]
fn approve_several_with_commas() {
    assert_eq!(
        one("/bytebase approve staging, production"),
        approve(&["staging", "production"])
    );
}

#[test]
fn case_insensitive_prefix_and_name() {
    assert_eq!(
        one("/ByteBase APPROVE Production"),
        approve(&["Production"])
    );
}

#[test]
fn leading_spaces_allowed() {
    assert_eq!(one("   /bytebase approve"), approve(&[]));
}

#[test]
fn revoke() {
    assert_eq!(
        one("/bytebase revoke production"),
        Ok(Command::Revoke {
            environments: vec!["production".into()]
        })
    );
}

#[test]
fn deploy() {
    assert_eq!(
        one("/bytebase deploy staging"),
        Ok(Command::Deploy {
            environment: "staging".into()
        })
    );
}

#[test]
fn rollback() {
    assert_eq!(
        one("/bytebase rollback staging"),
        Ok(Command::Rollback {
            environment: "staging".into()
        })
    );
}

#[test]
fn repair_takes_an_environment_and_a_decision() {
    assert_eq!(
        one("/bytebase repair staging Not-Applied"),
        Ok(Command::Repair {
            environment: "staging".into(),
            decision: crate::deploy::RepairDecision::NotApplied,
        })
    );
    assert_eq!(
        one("/bytebase repair staging"),
        Err(ParseError::MissingDecision { given: None })
    );
    let e = one("/bytebase repair staging maybe").unwrap_err();
    assert!(e.to_string().contains("`maybe` is neither"), "{e}");
    assert!(matches!(
        one("/bytebase repair staging applied now"),
        Err(ParseError::UnexpectedArguments { .. })
    ));
}

#[test]
fn plan_and_help() {
    assert_eq!(
        parse("/bytebase plan\n/bytebase help"),
        [Ok(Command::Plan), Ok(Command::Help)]
    );
}

#[test]
fn several_commands_in_one_comment() {
    let body = "Thanks!\n/bytebase approve staging\nsome text\n/bytebase revoke production\n";
    assert_eq!(parse(body).len(), 2);
}

#[test]
fn prefix_must_start_the_line() {
    assert!(parse("please do not /bytebase approve yet").is_empty());
}

#[test]
fn prefix_must_be_a_whole_word() {
    assert!(parse("/bytebaseapprove").is_empty());
}

#[test]
fn quoted_command_ignored() {
    assert!(parse("> /bytebase approve").is_empty());
}

#[test]
fn nested_quote_ignored() {
    assert!(parse(">> /bytebase approve").is_empty());
}

#[test]
fn quote_lazy_continuation_ignored() {
    assert!(parse("> you said\n/bytebase approve").is_empty());
}

#[test]
fn command_after_quote_and_blank_line_counts() {
    assert_eq!(one("> you said\n\n/bytebase approve"), approve(&[]));
}

#[test]
fn fenced_code_ignored() {
    assert!(parse("```\n/bytebase approve\n```").is_empty());
}

#[test]
fn tilde_fence_ignored() {
    assert!(parse("~~~sh\n/bytebase approve\n~~~").is_empty());
}

#[test]
fn command_after_fence_counts() {
    assert_eq!(one("```\nx\n```\n/bytebase approve"), approve(&[]));
}

#[test]
fn shorter_fence_does_not_close() {
    assert!(parse("````\n```\n/bytebase approve\n````").is_empty());
}

#[test]
fn unclosed_fence_hides_the_rest() {
    assert!(parse("```\n/bytebase approve").is_empty());
}

#[test]
fn indented_code_ignored() {
    assert!(parse("    /bytebase approve").is_empty());
}

#[test]
fn tab_indented_code_ignored() {
    assert!(parse("\t/bytebase approve").is_empty());
}

#[test]
fn inline_code_ignored() {
    assert!(parse("`/bytebase approve`").is_empty());
}

#[test]
fn html_comment_ignored() {
    assert!(parse("<!--\n/bytebase approve\n-->").is_empty());
}

#[test]
fn crlf_lines() {
    assert_eq!(parse("/bytebase approve\r\n/bytebase plan\r\n").len(), 2);
}

#[test]
fn custom_prefix() {
    assert_eq!(parse_comment("!db approve", "!db").len(), 1);
    assert!(parse_comment("/bytebase approve", "!db").is_empty());
}

#[test]
fn empty_prefix_matches_nothing() {
    assert!(parse_comment("approve", "").is_empty());
}

#[test]
fn missing_command() {
    assert_eq!(one("/bytebase"), Err(ParseError::MissingCommand));
}

#[test]
fn unknown_command_with_suggestion() {
    assert_eq!(
        one("/bytebase aprove"),
        Err(ParseError::UnknownCommand {
            name: "aprove".into(),
            suggestion: Some(CommandName::Approve)
        })
    );
}

#[test]
fn unknown_command_without_suggestion() {
    assert_eq!(
        one("/bytebase merge"),
        Err(ParseError::UnknownCommand {
            name: "merge".into(),
            suggestion: None
        })
    );
}

#[test]
fn deploy_without_environment() {
    assert_eq!(
        one("/bytebase deploy"),
        Err(ParseError::MissingEnvironment {
            command: CommandName::Deploy
        })
    );
}

#[test]
fn rollback_with_two_environments() {
    assert_eq!(
        one("/bytebase rollback a b"),
        Err(ParseError::UnexpectedArguments {
            command: CommandName::Rollback,
            extra: vec!["b".into()]
        })
    );
}

#[test]
fn help_with_arguments() {
    assert!(matches!(
        one("/bytebase help me"),
        Err(ParseError::UnexpectedArguments { .. })
    ));
}

#[test]
fn multibyte_line_does_not_panic() {
    assert!(parse("/bytebasé approve\n/bytebas\u{e9}").is_empty());
}

#[test]
fn resolve_maps_case_and_dedups() {
    let known = ["staging", "production"];
    let c = Command::Approve {
        environments: vec!["PRODUCTION".into(), "production".into()],
    };
    assert_eq!(c.resolve(&known), approve(&["production"]));
}

#[test]
fn resolve_unknown_environment_suggests() {
    let known = ["staging", "production"];
    let err = Command::Deploy {
        environment: "prod".into(),
    }
    .resolve(&known)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown environment `prod` Configured environments: `staging`, `production`"
    );
    let err = Command::Deploy {
        environment: "prodution".into(),
    }
    .resolve(&known)
    .unwrap_err();
    assert!(
        err.to_string().contains("did you mean `production`?"),
        "{err}"
    );
}

#[test]
fn error_texts() {
    assert_eq!(
        ParseError::UnknownCommand {
            name: "aprove".into(),
            suggestion: Some(CommandName::Approve)
        }
        .to_string(),
        "unknown command `aprove`; did you mean `approve`? Commands: `approve`, `revoke`, `deploy`, `rollback`, `repair`, `plan`, `help`"
    );
    assert_eq!(
        ParseError::MissingEnvironment {
            command: CommandName::Deploy
        }
        .to_string(),
        "`deploy` needs an environment, e.g. `deploy production`"
    );
}

#[test]
fn help_lists_every_command() {
    let h = help(P);
    for c in CommandName::ALL {
        assert!(h.contains(&c.usage(P)), "{c} missing from help");
    }
    insta::assert_snapshot!(h);
}

#[test]
fn help_contains_no_commands() {
    assert!(
        parse(&help(P)).is_empty(),
        "bytegate must not obey its own help"
    );
}

proptest::proptest! {
    #[test]
    fn parsing_never_panics(body in "(?s).{0,200}") {
        let _ = parse_comment(&body, P);
    }

    #[test]
    fn lines_without_the_prefix_are_never_commands(body in "[^/]{0,200}") {
        proptest::prop_assert!(parse_comment(&body, P).is_empty());
    }
}

#[test]
fn every_command_parses_from_its_usage() {
    for c in CommandName::ALL {
        let line = c
            .usage(P)
            .replace(" [ENV…]", "")
            .replace(" ENV", " staging")
            .replace(" DECISION", " applied");
        assert_eq!(one(&line).map(|cmd| cmd.name()), Ok(c));
    }
}
