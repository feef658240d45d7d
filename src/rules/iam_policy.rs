//! The IAM policy checker: an application's `iam_policy`, an identity policy
//! document attached inline to its compute group's node role.

use serde_json::Value;

use super::{q, quoted_list, Violation};

/// IAM policy language versions; the first is current.
pub const IAM_POLICY_VERSIONS: &[&str] = &["2012-10-17", "2008-10-17"];
/// Largest inline role policy, in non-whitespace characters (AWS limit).
pub const MAX_IAM_POLICY_CHARS: usize = 10_240;

fn policy_violation(summary: &str, detail: String) -> Violation {
    Violation::new("iam_policy", summary, detail)
}

/// "a string", "an array", ... for details.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An application's IAM policy: an identity-based policy document
/// (inline on the group's node role). Every problem found is returned.
pub fn check_iam_policy(json: &str) -> Vec<Violation> {
    let doc: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => {
            let message = e.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            return vec![policy_violation(
                "Invalid IAM policy JSON",
                format!(
                    "The policy is not valid JSON: {message} (line {}, column {}). Allowed: a JSON policy document, e.g. from jsonencode({{...}}) or data.aws_iam_policy_document.",
                    e.line(),
                    e.column()
                ),
            )];
        }
    };
    let Some(obj) = doc.as_object() else {
        return vec![policy_violation(
            "Invalid IAM policy document",
            format!(
                "The policy is {}. Allowed: a JSON object with \"Version\" and \"Statement\".",
                json_kind(&doc)
            ),
        )];
    };
    let mut out = Vec::new();
    check_policy_size(json, &mut out);
    check_policy_version(obj.get("Version"), &mut out);
    match obj.get("Statement") {
        None => out.push(policy_violation(
            "IAM policy has no statements",
            "The policy has no \"Statement\". Allowed: a statement object or a non-empty array of statements.".into(),
        )),
        Some(Value::Object(s)) => check_statement("Statement", s, &mut out),
        Some(Value::Array(list)) if list.is_empty() => out.push(policy_violation(
            "IAM policy has no statements",
            "\"Statement\" is an empty array. Allowed: a statement object or a non-empty array of statements.".into(),
        )),
        Some(Value::Array(list)) => {
            for (i, s) in list.iter().enumerate() {
                let label = format!("Statement[{i}]");
                match s.as_object() {
                    Some(s) => check_statement(&label, s, &mut out),
                    None => out.push(policy_violation(
                        "Invalid IAM policy statement",
                        format!("{label} is {}. Allowed: a statement object.", json_kind(s)),
                    )),
                }
            }
        }
        Some(other) => out.push(policy_violation(
            "Invalid IAM policy statement",
            format!("\"Statement\" is {}. Allowed: a statement object or a non-empty array of statements.", json_kind(other)),
        )),
    }
    out
}

fn check_policy_size(json: &str, out: &mut Vec<Violation>) {
    let size = json.chars().filter(|c| !c.is_whitespace()).count();
    if size > MAX_IAM_POLICY_CHARS {
        out.push(policy_violation(
            "IAM policy too large",
            format!("The policy has {size} non-whitespace characters. Allowed: at most {MAX_IAM_POLICY_CHARS} (AWS's limit for inline role policies)."),
        ));
    }
}

fn check_policy_version(version: Option<&Value>, out: &mut Vec<Violation>) {
    let given = match version {
        Some(Value::String(v)) if IAM_POLICY_VERSIONS.contains(&v.as_str()) => return,
        Some(Value::String(v)) => q(v),
        Some(other) => json_kind(other).to_string(),
        None => "nothing".to_string(),
    };
    out.push(policy_violation(
        "Invalid IAM policy version",
        format!(
            "\"Version\" is {given}. Allowed: {} (\"2012-10-17\" is current; without it IAM falls back to an old language that lacks policy variables).",
            quoted_list(IAM_POLICY_VERSIONS)
        ),
    ));
}

/// Does an Action/Resource value grant `*` (a string or an array containing it).
fn contains_star(v: Option<&Value>) -> bool {
    match v {
        Some(Value::String(s)) => s == "*",
        Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some("*")),
        _ => false,
    }
}

/// Is `v` a string or a non-empty array of strings.
fn is_string_or_strings(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| !s.is_empty()))
        }
        _ => false,
    }
}

/// Exactly one of `a`/`b` present, holding a string or non-empty array of strings.
fn check_one_of(
    label: &str,
    s: &serde_json::Map<String, Value>,
    a: &str,
    b: &str,
    out: &mut Vec<Violation>,
) {
    let problem = match (s.get(a), s.get(b)) {
        (None, None) => Some(format!("has neither \"{a}\" nor \"{b}\"")),
        (Some(_), Some(_)) => Some(format!("has both \"{a}\" and \"{b}\"")),
        (Some(v), None) if !is_string_or_strings(v) => {
            Some(format!("has \"{a}\" as {}", json_kind(v)))
        }
        (None, Some(v)) if !is_string_or_strings(v) => {
            Some(format!("has \"{b}\" as {}", json_kind(v)))
        }
        _ => None,
    };
    if let Some(p) = problem {
        out.push(policy_violation(
            "Invalid IAM policy statement",
            format!("{label} {p}. Allowed: exactly one of \"{a}\" or \"{b}\", a non-empty string or array of strings."),
        ));
    }
}

fn check_statement(label: &str, s: &serde_json::Map<String, Value>, out: &mut Vec<Violation>) {
    let effect = s.get("Effect");
    if !matches!(effect.and_then(Value::as_str), Some("Allow" | "Deny")) {
        let given = match effect {
            Some(Value::String(e)) => q(e),
            Some(other) => json_kind(other).to_string(),
            None => "missing".to_string(),
        };
        out.push(policy_violation(
            "Invalid IAM policy statement effect",
            format!("{label} \"Effect\" is {given}. Allowed: \"Allow\" or \"Deny\"."),
        ));
    }
    check_one_of(label, s, "Action", "NotAction", out);
    check_one_of(label, s, "Resource", "NotResource", out);
    for key in ["Principal", "NotPrincipal"] {
        if s.contains_key(key) {
            out.push(policy_violation(
                "Invalid IAM policy statement",
                format!("{label} has \"{key}\". Allowed: no principal (this policy is attached to the compute group's node role, so the principal is the nodes themselves)."),
            ));
        }
    }
    let allow = effect.and_then(Value::as_str) == Some("Allow");
    if allow && contains_star(s.get("Action")) && contains_star(s.get("Resource")) {
        out.push(policy_violation(
            "IAM policy grants every action on every resource",
            format!("{label} allows \"Action\": \"*\" on \"Resource\": \"*\". Allowed: specific actions or specific resources (this provider refuses full administrator access for application nodes; list the actions and resources the application needs)."),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Assert attribute and that the detail mentions every needle.
    fn assert_v(v: &Violation, attribute: &str, needles: &[&str]) {
        assert_eq!(v.attribute, attribute, "{v:?}");
        assert!(!v.summary.is_empty() && !v.summary.ends_with('.'), "{v:?}");
        for n in needles {
            assert!(v.detail.contains(n), "detail lacks {n:?}: {}", v.detail);
        }
        assert!(v.detail.contains("Allowed"), "{}", v.detail);
    }

    const GOOD_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*"},
        {"Sid":"x","Effect":"Deny","NotAction":"s3:*","Resource":"*"},
        {"Effect":"Allow","Action":"*","Resource":["arn:aws:s3:::b"]}]}"#;

    fn policy_details(json: &str) -> Vec<String> {
        check_iam_policy(json)
            .into_iter()
            .inspect(|v| assert_eq!(v.attribute, "iam_policy"))
            .map(|v| v.detail)
            .collect()
    }

    #[test]
    fn iam_policy_accepted() {
        assert!(check_iam_policy(GOOD_POLICY).is_empty());
        let single = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"sqs:SendMessage","NotResource":"arn:x"}}"#;
        assert!(check_iam_policy(single).is_empty());
        assert!(check_iam_policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#
        )
        .is_empty());
    }

    #[test]
    fn iam_policy_malformed_json_names_position() {
        let d = policy_details("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [,]\n}");
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("line 3, column"), "{}", d[0]);
        assert!(d[0].contains("Allowed"), "{}", d[0]);
        assert!(policy_details("")[0].contains("line 1"));
        assert!(policy_details("[1]")[0].contains("an array"));
    }

    #[test]
    fn iam_policy_document_shape_refused() {
        let d = policy_details(r#"{"Statement":[]}"#);
        assert_eq!(d.len(), 2);
        assert!(
            d[0].contains("\"Version\" is nothing")
                && d[0].contains("\"2012-10-17\", \"2008-10-17\"")
        );
        assert!(d[1].contains("empty array"));
        let d = policy_details(r#"{"Version":"2020-01-01","Statement":"x"}"#);
        assert!(d[0].contains("\"2020-01-01\""));
        assert!(d[1].contains("\"Statement\" is a string"));
        assert!(policy_details(r#"{"Version":"2012-10-17"}"#)[0].contains("no \"Statement\""));
        assert!(
            policy_details(r#"{"Version":"2012-10-17","Statement":[1]}"#)[0]
                .contains("Statement[0] is a number")
        );
    }

    #[test]
    fn iam_policy_statements_refused() {
        let d = policy_details(
            r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
            {"Effect":"allow","Action":"s3:GetObject","Resource":"*"},
            {"Effect":"Allow","Resource":"*"},
            {"Effect":"Allow","Action":"a:b","NotAction":"c:d","Resource":"*"},
            {"Effect":"Allow","Action":[],"Resource":"*"},
            {"Effect":"Allow","Action":"a:b"},
            {"Effect":"Allow","Action":"a:b","Resource":"*","Principal":"*"}]}"#,
        );
        assert_eq!(d.len(), 6, "{d:#?}");
        assert!(
            d[0].contains("Statement[1] \"Effect\" is \"allow\"")
                && d[0].contains("\"Allow\" or \"Deny\"")
        );
        assert!(d[1].contains("Statement[2] has neither \"Action\" nor \"NotAction\""));
        assert!(d[2].contains("Statement[3] has both"));
        assert!(d[3].contains("Statement[4] has \"Action\" as an array"));
        assert!(d[4].contains("Statement[5] has neither \"Resource\" nor \"NotResource\""));
        assert!(d[5].contains("Statement[6] has \"Principal\""));
    }

    #[test]
    fn iam_policy_refuses_star_on_star() {
        for (action, resource) in [
            (r#""*""#, r#""*""#),
            (r#"["s3:GetObject","*"]"#, r#"["*"]"#),
        ] {
            let json = format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":{action},"Resource":{resource}}}}}"#
            );
            let vs = check_iam_policy(&json);
            assert_eq!(vs.len(), 1, "{vs:?}");
            assert_v(
                &vs[0],
                "iam_policy",
                &[
                    "\"Action\": \"*\"",
                    "\"Resource\": \"*\"",
                    "specific actions",
                ],
            );
        }
    }

    #[test]
    fn iam_policy_size_limit() {
        let resources: Vec<String> = (0..600)
            .map(|i| format!("\"arn:aws:s3:::bucket-{i:05}\""))
            .collect();
        let json = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":[{}]}}}}"#,
            resources.join(",")
        );
        let d = policy_details(&json);
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("at most 10240"));
    }
}
