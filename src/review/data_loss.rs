//! Which DROPs delete data for good: one classification that the rules
//! (`drop-table`, `drop-database`, `drop-schema`) and the risk assessment
//! (such a statement is high risk) both ask, so they never disagree about
//! what is destructive.

use super::model::{LexicalClass, ObjectKind};

/// A DROP whose object takes its data with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataLoss {
    /// `DROP TABLE`: the table and its rows.
    Table,
    /// `DROP DATABASE`: every table of it.
    Database,
    /// `DROP SCHEMA`: what the schema holds.
    Schema,
}

impl DataLoss {
    /// Every kind, for checks that each one has its rule.
    pub const ALL: [DataLoss; 3] = [DataLoss::Table, DataLoss::Database, DataLoss::Schema];

    /// The loss a parsed `DROP` of `object` causes, if any.
    pub fn of_drop(object: &ObjectKind) -> Option<DataLoss> {
        match object {
            ObjectKind::Table => Some(DataLoss::Table),
            ObjectKind::Database => Some(DataLoss::Database),
            ObjectKind::Schema => Some(DataLoss::Schema),
            _ => None,
        }
    }

    /// The loss an unparsed statement's keywords announce, if any.
    pub fn of_lexical(class: &LexicalClass) -> Option<DataLoss> {
        match class {
            LexicalClass::DropTable => Some(DataLoss::Table),
            LexicalClass::DropDatabase => Some(DataLoss::Database),
            LexicalClass::DropSchema => Some(DataLoss::Schema),
            _ => None,
        }
    }

    /// The id of the rule that flags it, also the risk reason's class.
    pub const fn rule_id(self) -> &'static str {
        match self {
            DataLoss::Table => "drop-table",
            DataLoss::Database => "drop-database",
            DataLoss::Schema => "drop-schema",
        }
    }

    /// The SQL keyword of the object (`TABLE`).
    pub fn keyword(self) -> &'static str {
        match self {
            DataLoss::Table => "TABLE",
            DataLoss::Database => "DATABASE",
            DataLoss::Schema => "SCHEMA",
        }
    }

    /// What is lost, as the risk reason says it.
    pub fn consequence(self) -> &'static str {
        match self {
            DataLoss::Table => "deletes the table and its data",
            DataLoss::Database => "deletes the database",
            DataLoss::Schema => "deletes the schema and what it holds",
        }
    }
}
