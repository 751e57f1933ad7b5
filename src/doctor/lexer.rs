//! The doctor's SQL-text lexer: what a policy expression, as PostgreSQL deparses it
//! (`pg_get_expr`), says that the catalog does not (does it mention `tenant_id`, is a
//! context reader wrapped in a sub-select), with string literals blanked out first.

// ---------------------------------------------------------------------------------------
// Expression analysis on deparsed SQL.

/// The expression with the contents of string literals replaced by spaces (the quotes
/// stay), so words inside literals are never mistaken for identifiers.
pub(super) fn blank_literals(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut in_literal = false;
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if in_literal {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push_str("  ");
                } else {
                    in_literal = false;
                    out.push(c);
                }
            } else {
                out.push(' ');
            }
        } else {
            if c == '\'' {
                in_literal = true;
            }
            out.push(c);
        }
    }
    out
}

pub(super) fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// The lowercase words (identifiers, keywords) of an expression, outside string literals,
/// each with its byte offset.
pub(super) fn words(expr: &str) -> Vec<(usize, String)> {
    let blanked = blank_literals(expr).to_lowercase();
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in blanked.char_indices() {
        match (is_ident_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, blanked[s..i].to_owned()));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, blanked[s..].to_owned()));
    }
    out
}

/// Does `expr` mention the identifier `ident` (as a whole word, outside literals)?
pub(super) fn mentions_ident(expr: &str, ident: &str) -> bool {
    words(expr).iter().any(|(_, w)| w == ident)
}

/// The context readers a policy compares with.
pub(super) const CONTEXT_FUNCTIONS: &[&str] = &[
    "current_setting",
    "current_tenant_id",
    "current_user_id",
    "current_member_role",
    "current_role_in",
    "verified_context",
];

/// Why a policy clause can let rows through without the tenant matching (empty: it cannot).
///
/// Only a permissive policy can: restrictive policies are AND-ed with the permissive
/// ones, so they narrow what those let through and never widen it (a restrictive
/// `USING (true)`, as the role tiers that admit every role say, narrows nothing).
pub(super) fn fail_open_reasons(
    expr: &str,
    permissive: bool,
    key_column: &str,
) -> Vec<&'static str> {
    if !permissive {
        return Vec::new();
    }
    let w = words(expr);
    let mut reasons = Vec::new();
    if w.iter().any(|(_, x)| x == "coalesce") {
        reasons.push("COALESCE can turn a missing tenant context into a default that matches");
    }
    let bare = blank_literals(expr);
    let bare = bare
        .trim()
        .trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace());
    if bare.eq_ignore_ascii_case("true") {
        reasons.push("the expression is `true`");
    }
    let or_true = w.windows(2).enumerate().any(|(i, pair)| {
        let (a, b) = (&pair[0].1, &pair[1].1);
        let after_is = i > 0 && (w[i - 1].1 == "is" || w[i - 1].1 == "not");
        (a == "or" && b == "true") || (a == "true" && b == "or" && !after_is)
    });
    if or_true {
        reasons.push("`OR true` makes it always true");
    }
    if !w.iter().any(|(_, x)| x == key_column) {
        reasons.push(if key_column == "id" {
            "a permissive policy on tenants that does not compare id (permissive policies are OR-ed)"
        } else {
            "a permissive policy that does not compare tenant_id (permissive policies are OR-ed)"
        });
    }
    if !w
        .iter()
        .any(|(_, x)| x == "current_tenant_id" || x == "current_setting")
    {
        reasons.push("a permissive policy that does not read the tenant context");
    }
    reasons
}

/// The context-reading calls in `expr` that are not inside a `(SELECT ...)`.
pub(super) fn unwrapped_context_calls(expr: &str) -> Vec<String> {
    let blanked = blank_literals(expr).to_lowercase();
    // One entry per open parenthesis: does a SELECT follow it?
    let mut stack: Vec<bool> = Vec::new();
    let mut found = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in blanked.char_indices() {
        let rest = &blanked[i..];
        if c == '(' {
            let inner = rest[1..].trim_start();
            let is_select = inner
                .strip_prefix("select")
                .is_some_and(|after| !after.starts_with(is_ident_char));
            stack.push(is_select);
        } else if c == ')' {
            stack.pop();
        } else if !prev.is_some_and(is_ident_char) {
            for name in CONTEXT_FUNCTIONS {
                let Some(after) = rest.strip_prefix(name) else {
                    continue;
                };
                let is_call =
                    !after.starts_with(is_ident_char) && after.trim_start().starts_with('(');
                if is_call && !stack.iter().any(|s| *s) {
                    let call = format!("{name}()");
                    if !found.contains(&call) {
                        found.push(call);
                    }
                }
            }
        }
        prev = Some(c);
    }
    found
}

/// Is `security_invoker` set to a true value in a view's `reloptions`?
pub(super) fn security_invoker_on(options: &[String]) -> bool {
    options.iter().any(|o| {
        o.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("security_invoker")
                && matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "true" | "on" | "yes" | "1" | "t" | "y"
                )
        })
    })
}
