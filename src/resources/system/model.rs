//! The `datomic_system` attributes, named once, and its typed model.

use crate::resources::model::{model, Block, Bool, Int, List, Map, Set, Str, Timeouts};

/// The attribute names, used by the schema, the model and the plan logic.
pub mod attr {
    pub const ID: &str = "id";
    pub const NAME: &str = "name";
    pub const TOPOLOGY: &str = "topology";
    pub const INSTANCE_TYPE: &str = "instance_type";
    pub const NODE_COUNT: &str = "node_count";
    pub const APPLICATION_NAME: &str = "application_name";
    pub const NODE_POLICY_ARN: &str = "node_policy_arn";
    pub const IMAGE_ID: &str = "image_id";
    pub const RETAIN_STORAGE: &str = "retain_storage";
    pub const CLIENT_CIDR_BLOCKS: &str = "client_cidr_blocks";
    pub const CLIENT_SECURITY_GROUP_IDS: &str = "client_security_group_ids";
    pub const TAGS: &str = "tags";
    pub const TAGS_ALL: &str = "tags_all";
    pub const VPC_ID: &str = "vpc_id";
    pub const SUBNET_IDS: &str = "subnet_ids";
    pub const NETWORK_MANAGED: &str = "network_managed";
    pub const SECURITY_GROUP_ID: &str = "security_group_id";
    pub const BUCKET_NAME: &str = "bucket_name";
    pub const TABLE_NAME: &str = "table_name";
    pub const KMS_KEY_ARN: &str = "kms_key_arn";
    pub const FILE_SYSTEM_ID: &str = "file_system_id";
    pub const CATALOG_TABLE_NAME: &str = "catalog_table_name";
    pub const LOG_GROUP_NAME: &str = "log_group_name";
    pub const NODE_ROLE_NAME: &str = "node_role_name";
    pub const LAUNCH_TEMPLATE_ID: &str = "launch_template_id";
    pub const AUTOSCALING_GROUP_NAME: &str = "autoscaling_group_name";
    pub const ARN: &str = "arn";
    pub const ENDPOINT: &str = "endpoint";
    pub const LOAD_BALANCER_DNS_NAME: &str = "load_balancer_dns_name";
    pub const CLIENT_CONFIG: &str = "client_config";
    pub const TIMEOUTS: &str = "timeouts";
}

model! {
    /// A system's configuration, plan or state.
    pub struct SystemModel {
        id: Str = attr::ID,
        name: Str = attr::NAME,
        topology: Str = attr::TOPOLOGY,
        instance_type: Str = attr::INSTANCE_TYPE,
        node_count: Int = attr::NODE_COUNT,
        application_name: Str = attr::APPLICATION_NAME,
        node_policy_arn: Str = attr::NODE_POLICY_ARN,
        image_id: Str = attr::IMAGE_ID,
        retain_storage: Bool = attr::RETAIN_STORAGE,
        client_cidr_blocks: Set = attr::CLIENT_CIDR_BLOCKS,
        client_security_group_ids: Set = attr::CLIENT_SECURITY_GROUP_IDS,
        tags: Map = attr::TAGS,
        tags_all: Map = attr::TAGS_ALL,
        vpc_id: Str = attr::VPC_ID,
        subnet_ids: List = attr::SUBNET_IDS,
        network_managed: Bool = attr::NETWORK_MANAGED,
        security_group_id: Str = attr::SECURITY_GROUP_ID,
        bucket_name: Str = attr::BUCKET_NAME,
        table_name: Str = attr::TABLE_NAME,
        kms_key_arn: Str = attr::KMS_KEY_ARN,
        file_system_id: Str = attr::FILE_SYSTEM_ID,
        catalog_table_name: Str = attr::CATALOG_TABLE_NAME,
        log_group_name: Str = attr::LOG_GROUP_NAME,
        node_role_name: Str = attr::NODE_ROLE_NAME,
        launch_template_id: Str = attr::LAUNCH_TEMPLATE_ID,
        autoscaling_group_name: Str = attr::AUTOSCALING_GROUP_NAME,
        arn: Str = attr::ARN,
        endpoint: Str = attr::ENDPOINT,
        load_balancer_dns_name: Str = attr::LOAD_BALANCER_DNS_NAME,
        client_config: Map = attr::CLIENT_CONFIG,
        timeouts: Block<Timeouts> = attr::TIMEOUTS,
    }
}

impl SystemModel {
    /// The system's name (empty when unknown).
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_default()
    }

    /// Whether destroying the system keeps its storage (the default).
    pub fn retains_storage(&self) -> bool {
        self.retain_storage.unwrap_or(true)
    }

    /// The application its primary group runs: by default, the system's name.
    pub fn application(&self) -> String {
        self.application_name.clone().unwrap_or_else(|| self.name())
    }
}
