// Compiles tests/ops/fixtures/multisig_stub.fc with the project's pinned FunC compiler and prints the code BOC
// (base64): node tests/ops/compile_fixture.mjs > tests/ops/fixtures/multisig_stub.code.b64
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileFunc } from "@ton-community/func-js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const read = (path) => readFileSync(path === "stdlib.fc" ? join(root, "contracts", "func", "stdlib.fc")
                                                         : join(root, "tests", "ops", "fixtures", path), "utf8");
const result = await compileFunc({ targets: ["stdlib.fc", "multisig_stub.fc"], sources: read });
if (result.status === "error") throw new Error(result.message);
process.stdout.write(result.codeBoc + "\n");
