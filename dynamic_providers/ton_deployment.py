"""Old import path of the deployment provider, for state written before the move (see __init__.py)."""
from ton_deploy.deployment import TonDeploymentProvider

__all__ = ["TonDeploymentProvider"]
