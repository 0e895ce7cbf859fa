//! `fk-no-duplicate-column`: a foreign key names a column twice.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "fk-no-duplicate-column",
    default_severity: Severity::Error,
    description: "a foreign key whose referencing or referenced column list names a column twice",
    why: "PostgreSQL rejects it (\"column appears twice in foreign key constraint\") and the migration fails; it is usually a typo for another column.",
    instead: "Name each column once, in the order of the referenced key.",
    dialects: ALL,
    check: Check::Statement(check),
};

/// The first column named twice in `cols`.
fn duplicate(cols: &[Ident]) -> Option<&Ident> {
    cols.iter().enumerate().find_map(|(i, c)| {
        let n = c.normalized();
        cols[..i].iter().any(|p| p.normalized() == n).then_some(c)
    })
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let constraints: Vec<&TableConstraint> = match &cx.stmt.kind {
        StatementKind::CreateTable(ct) => ct.constraints.iter().collect(),
        StatementKind::AlterTable(at) => at
            .actions
            .iter()
            .filter_map(|a| match a {
                AlterAction::AddConstraint { constraint } => Some(constraint),
                _ => None,
            })
            .collect(),
        _ => return,
    };
    for c in constraints {
        let ConstraintKind::ForeignKey {
            columns,
            references,
        } = &c.kind
        else {
            continue;
        };
        if let Some(d) = duplicate(columns).or_else(|| duplicate(&references.columns)) {
            out.push(cx.hit(
                d.span.or(c.span),
                format!("Column `{d}` appears twice in this foreign key."),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "fk-no-duplicate-column";

    #[test]
    fn flags_a_column_named_twice() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY, x bigint, y bigint,\n  FOREIGN KEY (x, x) REFERENCES b (p, q));\nALTER TABLE a ADD CONSTRAINT a_fk FOREIGN KEY (x, y) REFERENCES b (p, p);";
        assert_eq!(lines(sql, ID), [2, 3]);
    }

    #[test]
    fn distinct_columns_are_fine() {
        let sql = "ALTER TABLE a ADD CONSTRAINT a_fk FOREIGN KEY (x, y) REFERENCES b (p, q);";
        assert!(lines(sql, ID).is_empty());
    }
}
