//! `index-no-duplicate-column`: the same column twice in one index key.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "index-no-duplicate-column",
    default_severity: Severity::Error,
    description: "the same column twice in one index (or PRIMARY KEY / UNIQUE / KEY)",
    why: "A repeated key column adds nothing but size and write cost — and usually means a different column was meant.",
    instead: "List each column once; check which column the index was meant to cover.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn duplicates(cols: &[Option<&Ident>]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut dups = Vec::new();
    for c in cols.iter().flatten() {
        let n = c.normalized();
        if seen.contains(&n) {
            if !dups.contains(&n) {
                dups.push(n);
            }
        } else {
            seen.push(n);
        }
    }
    dups
}

fn constraint_columns(c: &TableConstraint) -> Option<&[Ident]> {
    match &c.kind {
        ConstraintKind::PrimaryKey { columns, .. }
        | ConstraintKind::Unique { columns, .. }
        | ConstraintKind::Index { columns } => Some(columns),
        _ => None,
    }
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let mut report = |dups: Vec<String>, span| {
        for d in dups {
            out.push(cx.hit(
                span,
                format!("Column `{d}` appears more than once in the index key."),
            ));
        }
    };
    match &cx.stmt.kind {
        StatementKind::CreateIndex(ci) => {
            let cols: Vec<Option<&Ident>> = ci.columns.iter().map(|c| c.column.as_ref()).collect();
            report(duplicates(&cols), None);
        }
        StatementKind::CreateTable(ct) => {
            for c in &ct.constraints {
                if let Some(cols) = constraint_columns(c) {
                    report(
                        duplicates(&cols.iter().map(Some).collect::<Vec<_>>()),
                        c.span,
                    );
                }
            }
        }
        StatementKind::AlterTable(at) => {
            for a in &at.actions {
                if let AlterAction::AddConstraint { constraint: c } = a
                    && let Some(cols) = constraint_columns(c)
                {
                    report(
                        duplicates(&cols.iter().map(Some).collect::<Vec<_>>()),
                        c.span,
                    );
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "index-no-duplicate-column";

    #[test]
    fn flags_repeated_columns() {
        assert_eq!(lines("SELECT 1;\nCREATE INDEX i ON t (a, b, a);", ID), [2]);
        assert_eq!(
            lines("ALTER TABLE t ADD CONSTRAINT u UNIQUE (a, A);", ID),
            [1]
        );
        assert_eq!(
            lines_mysql(
                "CREATE TABLE t (id bigint, a int, PRIMARY KEY (id), KEY k (a, a)) ENGINE=InnoDB;",
                ID
            ),
            [1]
        );
    }

    #[test]
    fn distinct_columns_are_fine() {
        assert!(
            lines(
                "CREATE INDEX i ON t (a, b);\nCREATE INDEX j ON t (lower(a), a);",
                ID
            )
            .is_empty()
        );
    }
}
