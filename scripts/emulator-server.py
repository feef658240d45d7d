"""Starts the local AWS emulator (moto's server) with the fixes its known
divergences from AWS need for this project's tests and demo.

Usage: .venv/bin/python scripts/emulator-server.py -H 127.0.0.1 -p PORT
(the same arguments as moto_server).

Fixes (each one is moto's bug, not AWS behaviour the provider may rely on):
- CreateLaunchTemplateVersion stores UserData as a plain string, and the next
  Auto Scaling launch from that version fails an assertion (HTTP 500). AWS
  accepts base64 user data in new versions as in CreateLaunchTemplate; we wrap
  it as moto's own CreateLaunchTemplate does.
- CodeDeploy deployments stay `Created` forever, and moto has no
  DeleteDeploymentGroup, DeleteApplication, UpdateDeploymentGroup,
  ListDeploymentTargets or BatchGetDeploymentTargets: see
  `emulator_codedeploy.py` (deployments advance Created -> InProgress ->
  Succeeded, or fail on purpose, with AWS's rollback).
- UpdateTable ignores SSESpecification (AWS switches a table's encryption key
  in place); we apply it as moto's CreateTable stores it.
"""

import sys

from moto.core.types import Base64EncodedString
from moto.dynamodb.responses import DynamoHandler
from moto.ec2.models import launch_templates
from moto.server import main

sys.path.insert(0, __import__("os").path.dirname(__file__))
import emulator_codedeploy  # noqa: E402

emulator_codedeploy.install()


def _user_data(self):  # type: ignore[no-untyped-def]
    value = self.data.get("UserData")
    if isinstance(value, str):
        value = Base64EncodedString(value)
        self.data["UserData"] = value
    return value


launch_templates.LaunchTemplateVersion.user_data = property(_user_data)  # type: ignore[assignment]

_update_table = DynamoHandler.update_table


def _update_table_with_sse(self):  # type: ignore[no-untyped-def]
    sse = self.body.get("SSESpecification")
    if isinstance(sse, dict):
        table = self.dynamodb_backend.get_table(self.body["TableName"])
        if sse.get("Enabled") is True and sse.get("KMSMasterKeyId"):
            table.sse_specification = dict(sse)
        elif sse.get("Enabled") is False:
            table.sse_specification = None
    return _update_table(self)


DynamoHandler.update_table = _update_table_with_sse  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])
