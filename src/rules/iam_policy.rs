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
    check_action_format(label, s, out);
    if effect.and_then(Value::as_str) == Some("Allow") {
        check_allow(label, s, out);
    }
}

// ---------------------------------------------------------------------------
// Guardrails: what an application's nodes may never be allowed
// ---------------------------------------------------------------------------
//
// The policy is inline on the node role, so whatever it allows the nodes do
// with their own credentials. These checks refuse the `Allow` shapes that let
// the nodes reach past the application's policy: grants by exclusion
// (`NotAction`, `NotResource`), full action wildcards, IAM writes (the nodes
// could widen their own role) and `iam:PassRole` on every role. They match
// actions case-insensitively with IAM's `*`/`?` wildcards, as IAM does.

/// IAM action name prefixes that only read (`iam:Get*`, `iam:List*`, ...).
const IAM_READ_PREFIXES: &[&str] = &["Get", "List", "Generate", "Simulate"];

/// The strings of an Action/Resource value (a string or an array; other
/// shapes are reported by [`check_one_of`]).
fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `"a", "b"` for details, at most five values then a count.
fn quoted_values(items: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut s = items
        .iter()
        .take(SHOWN)
        .map(|i| q(i))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

/// IAM's wildcard match: `*` any run of characters, `?` one character,
/// case-insensitive (as IAM matches action names).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` seen and of the text it currently ends at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The part of a pattern before its first wildcard.
fn literal_prefix(pattern: &str) -> &str {
    pattern.find(['*', '?']).map_or(pattern, |i| &pattern[..i])
}

fn only_stars(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c == '*')
}

/// `*` or `*:*`: every action of every service.
fn is_full_wildcard(action: &str) -> bool {
    match action.split_once(':') {
        None => only_stars(action),
        Some((service, name)) => only_stars(service) && only_stars(name),
    }
}

/// What an action pattern reaches in IAM, as far as the guardrails care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IamReach {
    /// No IAM action, or only read-only ones.
    None,
    /// `iam:PassRole` and nothing else of IAM (`iam:PassRole`, `iam:Pass*`).
    PassRole,
    /// An IAM action that changes IAM (a wildcard that can match one counts).
    Write,
}

fn iam_reach(action: &str) -> IamReach {
    if is_full_wildcard(action) {
        return IamReach::None; // reported apart, as every action
    }
    let Some((service, name)) = action.split_once(':') else {
        return IamReach::None; // malformed, reported apart
    };
    if !wildcard_match(service, "iam") {
        return IamReach::None;
    }
    let prefix = literal_prefix(name).to_lowercase();
    if IAM_READ_PREFIXES
        .iter()
        .any(|r| prefix.starts_with(&r.to_lowercase()))
    {
        IamReach::None
    } else if prefix.starts_with("pass") {
        // PassRole is IAM's only action starting with "Pass".
        if wildcard_match(name, "PassRole") {
            IamReach::PassRole
        } else {
            IamReach::None
        }
    } else {
        IamReach::Write
    }
}

/// Does a Resource pattern cover every role of an account: `*`, or an ARN
/// whose resource part has its wildcard before any role path or name
/// (`...:*`, `...:role/*`, `...:role*`).
fn covers_every_role(resource: &str) -> bool {
    if !resource.contains(['*', '?']) {
        return false;
    }
    match resource.splitn(6, ':').nth(5) {
        Some(part) => "role/".starts_with(&literal_prefix(part).to_lowercase()),
        None => true, // "*", "arn:*": the wildcard spans the resource part
    }
}

/// Actions must name their service (`s3:GetObject`) unless they are `*`:
/// IAM refuses the policy otherwise, and the guardrails rely on it.
fn check_action_format(label: &str, s: &serde_json::Map<String, Value>, out: &mut Vec<Violation>) {
    for key in ["Action", "NotAction"] {
        let bad: Vec<&str> = strings(s.get(key))
            .into_iter()
            .filter(|a| !a.contains(':') && !only_stars(a))
            .collect();
        if !bad.is_empty() {
            out.push(policy_violation(
                "Invalid IAM policy action",
                format!("{label} has \"{key}\" {} without a service prefix. Allowed: \"*\" or \"<service>:<action>\", e.g. \"s3:GetObject\" or \"sqs:*\" (IAM refuses an action without its service).", quoted_values(&bad)),
            ));
        }
    }
}

/// The guardrails on one `Allow` statement.
fn check_allow(label: &str, s: &serde_json::Map<String, Value>, out: &mut Vec<Violation>) {
    if let (Some(v), None) = (s.get("NotAction"), s.get("Action")) {
        out.push(policy_violation(
            "IAM policy allows every action but the listed ones",
            format!("{label} has \"Effect\": \"Allow\" with \"NotAction\": {}. Allowed: \"Allow\" with \"Action\" listing the actions the application needs; \"NotAction\" only in \"Deny\" statements (an Allow with NotAction grants every action of every AWS service except the listed ones, IAM included, so the nodes could grant themselves more than the application's policy).", quoted_values(&strings(Some(v)))),
        ));
    }
    if let (Some(v), None) = (s.get("NotResource"), s.get("Resource")) {
        out.push(policy_violation(
            "IAM policy allows every resource but the listed ones",
            format!("{label} has \"Effect\": \"Allow\" with \"NotResource\": {}. Allowed: \"Allow\" with \"Resource\" listing the resources the application needs; \"NotResource\" only in \"Deny\" statements (an Allow with NotResource grants its actions on every resource except the listed ones, including those of other systems and applications).", quoted_values(&strings(Some(v)))),
        ));
    }
    let actions = strings(s.get("Action"));
    let resources = strings(s.get("Resource"));
    let on_everything = resources.iter().any(|r| only_stars(r));
    let on = if on_everything {
        "\"Resource\": \"*\"".to_string()
    } else if resources.is_empty() {
        format!(
            "\"NotResource\": {}",
            quoted_values(&strings(s.get("NotResource")))
        )
    } else {
        format!("\"Resource\": {}", quoted_values(&resources))
    };

    let full: Vec<&str> = actions
        .iter()
        .copied()
        .filter(|a| is_full_wildcard(a))
        .collect();
    if !full.is_empty() {
        let (summary, why) = if on_everything {
            (
                "IAM policy grants every action on every resource",
                "this provider refuses full administrator access for application nodes",
            )
        } else {
            (
                "IAM policy grants every action",
                "a full wildcard grants every action of every AWS service on the resource, IAM included, and this provider refuses it on any resource",
            )
        };
        out.push(policy_violation(
            summary,
            format!("{label} allows \"Action\": {} on {on}. Allowed: specific actions such as \"s3:GetObject\", or one service's actions such as \"s3:*\" ({why}; list the actions and resources the application needs).", quoted_values(&full)),
        ));
    }

    let writes: Vec<&str> = actions
        .iter()
        .copied()
        .filter(|a| iam_reach(a) == IamReach::Write)
        .collect();
    if !writes.is_empty() {
        out.push(policy_violation(
            "IAM policy allows IAM changes",
            format!("{label} allows {} on {on}, which can change IAM. Allowed: read-only IAM actions (\"iam:Get*\", \"iam:List*\", \"iam:Generate*\", \"iam:Simulate*\" or actions starting with Get, List, Generate or Simulate) and \"iam:PassRole\" on explicit role ARNs (with IAM writes the nodes could grant themselves, or roles and users they create, more than the application's policy; manage IAM with the aws provider instead).", quoted_values(&writes)),
        ));
    }

    let pass: Vec<&str> = actions
        .iter()
        .copied()
        .filter(|a| iam_reach(a) == IamReach::PassRole)
        .collect();
    let every_role: Vec<&str> = resources
        .iter()
        .copied()
        .filter(|r| covers_every_role(r))
        .collect();
    if !pass.is_empty() && !every_role.is_empty() {
        out.push(policy_violation(
            "IAM policy allows passing any role",
            format!("{label} allows {} on \"Resource\": {}. Allowed: \"iam:PassRole\" on explicit role ARNs, e.g. \"arn:aws:iam::123456789012:role/my-task-role\", or on a role path or name prefix such as \"arn:aws:iam::123456789012:role/app/*\" (passing any role lets the nodes hand a more powerful role, an administrator's for one, to an instance, function or task they start, and so exceed the application's policy).", quoted_values(&pass), quoted_values(&every_role)),
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
        {"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::b"]}]}"#;

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
        let single = r#"{"Version":"2008-10-17","Statement":{"Effect":"Deny","Action":"sqs:SendMessage","NotResource":"arn:x"}}"#;
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

    /// A one-statement policy: `{"Effect": effect, <body>}`.
    fn one(effect: &str, body: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"ok","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}},{{"Effect":"{effect}",{body}}}]}}"#
        )
    }

    /// The single violation of `json`, checked like every other: on
    /// `iam_policy`, naming Statement[1], with each needle in the detail.
    fn refused(json: &str, summary: &str, needles: &[&str]) {
        let vs = check_iam_policy(json);
        assert_eq!(vs.len(), 1, "{json}: {vs:#?}");
        assert_eq!(vs[0].summary, summary, "{json}");
        assert!(
            vs[0].detail.starts_with("Statement[1] "),
            "{}",
            vs[0].detail
        );
        assert_v(&vs[0], "iam_policy", needles);
    }

    #[test]
    fn iam_policy_guardrails_allow_what_is_safe() {
        for (effect, body) in [
            (
                "Allow",
                r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#,
            ),
            (
                "Allow",
                r#""Action":["s3:*","sqs:SendMessage"],"Resource":"*""#,
            ),
            ("Allow", r#""Action":"iam:GetRole","Resource":"*""#),
            (
                "Allow",
                r#""Action":["iam:Get*","iam:list*","IAM:GenerateCredentialReport","iam:Simulate*","iam:ListRoles"],"Resource":"*""#,
            ),
            (
                "Allow",
                r#""Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/x""#,
            ),
            (
                "Allow",
                r#""Action":"iam:Pass*","Resource":["arn:aws:iam::123456789012:role/app/*","arn:aws:iam::*:role/y"]"#,
            ),
            (
                "Allow",
                r#""Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/app-?""#,
            ),
            ("Deny", r#""NotAction":"s3:GetObject","Resource":"*""#),
            ("Deny", r#""NotAction":"*","NotResource":"arn:aws:s3:::b""#),
            (
                "Deny",
                r#""Action":["*","iam:*","iam:PassRole"],"Resource":"*""#,
            ),
        ] {
            let json = one(effect, body);
            assert_eq!(check_iam_policy(&json), vec![], "{json}");
        }
    }

    #[test]
    fn iam_policy_refuses_allow_by_exclusion() {
        refused(
            &one("Allow", r#""NotAction":"iam:*","Resource":"*""#),
            "IAM policy allows every action but the listed ones",
            &[
                "\"NotAction\": \"iam:*\"",
                "only in \"Deny\"",
                "every action",
            ],
        );
        refused(
            &one(
                "Allow",
                r#""Action":"s3:GetObject","NotResource":["arn:aws:s3:::a","arn:aws:s3:::b"]"#,
            ),
            "IAM policy allows every resource but the listed ones",
            &[
                "\"NotResource\": \"arn:aws:s3:::a\", \"arn:aws:s3:::b\"",
                "only in \"Deny\"",
                "every resource except",
            ],
        );
        // Both at once: two problems, one violation each.
        let vs = check_iam_policy(&one("Allow", r#""NotAction":"s3:*","NotResource":"arn:x""#));
        assert_eq!(vs.len(), 2, "{vs:#?}");
    }

    #[test]
    fn iam_policy_refuses_full_wildcard_actions_on_any_resource() {
        for action in [r#""*""#, r#""*:*""#, r#"["s3:GetObject","*:*"]"#, r#""**""#] {
            refused(
                &one(
                    "Allow",
                    &format!(r#""Action":{action},"Resource":"arn:aws:s3:::b/*""#),
                ),
                "IAM policy grants every action",
                &[
                    "\"Resource\": \"arn:aws:s3:::b/*\"",
                    "specific actions",
                    "IAM included",
                    "on any resource",
                ],
            );
            refused(
                &one(
                    "Allow",
                    &format!(r#""Action":{action},"Resource":["arn:aws:s3:::b","*"]"#),
                ),
                "IAM policy grants every action on every resource",
                &["\"Resource\": \"*\"", "full administrator access"],
            );
        }
        // A service's wildcard and wildcards inside names stay allowed.
        for action in ["s3:*", "*:Get*", "ec2:Describe*"] {
            let json = one("Allow", &format!(r#""Action":"{action}","Resource":"*""#));
            assert_eq!(check_iam_policy(&json), vec![], "{json}");
        }
    }

    #[test]
    fn iam_policy_refuses_iam_writes() {
        for action in [
            "iam:PutRolePolicy",
            "iam:CreateUser",
            "IAM:attachrolepolicy",
            "iam:*",
            "iam:Put*",
            "iam:*Role*",
            "iam:Create*",
            "iam:G*",
            "i*:Update*",
            "*:Put*",
            "iam:?etRole",
        ] {
            for resource in [r#""*""#, r#""arn:aws:iam::123456789012:role/x""#] {
                refused(
                    &one(
                        "Allow",
                        &format!(r#""Action":["s3:GetObject","{action}"],"Resource":{resource}"#),
                    ),
                    "IAM policy allows IAM changes",
                    &[
                        &q(action),
                        "can change IAM",
                        "\"iam:Get*\"",
                        "grant themselves",
                    ],
                );
            }
        }
        // Several writes in one statement: one violation naming them all.
        refused(
            &one(
                "Allow",
                r#""Action":["iam:CreateRole","iam:GetRole","iam:DeleteRole"],"Resource":"*""#,
            ),
            "IAM policy allows IAM changes",
            &["\"iam:CreateRole\", \"iam:DeleteRole\""],
        );
    }

    #[test]
    fn iam_policy_refuses_pass_role_on_every_role() {
        for action in ["iam:PassRole", "iam:passrole", "iam:Pass*", "*:PassRole"] {
            for resource in [
                "*",
                "arn:aws:iam::123456789012:*",
                "arn:aws:iam::123456789012:role/*",
                "arn:aws:iam::*:role*",
                "arn:*",
            ] {
                refused(
                    &one(
                        "Allow",
                        &format!(
                            r#""Action":"{action}","Resource":["arn:aws:iam::123456789012:role/x","{resource}"]"#
                        ),
                    ),
                    "IAM policy allows passing any role",
                    &[
                        &q(action),
                        &format!("\"Resource\": {}", q(resource)),
                        "explicit role ARNs",
                        "more powerful role",
                    ],
                );
            }
        }
    }

    #[test]
    fn iam_policy_refuses_actions_without_service() {
        for effect in ["Allow", "Deny"] {
            refused(
                &one(effect, r#""Action":["s3:GetObject","iam*"],"Resource":"*""#),
                "Invalid IAM policy action",
                &[
                    "\"Action\" \"iam*\" without a service prefix",
                    "\"<service>:<action>\"",
                ],
            );
        }
    }

    #[test]
    fn wildcard_matching_is_iams() {
        for (p, t, m) in [
            ("iam", "IAM", true),
            ("i*", "iam", true),
            ("*", "", true),
            ("?am", "iam", true),
            ("?", "", false),
            ("*Role*", "PassRole", true),
            ("*Role*", "PassRolf", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYcZ", false),
        ] {
            assert_eq!(wildcard_match(p, t), m, "{p} ~ {t}");
        }
        assert_eq!(iam_reach("iam:GetRole"), IamReach::None);
        assert_eq!(iam_reach("s3:PutObject"), IamReach::None);
        assert_eq!(iam_reach("iam:PassRole"), IamReach::PassRole);
        assert_eq!(iam_reach("iam:P*"), IamReach::Write);
        assert!(!covers_every_role("arn:aws:iam::123456789012:role/app/*"));
        assert!(covers_every_role("arn:aws:iam::123456789012:role/*"));
    }
}
