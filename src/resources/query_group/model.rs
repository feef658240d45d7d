//! The `datomic_query_group` attributes, named once, and its typed model.

use crate::resources::model::{model, Block, Int, Map, Num, Str, Timeouts};

/// The attribute names, used by the schema, the model and the plan logic.
pub mod attr {
    pub const ID: &str = "id";
    pub const SYSTEM: &str = "system";
    pub const NAME: &str = "name";
    pub const APPLICATION_NAME: &str = "application_name";
    pub const NODE_POLICY_ARN: &str = "node_policy_arn";
    pub const INSTANCE_TYPE: &str = "instance_type";
    pub const MIN_SIZE: &str = "min_size";
    pub const MAX_SIZE: &str = "max_size";
    pub const DESIRED_CAPACITY: &str = "desired_capacity";
    pub const PARAMETERS: &str = "parameters";
    pub const TAGS: &str = "tags";
    pub const TAGS_ALL: &str = "tags_all";
    pub const AUTOSCALING_GROUP_NAME: &str = "autoscaling_group_name";
    pub const ARN: &str = "arn";
    pub const ENDPOINT: &str = "endpoint";
    pub const LOAD_BALANCER_DNS_NAME: &str = "load_balancer_dns_name";
    pub const LAUNCH_TEMPLATE_ID: &str = "launch_template_id";
    pub const NODE_ROLE_NAME: &str = "node_role_name";
    pub const AUTOSCALING: &str = "autoscaling";
    pub const TIMEOUTS: &str = "timeouts";

    /// The attributes of the `autoscaling` block.
    pub mod autoscaling {
        pub const TARGET_CPU_UTILIZATION: &str = "target_cpu_utilization";
    }
}

model! {
    /// The `autoscaling` block.
    pub struct Autoscaling {
        target_cpu_utilization: Num = attr::autoscaling::TARGET_CPU_UTILIZATION,
    }
}

model! {
    /// A query group's configuration, plan or state.
    pub struct QueryGroupModel {
        id: Str = attr::ID,
        system: Str = attr::SYSTEM,
        name: Str = attr::NAME,
        application_name: Str = attr::APPLICATION_NAME,
        node_policy_arn: Str = attr::NODE_POLICY_ARN,
        instance_type: Str = attr::INSTANCE_TYPE,
        min_size: Int = attr::MIN_SIZE,
        max_size: Int = attr::MAX_SIZE,
        desired_capacity: Int = attr::DESIRED_CAPACITY,
        parameters: Map = attr::PARAMETERS,
        tags: Map = attr::TAGS,
        tags_all: Map = attr::TAGS_ALL,
        autoscaling_group_name: Str = attr::AUTOSCALING_GROUP_NAME,
        arn: Str = attr::ARN,
        endpoint: Str = attr::ENDPOINT,
        load_balancer_dns_name: Str = attr::LOAD_BALANCER_DNS_NAME,
        launch_template_id: Str = attr::LAUNCH_TEMPLATE_ID,
        node_role_name: Str = attr::NODE_ROLE_NAME,
        autoscaling: Block<Autoscaling> = attr::AUTOSCALING,
        timeouts: Block<Timeouts> = attr::TIMEOUTS,
    }
}

impl QueryGroupModel {
    /// The system's name (empty when unknown).
    pub fn system(&self) -> String {
        self.system.clone().unwrap_or_default()
    }

    /// The group's name (empty when unknown).
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_default()
    }

    /// The application the group runs: by default, the group's name.
    pub fn application(&self) -> String {
        self.application_name.clone().unwrap_or_else(|| self.name())
    }

    /// The `autoscaling` block's target, when the block is set.
    pub fn cpu_target(&self) -> Option<f64> {
        self.autoscaling
            .as_ref()?
            .target_cpu_utilization
            .as_ref()?
            .as_f64()
    }
}
