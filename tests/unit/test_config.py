"""Every validation rule of config/ (parse.py, services.py, rules.py, loader.py), on raw values as the Pulumi
runtime hands them over."""

import json
import os

import pytest
from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_is_valid, mnemonic_new

from config import ConfigError, SecretReference, SecretValue
from tests.support import (
    NETWORK_CONFIGS, BACKUP_IMAGE, DIGEST, IMAGES, MNEMONIC, OIDC_ARN, address, error_for, liteserver_config, parse, raw_config,
    read, SECRETS,
)

def echoes_mnemonic(text: str, mnemonic: str) -> bool:
    """True when two adjacent words of the mnemonic appear together in text. Single words are not a
    sign: the word list holds ordinary English ("valid", "address") that a message may use itself."""
    words = mnemonic.split()
    return any(f"{a} {b}" in text for a, b in zip(words, words[1:]))


def invalid_mnemonic(mnemonic: str) -> str:
    """The same words rotated until the checksum fails (a rotation is still valid once in 256)."""
    words = mnemonic.split()
    for i in range(1, len(words)):
        rotated = words[i:] + words[:i]
        if not mnemonic_is_valid(rotated):
            return " ".join(rotated)
    raise AssertionError("every rotation is a valid mnemonic")


def test_local_config_parses_with_defaults():
    cfg = parse(raw_config())
    assert cfg.ton.network == "localnet"
    assert cfg.ton.shard_count == 16
    assert cfg.ton.shard_batch_size == 64
    assert cfg.ton.localnet_path == ".state/localnet/chain.json"
    assert cfg.ton.deployer_mnemonic.value == MNEMONIC
    assert len(cfg.ton.keeper_addresses) == 2
    assert cfg.database.timescaledb_required is False
    assert cfg.database.backup_before_migrate is False
    assert not cfg.is_mainnet


def test_mainnet_defaults_require_backup_timescaledb_and_one_transaction():
    cfg = parse(raw_config("mainnet"))
    assert cfg.is_mainnet
    assert cfg.ton.shard_count == 256
    assert (cfg.database.timescaledb_required, cfg.database.backup_before_migrate,
            cfg.database.single_transaction) == (True, True, True)
    assert cfg.ton.localnet_path is None


@pytest.mark.parametrize("network", ["devnet", "Mainnet", None])
def test_network_must_be_known(network):
    err = error_for(raw_config(network=network) if network else {**raw_config(), "network": ""})
    assert err.key == "tonsurance:network"


@pytest.mark.parametrize("count, expected", [("17", "must be 16 or 256, got 17"), ("0", "must be 16 or 256"),
                                             ("sixteen", "must be an integer")])
def test_shard_count(count, expected):
    err = error_for(raw_config(shardCount=count))
    assert err.key == "tonsurance:shardCount"
    assert expected in str(err)


def test_shard_batch_size_bounds():
    assert error_for(raw_config(shardBatchSize="0")).key == "tonsurance:shardBatchSize"
    assert parse(raw_config(shardBatchSize="32")).ton.shard_batch_size == 32


@pytest.mark.parametrize("value", ["EQ-not-an-address", "0:zz", "", "kQC"])
def test_malformed_address(value):
    err = error_for(raw_config(adminAddress=value or None))
    assert err.key == "tonsurance:adminAddress"


def test_testnet_address_refused_on_mainnet():
    err = error_for(raw_config("mainnet", treasuryAddress=address("treasury", testnet=True)))
    assert err.key == "tonsurance:treasuryAddress"
    assert "testnet address but the stack's network is mainnet" in str(err)


def test_mainnet_address_refused_on_testnet():
    err = error_for(raw_config("testnet", adminAddress=address("admin", testnet=False)))
    assert "mainnet address but the stack's network is testnet" in str(err)


def test_raw_address_refused_on_mainnet_but_accepted_on_localnet():
    raw_form = "0:" + "ab" * 32
    assert "user-friendly form" in str(error_for(raw_config("mainnet", adminAddress=raw_form)))
    assert parse(raw_config(adminAddress=raw_form)).ton.admin_address == Address(raw_form).to_str(
        is_user_friendly=True, is_bounceable=True, is_test_only=True)


def test_masterchain_address_refused():
    err = error_for(raw_config(adminAddress="-1:" + "ab" * 32))
    assert "workchain 0" in str(err)


def test_keeper_addresses_rules():
    assert error_for(raw_config(keeperAddresses=None)).key == "tonsurance:keeperAddresses"
    assert error_for(raw_config(keeperAddresses="[]")).key == "tonsurance:keeperAddresses"
    assert "must be a list" in str(error_for(raw_config(keeperAddresses=address("k1"))))
    k = address("k1")
    assert "twice" in str(error_for(raw_config(keeperAddresses=json.dumps([k, k]))))
    assert error_for(raw_config(keeperAddresses=json.dumps([k, "nope"]))).key == "tonsurance:keeperAddresses[1]"


def test_missing_secret():
    raw = raw_config(deployerMnemonic=None)
    err = error_for(raw)
    assert err.key == "tonsurance:deployerMnemonic"
    assert "pulumi config set --secret deployerMnemonic" in str(err)


def test_plaintext_where_secret_required_is_refused_without_echoing_it():
    err = error_for(raw_config(), secrets={"databasePassword"})
    assert err.key == "tonsurance:deployerMnemonic"
    assert "plaintext" in str(err)
    assert not echoes_mnemonic(str(err), MNEMONIC)
    err = error_for(raw_config(), secrets={"deployerMnemonic"})
    assert err.key == "tonsurance:databasePassword"
    assert "s3cret-db-password" not in str(err)


def test_invalid_mnemonic_is_refused_without_echoing_it():
    bad = invalid_mnemonic(MNEMONIC)
    err = error_for(raw_config(deployerMnemonic=bad))
    assert err.key == "tonsurance:deployerMnemonic"
    assert not echoes_mnemonic(str(err), bad)
    # The message does not depend on the words at all: another bad mnemonic gives the same text.
    other = invalid_mnemonic(" ".join(mnemonic_new(24)))
    assert str(error_for(raw_config(deployerMnemonic=other))) == str(err)
    assert "24-word" in str(error_for(raw_config(deployerMnemonic="abandon " * 12)))


def test_secret_value_never_shows_in_repr():
    cfg = parse(raw_config())
    assert MNEMONIC not in repr(cfg)
    assert "s3cret-db-password" not in repr(cfg)
    assert str(SecretValue("x")) == "SecretValue(***)"


def test_liteserver_config_required_off_localnet():
    err = error_for(raw_config("testnet", liteserverConfig=None))
    assert err.key == "tonsurance:liteserverConfig"


@pytest.mark.parametrize("path", ["/etc/chain.json", "../chain.json"])
def test_localnet_path_stays_inside_project(path):
    assert error_for(raw_config(localnetPath=path)).key == "tonsurance:localnetPath"


@pytest.mark.parametrize("namespace", ["Tonsurance", "ton_surance", "-x", "a" * 64])
def test_namespace_must_be_dns_label(namespace):
    assert error_for(raw_config(namespace=namespace)).key == "tonsurance:namespace"


def test_images_rules():
    missing = {k: v for k, v in IMAGES.items() if k != "apiV2"}
    assert "missing: apiV2" in str(error_for(raw_config(images=json.dumps(missing))))
    assert "unknown keys frontend" in str(error_for(raw_config(images=json.dumps({**IMAGES, "frontend": "x:1"}))))
    untagged = {**IMAGES, "backend": "ghcr.io/tonsurance/backend"}
    assert error_for(raw_config(images=json.dumps(untagged))).key == "tonsurance:images.backend"
    latest = {**IMAGES, "backend": "ghcr.io/tonsurance/backend:latest"}
    assert parse(raw_config(images=json.dumps(latest)))  # allowed off mainnet
    assert "must pin a version on mainnet" in str(error_for(raw_config("mainnet", images=json.dumps(latest))))


def test_database_rules():
    assert error_for(raw_config(database=None)).key == "tonsurance:database"
    no_host = json.dumps({"port": 5432, "name": "t", "user": "u"})
    assert error_for(raw_config(database=no_host)).key == "tonsurance:database.host"
    bad_port = json.dumps({"host": "h", "port": 70000, "name": "t", "user": "u"})
    assert error_for(raw_config(database=bad_port)).key == "tonsurance:database.port"
    extra = json.dumps({"host": "h", "name": "t", "user": "u", "password": "x"})
    assert "unknown keys password" in str(error_for(raw_config(database=extra)))
    assert error_for(raw_config(database="not json")).key == "tonsurance:database"


def test_mainnet_cannot_skip_verified_backup_or_timescaledb():
    err = error_for(raw_config("mainnet", backupBeforeMigrate="false"))
    assert err.key == "tonsurance:backupBeforeMigrate"
    err = error_for(raw_config("mainnet", timescaledbRequired="false"))
    assert err.key == "tonsurance:timescaledbRequired"


def test_local_database_over_socket_needs_no_password():
    socket_db = json.dumps({"host": ".state/postgres", "port": 55432, "name": "tonsurance", "user": "postgres"})
    cfg = parse(raw_config(database=socket_db, databasePassword=None))
    assert cfg.database.password is None
    dsn = cfg.database.dsn()
    assert "password" not in dsn
    assert f"host={os.path.abspath('.state/postgres')}" in dsn


def test_dsn_carries_the_password():
    assert "password=s3cret-db-password" in parse(raw_config()).database.dsn()


def test_database_password_required_off_localnet():
    err = error_for(raw_config("testnet", databasePassword=None))
    assert err.key == "tonsurance:databasePassword"


def test_socket_directory_refused_off_localnet():
    socket_db = json.dumps({"host": "/var/run/postgresql", "name": "t", "user": "u"})
    assert error_for(raw_config("mainnet", database=socket_db)).key == "tonsurance:database.host"


def test_backup_store_rules():
    assert error_for(raw_config(backupBeforeMigrate="true")).key == "tonsurance:backupStore"
    assert parse(raw_config(backupBeforeMigrate="true", backupStore=".state/backups")).database.backup_store \
        == ".state/backups"
    assert "s3://" in str(error_for(raw_config("mainnet", backupStore=".state/backups")))
    assert error_for(raw_config("mainnet", backupStore=None)).key == "tonsurance:backupStore"


def test_boolean_must_be_true_or_false():
    assert error_for(raw_config(timescaledbRequired="yes")).key == "tonsurance:timescaledbRequired"


def test_unknown_key_is_reported_as_typo():
    err = error_for(raw_config(shardcount="16"))
    assert err.key == "tonsurance:shardcount"
    assert "not a known configuration key" in str(err)


# --- The deployer mnemonic by reference (AWS Secrets Manager) and the AWS section (issue 11) ---

def test_mainnet_refuses_the_mnemonic_as_a_config_secret_naming_the_secret_id_key():
    raw = raw_config("mainnet", deployerMnemonicSecretId=None, deployerMnemonic=MNEMONIC)
    err = error_for(raw)
    assert err.key == "tonsurance:deployerMnemonicSecretId"
    assert "pulumi config rm deployerMnemonic" in str(err)
    assert not echoes_mnemonic(str(err), MNEMONIC)
    missing = error_for(raw_config("mainnet", deployerMnemonicSecretId=None))
    assert missing.key == "tonsurance:deployerMnemonicSecretId" and "config rm" not in str(missing)


def test_mainnet_mnemonic_is_a_reference_with_the_stack_region():
    cfg = parse(raw_config("mainnet"))
    assert cfg.ton.deployer_mnemonic == SecretReference("tonsurance/mainnet/deployer-mnemonic", "eu-central-1")


@pytest.mark.parametrize("network", ["localnet", "testnet"])
def test_reference_or_config_secret_elsewhere(network):
    assert isinstance(parse(raw_config(network)).ton.deployer_mnemonic, SecretValue)
    region = "us-east-1" if network == "localnet" else "eu-central-1"  # testnet: the services' region too
    by_reference = raw_config(network, deployerMnemonic=None, awsRegion=region,
                              deployerMnemonicSecretId=f"tonsurance/{network}/deployer-mnemonic")
    assert parse(by_reference).ton.deployer_mnemonic.region == region


def test_reference_rules():
    both = raw_config("mainnet", deployerMnemonic=MNEMONIC)
    assert "keep only the secret id" in str(error_for(both))
    no_region = raw_config(deployerMnemonic=None, deployerMnemonicSecretId="tonsurance/local/deployer-mnemonic")
    assert error_for(no_region).key == "tonsurance:awsRegion"
    bad_id = raw_config("mainnet", deployerMnemonicSecretId="tonsurance/mainnet/deployer mnemonic")
    assert error_for(bad_id).key == "tonsurance:deployerMnemonicSecretId"
    arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:tonsurance/mainnet/deployer-mnemonic-AbCdEf"
    assert parse(raw_config("mainnet", deployerMnemonicSecretId=arn)).ton.deployer_mnemonic.secret_id == arn
    assert error_for(raw_config("mainnet", awsRegion="Frankfurt")).key == "tonsurance:awsRegion"


def test_aws_section_on_public_networks():
    assert parse(raw_config()).aws is None
    mainnet = parse(raw_config("mainnet")).aws
    assert (mainnet.region, mainnet.backup_bucket, mainnet.backup_prefix, mainnet.backup_retention_days) == \
        ("eu-central-1", "tonsurance-backups-mainnet", "mainnet/", 90)
    assert mainnet.eks_oidc_provider_arn == OIDC_ARN and mainnet.backup_job_image == BACKUP_IMAGE + DIGEST
    assert parse(raw_config("testnet")).aws.backup_retention_days == 30
    assert parse(raw_config("testnet", backupStore="s3://bucket-only")).aws.backup_prefix == ""


def test_the_secret_store_reads_the_stacks_one_region():
    assert parse(raw_config("mainnet")).services.aws_region == "eu-central-1"
    services = json.loads(raw_config("mainnet")["services"])
    err = error_for(raw_config("mainnet", services=json.dumps({**services, "awsRegion": "us-east-1"})))
    assert err.key == "tonsurance:services" and "unknown keys awsRegion" in str(err)  # one region key only


@pytest.mark.parametrize("overrides, key", [
    ({"awsRegion": None}, "awsRegion"),
    ({"eksOidcProviderArn": None}, "eksOidcProviderArn"),
    ({"eksOidcProviderArn": "arn:aws:iam::123:role/x"}, "eksOidcProviderArn"),
    ({"backupStore": None}, "backupStore"),
    ({"backupStore": "s3://Not_A_Bucket/x/"}, "backupStore"),
    ({"backupRetentionDays": "3"}, "backupRetentionDays"),
    ({"backupJobImage": None}, "backupJobImage"),
    ({"backupJobImage": "ghcr.io/tonsurance/db-tools:latest"}, "backupJobImage"),
])
def test_aws_section_rules(overrides, key):
    assert error_for(raw_config("testnet", **overrides)).key == f"tonsurance:{key}"
# ---- mainnet roles, shard count override, network config file, secrets provider --------------------------

def deployer_addresses(testnet: bool = False) -> dict[str, str]:
    from chain.wallets import deployer_wallet_addresses
    return {kind: a.to_str(is_user_friendly=True, is_bounceable=True, is_test_only=testnet)
            for kind, a in deployer_wallet_addresses(MNEMONIC).items()}


@pytest.mark.parametrize("key", ["adminAddress", "treasuryAddress", "claimsProcessorAddress"])
@pytest.mark.parametrize("wallet", ["wallet_v4r2", "highload_wallet_v3"])
def test_role_conflicts_name_each_deployer_wallet(key, wallet):
    from config import role_conflicts
    cfg = parse(raw_config("mainnet", **{key: deployer_addresses()[wallet]}))  # the words are not in config here
    assert role_conflicts(cfg.ton, MNEMONIC) == [(key, wallet)]
    assert role_conflicts(parse(raw_config("mainnet")).ton, MNEMONIC) == []


def test_deployer_as_admin_is_allowed_off_mainnet():
    cfg = parse(raw_config("localnet", adminAddress=deployer_addresses(testnet=True)["wallet_v4r2"]))
    assert cfg.ton.admin_address == deployer_addresses(testnet=True)["wallet_v4r2"]


def test_mainnet_keeper_must_not_be_admin():
    admin = address("admin", testnet=False)
    err = error_for(raw_config("mainnet", keeperAddresses=json.dumps([address("k1", False), admin])))
    assert err.key == "tonsurance:keeperAddresses[1]"
    assert "is the admin address" in str(err)


def test_mainnet_shard_count_is_256_unless_overridden():
    err = error_for(raw_config("mainnet", shardCount="16"))
    assert err.key == "tonsurance:shardCount"
    assert "must be 256 on mainnet" in str(err) and "tonsurance:shardCountOverride" in str(err)
    assert parse(raw_config("mainnet", shardCount="16", shardCountOverride="true")).ton.shard_count == 16
    assert error_for(raw_config("mainnet", shardCount="16", shardCountOverride="false")).key == "tonsurance:shardCount"
    assert parse(raw_config("testnet", shardCount="16")).ton.shard_count == 16


def test_liteserver_config_must_exist_and_be_the_networks():
    missing = error_for(raw_config("testnet", liteserverConfig=str(NETWORK_CONFIGS / "absent.json")))
    assert missing.key == "tonsurance:liteserverConfig" and "does not exist" in str(missing)
    crossed = error_for(raw_config("mainnet", liteserverConfig=liteserver_config("testnet")))
    assert crossed.key == "tonsurance:liteserverConfig"
    assert "is the config of testnet, but the stack asks for mainnet" in str(crossed)
    garbage = NETWORK_CONFIGS / "garbage.json"
    garbage.write_text("{not json")
    assert "not readable JSON" in str(error_for(raw_config("testnet", liteserverConfig=str(garbage))))


@pytest.mark.parametrize("provider, shown", [(None, "passphrase"), ("passphrase", "passphrase"),
                                             ("hashivault://tonsurance", "hashivault"), ("default", "default")])
def test_mainnet_secrets_provider_must_be_kms(provider, shown):
    from config import check_secrets_provider
    with pytest.raises(ConfigError) as info:
        check_secrets_provider("mainnet", provider)
    assert "secrets provider must be a KMS one" in str(info.value)
    # The key, the provider in use (its scheme only: a URL may carry a path), the accepted ones and what to run.
    assert info.value.key == "tonsurance:network"
    assert f"got '{shown}':" in str(info.value)
    assert "awskms://..." in str(info.value) and "pulumi stack change-secrets-provider" in str(info.value)


def test_kms_secrets_provider_accepted_and_read_from_the_stack_file(tmp_path):
    from config import check_secrets_provider, stack_secrets_provider
    (tmp_path / "Pulumi.mainnet.yaml").write_text("secretsprovider: awskms://alias/tonsurance-mainnet\nconfig: {}\n")
    (tmp_path / "Pulumi.local.yaml").write_text("encryptionsalt: v1:abc\nconfig: {}\n")
    assert stack_secrets_provider("mainnet", str(tmp_path)) == "awskms://alias/tonsurance-mainnet"
    assert stack_secrets_provider("local", str(tmp_path)) is None
    check_secrets_provider("mainnet", stack_secrets_provider("mainnet", str(tmp_path)))
    check_secrets_provider("testnet", None)  # passphrase is fine off mainnet
    check_secrets_provider("localnet", None)


def test_a_tag_without_digest_is_refused_on_mainnet():
    """Finding 6 of issue 27: every image mainnet runs is named by digest (a tag can be pushed again)."""
    tagged = {**json.loads(raw_config("mainnet")["images"]), "apiV2": "ghcr.io/tonsurance/api-v2:1.0.0"}
    err = error_for(raw_config("mainnet", images=json.dumps(tagged)))
    assert err.key == "tonsurance:images.apiV2" and "must name the image by digest on mainnet" in str(err)
    err = error_for(raw_config("mainnet", backupJobImage="ghcr.io/tonsurance/db-tools:1.0.0"))
    assert err.key == "tonsurance:backupJobImage" and "by digest" in str(err)
    in_cluster = json.dumps({**json.loads(raw_config("mainnet")["services"]), "redis": "in-cluster"})
    err = error_for(raw_config("mainnet", services=in_cluster))
    assert err.key == "tonsurance:services.redisImage" and "by digest" in str(err)
    assert parse(raw_config("mainnet")).services.redis_image == "redis:7.4.1-alpine"  # managed Redis: unused
    assert parse(raw_config("testnet", images=json.dumps(tagged)))  # tags are fine off mainnet


def test_image_digest_accepted():
    digest = {**json.loads(raw_config("mainnet")["images"]), "backend": "ghcr.io/tonsurance/backend@sha256:" + "ab" * 32}
    assert parse(raw_config("mainnet", images=json.dumps(digest))).kubernetes.images["backend"].endswith("ab" * 32)
def test_kubeconfig_and_rendering_are_exclusive():
    cfg = parse(raw_config(kubeconfig=".state/cluster/local/kubeconfig"))
    assert cfg.kubernetes.kubeconfig == ".state/cluster/local/kubeconfig"
    assert cfg.kubernetes.render_manifests_to is None
    err = error_for(raw_config(kubeconfig="k", renderManifestsTo=".state/manifests/local"))
    assert err.key == "tonsurance:renderManifestsTo"
    assert "cannot be set together with kubeconfig" in str(err)


def test_local_socket_database_without_port_takes_the_running_servers_port(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    socket_db = json.dumps({"host": ".state/postgres", "name": "tonsurance", "user": "postgres"})
    err = error_for(raw_config(database=socket_db, databasePassword=None))
    assert err.key == "tonsurance:database.port"
    assert "no PostgreSQL server runs in .state/postgres" in str(err)

    (tmp_path / ".state" / "postgres").mkdir(parents=True)
    # postmaster.pid as PostgreSQL 15 writes it: pid, data dir, start time, port, socket dir, ...
    (tmp_path / ".state" / "postgres" / "postmaster.pid").write_text(
        f"4242\n{tmp_path}/.state/postgres\n1764400000\n43117\n{tmp_path}/.state/postgres\n127.0.0.1\n")
    cfg = read(raw_config(database=socket_db, databasePassword=None))
    assert cfg.database.port == 43117
    assert "port=43117" in cfg.database.dsn()
    # An explicit port still wins, and a TCP host never looks for a local server.
    explicit = json.dumps({"host": ".state/postgres", "port": 5555, "name": "tonsurance", "user": "postgres"})
    assert read(raw_config(database=explicit, databasePassword=None)).database.port == 5555
    tcp = json.dumps({"host": "db.internal", "name": "tonsurance", "user": "postgres"})
    assert read(raw_config(database=tcp)).database.port == 5432


def test_parsing_reads_no_file(tmp_path, monkeypatch):
    """config/parse.py is pure: the server's port and the liteserver config are the loader's (config/loader.py)."""
    monkeypatch.chdir(tmp_path)  # no PostgreSQL server here, no liteserver config file
    socket_db = json.dumps({"host": ".state/postgres", "name": "tonsurance", "user": "postgres"})
    local = parse(raw_config(database=socket_db, databasePassword=None))
    assert local.database.port is None
    absent = str(tmp_path / "absent.json")
    assert parse(raw_config("testnet", liteserverConfig=absent)).ton.liteserver_config_path == absent
    assert error_for(raw_config("testnet", liteserverConfig=absent)).key == "tonsurance:liteserverConfig"



# --- keeperMnemonics (localnet): the stand-in keepers' throwaway wallets ---

def _keeper_wallet(words: str) -> str:
    from chain.wallets import WalletKey, WalletV4R2
    return WalletV4R2(None, WalletKey.from_mnemonic(words), os.devnull).address.to_str(is_test_only=True)


KEEPER_WORDS = [" ".join(mnemonic_new(24)) for _ in range(2)]
KEEPERS = {"keeperAddresses": json.dumps([_keeper_wallet(w) for w in KEEPER_WORDS]),
           "keeperMnemonics": json.dumps(KEEPER_WORDS)}


def test_keeper_mnemonics_are_secret_words_of_the_keeper_addresses():
    cfg = parse(raw_config(**KEEPERS), SECRETS | {"keeperMnemonics"})
    assert [m.value for m in cfg.ton.keeper_mnemonics] == KEEPER_WORDS
    assert KEEPER_WORDS[0].split()[0] not in repr(cfg.ton)  # shown as SecretValue(***)
    assert parse(raw_config()).ton.keeper_mnemonics == ()  # optional: a stack without keeper stand-ins


def test_keeper_mnemonics_in_plaintext_are_refused():
    err = error_for(raw_config(**KEEPERS))
    assert err.key == "tonsurance:keeperMnemonics" and "must be a secret" in str(err)


def test_keeper_words_of_another_wallet_name_the_entry_not_the_words():
    swapped = {**KEEPERS, "keeperMnemonics": json.dumps(KEEPER_WORDS[::-1])}
    err = error_for(raw_config(**swapped), SECRETS | {"keeperMnemonics"})
    assert err.key == "tonsurance:keeperMnemonics[0]" and "keeperAddresses[0]" in str(err)
    assert not any(echoes_mnemonic(str(err), w) for w in KEEPER_WORDS)
    bad = {**KEEPERS, "keeperMnemonics": json.dumps([invalid_mnemonic(KEEPER_WORDS[0])])}
    err = error_for(raw_config(**bad), SECRETS | {"keeperMnemonics"})
    assert err.key == "tonsurance:keeperMnemonics[0]" and "not a valid" in str(err)
    err = error_for(raw_config(**{**KEEPERS, "keeperMnemonics": json.dumps(KEEPER_WORDS * 2)}), SECRETS | {"keeperMnemonics"})
    assert "4 entries for 2 keeper" in str(err)


def test_keeper_mnemonics_are_refused_on_public_networks():
    err = error_for(raw_config("testnet", keeperMnemonics=json.dumps(KEEPER_WORDS)), SECRETS | {"keeperMnemonics"})
    assert err.key == "tonsurance:keeperMnemonics" and "Secrets Manager" in str(err)
