//! What a compute group's nodes are told about themselves: the system, the
//! group, its application, the group's parameters (its environment) and the
//! deployed revision. It travels in the launch template's user data and is
//! read back from there, so the launch template is the source of truth.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    pub system: String,
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<String>,
    pub application: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transaction_functions: Vec<String>,
    pub bucket: String,
    pub table: String,
    /// Where the application's secret parameters are in SSM Parameter Store
    /// (never the values); only when it has some, so that launch templates
    /// made before secrets existed read back unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_parameters_path: Option<String>,
    /// The application's `secret_parameters_wo_version`: a change makes a
    /// new launch template version, so the nodes are replaced and read the
    /// new values, and read gets it back from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_parameters_version: Option<i64>,
    /// The system's KMS key, which the launch template encrypts the nodes'
    /// root volumes with. Here too, so that a launch template without it
    /// (made by an earlier build) reads back as another configuration: the
    /// next apply writes a new version and rolls the nodes, as for any
    /// change of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_key_arn: Option<String>,
}

const MARK: &str = "DATOMIC_NODE_CONFIG";

impl NodeConfig {
    /// User data (base64, as EC2 wants it): a shell script that writes the
    /// configuration where the node's Datomic process reads it.
    pub fn to_user_data(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
        let script = format!(
            "#!/bin/sh\n# Datomic node configuration, written by terraform-provider-datomic.\nmkdir -p /etc/datomic\ncat > /etc/datomic/node.json <<'{MARK}'\n{json}\n{MARK}\n"
        );
        base64::engine::general_purpose::STANDARD.encode(script)
    }

    pub fn from_user_data(b64: &str) -> Option<NodeConfig> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let line = text.lines().find(|l| l.trim_start().starts_with('{'))?;
        serde_json::from_str(line).ok()
    }

    /// Environment variables the node sees: the group's parameters.
    pub fn environment(&self) -> &BTreeMap<String, String> {
        &self.parameters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_round_trip() {
        let mut c = NodeConfig {
            system: "prod".into(),
            group: "dev".into(),
            application: "web".into(),
            bucket: "b".into(),
            table: "t".into(),
            ..Default::default()
        };
        c.parameters.insert("DATOMIC_DB".into(), "dev-db".into());
        c.revision = Some("r53".into());
        let ud = c.to_user_data();
        assert_eq!(NodeConfig::from_user_data(&ud), Some(c.clone()));
        assert_eq!(
            c.environment().get("DATOMIC_DB").map(String::as_str),
            Some("dev-db")
        );
        assert_eq!(NodeConfig::from_user_data("not base64!"), None);
    }

    #[test]
    fn the_secrets_path_only_when_there_are_secrets() {
        let mut c = NodeConfig {
            system: "prod".into(),
            group: "primary".into(),
            application: "tx".into(),
            ..Default::default()
        };
        // Launch templates written before secrets existed read back as they were.
        let before = c.to_user_data();
        let json = serde_json::to_string(&c).unwrap_or_default();
        assert!(!json.contains("secret"), "{json}");
        assert_eq!(NodeConfig::from_user_data(&before), Some(c.clone()));
        c.secret_parameters_path = Some("/datomic-shared/prod/primary/tx/".into());
        c.secret_parameters_version = Some(2);
        assert_eq!(
            NodeConfig::from_user_data(&c.to_user_data()),
            Some(c.clone())
        );
        assert_ne!(c.to_user_data(), before);
    }
}
