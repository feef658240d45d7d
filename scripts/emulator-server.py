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
"""

import sys

from moto.core.types import Base64EncodedString
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

if __name__ == "__main__":
    main(sys.argv[1:])
