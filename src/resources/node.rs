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
}
