//! The canonical rendering: the [`Policy`] as pretty JSON, fields in
//! declaration order, lists sorted, with a trailing newline. Its schema is
//! `schema/policy.schema.json`; the learned-from header is the
//! `learned_from` object, since JSON has no comments.

use crate::policy::Policy;

/// Renders `policy` as JSON.
pub fn render(policy: &Policy) -> String {
    // Serialising plain structs, strings and numbers cannot fail.
    let mut text = serde_json::to_string_pretty(policy).unwrap_or_default();
    text.push('\n');
    text
}
