"""CodeDeploy in the local emulator (moto), as far as ion deploys need it.

moto stores deployments but leaves them `Created` forever; here they advance
as AWS's do, on reads: the first read after CreateDeployment sees
`InProgress`, reads after DATOMIC_EMULATOR_DEPLOY_SECONDS (default 1 s) see
the end: `Succeeded`, or `Failed` when

- the revision's S3 object does not exist (errorInformation REVISION_MISSING,
  as AWS fails such a deployment at deploy time), or
- the revision's S3 key contains `emulator-fail` (a test's way to make a
  deployment fail: every node's ValidateService event fails with
  ScriptFailed, errorInformation HEALTH_CONSTRAINTS).

A failed deployment of a group with automatic rollback on DEPLOYMENT_FAILURE
and an earlier successful deployment is rolled back as AWS does: a new
deployment (creator `codeDeployRollback`) of the last successful revision,
named in the failed one's rollbackInfo; it succeeds at once.
GetDeploymentGroup reports lastSuccessfulDeployment / lastAttemptedDeployment
and targetRevision. Added calls: DeleteDeploymentGroup, DeleteApplication,
UpdateDeploymentGroup, ListDeploymentTargets, BatchGetDeploymentTargets (one
instance target per node of the group's Auto Scaling groups). GetDeploymentGroup
answers autoScalingGroups as AWS does ({name} structures, where moto gives names).
"""

from __future__ import annotations

import os
from typing import Any

from moto.codedeploy import models, responses
from moto.codedeploy.exceptions import (
    ApplicationDoesNotExistException,
    DeploymentGroupDoesNotExistException,
)
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

FAIL_MARKER = "emulator-fail"
_DONE = ("Succeeded", "Failed", "Stopped")


def _seconds() -> float:
    try:
        return float(os.environ.get("DATOMIC_EMULATOR_DEPLOY_SECONDS", "1.0"))
    except ValueError:
        return 1.0


def _group_instances(backend: Any, group: Any) -> list[str]:
    try:
        from moto.autoscaling.models import autoscaling_backends

        asb = autoscaling_backends[backend.account_id][backend.region_name]
        out = []
        for name in group.auto_scaling_groups:
            asg = asb.autoscaling_groups.get(name if isinstance(name, str) else name.get("name", ""))
            if asg is not None:
                out.extend(s.instance.id for s in asg.instance_states)
        return out
    except Exception:  # noqa: BLE001 - no nodes known: a deployment to none
        return []


def _object_exists(backend: Any, bucket: str, key: str) -> bool:
    try:
        from moto.s3.models import s3_backends

        return s3_backends[backend.account_id][backend.partition].get_object(bucket, key) is not None
    except Exception:  # noqa: BLE001 - no bucket, no key
        return False


def _location(d: Any) -> tuple[str, str]:
    s3 = (d.revision or {}).get("s3Location") or {}
    return s3.get("bucket", ""), s3.get("key", "")


def _events(status: str, failed: bool) -> list[dict]:
    names = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
             "ApplicationStart", "ValidateService"]
    now = utcnow()
    out = []
    for n in names:
        e: dict[str, Any] = {"lifecycleEventName": n, "startTime": now, "endTime": now,
                             "status": "Succeeded" if status == "Succeeded" else "Pending"}
        if failed and n == "ValidateService":
            e["status"] = "Failed"
            e["diagnostics"] = {
                "errorCode": "ScriptFailed", "scriptName": "scripts/validate-service.sh",
                "message": "Script at specified location: scripts/validate-service.sh run as user root failed with exit code 1",
                "logTail": "[stdout]the application did not answer its health check\n",
            }
        elif failed and names.index(n) < names.index("ValidateService"):
            e["status"] = "Succeeded"
        out.append(e)
    return out


def _advance(d: Any) -> None:
    backend = getattr(d, "_backend", None)
    if backend is None or d.status in _DONE:
        return
    now = utcnow()
    if d.status == "Created":
        d.status = "InProgress"
        d.start_time = now
        return
    if (now - d.create_time).total_seconds() < _seconds():
        return
    bucket, key = _location(d)
    group = d.deployment_group
    nodes = getattr(d, "_nodes", [])
    d.complete_time = now
    group._last_attempted = d
    if not _object_exists(backend, bucket, key):
        _fail(backend, d, "REVISION_MISSING",
              f"The revision could not be downloaded: s3://{bucket}/{key} does not exist "
              "(The specified key does not exist.)", nodes, events=False)
        return
    if FAIL_MARKER in key:
        _fail(backend, d, "HEALTH_CONSTRAINTS",
              "The overall deployment failed because too many individual instances failed "
              "deployment, too few healthy instances are available for deployment, or some "
              "instances in your deployment group are experiencing problems.", nodes, events=True)
        return
    d.status = "Succeeded"
    d._targets = {n: _events("Succeeded", False) for n in nodes}
    d.deployment_overview["Succeeded"] = len(nodes)
    group._last_successful = d
    group._target_revision = d.revision


def _fail(backend: Any, d: Any, code: str, message: str, nodes: list[str], events: bool) -> None:
    group = d.deployment_group
    d.status = "Failed"
    d._error = {"code": code, "message": message}
    d._targets = {n: _events("Failed", events) for n in nodes}
    d.deployment_overview["Failed"] = len(nodes)
    rollback = group.auto_rollback_configuration or {}
    previous = getattr(group, "_last_successful", None)
    if rollback.get("enabled") and "DEPLOYMENT_FAILURE" in (rollback.get("events") or []) and previous:
        rid = backend.create_deployment(d.application_name, d.deployment_group_name, previous.revision)
        r = backend.deployments[rid]
        r.creator = "codeDeployRollback"
        r.status = "Succeeded"
        r.start_time = r.complete_time = utcnow()
        r._targets = {n: _events("Succeeded", False) for n in nodes}
        r._rolled_back_from = d.deployment_id
        d._rollback = {"rollbackDeploymentId": rid,
                       "rollbackMessage": f"Deployment {d.deployment_id} failed: rolled back to the last successful revision."}
        group._last_successful = r
        group._target_revision = previous.revision
        group._last_attempted = r


def _last(d: Any) -> dict:
    if d is None:
        return {}
    return {"deploymentId": d.deployment_id, "status": d.status,
            "endTime": d.complete_time, "createTime": d.create_time}


def install() -> None:
    original_info = responses._deployment_info
    original_group_info = responses._deployment_group_info
    original_create = models.CodeDeployBackend.create_deployment

    def deployment_info(d: Any) -> dict[str, Any]:
        _advance(d)
        out = original_info(d)
        out["errorInformation"] = getattr(d, "_error", {})
        out["rollbackInfo"] = getattr(d, "_rollback", {})
        if getattr(d, "_rolled_back_from", None):
            out["rollbackInfo"] = {"rollbackTriggeringDeploymentId": d._rolled_back_from}
        return out

    def group_info(g: Any) -> dict[str, Any]:
        for d in list(getattr(g, "_deployments", [])):
            _advance(d)
        out = original_group_info(g)
        # moto answers the names it was given; AWS answers {name, hook} structures.
        out["autoScalingGroups"] = [{"name": a} if isinstance(a, str) else a for a in g.auto_scaling_groups]
        out["lastSuccessfulDeployment"] = _last(getattr(g, "_last_successful", None))
        out["lastAttemptedDeployment"] = _last(getattr(g, "_last_attempted", None))
        out["targetRevision"] = getattr(g, "_target_revision", {}) or {}
        return out

    def create_deployment(self: Any, application_name: str, deployment_group_name: str, revision: Any,
                          *args: Any, **kwargs: Any) -> str:
        did = original_create(self, application_name, deployment_group_name, revision, *args, **kwargs)
        d = self.deployments[did]
        d._backend = self
        d._nodes = _group_instances(self, d.deployment_group)
        d.deployment_overview["Pending"] = len(d._nodes)
        g = d.deployment_group
        g._deployments = [*getattr(g, "_deployments", []), d]
        return did

    responses._deployment_info = deployment_info
    responses._deployment_group_info = group_info
    models.CodeDeployBackend.create_deployment = create_deployment

    def _group(backend: Any, app: str, name: str) -> Any:
        if app not in backend.applications:
            raise ApplicationDoesNotExistException(
                f"The application {app} does not exist with the user or AWS account.")
        g = backend.deployment_groups.get(app, {}).get(name)
        if g is None:
            raise DeploymentGroupDoesNotExistException(
                f"The deployment group {name} does not exist with the user or AWS account.")
        return g

    def delete_deployment_group(self: Any) -> ActionResult:
        b = self.codedeploy_backend
        app, name = self._get_param("applicationName"), self._get_param("deploymentGroupName")
        if app not in b.applications:
            raise ApplicationDoesNotExistException(
                f"The application {app} does not exist with the user or AWS account.")
        if b.deployment_groups.get(app, {}).pop(name, None) is not None:
            b.tagger.delete_all_tags_for_resource(b._deployment_group_arn(app, name))
        return ActionResult({"hooksNotCleanedUp": []})

    def delete_application(self: Any) -> ActionResult:
        b = self.codedeploy_backend
        app = self._get_param("applicationName")
        b.applications.pop(app, None)
        b.deployment_groups.pop(app, None)
        b.tagger.delete_all_tags_for_resource(b._application_arn(app))
        return ActionResult({})

    def update_deployment_group(self: Any) -> ActionResult:
        b = self.codedeploy_backend
        g = _group(b, self._get_param("applicationName"), self._get_param("currentDeploymentGroupName"))
        for param, attr in (("serviceRoleArn", "service_role_arn"),
                            ("deploymentConfigName", "deployment_config_name"),
                            ("autoRollbackConfiguration", "auto_rollback_configuration"),
                            ("deploymentStyle", "deployment_style"),
                            ("autoScalingGroups", "auto_scaling_groups")):
            v = self._get_param(param)
            if v is not None:
                setattr(g, attr, v)
        return ActionResult({"hooksNotCleanedUp": []})

    def list_deployment_targets(self: Any) -> ActionResult:
        d = self.codedeploy_backend.get_deployment(self._get_param("deploymentId"))
        _advance(d)
        return ActionResult({"targetIds": sorted(getattr(d, "_targets", {}) or
                                                 {n: None for n in getattr(d, "_nodes", [])})})

    def batch_get_deployment_targets(self: Any) -> ActionResult:
        d = self.codedeploy_backend.get_deployment(self._get_param("deploymentId"))
        _advance(d)
        targets = getattr(d, "_targets", {})
        out = []
        for t in self._get_param("targetIds") or []:
            events = targets.get(t, [])
            status = d.status if d.status in _DONE else "InProgress"
            out.append({"deploymentTargetType": "InstanceTarget", "instanceTarget": {
                "deploymentId": d.deployment_id, "targetId": t, "status": status,
                "lastUpdatedAt": utcnow(), "lifecycleEvents": events}})
        return ActionResult({"deploymentTargets": out})

    for f in (delete_deployment_group, delete_application, update_deployment_group,
              list_deployment_targets, batch_get_deployment_targets):
        setattr(responses.CodeDeployResponse, f.__name__, f)
