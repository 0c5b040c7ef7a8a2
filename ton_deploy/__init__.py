"""Deploying the Tonsurance contracts: the offline plan and the Pulumi dynamic providers that send it.

- plan.py: every address, init data and resource argument, computed offline (pure; no resource, no I/O);
- deployer.py: the deployer context every TON resource carries (chain, mnemonic or its reference, send
  journal, wait) and what a provider call derives from it (client settings, key, the deployer's turn);
- mnemonic.py: the deployer mnemonic as inputs, and its resolution from Secrets Manager inside a call;
- targets.py: a contract to deploy (address + StateInit) and the BOC encoding of cells in inputs;
- checks.py: the checks before and after a send (private-TVM execution, expected code, derived addresses, drift);
- sending.py: funding and the one journaled message that deploys what is missing;
- provider.py: the base the three providers share; contract.py, shard_batch.py, deployment.py: the providers.
"""
