"""Old import path of the contract provider, for state written before the move (see __init__.py)."""
from ton_deploy.contract import TonContractProvider

__all__ = ["TonContractProvider"]
