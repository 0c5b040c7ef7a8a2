"""Old import path of the shard-batch provider, for state written before the move (see __init__.py)."""
from ton_deploy.shard_batch import ShardBatchProvider

__all__ = ["ShardBatchProvider"]
