//! Checking `linux.seccomp` as raw JSON, so that a name oci-spec's enums refuse comes back
//! as an error naming its field rather than serde's `unknown variant` with a line number.

use crate::error::SeccompError;
use crate::names::{known_arches, KNOWN_ACTIONS, KNOWN_FLAGS, KNOWN_OPERATORS};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::Value;

const PREFIX: &str = "linux.seccomp";

/// Checks the names in a raw `linux.seccomp` object (actions, operators, architectures,
/// flags) and returns the first unknown one with its field, e.g.
/// `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`.
///
/// A runtime that fails to parse `config.json` into oci-spec's types can run this on
/// `config["linux"]["seccomp"]` to tell the user which field is wrong.
pub fn check_json(seccomp: &Value) -> Result<(), SeccompError> {
    let obj = seccomp.as_object().ok_or_else(|| SeccompError::invalid(PREFIX, "must be an object"))?;
    let arches: Vec<&str> = known_arches().collect();
    let name = |v: &Value, field: &str, kind: &'static str, known: &[&str]| {
        let s = v.as_str().ok_or_else(|| SeccompError::invalid(field, format!("the {kind} must be a string")))?;
        if known.contains(&s) {
            Ok(())
        } else {
            Err(SeccompError::unknown(field, kind, s))
        }
    };
    let list = |key: &str| -> Result<&[Value], SeccompError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(SeccompError::invalid(format!("{PREFIX}.{key}"), "must be an array")),
        }
    };

    match obj.get("defaultAction") {
        Some(v) => name(v, &format!("{PREFIX}.defaultAction"), "action", &KNOWN_ACTIONS)?,
        None => return Err(SeccompError::invalid(format!("{PREFIX}.defaultAction"), "missing")),
    }
    for (i, v) in list("architectures")?.iter().enumerate() {
        name(v, &format!("{PREFIX}.architectures[{i}]"), "architecture", &arches)?;
    }
    for (i, v) in list("flags")?.iter().enumerate() {
        name(v, &format!("{PREFIX}.flags[{i}]"), "flag", &KNOWN_FLAGS)?;
    }
    for (i, sc) in list("syscalls")?.iter().enumerate() {
        let field = format!("{PREFIX}.syscalls[{i}]");
        let sc = sc.as_object().ok_or_else(|| SeccompError::invalid(&field, "must be an object"))?;
        match sc.get("action") {
            Some(v) => name(v, &format!("{field}.action"), "action", &KNOWN_ACTIONS)?,
            None => return Err(SeccompError::invalid(format!("{field}.action"), "missing")),
        }
        let args = match sc.get("args") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(a)) => a,
            Some(_) => return Err(SeccompError::invalid(format!("{field}.args"), "must be an array")),
        };
        for (j, arg) in args.iter().enumerate() {
            let arg_field = format!("{field}.args[{j}]");
            let arg = arg.as_object().ok_or_else(|| SeccompError::invalid(&arg_field, "must be an object"))?;
            match arg.get("op") {
                Some(v) => name(v, &format!("{arg_field}.op"), "operator", &KNOWN_OPERATORS)?,
                None => return Err(SeccompError::invalid(format!("{arg_field}.op"), "missing")),
            }
        }
    }
    Ok(())
}

/// Parses a raw `linux.seccomp` object: [`check_json`] first, so unknown names are
/// reported with their field, then oci-spec's deserialization.
pub fn parse_json(seccomp: &Value) -> Result<LinuxSeccomp, SeccompError> {
    check_json(seccomp)?;
    serde_json::from_value(seccomp.clone()).map_err(|e| SeccompError::invalid(PREFIX, e.to_string()))
}
