//! Generates the tool catalogue (name, title, description) from the WIT.
//!
//! The `enum tool` of interface `tools` in `wit/` is the single source of the
//! tools' names and prose: the first line of a case's documentation is the
//! title, the rest is the description. This script parses `wit/` with
//! wit-parser and writes `$OUT_DIR/tool_docs.rs`, which `src/descriptors.rs`
//! includes.

use std::fmt::Write as _;
use std::path::PathBuf;

use wit_parser::{Resolve, TypeDefKind};

fn main() {
    println!("cargo:rerun-if-changed=wit");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let wit_dir = manifest.join("wit");

    let mut resolve = Resolve::new();
    let (pkg_id, _sources) = resolve
        .push_dir(&wit_dir)
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
    let iface = &resolve.interfaces[iface_id];
    let ty_id = *iface
        .types
        .get("tool")
        .expect("interface `tools` has no type `tool`");
    let TypeDefKind::Enum(en) = &resolve.types[ty_id].kind else {
        panic!("`tools.tool` is not an enum");
    };

    let mut out = String::from(
        "/// (MCP name, title, description) of each `tools.tool` case, in WIT order.\n\
         pub const TOOL_DOCS: &[(&str, &str, &str)] = &[\n",
    );
    for case in &en.cases {
        let docs = case.docs.contents.as_deref().unwrap_or("");
        let (title, description) = split_docs(docs);
        assert!(!title.is_empty(), "tool `{}` has no title line", case.name);
        assert!(
            !description.is_empty(),
            "tool `{}` has no description",
            case.name
        );
        let name = case.name.replace('-', "_");
        writeln!(out, "    ({name:?}, {title:?}, {description:?}),").expect("write to String");
    }
    out.push_str("];\n");

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let dest = out_dir.join("tool_docs.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));

    minify_schemas(
        &manifest.join("src").join("schemas"),
        &out_dir.join("schemas"),
    );
}

/// Checks every `src/schemas/*.json` parses, and writes it minified to
/// `$OUT_DIR/schemas/` (the component embeds the minified text).
fn minify_schemas(src: &std::path::Path, dest: &std::path::Path) {
    println!("cargo:rerun-if-changed={}", src.display());
    std::fs::create_dir_all(dest).expect("create OUT_DIR/schemas");
    let entries =
        std::fs::read_dir(src).unwrap_or_else(|e| panic!("reading {}: {e}", src.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
        let name = path.file_name().expect("file name");
        std::fs::write(dest.join(name), value.to_string()).expect("write minified schema");
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
