//! The Terraform Registry docs (`docs/`), generated from the live schemas of
//! [`DatomicProvider`]: the provider page, one page per resource, data source
//! and function. Examples come from `examples/` (compiled in, so the binary
//! can generate the docs anywhere). Run
//! `cargo run -- --generate-docs docs`; a unit test fails while `docs/` is stale.
//!
//! Layout and wording follow the AWS provider's pages ("Argument Reference",
//! "Attribute Reference", "Timeouts", "Import") and tfplugindocs' function pages.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use crate::plugin::schema::NestedBlock;
use crate::plugin::{Attribute, Block, DataSource, Function, Provider, Resource, Schema};
use crate::provider::{DatomicProvider, SOURCE_ADDRESS};
use crate::resources::functions;
use crate::rules;

/// The provider block example (`examples/provider/provider.tf`).
const PROVIDER_EXAMPLE: &str = include_str!("../examples/provider/provider.tf");

/// Per resource type: `resource.tf` and `import.sh` of `examples/resources/<type>/`.
const RESOURCE_EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "datomic_system",
        include_str!("../examples/resources/datomic_system/resource.tf"),
        include_str!("../examples/resources/datomic_system/import.sh"),
    ),
    (
        "datomic_query_group",
        include_str!("../examples/resources/datomic_query_group/resource.tf"),
        include_str!("../examples/resources/datomic_query_group/import.sh"),
    ),
    (
        "datomic_application",
        include_str!("../examples/resources/datomic_application/resource.tf"),
        include_str!("../examples/resources/datomic_application/import.sh"),
    ),
];

/// Per data source type: `examples/data-sources/<type>/data-source.tf`.
const DATA_SOURCE_EXAMPLES: &[(&str, &str)] = &[
    (
        "datomic_system",
        include_str!("../examples/data-sources/datomic_system/data-source.tf"),
    ),
    (
        "datomic_query_group",
        include_str!("../examples/data-sources/datomic_query_group/data-source.tf"),
    ),
];

/// The subdirectories of `docs/` holding one page per object.
const SUBDIRS: &[&str] = &["resources", "data-sources", "functions"];

/// Writes the docs into `dir` (usually `docs`), creating it as needed, and
/// removes pages of objects that no longer exist (`*.md` of the generated subdirectories).
pub fn generate(dir: &Path) -> io::Result<()> {
    let pages = pages()?;
    let wanted: BTreeSet<&str> = pages.iter().map(|(p, _)| p.as_str()).collect();
    for sub in SUBDIRS {
        std::fs::create_dir_all(dir.join(sub))?;
        for entry in std::fs::read_dir(dir.join(sub))? {
            let path = entry?.path();
            let rel = format!(
                "{sub}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            if rel.ends_with(".md") && !wanted.contains(rel.as_str()) {
                std::fs::remove_file(&path)?;
            }
        }
    }
    for (rel, text) in &pages {
        std::fs::write(dir.join(rel), text)?;
    }
    Ok(())
}

/// Every page as (path relative to the docs directory, content), in a fixed order.
pub fn pages() -> io::Result<Vec<(String, String)>> {
    let p = DatomicProvider::new();
    let mut out = vec![("index.md".to_string(), index_page(p.schema()))];
    for r in p.resources() {
        let path = format!("resources/{}.md", short_name(r.type_name()));
        out.push((path, resource_page(r.as_ref())?));
    }
    for d in p.data_sources() {
        let path = format!("data-sources/{}.md", short_name(d.type_name()));
        out.push((path, data_source_page(d.as_ref())?));
    }
    for f in p.functions() {
        out.push((
            format!("functions/{}.md", f.name()),
            function_page(f.as_ref())?,
        ));
    }
    Ok(out)
}

/// The provider's local name, e.g. `datomic`.
fn provider_name() -> &'static str {
    SOURCE_ADDRESS.rsplit('/').next().unwrap_or(SOURCE_ADDRESS)
}

/// The provider's display name, e.g. `Datomic`.
fn display_name() -> String {
    let n = provider_name();
    let mut chars = n.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A type name without the provider prefix: `datomic_system` -> `system`.
fn short_name(type_name: &str) -> &str {
    type_name
        .strip_prefix(provider_name())
        .and_then(|s| s.strip_prefix('_'))
        .unwrap_or(type_name)
}

fn missing_example(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("no example for {what}: add it under examples/ and list it in src/docs.rs"),
    )
}

/// A markdown page under construction.
#[derive(Default)]
struct Page(String);

impl Page {
    fn line(&mut self, s: &str) {
        self.0.push_str(s);
        self.0.push('\n');
    }
    fn blank(&mut self) {
        self.0.push('\n');
    }
    /// A paragraph followed by a blank line.
    fn para(&mut self, s: &str) {
        self.line(s);
        self.blank();
    }
    fn heading(&mut self, level: usize, s: &str) {
        self.para(&format!("{} {s}", "#".repeat(level)));
    }
    /// A fenced code block followed by a blank line.
    fn code(&mut self, lang: &str, body: &str) {
        self.line(&format!("```{lang}"));
        self.line(body.trim_end());
        self.para("```");
    }
    /// YAML front matter with the Registry's keys.
    fn front_matter(&mut self, title: &str, subcategory: Option<&str>, description: &str) {
        self.line("---");
        self.line(&format!("page_title: {title:?}"));
        if let Some(s) = subcategory {
            self.line(&format!("subcategory: {s:?}"));
        }
        self.line("description: |-");
        for l in description.lines() {
            self.line(&format!("  {l}"));
        }
        self.para("---");
    }
    /// The page, ending with exactly one newline.
    fn finish(self) -> String {
        format!("{}\n", self.0.trim_end())
    }
}

fn index_page(schema: &Schema) -> String {
    let name = display_name();
    let mut p = Page::default();
    p.front_matter(
        &format!("Provider: {name}"),
        None,
        &schema.block.description,
    );
    p.heading(1, &format!("{name} Provider"));
    p.para(&schema.block.description);
    p.para(&format!("Use the provider's source address `{}` in `required_providers`. Provider-defined functions need Terraform 1.8 or later.", SOURCE_ADDRESS.trim_start_matches("registry.terraform.io/")));
    p.heading(2, "Example Usage");
    p.code("terraform", PROVIDER_EXAMPLE);
    p.heading(2, "Instance Sizes");
    p.para("The sizes each compute group may use. The resources' schemas, their plan-time checks, the provider functions and this table all read the same rules; any other size is refused before anything is created.");
    p.para(rules::instance_size_table_markdown().trim_end());
    p.heading(2, "Argument Reference");
    arguments(&mut p, &schema.block, false);
    nested_block_sections(&mut p, &schema.block, "");
    p.finish()
}

fn resource_page(r: &dyn Resource<crate::aws::Clients>) -> io::Result<String> {
    let type_name = r.type_name();
    let (_, usage, import) = RESOURCE_EXAMPLES
        .iter()
        .find(|(t, _, _)| *t == type_name)
        .ok_or_else(|| missing_example(type_name))?;
    let block = &r.schema().block;
    let mut p = Page::default();
    p.front_matter(
        &format!("{}: {type_name}", display_name()),
        Some(""),
        &block.description,
    );
    p.heading(1, &format!("Resource: {type_name}"));
    p.para(&block.description);
    p.heading(2, "Example Usage");
    p.code("terraform", usage);
    p.heading(2, "Argument Reference");
    arguments(&mut p, block, true);
    nested_block_sections(&mut p, block, "");
    p.heading(2, "Attribute Reference");
    p.para("This resource exports the following attributes in addition to the arguments above:");
    attribute_list(&mut p, block);
    timeouts_section(&mut p, block);
    import_section(&mut p, type_name, block, import)?;
    Ok(p.finish())
}

fn data_source_page(d: &dyn DataSource<crate::aws::Clients>) -> io::Result<String> {
    let type_name = d.type_name();
    let (_, usage) = DATA_SOURCE_EXAMPLES
        .iter()
        .find(|(t, _)| *t == type_name)
        .ok_or_else(|| missing_example(&format!("data source {type_name}")))?;
    let block = &d.schema().block;
    let mut p = Page::default();
    p.front_matter(
        &format!("{}: {type_name}", display_name()),
        Some(""),
        &block.description,
    );
    p.heading(1, &format!("Data Source: {type_name}"));
    p.para(&block.description);
    p.heading(2, "Example Usage");
    p.code("terraform", usage);
    p.heading(2, "Argument Reference");
    arguments(&mut p, block, true);
    nested_block_sections(&mut p, block, "");
    p.heading(2, "Attribute Reference");
    p.para("This data source exports the following attributes in addition to the arguments above:");
    attribute_list(&mut p, block);
    Ok(p.finish())
}

fn function_page(f: &dyn Function) -> io::Result<String> {
    let name = f.name();
    let example = functions::example(name).ok_or_else(|| missing_example(name))?;
    let sig = f.signature();
    let mut p = Page::default();
    p.front_matter(
        &format!("{name} function - {}", display_name()),
        Some(""),
        &sig.summary,
    );
    p.heading(1, &format!("Function: {name}"));
    p.para(&sig.description);
    p.para(&format!(
        "Call it as `provider::{}::{name}(...)`; provider-defined functions need Terraform 1.8 or later.",
        provider_name()
    ));
    p.heading(2, "Example Usage");
    p.code("terraform", example);
    p.heading(2, "Signature");
    let params: Vec<String> = sig
        .params
        .iter()
        .map(|(n, t, _)| format!("{n} {t}"))
        .collect();
    p.code(
        "text",
        &format!("{name}({}) {}", params.join(", "), sig.ret),
    );
    p.heading(2, "Arguments");
    for (i, (n, t, desc)) in sig.params.iter().enumerate() {
        p.line(&format!("{}. `{n}` ({t}) {desc}", i + 1));
    }
    p.blank();
    p.heading(2, "Return Type");
    p.para(&format!("`{}`", sig.ret));
    Ok(p.finish())
}

/// `* `name` - (Required, string) description`, for arguments.
fn argument_line(a: &Attribute) -> String {
    let mut flags = vec![if a.required { "Required" } else { "Optional" }.to_string()];
    flags.push(a.ty.to_string());
    if a.sensitive {
        flags.push("Sensitive".into());
    }
    if a.deprecated {
        flags.push("Deprecated".into());
    }
    format!(
        "* `{}` - ({}) {}",
        a.name,
        flags.join(", "),
        a.full_description()
    )
}

/// `* `name` - (string) description`, for computed-only attributes.
fn attribute_line(a: &Attribute) -> String {
    let mut flags = vec![a.ty.to_string()];
    if a.sensitive {
        flags.push("Sensitive".into());
    }
    format!("* `{}` - ({}) {}", a.name, flags.join(", "), a.description)
}

/// Nested blocks documented under "Argument Reference" (`timeouts` has its own section).
fn argument_blocks(block: &Block) -> impl Iterator<Item = &NestedBlock> {
    block.blocks.iter().filter(|b| b.name != "timeouts")
}

fn block_line(b: &NestedBlock) -> String {
    let flag = if b.min_items > 0 {
        "Required"
    } else {
        "Optional"
    };
    format!(
        "* `{}` - ({flag}) {} See [`{}`](#{}) below.",
        b.name, b.block.description, b.name, b.name
    )
}

/// The required and optional arguments of a block, including its nested blocks.
fn arguments(p: &mut Page, block: &Block, say_none: bool) {
    let required: Vec<String> = block
        .attributes
        .iter()
        .filter(|a| a.required)
        .map(argument_line)
        .chain(
            argument_blocks(block)
                .filter(|b| b.min_items > 0)
                .map(block_line),
        )
        .collect();
    let optional: Vec<String> = block
        .attributes
        .iter()
        .filter(|a| a.optional)
        .map(argument_line)
        .chain(
            argument_blocks(block)
                .filter(|b| b.min_items == 0)
                .map(block_line),
        )
        .collect();
    for (lines, kind) in [(required, "required"), (optional, "optional")] {
        if !lines.is_empty() {
            p.para(&format!("The following arguments are {kind}:"));
            for l in lines {
                p.line(&l);
            }
            p.blank();
        }
    }
    if say_none && block.attributes.iter().all(|a| !a.required && !a.optional) {
        p.para("This object has no arguments.");
    }
}

/// One `### name` section per nested argument block, recursively.
fn nested_block_sections(p: &mut Page, block: &Block, prefix: &str) {
    for b in argument_blocks(block) {
        let name = format!("{prefix}{}", b.name);
        p.heading(3, &name);
        p.para(&b.block.description);
        arguments(p, &b.block, true);
        nested_block_sections(p, &b.block, &format!("{name}."));
    }
}

/// The computed-only attributes of a block.
fn attribute_list(p: &mut Page, block: &Block) {
    for a in block
        .attributes
        .iter()
        .filter(|a| a.computed && !a.optional && !a.required)
    {
        p.line(&attribute_line(a));
    }
    p.blank();
}

fn timeouts_section(p: &mut Page, block: &Block) {
    let Some(t) = block.blocks.iter().find(|b| b.name == "timeouts") else {
        return;
    };
    p.heading(2, "Timeouts");
    p.para("[Configuration options](https://developer.hashicorp.com/terraform/language/resources/syntax#operation-timeouts):");
    for a in &t.block.attributes {
        p.line(&format!("* `{}` - {}", a.name, a.description));
    }
    p.blank();
}

/// One `terraform import ADDRESS ID` command of an `import.sh`, with the
/// comment lines before it.
#[derive(Debug, PartialEq, Eq)]
struct ImportExample {
    comments: Vec<String>,
    address: String,
    id: String,
}

/// Parses an `import.sh`: `#` comments and `terraform import ADDRESS ID` lines.
fn parse_import_sh(text: &str) -> io::Result<Vec<ImportExample>> {
    let mut out = Vec::new();
    let mut comments = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            comments.push(line.to_string());
            continue;
        }
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["terraform", "import", address, id] => out.push(ImportExample {
                comments: std::mem::take(&mut comments),
                address: (*address).to_string(),
                id: id.trim_matches(|c| c == '"' || c == '\'').to_string(),
            }),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("import.sh: expected `terraform import ADDRESS ID` or a # comment, got {line:?}"),
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "import.sh has no `terraform import` command",
        ));
    }
    Ok(out)
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn import_section(p: &mut Page, type_name: &str, block: &Block, sh: &str) -> io::Result<()> {
    let examples = parse_import_sh(sh)?;
    let id = block
        .attribute("id")
        .map(|a| lowercase_first(&a.description))
        .unwrap_or_default();
    p.heading(2, "Import");
    p.para(&format!("Import uses the `id` attribute: {id}"));
    p.para(&format!("In Terraform v1.5.0 and later, use an [`import` block](https://developer.hashicorp.com/terraform/language/import) to import a `{type_name}`. For example:"));
    let blocks: Vec<String> = examples
        .iter()
        .map(|e| {
            let mut s: String = e.comments.iter().map(|c| format!("{c}\n")).collect();
            s.push_str(&format!(
                "import {{\n  to = {}\n  id = {:?}\n}}",
                e.address, e.id
            ));
            s
        })
        .collect();
    p.code("terraform", &blocks.join("\n\n"));
    p.para(&format!(
        "Using `terraform import`, import a `{type_name}`. For example:"
    ));
    let commands: Vec<String> = examples
        .iter()
        .map(|e| {
            let mut s: String = e.comments.iter().map(|c| format!("{c}\n")).collect();
            s.push_str(&format!("% terraform import {} {}", e.address, e.id));
            s
        })
        .collect();
    p.code("console", &commands.join("\n"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    /// Every file under `dir`, by path relative to it.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let (Ok(rel), Ok(bytes)) = (path.strip_prefix(dir), std::fs::read(&path))
                {
                    out.insert(rel.to_string_lossy().replace('\\', "/"), bytes);
                }
            }
        }
        out
    }

    fn temp_dir() -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        std::env::temp_dir().join(format!("datomic-docs-{}-{nanos}", std::process::id()))
    }

    #[test]
    fn committed_docs_are_up_to_date() {
        let tmp = temp_dir();
        generate(&tmp).expect("generating docs");
        let fresh = files(&tmp);
        let _ = std::fs::remove_dir_all(&tmp);
        // Only what the generator owns: other pages (e.g. guides) may sit beside it.
        let committed: BTreeMap<String, Vec<u8>> =
            files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"))
                .into_iter()
                .filter(|(k, _)| {
                    k == "index.md" || SUBDIRS.iter().any(|s| k.starts_with(&format!("{s}/")))
                })
                .collect();
        let stale: Vec<&String> = fresh
            .keys()
            .chain(committed.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|k| fresh.get(*k) != committed.get(*k))
            .collect();
        assert!(
            stale.is_empty(),
            "docs/ is stale (differs in {stale:?}): run `cargo run -- --generate-docs docs` and commit the result"
        );
    }

    /// Every attribute and block of `block`, with its path, without a description.
    fn undescribed(block: &Block, path: &str, out: &mut Vec<String>) {
        if block.description.trim().is_empty() {
            out.push(format!("{path} (block)"));
        }
        for a in &block.attributes {
            if a.description.trim().is_empty() {
                out.push(format!("{path}.{}", a.name));
            }
        }
        for b in &block.blocks {
            undescribed(&b.block, &format!("{path}.{}", b.name), out);
        }
    }

    #[test]
    fn every_attribute_has_a_description() {
        let p = DatomicProvider::new();
        let mut missing = Vec::new();
        undescribed(&p.schema().block, "provider", &mut missing);
        for r in p.resources() {
            undescribed(&r.schema().block, r.type_name(), &mut missing);
        }
        for d in p.data_sources() {
            let path = format!("data.{}", d.type_name());
            undescribed(&d.schema().block, &path, &mut missing);
        }
        for f in p.functions() {
            let sig = f.signature();
            if sig.summary.trim().is_empty() || sig.description.trim().is_empty() {
                missing.push(format!("function {}", f.name()));
            }
            for (n, _, d) in &sig.params {
                if d.trim().is_empty() {
                    missing.push(format!("function {} parameter {n}", f.name()));
                }
            }
        }
        assert!(missing.is_empty(), "without a description: {missing:?}");
    }

    #[test]
    fn examples_match_their_types() {
        for (t, usage, import) in RESOURCE_EXAMPLES {
            assert!(usage.contains(&format!("resource \"{t}\"")), "{t}");
            for e in parse_import_sh(import).expect("import.sh parses") {
                assert!(e.address.starts_with(&format!("{t}.")), "{t}: {e:?}");
            }
        }
        for (t, usage) in DATA_SOURCE_EXAMPLES {
            assert!(usage.contains(&format!("data \"{t}\"")), "{t}");
        }
        assert!(PROVIDER_EXAMPLE.contains(&format!("provider \"{}\"", provider_name())));
    }

    #[tokio::test]
    async fn import_examples_use_valid_ids() {
        let ctx = crate::plugin::Ctx {
            data: None,
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        for r in DatomicProvider::new().resources() {
            let Some((_, _, sh)) = RESOURCE_EXAMPLES
                .iter()
                .find(|(t, _, _)| *t == r.type_name())
            else {
                panic!("no example for {}", r.type_name());
            };
            for e in parse_import_sh(sh).expect("import.sh parses") {
                let mut d = crate::plugin::Diagnostics::new();
                r.import(&ctx, &e.id, &mut d).await;
                assert!(!d.has_error(), "{}: {:?}", e.id, d);
            }
        }
    }

    #[test]
    fn import_sh_parses_comments_and_commands() {
        let got = parse_import_sh("# by name\nterraform import datomic_system.prod prod\n")
            .expect("parses");
        assert_eq!(
            got,
            vec![ImportExample {
                comments: vec!["# by name".into()],
                address: "datomic_system.prod".into(),
                id: "prod".into(),
            }]
        );
        assert!(parse_import_sh("rm -rf /\n").is_err());
        assert!(parse_import_sh("# nothing\n").is_err());
    }

    #[test]
    fn pages_are_deterministic_and_marked() {
        let a = pages().expect("pages");
        let b = pages().expect("pages");
        assert_eq!(a, b);
        let index = &a[0].1;
        assert!(index.contains("* `secret_key` - (Optional, string, Sensitive)"));
        assert!(index.contains("### endpoints"));
        assert!(index.contains(&rules::instance_size_table_markdown()));
        assert_eq!(short_name("datomic_query_group"), "query_group");
    }
}
