//! The parser's PostgreSQL dialect: sqlparser's `PostgreSqlDialect` with a
//! shortcut for plain column references in expressions.
//!
//! sqlparser's `parse_prefix` first tries every expression that starts with a
//! word as a typed string (`DATE '2020-01-01'`, `myschema.mytype 'x'`): it
//! parses the word as a data type and, for a plain name not followed by a
//! string, gives up with a formatted error that `maybe_parse` throws away.
//! On view definitions that is about a tenth of a review's instructions. The
//! shortcut here answers only where that attempt is bound to fail: a word
//! that is no keyword (so neither a type keyword nor a special expression
//! like `CASE`), optionally followed by `.word` parts, then a token with
//! which no data type continues and no value starts (`,`, `)`, `=`, a
//! keyword other than `ARRAY`/`ZEROFILL`, ...). sqlparser then returns
//! `Expr::Identifier` for the first word and leaves the `.word` parts to
//! `parse_compound_expr`; so does the shortcut. Everything else falls through
//! to sqlparser's own path, and every other `Dialect` method (and the `TypeId`
//! behind `dialect_of!(.. is PostgreSqlDialect)`) is PostgreSqlDialect's.
//! tests/parse_dialect.rs checks the ASTs are identical on every corpus.

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

/// PostgreSqlDialect with the plain-column shortcut in `parse_prefix`.
#[derive(Debug, Default)]
pub struct FastPostgres(PostgreSqlDialect);

thread_local! {
    /// Set while `parse_prefix` asks `parse_data_type` only for its
    /// recursion check (see `recursion_allows_type`).
    static PROBE: Cell<bool> = const { Cell::new(false) };
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
        if plain_column(parser) && recursion_allows_type(parser) {
            let token = parser.next_token();
            if let Token::Word(word) = token.token {
                return Some(Ok(Expr::Identifier(word.into_ident(token.span))));
            }
        }
        self.0.parse_prefix(parser)
    }

    fn parse_data_type(&self, parser: &mut Parser) -> Option<Result<DataType, ParserError>> {
        if PROBE.with(Cell::get) {
            return Some(Ok(DataType::Unspecified));
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

/// True when the next tokens are `word(.word)*` followed by a token that
/// ends a data type and starts no value, and the first word is no keyword:
/// sqlparser's typed-string attempt fails there and it returns the first
/// word as `Expr::Identifier` (see the module doc).
fn plain_column(parser: &Parser) -> bool {
    match &parser.peek_token_ref().token {
        // `xml` is the one custom type name sqlparser reads a typed string
        // after with any value (`parse_value`); leave it to sqlparser.
        Token::Word(w)
            if w.keyword == Keyword::NoKeyword && !w.value.eq_ignore_ascii_case("xml") => {}
        _ => return false,
    }
    let mut n = 1;
    loop {
        match &parser.peek_nth_token_ref(n).token {
            Token::Period => match &parser.peek_nth_token_ref(n + 1).token {
                Token::Word(_) => n += 2,
                _ => return false,
            },
            Token::Word(w) => return !matches!(w.keyword, Keyword::ARRAY | Keyword::ZEROFILL),
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
            | Token::ArrowAt => return true,
            _ => return false,
        }
    }
}

/// sqlparser's typed-string attempt takes one recursion level (in
/// `parse_data_type`) and fails the whole parse at the limit; ask the same
/// question through `parse_data_type`, which `PROBE` makes return at once
/// without consuming a token. At the limit the caller falls back to
/// sqlparser's own path, which then fails the same way.
fn recursion_allows_type(parser: &mut Parser) -> bool {
    /// Clears `PROBE` however the probe ends (the parser runs under `catch_unwind`).
    struct Probing;
    impl Drop for Probing {
        fn drop(&mut self) {
            PROBE.with(|p| p.set(false));
        }
    }
    PROBE.with(|p| p.set(true));
    let _probing = Probing;
    parser.parse_data_type().is_ok()
}
