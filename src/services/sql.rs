//! A tiny helper for the few hand-written SQL statements: numbered placeholders per backend.

use sea_orm::{DbBackend, Statement, Value};

/// Collects SQL text and its bound values, writing `?` (SQLite) or `$n` (PostgreSQL).
pub struct SqlBuilder {
    backend: DbBackend,
    sql: String,
    values: Vec<Value>,
}

impl SqlBuilder {
    /// An empty statement for `backend`.
    pub fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            sql: String::new(),
            values: Vec::new(),
        }
    }

    /// Appends literal SQL.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                self.sql.push('$');
                self.sql.push_str(&self.values.len().to_string());
            }
            _ => self.sql.push('?'),
        }
        self
    }

    /// The finished statement.
    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.sql, self.values)
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn like_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_backend() {
        let mut b = SqlBuilder::new(DbBackend::Postgres);
        b.push("a = ").bind(1i64).push(" AND b = ").bind("x");
        assert_eq!(b.build().sql, "a = $1 AND b = $2");
        let mut b = SqlBuilder::new(DbBackend::Sqlite);
        b.push("a = ").bind(1i64);
        assert_eq!(b.build().sql, "a = ?");
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
