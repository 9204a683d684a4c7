/**
 * Loads the provider's signing key from PROVIDER_PRIVATE_KEY or an encrypted keystore. The key lives
 * only inside the returned viem account and {@link DigestSigner}; nothing here logs or returns it.
 */
import { readFileSync } from "node:fs";
import type { Hex, LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ProviderConfig, ProviderSecrets } from "./config.ts";
import { readKeystore } from "./keystore.ts";
import { DigestSigner } from "./signatures.ts";

export type ProviderKey = { account: LocalAccount; signer: DigestSigner };

export function loadKey(config: Pick<ProviderConfig, "keystore" | "keystorePasswordFile">, secrets: ProviderSecrets): ProviderKey {
  let privateKey: Hex;
  if (secrets.privateKey) {
    privateKey = secrets.privateKey as Hex;
  } else if (config.keystore) {
    const password = secrets.keystorePassword ?? readFileSync(config.keystorePasswordFile!, "utf8").split(/\r?\n/)[0];
    privateKey = readKeystore(config.keystore, password);
  } else {
    throw new Error("no signing key configured");
  }
  const account = privateKeyToAccount(privateKey);
  return { account, signer: new DigestSigner(privateKey, account.address) };
}
