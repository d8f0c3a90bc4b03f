//! What a JSON document is, told by its top-level keys: the one place that recognises the
//! shapes kmsdoctor reads (and those it is often given by mistake), so that every reader
//! agrees on them.

use serde_json::{Map, Value};

use crate::analysis::policy::embedded_policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A policy document (`Statement`).
    Policy,
    /// `aws kms get-key-policy` output (`Policy`, no `Statement`).
    GetKeyPolicyOutput,
    /// `aws cloudtrail lookup-events` output (`Events`).
    LookupEvents,
    /// A trail log file (`Records`).
    TrailLog,
    /// An evidence bundle `kmsdoctor collect` wrote.
    Bundle,
    /// `terraform show -json` output (`resource_changes`, `planned_values`).
    TerraformPlan,
    /// A CloudFormation or CDK template (`Resources` object, or `AWSTemplateFormatVersion`).
    CloudFormation,
    Unknown,
}

pub fn of(v: &Value) -> Shape {
    let Some(obj) = v.as_object() else {
        return Shape::Unknown;
    };
    if obj.contains_key("Statement") {
        Shape::Policy
    } else if embedded_policy(v).is_some() {
        Shape::GetKeyPolicyOutput
    } else if obj.contains_key("resource_changes") || obj.contains_key("planned_values") {
        Shape::TerraformPlan
    } else if is_template(obj) {
        Shape::CloudFormation
    } else if obj.contains_key("Events") {
        Shape::LookupEvents
    } else if obj.contains_key("Records") {
        Shape::TrailLog
    } else if obj.get("kind").and_then(Value::as_str) == Some(super::BUNDLE_KIND) {
        Shape::Bundle
    } else {
        Shape::Unknown
    }
}

fn is_template(obj: &Map<String, Value>) -> bool {
    obj.get("Resources").is_some_and(Value::is_object)
        || obj.contains_key("AWSTemplateFormatVersion")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_by_their_keys() {
        let cases = [
            (json!({"Statement": []}), Shape::Policy),
            (
                json!({"Policy": "{}", "PolicyName": "default"}),
                Shape::GetKeyPolicyOutput,
            ),
            (json!({"Events": []}), Shape::LookupEvents),
            (json!({"Records": []}), Shape::TrailLog),
            (json!({"kind": "kmsdoctor-evidence-bundle"}), Shape::Bundle),
            (
                json!({"format_version": "1.2", "resource_changes": []}),
                Shape::TerraformPlan,
            ),
            (json!({"Resources": {}}), Shape::CloudFormation),
            (
                json!({"AWSTemplateFormatVersion": "2010-09-09"}),
                Shape::CloudFormation,
            ),
            (json!({"Resources": []}), Shape::Unknown),
            (json!({}), Shape::Unknown),
            (json!([1]), Shape::Unknown),
        ];
        for (v, shape) in cases {
            assert_eq!(of(&v), shape, "{v}");
        }
    }
}
