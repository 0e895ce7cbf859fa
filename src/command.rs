//! Comment commands (`/bytebase approve production`): the vocabulary as an
//! enum, a parser that reads one command per line, and error and help texts.
//!
//! Markdown is reduced to plain lines first, so commands inside fenced or
//! indented code blocks, block quotes (`> /bytebase approve`, including their
//! lazy continuation lines) and HTML comments are not commands. A command
//! starts a line (up to three spaces of indentation); the prefix and the
//! command name are case-insensitive.

use crate::deploy::RepairDecision;
use std::fmt;

/// A command's name: the vocabulary. Help text and suggestions come from [`CommandName::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandName {
    /// `approve [ENV…]`.
    Approve,
    /// `revoke [ENV…]`.
    Revoke,
    /// `deploy ENV`.
    Deploy,
    /// `rollback ENV`.
    Rollback,
    /// `repair ENV applied|not-applied`.
    Repair,
    /// `plan`.
    Plan,
    /// `help`.
    Help,
}

impl CommandName {
    /// Every command, in help order.
    pub const ALL: [CommandName; 7] = [
        CommandName::Approve,
        CommandName::Revoke,
        CommandName::Deploy,
        CommandName::Rollback,
        CommandName::Repair,
        CommandName::Plan,
        CommandName::Help,
    ];

    /// The word typed after the prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Approve => "approve",
            CommandName::Revoke => "revoke",
            CommandName::Deploy => "deploy",
            CommandName::Rollback => "rollback",
            CommandName::Repair => "repair",
            CommandName::Plan => "plan",
            CommandName::Help => "help",
        }
    }

    /// Arguments, as shown in help (`[ENV…]`).
    pub fn arguments(self) -> Arity {
        match self {
            CommandName::Approve | CommandName::Revoke => Arity::AnyEnvironments,
            CommandName::Deploy | CommandName::Rollback => Arity::OneEnvironment,
            CommandName::Repair => Arity::EnvironmentAndDecision,
            CommandName::Plan | CommandName::Help => Arity::None,
        }
    }

    /// One line of help.
    pub fn description(self) -> &'static str {
        match self {
            CommandName::Approve => {
                "approve for the named environments (default: all environments)"
            }
            CommandName::Revoke => {
                "withdraw your approval for the named environments (default: all)"
            }
            CommandName::Deploy => "start a waiting deploy stage (its policy must hold)",
            CommandName::Rollback => {
                "apply the recorded reverse change (the environment's policy must hold)"
            }
            CommandName::Repair => {
                "record your DECISION about the environment's dirty database (a file that stopped half-way): `applied` (you finished it by hand) or `not-applied` (you undid it)"
            }
            CommandName::Plan => "re-run the review (and the dry run, where configured)",
            CommandName::Help => "list the commands",
        }
    }

    /// `/bytebase approve [ENV…]`.
    pub fn usage(self, prefix: &str) -> String {
        let args = match self.arguments() {
            Arity::AnyEnvironments => " [ENV…]",
            Arity::OneEnvironment => " ENV",
            // `|` would split a help table's cell: DECISION is in the description.
            Arity::EnvironmentAndDecision => " ENV DECISION",
            Arity::None => "",
        };
        format!("{prefix} {}{args}", self.as_str())
    }

    fn parse(word: &str) -> Option<CommandName> {
        CommandName::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What arguments a command takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Zero or more environment names.
    AnyEnvironments,
    /// Exactly one environment name.
    OneEnvironment,
    /// One environment name, then `applied` or `not-applied`.
    EnvironmentAndDecision,
    /// No arguments.
    None,
}

/// A parsed command. Environment names are as typed until [`Command::resolve`]
/// maps them onto the configured ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Approve; empty: every environment.
    Approve {
        /// Environments named.
        environments: Vec<String>,
    },
    /// Withdraw an approval; empty: every environment.
    Revoke {
        /// Environments named.
        environments: Vec<String>,
    },
    /// Start a waiting deploy stage.
    Deploy {
        /// The environment.
        environment: String,
    },
    /// Roll an environment back.
    Rollback {
        /// The environment.
        environment: String,
    },
    /// Record a decision about the environment's dirty database.
    Repair {
        /// The environment.
        environment: String,
        /// What the operator did.
        decision: RepairDecision,
    },
    /// Re-run the review.
    Plan,
    /// List the commands.
    Help,
}

impl Command {
    /// The command's name.
    pub fn name(&self) -> CommandName {
        match self {
            Command::Approve { .. } => CommandName::Approve,
            Command::Revoke { .. } => CommandName::Revoke,
            Command::Deploy { .. } => CommandName::Deploy,
            Command::Rollback { .. } => CommandName::Rollback,
            Command::Repair { .. } => CommandName::Repair,
            Command::Plan => CommandName::Plan,
            Command::Help => CommandName::Help,
        }
    }

    /// The environments it names (as typed or resolved).
    pub fn environments(&self) -> Vec<&str> {
        match self {
            Command::Approve { environments } | Command::Revoke { environments } => {
                environments.iter().map(String::as_str).collect()
            }
            Command::Deploy { environment }
            | Command::Rollback { environment }
            | Command::Repair { environment, .. } => vec![environment.as_str()],
            Command::Plan | Command::Help => Vec::new(),
        }
    }

    /// Replaces typed environment names with the configured spelling
    /// (case-insensitive), or names the first unknown one.
    pub fn resolve(self, known: &[&str]) -> Result<Command, ParseError> {
        let map = |typed: String| -> Result<String, ParseError> {
            known
                .iter()
                .find(|k| k.eq_ignore_ascii_case(&typed))
                .map(|k| k.to_string())
                .ok_or_else(|| ParseError::UnknownEnvironment {
                    suggestion: closest(&typed, known.iter().copied()).map(str::to_string),
                    name: typed,
                    known: known.iter().map(|k| k.to_string()).collect(),
                })
        };
        let map_all = |envs: Vec<String>| -> Result<Vec<String>, ParseError> {
            let mut out: Vec<String> = Vec::new();
            for e in envs {
                let e = map(e)?;
                if !out.contains(&e) {
                    out.push(e);
                }
            }
            Ok(out)
        };
        Ok(match self {
            Command::Approve { environments } => Command::Approve {
                environments: map_all(environments)?,
            },
            Command::Revoke { environments } => Command::Revoke {
                environments: map_all(environments)?,
            },
            Command::Deploy { environment } => Command::Deploy {
                environment: map(environment)?,
            },
            Command::Rollback { environment } => Command::Rollback {
                environment: map(environment)?,
            },
            Command::Repair {
                environment,
                decision,
            } => Command::Repair {
                environment: map(environment)?,
                decision,
            },
            c @ (Command::Plan | Command::Help) => c,
        })
    }
}

/// Why a command line is not a command bytegate can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The prefix alone.
    MissingCommand,
    /// A word that is no command.
    UnknownCommand {
        /// What was typed.
        name: String,
        /// The closest command, if one is close.
        suggestion: Option<CommandName>,
    },
    /// `deploy`/`rollback` without an environment.
    MissingEnvironment {
        /// The command.
        command: CommandName,
    },
    /// `repair ENV` without `applied` / `not-applied` (or with another word).
    MissingDecision {
        /// What was typed instead, if anything.
        given: Option<String>,
    },
    /// More arguments than the command takes.
    UnexpectedArguments {
        /// The command.
        command: CommandName,
        /// The extra arguments.
        extra: Vec<String>,
    },
    /// An environment that is not configured.
    UnknownEnvironment {
        /// What was typed.
        name: String,
        /// The closest configured environment, if one is close.
        suggestion: Option<String>,
        /// The configured environments.
        known: Vec<String>,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::MissingCommand => {
                write!(f, "no command given; try one of: {}", command_list())
            }
            ParseError::UnknownCommand { name, suggestion } => {
                write!(f, "unknown command `{name}`")?;
                if let Some(s) = suggestion {
                    write!(f, "; did you mean `{s}`?")?;
                }
                write!(f, " Commands: {}", command_list())
            }
            ParseError::MissingEnvironment { command } => write!(
                f,
                "`{command}` needs an environment, e.g. `{command} production`"
            ),
            ParseError::MissingDecision { given } => {
                write!(
                    f,
                    "`repair` needs your decision after the environment: `applied` (you finished the file by hand) or `not-applied` (you undid it), e.g. `repair production applied`"
                )?;
                if let Some(g) = given {
                    write!(f, "; `{g}` is neither")?;
                }
                Ok(())
            }
            ParseError::UnexpectedArguments { command, extra } => {
                let what = match command.arguments() {
                    Arity::OneEnvironment => "takes exactly one environment",
                    Arity::EnvironmentAndDecision => {
                        "takes an environment and `applied` or `not-applied`"
                    }
                    Arity::None | Arity::AnyEnvironments => "takes no arguments",
                };
                write!(f, "`{command}` {what}; unexpected: `{}`", extra.join(" "))
            }
            ParseError::UnknownEnvironment {
                name,
                suggestion,
                known,
            } => {
                write!(f, "unknown environment `{name}`")?;
                if let Some(s) = suggestion {
                    write!(f, "; did you mean `{s}`?")?;
                }
                if known.is_empty() {
                    write!(f, " No environments are configured.")
                } else {
                    let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                    write!(f, " Configured environments: {}", list.join(", "))
                }
            }
        }
    }
}

fn command_list() -> String {
    CommandName::ALL
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One command line found in a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The line as written (trimmed).
    pub text: String,
    /// What it means.
    pub result: Result<Command, ParseError>,
}

/// Every command line in a comment, in order. Lines that do not start with
/// the prefix, and lines in code blocks, quotes or HTML comments, are skipped.
pub fn parse_comment(body: &str, prefix: &str) -> Vec<CommandLine> {
    plain_lines(body)
        .into_iter()
        .filter_map(|line| {
            let rest = strip_prefix_ci(line, prefix)?;
            Some(CommandLine {
                text: line.trim().to_string(),
                result: parse_args(rest),
            })
        })
        .collect()
}

/// `rest` when `line` is `prefix` + whitespace + `rest` (or the prefix alone).
fn strip_prefix_ci<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return None;
    }
    let head = line.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = line.get(prefix.len()..)?;
    if rest.is_empty() || rest.starts_with(char::is_whitespace) {
        Some(rest)
    } else {
        None
    }
}

fn parse_args(rest: &str) -> Result<Command, ParseError> {
    // Commas separate environments as well as spaces: `approve staging,production`.
    let mut words = rest
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty());
    let Some(word) = words.next() else {
        return Err(ParseError::MissingCommand);
    };
    let Some(name) = CommandName::parse(word) else {
        return Err(ParseError::UnknownCommand {
            name: word.to_string(),
            suggestion: closest(word, CommandName::ALL.iter().map(|c| c.as_str()))
                .and_then(CommandName::parse),
        });
    };
    let args: Vec<String> = words.map(str::to_string).collect();
    match name.arguments() {
        Arity::AnyEnvironments => Ok(match name {
            CommandName::Revoke => Command::Revoke { environments: args },
            _ => Command::Approve { environments: args },
        }),
        Arity::EnvironmentAndDecision => {
            let mut args = args.into_iter();
            let Some(environment) = args.next() else {
                return Err(ParseError::MissingEnvironment { command: name });
            };
            let decision = match args.next() {
                None => return Err(ParseError::MissingDecision { given: None }),
                Some(word) => word
                    .to_ascii_lowercase()
                    .parse::<RepairDecision>()
                    .map_err(|_| ParseError::MissingDecision { given: Some(word) })?,
            };
            let extra: Vec<String> = args.collect();
            if !extra.is_empty() {
                return Err(ParseError::UnexpectedArguments {
                    command: name,
                    extra,
                });
            }
            Ok(Command::Repair {
                environment,
                decision,
            })
        }
        Arity::OneEnvironment => {
            let mut args = args.into_iter();
            let Some(environment) = args.next() else {
                return Err(ParseError::MissingEnvironment { command: name });
            };
            let extra: Vec<String> = args.collect();
            if !extra.is_empty() {
                return Err(ParseError::UnexpectedArguments {
                    command: name,
                    extra,
                });
            }
            Ok(match name {
                CommandName::Rollback => Command::Rollback { environment },
                _ => Command::Deploy { environment },
            })
        }
        Arity::None => {
            if !args.is_empty() {
                return Err(ParseError::UnexpectedArguments {
                    command: name,
                    extra: args,
                });
            }
            Ok(match name {
                CommandName::Help => Command::Help,
                _ => Command::Plan,
            })
        }
    }
}

/// The lines of `body` that are plain paragraph text (left-trimmed), in order.
fn plain_lines(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    // The open fence: its character and length.
    let mut fence: Option<(char, usize)> = None;
    let mut in_html_comment = false;
    // The previous line was part of a block quote paragraph (lazy continuation).
    let mut in_quote = false;
    for raw in body.lines() {
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let line = raw.trim_start();
        if let Some((ch, len)) = fence {
            let run = line.chars().take_while(|&c| c == ch).count();
            if indent < 4 && run >= len && line[run * ch.len_utf8()..].trim().is_empty() {
                fence = None;
            }
            continue;
        }
        if in_html_comment {
            if line.contains("-->") {
                in_html_comment = false;
            }
            continue;
        }
        if line.is_empty() {
            in_quote = false;
            continue;
        }
        if raw.starts_with('\t') || indent >= 4 {
            // Indented code (or a quote's lazy continuation): never a command.
            continue;
        }
        if line.starts_with('>') {
            in_quote = true;
            continue;
        }
        if in_quote {
            continue;
        }
        let tick = line.chars().take_while(|&c| c == '`').count();
        let tilde = line.chars().take_while(|&c| c == '~').count();
        if tick >= 3 {
            fence = Some(('`', tick));
            continue;
        }
        if tilde >= 3 {
            fence = Some(('~', tilde));
            continue;
        }
        if line.starts_with("<!--") {
            in_html_comment = !line.contains("-->");
            continue;
        }
        out.push(line.trim_end());
    }
    out
}

/// The candidate closest to `typed` (edit distance ≤ 2, case-insensitive).
fn closest<'a>(typed: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    candidates
        .map(|c| (distance(&typed, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The help reply: every command with its arguments and description.
pub fn help(prefix: &str) -> String {
    let mut out = String::from(
        "**bytegate commands** (one per line, in a comment on the pull request):\n\n| Command | What it does |\n|---|---|\n",
    );
    for c in CommandName::ALL {
        out.push_str(&format!(
            "| `{}` | {} |\n",
            c.usage(prefix),
            c.description()
        ));
    }
    out.push_str("\nEnvironment names are case-insensitive. Commands in quotes or code blocks are ignored.\n");
    out
}

#[cfg(test)]
mod tests;
