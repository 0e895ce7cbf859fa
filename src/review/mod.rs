//! SQL review: parse migrations into bytegate's statement model, run the rules,
//! classify risk, render reports.

pub mod finding;
pub mod model;
pub mod parse;
pub mod report;
pub mod risk;
pub mod rules;
pub mod settings;
