//! The parser's PostgreSQL dialect: sqlparser's `PostgreSqlDialect` minus
//! one wasted attempt per expression.
//!
//! sqlparser's `Parser::parse_prefix` first tries every expression as a
//! typed string (`DATE '2020-01-01'`, `myschema.mytype 'x'`): it parses a
//! data type and, for a column name, a literal or `(`, gives up with a
//! formatted error (message and location) that `maybe_parse` throws away.
//! On the Lemmy corpus (view definitions mostly) that was 5 % of a review's
//! instructions (BENCHMARKS.md).
//! Here `parse_prefix` looks ahead first; where that attempt is bound to fail
//! (any token but a word; a word that is no type keyword, optionally
//! followed by `.word` parts and `(…)`, then a token with which no data type
//! continues and no string starts) it runs sqlparser's own `parse_prefix` with a mark
//! that makes the attempt's `parse_data_type` fail at once with an empty
//! error. Everything after the attempt is sqlparser's code, so the result is
//! the same; the mark lives only for that one call. Every other `Dialect`
//! method (and the `TypeId` behind `dialect_of!(.. is PostgreSqlDialect)`)
//! is PostgreSqlDialect's. dialect_tests.rs checks the ASTs are identical on
//! every corpus statement and on the edge cases. Written against sqlparser
//! 0.64's parser: on an upgrade, regenerate the `forward!` list from the
//! `Dialect` trait and `is_type_keyword` from `parse_data_type_helper`, and
//! re-read `parse_prefix_inner`.

use super::split;
use crate::review::model;
use sqlparser::ast::{
    ColumnOption, DataType, Expr, GranteesType, Ident, ObjectNamePart, Statement,
};
use sqlparser::dialect::{BindPlaceholderStyle, Dialect, PostgreSqlDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;
use std::any::TypeId;
use std::cell::Cell;
use std::iter::Peekable;
use std::str::Chars;

/// The sqlparser dialect the parser uses for a bytegate dialect (the
/// tokenizer keeps `split::sql_dialect`: tokenizing is unchanged).
pub(crate) fn parser_dialect(dialect: model::Dialect) -> &'static dyn Dialect {
    static PG: FastPostgres = FastPostgres(PostgreSqlDialect {});
    match dialect {
        model::Dialect::Postgres => &PG,
        model::Dialect::Mysql => split::sql_dialect(dialect),
    }
}

/// PostgreSqlDialect whose `parse_prefix` skips the doomed typed-string attempt.
#[derive(Debug, Default)]
pub struct FastPostgres(PostgreSqlDialect);

thread_local! {
    /// Set by `parse_prefix` just before it calls sqlparser's own
    /// `parse_prefix`: that call's hook invocation is ours, not a new one.
    static INNER_CALL: Cell<bool> = const { Cell::new(false) };
    /// The token index at which the typed-string attempt is known to fail:
    /// the first `parse_data_type` hook call there returns an empty error.
    static DOOMED_AT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Forwards each listed `Dialect` method to the wrapped PostgreSqlDialect.
macro_rules! forward {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        $(fn $name(&self $(, $arg: $ty)*) -> $ret {
            self.0.$name($($arg),*)
        })*
    };
}

impl Dialect for FastPostgres {
    fn dialect(&self) -> TypeId {
        // `dialect_of!`/`is::<PostgreSqlDialect>()` inside sqlparser keep matching.
        self.0.dialect()
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        if INNER_CALL.with(|c| c.replace(false)) || !typed_string_fails(parser) {
            return self.0.parse_prefix(parser);
        }
        /// Clears the marks however the call ends (the parser runs under `catch_unwind`).
        struct Marked;
        impl Drop for Marked {
            fn drop(&mut self) {
                INNER_CALL.with(|c| c.set(false));
                DOOMED_AT.with(|d| d.set(None));
            }
        }
        DOOMED_AT.with(|d| d.set(Some(parser.index())));
        INNER_CALL.with(|c| c.set(true));
        let _marked = Marked;
        Some(parser.parse_prefix())
    }

    fn parse_data_type(&self, parser: &mut Parser) -> Option<Result<DataType, ParserError>> {
        if DOOMED_AT.with(Cell::take) == Some(parser.index()) {
            // Discarded by sqlparser's `maybe_parse`; no message to format.
            return Some(Err(ParserError::ParserError(String::new())));
        }
        self.0.parse_data_type(parser)
    }

    // Generated from the `Dialect` trait of sqlparser 0.64 (every method but
    // `dialect`, `parse_prefix` and `parse_data_type`, above).
    forward! {
    fn is_delimited_identifier_start(&self, ch: char) -> bool;
    fn is_nested_delimited_identifier_start(&self, ch: char) -> bool;
    fn peek_nested_delimited_identifier_quotes(&self, chars: Peekable<Chars<'_>>) -> Option<(char, Option<char>)>;
    fn identifier_quote_style(&self, identifier: &str) -> Option<char>;
    fn ordered_bind_placeholder_style(&self) -> Option<BindPlaceholderStyle>;
    fn is_identifier_start(&self, ch: char) -> bool;
    fn is_identifier_part(&self, ch: char) -> bool;
    fn is_custom_operator_part(&self, ch: char) -> bool;
    fn supports_string_literal_backslash_escape(&self) -> bool;
    fn supports_national_string_literal(&self) -> bool;
    fn supports_literal_prefix_in_qualified_name(&self) -> bool;
    fn ignores_wildcard_escapes(&self) -> bool;
    fn supports_unicode_string_literal(&self) -> bool;
    fn supports_filter_during_aggregation(&self) -> bool;
    fn supports_window_clause_named_window_reference(&self) -> bool;
    fn supports_within_after_array_aggregation(&self) -> bool;
    fn supports_partition_by_after_order_by(&self) -> bool;
    fn supports_array_join_syntax(&self) -> bool;
    fn supports_drop_group(&self) -> bool;
    fn supports_alter_user_as_alter_role(&self) -> bool;
    fn supports_cte_materialization(&self) -> bool;
    fn supports_create_group(&self) -> bool;
    fn supports_create_role_if_not_exists(&self) -> bool;
    fn supports_group_by_expr(&self) -> bool;
    fn supports_group_by_with_modifier(&self) -> bool;
    fn supports_left_associative_joins_without_parens(&self) -> bool;
    fn supports_outer_join_operator(&self) -> bool;
    fn supports_cross_join_constraint(&self) -> bool;
    fn supports_comma_join_constraint(&self) -> bool;
    fn supports_connect_by(&self) -> bool;
    fn supports_execute_immediate(&self) -> bool;
    fn supports_match_recognize(&self) -> bool;
    fn supports_in_empty_list(&self) -> bool;
    fn supports_in_unparenthesized_expr(&self) -> bool;
    fn supports_global_in(&self) -> bool;
    fn supports_in_table_expression(&self) -> bool;
    fn supports_start_transaction_modifier(&self) -> bool;
    fn supports_end_transaction_modifier(&self) -> bool;
    fn supports_named_fn_args_with_eq_operator(&self) -> bool;
    fn supports_named_fn_args_with_colon_operator(&self) -> bool;
    fn supports_named_fn_args_with_assignment_operator(&self) -> bool;
    fn supports_named_fn_args_with_rarrow_operator(&self) -> bool;
    fn supports_named_fn_args_with_expr_name(&self) -> bool;
    fn supports_numeric_prefix(&self) -> bool;
    fn supports_tuple_element_access(&self) -> bool;
    fn supports_numeric_literal_underscores(&self) -> bool;
    fn supports_non_decimal_integer_literals(&self) -> bool;
    fn supports_window_function_null_treatment_arg(&self) -> bool;
    fn supports_dictionary_syntax(&self) -> bool;
    fn support_map_literal_syntax(&self) -> bool;
    fn supports_lambda_functions(&self) -> bool;
    fn supports_lambda_keyword_syntax(&self) -> bool;
    fn supports_parenthesized_set_variables(&self) -> bool;
    fn supports_comma_separated_set_assignments(&self) -> bool;
    fn supports_update_order_by(&self) -> bool;
    fn supports_select_wildcard_except(&self) -> bool;
    fn convert_type_before_value(&self) -> bool;
    fn supports_triple_quoted_string(&self) -> bool;
    fn supports_approximate_percentile_disc(&self) -> bool;
    fn supports_trailing_commas(&self) -> bool;
    fn supports_limit_comma(&self) -> bool;
    fn supports_string_literal_concatenation(&self) -> bool;
    fn supports_string_literal_concatenation_with_newline(&self) -> bool;
    fn supports_projection_trailing_commas(&self) -> bool;
    fn supports_from_trailing_commas(&self) -> bool;
    fn supports_column_definition_trailing_commas(&self) -> bool;
    fn supports_object_name_double_dot_notation(&self) -> bool;
    fn supports_struct_literal(&self) -> bool;
    fn supports_empty_projections(&self) -> bool;
    fn supports_select_expr_star(&self) -> bool;
    fn supports_from_first_select(&self) -> bool;
    fn supports_from_first_insert(&self) -> bool;
    fn supports_pipe_operator(&self) -> bool;
    fn supports_user_host_grantee(&self) -> bool;
    fn supports_match_against(&self) -> bool;
    fn supports_select_wildcard_exclude(&self) -> bool;
    fn supports_select_exclude(&self) -> bool;
    fn supports_create_table_multi_schema_info_sources(&self) -> bool;
    fn supports_select_modifiers(&self) -> bool;
    fn parse_infix(&self, parser: &mut Parser, expr: &Expr, precedence: u8) -> Option<Result<Expr, ParserError>>;
    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>>;
    fn get_next_precedence_default(&self, parser: &Parser) -> Result<u8, ParserError>;
    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>>;
    fn parse_column_option(&self, parser: &mut Parser) -> Result<Option<Result<Option<ColumnOption>, ParserError>>, ParserError>;
    fn prec_value(&self, prec: Precedence) -> u8;
    fn prec_unknown(&self) -> u8;
    fn between_low_bound_precedence(&self) -> u8;
    fn supports_comparison_in_between_low_bound(&self) -> bool;
    fn describe_requires_table_keyword(&self) -> bool;
    fn allow_extract_custom(&self) -> bool;
    fn allow_extract_single_quotes(&self) -> bool;
    fn supports_extract_comma_syntax(&self) -> bool;
    fn supports_subquery_as_function_arg(&self) -> bool;
    fn supports_create_view_comment_syntax(&self) -> bool;
    fn supports_data_type_collation(&self) -> bool;
    fn supports_array_typedef_without_element_type(&self) -> bool;
    fn supports_array_typedef_with_parentheses(&self) -> bool;
    fn supports_array_element_not_null(&self) -> bool;
    fn supports_map_typedef_with_parentheses(&self) -> bool;
    fn supports_map_value_not_null(&self) -> bool;
    fn supports_parens_around_table_factor(&self) -> bool;
    fn supports_values_as_table_factor(&self) -> bool;
    fn supports_dollar_placeholder(&self) -> bool;
    fn supports_dollar_as_money_prefix(&self) -> bool;
    fn supports_create_index_with_clause(&self) -> bool;
    fn supports_sql_option_without_value(&self) -> bool;
    fn require_interval_qualifier(&self) -> bool;
    fn is_interval_qualifier(&self, kw: Keyword) -> bool;
    fn supports_explain_with_utility_options(&self) -> bool;
    fn supports_asc_desc_in_column_definition(&self) -> bool;
    fn supports_string_literal_column_names(&self) -> bool;
    fn supports_factorial_operator(&self) -> bool;
    fn supports_bitwise_shift_operators(&self) -> bool;
    fn supports_nested_comments(&self) -> bool;
    fn supports_hash_comment(&self) -> bool;
    fn supports_copy_from_stdin_data(&self) -> bool;
    fn requires_hash_comment_space(&self) -> bool;
    fn supports_multiline_comment_hints(&self) -> bool;
    fn supports_unterminated_block_comments(&self) -> bool;
    fn supports_eq_alias_assignment(&self) -> bool;
    fn supports_try_convert(&self) -> bool;
    fn supports_bang_not_operator(&self) -> bool;
    fn supports_listen_notify(&self) -> bool;
    fn supports_exclude_constraint(&self) -> bool;
    fn supports_load_data(&self) -> bool;
    fn supports_load_extension(&self) -> bool;
    fn supports_top_before_distinct(&self) -> bool;
    fn supports_boolean_literals(&self) -> bool;
    fn supports_show_like_before_in(&self) -> bool;
    fn supports_comment_on(&self) -> bool;
    fn supports_create_table_select(&self) -> bool;
    fn supports_create_proc_syntax(&self) -> bool;
    fn supports_leading_comma_before_table_options(&self) -> bool;
    fn supports_partiql(&self) -> bool;
    fn supports_unpivot_expr(&self) -> bool;
    fn supports_constraint_keyword_without_name(&self) -> bool;
    fn supports_key_column_option(&self) -> bool;
    fn supports_attach_partition_of(&self) -> bool;
    fn supports_detach_partition_of(&self) -> bool;
    fn supports_column_generic_options(&self) -> bool;
    fn is_reserved_for_identifier(&self, kw: Keyword) -> bool;
    fn get_reserved_keywords_for_select_item_operator(&self) -> &[Keyword];
    fn get_reserved_grantees_types(&self) -> &[GranteesType];
    fn supports_table_sample_before_alias(&self) -> bool;
    fn supports_insert_set(&self) -> bool;
    fn supports_insert_table_function(&self) -> bool;
    fn supports_insert_table_query(&self) -> bool;
    fn supports_insert_format(&self) -> bool;
    fn supports_insert_table_alias(&self) -> bool;
    fn supports_singular_value_keyword(&self) -> bool;
    fn supports_set_stmt_without_operator(&self) -> bool;
    fn is_column_alias(&self, kw: &Keyword, parser: &mut Parser) -> bool;
    fn is_select_item_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool;
    fn supports_over_keyword_as_column_alias(&self) -> bool;
    fn is_table_factor(&self, kw: &Keyword, parser: &mut Parser) -> bool;
    fn is_table_alias(&self, kw: &Keyword, parser: &mut Parser) -> bool;
    fn is_table_factor_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool;
    fn supports_string_literal_column_alias(&self, explicit: bool) -> bool;
    fn supports_string_literal_table_alias(&self, explicit: bool) -> bool;
    fn supports_table_versioning(&self) -> bool;
    fn supports_string_escape_constant(&self) -> bool;
    fn supports_table_hints(&self) -> bool;
    fn supports_indexed_by(&self) -> bool;
    fn requires_single_line_comment_whitespace(&self) -> bool;
    fn supports_array_typedef_with_brackets(&self) -> bool;
    fn supports_geometric_types(&self) -> bool;
    fn supports_tilde_like_match_operator(&self) -> bool;
    fn supports_order_by_all(&self) -> bool;
    fn supports_order_by_using_operator(&self) -> bool;
    fn supports_set_names(&self) -> bool;
    fn supports_space_separated_column_options(&self) -> bool;
    fn supports_alter_column_type_using(&self) -> bool;
    fn supports_comma_separated_drop_column_list(&self) -> bool;
    fn supports_alter_column_position(&self) -> bool;
    fn supports_add_column_if_not_exists(&self) -> bool;
    fn is_identifier_generating_function_name(&self, ident: &Ident, name_parts: &[ObjectNamePart]) -> bool;
    fn supports_notnull_operator(&self) -> bool;
    fn supports_is_operator(&self) -> bool;
    fn supports_data_type_signed_suffix(&self) -> bool;
    fn supports_data_type_zerofill_suffix(&self) -> bool;
    fn supports_interval_options(&self) -> bool;
    fn supports_create_table_like_parenthesized(&self) -> bool;
    fn supports_semantic_view_table_factor(&self) -> bool;
    fn supports_stages(&self) -> bool;
    fn supports_quote_delimited_string(&self) -> bool;
    fn supports_comment_optimizer_hint(&self) -> bool;
    fn supports_double_ampersand_operator(&self) -> bool;
    fn supports_binary_kw_as_cast(&self) -> bool;
    fn supports_select_wildcard_replace(&self) -> bool;
    fn supports_select_wildcard_ilike(&self) -> bool;
    fn supports_select_wildcard_rename(&self) -> bool;
    fn supports_select_wildcard_with_alias(&self) -> bool;
    fn supports_optimize_table(&self) -> bool;
    fn supports_install(&self) -> bool;
    fn supports_detach(&self) -> bool;
    fn supports_prewhere(&self) -> bool;
    fn supports_with_fill(&self) -> bool;
    fn supports_limit_by(&self) -> bool;
    fn supports_interpolate(&self) -> bool;
    fn supports_settings(&self) -> bool;
    fn supports_table_partitions(&self) -> bool;
    fn supports_table_inheritance_markers(&self) -> bool;
    fn supports_select_format(&self) -> bool;
    fn supports_comma_separated_trim(&self) -> bool;
    fn supports_cte_without_as(&self) -> bool;
    fn supports_select_item_multi_column_alias(&self) -> bool;
    fn supports_xml_expressions(&self) -> bool;
    fn is_custom_type_typed_string(&self, first_keyword: Keyword, qualified: bool) -> bool;
    fn supports_aliased_function_args(&self) -> bool;
    fn supports_create_table_using(&self) -> bool;
    fn supports_long_type_as_bigint(&self) -> bool;
    fn supports_map_literal_with_angle_brackets(&self) -> bool;
    fn supports_double_eq_assignment(&self) -> bool;
    fn supports_cast_empty_data_type_to_unspecified(&self) -> bool;
    fn supports_aggregate_order_by_with_empty_args(&self) -> bool;
    }
}

/// True when sqlparser's typed-string attempt at the next token must fail:
/// the token is no word (`parse_data_type` wants a word), or it is
/// `word(.word)*` whose first word is no type keyword (so the data type is
/// `Custom`, never an interval or `BINARY` cast) and not `xml`, followed by
/// a token that ends the type (or by type modifiers `(…)` that fail or end
/// it): then the `Custom` type is rejected.
fn typed_string_fails(parser: &Parser) -> bool {
    match &parser.peek_token_ref().token {
        Token::Word(w) => {
            // `xml` is the one custom type name sqlparser reads a typed
            // string after with any value (`parse_value`).
            if is_type_keyword(w.keyword) || w.value.eq_ignore_ascii_case("xml") {
                return false;
            }
        }
        _ => return true,
    }
    let mut n = 1;
    loop {
        match &parser.peek_nth_token_ref(n).token {
            Token::Period => match &parser.peek_nth_token_ref(n + 1).token {
                Token::Word(_) => n += 2,
                _ => return false,
            },
            Token::LParen => return modifiers_fail(parser, n + 1),
            token => return ends_type(token),
        }
    }
}

/// After `name(`: sqlparser reads type modifiers (words, numbers, strings,
/// commas) up to the first `)`, and rejects anything else: then the attempt
/// fails. After the `)` the type must end as in [`ends_type`] (`f(a) 'x'`,
/// `f(a)[1] 2` stay sqlparser's). Long lists are left to sqlparser (each
/// look-ahead walks from the current token).
fn modifiers_fail(parser: &Parser, mut n: usize) -> bool {
    let limit = n + 64;
    while n < limit {
        match &parser.peek_nth_token_ref(n).token {
            Token::Word(_) | Token::Number(..) | Token::SingleQuotedString(_) | Token::Comma => {
                n += 1;
            }
            Token::RParen => return ends_type(&parser.peek_nth_token_ref(n + 1).token),
            _ => return true,
        }
    }
    false
}

/// A token with which no data type continues (no `(`, `[`, `.`, `ARRAY`,
/// `ZEROFILL`) and no typed string's value starts.
fn ends_type(token: &Token) -> bool {
    match token {
        Token::Word(w) => !matches!(w.keyword, Keyword::ARRAY | Keyword::ZEROFILL),
        Token::Comma
        | Token::RParen
        | Token::SemiColon
        | Token::EOF
        | Token::Eq
        | Token::DoubleEq
        | Token::Neq
        | Token::Lt
        | Token::Gt
        | Token::LtEq
        | Token::GtEq
        | Token::Plus
        | Token::Minus
        | Token::Mul
        | Token::Div
        | Token::Mod
        | Token::StringConcat
        | Token::DoubleColon
        | Token::RBracket
        | Token::Arrow
        | Token::LongArrow
        | Token::HashArrow
        | Token::HashLongArrow
        | Token::AtArrow
        | Token::ArrowAt => true,
        _ => false,
    }
}

/// Every keyword sqlparser 0.64's `parse_data_type_helper` mentions (the
/// keywords it may read as something other than a `Custom` type name).
fn is_type_keyword(keyword: Keyword) -> bool {
    matches!(
        keyword,
        Keyword::ANY
            | Keyword::ARRAY
            | Keyword::BIGDECIMAL
            | Keyword::BIGINT
            | Keyword::BIGNUMERIC
            | Keyword::BINARY
            | Keyword::BIT
            | Keyword::BLOB
            | Keyword::BOOL
            | Keyword::BOOLEAN
            | Keyword::BYTEA
            | Keyword::BYTES
            | Keyword::CHAR
            | Keyword::CHARACTER
            | Keyword::CLOB
            | Keyword::DATE
            | Keyword::DATE32
            | Keyword::DATETIME
            | Keyword::DATETIME64
            | Keyword::DEC
            | Keyword::DECIMAL
            | Keyword::DOUBLE
            | Keyword::ENUM
            | Keyword::ENUM16
            | Keyword::ENUM8
            | Keyword::FIXEDSTRING
            | Keyword::FLOAT
            | Keyword::FLOAT32
            | Keyword::FLOAT4
            | Keyword::FLOAT64
            | Keyword::FLOAT8
            | Keyword::HUGEINT
            | Keyword::INT
            | Keyword::INT128
            | Keyword::INT16
            | Keyword::INT2
            | Keyword::INT256
            | Keyword::INT32
            | Keyword::INT4
            | Keyword::INT64
            | Keyword::INT8
            | Keyword::INTEGER
            | Keyword::INTERVAL
            | Keyword::JSON
            | Keyword::JSONB
            | Keyword::LARGE
            | Keyword::LONG
            | Keyword::LONGBLOB
            | Keyword::LONGTEXT
            | Keyword::LOWCARDINALITY
            | Keyword::MAP
            | Keyword::MEDIUMBLOB
            | Keyword::MEDIUMINT
            | Keyword::MEDIUMTEXT
            | Keyword::NESTED
            | Keyword::NOT
            | Keyword::NULL
            | Keyword::NULLABLE
            | Keyword::NUMERIC
            | Keyword::NVARCHAR
            | Keyword::OBJECT
            | Keyword::PRECISION
            | Keyword::REAL
            | Keyword::REGCLASS
            | Keyword::SET
            | Keyword::SIGNED
            | Keyword::SMALLINT
            | Keyword::STRING
            | Keyword::STRUCT
            | Keyword::TABLE
            | Keyword::TEXT
            | Keyword::TIME
            | Keyword::TIMESTAMP
            | Keyword::TIMESTAMPTZ
            | Keyword::TIMESTAMP_NTZ
            | Keyword::TIMETZ
            | Keyword::TINYBLOB
            | Keyword::TINYINT
            | Keyword::TINYTEXT
            | Keyword::TRIGGER
            | Keyword::TSQUERY
            | Keyword::TSVECTOR
            | Keyword::TUPLE
            | Keyword::TYPE
            | Keyword::UBIGINT
            | Keyword::UHUGEINT
            | Keyword::UINT128
            | Keyword::UINT16
            | Keyword::UINT256
            | Keyword::UINT32
            | Keyword::UINT64
            | Keyword::UINT8
            | Keyword::UNION
            | Keyword::UNSIGNED
            | Keyword::USMALLINT
            | Keyword::UTINYINT
            | Keyword::UUID
            | Keyword::VARBINARY
            | Keyword::VARBIT
            | Keyword::VARCHAR
            | Keyword::VARYING
            | Keyword::WITH
            | Keyword::WITHOUT
            | Keyword::ZEROFILL
            | Keyword::ZONE
    )
}
