//! States stored as CHECK-constrained text, typed in Rust: [`text_enum!`]
//! declares the enum, its stored names, the list of its variants, and the
//! sqlx mapping. Reading a name the enum does not know is a decode error,
//! never a default.

/// Declares an enum stored as text: `as_str`, `parse`, `ALL` (derived from the
/// declaration, so it cannot lose a variant), `Display`, serde `Serialize`
/// (its stored name), a utoipa schema (a string enum of the stored names, for
/// the API's OpenAPI document), and sqlx `Type`/`Encode`/`Decode` for
/// PostgreSQL `text` columns.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// Parses a stored name; `None` for a name this enum does not know.
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($name::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        $crate::store::text_enum::text_enum_sqlx!($name);
    };
}

/// The sqlx mapping of an enum stored as text, for an enum declared
/// elsewhere (it needs `as_str(self) -> &'static str` and
/// `parse(&str) -> Option<Self>`): an unknown stored name is a decode error.
macro_rules! text_enum_sqlx {
    ($name:ty) => {
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                <$name>::parse(s).ok_or_else(|| {
                    format!(concat!("unknown ", stringify!($name), " {:?}"), s).into()
                })
            }
        }
    };
}

pub(crate) use text_enum;
pub(crate) use text_enum_sqlx;

#[cfg(test)]
mod tests {
    use crate::store::testdb::TestDb;

    text_enum! {
        /// A test state.
        pub enum Light {
            /// Red.
            Red = "red",
            /// Green.
            Green = "green",
        }
    }

    #[test]
    fn names_round_trip_and_the_list_is_complete() {
        assert_eq!(Light::ALL, &[Light::Red, Light::Green]);
        for l in Light::ALL {
            assert_eq!(Light::parse(l.as_str()), Some(*l));
        }
        assert_eq!(Light::parse("amber"), None);
    }

    #[tokio::test]
    async fn states_bind_and_decode_on_postgres_and_unknown_names_are_errors() {
        let db = TestDb::migrated().await.unwrap();
        let (l,): (Light,) = sqlx::query_as("SELECT $1::text")
            .bind(Light::Green)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(l, Light::Green);
        let unknown = sqlx::query_as::<_, (Light,)>("SELECT 'amber'::text")
            .fetch_one(&db.pool)
            .await;
        let err = unknown.expect_err("an unknown state must not decode");
        assert!(err.to_string().contains("unknown Light \"amber\""), "{err}");
    }
}
