"""Operator commands (`python -m ops <command> --stack <s>`): preflight, verify, record, rollback, unlock,
network-config."""
