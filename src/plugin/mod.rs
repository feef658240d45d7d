//! A small, reusable Terraform provider SDK over plugin protocol 6: the
//! handshake and mTLS, the gRPC services, the value codec, schemas, plans,
//! diagnostics and logs. Nothing here knows about Datomic or AWS.

pub mod convert;
pub mod diag;
pub mod handshake;
pub mod log;
pub mod plan;
pub mod resource;
pub mod schema;
pub mod serve;
pub mod server;
pub mod tls;
pub mod upgrade;
pub mod value;
pub mod write_only;

/// Code generated from `proto/` by build.rs.
pub mod proto {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
    pub mod health {
        tonic::include_proto!("grpc.health.v1");
    }
}

pub use diag::{AttrPath, Diagnostics, PathStepExt};
pub use resource::{
    Ctx, DataSource, Function, FunctionError, FunctionSignature, Plan, Provider, Resource,
};
pub use schema::{Attribute, Block, Nesting, Schema};
pub use upgrade::StateUpgrader;
pub use value::{Type, Value};
