// Compiles every Tonsurance contract with the pinned FunC compiler (@ton-community/func-js) and writes
// contracts/build/<Name>.json: the code BOC (base64) and its cell hash (hex).
//
//   node scripts/build_contracts.mjs              # write contracts/build/
//   node scripts/build_contracts.mjs --out DIR    # write elsewhere (the reproducibility test compares)
//
// The output depends only on the sources and the pinned compiler, so committed artefacts can be checked.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileFunc, compilerVersion } from "@ton-community/func-js";
import { Cell } from "@ton/core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sourceDir = join(root, "contracts", "func");

// Artefact name -> entry source file (each includes stdlib.fc and common.fc itself).
const CONTRACTS = {
  PricingOracle: "pricing_oracle.fc",
  MultiTrancheVault: "multi_tranche_vault.fc",
  SureTokenMinter: "sure_token_minter.fc",
  SureTokenWallet: "sure_token_wallet.fc",
  PolicyRouter: "policy_router.fc",
  PolicyShard: "policy_shard.fc",
};

function parseOutDir(argv) {
  const at = argv.indexOf("--out");
  if (at === -1) return join(root, "contracts", "build");
  if (!argv[at + 1]) throw new Error("--out needs a directory");
  return resolve(argv[at + 1]);
}

async function build(name, entry, funcVersion) {
  const result = await compileFunc({
    targets: [entry],
    sources: (path) => readFileSync(join(sourceDir, path), "utf8"),
  });
  if (result.status === "error") {
    throw new Error(`${name}: ${result.message}`);
  }
  const code = Cell.fromBoc(Buffer.from(result.codeBoc, "base64"))[0];
  return {
    name,
    source: `contracts/func/${entry}`,
    compiler: `func ${funcVersion}`,
    codeBoc: code.toBoc().toString("base64"),
    codeHash: code.hash().toString("hex"),
  };
}

async function main() {
  const outDir = parseOutDir(process.argv.slice(2));
  mkdirSync(outDir, { recursive: true });
  const { funcVersion } = await compilerVersion();
  for (const [name, entry] of Object.entries(CONTRACTS)) {
    const artefact = await build(name, entry, funcVersion);
    writeFileSync(join(outDir, `${name}.json`), JSON.stringify(artefact, null, 2) + "\n");
    console.log(`${name}: ${artefact.codeHash}`);
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
