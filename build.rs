//! Generates the tool catalogue from the WIT and the JSON Schemas.
//!
//! The `enum tool` of interface `tools` in `wit/` is the single declaration
//! of the tools: their names, and their prose (the first line of a case's
//! documentation is the title, the rest is the description). Each tool's
//! argument names are declared once, by the `properties` of its input schema.
//!
//! This script parses `wit/` with wit-parser, reads `src/schemas/`, and writes
//! `$OUT_DIR/tool_catalogue.rs` (included by `src/tools/catalogue.rs`): a
//! `Tool` enum with one variant per WIT case, and per tool its name, title,
//! description, minified input and output schemas and argument names.
//!
//! Schema files: `<tool>.input.json` for every tool; `<tool>.output.json`, or
//! for tools of one family sharing a result, `<family>.output.json` where the
//! family is the word after `whatsapp_` (`send.output.json` serves
//! `whatsapp_send_message`, `whatsapp_send_template` and `whatsapp_send_media`).
//! The build fails when a tool has no schema or a schema serves no tool.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use wit_parser::{Resolve, TypeDefKind};

/// One WIT `tools.tool` case.
struct ToolCase {
    /// MCP name: the case name with `_` for `-`.
    name: String,
    /// Rust variant name: the case name in CamelCase, without `whatsapp-`.
    variant: String,
    title: String,
    description: String,
}

fn main() {
    println!("cargo:rerun-if-changed=wit");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let tools = read_wit_tools(&manifest.join("wit"));
    let schema_dir = manifest.join("src").join("schemas");
    println!("cargo:rerun-if-changed={}", schema_dir.display());
    let schemas = read_schemas(&schema_dir);

    let mut out = String::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut per_tool: Vec<(String, String, Vec<String>)> = Vec::new();
    for tool in &tools {
        let input = format!("{}.input.json", tool.name);
        let Some(input_text) = schemas.get(&input) else {
            panic!(
                "tool `{}` (WIT enum `tools.tool`) has no input schema: add src/schemas/{input}",
                tool.name
            );
        };
        let arguments =
            property_names(input_text).unwrap_or_else(|e| panic!("src/schemas/{input}: {e}"));
        let family = tool
            .name
            .strip_prefix("whatsapp_")
            .and_then(|rest| rest.split('_').next())
            .map(|f| format!("{f}.output.json"));
        let own = format!("{}.output.json", tool.name);
        let output = if schemas.contains_key(&own) {
            own
        } else if let Some(family) = family.filter(|f| schemas.contains_key(f)) {
            family
        } else {
            panic!(
                "tool `{}` has no output schema: add src/schemas/{own} (or a shared \
                 src/schemas/<family>.output.json)",
                tool.name
            );
        };
        used.insert(input.clone());
        used.insert(output.clone());
        per_tool.push((input, output, arguments));
    }
    let unused: Vec<&String> = schemas.keys().filter(|f| !used.contains(*f)).collect();
    assert!(
        unused.is_empty(),
        "src/schemas has schemas that serve no tool of the WIT enum `tools.tool`: {unused:?} \
         (name them <tool>.input.json / <tool>.output.json, or remove them)"
    );

    // One constant per schema file, so a shared schema is embedded once.
    for (file, text) in &schemas {
        writeln!(
            out,
            "const {}: &str = {:?};",
            schema_const(file),
            minify(file, text)
        )
        .expect("write to String");
    }
    out.push_str(
        "\n/// One MCP tool of the connector: a case of the WIT enum `tools.tool`.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\n\
         pub enum Tool {\n",
    );
    for tool in &tools {
        writeln!(out, "    /// {}", tool.title).expect("write to String");
        writeln!(out, "    {},", tool.variant).expect("write to String");
    }
    out.push_str("}\n\nimpl Tool {\n");
    writeln!(
        out,
        "    /// Every tool, in the WIT's (stable) order.\n    pub const ALL: [Tool; {}] = [{}];",
        tools.len(),
        tools
            .iter()
            .map(|t| format!("Tool::{}", t.variant))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .expect("write to String");
    let mut method = |doc: &str, sig: &str, value: &dyn Fn(usize, &ToolCase) -> String| {
        writeln!(out, "\n    /// {doc}\n    {sig} {{\n        match self {{").expect("write");
        for (i, tool) in tools.iter().enumerate() {
            writeln!(
                out,
                "            Tool::{} => {},",
                tool.variant,
                value(i, tool)
            )
            .expect("write");
        }
        out.push_str("        }\n    }\n");
    };
    method(
        "The MCP name, e.g. `whatsapp_send_message`.",
        "pub const fn name(self) -> &'static str",
        &|_, t| format!("{:?}", t.name),
    );
    method(
        "The title: the first line of the WIT case's documentation.",
        "pub const fn title(self) -> &'static str",
        &|_, t| format!("{:?}", t.title),
    );
    method(
        "The description: the rest of the WIT case's documentation.",
        "pub const fn description(self) -> &'static str",
        &|_, t| format!("{:?}", t.description),
    );
    method(
        "The JSON Schema of the arguments (minified `src/schemas/<tool>.input.json`).",
        "pub const fn input_schema(self) -> &'static str",
        &|i, _| schema_const(&per_tool[i].0),
    );
    method(
        "The JSON Schema of the result (minified, from `src/schemas/`).",
        "pub const fn output_schema(self) -> &'static str",
        &|i, _| schema_const(&per_tool[i].1),
    );
    method(
        "The argument names: the input schema's `properties`, in schema order.",
        "pub(crate) const fn argument_names(self) -> &'static [&'static str]",
        &|i, _| format!("&{:?}", per_tool[i].2),
    );
    out.push_str(
        "\n    /// The tool named `name`, if any.\n    pub fn from_name(name: &str) -> Option<Tool> {\n        \
         Tool::ALL.into_iter().find(|t| t.name() == name)\n    }\n}\n",
    );

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let dest = out_dir.join("tool_catalogue.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
}

/// The cases of `tools.tool` in package `whatsapp:connector`, in WIT order.
fn read_wit_tools(wit_dir: &Path) -> Vec<ToolCase> {
    let mut resolve = Resolve::new();
    let (pkg_id, _sources) = resolve
        .push_dir(wit_dir)
        .unwrap_or_else(|e| panic!("parsing {}: {e:?}", wit_dir.display()));
    let pkg = &resolve.packages[pkg_id];
    assert_eq!(
        (pkg.name.namespace.as_str(), pkg.name.name.as_str()),
        ("whatsapp", "connector"),
        "unexpected WIT package {}",
        pkg.name
    );
    let iface_id = *pkg
        .interfaces
        .get("tools")
        .expect("WIT package has no interface `tools`");
    let ty_id = *resolve.interfaces[iface_id]
        .types
        .get("tool")
        .expect("interface `tools` has no type `tool`");
    let TypeDefKind::Enum(en) = &resolve.types[ty_id].kind else {
        panic!("`tools.tool` is not an enum");
    };
    en.cases
        .iter()
        .map(|case| {
            let docs = case.docs.contents.as_deref().unwrap_or("");
            let (title, description) = split_docs(docs);
            assert!(!title.is_empty(), "tool `{}` has no title line", case.name);
            assert!(
                !description.is_empty(),
                "tool `{}` has no description",
                case.name
            );
            let short = case.name.strip_prefix("whatsapp-").unwrap_or(&case.name);
            ToolCase {
                name: case.name.replace('-', "_"),
                variant: short.split('-').map(capitalise).collect(),
                title,
                description,
            }
        })
        .collect()
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Every `*.json` of `dir` by file name, checked to parse.
fn read_schemas(dir: &Path) -> BTreeMap<String, String> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut schemas = BTreeMap::new();
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name")
            .to_string();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        schemas.insert(name, text);
    }
    schemas
}

/// The schema as compact JSON (the component embeds it so).
fn minify(file: &str, text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("src/schemas/{file} is not valid JSON: {e}"));
    value.to_string()
}

/// `send.output.json` → `SCHEMA_SEND_OUTPUT`.
fn schema_const(file: &str) -> String {
    let stem = file.strip_suffix(".json").unwrap_or(file);
    format!(
        "SCHEMA_{}",
        stem.replace(['.', '-'], "_").to_ascii_uppercase()
    )
}

/// The keys of the top-level `properties` object, in file order (the
/// `serde_json::Value` map sorts its keys, so the text is scanned here and
/// the result cross-checked against the parsed value).
fn property_names(text: &str) -> Result<Vec<String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(props) = value.get("properties").and_then(|p| p.as_object()) else {
        return Err("an input schema needs a `properties` object".into());
    };
    let mut scan = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let mut names = Vec::new();
    scan.object(&mut |s, key| {
        if key == "properties" {
            names = s.object_keys()?;
            Ok(())
        } else {
            s.skip_value()
        }
    })?;
    let mut sorted = names.clone();
    sorted.sort();
    let parsed: Vec<String> = props.keys().cloned().collect();
    if sorted != parsed {
        return Err(format!(
            "the property names read in order {names:?} differ from the parsed ones {parsed:?}"
        ));
    }
    Ok(names)
}

/// Just enough of a JSON reader to list an object's keys in order.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(u8::is_ascii_whitespace)
        {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", b as char, self.pos))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.bytes.get(self.pos) {
                None => return Err("unterminated string".into()),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out).map_err(|e| e.to_string());
                }
                Some(b'\\') => {
                    out.push(self.bytes[self.pos]);
                    out.extend(self.bytes.get(self.pos + 1));
                    self.pos += 2;
                }
                Some(&b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// Walks `{ "key": value, … }`: `on_member` is called with each key and
    /// must consume its value.
    fn object(
        &mut self,
        on_member: &mut dyn FnMut(&mut Self, String) -> Result<(), String>,
    ) -> Result<(), String> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.expect(b':')?;
            on_member(self, key)?;
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(format!("expected `,` or `}}` at byte {}", self.pos)),
            }
        }
    }

    /// The keys of the object at the current position, in order.
    fn object_keys(&mut self) -> Result<Vec<String>, String> {
        let mut keys = Vec::new();
        self.object(&mut |s, key| {
            keys.push(key);
            s.skip_value()
        })?;
        Ok(keys)
    }

    fn skip_value(&mut self) -> Result<(), String> {
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b'"') => self.string().map(drop),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.bytes.get(self.pos) {
                        None => return Err("unterminated object or array".into()),
                        Some(b'"') => {
                            self.string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            Some(_) => {
                while self
                    .bytes
                    .get(self.pos)
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']'))
                {
                    self.pos += 1;
                }
                Ok(())
            }
            None => Err("unexpected end of input".into()),
        }
    }
}

/// First non-empty line = title; the rest, with each paragraph's wrapped lines
/// joined by spaces and paragraphs separated by a blank line, = description.
fn split_docs(docs: &str) -> (String, String) {
    let mut lines = docs.lines().map(str::trim);
    let title = lines
        .by_ref()
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string();
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in lines {
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
        } else {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    (title, paragraphs.join("\n\n"))
}
