"""Helper process for the crash tests: start a journaled highload send and die by SIGKILL around the send.

usage: send_and_crash.py CHAIN_FILE JOURNAL before_send|after_send FIRST_ID COUNT
"""
import os
import signal
import sys

from chain.client import ChainSettings
from chain.connect import connect
from chain.wallets import HighloadWalletV3, WalletKey
from tests.chain.conftest import HIGHLOAD_SEED, deploy_transfers

chain_file, journal, crash_point, first_id, count = sys.argv[1:6]
client = connect(ChainSettings("localnet", localnet_path=chain_file))
deliver = client.send_message


def send_and_die(message):
    if crash_point == "after_send":
        deliver(message)
    os.kill(os.getpid(), signal.SIGKILL)


client.send_message = send_and_die
HighloadWalletV3(client, WalletKey.from_seed(HIGHLOAD_SEED), journal).send(
    deploy_transfers(int(first_id), int(count)), intent_id="crash-test")
sys.exit("the send returned instead of crashing")
