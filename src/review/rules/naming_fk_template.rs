//! `naming-fk-template`: a named foreign key follows the foreign-key template
//! (Bytebase's `naming.index.fk`).

use super::naming_template::{NameParts, check_name, named_constraints};
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "naming-fk-template",
    default_severity: Severity::Off,
    description: "a named FOREIGN KEY whose name is not the template's (default `fk_{{referencing_table}}_{{referencing_column}}_{{referenced_table}}_{{referenced_column}}`)",
    why: "Team policy: a foreign-key violation names the constraint; a name built from both tables says which relation refused the row.",
    instead: "Name it as the template says, or set `review.rules.naming-fk-template.template`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const TEMPLATE: &str =
    "fk_{{referencing_table}}_{{referencing_column}}_{{referenced_table}}_{{referenced_column}}";

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for (table, name, kind) in named_constraints(cx.stmt) {
        if let ConstraintKind::ForeignKey {
            columns,
            references,
        } = kind
        {
            // `REFERENCES t` without columns means t's primary key: without
            // knowing it there is no expected name to compare with.
            let key: Vec<Ident>;
            let referenced_columns = if references.columns.is_empty() {
                let Some(pk) = cx
                    .schema
                    .table(&references.table)
                    .and_then(|t| t.primary_key.as_ref())
                else {
                    continue;
                };
                key = pk.iter().map(Ident::new).collect();
                &key
            } else {
                &references.columns
            };
            let parts = NameParts {
                table,
                columns,
                referenced_table: Some(&references.table),
                referenced_columns,
            };
            check_name(cx, &RULE, TEMPLATE, "foreign key", name, &parts, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "naming-fk-template";

    #[test]
    fn flags_fk_names_off_template() {
        let sql = "ALTER TABLE orders ADD CONSTRAINT fk_orders_user_id_users_id FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\nALTER TABLE orders ADD CONSTRAINT orders_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2]);
    }

    #[test]
    fn implicit_referenced_columns_are_the_primary_key() {
        let sql = "CREATE TABLE users (uid bigint PRIMARY KEY);\nALTER TABLE orders ADD CONSTRAINT fk_orders_user_id_users_uid FOREIGN KEY (user_id) REFERENCES users NOT VALID;\nALTER TABLE orders ADD CONSTRAINT fk_x FOREIGN KEY (user_id) REFERENCES users NOT VALID;\nALTER TABLE orders ADD CONSTRAINT fk_y FOREIGN KEY (user_id) REFERENCES unknown NOT VALID;";
        assert_eq!(lines_on(sql, ID), [3]);
    }
}
