//! The resources, data sources and functions of the provider: each glues the
//! rules (`crate::rules`) to AWS (`crate::aws`) through the plugin traits.

pub mod application;
pub mod common;
pub mod compute;
pub mod data_sources;
pub mod deploy;
pub mod error;
pub mod functions;
pub mod journal;
pub mod lifecycle;
pub mod model;
pub mod node;
pub mod ownership;
pub mod query_group;
pub mod repair;
pub mod secrets;
pub mod storage;
pub mod system;
#[cfg(test)]
pub mod testing;

use std::sync::Arc;

use crate::aws::Clients;
use crate::plugin::{DataSource, Function, Resource};

pub fn all() -> Vec<Arc<dyn Resource<Clients>>> {
    vec![
        Arc::new(system::SystemResource::new()),
        Arc::new(query_group::QueryGroupResource::new()),
        Arc::new(application::ApplicationResource::new()),
    ]
}

/// The data sources, in the order the docs list them.
pub fn data_sources() -> Vec<Arc<dyn DataSource<Clients>>> {
    vec![
        Arc::new(data_sources::SystemDataSource::new()),
        Arc::new(data_sources::QueryGroupDataSource::new()),
    ]
}

/// The provider-defined functions, in the order the docs list them.
pub fn functions() -> Vec<Arc<dyn Function>> {
    vec![
        Arc::new(functions::InstanceTypes::new()),
        Arc::new(functions::DefaultInstanceType::new()),
        Arc::new(functions::ValidSystemName::new()),
    ]
}
