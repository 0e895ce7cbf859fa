//! `naming-pk-template`: a named primary key follows the primary-key template
//! (Bytebase's `naming.index.pk`).

use super::naming_template::{NameParts, check_name, named_constraints};
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "naming-pk-template",
    default_severity: Severity::Off,
    description: "a named PRIMARY KEY constraint whose name is not the template's (default `pk_{{table}}_{{column_list}}`)",
    why: "Team policy: consistent key names make constraint errors, dumps and schema diffs readable.",
    instead: "Name it as the template says, or set `review.rules.naming-pk-template.template`.",
    dialects: PG,
    check: Check::Statement(check),
};

const TEMPLATE: &str = "pk_{{table}}_{{column_list}}";

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for (table, name, kind) in named_constraints(cx.stmt) {
        if let ConstraintKind::PrimaryKey {
            columns,
            using_index: None,
        } = kind
        {
            let parts = NameParts::own(table, columns);
            check_name(cx, &RULE, TEMPLATE, "primary key", name, &parts, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "naming-pk-template";

    #[test]
    fn flags_pk_names_off_template() {
        let sql = "CREATE TABLE a (id bigint, CONSTRAINT pk_a_id PRIMARY KEY (id));\nCREATE TABLE b (id bigint, CONSTRAINT b_pkey PRIMARY KEY (id));\nCREATE TABLE c (id bigint PRIMARY KEY);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2]);
    }
}
