//! terraform-provider-datomic: Datomic Cloud topologies as Terraform resources.
//!
//! - [`plugin`]: a small Terraform plugin-protocol 6 SDK (knows nothing about Datomic).
//! - [`rules`]: the Datomic rules, as data and pure functions (knows nothing about gRPC or AWS).
//! - [`resources`]: the resources, gluing the two with [`aws`].
//! - [`provider`]: the `provider "datomic"` block and its AWS clients.

pub mod aws;
pub mod docs;
pub mod plugin;
pub mod provider;
pub mod resources;
pub mod rules;
