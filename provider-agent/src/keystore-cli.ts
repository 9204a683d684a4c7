/**
 * Creates an encrypted v3 keystore for the provider agent, so no plain key has to sit in an env file.
 *
 *   PROVIDER_KEYSTORE_PASSWORD_FILE=./pw npm run keystore -w provider-agent -- --out ./provider-key.json
 *   PROVIDER_PRIVATE_KEY=0x… PROVIDER_KEYSTORE_PASSWORD=… npm run keystore -w provider-agent -- --out key.json --from-env
 *
 * Without --from-env a new key is generated. Prints the address only; the file is written with mode 600.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { encryptKeystore } from "./keystore.ts";

const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const out = outIndex >= 0 ? args[outIndex + 1] : undefined;
if (!out || args.some((a) => /^(0x)?[0-9a-fA-F]{64}$/.test(a))) {
  process.stderr.write("usage: npm run keystore -w provider-agent -- --out FILE [--from-env]\n(the key comes from PROVIDER_PRIVATE_KEY with --from-env, never from an argument; the password from PROVIDER_KEYSTORE_PASSWORD or PROVIDER_KEYSTORE_PASSWORD_FILE)\n");
  process.exit(2);
}
if (existsSync(out)) {
  process.stderr.write(`${out} exists: refusing to overwrite a keystore.\n`);
  process.exit(2);
}
const password = process.env.PROVIDER_KEYSTORE_PASSWORD ?? (process.env.PROVIDER_KEYSTORE_PASSWORD_FILE ? readFileSync(process.env.PROVIDER_KEYSTORE_PASSWORD_FILE, "utf8").split(/\r?\n/)[0] : undefined);
if (!password) {
  process.stderr.write("set PROVIDER_KEYSTORE_PASSWORD or PROVIDER_KEYSTORE_PASSWORD_FILE\n");
  process.exit(2);
}
let key: Hex;
if (args.includes("--from-env")) {
  const k = process.env.PROVIDER_PRIVATE_KEY?.trim();
  if (!k || !/^(0x)?[0-9a-fA-F]{64}$/.test(k)) {
    process.stderr.write("--from-env: PROVIDER_PRIVATE_KEY is missing or not a 32-byte hex key\n");
    process.exit(2);
  }
  key = (k.startsWith("0x") ? k : `0x${k}`) as Hex;
} else {
  key = generatePrivateKey();
}
writeFileSync(out, JSON.stringify(encryptKeystore(key, password)), { mode: 0o600 });
process.stdout.write(`${JSON.stringify({ keystore: out, address: privateKeyToAddress(key) })}\n`);
