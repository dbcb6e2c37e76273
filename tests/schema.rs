//! grammar/schema.kdl against the manifests this repository ships, and against the code.
//!
//! * Every `*.kdl` file under `examples/` and every fenced `kdl` block of `README.md` (when it
//!   exists) and `grammar/GRAMMAR.md` must validate against the schema: node names per
//!   context, argument counts and types, property names and types, blocks where allowed.
//! * The schema's node lists must equal `TOP_NODES`, `PIPELINE_NODES` and `BODY_NODES`, its
//!   units the duration and size parsers, its name patterns `is_name` and
//!   `is_variable_name`, so that the schema cannot drift from the code.
//! * `zenbuild check` (the real binary) must accept every example directory and every
//!   complete GRAMMAR.md example, each written to a fresh git repository.
//! * GRAMMAR.md must list every diagnostic code the code emits, and document every field of
//!   `graph --format json`.
//!
//! # Fenced blocks in README.md and GRAMMAR.md
//!
//! The info string after the opening fence is the language followed by flags, separated by
//! commas or spaces (```` ```kdl,fragment ```` or ```` ```kdl fragment ````):
//!
//! * ```` ```kdl ```` — a complete manifest. It must validate against the schema, and (in
//!   GRAMMAR.md) `zenbuild check` must accept it as `zenbuild.kdl` of an empty git
//!   repository: its inputs need not exist, but it may use no glob (globs must match
//!   something) and only params files given as companions (below).
//! * ```` ```kdl,fragment ```` — part of a manifest (a body on its own, `…` placeholders):
//!   skipped.
//! * ```` ```kdl,ignore ```` — deliberately wrong, or not to be checked: skipped.
//! * ```` ```LANG,file=PATH ```` — a companion file: a `yaml`/`json`/`toml` params file or a
//!   `kdl` file to include. Every complete GRAMMAR.md example after it is checked with the
//!   file present at PATH (a later block with the same PATH replaces it). A `kdl` companion
//!   is validated against the schema like a manifest.
//!
//! Any other flag on a `kdl` block is an error, so a misspelt flag cannot hide a block.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use zenbuild::manifest::body::{BODY_NODES, is_matrix_variable, is_variable_name};
use zenbuild::manifest::loader::{PIPELINE_NODES, TOP_NODES, is_name};
use zenbuild::manifest::units::{parse_duration, parse_size};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

// ---------------------------------------------------------------------------------------
// The schema, read from grammar/schema.kdl
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct Schema {
    types: BTreeMap<String, ValueType>,
    patterns: BTreeMap<String, Pattern>,
    contexts: BTreeSet<String>,
    nodes: Vec<NodeSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    String,
    Integer,
    Float,
    Boolean,
}

impl Kind {
    fn parse(word: &str) -> Result<Kind, String> {
        match word {
            "string" => Ok(Kind::String),
            "integer" => Ok(Kind::Integer),
            "float" => Ok(Kind::Float),
            "boolean" => Ok(Kind::Boolean),
            other => Err(format!("unknown KDL value kind `{other}`")),
        }
    }

    fn of(value: &KdlValue) -> Option<Kind> {
        match value {
            KdlValue::String(_) => Some(Kind::String),
            KdlValue::Integer(_) => Some(Kind::Integer),
            KdlValue::Float(_) => Some(Kind::Float),
            KdlValue::Bool(_) => Some(Kind::Boolean),
            KdlValue::Null => None,
        }
    }
}

fn describe(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a decimal number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

#[derive(Debug, Default)]
struct ValueType {
    kinds: Vec<Kind>,
    units: Vec<(String, f64)>,
    bare: Option<f64>,
    compound: bool,
    min: Option<f64>,
    greater_than: Option<f64>,
}

impl ValueType {
    fn is_quantity(&self) -> bool {
        self.bare.is_some() || !self.units.is_empty()
    }

    fn unit(&self, suffix: &str) -> Option<f64> {
        self.units
            .iter()
            .find(|(name, _)| name == suffix)
            .map(|(_, scale)| *scale)
    }

    /// The amount a string stands for (seconds, bytes), following the rules of
    /// src/manifest/units.rs as the schema describes them.
    fn quantity(&self, text: &str) -> Result<f64, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("is empty".into());
        }
        let bare = self.bare.ok_or("needs a unit")?;
        if self.compound {
            if let Ok(number) = text.parse::<f64>() {
                return Ok(number * bare);
            }
            let mut total = 0.0;
            let mut rest = text;
            while !rest.is_empty() {
                let (number, after) = split_number(rest);
                let unit_len = after
                    .find(|c: char| !c.is_ascii_alphabetic())
                    .unwrap_or(after.len());
                let (unit, after) = after.split_at(unit_len);
                let number: f64 = number
                    .parse()
                    .map_err(|_| format!("`{text}` does not start with a number"))?;
                let scale = self
                    .unit(unit)
                    .ok_or_else(|| format!("unknown unit `{unit}`"))?;
                total += number * scale;
                rest = after.trim_start();
            }
            Ok(total)
        } else {
            let (number, unit) = split_number(text);
            let number: f64 = number
                .parse()
                .map_err(|_| format!("`{text}` does not start with a number"))?;
            let unit = unit.trim();
            let scale = if unit.is_empty() {
                bare
            } else {
                self.unit(unit)
                    .ok_or_else(|| format!("unknown unit `{unit}`"))?
            };
            Ok(number * scale)
        }
    }

    fn check_amount(&self, amount: f64) -> Result<(), String> {
        if !amount.is_finite() {
            return Err("is not finite".into());
        }
        if let Some(min) = self.min
            && amount < min
        {
            return Err(format!("must be at least {min}"));
        }
        if let Some(limit) = self.greater_than
            && amount <= limit
        {
            return Err(format!("must be greater than {limit}"));
        }
        Ok(())
    }
}

fn split_number(text: &str) -> (&str, &str) {
    let len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(len)
}

#[derive(Debug)]
struct Pattern {
    first: Vec<(char, char)>,
    rest: Vec<(char, char)>,
    reserved: Vec<String>,
}

impl Pattern {
    fn class(text: &str) -> Result<Vec<(char, char)>, String> {
        text.split_whitespace()
            .map(|item| {
                let chars: Vec<char> = item.chars().collect();
                match chars[..] {
                    [c] => Ok((c, c)),
                    [from, '-', to] if from <= to => Ok((from, to)),
                    _ => Err(format!(
                        "`{item}` is neither a character nor a range like `a-z`"
                    )),
                }
            })
            .collect()
    }

    fn matches(&self, name: &str) -> bool {
        let within = |class: &[(char, char)], c: char| {
            class.iter().any(|&(from, to)| (from..=to).contains(&c))
        };
        let mut chars = name.chars();
        chars.next().is_some_and(|c| within(&self.first, c))
            && chars.all(|c| within(&self.rest, c))
            && !self.reserved.iter().any(|word| word == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repeat {
    Once,
    Many,
    Unique,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PathKind {
    Input,
    Output,
    Dir,
    File,
}

#[derive(Clone, Debug, Default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one field per flag the schema can set on a value"
)]
struct ValueSpec {
    types: Vec<String>,
    pattern: Option<String>,
    min: Option<i128>,
    max: Option<i128>,
    interpolated: bool,
    non_empty: bool,
    distinct: bool,
    path: Option<PathKind>,
    relative_to_file: bool,
}

#[derive(Debug)]
struct ArgSpec {
    min: usize,
    max: Option<usize>,
    value: ValueSpec,
}

#[derive(Debug)]
struct NodeSpec {
    /// `*` for any name (matrix variables).
    name: String,
    /// The pattern a `*` node's name must match.
    pattern: Option<String>,
    contexts: Vec<String>,
    repeat: Repeat,
    merge: Option<String>,
    args: Vec<ArgSpec>,
    props: Vec<(String, ValueSpec)>,
    any_prop: Option<ValueSpec>,
    children: Option<String>,
    children_required: bool,
}

/// Reads the schema vocabulary strictly: anything it does not know is an error, so that a
/// typo in schema.kdl fails the tests instead of being skipped.
struct Reader<'a> {
    node: &'a KdlNode,
}

impl<'a> Reader<'a> {
    fn what(&self) -> String {
        format!("schema node `{}`", self.node.name().value())
    }

    fn allow_props(&self, allowed: &[&str]) -> Result<(), String> {
        for entry in self.node.entries() {
            if let Some(name) = entry.name()
                && !allowed.contains(&name.value())
            {
                return Err(format!(
                    "{} has no attribute `{}`",
                    self.what(),
                    name.value()
                ));
            }
        }
        Ok(())
    }

    fn args(&self) -> Vec<&'a KdlValue> {
        self.node
            .entries()
            .iter()
            .filter(|e| e.name().is_none())
            .map(KdlEntry::value)
            .collect()
    }

    fn strings(&self) -> Result<Vec<String>, String> {
        self.args()
            .into_iter()
            .map(|value| match value {
                KdlValue::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "{}: expected strings, found {}",
                    self.what(),
                    describe(other)
                )),
            })
            .collect()
    }

    fn one_string(&self) -> Result<String, String> {
        match &self.strings()?[..] {
            [one] => Ok(one.clone()),
            _ => Err(format!("{} takes exactly one string argument", self.what())),
        }
    }

    fn one_number(&self) -> Result<f64, String> {
        match self.args()[..] {
            [KdlValue::Integer(n)] => Ok(*n as f64),
            [KdlValue::Float(f)] => Ok(*f),
            _ => Err(format!("{} takes exactly one number", self.what())),
        }
    }

    fn prop(&self, name: &str) -> Option<&'a KdlValue> {
        self.node
            .entries()
            .iter()
            .rev()
            .find(|e| e.name().is_some_and(|n| n.value() == name))
            .map(KdlEntry::value)
    }

    fn prop_string(&self, name: &str) -> Result<Option<String>, String> {
        match self.prop(name) {
            None => Ok(None),
            Some(KdlValue::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "{}: `{name}` must be a string, found {}",
                self.what(),
                describe(other)
            )),
        }
    }

    fn prop_bool(&self, name: &str) -> Result<bool, String> {
        match self.prop(name) {
            None => Ok(false),
            Some(KdlValue::Bool(b)) => Ok(*b),
            Some(other) => Err(format!(
                "{}: `{name}` must be #true or #false, found {}",
                self.what(),
                describe(other)
            )),
        }
    }

    fn prop_int(&self, name: &str) -> Result<Option<i128>, String> {
        match self.prop(name) {
            None => Ok(None),
            Some(KdlValue::Integer(n)) => Ok(Some(*n)),
            Some(other) => Err(format!(
                "{}: `{name}` must be an integer, found {}",
                self.what(),
                describe(other)
            )),
        }
    }

    fn children(&self) -> &'a [KdlNode] {
        self.node
            .children()
            .map(KdlDocument::nodes)
            .unwrap_or_default()
    }

    fn no_children(&self) -> Result<(), String> {
        match self.node.children() {
            Some(_) => Err(format!("{} takes no block", self.what())),
            None => Ok(()),
        }
    }
}

impl Schema {
    fn load() -> Schema {
        let path = Path::new(ROOT).join("grammar/schema.kdl");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Schema::parse(&text).unwrap_or_else(|e| panic!("grammar/schema.kdl: {e}"))
    }

    fn parse(text: &str) -> Result<Schema, String> {
        let doc =
            KdlDocument::parse(text).map_err(|e| format!("not valid KDL: {}", kdl_error(&e)))?;
        let mut schema = Schema {
            types: BTreeMap::new(),
            patterns: BTreeMap::new(),
            contexts: BTreeSet::new(),
            nodes: Vec::new(),
        };
        let mut header = false;
        for node in doc.nodes() {
            let reader = Reader { node };
            match node.name().value() {
                "schema" => {
                    reader.allow_props(&["version", "kdl"])?;
                    reader.one_string()?;
                    reader.no_children()?;
                    if reader.prop_int("version")? != Some(1) {
                        return Err("this test reads schema version=1".into());
                    }
                    if reader.prop_string("kdl")?.as_deref() != Some("2.0") {
                        return Err("the schema must say kdl=\"2.0\"".into());
                    }
                    header = true;
                }
                "type" => {
                    reader.allow_props(&[])?;
                    let name = reader.one_string()?;
                    let ty = Schema::read_type(&reader)?;
                    if schema.types.insert(name.clone(), ty).is_some() {
                        return Err(format!("type `{name}` is defined twice"));
                    }
                }
                "pattern" => {
                    reader.allow_props(&["first", "rest"])?;
                    let name = reader.one_string()?;
                    let mut reserved = Vec::new();
                    for child in reader.children() {
                        let child = Reader { node: child };
                        match child.node.name().value() {
                            "reserved" => {
                                child.allow_props(&[])?;
                                reserved.extend(child.strings()?);
                            }
                            other => {
                                return Err(format!("pattern `{name}`: unknown entry `{other}`"));
                            }
                        }
                    }
                    let class = |attribute: &str| -> Result<Vec<(char, char)>, String> {
                        let text = reader
                            .prop_string(attribute)?
                            .ok_or_else(|| format!("pattern `{name}` needs {attribute}="))?;
                        Pattern::class(&text).map_err(|e| format!("pattern `{name}`: {e}"))
                    };
                    let pattern = Pattern {
                        first: class("first")?,
                        rest: class("rest")?,
                        reserved,
                    };
                    if schema.patterns.insert(name.clone(), pattern).is_some() {
                        return Err(format!("pattern `{name}` is defined twice"));
                    }
                }
                "context" => {
                    reader.allow_props(&[])?;
                    reader.no_children()?;
                    let name = reader.one_string()?;
                    if !schema.contexts.insert(name.clone()) {
                        return Err(format!("context `{name}` is declared twice"));
                    }
                }
                "node" => {
                    let spec = Schema::read_node(&reader)?;
                    schema.nodes.push(spec);
                }
                other => return Err(format!("unknown vocabulary node `{other}`")),
            }
        }
        if !header {
            return Err("the `schema` header is missing".into());
        }
        schema.check_references()?;
        Ok(schema)
    }

    fn read_type(reader: &Reader) -> Result<ValueType, String> {
        let mut ty = ValueType::default();
        for child in reader.children() {
            let child = Reader { node: child };
            child.no_children()?;
            child.allow_props(&[])?;
            match child.node.name().value() {
                "kdl" => {
                    for kind in child.strings()? {
                        ty.kinds.push(Kind::parse(&kind)?);
                    }
                }
                "unit" => match child.args()[..] {
                    [KdlValue::String(suffix), KdlValue::Integer(n)] => {
                        ty.units.push((suffix.clone(), *n as f64));
                    }
                    [KdlValue::String(suffix), KdlValue::Float(f)] => {
                        ty.units.push((suffix.clone(), *f));
                    }
                    _ => return Err("`unit` takes a suffix and a number".into()),
                },
                "bare" => ty.bare = Some(child.one_number()?),
                "compound" => match child.args()[..] {
                    [KdlValue::Bool(b)] => ty.compound = *b,
                    _ => return Err("`compound` takes #true or #false".into()),
                },
                "min" => ty.min = Some(child.one_number()?),
                "greater-than" => ty.greater_than = Some(child.one_number()?),
                other => return Err(format!("unknown type entry `{other}`")),
            }
        }
        if ty.kinds.is_empty() {
            return Err("a type needs `kdl` kinds".into());
        }
        Ok(ty)
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one check after another over a node spec's children, read top to bottom"
    )]
    fn read_node(reader: &Reader) -> Result<NodeSpec, String> {
        reader.allow_props(&["repeat", "merge", "pattern"])?;
        let name = reader.one_string()?;
        let repeat = match reader.prop_string("repeat")?.as_deref() {
            Some("once") => Repeat::Once,
            Some("many") => Repeat::Many,
            Some("unique") => Repeat::Unique,
            other => {
                return Err(format!(
                    "node `{name}`: repeat must be once, many or unique, not {other:?}"
                ));
            }
        };
        let merge = reader.prop_string("merge")?;
        if let Some(merge) = &merge
            && !["override", "append", "by-name", "by-property"].contains(&merge.as_str())
        {
            return Err(format!("node `{name}`: unknown merge `{merge}`"));
        }
        let pattern = reader.prop_string("pattern")?;
        if (name == "*") != pattern.is_some() {
            return Err(format!(
                "node `{name}`: pattern= goes with the wildcard name `*`, and only there"
            ));
        }
        let mut spec = NodeSpec {
            name: name.clone(),
            pattern,
            contexts: Vec::new(),
            repeat,
            merge,
            args: Vec::new(),
            props: Vec::new(),
            any_prop: None,
            children: None,
            children_required: false,
        };
        for child in reader.children() {
            let child = Reader { node: child };
            child.no_children()?;
            match child.node.name().value() {
                "in" => {
                    child.allow_props(&[])?;
                    spec.contexts.extend(child.strings()?);
                }
                "arg" => {
                    let (min, max) = match child.prop("count") {
                        None => (1, Some(1)),
                        Some(KdlValue::Integer(n)) if *n >= 0 => (*n as usize, Some(*n as usize)),
                        Some(KdlValue::String(s)) if s.ends_with('+') => {
                            let n = s[..s.len() - 1]
                                .parse()
                                .map_err(|_| format!("node `{name}`: bad count `{s}`"))?;
                            (n, None)
                        }
                        Some(other) => return Err(format!("node `{name}`: bad count {other:?}")),
                    };
                    if !child.args().is_empty() {
                        return Err(format!("node `{name}`: `arg` takes attributes only"));
                    }
                    let value = Schema::read_value(&child, &name, &["count"])?;
                    spec.args.push(ArgSpec { min, max, value });
                }
                "prop" => {
                    let prop = child.one_string()?;
                    let value = Schema::read_value(&child, &name, &[])?;
                    if spec.props.iter().any(|(p, _)| *p == prop) {
                        return Err(format!(
                            "node `{name}`: property `{prop}` is declared twice"
                        ));
                    }
                    spec.props.push((prop, value));
                }
                "any-prop" => {
                    if !child.args().is_empty() {
                        return Err(format!("node `{name}`: `any-prop` takes attributes only"));
                    }
                    let value = Schema::read_value(&child, &name, &[])?;
                    if value.pattern.is_none() {
                        return Err(format!(
                            "node `{name}`: `any-prop` needs pattern= for the property names"
                        ));
                    }
                    spec.any_prop = Some(value);
                }
                "children" => {
                    child.allow_props(&["required"])?;
                    spec.children = Some(child.one_string()?);
                    spec.children_required = child.prop_bool("required")?;
                }
                other => return Err(format!("node `{name}`: unknown entry `{other}`")),
            }
        }
        if spec.contexts.is_empty() {
            return Err(format!("node `{name}` is in no context (`in \"…\"`)"));
        }
        if spec.args.iter().rev().skip(1).any(|arg| arg.max.is_none()) {
            return Err(format!(
                "node `{name}`: only the last `arg` may take a variable count"
            ));
        }
        Ok(spec)
    }

    fn read_value(reader: &Reader, node: &str, extra: &[&str]) -> Result<ValueSpec, String> {
        let mut allowed = vec![
            "type",
            "pattern",
            "min",
            "max",
            "default",
            "interpolated",
            "non-empty",
            "distinct",
            "path",
            "base",
            "key",
        ];
        allowed.extend_from_slice(extra);
        reader
            .allow_props(&allowed)
            .map_err(|e| format!("node `{node}`: {e}"))?;
        let types: Vec<String> = reader
            .prop_string("type")?
            .ok_or_else(|| format!("node `{node}`: a value needs type="))?
            .split('|')
            .map(str::to_string)
            .collect();
        let path = match reader.prop_string("path")?.as_deref() {
            None => None,
            Some("input") => Some(PathKind::Input),
            Some("output") => Some(PathKind::Output),
            Some("dir") => Some(PathKind::Dir),
            Some("file") => Some(PathKind::File),
            Some(other) => return Err(format!("node `{node}`: unknown path kind `{other}`")),
        };
        let relative_to_file = match reader.prop_string("base")?.as_deref() {
            None => false,
            Some("including-file") if path.is_some() => true,
            Some(other) => {
                return Err(format!(
                    "node `{node}`: base=`{other}` needs path= and must be \"including-file\""
                ));
            }
        };
        if let Some(key) = reader.prop_string("key")?
            && !["param", "step", "template", "executor", "remote"].contains(&key.as_str())
        {
            return Err(format!("node `{node}`: unknown key kind `{key}`"));
        }
        Ok(ValueSpec {
            types,
            pattern: reader.prop_string("pattern")?,
            min: reader.prop_int("min")?,
            max: reader.prop_int("max")?,
            interpolated: reader.prop_bool("interpolated")?,
            non_empty: reader.prop_bool("non-empty")?,
            distinct: reader.prop_bool("distinct")?,
            path,
            relative_to_file,
        })
    }

    /// Every type, pattern and context the nodes name is defined.
    fn check_references(&self) -> Result<(), String> {
        for node in &self.nodes {
            let name = &node.name;
            for context in node.contexts.iter().chain(&node.children) {
                if !self.contexts.contains(context) {
                    return Err(format!(
                        "node `{name}` names the undeclared context `{context}`"
                    ));
                }
            }
            let values = node
                .args
                .iter()
                .map(|arg| &arg.value)
                .chain(node.props.iter().map(|(_, value)| value))
                .chain(&node.any_prop);
            for value in values {
                for ty in &value.types {
                    if !self.types.contains_key(ty) {
                        return Err(format!("node `{name}` uses the undefined type `{ty}`"));
                    }
                }
            }
            let patterns = node
                .args
                .iter()
                .filter_map(|arg| arg.value.pattern.as_ref())
                .chain(
                    node.props
                        .iter()
                        .filter_map(|(_, value)| value.pattern.as_ref()),
                )
                .chain(
                    node.any_prop
                        .as_ref()
                        .and_then(|value| value.pattern.as_ref()),
                )
                .chain(&node.pattern);
            for pattern in patterns {
                if !self.patterns.contains_key(pattern) {
                    return Err(format!(
                        "node `{name}` uses the undefined pattern `{pattern}`"
                    ));
                }
            }
            for context in &node.contexts {
                let same = self
                    .nodes
                    .iter()
                    .filter(|other| other.name == *name && other.contexts.contains(context))
                    .count();
                if same > 1 {
                    return Err(format!(
                        "node `{name}` is declared twice in context `{context}`"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The node spec for `name` in `context`: an exact name first, then the wildcard.
    fn find(&self, context: &str, name: &str) -> Option<&NodeSpec> {
        let in_context = |spec: &&NodeSpec| spec.contexts.iter().any(|c| c == context);
        self.nodes
            .iter()
            .filter(in_context)
            .find(|spec| spec.name == name)
            .or_else(|| {
                self.nodes
                    .iter()
                    .filter(in_context)
                    .find(|spec| spec.name == "*")
            })
    }

    /// The node names allowed in `context`, without the wildcard.
    fn names_in(&self, context: &str) -> BTreeSet<String> {
        self.nodes
            .iter()
            .filter(|spec| spec.name != "*" && spec.contexts.iter().any(|c| c == context))
            .map(|spec| spec.name.clone())
            .collect()
    }
}

fn kdl_error(error: &kdl::KdlError) -> String {
    let problems: Vec<String> = error
        .diagnostics
        .iter()
        .map(|d| {
            let (line, column) = line_col(&error.input, d.span.offset());
            format!(
                "{line}:{column}: {}",
                d.message.clone().unwrap_or_else(|| "invalid KDL".into())
            )
        })
        .collect();
    problems.join("; ")
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

// ---------------------------------------------------------------------------------------
// Validating a manifest against the schema
// ---------------------------------------------------------------------------------------

struct Validator<'s> {
    schema: &'s Schema,
    text: &'s str,
    errors: Vec<String>,
    /// How often each `repeat="once"` node appeared, by (block, name).
    seen_once: HashMap<(String, String), usize>,
    /// Names taken by `repeat="unique"` nodes, by node name (steps share one namespace
    /// wherever they are declared).
    unique_names: HashMap<String, HashSet<String>>,
    blocks: usize,
}

/// Every way `text` breaks the schema, as `line:column: message`; empty when it conforms.
fn validate(schema: &Schema, text: &str) -> Vec<String> {
    let doc = match KdlDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => return vec![format!("not valid KDL 2.0: {}", kdl_error(&e))],
    };
    let mut validator = Validator {
        schema,
        text,
        errors: Vec::new(),
        seen_once: HashMap::new(),
        unique_names: HashMap::new(),
        blocks: 0,
    };
    validator.block("top", doc.nodes(), "top");
    validator.errors
}

impl Validator<'_> {
    fn error(&mut self, offset: usize, message: impl std::fmt::Display) {
        let (line, column) = line_col(self.text, offset);
        self.errors.push(format!("{line}:{column}: {message}"));
    }

    fn block(&mut self, context: &str, nodes: &[KdlNode], scope: &str) {
        for node in nodes {
            let name = node.name().value();
            let at = node.name().span().offset();
            let Some(spec) = self.schema.find(context, name) else {
                let allowed: Vec<String> = self.schema.names_in(context).into_iter().collect();
                self.error(
                    at,
                    format!(
                        "unknown node `{name}` in {context} (allowed: {})",
                        allowed.join(", ")
                    ),
                );
                continue;
            };
            if let Some(pattern) = &spec.pattern
                && !self.schema.patterns[pattern].matches(name)
            {
                self.error(at, format!("`{name}` does not match the {pattern} pattern"));
            }
            match spec.repeat {
                Repeat::Once => {
                    let count = self
                        .seen_once
                        .entry((scope.to_string(), name.to_string()))
                        .or_default();
                    *count += 1;
                    if *count == 2 {
                        self.error(at, format!("`{name}` may appear only once here"));
                    }
                }
                Repeat::Unique => {
                    if let Some(KdlValue::String(key)) = node
                        .entries()
                        .iter()
                        .find(|e| e.name().is_none())
                        .map(KdlEntry::value)
                        && !self
                            .unique_names
                            .entry(spec.name.clone())
                            .or_default()
                            .insert(key.clone())
                    {
                        self.error(at, format!("{name} `{key}` is declared twice"));
                    }
                }
                Repeat::Many => {}
            }
            self.args(node, spec);
            self.props(node, spec);
            match (&spec.children, node.children()) {
                (None, Some(children)) => {
                    self.error(children.span().offset(), format!("`{name}` takes no block"));
                }
                (Some(child_context), None) if spec.children_required => {
                    self.error(
                        at,
                        format!("`{name}` needs a block of {child_context} nodes"),
                    );
                }
                (Some(child_context), Some(children)) => {
                    // A context of freely named nodes (matrix variables) shares its names
                    // across every block of the same parent: two `matrix` blocks in one step
                    // declare variables of one matrix.
                    let free = self.schema.names_in(child_context).is_empty();
                    let child_scope = if free {
                        format!("{scope}/{child_context}")
                    } else {
                        self.blocks += 1;
                        format!("{scope}/{}", self.blocks)
                    };
                    self.block(child_context, children.nodes(), &child_scope);
                }
                _ => {}
            }
        }
    }

    fn args(&mut self, node: &KdlNode, spec: &NodeSpec) {
        let name = node.name().value();
        let at = node.name().span().offset();
        let args: Vec<&KdlEntry> = node
            .entries()
            .iter()
            .filter(|e| e.name().is_none())
            .collect();
        let mut next = 0;
        for arg in &spec.args {
            let available = args.len() - next;
            let take = arg.max.map_or(available, |max| available.min(max));
            if take < arg.min {
                self.error(
                    at,
                    format!(
                        "`{name}` needs at least {} argument(s), found {}",
                        arg.min, take
                    ),
                );
            }
            let taken = &args[next..next + take];
            for entry in taken {
                self.value(entry, &format!("argument of `{name}`"), &arg.value);
            }
            if arg.value.distinct {
                let mut texts = HashSet::new();
                for entry in taken {
                    let text = written(entry);
                    if !texts.insert(text.clone()) {
                        self.error(
                            entry.span().offset(),
                            format!("`{text}` appears twice in `{name}`"),
                        );
                    }
                }
            }
            next += take;
        }
        if let Some(extra) = args.get(next) {
            let message = if spec.args.is_empty() {
                format!("`{name}` takes no arguments")
            } else {
                format!("`{name}` takes at most {next} argument(s)")
            };
            self.error(extra.span().offset(), message);
        }
    }

    fn props(&mut self, node: &KdlNode, spec: &NodeSpec) {
        let name = node.name().value();
        for entry in node.entries() {
            let Some(key) = entry.name() else { continue };
            let key = key.value();
            if let Some((_, value)) = spec.props.iter().find(|(prop, _)| prop == key) {
                self.value(entry, &format!("`{name}` property `{key}`"), value);
            } else if let Some(value) = &spec.any_prop {
                let pattern = value.pattern.as_deref().unwrap_or_default();
                if !self.schema.patterns[pattern].matches(key) {
                    self.error(
                        entry.span().offset(),
                        format!("`{key}` does not match the {pattern} pattern"),
                    );
                }
                let value = ValueSpec {
                    pattern: None,
                    ..value.clone()
                };
                self.value(entry, &format!("`{name}` property `{key}`"), &value);
            } else {
                let known: Vec<&str> = spec.props.iter().map(|(prop, _)| prop.as_str()).collect();
                self.error(
                    entry.span().offset(),
                    format!(
                        "`{name}` has no property `{key}` (it takes: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
        }
    }

    fn value(&mut self, entry: &KdlEntry, what: &str, spec: &ValueSpec) {
        let at = entry.span().offset();
        let value = entry.value();
        let mut problems = Vec::new();
        for ty in &spec.types {
            match self.check_type(ty, value) {
                Ok(()) => {
                    problems.clear();
                    break;
                }
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            self.error(at, format!("{what}: {}", problems.join("; or ")));
            return;
        }
        match value {
            KdlValue::Integer(n)
                if spec.min.is_some_and(|min| *n < min) || spec.max.is_some_and(|max| *n > max) =>
            {
                let min = spec.min.map_or("-∞".to_string(), |m| m.to_string());
                let max = spec.max.map_or("∞".to_string(), |m| m.to_string());
                self.error(at, format!("{what}: {n} is outside {min}..={max}"));
            }
            KdlValue::String(s) => {
                if let Some(pattern) = &spec.pattern
                    && !self.schema.patterns[pattern].matches(s)
                {
                    self.error(
                        at,
                        format!("{what}: `{s}` does not match the {pattern} pattern"),
                    );
                }
                if spec.non_empty && s.trim().is_empty() {
                    self.error(at, format!("{what}: is empty"));
                }
                let literal = if spec.interpolated {
                    match check_interpolation(s) {
                        Ok(literal) => literal,
                        Err(problem) => {
                            self.error(at, format!("{what}: {problem}"));
                            return;
                        }
                    }
                } else {
                    s.clone()
                };
                if let Some(kind) = spec.path
                    && let Err(problem) = check_path(&literal, kind, spec.relative_to_file)
                {
                    self.error(at, format!("{what}: `{s}` {problem}"));
                }
            }
            _ => {}
        }
    }

    fn check_type(&self, name: &str, value: &KdlValue) -> Result<(), String> {
        let ty = &self.schema.types[name];
        let kind = Kind::of(value);
        if !kind.is_some_and(|kind| ty.kinds.contains(&kind)) {
            return Err(format!("expected {name}, found {}", describe(value)));
        }
        if !ty.is_quantity() {
            return Ok(());
        }
        let amount = match value {
            KdlValue::String(s) => ty
                .quantity(s)
                .map_err(|e| format!("`{s}` is not a {name}: {e}"))?,
            KdlValue::Integer(n) => *n as f64 * ty.bare.unwrap_or(1.0),
            KdlValue::Float(f) => *f * ty.bare.unwrap_or(1.0),
            _ => return Ok(()),
        };
        ty.check_amount(amount).map_err(|e| format!("{name} {e}"))
    }
}

/// The text a value was written with (`0.10` stays `0.10`), as instance names show it.
fn written(entry: &KdlEntry) -> String {
    match entry.value() {
        KdlValue::String(s) => s.clone(),
        KdlValue::Bool(b) => b.to_string(),
        other => entry
            .format()
            .map_or_else(|| other.to_string(), |f| f.value_repr.trim().to_string()),
    }
}

/// Checks that every `{{` is closed and names something that can be defined, and returns
/// the text with each `{{…}}` replaced by a plain placeholder (for the path checks).
fn check_interpolation(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or("`{{` is never closed")?;
        let name = after[..close].trim();
        let plausible = matches!(name, "step" | "project")
            || name
                .strip_prefix("params.")
                .is_some_and(|key| !key.is_empty())
            || is_variable_name(name);
        if !plausible {
            return Err(format!(
                "`{{{{{name}}}}}` cannot name a matrix variable, param, `step` or `project`"
            ));
        }
        out.push('x');
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The static path rules of GRAMMAR.md ("Paths").
fn check_path(text: &str, kind: PathKind, relative_to_file: bool) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("is empty".into());
    }
    let bytes = text.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if text.starts_with('/') || text.starts_with('\\') || drive {
        return Err("is absolute; paths are relative to the workspace root".into());
    }
    if relative_to_file {
        return Ok(());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("climbs out of the workspace with `..`".into());
                }
            }
            part => parts.push(part),
        }
    }
    match kind {
        PathKind::Output => {
            if text.contains(['*', '?', '[', '{']) {
                return Err("is a glob; outputs and metrics must be plain paths".into());
            }
            if parts.is_empty() {
                return Err("names the workspace root".into());
            }
            if matches!(parts[0], ".zenbuild" | ".git") {
                return Err(format!("is under {}/, where steps cannot write", parts[0]));
            }
        }
        PathKind::Input if parts.is_empty() => return Err("names the workspace root".into()),
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Fenced blocks in Markdown
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct Block {
    /// `README.md:12`: where the block starts.
    location: String,
    lang: String,
    fragment: bool,
    ignore: bool,
    file: Option<String>,
    text: String,
}

impl Block {
    fn is_kdl(&self) -> bool {
        self.lang == "kdl"
    }

    /// A complete manifest to validate and check.
    fn is_manifest(&self) -> bool {
        self.is_kdl() && !self.fragment && !self.ignore && self.file.is_none()
    }
}

/// The fenced blocks of a Markdown file, in order.
fn fenced_blocks(name: &str, text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(Block, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some((block, fence)) = &mut open {
            if trimmed.starts_with(fence.as_str()) && trimmed.trim_end().chars().all(|c| c == '`') {
                let (block, _) = open.take().expect("a block is open");
                blocks.push(block);
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
        } else {
            if !trimmed.starts_with("```") {
                continue;
            }
            let fence_len = trimmed.chars().take_while(|&c| c == '`').count();
            let info = &trimmed[fence_len..];
            let mut words = info.split([',', ' ', '\t']).filter(|w| !w.is_empty());
            let lang = words.next().unwrap_or_default().to_string();
            let mut block = Block {
                location: format!("{name}:{}", index + 1),
                lang,
                fragment: false,
                ignore: false,
                file: None,
                text: String::new(),
            };
            for word in words {
                match word {
                    "fragment" => block.fragment = true,
                    "ignore" => block.ignore = true,
                    _ if word.starts_with("file=") => {
                        block.file = Some(word["file=".len()..].to_string());
                    }
                    other if block.is_kdl() => {
                        panic!(
                            "{}: unknown flag `{other}` on a kdl block (use fragment, ignore or file=PATH)",
                            block.location
                        )
                    }
                    _ => {}
                }
            }
            open = Some((block, "`".repeat(fence_len)));
        }
    }
    if let Some((block, _)) = open {
        panic!("{}: the fenced block is never closed", block.location);
    }
    blocks
}

fn markdown_files() -> Vec<(String, String)> {
    ["README.md", "grammar/GRAMMAR.md"]
        .into_iter()
        .filter_map(|name| {
            let path = Path::new(ROOT).join(name);
            path.exists().then(|| {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
                (name.to_string(), text)
            })
        })
        .collect()
}

fn grammar_md() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("grammar/GRAMMAR.md"))
        .expect("grammar/GRAMMAR.md exists")
}

// ---------------------------------------------------------------------------------------
// Running the real binary
// ---------------------------------------------------------------------------------------

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn zenbuild(args: &[&str], dir: &Path) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_zenbuild"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("run zenbuild");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A fresh git repository holding `files` and `manifest` as zenbuild.kdl.
fn temp_repo(files: &BTreeMap<String, String>, manifest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let status = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
        .expect("run git init");
    assert!(status.success(), "git init failed");
    for (path, text) in files
        .iter()
        .chain([(&"zenbuild.kdl".to_string(), &manifest.to_string())])
    {
        let path = dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(path, text).expect("write a file");
    }
    dir
}

fn example_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("examples"))
        .expect("read examples/")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("zenbuild.kdl").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn kdl_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            kdl_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "kdl") {
            found.push(path);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

#[test]
fn schema_node_lists_equal_the_implementation() {
    let schema = Schema::load();
    let set = |names: &[&str]| {
        names
            .iter()
            .map(ToString::to_string)
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        schema.names_in("top"),
        set(TOP_NODES),
        "top-level nodes: schema vs loader::TOP_NODES"
    );
    assert_eq!(
        schema.names_in("pipeline"),
        set(PIPELINE_NODES),
        "pipeline nodes: schema vs loader::PIPELINE_NODES"
    );
    assert_eq!(
        schema.names_in("body"),
        set(BODY_NODES),
        "body nodes: schema vs body::BODY_NODES"
    );
    assert!(
        schema.names_in("matrix").is_empty(),
        "a matrix holds only freely named variables"
    );
    assert!(
        schema
            .find("matrix", "any_name")
            .is_some_and(|spec| spec.name == "*")
    );
    assert_eq!(schema.contexts, set(&["top", "pipeline", "body", "matrix"]));
    for spec in schema
        .nodes
        .iter()
        .filter(|spec| spec.contexts.iter().any(|c| c == "body"))
    {
        assert!(
            spec.merge.is_some(),
            "body node `{}` needs merge=",
            spec.name
        );
    }
}

#[test]
fn schema_units_equal_the_implementation() {
    let schema = Schema::load();
    let duration = &schema.types["duration"];
    assert!(!duration.units.is_empty());
    for (suffix, seconds) in &duration.units {
        let parsed = parse_duration(&format!("3{suffix}"))
            .unwrap_or_else(|e| panic!("duration unit `{suffix}`: {e}"));
        let expected = Duration::from_secs_f64(3.0 * seconds);
        assert!(
            parsed.abs_diff(expected) < Duration::from_micros(1),
            "3{suffix}: {parsed:?} vs {expected:?}"
        );
    }
    assert_eq!(
        parse_duration("7").ok(),
        Some(Duration::from_secs_f64(7.0 * duration.bare.unwrap_or(0.0)))
    );
    assert!(duration.compound);
    assert_eq!(parse_duration("1h30m").ok(), Some(Duration::from_mins(90)));
    for text in ["0", "0s", "-5", "5x", "m", "1.5w"] {
        assert!(
            parse_duration(text).is_err(),
            "the code accepts duration {text:?}"
        );
        assert!(
            duration
                .quantity(text)
                .and_then(|n| duration.check_amount(n))
                .is_err(),
            "the schema accepts duration {text:?}"
        );
    }
    let size = &schema.types["size"];
    for (suffix, bytes) in &size.units {
        let parsed = parse_size(&format!("3{suffix}"))
            .unwrap_or_else(|e| panic!("size unit `{suffix}`: {e}"));
        let expected = (3.0 * bytes).round();
        #[allow(clippy::float_cmp, reason = "both sides are whole numbers of bytes")]
        let exact = parsed as f64 == expected;
        assert!(exact, "size 3{suffix}: {parsed} bytes, not {expected}");
    }
    assert_eq!(
        parse_size("7").ok(),
        Some(7.0 * size.bare.unwrap_or(0.0)).map(|n| n as u64)
    );
    assert_eq!(parse_size("2 GiB").ok(), Some(2 << 30));
    for text in ["GiB", "2 parsecs", "1e3", "2Pi"] {
        assert!(parse_size(text).is_err(), "the code accepts size {text:?}");
        assert!(
            size.quantity(text).is_err(),
            "the schema accepts size {text:?}"
        );
    }
}

#[test]
fn schema_name_patterns_equal_the_implementation() {
    let schema = Schema::load();
    let samples = [
        "fit",
        "fit2",
        "2fit",
        "_x",
        "a.b",
        "a-b",
        "a_b",
        "-a",
        ".a",
        "a@b",
        "a=b",
        "a,b",
        "a/b",
        "a b",
        "",
        "é",
        "params",
        "step",
        "project",
        "A",
        "learning-rate",
        "lr.1",
    ];
    for sample in samples {
        assert_eq!(
            schema.patterns["name"].matches(sample),
            is_name(sample),
            "name pattern on {sample:?}"
        );
        let variable = is_matrix_variable(sample);
        assert_eq!(
            schema.patterns["variable"].matches(sample),
            variable,
            "variable pattern on {sample:?}"
        );
    }
}

#[test]
fn example_kdl_files_validate() {
    let schema = Schema::load();
    let mut files = Vec::new();
    kdl_files(&Path::new(ROOT).join("examples"), &mut files);
    assert!(!files.is_empty(), "no *.kdl under examples/");
    let mut failures = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read an example");
        for error in validate(&schema, &text) {
            failures.push(format!(
                "{}:{error}",
                path.strip_prefix(ROOT).unwrap_or(&path).display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "examples break grammar/schema.kdl:\n{}",
        failures.join("\n")
    );
}

#[test]
fn markdown_kdl_blocks_validate() {
    let schema = Schema::load();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, text) in markdown_files() {
        for block in fenced_blocks(&name, &text) {
            if !block.is_kdl() || block.fragment || block.ignore {
                continue;
            }
            checked += 1;
            for error in validate(&schema, &block.text) {
                failures.push(format!("{} (block line {error})", block.location));
            }
        }
    }
    assert!(checked > 0, "no ```kdl blocks found");
    assert!(
        failures.is_empty(),
        "kdl blocks break grammar/schema.kdl:\n{}",
        failures.join("\n")
    );
}

#[test]
fn examples_pass_zenbuild_check() {
    let dirs = example_dirs();
    assert!(!dirs.is_empty(), "no example directories");
    for dir in dirs {
        let relative = dir
            .strip_prefix(ROOT)
            .unwrap_or(&dir)
            .to_string_lossy()
            .into_owned();
        let run = zenbuild(&["-C", &relative, "check"], Path::new(ROOT));
        assert_eq!(
            run.code,
            Some(0),
            "zenbuild check -C {relative}\n--- stdout\n{}--- stderr\n{}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn grammar_examples_pass_zenbuild_check() {
    let mut companions: BTreeMap<String, String> = BTreeMap::new();
    let mut checked = 0;
    let mut failures = Vec::new();
    for block in fenced_blocks("grammar/GRAMMAR.md", &grammar_md()) {
        if block.ignore || block.fragment {
            continue;
        }
        if let Some(file) = &block.file {
            companions.insert(file.clone(), block.text.clone());
            continue;
        }
        if !block.is_manifest() {
            continue;
        }
        checked += 1;
        let repo = temp_repo(&companions, &block.text);
        let run = zenbuild(
            &["-C", &repo.path().to_string_lossy(), "check"],
            repo.path(),
        );
        if run.code != Some(0) {
            failures.push(format!(
                "{}: exit {:?}\n{}{}",
                block.location, run.code, run.stdout, run.stderr
            ));
        }
    }
    assert!(
        checked >= 10,
        "only {checked} complete examples in GRAMMAR.md"
    );
    assert!(
        failures.is_empty(),
        "zenbuild check rejects GRAMMAR.md examples:\n{}",
        failures.join("\n")
    );
}

#[test]
fn validator_rejects_invalid_documents() {
    let schema = Schema::load();
    let valid = r#"
        project "p"
        template "t" { env A="1"; resources cpus=2 memory="1GiB" }
        pipeline "main" default=#true {
            step "fit" template="t" {
                matrix { lr 0.1 0.10; depth 1 2 }
                cmd "train --lr {{lr}} --seed {{params.seed}}"
                outputs "out/{{lr}}-{{depth}}/"
                timeout "1h30m"
                retries 2
                cache #false
            }
            use "fit"
        }
    "#;
    assert_eq!(
        validate(&schema, valid),
        Vec::<String>::new(),
        "the positive control must pass"
    );
    let invalid: &[(&str, &str)] = &[
        ("pipline \"p\" {}", "unknown node `pipline` in top"),
        (
            "step \"a\" { outptus \"x\" }",
            "unknown node `outptus` in body",
        ),
        (
            "pipeline \"p\" { project \"x\" }",
            "unknown node `project` in pipeline",
        ),
        (
            "step \"a\" { cmd \"x\" \"y\" }",
            "`cmd` takes at most 1 argument",
        ),
        ("step \"a\" { cmd }", "`cmd` needs at least 1 argument"),
        ("step \"a\" { cmd 42 }", "expected string, found an integer"),
        ("step \"a\" { cmd \"  \" }", "is empty"),
        ("step \"a\" { cmd \"x\" { } }", "`cmd` takes no block"),
        (
            "step \"a\" foo=1 { cmd \"x\" }",
            "`step` has no property `foo`",
        ),
        (
            "step \"a\" { cmd \"x\"; cmd \"y\" }",
            "`cmd` may appear only once",
        ),
        ("step \"a\" { retries 101 }", "101 is outside 0..=100"),
        ("step \"a\" { resources cpus=0 }", "0 is outside 1..=4096"),
        (
            "step \"a\" { resources memory=\"2 parsecs\" }",
            "unknown unit `parsecs`",
        ),
        (
            "step \"a\" { timeout \"0s\" }",
            "duration must be greater than 0",
        ),
        (
            "step \"a\" { timeout 1.5 }",
            "expected duration, found a decimal number",
        ),
        (
            "step \"a\" { cache 1 }",
            "expected boolean, found an integer",
        ),
        ("step \"a\" { env 1 }", "`env` takes no arguments"),
        (
            "step \"a\" { env \"1X\"=\"v\" }",
            "does not match the env-name pattern",
        ),
        ("step \"a\" { env X=#null }", "found #null"),
        ("step \"a\" { matrix }", "`matrix` needs a block"),
        (
            "step \"a\" { matrix { params 1 } }",
            "`params` does not match the variable pattern",
        ),
        (
            "step \"a\" { matrix { x } }",
            "`x` needs at least 1 argument",
        ),
        ("step \"a\" { matrix { x 1 1 } }", "`1` appears twice"),
        (
            "step \"a\" { matrix { x 1 }; matrix { x 2 } }",
            "`x` may appear only once",
        ),
        ("step \"bad name\" { }", "does not match the name pattern"),
        (
            "step \"a\" {}\npipeline \"p\" { step \"a\" {} }",
            "step `a` is declared twice",
        ),
        (
            "project \"a\"\nproject \"b\"",
            "`project` may appear only once",
        ),
        (
            "pipeline \"p\" default=\"yes\"",
            "expected boolean, found a string",
        ),
        ("step \"a\" { outputs \"out/*.txt\" }", "is a glob"),
        (
            "step \"a\" { outputs \".zenbuild/x\" }",
            "is under .zenbuild/",
        ),
        (
            "step \"a\" { inputs \"../x\" }",
            "climbs out of the workspace",
        ),
        ("step \"a\" { workdir \"/abs\" }", "is absolute"),
        ("step \"a\" { inputs \".\" }", "names the workspace root"),
        ("step \"a\" { cmd \"echo {{x\" }", "`{{` is never closed"),
        (
            "step \"a\" { cmd \"echo {{a b}}\" }",
            "cannot name a matrix variable",
        ),
        ("step \"a\" { cache true }", "not valid KDL 2.0"),
    ];
    let mut missed = Vec::new();
    for (text, expected) in invalid {
        let errors = validate(&schema, text);
        if !errors.iter().any(|error| error.contains(expected)) {
            missed.push(format!(
                "{text:?}: expected an error containing {expected:?}, got {errors:?}"
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "the validator let invalid documents through:\n{}",
        missed.join("\n")
    );
}

#[test]
fn schema_reader_rejects_unknown_vocabulary() {
    let header =
        "schema \"x\" version=1 kdl=\"2.0\"\ntype \"string\" { kdl \"string\" }\ncontext \"top\"\n";
    let broken = [
        "nod \"project\" repeat=\"once\" { in \"top\" }",
        "node \"project\" repeat=\"twice\" { in \"top\" }",
        "node \"project\" repeat=\"once\" { in \"nowhere\" }",
        "node \"project\" repeat=\"once\" { in \"top\"; arg type=\"text\" }",
        "node \"project\" repeat=\"once\" { in \"top\"; arg type=\"string\" colour=\"red\" }",
    ];
    assert!(Schema::parse(header).is_ok());
    for text in broken {
        assert!(
            Schema::parse(&format!("{header}{text}\n")).is_err(),
            "the schema reader accepts {text:?}"
        );
    }
}

/// Every `Diag::new("code"` in src/ and every workspace error code is in GRAMMAR.md's
/// diagnostics table, and every code in the table exists in src/.
#[test]
fn diagnostic_codes_are_documented() {
    let mut sources = Vec::new();
    collect_rs(&Path::new(ROOT).join("src"), &mut sources);
    let all_source: String = sources.iter().map(|(_, text)| text.as_str()).collect();
    let mut emitted = BTreeSet::new();
    for (_, text) in &sources {
        for (index, _) in text.match_indices("Diag::new(") {
            let rest = text[index + "Diag::new(".len()..].trim_start();
            if let Some(literal) = rest.strip_prefix('"') {
                emitted.insert(literal[..literal.find('"').expect("closed string")].to_string());
            }
        }
        for (index, _) in text.match_indices("code(zenbuild::") {
            let rest = &text[index + "code(zenbuild::".len()..];
            emitted.insert(rest[..rest.find(')').expect("closed code(")].to_string());
        }
    }
    assert!(
        emitted.len() > 30,
        "found only {} codes in src/",
        emitted.len()
    );
    let grammar = grammar_md();
    let section = section(&grammar, "## Diagnostics");
    let documented: BTreeSet<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_string)
        .collect();
    let undocumented: Vec<_> = emitted.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "codes missing from GRAMMAR.md's diagnostics table: {undocumented:?}"
    );
    let unknown: Vec<_> = documented
        .iter()
        .filter(|code| {
            !all_source.contains(&format!("\"{code}\""))
                && !all_source.contains(&format!("zenbuild::{code})"))
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "GRAMMAR.md documents codes that src/ never emits: {unknown:?}"
    );
}

fn collect_rs(dir: &Path, found: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir)
        .expect("read src/")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let text = std::fs::read_to_string(&path).expect("read a source file");
            found.push((path, text));
        }
    }
}

/// The text from the heading `heading` to the next heading of the same level.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .lines()
        .scan(0, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        })
        .find(|(_, line)| line.trim_end() == heading)
        .map_or_else(
            || panic!("GRAMMAR.md has no heading {heading:?}"),
            |(at, _)| at,
        );
    let level = heading.split(' ').next().unwrap_or("##");
    let body = &text[start + heading.len()..];
    let end = body
        .match_indices(&format!("\n{level} "))
        .next()
        .map_or(body.len(), |(index, _)| index);
    &body[..end]
}

/// The field table of GRAMMAR.md's `graph --format json` section lists exactly the fields
/// the sweep example's JSON has.
#[test]
fn graph_json_fields_are_documented() {
    let grammar = grammar_md();
    let section = section(&grammar, "## graph --format json");
    let documented: BTreeSet<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_string)
        .collect();
    assert!(
        documented.len() > 20,
        "the field table looks empty: {documented:?}"
    );
    let run = zenbuild(
        &["-C", "examples/sweep", "graph", "--format", "json"],
        Path::new(ROOT),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("graph --format json prints JSON");
    let mut actual = BTreeSet::new();
    json_paths(&json, "", &documented, &mut actual);
    assert_eq!(
        actual, documented,
        "fields of `graph --format json` vs GRAMMAR.md's table"
    );
}

/// The field paths of `value` (`actions[].resources.cpus`), descending only into objects
/// whose fields the table documents; others (matrix, params, env) are maps of user data.
fn json_paths(
    value: &serde_json::Value,
    path: &str,
    documented: &BTreeSet<String>,
    out: &mut BTreeSet<String>,
) {
    let has_fields = |prefix: &str| documented.iter().any(|d| d.starts_with(prefix));
    match value {
        serde_json::Value::Object(map) if path.is_empty() || has_fields(&format!("{path}.")) => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                out.insert(child_path.clone());
                json_paths(child, &child_path, documented, out);
            }
        }
        serde_json::Value::Array(items) if has_fields(&format!("{path}[].")) => {
            for item in items {
                json_paths(item, &format!("{path}[]"), documented, out);
            }
        }
        _ => {}
    }
}
