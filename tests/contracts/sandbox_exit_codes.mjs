// Runs messages on @ton/sandbox (the TON emulator of the pinned npm package, a newer TVM than pytvm's) and
// prints the compute-phase exit code of the first transaction each message causes on its destination.
// Used by tests/contracts/test_second_emulator.py to check rules whose result depends on the TVM version.
//
//   stdin:  {"now": 1760000000, "messages": [{"from": "0:..", "to": "0:..", "value": "1000000000",
//            "body": "<base64 BOC>", "code": "<base64 BOC, optional>", "data": "<base64 BOC, optional>"}]}
//   stdout: {"exitCodes": [0, 413, ...]}   (null when the destination ran no compute phase)
import { readFileSync } from "node:fs";
import { Address, Cell } from "@ton/core";
import { Blockchain, internal } from "@ton/sandbox";

const cell = (b64) => Cell.fromBoc(Buffer.from(b64, "base64"))[0];

async function main() {
  const input = JSON.parse(readFileSync(0, "utf8"));
  const blockchain = await Blockchain.create();
  blockchain.now = input.now;
  const exitCodes = [];
  for (const m of input.messages) {
    const to = Address.parse(m.to);
    const stateInit = m.code ? { code: cell(m.code), data: cell(m.data) } : undefined;
    const result = await blockchain.sendMessage(internal({
      from: Address.parse(m.from), to, value: BigInt(m.value), body: cell(m.body), stateInit, bounce: true,
    }));
    const tx = result.transactions.find((t) => t.inMessage?.info.dest?.equals?.(to));
    const compute = tx?.description.type === "generic" ? tx.description.computePhase : undefined;
    exitCodes.push(compute?.type === "vm" ? compute.exitCode : null);
  }
  process.stdout.write(JSON.stringify({ exitCodes }) + "\n");
}

main().catch((error) => {
  process.stderr.write(String(error?.stack ?? error) + "\n");
  process.exit(1);
});
