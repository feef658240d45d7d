//! Typed models of the resources: a struct per resource, read from a plugin
//! [`Value`] and written back to one in a single step, as the plugin
//! framework's `req.Plan.Get(ctx, &model)` / `resp.State.Set(ctx, model)`.
//!
//! Every field is an `Option`: null stays null and an empty list or map stays
//! empty, so a state read back through a model is the state Terraform stored
//! (a perpetual diff otherwise). An unknown value (a plan's computed
//! attribute) reads as `None`, as `str_attr` and friends read it: a model
//! holds what is known, and written back it is a valid state.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::wait;
use crate::plugin::value::Number;
use crate::plugin::Value;

/// How one attribute's type converts: the field type, from and to a value.
pub trait Kind {
    type T;
    fn get(v: Option<&Value>) -> Self::T;
    fn put(t: &Self::T) -> Value;
}

/// `string`.
pub struct Str;
/// `number` holding whole numbers (node counts, versions).
pub struct Int;
/// `number` as given (kept exact, e.g. a percentage).
pub struct Num;
/// `bool`.
pub struct Bool;
/// `list(string)`.
pub struct List;
/// `set(string)`, in wire order.
pub struct Set;
/// `map(string)`.
pub struct Map;

impl Kind for Str {
    type T = Option<String>;
    fn get(v: Option<&Value>) -> Self::T {
        v.and_then(Value::as_str).map(str::to_string)
    }
    fn put(t: &Self::T) -> Value {
        t.as_deref().map_or(Value::Null, Value::string)
    }
}

impl Kind for Int {
    type T = Option<i64>;
    fn get(v: Option<&Value>) -> Self::T {
        v.and_then(Value::as_i64)
    }
    fn put(t: &Self::T) -> Value {
        t.map_or(Value::Null, Value::int)
    }
}

impl Kind for Num {
    type T = Option<Number>;
    fn get(v: Option<&Value>) -> Self::T {
        v.and_then(Value::as_number).cloned()
    }
    fn put(t: &Self::T) -> Value {
        t.clone().map_or(Value::Null, Value::Number)
    }
}

impl Kind for Bool {
    type T = Option<bool>;
    fn get(v: Option<&Value>) -> Self::T {
        v.and_then(Value::as_bool)
    }
    fn put(t: &Self::T) -> Value {
        t.map_or(Value::Null, Value::bool)
    }
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v?.as_list()?
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect()
}

impl Kind for List {
    type T = Option<Vec<String>>;
    fn get(v: Option<&Value>) -> Self::T {
        strings(v)
    }
    fn put(t: &Self::T) -> Value {
        t.as_ref().map_or(Value::Null, |l| {
            Value::List(l.iter().map(Value::string).collect())
        })
    }
}

impl Kind for Set {
    type T = Option<Vec<String>>;
    fn get(v: Option<&Value>) -> Self::T {
        strings(v)
    }
    fn put(t: &Self::T) -> Value {
        t.as_ref().map_or(Value::Null, |l| {
            Value::Set(l.iter().map(Value::string).collect())
        })
    }
}

impl Kind for Map {
    type T = Option<BTreeMap<String, String>>;
    fn get(v: Option<&Value>) -> Self::T {
        let mut out = BTreeMap::new();
        for (k, x) in v?.as_map()? {
            out.insert(k.clone(), x.as_str()?.to_string());
        }
        Some(out)
    }
    fn put(t: &Self::T) -> Value {
        t.as_ref().map_or(Value::Null, |m| {
            Value::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::string(v)))
                    .collect(),
            )
        })
    }
}

/// A nested block (`Nesting::Single`) as a typed model of its own.
pub struct Block<M>(std::marker::PhantomData<M>);

impl<M: Model> Kind for Block<M> {
    type T = Option<M>;
    fn get(v: Option<&Value>) -> Self::T {
        v.filter(|x| matches!(x, Value::Object(_)))
            .map(M::from_value)
    }
    fn put(t: &Self::T) -> Value {
        t.as_ref().map_or(Value::Null, Model::to_value)
    }
}

/// A typed model: converted from a value once, and back once.
pub trait Model: Sized {
    /// The attribute names it covers, in declaration order.
    const ATTRIBUTES: &'static [&'static str];
    fn from_value(v: &Value) -> Self;
    fn to_value(&self) -> Value;
}

/// Declares a model struct whose fields each name their attribute (a
/// constant) and kind; its [`Model`] conversion follows from them.
macro_rules! model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $kind:ty = $attr:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: <$kind as $crate::resources::model::Kind>::T, )*
        }

        impl $crate::resources::model::Model for $name {
            const ATTRIBUTES: &'static [&'static str] = &[$($attr),*];

            fn from_value(v: &$crate::plugin::Value) -> Self {
                $name {
                    $( $field: <$kind as $crate::resources::model::Kind>::get(v.get($attr)), )*
                }
            }

            fn to_value(&self) -> $crate::plugin::Value {
                let mut m = std::collections::BTreeMap::new();
                $(
                    m.insert(
                        $attr.to_string(),
                        <$kind as $crate::resources::model::Kind>::put(&self.$field),
                    );
                )*
                $crate::plugin::Value::Object(m)
            }
        }
    };
}
pub(crate) use model;

/// The attributes of the `timeouts` block.
pub mod timeouts_attr {
    pub const CREATE: &str = "create";
    pub const UPDATE: &str = "update";
    pub const DELETE: &str = "delete";
}

model! {
    /// The `timeouts` block: Go durations per operation.
    pub struct Timeouts {
        create: Str = timeouts_attr::CREATE,
        update: Str = timeouts_attr::UPDATE,
        delete: Str = timeouts_attr::DELETE,
    }
}

/// The operations a `timeouts` block times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

impl Op {
    /// The operation's name, as in `timeouts.<op>` and messages.
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => timeouts_attr::CREATE,
            Op::Update => timeouts_attr::UPDATE,
            Op::Delete => timeouts_attr::DELETE,
        }
    }
}

/// The timeout for `op` from a `timeouts` block, or the default (as
/// [`common::timeout`](super::common::timeout) reads it from a value).
pub fn timeout(t: &Option<Timeouts>, op: Op, default: Duration) -> Duration {
    t.as_ref()
        .and_then(|t| match op {
            Op::Create => t.create.as_deref(),
            Op::Update => t.update.as_deref(),
            Op::Delete => t.delete.as_deref(),
        })
        .and_then(wait::parse_duration)
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_empty_and_unknown_read_as_they_should() {
        let mut v = Value::Object(BTreeMap::new());
        v.set_attr("create", Value::string("5m"));
        v.set_attr("update", Value::Unknown);
        v.set_attr("delete", Value::Null);
        let t = Timeouts::from_value(&v);
        assert_eq!(t.create.as_deref(), Some("5m"));
        assert_eq!(t.update, None);
        let back = t.to_value();
        assert_eq!(back.get("update"), Some(&Value::Null));
        assert_eq!(
            timeout(&Some(t), Op::Create, Duration::from_secs(1)),
            Duration::from_secs(300)
        );
        assert_eq!(Set::put(&Some(vec![])), Value::Set(vec![]));
        assert_eq!(Set::put(&None), Value::Null);
        assert_eq!(
            Map::get(Some(&Value::Map(BTreeMap::new()))),
            Some(BTreeMap::new())
        );
        assert_eq!(<Block<Timeouts>>::get(Some(&Value::Null)), None);
    }
}
