//! Diagnostics: what Terraform shows the user, optionally attached to an
//! attribute path so that it can point at the offending line.

use std::fmt;

/// One step of an attribute path: an attribute name, a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    Attr(String),
    Key(String),
    Index(i64),
}

/// A typed attribute path, e.g. `AttrPath::root("tags").key("Name")`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    pub fn root(name: &str) -> Self {
        AttrPath(vec![PathStep::Attr(name.to_string())])
    }
    pub fn attr(mut self, name: &str) -> Self {
        self.0.push(PathStep::Attr(name.to_string()));
        self
    }
    pub fn key(mut self, key: &str) -> Self {
        self.0.push(PathStep::Key(key.to_string()));
        self
    }
    pub fn index(mut self, i: usize) -> Self {
        self.0
            .push(PathStep::Index(i64::try_from(i).unwrap_or(i64::MAX)));
        self
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attr(a) if i == 0 => write!(f, "{a}")?,
                PathStep::Attr(a) => write!(f, ".{a}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// One short sentence, starting with a verb where it describes a failed step.
    pub summary: String,
    /// Enough for the user to fix the problem.
    pub detail: String,
    pub path: Option<AttrPath>,
}

/// An ordered, de-duplicated list of diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, d: Diagnostic) {
        if !self.0.contains(&d) {
            self.0.push(d);
        }
    }
    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        });
    }
    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        });
    }
    pub fn attribute_error(
        &mut self,
        path: AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: Some(path),
        });
    }
    pub fn attribute_warning(
        &mut self,
        path: AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            path: Some(path),
        });
    }
    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.0 {
            self.push(d);
        }
    }
    pub fn has_error(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }
}

/// Small conveniences on paths.
pub trait PathStepExt {
    /// The first attribute name of the path ("" when it starts otherwise).
    fn first_attr(&self) -> String;
}

impl PathStepExt for AttrPath {
    fn first_attr(&self) -> String {
        match self.0.first() {
            Some(PathStep::Attr(a)) => a.clone(),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_terraform() {
        let p = AttrPath::root("tags").key("Name");
        assert_eq!(p.to_string(), "tags[\"Name\"]");
        let p = AttrPath::root("timeouts").attr("create");
        assert_eq!(p.to_string(), "timeouts.create");
        let p = AttrPath::root("transaction_functions").index(2);
        assert_eq!(p.to_string(), "transaction_functions[2]");
    }

    #[test]
    fn diagnostics_deduplicate_and_report_errors() {
        let mut d = Diagnostics::new();
        d.warning("w", "x");
        assert!(!d.has_error());
        d.attribute_error(AttrPath::root("a"), "s", "d");
        d.attribute_error(AttrPath::root("a"), "s", "d");
        assert!(d.has_error());
        assert_eq!(d.iter().count(), 2);
    }
}
