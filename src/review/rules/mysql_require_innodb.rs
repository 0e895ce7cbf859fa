//! `mysql-require-innodb`: MySQL tables use InnoDB.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "mysql-require-innodb",
    default_severity: Severity::Error,
    description: "a MySQL table with an engine other than InnoDB",
    why: "Other engines (MyISAM, MEMORY, ...) lack transactions, crash recovery, row locking and foreign keys: a crash or concurrent write loses or corrupts data.",
    instead: "Use ENGINE=InnoDB (or leave ENGINE out: InnoDB is the default).",
    dialects: MYSQL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let (table, engine) = match &cx.stmt.kind {
        StatementKind::CreateTable(ct) => (&ct.name, ct.engine.clone()),
        StatementKind::AlterTable(at) => (&at.name, at.engine()),
        _ => return,
    };
    let Some(engine) = engine else {
        return;
    };
    let e = engine.trim_matches(|c| c == '\'' || c == '"' || c == '`');
    if !e.eq_ignore_ascii_case("innodb") {
        out.push(cx.hit(None, format!("Table `{table}` uses the {e} engine.")));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "mysql-require-innodb";

    #[test]
    fn flags_other_engines() {
        assert_eq!(
            lines_mysql(
                "SELECT 1;\nCREATE TABLE t (id bigint PRIMARY KEY) ENGINE=MyISAM;",
                ID
            ),
            [2]
        );
        assert_eq!(
            lines_mysql(
                "ALTER TABLE t ENGINE=MEMORY, ALGORITHM=COPY;\nCREATE TABLE u (id int PRIMARY KEY) ENGINE = 'MyISAM';",
                ID
            ),
            [1, 2]
        );
    }

    #[test]
    fn innodb_or_default_is_fine() {
        assert!(lines_mysql("ALTER TABLE t ENGINE=InnoDB, ALGORITHM=INPLACE;\nCREATE TABLE t (id bigint PRIMARY KEY) ENGINE=InnoDB;\nCREATE TABLE u (id bigint PRIMARY KEY);", ID).is_empty());
    }
}
