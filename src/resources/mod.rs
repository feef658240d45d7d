//! The resources, data sources and functions of the provider: each glues the
//! rules (`crate::rules`) to AWS (`crate::aws`) through the plugin traits.

pub mod application;
pub mod common;
pub mod compute;
pub mod node;
pub mod query_group;
pub mod storage;
pub mod system;

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

pub fn data_sources() -> Vec<Arc<dyn DataSource<Clients>>> {
    Vec::new()
}

pub fn functions() -> Vec<Arc<dyn Function>> {
    Vec::new()
}
