/**
 * Loads the provider's signing key with the SDK's shared key loader (PROVIDER_PRIVATE_KEY or an
 * encrypted keystore; `@clawcompute/sdk/node`). The key lives only inside the returned viem account and
 * {@link DigestSigner}; nothing here logs or returns it.
 */
import type { LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { readPrivateKey } from "@clawcompute/sdk/node";
import type { ProviderConfig, ProviderSecrets } from "./config.ts";
import { DigestSigner } from "./signatures.ts";

export type ProviderKey = { account: LocalAccount; signer: DigestSigner };

export function loadKey(config: Pick<ProviderConfig, "keystore" | "keystorePasswordFile">, secrets: ProviderSecrets): ProviderKey {
  const privateKey = readPrivateKey({
    privateKey: secrets.privateKey,
    keystore: config.keystore,
    keystorePassword: secrets.keystorePassword,
    keystorePasswordFile: config.keystorePasswordFile,
  });
  const account = privateKeyToAccount(privateKey);
  return { account, signer: new DigestSigner(privateKey, account.address) };
}
