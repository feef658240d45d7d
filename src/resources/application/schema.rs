//! The schema of `datomic_application`: its attributes' names, the model
//! that reads and writes them, and what each one says.

use super::super::model::{model, timeouts_attr, Block as BlockOf, Int, List, Map, Str, Timeouts};
use crate::plugin::schema::timeouts_block;
use crate::plugin::{Attribute, Block, Nesting, Schema, Type};
use crate::rules::PRIMARY_GROUP;

/// The attribute names, used by the schema, the model and the plan logic.
pub mod attr {
    pub const ID: &str = "id";
    pub const NAME: &str = "name";
    pub const SYSTEM: &str = "system";
    pub const COMPUTE_GROUP: &str = "compute_group";
    pub const REVISION: &str = "revision";
    pub const PACKAGE: &str = crate::rules::PACKAGE;
    pub const PACKAGE_HASH: &str = crate::rules::PACKAGE_HASH;
    pub const TRANSACTION_FUNCTIONS: &str = "transaction_functions";
    pub const IAM_POLICY: &str = "iam_policy";
    pub const LAUNCH_TEMPLATE_VERSION: &str = "launch_template_version";
    pub const ARN: &str = "arn";
    pub const DEPLOYMENT_ID: &str = "deployment_id";
    pub const SECRET_PARAMETERS_WO: &str = "secret_parameters_wo";
    pub const SECRET_PARAMETERS_WO_VERSION: &str = "secret_parameters_wo_version";
    pub const TIMEOUTS: &str = "timeouts";
}

model! {
    /// An application's configuration, plan or state.
    pub struct ApplicationModel {
        id: Str = attr::ID,
        name: Str = attr::NAME,
        system: Str = attr::SYSTEM,
        compute_group: Str = attr::COMPUTE_GROUP,
        revision: Str = attr::REVISION,
        package: Str = attr::PACKAGE,
        package_hash: Str = attr::PACKAGE_HASH,
        transaction_functions: List = attr::TRANSACTION_FUNCTIONS,
        iam_policy: Str = attr::IAM_POLICY,
        launch_template_version: Int = attr::LAUNCH_TEMPLATE_VERSION,
        arn: Str = attr::ARN,
        deployment_id: Str = attr::DEPLOYMENT_ID,
        secret_parameters_wo: Map = attr::SECRET_PARAMETERS_WO,
        secret_parameters_wo_version: Int = attr::SECRET_PARAMETERS_WO_VERSION,
        timeouts: BlockOf<Timeouts> = attr::TIMEOUTS,
    }
}

impl ApplicationModel {
    /// The compute group it deploys to: the primary one when unset.
    pub(super) fn group(&self) -> String {
        self.compute_group
            .clone()
            .unwrap_or_else(|| PRIMARY_GROUP.to_string())
    }
}

pub(super) fn schema() -> Schema {
    Schema::new(
        0,
        Block::new("A deployment of one application revision to one compute group: the system's primary compute group, or a query group whose `application_name` equals this application's `name`. Each compute group runs exactly one application. Deployed as Datomic deploys ions: push the revision with Datomic's tooling (`clojure -A:ion-dev '{:op :push}'`), which puts it in the region's code bucket (tagged `datomic:code`, `datomic-code-<account>-<region>`, made by the provider when missing and never deleted) under `datomic/apps/<name>/<revision>.zip`; the provider then deploys it with CodeDeploy to the group's deployment group (named like the group's Auto Scaling group, `<system>--<group>`, in the CodeDeploy application named `name`, tied to the Auto Scaling group so that nodes launched later get the running revision), in place, one node at a time (`CodeDeployDefault.OneAtATime`), rolled back automatically when it fails. No node is replaced. The deployment group, and a CodeDeploy service role `<system>--<group>-deploy`, are made by this resource (the CodeDeploy application is named after it) and deleted on destroy; the CodeDeploy application is deleted only when the provider made it and no deployment group is left in it.")
            .attr(Attribute::computed(attr::ID, Type::String, "`<system>/<group>/<name>`, `primary` being the primary compute group.").use_state_for_unknown())
            .attr(Attribute::required(attr::NAME, Type::String, "The application's name. It must equal the target group's application name.").requires_replace())
            .attr(Attribute::required(attr::SYSTEM, Type::String, "Name of the system, usually `datomic_system.x.name`.").requires_replace())
            .attr(Attribute::optional(attr::COMPUTE_GROUP, Type::String, "Name of the query group to deploy to, usually `datomic_query_group.x.name`. Unset: the system's primary compute group.").requires_replace())
            .attr(Attribute::required(attr::REVISION, Type::String, "The revision to deploy: the git sha or `uname` ion push gave it, whose zip is at `datomic/apps/<name>/<revision>.zip` in the region's code bucket (a revision not there is refused, at plan when the bucket exists, else at apply), unless `package` uploads it. Changing it is one CodeDeploy deployment, in place; when it fails, the error says CodeDeploy's reason and failed lifecycle event, and the state keeps the revision the group runs (the previous one, after CodeDeploy's automatic rollback)."))
            .attr(Attribute::optional(attr::PACKAGE, Type::String, "Path of a local zip of the revision (what ion push uploads: the ion's code and an `appspec.yml`), for a user without Datomic's ion tooling. The apply uploads it to the code bucket at `datomic/apps/<name>/<revision>.zip` before deploying, unless that key holds the same content already; other content there is refused (a revision is immutable, as ion push makes it: give a new package a new `revision`), and the provider never overwrites a revision. The file is read at plan (to compute `package_hash`) and again at apply (a file changed in between is refused). Not read back from AWS: an import leaves it empty, as `aws_lambda_function.filename`, and the next plan sets it without uploading anything when the bucket holds the same content. The revision stays in the code bucket on destroy, as ion push's do."))
            .attr(Attribute::optional_computed(attr::PACKAGE_HASH, Type::String, "SHA-256 of `package`, base64, as `filebase64sha256(\"app.zip\")` gives. Computed at plan from the file when unset; when set, it must be the file's. S3 checks the uploaded bytes against it. When the file's content changes, the plan shows this attribute change: the apply refuses it unless `revision` changes too (a revision is immutable)."))
            .attr(Attribute::optional(attr::TRANSACTION_FUNCTIONS, Type::list(Type::String), "Fully qualified names (`namespace/name`) of the transaction functions the application provides. Only the primary compute group runs transaction functions."))
            .attr(Attribute::optional(attr::IAM_POLICY, Type::String, "An IAM policy document (JSON) with the application's own permissions, put inline on the group's node role. Checked at plan time, so that the nodes cannot reach past it: an `Allow` statement may not use `NotAction` or `NotResource`, grant `*` or `*:*` actions on any resource, grant IAM writes (IAM actions other than `iam:Get*`, `iam:List*`, `iam:Generate*` and `iam:Simulate*`; wildcards that can match a write count as writes) or grant `iam:PassRole` on every role (`*`, `arn:aws:iam::<account>:role/*`; name explicit role ARNs or a path instead). Actions match case-insensitively, as IAM's do; `Deny` statements are not limited."))
            .attr(Attribute::computed(attr::LAUNCH_TEMPLATE_VERSION, Type::Number, "The group's launch template version. It carries the application's transaction functions and where its secret parameters are, not its code (CodeDeploy delivers the revision): it changes only when those do.").use_state_for_unknown())
            .attr(Attribute::computed(attr::ARN, Type::String, "ARN of the group's CodeDeploy deployment group, `arn:aws:codedeploy:<region>:<account>:deploymentgroup:<name>/<system>--<group>`.").use_state_for_unknown())
            .attr(Attribute::computed(attr::DEPLOYMENT_ID, Type::String, "ID of the CodeDeploy deployment that put the running revision on the group (`d-...`).").use_state_for_unknown())
            .attr(Attribute::optional(attr::SECRET_PARAMETERS_WO, Type::map(Type::String), "Secret settings of the application (passwords, keys): names to values, stored by the provider as SSM Parameter Store `SecureString` parameters `/datomic-shared/<system>/<group>/<name>/<NAME>` (`<group>` is `primary` for the primary compute group), where Datomic ions read parameters (`ion/get-params`). The nodes are told only that path, and the node role may read (and decrypt, through SSM only) exactly the parameters under it. The values never reach the state, the plan or the launch template. They are written when the application is created and whenever `secret_parameters_wo_version` changes (a changed value alone is not seen); secrets removed from the map are deleted then; all are deleted on destroy. Read and import cannot know the values: parameters changed or deleted outside Terraform are not drift (change the version to write them again). A parameter at that path that does not carry this application's identity tags is never overwritten or deleted: it is an error. Names: 1-128 letters, digits, `_`, `.` or `-`; values: 1-4096 characters.").sensitive().write_only())
            .attr(secrets_version_attr())
            .block(attr::TIMEOUTS, Nesting::Single, timeouts_block(&[timeouts_attr::CREATE, timeouts_attr::UPDATE, timeouts_attr::DELETE], "30m")),
    )
}

/// The framework's `<name>_version` companion, saying what a change does here.
fn secrets_version_attr() -> Attribute {
    let mut a = Attribute::write_only_version(
        attr::SECRET_PARAMETERS_WO_VERSION,
        attr::SECRET_PARAMETERS_WO,
    );
    a.description.push_str(" A change also replaces the group's nodes one at a time, so that they read the new values at start.");
    a
}
