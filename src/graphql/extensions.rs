//! One tracing span per operation (its name, never its variables), and an alias limit.

use std::sync::Arc;

use async_graphql::{
    Response, ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use tracing::Instrument;

use super::MAX_ALIASES;

/// Logs each operation in a span named by the operation, and enforces [`MAX_ALIASES`].
pub struct Observe;

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveExtension)
    }
}

struct ObserveExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for ObserveExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let mut aliases = 0;
        for (_, op) in doc.operations.iter() {
            aliases += count_aliases(&op.node.selection_set.node);
        }
        for fragment in doc.fragments.values() {
            aliases += count_aliases(&fragment.node.selection_set.node);
        }
        if aliases > MAX_ALIASES {
            return Err(ServerError::new(
                format!("too many aliases: {aliases} (at most {MAX_ALIASES})"),
                None,
            ));
        }
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let name = operation_name.unwrap_or("anonymous");
        let span = tracing::info_span!("graphql", operation = name);
        let started = std::time::Instant::now();
        let response = next.run(ctx, operation_name).instrument(span.clone()).await;
        let _enter = span.enter();
        let codes: Vec<String> = response
            .errors
            .iter()
            .filter_map(|e| match e.extensions.as_ref()?.get("code")? {
                async_graphql::Value::String(code) => Some(code.clone()),
                _ => None,
            })
            .collect();
        let elapsed = started.elapsed();
        let operation = crate::metrics::label(name);
        let outcome = codes.first().cloned().unwrap_or_else(|| "ok".into());
        metrics::counter!(crate::metrics::OPERATIONS, "operation" => operation.clone(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!(crate::metrics::OPERATION_SECONDS, "operation" => operation)
            .record(elapsed.as_secs_f64());
        tracing::info!(
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            errors = response.errors.len(),
            codes = ?codes,
            "graphql operation"
        );
        response
    }
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => count_aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}
