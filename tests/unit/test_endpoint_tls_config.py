"""The database's and Redis's TLS settings in config/ (parse.py, services.py, loader.py) and the public stack
files: verify-full with a readable CA on testnet/mainnet, the local stack unaffected."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

from tests.support import database_ca, error_for, parse, raw_config, read
from tests.tls import make_pki

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = ("testnet", "mainnet")


def with_database(network: str, **database) -> dict[str, str]:
    """raw_config(network) with keys of tonsurance:database changed (a value of None removes the key)."""
    current = json.loads(raw_config(network)["database"])
    merged = {k: v for k, v in {**current, **database}.items() if v is not None}
    return raw_config(network, database=json.dumps(merged))


@pytest.mark.parametrize("network", PUBLIC)
def test_public_stacks_default_to_verify_full_and_the_dsn_carries_it(network):
    cfg = read(raw_config(network))
    assert (cfg.database.ssl_mode, cfg.database.ssl_root_cert) == ("verify-full", database_ca())
    dsn = conninfo_to_dict(cfg.database.dsn())
    assert (dsn["sslmode"], dsn["sslrootcert"]) == ("verify-full", database_ca())


@pytest.mark.parametrize("network", PUBLIC)
@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require", "verify-ca"])
def test_public_stacks_refuse_anything_but_verify_full(network, mode):
    err = error_for(with_database(network, sslMode=mode), reader=parse)
    assert err.key == "tonsurance:database.sslMode"
    assert f"must be verify-full on {network}, got {mode!r}" in str(err) and "database.sslRootCert" in str(err)


@pytest.mark.parametrize("network", PUBLIC)
def test_public_stacks_need_a_ca_bundle(network):
    err = error_for(with_database(network, sslRootCert=None), reader=parse)
    assert err.key == "tonsurance:database.sslRootCert"
    assert f"is required on {network}" in str(err) and "CA bundle" in str(err)


def test_the_ca_bundle_must_be_readable_pem_certificates(tmp_path):
    missing = error_for(with_database("testnet", sslRootCert=str(tmp_path / "absent.pem")))
    assert missing.key == "tonsurance:database.sslRootCert"
    assert f"cannot be read: {tmp_path / 'absent.pem'} (No such file or directory)" in str(missing)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    err = error_for(with_database("mainnet", sslRootCert=str(garbage)))
    assert err.key == "tonsurance:database.sslRootCert" and "holds no PEM certificate" in str(err)
    # a key is not a CA bundle either (an easy mix-up with the files a provider hands out)
    pki = make_pki(tmp_path, "mixup")
    assert "holds no PEM certificate" in str(error_for(with_database("testnet", sslRootCert=str(pki.server_key))))
    assert read(with_database("testnet", sslRootCert=str(pki.ca_cert))).database.ssl_root_cert == str(pki.ca_cert)


def test_a_relative_ca_path_stays_inside_the_project_and_the_dsn_makes_it_absolute():
    assert "must be a path inside the project" in str(error_for(with_database("testnet", sslRootCert="../ca.pem"),
                                                                  reader=parse))
    cfg = parse(with_database("testnet", sslRootCert="config/testnet-database-ca.pem"))
    assert cfg.database.ssl_root_cert == "config/testnet-database-ca.pem"
    assert conninfo_to_dict(cfg.database.dsn())["sslrootcert"] == os.path.abspath("config/testnet-database-ca.pem")


def test_an_unknown_ssl_mode_is_refused_on_every_network():
    for network in ("localnet", "testnet"):
        err = error_for(with_database(network, sslMode="verify_full"), reader=parse)
        assert err.key == "tonsurance:database.sslMode" and "must be one of disable, allow" in str(err)


def test_the_local_stack_is_unaffected_and_may_choose_a_mode():
    cfg = read(raw_config())
    assert (cfg.database.ssl_mode, cfg.database.ssl_root_cert) == (None, None)
    assert "sslmode" not in conninfo_to_dict(cfg.database.dsn())
    socket = parse(raw_config(database=json.dumps({"host": ".state/postgres", "port": 5432, "name": "t", "user": "p"})))
    assert socket.database.ssl_mode is None
    required = parse(with_database("localnet", sslMode="require"))
    assert conninfo_to_dict(required.database.dsn())["sslmode"] == "require"


def test_redis_ca_bundle_is_optional_and_checked_when_set(tmp_path):
    services = json.loads(raw_config("testnet")["services"])
    assert read(raw_config("testnet")).services.redis_ca_cert is None  # the system's CAs
    given = read(raw_config("testnet", services=json.dumps({**services, "redisCaCert": database_ca()})))
    assert given.services.redis_ca_cert == database_ca()
    err = error_for(raw_config("testnet", services=json.dumps({**services, "redisCaCert": str(tmp_path / "no.pem")})))
    assert err.key == "tonsurance:services.redisCaCert" and "cannot be read" in str(err)
    err = error_for(raw_config("testnet", services=json.dumps({**services, "redisCaCert": "../ca.pem"})), reader=parse)
    assert err.key == "tonsurance:services.redisCaCert"


@pytest.mark.parametrize("network, host", [("testnet", "testnet-db.tonsurance.com"), ("mainnet", "db.tonsurance.com")])
def test_the_stack_files_name_the_guides_managed_endpoints_over_verified_tls(network, host):
    text = (ROOT / f"Pulumi.{network}.yaml").read_text()
    database = yaml.safe_load(text)["config"]["tonsurance:database"]
    assert database["host"] == host and "svc.cluster.local" not in text
    assert (database["sslMode"], database["sslRootCert"]) == ("verify-full", f"config/{network}-database-ca.pem")
    assert "set your real endpoint" in text and "rediss://" in text
    # what the stack file says parses as config/ demands (the CA file itself is the operator's)
    raw = with_database(network, **{k: v for k, v in database.items() if k != "sslRootCert"})
    assert parse(raw).database.host == host
