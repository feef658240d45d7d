//! Schema builder: resources describe their attributes once, with types,
//! descriptions (markdown; the docs are generated from them) and plan
//! behaviour. The server converts a schema to protocol form once at start-up.

use super::value::{Type, Value};

/// How the planner treats an attribute, in the spirit of
/// terraform-plugin-framework's plan modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanModifier {
    /// A change of this attribute on an existing object replaces the object.
    RequiresReplace,
    /// A computed value that does not change once set: keep the prior state
    /// value in the plan instead of "(known after apply)".
    UseStateForUnknown,
}

impl PlanModifier {
    /// Shown in the generated docs.
    pub fn description(self) -> &'static str {
        match self {
            PlanModifier::RequiresReplace => "Changing this forces a new resource to be created.",
            PlanModifier::UseStateForUnknown => "Keeps its value across updates once it is known.",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: Type,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: bool,
    /// Write-only (Terraform >= 1.11): the value is handed to create and
    /// update but never stored in plan or state (see `plugin::write_only`).
    pub write_only: bool,
    pub modifiers: Vec<PlanModifier>,
    /// Value planned when the configuration leaves an optional+computed attribute unset.
    pub default: Option<Value>,
    /// For a nested attribute (`attr = { ... }` in configuration, protocol
    /// 6 only): how its object nests, and its attributes. `ty` is then the
    /// object type derived from them.
    pub nested: Option<(Nesting, Vec<Attribute>)>,
}

impl Attribute {
    /// A nested attribute: an object (or list/set of objects) whose own
    /// attributes carry their own flags and descriptions.
    pub fn nested(
        name: &'static str,
        nesting: Nesting,
        attributes: Vec<Attribute>,
        description: &str,
    ) -> Self {
        let object = Type::object(
            attributes
                .iter()
                .map(|a| (a.name.to_string(), a.ty.clone())),
        );
        let ty = match nesting {
            Nesting::Single => object,
            Nesting::List => Type::list(object),
            Nesting::Set => Type::set(object),
        };
        Attribute {
            nested: Some((nesting, attributes)),
            ..Self::new(name, ty, description)
        }
    }
    /// Makes any attribute optional (for nested attributes built with [`Attribute::nested`]).
    pub fn as_optional(mut self) -> Self {
        self.optional = true;
        self.required = false;
        self
    }
    /// Makes any attribute required.
    pub fn as_required(mut self) -> Self {
        self.required = true;
        self.optional = false;
        self
    }
    fn new(name: &'static str, ty: Type, description: &str) -> Self {
        Attribute {
            name,
            ty,
            description: description.to_string(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            write_only: false,
            modifiers: Vec::new(),
            default: None,
            nested: None,
        }
    }
    pub fn required(name: &'static str, ty: Type, description: &str) -> Self {
        Attribute {
            required: true,
            ..Self::new(name, ty, description)
        }
    }
    pub fn optional(name: &'static str, ty: Type, description: &str) -> Self {
        Attribute {
            optional: true,
            ..Self::new(name, ty, description)
        }
    }
    /// Optional in configuration; when unset the provider decides the value.
    pub fn optional_computed(name: &'static str, ty: Type, description: &str) -> Self {
        Attribute {
            optional: true,
            computed: true,
            ..Self::new(name, ty, description)
        }
    }
    pub fn computed(name: &'static str, ty: Type, description: &str) -> Self {
        Attribute {
            computed: true,
            ..Self::new(name, ty, description)
        }
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    /// Makes a top-level, required or optional attribute write-only: it may
    /// take ephemeral values, create and update see its configured value, and
    /// Terraform never stores it (every value returned to Terraform holds
    /// null). Pair it with a [`Attribute::write_only_version`] argument.
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }
    /// The companion of write-only attribute `of`, by the framework's
    /// convention named `<of>_version`: an ordinary optional number the user
    /// changes to have a new value of `of` sent (a write-only value is never
    /// stored, so Terraform cannot see it change by itself).
    pub fn write_only_version(name: &'static str, of: &str) -> Self {
        Self::optional(
            name,
            Type::Number,
            &format!(
                "Version of `{of}`: change it (e.g. increment it) to have the provider apply a new value of `{of}`, \
                 which Terraform cannot compare because it never stores it."
            ),
        )
    }
    pub fn requires_replace(mut self) -> Self {
        self.modifiers.push(PlanModifier::RequiresReplace);
        self
    }
    pub fn use_state_for_unknown(mut self) -> Self {
        self.modifiers.push(PlanModifier::UseStateForUnknown);
        self
    }
    /// A default for an optional attribute; makes it computed too, as the
    /// protocol requires for any value the provider sets.
    pub fn default(mut self, v: Value) -> Self {
        self.computed = true;
        self.default = Some(v);
        self
    }
    pub fn has(&self, m: PlanModifier) -> bool {
        self.modifiers.contains(&m)
    }
    /// The description with the modifiers' own descriptions appended (for docs).
    pub fn full_description(&self) -> String {
        let mut d = self.description.clone();
        if let Some(v) = &self.default {
            if let Some(text) = default_text(v) {
                d.push_str(&format!(" Defaults to `{text}`."));
            }
        }
        if self.write_only {
            d.push_str(
                " Write-only: accepts ephemeral values and is never stored in the plan or state \
                 (Terraform 1.11 or later).",
            );
        }
        for m in &self.modifiers {
            if *m == PlanModifier::RequiresReplace {
                d.push(' ');
                d.push_str(m.description());
            }
        }
        d
    }
}

fn default_text(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(format!("{s:?}")),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
}

#[derive(Debug, Clone)]
pub struct NestedBlock {
    pub name: &'static str,
    pub nesting: Nesting,
    pub block: Block,
    pub min_items: i64,
    pub max_items: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub deprecated: bool,
}

impl Block {
    pub fn new(description: &str) -> Self {
        Block {
            description: description.to_string(),
            ..Default::default()
        }
    }
    pub fn attr(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }
    pub fn block(mut self, name: &'static str, nesting: Nesting, block: Block) -> Self {
        let max_items = 0;
        self.blocks.push(NestedBlock {
            name,
            nesting,
            block,
            min_items: 0,
            max_items,
        });
        self
    }
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
    /// The object type of values conforming to this block.
    pub fn ty(&self) -> Type {
        let mut attrs: Vec<(String, Type)> = self
            .attributes
            .iter()
            .map(|a| (a.name.to_string(), a.ty.clone()))
            .collect();
        for b in &self.blocks {
            let inner = b.block.ty();
            let t = match b.nesting {
                Nesting::Single => inner,
                Nesting::List => Type::list(inner),
                Nesting::Set => Type::set(inner),
            };
            attrs.push((b.name.to_string(), t));
        }
        Type::object(attrs)
    }
}

/// A versioned schema for a provider, resource or data source.
#[derive(Debug, Clone)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn new(version: i64, block: Block) -> Self {
        Schema { version, block }
    }
    pub fn ty(&self) -> Type {
        self.block.ty()
    }
}

/// The standard `timeouts` block of terraform-provider-aws resources.
pub fn timeouts_block(ops: &[&'static str], default: &str) -> Block {
    let mut b = Block::new("Operation timeouts, as Go durations such as `30s`, `10m` or `1h`.");
    for op in ops {
        b = b.attr(Attribute::optional(
            op,
            Type::String,
            &format!("How long to wait for {op} to finish. Defaults to `{default}`."),
        ));
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_type_includes_nested_blocks() {
        let b = Block::new("x")
            .attr(Attribute::required("name", Type::String, "n"))
            .block(
                "timeouts",
                Nesting::Single,
                timeouts_block(&["create"], "10m"),
            );
        let t = b.ty();
        match t {
            Type::Object(attrs) => {
                assert_eq!(attrs.get("name"), Some(&Type::String));
                assert!(matches!(attrs.get("timeouts"), Some(Type::Object(_))));
            }
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn nested_attributes_have_object_types() {
        let a = Attribute::nested(
            "rules",
            Nesting::List,
            vec![
                Attribute::required("port", Type::Number, "p"),
                Attribute::optional("note", Type::String, "n"),
            ],
            "Rules.",
        )
        .as_optional();
        assert!(a.optional && !a.required);
        assert_eq!(
            a.ty,
            Type::list(Type::object([
                ("note", Type::String),
                ("port", Type::Number)
            ]))
        );
    }

    #[test]
    fn defaults_make_attributes_computed_and_show_in_docs() {
        let a = Attribute::optional("min_size", Type::Number, "Minimum.").default(Value::int(1));
        assert!(a.computed && a.optional);
        assert_eq!(a.full_description(), "Minimum. Defaults to `1`.");
        let a = Attribute::required("name", Type::String, "Name.").requires_replace();
        assert!(a.full_description().contains("forces a new resource"));
    }
}
